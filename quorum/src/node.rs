//! A running quorum member: openraft with this crate's storage and network, plus the listener task.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::ClientWriteError;
use openraft::error::InitializeError;
use openraft::error::RaftError;
use openraft::BasicNode;
use openraft::Config;
use openraft::SnapshotPolicy;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::log::LogStore;
use crate::network::serve;
use crate::network::Network;
use crate::state::StateMachine;
use crate::App;
use crate::AppRpc;
use crate::Error;
use crate::NodeId;
use crate::Options;
use crate::Payload;
use crate::Raft;

/// A running quorum member: the Raft handle plus the listener task.
pub struct Node {
    node_id: NodeId,
    raft: Raft,
    shutdown: watch::Sender<bool>,
    listener: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

/// A read-only view of a member, for status reporting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// This node's id.
    pub node_id: NodeId,
    /// The leader's id, if known.
    pub leader: Option<NodeId>,
    /// The current term.
    pub term: u64,
    /// The index of the last entry in the local log.
    pub last_log_index: Option<u64>,
    /// The index of the last entry applied to the local state machine.
    pub last_applied: Option<u64>,
    /// The voters of the effective membership.
    pub voters: Vec<NodeId>,
    /// The learners of the effective membership.
    pub learners: Vec<NodeId>,
    /// On the leader, each member's matched log index; empty on other nodes.
    pub matched: BTreeMap<NodeId, Option<u64>>,
    /// The index of the last entry covered by the local snapshot.
    pub snapshot_index: Option<u64>,
}

fn config(opts: &Options) -> Result<Config, Error> {
    let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let config = Config {
        cluster_name: "kzero".to_string(),
        heartbeat_interval: millis(opts.heartbeat_interval),
        election_timeout_min: millis(opts.election_timeout.0),
        election_timeout_max: millis(opts.election_timeout.1),
        snapshot_policy: SnapshotPolicy::LogsSinceLast(opts.snapshot_every),
        // Keep at most one snapshot interval of entries after a snapshot, and never more than 100.
        max_in_snapshot_log_to_keep: opts.snapshot_every.min(100),
        // Few entries per AppendEntries: one entry may hold a large batch (10,000 partitions are a few MB),
        // and a frame must stay below the network's limit.
        max_payload_entries: 8,
        ..Config::default()
    };
    config.validate().map_err(|e| Error::Config(e.to_string()))
}

fn raft_err<E: std::fmt::Display>(e: E) -> Error {
    Error::Raft(e.to_string())
}

impl Node {
    /// Opens the storage (recovering it), starts openraft, serves Raft and `app_rpc` on
    /// `listener`, and, if this node is a voter and nothing was ever stored, initializes the
    /// cluster with `voters` (every voter may do so; a refusal because it already is initialized is fine).
    pub async fn start<A: App>(
        opts: Options,
        app: A,
        listener: TcpListener,
        app_rpc: Arc<dyn AppRpc>,
    ) -> Result<Node, Error> {
        let config = Arc::new(config(&opts)?);
        let log = LogStore::open(&opts.dir)?;
        let state = StateMachine::open(&opts.dir, app)?;
        let pristine = log.is_pristine() && !state.has_snapshot();
        let secret = opts.secret.clone().map(Arc::new);
        let network = Network {
            id: opts.node_id,
            secret: secret.clone(),
        };
        let raft = Raft::new(opts.node_id, config, network, log, state)
            .await
            .map_err(raft_err)?;
        let (shutdown, stop) = watch::channel(false);
        let listener = tokio::spawn(serve(listener, raft.clone(), app_rpc, secret, stop));
        let node = Node {
            node_id: opts.node_id,
            raft,
            shutdown,
            listener: std::sync::Mutex::new(Some(listener)),
        };
        if opts.voter && pristine {
            let members: BTreeMap<NodeId, BasicNode> = opts
                .voters
                .iter()
                .map(|(&id, addr)| (id, BasicNode::new(addr.clone())))
                .collect();
            match node.raft.initialize(members).await {
                Ok(()) | Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {}
                Err(e) => {
                    let _ = node.shutdown().await;
                    return Err(raft_err(e));
                }
            }
        }
        Ok(node)
    }

    /// The openraft handle.
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// Proposes one payload; returns the entry's index once it is committed and applied locally.
    pub async fn write(&self, payload: Vec<u8>) -> Result<u64, Error> {
        match self.raft.client_write(Payload(payload)).await {
            Ok(response) => Ok(response.data.index),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(forward))) => Err(Error::NotLeader {
                leader: forward
                    .leader_id
                    .map(|id| (id, forward.leader_node.map(|n| n.addr).unwrap_or_default())),
            }),
            Err(RaftError::Fatal(openraft::error::Fatal::Stopped)) => Err(Error::ShuttingDown),
            Err(e) => Err(raft_err(e)),
        }
    }

    /// The current leader's id and address, if known.
    pub fn leader(&self) -> Option<(NodeId, String)> {
        let metrics = self.raft.metrics().borrow().clone();
        let id = metrics.current_leader?;
        let addr = metrics
            .membership_config
            .membership()
            .get_node(&id)
            .map(|n| n.addr.clone())
            .unwrap_or_default();
        Some((id, addr))
    }

    /// Waits, at most `timeout`, until the local state machine has applied `index`.
    pub async fn wait_applied(&self, index: u64, timeout: Duration) -> Result<(), Error> {
        match self
            .raft
            .wait(Some(timeout))
            .applied_index_at_least(Some(index), "wait_applied")
            .await
        {
            Ok(_) => Ok(()),
            Err(openraft::metrics::WaitError::Timeout(..)) => Err(Error::Timeout(timeout)),
            Err(openraft::metrics::WaitError::ShuttingDown) => Err(Error::ShuttingDown),
        }
    }

    /// A read-only view of this member, for status reporting.
    pub fn status(&self) -> Status {
        let metrics = self.raft.metrics().borrow().clone();
        let membership = metrics.membership_config.membership();
        let matched = metrics
            .replication
            .as_ref()
            .map(|replication| {
                replication
                    .iter()
                    .map(|(&id, log)| (id, log.map(|l| l.index)))
                    .collect()
            })
            .unwrap_or_default();
        Status {
            node_id: self.node_id,
            leader: metrics.current_leader,
            term: metrics.current_term,
            last_log_index: metrics.last_log_index,
            last_applied: metrics.last_applied.map(|l| l.index),
            voters: membership.voter_ids().collect(),
            learners: membership.learner_ids().collect(),
            matched,
            snapshot_index: metrics.snapshot.map(|l| l.index),
        }
    }

    /// A receiver of openraft's metrics, to watch the member change.
    pub fn metrics(&self) -> watch::Receiver<openraft::RaftMetrics<NodeId, BasicNode>> {
        self.raft.metrics()
    }

    /// Adds a learner (a broker-only node) at `addr` without waiting for it to catch up, or moves a learner
    /// that came back on another address; nothing for a learner already there. Leader only.
    pub async fn add_learner(&self, id: NodeId, addr: String) -> Result<(), Error> {
        let metrics = self.raft.metrics().borrow().clone();
        let membership = metrics.membership_config.membership();
        let known = membership.get_node(&id).map(|n| n.addr.clone());
        let result = match known {
            Some(a) if a == addr => return Ok(()),
            // A learner's address may change (it is not a voter, so no quorum depends on it).
            Some(_) if membership.learner_ids().any(|l| l == id) => {
                let nodes = BTreeMap::from([(id, BasicNode::new(addr))]);
                self.raft
                    .change_membership(openraft::ChangeMembers::SetNodes(nodes), false)
                    .await
                    .map(|_| ())
            }
            Some(_) => return Ok(()),
            None => self.raft.add_learner(id, BasicNode::new(addr), false).await.map(|_| ()),
        };
        match result {
            Ok(_) => Ok(()),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(forward))) => Err(Error::NotLeader {
                leader: forward
                    .leader_id
                    .map(|id| (id, forward.leader_node.map(|n| n.addr).unwrap_or_default())),
            }),
            Err(e) => Err(raft_err(e)),
        }
    }

    /// Stops openraft and the listener; the storage is left consistent.
    /// A second call does nothing.
    pub async fn shutdown(&self) -> Result<(), Error> {
        let Some(listener) = self.listener.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return Ok(());
        };
        let _ = self.shutdown.send(true);
        let raft = self.raft.shutdown().await.map_err(raft_err);
        // The listener task ends on the signal; waiting for it releases the listening socket.
        let listener = listener.await.map_err(|_| Error::ShuttingDown);
        raft.and(listener)
    }
}
