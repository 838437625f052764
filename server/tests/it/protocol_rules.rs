//! Kafka's rules checked with raw requests: long-poll fetches woken by appends, offsets out of range,
//! acks=0 and invalid acks, idempotent duplicates and sequence gaps.

use std::io::Read;
use std::time::{Duration, Instant};

use bytes::Bytes;
use protocol::record::{BatchBuilder, Compression, Record};
use protocol::{
    ApiKey, FetchPartition, FetchRequest, FetchTopic, PartitionProduceData, ProduceRequest, Records, RequestBody,
    ResponseBody, TopicProduceData,
};

use crate::support::{config, RawClient as Client, TestBroker};

fn produce_request(topic: &str, acks: i16, batch: Bytes) -> RequestBody {
    ProduceRequest {
        acks,
        timeout_ms: 5000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(Records::Inline(batch)),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
    .into()
}

fn batch(records: usize, producer: Option<(i64, i16, i32)>) -> Bytes {
    let mut b = BatchBuilder::new(Compression::None, 1_700_000_000_000);
    if let Some((id, epoch, seq)) = producer {
        b.producer_id = id;
        b.producer_epoch = epoch;
        b.base_sequence = seq;
    }
    for i in 0..records {
        b.push(Record {
            value: Some(Bytes::from(format!("record {i}"))),
            ..Record::default()
        });
    }
    b.build().unwrap()
}

fn produced(body: ResponseBody) -> (i16, i64) {
    let ResponseBody::Produce(p) = body else {
        panic!("not a produce response")
    };
    let r = &p.responses[0].partition_responses[0];
    (r.error_code, r.base_offset)
}

fn fetch_request(topic: &str, offset: i64, max_wait_ms: i32, min_bytes: i32) -> RequestBody {
    FetchRequest {
        max_wait_ms,
        min_bytes,
        max_bytes: 1 << 20,
        topics: vec![FetchTopic {
            topic: topic.into(),
            partitions: vec![FetchPartition {
                partition: 0,
                fetch_offset: offset,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
    .into()
}

fn fetched(body: &ResponseBody) -> (i16, i64, usize) {
    let ResponseBody::Fetch(f) = body else {
        panic!("not a fetch response")
    };
    let p = &f.responses[0].partitions[0];
    let len = match &p.records {
        Some(Records::Inline(b)) => b.len(),
        _ => 0,
    };
    (p.error_code, p.high_watermark, len)
}

#[test]
fn fetches_wait_for_data_and_are_woken_by_appends() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(config(dir.path()));
    let mut consumer = Client::new(&broker);
    consumer.create("poll");
    // Nothing there: a fetch with max_wait 300 ms returns empty after about that long.
    let t = Instant::now();
    let r = consumer.call(10, fetch_request("poll", 0, 300, 1));
    assert_eq!(fetched(&r), (0, 0, 0));
    assert!(t.elapsed() >= Duration::from_millis(250), "{:?}", t.elapsed());
    // A long poll (10 s) is answered as soon as a producer appends.
    consumer.send(10, fetch_request("poll", 0, 10_000, 1));
    std::thread::sleep(Duration::from_millis(200));
    let mut producer = Client::new(&broker);
    let t = Instant::now();
    assert_eq!(
        produced(producer.call(7, produce_request("poll", 1, batch(3, None)))),
        (0, 0)
    );
    let r = consumer.recv(ApiKey::Fetch, 10);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "the fetch was not woken: {:?}",
        t.elapsed()
    );
    let (code, hw, len) = fetched(&r.body);
    assert_eq!((code, hw), (0, 3));
    assert!(len > 0);
    broker.stop().unwrap();
}

#[test]
fn offsets_out_of_range_and_unknown_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(config(dir.path()));
    let mut c = Client::new(&broker);
    c.create("range");
    c.call(7, produce_request("range", 1, batch(5, None)));
    assert_eq!(
        fetched(&c.call(10, fetch_request("range", 6, 0, 1))).0,
        1,
        "OFFSET_OUT_OF_RANGE"
    );
    assert_eq!(fetched(&c.call(10, fetch_request("range", 5, 0, 1))), (0, 5, 0));
    assert_eq!(
        fetched(&c.call(10, fetch_request("nope", 0, 0, 1))).0,
        3,
        "UNKNOWN_TOPIC_OR_PARTITION"
    );
    broker.stop().unwrap();
}

#[test]
fn acks_zero_gets_no_response_and_invalid_acks_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(config(dir.path()));
    let mut c = Client::new(&broker);
    c.create("acks");
    c.send(7, produce_request("acks", 0, batch(2, None)));
    // The next response on the connection is for the next request: acks=0 had none.
    assert_eq!(produced(c.call(7, produce_request("acks", 1, batch(2, None)))), (0, 2));
    assert_eq!(
        produced(c.call(7, produce_request("acks", 2, batch(2, None)))).0,
        21,
        "INVALID_REQUIRED_ACKS"
    );
    assert_eq!(produced(c.call(7, produce_request("acks", -1, batch(2, None)))), (0, 4));
    // acks=0 with an error closes the connection, so the producer refreshes its metadata.
    c.send(7, produce_request("no-such-topic", 0, batch(1, None)));
    let mut buf = [0u8; 8];
    assert!(
        matches!(c.s.read(&mut buf), Ok(0) | Err(_)),
        "the connection should be closed"
    );
    broker.stop().unwrap();
}

#[test]
fn idempotent_retries_are_deduplicated_and_gaps_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(config(dir.path()));
    let mut c = Client::new(&broker);
    c.create("idem");
    let ResponseBody::InitProducerId(init) = c.call(1, protocol::InitProducerIdRequest::default().into()) else {
        panic!()
    };
    assert_eq!(init.error_code, 0);
    let pid = init.producer_id;
    let first = batch(3, Some((pid, 0, 0)));
    assert_eq!(produced(c.call(7, produce_request("idem", 1, first.clone()))), (0, 0));
    // A retry of the same batch is acknowledged with the original offset and not appended again.
    assert_eq!(produced(c.call(7, produce_request("idem", 1, first))), (0, 0));
    assert_eq!(
        produced(c.call(7, produce_request("idem", 1, batch(2, Some((pid, 0, 3)))))),
        (0, 3)
    );
    // A gap in the sequence is rejected.
    assert_eq!(
        produced(c.call(7, produce_request("idem", 1, batch(1, Some((pid, 0, 9)))))).0,
        45
    );
    // An older epoch is fenced.
    assert_eq!(
        produced(c.call(7, produce_request("idem", 1, batch(1, Some((pid, 1, 0)))))),
        (0, 5)
    );
    assert_eq!(
        produced(c.call(7, produce_request("idem", 1, batch(1, Some((pid, 0, 5)))))).0,
        47
    );
    // Five records in the log from this producer, plus one after the epoch bump.
    assert_eq!(fetched(&c.call(10, fetch_request("idem", 0, 0, 1))).1, 6);
    broker.stop().unwrap();
}

#[test]
fn idempotent_retries_are_recognised_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(config(dir.path()));
    let mut c = Client::new(&broker);
    c.create("idem-restart");
    let ResponseBody::InitProducerId(init) = c.call(1, protocol::InitProducerIdRequest::default().into()) else {
        panic!()
    };
    let pid = init.producer_id;
    assert_eq!(
        produced(c.call(7, produce_request("idem-restart", 1, batch(2, Some((pid, 0, 0)))))),
        (0, 0)
    );
    let last = batch(3, Some((pid, 0, 2)));
    assert_eq!(
        produced(c.call(7, produce_request("idem-restart", 1, last.clone()))),
        (0, 2)
    );
    broker.stop().unwrap();

    // The producer did not see the acknowledgement and retries after the broker came back.
    let broker = TestBroker::start(config(dir.path()));
    let mut c = Client::new(&broker);
    assert_eq!(
        produced(c.call(7, produce_request("idem-restart", 1, last))),
        (0, 2),
        "a duplicate, not a new append"
    );
    assert_eq!(
        produced(c.call(7, produce_request("idem-restart", 1, batch(1, Some((pid, 0, 6)))))).0,
        45
    );
    assert_eq!(
        produced(c.call(7, produce_request("idem-restart", 1, batch(1, Some((pid, 0, 5)))))),
        (0, 5)
    );
    assert_eq!(fetched(&c.call(10, fetch_request("idem-restart", 0, 0, 1))).1, 6);
    broker.stop().unwrap();
}

#[test]
fn an_append_wakes_only_fetches_waiting_on_its_partition() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(config(dir.path()));
    let mut setup = Client::new(&broker);
    setup.create("quiet");
    setup.create("busy");
    // A fetch on "quiet" with a 600 ms wait.
    let mut consumer = Client::new(&broker);
    let t = std::time::Instant::now();
    consumer.send(10, fetch_request("quiet", 0, 600, 1));
    std::thread::sleep(Duration::from_millis(100));
    // Appends to another partition do not answer it early.
    for _ in 0..5 {
        setup.call(7, produce_request("busy", 1, batch(1, None)));
    }
    let r = consumer.recv(ApiKey::Fetch, 10);
    assert_eq!(fetched(&r.body), (0, 0, 0));
    assert!(
        t.elapsed() >= Duration::from_millis(550),
        "woken by another partition: {:?}",
        t.elapsed()
    );
    assert_eq!(
        broker.metric("kzero_fetch_wakeups_total"),
        0.0,
        "woken by appends to another partition"
    );
    // An append to its own partition does.
    consumer.send(10, fetch_request("quiet", 0, 10_000, 1));
    std::thread::sleep(Duration::from_millis(100));
    let t = std::time::Instant::now();
    setup.call(7, produce_request("quiet", 1, batch(1, None)));
    let r = consumer.recv(ApiKey::Fetch, 10);
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(fetched(&r.body).1, 1);
    assert_eq!(broker.metric("kzero_fetch_wakeups_total"), 1.0);
    broker.stop().unwrap();
}
