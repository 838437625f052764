//! Internal tests of the log manager that need hooks into the flusher.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::flusher::tests::{first_unsynced_offset, hold_jobs_under};

fn batch() -> Vec<u8> {
    let mut b = protocol::record::BatchBuilder::new(protocol::record::Compression::None, 0);
    b.push(protocol::record::Record {
        value: Some(bytes::Bytes::from_static(b"x")),
        ..Default::default()
    });
    b.build().unwrap().to_vec()
}

fn rolling() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        ..LogConfig::default()
    }
}

/// A clean shutdown promises that everything below the checkpointed recovery points is on disk. While the
/// background syncs of rolled segments are held, `close` may neither write a recovery point past unsynced
/// data nor the clean-shutdown marker; once they are released it finishes.
#[test]
fn close_waits_for_rolled_segment_syncs_before_checkpointing() {
    let dir = tempfile::tempdir().unwrap();
    let (m, _) = LogManager::open(dir.path(), |_| rolling()).unwrap();
    let m = Arc::new(m);
    let hold = hold_jobs_under(dir.path());
    let log = m.create("t", 0, rolling()).unwrap();
    while log.segment_count() < 3 {
        log.append(&batch(), 0).unwrap();
    }
    let closing = {
        let m = Arc::clone(&m);
        std::thread::spawn(move || m.close())
    };
    let marker = dir.path().join(CLEAN_SHUTDOWN);
    let points = dir.path().join(RECOVERY_POINTS);
    let deadline = Instant::now() + Duration::from_millis(500);
    while Instant::now() < deadline {
        if points.exists() {
            let written = checkpoint::read(&points).unwrap()[&("t".to_string(), 0)];
            let unsynced = first_unsynced_offset(&dir.path().join("t-0"));
            assert!(
                written <= unsynced,
                "checkpointed recovery point {written} while offsets from {unsynced} were never synced"
            );
        }
        assert!(
            !marker.exists(),
            "the clean-shutdown marker was written while rolled segments were being synced"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!closing.is_finished(), "close returned before the flusher drained");
    drop(hold);
    closing.join().unwrap().unwrap();
    assert!(marker.exists());
    let written = checkpoint::read(&points).unwrap()[&("t".to_string(), 0)];
    assert_eq!(written, log.log_end_offset());
}

/// One flusher per manager, shared by its logs: started by the first roll, stopped by `close` (after
/// draining) and by dropping the manager.
#[test]
fn the_managers_flusher_stops_when_the_manager_is_closed_or_dropped() {
    for close in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let (m, _) = LogManager::open(dir.path(), |_| rolling()).unwrap();
        let probe = m.resources().1.handle();
        assert!(!probe.is_running(), "no roll, no thread");
        for p in 0..2 {
            let log = m.create("t", p, rolling()).unwrap();
            while log.segment_count() < 2 {
                log.append(&batch(), 0).unwrap();
            }
        }
        assert!(probe.is_running());
        if close {
            m.close().unwrap();
            assert!(!probe.is_running(), "close stops the flusher");
        }
        drop(m);
        assert!(!probe.is_running(), "dropping the manager stops the flusher");
    }
}
