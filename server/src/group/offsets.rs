//! Committed offsets: OffsetCommit validation against the group, OffsetFetch, OffsetDelete, DeleteGroups
//! and retention, as a sans-IO part of the coordinator (Kafka's `OffsetMetadataManager`; `kafka-facts-2.md`
//! §2). Every change is a [`Record`] the driver appends to `__consumer_offsets`; [`Coordinator::replay`]
//! rebuilds a partition's groups from those records when this broker becomes its leader, and
//! [`Coordinator::unload`] forgets them when it stops leading it.

use std::collections::{BTreeMap, HashSet};

use protocol::ErrorCode;

use super::classic::{self, GroupConfig, GroupSnapshot, GroupState, Groups, Ms};
use super::consumer::{self, ConsumerGroupConfig, ConsumerGroups};

/// `offset.metadata.max.bytes`, counted in UTF-16 units as Java's `String.length`.
pub(crate) const OFFSET_METADATA_MAX_BYTES: usize = 4096;

/// One committed offset (Kafka's `OffsetAndMetadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommittedOffset {
    pub(crate) offset: i64,
    /// -1 for none.
    pub(crate) leader_epoch: i32,
    pub(crate) metadata: String,
    pub(crate) commit_timestamp: Ms,
    /// Only from v2-4 commits carrying a retention time.
    pub(crate) expire_timestamp: Option<Ms>,
}

/// A change to persist in `__consumer_offsets` (`None` values are tombstones).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Record {
    Offset {
        group: String,
        topic: String,
        partition: i32,
        value: Option<CommittedOffset>,
    },
    Group {
        group: String,
        value: Option<GroupSnapshot>,
    },
    /// A KIP-848 consumer group's record (types 3, 5, 6, 7, 8, 16).
    Consumer(consumer::Record),
}

impl Record {
    /// The group whose `__consumer_offsets` partition holds this record.
    pub(crate) fn group(&self) -> &str {
        match self {
            Record::Offset { group, .. } | Record::Group { group, .. } => group,
            Record::Consumer(r) => r.group(),
        }
    }
}

/// An OffsetCommit request, whatever its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommitRequest {
    pub(crate) group_id: String,
    /// -1 for "no generation" (simple consumers and admin tools).
    pub(crate) generation: i32,
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    /// v2-4 only; -1 for the broker's retention.
    pub(crate) retention_ms: i64,
    /// v9+ answers GROUP_ID_NOT_FOUND where older versions answer ILLEGAL_GENERATION.
    pub(crate) version: i16,
    /// (topic, partition, offset, leader epoch, metadata).
    pub(crate) partitions: Vec<(String, i32, i64, i32, Option<String>)>,
}

/// The coordinator's state: classic groups, KIP-848 consumer groups and committed offsets. A group id
/// belongs to one kind at a time: an empty group of one kind is converted when a member of the other
/// kind joins (Kafka converts empty groups freely); a non-empty one refuses the other kind's members.
#[derive(Debug)]
pub(crate) struct Coordinator {
    pub(crate) groups: Groups,
    pub(crate) consumer: ConsumerGroups,
    /// Group -> (topic, partition) -> offset.
    offsets: BTreeMap<String, BTreeMap<(String, i32), CommittedOffset>>,
}

impl Default for Coordinator {
    fn default() -> Self {
        Coordinator::new(GroupConfig::default())
    }
}

impl Coordinator {
    pub(crate) fn new(config: GroupConfig) -> Self {
        Coordinator::with_consumer(config, ConsumerGroupConfig::default(), 0)
    }

    /// With KIP-848 settings; `seed` drives the member ids generated for v0 heartbeats.
    pub(crate) fn with_consumer(config: GroupConfig, consumer: ConsumerGroupConfig, seed: u64) -> Self {
        Coordinator {
            groups: Groups::new(config),
            consumer: ConsumerGroups::new(consumer, seed),
            offsets: BTreeMap::new(),
        }
    }

    /// Makes room for a KIP-848 member joining `group_id`: an empty classic group of that id is converted
    /// (its metadata tombstoned, its offsets kept); a classic group with members refuses with
    /// GROUP_ID_NOT_FOUND, as Kafka answers when it does not convert (no online migration here).
    pub(crate) fn claim_for_consumer(&mut self, group_id: &str) -> Result<Vec<Record>, ErrorCode> {
        let Some(g) = self.groups.get(group_id) else {
            return Ok(Vec::new());
        };
        // Empty: no members, and none pending (a JoinGroup waiting for its member id).
        if !g.is_empty() || self.groups.delete(group_id) != ErrorCode::None {
            return Err(ErrorCode::GroupIdNotFound);
        }
        Ok(vec![Record::Group {
            group: group_id.to_string(),
            value: None,
        }])
    }

    /// Makes room for a classic member joining `group_id`: an empty KIP-848 group of that id is converted
    /// (its records tombstoned, its offsets kept); one with members refuses with
    /// INCONSISTENT_GROUP_PROTOCOL.
    pub(crate) fn claim_for_classic(&mut self, group_id: &str) -> Result<Vec<Record>, ErrorCode> {
        if !self.consumer.contains(group_id) {
            return Ok(Vec::new());
        }
        if !self.consumer.is_empty(group_id) {
            return Err(ErrorCode::InconsistentGroupProtocol);
        }
        let records = self.consumer.delete(group_id)?;
        Ok(records.into_iter().map(Record::Consumer).collect())
    }

    /// After loading the groups `which` picks (one `__consumer_offsets` partition's): offsets replayed
    /// before their consumer group's records made empty classic groups of the same ids; the consumer group
    /// wins. Other groups are left alone.
    pub(crate) fn loaded(&mut self, which: impl Fn(&str) -> bool) {
        let ids: Vec<String> = self
            .groups
            .ids()
            .filter(|id| which(id) && self.consumer.contains(id))
            .cloned()
            .collect();
        for id in ids {
            if self.groups.get(&id).is_some_and(|g| g.is_empty()) {
                self.groups.delete(&id);
            }
        }
    }

    /// `validateOffsetCommit`: `Ok` or the error every partition gets (KIP-848 groups validate member
    /// epochs, classic groups generations).
    fn validate_commit(&mut self, req: &CommitRequest, now: Ms) -> Result<(), ErrorCode> {
        if self.consumer.contains(&req.group_id) {
            return self
                .consumer
                .validate_offset_commit(&req.group_id, &req.member_id, req.generation, req.version);
        }
        let Some(group) = self.groups.get(&req.group_id) else {
            if req.generation < 0 {
                // A simple consumer or an admin tool: an empty group is created.
                self.groups.get_or_create(&req.group_id, now);
                return Ok(());
            }
            return Err(if req.version >= 9 {
                ErrorCode::GroupIdNotFound
            } else {
                ErrorCode::IllegalGeneration
            });
        };
        if group.state() == GroupState::Dead {
            return Err(ErrorCode::CoordinatorNotAvailable);
        }
        if req.generation < 0 && group.state() == GroupState::Empty {
            return Ok(());
        }
        if req.generation >= 0 || !req.member_id.is_empty() || req.instance_id.is_some() {
            self.groups
                .validate_member(&req.group_id, &req.member_id, req.instance_id.as_deref())?;
            let group = self.groups.get(&req.group_id).ok_or(ErrorCode::UnknownMemberId)?;
            if req.generation != group.generation() {
                return Err(ErrorCode::IllegalGeneration);
            }
        } else if group.state() != GroupState::Empty {
            return Err(ErrorCode::UnknownMemberId);
        }
        let group = self.groups.get(&req.group_id).ok_or(ErrorCode::UnknownMemberId)?;
        if group.state() == GroupState::CompletingRebalance {
            return Err(ErrorCode::RebalanceInProgress);
        }
        Ok(())
    }

    /// OffsetCommit: each partition's error, and the records to append (the answer waits for them).
    pub(crate) fn commit(&mut self, req: &CommitRequest, now: Ms) -> (Vec<ErrorCode>, Vec<Record>) {
        if let Err(e) = self.validate_commit(req, now) {
            return (vec![e; req.partitions.len()], Vec::new());
        }
        self.groups.touch(&req.group_id, &req.member_id, now);
        let expire = (req.retention_ms >= 0).then(|| now + req.retention_ms);
        let mut errors = Vec::with_capacity(req.partitions.len());
        let mut records = Vec::new();
        for (topic, partition, offset, leader_epoch, metadata) in &req.partitions {
            let metadata = metadata.clone().unwrap_or_default();
            if metadata.encode_utf16().count() > OFFSET_METADATA_MAX_BYTES {
                errors.push(ErrorCode::OffsetMetadataTooLarge);
                continue;
            }
            let value = CommittedOffset {
                offset: *offset,
                leader_epoch: *leader_epoch,
                metadata,
                commit_timestamp: now,
                expire_timestamp: expire,
            };
            self.offsets
                .entry(req.group_id.clone())
                .or_default()
                .insert((topic.clone(), *partition), value.clone());
            records.push(Record::Offset {
                group: req.group_id.clone(),
                topic: topic.clone(),
                partition: *partition,
                value: Some(value),
            });
            errors.push(ErrorCode::None);
        }
        (errors, records)
    }

    /// Puts committed offsets back as they were before a commit whose records could not be written.
    pub(crate) fn restore_offsets(&mut self, group_id: &str, before: Vec<(String, i32, Option<CommittedOffset>)>) {
        for (topic, partition, old) in before {
            let offsets = self.offsets.entry(group_id.to_string()).or_default();
            match old {
                Some(o) => {
                    offsets.insert((topic, partition), o);
                }
                None => {
                    offsets.remove(&(topic, partition));
                }
            }
        }
        if self.offsets.get(group_id).is_some_and(BTreeMap::is_empty) {
            self.offsets.remove(group_id);
        }
    }

    /// OffsetFetch of named partitions: (topic, partition) -> offset, or -1 when none (an unknown group is
    /// not an error).
    pub(crate) fn fetch(&self, group_id: &str, topic: &str, partition: i32) -> Option<&CommittedOffset> {
        self.offsets
            .get(group_id)
            .filter(|_| self.groups.get(group_id).is_none_or(|g| g.state() != GroupState::Dead))
            .and_then(|o| o.get(&(topic.to_string(), partition)))
    }

    /// OffsetFetch of every committed partition of a group, sorted.
    pub(crate) fn fetch_all(&self, group_id: &str) -> Vec<(&(String, i32), &CommittedOffset)> {
        self.offsets
            .get(group_id)
            .map(|o| o.iter().collect())
            .unwrap_or_default()
    }

    /// Every committed offset: (group, (topic, partition), offset).
    pub(crate) fn all_offsets(&self) -> impl Iterator<Item = (&String, &(String, i32), &CommittedOffset)> {
        self.offsets
            .iter()
            .flat_map(|(g, o)| o.iter().map(move |(k, v)| (g, k, v)))
    }

    /// A deleted topic's committed offsets, as tombstones (Kafka's `onPartitionsDeleted`).
    pub(crate) fn topic_deleted(&mut self, topic: &str) -> Vec<Record> {
        let mut records = Vec::new();
        for (group, offsets) in &mut self.offsets {
            let gone: Vec<(String, i32)> = offsets.keys().filter(|(t, _)| t == topic).cloned().collect();
            for key in gone {
                offsets.remove(&key);
                records.push(Record::Offset {
                    group: group.clone(),
                    topic: key.0,
                    partition: key.1,
                    value: None,
                });
            }
        }
        self.offsets.retain(|_, o| !o.is_empty());
        records
    }

    /// DeleteGroups: each group's error and the tombstones.
    pub(crate) fn delete_groups(&mut self, ids: &[String]) -> (Vec<ErrorCode>, Vec<Record>) {
        let mut errors = Vec::with_capacity(ids.len());
        let mut records = Vec::new();
        for id in ids {
            if self.consumer.contains(id) {
                match self.consumer.delete(id) {
                    Ok(group_records) => {
                        records.extend(self.tombstones(id));
                        records.extend(group_records.into_iter().map(Record::Consumer));
                        errors.push(ErrorCode::None);
                    }
                    Err(code) => errors.push(code),
                }
                continue;
            }
            let known = self.groups.get(id).is_some() || self.offsets.contains_key(id);
            let code = if self.groups.get(id).is_some() {
                self.groups.delete(id)
            } else if known {
                ErrorCode::None
            } else {
                ErrorCode::GroupIdNotFound
            };
            if code == ErrorCode::None {
                records.extend(self.tombstones(id));
                records.push(Record::Group {
                    group: id.clone(),
                    value: None,
                });
            }
            errors.push(code);
        }
        (errors, records)
    }

    fn tombstones(&mut self, group: &str) -> Vec<Record> {
        self.offsets
            .remove(group)
            .unwrap_or_default()
            .into_keys()
            .map(|(topic, partition)| Record::Offset {
                group: group.to_string(),
                topic,
                partition,
                value: None,
            })
            .collect()
    }

    /// OffsetDelete: each partition's error (`GROUP_SUBSCRIBED_TO_TOPIC` while the group consumes the
    /// topic) and the tombstones; the group-level error first.
    pub(crate) fn delete_offsets(
        &mut self,
        group_id: &str,
        partitions: &[(String, i32)],
    ) -> (ErrorCode, Vec<ErrorCode>, Vec<Record>) {
        if let Some(topics) = self.consumer.subscribed_topics(group_id) {
            let subscribed: HashSet<String> = topics.into_iter().collect();
            return self.delete_offsets_unchecked(group_id, partitions, &subscribed);
        }
        let Some(group) = self.groups.get(group_id) else {
            return if self.offsets.contains_key(group_id) {
                self.delete_offsets_unchecked(group_id, partitions, &HashSet::new())
            } else {
                (ErrorCode::GroupIdNotFound, Vec::new(), Vec::new())
            };
        };
        if group.state() == GroupState::Dead {
            return (ErrorCode::GroupIdNotFound, Vec::new(), Vec::new());
        }
        let subscribed: HashSet<String> = match group.state() {
            GroupState::Empty => HashSet::new(),
            _ => match group.subscribed_topics() {
                Some(t) => t,
                // Members whose subscription is unknown: every topic counts as subscribed.
                None if !group.is_empty() => {
                    return (ErrorCode::NonEmptyGroup, Vec::new(), Vec::new());
                }
                None => HashSet::new(),
            },
        };
        self.delete_offsets_unchecked(group_id, partitions, &subscribed)
    }

    fn delete_offsets_unchecked(
        &mut self,
        group_id: &str,
        partitions: &[(String, i32)],
        subscribed: &HashSet<String>,
    ) -> (ErrorCode, Vec<ErrorCode>, Vec<Record>) {
        let mut errors = Vec::with_capacity(partitions.len());
        let mut records = Vec::new();
        for (topic, partition) in partitions {
            if subscribed.contains(topic) {
                errors.push(ErrorCode::GroupSubscribedToTopic);
                continue;
            }
            if let Some(o) = self.offsets.get_mut(group_id) {
                if o.remove(&(topic.clone(), *partition)).is_some() {
                    records.push(Record::Offset {
                        group: group_id.to_string(),
                        topic: topic.clone(),
                        partition: *partition,
                        value: None,
                    });
                }
            }
            errors.push(ErrorCode::None);
        }
        (ErrorCode::None, errors, records)
    }

    /// Offsets past `offsets.retention.minutes` (KIP-211), as tombstones; a group left with no offsets and
    /// no members is deleted too.
    pub(crate) fn expire(&mut self, now: Ms, retention_ms: Ms) -> Vec<Record> {
        let mut records = Vec::new();
        let ids: Vec<String> = self.offsets.keys().cloned().collect();
        for id in ids {
            let group = self.groups.get(&id);
            // The base time of an offset, or None when it never expires in this state.
            let (base_state_time, subscribed): (Option<Ms>, Option<HashSet<String>>) = match group {
                // A KIP-848 group's offsets of topics its members subscribe to never expire; the others
                // expire from their commit time (Kafka's `ConsumerGroup.offsetExpirationCondition`).
                None if self.consumer.contains(&id) => (
                    None,
                    self.consumer.subscribed_topics(&id).map(|t| t.into_iter().collect()),
                ),
                None => (None, None),
                Some(g) if g.protocol_type().is_empty() => (None, None),
                Some(g) if g.state() == GroupState::Empty => (Some(g.state_timestamp()), None),
                Some(g) if g.state() == GroupState::Stable && g.protocol_type() == "consumer" => {
                    match g.subscribed_topics() {
                        Some(t) => (None, Some(t)),
                        None => continue,
                    }
                }
                Some(_) => continue,
            };
            let Some(offsets) = self.offsets.get_mut(&id) else {
                continue;
            };
            let expired: Vec<(String, i32)> = offsets
                .iter()
                .filter(|((topic, _), o)| {
                    if subscribed.as_ref().is_some_and(|s| s.contains(topic)) {
                        return false;
                    }
                    match o.expire_timestamp {
                        Some(at) => now >= at,
                        None => now - base_state_time.unwrap_or(o.commit_timestamp) >= retention_ms,
                    }
                })
                .map(|(k, _)| k.clone())
                .collect();
            for (topic, partition) in expired {
                offsets.remove(&(topic.clone(), partition));
                records.push(Record::Offset {
                    group: id.clone(),
                    topic,
                    partition,
                    value: None,
                });
            }
            if offsets.is_empty() {
                self.offsets.remove(&id);
                // An empty KIP-848 group goes with its last offset, as an empty classic group does.
                if self.consumer.contains(&id) {
                    if let Ok(tombstones) = self.consumer.delete(&id) {
                        records.extend(tombstones.into_iter().map(Record::Consumer));
                    }
                    continue;
                }
                if self.groups.get(&id).is_none_or(|g| g.is_empty()) && self.groups.delete(&id) == ErrorCode::None {
                    records.push(Record::Group {
                        group: id.clone(),
                        value: None,
                    });
                }
            }
        }
        records
    }

    /// Forgets the groups `which` picks, of both kinds, and their committed offsets (Kafka's unloading on
    /// resignation): their partition of `__consumer_offsets` is led by another broker now, which replays
    /// them. Parked JoinGroup and SyncGroup requests of those groups are answered `error`. Nothing is
    /// persisted.
    pub(crate) fn unload(&mut self, which: impl Fn(&str) -> bool, error: ErrorCode) -> Vec<classic::Output> {
        self.offsets.retain(|group, _| !which(group));
        self.consumer.unload(&which);
        self.groups.unload(&which, error)
    }

    /// Applies a stored record (loading a `__consumer_offsets` partition); the last record of a key wins.
    pub(crate) fn replay(&mut self, record: Record, now: Ms) {
        match record {
            Record::Offset {
                group,
                topic,
                partition,
                value: Some(v),
            } => {
                // Offsets alone make a simple group (Empty, no protocol type), as Kafka replays them,
                // unless a KIP-848 group holds the id.
                if !self.consumer.contains(&group) {
                    self.groups.get_or_create(&group, now);
                }
                self.offsets.entry(group).or_default().insert((topic, partition), v);
            }
            Record::Offset {
                group,
                topic,
                partition,
                value: None,
            } => {
                if let Some(o) = self.offsets.get_mut(&group) {
                    o.remove(&(topic, partition));
                    if o.is_empty() {
                        self.offsets.remove(&group);
                    }
                }
            }
            Record::Group { group, value } => self.groups.replay(&group, value, now),
            Record::Consumer(r) => self.consumer.replay(r, now),
        }
    }
}
