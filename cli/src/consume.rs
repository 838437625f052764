//! `kzero consume TOPIC`: fetch records and print them, like Kafka's `kafka-console-consumer.sh`.
//!
//! The start is the end of each partition by default (new records only), the beginning with
//! `--from-beginning`, an offset with `--offset`, or the first record at or after a time with
//! `--timestamp`. Output is one line per record: the value (with `--print-key`, the key, a separator and
//! the value; null prints as `null`), or with `--json` an object with topic, partition, offset, timestamp,
//! key, value and headers (see `json.rs` for how bytes are written). `--exit` stops once every partition
//! is caught up to the high watermark, `--max N` after N records.
//!
//! Consumer groups: the group protocol (FindCoordinator, JoinGroup, ...) is not implemented here.
//! `--group` fails with a clear message: the broker does not support groups when it does not advertise
//! FindCoordinator, and otherwise kzero does not yet.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use clap::Args;
use protocol::record::{Batches, RecordBatch};
use protocol::{ApiKey, ErrorCode, FetchPartition, FetchRequest, FetchTopic, Records, ResponseBody};

use crate::client::{code_name, topic_error, Client, PartitionInfo};
use crate::json;
use crate::ConnectArgs;

#[derive(Debug, Args)]
pub struct ConsumeArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// The topic to consume.
    topic: String,
    /// Consume only this partition (default: every partition).
    #[arg(short, long, value_name = "N")]
    partition: Option<i32>,
    /// Start at the beginning of each partition (default: at the end, new records only).
    #[arg(long, conflicts_with_all = ["offset", "timestamp"])]
    from_beginning: bool,
    /// Start at this offset (in every consumed partition).
    #[arg(long, value_name = "OFFSET", conflicts_with = "timestamp")]
    offset: Option<i64>,
    /// Start at the first record whose timestamp is at or after this time (milliseconds since the epoch).
    #[arg(long, value_name = "MS")]
    timestamp: Option<i64>,
    /// Stop after this many records.
    #[arg(short = 'n', long = "max", value_name = "N")]
    max: Option<u64>,
    /// Stop once every partition is caught up to its high watermark.
    #[arg(long)]
    exit: bool,
    /// Stop when no record arrived for this long, in milliseconds.
    #[arg(long, value_name = "MS")]
    timeout_ms: Option<u64>,
    /// Print JSON lines: topic, partition, offset, timestamp, timestamp_type, key, value, headers.
    #[arg(long)]
    json: bool,
    /// Print the key before the value.
    #[arg(long, conflicts_with = "json")]
    print_key: bool,
    /// The separator between key and value with --print-key (default: a tab).
    #[arg(long, value_name = "SEP", default_value = "\t", hide_default_value = true)]
    key_separator: String,
    /// Consume as a member of this consumer group (needs the broker's group APIs).
    #[arg(short, long, value_name = "GROUP")]
    group: Option<String>,
    /// The most bytes one fetch returns per partition (Kafka's max.partition.fetch.bytes).
    #[arg(long, value_name = "BYTES", default_value_t = 1_048_576)]
    partition_max_bytes: i32,
}

/// Where a partition is and where it ends.
#[derive(Debug)]
struct Position {
    info: PartitionInfo,
    offset: i64,
    /// The last high watermark a fetch reported.
    high_watermark: Option<i64>,
}

pub fn run(args: ConsumeArgs) -> Result<ExitCode> {
    let mut client = Client::connect(&args.connect.settings())?;
    if let Some(group) = &args.group {
        let conn = client.bootstrap();
        if !conn.versions.advertises(ApiKey::FindCoordinator) {
            bail!(
                "the broker at {} does not support consumer groups (it does not advertise FindCoordinator); consume without --group",
                conn.addr
            );
        }
        bail!("consuming as a member of group {group:?} is not implemented by kzero yet; consume without --group");
    }
    let topic = client.topic(&args.topic, false)?;
    let partitions: Vec<PartitionInfo> = match args.partition {
        Some(p) => match topic.partitions.iter().find(|x| x.partition == p) {
            Some(x) => vec![x.clone()],
            None => bail!(
                "topic {:?} has no partition {p} (it has {} partitions)",
                args.topic,
                topic.partitions.len()
            ),
        },
        None => topic.partitions.clone(),
    };
    let starts = start_offsets(&mut client, &args, &partitions)?;
    let mut positions: Vec<Position> = partitions
        .into_iter()
        .map(|info| Position {
            offset: starts[&info.partition],
            info,
            high_watermark: None,
        })
        .collect();

    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut printed = 0u64;
    let mut last_record = Instant::now();
    let max_wait = if args.exit { 0 } else { 500 };
    loop {
        if args.max.is_some_and(|m| printed >= m) {
            break;
        }
        if args.exit
            && positions
                .iter()
                .all(|p| p.high_watermark.is_some_and(|hw| p.offset >= hw))
        {
            break;
        }
        if args
            .timeout_ms
            .is_some_and(|t| last_record.elapsed() >= Duration::from_millis(t))
        {
            break;
        }
        let mut by_leader: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
        for (i, p) in positions.iter().enumerate() {
            if args.exit && p.high_watermark.is_some_and(|hw| p.offset >= hw) {
                continue;
            }
            by_leader.entry(p.info.leader).or_default().push(i);
        }
        let mut got_any = false;
        for (leader, indexes) in by_leader {
            if leader < 0 {
                bail!(
                    "topic {:?} partition {} has no leader",
                    args.topic,
                    positions[indexes[0]].info.partition
                );
            }
            let request = FetchRequest {
                replica_id: -1,
                max_wait_ms: max_wait,
                min_bytes: 1,
                max_bytes: 52_428_800,
                isolation_level: 0,
                topics: vec![FetchTopic {
                    topic: args.topic.clone(),
                    partitions: indexes
                        .iter()
                        .map(|&i| FetchPartition {
                            partition: positions[i].info.partition,
                            fetch_offset: positions[i].offset,
                            partition_max_bytes: args.partition_max_bytes,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            };
            let ResponseBody::Fetch(response) = client.leader(leader)?.call(request)? else {
                bail!("unexpected response to Fetch");
            };
            if response.error_code != 0 {
                bail!("fetch from {:?} failed: {}", args.topic, code_name(response.error_code));
            }
            for t in response.responses {
                for pd in t.partitions {
                    let Some(pos) = positions.iter_mut().find(|p| p.info.partition == pd.partition_index) else {
                        continue;
                    };
                    if pd.error_code != 0 {
                        return Err(fetch_error(&mut client, &args.topic, pos, pd.error_code));
                    }
                    pos.high_watermark = Some(pd.high_watermark);
                    let Some(Records::Inline(bytes)) = pd.records else {
                        continue;
                    };
                    let limit = args.max.map(|m| m - printed);
                    let n = print_records(&mut out, &args, pos, &bytes, limit)?;
                    if n > 0 {
                        got_any = true;
                    }
                    printed += n;
                }
            }
        }
        out.flush()?;
        if got_any {
            last_record = Instant::now();
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn start_offsets(client: &mut Client, args: &ConsumeArgs, partitions: &[PartitionInfo]) -> Result<BTreeMap<i32, i64>> {
    if let Some(offset) = args.offset {
        if offset < 0 {
            bail!("--offset must be 0 or more, got {offset}");
        }
        return Ok(partitions.iter().map(|p| (p.partition, offset)).collect());
    }
    if let Some(ts) = args.timestamp {
        if ts < 0 {
            bail!("--timestamp must be milliseconds since the epoch, got {ts}");
        }
        let found = client.list_offsets(&args.topic, partitions, ts)?;
        let ends = client.list_offsets(&args.topic, partitions, -1)?;
        // No record that recent: start at the end.
        return Ok(found
            .into_iter()
            .map(|(p, o)| (p, if o < 0 { ends[&p] } else { o }))
            .collect());
    }
    client.list_offsets(&args.topic, partitions, if args.from_beginning { -2 } else { -1 })
}

fn fetch_error(client: &mut Client, topic: &str, pos: &Position, code: i16) -> anyhow::Error {
    let p = pos.info.partition;
    if code == ErrorCode::OffsetOutOfRange.code() {
        let range = client
            .list_offsets(topic, std::slice::from_ref(&pos.info), -2)
            .and_then(|s| Ok((s, client.list_offsets(topic, std::slice::from_ref(&pos.info), -1)?)));
        return match range {
            Ok((s, e)) => anyhow!(
                "offset {} is out of range for {topic:?} partition {p} (its offsets are {} to {})",
                pos.offset,
                s[&p],
                e[&p]
            ),
            Err(_) => anyhow!("offset {} is out of range for {topic:?} partition {p}", pos.offset),
        };
    }
    if code == ErrorCode::UnknownTopicOrPartition.code() {
        return anyhow!("{}", topic_error(topic, code));
    }
    anyhow!("fetch from {topic:?} partition {p} failed: {}", code_name(code))
}

/// Prints the records of `bytes` at or after the partition's position (at most `limit`), moving the
/// position past every whole batch. Returns the number printed.
fn print_records(
    out: &mut impl Write,
    args: &ConsumeArgs,
    pos: &mut Position,
    bytes: &[u8],
    limit: Option<u64>,
) -> Result<u64> {
    let mut printed = 0u64;
    let mut line = String::new();
    for batch in Batches::new(bytes) {
        let batch: RecordBatch<'_> = batch.map_err(|e| {
            anyhow!(
                "{:?} partition {} has a bad record batch near offset {}: {e}",
                args.topic,
                pos.info.partition,
                pos.offset
            )
        })?;
        let h = batch.header();
        if h.last_offset() < pos.offset {
            continue;
        }
        if h.is_control() {
            pos.offset = h.last_offset() + 1;
            continue;
        }
        let records = batch.records().map_err(|e| {
            anyhow!(
                "{:?} partition {} offset {}: {e}",
                args.topic,
                pos.info.partition,
                h.base_offset()
            )
        })?;
        for r in records {
            let r = r.map_err(|e| {
                anyhow!(
                    "{:?} partition {} batch at offset {}: {e}",
                    args.topic,
                    pos.info.partition,
                    h.base_offset()
                )
            })?;
            let offset = h.base_offset() + i64::from(r.offset_delta);
            if offset < pos.offset {
                continue;
            }
            if limit.is_some_and(|l| printed >= l) {
                return Ok(printed);
            }
            let timestamp = if h.is_log_append_time() {
                h.max_timestamp()
            } else {
                h.base_timestamp() + r.timestamp_delta
            };
            if args.json {
                line.clear();
                let headers = {
                    let mut s = String::from("[");
                    for (i, hd) in r.headers.iter().enumerate() {
                        if i > 0 {
                            s.push(',');
                        }
                        s.push_str(
                            &json::Object::new()
                                .bytes("key", Some(&hd.key))
                                .bytes("value", hd.value.as_deref())
                                .finish(),
                        );
                    }
                    s.push(']');
                    s
                };
                line.push_str(
                    &json::Object::new()
                        .str("topic", &args.topic)
                        .int("partition", i64::from(pos.info.partition))
                        .int("offset", offset)
                        .int("timestamp", timestamp)
                        .str(
                            "timestamp_type",
                            if h.is_log_append_time() {
                                "LogAppendTime"
                            } else {
                                "CreateTime"
                            },
                        )
                        .bytes("key", r.key.as_deref())
                        .bytes("value", r.value.as_deref())
                        .raw("headers", &headers)
                        .finish(),
                );
                line.push('\n');
                out.write_all(line.as_bytes())?;
            } else {
                if args.print_key {
                    out.write_all(r.key.as_deref().unwrap_or(b"null"))?;
                    out.write_all(args.key_separator.as_bytes())?;
                }
                out.write_all(r.value.as_deref().unwrap_or(b"null"))?;
                out.write_all(b"\n")?;
            }
            printed += 1;
            pos.offset = offset + 1;
        }
        pos.offset = pos.offset.max(h.last_offset() + 1);
    }
    Ok(printed)
}
