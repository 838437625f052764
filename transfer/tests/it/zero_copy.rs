//! Proof that the plaintext path really uses sendfile: the counters, the copy buffer that is never
//! allocated, and (where `strace` is installed) the system calls themselves.

use std::io::Write;
use std::process::Command;
use std::sync::Arc;

use tokio::net::TcpListener;
use transfer::{Config, Counters, Mode, PlaintextTransportLayer, TransportLayer};

use crate::support::{bytes, connect, pattern_file, read_all, region, Expected, Opts, TIMEOUT};

const MIB: u64 = 1024 * 1024;

/// Sends `[header, 32 MiB region, trailer]` in `mode`; returns the counters and the copy buffer's size.
async fn send_once(mode: Mode) -> (transfer::CountersSnapshot, usize) {
    let file = pattern_file(20, 32 * MIB);
    let response = vec![bytes(b"header"), region(&file, 0..32 * MIB), bytes(b"trailer")];
    let expected = Expected::new(std::slice::from_ref(&response));
    let counters = Arc::new(Counters::new());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = tokio::spawn(async move { read_all(connect(addr, None).await, expected, Opts::default()).await });
    let (stream, _) = listener.accept().await.unwrap();
    let config = Config {
        mode,
        ..Config::default()
    };
    let (_read, mut transport) = PlaintextTransportLayer::split(stream, &config, counters.clone()).unwrap();
    transport.write_response(&response).await.unwrap();
    let allocated = transport.copy_buffer_allocated();
    transport.shutdown().await.unwrap();
    let received = tokio::time::timeout(TIMEOUT, client).await.unwrap().unwrap();
    assert_eq!((received.len, received.mismatch), (32 * MIB + 13, None));
    (counters.snapshot(), allocated)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sendfile_mode_keeps_file_bytes_out_of_user_space() {
    let (counters, allocated) = send_once(Mode::Sendfile).await;
    assert_eq!(counters.sendfile_bytes, 32 * MIB, "{counters:?}");
    assert_eq!(counters.copy_bytes, 0, "{counters:?}");
    assert_eq!(counters.tls_bytes, 0, "{counters:?}");
    assert_eq!(counters.sendfile_fallbacks, 0, "{counters:?}");
    assert_eq!(counters.memory_bytes, 13, "{counters:?}");
    // The copy buffer is the only place file bytes could pass through in user space; it was never allocated.
    assert_eq!(allocated, 0);

    // The same response in copy mode does go through the buffer, which shows the check above can fail.
    let (counters, allocated) = send_once(Mode::Copy).await;
    assert_eq!(
        (counters.sendfile_bytes, counters.copy_bytes),
        (0, 32 * MIB),
        "{counters:?}"
    );
    assert_eq!(allocated, Config::default().copy_buffer_size);
}

const CHILD: &str = "KZERO_TRANSFER_STRACE_CHILD";
const REGION: u64 = 8 * MIB;

/// Runs this very test again under `strace`, as a child that sends an 8 MiB region, and checks the system
/// calls: `sendfile` on the file's descriptor moved the whole region, and nothing ever `read` from it.
/// Skipped (with a note) where `strace` is missing or not allowed to trace.
#[test]
fn strace_shows_sendfile_and_no_reads_of_the_file() {
    if std::env::var_os(CHILD).is_some() {
        return strace_child();
    }
    if Command::new("strace").arg("-V").output().is_err() {
        eprintln!("strace is not installed: relying on the counters and the copy buffer check");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("strace.log");
    let exe = std::env::current_exe().unwrap();
    let output = Command::new("strace")
        .args([
            "-f",
            "-qq",
            "-e",
            "trace=openat,close,sendfile,read,pread64,readv,preadv,preadv2",
            "-o",
        ])
        .arg(&log)
        .arg(exe)
        .args([
            "zero_copy::strace_shows_sendfile_and_no_reads_of_the_file",
            "--exact",
            "--nocapture",
        ])
        .args(["--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() && (stderr.contains("ptrace") || stderr.contains("Operation not permitted")) {
        eprintln!("strace may not trace here ({stderr}): relying on the counters and the copy buffer check");
        return;
    }
    assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
    let fd: u32 = stdout
        .lines()
        .find_map(|l| l.split("KZERO_FILE_FD=").nth(1))
        .unwrap_or_else(|| panic!("child printed no descriptor:\n{stdout}"))
        .trim()
        .parse()
        .unwrap();
    let path = stdout
        .lines()
        .find_map(|l| l.split("KZERO_FILE_PATH=").nth(1))
        .unwrap()
        .trim()
        .to_string();
    let trace = std::fs::read_to_string(&log).unwrap();
    let (sent, reads) = summarize(&trace, &path, fd);
    assert_eq!(reads, Vec::<String>::new(), "the file was read into user space");
    assert_eq!(
        sent, REGION,
        "sendfile on fd {fd} did not move the whole region:\n{trace}"
    );
}

/// Between the `openat` of `path` that returned `fd` and its `close`: sums what `sendfile` calls with `fd` as
/// the source returned, and collects any read of `fd`.
fn summarize(trace: &str, path: &str, fd: u32) -> (u64, Vec<String>) {
    let mut pending = std::collections::HashMap::new();
    let mut sent = 0u64;
    let mut reads = Vec::new();
    let mut open = false;
    for line in trace.lines() {
        let (pid, call) = line.split_once(' ').unwrap_or(("", line));
        let call = call.trim_start();
        if call.starts_with("openat(") && call.contains(&format!("\"{path}\"")) && call.ends_with(&format!("= {fd}")) {
            open = true;
            continue;
        }
        if call.starts_with(&format!("close({fd})")) {
            open = false;
        }
        if !open {
            continue;
        }
        let source = if let Some(args) = call
            .strip_prefix("sendfile(")
            .or_else(|| call.strip_prefix("sendfile64("))
        {
            let source = args.split(',').nth(1).and_then(|s| s.trim().parse::<u32>().ok());
            if call.ends_with("<unfinished ...>") {
                pending.insert(pid.to_string(), source);
                continue;
            }
            source
        } else if call.starts_with("<... sendfile resumed>") || call.starts_with("<... sendfile64 resumed>") {
            pending.remove(pid).flatten()
        } else {
            for name in ["read(", "pread64(", "readv(", "preadv(", "preadv2("] {
                if call.starts_with(&format!("{name}{fd},")) {
                    reads.push(line.to_string());
                }
            }
            continue;
        };
        if source == Some(fd) {
            let result = call
                .rsplit_once(") = ")
                .map(|(_, r)| r.split_whitespace().next().unwrap_or(""));
            if let Some(Ok(n)) = result.map(str::parse::<i64>) {
                sent += n.max(0) as u64;
            }
        }
    }
    (sent, reads)
}

/// The traced side: a named file opened once for the transport (so its descriptor is read by nothing else),
/// served to a client that checks against the bytes kept in memory.
fn strace_child() {
    let mut named = tempfile::NamedTempFile::new().unwrap();
    let content: Vec<u8> = (0..REGION).map(|i| (i % 251) as u8).collect();
    named.write_all(&content).unwrap();
    let file = Arc::new(std::fs::File::open(named.path()).unwrap());
    println!("KZERO_FILE_FD={}", std::os::fd::AsRawFd::as_raw_fd(&*file));
    println!("KZERO_FILE_PATH={}", named.path().display());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut stream = connect(addr, None).await;
            let mut received = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut received)
                .await
                .unwrap();
            received
        });
        let (stream, _) = listener.accept().await.unwrap();
        let (_read, mut transport) =
            PlaintextTransportLayer::split(stream, &Config::default(), Arc::new(Counters::new())).unwrap();
        transport.write_response(&[region(&file, 0..REGION)]).await.unwrap();
        transport.shutdown().await.unwrap();
        assert!(client.await.unwrap() == content, "client received different bytes");
    });
}
