//! Malformed input over a raw socket: the broker answers with Kafka's error or closes that one
//! connection, and keeps serving everyone else (checked with a real client right after).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use protocol::record::{BatchBuilder, Compression, Record};
use protocol::{
    ApiKey, PartitionProduceData, ProduceRequest, Records, Request, RequestBody, RequestHeader, Response, ResponseBody,
    TopicProduceData,
};

use crate::support::{config, python, scenario, TestBroker};

fn connect(broker: &TestBroker) -> TcpStream {
    let s = TcpStream::connect(broker.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// True when the broker closed the connection (EOF, or reset) without sending anything.
fn closed_without_answer(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

fn request(api: ApiKey, version: i16, body: RequestBody) -> Vec<u8> {
    let mut out = BytesMut::new();
    Request {
        header: RequestHeader {
            client_id: Some("raw-test".into()),
            ..RequestHeader::new(api, version, 77)
        },
        body,
    }
    .encode(&mut out)
    .unwrap();
    out.to_vec()
}

fn read_response(s: &mut TcpStream, api: ApiKey, version: i16) -> Response {
    let mut size = [0u8; 4];
    s.read_exact(&mut size).unwrap();
    let mut frame = vec![0u8; i32::from_be_bytes(size) as usize];
    s.read_exact(&mut frame).unwrap();
    Response::decode(api, version, Bytes::from(frame)).unwrap()
}

fn batch(seed: u8) -> Bytes {
    let mut b = BatchBuilder::new(Compression::None, 1_700_000_000_000);
    b.push(Record {
        value: Some(Bytes::from(vec![seed; 100])),
        ..Record::default()
    });
    b.build().unwrap()
}

#[test]
fn malformed_requests_close_only_their_connection() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(config(dir.path()));
    // A bystander connection stays open through all of this.
    let mut bystander = connect(&broker);

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"GET / HTTP/1.1\r\nHost: kafka\r\n\r\n".to_vec()),
        ("oversize length prefix", i32::MAX.to_be_bytes().to_vec()),
        ("negative length prefix", (-5i32).to_be_bytes().to_vec()),
        ("unknown api key", {
            let mut f = vec![0, 0, 0, 10, 0x27, 0x0f, 0, 0, 0, 0, 0, 1, 0, 0];
            f.truncate(14);
            f
        }),
        (
            "unsupported version (Produce v2)",
            request(ApiKey::Produce, 3, ProduceRequest::default().into())
                .into_iter()
                .enumerate()
                .map(|(i, b)| if i == 7 { 2 } else { b })
                .collect(),
        ),
        (
            "unsupported version (Fetch v19, beyond Kafka 4.1's)",
            vec![0, 0, 0, 10, 0, 1, 0, 19, 0, 0, 0, 1, 0xff, 0xff],
        ),
        (
            "a Fetch v11 header without a body",
            vec![0, 0, 0, 10, 0, 1, 0, 11, 0, 0, 0, 1, 0xff, 0xff],
        ),
        (
            "body shorter than its fields",
            vec![0, 0, 0, 12, 0, 3, 0, 4, 0, 0, 0, 1, 0xff, 0xff, 0, 0],
        ),
    ];
    for (name, bytes) in cases {
        let mut s = connect(&broker);
        s.write_all(&bytes).unwrap();
        assert!(
            closed_without_answer(&mut s),
            "{name}: the broker should close the connection"
        );
    }
    // A truncated frame: the broker waits for the rest, and closes when the peer gives up.
    let mut s = connect(&broker);
    s.write_all(&[0, 0, 0, 100, 0, 18, 0, 3]).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(closed_without_answer(&mut s), "truncated frame");

    // ApiVersions of an unknown version is answered in v0 with UNSUPPORTED_VERSION.
    let mut s = connect(&broker);
    s.write_all(&[0, 0, 0, 14, 0, 18, 0, 9, 0, 0, 0, 3, 0, 1, b'x', 0, 0, 0])
        .unwrap();
    let r = read_response(&mut s, ApiKey::ApiVersions, 0);
    let ResponseBody::ApiVersions(v) = r.body else { panic!() };
    assert_eq!(v.error_code, 35);
    assert_eq!(v.api_keys.len(), 1);

    // The bystander is still served.
    bystander
        .write_all(&request(
            ApiKey::ApiVersions,
            2,
            RequestBody::ApiVersions(Default::default()),
        ))
        .unwrap();
    let r = read_response(&mut bystander, ApiKey::ApiVersions, 2);
    let ResponseBody::ApiVersions(v) = r.body else { panic!() };
    assert_eq!(v.error_code, 0);
    // Only the APIs this broker handles are advertised.
    assert_eq!(v.api_keys.len(), server::HANDLED_APIS.len());

    if let Some(py) = python() {
        scenario(&py, &broker.bootstrap(), "alive", &[]);
    }
    broker.stop().unwrap();
}

#[test]
fn a_corrupt_batch_is_rejected_and_nothing_else_is_affected() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(config(dir.path()));
    let mut s = connect(&broker);
    // Create the topic with two partitions through Metadata auto-creation... of one partition each:
    // use two topics instead.
    let good = batch(1);
    let mut bad = batch(2).to_vec();
    *bad.last_mut().unwrap() ^= 0xff;
    let produce = ProduceRequest {
        acks: 1,
        timeout_ms: 5000,
        topic_data: ["good", "bad"]
            .iter()
            .zip([good, Bytes::from(bad)])
            .map(|(name, records)| TopicProduceData {
                name: name.to_string(),
                partition_data: vec![PartitionProduceData {
                    index: 0,
                    records: Some(Records::Inline(records)),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    // The topics must exist: ask Metadata to create them.
    let md = protocol::MetadataRequest {
        topics: Some(vec![
            protocol::MetadataRequestTopic {
                name: Some("good".into()),
                ..Default::default()
            },
            protocol::MetadataRequestTopic {
                name: Some("bad".into()),
                ..Default::default()
            },
        ]),
        ..Default::default()
    };
    s.write_all(&request(ApiKey::Metadata, 4, md.into())).unwrap();
    read_response(&mut s, ApiKey::Metadata, 4);
    s.write_all(&request(ApiKey::Produce, 7, produce.into())).unwrap();
    let r = read_response(&mut s, ApiKey::Produce, 7);
    let ResponseBody::Produce(p) = r.body else { panic!() };
    let codes: Vec<(String, i16, i64)> = p
        .responses
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                t.partition_responses[0].error_code,
                t.partition_responses[0].base_offset,
            )
        })
        .collect();
    assert_eq!(
        codes,
        [("good".to_string(), 0, 0), ("bad".to_string(), 2, -1)],
        "CORRUPT_MESSAGE for the bad batch only"
    );
    // Nothing reached the bad partition's log.
    let log = std::fs::metadata(dir.path().join("bad-0/00000000000000000000.log")).unwrap();
    assert_eq!(log.len(), 0);
    // The same connection keeps working.
    s.write_all(&request(
        ApiKey::ApiVersions,
        2,
        RequestBody::ApiVersions(Default::default()),
    ))
    .unwrap();
    read_response(&mut s, ApiKey::ApiVersions, 2);
    broker.stop().unwrap();
}

/// Requests that would make the broker create billions of partitions, or damage the group coordinator's
/// internal topic, get Kafka's errors; the broker keeps serving.
#[test]
fn abusive_admin_requests_are_refused() {
    use protocol::{
        CreatableTopic, CreatePartitionsAssignment, CreatePartitionsRequest, CreatePartitionsTopic,
        CreateTopicsRequest, DeleteRecordsPartition, DeleteRecordsRequest, DeleteRecordsTopic, ErrorCode,
        MetadataRequest, MetadataRequestTopic,
    };

    use crate::support::RawClient;

    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(config(dir.path()));
    let mut c = RawClient::new(&broker);
    c.create("small");
    let create = |name: &str, partitions: i32| CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: name.into(),
            num_partitions: partitions,
            replication_factor: -1,
            ..Default::default()
        }],
        timeout_ms: 10_000,
        ..Default::default()
    };
    let created = |body: ResponseBody| match body {
        ResponseBody::CreateTopics(r) => r.topics[0].error_code,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        created(c.call(7, create("huge", i32::MAX).into())),
        ErrorCode::PolicyViolation.code()
    );
    assert_eq!(
        created(c.call(7, create("__consumer_offsets", 1).into())),
        ErrorCode::InvalidRequest.code()
    );
    let grow = |count: i32, assignments: Option<Vec<CreatePartitionsAssignment>>| CreatePartitionsRequest {
        topics: vec![CreatePartitionsTopic {
            name: "small".into(),
            count,
            assignments,
            ..Default::default()
        }],
        timeout_ms: 10_000,
        ..Default::default()
    };
    let grown = |body: ResponseBody| match body {
        ResponseBody::CreatePartitions(r) => r.results[0].error_code,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        grown(c.call(3, grow(i32::MAX, None).into())),
        ErrorCode::PolicyViolation.code()
    );
    let one = CreatePartitionsAssignment {
        broker_ids: vec![0],
        ..Default::default()
    };
    assert_eq!(
        grown(c.call(3, grow(i32::MIN, Some(vec![one])).into())),
        ErrorCode::InvalidPartitions.code()
    );
    // A client's Metadata does not create the coordinator's topic.
    let md = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: Some("__consumer_offsets".into()),
            ..Default::default()
        }]),
        allow_auto_topic_creation: true,
        ..Default::default()
    };
    let ResponseBody::Metadata(m) = c.call(12, md.into()) else {
        panic!()
    };
    assert_eq!(m.topics[0].error_code, ErrorCode::UnknownTopicOrPartition.code());
    let delete = DeleteRecordsRequest {
        topics: vec![DeleteRecordsTopic {
            name: "__consumer_offsets".into(),
            partitions: vec![DeleteRecordsPartition {
                partition_index: 0,
                offset: -1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        timeout_ms: 10_000,
        ..Default::default()
    };
    let ResponseBody::DeleteRecords(d) = c.call(2, delete.into()) else {
        panic!()
    };
    assert_eq!(
        d.topics[0].partitions[0].error_code,
        ErrorCode::InvalidTopicException.code()
    );
    // Still serving.
    c.create("after");
    broker.stop().unwrap();
}
