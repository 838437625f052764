//! The controller quorum of kzero: a replicated metadata log built on openraft.
//!
//! This crate supplies what openraft leaves to its user: durable log storage (checksummed
//! segment files, a vote file and a snapshot file under one directory), an adapter that feeds
//! committed entries to the application's state machine ([`App`]), and the network (Raft RPCs and
//! application RPCs over one TCP listener per node). [`Node`] ties them together.
//!
//! The crate never knows about Kafka: entries carry opaque bytes ([`Payload`]) that the
//! application encodes and decodes, and application RPCs ([`AppRpc`], [`call`]) are opaque
//! bytes too.
//!
//! It is the one kzero library that runs tasks: openraft's core, the listener's accept loop and
//! one task per accepted connection are spawned, always on the caller's tokio runtime (the runtime
//! that calls [`Node::start`]). Blocking file I/O of the log and the snapshot runs on that
//! runtime's blocking pool (`spawn_blocking`); opening and recovering the storage at start blocks
//! the calling task briefly.
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Cursor;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use serde::Deserialize;
use serde::Serialize;

mod files;
mod log;
mod network;
mod node;
mod state;
#[cfg(test)]
mod tests;

pub use network::call;
pub use node::Node;
pub use node::Status;

/// A node's id in the quorum.
pub type NodeId = u64;

openraft::declare_raft_types!(
    /// The openraft type configuration of the quorum: opaque payloads, u64 node ids, basic nodes
    /// whose address is the `host:port` of the node's controller listener, and in-memory snapshot data.
    pub TypeConfig:
        D = Payload,
        R = Applied,
        NodeId = NodeId,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// The openraft handle of a quorum member.
pub type Raft = openraft::Raft<TypeConfig>;

/// An entry's application payload: opaque bytes (the broker encodes a batch of metadata records).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Payload(pub Vec<u8>);

impl std::fmt::Display for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "payload of {} bytes", self.0.len())
    }
}

/// What applying an entry returned: the entry's log index.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Applied {
    /// The log index of the applied entry.
    pub index: u64,
}

/// The application's state machine. The quorum calls it from openraft's state-machine task, in log order.
pub trait App: Send + Sync + 'static {
    /// Applies one committed normal entry's payload, at log `index`.
    fn apply(&mut self, index: u64, payload: &[u8]);

    /// Called after a blank or membership entry is applied, so that the app can track the applied index.
    fn advance(&mut self, index: u64) {
        let _ = index;
    }

    /// The whole state as bytes, for a snapshot.
    fn snapshot(&self) -> Vec<u8>;

    /// Replaces the whole state with a snapshot taken at `index`.
    fn restore(&mut self, index: u64, data: &[u8]) -> Result<(), String>;
}

/// A boxed future returned by [`AppRpc::handle`].
pub type AppRpcFuture<'a> = Pin<Box<dyn Future<Output = Vec<u8>> + Send + 'a>>;

/// Application RPCs carried on the same listener as Raft (broker-to-controller requests).
pub trait AppRpc: Send + Sync + 'static {
    /// Answers one request; requests of one connection are answered in order.
    fn handle(&self, request: Vec<u8>) -> AppRpcFuture<'_>;
}

/// How to start a quorum member.
#[derive(Clone, Debug)]
pub struct Options {
    /// This node's id.
    pub node_id: NodeId,
    /// The `__cluster_metadata` directory; it is created if missing.
    pub dir: PathBuf,
    /// The initial membership: voter id to `host:port` of its controller listener.
    pub voters: BTreeMap<NodeId, String>,
    /// Whether this node is a voter; a broker-only node (a learner) never initializes the cluster.
    pub voter: bool,
    /// How often the leader sends heartbeats.
    pub heartbeat_interval: Duration,
    /// The range (min, max) of the randomized election timeout.
    pub election_timeout: (Duration, Duration),
    /// How many entries since the last snapshot trigger a new snapshot.
    pub snapshot_every: u64,
    /// A secret every node of the cluster shares: with it, each connection of the listener starts with a
    /// challenge-response in both directions (see `network`), and a peer that cannot prove it knows the
    /// secret is refused. `None`: connections are not authenticated.
    pub secret: Option<Secret>,
}

/// A secret the nodes of a cluster share; `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// The secret's bytes (at least 16 of them, from a KDF or a random generator).
    pub fn new(bytes: Vec<u8>) -> Secret {
        Secret(bytes)
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Options {
    /// Options with the defaults: a voter, 100 ms heartbeats, a 400..800 ms election timeout and a
    /// snapshot every 1000 entries.
    pub fn new(node_id: NodeId, dir: impl Into<PathBuf>, voters: BTreeMap<NodeId, String>) -> Options {
        Options {
            node_id,
            dir: dir.into(),
            voters,
            voter: true,
            heartbeat_interval: Duration::from_millis(100),
            election_timeout: (Duration::from_millis(400), Duration::from_millis(800)),
            snapshot_every: 1000,
            secret: None,
        }
    }
}

/// What can go wrong in the quorum.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file of the storage could not be read or written.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file of the storage holds data that cannot be right (outside a log's torn tail).
    #[error("corrupt storage in {path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The options cannot be used.
    #[error("invalid options: {0}")]
    Config(String),
    /// This node is not the leader; the leader is given when known.
    #[error("not the leader (leader: {leader:?})")]
    NotLeader {
        /// The leader's id and address, if known.
        leader: Option<(NodeId, String)>,
    },
    /// A bounded wait or call ran out of time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// A network call failed.
    #[error("network error talking to {addr}: {reason}")]
    Network {
        /// The peer.
        addr: String,
        /// What went wrong.
        reason: String,
    },
    /// openraft refused or failed an operation.
    #[error("raft error: {0}")]
    Raft(String),
    /// The node is shutting down or has stopped.
    #[error("the quorum node is shutting down")]
    ShuttingDown,
}
