//! The transport layer: writing responses made of byte buffers and file regions to a connection.
//!
//! `PlaintextTransportLayer` sends file regions with `sendfile(2)` straight from the page cache,
//! and `TlsTransportLayer` reads them with `pread` into a reused buffer and writes them through TLS.
//!
//! It must never: know what Kafka is (no dependency on `protocol` or `storage`),
//! copy file bytes through user space on the plaintext sendfile path, or panic when a peer misbehaves.
//! This is the only crate allowed to contain `unsafe` code, each use with a `SAFETY:` comment.
//!
//! Status: not built yet; see the transfer issue.
#![deny(missing_docs)]
