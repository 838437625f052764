//! `cargo xtask bench [--quick]`: runs every benchmark in release mode and writes `<target>/bench/report.md`
//! with one table of targets, one table of measurements, and PNG charts (`<target>` is cargo's target
//! directory, see [`crate::target_dir`]).
//!
//! Each benchmark target writes `<name>.md` (its own section), `<name>.json`, and `<name>.rows.tsv` into
//! `$KZERO_BENCH_DIR`. The rows are tab-separated lines of two kinds:
//!
//! ```text
//! metric  <group>  <label>  <median>  <min>  <max>  <unit>
//! target  <group>  <name>   <value>   <limit>  PASS|FAIL|info
//! ```
//!
//! Two rows are driven from here, with the release binaries: the latency run (`kzero bench` against
//! `kzero-server`, `latency.rows.tsv`) and the many-partitions run ([`crate::partitions`],
//! `partitions.rows.tsv` and `partitions.md`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::{cargo, run as run_cmd};

/// The benchmark targets, in report order: (package, bench target).
const BENCHES: &[(&str, &str)] = &[("transfer", "transfer"), ("storage", "storage"), ("server", "broker")];

struct Metric {
    group: String,
    label: String,
    median: f64,
    min: f64,
    max: f64,
    unit: String,
}

struct Target {
    group: String,
    name: String,
    value: String,
    limit: String,
    verdict: String,
}

fn parse_rows(text: &str, metrics: &mut Vec<Metric>, targets: &mut Vec<Target>) -> Result<()> {
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["metric", group, label, median, min, max, unit] => metrics.push(Metric {
                group: group.to_string(),
                label: label.to_string(),
                median: median.parse().with_context(|| format!("bad number in {line:?}"))?,
                min: min.parse().with_context(|| format!("bad number in {line:?}"))?,
                max: max.parse().with_context(|| format!("bad number in {line:?}"))?,
                unit: unit.to_string(),
            }),
            ["target", group, name, value, limit, verdict] => targets.push(Target {
                group: group.to_string(),
                name: name.to_string(),
                value: value.to_string(),
                limit: limit.to_string(),
                verdict: verdict.to_string(),
            }),
            _ => bail!("a benchmark wrote a malformed row: {line:?}"),
        }
    }
    Ok(())
}

/// Partitions the many-partitions row creates: 10,000, or 1,000 in a quick run.
fn partitions_for(quick: bool) -> u64 {
    if quick {
        1_000
    } else {
        10_000
    }
}

/// The release `kzero-server` and `kzero` the latency and many-partitions rows drive; returns their directory.
fn build_release() -> Result<PathBuf> {
    run_cmd(cargo().args(["build", "--release", "--locked", "-p", "server", "-p", "cli"]))?;
    Ok(crate::target_dir()?.join("release"))
}

/// `cargo xtask bench partitions [--quick] [--partitions N]`: the many-partitions row alone. Writes its files
/// beside the others (report.md is not rebuilt) and fails when one of its targets does.
pub(crate) fn partitions_only(args: &[&str]) -> Result<()> {
    let mut quick = false;
    let mut count = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match *arg {
            "--quick" => quick = true,
            "--partitions" => {
                let n = args.next().context("--partitions needs a number")?;
                count = Some(
                    n.parse::<u64>()
                        .ok()
                        .filter(|n| *n > 0)
                        .context("--partitions needs a positive number")?,
                );
            }
            other => bail!("unknown argument {other:?} to `cargo xtask bench partitions`"),
        }
    }
    let out = crate::target_dir()?.join("bench");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let bin = build_release()?;
    let outcome = crate::partitions::run(&bin, count.unwrap_or_else(|| partitions_for(quick)));
    std::fs::write(out.join("partitions.rows.tsv"), &outcome.rows).context("writing partitions.rows.tsv")?;
    std::fs::write(out.join("partitions.md"), &outcome.md).context("writing partitions.md")?;
    println!("\n{}\n{}", outcome.md, outcome.rows);
    println!("wrote partitions.md and partitions.rows.tsv in {}", out.display());
    let failed = outcome
        .rows
        .lines()
        .filter(|l| l.starts_with("target\t") && l.ends_with("\tFAIL"))
        .count();
    if failed > 0 {
        bail!("{failed} many-partitions target(s) failed");
    }
    Ok(())
}

/// `cargo xtask bench cluster [--quick]`: the cluster row alone, printed.
pub(crate) fn cluster_only(args: &[&str]) -> Result<()> {
    let quick = match args {
        [] => false,
        ["--quick"] => true,
        other => bail!("unknown arguments {other:?}: bench cluster [--quick]"),
    };
    let bin = build_release()?;
    print!("{}", crate::cluster_bench::run(&bin, quick));
    Ok(())
}

/// `cargo xtask bench security [--quick]`: the security row alone, printed.
pub(crate) fn security_only(args: &[&str]) -> Result<()> {
    let quick = match args {
        [] => false,
        ["--quick"] => true,
        other => bail!("unknown arguments {other:?}: bench security [--quick]"),
    };
    let bin = build_release()?;
    print!("{}", security_run(&bin, quick)?);
    Ok(())
}

pub(crate) fn run(quick: bool, report_only: bool) -> Result<()> {
    let started = Instant::now();
    let out = crate::target_dir()?.join("bench");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let mut sections = Vec::new();
    let mut metrics = Vec::new();
    let mut targets = Vec::new();
    for (package, target) in BENCHES {
        if !report_only {
            for suffix in ["md", "rows.tsv"] {
                let _ = std::fs::remove_file(out.join(format!("{target}.{suffix}")));
            }
            let mut cmd = cargo();
            cmd.args(["bench", "--locked", "-p", package, "--bench", target, "--"])
                .env("KZERO_BENCH_DIR", &out);
            if quick {
                cmd.arg("--quick");
            }
            run_cmd(&mut cmd)?;
        }
        let read = |suffix: &str| {
            std::fs::read_to_string(out.join(format!("{target}.{suffix}")))
                .with_context(|| format!("the {target} benchmark wrote no {target}.{suffix}"))
        };
        sections.push(read("md")?);
        parse_rows(&read("rows.tsv")?, &mut metrics, &mut targets)?;
    }

    if report_only {
        for step in ["latency", "groups", "security", "cluster", "partitions"] {
            if let Ok(text) = std::fs::read_to_string(out.join(format!("{step}.rows.tsv"))) {
                parse_rows(&text, &mut metrics, &mut targets)?;
            }
        }
        if let Ok(md) = std::fs::read_to_string(out.join("partitions.md")) {
            sections.push(md);
        }
    } else {
        let bin = build_release()?;
        let rows = latency_run(&bin, quick)?;
        std::fs::write(out.join("latency.rows.tsv"), &rows).context("writing latency.rows.tsv")?;
        parse_rows(&rows, &mut metrics, &mut targets)?;
        let rows = groups_run(&bin, quick)?;
        std::fs::write(out.join("groups.rows.tsv"), &rows).context("writing groups.rows.tsv")?;
        parse_rows(&rows, &mut metrics, &mut targets)?;
        let rows = security_run(&bin, quick)?;
        std::fs::write(out.join("security.rows.tsv"), &rows).context("writing security.rows.tsv")?;
        parse_rows(&rows, &mut metrics, &mut targets)?;
        // Never an error: a failure is reported as a FAIL row with the error.
        let rows = crate::cluster_bench::run(&bin, quick);
        std::fs::write(out.join("cluster.rows.tsv"), &rows).context("writing cluster.rows.tsv")?;
        parse_rows(&rows, &mut metrics, &mut targets)?;
        // Never an error: a failure is reported as FAIL rows with the error.
        let partitions = crate::partitions::run(&bin, partitions_for(quick));
        std::fs::write(out.join("partitions.rows.tsv"), &partitions.rows).context("writing partitions.rows.tsv")?;
        std::fs::write(out.join("partitions.md"), &partitions.md).context("writing partitions.md")?;
        parse_rows(&partitions.rows, &mut metrics, &mut targets)?;
        sections.push(partitions.md);
    }

    let charts = draw_charts(&out, &metrics)?;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut report = String::new();
    report += "# kzero benchmark report\n\n";
    report += &format!(
        "Mode: {}. Load average at the end: {}. Every comparison is measured in the same run on the same machine: \
read the ratios, not the absolute figures (the machines are small and noisy). Figures are medians of several \
runs with min–max; a quick run has fewer, smaller runs and is a smoke test, not a measurement.\n\n",
        if quick { "quick" } else { "full" },
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    report += "## Targets\n\n| area | target | value | limit | verdict |\n|---|---|---|---|---|\n";
    for t in &targets {
        report += &format!(
            "| {} | {} | {} | {} | {} |\n",
            t.group, t.name, t.value, t.limit, t.verdict
        );
    }
    report += "\n## Measurements\n\n| area | measurement | median | min–max | unit |\n|---|---|---|---|---|\n";
    for m in &metrics {
        report += &format!(
            "| {} | {} | {:.3} | {:.3}–{:.3} | {} |\n",
            m.group, m.label, m.median, m.min, m.max, m.unit
        );
    }
    report += "\n## Charts\n\n";
    for c in &charts {
        report += &format!(
            "![{}]({})\n\n",
            c.display(),
            c.file_name().unwrap_or_default().to_string_lossy()
        );
    }
    report += "\n# Details by benchmark\n\n";
    report += &sections.join("\n");
    std::fs::write(out.join("report.md"), report)
        .with_context(|| format!("writing {}", out.join("report.md").display()))?;
    let failed = targets.iter().filter(|t| t.verdict == "FAIL").count();
    println!(
        "\nwrote {} ({} targets, {failed} failing) in {:.0}s",
        out.join("report.md").display(),
        targets.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The first number after `path` (a sequence of keys, each searched after the previous one) in `json`.
pub(crate) fn json_number(json: &str, path: &[&str]) -> Option<f64> {
    let mut at = 0;
    for key in path {
        at += json[at..].find(&format!("\"{key}\":"))? + key.len() + 3;
    }
    let rest = json[at..].trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

pub(crate) fn median_min_max(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// Starts the release broker with its defaults on a free port and a fresh data directory (named after
/// `what`); returns the process, its address and the directory.
fn start_broker(bin: &Path, what: &str) -> Result<(std::process::Child, String, PathBuf)> {
    let data = std::env::temp_dir().join(format!("kzero-bench-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let addr = format!("127.0.0.1:{port}");
    let mut broker = std::process::Command::new(bin.join("kzero-server"))
        .args(["--listen", &addr, "--data-dir"])
        .arg(&data)
        .env("KZERO_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("starting kzero-server")?;
    let deadline = Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(&addr).is_err() {
        if Instant::now() > deadline {
            let _ = broker.kill();
            bail!("kzero-server did not start");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Ok((broker, addr, data))
}

/// The latency run: the release broker and `kzero bench`, producing at 50% of the maximum rate measured just
/// before, with end-to-end latency from a consumer in the same process. Returns rows for the report.
fn latency_run(bin: &Path, quick: bool) -> Result<String> {
    let (mut broker, addr, data) = start_broker(bin, "latency")?;
    let kzero = |args: &[&str]| -> Result<String> {
        let out = std::process::Command::new(bin.join("kzero"))
            .args(["bench"])
            .args(args)
            .args(["-b", &addr, "--json"])
            .output()
            .context("running kzero bench")?;
        if !out.status.success() {
            bail!("kzero bench {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8(out.stdout)?)
    };
    let result = (|| -> Result<String> {
        let runs = if quick { 1 } else { 3 };
        let (records, seconds) = if quick { (2_000_000u64, 2.0) } else { (10_000_000, 5.0) };
        let mut max_rates = Vec::new();
        for i in 0..runs {
            let json = kzero(&[
                "produce",
                "--topic",
                &format!("max-{i}"),
                "--records",
                &records.to_string(),
                "--record-size",
                "100",
            ])?;
            max_rates.push(json_number(&json, &["records_per_s"]).context("no records_per_s")?);
        }
        let (max_rate, max_lo, max_hi) = median_min_max(max_rates);
        let rate = (max_rate / 2.0).round();
        let n = (rate * seconds) as u64;
        let (mut e2e, mut ack) = (vec![Vec::new(); 3], vec![Vec::new(); 3]);
        for i in 0..runs {
            let json = kzero(&[
                "consume",
                "--with-producer",
                "--topic",
                &format!("lat-{i}"),
                "--records",
                &n.to_string(),
                "--record-size",
                "100",
                "--throughput",
                &rate.to_string(),
            ])?;
            for (j, p) in ["p50", "p99", "p99_9"].iter().enumerate() {
                e2e[j].push(json_number(&json, &["end_to_end_latency_ms", p]).context("no end-to-end latency")?);
                ack[j].push(json_number(&json, &["ack_latency_ms", p]).context("no ack latency")?);
            }
        }
        let mut rows = format!(
            "metric\tproduce max rate\tkzero bench produce, 100 B records (records/s)\t{max_rate:.0}\t{max_lo:.0}\t{max_hi:.0}\trecords/s\n"
        );
        for (j, p) in ["p50", "p99", "p99.9"].iter().enumerate() {
            let (m, lo, hi) = median_min_max(e2e[j].clone());
            rows += &format!("metric\tlatency at 50% of max rate\tend-to-end {p} ms\t{m:.3}\t{lo:.3}\t{hi:.3}\tms\n");
            let (m, lo, hi) = median_min_max(ack[j].clone());
            rows += &format!("metric\tlatency at 50% of max rate\tproduce ack {p} ms\t{m:.3}\t{lo:.3}\t{hi:.3}\tms\n");
        }
        let (p50, _, _) = median_min_max(e2e[0].clone());
        let (p999, _, _) = median_min_max(e2e[2].clone());
        rows += &format!(
            "target\tlatency\tend-to-end p50 / p99.9 at {rate:.0} records/s (50% of max)\t{p50:.2} / {p999:.2} ms\treported\tinfo\n"
        );
        Ok(rows)
    })();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &broker.id().to_string()])
        .status();
    let _ = broker.wait();
    let _ = std::fs::remove_dir_all(&data);
    result
}

/// The consumer-group row: the release broker with its defaults, and confluent-kafka members (the
/// `bench_groups` scenario of `server/tests/clients/interop.py`) of the classic protocol (librdkafka's
/// defaults: eager range) and of KIP-848, alternating. Five members join a 12-partition topic at once,
/// then a sixth joins; a producer writes to every partition every 50 ms, so a member's longest gap between
/// records is how long it stopped consuming. Returns rows for the report.
fn groups_run(bin: &Path, quick: bool) -> Result<String> {
    let target = crate::target_dir()?;
    let python = crate::ensure_python_clients(&target)?;
    let script = crate::workspace_root().join("server/tests/clients/interop.py");
    let (mut broker, addr, data) = start_broker(bin, "groups")?;
    let result = (|| -> Result<String> {
        const FIELDS: [&str; 5] = [
            "stable_s",
            "join_s",
            "max_pause_s",
            "max_pause_unaffected_s",
            "baseline_gap_s",
        ];
        let runs = if quick { 1 } else { 3 };
        let mut got: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
        for _ in 0..runs {
            for proto in ["classic", "consumer"] {
                let out = std::process::Command::new(&python)
                    .arg(&script)
                    .args([&addr, "bench_groups", proto])
                    .output()
                    .context("running the bench_groups scenario")?;
                let stdout = String::from_utf8_lossy(&out.stdout);
                if !out.status.success() {
                    bail!(
                        "bench_groups {proto} failed: {}{}",
                        stdout,
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
                let json = stdout
                    .lines()
                    .find(|l| l.starts_with('{'))
                    .context("bench_groups printed no JSON")?;
                for field in FIELDS {
                    // A run where every member's assignment changed has no unaffected member: no value.
                    if let Some(v) = json_number(json, &[field]) {
                        got.entry((proto, field)).or_default().push(v);
                    }
                }
            }
        }
        let median = |proto: &str, field: &str| got.get(&(proto, field)).map(|v| median_min_max(v.clone()));
        let mut rows = String::new();
        let labels = [
            (
                "stable_s",
                "5 members joining at once until they share the partitions",
                "s",
            ),
            ("join_s", "a 6th member joining until the 6 share the partitions", "s"),
            ("max_pause_s", "longest stop of a member while a 6th joins", "s"),
            (
                "max_pause_unaffected_s",
                "longest stop of a member whose partitions did not change",
                "s",
            ),
            ("baseline_gap_s", "longest gap between records with no rebalance", "s"),
        ];
        for (field, label, unit) in labels {
            for (proto, name) in [("classic", "classic (eager range)"), ("consumer", "KIP-848")] {
                if let Some((m, lo, hi)) = median(proto, field) {
                    rows += &format!("metric\tgroups\t{label}, {name}\t{m:.3}\t{lo:.3}\t{hi:.3}\t{unit}\n");
                }
            }
        }
        let ratio =
            |field: &str| -> Option<f64> { Some(median("consumer", field)?.0 / median("classic", field)?.0.max(1e-3)) };
        let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
        if let Some(r) = ratio("stable_s") {
            rows += &format!(
                "target\tgroups\t5 members stable, KIP-848 / classic\t{r:.3}\t<= 1.0\t{}\n",
                verdict(r <= 1.0)
            );
        }
        if let Some(r) = ratio("join_s") {
            rows += &format!(
                "target\tgroups\t6th member to stable, KIP-848 / classic\t{r:.3}\t<= 1.0\t{}\n",
                verdict(r <= 1.0)
            );
        }
        if let (Some((pause, _, _)), Some((gap, _, _))) = (
            median("consumer", "max_pause_unaffected_s"),
            median("consumer", "baseline_gap_s"),
        ) {
            // "Zero" measured with records every 50 ms: within a few gaps of the no-rebalance baseline.
            rows += &format!(
                "target\tgroups\tKIP-848 unaffected members' longest stop (ms; no-rebalance gap {:.0})\t{:.0}\t<= max(250, 3 x gap)\t{}\n",
                gap * 1000.0,
                pause * 1000.0,
                verdict(pause <= (3.0 * gap).max(0.25))
            );
        }
        Ok(rows)
    })();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &broker.id().to_string()])
        .status();
    let _ = broker.wait();
    let _ = std::fs::remove_dir_all(&data);
    result
}

/// The security row: a broker with a SASL_PLAINTEXT listener and the authorizer on, next to one with the
/// defaults. `kzero bench` produces and consumes as a user with ACLs (SCRAM-SHA-256) on the first and
/// without authentication on the second, alternating; and `kzero topics list` (one connection, one
/// Metadata) is timed with each mechanism and without SASL, for the cost of a login. Returns rows.
fn security_run(bin: &Path, quick: bool) -> Result<String> {
    let data = std::env::temp_dir().join(format!("kzero-bench-security-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data)?;
    let free = || -> Result<String> {
        Ok(format!(
            "127.0.0.1:{}",
            std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port()
        ))
    };
    let (plain_addr, sasl_addr) = (free()?, free()?);
    let config = data.join("secured.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"{plain_addr}\"\ndata_dir = {:?}\n[sasl]\nlisten = \"{sasl_addr}\"\n\
             bootstrap_users = [{{ name = \"admin\", password = \"admin-secret\" }}]\n\
             [authorizer]\nenabled = true\nsuper_users = [\"User:admin\"]\n",
            data.join("data").display()
        ),
    )?;
    let mut secured = std::process::Command::new(bin.join("kzero-server"))
        .arg("--config")
        .arg(&config)
        .env("KZERO_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("starting the secured kzero-server")?;
    let (mut plain, addr, plain_data) = start_broker(bin, "security-reference")?;
    let kzero = |args: &[&str]| -> Result<String> {
        let out = std::process::Command::new(bin.join("kzero"))
            .args(args)
            .output()
            .context("running kzero")?;
        if !out.status.success() {
            bail!("kzero {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8(out.stdout)?)
    };
    let sasl = |mechanism: &'static str, user: &'static str, password: &'static str| {
        vec![
            "-b".to_string(),
            sasl_addr.clone(),
            "--sasl-mechanism".into(),
            mechanism.into(),
            "--sasl-username".into(),
            user.into(),
            "--sasl-password".into(),
            password.into(),
        ]
    };
    let result = (|| -> Result<String> {
        let deadline = Instant::now() + std::time::Duration::from_secs(20);
        let admin = sasl("SCRAM-SHA-512", "admin", "admin-secret");
        let with = |base: &[String], rest: &[&str]| -> Vec<String> {
            base.iter().cloned().chain(rest.iter().map(|s| s.to_string())).collect()
        };
        let run = |argv: Vec<String>| kzero(&argv.iter().map(String::as_str).collect::<Vec<_>>());
        while run(with(&admin, &["topics", "list"])).is_err() {
            if Instant::now() > deadline {
                bail!("the secured broker did not answer");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        run(with(
            &admin,
            &["users", "create", "alice", "--password", "alice-secret"],
        ))?;
        for op in ["Read", "Write", "Create", "Describe"] {
            run(with(
                &admin,
                &[
                    "acls",
                    "add",
                    "--allow-principal",
                    "User:alice",
                    "--operation",
                    op,
                    "--topic",
                    "sec",
                    "--resource-pattern-type",
                    "prefixed",
                ],
            ))?;
        }
        let alice = sasl("SCRAM-SHA-256", "alice", "alice-secret");
        let plain_args = vec!["-b".to_string(), addr.clone()];
        // 100 MB a run, so that every run's data stays in the page cache (a larger volume measures the disk).
        let runs = if quick { 2 } else { 6 };
        let records = "1000000";
        let mut got: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        for i in 0..runs {
            let topic = format!("sec-{i}");
            // Taking turns at going first.
            let mut order = [("sasl", &alice), ("plaintext", &plain_args)];
            if i % 2 == 1 {
                order.reverse();
            }
            for (name, base) in order {
                let produced = run(with(
                    base,
                    &[
                        "bench",
                        "produce",
                        "--json",
                        "--acks",
                        "1",
                        "--topic",
                        &topic,
                        "--records",
                        records,
                    ],
                ))?;
                got.entry(if name == "sasl" {
                    "produce sasl"
                } else {
                    "produce plaintext"
                })
                .or_default()
                .push(json_number(&produced, &["mb_per_s"]).context("no mb_per_s")?);
                let consumed = run(with(base, &["bench", "consume", "--json", "--topic", &topic]))?;
                got.entry(if name == "sasl" {
                    "consume sasl"
                } else {
                    "consume plaintext"
                })
                .or_default()
                .push(json_number(&consumed, &["mb_per_s"]).context("no mb_per_s")?);
            }
        }
        // One connection and one Metadata per `kzero topics list`; the login is the difference.
        let logins = if quick { 10 } else { 40 };
        let mut login_ms: BTreeMap<&str, f64> = BTreeMap::new();
        for (name, argv) in [
            ("none", plain_args.clone()),
            ("PLAIN", sasl("PLAIN", "alice", "alice-secret")),
            ("SCRAM-SHA-256", alice.clone()),
            ("SCRAM-SHA-512", sasl("SCRAM-SHA-512", "alice", "alice-secret")),
        ] {
            let started = Instant::now();
            for _ in 0..logins {
                run(with(&argv, &["topics", "list"]))?;
            }
            login_ms.insert(name, started.elapsed().as_secs_f64() * 1000.0 / f64::from(logins));
        }
        let mut rows = String::new();
        for (key, label) in [
            ("produce plaintext", "produce, acks=1, plaintext, no authorizer (MB/s)"),
            ("produce sasl", "produce, acks=1, SASL SCRAM user with ACLs (MB/s)"),
            ("consume plaintext", "consume, plaintext, no authorizer (MB/s)"),
            ("consume sasl", "consume, SASL SCRAM user with ACLs (MB/s)"),
        ] {
            let (m, lo, hi) = median_min_max(got[key].clone());
            rows += &format!("metric\tsecurity\t{label}\t{m:.1}\t{lo:.1}\t{hi:.1}\tMB/s\n");
        }
        for (name, ms) in &login_ms {
            rows += &format!("metric\tsecurity\tkzero topics list, login {name} (ms)\t{ms:.2}\t{ms:.2}\t{ms:.2}\tms\n");
        }
        let ratio = |a: &str, b: &str| median_min_max(got[a].clone()).0 / median_min_max(got[b].clone()).0.max(1e-9);
        let consume = ratio("consume sasl", "consume plaintext");
        rows += &format!(
            "target\tsecurity\tconsume over SASL_PLAINTEXT with ACLs / plaintext\t{consume:.3}\t>= 0.90\t{}\n",
            if consume >= 0.90 { "PASS" } else { "FAIL" }
        );
        let produce = ratio("produce sasl", "produce plaintext");
        rows += &format!(
            "target\tsecurity\tproduce over SASL_PLAINTEXT with ACLs / plaintext\t{produce:.3}\treported\tinfo\n"
        );
        let added = login_ms["SCRAM-SHA-512"] - login_ms["none"];
        rows +=
            &format!("target\tsecurity\tSCRAM-SHA-512 login, added per connection (ms)\t{added:.2}\treported\tinfo\n");
        Ok(rows)
    })();
    for child in [&mut secured, &mut plain] {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let _ = child.wait();
    }
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_dir_all(&plain_data);
    result
}

fn font() -> Result<()> {
    const CANDIDATES: &[&str] = &[
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
    ];
    let path = CANDIDATES
        .iter()
        .find(|p| Path::new(p).exists())
        .context("charts need DejaVuSans.ttf (Debian: apt-get install fonts-dejavu-core)")?;
    let bytes: &'static [u8] = Box::leak(std::fs::read(path)?.into_boxed_slice());
    plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, bytes)
        .map_err(|_| anyhow::anyhow!("{path} is not a usable font"))?;
    Ok(())
}

/// One horizontal bar chart per group of metrics (same unit), with min–max whiskers.
fn draw_charts(out: &Path, metrics: &[Metric]) -> Result<Vec<PathBuf>> {
    use plotters::prelude::*;
    font()?;
    let mut groups: Vec<&str> = Vec::new();
    for m in metrics {
        if !groups.contains(&m.group.as_str()) {
            groups.push(&m.group);
        }
    }
    let mut files = Vec::new();
    for group in groups {
        let rows: Vec<&Metric> = metrics.iter().filter(|m| m.group == group).collect();
        let unit = rows[0].unit.clone();
        let path = out.join(format!("{}.png", group.replace(' ', "-")));
        let height = 90 + 44 * rows.len() as u32;
        let root = BitMapBackend::new(&path, (900, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
        let top = rows.iter().map(|m| m.max.max(m.median)).fold(0.0f64, f64::max) * 1.15 + 1e-9;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{group} ({unit}, median with min–max)"), ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(300)
            .build_cartesian_2d(0.0..top, (0..rows.len()).into_segmented())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(rows.len())
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => rows.get(*i).map_or(String::new(), |m| m.label.clone()),
                _ => String::new(),
            })
            .y_label_style(("sans-serif", 14))
            .x_label_style(("sans-serif", 13))
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let palette = [
            RGBColor(52, 101, 164),
            RGBColor(204, 102, 0),
            RGBColor(78, 154, 6),
            RGBColor(117, 80, 123),
        ];
        chart
            .draw_series(rows.iter().enumerate().map(|(i, m)| {
                let color = palette[i % palette.len()];
                let mut bar = Rectangle::new(
                    [(0.0, SegmentValue::Exact(i)), (m.median, SegmentValue::Exact(i + 1))],
                    color.mix(0.8).filled(),
                );
                bar.set_margin(7, 7, 0, 0);
                bar
            }))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .draw_series(rows.iter().enumerate().map(|(i, m)| {
                PathElement::new(
                    vec![(m.min, SegmentValue::CenterOf(i)), (m.max, SegmentValue::CenterOf(i))],
                    BLACK.stroke_width(2),
                )
            }))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .draw_series(rows.iter().enumerate().map(|(i, m)| {
                Text::new(
                    format!("  {:.2}", m.median),
                    (m.max.max(m.median), SegmentValue::CenterOf(i)),
                    ("sans-serif", 14).into_font(),
                )
            }))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
        drop(chart);
        drop(root);
        files.push(path);
    }
    Ok(files)
}
