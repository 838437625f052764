//! Tests of the `__consumer_offsets` record formats: the byte examples of kafka-facts-2 §2.4, hand-computed
//! examples of the other layouts, round trips of every version, truncation and unknown types.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::testing::{Gen, Random};

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
    // A KIP-848 ConsumerGroupMetadataKey (type 3) and nonsense types.
    for record_type in [3i16, 16, -1, i16::MAX] {
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

/// A random record of each kind at value `version` (keys carry no version).
fn random_records(g: &mut Gen, version: i16) -> [GroupRecord; 2] {
    let cx = Cx::new(version, FLEXIBLE_VALUE_VERSION);
    let key_cx = |record_type| Cx {
        version: record_type,
        flexible: false,
    };
    [
        GroupRecord {
            key: GroupRecordKey::OffsetCommit(OffsetCommitKey::random(g, key_cx(OFFSET_COMMIT_KEY_TYPE))),
            value: Some(GroupRecordValue::OffsetCommit {
                version,
                value: OffsetCommitValue::random(g, cx),
            }),
        },
        GroupRecord {
            key: GroupRecordKey::GroupMetadata(GroupMetadataKey::random(g, key_cx(GROUP_METADATA_KEY_TYPE))),
            value: Some(GroupRecordValue::GroupMetadata {
                version,
                value: GroupMetadataValue::random(g, cx),
            }),
        },
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Every value version of both record kinds round-trips, with and without tombstones.
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
        for k in [
            GroupRecordKey::OffsetCommit(OffsetCommitKey::default()),
            GroupRecordKey::GroupMetadata(GroupMetadataKey::default()),
        ] {
            let _ = GroupRecordValue::decode(&k, &value);
        }
    }
}
