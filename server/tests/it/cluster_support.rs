//! The harness of the multi-node tests (`cluster.rs`, `replication.rs`): three `kzero-server` processes
//! forming one KRaft-style cluster (every node a broker and a controller voter, on free ports), plus
//! optional broker-only observers; the clusters of concurrently running tests take turns. Also the raw
//! requests those tests share (Metadata in a comparable form, CreateTopics, a one-record Produce) and the
//! nodes' metrics endpoints.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use protocol::record::{BatchBuilder, Compression, Record};
use protocol::{
    CreatableTopic, CreateTopicsRequest, DescribeClusterRequest, ErrorCode, MetadataRequest, MetadataResponse,
    PartitionProduceData, ProduceRequest, Records, Request, RequestBody, RequestHeader, Response, ResponseBody,
    TopicProduceData,
};

use crate::support::free_addr;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_kzero-server");
pub(crate) const SESSION_TIMEOUT_MS: u64 = 3000;
pub(crate) const HEARTBEAT_MS: u64 = 500;

/// The clusters of concurrently running tests take turns: three brokers per test on two cores already
/// load the machine, and the tests measure failover and fencing times.
pub(crate) static ONE_CLUSTER_AT_A_TIME: Mutex<()> = Mutex::new(());

/// One node: a broker and a controller voter, run as a child process.
pub(crate) struct Node {
    pub(crate) id: i32,
    pub(crate) kafka: String,
    pub(crate) config: PathBuf,
    pub(crate) log: PathBuf,
    /// The node's `data_dir` (partition directories are `<topic>-<partition>` in it).
    pub(crate) data: PathBuf,
    /// The node's metrics endpoint (`metrics_listen`), when the cluster was started with one.
    pub(crate) metrics: Option<String>,
    /// The node's SASL_PLAINTEXT listener, when the cluster is secured.
    pub(crate) sasl: Option<String>,
    pub(crate) child: Option<Child>,
}

impl Node {
    /// Starts the process (its output appended to its log); does not wait for it.
    pub(crate) fn start(&mut self) {
        assert!(self.child.is_none(), "node {} already runs", self.id);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(BIN)
            .arg("--config")
            .arg(&self.config)
            // The broker logs to stdout; `KZERO_CLUSTER_LOG` (e.g. `info`) overrides the level for a diagnosis.
            .env(
                "KZERO_LOG",
                std::env::var("KZERO_CLUSTER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// SIGKILL, and reaped.
    pub(crate) fn kill(&mut self) {
        let mut child = self.child.take().expect("the node runs");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    pub(crate) fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("the node runs").id().to_string();
        let status = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(status.success(), "kill {signal} {pid}");
    }

    /// The Prometheus text of the node's metrics endpoint (the cluster must have been started with
    /// [`Options::metrics`]); errors (refused, timed out) are returned, not panicked.
    pub(crate) fn metrics_text(&self) -> Result<String, String> {
        let addr = self
            .metrics
            .as_deref()
            .expect("the cluster was started without metrics endpoints");
        let fetch = || -> std::io::Result<String> {
            let mut s = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2))?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
            let mut out = String::new();
            s.read_to_string(&mut out)?;
            Ok(out)
        };
        fetch().map_err(|e| format!("metrics of node {} at {addr}: {e}", self.id))
    }

    /// The sum of the samples of metric `name` whose labels include every `key="value"` of `labels`;
    /// `None` when no sample matches (the metric is absent, or has no such series).
    pub(crate) fn metric(&self, name: &str, labels: &[(&str, &str)]) -> Result<Option<f64>, String> {
        let text = self.metrics_text()?;
        Ok(sum_samples(&text, name, labels))
    }
}

/// The sum of the samples of `name` in Prometheus text whose labels include every `key="value"` of
/// `labels`; `None` when none matches.
pub(crate) fn sum_samples(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut sum = None;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let (label_text, value) = if let Some(inner) = rest.strip_prefix('{') {
            let Some((l, v)) = inner.split_once('}') else {
                continue;
            };
            (l, v)
        } else if rest.starts_with(' ') {
            ("", rest)
        } else {
            continue;
        };
        if !labels
            .iter()
            .all(|(k, v)| label_text.split(',').any(|l| l == format!("{k}=\"{v}\"")))
        {
            continue;
        }
        if let Some(v) = value.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()) {
            *sum.get_or_insert(0.0) += v;
        }
    }
    sum
}

/// How a test's cluster is set up beyond the three voters.
#[derive(Debug, Default, Clone)]
pub(crate) struct Options {
    /// Broker-only nodes (3, ...) that follow the metadata without voting.
    pub(crate) observers: usize,
    /// Top-level config lines (TOML) for every node, e.g. `replica_lag_time_max_ms = 3000`.
    pub(crate) broker_config: String,
    /// Give every node a metrics endpoint (`metrics_listen` on a free port).
    pub(crate) metrics: bool,
    /// Secure the cluster: a SASL_PLAINTEXT listener on every node (`Node::sasl`), the bootstrap user
    /// `admin` (password `admin-secret`, the inter-broker user) and the authorizer with `admin` as its
    /// super user.
    pub(crate) sasl: bool,
}

/// Three nodes; every child is killed when the cluster is dropped, and a failing test prints their logs.
pub(crate) struct Cluster {
    pub(crate) nodes: Vec<Node>,
    _turn: std::sync::MutexGuard<'static, ()>,
    dir: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            if let Some(mut c) = n.child.take() {
                if let Ok(Some(status)) = c.try_wait() {
                    eprintln!("node {} had exited on its own: {status}", n.id);
                }
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        if std::thread::panicking() {
            for n in &self.nodes {
                let log = std::fs::read_to_string(&n.log).unwrap_or_default();
                let lines: Vec<&str> = log.lines().collect();
                let tail = &lines[lines.len().saturating_sub(80)..];
                eprintln!("----- node {} ({}) log, last {} lines", n.id, n.kafka, tail.len());
                for l in tail {
                    eprintln!("{l}");
                }
            }
        }
    }
}

impl Cluster {
    /// Writes three configs on free ports, starts all three nodes, and waits until each answers and
    /// lists all three brokers.
    pub(crate) fn start() -> Cluster {
        Cluster::start_with(0)
    }

    /// Three combined nodes (0, 1, 2) and `observers` broker-only nodes (3, ...) that follow the metadata
    /// without voting.
    pub(crate) fn start_with(observers: usize) -> Cluster {
        Cluster::start_with_options(Options {
            observers,
            ..Options::default()
        })
    }

    /// A cluster set up as `options` says; waits as [`Cluster::start`] does.
    pub(crate) fn start_with_options(options: Options) -> Cluster {
        let observers = options.observers;
        let turn = ONE_CLUSTER_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let controllers: Vec<String> = (0..3 + observers).map(|_| free_addr()).collect();
        let voters: Vec<String> = controllers
            .iter()
            .take(3)
            .enumerate()
            .map(|(i, a)| format!("\"{i}@{a}\""))
            .collect();
        let nodes = (0..3 + observers)
            .map(|i| {
                let roles = if i < 3 {
                    "\"broker\", \"controller\""
                } else {
                    "\"broker\""
                };
                let kafka = free_addr();
                let data = dir.path().join(format!("node{i}"));
                let config = dir.path().join(format!("node{i}.toml"));
                let metrics = options.metrics.then(free_addr);
                let sasl = options.sasl.then(free_addr);
                let security = match &sasl {
                    Some(a) => format!(
                        "[sasl]\nlisten = \"{a}\"\nbootstrap_users = [{{ name = \"admin\", password = \"admin-secret\" }}]\n\
                         connections_max_reauth_ms = 2000\n[authorizer]\nenabled = true\nsuper_users = [\"User:admin\"]\n"
                    ),
                    None => String::new(),
                };
                // Top-level keys go before the first table.
                let mut top = options.broker_config.trim().to_string();
                if let Some(m) = &metrics {
                    top = format!("metrics_listen = \"{m}\"\n{top}");
                }
                std::fs::write(
                    &config,
                    format!(
                        "node_id = {i}\nlisten = \"{kafka}\"\ndata_dir = \"{}\"\n\
                         process_roles = [{roles}]\n{top}\n\
                         [controller]\nlisten = \"{}\"\nquorum_voters = [{}]\n\
                         broker_session_timeout_ms = {SESSION_TIMEOUT_MS}\n\
                         broker_heartbeat_interval_ms = {HEARTBEAT_MS}\n{security}",
                        data.display(),
                        controllers[i],
                        voters.join(", ")
                    ),
                )
                .unwrap();
                Node {
                    id: i as i32,
                    kafka,
                    config,
                    log: dir.path().join(format!("node{i}.log")),
                    data,
                    metrics,
                    sasl,
                    child: None,
                }
            })
            .collect();
        let mut cluster = Cluster {
            nodes,
            _turn: turn,
            dir,
        };
        let started = Instant::now();
        for n in &mut cluster.nodes {
            n.start();
        }
        for i in 0..cluster.nodes.len() {
            cluster.wait_serving(i, Duration::from_secs(30));
        }
        cluster.wait_all_listed(Duration::from_secs(20));
        eprintln!(
            "cluster of {} up (all answering, all brokers listed everywhere) in {} ms",
            cluster.nodes.len(),
            started.elapsed().as_millis()
        );
        cluster
    }

    pub(crate) fn addr(&self, i: usize) -> &str {
        &self.nodes[i].kafka
    }

    /// The cluster's own temporary directory (configs, logs, data; removed with the cluster).
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Waits until node `i` answers ApiVersions (it serves once registered and unfenced).
    pub(crate) fn wait_serving(&self, i: usize, timeout: Duration) {
        let addr = self.nodes[i].kafka.clone();
        wait_until(&format!("node {i} answers ApiVersions"), timeout, || {
            answers(&addr).map_err(|e| e.to_string())
        });
    }

    /// Waits until every running node's Metadata lists every running node as a broker.
    pub(crate) fn wait_all_listed(&self, timeout: Duration) {
        let running: Vec<usize> = (0..self.nodes.len())
            .filter(|i| self.nodes[*i].child.is_some())
            .collect();
        let want: BTreeSet<i32> = running.iter().map(|i| *i as i32).collect();
        for &i in &running {
            wait_until(&format!("node {i} lists brokers {want:?}"), timeout, || {
                let v = view(self.addr(i))?;
                let listed: BTreeSet<i32> = v.brokers.iter().map(|b| b.0).collect();
                if listed == want {
                    Ok(())
                } else {
                    Err(format!("lists {listed:?}"))
                }
            });
        }
    }

    /// The active controller, as node `i` names it in DescribeCluster.
    pub(crate) fn controller(&self, i: usize) -> Result<i32, String> {
        let body = DescribeClusterRequest {
            include_cluster_authorized_operations: false,
            endpoint_type: 1,
            include_fenced_brokers: false,
            ..Default::default()
        };
        match call(self.addr(i), 1, body.into()).map_err(|e| e.to_string())? {
            ResponseBody::DescribeCluster(r) if r.error_code == 0 && r.controller_id >= 0 => Ok(r.controller_id),
            ResponseBody::DescribeCluster(r) => Err(format!("{r:?}")),
            other => Err(format!("{other:?}")),
        }
    }

    /// Waits until every running node's view agrees (brokers and topics) and returns it.
    pub(crate) fn agreed_view(&self, timeout: Duration, what: &str) -> View {
        let running: Vec<usize> = (0..self.nodes.len())
            .filter(|i| self.nodes[*i].child.is_some())
            .collect();
        wait_until(&format!("the nodes {running:?} agree ({what})"), timeout, || {
            let views = running
                .iter()
                .map(|i| view(self.addr(*i)))
                .collect::<Result<Vec<_>, _>>()?;
            if views.windows(2).all(|w| w[0] == w[1]) {
                Ok(views.into_iter().next().unwrap())
            } else {
                Err(format!("{views:#?}"))
            }
        })
    }
}

/// Polls `f` until it is `Ok`, at most `timeout`; panics with the last `Err` it gave.
#[track_caller]
pub(crate) fn wait_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match f() {
            Ok(t) => return t,
            Err(last) => {
                assert!(
                    Instant::now() < deadline,
                    "not within {timeout:?}: {what}; last seen: {last}"
                );
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An ApiVersions v0 answer from `addr`.
pub(crate) fn answers(addr: &str) -> std::io::Result<()> {
    let mut s = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(1))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.write_all(&[0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff])?;
    let mut size = [0u8; 4];
    s.read_exact(&mut size)
}

/// One request on a fresh connection; errors (refused, reset, timed out) are returned, not panicked.
pub(crate) fn call(addr: &str, version: i16, body: RequestBody) -> std::io::Result<ResponseBody> {
    let mut s = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    let api = body.api_key();
    let mut out = BytesMut::new();
    let header = RequestHeader::new(api, version, 7);
    Request { header, body }
        .encode(&mut out)
        .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
    s.write_all(&out)?;
    let mut size = [0u8; 4];
    s.read_exact(&mut size)?;
    let mut frame = vec![0u8; i32::from_be_bytes(size) as usize];
    s.read_exact(&mut frame)?;
    let r = Response::decode(api, version, Bytes::from(frame)).map_err(|e| std::io::Error::other(format!("{e:?}")))?;
    assert_eq!(r.header.correlation_id, 7);
    Ok(r.body)
}

/// A partition as Metadata shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    pub(crate) error: i16,
    pub(crate) leader: i32,
    pub(crate) epoch: i32,
    pub(crate) replicas: Vec<i32>,
    pub(crate) isr: Vec<i32>,
    pub(crate) offline: Vec<i32>,
}

/// A topic as Metadata shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TopicView {
    pub(crate) id: [u8; 16],
    pub(crate) partitions: Vec<Part>,
}

/// One node's Metadata (v12, every topic), in a comparable form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct View {
    /// (id, host, port), by id.
    pub(crate) brokers: Vec<(i32, String, i32)>,
    pub(crate) topics: BTreeMap<String, TopicView>,
}

impl View {
    pub(crate) fn topic(&self, name: &str) -> &TopicView {
        self.topics
            .get(name)
            .unwrap_or_else(|| panic!("no topic {name} in {self:#?}"))
    }

    pub(crate) fn broker_addr(&self, id: i32) -> String {
        let b = self.brokers.iter().find(|b| b.0 == id).expect("a listed broker");
        format!("{}:{}", b.1, b.2)
    }
}

pub(crate) fn metadata(addr: &str) -> Result<MetadataResponse, String> {
    let body = MetadataRequest {
        topics: None,
        allow_auto_topic_creation: false,
        ..Default::default()
    };
    match call(addr, 12, body.into()).map_err(|e| format!("{addr}: {e}"))? {
        ResponseBody::Metadata(m) => Ok(m),
        other => Err(format!("{other:?}")),
    }
}

pub(crate) fn view(addr: &str) -> Result<View, String> {
    let m = metadata(addr)?;
    let mut brokers: Vec<(i32, String, i32)> = m.brokers.into_iter().map(|b| (b.node_id, b.host, b.port)).collect();
    brokers.sort();
    let topics = m
        .topics
        .into_iter()
        .map(|t| {
            let mut partitions: Vec<(i32, Part)> = t
                .partitions
                .into_iter()
                .map(|p| {
                    (
                        p.partition_index,
                        Part {
                            error: p.error_code,
                            leader: p.leader_id,
                            epoch: p.leader_epoch,
                            replicas: p.replica_nodes,
                            isr: p.isr_nodes,
                            offline: p.offline_replicas,
                        },
                    )
                })
                .collect();
            partitions.sort_by_key(|p| p.0);
            (
                t.name.unwrap_or_default(),
                TopicView {
                    id: t.topic_id.0,
                    partitions: partitions.into_iter().map(|p| p.1).collect(),
                },
            )
        })
        .collect();
    Ok(View { brokers, topics })
}

/// CreateTopics v7 of one topic through `addr`: the topic's error code, or the I/O error.
pub(crate) fn create_topic(addr: &str, name: &str, partitions: i32, replication_factor: i16) -> std::io::Result<i16> {
    let body = CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: name.into(),
            num_partitions: partitions,
            replication_factor,
            ..Default::default()
        }],
        timeout_ms: 15_000,
        validate_only: false,
        ..Default::default()
    };
    match call(addr, 7, body.into())? {
        ResponseBody::CreateTopics(r) => Ok(r.topics[0].error_code),
        other => panic!("{other:?}"),
    }
}

#[track_caller]
pub(crate) fn create_ok(addr: &str, name: &str, partitions: i32, replication_factor: i16) {
    let code = create_topic(addr, name, partitions, replication_factor).unwrap();
    assert_eq!(
        code,
        0,
        "creating {name} through {addr}: {:?}",
        ErrorCode::from_code(code)
    );
}

/// Produce v9 (acks=1) of one record to `topic`/`partition` through `addr`: the partition's error code.
pub(crate) fn produce_one(addr: &str, topic: &str, partition: i32) -> i16 {
    let mut batch = BatchBuilder::new(Compression::None, 1_700_000_000_000);
    batch.push(Record {
        value: Some("direct".into()),
        ..Record::default()
    });
    let body = ProduceRequest {
        acks: 1,
        timeout_ms: 5000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: vec![PartitionProduceData {
                index: partition,
                records: Some(Records::Inline(batch.build().unwrap())),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    match call(addr, 9, body.into()).unwrap() {
        ResponseBody::Produce(r) => r.responses[0].partition_responses[0].error_code,
        other => panic!("{other:?}"),
    }
}

/// The partitions each broker leads.
pub(crate) fn leaders(t: &TopicView) -> BTreeMap<i32, Vec<usize>> {
    let mut out: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
    for (i, p) in t.partitions.iter().enumerate() {
        out.entry(p.leader).or_default().push(i);
    }
    out
}
