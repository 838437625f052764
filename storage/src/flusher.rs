//! Background syncing of rolled segments, as Kafka does after a roll (`UnifiedLog.roll` schedules a flush).
//!
//! Ownership: a [`crate::LogManager`] owns one flusher, shared by all of its logs; a [`crate::Log`] opened
//! on its own owns a private one. There is no process-global thread. The thread is started on the first
//! job (a data directory that never rolls never has one) and stops when its owner is closed or dropped:
//! [`Flusher::shutdown`] closes the queue and waits until every queued job is done, which is how
//! `LogManager::close` drains it before it writes the checkpoints and the clean-shutdown marker. A job
//! submitted after that runs inline.
//!
//! Jobs are taken in order. A job syncs the files of one rolled segment (its `.log`, and its `.index` and
//! `.timeindex` just written by the roll, and the log's `leader-epoch-checkpoint` if its entries changed
//! since it was last synced), marks the segment synced, then raises the log's recovery point
//! to the segment's end, but only if every segment rolled before it is synced too: a failed sync leaves a
//! hole that no later job may jump over.
//!
//! After a truncation the log also queues a job that only syncs its `leader-epoch-checkpoint` (Kafka
//! flushes the file asynchronously after a truncation too: `truncateFromEndAsyncFlush`); it raises nothing.
//!
//! [`crate::Log::flush`] does not rely on this thread: it syncs every rolled segment that is not yet marked
//! synced itself before it raises the recovery point (see there), so the recovery point never passes data
//! that is not on disk, whatever the queue is doing.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::epoch_file::EpochFile;

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

/// Set once every file of a rolled (or recovered) segment is on disk, by the flusher or by a flush.
pub(crate) type Synced = Arc<AtomicBool>;

/// A file to sync.
#[derive(Debug)]
pub(crate) enum SyncTarget {
    /// A descriptor that is already open (a segment's `.log` at its roll).
    Open(Arc<File>, PathBuf),
    /// A file opened just for the sync. A file that no longer exists has nothing to sync: its segment was
    /// deleted (retention, truncation, a deleted log).
    Path(PathBuf),
    /// The log's `leader-epoch-checkpoint`, written unsynced when its entries changed: it must be on disk
    /// before the recovery point passes the offsets its entries start at.
    Epochs(Arc<EpochFile>),
}

impl SyncTarget {
    pub(crate) fn path(&self) -> &Path {
        match self {
            SyncTarget::Open(_, p) | SyncTarget::Path(p) => p,
            SyncTarget::Epochs(file) => file.path(),
        }
    }

    pub(crate) fn sync(&self) -> io::Result<()> {
        match self {
            SyncTarget::Open(file, path) => sync(file, path),
            SyncTarget::Path(path) => match File::open(path) {
                Ok(file) => sync(&file, path),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e),
            },
            SyncTarget::Epochs(file) => file.sync().map_err(|e| match e {
                crate::Error::Io { source, .. } => source,
                other => io::Error::other(other),
            }),
        }
    }
}

/// `fdatasync` of one file (tests record which files were synced).
pub(crate) fn sync(file: &File, path: &Path) -> io::Result<()> {
    file.sync_data()?;
    #[cfg(test)]
    tests::record_sync(path);
    #[cfg(not(test))]
    let _ = path;
    Ok(())
}

/// A background sync: the files of one rolled segment, or only the epoch checkpoint after a truncation.
#[derive(Debug)]
pub(crate) struct Job {
    /// The segment's files.
    pub(crate) targets: Vec<SyncTarget>,
    /// Set when they are synced; a flush may have set it first, then there is nothing left to do.
    pub(crate) synced: Synced,
    /// The segments rolled earlier whose files were not yet synced when this one rolled.
    pub(crate) earlier: Vec<Synced>,
    pub(crate) recovery_point: Arc<RecoveryPoint>,
    /// The segment's end (the next segment's base offset), where the recovery point goes once the files
    /// are synced; `None` for a job that raises nothing (the epoch checkpoint's sync after a truncation).
    pub(crate) up_to: Option<i64>,
    /// The recovery point's generation at the roll.
    pub(crate) generation: u64,
}

impl Job {
    fn run(self) {
        #[cfg(test)]
        tests::wait_if_held(self.targets.iter().map(SyncTarget::path));
        if !self.synced.load(Ordering::Acquire) {
            for target in &self.targets {
                if let Err(e) = target.sync() {
                    // The segment stays unsynced: the recovery point stays below it (a crash re-checks it),
                    // and the next flush tries again.
                    tracing::error!(file = %target.path().display(), error = %e, "syncing a rolled segment failed");
                    return;
                }
            }
            self.synced.store(true, Ordering::Release);
        }
        if let Some(up_to) = self.up_to {
            if self.earlier.iter().all(|s| s.load(Ordering::Acquire)) {
                self.recovery_point.raise(up_to, self.generation);
            }
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// The queue, once the thread runs.
    tx: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    /// Set by [`Flusher::shutdown`]: jobs run inline from then on.
    stopped: bool,
}

/// A handle on a flusher thread. The owner's handle stops the thread when dropped; the others (one per log)
/// only submit jobs.
#[derive(Debug)]
pub(crate) struct Flusher {
    state: Arc<Mutex<State>>,
    owner: bool,
    /// Flushes that synced something, counted for every log sharing this flusher.
    stats: Arc<FlushCounters>,
}

/// How many flushes synced data, and how long they took (Kafka's `LogFlushRateAndTimeMs`).
#[derive(Debug, Default)]
pub(crate) struct FlushCounters {
    flushes: AtomicU64,
    nanos: AtomicU64,
}

/// A snapshot of the flush counters of a [`crate::LogManager`]'s logs.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FlushStats {
    /// Flushes that synced data (`flush.messages`, `flush.ms`, or a rolled segment's sync in a flush).
    pub flushes: u64,
    /// Their total duration, in seconds.
    pub seconds: f64,
}

impl Flusher {
    /// A new flusher, owned by the returned handle. No thread is started until the first job.
    pub(crate) fn new() -> Flusher {
        Flusher {
            state: Arc::new(Mutex::new(State::default())),
            owner: true,
            stats: Arc::default(),
        }
    }

    /// Counts one flush that synced data for `took`.
    pub(crate) fn count_flush(&self, took: std::time::Duration) {
        self.stats.flushes.fetch_add(1, Ordering::Relaxed);
        self.stats
            .nanos
            .fetch_add(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// The flush counters of every log sharing this flusher.
    pub(crate) fn stats(&self) -> FlushStats {
        FlushStats {
            flushes: self.stats.flushes.load(Ordering::Relaxed),
            seconds: self.stats.nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }

    /// A handle that submits to the same thread but does not own it.
    pub(crate) fn handle(&self) -> Flusher {
        Flusher {
            state: Arc::clone(&self.state),
            owner: false,
            stats: Arc::clone(&self.stats),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a job, starting the thread if needed; runs it inline once the flusher is shut down (or if no
    /// thread can be started).
    pub(crate) fn submit(&self, job: Job) {
        let mut st = self.lock();
        if st.stopped {
            drop(st);
            job.run();
            return;
        }
        if st.tx.is_none() {
            let (tx, rx) = channel::<Job>();
            let spawned = std::thread::Builder::new().name("kzero-flusher".into()).spawn(move || {
                for job in rx {
                    job.run();
                }
            });
            match spawned {
                Ok(thread) => {
                    st.tx = Some(tx);
                    st.thread = Some(thread);
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot start the flusher thread; syncing a rolled segment inline");
                    drop(st);
                    job.run();
                    return;
                }
            }
        }
        let Some(tx) = &st.tx else { return };
        if let Err(failed) = tx.send(job) {
            drop(st);
            failed.0.run();
        }
    }

    /// Closes the queue and waits until the thread has run every job queued before and has stopped.
    pub(crate) fn shutdown(&self) {
        let (tx, thread) = {
            let mut st = self.lock();
            st.stopped = true;
            (st.tx.take(), st.thread.take())
        };
        drop(tx);
        if let Some(thread) = thread {
            if thread.thread().id() != std::thread::current().id() && thread.join().is_err() {
                tracing::error!("the flusher thread panicked");
            }
        }
    }

    /// True while the thread runs.
    #[cfg(test)]
    pub(crate) fn is_running(&self) -> bool {
        self.lock().thread.as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        if self.owner {
            self.shutdown();
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
