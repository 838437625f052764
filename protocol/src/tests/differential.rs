//! The differential test: our codec against the `kafka-protocol` crate, which is generated from Kafka's
//! own JSON schemas.
//!
//! For every implemented (api, version), request and response: random values encoded by us must decode
//! with kafka-protocol and re-encode to the same bytes, and kafka-protocol's encoding must decode with
//! us to the original value.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages as kp;
use kafka_protocol::protocol::{Decodable, Encodable};

use super::implemented;
use crate::api::{random_request, random_response};
use crate::testing::Gen;
use crate::*;

/// Decodes `ours` with kafka-protocol's `T` and re-encodes it.
fn through<T: Decodable + Encodable>(ours: &Bytes, version: i16) -> Result<Bytes, String> {
    let mut input = ours.clone();
    let value = T::decode(&mut input, version).map_err(|e| format!("kafka-protocol cannot decode: {e:#}"))?;
    if !input.is_empty() {
        return Err(format!("kafka-protocol left {} bytes", input.len()));
    }
    let mut out = BytesMut::new();
    value
        .encode(&mut out, version)
        .map_err(|e| format!("kafka-protocol cannot encode: {e:#}"))?;
    let size = value.compute_size(version).map_err(|e| e.to_string())?;
    if size != out.len() {
        return Err(format!("kafka-protocol size {size} != encoded {}", out.len()));
    }
    Ok(out.freeze())
}

macro_rules! theirs {
    ($api:expr, $version:expr, $bytes:expr, $dir:ident, $( $key:ident => $req:ident, $resp:ident; )*) => {
        match $api {
            $( ApiKey::$key => theirs!(@$dir $req $resp $bytes, $version), )*
        }
    };
    (@request $req:ident $resp:ident $bytes:expr, $version:expr) => { through::<kp::$req>($bytes, $version) };
    (@response $req:ident $resp:ident $bytes:expr, $version:expr) => { through::<kp::$resp>($bytes, $version) };
}

macro_rules! with_types {
    ($api:expr, $version:expr, $bytes:expr, $dir:ident) => {
        theirs!($api, $version, $bytes, $dir,
            Produce => ProduceRequest, ProduceResponse;
            Fetch => FetchRequest, FetchResponse;
            ListOffsets => ListOffsetsRequest, ListOffsetsResponse;
            Metadata => MetadataRequest, MetadataResponse;
            OffsetCommit => OffsetCommitRequest, OffsetCommitResponse;
            OffsetFetch => OffsetFetchRequest, OffsetFetchResponse;
            FindCoordinator => FindCoordinatorRequest, FindCoordinatorResponse;
            JoinGroup => JoinGroupRequest, JoinGroupResponse;
            Heartbeat => HeartbeatRequest, HeartbeatResponse;
            LeaveGroup => LeaveGroupRequest, LeaveGroupResponse;
            SyncGroup => SyncGroupRequest, SyncGroupResponse;
            DescribeGroups => DescribeGroupsRequest, DescribeGroupsResponse;
            ListGroups => ListGroupsRequest, ListGroupsResponse;
            SaslHandshake => SaslHandshakeRequest, SaslHandshakeResponse;
            ApiVersions => ApiVersionsRequest, ApiVersionsResponse;
            CreateTopics => CreateTopicsRequest, CreateTopicsResponse;
            DeleteTopics => DeleteTopicsRequest, DeleteTopicsResponse;
            InitProducerId => InitProducerIdRequest, InitProducerIdResponse;
            OffsetForLeaderEpoch => OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse;
            DescribeAcls => DescribeAclsRequest, DescribeAclsResponse;
            CreateAcls => CreateAclsRequest, CreateAclsResponse;
            DeleteAcls => DeleteAclsRequest, DeleteAclsResponse;
            SaslAuthenticate => SaslAuthenticateRequest, SaslAuthenticateResponse;
            DescribeUserScramCredentials => DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse;
            AlterUserScramCredentials => AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse;
            DescribeConfigs => DescribeConfigsRequest, DescribeConfigsResponse;
            DeleteGroups => DeleteGroupsRequest, DeleteGroupsResponse;
            OffsetDelete => OffsetDeleteRequest, OffsetDeleteResponse;
            DeleteRecords => DeleteRecordsRequest, DeleteRecordsResponse;
            AlterConfigs => AlterConfigsRequest, AlterConfigsResponse;
            DescribeLogDirs => DescribeLogDirsRequest, DescribeLogDirsResponse;
            CreatePartitions => CreatePartitionsRequest, CreatePartitionsResponse;
            IncrementalAlterConfigs => IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse;
            DescribeQuorum => DescribeQuorumRequest, DescribeQuorumResponse;
            DescribeCluster => DescribeClusterRequest, DescribeClusterResponse;
            DescribeProducers => DescribeProducersRequest, DescribeProducersResponse;
            ConsumerGroupHeartbeat => ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse;
            ConsumerGroupDescribe => ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse;
        )
    };
}

#[test]
fn kafka_protocol_agrees_on_every_implemented_version() {
    let mut failures = Vec::new();
    for seed in 0..48u64 {
        let mut g = Gen::new(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        for (api, version) in implemented() {
            let cx = api.cx(version);

            let request = random_request(api, &mut g, cx);
            let mut ours = BytesMut::new();
            encode_request_body(&request, version, &mut ours).unwrap();
            let ours = ours.freeze();
            match with_types!(api, version, &ours, request) {
                Ok(theirs) if theirs == ours => {
                    let back = decode_request_body(api, version, theirs).unwrap();
                    assert_eq!(back, request, "{api:?} v{version} request decoded from kafka-protocol's bytes");
                }
                Ok(theirs) => failures.push(format!(
                    "{api:?} v{version} request: bytes differ\n ours   {ours:02x?}\n theirs {theirs:02x?}\n value {request:?}"
                )),
                Err(e) => failures.push(format!("{api:?} v{version} request: {e}\n value {request:?}")),
            }

            let response = random_response(api, &mut g, cx);
            let mut ours = BytesMut::new();
            encode_response_body(&response, version, &mut ours).unwrap();
            let ours = ours.freeze();
            match with_types!(api, version, &ours, response) {
                Ok(theirs) if theirs == ours => {
                    let back = decode_response_body(api, version, theirs).unwrap();
                    assert_eq!(back, response, "{api:?} v{version} response decoded from kafka-protocol's bytes");
                }
                Ok(theirs) => failures.push(format!(
                    "{api:?} v{version} response: bytes differ\n ours   {ours:02x?}\n theirs {theirs:02x?}\n value {response:?}"
                )),
                Err(e) => failures.push(format!("{api:?} v{version} response: {e}\n value {response:?}")),
            }
        }
        if failures.len() > 5 {
            break;
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn kafka_protocol_request_headers_agree() {
    use kafka_protocol::messages::RequestHeader as KpHeader;
    for (api, version) in implemented() {
        let header = RequestHeader {
            client_id: Some("kzero-test".into()),
            ..RequestHeader::new(api, version, 12345)
        };
        let request = Request {
            header,
            body: random_request(api, &mut Gen::new(1), api.cx(version)),
        };
        let mut frame = BytesMut::new();
        request.encode(&mut frame).unwrap();
        let mut input = frame.freeze().slice(4..);
        let header_version = api.request_header_version(version);
        let theirs = KpHeader::decode(&mut input, header_version).unwrap();
        assert_eq!(theirs.request_api_key, api as i16);
        assert_eq!(theirs.request_api_version, version);
        assert_eq!(theirs.correlation_id, 12345);
        assert_eq!(theirs.client_id.as_deref(), Some("kzero-test"));
        assert_eq!(
            input.len(),
            request_body_size(&request.body, version),
            "{api:?} v{version} header length"
        );
    }
}

#[test]
fn kafka_protocol_reads_our_heartbeat_assignment_field_by_field() {
    // The generic test compares bytes; this one checks that kafka-protocol sees the nullable assignment
    // (INT8 marker, then the struct) as the same value, in both versions.
    let assignment = ConsumerGroupHeartbeatAssignment {
        topic_partitions: vec![ConsumerGroupHeartbeatTopicPartitions {
            topic_id: Uuid([7; 16]),
            partitions: vec![0, 3],
            ..ConsumerGroupHeartbeatTopicPartitions::default()
        }],
        ..ConsumerGroupHeartbeatAssignment::default()
    };
    for version in 0..=1 {
        for assignment in [None, Some(assignment.clone())] {
            let ours = ConsumerGroupHeartbeatResponse {
                member_id: Some("m".into()),
                member_epoch: 4,
                heartbeat_interval_ms: 5000,
                assignment: assignment.clone(),
                ..ConsumerGroupHeartbeatResponse::default()
            };
            let body = ResponseBody::from(ours.clone());
            let mut bytes = BytesMut::new();
            encode_response_body(&body, version, &mut bytes).unwrap();
            let mut input = bytes.freeze();
            let theirs = kp::ConsumerGroupHeartbeatResponse::decode(&mut input, version).unwrap();
            assert!(input.is_empty());
            assert_eq!(theirs.member_id.as_deref(), Some("m"));
            assert_eq!((theirs.member_epoch, theirs.heartbeat_interval_ms), (4, 5000));
            match (&assignment, &theirs.assignment) {
                (None, None) => {}
                (Some(a), Some(t)) => {
                    assert_eq!(t.topic_partitions.len(), 1);
                    let (ours, theirs) = (&a.topic_partitions[0], &t.topic_partitions[0]);
                    assert_eq!(theirs.topic_id.as_bytes(), &ours.topic_id.0);
                    assert_eq!(theirs.partitions, ours.partitions);
                }
                (a, t) => panic!("v{version}: ours {a:?}, theirs {t:?}"),
            }
            let mut again = BytesMut::new();
            theirs.encode(&mut again, version).unwrap();
            let back = decode_response_body(ApiKey::ConsumerGroupHeartbeat, version, again.freeze()).unwrap();
            assert_eq!(back, body, "v{version}");
        }
    }
}
