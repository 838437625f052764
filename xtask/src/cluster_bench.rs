//! The cluster row of `cargo xtask bench`: three release `kzero-server` processes on 127.0.0.1 forming a
//! metadata quorum with the default election and session timeouts.
//!
//! It measures the time to create 1,000 partitions (one `kzero topics create` of one topic, RF 1, spread
//! over the three brokers), and the controller failover: `kill -9` of the active controller (the quorum
//! leader, from `kzero cluster status`) until the next `kzero topics create` through a survivor succeeds.
//! The killed node is restarted and caught up before the next run. A failure is reported as FAIL rows with
//! the error, never as a failure of the whole bench.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Voters of the cluster.
const NODES: usize = 3;
/// The failover target.
const FAILOVER_LIMIT_MS: f64 = 1000.0;

struct Node {
    config: PathBuf,
    kafka: String,
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
    fn start(bin: &Path) -> Result<Cluster> {
        let dir = std::env::temp_dir().join(format!("kzero-bench-cluster-{}", std::process::id()));
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
            std::fs::write(
                &config,
                format!(
                    "node_id = {i}\nlisten = \"127.0.0.1:{}\"\ndata_dir = \"{}\"\n[controller]\nlisten = \"127.0.0.1:{}\"\nquorum_voters = [{}]\n",
                    kafka[i],
                    dir.join(format!("data{i}")).display(),
                    controller[i],
                    voters.join(", ")
                ),
            )?;
            nodes.push(Node {
                config,
                kafka: format!("127.0.0.1:{}", kafka[i]),
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
    let mut cluster = Cluster::start(bin)?;
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

/// The rows of the cluster row.
pub(crate) fn run(bin: &Path, quick: bool) -> String {
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
