//! A bounded cache of open file descriptors for the files of sealed segments.
//!
//! What one idle partition costs: its active segment's `.log`, open for as long as the log is (appends and
//! most reads hit it). Nothing else stays open on its own account. The active segment's indexes live in
//! memory and their files are opened only to be written (roll, close) and closed again. A sealed segment's
//! `.log`, `.index` and `.timeindex` are opened when they are read, through this cache, which keeps at most
//! `capacity` of them open for all the logs that share it (one cache per [`crate::LogManager`], set by
//! [`crate::LogManagerOptions::file_cache_capacity`]; a log opened on its own gets a private one).
//!
//! Entries are evicted with the clock algorithm (an approximation of least-recently-used: a hit sets a
//! reference bit, the hand clears bits until it finds an entry without one). Files are shared as
//! `Arc<File>`: evicting an entry drops only the cache's reference, so a [`crate::Slice`] being sent with
//! `sendfile`, or a search in progress, keeps its descriptor until it is done with it. A file is closed when
//! the last reference goes.
//!
//! Entries are keyed by a number drawn once per [`CachedFile`] handle, never by path: a segment deleted
//! and created again under the same name (a truncation below the log start) gets a new key, so a stale
//! descriptor of the deleted file cannot be served for the new one. Dropping the handle (the segment is
//! deleted, or its log dropped) removes its entry.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{IoContext, Result};

/// Open descriptors, at most `capacity` of them, evicted by the clock algorithm.
#[derive(Debug)]
pub(crate) struct FileCache {
    capacity: usize,
    clock: Mutex<Clock>,
}

#[derive(Debug, Default)]
struct Clock {
    /// INVARIANT: `slots.len() <= capacity`; a slot is free exactly when its index is in `free`.
    slots: Vec<Slot>,
    /// Key -> slot.
    map: HashMap<u64, usize>,
    free: Vec<usize>,
    hand: usize,
}

#[derive(Debug)]
struct Slot {
    key: u64,
    file: Option<Arc<File>>,
    referenced: bool,
}

impl FileCache {
    /// A cache keeping at most `capacity` descriptors open (0: every use opens and closes the file).
    pub(crate) fn new(capacity: usize) -> Arc<FileCache> {
        Arc::new(FileCache {
            capacity,
            clock: Mutex::new(Clock::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Clock> {
        self.clock.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, key: u64) -> Option<Arc<File>> {
        let mut clock = self.lock();
        let i = *clock.map.get(&key)?;
        let slot = &mut clock.slots[i];
        slot.referenced = true;
        slot.file.clone()
    }

    /// Caches `file` under `key` and returns the cached file (an earlier one if another thread won a race).
    fn insert(&self, key: u64, file: Arc<File>) -> Arc<File> {
        if self.capacity == 0 {
            return file;
        }
        let evicted;
        {
            let mut clock = self.lock();
            if let Some(&i) = clock.map.get(&key) {
                if let Some(existing) = &clock.slots[i].file {
                    return Arc::clone(existing);
                }
            }
            let slot = Slot {
                key,
                file: Some(Arc::clone(&file)),
                referenced: false,
            };
            let i = if let Some(i) = clock.free.pop() {
                evicted = None;
                clock.slots[i] = slot;
                i
            } else if clock.slots.len() < self.capacity {
                evicted = None;
                clock.slots.push(slot);
                clock.slots.len() - 1
            } else {
                let i = clock.victim();
                let old = std::mem::replace(&mut clock.slots[i], slot);
                clock.map.remove(&old.key);
                evicted = old.file;
                i
            };
            clock.map.insert(key, i);
        }
        // The evicted descriptor is closed here, outside the lock (unless a reader still holds it).
        drop(evicted);
        file
    }

    fn remove(&self, key: u64) {
        let removed = {
            let mut clock = self.lock();
            let Some(i) = clock.map.remove(&key) else { return };
            clock.free.push(i);
            clock.slots[i].file.take()
        };
        drop(removed);
    }

    /// The number of descriptors held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().map.len()
    }
}

impl Clock {
    /// The slot to evict: the first one from the hand without its reference bit, clearing bits on the way.
    /// Called only when every slot is occupied, so it ends within two turns.
    fn victim(&mut self) -> usize {
        loop {
            let i = self.hand;
            self.hand = (self.hand + 1) % self.slots.len();
            let slot = &mut self.slots[i];
            if slot.referenced {
                slot.referenced = false;
            } else {
                return i;
            }
        }
    }
}

static NEXT_KEY: AtomicU64 = AtomicU64::new(0);

/// One file that is opened on demand through a [`FileCache`]. Dropping the handle evicts its descriptor.
#[derive(Debug)]
pub(crate) struct CachedFile {
    cache: Arc<FileCache>,
    key: u64,
    path: PathBuf,
}

impl CachedFile {
    pub(crate) fn new(cache: &Arc<FileCache>, path: PathBuf) -> CachedFile {
        CachedFile {
            cache: Arc::clone(cache),
            key: NEXT_KEY.fetch_add(1, Ordering::Relaxed),
            path,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The open file: from the cache, or opened (read-only: cached files are only read and synced) and
    /// cached.
    pub(crate) fn get(&self) -> Result<Arc<File>> {
        if let Some(file) = self.cache.get(self.key) {
            return Ok(file);
        }
        let file = File::open(&self.path).ctx("opening", &self.path)?;
        Ok(self.cache.insert(self.key, Arc::new(file)))
    }

    /// Caches a descriptor of this file that is already open (a segment that was just rolled).
    pub(crate) fn keep(&self, file: Arc<File>) {
        self.cache.insert(self.key, file);
    }

    /// Drops the cache's descriptor of this file, if any.
    pub(crate) fn evict(&self) {
        self.cache.remove(self.key);
    }
}

impl Drop for CachedFile {
    fn drop(&mut self) {
        self.cache.remove(self.key);
    }
}

#[cfg(test)]
mod tests;
