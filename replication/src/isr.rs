//! The leader of one partition with ISR management: the committed ISR and partition epoch from the
//! controller, each follower's log end offset and caught-up time, ISR expand/shrink proposals
//! (AlterPartition, one in flight), the high watermark over the maximal ISR and the `acks=all` checks.
//!
//! Kafka sources: `Partition.updateFollowerFetchState/maybeExpandIsr/maybeShrinkIsr/
//! getOutOfSyncReplicas/maybeIncrementLeaderHW/checkEnoughReplicasReachOffset/appendRecordsToLeader`,
//! `Replica.updateFetchStateOrThrow/isCaughtUp`, and the AlterPartition handling of
//! `Partition.sendAlterPartitionRequest/handleAlterPartitionError`.

/// A follower fetch from a broker that is not one of the partition's followers (Kafka answers it
/// `NOT_LEADER_OR_FOLLOWER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("broker {replica} is not a replica of this partition")]
pub struct NotAReplica {
    /// The broker that fetched.
    pub replica: i32,
}

/// How long a leader waits before proposing an ISR expansion again after the controller refused one
/// (`OPERATION_NOT_ATTEMPTED`, `INELIGIBLE_REPLICA`).
pub const EXPANSION_BACKOFF_MS: u64 = 1_000;

/// The leader's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderConfig {
    /// `replica.lag.time.max.ms`: a follower that has not been caught up for longer leaves the ISR.
    pub replica_lag_time_max_ms: u64,
    /// `min.insync.replicas` of the topic.
    pub min_insync_replicas: usize,
}

impl Default for LeaderConfig {
    /// Kafka's defaults: 30000 ms and 1.
    fn default() -> LeaderConfig {
        LeaderConfig {
            replica_lag_time_max_ms: 30_000,
            min_insync_replicas: 1,
        }
    }
}

/// What a broker knows when it becomes (or is re-confirmed as) leader at a new leader epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLeader {
    /// This broker's id.
    pub local: i32,
    /// The assigned replicas, in assignment order (the leader is added if missing).
    pub replicas: Vec<i32>,
    /// The committed ISR from the controller (the leader is added if missing).
    pub isr: Vec<i32>,
    /// The leader epoch this broker leads in.
    pub leader_epoch: i32,
    /// The committed partition epoch.
    pub partition_epoch: i32,
    /// The local log end offset now; it is also the start offset of the new epoch, which the caller must
    /// record in its leader-epoch cache (`maybeAssignEpochStartOffset`).
    pub log_end_offset: i64,
    /// The high watermark the local log had (as a follower or from its checkpoint); it never goes back.
    pub high_watermark: i64,
    /// The current time.
    pub now_ms: u64,
}

/// An ISR change the leader wants committed: the caller sends AlterPartition with these fields and
/// reports the answer as [`LeaderEvent::IsrCommitted`] or [`LeaderEvent::IsrRejected`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsrProposal {
    /// Identifies this proposal (a counter per [`LeaderState`]); a late rejection of an earlier proposal
    /// must not cancel a later one.
    pub id: u64,
    /// The leader epoch the request carries.
    pub leader_epoch: i32,
    /// The partition epoch the request is based on (the last committed one).
    pub partition_epoch: i32,
    /// The proposed ISR, in assignment order.
    pub isr: Vec<i32>,
}

/// Something that happened to a partition this broker leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaderEvent {
    /// The local log grew (or, with an explicit flush policy, its durable part grew) to `log_end_offset`.
    LocalAppend {
        /// The leader's new log end offset.
        log_end_offset: i64,
        /// The current time.
        now_ms: u64,
    },
    /// A follower fetched from `fetch_offset` (its log end offset) and the fetch did not diverge.
    FollowerFetch {
        /// The follower's broker id.
        replica: i32,
        /// The offset it fetched from.
        fetch_offset: i64,
        /// The time of the fetch.
        now_ms: u64,
    },
    /// Time passed: the ISR shrink check (Kafka runs it every `replica.lag.time.max.ms / 2`).
    Tick {
        /// The current time.
        now_ms: u64,
    },
    /// The controller's committed state for this leader epoch: an AlterPartition response, or a metadata
    /// update with the same leader epoch. Ignored unless `partition_epoch` is newer than the known one.
    IsrCommitted {
        /// The committed ISR.
        isr: Vec<i32>,
        /// Its partition epoch.
        partition_epoch: i32,
        /// The current time.
        now_ms: u64,
    },
    /// The controller answered the proposal `proposal_id` with `OPERATION_NOT_ATTEMPTED` or
    /// `INELIGIBLE_REPLICA`: it was not applied, so the leader falls back to the committed ISR. (For other
    /// errors the caller reports nothing and waits for metadata, as Kafka does.)
    IsrRejected {
        /// The [`IsrProposal::id`] that was rejected.
        proposal_id: u64,
        /// The current time.
        now_ms: u64,
    },
}

/// What the caller must do after a [`LeaderEvent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaderAction {
    /// Publish this high watermark (it moved forward): readers see more, waiting `acks=all` produces
    /// ([`LeaderState::acks_all_complete`]) and consumer fetches must be re-checked.
    HighWatermark(i64),
    /// Send AlterPartition with this proposal to the controller (re-send it if no answer comes; at most one
    /// is in flight).
    ProposeIsr(IsrProposal),
}

/// `NOT_ENOUGH_REPLICAS` (19): an `acks=all` produce was refused before appending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the ISR has {isr_size} replicas, fewer than the {min_insync_replicas} required")]
pub struct NotEnoughReplicas {
    /// The committed ISR's size.
    pub isr_size: usize,
    /// `min(min.insync.replicas, replication factor)`.
    pub min_insync_replicas: usize,
}

/// How a waiting `acks=all` produce completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckOutcome {
    /// `NONE`: the records are committed with enough replicas.
    Ok,
    /// `NOT_ENOUGH_REPLICAS_AFTER_APPEND` (20): committed, but the maximal ISR fell below the minimum after
    /// the append (the data is written).
    NotEnoughReplicasAfterAppend,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FollowerState {
    id: i32,
    /// `None` until the follower fetches under this leader (Kafka's unknown offset).
    log_end_offset: Option<i64>,
    /// The leader's log end offset at the previous fetch.
    last_fetch_leader_log_end_offset: Option<i64>,
    last_fetch_ms: u64,
    /// `None`: never caught up under this leader (Kafka's 0, "long ago").
    last_caught_up_ms: Option<u64>,
}

/// The leader's view of one partition with ISR management.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderState {
    config: LeaderConfig,
    local: i32,
    leader_epoch: i32,
    /// In assignment order; contains `local`; unique.
    replicas: Vec<i32>,
    /// The committed ISR; contains `local` (the leader always counts).
    isr: Vec<i32>,
    partition_epoch: i32,
    /// INVARIANT: at most one proposal in flight, based on `partition_epoch`.
    pending: Option<IsrProposal>,
    next_proposal_id: u64,
    /// No expansion is proposed before this time: the controller refused the last one (a follower that is
    /// fenced or shutting down keeps fetching, and would otherwise be proposed on every fetch).
    no_expansion_before_ms: u64,
    followers: Vec<FollowerState>,
    log_end_offset: i64,
    epoch_start_offset: i64,
    /// INVARIANT: never decreases; never above `log_end_offset` once it moved.
    high_watermark: i64,
}

impl LeaderState {
    /// A leader for the partition described by `init`. Followers in the ISR count as caught up now (so that
    /// they are not shrunk at once); their log end offsets are unknown until they fetch, which holds the high
    /// watermark back. The returned state may already have a higher watermark (e.g. a single replica); read
    /// it with [`LeaderState::high_watermark`].
    pub fn new(init: NewLeader, config: LeaderConfig) -> LeaderState {
        let mut replicas = Vec::with_capacity(init.replicas.len() + 1);
        for id in init.replicas.iter().copied().chain([init.local]) {
            if !replicas.contains(&id) {
                replicas.push(id);
            }
        }
        let mut isr: Vec<i32> = replicas
            .iter()
            .copied()
            .filter(|id| *id == init.local || init.isr.contains(id))
            .collect();
        isr.dedup();
        let followers = replicas
            .iter()
            .filter(|id| **id != init.local)
            .map(|id| FollowerState {
                id: *id,
                log_end_offset: None,
                last_fetch_leader_log_end_offset: None,
                last_fetch_ms: 0,
                last_caught_up_ms: isr.contains(id).then_some(init.now_ms),
            })
            .collect();
        let mut state = LeaderState {
            config,
            local: init.local,
            leader_epoch: init.leader_epoch,
            replicas,
            isr,
            partition_epoch: init.partition_epoch,
            pending: None,
            next_proposal_id: 0,
            no_expansion_before_ms: 0,
            followers,
            log_end_offset: init.log_end_offset,
            epoch_start_offset: init.log_end_offset,
            high_watermark: init.high_watermark.max(0),
        };
        state.maybe_advance(init.now_ms);
        state
    }

    /// Replaces the settings (a topic's `min.insync.replicas` changed); they apply from the next event.
    pub fn set_config(&mut self, config: LeaderConfig) {
        self.config = config;
    }

    /// The settings.
    pub fn config(&self) -> LeaderConfig {
        self.config
    }

    /// The current high watermark.
    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }

    /// The leader's log end offset as last reported.
    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset
    }

    /// The leader epoch this state leads in.
    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch
    }

    /// The leader's log end offset when it became leader (`leaderEpochStartOffsetOpt`).
    pub fn leader_epoch_start_offset(&self) -> i64 {
        self.epoch_start_offset
    }

    /// The last committed partition epoch.
    pub fn partition_epoch(&self) -> i32 {
        self.partition_epoch
    }

    /// The assigned replicas, in assignment order.
    pub fn replicas(&self) -> &[i32] {
        &self.replicas
    }

    /// The committed ISR, in assignment order.
    pub fn isr(&self) -> &[i32] {
        &self.isr
    }

    /// The committed ISR plus any member of the in-flight proposal (Kafka's `maximalIsr`).
    pub fn maximal_isr(&self) -> Vec<i32> {
        self.replicas
            .iter()
            .copied()
            .filter(|id| self.in_maximal_isr(*id))
            .collect()
    }

    /// The AlterPartition proposal in flight, if any (the caller re-sends it until answered).
    pub fn pending_proposal(&self) -> Option<&IsrProposal> {
        self.pending.as_ref()
    }

    /// A follower's log end offset as this leader knows it (`None`: not fetched yet, or not a follower).
    pub fn follower_log_end_offset(&self, replica: i32) -> Option<i64> {
        self.followers
            .iter()
            .find(|f| f.id == replica)
            .and_then(|f| f.log_end_offset)
    }

    /// True if `replica` is one of the partition's followers (not the leader itself).
    pub fn is_follower(&self, replica: i32) -> bool {
        self.followers.iter().any(|f| f.id == replica)
    }

    /// `min(min.insync.replicas, replication factor)`.
    pub fn effective_min_isr(&self) -> usize {
        self.config.min_insync_replicas.min(self.replicas.len()).max(1)
    }

    /// Before appending an `acks=all` produce: `NOT_ENOUGH_REPLICAS` when the committed ISR is smaller
    /// than [`LeaderState::effective_min_isr`] (nothing must be written then). `acks=0/1` skip this check.
    pub fn check_min_isr_for_acks_all(&self) -> Result<(), NotEnoughReplicas> {
        let min = self.effective_min_isr();
        if self.isr.len() < min {
            Err(NotEnoughReplicas {
                isr_size: self.isr.len(),
                min_insync_replicas: min,
            })
        } else {
            Ok(())
        }
    }

    /// Whether an `acks=all` produce waiting for `required_offset` (its last offset + 1) is done: `None`
    /// while the high watermark is below it; then [`AckOutcome::Ok`] if the maximal ISR still has
    /// the minimum size, else [`AckOutcome::NotEnoughReplicasAfterAppend`].
    pub fn acks_all_complete(&self, required_offset: i64) -> Option<AckOutcome> {
        (self.high_watermark >= required_offset).then(|| {
            if self.effective_min_isr() <= self.maximal_isr().len() {
                AckOutcome::Ok
            } else {
                AckOutcome::NotEnoughReplicasAfterAppend
            }
        })
    }

    /// Applies an event; returns what the caller must do, in order. A fetch from a broker that is not a
    /// follower is ignored here; [`LeaderState::follower_fetch`] reports it.
    pub fn handle(&mut self, event: LeaderEvent) -> Vec<LeaderAction> {
        match event {
            LeaderEvent::LocalAppend { log_end_offset, now_ms } => {
                self.log_end_offset = self.log_end_offset.max(log_end_offset);
                self.maybe_advance(now_ms).into_iter().collect()
            }
            LeaderEvent::FollowerFetch {
                replica,
                fetch_offset,
                now_ms,
            } => self.follower_fetch(replica, fetch_offset, now_ms).unwrap_or_default(),
            LeaderEvent::Tick { now_ms } => {
                let mut actions: Vec<LeaderAction> = self.maybe_shrink(now_ms).into_iter().collect();
                actions.extend(self.maybe_advance(now_ms));
                actions
            }
            LeaderEvent::IsrCommitted {
                isr,
                partition_epoch,
                now_ms,
            } => {
                if partition_epoch <= self.partition_epoch {
                    return Vec::new();
                }
                self.partition_epoch = partition_epoch;
                self.isr = self
                    .replicas
                    .iter()
                    .copied()
                    .filter(|id| *id == self.local || isr.contains(id))
                    .collect();
                // Any proposal was based on an older partition epoch: it is either part of this state or
                // will be refused by the controller.
                self.pending = None;
                self.maybe_advance(now_ms).into_iter().collect()
            }
            LeaderEvent::IsrRejected { proposal_id, now_ms } => {
                if let Some(p) = self.pending.take_if(|p| p.id == proposal_id) {
                    if p.isr.len() > self.isr.len() {
                        self.no_expansion_before_ms = now_ms.saturating_add(EXPANSION_BACKOFF_MS);
                    }
                }
                self.maybe_advance(now_ms).into_iter().collect()
            }
        }
    }

    /// Records a follower's fetch position (`Replica.updateFetchStateOrThrow`), proposes adding it to the
    /// ISR if it caught up, and moves the high watermark; an error if `replica` is not one of the
    /// partition's followers (Kafka answers `NOT_LEADER_OR_FOLLOWER`). The caller must only report fetches
    /// that passed the leader-epoch check and did not diverge ([`crate::diverging_epoch`]).
    pub fn follower_fetch(
        &mut self,
        replica: i32,
        fetch_offset: i64,
        now_ms: u64,
    ) -> Result<Vec<LeaderAction>, NotAReplica> {
        let leader_leo = self.log_end_offset;
        let f = self
            .followers
            .iter_mut()
            .find(|f| f.id == replica)
            .ok_or(NotAReplica { replica })?;
        let fetch_offset = fetch_offset.max(0);
        if fetch_offset >= leader_leo {
            f.last_caught_up_ms = f.last_caught_up_ms.max(Some(now_ms));
        } else if f
            .last_fetch_leader_log_end_offset
            .is_some_and(|prev| fetch_offset >= prev)
        {
            f.last_caught_up_ms = f.last_caught_up_ms.max(Some(f.last_fetch_ms));
        }
        f.log_end_offset = Some(fetch_offset);
        f.last_fetch_leader_log_end_offset = Some(
            f.last_fetch_leader_log_end_offset
                .map_or(leader_leo, |p| p.max(leader_leo)),
        );
        f.last_fetch_ms = now_ms;
        let mut actions: Vec<LeaderAction> = self.maybe_expand(replica, now_ms).into_iter().collect();
        actions.extend(self.maybe_advance(now_ms));
        Ok(actions)
    }

    fn in_maximal_isr(&self, id: i32) -> bool {
        self.isr.contains(&id) || self.pending.as_ref().is_some_and(|p| p.isr.contains(&id))
    }

    fn caught_up(&self, f: &FollowerState, now_ms: u64) -> bool {
        f.log_end_offset == Some(self.log_end_offset)
            || f.last_caught_up_ms
                .is_some_and(|t| now_ms.saturating_sub(t) <= self.config.replica_lag_time_max_ms)
    }

    fn propose(&mut self, isr: Vec<i32>) -> LeaderAction {
        let proposal = IsrProposal {
            id: self.next_proposal_id,
            leader_epoch: self.leader_epoch,
            partition_epoch: self.partition_epoch,
            isr,
        };
        self.next_proposal_id += 1;
        self.pending = Some(proposal.clone());
        LeaderAction::ProposeIsr(proposal)
    }

    /// `maybeExpandIsr`: the follower is not in the ISR, its log end is at least the high watermark and
    /// the start offset of this leader's epoch, nothing is in flight, and no expansion was refused in the
    /// last [`EXPANSION_BACKOFF_MS`].
    fn maybe_expand(&mut self, replica: i32, now_ms: u64) -> Option<LeaderAction> {
        if self.pending.is_some() || self.isr.contains(&replica) || now_ms < self.no_expansion_before_ms {
            return None;
        }
        let leo = self.follower_log_end_offset(replica)?;
        if leo < self.high_watermark || leo < self.epoch_start_offset {
            return None;
        }
        let isr = self
            .replicas
            .iter()
            .copied()
            .filter(|id| *id == replica || self.isr.contains(id))
            .collect();
        Some(self.propose(isr))
    }

    /// `maybeShrinkIsr`: drop the ISR followers that are out of sync, if nothing is in flight.
    fn maybe_shrink(&mut self, now_ms: u64) -> Option<LeaderAction> {
        if self.pending.is_some() {
            return None;
        }
        let out: Vec<i32> = self
            .followers
            .iter()
            .filter(|f| self.isr.contains(&f.id) && !self.caught_up(f, now_ms))
            .map(|f| f.id)
            .collect();
        if out.is_empty() {
            return None;
        }
        let isr = self.isr.iter().copied().filter(|id| !out.contains(id)).collect();
        Some(self.propose(isr))
    }

    /// `maybeIncrementLeaderHW`: the smallest log end offset among the leader, the maximal ISR and the
    /// caught-up followers; only forward; not while the committed ISR is below the minimum.
    fn maybe_advance(&mut self, now_ms: u64) -> Option<LeaderAction> {
        if self.isr.len() < self.effective_min_isr() {
            return None;
        }
        let mut candidate = self.log_end_offset;
        for f in &self.followers {
            if self.in_maximal_isr(f.id) || self.caught_up(f, now_ms) {
                // An unknown log end offset (Kafka's -1) holds the high watermark where it is.
                candidate = candidate.min(f.log_end_offset?);
            }
        }
        (candidate > self.high_watermark).then(|| {
            self.high_watermark = candidate;
            LeaderAction::HighWatermark(candidate)
        })
    }
}
