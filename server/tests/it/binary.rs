//! The `kzero-server` binary: config errors at start-up, and a clean stop on SIGTERM.

use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

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
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
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
}

#[test]
fn acknowledged_messages_survive_kill_9() {
    let Some(py) = crate::support::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
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
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
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
