//! Background syncing of rolled segments, as Kafka does after a roll (`UnifiedLog.roll` schedules a flush).
//!
//! One thread per process, started on first use, takes jobs in order: sync the files of a rolled segment,
//! then raise the log's recovery point to the new segment's base offset.

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex, OnceLock};

struct Job {
    files: Vec<(Arc<File>, PathBuf)>,
    recovery_point: Arc<AtomicI64>,
    up_to: i64,
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
    job.recovery_point.fetch_max(job.up_to, Ordering::SeqCst);
}

/// Syncs `files` in the background, then raises `recovery_point` to `up_to`.
pub(crate) fn sync_later(files: Vec<(Arc<File>, PathBuf)>, recovery_point: Arc<AtomicI64>, up_to: i64) {
    let job = Job {
        files,
        recovery_point,
        up_to,
    };
    let tx = sender().lock().unwrap_or_else(|p| p.into_inner());
    if let Err(failed) = tx.send(job) {
        run(failed.0);
    }
}
