//! `__consumer_offsets` through raw requests: commits survive a broker restart, the topic is cleaned so it
//! does not grow without bound (the live offsets are rewritten and older segments dropped), and clients
//! cannot write to it.

use std::time::{Duration, Instant};

use protocol::record::{BatchBuilder, Compression, Record};
use protocol::{
    ApiKey, ErrorCode, OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic, OffsetFetchRequest,
    OffsetFetchRequestTopic, PartitionProduceData, ProduceRequest, Records, RequestBody, ResponseBody,
    TopicProduceData,
};

use crate::support::{config, RawClient, TestBroker};

const GROUP: &str = "cleaner";

pub(crate) fn commit(offset: i64) -> RequestBody {
    OffsetCommitRequest {
        group_id: GROUP.into(),
        generation_id_or_member_epoch: -1,
        topics: vec![OffsetCommitRequestTopic {
            name: "t".into(),
            partitions: vec![OffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: offset,
                committed_metadata: Some(format!("m{offset}")),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
    .into()
}

fn fetch_request() -> RequestBody {
    OffsetFetchRequest {
        group_id: GROUP.into(),
        topics: Some(vec![OffsetFetchRequestTopic {
            name: "t".into(),
            partition_indexes: vec![0],
            ..Default::default()
        }]),
        ..Default::default()
    }
    .into()
}

/// The group's committed offset and metadata for t-0, asking again while the coordinator is still loading
/// `__consumer_offsets` (right after a start).
pub(crate) fn fetch_committed(c: &mut RawClient) -> (i64, Option<String>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ResponseBody::OffsetFetch(r) = c.call(7, fetch_request()) else {
            panic!("no OffsetFetch answer")
        };
        if r.error_code == ErrorCode::CoordinatorLoadInProgress.code() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        assert_eq!(r.error_code, 0, "{r:?}");
        let p = &r.topics[0].partitions[0];
        return (p.committed_offset, p.metadata.clone());
    }
}

/// The offsets topic's partition for GROUP (Java's hash of "cleaner" mod 50), found through the metrics.
fn offsets_partition_start(broker: &TestBroker) -> Vec<f64> {
    broker
        .metrics()
        .lines()
        .filter(|l| l.starts_with("kzero_log_start_offset{topic=\"__consumer_offsets\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect()
}

#[test]
fn offsets_survive_restarts_the_topic_is_cleaned_and_clients_cannot_write_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.group.offsets_retention_check_interval_ms = 300;
    let broker = TestBroker::start(cfg.clone());
    let mut c = RawClient::new(&broker);
    c.create("t");
    // 12,000 commits of one partition: 11,999 of them are dead records once the next one lands.
    let started = Instant::now();
    for chunk in 0..12 {
        for i in 0..1000 {
            c.send(8, commit(chunk * 1000 + i));
        }
        for _ in 0..1000 {
            let r = c.recv(ApiKey::OffsetCommit, 8);
            let ResponseBody::OffsetCommit(r) = r.body else {
                panic!()
            };
            assert_eq!(r.topics[0].partitions[0].error_code, 0);
        }
    }
    eprintln!("12,000 commits in {:?}", started.elapsed());
    assert_eq!(fetch_committed(&mut c), (11_999, Some("m11999".into())));
    // The cleaner rewrites the live offset and drops the older records (it may run while the commits still
    // arrive: at least 10,000 dead records go).
    let deadline = Instant::now() + Duration::from_secs(20);
    while !offsets_partition_start(&broker).iter().any(|s| *s >= 10_000.0) {
        assert!(
            Instant::now() < deadline,
            "never cleaned: {:?}",
            offsets_partition_start(&broker)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(fetch_committed(&mut c), (11_999, Some("m11999".into())));
    // Clients may not append to the internal topic.
    let mut batch = BatchBuilder::new(Compression::None, 1_700_000_000_000);
    batch.push(Record {
        value: Some("forged".into()),
        ..Record::default()
    });
    let produce = ProduceRequest {
        acks: 1,
        timeout_ms: 5000,
        topic_data: vec![TopicProduceData {
            name: "__consumer_offsets".into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(Records::Inline(batch.build().unwrap())),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let ResponseBody::Produce(p) = c.call(7, produce.into()) else {
        panic!()
    };
    assert_eq!(
        p.responses[0].partition_responses[0].error_code,
        ErrorCode::InvalidTopicException.code()
    );
    drop(c);
    broker.stop().unwrap();
    // After a restart the coordinator loads the cleaned topic: the same offset.
    let broker = TestBroker::start(cfg);
    let mut c = RawClient::new(&broker);
    assert_eq!(fetch_committed(&mut c), (11_999, Some("m11999".into())));
    broker.stop().unwrap();
}
