//! The follower side of one partition: what to fetch, and what to do with the leader's answer.
//!
//! Kafka sources: `AbstractFetcherThread.processFetchRequest/truncateOnFetchResponse/
//! getOffsetTruncationState`, `ReplicaFetcherThread.processPartitionData`, `RemoteLeaderEndPoint.buildFetch`,
//! `UnifiedLog.appendAsFollower/truncateTo`.
//!
//! The follower fetches from its log end offset with `LastFetchedEpoch` = its latest epoch. The leader
//! either returns records (appended verbatim; then `follower HW = min(leader HW, own LEO)`) or a
//! `DivergingEpoch`, from which the follower computes its truncation offset and fetches again with the
//! epoch its log now ends in, until the logs agree.

use crate::{EpochEndOffset, EpochLookup};

/// What the follower's next Fetch asks for (one partition of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchPosition {
    /// The broker to send it to.
    pub leader: i32,
    /// `CurrentLeaderEpoch`: the leader refuses the fetch if its epoch differs.
    pub current_leader_epoch: i32,
    /// `FetchOffset`: the follower's log end offset.
    pub fetch_offset: i64,
    /// `LastFetchedEpoch` (`None` = -1: the log's epoch cache is empty).
    pub last_fetched_epoch: Option<i32>,
    /// `LogStartOffset` of the follower.
    pub log_start_offset: i64,
}

/// The leader's answer to a fetch, as far as the rules need it (the records themselves stay with the
/// caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchResponse {
    /// Records from `fetch_offset` up to (not including) `next_offset` (equal when none came back).
    Records {
        /// The leader epoch the request was sent with (answers to an older epoch are dropped).
        leader_epoch: i32,
        /// The fetch offset of the request.
        fetch_offset: i64,
        /// The offset after the last record returned.
        next_offset: i64,
        /// The leader's high watermark.
        high_watermark: i64,
        /// The leader's log start offset.
        log_start_offset: i64,
    },
    /// No records: the follower's log diverges from the leader's (`DivergingEpoch`).
    Diverging {
        /// The leader epoch the request was sent with.
        leader_epoch: i32,
        /// The fetch offset of the request.
        fetch_offset: i64,
        /// The leader's end offset for the largest epoch it has at most the follower's `LastFetchedEpoch`.
        diverging: EpochEndOffset,
    },
}

/// What the caller must do after a fetch response, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowerAction {
    /// Truncate the log to `offset` (remove everything at and after it) and the leader-epoch cache from
    /// `offset` (`truncateFromEnd`, even when the log is not longer: an epoch the follower started as leader
    /// with no records must go).
    Truncate {
        /// The new log end offset.
        offset: i64,
    },
    /// Append the response's batches verbatim (no offset assignment) and learn each batch's epoch in the
    /// leader-epoch cache; the log then ends at `log_end_offset`.
    Append {
        /// The log end offset after the append.
        log_end_offset: i64,
    },
    /// Publish this high watermark (it moved forward).
    HighWatermark(i64),
    /// Raise the log start offset to this (the leader's, bounded by the follower's high watermark).
    LogStartOffset(i64),
}

/// A follower of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Follower {
    local: i32,
    leader: i32,
    leader_epoch: i32,
    log_start_offset: i64,
    log_end_offset: i64,
    /// INVARIANT: never above `log_end_offset`; only forward except on a truncation below it.
    high_watermark: i64,
}

impl Follower {
    /// Broker `local` follows `leader` in `leader_epoch`; its log spans `[log_start_offset,
    /// log_end_offset)` and its high watermark is `high_watermark` (clamped to the log end).
    pub fn new(
        local: i32,
        leader: i32,
        leader_epoch: i32,
        log_start_offset: i64,
        log_end_offset: i64,
        high_watermark: i64,
    ) -> Follower {
        Follower {
            local,
            leader,
            leader_epoch,
            log_start_offset,
            log_end_offset,
            high_watermark: high_watermark.clamp(0, log_end_offset.max(0)),
        }
    }

    /// A new leader or epoch from the metadata (`makeFollower`): true if it is newer than the known one
    /// and was adopted; answers to fetches sent in the old epoch are ignored from now on.
    pub fn become_follower(&mut self, leader: i32, leader_epoch: i32) -> bool {
        if leader_epoch <= self.leader_epoch {
            return false;
        }
        self.leader = leader;
        self.leader_epoch = leader_epoch;
        true
    }

    /// This broker's id.
    pub fn local(&self) -> i32 {
        self.local
    }

    /// The leader it fetches from (-1: none).
    pub fn leader(&self) -> i32 {
        self.leader
    }

    /// The leader epoch it follows.
    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch
    }

    /// Its log end offset.
    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset
    }

    /// Its high watermark.
    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }

    /// Its log start offset.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// What to fetch next; `epochs` is the local log's leader-epoch cache.
    pub fn fetch_position(&self, epochs: &impl EpochLookup) -> FetchPosition {
        FetchPosition {
            leader: self.leader,
            current_leader_epoch: self.leader_epoch,
            fetch_offset: self.log_end_offset,
            last_fetched_epoch: epochs.latest_epoch(),
            log_start_offset: self.log_start_offset,
        }
    }

    /// Applies the leader's answer; `epochs` is the local log's leader-epoch cache as it is now (before any
    /// action is carried out). Answers to another epoch or another fetch offset (stale or duplicated) are
    /// dropped, as the fetcher drops responses whose fetch state changed.
    pub fn handle(&mut self, epochs: &impl EpochLookup, response: FetchResponse) -> Vec<FollowerAction> {
        let mut actions = Vec::new();
        match response {
            FetchResponse::Records {
                leader_epoch,
                fetch_offset,
                next_offset,
                high_watermark,
                log_start_offset,
            } => {
                if leader_epoch != self.leader_epoch || fetch_offset != self.log_end_offset {
                    return actions;
                }
                if next_offset > self.log_end_offset {
                    self.log_end_offset = next_offset;
                    actions.push(FollowerAction::Append {
                        log_end_offset: next_offset,
                    });
                }
                let hw = high_watermark.min(self.log_end_offset);
                if hw > self.high_watermark {
                    self.high_watermark = hw;
                    actions.push(FollowerAction::HighWatermark(hw));
                }
                let start = log_start_offset.min(self.high_watermark);
                if start > self.log_start_offset {
                    self.log_start_offset = start;
                    actions.push(FollowerAction::LogStartOffset(start));
                }
            }
            FetchResponse::Diverging {
                leader_epoch,
                fetch_offset,
                diverging,
            } => {
                if leader_epoch != self.leader_epoch || fetch_offset != self.log_end_offset {
                    return actions;
                }
                let offset = self.truncation_offset(epochs, diverging);
                self.log_end_offset = offset;
                // Kafka's truncateTo pulls the high watermark down with the log; the rules keep truncations
                // above it (the simulation checks that).
                self.high_watermark = self.high_watermark.min(offset);
                actions.push(FollowerAction::Truncate { offset });
            }
        }
        actions
    }

    /// `AbstractFetcherThread.getOffsetTruncationState` for the leader's `(epoch, end_offset)`.
    fn truncation_offset(&self, epochs: &impl EpochLookup, leader: EpochEndOffset) -> i64 {
        let leo = self.log_end_offset;
        if leader.end_offset < 0 {
            // Undefined: back to the initial fetch offset of a follower without epochs, its high watermark.
            return self.high_watermark.min(leo);
        }
        if leader.epoch < 0 {
            return leader.end_offset.min(leo);
        }
        match epochs.end_offset_for(leader.epoch, leo) {
            // The follower does not have the leader's epoch: go back to the end of its largest epoch below
            // it and ask again (the next fetch carries that epoch).
            Some(own) if own.epoch != leader.epoch => own.end_offset.min(leo),
            Some(own) => own.end_offset.min(leader.end_offset).min(leo),
            None => leader.end_offset.min(leo),
        }
    }
}
