//! What `consume --group` and `kzero groups` share: finding a group's coordinator, the consumer
//! protocol's embedded encodings, Kafka's range assignor, and OffsetFetch / OffsetCommit / DescribeGroups
//! requests at whatever version the coordinator speaks.
//!
//! The classic group protocol treats a member's metadata and assignment as opaque bytes; members of
//! protocol type `consumer` agree on Kafka's `ConsumerProtocolSubscription` and
//! `ConsumerProtocolAssignment` (`clients/src/main/resources/common/message/`), which kzero writes and
//! reads here so that it can share a group with Java and librdkafka consumers:
//!
//! ```text
//! subscription  INT16 version | Topics [STRING] | UserData NULLABLE_BYTES
//!               | OwnedPartitions [Topic STRING, Partitions [INT32]] (v1+) | GenerationId INT32 (v2+)
//!               | RackId NULLABLE_STRING (v3+)
//! assignment    INT16 version | AssignedPartitions [Topic STRING, Partitions [INT32]] | UserData NULLABLE_BYTES
//! ```
//! Arrays have an INT32 count, strings an INT16 length, bytes an INT32 length (-1 for null); nothing is
//! flexible. kzero writes version 3 of both, as Kafka's Java consumer does, and reads any version (a
//! reader of a newer version reads the fields it knows and ignores the rest, as Java does). A zero-length
//! assignment means "nothing assigned".

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use bytes::{BufMut, Bytes, BytesMut};
use protocol::{
    ApiKey, DescribeGroupsRequest, DescribedGroup, ErrorCode, FindCoordinatorRequest, OffsetCommitRequest,
    OffsetCommitRequestPartition, OffsetCommitRequestTopic, OffsetFetchRequest, OffsetFetchRequestGroup,
    OffsetFetchRequestTopic, ResponseBody,
};

use crate::client::{code_name, Client, Conn};

/// The protocol type of consumer groups.
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";
/// The assignor kzero's consumer offers (Kafka's `RangeAssignor`, `range` in librdkafka too).
pub const RANGE_ASSIGNOR: &str = "range";
/// The version of the embedded consumer protocol kzero writes.
const CONSUMER_PROTOCOL_VERSION: i16 = 3;

/// Topic name -> partitions, as the consumer protocol lists them.
pub type TopicPartitions = Vec<(String, Vec<i32>)>;

/// A member's subscription: the JoinGroup metadata of protocol type `consumer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The subscribed topics.
    pub topics: Vec<String>,
    /// Assignor-specific data (null for the range assignor).
    pub user_data: Option<Bytes>,
    /// The partitions the member owns (v1+; empty for an eager protocol such as range).
    pub owned_partitions: TopicPartitions,
    /// The generation of the owned partitions (v2+), -1 if none.
    pub generation_id: i32,
    /// The member's rack (v3+).
    pub rack_id: Option<String>,
}

impl Subscription {
    /// A subscription to `topics` that owns nothing.
    pub fn to(topics: Vec<String>) -> Subscription {
        Subscription {
            topics,
            user_data: None,
            owned_partitions: Vec::new(),
            generation_id: -1,
            rack_id: None,
        }
    }

    /// The bytes, at version 3.
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::new();
        b.put_i16(CONSUMER_PROTOCOL_VERSION);
        b.put_i32(self.topics.len() as i32);
        for t in &self.topics {
            put_string(&mut b, t);
        }
        put_nullable_bytes(&mut b, self.user_data.as_deref());
        put_topic_partitions(&mut b, &self.owned_partitions);
        b.put_i32(self.generation_id);
        match &self.rack_id {
            Some(r) => put_string(&mut b, r),
            None => b.put_i16(-1),
        }
        b.freeze()
    }

    /// Reads a subscription of any version; fields a version does not have get their defaults.
    pub fn decode(bytes: &[u8]) -> Result<Subscription> {
        let mut r = Reader::new(bytes, "subscription");
        let version = r.i16()?;
        if version < 0 {
            bail!("the subscription has an invalid version {version}");
        }
        let n = r.count()?;
        let mut topics = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            topics.push(r.string()?);
        }
        let mut s = Subscription::to(topics);
        // Old writers may end after the topics; every later field is optional.
        if r.at_end() {
            return Ok(s);
        }
        s.user_data = r.nullable_bytes()?;
        if version >= 1 && !r.at_end() {
            s.owned_partitions = r.topic_partitions()?;
        }
        if version >= 2 && !r.at_end() {
            s.generation_id = r.i32()?;
        }
        if version >= 3 && !r.at_end() {
            s.rack_id = r.nullable_string()?;
        }
        Ok(s)
    }
}

/// A member's assignment: the SyncGroup assignment of protocol type `consumer`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignment {
    /// The assigned partitions, by topic.
    pub partitions: TopicPartitions,
    /// Assignor-specific data.
    pub user_data: Option<Bytes>,
}

impl Assignment {
    /// The bytes, at version 3.
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::new();
        b.put_i16(CONSUMER_PROTOCOL_VERSION);
        put_topic_partitions(&mut b, &self.partitions);
        put_nullable_bytes(&mut b, self.user_data.as_deref());
        b.freeze()
    }

    /// Reads an assignment of any version; zero bytes are an empty assignment.
    pub fn decode(bytes: &[u8]) -> Result<Assignment> {
        if bytes.is_empty() {
            return Ok(Assignment::default());
        }
        let mut r = Reader::new(bytes, "assignment");
        let version = r.i16()?;
        if version < 0 {
            bail!("the assignment has an invalid version {version}");
        }
        let partitions = r.topic_partitions()?;
        let user_data = if r.at_end() { None } else { r.nullable_bytes()? };
        Ok(Assignment { partitions, user_data })
    }

    /// The partitions of `topic`, sorted.
    pub fn of(&self, topic: &str) -> Vec<i32> {
        let mut v: Vec<i32> = self
            .partitions
            .iter()
            .filter(|(t, _)| t == topic)
            .flat_map(|(_, p)| p.iter().copied())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Kafka's way of showing an assignment: `t(0,1),u(2)`; `-` when empty.
    pub fn display(&self) -> String {
        if self.partitions.iter().all(|(_, p)| p.is_empty()) {
            return "-".into();
        }
        self.partitions
            .iter()
            .filter(|(_, p)| !p.is_empty())
            .map(|(t, p)| {
                let list: Vec<String> = p.iter().map(i32::to_string).collect();
                format!("{t}({})", list.join(","))
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The number of assigned partitions.
    pub fn len(&self) -> usize {
        self.partitions.iter().map(|(_, p)| p.len()).sum()
    }
}

/// One member as the range assignor sees it.
#[derive(Debug, Clone)]
pub struct AssignorMember {
    /// The member id.
    pub member_id: String,
    /// The static member's instance id.
    pub instance_id: Option<String>,
    /// The topics it subscribes to.
    pub topics: Vec<String>,
}

/// Kafka's `RangeAssignor`: for each topic, the members subscribed to it, ordered as Kafka orders them
/// (static members by instance id first, then dynamic ones by member id), each get a contiguous range of
/// partitions, the first `partitions % members` of them one more than the rest.
/// Topics missing from `partitions_per_topic` (unknown to the cluster) are not assigned.
/// Every member gets an entry, possibly empty; topics and partitions come out sorted.
pub fn range_assign(
    members: &[AssignorMember],
    partitions_per_topic: &BTreeMap<String, i32>,
) -> BTreeMap<String, Assignment> {
    let mut out: BTreeMap<String, Assignment> = members
        .iter()
        .map(|m| (m.member_id.clone(), Assignment::default()))
        .collect();
    for (topic, &count) in partitions_per_topic {
        let mut subscribed: Vec<&AssignorMember> = members.iter().filter(|m| m.topics.contains(topic)).collect();
        if subscribed.is_empty() || count <= 0 {
            continue;
        }
        // Kafka's MemberInfo.compareTo: instance ids when both have one, static before dynamic, else
        // member ids (Java compares UTF-16 code units; ids are ASCII in practice).
        subscribed.sort_by(|a, b| match (&a.instance_id, &b.instance_id) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.member_id.cmp(&b.member_id),
        });
        let n = subscribed.len() as i32;
        let (per, extra) = (count / n, count % n);
        for (i, m) in subscribed.into_iter().enumerate() {
            let i = i as i32;
            let start = per * i + i.min(extra);
            let len = per + i32::from(i < extra);
            if len > 0 {
                if let Some(a) = out.get_mut(&m.member_id) {
                    a.partitions.push((topic.clone(), (start..start + len).collect()));
                }
            }
        }
    }
    out
}

fn put_string(b: &mut BytesMut, s: &str) {
    b.put_i16(s.len() as i16);
    b.put_slice(s.as_bytes());
}

fn put_nullable_bytes(b: &mut BytesMut, v: Option<&[u8]>) {
    match v {
        Some(v) => {
            b.put_i32(v.len() as i32);
            b.put_slice(v);
        }
        None => b.put_i32(-1),
    }
}

fn put_topic_partitions(b: &mut BytesMut, tp: &[(String, Vec<i32>)]) {
    b.put_i32(tp.len() as i32);
    for (t, ps) in tp {
        put_string(b, t);
        b.put_i32(ps.len() as i32);
        for p in ps {
            b.put_i32(*p);
        }
    }
}

/// A cursor over the consumer protocol's big-endian fields.
struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, at: 0, what }
    }

    fn at_end(&self) -> bool {
        self.at >= self.buf.len()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or_else(|| {
            anyhow!(
                "the {} is truncated at byte {} of {}",
                self.what,
                self.at,
                self.buf.len()
            )
        })?;
        let s = &self.buf[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn i16(&mut self) -> Result<i16> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self) -> Result<i32> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// An array count; a null array (-1) reads as empty.
    fn count(&mut self) -> Result<usize> {
        let n = self.i32()?;
        if n < -1 {
            bail!("the {} has an invalid array length {n}", self.what);
        }
        Ok(n.max(0) as usize)
    }

    fn nullable_string(&mut self) -> Result<Option<String>> {
        let n = self.i16()?;
        if n < 0 {
            return Ok(None);
        }
        let b = self.take(n as usize)?;
        String::from_utf8(b.to_vec())
            .map(Some)
            .map_err(|_| anyhow!("the {} has a string that is not UTF-8", self.what))
    }

    fn string(&mut self) -> Result<String> {
        Ok(self.nullable_string()?.unwrap_or_default())
    }

    fn nullable_bytes(&mut self) -> Result<Option<Bytes>> {
        let n = self.i32()?;
        if n < 0 {
            return Ok(None);
        }
        Ok(Some(Bytes::copy_from_slice(self.take(n as usize)?)))
    }

    fn topic_partitions(&mut self) -> Result<TopicPartitions> {
        let n = self.count()?;
        let mut out = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let topic = self.string()?;
            let m = self.count()?;
            let mut ps = Vec::with_capacity(m.min(4096));
            for _ in 0..m {
                ps.push(self.i32()?);
            }
            out.push((topic, ps));
        }
        Ok(out)
    }
}

/// True for the errors that mean "ask again in a moment" (the coordinator is loading, moving or being
/// created).
pub fn coordinator_retriable(code: i16) -> bool {
    matches!(
        ErrorCode::from_code(code),
        Some(ErrorCode::CoordinatorLoadInProgress | ErrorCode::CoordinatorNotAvailable | ErrorCode::NotCoordinator)
    )
}

/// True for the errors after which the coordinator must be looked up again.
pub fn coordinator_moved(code: i16) -> bool {
    matches!(
        ErrorCode::from_code(code),
        Some(ErrorCode::CoordinatorNotAvailable | ErrorCode::NotCoordinator)
    )
}

/// Sleeps a little longer at each attempt (50 ms, doubling, at most 800 ms).
pub fn backoff(attempt: u32) {
    std::thread::sleep(Duration::from_millis(50 << attempt.min(4)));
}

/// What a group-level error code says about a group, to follow `group "g": `.
pub fn group_problem(code: i16) -> String {
    match ErrorCode::from_code(code) {
        Some(ErrorCode::GroupAuthorizationFailed) => "not authorized (GROUP_AUTHORIZATION_FAILED)".into(),
        Some(ErrorCode::GroupIdNotFound) => "it does not exist (GROUP_ID_NOT_FOUND)".into(),
        Some(ErrorCode::NonEmptyGroup) => "it has active members (NON_EMPTY_GROUP); stop its consumers first".into(),
        Some(ErrorCode::InvalidGroupId) => "invalid group id (INVALID_GROUP_ID)".into(),
        _ => code_name(code),
    }
}

/// Fails clearly when the broker has no group coordinator (it does not advertise FindCoordinator).
pub fn require_groups(conn: &Conn) -> Result<()> {
    if !conn.versions.advertises(ApiKey::FindCoordinator) {
        bail!(
            "the broker at {} does not support consumer groups (it does not advertise FindCoordinator)",
            conn.addr
        );
    }
    Ok(())
}

/// Finds the coordinator of `group` (FindCoordinator on the bootstrap broker) and connects to it, asking
/// again while the broker answers that it is not available yet (it may be creating or loading
/// `__consumer_offsets`), for at most the request timeout.
pub fn find_coordinator(client: &mut Client, group: &str) -> Result<Conn> {
    let timeout = client.settings.timeout;
    require_groups(client.bootstrap())?;
    let deadline = Instant::now() + timeout;
    for attempt in 0.. {
        let request = FindCoordinatorRequest {
            key: group.to_string(),
            key_type: 0,
            coordinator_keys: vec![group.to_string()],
            ..Default::default()
        };
        let (version, body) = client.bootstrap().call_versioned(request)?;
        let ResponseBody::FindCoordinator(r) = body else {
            bail!("unexpected response to FindCoordinator");
        };
        let (code, message, host, port) = if version >= 4 {
            let c = r
                .coordinators
                .into_iter()
                .find(|c| c.key == group)
                .ok_or_else(|| anyhow!("the broker did not answer FindCoordinator for group {group:?}"))?;
            (c.error_code, c.error_message, c.host, c.port)
        } else {
            (r.error_code, r.error_message, r.host, r.port)
        };
        if code == 0 {
            return Conn::connect(&format!("{host}:{port}"), &client.settings);
        }
        if coordinator_retriable(code) && Instant::now() < deadline {
            backoff(attempt);
            continue;
        }
        let detail = message
            .filter(|m| !m.is_empty())
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        bail!(
            "cannot find the coordinator of group {group:?}: {}{detail}",
            code_name(code)
        );
    }
    unreachable!("the loop returns")
}

/// Committed offsets: (topic, partition) -> (offset, leader epoch), for partitions that have one.
pub type Committed = BTreeMap<(String, i32), (i64, i32)>;

/// One OffsetFetch: the committed offsets of `group` for `topics`, or of every committed partition when
/// `None`. `Ok(Err(code))` is the first error the coordinator answered (group-level first).
pub fn fetch_offsets(
    conn: &mut Conn,
    group: &str,
    topics: Option<&[(String, Vec<i32>)]>,
) -> Result<Result<Committed, i16>> {
    let version = conn.version(ApiKey::OffsetFetch)?;
    if topics.is_none() && version < 2 {
        bail!(
            "the broker at {} cannot list a group's committed offsets (OffsetFetch v{version})",
            conn.addr
        );
    }
    let wanted: Option<Vec<OffsetFetchRequestTopic>> = topics.map(|ts| {
        ts.iter()
            .map(|(name, ps)| OffsetFetchRequestTopic {
                name: name.clone(),
                partition_indexes: ps.clone(),
                ..Default::default()
            })
            .collect()
    });
    let request = OffsetFetchRequest {
        group_id: group.to_string(),
        topics: wanted.clone(),
        groups: vec![OffsetFetchRequestGroup {
            group_id: group.to_string(),
            member_id: None,
            member_epoch: -1,
            topics: wanted,
            ..Default::default()
        }],
        require_stable: false,
        ..Default::default()
    };
    let (version, body) = conn.call_versioned(request)?;
    let ResponseBody::OffsetFetch(r) = body else {
        bail!("unexpected response to OffsetFetch");
    };
    let (code, topics) = if version >= 8 {
        match r.groups.into_iter().find(|g| g.group_id == group) {
            Some(g) => (g.error_code, g.topics),
            None => bail!("the broker did not answer OffsetFetch for group {group:?}"),
        }
    } else {
        (r.error_code, r.topics)
    };
    if code != 0 {
        return Ok(Err(code));
    }
    let mut out = Committed::new();
    for t in topics {
        for p in t.partitions {
            if p.error_code != 0 {
                return Ok(Err(p.error_code));
            }
            if p.committed_offset >= 0 {
                out.insert(
                    (t.name.clone(), p.partition_index),
                    (p.committed_offset, p.committed_leader_epoch),
                );
            }
        }
    }
    Ok(Ok(out))
}

/// An offset to commit: partition, offset, leader epoch of the last consumed record (-1 if unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetToCommit {
    /// The partition.
    pub partition: i32,
    /// The next offset to consume.
    pub offset: i64,
    /// The leader epoch of the record before it, -1 if unknown.
    pub leader_epoch: i32,
}

/// One OffsetCommit for partitions of `topic`, as member `member_id` of `generation` (-1 and `""` for an
/// admin commit to an empty group). Returns each partition's error code.
pub fn commit_offsets(
    conn: &mut Conn,
    group: &str,
    generation: i32,
    member_id: &str,
    topic: &str,
    offsets: &[OffsetToCommit],
) -> Result<Vec<(i32, i16)>> {
    let request = OffsetCommitRequest {
        group_id: group.to_string(),
        generation_id_or_member_epoch: generation,
        member_id: member_id.to_string(),
        group_instance_id: None,
        retention_time_ms: -1,
        topics: vec![OffsetCommitRequestTopic {
            name: topic.to_string(),
            partitions: offsets
                .iter()
                .map(|o| OffsetCommitRequestPartition {
                    partition_index: o.partition,
                    committed_offset: o.offset,
                    committed_leader_epoch: o.leader_epoch,
                    committed_metadata: Some(String::new()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let ResponseBody::OffsetCommit(r) = conn.call(request)? else {
        bail!("unexpected response to OffsetCommit");
    };
    let mut out = Vec::new();
    for t in r.topics {
        for p in t.partitions {
            out.push((p.partition_index, p.error_code));
        }
    }
    // A partition the broker left out was not committed.
    for o in offsets {
        if !out.iter().any(|(p, _)| *p == o.partition) {
            out.push((o.partition, ErrorCode::UnknownServerError.code()));
        }
    }
    Ok(out)
}

/// DescribeGroups for one group. An unknown group comes back as state `Dead` (below v6) or with
/// `GROUP_ID_NOT_FOUND` (v6+); both are returned as they are.
pub fn describe_group(conn: &mut Conn, group: &str) -> Result<DescribedGroup> {
    let request = DescribeGroupsRequest {
        groups: vec![group.to_string()],
        include_authorized_operations: false,
        ..Default::default()
    };
    let ResponseBody::DescribeGroups(r) = conn.call(request)? else {
        bail!("unexpected response to DescribeGroups");
    };
    r.groups
        .into_iter()
        .find(|g| g.group_id == group)
        .ok_or_else(|| anyhow!("the broker did not describe group {group:?}"))
}

/// Runs `step` until it gives an answer, asking again (after a short sleep) while it answers a retriable
/// coordinator error, for at most `timeout`; the last error code is returned if time runs out.
pub fn retry_coordinator<T>(
    timeout: Duration,
    mut step: impl FnMut() -> Result<Result<T, i16>>,
) -> Result<Result<T, i16>> {
    let deadline = Instant::now() + timeout;
    for attempt in 0.. {
        match step()? {
            Err(code) if coordinator_retriable(code) && Instant::now() < deadline => backoff(attempt),
            other => return Ok(other),
        }
    }
    unreachable!("the loop returns")
}

#[cfg(test)]
mod tests;
