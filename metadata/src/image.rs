//! The metadata image: what the records add up to, as every broker reads it.
//!
//! Applying a record follows Kafka's replay rules (`ClusterControlManager.replay`,
//! `ReplicationControlManager.replay`, `PartitionRegistration.merge`). Topics sit behind `Arc`s, so a
//! broker can keep the previous image and find what changed by pointer comparison.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::records::{
    AclEntry, Batch, Endpoint, PartitionChange, PartitionRecord, Record, ScramCredential, TopicId, NO_LEADER_CHANGE,
};
use crate::Error;

/// A registered broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Broker {
    /// The broker id.
    pub id: i32,
    /// The process incarnation that registered.
    pub incarnation_id: [u8; 16],
    /// The broker epoch: the log index of its registration.
    pub epoch: i64,
    /// The advertised listeners.
    pub endpoints: Vec<Endpoint>,
    /// The rack, if any.
    pub rack: Option<String>,
    /// Fenced brokers lead nothing and are not listed to clients (a registration starts fenced).
    pub fenced: bool,
    /// In controlled shutdown: not an acceptable leader or ISR member.
    pub in_controlled_shutdown: bool,
    /// A broker-only node's controller-listener address (it follows the quorum as an observer).
    pub observer_addr: Option<String>,
}

impl Broker {
    /// Unfenced and not shutting down: may lead and join ISRs (`isActive`).
    pub fn is_active(&self) -> bool {
        !self.fenced && !self.in_controlled_shutdown
    }
}

/// A partition's registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionState {
    /// The replicas, preferred leader first.
    pub replicas: Vec<i32>,
    /// The in-sync replicas.
    pub isr: Vec<i32>,
    /// The leader, or -1.
    pub leader: i32,
    /// Bumped on every leader change.
    pub leader_epoch: i32,
    /// Bumped on every change.
    pub partition_epoch: i32,
}

/// A topic: its id, partitions (by index) and config overrides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topic {
    /// The name.
    pub name: String,
    /// The id.
    pub id: TopicId,
    /// Partition `i` is `partitions[i]`.
    pub partitions: Vec<PartitionState>,
    /// Config overrides (topic-level `ConfigRecord`s).
    pub configs: BTreeMap<String, String>,
}

/// The cluster metadata as of log index `offset`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// The index of the last applied entry.
    pub offset: u64,
    /// Registered brokers by id.
    pub brokers: BTreeMap<i32, Broker>,
    /// Topics by name.
    pub topics: BTreeMap<String, Arc<Topic>>,
    /// The next producer id the controller gives out (blocks of [`crate::PRODUCER_ID_BLOCK_SIZE`]).
    pub next_producer_id: i64,
    /// SCRAM credentials by (user, mechanism type).
    #[serde(default, with = "pairs")]
    pub scram_credentials: BTreeMap<(String, i8), ScramCredential>,
    /// ACL bindings by id.
    #[serde(default, with = "pairs")]
    pub acls: BTreeMap<[u8; 16], AclEntry>,
}

impl Image {
    /// The topic with this id.
    pub fn topic_by_id(&self, id: &TopicId) -> Option<&Arc<Topic>> {
        // INVARIANT: ids are unique; a linear scan keeps the image one map (topics are few, and the broker
        // keeps its own id index).
        self.topics.values().find(|t| &t.id == id)
    }

    /// A partition's state.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionState> {
        let t = self.topics.get(topic)?;
        t.partitions.get(usize::try_from(partition).ok()?)
    }

    /// Is this broker registered, unfenced and not shutting down?
    pub fn is_active(&self, broker: i32) -> bool {
        self.brokers.get(&broker).is_some_and(Broker::is_active)
    }

    /// The partitions this broker leads, as (topic, partition).
    pub fn led_by(&self, broker: i32) -> Vec<(String, i32)> {
        let mut led = Vec::new();
        for t in self.topics.values() {
            for (i, p) in t.partitions.iter().enumerate() {
                if p.leader == broker {
                    led.push((t.name.clone(), i as i32));
                }
            }
        }
        led
    }

    /// Applies one entry's batch at log index `index`.
    pub fn apply_batch(&mut self, index: u64, batch: &Batch) {
        for record in &batch.0 {
            self.apply(index, record);
        }
        self.offset = index;
    }

    /// Applies one record written at log index `index`. Records naming something that does not exist are
    /// ignored (the controller never writes them; a replay must not fail on them).
    pub fn apply(&mut self, index: u64, record: &Record) {
        match record {
            Record::RegisterBroker(r) => {
                self.brokers.insert(
                    r.broker_id,
                    Broker {
                        id: r.broker_id,
                        incarnation_id: r.incarnation_id,
                        epoch: i64::try_from(index).unwrap_or(i64::MAX),
                        endpoints: r.endpoints.clone(),
                        rack: r.rack.clone(),
                        fenced: true,
                        in_controlled_shutdown: false,
                        observer_addr: r.observer_addr.clone(),
                    },
                );
            }
            Record::UnregisterBroker {
                broker_id,
                broker_epoch,
            } => {
                if self.brokers.get(broker_id).is_some_and(|b| b.epoch == *broker_epoch) {
                    self.brokers.remove(broker_id);
                }
            }
            Record::Topic { name, topic_id } => {
                self.topics.insert(
                    name.clone(),
                    Arc::new(Topic {
                        name: name.clone(),
                        id: *topic_id,
                        partitions: Vec::new(),
                        configs: BTreeMap::new(),
                    }),
                );
            }
            Record::Partition(p) => self.apply_partition(p),
            Record::Config { topic, name, value } => {
                if let Some(t) = self.topics.get_mut(topic) {
                    let t = Arc::make_mut(t);
                    match value {
                        Some(v) => t.configs.insert(name.clone(), v.clone()),
                        None => t.configs.remove(name),
                    };
                }
            }
            Record::PartitionChange(c) => self.apply_change(c),
            Record::RemoveTopic { topic_id } => {
                if let Some(name) = self.topic_by_id(topic_id).map(|t| t.name.clone()) {
                    self.topics.remove(&name);
                }
            }
            Record::ProducerIds { next_producer_id, .. } => self.next_producer_id = *next_producer_id,
            Record::BrokerRegistrationChange {
                broker_id,
                broker_epoch,
                fenced,
                in_controlled_shutdown,
            } => {
                if let Some(b) = self.brokers.get_mut(broker_id).filter(|b| b.epoch == *broker_epoch) {
                    match fenced {
                        1 => b.fenced = true,
                        -1 => b.fenced = false,
                        _ => {}
                    }
                    if *in_controlled_shutdown == 1 {
                        b.in_controlled_shutdown = true;
                    }
                }
            }
            Record::NoOp => {}
            Record::UserScramCredential(c) => {
                self.scram_credentials.insert((c.name.clone(), c.mechanism), c.clone());
            }
            Record::RemoveUserScramCredential { name, mechanism } => {
                self.scram_credentials.remove(&(name.clone(), *mechanism));
            }
            Record::AccessControlEntry(a) => {
                self.acls.insert(a.id, a.clone());
            }
            Record::RemoveAccessControlEntry { id } => {
                self.acls.remove(id);
            }
        }
    }

    fn topic_mut(&mut self, id: &TopicId) -> Option<&mut Topic> {
        self.topics.values_mut().find(|t| &t.id == id).map(Arc::make_mut)
    }

    fn apply_partition(&mut self, p: &PartitionRecord) {
        let Some(t) = self.topic_mut(&p.topic_id) else { return };
        let Ok(i) = usize::try_from(p.partition_id) else { return };
        let state = PartitionState {
            replicas: p.replicas.clone(),
            isr: p.isr.clone(),
            leader: p.leader,
            leader_epoch: p.leader_epoch,
            partition_epoch: p.partition_epoch,
        };
        if i < t.partitions.len() {
            t.partitions[i] = state;
        } else if i == t.partitions.len() {
            t.partitions.push(state);
        }
    }

    fn apply_change(&mut self, c: &PartitionChange) {
        let Some(t) = self.topic_mut(&c.topic_id) else { return };
        let Some(p) = usize::try_from(c.partition_id)
            .ok()
            .and_then(|i| t.partitions.get_mut(i))
        else {
            return;
        };
        if let Some(isr) = &c.isr {
            p.isr = isr.clone();
        }
        if let Some(replicas) = &c.replicas {
            p.replicas = replicas.clone();
        }
        if c.leader != NO_LEADER_CHANGE {
            p.leader = c.leader;
            p.leader_epoch += 1;
        }
        p.partition_epoch += 1;
    }

    /// The image as snapshot bytes.
    pub fn to_snapshot(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// An image from snapshot bytes.
    pub fn from_snapshot(bytes: &[u8]) -> Result<Image, Error> {
        serde_json::from_slice(bytes).map_err(|e| Error::Decode(e.to_string()))
    }
}

/// A map whose keys are not strings, kept in snapshots as a list of (key, value) pairs (JSON object keys
/// must be strings).
mod pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer, K: Serialize, V: Serialize>(
        map: &BTreeMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.iter())
    }

    pub(super) fn deserialize<'de, D, K, V>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        D: Deserializer<'de>,
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
    {
        Vec::<(K, V)>::deserialize(d).map(|pairs| pairs.into_iter().collect())
    }
}
