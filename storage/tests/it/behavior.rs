//! Append, read, roll, index, time lookup, retention and truncation, checked against Kafka's rules.

use protocol::record::{Batches, RecordBatch};
use storage::{Error, Log, LogConfig, OpenHints};

use crate::{batch, batch_at, slice_bytes};

fn open(dir: &std::path::Path, config: LogConfig) -> Log {
    Log::open(dir, config, OpenHints::default()).unwrap().0
}

#[test]
fn appends_assign_offsets_and_keep_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default());
    let b1 = batch(1, 3, 10);
    let b2 = batch(2, 5, 10);
    let a1 = log.append(&b1, 7).unwrap();
    let a2 = log.append(&b2, 7).unwrap();
    assert_eq!((a1.base_offset, a1.last_offset), (0, 2));
    assert_eq!((a2.base_offset, a2.last_offset), (3, 7));
    assert_eq!(log.log_end_offset(), 8);

    let read = log.read(0, 1 << 20, 8).unwrap();
    let bytes = slice_bytes(read.slice.as_ref().unwrap());
    assert_eq!(bytes.len(), b1.len() + b2.len());
    let batches: Vec<_> = Batches::new(&bytes).map(|b| b.unwrap()).collect();
    assert_eq!(batches.len(), 2);
    for (b, (orig, base)) in batches.iter().zip([(&b1, 0), (&b2, 3)]) {
        b.verify_crc().unwrap();
        assert_eq!(b.header().base_offset(), base);
        assert_eq!(b.header().partition_leader_epoch(), 7);
        // Everything after the patched fields is byte-identical to what the producer sent.
        assert_eq!(&b.as_bytes()[16..], &orig[16..]);
    }
    // The segment file is exactly the batches: Kafka's .log format.
    let file = std::fs::read(dir.path().join("00000000000000000000.log")).unwrap();
    assert_eq!(file, bytes);
}

#[test]
fn bad_batches_are_rejected_with_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        max_message_bytes: 2000,
        ..LogConfig::default()
    };
    let log = open(dir.path(), config);
    let good = batch(1, 2, 10).to_vec();

    let mut bad_crc = good.clone();
    *bad_crc.last_mut().unwrap() ^= 1;
    assert!(matches!(log.append(&bad_crc, 0), Err(Error::InvalidBatch(_))));

    assert!(matches!(
        log.append(&batch(2, 10, 300), 0),
        Err(Error::MessageTooLarge { .. })
    ));

    let mut two = good.clone();
    two.extend_from_slice(&good);
    assert!(matches!(log.append(&two, 0), Err(Error::InvalidRecord { .. })));

    let mut nonzero = good.clone();
    nonzero[7] = 5;
    assert!(matches!(log.append(&nonzero, 0), Err(Error::InvalidRecord { .. })));

    assert!(matches!(log.append(&good[..40], 0), Err(Error::InvalidBatch(_))));
    let mut legacy = good.clone();
    legacy[16] = 1;
    assert!(matches!(log.append(&legacy, 0), Err(Error::InvalidBatch(_))));

    // Nothing reached the log.
    assert_eq!(log.log_end_offset(), 0);
    assert_eq!(log.size_in_bytes(), 0);
    log.append(&good, 0).unwrap();
    assert_eq!(log.log_end_offset(), 2);
}

#[test]
fn reads_follow_kafkas_rules() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default());
    let sizes: Vec<usize> = (0..20)
        .map(|i| log.append(&batch(i, 4, 100), 0).map(|_| 0).unwrap())
        .collect();
    assert_eq!(sizes.len(), 20);
    let batch_len = batch(0, 4, 100).len() as u64;

    // Starts at the batch holding the offset, not at the record.
    let r = log.read(6, 1 << 20, 80).unwrap();
    let s = r.slice.unwrap();
    assert_eq!(s.range.start, batch_len);
    assert_eq!(
        RecordBatch::parse(&slice_bytes(&s)).unwrap().0.header().base_offset(),
        4
    );

    // Ends on a batch boundary within max_bytes.
    let r = log.read(0, batch_len * 3 + 10, 80).unwrap();
    assert_eq!(r.slice.unwrap().len(), batch_len * 3);

    // The first batch is whole even when max_bytes is smaller.
    let r = log.read(0, 1, 80).unwrap();
    assert_eq!(r.slice.unwrap().len(), batch_len);
    assert_eq!(r.first_batch_size, batch_len);

    // Nothing at or beyond the upper bound (the high watermark) is visible.
    let r = log.read(0, 1 << 20, 12).unwrap();
    assert_eq!(r.slice.unwrap().len(), batch_len * 3);
    assert!(log.read(12, 1 << 20, 12).unwrap().slice.is_none());
    // An upper bound inside a batch hides that batch.
    assert_eq!(log.read(0, 1 << 20, 10).unwrap().slice.unwrap().len(), batch_len * 2);

    // Out of range on both sides; the log end itself is a valid, empty position.
    assert!(matches!(
        log.read(81, 100, 80),
        Err(Error::OffsetOutOfRange { offset: 81, .. })
    ));
    assert!(matches!(log.read(-1, 100, 80), Err(Error::OffsetOutOfRange { .. })));
    assert!(log.read(80, 100, 80).unwrap().slice.is_none());
}

#[test]
fn segments_roll_and_indexes_have_kafkas_format() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 64 * 1024,
        ..LogConfig::default()
    };
    let log = open(dir.path(), config);
    let one = batch(0, 10, 200).len() as u64;
    let mut offsets = Vec::new();
    for i in 0..200 {
        offsets.push(log.append(&batch(i, 10, 200), 0).unwrap());
    }
    assert!(log.segment_count() > 1);
    let per_segment = (64 * 1024 / one) as i64;
    // Segment names are the 20-digit base offsets.
    let second = dir.path().join(format!("{:020}.log", per_segment * 10));
    assert!(second.exists(), "{}", second.display());
    // A rolled segment's offset index is trimmed to its entries and follows the 4096-byte interval rule.
    let index = std::fs::read(dir.path().join("00000000000000000000.index")).unwrap();
    assert_eq!(index.len() % 8, 0);
    let entries: Vec<(u32, u32)> = index
        .chunks(8)
        .map(|e| {
            (
                u32::from_be_bytes(e[..4].try_into().unwrap()),
                u32::from_be_bytes(e[4..].try_into().unwrap()),
            )
        })
        .collect();
    assert!(!entries.is_empty());
    for (rel, pos) in &entries {
        // Each entry maps the last offset of an append to the position where it starts.
        assert_eq!((*pos as u64) % one, 0);
        assert_eq!(u64::from(*rel) + 1, (u64::from(*pos) / one + 1) * 10);
    }
    let gaps: Vec<u32> = entries.windows(2).map(|w| w[1].1 - w[0].1).collect();
    assert!(
        gaps.iter()
            .all(|g| u64::from(*g) > 4096 && u64::from(*g) <= 4096 + 2 * one),
        "{gaps:?}"
    );
    let timeindex = std::fs::read(dir.path().join("00000000000000000000.timeindex")).unwrap();
    assert_eq!(timeindex.len() % 12, 0);
    assert!(!timeindex.is_empty());

    // Reads across the segment boundary: one segment per read, then the next.
    let r = log.read(0, 1 << 30, log.log_end_offset()).unwrap();
    assert_eq!(r.slice.unwrap().len(), per_segment as u64 * one);
    let r = log.read(per_segment * 10, 1 << 30, log.log_end_offset()).unwrap();
    assert_eq!(r.slice.unwrap().range.start, 0);
    // Every offset is readable and lands in the right batch.
    for o in (0..2000).step_by(37) {
        let r = log.read(o, 1, 2000).unwrap();
        let bytes = slice_bytes(&r.slice.unwrap());
        let (b, _) = RecordBatch::parse(&bytes).unwrap();
        assert!(b.header().base_offset() <= o && o <= b.header().last_offset());
    }
}

#[test]
fn timestamps_find_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(
        dir.path(),
        LogConfig {
            segment_bytes: 16 * 1024,
            ..LogConfig::default()
        },
    );
    for i in 0..100u64 {
        log.append(&batch_at(i, 5, 100, 1_000_000 + i as i64 * 100), 0).unwrap();
    }
    // Batch i holds offsets 5i..5i+4 with timestamps 1_000_000 + 100i + (0..5).
    assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((0, 1_000_000)));
    assert_eq!(
        log.offset_for_timestamp(1_000_000 + 4200).unwrap(),
        Some((210, 1_004_200))
    );
    assert_eq!(
        log.offset_for_timestamp(1_000_000 + 4202).unwrap(),
        Some((212, 1_004_202))
    );
    assert_eq!(
        log.offset_for_timestamp(1_000_000 + 4203 + 10).unwrap(),
        Some((215, 1_004_300))
    );
    assert_eq!(log.offset_for_timestamp(2_000_000).unwrap(), None);
}

#[test]
fn the_max_timestamp_is_found_in_whichever_segment_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(
        dir.path(),
        LogConfig {
            segment_bytes: 4 * 1024,
            ..LogConfig::default()
        },
    );
    assert_eq!(log.offset_of_max_timestamp().unwrap(), None);
    // Timestamps rise, then one old-segment batch holds the maximum, then they fall back.
    for i in 0..40u64 {
        let ts = if i == 7 { 9_000_000 } else { 1_000_000 + i as i64 * 100 };
        log.append(&batch_at(i, 5, 100, ts), 0).unwrap();
    }
    assert!(log.segment_count() > 2);
    // Batch 7 holds offsets 35..39 with timestamps 9_000_000..9_000_004: the last record has the maximum.
    assert_eq!(log.offset_of_max_timestamp().unwrap(), Some((39, 9_000_004)));
}

#[test]
fn a_new_config_applies_to_the_next_append_and_retention() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default());
    let big = batch(1, 10, 1000);
    log.append(&big, 0).unwrap();
    log.set_config(LogConfig {
        max_message_bytes: 1000,
        retention_ms: 1,
        segment_bytes: 2048,
        ..LogConfig::default()
    });
    assert_eq!(log.config().max_message_bytes, 1000);
    assert!(matches!(log.append(&big, 0), Err(Error::MessageTooLarge { .. })));
    // Small appends roll at the new segment size; retention deletes by the new time limit.
    for i in 0..10 {
        log.append(&batch(i + 2, 1, 200), 0).unwrap();
    }
    assert!(log.segment_count() > 1);
    let now = 1_700_000_000_000 + 10_000;
    assert!(log.apply_retention(log.log_end_offset(), now).unwrap() > 0);
}

#[test]
fn retention_deletes_whole_segments_below_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 8 * 1024,
        retention_bytes: 20 * 1024,
        ..LogConfig::default()
    };
    let log = open(dir.path(), config);
    for i in 0..100 {
        log.append(&batch(i, 4, 200), 0).unwrap();
    }
    let before = log.segment_count();
    // Nothing is deleted above the high watermark.
    assert_eq!(log.apply_retention(0, 0).unwrap(), 0);
    let deleted = log.apply_retention(log.log_end_offset(), 0).unwrap();
    assert!(deleted > 0 && log.segment_count() == before - deleted);
    assert!(log.size_in_bytes() <= 20 * 1024 + 8 * 1024);
    let start = log.log_start_offset();
    assert!(start > 0);
    assert!(matches!(
        log.read(start - 1, 100, 400),
        Err(Error::OffsetOutOfRange { .. })
    ));
    assert!(log.read(start, 100, 400).unwrap().slice.is_some());

    // Time retention: everything is older than 1 ms at a far-future "now", but the active data stays
    // readable until the bound allows it; then an empty segment replaces it.
    let config = LogConfig {
        retention_ms: 1,
        ..LogConfig::clone(&log.config())
    };
    drop(log);
    let (log, _) = Log::open(
        dir.path(),
        config,
        OpenHints {
            log_start_offset: start,
            ..OpenHints::default()
        },
    )
    .unwrap();
    assert_eq!(log.log_start_offset(), start);
    log.apply_retention(400, i64::MAX / 2).unwrap();
    assert_eq!(log.log_start_offset(), 400);
    assert_eq!(log.log_end_offset(), 400);
    assert_eq!(log.append(&batch(1, 1, 1), 0).unwrap().base_offset, 400);
}

#[test]
fn truncation_cuts_at_a_batch_start() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(
        dir.path(),
        LogConfig {
            segment_bytes: 4 * 1024,
            ..LogConfig::default()
        },
    );
    for i in 0..50 {
        log.append(&batch(i, 3, 100), 0).unwrap();
    }
    let segments = log.segment_count();
    log.truncate_to(77).unwrap(); // inside the batch 75..77
    assert_eq!(log.log_end_offset(), 75);
    assert!(log.segment_count() < segments);
    assert_eq!(log.append(&batch(99, 3, 100), 0).unwrap().base_offset, 75);
    let r = log.read(60, 1 << 20, 78).unwrap();
    let bytes = slice_bytes(&r.slice.unwrap());
    let last = Batches::new(&bytes).last().unwrap().unwrap();
    assert!(last.header().last_offset() <= 77);
    // Below the log start, the log restarts empty at that offset.
    log.truncate_to(0).unwrap();
    assert_eq!(log.log_end_offset(), 0);
    // A follower behind its leader's log start starts again there, empty, past its old end.
    log.append(&batch(1, 3, 100), 4).unwrap();
    log.truncate_fully_and_start_at(500).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (500, 500));
    assert_eq!(log.latest_epoch(), None);
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.append(&batch(2, 3, 100), 5).unwrap().base_offset, 500);
    drop(log);
    let log = open(dir.path(), LogConfig::default());
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (500, 503));
}

#[test]
fn followers_keep_the_leaders_offsets() {
    let (leader_dir, follower_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let leader = open(leader_dir.path(), LogConfig::default());
    let follower = open(
        follower_dir.path(),
        LogConfig {
            segment_bytes: 2048,
            ..LogConfig::default()
        },
    );
    for i in 0..30 {
        leader.append(&batch(i, 2, 50), 3).unwrap();
    }
    let all = slice_bytes(&leader.read(0, 1 << 20, 60).unwrap().slice.unwrap());
    let info = follower.append_as_follower(&all).unwrap().unwrap();
    assert_eq!((info.base_offset, info.last_offset), (0, 59));
    assert!(follower.segment_count() > 1);
    // Replaying is not contiguous.
    assert!(matches!(
        follower.append_as_follower(&all),
        Err(Error::NonContiguous { expected: 60, got: 0 })
    ));
    let mut copy = Vec::new();
    let mut offset = 0;
    while offset < 60 {
        let s = follower.read(offset, 1 << 20, 60).unwrap().slice.unwrap();
        let bytes = slice_bytes(&s);
        offset = Batches::new(&bytes).last().unwrap().unwrap().header().last_offset() + 1;
        copy.extend_from_slice(&bytes);
    }
    assert_eq!(copy, all);
}

#[test]
fn flush_messages_one_syncs_every_append() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(
        dir.path(),
        LogConfig {
            flush_messages: 1,
            ..LogConfig::default()
        },
    );
    for i in 0..5 {
        log.append(&batch(i, 2, 10), 0).unwrap();
        assert_eq!(log.recovery_point(), log.log_end_offset());
    }
}

#[test]
fn producer_batches_come_from_the_tail_of_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(
        dir.path(),
        LogConfig {
            segment_bytes: 4096,
            index_interval_bytes: 256,
            ..LogConfig::default()
        },
    );
    for i in 0..60i32 {
        let mut b = protocol::record::BatchBuilder::new(protocol::record::Compression::None, 0);
        b.producer_id = 7 + i64::from(i % 2);
        b.producer_epoch = 0;
        b.base_sequence = i / 2;
        b.push(protocol::record::Record {
            value: Some(vec![1u8; 100].into()),
            ..Default::default()
        });
        log.append(&b.build().unwrap(), 0).unwrap();
    }
    assert!(log.segment_count() > 2);
    let all = log.producer_batches(u64::MAX).unwrap();
    assert_eq!(all.len(), 60);
    assert_eq!(
        (all[59].producer_id, all[59].base_sequence, all[59].base_offset),
        (8, 29, 59)
    );
    // A budget of about 10 batches returns the newest ones, oldest first, starting on a batch boundary.
    let one = log.size_in_bytes() / 60;
    let tail = log.producer_batches(10 * one).unwrap();
    assert!((10..=20).contains(&tail.len()), "{}", tail.len());
    assert_eq!(tail.last().unwrap().base_offset, 59);
    assert!(tail.windows(2).all(|w| w[1].base_offset == w[0].base_offset + 1));
}

#[test]
fn deleting_records_raises_the_log_start_and_drops_whole_segments_below_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 1024,
        ..LogConfig::default()
    };
    let log = open(dir.path(), config.clone());
    for i in 0..20 {
        log.append(&batch(i, 5, 50), 0).unwrap();
    }
    let segments = log.segment_count();
    assert!(segments > 3, "{segments} segments");
    // Lower than the start, or beyond the end: nothing moves past the end.
    assert_eq!(log.delete_records_before(-5).unwrap(), 0);
    let deleted = log.delete_records_before(57).unwrap();
    assert!(deleted > 0 && deleted < segments, "{deleted} of {segments}");
    assert_eq!(log.log_start_offset(), 57);
    assert_eq!(log.segment_count(), segments - deleted);
    assert!(matches!(
        log.read(56, 1 << 20, 100),
        Err(Error::OffsetOutOfRange { .. })
    ));
    let read = log.read(57, 1 << 20, 100).unwrap();
    assert!(read.slice.is_some());
    log.delete_records_before(1_000).unwrap();
    assert_eq!(log.log_start_offset(), log.log_end_offset());
    assert_eq!(log.segment_count(), 1);
    // The new start survives a restart (checkpointed by the manager; here, through the hints).
    let start = log.log_start_offset();
    log.close().unwrap();
    drop(log);
    let (reopened, _) = Log::open(
        dir.path(),
        config,
        OpenHints {
            clean_shutdown: true,
            log_start_offset: start,
            ..OpenHints::default()
        },
    )
    .unwrap();
    assert_eq!(reopened.log_start_offset(), start);
}
