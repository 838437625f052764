//! InitProducerId (key 22): producer ids for idempotent and transactional producers.
//!
//! ```text
//! v1 same as v0, v2+ flexible, v3+ ProducerId and ProducerEpoch in the request (KIP-360, epoch bumps),
//! v4 (may answer PRODUCER_FENCED, KIP-588) and v5 (KIP-890) same as v3
//! ```

use crate::schema::wire_struct;

wire_struct! {
    /// InitProducerId request ([protocol](https://kafka.apache.org/protocol#The_Messages_InitProducerId)).
    pub struct InitProducerIdRequest {
        /// The transactional id, or null for an idempotent producer.
        pub transactional_id: Option<String> [0..=99];
        /// The transaction timeout.
        pub transaction_timeout_ms: i32 [0..=99];
        /// The current producer id (v3+, KIP-360), -1 for a new producer.
        pub producer_id: i64 [3..=99] = -1;
        /// The current producer epoch (v3+), -1 for a new producer.
        pub producer_epoch: i16 [3..=99] = -1;
    }
}

wire_struct! {
    /// InitProducerId response ([protocol](https://kafka.apache.org/protocol#The_Messages_InitProducerId)).
    pub struct InitProducerIdResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [0..=99];
        /// The error code.
        pub error_code: i16 [0..=99];
        /// The producer id.
        pub producer_id: i64 [0..=99] = -1;
        /// The producer epoch.
        pub producer_epoch: i16 [0..=99];
    }
}
