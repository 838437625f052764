//! The cluster row of `cargo xtask bench`: three release `kzero-server` processes on 127.0.0.1 forming a
//! metadata quorum with the default election and session timeouts.
//!
//! It measures the time to create 1,000 partitions (one `kzero topics create` of one topic, RF 1, spread
//! over the three brokers), and the controller failover: `kill -9` of the active controller (the quorum
//! leader, from `kzero cluster status`) until the next `kzero topics create` through a survivor succeeds.
//! The killed node is restarted and caught up before the next run. A failure is reported as FAIL rows with
//! the error, never as a failure of the whole bench.
//!
//! Then, on a second cluster of three (with metrics endpoints), replication:
//! - produce throughput (`kzero bench produce`, 100 B records, the tool's defaults otherwise) with acks=all
//!   to an RF=3 topic (`min.insync.replicas=2`) against acks=1 to an RF=1 topic; target: the ratio ≥ 0.5;
//! - the p99 ack latency of one request at a time (`--max-in-flight 1`, one record per batch) in the same
//!   two settings, and what acks=all RF=3 adds;
//! - follower catch-up: one follower of a fresh RF=3 topic paused (SIGSTOP; not the quorum leader), N MiB
//!   (16 MiB with `--quick`, 64 MiB otherwise) produced with acks=1, then SIGCONT and the time until the
//!   leader's `kzero_replica_lag` for that follower is 0; against a consumer (`kzero bench consume`)
//!   reading the same records from the leader from offset 0; target: the ratio ≥ 0.8.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Voters of the cluster.
const NODES: usize = 3;
/// The failover target.
const FAILOVER_LIMIT_MS: f64 = 1000.0;
/// Produce throughput with acks=all on RF=3 over acks=1 on RF=1: at least this.
const ACKS_ALL_RATIO: f64 = 0.5;
/// A follower's catch-up rate over a consumer's fetch rate from the same leader: at least this.
const CATCH_UP_RATIO: f64 = 0.8;
const MIB: f64 = 1024.0 * 1024.0;

struct Node {
    config: PathBuf,
    kafka: String,
    /// The metrics endpoint, when the cluster has them.
    metrics: Option<String>,
    child: Option<Child>,
}

struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    nodes: Vec<Node>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            if let Some(mut c) = n.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Cluster {
    /// Three nodes in `kzero-bench-<name>-<pid>` under the temporary directory, with a metrics endpoint
    /// each when `metrics` is set.
    fn start(bin: &Path, name: &str, metrics: bool) -> Result<Cluster> {
        let dir = std::env::temp_dir().join(format!("kzero-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let kafka: Vec<u16> = (0..NODES).map(|_| free_port()).collect::<Result<_>>()?;
        let controller: Vec<u16> = (0..NODES).map(|_| free_port()).collect::<Result<_>>()?;
        let voters: Vec<String> = controller
            .iter()
            .enumerate()
            .map(|(i, p)| format!("\"{i}@127.0.0.1:{p}\""))
            .collect();
        let mut nodes = Vec::new();
        for i in 0..NODES {
            let config = dir.join(format!("node{i}.toml"));
            let metrics = if metrics {
                Some(format!("127.0.0.1:{}", free_port()?))
            } else {
                None
            };
            let metrics_line = metrics
                .as_ref()
                .map(|m| format!("metrics_listen = \"{m}\"\n"))
                .unwrap_or_default();
            std::fs::write(
                &config,
                format!(
                    "node_id = {i}\nlisten = \"127.0.0.1:{}\"\ndata_dir = \"{}\"\n{metrics_line}[controller]\nlisten = \"127.0.0.1:{}\"\nquorum_voters = [{}]\n",
                    kafka[i],
                    dir.join(format!("data{i}")).display(),
                    controller[i],
                    voters.join(", ")
                ),
            )?;
            nodes.push(Node {
                config,
                kafka: format!("127.0.0.1:{}", kafka[i]),
                metrics,
                child: None,
            });
        }
        let mut cluster = Cluster {
            bin: bin.to_path_buf(),
            dir,
            nodes,
        };
        for i in 0..NODES {
            cluster.spawn(i)?;
        }
        cluster.wait_until(Duration::from_secs(60), |s| s.matches("\tunfenced").count() == NODES)?;
        Ok(cluster)
    }

    fn spawn(&mut self, i: usize) -> Result<()> {
        let child = Command::new(self.bin.join("kzero-server"))
            .arg("--config")
            .arg(&self.nodes[i].config)
            .env("KZERO_LOG", "error")
            .stdout(Stdio::null())
            .spawn()
            .context("starting kzero-server")?;
        self.nodes[i].child = Some(child);
        Ok(())
    }

    /// `kzero ARGS -b <node i>`.
    fn kzero(&self, i: usize, args: &[&str]) -> Result<String> {
        let out = Command::new(self.bin.join("kzero"))
            .args(args)
            .args(["-b", &self.nodes[i].kafka, "--request-timeout-ms", "20000"])
            .output()
            .context("running kzero")?;
        if !out.status.success() {
            bail!("kzero {args:?}: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `kzero bench ARGS -b <node i> --json`: the JSON result.
    fn bench(&self, i: usize, args: &[&str]) -> Result<String> {
        let out = Command::new(self.bin.join("kzero"))
            .arg("bench")
            .args(args)
            .args(["-b", &self.nodes[i].kafka, "--request-timeout-ms", "30000", "--json"])
            .output()
            .context("running kzero bench")?;
        if !out.status.success() {
            bail!("kzero bench {args:?}: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Sends `signal` (`-STOP`, `-CONT`) to node `i`.
    fn signal(&self, i: usize, signal: &str) -> Result<()> {
        let pid = self.nodes[i].child.as_ref().context("the node is not running")?.id();
        let status = Command::new("kill").args([signal, &pid.to_string()]).status()?;
        if !status.success() {
            bail!("kill {signal} {pid} failed");
        }
        Ok(())
    }

    /// The sum of node `i`'s samples of metric `name` whose labels include every `key="value"` of
    /// `labels`; `None` when none does.
    fn metric(&self, i: usize, name: &str, labels: &[(&str, &str)]) -> Result<Option<f64>> {
        let addr = self.nodes[i]
            .metrics
            .as_deref()
            .context("the cluster has no metrics endpoints")?;
        let mut s = std::net::TcpStream::connect(addr).with_context(|| format!("metrics of node {i}"))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
        let mut text = String::new();
        s.read_to_string(&mut text)?;
        let mut sum = None;
        for line in text.lines() {
            let Some(rest) = line.strip_prefix(name) else { continue };
            let (label_text, value) = match rest.strip_prefix('{') {
                Some(inner) => match inner.split_once('}') {
                    Some(lv) => lv,
                    None => continue,
                },
                None if rest.starts_with(' ') => ("", rest),
                None => continue,
            };
            let wanted = labels
                .iter()
                .all(|(k, v)| label_text.split(',').any(|l| l == format!("{k}=\"{v}\"")));
            if let (true, Some(v)) = (
                wanted,
                value.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()),
            ) {
                *sum.get_or_insert(0.0) += v;
            }
        }
        Ok(sum)
    }

    /// Partition 0 of `topic` as `kzero topics describe` shows it: (leader, replicas, ISR).
    fn partition0(&self, topic: &str) -> Result<(usize, Vec<usize>, Vec<usize>)> {
        let text = self.kzero(0, &["topics", "describe", topic])?;
        let line = text
            .lines()
            .find(|l| l.contains("\tPartition: 0\t"))
            .with_context(|| format!("no partition 0 in {text:?}"))?;
        let field = |name: &str| -> Option<&str> { line.split('\t').find_map(|f| f.strip_prefix(name)).map(str::trim) };
        let ids = |v: Option<&str>| -> Vec<usize> {
            v.unwrap_or("")
                .split(',')
                .filter_map(|x| x.trim().parse().ok())
                .collect()
        };
        let leader = field("Leader:")
            .and_then(|l| l.parse().ok())
            .with_context(|| format!("no leader in {line:?}"))?;
        Ok((leader, ids(field("Replicas:")), ids(field("Isr:"))))
    }

    /// Creates a one-partition topic and waits until all its replicas are in the ISR.
    fn create_topic(&self, topic: &str, replication_factor: u16) -> Result<(usize, Vec<usize>)> {
        let rf = replication_factor.to_string();
        let mut args = vec![
            "topics",
            "create",
            topic,
            "--partitions",
            "1",
            "--replication-factor",
            &rf,
        ];
        if replication_factor > 1 {
            args.extend(["--config", "min.insync.replicas=2"]);
        }
        self.kzero(0, &args)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((leader, replicas, isr)) = self.partition0(topic) {
                if replicas.len() == usize::from(replication_factor) && isr.len() == replicas.len() {
                    return Ok((leader, replicas));
                }
            }
            if Instant::now() > deadline {
                bail!("{topic} did not get {replication_factor} in-sync replicas in 30 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Polls `kzero cluster status` on any live node until `ok` holds.
    fn wait_until(&self, limit: Duration, ok: impl Fn(&str) -> bool) -> Result<String> {
        let deadline = Instant::now() + limit;
        loop {
            for (i, n) in self.nodes.iter().enumerate() {
                if n.child.is_none() {
                    continue;
                }
                if let Ok(s) = self.kzero(i, &["cluster", "status"]) {
                    if ok(&s) {
                        return Ok(s);
                    }
                }
            }
            if Instant::now() > deadline {
                bail!("the cluster did not reach the expected state in {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn leader_of(status: &str) -> Option<usize> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("LeaderId:")?.trim().parse().ok())
}

/// Every voter caught up with the leader (lag 0).
fn caught_up(status: &str) -> bool {
    let rows: Vec<&str> = status
        .lines()
        .filter(|l| l.ends_with("\tLeader") || l.ends_with("\tFollower"))
        .collect();
    rows.len() == NODES && rows.iter().all(|l| l.split('\t').nth(2) == Some("0"))
}

fn measure(bin: &Path, quick: bool) -> Result<(Vec<f64>, Vec<f64>)> {
    let mut cluster = Cluster::start(bin, "cluster", false)?;
    let runs = if quick { 1 } else { 3 };
    let mut create = Vec::new();
    for run in 0..runs {
        let started = Instant::now();
        cluster.kzero(
            0,
            &["topics", "create", &format!("thousand-{run}"), "--partitions", "1000"],
        )?;
        create.push(started.elapsed().as_secs_f64());
    }
    let mut failover = Vec::new();
    for run in 0..runs {
        let status = cluster.wait_until(Duration::from_secs(30), caught_up)?;
        let leader = leader_of(&status).context("no leader in the cluster status")?;
        let survivor = (leader + 1) % NODES;
        let mut child = cluster.nodes[leader]
            .child
            .take()
            .context("the leader is not running")?;
        let killed = Instant::now();
        child.kill()?;
        let _ = child.wait();
        let topic = format!("after-failover-{run}");
        loop {
            if cluster.kzero(survivor, &["topics", "create", &topic]).is_ok() {
                break;
            }
            if killed.elapsed() > Duration::from_secs(30) {
                bail!("no topic could be created in 30 s after killing the controller");
            }
        }
        failover.push(killed.elapsed().as_secs_f64() * 1000.0);
        cluster.spawn(leader)?;
        cluster.wait_until(Duration::from_secs(30), caught_up)?;
    }
    Ok((create, failover))
}

/// The replication measurements, each a list of run results.
#[derive(Default)]
struct Replication {
    /// MB/s of `kzero bench produce`, acks=1 to an RF=1 topic.
    rf1_mb_s: Vec<f64>,
    /// MB/s of `kzero bench produce`, acks=all to an RF=3 topic.
    rf3_mb_s: Vec<f64>,
    /// p99 ack latency (ms), one request at a time, acks=1 RF=1.
    rf1_p99_ms: Vec<f64>,
    /// p99 ack latency (ms), one request at a time, acks=all RF=3.
    rf3_p99_ms: Vec<f64>,
    /// MiB/s of a paused follower catching up.
    catch_up_mib_s: Vec<f64>,
    /// MiB/s of a consumer reading the same records from the same leader.
    consume_mib_s: Vec<f64>,
    /// MiB produced for each catch-up run.
    catch_up_mib: f64,
}

/// A number from `kzero bench --json` output.
fn bench_number(json: &str, path: &[&str]) -> Result<f64> {
    crate::bench::json_number(json, path).with_context(|| format!("no {path:?} in {json}"))
}

fn measure_replication(bin: &Path, quick: bool) -> Result<Replication> {
    let cluster = Cluster::start(bin, "replication", true)?;
    let runs = if quick { 1 } else { 3 };
    let mut r = Replication::default();
    cluster.create_topic("rep-rf1", 1)?;
    cluster.create_topic("rep-rf3", 3)?;
    let records = if quick { 200_000u64 } else { 1_000_000 }.to_string();
    let requests = if quick { 1_000u64 } else { 5_000 }.to_string();
    for _ in 0..runs {
        for (topic, acks) in [("rep-rf1", "1"), ("rep-rf3", "all")] {
            let produce = |records: &str, extra: &[&str]| {
                let mut args = vec!["produce", "--topic", topic, "--acks", acks, "--records", records];
                args.extend_from_slice(&["--record-size", "100"]);
                args.extend_from_slice(extra);
                cluster.bench(0, &args)
            };
            let json = produce(&records, &[])?;
            let mb_s = bench_number(&json, &["mb_per_s"])?;
            // Latency: one record per request, one request at a time.
            let json = produce(&requests, &["--batch-size", "1", "--max-in-flight", "1"])?;
            let p99 = bench_number(&json, &["ack_latency_ms", "p99"])?;
            if acks == "1" {
                r.rf1_mb_s.push(mb_s);
                r.rf1_p99_ms.push(p99);
            } else {
                r.rf3_mb_s.push(mb_s);
                r.rf3_p99_ms.push(p99);
            }
        }
    }
    let catch_up_records: u64 = if quick { 16 * 1024 } else { 64 * 1024 };
    r.catch_up_mib = catch_up_records as f64 / 1024.0;
    for run in 0..runs {
        let (catch_up, consume) = catch_up_run(&cluster, &format!("rep-catchup-{run}"), catch_up_records)?;
        r.catch_up_mib_s.push(catch_up);
        r.consume_mib_s.push(consume);
    }
    Ok(r)
}

/// One follower of a fresh RF=3 topic paused while `records` records of 1 KiB are produced with acks=1,
/// then resumed: (its catch-up rate, a consumer's rate reading the same records from the leader), MiB/s.
fn catch_up_run(cluster: &Cluster, topic: &str, records: u64) -> Result<(f64, f64)> {
    let (leader, replicas) = cluster.create_topic(topic, 3)?;
    let status = cluster.wait_until(Duration::from_secs(30), caught_up)?;
    let quorum_leader = leader_of(&status);
    let follower = *replicas
        .iter()
        .find(|r| **r != leader && Some(**r) != quorum_leader)
        .context("no follower that is not the quorum leader")?;
    let lag_labels = [("topic", topic), ("partition", "0"), ("replica", &follower.to_string())];
    let lag_is_zero = || -> Result<bool> { Ok(cluster.metric(leader, "kzero_replica_lag", &lag_labels)? == Some(0.0)) };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !lag_is_zero()? {
        if Instant::now() > deadline {
            bail!("kzero_replica_lag{lag_labels:?} on the leader {leader} is not 0 before the run");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cluster.signal(follower, "-STOP")?;
    let produced = cluster.bench(
        leader,
        &[
            "produce",
            "--topic",
            topic,
            "--acks",
            "1",
            "--records",
            &records.to_string(),
            "--record-size",
            "1024",
        ],
    );
    let resumed = Instant::now();
    cluster.signal(follower, "-CONT")?;
    produced?;
    let deadline = resumed + Duration::from_secs(120);
    while !lag_is_zero()? {
        if Instant::now() > deadline {
            bail!("follower {follower} did not catch up within 120 s (kzero_replica_lag{lag_labels:?} on {leader})");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let catch_up_s = resumed.elapsed().as_secs_f64();
    let json = cluster.bench(
        leader,
        &["consume", "--topic", topic, "--records", &records.to_string()],
    )?;
    let bytes = bench_number(&json, &["bytes"])?;
    let consume_s = bench_number(&json, &["elapsed_s"])?;
    Ok((bytes / MIB / catch_up_s, bytes / MIB / consume_s.max(1e-9)))
}

/// The replication rows.
fn replication_rows(bin: &Path, quick: bool) -> String {
    let r = match measure_replication(bin, quick) {
        Ok(r) => r,
        Err(e) => {
            return format!(
                "target\treplication\treplication on 3 nodes (throughput, latency, catch-up)\t{}\tthe run completes\tFAIL\n",
                format!("{e:#}").replace(['\t', '\n'], " ")
            )
        }
    };
    let m = |v: &[f64]| crate::bench::median_min_max(v.to_vec());
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    let mut rows = String::new();
    let (rf1, lo, hi) = m(&r.rf1_mb_s);
    rows += &format!(
        "metric\treplication throughput\tproduce 100 B records, acks=1, RF=1\t{rf1:.2}\t{lo:.2}\t{hi:.2}\tMB/s\n"
    );
    let (rf3, lo, hi) = m(&r.rf3_mb_s);
    rows += &format!(
        "metric\treplication throughput\tproduce 100 B records, acks=all, RF=3\t{rf3:.2}\t{lo:.2}\t{hi:.2}\tMB/s\n"
    );
    let ratio = rf3 / rf1.max(1e-9);
    rows += &format!(
        "target\treplication\tproduce throughput, acks=all RF=3 / acks=1 RF=1\t{ratio:.3}\t>= {ACKS_ALL_RATIO}\t{}\n",
        verdict(ratio >= ACKS_ALL_RATIO)
    );
    let (p1, lo, hi) = m(&r.rf1_p99_ms);
    rows += &format!(
        "metric\treplication latency\tack p99, one request at a time, acks=1, RF=1\t{p1:.3}\t{lo:.3}\t{hi:.3}\tms\n"
    );
    let (p3, lo, hi) = m(&r.rf3_p99_ms);
    rows += &format!(
        "metric\treplication latency\tack p99, one request at a time, acks=all, RF=3\t{p3:.3}\t{lo:.3}\t{hi:.3}\tms\n"
    );
    rows += &format!(
        "target\treplication\tp99 ack latency added by acks=all RF=3 over acks=1 RF=1 (ms; {p1:.3} -> {p3:.3})\t{:.3}\treported\tinfo\n",
        p3 - p1
    );
    let mib = r.catch_up_mib;
    let (cu, lo, hi) = m(&r.catch_up_mib_s);
    rows += &format!(
        "metric\treplication catch-up\ta paused follower catching up {mib:.0} MiB\t{cu:.1}\t{lo:.1}\t{hi:.1}\tMiB/s\n"
    );
    let (co, lo, hi) = m(&r.consume_mib_s);
    rows += &format!("metric\treplication catch-up\ta consumer reading the same {mib:.0} MiB from the leader\t{co:.1}\t{lo:.1}\t{hi:.1}\tMiB/s\n");
    let ratio = cu / co.max(1e-9);
    rows += &format!(
        "target\treplication\tfollower catch-up rate / consumer fetch rate ({mib:.0} MiB)\t{ratio:.3}\t>= {CATCH_UP_RATIO}\t{}\n",
        verdict(ratio >= CATCH_UP_RATIO)
    );
    rows
}

/// The rows of the cluster row: the controller measurements, then replication on a second cluster.
pub(crate) fn run(bin: &Path, quick: bool) -> String {
    let mut rows = controller_rows(bin, quick);
    rows += &replication_rows(bin, quick);
    rows
}

/// The controller rows: 1,000 partitions and the failover.
fn controller_rows(bin: &Path, quick: bool) -> String {
    match measure(bin, quick) {
        Ok((create, failover)) => {
            let (cm, clo, chi) = crate::bench::median_min_max(create);
            let (fm, flo, fhi) = crate::bench::median_min_max(failover);
            let verdict = if fm < FAILOVER_LIMIT_MS { "PASS" } else { "FAIL" };
            format!(
                "metric\tcluster\t3 nodes: create 1,000 partitions (one topic, RF 1)\t{cm:.3}\t{clo:.3}\t{chi:.3}\ts\n\
                 metric\tcluster\t3 nodes: kill -9 of the active controller to the next CreateTopics\t{fm:.0}\t{flo:.0}\t{fhi:.0}\tms\n\
                 target\tcluster\tcontroller failover, default election timeouts (ms)\t{fm:.0}\t< {FAILOVER_LIMIT_MS:.0}\t{verdict}\n"
            )
        }
        Err(e) => format!(
            "target\tcluster\tcontroller failover and 1,000 partitions on 3 nodes\t{}\tthe run completes\tFAIL\n",
            format!("{e:#}").replace(['\t', '\n'], " ")
        ),
    }
}
