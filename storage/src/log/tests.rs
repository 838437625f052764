//! Internal tests of the log that need hooks into the flush path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::*;

/// Flushes completed (files synced).
pub(super) static SYNCS_DONE: AtomicU64 = AtomicU64::new(0);
/// A one-shot pause, in ms, between a flush collecting its dirty files and syncing them.
static PAUSE_MS: AtomicU64 = AtomicU64::new(0);

pub(super) fn pause_after_collecting() {
    let ms = PAUSE_MS.swap(0, Ordering::SeqCst);
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
    PAUSE_MS.store(400, Ordering::SeqCst);
    let first = {
        let log = Arc::clone(&log);
        std::thread::spawn(move || log.flush().unwrap())
    };
    // Let the first flush collect the dirty segment and pause before syncing it.
    std::thread::sleep(Duration::from_millis(100));
    let before = SYNCS_DONE.load(Ordering::SeqCst);
    log.flush().unwrap();
    assert!(
        SYNCS_DONE.load(Ordering::SeqCst) > before,
        "flush returned while the sync covering its data was still pending"
    );
    first.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
