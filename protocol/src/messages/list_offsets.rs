//! ListOffsets (key 2): earliest, latest and by-timestamp offsets.
//!
//! Timestamp -1 asks for the latest offset, -2 for the earliest; otherwise the first offset whose
//! timestamp is at least the one given.
//!
//! ```text
//! v1 the baseline (v0 was removed in Kafka 4.0), v2+ IsolationLevel and ThrottleTimeMs, v4+ CurrentLeaderEpoch
//! and LeaderEpoch, v6+ flexible, v7-9 more special timestamps (max timestamp, tiered storage), v10+ TimeoutMs
//! ```

use crate::schema::wire_struct;

wire_struct! {
    /// ListOffsets request ([protocol](https://kafka.apache.org/protocol#The_Messages_ListOffsets)).
    pub struct ListOffsetsRequest {
        /// The requester's broker id, -1 for consumers.
        pub replica_id: i32 [0..=99];
        /// 0 = READ_UNCOMMITTED, 1 = READ_COMMITTED.
        pub isolation_level: i8 [2..=99];
        /// The topics.
        pub topics: Vec<ListOffsetsTopic> [0..=99];
        /// How long to wait for a tiered-storage lookup (v10+).
        pub timeout_ms: i32 [10..=99];
    }
}

wire_struct! {
    /// A topic in a ListOffsets request.
    pub struct ListOffsetsTopic {
        /// The topic name.
        pub name: String [0..=99];
        /// The partitions.
        pub partitions: Vec<ListOffsetsPartition> [0..=99];
    }
}

wire_struct! {
    /// A partition in a ListOffsets request.
    pub struct ListOffsetsPartition {
        /// The partition index.
        pub partition_index: i32 [0..=99];
        /// The leader epoch the client knows (v4+), -1 for no check.
        pub current_leader_epoch: i32 [4..=99] = -1;
        /// The timestamp to look up, or -1 (latest) / -2 (earliest).
        pub timestamp: i64 [0..=99];
    }
}

wire_struct! {
    /// ListOffsets response ([protocol](https://kafka.apache.org/protocol#The_Messages_ListOffsets)).
    pub struct ListOffsetsResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [2..=99];
        /// The topics.
        pub topics: Vec<ListOffsetsTopicResponse> [0..=99];
    }
}

wire_struct! {
    /// A topic in a ListOffsets response.
    pub struct ListOffsetsTopicResponse {
        /// The topic name.
        pub name: String [0..=99];
        /// The partitions.
        pub partitions: Vec<ListOffsetsPartitionResponse> [0..=99];
    }
}

wire_struct! {
    /// A partition in a ListOffsets response.
    pub struct ListOffsetsPartitionResponse {
        /// The partition index.
        pub partition_index: i32 [0..=99];
        /// The error code.
        pub error_code: i16 [0..=99];
        /// The timestamp of the returned offset.
        pub timestamp: i64 [1..=99] = -1;
        /// The returned offset.
        pub offset: i64 [1..=99] = -1;
        /// The leader epoch of the returned offset (v4+), -1 if unknown.
        pub leader_epoch: i32 [4..=99] = -1;
    }
}
