//! Broker-to-controller requests, carried as JSON on the controller listener (the quorum's application
//! RPCs). They mirror Kafka's BrokerRegistration, BrokerHeartbeat, AlterPartition, AllocateProducerIds and
//! the forwarded admin requests (CreateTopics, CreatePartitions, DeleteTopics, the config changes), with
//! Kafka's error codes in the answers.

use metadata::records::RegisterBroker;
use metadata::TopicId;
use serde::{Deserialize, Serialize};

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TopicSpec {
    pub(crate) name: String,
    pub(crate) partitions: i32,
    pub(crate) replication_factor: i16,
    /// Manual assignments (partition `i` at `[i]`), or empty.
    pub(crate) assignments: Vec<Vec<i32>>,
    pub(crate) configs: Vec<(String, String)>,
}

/// A local topic the metadata does not know yet (a single broker upgraded from before the metadata log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AdoptTopic {
    pub(crate) name: String,
    pub(crate) id: TopicId,
    pub(crate) partitions: i32,
    /// (partition, its log's last leader epoch), so epochs never go back.
    pub(crate) epochs: Vec<(i32, i32)>,
    pub(crate) configs: Vec<(String, String)>,
}

/// One partition of an AlterPartition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AlterIsrSpec {
    pub(crate) topic_id: TopicId,
    pub(crate) partition: i32,
    pub(crate) leader_epoch: i32,
    pub(crate) new_isr: Vec<(i32, i64)>,
    pub(crate) partition_epoch: i32,
}

/// Config changes: key to a new value, or `None` to delete it.
pub(crate) type ConfigChanges = Vec<(String, Option<String>)>;

/// A request to the active controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Request {
    Register(RegisterBroker),
    Heartbeat {
        broker_id: i32,
        broker_epoch: i64,
        metadata_offset: u64,
        want_fence: bool,
        want_shutdown: bool,
    },
    CreateTopics {
        topics: Vec<TopicSpec>,
        validate_only: bool,
    },
    CreatePartitions {
        /// (topic, new count, manual assignments of the new partitions)
        topics: Vec<(String, i32, Vec<Vec<i32>>)>,
        validate_only: bool,
    },
    DeleteTopics {
        /// (name, the id it must still have)
        topics: Vec<(String, Option<TopicId>)>,
    },
    AlterConfigs {
        /// (topic, changes: key to a new value, or `None` to delete it)
        topics: Vec<(String, ConfigChanges)>,
        validate_only: bool,
    },
    AllocateProducerIds {
        broker_id: i32,
        broker_epoch: i64,
    },
    AlterPartition {
        broker_id: i32,
        broker_epoch: i64,
        partitions: Vec<AlterIsrSpec>,
        v2_plus: bool,
    },
    Adopt {
        broker_id: i32,
        topics: Vec<AdoptTopic>,
        next_producer_id: i64,
    },
    /// The quorum as the active controller sees it (DescribeQuorum).
    DescribeQuorum,
    /// SCRAM credential changes (AlterUserScramCredentials, and the bootstrap users with
    /// `only_if_absent`): one outcome per change, in order.
    AlterScram {
        changes: Vec<ScramChange>,
        only_if_absent: bool,
    },
    /// ACLs to create (CreateAcls): one outcome per ACL; an ACL that exists already succeeds unchanged.
    CreateAcls {
        acls: Vec<metadata::records::AclEntry>,
    },
    /// ACLs to delete (DeleteAcls): the ACLs each filter matched, which are removed.
    DeleteAcls {
        filters: Vec<AclFilter>,
    },
}

/// One SCRAM credential change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ScramChange {
    /// Remove a user's credential for a mechanism (RESOURCE_NOT_FOUND if it has none).
    Delete { name: String, mechanism: i8 },
    /// Store a credential (replacing the user's one for that mechanism).
    Upsert(metadata::records::ScramCredential),
}

/// A DeleteAcls filter, as the wire carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AclFilter {
    pub(crate) resource_type: i8,
    pub(crate) resource_name: Option<String>,
    pub(crate) pattern_type: i8,
    pub(crate) principal: Option<String>,
    pub(crate) host: Option<String>,
    pub(crate) operation: i8,
    pub(crate) permission_type: i8,
}

impl AclFilter {
    /// The filter in the authorizer's terms.
    pub(crate) fn to_filter(&self) -> security::acl::AclBindingFilter {
        use security::acl::{
            AccessControlEntryFilter, AclBindingFilter, Operation, PatternType, Permission, ResourcePatternFilter,
            ResourceType,
        };
        AclBindingFilter::new(
            ResourcePatternFilter::new(
                ResourceType::from_code(self.resource_type),
                self.resource_name.clone(),
                PatternType::from_code(self.pattern_type),
            ),
            AccessControlEntryFilter::new(
                self.principal.clone(),
                self.host.clone(),
                Operation::from_code(self.operation),
                Permission::from_code(self.permission_type),
            ),
        )
    }
}

/// A partition's state after an AlterPartition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PartitionAnswer {
    pub(crate) leader: i32,
    pub(crate) leader_epoch: i32,
    pub(crate) isr: Vec<i32>,
    pub(crate) partition_epoch: i32,
}

/// The metadata quorum as its leader sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct QuorumState {
    pub(crate) leader: i32,
    pub(crate) term: u64,
    /// The next index of the leader's log.
    pub(crate) log_end_offset: i64,
    /// The last committed (and applied) index.
    pub(crate) high_watermark: i64,
    /// (voter, its log end offset or -1).
    pub(crate) voters: Vec<(i32, i64)>,
    /// (observer, its log end offset or -1).
    pub(crate) observers: Vec<(i32, i64)>,
    /// (voter, controller listener address).
    pub(crate) addresses: Vec<(i32, String)>,
}

/// The active controller's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Response {
    /// This node is not the active controller (the one it knows, if any).
    NotController {
        leader: Option<i32>,
    },
    Registered {
        broker_epoch: i64,
        offset: u64,
    },
    Heartbeat {
        error: i16,
        is_caught_up: bool,
        is_fenced: bool,
        should_shutdown: bool,
    },
    /// One outcome per item, in request order (a created topic's id), and the offset the caller waits
    /// for before answering its client.
    Results {
        offset: u64,
        results: Vec<Result<Option<TopicId>, (i16, String)>>,
    },
    ProducerIds {
        first: i64,
        count: i64,
    },
    AlterPartition {
        offset: u64,
        results: Vec<Result<PartitionAnswer, i16>>,
    },
    Quorum(QuorumState),
    /// The ACLs each DeleteAcls filter matched (and removed), or why the filter was refused.
    AclsDeleted {
        offset: u64,
        results: Vec<Result<Vec<metadata::records::AclEntry>, (i16, String)>>,
    },
    /// The request itself was refused.
    Error {
        code: i16,
        message: String,
    },
}

impl Request {
    pub(crate) fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl Response {
    pub(crate) fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}
