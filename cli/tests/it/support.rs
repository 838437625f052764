//! Test support: a real `kzero-server` on a port it picks, with a temporary data directory, and a way to run
//! the `kzero` binary as a user would.
//!
//! The broker binary is found next to this test's own target directory (`target/<profile>/kzero-server`);
//! when it is missing it is built once with `cargo build -p server --bin kzero-server` (the `cli` crate
//! may not depend on `server`, not even for tests).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The `kzero` binary under test.
pub const KZERO: &str = env!("CARGO_BIN_EXE_kzero");

/// The `kzero-server` binary, built if needed.
pub fn server_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // target/<profile>/deps/it-HASH -> target/<profile>/kzero-server
        let exe = std::env::current_exe().expect("the test binary has a path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test binary lives in target/<profile>/deps")
            .to_path_buf();
        let bin = profile_dir.join("kzero-server");
        if !bin.exists() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.args(["build", "-q", "-p", "server", "--bin", "kzero-server"])
                .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                cmd.arg("--release");
            }
            let status = cmd.status().expect("cargo runs");
            assert!(status.success(), "cannot build kzero-server");
            assert!(
                bin.exists(),
                "cargo built kzero-server somewhere other than {}",
                bin.display()
            );
        }
        bin
    })
}

/// A port on 127.0.0.1 that nothing listens on (bound, read, released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A running broker; stopped with SIGTERM when dropped.
#[derive(Debug)]
pub struct Broker {
    child: Option<Child>,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The broker's data directory.
    pub data: tempfile::TempDir,
}

impl Broker {
    /// Starts a broker on a port of its choosing (`--listen 127.0.0.1:0`, so that parallel tests never race
    /// for a port) and learns the port from its JSON start-up log line.
    pub fn start() -> Broker {
        Broker::start_with("")
    }

    /// Like [`Broker::start`], with more lines of TOML config after the defaults.
    pub fn start_with(more_config: &str) -> Broker {
        let data = tempfile::tempdir().expect("temp dir");
        let config = data.path().join("kzero.toml");
        std::fs::write(&config, format!("log_format = \"json\"\n{more_config}")).expect("config file");
        let mut child = Command::new(server_binary())
            .arg("--config")
            .arg(&config)
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path().join("data"))
            .env("KZERO_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("kzero-server starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Find the start-up line, then keep draining the log so that the broker never blocks on it.
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                if v["fields"]["message"] == "kzero broker started" {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(v["fields"]["listen"].as_str().unwrap_or_default().to_string());
                    }
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) if !addr.is_empty() => Broker {
                child: Some(child),
                addr,
                data,
            },
            other => {
                let _ = child.kill();
                panic!("kzero-server did not report its address: {other:?}");
            }
        }
    }

    /// Stops the broker cleanly (SIGTERM), so that it trims and writes its indexes.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `kzero ARGS -b ADDR` with no input.
    pub fn kzero(&self, args: &[&str]) -> Run {
        kzero_with_input(&with_bootstrap(args, &self.addr), None)
    }

    /// `kzero ARGS -b ADDR` with `input` on stdin.
    pub fn kzero_input(&self, args: &[&str], input: &[u8]) -> Run {
        kzero_with_input(&with_bootstrap(args, &self.addr), Some(input))
    }

    /// `kzero ARGS -b ADDR` running in the background.
    pub fn spawn(&self, args: &[&str]) -> Background {
        Background::spawn(&with_bootstrap(args, &self.addr))
    }

    /// A partition's directory in the data directory.
    pub fn partition_dir(&self, topic: &str, partition: i32) -> PathBuf {
        self.data.path().join("data").join(format!("{topic}-{partition}"))
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

fn with_bootstrap(args: &[&str], addr: &str) -> Vec<String> {
    let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    v.push("-b".into());
    v.push(addr.into());
    v
}

/// What a `kzero` run printed and how it exited.
#[derive(Debug)]
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub code: Option<i32>,
    pub raw_stdout: Vec<u8>,
}

impl Run {
    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, Some(0), "kzero failed: {}", self.stderr);
        &self.stdout
    }

    /// Asserts a failure with exactly one line on stderr, starting with `error: `, and returns that line.
    #[track_caller]
    pub fn fails(&self) -> &str {
        assert_ne!(self.code, Some(0), "kzero succeeded: {}", self.stdout);
        assert_eq!(self.code, Some(1), "exit code; stderr: {}", self.stderr);
        assert!(!self.stderr.contains("panicked"), "panic: {}", self.stderr);
        assert!(!self.stderr.contains("backtrace"), "backtrace: {}", self.stderr);
        let line = self.stderr.trim_end_matches('\n');
        assert!(!line.contains('\n'), "more than one line: {:?}", self.stderr);
        assert!(line.starts_with("error: "), "{line:?}");
        line
    }
}

/// Runs `kzero ARGS` with optional stdin.
pub fn kzero_with_input(args: &[String], input: Option<&[u8]>) -> Run {
    let mut child = Command::new(KZERO)
        .args(args)
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kzero starts");
    if let Some(input) = input {
        let mut stdin = child.stdin.take().expect("piped stdin");
        let input = input.to_vec();
        // A thread, so that a large input cannot deadlock against a full stdout pipe.
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let out: Output = child.wait_with_output().expect("kzero runs");
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code(),
        raw_stdout: out.stdout,
    }
}

/// Runs `kzero ARGS` (no broker needed, or one given explicitly in `args`).
pub fn kzero(args: &[&str]) -> Run {
    kzero_with_input(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>(), None)
}

/// A `kzero` process running in the background; killed if dropped before it exits.
#[derive(Debug)]
pub struct Background {
    child: Child,
    stdout: Option<std::thread::JoinHandle<Vec<u8>>>,
    stderr: Option<std::thread::JoinHandle<Vec<u8>>>,
}

impl Background {
    fn spawn(args: &[String]) -> Background {
        let mut child = Command::new(KZERO)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kzero starts");
        // Threads drain both pipes, so that the process never blocks on a full one.
        let drain = |mut r: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut v = Vec::new();
                let _ = r.read_to_end(&mut v);
                v
            })
        };
        let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
        let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
        Background {
            child,
            stdout: Some(stdout),
            stderr: Some(stderr),
        }
    }

    /// Sends the process a signal by name (`INT`, `TERM`, ...).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit, at most `timeout` (then kills it and panics).
    #[track_caller]
    pub fn wait(mut self, timeout: Duration) -> Run {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("kzero runs") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let err = self
                    .stderr
                    .take()
                    .map(|h| h.join().unwrap_or_default())
                    .unwrap_or_default();
                panic!(
                    "kzero did not exit within {timeout:?}; stderr: {}",
                    String::from_utf8_lossy(&err)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = self
            .stdout
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        let err = self
            .stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        Run {
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stderr: String::from_utf8_lossy(&err).into_owned(),
            code: status.code(),
            raw_stdout: out,
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `condition` every 50 ms until it holds, at most `timeout`; panics with `what` otherwise.
#[track_caller]
pub fn wait_until(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
