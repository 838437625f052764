//! `kzero produce TOPIC`: lines from standard input (or `--file`) become records, like Kafka's
//! `kafka-console-producer.sh`.
//!
//! Each line (without its `\n`, or `\r\n`) is one record value; with `--key-separator SEP` the text
//! before the first SEP is the key. Records are batched per partition, up to `--batch-size` bytes, and a
//! batch goes out as soon as no more input is waiting, so typed lines are sent at once. Partitions are
//! chosen as Kafka's default partitioner does: murmur2 of the key, and a partition per batch (round
//! robin) for null keys. The default `--acks all` is Kafka's producer default since 3.0.
//!
//! Errors are reported per record, by line number: a line without the key separator, and every line of a
//! batch the broker refused. When the broker refuses a batch for something a single record can cause
//! (`MESSAGE_TOO_LARGE`, `INVALID_RECORD`, ...), the batch's records are sent again one at a time (a
//! refused batch was not appended), so the error names the exact line.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use bytes::Bytes;
use clap::builder::PossibleValuesParser;
use clap::{builder::TypedValueParser, Args};
use protocol::record::{BatchBuilder, Compression, Header, Record};
use protocol::{ErrorCode, PartitionProduceData, ProduceRequest, Records, ResponseBody, TopicProduceData};

use crate::client::{code_name, now_ms, topic_error, Client, TopicInfo};
use crate::ConnectArgs;

#[derive(Debug, Args)]
pub struct ProduceArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// The topic to produce to (created if the broker auto-creates topics).
    topic: String,
    /// Read lines from this file instead of standard input.
    #[arg(short, long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// Split each line at the first SEP: key before, value after (without this option keys are null).
    #[arg(short = 'k', long, value_name = "SEP")]
    key_separator: Option<String>,
    /// A header added to every record; repeatable.
    #[arg(short = 'H', long = "header", value_name = "KEY=VALUE", value_parser = parse_header)]
    headers: Vec<(String, String)>,
    /// The compression codec of the record batches.
    #[arg(short = 'z', long, value_name = "CODEC", default_value = "none", value_parser = compression_parser())]
    compression: Compression,
    /// Acknowledgements to wait for: all (-1), 1 (the leader) or 0 (none, no errors reported).
    #[arg(short, long, value_name = "ACKS", default_value = "all", value_parser = parse_acks, allow_hyphen_values = true)]
    acks: i16,
    /// Send every record to this partition (default: by key hash; null keys round-robin per batch).
    #[arg(short, long, value_name = "N")]
    partition: Option<i32>,
    /// The most bytes of records per batch (Kafka's batch.size).
    #[arg(long, value_name = "BYTES", default_value_t = 16_384)]
    batch_size: usize,
}

/// `none|gzip|snappy|lz4|zstd`, listed in `--help`.
pub fn compression_parser() -> impl TypedValueParser<Value = Compression> {
    PossibleValuesParser::new(Compression::ALL.map(Compression::name))
        .map(|s| Compression::from_name(&s).unwrap_or_default())
}

/// `all`, `-1`, `0` or `1`.
pub fn parse_acks(s: &str) -> Result<i16, String> {
    match s {
        "all" | "-1" => Ok(-1),
        "0" => Ok(0),
        "1" => Ok(1),
        _ => Err(format!("expected all, -1, 0 or 1, got {s:?}")),
    }
}

fn parse_header(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

/// Kafka's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`), used to pick a key's partition.
pub fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition Kafka's default partitioner gives a non-null key.
pub fn key_partition(key: &[u8], partitions: i32) -> i32 {
    (murmur2(key) & 0x7fff_ffff) % partitions
}

/// A Produce request with one batch per partition of one topic.
pub fn produce_request(topic: &str, acks: i16, timeout_ms: i32, batches: Vec<(i32, Bytes)>) -> ProduceRequest {
    ProduceRequest {
        acks,
        timeout_ms,
        topic_data: vec![TopicProduceData {
            name: topic.to_string(),
            partition_data: batches
                .into_iter()
                .map(|(index, b)| PartitionProduceData {
                    index,
                    records: Some(Records::Inline(b)),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Records waiting for one partition, with the input lines they came from.
#[derive(Debug, Default)]
struct Pending {
    records: Vec<Record>,
    lines: Vec<u64>,
    timestamps: Vec<i64>,
    bytes: usize,
}

struct Producer<'a> {
    client: Client,
    topic: TopicInfo,
    args: &'a ProduceArgs,
    headers: Vec<Header>,
    pending: BTreeMap<i32, Pending>,
    next_null_partition: i32,
    failed: u64,
    total: u64,
}

const RECORD_ERRORS: [ErrorCode; 5] = [
    ErrorCode::MessageTooLarge,
    ErrorCode::InvalidRecord,
    ErrorCode::CorruptMessage,
    ErrorCode::RecordListTooLarge,
    ErrorCode::InvalidTimestamp,
];

pub fn run(args: ProduceArgs) -> Result<ExitCode> {
    let settings = args.connect.settings()?;
    let input: Box<dyn Read> = match &args.file {
        Some(path) => Box::new(
            File::open(path)
                .map_err(|e| anyhow!("cannot open {}: {}", path.display(), crate::client::io_reason(&e)))?,
        ),
        None => Box::new(io::stdin()),
    };
    let mut client = Client::connect(&settings)?;
    let topic = client.topic(&args.topic, true)?;
    if let Some(p) = args.partition {
        if !topic.partitions.iter().any(|x| x.partition == p) {
            bail!(
                "topic {:?} has no partition {p} (it has {} partitions)",
                args.topic,
                topic.partitions.len()
            );
        }
    }
    let headers = args
        .headers
        .iter()
        .map(|(k, v)| Header {
            key: Bytes::copy_from_slice(k.as_bytes()),
            value: Some(Bytes::copy_from_slice(v.as_bytes())),
        })
        .collect();
    let mut producer = Producer {
        client,
        topic,
        args: &args,
        headers,
        pending: BTreeMap::new(),
        next_null_partition: (now_ms() % 1024) as i32,
        failed: 0,
        total: 0,
    };
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| anyhow!("cannot read the input: {e}"))?;
        if n == 0 {
            break;
        }
        number += 1;
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        producer.add(number, &line)?;
        // Send when no more input is waiting, so that lines typed at a terminal go out at once.
        if reader.buffer().is_empty() {
            producer.flush_all()?;
        }
    }
    producer.flush_all()?;
    if producer.failed > 0 {
        bail!("{} of {} records failed", producer.failed, producer.total);
    }
    Ok(ExitCode::SUCCESS)
}

impl Producer<'_> {
    fn partitions(&self) -> i32 {
        self.topic.partitions.len() as i32
    }

    fn add(&mut self, number: u64, line: &[u8]) -> Result<()> {
        self.total += 1;
        let (key, value) = match &self.args.key_separator {
            None => (None, line),
            Some(sep) => match find(line, sep.as_bytes()) {
                Some(i) => (Some(&line[..i]), &line[i + sep.len()..]),
                None => {
                    self.fail_lines(&[number], &format!("no key separator {sep:?} in the line"));
                    return Ok(());
                }
            },
        };
        let partition = match (self.args.partition, key) {
            (Some(p), _) => p,
            (None, Some(k)) => key_partition(k, self.partitions()),
            (None, None) => self.next_null_partition.rem_euclid(self.partitions()),
        };
        let record = Record {
            key: key.map(Bytes::copy_from_slice),
            value: Some(Bytes::copy_from_slice(value)),
            headers: self.headers.clone(),
            ..Record::default()
        };
        let size = value.len() + key.map_or(0, <[u8]>::len) + 16;
        let pending = self.pending.entry(partition).or_default();
        pending.records.push(record);
        pending.lines.push(number);
        pending.timestamps.push(now_ms());
        pending.bytes += size;
        if pending.bytes >= self.args.batch_size {
            self.flush_all()?;
        }
        Ok(())
    }

    fn fail_lines(&mut self, lines: &[u64], reason: &str) {
        self.failed += lines.len() as u64;
        let what = match lines {
            [one] => format!("line {one}"),
            [first, .., last] if last - first + 1 == lines.len() as u64 => {
                format!("lines {first}-{last} ({} records)", lines.len())
            }
            _ => format!(
                "lines {}",
                lines.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
            ),
        };
        let _ = writeln!(io::stderr(), "error: {what}: {reason}");
    }

    /// Sends every pending batch: one Produce request per leader.
    fn flush_all(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        // Null keys stick to one partition per batch; the next batch goes to the next partition.
        self.next_null_partition = self.next_null_partition.wrapping_add(1);
        let pending = std::mem::take(&mut self.pending);
        let mut by_leader: BTreeMap<i32, Vec<(i32, Pending)>> = BTreeMap::new();
        for (partition, p) in pending {
            let leader = self
                .topic
                .partitions
                .iter()
                .find(|x| x.partition == partition)
                .map_or(-1, |x| x.leader);
            by_leader.entry(leader).or_default().push((partition, p));
        }
        for (leader, batches) in by_leader {
            self.send(leader, batches, 0)?;
        }
        Ok(())
    }

    fn build(&self, p: &Pending) -> Result<Bytes> {
        let base = p.timestamps.first().copied().unwrap_or_else(now_ms);
        let mut b = BatchBuilder::new(self.args.compression, base);
        for (r, ts) in p.records.iter().zip(&p.timestamps) {
            let mut r = r.clone();
            r.timestamp_delta = ts - base;
            b.push(r);
        }
        b.build().map_err(|e| anyhow!("cannot build a record batch: {e}"))
    }

    fn send(&mut self, leader: i32, batches: Vec<(i32, Pending)>, attempt: u32) -> Result<()> {
        if leader < 0 {
            for (partition, p) in &batches {
                self.fail_lines(&p.lines, &format!("partition {partition} has no leader"));
            }
            return Ok(());
        }
        let mut encoded = Vec::with_capacity(batches.len());
        for (partition, p) in &batches {
            encoded.push((*partition, self.build(p)?));
        }
        let timeout = self.args.connect.request_timeout_ms.min(i32::MAX as u64) as i32;
        let request = produce_request(&self.topic.name, self.args.acks, timeout, encoded);
        let conn = self.client.leader(leader)?;
        if self.args.acks == 0 {
            return conn.call_no_response(request);
        }
        let ResponseBody::Produce(response) = conn.call(request)? else {
            bail!("unexpected response to Produce");
        };
        let mut codes: BTreeMap<i32, i16> = BTreeMap::new();
        for t in response.responses {
            for p in t.partition_responses {
                codes.insert(p.index, p.error_code);
            }
        }
        let mut retry = Vec::new();
        for (partition, p) in batches {
            let code = codes
                .get(&partition)
                .copied()
                .unwrap_or(ErrorCode::UnknownServerError.code());
            if code == 0 {
                continue;
            }
            let ec = ErrorCode::from_code(code);
            if ec.is_some_and(|c| RECORD_ERRORS.contains(&c)) && p.records.len() > 1 {
                // Find the culprits: the refused batch was not appended, so each record goes again alone.
                for i in 0..p.records.len() {
                    let one = Pending {
                        records: vec![p.records[i].clone()],
                        lines: vec![p.lines[i]],
                        timestamps: vec![p.timestamps[i]],
                        bytes: 0,
                    };
                    self.send(leader, vec![(partition, one)], attempt)?;
                }
            } else if ec.is_some_and(ErrorCode::is_retriable) && attempt < 5 {
                retry.push((partition, p));
            } else {
                let reason = match ec {
                    Some(ErrorCode::UnknownTopicOrPartition) => topic_error(&self.topic.name, code),
                    Some(ErrorCode::MessageTooLarge) => {
                        "MESSAGE_TOO_LARGE: the record is larger than the broker or topic accepts".to_string()
                    }
                    _ => code_name(code),
                };
                self.fail_lines(&p.lines, &format!("partition {partition}: {reason}"));
            }
        }
        if !retry.is_empty() {
            std::thread::sleep(Duration::from_millis(100 << attempt.min(4)));
            self.topic = self.client.topic(&self.args.topic, true)?;
            for (partition, p) in retry {
                let leader = self
                    .topic
                    .partitions
                    .iter()
                    .find(|x| x.partition == partition)
                    .map_or(-1, |x| x.leader);
                self.send(leader, vec![(partition, p)], attempt + 1)?;
            }
        }
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests;
