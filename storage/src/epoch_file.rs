//! The `leader-epoch-checkpoint` file of one log: reading it at open, rewriting it when the entries
//! change, and syncing it before the log's recovery point passes entries it holds.
//!
//! The text and the policy (written unsynced on every change, synced by flushes and by the background
//! sync of rolled segments) are described in [`crate::epoch_cache`]. This module only does the IO and
//! remembers whether the latest text is on disk. It never decides what the entries are, and it never
//! syncs from [`EpochFile::update`], which runs on the append path.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use crate::checkpoint;
use crate::epoch_cache::EpochCache;
use crate::error::{Error, Result};

/// The file's name in the partition directory (Kafka's `LeaderEpochCheckpointFile`).
pub(crate) const FILE_NAME: &str = "leader-epoch-checkpoint";

/// What the partition directory held.
#[derive(Debug)]
pub(crate) enum Loaded {
    /// No file, or an empty one (Kafka creates the file empty): rebuild from the log.
    Missing,
    /// A file that does not parse (a torn write, or not ours): rebuild from the log.
    Malformed(String),
    /// The entries the file holds.
    Found(EpochCache),
}

/// The checkpoint file of one log. Shared (in an `Arc`) by the log and the flusher jobs of its rolled
/// segments.
#[derive(Debug)]
pub(crate) struct EpochFile {
    path: PathBuf,
    state: Mutex<FileState>,
}

#[derive(Debug)]
struct FileState {
    /// The text of the log's current entries.
    text: String,
    /// True when `text` is known to be on disk (written, synced, renamed, directory synced).
    synced: bool,
    /// Set when the log is deleted: the file is never written again.
    retired: bool,
}

/// Reads the file in `dir`.
pub(crate) fn load(dir: &Path) -> Result<Loaded> {
    let path = dir.join(FILE_NAME);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Loaded::Missing),
        Err(source) => {
            return Err(Error::Io {
                op: "reading",
                path,
                source,
            })
        }
    };
    if bytes.is_empty() {
        return Ok(Loaded::Missing);
    }
    let Ok(text) = String::from_utf8(bytes) else {
        return Ok(Loaded::Malformed("the file is not text".into()));
    };
    Ok(match EpochCache::parse(&text) {
        Ok(cache) => Loaded::Found(cache),
        Err(reason) => Loaded::Malformed(reason),
    })
}

impl EpochFile {
    /// The file in `dir`, whose entries' text is `text`; `synced` says whether the file on disk already
    /// holds exactly that text durably (nothing is written here).
    pub(crate) fn new(dir: &Path, text: String, synced: bool) -> EpochFile {
        EpochFile {
            path: dir.join(FILE_NAME),
            state: Mutex::new(FileState {
                text,
                synced,
                retired: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, FileState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Records new entries and rewrites the file with them, without syncing it (this runs on the append
    /// path). A failed write is logged, not returned: the entries are right in memory, and the next
    /// [`EpochFile::sync`] (a flush) writes them again and reports the error if it persists. A directory
    /// that is gone (the log is being deleted) is not an error.
    pub(crate) fn update(&self, text: String) {
        let mut st = self.lock();
        if st.retired {
            return;
        }
        st.text = text;
        st.synced = false;
        if let Err(e) = checkpoint::write_text(&self.path, &st.text, false) {
            if self.dir_exists() {
                tracing::warn!(file = %self.path.display(), error = %e,
                    "writing the leader epoch checkpoint failed; the next flush writes it again");
            }
        }
    }

    /// True if the latest entries may not be on disk.
    pub(crate) fn needs_sync(&self) -> bool {
        let st = self.lock();
        !st.synced && !st.retired
    }

    /// Makes the latest entries durable: the file is written again, synced, renamed into place, and the
    /// directory synced. Nothing happens if they already are, or if the log was deleted (its directory
    /// is gone, or [`EpochFile::retire`] was called).
    ///
    /// Holds the file's lock for the sync: an append that assigns a new epoch meanwhile waits for it (a
    /// leader change during a flush, which is rare), and no older text can be written after a newer one.
    pub(crate) fn sync(&self) -> Result<()> {
        let mut st = self.lock();
        if st.synced || st.retired {
            return Ok(());
        }
        match checkpoint::write_text(&self.path, &st.text, true) {
            Ok(()) => {}
            Err(_) if !self.dir_exists() => return Ok(()),
            Err(e) => return Err(e),
        }
        st.synced = true;
        #[cfg(test)]
        crate::flusher::tests::record_sync(&self.path);
        Ok(())
    }

    /// Stops every later write (the log is being deleted; its directory may already be gone).
    pub(crate) fn retire(&self) {
        self.lock().retired = true;
    }

    fn dir_exists(&self) -> bool {
        self.path.parent().is_some_and(Path::is_dir)
    }
}
