//! Leader-to-follower replication as sans-IO state machines.
//!
//! This crate owns the rules of Kafka replication: follower fetch positions, the high watermark,
//! the in-sync replica set, `acks=all` completion, leader epochs and follower truncation.
//! `Leader` and `Follower` take events and return actions; the caller does all I/O.
//!
//! It must never: open sockets, spawn tasks, or read the log's bytes (it reasons about offsets and epochs).
//!
//! Status: not built yet; see the replication issue.
#![deny(missing_docs)]
