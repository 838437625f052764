//! The cluster: this node's seat in the KRaft-style metadata quorum (openraft, through the `quorum`
//! crate), the active controller, and the broker's registration and heartbeats.
//!
//! - **The metadata log** (`DATA_DIR/__cluster_metadata`) holds batches of [`metadata::Record`]s. Every
//!   node applies them to an [`Image`] ([`MetadataApp`]), published behind an atomic pointer; the broker
//!   reads it to answer Metadata and brings its partitions in line with it
//!   ([`crate::replica_manager::ReplicaManager::apply_image`]).
//! - **The active controller is the Raft leader.** Requests ([`rpc::Request`]) reach it over the
//!   controller listener, or directly when this node leads; it decides with `metadata::controller`'s rules
//!   over its applied image and writes the records (one entry per request, applied before the next request
//!   is decided: a mutex serializes them). It fences brokers whose heartbeat sessions expire, one per tick.
//! - **Brokers** register (a new incarnation per process start), heartbeat, and stay fenced until they have
//!   applied the metadata up to their registration ([`lifecycle`]).
//!
//! Without a `[controller]` section the node is a one-voter quorum on an ephemeral loopback port: the
//! same code, no network hops.

pub(crate) mod lifecycle;
pub(crate) mod rpc;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use metadata::controller::{self, Sessions};
use metadata::{Batch, Image, Record};
use protocol::ErrorCode;
use tokio::sync::watch;

use crate::config::Config;
use crate::Error;

use rpc::{PartitionAnswer, Request, Response};

/// The directory of the metadata log under the data directory (Kafka's `__cluster_metadata-0`).
pub(crate) const METADATA_DIR: &str = "__cluster_metadata";

/// How long a broker-to-controller request may take, retries included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The state machine every node keeps: the image, published after every entry.
struct MetadataApp {
    image: Image,
    shared: Arc<ArcSwap<Image>>,
    applied: watch::Sender<u64>,
}

impl MetadataApp {
    fn publish(&mut self, index: u64) {
        self.image.offset = index;
        self.shared.store(Arc::new(self.image.clone()));
        self.applied.send_replace(index);
    }
}

impl quorum::App for MetadataApp {
    fn apply(&mut self, index: u64, payload: &[u8]) {
        match Batch::decode(payload) {
            Ok(batch) => self.image.apply_batch(index, &batch),
            // Written by a controller of another version, or damaged past its checksum: skipping keeps the
            // other nodes' images equal to this one only if they skip it too, which they do.
            Err(e) => tracing::error!(index, error = %e, "skipping an undecodable metadata entry"),
        }
        self.publish(index);
    }

    fn advance(&mut self, index: u64) {
        self.publish(index);
    }

    fn snapshot(&self) -> Vec<u8> {
        self.image.to_snapshot()
    }

    fn restore(&mut self, index: u64, data: &[u8]) -> Result<(), String> {
        self.image = Image::from_snapshot(data).map_err(|e| e.to_string())?;
        self.publish(index);
        Ok(())
    }
}

/// The application RPCs of the controller listener: requests to the active controller.
struct Rpc(Arc<OnceLock<Arc<Cluster>>>);

impl quorum::AppRpc for Rpc {
    fn handle(&self, request: Vec<u8>) -> quorum::AppRpcFuture<'_> {
        Box::pin(async move {
            let response = match (serde_json::from_slice::<Request>(&request), self.0.get()) {
                (Ok(request), Some(cluster)) => cluster.handle_active(request).await,
                (Ok(_), None) => Response::NotController { leader: None },
                (Err(e), _) => {
                    tracing::warn!(error = %e, "an undecodable controller request");
                    Response::Error {
                        code: ErrorCode::InvalidRequest.code(),
                        message: format!("undecodable controller request: {e}"),
                    }
                }
            };
            response.encode()
        })
    }
}

/// What the active controller keeps in memory only: brokers' heartbeat sessions, started afresh in each
/// term it leads.
#[derive(Debug)]
struct ActiveState {
    sessions: Sessions,
    term: u64,
}

/// This node's seat in the cluster.
pub(crate) struct Cluster {
    pub(crate) node_id: i32,
    node: quorum::Node,
    image: Arc<ArcSwap<Image>>,
    applied: watch::Receiver<u64>,
    active: tokio::sync::Mutex<ActiveState>,
    session_timeout_ms: u64,
    pub(crate) heartbeat_interval: Duration,
    started: Instant,
    /// The metadata log did not exist before this start.
    pub(crate) fresh: bool,
    /// The voters, (id, controller listener address).
    pub(crate) voters: Vec<(i32, String)>,
    /// This node votes.
    pub(crate) is_controller: bool,
    /// The controller listener's bound address.
    pub(crate) controller_addr: SocketAddr,
    /// The broker's registration and fencing state (brokers only).
    pub(crate) broker: lifecycle::BrokerState,
    /// Writes this node made as the active controller (metrics).
    pub(crate) writes: AtomicU64,
    /// The controller listener's shared secret, when its connections are authenticated.
    secret: Option<quorum::Secret>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("node_id", &self.node_id)
            .field("voters", &self.voters)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Joins (or, alone, forms) the metadata quorum: opens the metadata log under the data directory,
    /// replays it, and serves the controller listener.
    pub(crate) async fn start(config: &Config) -> Result<Arc<Cluster>, Error> {
        let dir = config.data_dir.join(METADATA_DIR);
        let fresh = !dir.exists();
        let (listen, voters, session_timeout_ms, heartbeat_ms) = match &config.controller {
            Some(c) => (
                c.listen,
                c.voters()?,
                c.broker_session_timeout_ms,
                c.broker_heartbeat_interval_ms,
            ),
            None => ("127.0.0.1:0".parse().expect("an address"), Vec::new(), 9000, 2000),
        };
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| Error::Io {
                op: "binding the controller listener",
                path: listen.to_string().into(),
                source,
            })?;
        let controller_addr = listener.local_addr().map_err(|source| Error::Io {
            op: "inspecting",
            path: "controller listener".into(),
            source,
        })?;
        let voters = if voters.is_empty() {
            vec![(config.node_id, controller_addr.to_string())]
        } else {
            voters
        };
        let voter_map: BTreeMap<u64, String> = voters.iter().map(|(id, a)| (*id as u64, a.clone())).collect();
        let mut options = quorum::Options::new(config.node_id as u64, &dir, voter_map);
        options.voter = config.is_controller();
        // openraft's default timeouts, for failover within a second: the leader heartbeats every 50 ms, and a
        // voter that heard nothing for its leader lease (the maximum, 300 ms) plus a random 150-300 ms stands
        // for election (Kafka's KRaft waits 1-2 s: controller.quorum.election.timeout.ms 1000 plus backoff).
        options.heartbeat_interval = Duration::from_millis(50);
        options.election_timeout = (Duration::from_millis(150), Duration::from_millis(300));
        let secret = controller_secret(config);
        options.secret = secret.clone();
        let shared = Arc::new(ArcSwap::from_pointee(Image::default()));
        let (applied_tx, applied) = watch::channel(0);
        let app = MetadataApp {
            image: Image::default(),
            shared: Arc::clone(&shared),
            applied: applied_tx,
        };
        let slot = Arc::new(OnceLock::new());
        let node = quorum::Node::start(options, app, listener, Arc::new(Rpc(Arc::clone(&slot))))
            .await
            .map_err(|e| Error::Quorum(e.to_string()))?;
        let cluster = Arc::new(Cluster {
            node_id: config.node_id,
            node,
            image: shared,
            applied,
            active: tokio::sync::Mutex::new(ActiveState {
                sessions: Sessions::new(session_timeout_ms),
                term: 0,
            }),
            session_timeout_ms,
            heartbeat_interval: Duration::from_millis(heartbeat_ms),
            started: Instant::now(),
            fresh,
            voters,
            is_controller: config.is_controller(),
            controller_addr,
            broker: lifecycle::BrokerState::default(),
            writes: AtomicU64::new(0),
            secret,
        });
        let _ = slot.set(Arc::clone(&cluster));
        tracing::info!(
            node_id = config.node_id,
            controller_listener = %controller_addr,
            voters = ?cluster.voters,
            fresh,
            "joined the metadata quorum"
        );
        Ok(cluster)
    }

    /// The metadata as last applied here.
    pub(crate) fn image(&self) -> Arc<Image> {
        self.image.load_full()
    }

    /// Notified with the applied offset after every entry.
    pub(crate) fn applied(&self) -> watch::Receiver<u64> {
        self.applied.clone()
    }

    /// The active controller's id, if known.
    pub(crate) fn controller_id(&self) -> Option<i32> {
        self.node.leader().map(|(id, _)| id as i32)
    }

    /// The quorum as this node sees it.
    pub(crate) fn status(&self) -> quorum::Status {
        self.node.status()
    }

    fn is_active(&self) -> bool {
        self.is_controller && self.controller_id() == Some(self.node_id)
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Sends a request to the active controller (this node, or the leader over the controller listener),
    /// retrying while there is none or it moved, for at most [`REQUEST_TIMEOUT`].
    pub(crate) async fn submit(&self, request: Request) -> Result<Response, (ErrorCode, String)> {
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        let bytes = request.encode();
        let mut last = String::from("no active controller");
        // Where to ask when the leader is not known here (a broker-only node before it is an observer):
        // the voters in turn, following the leader a voter names.
        let mut next_voter = 0;
        let mut named: Option<i32> = None;
        loop {
            let target = match self.node.leader() {
                Some((id, _)) if id as i32 == self.node_id && self.is_controller => None,
                Some((_, addr)) if !addr.is_empty() => Some(addr),
                _ => {
                    let by_name = named.take().and_then(|id| self.voters.iter().find(|(v, _)| *v == id));
                    let voter = by_name.or_else(|| {
                        next_voter += 1;
                        self.voters.get(next_voter % self.voters.len().max(1))
                    });
                    voter.map(|(_, addr)| addr.clone())
                }
            };
            let answer = match target {
                None => Some(self.handle_active(request.clone()).await),
                Some(addr) => match quorum::call(&addr, bytes.clone(), REQUEST_TIMEOUT, self.secret.as_ref()).await {
                    Ok(reply) => match serde_json::from_slice::<Response>(&reply) {
                        Ok(r) => Some(r),
                        Err(e) => {
                            return Err((
                                ErrorCode::UnknownServerError,
                                format!("undecodable controller answer: {e}"),
                            ))
                        }
                    },
                    Err(e) => {
                        last = e.to_string();
                        None
                    }
                },
            };
            match answer {
                Some(Response::NotController { leader }) => named = leader,
                None => {}
                Some(response) => return Ok(response),
            }
            if Instant::now() >= deadline {
                return Err((
                    ErrorCode::RequestTimedOut,
                    format!("the active controller did not answer: {last}"),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Writes records as the active controller; the entry's offset once applied here.
    async fn write(&self, records: Vec<Record>) -> Result<u64, Response> {
        if records.is_empty() {
            return Ok(self.image().offset);
        }
        match self.node.write(Batch(records).encode()).await {
            Ok(offset) => {
                self.writes.fetch_add(1, Ordering::Relaxed);
                Ok(offset)
            }
            Err(quorum::Error::NotLeader { leader }) => Err(Response::NotController {
                leader: leader.map(|(id, _)| id as i32),
            }),
            Err(e) => Err(Response::Error {
                code: ErrorCode::UnknownServerError.code(),
                message: e.to_string(),
            }),
        }
    }

    /// Handles a request as the active controller: decides over the applied image and writes the records.
    /// Requests are serialized, so each decides over the image every earlier one produced.
    /// Bounded by [`REQUEST_TIMEOUT`] (a leader that lost its quorum cannot commit): then `NotController`, and
    /// the caller looks for the leader again.
    pub(crate) async fn handle_active(&self, request: Request) -> Response {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.handle_active_unbounded(request)).await {
            Ok(response) => response,
            Err(_) => {
                tracing::warn!(timeout = ?REQUEST_TIMEOUT, "a controller request did not finish; is the quorum reachable?");
                Response::NotController { leader: None }
            }
        }
    }

    async fn handle_active_unbounded(&self, request: Request) -> Response {
        let mut active = self.active.lock().await;
        if !self.is_active() {
            return Response::NotController {
                leader: self.controller_id(),
            };
        }
        // Everything committed before this term must be applied before deciding.
        if self.node.raft().ensure_linearizable().await.is_err() {
            return Response::NotController {
                leader: self.controller_id(),
            };
        }
        let term = self.node.status().term;
        if active.term != term {
            active.term = term;
            active.sessions = Sessions::new(self.session_timeout_ms);
        }
        let now = self.now_ms();
        let image = self.image();
        let result = self.decide(&image, &mut active.sessions, now, request).await;
        result.unwrap_or_else(|response| response)
    }

    async fn decide(
        &self,
        image: &Image,
        sessions: &mut Sessions,
        now: u64,
        request: Request,
    ) -> Result<Response, Response> {
        match request {
            Request::Register(registration) => {
                let broker_id = registration.broker_id;
                let observer = registration.observer_addr.clone();
                match controller::register_broker(image, sessions, now, registration) {
                    Err((code, message)) => Ok(Response::Error {
                        code: code.code(),
                        message,
                    }),
                    Ok(records) => {
                        if records.len() > 1 {
                            tracing::warn!(
                                broker = broker_id,
                                "a broker restarted: its leaderships move before it registers again"
                            );
                        }
                        let offset = self.write(records).await?;
                        if let Some(addr) = observer {
                            // A new observer, or one that came back on another address.
                            if let Err(e) = self.node.add_learner(broker_id as u64, addr).await {
                                tracing::warn!(broker = broker_id, error = %e, "cannot add the broker as an observer of the quorum");
                            }
                        }
                        let epoch = self.image().brokers.get(&broker_id).map_or(-1, |b| b.epoch);
                        Ok(Response::Registered {
                            broker_epoch: epoch,
                            offset,
                        })
                    }
                }
            }
            Request::Heartbeat {
                broker_id,
                broker_epoch,
                metadata_offset,
                want_fence,
                want_shutdown,
            } => {
                let hb = controller::Heartbeat {
                    broker_id,
                    broker_epoch,
                    metadata_offset,
                    want_fence,
                    want_shutdown,
                };
                let (records, reply) = controller::heartbeat(image, sessions, now, &hb);
                if !records.is_empty() {
                    tracing::info!(
                        broker = broker_id,
                        fenced = reply.is_fenced,
                        shutdown = reply.should_shutdown,
                        "broker state change"
                    );
                }
                self.write(records).await?;
                Ok(Response::Heartbeat {
                    error: reply.error.code(),
                    is_caught_up: reply.is_caught_up,
                    is_fenced: reply.is_fenced,
                    should_shutdown: reply.should_shutdown,
                })
            }
            Request::CreateTopics { topics, validate_only } => {
                // The brokers check this already; the controller listener takes requests from any peer.
                let total: i64 = topics
                    .iter()
                    .map(|t| {
                        if t.assignments.is_empty() {
                            i64::from(t.partitions)
                        } else {
                            t.assignments.len() as i64
                        }
                    })
                    .sum();
                if total > i64::from(crate::replica_manager::MAX_PARTITIONS_PER_REQUEST)
                    || topics.iter().any(|t| !storage::is_valid_topic_name(&t.name))
                {
                    return Ok(Response::Error {
                        code: ErrorCode::PolicyViolation.code(),
                        message: format!("invalid topic names, or {total} partitions in one request"),
                    });
                }
                let mut scratch = image.clone();
                let decided = topics.into_iter().map(|spec| {
                    let id = crate::topic_id::TopicId::random().0;
                    let topic = controller::NewTopic {
                        name: spec.name,
                        id,
                        partitions: spec.partitions,
                        replication_factor: spec.replication_factor,
                        assignments: spec.assignments,
                        configs: spec.configs,
                    };
                    let created = controller::create_topic(&scratch, &topic, placement_start())?;
                    // Later topics of the same request see this one (names are unique).
                    scratch.apply_batch(scratch.offset, &Batch(created.clone()));
                    Ok((created, Some(id)))
                });
                self.write_results(image, decided, validate_only).await
            }
            Request::CreatePartitions { topics, validate_only } => {
                let added: i64 = topics
                    .iter()
                    .map(|(name, count, _)| {
                        let current = image.topics.get(name).map_or(0, |t| t.partitions.len() as i64);
                        (i64::from(*count) - current).max(0)
                    })
                    .sum();
                if added > i64::from(crate::replica_manager::MAX_PARTITIONS_PER_REQUEST) {
                    return Ok(Response::Error {
                        code: ErrorCode::PolicyViolation.code(),
                        message: format!("{added} partitions in one request"),
                    });
                }
                let decided = topics.into_iter().map(|(name, count, assignments)| {
                    controller::create_partitions(image, &name, count, &assignments, placement_start())
                        .map(|r| (r, None))
                });
                self.write_results(image, decided, validate_only).await
            }
            Request::DeleteTopics { topics } => {
                let mut records = Vec::new();
                let mut results = Vec::with_capacity(topics.len());
                for (name, id) in topics {
                    match image.topics.get(&name) {
                        Some(t) if id.is_none_or(|id| id == t.id) => {
                            records.push(Record::RemoveTopic { topic_id: t.id });
                            results.push(Ok(Some(t.id)));
                        }
                        Some(_) => results.push(Err((ErrorCode::UnknownTopicId.code(), "no topic has this id".into()))),
                        None if id.is_some() => {
                            results.push(Err((ErrorCode::UnknownTopicId.code(), "no topic has this id".into())))
                        }
                        None => results.push(Err((
                            ErrorCode::UnknownTopicOrPartition.code(),
                            "the topic does not exist".into(),
                        ))),
                    }
                }
                let offset = self.write(records).await?;
                Ok(Response::Results { offset, results })
            }
            Request::AlterConfigs { topics, validate_only } => {
                let decided = topics
                    .into_iter()
                    .map(|(name, changes)| controller::alter_configs(image, &name, &changes).map(|r| (r, None)));
                self.write_results(image, decided, validate_only).await
            }
            Request::AllocateProducerIds {
                broker_id,
                broker_epoch,
            } => match controller::allocate_producer_ids(image, broker_id, broker_epoch) {
                Ok((first, record)) => {
                    self.write(vec![record]).await?;
                    Ok(Response::ProducerIds {
                        first,
                        count: metadata::PRODUCER_ID_BLOCK_SIZE,
                    })
                }
                Err((code, message)) => Ok(Response::Error {
                    code: code.code(),
                    message,
                }),
            },
            Request::AlterScram {
                changes,
                only_if_absent,
            } => {
                let mut records = Vec::new();
                let mut results = Vec::with_capacity(changes.len());
                for change in changes {
                    match change {
                        rpc::ScramChange::Delete { name, mechanism } => {
                            if image.scram_credentials.contains_key(&(name.clone(), mechanism)) {
                                records.push(Record::RemoveUserScramCredential { name, mechanism });
                                results.push(Ok(None));
                            } else {
                                results.push(Err((
                                    ErrorCode::ResourceNotFound.code(),
                                    "Attempt to delete a user credential that does not exist".into(),
                                )));
                            }
                        }
                        rpc::ScramChange::Upsert(credential) => {
                            let key = (credential.name.clone(), credential.mechanism);
                            if !(only_if_absent && image.scram_credentials.contains_key(&key)) {
                                records.push(Record::UserScramCredential(credential));
                            }
                            results.push(Ok(None));
                        }
                    }
                }
                let offset = self.write(records).await?;
                Ok(Response::Results { offset, results })
            }
            Request::CreateAcls { acls } => {
                let existing: std::collections::HashSet<_> = image.acls.values().map(acl_key).collect();
                let mut records = Vec::new();
                let mut results = Vec::with_capacity(acls.len());
                let mut added = std::collections::HashSet::new();
                for mut acl in acls {
                    match crate::auth::binding(&acl).validate() {
                        Err(e) => results.push(Err((e.error_code(), e.message()))),
                        Ok(()) => {
                            if !existing.contains(&acl_key(&acl)) && added.insert(acl_key(&acl)) {
                                acl.id = crate::topic_id::TopicId::random().0;
                                records.push(Record::AccessControlEntry(acl));
                            }
                            results.push(Ok(None));
                        }
                    }
                }
                let offset = self.write(records).await?;
                Ok(Response::Results { offset, results })
            }
            Request::DeleteAcls { filters } => {
                let mut records = Vec::new();
                let mut results = Vec::with_capacity(filters.len());
                let mut removed = std::collections::HashSet::new();
                for filter in filters {
                    let filter = filter.to_filter();
                    if let Err(e) = filter.validate() {
                        results.push(Err((e.error_code(), e.message())));
                        continue;
                    }
                    let mut matched = Vec::new();
                    for (id, acl) in &image.acls {
                        if filter.matches(&crate::auth::binding(acl)) {
                            matched.push(acl.clone());
                            if removed.insert(*id) {
                                records.push(Record::RemoveAccessControlEntry { id: *id });
                            }
                        }
                    }
                    results.push(Ok(matched));
                }
                let offset = self.write(records).await?;
                Ok(Response::AclsDeleted { offset, results })
            }
            Request::AlterPartition {
                broker_id,
                broker_epoch,
                partitions,
                v2_plus,
            } => {
                if let Err(code) = controller::check_broker_epoch(image, broker_id, broker_epoch) {
                    return Ok(Response::Error {
                        code: code.code(),
                        message: format!("broker {broker_id} epoch {broker_epoch} is not registered"),
                    });
                }
                let mut records = Vec::new();
                let mut decided = Vec::with_capacity(partitions.len());
                for p in &partitions {
                    let alter = controller::AlterIsr {
                        topic_id: p.topic_id,
                        partition: p.partition,
                        leader_epoch: p.leader_epoch,
                        new_isr: p.new_isr.clone(),
                        partition_epoch: p.partition_epoch,
                    };
                    match controller::alter_partition(image, broker_id, &alter, v2_plus) {
                        Ok(record) => {
                            records.extend(record);
                            decided.push(Ok(()));
                        }
                        Err(code) => decided.push(Err(code.code())),
                    }
                }
                let offset = self.write(records).await?;
                let after = self.image();
                let results = partitions
                    .iter()
                    .zip(decided)
                    .map(|(p, d)| {
                        d.and_then(|()| {
                            let state = after
                                .topic_by_id(&p.topic_id)
                                .and_then(|t| t.partitions.get(p.partition as usize))
                                .ok_or(ErrorCode::UnknownTopicOrPartition.code())?;
                            Ok(PartitionAnswer {
                                leader: state.leader,
                                leader_epoch: state.leader_epoch,
                                isr: state.isr.clone(),
                                partition_epoch: state.partition_epoch,
                            })
                        })
                    })
                    .collect();
                Ok(Response::AlterPartition { offset, results })
            }
            Request::DescribeQuorum => {
                let status = self.node.status();
                let end = |id: &u64| status.matched.get(id).copied().flatten().map_or(-1, |m| m as i64 + 1);
                Ok(Response::Quorum(rpc::QuorumState {
                    leader: self.node_id,
                    term: status.term,
                    log_end_offset: status.last_log_index.map_or(0, |i| i as i64 + 1),
                    high_watermark: status.last_applied.map_or(0, |i| i as i64 + 1),
                    voters: status.voters.iter().map(|id| (*id as i32, end(id))).collect(),
                    observers: status.learners.iter().map(|id| (*id as i32, end(id))).collect(),
                    addresses: self.voters.clone(),
                }))
            }
            Request::Adopt {
                broker_id,
                topics,
                next_producer_id,
            } => {
                // Only a single node adopts its own logs (see `lifecycle`).
                if broker_id != self.node_id || topics.iter().any(|t| !(0..=1_000_000).contains(&t.partitions)) {
                    return Ok(Response::Error {
                        code: ErrorCode::InvalidRequest.code(),
                        message: "only this node's own topics can be adopted".into(),
                    });
                }
                let mut records = Vec::new();
                for t in topics.into_iter().filter(|t| !image.topics.contains_key(&t.name)) {
                    records.push(Record::Topic {
                        name: t.name.clone(),
                        topic_id: t.id,
                    });
                    records.extend(t.configs.iter().map(|(k, v)| Record::Config {
                        topic: t.name.clone(),
                        name: k.clone(),
                        value: Some(v.clone()),
                    }));
                    for p in 0..t.partitions {
                        let epoch = t.epochs.iter().find(|(i, _)| *i == p).map_or(0, |(_, e)| *e);
                        records.push(Record::Partition(metadata::records::PartitionRecord {
                            topic_id: t.id,
                            partition_id: p,
                            replicas: vec![broker_id],
                            isr: vec![broker_id],
                            leader: if image.is_active(broker_id) {
                                broker_id
                            } else {
                                metadata::records::NO_LEADER
                            },
                            leader_epoch: epoch,
                            partition_epoch: 0,
                        }));
                    }
                }
                if next_producer_id > image.next_producer_id {
                    records.push(Record::ProducerIds {
                        broker_id,
                        broker_epoch: image.brokers.get(&broker_id).map_or(-1, |b| b.epoch),
                        next_producer_id,
                    });
                }
                let offset = self.write(records).await?;
                Ok(Response::Results {
                    offset,
                    results: Vec::new(),
                })
            }
        }
    }

    /// Writes the records of every item the rules accepted as one entry (nothing with `validate_only`)
    /// and answers one outcome per item.
    async fn write_results(
        &self,
        image: &Image,
        decided: impl Iterator<Item = Result<(Vec<Record>, Option<metadata::TopicId>), controller::Refusal>>,
        validate_only: bool,
    ) -> Result<Response, Response> {
        let mut records = Vec::new();
        let mut results = Vec::new();
        for d in decided {
            match d {
                Ok((r, id)) => {
                    records.extend(r);
                    results.push(Ok(id));
                }
                Err((code, message)) => results.push(Err((code.code(), message))),
            }
        }
        let offset = if validate_only {
            image.offset
        } else {
            self.write(records).await?
        };
        Ok(Response::Results { offset, results })
    }

    /// The active controller's timer: fences one broker whose session expired per tick.
    pub(crate) async fn tick(&self) {
        if !self.is_active() {
            return;
        }
        if tokio::time::timeout(REQUEST_TIMEOUT, self.fence_one()).await.is_err() {
            tracing::warn!("the fencing tick did not finish; is the quorum reachable?");
        }
    }

    async fn fence_one(&self) {
        let mut active = self.active.lock().await;
        let term = self.node.status().term;
        if active.term != term {
            active.term = term;
            active.sessions = Sessions::new(self.session_timeout_ms);
        }
        let image = self.image();
        let now = self.now_ms();
        if let Some((broker, records)) = controller::fence_stale_broker(&image, &mut active.sessions, now) {
            tracing::warn!(
                broker,
                session_timeout_ms = self.session_timeout_ms,
                "fencing a broker whose session expired"
            );
            if let Err(e) = self.write(records).await {
                tracing::warn!(broker, answer = ?e, "cannot fence the broker");
            }
        }
    }

    /// Leaves the quorum (the metadata log stays consistent on disk).
    pub(crate) async fn shutdown(&self) {
        if let Err(e) = self.node.shutdown().await {
            tracing::warn!(error = %e, "the quorum did not shut down cleanly");
        }
    }
}

/// Where placement starts: random, as Kafka's placer's starting rack and broker are.
fn placement_start() -> usize {
    uuid::Uuid::new_v4().as_u128() as usize
}

/// The controller listener's shared secret. With SASL users it is derived from the inter-broker user's
/// credentials, which every node of the cluster has, with PBKDF2 (as costly to guess from as a stored
/// SCRAM credential: the handshake shows an HMAC under it to whoever connects). A single node with the
/// authorizer and no users draws a random one: nobody else needs to know it. Otherwise there is none.
fn controller_secret(config: &Config) -> Option<quorum::Secret> {
    use ring::rand::SecureRandom;
    if let Some((user, password)) = config.inter_broker_credentials() {
        let mut secret = vec![0u8; 32];
        let iterations = std::num::NonZeroU32::new(CONTROLLER_SECRET_ITERATIONS).expect("not zero");
        ring::pbkdf2::derive(
            ring::pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            format!("kzero controller listener\0{user}").as_bytes(),
            password.as_bytes(),
            &mut secret,
        );
        return Some(quorum::Secret::new(secret));
    }
    if config.authorizer.enabled {
        let mut secret = vec![0u8; 32];
        if ring::rand::SystemRandom::new().fill(&mut secret).is_ok() {
            return Some(quorum::Secret::new(secret));
        }
        tracing::error!("the system random generator failed: the controller listener is not authenticated");
    }
    None
}

/// PBKDF2 rounds of the controller listener's secret.
const CONTROLLER_SECRET_ITERATIONS: u32 = 100_000;

/// What makes two ACLs the same binding (their ids aside).
fn acl_key(a: &metadata::records::AclEntry) -> (i8, String, i8, String, String, i8, i8) {
    (
        a.resource_type,
        a.resource_name.clone(),
        a.pattern_type,
        a.principal.clone(),
        a.host.clone(),
        a.operation,
        a.permission_type,
    )
}
