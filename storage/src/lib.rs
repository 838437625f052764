//! Partition logs in Kafka's own on-disk format.
//!
//! This crate owns the files under a data directory: one directory per partition (`<topic>-<partition>`),
//! segments named by their 20-digit base offset with `.log`, `.index` and `.timeindex` files,
//! roll, retention, the flush policy and crash recovery.
//! Appends write producer batches exactly as they came off the wire;
//! reads return file regions (`Arc<File>` plus a byte range), never the bytes themselves.
//!
//! It must never: copy record bytes into memory on the read path, decompress or parse individual records
//! on the append path, open sockets, or depend on the `transfer` crate
//! (the two crates meet through std types only).
//!
//! Status: not built yet; see the storage issue.
#![deny(missing_docs)]
