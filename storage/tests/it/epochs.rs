//! The leader-epoch cache of a log: assignment on leader and follower appends, truncation at both ends,
//! Kafka's `endOffsetFor` answers, and `leader-epoch-checkpoint` across clean and unclean reopens, a
//! missing or malformed file, and a torn tail; then a property test against a model.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use storage::{Log, LogConfig, OpenHints};

use crate::batch;

const FILE: &str = "leader-epoch-checkpoint";

/// Segments of a few batches of [`batch`]`(_, 3, 100)` (about 400 bytes each), so that logs roll.
fn small_segments() -> LogConfig {
    LogConfig {
        segment_bytes: 1500,
        index_interval_bytes: 512,
        ..LogConfig::default()
    }
}

fn open(dir: &Path, config: LogConfig, hints: OpenHints) -> Log {
    Log::open(dir, config, hints).unwrap().0
}

fn clean(log: &Log) -> OpenHints {
    OpenHints {
        clean_shutdown: true,
        recovery_point: log.recovery_point(),
        log_start_offset: log.log_start_offset(),
    }
}

fn unclean(recovery_point: i64, log_start_offset: i64) -> OpenHints {
    OpenHints {
        clean_shutdown: false,
        recovery_point,
        log_start_offset,
    }
}

fn file(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

fn file_text(dir: &Path) -> Option<String> {
    std::fs::read_to_string(file(dir)).ok()
}

/// Kafka's checkpoint text for `entries`.
fn text(entries: &[(i32, i64)]) -> String {
    let mut t = format!("0\n{}\n", entries.len());
    for (e, o) in entries {
        t.push_str(&format!("{e} {o}\n"));
    }
    t
}

/// Appends `n` batches of 3 records at `epoch`; returns the base offset of the first.
fn append_n(log: &Log, epoch: i32, n: usize) -> i64 {
    let first = log.log_end_offset();
    for i in 0..n {
        log.append(&batch(first as u64 + i as u64, 3, 100), epoch).unwrap();
    }
    first
}

/// A batch as a leader stored it: `records` records from `base`, stamped with `epoch`.
fn stored_batch(base: i64, epoch: i32, records: usize) -> Vec<u8> {
    let mut b = batch(base as u64, records, 50).to_vec();
    protocol::record::set_base_offset(&mut b, base);
    protocol::record::set_partition_leader_epoch(&mut b, epoch);
    b
}

/// The entries and their file agree, and `end_offset_for_epoch` answers `expected` for each epoch.
fn check(log: &Log, entries: &[(i32, i64)], expected: &[(i32, Option<(i32, i64)>)]) {
    assert_eq!(log.epoch_entries(), entries);
    assert_eq!(log.latest_epoch(), entries.last().map(|e| e.0));
    let on_disk = file_text(log.dir());
    if entries.is_empty() {
        assert!(on_disk.is_none() || on_disk.as_deref() == Some("0\n0\n"), "{on_disk:?}");
    } else {
        assert_eq!(
            on_disk.as_deref(),
            Some(text(entries).as_str()),
            "the file follows the cache"
        );
    }
    for &(requested, answer) in expected {
        assert_eq!(log.end_offset_for_epoch(requested), answer, "epoch {requested}");
    }
}

#[test]
fn leader_appends_assign_epochs_and_answer_end_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_segments(), OpenHints::default());
    check(&log, &[], &[(0, None), (-1, None)]);
    assert!(file_text(dir.path()).is_none(), "no file for a log without epochs");

    append_n(&log, 0, 2); // 0..6
    let e2 = append_n(&log, 2, 3); // 6..15
    append_n(&log, 2, 1); // 15..18: same epoch, no entry
    let e5 = append_n(&log, 5, 4); // 18..30, over several segments
    assert!(log.segment_count() > 2);
    assert_eq!((e2, e5, log.log_end_offset()), (6, 18, 30));
    check(
        &log,
        &[(0, 0), (2, 6), (5, 18)],
        &[
            (5, Some((5, 30))),
            (2, Some((2, 18))),
            (0, Some((0, 6))),
            (1, Some((0, 6))),
            (3, Some((2, 18))),
            (4, Some((2, 18))),
            (6, None),
            (-1, None),
        ],
    );

    // A lower epoch is ignored: the batch is appended, the cache does not move.
    append_n(&log, 3, 1);
    check(&log, &[(0, 0), (2, 6), (5, 18)], &[(5, Some((5, 33)))]);
    // The batch carries the epoch it was given.
    let read = log.read(30, 1 << 20, 33).unwrap();
    let bytes = crate::slice_bytes(&read.slice.unwrap());
    let (b, _) = protocol::record::RecordBatch::parse(&bytes).unwrap();
    assert_eq!(b.header().partition_leader_epoch(), 3);
}

#[test]
fn follower_appends_take_each_batchs_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_segments(), OpenHints::default());
    // One fetch response with mixed epochs (and one lower epoch, ignored) over a roll.
    let mut fetched = Vec::new();
    for (base, epoch) in [(0, 1), (3, 1), (6, 3), (9, 2), (12, 4), (15, 4), (18, 4), (21, 7)] {
        fetched.extend(stored_batch(base, epoch, 3));
    }
    let info = log.append_as_follower(&fetched).unwrap().unwrap();
    assert_eq!((info.base_offset, info.last_offset), (0, 23));
    assert!(log.segment_count() > 1);
    check(
        &log,
        &[(1, 0), (3, 6), (4, 12), (7, 21)],
        &[
            (2, Some((1, 6))),
            (3, Some((3, 12))),
            (7, Some((7, 24))),
            (0, Some((0, 0))),
        ],
    );
    // Batches without a leader epoch (-1) assign nothing.
    log.append_as_follower(&stored_batch(24, -1, 2)).unwrap();
    check(&log, &[(1, 0), (3, 6), (4, 12), (7, 21)], &[]);
    // A rejected fetch (offsets that do not continue the log) changes nothing.
    assert!(log.append_as_follower(&stored_batch(100, 9, 1)).is_err());
    check(&log, &[(1, 0), (3, 6), (4, 12), (7, 21)], &[]);
}

#[test]
fn truncation_forgets_the_epochs_it_cuts() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_segments(), OpenHints::default());
    append_n(&log, 1, 2); // 0..6
    append_n(&log, 3, 2); // 6..12
    append_n(&log, 4, 2); // 12..18
    append_n(&log, 6, 2); // 18..24
                          // Inside an epoch: it stays, later ones go.
    log.truncate_to(14).unwrap();
    // The log end is the start of the batch holding 14.
    assert_eq!(log.log_end_offset(), 12);
    check(&log, &[(1, 0), (3, 6)], &[(3, Some((3, 12))), (4, None)]);
    // A new leader's epoch continues from there.
    append_n(&log, 8, 1);
    check(
        &log,
        &[(1, 0), (3, 6), (8, 12)],
        &[(4, Some((3, 12))), (8, Some((8, 15)))],
    );
    // Exactly at an epoch's start.
    log.truncate_to(6).unwrap();
    check(&log, &[(1, 0)], &[(1, Some((1, 6)))]);
    // At or past the end: nothing changes.
    log.truncate_to(100).unwrap();
    check(&log, &[(1, 0)], &[]);
    // Below the log start the log restarts empty at the offset, without epochs.
    log.delete_records_before(3).unwrap();
    check(&log, &[(1, 3)], &[]);
    log.truncate_to(1).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (1, 1));
    check(&log, &[], &[(1, None)]);
    append_n(&log, 9, 1);
    check(&log, &[(9, 1)], &[(9, Some((9, 4)))]);
}

#[test]
fn a_rising_log_start_moves_the_first_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        retention_bytes: 1000,
        ..small_segments()
    };
    let log = open(dir.path(), config, OpenHints::default());
    append_n(&log, 1, 2); // 0..6
    append_n(&log, 2, 2); // 6..12
    append_n(&log, 5, 6); // 12..30
    check(&log, &[(1, 0), (2, 6), (5, 12)], &[]);

    // DeleteRecords inside epoch 1: it now starts at the new log start.
    log.delete_records_before(4).unwrap();
    check(
        &log,
        &[(1, 4), (2, 6), (5, 12)],
        &[(1, Some((1, 6))), (0, Some((0, 4)))],
    );
    // Past epoch 2's start: epoch 1 goes, epoch 2 starts at 7.
    log.delete_records_before(7).unwrap();
    check(&log, &[(2, 7), (5, 12)], &[(1, Some((1, 7)))]);
    // Lower than the log start: nothing.
    log.delete_records_before(2).unwrap();
    check(&log, &[(2, 7), (5, 12)], &[]);

    // Retention deletes whole segments: the log start moves to a segment base inside epoch 5.
    let deleted = log.apply_retention(log.log_end_offset(), 0).unwrap();
    assert!(deleted > 0);
    let start = log.log_start_offset();
    assert!(start > 12, "retention kept too much: start {start}");
    check(&log, &[(5, start)], &[(5, Some((5, 30))), (4, Some((4, start)))]);

    // Everything deleted: the latest epoch starts at the log end, where the next append goes.
    log.delete_records_before(30).unwrap();
    check(&log, &[(5, 30)], &[(5, Some((5, 30)))]);
    append_n(&log, 5, 1);
    check(&log, &[(5, 30)], &[(5, Some((5, 33)))]);
}

#[test]
fn a_clean_reopen_loads_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_segments(), OpenHints::default());
    append_n(&log, 0, 3);
    append_n(&log, 4, 3);
    log.delete_records_before(2).unwrap();
    log.close().unwrap();
    assert_eq!(file_text(dir.path()).unwrap(), "0\n2\n0 2\n4 9\n");
    let hints = clean(&log);
    drop(log);
    let (log, report) = Log::open(dir.path(), small_segments(), hints).unwrap();
    assert!(report.recovered_segments.is_empty());
    check(&log, &[(0, 2), (4, 9)], &[(4, Some((4, 18))), (0, Some((0, 9)))]);
    log.close().unwrap();
    drop(log);

    // What a clean open uses is the file, not the batches: a (valid) file that says otherwise wins.
    std::fs::write(file(dir.path()), text(&[(0, 2), (3, 5), (4, 9)])).unwrap();
    let log = open(dir.path(), small_segments(), hints);
    check(&log, &[(0, 2), (3, 5), (4, 9)], &[(3, Some((3, 9)))]);
}

#[test]
fn a_missing_or_malformed_file_is_rebuilt_from_the_batches() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_segments(), OpenHints::default());
    append_n(&log, 1, 3);
    append_n(&log, 2, 4);
    append_n(&log, 7, 3);
    log.delete_records_before(4).unwrap();
    let expected = [(1, 4), (2, 9), (7, 21)];
    check(&log, &expected, &[]);
    assert!(log.segment_count() > 3);
    log.close().unwrap();
    let hints = clean(&log);
    drop(log);

    let damaged: [Option<&[u8]>; 6] = [
        None,
        Some(b""),
        Some(b"garbage"),
        Some(b"0\n3\n1 4\n2 9\n"),
        Some(b"0\n3\n1 4\n2 9\n7 2"),
        Some(&[0xff, 0xfe, b'\n']),
    ];
    for content in damaged {
        match content {
            None => std::fs::remove_file(file(dir.path())).unwrap(),
            Some(bytes) => std::fs::write(file(dir.path()), bytes).unwrap(),
        }
        let (log, report) = Log::open(dir.path(), small_segments(), hints).unwrap();
        assert!(report.recovered_segments.is_empty(), "the rebuild reads headers only");
        check(&log, &expected, &[(2, Some((2, 21)))]);
        drop(log);
    }
}

#[test]
fn an_unclean_reopen_rebuilds_the_epochs_of_the_rescanned_segments() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_segments(), OpenHints::default());
    append_n(&log, 1, 4); // 0..12
    append_n(&log, 2, 2); // 12..18
    log.flush().unwrap();
    let flushed = log.recovery_point();
    assert_eq!(flushed, 18);
    let durable = file_text(dir.path()).unwrap();
    append_n(&log, 3, 3); // 18..27
    log.truncate_to(21).unwrap();
    append_n(&log, 5, 3); // 21..30
    let expected = [(1, 0), (2, 12), (3, 18), (5, 21)];
    check(&log, &expected, &[]);
    let start = log.log_start_offset();
    // A crash: the data stays (the page cache), the file rolls back to what the last flush synced.
    drop(log);
    std::fs::write(file(dir.path()), &durable).unwrap();
    let (log, report) = Log::open(dir.path(), small_segments(), unclean(flushed, start)).unwrap();
    assert!(!report.recovered_segments.is_empty());
    check(&log, &expected, &[(3, Some((3, 21))), (4, Some((3, 21)))]);
    drop(log);

    // A stale file that claims epochs the re-scanned segments do not have: the headers win.
    std::fs::write(file(dir.path()), text(&[(1, 0), (2, 12), (4, 19), (9, 28)])).unwrap();
    let log = open(dir.path(), small_segments(), unclean(flushed, start));
    check(&log, &expected, &[]);
    drop(log);

    // Everything re-scanned, no file: the same.
    std::fs::remove_file(file(dir.path())).unwrap();
    let (log, report) = Log::open(dir.path(), small_segments(), unclean(0, start)).unwrap();
    assert_eq!(report.recovered_segments.len(), log.segment_count());
    check(&log, &expected, &[]);
}

#[test]
fn a_torn_tail_takes_its_epoch_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default(), OpenHints::default());
    append_n(&log, 1, 3); // 0..9
    log.flush().unwrap();
    append_n(&log, 4, 1); // 9..12, the batch that will be torn
    check(&log, &[(1, 0), (4, 9)], &[]);
    drop(log);
    // The last batch only half reached the disk.
    let seg = dir.path().join("00000000000000000000.log");
    let len = std::fs::metadata(&seg).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(len - 40).unwrap();
    drop(f);
    let (log, report) = Log::open(dir.path(), LogConfig::default(), unclean(9, 0)).unwrap();
    assert!(report.truncated_bytes > 0);
    assert_eq!(log.log_end_offset(), 9);
    check(&log, &[(1, 0)], &[(1, Some((1, 9))), (4, None)]);
    // The next leader's epoch starts where the torn batch was.
    append_n(&log, 6, 1);
    check(&log, &[(1, 0), (6, 9)], &[(4, Some((1, 9)))]);
}

#[test]
fn a_deleted_log_leaves_no_checkpoint_behind() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("orders-0");
    let log = open(&dir, LogConfig::default(), OpenHints::default());
    append_n(&log, 2, 1);
    assert!(file(&dir).exists());
    log.delete().unwrap();
    assert!(!dir.exists());
    // Nothing writes the file again, not even a flush with its change still unsynced.
    log.flush().unwrap();
    assert!(log.append(&batch(1, 1, 1), 3).is_err());
    assert!(!dir.exists());
}

#[test]
fn a_leftover_temporary_file_is_removed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default(), OpenHints::default());
    append_n(&log, 2, 1);
    log.close().unwrap();
    let hints = clean(&log);
    drop(log);
    let tmp = dir.path().join(format!("{FILE}.tmp"));
    std::fs::write(&tmp, "0\n1\n9 0\n").unwrap();
    let log = open(dir.path(), LogConfig::default(), hints);
    assert!(!tmp.exists());
    check(&log, &[(2, 0)], &[]);
}

// The property test: random appends (epochs rising now and then), truncations, DeleteRecords, flushes and
// reopens (clean, unclean with the file rolled back to the last flush, without the file), checked after
// every step against the epochs of the batches themselves.

#[derive(Debug, Clone)]
enum Op {
    Append {
        records: usize,
        bump: u8,
    },
    Truncate {
        at: u16,
    },
    DeleteRecords {
        at: u16,
    },
    Flush,
    Reopen {
        clean: bool,
        roll_back: bool,
        drop_file: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (1usize..6, 0u8..6).prop_map(|(records, bump)| Op::Append { records, bump }),
        1 => any::<u16>().prop_map(|at| Op::Truncate { at }),
        1 => any::<u16>().prop_map(|at| Op::DeleteRecords { at }),
        1 => Just(Op::Flush),
        2 => (any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(clean, roll_back, drop_file)| Op::Reopen { clean, roll_back, drop_file }),
    ]
}

#[derive(Default)]
struct Model {
    /// (base offset, epoch) of every batch in the log.
    batches: Vec<(i64, i32)>,
    log_start: i64,
    end: i64,
    epoch: i32,
}

impl Model {
    /// The epoch cache the batches imply: each rise of the epoch starts an entry; the entry covering
    /// the log start starts there.
    fn entries(&self) -> Vec<(i32, i64)> {
        let mut out: Vec<(i32, i64)> = Vec::new();
        for &(base, epoch) in &self.batches {
            if out.last().is_none_or(|&(e, _)| epoch > e) {
                out.push((epoch, base));
            }
        }
        let covering = out.partition_point(|&(_, start)| start <= self.log_start);
        if covering > 0 {
            out.drain(..covering - 1);
            out[0].1 = self.log_start;
        }
        out
    }
}

fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 1200,
        index_interval_bytes: 256,
        ..LogConfig::default()
    };
    let mut log = open(dir.path(), config.clone(), OpenHints::default());
    let mut model = Model::default();
    // What a crash may leave: the file as the last flush synced it, and the recovery point then.
    let mut durable: (Option<String>, i64) = (None, 0);
    for (n, op) in ops.into_iter().enumerate() {
        match op {
            Op::Append { records, bump } => {
                model.epoch += i32::from(bump / 4); // a new epoch one append in three
                let info = log.append(&batch(n as u64, records, 60), model.epoch).unwrap();
                model.batches.push((info.base_offset, model.epoch));
                model.end = info.last_offset + 1;
            }
            Op::Truncate { at } => {
                // To a batch boundary at or above the log start (below it the log just restarts).
                let bases: Vec<i64> = model
                    .batches
                    .iter()
                    .map(|b| b.0)
                    .filter(|&b| b >= model.log_start)
                    .collect();
                if !bases.is_empty() {
                    let to = bases[usize::from(at) % bases.len()];
                    log.truncate_to(to).unwrap();
                    model.batches.retain(|&(base, _)| base < to);
                    model.end = to;
                    // The broker checkpoints the lowered recovery point (the truncated data needs it too).
                    durable.1 = durable.1.min(log.recovery_point());
                }
            }
            Op::DeleteRecords { at } => {
                let to = model.log_start + i64::from(at) % (model.end - model.log_start + 1);
                log.delete_records_before(to).unwrap();
                model.log_start = model.log_start.max(to);
            }
            Op::Flush => {
                log.flush().unwrap();
                durable = (file_text(dir.path()), log.recovery_point());
            }
            Op::Reopen {
                clean,
                roll_back,
                drop_file,
            } => {
                let start = log.log_start_offset();
                let mut recovery_point = log.recovery_point();
                if clean {
                    log.close().unwrap();
                    recovery_point = log.recovery_point();
                }
                drop(log);
                if !clean && roll_back {
                    match &durable.0 {
                        Some(t) => std::fs::write(file(dir.path()), t).unwrap(),
                        None => {
                            let _ = std::fs::remove_file(file(dir.path()));
                        }
                    }
                    recovery_point = recovery_point.min(durable.1);
                }
                if drop_file {
                    let _ = std::fs::remove_file(file(dir.path()));
                }
                let hints = OpenHints {
                    clean_shutdown: clean,
                    recovery_point,
                    log_start_offset: start,
                };
                let (l, report) = Log::open(dir.path(), config.clone(), hints).unwrap();
                assert_eq!(report.truncated_bytes, 0);
                log = l;
                if clean {
                    durable = (file_text(dir.path()), log.recovery_point());
                }
            }
        }
        assert_eq!(
            (log.log_start_offset(), log.log_end_offset()),
            (model.log_start, model.end)
        );
        // Entries at the log end (the log start raised to it) may be forgotten by a reopen, as in Kafka.
        let before_end =
            |v: Vec<(i32, i64)>| -> Vec<(i32, i64)> { v.into_iter().filter(|e| e.1 < model.end).collect() };
        let entries = log.epoch_entries();
        assert_eq!(
            before_end(entries.clone()),
            before_end(model.entries()),
            "after step {n}"
        );
        match file_text(dir.path()) {
            Some(t) => assert_eq!(t, text(&entries), "the file follows the cache after step {n}"),
            None => assert!(entries.is_empty(), "no file but entries after step {n}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, max_shrink_iters: 400, ..ProptestConfig::default() })]
    #[test]
    fn the_epoch_cache_follows_the_batches(ops in proptest::collection::vec(op(), 1..50)) {
        run(ops);
    }
}
