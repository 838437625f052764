//! The many-partitions row of `cargo xtask bench` (also alone: `cargo xtask bench partitions`).
//!
//! It starts the release `kzero-server` on 127.0.0.1 with a fresh data directory and a descriptor limit
//! (`RLIMIT_NOFILE`, soft and hard) of 20,000, set with `prlimit` (util-linux) or else with the shell's
//! `ulimit -n`; creates the partitions with `kzero topics create`, 100 per topic; measures the broker's
//! resident memory (`VmRSS` in `/proc/<pid>/status`) and open descriptors (`/proc/<pid>/fd`); stops it with
//! SIGTERM; restarts it on the same data directory, timing until it answers an ApiVersions request, and
//! measures again; and checks with `kzero topics describe` that every partition came back.
//!
//! Every failure (the broker running out of descriptors, exiting, not answering) ends the run early and is
//! reported in the rows as a FAIL with the error, never as a failure of the whole bench.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The descriptor limit the broker runs under, soft and hard.
const NOFILE: u64 = 20_000;
/// Partitions per topic.
const PER_TOPIC: u64 = 100;
/// Topic names are this prefix and a number.
const PREFIX: &str = "many-partitions-";
/// How long one `kzero` request may take (creating 100 partitions included).
const REQUEST_TIMEOUT_MS: &str = "120000";
/// How long a start or a restart may take before the row gives up.
const START_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a clean stop may take before the broker is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(120);

/// What the row wrote: TSV rows for the report and a Markdown section.
pub(crate) struct Outcome {
    pub rows: String,
    pub md: String,
}

/// The broker's memory and descriptors at one moment.
#[derive(Clone, Copy)]
struct Usage {
    rss_mib: f64,
    fds: u64,
}

#[derive(Default)]
struct Measured {
    /// The broker's `Max open files` (soft, hard) as the kernel reports it.
    limit: Option<(String, String)>,
    fresh: Option<Usage>,
    created: u64,
    create_s: Option<f64>,
    after_create: Option<Usage>,
    stop_s: Option<f64>,
    restart_s: Option<f64>,
    after_restart: Option<Usage>,
    /// Partitions `kzero topics describe` lists, without an error, after the restart.
    restarted_partitions: Option<u64>,
    /// The error that ended the run early.
    error: Option<String>,
}

/// Runs the row with `partitions` partitions, using `kzero-server` and `kzero` from `bin`.
pub(crate) fn run(bin: &Path, partitions: u64) -> Outcome {
    let tmp = std::env::var_os("KZERO_BENCH_TMP").map_or(std::env::temp_dir(), PathBuf::from);
    let work = tmp.join(format!("kzero-bench-partitions-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let mut m = Measured::default();
    println!(
        "\n==> many partitions: {} partitions, RLIMIT_NOFILE {NOFILE}, work directory {}",
        thousands(partitions),
        work.display()
    );
    if let Err(e) = measure(bin, &work, partitions, &mut m) {
        let message = one_line(&format!("{e:#}"));
        println!("many partitions: stopped early: {message}");
        m.error = Some(message);
    }
    let _ = std::fs::remove_dir_all(&work);
    report(&m, partitions)
}

fn measure(bin: &Path, work: &Path, partitions: u64, m: &mut Measured) -> Result<()> {
    let data = work.join("data");
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    let kzero = bin.join("kzero");

    let mut broker = Broker::start(bin, &data, &work.join("broker-1.log"))?;
    broker.wait_ready(START_TIMEOUT)?;
    m.limit = Some(broker.nofile_limit()?);
    if let Some((soft, hard)) = &m.limit {
        if *soft != NOFILE.to_string() || *hard != NOFILE.to_string() {
            bail!("the broker's RLIMIT_NOFILE is {soft}:{hard}, not {NOFILE}:{NOFILE}");
        }
    }
    m.fresh = Some(broker.usage()?);

    let started = Instant::now();
    let mut topic = 0;
    let create_result = (|| -> Result<()> {
        while m.created < partitions {
            let count = PER_TOPIC.min(partitions - m.created);
            let name = format!("{PREFIX}{topic:04}");
            let out = Command::new(&kzero)
                .args(["topics", "create", &name, "--partitions", &count.to_string()])
                .args([
                    "-b",
                    &broker.addr.to_string(),
                    "--request-timeout-ms",
                    REQUEST_TIMEOUT_MS,
                ])
                .output()
                .with_context(|| format!("running {}", kzero.display()))?;
            if !out.status.success() {
                broker.check_alive()?;
                bail!(
                    "after {} partitions, `kzero topics create {name} --partitions {count}` failed: {}",
                    thousands(m.created),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            m.created += count;
            topic += 1;
        }
        Ok(())
    })();
    let create_s = started.elapsed().as_secs_f64();
    if create_result.is_ok() {
        m.create_s = Some(create_s);
    }
    println!(
        "many partitions: {} partitions created in {create_s:.1} s",
        thousands(m.created)
    );
    // Memory and descriptors are worth reporting even when creating failed (they usually say why).
    if let Ok(usage) = broker.usage() {
        m.after_create = Some(usage);
    }
    create_result?;
    broker.check_alive()?;

    m.stop_s = Some(broker.stop()?.as_secs_f64());

    let mut broker = Broker::start(bin, &data, &work.join("broker-2.log"))?;
    m.restart_s = Some(broker.wait_ready(START_TIMEOUT)?.as_secs_f64());
    m.after_restart = Some(broker.usage()?);

    let out = Command::new(&kzero)
        .args(["topics", "describe"])
        .args([
            "-b",
            &broker.addr.to_string(),
            "--request-timeout-ms",
            REQUEST_TIMEOUT_MS,
        ])
        .output()
        .with_context(|| format!("running {}", kzero.display()))?;
    if !out.status.success() {
        broker.check_alive()?;
        bail!(
            "after the restart, `kzero topics describe` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let served = text
        .lines()
        .filter(|l| l.starts_with('\t') && l.contains(&format!("Topic: {PREFIX}")) && !l.contains("Error:"))
        .count() as u64;
    m.restarted_partitions = Some(served);
    broker.stop()?;
    Ok(())
}

/// A `kzero-server` child process under the descriptor limit, with its log in a file.
struct Broker {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
    started: Instant,
}

impl Broker {
    fn start(bin: &Path, data: &Path, log: &Path) -> Result<Broker> {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let server = bin.join("kzero-server");
        let mut cmd = if crate::runs("prlimit", "--version") {
            let mut c = Command::new("prlimit");
            c.arg(format!("--nofile={NOFILE}:{NOFILE}")).arg("--").arg(&server);
            c
        } else {
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(format!("ulimit -n {NOFILE} && exec \"$0\" \"$@\""))
                .arg(&server);
            c
        };
        let file = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        cmd.args(["--listen", &addr.to_string(), "--data-dir"])
            .arg(data)
            .env("KZERO_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file);
        let child = cmd.spawn().with_context(|| format!("starting {cmd:?}"))?;
        Ok(Broker {
            child,
            addr,
            log: log.to_path_buf(),
            started: Instant::now(),
        })
    }

    /// The broker's pid: `prlimit` and `sh -c 'exec ..'` both become the broker, keeping theirs.
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails with the end of the broker's log when it has exited.
    fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("the broker exited with {status}: {}", self.log_tail());
        }
        Ok(())
    }

    /// The last lines of the broker's log, errors first, on one line.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let errors: Vec<&str> = lines.iter().copied().filter(|l| l.contains("ERROR")).collect();
        let pick = if errors.is_empty() { &lines } else { &errors };
        let tail = &pick[pick.len().saturating_sub(3)..];
        if tail.is_empty() {
            format!("nothing in {}", self.log.display())
        } else {
            tail.join(" | ")
        }
    }

    /// Waits until the broker answers an ApiVersions request; returns the time since it was started.
    fn wait_ready(&mut self, timeout: Duration) -> Result<Duration> {
        let deadline = self.started + timeout;
        loop {
            self.check_alive()?;
            if Instant::now() > deadline {
                bail!(
                    "the broker did not answer ApiVersions within {} s: {}",
                    timeout.as_secs(),
                    self.log_tail()
                );
            }
            match self.api_versions(deadline) {
                Ok(()) => return Ok(self.started.elapsed()),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    /// One ApiVersions v0 request on a new connection. The listener is bound before the logs are opened,
    /// so a connection may be accepted long before it is answered: wait, watching that the broker lives.
    fn api_versions(&mut self, deadline: Instant) -> Result<()> {
        const CORRELATION_ID: i32 = 7;
        let mut s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1))?;
        let client_id = b"xtask";
        let mut request = Vec::new();
        request.extend_from_slice(&(10 + client_id.len() as i32).to_be_bytes());
        request.extend_from_slice(&18i16.to_be_bytes()); // ApiVersions
        request.extend_from_slice(&0i16.to_be_bytes()); // version 0
        request.extend_from_slice(&CORRELATION_ID.to_be_bytes());
        request.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
        request.extend_from_slice(client_id);
        s.write_all(&request)?;
        s.set_read_timeout(Some(Duration::from_millis(100)))?;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) => bail!("the connection closed before a response"),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    self.check_alive()?;
                    if Instant::now() > deadline {
                        bail!("no ApiVersions response before the deadline");
                    }
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            // Size, correlation id, error code.
            if got.len() >= 10 {
                let correlation = i32::from_be_bytes(got[4..8].try_into()?);
                let error_code = i16::from_be_bytes(got[8..10].try_into()?);
                if correlation != CORRELATION_ID || error_code != 0 {
                    bail!("ApiVersions answered correlation id {correlation}, error code {error_code}");
                }
                return Ok(());
            }
        }
    }

    /// The soft and hard `Max open files` of the broker process.
    fn nofile_limit(&self) -> Result<(String, String)> {
        let limits = std::fs::read_to_string(format!("/proc/{}/limits", self.pid()))?;
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .context("no `Max open files` in /proc/<pid>/limits")?;
        let f: Vec<&str> = line["Max open files".len()..].split_whitespace().collect();
        match f.as_slice() {
            [soft, hard, ..] => Ok((soft.to_string(), hard.to_string())),
            _ => bail!("cannot read {line:?}"),
        }
    }

    fn usage(&mut self) -> Result<Usage> {
        self.check_alive()?;
        let pid = self.pid();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .context("no VmRSS in /proc/<pid>/status")?;
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .context("listing /proc/<pid>/fd")?
            .count() as u64;
        Ok(Usage {
            rss_mib: kib / 1024.0,
            fds,
        })
    }

    /// SIGTERM, then waits for a clean exit; returns how long it took.
    fn stop(&mut self) -> Result<Duration> {
        let t = Instant::now();
        let _ = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
        while t.elapsed() < STOP_TIMEOUT {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    bail!("the broker stopped with {status}: {}", self.log_tail());
                }
                return Ok(t.elapsed());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        bail!(
            "the broker did not stop within {} s of SIGTERM (killed)",
            STOP_TIMEOUT.as_secs()
        )
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.stop();
        }
    }
}

/// `12345` as `12,345`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Text made safe for one TSV field and one Markdown table cell.
fn one_line(s: &str) -> String {
    let s = s.replace(['\t', '\n', '\r'], " ").replace('|', "/");
    if s.chars().count() > 400 {
        format!("{}…", s.chars().take(400).collect::<String>())
    } else {
        s
    }
}

fn report(m: &Measured, partitions: u64) -> Outcome {
    let n = thousands(partitions);
    let limit = thousands(NOFILE);
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    let error = m.error.as_deref().unwrap_or("");
    let mut rows = String::new();
    let mut metric = |group: &str, label: &str, value: Option<f64>, unit: &str| {
        if let Some(v) = value {
            rows += &format!("metric\t{group}\t{label}\t{v:.3}\t{v:.3}\t{v:.3}\t{unit}\n");
        }
    };
    let time = "many partitions time";
    metric(time, &format!("create {n} partitions (100 per topic)"), m.create_s, "s");
    metric(time, "clean stop (SIGTERM)", m.stop_s, "s");
    metric(time, "restart until ApiVersions answers", m.restart_s, "s");
    let memory = "many partitions memory";
    metric(memory, "broker RSS, fresh", m.fresh.map(|u| u.rss_mib), "MiB");
    metric(
        memory,
        &format!("broker RSS with {} partitions", thousands(m.created)),
        m.after_create.map(|u| u.rss_mib),
        "MiB",
    );
    metric(
        memory,
        "broker RSS after restart",
        m.after_restart.map(|u| u.rss_mib),
        "MiB",
    );
    let fds = "many partitions descriptors";
    metric(fds, "open descriptors, fresh", m.fresh.map(|u| u.fds as f64), "fds");
    metric(
        fds,
        &format!("open descriptors with {} partitions", thousands(m.created)),
        m.after_create.map(|u| u.fds as f64),
        "fds",
    );
    metric(
        fds,
        "open descriptors after restart",
        m.after_restart.map(|u| u.fds as f64),
        "fds",
    );

    let per_partition = |u: Option<Usage>| match (u, m.fresh) {
        (Some(u), Some(f)) if m.created > 0 => format!(
            "{} ({:.2} per partition)",
            thousands(u.fds),
            u.fds.saturating_sub(f.fds) as f64 / m.created as f64
        ),
        (Some(u), _) => thousands(u.fds),
        (None, _) => "not measured".into(),
    };
    let group = "many partitions";
    // The error goes in the row of the stage that failed; the other rows point to it.
    let stopped_early = "not measured: the run stopped early";
    let all_created = m.created == partitions && m.create_s.is_some();
    let created = if all_created {
        format!("{n} in {:.1} s", m.create_s.unwrap_or_default())
    } else {
        format!("{} of {n}: {error}", thousands(m.created))
    };
    rows += &format!(
        "target\t{group}\t{n} partitions created\t{created}\tall {n}\t{}\n",
        verdict(all_created)
    );
    let under = |u: Option<Usage>| u.is_some_and(|u| u.fds < NOFILE);
    let fds_ok = under(m.after_create) && under(m.after_restart);
    let fds_value = match (m.after_create, m.after_restart) {
        (None, None) => stopped_early.to_string(),
        _ => format!(
            "with {} partitions {}, after restart {}",
            thousands(m.created),
            per_partition(m.after_create),
            per_partition(m.after_restart)
        ),
    };
    rows += &format!(
        "target\t{group}\tdescriptors under {limit}\t{fds_value}\t< {limit} (RLIMIT_NOFILE)\t{}\n",
        verdict(fds_ok)
    );
    let restarted_ok = m.restarted_partitions == Some(partitions);
    let restarted = match (m.restart_s, m.restarted_partitions) {
        (Some(s), Some(p)) => format!("answers in {s:.2} s, {} partitions served", thousands(p)),
        _ if !all_created => stopped_early.to_string(),
        (Some(s), None) => format!("answers in {s:.2} s; {error}"),
        (None, _) => format!("not measured: {error}"),
    };
    rows += &format!(
        "target\t{group}\trestart with {n} partitions\t{restarted}\tall {n} served\t{}\n",
        verdict(restarted_ok)
    );

    let cell = |v: Option<f64>, digits: usize| v.map_or("–".to_string(), |v| format!("{v:.digits$}"));
    let usage_cells = |u: Option<Usage>| {
        (
            cell(u.map(|u| u.rss_mib), 1),
            u.map_or("–".to_string(), |u| thousands(u.fds)),
        )
    };
    let (fresh_rss, fresh_fds) = usage_cells(m.fresh);
    let (create_rss, create_fds) = usage_cells(m.after_create);
    let (restart_rss, restart_fds) = usage_cells(m.after_restart);
    let mut md = format!(
        "## Many partitions\n\nThe release `kzero-server` as a child process with `RLIMIT_NOFILE` {} (soft:hard, as the \
kernel reports it); {n} partitions to create with `kzero topics create`, {PER_TOPIC} per topic; then a clean stop \
(SIGTERM) and a restart on the same data directory. One run: the figures are not medians.\n\n\
| stage | time (s) | RSS (MiB) | open descriptors |\n|---|---|---|---|\n\
| fresh broker | | {fresh_rss} | {fresh_fds} |\n\
| {} partitions created | {} | {create_rss} | {create_fds} |\n\
| clean stop | {} | | |\n\
| restart, until ApiVersions answers | {} | {restart_rss} | {restart_fds} |\n",
        m.limit
            .as_ref()
            .map_or("not read".to_string(), |(s, h)| format!("{s}:{h}")),
        thousands(m.created),
        cell(m.create_s, 2),
        cell(m.stop_s, 2),
        cell(m.restart_s, 2),
    );
    if let Some(p) = m.restarted_partitions {
        md += &format!(
            "\nAfter the restart, `kzero topics describe` lists {} partitions.\n",
            thousands(p)
        );
    }
    if !error.is_empty() {
        md += &format!("\n**The run stopped early:** {error}\n");
    }
    Outcome { rows, md }
}
