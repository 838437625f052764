//! Damaged log directories: each case recovers, or fails with a clear message, and never panics.

use storage::{Log, LogConfig, OpenHints};

use crate::{batch, slice_bytes};

const SEGMENT: u64 = 8 * 1024;

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: SEGMENT,
        index_interval_bytes: 1024,
        ..LogConfig::default()
    }
}

/// A log of 60 batches over several segments, closed cleanly; returns the log end offset.
fn build(dir: &std::path::Path) -> i64 {
    let (log, _) = Log::open(dir, config(), OpenHints::default()).unwrap();
    for i in 0..60 {
        log.append(&batch(i, 3, 150), 0).unwrap();
    }
    log.close().unwrap();
    log.log_end_offset()
}

fn segment_files(dir: &std::path::Path, suffix: &str) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    v.sort();
    v
}

fn unclean() -> OpenHints {
    OpenHints {
        clean_shutdown: false,
        recovery_point: 0,
        log_start_offset: 0,
    }
}

fn clean(end: i64) -> OpenHints {
    OpenHints {
        clean_shutdown: true,
        recovery_point: end,
        log_start_offset: 0,
    }
}

fn readable_to_the_end(log: &Log) {
    let end = log.log_end_offset();
    let mut offset = 0;
    while offset < end {
        let bytes = slice_bytes(&log.read(offset, 1 << 20, end).unwrap().slice.unwrap());
        for b in protocol::record::Batches::new(&bytes) {
            let b = b.unwrap();
            b.verify_crc().unwrap();
            offset = b.header().last_offset() + 1;
        }
    }
}

#[test]
fn a_flipped_byte_in_the_tail_segment_truncates_there() {
    let dir = tempfile::tempdir().unwrap();
    let end = build(dir.path());
    let logs = segment_files(dir.path(), ".log");
    let tail = logs.last().unwrap();
    let mut bytes = std::fs::read(tail).unwrap();
    let len = bytes.len();
    let one = batch(0, 3, 150).len();
    bytes[len - one - 20] ^= 0xff; // inside the second-to-last batch of the tail segment
    std::fs::write(tail, &bytes).unwrap();
    let (log, report) = Log::open(dir.path(), config(), unclean()).unwrap();
    assert_eq!(report.truncated_bytes, 2 * one as u64, "{report:?}");
    assert_eq!(log.log_end_offset(), end - 6);
    readable_to_the_end(&log);
    // The log keeps working.
    assert_eq!(log.append(&batch(99, 1, 1), 0).unwrap().base_offset, end - 6);
}

#[test]
fn corruption_in_an_early_segment_drops_everything_after_it() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let logs = segment_files(dir.path(), ".log");
    let first = &logs[0];
    let mut bytes = std::fs::read(first).unwrap();
    bytes[100] ^= 0x01;
    std::fs::write(first, &bytes).unwrap();
    let (log, report) = Log::open(dir.path(), config(), unclean()).unwrap();
    assert_eq!(report.deleted_segments.len(), logs.len() - 1, "{report:?}");
    assert_eq!(log.log_end_offset(), 0);
    assert_eq!(segment_files(dir.path(), ".log").len(), 1);
}

#[test]
fn a_truncated_or_missing_index_is_rebuilt() {
    for damage in ["truncate", "remove", "garbage"] {
        let dir = tempfile::tempdir().unwrap();
        let end = build(dir.path());
        let indexes = segment_files(dir.path(), ".index");
        let victim = &indexes[0];
        match damage {
            "truncate" => {
                let f = std::fs::OpenOptions::new().write(true).open(victim).unwrap();
                f.set_len(13).unwrap();
            }
            "remove" => std::fs::remove_file(victim).unwrap(),
            _ => std::fs::write(victim, vec![0xab; 64]).unwrap(),
        }
        let (log, report) = Log::open(dir.path(), config(), clean(end)).unwrap();
        if damage == "remove" {
            assert_eq!(
                report.recovered_segments,
                vec![0],
                "a missing index is rebuilt even after a clean shutdown"
            );
        }
        assert_eq!(log.log_end_offset(), end, "{damage}");
        // With an untrusted index, recover explicitly: reads must then be right.
        drop(log);
        let (log, _) = Log::open(dir.path(), config(), unclean()).unwrap();
        readable_to_the_end(&log);
        let idx = std::fs::read(victim).unwrap();
        assert!(!idx.is_empty() && idx.len() % 8 == 0, "{damage}: the index was rebuilt");
    }
}

#[test]
fn a_clean_shutdown_opens_without_reading_segments() {
    let dir = tempfile::tempdir().unwrap();
    let end = build(dir.path());
    // Damage a record body in an old segment: a recovery would notice (CRC) and truncate.
    let logs = segment_files(dir.path(), ".log");
    let mut bytes = std::fs::read(&logs[1]).unwrap();
    bytes[200] ^= 0x40;
    std::fs::write(&logs[1], &bytes).unwrap();
    let (log, report) = Log::open(dir.path(), config(), clean(end)).unwrap();
    assert!(report.recovered_segments.is_empty(), "{report:?}");
    assert_eq!(log.log_end_offset(), end);
    // An unclean open with the recovery point past that segment does not read it either.
    drop(log);
    let hints = OpenHints {
        clean_shutdown: false,
        recovery_point: end,
        log_start_offset: 0,
    };
    let (_, report) = Log::open(dir.path(), config(), hints).unwrap();
    assert_eq!(
        report.recovered_segments.len(),
        1,
        "only the active segment: {report:?}"
    );
    assert_eq!(report.truncated_bytes, 0);
}

#[test]
fn garbage_files_are_ignored_or_cleaned() {
    let dir = tempfile::tempdir().unwrap();
    let end = build(dir.path());
    std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
    std::fs::write(dir.path().join("00000000000000099999.index"), b"orphan").unwrap();
    std::fs::write(dir.path().join("00000000000000000000.log.deleted"), b"old").unwrap();
    std::fs::write(dir.path().join("not-a-segment.log"), b"junk").unwrap();
    let (log, _) = Log::open(dir.path(), config(), clean(end)).unwrap();
    assert_eq!(log.log_end_offset(), end);
    assert!(!dir.path().join("00000000000000099999.index").exists());
    assert!(!dir.path().join("00000000000000000000.log.deleted").exists());
    assert!(dir.path().join("notes.txt").exists());
    readable_to_the_end(&log);
}

#[test]
fn a_segment_of_pure_garbage_is_truncated_away() {
    let dir = tempfile::tempdir().unwrap();
    let end = build(dir.path());
    let garbage = dir.path().join(format!("{end:020}.log"));
    std::fs::write(&garbage, vec![0x5a; 5000]).unwrap();
    let (log, report) = Log::open(dir.path(), config(), unclean()).unwrap();
    assert_eq!(log.log_end_offset(), end, "{report:?}");
    readable_to_the_end(&log);
}
