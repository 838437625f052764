//! One client connection: read frames, handle requests in order, queue responses in order.
//!
//! The read side does its own framing ([`protocol::FrameCodec`]); responses go to the transfer crate's
//! response queue, whose writer task sends bytes and file regions (with `sendfile` on plaintext).
//! Requests of one connection are handled one at a time, in order, as Kafka does, so a client may
//! pipeline. Any error ends this connection only: malformed frames, unknown APIs and unsupported versions
//! are logged and the connection is closed (Kafka sends no response to those either).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use protocol::{encode_response_segmented, Error as CodecError, FrameCodec, Piece, Request, RequestPrefix};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;
use tokio_util::codec::Decoder;
use tracing::Instrument;
use transfer::{Chunk, TransportLayer};

use crate::broker::{Broker, Reply};
use crate::metrics::RequestTimes;

/// Serves one connection until the peer closes it, an error ends it, or `stop` turns true (shutdown:
/// the request being handled is finished and its response written first).
pub(crate) async fn serve<R, T>(
    broker: Arc<Broker>,
    listener: Arc<(String, i32, bool)>,
    mut read: R,
    transport: T,
    peer: SocketAddr,
    mut stop: watch::Receiver<bool>,
) where
    R: AsyncRead + Unpin,
    T: TransportLayer + 'static,
{
    broker.metrics.connection_opened();
    let listener = crate::broker::Listener {
        host: listener.0.clone(),
        port: listener.1,
        peer: Some(peer),
        tls: listener.2,
    };
    let (sender, writer) = transfer::response_queue(transport, 32);
    let writer = tokio::spawn(writer.run());
    let mut codec = FrameCodec::new(broker.config.max_request_bytes);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    // When the bytes of the buffered requests arrived (the start of their queue time).
    let mut received = Instant::now();
    let slow = Duration::from_millis(broker.config.slow_request_ms);
    'conn: loop {
        // Handle every complete frame already buffered.
        loop {
            let frame = match codec.decode(&mut buf) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "closing connection: bad frame");
                    broker.metrics.rejected();
                    break 'conn;
                }
            };
            let frame = frame.freeze();
            let request = match Request::decode(frame.clone()) {
                Ok(r) => r,
                Err(e) => {
                    let prefix = RequestPrefix::peek(&frame).ok();
                    match &e {
                        CodecError::UnknownApiKey { .. } | CodecError::UnsupportedVersion { .. } => {
                            tracing::info!(%peer, error = %e, "closing connection: request not supported");
                        }
                        _ => tracing::warn!(%peer, ?prefix, error = %e, "closing connection: malformed request"),
                    }
                    broker.metrics.rejected();
                    break 'conn;
                }
            };
            let api = request.header.api_key;
            let started = Instant::now();
            // Every event of the handler names the peer and the API.
            let span =
                tracing::info_span!("request", %peer, api = api.name(), correlation_id = request.header.correlation_id);
            let reply = broker.handle(&request, &listener).instrument(span).await;
            let handled = started.elapsed();
            let times = RequestTimes {
                queue: started.saturating_duration_since(received),
                local: handled.saturating_sub(reply.remote),
                remote: reply.remote,
            };
            if reply.refused {
                // Not handled (an API or version the broker does not advertise): refused, not served.
                broker.metrics.rejected();
            } else {
                broker.metrics.request(api, times);
            }
            if !slow.is_zero() && times.queue + times.local >= slow {
                broker.metrics.slow_request();
                tracing::warn!(
                    %peer,
                    api = api.name(),
                    version = request.header.api_version,
                    correlation_id = request.header.correlation_id,
                    client_id = request.header.client_id.as_deref().unwrap_or(""),
                    queue_ms = times.queue.as_secs_f64() * 1e3,
                    local_ms = times.local.as_secs_f64() * 1e3,
                    remote_ms = times.remote.as_secs_f64() * 1e3,
                    "slow request"
                );
            }
            let close = reply.close;
            if reply.body.is_some() {
                // A response that cannot be encoded is a bug: end this connection rather than desync it.
                let Some(chunks) = encode(&request, reply, peer) else {
                    break 'conn;
                };
                if sender.send(chunks).await.is_err() {
                    break 'conn;
                }
            }
            if close {
                break 'conn;
            }
        }
        if *stop.borrow() {
            break;
        }
        tokio::select! {
            n = read.read_buf(&mut buf) => match n {
                Ok(0) => {
                    if !buf.is_empty() {
                        tracing::debug!(%peer, bytes = buf.len(), "connection closed in the middle of a request");
                    }
                    break;
                }
                Ok(_) => received = Instant::now(),
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "read error");
                    break;
                }
            },
            _ = stop.changed() => break,
        }
    }
    drop(sender);
    match writer.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "connection write ended"),
        Err(e) => tracing::error!(%peer, error = %e, "connection writer task failed"),
    }
    broker.metrics.connection_closed();
}

/// Encodes a reply as transfer chunks: encoded bytes, and file regions where the records are.
fn encode(request: &Request, reply: Reply, peer: SocketAddr) -> Option<Vec<Chunk>> {
    let body = reply.body?;
    match encode_response_segmented(&request.header, &body) {
        Ok(pieces) => Some(
            pieces
                .into_iter()
                .map(|p| match p {
                    Piece::Bytes(b) => Chunk::Bytes(b),
                    Piece::External { id, .. } => {
                        let slice = &reply.regions[id];
                        Chunk::file(Arc::clone(&slice.file), slice.range.clone())
                    }
                })
                .collect(),
        ),
        Err(e) => {
            tracing::error!(%peer, api = request.header.api_key.name(), error = %e, "cannot encode a response");
            None
        }
    }
}
