//! openraft's durable log storage: checksummed segment files plus the vote, committed and purged files.
//!
//! Layout under the directory: `<first index, 20 digits>.log` segments of frames
//! `[u32 len][u32 crc32c of body][body = serde_json(Entry)]`, and the small files `vote`,
//! `committed` and `purged`, each replaced atomically. Appends are written and `sync_data`-ed
//! before openraft is told they are flushed. The non-purged entries are also kept in memory for
//! the log reader: the metadata log is small and snapshots keep it bounded.
//!
//! File I/O after opening runs on tokio's blocking pool (`spawn_blocking`) and is awaited, so
//! openraft's tasks are never blocked on a disk.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs::File;
use std::fs::OpenOptions;
use std::io::Write;
use std::ops::RangeBounds;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::MutexGuard;

use openraft::storage::LogFlushed;
use openraft::storage::RaftLogStorage;
use openraft::AnyError;
use openraft::LogId;
use openraft::LogState;
use openraft::RaftLogId;
use openraft::RaftLogReader;
use openraft::StorageError;
use openraft::StorageIOError;
use openraft::Vote;

use crate::files::get_frame;
use crate::files::io_err;
use crate::files::put_frame;
use crate::files::read_optional;
use crate::files::sync_dir;
use crate::files::write_atomic;
use crate::Error;
use crate::NodeId;
use crate::TypeConfig;

/// A log entry of the quorum.
pub(crate) type Entry = openraft::Entry<TypeConfig>;

/// A segment is rolled once it holds this many bytes.
pub(crate) const SEGMENT_BYTES: u64 = 4 * 1024 * 1024;

const VOTE: &str = "vote";
const COMMITTED: &str = "committed";
const PURGED: &str = "purged";

/// The entries kept in memory, shared with the log readers.
#[derive(Debug, Default)]
struct Memory {
    entries: BTreeMap<u64, Entry>,
    purged: Option<LogId<NodeId>>,
}

/// The durable log store handed to openraft.
#[derive(Debug)]
pub(crate) struct LogStore {
    dir: PathBuf,
    memory: Arc<Mutex<Memory>>,
    disk: Arc<Mutex<Disk>>,
    vote: Option<Vote<NodeId>>,
    committed: Option<LogId<NodeId>>,
}

/// A reader of the in-memory entries, used by openraft's replication tasks.
#[derive(Debug, Clone)]
pub(crate) struct LogReader {
    memory: Arc<Mutex<Memory>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; the storage's own checks still hold.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn read_json<T: serde::de::DeserializeOwned>(dir: &Path, name: &str) -> Result<Option<T>, Error> {
    match read_optional(dir, name)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| Error::Corrupt {
            path: dir.join(name),
            reason: e.to_string(),
        }),
    }
}

fn write_json<T: serde::Serialize>(dir: &Path, name: &str, value: &T) -> Result<(), Error> {
    let bytes = serde_json::to_vec(value).map_err(|e| Error::Corrupt {
        path: dir.join(name),
        reason: e.to_string(),
    })?;
    write_atomic(dir, name, &bytes)
}

fn storage_err(e: Error) -> StorageError<NodeId> {
    StorageIOError::write_logs(AnyError::new(&e)).into()
}

/// Runs blocking file work on tokio's blocking pool.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T, Error> + Send + 'static) -> Result<T, Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| Error::ShuttingDown)?
}

impl LogStore {
    /// Opens (creating it if missing) and recovers the log in `dir`: a torn or corrupt tail of the
    /// last segment is cut off; corruption anywhere else is an error.
    pub(crate) fn open(dir: &Path) -> Result<LogStore, Error> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let vote: Option<Vote<NodeId>> = read_json(dir, VOTE)?;
        let purged: Option<LogId<NodeId>> = read_json(dir, PURGED)?;
        let (disk, recovered) = Disk::open(dir)?;
        let mut entries = BTreeMap::new();
        for entry in recovered {
            let index = entry.log_id.index;
            if purged.is_some_and(|p| index <= p.index) {
                continue;
            }
            if let Some((&last, _)) = entries.last_key_value() {
                if index != last + 1 {
                    return Err(Error::Corrupt {
                        path: dir.to_path_buf(),
                        reason: format!("log entry {index} follows entry {last}"),
                    });
                }
            }
            entries.insert(index, entry);
        }
        // The committed file is written without waiting for the disk; a torn one is only a lost hint.
        let committed: Option<LogId<NodeId>> = match read_json(dir, COMMITTED) {
            Ok(committed) => committed,
            Err(e) => {
                tracing::warn!("ignoring the committed log id: {e}");
                None
            }
        };
        // An entry the committed id names may have been lost with a torn tail before it was
        // flushed; the surviving entries up to it are committed all the same.
        let last = entries.values().next_back().map(|e: &Entry| e.log_id).or(purged);
        let committed = match (committed, last) {
            (Some(c), Some(l)) if c.index > l.index => Some(l),
            (Some(_), None) => None,
            (c, _) => c,
        };
        Ok(LogStore {
            dir: dir.to_path_buf(),
            memory: Arc::new(Mutex::new(Memory { entries, purged })),
            disk: Arc::new(Mutex::new(disk)),
            vote,
            committed,
        })
    }

    /// Whether nothing was ever stored: no vote, no entries, nothing purged.
    pub(crate) fn is_pristine(&self) -> bool {
        let memory = lock(&self.memory);
        self.vote.is_none() && memory.entries.is_empty() && memory.purged.is_none()
    }

    fn read_range<RB: RangeBounds<u64>>(memory: &Mutex<Memory>, range: RB) -> Vec<Entry> {
        lock(memory).entries.range(range).map(|(_, e)| e.clone()).collect()
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError<NodeId>> {
        Ok(Self::read_range(&self.memory, range))
    }
}

impl RaftLogReader<TypeConfig> for LogReader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError<NodeId>> {
        Ok(LogStore::read_range(&self.memory, range))
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogReader;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<NodeId>> {
        let memory = lock(&self.memory);
        let last_purged_log_id = memory.purged;
        let last_log_id = memory
            .entries
            .values()
            .next_back()
            .map(|e| e.log_id)
            .or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> LogReader {
        LogReader {
            memory: self.memory.clone(),
        }
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        let dir = self.dir.clone();
        let value = *vote;
        blocking(move || write_json(&dir, VOTE, &value))
            .await
            .map_err(|e| StorageError::from(StorageIOError::write_vote(AnyError::new(&e))))?;
        self.vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        Ok(self.vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId<NodeId>>) -> Result<(), StorageError<NodeId>> {
        if committed == self.committed {
            return Ok(());
        }
        self.committed = committed;
        let dir = self.dir.clone();
        blocking(move || write_committed(&dir, &committed))
            .await
            .map_err(storage_err)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
        Ok(self.committed)
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut frames = Vec::new();
        {
            let mut memory = lock(&self.memory);
            for entry in entries {
                let body = serde_json::to_vec(&entry)
                    .map_err(|e| StorageError::from(StorageIOError::write_log_entry(*entry.get_log_id(), &e)))?;
                let mut frame = Vec::with_capacity(body.len() + crate::files::FRAME_HEADER);
                put_frame(&mut frame, &body);
                frames.push((entry.log_id.index, frame));
                memory.entries.insert(entry.log_id.index, entry);
            }
        }
        let disk = self.disk.clone();
        match blocking(move || lock(&disk).append(frames)).await {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                Err(storage_err(e))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        lock(&self.memory).entries.split_off(&log_id.index);
        let disk = self.disk.clone();
        blocking(move || lock(&disk).truncate(log_id.index))
            .await
            .map_err(storage_err)
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let dir = self.dir.clone();
        let disk = self.disk.clone();
        // The purged id is durable before any segment goes, so a crash in between leaves
        // entries that recovery drops.
        blocking(move || {
            write_json(&dir, PURGED, &log_id)?;
            lock(&disk).purge(log_id.index)
        })
        .await
        .map_err(storage_err)?;
        let mut memory = lock(&self.memory);
        memory.purged = Some(log_id);
        let kept = memory.entries.split_off(&(log_id.index + 1));
        memory.entries = kept;
        Ok(())
    }
}

/// Writes the committed id: atomic against a crash of the process (temporary file and rename),
/// but not synced, since it is only a hint of how far to re-apply at start.
fn write_committed(dir: &Path, committed: &Option<LogId<NodeId>>) -> Result<(), Error> {
    let tmp = dir.join(format!("{COMMITTED}.tmp"));
    let bytes = serde_json::to_vec(committed).map_err(|e| Error::Corrupt {
        path: tmp.clone(),
        reason: e.to_string(),
    })?;
    std::fs::write(&tmp, bytes).map_err(io_err(&tmp))?;
    let path = dir.join(COMMITTED);
    std::fs::rename(&tmp, &path).map_err(io_err(&path))
}

/// One segment file.
#[derive(Debug)]
struct Segment {
    path: PathBuf,
    len: u64,
    last: Option<u64>,
}

/// The segment files; only touched from blocking threads (or at open).
#[derive(Debug)]
struct Disk {
    dir: PathBuf,
    /// Segments by the index of their first entry.
    segments: BTreeMap<u64, Segment>,
    /// Where each entry starts: its segment's first index and the byte offset.
    offsets: BTreeMap<u64, (u64, u64)>,
    /// The last segment, open for appending.
    active: Option<File>,
}

fn segment_name(first: u64) -> String {
    format!("{first:020}.log")
}

impl Disk {
    fn open(dir: &Path) -> Result<(Disk, Vec<Entry>), Error> {
        let mut names = BTreeMap::new();
        for item in std::fs::read_dir(dir).map_err(io_err(dir))? {
            let item = item.map_err(io_err(dir))?;
            let name = item.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(stem) = name.strip_suffix(".log") else {
                continue;
            };
            if stem.len() == 20 {
                if let Ok(first) = stem.parse::<u64>() {
                    names.insert(first, item.path());
                }
            }
        }
        let mut disk = Disk {
            dir: dir.to_path_buf(),
            segments: BTreeMap::new(),
            offsets: BTreeMap::new(),
            active: None,
        };
        let mut entries = Vec::new();
        let count = names.len();
        for (position, (first, path)) in names.into_iter().enumerate() {
            let bytes = std::fs::read(&path).map_err(io_err(&path))?;
            let mut offset = 0usize;
            let mut last = None;
            while offset < bytes.len() {
                let problem = match get_frame(&bytes[offset..]) {
                    Ok((body, len)) => match serde_json::from_slice::<Entry>(body) {
                        Ok(entry) => {
                            disk.offsets.insert(entry.log_id.index, (first, offset as u64));
                            last = Some(entry.log_id.index);
                            entries.push(entry);
                            offset += len;
                            continue;
                        }
                        Err(e) => format!("undecodable entry: {e}"),
                    },
                    Err(e) => format!("{e:?} frame"),
                };
                if position + 1 != count {
                    return Err(Error::Corrupt {
                        path,
                        reason: format!("{problem} at byte {offset}"),
                    });
                }
                tracing::warn!(
                    path = %path.display(),
                    offset,
                    dropped = bytes.len() - offset,
                    "cutting a torn or corrupt log tail: {problem}"
                );
                let file = OpenOptions::new().write(true).open(&path).map_err(io_err(&path))?;
                file.set_len(offset as u64).map_err(io_err(&path))?;
                file.sync_all().map_err(io_err(&path))?;
                break;
            }
            disk.segments.insert(
                first,
                Segment {
                    path,
                    len: offset as u64,
                    last,
                },
            );
        }
        Ok((disk, entries))
    }

    fn append(&mut self, frames: Vec<(u64, Vec<u8>)>) -> Result<(), Error> {
        let mut created = false;
        for (index, frame) in frames {
            let roll = match self.segments.last_key_value() {
                None => true,
                Some((_, segment)) => segment.len >= SEGMENT_BYTES,
            };
            if roll {
                self.sync_active()?;
                let path = self.dir.join(segment_name(index));
                let file = OpenOptions::new()
                    .append(true)
                    .create_new(true)
                    .open(&path)
                    .map_err(io_err(&path))?;
                self.active = Some(file);
                self.segments.insert(
                    index,
                    Segment {
                        path,
                        len: 0,
                        last: None,
                    },
                );
                created = true;
            }
            let Some((&first, segment)) = self.segments.iter_mut().next_back() else {
                continue;
            };
            if self.active.is_none() {
                self.active = Some(
                    OpenOptions::new()
                        .append(true)
                        .open(&segment.path)
                        .map_err(io_err(&segment.path))?,
                );
            }
            if let Some(file) = self.active.as_mut() {
                file.write_all(&frame).map_err(io_err(&segment.path))?;
            }
            self.offsets.insert(index, (first, segment.len));
            segment.len += frame.len() as u64;
            segment.last = Some(index);
        }
        self.sync_active()?;
        if created {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    fn sync_active(&mut self) -> Result<(), Error> {
        if let Some(file) = &self.active {
            file.sync_data().map_err(io_err(&self.dir))?;
        }
        Ok(())
    }

    fn truncate(&mut self, index: u64) -> Result<(), Error> {
        let removed = self.segments.split_off(&index);
        if !removed.is_empty() {
            self.active = None;
            for segment in removed.values() {
                std::fs::remove_file(&segment.path).map_err(io_err(&segment.path))?;
            }
        }
        if let Some(&(first, offset)) = self.offsets.get(&index) {
            if let Some(segment) = self.segments.get_mut(&first) {
                let file = OpenOptions::new()
                    .write(true)
                    .open(&segment.path)
                    .map_err(io_err(&segment.path))?;
                file.set_len(offset).map_err(io_err(&segment.path))?;
                file.sync_all().map_err(io_err(&segment.path))?;
                segment.len = offset;
                segment.last = index.checked_sub(1).filter(|&l| l >= first);
            }
        }
        self.offsets.split_off(&index);
        if !removed.is_empty() {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    fn purge(&mut self, index: u64) -> Result<(), Error> {
        let doomed: Vec<u64> = self
            .segments
            .iter()
            .filter(|(&first, segment)| segment.last.map_or(first <= index, |last| last <= index))
            .map(|(&first, _)| first)
            .collect();
        if doomed.is_empty() {
            return Ok(());
        }
        for first in doomed {
            if let Some(segment) = self.segments.remove(&first) {
                std::fs::remove_file(&segment.path).map_err(io_err(&segment.path))?;
            }
        }
        if self.segments.is_empty() {
            self.active = None;
        }
        let kept = self.offsets.split_off(&(index + 1));
        self.offsets = kept;
        sync_dir(&self.dir)
    }
}
