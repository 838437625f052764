//! A member of a classic consumer group, as `consume --group` uses it: join (FindCoordinator, JoinGroup
//! with the two-round member id of v4+, SyncGroup where the leader runs the range assignor), Heartbeat,
//! OffsetFetch and OffsetCommit with the member's generation, and LeaveGroup.
//!
//! It is driven by the consumer's single thread: the consumer calls [`Member::heartbeat`] every
//! [`HEARTBEAT_INTERVAL`] and [`Member::commit`] every [`AUTO_COMMIT_INTERVAL`] between fetches, and
//! rejoins (after committing what it printed) when either answers [`Outcome::Rejoin`]. The protocol is
//! eager: a member gives up all its partitions when it rejoins, so it owns nothing in its subscription.
//!
//! Timeouts are Kafka's consumer defaults where they suit a command-line tool: a 3 s heartbeat interval
//! and 5 s auto-commit interval, a 10 s session (so that a consumer killed without leaving holds its
//! partitions for 10 s, not Kafka's 45 s) and a 30 s rebalance timeout (the time the member may take to
//! rejoin; it rejoins within one heartbeat interval).
//! JoinGroup and SyncGroup wait for the rebalance, so they may take up to the rebalance timeout plus 5 s,
//! as in Kafka's consumer.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use protocol::{
    ErrorCode, HeartbeatRequest, JoinGroupRequest, JoinGroupRequestProtocol, JoinGroupResponseMember,
    LeaveGroupRequest, MemberIdentity, RequestBody, ResponseBody, SyncGroupRequest, SyncGroupRequestAssignment,
};

use crate::client::{code_name, Client, Conn};
use crate::group::{
    backoff, commit_offsets, coordinator_moved, coordinator_retriable, fetch_offsets, find_coordinator, group_problem,
    range_assign, Assignment, AssignorMember, OffsetToCommit, Subscription, CONSUMER_PROTOCOL_TYPE, RANGE_ASSIGNOR,
};

/// How often a member heartbeats (Kafka's `heartbeat.interval.ms` default).
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(3);
/// How often a member commits what it printed (Kafka's `auto.commit.interval.ms` default).
pub const AUTO_COMMIT_INTERVAL: Duration = Duration::from_secs(5);
/// The session timeout kzero's members ask for.
const SESSION_TIMEOUT_MS: i32 = 10_000;
/// The rebalance timeout kzero's members ask for.
const REBALANCE_TIMEOUT_MS: i32 = 30_000;
/// How many join rounds (each a JoinGroup and maybe a SyncGroup) a member tries before giving up.
const MAX_JOIN_ROUNDS: u32 = 50;

/// What the member must do after a heartbeat or a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Carry on.
    Ok,
    /// The request did not go through but may later (the coordinator is loading or moved).
    Retry,
    /// The group is rebalancing or the member was removed: rejoin.
    Rejoin,
}

/// One member of one group, consuming one topic.
#[derive(Debug)]
pub struct Member {
    group: String,
    topic: String,
    coordinator: Conn,
    member_id: String,
    generation: i32,
    protocol: String,
    timeout: Duration,
}

impl Member {
    /// Finds the group's coordinator; the member joins with [`Member::join`].
    pub fn new(client: &mut Client, group: &str, topic: &str) -> Result<Member> {
        Ok(Member {
            group: group.to_string(),
            topic: topic.to_string(),
            coordinator: find_coordinator(client, group)?,
            member_id: String::new(),
            generation: -1,
            protocol: String::new(),
            timeout: client.settings.timeout,
        })
    }

    /// The member id the coordinator gave (empty before the first join).
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// Runs `request` on the coordinator's connection; if the connection fails, looks the coordinator up
    /// again and runs it once more.
    fn with_coordinator<T>(
        &mut self,
        client: &mut Client,
        mut request: impl FnMut(&mut Conn) -> Result<T>,
    ) -> Result<T> {
        match request(&mut self.coordinator) {
            Ok(r) => Ok(r),
            Err(first) => {
                self.coordinator =
                    find_coordinator(client, &self.group).map_err(|e| anyhow!("{first:#}; then {e:#}"))?;
                request(&mut self.coordinator)
            }
        }
    }

    /// Sends `body` to the coordinator (waiting up to `wait` for the answer if given).
    fn call(&mut self, client: &mut Client, body: RequestBody, wait: Option<Duration>) -> Result<(i16, ResponseBody)> {
        let timeout = self.timeout;
        self.with_coordinator(client, |conn| match wait {
            Some(w) => conn.call_waiting(body.clone(), w, timeout),
            None => conn.call_versioned(body.clone()),
        })
    }

    fn rediscover(&mut self, client: &mut Client) -> Result<()> {
        self.coordinator = find_coordinator(client, &self.group)?;
        Ok(())
    }

    /// Joins the group (or rejoins it after a rebalance) and returns the partitions of the topic assigned
    /// to this member, sorted.
    pub fn join(&mut self, client: &mut Client, reason: &str) -> Result<Vec<i32>> {
        let wait = Duration::from_millis(REBALANCE_TIMEOUT_MS as u64 + 5_000);
        let mut reason = reason.to_string();
        let mut last = String::new();
        for round in 0..MAX_JOIN_ROUNDS {
            let join = JoinGroupRequest {
                group_id: self.group.clone(),
                session_timeout_ms: SESSION_TIMEOUT_MS,
                rebalance_timeout_ms: REBALANCE_TIMEOUT_MS,
                member_id: self.member_id.clone(),
                group_instance_id: None,
                protocol_type: CONSUMER_PROTOCOL_TYPE.into(),
                protocols: vec![JoinGroupRequestProtocol {
                    name: RANGE_ASSIGNOR.into(),
                    metadata: Subscription::to(vec![self.topic.clone()]).encode(),
                    ..Default::default()
                }],
                reason: Some(reason.clone()),
                ..Default::default()
            };
            let (_, body) = self.call(client, join.into(), Some(wait))?;
            let ResponseBody::JoinGroup(r) = body else {
                bail!("unexpected response to JoinGroup");
            };
            last = code_name(r.error_code);
            match ErrorCode::from_code(r.error_code) {
                Some(ErrorCode::None) => {}
                // v4+: the first join only hands out the member id; join again with it.
                Some(ErrorCode::MemberIdRequired) => {
                    self.member_id = r.member_id;
                    reason = "joining with the member id the coordinator gave".into();
                    continue;
                }
                Some(ErrorCode::UnknownMemberId) => {
                    self.member_id.clear();
                    reason = "the coordinator no longer knew this member".into();
                    continue;
                }
                Some(ErrorCode::RebalanceInProgress) => {
                    backoff(round);
                    continue;
                }
                _ if coordinator_retriable(r.error_code) => {
                    if coordinator_moved(r.error_code) {
                        self.rediscover(client)?;
                    }
                    backoff(round);
                    continue;
                }
                Some(ErrorCode::InconsistentGroupProtocol) => bail!(
                    "cannot join group {:?}: its members use another protocol type or assignor than kzero's \
                     \"{CONSUMER_PROTOCOL_TYPE}\"/\"{RANGE_ASSIGNOR}\" (INCONSISTENT_GROUP_PROTOCOL)",
                    self.group
                ),
                Some(ErrorCode::InvalidSessionTimeout) => bail!(
                    "cannot join group {:?}: the broker does not accept kzero's session timeout of {SESSION_TIMEOUT_MS} ms \
                     (INVALID_SESSION_TIMEOUT)",
                    self.group
                ),
                Some(ErrorCode::GroupMaxSizeReached) => {
                    bail!("cannot join group {:?}: it is full (GROUP_MAX_SIZE_REACHED)", self.group)
                }
                _ => bail!("cannot join group {:?}: {}", self.group, group_problem(r.error_code)),
            }
            self.member_id = r.member_id;
            self.generation = r.generation_id;
            self.protocol = r.protocol_name.unwrap_or_default();
            let assignments = if r.leader == self.member_id && !r.skip_assignment {
                self.assign(client, &r.members)?
            } else {
                Vec::new()
            };
            let sync = SyncGroupRequest {
                group_id: self.group.clone(),
                generation_id: self.generation,
                member_id: self.member_id.clone(),
                group_instance_id: None,
                protocol_type: Some(CONSUMER_PROTOCOL_TYPE.into()),
                protocol_name: Some(self.protocol.clone()),
                assignments,
                ..Default::default()
            };
            let (_, body) = self.call(client, sync.into(), Some(wait))?;
            let ResponseBody::SyncGroup(s) = body else {
                bail!("unexpected response to SyncGroup");
            };
            last = code_name(s.error_code);
            match ErrorCode::from_code(s.error_code) {
                Some(ErrorCode::None) => {
                    let assignment = Assignment::decode(&s.assignment).map_err(|e| {
                        anyhow!(
                            "the leader of group {:?} sent an assignment kzero cannot read: {e}",
                            self.group
                        )
                    })?;
                    return Ok(assignment.of(&self.topic));
                }
                Some(ErrorCode::RebalanceInProgress | ErrorCode::IllegalGeneration) => {
                    reason = "the group rebalanced during the sync".into();
                }
                Some(ErrorCode::UnknownMemberId) => {
                    self.member_id.clear();
                    reason = "the coordinator no longer knew this member".into();
                }
                _ if coordinator_retriable(s.error_code) => {
                    if coordinator_moved(s.error_code) {
                        self.rediscover(client)?;
                    }
                    backoff(round);
                }
                _ => bail!("cannot join group {:?}: {}", self.group, group_problem(s.error_code)),
            }
        }
        bail!(
            "could not join group {:?} after {MAX_JOIN_ROUNDS} attempts (the last answer was {last})",
            self.group
        )
    }

    /// The leader's part: the range assignment of every member's subscription.
    fn assign(
        &mut self,
        client: &mut Client,
        members: &[JoinGroupResponseMember],
    ) -> Result<Vec<SyncGroupRequestAssignment>> {
        if self.protocol != RANGE_ASSIGNOR {
            bail!(
                "group {:?} chose the assignor {:?}, which kzero does not implement",
                self.group,
                self.protocol
            );
        }
        let mut subscribed = Vec::with_capacity(members.len());
        for m in members {
            let s = Subscription::decode(&m.metadata).map_err(|e| {
                anyhow!(
                    "member {} of group {:?} sent a subscription kzero cannot read: {e}",
                    m.member_id,
                    self.group
                )
            })?;
            subscribed.push(AssignorMember {
                member_id: m.member_id.clone(),
                instance_id: m.group_instance_id.clone(),
                topics: s.topics,
            });
        }
        let mut topics: Vec<String> = subscribed.iter().flat_map(|m| m.topics.iter().cloned()).collect();
        topics.sort();
        topics.dedup();
        let counts: BTreeMap<String, i32> = if topics.is_empty() {
            BTreeMap::new()
        } else {
            client
                .metadata(Some(&topics), false)?
                .topics
                .into_iter()
                .filter(|t| t.error_code == 0)
                .map(|t| (t.name.unwrap_or_default(), t.partitions.len() as i32))
                .collect()
        };
        Ok(range_assign(&subscribed, &counts)
            .into_iter()
            .map(|(member_id, a)| SyncGroupRequestAssignment {
                member_id,
                assignment: a.encode(),
                ..Default::default()
            })
            .collect())
    }

    /// One heartbeat.
    pub fn heartbeat(&mut self, client: &mut Client) -> Result<Outcome> {
        let request = HeartbeatRequest {
            group_id: self.group.clone(),
            generation_id: self.generation,
            member_id: self.member_id.clone(),
            group_instance_id: None,
            ..Default::default()
        };
        let (_, body) = self.call(client, request.into(), None)?;
        let ResponseBody::Heartbeat(r) = body else {
            bail!("unexpected response to Heartbeat");
        };
        self.outcome(client, r.error_code, "the heartbeat")
    }

    /// What an error code of Heartbeat or OffsetCommit means for the member.
    fn outcome(&mut self, client: &mut Client, code: i16, what: &str) -> Result<Outcome> {
        match ErrorCode::from_code(code) {
            Some(ErrorCode::None) => Ok(Outcome::Ok),
            Some(ErrorCode::RebalanceInProgress | ErrorCode::IllegalGeneration) => Ok(Outcome::Rejoin),
            Some(ErrorCode::UnknownMemberId) => {
                self.member_id.clear();
                Ok(Outcome::Rejoin)
            }
            _ if coordinator_retriable(code) => {
                if coordinator_moved(code) {
                    self.rediscover(client)?;
                }
                Ok(Outcome::Retry)
            }
            _ => bail!("{what} in group {:?} failed: {}", self.group, group_problem(code)),
        }
    }

    /// Commits `offsets` of the topic with this member's generation.
    pub fn commit(&mut self, client: &mut Client, offsets: &[OffsetToCommit]) -> Result<Outcome> {
        if offsets.is_empty() {
            return Ok(Outcome::Ok);
        }
        let (group, generation, member_id, topic) = (
            self.group.clone(),
            self.generation,
            self.member_id.clone(),
            self.topic.clone(),
        );
        let codes = self.with_coordinator(client, |conn| {
            commit_offsets(conn, &group, generation, &member_id, &topic, offsets)
        })?;
        let mut outcome = Outcome::Ok;
        for (partition, code) in codes {
            if code == ErrorCode::UnknownTopicOrPartition.code() || code == ErrorCode::OffsetMetadataTooLarge.code() {
                bail!(
                    "cannot commit the offset of {:?} partition {partition}: {}",
                    self.topic,
                    code_name(code)
                );
            }
            match self.outcome(client, code, "committing offsets")? {
                Outcome::Ok => {}
                o => outcome = o,
            }
        }
        Ok(outcome)
    }

    /// The group's committed offsets for `partitions` of the topic: partition -> (offset, leader epoch),
    /// only for partitions that have one.
    pub fn committed(&mut self, client: &mut Client, partitions: &[i32]) -> Result<BTreeMap<i32, (i64, i32)>> {
        let wanted = [(self.topic.clone(), partitions.to_vec())];
        let group = self.group.clone();
        let deadline = Instant::now() + self.timeout;
        for attempt in 0.. {
            match self.with_coordinator(client, |conn| fetch_offsets(conn, &group, Some(&wanted)))? {
                Ok(offsets) => {
                    return Ok(offsets
                        .into_iter()
                        .filter(|((t, _), _)| *t == self.topic)
                        .map(|((_, p), o)| (p, o))
                        .collect())
                }
                Err(code)
                    if Instant::now() < deadline
                        && (coordinator_retriable(code) || code == ErrorCode::UnstableOffsetCommit.code()) =>
                {
                    if coordinator_moved(code) {
                        self.rediscover(client)?;
                    }
                    backoff(attempt);
                }
                Err(code) => bail!(
                    "cannot read the committed offsets of group {:?}: {}",
                    self.group,
                    code_name(code)
                ),
            }
        }
        unreachable!("the loop returns")
    }

    /// Leaves the group (LeaveGroup), so that the others rebalance at once instead of after the session
    /// timeout. A member the coordinator no longer knows has nothing to leave.
    pub fn leave(&mut self, client: &mut Client) -> Result<()> {
        if self.member_id.is_empty() {
            return Ok(());
        }
        let request = LeaveGroupRequest {
            group_id: self.group.clone(),
            member_id: self.member_id.clone(),
            members: vec![MemberIdentity {
                member_id: self.member_id.clone(),
                group_instance_id: None,
                reason: Some("the kzero consumer is exiting".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let (_, body) = self.call(client, request.into(), None)?;
        let ResponseBody::LeaveGroup(r) = body else {
            bail!("unexpected response to LeaveGroup");
        };
        let code = r
            .members
            .iter()
            .map(|m| m.error_code)
            .find(|&c| c != 0)
            .unwrap_or(r.error_code);
        self.member_id.clear();
        match ErrorCode::from_code(code) {
            Some(ErrorCode::None | ErrorCode::UnknownMemberId) => Ok(()),
            _ => bail!("cannot leave group {:?}: {}", self.group, group_problem(code)),
        }
    }
}
