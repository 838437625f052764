//! Internal tests of the log that need hooks into the flush path (data, and the epoch checkpoint).

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

/// The log's `leader-epoch-checkpoint`.
fn epoch_file(dir: &Path) -> PathBuf {
    dir.join(crate::epoch_file::FILE_NAME)
}

/// An append that assigns an epoch writes the checkpoint but never syncs it (the append path does one
/// `pwritev`); the flush that raises the recovery point over the epoch's start syncs it first.
#[test]
fn an_epoch_assignment_writes_the_checkpoint_and_a_flush_syncs_it() {
    use crate::flusher::tests::was_synced;
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(dir.path(), LogConfig::default(), OpenHints::default()).unwrap();
    log.append(&batch(), 3).unwrap();
    log.append(&batch(), 3).unwrap();
    log.append(&batch(), 5).unwrap();
    let path = epoch_file(dir.path());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "0\n2\n3 0\n5 2\n");
    assert!(!was_synced(&path), "the append path synced the epoch checkpoint");
    assert!(!path.with_extension("tmp").exists());
    log.flush().unwrap();
    assert!(
        was_synced(&path),
        "a flush raised the recovery point over an unsynced epoch entry"
    );
    assert_eq!(log.recovery_point(), 3);
}

/// The background sync of a rolled segment raises the recovery point over it: the epoch entries that
/// start in it must be on disk first. No flush runs here, so only the flusher job can have synced the file.
#[test]
fn a_rolled_segments_background_sync_syncs_the_epoch_checkpoint() {
    use crate::flusher::tests::{hold_jobs_under, was_synced};
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(dir.path(), rolling(), OpenHints::default()).unwrap();
    let hold = hold_jobs_under(dir.path());
    log.append(&batch(), 1).unwrap();
    while log.segment_count() < 2 {
        log.append(&batch(), 2).unwrap();
    }
    let active_base = log.read_state().segments.last().unwrap().base_offset;
    let path = epoch_file(dir.path());
    assert!(!was_synced(&path));
    drop(hold);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while log.recovery_point() < active_base {
        assert!(
            std::time::Instant::now() < deadline,
            "the flusher never raised the recovery point"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        was_synced(&path),
        "the recovery point passed epoch entries that were never synced"
    );
    assert_eq!(log.epoch_entries(), vec![(1, 0), (2, 1)]);
}

/// A failed write of the checkpoint on the append path does not fail the append (the batch is in the
/// log); the next flush writes the file again and reports the error if it persists.
#[test]
fn a_failed_checkpoint_write_is_retried_by_the_next_flush() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(dir.path(), LogConfig::default(), OpenHints::default()).unwrap();
    let path = epoch_file(dir.path());
    // A directory where the temporary file goes makes every write fail.
    let tmp = crate::checkpoint::tmp_path(&path);
    std::fs::create_dir(&tmp).unwrap();
    log.append(&batch(), 4).unwrap();
    assert_eq!(log.epoch_entries(), vec![(4, 0)]);
    assert!(!path.exists());
    assert!(matches!(log.flush(), Err(Error::Io { .. })));
    assert!(log.recovery_point() < log.log_end_offset());
    std::fs::remove_dir(&tmp).unwrap();
    log.flush().unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "0\n1\n4 0\n");
    assert_eq!(log.recovery_point(), log.log_end_offset());
}
