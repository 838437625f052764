//! The log manager: many partitions, checkpoints and the clean-shutdown marker.

use storage::{checkpoint, LogConfig, LogManager};

use crate::batch;

#[test]
fn partitions_persist_across_clean_and_unclean_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let config = || LogConfig {
        segment_bytes: 16 * 1024,
        ..LogConfig::default()
    };
    {
        let (m, reports) = LogManager::open(dir.path(), |_| config()).unwrap();
        assert!(reports.is_empty());
        for p in 0..4 {
            let log = m.create("orders", p, config()).unwrap();
            for i in 0..(10 + p as u64) {
                log.append(&batch(i, 2, 300), 0).unwrap();
            }
        }
        m.create("my.topic-with-dash", 0, config())
            .unwrap()
            .append(&batch(1, 1, 1), 0)
            .unwrap();
        assert!(m.create("../escape", 0, config()).is_err());
        assert!(m.create("", 0, config()).is_err());
        m.close().unwrap();
    }
    assert!(dir.path().join(".kafka_cleanshutdown").exists());
    let points = checkpoint::read(&dir.path().join("recovery-point-offset-checkpoint")).unwrap();
    assert_eq!(points.get(&("orders".to_string(), 3)), Some(&26));

    // Clean restart: nothing is recovered, and the marker is consumed.
    let (m, reports) = LogManager::open(dir.path(), |_| config()).unwrap();
    assert!(
        reports.iter().all(|(_, r)| r.recovered_segments.is_empty()),
        "{reports:?}"
    );
    assert!(!dir.path().join(".kafka_cleanshutdown").exists());
    assert_eq!(m.list().len(), 5);
    assert_eq!(m.get("my.topic-with-dash", 0).unwrap().log_end_offset(), 1);
    assert_eq!(m.get("orders", 2).unwrap().log_end_offset(), 24);
    m.get("orders", 0).unwrap().append(&batch(50, 1, 10), 0).unwrap();
    m.checkpoint().unwrap();
    drop(m); // a crash: no close

    // Unclean restart: recovery from the checkpoints; everything is still there.
    let (m, reports) = LogManager::open(dir.path(), |_| config()).unwrap();
    assert!(reports.iter().any(|(_, r)| !r.recovered_segments.is_empty()));
    assert_eq!(m.get("orders", 0).unwrap().log_end_offset(), 21);

    // Deletion.
    assert!(m.delete("orders", 1).unwrap());
    assert!(!m.delete("orders", 1).unwrap());
    assert!(!dir.path().join("orders-1").exists());
    assert!(m.get("orders", 1).is_none());
    m.close().unwrap();
}
