//! One partition: its log, leader epoch, high watermark, replica state, producer state and the
//! operations waiting on it. Everything about a partition is reachable from its [`Partition`]; nothing
//! lives in parallel maps keyed by topic and partition, so dropping the `Partition` drops all of it.
//!
//! The high watermark is a value of its own, published by the leader rules of the `replication` crate:
//! with one replica it follows the log end offset after every append; with followers it advances as they
//! fetch. Every reader uses it: consumer fetches (read-uncommitted, and read-committed since without
//! transactions the last stable offset equals it), ListOffsets' latest offset, retention and the metrics.
//! Replica fetches read up to the log end.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use protocol::record::{BatchHeader, Compression};
use protocol::ErrorCode;
use replication::{Action, EpochCheck, Event, Leader};
use storage::{Log, ReadInfo};

use crate::delayed::Watchers;
use crate::error::storage_error_code;
use crate::metrics::TopicMetrics;
use crate::producer_state::{last_sequence, ProducerStates, Sequence, REBUILD_BYTES};

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
}

/// One partition this broker hosts.
#[derive(Debug)]
pub(crate) struct Partition {
    pub(crate) topic: Arc<str>,
    pub(crate) index: i32,
    log: Arc<Log>,
    leader_epoch: AtomicI32,
    /// This broker's id.
    local_id: i32,
    /// The leader the metadata names (-1: none, or not known yet); only the leader serves produce and fetch.
    leader_id: AtomicI32,
    /// The partition epoch of the metadata applied last (-1: none yet); older states are ignored.
    partition_epoch: AtomicI32,
    /// The broker is fenced (shared by every partition): it leads nothing.
    fenced: Arc<AtomicBool>,
    /// Published by `leader`; read without a lock by every reader.
    high_watermark: AtomicI64,
    leader: Mutex<Leader>,
    /// `None` until the first idempotent produce since the broker started (then rebuilt from the log).
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
    /// A partition hosted by this broker (`local_id`) over an opened log. It serves nothing until the
    /// metadata gives it a role ([`Partition::apply_state`]).
    pub(crate) fn new(
        topic: Arc<str>,
        index: i32,
        log: Arc<Log>,
        local_id: i32,
        fenced: Arc<AtomicBool>,
        metrics: Arc<TopicMetrics>,
    ) -> Partition {
        let leader = Leader::new(local_id, &[local_id], log.log_end_offset());
        let epoch = log.latest_epoch().unwrap_or(0).max(0);
        Partition {
            topic,
            index,
            high_watermark: AtomicI64::new(leader.high_watermark()),
            leader: Mutex::new(leader),
            log,
            leader_epoch: AtomicI32::new(epoch),
            local_id,
            leader_id: AtomicI32::new(-1),
            partition_epoch: AtomicI32::new(-1),
            fenced,
            producers: Mutex::new(None),
            watchers: Watchers::default(),
            deleted: AtomicBool::new(false),
            metrics,
        }
    }

    /// Makes this broker the leader at `epoch` with `followers` fetching (tests of the follower paths;
    /// the metadata path is [`Partition::apply_state`]).
    #[cfg(test)]
    pub(crate) fn make_leader(&self, local_id: i32, epoch: i32, replicas: &[i32]) {
        self.lead(epoch, replicas);
        self.leader_id.store(local_id, Ordering::Release);
    }

    /// Kafka's `Partition.makeLeader`: records the epoch's start offset in the log's epoch cache (when it
    /// is newer than the log's last epoch) and resets the followers' fetch state; the high watermark never
    /// goes back.
    fn lead(&self, epoch: i32, replicas: &[i32]) {
        let leader = Leader::new(self.local_id, replicas, self.log.log_end_offset());
        let mut guard = self.lock_leader();
        if self.log.latest_epoch().is_none_or(|latest| epoch > latest) {
            if let Err(e) = self.log.assign_epoch_start(epoch) {
                tracing::warn!(topic = %self.topic, partition = self.index, error = %e, "cannot record the leader epoch's start");
            }
        }
        self.leader_epoch.store(epoch, Ordering::Release);
        self.high_watermark.fetch_max(leader.high_watermark(), Ordering::AcqRel);
        *guard = leader;
    }

    /// Applies the partition's registration from the metadata (`makeLeader`/`makeFollower` of Kafka's
    /// `ReplicaManager.applyDelta`): a state with an older partition epoch than the one applied is
    /// ignored. Becoming leader, or leading at a newer epoch, starts the epoch; a follower records the
    /// leader and its epoch. Waiting operations are woken to see the change. Until followers replicate,
    /// the high watermark waits for the leader alone.
    pub(crate) fn apply_state(&self, leader: i32, leader_epoch: i32, partition_epoch: i32) {
        if partition_epoch < self.partition_epoch.load(Ordering::Acquire) {
            return;
        }
        self.partition_epoch.store(partition_epoch, Ordering::Release);
        let was_leader = self.is_leader();
        if leader == self.local_id {
            if !was_leader || leader_epoch > self.leader_epoch() {
                self.lead(leader_epoch, &[self.local_id]);
                tracing::info!(topic = %self.topic, partition = self.index, leader_epoch, "leading");
            }
        } else {
            if was_leader {
                tracing::info!(topic = %self.topic, partition = self.index, leader, leader_epoch, "no longer leading");
            }
            self.leader_epoch.store(leader_epoch, Ordering::Release);
        }
        self.leader_id.store(leader, Ordering::Release);
        self.watchers.wake();
    }

    /// Does this broker lead the partition (as the metadata says, and not fenced)?
    pub(crate) fn is_leader(&self) -> bool {
        self.leader_id.load(Ordering::Acquire) == self.local_id && !self.fenced.load(Ordering::Acquire)
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

    fn lock_leader(&self) -> MutexGuard<'_, Leader> {
        self.leader.lock().unwrap_or_else(|p| p.into_inner())
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

    /// Carries out what the leader rules decided; true if readers or waiters must be told.
    fn apply(&self, action: Option<Action>) -> bool {
        match action {
            Some(Action::HighWatermark(hw)) => {
                self.high_watermark.fetch_max(hw, Ordering::AcqRel);
                true
            }
            None => false,
        }
    }

    /// True when appending `header`'s batch may block: the flush policy of this partition's log (its
    /// topic's `flush.messages`/`flush.ms`, or the broker's) can make the append sync, or the idempotent
    /// producer state must first be rebuilt from the log. The caller then appends on a blocking thread.
    pub(crate) fn append_may_block(&self, header: &BatchHeader<'_>) -> bool {
        let config = self.log.config();
        config.flush_messages < i64::MAX
            || config.flush_ms < i64::MAX
            || (header.producer_id() >= 0 && self.producers.lock().unwrap_or_else(|p| p.into_inner()).is_none())
    }

    /// Validates and appends a producer's batch (one per partition per request): header checks, the
    /// idempotent-producer sequence rules, then the log append stamped with the leader epoch. Publishes
    /// the new high watermark and wakes the operations waiting on this partition.
    pub(crate) fn append_records(&self, bytes: &[u8], produce_version: i16) -> Result<Appended, ErrorCode> {
        self.check_exists()?;
        let header = parse_header(bytes, produce_version)?;
        let appended = if header.producer_id() >= 0 {
            let (pid, epoch, first) = (header.producer_id(), header.producer_epoch(), header.base_sequence());
            let last = last_sequence(first, header.last_offset_delta());
            // Held across check and append, so the sequence rules see appends of this partition in order.
            let mut guard = self.producers.lock().unwrap_or_else(|p| p.into_inner());
            let states = guard.get_or_insert_with(|| self.rebuild_producers());
            match states.check(pid, epoch, first, last)? {
                Sequence::Duplicate(base_offset) => {
                    return Ok(Appended {
                        base_offset,
                        required_offset: base_offset + i64::from(header.last_offset_delta()) + 1,
                        log_start_offset: self.log.log_start_offset(),
                        duplicate: true,
                    })
                }
                Sequence::Append => {
                    let appended = self.append_to_log(bytes)?;
                    states.record(pid, epoch, first, last, appended.base_offset, header.max_timestamp());
                    appended
                }
            }
        } else {
            self.append_to_log(bytes)?
        };
        let action = self.lock_leader().handle(Event::LocalAppend {
            log_end_offset: appended.required_offset,
        });
        self.apply(action);
        // Followers wait for the log end, consumers and acks=all produces for the high watermark.
        self.watchers.wake();
        Ok(appended)
    }

    fn append_to_log(&self, bytes: &[u8]) -> Result<Appended, ErrorCode> {
        let info = self.log.append(bytes, self.leader_epoch()).map_err(|e| {
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

    /// Records a follower's fetch position (its log end offset); `NOT_LEADER_OR_FOLLOWER` when `replica` is
    /// not one of this partition's followers, as Kafka answers.
    pub(crate) fn follower_fetched(&self, replica: i32, fetch_offset: i64) -> Result<(), ErrorCode> {
        let action = self
            .lock_leader()
            .follower_fetch(replica, fetch_offset)
            .map_err(|_| ErrorCode::NotLeaderOrFollower)?;
        if self.apply(action) {
            self.watchers.wake();
        }
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
