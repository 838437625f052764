//! [`TransportLayer`]: the one interface the broker writes responses through.

use std::future::Future;
use std::sync::Arc;

use crate::{Chunk, Counters, Error};

/// The write side of a connection: writes responses made of [`Chunk`]s, in order.
///
/// Implemented by [`PlaintextTransportLayer`](crate::PlaintextTransportLayer) (sendfile or copy) and
/// [`TlsTransportLayer`](crate::TlsTransportLayer). The futures are `Send`, so a connection's writer can run on
/// any worker of a multi-threaded runtime.
///
/// **Cancellation.** Dropping one of these futures before it completes leaves an unknown prefix of a response
/// on the wire: the connection must then be closed. After any `Err` the same holds.
pub trait TransportLayer: Send {
    /// Writes one response, all its chunks in order, and returns its length.
    ///
    /// The tail of the response may be held back (corked, or in the copy buffer) so that a following response
    /// can share its packets: call [`flush`](TransportLayer::flush) when there is nothing more to write right
    /// away, or use [`write_response`](TransportLayer::write_response).
    /// If a region is invalid (start after end) nothing is written and [`Error::InvalidRange`] is returned.
    fn feed_response(&mut self, response: &[Chunk]) -> impl Future<Output = Result<u64, Error>> + Send;

    /// Sends whatever [`feed_response`](TransportLayer::feed_response) held back.
    fn flush(&mut self) -> impl Future<Output = Result<(), Error>> + Send;

    /// Writes one response and flushes: `feed_response` then `flush`.
    fn write_response(&mut self, response: &[Chunk]) -> impl Future<Output = Result<u64, Error>> + Send {
        async move {
            let n = self.feed_response(response).await?;
            self.flush().await?;
            Ok(n)
        }
    }

    /// Flushes, then closes the write side (TLS sends `close_notify` first); the peer reads end-of-stream.
    fn shutdown(&mut self) -> impl Future<Output = Result<(), Error>> + Send;

    /// The counters this transport adds to.
    fn counters(&self) -> &Arc<Counters>;
}
