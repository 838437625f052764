//! Metadata (key 3): brokers, topics and partition leaders.
//!
//! In v0 an empty topic list means "all topics"; from v1 that is a null list and `[]` means none.
//!
//! ```text
//! request   v4+ AllowAutoTopicCreation, v8+ IncludeTopicAuthorizedOperations (and v8-10
//!           IncludeClusterAuthorizedOperations), v9+ flexible, v10+ TopicId with a nullable Name
//! response  v5+ OfflineReplicas, v7+ LeaderEpoch, v8+ TopicAuthorizedOperations (and v8-10
//!           ClusterAuthorizedOperations), v10+ TopicId, v12+ nullable topic Name, v13+ top-level ErrorCode
//! ```

use crate::schema::wire_struct;
use crate::wire::Uuid;

wire_struct! {
    /// Metadata request ([protocol](https://kafka.apache.org/protocol#The_Messages_Metadata)).
    pub struct MetadataRequest {
        /// The topics to describe; null (v1+) means all topics.
        pub topics: Option<Vec<MetadataRequestTopic>> [0..=99] nullable 1;
        /// Whether the broker may auto-create the requested topics.
        pub allow_auto_topic_creation: bool [4..=99] = true;
        /// Whether to return the cluster's authorized operations (v8-10).
        pub include_cluster_authorized_operations: bool [8..=10];
        /// Whether to return each topic's authorized operations (v8+).
        pub include_topic_authorized_operations: bool [8..=99];
    }
}

wire_struct! {
    /// A topic in a Metadata request.
    pub struct MetadataRequestTopic {
        /// The topic id (v10+), zero when the topic is named.
        pub topic_id: Uuid [10..=99];
        /// The topic name; null (v10+) when the topic is given by id.
        pub name: Option<String> [0..=99] nullable 10 = Some(String::new());
    }
}

wire_struct! {
    /// Metadata response ([protocol](https://kafka.apache.org/protocol#The_Messages_Metadata)).
    pub struct MetadataResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [3..=99];
        /// The brokers of the cluster.
        pub brokers: Vec<MetadataResponseBroker> [0..=99];
        /// The cluster id.
        pub cluster_id: Option<String> [2..=99];
        /// The controller's broker id, -1 if none.
        pub controller_id: i32 [1..=99] = -1;
        /// Each requested topic.
        pub topics: Vec<MetadataResponseTopic> [0..=99];
        /// The cluster's authorized operations (v8-10), `i32::MIN` when not requested.
        pub cluster_authorized_operations: i32 [8..=10] = i32::MIN;
        /// The top-level error code (v13+, KIP-1102 rebootstrap).
        pub error_code: i16 [13..=99];
    }
}

wire_struct! {
    /// A broker in a Metadata response.
    pub struct MetadataResponseBroker {
        /// The broker id.
        pub node_id: i32 [0..=99];
        /// The host name.
        pub host: String [0..=99];
        /// The port.
        pub port: i32 [0..=99];
        /// The rack, if any.
        pub rack: Option<String> [1..=99];
    }
}

wire_struct! {
    /// A topic in a Metadata response.
    pub struct MetadataResponseTopic {
        /// The topic error code.
        pub error_code: i16 [0..=99];
        /// The topic name; null (v12+) for a topic requested by an unknown id.
        pub name: Option<String> [0..=99] nullable 12 = Some(String::new());
        /// The topic id (v10+), zero if unknown.
        pub topic_id: Uuid [10..=99];
        /// True for internal topics such as `__consumer_offsets`.
        pub is_internal: bool [1..=99];
        /// The partitions.
        pub partitions: Vec<MetadataResponsePartition> [0..=99];
        /// The topic's authorized operations (v8+), `i32::MIN` when not requested.
        pub topic_authorized_operations: i32 [8..=99] = i32::MIN;
    }
}

wire_struct! {
    /// A partition in a Metadata response.
    pub struct MetadataResponsePartition {
        /// The partition error code.
        pub error_code: i16 [0..=99];
        /// The partition index.
        pub partition_index: i32 [0..=99];
        /// The leader's broker id.
        pub leader_id: i32 [0..=99];
        /// The leader epoch (v7+), -1 if unknown.
        pub leader_epoch: i32 [7..=99] = -1;
        /// All replicas.
        pub replica_nodes: Vec<i32> [0..=99];
        /// The in-sync replicas.
        pub isr_nodes: Vec<i32> [0..=99];
        /// The offline replicas (v5+).
        pub offline_replicas: Vec<i32> [5..=99];
    }
}
