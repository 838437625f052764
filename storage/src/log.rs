//! A partition log: an ordered list of segments, the last one active.
//!
//! One writer and many readers: appends take the write lock for the length of one `pwritev`; reads take
//! the read lock to locate a file region and return it, so the bytes themselves are sent (with `sendfile`)
//! after the lock is released. Readers only ever see a segment's committed size, so a torn or failed
//! append is never visible. A `fdatasync` (flush policy) happens after the lock is released.
//!
//! Durability: the recovery point (every offset below it is on disk) is raised only by a flush that synced
//! everything below it, or by the flusher after it synced a rolled segment and every segment rolled before
//! it. A log opened by a [`crate::LogManager`] shares the manager's flusher and descriptor cache; a log
//! opened with [`Log::open`] has its own of each (a flusher thread started at its first roll and stopped
//! when the log is dropped, and a cache of [`crate::LogManagerOptions::DEFAULT_FILE_CACHE_CAPACITY`]
//! descriptors).
//!
//! Leader epochs: the log keeps Kafka's leader-epoch cache ([`crate::epoch_cache`]) under the same lock
//! as its segments and changes it with them: appends assign epochs from the batches they write,
//! truncations and a rising log start cut it, and opening the log reloads `leader-epoch-checkpoint` and
//! repairs it from the batch headers recovery reads anyway. Every change rewrites the file without a
//! sync; a flush, or the sync of a rolled segment, syncs it before the recovery point moves, and a
//! truncation queues its sync on the flusher.

use std::collections::BTreeMap;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use protocol::record::{set_base_offset, set_partition_leader_epoch, RecordBatch, BATCH_HEADER_SIZE};

use crate::config::LogConfig;
use crate::epoch_cache::{Assigned, EpochCache};
use crate::epoch_file::{self, EpochFile, Loaded};
use crate::error::{Error, IoContext, Result};
use crate::file_cache::FileCache;
use crate::flusher::{Flusher, Job, RecoveryPoint, SyncTarget, Synced};
use crate::segment::{Region, Segment};

/// What the caller knows about a log before opening it (from the data directory's checkpoint files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpenHints {
    /// True if the broker shut down cleanly (its marker file was present): no recovery is needed.
    pub clean_shutdown: bool,
    /// Segments at or above this offset are recovered after an unclean shutdown.
    pub recovery_point: i64,
    /// The log start offset last checkpointed (retention may have advanced it inside a segment).
    pub log_start_offset: i64,
}

/// What opening a log did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpenReport {
    /// Base offsets of the segments that were re-scanned (CRC-checked, indexes rebuilt).
    pub recovered_segments: Vec<i64>,
    /// Bytes cut from a torn or corrupt tail.
    pub truncated_bytes: u64,
    /// Segments deleted because they came after a corrupt batch.
    pub deleted_segments: Vec<i64>,
    /// The log end offset after opening.
    pub log_end_offset: i64,
}

/// The outcome of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// The offset assigned to the first record.
    pub base_offset: i64,
    /// The offset of the last record.
    pub last_offset: i64,
    /// The log start offset after the append.
    pub log_start_offset: i64,
}

/// The producer fields of one batch, for rebuilding idempotent-producer state after a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerBatch {
    /// The producer id.
    pub producer_id: i64,
    /// The producer epoch.
    pub producer_epoch: i16,
    /// The sequence of the first record.
    pub base_sequence: i32,
    /// The last offset minus the base offset (also the last sequence minus the base sequence).
    pub last_offset_delta: i32,
    /// The offset of the first record.
    pub base_offset: i64,
    /// The batch's largest record timestamp.
    pub max_timestamp: i64,
}

/// A byte range of a segment file: what a fetch sends with `sendfile`.
#[derive(Debug, Clone)]
pub struct Slice {
    /// The segment's `.log` file. For a sealed segment it is a descriptor shared with the log's descriptor
    /// cache: the slice keeps it open while it is being sent, even if the cache evicts it meanwhile.
    pub file: Arc<fs::File>,
    /// The byte range, starting and ending on batch boundaries.
    pub range: Range<u64>,
}

impl Slice {
    /// The number of bytes.
    pub fn len(&self) -> u64 {
        self.range.end - self.range.start
    }

    /// True when there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.range.is_empty()
    }
}

/// The outcome of a read.
#[derive(Debug, Clone)]
pub struct ReadInfo {
    /// The records, or `None` when there is nothing below the upper bound at that offset.
    pub slice: Option<Slice>,
    /// The size of the first batch (returned whole even when larger than `max_bytes`).
    pub first_batch_size: u64,
    /// The log start offset at the time of the read.
    pub log_start_offset: i64,
    /// The log end offset at the time of the read.
    pub log_end_offset: i64,
}

#[derive(Debug)]
struct State {
    /// INVARIANT: never empty; sorted by base offset; only the last one is active (indexes in memory).
    segments: Vec<Segment>,
    log_start_offset: i64,
    unflushed_messages: i64,
    last_flush_ms: i64,
    closed: bool,
    /// INVARIANT: the first offset of each leader epoch with batches in the log, as far as the log holds
    /// them: the first entry starts at or after the log start, and no entry starts after the log end (one
    /// starts at it only when the log start was raised to the log end: the epoch of the next append, as in
    /// Kafka). Every change is written to `Log::epoch_file` before the write lock is released.
    epochs: EpochCache,
    /// The last epoch an append was ignored for (lower than the latest), so that it is logged once.
    ignored_epoch: Option<i32>,
}

impl State {
    fn active(&mut self) -> &mut Segment {
        self.segments.last_mut().expect("a log always has a segment")
    }

    fn log_end_offset(&self) -> i64 {
        self.segments.last().map_or(0, |s| s.next_offset)
    }

    /// The index of the segment that would hold `offset`.
    fn segment_for(&self, offset: i64) -> usize {
        self.segments
            .partition_point(|s| s.base_offset <= offset)
            .saturating_sub(1)
    }
}

/// A partition log in Kafka's format. Cheap to share: wrap it in an `Arc`.
#[derive(Debug)]
pub struct Log {
    dir: PathBuf,
    /// Replaced by [`Log::set_config`] (a topic's configs changed); read once per operation.
    config: RwLock<Arc<LogConfig>>,
    state: RwLock<State>,
    /// Every offset below this is on disk (advanced by flushes and by the flusher after rolls).
    recovery_point: Arc<RecoveryPoint>,
    /// Held for a whole flush (collecting dirty files and syncing them). An append whose data another
    /// flush already collected must not return before that sync finished: it waits here.
    flush_lock: std::sync::Mutex<()>,
    /// Syncs rolled segments in the background: the manager's, or this log's own.
    flusher: Flusher,
    /// Descriptors of sealed segments' files: the manager's, or this log's own.
    cache: Arc<FileCache>,
    /// The `leader-epoch-checkpoint` file, shared with the flusher jobs that must sync it.
    epoch_file: Arc<EpochFile>,
}

/// The leader epochs recovery read in one re-scanned segment's batch headers.
#[derive(Debug)]
struct Rescanned {
    /// True if the segment is in the re-scanned tail: every segment from the one holding the recovery
    /// point on, after an unclean shutdown (not a segment re-scanned alone for a missing index).
    in_tail: bool,
    /// Its epoch starts, as [`crate::segment::note_epoch_start`] collects them.
    epochs: Vec<(i32, i64)>,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn parse_base(name: &str, suffix: &str) -> Option<i64> {
    let stem = name.strip_suffix(suffix)?;
    (stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()))
        .then(|| stem.parse().ok())
        .flatten()
}

impl Log {
    /// Opens the log in `dir` (creating it if needed), recovering it if the last shutdown was not clean.
    ///
    /// After a clean shutdown no segment is read: each one is opened from its trimmed indexes, with a scan
    /// of at most one index interval at its end. Otherwise every segment at or above the recovery point is
    /// re-scanned batch by batch (length, CRC, offsets increasing), cut at the first bad batch (all later
    /// segments are deleted, as Kafka does), and its indexes rebuilt.
    ///
    /// The leader-epoch cache is loaded from `leader-epoch-checkpoint`. Its entries from the first
    /// re-scanned segment on are replaced by the epochs of the re-scanned batch headers, and it is cut to
    /// the log end and clamped to the log start. A missing or malformed file (logs written before kzero
    /// kept one, a torn write) is rebuilt from the batch headers of every segment (61 bytes read per
    /// batch); it is not an error.
    ///
    /// The log gets its own flusher and descriptor cache; logs of a [`crate::LogManager`] share the
    /// manager's.
    pub fn open(dir: &Path, config: LogConfig, hints: OpenHints) -> Result<(Log, OpenReport)> {
        let cache = FileCache::new(crate::LogManagerOptions::DEFAULT_FILE_CACHE_CAPACITY);
        Log::open_shared(dir, config, hints, cache, Flusher::new())
    }

    /// [`Log::open`] with the flusher and descriptor cache of a [`crate::LogManager`].
    pub(crate) fn open_shared(
        dir: &Path,
        config: LogConfig,
        hints: OpenHints,
        cache: Arc<FileCache>,
        flusher: Flusher,
    ) -> Result<(Log, OpenReport)> {
        fs::create_dir_all(dir).ctx("creating", dir)?;
        let mut bases = Vec::new();
        for entry in fs::read_dir(dir).ctx("listing", dir)? {
            let entry = entry.ctx("listing", dir)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(base) = parse_base(&name, ".log") {
                bases.push(base);
            } else if name.ends_with(".deleted") || name.ends_with(".cleaned") || name.ends_with(".swap") {
                fs::remove_file(entry.path()).ctx("removing", &entry.path())?;
            } else if let Some(base) = parse_base(&name, ".index").or_else(|| parse_base(&name, ".timeindex")) {
                if !dir.join(crate::segment::file_name(base, ".log")).exists() {
                    tracing::info!(file = %entry.path().display(), "removing an index without a log");
                    fs::remove_file(entry.path()).ctx("removing", &entry.path())?;
                }
            } else if name == format!("{}.tmp", epoch_file::FILE_NAME) {
                // A write of the epoch checkpoint that never got renamed: the file itself is intact.
                fs::remove_file(entry.path()).ctx("removing", &entry.path())?;
            } else if !matches!(name.as_str(), epoch_file::FILE_NAME | "partition.metadata") {
                tracing::warn!(file = %entry.path().display(), "ignoring an unknown file in a log directory");
            }
        }
        bases.sort_unstable();

        // Kafka recovers every segment that holds offsets at or above the recovery point, including the one
        // the recovery point falls in (`LogLoader.recoverLog`, `logSegments(recoveryPoint, ...)`).
        let first_unflushed = bases
            .iter()
            .copied()
            .filter(|&b| b <= hints.recovery_point)
            .max()
            .unwrap_or(i64::MIN);
        let loaded = epoch_file::load(dir)?;
        // What recovery read of each re-scanned segment's epochs, by base offset.
        let mut scanned: BTreeMap<i64, Rescanned> = BTreeMap::new();
        let mut report = OpenReport::default();
        let mut segments: Vec<Segment> = Vec::new();
        let now = now_ms();
        let count = bases.len();
        for (i, &base) in bases.iter().enumerate() {
            let is_last = i + 1 == count;
            let index_exists = dir.join(crate::segment::file_name(base, ".index")).exists();
            let expected = segments.last().map_or(i64::MIN, |s: &Segment| s.next_offset);
            let needs_recovery = !index_exists || (!hints.clean_shutdown && base >= first_unflushed);
            let opened = if needs_recovery {
                None
            } else {
                match Segment::open(&cache, dir, base, &config, is_last) {
                    Ok(seg) => Some(seg),
                    Err(Error::Corrupt { path, reason }) => {
                        tracing::warn!(file = %path.display(), %reason, "segment is inconsistent; recovering it");
                        None
                    }
                    Err(e) => return Err(e),
                }
            };
            let mut seg = match opened {
                Some(seg) => seg,
                None => {
                    let (seg, mut recovered) = Segment::recover(&cache, dir, base, expected, &config)?;
                    let in_tail = !hints.clean_shutdown && base >= first_unflushed;
                    let epochs = std::mem::take(&mut recovered.epochs);
                    scanned.insert(base, Rescanned { in_tail, epochs });
                    report.recovered_segments.push(base);
                    report.truncated_bytes += recovered.truncated_bytes;
                    if recovered.stopped_by_error {
                        if recovered.truncated_bytes > 0 {
                            tracing::warn!(
                                dir = %dir.display(),
                                segment = base,
                                bytes = recovered.truncated_bytes,
                                "truncated a torn or corrupt tail"
                            );
                        }
                        let seg = seg;
                        for &later in &bases[i + 1..] {
                            for suffix in [".log", ".index", ".timeindex"] {
                                let p = dir.join(crate::segment::file_name(later, suffix));
                                if p.exists() {
                                    fs::remove_file(&p).ctx("removing", &p)?;
                                }
                            }
                            report.deleted_segments.push(later);
                        }
                        if seg.size == 0 && !segments.is_empty() {
                            // An empty segment after others: drop it and reopen the previous one.
                            seg.delete_files()?;
                            report.deleted_segments.push(base);
                            let prev = segments.last_mut().expect("checked");
                            prev.activate()?;
                        } else {
                            segments.push(seg);
                        }
                        break;
                    }
                    seg
                }
            };
            if !is_last {
                // Its descriptor closes here: a sealed segment's files are opened through the cache.
                seg.seal()?;
            }
            segments.push(seg);
        }
        if segments.is_empty() {
            segments.push(Segment::create(
                &cache,
                dir,
                hints.log_start_offset.max(0),
                &config,
                now,
            )?);
        }
        let log_end_offset = segments.last().map_or(0, |s| s.next_offset);
        let log_start_offset = hints.log_start_offset.clamp(segments[0].base_offset, log_end_offset);
        let recovery_point = if hints.clean_shutdown {
            log_end_offset
        } else {
            hints.recovery_point.min(log_end_offset)
        };
        report.log_end_offset = log_end_offset;
        let (epochs, epoch_file) = Log::open_epochs(dir, loaded, &segments, &scanned, &hints, log_start_offset)?;
        let epoch_file = Arc::new(epoch_file);
        let recovery_point = Arc::new(RecoveryPoint::new(recovery_point));
        // Recovered sealed segments (their data read back, their indexes rebuilt) are synced in the
        // background like rolled ones, and the recovery point climbs over them as they reach the disk.
        let mut earlier: Vec<Synced> = Vec::new();
        let sealed = segments.len() - 1;
        for i in 0..sealed {
            if !segments[i].dirty {
                continue;
            }
            let synced = Synced::default();
            segments[i].synced = Some(Arc::clone(&synced));
            let mut targets = segments[i].sync_targets(None, true);
            if epoch_file.needs_sync() {
                targets.push(SyncTarget::Epochs(Arc::clone(&epoch_file)));
            }
            flusher.submit(Job {
                targets,
                synced: Arc::clone(&synced),
                earlier: earlier.clone(),
                recovery_point: Arc::clone(&recovery_point),
                up_to: Some(segments[i + 1].base_offset),
                generation: recovery_point.generation(),
            });
            earlier.push(synced);
        }
        let state = State {
            segments,
            log_start_offset,
            unflushed_messages: 0,
            last_flush_ms: now,
            closed: false,
            epochs,
            ignored_epoch: None,
        };
        Ok((
            Log {
                dir: dir.to_path_buf(),
                config: RwLock::new(Arc::new(config)),
                state: RwLock::new(state),
                recovery_point,
                flush_lock: std::sync::Mutex::new(()),
                flusher,
                cache,
                epoch_file,
            },
            report,
        ))
    }

    /// The leader-epoch cache of a log being opened, and its file: the loaded entries with the tail
    /// replaced by what recovery re-scanned (or every segment's headers when there was no usable file),
    /// cut to the log end and clamped to the log start. The file is rewritten (unsynced) if that changed
    /// anything. See [`crate::epoch_cache`] for why this is enough after a crash.
    fn open_epochs(
        dir: &Path,
        loaded: Loaded,
        segments: &[Segment],
        scanned: &BTreeMap<i64, Rescanned>,
        hints: &OpenHints,
        log_start_offset: i64,
    ) -> Result<(EpochCache, EpochFile)> {
        let mut epochs = match &loaded {
            Loaded::Found(from_file) => {
                let mut epochs = from_file.clone();
                // Entries from the re-scanned tail on may be stale (the file is not synced on every
                // change): the tail's batch headers say what they are.
                let mut tail = scanned.iter().filter(|(_, s)| s.in_tail).peekable();
                if let Some((&first, _)) = tail.peek() {
                    epochs.truncate_from_end(first);
                }
                for (_, s) in tail {
                    for &(epoch, offset) in &s.epochs {
                        epochs.assign(epoch, offset);
                    }
                }
                epochs
            }
            Loaded::Missing | Loaded::Malformed(_) => {
                if let Loaded::Malformed(reason) = &loaded {
                    tracing::warn!(
                        file = %dir.join(epoch_file::FILE_NAME).display(),
                        %reason,
                        "the leader epoch checkpoint is malformed; rebuilding it from the batch headers"
                    );
                }
                let mut epochs = EpochCache::new();
                for seg in segments {
                    let starts = match scanned.get(&seg.base_offset) {
                        Some(s) => s.epochs.clone(),
                        None => seg.epoch_starts()?,
                    };
                    for (epoch, offset) in starts {
                        epochs.assign(epoch, offset);
                    }
                }
                epochs
            }
        };
        let log_end_offset = segments.last().map_or(0, |s| s.next_offset);
        epochs.truncate_from_end(log_end_offset);
        epochs.truncate_from_start(log_start_offset);
        // An absent file and an empty cache agree: no file is created for a log without epochs.
        let (unchanged, on_disk) = match &loaded {
            Loaded::Found(from_file) => (*from_file == epochs, true),
            Loaded::Missing => (epochs.entries().is_empty(), false),
            Loaded::Malformed(_) => (false, true),
        };
        // After an unclean shutdown the file read may have come from the page cache only.
        let synced = unchanged && (hints.clean_shutdown || !on_disk);
        let file = EpochFile::new(dir, epochs.to_text(), synced);
        if !unchanged {
            file.update(epochs.to_text());
        }
        Ok((epochs, file))
    }

    fn read_state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_state(&self) -> Result<RwLockWriteGuard<'_, State>> {
        let st = self.state.write().unwrap_or_else(|p| p.into_inner());
        if st.closed {
            return Err(Error::Closed { dir: self.dir.clone() });
        }
        Ok(st)
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The configuration.
    pub fn config(&self) -> Arc<LogConfig> {
        Arc::clone(&self.config.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Replaces the configuration (a topic's configs changed). It applies from the next operation: the
    /// next append checks sizes and roll conditions against it, the next retention pass and flush use it.
    /// Existing segments keep their files (a smaller `segment.index.bytes` applies to new segments).
    pub fn set_config(&self, config: LogConfig) {
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(config);
    }

    /// The first offset still in the log.
    pub fn log_start_offset(&self) -> i64 {
        self.read_state().log_start_offset
    }

    /// The offset the next append gets.
    pub fn log_end_offset(&self) -> i64 {
        self.read_state().log_end_offset()
    }

    /// Every offset below this is known to be on disk.
    pub fn recovery_point(&self) -> i64 {
        self.recovery_point.get()
    }

    /// The total size of the segments in bytes.
    pub fn size_in_bytes(&self) -> u64 {
        self.read_state().segments.iter().map(|s| s.size).sum()
    }

    /// The number of segments.
    pub fn segment_count(&self) -> usize {
        self.read_state().segments.len()
    }

    /// The latest leader epoch with batches in the log (Kafka's `LeaderEpochFileCache.latestEpoch`), or
    /// `None` when no batch carries one.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.read_state().epochs.latest_epoch()
    }

    /// The leader-epoch cache: `(epoch, start_offset)` for each epoch with batches in the log, oldest
    /// first, epochs and start offsets increasing. The first entry starts at or after the log start (it is
    /// moved up with it); entries start before the log end, except after the log start was raised to the
    /// log end, when the latest epoch starts there. These are the lines of `leader-epoch-checkpoint`.
    pub fn epoch_entries(&self) -> Vec<(i32, i64)> {
        self.read_state().epochs.entries().to_vec()
    }

    /// The end offset of leader epoch `requested`: what OffsetForLeaderEpoch answers, and what a leader
    /// compares with a follower's `LastFetchedEpoch` (Kafka's `LeaderEpochFileCache.endOffsetFor`).
    /// Returns `(epoch, end_offset)`:
    ///
    /// - `requested` is the latest epoch: `(requested, log end offset)`;
    /// - `requested` is below the latest epoch: the largest cached epoch at or below `requested`, and the
    ///   start offset of the first cached epoch above `requested` (where `requested`'s data ends);
    /// - `requested` is below every cached epoch: `(requested, start offset of the first cached epoch)`
    ///   (the older epochs' data is gone; Kafka answers the requested epoch, not `UNDEFINED_EPOCH`);
    /// - `requested` is -1 (`UNDEFINED_EPOCH`), above the latest epoch, or the cache is empty: `None`,
    ///   which the broker answers as `(UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)`, that is `(-1, -1)`.
    pub fn end_offset_for_epoch(&self, requested: i32) -> Option<(i32, i64)> {
        let st = self.read_state();
        st.epochs.end_offset_for(requested, st.log_end_offset())
    }

    /// Writes the epoch checkpoint after a truncation at either end, and queues its sync on the flusher,
    /// as Kafka's `truncateFrom{End,Start}AsyncFlush` schedule theirs: the truncating caller (a replica
    /// fetcher, DeleteRecords, retention) does not wait for a disk sync, yet the file does not wait for the
    /// next flush to reach the disk.
    fn epochs_truncated(&self, st: &State) {
        self.epoch_file.update(st.epochs.to_text());
        self.sync_epochs_in_background();
    }

    /// Queues a sync of the epoch checkpoint on the flusher, if it changed since it was last synced.
    fn sync_epochs_in_background(&self) {
        if self.epoch_file.needs_sync() {
            self.flusher.submit(Job {
                targets: vec![SyncTarget::Epochs(Arc::clone(&self.epoch_file))],
                synced: Synced::default(),
                earlier: Vec::new(),
                recovery_point: Arc::clone(&self.recovery_point),
                up_to: None,
                generation: self.recovery_point.generation(),
            });
        }
    }

    /// Records that this replica became leader at `epoch` with the log as it is: the epoch starts at the
    /// log end (Kafka's `maybeAssignEpochStartOffset` in `Partition.makeLeader`), so OffsetForLeaderEpoch
    /// and diverging-epoch checks know the epoch before any batch of it is written. An epoch not greater
    /// than the latest one changes nothing.
    pub fn assign_epoch_start(&self, epoch: i32) -> Result<()> {
        let mut st = self.write_state()?;
        if epoch >= 0 && st.epochs.latest_epoch().is_none_or(|latest| latest < epoch) {
            let end = st.log_end_offset();
            self.assign_epoch(&mut st, epoch, end);
        }
        Ok(())
    }

    /// Records that `epoch` starts at `base` (a batch just written there), off the common path of an
    /// append: called only when `epoch` is not the latest one.
    #[cold]
    fn assign_epoch(&self, st: &mut State, epoch: i32, base: i64) {
        match st.epochs.assign(epoch, base) {
            Assigned::New => self.epoch_file.update(st.epochs.to_text()),
            // A batch without a leader epoch (-1) has nothing to say.
            Assigned::Same => {}
            Assigned::Ignored if epoch < 0 => {}
            Assigned::Ignored => {
                if st.ignored_epoch != Some(epoch) {
                    st.ignored_epoch = Some(epoch);
                    tracing::warn!(
                        dir = %self.dir.display(),
                        epoch,
                        offset = base,
                        latest = ?st.epochs.latest_epoch(),
                        "ignoring a leader epoch that is not greater than the latest one"
                    );
                }
            }
        }
    }

    /// Checks a producer's batch as Kafka does for client appends (no decompression):
    /// one v2 batch, base offset 0, size limits, CRC, record count, no control batch, sequence set with a
    /// producer id.
    fn check_client_batch(&self, batch: &[u8], config: &LogConfig) -> Result<()> {
        let (parsed, size) = RecordBatch::parse(batch)?;
        let h = parsed.header();
        if size != batch.len() {
            return Err(Error::InvalidRecord {
                reason: "a produce request must carry exactly one batch per partition".into(),
            });
        }
        if h.base_offset() != 0 {
            return Err(Error::InvalidRecord {
                reason: format!("the base offset must be 0, not {}", h.base_offset()),
            });
        }
        if batch.len() > config.max_message_bytes {
            return Err(Error::MessageTooLarge {
                size: batch.len(),
                max: config.max_message_bytes,
            });
        }
        if batch.len() as u64 > config.segment_bytes {
            return Err(Error::RecordListTooLarge {
                size: batch.len(),
                segment_bytes: config.segment_bytes,
            });
        }
        parsed.verify_crc()?;
        let count = h.records_count();
        if count <= 0 || i64::from(count) != i64::from(h.last_offset_delta()) + 1 {
            return Err(Error::InvalidRecord {
                reason: format!(
                    "{count} records do not match the last offset delta {}",
                    h.last_offset_delta()
                ),
            });
        }
        if h.is_control() {
            return Err(Error::InvalidRecord {
                reason: "clients may not write control batches".into(),
            });
        }
        if h.producer_id() >= 0 && h.base_sequence() < 0 {
            return Err(Error::InvalidRecord {
                reason: "a batch with a producer id needs a base sequence".into(),
            });
        }
        Ok(())
    }

    /// Appends one producer batch as the leader: checks it, assigns offsets by patching the base offset
    /// and the partition leader epoch (outside the CRC) in a copy of the 61-byte header, and writes header
    /// and body with one `pwritev`. Record bytes are neither copied nor parsed.
    ///
    /// If `leader_epoch` is greater than the latest epoch of the log, it starts at this batch's base
    /// offset (see [`Log::end_offset_for_epoch`]) and `leader-epoch-checkpoint` is rewritten, not synced.
    /// An equal epoch costs one comparison; a lower one is ignored (and logged), as Kafka's recovery does.
    pub fn append(&self, batch: &[u8], leader_epoch: i32) -> Result<AppendInfo> {
        // One look at the config for the whole append (it may be replaced meanwhile: the next append sees it).
        let config = self.config();
        self.check_client_batch(batch, &config)?;
        let mut header = [0u8; BATCH_HEADER_SIZE];
        header.copy_from_slice(&batch[..BATCH_HEADER_SIZE]);
        let h = protocol::record::BatchHeader::parse(batch)?;
        let (delta, max_ts, count) = (
            i64::from(h.last_offset_delta()),
            h.max_timestamp(),
            i64::from(h.records_count()),
        );
        let now = now_ms();
        let mut st = self.write_state()?;
        let base = st.log_end_offset();
        let last = base + delta;
        set_base_offset(&mut header, base);
        set_partition_leader_epoch(&mut header, leader_epoch);
        self.maybe_roll(&mut st, &config, batch.len() as u64, base, last, now)?;
        st.active()
            .append(&[&header, &batch[BATCH_HEADER_SIZE..]], last, max_ts, &config, now)?;
        if st.epochs.latest_epoch() != Some(leader_epoch) {
            self.assign_epoch(&mut st, leader_epoch, base);
        }
        let info = AppendInfo {
            base_offset: base,
            last_offset: last,
            log_start_offset: st.log_start_offset,
        };
        self.after_append(st, &config, count, now)?;
        Ok(info)
    }

    /// Appends batches fetched from the leader, keeping their offsets: each must be a valid v2 batch (CRC
    /// checked) and the first must start at the log end offset, with offsets increasing.
    ///
    /// Each batch's own `partitionLeaderEpoch` updates the leader-epoch cache as in [`Log::append`].
    pub fn append_as_follower(&self, batches: &[u8]) -> Result<Option<AppendInfo>> {
        let mut parts: Vec<(usize, usize, i64, i64, i64, i64)> = Vec::new();
        // The (epoch, base offset) of each batch, in order.
        let mut epochs: Vec<(i32, i64)> = Vec::new();
        let mut pos = 0;
        while pos < batches.len() {
            let (b, size) = RecordBatch::parse(&batches[pos..])?;
            b.verify_crc()?;
            let h = b.header();
            parts.push((
                pos,
                size,
                h.base_offset(),
                h.last_offset(),
                h.max_timestamp(),
                i64::from(h.records_count()),
            ));
            epochs.push((h.partition_leader_epoch(), h.base_offset()));
            pos += size;
        }
        if parts.is_empty() {
            return Ok(None);
        }
        let now = now_ms();
        let config = self.config();
        let mut st = self.write_state()?;
        let mut expected = st.log_end_offset();
        for &(_, _, base, last, _, _) in &parts {
            if base != expected || last < base {
                return Err(Error::NonContiguous { expected, got: base });
            }
            expected = last + 1;
        }
        let first = parts[0].2;
        let mut count = 0;
        // Group consecutive batches that fit the active segment into one write.
        let mut i = 0;
        while i < parts.len() {
            let (start, size, base, mut last, mut max_ts, mut n) = parts[i];
            self.maybe_roll(&mut st, &config, size as u64, base, last, now)?;
            let mut end = start + size;
            let mut j = i + 1;
            while j < parts.len() {
                let (s2, z2, _, l2, t2, n2) = parts[j];
                let seg = st.segments.last().expect("non-empty");
                let group = (end - start + z2) as u64;
                if seg.size + group > config.segment_bytes || seg.should_roll(group, l2, &config, now) {
                    break;
                }
                end = s2 + z2;
                last = l2;
                max_ts = max_ts.max(t2);
                n += n2;
                j += 1;
            }
            st.active()
                .append(&[&batches[start..end]], last, max_ts, &config, now)?;
            // Only what is in the log counts: the epochs of this group, once it is written.
            for &(epoch, base) in &epochs[i..j] {
                if st.epochs.latest_epoch() != Some(epoch) {
                    self.assign_epoch(&mut st, epoch, base);
                }
            }
            count += n;
            i = j;
        }
        let info = AppendInfo {
            base_offset: first,
            last_offset: expected - 1,
            log_start_offset: st.log_start_offset,
        };
        self.after_append(st, &config, count, now)?;
        Ok(Some(info))
    }

    fn maybe_roll(&self, st: &mut State, config: &LogConfig, size: u64, base: i64, last: i64, now: i64) -> Result<()> {
        if !st.active().should_roll(size, last, config, now) {
            return Ok(());
        }
        // The rolled segment's sync may raise the recovery point only once these are synced too (a flush
        // may be syncing one of them right now: its `dirty` flag is already clear, its mark not yet set).
        let earlier: Vec<Synced> = st.segments[..st.segments.len() - 1]
            .iter()
            .filter_map(|s| s.synced.clone())
            .filter(|s| !s.load(Ordering::Acquire))
            .collect();
        let new = Segment::create(&self.cache, &self.dir, base, config, now)?;
        let old = st.active();
        let log = old.seal()?;
        // Sealing just wrote its indexes: even a segment whose log a flush synced is not on disk whole.
        old.dirty = true;
        let synced = Synced::default();
        old.synced = Some(Arc::clone(&synced));
        let mut targets = old.sync_targets(log.clone(), true);
        if let Some(log) = log {
            old.keep_open(log);
        }
        // Epoch entries that start in the rolled segment must be on disk before the recovery point
        // passes it.
        if self.epoch_file.needs_sync() {
            targets.push(SyncTarget::Epochs(Arc::clone(&self.epoch_file)));
        }
        st.segments.push(new);
        // Like Kafka, the rolled segment is synced in the background, then the recovery point moves up.
        self.flusher.submit(Job {
            targets,
            synced,
            earlier,
            recovery_point: Arc::clone(&self.recovery_point),
            up_to: Some(base),
            generation: self.recovery_point.generation(),
        });
        Ok(())
    }

    /// Applies the flush policy after an append, syncing outside the lock.
    fn after_append(
        &self,
        mut st: RwLockWriteGuard<'_, State>,
        config: &LogConfig,
        count: i64,
        now: i64,
    ) -> Result<()> {
        st.unflushed_messages = st.unflushed_messages.saturating_add(count);
        let due =
            st.unflushed_messages >= config.flush_messages || now.saturating_sub(st.last_flush_ms) >= config.flush_ms;
        if !due {
            return Ok(());
        }
        st.unflushed_messages = 0;
        st.last_flush_ms = now;
        drop(st);
        self.flush()
    }

    /// Syncs every segment with unsynced data and its indexes, and `leader-epoch-checkpoint` if it
    /// changed; the recovery point becomes the log end. When it returns, everything appended before the
    /// call is on disk, even if a concurrent flush collected it.
    pub fn flush(&self) -> Result<()> {
        let _flushing = self.flush_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
        let end = st.log_end_offset();
        let generation = self.recovery_point.generation();
        // Sync files outside the lock: collect the dirty segments' files first. The active segment needs
        // only its log synced: after a crash, recovery rebuilds the indexes of the segment holding the
        // recovery point. Sealed segments are synced whole.
        //
        // A rolled segment whose background sync has not finished is synced here too, rather than waited
        // for: the flusher is shared by every log of the manager and works in order, so waiting would tie
        // this log's flush (with `flush.messages=1`, a produce acknowledgement) to other partitions' roll
        // syncs. Syncing it here costs at most the sync the flusher would do anyway, and the flusher skips
        // a segment a flush already marked synced. Either way the recovery point below never passes data
        // that is not on disk.
        let mut targets = Vec::new();
        let mut marks: Vec<Synced> = Vec::new();
        let mut collected: Vec<i64> = Vec::new();
        let last = st.segments.len() - 1;
        for (i, seg) in st.segments.iter_mut().enumerate().filter(|(_, s)| s.dirty) {
            seg.dirty = false;
            if i != last {
                if let Some(synced) = &seg.synced {
                    if synced.load(Ordering::Acquire) {
                        continue; // the flusher got there first
                    }
                    marks.push(Arc::clone(synced));
                }
            }
            targets.extend(seg.sync_targets(None, i != last));
            collected.push(seg.base_offset);
        }
        // The epoch checkpoint is synced with the data, before the marks and the recovery point (a
        // flusher job seeing its segment marked synced raises the point without syncing anything).
        if self.epoch_file.needs_sync() {
            targets.push(SyncTarget::Epochs(Arc::clone(&self.epoch_file)));
        }
        st.unflushed_messages = 0;
        drop(st);
        #[cfg(test)]
        tests::pause_after_collecting(&self.dir);
        let started = std::time::Instant::now();
        for target in &targets {
            if let Err(e) = target.sync() {
                // Nothing collected is known to be on disk: mark it dirty again, so that no later flush
                // raises the recovery point over it without syncing it.
                let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
                for seg in st.segments.iter_mut().filter(|s| collected.contains(&s.base_offset)) {
                    seg.dirty = true;
                }
                return Err(Error::Io {
                    op: "syncing",
                    path: target.path().to_path_buf(),
                    source: e,
                });
            }
        }
        for synced in marks {
            synced.store(true, Ordering::Release);
        }
        if !targets.is_empty() {
            self.flusher.count_flush(started.elapsed());
        }
        #[cfg(test)]
        if !targets.is_empty() {
            tests::note_sync_done(&self.dir);
        }
        self.recovery_point.raise(end, generation);
        Ok(())
    }

    /// Flushes if `flush_ms` has passed since the last flush (for a periodic timer).
    pub fn maybe_flush(&self, now_ms: i64) -> Result<()> {
        let due = {
            let st = self.read_state();
            st.unflushed_messages > 0 && now_ms.saturating_sub(st.last_flush_ms) >= self.config().flush_ms
        };
        if due {
            self.state.write().unwrap_or_else(|p| p.into_inner()).last_flush_ms = now_ms;
            self.flush()?;
        }
        Ok(())
    }

    /// Locates records for a fetch: the region starts at the batch holding `fetch_offset` and ends on the
    /// last batch boundary within `max_bytes` and below `upper_bound` (the high watermark, or the log end
    /// for followers). The first batch is returned whole even when larger than `max_bytes`. A region never
    /// spans two segments. Offsets below the log start or above the log end are
    /// [`Error::OffsetOutOfRange`]; at the upper bound the result is empty.
    pub fn read(&self, fetch_offset: i64, max_bytes: u64, upper_bound: i64) -> Result<ReadInfo> {
        let st = self.read_state();
        let log_end_offset = st.log_end_offset();
        let log_start_offset = st.log_start_offset;
        if fetch_offset < log_start_offset || fetch_offset > log_end_offset {
            return Err(Error::OffsetOutOfRange {
                offset: fetch_offset,
                log_start_offset,
                log_end_offset,
            });
        }
        let mut info = ReadInfo {
            slice: None,
            first_batch_size: 0,
            log_start_offset,
            log_end_offset,
        };
        let upper = upper_bound.min(log_end_offset);
        let mut i = st.segment_for(fetch_offset);
        while i < st.segments.len() && fetch_offset < upper {
            let seg = &st.segments[i];
            if seg.base_offset >= upper {
                break;
            }
            match seg.read(fetch_offset, max_bytes, upper)? {
                Region::NotHere => i += 1,
                Region::Hidden => break,
                Region::Found(file, range, first_batch_size) => {
                    info.first_batch_size = first_batch_size;
                    info.slice = Some(Slice { file, range });
                    break;
                }
            }
        }
        Ok(info)
    }

    /// The first offset whose record timestamp is `>= timestamp`, with that timestamp
    /// (ListOffsets by time); `None` if every record is older.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>> {
        let st = self.read_state();
        for seg in &st.segments {
            if let Some((offset, ts)) = seg.offset_for_timestamp(timestamp)? {
                return Ok(Some((offset.max(st.log_start_offset), ts)));
            }
        }
        Ok(None)
    }

    /// The offset and timestamp of the record with the largest timestamp (ListOffsets' MAX_TIMESTAMP, -3,
    /// KIP-734): the first such record of the first segment holding the largest timestamp, found as Kafka
    /// finds it (the segment's tracked maximum, then that segment's batches). `None` for an empty log.
    pub fn offset_of_max_timestamp(&self) -> Result<Option<(i64, i64)>> {
        let st = self.read_state();
        let mut best: Option<&Segment> = None;
        for seg in &st.segments {
            if seg.max_timestamp >= 0 && best.is_none_or(|b| seg.max_timestamp > b.max_timestamp) {
                best = Some(seg);
            }
        }
        match best {
            Some(seg) => Ok(seg
                .offset_for_timestamp(seg.max_timestamp)?
                .map(|(offset, ts)| (offset.max(st.log_start_offset), ts))),
            None => Ok(None),
        }
    }

    /// The producer fields of the batches in (about) the last `max_bytes` of the log, oldest first, read from
    /// batch headers only. A broker rebuilds idempotent-producer state from them after a restart (Kafka keeps
    /// snapshots for the same purpose).
    pub fn producer_batches(&self, max_bytes: u64) -> Result<Vec<ProducerBatch>> {
        let st = self.read_state();
        // Walk back from the end until the budget is spent: (first segment, position to start in it).
        let (mut first, mut from, mut left) = (st.segments.len(), 0, max_bytes);
        while first > 0 && left > 0 {
            first -= 1;
            let seg = &st.segments[first];
            if seg.size > left {
                from = seg.boundary_before(seg.size - left)?;
                left = 0;
            } else {
                left -= seg.size;
            }
        }
        let mut out = Vec::new();
        for (i, seg) in st.segments.iter().enumerate().skip(first) {
            seg.producer_batches(if i == first { from } else { 0 }, &mut out)?;
        }
        Ok(out)
    }

    /// Removes everything from `offset` on (a follower diverging from its leader). The log end becomes the
    /// start of the batch holding `offset`. Below the log start, the log is emptied and restarts at
    /// `offset`.
    ///
    /// Leader epochs that start at or after the new log end are forgotten (Kafka's
    /// `truncateFromEndAsyncFlush`), all of them when the log is emptied (`truncateFullyAndStartAt`).
    pub fn truncate_to(&self, offset: i64) -> Result<()> {
        let mut st = self.write_state()?;
        if offset >= st.log_end_offset() {
            return Ok(());
        }
        let emptied = offset < st.log_start_offset;
        let result = self.truncate_segments(&mut st, offset);
        // Whatever is left of the log, the epochs follow it (also after a failure half-way).
        let changed = if emptied && result.is_ok() {
            st.epochs.clear()
        } else {
            let end = st.log_end_offset();
            st.epochs.truncate_from_end(end)
        };
        if changed {
            self.epochs_truncated(&st);
        }
        result
    }

    /// Empties the log and restarts it, empty, at `offset` (Kafka's `truncateFullyAndStartAt`): a follower
    /// whose log ends before the leader's log start begins again there. Every leader epoch is forgotten.
    pub fn truncate_fully_and_start_at(&self, offset: i64) -> Result<()> {
        let mut st = self.write_state()?;
        let result = self.restart_at(&mut st, offset);
        let end = st.log_end_offset();
        self.recovery_point.lower(end);
        if st.epochs.clear() {
            self.epochs_truncated(&st);
        }
        result
    }

    /// Deletes every segment and starts an empty one at `offset`, the new log start.
    fn restart_at(&self, st: &mut State, offset: i64) -> Result<()> {
        for seg in st.segments.drain(..) {
            seg.delete_files()?;
        }
        let seg = Segment::create(&self.cache, &self.dir, offset, &self.config(), now_ms())?;
        st.segments.push(seg);
        st.log_start_offset = offset;
        Ok(())
    }

    /// The segment part of [`Log::truncate_to`].
    fn truncate_segments(&self, st: &mut State, offset: i64) -> Result<()> {
        if offset < st.log_start_offset {
            self.restart_at(st, offset)?;
        } else {
            while st.segments.len() > 1 && st.segments.last().is_some_and(|s| s.base_offset > offset) {
                let seg = st.segments.pop().expect("checked");
                seg.delete_files()?;
            }
            let active = st.active();
            active.activate()?;
            active.truncate_to(offset)?;
        }
        let end = st.log_end_offset();
        self.recovery_point.lower(end);
        Ok(())
    }

    /// Deletes whole segments, oldest first, that are past `retention_ms` (their newest record) or beyond
    /// `retention_bytes`, but only segments entirely below `upper_bound` (the high watermark). Returns the
    /// number of segments deleted. Readers holding a deleted segment's file keep reading it.
    ///
    /// The leader-epoch entry covering the new log start now starts there; older ones are dropped
    /// (Kafka's `truncateFromStartAsyncFlush`).
    pub fn apply_retention(&self, upper_bound: i64, now_ms: i64) -> Result<usize> {
        let config = self.config();
        let mut st = self.write_state()?;
        let mut remaining: i64 = st.segments.iter().map(|s| s.size as i64).sum();
        let mut deleted = 0;
        loop {
            let seg = &st.segments[0];
            let last = st.segments.len() == 1;
            if last && seg.size == 0 {
                break;
            }
            let next_base = if last {
                seg.next_offset
            } else {
                st.segments[1].base_offset
            };
            let newest = if seg.max_timestamp >= 0 {
                seg.max_timestamp
            } else {
                seg.created_ms
            };
            let by_time = config.retention_ms >= 0 && now_ms.saturating_sub(newest) > config.retention_ms;
            let by_size = config.retention_bytes >= 0 && remaining - seg.size as i64 >= config.retention_bytes;
            if upper_bound < next_base || !(by_time || by_size) {
                break;
            }
            if last {
                // Never leave the log without a segment: roll an empty one first (the old one and its
                // descriptor go right after).
                let new = Segment::create(&self.cache, &self.dir, next_base, &self.config(), now_ms)?;
                st.active().seal()?;
                st.segments.push(new);
            }
            let seg = st.segments.remove(0);
            remaining -= seg.size as i64;
            st.log_start_offset = st.log_start_offset.max(next_base);
            let start = st.log_start_offset;
            if st.epochs.truncate_from_start(start) {
                // Written now; synced once below (or by the next flush if a deletion fails).
                self.epoch_file.update(st.epochs.to_text());
            }
            seg.delete_files()?;
            deleted += 1;
        }
        if deleted > 0 {
            self.sync_epochs_in_background();
        }
        Ok(deleted)
    }

    /// Raises the log start offset to `offset` (Kafka's DeleteRecords, and how the group coordinator drops
    /// the records it has rewritten): reads below it fail with [`Error::OffsetOutOfRange`], and segments
    /// entirely below it are deleted. `offset` is clamped to the log end; a lower one changes nothing.
    /// Returns the number of segments deleted.
    ///
    /// The leader-epoch entry covering `offset` now starts there; older ones are dropped (Kafka's
    /// `truncateFromStartAsyncFlush`).
    pub fn delete_records_before(&self, offset: i64) -> Result<usize> {
        let mut st = self.write_state()?;
        let offset = offset.min(st.log_end_offset());
        if offset <= st.log_start_offset {
            return Ok(0);
        }
        st.log_start_offset = offset;
        if st.epochs.truncate_from_start(offset) {
            self.epochs_truncated(&st);
        }
        let mut deleted = 0;
        // Whole segments below the new start go; the active segment always stays.
        while st.segments.len() > 1 && st.segments[1].base_offset <= offset {
            let seg = st.segments.remove(0);
            seg.delete_files()?;
            deleted += 1;
        }
        Ok(deleted)
    }

    /// Flushes (`leader-epoch-checkpoint` included), writes and trims the indexes, and closes the log for
    /// appends. It stays readable.
    ///
    /// Every rolled segment is on disk when it returns (the flush syncs those the flusher has not reached).
    /// A log opened on its own does not wait for its flusher here: nothing it could still do is needed; its
    /// thread stops when the log is dropped.
    pub fn close(&self) -> Result<()> {
        self.flush()?;
        let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
        if !st.closed {
            let active = st.active();
            if let Some(log) = active.seal()? {
                active.keep_open(log);
            }
            st.closed = true;
        }
        Ok(())
    }

    /// Marks the log closed after its directory was removed by the [`crate::LogManager`], and closes its
    /// descriptors.
    pub(crate) fn close_for_deletion(&self) {
        let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
        st.closed = true;
        self.epoch_file.retire();
        for seg in &mut st.segments {
            seg.release_files();
        }
    }

    /// Closes the log, closes its descriptors and removes its directory.
    pub fn delete(&self) -> Result<()> {
        self.close_for_deletion();
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::Io {
                op: "deleting",
                path: self.dir.clone(),
                source: e,
            }),
        }
    }

    /// The descriptor cache and flusher, for tests.
    #[cfg(test)]
    pub(crate) fn resources(&self) -> (&Arc<FileCache>, &Flusher) {
        (&self.cache, &self.flusher)
    }
}

#[cfg(test)]
mod tests;
