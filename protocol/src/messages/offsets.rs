//! Committed offsets and leader epochs: OffsetCommit (8), OffsetFetch (9) and OffsetForLeaderEpoch (23).

use crate::schema::wire_struct;

wire_struct! {
    /// OffsetCommit request ([protocol](https://kafka.apache.org/protocol#The_Messages_OffsetCommit)).
    pub struct OffsetCommitRequest {
        /// The group id.
        pub group_id: String [0..=99];
        /// The generation, or -1 for a simple (non-group) commit.
        pub generation_id_or_member_epoch: i32 [1..=99] = -1;
        /// The member id, empty for a simple commit.
        pub member_id: String [1..=99];
        /// The retention time (v2-4), -1 for the broker default.
        pub retention_time_ms: i64 [2..=4] = -1;
        /// The topics.
        pub topics: Vec<OffsetCommitRequestTopic> [0..=99];
    }
}

wire_struct! {
    /// A topic in an OffsetCommit request.
    pub struct OffsetCommitRequestTopic {
        /// The topic name.
        pub name: String [0..=99];
        /// The partitions.
        pub partitions: Vec<OffsetCommitRequestPartition> [0..=99];
    }
}

wire_struct! {
    /// A partition in an OffsetCommit request.
    pub struct OffsetCommitRequestPartition {
        /// The partition index.
        pub partition_index: i32 [0..=99];
        /// The offset to commit.
        pub committed_offset: i64 [0..=99];
        /// The commit timestamp (v1 only).
        pub commit_timestamp: i64 [1..=1] = -1;
        /// Client metadata.
        pub committed_metadata: Option<String> [0..=99];
    }
}

wire_struct! {
    /// OffsetCommit response ([protocol](https://kafka.apache.org/protocol#The_Messages_OffsetCommit)).
    pub struct OffsetCommitResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [3..=99];
        /// The topics.
        pub topics: Vec<OffsetCommitResponseTopic> [0..=99];
    }
}

wire_struct! {
    /// A topic in an OffsetCommit response.
    pub struct OffsetCommitResponseTopic {
        /// The topic name.
        pub name: String [0..=99];
        /// The partitions.
        pub partitions: Vec<OffsetCommitResponsePartition> [0..=99];
    }
}

wire_struct! {
    /// A partition in an OffsetCommit response.
    pub struct OffsetCommitResponsePartition {
        /// The partition index.
        pub partition_index: i32 [0..=99];
        /// The error code.
        pub error_code: i16 [0..=99];
    }
}

wire_struct! {
    /// OffsetFetch request ([protocol](https://kafka.apache.org/protocol#The_Messages_OffsetFetch)).
    pub struct OffsetFetchRequest {
        /// The group id.
        pub group_id: String [0..=7];
        /// The topics, or null (v2+) for all committed partitions.
        pub topics: Option<Vec<OffsetFetchRequestTopic>> [0..=7] nullable 2;
    }
}

wire_struct! {
    /// A topic in an OffsetFetch request.
    pub struct OffsetFetchRequestTopic {
        /// The topic name.
        pub name: String [0..=7];
        /// The partition indexes.
        pub partition_indexes: Vec<i32> [0..=7];
    }
}

wire_struct! {
    /// OffsetFetch response ([protocol](https://kafka.apache.org/protocol#The_Messages_OffsetFetch)).
    pub struct OffsetFetchResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [3..=99];
        /// The topics.
        pub topics: Vec<OffsetFetchResponseTopic> [0..=7];
        /// The top-level error code.
        pub error_code: i16 [2..=7];
    }
}

wire_struct! {
    /// A topic in an OffsetFetch response.
    pub struct OffsetFetchResponseTopic {
        /// The topic name.
        pub name: String [0..=7];
        /// The partitions.
        pub partitions: Vec<OffsetFetchResponsePartition> [0..=7];
    }
}

wire_struct! {
    /// A partition in an OffsetFetch response.
    pub struct OffsetFetchResponsePartition {
        /// The partition index.
        pub partition_index: i32 [0..=7];
        /// The committed offset, -1 if none.
        pub committed_offset: i64 [0..=7];
        /// Client metadata.
        pub metadata: Option<String> [0..=7];
        /// The error code.
        pub error_code: i16 [0..=7];
    }
}

wire_struct! {
    /// OffsetForLeaderEpoch request ([protocol](https://kafka.apache.org/protocol#The_Messages_OffsetForLeaderEpoch)).
    pub struct OffsetForLeaderEpochRequest {
        /// The follower's broker id (v3+), -1 for consumers, -2 for debugging.
        pub replica_id: i32 [3..=99] = -2;
        /// The topics.
        pub topics: Vec<OffsetForLeaderTopic> [0..=99];
    }
}

wire_struct! {
    /// A topic in an OffsetForLeaderEpoch request.
    pub struct OffsetForLeaderTopic {
        /// The topic name.
        pub topic: String [0..=99];
        /// The partitions.
        pub partitions: Vec<OffsetForLeaderPartition> [0..=99];
    }
}

wire_struct! {
    /// A partition in an OffsetForLeaderEpoch request.
    pub struct OffsetForLeaderPartition {
        /// The partition index.
        pub partition: i32 [0..=99];
        /// The leader epoch the requester knows, -1 for no check.
        pub current_leader_epoch: i32 [2..=99] = -1;
        /// The epoch to look up the end offset of.
        pub leader_epoch: i32 [0..=99];
    }
}

wire_struct! {
    /// OffsetForLeaderEpoch response ([protocol](https://kafka.apache.org/protocol#The_Messages_OffsetForLeaderEpoch)).
    pub struct OffsetForLeaderEpochResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [2..=99];
        /// The topics.
        pub topics: Vec<OffsetForLeaderTopicResult> [0..=99];
    }
}

wire_struct! {
    /// A topic in an OffsetForLeaderEpoch response.
    pub struct OffsetForLeaderTopicResult {
        /// The topic name.
        pub topic: String [0..=99];
        /// The partitions.
        pub partitions: Vec<EpochEndOffset> [0..=99];
    }
}

wire_struct! {
    /// The end offset of an epoch for one partition.
    pub struct EpochEndOffset {
        /// The error code.
        pub error_code: i16 [0..=99];
        /// The partition index.
        pub partition: i32 [0..=99];
        /// The leader epoch found.
        pub leader_epoch: i32 [1..=99] = -1;
        /// Its end offset.
        pub end_offset: i64 [0..=99] = -1;
    }
}
