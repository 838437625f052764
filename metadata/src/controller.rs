//! The active controller's rules: requests and timers in, records out.
//!
//! Each function reads the current image (the controller applies every write before deciding the next,
//! so decisions never race) and returns the records to write, or a Kafka error code with a message.
//! Sources: `ClusterControlManager`, `BrokerHeartbeatManager`, `ReplicationControlManager` and
//! `PartitionChangeBuilder` in Kafka's `metadata` module.

use std::collections::BTreeMap;

use protocol::ErrorCode;

use crate::image::{Image, PartitionState, Topic};
use crate::placement;
use crate::records::{PartitionChange, PartitionRecord, Record, RegisterBroker, TopicId, NO_LEADER, NO_LEADER_CHANGE};
use crate::PRODUCER_ID_BLOCK_SIZE;

/// A refusal: the Kafka error and a message for the client.
pub type Refusal = (ErrorCode, String);

/// Brokers' heartbeat sessions (`BrokerHeartbeatManager`): the last contact of each broker, in the
/// controller's memory only (a new active controller starts every session afresh).
#[derive(Debug, Clone)]
pub struct Sessions {
    timeout_ms: u64,
    last_contact: BTreeMap<i32, u64>,
}

impl Sessions {
    /// Sessions expiring after `timeout_ms` without a heartbeat (`broker.session.timeout.ms`).
    pub fn new(timeout_ms: u64) -> Sessions {
        Sessions {
            timeout_ms,
            last_contact: BTreeMap::new(),
        }
    }

    /// Records contact from a broker.
    pub fn touch(&mut self, broker: i32, now_ms: u64) {
        self.last_contact.insert(broker, now_ms);
    }

    /// Has this broker been heard from within the session timeout?
    pub fn is_live(&self, broker: i32, now_ms: u64) -> bool {
        self.last_contact
            .get(&broker)
            .is_some_and(|t| now_ms.saturating_sub(*t) < self.timeout_ms)
    }
}

/// Registers a broker (`ClusterControlManager.registerBroker`). An empty answer is a retried registration
/// of the same incarnation, which keeps its epoch and state. A new incarnation of a registered broker is a
/// restart: unless the old one still has a live session (`DUPLICATE_BROKER_REGISTRATION`), it is treated as
/// an unclean shutdown first (Kafka's `handleBrokerUncleanShutdown`): out of every ISR, its leaderships
/// moved (or left without a leader, epoch bumped), then the new registration, fenced until caught up.
pub fn register_broker(
    image: &Image,
    sessions: &mut Sessions,
    now_ms: u64,
    request: RegisterBroker,
) -> Result<Vec<Record>, Refusal> {
    let mut records = Vec::new();
    if let Some(existing) = image.brokers.get(&request.broker_id) {
        if existing.incarnation_id == request.incarnation_id {
            sessions.touch(request.broker_id, now_ms);
            return Ok(records);
        }
        if sessions.is_live(request.broker_id, now_ms) && !existing.fenced {
            return Err((
                ErrorCode::DuplicateBrokerRegistration,
                format!(
                    "another broker is registered with id {} and its session has not expired",
                    request.broker_id
                ),
            ));
        }
        records = remove_from_isrs(image, request.broker_id);
    }
    sessions.touch(request.broker_id, now_ms);
    records.push(Record::RegisterBroker(request));
    Ok(records)
}

/// A heartbeat (`BrokerHeartbeatRequest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    /// The broker.
    pub broker_id: i32,
    /// Its epoch.
    pub broker_epoch: i64,
    /// The metadata offset it has applied.
    pub metadata_offset: u64,
    /// It is not ready to lead (still recovering or catching up).
    pub want_fence: bool,
    /// It is shutting down (controlled shutdown).
    pub want_shutdown: bool,
}

/// The controller's answer to a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatReply {
    /// `STALE_BROKER_EPOCH` for an unknown broker or epoch.
    pub error: ErrorCode,
    /// Its metadata offset has reached its registration.
    pub is_caught_up: bool,
    /// Fenced after this heartbeat's records apply.
    pub is_fenced: bool,
    /// It may stop now.
    pub should_shutdown: bool,
}

/// Handles a heartbeat (`ReplicationControlManager.processBrokerHeartbeat`, `calculateNextBrokerState`).
/// Controlled shutdown ends once the broker leads nothing.
pub fn heartbeat(image: &Image, sessions: &mut Sessions, now_ms: u64, hb: &Heartbeat) -> (Vec<Record>, HeartbeatReply) {
    let Some(broker) = image.brokers.get(&hb.broker_id).filter(|b| b.epoch == hb.broker_epoch) else {
        return (
            Vec::new(),
            HeartbeatReply {
                error: ErrorCode::StaleBrokerEpoch,
                is_caught_up: false,
                is_fenced: true,
                should_shutdown: false,
            },
        );
    };
    sessions.touch(hb.broker_id, now_ms);
    let caught_up = i64::try_from(hb.metadata_offset).unwrap_or(i64::MAX) >= broker.epoch;
    let leads = image
        .topics
        .values()
        .any(|t| t.partitions.iter().any(|p| p.leader == hb.broker_id));
    let reply = |is_fenced: bool, should_shutdown: bool| HeartbeatReply {
        error: ErrorCode::None,
        is_caught_up: caught_up,
        is_fenced,
        should_shutdown,
    };
    if broker.fenced {
        if hb.want_shutdown {
            return (Vec::new(), reply(true, true));
        }
        if !hb.want_fence && caught_up {
            return (unfence(image, hb.broker_id), reply(false, false));
        }
        return (Vec::new(), reply(true, false));
    }
    if broker.in_controlled_shutdown {
        if leads {
            return (Vec::new(), reply(false, false));
        }
        return (fence(image, hb.broker_id), reply(true, true));
    }
    if hb.want_fence {
        return (fence(image, hb.broker_id), reply(true, hb.want_shutdown));
    }
    if hb.want_shutdown {
        if leads {
            let mut records = vec![Record::BrokerRegistrationChange {
                broker_id: hb.broker_id,
                broker_epoch: broker.epoch,
                fenced: 0,
                in_controlled_shutdown: 1,
            }];
            records.extend(remove_from_isrs(image, hb.broker_id));
            return (records, reply(false, false));
        }
        return (fence(image, hb.broker_id), reply(true, true));
    }
    (Vec::new(), reply(false, false))
}

/// Fences the first unfenced broker whose session expired, one per call so each fencing is visible
/// before the next (`maybeFenceOneStaleBroker`). Brokers without a session get one starting now (a new
/// active controller gives every broker a full session).
pub fn fence_stale_broker(image: &Image, sessions: &mut Sessions, now_ms: u64) -> Option<(i32, Vec<Record>)> {
    for b in image.brokers.values() {
        sessions.last_contact.entry(b.id).or_insert(now_ms);
    }
    let stale = image
        .brokers
        .values()
        .filter(|b| !b.fenced)
        .find(|b| !sessions.is_live(b.id, now_ms))?;
    Some((stale.id, fence(image, stale.id)))
}

/// The records that fence a broker: out of every ISR (new leaders elected), then the fencing change.
fn fence(image: &Image, broker: i32) -> Vec<Record> {
    let mut records = remove_from_isrs(image, broker);
    if let Some(b) = image.brokers.get(&broker) {
        records.push(Record::BrokerRegistrationChange {
            broker_id: broker,
            broker_epoch: b.epoch,
            fenced: 1,
            in_controlled_shutdown: 0,
        });
    }
    records
}

/// The records that unfence a broker, then elect it where a partition has no leader and it can lead.
fn unfence(image: &Image, broker: i32) -> Vec<Record> {
    let Some(b) = image.brokers.get(&broker) else {
        return Vec::new();
    };
    let mut records = vec![Record::BrokerRegistrationChange {
        broker_id: broker,
        broker_epoch: b.epoch,
        fenced: -1,
        in_controlled_shutdown: 0,
    }];
    let acceptable = |id: i32| id == broker || image.is_active(id);
    for t in image.topics.values() {
        for (i, p) in t.partitions.iter().enumerate() {
            if p.leader == NO_LEADER && p.replicas.contains(&broker) {
                if let Some(change) = elect(t, i as i32, p, &p.isr, &acceptable) {
                    records.push(Record::PartitionChange(change));
                }
            }
        }
    }
    records
}

/// Removes a broker from every ISR it is in, electing a new leader where it led
/// (`handleBrokerFenced`/`handleBrokerInControlledShutdown`). Without ELR an ISR is never written
/// empty: the last member stays and only the leader becomes -1.
fn remove_from_isrs(image: &Image, broker: i32) -> Vec<Record> {
    let acceptable = |id: i32| id != broker && image.is_active(id);
    let mut records = Vec::new();
    for t in image.topics.values() {
        for (i, p) in t.partitions.iter().enumerate() {
            if !p.isr.contains(&broker) && p.leader != broker {
                continue;
            }
            let target: Vec<i32> = p.isr.iter().copied().filter(|r| *r != broker).collect();
            if let Some(change) = elect(t, i as i32, p, &target, &acceptable) {
                records.push(Record::PartitionChange(change));
            }
        }
    }
    records
}

/// The change that moves a partition to `target_isr` with an ONLINE election (`PartitionChangeBuilder`):
/// keep the current leader if it stays in the ISR and is acceptable, else the first replica in replica
/// order that is in the ISR and acceptable, else no leader. `None` when nothing would change.
pub fn elect(
    topic: &Topic,
    partition: i32,
    state: &PartitionState,
    target_isr: &[i32],
    acceptable: &dyn Fn(i32) -> bool,
) -> Option<PartitionChange> {
    let leader = if target_isr.contains(&state.leader) && acceptable(state.leader) {
        state.leader
    } else {
        state
            .replicas
            .iter()
            .copied()
            .find(|r| target_isr.contains(r) && acceptable(*r))
            .unwrap_or(NO_LEADER)
    };
    // The ISR is never written empty: it keeps its last member, who can lead again when it returns.
    let isr = if target_isr.is_empty() {
        state.isr.clone()
    } else {
        target_isr.to_vec()
    };
    let isr_change = (isr != state.isr).then_some(isr);
    let leader_change = if leader == state.leader {
        NO_LEADER_CHANGE
    } else {
        leader
    };
    if isr_change.is_none() && leader_change == NO_LEADER_CHANGE {
        return None;
    }
    Some(PartitionChange {
        topic_id: topic.id,
        partition_id: partition,
        isr: isr_change,
        leader: leader_change,
        replicas: None,
    })
}

/// The partition records for new partitions `first..` with these replica lists: the ISR is the active
/// replicas, the leader its first (`buildPartitionRegistration`); an empty ISR is refused.
fn new_partitions(
    image: &Image,
    topic_id: TopicId,
    first: i32,
    assignments: &[Vec<i32>],
    manual: bool,
) -> Result<Vec<Record>, Refusal> {
    let mut records = Vec::with_capacity(assignments.len());
    for (p, replicas) in (first..).zip(assignments) {
        let isr: Vec<i32> = replicas.iter().copied().filter(|r| image.is_active(*r)).collect();
        let Some(leader) = isr.first().copied() else {
            return Err((
                if manual {
                    ErrorCode::InvalidReplicaAssignment
                } else {
                    ErrorCode::InvalidReplicationFactor
                },
                format!("Unable to create partition {p}: none of its replicas {replicas:?} is an active broker."),
            ));
        };
        records.push(Record::Partition(PartitionRecord {
            topic_id,
            partition_id: p,
            replicas: replicas.clone(),
            isr,
            leader,
            leader_epoch: 0,
            partition_epoch: 0,
        }));
    }
    Ok(records)
}

/// Checks manual assignments: each lists registered brokers, no broker twice, all of one length.
fn check_assignments(image: &Image, assignments: &[Vec<i32>]) -> Result<(), Refusal> {
    let bad = |m: String| Err((ErrorCode::InvalidReplicaAssignment, m));
    let Some(first) = assignments.first() else {
        return bad("no assignments".into());
    };
    for a in assignments {
        if a.is_empty() {
            return bad("an assignment lists no brokers".into());
        }
        if a.len() != first.len() {
            return bad(format!(
                "inconsistent replication factor in the assignments {assignments:?}"
            ));
        }
        let mut seen = a.clone();
        seen.sort_unstable();
        seen.dedup();
        if seen.len() != a.len() {
            return bad(format!("the assignment {a:?} names a broker twice"));
        }
        if let Some(b) = a.iter().find(|b| !image.brokers.contains_key(b)) {
            return bad(format!(
                "the assignment {a:?} names broker {b}, which is not registered"
            ));
        }
    }
    Ok(())
}

/// What to create: a topic with either a partition count and replication factor, or manual assignments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    /// The name (validated by the caller).
    pub name: String,
    /// The id (random, from the caller).
    pub id: TopicId,
    /// The partition count (ignored with assignments).
    pub partitions: i32,
    /// The replication factor (ignored with assignments).
    pub replication_factor: i16,
    /// Manual assignments, partition `i` at `[i]`; empty for automatic placement.
    pub assignments: Vec<Vec<i32>>,
    /// Config overrides (validated by the caller).
    pub configs: Vec<(String, String)>,
}

/// Creates a topic (`ReplicationControlManager.createTopic`): TopicRecord, its ConfigRecords, then one
/// PartitionRecord per partition. `start` is the placement's random starting point.
pub fn create_topic(image: &Image, topic: &NewTopic, start: usize) -> Result<Vec<Record>, Refusal> {
    if image.topics.contains_key(&topic.name) {
        return Err((
            ErrorCode::TopicAlreadyExists,
            format!("Topic '{}' already exists.", topic.name),
        ));
    }
    let manual = !topic.assignments.is_empty();
    let assignments = if manual {
        check_assignments(image, &topic.assignments)?;
        topic.assignments.clone()
    } else {
        if topic.partitions < 1 {
            return Err((
                ErrorCode::InvalidPartitions,
                format!(
                    "Number of partitions was set to an invalid non-positive value: {}.",
                    topic.partitions
                ),
            ));
        }
        placement::place(image, topic.partitions, topic.replication_factor, start)?
    };
    let mut records = vec![Record::Topic {
        name: topic.name.clone(),
        topic_id: topic.id,
    }];
    records.extend(topic.configs.iter().map(|(k, v)| Record::Config {
        topic: topic.name.clone(),
        name: k.clone(),
        value: Some(v.clone()),
    }));
    records.extend(new_partitions(image, topic.id, 0, &assignments, manual)?);
    Ok(records)
}

/// Adds partitions so the topic has `count` (`createPartitions`), placed like its first partition's
/// replication factor, or as assigned.
pub fn create_partitions(
    image: &Image,
    name: &str,
    count: i32,
    assignments: &[Vec<i32>],
    start: usize,
) -> Result<Vec<Record>, Refusal> {
    let Some(topic) = image.topics.get(name) else {
        return Err((
            ErrorCode::UnknownTopicOrPartition,
            format!("The topic '{name}' does not exist."),
        ));
    };
    let current = topic.partitions.len() as i32;
    if count < current {
        return Err((
            ErrorCode::InvalidPartitions,
            format!("Topic currently has {current} partitions, which is higher than the requested {count}: partitions cannot be removed."),
        ));
    }
    if count == current {
        return Err((
            ErrorCode::InvalidPartitions,
            format!("Topic already has {current} partitions."),
        ));
    }
    let added = count - current;
    let manual = !assignments.is_empty();
    let placed = if manual {
        if assignments.len() as i64 != i64::from(added) {
            return Err((
                ErrorCode::InvalidReplicaAssignment,
                format!(
                    "Attempted to add {added} additional partition(s), but only {} assignment(s) were specified.",
                    assignments.len()
                ),
            ));
        }
        check_assignments(image, assignments)?;
        assignments.to_vec()
    } else {
        let rf = topic.partitions.first().map_or(1, |p| p.replicas.len()) as i16;
        placement::place(image, added, rf, start.wrapping_add(current as usize))?
    };
    new_partitions(image, topic.id, current, &placed, manual)
}

/// Deletes a topic.
pub fn delete_topic(image: &Image, name: &str) -> Result<Vec<Record>, Refusal> {
    let topic = image.topics.get(name).ok_or((
        ErrorCode::UnknownTopicOrPartition,
        format!("The topic '{name}' does not exist."),
    ))?;
    Ok(vec![Record::RemoveTopic { topic_id: topic.id }])
}

/// Replaces config overrides: `Some` sets a key, `None` deletes it.
pub fn alter_configs(image: &Image, name: &str, changes: &[(String, Option<String>)]) -> Result<Vec<Record>, Refusal> {
    if !image.topics.contains_key(name) {
        return Err((
            ErrorCode::UnknownTopicOrPartition,
            format!("The topic '{name}' does not exist."),
        ));
    }
    Ok(changes
        .iter()
        .map(|(k, v)| Record::Config {
            topic: name.to_string(),
            name: k.clone(),
            value: v.clone(),
        })
        .collect())
}

/// Gives a broker the next block of producer ids (`ProducerIdControlManager.generateNextProducerId`):
/// the block's first id and the record that moves the next id past it.
pub fn allocate_producer_ids(image: &Image, broker_id: i32, broker_epoch: i64) -> Result<(i64, Record), Refusal> {
    if image.brokers.get(&broker_id).is_none_or(|b| b.epoch != broker_epoch) {
        return Err((
            ErrorCode::StaleBrokerEpoch,
            format!("broker {broker_id} epoch {broker_epoch} is not registered"),
        ));
    }
    let first = image.next_producer_id;
    let Some(next) = first.checked_add(PRODUCER_ID_BLOCK_SIZE) else {
        return Err((ErrorCode::UnknownServerError, "producer ids are exhausted".into()));
    };
    Ok((
        first,
        Record::ProducerIds {
            broker_id,
            broker_epoch,
            next_producer_id: next,
        },
    ))
}

/// One partition of an AlterPartition request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterIsr {
    /// The topic.
    pub topic_id: TopicId,
    /// The partition.
    pub partition: i32,
    /// The leader epoch the sender leads at.
    pub leader_epoch: i32,
    /// The proposed ISR with each member's broker epoch (-1: not given).
    pub new_isr: Vec<(i32, i64)>,
    /// The partition epoch the sender knows.
    pub partition_epoch: i32,
}

/// AlterPartition's checks for one partition, in Kafka's order (`validateAlterPartitionData`), and the
/// change: `Ok(None)` when the ISR is already as proposed. The caller answers with the partition's state
/// after the change is applied. `broker_id`/`broker_epoch` were checked by [`check_broker_epoch`].
pub fn alter_partition(
    image: &Image,
    broker_id: i32,
    request: &AlterIsr,
    v2_plus: bool,
) -> Result<Option<Record>, ErrorCode> {
    let topic = image.topic_by_id(&request.topic_id).ok_or(if v2_plus {
        ErrorCode::UnknownTopicId
    } else {
        ErrorCode::UnknownTopicOrPartition
    })?;
    let state = usize::try_from(request.partition)
        .ok()
        .and_then(|i| topic.partitions.get(i))
        .ok_or(ErrorCode::UnknownTopicOrPartition)?;
    if request.leader_epoch > state.leader_epoch || request.partition_epoch > state.partition_epoch {
        return Err(ErrorCode::NotController);
    }
    if request.leader_epoch < state.leader_epoch {
        return Err(ErrorCode::FencedLeaderEpoch);
    }
    if broker_id != state.leader {
        return Err(ErrorCode::InvalidRequest);
    }
    if request.partition_epoch < state.partition_epoch {
        return Err(ErrorCode::InvalidUpdateVersion);
    }
    let isr: Vec<i32> = request.new_isr.iter().map(|(b, _)| *b).collect();
    let mut unique = isr.clone();
    unique.sort_unstable();
    unique.dedup();
    if unique.len() != isr.len() || !isr.iter().all(|b| state.replicas.contains(b)) || !isr.contains(&state.leader) {
        return Err(ErrorCode::InvalidRequest);
    }
    let ineligible = request.new_isr.iter().any(|(b, epoch)| match image.brokers.get(b) {
        None => true,
        Some(reg) => !reg.is_active() || (*epoch != -1 && *epoch != reg.epoch),
    });
    if ineligible {
        return Err(if v2_plus {
            ErrorCode::IneligibleReplica
        } else {
            ErrorCode::OperationNotAttempted
        });
    }
    Ok(elect(topic, request.partition, state, &isr, &|b| image.is_active(b)).map(Record::PartitionChange))
}

/// The request-level broker epoch check of AlterPartition and other broker RPCs
/// (`ClusterControlManager.checkBrokerEpoch`).
pub fn check_broker_epoch(image: &Image, broker_id: i32, broker_epoch: i64) -> Result<(), ErrorCode> {
    match image.brokers.get(&broker_id) {
        Some(b) if b.epoch == broker_epoch => Ok(()),
        _ => Err(ErrorCode::StaleBrokerEpoch),
    }
}
