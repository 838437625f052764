//! Test hooks of the flusher (holding its jobs for one directory, recording which files were synced) and
//! its internal tests.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::{Flusher, RecoveryPoint, SyncTarget, Synced};

/// Directories whose flusher jobs wait until released.
static HELD: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static RELEASED: Condvar = Condvar::new();
/// Every file synced (by a flush or by the flusher), by path.
static SYNCED: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

fn held() -> MutexGuard<'static, Vec<PathBuf>> {
    HELD.lock().unwrap_or_else(|p| p.into_inner())
}

/// Holds every flusher job that syncs a file under `dir` until the returned guard is dropped.
#[must_use]
pub(crate) fn hold_jobs_under(dir: &Path) -> Hold {
    held().push(dir.to_path_buf());
    Hold(dir.to_path_buf())
}

/// Releases the held jobs of its directory when dropped (also when a test panics).
#[derive(Debug)]
pub(crate) struct Hold(PathBuf);

impl Drop for Hold {
    fn drop(&mut self) {
        held().retain(|d| d != &self.0);
        RELEASED.notify_all();
    }
}

/// Called by a flusher job before it syncs `paths`: waits while one of them is under a held directory.
pub(crate) fn wait_if_held<'a>(paths: impl Iterator<Item = &'a Path> + Clone) {
    let mut g = held();
    while g.iter().any(|d| paths.clone().any(|p| p.starts_with(d))) {
        g = RELEASED.wait(g).unwrap_or_else(|p| p.into_inner());
    }
}

/// Notes that `path` was synced.
pub(crate) fn record_sync(path: &Path) {
    let mut g = SYNCED.lock().unwrap_or_else(|p| p.into_inner());
    g.get_or_insert_with(HashSet::new).insert(path.to_path_buf());
}

/// True if `path` was synced at least once.
pub(crate) fn was_synced(path: &Path) -> bool {
    let g = SYNCED.lock().unwrap_or_else(|p| p.into_inner());
    g.as_ref().is_some_and(|s| s.contains(path))
}

/// The first offset of `dir` that is not known to be on disk: the base offset of the first segment with a
/// file that was never synced (for the last segment, only its `.log` counts: recovery rebuilds the indexes
/// of the segment holding the recovery point). `i64::MAX` if every file was synced.
pub(crate) fn first_unsynced_offset(dir: &Path) -> i64 {
    let mut bases: Vec<i64> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.strip_suffix(".log").and_then(|s| s.parse().ok())
        })
        .collect();
    bases.sort_unstable();
    for (i, &base) in bases.iter().enumerate() {
        let suffixes: &[&str] = if i + 1 == bases.len() {
            &[".log"]
        } else {
            &[".log", ".index", ".timeindex"]
        };
        if !suffixes
            .iter()
            .all(|s| was_synced(&dir.join(crate::segment::file_name(base, s))))
        {
            return base;
        }
    }
    i64::MAX
}

fn job(targets: Vec<SyncTarget>, earlier: Vec<Synced>, rp: &Arc<RecoveryPoint>, up_to: i64) -> (super::Job, Synced) {
    let synced = Synced::default();
    let job = super::Job {
        targets,
        synced: Arc::clone(&synced),
        earlier,
        recovery_point: Arc::clone(rp),
        up_to: Some(up_to),
        generation: rp.generation(),
    };
    (job, synced)
}

/// A rolled segment whose sync failed is a hole: a later roll's sync may not raise the recovery point over
/// it, until the segment is synced (by a flush) after all.
#[test]
fn a_failed_sync_blocks_later_raises() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, b"x").unwrap();
    let rp = Arc::new(RecoveryPoint::new(0));
    let flusher = Flusher::new();
    // Opening a path below a regular file fails (ENOTDIR): the sync of the first segment fails.
    let (bad, bad_synced) = job(vec![SyncTarget::Path(file.join("child"))], vec![], &rp, 10);
    flusher.submit(bad);
    let (good, good_synced) = job(
        vec![SyncTarget::Path(file.clone())],
        vec![Arc::clone(&bad_synced)],
        &rp,
        20,
    );
    flusher.submit(good);
    flusher.shutdown();
    assert!(!bad_synced.load(Ordering::SeqCst) && good_synced.load(Ordering::SeqCst));
    assert_eq!(rp.get(), 0, "raised over a segment whose sync failed");
    // A flush synced the first one: the next job may raise. After shutdown, jobs run inline.
    bad_synced.store(true, Ordering::SeqCst);
    let (next, _) = job(vec![SyncTarget::Path(file)], vec![bad_synced], &rp, 30);
    flusher.submit(next);
    assert_eq!(rp.get(), 30);
    assert!(!flusher.is_running());
}

/// The thread starts with the first job, and stops when its owner's handle is dropped, even while other
/// handles are alive.
#[test]
fn the_thread_lives_from_the_first_job_to_its_owner() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, b"x").unwrap();
    let rp = Arc::new(RecoveryPoint::new(0));
    let owner = Flusher::new();
    let handle = owner.handle();
    assert!(!owner.is_running());
    let (j, synced) = job(vec![SyncTarget::Path(file.clone())], vec![], &rp, 5);
    handle.submit(j);
    assert!(owner.is_running());
    drop(handle);
    assert!(owner.is_running(), "a non-owning handle does not stop the thread");
    let probe = owner.handle();
    drop(owner);
    assert!(!probe.is_running());
    assert!(
        synced.load(Ordering::SeqCst),
        "the queued job ran before the thread stopped"
    );
    assert_eq!(rp.get(), 5);
}
