//! One partition: its log, leader epoch, role, high watermark, producer state and the operations waiting
//! on it. Everything about a partition is reachable from its [`Partition`]; nothing lives in parallel maps
//! keyed by topic and partition, so dropping the `Partition` drops all of it.
//!
//! The role comes from the metadata ([`Partition::apply_state`]) and runs the `replication` crate's rules:
//! a leader holds a `LeaderState` (followers' log ends, the ISR, AlterPartition proposals, the
//! `acks=all` checks), a follower a `Follower` (what to fetch, what the leader's answer means). The caller
//! side of those rules is here: the leader's appends and its followers' fetches go in, and the actions come
//! out as a published high watermark, woken waiters and queued ISR proposals ([`IsrQueue`]); the follower's
//! actions become log appends, truncations and a raised log start.
//!
//! The high watermark is a value of its own, read without a lock: on a leader the smallest log end over
//! the maximal ISR (the log end itself with one replica); on a follower min(the leader's, its own log end).
//! Every reader uses it: consumer fetches (read-uncommitted, and read-committed since without transactions
//! the last stable offset equals it), ListOffsets' latest offset, retention and the metrics. Replica
//! fetches read up to the log end.
//!
//! Lock order: `producers`, then `role`; file work under `role` happens only on a follower (whose log
//! nobody else writes).

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use protocol::record::{BatchHeader, Compression, RecordBatch};
use protocol::ErrorCode;
use replication::{
    AckOutcome, EpochCheck, EpochEndOffset, EpochLookup, FetchPosition, FetchResponse, Follower, FollowerAction,
    IsrProposal, LeaderAction, LeaderConfig, LeaderEvent, LeaderState, NewLeader,
};
use storage::{Log, ReadInfo};

use crate::delayed::Watchers;
use crate::error::storage_error_code;
use crate::metrics::TopicMetrics;
use crate::producer_state::{last_sequence, ProducerStates, Sequence, REBUILD_BYTES};

/// Milliseconds on a monotonic clock: the replication rules' time (caught-up times, ISR expiry).
pub(crate) fn mono_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// ISR changes the leaders of this broker want committed, waiting to be sent to the controller in one
/// AlterPartition (shared by every partition; drained by the broker's AlterPartition task).
#[derive(Debug, Default)]
pub(crate) struct IsrQueue {
    items: Mutex<Vec<(Arc<str>, i32, IsrProposal)>>,
    notify: tokio::sync::Notify,
}

impl IsrQueue {
    pub(crate) fn push(&self, topic: &Arc<str>, index: i32, proposal: IsrProposal) {
        self.items
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((Arc::clone(topic), index, proposal));
        self.notify.notify_one();
    }

    /// Waits until a proposal is queued, then takes every queued one.
    pub(crate) async fn next(&self) -> Vec<(Arc<str>, i32, IsrProposal)> {
        loop {
            let taken = std::mem::take(&mut *self.items.lock().unwrap_or_else(|p| p.into_inner()));
            if !taken.is_empty() {
                return taken;
            }
            self.notify.notified().await;
        }
    }
}

/// What every partition of this broker shares.
#[derive(Debug)]
pub(crate) struct PartitionContext {
    /// This broker's id.
    pub(crate) local_id: i32,
    /// The broker is fenced: it leads nothing.
    pub(crate) fenced: AtomicBool,
    /// `replica.lag.time.max.ms`.
    pub(crate) replica_lag_time_max_ms: u64,
    /// Where leaders queue their AlterPartition proposals.
    pub(crate) isr_queue: IsrQueue,
}

/// How far a read may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadBound {
    /// Read-uncommitted consumers: up to the high watermark.
    HighWatermark,
    /// Read-committed consumers: up to the last stable offset, which is the high watermark while kzero
    /// has no transactions.
    LastStableOffset,
    /// Followers: up to the log end.
    LogEnd,
}

/// A successful append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Appended {
    /// The offset of the batch's first record (the original one for a retried duplicate).
    pub(crate) base_offset: i64,
    /// The offset after the batch: an `acks=all` produce completes when the high watermark reaches it.
    pub(crate) required_offset: i64,
    /// A retried batch already in the log (not appended again).
    pub(crate) duplicate: bool,
    /// The log start offset after the append.
    pub(crate) log_start_offset: i64,
    /// The leader epoch it was appended in: an `acks=all` wait ends with `NOT_LEADER_OR_FOLLOWER` if the
    /// partition is no longer led in this epoch.
    pub(crate) leader_epoch: i32,
}

/// A leader's view of its replicas, for the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeaderView {
    /// The committed ISR is smaller than the replicas.
    pub(crate) under_replicated: bool,
    /// The committed ISR is below `min.insync.replicas` (capped at the replication factor).
    pub(crate) under_min_isr: bool,
    /// Each replica's lag behind the leader's log end in offsets (the leader's own is 0; `None`: a follower
    /// that has not fetched yet).
    pub(crate) follower_lags: Vec<(i32, Option<i64>)>,
}

/// This broker's part in the partition, from the metadata.
#[derive(Debug)]
enum Role {
    /// No state applied yet.
    None,
    /// It leads: the leader rules (ISR, high watermark) of the `replication` crate.
    Leader(LeaderState),
    /// Another broker leads (or none, leader -1): the follower rules; the replica fetcher fetches.
    Follower(Follower),
}

/// The leader's answer to one partition of a replica fetch, as the fetcher received it.
#[derive(Debug)]
pub(crate) enum Fetched {
    /// Records (possibly none) and the leader's high watermark and log start offset.
    Records {
        records: Bytes,
        high_watermark: i64,
        log_start_offset: i64,
    },
    /// The follower's log diverges (`DivergingEpoch`).
    Diverging { epoch: i32, end_offset: i64 },
}

/// A log's leader-epoch cache as the replication rules read it.
struct LogEpochs<'a>(&'a Log);

impl EpochLookup for LogEpochs<'_> {
    fn latest_epoch(&self) -> Option<i32> {
        self.0.latest_epoch()
    }

    fn end_offset_for(&self, epoch: i32, _log_end_offset: i64) -> Option<EpochEndOffset> {
        self.0
            .end_offset_for_epoch(epoch)
            .map(|(epoch, end_offset)| EpochEndOffset { epoch, end_offset })
    }
}

/// One partition this broker hosts.
#[derive(Debug)]
pub(crate) struct Partition {
    pub(crate) topic: Arc<str>,
    pub(crate) index: i32,
    log: Arc<Log>,
    leader_epoch: AtomicI32,
    context: Arc<PartitionContext>,
    /// The leader the metadata names (-1: none, or not known yet); only the leader serves produce and fetch.
    leader_id: AtomicI32,
    /// The partition epoch of the metadata applied last (-1: none yet); older states are ignored.
    partition_epoch: AtomicI32,
    /// Published from the role's rules; read without a lock by every reader.
    high_watermark: AtomicI64,
    role: Mutex<Role>,
    /// `None` until the first idempotent produce since the broker started or became leader (then rebuilt
    /// from the log, which holds the batches it appended as a follower too).
    producers: Mutex<Option<ProducerStates>>,
    /// Fetches and `acks=all` produces waiting on this partition.
    pub(crate) watchers: Watchers,
    /// Set when the topic is deleted: requests that still hold the partition get
    /// `UNKNOWN_TOPIC_OR_PARTITION`.
    deleted: AtomicBool,
    /// The topic's counters (shared by its partitions).
    pub(crate) metrics: Arc<TopicMetrics>,
}

impl Partition {
    /// A partition hosted by this broker over an opened log. It serves nothing until the metadata gives it
    /// a role ([`Partition::apply_state`]); its high watermark starts at `high_watermark` (the checkpointed
    /// one), within the log, and only moves up from there as the role's rules say.
    pub(crate) fn new(
        topic: Arc<str>,
        index: i32,
        log: Arc<Log>,
        high_watermark: i64,
        context: Arc<PartitionContext>,
        metrics: Arc<TopicMetrics>,
    ) -> Partition {
        let epoch = log.latest_epoch().unwrap_or(0).max(0);
        let high_watermark = high_watermark.clamp(log.log_start_offset(), log.log_end_offset());
        Partition {
            topic,
            index,
            high_watermark: AtomicI64::new(high_watermark),
            role: Mutex::new(Role::None),
            log,
            leader_epoch: AtomicI32::new(epoch),
            context,
            leader_id: AtomicI32::new(-1),
            partition_epoch: AtomicI32::new(-1),
            producers: Mutex::new(None),
            watchers: Watchers::default(),
            deleted: AtomicBool::new(false),
            metrics,
        }
    }

    /// Makes this broker the leader at `epoch` with `replicas` all in the ISR (tests of the follower
    /// paths; the metadata path is [`Partition::apply_state`]).
    #[cfg(test)]
    pub(crate) fn make_leader(&self, _local_id: i32, epoch: i32, replicas: &[i32]) {
        let next = self.partition_epoch.load(Ordering::Acquire).max(0) + 1;
        // A new leadership, whatever the epoch.
        *self.lock_role() = Role::None;
        self.apply_state(&metadata::PartitionState {
            replicas: replicas.to_vec(),
            isr: replicas.to_vec(),
            leader: self.context.local_id,
            leader_epoch: epoch,
            partition_epoch: next,
        });
    }

    fn local_id(&self) -> i32 {
        self.context.local_id
    }

    /// What every partition of this broker shares.
    pub(crate) fn context(&self) -> &Arc<PartitionContext> {
        &self.context
    }

    fn leader_config(&self) -> LeaderConfig {
        LeaderConfig {
            replica_lag_time_max_ms: self.context.replica_lag_time_max_ms,
            min_insync_replicas: usize::try_from(self.log.config().min_insync_replicas.max(1)).unwrap_or(usize::MAX),
        }
    }

    /// Kafka's `Partition.makeLeader`: records the epoch's start offset in the log's epoch cache (when it
    /// is newer than the log's last epoch), builds new leader rules from the committed ISR, and forgets
    /// the producer state (rebuilt from the log, which has every batch appended as a follower, at the
    /// next idempotent produce). The high watermark never goes back.
    fn lead(&self, role: &mut Role, producers: &mut Option<ProducerStates>, state: &metadata::PartitionState) {
        if self.log.latest_epoch().is_none_or(|latest| state.leader_epoch > latest) {
            if let Err(e) = self.log.assign_epoch_start(state.leader_epoch) {
                tracing::warn!(topic = %self.topic, partition = self.index, error = %e, "cannot record the leader epoch's start");
            }
        }
        // A high watermark is never past the log (a late publication from an earlier role cannot count).
        let log_end_offset = self.log.log_end_offset();
        self.high_watermark.fetch_min(log_end_offset, Ordering::AcqRel);
        let leader = LeaderState::new(
            NewLeader {
                local: self.local_id(),
                replicas: state.replicas.clone(),
                isr: state.isr.clone(),
                leader_epoch: state.leader_epoch,
                partition_epoch: state.partition_epoch,
                log_end_offset,
                high_watermark: self.high_watermark(),
                now_ms: mono_ms(),
            },
            self.leader_config(),
        );
        *producers = None;
        self.leader_epoch.store(state.leader_epoch, Ordering::Release);
        self.high_watermark.fetch_max(leader.high_watermark(), Ordering::AcqRel);
        *role = Role::Leader(leader);
    }

    /// Applies the partition's registration from the metadata (`makeLeader`/`makeFollower` of Kafka's
    /// `ReplicaManager.applyDelta`): a state with an older partition epoch than the one applied is
    /// ignored. Becoming leader, or leading at a newer epoch, starts the epoch; a new partition epoch at the
    /// same leader epoch is the controller's committed ISR. Becoming a follower (or following at a newer
    /// epoch) starts the follower rules from the local log; the replica fetcher picks the partition up.
    /// Waiting operations are woken to see the change.
    pub(crate) fn apply_state(&self, state: &metadata::PartitionState) {
        if state.partition_epoch < self.partition_epoch.load(Ordering::Acquire) {
            return;
        }
        // In the append path's order: producers, then role.
        let mut producers = self.producers.lock().unwrap_or_else(|p| p.into_inner());
        let mut role = self.lock_role();
        self.partition_epoch.store(state.partition_epoch, Ordering::Release);
        if state.leader == self.local_id() {
            match &mut *role {
                Role::Leader(leader) if leader.leader_epoch() == state.leader_epoch => {
                    let actions = leader.handle(LeaderEvent::IsrCommitted {
                        isr: state.isr.clone(),
                        partition_epoch: state.partition_epoch,
                        now_ms: mono_ms(),
                    });
                    self.carry_out(actions);
                }
                _ => {
                    self.lead(&mut role, &mut producers, state);
                    tracing::info!(topic = %self.topic, partition = self.index, leader_epoch = state.leader_epoch, isr = ?state.isr, "leading");
                }
            }
        } else {
            let same = matches!(&*role, Role::Follower(f) if f.leader_epoch() == state.leader_epoch && f.leader() == state.leader);
            if !same {
                if matches!(&*role, Role::Leader(_)) {
                    tracing::info!(topic = %self.topic, partition = self.index, leader = state.leader, leader_epoch = state.leader_epoch, "no longer leading");
                }
                *role = Role::Follower(Follower::new(
                    self.local_id(),
                    state.leader,
                    state.leader_epoch,
                    self.log.log_start_offset(),
                    self.log.log_end_offset(),
                    self.high_watermark(),
                ));
                self.leader_epoch.store(state.leader_epoch, Ordering::Release);
                self.high_watermark
                    .fetch_min(self.log.log_end_offset(), Ordering::AcqRel);
            }
        }
        self.leader_id.store(state.leader, Ordering::Release);
        drop(role);
        drop(producers);
        self.watchers.wake();
    }

    /// Does this broker lead the partition (as the metadata says, and not fenced)?
    pub(crate) fn is_leader(&self) -> bool {
        self.leader_id.load(Ordering::Acquire) == self.local_id() && !self.context.fenced.load(Ordering::Acquire)
    }

    pub(crate) fn log(&self) -> &Arc<Log> {
        &self.log
    }

    pub(crate) fn high_watermark(&self) -> i64 {
        self.high_watermark.load(Ordering::Acquire)
    }

    pub(crate) fn leader_epoch(&self) -> i32 {
        self.leader_epoch.load(Ordering::Acquire)
    }

    fn lock_role(&self) -> MutexGuard<'_, Role> {
        self.role.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks the partition deleted and wakes what waits on it (they answer `UNKNOWN_TOPIC_OR_PARTITION`).
    pub(crate) fn mark_deleted(&self) {
        self.deleted.store(true, Ordering::Release);
        self.watchers.wake();
    }

    /// Only a live partition this broker leads serves produce and fetch.
    fn check_exists(&self) -> Result<(), ErrorCode> {
        if self.deleted.load(Ordering::Acquire) {
            Err(ErrorCode::UnknownTopicOrPartition)
        } else if !self.is_leader() {
            Err(ErrorCode::NotLeaderOrFollower)
        } else {
            Ok(())
        }
    }

    /// Kafka's `Partition.lastOffsetForLeaderEpoch` on the leader: the largest epoch of this log at most
    /// `epoch` and the offset where it ends (the log end for the latest epoch), from the log's epoch
    /// cache; (-1, -1) when unknown (no epoch that old or a requested epoch above the latest).
    pub(crate) fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        self.log.end_offset_for_epoch(epoch).unwrap_or((-1, -1))
    }

    /// Kafka's `Partition.readRecords` check: a fetcher whose last fetched epoch is `last_fetched_epoch`
    /// (-1: none, no check) and whose log ends at `fetch_offset` diverged from this log if this log's
    /// largest epoch at most that one is older, or ends before the fetch offset; then the answer is
    /// that epoch and its end offset (`DivergingEpoch`).
    pub(crate) fn diverging(&self, last_fetched_epoch: i32, fetch_offset: i64) -> Option<(i32, i64)> {
        if last_fetched_epoch < 0 {
            return None;
        }
        let (epoch, end_offset) = self.end_offset_for_epoch(last_fetched_epoch);
        (epoch < last_fetched_epoch || end_offset < fetch_offset).then_some((epoch, end_offset))
    }

    /// The leader epoch of the batch holding `offset` (the latest epoch starting at or before it), or -1.
    pub(crate) fn epoch_of_offset(&self, offset: i64) -> i32 {
        self.log
            .epoch_entries()
            .iter()
            .rev()
            .find(|(_, start)| *start <= offset)
            .map_or(-1, |(epoch, _)| *epoch)
    }

    /// Checks the leader epoch a request carries (-1: no check).
    pub(crate) fn check_epoch(&self, requested: i32) -> Result<(), ErrorCode> {
        match replication::check_leader_epoch(self.leader_epoch(), requested) {
            EpochCheck::Ok => Ok(()),
            EpochCheck::Fenced => Err(ErrorCode::FencedLeaderEpoch),
            EpochCheck::Unknown => Err(ErrorCode::UnknownLeaderEpoch),
        }
    }

    /// Carries out what the leader rules decided: publishes a new high watermark (waking readers and
    /// `acks=all` produces) and queues ISR proposals for the controller.
    fn carry_out(&self, actions: Vec<LeaderAction>) {
        let mut moved = false;
        for action in actions {
            match action {
                LeaderAction::HighWatermark(hw) => {
                    self.high_watermark.fetch_max(hw, Ordering::AcqRel);
                    moved = true;
                }
                LeaderAction::ProposeIsr(proposal) => {
                    tracing::info!(topic = %self.topic, partition = self.index, isr = ?proposal.isr, "proposing an ISR change");
                    self.context.isr_queue.push(&self.topic, self.index, proposal);
                }
            }
        }
        if moved {
            self.watchers.wake();
        }
    }

    /// Runs the leader rules (`None` when this broker does not lead).
    fn with_leader<T>(&self, f: impl FnOnce(&mut LeaderState) -> T) -> Option<T> {
        match &mut *self.lock_role() {
            Role::Leader(leader) => Some(f(leader)),
            _ => None,
        }
    }

    /// Applies the topic's changed settings: to the log, and to the leader rules (`min.insync.replicas`),
    /// which otherwise take them when the broker becomes leader.
    pub(crate) fn set_config(&self, config: storage::LogConfig) {
        self.log.set_config(config);
        let leader_config = self.leader_config();
        let _ = self.with_leader(|l| l.set_config(leader_config));
    }

    /// `NOT_ENOUGH_REPLICAS` before an `acks=all` append when the committed ISR is smaller than
    /// `min.insync.replicas` (capped at the replication factor), as Kafka checks in `appendRecordsToLeader`.
    pub(crate) fn check_min_isr_for_acks_all(&self) -> Result<(), ErrorCode> {
        match self.with_leader(|l| l.check_min_isr_for_acks_all()) {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => {
                tracing::debug!(topic = %self.topic, partition = self.index, error = %e, "acks=all refused");
                Err(ErrorCode::NotEnoughReplicas)
            }
            None => Err(ErrorCode::NotLeaderOrFollower),
        }
    }

    /// How a waiting `acks=all` produce of a batch ending before `required_offset`, appended in
    /// `leader_epoch`, completes: `None` while the high watermark is below it; `NOT_LEADER_OR_FOLLOWER`
    /// once this broker no longer leads in that epoch (the batch may be truncated by the new leader);
    /// `NOT_ENOUGH_REPLICAS_AFTER_APPEND` when committed with the ISR below the minimum (Kafka's
    /// `checkEnoughReplicasReachOffset`).
    pub(crate) fn acks_all_outcome(&self, required_offset: i64, leader_epoch: i32) -> Option<ErrorCode> {
        if self.deleted.load(Ordering::Acquire) {
            return Some(ErrorCode::UnknownTopicOrPartition);
        }
        if !self.is_leader() {
            return Some(ErrorCode::NotLeaderOrFollower);
        }
        match self.with_leader(|l| (l.leader_epoch(), l.acks_all_complete(required_offset))) {
            Some((epoch, _)) if epoch != leader_epoch => Some(ErrorCode::NotLeaderOrFollower),
            Some((_, None)) => None,
            Some((_, Some(AckOutcome::Ok))) => Some(ErrorCode::None),
            Some((_, Some(AckOutcome::NotEnoughReplicasAfterAppend))) => Some(ErrorCode::NotEnoughReplicasAfterAppend),
            None => Some(ErrorCode::NotLeaderOrFollower),
        }
    }

    /// The periodic ISR check (`maybeShrinkIsr`) of a partition led here.
    pub(crate) fn tick(&self) {
        if let Some(actions) = self.with_leader(|l| l.handle(LeaderEvent::Tick { now_ms: mono_ms() })) {
            self.carry_out(actions);
        }
    }

    /// The controller committed an ISR change this leader proposed (or the same leader epoch's state came
    /// with the metadata).
    pub(crate) fn isr_committed(&self, leader_epoch: i32, isr: Vec<i32>, partition_epoch: i32) {
        let actions = self.with_leader(|l| {
            if l.leader_epoch() != leader_epoch {
                return Vec::new();
            }
            l.handle(LeaderEvent::IsrCommitted {
                isr,
                partition_epoch,
                now_ms: mono_ms(),
            })
        });
        self.carry_out(actions.unwrap_or_default());
    }

    /// The controller refused proposal `id` without applying it (`OPERATION_NOT_ATTEMPTED`,
    /// `INELIGIBLE_REPLICA`): the leader goes back to the committed ISR.
    pub(crate) fn isr_rejected(&self, id: u64) {
        let actions = self.with_leader(|l| {
            l.handle(LeaderEvent::IsrRejected {
                proposal_id: id,
                now_ms: mono_ms(),
            })
        });
        self.carry_out(actions.unwrap_or_default());
    }

    /// Whether proposal `id` is still the one in flight (a retry of an unanswered AlterPartition).
    pub(crate) fn proposal_pending(&self, id: u64) -> Option<IsrProposal> {
        self.with_leader(|l| l.pending_proposal().filter(|p| p.id == id).cloned())
            .flatten()
    }

    /// On the leader: its replicas' state (`None` on other replicas).
    pub(crate) fn leader_view(&self) -> Option<LeaderView> {
        self.with_leader(|l| {
            let leo = l.log_end_offset();
            LeaderView {
                under_replicated: l.isr().len() < l.replicas().len(),
                under_min_isr: l.isr().len() < l.effective_min_isr(),
                follower_lags: l
                    .replicas()
                    .iter()
                    .map(|id| {
                        let end = if *id == self.local_id() {
                            Some(leo)
                        } else {
                            l.follower_log_end_offset(*id)
                        };
                        (*id, end.map(|f| (leo - f).max(0)))
                    })
                    .collect(),
            }
        })
    }

    /// True when an append to this log may sync: the flush policy of its log (its topic's
    /// `flush.messages`/`flush.ms`, or the broker's) is set. A follower's appends then run on a blocking
    /// thread.
    pub(crate) fn flush_may_sync(&self) -> bool {
        let config = self.log.config();
        config.flush_messages < i64::MAX || config.flush_ms < i64::MAX
    }

    /// The leader this replica follows (`None` when it leads, has no role yet, or no leader is known).
    pub(crate) fn followed_leader(&self) -> Option<i32> {
        match &*self.lock_role() {
            Role::Follower(f) if f.leader() >= 0 && !self.deleted.load(Ordering::Acquire) => Some(f.leader()),
            _ => None,
        }
    }

    /// On a follower of `leader`: what its next fetch asks for; `None` when it does not follow `leader`
    /// (any more), or the partition is deleted.
    pub(crate) fn fetch_position(&self, leader: i32) -> Option<FetchPosition> {
        if self.deleted.load(Ordering::Acquire) {
            return None;
        }
        match &*self.lock_role() {
            Role::Follower(f) if f.leader() == leader && leader >= 0 => Some(f.fetch_position(&LogEpochs(&self.log))),
            _ => None,
        }
    }

    /// On a follower: carries out the leader's answer to a fetch sent as `sent` (Kafka's
    /// `processPartitionData`/`truncateOnFetchResponse`): appends the batches verbatim with the leader's
    /// offsets and epochs, truncates a diverging tail, and follows the leader's high watermark and log
    /// start. An answer to a fetch the follower no longer stands by (another leader, epoch or offset) is
    /// dropped; records that do not continue the log are refused. After a truncation or any failure the
    /// follower rules start again from the log as it is. Blocking (file writes).
    pub(crate) fn follower_fetched_from_leader(&self, sent: &FetchPosition, answer: Fetched) -> Result<(), String> {
        let mut role = self.lock_role();
        let Role::Follower(follower) = &mut *role else {
            return Ok(());
        };
        if follower.leader() != sent.leader || self.deleted.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut fetch_offset = sent.fetch_offset;
        let (response, records) = match answer {
            Fetched::Records {
                records,
                high_watermark,
                log_start_offset,
            } => {
                // Whole, contiguous batches only (a leader may end a response inside one); their end is the
                // next offset.
                let mut len = 0;
                let mut first = None;
                let mut next_offset = fetch_offset;
                while len < records.len() {
                    let Ok((batch, size)) = RecordBatch::parse(&records[len..]) else {
                        break;
                    };
                    let h = batch.header();
                    let Some(end) = h.base_offset().checked_add(i64::from(h.last_offset_delta()) + 1) else {
                        return Err(format!("a batch at offset {} overflows", h.base_offset()));
                    };
                    if first.is_some() && h.base_offset() != next_offset {
                        return Err(format!("batches at {} after {next_offset}", h.base_offset()));
                    }
                    first.get_or_insert(h.base_offset());
                    next_offset = end;
                    len += size;
                }
                if let Some(first) = first.filter(|f| *f != fetch_offset) {
                    let empty = self.log.log_start_offset() == self.log.log_end_offset();
                    if !(empty && first < fetch_offset) {
                        self.resync(follower);
                        return Err(format!("the leader's records start at {first}, not at {fetch_offset}"));
                    }
                    // An empty log restarted at the leader's log start, which is inside a batch (after
                    // DeleteRecords): it starts at that batch instead (Kafka's UnexpectedAppendOffset case).
                    self.log
                        .truncate_fully_and_start_at(first)
                        .map_err(|e| format!("restarting the log at {first}: {e}"))?;
                    self.resync(follower);
                    fetch_offset = first;
                }
                (
                    FetchResponse::Records {
                        leader_epoch: sent.current_leader_epoch,
                        fetch_offset,
                        next_offset,
                        high_watermark,
                        log_start_offset,
                    },
                    records.slice(..len),
                )
            }
            Fetched::Diverging { epoch, end_offset } => (
                FetchResponse::Diverging {
                    leader_epoch: sent.current_leader_epoch,
                    fetch_offset,
                    diverging: EpochEndOffset { epoch, end_offset },
                },
                Bytes::new(),
            ),
        };
        let actions = follower.handle(&LogEpochs(&self.log), response);
        let mut truncated = false;
        let result = actions.into_iter().try_for_each(|action| match action {
            FollowerAction::Truncate { offset } => {
                truncated = true;
                tracing::info!(topic = %self.topic, partition = self.index, offset, log_end_offset = self.log.log_end_offset(), "truncating a diverging tail");
                self.log
                    .truncate_to(offset)
                    .map_err(|e| format!("truncating to {offset}: {e}"))
            }
            FollowerAction::Append { log_end_offset } => self
                .log
                .append_as_follower(&records)
                .map(drop)
                .map_err(|e| format!("appending up to {log_end_offset}: {e}")),
            FollowerAction::HighWatermark(hw) => {
                self.high_watermark.fetch_max(hw, Ordering::AcqRel);
                Ok(())
            }
            FollowerAction::LogStartOffset(start) => self
                .log
                .delete_records_before(start)
                .map(drop)
                .map_err(|e| format!("raising the log start to {start}: {e}")),
        });
        // The rules assumed every action succeeded, and a truncation may cut further back (to a batch start):
        // the log itself is the truth.
        if truncated || result.is_err() {
            self.resync(follower);
        }
        result
    }

    /// Starts the follower rules again from the log as it is (after a truncation or a failed action); the
    /// published high watermark is kept within the log.
    fn resync(&self, follower: &mut Follower) {
        let end = self.log.log_end_offset();
        self.high_watermark.fetch_min(end, Ordering::AcqRel);
        *follower = Follower::new(
            self.local_id(),
            follower.leader(),
            follower.leader_epoch(),
            self.log.log_start_offset(),
            end,
            self.high_watermark(),
        );
    }

    /// On a follower whose fetch offset is out of the leader's range (Kafka's `handleOutOfRangeError`): a
    /// log that ends past the leader's is truncated to the leader's end; one that ends before the leader's
    /// start restarts empty at the leader's start (`truncateFullyAndStartAt`). Blocking.
    pub(crate) fn follower_out_of_range(&self, leader_start: i64, leader_end: i64) -> Result<(), String> {
        let mut role = self.lock_role();
        let Role::Follower(follower) = &mut *role else {
            return Ok(());
        };
        let leo = self.log.log_end_offset();
        let result = if leo > leader_end {
            tracing::warn!(topic = %self.topic, partition = self.index, log_end_offset = leo, leader_end, "the log ends past the leader's: truncating to it");
            self.log.truncate_to(leader_end).map_err(|e| e.to_string())
        } else if leo < leader_start {
            tracing::warn!(topic = %self.topic, partition = self.index, log_end_offset = leo, leader_start, "the log ends before the leader's log start: starting again there");
            self.log
                .truncate_fully_and_start_at(leader_start)
                .map_err(|e| e.to_string())
        } else {
            Ok(())
        };
        self.resync(follower);
        result
    }

    /// True when appending `header`'s batch may block: the flush policy can make the append sync
    /// ([`Partition::flush_may_sync`]), or the idempotent producer state must first be rebuilt from the
    /// log. The caller then appends on a blocking thread.
    pub(crate) fn append_may_block(&self, header: &BatchHeader<'_>) -> bool {
        self.flush_may_sync()
            || (header.producer_id() >= 0 && self.producers.lock().unwrap_or_else(|p| p.into_inner()).is_none())
    }

    /// Validates and appends a producer's batch (one per partition per request): header checks, the
    /// idempotent-producer sequence rules, then the log append stamped with the leader epoch. Publishes
    /// the new high watermark and wakes the operations waiting on this partition.
    ///
    /// The `producers` lock is held from the leadership check to the end of the append: `apply_state`
    /// takes it first, so the role cannot change in between (Kafka's `leaderIsrUpdateLock`), and no batch
    /// lands in a log that has just become a follower's.
    pub(crate) fn append_records(&self, bytes: &[u8], produce_version: i16) -> Result<Appended, ErrorCode> {
        self.check_exists()?;
        let header = parse_header(bytes, produce_version)?;
        let mut guard = self.producers.lock().unwrap_or_else(|p| p.into_inner());
        self.check_exists()?;
        let leader_epoch = self
            .with_leader(|l| l.leader_epoch())
            .ok_or(ErrorCode::NotLeaderOrFollower)?;
        let appended = if header.producer_id() >= 0 {
            let (pid, epoch, first) = (header.producer_id(), header.producer_epoch(), header.base_sequence());
            let last = last_sequence(first, header.last_offset_delta());
            let states = guard.get_or_insert_with(|| self.rebuild_producers());
            match states.check(pid, epoch, first, last)? {
                Sequence::Duplicate(base_offset) => {
                    return Ok(Appended {
                        base_offset,
                        required_offset: base_offset + i64::from(header.last_offset_delta()) + 1,
                        log_start_offset: self.log.log_start_offset(),
                        duplicate: true,
                        leader_epoch,
                    })
                }
                Sequence::Append => {
                    let appended = self.append_to_log(bytes, leader_epoch)?;
                    states.record(pid, epoch, first, last, appended.base_offset, header.max_timestamp());
                    appended
                }
            }
        } else {
            self.append_to_log(bytes, leader_epoch)?
        };
        if let Some(actions) = self.with_leader(|l| {
            l.handle(LeaderEvent::LocalAppend {
                log_end_offset: appended.required_offset,
                now_ms: mono_ms(),
            })
        }) {
            self.carry_out(actions);
        }
        drop(guard);
        // Followers wait for the log end, consumers and acks=all produces for the high watermark.
        self.watchers.wake();
        Ok(appended)
    }

    fn append_to_log(&self, bytes: &[u8], leader_epoch: i32) -> Result<Appended, ErrorCode> {
        let info = self.log.append(bytes, leader_epoch).map_err(|e| {
            let code = storage_error_code(&e);
            if code == ErrorCode::KafkaStorageError {
                tracing::error!(topic = %self.topic, partition = self.index, error = %e, "append failed");
            }
            code
        })?;
        Ok(Appended {
            base_offset: info.base_offset,
            required_offset: info.last_offset + 1,
            log_start_offset: info.log_start_offset,
            duplicate: false,
            leader_epoch,
        })
    }

    /// The idempotent producers this partition knows (rebuilt from the log first if needed): (id,
    /// epoch, last sequence, last timestamp).
    pub(crate) fn producers(&self) -> Vec<(i64, i16, i32, i64)> {
        let mut guard = self.producers.lock().unwrap_or_else(|p| p.into_inner());
        guard.get_or_insert_with(|| self.rebuild_producers()).describe()
    }

    fn rebuild_producers(&self) -> ProducerStates {
        match self.log.producer_batches(REBUILD_BYTES) {
            Ok(batches) => ProducerStates::rebuild(batches),
            Err(e) => {
                tracing::warn!(topic = %self.topic, partition = self.index, error = %e, "cannot rebuild producer state from the log");
                ProducerStates::default()
            }
        }
    }

    /// Records a follower's fetch position (its log end offset) on the leader; `NOT_LEADER_OR_FOLLOWER`
    /// when `replica` is not one of this partition's followers, or this broker does not lead, as Kafka
    /// answers. The caller reports only fetches that passed the epoch check and did not diverge.
    pub(crate) fn follower_fetched(&self, replica: i32, fetch_offset: i64) -> Result<(), ErrorCode> {
        let actions = self
            .with_leader(|l| l.follower_fetch(replica, fetch_offset, mono_ms()))
            .ok_or(ErrorCode::NotLeaderOrFollower)?
            .map_err(|_| ErrorCode::NotLeaderOrFollower)?;
        self.carry_out(actions);
        Ok(())
    }

    /// Locates records from `fetch_offset`, at most `max_bytes` past the first batch, up to `bound`.
    pub(crate) fn read(&self, fetch_offset: i64, max_bytes: u64, bound: ReadBound) -> Result<ReadInfo, ErrorCode> {
        self.check_exists()?;
        let upper = match bound {
            ReadBound::HighWatermark | ReadBound::LastStableOffset => self.high_watermark(),
            ReadBound::LogEnd => i64::MAX,
        };
        self.log
            .read(fetch_offset, max_bytes, upper)
            .map_err(|e| storage_error_code(&e))
    }
}

/// Parses a produced batch's header with the checks that need the request version (also used to decide
/// where to append it, see [`Partition::append_may_block`]).
pub(crate) fn parse_header(bytes: &[u8], produce_version: i16) -> Result<BatchHeader<'_>, ErrorCode> {
    let header = BatchHeader::parse(bytes).map_err(|e| match e {
        protocol::record::BatchError::UnsupportedMagic { .. } => ErrorCode::InvalidRecord,
        other => other.error_code(),
    })?;
    // Zstd needs Produce v7+ (KIP-110), as Kafka checks.
    if header.compression() == Ok(Compression::Zstd) && produce_version < 7 {
        return Err(ErrorCode::UnsupportedCompressionType);
    }
    Ok(header)
}
