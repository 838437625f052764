//! The state-machine adapter: feeds committed entries to the [`App`] and keeps its snapshots.
//!
//! The snapshot file `snapshot` holds `[u32 meta length][u32 crc32c of the rest][meta json][app bytes]`
//! and is replaced atomically. At start it is loaded and the app restored from it; openraft then
//! re-applies the committed entries after it.

use std::io::Cursor;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;

use openraft::storage::RaftStateMachine;
use openraft::storage::Snapshot;
use openraft::AnyError;
use openraft::EntryPayload;
use openraft::LogId;
use openraft::RaftSnapshotBuilder;
use openraft::SnapshotMeta;
use openraft::StorageError;
use openraft::StorageIOError;
use openraft::StoredMembership;

use crate::files::io_err;
use crate::files::read_optional;
use crate::files::write_atomic;
use crate::log::Entry;
use crate::App;
use crate::Applied;
use crate::Error;
use crate::NodeId;
use crate::TypeConfig;

const SNAPSHOT: &str = "snapshot";

type Meta = SnapshotMeta<NodeId, openraft::BasicNode>;

/// A snapshot as kept in memory and on disk.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    meta: Meta,
    data: Vec<u8>,
}

/// The latest snapshot, shared by the state machine and its snapshot builders.
#[derive(Debug)]
struct Snapshots {
    dir: PathBuf,
    current: Mutex<Option<Stored>>,
}

impl Snapshots {
    /// Persists `stored` and makes it current, unless a newer snapshot is already current.
    fn keep(&self, stored: Stored) -> Result<(), Error> {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = current.as_ref() {
            if existing.meta.last_log_id > stored.meta.last_log_id {
                return Ok(());
            }
        }
        write_atomic(&self.dir, SNAPSHOT, &encode(&stored)?)?;
        *current = Some(stored);
        Ok(())
    }

    fn current(&self) -> Option<Stored> {
        self.current.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

fn encode(stored: &Stored) -> Result<Vec<u8>, Error> {
    let meta = serde_json::to_vec(&stored.meta).map_err(|e| Error::Corrupt {
        path: PathBuf::from(SNAPSHOT),
        reason: e.to_string(),
    })?;
    let mut out = Vec::with_capacity(8 + meta.len() + stored.data.len());
    out.extend_from_slice(&u32::try_from(meta.len()).unwrap_or(u32::MAX).to_be_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&meta), &stored.data);
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(&meta);
    out.extend_from_slice(&stored.data);
    Ok(out)
}

fn decode(path: &Path, bytes: &[u8]) -> Result<Stored, Error> {
    let corrupt = |reason: String| Error::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    if bytes.len() < 8 {
        return Err(corrupt("short snapshot header".into()));
    }
    let len = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    let crc = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    let rest = &bytes[8..];
    if rest.len() < len {
        return Err(corrupt("short snapshot metadata".into()));
    }
    if crc32c::crc32c(rest) != crc {
        return Err(corrupt("snapshot checksum mismatch".into()));
    }
    let meta: Meta = serde_json::from_slice(&rest[..len]).map_err(|e| corrupt(e.to_string()))?;
    Ok(Stored {
        meta,
        data: rest[len..].to_vec(),
    })
}

/// The state machine handed to openraft.
pub(crate) struct StateMachine<A: App> {
    app: A,
    last_applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, openraft::BasicNode>,
    snapshots: Arc<Snapshots>,
    /// Counts snapshots built by this process, to make snapshot ids unique.
    built: u64,
}

impl<A: App> std::fmt::Debug for StateMachine<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateMachine")
            .field("last_applied", &self.last_applied)
            .field("membership", &self.membership)
            .finish_non_exhaustive()
    }
}

impl<A: App> StateMachine<A> {
    /// Opens the state machine in `dir`: loads the snapshot, if any, and restores `app` from it.
    pub(crate) fn open(dir: &Path, app: A) -> Result<StateMachine<A>, Error> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let stored = match read_optional(dir, SNAPSHOT)? {
            None => None,
            Some(bytes) => Some(decode(&dir.join(SNAPSHOT), &bytes)?),
        };
        let mut machine = StateMachine {
            app,
            last_applied: None,
            membership: StoredMembership::default(),
            snapshots: Arc::new(Snapshots {
                dir: dir.to_path_buf(),
                current: Mutex::new(None),
            }),
            built: 0,
        };
        if let Some(stored) = stored {
            let index = stored.meta.last_log_id.map_or(0, |l| l.index);
            machine
                .app
                .restore(index, &stored.data)
                .map_err(|reason| Error::Corrupt {
                    path: dir.join(SNAPSHOT),
                    reason: format!("the application refused the snapshot: {reason}"),
                })?;
            machine.last_applied = stored.meta.last_log_id;
            machine.membership = stored.meta.last_membership.clone();
            *machine.snapshots.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(stored);
        }
        Ok(machine)
    }
}

fn snapshot_err(e: Error) -> StorageError<NodeId> {
    StorageIOError::write_snapshot(None, AnyError::new(&e)).into()
}

/// Builds one snapshot from the app's state captured when the builder was made.
#[derive(Debug)]
pub(crate) struct Builder {
    stored: Stored,
    snapshots: Arc<Snapshots>,
}

impl RaftSnapshotBuilder<TypeConfig> for Builder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let stored = self.stored.clone();
        let snapshots = self.snapshots.clone();
        tokio::task::spawn_blocking(move || snapshots.keep(stored))
            .await
            .map_err(|_| snapshot_err(Error::ShuttingDown))?
            .map_err(snapshot_err)?;
        Ok(Snapshot {
            meta: self.stored.meta.clone(),
            snapshot: Box::new(Cursor::new(self.stored.data.clone())),
        })
    }
}

impl<A: App> RaftStateMachine<TypeConfig> for StateMachine<A> {
    type SnapshotBuilder = Builder;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, openraft::BasicNode>), StorageError<NodeId>> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Applied>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut out = Vec::new();
        for entry in entries {
            let index = entry.log_id.index;
            self.last_applied = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Normal(payload) => self.app.apply(index, &payload.0),
                EntryPayload::Blank => self.app.advance(index),
                EntryPayload::Membership(membership) => {
                    self.membership = StoredMembership::new(Some(entry.log_id), membership);
                    self.app.advance(index);
                }
            }
            out.push(Applied { index });
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Builder {
        self.built += 1;
        let snapshot_id = match self.last_applied {
            Some(l) => format!(
                "{}-{}-{}-{}",
                l.leader_id.term, l.leader_id.node_id, l.index, self.built
            ),
            None => format!("none-{}", self.built),
        };
        Builder {
            stored: Stored {
                meta: SnapshotMeta {
                    last_log_id: self.last_applied,
                    last_membership: self.membership.clone(),
                    snapshot_id,
                },
                data: self.app.snapshot(),
            },
            snapshots: self.snapshots.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &Meta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        let data = snapshot.into_inner();
        let index = meta.last_log_id.map_or(0, |l| l.index);
        self.app
            .restore(index, &data)
            .map_err(|reason| StorageError::from(StorageIOError::write_snapshot(None, AnyError::error(reason))))?;
        self.last_applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        let stored = Stored {
            meta: meta.clone(),
            data,
        };
        let snapshots = self.snapshots.clone();
        tokio::task::spawn_blocking(move || snapshots.keep(stored))
            .await
            .map_err(|_| snapshot_err(Error::ShuttingDown))?
            .map_err(snapshot_err)
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        Ok(self.snapshots.current().map(|stored| Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(stored.data)),
        }))
    }
}

impl<A: App> StateMachine<A> {
    /// Whether a snapshot was loaded at open.
    pub(crate) fn has_snapshot(&self) -> bool {
        self.snapshots.current().is_some()
    }
}
