//! Leader epochs: the KIP-320 check every fetch makes, the leader-epoch cache rules
//! (`LeaderEpochFileCache.assign/endOffsetFor/truncateFromEnd`) and the leader's divergence check on a
//! follower fetch (`Partition.readRecords`, KIP-595's `LastFetchedEpoch`/`DivergingEpoch`).
//!
//! Every fetch (and, in later versions, ListOffsets and OffsetForLeaderEpoch) carries the leader epoch
//! the client believes in, and the leader refuses a request whose epoch is not its own, so that a client
//! or follower with stale metadata learns it.

/// The outcome of comparing a request's `current_leader_epoch` with the partition's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochCheck {
    /// The request carries no epoch (-1) or the current one: serve it.
    Ok,
    /// The request's epoch is older than the leader's: `FENCED_LEADER_EPOCH` (the sender has old metadata).
    Fenced,
    /// The request's epoch is newer than the leader's: `UNKNOWN_LEADER_EPOCH` (this broker is behind).
    Unknown,
}

/// Compares the epoch a request carries (`requested`, -1 for "no check") with the partition's `current`
/// leader epoch, as Kafka's `Partition.validateLeaderEpoch` does.
pub fn check_leader_epoch(current: i32, requested: i32) -> EpochCheck {
    if requested < 0 || requested == current {
        EpochCheck::Ok
    } else if requested < current {
        EpochCheck::Fenced
    } else {
        EpochCheck::Unknown
    }
}

/// A leader epoch and the offset where it ends in some log (the `EpochEndOffset` of OffsetForLeaderEpoch
/// and of Fetch's `DivergingEpoch`). Kafka's "undefined" answer is `(-1, -1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEndOffset {
    /// The epoch (-1: undefined).
    pub epoch: i32,
    /// The offset after the epoch's last record: the start offset of the next epoch, or the log end
    /// offset for the latest epoch (-1: undefined).
    pub end_offset: i64,
}

impl EpochEndOffset {
    /// Kafka's `(UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)`.
    pub const UNDEFINED: EpochEndOffset = EpochEndOffset {
        epoch: -1,
        end_offset: -1,
    };
}

/// What the replication rules need to know about a log's leader-epoch cache. The broker implements it
/// over its log's cache; [`EpochHistory`] is an in-memory implementation.
pub trait EpochLookup {
    /// The latest epoch in the cache (`UnifiedLog.latestEpoch`), `None` when the cache is empty. A
    /// follower sends it as `LastFetchedEpoch`.
    fn latest_epoch(&self) -> Option<i32>;

    /// `LeaderEpochFileCache.endOffsetFor(epoch, log_end_offset)`: `None` for Kafka's undefined answer
    /// `(-1, -1)`.
    fn end_offset_for(&self, epoch: i32, log_end_offset: i64) -> Option<EpochEndOffset>;
}

/// One entry of a leader-epoch cache: `epoch` starts at `start_offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEntry {
    /// The leader epoch.
    pub epoch: i32,
    /// The first offset written in that epoch (or the leader's log end when it was elected).
    pub start_offset: i64,
}

/// An in-memory leader-epoch cache with Kafka's rules (`LeaderEpochFileCache`): entries have strictly
/// increasing epochs and non-decreasing start offsets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EpochHistory {
    /// INVARIANT: epochs strictly increase, start offsets never decrease, all non-negative.
    entries: Vec<EpochEntry>,
}

impl EpochHistory {
    /// An empty cache.
    pub fn new() -> EpochHistory {
        EpochHistory::default()
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    /// `LeaderEpochFileCache.assign`: records that `epoch` starts at `start_offset` (a new leader does so
    /// with its log end offset; every append does so with each batch's epoch and base offset). Entries that
    /// would break monotonicity (an epoch at least as large, or a start offset at least as large) are
    /// removed first. Returns true if the cache changed; negative values are ignored.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> bool {
        if epoch < 0 || start_offset < 0 {
            return false;
        }
        let needed = self
            .entries
            .last()
            .is_none_or(|last| epoch != last.epoch || start_offset < last.start_offset);
        if !needed {
            return false;
        }
        self.entries
            .retain(|e| e.epoch < epoch && e.start_offset < start_offset);
        self.entries.push(EpochEntry { epoch, start_offset });
        true
    }

    /// `LeaderEpochFileCache.truncateFromEnd`: forgets the epochs that start at or after `end_offset` (the
    /// log was truncated there).
    pub fn truncate_from_end(&mut self, end_offset: i64) {
        self.entries.retain(|e| e.start_offset < end_offset);
    }
}

impl EpochLookup for EpochHistory {
    fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|e| e.epoch)
    }

    fn end_offset_for(&self, epoch: i32, log_end_offset: i64) -> Option<EpochEndOffset> {
        if epoch < 0 {
            return None;
        }
        if self.latest_epoch() == Some(epoch) {
            return Some(EpochEndOffset {
                epoch,
                end_offset: log_end_offset,
            });
        }
        // The first entry with a higher epoch ends the requested one; without one the requested epoch is
        // above every known epoch and the answer is undefined.
        let higher = self.entries.iter().find(|e| e.epoch > epoch)?;
        let floor = self.entries.iter().rev().find(|e| e.epoch <= epoch);
        Some(EpochEndOffset {
            epoch: floor.map_or(epoch, |e| e.epoch),
            end_offset: higher.start_offset,
        })
    }
}

/// The leader's check on a follower fetch that carries `LastFetchedEpoch` (`Partition.readRecords`):
/// `Some(DivergingEpoch)` when the follower's log diverges from the leader's (the leader's end offset for
/// that epoch is below `fetch_offset`, or the leader only knows a smaller epoch). The leader then returns
/// no records and does not record the fetch position; `None` means the fetch is served normally.
/// `last_fetched_epoch = None` (the follower's log is empty, or it does not send the field) skips the check.
pub fn diverging_epoch(
    leader_epochs: &impl EpochLookup,
    leader_log_end_offset: i64,
    fetch_offset: i64,
    last_fetched_epoch: Option<i32>,
) -> Option<EpochEndOffset> {
    let last = last_fetched_epoch.filter(|e| *e >= 0)?;
    let end = leader_epochs
        .end_offset_for(last, leader_log_end_offset)
        .unwrap_or(EpochEndOffset::UNDEFINED);
    (end.epoch < last || end.end_offset < fetch_offset).then_some(end)
}
