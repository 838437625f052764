//! Fetch (key 1): reading record batches.
//!
//! The response is built for zero-copy: each partition's records can be [`Records::External`], and a
//! segmented encoding ([`crate::encode_response_segmented`]) leaves a gap there for the caller to fill
//! from a file, with every size field computed from the record lengths.
//!
//! ```text
//! request   v5+ LogStartOffset, v7+ sessions (KIP-227), v9+ CurrentLeaderEpoch, v11+ RackId,
//!           v12+ flexible with LastFetchedEpoch and tagged ClusterId, v13+ TopicId instead of Topic (KIP-516),
//!           v15+ tagged ReplicaState instead of ReplicaId (KIP-903), v17+ tagged ReplicaDirectoryId,
//!           v18+ tagged HighWatermark (KIP-1166)
//! response  v12+ tagged DivergingEpoch, CurrentLeader and SnapshotId, v13+ TopicId instead of Topic,
//!           v16+ tagged NodeEndpoints (KIP-951)
//! ```

use crate::messages::{LeaderIdAndEpoch, NodeEndpoint};
use crate::schema::wire_struct;
use crate::wire::{Records, Uuid};

wire_struct! {
    /// Fetch request ([protocol](https://kafka.apache.org/protocol#The_Messages_Fetch)).
    pub struct FetchRequest {
        /// The follower's broker id, -1 for consumers.
        pub replica_id: i32 [0..=14] = -1;
        /// The maximum time to wait for `min_bytes`.
        pub max_wait_ms: i32 [0..=99];
        /// The minimum bytes to accumulate in the response.
        pub min_bytes: i32 [0..=99];
        /// The maximum bytes of the response (KIP-74).
        pub max_bytes: i32 [3..=99] = i32::MAX;
        /// 0 = READ_UNCOMMITTED, 1 = READ_COMMITTED.
        pub isolation_level: i8 [4..=99];
        /// The fetch session id (KIP-227).
        pub session_id: i32 [7..=99];
        /// The fetch session epoch.
        pub session_epoch: i32 [7..=99] = -1;
        /// The topics to fetch.
        pub topics: Vec<FetchTopic> [0..=99];
        /// Partitions to remove from an incremental fetch session.
        pub forgotten_topics_data: Vec<ForgottenTopic> [7..=99];
        /// The consumer's rack.
        pub rack_id: String [11..=99];
        /// The cluster id, if the requester knows it (v12+).
        pub cluster_id: Option<String> [12..=99], tag 0;
        /// The follower's id and epoch (v15+; replaces `replica_id`).
        pub replica_state: ReplicaState [15..=99], tag 1;
    }
}

wire_struct! {
    /// The fetching replica in a Fetch request (v15+).
    pub struct ReplicaState {
        /// The follower's broker id, -1 for consumers.
        pub replica_id: i32 [0..=99] = -1;
        /// The follower's broker epoch, -1 if unknown.
        pub replica_epoch: i64 [0..=99] = -1;
    }
}

wire_struct! {
    /// A topic in a Fetch request.
    pub struct FetchTopic {
        /// The topic name (v0-12).
        pub topic: String [0..=12];
        /// The topic id (v13+).
        pub topic_id: Uuid [13..=99];
        /// The partitions to fetch.
        pub partitions: Vec<FetchPartition> [0..=99];
    }
}

wire_struct! {
    /// A partition in a Fetch request.
    pub struct FetchPartition {
        /// The partition index.
        pub partition: i32 [0..=99];
        /// The leader epoch the client knows, -1 for no check.
        pub current_leader_epoch: i32 [9..=99] = -1;
        /// The offset to fetch from.
        pub fetch_offset: i64 [0..=99];
        /// The epoch of the last fetched record, -1 if none (v12+).
        pub last_fetched_epoch: i32 [12..=99] = -1;
        /// The follower's log start offset (followers only).
        pub log_start_offset: i64 [5..=99] = -1;
        /// The maximum bytes for this partition.
        pub partition_max_bytes: i32 [0..=99];
        /// The fetching follower's log directory (v17+).
        pub replica_directory_id: Uuid [17..=99], tag 0;
        /// The high watermark the follower knows (v18+): -1 if unknown, `i64::MAX` if not supported.
        pub high_watermark: i64 [18..=99] = i64::MAX, tag 1;
    }
}

wire_struct! {
    /// Partitions removed from a fetch session.
    pub struct ForgottenTopic {
        /// The topic name (v7-12).
        pub topic: String [7..=12];
        /// The topic id (v13+).
        pub topic_id: Uuid [13..=99];
        /// The partition indexes.
        pub partitions: Vec<i32> [7..=99];
    }
}

wire_struct! {
    /// Fetch response ([protocol](https://kafka.apache.org/protocol#The_Messages_Fetch)).
    pub struct FetchResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [1..=99];
        /// The top-level error code.
        pub error_code: i16 [7..=99];
        /// The fetch session id, 0 if none.
        pub session_id: i32 [7..=99];
        /// The topics.
        pub responses: Vec<FetchableTopicResponse> [0..=99];
        /// The endpoints of the leaders named in `current_leader` (v16+, KIP-951).
        pub node_endpoints: Vec<NodeEndpoint> [16..=99], tag 0;
    }
}

wire_struct! {
    /// A topic in a Fetch response.
    pub struct FetchableTopicResponse {
        /// The topic name (v0-12).
        pub topic: String [0..=12];
        /// The topic id (v13+).
        pub topic_id: Uuid [13..=99];
        /// The partitions.
        pub partitions: Vec<PartitionData> [0..=99];
    }
}

wire_struct! {
    /// A partition in a Fetch response.
    pub struct PartitionData {
        /// The partition index.
        pub partition_index: i32 [0..=99];
        /// The error code.
        pub error_code: i16 [0..=99];
        /// The high watermark.
        pub high_watermark: i64 [0..=99];
        /// The last stable offset.
        pub last_stable_offset: i64 [4..=99] = -1;
        /// The log start offset.
        pub log_start_offset: i64 [5..=99] = -1;
        /// Where the follower's log diverges from the leader's (v12+, from `last_fetched_epoch`).
        pub diverging_epoch: DivergingEpoch [12..=99], tag 0;
        /// The current leader when the error is `NOT_LEADER_OR_FOLLOWER` or `FENCED_LEADER_EPOCH` (v12+).
        pub current_leader: LeaderIdAndEpoch [12..=99], tag 1;
        /// The snapshot to fetch when the offset is below the log start (v12+, KRaft).
        pub snapshot_id: SnapshotId [12..=99], tag 2;
        /// Aborted transactions in the returned range.
        pub aborted_transactions: Option<Vec<AbortedTransaction>> [4..=99];
        /// The preferred read replica, -1 if none.
        pub preferred_read_replica: i32 [11..=99] = -1;
        /// The record batches.
        pub records: Option<Records> [0..=99];
    }
}

wire_struct! {
    /// The end of the largest epoch at or below a follower's last fetched epoch (Kafka's `EpochEndOffset` in
    /// FetchResponse).
    pub struct DivergingEpoch {
        /// The epoch, -1 if none.
        pub epoch: i32 [0..=99] = -1;
        /// Its end offset, -1 if none.
        pub end_offset: i64 [0..=99] = -1;
    }
}

wire_struct! {
    /// A KRaft snapshot id in a Fetch response.
    pub struct SnapshotId {
        /// The end offset of the snapshot, -1 if none.
        pub end_offset: i64 [0..=99] = -1;
        /// Its epoch, -1 if none.
        pub epoch: i32 [0..=99] = -1;
    }
}

wire_struct! {
    /// An aborted transaction in a Fetch response.
    pub struct AbortedTransaction {
        /// The producer id.
        pub producer_id: i64 [4..=99];
        /// The first offset of the aborted transaction.
        pub first_offset: i64 [4..=99];
    }
}
