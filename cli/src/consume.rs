//! `kzero consume TOPIC`: fetch records and print them, like Kafka's `kafka-console-consumer.sh`.
//!
//! The start is the end of each partition by default (new records only), the beginning with
//! `--from-beginning`, an offset with `--offset`, or the first record at or after a time with
//! `--timestamp`. Output is one line per record: the value (with `--print-key`, the key, a separator and
//! the value; null prints as `null`), or with `--json` an object with topic, partition, offset, timestamp,
//! key, value and headers (see `json.rs` for how bytes are written). `--exit` stops once every partition
//! is caught up to the high watermark, `--max N` after N records.
//!
//! With `--group G` the consumer is a member of the classic consumer group G (see `member.rs`): it
//! consumes only the partitions the group assigns it, starts each at the group's committed offset (or,
//! when there is none, at the beginning with `--from-beginning`, else at the end), and commits what it
//! has printed every 5 seconds, before it rejoins after a rebalance, and when it exits, then leaves the
//! group. So a second `consume --group G` resumes after what the first printed, and concurrent ones share
//! the partitions. `--exit` then stops once the member's own partitions are caught up, and `--timeout-ms`
//! counts from the member's latest assignment. A consumer killed by a signal commits nothing more and
//! holds its partitions until its session times out (10 s); what it printed since its last commit is
//! printed again by the next member.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use clap::Args;
use protocol::record::{Batches, RecordBatch};
use protocol::{ApiKey, ErrorCode, FetchPartition, FetchRequest, FetchTopic, Records, ResponseBody};

use crate::client::{code_name, topic_error, Client, PartitionInfo, TopicInfo};
use crate::group::OffsetToCommit;
use crate::json;
use crate::member::{Member, Outcome, AUTO_COMMIT_INTERVAL, HEARTBEAT_INTERVAL};
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
    /// Start at the beginning of each partition (default: at the end, new records only); with --group,
    /// only partitions without a committed offset.
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
    /// Stop once every partition (with --group: every assigned one) is caught up to its high watermark.
    #[arg(long)]
    exit: bool,
    /// Stop when no record arrived for this long, in milliseconds (with --group: since the latest
    /// assignment or record).
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
    /// Consume as a member of this consumer group: share the partitions with its other members, start at
    /// its committed offsets, and commit what was printed (every 5 s and on exit).
    #[arg(short, long, value_name = "GROUP", conflicts_with_all = ["partition", "offset", "timestamp"])]
    group: Option<String>,
    /// The most bytes one fetch returns per partition (Kafka's max.partition.fetch.bytes).
    #[arg(long, value_name = "BYTES", default_value_t = 1_048_576)]
    partition_max_bytes: i32,
}

/// Where a partition is and where it ends.
#[derive(Debug)]
struct Position {
    info: PartitionInfo,
    /// The next offset to print.
    offset: i64,
    /// The leader epoch of the batch that held the last printed record (-1 before any).
    epoch: i32,
    /// The last high watermark a fetch reported.
    high_watermark: Option<i64>,
    /// `offset` and `epoch` when standard output was last flushed: what a commit may say was printed.
    flushed: (i64, i32),
    /// The offset the group has committed for this partition, as far as this member knows.
    committed: Option<i64>,
}

impl Position {
    fn new(info: PartitionInfo, offset: i64, epoch: i32) -> Position {
        Position {
            info,
            offset,
            epoch,
            high_watermark: None,
            flushed: (offset, epoch),
            committed: None,
        }
    }

    fn caught_up(&self) -> bool {
        self.high_watermark.is_some_and(|hw| self.offset >= hw)
    }
}

pub fn run(args: ConsumeArgs) -> Result<ExitCode> {
    let mut client = Client::connect(&args.connect.settings()?)?;
    if let Some(group) = &args.group {
        return run_in_group(client, &args, group);
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
        .map(|info| {
            let start = starts[&info.partition];
            Position::new(info, start, -1)
        })
        .collect();

    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut printed = 0u64;
    let mut last_record = Instant::now();
    while !finished(&args, &positions, printed, last_record) {
        if fetch_round(&mut client, &args, &mut positions, &mut out, &mut printed, None)? {
            last_record = Instant::now();
        }
        out.flush()?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// True once `--max`, `--exit` or `--timeout-ms` says to stop.
fn finished(args: &ConsumeArgs, positions: &[Position], printed: u64, last_record: Instant) -> bool {
    args.max.is_some_and(|m| printed >= m)
        || (args.exit && positions.iter().all(Position::caught_up))
        || args
            .timeout_ms
            .is_some_and(|t| last_record.elapsed() >= Duration::from_millis(t))
}

/// The ListOffsets timestamp of where to start a partition without a committed offset.
fn reset_timestamp(args: &ConsumeArgs) -> i64 {
    if args.from_beginning {
        -2
    } else {
        -1
    }
}

/// `consume --group`: joins, consumes the assignment, commits, and leaves whatever happened.
fn run_in_group(mut client: Client, args: &ConsumeArgs, group: &str) -> Result<ExitCode> {
    let conn = client.bootstrap();
    if !conn.versions.advertises(ApiKey::FindCoordinator) {
        bail!(
            "the broker at {} does not support consumer groups (it does not advertise FindCoordinator); consume without --group",
            conn.addr
        );
    }
    let topic = client.topic(&args.topic, false)?;
    // Ctrl-C and SIGTERM end the run like --exit does: commit what was printed, leave the group.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    let mut member = Member::new(&mut client, group, &args.topic)?;
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut positions = Vec::new();
    let result =
        consume_as_member(&mut client, &mut member, args, topic, &mut out, &mut positions, &stop).and_then(|()| {
            out.flush()?;
            mark_flushed(&mut positions);
            Ok(())
        });
    // Whatever ended the run (even a closed standard output), commit what reached standard output and
    // leave, so that the group moves on at once and the next member starts after it.
    let committed = final_commit(&mut client, &mut member, group, &args.topic, &mut positions);
    let left = member.leave(&mut client);
    result?;
    committed?;
    left?;
    Ok(ExitCode::SUCCESS)
}

/// The member's loop: (re)join, start the assigned partitions, fetch and print, heartbeat and commit.
fn consume_as_member(
    client: &mut Client,
    member: &mut Member,
    args: &ConsumeArgs,
    mut topic: TopicInfo,
    out: &mut impl Write,
    positions: &mut Vec<Position>,
    stop: &AtomicBool,
) -> Result<()> {
    let mut printed = 0u64;
    let mut reason = "kzero consume is starting";
    loop {
        positions.clear();
        let assigned = member.join(client, reason)?;
        if assigned
            .iter()
            .any(|p| !topic.partitions.iter().any(|i| i.partition == *p))
        {
            topic = client.topic(&args.topic, false)?;
        }
        let infos: Vec<PartitionInfo> = topic
            .partitions
            .iter()
            .filter(|i| assigned.contains(&i.partition))
            .cloned()
            .collect();
        let committed = member.committed(client, &assigned)?;
        let unset: Vec<PartitionInfo> = infos
            .iter()
            .filter(|i| !committed.contains_key(&i.partition))
            .cloned()
            .collect();
        let resets = if unset.is_empty() {
            BTreeMap::new()
        } else {
            client.list_offsets(&args.topic, &unset, reset_timestamp(args))?
        };
        for info in infos {
            positions.push(match committed.get(&info.partition) {
                Some(&(offset, epoch)) => Position {
                    committed: Some(offset),
                    ..Position::new(info, offset, epoch)
                },
                None => {
                    let offset = resets.get(&info.partition).copied().unwrap_or(0);
                    Position::new(info, offset, -1)
                }
            });
        }

        let mut last_record = Instant::now();
        let mut next_heartbeat = Instant::now() + HEARTBEAT_INTERVAL;
        let mut next_commit = Instant::now() + AUTO_COMMIT_INTERVAL;
        let rejoin = loop {
            if finished(args, positions, printed, last_record) || stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let now = Instant::now();
            if now >= next_heartbeat {
                next_heartbeat = now + HEARTBEAT_INTERVAL;
                if member.heartbeat(client)? == Outcome::Rejoin {
                    break "the group is rebalancing";
                }
            }
            if now >= next_commit {
                next_commit = now + AUTO_COMMIT_INTERVAL;
                if commit_printed(client, member, positions)? == Outcome::Rejoin {
                    break "a commit found the group rebalancing";
                }
            }
            let reset = Some(reset_timestamp(args));
            if fetch_round(client, args, positions, out, &mut printed, reset)? {
                last_record = Instant::now();
            }
            out.flush()?;
            mark_flushed(positions);
        };
        // Eager rebalance: commit what was printed, give every partition up, join again.
        if !member.member_id().is_empty() {
            commit_printed(client, member, positions)?;
        }
        reason = rejoin;
    }
}

fn mark_flushed(positions: &mut [Position]) {
    for p in positions {
        p.flushed = (p.offset, p.epoch);
    }
}

/// Commits each partition whose printed position differs from what the group has committed.
fn commit_printed(client: &mut Client, member: &mut Member, positions: &mut [Position]) -> Result<Outcome> {
    let offsets: Vec<OffsetToCommit> = positions
        .iter()
        .filter(|p| p.committed != Some(p.flushed.0))
        .map(|p| OffsetToCommit {
            partition: p.info.partition,
            offset: p.flushed.0,
            leader_epoch: p.flushed.1,
        })
        .collect();
    let outcome = member.commit(client, &offsets)?;
    if outcome == Outcome::Ok {
        for p in positions.iter_mut() {
            p.committed = Some(p.flushed.0);
        }
    }
    Ok(outcome)
}

/// The commit on exit: asks again while the coordinator is busy; warns when the group has moved on.
fn final_commit(
    client: &mut Client,
    member: &mut Member,
    group: &str,
    topic: &str,
    positions: &mut [Position],
) -> Result<()> {
    if member.member_id().is_empty() {
        return Ok(());
    }
    for attempt in 0..10 {
        match commit_printed(client, member, positions)? {
            Outcome::Ok => return Ok(()),
            Outcome::Retry => crate::group::backoff(attempt),
            Outcome::Rejoin => break,
        }
    }
    let _ = writeln!(
        io::stderr(),
        "warning: could not commit the last offsets of {topic:?} for group {group:?} (it was rebalancing); \
         the next member may print those records again"
    );
    Ok(())
}

/// One fetch from each leader for the partitions that are not done; prints what came back. With `reset`
/// (a ListOffsets timestamp), a position out of range starts again there, as Kafka's
/// `auto.offset.reset` does. With nothing to fetch it waits as long as a fetch would. Returns true if a
/// record was printed.
fn fetch_round(
    client: &mut Client,
    args: &ConsumeArgs,
    positions: &mut [Position],
    out: &mut impl Write,
    printed: &mut u64,
    reset: Option<i64>,
) -> Result<bool> {
    let max_wait = if args.exit { 0 } else { 500 };
    let mut by_leader: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
    for (i, p) in positions.iter().enumerate() {
        if args.exit && p.caught_up() {
            continue;
        }
        by_leader.entry(p.info.leader).or_default().push(i);
    }
    if by_leader.is_empty() {
        std::thread::sleep(Duration::from_millis(max_wait.max(100) as u64));
        return Ok(false);
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
                if pd.error_code == ErrorCode::OffsetOutOfRange.code() {
                    if let Some(ts) = reset {
                        let start = client.list_offsets(&args.topic, std::slice::from_ref(&pos.info), ts)?;
                        let to = start.get(&pos.info.partition).copied().unwrap_or(0);
                        let _ = writeln!(
                            io::stderr(),
                            "warning: offset {} is out of range for {:?} partition {}; starting at {to}",
                            pos.offset,
                            args.topic,
                            pos.info.partition
                        );
                        pos.offset = to;
                        continue;
                    }
                }
                if pd.error_code != 0 {
                    return Err(fetch_error(client, &args.topic, pos, pd.error_code));
                }
                pos.high_watermark = Some(pd.high_watermark);
                let Some(Records::Inline(bytes)) = pd.records else {
                    continue;
                };
                let limit = args.max.map(|m| m - *printed);
                let n = print_records(out, args, pos, &bytes, limit)?;
                if n > 0 {
                    got_any = true;
                }
                *printed += n;
            }
        }
    }
    Ok(got_any)
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
    client.list_offsets(&args.topic, partitions, reset_timestamp(args))
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
            pos.epoch = h.partition_leader_epoch();
        }
        pos.offset = pos.offset.max(h.last_offset() + 1);
    }
    Ok(printed)
}
