//! The broker's life in the cluster (Kafka's `BrokerLifecycleManager`): register with a new incarnation
//! per process start, heartbeat (every 100 ms while fenced or shutting down, every
//! `broker_heartbeat_interval_ms` otherwise), ask to stay fenced until the metadata up to the registration
//! is applied to the local partitions, and on shutdown ask for a controlled shutdown and wait until the
//! controller has moved this broker's leaderships away. A heartbeat answered `STALE_BROKER_EPOCH` (the
//! controller fenced or forgot this registration) registers again. Whenever the broker learns it is fenced
//! (or no heartbeat got through for a whole session), it stops leading until its metadata says otherwise.
//!
//! Producer ids come from blocks the controller hands out, so no two brokers ever give the same id.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use metadata::records::RegisterBroker;
use protocol::ErrorCode;
use tokio::sync::watch;

use super::rpc::{Request, Response};
use super::Cluster;

/// How often a fenced or shutting-down broker heartbeats.
const FAST_HEARTBEAT: Duration = Duration::from_millis(100);

/// The broker's registration and state, as its heartbeats last learned it.
#[derive(Debug)]
pub(crate) struct BrokerState {
    /// The broker epoch (-1: not registered).
    pub(crate) epoch: AtomicI64,
    /// True until the controller unfences it, and again once fenced.
    fenced: watch::Sender<bool>,
    /// Set when a controlled shutdown is asked for.
    shutting_down: watch::Sender<bool>,
    /// Set when the controller lets the broker go.
    released: watch::Sender<bool>,
    /// The current producer-id block: (next, end).
    producer_ids: tokio::sync::Mutex<(i64, i64)>,
    /// Whether the local topics were offered for adoption.
    adopted: AtomicBool,
}

impl Default for BrokerState {
    fn default() -> Self {
        BrokerState {
            epoch: AtomicI64::new(-1),
            fenced: watch::channel(true).0,
            shutting_down: watch::channel(false).0,
            released: watch::channel(false).0,
            producer_ids: tokio::sync::Mutex::new((0, 0)),
            adopted: AtomicBool::new(false),
        }
    }
}

impl BrokerState {
    /// Is the broker fenced?
    pub(crate) fn is_fenced(&self) -> bool {
        *self.fenced.borrow()
    }

    /// Notified when the fencing changes.
    pub(crate) fn fenced(&self) -> watch::Receiver<bool> {
        self.fenced.subscribe()
    }
}

impl Cluster {
    /// Runs the broker's registration and heartbeats until `stop`. `registration` carries the advertised
    /// listeners; `local_applied` is the metadata offset the local partitions have caught up with.
    pub(crate) async fn run_broker(
        self: Arc<Self>,
        mut registration: RegisterBroker,
        adopt: impl Fn() -> Vec<super::rpc::AdoptTopic> + Send,
        local_applied: watch::Receiver<u64>,
        mut stop: watch::Receiver<bool>,
    ) {
        registration.incarnation_id = *uuid::Uuid::new_v4().as_bytes();
        let mut shutting_down = self.broker.shutting_down.subscribe();
        'register: loop {
            let (epoch, offset) = loop {
                match self.submit(Request::Register(registration.clone())).await {
                    Ok(Response::Registered { broker_epoch, offset }) => break (broker_epoch, offset),
                    Ok(Response::Error { code, message }) => {
                        tracing::info!(code, %message, "registration refused; retrying");
                    }
                    Ok(other) => tracing::warn!(answer = ?other, "unexpected registration answer"),
                    Err((_, message)) => tracing::info!(%message, "cannot register yet; retrying"),
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = stop.changed() => return,
                }
            };
            self.broker.epoch.store(epoch, Ordering::Release);
            tracing::info!(broker_epoch = epoch, "registered with the controller");
            if self.fresh
                && self.voters.len() == 1
                && self.is_controller
                && !self.broker.adopted.swap(true, Ordering::AcqRel)
            {
                let topics = adopt();
                if !topics.is_empty() {
                    tracing::info!(
                        topics = topics.len(),
                        "adding the topics found on disk to the new metadata log"
                    );
                    let next_producer_id = crate::broker::storage_now_ms() * 1000;
                    let adopting = Request::Adopt {
                        broker_id: self.node_id,
                        topics,
                        next_producer_id,
                    };
                    if let Err((_, message)) = self.submit(adopting).await {
                        tracing::error!(%message, "cannot add the local topics to the metadata");
                    }
                }
            }
            let mut last_ok = std::time::Instant::now();
            loop {
                let want_shutdown = *shutting_down.borrow();
                let metadata_offset = *local_applied.borrow();
                let heartbeat = Request::Heartbeat {
                    broker_id: self.node_id,
                    broker_epoch: epoch,
                    metadata_offset,
                    // Ready once the local partitions caught up with the registration.
                    want_fence: metadata_offset < offset,
                    want_shutdown,
                };
                match self.submit(heartbeat).await {
                    Ok(Response::Heartbeat {
                        error,
                        is_fenced,
                        should_shutdown,
                        ..
                    }) => {
                        if error == ErrorCode::StaleBrokerEpoch.code() {
                            tracing::warn!(
                                broker_epoch = epoch,
                                "the controller no longer knows this registration; registering again"
                            );
                            self.broker.fenced.send_replace(true);
                            continue 'register;
                        }
                        if error == 0 {
                            last_ok = std::time::Instant::now();
                            self.broker.fenced.send_if_modified(|f| {
                                let changed = *f != is_fenced;
                                *f = is_fenced;
                                changed
                            });
                            if should_shutdown {
                                self.broker.released.send_replace(true);
                            }
                        }
                    }
                    Ok(other) => tracing::warn!(answer = ?other, "unexpected heartbeat answer"),
                    Err((_, message)) => tracing::info!(%message, "heartbeat failed"),
                }
                // Cut off from the controller for a whole session: it has fenced this broker by now and moved
                // its leaderships, so stop leading here too rather than accept writes as a zombie leader.
                if last_ok.elapsed() > Duration::from_millis(self.session_timeout_ms) && !self.broker.is_fenced() {
                    tracing::warn!(
                        session_timeout_ms = self.session_timeout_ms,
                        "no heartbeat reached the controller for a whole session: no longer leading anything"
                    );
                    self.broker.fenced.send_replace(true);
                }
                let every = if self.broker.is_fenced() || want_shutdown {
                    FAST_HEARTBEAT
                } else {
                    self.heartbeat_interval
                };
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    _ = shutting_down.changed() => {}
                    _ = stop.changed() => return,
                }
            }
        }
    }

    /// Asks for a controlled shutdown and waits, at most `timeout`, until the controller has moved this
    /// broker's leaderships away and let it go.
    pub(crate) async fn controlled_shutdown(&self, timeout: Duration) {
        if self.broker.epoch.load(Ordering::Acquire) < 0 {
            return;
        }
        self.broker.shutting_down.send_replace(true);
        let mut released = self.broker.released.subscribe();
        let done = tokio::time::timeout(timeout, released.wait_for(|r| *r)).await.is_ok();
        if done {
            tracing::info!("controlled shutdown done: leaderships moved");
        } else {
            tracing::warn!(?timeout, "controlled shutdown did not finish; stopping anyway");
        }
    }

    /// The next producer id, from the current block or a new one from the controller.
    pub(crate) async fn next_producer_id(&self) -> Result<i64, ErrorCode> {
        let mut block = self.broker.producer_ids.lock().await;
        if block.0 >= block.1 {
            let epoch = self.broker.epoch.load(Ordering::Acquire);
            let request = Request::AllocateProducerIds {
                broker_id: self.node_id,
                broker_epoch: epoch,
            };
            match self.submit(request).await {
                Ok(Response::ProducerIds { first, count }) => *block = (first, first + count),
                Ok(Response::Error { code, message }) => {
                    tracing::warn!(code, %message, "no producer-id block");
                    return Err(ErrorCode::from_code(code).unwrap_or(ErrorCode::UnknownServerError));
                }
                Ok(_) | Err(_) => return Err(ErrorCode::CoordinatorNotAvailable),
            }
        }
        let id = block.0;
        block.0 += 1;
        Ok(id)
    }
}
