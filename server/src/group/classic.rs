//! Kafka's classic group protocol as a sans-IO state machine: JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup, group listing and description, with the states Empty → PreparingRebalance →
//! CompletingRebalance → Stable (and Dead), generations, session and rebalance timers, the initial
//! rebalance delay, MEMBER_ID_REQUIRED, static membership and protocol selection by vote.
//!
//! Time is passed in (`now`, in milliseconds) and nothing here waits: a JoinGroup or SyncGroup that Kafka
//! parks gets a [`Ticket`] back and is answered later through an [`Output`], when another request or
//! [`Groups::tick`] completes it. Records to persist (a group's metadata) are [`Output::Store`]; the
//! driver writes them before it delivers the answers emitted with them.
//!
//! The rules follow Kafka 4.x's `GroupMetadataManager` and `ClassicGroup` (see `kafka-facts-2.md` §1).

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;
use protocol::ErrorCode;

/// Milliseconds on the driver's clock.
pub(crate) type Ms = i64;

/// Identifies a parked request.
pub(crate) type Ticket = u64;

/// Group coordinator settings, with Kafka's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupConfig {
    /// `group.initial.rebalance.delay.ms`.
    pub(crate) initial_rebalance_delay_ms: Ms,
    /// `group.min.session.timeout.ms`.
    pub(crate) min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`.
    pub(crate) max_session_timeout_ms: i32,
    /// `group.max.size`.
    pub(crate) max_size: usize,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            initial_rebalance_delay_ms: 3000,
            min_session_timeout_ms: 6000,
            max_session_timeout_ms: 1_800_000,
            max_size: usize::MAX,
        }
    }
}

/// How long a new member's parked JoinGroup may wait (Kafka's `CLASSIC_GROUP_NEW_MEMBER_JOIN_TIMEOUT_MS`).
const NEW_MEMBER_JOIN_TIMEOUT_MS: Ms = 5 * 60 * 1000;

/// A classic group's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    /// The name on the wire (ListGroups, DescribeGroups).
    pub(crate) fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// A JoinGroup request, whatever its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JoinRequest {
    pub(crate) group_id: String,
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) session_timeout_ms: i32,
    /// The session timeout for v0 (Kafka's `maybeOverrideRebalanceTimeout`).
    pub(crate) rebalance_timeout_ms: i32,
    pub(crate) protocol_type: String,
    /// In the member's preference order.
    pub(crate) protocols: Vec<(String, Bytes)>,
    /// v4+: a new dynamic member first gets MEMBER_ID_REQUIRED.
    pub(crate) require_known_member_id: bool,
    /// v9+: a static leader rejoining a stable group can be told to skip the assignment.
    pub(crate) supports_skip_assignment: bool,
}

/// A member as the leader sees it in a JoinGroup answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JoinedMember {
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) metadata: Bytes,
}

/// A JoinGroup answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JoinResult {
    pub(crate) error: ErrorCode,
    pub(crate) generation: i32,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol_name: Option<String>,
    pub(crate) leader: String,
    pub(crate) skip_assignment: bool,
    pub(crate) member_id: String,
    /// Only for the leader (or a static leader rejoining with `skip_assignment`).
    pub(crate) members: Vec<JoinedMember>,
}

impl JoinResult {
    /// The answer to a failed join: generation -1, no protocol, no leader.
    pub(crate) fn error(error: ErrorCode, member_id: &str) -> Self {
        JoinResult {
            error,
            generation: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            skip_assignment: false,
            member_id: member_id.to_string(),
            members: Vec::new(),
        }
    }
}

/// A SyncGroup request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyncRequest {
    pub(crate) group_id: String,
    pub(crate) generation: i32,
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol_name: Option<String>,
    pub(crate) assignments: Vec<(String, Bytes)>,
}

/// A SyncGroup answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyncResult {
    pub(crate) error: ErrorCode,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol_name: Option<String>,
    pub(crate) assignment: Bytes,
}

impl SyncResult {
    /// An answer carrying only `error`.
    pub(crate) fn error(error: ErrorCode) -> Self {
        SyncResult {
            error,
            protocol_type: None,
            protocol_name: None,
            assignment: Bytes::new(),
        }
    }
}

/// What the state machine asks the driver to do.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Output {
    /// Answer a parked (or just received) JoinGroup.
    Join(Ticket, JoinResult),
    /// Answer a parked (or just received) SyncGroup.
    Sync(Ticket, SyncResult),
    /// Persist this group's metadata (before delivering the answers that follow it).
    Store(GroupSnapshot),
}

/// A group's persistent state (Kafka's GroupMetadataValue).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupSnapshot {
    pub(crate) group_id: String,
    pub(crate) protocol_type: String,
    pub(crate) generation: i32,
    pub(crate) protocol: Option<String>,
    pub(crate) leader: Option<String>,
    pub(crate) current_state_timestamp: Ms,
    pub(crate) members: Vec<MemberSnapshot>,
}

/// A member in a [`GroupSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MemberSnapshot {
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) rebalance_timeout_ms: i32,
    pub(crate) session_timeout_ms: i32,
    /// The member's metadata for the selected protocol.
    pub(crate) subscription: Bytes,
    pub(crate) assignment: Bytes,
}

/// A group as DescribeGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupDescription {
    pub(crate) error: ErrorCode,
    pub(crate) group_id: String,
    pub(crate) state: &'static str,
    pub(crate) protocol_type: String,
    pub(crate) protocol_data: String,
    pub(crate) members: Vec<DescribedMember>,
}

/// A member in a [`GroupDescription`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DescribedMember {
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) metadata: Bytes,
    pub(crate) assignment: Bytes,
}

#[derive(Debug, Clone)]
struct Member {
    id: String,
    instance_id: Option<String>,
    client_id: String,
    client_host: String,
    session_timeout_ms: i32,
    rebalance_timeout_ms: i32,
    protocol_type: String,
    protocols: Vec<(String, Bytes)>,
    assignment: Bytes,
    awaiting_join: Option<Ticket>,
    awaiting_sync: Option<Ticket>,
    /// Joined but not yet through a completed join phase (its parked join may wait 5 minutes).
    is_new: bool,
    heartbeat_deadline: Ms,
}

impl Member {
    fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(name, _)| name == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    fn same_protocols(&self, protocols: &[(String, Bytes)]) -> bool {
        self.protocols == protocols
    }

    /// The first protocol of this member's preference list among `candidates`.
    fn vote<'a>(&'a self, candidates: &HashSet<&str>) -> Option<&'a str> {
        self.protocols
            .iter()
            .map(|(n, _)| n.as_str())
            .find(|n| candidates.contains(n))
    }
}

/// The initial rebalance's timer state (`tryCompleteInitialRebalanceElseSchedule`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct InitialDelay {
    delay: Ms,
    remaining: Ms,
}

/// One classic group.
#[derive(Debug, Clone)]
pub(crate) struct ClassicGroup {
    id: String,
    state: GroupState,
    state_timestamp: Ms,
    generation: i32,
    protocol_type: Option<String>,
    protocol: Option<String>,
    leader: Option<String>,
    /// INVARIANT: unique ids; insertion order (the next leader is the first remaining member).
    members: Vec<Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, until they rejoin: id -> expiry.
    pending: HashMap<String, Ms>,
    /// Static instance id -> member id.
    statics: HashMap<String, String>,
    new_member_added: bool,
    /// When the join phase is checked next (rebalance timeout, or the initial delay).
    join_deadline: Option<Ms>,
    initial: Option<InitialDelay>,
    previous_state_empty: bool,
    /// When members that did not sync are expelled.
    sync_deadline: Option<Ms>,
    pending_sync: HashSet<String>,
    /// `group.initial.rebalance.delay.ms`, from the coordinator's config.
    initial_delay_ms: Ms,
    /// Join phases completed since this broker loaded the group (for the metrics).
    rebalances: u64,
}

impl ClassicGroup {
    fn new(id: &str, now: Ms, initial_delay_ms: Ms) -> Self {
        ClassicGroup {
            id: id.to_string(),
            state: GroupState::Empty,
            state_timestamp: now,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: Vec::new(),
            pending: HashMap::new(),
            statics: HashMap::new(),
            new_member_added: false,
            join_deadline: None,
            initial: None,
            previous_state_empty: false,
            sync_deadline: None,
            pending_sync: HashSet::new(),
            initial_delay_ms,
            rebalances: 0,
        }
    }

    pub(crate) fn state(&self) -> GroupState {
        self.state
    }

    pub(crate) fn generation(&self) -> i32 {
        self.generation
    }

    pub(crate) fn protocol_type(&self) -> &str {
        self.protocol_type.as_deref().unwrap_or("")
    }

    /// The time the group entered its current state.
    pub(crate) fn state_timestamp(&self) -> Ms {
        self.state_timestamp
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn leader(&self) -> Option<&str> {
        self.leader.as_deref().filter(|_| !self.members.is_empty())
    }

    fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    fn member_mut(&mut self, id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.id == id)
    }

    fn has_member(&self, id: &str) -> bool {
        self.member(id).is_some()
    }

    fn transition(&mut self, to: GroupState, now: Ms) {
        self.previous_state_empty = self.state == GroupState::Empty;
        self.state = to;
        self.state_timestamp = now;
    }

    fn rebalance_timeout(&self) -> Ms {
        self.members
            .iter()
            .map(|m| Ms::from(m.rebalance_timeout_ms))
            .max()
            .unwrap_or(0)
    }

    fn add_member(&mut self, member: Member) {
        if self.members.is_empty() {
            self.protocol_type = Some(member.protocol_type.clone());
        }
        if self.leader.is_none() {
            self.leader = Some(member.id.clone());
        }
        if let Some(instance) = &member.instance_id {
            self.statics.insert(instance.clone(), member.id.clone());
        }
        self.members.push(member);
    }

    fn remove_member(&mut self, id: &str) -> Option<Member> {
        let i = self.members.iter().position(|m| m.id == id)?;
        let m = self.members.remove(i);
        if let Some(instance) = &m.instance_id {
            if self.statics.get(instance).is_some_and(|mid| mid == id) {
                self.statics.remove(instance);
            }
        }
        self.pending_sync.remove(id);
        if self.leader.as_deref() == Some(id) {
            self.leader = self.members.first().map(|m| m.id.clone());
        }
        // The protocol type stays when the group empties (offset expiry depends on it, as in Kafka).
        Some(m)
    }

    /// Protocol names supported by every member.
    fn candidates(&self) -> HashSet<&str> {
        let mut it = self.members.iter();
        let Some(first) = it.next() else {
            return HashSet::new();
        };
        let mut set: HashSet<&str> = first.protocols.iter().map(|(n, _)| n.as_str()).collect();
        for m in it {
            let theirs: HashSet<&str> = m.protocols.iter().map(|(n, _)| n.as_str()).collect();
            set.retain(|n| theirs.contains(n));
        }
        set
    }

    /// Kafka's `supportsProtocols`.
    fn supports(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if self.members.is_empty() {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols
                .iter()
                .any(|(n, _)| self.members.iter().all(|m| m.protocols.iter().any(|(mn, _)| mn == n)))
    }

    /// The protocol every member votes on (each for its first supported choice; most votes wins, ties by
    /// name for determinism).
    fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidates();
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in &self.members {
            if let Some(v) = m.vote(&candidates) {
                *votes.entry(v).or_default() += 1;
            }
        }
        let best = votes.values().copied().max()?;
        votes
            .into_iter()
            .find(|(_, n)| *n == best)
            .map(|(name, _)| name.to_string())
    }

    /// `validateMember`: the instance id, then the member id.
    fn validate_member(&self, member_id: &str, instance_id: Option<&str>) -> Result<(), ErrorCode> {
        match instance_id {
            Some(instance) => match self.statics.get(instance) {
                None => Err(ErrorCode::UnknownMemberId),
                Some(mid) if mid != member_id => Err(ErrorCode::FencedInstanceId),
                Some(_) => Ok(()),
            },
            None if self.has_member(member_id) => Ok(()),
            None => Err(ErrorCode::UnknownMemberId),
        }
    }

    fn all_joined(&self) -> bool {
        self.pending.is_empty() && self.members.iter().all(|m| m.awaiting_join.is_some())
    }

    fn snapshot(&self) -> GroupSnapshot {
        let protocol = self.protocol.clone();
        GroupSnapshot {
            group_id: self.id.clone(),
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation,
            leader: self.leader.clone().filter(|_| !self.members.is_empty()),
            current_state_timestamp: self.state_timestamp,
            members: self
                .members
                .iter()
                .map(|m| MemberSnapshot {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    session_timeout_ms: m.session_timeout_ms,
                    subscription: protocol.as_deref().map(|p| m.metadata_for(p)).unwrap_or_default(),
                    assignment: m.assignment.clone(),
                })
                .collect(),
            protocol,
        }
    }

    /// The group's subscribed topics, when every member speaks the `consumer` protocol and its
    /// subscription parses (Kafka's `computeSubscribedTopics`); `None` means "unknown".
    pub(crate) fn subscribed_topics(&self) -> Option<HashSet<String>> {
        if self.protocol_type() != "consumer" {
            return None;
        }
        let protocol = self.protocol.as_deref()?;
        let mut topics = HashSet::new();
        for m in &self.members {
            topics.extend(parse_subscription_topics(&m.metadata_for(protocol))?);
        }
        Some(topics)
    }
}

/// The topics of a `ConsumerProtocolSubscription` (INT16 version, then `Topics []string` in every version).
pub(crate) fn parse_subscription_topics(bytes: &[u8]) -> Option<Vec<String>> {
    let mut r = bytes;
    let take = |r: &mut &[u8], n: usize| -> Option<Vec<u8>> {
        (r.len() >= n).then(|| {
            let v = r[..n].to_vec();
            *r = &r[n..];
            v
        })
    };
    let _version = take(&mut r, 2)?;
    let count = i32::from_be_bytes(take(&mut r, 4)?.try_into().ok()?);
    if count < 0 {
        return None;
    }
    let mut topics = Vec::with_capacity(count.min(1024) as usize);
    for _ in 0..count {
        let len = i16::from_be_bytes(take(&mut r, 2)?.try_into().ok()?);
        if len < 0 {
            return None;
        }
        topics.push(String::from_utf8(take(&mut r, len as usize)?).ok()?);
    }
    Some(topics)
}

/// Every classic group of this coordinator.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    pub(crate) config: GroupConfig,
    groups: BTreeMap<String, ClassicGroup>,
    next_id: u64,
    /// Rebalances completed by groups since deleted.
    retired_rebalances: u64,
}

impl Groups {
    pub(crate) fn new(config: GroupConfig) -> Self {
        Groups {
            config,
            groups: BTreeMap::new(),
            next_id: 0,
            retired_rebalances: 0,
        }
    }

    pub(crate) fn get(&self, id: &str) -> Option<&ClassicGroup> {
        self.groups.get(id)
    }

    pub(crate) fn ids(&self) -> impl Iterator<Item = &String> {
        self.groups.keys()
    }

    fn member_id(&mut self, prefix: &str) -> String {
        // Kafka appends a random UUID; a counter mixed with the clock is as unique within a coordinator.
        self.next_id += 1;
        let n = self.next_id;
        let x = (n ^ 0x9E37_79B9_7F4A_7C15).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        format!(
            "{prefix}-{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            (x >> 32) as u32,
            (x >> 16) as u16,
            x as u16,
            (n >> 48) as u16,
            n & 0xFFFF_FFFF_FFFF
        )
    }

    /// `validateMember` on a group: UNKNOWN_MEMBER_ID for an unknown group.
    pub(crate) fn validate_member(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<(), ErrorCode> {
        self.groups
            .get(group_id)
            .ok_or(ErrorCode::UnknownMemberId)?
            .validate_member(member_id, instance_id)
    }

    /// Creates an empty group (an OffsetCommit from a simple consumer, or a first JoinGroup).
    pub(crate) fn get_or_create(&mut self, id: &str, now: Ms) -> &mut ClassicGroup {
        let delay = self.config.initial_rebalance_delay_ms;
        self.groups
            .entry(id.to_string())
            .or_insert_with(|| ClassicGroup::new(id, now, delay))
    }

    /// JoinGroup. The answer may come now (in the outputs, for `ticket`) or later.
    pub(crate) fn join(&mut self, req: JoinRequest, ticket: Ticket, now: Ms) -> Vec<Output> {
        let mut out = Vec::new();
        let answer = |out: &mut Vec<Output>, e: ErrorCode, member: &str| {
            out.push(Output::Join(ticket, JoinResult::error(e, member)));
        };
        if req.group_id.is_empty() {
            answer(&mut out, ErrorCode::InvalidGroupId, &req.member_id);
            return out;
        }
        if req.session_timeout_ms < self.config.min_session_timeout_ms
            || req.session_timeout_ms > self.config.max_session_timeout_ms
        {
            answer(&mut out, ErrorCode::InvalidSessionTimeout, &req.member_id);
            return out;
        }
        let exists = self.groups.contains_key(&req.group_id);
        if !exists && !req.member_id.is_empty() {
            answer(&mut out, ErrorCode::UnknownMemberId, &req.member_id);
            return out;
        }
        let max_size = self.config.max_size;
        let new_id = if req.member_id.is_empty() {
            let prefix = req.instance_id.clone().unwrap_or_else(|| req.client_id.clone());
            Some(self.member_id(&prefix))
        } else {
            None
        };
        let config = self.config.clone();
        let group = self.get_or_create(&req.group_id, now);
        // Group size (acceptJoiningMember).
        let accepted = match group.state {
            GroupState::Empty | GroupState::Dead => true,
            GroupState::PreparingRebalance => {
                let awaiting = group.members.iter().filter(|m| m.awaiting_join.is_some()).count();
                group.member(&req.member_id).is_some_and(|m| m.awaiting_join.is_some())
                    || group.pending.contains_key(&req.member_id)
                    || awaiting < max_size
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                group.has_member(&req.member_id) || group.members.len() < max_size
            }
        };
        if !accepted {
            answer(&mut out, ErrorCode::GroupMaxSizeReached, &req.member_id);
            return out;
        }
        if group.state == GroupState::Dead {
            answer(&mut out, ErrorCode::CoordinatorNotAvailable, &req.member_id);
            return out;
        }
        match new_id {
            Some(id) => join_new_member(group, &config, req, id, ticket, now, &mut out),
            None => join_existing_member(group, &config, req, ticket, now, &mut out),
        }
        out
    }

    /// SyncGroup.
    pub(crate) fn sync(&mut self, req: SyncRequest, ticket: Ticket, now: Ms) -> Vec<Output> {
        let mut out = Vec::new();
        let reply = |out: &mut Vec<Output>, e: ErrorCode| out.push(Output::Sync(ticket, SyncResult::error(e)));
        if req.group_id.is_empty() {
            reply(&mut out, ErrorCode::InvalidGroupId);
            return out;
        }
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            reply(&mut out, ErrorCode::UnknownMemberId);
            return out;
        };
        match group.state {
            GroupState::Empty => {
                reply(&mut out, ErrorCode::UnknownMemberId);
                return out;
            }
            GroupState::Dead => {
                reply(&mut out, ErrorCode::CoordinatorNotAvailable);
                return out;
            }
            _ => {}
        }
        if let Err(e) = group.validate_member(&req.member_id, req.instance_id.as_deref()) {
            reply(&mut out, e);
            return out;
        }
        if req.generation != group.generation {
            reply(&mut out, ErrorCode::IllegalGeneration);
            return out;
        }
        let inconsistent = req
            .protocol_type
            .as_ref()
            .is_some_and(|t| Some(t) != group.protocol_type.as_ref())
            || req
                .protocol_name
                .as_ref()
                .is_some_and(|n| Some(n) != group.protocol.as_ref());
        if inconsistent {
            reply(&mut out, ErrorCode::InconsistentGroupProtocol);
            return out;
        }
        match group.state {
            GroupState::PreparingRebalance => reply(&mut out, ErrorCode::RebalanceInProgress),
            GroupState::CompletingRebalance => {
                if let Some(m) = group.member_mut(&req.member_id) {
                    m.awaiting_sync = Some(ticket);
                }
                group.pending_sync.remove(&req.member_id);
                if group.leader.as_deref() == Some(req.member_id.as_str()) {
                    let assignments: HashMap<String, Bytes> = req.assignments.into_iter().collect();
                    for m in &mut group.members {
                        m.assignment = assignments.get(&m.id).cloned().unwrap_or_default();
                    }
                    out.push(Output::Store(group.snapshot()));
                    group.transition(GroupState::Stable, now);
                    group.sync_deadline = None;
                    group.pending_sync.clear();
                    propagate_assignment(group, ErrorCode::None, now, &mut out);
                }
            }
            GroupState::Stable => {
                let assignment = group
                    .member(&req.member_id)
                    .map(|m| m.assignment.clone())
                    .unwrap_or_default();
                if let Some(m) = group.member_mut(&req.member_id) {
                    m.heartbeat_deadline = now + Ms::from(m.session_timeout_ms);
                }
                out.push(Output::Sync(
                    ticket,
                    SyncResult {
                        error: ErrorCode::None,
                        protocol_type: group.protocol_type.clone(),
                        protocol_name: group.protocol.clone(),
                        assignment,
                    },
                ));
            }
            GroupState::Empty | GroupState::Dead => unreachable_state(&mut out, ticket),
        }
        out
    }

    /// Heartbeat.
    pub(crate) fn heartbeat(
        &mut self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
        now: Ms,
    ) -> ErrorCode {
        let Some(group) = self.groups.get_mut(group_id) else {
            return ErrorCode::UnknownMemberId;
        };
        if group.state == GroupState::Dead {
            return ErrorCode::CoordinatorNotAvailable;
        }
        if let Err(e) = group.validate_member(member_id, instance_id) {
            return e;
        }
        if generation != group.generation {
            return ErrorCode::IllegalGeneration;
        }
        let state = group.state;
        let touch = |g: &mut ClassicGroup| {
            if let Some(m) = g.member_mut(member_id) {
                m.heartbeat_deadline = now + Ms::from(m.session_timeout_ms);
            }
        };
        match state {
            GroupState::Empty => ErrorCode::UnknownMemberId,
            GroupState::PreparingRebalance => {
                touch(group);
                ErrorCode::RebalanceInProgress
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                touch(group);
                ErrorCode::None
            }
            GroupState::Dead => ErrorCode::CoordinatorNotAvailable,
        }
    }

    /// Resets a member's session timer (an OffsetCommit while Stable or PreparingRebalance does).
    pub(crate) fn touch(&mut self, group_id: &str, member_id: &str, now: Ms) {
        if let Some(g) = self.groups.get_mut(group_id) {
            if matches!(g.state, GroupState::Stable | GroupState::PreparingRebalance) {
                if let Some(m) = g.member_mut(member_id) {
                    m.heartbeat_deadline = now + Ms::from(m.session_timeout_ms);
                }
            }
        }
    }

    /// LeaveGroup for a batch of members `(member_id, instance_id)`: the top-level error, each member's
    /// error, and the outputs.
    pub(crate) fn leave(
        &mut self,
        group_id: &str,
        leaving: &[(String, Option<String>)],
        now: Ms,
    ) -> (ErrorCode, Vec<ErrorCode>, Vec<Output>) {
        let mut out = Vec::new();
        let Some(group) = self.groups.get_mut(group_id) else {
            return (ErrorCode::None, vec![ErrorCode::UnknownMemberId; leaving.len()], out);
        };
        if group.state == GroupState::Dead {
            return (ErrorCode::CoordinatorNotAvailable, Vec::new(), out);
        }
        let mut errors = Vec::with_capacity(leaving.len());
        let mut left = false;
        for (member_id, instance_id) in leaving {
            let target = if member_id.is_empty() {
                match instance_id.as_ref().and_then(|i| group.statics.get(i)) {
                    Some(mid) => Ok(mid.clone()),
                    None => Err(ErrorCode::UnknownMemberId),
                }
            } else if group.pending.remove(member_id).is_some() {
                left = true;
                errors.push(ErrorCode::None);
                continue;
            } else {
                group
                    .validate_member(member_id, instance_id.as_deref())
                    .map(|()| member_id.clone())
            };
            match target {
                Ok(mid) => {
                    if let Some(m) = group.remove_member(&mid) {
                        if let Some(t) = m.awaiting_join {
                            out.push(Output::Join(t, JoinResult::error(ErrorCode::UnknownMemberId, &mid)));
                        }
                        if let Some(t) = m.awaiting_sync {
                            out.push(Output::Sync(t, SyncResult::error(ErrorCode::UnknownMemberId)));
                        }
                    }
                    left = true;
                    errors.push(ErrorCode::None);
                }
                Err(e) => errors.push(e),
            }
        }
        if left {
            match group.state {
                GroupState::Stable | GroupState::CompletingRebalance => prepare_rebalance(group, now, &mut out),
                GroupState::PreparingRebalance => maybe_complete_join(group, now, &mut out),
                _ => {}
            }
        }
        (ErrorCode::None, errors, out)
    }

    /// Fires the timers that are due: expired sessions and pending members, join-phase and sync-phase
    /// deadlines, the initial rebalance delay.
    pub(crate) fn tick(&mut self, now: Ms) -> Vec<Output> {
        let mut out = Vec::new();
        for group in self.groups.values_mut() {
            // Pending member ids that never rejoined.
            group.pending.retain(|_, expiry| *expiry > now);
            // Sessions. A member parked in JoinGroup or SyncGroup counts as alive, unless new.
            let expired: Vec<String> = group
                .members
                .iter()
                .filter(|m| {
                    let parked = (m.awaiting_join.is_some() && !m.is_new) || m.awaiting_sync.is_some();
                    m.heartbeat_deadline <= now && !parked
                })
                .map(|m| m.id.clone())
                .collect();
            for id in expired {
                if let Some(m) = group.remove_member(&id) {
                    if let Some(t) = m.awaiting_join {
                        out.push(Output::Join(t, JoinResult::error(ErrorCode::UnknownMemberId, &id)));
                    }
                }
                match group.state {
                    GroupState::Stable | GroupState::CompletingRebalance => prepare_rebalance(group, now, &mut out),
                    GroupState::PreparingRebalance => maybe_complete_join(group, now, &mut out),
                    _ => {}
                }
            }
            // A new member whose join has waited too long.
            let stale: Vec<String> = group
                .members
                .iter()
                .filter(|m| m.is_new && m.awaiting_join.is_some() && m.heartbeat_deadline <= now)
                .map(|m| m.id.clone())
                .collect();
            for id in stale {
                if let Some(m) = group.remove_member(&id) {
                    if let Some(t) = m.awaiting_join {
                        out.push(Output::Join(t, JoinResult::error(ErrorCode::UnknownMemberId, &id)));
                    }
                }
            }
            if group.state == GroupState::PreparingRebalance && group.join_deadline.is_some_and(|d| d <= now) {
                group.join_deadline = None;
                match group.initial {
                    Some(init) if group.new_member_added && init.remaining != 0 => {
                        // Each new arrival buys up to another delay, bounded by the rebalance timeout.
                        group.new_member_added = false;
                        let delay = init.delay.min(init.remaining);
                        group.initial = Some(InitialDelay {
                            delay: init.delay,
                            remaining: (init.remaining - init.delay).max(0),
                        });
                        group.join_deadline = Some(now + delay);
                    }
                    _ => {
                        group.initial = None;
                        complete_join(group, now, &mut out);
                    }
                }
            }
            if group.state == GroupState::CompletingRebalance && group.sync_deadline.is_some_and(|d| d <= now) {
                group.sync_deadline = None;
                let missing: Vec<String> = group.pending_sync.drain().collect();
                for id in &missing {
                    group.remove_member(id);
                }
                if !missing.is_empty() {
                    prepare_rebalance(group, now, &mut out);
                }
            }
        }
        out
    }

    /// The earliest time [`Groups::tick`] has something to do.
    pub(crate) fn next_deadline(&self) -> Option<Ms> {
        self.groups
            .values()
            .flat_map(|g| {
                g.members
                    .iter()
                    // A parked member's session cannot expire (tick skips it): no deadline of its own,
                    // else the driver would wake at once, again and again, while it stays parked.
                    .filter(|m| !((m.awaiting_join.is_some() && !m.is_new) || m.awaiting_sync.is_some()))
                    .map(|m| m.heartbeat_deadline)
                    .chain(g.pending.values().copied())
                    .chain(g.join_deadline)
                    .chain(g.sync_deadline)
            })
            .min()
    }

    /// Every live group's persistent state (for rewriting `__consumer_offsets`).
    pub(crate) fn snapshots(&self) -> impl Iterator<Item = GroupSnapshot> + '_ {
        self.groups
            .values()
            .filter(|g| g.state != GroupState::Dead)
            .map(ClassicGroup::snapshot)
    }

    /// Join phases completed since start-up, over every group.
    pub(crate) fn rebalances(&self) -> u64 {
        self.retired_rebalances + self.groups.values().map(|g| g.rebalances).sum::<u64>()
    }

    /// Each live group's state.
    pub(crate) fn states(&self) -> impl Iterator<Item = (&String, GroupState)> {
        self.groups
            .iter()
            .filter(|(_, g)| g.state != GroupState::Dead)
            .map(|(id, g)| (id, g.state))
    }

    /// ListGroups, with an optional state filter (case-insensitive).
    pub(crate) fn list(&self, states: &[String]) -> Vec<(String, String, &'static str)> {
        let wanted: Vec<String> = states.iter().map(|s| s.trim().to_lowercase()).collect();
        self.groups
            .values()
            .filter(|g| g.state != GroupState::Dead)
            .filter(|g| wanted.is_empty() || wanted.contains(&g.state.name().to_lowercase()))
            .map(|g| (g.id.clone(), g.protocol_type().to_string(), g.state.name()))
            .collect()
    }

    /// DescribeGroups for one group (`GROUP_ID_NOT_FOUND` for an unknown one at v6+, "Dead" below).
    pub(crate) fn describe(&self, group_id: &str, not_found_is_error: bool) -> GroupDescription {
        let Some(g) = self.groups.get(group_id).filter(|g| g.state != GroupState::Dead) else {
            return GroupDescription {
                error: if not_found_is_error {
                    ErrorCode::GroupIdNotFound
                } else {
                    ErrorCode::None
                },
                group_id: group_id.to_string(),
                state: GroupState::Dead.name(),
                protocol_type: String::new(),
                protocol_data: String::new(),
                members: Vec::new(),
            };
        };
        let stable = g.state == GroupState::Stable;
        GroupDescription {
            error: ErrorCode::None,
            group_id: g.id.clone(),
            state: g.state.name(),
            protocol_type: g.protocol_type().to_string(),
            protocol_data: if stable {
                g.protocol.clone().unwrap_or_default()
            } else {
                String::new()
            },
            members: g
                .members
                .iter()
                .map(|m| DescribedMember {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: match (&g.protocol, stable) {
                        (Some(p), true) => m.metadata_for(p),
                        _ => Bytes::new(),
                    },
                    assignment: if stable { m.assignment.clone() } else { Bytes::new() },
                })
                .collect(),
        }
    }

    /// Removes an empty group (DeleteGroups, or every offset expired): `NON_EMPTY_GROUP` while it has
    /// members, `GROUP_ID_NOT_FOUND` if unknown.
    pub(crate) fn delete(&mut self, group_id: &str) -> ErrorCode {
        match self.groups.get(group_id) {
            None => ErrorCode::GroupIdNotFound,
            Some(g) if g.state == GroupState::Dead => ErrorCode::GroupIdNotFound,
            Some(g) if !g.members.is_empty() || !g.pending.is_empty() => ErrorCode::NonEmptyGroup,
            Some(_) => {
                if let Some(g) = self.groups.remove(group_id) {
                    self.retired_rebalances += g.rebalances;
                }
                ErrorCode::None
            }
        }
    }

    /// Forgets the groups `which` picks (their `__consumer_offsets` partition is led elsewhere now), with
    /// their members and timers; their parked JoinGroup and SyncGroup requests are answered `error`
    /// (NOT_COORDINATOR: the members find the new coordinator). Nothing is persisted: the log keeps them.
    pub(crate) fn unload(&mut self, which: impl Fn(&str) -> bool, error: ErrorCode) -> Vec<Output> {
        let mut out = Vec::new();
        let ids: Vec<String> = self.groups.keys().filter(|id| which(id)).cloned().collect();
        for id in ids {
            let Some(g) = self.groups.remove(&id) else { continue };
            self.retired_rebalances += g.rebalances;
            for m in g.members {
                if let Some(t) = m.awaiting_join {
                    out.push(Output::Join(t, JoinResult::error(error, &m.id)));
                }
                if let Some(t) = m.awaiting_sync {
                    out.push(Output::Sync(t, SyncResult::error(error)));
                }
            }
        }
        out
    }

    /// Rebuilds a group from its stored metadata (loading `__consumer_offsets`); `None` is a tombstone.
    pub(crate) fn replay(&mut self, group_id: &str, snapshot: Option<GroupSnapshot>, now: Ms) {
        let Some(s) = snapshot else {
            self.groups.remove(group_id);
            return;
        };
        let mut g = ClassicGroup::new(group_id, now, self.config.initial_rebalance_delay_ms);
        g.generation = s.generation;
        g.protocol_type = (!s.protocol_type.is_empty()).then_some(s.protocol_type);
        g.protocol = s.protocol.clone();
        g.state_timestamp = if s.current_state_timestamp >= 0 {
            s.current_state_timestamp
        } else {
            now
        };
        for m in s.members {
            let protocols = match &s.protocol {
                Some(p) => vec![(p.clone(), m.subscription.clone())],
                None => Vec::new(),
            };
            g.add_member(Member {
                id: m.member_id,
                instance_id: m.instance_id,
                client_id: m.client_id,
                client_host: m.client_host,
                session_timeout_ms: m.session_timeout_ms,
                rebalance_timeout_ms: m.rebalance_timeout_ms,
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
                protocols,
                assignment: m.assignment,
                awaiting_join: None,
                awaiting_sync: None,
                is_new: false,
                // Re-armed at load: members that stop heartbeating are expelled.
                heartbeat_deadline: now + Ms::from(m.session_timeout_ms),
            });
        }
        // add_member set the first member as leader; the stored leader wins.
        if let Some(leader) = s.leader.filter(|l| g.has_member(l)) {
            g.leader = Some(leader);
        }
        g.state = if g.members.is_empty() {
            GroupState::Empty
        } else {
            GroupState::Stable
        };
        self.groups.insert(group_id.to_string(), g);
    }
}

fn unreachable_state(out: &mut Vec<Output>, ticket: Ticket) {
    // Checked before: an Empty or Dead group never reaches here; answer as Kafka would for them.
    out.push(Output::Sync(ticket, SyncResult::error(ErrorCode::UnknownMemberId)));
}

fn join_new_member(
    group: &mut ClassicGroup,
    config: &GroupConfig,
    req: JoinRequest,
    member_id: String,
    ticket: Ticket,
    now: Ms,
    out: &mut Vec<Output>,
) {
    if !group.supports(&req.protocol_type, &req.protocols) {
        out.push(Output::Join(
            ticket,
            JoinResult::error(ErrorCode::InconsistentGroupProtocol, ""),
        ));
        return;
    }
    if let Some(instance) = req.instance_id.clone() {
        if let Some(old_id) = group.statics.get(&instance).cloned() {
            replace_static_member(group, req, old_id, member_id, ticket, now, out);
            return;
        }
        add_member_and_rebalance(group, config, req, member_id, ticket, now, out);
        return;
    }
    if req.require_known_member_id {
        // v4+: the member must come back with this id; it is pending until then.
        group
            .pending
            .insert(member_id.clone(), now + Ms::from(req.session_timeout_ms));
        out.push(Output::Join(
            ticket,
            JoinResult::error(ErrorCode::MemberIdRequired, &member_id),
        ));
        return;
    }
    add_member_and_rebalance(group, config, req, member_id, ticket, now, out);
}

fn join_existing_member(
    group: &mut ClassicGroup,
    config: &GroupConfig,
    req: JoinRequest,
    ticket: Ticket,
    now: Ms,
    out: &mut Vec<Output>,
) {
    if !group.supports(&req.protocol_type, &req.protocols) {
        out.push(Output::Join(
            ticket,
            JoinResult::error(ErrorCode::InconsistentGroupProtocol, &req.member_id),
        ));
        return;
    }
    if group.pending.remove(&req.member_id).is_some() {
        let id = req.member_id.clone();
        add_member_and_rebalance(group, config, req, id, ticket, now, out);
        return;
    }
    if let Err(e) = group.validate_member(&req.member_id, req.instance_id.as_deref()) {
        out.push(Output::Join(ticket, JoinResult::error(e, &req.member_id)));
        return;
    }
    let is_leader = group.leader.as_deref() == Some(req.member_id.as_str());
    let same = group
        .member(&req.member_id)
        .is_some_and(|m| m.same_protocols(&req.protocols));
    match group.state {
        GroupState::PreparingRebalance => {
            update_member(group, &req, ticket, now, out);
            maybe_complete_join(group, now, out);
        }
        GroupState::CompletingRebalance => {
            if same {
                // Answer at once with the current generation (the leader gets the members again).
                let result = join_result(group, &req.member_id);
                out.push(Output::Join(ticket, result));
            } else {
                update_member(group, &req, ticket, now, out);
                prepare_rebalance(group, now, out);
            }
        }
        GroupState::Stable => {
            if is_leader || !same {
                update_member(group, &req, ticket, now, out);
                prepare_rebalance(group, now, out);
            } else {
                let mut result = join_result(group, &req.member_id);
                result.members.clear();
                out.push(Output::Join(ticket, result));
            }
        }
        GroupState::Empty | GroupState::Dead => {
            out.push(Output::Join(
                ticket,
                JoinResult::error(ErrorCode::UnknownMemberId, &req.member_id),
            ));
        }
    }
}

fn update_member(group: &mut ClassicGroup, req: &JoinRequest, ticket: Ticket, now: Ms, out: &mut Vec<Output>) {
    if let Some(m) = group.member_mut(&req.member_id) {
        if let Some(old) = m.awaiting_join.replace(ticket) {
            // A newer join from the same member replaces the parked one, which is answered now.
            out.push(Output::Join(
                old,
                JoinResult::error(ErrorCode::RebalanceInProgress, &req.member_id),
            ));
        }
        m.protocols = req.protocols.clone();
        m.session_timeout_ms = req.session_timeout_ms;
        m.rebalance_timeout_ms = req.rebalance_timeout_ms;
        m.heartbeat_deadline = now + Ms::from(req.session_timeout_ms);
    }
}

fn add_member_and_rebalance(
    group: &mut ClassicGroup,
    _config: &GroupConfig,
    req: JoinRequest,
    member_id: String,
    ticket: Ticket,
    now: Ms,
    out: &mut Vec<Output>,
) {
    let member = Member {
        id: member_id,
        instance_id: req.instance_id,
        client_id: req.client_id,
        client_host: req.client_host,
        session_timeout_ms: req.session_timeout_ms,
        rebalance_timeout_ms: req.rebalance_timeout_ms,
        protocol_type: req.protocol_type,
        protocols: req.protocols,
        assignment: Bytes::new(),
        awaiting_join: Some(ticket),
        awaiting_sync: None,
        is_new: true,
        heartbeat_deadline: now + NEW_MEMBER_JOIN_TIMEOUT_MS,
    };
    group.add_member(member);
    if group.state == GroupState::PreparingRebalance && group.previous_state_empty {
        group.new_member_added = true;
    }
    match group.state {
        GroupState::PreparingRebalance => maybe_complete_join(group, now, out),
        _ => prepare_rebalance(group, now, out),
    }
}

fn replace_static_member(
    group: &mut ClassicGroup,
    req: JoinRequest,
    old_id: String,
    new_id: String,
    ticket: Ticket,
    now: Ms,
    out: &mut Vec<Output>,
) {
    let Some(i) = group.members.iter().position(|m| m.id == old_id) else {
        return;
    };
    // The old member's parked requests are fenced.
    let old = &mut group.members[i];
    if let Some(t) = old.awaiting_join.take() {
        out.push(Output::Join(t, JoinResult::error(ErrorCode::FencedInstanceId, &old_id)));
    }
    if let Some(t) = old.awaiting_sync.take() {
        out.push(Output::Sync(t, SyncResult::error(ErrorCode::FencedInstanceId)));
    }
    let selected_before = group.protocol.clone();
    let m = &mut group.members[i];
    m.id = new_id.clone();
    m.client_id = req.client_id.clone();
    m.client_host = req.client_host.clone();
    m.session_timeout_ms = req.session_timeout_ms;
    m.rebalance_timeout_ms = req.rebalance_timeout_ms;
    m.protocols = req.protocols.clone();
    m.heartbeat_deadline = now + Ms::from(req.session_timeout_ms);
    if let Some(instance) = &req.instance_id {
        group.statics.insert(instance.clone(), new_id.clone());
    }
    let was_leader = group.leader.as_deref() == Some(old_id.as_str());
    if was_leader {
        group.leader = Some(new_id.clone());
    }
    match group.state {
        GroupState::Stable if group.select_protocol() == selected_before => {
            // No rebalance: persist the new member id and answer with the current generation.
            out.push(Output::Store(group.snapshot()));
            let mut result = join_result(group, &new_id);
            if was_leader && req.supports_skip_assignment {
                // v9+: the leader keeps the current assignment instead of computing one.
                result.skip_assignment = true;
            } else {
                // Below v9 the old leader id is returned, so the member does not act as leader.
                result.members.clear();
                if was_leader {
                    result.leader = old_id;
                }
            }
            out.push(Output::Join(ticket, result));
        }
        GroupState::PreparingRebalance => {
            group.members[i].awaiting_join = Some(ticket);
            maybe_complete_join(group, now, out);
        }
        _ => {
            group.members[i].awaiting_join = Some(ticket);
            prepare_rebalance(group, now, out);
        }
    }
}

/// The JoinGroup answer for `member_id` at the current generation; the member list only for the leader.
fn join_result(group: &ClassicGroup, member_id: &str) -> JoinResult {
    let is_leader = group.leader.as_deref() == Some(member_id);
    let protocol = group.protocol.clone().unwrap_or_default();
    JoinResult {
        error: ErrorCode::None,
        generation: group.generation,
        protocol_type: group.protocol_type.clone(),
        protocol_name: group.protocol.clone(),
        leader: group.leader.clone().unwrap_or_default(),
        skip_assignment: false,
        member_id: member_id.to_string(),
        members: if is_leader {
            group
                .members
                .iter()
                .map(|m| JoinedMember {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    metadata: m.metadata_for(&protocol),
                })
                .collect()
        } else {
            Vec::new()
        },
    }
}

/// Enters PreparingRebalance (`prepareRebalance`).
fn prepare_rebalance(group: &mut ClassicGroup, now: Ms, out: &mut Vec<Output>) {
    if group.state == GroupState::CompletingRebalance {
        // Parked SyncGroups learn that a new rebalance started.
        for m in &mut group.members {
            m.assignment = Bytes::new();
        }
        propagate_assignment(group, ErrorCode::RebalanceInProgress, now, out);
    }
    group.sync_deadline = None;
    group.pending_sync.clear();
    let from_empty = group.state == GroupState::Empty;
    if group.state != GroupState::PreparingRebalance {
        group.transition(GroupState::PreparingRebalance, now);
    }
    if from_empty {
        let delay = group.initial_delay_ms.min(group.rebalance_timeout());
        group.initial = Some(InitialDelay {
            delay,
            remaining: (group.rebalance_timeout() - delay).max(0),
        });
        group.join_deadline = Some(now + delay);
    } else {
        group.initial = None;
        group.join_deadline = Some(now + group.rebalance_timeout());
        maybe_complete_join(group, now, out);
    }
}

/// Completes the join phase at once if every member has rejoined (never during the initial delay).
fn maybe_complete_join(group: &mut ClassicGroup, now: Ms, out: &mut Vec<Output>) {
    if group.state == GroupState::PreparingRebalance && group.all_joined() && group.initial.is_none() {
        complete_join(group, now, out);
    }
}

/// `completeClassicGroupJoin`.
fn complete_join(group: &mut ClassicGroup, now: Ms, out: &mut Vec<Output>) {
    // Dynamic members that did not rejoin are removed; static ones are kept.
    let gone: Vec<String> = group
        .members
        .iter()
        .filter(|m| m.awaiting_join.is_none() && m.instance_id.is_none())
        .map(|m| m.id.clone())
        .collect();
    for id in gone {
        group.remove_member(&id);
    }
    group.pending.clear();
    if !group.members.is_empty() && group.members.iter().all(|m| m.awaiting_join.is_none()) {
        // Nobody rejoined (only static members left): try again after another rebalance timeout.
        group.join_deadline = Some(now + group.rebalance_timeout());
        return;
    }
    // A leader that did not rejoin is replaced by a member that did.
    if let Some(leader) = &group.leader {
        if group.member(leader).is_none_or(|m| m.awaiting_join.is_none()) {
            group.leader = group
                .members
                .iter()
                .find(|m| m.awaiting_join.is_some())
                .map(|m| m.id.clone());
        }
    }
    group.generation += 1;
    group.rebalances += 1;
    group.join_deadline = None;
    group.initial = None;
    group.new_member_added = false;
    if group.members.is_empty() {
        group.protocol = None;
        group.transition(GroupState::Empty, now);
        out.push(Output::Store(group.snapshot()));
        return;
    }
    group.protocol = group.select_protocol();
    group.transition(GroupState::CompletingRebalance, now);
    let ids: Vec<String> = group.members.iter().map(|m| m.id.clone()).collect();
    for id in &ids {
        let result = join_result(group, id);
        if let Some(m) = group.member_mut(id) {
            if let Some(t) = m.awaiting_join.take() {
                out.push(Output::Join(t, result));
            }
            m.is_new = false;
            m.heartbeat_deadline = now + Ms::from(m.session_timeout_ms);
        }
    }
    group.pending_sync = ids.into_iter().collect();
    group.sync_deadline = Some(now + group.rebalance_timeout());
}

/// Answers every parked SyncGroup with its member's assignment, or with `error`.
fn propagate_assignment(group: &mut ClassicGroup, error: ErrorCode, now: Ms, out: &mut Vec<Output>) {
    let (pt, pn) = (group.protocol_type.clone(), group.protocol.clone());
    for m in &mut group.members {
        if let Some(t) = m.awaiting_sync.take() {
            out.push(Output::Sync(
                t,
                if error == ErrorCode::None {
                    SyncResult {
                        error,
                        protocol_type: pt.clone(),
                        protocol_name: pn.clone(),
                        assignment: m.assignment.clone(),
                    }
                } else {
                    SyncResult::error(error)
                },
            ));
        }
        if error == ErrorCode::None {
            m.heartbeat_deadline = now + Ms::from(m.session_timeout_ms);
        }
    }
}
