//! Leader→follower replication across three `kzero-server` processes (the harness of `cluster_support.rs`):
//! acknowledged writes survive `kill -9` of the leader and the replicas end byte-identical; a paused and
//! replaced leader cannot acknowledge a write and truncates its divergent tail when it rejoins; a dead
//! follower leaves the ISR (so acks=all completes without it, and `min.insync.replicas` refuses acks=all
//! when too few are left) and catches up when it comes back; followers' fetches go out with sendfile and
//! consumers never read above the high watermark.
//!
//! The clusters set `replica_lag_time_max_ms` low (3 s) so that a dead follower leaves the ISR quickly; the
//! harness's broker session timeout is 3 s too. Each test starts its own cluster, one at a time; a failing
//! test prints every node's log. Measured times are printed with `eprintln!`
//! (`cargo test -p server --test it -- replication:: --nocapture`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use protocol::record::{BatchBuilder, Batches, Compression, Record};
use protocol::{
    ApiKey, ApiVersionsRequest, CreatableTopic, CreatableTopicConfig, CreateTopicsRequest, ErrorCode, FetchPartition,
    FetchRequest, FetchTopic, ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic, PartitionProduceData,
    ProduceRequest, Records, Request, RequestBody, RequestHeader, Response, ResponseBody, TopicProduceData,
};

use crate::cluster_support::{call, view, wait_until, Cluster, Options, Part, View, SESSION_TIMEOUT_MS};
use crate::support::python;

/// `replica_lag_time_max_ms` of most of these clusters: a follower that has not caught up for this long
/// leaves the ISR.
const LAG_MS: u64 = 3000;

/// Three nodes with metrics endpoints, `replica_lag_time_max_ms = lag_ms` and `extra` top-level config lines.
fn replicated_cluster(lag_ms: u64, extra: &str) -> Cluster {
    Cluster::start_with_options(Options {
        broker_config: format!("replica_lag_time_max_ms = {lag_ms}\n{extra}"),
        metrics: true,
        ..Options::default()
    })
}

/// CreateTopics v7 of an RF=3 topic with topic configs; asserts it succeeded.
#[track_caller]
fn create_replicated(addr: &str, name: &str, partitions: i32, configs: &[(&str, &str)]) {
    let body = CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: name.into(),
            num_partitions: partitions,
            replication_factor: 3,
            configs: configs
                .iter()
                .map(|(k, v)| CreatableTopicConfig {
                    name: (*k).into(),
                    value: Some((*v).into()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        timeout_ms: 15_000,
        validate_only: false,
        ..Default::default()
    };
    match call(addr, 7, body.into()).unwrap() {
        ResponseBody::CreateTopics(r) => assert_eq!(
            r.topics[0].error_code,
            0,
            "creating {name} (RF 3, {configs:?}): {:?} {:?}",
            ErrorCode::from_code(r.topics[0].error_code),
            r.topics[0].error_message
        ),
        other => panic!("{other:?}"),
    }
}

/// Waits until every running node shows the same view, in which every partition of `topics` has a leader
/// and all three replicas in its ISR.
#[track_caller]
fn wait_replicated(c: &Cluster, topics: &[&str]) -> View {
    let running: Vec<usize> = (0..c.nodes.len()).filter(|i| c.nodes[*i].child.is_some()).collect();
    wait_until(
        &format!("the nodes {running:?} agree that {topics:?} have three in-sync replicas"),
        Duration::from_secs(20),
        || {
            let views = running
                .iter()
                .map(|i| view(c.addr(*i)))
                .collect::<Result<Vec<_>, _>>()?;
            if !views.windows(2).all(|w| w[0] == w[1]) {
                return Err(format!("the nodes disagree: {views:#?}"));
            }
            let v = views.into_iter().next().unwrap();
            for t in topics {
                let Some(tv) = v.topics.get(*t) else {
                    return Err(format!("no {t} yet"));
                };
                if tv.partitions.iter().any(|p| p.leader < 0 || p.isr.len() != 3) {
                    return Err(format!("{t}: {:?}", tv.partitions));
                }
                // Metadata answers from the metadata image; each leader serves its partition once its
                // partitions have taken that image too (a moment later).
                for (i, part) in tv.partitions.iter().enumerate() {
                    let body = ListOffsetsRequest {
                        replica_id: -1,
                        topics: vec![ListOffsetsTopic {
                            name: (*t).into(),
                            partitions: vec![ListOffsetsPartition {
                                partition_index: i as i32,
                                timestamp: -1,
                                ..Default::default()
                            }],
                            ..Default::default()
                        }],
                        ..Default::default()
                    };
                    match call(&v.broker_addr(part.leader), 5, body.into()).map_err(|e| e.to_string())? {
                        ResponseBody::ListOffsets(r) if r.topics[0].partitions[0].error_code == 0 => {}
                        other => return Err(format!("{t}-{i} not served by its leader yet: {other:?}")),
                    }
                }
            }
            Ok(v)
        },
    )
}

/// Waits until node `via` shows partition `p` of `topic` satisfying `ok`; returns it.
#[track_caller]
fn wait_part(
    c: &Cluster,
    via: usize,
    topic: &str,
    p: usize,
    timeout: Duration,
    what: &str,
    ok: impl Fn(&Part) -> bool,
) -> Part {
    wait_until(&format!("{topic}-{p} as node {via} shows it: {what}"), timeout, || {
        let v = view(c.addr(via))?;
        let part = v
            .topics
            .get(topic)
            .and_then(|t| t.partitions.get(p))
            .ok_or_else(|| format!("no {topic}-{p}"))?
            .clone();
        if ok(&part) {
            Ok(part)
        } else {
            Err(format!("{part:?}"))
        }
    })
}

/// A partition of `topic` whose leader is not `controller` (the active controller), and that partition.
#[track_caller]
fn not_led_by(v: &View, topic: &str, controller: i32) -> (usize, Part) {
    let t = v.topic(topic);
    let p = t
        .partitions
        .iter()
        .position(|p| p.leader != controller)
        .unwrap_or_else(|| panic!("every partition of {topic} is led by the controller {controller}: {t:?}"));
    (p, t.partitions[p].clone())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// One uncompressed batch of `values`.
fn batch_of<V: AsRef<[u8]>>(values: &[V]) -> Bytes {
    let mut b = BatchBuilder::new(Compression::None, now_ms());
    for v in values {
        b.push(Record {
            value: Some(Bytes::copy_from_slice(v.as_ref())),
            ..Record::default()
        });
    }
    b.build().unwrap()
}

/// A Produce request (v9) of one batch to `topic`/`partition`.
fn produce_request(topic: &str, partition: i32, acks: i16, timeout_ms: i32, batch: Bytes) -> RequestBody {
    ProduceRequest {
        acks,
        timeout_ms,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: vec![PartitionProduceData {
                index: partition,
                records: Some(Records::Inline(batch)),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
    .into()
}

/// The partition's error code and base offset in a Produce response.
fn produce_outcome(body: ResponseBody) -> (i16, i64) {
    match body {
        ResponseBody::Produce(r) => {
            let p = &r.responses[0].partition_responses[0];
            (p.error_code, p.base_offset)
        }
        other => panic!("not a produce response: {other:?}"),
    }
}

/// Produces `values` as one batch through `addr` on a fresh connection: (error code, base offset).
fn produce(addr: &str, topic: &str, partition: usize, acks: i16, timeout_ms: i32, values: &[String]) -> (i16, i64) {
    let body = produce_request(topic, partition as i32, acks, timeout_ms, batch_of(values));
    produce_outcome(call(addr, 9, body).unwrap_or_else(|e| panic!("produce to {addr}: {e}")))
}

/// Produces `values` with acks=all (timeout 10 s) to the partition's leader as node `via` names it,
/// retrying (for at most 15 s) only on the errors that say nothing was written (NOT_LEADER_OR_FOLLOWER,
/// UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE: a leader that has not applied its election yet);
/// asserts it was acknowledged and returns the base offset.
#[track_caller]
fn produce_acked(c: &Cluster, via: usize, topic: &str, partition: usize, values: &[String]) -> i64 {
    let retriable = [
        ErrorCode::NotLeaderOrFollower.code(),
        ErrorCode::UnknownTopicOrPartition.code(),
        ErrorCode::LeaderNotAvailable.code(),
    ];
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let v = view(c.addr(via)).unwrap();
        let leader = v.topic(topic).partitions[partition].leader;
        let (code, base) = if leader >= 0 {
            produce(&v.broker_addr(leader), topic, partition, -1, 10_000, values)
        } else {
            (ErrorCode::LeaderNotAvailable.code(), -1)
        };
        if code == 0 {
            return base;
        }
        assert!(
            retriable.contains(&code) && Instant::now() < deadline,
            "acks=all produce of {} records to {topic}-{partition} (leader {leader}): {:?}",
            values.len(),
            ErrorCode::from_code(code)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One consumer Fetch (v12, replica id -1) of a partition.
struct Fetched {
    error: i16,
    high_watermark: i64,
    /// (offset, value) of every record at or after the fetch offset.
    records: Vec<(i64, Option<Bytes>)>,
}

fn fetch(addr: &str, topic: &str, partition: usize, offset: i64, max_wait_ms: i32) -> std::io::Result<Fetched> {
    let body = FetchRequest {
        replica_id: -1,
        max_wait_ms,
        min_bytes: 1,
        max_bytes: 4 << 20,
        isolation_level: 0,
        topics: vec![FetchTopic {
            topic: topic.into(),
            partitions: vec![FetchPartition {
                partition: partition as i32,
                fetch_offset: offset,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let ResponseBody::Fetch(f) = call(addr, 12, body.into())? else {
        return Err(std::io::Error::other("not a fetch response"));
    };
    let p = &f.responses[0].partitions[0];
    let mut records = Vec::new();
    if let Some(Records::Inline(bytes)) = &p.records {
        for batch in Batches::new(bytes) {
            let batch = batch.map_err(|e| std::io::Error::other(format!("{e:?}")))?;
            let header = batch.header();
            if header.is_control() {
                continue;
            }
            for r in batch.records().map_err(|e| std::io::Error::other(format!("{e:?}")))? {
                let r = r.map_err(|e| std::io::Error::other(format!("{e:?}")))?;
                let at = header.base_offset() + i64::from(r.offset_delta);
                if at >= offset {
                    records.push((at, r.value));
                }
            }
        }
    }
    Ok(Fetched {
        error: p.error_code,
        high_watermark: p.high_watermark,
        records,
    })
}

/// Every record of the partition a consumer can read from `addr` (its leader), from offset 0 to the high
/// watermark; asserts that no response carries a record at or above the high watermark it reports.
#[track_caller]
fn read_all(addr: &str, topic: &str, partition: usize) -> (i64, Vec<(i64, Option<Bytes>)>) {
    let mut out: Vec<(i64, Option<Bytes>)> = Vec::new();
    let mut offset = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            Instant::now() < deadline,
            "reading {topic}-{partition} from {addr} took over 30 s"
        );
        let f = fetch(addr, topic, partition, offset, 100).unwrap_or_else(|e| panic!("fetch from {addr}: {e}"));
        assert_eq!(
            f.error,
            0,
            "fetch of {topic}-{partition} at {offset} from {addr}: {:?}",
            ErrorCode::from_code(f.error)
        );
        if let Some((at, _)) = f.records.iter().find(|(at, _)| *at >= f.high_watermark) {
            panic!(
                "a consumer fetch returned offset {at}, at or above the high watermark {} of the same response",
                f.high_watermark
            );
        }
        if f.records.is_empty() {
            if offset >= f.high_watermark {
                return (f.high_watermark, out);
            }
            continue;
        }
        for (at, value) in f.records {
            assert!(
                out.last().is_none_or(|(last, _)| at > *last),
                "offsets go back: {at} after {:?}",
                out.last().map(|l| l.0)
            );
            offset = at + 1;
            out.push((at, value));
        }
    }
}

/// The address of the partition's leader as node `via` shows it now (leaderships can move while a test
/// waits, e.g. back to a preferred replica).
#[track_caller]
fn leader_addr(c: &Cluster, via: usize, topic: &str, partition: usize) -> String {
    let v = view(c.addr(via)).unwrap();
    let leader = v.topic(topic).partitions[partition].leader;
    assert!(leader >= 0, "{topic}-{partition} has no leader: {v:?}");
    v.broker_addr(leader)
}

/// Asserts that every acknowledged (value, offset) is in `records` at that offset, and that no
/// acknowledged value appears at any other offset.
#[track_caller]
fn assert_acknowledged(records: &[(i64, Option<Bytes>)], acked: &[(String, i64)], what: &str) {
    let at: BTreeMap<i64, &[u8]> = records.iter().map(|(o, v)| (*o, v.as_deref().unwrap_or(b""))).collect();
    let mut where_is: BTreeMap<&[u8], Vec<i64>> = BTreeMap::new();
    for (o, v) in records {
        where_is.entry(v.as_deref().unwrap_or(b"")).or_default().push(*o);
    }
    let mut missing = Vec::new();
    let mut twice = Vec::new();
    for (value, offset) in acked {
        if at.get(offset).copied() != Some(value.as_bytes()) {
            missing.push(format!(
                "{value}@{offset} (found {:?} there; {value} is at {:?})",
                at.get(offset).map(|v| String::from_utf8_lossy(v).into_owned()),
                where_is.get(value.as_bytes())
            ));
        }
        if where_is.get(value.as_bytes()).is_some_and(|o| o.len() > 1) {
            twice.push(format!("{value} at {:?}", where_is[value.as_bytes()]));
        }
    }
    assert!(
        missing.is_empty(),
        "{what}: {} of {} acknowledged records are not at their acknowledged offset, e.g. {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(10)]
    );
    assert!(
        twice.is_empty(),
        "{what}: acknowledged values appear more than once: {:?}",
        &twice[..twice.len().min(10)]
    );
}

/// The `.log` segment files of a partition on node `node`: name -> bytes.
fn log_files(c: &Cluster, node: usize, topic: &str, partition: usize) -> BTreeMap<String, Vec<u8>> {
    let dir = c.nodes[node].data.join(format!("{topic}-{partition}"));
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return out;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".log") {
            if let Ok(bytes) = std::fs::read(e.path()) {
                out.insert(name, bytes);
            }
        }
    }
    out
}

/// Waits until the three replicas' `.log` files of the partition have the same names and the same bytes;
/// returns their total size.
#[track_caller]
fn wait_identical_logs(c: &Cluster, topic: &str, partition: usize, timeout: Duration) -> usize {
    wait_until(
        &format!("the three replicas of {topic}-{partition} have byte-identical .log files"),
        timeout,
        || {
            let files: Vec<BTreeMap<String, Vec<u8>>> = (0..3).map(|n| log_files(c, n, topic, partition)).collect();
            let describe = |f: &BTreeMap<String, Vec<u8>>| -> Vec<(String, usize)> {
                f.iter().map(|(n, b)| (n.clone(), b.len())).collect()
            };
            if files[0].is_empty() {
                return Err("node 0 has no .log file".into());
            }
            if files.windows(2).all(|w| w[0] == w[1]) {
                Ok(files[0].values().map(Vec::len).sum())
            } else {
                let first_difference = |a: &[u8], b: &[u8]| a.iter().zip(b).position(|(x, y)| x != y);
                let mut detail = Vec::new();
                for n in 1..3 {
                    for (name, bytes) in &files[n] {
                        if let Some(other) = files[0].get(name) {
                            if other != bytes {
                                detail.push(format!(
                                    "node {n} {name}: {} bytes vs {} on node 0, first difference at byte {:?}",
                                    bytes.len(),
                                    other.len(),
                                    first_difference(bytes, other)
                                ));
                            }
                        }
                    }
                }
                Err(format!(
                    "files (name, size) per node: {:?}; {detail:?}",
                    files.iter().map(describe).collect::<Vec<_>>()
                ))
            }
        },
    )
}

/// A connection kept open across requests (the zombie test sends on it while the broker is stopped).
struct Conn {
    s: TcpStream,
    correlation: i32,
}

impl Conn {
    fn connect(addr: &str) -> Conn {
        let s = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Conn { s, correlation: 0 }
    }

    fn send(&mut self, version: i16, body: RequestBody) -> std::io::Result<i32> {
        self.correlation += 1;
        let mut out = BytesMut::new();
        let header = RequestHeader::new(body.api_key(), version, self.correlation);
        Request { header, body }
            .encode(&mut out)
            .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        self.s.write_all(&out)?;
        Ok(self.correlation)
    }

    fn recv(&mut self, api: ApiKey, version: i16) -> std::io::Result<ResponseBody> {
        let expected = self.correlation;
        self.recv_for(expected, api, version)
    }

    /// Reads the next response, which must answer request `id` (pipelined requests are answered in order).
    fn recv_for(&mut self, id: i32, api: ApiKey, version: i16) -> std::io::Result<ResponseBody> {
        let mut size = [0u8; 4];
        self.s.read_exact(&mut size)?;
        let mut frame = vec![0u8; i32::from_be_bytes(size) as usize];
        self.s.read_exact(&mut frame)?;
        let r =
            Response::decode(api, version, Bytes::from(frame)).map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        assert_eq!(r.header.correlation_id, id);
        Ok(r.body)
    }
}

/// A child process killed (and reaped) when dropped: the Python producer of a failed test.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A metric on node `node`, polled until `ok` holds for its value (`None`: no such series).
#[track_caller]
fn wait_metric(
    c: &Cluster,
    node: usize,
    name: &str,
    labels: &[(&str, &str)],
    timeout: Duration,
    ok: impl Fn(Option<f64>) -> bool,
) -> Option<f64> {
    wait_until(&format!("{name}{labels:?} on node {node}"), timeout, || {
        let v = c.nodes[node].metric(name, labels)?;
        if ok(v) {
            Ok(v)
        } else {
            Err(format!("{v:?}"))
        }
    })
}

#[test]
fn acknowledged_records_survive_kill_9_of_the_leader_and_the_replicas_end_byte_identical() {
    // confluent-kafka produces 3,000 numbered values (acks=all, idempotent) to a partition of an RF=3
    // topic with min.insync.replicas=2; after 1,000 acknowledgements its leader (not the active
    // controller, so the quorum keeps its leader) is killed with SIGKILL while the producer goes on.
    // Every acknowledged value must be read back at its acknowledged offset, once. The killed broker
    // then comes back, rejoins the ISR, and its copy of the partition becomes byte-identical.
    let Some(py) = python() else { return };
    let test_started = Instant::now();
    let mut c = replicated_cluster(LAG_MS, "");
    create_replicated(c.addr(0), "acked", 3, &[("min.insync.replicas", "2")]);
    let v = wait_replicated(&c, &["acked"]);
    let controller = c.controller(0).unwrap();
    let (p, before) = not_led_by(&v, "acked", controller);
    let leader = before.leader as usize;
    let survivor = controller as usize;
    eprintln!(
        "acked-{p}: leader {leader} at epoch {}, active controller {controller}",
        before.epoch
    );

    let acks_file = c.dir().join("acked.txt");
    let producer_stderr_file = std::fs::File::create(c.dir().join("producer.log")).unwrap();
    let bootstrap = (0..3).map(|i| c.addr(i)).collect::<Vec<_>>().join(",");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/interop.py");
    let mut child = KillOnDrop(
        Command::new(&py)
            .arg(&script)
            .arg(&bootstrap)
            .arg("replicated_produce")
            .args(["acked", &p.to_string(), "3000", "1000"])
            .arg(&acks_file)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(producer_stderr_file))
            .spawn()
            .unwrap(),
    );
    let (tx, lines) = mpsc::channel();
    let stdout = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let producer_log = c.dir().join("producer.log");
    let producer_stderr = || std::fs::read_to_string(&producer_log).unwrap_or_default();
    let mut out = Vec::new();
    loop {
        match lines.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => {
                let signal = line.starts_with("SIGNAL");
                out.push(line);
                if signal {
                    break;
                }
            }
            Err(e) => panic!(
                "the producer gave no SIGNAL ({e}); stdout {out:?}, stderr:\n{}",
                producer_stderr()
            ),
        }
    }
    let killed = Instant::now();
    c.nodes[leader].kill();
    eprintln!(
        "killed leader {leader} of acked-{p} after the producer's {:?}",
        out.last()
    );
    loop {
        match lines.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => out.push(line),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                "the producer did not finish within 120 s of the kill; stdout {out:?}, stderr:\n{}",
                producer_stderr()
            ),
        }
    }
    let status = child.0.wait().unwrap();
    assert!(
        status.success() && out.iter().any(|l| l == "OK replicated_produce"),
        "the producer failed ({status}): stdout {out:?}, stderr:\n{}",
        producer_stderr()
    );
    eprintln!(
        "producer done {} ms after the kill: {}",
        killed.elapsed().as_millis(),
        out.iter().rev().nth(1).map_or("", String::as_str)
    );
    let mut acked: Vec<(String, i64)> = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    for line in std::fs::read_to_string(&acks_file).unwrap().lines() {
        let mut f = line.splitn(3, ' ');
        match (f.next(), f.next(), f.next()) {
            (Some("ACK"), Some(value), Some(offset)) => acked.push((value.to_string(), offset.parse().unwrap())),
            (Some("ERR"), Some(value), Some(error)) => failed.push(format!("{value}: {error}")),
            _ => panic!("a bad line in the producer's report: {line:?}"),
        }
    }
    eprintln!(
        "{} acknowledged, {} failed deliveries (e.g. {:?})",
        acked.len(),
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    assert!(
        acked.len() > 1000,
        "nothing was acknowledged after the leader was killed: {} acknowledged",
        acked.len()
    );

    // A survivor leads now, at a higher epoch.
    let now = wait_part(
        &c,
        survivor,
        "acked",
        p,
        Duration::from_secs(10),
        "a surviving leader at a higher epoch",
        |q| q.leader >= 0 && q.leader != leader as i32 && q.epoch > before.epoch,
    );
    let new_leader = now.leader as usize;
    let (hw, records) = read_all(c.addr(new_leader), "acked", p);
    eprintln!(
        "acked-{p}: new leader {new_leader} at epoch {} (ISR {:?}), high watermark {hw}, {} records",
        now.epoch,
        now.isr,
        records.len()
    );
    assert_acknowledged(&records, &acked, "after kill -9 of the leader");
    let distinct: BTreeSet<&[u8]> = records.iter().map(|(_, v)| v.as_deref().unwrap_or(b"")).collect();
    if distinct.len() != records.len() {
        eprintln!(
            "note: {} records hold {} distinct values (an unacknowledged value written twice)",
            records.len(),
            distinct.len()
        );
    }

    // The killed broker comes back, truncates what it had beyond the new leader's log, catches up.
    let restarted = Instant::now();
    c.nodes[leader].start();
    c.wait_serving(leader, Duration::from_secs(30));
    let back = wait_part(
        &c,
        new_leader,
        "acked",
        p,
        Duration::from_secs(30),
        "the restarted broker back in the ISR",
        |q| q.isr.len() == 3,
    );
    let in_isr = restarted.elapsed();
    let bytes = wait_identical_logs(&c, "acked", p, Duration::from_secs(15));
    eprintln!(
        "restarted broker {leader}: in the ISR {:?} after {} ms, .log files byte-identical ({bytes} bytes) after {} ms",
        back.isr,
        in_isr.as_millis(),
        restarted.elapsed().as_millis()
    );
    let (_, again) = read_all(&leader_addr(&c, new_leader, "acked", p), "acked", p);
    assert_acknowledged(&again, &acked, "after the killed broker rejoined");
    eprintln!("kill -9 of a leader test: {} ms", test_started.elapsed().as_millis());
}

#[test]
fn a_paused_leader_replaced_by_another_cannot_acknowledge_and_truncates_its_divergent_tail() {
    // The leader of a partition (RF=3, min.insync.replicas=2; not the active controller) is paused with
    // SIGSTOP past its session timeout: another replica leads at a higher epoch and takes writes. A
    // produce (acks=all) sent to the paused broker on a connection it had already accepted is read by it
    // only after SIGCONT, when it still believes it leads: it must not be acknowledged. The old leader
    // then rejoins the ISR with exactly the new leader's log (its zombie append truncated away).
    let test_started = Instant::now();
    let c = replicated_cluster(LAG_MS, "");
    create_replicated(c.addr(0), "zombie", 3, &[("min.insync.replicas", "2")]);
    let v = wait_replicated(&c, &["zombie"]);
    let controller = c.controller(0).unwrap();
    let (p, before) = not_led_by(&v, "zombie", controller);
    let old = before.leader as usize;
    let survivor = controller as usize;

    let mut acked: Vec<(String, i64)> = Vec::new();
    for r in 0..5 {
        let values: Vec<String> = (0..10).map(|i| format!("before-{r}-{i}")).collect();
        // Through the leader `old`'s own view (it may apply the new topic a moment after the others).
        let base = produce_acked(&c, old, "zombie", p, &values);
        acked.extend(values.into_iter().enumerate().map(|(i, v)| (v, base + i as i64)));
    }
    // The connection for the zombie request, accepted and used while the broker runs.
    let mut zombie = Conn::connect(c.addr(old));
    zombie.send(0, ApiVersionsRequest::default().into()).unwrap();
    zombie.recv(ApiKey::ApiVersions, 0).unwrap();

    let stopped = Instant::now();
    c.nodes[old].signal("-STOP");
    let after = wait_part(
        &c,
        survivor,
        "zombie",
        p,
        Duration::from_millis(SESSION_TIMEOUT_MS + 10_000),
        "another leader at a higher epoch",
        |q| q.leader >= 0 && q.leader != old as i32 && q.epoch > before.epoch,
    );
    eprintln!(
        "paused leader {old} of zombie-{p} (epoch {}) replaced by {} at epoch {} (ISR {:?}) {} ms after SIGSTOP",
        before.epoch,
        after.leader,
        after.epoch,
        after.isr,
        stopped.elapsed().as_millis()
    );
    for r in 0..5 {
        let values: Vec<String> = (0..10).map(|i| format!("after-{r}-{i}")).collect();
        let base = produce_acked(&c, survivor, "zombie", p, &values);
        acked.extend(values.into_iter().enumerate().map(|(i, v)| (v, base + i as i64)));
    }

    // Sent while the broker is stopped: the kernel queues it, the broker reads it after SIGCONT.
    let zombie_values: Vec<String> = (0..10).map(|i| format!("zombie-{i}")).collect();
    zombie
        .send(
            9,
            produce_request("zombie", p as i32, -1, 5000, batch_of(&zombie_values)),
        )
        .unwrap();
    let resumed = Instant::now();
    c.nodes[old].signal("-CONT");
    match zombie.recv(ApiKey::Produce, 9) {
        Ok(body) => {
            let (code, base) = produce_outcome(body);
            assert_ne!(
                code, 0,
                "the replaced leader {old} acknowledged an acks=all write (base offset {base}) after SIGCONT"
            );
            eprintln!(
                "the zombie produce was refused with {:?} {} ms after SIGCONT",
                ErrorCode::from_code(code),
                resumed.elapsed().as_millis()
            );
        }
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
            panic!("the resumed broker {old} neither answered the produce nor closed the connection in 20 s")
        }
        Err(e) => eprintln!(
            "the zombie produce's connection was closed ({e}) {} ms after SIGCONT",
            resumed.elapsed().as_millis()
        ),
    }

    let back = wait_part(
        &c,
        survivor,
        "zombie",
        p,
        Duration::from_secs(30),
        "the old leader back in the ISR",
        |q| q.isr.len() == 3,
    );
    eprintln!(
        "old leader {old} back in the ISR {:?} {} ms after SIGCONT",
        back.isr,
        resumed.elapsed().as_millis()
    );
    let (hw, records) = read_all(&leader_addr(&c, survivor, "zombie", p), "zombie", p);
    assert_acknowledged(&records, &acked, "after the zombie leader rejoined");
    let zombies: Vec<i64> = records
        .iter()
        .filter(|(_, v)| v.as_deref().is_some_and(|v| v.starts_with(b"zombie-")))
        .map(|(o, _)| *o)
        .collect();
    assert!(
        zombies.is_empty(),
        "the zombie write is in the leader's log at {zombies:?}"
    );
    assert_eq!(hw, 100, "exactly the 100 acknowledged records are committed");
    let bytes = wait_identical_logs(&c, "zombie", p, Duration::from_secs(15));
    eprintln!(
        "zombie-{p}: .log files byte-identical on all three ({bytes} bytes); zombie leader test: {} ms",
        test_started.elapsed().as_millis()
    );
}

#[test]
fn a_dead_follower_leaves_the_isr_min_isr_refuses_acks_all_and_the_follower_catches_up() {
    // The broker default `min_insync_replicas = 2` applies to `catchup`; `strict` overrides it with
    // min.insync.replicas=3. Losing two of three brokers would also lose the controller quorum (three
    // voters), and then no ISR change could be committed at all; so "too few in-sync replicas" is one
    // dead follower under min.insync.replicas=3 instead.
    let test_started = Instant::now();
    let mut c = replicated_cluster(LAG_MS, "min_insync_replicas = 2");
    create_replicated(c.addr(0), "catchup", 3, &[]);
    create_replicated(c.addr(0), "strict", 3, &[("min.insync.replicas", "3")]);
    let v = wait_replicated(&c, &["catchup", "strict"]);
    let controller = c.controller(0).unwrap();
    let victim = (0..3).find(|b| *b != controller).unwrap();
    let follows = |topic: &str| -> (usize, i32) {
        let t = v.topic(topic);
        let p = t.partitions.iter().position(|p| p.leader != victim).unwrap();
        (p, t.partitions[p].leader)
    };
    let (p, p_leader) = follows("catchup");
    let (q, q_leader) = follows("strict");
    let survivor = controller as usize;
    for n in 0..3 {
        wait_metric(
            &c,
            n,
            "kzero_under_replicated_partitions",
            &[],
            Duration::from_secs(10),
            |v| v == Some(0.0),
        );
        wait_metric(
            &c,
            n,
            "kzero_under_min_isr_partitions",
            &[],
            Duration::from_secs(10),
            |v| v == Some(0.0),
        );
    }

    let killed = Instant::now();
    c.nodes[victim as usize].kill();
    // acks=all with a 10 s timeout: the first write waits until the dead follower leaves the ISR.
    let mut acked = Vec::new();
    let mut first_ack = None;
    for r in 0..10 {
        let values: Vec<String> = (0..50).map(|i| format!("catchup-{r}-{i}")).collect();
        let (code, base) = produce(c.addr(p_leader as usize), "catchup", p, -1, 10_000, &values);
        assert_eq!(
            code,
            0,
            "acks=all to catchup-{p} with follower {victim} dead: {:?} after {} ms",
            ErrorCode::from_code(code),
            killed.elapsed().as_millis()
        );
        first_ack.get_or_insert(killed.elapsed());
        acked.extend(values.into_iter().enumerate().map(|(i, v)| (v, base + i as i64)));
    }
    eprintln!(
        "follower {victim} killed: the first acks=all write to catchup-{p} acknowledged after {} ms, 500 after {} ms",
        first_ack.unwrap().as_millis(),
        killed.elapsed().as_millis()
    );
    let shrunk = wait_part(
        &c,
        survivor,
        "strict",
        q,
        Duration::from_millis(LAG_MS + SESSION_TIMEOUT_MS + 10_000),
        "the dead follower out of the ISR",
        |s| s.isr.len() == 2 && !s.isr.contains(&victim),
    );
    eprintln!(
        "strict-{q}: ISR {:?} {} ms after the kill",
        shrunk.isr,
        killed.elapsed().as_millis()
    );
    let under = wait_metric(
        &c,
        q_leader as usize,
        "kzero_under_min_isr_partitions",
        &[],
        Duration::from_secs(10),
        |v| v.is_some_and(|v| v >= 1.0),
    );
    let replicated = wait_metric(
        &c,
        p_leader as usize,
        "kzero_under_replicated_partitions",
        &[],
        Duration::from_secs(10),
        |v| v.is_some_and(|v| v >= 1.0),
    );
    eprintln!(
        "with {victim} dead: kzero_under_min_isr_partitions {under:?} on {q_leader}, \
         kzero_under_replicated_partitions {replicated:?} on {p_leader}"
    );

    // ISR 2 < min.insync.replicas 3: acks=all is refused before the append, acks=1 is taken.
    let (code, _) = produce(c.addr(q_leader as usize), "strict", q, -1, 5000, &["refused".into()]);
    assert_eq!(
        code,
        ErrorCode::NotEnoughReplicas.code(),
        "acks=all with ISR {:?} under min.insync.replicas=3: {:?}",
        shrunk.isr,
        ErrorCode::from_code(code)
    );
    let (code, one_base) = produce(c.addr(q_leader as usize), "strict", q, 1, 5000, &["acks-1".into()]);
    assert_eq!(
        code,
        0,
        "acks=1 ignores min.insync.replicas: {:?}",
        ErrorCode::from_code(code)
    );

    // The follower comes back and catches up; the ISR grows back to three.
    let restarted = Instant::now();
    c.nodes[victim as usize].start();
    c.wait_serving(victim as usize, Duration::from_secs(30));
    for (topic, part) in [("catchup", p), ("strict", q)] {
        wait_part(
            &c,
            survivor,
            topic,
            part,
            Duration::from_secs(30),
            "the restarted follower back in the ISR",
            |s| s.isr.len() == 3,
        );
    }
    eprintln!(
        "restarted follower {victim} back in both ISRs {} ms after its restart",
        restarted.elapsed().as_millis()
    );
    let after_base = produce_acked(&c, survivor, "strict", q, &["after".into()]);
    let (_, strict) = read_all(&leader_addr(&c, survivor, "strict", q), "strict", q);
    let values: Vec<(i64, &[u8])> = strict.iter().map(|(o, v)| (*o, v.as_deref().unwrap_or(b""))).collect();
    assert_eq!(
        values,
        vec![(one_base, &b"acks-1"[..]), (after_base, &b"after"[..])],
        "strict-{q}: the refused write is not there, the acks=1 and the later acks=all ones are"
    );
    let (_, catchup) = read_all(&leader_addr(&c, survivor, "catchup", p), "catchup", p);
    assert_acknowledged(&catchup, &acked, "catchup after the follower's return");
    let bytes = wait_identical_logs(&c, "catchup", p, Duration::from_secs(15));
    wait_identical_logs(&c, "strict", q, Duration::from_secs(15));
    for n in 0..3 {
        for gauge in ["kzero_under_replicated_partitions", "kzero_under_min_isr_partitions"] {
            wait_metric(&c, n, gauge, &[], Duration::from_secs(10), |v| v == Some(0.0));
        }
    }
    eprintln!(
        "catchup-{p} ({bytes} bytes) and strict-{q} byte-identical on all three; follower catch-up test: {} ms",
        test_started.elapsed().as_millis()
    );
}

#[test]
fn followers_fetch_with_sendfile_and_consumers_never_read_above_the_high_watermark() {
    // Part 1: about 8 MiB acknowledged with acks=all; the leader's sendfile counter grows by at least what
    // its two followers had to fetch, and `kzero_replica_lag` drops to 0 for both.
    // Part 2: one follower paused (SIGSTOP; it stays in the ISR for a while: replica_lag_time_max_ms is
    // 10 s here and the session timeout 3 s), acks=1 writes are in the leader's log but above the high
    // watermark: a consumer's fetch gets none of them, and the high watermark stays where it was until
    // the follower is resumed.
    let test_started = Instant::now();
    let c = replicated_cluster(10_000, "");
    create_replicated(c.addr(0), "bulk", 1, &[("min.insync.replicas", "2")]);
    let v = wait_replicated(&c, &["bulk"]);
    let controller = c.controller(0).unwrap();
    let part = v.topic("bulk").partitions[0].clone();
    let leader = part.leader as usize;
    let followers: Vec<i32> = part.replicas.iter().copied().filter(|r| *r != part.leader).collect();
    let sendfile = |n: usize| {
        c.nodes[n]
            .metric("kzero_bytes_sendfile_total", &[])
            .unwrap()
            .unwrap_or(0.0)
    };
    let sent_before = sendfile(leader);

    const BATCHES: usize = 64;
    const PER_BATCH: usize = 128;
    let payload = vec![b'r'; 1000];
    let mut batch_bytes = 0usize;
    let produced_at = Instant::now();
    for r in 0..BATCHES {
        let values: Vec<Vec<u8>> = (0..PER_BATCH)
            .map(|i| {
                let mut v = format!("{r:03}-{i:03}-").into_bytes();
                v.extend_from_slice(&payload);
                v
            })
            .collect();
        let batch = batch_of(&values);
        batch_bytes += batch.len();
        let body = produce_request("bulk", 0, -1, 10_000, batch);
        let (code, _) = produce_outcome(call(c.addr(leader), 9, body).unwrap());
        assert_eq!(code, 0, "acks=all batch {r}: {:?}", ErrorCode::from_code(code));
    }
    let produce_ms = produced_at.elapsed().as_millis();
    for f in &followers {
        wait_metric(
            &c,
            leader,
            "kzero_replica_lag",
            &[("topic", "bulk"), ("partition", "0"), ("replica", &f.to_string())],
            Duration::from_secs(20),
            |v| v == Some(0.0),
        );
    }
    let sent = sendfile(leader) - sent_before;
    eprintln!(
        "{batch_bytes} batch bytes acknowledged with acks=all in {produce_ms} ms ({:.1} MiB/s); the leader sent \
         {sent} bytes with sendfile meanwhile",
        batch_bytes as f64 / (1 << 20) as f64 / (produce_ms.max(1) as f64 / 1000.0)
    );
    assert!(
        sent >= 2.0 * batch_bytes as f64,
        "the leader's kzero_bytes_sendfile_total grew by {sent}, less than the {} bytes its two followers fetched",
        2 * batch_bytes
    );
    wait_identical_logs(&c, "bulk", 0, Duration::from_secs(15));

    // Part 2.
    let hw0 = (BATCHES * PER_BATCH) as i64;
    let f = fetch(c.addr(leader), "bulk", 0, hw0, 0).unwrap();
    assert_eq!(
        (f.error, f.high_watermark),
        (0, hw0),
        "every acknowledged record is committed"
    );
    let paused = *followers
        .iter()
        .find(|f| **f != controller)
        .expect("a follower that is not the active controller") as usize;
    let stopped = Instant::now();
    c.nodes[paused].signal("-STOP");
    let mut leo = hw0;
    for r in 0..10 {
        let values: Vec<String> = (0..10).map(|i| format!("uncommitted-{r}-{i}")).collect();
        let (code, base) = produce(c.addr(leader), "bulk", 0, 1, 5000, &values);
        assert_eq!(
            code,
            0,
            "acks=1 with a follower paused: {:?}",
            ErrorCode::from_code(code)
        );
        assert_eq!(base, leo);
        leo += 10;
    }
    // An acks=all produce waiting for the paused follower does not hold up its connection: a request
    // pipelined behind it is handled meanwhile (its record is in the log while the first still waits), and
    // the answers come back in request order once the follower is back.
    let mut pipe = Conn::connect(c.addr(leader));
    let waiting_id = pipe
        .send(9, produce_request("bulk", 0, -1, 30_000, batch_of(&["waiting"])))
        .unwrap();
    let behind_id = pipe
        .send(9, produce_request("bulk", 0, 1, 5_000, batch_of(&["behind"])))
        .unwrap();
    let (waiting_at, behind_at) = (leo, leo + 1);
    leo += 2;
    wait_until(
        "the acks=1 produce pipelined behind a waiting acks=all one is appended",
        Duration::from_secs(5),
        || {
            let body = ListOffsetsRequest {
                // A debugging replica id: the log end, not the high watermark.
                replica_id: -2,
                topics: vec![ListOffsetsTopic {
                    name: "bulk".into(),
                    partitions: vec![ListOffsetsPartition {
                        partition_index: 0,
                        timestamp: -1,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            };
            match call(c.addr(leader), 5, body.into()).map_err(|e| e.to_string())? {
                ResponseBody::ListOffsets(r) if r.topics[0].partitions[0].offset == leo => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    );
    // Within 1.5 s of SIGSTOP the paused follower is still in the ISR (fencing takes the 3 s session
    // timeout, an ISR shrink 10 s), so the high watermark cannot have moved.
    let mut checks = 0;
    while stopped.elapsed() < Duration::from_millis(1500) {
        for from in [hw0 - 5, hw0] {
            let f = fetch(c.addr(leader), "bulk", 0, from, 0).unwrap();
            assert_eq!(f.error, 0, "{:?}", ErrorCode::from_code(f.error));
            assert_eq!(
                f.high_watermark,
                hw0,
                "the high watermark moved {} ms after follower {paused} was paused (LEO {leo})",
                stopped.elapsed().as_millis()
            );
            let above: Vec<i64> = f
                .records
                .iter()
                .map(|(o, _)| *o)
                .filter(|o| *o >= f.high_watermark)
                .collect();
            assert!(
                above.is_empty(),
                "a consumer fetch from {from} returned offsets {above:?} at or above the high watermark {}",
                f.high_watermark
            );
        }
        // A consumer's ListOffsets LATEST (READ_UNCOMMITTED) is the high watermark, not the log end.
        let body = ListOffsetsRequest {
            replica_id: -1,
            isolation_level: 0,
            topics: vec![ListOffsetsTopic {
                name: "bulk".into(),
                partitions: vec![ListOffsetsPartition {
                    partition_index: 0,
                    timestamp: -1,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        match call(c.addr(leader), 5, body.into()).unwrap() {
            ResponseBody::ListOffsets(r) => {
                let p = &r.topics[0].partitions[0];
                assert_eq!(
                    (p.error_code, p.offset),
                    (0, hw0),
                    "a consumer's ListOffsets LATEST with uncommitted records above the high watermark"
                );
            }
            other => panic!("{other:?}"),
        }
        checks += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(checks > 0, "no check ran within 1.5 s of SIGSTOP");
    eprintln!(
        "follower {paused} paused: {checks} rounds of consumer fetches in {} ms saw the high watermark stay at \
         {hw0} below the LEO {leo}",
        stopped.elapsed().as_millis()
    );
    let resumed = Instant::now();
    c.nodes[paused].signal("-CONT");
    wait_until(
        "the high watermark reaches the LEO after SIGCONT",
        Duration::from_secs(20),
        || {
            let f = fetch(c.addr(leader), "bulk", 0, leo, 0).map_err(|e| e.to_string())?;
            if f.high_watermark == leo {
                Ok(())
            } else {
                Err(format!("high watermark {} (error {})", f.high_watermark, f.error))
            }
        },
    );
    eprintln!(
        "the high watermark reached the LEO {leo} {} ms after SIGCONT",
        resumed.elapsed().as_millis()
    );
    let waited = produce_outcome(pipe.recv_for(waiting_id, ApiKey::Produce, 9).unwrap());
    let behind = produce_outcome(pipe.recv_for(behind_id, ApiKey::Produce, 9).unwrap());
    assert_eq!(
        (waited, behind),
        ((0, waiting_at), (0, behind_at)),
        "the pipelined answers, in order"
    );
    let (hw, records) = read_all(c.addr(leader), "bulk", 0);
    assert_eq!((hw, records.len() as i64), (leo, leo));
    wait_identical_logs(&c, "bulk", 0, Duration::from_secs(15));
    eprintln!(
        "sendfile and high watermark test: {} ms",
        test_started.elapsed().as_millis()
    );
}

/// A secured cluster (`[sasl]` with the inter-broker user `admin`, the authorizer on): the controller
/// listener admits only nodes that know the inter-broker secret (the cluster forms), followers fetch over
/// SASL_PLAINTEXT authenticated as `admin` (the replicas stay in the ISR past `replica_lag_time_max_ms` and
/// end byte-identical, before and after `kill -9` of the leader), while an anonymous PLAINTEXT client is
/// refused and a wrong password is refused on the SASL listener.
#[test]
fn a_secured_cluster_replicates_over_authenticated_connections() {
    let Some(py) = python() else { return };
    let mut c = Cluster::start_with_options(Options {
        broker_config: format!("replica_lag_time_max_ms = {LAG_MS}"),
        sasl: true,
        ..Options::default()
    });
    let sasl: Vec<String> = c.nodes.iter().map(|n| n.sasl.clone().unwrap()).collect();
    let script = r#"
import sys, time
from confluent_kafka import Producer, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
bootstrap, phase = sys.argv[1], sys.argv[2]
conf = {"bootstrap.servers": bootstrap, "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "admin", "sasl.password": "admin-secret"}
admin = AdminClient(conf)
def isr():
    p = admin.list_topics("secured", timeout=10).topics["secured"].partitions[0]
    return p.leader, sorted(p.isrs)
if phase == "create":
    fs = admin.create_topics([NewTopic("secured", 1, 3, config={"min.insync.replicas": "2"})], operation_timeout=10)
    fs["secured"].result(timeout=15)
    deadline = time.time() + 15
    while isr()[0] < 0 and time.time() < deadline:
        time.sleep(0.1)
def produce(first, n):
    p = Producer(dict(conf, **{"acks": "all", "enable.idempotence": True}))
    errors = []
    for i in range(first, first + n):
        p.produce("secured", str(i).encode(), partition=0, callback=lambda e, m: e and errors.append(e))
    assert p.flush(30) == 0 and not errors, errors
if phase in ("create", "more"):
    produce(int(sys.argv[3]), int(sys.argv[4]))
    print("ISR", *isr(), flush=True)
if phase == "isr":
    print("ISR", *isr(), flush=True)
if phase == "consume":
    c = Consumer(dict(conf, **{"group.id": "secured-check", "enable.auto.commit": False}))
    c.assign([TopicPartition("secured", 0, 0)])
    got, deadline = [], time.time() + 30
    while len(got) < int(sys.argv[3]) and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got.append(int(m.value()))
    c.close()
    assert got == list(range(int(sys.argv[3]))), (len(got), got[:5], got[-5:])
print("OK", phase, flush=True)
"#;
    let run = |bootstrap: &str, args: &[&str]| -> String {
        let out = Command::new(&py)
            .arg("-c")
            .arg(script)
            .arg(bootstrap)
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success() && stdout.contains("OK"),
            "{args:?}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let isr_of = |out: &str| -> (usize, String) {
        let line = out.lines().find(|l| l.starts_with("ISR")).expect("an ISR line");
        let mut words = line.split_whitespace().skip(1);
        let leader: usize = words.next().unwrap().parse().unwrap();
        (leader, words.collect::<Vec<_>>().join(" "))
    };
    let all = sasl.join(",");
    let (leader, _) = isr_of(&run(&all, &["create", "0", "500"]));
    // Past replica_lag_time_max_ms the followers are still in the ISR: they keep fetching, authenticated.
    std::thread::sleep(Duration::from_millis(LAG_MS + 1000));
    assert_eq!(isr_of(&run(&all, &["isr"])).1, "[0, 1, 2]");
    let bytes = wait_identical_logs(&c, "secured", 0, Duration::from_secs(20));
    eprintln!("secured-0: {bytes} bytes identical on the three replicas, leader {leader}");

    // An anonymous PLAINTEXT client may not see the topic nor the ACLs.
    let ResponseBody::DescribeAcls(acls) = call(
        c.addr(0),
        1,
        protocol::DescribeAclsRequest {
            resource_type_filter: 1,
            pattern_type_filter: 1,
            operation: 1,
            permission_type: 1,
            ..Default::default()
        }
        .into(),
    )
    .unwrap() else {
        panic!("no DescribeAcls answer")
    };
    assert_eq!(acls.error_code, ErrorCode::ClusterAuthorizationFailed.code());
    assert!(!view(c.addr(0)).unwrap().topics.contains_key("secured"));

    // kill -9 of the leader: the others carry on over authenticated connections.
    c.nodes[leader].kill();
    let survivors: Vec<String> = (0..3).filter(|i| *i != leader).map(|i| sasl[i].clone()).collect();
    run(&survivors.join(","), &["more", "500", "500"]);
    run(&survivors.join(","), &["consume", "1000"]);
    c.nodes[leader].start();
    c.wait_serving(leader, Duration::from_secs(30));
    let bytes = wait_identical_logs(&c, "secured", 0, Duration::from_secs(30));
    eprintln!("secured-0: {bytes} bytes identical again after the old leader came back");
    wait_until("the old leader is back in the ISR", Duration::from_secs(20), || {
        let (_, isr) = isr_of(&run(&all, &["isr"]));
        (isr == "[0, 1, 2]").then_some(()).ok_or(isr)
    });
}
