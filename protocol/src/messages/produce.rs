//! Produce (key 0): appending record batches.
//!
//! From v3 each partition carries exactly one magic-2 record batch; v0-2 (legacy message formats) are
//! advertised for old librdkafka feature detection but not implemented (KAFKA-18659).
//! The response puts `throttle_time_ms` after the topic responses.
//!
//! ```text
//! request   v3+ TransactionalId, v9+ flexible, v13 TopicData[].TopicId instead of Name (KIP-516)
//! response  v5+ LogStartOffset, v8+ RecordErrors and ErrorMessage, v10+ tagged CurrentLeader (per partition)
//!           and NodeEndpoints (KIP-951), v13 Responses[].TopicId instead of Name
//! ```

use crate::schema::wire_struct;
use crate::wire::{Records, Uuid};

wire_struct! {
    /// Produce request ([protocol](https://kafka.apache.org/protocol#The_Messages_Produce)).
    pub struct ProduceRequest {
        /// The transactional id, or null.
        pub transactional_id: Option<String> [3..=99];
        /// Required acknowledgements: 0, 1 or -1 (all in-sync replicas).
        pub acks: i16 [0..=99];
        /// How long to wait for acknowledgements.
        pub timeout_ms: i32 [0..=99];
        /// The data per topic.
        pub topic_data: Vec<TopicProduceData> [0..=99];
    }
}

wire_struct! {
    /// A topic in a Produce request.
    pub struct TopicProduceData {
        /// The topic name (v0-12).
        pub name: String [0..=12];
        /// The topic id (v13+).
        pub topic_id: Uuid [13..=99];
        /// The data per partition.
        pub partition_data: Vec<PartitionProduceData> [0..=99];
    }
}

wire_struct! {
    /// A partition in a Produce request.
    pub struct PartitionProduceData {
        /// The partition index.
        pub index: i32 [0..=99];
        /// The record batches.
        pub records: Option<Records> [0..=99];
    }
}

wire_struct! {
    /// Produce response ([protocol](https://kafka.apache.org/protocol#The_Messages_Produce)).
    pub struct ProduceResponse {
        /// One entry per topic.
        pub responses: Vec<TopicProduceResponse> [0..=99];
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [1..=99];
        /// The endpoints of the leaders named in `current_leader` (v10+, KIP-951).
        pub node_endpoints: Vec<NodeEndpoint> [10..=99], tag 0;
    }
}

wire_struct! {
    /// A topic in a Produce response.
    pub struct TopicProduceResponse {
        /// The topic name (v0-12).
        pub name: String [0..=12];
        /// The topic id (v13+).
        pub topic_id: Uuid [13..=99];
        /// One entry per partition.
        pub partition_responses: Vec<PartitionProduceResponse> [0..=99];
    }
}

wire_struct! {
    /// A partition in a Produce response.
    pub struct PartitionProduceResponse {
        /// The partition index.
        pub index: i32 [0..=99];
        /// The error code.
        pub error_code: i16 [0..=99];
        /// The offset assigned to the first record.
        pub base_offset: i64 [0..=99];
        /// The broker's append time when the topic uses LogAppendTime, else -1.
        pub log_append_time_ms: i64 [2..=99] = -1;
        /// The log start offset.
        pub log_start_offset: i64 [5..=99] = -1;
        /// The batches that failed validation and why (v8+).
        pub record_errors: Vec<BatchIndexAndErrorMessage> [8..=99];
        /// The partition-level error message (v8+).
        pub error_message: Option<String> [8..=99];
        /// The current leader when the error is `NOT_LEADER_OR_FOLLOWER` (v10+, KIP-951).
        pub current_leader: LeaderIdAndEpoch [10..=99], tag 0;
    }
}

wire_struct! {
    /// A batch that failed validation in a Produce response (v8+).
    pub struct BatchIndexAndErrorMessage {
        /// The index of the batch in the partition's records.
        pub batch_index: i32 [0..=99];
        /// Why it failed.
        pub batch_index_error_message: Option<String> [0..=99];
    }
}

wire_struct! {
    /// A partition leader and its epoch (Produce v10+ and Fetch v12+ responses).
    pub struct LeaderIdAndEpoch {
        /// The leader's broker id, -1 if unknown.
        pub leader_id: i32 [0..=99] = -1;
        /// The leader epoch, -1 if unknown.
        pub leader_epoch: i32 [0..=99] = -1;
    }
}

wire_struct! {
    /// A broker endpoint (Produce v10+ and Fetch v16+ responses).
    pub struct NodeEndpoint {
        /// The broker id.
        pub node_id: i32 [0..=99];
        /// The host name.
        pub host: String [0..=99];
        /// The port.
        pub port: i32 [0..=99];
        /// The rack, if any.
        pub rack: Option<String> [0..=99];
    }
}
