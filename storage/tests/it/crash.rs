//! The crash test: a child process appends with `flush_messages = 1` and is killed with SIGKILL at random
//! moments, many rounds on the same log. After each kill the log is reopened (unclean, with recovery) and
//! every acknowledged batch must be there, byte-identical, followed by nothing but whole valid batches.
//!
//! The child is this test binary itself, re-run with `KZERO_CRASH_CHILD` set to the log directory: it
//! appends numbered batches and prints `ack <seq> <base_offset>` after each append returns.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use protocol::record::Batches;
use storage::{Log, LogConfig, OpenHints};

use crate::{batch, slice_bytes};

const CHILD_ENV: &str = "KZERO_CRASH_CHILD";

fn config() -> LogConfig {
    LogConfig {
        flush_messages: 1,
        segment_bytes: 64 * 1024,
        ..LogConfig::default()
    }
}

/// Batch `seq`: its size varies so that segments roll at different places.
fn numbered(seq: u64) -> bytes::Bytes {
    batch(seq, 1 + (seq % 7) as usize, 50 + (seq % 13) as usize * 40)
}

/// Runs only as the child: appends forever (until killed), acknowledging each append on stdout.
#[test]
fn crash_child_process() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let (log, _) = Log::open(dir.as_ref(), config(), OpenHints::default()).unwrap();
    // Continue the numbering from what survived: the first record key of the last batch says its seq.
    let mut seq = last_seq(&log).map_or(0, |s| s + 1);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let info = log.append(&numbered(seq), 0).unwrap();
        println!("ack {seq} {}", info.base_offset);
        seq += 1;
    }
}

fn seq_of(batch: &protocol::record::RecordBatch<'_>) -> u64 {
    let first = batch.records().unwrap().next().unwrap().unwrap();
    let key = String::from_utf8(first.key.unwrap().to_vec()).unwrap();
    key.trim_start_matches('k').split('-').next().unwrap().parse().unwrap()
}

fn all_batches(log: &Log) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    let end = log.log_end_offset();
    while offset < end {
        let bytes = slice_bytes(&log.read(offset, 1 << 20, end).unwrap().slice.unwrap());
        for b in Batches::new(&bytes) {
            let b = b.unwrap();
            offset = b.header().last_offset() + 1;
            out.push(b.as_bytes().to_vec());
        }
    }
    out
}

fn last_seq(log: &Log) -> Option<u64> {
    let batches = all_batches(log);
    let last = batches.last()?;
    Some(seq_of(&protocol::record::RecordBatch::parse(last).unwrap().0))
}

#[test]
fn acknowledged_appends_survive_sigkill() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut acked: Vec<(u64, i64)> = Vec::new();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let rounds = 12;
    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash::crash_child_process",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        // Kill after a random number of acknowledgements (0 to 150), so some rounds die early.
        let kill_after = rng % 151;
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut n = 0;
        while n < kill_after {
            let Some(Ok(line)) = lines.next() else { break };
            if let Some(rest) = line.strip_prefix("ack ") {
                let mut parts = rest.split(' ');
                let seq: u64 = parts.next().unwrap().parse().unwrap();
                let base: i64 = parts.next().unwrap().parse().unwrap();
                acked.push((seq, base));
                n += 1;
            }
        }
        // SIGKILL: no destructor, no flush, no clean shutdown.
        child.kill().unwrap();
        child.wait().unwrap();

        let (log, report) = Log::open(dir.path(), config(), OpenHints::default()).unwrap();
        let stored = all_batches(&log);
        // Every acknowledged batch is present at its offset, byte-identical apart from the assigned offset.
        for &(seq, base) in &acked {
            let i = stored
                .iter()
                .position(|b| {
                    protocol::record::RecordBatch::parse(b)
                        .unwrap()
                        .0
                        .header()
                        .base_offset()
                        == base
                })
                .unwrap_or_else(|| panic!("round {round}: acknowledged batch {seq} at {base} is missing ({report:?})"));
            let mut expected = numbered(seq).to_vec();
            protocol::record::set_base_offset(&mut expected, base);
            protocol::record::set_partition_leader_epoch(&mut expected, 0);
            assert_eq!(stored[i], expected, "round {round}: batch {seq} differs");
        }
        // After them only whole, valid batches with consecutive numbers.
        for (i, b) in stored.iter().enumerate() {
            let (batch, _) = protocol::record::RecordBatch::parse(b).unwrap();
            batch.verify_crc().unwrap();
            assert_eq!(seq_of(&batch), i as u64, "round {round}: batches are numbered in order");
        }
        assert!(stored.len() >= acked.len());
        drop(log);
    }
    assert!(acked.len() > 50, "the child should have acknowledged appends");
}
