//! Black-box tests of the protocol crate: bytes captured from real Kafka clients, malformed input, and
//! record batches.

mod golden;
mod malformed;
mod records;
