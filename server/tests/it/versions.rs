//! Every advertised version of every API, sent over a raw socket and checked for what it means.
//!
//! The walk asks ApiVersions (v3) what the broker advertises. Then, for each advertised API in [`ORDER`]
//! (an order in which every API finds what it needs: records before Fetch, a joined member before
//! SyncGroup, a committed offset before OffsetDelete) and for each version in its advertised range, it
//! sends the request [`sample`] builds and checks the answer with [`check`]:
//! - the answer decodes at that version and carries the request's correlation id;
//! - it means what Kafka's answer means (appends move the log end, fetches return the produced records,
//!   topic ids stay the same, group members go through Kafka's states), often confirmed with a follow-up
//!   request;
//! - the connection stays open: an ApiVersions v0 follows every request on the same connection.
//!
//! A version Kafka advertises but rejects (advertised and not implemented: Produce v0-2, KAFKA-18659) must
//! close a connection of its own without an answer.
//! An advertised API that the walk has no arm for fails the test, naming the API, so a newly advertised
//! API cannot go untested. `sample` and `check` have arms for every API in `protocol::API_TABLE`,
//! including those the broker does not advertise yet; those arms run as soon as it advertises them.
//! Failures are collected and reported together, one line per version: `Api vN: what was expected,
//! what came`.
//!
//! A second test checks topic ids through Metadata across a restart and a delete + re-create.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use protocol::record::{BatchBuilder, Batches, Compression, Record};
use protocol::{
    AlterConfigsRequest, AlterConfigsResource, AlterableConfig, ApiKey, ApiVersionsRequest, ApiVersionsResponse,
    CreatableTopic, CreatableTopicConfig, CreatePartitionsRequest, CreatePartitionsTopic, CreateTopicsRequest,
    DeleteGroupsRequest, DeleteRecordsPartition, DeleteRecordsRequest, DeleteRecordsTopic, DeleteTopicState,
    DeleteTopicsRequest, DescribableLogDirTopic, DescribeClusterRequest, DescribeConfigsRequest,
    DescribeConfigsResource, DescribeConfigsResourceResult, DescribeGroupsRequest, DescribeLogDirsRequest,
    DescribeProducersRequest, DescribeProducersTopic, DescribeQuorumPartitionData, DescribeQuorumRequest,
    DescribeQuorumTopicData, ErrorCode, FetchPartition, FetchRequest, FetchTopic, FindCoordinatorRequest,
    HeartbeatRequest, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResource, IncrementalAlterableConfig,
    InitProducerIdRequest, JoinGroupRequest, JoinGroupRequestProtocol, LeaveGroupRequest, ListGroupsRequest,
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic, MemberIdentity, MetadataRequest, MetadataRequestTopic,
    MetadataResponseTopic, OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    OffsetDeleteRequest, OffsetDeleteRequestPartition, OffsetDeleteRequestTopic, OffsetFetchRequest,
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchResponseTopic, OffsetForLeaderEpochRequest,
    OffsetForLeaderPartition, OffsetForLeaderTopic, PartitionProduceData, ProduceRequest, Records, Request,
    RequestBody, RequestHeader, Response, ResponseBody, SyncGroupRequest, SyncGroupRequestAssignment, TopicProduceData,
    Uuid, API_TABLE,
};

use crate::support::{config, TestBroker};

/// The answer's body as its API's type (the decoder made it that type; anything else is a bug here).
macro_rules! answer {
    ($body:expr, $variant:ident) => {
        match $body {
            ResponseBody::$variant(r) => r,
            other => {
                return Err(format!(
                    "a {} answer instead of {}",
                    other.api_key().name(),
                    stringify!($variant)
                ))
            }
        }
    };
}

/// The order of the walk. Every API in `protocol::API_TABLE` is here, and has an arm in [`sample`] and
/// [`check`]; an API that comes later may rely on what an earlier one did.
const ORDER: &[ApiKey] = &[
    ApiKey::ApiVersions,
    ApiKey::Metadata,
    ApiKey::DescribeCluster,
    ApiKey::DescribeQuorum,
    ApiKey::DescribeConfigs,
    ApiKey::InitProducerId,
    ApiKey::Produce,
    ApiKey::Fetch,
    ApiKey::ListOffsets,
    ApiKey::OffsetForLeaderEpoch,
    ApiKey::DescribeLogDirs,
    ApiKey::DescribeProducers,
    ApiKey::CreateTopics,
    ApiKey::CreatePartitions,
    ApiKey::DeleteTopics,
    ApiKey::AlterConfigs,
    ApiKey::IncrementalAlterConfigs,
    ApiKey::FindCoordinator,
    ApiKey::JoinGroup,
    ApiKey::SyncGroup,
    ApiKey::Heartbeat,
    ApiKey::OffsetCommit,
    ApiKey::OffsetFetch,
    ApiKey::DescribeGroups,
    ApiKey::ListGroups,
    ApiKey::LeaveGroup,
    ApiKey::OffsetDelete,
    ApiKey::DeleteGroups,
    ApiKey::ConsumerGroupHeartbeat,
    ApiKey::ConsumerGroupDescribe,
    // The security APIs on a PLAINTEXT listener without an authorizer (the SASL exchange itself is
    // tested in `security.rs`).
    ApiKey::SaslHandshake,
    ApiKey::SaslAuthenticate,
    ApiKey::AlterUserScramCredentials,
    ApiKey::DescribeUserScramCredentials,
    ApiKey::CreateAcls,
    ApiKey::DescribeAcls,
    ApiKey::DeleteAcls,
    // Last: it moves the log start, which the earlier checks expect at 0.
    ApiKey::DeleteRecords,
];

/// The topic the data APIs use: two partitions, records go to partition 0.
const TOPIC: &str = "walk";
/// Its `retention.ms` override, set at creation.
const TOPIC_RETENTION_MS: &str = "172800000";
/// The topic AlterConfigs and IncrementalAlterConfigs change.
const CONFIGS_TOPIC: &str = "walk-configs";
/// The group OffsetCommit, OffsetFetch and OffsetDelete use (simple commits: no members), and whose
/// coordinator FindCoordinator looks up.
const OFFSETS_GROUP: &str = "walk-offsets";
/// The client id of every request.
const CLIENT_ID: &str = "kzero-walk";
/// How long to wait for any answer.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Kafka's resource type of a topic (DescribeConfigs, AlterConfigs).
const TOPIC_RESOURCE: i8 = 2;
/// Kafka's config source `DYNAMIC_TOPIC_CONFIG`.
const DYNAMIC_TOPIC_CONFIG: i8 = 1;
/// The session and rebalance timeouts of the walk's members: long enough that no member expires during
/// the walk, even the ones that join and never sync or heartbeat.
const GROUP_TIMEOUT_MS: i32 = 120_000;

/// The topic CreateTopics creates at `version`.
fn created_topic(version: i16) -> String {
    format!("walk-create-v{version}")
}

/// The topic DeleteTopics deletes at `version` (created by the setup).
fn deleted_topic(version: i16) -> String {
    format!("walk-delete-v{version}")
}

/// The topic CreatePartitions grows from one partition to two at `version` (created by the setup).
fn grown_topic(version: i16) -> String {
    format!("walk-grow-v{version}")
}

/// The group the member that JoinGroup joins at `version` is alone in.
/// The KIP-848 group ConsumerGroupHeartbeat joins at `version` (one member each).
fn kip848_group(version: i16) -> String {
    format!("walk-848-v{version}")
}

/// The member id a v1+ member makes for itself (KIP-1082); v0 members get one from the broker.
fn kip848_member(version: i16) -> String {
    format!("walk848member{version:09}")
}

fn join_group(version: i16) -> String {
    format!("walk-join-v{version}")
}

/// The `retention.ms` AlterConfigs (key 33) and IncrementalAlterConfigs (key 44) set at `version`.
fn altered_retention(api: ApiKey, version: i16) -> String {
    (3_600_000 * i64::from(api as i16) + i64::from(version)).to_string()
}

/// The values of the records Produce appends at `version`.
fn produced_values(version: i16) -> Vec<Bytes> {
    (0..2)
        .map(|i| Bytes::from(format!("produce v{version} record {i}")))
        .collect()
}

/// The offset OffsetCommit commits at `version`, and its metadata.
fn committed(version: i16) -> (i64, String) {
    (100 + i64::from(version), format!("committed at v{version}"))
}

/// A `ConsumerProtocolSubscription` v0 to [`TOPIC`], as a consumer's JoinGroup carries it.
fn subscription() -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(0);
    b.put_i32(1);
    b.put_i16(TOPIC.len() as i16);
    b.put_slice(TOPIC.as_bytes());
    b.put_i32(-1);
    b.freeze()
}

/// A `ConsumerProtocolAssignment` v0 of both partitions of [`TOPIC`], as a leader's SyncGroup carries it.
fn assignment() -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(0);
    b.put_i32(1);
    b.put_i16(TOPIC.len() as i16);
    b.put_slice(TOPIC.as_bytes());
    b.put_i32(2);
    b.put_i32(0);
    b.put_i32(1);
    b.put_i32(-1);
    b.freeze()
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

// ---------------------------------------------------------------------------------------------------------
// The connection

/// One connection to the broker, opened on demand (again after the broker closed it).
struct Conn {
    /// The broker; `None` for a walk that only builds requests.
    addr: Option<SocketAddr>,
    s: Option<TcpStream>,
    correlation: i32,
}

impl Conn {
    fn new(addr: Option<SocketAddr>) -> Conn {
        Conn {
            addr,
            s: None,
            correlation: 0,
        }
    }

    /// Sends one request and reads its answer; any failure says what happened and drops the connection.
    fn call(&mut self, version: i16, body: RequestBody) -> Result<ResponseBody, String> {
        let result = self.exchange(version, body);
        if result.is_err() {
            self.s = None;
        }
        result
    }

    fn exchange(&mut self, version: i16, body: RequestBody) -> Result<ResponseBody, String> {
        let api = body.api_key();
        self.correlation += 1;
        let id = self.correlation;
        let mut out = BytesMut::new();
        Request {
            header: RequestHeader {
                client_id: Some(CLIENT_ID.into()),
                ..RequestHeader::new(api, version, id)
            },
            body,
        }
        .encode(&mut out)
        .map_err(|e| format!("the request does not encode: {e}"))?;
        if self.s.is_none() {
            let addr = self.addr.ok_or("no broker to send to")?;
            self.s = Some(connect(addr)?);
        }
        let s = self.s.as_mut().expect("connected");
        s.write_all(&out).map_err(|e| format!("cannot send the request: {e}"))?;
        let frame = read_frame(s)?;
        let r = Response::decode(api, version, Bytes::from(frame))
            .map_err(|e| format!("the answer does not decode at v{version}: {e}"))?;
        if r.header.correlation_id != id {
            return Err(format!(
                "correlation id: expected {id}, got {}",
                r.header.correlation_id
            ));
        }
        Ok(r.body)
    }
}

fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let s = TcpStream::connect(addr).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    s.set_read_timeout(Some(TIMEOUT)).map_err(|e| e.to_string())?;
    Ok(s)
}

fn read_frame(s: &mut TcpStream) -> Result<Vec<u8>, String> {
    let mut size = [0u8; 4];
    s.read_exact(&mut size).map_err(read_error)?;
    let size = i32::from_be_bytes(size);
    if size < 4 {
        return Err(format!("an answer of {size} bytes"));
    }
    let mut frame = vec![0u8; size as usize];
    s.read_exact(&mut frame).map_err(read_error)?;
    Ok(frame)
}

fn read_error(e: std::io::Error) -> String {
    match e.kind() {
        ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset => {
            "the broker closed the connection without an answer".into()
        }
        ErrorKind::WouldBlock | ErrorKind::TimedOut => format!("no answer within {TIMEOUT:?}"),
        _ => format!("cannot read the answer: {e}"),
    }
}

// ---------------------------------------------------------------------------------------------------------
// What the walk knows

/// Where a member that JoinGroup joined is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MemberState {
    /// Joined; its SyncGroup is still to come (the group is CompletingRebalance).
    AwaitingSync,
    /// Synced (the group is Stable).
    Stable,
    /// Left (the group is Empty).
    Left,
    /// Its group was deleted.
    Deleted,
}

/// The one member of a group, joined by JoinGroup at some version.
#[derive(Debug, Clone)]
struct Member {
    group: String,
    id: String,
    generation: i32,
    state: MemberState,
}

impl Member {
    /// The state Kafka's DescribeGroups and ListGroups give its group.
    fn group_state(&self) -> &'static str {
        match self.state {
            MemberState::AwaitingSync => "CompletingRebalance",
            MemberState::Stable => "Stable",
            MemberState::Left => "Empty",
            MemberState::Deleted => "Dead",
        }
    }
}

/// The offset committed last to [`OFFSETS_GROUP`] (partition 0 of [`TOPIC`]).
#[derive(Debug, Clone)]
struct Commit {
    offset: i64,
    metadata: String,
    /// The committed leader epoch, -1 when committed below v6 (which has no such field).
    leader_epoch: i32,
}

/// What the walk knows about the broker and what it has done so far.
struct Ctx {
    conn: Conn,
    /// The advertised range of each api key, from ApiVersions v3.
    advertised: BTreeMap<i16, (i16, i16)>,
    node_id: i32,
    host: String,
    port: i32,
    /// Topic ids by topic name, from the setup's Metadata (v10+ only).
    topic_ids: BTreeMap<String, Uuid>,
    /// The cluster id, from the setup's Metadata (v2+ only).
    cluster_id: Option<String>,
    /// The leader epoch of [`TOPIC`]'s partitions, from the setup's Metadata (v7+ only).
    leader_epoch: Option<i32>,
    /// Every producer id InitProducerId gave.
    producer_ids: Vec<i64>,
    /// The producer Produce uses (the last InitProducerId's), idempotently.
    producer: Option<(i64, i16)>,
    /// The producer's next sequence number on partition 0.
    next_sequence: i32,
    /// The values of the records of partition 0, in offset order from the log start.
    records: Vec<Bytes>,
    /// The log start offset of partition 0.
    log_start: i64,
    /// The member JoinGroup joined at each version.
    members: BTreeMap<i16, Member>,
    /// Whether [`OFFSETS_GROUP`] exists (created by a commit).
    offsets_group: bool,
    commit: Option<Commit>,
    /// The KIP-848 member ConsumerGroupHeartbeat joined at each version: (group, member id, epoch).
    kip848: BTreeMap<i16, (String, String, i32)>,
}

impl Ctx {
    fn new(conn: Conn, advertised: BTreeMap<i16, (i16, i16)>, node_id: i32, addr: SocketAddr) -> Ctx {
        Ctx {
            conn,
            advertised,
            node_id,
            host: addr.ip().to_string(),
            port: i32::from(addr.port()),
            topic_ids: BTreeMap::new(),
            cluster_id: None,
            leader_epoch: None,
            producer_ids: Vec::new(),
            producer: None,
            next_sequence: 0,
            records: Vec::new(),
            log_start: 0,
            members: BTreeMap::new(),
            offsets_group: false,
            commit: None,
            kip848: BTreeMap::new(),
        }
    }

    /// The advertised range of `api`.
    fn range(&self, api: ApiKey) -> Option<(i16, i16)> {
        self.advertised.get(&(api as i16)).copied()
    }

    /// The highest advertised version of `api`, which follow-up requests use.
    fn max(&self, api: ApiKey) -> Result<i16, String> {
        self.range(api).map(|(_, max)| max).ok_or_else(|| {
            format!(
                "checking this needs {}, which the broker does not advertise",
                api.name()
            )
        })
    }

    /// The id of `topic`, or zero (which the broker will not know) when Metadata gave none.
    fn topic_id(&self, topic: &str) -> Uuid {
        self.topic_ids.get(topic).copied().unwrap_or_default()
    }

    /// The leader epoch a client sends as the one it knows: -1 (no check) unless Metadata told it.
    fn known_epoch(&self) -> i32 {
        self.leader_epoch.unwrap_or(-1)
    }

    /// The leader epoch of the records: a single broker's first leader epoch is 0.
    fn epoch(&self) -> i32 {
        self.leader_epoch.unwrap_or(0)
    }

    /// The log end offset (and high watermark) of partition 0.
    fn log_end(&self) -> i64 {
        self.log_start + self.records.len() as i64
    }

    /// The member JoinGroup joined at `version`, or a stand-in the broker will not know.
    fn member(&self, version: i16) -> Member {
        self.members.get(&version).cloned().unwrap_or_else(|| Member {
            group: join_group(version),
            id: format!("none (JoinGroup v{version} joined no member)"),
            generation: -1,
            state: MemberState::Deleted,
        })
    }

    /// A follow-up request, at the highest advertised version of its API.
    fn follow_up(
        &mut self,
        api: ApiKey,
        build: impl FnOnce(i16) -> RequestBody,
    ) -> Result<(i16, ResponseBody), String> {
        let version = self.max(api)?;
        self.follow_up_at(version, build(version))
    }

    /// A follow-up request at `version`.
    fn follow_up_at(&mut self, version: i16, body: RequestBody) -> Result<(i16, ResponseBody), String> {
        let api = body.api_key();
        let r = self
            .conn
            .call(version, body)
            .map_err(|e| format!("follow-up {} v{version}: {e}", api.name()))?;
        Ok((version, r))
    }

    /// `topic` as Metadata describes it, looked up without creating it (v4+).
    fn metadata_of(&mut self, topic: &str) -> Result<MetadataResponseTopic, String> {
        let version = self.max(ApiKey::Metadata)?;
        if version < 4 {
            return Err(format!(
                "looking {topic:?} up without creating it needs Metadata v4+, the broker advertises up to v{version}"
            ));
        }
        let (_, r) = self.follow_up_at(version, metadata_request(topic, None, false))?;
        let r = answer!(r, Metadata);
        r.topics
            .into_iter()
            .find(|t| t.name.as_deref() == Some(topic))
            .ok_or_else(|| format!("follow-up Metadata v{version}: {topic:?} is not in the answer"))
    }

    /// The committed offset, leader epoch, metadata and error of [`OFFSETS_GROUP`]'s partition 0.
    fn fetch_commit(&mut self) -> Result<(i64, i32, Option<String>, i16), String> {
        let (version, r) = self.follow_up(ApiKey::OffsetFetch, |v| offset_fetch_request(v, &[0]))?;
        let r = answer!(r, OffsetFetch);
        let topics = offset_fetch_topics(version, &r).map_err(|e| format!("follow-up OffsetFetch v{version}: {e}"))?;
        let p = topics
            .iter()
            .filter(|t| t.name == TOPIC)
            .flat_map(|t| &t.partitions)
            .find(|p| p.partition_index == 0)
            .ok_or_else(|| format!("follow-up OffsetFetch v{version}: no partition {TOPIC}-0 in {topics:?}"))?;
        Ok((
            p.committed_offset,
            p.committed_leader_epoch,
            p.metadata.clone(),
            p.error_code,
        ))
    }

    /// The walk's groups that ListGroups should list, with their protocol type and state.
    fn expected_groups(&self) -> BTreeMap<String, (&'static str, &'static str)> {
        let mut groups: BTreeMap<String, (&'static str, &'static str)> = self
            .members
            .values()
            .filter(|m| m.state != MemberState::Deleted)
            .map(|m| (m.group.clone(), ("consumer", m.group_state())))
            .collect();
        if self.offsets_group {
            groups.insert(OFFSETS_GROUP.into(), ("", "Empty"));
        }
        groups
    }

    /// The member of the group `group`, if the walk joined one.
    fn member_of(&mut self, group: &str) -> Option<&mut Member> {
        self.members.values_mut().find(|m| m.group == group)
    }
}

// ---------------------------------------------------------------------------------------------------------
// Checking helpers

/// Fails with `what: expected .., got ..` unless `got == want`.
fn eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: expected {want:?}, got {got:?}"))
    }
}

/// Fails with `what: expected ..., got ...` unless `ok`.
fn ensure(ok: bool, what: &str, expected: &str, got: impl std::fmt::Debug) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("{what}: expected {expected}, got {got:?}"))
    }
}

/// An error code by its Kafka name.
fn code_name(code: i16) -> String {
    match ErrorCode::from_code(code) {
        Some(c) => c.to_string(),
        None => format!("unknown error code {code}"),
    }
}

/// Fails unless `code` is NONE.
fn no_error(what: &str, code: i16) -> Result<(), String> {
    error_is(what, code, ErrorCode::None)
}

/// Fails unless `code` is `want`.
fn error_is(what: &str, code: i16, want: ErrorCode) -> Result<(), String> {
    if code == want.code() {
        Ok(())
    } else {
        Err(format!("{what}: expected {want}, got {}", code_name(code)))
    }
}

/// The one element of `items`.
fn only<'a, T: std::fmt::Debug>(what: &str, items: &'a [T]) -> Result<&'a T, String> {
    match items {
        [one] => Ok(one),
        _ => Err(format!("{what}: expected exactly one, got {items:?}")),
    }
}

/// The advertised ranges in an ApiVersions answer, by api key.
fn advertised_ranges(r: &ApiVersionsResponse) -> BTreeMap<i16, (i16, i16)> {
    r.api_keys
        .iter()
        .map(|k| (k.api_key, (k.min_version, k.max_version)))
        .collect()
}

/// The message for an advertised API the walk cannot test.
fn untested(api: ApiKey) -> String {
    format!(
        "{} (key {}) is advertised by the broker but the versions walk has no arm for it: add it to ORDER, \
         sample() and check() in server/tests/it/versions.rs",
        api.name(),
        api as i16
    )
}

// ---------------------------------------------------------------------------------------------------------
// Request builders shared by `sample` and the follow-ups

/// Metadata for one topic: by name, or by id (v12+ only; `id` is then used and the name left null).
fn metadata_request(topic: &str, id: Option<Uuid>, allow_auto_topic_creation: bool) -> RequestBody {
    let topic = match id {
        Some(id) => MetadataRequestTopic {
            topic_id: id,
            name: None,
            ..Default::default()
        },
        None => MetadataRequestTopic {
            name: Some(topic.into()),
            ..Default::default()
        },
    };
    MetadataRequest {
        topics: Some(vec![topic]),
        allow_auto_topic_creation,
        ..Default::default()
    }
    .into()
}

/// ListOffsets for partition 0 of [`TOPIC`] at `timestamp` (-1 latest, -2 earliest), as a consumer asks.
fn list_offsets_request(timestamp: i64, known_epoch: i32) -> RequestBody {
    ListOffsetsRequest {
        replica_id: -1,
        isolation_level: 0,
        topics: vec![ListOffsetsTopic {
            name: TOPIC.into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: 0,
                current_leader_epoch: known_epoch,
                timestamp,
                ..Default::default()
            }],
            ..Default::default()
        }],
        timeout_ms: 10_000,
        ..Default::default()
    }
    .into()
}

/// DescribeConfigs of a topic: every key (`None`) or some.
fn describe_configs_request(topic: &str, keys: Option<Vec<String>>) -> RequestBody {
    DescribeConfigsRequest {
        resources: vec![DescribeConfigsResource {
            resource_type: TOPIC_RESOURCE,
            resource_name: topic.into(),
            configuration_keys: keys,
            ..Default::default()
        }],
        include_synonyms: true,
        include_documentation: false,
        ..Default::default()
    }
    .into()
}

/// OffsetFetch of [`OFFSETS_GROUP`]'s `partitions` of [`TOPIC`], in the layout of `version`.
fn offset_fetch_request(version: i16, partitions: &[i32]) -> RequestBody {
    let topics = Some(vec![OffsetFetchRequestTopic {
        name: TOPIC.into(),
        partition_indexes: partitions.to_vec(),
        ..Default::default()
    }]);
    if version >= 8 {
        OffsetFetchRequest {
            groups: vec![OffsetFetchRequestGroup {
                group_id: OFFSETS_GROUP.into(),
                member_id: None,
                member_epoch: -1,
                topics,
                ..Default::default()
            }],
            ..Default::default()
        }
        .into()
    } else {
        OffsetFetchRequest {
            group_id: OFFSETS_GROUP.into(),
            topics,
            ..Default::default()
        }
        .into()
    }
}

/// The topics of [`OFFSETS_GROUP`] in an OffsetFetch answer of `version`, after its error codes are checked.
fn offset_fetch_topics(
    version: i16,
    r: &protocol::OffsetFetchResponse,
) -> Result<Vec<OffsetFetchResponseTopic>, String> {
    if version >= 8 {
        let g = only("groups", &r.groups)?;
        eq("group id", g.group_id.as_str(), OFFSETS_GROUP)?;
        no_error("group error", g.error_code)?;
        Ok(g.topics.clone())
    } else {
        if version >= 2 {
            no_error("error", r.error_code)?;
        }
        Ok(r.topics.clone())
    }
}

/// ListGroups, filtered by state (v4+) and type (v5+) when asked.
fn list_groups_request(states: &[&str], types: &[&str]) -> RequestBody {
    ListGroupsRequest {
        states_filter: states.iter().map(|s| s.to_string()).collect(),
        types_filter: types.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
    .into()
}

/// DescribeGroups of one group.
fn describe_groups_request(group: &str) -> RequestBody {
    DescribeGroupsRequest {
        groups: vec![group.into()],
        include_authorized_operations: true,
        ..Default::default()
    }
    .into()
}

/// A consumer's JoinGroup, for a new member (`member_id` empty) or a known one.
fn join_request(group: &str, member_id: &str) -> RequestBody {
    JoinGroupRequest {
        group_id: group.into(),
        session_timeout_ms: GROUP_TIMEOUT_MS,
        rebalance_timeout_ms: GROUP_TIMEOUT_MS,
        member_id: member_id.into(),
        group_instance_id: None,
        protocol_type: "consumer".into(),
        protocols: vec![JoinGroupRequestProtocol {
            name: "range".into(),
            metadata: subscription(),
            ..Default::default()
        }],
        reason: Some("versions walk".into()),
        ..Default::default()
    }
    .into()
}

/// A topic to create: name, partitions, configs.
type NewTopic<'a> = (String, i32, Vec<(&'a str, &'a str)>);

/// CreateTopics of topics with their partitions and configs.
fn create_topics_request(topics: &[NewTopic<'_>]) -> RequestBody {
    CreateTopicsRequest {
        topics: topics
            .iter()
            .map(|(name, partitions, configs)| CreatableTopic {
                name: name.clone(),
                num_partitions: *partitions,
                replication_factor: 1,
                assignments: Vec::new(),
                configs: configs
                    .iter()
                    .map(|(k, v)| CreatableTopicConfig {
                        name: k.to_string(),
                        value: Some(v.to_string()),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        timeout_ms: 10_000,
        validate_only: false,
        ..Default::default()
    }
    .into()
}

// ---------------------------------------------------------------------------------------------------------
// sample and check

/// A representative, valid request of `api` at `version`, built from what the walk knows.
fn sample(api: ApiKey, version: i16, ctx: &Ctx) -> RequestBody {
    let v = version;
    match api {
        ApiKey::ApiVersions => ApiVersionsRequest {
            client_software_name: CLIENT_ID.into(),
            client_software_version: "0.0.0".into(),
            ..Default::default()
        }
        .into(),
        // By id from v12 (the name is then null), by name before.
        ApiKey::Metadata => metadata_request(TOPIC, (v >= 12).then(|| ctx.topic_id(TOPIC)), false),
        ApiKey::DescribeCluster => DescribeClusterRequest {
            include_cluster_authorized_operations: false,
            endpoint_type: 1,
            include_fenced_brokers: false,
            ..Default::default()
        }
        .into(),
        ApiKey::DescribeQuorum => DescribeQuorumRequest {
            topics: vec![DescribeQuorumTopicData {
                topic_name: "__cluster_metadata".into(),
                partitions: vec![DescribeQuorumPartitionData {
                    partition_index: 0,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
        .into(),
        ApiKey::DescribeConfigs => describe_configs_request(TOPIC, None),
        ApiKey::InitProducerId => InitProducerIdRequest {
            transactional_id: None,
            transaction_timeout_ms: i32::MAX,
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        }
        .into(),
        ApiKey::Produce => {
            let mut batch = BatchBuilder::new(Compression::None, now_ms());
            if let Some((id, epoch)) = ctx.producer {
                batch.producer_id = id;
                batch.producer_epoch = epoch;
                batch.base_sequence = ctx.next_sequence;
            }
            for value in produced_values(v) {
                batch.push(Record {
                    value: Some(value),
                    ..Record::default()
                });
            }
            ProduceRequest {
                transactional_id: None,
                acks: -1,
                timeout_ms: 10_000,
                topic_data: vec![TopicProduceData {
                    // The codec writes the name up to v12 and the id from v13.
                    name: TOPIC.into(),
                    topic_id: ctx.topic_id(TOPIC),
                    partition_data: vec![PartitionProduceData {
                        index: 0,
                        records: Some(Records::Inline(batch.build().expect("a valid batch"))),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }
            .into()
        }
        ApiKey::Fetch => FetchRequest {
            replica_id: -1,
            max_wait_ms: 500,
            min_bytes: 1,
            max_bytes: 1 << 20,
            isolation_level: 0,
            session_id: 0,
            session_epoch: -1,
            topics: vec![FetchTopic {
                topic: TOPIC.into(),
                topic_id: ctx.topic_id(TOPIC),
                partitions: vec![FetchPartition {
                    partition: 0,
                    current_leader_epoch: ctx.known_epoch(),
                    fetch_offset: 0,
                    last_fetched_epoch: -1,
                    log_start_offset: -1,
                    partition_max_bytes: 1 << 20,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            rack_id: String::new(),
            ..Default::default()
        }
        .into(),
        // Earliest here; `check` asks for the latest at the same version.
        ApiKey::ListOffsets => list_offsets_request(-2, ctx.known_epoch()),
        ApiKey::OffsetForLeaderEpoch => OffsetForLeaderEpochRequest {
            replica_id: -1,
            topics: vec![OffsetForLeaderTopic {
                topic: TOPIC.into(),
                partitions: vec![OffsetForLeaderPartition {
                    partition: 0,
                    current_leader_epoch: ctx.known_epoch(),
                    leader_epoch: ctx.epoch(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
        .into(),
        ApiKey::DescribeLogDirs => DescribeLogDirsRequest {
            topics: Some(vec![DescribableLogDirTopic {
                topic: TOPIC.into(),
                partitions: vec![0, 1],
                ..Default::default()
            }]),
            ..Default::default()
        }
        .into(),
        ApiKey::DescribeProducers => DescribeProducersRequest {
            topics: vec![DescribeProducersTopic {
                name: TOPIC.into(),
                partition_indexes: vec![0],
                ..Default::default()
            }],
            ..Default::default()
        }
        .into(),
        ApiKey::CreateTopics => create_topics_request(&[(created_topic(v), 3, vec![("retention.ms", "86400000")])]),
        ApiKey::CreatePartitions => CreatePartitionsRequest {
            topics: vec![CreatePartitionsTopic {
                name: grown_topic(v),
                count: 2,
                // Null: the broker places the new partition.
                assignments: None,
                ..Default::default()
            }],
            timeout_ms: 10_000,
            validate_only: false,
            ..Default::default()
        }
        .into(),
        // By name up to v5, by id (with a null name) from v6; the codec writes the version's field.
        ApiKey::DeleteTopics => DeleteTopicsRequest {
            topic_names: vec![deleted_topic(v)],
            topics: vec![DeleteTopicState {
                name: None,
                topic_id: ctx.topic_id(&deleted_topic(v)),
                ..Default::default()
            }],
            timeout_ms: 10_000,
            ..Default::default()
        }
        .into(),
        ApiKey::AlterConfigs => AlterConfigsRequest {
            resources: vec![AlterConfigsResource {
                resource_type: TOPIC_RESOURCE,
                resource_name: CONFIGS_TOPIC.into(),
                configs: vec![AlterableConfig {
                    name: "retention.ms".into(),
                    value: Some(altered_retention(api, v)),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            validate_only: false,
            ..Default::default()
        }
        .into(),
        ApiKey::IncrementalAlterConfigs => IncrementalAlterConfigsRequest {
            resources: vec![IncrementalAlterConfigsResource {
                resource_type: TOPIC_RESOURCE,
                resource_name: CONFIGS_TOPIC.into(),
                configs: vec![IncrementalAlterableConfig {
                    name: "retention.ms".into(),
                    config_operation: 0, // SET
                    value: Some(altered_retention(api, v)),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            validate_only: false,
            ..Default::default()
        }
        .into(),
        ApiKey::FindCoordinator => FindCoordinatorRequest {
            key: OFFSETS_GROUP.into(),
            key_type: 0,
            coordinator_keys: vec![OFFSETS_GROUP.into()],
            ..Default::default()
        }
        .into(),
        // A new member in a group of its own; from v4 Kafka answers MEMBER_ID_REQUIRED and `check` rejoins.
        ApiKey::JoinGroup => join_request(&join_group(v), ""),
        ApiKey::SyncGroup => {
            let m = ctx.member(v);
            SyncGroupRequest {
                group_id: m.group,
                generation_id: m.generation,
                member_id: m.id.clone(),
                group_instance_id: None,
                protocol_type: Some("consumer".into()),
                protocol_name: Some("range".into()),
                // The member leads its group of one.
                assignments: vec![SyncGroupRequestAssignment {
                    member_id: m.id,
                    assignment: assignment(),
                    ..Default::default()
                }],
                ..Default::default()
            }
            .into()
        }
        ApiKey::Heartbeat => {
            let m = ctx.member(v);
            HeartbeatRequest {
                group_id: m.group,
                generation_id: m.generation,
                member_id: m.id,
                group_instance_id: None,
                ..Default::default()
            }
            .into()
        }
        ApiKey::OffsetCommit => {
            let (offset, metadata) = committed(v);
            OffsetCommitRequest {
                group_id: OFFSETS_GROUP.into(),
                generation_id_or_member_epoch: -1,
                member_id: String::new(),
                group_instance_id: None,
                retention_time_ms: -1,
                topics: vec![OffsetCommitRequestTopic {
                    name: TOPIC.into(),
                    partitions: vec![OffsetCommitRequestPartition {
                        partition_index: 0,
                        committed_offset: offset,
                        committed_leader_epoch: ctx.epoch(),
                        commit_timestamp: -1,
                        committed_metadata: Some(metadata),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }
            .into()
        }
        ApiKey::OffsetFetch => offset_fetch_request(v, &[0, 1]),
        ApiKey::DescribeGroups => describe_groups_request(&join_group(v)),
        ApiKey::ListGroups => {
            let states: &[&str] = if v >= 4 { &["Stable"] } else { &[] };
            let types: &[&str] = if v >= 5 { &["classic"] } else { &[] };
            list_groups_request(states, types)
        }
        ApiKey::LeaveGroup => {
            let m = ctx.member(v);
            LeaveGroupRequest {
                group_id: m.group,
                member_id: m.id.clone(),
                members: vec![MemberIdentity {
                    member_id: m.id,
                    group_instance_id: None,
                    reason: Some("versions walk done".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }
            .into()
        }
        ApiKey::OffsetDelete => OffsetDeleteRequest {
            group_id: OFFSETS_GROUP.into(),
            topics: vec![OffsetDeleteRequestTopic {
                name: TOPIC.into(),
                partitions: vec![OffsetDeleteRequestPartition {
                    partition_index: 0,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
        .into(),
        ApiKey::DeleteGroups => DeleteGroupsRequest {
            groups_names: vec![join_group(v)],
            ..Default::default()
        }
        .into(),
        ApiKey::ConsumerGroupHeartbeat => protocol::ConsumerGroupHeartbeatRequest {
            group_id: kip848_group(v),
            member_id: if v >= 1 { kip848_member(v) } else { String::new() },
            member_epoch: 0,
            rebalance_timeout_ms: 300_000,
            subscribed_topic_names: Some(vec![TOPIC.into()]),
            topic_partitions: Some(Vec::new()),
            ..Default::default()
        }
        .into(),
        ApiKey::ConsumerGroupDescribe => protocol::ConsumerGroupDescribeRequest {
            group_ids: ctx.kip848.values().map(|(g, _, _)| g.clone()).take(1).collect(),
            include_authorized_operations: true,
            ..Default::default()
        }
        .into(),
        ApiKey::DeleteRecords => DeleteRecordsRequest {
            topics: vec![DeleteRecordsTopic {
                name: TOPIC.into(),
                partitions: vec![DeleteRecordsPartition {
                    partition_index: 0,
                    offset: ctx.log_start + 1,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            timeout_ms: 10_000,
            ..Default::default()
        }
        .into(),
        ApiKey::SaslHandshake => protocol::SaslHandshakeRequest {
            mechanism: "SCRAM-SHA-256".into(),
            ..Default::default()
        }
        .into(),
        ApiKey::SaslAuthenticate => protocol::SaslAuthenticateRequest {
            auth_bytes: bytes::Bytes::from_static(b"n,,n=walk,r=kzerowalknonce"),
            ..Default::default()
        }
        .into(),
        ApiKey::DescribeUserScramCredentials => protocol::DescribeUserScramCredentialsRequest {
            users: Some(vec![protocol::ScramUserName {
                name: "walk".into(),
                ..Default::default()
            }]),
            ..Default::default()
        }
        .into(),
        ApiKey::AlterUserScramCredentials => protocol::AlterUserScramCredentialsRequest {
            upsertions: vec![protocol::ScramCredentialUpsertion {
                name: "walk".into(),
                mechanism: 1,
                iterations: 4096,
                salt: bytes::Bytes::from_static(b"walk-salt"),
                salted_password: bytes::Bytes::from_static(&[7; 32]),
                ..Default::default()
            }],
            ..Default::default()
        }
        .into(),
        ApiKey::CreateAcls => protocol::CreateAclsRequest {
            creations: vec![protocol::AclCreation {
                resource_type: 2,
                resource_name: TOPIC.into(),
                resource_pattern_type: 3,
                principal: "User:walk".into(),
                host: "*".into(),
                operation: 3,
                permission_type: 3,
                ..Default::default()
            }],
            ..Default::default()
        }
        .into(),
        ApiKey::DescribeAcls => protocol::DescribeAclsRequest {
            resource_type_filter: 2,
            resource_name_filter: Some(TOPIC.into()),
            pattern_type_filter: 3,
            principal_filter: None,
            host_filter: None,
            operation: 1,
            permission_type: 1,
            ..Default::default()
        }
        .into(),
        ApiKey::DeleteAcls => protocol::DeleteAclsRequest {
            filters: vec![protocol::DeleteAclsFilter {
                resource_type_filter: 2,
                resource_name_filter: Some(TOPIC.into()),
                pattern_type_filter: 3,
                principal_filter: Some("User:walk".into()),
                host_filter: None,
                operation: 1,
                permission_type: 1,
                ..Default::default()
            }],
            ..Default::default()
        }
        .into(),
        other => panic!("{}", untested(other)),
    }
}

/// Checks that `body`, the answer to `sample(api, version, ctx)`, means what Kafka's answer means, and
/// records in `ctx` what the request did.
fn check(api: ApiKey, version: i16, body: &ResponseBody, ctx: &mut Ctx) -> Result<(), String> {
    let v = version;
    match api {
        ApiKey::ApiVersions => {
            let r = answer!(body, ApiVersions);
            no_error("error", r.error_code)?;
            eq(
                "advertised ranges (as at v3)",
                advertised_ranges(r),
                ctx.advertised.clone(),
            )?;
            if v >= 1 {
                eq("throttle time", r.throttle_time_ms, 0)?;
            }
        }
        ApiKey::Metadata => {
            let r = answer!(body, Metadata);
            if v >= 13 {
                no_error("top-level error", r.error_code)?;
            }
            let brokers: Vec<(i32, &str, i32)> =
                r.brokers.iter().map(|b| (b.node_id, b.host.as_str(), b.port)).collect();
            eq("brokers", brokers, vec![(ctx.node_id, ctx.host.as_str(), ctx.port)])?;
            if v >= 1 {
                eq("controller id", r.controller_id, ctx.node_id)?;
            }
            if v >= 2 {
                match &ctx.cluster_id {
                    Some(id) => eq(
                        "cluster id (the same at every version)",
                        r.cluster_id.as_ref(),
                        Some(id),
                    )?,
                    None => return Err(format!("cluster id: expected one, got {:?}", r.cluster_id)),
                }
            }
            let t = only("topics", &r.topics)?;
            no_error(&format!("topic {TOPIC}"), t.error_code)?;
            eq("topic name", t.name.as_deref(), Some(TOPIC))?;
            if v >= 10 {
                ensure(!t.topic_id.is_zero(), "topic id", "a non-zero id", t.topic_id)?;
                eq("topic id (the same at every version)", t.topic_id, ctx.topic_id(TOPIC))?;
            }
            if v >= 1 {
                eq("is_internal", t.is_internal, false)?;
            }
            let indexes: Vec<i32> = t.partitions.iter().map(|p| p.partition_index).collect();
            eq("partitions", indexes, vec![0, 1])?;
            for p in &t.partitions {
                let what = |field: &str| format!("partition {}: {field}", p.partition_index);
                no_error(&what("error"), p.error_code)?;
                eq(&what("leader"), p.leader_id, ctx.node_id)?;
                eq(&what("replicas"), &p.replica_nodes, &vec![ctx.node_id])?;
                eq(&what("in-sync replicas"), &p.isr_nodes, &vec![ctx.node_id])?;
                if v >= 5 {
                    eq(&what("offline replicas"), &p.offline_replicas, &Vec::new())?;
                }
                if v >= 7 {
                    ensure(p.leader_epoch >= 0, &what("leader epoch"), "0 or more", p.leader_epoch)?;
                    eq(
                        &what("leader epoch (the same at every version)"),
                        p.leader_epoch,
                        ctx.epoch(),
                    )?;
                }
            }
        }
        ApiKey::DescribeCluster => {
            let r = answer!(body, DescribeCluster);
            no_error("error", r.error_code)?;
            eq("cluster id (Metadata's)", Some(&r.cluster_id), ctx.cluster_id.as_ref())?;
            eq("controller id", r.controller_id, ctx.node_id)?;
            let brokers: Vec<(i32, &str, i32, Option<&str>, bool)> = r
                .brokers
                .iter()
                .map(|b| (b.broker_id, b.host.as_str(), b.port, b.rack.as_deref(), b.is_fenced))
                .collect();
            eq(
                "brokers",
                brokers,
                vec![(ctx.node_id, ctx.host.as_str(), ctx.port, None, false)],
            )?;
            if v >= 1 {
                eq("endpoint type", r.endpoint_type, 1)?;
            }
            eq(
                "cluster authorized operations (not asked for)",
                r.cluster_authorized_operations,
                i32::MIN,
            )?;
        }
        ApiKey::DescribeQuorum => {
            // A one-voter quorum: this node leads it and is its only voter, caught up.
            let r = answer!(body, DescribeQuorum);
            no_error("error", r.error_code)?;
            let t = only("topics", &r.topics)?;
            eq("topic", t.topic_name.as_str(), "__cluster_metadata")?;
            let p = only("partitions", &t.partitions)?;
            no_error("partition error", p.error_code)?;
            eq("leader", p.leader_id, ctx.node_id)?;
            let voter = only("voters", &p.current_voters)?;
            eq("voter", voter.replica_id, ctx.node_id)?;
            // Its log end may be ahead of what is committed and applied, never behind.
            eq("voter caught up", voter.log_end_offset >= p.high_watermark, true)?;
            eq("observers", p.observers.len(), 0)?;
            if v >= 1 {
                eq("leader caught up now", voter.last_caught_up_timestamp > 0, true)?;
            }
            if v >= 2 {
                let node = only("nodes", &r.nodes)?;
                eq("node", node.node_id, ctx.node_id)?;
                eq(
                    "listener",
                    only("listeners", &node.listeners)?.name.as_str(),
                    "CONTROLLER",
                )?;
            }
        }
        ApiKey::DescribeConfigs => {
            let r = answer!(body, DescribeConfigs);
            let res = only("results", &r.results)?;
            no_error("error", res.error_code)?;
            eq(
                "resource",
                (res.resource_type, res.resource_name.as_str()),
                (TOPIC_RESOURCE, TOPIC),
            )?;
            check_topic_config(v, &res.configs, "retention.ms", TOPIC_RETENTION_MS)?;
            let cleanup = res
                .configs
                .iter()
                .find(|c| c.name == "cleanup.policy")
                .ok_or("configs: no cleanup.policy")?;
            eq("cleanup.policy", cleanup.value.as_deref(), Some("delete"))?;
        }
        ApiKey::InitProducerId => {
            let r = answer!(body, InitProducerId);
            no_error("error", r.error_code)?;
            ensure(r.producer_id >= 0, "producer id", "0 or more", r.producer_id)?;
            ensure(
                !ctx.producer_ids.contains(&r.producer_id),
                "producer id",
                &format!("a new one (given so far: {:?})", ctx.producer_ids),
                r.producer_id,
            )?;
            ctx.producer_ids.push(r.producer_id);
            ctx.producer = Some((r.producer_id, r.producer_epoch));
            ctx.next_sequence = 0;
            eq("producer epoch (a new producer's)", r.producer_epoch, 0)?;
        }
        ApiKey::Produce => {
            let r = answer!(body, Produce);
            let t = only("topics", &r.responses)?;
            if v >= 13 {
                eq("topic id", t.topic_id, ctx.topic_id(TOPIC))?;
            } else {
                eq("topic", t.name.as_str(), TOPIC)?;
            }
            let p = only("partitions", &t.partition_responses)?;
            eq("partition", p.index, 0)?;
            no_error("error", p.error_code)?;
            // Appended: remember it first, so that one wrong field does not fail every later check.
            let log_end = ctx.log_end();
            let values = produced_values(v);
            if ctx.producer.is_some() {
                ctx.next_sequence += values.len() as i32;
            }
            ctx.records.extend(values);
            eq("base offset (the log end before this append)", p.base_offset, log_end)?;
            if v >= 2 {
                eq("log append time (CreateTime topic)", p.log_append_time_ms, -1)?;
            }
            if v >= 5 {
                eq("log start offset", p.log_start_offset, ctx.log_start)?;
            }
            if v >= 8 {
                eq("record errors", p.record_errors.len(), 0)?;
                eq("error message", p.error_message.as_deref(), None)?;
            }
        }
        ApiKey::Fetch => {
            let r = answer!(body, Fetch);
            if v >= 7 {
                no_error("top-level error", r.error_code)?;
                eq("session id (a sessionless fetch)", r.session_id, 0)?;
            }
            let t = only("topics", &r.responses)?;
            if v >= 13 {
                eq("topic id", t.topic_id, ctx.topic_id(TOPIC))?;
            } else {
                eq("topic", t.topic.as_str(), TOPIC)?;
            }
            let p = only("partitions", &t.partitions)?;
            eq("partition", p.partition_index, 0)?;
            no_error("error", p.error_code)?;
            eq("high watermark", p.high_watermark, ctx.log_end())?;
            if v >= 4 {
                eq(
                    "last stable offset (no transactions)",
                    p.last_stable_offset,
                    ctx.log_end(),
                )?;
                eq(
                    "aborted transactions (READ_UNCOMMITTED)",
                    p.aborted_transactions.as_ref(),
                    None,
                )?;
            }
            if v >= 5 {
                eq("log start offset", p.log_start_offset, ctx.log_start)?;
            }
            if v >= 11 {
                eq("preferred read replica", p.preferred_read_replica, -1)?;
            }
            let bytes = match &p.records {
                Some(Records::Inline(b)) if !b.is_empty() => b.clone(),
                other => return Err(format!("records: expected the produced batches, got {other:?}")),
            };
            let mut values = Vec::new();
            let mut next_offset = ctx.log_start;
            for batch in Batches::new(&bytes) {
                let batch = batch.map_err(|e| format!("records: a batch does not parse: {e}"))?;
                batch.verify_crc().map_err(|e| format!("records: {e}"))?;
                eq("a batch's base offset", batch.header().base_offset(), next_offset)?;
                next_offset = batch.header().last_offset() + 1;
                for record in batch.records().map_err(|e| format!("records: {e}"))? {
                    let record = record.map_err(|e| format!("records: {e}"))?;
                    values.push(record.value.unwrap_or_default());
                }
            }
            eq("record values (every produced record, in order)", &values, &ctx.records)?;
        }
        ApiKey::ListOffsets => {
            let earliest = list_offsets_partition(body)?;
            eq("earliest: error", code_name(earliest.error_code), code_name(0))?;
            eq("earliest: offset (the log start)", earliest.offset, ctx.log_start)?;
            eq("earliest: timestamp", earliest.timestamp, -1)?;
            if v >= 4 {
                eq("earliest: leader epoch", earliest.leader_epoch, ctx.epoch())?;
            }
            let (_, latest) = ctx.follow_up_at(v, list_offsets_request(-1, ctx.known_epoch()))?;
            let latest = list_offsets_partition(&latest)?;
            eq("latest: error", code_name(latest.error_code), code_name(0))?;
            eq("latest: offset (the high watermark)", latest.offset, ctx.log_end())?;
            eq("latest: timestamp", latest.timestamp, -1)?;
            if v >= 4 {
                eq("latest: leader epoch", latest.leader_epoch, ctx.epoch())?;
            }
        }
        ApiKey::OffsetForLeaderEpoch => {
            let r = answer!(body, OffsetForLeaderEpoch);
            let t = only("topics", &r.topics)?;
            eq("topic", t.topic.as_str(), TOPIC)?;
            let p = only("partitions", &t.partitions)?;
            eq("partition", p.partition, 0)?;
            no_error("error", p.error_code)?;
            eq("leader epoch (the current one)", p.leader_epoch, ctx.epoch())?;
            eq("end offset (the log end)", p.end_offset, ctx.log_end())?;
        }
        ApiKey::DescribeLogDirs => {
            let r = answer!(body, DescribeLogDirs);
            if v >= 3 {
                no_error("top-level error", r.error_code)?;
            }
            let holding: Vec<_> = r
                .results
                .iter()
                .filter(|d| d.topics.iter().any(|t| t.name == TOPIC))
                .collect();
            let dir = only("log dirs holding the topic", &holding)?;
            no_error("log dir error", dir.error_code)?;
            ensure(!dir.log_dir.is_empty(), "log dir", "a path", &dir.log_dir)?;
            let t = only("topics", &dir.topics)?;
            let mut partitions: Vec<_> = t.partitions.iter().collect();
            partitions.sort_by_key(|p| p.partition_index);
            let indexes: Vec<i32> = partitions.iter().map(|p| p.partition_index).collect();
            eq("partitions", indexes, vec![0, 1])?;
            ensure(
                partitions[0].partition_size > 0,
                "partition 0 size",
                "more than 0 bytes",
                partitions[0].partition_size,
            )?;
            for p in partitions {
                eq("offset lag", p.offset_lag, 0)?;
                eq("is future", p.is_future_key, false)?;
            }
            if v >= 4 {
                ensure(dir.total_bytes > 0, "total bytes", "more than 0", dir.total_bytes)?;
                ensure(
                    (0..=dir.total_bytes).contains(&dir.usable_bytes),
                    "usable bytes",
                    &format!("0 to {}", dir.total_bytes),
                    dir.usable_bytes,
                )?;
            }
        }
        ApiKey::DescribeProducers => {
            let r = answer!(body, DescribeProducers);
            let t = only("topics", &r.topics)?;
            eq("topic", t.name.as_str(), TOPIC)?;
            let p = only("partitions", &t.partitions)?;
            eq("partition", p.partition_index, 0)?;
            no_error("error", p.error_code)?;
            let got: Vec<(i64, i32, i32, i64)> = p
                .active_producers
                .iter()
                .map(|s| {
                    (
                        s.producer_id,
                        s.producer_epoch,
                        s.last_sequence,
                        s.current_txn_start_offset,
                    )
                })
                .collect();
            // (id, epoch, last sequence, open transaction start): the producer of the idempotent appends.
            let want = match ctx.producer {
                Some((id, epoch)) if ctx.next_sequence > 0 => vec![(id, i32::from(epoch), ctx.next_sequence - 1, -1)],
                _ => Vec::new(),
            };
            eq(
                "active producers (id, epoch, last sequence, transaction start)",
                got,
                want,
            )?;
        }
        ApiKey::CreateTopics => {
            let r = answer!(body, CreateTopics);
            let t = only("topics", &r.topics)?;
            let name = created_topic(v);
            eq("topic", &t.name, &name)?;
            no_error("error", t.error_code)?;
            eq("error message", t.error_message.as_deref(), None)?;
            if v >= 5 {
                eq("partitions", t.num_partitions, 3)?;
                eq("replication factor", t.replication_factor, 1)?;
                let retention = t
                    .configs
                    .iter()
                    .flatten()
                    .find(|c| c.name == "retention.ms")
                    .map(|c| c.value.as_deref());
                eq("configs: retention.ms", retention, Some(Some("86400000")))?;
            }
            if v >= 7 {
                ensure(!t.topic_id.is_zero(), "topic id", "a non-zero id", t.topic_id)?;
            }
            let m = ctx.metadata_of(&name)?;
            no_error("Metadata: error", m.error_code)?;
            eq("Metadata: partitions", m.partitions.len(), 3)?;
            if v >= 7 && !m.topic_id.is_zero() {
                eq("Metadata: topic id (CreateTopics')", m.topic_id, t.topic_id)?;
            }
        }
        ApiKey::CreatePartitions => {
            let r = answer!(body, CreatePartitions);
            let t = only("results", &r.results)?;
            let name = grown_topic(v);
            eq("topic", &t.name, &name)?;
            no_error("error", t.error_code)?;
            let m = ctx.metadata_of(&name)?;
            no_error("Metadata: error", m.error_code)?;
            let partitions: Vec<(i32, i32)> = m.partitions.iter().map(|p| (p.partition_index, p.leader_id)).collect();
            eq(
                "Metadata: partitions (index, leader)",
                partitions,
                vec![(0, ctx.node_id), (1, ctx.node_id)],
            )?;
        }
        ApiKey::DeleteTopics => {
            let r = answer!(body, DeleteTopics);
            let t = only("topics", &r.responses)?;
            let name = deleted_topic(v);
            eq("topic", t.name.as_deref(), Some(name.as_str()))?;
            if v >= 6 {
                eq("topic id", t.topic_id, ctx.topic_id(&name))?;
            }
            no_error("error", t.error_code)?;
            if v >= 5 {
                eq("error message", t.error_message.as_deref(), None)?;
            }
            let m = ctx.metadata_of(&name)?;
            error_is("Metadata: error", m.error_code, ErrorCode::UnknownTopicOrPartition)?;
        }
        ApiKey::AlterConfigs | ApiKey::IncrementalAlterConfigs => {
            let responses = match body {
                ResponseBody::AlterConfigs(r) => &r.responses,
                ResponseBody::IncrementalAlterConfigs(r) => &r.responses,
                other => return Err(format!("a {} answer", other.api_key().name())),
            };
            let res = only("resources", responses)?;
            no_error("error", res.error_code)?;
            eq(
                "resource",
                (res.resource_type, res.resource_name.as_str()),
                (TOPIC_RESOURCE, CONFIGS_TOPIC),
            )?;
            let (dv, r) = ctx.follow_up(ApiKey::DescribeConfigs, |_| {
                describe_configs_request(CONFIGS_TOPIC, Some(vec!["retention.ms".into()]))
            })?;
            let r = answer!(r, DescribeConfigs);
            let res = only("DescribeConfigs: results", &r.results)?;
            no_error("DescribeConfigs: error", res.error_code)?;
            check_topic_config(dv, &res.configs, "retention.ms", &altered_retention(api, v))
                .map_err(|e| format!("DescribeConfigs v{dv}: {e}"))?;
        }
        ApiKey::FindCoordinator => {
            let r = answer!(body, FindCoordinator);
            let found = if v >= 4 {
                let c = only("coordinators", &r.coordinators)?;
                eq("key", c.key.as_str(), OFFSETS_GROUP)?;
                (c.error_code, c.node_id, c.host.as_str(), c.port)
            } else {
                (r.error_code, r.node_id, r.host.as_str(), r.port)
            };
            no_error("error", found.0)?;
            eq(
                "coordinator",
                (found.1, found.2, found.3),
                (ctx.node_id, ctx.host.as_str(), ctx.port),
            )?;
        }
        ApiKey::JoinGroup => {
            let mut r = answer!(body, JoinGroup).clone();
            let group = join_group(v);
            if v >= 4 {
                // KIP-394: a new member gets its id with MEMBER_ID_REQUIRED and joins again with it.
                error_is("first join: error", r.error_code, ErrorCode::MemberIdRequired)?;
                ensure(
                    !r.member_id.is_empty(),
                    "first join: member id",
                    "an id to rejoin with",
                    &r.member_id,
                )?;
                let (_, again) = ctx.follow_up_at(v, join_request(&group, &r.member_id))?;
                let again = answer!(again, JoinGroup);
                eq("rejoin: member id (the one given)", &again.member_id, &r.member_id)?;
                r = again;
            }
            no_error("error", r.error_code)?;
            ensure(!r.member_id.is_empty(), "member id", "an id", &r.member_id)?;
            ctx.members.insert(
                v,
                Member {
                    group,
                    id: r.member_id.clone(),
                    generation: r.generation_id,
                    state: MemberState::AwaitingSync,
                },
            );
            eq("generation (a new group's first)", r.generation_id, 1)?;
            eq("leader (the only member)", &r.leader, &r.member_id)?;
            eq("protocol name", r.protocol_name.as_deref(), Some("range"))?;
            if v >= 7 {
                eq("protocol type", r.protocol_type.as_deref(), Some("consumer"))?;
            }
            if v >= 9 {
                eq("skip assignment", r.skip_assignment, false)?;
            }
            let members: Vec<(&str, Option<&str>, &Bytes)> = r
                .members
                .iter()
                .map(|m| (m.member_id.as_str(), m.group_instance_id.as_deref(), &m.metadata))
                .collect();
            eq(
                "members (given to the leader)",
                members,
                vec![(r.member_id.as_str(), None, &subscription())],
            )?;
        }
        ApiKey::SyncGroup => {
            let r = answer!(body, SyncGroup);
            no_error("error", r.error_code)?;
            if let Some(m) = ctx.members.get_mut(&v) {
                m.state = MemberState::Stable;
            }
            eq("assignment (the leader's)", &r.assignment, &assignment())?;
            if v >= 5 {
                eq("protocol type", r.protocol_type.as_deref(), Some("consumer"))?;
                eq("protocol name", r.protocol_name.as_deref(), Some("range"))?;
            }
        }
        ApiKey::Heartbeat => {
            let r = answer!(body, Heartbeat);
            no_error("error (a stable member)", r.error_code)?;
        }
        ApiKey::OffsetCommit => {
            let r = answer!(body, OffsetCommit);
            let t = only("topics", &r.topics)?;
            eq("topic", t.name.as_str(), TOPIC)?;
            let p = only("partitions", &t.partitions)?;
            eq("partition", p.partition_index, 0)?;
            no_error("error", p.error_code)?;
            let (offset, metadata) = committed(v);
            let leader_epoch = if v >= 6 { ctx.epoch() } else { -1 };
            ctx.offsets_group = true;
            ctx.commit = Some(Commit {
                offset,
                metadata: metadata.clone(),
                leader_epoch,
            });
            let (got, got_epoch, got_metadata, code) = ctx.fetch_commit()?;
            no_error("OffsetFetch: error", code)?;
            eq(
                "OffsetFetch: (offset, metadata)",
                (got, got_metadata),
                (offset, Some(metadata)),
            )?;
            if ctx.max(ApiKey::OffsetFetch)? >= 5 {
                // Below v6 a commit has no leader epoch, and Kafka answers -1 for it.
                eq("OffsetFetch: leader epoch", got_epoch, leader_epoch)?;
            }
        }
        ApiKey::OffsetFetch => {
            let r = answer!(body, OffsetFetch);
            let topics = offset_fetch_topics(v, r)?;
            let t = only("topics", &topics)?;
            eq("topic", t.name.as_str(), TOPIC)?;
            let mut partitions: Vec<_> = t.partitions.iter().collect();
            partitions.sort_by_key(|p| p.partition_index);
            let indexes: Vec<i32> = partitions.iter().map(|p| p.partition_index).collect();
            eq("partitions", indexes, vec![0, 1])?;
            no_error("partition 0: error", partitions[0].error_code)?;
            no_error("partition 1: error", partitions[1].error_code)?;
            let want = ctx.commit.clone().map_or((-1, None), |c| (c.offset, Some(c.metadata)));
            eq(
                "partition 0: (offset, metadata), as last committed",
                (partitions[0].committed_offset, partitions[0].metadata.clone()),
                want,
            )?;
            if v >= 5 {
                let want = ctx.commit.as_ref().map_or(-1, |c| c.leader_epoch);
                eq(
                    "partition 0: leader epoch, as last committed",
                    partitions[0].committed_leader_epoch,
                    want,
                )?;
            }
            eq(
                "partition 1: offset (never committed)",
                partitions[1].committed_offset,
                -1,
            )?;
        }
        ApiKey::DescribeGroups => {
            let r = answer!(body, DescribeGroups);
            let g = only("groups", &r.groups)?;
            let m = ctx.member(v);
            eq("group id", &g.group_id, &m.group)?;
            no_error("error", g.error_code)?;
            if v >= 6 {
                eq("error message", g.error_message.as_deref(), None)?;
            }
            eq("state", g.group_state.as_str(), m.group_state())?;
            eq("protocol type", g.protocol_type.as_str(), "consumer")?;
            let stable = m.state == MemberState::Stable;
            // Kafka names the protocol, and shows each member's metadata and assignment, only when Stable.
            eq("protocol", g.protocol_data.as_str(), if stable { "range" } else { "" })?;
            let d = only("members", &g.members)?;
            eq("member id", &d.member_id, &m.id)?;
            eq("client id", d.client_id.as_str(), CLIENT_ID)?;
            ensure(
                d.client_host.contains(&ctx.host),
                "client host",
                &format!("/{}", ctx.host),
                &d.client_host,
            )?;
            if v >= 4 {
                eq("group instance id", d.group_instance_id.as_deref(), None)?;
            }
            let (metadata, assigned) = if stable {
                (subscription(), assignment())
            } else {
                (Bytes::new(), Bytes::new())
            };
            eq("member metadata", &d.member_metadata, &metadata)?;
            eq("member assignment", &d.member_assignment, &assigned)?;
            if v >= 3 {
                // No authorizer: every group operation is allowed, DESCRIBE (8) among them.
                ensure(
                    g.authorized_operations != i32::MIN && g.authorized_operations & (1 << 8) != 0,
                    "authorized operations",
                    "a bit field with DESCRIBE (bit 8)",
                    g.authorized_operations,
                )?;
            }
        }
        ApiKey::ListGroups => {
            let r = answer!(body, ListGroups);
            no_error("error", r.error_code)?;
            let mut want = ctx.expected_groups();
            if v >= 4 {
                want.retain(|_, (_, state)| *state == "Stable");
            }
            let got: BTreeMap<String, (&str, &str)> = r
                .groups
                .iter()
                .filter(|g| g.group_id.starts_with("walk-"))
                .map(|g| {
                    let state = if v >= 4 { g.group_state.as_str() } else { "?" };
                    (g.group_id.clone(), (g.protocol_type.as_str(), state))
                })
                .collect();
            if v < 4 {
                want.values_mut().for_each(|(_, state)| *state = "?");
            }
            eq("the walk's groups (protocol type, state)", got, want)?;
            if v >= 5 {
                for g in &r.groups {
                    eq(&format!("group {}: type", g.group_id), g.group_type.as_str(), "classic")?;
                }
            }
        }
        ApiKey::LeaveGroup => {
            let r = answer!(body, LeaveGroup);
            no_error("error", r.error_code)?;
            let m = ctx.member(v);
            if let Some(m) = ctx.member_of(&m.group) {
                m.state = MemberState::Left;
            }
            if v >= 3 {
                let left: Vec<(&str, Option<&str>, String)> = r
                    .members
                    .iter()
                    .map(|l| {
                        (
                            l.member_id.as_str(),
                            l.group_instance_id.as_deref(),
                            code_name(l.error_code),
                        )
                    })
                    .collect();
                eq("members", left, vec![(m.id.as_str(), None, code_name(0))])?;
            }
            let (dv, d) = ctx.follow_up(ApiKey::DescribeGroups, |_| describe_groups_request(&m.group))?;
            let d = answer!(d, DescribeGroups);
            let g = only("DescribeGroups: groups", &d.groups)?;
            eq(
                &format!("DescribeGroups v{dv}: (error, state, members) after the last member left"),
                (code_name(g.error_code), g.group_state.as_str(), g.members.len()),
                (code_name(0), "Empty", 0),
            )?;
        }
        ApiKey::OffsetDelete => {
            let r = answer!(body, OffsetDelete);
            no_error("error", r.error_code)?;
            let t = only("topics", &r.topics)?;
            eq("topic", t.name.as_str(), TOPIC)?;
            let p = only("partitions", &t.partitions)?;
            eq("partition", p.partition_index, 0)?;
            no_error("partition error", p.error_code)?;
            ctx.commit = None;
            let (offset, _, _, code) = ctx.fetch_commit()?;
            no_error("OffsetFetch: error", code)?;
            eq("OffsetFetch: offset (deleted)", offset, -1)?;
        }
        ApiKey::DeleteGroups => {
            let r = answer!(body, DeleteGroups);
            let group = join_group(v);
            let g = only("results", &r.results)?;
            eq("group", &g.group_id, &group)?;
            no_error("error (an empty group)", g.error_code)?;
            if let Some(m) = ctx.member_of(&group) {
                m.state = MemberState::Deleted;
            }
            let (lv, l) = ctx.follow_up(ApiKey::ListGroups, |_| list_groups_request(&[], &[]))?;
            let l = answer!(l, ListGroups);
            no_error("ListGroups: error", l.error_code)?;
            ensure(
                l.groups.iter().all(|g| g.group_id != group),
                &format!("ListGroups v{lv}"),
                &format!("no {group} (deleted)"),
                l.groups.iter().map(|g| &g.group_id).collect::<Vec<_>>(),
            )?;
            // Kafka describes a deleted group as Dead, and from v6 answers GROUP_ID_NOT_FOUND (KIP-1043).
            let (dv, d) = ctx.follow_up(ApiKey::DescribeGroups, |_| describe_groups_request(&group))?;
            let d = answer!(d, DescribeGroups);
            let g = only("DescribeGroups: groups", &d.groups)?;
            let want = if dv >= 6 {
                ErrorCode::GroupIdNotFound
            } else {
                ErrorCode::None
            };
            eq(
                &format!("DescribeGroups v{dv}: (error, state, members) of the deleted group"),
                (code_name(g.error_code), g.group_state.as_str(), g.members.len()),
                (code_name(want.code()), "Dead", 0),
            )?;
        }
        ApiKey::ConsumerGroupHeartbeat => {
            let r = answer!(body, ConsumerGroupHeartbeat);
            no_error("error", r.error_code)?;
            let member = r.member_id.clone().unwrap_or_default();
            if v >= 1 {
                eq(
                    "member id (the client's own)",
                    member.as_str(),
                    kip848_member(v).as_str(),
                )?;
            } else {
                ensure(member.len() >= 16, "member id", "one the broker made", &member)?;
            }
            ensure(
                r.member_epoch >= 1,
                "member epoch",
                "at least 1 after a join",
                r.member_epoch,
            )?;
            ensure(
                r.heartbeat_interval_ms > 0,
                "heartbeat interval",
                "positive",
                r.heartbeat_interval_ms,
            )?;
            // The only member of its group gets both partitions of the topic, by id.
            let topic_id = ctx.topic_ids.get(TOPIC).copied();
            let got: Vec<(Uuid, Vec<i32>)> = r
                .assignment
                .as_ref()
                .map(|a| {
                    a.topic_partitions
                        .iter()
                        .map(|t| {
                            let mut p = t.partitions.clone();
                            p.sort_unstable();
                            (t.topic_id, p)
                        })
                        .collect()
                })
                .unwrap_or_default();
            if let Some(id) = topic_id {
                eq("assignment", got, vec![(id, vec![0, 1])])?;
            }
            ctx.kip848.insert(v, (kip848_group(v), member, r.member_epoch));
        }
        ApiKey::ConsumerGroupDescribe => {
            let r = answer!(body, ConsumerGroupDescribe);
            let g = only("groups", &r.groups)?;
            let Some((group, member, epoch)) = ctx.kip848.values().next().cloned() else {
                return Err("no KIP-848 member joined before ConsumerGroupDescribe".into());
            };
            no_error("error", g.error_code)?;
            eq("group", g.group_id.as_str(), group.as_str())?;
            eq("state", g.group_state.as_str(), "Stable")?;
            eq("group epoch", g.group_epoch, epoch)?;
            eq("assignment epoch", g.assignment_epoch, epoch)?;
            eq("assignor", g.assignor_name.as_str(), "uniform")?;
            let m = only("members", &g.members)?;
            eq("member", m.member_id.as_str(), member.as_str())?;
            eq("member epoch", m.member_epoch, epoch)?;
            eq(
                "subscribed topics",
                m.subscribed_topic_names.clone(),
                vec![TOPIC.to_string()],
            )?;
            let assigned: Vec<(String, Vec<i32>)> = m
                .assignment
                .topic_partitions
                .iter()
                .map(|t| {
                    let mut p = t.partitions.clone();
                    p.sort_unstable();
                    (t.topic_name.clone(), p)
                })
                .collect();
            eq("assignment", assigned, vec![(TOPIC.to_string(), vec![0, 1])])?;
            ensure(
                g.authorized_operations != i32::MIN && g.authorized_operations & (1 << 3) != 0,
                "authorized operations",
                "READ among them",
                g.authorized_operations,
            )?;
        }
        ApiKey::DeleteRecords => {
            let r = answer!(body, DeleteRecords);
            let t = only("topics", &r.topics)?;
            eq("topic", t.name.as_str(), TOPIC)?;
            let p = only("partitions", &t.partitions)?;
            eq("partition", p.partition_index, 0)?;
            no_error("error", p.error_code)?;
            let low = ctx.log_start + 1;
            ctx.log_start = low;
            if !ctx.records.is_empty() {
                ctx.records.remove(0);
            }
            eq("low watermark (the offset asked for)", p.low_watermark, low)?;
            let known_epoch = ctx.known_epoch();
            let (lv, l) = ctx.follow_up(ApiKey::ListOffsets, |_| list_offsets_request(-2, known_epoch))?;
            let earliest = list_offsets_partition(&l)?;
            eq(
                &format!("ListOffsets v{lv}: earliest"),
                (code_name(earliest.error_code), earliest.offset),
                (code_name(0), low),
            )?;
        }
        ApiKey::SaslHandshake => {
            // Kafka's request handler answers it on a listener without SASL.
            let r = answer!(body, SaslHandshake);
            eq("error", code_name(r.error_code), code_name(34))?;
        }
        ApiKey::SaslAuthenticate => {
            let r = answer!(body, SaslAuthenticate);
            eq("error", code_name(r.error_code), code_name(34))?;
        }
        ApiKey::AlterUserScramCredentials => {
            // No authorizer: anyone may alter credentials (as in Kafka).
            let r = answer!(body, AlterUserScramCredentials);
            let u = only("results", &r.results)?;
            eq("user", u.user.as_str(), "walk")?;
            no_error("error", u.error_code)?;
        }
        ApiKey::DescribeUserScramCredentials => {
            let r = answer!(body, DescribeUserScramCredentials);
            no_error("error", r.error_code)?;
            let u = only("results", &r.results)?;
            eq("user", u.user.as_str(), "walk")?;
            no_error("user error", u.error_code)?;
            let c = only("credentials", &u.credential_infos)?;
            eq("mechanism and iterations", (c.mechanism, c.iterations), (1, 4096))?;
        }
        ApiKey::CreateAcls => {
            // Without an authorizer the ACL APIs answer SECURITY_DISABLED.
            let r = answer!(body, CreateAcls);
            let a = only("results", &r.results)?;
            eq("error", code_name(a.error_code), code_name(54))?;
        }
        ApiKey::DescribeAcls => {
            let r = answer!(body, DescribeAcls);
            eq("error", code_name(r.error_code), code_name(54))?;
        }
        ApiKey::DeleteAcls => {
            let r = answer!(body, DeleteAcls);
            let f = only("filter results", &r.filter_results)?;
            eq("error", code_name(f.error_code), code_name(54))?;
        }
        other => return Err(untested(other)),
    }
    Ok(())
}

/// The one partition of a ListOffsets answer (partition 0 of [`TOPIC`]).
fn list_offsets_partition(body: &ResponseBody) -> Result<protocol::ListOffsetsPartitionResponse, String> {
    let r = answer!(body, ListOffsets);
    let t = only("topics", &r.topics)?;
    eq("topic", t.name.as_str(), TOPIC)?;
    let p = only("partitions", &t.partitions)?;
    eq("partition", p.partition_index, 0)?;
    Ok(p.clone())
}

/// Checks a topic's `key` in a DescribeConfigs answer of `version`: set on the topic to `value`.
fn check_topic_config(
    version: i16,
    configs: &[DescribeConfigsResourceResult],
    key: &str,
    value: &str,
) -> Result<(), String> {
    let c = configs.iter().find(|c| c.name == key).ok_or_else(|| {
        format!(
            "configs: no {key} in {:?}",
            configs.iter().map(|c| &c.name).collect::<Vec<_>>()
        )
    })?;
    eq(&format!("{key}: value"), c.value.as_deref(), Some(value))?;
    eq(&format!("{key}: read only"), c.read_only, false)?;
    if version >= 1 {
        eq(
            &format!("{key}: source (a topic override)"),
            c.config_source,
            DYNAMIC_TOPIC_CONFIG,
        )?;
        // Synonyms in precedence order: the topic's override first.
        let first = c
            .synonyms
            .first()
            .map(|s| (s.name.as_str(), s.value.as_deref(), s.source));
        eq(
            &format!("{key}: first synonym"),
            first,
            Some((key, Some(value), DYNAMIC_TOPIC_CONFIG)),
        )?;
    }
    if version >= 3 {
        eq(&format!("{key}: type (LONG)"), c.config_type, 5)?;
        eq(
            &format!("{key}: documentation (not asked for)"),
            c.documentation.as_deref(),
            None,
        )?;
    }
    Ok(())
}

/// A version Kafka advertises but rejects (Produce v0-2): on a connection of its own, the request must get
/// no answer and the connection must be closed.
fn check_rejected(api: ApiKey, version: i16, ctx: &Ctx, addr: SocketAddr) -> Result<(), String> {
    // The frame of the lowest implemented version, relabelled; a Produce below v3 also loses v3's
    // TransactionalId (a null: INT16 -1) to have the old layout.
    let lowest = api.info().implemented.0;
    let mut out = BytesMut::new();
    Request {
        header: RequestHeader {
            client_id: Some(CLIENT_ID.into()),
            ..RequestHeader::new(api, lowest, 1)
        },
        body: sample(api, lowest, ctx),
    }
    .encode(&mut out)
    .map_err(|e| format!("the request does not encode: {e}"))?;
    let mut frame = out.to_vec();
    frame[6..8].copy_from_slice(&version.to_be_bytes());
    if api == ApiKey::Produce && version < 3 && lowest == 3 {
        let at = 4 + 8 + 2 + CLIENT_ID.len();
        assert_eq!(frame[at..at + 2], [0xff, 0xff], "Produce v3's null TransactionalId");
        frame.drain(at..at + 2);
        let size = (frame.len() - 4) as i32;
        frame[..4].copy_from_slice(&size.to_be_bytes());
    }
    let mut s = connect(addr)?;
    s.write_all(&frame).map_err(|e| format!("cannot send: {e}"))?;
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => Ok(()),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => Ok(()),
        Ok(n) => Err(format!(
            "expected the connection to be closed without an answer (Kafka rejects this advertised version), \
             got {n} bytes of an answer"
        )),
        Err(e) => Err(format!(
            "expected the connection to be closed without an answer (Kafka rejects this advertised version), \
             got {}",
            read_error(e)
        )),
    }
}

// ---------------------------------------------------------------------------------------------------------
// The walk

/// Asks ApiVersions v3 what the broker advertises.
fn discover(conn: &mut Conn) -> BTreeMap<i16, (i16, i16)> {
    let body = ApiVersionsRequest {
        client_software_name: CLIENT_ID.into(),
        client_software_version: "0.0.0".into(),
        ..Default::default()
    };
    let r = conn
        .call(3, body.into())
        .unwrap_or_else(|e| panic!("ApiVersions v3: {e}"));
    let ResponseBody::ApiVersions(r) = r else {
        unreachable!("the decoder made an ApiVersions answer")
    };
    assert_eq!(
        r.error_code,
        0,
        "ApiVersions v3: error: expected NONE, got {}",
        code_name(r.error_code)
    );
    advertised_ranges(&r)
}

/// Creates the walk's topics and learns their ids, the cluster id and the leader epoch; waits for the
/// group coordinator. Panics with `setup: ...` when that fails.
fn setup(ctx: &mut Ctx) {
    let mut topics = vec![
        (TOPIC.to_string(), 2, vec![("retention.ms", TOPIC_RETENTION_MS)]),
        (CONFIGS_TOPIC.to_string(), 1, vec![]),
    ];
    for (api, name) in [
        (ApiKey::DeleteTopics, deleted_topic as fn(i16) -> String),
        (ApiKey::CreatePartitions, grown_topic),
    ] {
        if let Some((lo, hi)) = ctx.range(api) {
            topics.extend((lo..=hi).map(|v| (name(v), 1, vec![])));
        }
    }
    let names: Vec<String> = topics.iter().map(|t| t.0.clone()).collect();
    let created = ctx
        .follow_up(ApiKey::CreateTopics, |_| create_topics_request(&topics))
        .unwrap_or_else(|e| panic!("setup: creating the walk's topics: {e}"));
    let ResponseBody::CreateTopics(created) = created.1 else {
        unreachable!()
    };
    for t in &created.topics {
        assert_eq!(
            t.error_code,
            0,
            "setup: creating {}: {}",
            t.name,
            code_name(t.error_code)
        );
    }
    let version = ctx.max(ApiKey::Metadata).expect("setup: Metadata is advertised");
    let (_, r) = ctx
        .follow_up_at(
            version,
            MetadataRequest {
                topics: Some(
                    names
                        .iter()
                        .map(|n| MetadataRequestTopic {
                            name: Some(n.clone()),
                            ..Default::default()
                        })
                        .collect(),
                ),
                allow_auto_topic_creation: false,
                ..Default::default()
            }
            .into(),
        )
        .unwrap_or_else(|e| panic!("setup: {e}"));
    let ResponseBody::Metadata(r) = r else { unreachable!() };
    if version >= 2 {
        ctx.cluster_id = r.cluster_id.clone();
    }
    for t in &r.topics {
        let name = t.name.clone().unwrap_or_default();
        assert_eq!(
            t.error_code,
            0,
            "setup: Metadata v{version} for {name}: {}",
            code_name(t.error_code)
        );
        if version >= 10 {
            ctx.topic_ids.insert(name.clone(), t.topic_id);
        }
        if version >= 7 && name == TOPIC {
            ctx.leader_epoch = t
                .partitions
                .iter()
                .find(|p| p.partition_index == 0)
                .map(|p| p.leader_epoch);
        }
    }
    // Group requests get COORDINATOR_LOAD_IN_PROGRESS until `__consumer_offsets` is loaded.
    if let Some((lowest, _)) = ctx.range(ApiKey::ListGroups) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let r = ctx
                .conn
                .call(lowest, list_groups_request(&[], &[]))
                .unwrap_or_else(|e| panic!("setup: {e}"));
            let ResponseBody::ListGroups(r) = r else { unreachable!() };
            if r.error_code != ErrorCode::CoordinatorLoadInProgress.code() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "setup: the group coordinator did not load within {TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn every_advertised_version_of_every_api_answers_meaningfully() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    // The walk's groups have one member each: no reason to wait for more.
    cfg.group.initial_rebalance_delay_ms = 0;
    let node_id = cfg.node_id;
    let broker = TestBroker::start(cfg);
    let mut conn = Conn::new(Some(broker.addr));
    let advertised = discover(&mut conn);

    // Every advertised API must have an arm here, so that none goes untested.
    let untestable: Vec<String> = advertised
        .keys()
        .filter_map(|&key| match ApiKey::from_i16(key) {
            None => Some(format!("api key {key} is advertised but unknown to the protocol crate")),
            Some(api) if !ORDER.contains(&api) => Some(untested(api)),
            Some(_) => None,
        })
        .collect();
    assert!(untestable.is_empty(), "{}", untestable.join("\n"));

    let mut ctx = Ctx::new(conn, advertised, node_id, broker.addr);
    setup(&mut ctx);
    let mut failures = Vec::new();
    let mut sent = 0;
    for &api in ORDER {
        let Some((lowest, highest)) = ctx.range(api) else {
            continue;
        };
        for version in lowest..=highest {
            sent += 1;
            let result = if api.is_implemented(version) {
                let body = sample(api, version, &ctx);
                ctx.conn
                    .call(version, body)
                    .and_then(|r| check(api, version, &r, &mut ctx))
                    .and_then(|()| {
                        // The connection stays open.
                        ctx.conn
                            .call(0, ApiVersionsRequest::default().into())
                            .map(drop)
                            .map_err(|e| format!("the ApiVersions v0 sent after it on the same connection: {e}"))
                    })
            } else {
                check_rejected(api, version, &ctx, broker.addr)
            };
            if let Err(e) = result {
                failures.push(format!("{} v{version}: {e}", api.name()));
            }
        }
    }
    eprintln!(
        "versions walk: {sent} api versions of {} apis in {:?}",
        ctx.advertised.len(),
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} of {sent} api versions failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    broker.stop().unwrap();
}

#[test]
fn advertised_ranges_are_the_api_tables() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(config(dir.path()));
    let mut conn = Conn::new(Some(broker.addr));
    let advertised = discover(&mut conn);
    assert!(!advertised.is_empty(), "ApiVersions v3 advertises nothing");
    for (key, range) in advertised {
        let api = ApiKey::from_i16(key).unwrap_or_else(|| panic!("api key {key} is advertised but not in API_TABLE"));
        assert_eq!(
            range,
            api.info().advertised,
            "{} (key {key}): the advertised range is not API_TABLE's",
            api.name()
        );
    }
    broker.stop().unwrap();
}

#[test]
fn every_api_in_the_table_has_a_sample_that_encodes() {
    // What a walk would know, made up: no broker is asked.
    let mut ctx = Ctx::new(Conn::new(None), BTreeMap::new(), 0, ([127, 0, 0, 1], 9092).into());
    for topic in [TOPIC.to_string(), deleted_topic(6)] {
        ctx.topic_ids.insert(topic, Uuid([7; 16]));
    }
    ctx.producer = Some((1, 0));
    for v in 0..10 {
        ctx.members.insert(
            v,
            Member {
                group: join_group(v),
                id: format!("member-{v}"),
                generation: 1,
                state: MemberState::Stable,
            },
        );
    }
    let missing: BTreeSet<&str> = API_TABLE
        .iter()
        .filter(|a| !ORDER.contains(&a.key))
        .map(|a| a.key.name())
        .collect();
    assert!(missing.is_empty(), "not in the versions walk: {missing:?}");
    for info in API_TABLE {
        let (lo, hi) = info.advertised;
        for version in (lo..=hi).filter(|&v| info.key.is_implemented(v)) {
            let mut out = BytesMut::new();
            Request {
                header: RequestHeader::new(info.key, version, 1),
                body: sample(info.key, version, &ctx),
            }
            .encode(&mut out)
            .unwrap_or_else(|e| panic!("{} v{version}: the sample does not encode: {e}", info.key.name()));
        }
    }
}

/// The id Metadata v12 answers for `topic`, looked up by name, and the name it answers for that id.
fn topic_id_by_metadata(c: &mut crate::support::RawClient, topic: &str) -> (protocol::Uuid, Option<String>) {
    let by_name = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: Some(topic.into()),
            ..Default::default()
        }]),
        allow_auto_topic_creation: false,
        ..Default::default()
    };
    let ResponseBody::Metadata(m) = c.call(12, by_name.into()) else {
        panic!("not a Metadata answer")
    };
    assert_eq!(m.topics[0].error_code, 0, "{topic}: {:?}", m.topics[0]);
    let id = m.topics[0].topic_id;
    assert!(!id.is_zero(), "{topic} has no id");
    (id, name_of_id(c, id))
}

/// The name Metadata v12 answers for a topic id (`None` with UNKNOWN_TOPIC_ID when no topic has it).
fn name_of_id(c: &mut crate::support::RawClient, id: protocol::Uuid) -> Option<String> {
    let by_id = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            topic_id: id,
            name: None,
            ..Default::default()
        }]),
        ..Default::default()
    };
    let ResponseBody::Metadata(m) = c.call(12, by_id.into()) else {
        panic!("not a Metadata answer")
    };
    let t = &m.topics[0];
    if t.error_code == ErrorCode::UnknownTopicId.code() {
        assert_eq!(t.name, None);
        return None;
    }
    assert_eq!((t.error_code, t.topic_id), (0, id));
    t.name.clone()
}

#[test]
fn topic_ids_survive_a_restart_and_change_with_a_recreation() {
    use crate::support::{config, RawClient, TestBroker};
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(config(dir.path()));
    let mut c = RawClient::new(&broker);
    c.create("kept");
    let (id, name) = topic_id_by_metadata(&mut c, "kept");
    assert_eq!(name.as_deref(), Some("kept"));
    drop(c);
    broker.stop().unwrap();

    let broker = TestBroker::start(config(dir.path()));
    let mut c = RawClient::new(&broker);
    assert_eq!(
        topic_id_by_metadata(&mut c, "kept"),
        (id, Some("kept".into())),
        "the same id after a restart"
    );
    // Below v12 topics are named by name only: an id there is INVALID_REQUEST, as Kafka answers.
    let by_id_v11 = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            topic_id: id,
            name: Some("kept".into()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let ResponseBody::Metadata(m) = c.call(11, by_id_v11.into()) else {
        panic!("not a Metadata answer")
    };
    assert_eq!(m.topics[0].error_code, ErrorCode::InvalidRequest.code());
    let delete = DeleteTopicsRequest {
        topics: vec![DeleteTopicState {
            name: None,
            topic_id: id,
            ..Default::default()
        }],
        timeout_ms: 10_000,
        ..Default::default()
    };
    let ResponseBody::DeleteTopics(d) = c.call(6, delete.into()) else {
        panic!("not a DeleteTopics answer")
    };
    assert_eq!(
        (d.responses[0].error_code, d.responses[0].name.as_deref()),
        (0, Some("kept")),
        "deleted by id"
    );
    assert_eq!(name_of_id(&mut c, id), None, "the old id is unknown");
    c.create("kept");
    let (new_id, _) = topic_id_by_metadata(&mut c, "kept");
    assert_ne!(new_id, id, "a re-created topic gets a new id");
    drop(c);
    broker.stop().unwrap();
}

#[test]
fn a_data_directory_from_before_the_metadata_log_keeps_its_topics() {
    // A single broker upgraded from a kzero without a metadata quorum: its partition logs (and ids, epochs,
    // configs) are adopted into the new metadata log, leaders and all, and it serves them at once.
    use crate::support::{config, RawClient, TestBroker};
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(config(dir.path()));
    let mut c = RawClient::new(&broker);
    c.create("old");
    let (id, _) = topic_id_by_metadata(&mut c, "old");
    drop(c);
    broker.stop().unwrap();
    // What an older broker left: the partition directories, no `__cluster_metadata`.
    std::fs::remove_dir_all(dir.path().join("__cluster_metadata")).unwrap();

    let broker = TestBroker::start(config(dir.path()));
    let mut c = RawClient::new(&broker);
    assert_eq!(
        topic_id_by_metadata(&mut c, "old"),
        (id, Some("old".into())),
        "adopted with its id"
    );
    let by_name = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: Some("old".into()),
            ..Default::default()
        }]),
        allow_auto_topic_creation: false,
        ..Default::default()
    };
    let ResponseBody::Metadata(m) = c.call(12, by_name.into()) else {
        panic!("not a Metadata answer")
    };
    let p = &m.topics[0].partitions[0];
    assert_eq!(
        (p.error_code, p.leader_id, &p.replica_nodes),
        (0, 0, &vec![0]),
        "led here again"
    );
    drop(c);
    broker.stop().unwrap();
}
