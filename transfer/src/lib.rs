//! The transport layer: writing responses made of byte buffers and file regions to a connection.
//!
//! `PlaintextTransportLayer` sends file regions with `sendfile(2)` straight from the page cache,
//! and `TlsTransportLayer` reads them with `pread` into a reused buffer and writes them through TLS.
//!
//! It must never: know what Kafka is (no dependency on `protocol` or `storage`),
//! copy file bytes through user space on the plaintext sendfile path, or panic when a peer misbehaves.
//! This is the only crate allowed to contain `unsafe` code, each use with a `SAFETY:` comment.
#![deny(missing_docs)]

mod buffered;
mod chunk;
mod config;
mod counters;
mod error;
mod plaintext;
mod queue;
mod tls;
mod transport;

pub use chunk::Chunk;
pub use config::{Coalesce, Config, Mode, DEFAULT_COPY_BUFFER_SIZE, DEFAULT_TLS_BUFFER_SIZE};
pub use counters::{Counters, CountersSnapshot};
pub use error::Error;
pub use plaintext::PlaintextTransportLayer;
pub use queue::{response_queue, ResponseSender, ResponseWriter};
pub use tls::{TlsReadHalf, TlsTransportLayer, TlsWriteHalf};
pub use transport::TransportLayer;

#[cfg(test)]
mod tests;
