//! The offset index (`.index`) and the time index (`.timeindex`), in Kafka's file formats.
//!
//! ```text
//! .index      8-byte entries:  relative offset INT32 | position INT32        (offset -> batch start)
//! .timeindex 12-byte entries:  timestamp INT64 | relative offset INT32      (timestamp -> offset)
//! ```
//! Both are sparse and strictly increasing, so both are binary-searched.
//! The file length is the entry count: an index is preallocated to `segment_index_bytes` while its segment
//! is active and trimmed to its entries when the segment rolls or the log closes.
//!
//! The active segment's entries live in memory (the same bytes as the file) and reach the file when the
//! segment is sealed (roll, close); appends never touch the index file. No index keeps a descriptor open:
//! the file is opened to be created, loaded, written or trimmed, and closed right after. A sealed index is
//! searched on disk with `pread` through the log's descriptor cache ([`crate::file_cache`]), so an open
//! log holds neither memory nor descriptors for its old segments' indexes. After a crash the active index
//! is rebuilt from the log by recovery, exactly as Kafka does, since nothing can tell a stale index from a
//! good one.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use crate::error::{IoContext, Result};
use crate::file_cache::{CachedFile, FileCache};

/// The bytes of one entry (the first `width` of them).
pub(crate) type Entry = [u8; 16];

/// An index file with fixed-width entries whose first field is the search key.
#[derive(Debug)]
pub(crate) struct Index {
    /// The file, opened through the cache when a sealed index is searched.
    file: CachedFile,
    width: usize,
    /// The most entries the file may hold.
    max_entries: usize,
    entries: usize,
    /// `Some` while active: every entry's bytes. INVARIANT: `mem.len() == entries * width`.
    mem: Option<Vec<u8>>,
    /// Entries already written to the file (only meaningful while active).
    written: usize,
}

/// Where an index's entries are read from.
enum Source<'a> {
    Mem(&'a [u8]),
    File(Arc<File>),
}

/// Opens an index file for writing (creating it if missing), for one operation.
fn open_rw(path: &Path, truncate: bool) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(truncate)
        .open(path)
        .ctx(if truncate { "creating" } else { "opening" }, path)
}

impl Index {
    /// Opens (creating if missing) an index. An active index is read into memory and preallocated; a
    /// sealed one is trusted to be exactly its entries and is not opened at all, only measured.
    pub(crate) fn open(
        cache: &Arc<FileCache>,
        path: &Path,
        width: usize,
        max_bytes: u64,
        active: bool,
    ) -> Result<Index> {
        let len = match std::fs::metadata(path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                open_rw(path, false)?;
                0
            }
            Err(e) => {
                return Err(crate::Error::Io {
                    op: "reading the size of",
                    path: path.to_path_buf(),
                    source: e,
                })
            }
        };
        let max_entries = (max_bytes as usize / width).max(1);
        let entries = (len as usize / width).min(max_entries);
        let mut index = Index {
            file: CachedFile::new(cache, path.to_path_buf()),
            width,
            max_entries,
            entries,
            mem: None,
            written: entries,
        };
        if active {
            index.activate()?;
        }
        Ok(index)
    }

    /// Creates an empty, active index, replacing any file there.
    pub(crate) fn create(cache: &Arc<FileCache>, path: &Path, width: usize, max_bytes: u64) -> Result<Index> {
        let file = open_rw(path, true)?;
        let max_entries = (max_bytes as usize / width).max(1);
        file.set_len((max_entries * width) as u64).ctx("preallocating", path)?;
        Ok(Index {
            file: CachedFile::new(cache, path.to_path_buf()),
            width,
            max_entries,
            entries: 0,
            mem: Some(Vec::new()),
            written: 0,
        })
    }

    /// Loads the entries into memory and preallocates the file, making the index appendable.
    pub(crate) fn activate(&mut self) -> Result<()> {
        if self.mem.is_some() {
            return Ok(());
        }
        self.file.evict();
        let path = self.file.path();
        let file = open_rw(path, false)?;
        let mut mem = vec![0u8; self.entries * self.width];
        file.read_exact_at(&mut mem, 0).ctx("reading", path)?;
        file.set_len((self.max_entries * self.width) as u64)
            .ctx("preallocating", path)?;
        self.mem = Some(mem);
        self.written = self.entries;
        Ok(())
    }

    pub(crate) fn len(&self) -> usize {
        self.entries
    }

    pub(crate) fn is_full(&self) -> bool {
        self.entries >= self.max_entries
    }

    /// Where entries are read from: memory while active, else one descriptor from the cache.
    fn source(&self) -> Result<Source<'_>> {
        Ok(match &self.mem {
            Some(mem) => Source::Mem(mem),
            None => Source::File(self.file.get()?),
        })
    }

    /// The bytes of entry `i` (from memory, or one `pread` of the file).
    pub(crate) fn entry(&self, i: usize) -> Result<Entry> {
        self.read_entry(&self.source()?, i)
    }

    fn read_entry(&self, source: &Source<'_>, i: usize) -> Result<Entry> {
        let mut out = [0u8; 16];
        let w = self.width;
        match source {
            Source::Mem(mem) => out[..w].copy_from_slice(&mem[i * w..(i + 1) * w]),
            Source::File(file) => file
                .read_exact_at(&mut out[..w], (i * w) as u64)
                .ctx("reading", self.file.path())?,
        }
        Ok(out)
    }

    /// Appends an entry (the index must be active and not full).
    pub(crate) fn push(&mut self, entry: &[u8]) {
        debug_assert_eq!(entry.len(), self.width);
        if let Some(mem) = self.mem.as_mut() {
            if self.entries < self.max_entries {
                mem.extend_from_slice(entry);
                self.entries += 1;
            }
        }
    }

    /// Keeps only the first `n` entries.
    pub(crate) fn truncate(&mut self, n: usize) -> Result<()> {
        if n >= self.entries {
            return Ok(());
        }
        self.entries = n;
        if let Some(mem) = self.mem.as_mut() {
            mem.truncate(n * self.width);
        }
        self.written = self.written.min(n);
        if self.mem.is_none() {
            let path = self.file.path();
            open_rw(path, false)?
                .set_len((n * self.width) as u64)
                .ctx("truncating", path)?;
        }
        Ok(())
    }

    /// Writes everything out, trims the file to its entries and drops the in-memory copy: one open, one
    /// `pwrite`, one `ftruncate`, one close. A sealed index is left as it is.
    pub(crate) fn seal(&mut self) -> Result<()> {
        let Some(mem) = &self.mem else { return Ok(()) };
        let path = self.file.path();
        let file = open_rw(path, false)?;
        if self.written < self.entries {
            let from = self.written * self.width;
            file.write_all_at(&mem[from..], from as u64).ctx("writing", path)?;
            self.written = self.entries;
        }
        file.set_len((self.entries * self.width) as u64).ctx("trimming", path)?;
        self.mem = None;
        Ok(())
    }

    /// The last entry whose key (decoded by `key`) is `<= target`, by binary search: its number and bytes.
    /// A sealed index is searched with one descriptor from the cache for the whole search.
    pub(crate) fn floor(&self, target: i64, key: impl Fn(&[u8]) -> i64) -> Result<Option<(usize, Entry)>> {
        if self.entries == 0 {
            return Ok(None);
        }
        let source = self.source()?;
        let (mut lo, mut hi) = (0usize, self.entries);
        let mut found = None;
        // INVARIANT: entries [0, lo) have key <= target, entries [hi, len) have key > target.
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let e = self.read_entry(&source, mid)?;
            if key(&e[..self.width]) <= target {
                found = Some((mid, e));
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(found)
    }

    pub(crate) fn path(&self) -> &Path {
        self.file.path()
    }

    /// Drops the cached descriptor of the file, if any.
    pub(crate) fn evict(&self) {
        self.file.evict();
    }
}

/// Offset-index entry fields.
pub(crate) fn offset_entry(rel_offset: u32, position: u32) -> [u8; 8] {
    let mut e = [0u8; 8];
    e[..4].copy_from_slice(&rel_offset.to_be_bytes());
    e[4..].copy_from_slice(&position.to_be_bytes());
    e
}

pub(crate) fn entry_rel_offset(e: &[u8]) -> i64 {
    i64::from(u32::from_be_bytes([e[0], e[1], e[2], e[3]]))
}

pub(crate) fn entry_position(e: &[u8]) -> i64 {
    i64::from(u32::from_be_bytes([e[4], e[5], e[6], e[7]]))
}

/// Time-index entry fields.
pub(crate) fn time_entry(timestamp: i64, rel_offset: u32) -> [u8; 12] {
    let mut e = [0u8; 12];
    e[..8].copy_from_slice(&timestamp.to_be_bytes());
    e[8..].copy_from_slice(&rel_offset.to_be_bytes());
    e
}

pub(crate) fn entry_timestamp(e: &[u8]) -> i64 {
    i64::from_be_bytes([e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]])
}

pub(crate) fn time_entry_rel_offset(e: &[u8]) -> i64 {
    i64::from(u32::from_be_bytes([e[8], e[9], e[10], e[11]]))
}

pub(crate) const OFFSET_WIDTH: usize = 8;
pub(crate) const TIME_WIDTH: usize = 12;
