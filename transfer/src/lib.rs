//! The transport layer: writing responses made of byte buffers and file regions to a connection.
//!
//! [`PlaintextTransportLayer`] sends file regions with `sendfile(2)` straight from the page cache,
//! and [`TlsTransportLayer`] reads them with `pread` into a reused buffer and writes them through TLS.
//! This is Kafka's `FileRecords.writeTo → TransportLayer.transferFrom → FileChannel.transferTo → sendfile(2)`
//! path, on tokio.
//!
//! It must never: know what Kafka is (no dependency on `protocol` or `storage`),
//! copy file bytes through user space on the plaintext sendfile path (except, counted, for files that do not
//! support `sendfile`), or panic when a peer misbehaves.
//! This is the only crate allowed to contain `unsafe` code, each use with a `SAFETY:` comment; the library
//! itself has none (nix and socket2 wrap the system calls), only the benchmark reads `TCP_INFO` unsafely.
//!
//! # What it does
//!
//! - A response is an ordered slice of [`Chunk`]s: [`Chunk::Bytes`] (encoded headers, anything in memory) or
//!   [`Chunk::File`], an `(Arc<File>, Range<u64>)` region exactly as a log store hands it out.
//!   [`TransportLayer::write_response`] writes one response, in order, with one call.
//! - [`PlaintextTransportLayer`] in [`Mode::Sendfile`] (the default) sends regions with `sendfile(2)` on the
//!   non-blocking socket: it waits for writability through tokio's readiness (never spins), resumes partial
//!   sends at the right offset, and takes part in tokio's cooperative budget, so a fast connection cannot
//!   starve others and a slow reader only parks its own task.
//!   Where `sendfile` fails with `EINVAL` or `ENOSYS` (a file system or file type without splice support),
//!   the rest of that region is copied instead and counted in [`Counters::sendfile_fallbacks`].
//! - [`Mode::Copy`] reads regions with `pread` into a reused buffer and writes them: the baseline that
//!   zero-copy is measured against.
//! - [`TlsTransportLayer`] (rustls through tokio-rustls) does the same copy into its own reused buffer and writes
//!   through TLS, as Kafka's `SslTransportLayer` does.
//! - The header bytes and file bytes of one response leave in as few packets as possible: in sendfile mode
//!   with `TCP_CORK` ([`Coalesce::Cork`], chosen by measurement below), in copy mode and TLS by gathering the
//!   pieces in the buffer.
//! - [`response_queue`] puts a bounded queue of responses in front of a transport: the broker's request loop
//!   sends responses into it, one writer task writes them in order, and flushes only when the queue is empty so
//!   that queued responses share packets.
//! - [`Counters`], shared atomics, count bytes per path (sendfile, copy, memory, TLS), fallbacks, responses
//!   and writes that had to wait for a slow reader, for the broker's metrics.
//!
//! # What it does not do
//!
//! - It does not read from the connection: [`PlaintextTransportLayer::split`] and
//!   [`TlsTransportLayer::split_server`] hand the read half back to the caller, who does its own framing.
//! - It does not accept connections, run TLS handshakes or spawn tasks: the server owns the runtime.
//! - It does not decide what a region contains or check it against anything; a region that reaches past the
//!   end of its file (the file was truncated) ends the response with [`Error::Truncated`].
//!
//! # Errors
//!
//! Every [`Error`] ends the response: the peer has received an unknown prefix of it, so the caller must close
//! the connection (only that one). A peer that disconnects is an ordinary I/O error
//! ([`Error::is_peer_disconnect`] tells it apart), never a panic or a hang.
//!
//! # Example
//!
//! ```
//! use std::io::Write;
//! use std::sync::Arc;
//!
//! use bytes::Bytes;
//! use tokio::io::AsyncReadExt;
//! use transfer::{Chunk, Config, Counters, PlaintextTransportLayer, TransportLayer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A "log segment" on disk.
//! let mut segment = tempfile::tempfile()?;
//! segment.write_all(b"....records....")?;
//! let segment = Arc::new(segment);
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let client = tokio::net::TcpStream::connect(listener.local_addr()?).await?;
//! let (stream, _) = listener.accept().await?;
//!
//! // One set of counters for the whole broker; one transport per connection.
//! let counters = Arc::new(Counters::new());
//! let (_read_half, mut transport) = PlaintextTransportLayer::split(stream, &Config::default(), counters.clone())?;
//!
//! // A response: a header from memory, then bytes 4..11 of the segment, sent with sendfile(2).
//! let response = [Chunk::Bytes(Bytes::from_static(b"header:")), Chunk::file(segment.clone(), 4..11)];
//! assert_eq!(transport.write_response(&response).await?, 14);
//! transport.shutdown().await?;
//!
//! let mut received = Vec::new();
//! let mut client = client;
//! client.read_to_end(&mut received).await?;
//! assert_eq!(received, b"header:records");
//! assert_eq!(counters.sendfile_bytes(), 7);
//! assert_eq!(counters.copy_bytes(), 0);
//! # Ok(())
//! # }
//! ```
//!
//! # Choices, measured
//!
//! All on the 2-core development machine (loopback), with `cargo bench -p transfer --bench transfer --
//! --coalesce --tls-buffers`; the main figures go to `target/bench/transfer.md`.
//!
//! **Coalescing: `TCP_CORK`.** The bench's `--coalesce` table writes responses of five pieces (64 B, a 4 KiB
//! region, 16 B, a 4 KiB region, 16 B) with `TCP_NODELAY` set (the transport sets it: Nagle's algorithm would
//! hold the last packet of every response back for an ACK), counting data segments with `TCP_INFO`:
//!
//! | coalescing | request–response: segments, sender CPU per response | pipelined, one flush: segments, CPU |
//! |---|---|---|
//! | [`Coalesce::Off`] | 5.00, 35 µs | 3.2–5.0, 17–28 µs |
//! | [`Coalesce::MsgMore`] | 3.00, 32 µs | 3.0–3.6, 17–21 µs |
//! | [`Coalesce::Cork`] | 1.00, 28–30 µs | 0.24, 11 µs |
//!
//! `MSG_MORE` cannot do better than 3: `sendfile` takes no flags, so the end of every region pushes a packet.
//! `TCP_CORK` sends one packet per response, and when responses are queued ([`response_queue`] flushes only
//! when its queue is empty) several responses share a packet; it costs two `setsockopt` calls per flush, and
//! responses of a single piece are not corked at all. It saves sender CPU in every case. Its one cost: on an
//! idle machine the first byte of a response leaves later, and a request–response round trip on loopback took
//! 59–64 µs against 50 µs without coalescing (the peer's wake-up no longer overlaps the sending); on a busy
//! machine the same round trip took 22 µs against 54 µs. Fewer, fuller packets win on a real network, so
//! `Cork` is the default.
//!
//! **Buffer sizes.** [`DEFAULT_TLS_BUFFER_SIZE`] and [`DEFAULT_COPY_BUFFER_SIZE`] are both 128 KiB.
//! Serving 256 MiB in 1 MiB regions (`--quick --tls-buffers --runs 9`, medians):
//!
//! | buffer | TLS GB/s | TLS sender CPU s/GB | copy GB/s | copy sender CPU s/GB |
//! |---|---|---|---|---|
//! | 16 KiB | 1.40 | 0.689 | 1.74 | 0.564 |
//! | 32 KiB | 1.56 | 0.583 | 2.41 | 0.405 |
//! | 64 KiB | 1.45 | 0.518 | 2.57 | 0.378 |
//! | 128 KiB | 1.51 | 0.485 | 2.74 | 0.338 |
//! | 256 KiB | 1.51 | 0.478 | 3.19 | 0.302 |
//!
//! TLS throughput is bound by the client's decryption from 32 KiB on; the sender's CPU per GB keeps falling up
//! to 128 KiB (30% less than at 16 KiB, one TLS record per write, and 6% less than at 64 KiB) and only 1.5%
//! more after, so 128 KiB is the knee (Kafka uses 32 KiB). Copy mode uses the same size; 256 KiB would save it
//! another 10%, but copy mode is the baseline and the fallback, not the fast path.
//!
//! **Zero-copy on loopback.** Serving the 2 GiB file (`cargo bench -p transfer --bench transfer`, quiet
//! machine, medians of 5): the bare `sendfile(2)` loop 2.50 GB/s at 0.39 sender CPU s/GB, sendfile mode
//! 2.44 GB/s at 0.40 (0.98x and 1.01x the reference), copy mode 2.64 GB/s at 0.37, TLS 1.56 GB/s at 0.51.
//! Sendfile mode matches the bare loop; it does not use 40% of copy mode's CPU here, because on loopback the
//! sender's CPU time also pays for the receive path (the loopback device delivers packets in the sender's
//! context, and this kernel does not account softirq time separately), which is the same in both modes and
//! dominates, and because sendfile's page references are dropped by the receiving CPU while copy mode's two
//! extra copies are of a buffer that stays in cache. `strace -c` shows the difference that does hold: per
//! 1 MiB region, sendfile mode makes about 2.4 `sendfile` calls and no `pread`, copy mode 8 `pread` and 8
//! `sendto` calls. Across a real NIC the sender pays only for transmitting, and the copies weigh more.
//!
//! # Notes for the caller
//!
//! - File regions should be in the page cache: `sendfile` and `pread` block the worker thread on a cache miss
//!   (as Kafka's network threads do).
//! - `sendfile(2)` can raise `SIGPIPE` when the peer is gone; Rust programs ignore `SIGPIPE` from the start,
//!   so it becomes `EPIPE` ([`Error::SendFile`], a peer disconnect). Do not restore the default handler.
//! - Copy mode and TLS allocate their buffer on the first response with a file region and keep it for the
//!   life of the connection.
//! - Dropping a write future before it completes leaves a partial response on the wire: close the connection.
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
