//! The produce and fetch paths over real logs: KIP-74 byte limits, read bounds for consumers and
//! followers, leader epochs, `acks=all` waiting for the high watermark, deletion under a waiting fetch.

use std::sync::Arc;
use std::time::Duration;

use protocol::record::{BatchBuilder, Compression, Record};
use protocol::{ErrorCode, Records};

use super::*;
use crate::topic_config::TopicConfig;

fn manager(dir: &std::path::Path) -> Arc<ReplicaManager> {
    let config = Config {
        data_dir: dir.to_path_buf(),
        ..Config::default()
    };
    Arc::new(ReplicaManager::open(&config, Arc::new(crate::metrics::Metrics::new(true))).unwrap())
}

/// A batch of `records` records of `value_len` bytes each.
fn batch(records: usize, value_len: usize) -> Records {
    let mut b = BatchBuilder::new(Compression::None, 1_700_000_000_000);
    for _ in 0..records {
        b.push(Record {
            value: Some(vec![b'x'; value_len].into()),
            ..Record::default()
        });
    }
    Records::Inline(b.build().unwrap())
}

async fn produce(
    rm: &ReplicaManager,
    acks: i16,
    timeout_ms: u64,
    topic: &str,
    partition: i32,
    records: Records,
) -> ProduceResult {
    let entry = ProduceEntry {
        topic,
        partition,
        records: Some(&records),
    };
    rm.append_records(acks, Duration::from_millis(timeout_ms), 7, [entry])
        .await
        .0
        .remove(0)
}

fn fetch_params<'a>(replica_id: i32, max_bytes: i32, parts: &[(&'a str, i32, i64, i32)]) -> FetchParams<'a> {
    FetchParams {
        replica_id,
        max_wait: Duration::ZERO,
        min_bytes: 0,
        max_bytes,
        isolation_level: 0,
        partitions: parts
            .iter()
            .map(
                |&(topic, partition, fetch_offset, partition_max_bytes)| FetchPartitionParams {
                    topic,
                    partition,
                    fetch_offset,
                    current_leader_epoch: -1,
                    last_fetched_epoch: -1,
                    partition_max_bytes,
                },
            )
            .collect(),
    }
}

fn records_len(f: &FetchedPartition) -> u64 {
    f.records.as_ref().map_or(0, |s| s.len())
}

#[test]
fn byte_budget_follows_kip_74() {
    // The first partition with records gets its first batch whole, whatever the limits.
    let mut b = ByteBudget::new(100);
    assert_eq!(b.partition_limit(50), Some(50));
    assert!(b.take(500, 50));
    // Nothing is left: later partitions do not read at all.
    assert_eq!(b.partition_limit(50), None);
    let mut b = ByteBudget::new(100);
    assert!(b.take(60, 100));
    // 40 left: a partition may read up to 40, and a first batch over that is refused (no partial batch).
    assert_eq!(b.partition_limit(1000), Some(40));
    assert!(!b.take(41, 40));
    assert!(b.take(40, 40));
    assert_eq!(b.partition_limit(1000), None);
    // Until some partition returned records, an empty partition does not spend the "whole first batch".
    let b = ByteBudget::new(0);
    assert_eq!(b.partition_limit(0), Some(0));
}

#[tokio::test]
async fn fetch_limits_across_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let rm = manager(dir.path());
    rm.create_topic("t", 3, TopicConfig::default()).await.unwrap();
    for p in 0..3 {
        assert_eq!(produce(&rm, 1, 0, "t", p, batch(10, 1000)).await.error, ErrorCode::None);
    }
    // One batch is about 10 KB: bigger than both limits, the first is returned whole, later ones get none.
    let fetched = rm
        .fetch_messages(
            &fetch_params(-1, 4000, &[("t", 0, 0, 2000), ("t", 1, 0, 2000)]),
            u64::MAX,
        )
        .await
        .0;
    assert!(records_len(&fetched[0]) > 10_000);
    assert_eq!(records_len(&fetched[1]), 0);
    assert_eq!(fetched[1].error, ErrorCode::None);
    // The broker's fetch.max.bytes caps a consumer's response too.
    let fetched = rm
        .fetch_messages(
            &fetch_params(-1, i32::MAX, &[("t", 0, 0, i32::MAX), ("t", 1, 0, i32::MAX)]),
            15_000,
        )
        .await
        .0;
    assert!(records_len(&fetched[0]) > 10_000);
    assert_eq!(records_len(&fetched[1]), 0);
    // An empty first partition does not use up the "first batch whole" allowance.
    let fetched = rm
        .fetch_messages(
            &fetch_params(-1, 100, &[("t", 0, 1_000, 100), ("t", 2, 0, 100)]),
            u64::MAX,
        )
        .await
        .0;
    assert_eq!(fetched[0].error, ErrorCode::OffsetOutOfRange);
    let fetched = rm
        .fetch_messages(&fetch_params(-1, 100, &[("t", 2, 10, 100), ("t", 1, 0, 100)]), u64::MAX)
        .await
        .0;
    assert_eq!(records_len(&fetched[0]), 0);
    assert!(records_len(&fetched[1]) > 10_000);
}

#[tokio::test]
async fn consumers_read_to_the_high_watermark_and_followers_to_the_log_end() {
    let dir = tempfile::tempdir().unwrap();
    let rm = manager(dir.path());
    rm.create_topic("r", 1, TopicConfig::default()).await.unwrap();
    let p = rm.partition("r", 0).unwrap();
    // Broker 0 leads with broker 1 as a follower: appends stay uncommitted until broker 1 fetches them.
    p.make_leader(0, 0, &[0, 1]);
    assert_eq!(produce(&rm, 1, 0, "r", 0, batch(5, 10)).await.base_offset, 0);
    assert_eq!((p.high_watermark(), p.log().log_end_offset()), (0, 5));
    let consumer = rm
        .fetch_messages(&fetch_params(-1, i32::MAX, &[("r", 0, 0, i32::MAX)]), u64::MAX)
        .await
        .0;
    assert_eq!(
        (consumer[0].error, consumer[0].high_watermark, records_len(&consumer[0])),
        (ErrorCode::None, 0, 0)
    );
    let follower = rm
        .fetch_messages(&fetch_params(1, i32::MAX, &[("r", 0, 0, i32::MAX)]), u64::MAX)
        .await
        .0;
    assert!(
        records_len(&follower[0]) > 0,
        "a follower reads past the high watermark"
    );
    // A broker that is not a replica may not fetch as a follower.
    let stranger = rm
        .fetch_messages(&fetch_params(2, i32::MAX, &[("r", 0, 0, i32::MAX)]), u64::MAX)
        .await
        .0;
    assert_eq!(stranger[0].error, ErrorCode::NotLeaderOrFollower);
    // The follower's next fetch, from 5, says it has everything: the high watermark moves.
    let _ = rm
        .fetch_messages(&fetch_params(1, i32::MAX, &[("r", 0, 5, i32::MAX)]), u64::MAX)
        .await;
    assert_eq!(p.high_watermark(), 5);
    let consumer = rm
        .fetch_messages(&fetch_params(-1, i32::MAX, &[("r", 0, 0, i32::MAX)]), u64::MAX)
        .await
        .0;
    assert_eq!(consumer[0].high_watermark, 5);
    assert!(records_len(&consumer[0]) > 0);
}

#[tokio::test]
async fn acks_all_waits_for_the_high_watermark_or_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let rm = manager(dir.path());
    rm.create_topic("a", 1, TopicConfig::default()).await.unwrap();
    // One replica: acknowledged at once.
    assert_eq!(produce(&rm, -1, 0, "a", 0, batch(1, 10)).await.error, ErrorCode::None);
    let p = rm.partition("a", 0).unwrap();
    p.make_leader(0, 0, &[0, 1]);
    // With a follower that never fetches, the batch is written but not acknowledged in time.
    let timed_out = produce(&rm, -1, 50, "a", 0, batch(1, 10)).await;
    assert_eq!(timed_out.error, ErrorCode::RequestTimedOut);
    assert_eq!(p.log().log_end_offset(), 2);
    // acks=1 does not wait for the follower.
    assert_eq!(produce(&rm, 1, 0, "a", 0, batch(1, 10)).await.base_offset, 2);
    // A waiting acks=all produce completes when the follower's fetch moves the high watermark past it.
    let waiting = {
        let rm = Arc::clone(&rm);
        tokio::spawn(async move { produce(&rm, -1, 30_000, "a", 0, batch(1, 10)).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished());
    assert_eq!(rm.delayed_produce.stats().waiting, 1);
    let _ = rm
        .fetch_messages(&fetch_params(1, i32::MAX, &[("a", 0, 4, i32::MAX)]), u64::MAX)
        .await;
    let done = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((done.error, done.base_offset), (ErrorCode::None, 3));
    assert_eq!(rm.delayed_produce.stats().expired, 1);
}

#[tokio::test]
async fn fetches_check_the_leader_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let rm = manager(dir.path());
    rm.create_topic("e", 1, TopicConfig::default()).await.unwrap();
    rm.partition("e", 0).unwrap().make_leader(0, 3, &[0]);
    let with_epoch = |epoch: i32| {
        let mut params = fetch_params(-1, i32::MAX, &[("e", 0, 0, i32::MAX)]);
        params.partitions[0].current_leader_epoch = epoch;
        params
    };
    for (epoch, code) in [
        (-1, ErrorCode::None),
        (3, ErrorCode::None),
        (2, ErrorCode::FencedLeaderEpoch),
        (4, ErrorCode::UnknownLeaderEpoch),
    ] {
        let fetched = rm.fetch_messages(&with_epoch(epoch), u64::MAX).await.0;
        assert_eq!(fetched[0].error, code, "epoch {epoch}");
    }
    // Appends are stamped with the leader epoch.
    produce(&rm, 1, 0, "e", 0, batch(1, 10)).await;
    let slice = rm
        .partition("e", 0)
        .unwrap()
        .read(0, 1 << 20, crate::partition::ReadBound::LogEnd)
        .unwrap()
        .slice
        .unwrap();
    let mut header = [0u8; 61];
    std::os::unix::fs::FileExt::read_exact_at(&*slice.file, &mut header, slice.range.start).unwrap();
    assert_eq!(i32::from_be_bytes(header[12..16].try_into().unwrap()), 3);
}

#[tokio::test]
async fn deleting_a_topic_answers_its_waiting_fetches() {
    let dir = tempfile::tempdir().unwrap();
    let rm = manager(dir.path());
    rm.create_topic("gone", 1, TopicConfig::default()).await.unwrap();
    let waiting = {
        let rm = Arc::clone(&rm);
        tokio::spawn(async move {
            let mut params = fetch_params(-1, i32::MAX, &[("gone", 0, 0, i32::MAX)]);
            params.max_wait = Duration::from_secs(30);
            params.min_bytes = 1;
            rm.fetch_messages(&params, u64::MAX).await.0
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(rm.delete_topic("gone").await, ErrorCode::None);
    let fetched = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(fetched[0].error, ErrorCode::None);
    assert!(rm.topic("gone").is_none());
    assert!(!dir.path().join("gone-0").exists());
}

#[tokio::test]
async fn a_topics_flush_ms_override_is_honoured_by_the_flush_timer() {
    let dir = tempfile::tempdir().unwrap();
    // The broker never flushes on time (Kafka's default); the topic asks for every second.
    let rm = manager(dir.path());
    let config = TopicConfig::parse([("flush.ms", Some("1000"))]).unwrap();
    let created = std::time::Instant::now();
    rm.create_topic("timed", 1, config).await.unwrap();
    rm.create_topic("untimed", 1, TopicConfig::default()).await.unwrap();
    produce(&rm, 1, 0, "timed", 0, batch(3, 10)).await;
    produce(&rm, 1, 0, "untimed", 0, batch(3, 10)).await;
    let timed = rm.partition("timed", 0).unwrap();
    let untimed = rm.partition("untimed", 0).unwrap();
    if created.elapsed() < Duration::from_millis(900) {
        // Appended well within a second of the last flush: not synced by the append itself.
        assert_eq!(timed.log().recovery_point(), 0);
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    rm.flush_due(crate::broker::storage_now_ms()).unwrap();
    assert_eq!(timed.log().recovery_point(), 3, "the topic's flush.ms was not honoured");
    assert_eq!(
        untimed.log().recovery_point(),
        0,
        "a topic without flush.ms was flushed"
    );
}

#[tokio::test]
async fn topic_ids_are_kept_across_restarts_and_new_after_a_recreation() {
    let dir = tempfile::tempdir().unwrap();
    let rm = manager(dir.path());
    rm.create_topic("ids", 3, TopicConfig::default()).await.unwrap();
    let id = rm.topic("ids").unwrap().id;
    for p in 0..3 {
        assert_eq!(
            crate::topic_id::TopicId::read(&dir.path().join(format!("ids-{p}"))),
            Some(id)
        );
    }
    rm.close().unwrap();
    drop(rm);
    let rm = manager(dir.path());
    assert_eq!(rm.topic("ids").unwrap().id, id, "the id survives a restart");
    // A topic from before ids were kept gets one, written to every partition.
    std::fs::remove_file(dir.path().join("ids-1").join(crate::topic_id::FILE)).unwrap();
    rm.close().unwrap();
    drop(rm);
    let rm = manager(dir.path());
    assert_eq!(rm.topic("ids").unwrap().id, id, "the other partitions' id wins");
    assert_eq!(crate::topic_id::TopicId::read(&dir.path().join("ids-1")), Some(id));
    // Found on disk, not yet in the metadata: offered for adoption with its id and epochs.
    let unregistered = rm.unregistered_topics();
    assert_eq!(unregistered.len(), 1);
    let found = &unregistered[0];
    assert_eq!((found.name.as_str(), found.id, found.partitions), ("ids", id, 3));
}

#[tokio::test]
async fn topics_are_found_by_id_and_forgotten_with_their_topic() {
    let dir = tempfile::tempdir().unwrap();
    let rm = manager(dir.path());
    rm.create_topic("byid", 1, TopicConfig::default()).await.unwrap();
    let id = rm.topic("byid").unwrap().id;
    assert_eq!(&*rm.topic_by_id(id).unwrap().name, "byid");
    assert_eq!(rm.delete_topic("byid").await, ErrorCode::None);
    assert!(rm.topic_by_id(id).is_none());
    // A topic re-created under the same name is another topic: the old id finds nothing.
    rm.create_topic("byid", 1, TopicConfig::default()).await.unwrap();
    let new_id = rm.topic("byid").unwrap().id;
    assert_ne!(new_id, id);
    assert!(rm.topic_by_id(id).is_none());
    assert_eq!(&*rm.topic_by_id(new_id).unwrap().name, "byid");
}

#[tokio::test]
async fn a_fetcher_whose_last_epoch_diverged_gets_the_diverging_epoch_and_no_records() {
    let dir = tempfile::tempdir().unwrap();
    let rm = manager(dir.path());
    rm.create_topic("d", 1, TopicConfig::default()).await.unwrap();
    let p = rm.partition("d", 0).unwrap();
    // Epoch 0: offsets 0..3; epoch 2: offsets 3..5.
    produce(&rm, 1, 0, "d", 0, batch(3, 10)).await;
    p.make_leader(0, 2, &[0]);
    produce(&rm, 1, 0, "d", 0, batch(2, 10)).await;
    assert_eq!(p.end_offset_for_epoch(0), (0, 3));
    assert_eq!(p.end_offset_for_epoch(1), (0, 3));
    assert_eq!(p.end_offset_for_epoch(2), (2, 5));
    assert_eq!(p.end_offset_for_epoch(3), (-1, -1));
    assert_eq!((p.epoch_of_offset(2), p.epoch_of_offset(3)), (0, 2));
    let fetch = |offset: i64, last_epoch: i32| {
        let mut params = fetch_params(-1, i32::MAX, &[("d", 0, offset, i32::MAX)]);
        params.partitions[0].last_fetched_epoch = last_epoch;
        params
    };
    // Consistent: a fetcher at offset 3 whose last batch was of epoch 0 (which ends at 3) reads on.
    let f = rm.fetch_messages(&fetch(3, 0), u64::MAX).await.0.remove(0);
    assert_eq!((f.diverging_epoch, f.error), (None, ErrorCode::None));
    assert!(records_len(&f) > 0);
    // A fetcher at offset 4 claiming epoch 1 (this log never had it; epoch 0 ends at 3) diverged.
    let f = rm.fetch_messages(&fetch(4, 1), u64::MAX).await.0.remove(0);
    assert_eq!(f.diverging_epoch, Some((0, 3)));
    assert!(f.records.is_none());
    // A fetcher claiming an epoch newer than the leader's diverged with (-1, -1).
    let f = rm.fetch_messages(&fetch(5, 7), u64::MAX).await.0.remove(0);
    assert_eq!(f.diverging_epoch, Some((-1, -1)));
    // The epochs survive a restart (the log's epoch cache); the partition serves again once the metadata
    // gives it a role.
    rm.close().unwrap();
    drop((rm, p));
    let rm = manager(dir.path());
    assert_eq!(rm.partition("d", 0).unwrap_err(), ErrorCode::NotLeaderOrFollower);
    let p = rm.local_partition("d", 0).unwrap();
    assert_eq!(p.leader_epoch(), 2);
    assert_eq!(p.end_offset_for_epoch(0), (0, 3));
}

#[tokio::test]
async fn partitions_are_added_with_the_topics_id_and_config() {
    let dir = tempfile::tempdir().unwrap();
    let rm = manager(dir.path());
    let config = TopicConfig::parse([("retention.ms", Some("60000"))]).unwrap();
    rm.create_topic("grow", 2, config).await.unwrap();
    let id = rm.topic("grow").unwrap().id;
    for (count, code) in [(2, ErrorCode::InvalidPartitions), (1, ErrorCode::InvalidPartitions)] {
        assert_eq!(rm.create_partitions("grow", count).await.unwrap_err().0, code);
    }
    assert_eq!(
        rm.create_partitions("nope", 3).await.unwrap_err().0,
        ErrorCode::UnknownTopicOrPartition
    );
    rm.create_partitions("grow", 5).await.unwrap();
    let topic = rm.topic("grow").unwrap();
    assert_eq!(topic.partitions.len(), 5);
    assert_eq!(topic.id, id);
    assert_eq!(topic.partitions[4].as_ref().unwrap().log().config().retention_ms, 60000);
    assert_eq!(produce(&rm, 1, 0, "grow", 4, batch(1, 10)).await.error, ErrorCode::None);
    rm.close().unwrap();
    drop((rm, topic));
    let rm = manager(dir.path());
    let topic = rm.topic("grow").unwrap();
    assert_eq!((topic.partitions.len(), topic.id), (5, id), "kept across a restart");
}

#[tokio::test]
async fn config_changes_apply_to_the_live_logs_and_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let rm = manager(dir.path());
    rm.create_topic("cfg", 2, TopicConfig::default()).await.unwrap();
    let set = TopicConfig::parse([("max.message.bytes", Some("200"))]).unwrap();
    rm.alter_topic_config("cfg", &set).await.unwrap();
    for p in rm.topic("cfg").unwrap().hosted() {
        assert_eq!(p.log().config().max_message_bytes, 200);
    }
    // The live log enforces it at once.
    assert_eq!(
        produce(&rm, 1, 0, "cfg", 1, batch(5, 100)).await.error,
        ErrorCode::MessageTooLarge
    );
    rm.close().unwrap();
    drop(rm);
    let rm = manager(dir.path());
    assert_eq!(
        rm.topic("cfg")
            .unwrap()
            .config
            .overrides
            .get("max.message.bytes")
            .map(String::as_str),
        Some("200")
    );
    assert_eq!(
        rm.local_partition("cfg", 0).unwrap().log().config().max_message_bytes,
        200
    );
}

#[tokio::test]
async fn delete_records_raises_the_low_watermark_up_to_the_high_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let rm = manager(dir.path());
    rm.create_topic("dr", 1, TopicConfig::default()).await.unwrap();
    for _ in 0..4 {
        produce(&rm, 1, 0, "dr", 0, batch(2, 10)).await;
    }
    assert_eq!(rm.delete_records("dr", 0, 9).await, Err(ErrorCode::OffsetOutOfRange));
    assert_eq!(rm.delete_records("dr", 0, -7).await, Err(ErrorCode::OffsetOutOfRange));
    assert_eq!(
        rm.delete_records("dr", 3, 1).await,
        Err(ErrorCode::UnknownTopicOrPartition)
    );
    assert_eq!(rm.delete_records("dr", 0, 3).await, Ok(3));
    // Reads below the new start are out of range; a lower offset changes nothing.
    let f = rm
        .fetch_messages(&fetch_params(-1, i32::MAX, &[("dr", 0, 1, i32::MAX)]), u64::MAX)
        .await
        .0;
    assert_eq!(f[0].error, ErrorCode::OffsetOutOfRange);
    assert_eq!(rm.delete_records("dr", 0, 2).await, Ok(3));
    assert_eq!(rm.delete_records("dr", 0, -1).await, Ok(8));
    // Checkpointed before the answer: kept by a restart even without a clean close.
    drop(rm);
    let rm = manager(dir.path());
    assert_eq!(rm.local_partition("dr", 0).unwrap().log().log_start_offset(), 8);
}

#[tokio::test]
async fn acks_all_checks_the_minimum_isr_and_ends_when_leadership_moves() {
    let dir = tempfile::tempdir().unwrap();
    let rm = manager(dir.path());
    let config = TopicConfig::parse([("min.insync.replicas", Some("2"))]).unwrap();
    rm.create_topic("m", 1, config).await.unwrap();
    let p = rm.partition("m", 0).unwrap();
    let state = |isr: &[i32], leader: i32, leader_epoch: i32, partition_epoch: i32| metadata::PartitionState {
        replicas: vec![0, 1, 2],
        isr: isr.to_vec(),
        leader,
        leader_epoch,
        partition_epoch,
    };
    // The ISR is the leader alone, below min.insync.replicas: acks=all is refused before the append, acks=1
    // is not.
    p.apply_state(&state(&[0], 0, 1, 10));
    let refused = produce(&rm, -1, 1_000, "m", 0, batch(1, 10)).await;
    assert_eq!(refused.error, ErrorCode::NotEnoughReplicas);
    assert_eq!(p.log().log_end_offset(), 0, "nothing was written");
    assert_eq!(produce(&rm, 1, 0, "m", 0, batch(1, 10)).await.error, ErrorCode::None);
    // With two in the ISR the write is taken and waits for the follower ...
    p.apply_state(&state(&[0, 1], 0, 1, 11));
    let waiting = {
        let rm = Arc::clone(&rm);
        tokio::spawn(async move { produce(&rm, -1, 30_000, "m", 0, batch(1, 10)).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished());
    assert_eq!(p.log().log_end_offset(), 2);
    // ... until another broker leads: the batch may be truncated, so it is not acknowledged.
    p.apply_state(&state(&[1, 2], 1, 2, 12));
    let done = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.error, ErrorCode::NotLeaderOrFollower);
    // A follower is not served.
    assert_eq!(
        produce(&rm, -1, 0, "m", 0, batch(1, 10)).await.error,
        ErrorCode::NotLeaderOrFollower
    );
}

#[tokio::test]
async fn a_changed_min_insync_replicas_applies_to_a_partition_already_led() {
    let dir = tempfile::tempdir().unwrap();
    let rm = manager(dir.path());
    rm.create_topic("c", 1, TopicConfig::default()).await.unwrap();
    let p = rm.partition("c", 0).unwrap();
    p.apply_state(&metadata::PartitionState {
        replicas: vec![0, 1],
        isr: vec![0],
        leader: 0,
        leader_epoch: 1,
        partition_epoch: 10,
    });
    assert_eq!(
        produce(&rm, -1, 1_000, "c", 0, batch(1, 10)).await.error,
        ErrorCode::None
    );
    let config = TopicConfig::parse([("min.insync.replicas", Some("2"))]).unwrap();
    rm.alter_topic_config("c", &config).await.unwrap();
    assert_eq!(
        produce(&rm, -1, 1_000, "c", 0, batch(1, 10)).await.error,
        ErrorCode::NotEnoughReplicas
    );
}
