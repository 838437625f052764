//! Kafka's KIP-848 consumer groups (ConsumerGroupHeartbeat, ConsumerGroupDescribe, and the group side of
//! OffsetCommit/OffsetFetch/DeleteGroups) as a sans-IO state machine (`kafka-facts-2.md` §3, §2.6).
//!
//! It owns every consumer group of a coordinator: group epoch, target assignment and its epoch, members
//! with their subscriptions and reconciliation state, which member owns which partition, resolved regular
//! expressions, and the session and rebalance timers. It must never do I/O, read a clock, spawn a task or
//! take a lock: time comes in as `now` (milliseconds), broker metadata comes in as [`Topics`], and every
//! change to persist comes out as a [`Record`] mirroring Kafka's `__consumer_offsets` record types (3, 5,
//! 6, 7, 8 and 16) for the driver to append. The wire mapping of requests and responses is done elsewhere.
//!
//! As in Kafka, records are the only way state changes: an operation decides, then writes records, and
//! each written record is applied through the same function as [`ConsumerGroups::replay`]. So replaying
//! what was emitted rebuilds the same groups; only the timers are soft state, re-armed from `now` on
//! replay. An operation that fails writes nothing.
//!
//! Rules followed (Kafka 4.x `GroupMetadataManager`, `CurrentAssignmentBuilder`, `ConsumerGroup`):
//! - validation as `GroupCoordinatorService.throwIfConsumerGroupHeartbeatRequestIsInvalid` (§3.2);
//! - one heartbeat as §3.3, including the accept of epoch 0 for a member that still exists (KAFKA-19233);
//! - reconciliation of the heartbeating member only (§3.4), moving up one epoch at a time after revoking;
//! - leaving with -1, static leave with -2, session and rebalance timeouts (§3.6);
//! - regular expressions are resolved at once against the metadata passed in (Kafka does it
//!   asynchronously): anchored, in the `regex` crate's RE2-like syntax.
//!
//! Not here: classic members inside a consumer group (migration, §3.9), per-group config overrides,
//! authorization, and routing a group id that belongs to a classic group (the caller answers
//! GROUP_ID_NOT_FOUND for those).

use std::collections::{BTreeMap, BTreeSet};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use protocol::ErrorCode;
use regex::Regex;

use super::assignor::{Assignment, Assignor, MemberSpec};
use super::classic::Ms;
use crate::topic_id::TopicId;

/// The epoch a member sends to leave the group (Kafka's `LEAVE_GROUP_MEMBER_EPOCH`).
pub(crate) const LEAVE_EPOCH: i32 = -1;
/// The epoch a static member sends to leave for a while (Kafka's `LEAVE_GROUP_STATIC_MEMBER_EPOCH`).
pub(crate) const STATIC_LEAVE_EPOCH: i32 = -2;
/// From this ConsumerGroupHeartbeat version the client generates its member id (KIP-1082).
const CLIENT_MEMBER_ID_VERSION: i16 = 1;

/// Broker metadata as the coordinator needs it: topic name -> (topic id, partition count).
pub(crate) type Topics = BTreeMap<String, (TopicId, i32)>;

/// Partitions as a request lists them (`TopicPartitions[TopicId, Partitions]`).
pub(crate) type TopicPartitions = Vec<(TopicId, Vec<i32>)>;

/// Consumer group settings, with Kafka's names and defaults (`GroupCoordinatorConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConsumerGroupConfig {
    /// `group.consumer.session.timeout.ms`.
    pub(crate) session_timeout_ms: i32,
    /// `group.consumer.min.session.timeout.ms`.
    pub(crate) min_session_timeout_ms: i32,
    /// `group.consumer.max.session.timeout.ms`.
    pub(crate) max_session_timeout_ms: i32,
    /// `group.consumer.heartbeat.interval.ms`.
    pub(crate) heartbeat_interval_ms: i32,
    /// `group.consumer.min.heartbeat.interval.ms`.
    pub(crate) min_heartbeat_interval_ms: i32,
    /// `group.consumer.max.heartbeat.interval.ms`.
    pub(crate) max_heartbeat_interval_ms: i32,
    /// `group.consumer.max.size`.
    pub(crate) max_size: usize,
    /// `group.consumer.assignors`; the first one is the default.
    pub(crate) assignors: Vec<Assignor>,
}

impl Default for ConsumerGroupConfig {
    fn default() -> Self {
        ConsumerGroupConfig {
            session_timeout_ms: 45_000,
            min_session_timeout_ms: 45_000,
            max_session_timeout_ms: 60_000,
            heartbeat_interval_ms: 5_000,
            min_heartbeat_interval_ms: 5_000,
            max_heartbeat_interval_ms: 15_000,
            max_size: i32::MAX as usize,
            assignors: vec![Assignor::Uniform, Assignor::Range],
        }
    }
}

impl ConsumerGroupConfig {
    /// The checks Kafka makes at start-up: each value within its bounds, the heartbeat interval below the
    /// session timeout, at least one member and one assignor.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if !(self.min_session_timeout_ms..=self.max_session_timeout_ms).contains(&self.session_timeout_ms) {
            return Err(format!(
                "group.consumer.session.timeout.ms ({}) must be between group.consumer.min.session.timeout.ms \
                 ({}) and group.consumer.max.session.timeout.ms ({})",
                self.session_timeout_ms, self.min_session_timeout_ms, self.max_session_timeout_ms
            ));
        }
        if !(self.min_heartbeat_interval_ms..=self.max_heartbeat_interval_ms).contains(&self.heartbeat_interval_ms) {
            return Err(format!(
                "group.consumer.heartbeat.interval.ms ({}) must be between \
                 group.consumer.min.heartbeat.interval.ms ({}) and group.consumer.max.heartbeat.interval.ms ({})",
                self.heartbeat_interval_ms, self.min_heartbeat_interval_ms, self.max_heartbeat_interval_ms
            ));
        }
        if self.heartbeat_interval_ms <= 0 || self.heartbeat_interval_ms >= self.session_timeout_ms {
            return Err(format!(
                "group.consumer.heartbeat.interval.ms ({}) must be positive and below \
                 group.consumer.session.timeout.ms ({})",
                self.heartbeat_interval_ms, self.session_timeout_ms
            ));
        }
        if self.max_size == 0 {
            return Err("group.consumer.max.size must be at least 1".to_string());
        }
        if self.assignors.is_empty() {
            return Err("group.consumer.assignors must name at least one assignor".to_string());
        }
        Ok(())
    }

    fn default_assignor(&self) -> Assignor {
        self.assignors.first().copied().unwrap_or(Assignor::Uniform)
    }
}

/// A member's reconciliation state (Kafka's `MemberState`; the byte stored in record type 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum MemberState {
    /// Owns exactly what its epoch's target gives it (minus partitions not yet released).
    Stable,
    /// Must stop reporting the partitions pending revocation before it moves on.
    UnrevokedPartitions,
    /// At the target epoch, waiting for partitions other members still own.
    UnreleasedPartitions,
    /// A state byte written by a newer version.
    Unknown,
}

impl MemberState {
    /// The byte in `ConsumerGroupCurrentMemberAssignmentValue.State`.
    pub(crate) fn value(self) -> i8 {
        match self {
            MemberState::Stable => 0,
            MemberState::UnrevokedPartitions => 1,
            MemberState::UnreleasedPartitions => 2,
            MemberState::Unknown => 127,
        }
    }

    /// The state a stored byte means (unknown bytes read as [`MemberState::Unknown`]).
    pub(crate) fn from_value(value: i8) -> MemberState {
        match value {
            0 => MemberState::Stable,
            1 => MemberState::UnrevokedPartitions,
            2 => MemberState::UnreleasedPartitions,
            _ => MemberState::Unknown,
        }
    }
}

/// A consumer group's state (§3.4 `maybeUpdateGroupState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum GroupState {
    Empty,
    Assigning,
    Reconciling,
    Stable,
}

impl GroupState {
    /// The name ListGroups and ConsumerGroupDescribe report.
    pub(crate) fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::Assigning => "Assigning",
            GroupState::Reconciling => "Reconciling",
            GroupState::Stable => "Stable",
        }
    }
}

/// The topics a member may see (DESCRIBE on them), when an authorizer is on: a regular expression it
/// subscribes with resolves to those only (Kafka resolves regexes with the subscribing member's
/// authorization). Asked afresh at each resolution, so ACL changes count from the next one.
#[derive(Clone)]
pub(crate) struct TopicFilter(pub(crate) std::sync::Arc<dyn Fn(&str) -> bool + Send + Sync>);

impl std::fmt::Debug for TopicFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TopicFilter")
    }
}

impl PartialEq for TopicFilter {
    fn eq(&self, other: &TopicFilter) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for TopicFilter {}

/// A ConsumerGroupHeartbeat request, whatever its version. `None` (and -1 for the rebalance timeout)
/// means "unchanged since the last heartbeat".
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeartbeatRequest {
    /// The request's version (v1+ requires a client-generated member id).
    pub(crate) version: i16,
    pub(crate) group_id: String,
    pub(crate) member_id: String,
    pub(crate) member_epoch: i32,
    pub(crate) instance_id: Option<String>,
    pub(crate) rack_id: Option<String>,
    pub(crate) rebalance_timeout_ms: i32,
    pub(crate) subscribed_topic_names: Option<Vec<String>>,
    /// v1+.
    pub(crate) subscribed_topic_regex: Option<String>,
    pub(crate) server_assignor: Option<String>,
    /// The partitions the member owns now.
    pub(crate) topic_partitions: Option<TopicPartitions>,
    /// From the request header.
    pub(crate) client_id: String,
    /// The connection's address.
    pub(crate) client_host: String,
    /// What the member may see, when an authorizer is on (its regex resolves to those topics only).
    pub(crate) describable: Option<TopicFilter>,
}

/// A ConsumerGroupHeartbeat answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeartbeatResponse {
    pub(crate) error: ErrorCode,
    pub(crate) error_message: Option<String>,
    pub(crate) member_id: Option<String>,
    pub(crate) member_epoch: i32,
    pub(crate) heartbeat_interval_ms: i32,
    /// Only on a full request or when the member's assigned partitions changed; only partitions the member
    /// may use now.
    pub(crate) assignment: Option<Assignment>,
}

impl HeartbeatResponse {
    /// An answer with only an error (the coordinator could not serve the request).
    pub(crate) fn failed(error: ErrorCode) -> HeartbeatResponse {
        HeartbeatResponse {
            error,
            error_message: None,
            member_id: None,
            member_epoch: 0,
            heartbeat_interval_ms: 0,
            assignment: None,
        }
    }

    fn refused(r: Refusal) -> HeartbeatResponse {
        HeartbeatResponse {
            error: r.error,
            error_message: Some(r.message),
            member_id: None,
            member_epoch: 0,
            heartbeat_interval_ms: 0,
            assignment: None,
        }
    }
}

/// Why an operation was refused: the error code and the message for the response.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Refusal {
    error: ErrorCode,
    message: String,
}

fn refuse<T>(error: ErrorCode, message: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal {
        error,
        message: message.into(),
    })
}

/// `ConsumerGroupMetadataValue` (record type 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupMetadataValue {
    pub(crate) epoch: i32,
    /// A hash of the subscribed topics' metadata (names, ids, partition counts), as KIP-1101's tagged
    /// `MetadataHash`. kzero's hash function is its own; it is only ever compared with itself.
    pub(crate) metadata_hash: i64,
}

/// `ConsumerGroupMemberMetadataValue` (record type 5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MemberMetadataValue {
    pub(crate) instance_id: Option<String>,
    pub(crate) rack_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    /// Sorted, without duplicates.
    pub(crate) subscribed_topic_names: Vec<String>,
    pub(crate) subscribed_topic_regex: Option<String>,
    pub(crate) rebalance_timeout_ms: i32,
    pub(crate) server_assignor: Option<String>,
}

impl Default for MemberMetadataValue {
    fn default() -> Self {
        MemberMetadataValue {
            instance_id: None,
            rack_id: None,
            client_id: String::new(),
            client_host: String::new(),
            subscribed_topic_names: Vec::new(),
            subscribed_topic_regex: None,
            rebalance_timeout_ms: -1,
            server_assignor: None,
        }
    }
}

/// `ConsumerGroupCurrentMemberAssignmentValue` (record type 8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CurrentAssignmentValue {
    pub(crate) member_epoch: i32,
    pub(crate) previous_member_epoch: i32,
    pub(crate) state: MemberState,
    pub(crate) assigned: Assignment,
    pub(crate) pending_revocation: Assignment,
}

impl CurrentAssignmentValue {
    /// A new member's (Kafka's `ConsumerGroupMember.Builder` defaults).
    fn joining() -> CurrentAssignmentValue {
        CurrentAssignmentValue {
            member_epoch: 0,
            previous_member_epoch: -1,
            state: MemberState::Stable,
            assigned: Assignment::new(),
            pending_revocation: Assignment::new(),
        }
    }
}

/// `ConsumerGroupRegularExpressionValue` (record type 16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RegexValue {
    /// Matching topic names, sorted.
    pub(crate) topics: Vec<String>,
    /// Kafka writes the metadata offset it resolved against; kzero resolves synchronously against the
    /// metadata it is given and never reads this back, so it writes the group epoch of the resolution.
    pub(crate) version: i64,
    pub(crate) timestamp: Ms,
}

/// A change to persist in `__consumer_offsets`; a `None` value is a tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Record {
    /// Type 3, `ConsumerGroupMetadata`: the group epoch. Its tombstone deletes the group.
    GroupMetadata {
        group: String,
        value: Option<GroupMetadataValue>,
    },
    /// Type 5, `ConsumerGroupMemberMetadata`: a member's subscription and identity.
    MemberMetadata {
        group: String,
        member: String,
        value: Option<MemberMetadataValue>,
    },
    /// Type 6, `ConsumerGroupTargetAssignmentMetadata`: the assignment epoch.
    TargetAssignmentMetadata { group: String, value: Option<i32> },
    /// Type 7, `ConsumerGroupTargetAssignmentMember`: a member's target assignment.
    TargetAssignmentMember {
        group: String,
        member: String,
        value: Option<Assignment>,
    },
    /// Type 8, `ConsumerGroupCurrentMemberAssignment`: a member's epochs, state and partitions.
    CurrentMemberAssignment {
        group: String,
        member: String,
        value: Option<CurrentAssignmentValue>,
    },
    /// Type 16, `ConsumerGroupRegularExpression`: what a regular expression resolved to.
    RegularExpression {
        group: String,
        regex: String,
        value: Option<RegexValue>,
    },
}

impl Record {
    /// The record type (the key's INT16 prefix).
    #[cfg(test)]
    pub(crate) fn record_type(&self) -> i16 {
        match self {
            Record::GroupMetadata { .. } => 3,
            Record::MemberMetadata { .. } => 5,
            Record::TargetAssignmentMetadata { .. } => 6,
            Record::TargetAssignmentMember { .. } => 7,
            Record::CurrentMemberAssignment { .. } => 8,
            Record::RegularExpression { .. } => 16,
        }
    }

    /// The group whose `__consumer_offsets` partition holds this record.
    pub(crate) fn group(&self) -> &str {
        match self {
            Record::GroupMetadata { group, .. }
            | Record::MemberMetadata { group, .. }
            | Record::TargetAssignmentMetadata { group, .. }
            | Record::TargetAssignmentMember { group, .. }
            | Record::CurrentMemberAssignment { group, .. }
            | Record::RegularExpression { group, .. } => group,
        }
    }

    /// True for a tombstone (a null value).
    pub(crate) fn is_tombstone(&self) -> bool {
        match self {
            Record::GroupMetadata { value, .. } => value.is_none(),
            Record::MemberMetadata { value, .. } => value.is_none(),
            Record::TargetAssignmentMetadata { value, .. } => value.is_none(),
            Record::TargetAssignmentMember { value, .. } => value.is_none(),
            Record::CurrentMemberAssignment { value, .. } => value.is_none(),
            Record::RegularExpression { value, .. } => value.is_none(),
        }
    }
}

/// Partitions of one topic in a [`DescribedMember`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DescribedTopicPartitions {
    pub(crate) topic_id: TopicId,
    pub(crate) topic_name: String,
    pub(crate) partitions: Vec<i32>,
}

/// A member as ConsumerGroupDescribe shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DescribedMember {
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) rack_id: Option<String>,
    pub(crate) member_epoch: i32,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) subscribed_topic_names: Vec<String>,
    pub(crate) subscribed_topic_regex: Option<String>,
    /// The assigned partitions (not those pending revocation), of topics that still exist.
    pub(crate) assignment: Vec<DescribedTopicPartitions>,
    pub(crate) target_assignment: Vec<DescribedTopicPartitions>,
}

/// A group as ConsumerGroupDescribe shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DescribedGroup {
    /// GROUP_ID_NOT_FOUND for a group this module does not hold (then only the id is set).
    pub(crate) error: ErrorCode,
    pub(crate) error_message: Option<String>,
    pub(crate) group_id: String,
    pub(crate) state: &'static str,
    pub(crate) group_epoch: i32,
    pub(crate) assignment_epoch: i32,
    pub(crate) assignor_name: String,
    pub(crate) members: Vec<DescribedMember>,
}

/// A saved copy of one group (see [`ConsumerGroups::snapshot`]).
#[derive(Debug)]
pub(crate) struct GroupSnapshot(String, Option<ConsumerGroup>);

/// One member.
#[derive(Debug, Clone)]
struct Member {
    id: String,
    meta: MemberMetadataValue,
    current: CurrentAssignmentValue,
    /// When the session expires; re-armed by every heartbeat (and on load).
    session_deadline: Option<Ms>,
    /// While in UNREVOKED_PARTITIONS: when the member is fenced if still at the epoch (the second field).
    rebalance_deadline: Option<(Ms, i32)>,
}

impl Member {
    fn new(id: &str) -> Member {
        Member {
            id: id.to_string(),
            meta: MemberMetadataValue::default(),
            current: CurrentAssignmentValue::joining(),
            session_deadline: None,
            rebalance_deadline: None,
        }
    }

    /// The member's regular expression, if it has a non-empty one.
    fn regex(&self) -> Option<&str> {
        self.meta.subscribed_topic_regex.as_deref().filter(|r| !r.is_empty())
    }

    fn is_reconciled_to(&self, epoch: i32) -> bool {
        self.current.state == MemberState::Stable && self.current.member_epoch == epoch
    }
}

/// Partition -> (owning member, the owner's epoch). A partition is owned while it is in a member's
/// assigned or pending-revocation set (Kafka's `currentPartitionEpoch`; absent means free).
type Owners = BTreeMap<(TopicId, i32), (String, i32)>;

/// One consumer group.
#[derive(Debug, Clone)]
struct ConsumerGroup {
    id: String,
    group_epoch: i32,
    /// The group epoch the target assignment was computed for.
    assignment_epoch: i32,
    metadata_hash: i64,
    members: BTreeMap<String, Member>,
    /// Instance id -> member id.
    statics: BTreeMap<String, String>,
    /// Member id -> target assignment (a member without an entry has an empty target).
    target: BTreeMap<String, Assignment>,
    /// INVARIANT: exactly the partitions in some member's assigned or pending-revocation set.
    owners: Owners,
    /// Resolved regular expressions (those some member subscribes with).
    regexes: BTreeMap<String, RegexValue>,
    /// Per regular expression, what the member that subscribed with it may see (in memory only; after a
    /// load, until that member's next heartbeat, a regex resolves against every topic as recorded).
    regex_filters: BTreeMap<String, TopicFilter>,
    /// The subscribed topics' metadata as last computed (soft state: empty after a load until the next
    /// heartbeat or [`ConsumerGroups::topics_changed`]).
    subscribed_metadata: BTreeMap<String, (TopicId, i32)>,
}

impl ConsumerGroup {
    fn new(id: &str) -> ConsumerGroup {
        ConsumerGroup {
            id: id.to_string(),
            group_epoch: 0,
            assignment_epoch: 0,
            metadata_hash: 0,
            members: BTreeMap::new(),
            statics: BTreeMap::new(),
            target: BTreeMap::new(),
            owners: Owners::new(),
            regexes: BTreeMap::new(),
            regex_filters: BTreeMap::new(),
            subscribed_metadata: BTreeMap::new(),
        }
    }

    fn state(&self) -> GroupState {
        if self.members.is_empty() {
            GroupState::Empty
        } else if self.group_epoch > self.assignment_epoch {
            GroupState::Assigning
        } else if self
            .members
            .values()
            .any(|m| !m.is_reconciled_to(self.assignment_epoch))
        {
            GroupState::Reconciling
        } else {
            GroupState::Stable
        }
    }

    /// Applies a record: the only way this group's persistent state changes.
    fn apply(&mut self, record: &Record) {
        match record {
            Record::GroupMetadata { value, .. } => {
                if let Some(v) = value {
                    self.group_epoch = v.epoch;
                    self.metadata_hash = v.metadata_hash;
                }
            }
            Record::MemberMetadata {
                member, value: Some(v), ..
            } => {
                let m = self
                    .members
                    .entry(member.clone())
                    .or_insert_with(|| Member::new(member));
                if let Some(old) = m.meta.instance_id.take() {
                    if self.statics.get(&old) == Some(member) {
                        self.statics.remove(&old);
                    }
                }
                m.meta = v.clone();
                if let Some(instance) = &v.instance_id {
                    self.statics.insert(instance.clone(), member.clone());
                }
            }
            Record::MemberMetadata {
                member, value: None, ..
            } => {
                if let Some(m) = self.members.remove(member) {
                    release(&mut self.owners, member, &m.current);
                    if let Some(instance) = &m.meta.instance_id {
                        if self.statics.get(instance) == Some(member) {
                            self.statics.remove(instance);
                        }
                    }
                }
            }
            Record::TargetAssignmentMetadata { value, .. } => self.assignment_epoch = value.unwrap_or(-1),
            Record::TargetAssignmentMember { member, value, .. } => match value {
                Some(a) => {
                    self.target.insert(member.clone(), a.clone());
                }
                None => {
                    self.target.remove(member);
                }
            },
            Record::CurrentMemberAssignment { member, value, .. } => {
                let m = match value {
                    Some(_) => self
                        .members
                        .entry(member.clone())
                        .or_insert_with(|| Member::new(member)),
                    None => match self.members.get_mut(member) {
                        Some(m) => m,
                        None => return,
                    },
                };
                let next = value.clone().unwrap_or(CurrentAssignmentValue {
                    member_epoch: LEAVE_EPOCH,
                    previous_member_epoch: LEAVE_EPOCH,
                    state: MemberState::Stable,
                    assigned: Assignment::new(),
                    pending_revocation: Assignment::new(),
                });
                release(&mut self.owners, member, &m.current);
                claim(&mut self.owners, member, &next);
                m.current = next;
            }
            Record::RegularExpression { regex, value, .. } => match value {
                Some(v) => {
                    self.regexes.insert(regex.clone(), v.clone());
                }
                None => {
                    self.regexes.remove(regex);
                }
            },
        }
    }

    /// Applies a record and emits it.
    fn write(&mut self, record: Record, out: &mut Vec<Record>) {
        self.apply(&record);
        out.push(record);
    }

    /// The topic names the group subscribes to: every member's names and its regex's topics.
    fn subscribed_names(&self) -> BTreeSet<&str> {
        let mut names = BTreeSet::new();
        for m in self.members.values() {
            names.extend(m.meta.subscribed_topic_names.iter().map(String::as_str));
            if let Some(v) = m.regex().and_then(|r| self.regexes.get(r)) {
                names.extend(v.topics.iter().map(String::as_str));
            }
        }
        names
    }

    /// The subscribed topics' metadata from `topics` (or, without it, from the last computation), and its
    /// hash.
    fn compute_metadata(&self, topics: Option<&Topics>) -> (BTreeMap<String, (TopicId, i32)>, i64) {
        let source = topics.unwrap_or(&self.subscribed_metadata);
        let metadata: BTreeMap<String, (TopicId, i32)> = self
            .subscribed_names()
            .into_iter()
            .filter_map(|n| source.get(n).map(|v| (n.to_string(), *v)))
            .collect();
        let hash = metadata_hash(&metadata);
        (metadata, hash)
    }

    /// The assignor most members ask for (ties go to the one configured first), else the default.
    fn preferred_assignor(&self, config: &ConsumerGroupConfig) -> Assignor {
        let mut votes: BTreeMap<usize, usize> = BTreeMap::new();
        for m in self.members.values() {
            let position = m
                .meta
                .server_assignor
                .as_deref()
                .and_then(Assignor::from_name)
                .and_then(|a| config.assignors.iter().position(|c| *c == a));
            if let Some(p) = position {
                *votes.entry(p).or_default() += 1;
            }
        }
        votes
            .iter()
            .max_by(|(pa, va), (pb, vb)| va.cmp(vb).then(pb.cmp(pa)))
            .map(|(p, _)| config.assignors[*p])
            .unwrap_or_else(|| config.default_assignor())
    }

    /// A member's subscribed topic ids, through the subscribed metadata.
    fn subscribed_ids(&self, m: &Member) -> BTreeSet<TopicId> {
        let regex_topics = m.regex().and_then(|r| self.regexes.get(r)).map(|v| v.topics.as_slice());
        m.meta
            .subscribed_topic_names
            .iter()
            .chain(regex_topics.unwrap_or_default())
            .filter_map(|n| self.subscribed_metadata.get(n).map(|(id, _)| *id))
            .collect()
    }

    /// Runs the assignor over every member and writes the targets that changed, then the new assignment
    /// epoch (`TargetAssignmentBuilder`).
    fn compute_target(&mut self, config: &ConsumerGroupConfig, out: &mut Vec<Record>) {
        let assignor = self.preferred_assignor(config);
        let topics: BTreeMap<TopicId, i32> = self.subscribed_metadata.values().copied().collect();
        let subscriptions: BTreeMap<&str, BTreeSet<TopicId>> = self
            .members
            .values()
            .map(|m| (m.id.as_str(), self.subscribed_ids(m)))
            .collect();
        let empty = Assignment::new();
        let specs: Vec<MemberSpec<'_>> = self
            .members
            .values()
            .map(|m| MemberSpec {
                member_id: &m.id,
                instance_id: m.meta.instance_id.as_deref(),
                subscribed: &subscriptions[m.id.as_str()],
                current: self.target.get(&m.id).unwrap_or(&empty),
            })
            .collect();
        let result = assignor.assign(&specs, &topics);
        let mut records: Vec<Record> = result
            .into_iter()
            .filter(|(id, a)| self.target.get(id).unwrap_or(&empty) != a)
            .map(|(member, a)| Record::TargetAssignmentMember {
                group: self.id.clone(),
                member,
                value: Some(a),
            })
            .collect();
        records.push(Record::TargetAssignmentMetadata {
            group: self.id.clone(),
            value: Some(self.group_epoch),
        });
        for r in records {
            self.write(r, out);
        }
    }

    /// Removes a member (left, or timed out): tombstones for its records 8, 7 and 5, for its regex if
    /// nobody else uses it, then a group epoch bump (`consumerGroupFenceMember`).
    fn fence(&mut self, member_id: &str, topics: Option<&Topics>, out: &mut Vec<Record>) {
        let Some(regex) = self.members.get(member_id).map(|m| m.regex().map(str::to_string)) else {
            return;
        };
        let (group, member) = (self.id.clone(), member_id.to_string());
        self.write(
            Record::CurrentMemberAssignment {
                group: group.clone(),
                member: member.clone(),
                value: None,
            },
            out,
        );
        self.write(
            Record::TargetAssignmentMember {
                group: group.clone(),
                member: member.clone(),
                value: None,
            },
            out,
        );
        self.write(
            Record::MemberMetadata {
                group: group.clone(),
                member,
                value: None,
            },
            out,
        );
        if let Some(regex) = regex {
            self.drop_regex_if_unused(&regex, out);
        }
        let (metadata, hash) = self.compute_metadata(topics);
        self.subscribed_metadata = metadata;
        let epoch = self.group_epoch + 1;
        self.write(
            Record::GroupMetadata {
                group,
                value: Some(GroupMetadataValue {
                    epoch,
                    metadata_hash: hash,
                }),
            },
            out,
        );
    }

    fn drop_regex_if_unused(&mut self, regex: &str, out: &mut Vec<Record>) {
        let used = self.members.values().any(|m| m.regex() == Some(regex));
        if !used {
            self.regex_filters.remove(regex);
        }
        if !used && self.regexes.contains_key(regex) {
            let group = self.id.clone();
            self.write(
                Record::RegularExpression {
                    group,
                    regex: regex.to_string(),
                    value: None,
                },
                out,
            );
        }
    }

    /// Resolves `regex` against `topics` and writes the result if it changed.
    fn resolve_regex(&mut self, regex: &str, compiled: &Regex, topics: &Topics, now: Ms, out: &mut Vec<Record>) {
        let filter = self.regex_filters.get(regex);
        let matching: Vec<String> = topics
            .keys()
            .filter(|n| compiled.is_match(n))
            .filter(|n| filter.is_none_or(|f| (f.0)(n)))
            .cloned()
            .collect();
        if self.regexes.get(regex).map(|v| &v.topics) == Some(&matching) {
            return;
        }
        let group = self.id.clone();
        let version = i64::from(self.group_epoch);
        self.write(
            Record::RegularExpression {
                group,
                regex: regex.to_string(),
                value: Some(RegexValue {
                    topics: matching,
                    version,
                    timestamp: now,
                }),
            },
            out,
        );
    }

    /// Every live record of this group, in an order that replays to the same state.
    fn live_records(&self) -> Vec<Record> {
        let group = || self.id.clone();
        let mut out = vec![Record::GroupMetadata {
            group: group(),
            value: Some(GroupMetadataValue {
                epoch: self.group_epoch,
                metadata_hash: self.metadata_hash,
            }),
        }];
        out.extend(self.regexes.iter().map(|(regex, v)| Record::RegularExpression {
            group: group(),
            regex: regex.clone(),
            value: Some(v.clone()),
        }));
        out.extend(self.members.values().map(|m| Record::MemberMetadata {
            group: group(),
            member: m.id.clone(),
            value: Some(m.meta.clone()),
        }));
        out.extend(self.target.iter().map(|(member, a)| Record::TargetAssignmentMember {
            group: group(),
            member: member.clone(),
            value: Some(a.clone()),
        }));
        out.push(Record::TargetAssignmentMetadata {
            group: group(),
            value: Some(self.assignment_epoch),
        });
        out.extend(self.members.values().map(|m| Record::CurrentMemberAssignment {
            group: group(),
            member: m.id.clone(),
            value: Some(m.current.clone()),
        }));
        out
    }
}

fn for_each_owned(v: &CurrentAssignmentValue, mut f: impl FnMut(TopicId, i32)) {
    for a in [&v.assigned, &v.pending_revocation] {
        for (t, ps) in a {
            for p in ps {
                f(*t, *p);
            }
        }
    }
}

fn release(owners: &mut Owners, member: &str, v: &CurrentAssignmentValue) {
    for_each_owned(v, |t, p| {
        if owners.get(&(t, p)).is_some_and(|(o, _)| o == member) {
            owners.remove(&(t, p));
        }
    });
}

fn claim(owners: &mut Owners, member: &str, v: &CurrentAssignmentValue) {
    for_each_owned(v, |t, p| {
        owners.insert((t, p), (member.to_string(), v.member_epoch));
    });
}

/// FNV-1a over the sorted metadata; 0 when nothing is subscribed.
fn metadata_hash(metadata: &BTreeMap<String, (TopicId, i32)>) -> i64 {
    if metadata.is_empty() {
        return 0;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for (name, (id, partitions)) in metadata {
        eat(name.as_bytes());
        eat(&[0]);
        eat(&id.0);
        eat(&partitions.to_be_bytes());
    }
    h as i64
}

/// Compiles a subscription regex for whole-name matching. The expression is checked alone first, so that
/// wrapping it in an anchored group cannot change its meaning.
fn compile_regex(regex: &str) -> Result<Regex, regex::Error> {
    Regex::new(regex)?;
    Regex::new(&format!("^(?:{regex})$"))
}

/// Whether `owned` (None: not reported) still lists any partition of `set`.
fn owns_any(owned: Option<&[(TopicId, Vec<i32>)]>, set: &Assignment) -> bool {
    let Some(owned) = owned else {
        return true;
    };
    owned
        .iter()
        .any(|(t, ps)| set.get(t).is_some_and(|s| ps.iter().any(|p| s.contains(p))))
}

/// Whether `owned` lists only partitions of `assigned` (the lost-response rule).
fn is_subset(owned: Option<&[(TopicId, Vec<i32>)]>, assigned: &Assignment) -> bool {
    let Some(owned) = owned else {
        return false;
    };
    owned
        .iter()
        .all(|(t, ps)| assigned.get(t).is_some_and(|s| ps.iter().all(|p| s.contains(p))))
}

/// `throwIfConsumerGroupMemberEpochIsInvalid`, with the accept of epoch 0 (KAFKA-19233).
fn check_epoch(m: &Member, received: i32, owned: Option<&[(TopicId, Vec<i32>)]>) -> Result<(), Refusal> {
    let stored = m.current.member_epoch;
    if received == 0 {
        return Ok(());
    }
    if received > stored {
        return refuse(
            ErrorCode::FencedMemberEpoch,
            format!(
                "member epoch {received} is newer than the coordinator's {stored}: the member must give up its \
                 partitions and rejoin"
            ),
        );
    }
    if received < stored && (received != m.current.previous_member_epoch || !is_subset(owned, &m.current.assigned)) {
        return refuse(
            ErrorCode::FencedMemberEpoch,
            format!(
                "member epoch {received} is older than the coordinator's {stored}: the member must give up its \
                 partitions and rejoin"
            ),
        );
    }
    Ok(())
}

/// Reconciles a member towards its target (`CurrentAssignmentBuilder.build`); the result equals the
/// member's current value when it cannot move.
fn reconcile(
    m: &Member,
    target_epoch: i32,
    target: &Assignment,
    owned: Option<&[(TopicId, Vec<i32>)]>,
    owners: &Owners,
) -> CurrentAssignmentValue {
    let c = &m.current;
    match c.state {
        MemberState::Stable if c.member_epoch == target_epoch => c.clone(),
        MemberState::Stable | MemberState::UnreleasedPartitions => {
            next_assignment(m, c.member_epoch, target_epoch, target, owned, owners)
        }
        MemberState::UnrevokedPartitions if owns_any(owned, &c.pending_revocation) => c.clone(),
        // Revoked: move to the next epoch only, one at a time.
        MemberState::UnrevokedPartitions => next_assignment(m, c.member_epoch + 1, target_epoch, target, owned, owners),
        MemberState::Unknown => next_assignment(m, target_epoch, target_epoch, target, owned, owners),
    }
}

/// `computeNextAssignment`: keep what stays, revoke what goes (the member stays at `epoch` until it
/// stops reporting those), add what is free.
fn next_assignment(
    m: &Member,
    epoch: i32,
    target_epoch: i32,
    target: &Assignment,
    owned: Option<&[(TopicId, Vec<i32>)]>,
    owners: &Owners,
) -> CurrentAssignmentValue {
    let c = &m.current;
    let empty = BTreeSet::new();
    let mut keep = Assignment::new();
    let mut revoke = Assignment::new();
    let mut add = Assignment::new();
    let mut unreleased = false;
    let topics: BTreeSet<TopicId> = target.keys().chain(c.assigned.keys()).copied().collect();
    for t in topics {
        let wanted = target.get(&t).unwrap_or(&empty);
        let had = c.assigned.get(&t).unwrap_or(&empty);
        let k: BTreeSet<i32> = had.intersection(wanted).copied().collect();
        let r: BTreeSet<i32> = had.difference(&k).copied().collect();
        let mut a: BTreeSet<i32> = wanted.difference(&k).copied().collect();
        // A partition another member still owns is not added yet. One this member owns (pending
        // revocation) is free for it.
        a.retain(|p| match owners.get(&(t, *p)) {
            Some((owner, _)) if *owner != m.id => {
                unreleased = true;
                false
            }
            _ => true,
        });
        for (set, part) in [(&mut keep, k), (&mut revoke, r), (&mut add, a)] {
            if !part.is_empty() {
                set.insert(t, part);
            }
        }
    }
    if !revoke.is_empty() && owns_any(owned, &revoke) {
        return CurrentAssignmentValue {
            member_epoch: epoch,
            previous_member_epoch: c.member_epoch,
            state: MemberState::UnrevokedPartitions,
            assigned: keep,
            pending_revocation: revoke,
        };
    }
    for (t, ps) in add {
        keep.entry(t).or_default().extend(ps);
    }
    CurrentAssignmentValue {
        member_epoch: target_epoch,
        previous_member_epoch: c.member_epoch,
        state: if unreleased {
            MemberState::UnreleasedPartitions
        } else {
            MemberState::Stable
        },
        assigned: keep,
        pending_revocation: Assignment::new(),
    }
}

/// Member ids for v0 members that send none: 16 pseudo-random bytes in Kafka's text form (22 characters
/// of URL-safe base64), from a seed the driver picks at random.
#[derive(Debug)]
struct IdSource(u64);

impl IdSource {
    fn next_u64(&mut self) -> u64 {
        // splitmix64.
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn member_id(&mut self) -> String {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next_u64().to_be_bytes());
        bytes[8..].copy_from_slice(&self.next_u64().to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }
}

/// Every consumer group of this coordinator.
#[derive(Debug)]
pub(crate) struct ConsumerGroups {
    pub(crate) config: ConsumerGroupConfig,
    groups: BTreeMap<String, ConsumerGroup>,
    ids: IdSource,
}

fn blank(s: &str) -> bool {
    // Java's String.trim() drops every character up to U+0020.
    s.chars().all(|c| c <= ' ')
}

impl ConsumerGroups {
    /// `seed` drives the member ids generated for v0 members; pick it at random.
    pub(crate) fn new(config: ConsumerGroupConfig, seed: u64) -> Self {
        ConsumerGroups {
            config,
            groups: BTreeMap::new(),
            ids: IdSource(seed),
        }
    }

    /// Whether this module holds the group.
    pub(crate) fn contains(&self, group_id: &str) -> bool {
        self.groups.contains_key(group_id)
    }

    /// Whether the group exists and has no members.
    pub(crate) fn is_empty(&self, group_id: &str) -> bool {
        self.groups.get(group_id).is_some_and(|g| g.members.is_empty())
    }

    /// A group's state.
    #[cfg(test)]
    pub(crate) fn state(&self, group_id: &str) -> Option<GroupState> {
        self.groups.get(group_id).map(ConsumerGroup::state)
    }

    /// ListGroups: each group's id and state.
    pub(crate) fn list(&self) -> Vec<(String, &'static str)> {
        self.groups.values().map(|g| (g.id.clone(), g.state().name())).collect()
    }

    /// `throwIfConsumerGroupHeartbeatRequestIsInvalid` (§3.2), in Kafka's order.
    fn validate(&self, req: &HeartbeatRequest) -> Result<(), Refusal> {
        let invalid = |message: String| refuse(ErrorCode::InvalidRequest, message);
        if (req.version >= CLIENT_MEMBER_ID_VERSION || req.member_epoch > 0 || req.member_epoch == LEAVE_EPOCH)
            && blank(&req.member_id)
        {
            return invalid("MemberId must be set (and not blank)".into());
        }
        if blank(&req.group_id) {
            return invalid("GroupId must not be blank".into());
        }
        if req.instance_id.as_deref().is_some_and(blank) {
            return invalid("InstanceId must not be blank".into());
        }
        if req.rack_id.as_deref().is_some_and(blank) {
            return invalid("RackId must not be blank".into());
        }
        match req.member_epoch {
            0 => {
                if req.rebalance_timeout_ms == -1 {
                    return invalid("RebalanceTimeoutMs is required when joining".into());
                }
                if !req.topic_partitions.as_ref().is_some_and(Vec::is_empty) {
                    return invalid("TopicPartitions must be an empty list when joining".into());
                }
                if req.subscribed_topic_names.is_none() && req.subscribed_topic_regex.is_none() {
                    return invalid("SubscribedTopicNames or SubscribedTopicRegex is required when joining".into());
                }
            }
            STATIC_LEAVE_EPOCH if req.instance_id.is_none() => {
                return invalid("InstanceId is required to leave with epoch -2".into());
            }
            e if e < STATIC_LEAVE_EPOCH => return invalid(format!("MemberEpoch {e} is not valid")),
            _ => {}
        }
        if let Some(name) = &req.server_assignor {
            let known = Assignor::from_name(name).is_some_and(|a| self.config.assignors.contains(&a));
            if !known {
                let names: Vec<&str> = self.config.assignors.iter().map(|a| a.name()).collect();
                return refuse(
                    ErrorCode::UnsupportedAssignor,
                    format!(
                        "ServerAssignor {name} is not supported; this coordinator has: {}",
                        names.join(", ")
                    ),
                );
            }
        }
        Ok(())
    }

    /// ConsumerGroupHeartbeat: the answer and the records to persist (before the answer is sent).
    pub(crate) fn heartbeat(
        &mut self,
        req: &HeartbeatRequest,
        now: Ms,
        topics: &Topics,
    ) -> (HeartbeatResponse, Vec<Record>) {
        let mut out = Vec::new();
        let result = self.validate(req).and_then(|()| {
            let leaving = req.member_epoch == LEAVE_EPOCH || req.member_epoch == STATIC_LEAVE_EPOCH;
            let created = !leaving && req.member_epoch == 0 && !self.groups.contains_key(&req.group_id);
            if created {
                self.groups
                    .insert(req.group_id.clone(), ConsumerGroup::new(&req.group_id));
            }
            let Some(group) = self.groups.get_mut(&req.group_id) else {
                return refuse(
                    ErrorCode::GroupIdNotFound,
                    format!("group {} does not exist", req.group_id),
                );
            };
            let result = if leaving {
                leave(group, req, topics, &mut out)
            } else {
                join_or_heartbeat(&self.config, &mut self.ids, group, req, now, topics, &mut out)
            };
            if result.is_err() && created {
                self.groups.remove(&req.group_id);
            }
            result
        });
        match result {
            Ok(response) => (response, out),
            Err(r) => {
                debug_assert!(out.is_empty(), "a refused heartbeat wrote records: {out:?}");
                (HeartbeatResponse::refused(r), Vec::new())
            }
        }
    }

    /// The broker's metadata changed: re-resolves every regular expression and bumps the epoch of each
    /// group whose subscribed topics' metadata changed, so that the next heartbeat computes a new target.
    pub(crate) fn topics_changed(&mut self, topics: &Topics, now: Ms) -> Vec<Record> {
        self.topics_changed_for(topics, now, |_| true)
    }

    /// [`ConsumerGroups::topics_changed`] for the groups `which` picks only (those just loaded).
    pub(crate) fn topics_changed_for(&mut self, topics: &Topics, now: Ms, which: impl Fn(&str) -> bool) -> Vec<Record> {
        let mut out = Vec::new();
        for group in self.groups.values_mut().filter(|g| which(&g.id)) {
            let regexes: BTreeSet<String> = group
                .members
                .values()
                .filter_map(|m| m.regex().map(String::from))
                .collect();
            for regex in regexes {
                if let Ok(compiled) = compile_regex(&regex) {
                    group.resolve_regex(&regex, &compiled, topics, now, &mut out);
                }
            }
            let (metadata, hash) = group.compute_metadata(Some(topics));
            group.subscribed_metadata = metadata;
            if hash != group.metadata_hash {
                let (id, epoch) = (group.id.clone(), group.group_epoch + 1);
                group.write(
                    Record::GroupMetadata {
                        group: id,
                        value: Some(GroupMetadataValue {
                            epoch,
                            metadata_hash: hash,
                        }),
                    },
                    &mut out,
                );
            }
        }
        out
    }

    /// Fences the members whose session expired, and those still at the epoch their rebalance timer was
    /// armed for.
    pub(crate) fn tick(&mut self, now: Ms) -> Vec<Record> {
        let mut out = Vec::new();
        for group in self.groups.values_mut() {
            let mut due = Vec::new();
            for m in group.members.values_mut() {
                if let Some((deadline, epoch)) = m.rebalance_deadline {
                    if deadline <= now {
                        m.rebalance_deadline = None;
                        if m.current.member_epoch == epoch {
                            due.push(m.id.clone());
                            continue;
                        }
                    }
                }
                if m.session_deadline.is_some_and(|d| d <= now) {
                    due.push(m.id.clone());
                }
            }
            for id in due {
                group.fence(&id, None, &mut out);
            }
        }
        out
    }

    /// The earliest time [`ConsumerGroups::tick`] has something to do.
    pub(crate) fn next_deadline(&self) -> Option<Ms> {
        self.groups
            .values()
            .flat_map(|g| g.members.values())
            .flat_map(|m| {
                m.session_deadline
                    .into_iter()
                    .chain(m.rebalance_deadline.map(|(d, _)| d))
            })
            .min()
    }

    /// Rebuilds state from a record read back from `__consumer_offsets`. A member's timers are armed from
    /// `now`: the session timer, and the rebalance timer while it is in UNREVOKED_PARTITIONS. Call
    /// [`ConsumerGroups::topics_changed`] once loading is done.
    pub(crate) fn replay(&mut self, record: Record, now: Ms) {
        let group_id = record.group().to_string();
        if record.is_tombstone() {
            if matches!(record, Record::GroupMetadata { .. }) {
                self.groups.remove(&group_id);
                return;
            }
            if let Some(g) = self.groups.get_mut(&group_id) {
                g.apply(&record);
            }
            return;
        }
        let g = self
            .groups
            .entry(group_id.clone())
            .or_insert_with(|| ConsumerGroup::new(&group_id));
        g.apply(&record);
        let member = match &record {
            Record::MemberMetadata { member, .. } | Record::CurrentMemberAssignment { member, .. } => member,
            _ => return,
        };
        let session = Ms::from(self.config.session_timeout_ms);
        if let Some(m) = g.members.get_mut(member) {
            m.session_deadline = Some(now + session);
            m.rebalance_deadline = (m.current.state == MemberState::UnrevokedPartitions).then(|| {
                (
                    now + Ms::from(m.meta.rebalance_timeout_ms.max(0)),
                    m.current.member_epoch,
                )
            });
        }
    }

    /// Forgets the groups `which` picks (their `__consumer_offsets` partition is led elsewhere now), with
    /// their members' timers. Nothing is persisted: the log keeps them.
    pub(crate) fn unload(&mut self, which: impl Fn(&str) -> bool) {
        self.groups.retain(|id, _| !which(id));
    }

    /// Every live record, group by group (for rewriting `__consumer_offsets`).
    pub(crate) fn live_records(&self) -> Vec<Record> {
        self.groups.values().flat_map(ConsumerGroup::live_records).collect()
    }

    /// ConsumerGroupDescribe for each group id; `topics` names the topic ids.
    pub(crate) fn describe(&self, group_ids: &[String], topics: &Topics) -> Vec<DescribedGroup> {
        let names: BTreeMap<TopicId, &str> = topics.iter().map(|(n, (id, _))| (*id, n.as_str())).collect();
        let described = |a: &Assignment| -> Vec<DescribedTopicPartitions> {
            a.iter()
                .filter_map(|(t, ps)| {
                    names.get(t).map(|n| DescribedTopicPartitions {
                        topic_id: *t,
                        topic_name: n.to_string(),
                        partitions: ps.iter().copied().collect(),
                    })
                })
                .collect()
        };
        group_ids
            .iter()
            .map(|id| match self.groups.get(id) {
                None => DescribedGroup {
                    error: ErrorCode::GroupIdNotFound,
                    error_message: Some(format!("group {id} does not exist")),
                    group_id: id.clone(),
                    state: "",
                    group_epoch: 0,
                    assignment_epoch: 0,
                    assignor_name: String::new(),
                    members: Vec::new(),
                },
                Some(g) => DescribedGroup {
                    error: ErrorCode::None,
                    error_message: None,
                    group_id: g.id.clone(),
                    state: g.state().name(),
                    group_epoch: g.group_epoch,
                    assignment_epoch: g.assignment_epoch,
                    assignor_name: g.preferred_assignor(&self.config).name().to_string(),
                    members: g
                        .members
                        .values()
                        .map(|m| DescribedMember {
                            member_id: m.id.clone(),
                            instance_id: m.meta.instance_id.clone(),
                            rack_id: m.meta.rack_id.clone(),
                            member_epoch: m.current.member_epoch,
                            client_id: m.meta.client_id.clone(),
                            client_host: m.meta.client_host.clone(),
                            subscribed_topic_names: m.meta.subscribed_topic_names.clone(),
                            subscribed_topic_regex: m.meta.subscribed_topic_regex.clone(),
                            assignment: described(&m.current.assigned),
                            target_assignment: g.target.get(&m.id).map(described).unwrap_or_default(),
                        })
                        .collect(),
                },
            })
            .collect()
    }

    /// `ConsumerGroup.validateOffsetCommit` (§3.8) for an OffsetCommit of `api_version`. A negative epoch
    /// on a group without members is accepted (admin tools). Every member here uses the consumer protocol,
    /// so commits below v9 get UNSUPPORTED_VERSION and a wrong epoch STALE_MEMBER_EPOCH. A TxnOffsetCommit
    /// passes `i16::MAX` as the version and maps STALE_MEMBER_EPOCH to ILLEGAL_GENERATION. An unknown group
    /// gets GROUP_ID_NOT_FOUND (the caller checks [`ConsumerGroups::contains`] first).
    pub(crate) fn validate_offset_commit(
        &self,
        group_id: &str,
        member_id: &str,
        member_epoch: i32,
        api_version: i16,
    ) -> Result<(), ErrorCode> {
        let g = self.groups.get(group_id).ok_or(ErrorCode::GroupIdNotFound)?;
        if member_epoch < 0 && g.members.is_empty() {
            return Ok(());
        }
        let m = g.members.get(member_id).ok_or(ErrorCode::UnknownMemberId)?;
        if api_version < 9 {
            return Err(ErrorCode::UnsupportedVersion);
        }
        if member_epoch != m.current.member_epoch {
            return Err(ErrorCode::StaleMemberEpoch);
        }
        Ok(())
    }

    /// `ConsumerGroup.validateOffsetFetch` (§3.8): no member id and a negative epoch is an admin fetch;
    /// otherwise the member must exist and the epoch match.
    pub(crate) fn validate_offset_fetch(
        &self,
        group_id: &str,
        member_id: Option<&str>,
        member_epoch: i32,
    ) -> Result<(), ErrorCode> {
        let g = self.groups.get(group_id).ok_or(ErrorCode::GroupIdNotFound)?;
        if member_epoch < 0 && member_id.is_none() {
            return Ok(());
        }
        let m = member_id
            .and_then(|id| g.members.get(id))
            .ok_or(ErrorCode::UnknownMemberId)?;
        if member_epoch != m.current.member_epoch {
            return Err(ErrorCode::StaleMemberEpoch);
        }
        Ok(())
    }

    /// A copy of one group's state, to put back with [`ConsumerGroups::restore`] if the records of a
    /// change could not be written (Kafka reverts to its last committed state the same way).
    pub(crate) fn snapshot(&self, group_id: &str) -> GroupSnapshot {
        GroupSnapshot(group_id.to_string(), self.groups.get(group_id).cloned())
    }

    /// Puts a group back as [`ConsumerGroups::snapshot`] saw it (absent if it did not exist).
    pub(crate) fn restore(&mut self, snapshot: GroupSnapshot) {
        match snapshot.1 {
            Some(g) => {
                self.groups.insert(snapshot.0, g);
            }
            None => {
                self.groups.remove(&snapshot.0);
            }
        }
    }

    /// The topics the group's members subscribe to (by name or through a regular expression); `None`
    /// for an unknown group.
    pub(crate) fn subscribed_topics(&self, group_id: &str) -> Option<BTreeSet<String>> {
        let g = self.groups.get(group_id)?;
        Some(g.subscribed_names().into_iter().map(String::from).collect())
    }

    /// DeleteGroups: NON_EMPTY_GROUP while members remain, GROUP_ID_NOT_FOUND for an unknown group;
    /// otherwise the group is removed and its tombstones returned in Kafka's order (§2.6), the group
    /// metadata (type 3) last.
    pub(crate) fn delete(&mut self, group_id: &str) -> Result<Vec<Record>, ErrorCode> {
        let g = self.groups.get(group_id).ok_or(ErrorCode::GroupIdNotFound)?;
        if !g.members.is_empty() {
            return Err(ErrorCode::NonEmptyGroup);
        }
        let group = || group_id.to_string();
        let mut out: Vec<Record> = g
            .target
            .keys()
            .map(|member| Record::TargetAssignmentMember {
                group: group(),
                member: member.clone(),
                value: None,
            })
            .collect();
        out.push(Record::TargetAssignmentMetadata {
            group: group(),
            value: None,
        });
        out.extend(g.regexes.keys().map(|regex| Record::RegularExpression {
            group: group(),
            regex: regex.clone(),
            value: None,
        }));
        out.push(Record::GroupMetadata {
            group: group(),
            value: None,
        });
        self.groups.remove(group_id);
        Ok(out)
    }
}

/// Which member a heartbeat is for.
enum Plan {
    Existing,
    New,
    /// A static member rejoining with a new member id replaces the one with its instance id.
    Replace(String),
}

/// A heartbeat with epoch 0 or more (§3.3 steps 2-8).
fn join_or_heartbeat(
    config: &ConsumerGroupConfig,
    ids: &mut IdSource,
    group: &mut ConsumerGroup,
    req: &HeartbeatRequest,
    now: Ms,
    topics: &Topics,
    out: &mut Vec<Record>,
) -> Result<HeartbeatResponse, Refusal> {
    let joining = req.member_epoch == 0;
    let owned = req.topic_partitions.as_deref();
    if group.members.len() >= config.max_size
        && (req.member_id.is_empty() || !group.members.contains_key(&req.member_id))
    {
        return refuse(
            ErrorCode::GroupMaxSizeReached,
            format!("group {} is full ({} members)", group.id, config.max_size),
        );
    }
    let member_id = if req.member_id.is_empty() {
        // v0: the coordinator names the member.
        loop {
            let id = ids.member_id();
            if !group.members.contains_key(&id) {
                break id;
            }
        }
    } else {
        req.member_id.clone()
    };
    let group_id = group.id.clone();
    let unknown_member = || {
        refuse(
            ErrorCode::UnknownMemberId,
            format!("member {member_id} is not in group {group_id}"),
        )
    };

    // Decide who this is before writing anything.
    let plan = match &req.instance_id {
        None => match group.members.get(&member_id) {
            Some(m) => {
                check_epoch(m, req.member_epoch, owned)?;
                Plan::Existing
            }
            None if joining => Plan::New,
            None => return unknown_member(),
        },
        Some(instance) => {
            let holder = group.statics.get(instance).filter(|id| group.members.contains_key(*id));
            match (joining, holder) {
                (true, None) if group.members.contains_key(&member_id) => Plan::Existing,
                (true, None) => Plan::New,
                (true, Some(old)) => {
                    if group.members[old].current.member_epoch != STATIC_LEAVE_EPOCH {
                        return refuse(
                            ErrorCode::UnreleasedInstanceId,
                            format!(
                                "instance id {instance} is still held by member {old}, which has not left the group"
                            ),
                        );
                    }
                    Plan::Replace(old.clone())
                }
                (false, None) => {
                    return refuse(
                        ErrorCode::UnknownMemberId,
                        format!("instance id {instance} is not in group {}", group.id),
                    )
                }
                (false, Some(old)) if *old != member_id => {
                    return refuse(
                        ErrorCode::FencedInstanceId,
                        format!("instance id {instance} belongs to member {old}, not {member_id}"),
                    )
                }
                (false, Some(_)) => {
                    check_epoch(&group.members[&member_id], req.member_epoch, owned)?;
                    Plan::Existing
                }
            }
        }
    };
    // A member in a state this version does not know must come back with nothing.
    let state = match &plan {
        Plan::Existing => group.members[&member_id].current.state,
        Plan::Replace(old) => group.members[old].current.state,
        Plan::New => MemberState::Stable,
    };
    if state == MemberState::Unknown && !owned.is_some_and(<[_]>::is_empty) {
        return refuse(
            ErrorCode::FencedMemberEpoch,
            "the member is in an unknown state: it must give up its partitions and rejoin",
        );
    }
    // A regular expression nobody in the group uses yet must compile.
    let new_regex = req.subscribed_topic_regex.as_deref().filter(|r| !r.is_empty());
    let compiled = match new_regex {
        Some(r) if !group.regexes.contains_key(r) => match compile_regex(r) {
            Ok(c) => Some(c),
            Err(e) => {
                return refuse(
                    ErrorCode::InvalidRegularExpression,
                    format!("SubscribedTopicRegex {r} is not valid: {e}"),
                )
            }
        },
        _ => None,
    };

    // From here on, only writes.
    let gid = group.id.clone();
    let before: Member = match &plan {
        Plan::Existing => group.members[&member_id].clone(),
        Plan::New => Member::new(&member_id),
        Plan::Replace(old_id) => {
            let old = group.members[old_id].clone();
            let old_target = group.target.get(old_id).cloned().unwrap_or_default();
            for r in [
                Record::CurrentMemberAssignment {
                    group: gid.clone(),
                    member: old_id.clone(),
                    value: None,
                },
                Record::TargetAssignmentMember {
                    group: gid.clone(),
                    member: old_id.clone(),
                    value: None,
                },
                Record::MemberMetadata {
                    group: gid.clone(),
                    member: old_id.clone(),
                    value: None,
                },
            ] {
                group.write(r, out);
            }
            let mut copy = Member::new(&member_id);
            copy.meta = old.meta.clone();
            copy.current = CurrentAssignmentValue {
                member_epoch: 0,
                previous_member_epoch: 0,
                ..old.current.clone()
            };
            for r in [
                Record::MemberMetadata {
                    group: gid.clone(),
                    member: member_id.clone(),
                    value: Some(copy.meta.clone()),
                },
                Record::TargetAssignmentMember {
                    group: gid.clone(),
                    member: member_id.clone(),
                    value: Some(old_target),
                },
                Record::CurrentMemberAssignment {
                    group: gid.clone(),
                    member: member_id.clone(),
                    value: Some(copy.current.clone()),
                },
            ] {
                group.write(r, out);
            }
            copy
        }
    };

    // Step 5: the member's fields.
    let mut meta = before.meta.clone();
    if let Some(v) = &req.instance_id {
        meta.instance_id = Some(v.clone());
    }
    if let Some(v) = &req.rack_id {
        meta.rack_id = Some(v.clone());
    }
    if req.rebalance_timeout_ms != -1 {
        meta.rebalance_timeout_ms = req.rebalance_timeout_ms;
    }
    if let Some(v) = &req.server_assignor {
        meta.server_assignor = Some(v.clone());
    }
    if let Some(names) = &req.subscribed_topic_names {
        let sorted: BTreeSet<&String> = names.iter().collect();
        meta.subscribed_topic_names = sorted.into_iter().cloned().collect();
    }
    if let Some(v) = &req.subscribed_topic_regex {
        meta.subscribed_topic_regex = Some(v.clone());
    }
    meta.client_id = req.client_id.clone();
    meta.client_host = req.client_host.clone();
    let old_regex = before.regex().map(str::to_string);
    let regex_changed = old_regex.as_deref() != meta.subscribed_topic_regex.as_deref().filter(|r| !r.is_empty());
    let subscription_changed = meta.subscribed_topic_names != before.meta.subscribed_topic_names || regex_changed;
    if matches!(plan, Plan::New) || meta != before.meta {
        group.write(
            Record::MemberMetadata {
                group: gid.clone(),
                member: member_id.clone(),
                value: Some(meta),
            },
            out,
        );
    }
    // The latest subscriber's view resolves the regex from now on (Kafka: the member whose heartbeat
    // triggers the resolution).
    if let (Some(regex), Some(filter)) = (new_regex, &req.describable) {
        group.regex_filters.insert(regex.to_string(), filter.clone());
    }
    if regex_changed {
        if let Some(old) = &old_regex {
            group.drop_regex_if_unused(old, out);
        }
        if let (Some(regex), Some(compiled)) = (new_regex, &compiled) {
            group.resolve_regex(regex, compiled, topics, now, out);
        }
    }
    let (metadata, hash) = group.compute_metadata(Some(topics));
    group.subscribed_metadata = metadata;
    if group.group_epoch == 0 || subscription_changed || hash != group.metadata_hash {
        let epoch = group.group_epoch + 1;
        group.write(
            Record::GroupMetadata {
                group: gid.clone(),
                value: Some(GroupMetadataValue {
                    epoch,
                    metadata_hash: hash,
                }),
            },
            out,
        );
    }

    // Step 6: a new target when the group moved on.
    if group.group_epoch > group.assignment_epoch {
        group.compute_target(config, out);
    }

    // Step 7: reconcile this member only.
    let target_epoch = group.assignment_epoch;
    let target = group.target.get(&member_id).cloned().unwrap_or_default();
    let member = &group.members[&member_id];
    if !member.is_reconciled_to(target_epoch) {
        let next = reconcile(member, target_epoch, &target, owned, &group.owners);
        if next != member.current {
            let unrevoked = (next.state == MemberState::UnrevokedPartitions).then_some(next.member_epoch);
            group.write(
                Record::CurrentMemberAssignment {
                    group: gid,
                    member: member_id.clone(),
                    value: Some(next),
                },
                out,
            );
            if let Some(m) = group.members.get_mut(&member_id) {
                m.rebalance_deadline = unrevoked.map(|e| (now + Ms::from(m.meta.rebalance_timeout_ms.max(0)), e));
            }
        }
    }

    // Step 8: the session timer and the answer.
    let Some(m) = group.members.get_mut(&member_id) else {
        return unknown_member();
    };
    m.session_deadline = Some(now + Ms::from(config.session_timeout_ms));
    let full = joining
        || (req.rebalance_timeout_ms != -1
            && (req.subscribed_topic_names.is_some() || req.subscribed_topic_regex.is_some())
            && req.topic_partitions.is_some());
    let changed = m.current.assigned != before.current.assigned;
    let epoch = m.current.member_epoch;
    let assigned = (full || changed).then(|| m.current.assigned.clone());
    // While the group reconciles, its members come back sooner than the configured interval: a member
    // waiting for partitions another member is releasing picks them up within RECONCILING_HEARTBEAT_MS
    // of their release instead of at its next regular heartbeat. Kafka answers the configured interval
    // always; the field is the coordinator's to choose (librdkafka and the Java client follow it).
    let interval = if group.state() == GroupState::Stable {
        config.heartbeat_interval_ms
    } else {
        config.heartbeat_interval_ms.min(RECONCILING_HEARTBEAT_MS)
    };
    Ok(HeartbeatResponse {
        error: ErrorCode::None,
        error_message: None,
        member_id: Some(member_id.clone()),
        member_epoch: epoch,
        heartbeat_interval_ms: interval,
        assignment: assigned,
    })
}

/// The heartbeat interval answered to members of a group that is not Stable (see `join_or_heartbeat`).
pub(crate) const RECONCILING_HEARTBEAT_MS: i32 = 500;

/// A heartbeat with epoch -1 or -2 (§3.6).
fn leave(
    group: &mut ConsumerGroup,
    req: &HeartbeatRequest,
    topics: &Topics,
    out: &mut Vec<Record>,
) -> Result<HeartbeatResponse, Refusal> {
    let member_id = match &req.instance_id {
        None if group.members.contains_key(&req.member_id) => req.member_id.clone(),
        None => {
            return refuse(
                ErrorCode::UnknownMemberId,
                format!("member {} is not in group {}", req.member_id, group.id),
            )
        }
        Some(instance) => match group.statics.get(instance).filter(|id| group.members.contains_key(*id)) {
            None => {
                return refuse(
                    ErrorCode::UnknownMemberId,
                    format!("instance id {instance} is not in group {}", group.id),
                )
            }
            Some(id) if *id != req.member_id => {
                return refuse(
                    ErrorCode::FencedInstanceId,
                    format!("instance id {instance} belongs to member {id}, not {}", req.member_id),
                )
            }
            Some(id) => id.clone(),
        },
    };
    let answer = |epoch: i32| HeartbeatResponse {
        error: ErrorCode::None,
        error_message: None,
        member_id: Some(member_id.clone()),
        member_epoch: epoch,
        heartbeat_interval_ms: 0,
        assignment: None,
    };
    if req.member_epoch == STATIC_LEAVE_EPOCH {
        // The member keeps its assigned partitions (owned at epoch -2) and its session timer: no rebalance
        // unless it does not come back in time.
        let mut value = group.members[&member_id].current.clone();
        value.member_epoch = STATIC_LEAVE_EPOCH;
        value.pending_revocation.clear();
        let gid = group.id.clone();
        group.write(
            Record::CurrentMemberAssignment {
                group: gid,
                member: member_id.clone(),
                value: Some(value),
            },
            out,
        );
        if let Some(m) = group.members.get_mut(&member_id) {
            m.rebalance_deadline = None;
        }
        return Ok(answer(STATIC_LEAVE_EPOCH));
    }
    group.fence(&member_id, Some(topics), out);
    Ok(answer(req.member_epoch))
}

#[cfg(test)]
mod tests;
