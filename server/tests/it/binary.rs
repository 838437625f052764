//! The `kzero-server` binary: config errors at start-up, and a clean stop on SIGTERM.

use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::free_addr;

const BIN: &str = env!("CARGO_BIN_EXE_kzero-server");

/// A broker process, killed if a failing test drops it while it still runs (no orphans left behind).
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts the broker binary quietly and waits until it answers on `addr`.
fn spawn(cmd: &mut Command, addr: &str) -> Server {
    let child = cmd
        .env("KZERO_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Ready means answering: the port accepts connections (the kernel's backlog) before the data directory
    // is open, so wait for an ApiVersions v0 answer.
    let deadline = Instant::now() + Duration::from_secs(20);
    let answers = || -> std::io::Result<()> {
        use std::io::{Read, Write};
        let mut s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        s.write_all(&[0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff])?;
        let mut size = [0u8; 4];
        s.read_exact(&mut size)
    };
    let server = Server(child);
    while answers().is_err() {
        assert!(Instant::now() < deadline, "the broker did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

#[test]
fn bad_config_stops_start_up_with_the_key_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[log]\nretention_msec = 5\n").unwrap();
    let out = Command::new(BIN).arg("--config").arg(&file).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("retention_msec"), "{err}");
    std::fs::write(&file, "num_partitions = -3\n").unwrap();
    let out = Command::new(BIN).arg("--config").arg(&file).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("num_partitions"));
}

#[test]
fn sigterm_stops_cleanly_and_the_next_start_needs_no_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let data = dir.path().join("data");
    let mut server = spawn(
        Command::new(BIN).args(["--listen", &addr, "--data-dir"]).arg(&data),
        &addr,
    );
    assert!(data.join("meta.properties").exists());
    Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    let status = server.0.wait().unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(
        data.join(".kafka_cleanshutdown").exists(),
        "a clean stop writes the marker"
    );
    // The directory is node 0's now: another node id is refused before anything is opened.
    let out = Command::new(BIN)
        .args(["--listen", &addr, "--node-id", "1", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("node_id") && err.contains("belongs to node 0"), "{err}");
}

#[test]
fn acknowledged_messages_survive_kill_9() {
    let Some(py) = crate::support::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let data = dir.path().join("data");
    let config = dir.path().join("kzero.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"{addr}\"\ndata_dir = \"{}\"\n[log]\nflush_messages = 1\n",
            data.display()
        ),
    )
    .unwrap();
    let mut server = spawn(Command::new(BIN).arg("--config").arg(&config), &addr);
    // Every message is acknowledged (acks=all, fdatasync before the acknowledgement), then SIGKILL.
    crate::support::scenario(&py, &addr, "produce", &["durable", "3000", "200"]);
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    assert!(
        !data.join(".kafka_cleanshutdown").exists(),
        "a killed broker leaves no clean-shutdown marker"
    );

    // A new broker recovers the log and serves every acknowledged message.
    let broker = crate::support::TestBroker::start(crate::support::config(&data));
    crate::support::scenario(&py, &broker.bootstrap(), "consume", &["durable", "3000", "200"]);
    broker.stop().unwrap();
}

#[test]
fn acknowledged_offset_commits_survive_kill_9() {
    use crate::offsets_topic::{commit, fetch_committed};
    use crate::support::RawClient;
    use protocol::{ApiKey, ResponseBody};

    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let data = dir.path().join("data");
    let mut server = spawn(
        Command::new(BIN).args(["--listen", &addr, "--data-dir"]).arg(&data),
        &addr,
    );
    let mut c = RawClient::connect(addr.parse().unwrap());
    c.create("t");
    // 500 commits, each acknowledged (the coordinator answers once its record is committed), pipelined;
    // then SIGKILL while the last ones may still be in flight on the wire.
    let mut acknowledged = -1;
    for i in 0..500 {
        c.send(8, commit(i));
    }
    for i in 0..500 {
        let ResponseBody::OffsetCommit(r) = c.recv(ApiKey::OffsetCommit, 8).body else {
            panic!()
        };
        assert_eq!(r.topics[0].partitions[0].error_code, 0);
        acknowledged = i;
    }
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    // A new broker loads __consumer_offsets from the recovered log: the last acknowledged commit is there.
    let broker = crate::support::TestBroker::start(crate::support::config(&data));
    let mut c = RawClient::new(&broker);
    assert_eq!(
        fetch_committed(&mut c),
        (acknowledged, Some(format!("m{acknowledged}")))
    );
    broker.stop().unwrap();
}

/// A KIP-848 group survives SIGKILL: its member, epoch and assignment (records acknowledged with the
/// heartbeat answers) and its committed offset come back, and the member carries on at its epoch without
/// rejoining.
#[test]
fn a_kip848_group_and_its_commits_survive_kill_9() {
    use protocol::{
        ConsumerGroupDescribeRequest, ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatTopicPartitions, ErrorCode,
        OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic, OffsetFetchRequest,
        OffsetFetchRequestGroup, OffsetFetchRequestTopic, ResponseBody,
    };

    use crate::support::RawClient;

    const MEMBER: &str = "kill9-member-000000001";
    let heartbeat = |epoch: i32, owned: Vec<ConsumerGroupHeartbeatTopicPartitions>| ConsumerGroupHeartbeatRequest {
        group_id: "g".into(),
        member_id: MEMBER.into(),
        member_epoch: epoch,
        rebalance_timeout_ms: if epoch == 0 { 30_000 } else { -1 },
        subscribed_topic_names: (epoch == 0).then(|| vec!["t".into()]),
        topic_partitions: Some(owned),
        ..Default::default()
    };
    // Heartbeats until the coordinator (loading, then creating its topic) answers without an error.
    let beat = |c: &mut RawClient, req: &ConsumerGroupHeartbeatRequest| loop {
        let ResponseBody::ConsumerGroupHeartbeat(r) = c.call(1, req.clone().into()) else {
            panic!()
        };
        if r.error_code == ErrorCode::CoordinatorLoadInProgress.code() {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        assert_eq!(r.error_code, 0, "{r:?}");
        return r;
    };
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let data = dir.path().join("data");
    let mut server = spawn(
        Command::new(BIN).args(["--listen", &addr, "--data-dir"]).arg(&data),
        &addr,
    );
    let mut c = RawClient::connect(addr.parse().unwrap());
    c.create("t");
    let joined = beat(&mut c, &heartbeat(0, Vec::new()));
    let owned = joined
        .assignment
        .expect("the only member gets the partition")
        .topic_partitions;
    let epoch = joined.member_epoch;
    let commit = OffsetCommitRequest {
        group_id: "g".into(),
        generation_id_or_member_epoch: epoch,
        member_id: MEMBER.into(),
        topics: vec![OffsetCommitRequestTopic {
            name: "t".into(),
            partitions: vec![OffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: 42,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let ResponseBody::OffsetCommit(r) = c.call(9, commit.into()) else {
        panic!()
    };
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    server.0.kill().unwrap();
    server.0.wait().unwrap();

    let _server = spawn(
        Command::new(BIN).args(["--listen", &addr, "--data-dir"]).arg(&data),
        &addr,
    );
    let mut c = RawClient::connect(addr.parse().unwrap());
    // The member heartbeats at the epoch it had: accepted, not fenced, nothing to rejoin.
    let again = beat(&mut c, &heartbeat(epoch, owned.clone()));
    assert_eq!(again.member_epoch, epoch);
    let describe = ConsumerGroupDescribeRequest {
        group_ids: vec!["g".into()],
        ..Default::default()
    };
    let ResponseBody::ConsumerGroupDescribe(d) = c.call(1, describe.into()) else {
        panic!()
    };
    let g = &d.groups[0];
    assert_eq!(
        (g.error_code, g.group_state.as_str(), g.group_epoch),
        (0, "Stable", epoch)
    );
    assert_eq!(g.members[0].member_id, MEMBER);
    assert_eq!(g.members[0].assignment.topic_partitions[0].partitions, vec![0]);
    let fetch = OffsetFetchRequest {
        groups: vec![OffsetFetchRequestGroup {
            group_id: "g".into(),
            member_id: Some(MEMBER.into()),
            member_epoch: epoch,
            topics: Some(vec![OffsetFetchRequestTopic {
                name: "t".into(),
                partition_indexes: vec![0],
                ..Default::default()
            }]),
            ..Default::default()
        }],
        ..Default::default()
    };
    let ResponseBody::OffsetFetch(f) = c.call(9, fetch.into()) else {
        panic!()
    };
    assert_eq!(f.groups[0].error_code, 0, "{f:?}");
    assert_eq!(f.groups[0].topics[0].partitions[0].committed_offset, 42);
}
