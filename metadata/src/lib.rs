//! The cluster metadata of kzero, as KRaft has it: the records of the metadata log, the image they add up
//! to, and the active controller's rules that turn requests into records.
//!
//! The controller quorum (openraft, in the `quorum` crate) replicates [`Batch`]es of [`Record`]s; every node
//! applies them in log order to an [`Image`] ([`Image::apply_batch`]); the broker reads the image to answer
//! Metadata and to decide which partitions it leads or follows. The active controller decides with
//! [`controller`]'s functions over the current image: broker registration, heartbeats and fencing
//! ([`controller::Sessions`]), topic creation with [`placement::place`], partition elections and
//! AlterPartition's checks, producer-id blocks. The image also holds the users' SCRAM credentials (salted
//! hashes only) and the ACL bindings, as KRaft keeps them; the rules that write them come with the
//! security APIs.
//!
//! It must never: do I/O, read clocks (times come in as milliseconds), or draw random numbers (callers pass
//! topic ids and placement starting points). Every decision is a pure function of the image and its
//! inputs, so the rules are tested record by record.
//!
//! ```
//! use metadata::{controller, Batch, Image, Record};
//! use metadata::records::{Endpoint, RegisterBroker};
//!
//! let mut image = Image::default();
//! let register = Record::RegisterBroker(RegisterBroker {
//!     broker_id: 0,
//!     incarnation_id: [1; 16],
//!     endpoints: vec![Endpoint { name: "PLAINTEXT".into(), host: "127.0.0.1".into(), port: 9092, security_protocol: 0 }],
//!     rack: None,
//!     observer_addr: None,
//! });
//! image.apply_batch(7, &Batch(vec![register]));
//! assert_eq!(image.brokers[&0].epoch, 7); // the broker epoch is the registration's log index
//! assert!(image.brokers[&0].fenced); // a registration starts fenced
//! let mut sessions = controller::Sessions::new(9000);
//! let hb = controller::Heartbeat { broker_id: 0, broker_epoch: 7, metadata_offset: 7, want_fence: false, want_shutdown: false };
//! let (records, reply) = controller::heartbeat(&image, &mut sessions, 0, &hb);
//! image.apply_batch(8, &Batch(records));
//! assert!(!reply.is_fenced && !image.brokers[&0].fenced);
//! ```
#![deny(missing_docs)]

pub mod controller;
mod image;
pub mod placement;
pub mod records;

pub use image::{Broker, Image, PartitionState, Topic};
pub use records::{AclEntry, Batch, Record, ScramCredential, TopicId};

/// How many producer ids one block gives a broker (`ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE`).
pub const PRODUCER_ID_BLOCK_SIZE: i64 = 1000;

/// What can go wrong reading metadata.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A record batch or snapshot that does not decode.
    #[error("undecodable metadata: {0}")]
    Decode(String),
}

#[cfg(test)]
mod tests;
