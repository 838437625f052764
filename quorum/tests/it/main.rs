//! Black-box tests of quorum members in one process: a three-node cluster (election,
//! replication, redirection, failover, restart and catch-up through a snapshot) and a single voter.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;

use quorum::App;
use quorum::AppRpc;
use quorum::AppRpcFuture;
use quorum::Error;
use quorum::Node;
use quorum::NodeId;
use quorum::Options;
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

const WAIT: Duration = Duration::from_secs(5);

type Applied = Arc<Mutex<Vec<(u64, Vec<u8>)>>>;

/// A state machine that records the applied payloads.
struct Recorder {
    applied: Applied,
}

impl App for Recorder {
    fn apply(&mut self, index: u64, payload: &[u8]) {
        self.applied.lock().expect("lock").push((index, payload.to_vec()));
    }

    fn snapshot(&self) -> Vec<u8> {
        serde_json::to_vec(&*self.applied.lock().expect("lock")).expect("encode")
    }

    fn restore(&mut self, _index: u64, data: &[u8]) -> Result<(), String> {
        let state: Vec<(u64, Vec<u8>)> = serde_json::from_slice(data).map_err(|e| e.to_string())?;
        *self.applied.lock().expect("lock") = state;
        Ok(())
    }
}

/// Answers an application request with its bytes reversed.
struct Reverse;

impl AppRpc for Reverse {
    fn handle(&self, mut request: Vec<u8>) -> AppRpcFuture<'_> {
        Box::pin(async move {
            request.reverse();
            request
        })
    }
}

/// A member's directory, address and recorded state, running or not.
struct Member {
    id: NodeId,
    dir: tempfile::TempDir,
    addr: String,
    applied: Applied,
    node: Option<Node>,
}

impl Member {
    fn node(&self) -> &Node {
        self.node.as_ref().expect("running")
    }

    fn applied(&self) -> Vec<(u64, Vec<u8>)> {
        self.applied.lock().expect("lock").clone()
    }

    async fn start(&mut self, voters: &BTreeMap<NodeId, String>, snapshot_every: u64) {
        let listener = TcpListener::bind(&self.addr).await.expect("bind");
        self.node = Some(
            start(
                self.id,
                self.dir.path(),
                voters,
                listener,
                snapshot_every,
                self.applied.clone(),
                None,
            )
            .await,
        );
    }

    async fn stop(&mut self) {
        self.node.take().expect("running").shutdown().await.expect("shutdown");
    }
}

async fn start(
    id: NodeId,
    dir: &Path,
    voters: &BTreeMap<NodeId, String>,
    listener: TcpListener,
    snapshot_every: u64,
    applied: Applied,
    secret: Option<quorum::Secret>,
) -> Node {
    // A restarted app starts empty: its state comes back from the snapshot and the log.
    applied.lock().expect("lock").clear();
    let mut opts = Options::new(id, dir, voters.clone());
    opts.heartbeat_interval = Duration::from_millis(30);
    opts.election_timeout = (Duration::from_millis(150), Duration::from_millis(300));
    opts.snapshot_every = snapshot_every;
    opts.secret = secret;
    Node::start(opts, Recorder { applied }, listener, Arc::new(Reverse))
        .await
        .expect("start")
}

async fn cluster(size: u64, snapshot_every: u64) -> (Vec<Member>, BTreeMap<NodeId, String>) {
    cluster_with(size, snapshot_every, None).await
}

/// A cluster whose members share `secret` (None: unauthenticated connections).
async fn cluster_with(
    size: u64,
    snapshot_every: u64,
    secret: Option<quorum::Secret>,
) -> (Vec<Member>, BTreeMap<NodeId, String>) {
    let mut listeners = Vec::new();
    let mut voters = BTreeMap::new();
    for id in 1..=size {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        voters.insert(id, listener.local_addr().expect("addr").to_string());
        listeners.push((id, listener));
    }
    let mut members = Vec::new();
    for (id, listener) in listeners {
        let dir = tempfile::tempdir().expect("tempdir");
        let applied = Applied::default();
        let node = start(
            id,
            dir.path(),
            &voters,
            listener,
            snapshot_every,
            applied.clone(),
            secret.clone(),
        )
        .await;
        members.push(Member {
            id,
            dir,
            addr: voters[&id].clone(),
            applied,
            node: Some(node),
        });
    }
    (members, voters)
}

/// Waits until every running member knows the same leader, other than `not`, and returns it.
async fn agreed_leader(members: &[Member], not: Option<NodeId>) -> NodeId {
    let deadline = Instant::now() + WAIT;
    loop {
        let leaders: Vec<Option<NodeId>> = members
            .iter()
            .filter_map(|m| m.node.as_ref())
            .map(|n| n.status().leader)
            .collect();
        if let Some(Some(leader)) = leaders.first() {
            if leaders.iter().all(|l| *l == Some(*leader)) && Some(*leader) != not {
                return *leader;
            }
        }
        assert!(Instant::now() < deadline, "no agreed leader: {leaders:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn member(members: &[Member], id: NodeId) -> &Member {
    members.iter().find(|m| m.id == id).expect("member")
}

async fn write_all(node: &Node, from: u32, to: u32) -> u64 {
    let mut last = 0;
    for i in from..to {
        let index = node.write(format!("record {i}").into_bytes()).await.expect("write");
        assert!(index > last, "indexes grow: {index} after {last}");
        last = index;
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_replicate_redirect_fail_over_and_catch_up() {
    let (mut members, voters) = cluster(3, 1000).await;
    let leader = agreed_leader(&members, None).await;

    let last = write_all(member(&members, leader).node(), 0, 10).await;
    for m in &members {
        m.node().wait_applied(last, WAIT).await.expect("applied everywhere");
    }
    let expected = member(&members, leader).applied();
    assert_eq!(expected.len(), 10);
    assert_eq!(expected[9].1, b"record 9".to_vec());
    for m in &members {
        assert_eq!(
            m.applied(),
            expected,
            "node {} applied the same entries in the same order",
            m.id
        );
    }

    let status = member(&members, leader).node().status();
    assert_eq!(status.voters, vec![1, 2, 3]);
    assert_eq!(status.last_applied, Some(last));
    assert_eq!(status.matched.len(), 3, "{status:?}");

    let follower = members.iter().find(|m| m.id != leader).expect("a follower");
    match follower.node().write(b"refused".to_vec()).await {
        Err(Error::NotLeader {
            leader: Some((id, addr)),
        }) => {
            assert_eq!(id, leader);
            assert_eq!(addr, voters[&leader]);
        }
        other => panic!("expected NotLeader, got {other:?}"),
    }
    assert_eq!(follower.node().leader(), Some((leader, voters[&leader].clone())));
    assert!(follower.node().status().matched.is_empty());

    // Application RPCs share the listener.
    let answer = quorum::call(&follower.addr, b"abc".to_vec(), WAIT, None)
        .await
        .expect("call");
    assert_eq!(answer, b"cba".to_vec());

    // Failover: stop the leader; the other two elect a new one that accepts writes.
    let old = leader;
    let stopped_at = Instant::now();
    members.iter_mut().find(|m| m.id == old).expect("leader").stop().await;
    let leader = agreed_leader(&members, Some(old)).await;
    let failover = stopped_at.elapsed();
    println!("failover from node {old} to node {leader} took {failover:?}");
    let last = write_all(member(&members, leader).node(), 10, 15).await;

    // The old leader, restarted from its directory, catches up.
    let restarted = members.iter_mut().find(|m| m.id == old).expect("old leader");
    restarted.start(&voters, 1000).await;
    for m in &members {
        m.node().wait_applied(last, WAIT).await.expect("caught up");
    }
    let expected = member(&members, leader).applied();
    assert_eq!(expected.len(), 15);
    for m in &members {
        assert_eq!(m.applied(), expected, "node {} after the restart", m.id);
    }
    for m in &mut members {
        m.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_node_catches_up_through_a_snapshot() {
    let (mut members, voters) = cluster(3, 5).await;
    let leader = agreed_leader(&members, None).await;
    let lagging = members.iter().find(|m| m.id != leader).expect("follower").id;
    members
        .iter_mut()
        .find(|m| m.id == lagging)
        .expect("follower")
        .stop()
        .await;

    let last = write_all(member(&members, leader).node(), 0, 40).await;
    // Wait until the leader has snapshotted and purged past what the lagging node has.
    let deadline = Instant::now() + WAIT;
    loop {
        let metrics = member(&members, leader).node().metrics().borrow().clone();
        if metrics.purged.is_some_and(|p| p.index > 20) {
            break;
        }
        assert!(Instant::now() < deadline, "the leader never purged: {metrics:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let node = members.iter_mut().find(|m| m.id == lagging).expect("lagging");
    node.start(&voters, 5).await;
    node.node().wait_applied(last, WAIT).await.expect("caught up");
    let status = node.node().status();
    assert!(
        status.snapshot_index.is_some_and(|i| i > 20),
        "installed a snapshot: {status:?}"
    );
    let expected = member(&members, leader).applied();
    assert_eq!(expected.len(), 40);
    assert_eq!(member(&members, lagging).applied(), expected);

    // The installed snapshot is durable: restarted again, the node comes back with the same state.
    let node = members.iter_mut().find(|m| m.id == lagging).expect("lagging");
    node.stop().await;
    node.start(&voters, 5).await;
    node.node()
        .wait_applied(last, WAIT)
        .await
        .expect("applied after restart");
    assert_eq!(member(&members, lagging).applied(), expected);
    for m in &mut members {
        m.stop().await;
    }
}

async fn wait_leader(node: &Node, id: NodeId, within: Duration) -> Duration {
    let started = Instant::now();
    node.raft()
        .wait(Some(within))
        .current_leader(id, "single voter leads")
        .await
        .expect("leader in time");
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_voter_leads_at_once_and_survives_a_restart() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let voters = BTreeMap::from([(7, addr.clone())]);
    let mut member = Member {
        id: 7,
        dir: tempfile::tempdir().expect("tempdir"),
        addr,
        applied: Applied::default(),
        node: None,
    };
    member.node = Some(
        start(
            7,
            member.dir.path(),
            &voters,
            listener,
            1000,
            member.applied.clone(),
            None,
        )
        .await,
    );
    let took = wait_leader(member.node(), 7, Duration::from_secs(1)).await;
    println!("a new single voter led after {took:?}");

    let last = write_all(member.node(), 0, 5).await;
    let before = member.applied();
    assert_eq!(before.len(), 5);

    // A frame above the limit closes that connection only; the node keeps serving.
    let mut raw = tokio::net::TcpStream::connect(&member.addr).await.expect("connect");
    raw.write_all(&u32::MAX.to_be_bytes()).await.expect("send header");
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(WAIT, raw.read(&mut buf))
        .await
        .expect("closed in time");
    assert!(matches!(read, Ok(0) | Err(_)), "the connection is closed: {read:?}");
    let answer = quorum::call(&member.addr, b"xy".to_vec(), WAIT, None)
        .await
        .expect("call");
    assert_eq!(answer, b"yx".to_vec());

    member.stop().await;
    member.start(&voters, 1000).await;
    let took = wait_leader(member.node(), 7, Duration::from_secs(1)).await;
    println!("a restarted single voter led after {took:?}");
    member.node().wait_applied(last, WAIT).await.expect("re-applied");
    assert_eq!(member.applied(), before);
    let next = member.node().write(b"after restart".to_vec()).await.expect("write");
    assert!(next > last);
    member.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_only_learner_follows_the_log() {
    let (mut members, _) = cluster(1, 1000).await;
    let leader = agreed_leader(&members, None).await;
    let first = write_all(member(&members, leader).node(), 0, 3).await;

    // The learner knows only the voters; it never initializes the cluster on its own.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let applied = Applied::default();
    let voters = BTreeMap::from([(leader, member(&members, leader).addr.clone())]);
    let mut opts = Options::new(9, dir.path(), voters);
    opts.voter = false;
    opts.heartbeat_interval = Duration::from_millis(30);
    opts.election_timeout = (Duration::from_millis(150), Duration::from_millis(300));
    let learner = Node::start(
        opts,
        Recorder {
            applied: applied.clone(),
        },
        listener,
        Arc::new(Reverse),
    )
    .await
    .expect("start learner");
    assert_eq!(learner.status().leader, None);

    member(&members, leader)
        .node()
        .add_learner(9, addr)
        .await
        .expect("add learner");
    let last = write_all(member(&members, leader).node(), 3, 6).await;
    assert!(last > first);
    learner.wait_applied(last, WAIT).await.expect("learner caught up");
    assert_eq!(*applied.lock().expect("lock"), member(&members, leader).applied());
    let status = member(&members, leader).node().status();
    assert_eq!(status.learners, vec![9]);
    assert_eq!(status.voters, vec![1]);
    assert!(matches!(
        learner.write(b"no".to_vec()).await,
        Err(Error::NotLeader { leader: Some((1, _)) })
    ));
    learner.shutdown().await.expect("shutdown learner");
    for m in &mut members {
        m.stop().await;
    }
}

/// With a shared secret, the voters still elect and replicate (their Raft RPCs prove the secret), an
/// application call that knows it is answered, and one with another secret or none is refused.
#[tokio::test]
async fn a_shared_secret_authenticates_every_connection() {
    let secret = quorum::Secret::new(b"the cluster's secret".to_vec());
    let (mut members, _) = cluster_with(3, 1000, Some(secret.clone())).await;
    let leader = agreed_leader(&members, None).await;
    let index = member(&members, leader)
        .node()
        .write(b"secret".to_vec())
        .await
        .expect("write");
    // Every voter applies it: the entries reached them over authenticated connections.
    let deadline = Instant::now() + WAIT;
    while members
        .iter()
        .any(|m| !m.applied().iter().any(|(i, p)| *i == index && p == b"secret"))
    {
        assert!(Instant::now() < deadline, "the entry was not applied everywhere");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let addr = &members[0].addr;
    let answer = quorum::call(addr, b"abc".to_vec(), WAIT, Some(&secret))
        .await
        .expect("call");
    assert_eq!(answer, b"cba".to_vec());
    let wrong = quorum::call(
        addr,
        b"abc".to_vec(),
        Duration::from_secs(2),
        Some(&quorum::Secret::new(b"another".to_vec())),
    )
    .await;
    assert!(matches!(wrong, Err(Error::Network { .. })), "{wrong:?}");
    // Without the handshake the listener reads the frame as a challenge and never answers it.
    let none = quorum::call(addr, b"abc".to_vec(), Duration::from_secs(1), None).await;
    assert!(none.is_err(), "{none:?}");
    for m in &mut members {
        m.stop().await;
    }
}
