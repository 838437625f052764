//! The leader side of one partition: its replicas' log end offsets and the high watermark.
//!
//! Kafka's rule (`Partition.maybeIncrementLeaderHW`): the high watermark is the smallest log end offset
//! among the leader and its in-sync replicas, and it only moves forward. A follower's log end offset is
//! the offset it fetches from (a follower asks for offset N only once it holds everything below N).
//! An `acks=all` produce completes when the high watermark reaches the offset after its batch.
//!
//! [`Leader`] is the form without ISR management: every assigned replica counts as in sync; with one
//! replica (the leader) the high watermark is the leader's log end offset after every append. It wraps
//! [`LeaderState`], which has the full rules.

use crate::{LeaderAction, LeaderConfig, LeaderEvent, LeaderState, NewLeader};

/// Something that happened to the partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The leader appended: its log end offset is now `log_end_offset`.
    LocalAppend {
        /// The leader's new log end offset.
        log_end_offset: i64,
    },
    /// A follower fetched from `fetch_offset`, so its log ends there.
    FollowerFetch {
        /// The follower's broker id.
        replica: i32,
        /// The offset it fetched from.
        fetch_offset: i64,
    },
}

/// What the caller must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Publish this high watermark (it moved forward): readers see more, waiting `acks=all` produces and
    /// waiting consumer fetches must be re-checked.
    HighWatermark(i64),
}

/// A follower fetch from a broker that is not one of the partition's replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("broker {replica} is not a replica of this partition")]
pub struct NotAReplica {
    /// The broker that fetched.
    pub replica: i32,
}

/// The leader's view of one partition, every assigned replica counting as in sync (no ISR changes, no
/// minimum ISR): a thin wrapper over [`LeaderState`] for callers that do not manage the ISR yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leader {
    state: LeaderState,
}

impl Leader {
    /// A leader on broker `local` for a partition assigned to `replicas` (the leader is added if missing),
    /// whose log currently ends at `log_end_offset`. Followers are unknown until they fetch; the high
    /// watermark starts at what every replica is known to hold (the log end with a single replica, else 0).
    pub fn new(local: i32, replicas: &[i32], log_end_offset: i64) -> Leader {
        let mut ids: Vec<i32> = replicas.to_vec();
        if !ids.contains(&local) {
            ids.push(local);
        }
        ids.sort_unstable();
        ids.dedup();
        let init = NewLeader {
            local,
            replicas: ids.clone(),
            isr: ids,
            leader_epoch: 0,
            partition_epoch: 0,
            log_end_offset,
            high_watermark: 0,
            now_ms: 0,
        };
        Leader {
            state: LeaderState::new(init, LeaderConfig::default()),
        }
    }

    /// The current high watermark.
    pub fn high_watermark(&self) -> i64 {
        self.state.high_watermark()
    }

    /// The assigned replicas' broker ids, sorted.
    pub fn replicas(&self) -> Vec<i32> {
        self.state.replicas().to_vec()
    }

    /// True if `replica` is one of the partition's followers (not the leader itself).
    pub fn is_follower(&self, replica: i32) -> bool {
        self.state.is_follower(replica)
    }

    /// True when an `acks=all` produce whose last offset is `required_offset - 1` may be acknowledged.
    pub fn acks_all_complete(&self, required_offset: i64) -> bool {
        self.state.acks_all_complete(required_offset).is_some()
    }

    /// Applies an event; returns what the caller must do. A follower fetch from a broker that is not a
    /// replica changes nothing and is reported by [`Leader::follower_fetch`]; through `handle` it is ignored.
    pub fn handle(&mut self, event: Event) -> Option<Action> {
        match event {
            Event::LocalAppend { log_end_offset } => high_watermark(self.state.handle(LeaderEvent::LocalAppend {
                log_end_offset,
                now_ms: 0,
            })),
            Event::FollowerFetch { replica, fetch_offset } => {
                self.follower_fetch(replica, fetch_offset).unwrap_or(None)
            }
        }
    }

    /// Records a follower's fetch position; an error if `replica` is not one of the partition's followers
    /// (Kafka answers such a fetch with `NOT_LEADER_OR_FOLLOWER`).
    pub fn follower_fetch(&mut self, replica: i32, fetch_offset: i64) -> Result<Option<Action>, NotAReplica> {
        self.state.follower_fetch(replica, fetch_offset, 0).map(high_watermark)
    }
}

/// With every replica in the ISR there are no proposals: only the high watermark is reported.
fn high_watermark(actions: Vec<LeaderAction>) -> Option<Action> {
    actions.into_iter().find_map(|a| match a {
        LeaderAction::HighWatermark(hw) => Some(Action::HighWatermark(hw)),
        LeaderAction::ProposeIsr(_) => None,
    })
}
