//! A full disk: appends fail with a typed I/O error, nothing half-written stays in the file, reads keep
//! working, and appends resume once there is room again.
//!
//! A full disk is simulated with `RLIMIT_FSIZE` in a child process (this test binary, re-run through `sh`
//! with `SIGXFSZ` ignored): a write past the limit is cut short and the next one fails with `EFBIG`,
//! which is exactly a torn write followed by an error.

use std::process::Command;

use nix::sys::resource::{getrlimit, setrlimit, Resource};
use storage::{Error, Log, LogConfig, OpenHints};

use crate::{batch, slice_bytes};

const CHILD_ENV: &str = "KZERO_DISK_FULL_CHILD";
const LIMIT: u64 = 100_000;

/// Runs only as the child, with SIGXFSZ ignored.
#[test]
fn disk_full_child_process() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let (soft, hard) = getrlimit(Resource::RLIMIT_FSIZE).unwrap();
    let (log, _) = Log::open(dir.as_ref(), LogConfig::default(), OpenHints::default()).unwrap();
    setrlimit(Resource::RLIMIT_FSIZE, LIMIT, hard).unwrap();
    let big = batch(1, 30, 300); // about 10 KB: the write that crosses the limit is cut short
    let mut appended = 0;
    let err = loop {
        match log.append(&big, 0) {
            Ok(_) => appended += 1,
            Err(e) => break e,
        }
        assert!(appended < 1000, "the file size limit never hit");
    };
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    let end = log.log_end_offset();
    assert_eq!(end, appended * 30);
    let file = std::path::Path::new(&dir).join("00000000000000000000.log");
    assert_eq!(
        std::fs::metadata(&file).unwrap().len(),
        log.size_in_bytes(),
        "no torn bytes stay in the file"
    );
    // Reads still work, right up to the end.
    let bytes = slice_bytes(&log.read(0, 1 << 30, end).unwrap().slice.unwrap());
    assert_eq!(bytes.len() as u64, log.size_in_bytes());
    // Small appends that fit still work; after the space comes back, big ones do too.
    setrlimit(Resource::RLIMIT_FSIZE, soft, hard).unwrap();
    assert_eq!(log.append(&big, 0).unwrap().base_offset, end);
    log.close().unwrap();
    println!("child ok");
}

#[test]
fn a_full_disk_fails_appends_cleanly() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("sh")
        .args(["-c", "trap '' XFSZ; exec \"$0\" \"$@\""])
        .arg(&exe)
        .args([
            "--exact",
            "disk_full::disk_full_child_process",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ENV, dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("child ok"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And the log reopens cleanly with everything acknowledged.
    let (log, report) = Log::open(dir.path(), LogConfig::default(), OpenHints::default()).unwrap();
    assert_eq!(report.truncated_bytes, 0);
    assert!(log.log_end_offset() > 30);
}
