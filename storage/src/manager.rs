//! Many partition logs in one data directory, with Kafka's checkpoint files and clean-shutdown marker.
//!
//! ```text
//! <data_dir>/
//!   .kafka_cleanshutdown                  present only while the broker is cleanly stopped
//!   recovery-point-offset-checkpoint      per partition: every offset below is on disk
//!   log-start-offset-checkpoint           per partition: the first offset still in the log
//!   <topic>-<partition>/                  one Log each
//! ```
//!
//! A manager owns what its logs share: one flusher thread that syncs rolled segments in the background
//! (started at the first roll, stopped by [`LogManager::close`] after it has drained, or when the manager
//! is dropped), and one bounded cache of descriptors of sealed segments' files
//! ([`LogManagerOptions::file_cache_capacity`]). So an idle partition costs one descriptor (its active
//! `.log`), and the whole directory at most one per partition plus the cache's capacity, plus the files
//! of reads still being sent.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::checkpoint::{self, TopicPartition};
use crate::config::{LogConfig, LogManagerOptions};
use crate::error::{Error, IoContext, Result};
use crate::file_cache::FileCache;
use crate::flusher::Flusher;
use crate::log::{Log, OpenHints, OpenReport};

const CLEAN_SHUTDOWN: &str = ".kafka_cleanshutdown";
const RECOVERY_POINTS: &str = "recovery-point-offset-checkpoint";
const LOG_START_OFFSETS: &str = "log-start-offset-checkpoint";

/// Checks a topic name as Kafka does: 1 to 249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn is_valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

/// The partition logs of one data directory.
#[derive(Debug)]
pub struct LogManager {
    data_dir: PathBuf,
    logs: RwLock<BTreeMap<TopicPartition, Arc<Log>>>,
    /// Shared by every log (their segments hold it too, so it lives as long as the last of them).
    cache: Arc<FileCache>,
    /// Owned: stopped by `close`, or when the manager is dropped.
    flusher: Flusher,
}

/// The metadata quorum's log directory (Kafka's `__cluster_metadata-0`): not a partition of this manager.
const METADATA_LOG_DIR: &str = "__cluster_metadata";

fn parse_dir_name(name: &str) -> Option<TopicPartition> {
    let (topic, partition) = name.rsplit_once('-')?;
    let partition: i32 = partition.parse().ok().filter(|p: &i32| *p >= 0)?;
    is_valid_topic_name(topic).then(|| (topic.to_string(), partition))
}

impl LogManager {
    /// Opens every partition log under `data_dir` in parallel. `config_for` gives each topic's config.
    /// A missing clean-shutdown marker means the logs are recovered from their recovery points.
    /// Uses the default [`LogManagerOptions`].
    pub fn open(
        data_dir: &Path,
        config_for: impl Fn(&str) -> LogConfig + Sync,
    ) -> Result<(LogManager, Vec<(TopicPartition, OpenReport)>)> {
        LogManager::open_with(data_dir, config_for, LogManagerOptions::default())
    }

    /// [`LogManager::open`] with options (the descriptor cache's capacity).
    pub fn open_with(
        data_dir: &Path,
        config_for: impl Fn(&str) -> LogConfig + Sync,
        options: LogManagerOptions,
    ) -> Result<(LogManager, Vec<(TopicPartition, OpenReport)>)> {
        let cache = FileCache::new(options.file_cache_capacity);
        // Dropped (and stopped) on any error below.
        let flusher = Flusher::new();
        fs::create_dir_all(data_dir).ctx("creating", data_dir)?;
        let marker = data_dir.join(CLEAN_SHUTDOWN);
        let clean = marker.exists();
        let recovery_points = checkpoint::read(&data_dir.join(RECOVERY_POINTS))?;
        let start_offsets = checkpoint::read(&data_dir.join(LOG_START_OFFSETS))?;

        let mut found = Vec::new();
        for entry in fs::read_dir(data_dir).ctx("listing", data_dir)? {
            let entry = entry.ctx("listing", data_dir)?;
            if !entry.file_type().ctx("inspecting", &entry.path())?.is_dir() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name == METADATA_LOG_DIR {
                // Not a partition: a directory of the broker's own (topic configs, the metadata log).
                continue;
            } else if name.ends_with("-delete") {
                // A deletion that a crash interrupted.
                fs::remove_dir_all(entry.path()).ctx("removing", &entry.path())?;
            } else if let Some(tp) = parse_dir_name(&name) {
                found.push((tp, entry.path()));
            } else {
                tracing::warn!(dir = %entry.path().display(), "ignoring a directory that is not <topic>-<partition>");
            }
        }
        found.sort();

        // Open in parallel, a few logs per thread.
        let threads = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(found.len().max(1));
        let chunks: Vec<_> = found.chunks(found.len().div_ceil(threads).max(1)).collect();
        let results: Vec<Result<Vec<(TopicPartition, Log, OpenReport)>>> = std::thread::scope(|s| {
            let handles: Vec<_> = chunks
                .iter()
                .map(|chunk| {
                    let config_for = &config_for;
                    let (recovery_points, start_offsets) = (&recovery_points, &start_offsets);
                    let (cache, flusher) = (&cache, &flusher);
                    s.spawn(move || {
                        chunk
                            .iter()
                            .map(|(tp, path)| {
                                let hints = OpenHints {
                                    clean_shutdown: clean,
                                    recovery_point: recovery_points.get(tp).copied().unwrap_or(0),
                                    log_start_offset: start_offsets.get(tp).copied().unwrap_or(0),
                                };
                                let (log, report) = Log::open_shared(
                                    path,
                                    config_for(&tp.0),
                                    hints,
                                    Arc::clone(cache),
                                    flusher.handle(),
                                )?;
                                Ok((tp.clone(), log, report))
                            })
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(Error::Corrupt {
                            path: data_dir.to_path_buf(),
                            reason: "a thread opening logs panicked".into(),
                        })
                    })
                })
                .collect()
        });
        let mut logs = BTreeMap::new();
        let mut reports = Vec::new();
        for r in results {
            for (tp, log, report) in r? {
                reports.push((tp.clone(), report));
                logs.insert(tp, Arc::new(log));
            }
        }
        // From now on a crash must be detected: remove the marker.
        if clean {
            fs::remove_file(&marker).ctx("removing", &marker)?;
        }
        Ok((
            LogManager {
                data_dir: data_dir.to_path_buf(),
                logs: RwLock::new(logs),
                cache,
                flusher,
            },
            reports,
        ))
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The log of a partition, if it exists.
    pub fn get(&self, topic: &str, partition: i32) -> Option<Arc<Log>> {
        self.logs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(topic.to_string(), partition))
            .cloned()
    }

    /// Every partition, sorted.
    pub fn list(&self) -> Vec<TopicPartition> {
        self.logs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// Every log, sorted by partition.
    pub fn logs(&self) -> Vec<(TopicPartition, Arc<Log>)> {
        self.logs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect()
    }

    /// Creates a partition's log, or returns the existing one.
    pub fn create(&self, topic: &str, partition: i32, config: LogConfig) -> Result<Arc<Log>> {
        if !is_valid_topic_name(topic) || partition < 0 {
            return Err(Error::InvalidTopic {
                name: format!("{topic}-{partition}"),
            });
        }
        let mut logs = self.logs.write().unwrap_or_else(|p| p.into_inner());
        let key = (topic.to_string(), partition);
        if let Some(log) = logs.get(&key) {
            return Ok(Arc::clone(log));
        }
        let dir = self.data_dir.join(format!("{topic}-{partition}"));
        let (log, _) = Log::open_shared(
            &dir,
            config,
            OpenHints {
                clean_shutdown: true,
                ..OpenHints::default()
            },
            Arc::clone(&self.cache),
            self.flusher.handle(),
        )?;
        let log = Arc::new(log);
        logs.insert(key, Arc::clone(&log));
        Ok(log)
    }

    /// Deletes a partition's log: its directory is renamed to `…-delete` first, so that a crash in the
    /// middle finishes the deletion on the next start. The log's descriptors are closed (its files' space
    /// is freed once no read in flight holds them).
    pub fn delete(&self, topic: &str, partition: i32) -> Result<bool> {
        let Some(log) = self
            .logs
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(topic.to_string(), partition))
        else {
            return Ok(false);
        };
        let from = log.dir().to_path_buf();
        let to = self
            .data_dir
            .join(format!("{topic}-{partition}.{}-delete", std::process::id()));
        fs::rename(&from, &to).ctx("renaming", &from)?;
        fs::remove_dir_all(&to).ctx("removing", &to)?;
        log.close_for_deletion();
        Ok(true)
    }

    /// How many flushes of this directory's logs synced data, and how long they took.
    pub fn flush_stats(&self) -> crate::FlushStats {
        self.flusher.stats()
    }

    /// Writes the recovery-point and log-start-offset checkpoints.
    pub fn checkpoint(&self) -> Result<()> {
        let logs = self.logs();
        let recovery: BTreeMap<_, _> = logs.iter().map(|(tp, l)| (tp.clone(), l.recovery_point())).collect();
        let starts: BTreeMap<_, _> = logs.iter().map(|(tp, l)| (tp.clone(), l.log_start_offset())).collect();
        checkpoint::write(&self.data_dir.join(RECOVERY_POINTS), &recovery)?;
        checkpoint::write(&self.data_dir.join(LOG_START_OFFSETS), &starts)
    }

    /// Flushes logs whose `flush_ms` has passed (for a periodic timer).
    pub fn maybe_flush(&self, now_ms: i64) -> Result<()> {
        for (_, log) in self.logs() {
            log.maybe_flush(now_ms)?;
        }
        Ok(())
    }

    /// Closes every log (flushing it and trimming its indexes), waits for the flusher to finish every
    /// queued sync and stops it, then writes the checkpoints and the clean shutdown marker, so that the
    /// next open needs no recovery.
    pub fn close(&self) -> Result<()> {
        for (_, log) in self.logs() {
            log.close()?;
        }
        // Each close flushed its log, rolled segments included, so the recovery points are already safe;
        // the marker still waits for the flusher: no sync of this directory may be in flight behind it.
        self.flusher.shutdown();
        self.checkpoint()?;
        // The marker says the next start may trust every index without a scan: the index files each close
        // just wrote and trimmed must be on disk before it is. One `syncfs` covers them all (a sync per
        // file would be two per partition).
        let dir = fs::File::open(&self.data_dir).ctx("opening", &self.data_dir)?;
        nix::unistd::syncfs(std::os::fd::AsRawFd::as_raw_fd(&dir)).map_err(|e| Error::Io {
            op: "syncing the file system of",
            path: self.data_dir.clone(),
            source: e.into(),
        })?;
        let marker = self.data_dir.join(CLEAN_SHUTDOWN);
        let mut f = fs::File::create(&marker).ctx("creating", &marker)?;
        std::io::Write::write_all(&mut f, b"{\"version\":0,\"brokerEpoch\":0}").ctx("writing", &marker)?;
        f.sync_all().ctx("syncing", &marker)?;
        Ok(())
    }
}

/// The descriptor cache and the flusher, for tests.
#[cfg(test)]
impl LogManager {
    pub(crate) fn resources(&self) -> (&Arc<FileCache>, &Flusher) {
        (&self.cache, &self.flusher)
    }
}

#[cfg(test)]
mod tests;
