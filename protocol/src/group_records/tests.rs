//! Tests of the `__consumer_offsets` record formats: the byte examples of kafka-facts-2 §2.4, hand-computed
//! examples of the other layouts, round trips of every version, truncation and unknown types.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::testing::{Gen, Random};
use crate::wire::Uuid;

fn key_bytes(key: &GroupRecordKey) -> Bytes {
    let bytes = key.to_bytes().unwrap();
    assert_eq!(bytes.len(), key.encoded_len(), "encoded_len of {key:?}");
    bytes
}

fn value_bytes(value: &GroupRecordValue) -> Bytes {
    let bytes = value.to_bytes().unwrap();
    assert_eq!(bytes.len(), value.encoded_len(), "encoded_len of {value:?}");
    bytes
}

/// Encodes, decodes and re-encodes a record, checking that the value and the bytes survive.
fn check_round_trip(record: &GroupRecord) -> (Bytes, Option<Bytes>) {
    let key = key_bytes(&record.key);
    let value = record.value.as_ref().map(value_bytes);
    assert_eq!(record.value_bytes().unwrap(), value);
    let decoded = GroupRecord::decode(Some(&key), value.as_ref()).unwrap();
    assert_eq!(&decoded, record);
    assert_eq!(decoded.key_bytes().unwrap(), key);
    assert_eq!(decoded.value_bytes().unwrap(), value);
    (key, value)
}

#[test]
fn the_offset_commit_key_of_kafka_facts() {
    // kafka-facts-2 §2.4: group `g`, topic `t`, partition 0.
    let record = GroupRecord::offset_commit_tombstone("g", "t", 0);
    let (key, value) = check_round_trip(&record);
    assert_eq!(
        &key[..],
        &[0x00, 0x01, 0x00, 0x01, 0x67, 0x00, 0x01, 0x74, 0x00, 0x00, 0x00, 0x00]
    );
    assert_eq!(value, None, "a tombstone has a null value");
}

#[test]
fn the_offset_commit_value_v3_of_kafka_facts() {
    // kafka-facts-2 §2.4: offset 42, leader epoch -1, metadata "", commit timestamp 1700000000000.
    let value = OffsetCommitValue {
        offset: 42,
        commit_timestamp: 1_700_000_000_000,
        ..OffsetCommitValue::default()
    };
    let record = GroupRecord::offset_commit("g", "t", 0, value);
    assert_eq!(record.value.as_ref().unwrap().version(), 3, "Kafka writes v3");
    let (_, value) = check_round_trip(&record);
    #[rustfmt::skip]
    let expected: &[u8] = &[
        0x00, 0x03,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a,
        0xff, 0xff, 0xff, 0xff,
        0x00, 0x00,
        0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,
    ];
    assert_eq!(&value.unwrap()[..], expected);
}

#[test]
fn the_group_metadata_key_of_kafka_facts() {
    // kafka-facts-2 §2.4: group `g`.
    let (key, _) = check_round_trip(&GroupRecord::group_metadata_tombstone("g"));
    assert_eq!(&key[..], &[0x00, 0x02, 0x00, 0x01, 0x67]);
}

#[test]
fn the_offset_commit_value_layouts_of_every_version() {
    let value = OffsetCommitValue {
        offset: 42,
        leader_epoch: 7,
        metadata: "m".into(),
        commit_timestamp: 1_700_000_000_000,
        expire_timestamp: 1_700_000_060_000,
        ..OffsetCommitValue::default()
    };
    let key = GroupRecordKey::decode(&Bytes::from_static(&[0, 1, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 0])).unwrap();
    let offset = [0, 0, 0, 0, 0, 0, 0, 0x2a];
    let commit = [0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00];
    let expire = [0, 0, 0x01, 0x8b, 0xcf, 0xe6, 0x52, 0x60];
    let epoch = [0, 0, 0, 7];
    for (version, parts) in [
        (0, vec![&offset[..], &[0, 1, b'm'], &commit]),
        (1, vec![&offset[..], &[0, 1, b'm'], &commit, &expire]),
        (2, vec![&offset[..], &[0, 1, b'm'], &commit]),
        (3, vec![&offset[..], &epoch, &[0, 1, b'm'], &commit]),
        // v4 is flexible: a compact string (length + 1) and an empty tag buffer.
        (4, vec![&offset[..], &epoch, &[2, b'm'], &commit, &[0]]),
    ] {
        let v = GroupRecordValue::OffsetCommit {
            version,
            value: value.clone(),
        };
        let mut expected = version.to_be_bytes().to_vec();
        expected.extend(parts.concat());
        assert_eq!(&value_bytes(&v)[..], &expected[..], "v{version}");
        // Reading gives back the fields the version has; the others keep their defaults.
        let GroupRecordValue::OffsetCommit {
            version: read_version,
            value: read,
        } = GroupRecordValue::decode(&key, &Bytes::from(expected)).unwrap()
        else {
            panic!("not an OffsetCommitValue")
        };
        assert_eq!(read_version, version);
        assert_eq!(read.leader_epoch, if version >= 3 { 7 } else { -1 }, "v{version}");
        assert_eq!(
            read.expire_timestamp,
            if version == 1 { 1_700_000_060_000 } else { -1 },
            "v{version}"
        );
        assert_eq!(
            (read.offset, read.metadata.as_str(), read.commit_timestamp),
            (42, "m", 1_700_000_000_000)
        );
    }
}

#[test]
fn kafka_writes_offset_commit_v1_only_with_an_expire_timestamp() {
    let with_expiry = OffsetCommitValue {
        expire_timestamp: 5,
        ..OffsetCommitValue::default()
    };
    assert_eq!(GroupRecordValue::offset_commit(with_expiry).version(), 1);
    assert_eq!(
        GroupRecordValue::offset_commit(OffsetCommitValue::default()).version(),
        3
    );
    assert_eq!(
        GroupRecordValue::group_metadata(GroupMetadataValue::default()).version(),
        3
    );
}

#[test]
fn the_group_metadata_value_v3_layout() {
    let value = GroupMetadataValue {
        protocol_type: "consumer".into(),
        generation: 1,
        protocol: Some("range".into()),
        leader: Some("m".into()),
        current_state_timestamp: 5,
        members: vec![MemberMetadata {
            member_id: "m".into(),
            group_instance_id: None,
            client_id: "c".into(),
            client_host: "/h".into(),
            rebalance_timeout: 300_000,
            session_timeout: 45_000,
            subscription: Bytes::from_static(&[1, 2]),
            assignment: Bytes::new(),
            ..MemberMetadata::default()
        }],
        ..GroupMetadataValue::default()
    };
    let record = GroupRecord::group_metadata("g", value);
    let (_, bytes) = check_round_trip(&record);
    let mut expected = vec![0, 3, 0, 8];
    expected.extend_from_slice(b"consumer");
    expected.extend_from_slice(&[0, 0, 0, 1, 0, 5]);
    expected.extend_from_slice(b"range");
    expected.extend_from_slice(&[0, 1, b'm', 0, 0, 0, 0, 0, 0, 0, 5]);
    // One member: member id, null instance id, client id, client host, timeouts, subscription, assignment.
    expected.extend_from_slice(&[0, 0, 0, 1, 0, 1, b'm', 0xff, 0xff, 0, 1, b'c', 0, 2, b'/', b'h']);
    expected.extend_from_slice(&[0, 0x04, 0x93, 0xe0, 0, 0, 0xaf, 0xc8, 0, 0, 0, 2, 1, 2, 0, 0, 0, 0]);
    assert_eq!(&bytes.unwrap()[..], &expected[..]);
}

#[test]
fn the_legacy_offset_commit_key_type_is_read_and_written_as_type_1() {
    let legacy = Bytes::from_static(&[0, 0, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 3]);
    let key = GroupRecordKey::decode(&legacy).unwrap();
    let GroupRecordKey::OffsetCommit(k) = &key else {
        panic!("not an OffsetCommit key")
    };
    assert_eq!((k.group.as_str(), k.topic.as_str(), k.partition), ("g", "t", 3));
    assert_eq!(key.record_type(), OFFSET_COMMIT_KEY_TYPE);
    assert_eq!(&key_bytes(&key)[..], &[0, 1, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 3]);
}

#[test]
fn unknown_record_types_and_versions_are_typed_errors() {
    // A ShareGroupMetadataKey (type 11), a StreamsGroupMetadataKey (type 17) and nonsense types.
    for record_type in [9i16, 11, 15, 17, -1, i16::MAX] {
        let mut key = record_type.to_be_bytes().to_vec();
        key.extend_from_slice(&[0, 1, b'g']);
        let err = GroupRecordKey::decode(&Bytes::from(key.clone())).unwrap_err();
        assert!(
            matches!(err, Error::UnknownRecordType { record_type: t } if t == record_type),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("unknown __consumer_offsets record type {record_type}")
        );
        let err = GroupRecord::decode(Some(&Bytes::from(key)), None).unwrap_err();
        assert!(matches!(err, Error::UnknownRecordType { .. }), "{err:?}");
    }

    let offset_key = GroupRecordKey::OffsetCommit(OffsetCommitKey::default());
    let group_key = GroupRecordKey::GroupMetadata(GroupMetadataKey::default());
    for version in [5i16, -1] {
        let value = Bytes::from(version.to_be_bytes().to_vec());
        let err = GroupRecordValue::decode(&offset_key, &value).unwrap_err();
        assert!(
            matches!(err, Error::UnknownRecordVersion { record: "OffsetCommitValue", version: v, min: 0, max: 4 } if v == version),
            "{err:?}"
        );
        let err = GroupRecordValue::decode(&group_key, &value).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("unknown version {version} of GroupMetadataValue (known 0-4)")
        );
        let unencodable = GroupRecordValue::OffsetCommit {
            version,
            value: OffsetCommitValue::default(),
        };
        assert!(matches!(unencodable.to_bytes(), Err(Error::Unencodable { .. })));
        assert_eq!(unencodable.encoded_len(), 0);
    }

    // KIP-848 values have version 0 only.
    for key in every_key()
        .into_iter()
        .filter(|k| k.record_type() > GROUP_METADATA_KEY_TYPE)
    {
        assert_eq!(key.value_versions(), CONSUMER_GROUP_VALUE_VERSIONS);
        for version in [1i16, 4, -1] {
            let mut value = version.to_be_bytes().to_vec();
            value.push(0);
            let err = GroupRecordValue::decode(&key, &Bytes::from(value)).unwrap_err();
            assert!(
                matches!(err, Error::UnknownRecordVersion { record, version: v, min: 0, max: 0 }
                    if v == version && record == key.value_name()),
                "{err:?}"
            );
        }
    }
    let unencodable = GroupRecordValue::ConsumerGroupMetadata {
        version: 1,
        value: ConsumerGroupMetadataValue::default(),
    };
    let err = unencodable.to_bytes().unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot encode (byte 0): ConsumerGroupMetadataValue v1 is not a known version (0-0)"
    );
    assert_eq!(unencodable.encoded_len(), 0);
}

/// One record of each KIP-848 type, built with its constructor.
fn kip848_records() -> Vec<GroupRecord> {
    let topic = |id: u8, partitions: Vec<i32>| TopicPartitions {
        topic_id: Uuid([id; 16]),
        partitions,
        ..TopicPartitions::default()
    };
    vec![
        GroupRecord::consumer_group_metadata(
            "g",
            ConsumerGroupMetadataValue {
                epoch: 7,
                metadata_hash: 0x0102_0304_0506_0708,
                ..ConsumerGroupMetadataValue::default()
            },
        ),
        GroupRecord::consumer_group_partition_metadata(
            "g",
            ConsumerGroupPartitionMetadataValue {
                topics: vec![TopicMetadata {
                    topic_id: Uuid([0x22; 16]),
                    topic_name: "t".into(),
                    num_partitions: 2,
                    partition_metadata: vec![PartitionMetadata {
                        partition: 0,
                        racks: vec!["r".into()],
                        ..PartitionMetadata::default()
                    }],
                    ..TopicMetadata::default()
                }],
                ..ConsumerGroupPartitionMetadataValue::default()
            },
        ),
        GroupRecord::consumer_group_member_metadata("g", "m", member_metadata(true)),
        GroupRecord::consumer_group_target_assignment_metadata(
            "g",
            ConsumerGroupTargetAssignmentMetadataValue {
                assignment_epoch: 9,
                ..ConsumerGroupTargetAssignmentMetadataValue::default()
            },
        ),
        GroupRecord::consumer_group_target_assignment_member(
            "g",
            "m",
            ConsumerGroupTargetAssignmentMemberValue {
                topic_partitions: vec![topic(0x11, vec![0, 1])],
                ..ConsumerGroupTargetAssignmentMemberValue::default()
            },
        ),
        GroupRecord::consumer_group_current_member_assignment(
            "g",
            "m",
            ConsumerGroupCurrentMemberAssignmentValue {
                member_epoch: 5,
                previous_member_epoch: 4,
                state: 1,
                assigned_partitions: vec![topic(0x11, vec![0, 1])],
                partitions_pending_revocation: vec![],
                ..ConsumerGroupCurrentMemberAssignmentValue::default()
            },
        ),
        GroupRecord::consumer_group_regular_expression(
            "g",
            "a*",
            ConsumerGroupRegularExpressionValue {
                topics: vec!["t".into()],
                version: 3,
                timestamp: 1_700_000_000_000,
                ..ConsumerGroupRegularExpressionValue::default()
            },
        ),
    ]
}

/// A member's metadata, as a consumer-protocol member or (with `classic`) as a classic member.
fn member_metadata(classic: bool) -> ConsumerGroupMemberMetadataValue {
    ConsumerGroupMemberMetadataValue {
        instance_id: None,
        rack_id: Some("r".into()),
        client_id: "c".into(),
        client_host: "/h".into(),
        subscribed_topic_names: vec!["t".into()],
        subscribed_topic_regex: None,
        rebalance_timeout_ms: 300_000,
        server_assignor: Some("uniform".into()),
        classic_member_metadata: classic.then(|| ClassicMemberMetadata {
            session_timeout_ms: 45_000,
            supported_protocols: vec![ClassicProtocol {
                name: "range".into(),
                metadata: Bytes::from_static(&[1, 2]),
                ..ClassicProtocol::default()
            }],
            ..ClassicMemberMetadata::default()
        }),
        ..ConsumerGroupMemberMetadataValue::default()
    }
}

#[test]
fn every_kip848_record_round_trips_with_a_value_and_as_a_tombstone() {
    let records = kip848_records();
    let types: Vec<i16> = records.iter().map(|r| r.key.record_type()).collect();
    assert_eq!(types, [3, 4, 5, 6, 7, 8, 16]);
    for record in records {
        let (key, value) = check_round_trip(&record);
        assert_eq!(&key[..2], &record.key.record_type().to_be_bytes(), "{record:?}");
        assert_eq!(&value.unwrap()[..2], &[0, 0], "Kafka writes version 0: {record:?}");
        assert_eq!(record.value.as_ref().unwrap().version(), 0);
        let tombstone = GroupRecord { value: None, ..record };
        let (tombstone_key, tombstone_value) = check_round_trip(&tombstone);
        assert_eq!(tombstone_key, key, "a tombstone has the same key bytes");
        assert_eq!(tombstone_value, None);
    }
    // The tombstone constructors build the same keys.
    let tombstones = [
        GroupRecord::consumer_group_metadata_tombstone("g"),
        GroupRecord::consumer_group_partition_metadata_tombstone("g"),
        GroupRecord::consumer_group_member_metadata_tombstone("g", "m"),
        GroupRecord::consumer_group_target_assignment_metadata_tombstone("g"),
        GroupRecord::consumer_group_target_assignment_member_tombstone("g", "m"),
        GroupRecord::consumer_group_current_member_assignment_tombstone("g", "m"),
        GroupRecord::consumer_group_regular_expression_tombstone("g", "a*"),
    ];
    for (tombstone, record) in tombstones.iter().zip(kip848_records()) {
        assert_eq!(tombstone.key, record.key);
        assert_eq!(tombstone.value, None);
        let decoded = GroupRecord::decode(Some(&key_bytes(&tombstone.key)), None).unwrap();
        assert_eq!(&decoded, tombstone);
    }
}

#[test]
fn the_kip848_key_layouts() {
    // INT16 record type, then INT16-length strings (keys are never flexible).
    let keys: Vec<Bytes> = kip848_records().iter().map(|r| key_bytes(&r.key)).collect();
    let g = [0, 1, b'g'];
    let m = [0, 1, b'm'];
    assert_eq!(&keys[0][..], [&[0, 3][..], &g].concat());
    assert_eq!(&keys[1][..], [&[0, 4][..], &g].concat());
    assert_eq!(&keys[2][..], [&[0, 5][..], &g, &m].concat());
    assert_eq!(&keys[3][..], [&[0, 6][..], &g].concat());
    assert_eq!(&keys[4][..], [&[0, 7][..], &g, &m].concat());
    assert_eq!(&keys[5][..], [&[0, 8][..], &g, &m].concat());
    assert_eq!(&keys[6][..], [&[0, 16][..], &g, &[0, 2, b'a', b'*']].concat());
}

#[test]
fn the_consumer_group_member_metadata_value_layout() {
    // ConsumerGroupMemberMetadataValue.json, v0, flexible: compact strings (length + 1, 0 = null), compact
    // arrays, and a tag buffer that holds ClassicMemberMetadata (tag 0) only for a classic member.
    let (_, bytes) = check_round_trip(&GroupRecord::consumer_group_member_metadata(
        "g",
        "m",
        member_metadata(false),
    ));
    #[rustfmt::skip]
    let consumer: Vec<u8> = [
        &[0x00, 0x00][..],                // version 0
        &[0x00],                          // InstanceId: null
        &[0x02, b'r'],                    // RackId: "r"
        &[0x02, b'c'],                    // ClientId: "c"
        &[0x03, b'/', b'h'],              // ClientHost: "/h"
        &[0x02, 0x02, b't'],              // SubscribedTopicNames: ["t"]
        &[0x00],                          // SubscribedTopicRegex: null
        &[0x00, 0x04, 0x93, 0xe0],        // RebalanceTimeoutMs: 300000
        &[0x08, b'u', b'n', b'i', b'f', b'o', b'r', b'm'], // ServerAssignor: "uniform"
    ]
    .concat();
    let mut expected = consumer.clone();
    expected.push(0x00); // no tagged fields
    assert_eq!(&bytes.unwrap()[..], &expected[..]);

    let (_, bytes) = check_round_trip(&GroupRecord::consumer_group_member_metadata(
        "g",
        "m",
        member_metadata(true),
    ));
    #[rustfmt::skip]
    let tags: &[u8] = &[
        0x01,                             // one tagged field
        0x00, 0x11,                       // tag 0 (ClassicMemberMetadata), 17 bytes
        0x01,                             // present (a nullable struct; UVARINT 1 in a tagged field)
        0x00, 0x00, 0xaf, 0xc8,           // SessionTimeoutMs: 45000
        0x02,                             // SupportedProtocols: one
        0x06, b'r', b'a', b'n', b'g', b'e', // Name: "range"
        0x03, 0x01, 0x02,                 // Metadata: [1, 2]
        0x00,                             // the protocol's tag buffer
        0x00,                             // ClassicMemberMetadata's tag buffer
    ];
    assert_eq!(&bytes.unwrap()[..], &[&consumer[..], tags].concat()[..]);
}

#[test]
fn the_other_kip848_value_layouts() {
    let values: Vec<Bytes> = kip848_records()
        .iter()
        .map(|r| value_bytes(r.value.as_ref().unwrap()))
        .collect();
    let id11 = [0x11; 16];
    let id22 = [0x22; 16];
    // ConsumerGroupMetadataValue: Epoch, then MetadataHash as tag 0 (sent because it is not 0).
    assert_eq!(&values[0][..], &[0, 0, 0, 0, 0, 7, 1, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
    // ConsumerGroupPartitionMetadataValue: Topics[TopicId, TopicName, NumPartitions,
    // PartitionMetadata[Partition, Racks]], each struct with its tag buffer.
    #[rustfmt::skip]
    let expected = [
        &[0, 0, 0x02][..], &id22, &[0x02, b't'], &[0, 0, 0, 2],
        &[0x02, 0, 0, 0, 0, 0x02, 0x02, b'r', 0], &[0], &[0],
    ]
    .concat();
    assert_eq!(&values[1][..], &expected[..]);
    // ConsumerGroupTargetAssignmentMetadataValue: AssignmentEpoch.
    assert_eq!(&values[3][..], &[0, 0, 0, 0, 0, 9, 0]);
    // ConsumerGroupTargetAssignmentMemberValue: TopicPartitions[TopicId, Partitions].
    let partitions = [0x03, 0, 0, 0, 0, 0, 0, 0, 1];
    let expected = [&[0, 0, 0x02][..], &id11, &partitions, &[0], &[0]].concat();
    assert_eq!(&values[4][..], &expected[..]);
    // ConsumerGroupCurrentMemberAssignmentValue: MemberEpoch, PreviousMemberEpoch, State INT8,
    // AssignedPartitions, PartitionsPendingRevocation.
    #[rustfmt::skip]
    let expected = [
        &[0, 0, 0, 0, 0, 5, 0, 0, 0, 4, 1][..],
        &[0x02], &id11, &partitions, &[0],
        &[0x01],
        &[0],
    ]
    .concat();
    assert_eq!(&values[5][..], &expected[..]);
    // ConsumerGroupRegularExpressionValue: Topics, Version INT64, Timestamp INT64.
    #[rustfmt::skip]
    let expected: &[u8] = &[
        0, 0, 0x02, 0x02, b't',
        0, 0, 0, 0, 0, 0, 0, 3,
        0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,
        0,
    ];
    assert_eq!(&values[6][..], expected);
}

#[test]
fn newer_kip848_tagged_fields_round_trip_as_unknown() {
    // Kafka 4.3 adds CreationTimeMs (tag 1) to ConsumerGroupMetadataValue: epoch 7, no hash, tag 1 = 5.
    let key = GroupRecordKey::ConsumerGroupMetadata(ConsumerGroupMetadataKey::default());
    let bytes = Bytes::from_static(&[0, 0, 0, 0, 0, 7, 1, 1, 8, 0, 0, 0, 0, 0, 0, 0, 5]);
    let value = GroupRecordValue::decode(&key, &bytes).unwrap();
    let GroupRecordValue::ConsumerGroupMetadata { value: v, .. } = &value else {
        panic!("not a ConsumerGroupMetadataValue")
    };
    assert_eq!((v.epoch, v.metadata_hash), (7, 0));
    assert_eq!(v.unknown_tagged_fields.0.len(), 1);
    assert_eq!(v.unknown_tagged_fields.0[0].tag, 1);
    assert_eq!(value_bytes(&value), bytes);
    // And both tags at once stay in tag order.
    let bytes = Bytes::from_static(&[
        0, 0, 0, 0, 0, 7, 2, 0, 8, 0, 0, 0, 0, 0, 0, 0, 9, 1, 8, 0, 0, 0, 0, 0, 0, 0, 5,
    ]);
    let value = GroupRecordValue::decode(&key, &bytes).unwrap();
    assert_eq!(value_bytes(&value), bytes);
}

#[test]
fn a_classic_member_metadata_marker_other_than_1_is_malformed() {
    let record = GroupRecord::consumer_group_member_metadata("g", "m", member_metadata(true));
    let mut bytes = value_bytes(record.value.as_ref().unwrap()).to_vec();
    let marker = bytes.len() - 17;
    assert_eq!(bytes[marker], 1);
    bytes[marker] = 0;
    let err = GroupRecordValue::decode(&record.key, &Bytes::from(bytes)).unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
    assert!(err.to_string().contains("marker 0"), "{err}");
}

#[test]
fn malformed_records_are_errors() {
    // A null key.
    let err = GroupRecord::decode(None, None).unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
    // Bytes after the key or the value.
    let err = GroupRecordKey::decode(&Bytes::from_static(&[0, 2, 0, 1, b'g', 0])).unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
    let key = GroupRecordKey::GroupMetadata(GroupMetadataKey::default());
    let mut value = BytesMut::new();
    GroupRecordValue::group_metadata(GroupMetadataValue::default())
        .encode(&mut value)
        .unwrap();
    value.extend_from_slice(&[0]);
    let err = GroupRecordValue::decode(&key, &value.freeze()).unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
    // A null in a non-nullable string names the field.
    let err = GroupRecordKey::decode(&Bytes::from_static(&[0, 2, 0xff, 0xff])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "malformed input (field `key.group`, byte 2): null value in a non-nullable field"
    );
    // A value of the wrong record type cannot be written.
    let mismatched = GroupRecord {
        value: Some(GroupRecordValue::group_metadata(GroupMetadataValue::default())),
        ..GroupRecord::offset_commit_tombstone("g", "t", 0)
    };
    let err = mismatched.value_bytes().unwrap_err();
    assert!(matches!(err, Error::Unencodable { .. }), "{err:?}");
}

/// Every key type, with default fields.
fn every_key() -> Vec<GroupRecordKey> {
    vec![
        GroupRecordKey::OffsetCommit(OffsetCommitKey::default()),
        GroupRecordKey::GroupMetadata(GroupMetadataKey::default()),
        GroupRecordKey::ConsumerGroupMetadata(ConsumerGroupMetadataKey::default()),
        GroupRecordKey::ConsumerGroupPartitionMetadata(ConsumerGroupPartitionMetadataKey::default()),
        GroupRecordKey::ConsumerGroupMemberMetadata(ConsumerGroupMemberMetadataKey::default()),
        GroupRecordKey::ConsumerGroupTargetAssignmentMetadata(ConsumerGroupTargetAssignmentMetadataKey::default()),
        GroupRecordKey::ConsumerGroupTargetAssignmentMember(ConsumerGroupTargetAssignmentMemberKey::default()),
        GroupRecordKey::ConsumerGroupCurrentMemberAssignment(ConsumerGroupCurrentMemberAssignmentKey::default()),
        GroupRecordKey::ConsumerGroupRegularExpression(ConsumerGroupRegularExpressionKey::default()),
    ]
}

/// A random record of each kind that has value `version` (keys carry no version): the classic records in
/// v0-4, and the KIP-848 records in v0 too.
fn random_records(g: &mut Gen, version: i16) -> Vec<GroupRecord> {
    let key_cx = |record_type| Cx {
        version: record_type,
        flexible: false,
    };
    macro_rules! random {
        ($cx:expr, $( $variant:ident = $record_type:expr, $key:ident, $value:ident; )*) => {
            vec![$(
                GroupRecord {
                    key: GroupRecordKey::$variant($key::random(g, key_cx($record_type))),
                    value: Some(GroupRecordValue::$variant {
                        version,
                        value: $value::random(g, $cx),
                    }),
                },
            )*]
        };
    }
    let mut records = random!(Cx::new(version, FLEXIBLE_VALUE_VERSION),
        OffsetCommit = OFFSET_COMMIT_KEY_TYPE, OffsetCommitKey, OffsetCommitValue;
        GroupMetadata = GROUP_METADATA_KEY_TYPE, GroupMetadataKey, GroupMetadataValue;
    );
    if version == 0 {
        records.extend(random!(Cx::new(0, 0),
            ConsumerGroupMetadata = CONSUMER_GROUP_METADATA_KEY_TYPE, ConsumerGroupMetadataKey,
                ConsumerGroupMetadataValue;
            ConsumerGroupPartitionMetadata = CONSUMER_GROUP_PARTITION_METADATA_KEY_TYPE,
                ConsumerGroupPartitionMetadataKey, ConsumerGroupPartitionMetadataValue;
            ConsumerGroupMemberMetadata = CONSUMER_GROUP_MEMBER_METADATA_KEY_TYPE, ConsumerGroupMemberMetadataKey,
                ConsumerGroupMemberMetadataValue;
            ConsumerGroupTargetAssignmentMetadata = CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA_KEY_TYPE,
                ConsumerGroupTargetAssignmentMetadataKey, ConsumerGroupTargetAssignmentMetadataValue;
            ConsumerGroupTargetAssignmentMember = CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER_KEY_TYPE,
                ConsumerGroupTargetAssignmentMemberKey, ConsumerGroupTargetAssignmentMemberValue;
            ConsumerGroupCurrentMemberAssignment = CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT_KEY_TYPE,
                ConsumerGroupCurrentMemberAssignmentKey, ConsumerGroupCurrentMemberAssignmentValue;
            ConsumerGroupRegularExpression = CONSUMER_GROUP_REGULAR_EXPRESSION_KEY_TYPE,
                ConsumerGroupRegularExpressionKey, ConsumerGroupRegularExpressionValue;
        ));
    }
    records
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Every value version of every record kind round-trips, with and without tombstones.
    #[test]
    fn every_version_round_trips(seed in any::<u64>()) {
        let mut g = Gen::new(seed);
        for version in VALUE_VERSIONS.0..=VALUE_VERSIONS.1 {
            for mut record in random_records(&mut g, version) {
                check_round_trip(&record);
                record.value = None;
                check_round_trip(&record);
            }
        }
    }

    /// A key or value cut anywhere is an error (never a panic or a wrong value).
    #[test]
    fn truncated_records_are_incomplete(seed in any::<u64>()) {
        let mut g = Gen::new(seed);
        for version in VALUE_VERSIONS.0..=VALUE_VERSIONS.1 {
            for record in random_records(&mut g, version) {
                let (key, value) = check_round_trip(&record);
                for cut in 0..key.len() {
                    let err = GroupRecordKey::decode(&key.slice(..cut)).unwrap_err();
                    prop_assert!(err.is_incomplete(), "key cut at {cut}: {err}");
                }
                let value = value.unwrap();
                for cut in 0..value.len() {
                    let err = GroupRecordValue::decode(&record.key, &value.slice(..cut)).unwrap_err();
                    prop_assert!(err.is_incomplete(), "v{version} value cut at {cut}: {err}");
                }
            }
        }
    }

    /// Arbitrary bytes never panic the decoders.
    #[test]
    fn garbage_never_panics(key in proptest::collection::vec(any::<u8>(), 0..64),
                            value in proptest::collection::vec(any::<u8>(), 0..128)) {
        let (key, value) = (Bytes::from(key), Bytes::from(value));
        let _ = GroupRecord::decode(Some(&key), Some(&value));
        for k in every_key() {
            let _ = GroupRecordValue::decode(&k, &value);
        }
    }
}
