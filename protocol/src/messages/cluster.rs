//! Cluster and log-directory administration: DeleteRecords (key 21), DescribeLogDirs (key 35),
//! DescribeQuorum (key 55, [KIP-595]/[KIP-836]/[KIP-853]), DescribeCluster (key 60, [KIP-700]) and
//! DescribeProducers (key 61, [KIP-664]).
//!
//! ```text
//! DeleteRecords      v0-2, flexible 2+
//! DescribeLogDirs    v1-4 (v0 was removed in Kafka 4.0), flexible 2+; v3+ top-level ErrorCode,
//!                    v4+ TotalBytes and UsableBytes per directory
//! DescribeQuorum     v0-2, always flexible; v1+ LastFetchTimestamp and LastCaughtUpTimestamp, v2+ error
//!                    messages, ReplicaDirectoryId and Nodes
//! DescribeCluster    v0-2, always flexible; v1+ EndpointType, v2+ IncludeFencedBrokers and IsFenced
//! DescribeProducers  v0 only, flexible
//! ```
//!
//! [KIP-595]: https://cwiki.apache.org/confluence/display/KAFKA/KIP-595%3A+A+Raft+Protocol+for+the+Metadata+Quorum
//! [KIP-836]: https://cwiki.apache.org/confluence/display/KAFKA/KIP-836%3A+Expose+replication+information+of+the+cluster+metadata
//! [KIP-853]: https://cwiki.apache.org/confluence/display/KAFKA/KIP-853%3A+KRaft+Controller+Membership+Changes
//! [KIP-700]: https://cwiki.apache.org/confluence/display/KAFKA/KIP-700%3A+Add+Describe+Cluster+API
//! [KIP-664]: https://cwiki.apache.org/confluence/display/KAFKA/KIP-664%3A+Provide+tooling+to+detect+and+abort+hanging+transactions

use crate::schema::wire_struct;
use crate::wire::Uuid;

wire_struct! {
    /// DeleteRecords request ([protocol](https://kafka.apache.org/protocol#The_Messages_DeleteRecords)).
    pub struct DeleteRecordsRequest {
        /// The topics.
        pub topics: Vec<DeleteRecordsTopic> [0..=99];
        /// How long to wait for the deletion.
        pub timeout_ms: i32 [0..=99];
    }
}

wire_struct! {
    /// A topic in a DeleteRecords request.
    pub struct DeleteRecordsTopic {
        /// The topic name.
        pub name: String [0..=99];
        /// The partitions.
        pub partitions: Vec<DeleteRecordsPartition> [0..=99];
    }
}

wire_struct! {
    /// A partition in a DeleteRecords request.
    pub struct DeleteRecordsPartition {
        /// The partition index.
        pub partition_index: i32 [0..=99];
        /// Records before this offset are deleted; -1 means the high watermark.
        pub offset: i64 [0..=99];
    }
}

wire_struct! {
    /// DeleteRecords response ([protocol](https://kafka.apache.org/protocol#The_Messages_DeleteRecords)).
    pub struct DeleteRecordsResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [0..=99];
        /// The topics.
        pub topics: Vec<DeleteRecordsTopicResult> [0..=99];
    }
}

wire_struct! {
    /// A topic in a DeleteRecords response.
    pub struct DeleteRecordsTopicResult {
        /// The topic name.
        pub name: String [0..=99];
        /// The partitions.
        pub partitions: Vec<DeleteRecordsPartitionResult> [0..=99];
    }
}

wire_struct! {
    /// A partition in a DeleteRecords response.
    pub struct DeleteRecordsPartitionResult {
        /// The partition index.
        pub partition_index: i32 [0..=99];
        /// The new log start offset.
        pub low_watermark: i64 [0..=99];
        /// The error code.
        pub error_code: i16 [0..=99];
    }
}

wire_struct! {
    /// DescribeLogDirs request ([protocol](https://kafka.apache.org/protocol#The_Messages_DescribeLogDirs)).
    pub struct DescribeLogDirsRequest {
        /// The topics to describe, or null for all.
        pub topics: Option<Vec<DescribableLogDirTopic>> [0..=99] = Some(Vec::new());
    }
}

wire_struct! {
    /// A topic in a DescribeLogDirs request.
    pub struct DescribableLogDirTopic {
        /// The topic name.
        pub topic: String [0..=99];
        /// The partition indexes.
        pub partitions: Vec<i32> [0..=99];
    }
}

wire_struct! {
    /// DescribeLogDirs response ([protocol](https://kafka.apache.org/protocol#The_Messages_DescribeLogDirs)).
    pub struct DescribeLogDirsResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [0..=99];
        /// The top-level error code (v3+).
        pub error_code: i16 [3..=99];
        /// One result per log directory.
        pub results: Vec<DescribeLogDirsResult> [0..=99];
    }
}

wire_struct! {
    /// One log directory in a DescribeLogDirs response.
    pub struct DescribeLogDirsResult {
        /// The error code.
        pub error_code: i16 [0..=99];
        /// The absolute path of the directory.
        pub log_dir: String [0..=99];
        /// The topics in it.
        pub topics: Vec<DescribeLogDirsTopic> [0..=99];
        /// The size of the directory's volume in bytes (v4+), -1 if unknown.
        pub total_bytes: i64 [4..=99] = -1;
        /// The usable bytes of that volume (v4+), -1 if unknown.
        pub usable_bytes: i64 [4..=99] = -1;
    }
}

wire_struct! {
    /// A topic in a log directory.
    pub struct DescribeLogDirsTopic {
        /// The topic name.
        pub name: String [0..=99];
        /// The partitions.
        pub partitions: Vec<DescribeLogDirsPartition> [0..=99];
    }
}

wire_struct! {
    /// A partition in a log directory.
    pub struct DescribeLogDirsPartition {
        /// The partition index.
        pub partition_index: i32 [0..=99];
        /// The size of its log segments in bytes.
        pub partition_size: i64 [0..=99];
        /// How far it is behind the log end (a future replica), or 0.
        pub offset_lag: i64 [0..=99];
        /// True for a future replica (being moved to this directory).
        pub is_future_key: bool [0..=99];
    }
}

wire_struct! {
    /// DescribeCluster request ([protocol](https://kafka.apache.org/protocol#The_Messages_DescribeCluster)).
    pub struct DescribeClusterRequest {
        /// Whether to return the cluster's authorized operations.
        pub include_cluster_authorized_operations: bool [0..=99];
        /// The endpoints to describe (v1+): 1 = brokers, 2 = controllers.
        pub endpoint_type: i8 [1..=99] = 1;
        /// Whether to include fenced brokers (v2+).
        pub include_fenced_brokers: bool [2..=99];
    }
}

wire_struct! {
    /// DescribeCluster response ([protocol](https://kafka.apache.org/protocol#The_Messages_DescribeCluster)).
    pub struct DescribeClusterResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [0..=99];
        /// The top-level error code.
        pub error_code: i16 [0..=99];
        /// The top-level error message.
        pub error_message: Option<String> [0..=99];
        /// The endpoint type described (v1+).
        pub endpoint_type: i8 [1..=99] = 1;
        /// The cluster id.
        pub cluster_id: String [0..=99];
        /// The controller's broker id, -1 if none.
        pub controller_id: i32 [0..=99] = -1;
        /// The brokers.
        pub brokers: Vec<DescribeClusterBroker> [0..=99];
        /// The cluster's authorized operations, `i32::MIN` when not requested.
        pub cluster_authorized_operations: i32 [0..=99] = i32::MIN;
    }
}

wire_struct! {
    /// A broker in a DescribeCluster response.
    pub struct DescribeClusterBroker {
        /// The broker id.
        pub broker_id: i32 [0..=99];
        /// The host name.
        pub host: String [0..=99];
        /// The port.
        pub port: i32 [0..=99];
        /// The rack, if any.
        pub rack: Option<String> [0..=99];
        /// True if the broker is fenced (v2+).
        pub is_fenced: bool [2..=99];
    }
}

wire_struct! {
    /// DescribeProducers request ([protocol](https://kafka.apache.org/protocol#The_Messages_DescribeProducers)).
    pub struct DescribeProducersRequest {
        /// The topics.
        pub topics: Vec<DescribeProducersTopic> [0..=99];
    }
}

wire_struct! {
    /// A topic in a DescribeProducers request (Kafka's `TopicRequest`).
    pub struct DescribeProducersTopic {
        /// The topic name.
        pub name: String [0..=99];
        /// The partition indexes.
        pub partition_indexes: Vec<i32> [0..=99];
    }
}

wire_struct! {
    /// DescribeProducers response ([protocol](https://kafka.apache.org/protocol#The_Messages_DescribeProducers)).
    pub struct DescribeProducersResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [0..=99];
        /// The topics.
        pub topics: Vec<DescribeProducersTopicResponse> [0..=99];
    }
}

wire_struct! {
    /// A topic in a DescribeProducers response (Kafka's `TopicResponse`).
    pub struct DescribeProducersTopicResponse {
        /// The topic name.
        pub name: String [0..=99];
        /// The partitions.
        pub partitions: Vec<DescribeProducersPartitionResponse> [0..=99];
    }
}

wire_struct! {
    /// A partition in a DescribeProducers response (Kafka's `PartitionResponse`).
    pub struct DescribeProducersPartitionResponse {
        /// The partition index.
        pub partition_index: i32 [0..=99];
        /// The error code.
        pub error_code: i16 [0..=99];
        /// The error message.
        pub error_message: Option<String> [0..=99];
        /// The producers with state in this partition.
        pub active_producers: Vec<ProducerState> [0..=99];
    }
}

wire_struct! {
    /// An active producer of a partition.
    pub struct ProducerState {
        /// The producer id.
        pub producer_id: i64 [0..=99];
        /// The producer epoch (an INT32 on the wire).
        pub producer_epoch: i32 [0..=99];
        /// The last sequence number written, -1 if none.
        pub last_sequence: i32 [0..=99] = -1;
        /// The timestamp of the last write, -1 if none.
        pub last_timestamp: i64 [0..=99] = -1;
        /// The epoch of the transaction coordinator.
        pub coordinator_epoch: i32 [0..=99];
        /// The first offset of the open transaction, -1 if none.
        pub current_txn_start_offset: i64 [0..=99] = -1;
    }
}

wire_struct! {
    /// DescribeQuorum request ([protocol](https://kafka.apache.org/protocol#The_Messages_DescribeQuorum)):
    /// the metadata quorum's state, as `kafka-metadata-quorum describe` asks for it.
    pub struct DescribeQuorumRequest {
        /// The topics (the metadata topic, `__cluster_metadata`).
        pub topics: Vec<DescribeQuorumTopicData> [0..=99];
    }
}

wire_struct! {
    /// A topic of a DescribeQuorum request.
    pub struct DescribeQuorumTopicData {
        /// The topic name.
        pub topic_name: String [0..=99];
        /// The partitions.
        pub partitions: Vec<DescribeQuorumPartitionData> [0..=99];
    }
}

wire_struct! {
    /// A partition of a DescribeQuorum request.
    pub struct DescribeQuorumPartitionData {
        /// The partition index.
        pub partition_index: i32 [0..=99];
    }
}

wire_struct! {
    /// DescribeQuorum response ([protocol](https://kafka.apache.org/protocol#The_Messages_DescribeQuorum)).
    pub struct DescribeQuorumResponse {
        /// The top-level error code.
        pub error_code: i16 [0..=99];
        /// The top-level error message (v2+).
        pub error_message: Option<String> [2..=99];
        /// The topics.
        pub topics: Vec<DescribeQuorumTopicResult> [0..=99];
        /// The quorum's nodes and their listeners (v2+).
        pub nodes: Vec<DescribeQuorumNode> [2..=99];
    }
}

wire_struct! {
    /// A topic of a DescribeQuorum response.
    pub struct DescribeQuorumTopicResult {
        /// The topic name.
        pub topic_name: String [0..=99];
        /// The partitions.
        pub partitions: Vec<DescribeQuorumPartitionResult> [0..=99];
    }
}

wire_struct! {
    /// A partition of a DescribeQuorum response: the quorum's leader and each replica's position.
    pub struct DescribeQuorumPartitionResult {
        /// The partition index.
        pub partition_index: i32 [0..=99];
        /// The partition's error code.
        pub error_code: i16 [0..=99];
        /// The partition's error message (v2+).
        pub error_message: Option<String> [2..=99];
        /// The leader's id, or -1.
        pub leader_id: i32 [0..=99];
        /// The leader epoch (the Raft term).
        pub leader_epoch: i32 [0..=99];
        /// The high watermark (the committed offset).
        pub high_watermark: i64 [0..=99];
        /// The voters.
        pub current_voters: Vec<QuorumReplicaState> [0..=99];
        /// The observers (brokers that follow without voting).
        pub observers: Vec<QuorumReplicaState> [0..=99];
    }
}

wire_struct! {
    /// A replica of the metadata log.
    pub struct QuorumReplicaState {
        /// The replica id.
        pub replica_id: i32 [0..=99];
        /// The replica's directory id (v2+).
        pub replica_directory_id: Uuid [2..=99];
        /// Its log end offset, or -1 if unknown.
        pub log_end_offset: i64 [0..=99];
        /// When it last fetched from the leader, or -1 (v1+).
        pub last_fetch_timestamp: i64 [1..=99] = -1;
        /// When it was last caught up with the leader, or -1 (v1+).
        pub last_caught_up_timestamp: i64 [1..=99] = -1;
    }
}

wire_struct! {
    /// A node of the quorum (v2+).
    pub struct DescribeQuorumNode {
        /// The node id.
        pub node_id: i32 [0..=99];
        /// Its listeners.
        pub listeners: Vec<DescribeQuorumListener> [0..=99];
    }
}

wire_struct! {
    /// A listener of a quorum node.
    pub struct DescribeQuorumListener {
        /// The listener name.
        pub name: String [0..=99];
        /// The host.
        pub host: String [0..=99];
        /// The port.
        pub port: u16 [0..=99];
    }
}
