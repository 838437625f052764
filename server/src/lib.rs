//! The kzero broker: configuration, listeners, request dispatch, topics and groups.
//!
//! This is the only crate that owns a runtime and spawns tasks.
//! It wires the other crates together: `protocol` decodes requests and encodes responses,
//! `storage` holds the partition logs, `transfer` writes responses (file regions go out with `sendfile`),
//! and `replication` decides what followers fetch and when produce requests complete.
//!
//! It must never: parse wire formats by hand (that is `protocol`'s job),
//! read record bytes into memory on the fetch path, or let one connection's error affect another.
//!
//! Status: not built yet; see the broker issue.
#![deny(missing_docs)]
