//! One segment: a `.log` file of record batches exactly as on the wire, with its two indexes.
//!
//! Positions are located through the offset index and then a short forward scan of batch headers, each
//! read with one `pread` of 61 bytes; batch bodies are never read except by recovery (which checks CRCs).
//!
//! Descriptors: the active segment holds its `.log` open. A sealed segment holds nothing open: its `.log`
//! and indexes are opened through the log's descriptor cache ([`crate::file_cache`]) when read, and each
//! operation takes one descriptor for its whole length (a search, a read, a scan), so an eviction in the
//! middle of it cannot pull the file away.

use std::fs::{File, OpenOptions};
use std::io::IoSlice;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use protocol::record::{batch_crc, BatchHeader, BATCH_HEADER_SIZE};

use crate::config::LogConfig;
use crate::error::{Error, IoContext, Result};
use crate::file_cache::{CachedFile, FileCache};
use crate::flusher::{SyncTarget, Synced};
use crate::index::{self, Index, OFFSET_WIDTH, TIME_WIDTH};

/// The file name prefix of a segment: the base offset in 20 digits.
pub(crate) fn file_name(base_offset: i64, suffix: &str) -> String {
    format!("{base_offset:020}{suffix}")
}

/// What a batch header tells about the batch at some position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchInfo {
    pub position: u64,
    pub base_offset: i64,
    pub last_offset: i64,
    pub size: u64,
    pub max_timestamp: i64,
}

impl BatchInfo {
    fn from_header(position: u64, h: &BatchHeader<'_>) -> Self {
        BatchInfo {
            position,
            base_offset: h.base_offset(),
            last_offset: h.last_offset(),
            size: h.size_in_bytes() as u64,
            max_timestamp: h.max_timestamp(),
        }
    }
}

/// What recovery found in a segment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Recovered {
    /// Bytes cut from the end of the file (a torn or corrupt tail).
    pub truncated_bytes: u64,
    /// The batch error that ended the valid part, if any.
    pub stopped_by_error: bool,
    /// The leader epochs of the valid batches, as [`note_epoch_start`] collects them.
    pub epochs: Vec<(i32, i64)>,
}

/// Notes a batch's leader epoch in `out`, the `(epoch, base_offset)` of each batch whose epoch is
/// greater than every epoch before it in the same scan (the only ones the epoch cache can assign; `-1`,
/// no epoch, never is).
pub(crate) fn note_epoch_start(out: &mut Vec<(i32, i64)>, epoch: i32, base_offset: i64) {
    if epoch >= 0 && out.last().is_none_or(|&(latest, _)| epoch > latest) {
        out.push((epoch, base_offset));
    }
}

/// Where a read found its records in one segment.
#[derive(Debug)]
pub(crate) enum Region {
    /// No batch of this segment reaches the offset: look in the next one.
    NotHere,
    /// The batch holding the offset reaches the upper bound: nothing is visible yet.
    Hidden,
    /// The records: the file, the byte range, and the size of the first batch.
    Found(Arc<File>, std::ops::Range<u64>, u64),
}

#[derive(Debug)]
pub(crate) struct Segment {
    pub base_offset: i64,
    /// The `.log` while the segment is active (appends and most reads hit it); `None` once sealed.
    active_log: Option<Arc<File>>,
    /// The `.log` through the descriptor cache, for a sealed segment.
    log: CachedFile,
    pub log_path: PathBuf,
    /// INVARIANT: the committed size; readers never look past it, and it always ends on a batch boundary.
    pub size: u64,
    /// The offset after the last batch (the base offset when empty).
    pub next_offset: i64,
    pub index: Index,
    pub time_index: Index,
    bytes_since_index: u64,
    pub max_timestamp: i64,
    offset_of_max_timestamp: i64,
    last_time_entry: i64,
    /// Wall-clock milliseconds of the first append (or the file's mtime when reopened), for `segment_ms`.
    pub created_ms: i64,
    /// True when some of the segment's data may not have reached the disk: appended bytes of the active
    /// segment, or any file of a sealed one (indexes written by the roll, a recovered segment).
    pub dirty: bool,
    /// For a sealed segment whose sync was queued on the flusher: set once its files are on disk.
    pub synced: Option<Synced>,
}

fn paths(dir: &Path, base: i64) -> (PathBuf, PathBuf, PathBuf) {
    (
        dir.join(file_name(base, ".log")),
        dir.join(file_name(base, ".index")),
        dir.join(file_name(base, ".timeindex")),
    )
}

/// Opens an existing `.log` for reading and appending: the file, its size, and its mtime in ms.
fn open_log(path: &Path) -> Result<(File, u64, i64)> {
    let log = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .ctx("opening", path)?;
    let size = log.metadata().ctx("reading the size of", path)?.len();
    let created_ms = mtime_ms(&log);
    Ok((log, size, created_ms))
}

fn mtime_ms(file: &File) -> i64 {
    file.metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64)
}

impl Segment {
    /// A segment over an opened `.log` (active until sealed), with nothing known yet about its contents.
    #[allow(clippy::too_many_arguments)]
    fn assemble(
        cache: &Arc<FileCache>,
        base_offset: i64,
        log: File,
        log_path: PathBuf,
        size: u64,
        index: Index,
        time_index: Index,
        created_ms: i64,
    ) -> Segment {
        Segment {
            base_offset,
            active_log: Some(Arc::new(log)),
            log: CachedFile::new(cache, log_path.clone()),
            log_path,
            size,
            next_offset: base_offset,
            index,
            time_index,
            bytes_since_index: 0,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            last_time_entry: i64::MIN,
            created_ms,
            dirty: false,
            synced: None,
        }
    }

    /// The `.log`: the active segment's own descriptor, or one from the cache.
    pub(crate) fn log_file(&self) -> Result<Arc<File>> {
        match &self.active_log {
            Some(file) => Ok(Arc::clone(file)),
            None => self.log.get(),
        }
    }

    /// The active segment's `.log`, for writing. A sealed segment has none (its log was closed).
    fn writable_log(&self) -> Result<&Arc<File>> {
        self.active_log.as_ref().ok_or_else(|| Error::Closed {
            dir: self.log_path.parent().map(Path::to_path_buf).unwrap_or_default(),
        })
    }

    /// Creates an empty segment (replacing files of the same name).
    pub(crate) fn create(
        cache: &Arc<FileCache>,
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
        now_ms: i64,
    ) -> Result<Segment> {
        let (log_path, index_path, time_path) = paths(dir, base_offset);
        let log = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&log_path)
            .ctx("creating", &log_path)?;
        let index = Index::create(cache, &index_path, OFFSET_WIDTH, config.segment_index_bytes)?;
        let time_index = Index::create(cache, &time_path, TIME_WIDTH, config.segment_index_bytes)?;
        Ok(Segment::assemble(
            cache,
            base_offset,
            log,
            log_path,
            0,
            index,
            time_index,
            now_ms,
        ))
    }

    /// Opens an existing segment and trusts its files (a clean shutdown, or below the recovery point).
    /// `next_offset` is found from the last index entry and a short scan, so the log is never read whole.
    /// The segment is returned active (its `.log` open); the caller seals it unless it is the last one.
    pub(crate) fn open(
        cache: &Arc<FileCache>,
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
        active: bool,
    ) -> Result<Segment> {
        let (log_path, index_path, time_path) = paths(dir, base_offset);
        let (log, size, created_ms) = open_log(&log_path)?;
        let index = Index::open(cache, &index_path, OFFSET_WIDTH, config.segment_index_bytes, active)?;
        let time_index = Index::open(cache, &time_path, TIME_WIDTH, config.segment_index_bytes, active)?;
        let mut seg = Segment::assemble(cache, base_offset, log, log_path, size, index, time_index, created_ms);
        if seg.time_index.len() > 0 {
            let e = seg.time_index.entry(seg.time_index.len() - 1)?;
            seg.last_time_entry = index::entry_timestamp(&e);
            seg.max_timestamp = seg.last_time_entry;
            seg.offset_of_max_timestamp = base_offset + index::time_entry_rel_offset(&e);
        }
        // Scan the tail after the last index entry for the end offset and the newest timestamps.
        let (_, start) = seg.index_floor(i64::MAX)?;
        let file = seg.log_file()?;
        let mut pos = start;
        while pos < seg.size {
            let b = seg.batch_at(&file, pos)?;
            if pos + b.size > seg.size {
                return Err(Error::Corrupt {
                    path: seg.log_path.clone(),
                    reason: format!("the batch at position {pos} runs past the end of the file"),
                });
            }
            seg.note_timestamp(b.max_timestamp, b.last_offset);
            seg.next_offset = b.last_offset + 1;
            seg.bytes_since_index += b.size;
            pos += b.size;
        }
        Ok(seg)
    }

    /// Opens a segment and rebuilds it from its log: every batch is checked (header, length, CRC, offsets
    /// increasing from `min_offset`), the log is truncated at the first bad batch, and both indexes are
    /// rebuilt. Reads in large sequential chunks.
    pub(crate) fn recover(
        cache: &Arc<FileCache>,
        dir: &Path,
        base_offset: i64,
        min_offset: i64,
        config: &LogConfig,
    ) -> Result<(Segment, Recovered)> {
        let (log_path, index_path, time_path) = paths(dir, base_offset);
        let (log, file_len, created_ms) = open_log(&log_path)?;
        let index = Index::create(cache, &index_path, OFFSET_WIDTH, config.segment_index_bytes)?;
        let time_index = Index::create(cache, &time_path, TIME_WIDTH, config.segment_index_bytes)?;
        let mut seg = Segment::assemble(cache, base_offset, log, log_path, 0, index, time_index, created_ms);
        let log = seg.log_file()?;
        let mut expected = min_offset.max(base_offset);
        let mut buf: Vec<u8> = Vec::new();
        let mut buf_start = 0u64;
        let mut pos = 0u64;
        let mut stopped_by_error = false;
        let mut epochs = Vec::new();
        const CHUNK: usize = 1 << 20;
        while pos < file_len {
            // Make sure the batch's header, then the whole batch, is in the buffer.
            let want_header = (pos + BATCH_HEADER_SIZE as u64).min(file_len);
            if want_header > buf_start + buf.len() as u64 || pos < buf_start {
                buf_start = pos;
                let n = CHUNK.min((file_len - pos) as usize);
                buf.resize(n, 0);
                log.read_exact_at(&mut buf, pos).ctx("reading", &seg.log_path)?;
            }
            let at = (pos - buf_start) as usize;
            let header = match BatchHeader::parse(&buf[at..]) {
                Ok(h) => h,
                Err(_) => {
                    stopped_by_error = true;
                    break;
                }
            };
            let size = header.size_in_bytes() as u64;
            if pos + size > file_len {
                stopped_by_error = true;
                break;
            }
            if at + size as usize > buf.len() {
                buf_start = pos;
                buf.resize((size as usize).max(CHUNK.min((file_len - pos) as usize)), 0);
                log.read_exact_at(&mut buf, pos).ctx("reading", &seg.log_path)?;
            }
            let at = (pos - buf_start) as usize;
            let bytes = &buf[at..at + size as usize];
            let h = BatchHeader::parse(bytes).map_err(Error::from)?;
            let crc_ok = batch_crc(bytes) == h.crc();
            let offsets_ok = h.base_offset() >= expected
                && h.last_offset() >= h.base_offset()
                && h.last_offset() - base_offset <= i64::from(u32::MAX >> 1);
            if !crc_ok || !offsets_ok {
                stopped_by_error = true;
                break;
            }
            let info = BatchInfo::from_header(pos, &h);
            note_epoch_start(&mut epochs, h.partition_leader_epoch(), info.base_offset);
            seg.index_append(info.position, info.size, info.last_offset, info.max_timestamp, config);
            seg.size = pos + size;
            seg.next_offset = info.last_offset + 1;
            expected = seg.next_offset;
            pos += size;
        }
        let truncated_bytes = file_len - seg.size;
        if truncated_bytes > 0 {
            log.set_len(seg.size).ctx("truncating", &seg.log_path)?;
        }
        // Nothing says the recovered bytes (read back, maybe from the page cache) or the rebuilt indexes are
        // on disk: the next flush, or the flusher, syncs them before the recovery point passes them.
        seg.dirty = true;
        Ok((
            seg,
            Recovered {
                truncated_bytes,
                stopped_by_error,
                epochs,
            },
        ))
    }

    /// Reads the header of the batch at `pos` (one `pread` of 61 bytes of `file`, the segment's `.log`).
    pub(crate) fn batch_at(&self, file: &File, pos: u64) -> Result<BatchInfo> {
        let mut h = [0u8; BATCH_HEADER_SIZE];
        if pos + BATCH_HEADER_SIZE as u64 > self.size {
            return Err(Error::Corrupt {
                path: self.log_path.clone(),
                reason: format!("no batch header fits at position {pos} (size {})", self.size),
            });
        }
        file.read_exact_at(&mut h, pos).ctx("reading", &self.log_path)?;
        let header = BatchHeader::parse(&h).map_err(|e| Error::Corrupt {
            path: self.log_path.clone(),
            reason: format!("bad batch header at position {pos}: {e}"),
        })?;
        Ok(BatchInfo::from_header(pos, &header))
    }

    /// The greatest index entry at or below `offset`: (its offset, its position); `(base, 0)` if none.
    fn index_floor(&self, offset: i64) -> Result<(i64, u64)> {
        let rel = offset.saturating_sub(self.base_offset);
        match self.index.floor(rel, index::entry_rel_offset)? {
            Some((_, e)) => Ok((
                self.base_offset + index::entry_rel_offset(&e),
                index::entry_position(&e) as u64,
            )),
            None => Ok((self.base_offset, 0)),
        }
    }

    /// The first batch whose last offset is `>= offset`, or `None` if the segment has none.
    pub(crate) fn find(&self, file: &File, offset: i64) -> Result<Option<BatchInfo>> {
        let (_, mut pos) = self.index_floor(offset)?;
        while pos < self.size {
            let b = self.batch_at(file, pos)?;
            if b.last_offset >= offset {
                return Ok(Some(b));
            }
            pos += b.size;
        }
        Ok(None)
    }

    /// Calls `f` with the header of every batch from position `from` (a batch boundary) to the end: one
    /// `pread` of 61 bytes per batch, bodies are never read.
    fn for_each_header(&self, from: u64, mut f: impl FnMut(&BatchHeader<'_>)) -> Result<()> {
        let mut h = [0u8; BATCH_HEADER_SIZE];
        let mut pos = from;
        let file = self.log_file()?;
        while pos < self.size {
            file.read_exact_at(&mut h, pos).ctx("reading", &self.log_path)?;
            let header = BatchHeader::parse(&h).map_err(|e| Error::Corrupt {
                path: self.log_path.clone(),
                reason: format!("bad batch header at position {pos}: {e}"),
            })?;
            f(&header);
            pos += header.size_in_bytes() as u64;
        }
        Ok(())
    }

    /// The producer fields of every batch from position `from` (a batch boundary) to the end, by header
    /// reads only.
    pub(crate) fn producer_batches(&self, from: u64, out: &mut Vec<crate::ProducerBatch>) -> Result<()> {
        self.for_each_header(from, |header| {
            if header.producer_id() >= 0 {
                out.push(crate::ProducerBatch {
                    producer_id: header.producer_id(),
                    producer_epoch: header.producer_epoch(),
                    base_sequence: header.base_sequence(),
                    last_offset_delta: header.last_offset_delta(),
                    base_offset: header.base_offset(),
                    max_timestamp: header.max_timestamp(),
                });
            }
        })
    }

    /// The leader epochs of the segment's batches, as [`note_epoch_start`] collects them, by header reads
    /// only (rebuilding a missing `leader-epoch-checkpoint`).
    pub(crate) fn epoch_starts(&self) -> Result<Vec<(i32, i64)>> {
        let mut out = Vec::new();
        self.for_each_header(0, |header| {
            note_epoch_start(&mut out, header.partition_leader_epoch(), header.base_offset())
        })?;
        Ok(out)
    }

    /// The last batch boundary at or before `position` that the index knows (0 if none).
    pub(crate) fn boundary_before(&self, position: u64) -> Result<u64> {
        Ok(self
            .index
            .floor(position as i64, index::entry_position)?
            .map_or(0, |(_, e)| index::entry_position(&e) as u64))
    }

    /// The position where the batch holding `offset` starts, or the segment size if the segment ends first.
    pub(crate) fn position_of(&self, file: &File, offset: i64) -> Result<u64> {
        Ok(self.find(file, offset)?.map_or(self.size, |b| b.position))
    }

    /// The last batch boundary at or below `limit`, scanning from `start` (itself a boundary).
    /// Uses the index to skip ahead, so only a few headers are read.
    pub(crate) fn boundary_at_or_below(&self, file: &File, start: u64, limit: u64) -> Result<u64> {
        let limit = limit.min(self.size);
        let mut pos = start;
        if let Some((_, e)) = self.index.floor(limit as i64, index::entry_position)? {
            pos = pos.max(index::entry_position(&e) as u64);
        }
        while pos < limit {
            let b = self.batch_at(file, pos)?;
            if pos + b.size > limit {
                break;
            }
            pos += b.size;
        }
        Ok(pos)
    }

    /// Locates a read in this segment: from the batch holding `fetch_offset` to the last batch boundary
    /// within `max_bytes` and below `upper` (the first batch whole even when larger). One descriptor is
    /// taken for the whole search and returned with the range, for `sendfile`.
    pub(crate) fn read(&self, fetch_offset: i64, max_bytes: u64, upper: i64) -> Result<Region> {
        let file = self.log_file()?;
        let Some(first) = self.find(&file, fetch_offset)? else {
            return Ok(Region::NotHere);
        };
        // A batch that reaches the upper bound is not visible yet.
        if first.last_offset >= upper {
            return Ok(Region::Hidden);
        }
        let upper_pos = if upper >= self.next_offset {
            self.size
        } else {
            self.position_of(&file, upper)?
        };
        let limit = first
            .position
            .saturating_add(max_bytes)
            .min(upper_pos)
            .max(first.position + first.size);
        let end = self.boundary_at_or_below(&file, first.position, limit)?;
        Ok(Region::Found(file, first.position..end, first.size))
    }

    fn note_timestamp(&mut self, max_timestamp: i64, last_offset: i64) {
        if max_timestamp > self.max_timestamp {
            self.max_timestamp = max_timestamp;
            self.offset_of_max_timestamp = last_offset;
        }
    }

    /// Kafka's index rule: after more than `index_interval_bytes` since the last entry, index this append
    /// (its last offset -> its start position), and the newest timestamp if it grew.
    fn index_append(&mut self, position: u64, size: u64, last_offset: i64, max_timestamp: i64, config: &LogConfig) {
        self.note_timestamp(max_timestamp, last_offset);
        if self.bytes_since_index > config.index_interval_bytes && !self.index.is_full() {
            self.index.push(&index::offset_entry(
                (last_offset - self.base_offset) as u32,
                position as u32,
            ));
            self.maybe_time_entry();
            self.bytes_since_index = 0;
        }
        self.bytes_since_index += size;
    }

    fn maybe_time_entry(&mut self) {
        if self.max_timestamp > self.last_time_entry && !self.time_index.is_full() && self.offset_of_max_timestamp >= 0
        {
            let rel = (self.offset_of_max_timestamp - self.base_offset) as u32;
            self.time_index.push(&index::time_entry(self.max_timestamp, rel));
            self.last_time_entry = self.max_timestamp;
        }
    }

    /// True if an append of `size` bytes ending at `last_offset` must go to a new segment.
    pub(crate) fn should_roll(&self, size: u64, last_offset: i64, config: &LogConfig, now_ms: i64) -> bool {
        self.size > 0
            && (self.size + size > config.segment_bytes
                || now_ms.saturating_sub(self.created_ms) > config.segment_ms
                || self.index.is_full()
                || self.time_index.is_full()
                || last_offset - self.base_offset > i64::from(u32::MAX >> 1))
    }

    /// Writes `parts` (one batch or several, in order) at the end with one `pwritev`, then indexes them.
    /// On failure the file is cut back, so nothing half-written stays.
    pub(crate) fn append(
        &mut self,
        parts: &[&[u8]],
        last_offset: i64,
        max_timestamp: i64,
        config: &LogConfig,
        now_ms: i64,
    ) -> Result<()> {
        let position = self.size;
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let file = self.writable_log()?;
        if let Err(e) = write_all_at(file, parts, position) {
            // Best effort: the committed size never moved, so readers cannot see the torn bytes anyway.
            let _ = file.set_len(position);
            return Err(Error::Io {
                op: "appending to",
                path: self.log_path.clone(),
                source: e,
            });
        }
        if self.size == 0 {
            self.created_ms = now_ms;
        }
        self.index_append(position, len as u64, last_offset, max_timestamp, config);
        self.size += len as u64;
        self.next_offset = last_offset + 1;
        self.dirty = true;
        Ok(())
    }

    /// Seals the segment when it stops being the active one: a final time-index entry, and both index
    /// files written and trimmed. Returns the `.log` descriptor the active segment held (the caller caches
    /// it, queues its sync, or lets it close); from now on the `.log` is opened through the cache.
    pub(crate) fn seal(&mut self) -> Result<Option<Arc<File>>> {
        self.maybe_time_entry();
        self.index.seal()?;
        self.time_index.seal()?;
        Ok(self.active_log.take())
    }

    /// Makes a sealed segment appendable again (after a truncation made it the last one): indexes back in
    /// memory, and its own `.log` descriptor, opened for writing.
    pub(crate) fn activate(&mut self) -> Result<()> {
        self.index.activate()?;
        self.time_index.activate()?;
        if self.active_log.is_none() {
            let (file, _, _) = open_log(&self.log_path)?;
            self.log.evict();
            self.active_log = Some(Arc::new(file));
        }
        // A sync queued when it was sealed no longer describes it: flushes sync the active segment's log.
        self.synced = None;
        Ok(())
    }

    /// Caches the `.log` descriptor of a segment that was just sealed (a roll: its data is likely read
    /// soon, and the descriptor is open anyway).
    pub(crate) fn keep_open(&self, file: Arc<File>) {
        self.log.keep(file);
    }

    /// Cuts the segment so that `offset` is its end: at the start of the batch holding `offset`.
    pub(crate) fn truncate_to(&mut self, offset: i64) -> Result<()> {
        let file = Arc::clone(self.writable_log()?);
        let position = self.position_of(&file, offset)?;
        if position >= self.size {
            return Ok(());
        }
        let first_gone = self.batch_at(&file, position)?.base_offset;
        file.set_len(position).ctx("truncating", &self.log_path)?;
        self.size = position;
        self.next_offset = first_gone;
        // Index entries for offsets that are gone.
        let keep = |idx: &Index, key: fn(&[u8]) -> i64| -> Result<usize> {
            Ok(idx
                .floor(first_gone - self.base_offset - 1, key)?
                .map_or(0, |(i, _)| i + 1))
        };
        let n = keep(&self.index, index::entry_rel_offset)?;
        self.index.truncate(n)?;
        let m = keep(&self.time_index, index::time_entry_rel_offset)?;
        self.time_index.truncate(m)?;
        // Recompute the newest timestamp: the last time entry, then the batches after the last offset entry.
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = -1;
        self.last_time_entry = i64::MIN;
        if m > 0 {
            let e = self.time_index.entry(m - 1)?;
            self.last_time_entry = index::entry_timestamp(&e);
            self.max_timestamp = self.last_time_entry;
            self.offset_of_max_timestamp = self.base_offset + index::time_entry_rel_offset(&e);
        }
        let (_, mut pos) = self.index_floor(i64::MAX)?;
        self.bytes_since_index = 0;
        while pos < self.size {
            let b = self.batch_at(&file, pos)?;
            self.note_timestamp(b.max_timestamp, b.last_offset);
            self.bytes_since_index += b.size;
            pos += b.size;
        }
        self.dirty = true;
        Ok(())
    }

    /// The offset of the first record with a timestamp `>= target` in this segment, if any, found through
    /// the time index, then the offset index, then batch headers; the one matching batch is decompressed
    /// to find the exact record (Kafka does the same; this is not a hot path).
    pub(crate) fn offset_for_timestamp(&self, target: i64) -> Result<Option<(i64, i64)>> {
        if self.max_timestamp < target {
            return Ok(None);
        }
        let start_offset = match self.time_index.floor(target, index::entry_timestamp)? {
            Some((_, e)) => self.base_offset + index::time_entry_rel_offset(&e),
            None => self.base_offset,
        };
        let (_, mut pos) = self.index_floor(start_offset)?;
        let file = self.log_file()?;
        while pos < self.size {
            let b = self.batch_at(&file, pos)?;
            if b.max_timestamp >= target {
                let mut bytes = vec![0u8; b.size as usize];
                file.read_exact_at(&mut bytes, pos).ctx("reading", &self.log_path)?;
                let (batch, _) = protocol::record::RecordBatch::parse(&bytes).map_err(Error::from)?;
                let h = batch.header();
                let records = batch.records().map_err(Error::from)?;
                for r in records {
                    let r = r.map_err(Error::from)?;
                    let ts = if h.is_log_append_time() {
                        h.max_timestamp()
                    } else {
                        h.base_timestamp() + r.timestamp_delta
                    };
                    if ts >= target {
                        return Ok(Some((h.base_offset() + i64::from(r.offset_delta), ts)));
                    }
                }
                // The max timestamp said a record qualifies; trust the header if the records disagree.
                return Ok(Some((b.last_offset, b.max_timestamp)));
            }
            pos += b.size;
        }
        Ok(None)
    }

    /// What to sync for this segment: its `.log` (through `log` if given, the descriptor it held while
    /// active, else the active descriptor or a fresh one), and with `whole` its two index files too (a
    /// sealed segment; the active one's indexes are rebuilt by recovery, so only its log counts).
    pub(crate) fn sync_targets(&self, log: Option<Arc<File>>, whole: bool) -> Vec<SyncTarget> {
        let log = match log.or_else(|| self.active_log.clone()) {
            Some(file) => SyncTarget::Open(file, self.log_path.clone()),
            None => SyncTarget::Path(self.log_path.clone()),
        };
        let mut targets = vec![log];
        if whole {
            for idx in [&self.index, &self.time_index] {
                targets.push(SyncTarget::Path(idx.path().to_path_buf()));
            }
        }
        targets
    }

    /// Closes every descriptor of the segment: its own `.log` and the cache's (its log was deleted or
    /// closed for good). Reads then open the files again, or fail if they are gone.
    pub(crate) fn release_files(&mut self) {
        self.active_log = None;
        self.log.evict();
        self.index.evict();
        self.time_index.evict();
    }

    /// Removes the segment's files and drops the cache's descriptors of them (readers holding the log file
    /// keep reading it until they drop it).
    pub(crate) fn delete_files(&self) -> Result<()> {
        self.log.evict();
        self.index.evict();
        self.time_index.evict();
        for p in [self.log_path.as_path(), self.index.path(), self.time_index.path()] {
            match std::fs::remove_file(p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(Error::Io {
                        op: "deleting",
                        path: p.to_path_buf(),
                        source: e,
                    })
                }
            }
        }
        Ok(())
    }
}

/// `pwritev` of all `parts` at `position`, continuing after short writes.
fn write_all_at(file: &File, parts: &[&[u8]], mut position: u64) -> std::io::Result<()> {
    let mut parts: Vec<&[u8]> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
    let mut first = 0;
    while first < parts.len() {
        let iov: Vec<IoSlice<'_>> = parts[first..].iter().map(|p| IoSlice::new(p)).collect();
        let n = match nix::sys::uio::pwritev(file, &iov, position as i64) {
            Ok(0) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::WriteZero,
                    "pwritev wrote nothing",
                ))
            }
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        };
        position += n as u64;
        let mut left = n;
        while left > 0 && first < parts.len() {
            if left >= parts[first].len() {
                left -= parts[first].len();
                first += 1;
            } else {
                parts[first] = &parts[first][left..];
                left = 0;
            }
        }
    }
    Ok(())
}
