//! The leader-epoch check of KIP-320: every fetch (and, in later versions, ListOffsets and
//! OffsetForLeaderEpoch) carries the leader epoch the client believes in, and the leader refuses a
//! request whose epoch is not its own, so that a client or follower with stale metadata learns it.

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
