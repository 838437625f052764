//! Tests of the whole codec: round trips, snapshots and the differential test against kafka-protocol.
//!
//! Every test walks [`API_TABLE`] so that a newly implemented API or version is covered without
//! writing a new test.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use crate::api::{random_request, random_response};
use crate::schema::wire_struct;
use crate::testing::Gen;
use crate::wire::Note;
use crate::*;

/// Every (api, version) this crate implements.
fn implemented() -> Vec<(ApiKey, i16)> {
    API_TABLE
        .iter()
        .flat_map(|a| (a.implemented.0..=a.implemented.1).map(move |v| (a.key, v)))
        .collect()
}

/// Encodes, checks the size accounting, decodes, and checks that the value and the bytes survive.
fn check_request_round_trip(body: &RequestBody, version: i16) -> Bytes {
    let mut buf = BytesMut::new();
    encode_request_body(body, version, &mut buf).unwrap();
    assert_eq!(buf.len(), request_body_size(body, version), "size() of {body:?}");
    let bytes = buf.freeze();
    let decoded = decode_request_body(body.api_key(), version, bytes.clone()).unwrap();
    assert_eq!(&decoded, body);
    let mut again = BytesMut::new();
    encode_request_body(&decoded, version, &mut again).unwrap();
    assert_eq!(again, bytes);
    bytes
}

fn check_response_round_trip(body: &ResponseBody, version: i16) -> Bytes {
    let mut buf = BytesMut::new();
    encode_response_body(body, version, &mut buf).unwrap();
    assert_eq!(buf.len(), response_body_size(body, version), "size() of {body:?}");
    let bytes = buf.freeze();
    let decoded = decode_response_body(body.api_key(), version, bytes.clone()).unwrap();
    assert_eq!(&decoded, body);
    let mut again = BytesMut::new();
    encode_response_body(&decoded, version, &mut again).unwrap();
    assert_eq!(again, bytes);
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn every_message_round_trips(seed in any::<u64>()) {
        let mut g = Gen::new(seed);
        for (api, version) in implemented() {
            let cx = api.cx(version);
            check_request_round_trip(&random_request(api, &mut g, cx), version);
            check_response_round_trip(&random_response(api, &mut g, cx), version);
        }
    }

    #[test]
    fn whole_request_frames_round_trip(seed in any::<u64>(), client_id in proptest::option::of("[a-z0-9-]{0,12}")) {
        let mut g = Gen::new(seed);
        for (api, version) in implemented() {
            let request = Request {
                header: RequestHeader { client_id: client_id.clone(), ..RequestHeader::new(api, version, seed as i32) },
                body: random_request(api, &mut g, api.cx(version)),
            };
            let mut frame = BytesMut::new();
            request.encode(&mut frame).unwrap();
            let size = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
            prop_assert_eq!(size, frame.len() - 4);
            let decoded = Request::decode(frame.freeze().slice(4..)).unwrap();
            prop_assert_eq!(decoded, request);
        }
    }

    #[test]
    fn whole_response_frames_round_trip(seed in any::<u64>()) {
        let mut g = Gen::new(seed);
        for (api, version) in implemented() {
            let header = RequestHeader::new(api, version, seed as i32);
            let body = random_response(api, &mut g, api.cx(version));
            let mut frame = BytesMut::new();
            encode_response(&header, &body, &mut frame).unwrap();
            let size = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
            prop_assert_eq!(size, frame.len() - 4);
            let decoded = Response::decode(api, version, frame.freeze().slice(4..)).unwrap();
            prop_assert_eq!(decoded.header.correlation_id, seed as i32);
            prop_assert_eq!(decoded.body, body);
        }
    }

    /// Truncating a valid body anywhere gives `Incomplete`, never a panic or a wrong value.
    #[test]
    fn truncated_bodies_are_incomplete(seed in any::<u64>()) {
        let mut g = Gen::new(seed);
        for (api, version) in implemented() {
            let bytes = check_request_round_trip(&random_request(api, &mut g, api.cx(version)), version);
            for cut in 0..bytes.len() {
                let err = decode_request_body(api, version, bytes.slice(..cut)).unwrap_err();
                prop_assert!(err.is_incomplete(), "{api:?} v{version} cut at {cut}: {err}");
            }
            let bytes = check_response_round_trip(&random_response(api, &mut g, api.cx(version)), version);
            for cut in 0..bytes.len() {
                let err = decode_response_body(api, version, bytes.slice(..cut)).unwrap_err();
                prop_assert!(err.is_incomplete(), "{api:?} v{version} cut at {cut}: {err}");
            }
        }
    }

    /// Arbitrary bytes never panic the decoders.
    #[test]
    fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        let data = Bytes::from(data);
        let _ = Request::decode(data.clone());
        for (api, version) in implemented() {
            let _ = decode_request_body(api, version, data.clone());
            let _ = decode_response_body(api, version, data.clone());
        }
        let _ = record::RecordBatch::parse(&data).map(|(b, _)| b.records().map(|it| it.count()));
    }
}

/// An annotated hex dump: one line per field (wrapped at 16 bytes), with its path.
pub(crate) fn hexdump(bytes: &[u8], notes: &[Note]) -> String {
    // At one offset the innermost (last) note names the bytes; a note that spans no bytes is dropped.
    let mut marks: Vec<(usize, &str)> = Vec::new();
    for n in notes {
        match marks.last_mut() {
            Some(last) if last.0 == n.offset => last.1 = &n.path,
            _ => marks.push((n.offset, &n.path)),
        }
    }
    if marks.first().is_none_or(|m| m.0 != 0) {
        marks.insert(0, (0, ""));
    }
    let mut out = String::new();
    for (i, (start, path)) in marks.iter().enumerate() {
        let end = marks.get(i + 1).map_or(bytes.len(), |m| m.0);
        if start >= &end {
            continue;
        }
        for (j, chunk) in bytes[*start..end].chunks(16).enumerate() {
            let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
            let label = if j == 0 { *path } else { "…" };
            out.push_str(&format!("{:04x}  {:<47}  {}\n", start + j * 16, hex.join(" "), label));
        }
    }
    out
}

/// One snapshot per implemented request and response version: a seeded value, its annotated encoding.
#[test]
fn encodings_are_stable() {
    for (api, version) in implemented() {
        // A fixed seed per (api, version) keeps each snapshot independent of the others.
        let seed = 0x6b7a_6572_6f00 ^ ((api as u64) << 8) ^ version as u64;
        let mut g = Gen::new(seed);
        let cx = api.cx(version);
        let request = random_request(api, &mut g, cx);
        let response = random_response(api, &mut g, cx);
        for (kind, (bytes, notes), value) in [
            (
                "request",
                annotate_request(&request, version).unwrap(),
                format!("{request:#?}"),
            ),
            (
                "response",
                annotate_response(&response, version).unwrap(),
                format!("{response:#?}"),
            ),
        ] {
            let name = format!("{}_v{version}_{kind}", api.snake_name());
            insta::with_settings!({
                snapshot_path => "../snapshots/encodings",
                prepend_module_to_snapshot => false,
                omit_expression => true,
            }, {
                insta::assert_snapshot!(name, format!("{}\n{value}", hexdump(&bytes, &notes)));
            });
        }
    }
}

/// Hand-built examples for messages whose seeded snapshots above came out with empty arrays: a
/// ConsumerGroupDescribe response with one group and one member, in v0 and v1 (v1 adds MemberType), and a
/// DescribeUserScramCredentials v0 response with one user and its two credentials.
#[test]
fn example_encodings_are_stable() {
    let partitions = |name: &str, partitions: Vec<i32>| ConsumerGroupDescribeAssignment {
        topic_partitions: vec![ConsumerGroupDescribeTopicPartitions {
            topic_id: Uuid([0x11; 16]),
            topic_name: name.into(),
            partitions,
            ..ConsumerGroupDescribeTopicPartitions::default()
        }],
        ..ConsumerGroupDescribeAssignment::default()
    };
    let describe = ConsumerGroupDescribeResponse {
        groups: vec![ConsumerGroupDescribedGroup {
            group_id: "g".into(),
            group_state: "Stable".into(),
            group_epoch: 3,
            assignment_epoch: 3,
            assignor_name: "uniform".into(),
            members: vec![ConsumerGroupDescribeMember {
                member_id: "m".into(),
                member_epoch: 3,
                client_id: "c".into(),
                client_host: "/h".into(),
                subscribed_topic_names: vec!["t".into()],
                assignment: partitions("t", vec![0]),
                target_assignment: partitions("t", vec![0, 1]),
                member_type: 1,
                ..ConsumerGroupDescribeMember::default()
            }],
            ..ConsumerGroupDescribedGroup::default()
        }],
        ..ConsumerGroupDescribeResponse::default()
    };
    for version in 0..=1 {
        let mut body = describe.clone();
        if version == 0 {
            body.groups[0].members[0].member_type = -1;
        }
        let body = ResponseBody::from(body);
        check_response_round_trip(&body, version);
        let (bytes, notes) = annotate_response(&body, version).unwrap();
        let name = format!("example_consumer_group_describe_v{version}_response");
        insta::with_settings!({
            snapshot_path => "../snapshots/encodings",
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name, hexdump(&bytes, &notes));
        });
    }

    let credential = |mechanism, iterations| CredentialInfo {
        mechanism,
        iterations,
        ..CredentialInfo::default()
    };
    let scram = ResponseBody::from(DescribeUserScramCredentialsResponse {
        results: vec![DescribeUserScramCredentialsResult {
            user: "alice".into(),
            credential_infos: vec![credential(1, 4096), credential(2, 8192)],
            ..DescribeUserScramCredentialsResult::default()
        }],
        ..DescribeUserScramCredentialsResponse::default()
    });
    check_response_round_trip(&scram, 0);
    let (bytes, notes) = annotate_response(&scram, 0).unwrap();
    insta::with_settings!({
        snapshot_path => "../snapshots/encodings",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!("example_describe_user_scram_credentials_v0_response", hexdump(&bytes, &notes));
    });
}

#[test]
fn the_table_advertises_what_librdkafka_needs() {
    // kafka-facts §2.3: librdkafka before 2.11.1 enables features only when these exact versions are
    // inside the advertised ranges.
    let needs: &[(ApiKey, i16)] = &[
        (ApiKey::Produce, 0),
        (ApiKey::Produce, 3),
        (ApiKey::Produce, 7),
        (ApiKey::Fetch, 4),
        (ApiKey::Fetch, 10),
        (ApiKey::ApiVersions, 0),
        (ApiKey::FindCoordinator, 0),
        (ApiKey::JoinGroup, 0),
        (ApiKey::SyncGroup, 0),
        (ApiKey::Heartbeat, 0),
        (ApiKey::LeaveGroup, 0),
        (ApiKey::OffsetCommit, 2),
        (ApiKey::OffsetFetch, 1),
        (ApiKey::ListOffsets, 1),
        (ApiKey::InitProducerId, 0),
    ];
    for &(api, v) in needs {
        let (lo, hi) = api.info().advertised;
        assert!((lo..=hi).contains(&v), "{api:?} must advertise v{v}");
    }
}

#[test]
fn advertised_versions_are_implemented() {
    // advertised ⊆ implemented, except Produce v0-2: Kafka 4.x advertises and rejects them (KAFKA-18659).
    let advertised_only = |api: ApiKey, v: i16| api == ApiKey::Produce && v <= 2;
    for a in API_TABLE {
        let (lo, hi) = a.advertised;
        assert!(lo <= hi, "{:?}: empty advertised range", a.key);
        for v in lo..=hi {
            assert!(
                a.key.is_implemented(v) || advertised_only(a.key, v),
                "{:?} advertises v{v} but implements only {:?}",
                a.key,
                a.implemented
            );
        }
        assert!(a.implemented.0 <= a.implemented.1, "{:?}", a.key);
    }
}

#[test]
fn the_core_apis_implement_what_kafka_4_1_accepts() {
    // Kafka 4.1's validVersions and flexibleVersions (as kafka-protocol 0.18, generated from 4.1.0, has them).
    // Advertised = implemented = Kafka's (Produce also advertises the v0-2 Kafka rejects, KAFKA-18659).
    type Range = (i16, i16);
    let expected: &[(ApiKey, Range, Range, i16)] = &[
        (ApiKey::Produce, (0, 13), (3, 13), 9),
        (ApiKey::Fetch, (4, 18), (4, 18), 12),
        (ApiKey::ListOffsets, (1, 10), (1, 10), 6),
        (ApiKey::Metadata, (0, 13), (0, 13), 9),
        (ApiKey::ApiVersions, (0, 4), (0, 4), 3),
        (ApiKey::CreateTopics, (2, 7), (2, 7), 5),
        (ApiKey::DeleteTopics, (1, 6), (1, 6), 4),
        (ApiKey::DeleteRecords, (0, 2), (0, 2), 2),
        (ApiKey::InitProducerId, (0, 5), (0, 5), 2),
        (ApiKey::OffsetForLeaderEpoch, (2, 4), (2, 4), 4),
        (ApiKey::DescribeConfigs, (1, 4), (1, 4), 4),
        (ApiKey::AlterConfigs, (0, 2), (0, 2), 2),
        (ApiKey::DescribeLogDirs, (1, 4), (1, 4), 2),
        (ApiKey::CreatePartitions, (0, 3), (0, 3), 2),
        (ApiKey::IncrementalAlterConfigs, (0, 1), (0, 1), 1),
        (ApiKey::DescribeQuorum, (0, 2), (0, 2), 0),
        (ApiKey::DescribeCluster, (0, 2), (0, 2), 0),
        (ApiKey::DescribeProducers, (0, 0), (0, 0), 0),
    ];
    for &(api, advertised, implemented, flexible) in expected {
        let info = api.info();
        assert_eq!(
            (info.advertised, info.implemented),
            (advertised, implemented),
            "{api:?}"
        );
        assert_eq!(info.flexible_since, flexible, "{api:?}");
    }
}

#[test]
fn the_group_apis_cover_what_kafka_4_1_accepts() {
    // kafka-facts-2 §1.1 and Kafka 4.1's schemas: every accepted version, advertised from the same minimum
    // (JoinGroup from v0 again since 4.0.1). OffsetCommit and OffsetFetch v10 (topics by id) are unstable
    // in Kafka 4.1 (its released range stops at v9, as kafka-protocol 0.18 has it).
    let expected: &[(ApiKey, (i16, i16), i16)] = &[
        (ApiKey::OffsetCommit, (2, 9), 8),
        (ApiKey::OffsetFetch, (1, 9), 6),
        (ApiKey::FindCoordinator, (0, 6), 3),
        (ApiKey::JoinGroup, (0, 9), 6),
        (ApiKey::Heartbeat, (0, 4), 4),
        (ApiKey::LeaveGroup, (0, 5), 4),
        (ApiKey::SyncGroup, (0, 5), 4),
        (ApiKey::DescribeGroups, (0, 6), 5),
        (ApiKey::ListGroups, (0, 5), 3),
        (ApiKey::DeleteGroups, (0, 2), 2),
        (ApiKey::OffsetDelete, (0, 0), i16::MAX),
    ];
    for &(api, range, flexible) in expected {
        let info = api.info();
        assert_eq!((info.advertised, info.implemented), (range, range), "{api:?}");
        assert_eq!(info.flexible_since, flexible, "{api:?}");
    }
}

#[test]
fn the_kip848_apis_implement_what_kafka_4_1_accepts() {
    // kafka-protocol 0.18 is generated from Kafka 4.1's schemas: ConsumerGroupHeartbeat and
    // ConsumerGroupDescribe accept v0-1, and both are flexible in every version (header v2 / v1).
    use kafka_protocol::messages::ApiKey as Kp;
    for (api, theirs) in [
        (ApiKey::ConsumerGroupHeartbeat, Kp::ConsumerGroupHeartbeat),
        (ApiKey::ConsumerGroupDescribe, Kp::ConsumerGroupDescribe),
    ] {
        let info = api.info();
        let range = theirs.valid_versions();
        assert_eq!(info.implemented, (range.min, range.max), "{api:?}");
        assert_eq!(info.implemented, (0, 1), "{api:?}");
        assert_eq!(info.advertised, info.implemented, "{api:?}");
        assert_eq!(info.flexible_since, 0, "{api:?}");
        assert_eq!(api as i16, theirs as i16);
        for version in range.min..=range.max {
            assert_eq!(
                api.request_header_version(version),
                theirs.request_header_version(version)
            );
            assert_eq!(
                api.response_header_version(version),
                theirs.response_header_version(version)
            );
        }
    }
}

#[test]
fn the_security_apis_implement_what_kafka_4_1_accepts() {
    // Kafka 4.1's validVersions and flexibleVersions, checked against kafka-protocol 0.18 (generated from
    // Kafka 4.1's schemas): the ACL APIs lost v0 in Kafka 4.0 (KIP-896), SaslHandshake is never flexible.
    use kafka_protocol::messages::ApiKey as Kp;
    let expected: &[(ApiKey, Kp, (i16, i16), i16)] = &[
        (ApiKey::SaslHandshake, Kp::SaslHandshake, (0, 1), i16::MAX),
        (ApiKey::DescribeAcls, Kp::DescribeAcls, (1, 3), 2),
        (ApiKey::CreateAcls, Kp::CreateAcls, (1, 3), 2),
        (ApiKey::DeleteAcls, Kp::DeleteAcls, (1, 3), 2),
        (ApiKey::SaslAuthenticate, Kp::SaslAuthenticate, (0, 2), 2),
        (
            ApiKey::DescribeUserScramCredentials,
            Kp::DescribeUserScramCredentials,
            (0, 0),
            0,
        ),
        (
            ApiKey::AlterUserScramCredentials,
            Kp::AlterUserScramCredentials,
            (0, 0),
            0,
        ),
    ];
    for &(api, theirs, range, flexible) in expected {
        let info = api.info();
        assert_eq!(api as i16, theirs as i16, "{api:?}");
        let valid = theirs.valid_versions();
        assert_eq!((valid.min, valid.max), range, "{api:?}: kafka-protocol's range");
        assert_eq!((info.advertised, info.implemented), (range, range), "{api:?}");
        assert_eq!(info.flexible_since, flexible, "{api:?}");
        for version in range.0..=range.1 {
            assert_eq!(
                api.request_header_version(version),
                theirs.request_header_version(version),
                "{api:?} v{version}"
            );
            assert_eq!(
                api.response_header_version(version),
                theirs.response_header_version(version),
                "{api:?} v{version}"
            );
        }
    }
}

#[test]
fn sasl_messages_encode_as_kafka_documents_them() {
    // SaslHandshake v0 and v1 are the same bytes: a STRING, and an INT16 with an ARRAY of STRING.
    for version in 0..=1 {
        let request = RequestBody::from(SaslHandshakeRequest {
            mechanism: "PLAIN".into(),
            ..SaslHandshakeRequest::default()
        });
        let bytes = check_request_round_trip(&request, version);
        assert_eq!(&bytes[..], b"\x00\x05PLAIN", "v{version}");
        let response = ResponseBody::from(SaslHandshakeResponse {
            error_code: 33,
            mechanisms: vec!["PLAIN".into()],
            ..SaslHandshakeResponse::default()
        });
        let bytes = check_response_round_trip(&response, version);
        assert_eq!(&bytes[..], b"\x00\x21\x00\x00\x00\x01\x00\x05PLAIN", "v{version}");
    }
    // SaslAuthenticate: BYTES with an INT32 length before v2, COMPACT_BYTES and a tag buffer from v2;
    // the response's SessionLifetimeMs from v1.
    let request = RequestBody::from(SaslAuthenticateRequest {
        auth_bytes: Bytes::from_static(b"\0u\0p"),
        ..SaslAuthenticateRequest::default()
    });
    assert_eq!(&check_request_round_trip(&request, 1)[..], b"\x00\x00\x00\x04\0u\0p");
    assert_eq!(&check_request_round_trip(&request, 2)[..], b"\x05\0u\0p\x00");
    let response = SaslAuthenticateResponse {
        error_code: 0,
        error_message: None,
        auth_bytes: Bytes::new(),
        session_lifetime_ms: 3_600_000,
        ..SaslAuthenticateResponse::default()
    };
    let v0 = check_response_round_trip(
        &ResponseBody::from(SaslAuthenticateResponse {
            session_lifetime_ms: 0,
            ..response.clone()
        }),
        0,
    );
    assert_eq!(&v0[..], b"\x00\x00\xff\xff\x00\x00\x00\x00");
    let v1 = check_response_round_trip(&ResponseBody::from(response.clone()), 1);
    assert_eq!(&v1[..8], &v0[..]);
    assert_eq!(&v1[8..], &3_600_000i64.to_be_bytes());
    let v2 = check_response_round_trip(&ResponseBody::from(response), 2);
    assert_eq!(
        &v2[..],
        &[&b"\x00\x00\x00\x01"[..], &3_600_000i64.to_be_bytes(), b"\x00"].concat()[..]
    );
    // A lifetime cannot be sent in v0: it is dropped, as Kafka's generated code drops an ignorable field.
    let mut out = BytesMut::new();
    let lifetime = ResponseBody::from(SaslAuthenticateResponse {
        session_lifetime_ms: 5,
        ..SaslAuthenticateResponse::default()
    });
    encode_response_body(&lifetime, 0, &mut out).unwrap();
    assert_eq!(out.len(), 2 + 2 + 4);
}

#[test]
fn acl_pattern_types_are_in_every_implemented_version() {
    // v1 added the pattern type; Kafka 4.x starts at v1, so every version carries it (default LITERAL, 3).
    assert_eq!(DescribeAclsRequest::default().pattern_type_filter, 3);
    assert_eq!(AclCreation::default().resource_pattern_type, 3);
    for version in 1..=3 {
        let request = RequestBody::from(DescribeAclsRequest {
            resource_type_filter: 2,
            resource_name_filter: None,
            pattern_type_filter: 4,
            principal_filter: Some("User:alice".into()),
            host_filter: None,
            operation: 3,
            permission_type: 3,
            ..DescribeAclsRequest::default()
        });
        let bytes = check_request_round_trip(&request, version);
        let null = if version >= 2 { &b"\x00"[..] } else { &b"\xff\xff"[..] };
        assert_eq!(
            &bytes[..1 + null.len() + 1],
            &[&b"\x02"[..], null, b"\x04"].concat()[..],
            "v{version}"
        );
    }
}

#[test]
fn the_heartbeat_assignment_is_a_nullable_struct() {
    let response = ConsumerGroupHeartbeatResponse {
        member_id: Some("m".into()),
        member_epoch: 3,
        heartbeat_interval_ms: 5000,
        ..ConsumerGroupHeartbeatResponse::default()
    };
    #[rustfmt::skip]
    let head: &[u8] = &[
        0, 0, 0, 0,          // throttle time
        0, 0,                // error code
        0,                   // error message: null
        2, b'm',             // member id
        0, 0, 0, 3,          // member epoch
        0, 0, 0x13, 0x88,    // heartbeat interval
    ];
    for version in 0..=1 {
        // Unchanged assignment: the marker -1 and nothing else.
        let bytes = check_response_round_trip(&response.clone().into(), version);
        assert_eq!(&bytes[..], &[head, &[0xff], &[0]].concat()[..], "v{version}");

        let with = ConsumerGroupHeartbeatResponse {
            assignment: Some(ConsumerGroupHeartbeatAssignment {
                topic_partitions: vec![ConsumerGroupHeartbeatTopicPartitions {
                    topic_id: Uuid([7; 16]),
                    partitions: vec![0],
                    ..ConsumerGroupHeartbeatTopicPartitions::default()
                }],
                ..ConsumerGroupHeartbeatAssignment::default()
            }),
            ..response.clone()
        };
        let bytes = check_response_round_trip(&with.into(), version);
        #[rustfmt::skip]
        let assignment = [
            &[1][..],            // present
            &[2],                // one topic
            &[7; 16],            // topic id
            &[2, 0, 0, 0, 0],    // partitions [0]
            &[0],                // the topic's tag buffer
            &[0],                // the assignment's tag buffer
        ]
        .concat();
        assert_eq!(&bytes[..], &[head, &assignment, &[0]].concat()[..], "v{version}");
    }
    // Any marker but -1 and 1 is malformed (readers disagree on them).
    for marker in [0u8, 2, 0x80, 0xfe] {
        let body = Bytes::from([head, &[marker], &[0]].concat());
        let err = decode_response_body(ApiKey::ConsumerGroupHeartbeat, 0, body).unwrap_err();
        assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
        assert!(err.to_string().contains("field `assignment`"), "{err}");
    }
}

#[test]
fn the_heartbeat_regex_and_the_describe_member_type_exist_from_v1() {
    let request = ConsumerGroupHeartbeatRequest {
        group_id: "g".into(),
        subscribed_topic_regex: Some("t.*".into()),
        ..ConsumerGroupHeartbeatRequest::default()
    };
    let v1 = check_request_round_trip(&request.clone().into(), 1);
    // v0 has no regex: a field outside its version is not written (and decodes as its default).
    let mut v0 = BytesMut::new();
    encode_request_body(&request.into(), 0, &mut v0).unwrap();
    // v1 adds the compact string "t.*" (4 bytes) between the topic names and the assignor.
    assert_eq!(v1.len(), v0.len() + 4);
    // group "g", member "", epoch 0, instance null, rack null, rebalance timeout -1, topic names null,
    // regex "t.*", assignor null, topic partitions null, tags.
    #[rustfmt::skip]
    assert_eq!(
        &v1[..],
        &[2, b'g', 1, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 4, b't', b'.', b'*', 0, 0, 0]
    );
    let decoded = decode_request_body(ApiKey::ConsumerGroupHeartbeat, 0, v0.freeze()).unwrap();
    let RequestBody::ConsumerGroupHeartbeat(decoded) = decoded else {
        panic!("not a ConsumerGroupHeartbeat request")
    };
    assert_eq!(decoded.subscribed_topic_regex, None, "v0 has no regex");

    let member = ConsumerGroupDescribeMember {
        member_type: 1,
        ..ConsumerGroupDescribeMember::default()
    };
    let response = |member: ConsumerGroupDescribeMember| ConsumerGroupDescribeResponse {
        groups: vec![ConsumerGroupDescribedGroup {
            members: vec![member],
            ..ConsumerGroupDescribedGroup::default()
        }],
        ..ConsumerGroupDescribeResponse::default()
    };
    let v0 = check_response_round_trip(&response(ConsumerGroupDescribeMember::default()).into(), 0);
    let v1 = check_response_round_trip(&response(member).into(), 1);
    assert_eq!(v1.len(), v0.len() + 1, "MemberType is one INT8");
    assert_eq!(ConsumerGroupDescribeMember::default().member_type, -1);
    assert_eq!(ConsumerGroupDescribedGroup::default().authorized_operations, i32::MIN);
}

wire_struct! {
    /// Nullable struct fields, to test their encoding apart from any Kafka message.
    pub struct NullableStructs {
        /// A nullable struct that may be null only from v1.
        pub late: Option<HeartbeatResponse> [0..=99] nullable 1;
        /// A tagged nullable struct (tags exist in flexible versions, v2 here).
        pub tagged: Option<HeartbeatResponse> [2..=99], tag 0;
    }
}

#[test]
fn nullable_structs_have_an_int8_marker_in_every_version() {
    use crate::wire::{Cx, Field, Reader, Writer};
    let cx = |version| Cx::new(version, 2);
    let encode = |value: &NullableStructs, version| {
        let mut w = Writer::new(BytesMut::new());
        value.write(&mut w, cx(version)).map(|()| {
            let bytes = w.into_bytes_mut().freeze();
            assert_eq!(bytes.len(), value.size(cx(version)));
            let decoded = NullableStructs::read(&mut Reader::new(&bytes), cx(version)).unwrap();
            assert_eq!(&decoded, value);
            bytes
        })
    };
    let inner = HeartbeatResponse {
        throttle_time_ms: 1,
        error_code: 7,
        ..HeartbeatResponse::default()
    };
    let present = NullableStructs {
        late: Some(inner.clone()),
        ..NullableStructs::default()
    };
    let null = NullableStructs::default();
    // v0 (not flexible): the marker, then the struct as v0 has it (no throttle time); null is not allowed.
    let present_v0 = NullableStructs {
        late: Some(HeartbeatResponse {
            error_code: 7,
            ..HeartbeatResponse::default()
        }),
        ..NullableStructs::default()
    };
    assert_eq!(&encode(&present_v0, 0).unwrap()[..], &[1, 0, 7]);
    let err = encode(&null, 0).unwrap_err();
    assert!(matches!(err, Error::Unencodable { .. }), "{err:?}");
    let err = NullableStructs::read(&mut Reader::new(&Bytes::from_static(&[0xff])), cx(0)).unwrap_err();
    assert!(err.to_string().contains("not nullable in this version"), "{err}");
    // v1: null is -1; the struct now has its throttle time.
    assert_eq!(&encode(&null, 1).unwrap()[..], &[0xff]);
    assert_eq!(&encode(&present, 1).unwrap()[..], &[1, 0, 0, 0, 1, 0, 7]);
    // v2 (flexible): the same INT8 marker (not a varint), the struct ends with its tag buffer, and a null
    // tagged struct (its default) is not written.
    assert_eq!(&encode(&null, 2).unwrap()[..], &[0xff, 0]);
    assert_eq!(&encode(&present, 2).unwrap()[..], &[1, 0, 0, 0, 1, 0, 7, 0, 0]);
    // A present tagged struct: tag 0, its size (marker included), the marker 1 (which is also UVARINT 1,
    // what Kafka writes there), the struct.
    let tagged = NullableStructs {
        tagged: Some(inner),
        ..null.clone()
    };
    assert_eq!(
        &encode(&tagged, 2).unwrap()[..],
        &[0xff, 1, 0, 8, 1, 0, 0, 0, 1, 0, 7, 0]
    );
    // Truncated anywhere: incomplete.
    let bytes = encode(&tagged, 2).unwrap();
    for cut in 0..bytes.len() {
        let err = NullableStructs::read(&mut Reader::new(&bytes.slice(..cut)), cx(2)).unwrap_err();
        assert!(err.is_incomplete(), "cut at {cut}: {err}");
    }
}

#[test]
fn api_versions_of_unknown_version_is_answered_in_v0() {
    // An ApiVersions v9 request, as a future client might send it (header v2).
    let frame: &[u8] = &[0, 18, 0, 9, 0, 0, 0, 5, 0, 1, b'c', 0, 0xff, 0xee];
    let request = Request::decode(Bytes::from_static(frame)).unwrap();
    assert_eq!(request.response_version(), 0);
    let mut out = BytesMut::new();
    let body = ResponseBody::ApiVersions(ApiVersionsResponse::unsupported_version());
    encode_response(&request.header, &body, &mut out).unwrap();
    // size, correlation id (header v0), error 35, one api key: 18 with 0-4.
    assert_eq!(
        &out[..],
        &[0, 0, 0, 16, 0, 0, 0, 5, 0, 35, 0, 0, 0, 1, 0, 18, 0, 0, 0, 4]
    );
}

#[test]
fn unimplemented_versions_are_not_encoded() {
    let request = Request {
        header: RequestHeader::new(ApiKey::Produce, 2, 1),
        body: ProduceRequest::default().into(),
    };
    let err = request.encode(&mut BytesMut::new()).unwrap_err();
    assert!(
        err.to_string().contains("Produce v2 is not implemented (only 3-13)"),
        "{err}"
    );
    let header = RequestHeader::new(ApiKey::Fetch, 19, 1);
    let err = encode_response(&header, &FetchResponse::default().into(), &mut BytesMut::new()).unwrap_err();
    assert!(err.to_string().contains("Fetch v19 is not implemented"), "{err}");
}

#[test]
fn nulls_are_encoded_only_where_the_version_allows_them() {
    // JoinGroup's protocol name is nullable from v7: a null below v7 cannot be encoded, and
    // `for_version` applies Kafka's rule (null is sent as "" below v7, "" as null from v7).
    let null_name = JoinGroupResponse {
        protocol_name: None,
        ..JoinGroupResponse::default()
    };
    let err = encode_response_body(&null_name.clone().into(), 6, &mut BytesMut::new()).unwrap_err();
    assert!(matches!(err, Error::Unencodable { .. }), "{err:?}");
    assert!(err.to_string().contains("field `protocol_name`"), "{err}");
    for version in 0..=9 {
        let fixed = null_name.clone().for_version(version);
        assert_eq!(fixed.protocol_name.is_none(), version >= 7, "v{version}");
        check_response_round_trip(&fixed.into(), version);
        let empty = JoinGroupResponse::default().for_version(version);
        assert_eq!(empty.protocol_name.is_none(), version >= 7, "v{version}");
        check_response_round_trip(&JoinGroupResponse::default().into(), version);
    }
    // OffsetFetch's topic list is nullable ("all topics") from v2 only.
    let all_topics = OffsetFetchRequest {
        topics: None,
        ..OffsetFetchRequest::default()
    };
    assert!(encode_request_body(&all_topics.clone().into(), 1, &mut BytesMut::new()).is_err());
    check_request_round_trip(&all_topics.into(), 2);
}

#[test]
fn batched_and_single_layouts_follow_the_version() {
    // FindCoordinator v3 carries one key, v4 a batch; OffsetFetch v7 one group, v8 a batch.
    let single = FindCoordinatorRequest {
        key: "g".into(),
        ..FindCoordinatorRequest::default()
    };
    let v3 = check_request_round_trip(&single.into(), 3);
    assert_eq!(&v3[..], &[2, b'g', 0, 0], "key, key type, tags");
    let batched = FindCoordinatorRequest {
        coordinator_keys: vec!["g".into()],
        ..FindCoordinatorRequest::default()
    };
    let v4 = check_request_round_trip(&batched.into(), 4);
    assert_eq!(&v4[..], &[0, 2, 2, b'g', 0], "key type, coordinator keys, tags");

    let fetch = OffsetFetchRequest {
        groups: vec![OffsetFetchRequestGroup {
            group_id: "g".into(),
            topics: None,
            ..OffsetFetchRequestGroup::default()
        }],
        require_stable: true,
        ..OffsetFetchRequest::default()
    };
    let v8 = check_request_round_trip(&fetch.into(), 8);
    // groups [ group "g", all topics (null), tags ], require stable, tags.
    assert_eq!(&v8[..], &[2, 2, b'g', 0, 0, 1, 0]);
}

#[test]
fn topic_ids_replace_names_from_their_version() {
    let id = Uuid([7; 16]);
    // Fetch v12 names the topic, v13 gives its id (16 bytes) instead.
    let fetch = |version| {
        let body = FetchRequest {
            topics: vec![FetchTopic {
                topic: if version <= 12 { "t".into() } else { String::new() },
                topic_id: if version >= 13 { id } else { Uuid::ZERO },
                ..FetchTopic::default()
            }],
            ..FetchRequest::default()
        };
        check_request_round_trip(&body.into(), version)
    };
    assert_eq!(
        fetch(13).len(),
        fetch(12).len() - 2 + 16,
        "compact \"t\" (2 bytes) becomes 16 bytes"
    );
    // Produce v13 likewise, in the request and the response.
    let produce = ProduceRequest {
        topic_data: vec![TopicProduceData {
            topic_id: id,
            ..TopicProduceData::default()
        }],
        ..ProduceRequest::default()
    };
    let v13 = check_request_round_trip(&produce.into(), 13);
    assert_eq!(&v13[v13.len() - 19..v13.len() - 3], &[7; 16]);

    // Metadata v10+ may ask by id with a null name; below v10 a null name cannot be encoded.
    let by_id = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            topic_id: id,
            name: None,
            ..MetadataRequestTopic::default()
        }]),
        ..MetadataRequest::default()
    };
    check_request_round_trip(&by_id.clone().into(), 10);
    let err = encode_request_body(&by_id.into(), 9, &mut BytesMut::new()).unwrap_err();
    assert!(err.to_string().contains("field `topics.name`"), "{err}");

    // DeleteTopics v6 deletes by name or id; v0-5 only by name.
    let delete = DeleteTopicsRequest {
        topics: vec![DeleteTopicState {
            name: None,
            topic_id: id,
            ..DeleteTopicState::default()
        }],
        ..DeleteTopicsRequest::default()
    };
    let v6 = check_request_round_trip(&delete.into(), 6);
    // topics [ name null, id, tags ], timeout, tags.
    assert_eq!(&v6[..3], &[2, 0, 7]);
}

#[test]
fn tagged_fields_are_sent_only_when_set() {
    // Fetch v12+ partitions carry DivergingEpoch, CurrentLeader and SnapshotId as tags 0-2, only when set.
    let partition = PartitionData {
        current_leader: LeaderIdAndEpoch {
            leader_id: 1,
            leader_epoch: 5,
            ..LeaderIdAndEpoch::default()
        },
        ..PartitionData::default()
    };
    let body = FetchResponse {
        responses: vec![FetchableTopicResponse {
            partitions: vec![partition],
            ..FetchableTopicResponse::default()
        }],
        ..FetchResponse::default()
    };
    let plain = FetchResponse {
        responses: vec![FetchableTopicResponse {
            partitions: vec![PartitionData::default()],
            ..FetchableTopicResponse::default()
        }],
        ..FetchResponse::default()
    };
    let with = check_response_round_trip(&body.into(), 12);
    let without = check_response_round_trip(&plain.into(), 12);
    // One tag: tag 1, size 9, leader id, leader epoch, the struct's empty tag buffer.
    assert_eq!(with.len(), without.len() + 2 + 9);
    // The follower's high watermark (v18, tag 1) defaults to i64::MAX, which is not sent.
    assert_eq!(FetchPartition::default().high_watermark, i64::MAX);
}

#[test]
fn the_worked_example_from_kafka_facts_decodes() {
    // kafka-facts §1.5: ApiVersions v3 as librdkafka sends it.
    let mut frame = vec![0, 18, 0, 3, 0, 0, 0, 1, 0, 7];
    frame.extend_from_slice(b"rdkafka");
    frame.push(0);
    frame.push(11);
    frame.extend_from_slice(b"librdkafka");
    frame.push(7);
    frame.extend_from_slice(b"2.15.0");
    frame.push(0);
    assert_eq!(frame.len(), 37);
    let request = Request::decode(Bytes::from(frame.clone())).unwrap();
    assert_eq!(request.header.client_id.as_deref(), Some("rdkafka"));
    let RequestBody::ApiVersions(body) = &request.body else {
        panic!("not ApiVersions")
    };
    assert_eq!(body.client_software_name, "librdkafka");
    assert_eq!(body.client_software_version, "2.15.0");
    assert!(body.has_valid_software_names());
    let mut out = BytesMut::new();
    request.encode(&mut out).unwrap();
    assert_eq!(&out[4..], &frame[..]);
}

#[test]
fn fetch_responses_encode_around_file_backed_records() {
    let header = RequestHeader::new(ApiKey::Fetch, 10, 42);
    let partition = |i: i32, records| PartitionData {
        partition_index: i,
        high_watermark: 100,
        records: Some(records),
        ..PartitionData::default()
    };
    let body = ResponseBody::Fetch(FetchResponse {
        responses: vec![FetchableTopicResponse {
            topic: "t".into(),
            partitions: vec![
                partition(0, Records::External { id: 7, len: 1000 }),
                partition(1, Records::Inline(Bytes::from_static(b"inline"))),
                partition(2, Records::External { id: 8, len: 0 }),
            ],
            ..FetchableTopicResponse::default()
        }],
        ..FetchResponse::default()
    });
    let pieces = encode_response_segmented(&header, &body).unwrap();
    let total: usize = pieces
        .iter()
        .map(|p| match p {
            Piece::Bytes(b) => b.len(),
            Piece::External { len, .. } => *len as usize,
        })
        .sum();
    let Piece::Bytes(first) = &pieces[0] else {
        panic!("the frame starts with bytes")
    };
    assert_eq!(
        i32::from_be_bytes([first[0], first[1], first[2], first[3]]) as usize,
        total - 4
    );
    let ids: Vec<usize> = pieces
        .iter()
        .filter_map(|p| {
            if let Piece::External { id, .. } = p {
                Some(*id)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(ids, [7, 8]);

    // Filling the gaps with the records gives exactly the contiguous encoding.
    let filler = |id: usize, len: u32| Bytes::from(vec![id as u8; len as usize]);
    let mut joined = BytesMut::new();
    for p in &pieces {
        match p {
            Piece::Bytes(b) => joined.extend_from_slice(b),
            Piece::External { id, len } => joined.extend_from_slice(&filler(*id, *len)),
        }
    }
    let ResponseBody::Fetch(mut inline) = body.clone() else {
        unreachable!()
    };
    for p in &mut inline.responses[0].partitions {
        if let Some(Records::External { id, len }) = p.records {
            p.records = Some(Records::Inline(filler(id, len)));
        }
    }
    let mut contiguous = BytesMut::new();
    encode_response(&header, &ResponseBody::Fetch(inline), &mut contiguous).unwrap();
    assert_eq!(joined, contiguous);

    // A contiguous encoding cannot hold file-backed records.
    let err = encode_response(&header, &body, &mut BytesMut::new()).unwrap_err();
    assert!(err.to_string().contains("segmented"), "{err}");
}

mod differential;
mod fuzz_seeds;
