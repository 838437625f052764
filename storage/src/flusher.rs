//! Background syncing of rolled segments, as Kafka does after a roll (`UnifiedLog.roll` schedules a flush).
//!
//! One thread per process, started on first use, takes jobs in order: sync the files of a rolled segment,
//! then raise the log's recovery point to the new segment's base offset.

use std::fs::File;
use std::path::PathBuf;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex, OnceLock};

/// A log's recovery point. A truncation starts a new generation, so a sync scheduled before it cannot
/// raise the point past the truncated log's end.
#[derive(Debug, Default)]
pub(crate) struct RecoveryPoint(Mutex<(i64, u64)>);

impl RecoveryPoint {
    pub(crate) fn new(offset: i64) -> Self {
        RecoveryPoint(Mutex::new((offset, 0)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (i64, u64)> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn get(&self) -> i64 {
        self.lock().0
    }

    pub(crate) fn generation(&self) -> u64 {
        self.lock().1
    }

    /// Raises the point to `offset` if no truncation happened since `generation`.
    pub(crate) fn raise(&self, offset: i64, generation: u64) {
        let mut g = self.lock();
        if g.1 == generation && offset > g.0 {
            g.0 = offset;
        }
    }

    /// Lowers the point to `offset` (a truncation) and starts a new generation.
    pub(crate) fn lower(&self, offset: i64) {
        let mut g = self.lock();
        g.0 = g.0.min(offset);
        g.1 += 1;
    }
}

struct Job {
    files: Vec<(Arc<File>, PathBuf)>,
    recovery_point: Arc<RecoveryPoint>,
    up_to: i64,
    generation: u64,
}

fn sender() -> &'static Mutex<Sender<Job>> {
    static SENDER: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    SENDER.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        let spawned = std::thread::Builder::new().name("kzero-flusher".into()).spawn(move || {
            for job in rx {
                run(job);
            }
        });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the flusher thread; rolled segments are synced inline");
        }
        Mutex::new(tx)
    })
}

fn run(job: Job) {
    for (file, path) in &job.files {
        if let Err(e) = file.sync_data() {
            // The recovery point stays where it is, so a crash re-checks this segment.
            tracing::error!(file = %path.display(), error = %e, "syncing a rolled segment failed");
            return;
        }
    }
    job.recovery_point.raise(job.up_to, job.generation);
}

/// Syncs `files` in the background, then raises `recovery_point` to `up_to`.
pub(crate) fn sync_later(files: Vec<(Arc<File>, PathBuf)>, recovery_point: Arc<RecoveryPoint>, up_to: i64) {
    let generation = recovery_point.generation();
    let job = Job {
        files,
        recovery_point,
        up_to,
        generation,
    };
    let tx = sender().lock().unwrap_or_else(|p| p.into_inner());
    if let Err(failed) = tx.send(job) {
        run(failed.0);
    }
}
