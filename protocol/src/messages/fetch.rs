//! Fetch (key 1): reading record batches.
//!
//! The response is built for zero-copy: each partition's records can be [`Records::External`], and a
//! segmented encoding ([`crate::encode_response_segmented`]) leaves a gap there for the caller to fill
//! from a file, with every size field computed from the record lengths.

use crate::schema::wire_struct;
use crate::wire::Records;

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
    }
}

wire_struct! {
    /// A topic in a Fetch request.
    pub struct FetchTopic {
        /// The topic name.
        pub topic: String [0..=12];
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
        /// The follower's log start offset (followers only).
        pub log_start_offset: i64 [5..=99] = -1;
        /// The maximum bytes for this partition.
        pub partition_max_bytes: i32 [0..=99];
    }
}

wire_struct! {
    /// Partitions removed from a fetch session.
    pub struct ForgottenTopic {
        /// The topic name.
        pub topic: String [7..=12];
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
    }
}

wire_struct! {
    /// A topic in a Fetch response.
    pub struct FetchableTopicResponse {
        /// The topic name.
        pub topic: String [0..=12];
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
        /// Aborted transactions in the returned range.
        pub aborted_transactions: Option<Vec<AbortedTransaction>> [4..=99];
        /// The preferred read replica, -1 if none.
        pub preferred_read_replica: i32 [11..=99] = -1;
        /// The record batches.
        pub records: Option<Records> [0..=99];
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
