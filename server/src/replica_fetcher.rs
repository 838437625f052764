//! Replica fetchers (Kafka's `ReplicaFetcherManager` and `ReplicaFetcherThread`): this broker's follower
//! partitions pull from their leaders.
//!
//! One task and one connection per leader broker carries every partition this broker follows from it.
//! Each round is one Fetch (v12: the follower's id in `ReplicaId`, each partition's log end offset, leader
//! epoch and `LastFetchedEpoch`) to the leader's PLAINTEXT listener (its SASL_PLAINTEXT listener,
//! authenticated with SCRAM-SHA-512 as `[sasl] inter_broker_user`, when there is a `[sasl]` section), which the leader answers through the
//! same zero-copy path as a consumer; the follower appends the returned batches unchanged, so its
//! segment files are byte-identical to the leader's. What to fetch and what an answer means are the
//! follower rules of the `replication` crate, behind [`Partition::fetch_position`] and
//! [`Partition::follower_fetched_from_leader`]; this module only moves bytes.
//!
//! A partition whose leader answers an error (not the leader yet, an old or new epoch) rests for
//! [`ERROR_BACKOFF`] (Kafka's `replica.fetch.backoff.ms`) while the others go on; a fetch offset out of the
//! leader's range asks the leader's log start and end with ListOffsets and cuts the local log to fit.
//! The set of partitions per leader follows every metadata image ([`FetcherManager::update`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use protocol::{
    ErrorCode, FetchPartition, FetchRequest, FetchTopic, ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic,
    Records, Request, RequestBody, RequestHeader, Response, ResponseBody,
};
use replication::FetchPosition;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use crate::cluster::Cluster;
use crate::partition::{Fetched, Partition};

/// The Fetch version followers send: the last one that names topics (ids come at v13), with
/// `LastFetchedEpoch` and `DivergingEpoch` (v12+).
const FETCH_VERSION: i16 = 12;
/// ListOffsets with the leader epoch check (v4+).
const LIST_OFFSETS_VERSION: i16 = 4;
/// `replica.fetch.wait.max.ms` (Kafka's default).
const MAX_WAIT_MS: i32 = 500;
/// `replica.fetch.max.bytes` (Kafka's default).
const PARTITION_MAX_BYTES: i32 = 1024 * 1024;
/// `replica.fetch.response.max.bytes` (Kafka's default).
const RESPONSE_MAX_BYTES: i32 = 10 * 1024 * 1024;
/// How long a partition rests after its leader answered an error (`replica.fetch.backoff.ms` is 1 s in
/// Kafka; the new metadata that ends such an error usually arrives within milliseconds here).
const ERROR_BACKOFF: Duration = Duration::from_millis(100);
/// How long the task waits before reconnecting to a leader it cannot reach.
const CONNECT_BACKOFF: Duration = Duration::from_millis(200);
/// A response frame larger than this closes the connection (a response holds at most
/// `RESPONSE_MAX_BYTES` plus one oversized batch).
const MAX_FRAME: usize = 256 * 1024 * 1024;
/// How long a request may go unanswered beyond the leader's wait (`replica.socket.timeout.ms` is 30 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The follower partitions of one leader, and the task fetching them.
#[derive(Debug)]
struct Fetcher {
    partitions: Arc<Mutex<Vec<Arc<Partition>>>>,
    changed: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

/// One fetcher task per leader broker this broker follows partitions from.
pub(crate) struct FetcherManager {
    local_id: i32,
    /// The inter-broker user and password: with them, followers fetch from the leaders' SASL_PLAINTEXT
    /// listener, authenticated with SCRAM-SHA-512.
    credentials: Option<Arc<(String, String)>>,
    cluster: Arc<Cluster>,
    fetchers: Mutex<HashMap<i32, Fetcher>>,
    stop: watch::Receiver<bool>,
}

impl std::fmt::Debug for FetcherManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetcherManager")
            .field("local_id", &self.local_id)
            .field("inter_broker_user", &self.credentials.as_ref().map(|c| &c.0))
            .finish_non_exhaustive()
    }
}

impl FetcherManager {
    pub(crate) fn new(
        local_id: i32,
        credentials: Option<(String, String)>,
        cluster: Arc<Cluster>,
        stop: watch::Receiver<bool>,
    ) -> FetcherManager {
        FetcherManager {
            local_id,
            credentials: credentials.map(Arc::new),
            cluster,
            fetchers: Mutex::new(HashMap::new()),
            stop,
        }
    }

    /// Gives each leader's fetcher the partitions this broker now follows from it: starts fetchers for new
    /// leaders and stops those with nothing left to fetch (Kafka's `addFetcherForPartitions` and
    /// `removeFetcherForPartitions`, applied as a whole after each metadata image).
    pub(crate) fn update(&self, partitions: impl IntoIterator<Item = Arc<Partition>>) {
        let mut by_leader: BTreeMap<i32, Vec<Arc<Partition>>> = BTreeMap::new();
        for p in partitions {
            if let Some(leader) = p.followed_leader().filter(|l| *l != self.local_id) {
                by_leader.entry(leader).or_default().push(p);
            }
        }
        let mut fetchers = self.fetchers.lock().unwrap_or_else(|p| p.into_inner());
        fetchers.retain(|leader, f| {
            let keep = by_leader.contains_key(leader) && !f.task.is_finished();
            if !keep {
                f.task.abort();
            }
            keep
        });
        for (leader, list) in by_leader {
            match fetchers.get(&leader) {
                Some(f) => {
                    let mut current = f.partitions.lock().unwrap_or_else(|p| p.into_inner());
                    let same = current.len() == list.len() && current.iter().zip(&list).all(|(a, b)| Arc::ptr_eq(a, b));
                    if !same {
                        *current = list;
                        f.changed.notify_one();
                    }
                }
                None => {
                    tracing::info!(leader, partitions = list.len(), "starting a replica fetcher");
                    let partitions = Arc::new(Mutex::new(list));
                    let changed = Arc::new(Notify::new());
                    let task = tokio::spawn(run(
                        self.local_id,
                        self.credentials.clone(),
                        leader,
                        Arc::clone(&self.cluster),
                        Arc::clone(&partitions),
                        Arc::clone(&changed),
                        self.stop.clone(),
                    ));
                    fetchers.insert(
                        leader,
                        Fetcher {
                            partitions,
                            changed,
                            task,
                        },
                    );
                }
            }
        }
    }

    /// Stops every fetcher.
    pub(crate) fn shutdown(&self) {
        for (_, f) in self.fetchers.lock().unwrap_or_else(|p| p.into_inner()).drain() {
            f.task.abort();
        }
    }
}

/// A connection to a leader.
struct Conn {
    addr: String,
    stream: TcpStream,
    next_id: i32,
    out: BytesMut,
    /// Response frames are read into this (reused once the previous frame's records are dropped).
    inbuf: BytesMut,
    /// When to re-authenticate (KIP-368): a little before the leader ends the SASL session.
    reauthenticate_at: Option<Instant>,
}

impl Conn {
    async fn connect(addr: &str, local_id: i32, credentials: Option<&(String, String)>) -> Result<Conn, String> {
        let stream = tokio::time::timeout(Duration::from_secs(3), TcpStream::connect(addr))
            .await
            .map_err(|_| "connection timed out".to_string())?
            .map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        let mut conn = Conn {
            addr: addr.to_string(),
            stream,
            next_id: 1,
            out: BytesMut::new(),
            inbuf: BytesMut::new(),
            reauthenticate_at: None,
        };
        if let Some((user, password)) = credentials {
            conn.authenticate(local_id, user, password).await?;
        }
        Ok(conn)
    }

    /// SCRAM-SHA-512 on a SASL listener: SaslHandshake v1, then the two SaslAuthenticate rounds, checking
    /// the leader's server signature.
    async fn authenticate(&mut self, local_id: i32, user: &str, password: &str) -> Result<(), String> {
        use security::scram::{ClientExchange, Mechanism};
        let mechanism = Mechanism::Sha512;
        let handshake = protocol::SaslHandshakeRequest {
            mechanism: mechanism.name().into(),
            ..Default::default()
        };
        match self.call(local_id, 1, handshake.into(), Duration::ZERO).await? {
            ResponseBody::SaslHandshake(r) if r.error_code == 0 => {}
            ResponseBody::SaslHandshake(r) => return Err(format!("SaslHandshake: {}", code_name(r.error_code))),
            _ => return Err("an unexpected answer to SaslHandshake".into()),
        }
        let nonce = security::scram::client_nonce(&crate::auth::random_salt());
        let mut exchange = ClientExchange::new(mechanism, user, password, &nonce);
        let mut token = exchange.client_first();
        let mut lifetime_ms = 0;
        for round in 0..2 {
            let request = protocol::SaslAuthenticateRequest {
                auth_bytes: std::mem::take(&mut token).into(),
                ..Default::default()
            };
            let answer = match self.call(local_id, 2, request.into(), Duration::ZERO).await? {
                ResponseBody::SaslAuthenticate(r) if r.error_code == 0 => {
                    lifetime_ms = r.session_lifetime_ms;
                    r.auth_bytes
                }
                ResponseBody::SaslAuthenticate(r) => {
                    return Err(format!(
                        "authentication as {user:?} failed: {}",
                        r.error_message.unwrap_or_else(|| code_name(r.error_code))
                    ))
                }
                _ => return Err("an unexpected answer to SaslAuthenticate".into()),
            };
            if round == 0 {
                // PBKDF2 (4096 to 16384 rounds): a blocking thread's work.
                let (e, next) = tokio::task::spawn_blocking(move || {
                    let next = exchange.server_first(&answer);
                    (exchange, next)
                })
                .await
                .map_err(|e| e.to_string())?;
                exchange = e;
                token = next.map_err(|e| e.to_string())?;
            } else {
                exchange.server_final(&answer).map_err(|e| e.to_string())?;
            }
        }
        // Re-authenticate before the session ends, leaving room for a fetch's wait.
        self.reauthenticate_at = u64::try_from(lifetime_ms).ok().filter(|ms| *ms > 0).map(|ms| {
            let margin = (ms / 5).max(1000);
            Instant::now() + Duration::from_millis(ms.saturating_sub(margin))
        });
        Ok(())
    }

    /// Sends one request and reads its response.
    async fn call(
        &mut self,
        local_id: i32,
        version: i16,
        body: RequestBody,
        wait: Duration,
    ) -> Result<ResponseBody, String> {
        let api = body.api_key();
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let mut header = RequestHeader::new(api, version, id);
        header.client_id = Some(format!("kzero-replica-fetcher-{local_id}"));
        self.out.clear();
        Request { header, body }
            .encode(&mut self.out)
            .map_err(|e| format!("cannot encode {}: {e}", api.name()))?;
        let exchange = async {
            self.stream.write_all(&self.out).await.map_err(|e| e.to_string())?;
            let mut len = [0u8; 4];
            self.stream.read_exact(&mut len).await.map_err(|e| e.to_string())?;
            let len = usize::try_from(i32::from_be_bytes(len)).map_err(|_| "a negative frame size".to_string())?;
            if len > MAX_FRAME {
                return Err(format!("a {len}-byte response frame"));
            }
            // No zero-filling: the frame is read straight into spare capacity.
            self.inbuf.clear();
            self.inbuf.reserve(len);
            while self.inbuf.len() < len {
                let want = len - self.inbuf.len();
                let n = (&mut self.stream)
                    .take(want as u64)
                    .read_buf(&mut self.inbuf)
                    .await
                    .map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("the leader closed the connection".to_string());
                }
            }
            Ok::<_, String>(self.inbuf.split().freeze())
        };
        let frame = tokio::time::timeout(wait + REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| format!("no answer to {} in time", api.name()))??;
        let response =
            Response::decode(api, version, frame).map_err(|e| format!("a bad {} response: {e}", api.name()))?;
        if response.header.correlation_id != id {
            return Err(format!(
                "correlation id {} where {id} was expected",
                response.header.correlation_id
            ));
        }
        Ok(response.body)
    }
}

/// The leader's PLAINTEXT endpoint from the metadata, or its SASL_PLAINTEXT one when followers
/// authenticate.
fn leader_addr(cluster: &Cluster, leader: i32, sasl: bool) -> Option<String> {
    let image = cluster.image();
    let broker = image.brokers.get(&leader)?;
    let protocol = if sasl {
        crate::auth::SecurityProtocol::SaslPlaintext
    } else {
        crate::auth::SecurityProtocol::Plaintext
    };
    let endpoint = broker.endpoints.iter().find(|e| e.security_protocol == protocol.id())?;
    Some(format!("{}:{}", endpoint.host, endpoint.port))
}

/// A partition's identity inside one fetcher.
fn key(p: &Partition) -> (Arc<str>, i32) {
    (Arc::clone(&p.topic), p.index)
}

/// What one response asks of the task after the log work.
#[derive(Default)]
struct Outcome {
    /// Partitions to rest.
    failed: Vec<(Arc<str>, i32)>,
    /// Partitions whose fetch offset is out of the leader's range.
    out_of_range: Vec<Arc<Partition>>,
}

async fn run(
    local_id: i32,
    credentials: Option<Arc<(String, String)>>,
    leader: i32,
    cluster: Arc<Cluster>,
    partitions: Arc<Mutex<Vec<Arc<Partition>>>>,
    changed: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let mut conn: Option<Conn> = None;
    let mut resting: HashMap<(Arc<str>, i32), Instant> = HashMap::new();
    let mut last_error: Option<String> = None;
    loop {
        if *stop.borrow() {
            return;
        }
        let now = Instant::now();
        resting.retain(|_, until| *until > now);
        let list: Vec<Arc<Partition>> = partitions.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let positions: Vec<(Arc<Partition>, FetchPosition)> = list
            .iter()
            .filter(|p| !resting.contains_key(&key(p)))
            .filter_map(|p| p.fetch_position(leader).map(|pos| (Arc::clone(p), pos)))
            .collect();
        let addr = leader_addr(&cluster, leader, credentials.is_some());
        let (Some(addr), false) = (addr, positions.is_empty()) else {
            tokio::select! {
                () = changed.notified() => {}
                () = tokio::time::sleep(ERROR_BACKOFF) => {}
                _ = stop.changed() => return,
            }
            continue;
        };
        if conn.as_ref().is_none_or(|c| c.addr != addr) {
            match Conn::connect(&addr, local_id, credentials.as_deref()).await {
                Ok(c) => {
                    if last_error.take().is_some() {
                        tracing::info!(leader, %addr, "replica fetcher connected");
                    }
                    conn = Some(c);
                }
                Err(e) => {
                    if last_error.as_deref() != Some(e.as_str()) {
                        tracing::warn!(leader, %addr, error = %e, "replica fetcher cannot connect to the leader");
                        last_error = Some(e);
                    }
                    tokio::select! {
                        () = tokio::time::sleep(CONNECT_BACKOFF) => {}
                        _ = stop.changed() => return,
                    }
                    continue;
                }
            }
        }
        let c = conn.as_mut().expect("connected above");
        if let (Some(at), Some((user, password))) = (c.reauthenticate_at, credentials.as_deref()) {
            if Instant::now() >= at {
                if let Err(e) = c.authenticate(local_id, user, password).await {
                    tracing::warn!(leader, error = %e, "replica fetcher re-authentication failed; reconnecting");
                    conn = None;
                    continue;
                }
            }
        }
        let request = fetch_request(local_id, &positions);
        let answer = tokio::select! {
            answer = c.call(local_id, FETCH_VERSION, request.into(), Duration::from_millis(MAX_WAIT_MS as u64)) => answer,
            _ = stop.changed() => return,
        };
        let response = match answer {
            Ok(ResponseBody::Fetch(r)) => r,
            Ok(other) => {
                tracing::warn!(leader, api = ?other.api_key(), "replica fetcher got an unexpected answer");
                conn = None;
                continue;
            }
            Err(e) => {
                tracing::warn!(leader, error = %e, "replica fetch failed; reconnecting");
                last_error = Some(e);
                conn = None;
                tokio::select! {
                    () = tokio::time::sleep(CONNECT_BACKOFF) => {}
                    _ = stop.changed() => return,
                }
                continue;
            }
        };
        if response.error_code != 0 {
            tracing::warn!(leader, error = %code_name(response.error_code), "the leader refused the replica fetch");
            for (p, _) in &positions {
                resting.insert(key(p), Instant::now() + ERROR_BACKOFF);
            }
            continue;
        }
        // The answers, matched to what was asked: a leader answers the partitions in request order (and may
        // leave some out); anything else ends the connection.
        let mut asked = positions.into_iter();
        let mut work: Vec<(Arc<Partition>, FetchPosition, protocol::PartitionData)> = Vec::new();
        let mut unexpected = false;
        'answers: for t in response.responses {
            for data in t.partitions {
                loop {
                    let Some((p, pos)) = asked.next() else {
                        unexpected = true;
                        break 'answers;
                    };
                    if *p.topic == t.topic && p.index == data.partition_index {
                        work.push((p, pos, data));
                        break;
                    }
                }
            }
        }
        if unexpected {
            tracing::warn!(
                leader,
                "the leader answered partitions it was not asked for; reconnecting"
            );
            conn = None;
        }
        // Appends to the page cache run here, as the leader's appends do; a truncation, or a log whose
        // flush policy may sync, goes to a blocking thread.
        let may_block = work.iter().any(|(p, _, data)| {
            data.error_code != 0
                || data.diverging_epoch.epoch >= 0
                || data.diverging_epoch.end_offset >= 0
                || p.flush_may_sync()
        });
        let outcome = if may_block {
            match tokio::task::spawn_blocking(move || process(leader, work)).await {
                Ok(o) => o,
                Err(e) => {
                    tracing::error!(leader, error = %e, "replica fetch processing failed");
                    Outcome::default()
                }
            }
        } else {
            process(leader, work)
        };
        for k in outcome.failed {
            resting.insert(k, Instant::now() + ERROR_BACKOFF);
        }
        if !outcome.out_of_range.is_empty() {
            // Each waits a little before its next fetch (as after any refusal), whatever the repair did.
            for p in &outcome.out_of_range {
                resting.insert(key(p), Instant::now() + ERROR_BACKOFF);
            }
            let c = conn.as_mut().expect("connected above");
            if let Err(e) = out_of_range(local_id, leader, c, outcome.out_of_range).await {
                tracing::warn!(leader, error = %e, "cannot learn the leader's offsets");
                conn = None;
            }
        }
    }
}

fn code_name(code: i16) -> String {
    ErrorCode::from_code(code).map_or_else(|| format!("error {code}"), |c| c.name().to_string())
}

fn fetch_request(local_id: i32, positions: &[(Arc<Partition>, FetchPosition)]) -> FetchRequest {
    let mut topics: Vec<FetchTopic> = Vec::new();
    for (p, pos) in positions {
        let partition = FetchPartition {
            partition: p.index,
            current_leader_epoch: pos.current_leader_epoch,
            fetch_offset: pos.fetch_offset,
            last_fetched_epoch: pos.last_fetched_epoch.unwrap_or(-1),
            log_start_offset: pos.log_start_offset,
            partition_max_bytes: PARTITION_MAX_BYTES,
            ..FetchPartition::default()
        };
        match topics.last_mut() {
            Some(t) if t.topic == *p.topic => t.partitions.push(partition),
            _ => topics.push(FetchTopic {
                topic: p.topic.to_string(),
                partitions: vec![partition],
                ..FetchTopic::default()
            }),
        }
    }
    FetchRequest {
        replica_id: local_id,
        max_wait_ms: MAX_WAIT_MS,
        min_bytes: 1,
        max_bytes: RESPONSE_MAX_BYTES,
        isolation_level: 0,
        session_id: 0,
        session_epoch: -1,
        topics,
        ..FetchRequest::default()
    }
}

/// The log work of one response (blocking): each partition's answer goes to its follower rules.
fn process(leader: i32, work: Vec<(Arc<Partition>, FetchPosition, protocol::PartitionData)>) -> Outcome {
    let mut outcome = Outcome::default();
    for (p, pos, data) in work {
        let code = ErrorCode::from_code(data.error_code).unwrap_or(ErrorCode::UnknownServerError);
        let answer = match code {
            ErrorCode::None => {
                let d = &data.diverging_epoch;
                if d.epoch >= 0 || d.end_offset >= 0 {
                    Fetched::Diverging {
                        epoch: d.epoch,
                        end_offset: d.end_offset,
                    }
                } else {
                    Fetched::Records {
                        records: match data.records {
                            Some(Records::Inline(bytes)) => bytes,
                            _ => Bytes::new(),
                        },
                        high_watermark: data.high_watermark,
                        log_start_offset: data.log_start_offset,
                    }
                }
            }
            ErrorCode::OffsetOutOfRange => {
                outcome.out_of_range.push(p);
                continue;
            }
            other => {
                tracing::debug!(topic = %p.topic, partition = p.index, leader, error = %other, "the leader refused a partition of the replica fetch");
                outcome.failed.push(key(&p));
                continue;
            }
        };
        if let Err(e) = p.follower_fetched_from_leader(&pos, answer) {
            tracing::error!(topic = %p.topic, partition = p.index, leader, error = %e, "cannot apply the leader's records");
            outcome.failed.push(key(&p));
        }
    }
    outcome
}

/// Asks the leader for the log start and end of each partition (ListOffsets as a replica) and cuts the
/// local logs to fit.
async fn out_of_range(
    local_id: i32,
    leader: i32,
    conn: &mut Conn,
    partitions: Vec<Arc<Partition>>,
) -> Result<(), String> {
    let request = |timestamp: i64| {
        let mut topics: Vec<ListOffsetsTopic> = Vec::new();
        for p in &partitions {
            let partition = ListOffsetsPartition {
                partition_index: p.index,
                current_leader_epoch: p.leader_epoch(),
                timestamp,
                ..ListOffsetsPartition::default()
            };
            match topics.last_mut() {
                Some(t) if t.name == *p.topic => t.partitions.push(partition),
                _ => topics.push(ListOffsetsTopic {
                    name: p.topic.to_string(),
                    partitions: vec![partition],
                    ..ListOffsetsTopic::default()
                }),
            }
        }
        ListOffsetsRequest {
            replica_id: local_id,
            topics,
            ..ListOffsetsRequest::default()
        }
    };
    let mut offsets: HashMap<(String, i32), (i64, i64)> = HashMap::new();
    for (i, timestamp) in [-2i64, -1].into_iter().enumerate() {
        let body = conn
            .call(
                local_id,
                LIST_OFFSETS_VERSION,
                request(timestamp).into(),
                Duration::ZERO,
            )
            .await?;
        let ResponseBody::ListOffsets(r) = body else {
            return Err(format!("an unexpected {:?} answer", body.api_key()));
        };
        for t in r.topics {
            for p in t.partitions {
                if p.error_code == 0 {
                    let entry = offsets.entry((t.name.clone(), p.partition_index)).or_insert((-1, -1));
                    if i == 0 {
                        entry.0 = p.offset;
                    } else {
                        entry.1 = p.offset;
                    }
                }
            }
        }
    }
    let work: Vec<(Arc<Partition>, i64, i64)> = partitions
        .into_iter()
        .filter_map(|p| {
            let (start, end) = *offsets.get(&(p.topic.to_string(), p.index))?;
            (start >= 0 && end >= start).then_some((p, start, end))
        })
        .collect();
    let _ = tokio::task::spawn_blocking(move || {
        for (p, start, end) in work {
            if let Err(e) = p.follower_out_of_range(start, end) {
                tracing::error!(topic = %p.topic, partition = p.index, leader, error = %e, "cannot cut the log to the leader's range");
            }
        }
    })
    .await;
    Ok(())
}
