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
//! The active segment's entries live in memory (the same bytes as the file) and reach the file on flush,
//! roll and close; appends never touch the index file. A sealed index is searched on disk with `pread`, so
//! an open log holds no memory for its old segments. After a crash the active index is rebuilt from the log
//! by recovery, exactly as Kafka does, since nothing can tell a stale index from a good one.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};

/// An index file with fixed-width entries whose first field is the search key.
#[derive(Debug)]
pub(crate) struct Index {
    path: PathBuf,
    file: File,
    width: usize,
    /// The most entries the file may hold.
    max_entries: usize,
    entries: usize,
    /// `Some` while active: every entry's bytes. INVARIANT: `mem.len() == entries * width`.
    mem: Option<Vec<u8>>,
    /// Entries already written to the file (only meaningful while active).
    written: usize,
}

impl Index {
    /// Opens (creating if missing) an index. An active index is read into memory and preallocated; a
    /// sealed one is trusted to be exactly its entries.
    pub(crate) fn open(path: &Path, width: usize, max_bytes: u64, active: bool) -> Result<Index> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .ctx("opening", path)?;
        let len = file.metadata().ctx("reading the size of", path)?.len();
        let max_entries = (max_bytes as usize / width).max(1);
        let entries = (len as usize / width).min(max_entries);
        let mut index = Index {
            path: path.to_path_buf(),
            file,
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
    pub(crate) fn create(path: &Path, width: usize, max_bytes: u64) -> Result<Index> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .ctx("creating", path)?;
        let max_entries = (max_bytes as usize / width).max(1);
        let index = Index {
            path: path.to_path_buf(),
            file,
            width,
            max_entries,
            entries: 0,
            mem: Some(Vec::new()),
            written: 0,
        };
        index
            .file
            .set_len((max_entries * width) as u64)
            .ctx("preallocating", path)?;
        Ok(index)
    }

    /// Loads the entries into memory and preallocates the file, making the index appendable.
    pub(crate) fn activate(&mut self) -> Result<()> {
        if self.mem.is_some() {
            return Ok(());
        }
        let mut mem = vec![0u8; self.entries * self.width];
        self.file.read_exact_at(&mut mem, 0).ctx("reading", &self.path)?;
        self.mem = Some(mem);
        self.written = self.entries;
        self.file
            .set_len((self.max_entries * self.width) as u64)
            .ctx("preallocating", &self.path)?;
        Ok(())
    }

    pub(crate) fn len(&self) -> usize {
        self.entries
    }

    pub(crate) fn is_full(&self) -> bool {
        self.entries >= self.max_entries
    }

    /// The bytes of entry `i`.
    pub(crate) fn entry(&self, i: usize, out: &mut [u8]) -> Result<()> {
        match &self.mem {
            Some(mem) => {
                out.copy_from_slice(&mem[i * self.width..(i + 1) * self.width]);
                Ok(())
            }
            None => self
                .file
                .read_exact_at(out, (i * self.width) as u64)
                .ctx("reading", &self.path),
        }
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
            self.file
                .set_len((n * self.width) as u64)
                .ctx("truncating", &self.path)?;
        }
        Ok(())
    }

    /// Writes the entries not yet in the file (one `pwrite`).
    pub(crate) fn write_out(&mut self) -> Result<()> {
        if let Some(mem) = &self.mem {
            if self.written < self.entries {
                let from = self.written * self.width;
                self.file
                    .write_all_at(&mem[from..], from as u64)
                    .ctx("writing", &self.path)?;
                self.written = self.entries;
            }
        }
        Ok(())
    }

    /// Writes everything out, trims the file to its entries and drops the in-memory copy.
    pub(crate) fn seal(&mut self) -> Result<()> {
        self.write_out()?;
        self.file
            .set_len((self.entries * self.width) as u64)
            .ctx("trimming", &self.path)?;
        self.mem = None;
        Ok(())
    }

    pub(crate) fn try_clone_file(&self) -> Option<File> {
        self.file.try_clone().ok()
    }

    /// The index of the last entry whose key (decoded by `key`) is `<= target`, by binary search.
    pub(crate) fn floor(&self, target: i64, key: impl Fn(&[u8]) -> i64) -> Result<Option<usize>> {
        let (mut lo, mut hi) = (0usize, self.entries);
        let mut buf = [0u8; 16];
        let buf = &mut buf[..self.width];
        // INVARIANT: entries [0, lo) have key <= target, entries [hi, len) have key > target.
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            self.entry(mid, buf)?;
            if key(buf) <= target {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo.checked_sub(1))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
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
