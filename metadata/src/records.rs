//! The metadata records, mirroring KRaft's (`metadata/src/main/resources/common/metadata/*.json`).
//!
//! One Raft entry carries one [`Batch`]: records that apply together or not at all, as KRaft's atomic
//! batches do. The encoding is JSON (the metadata log is small, and a readable log is worth more than a few
//! bytes); the fields and the apply rules are Kafka's.

use serde::{Deserialize, Serialize};

use crate::Error;

/// A topic id (KIP-516), the UUID's 16 bytes.
pub type TopicId = [u8; 16];

/// "No leader change" in a [`PartitionChange`] (`NO_LEADER_CHANGE`).
pub const NO_LEADER_CHANGE: i32 = -2;
/// "No leader" (`NO_LEADER`).
pub const NO_LEADER: i32 = -1;

/// A listener a broker advertises (`RegisterBrokerRecord.EndPoints`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The listener's name (`PLAINTEXT`, `SSL`, …).
    pub name: String,
    /// The advertised host.
    pub host: String,
    /// The advertised port.
    pub port: u16,
    /// Kafka's security protocol id (0 PLAINTEXT, 1 SSL, 2 SASL_PLAINTEXT, 3 SASL_SSL).
    pub security_protocol: i16,
}

/// `RegisterBrokerRecord` (apiKey 0). The broker epoch is the index of the entry that carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterBroker {
    /// The broker id.
    pub broker_id: i32,
    /// A random id per process start: a new one is a new broker epoch.
    pub incarnation_id: [u8; 16],
    /// The advertised listeners.
    pub endpoints: Vec<Endpoint>,
    /// The rack, if any.
    pub rack: Option<String>,
    /// The controller listener's address (`host:port`) of a broker-only node, so the quorum can add it as
    /// an observer; `None` for a combined node (already a voter).
    pub observer_addr: Option<String>,
}

/// `PartitionRecord` (apiKey 3): a new partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionRecord {
    /// The topic.
    pub topic_id: TopicId,
    /// The partition index.
    pub partition_id: i32,
    /// The replicas, preferred leader first.
    pub replicas: Vec<i32>,
    /// The in-sync replicas.
    pub isr: Vec<i32>,
    /// The leader, or [`NO_LEADER`].
    pub leader: i32,
    /// The leader epoch (0 for a new partition).
    pub leader_epoch: i32,
    /// The partition epoch (0 for a new partition).
    pub partition_epoch: i32,
}

/// `PartitionChangeRecord` (apiKey 5): every absent field keeps its value; [`NO_LEADER_CHANGE`] keeps the
/// leader and its epoch, any other leader value bumps the leader epoch; every change bumps the partition
/// epoch (`PartitionRegistration.merge`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionChange {
    /// The topic.
    pub topic_id: TopicId,
    /// The partition index.
    pub partition_id: i32,
    /// The new ISR, if it changes.
    pub isr: Option<Vec<i32>>,
    /// The new leader, or [`NO_LEADER_CHANGE`].
    pub leader: i32,
    /// The new replicas, if they change.
    pub replicas: Option<Vec<i32>>,
}

/// One metadata record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Record {
    /// apiKey 0.
    RegisterBroker(RegisterBroker),
    /// apiKey 1.
    UnregisterBroker {
        /// The broker.
        broker_id: i32,
        /// Its epoch.
        broker_epoch: i64,
    },
    /// apiKey 2.
    Topic {
        /// The name.
        name: String,
        /// The id.
        topic_id: TopicId,
    },
    /// apiKey 3.
    Partition(PartitionRecord),
    /// apiKey 4, for topics (resource type 2): a `None` value deletes the key.
    Config {
        /// The topic name.
        topic: String,
        /// The config key.
        name: String,
        /// The value, or `None` to delete it.
        value: Option<String>,
    },
    /// apiKey 5.
    PartitionChange(PartitionChange),
    /// apiKey 9.
    RemoveTopic {
        /// The topic.
        topic_id: TopicId,
    },
    /// apiKey 15: the next producer id after a block given to a broker.
    ProducerIds {
        /// The broker the block went to.
        broker_id: i32,
        /// Its epoch.
        broker_epoch: i64,
        /// The first id of the next block.
        next_producer_id: i64,
    },
    /// apiKey 17: fenced 1 fence, -1 unfence, 0 no change; in_controlled_shutdown 1 enter, 0 no change.
    BrokerRegistrationChange {
        /// The broker.
        broker_id: i32,
        /// Its epoch.
        broker_epoch: i64,
        /// 1 fence, -1 unfence, 0 no change.
        fenced: i8,
        /// 1 enter controlled shutdown, 0 no change.
        in_controlled_shutdown: i8,
    },
    /// apiKey 20: the active controller's "still here" when idle, so brokers' offsets advance.
    NoOp,
    /// apiKey 11 (`UserScramCredentialRecord`): a user's SCRAM credential for one mechanism (replaces any
    /// earlier one for that user and mechanism). Only the salted hashes are kept, never a password.
    UserScramCredential(ScramCredential),
    /// apiKey 12 (`RemoveUserScramCredentialRecord`).
    RemoveUserScramCredential {
        /// The user name.
        name: String,
        /// Kafka's mechanism type: 1 SCRAM-SHA-256, 2 SCRAM-SHA-512.
        mechanism: i8,
    },
    /// apiKey 6 (`AccessControlEntryRecord`): one ACL binding, under an id the controller gives it.
    AccessControlEntry(AclEntry),
    /// apiKey 7 (`RemoveAccessControlEntryRecord`).
    RemoveAccessControlEntry {
        /// The binding's id.
        id: [u8; 16],
    },
}

/// A user's SCRAM credential for one mechanism, as `UserScramCredentialRecord` carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramCredential {
    /// The user name.
    pub name: String,
    /// Kafka's mechanism type: 1 SCRAM-SHA-256, 2 SCRAM-SHA-512.
    pub mechanism: i8,
    /// The salt.
    pub salt: Vec<u8>,
    /// H(ClientKey) (RFC 5802).
    pub stored_key: Vec<u8>,
    /// HMAC(SaltedPassword, "Server Key") (RFC 5802).
    pub server_key: Vec<u8>,
    /// The PBKDF2 iterations.
    pub iterations: i32,
}

/// One ACL binding, as `AccessControlEntryRecord` carries it (Kafka's codes for the enumerations).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclEntry {
    /// The binding's id (unique in the cluster).
    pub id: [u8; 16],
    /// The resource type (2 topic, 3 group, 4 cluster, 5 transactional id, ...).
    pub resource_type: i8,
    /// The resource name (`*` for every resource of the type with a LITERAL pattern).
    pub resource_name: String,
    /// The pattern type (3 LITERAL, 4 PREFIXED).
    pub pattern_type: i8,
    /// The principal, e.g. `User:alice`.
    pub principal: String,
    /// The host (`*` for any).
    pub host: String,
    /// The operation (3 READ, 4 WRITE, ...).
    pub operation: i8,
    /// The permission (2 DENY, 3 ALLOW).
    pub permission_type: i8,
}

/// The records of one Raft entry, applied together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Batch(pub Vec<Record>);

impl Batch {
    /// The entry payload.
    pub fn encode(&self) -> Vec<u8> {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Decodes an entry payload.
    pub fn decode(bytes: &[u8]) -> Result<Batch, Error> {
        serde_json::from_slice(bytes).map_err(|e| Error::Decode(e.to_string()))
    }
}
