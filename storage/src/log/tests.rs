//! Internal tests of the log that need hooks into the flush path.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use super::*;

/// Flushes completed (files synced), per log directory.
static SYNCS_DONE: Mutex<Option<HashMap<PathBuf, u64>>> = Mutex::new(None);
/// A one-shot pause, in ms, between a flush of the log in a directory collecting its dirty files and
/// syncing them. Keyed by directory: tests run in parallel, and another test's flush must not take it.
static PAUSE_MS: Mutex<Option<HashMap<PathBuf, u64>>> = Mutex::new(None);

pub(super) fn note_sync_done(dir: &Path) {
    let mut g = SYNCS_DONE.lock().unwrap_or_else(|p| p.into_inner());
    *g.get_or_insert_with(HashMap::new).entry(dir.to_path_buf()).or_default() += 1;
}

fn syncs_done(dir: &Path) -> u64 {
    let g = SYNCS_DONE.lock().unwrap_or_else(|p| p.into_inner());
    g.as_ref().and_then(|m| m.get(dir)).copied().unwrap_or(0)
}

fn pause_next_flush(dir: &Path, ms: u64) {
    let mut g = PAUSE_MS.lock().unwrap_or_else(|p| p.into_inner());
    g.get_or_insert_with(HashMap::new).insert(dir.to_path_buf(), ms);
}

pub(super) fn pause_after_collecting(dir: &Path) {
    let ms = {
        let mut g = PAUSE_MS.lock().unwrap_or_else(|p| p.into_inner());
        g.as_mut().and_then(|m| m.remove(dir)).unwrap_or(0)
    };
    if ms > 0 {
        std::thread::sleep(Duration::from_millis(ms));
    }
}

fn batch() -> Vec<u8> {
    let mut b = protocol::record::BatchBuilder::new(protocol::record::Compression::None, 0);
    b.push(protocol::record::Record {
        value: Some(bytes_of(b"x")),
        ..Default::default()
    });
    b.build().unwrap().to_vec()
}

fn bytes_of(b: &'static [u8]) -> bytes::Bytes {
    bytes::Bytes::from_static(b)
}

/// A flush must not return while another flush that collected its data is still syncing it
/// (with `flush_messages = 1`, that would acknowledge a produce before its bytes are on disk).
#[test]
fn a_flush_waits_for_a_concurrent_sync_of_its_data() {
    let dir = std::env::temp_dir().join(format!("kzero-flush-race-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (log, _) = Log::open(&dir, LogConfig::default(), OpenHints::default()).unwrap();
    let log = Arc::new(log);
    log.append(&batch(), 0).unwrap(); // dirty, not flushed
    pause_next_flush(&dir, 400);
    let first = {
        let log = Arc::clone(&log);
        std::thread::spawn(move || log.flush().unwrap())
    };
    // Let the first flush collect the dirty segment and pause before syncing it.
    std::thread::sleep(Duration::from_millis(100));
    let before = syncs_done(&dir);
    log.flush().unwrap();
    assert!(
        syncs_done(&dir) > before,
        "flush returned while the sync covering its data was still pending"
    );
    first.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Segments of about 1 KiB: a roll every dozen appends of [`batch`].
fn rolling() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        ..LogConfig::default()
    }
}

/// After a roll the rolled segment's sync is queued on the flusher. A flush (and a close) must not report a
/// recovery point past it until it is on disk: a crash would then trust a segment that never reached the
/// disk. The flusher's jobs for this directory are held, so only the flush itself can have synced it.
#[test]
fn flush_never_moves_the_recovery_point_past_an_unsynced_rolled_segment() {
    use crate::flusher::tests::{first_unsynced_offset, hold_jobs_under};
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(dir.path(), rolling(), OpenHints::default()).unwrap();
    let hold = hold_jobs_under(dir.path());
    while log.segment_count() < 3 {
        log.append(&batch(), 0).unwrap();
    }
    log.flush().unwrap();
    let unsynced = first_unsynced_offset(dir.path());
    assert!(
        log.recovery_point() <= unsynced,
        "after flush the recovery point is {} but offsets from {unsynced} were never synced",
        log.recovery_point()
    );
    log.append(&batch(), 0).unwrap();
    log.close().unwrap();
    let unsynced = first_unsynced_offset(dir.path());
    assert!(
        log.recovery_point() <= unsynced,
        "after close the recovery point is {} but offsets from {unsynced} were never synced",
        log.recovery_point()
    );
    drop(hold);
}

/// Once the held background syncs are released, the flusher raises the recovery point over the rolled
/// segments by itself; the log's private flusher thread stops when the log is dropped.
#[test]
fn the_flusher_raises_the_recovery_point_after_syncing_rolled_segments() {
    use crate::flusher::tests::hold_jobs_under;
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(dir.path(), rolling(), OpenHints::default()).unwrap();
    let hold = hold_jobs_under(dir.path());
    while log.segment_count() < 3 {
        log.append(&batch(), 0).unwrap();
    }
    let active_base = log.read_state().segments.last().unwrap().base_offset;
    assert_eq!(log.recovery_point(), 0, "nothing is synced while the jobs are held");
    let flusher = log.resources().1.handle();
    assert!(flusher.is_running());
    drop(hold);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while log.recovery_point() < active_base {
        assert!(
            std::time::Instant::now() < deadline,
            "the flusher never raised the recovery point"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(log.recovery_point(), active_base);
    drop(log);
    assert!(!flusher.is_running(), "the private flusher stops with its log");
}

/// The broker shares logs between threads.
#[test]
fn logs_and_managers_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Log>();
    check::<crate::LogManager>();
    check::<Slice>();
}
