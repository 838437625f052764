//! The coordinator's task: it owns the sans-IO state, takes requests through a channel, fires timers,
//! persists records to `__consumer_offsets` and answers parked requests.
//!
//! It coordinates the groups of the `__consumer_offsets` partitions this broker leads, and follows their
//! leadership as Kafka's `onElection`/`onResignation` do. When told that leadership may have moved
//! ([`GroupCoordinator::leadership_changed`]), and before serving a group whose partition's leadership
//! differs from what it has loaded, it compares the partitions led here with those it coordinates:
//! - a partition newly led here is replayed from its log on a blocking thread, while the task keeps
//!   serving the other partitions; its groups get COORDINATOR_LOAD_IN_PROGRESS until the replay is
//!   applied (heartbeats are answered blindly, as Kafka does);
//! - a partition led elsewhere now is unloaded: its groups, their committed offsets and timers are
//!   forgotten, and their parked JoinGroup and SyncGroup requests are answered NOT_COORDINATOR, as every
//!   later request for them is.
//!
//! Start-up is the first such comparison, so a broker that leads nothing at first loads when it becomes
//! a leader. Only partitions led and loaded here are written, cleaned or expired.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use protocol::record::{BatchBuilder, Batches, Compression, Record as WireRecord};
use protocol::{ErrorCode, Records};
use tokio::sync::{mpsc, oneshot, watch};

use super::classic::{
    GroupConfig, GroupDescription, JoinRequest, JoinResult, Ms, Output, SyncRequest, SyncResult, Ticket,
};
use super::consumer::{self, HeartbeatRequest, HeartbeatResponse, Topics};
use super::offsets::{CommitRequest, CommittedOffset, Coordinator, Record};
use super::{partition_for, records};
use crate::config::GroupSection;
use crate::metrics::GroupView;
use crate::partition::{Partition, ReadBound};
use crate::replica_manager::{ProduceEntry, ReplicaManager, TopicMap};
use crate::topic_config::TopicConfig;

/// The internal topic holding groups and committed offsets.
pub(crate) const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// Dead records a `__consumer_offsets` partition may hold beyond twice its live ones before it is cleaned.
const CLEAN_MIN_DEAD: i64 = 10_000;

/// How long a write to `__consumer_offsets` may take (`offsets.commit.timeout.ms`).
const COMMIT_TIMEOUT: Duration = Duration::from_millis(5000);

fn now_ms() -> Ms {
    crate::broker::storage_now_ms()
}

/// One partition's committed offset in an OffsetFetch answer (`None`: nothing committed).
pub(crate) type FetchedOffset = (String, i32, Option<CommittedOffset>);

enum Command {
    Join(JoinRequest, oneshot::Sender<JoinResult>),
    Sync(SyncRequest, oneshot::Sender<SyncResult>),
    Heartbeat {
        group: String,
        generation: i32,
        member: String,
        instance: Option<String>,
        reply: oneshot::Sender<ErrorCode>,
    },
    Leave {
        group: String,
        members: Vec<(String, Option<String>)>,
        reply: oneshot::Sender<(ErrorCode, Vec<ErrorCode>)>,
    },
    Commit(CommitRequest, oneshot::Sender<Vec<ErrorCode>>),
    Fetch {
        group: String,
        /// `None`: every committed partition.
        partitions: Option<Vec<(String, Vec<i32>)>>,
        /// A KIP-848 member's (member id, member epoch), checked against its group (OffsetFetch v9+).
        member: Option<(Option<String>, i32)>,
        reply: oneshot::Sender<Result<Vec<FetchedOffset>, ErrorCode>>,
    },
    List {
        states: Vec<String>,
        reply: oneshot::Sender<Vec<ListedGroup>>,
    },
    ConsumerHeartbeat(HeartbeatRequest, oneshot::Sender<HeartbeatResponse>),
    ConsumerDescribe {
        groups: Vec<String>,
        reply: oneshot::Sender<Vec<consumer::DescribedGroup>>,
    },
    Describe {
        groups: Vec<String>,
        not_found_is_error: bool,
        reply: oneshot::Sender<Vec<GroupDescription>>,
    },
    DeleteGroups {
        groups: Vec<String>,
        reply: oneshot::Sender<Vec<ErrorCode>>,
    },
    DeleteOffsets {
        group: String,
        partitions: Vec<(String, i32)>,
        reply: oneshot::Sender<(ErrorCode, Vec<ErrorCode>)>,
    },
    TopicDeleted {
        topic: String,
        reply: oneshot::Sender<()>,
    },
    /// Leadership of `__consumer_offsets` partitions may have moved.
    LeadershipChanged,
}

/// A group as ListGroups lists it: id, protocol type, state, and type (`classic` or `consumer`).
pub(crate) type ListedGroup = (String, String, &'static str, &'static str);

/// Creates a topic (partitions, configs) through the active controller and waits until this broker
/// has applied it.
pub(crate) type CreateTopic = Arc<
    dyn Fn(
            i32,
            Vec<(String, String)>,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), (ErrorCode, String)>> + Send>>
        + Send
        + Sync,
>;

/// The handle the request handlers use.
#[derive(Debug)]
pub(crate) struct GroupCoordinator {
    tx: mpsc::UnboundedSender<Command>,
    /// Set once the task took its first look at the partitions this broker leads.
    started: Arc<AtomicBool>,
    /// A leadership check is queued and the task has not begun it: more notifications add nothing.
    leadership_queued: Arc<AtomicBool>,
}

impl Command {
    /// Whether the command can change what the metrics show.
    fn changes_state(&self) -> bool {
        !matches!(
            self,
            Command::Heartbeat { .. }
                | Command::Fetch { .. }
                | Command::List { .. }
                | Command::Describe { .. }
                | Command::ConsumerDescribe { .. }
        )
    }
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("group command")
    }
}

impl GroupCoordinator {
    /// Starts the coordinator's task; it starts loading the `__consumer_offsets` partitions this broker
    /// leads at once.
    pub(crate) fn start(
        replicas: Arc<ReplicaManager>,
        create_topic: CreateTopic,
        config: &GroupSection,
        view: Arc<ArcSwap<GroupView>>,
        stop: watch::Receiver<bool>,
    ) -> (GroupCoordinator, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (loads, loads_rx) = mpsc::unbounded_channel();
        let started = Arc::new(AtomicBool::new(false));
        let leadership_queued = Arc::new(AtomicBool::new(false));
        // An existing topic keeps its partition count; the setting applies when it is created.
        let partitions = replicas
            .topic(OFFSETS_TOPIC)
            .map_or(config.offsets_topic_partitions, |t| t.partitions.len() as i32);
        let actor = Actor {
            c: Coordinator::with_consumer(
                GroupConfig {
                    initial_rebalance_delay_ms: config.initial_rebalance_delay_ms,
                    min_session_timeout_ms: config.min_session_timeout_ms,
                    max_session_timeout_ms: config.max_session_timeout_ms,
                    ..GroupConfig::default()
                },
                config.consumer(),
                rand_seed(),
            ),
            topics: None,
            replicas,
            create_topic,
            partitions,
            joins: HashMap::new(),
            syncs: HashMap::new(),
            next_ticket: 0,
            started: Arc::clone(&started),
            leadership_queued: Arc::clone(&leadership_queued),
            leading: BTreeMap::new(),
            load_generation: 0,
            loads,
            retention_ms: config.offsets_retention_minutes.saturating_mul(60_000),
            retention_check: Duration::from_millis(config.offsets_retention_check_interval_ms),
            view,
        };
        let task = tokio::spawn(actor.run(rx, loads_rx, stop));
        (
            GroupCoordinator {
                tx,
                started,
                leadership_queued,
            },
            task,
        )
    }

    /// True once the task runs (until then: COORDINATOR_LOAD_IN_PROGRESS). The task itself answers
    /// COORDINATOR_LOAD_IN_PROGRESS for a group whose `__consumer_offsets` partition it is still loading,
    /// and NOT_COORDINATOR for one whose partition this broker does not lead.
    pub(crate) fn is_loaded(&self) -> bool {
        self.started.load(Ordering::Acquire)
    }

    /// Tells the coordinator that leadership of `__consumer_offsets` partitions may have moved: to call
    /// after every metadata image applied to the local partitions, and whenever this broker is fenced or
    /// unfenced. Cheap and never blocks: a notification the task has not taken yet absorbs later ones.
    /// The task then loads the partitions newly led here and unloads those led elsewhere.
    pub(crate) fn leadership_changed(&self) {
        if !self.leadership_queued.swap(true, Ordering::AcqRel) {
            // Fails only once the task has stopped, when there is nothing left to tell.
            let _ = self.tx.send(Command::LeadershipChanged);
        }
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).ok()?;
        rx.await.ok()
    }

    pub(crate) async fn join(&self, req: JoinRequest) -> JoinResult {
        let member = req.member_id.clone();
        self.ask(|r| Command::Join(req, r))
            .await
            .unwrap_or_else(|| JoinResult::error(ErrorCode::CoordinatorNotAvailable, &member))
    }

    pub(crate) async fn sync(&self, req: SyncRequest) -> SyncResult {
        self.ask(|r| Command::Sync(req, r)).await.unwrap_or(SyncResult {
            error: ErrorCode::CoordinatorNotAvailable,
            protocol_type: None,
            protocol_name: None,
            assignment: Bytes::new(),
        })
    }

    pub(crate) async fn heartbeat(
        &self,
        group: String,
        generation: i32,
        member: String,
        instance: Option<String>,
    ) -> ErrorCode {
        self.ask(|reply| Command::Heartbeat {
            group,
            generation,
            member,
            instance,
            reply,
        })
        .await
        .unwrap_or(ErrorCode::CoordinatorNotAvailable)
    }

    pub(crate) async fn leave(
        &self,
        group: String,
        members: Vec<(String, Option<String>)>,
    ) -> (ErrorCode, Vec<ErrorCode>) {
        let n = members.len();
        self.ask(|reply| Command::Leave { group, members, reply })
            .await
            .unwrap_or((
                ErrorCode::CoordinatorNotAvailable,
                vec![ErrorCode::CoordinatorNotAvailable; n],
            ))
    }

    pub(crate) async fn commit(&self, req: CommitRequest) -> Vec<ErrorCode> {
        let n = req.partitions.len();
        self.ask(|r| Command::Commit(req, r))
            .await
            .unwrap_or_else(|| vec![ErrorCode::CoordinatorNotAvailable; n])
    }

    pub(crate) async fn fetch(
        &self,
        group: String,
        partitions: Option<Vec<(String, Vec<i32>)>>,
        member: Option<(Option<String>, i32)>,
    ) -> Result<Vec<FetchedOffset>, ErrorCode> {
        self.ask(|reply| Command::Fetch {
            group,
            partitions,
            member,
            reply,
        })
        .await
        .unwrap_or(Err(ErrorCode::CoordinatorNotAvailable))
    }

    pub(crate) async fn list(&self, states: Vec<String>) -> Option<Vec<ListedGroup>> {
        self.ask(|reply| Command::List { states, reply }).await
    }

    /// ConsumerGroupHeartbeat (KIP-848).
    pub(crate) async fn consumer_heartbeat(&self, req: HeartbeatRequest) -> HeartbeatResponse {
        self.ask(|reply| Command::ConsumerHeartbeat(req, reply))
            .await
            .unwrap_or_else(|| HeartbeatResponse::failed(ErrorCode::CoordinatorNotAvailable))
    }

    /// ConsumerGroupDescribe (KIP-848).
    pub(crate) async fn consumer_describe(&self, groups: Vec<String>) -> Option<Vec<consumer::DescribedGroup>> {
        self.ask(|reply| Command::ConsumerDescribe { groups, reply }).await
    }

    pub(crate) async fn describe(
        &self,
        groups: Vec<String>,
        not_found_is_error: bool,
    ) -> Option<Vec<GroupDescription>> {
        self.ask(|reply| Command::Describe {
            groups,
            not_found_is_error,
            reply,
        })
        .await
    }

    pub(crate) async fn delete_groups(&self, groups: Vec<String>) -> Vec<ErrorCode> {
        let n = groups.len();
        self.ask(|reply| Command::DeleteGroups { groups, reply })
            .await
            .unwrap_or_else(|| vec![ErrorCode::CoordinatorNotAvailable; n])
    }

    /// Drops every group's committed offsets of a deleted topic.
    pub(crate) async fn topic_deleted(&self, topic: String) {
        let _ = self.ask(|reply| Command::TopicDeleted { topic, reply }).await;
    }

    pub(crate) async fn delete_offsets(
        &self,
        group: String,
        partitions: Vec<(String, i32)>,
    ) -> (ErrorCode, Vec<ErrorCode>) {
        self.ask(|reply| Command::DeleteOffsets {
            group,
            partitions,
            reply,
        })
        .await
        .unwrap_or((ErrorCode::CoordinatorNotAvailable, Vec::new()))
    }
}

/// A seed for generated member ids: different on every start.
fn rand_seed() -> u64 {
    let bytes = *uuid::Uuid::new_v4().as_bytes();
    u64::from_le_bytes(bytes[..8].try_into().unwrap_or([0; 8]))
}

/// The broker's topics as the KIP-848 groups see them: name -> (id, partition count).
fn consumer_topics(map: &TopicMap) -> Topics {
    map.values()
        .filter(|t| &*t.name != OFFSETS_TOPIC)
        .map(|t| (t.name.to_string(), (t.id, t.partitions.len() as i32)))
        .collect()
}

/// Where a `__consumer_offsets` partition led here stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Load {
    /// Its records are being read; the number tells this load's result from an earlier load's.
    Loading(u64),
    /// Its groups are in the coordinator's state, and served.
    Loaded,
    /// Its records could not be read: its groups are refused (COORDINATOR_LOAD_IN_PROGRESS) and its log
    /// left alone until leadership moves away and back, or a restart, loads it again.
    Failed,
}

/// One partition's records as a load read them.
struct PartitionLoad {
    index: i32,
    generation: u64,
    records: Result<Vec<Record>, String>,
    started: Instant,
}

struct Actor {
    c: Coordinator,
    /// The topic table the KIP-848 groups last saw, and its view for them.
    topics: Option<(Arc<TopicMap>, Arc<Topics>)>,
    replicas: Arc<ReplicaManager>,
    /// Creates `__consumer_offsets` through the active controller.
    create_topic: CreateTopic,
    /// The partition count of `__consumer_offsets`: the topic's once it exists, the setting until then.
    partitions: i32,
    joins: HashMap<Ticket, oneshot::Sender<JoinResult>>,
    syncs: HashMap<Ticket, oneshot::Sender<SyncResult>>,
    next_ticket: Ticket,
    started: Arc<AtomicBool>,
    leadership_queued: Arc<AtomicBool>,
    /// The `__consumer_offsets` partitions this broker led when last looked at, by index.
    /// INVARIANT: every group in `c` maps (`partition_for` over `partitions`) to a `Loaded` one.
    leading: BTreeMap<i32, Load>,
    load_generation: u64,
    /// Where the loads send what they read.
    loads: mpsc::UnboundedSender<PartitionLoad>,
    retention_ms: Ms,
    retention_check: Duration,
    /// Where the metrics read the groups.
    view: Arc<ArcSwap<GroupView>>,
}

/// What a write to `__consumer_offsets` carries, which decides the error its failure is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    /// Committed offsets (OffsetCommit).
    Offsets,
    /// Anything else: group metadata, tombstones.
    Groups,
}

/// Kafka's mapping of a failed coordinator write to the error the client gets (`kafka-facts-2.md` §0;
/// the classic `GroupMetadataManager`, which appended with acks=all as kzero does):
/// - the partition is missing, or the write was not replicated (in time): COORDINATOR_NOT_AVAILABLE;
/// - this broker no longer leads the partition, or its log failed: NOT_COORDINATOR;
/// - the batch is too large: INVALID_COMMIT_OFFSET_SIZE for offsets, UNKNOWN_SERVER_ERROR otherwise
///   (Kafka 4's `CoordinatorOperationExceptionHelper` answers UNKNOWN_SERVER_ERROR for both).
fn write_error(code: ErrorCode, write: Write) -> ErrorCode {
    match code {
        ErrorCode::UnknownTopicOrPartition
        | ErrorCode::NotEnoughReplicas
        | ErrorCode::NotEnoughReplicasAfterAppend
        | ErrorCode::RequestTimedOut => ErrorCode::CoordinatorNotAvailable,
        ErrorCode::NotLeaderOrFollower | ErrorCode::KafkaStorageError => ErrorCode::NotCoordinator,
        ErrorCode::MessageTooLarge | ErrorCode::RecordListTooLarge | ErrorCode::InvalidFetchSize => match write {
            Write::Offsets => ErrorCode::InvalidCommitOffsetSize,
            Write::Groups => ErrorCode::UnknownServerError,
        },
        other => other,
    }
}

/// Reads one partition's records, oldest first (blocking).
fn read_partition(p: &Partition) -> Result<Vec<Record>, String> {
    let mut out = Vec::new();
    let mut offset = p.log().log_start_offset();
    loop {
        let read = p.read(offset, 8 << 20, ReadBound::LogEnd).map_err(|e| e.to_string())?;
        let Some(slice) = read.slice else { break };
        let mut buf = vec![0u8; slice.len() as usize];
        slice
            .file
            .read_exact_at(&mut buf, slice.range.start)
            .map_err(|e| format!("reading {}-{}: {e}", p.topic, p.index))?;
        let mut next = offset;
        for batch in Batches::new(&buf) {
            let batch = batch.map_err(|e| format!("{}-{}: {e}", p.topic, p.index))?;
            let h = batch.header();
            next = h.last_offset() + 1;
            if h.base_offset() + i64::from(h.last_offset_delta()) < offset || h.is_control() {
                continue;
            }
            for record in batch.records().map_err(|e| e.to_string())? {
                let record = record.map_err(|e| e.to_string())?;
                let Some(key) = record.key else { continue };
                match records::decode(&key, record.value.as_ref()) {
                    Ok(Some(r)) => out.push(r),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "skipping a record")
                    }
                }
            }
        }
        if next <= offset {
            break;
        }
        offset = next;
    }
    Ok(out)
}

impl Actor {
    async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<Command>,
        mut loads: mpsc::UnboundedReceiver<PartitionLoad>,
        mut stop: watch::Receiver<bool>,
    ) {
        self.sync_leadership();
        self.started.store(true, Ordering::Release);
        self.publish();
        let mut expiry = tokio::time::interval(self.retention_check);
        expiry.tick().await;
        loop {
            let next = match (self.c.groups.next_deadline(), self.c.consumer.next_deadline()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let sleep = match next {
                Some(d) => Duration::from_millis((d - now_ms()).max(0) as u64),
                None => Duration::from_secs(3600),
            };
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(Command::LeadershipChanged) => {
                        // Cleared before looking, so that a change after the look queues another.
                        self.leadership_queued.store(false, Ordering::Release);
                        if self.sync_leadership() {
                            self.publish();
                        }
                    }
                    Some(cmd) => {
                        let changes = cmd.changes_state();
                        self.handle(cmd).await;
                        if changes {
                            self.publish();
                        }
                    }
                    None => return,
                },
                Some(load) = loads.recv() => {
                    if self.finish_load(load).await {
                        self.publish();
                    }
                }
                () = tokio::time::sleep(sleep) => {
                    let out = self.c.groups.tick(now_ms());
                    let mut changed = !out.is_empty();
                    self.deliver(out).await;
                    let fenced = self.c.consumer.tick(now_ms());
                    if !fenced.is_empty() {
                        changed = true;
                        if let Err(e) = self.persist(fenced.into_iter().map(Record::Consumer).collect()).await {
                            tracing::error!(error = %e, "cannot write a fenced member's records");
                        }
                    }
                    if changed {
                        self.publish();
                    }
                }
                _ = expiry.tick() => {
                    // Only groups of partitions led and loaded here are expired, and only those partitions
                    // cleaned: first drop the ones led elsewhere by now.
                    let moved = self.sync_leadership();
                    self.clean().await;
                    let records = self.c.expire(now_ms(), self.retention_ms);
                    let expired = !records.is_empty();
                    if expired {
                        tracing::info!(tombstones = records.len(), "expired committed offsets");
                        if let Err(e) = self.persist(records).await {
                            tracing::error!(error = %e, "cannot write offset tombstones");
                        }
                    }
                    if moved || expired {
                        self.publish();
                    }
                }
                _ = stop.changed() => return,
            }
        }
    }

    /// Publishes the groups' states and committed offsets for the metrics.
    fn publish(&self) {
        self.view.store(Arc::new(GroupView {
            states: self
                .c
                .groups
                .states()
                .map(|(id, s)| (id.clone(), s.name()))
                .chain(self.c.consumer.list())
                .collect(),
            committed: self
                .c
                .all_offsets()
                .map(|(g, (t, p), o)| (g.clone(), t.clone(), *p, o.offset))
                .collect(),
            rebalances: self.c.groups.rebalances(),
        }));
    }

    fn ticket(&mut self) -> Ticket {
        self.next_ticket += 1;
        self.next_ticket
    }

    async fn handle(&mut self, cmd: Command) {
        let now = now_ms();
        match cmd {
            Command::Join(req, reply) => {
                let t = self.ticket();
                self.joins.insert(t, reply);
                if let Err(code) = self.writable(&req.group_id).await {
                    let member = req.member_id.clone();
                    self.answer_join(t, JoinResult::error(code, &member));
                    return;
                }
                // An empty KIP-848 group of this id becomes a classic one; a non-empty one refuses.
                let claimed = match self.c.claim_for_classic(&req.group_id) {
                    Ok(records) => self.persist(records).await,
                    Err(code) => Err(code),
                };
                if let Err(code) = claimed {
                    let member = req.member_id.clone();
                    self.answer_join(t, JoinResult::error(code, &member));
                    return;
                }
                let out = self.c.groups.join(req, t, now);
                self.deliver(out).await;
            }
            Command::Sync(req, reply) => {
                if let Err(code) = self.serves(&req.group_id) {
                    let _ = reply.send(SyncResult::error(code));
                    return;
                }
                let t = self.ticket();
                self.syncs.insert(t, reply);
                let out = self.c.groups.sync(req, t, now);
                self.deliver(out).await;
            }
            Command::Heartbeat {
                group,
                generation,
                member,
                instance,
                reply,
            } => {
                let code = match self.serves(&group) {
                    Ok(()) => self
                        .c
                        .groups
                        .heartbeat(&group, generation, &member, instance.as_deref(), now),
                    // While the group's partition loads, Kafka answers heartbeats blindly
                    // (`GroupCoordinatorService.heartbeat`): the member's session starts again at the load.
                    Err(ErrorCode::CoordinatorLoadInProgress)
                        if matches!(self.load_of(&group), Some(Load::Loading(_))) =>
                    {
                        ErrorCode::None
                    }
                    Err(code) => code,
                };
                let _ = reply.send(code);
            }
            Command::Leave { group, members, reply } => {
                if let Err(code) = self.serves(&group) {
                    let _ = reply.send((code, Vec::new()));
                    return;
                }
                let (top, each, out) = self.c.groups.leave(&group, &members, now);
                self.deliver(out).await;
                let _ = reply.send((top, each));
            }
            Command::Commit(req, reply) => {
                if let Err(code) = self.writable(&req.group_id).await {
                    let _ = reply.send(vec![code; req.partitions.len()]);
                    return;
                }
                let before: Vec<(String, i32, Option<CommittedOffset>)> = req
                    .partitions
                    .iter()
                    .map(|(t, p, ..)| (t.clone(), *p, self.c.fetch(&req.group_id, t, *p).cloned()))
                    .collect();
                let (mut errors, records) = self.c.commit(&req, now);
                if let Err(code) = self.write(records, Write::Offsets).await {
                    // Not written, so not committed: OffsetFetch must not see these offsets.
                    self.c.restore_offsets(&req.group_id, before);
                    for e in errors.iter_mut().filter(|e| **e == ErrorCode::None) {
                        *e = code;
                    }
                }
                let _ = reply.send(errors);
            }
            Command::Fetch {
                group,
                partitions,
                member,
                reply,
            } => {
                if let Err(code) = self.serves(&group) {
                    let _ = reply.send(Err(code));
                    return;
                }
                if let Some((member_id, epoch)) = member.filter(|_| self.c.consumer.contains(&group)) {
                    if let Err(code) = self
                        .c
                        .consumer
                        .validate_offset_fetch(&group, member_id.as_deref(), epoch)
                    {
                        let _ = reply.send(Err(code));
                        return;
                    }
                }
                let answer = match partitions {
                    Some(topics) => topics
                        .into_iter()
                        .flat_map(|(topic, ps)| ps.into_iter().map(move |p| (topic.clone(), p)))
                        .map(|(topic, p)| {
                            let o = self.c.fetch(&group, &topic, p).cloned();
                            (topic, p, o)
                        })
                        .collect(),
                    None => self
                        .c
                        .fetch_all(&group)
                        .into_iter()
                        .map(|((topic, p), o)| (topic.clone(), *p, Some(o.clone())))
                        .collect(),
                };
                let _ = reply.send(Ok(answer));
            }
            Command::List { states, reply } => {
                // The groups of the partitions led and loaded here (Kafka skips partitions led elsewhere).
                if self.sync_leadership() {
                    self.publish();
                }
                let mut listed: Vec<ListedGroup> = self
                    .c
                    .groups
                    .list(&states)
                    .into_iter()
                    .map(|(id, protocol_type, state)| (id, protocol_type, state, "classic"))
                    .collect();
                let wanted =
                    |state: &str| states.is_empty() || states.iter().any(|s| s.trim().eq_ignore_ascii_case(state));
                listed.extend(
                    self.c
                        .consumer
                        .list()
                        .into_iter()
                        .filter(|(_, state)| wanted(state))
                        .map(|(id, state)| (id, "consumer".to_string(), state, "consumer")),
                );
                listed.sort();
                let _ = reply.send(listed);
            }
            Command::ConsumerHeartbeat(req, reply) => {
                let answer = self.consumer_heartbeat(req, now).await;
                let _ = reply.send(answer);
            }
            Command::ConsumerDescribe { groups, reply } => {
                let topics = self.topics().await;
                let mut described = Vec::with_capacity(groups.len());
                for group in &groups {
                    if let Err(code) = self.serves(group) {
                        described.push(consumer::DescribedGroup {
                            error: code,
                            error_message: None,
                            group_id: group.clone(),
                            state: "",
                            group_epoch: 0,
                            assignment_epoch: 0,
                            assignor_name: String::new(),
                            members: Vec::new(),
                        });
                        continue;
                    }
                    described.extend(self.c.consumer.describe(std::slice::from_ref(group), &topics));
                }
                for d in &mut described {
                    if d.error == ErrorCode::GroupIdNotFound && self.c.groups.get(&d.group_id).is_some() {
                        d.error_message = Some(format!("group {} is not a consumer group", d.group_id));
                    }
                }
                let _ = reply.send(described);
            }
            Command::Describe {
                groups,
                not_found_is_error,
                reply,
            } => {
                let mut described = Vec::with_capacity(groups.len());
                for group in &groups {
                    described.push(match self.serves(group) {
                        Ok(()) => self.c.groups.describe(group, not_found_is_error),
                        Err(code) => GroupDescription {
                            error: code,
                            group_id: group.clone(),
                            state: "",
                            protocol_type: String::new(),
                            protocol_data: String::new(),
                            members: Vec::new(),
                        },
                    });
                }
                let _ = reply.send(described);
            }
            Command::DeleteGroups { groups, reply } => {
                // Each group's error: refused here, or from the deletion of the groups served.
                let gates: Vec<Result<(), ErrorCode>> = groups.iter().map(|g| self.serves(g)).collect();
                let served: Vec<String> = groups
                    .iter()
                    .zip(&gates)
                    .filter(|(_, gate)| gate.is_ok())
                    .map(|(g, _)| g.clone())
                    .collect();
                let (mut deleted, records) = self.c.delete_groups(&served);
                if let Err(code) = self.persist(records).await {
                    for e in deleted.iter_mut().filter(|e| **e == ErrorCode::None) {
                        *e = code;
                    }
                }
                let mut deleted = deleted.into_iter();
                let errors = gates
                    .into_iter()
                    .map(|gate| match gate {
                        Ok(()) => deleted.next().unwrap_or(ErrorCode::UnknownServerError),
                        Err(code) => code,
                    })
                    .collect();
                let _ = reply.send(errors);
            }
            Command::TopicDeleted { topic, reply } => {
                // The groups of partitions led elsewhere by now are not this coordinator's to change.
                if self.sync_leadership() {
                    self.publish();
                }
                let records = self.c.topic_deleted(&topic);
                if !records.is_empty() {
                    tracing::info!(%topic, offsets = records.len(), "dropped the deleted topic's committed offsets");
                    if let Err(e) = self.persist(records).await {
                        tracing::error!(%topic, error = %e, "cannot write offset tombstones");
                    }
                }
                let _ = reply.send(());
            }
            Command::DeleteOffsets {
                group,
                partitions,
                reply,
            } => {
                if let Err(code) = self.serves(&group) {
                    let _ = reply.send((code, Vec::new()));
                    return;
                }
                let (top, mut each, records) = self.c.delete_offsets(&group, &partitions);
                if let Err(code) = self.persist(records).await {
                    for e in each.iter_mut().filter(|e| **e == ErrorCode::None) {
                        *e = code;
                    }
                }
                let _ = reply.send((top, each));
            }
            // Taken by the loop.
            Command::LeadershipChanged => {}
        }
    }

    /// Whether this coordinator serves `group` now: NOT_COORDINATOR when this broker does not lead the
    /// group's `__consumer_offsets` partition, COORDINATOR_LOAD_IN_PROGRESS until that partition is loaded
    /// (Kafka's `CoordinatorRuntime`). Before the topic exists every group is served: its first write
    /// creates the topic. Leadership is read live, and a move that no notification reported yet is caught
    /// up with here.
    fn serves(&mut self, group: &str) -> Result<(), ErrorCode> {
        let Some(topic) = self.replicas.topic(OFFSETS_TOPIC) else {
            return Ok(());
        };
        let count = topic.partitions.len() as i32;
        let index = partition_for(group, count);
        let led = topic
            .partitions
            .get(index as usize)
            .and_then(Option::as_ref)
            .is_some_and(|p| p.is_leader());
        if (count != self.partitions || led != self.leading.contains_key(&index)) && self.sync_leadership() {
            self.publish();
        }
        if !led {
            return Err(ErrorCode::NotCoordinator);
        }
        match self.leading.get(&index) {
            Some(Load::Loaded) => Ok(()),
            _ => Err(ErrorCode::CoordinatorLoadInProgress),
        }
    }

    /// Where the `__consumer_offsets` partition of `group` stands (`None`: not led here).
    fn load_of(&self, group: &str) -> Option<Load> {
        self.leading.get(&partition_for(group, self.partitions)).copied()
    }

    /// [`Actor::serves`] for a request that writes: `__consumer_offsets` is created first if need be.
    async fn writable(&mut self, group: &str) -> Result<(), ErrorCode> {
        self.ensure_topic().await?;
        self.serves(group)
    }

    /// Brings the coordinated partitions in line with the `__consumer_offsets` partitions this broker
    /// leads now: those led elsewhere (or gone) are unloaded, those newly led here start loading. Returns
    /// whether anything changed.
    fn sync_leadership(&mut self) -> bool {
        let topic = self.replicas.topic(OFFSETS_TOPIC);
        let mut changed = false;
        if let Some(count) = topic.as_ref().map(|t| t.partitions.len() as i32) {
            if count != self.partitions {
                // Another partition count maps every group anew: start over with it.
                let all: Vec<i32> = self.leading.keys().copied().collect();
                changed |= self.resign(&all);
                self.partitions = count;
            }
        }
        let led: BTreeMap<i32, Arc<Partition>> = topic
            .iter()
            .flat_map(|t| t.hosted().filter(|p| p.is_leader()))
            .map(|p| (p.index, Arc::clone(p)))
            .collect();
        let lost: Vec<i32> = self.leading.keys().filter(|i| !led.contains_key(i)).copied().collect();
        changed |= self.resign(&lost);
        for (index, partition) in led {
            if !self.leading.contains_key(&index) {
                self.elect(partition);
                changed = true;
            }
        }
        changed
    }

    /// Kafka's `onResignation`: forgets the groups of partitions led elsewhere now; their parked requests
    /// are answered NOT_COORDINATOR. A load under way is abandoned (its result will not match).
    fn resign(&mut self, lost: &[i32]) -> bool {
        if lost.is_empty() {
            return false;
        }
        let partitions = self.partitions;
        let out = self.c.unload(
            |group| lost.contains(&partition_for(group, partitions)),
            ErrorCode::NotCoordinator,
        );
        self.answer(out, None);
        for index in lost {
            self.leading.remove(index);
            tracing::info!(
                partition = index,
                "no longer coordinating the groups of {OFFSETS_TOPIC}-{index}"
            );
        }
        true
    }

    /// Kafka's `onElection`: starts replaying a partition newly led here, on a blocking thread. A log
    /// with nothing to replay (a new topic) is coordinated at once.
    fn elect(&mut self, partition: Arc<Partition>) {
        let index = partition.index;
        let empty = partition.log().log_end_offset() <= partition.log().log_start_offset();
        if empty {
            self.leading.insert(index, Load::Loaded);
            tracing::info!(
                partition = index,
                "coordinating the groups of {OFFSETS_TOPIC}-{index} (empty)"
            );
            return;
        }
        self.load_generation += 1;
        let generation = self.load_generation;
        self.leading.insert(index, Load::Loading(generation));
        let tx = self.loads.clone();
        let started = Instant::now();
        tokio::task::spawn_blocking(move || {
            let records = read_partition(&partition);
            // The task may have stopped: then nobody needs the records.
            let _ = tx.send(PartitionLoad {
                index,
                generation,
                records,
                started,
            });
        });
    }

    /// Applies a load's records, unless the partition was resigned since: only its own groups are
    /// replayed, so the groups of other partitions are left as they are. Returns whether anything changed.
    async fn finish_load(&mut self, load: PartitionLoad) -> bool {
        let PartitionLoad {
            index,
            generation,
            records,
            started,
        } = load;
        if self.leading.get(&index) != Some(&Load::Loading(generation)) {
            return false;
        }
        let records = match records {
            Ok(records) => records,
            Err(e) => {
                // Serving empty groups would send consumers back to auto.offset.reset, and cleaning would
                // then drop the records that could not be read: the partition's groups stay refused.
                tracing::error!(
                    partition = index,
                    error = %e,
                    "cannot load {OFFSETS_TOPIC}-{index}: its groups are refused until it is loaded again"
                );
                self.leading.insert(index, Load::Failed);
                return false;
            }
        };
        let partitions = self.partitions;
        let belongs = move |group: &str| partition_for(group, partitions) == index;
        let (n, now) = (records.len(), now_ms());
        for record in records {
            // A record of another partition's group (never written so) must not touch a live group.
            if belongs(record.group()) {
                self.c.replay(record, now);
            }
        }
        self.c.loaded(belongs);
        self.leading.insert(index, Load::Loaded);
        // The KIP-848 groups' subscribed metadata is soft state: computed again from the topics now.
        let topics = self.topics().await;
        let changes = self.c.consumer.topics_changed_for(&topics, now_ms(), belongs);
        if !changes.is_empty() {
            if let Err(e) = self.persist(changes.into_iter().map(Record::Consumer).collect()).await {
                tracing::error!(error = %e, "cannot write the consumer groups' metadata changes");
            }
        }
        let groups = self.c.groups.ids().filter(|g| belongs(g)).count()
            + self.c.consumer.list().iter().filter(|(g, _)| belongs(g)).count();
        tracing::info!(
            partition = index,
            records = n,
            groups,
            took_ms = started.elapsed().as_millis() as u64,
            "loaded {OFFSETS_TOPIC}-{index}"
        );
        true
    }

    /// The broker's topics as the KIP-848 groups see them. When the topic table changed since the last
    /// look (a topic created or deleted, partitions added), the groups re-resolve their subscriptions
    /// and bump their epochs where the subscribed metadata changed (records written first).
    async fn topics(&mut self) -> Arc<Topics> {
        let map = self.replicas.topics();
        if let Some((seen, topics)) = &self.topics {
            if Arc::ptr_eq(seen, &map) {
                return Arc::clone(topics);
            }
        }
        let topics = Arc::new(consumer_topics(&map));
        let records = self.c.consumer.topics_changed(&topics, now_ms());
        self.topics = Some((map, Arc::clone(&topics)));
        if !records.is_empty() {
            if let Err(e) = self.persist(records.into_iter().map(Record::Consumer).collect()).await {
                tracing::error!(error = %e, "cannot write the consumer groups' metadata changes");
            }
        }
        topics
    }

    /// One ConsumerGroupHeartbeat: claims the group id from an empty classic group if needed, runs the
    /// state machine, and writes its records before answering.
    async fn consumer_heartbeat(&mut self, req: HeartbeatRequest, now: Ms) -> HeartbeatResponse {
        if let Err(code) = self.writable(&req.group_id).await {
            return HeartbeatResponse::failed(code);
        }
        if req.member_epoch == 0 {
            match self.c.claim_for_consumer(&req.group_id) {
                Ok(records) => {
                    if let Err(code) = self.persist(records).await {
                        return HeartbeatResponse::failed(code);
                    }
                }
                Err(code) => {
                    return HeartbeatResponse {
                        error_message: Some(format!("group {} is not a consumer group", req.group_id)),
                        ..HeartbeatResponse::failed(code)
                    }
                }
            }
        } else if self.c.groups.get(&req.group_id).is_some() && !self.c.consumer.contains(&req.group_id) {
            return HeartbeatResponse {
                error_message: Some(format!("group {} is not a consumer group", req.group_id)),
                ..HeartbeatResponse::failed(ErrorCode::GroupIdNotFound)
            };
        }
        let topics = self.topics().await;
        let before = self.c.consumer.snapshot(&req.group_id);
        let (answer, records) = self.c.consumer.heartbeat(&req, now, &topics);
        match self.persist(records.into_iter().map(Record::Consumer).collect()).await {
            Ok(()) => answer,
            Err(code) => {
                // Not written, so not done: the group goes back to what `__consumer_offsets` holds.
                self.c.consumer.restore(before);
                HeartbeatResponse::failed(code)
            }
        }
    }

    fn answer_join(&mut self, t: Ticket, r: JoinResult) {
        if let Some(tx) = self.joins.remove(&t) {
            let _ = tx.send(r);
        }
    }

    /// Persists the stores among `out`, then delivers its answers (with the write's error if it failed).
    async fn deliver(&mut self, out: Vec<Output>) {
        let stores: Vec<Record> = out
            .iter()
            .filter_map(|o| match o {
                Output::Store(s) => Some(Record::Group {
                    group: s.group_id.clone(),
                    value: Some(s.clone()),
                }),
                _ => None,
            })
            .collect();
        let failed = self.persist(stores).await.err();
        self.answer(out, failed);
    }

    /// Delivers the answers among `out`; a successful SyncGroup answer becomes `failed`, when given (its
    /// assignment could not be stored).
    fn answer(&mut self, out: Vec<Output>, failed: Option<ErrorCode>) {
        for o in out {
            match o {
                Output::Join(t, r) => self.answer_join(t, r),
                Output::Sync(t, mut r) => {
                    if let Some(code) = failed.filter(|_| r.error == ErrorCode::None) {
                        r = SyncResult::error(code);
                    }
                    if let Some(tx) = self.syncs.remove(&t) {
                        let _ = tx.send(r);
                    }
                }
                Output::Store(_) => {}
            }
        }
    }

    /// Creates `__consumer_offsets` on first use: no time or size retention (the coordinator cleans it),
    /// 100 MiB segments as Kafka's `offsets.topic.segment.bytes`.
    async fn ensure_topic(&mut self) -> Result<(), ErrorCode> {
        if self.replicas.topic(OFFSETS_TOPIC).is_some() {
            return Ok(());
        }
        let config = TopicConfig::parse([
            ("retention.ms", Some("-1")),
            ("retention.bytes", Some("-1")),
            ("segment.bytes", Some("104857600")),
        ])
        .map_err(|reason| {
            tracing::error!(%reason, "bad {OFFSETS_TOPIC} config");
            ErrorCode::CoordinatorNotAvailable
        })?;
        match (self.create_topic)(self.partitions, config.entries()).await {
            Ok(()) | Err((ErrorCode::TopicAlreadyExists, _)) => Ok(()),
            Err((code, message)) => {
                tracing::error!(%code, %message, "cannot create {OFFSETS_TOPIC}");
                Err(ErrorCode::CoordinatorNotAvailable)
            }
        }
    }

    /// Keeps `__consumer_offsets` from growing without bound (Kafka compacts it; kzero has no compaction):
    /// a partition holding at least `CLEAN_MIN_DEAD` more records than twice its live ones gets its live
    /// records (every committed offset and group of the groups it holds) appended again, then its log start
    /// moves to the first of them, which drops every older segment. The coordinator is the partition's only
    /// writer, so nothing is appended in between; a failure leaves the old records in place. Only the
    /// partitions led and loaded here are cleaned: the live records of any other are not in this state.
    async fn clean(&mut self) {
        let Some(topic) = self.replicas.topic(OFFSETS_TOPIC) else {
            return;
        };
        let loaded = |p: &Arc<Partition>| p.is_leader() && self.leading.get(&p.index) == Some(&Load::Loaded);
        let partitions: Vec<Arc<Partition>> = topic.hosted().filter(|p| loaded(p)).cloned().collect();
        for partition in partitions {
            let live: Vec<Record> = self.live_records(partition.index);
            let log = partition.log();
            let stored = log.log_end_offset() - log.log_start_offset();
            if stored < 2 * live.len() as i64 + CLEAN_MIN_DEAD {
                continue;
            }
            let old_start = log.log_start_offset();
            match self.rewrite(partition.index, &live).await {
                Ok(Some(start)) => match log.delete_records_before(start) {
                    Ok(segments) => tracing::info!(
                        partition = partition.index,
                        live = live.len(),
                        dropped = start - old_start,
                        segments,
                        "cleaned {OFFSETS_TOPIC}"
                    ),
                    Err(e) => tracing::error!(partition = partition.index, error = %e, "cannot drop cleaned records"),
                },
                Ok(None) => {}
                Err(code) => {
                    tracing::warn!(partition = partition.index, error = %code, "cleaning {OFFSETS_TOPIC} failed")
                }
            }
        }
    }

    /// The records that rebuild the state of the groups held by `partition`.
    fn live_records(&self, partition: i32) -> Vec<Record> {
        let mut live: Vec<Record> = self
            .c
            .groups
            .snapshots()
            .filter(|s| partition_for(&s.group_id, self.partitions) == partition)
            .map(|s| Record::Group {
                group: s.group_id.clone(),
                value: Some(s),
            })
            .collect();
        live.extend(
            self.c
                .consumer
                .live_records()
                .into_iter()
                .filter(|r| partition_for(r.group(), self.partitions) == partition)
                .map(Record::Consumer),
        );
        live.extend(
            self.c
                .all_offsets()
                .filter(|(g, _, _)| partition_for(g, self.partitions) == partition)
                .map(|(g, (t, p), o)| Record::Offset {
                    group: g.clone(),
                    topic: t.clone(),
                    partition: *p,
                    value: Some(o.clone()),
                }),
        );
        live
    }

    /// Appends `records` to one partition in batches of at most ~512 KiB; returns the offset of the first.
    async fn rewrite(&mut self, partition: i32, records: &[Record]) -> Result<Option<i64>, ErrorCode> {
        let now = now_ms();
        let mut batches = Vec::new();
        let mut builder = BatchBuilder::new(Compression::None, now);
        let (mut bytes, mut count) = (0usize, 0usize);
        for r in records {
            let (key, value) = records::encode(r).map_err(|_| ErrorCode::UnknownServerError)?;
            bytes += key.len() + value.as_ref().map_or(0, Bytes::len) + 16;
            builder.push(WireRecord {
                key: Some(key),
                value,
                ..WireRecord::default()
            });
            count += 1;
            if bytes >= 512 * 1024 {
                batches.push(builder.build().map_err(|_| ErrorCode::UnknownServerError)?);
                builder = BatchBuilder::new(Compression::None, now);
                (bytes, count) = (0, 0);
            }
        }
        if count > 0 {
            batches.push(builder.build().map_err(|_| ErrorCode::UnknownServerError)?);
        }
        let mut first = None;
        for batch in batches {
            let records = Records::Inline(batch);
            let entry = ProduceEntry {
                topic: OFFSETS_TOPIC,
                partition,
                records: Some(&records),
            };
            let (results, _) = self.replicas.append_records(-1, COMMIT_TIMEOUT, 9, [entry]).await;
            let r = results.first().copied().ok_or(ErrorCode::UnknownServerError)?;
            if r.error != ErrorCode::None {
                return Err(r.error);
            }
            first.get_or_insert(r.base_offset);
        }
        Ok(first)
    }

    /// Appends records to their groups' partitions and waits until they are committed.
    async fn persist(&mut self, records: Vec<Record>) -> Result<(), ErrorCode> {
        self.write(records, Write::Groups).await
    }

    /// [`Actor::persist`], with a failure answered as Kafka answers one for what `records` carry.
    async fn write(&mut self, records: Vec<Record>, write: Write) -> Result<(), ErrorCode> {
        if records.is_empty() {
            return Ok(());
        }
        self.ensure_topic().await?;
        let mut by_partition: HashMap<i32, BatchBuilder> = HashMap::new();
        let now = now_ms();
        for r in &records {
            let (key, value) = records::encode(r).map_err(|e| {
                tracing::error!(error = %e, "cannot encode a {OFFSETS_TOPIC} record");
                ErrorCode::UnknownServerError
            })?;
            by_partition
                .entry(partition_for(r.group(), self.partitions))
                .or_insert_with(|| BatchBuilder::new(Compression::None, now))
                .push(WireRecord {
                    key: Some(key),
                    value,
                    ..WireRecord::default()
                });
        }
        let mut batches = Vec::with_capacity(by_partition.len());
        for (p, b) in by_partition {
            let bytes = b.build().map_err(|e| {
                tracing::error!(error = %e, "cannot build a {OFFSETS_TOPIC} batch");
                ErrorCode::UnknownServerError
            })?;
            batches.push((p, Records::Inline(bytes)));
        }
        let entries: Vec<ProduceEntry<'_>> = batches
            .iter()
            .map(|(p, records)| ProduceEntry {
                topic: OFFSETS_TOPIC,
                partition: *p,
                records: Some(records),
            })
            .collect();
        let (results, _) = self.replicas.append_records(-1, COMMIT_TIMEOUT, 9, entries).await;
        match results.iter().find(|r| r.error != ErrorCode::None) {
            None => Ok(()),
            Some(r) => {
                tracing::error!(error = %r.error, "writing to {OFFSETS_TOPIC} failed");
                Err(write_error(r.error, write))
            }
        }
    }
}
