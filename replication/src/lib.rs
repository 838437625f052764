//! Leader-to-follower replication as sans-IO state machines.
//!
//! This crate owns the rules of Kafka replication: follower fetch positions, the high watermark,
//! the in-sync replica set, `acks=all` completion, leader epochs and follower truncation.
//! [`Leader`] takes events and returns actions (`handle(Event) -> Option<Action>`); the caller (the broker's `Partition`) does all I/O and
//! keeps the published values (the high watermark every reader uses) where its readers find them.
//!
//! It must never: open sockets, spawn tasks, read clocks, or read the log's bytes (it reasons about
//! offsets and epochs, which the caller passes in).
//!
//! Built so far: the leader's high-watermark rule over its replicas' log end offsets, the follower
//! fetch bookkeeping that drives it, `acks=all` completion, and the leader-epoch check every fetch
//! makes. ISR shrink/expand, the follower side and truncation arrive with the replication issue.
//!
//! ```
//! use replication::{Action, Event, Leader};
//!
//! // Broker 0 leads with broker 1 as a follower; both start empty.
//! let mut leader = Leader::new(0, &[0, 1], 0);
//! assert_eq!(leader.handle(Event::LocalAppend { log_end_offset: 10 }), None);
//! // The follower fetching from offset 10 proves it has everything below 10.
//! let actions = leader.handle(Event::FollowerFetch { replica: 1, fetch_offset: 10 });
//! assert_eq!(actions, Some(Action::HighWatermark(10)));
//! assert!(leader.acks_all_complete(10));
//! ```
#![deny(missing_docs)]

mod epoch;
mod leader;

pub use epoch::{check_leader_epoch, EpochCheck};
pub use leader::{Action, Event, Leader, NotAReplica};

#[cfg(test)]
mod tests;
