//! The metrics listener's HTTP server (hyper): `GET /metrics` (OpenMetrics text), `GET /health` (the
//! process is up) and `GET /ready` (the data directory is loaded and the Kafka listeners are bound), for
//! Prometheus and for orchestrators' probes.
//!
//! It starts before the data directory is opened, so `/health` answers during a long recovery while
//! `/ready` says 503 until the broker serves.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::broker::Broker;

/// What the endpoints report.
#[derive(Debug, Default)]
pub(crate) struct HttpState {
    /// Set once the data directory is open.
    pub(crate) broker: OnceLock<Arc<Broker>>,
    /// True while the broker serves clients (data directory loaded, listeners bound, not stopping).
    pub(crate) ready: AtomicBool,
}

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

fn answer(state: &HttpState, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
    }
    match request.uri().path() {
        "/metrics" => match state.broker.get() {
            Some(broker) => {
                let mut r = Response::new(Full::new(Bytes::from(broker.metrics.render())));
                r.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static(OPENMETRICS));
                r
            }
            None => text(StatusCode::SERVICE_UNAVAILABLE, "loading the data directory\n"),
        },
        "/health" => text(StatusCode::OK, "ok\n"),
        "/ready" => {
            if state.ready.load(Ordering::Acquire) {
                text(StatusCode::OK, "ready\n")
            } else if state.broker.get().is_none() {
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "not ready: loading the data directory\n",
                )
            } else {
                text(StatusCode::SERVICE_UNAVAILABLE, "not ready: stopping\n")
            }
        }
        _ => text(StatusCode::NOT_FOUND, "try /metrics, /health or /ready\n"),
    }
}

/// Serves until `stop` turns true.
pub(crate) async fn serve(listener: TcpListener, state: Arc<HttpState>, mut stop: watch::Receiver<bool>) {
    loop {
        let (stream, peer) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics listener: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let response = answer(&state, &request);
                async move { Ok::<_, Infallible>(response) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "metrics connection ended");
            }
        });
    }
}
