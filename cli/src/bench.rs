//! `kzero bench produce|consume`: throughput and latency, like Kafka's `kafka-producer-perf-test.sh` and
//! `kafka-consumer-perf-test.sh`, with a one-object JSON result (`--json`).
//!
//! **Produce.** Every record has a null key and the same random value of `--record-size` uppercase
//! letters (as Kafka's perf tool). Records go into batches of as many as fit in `--batch-size` bytes;
//! each Produce request carries one batch for each partition its broker leads, and up to
//! `--max-in-flight` requests are outstanding on one connection per broker (librdkafka's
//! `max.in.flight`), their responses matched by correlation id. Because every batch of a given record
//! count has the same content, each such batch is encoded (and compressed) once and sent again with a
//! fresh timestamp and CRC: the bytes on the wire are exactly what encoding it anew would give, and the
//! client's CPU stays out of the measurement. The ack latency of a request is from just before its
//! bytes are written to when its response is read, and counts once per record in it (as Kafka's tool
//! reports per-record latency). `--throughput` caps records per second, as Kafka's tool does.
//!
//! **Consume.** One connection per broker fetches every partition from where it starts, reading each
//! response into one reused buffer and walking batch headers only (no record is decoded or
//! decompressed): it counts records and batch bytes and moves the offsets. MB/s counts record-batch
//! bytes as fetched. Without `--with-producer` it reads from the beginning (by default every record
//! present at the start) and reports throughput only. With `--with-producer` it starts at the end, runs
//! the produce benchmark in the same process, and also reports **end-to-end latency**: for each batch,
//! from just before the producer wrote it to just after the consumer read the fetch response holding
//! it, counted once per record. The producer logs each batch's send instant per partition, so the
//! latency comes from the monotonic clock, to the microsecond; a batch the log does not account for
//! (another producer's) falls back to receive time minus its timestamp, with millisecond resolution.
//!
//! MB is 2^20 bytes, as in Kafka's tools. Percentiles are of the per-record values described above.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{self, IsTerminal, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use bytes::{Bytes, BytesMut};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use protocol::record::{batch_crc, BatchBuilder, Batches, Compression, Record};
use protocol::{
    ApiKey, CreatableTopic, CreateTopicsRequest, ErrorCode, FetchPartition, FetchRequest, FetchTopic, Records,
    Response, ResponseBody,
};

use crate::client::{code_name, correlation_id, encode_request, now_ms, topic_error, Client, FrameReader, TopicInfo};
use crate::json;
use crate::produce::{compression_parser, parse_acks, produce_request};
use crate::ConnectArgs;

/// Records in a run with `--quick` and no `--records`.
const QUICK_RECORDS: u64 = 20_000;
/// Records in a run without `--quick` or `--records`.
const DEFAULT_RECORDS: u64 = 1_000_000;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Produce records as fast as possible (or at --throughput); report records/s, MB/s and ack latency.
    Produce(ProduceBenchArgs),
    /// Consume records; report records/s and MB/s, and end-to-end latency with --with-producer.
    Consume(ConsumeBenchArgs),
}

#[derive(Debug, Clone, Args)]
pub struct Common {
    #[command(flatten)]
    connect: ConnectArgs,
    /// The topic (created with --partitions partitions if it does not exist).
    #[arg(short, long, value_name = "TOPIC", default_value = "kzero-bench")]
    topic: String,
    /// Print the result as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// A smoke run: 20000 records (at most, when consuming what is there) unless --records is given.
    #[arg(long)]
    quick: bool,
}

/// What the producer sends.
#[derive(Debug, Clone, Args)]
pub struct ProduceShape {
    /// The size of each record's value in bytes (keys are null).
    #[arg(short = 's', long, value_name = "BYTES", default_value_t = 100)]
    record_size: usize,
    /// The most bytes per record batch (Kafka's batch.size); as many records as fit go in each.
    #[arg(long, value_name = "BYTES", default_value_t = 16_384)]
    batch_size: usize,
    /// Acknowledgements: all (-1), 1 or 0 (no responses, so no ack latency).
    #[arg(short, long, value_name = "ACKS", default_value = "all", value_parser = parse_acks, allow_hyphen_values = true)]
    acks: i16,
    /// The compression codec of the record batches.
    #[arg(short = 'z', long, value_name = "CODEC", default_value = "none", value_parser = compression_parser())]
    compression: Compression,
    /// The partition count if the topic has to be created; records are spread over every partition.
    #[arg(short, long, value_name = "N", default_value_t = 1)]
    partitions: i32,
    /// The most records per second to send; -1 for no limit.
    #[arg(long, value_name = "RECORDS_PER_S", default_value_t = -1, allow_hyphen_values = true)]
    throughput: i64,
    /// Produce requests outstanding per connection.
    #[arg(long, value_name = "N", default_value_t = 5)]
    max_in_flight: usize,
}

#[derive(Debug, Args)]
pub struct ProduceBenchArgs {
    #[command(flatten)]
    common: Common,
    /// How many records to produce (default 1000000, or 20000 with --quick).
    #[arg(short = 'n', long, value_name = "N")]
    records: Option<u64>,
    #[command(flatten)]
    shape: ProduceShape,
}

#[derive(Debug, Args)]
pub struct ConsumeBenchArgs {
    #[command(flatten)]
    common: Common,
    /// How many records to consume (default: every record in the topic at the start; with
    /// --with-producer, as many as it produces: 1000000, or 20000 with --quick).
    #[arg(short = 'n', long, value_name = "N")]
    records: Option<u64>,
    /// The most bytes one fetch response carries (Kafka's fetch.max.bytes).
    #[arg(long, value_name = "BYTES", default_value_t = 52_428_800)]
    fetch_max_bytes: i32,
    /// The most bytes one fetch returns per partition (Kafka's max.partition.fetch.bytes).
    #[arg(long, value_name = "BYTES", default_value_t = 1_048_576)]
    partition_max_bytes: i32,
    /// Give up when no record arrived for this long, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    timeout_ms: u64,
    /// Produce the records while consuming them (start at the end) and report end-to-end latency.
    #[arg(long)]
    with_producer: bool,
    #[command(flatten)]
    #[command(next_help_heading = "Producer options (with --with-producer; also --partitions for a new topic)")]
    shape: ProduceShape,
}

pub fn run(command: BenchCommand) -> Result<ExitCode> {
    match command {
        BenchCommand::Produce(a) => {
            let records = a
                .records
                .unwrap_or(if a.common.quick { QUICK_RECORDS } else { DEFAULT_RECORDS });
            let mut client = Client::connect(&a.common.connect.settings()?)?;
            let topic = ensure_topic(&mut client, &a.common.topic, a.shape.partitions)?;
            let result = produce(
                &mut client,
                &topic,
                &a.shape,
                records,
                a.common.connect.request_timeout_ms,
                None,
            )?;
            let mut out = io::stdout().lock();
            if a.common.json {
                writeln!(out, "{}", result.json())?;
            } else {
                writeln!(out, "{}", result.human())?;
            }
        }
        BenchCommand::Consume(a) => {
            let result = consume(&a)?;
            let mut out = io::stdout().lock();
            if a.common.json {
                writeln!(out, "{}", result.json())?;
            } else {
                writeln!(out, "{}", result.human())?;
                if let Some(p) = &result.produce {
                    writeln!(out, "{}", p.human())?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The topic, created with `partitions` partitions if it does not exist.
fn ensure_topic(client: &mut Client, topic: &str, partitions: i32) -> Result<TopicInfo> {
    let m = client.metadata(Some(&[topic.to_string()]), false)?;
    let unknown = m
        .topics
        .iter()
        .any(|t| t.name.as_deref() == Some(topic) && t.error_code == ErrorCode::UnknownTopicOrPartition.code());
    if unknown {
        if partitions < 1 {
            bail!("--partitions must be at least 1, got {partitions}");
        }
        let request = CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: topic.to_string(),
                num_partitions: partitions,
                replication_factor: -1,
                ..Default::default()
            }],
            ..Default::default()
        };
        let ResponseBody::CreateTopics(r) = client.bootstrap().call(request)? else {
            bail!("unexpected response to CreateTopics");
        };
        for t in r.topics {
            if t.error_code != 0 && t.error_code != ErrorCode::TopicAlreadyExists.code() {
                bail!(
                    "cannot create topic {topic:?}: {}{}",
                    code_name(t.error_code),
                    t.error_message.map(|m| format!(": {m}")).unwrap_or_default()
                );
            }
        }
    }
    client.topic(topic, false)
}

/// Per-record latency samples: (microseconds, records).
#[derive(Debug, Default)]
struct Latencies(Vec<(u64, u64)>);

impl Latencies {
    fn add(&mut self, micros: u64, weight: u64) {
        if weight > 0 {
            self.0.push((micros, weight));
        }
    }

    /// (mean, p50, p99, p99.9, max) in milliseconds, or `None` without samples.
    fn summary(&mut self) -> Option<[f64; 5]> {
        if self.0.is_empty() {
            return None;
        }
        self.0.sort_unstable();
        let total: u64 = self.0.iter().map(|s| s.1).sum();
        let sum: f64 = self.0.iter().map(|s| s.0 as f64 * s.1 as f64).sum();
        let pct = |q: f64| -> f64 {
            // The smallest value with at least q of the records at or below it.
            let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
            let mut seen = 0;
            for &(v, w) in &self.0 {
                seen += w;
                if seen >= rank {
                    return v as f64 / 1000.0;
                }
            }
            self.0.last().map_or(0.0, |s| s.0 as f64 / 1000.0)
        };
        let max = self.0.last().map_or(0, |s| s.0) as f64 / 1000.0;
        Some([sum / total as f64 / 1000.0, pct(0.50), pct(0.99), pct(0.999), max])
    }
}

fn latency_json(s: Option<[f64; 5]>) -> String {
    match s {
        None => "null".into(),
        Some([mean, p50, p99, p999, max]) => json::Object::new()
            .num("mean", mean)
            .num("p50", p50)
            .num("p99", p99)
            .num("p99_9", p999)
            .num("max", max)
            .finish(),
    }
}

fn latency_human(name: &str, s: Option<[f64; 5]>) -> String {
    match s {
        None => String::new(),
        Some([mean, p50, p99, p999, max]) => format!(
            ", {name} latency mean {mean:.2} ms, p50 {p50:.2} ms, p99 {p99:.2} ms, p99.9 {p999:.2} ms, max {max:.2} ms"
        ),
    }
}

fn progress(total: u64, what: &str) -> ProgressBar {
    if !(io::stderr().is_terminal() && io::stdout().is_terminal()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(&format!(
        "{what} {{wide_bar}} {{percent:>3}}% of {{len}} records, eta {{eta}}"
    )) {
        bar.set_style(style);
    }
    bar
}

/// The result of a produce run.
#[derive(Debug)]
pub struct ProduceResult {
    topic: String,
    partitions: usize,
    records: u64,
    shape: ProduceShape,
    records_per_batch: usize,
    requests: u64,
    elapsed: Duration,
    ack: Option<[f64; 5]>,
}

impl ProduceResult {
    fn rates(&self) -> (f64, f64) {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let rps = self.records as f64 / secs;
        (rps, rps * self.shape.record_size as f64 / (1024.0 * 1024.0))
    }

    fn json(&self) -> String {
        let (rps, mbps) = self.rates();
        json::Object::new()
            .str("bench", "produce")
            .str("topic", &self.topic)
            .int("partitions", self.partitions as i64)
            .int("records", self.records as i64)
            .int("record_size", self.shape.record_size as i64)
            .int("batch_size", self.shape.batch_size as i64)
            .int("records_per_batch", self.records_per_batch as i64)
            .int("acks", i64::from(self.shape.acks))
            .str("compression", self.shape.compression.name())
            .int("max_in_flight", self.shape.max_in_flight as i64)
            .int("throughput_cap", self.shape.throughput)
            .int("requests", self.requests as i64)
            .num("elapsed_s", self.elapsed.as_secs_f64())
            .num("records_per_s", rps)
            .num("mb_per_s", mbps)
            .raw("ack_latency_ms", &latency_json(self.ack))
            .finish()
    }

    fn human(&self) -> String {
        let (rps, mbps) = self.rates();
        format!(
            "produce: {} records sent in {:.2} s, {rps:.1} records/s ({mbps:.2} MB/s){}",
            self.records,
            self.elapsed.as_secs_f64(),
            latency_human("ack", self.ack)
        )
    }
}

/// Batches with `count` records of `payload`, encoded once and stamped per send.
struct Templates {
    compression: Compression,
    payload: Bytes,
    by_count: HashMap<usize, Vec<u8>>,
}

impl Templates {
    fn batch(&mut self, count: usize, timestamp: i64) -> Result<Bytes> {
        if !self.by_count.contains_key(&count) {
            let mut b = BatchBuilder::new(self.compression, 0);
            for _ in 0..count {
                b.push(Record {
                    value: Some(self.payload.clone()),
                    ..Record::default()
                });
            }
            let bytes = b.build().map_err(|e| anyhow!("cannot build a record batch: {e}"))?;
            self.by_count.insert(count, bytes.to_vec());
        }
        let template = &self.by_count[&count];
        let mut out = BytesMut::from(&template[..]);
        // Every record has timestamp delta 0, so the base and the max timestamp are both the send time.
        out[27..35].copy_from_slice(&timestamp.to_be_bytes());
        out[35..43].copy_from_slice(&timestamp.to_be_bytes());
        let crc = batch_crc(&out);
        out[17..21].copy_from_slice(&crc.to_be_bytes());
        Ok(out.freeze())
    }
}

/// Kafka's perf-tool payload: random uppercase letters (a small xorshift, seeded from the clock).
fn payload(size: usize) -> Bytes {
    let mut x = (now_ms() as u64) | 1;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b'A' + (x % 26) as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

/// Records that fit in a batch of `batch_size` bytes (61-byte header, about 8 bytes per record besides
/// the value for a null key and no headers); at least 1.
fn records_per_batch(batch_size: usize, record_size: usize) -> usize {
    (batch_size.saturating_sub(61) / (record_size + 8)).max(1)
}

/// When each batch was sent, per partition in send order: (its millisecond timestamp, the instant it
/// was written). A consumer in the same process pops one entry per batch it receives, so end-to-end
/// latency is measured with the monotonic clock, to the microsecond, instead of the timestamp's
/// millisecond.
type SendLog = Arc<HashMap<i32, Mutex<VecDeque<(i64, Instant)>>>>;

/// A sent request the reader is waiting for.
struct InFlight {
    id: i32,
    sent: Instant,
    records: u64,
}

/// Produces `records` records to `topic`; one writer and one reader thread per leader.
pub fn produce(
    client: &mut Client,
    topic: &TopicInfo,
    shape: &ProduceShape,
    records: u64,
    timeout_ms: u64,
    send_log: Option<SendLog>,
) -> Result<ProduceResult> {
    if shape.max_in_flight == 0 {
        bail!("--max-in-flight must be at least 1");
    }
    if shape.record_size == 0 {
        bail!("--record-size must be at least 1");
    }
    let per_batch = records_per_batch(shape.batch_size, shape.record_size);
    // Learn the brokers' addresses (and check the topic is still there).
    client.topic(&topic.name, false)?;
    let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for p in &topic.partitions {
        if p.leader < 0 {
            bail!("partition {} of topic {:?} has no leader", p.partition, topic.name);
        }
        by_leader.entry(p.leader).or_default().push(p.partition);
    }
    let total_partitions = topic.partitions.len() as u64;
    let bar = progress(records, "produce");
    let payload = payload(shape.record_size);
    let mut handles = Vec::new();
    let mut assigned = 0u64;
    let leaders = by_leader.len();
    for (i, (leader, partitions)) in by_leader.into_iter().enumerate() {
        // Records in proportion to the partitions each broker leads; the last takes the remainder.
        let share = if i + 1 == leaders {
            records - assigned
        } else {
            records * partitions.len() as u64 / total_partitions
        };
        assigned += share;
        let conn = client.leader(leader)?;
        let version = conn.version(ApiKey::Produce)?;
        let addr = conn.addr.clone();
        // A connection of its own, written and read by two threads.
        let stream = crate::client::Conn::connect(&addr, &client.settings)?.into_stream();
        let rate =
            (shape.throughput > 0).then(|| shape.throughput as f64 * partitions.len() as f64 / total_partitions as f64);
        let job = ProduceJob {
            topic: topic.name.clone(),
            partitions,
            records: share,
            per_batch,
            version,
            addr,
            acks: shape.acks,
            timeout_ms: timeout_ms.min(i32::MAX as u64) as i32,
            max_in_flight: shape.max_in_flight,
            rate,
            templates: Templates {
                compression: shape.compression,
                payload: payload.clone(),
                by_count: HashMap::new(),
            },
            bar: bar.clone(),
            send_log: send_log.clone(),
        };
        handles.push(thread::spawn(move || job.run(stream)));
    }
    let mut requests = 0;
    let mut latencies = Latencies::default();
    let mut first_error = None;
    let mut start: Option<Instant> = None;
    let mut end: Option<Instant> = None;
    for h in handles {
        match h.join() {
            Ok(Ok(r)) => {
                requests += r.requests;
                latencies.0.extend(r.latencies.0);
                start = Some(start.map_or(r.start, |s| s.min(r.start)));
                end = Some(end.map_or(r.end, |e| e.max(r.end)));
            }
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(_) => {
                first_error.get_or_insert(anyhow!("a producer thread panicked"));
            }
        }
    }
    bar.finish_and_clear();
    if let Some(e) = first_error {
        return Err(e);
    }
    let elapsed = match (start, end) {
        (Some(s), Some(e)) => e.duration_since(s),
        _ => Duration::ZERO,
    };
    Ok(ProduceResult {
        topic: topic.name.clone(),
        partitions: topic.partitions.len(),
        records,
        shape: shape.clone(),
        records_per_batch: per_batch,
        requests,
        elapsed,
        ack: if shape.acks == 0 { None } else { latencies.summary() },
    })
}

struct ProduceJob {
    topic: String,
    partitions: Vec<i32>,
    records: u64,
    per_batch: usize,
    version: i16,
    addr: String,
    acks: i16,
    timeout_ms: i32,
    max_in_flight: usize,
    rate: Option<f64>,
    templates: Templates,
    bar: ProgressBar,
    send_log: Option<SendLog>,
}

struct JobResult {
    requests: u64,
    latencies: Latencies,
    start: Instant,
    end: Instant,
}

impl ProduceJob {
    fn run(mut self, stream: TcpStream) -> Result<JobResult> {
        let start = Instant::now();
        if self.records == 0 {
            return Ok(JobResult {
                requests: 0,
                latencies: Latencies::default(),
                start,
                end: start,
            });
        }
        let mut writer = stream
            .try_clone()
            .map_err(|e| anyhow!("cannot use the connection to {}: {e}", self.addr))?;
        // Tokens bound the requests in flight: the writer takes one per request, the reader gives it back.
        let (token_tx, token_rx) = mpsc::sync_channel::<()>(self.max_in_flight);
        for _ in 0..self.max_in_flight {
            token_tx.send(()).ok();
        }
        let (sent_tx, sent_rx) = mpsc::channel::<InFlight>();
        let reader = (self.acks != 0).then(|| {
            let addr = self.addr.clone();
            let topic = self.topic.clone();
            let version = self.version;
            let bar = self.bar.clone();
            let mut stream = stream;
            thread::spawn(move || -> Result<(Latencies, Instant)> {
                let mut frames = FrameReader::default();
                let mut latencies = Latencies::default();
                let mut last = Instant::now();
                while let Ok(sent) = sent_rx.recv() {
                    let frame = frames.read(&mut stream, &addr)?;
                    last = Instant::now();
                    let got = correlation_id(&frame);
                    if got != sent.id {
                        bail!(
                            "the broker at {addr} answered correlation id {got} where {} was expected",
                            sent.id
                        );
                    }
                    let response = Response::decode(ApiKey::Produce, version, frame)
                        .map_err(|e| anyhow!("cannot read the Produce response from {addr}: {e}"))?;
                    let ResponseBody::Produce(r) = response.body else {
                        bail!("unexpected response to Produce");
                    };
                    for t in &r.responses {
                        for p in &t.partition_responses {
                            if p.error_code != 0 {
                                let what = if p.error_code == ErrorCode::UnknownTopicOrPartition.code() {
                                    topic_error(&topic, p.error_code)
                                } else {
                                    code_name(p.error_code)
                                };
                                bail!(
                                    "the broker refused a produce request to {topic:?} partition {}: {what}",
                                    p.index
                                );
                            }
                        }
                    }
                    latencies.add(last.duration_since(sent.sent).as_micros() as u64, sent.records);
                    bar.inc(sent.records);
                    // The writer may be gone after an error; then nobody needs the token.
                    let _ = token_tx.send(());
                }
                Ok((latencies, last))
            })
        });
        let write_result = self.write_all(&mut writer, &token_rx, &sent_tx, start);
        drop(sent_tx);
        let requests = match &write_result {
            Ok(n) => *n,
            Err(_) => 0,
        };
        let (latencies, end) = match reader {
            Some(h) => {
                let r = h.join().map_err(|_| anyhow!("the producer's reader thread panicked"))?;
                match (r, write_result) {
                    (Err(e), _) => return Err(e),
                    (Ok(_), Err(e)) => return Err(e),
                    (Ok(v), Ok(_)) => v,
                }
            }
            None => {
                write_result?;
                writer.flush().ok();
                (Latencies::default(), Instant::now())
            }
        };
        Ok(JobResult {
            requests,
            latencies,
            start,
            end,
        })
    }

    fn write_all(
        &mut self,
        stream: &mut TcpStream,
        tokens: &mpsc::Receiver<()>,
        sent: &mpsc::Sender<InFlight>,
        start: Instant,
    ) -> Result<u64> {
        let mut remaining = self.records;
        let mut written = 0u64;
        let mut id = 1i32;
        let mut requests = 0u64;
        let mut frame = BytesMut::with_capacity(self.per_batch * 128 * self.partitions.len() + 1024);
        while remaining > 0 {
            if let Some(rate) = self.rate {
                // Kafka's Throttler: sleep until the records sent so far are due.
                let due = Duration::from_secs_f64(written as f64 / rate);
                let elapsed = start.elapsed();
                if due > elapsed {
                    thread::sleep(due - elapsed);
                }
            }
            // Without acknowledgements nothing comes back, so nothing bounds the requests in flight but TCP.
            if self.acks != 0 && tokens.recv().is_err() {
                // The reader stopped (it reports why).
                break;
            }
            let now = now_ms();
            let mut batches = Vec::with_capacity(self.partitions.len());
            let mut count = 0u64;
            for &p in &self.partitions {
                if remaining == 0 {
                    break;
                }
                let n = (self.per_batch as u64).min(remaining);
                batches.push((p, self.templates.batch(n as usize, now)?));
                remaining -= n;
                count += n;
            }
            let partitions: Vec<i32> = batches.iter().map(|b| b.0).collect();
            let request = produce_request(&self.topic, self.acks, self.timeout_ms, batches);
            frame.clear();
            encode_request(&mut frame, ApiKey::Produce, self.version, id, request.into())?;
            let sent_at = Instant::now();
            if let Some(log) = &self.send_log {
                for p in partitions {
                    if let Some(q) = log.get(&p) {
                        q.lock().unwrap_or_else(|e| e.into_inner()).push_back((now, sent_at));
                    }
                }
            }
            if self.acks != 0 {
                sent.send(InFlight {
                    id,
                    sent: sent_at,
                    records: count,
                })
                .ok();
            }
            stream
                .write_all(&frame)
                .map_err(|e| anyhow!("lost the connection to {}: {}", self.addr, crate::client::io_reason(&e)))?;
            if self.acks == 0 {
                self.bar.inc(count);
            }
            written += count;
            requests += 1;
            id = id.wrapping_add(1).max(1);
        }
        Ok(requests)
    }
}

/// The result of a consume run.
#[derive(Debug)]
pub struct ConsumeResult {
    topic: String,
    partitions: usize,
    records: u64,
    bytes: u64,
    fetches: u64,
    elapsed: Duration,
    end_to_end: Option<[f64; 5]>,
    produce: Option<ProduceResult>,
}

impl ConsumeResult {
    fn rates(&self) -> (f64, f64) {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        (self.records as f64 / secs, self.bytes as f64 / secs / (1024.0 * 1024.0))
    }

    fn json(&self) -> String {
        let (rps, mbps) = self.rates();
        json::Object::new()
            .str("bench", "consume")
            .str("topic", &self.topic)
            .int("partitions", self.partitions as i64)
            .int("records", self.records as i64)
            .int("bytes", self.bytes as i64)
            .int("fetches", self.fetches as i64)
            .num("elapsed_s", self.elapsed.as_secs_f64())
            .num("records_per_s", rps)
            .num("mb_per_s", mbps)
            .raw("end_to_end_latency_ms", &latency_json(self.end_to_end))
            .raw(
                "produce",
                &self.produce.as_ref().map_or_else(|| "null".into(), ProduceResult::json),
            )
            .finish()
    }

    fn human(&self) -> String {
        let (rps, mbps) = self.rates();
        format!(
            "consume: {} records ({} batch bytes) received in {:.2} s with {} fetches, {rps:.1} records/s ({mbps:.2} MB/s){}",
            self.records,
            self.bytes,
            self.elapsed.as_secs_f64(),
            self.fetches,
            latency_human("end-to-end", self.end_to_end)
        )
    }
}

/// A partition being consumed.
struct Cursor {
    partition: i32,
    leader: i32,
    offset: i64,
}

fn consume(a: &ConsumeBenchArgs) -> Result<ConsumeResult> {
    let settings = a.common.connect.settings()?;
    let mut client = Client::connect(&settings)?;
    let topic = if a.with_producer {
        ensure_topic(&mut client, &a.common.topic, a.shape.partitions)?
    } else {
        client.topic(&a.common.topic, false)?
    };
    let starts = client.list_offsets(&topic.name, &topic.partitions, if a.with_producer { -1 } else { -2 })?;
    let target = match a.records {
        Some(n) => n,
        None if a.with_producer => {
            if a.common.quick {
                QUICK_RECORDS
            } else {
                DEFAULT_RECORDS
            }
        }
        None => {
            let ends = client.list_offsets(&topic.name, &topic.partitions, -1)?;
            let present: u64 = ends.iter().map(|(p, e)| (e - starts[p]).max(0) as u64).sum();
            if a.common.quick {
                present.min(QUICK_RECORDS)
            } else {
                present
            }
        }
    };
    let mut cursors: Vec<Cursor> = topic
        .partitions
        .iter()
        .map(|p| Cursor {
            partition: p.partition,
            leader: p.leader,
            offset: starts[&p.partition],
        })
        .collect();
    // One connection per leader, all opened before the clock starts.
    let mut conns = BTreeMap::new();
    for c in &cursors {
        if c.leader < 0 {
            bail!("partition {} of topic {:?} has no leader", c.partition, topic.name);
        }
        if let std::collections::btree_map::Entry::Vacant(slot) = conns.entry(c.leader) {
            let conn = client.leader(c.leader)?;
            let version = conn.version(ApiKey::Fetch)?;
            let addr = conn.addr.clone();
            let fresh = crate::client::Conn::connect(&addr, &settings)?;
            slot.insert((fresh.into_stream(), version, addr));
        }
    }

    let send_log: SendLog = Arc::new(
        topic
            .partitions
            .iter()
            .map(|p| (p.partition, Mutex::default()))
            .collect(),
    );
    let producer = if a.with_producer {
        let mut pclient = Client::connect(&settings)?;
        let ptopic = topic.clone();
        let shape = a.shape.clone();
        let timeout_ms = a.common.connect.request_timeout_ms;
        let log = Arc::clone(&send_log);
        Some(thread::spawn(move || {
            produce(&mut pclient, &ptopic, &shape, target, timeout_ms, Some(log))
        }))
    } else {
        None
    };

    let bar = progress(target, "consume");
    let live = a.with_producer;
    let mut frames = FrameReader::default();
    let mut out = BytesMut::with_capacity(4096);
    let mut consumed = 0u64;
    let mut bytes = 0u64;
    let mut fetches = 0u64;
    let mut latencies = Latencies::default();
    let start = Instant::now();
    let mut last_progress = Instant::now();
    let mut last_record = start;
    let mut id = 1i32;
    let mut producer = producer;
    let mut produced = None;
    let result = (|| -> Result<()> {
        while consumed < target {
            // A producer that failed stops the run at once, with its error.
            if producer.as_ref().is_some_and(thread::JoinHandle::is_finished) {
                if let Some(h) = producer.take() {
                    produced = Some(h.join().map_err(|_| anyhow!("the producer thread panicked"))??);
                }
            }
            if last_progress.elapsed() > Duration::from_millis(a.timeout_ms) {
                bail!(
                    "no record arrived for {} ms ({consumed} of {target} records consumed)",
                    a.timeout_ms
                );
            }
            let mut progressed = false;
            for (&leader, (stream, version, addr)) in conns.iter_mut() {
                let request = FetchRequest {
                    replica_id: -1,
                    max_wait_ms: 100,
                    min_bytes: 1,
                    max_bytes: a.fetch_max_bytes,
                    topics: vec![FetchTopic {
                        topic: topic.name.clone(),
                        partitions: cursors
                            .iter()
                            .filter(|c| c.leader == leader)
                            .map(|c| FetchPartition {
                                partition: c.partition,
                                fetch_offset: c.offset,
                                partition_max_bytes: a.partition_max_bytes,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    }],
                    ..Default::default()
                };
                out.clear();
                encode_request(&mut out, ApiKey::Fetch, *version, id, request.into())?;
                stream
                    .write_all(&out)
                    .map_err(|e| anyhow!("lost the connection to {addr}: {}", crate::client::io_reason(&e)))?;
                let frame = frames.read(stream, addr)?;
                let received = Instant::now();
                let received_ms = now_ms();
                fetches += 1;
                if correlation_id(&frame) != id {
                    bail!("the broker at {addr} answered out of order");
                }
                id = id.wrapping_add(1).max(1);
                let response = Response::decode(ApiKey::Fetch, *version, frame)
                    .map_err(|e| anyhow!("cannot read the Fetch response from {addr}: {e}"))?;
                let ResponseBody::Fetch(r) = response.body else {
                    bail!("unexpected response to Fetch");
                };
                if r.error_code != 0 {
                    bail!("fetch from {:?} failed: {}", topic.name, code_name(r.error_code));
                }
                for t in r.responses {
                    for p in t.partitions {
                        if p.error_code != 0 {
                            bail!(
                                "fetch from {:?} partition {} failed: {}",
                                topic.name,
                                p.partition_index,
                                code_name(p.error_code)
                            );
                        }
                        let Some(c) = cursors.iter_mut().find(|c| c.partition == p.partition_index) else {
                            continue;
                        };
                        let Some(Records::Inline(data)) = p.records else {
                            continue;
                        };
                        for batch in Batches::new(&data) {
                            let batch = batch.map_err(|e| {
                                anyhow!("bad record batch in {:?} partition {}: {e}", topic.name, c.partition)
                            })?;
                            let h = batch.header();
                            if h.last_offset() < c.offset {
                                continue;
                            }
                            let n = if h.is_control() {
                                0
                            } else {
                                let from = h.base_offset().max(c.offset);
                                ((h.last_offset() - from + 1) as u64).min(h.records_count().max(0) as u64)
                            };
                            c.offset = h.last_offset() + 1;
                            consumed += n;
                            bytes += h.size_in_bytes() as u64;
                            if live {
                                // The batch's send instant if it is the next one sent to this partition (its
                                // timestamp says so), else the millisecond timestamp.
                                let sent = send_log.get(&c.partition).and_then(|q| {
                                    let mut q = q.lock().unwrap_or_else(|e| e.into_inner());
                                    match q.front() {
                                        Some(&(ms, at)) if ms == h.max_timestamp() => {
                                            q.pop_front();
                                            Some(at)
                                        }
                                        _ => None,
                                    }
                                });
                                let micros = match sent {
                                    Some(at) => received.saturating_duration_since(at).as_micros() as u64,
                                    None => (received_ms - h.max_timestamp()).max(0) as u64 * 1000,
                                };
                                latencies.add(micros, n);
                            }
                            if n > 0 {
                                progressed = true;
                                bar.inc(n);
                            }
                        }
                    }
                }
            }
            if progressed {
                last_progress = Instant::now();
                last_record = last_progress;
            }
        }
        Ok(())
    })();
    bar.finish_and_clear();
    if let Some(h) = producer {
        produced = Some(h.join().map_err(|_| anyhow!("the producer thread panicked"))??);
    }
    result?;
    Ok(ConsumeResult {
        topic: topic.name.clone(),
        partitions: topic.partitions.len(),
        records: consumed,
        bytes,
        fetches,
        elapsed: last_record.duration_since(start),
        end_to_end: latencies.summary(),
        produce: produced,
    })
}
