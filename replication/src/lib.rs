//! Leader-to-follower replication as sans-IO state machines.
//!
//! This crate owns the rules of Kafka replication: follower fetch positions, the high watermark,
//! the in-sync replica set, `acks=all` completion, leader epochs and follower truncation.
//! The state machines take events and return actions; the caller (the broker's `Partition`) does all I/O
//! and keeps the published values (the high watermark every reader uses) where its readers find them.
//!
//! It must never: open sockets, spawn tasks, read clocks, or read the log's bytes (it reasons about
//! offsets and epochs, which the caller passes in).
//!
//! What it owns, and what the caller must do:
//!
//! - [`LeaderState`] (a broker leads the partition): the committed ISR and partition epoch, each
//!   follower's log end offset and caught-up time, `replica.lag.time.max.ms` and `min.insync.replicas`,
//!   the start offset of the leader's epoch, the high watermark over the maximal ISR, and the AlterPartition
//!   proposals (one in flight). The caller reports local appends, follower fetches (after the epoch check
//!   [`check_leader_epoch`] and the divergence check [`diverging_epoch`], which it answers itself), a
//!   periodic [`LeaderEvent::Tick`], and the controller's answers. Actions:
//!   - [`LeaderAction::HighWatermark`]: publish it to readers, re-check waiting `acks=all` produces with
//!     [`LeaderState::acks_all_complete`] and waiting consumer fetches;
//!   - [`LeaderAction::ProposeIsr`]: send AlterPartition with it (re-send until answered); report a success
//!     or a metadata update with the same leader epoch as [`LeaderEvent::IsrCommitted`],
//!     `OPERATION_NOT_ATTEMPTED`/`INELIGIBLE_REPLICA` as [`LeaderEvent::IsrRejected`], and for other errors
//!     wait for metadata.
//!
//!   Before an `acks=all` append the caller asks [`LeaderState::check_min_isr_for_acks_all`]. On becoming
//!   leader at a new epoch it records `(epoch, log end offset)` in its epoch cache and builds a new state
//!   ([`NewLeader`]); a new leader epoch always means a new state.
//! - [`Follower`] (a broker follows): its leader and epoch, log end offset, high watermark and log start
//!   offset. [`Follower::fetch_position`] says what to fetch; the caller keeps one fetch in flight and passes
//!   only its answer to [`Follower::handle`]; actions:
//!   - [`FollowerAction::Truncate`]: truncate the log and the epoch cache;
//!   - [`FollowerAction::Append`]: append the returned batches verbatim and learn their epochs;
//!   - [`FollowerAction::HighWatermark`] / [`FollowerAction::LogStartOffset`]: publish them.
//! - [`EpochHistory`], an in-memory leader-epoch cache with Kafka's rules; the caller's cache only needs to
//!   implement [`EpochLookup`].
//!
//! Simplified from Kafka: the ISR-eligibility checks (fenced or shutting-down brokers, broker epochs) are
//! the controller's alone; a metadata update does not reset the followers' caught-up times; a follower's
//! high watermark only moves forward (Kafka sets it to `min(leader HW, LEO)` even when that is lower); an
//! undefined `DivergingEpoch` end offset truncates to the follower's high watermark.
//!
//! `tests/it` is a deterministic simulation of 3 or 5 replicas, a model controller, a lossy partitioned
//! network and crashing disks; replay a seed with `KZERO_SIM_SEED=<n> cargo test -p replication --test it
//! -- --nocapture`.
//!
//! ```
//! use replication::{LeaderAction, LeaderConfig, LeaderEvent, LeaderState, NewLeader};
//!
//! // Broker 0 leads with broker 1 in the ISR; both start empty.
//! let init = NewLeader {
//!     local: 0,
//!     replicas: vec![0, 1],
//!     isr: vec![0, 1],
//!     leader_epoch: 1,
//!     partition_epoch: 1,
//!     log_end_offset: 0,
//!     high_watermark: 0,
//!     now_ms: 0,
//! };
//! let mut leader = LeaderState::new(init, LeaderConfig::default());
//! let appended = leader.handle(LeaderEvent::LocalAppend { log_end_offset: 10, now_ms: 1 });
//! assert!(appended.is_empty());
//! // The follower fetching from offset 10 proves it has everything below 10.
//! let actions = leader.follower_fetch(1, 10, 2).unwrap();
//! assert_eq!(actions, vec![LeaderAction::HighWatermark(10)]);
//! assert!(leader.acks_all_complete(10).is_some());
//! ```
#![deny(missing_docs)]

mod epoch;
mod follower;
mod isr;

pub use epoch::{
    check_leader_epoch, diverging_epoch, EpochCheck, EpochEndOffset, EpochEntry, EpochHistory, EpochLookup,
};
pub use follower::{FetchPosition, FetchResponse, Follower, FollowerAction};
pub use isr::{
    AckOutcome, IsrProposal, LeaderAction, LeaderConfig, LeaderEvent, LeaderState, NewLeader, NotAReplica,
    NotEnoughReplicas, EXPANSION_BACKOFF_MS,
};

#[cfg(test)]
mod tests;
