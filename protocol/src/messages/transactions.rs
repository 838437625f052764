//! InitProducerId (key 22): producer ids for idempotent and transactional producers.

use crate::schema::wire_struct;

wire_struct! {
    /// InitProducerId request ([protocol](https://kafka.apache.org/protocol#The_Messages_InitProducerId)).
    pub struct InitProducerIdRequest {
        /// The transactional id, or null for an idempotent producer.
        pub transactional_id: Option<String> [0..=99];
        /// The transaction timeout.
        pub transaction_timeout_ms: i32 [0..=99];
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
