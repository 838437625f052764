//! One client connection: read frames, handle requests in order, queue responses in order.
//!
//! The read side does its own framing ([`protocol::FrameCodec`]); responses go to the transfer crate's
//! response queue, whose writer task sends bytes and file regions (with `sendfile` on plaintext).
//! Requests of one connection are handled one at a time, in order, so a client may pipeline. A request
//! whose answer waits as a delayed operation (an `acks=all` produce waiting for the high watermark)
//! does its own work in order (the append) and then waits without holding up the connection: later
//! requests are read and handled meanwhile (at most [`MAX_WAITING`] answers queued), and every response
//! still leaves in request order. Any error ends this connection only: malformed frames, unknown APIs and
//! unsupported versions are logged and the connection is closed (Kafka sends no response to those
//! either).

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use protocol::{
    encode_response_segmented, ApiKey, Error as CodecError, FrameCodec, Piece, Request, RequestHeader, RequestPrefix,
};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;
use tokio_util::codec::Decoder;
use tracing::Instrument;
use transfer::{Chunk, TransportLayer};

use crate::broker::{Broker, Reply};
use crate::metrics::RequestTimes;

/// The most answers a connection keeps queued behind a waiting one before it stops reading requests (a
/// Kafka producer keeps at most 5 requests in flight).
const MAX_WAITING: usize = 16;

/// The largest frame a SASL connection may send before it authenticated (Kafka's
/// `sasl.server.max.receive.size` default, 512 KiB).
const MAX_UNAUTHENTICATED_FRAME: usize = 512 * 1024;

/// How long a connection stays open after a refused authentication was answered (Kafka's
/// `connection.failed.authentication.delay.ms` default).
const FAILED_AUTHENTICATION_DELAY: Duration = Duration::from_millis(100);

/// An answer in the connection's queue: the chunks to send (`None`: no response), and whether to close
/// the connection after it; `Err` ends the connection at once (a response that cannot be encoded).
type Answer = Result<(Option<Vec<Chunk>>, bool), ()>;

/// Answers in request order; the first may still be waiting.
type Waiting = VecDeque<Pin<Box<dyn Future<Output = Answer> + Send>>>;

/// Serves one connection until the peer closes it, an error ends it, or `stop` turns true (shutdown:
/// the request being handled is finished and its response written first).
pub(crate) async fn serve<R, T>(
    broker: Arc<Broker>,
    template: Arc<crate::broker::Listener>,
    principal: security::acl::KafkaPrincipal,
    mut read: R,
    transport: T,
    peer: SocketAddr,
    mut stop: watch::Receiver<bool>,
) where
    R: AsyncRead + Unpin,
    T: TransportLayer + 'static,
{
    broker.metrics.connection_opened();
    let mut listener = crate::broker::Listener {
        peer: Some(peer),
        client: security::acl::RequestContext::from_ip(principal, peer.ip()),
        ..(*template).clone()
    };
    // SASL listeners authenticate each connection first.
    let mut sasl = listener.protocol.is_sasl().then(|| crate::sasl::Session::new(peer));
    let (sender, writer) = transfer::response_queue(transport, 32);
    let writer = tokio::spawn(writer.run());
    // Before authentication a SASL connection's frames are capped as Kafka caps them
    // (`sasl.server.max.receive.size`): an unauthenticated client cannot make the broker reserve more.
    let mut codec = if sasl.is_some() {
        FrameCodec::new(MAX_UNAUTHENTICATED_FRAME.min(broker.config.max_request_bytes))
    } else {
        FrameCodec::new(broker.config.max_request_bytes)
    };
    let mut buf = BytesMut::with_capacity(64 * 1024);
    // When the bytes of the buffered requests arrived (the start of their queue time).
    let mut received = Instant::now();
    let slow = Duration::from_millis(broker.config.slow_request_ms);
    let mut waiting: Waiting = VecDeque::new();
    // Set on shutdown, or once a queued answer closes the connection: no more requests are read, and the
    // queued answers are sent first.
    let mut closing = false;
    'conn: loop {
        // Handle every complete frame already buffered.
        while !closing {
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
            if let Some(session) = sasl.as_mut().filter(|s| s.expects_raw_token()) {
                // After a v0 handshake the tokens come and go as raw frames.
                match session.raw_token(&broker, &frame).await {
                    Some(token) => {
                        adopt_login(session, &mut listener, &mut codec, broker.config.max_request_bytes);
                        if sender
                            .send(vec![Chunk::Bytes(crate::sasl::raw_frame(&token))])
                            .await
                            .is_err()
                        {
                            break 'conn;
                        }
                        continue;
                    }
                    None => break 'conn,
                }
            }
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
            listener.api = api;
            let gate = match &sasl {
                Some(session) => session.gate(&request),
                None => crate::sasl::Gate::Pass,
            };
            // A refused authentication is answered, and the connection closed a little later (Kafka's
            // connection.failed.authentication.delay.ms, 100 ms), so the client reads the answer before
            // it sees the close.
            let mut linger = false;
            let mut reply = match (gate, sasl.as_mut()) {
                (crate::sasl::Gate::Sasl, Some(session)) => {
                    let reply = session.handle(&broker, &request).instrument(span).await;
                    linger = reply.close;
                    adopt_login(session, &mut listener, &mut codec, broker.config.max_request_bytes);
                    reply
                }
                (crate::sasl::Gate::Close, _) => {
                    broker.metrics.rejected();
                    break 'conn;
                }
                _ => broker.handle(&request, &listener).instrument(span).await,
            };
            let queue_time = started.saturating_duration_since(received);
            if let Some(wait) = reply.deferred.take() {
                // Its own work is done; the answer waits in the queue while the next requests are handled.
                let (broker, header, local) = (Arc::clone(&broker), request.header.clone(), started.elapsed());
                waiting.push_back(Box::pin(async move {
                    let reply = wait.await;
                    let times = RequestTimes {
                        queue: queue_time,
                        local,
                        remote: reply.remote,
                    };
                    account(&broker, &header, &reply, times, slow, peer);
                    answer(&header, reply, peer)
                }));
                continue;
            }
            let handled = started.elapsed();
            let times = RequestTimes {
                queue: queue_time,
                local: handled.saturating_sub(reply.remote),
                remote: reply.remote,
            };
            account(&broker, &request.header, &reply, times, slow, peer);
            let answered = answer(&request.header, reply, peer);
            if !waiting.is_empty() {
                // Behind a waiting answer: keep the order.
                let closes = matches!(answered, Ok((_, true)) | Err(()));
                waiting.push_back(Box::pin(std::future::ready(answered)));
                if closes {
                    closing = true;
                    break;
                }
                continue;
            }
            if !deliver(&sender, answered).await {
                if linger {
                    tokio::time::sleep(FAILED_AUTHENTICATION_DELAY).await;
                }
                break 'conn;
            }
        }
        if *stop.borrow() {
            closing = true;
        }
        if closing && waiting.is_empty() {
            break;
        }
        tokio::select! {
            answered = async { waiting.front_mut().expect("not empty").as_mut().await }, if !waiting.is_empty() => {
                waiting.pop_front();
                if !deliver(&sender, answered).await {
                    break 'conn;
                }
            }
            n = read.read_buf(&mut buf), if !closing && waiting.len() < MAX_WAITING => match n {
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
            _ = stop.changed(), if !closing => closing = true,
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

/// After a SASL step: once authenticated, the connection acts as its principal and may send frames up to
/// `max_request_bytes`.
fn adopt_login(
    session: &crate::sasl::Session,
    listener: &mut crate::broker::Listener,
    codec: &mut FrameCodec,
    max_request_bytes: usize,
) {
    if let Some(principal) = session.principal() {
        if listener.client.principal != *principal {
            listener.client.principal = principal.clone();
        }
        *codec = FrameCodec::new(max_request_bytes);
    }
}

/// Sends an answer; false when the connection must end (it closes after this answer, the writer is gone,
/// or the answer could not be encoded).
async fn deliver(sender: &transfer::ResponseSender, answered: Answer) -> bool {
    let Ok((chunks, close)) = answered else {
        return false;
    };
    if let Some(chunks) = chunks {
        if sender.send(chunks).await.is_err() {
            return false;
        }
    }
    !close
}

/// Counts a handled request in the metrics, and warns about a slow one.
fn account(
    broker: &Broker,
    header: &RequestHeader,
    reply: &Reply,
    times: RequestTimes,
    slow: Duration,
    peer: SocketAddr,
) {
    let api: ApiKey = header.api_key;
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
            version = header.api_version,
            correlation_id = header.correlation_id,
            client_id = header.client_id.as_deref().unwrap_or(""),
            queue_ms = times.queue.as_secs_f64() * 1e3,
            local_ms = times.local.as_secs_f64() * 1e3,
            remote_ms = times.remote.as_secs_f64() * 1e3,
            "slow request"
        );
    }
}

/// What to send for a reply and whether to close after it.
fn answer(header: &RequestHeader, reply: Reply, peer: SocketAddr) -> Answer {
    let close = reply.close;
    if reply.body.is_none() {
        return Ok((None, close));
    }
    // A response that cannot be encoded is a bug: end this connection rather than desync it.
    encode(header, reply, peer)
        .map(|chunks| (Some(chunks), close))
        .ok_or(())
}

/// Encodes a reply as transfer chunks: encoded bytes, and file regions where the records are.
fn encode(header: &RequestHeader, reply: Reply, peer: SocketAddr) -> Option<Vec<Chunk>> {
    let body = reply.body?;
    match encode_response_segmented(header, &body) {
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
            tracing::error!(%peer, api = header.api_key.name(), error = %e, "cannot encode a response");
            None
        }
    }
}
