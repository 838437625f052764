//! Produce (key 0): appending record batches.
//!
//! From v3 each partition carries exactly one magic-2 record batch; v0-2 (legacy message formats) are
//! advertised for old librdkafka feature detection but not implemented (KAFKA-18659).
//! The response puts `throttle_time_ms` after the topic responses.

use crate::schema::wire_struct;
use crate::wire::Records;

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
        /// The topic name.
        pub name: String [0..=99];
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
    }
}

wire_struct! {
    /// A topic in a Produce response.
    pub struct TopicProduceResponse {
        /// The topic name.
        pub name: String [0..=99];
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
    }
}
