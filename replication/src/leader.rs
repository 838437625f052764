//! The leader side of one partition: its replicas' log end offsets and the high watermark.
//!
//! Kafka's rule (`Partition.maybeIncrementLeaderHW`): the high watermark is the smallest log end offset
//! among the leader and its in-sync replicas, and it only moves forward. A follower's log end offset is
//! the offset it fetches from (a follower asks for offset N only once it holds everything below N).
//! An `acks=all` produce completes when the high watermark reaches the offset after its batch.
//!
//! Until ISR management lands, every assigned replica counts as in sync; with one replica (the leader)
//! the high watermark is the leader's log end offset after every append.

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Replica {
    id: i32,
    log_end_offset: i64,
}

/// The leader's view of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leader {
    local: i32,
    /// INVARIANT: contains `local`; ids are unique.
    replicas: Vec<Replica>,
    /// INVARIANT: never decreases; never above the smallest in-sync log end offset.
    high_watermark: i64,
}

impl Leader {
    /// A leader on broker `local` for a partition assigned to `replicas` (the leader is added if missing),
    /// whose log currently ends at `log_end_offset`. Followers start at offset 0 until they fetch; the
    /// high watermark starts at what every replica is known to hold.
    pub fn new(local: i32, replicas: &[i32], log_end_offset: i64) -> Leader {
        let mut ids: Vec<i32> = replicas.to_vec();
        if !ids.contains(&local) {
            ids.push(local);
        }
        ids.sort_unstable();
        ids.dedup();
        let replicas: Vec<Replica> = ids
            .into_iter()
            .map(|id| Replica {
                id,
                log_end_offset: if id == local { log_end_offset } else { 0 },
            })
            .collect();
        let mut leader = Leader {
            local,
            replicas,
            high_watermark: 0,
        };
        leader.high_watermark = leader.min_log_end_offset();
        leader
    }

    /// The current high watermark.
    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }

    /// The assigned replicas' broker ids, sorted.
    pub fn replicas(&self) -> Vec<i32> {
        self.replicas.iter().map(|r| r.id).collect()
    }

    /// True if `replica` is one of the partition's followers (not the leader itself).
    pub fn is_follower(&self, replica: i32) -> bool {
        replica != self.local && self.replicas.iter().any(|r| r.id == replica)
    }

    /// True when an `acks=all` produce whose last offset is `required_offset - 1` may be acknowledged.
    pub fn acks_all_complete(&self, required_offset: i64) -> bool {
        self.high_watermark >= required_offset
    }

    /// Applies an event; returns what the caller must do (at most one action per event so far: the list
    /// grows when ISR changes arrive). A follower fetch from a broker that is not a replica changes nothing
    /// and is reported by [`Leader::follower_fetch`]; through `handle` it is ignored.
    pub fn handle(&mut self, event: Event) -> Option<Action> {
        match event {
            Event::LocalAppend { log_end_offset } => {
                let local = self.local;
                if let Some(r) = self.replicas.iter_mut().find(|r| r.id == local) {
                    r.log_end_offset = r.log_end_offset.max(log_end_offset);
                }
                self.maybe_advance()
            }
            Event::FollowerFetch { replica, fetch_offset } => {
                self.follower_fetch(replica, fetch_offset).unwrap_or(None)
            }
        }
    }

    /// Records a follower's fetch position; an error if `replica` is not one of the partition's followers
    /// (Kafka answers such a fetch with `NOT_LEADER_OR_FOLLOWER`).
    pub fn follower_fetch(&mut self, replica: i32, fetch_offset: i64) -> Result<Option<Action>, NotAReplica> {
        if replica == self.local {
            return Err(NotAReplica { replica });
        }
        let r = self
            .replicas
            .iter_mut()
            .find(|r| r.id == replica)
            .ok_or(NotAReplica { replica })?;
        // A follower that truncated fetches from a lower offset: its log end goes down with it.
        r.log_end_offset = fetch_offset.max(0);
        Ok(self.maybe_advance())
    }

    fn min_log_end_offset(&self) -> i64 {
        self.replicas.iter().map(|r| r.log_end_offset).min().unwrap_or(0)
    }

    fn maybe_advance(&mut self) -> Option<Action> {
        let candidate = self.min_log_end_offset();
        (candidate > self.high_watermark).then(|| {
            self.high_watermark = candidate;
            Action::HighWatermark(candidate)
        })
    }
}
