//! Observability seen from outside: `/metrics` after known raw-protocol traffic, read through a strict
//! OpenMetrics parser (`tests/clients/metrics_check.py`, prometheus_client's parser) and checked value by
//! value; `/health`, `/ready` and the HTTP errors, also while the data directory loads; and the Grafana
//! dashboard and `docs/metrics.md` kept true (every metric they name is exported, every exported metric is
//! documented with its type and labels).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use protocol::record::{BatchBuilder, Compression, Record};
use protocol::{
    ApiKey, ApiVersionsRequest, FetchPartition, FetchRequest, FetchTopic, MetadataRequest, MetadataRequestTopic,
    PartitionProduceData, ProduceRequest, Records, Request, RequestBody, RequestHeader, Response, ResponseBody,
    TopicProduceData,
};
use serde::Deserialize;

use crate::support::{config, python, TestBroker};

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// How long any wait in these tests may take.
const PATIENCE: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------------------
// HTTP

struct HttpResponse {
    status: u16,
    /// Lower-case names.
    headers: Vec<(String, String)>,
    body: String,
}

impl HttpResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on its own connection (`Connection: close`: hyper would keep it alive).
fn http(addr: SocketAddr, method: &str, path: &str) -> HttpResponse {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).expect("an HTTP response in UTF-8");
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in {text:?}"));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap_or_else(|| panic!("bad header {l:?}"));
            (n.trim().to_ascii_lowercase(), v.trim().to_string())
        })
        .collect();
    let response = HttpResponse {
        status,
        headers,
        body: body.to_string(),
    };
    if method == "HEAD" {
        assert!(
            response.body.is_empty(),
            "a HEAD response with a body: {:?}",
            response.body
        );
    } else {
        let length: usize = response
            .header("content-length")
            .unwrap_or_else(|| panic!("no content-length: {head}"))
            .parse()
            .unwrap();
        assert_eq!(length, response.body.len(), "content-length and body disagree");
    }
    response
}

fn get(broker: &TestBroker, path: &str) -> HttpResponse {
    http(broker.metrics_addr, "GET", path)
}

/// Polls `/ready` until it answers 200 (every other answer must be 503).
fn wait_ready(broker: &TestBroker) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let r = get(broker, "/ready");
        match r.status {
            200 => return,
            503 if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => panic!("/ready answered {} {:?}", r.status, r.body),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Scrapes

#[derive(Debug, Deserialize)]
struct Family {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    samples: Vec<Sample>,
}

#[derive(Debug, Deserialize)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A scrape's metric families, read strictly (by the Python parser) or loosely (by [`Scrape::read`]).
#[derive(Debug)]
struct Scrape {
    families: Vec<Family>,
}

impl Scrape {
    /// Parses `text` with prometheus_client's OpenMetrics parser; `Err` with its complaint when it refuses.
    fn strict(python: &Path, text: &str) -> Result<Scrape, String> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/metrics_check.py");
        let mut child = Command::new(python)
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running metrics_check.py");
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        if !out.status.success() {
            return Err(format!(
                "metrics_check.py exited with {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let families = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line from metrics_check.py: {e}: {l}"))
            })
            .collect();
        Ok(Scrape { families })
    }

    /// Reads the text format loosely: `# TYPE` lines and `name{labels} value` samples, nothing validated.
    fn read(text: &str) -> Scrape {
        let mut families: Vec<Family> = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                families.push(Family {
                    name: name.to_string(),
                    kind: kind.to_string(),
                    samples: Vec::new(),
                });
            } else if !line.starts_with('#') && !line.is_empty() {
                let (series, value) = line.rsplit_once(' ').unwrap();
                let (name, labels) = match series.split_once('{') {
                    Some((name, labels)) => (name, labels.strip_suffix('}').unwrap()),
                    None => (series, ""),
                };
                let labels = labels
                    .split(',')
                    .filter(|l| !l.is_empty())
                    .map(|l| {
                        let (k, v) = l.split_once('=').unwrap();
                        (k.to_string(), v.trim_matches('"').to_string())
                    })
                    .collect();
                families
                    .last_mut()
                    .unwrap_or_else(|| panic!("a sample before any # TYPE: {line}"))
                    .samples
                    .push(Sample {
                        name: name.to_string(),
                        labels,
                        value: value.parse().unwrap_or(f64::NAN),
                    });
            }
        }
        Scrape { families }
    }

    fn samples<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.families
            .iter()
            .flat_map(|f| &f.samples)
            .filter(move |s| s.name == name)
    }

    /// The value of the one sample named `name` whose labels are exactly `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let want: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let found: Vec<&Sample> = self.samples(name).filter(|s| s.labels == want).collect();
        match found.as_slice() {
            [one] => one.value,
            _ => panic!(
                "{} samples {name}{want:?}; the samples named {name}: {:?}",
                found.len(),
                self.samples(name).collect::<Vec<_>>()
            ),
        }
    }

    fn sample_names(&self) -> BTreeSet<&str> {
        self.families
            .iter()
            .flat_map(|f| &f.samples)
            .map(|s| s.name.as_str())
            .collect()
    }

    fn family_of(&self, sample: &str) -> Option<&Family> {
        self.families
            .iter()
            .find(|f| f.samples.iter().any(|s| s.name == sample))
    }
}

/// The Python with prometheus_client (the venv of the client tests). Fails when it is missing, unless the run
/// sets `KZERO_SKIP_CLIENTS=1` (then `None`, said on stderr).
#[track_caller]
fn strict_python() -> Option<PathBuf> {
    let py = python()?;
    let ok = Command::new(&py)
        .args(["-c", "import prometheus_client.openmetrics.parser"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(py);
    }
    if std::env::var_os("KZERO_SKIP_CLIENTS").is_some_and(|v| v == "1") {
        eprintln!("SKIPPED (KZERO_SKIP_CLIENTS=1): prometheus_client is not installed; this test proved nothing");
        return None;
    }
    panic!(
        "{} cannot import prometheus_client (the strict OpenMetrics parser).\n`cargo xtask ci` installs it with the \
         other Python clients; by hand: `{} -m pip install prometheus-client==0.26.0`.\nTo skip the client tests \
         on purpose, set KZERO_SKIP_CLIENTS=1.",
        py.display(),
        py.display()
    );
}

/// `/metrics`, checked for status and content type, parsed strictly.
fn strict_scrape(py: &Path, broker: &TestBroker) -> (Scrape, String) {
    let r = get(broker, "/metrics");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some(OPENMETRICS));
    let scrape = Scrape::strict(py, &r.body).unwrap_or_else(|e| panic!("{e}\n--- the scrape:\n{}", r.body));
    (scrape, r.body)
}

/// Scrapes (loosely) until `done` holds, for values the broker updates after the client saw the response.
fn eventually(broker: &TestBroker, what: &str, done: impl Fn(&Scrape) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let scrape = Scrape::read(&get(broker, "/metrics").body);
        if done(&scrape) {
            return;
        }
        assert!(Instant::now() < deadline, "never: {what}; last scrape: {scrape:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------------------------------------
// Kafka traffic

struct Client {
    s: TcpStream,
    correlation: i32,
    /// Bytes read from the broker, size prefixes included.
    received: u64,
}

impl Client {
    fn new(broker: &TestBroker) -> Client {
        let s = TcpStream::connect(broker.addr).unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        Client {
            s,
            correlation: 0,
            received: 0,
        }
    }

    fn encode(&mut self, version: i16, body: RequestBody, out: &mut BytesMut) {
        self.correlation += 1;
        let header = RequestHeader::new(body.api_key(), version, self.correlation);
        Request { header, body }.encode(out).unwrap();
    }

    /// Sends the requests in one write, so that the broker reads them together (pipelined).
    fn send(&mut self, requests: Vec<(i16, RequestBody)>) {
        let mut out = BytesMut::new();
        for (version, body) in requests {
            self.encode(version, body, &mut out);
        }
        self.s.write_all(&out).unwrap();
    }

    fn recv(&mut self, api: ApiKey, version: i16) -> ResponseBody {
        let mut size = [0u8; 4];
        self.s.read_exact(&mut size).unwrap();
        let mut frame = vec![0u8; i32::from_be_bytes(size) as usize];
        self.s.read_exact(&mut frame).unwrap();
        self.received += 4 + frame.len() as u64;
        Response::decode(api, version, Bytes::from(frame)).unwrap().body
    }

    fn call(&mut self, version: i16, body: RequestBody) -> ResponseBody {
        let api = body.api_key();
        self.send(vec![(version, body)]);
        self.recv(api, version)
    }
}

fn metadata_request(topic: &str) -> RequestBody {
    MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: Some(topic.into()),
            ..Default::default()
        }]),
        ..Default::default()
    }
    .into()
}

fn produce_request(topic: &str, batch: Bytes) -> RequestBody {
    ProduceRequest {
        acks: 1,
        timeout_ms: 5000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(Records::Inline(batch)),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
    .into()
}

fn fetch_request(topic: &str, offset: i64, max_wait_ms: i32) -> RequestBody {
    FetchRequest {
        max_wait_ms,
        min_bytes: 1,
        max_bytes: 1 << 20,
        topics: vec![FetchTopic {
            topic: topic.into(),
            partitions: vec![FetchPartition {
                partition: 0,
                fetch_offset: offset,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
    .into()
}

/// A fetch response's one partition: error code and record bytes.
fn fetched(body: ResponseBody) -> (i16, Bytes) {
    let ResponseBody::Fetch(f) = body else {
        panic!("not a fetch response: {body:?}")
    };
    let p = &f.responses[0].partitions[0];
    let records = match &p.records {
        Some(Records::Inline(b)) => b.clone(),
        _ => Bytes::new(),
    };
    (p.error_code, records)
}

fn produced(body: ResponseBody) -> (i16, i64) {
    let ResponseBody::Produce(p) = body else {
        panic!("not a produce response: {body:?}")
    };
    let r = &p.responses[0].partition_responses[0];
    (r.error_code, r.base_offset)
}

/// A batch of `records` records of `size` bytes each.
fn batch(records: usize, size: usize, compression: Compression) -> Bytes {
    let mut b = BatchBuilder::new(compression, 1_700_000_000_000);
    for i in 0..records {
        b.push(Record {
            key: Some(Bytes::from(format!("key {i}"))),
            value: Some(Bytes::from(vec![b'a' + (i % 26) as u8; size])),
            ..Record::default()
        });
    }
    b.build().unwrap()
}

const TOPIC: &str = "observed";
/// The long poll that the pipelined Metadata request waits behind (its queue time), in milliseconds.
const PIPELINED_WAIT_MS: i32 = 2000;
/// `slow_request_ms` for the traffic's broker: only the request queued behind that long poll passes it.
const SLOW_MS: u64 = 1000;

/// What [`known_traffic`] sent and received.
#[derive(Debug, Default)]
struct Traffic {
    /// Each produced batch's size in bytes and record count, in offset order.
    batches: Vec<(u64, u64)>,
    /// Requests by API.
    requests: BTreeMap<&'static str, u64>,
    /// Partition reads of the topic (one per fetch request here), and the failed ones.
    reads: u64,
    failed_reads: u64,
    /// Record bytes fetched.
    fetched: u64,
    /// The APIs ApiVersions advertised.
    advertised: BTreeSet<&'static str>,
}

impl Traffic {
    fn bytes_in(&self) -> u64 {
        self.batches.iter().map(|b| b.0).sum()
    }

    fn records(&self) -> u64 {
        self.batches.iter().map(|b| b.1).sum()
    }

    fn count(&mut self, api: ApiKey) {
        *self.requests.entry(api.snake_name()).or_default() += 1;
    }
}

/// A broker whose flushes and slow requests are predictable: every append is synced (one flush per batch), and
/// a request is slow after [`SLOW_MS`].
fn traffic_broker(dir: &Path) -> TestBroker {
    let mut cfg = config(dir);
    cfg.log.flush_messages = 1;
    cfg.slow_request_ms = SLOW_MS;
    let broker = TestBroker::start(cfg);
    wait_ready(&broker);
    broker
}

/// Known traffic with two clients, returned with both still connected:
/// ApiVersions; Metadata creating the topic; five produce requests of one batch each (acks=1; gzip and lz4
/// among them); a long-poll fetch woken by a sixth batch; a full consume from offset 0; a long poll that
/// expires with a Metadata request pipelined behind it (so queued for its whole wait); a fetch out of range
/// and a fetch of an unknown topic.
fn known_traffic(broker: &TestBroker) -> (Traffic, Client, Client) {
    let mut t = Traffic::default();
    let mut producer = Client::new(broker);
    let mut consumer = Client::new(broker);

    let ResponseBody::ApiVersions(versions) = producer.call(2, ApiVersionsRequest::default().into()) else {
        panic!("not an ApiVersions response")
    };
    t.count(ApiKey::ApiVersions);
    t.advertised = versions
        .api_keys
        .iter()
        .map(|k| ApiKey::from_i16(k.api_key).expect("a known API key").snake_name())
        .collect();

    let ResponseBody::Metadata(md) = producer.call(4, metadata_request(TOPIC)) else {
        panic!("not a Metadata response")
    };
    t.count(ApiKey::Metadata);
    assert_eq!(md.topics[0].error_code, 0, "the topic was not created");

    let produce = |t: &mut Traffic, producer: &mut Client, b: Bytes, records: u64| {
        let offset: u64 = t.records();
        let answer = produced(producer.call(7, produce_request(TOPIC, b.clone())));
        t.count(ApiKey::Produce);
        assert_eq!(answer, (0, offset as i64));
        t.batches.push((b.len() as u64, records));
    };
    for (records, size, compression) in [
        (1, 10, Compression::None),
        (3, 200, Compression::None),
        (7, 50, Compression::Gzip),
        (20, 5, Compression::None),
        (50, 30, Compression::Lz4),
    ] {
        produce(&mut t, &mut producer, batch(records, size, compression), records as u64);
    }

    // A long poll at the log end waits as a delayed operation until the next append wakes it.
    let end = t.records() as i64;
    consumer.send(vec![(10, fetch_request(TOPIC, end, 10_000))]);
    t.count(ApiKey::Fetch);
    eventually(broker, "the long poll is a delayed operation", |s| {
        s.value("kzero_delayed_operations", &[("kind", "fetch")]) == 1.0
    });
    // Well past the lowest latency buckets, and past the watch registration that follows the count.
    std::thread::sleep(Duration::from_millis(200));
    let sixth = batch(10, 100, Compression::None);
    produce(&mut t, &mut producer, sixth.clone(), 10);
    let (code, records) = fetched(consumer.recv(ApiKey::Fetch, 10));
    t.reads += 1;
    t.fetched += records.len() as u64;
    // The new batch as produced, but for the base offset and leader epoch the broker set (bytes 0..16).
    assert_eq!(code, 0);
    assert_eq!(records.len(), sixth.len());
    assert_eq!(records[16..], sixth[16..], "the woken fetch returns the new batch");
    assert_eq!(i64::from_be_bytes(records[..8].try_into().unwrap()), end);

    // Consume everything from offset 0: each answer is whole batches, in order.
    let (mut offset, mut next_batch) = (0u64, 0usize);
    while offset < t.records() {
        let (code, records) = fetched(consumer.call(10, fetch_request(TOPIC, offset as i64, 0)));
        t.count(ApiKey::Fetch);
        t.reads += 1;
        assert_eq!(code, 0);
        assert!(!records.is_empty(), "an empty fetch at offset {offset}");
        let mut len = records.len() as u64;
        while len > 0 {
            let (bytes, count) = t.batches[next_batch];
            assert!(len >= bytes, "a fetch ended inside batch {next_batch}");
            len -= bytes;
            offset += count;
            next_batch += 1;
        }
        t.fetched += records.len() as u64;
    }

    // A long poll that expires, with a Metadata request read together with it: the Metadata request is queued
    // for the whole wait (requests of a connection are handled in order).
    consumer.send(vec![
        (10, fetch_request(TOPIC, offset as i64, PIPELINED_WAIT_MS)),
        (4, metadata_request(TOPIC)),
    ]);
    let (code, records) = fetched(consumer.recv(ApiKey::Fetch, 10));
    assert_eq!((code, records.len()), (0, 0), "the long poll expires empty");
    let ResponseBody::Metadata(_) = consumer.recv(ApiKey::Metadata, 4) else {
        panic!("not a Metadata response")
    };
    t.count(ApiKey::Fetch);
    t.count(ApiKey::Metadata);
    t.reads += 1;

    // Errors: an offset past the end, and a topic that does not exist (no partition read of ours).
    let (code, _) = fetched(consumer.call(10, fetch_request(TOPIC, offset as i64 + 5, 0)));
    assert_eq!(code, 1, "OFFSET_OUT_OF_RANGE");
    t.count(ApiKey::Fetch);
    t.reads += 1;
    t.failed_reads += 1;
    let (code, _) = fetched(consumer.call(10, fetch_request("observed-nowhere", 0, 0)));
    assert_eq!(code, 3, "UNKNOWN_TOPIC_OR_PARTITION");
    t.count(ApiKey::Fetch);
    (t, producer, consumer)
}

// ---------------------------------------------------------------------------------------------------------
// Tests

#[test]
fn metrics_after_known_traffic_are_exact_and_valid_openmetrics() {
    let Some(py) = strict_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = traffic_broker(dir.path());
    let (t, producer, consumer) = known_traffic(&broker);
    // The transfer counters are added to after the write the client has read: wait for the last bytes.
    let received = producer.received + consumer.received;
    eventually(&broker, "every byte the clients read is counted", |s| {
        s.value("kzero_bytes_out_total", &[]) == received as f64
    });
    let (m, text) = strict_scrape(&py, &broker);
    let topic = [("topic", TOPIC)];
    let partition = [("topic", TOPIC), ("partition", "0")];

    // Bytes and records in, per topic and in all.
    assert_eq!(m.value("kzero_topic_bytes_in_total", &topic), t.bytes_in() as f64);
    assert_eq!(m.value("kzero_bytes_in_total", &[]), t.bytes_in() as f64);
    assert_eq!(m.value("kzero_topic_messages_in_total", &topic), t.records() as f64);
    assert_eq!(m.value("kzero_messages_in_total", &[]), t.records() as f64);
    assert_eq!(
        m.value("kzero_topic_produce_requests_total", &topic),
        t.batches.len() as f64
    );
    assert_eq!(m.value("kzero_topic_failed_produce_requests_total", &topic), 0.0);
    // Bytes out: what the consumer fetched, all of it through sendfile.
    assert_eq!(m.value("kzero_topic_bytes_out_total", &topic), t.fetched as f64);
    assert_eq!(m.value("kzero_bytes_fetched_total", &[]), t.fetched as f64);
    assert_eq!(m.value("kzero_topic_fetch_requests_total", &topic), t.reads as f64);
    assert_eq!(
        m.value("kzero_topic_failed_fetch_requests_total", &topic),
        t.failed_reads as f64
    );
    assert_eq!(
        t.fetched,
        t.bytes_in() + t.batches[5].0,
        "the woken fetch, then everything"
    );
    assert_eq!(m.value("kzero_bytes_sendfile_total", &[]), t.fetched as f64);
    assert_eq!(m.value("kzero_bytes_copied_total", &[]), 0.0);
    assert_eq!(m.value("kzero_bytes_tls_total", &[]), 0.0);
    assert_eq!(m.value("kzero_bytes_out_total", &[]), received as f64);
    assert_eq!(
        m.value("kzero_bytes_memory_total", &[]),
        (received - t.fetched) as f64,
        "every byte but the records was written from memory"
    );

    // Requests by API: exactly the ones sent, and a series (at zero) for every other advertised API.
    let apis: BTreeSet<&str> = m
        .samples("kzero_requests_total")
        .map(|s| s.labels["api"].as_str())
        .collect();
    assert_eq!(apis, t.advertised, "one series per advertised API");
    for api in &t.advertised {
        let sent = t.requests.get(api).copied().unwrap_or(0);
        assert_eq!(m.value("kzero_requests_total", &[("api", api)]), sent as f64, "{api}");
    }
    assert_eq!(t.requests["produce"], 6);

    // Errors: the two the traffic caused, nothing else.
    let errors: BTreeMap<(String, String), f64> = m
        .samples("kzero_errors_total")
        .map(|s| ((s.labels["api"].clone(), s.labels["error"].clone()), s.value))
        .collect();
    let expected: BTreeMap<(String, String), f64> = [
        (("fetch".to_string(), "OFFSET_OUT_OF_RANGE".to_string()), 1.0),
        (("fetch".to_string(), "UNKNOWN_TOPIC_OR_PARTITION".to_string()), 1.0),
    ]
    .into();
    assert_eq!(errors, expected);

    // Latency histograms: per API, +Inf == count == requests, cumulative buckets, total == queue + local + remote.
    for api in &t.advertised {
        let sent = t.requests.get(api).copied().unwrap_or(0) as f64;
        let mut sums = BTreeMap::new();
        for stage in ["total", "queue", "local", "remote"] {
            let name = format!("kzero_request_{stage}_seconds");
            let buckets = histogram_buckets(&m, &name, api);
            let count = m.value(&format!("{name}_count"), &[("api", api)]);
            assert_eq!(buckets.last().map(|b| b.0), Some(f64::INFINITY), "{name}{{api={api}}}");
            assert_eq!(
                buckets.last().map(|b| b.1),
                Some(count),
                "{name}{{api={api}}}: +Inf != _count"
            );
            assert_eq!(count, sent, "{name}{{api={api}}}: one observation per request");
            assert!(
                buckets.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
                "{name}{{api={api}}} buckets: {buckets:?}"
            );
            sums.insert(stage, m.value(&format!("{name}_sum"), &[("api", api)]));
        }
        let parts = sums["queue"] + sums["local"] + sums["remote"];
        assert!(
            (sums["total"] - parts).abs() < 1e-6,
            "{api}: total {} != queue + local + remote {parts}",
            sums["total"]
        );
    }
    let fetches = t.requests["fetch"] as f64;
    let bucket = |name: &str, api: &str, le: &str| m.value(name, &[("api", api), ("le", le)]);
    // Two fetches waited (the woken long poll, 200 ms or more, and the expired one); the others did not wait.
    assert_eq!(
        bucket("kzero_request_remote_seconds_bucket", "fetch", "0.0001"),
        fetches - 2.0
    );
    assert_eq!(
        bucket("kzero_request_remote_seconds_bucket", "fetch", "0.1"),
        fetches - 2.0
    );
    let waited = m.value("kzero_request_remote_seconds_sum", &[("api", "fetch")]);
    assert!(
        waited >= 0.2 + f64::from(PIPELINED_WAIT_MS) / 1000.0 - 0.01,
        "remote time of fetches: {waited}"
    );
    // acks=1 produce requests never wait.
    assert_eq!(m.value("kzero_request_remote_seconds_sum", &[("api", "produce")]), 0.0);
    // The Metadata request pipelined behind the expiring long poll was queued for its whole wait, and is the
    // one slow request.
    let metadata = t.requests["metadata"] as f64;
    assert_eq!(
        bucket("kzero_request_queue_seconds_bucket", "metadata", "1.0"),
        metadata - 1.0
    );
    assert!(
        m.value("kzero_request_queue_seconds_sum", &[("api", "metadata")])
            >= f64::from(PIPELINED_WAIT_MS) / 1000.0 - 0.01
    );
    assert_eq!(m.value("kzero_slow_requests_total", &[]), 1.0);
    assert_eq!(m.value("kzero_rejected_requests_total", &[]), 0.0);

    // Delayed operations: none waiting now; one woken, one expired.
    assert_eq!(m.value("kzero_delayed_operations", &[("kind", "fetch")]), 0.0);
    assert_eq!(m.value("kzero_delayed_operations", &[("kind", "produce")]), 0.0);
    assert_eq!(m.value("kzero_delayed_expired_total", &[("kind", "fetch")]), 1.0);
    assert_eq!(m.value("kzero_delayed_expired_total", &[("kind", "produce")]), 0.0);
    assert_eq!(m.value("kzero_fetch_wakeups_total", &[]), 1.0);

    // The partition: its log holds the batches exactly as produced.
    assert_eq!(m.value("kzero_partitions", &[]), 1.0);
    assert_eq!(m.value("kzero_log_size_bytes", &partition), t.bytes_in() as f64);
    assert_eq!(m.value("kzero_log_end_offset", &partition), t.records() as f64);
    assert_eq!(m.value("kzero_high_watermark", &partition), t.records() as f64);
    assert_eq!(m.value("kzero_log_start_offset", &partition), 0.0);
    assert_eq!(m.value("kzero_log_segments", &partition), 1.0);
    // flush_messages = 1: one flush per appended batch.
    assert_eq!(m.value("kzero_log_flushes_total", &[]), t.batches.len() as f64);
    assert!(m.value("kzero_log_flush_seconds_total", &[]) > 0.0);

    // Connections: both clients are connected; once they leave, none.
    assert_eq!(m.value("kzero_connections", &[]), 2.0);
    assert_eq!(m.value("kzero_connections_accepted_total", &[]), 2.0);
    drop((producer, consumer));
    eventually(&broker, "closed connections are no longer counted", |s| {
        s.value("kzero_connections", &[]) == 0.0
    });

    // The checker itself is strict: the same text made invalid is refused.
    for (what, broken) in [
        ("no # EOF", text.replace("# EOF\n", "")),
        (
            "a counter sample without _total",
            text.replacen("kzero_requests_total{", "kzero_requests{", 1),
        ),
        ("a _count that is not the +Inf bucket", bump_count(&text)),
        ("a blank line", text.replacen("\n# HELP", "\n\n# HELP", 1)),
    ] {
        assert_ne!(broken, text, "{what}: the text did not change");
        assert!(
            Scrape::strict(&py, &broken).is_err(),
            "metrics_check.py accepted {what}"
        );
    }
    broker.stop().unwrap();
}

/// A histogram's `(le, cumulative count)` buckets for one API, in `le` order.
fn histogram_buckets(m: &Scrape, name: &str, api: &str) -> Vec<(f64, f64)> {
    let mut buckets: Vec<(f64, f64)> = m
        .samples(&format!("{name}_bucket"))
        .filter(|s| s.labels.get("api").map(String::as_str) == Some(api))
        .map(|s| {
            let le = match s.labels["le"].as_str() {
                "+Inf" => f64::INFINITY,
                le => le.parse().unwrap(),
            };
            (le, s.value)
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    buckets
}

/// `text` with the produce API's total-time `_count` one higher than its `+Inf` bucket.
fn bump_count(text: &str) -> String {
    let prefix = "kzero_request_total_seconds_count{api=\"produce\"} ";
    text.lines()
        .map(|l| match l.strip_prefix(prefix) {
            Some(v) => format!("{prefix}{}", v.parse::<u64>().unwrap() + 1),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn health_ready_and_http_errors() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(config(dir.path()));
    wait_ready(&broker);
    let health = get(&broker, "/health");
    assert_eq!((health.status, health.body.trim()), (200, "ok"));
    let ready = get(&broker, "/ready");
    assert_eq!(ready.status, 200, "{}", ready.body);
    let head = http(broker.metrics_addr, "HEAD", "/health");
    assert_eq!(head.status, 200);
    // The query string does not change the path.
    assert_eq!(get(&broker, "/metrics?format=openmetrics").status, 200);
    for path in ["/", "/nope", "/metrics/", "/healthz", "/ready/now"] {
        assert_eq!(get(&broker, path).status, 404, "GET {path}");
    }
    for (method, path) in [
        ("POST", "/metrics"),
        ("PUT", "/health"),
        ("DELETE", "/ready"),
        ("POST", "/nope"),
    ] {
        assert_eq!(http(broker.metrics_addr, method, path).status, 405, "{method} {path}");
    }
    // The probes' own connections are not client connections.
    assert_eq!(
        Scrape::read(&get(&broker, "/metrics").body).value("kzero_connections", &[]),
        0.0
    );
    broker.stop().unwrap();
}

/// A FIFO standing in for the data directory's `meta.properties`, which the broker reads while it opens the
/// data directory: the read blocks until the test writes the file's contents into the FIFO.
struct Gate {
    path: PathBuf,
    contents: &'static str,
    open: bool,
}

impl Gate {
    /// Writes the contents if the broker is reading the FIFO (never blocks); true once done.
    fn try_open(&mut self) -> bool {
        if !self.open {
            let writer = OpenOptions::new()
                .write(true)
                .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
                .open(&self.path);
            // ENXIO: nobody reads the FIFO yet.
            if let Ok(mut w) = writer {
                w.write_all(self.contents.as_bytes()).unwrap();
                self.open = true;
            }
        }
        self.open
    }
}

impl Drop for Gate {
    /// Lets a broker that is still waiting go on, so that a failing test can stop it.
    fn drop(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        while !self.try_open() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

#[test]
fn ready_is_503_while_the_data_directory_loads() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let meta = data.join("meta.properties");
    nix::unistd::mkfifo(&meta, nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR).unwrap();
    let broker = TestBroker::start(config(&data));
    // Declared after the broker, so dropped first: a failing assertion does not leave the broker blocked.
    let mut gate = Gate {
        path: meta,
        contents: "version=0\nbroker.id=0\ncluster.id=gated-cluster-id\n",
        open: false,
    };
    // The broker is blocked in the middle of loading: alive, not ready, no metrics yet.
    let deadline = Instant::now() + PATIENCE;
    for _ in 0..3 {
        let health = get(&broker, "/health");
        assert_eq!((health.status, health.body.trim()), (200, "ok"));
        let ready = get(&broker, "/ready");
        assert_eq!(ready.status, 503, "/ready while loading: {}", ready.body);
        assert!(ready.body.contains("loading"), "{}", ready.body);
        assert_eq!(get(&broker, "/metrics").status, 503, "/metrics while loading");
        std::thread::sleep(Duration::from_millis(50));
    }
    while !gate.try_open() {
        assert!(Instant::now() < deadline, "the broker never read meta.properties");
        std::thread::sleep(Duration::from_millis(10));
    }
    wait_ready(&broker);
    let m = Scrape::read(&get(&broker, "/metrics").body);
    assert_eq!(m.value("kzero_partitions", &[]), 0.0);
    // The broker read what the test wrote through the gate: it was waiting for it.
    let ResponseBody::Metadata(md) = Client::new(&broker).call(4, MetadataRequest::default().into()) else {
        panic!("not a Metadata response")
    };
    assert_eq!(md.cluster_id.as_deref(), Some("gated-cluster-id"));
    drop(gate);
    broker.stop().unwrap();
}

#[test]
fn the_dashboard_and_the_docs_name_only_exported_metrics_and_the_docs_name_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let broker = traffic_broker(dir.path());
    let (_traffic, mut producer, _consumer) = known_traffic(&broker);
    // A simple consumer (no generation) commits an offset, so that the group metrics have samples.
    let commit = protocol::OffsetCommitRequest {
        group_id: "dashboard".into(),
        generation_id_or_member_epoch: -1,
        topics: vec![protocol::OffsetCommitRequestTopic {
            name: TOPIC.into(),
            partitions: vec![protocol::OffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: 1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let ResponseBody::OffsetCommit(committed) = producer.call(8, RequestBody::OffsetCommit(commit)) else {
        panic!("no OffsetCommit answer")
    };
    assert_eq!(committed.topics[0].partitions[0].error_code, 0);
    eventually(&broker, "a group's lag", |s| {
        s.samples("kzero_consumer_group_lag").count() == 1
    });
    let m = Scrape::read(&get(&broker, "/metrics").body);
    let exported = m.sample_names();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();

    // The dashboard: every expression's metrics are exported.
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("dashboards/kzero.json")).unwrap()).unwrap();
    check_dashboard(&dashboard, &exported);

    // docs/metrics.md: each row's kzero names are exported with the type and labels the row gives, and every
    // exported sample name is in some row.
    let docs = std::fs::read_to_string(root.join("docs/metrics.md")).unwrap();
    let rows = docs_rows(&docs);
    assert!(rows.len() >= 20, "only {} rows in the docs' table", rows.len());
    let mut documented = BTreeSet::new();
    for row in &rows {
        for name in &row.names {
            assert!(
                exported.contains(name.as_str()),
                "docs/metrics.md names {name}, which is not exported"
            );
            let family = m.family_of(name).unwrap();
            assert_eq!(
                family.kind, row.kind,
                "docs/metrics.md: the type of {name} (family {})",
                family.name
            );
            for s in m.samples(name) {
                let labels: BTreeSet<&str> = s.labels.keys().map(String::as_str).filter(|l| *l != "le").collect();
                let want: BTreeSet<&str> = row.labels.iter().map(String::as_str).collect();
                assert_eq!(labels, want, "docs/metrics.md: the labels of {name}");
            }
            documented.insert(name.clone());
        }
    }
    let missing: Vec<&&str> = exported.iter().filter(|n| !documented.contains(**n)).collect();
    assert!(missing.is_empty(), "exported but not in docs/metrics.md: {missing:?}");
    broker.stop().unwrap();
}

/// Checks the dashboard's shape (a Prometheus datasource input used by every panel, unique ids, no overlapping
/// panels) and that every `kzero_*` name in any of its expressions or queries is an exported sample name.
fn check_dashboard(dashboard: &serde_json::Value, exported: &BTreeSet<&str>) {
    let inputs = dashboard["__inputs"].as_array().expect("__inputs");
    assert!(
        inputs
            .iter()
            .any(|i| i["name"] == "DS_PROMETHEUS" && i["pluginId"] == "prometheus"),
        "no DS_PROMETHEUS input"
    );
    assert!(dashboard["schemaVersion"].as_u64().is_some_and(|v| v >= 36));
    let panels = dashboard["panels"].as_array().expect("panels");
    let mut ids = BTreeSet::new();
    let mut cells = BTreeMap::new();
    let mut exprs = Vec::new();
    for p in panels {
        let title = p["title"].as_str().unwrap_or_default();
        assert!(
            ids.insert(p["id"].as_u64().expect("a panel id")),
            "panel id repeated: {title}"
        );
        let g = &p["gridPos"];
        let (x, y, w, h) = (g["x"].as_u64(), g["y"].as_u64(), g["w"].as_u64(), g["h"].as_u64());
        let (Some(x), Some(y), Some(w), Some(h)) = (x, y, w, h) else {
            panic!("panel {title}: no gridPos")
        };
        assert!(x + w <= 24, "panel {title} is wider than the grid");
        for cell in (x..x + w).flat_map(|cx| (y..y + h).map(move |cy| (cx, cy))) {
            if let Some(other) = cells.insert(cell, title) {
                panic!("panels {other} and {title} overlap");
            }
        }
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(p["datasource"]["uid"], "${DS_PROMETHEUS}", "panel {title}");
        let targets = p["targets"].as_array().filter(|t| !t.is_empty());
        for target in targets.unwrap_or_else(|| panic!("panel {title} has no targets")) {
            let expr = target["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("panel {title}: a target without expr"));
            exprs.push(expr.to_string());
        }
    }
    for var in dashboard["templating"]["list"].as_array().into_iter().flatten() {
        exprs.extend(var["definition"].as_str().map(str::to_string));
        exprs.extend(var["query"]["query"].as_str().map(str::to_string));
    }
    let mut named = BTreeSet::new();
    for expr in &exprs {
        balanced(expr);
        let names = metric_names(expr);
        assert!(!names.is_empty(), "an expression without a kzero metric: {expr}");
        for name in names {
            assert!(
                exported.contains(name.as_str()),
                "the dashboard queries {name}, which is not exported: {expr}"
            );
            named.insert(name);
        }
    }
    // The panels the dashboard promises, by the metric each needs.
    for name in [
        "kzero_topic_bytes_in_total",
        "kzero_topic_bytes_out_total",
        "kzero_topic_messages_in_total",
        "kzero_requests_total",
        "kzero_request_total_seconds_bucket",
        "kzero_request_local_seconds_bucket",
        "kzero_request_queue_seconds_bucket",
        "kzero_errors_total",
        "kzero_bytes_sendfile_total",
        "kzero_bytes_copied_total",
        "kzero_connections",
        "kzero_partitions",
        "kzero_log_size_bytes",
        "kzero_log_end_offset",
        "kzero_high_watermark",
        "kzero_delayed_operations",
        "kzero_log_flushes_total",
        "kzero_log_flush_seconds_total",
    ] {
        assert!(named.contains(name), "no panel charts {name}");
    }
}

/// Every `kzero_[a-z_]+` name in `text`.
fn metric_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("kzero_") {
        let before = rest[..at].chars().next_back();
        let tail = &rest[at..];
        let len = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(tail.len());
        if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            names.push(tail[..len].to_string());
        }
        rest = &tail[len..];
    }
    names
}

/// Panics unless the brackets and quotes of a PromQL expression are balanced.
fn balanced(expr: &str) {
    let mut open = Vec::new();
    let mut in_string = false;
    for c in expr.chars() {
        match c {
            '"' => in_string = !in_string,
            _ if in_string => {}
            '(' | '{' | '[' => open.push(c),
            ')' | '}' | ']' => {
                let want = match c {
                    ')' => '(',
                    '}' => '{',
                    _ => '[',
                };
                assert_eq!(open.pop(), Some(want), "unbalanced {c} in {expr}");
            }
            _ => {}
        }
    }
    assert!(open.is_empty() && !in_string, "unbalanced: {expr}");
}

/// One row of the docs' table of exported metrics.
#[derive(Debug)]
struct DocsRow {
    names: Vec<String>,
    kind: String,
    labels: Vec<String>,
}

/// The rows of the table under `## Exported metrics`: | Kafka | kzero | type | labels | notes |.
fn docs_rows(docs: &str) -> Vec<DocsRow> {
    let section = docs
        .split("\n## ")
        .find(|s| s.starts_with("Exported metrics"))
        .expect("docs/metrics.md has no `## Exported metrics` section");
    let mut lines = section.lines().filter(|l| l.starts_with('|'));
    let header: Vec<&str> = lines.next().expect("a table").split('|').map(str::trim).collect();
    assert_eq!(
        &header[1..5],
        ["Kafka (JMX)", "kzero", "type", "labels"],
        "the table's columns"
    );
    lines
        .skip(1) // |---|---|
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            assert_eq!(cells.len(), 7, "a row with other than five cells: {line}");
            let names = metric_names(cells[2]);
            assert!(!names.is_empty(), "a row without a kzero metric: {line}");
            let labels = match cells[4] {
                "none" => Vec::new(),
                l => l.split(',').map(|l| l.trim().trim_matches('`').to_string()).collect(),
            };
            DocsRow {
                names,
                kind: cells[3].to_string(),
                labels,
            }
        })
        .collect()
}
