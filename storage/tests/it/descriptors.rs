//! File descriptors: what an idle partition costs, the shared cache of sealed segments' descriptors under
//! eviction, and descriptors let go by retention, truncation and deletion.
//!
//! Descriptors are counted in `/proc/self/fd`, only those pointing into the test's own directory, since
//! the tests of this binary run in parallel. A rolled segment's background sync holds its `.log` until it
//! is done, so counts that follow rolls are awaited (`eventually`) rather than taken at once.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use protocol::record::{Batches, RecordBatch};
use storage::{LogConfig, LogManager, LogManagerOptions, Slice};

use crate::{batch, slice_bytes};

/// The targets of this process's descriptors that lie under `dir` (a deleted file reads `... (deleted)`).
fn fds_into(dir: &Path) -> Vec<String> {
    let dir = dir.canonicalize().unwrap();
    let prefix = dir.to_string_lossy().into_owned();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap() {
        // Another thread may close a descriptor between the listing and the readlink.
        let Ok(entry) = entry else { continue };
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let target = target.to_string_lossy().into_owned();
        if target.starts_with(&prefix) {
            out.push(target);
        }
    }
    out.sort();
    out
}

/// Waits (up to 20 s) until `check` returns `Ok`, then returns; panics with its last error otherwise.
fn eventually(check: impl Fn() -> Result<(), String>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match check() {
            Ok(()) => return,
            Err(e) if Instant::now() > deadline => panic!("{e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// The descriptors under `dir` whose files were deleted.
fn open_deleted(dir: &Path) -> Vec<String> {
    fds_into(dir).into_iter().filter(|f| f.ends_with("(deleted)")).collect()
}

#[test]
fn an_idle_partition_costs_one_descriptor() {
    let dir = tempfile::tempdir().unwrap();
    let partitions = 200;
    let config = LogConfig::default;
    {
        let (m, _) = LogManager::open(dir.path(), |_| config()).unwrap();
        for p in 0..partitions {
            let log = m.create("idle", p, config()).unwrap();
            log.append(&batch(p as u64, 2, 20), 0).unwrap();
            log.read(0, 1 << 20, log.log_end_offset()).unwrap();
        }
        m.checkpoint().unwrap();
        let fds = fds_into(dir.path());
        assert_eq!(fds.len(), partitions as usize, "{fds:#?}");
        assert!(fds.iter().all(|f| f.ends_with(".log")), "{fds:#?}");
        m.close().unwrap();
    }
    assert_eq!(
        fds_into(dir.path()),
        Vec::<String>::new(),
        "a dropped manager closes everything"
    );

    // A clean restart, then an unclean one (every active segment is recovered): the same cost.
    for clean in [true, false] {
        let (m, reports) = LogManager::open(dir.path(), |_| config()).unwrap();
        assert_eq!(reports.len(), partitions as usize);
        assert_eq!(
            reports.iter().all(|(_, r)| r.recovered_segments.is_empty()),
            clean,
            "{reports:?}"
        );
        for (_, log) in m.logs() {
            let s = log.read(0, 1 << 20, log.log_end_offset()).unwrap().slice.unwrap();
            assert_eq!(
                RecordBatch::parse(&slice_bytes(&s)).unwrap().0.header().records_count(),
                2
            );
        }
        assert_eq!(fds_into(dir.path()).len(), partitions as usize);
        if clean {
            drop(m); // a crash: no close, no marker
        } else {
            m.close().unwrap();
        }
    }
}

/// What a log should hold: the stored bytes of every batch by base offset, with last offsets.
type Expected = BTreeMap<i64, (i64, Vec<u8>)>;

/// Checks a read at `offset`: whole, consecutive stored batches, starting with the one holding `offset`.
fn check_slice(expected: &Expected, offset: i64, slice: &Slice) {
    let bytes = slice_bytes(slice);
    let mut next = None;
    for (i, b) in Batches::new(&bytes).enumerate() {
        let b = b.unwrap();
        let h = b.header();
        if i == 0 {
            assert!(h.base_offset() <= offset && offset <= h.last_offset(), "{offset}");
        } else {
            assert_eq!(Some(h.base_offset()), next);
        }
        let (last, stored) = &expected[&h.base_offset()];
        assert_eq!(*last, h.last_offset());
        assert!(b.as_bytes() == &stored[..], "batch at {} differs", h.base_offset());
        next = Some(h.last_offset() + 1);
    }
    assert!(next.is_some(), "an empty slice at {offset}");
}

#[test]
fn reads_from_many_sealed_segments_are_right_with_a_tiny_cache() {
    let dir = tempfile::tempdir().unwrap();
    let config = || LogConfig {
        segment_bytes: 2048,
        index_interval_bytes: 256,
        ..LogConfig::default()
    };
    let options = LogManagerOptions::default().with_file_cache_capacity(2);
    let partitions = 3;
    let (m, _) = LogManager::open_with(dir.path(), |_| config(), options.clone()).unwrap();
    let mut expected: Vec<Expected> = vec![BTreeMap::new(); partitions];
    for i in 0..80u64 {
        for (p, exp) in expected.iter_mut().enumerate() {
            let log = m.create("t", p as i32, config()).unwrap();
            let b = batch(i * 10 + p as u64, 1 + (i % 3) as usize, 40 + (i % 5) as usize * 30);
            let info = log.append(&b, 2).unwrap();
            let mut stored = b.to_vec();
            protocol::record::set_base_offset(&mut stored, info.base_offset);
            protocol::record::set_partition_leader_epoch(&mut stored, 2);
            exp.insert(info.base_offset, (info.last_offset, stored));
        }
    }
    let logs: Vec<_> = (0..partitions).map(|p| m.get("t", p as i32).unwrap()).collect();
    assert!(logs.iter().all(|l| l.segment_count() > 10));

    let check_all = |logs: &[std::sync::Arc<storage::Log>], held_max: usize| {
        // Random reads over every partition's segments, keeping up to `held_max` slices alive while the
        // cache (two descriptors) evicts under them; each is checked when it is let go.
        let mut held: Vec<(usize, i64, Slice)> = Vec::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..600 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let p = (seed % partitions as u64) as usize;
            let log = &logs[p];
            let end = log.log_end_offset();
            let offset = ((seed >> 8) % end as u64) as i64;
            let max_bytes = (seed >> 20) % 3000;
            let slice = log.read(offset, max_bytes, end).unwrap().slice.unwrap();
            held.push((p, offset, slice));
            if held.len() > held_max {
                let (p, offset, slice) = held.remove((seed >> 40) as usize % held.len());
                check_slice(&expected[p], offset, &slice);
            }
        }
        for (p, offset, slice) in held {
            check_slice(&expected[p], offset, &slice);
        }
        // Everything else that reads sealed segments: time lookups, producer state.
        for log in logs {
            let (offset, _) = log.offset_for_timestamp(0).unwrap().unwrap();
            assert_eq!(offset, 0);
            assert!(log.producer_batches(u64::MAX).unwrap().is_empty());
        }
        // Now the held slices are gone: one descriptor per partition, plus at most the cache's two.
        eventually(|| {
            let fds = fds_into(dir.path());
            (fds.len() <= partitions + 2).then_some(()).ok_or(format!("{fds:#?}"))
        });
    };
    check_all(&logs, 20);

    // The same after a clean restart (sealed segments opened through the cache from the start).
    drop(logs);
    m.close().unwrap();
    drop(m);
    let (m, _) = LogManager::open_with(dir.path(), |_| config(), options).unwrap();
    let logs: Vec<_> = (0..partitions).map(|p| m.get("t", p as i32).unwrap()).collect();
    check_all(&logs, 5);
}

#[test]
fn retention_truncation_and_deletion_let_go_of_descriptors() {
    let dir = tempfile::tempdir().unwrap();
    let config = || LogConfig {
        segment_bytes: 2048,
        retention_bytes: 8 * 1024,
        ..LogConfig::default()
    };
    let (m, _) = LogManager::open(dir.path(), |_| config()).unwrap();
    let log = m.create("r", 0, config()).unwrap();
    let mut stored = BTreeMap::new();
    for i in 0..100u64 {
        let b = batch(i, 2, 100);
        let info = log.append(&b, 0).unwrap();
        let mut s = b.to_vec();
        protocol::record::set_base_offset(&mut s, info.base_offset);
        protocol::record::set_partition_leader_epoch(&mut s, 0);
        stored.insert(info.base_offset, (info.last_offset, s));
    }
    let end = log.log_end_offset();
    // Read every segment, so the cache holds each one's descriptors.
    let mut offset = 0;
    while offset < end {
        let s = log.read(offset, 1 << 20, end).unwrap().slice.unwrap();
        check_slice(&stored, offset, &s);
        let bytes = slice_bytes(&s);
        offset = Batches::new(&bytes).last().unwrap().unwrap().header().last_offset() + 1;
    }
    // One descriptor per segment: the active one's own, and the cache's for each sealed one (the segments
    // are too small for index entries, so no index was searched). Background syncs of the rolled segments
    // open index files for a moment, so wait for them.
    eventually(|| {
        let fds = fds_into(dir.path());
        (fds.len() == log.segment_count())
            .then_some(())
            .ok_or(format!("{} segments: {fds:#?}", log.segment_count()))
    });
    // A read of the oldest segment is in flight while retention deletes that segment.
    let in_flight = log.read(0, 1 << 20, end).unwrap().slice.unwrap();
    let deleted = log.apply_retention(end, 0).unwrap();
    assert!(deleted > 0 && log.log_start_offset() > 0);
    check_slice(&stored, 0, &in_flight);
    let none_deleted = || {
        let open = open_deleted(dir.path());
        open.is_empty().then_some(()).ok_or(format!("{open:#?}"))
    };
    eventually(|| {
        let open = open_deleted(dir.path());
        (open.len() == 1)
            .then_some(())
            .ok_or(format!("only the read in flight holds a deleted file: {open:#?}"))
    });
    drop(in_flight);
    none_deleted().unwrap();

    // Truncation into a sealed segment: the later segments' descriptors close, and the log goes on.
    let start = log.log_start_offset();
    let cut = start + (end - start) / 2;
    log.truncate_to(cut).unwrap();
    eventually(none_deleted);
    let new_end = log.log_end_offset();
    assert!(new_end <= cut);
    let info = log.append(&batch(500, 1, 10), 0).unwrap();
    assert_eq!(info.base_offset, new_end);
    let s = log.read(start, 1 << 20, new_end).unwrap().slice.unwrap();
    check_slice(&stored, start, &s);
    drop(s);

    // Deleting the partition closes every descriptor into it.
    drop(log);
    assert!(m.delete("r", 0).unwrap());
    eventually(|| {
        let fds = fds_into(dir.path());
        fds.is_empty().then_some(()).ok_or(format!("{fds:#?}"))
    });
    m.close().unwrap();
}
