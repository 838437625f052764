//! Kafka's text checkpoint files: `recovery-point-offset-checkpoint`, `log-start-offset-checkpoint`.
//!
//! ```text
//! 0                      version
//! 2                      entry count
//! orders 0 1500          topic partition offset
//! orders 1 1320
//! ```
//! Written to `<file>.tmp`, synced, then renamed over the old file, so a crash leaves the old or the new one.
//! The same write, with or without the sync, serves a log's `leader-epoch-checkpoint`, whose text and
//! sync policy belong to the log (the private `epoch_cache` module).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;

use crate::error::{Error, IoContext, Result};

/// A topic-partition.
pub type TopicPartition = (String, i32);

/// Reads a checkpoint file; a missing file is empty.
pub fn read(path: &Path) -> Result<BTreeMap<TopicPartition, i64>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => {
            return Err(Error::Io {
                op: "reading",
                path: path.to_path_buf(),
                source: e,
            })
        }
    };
    let corrupt = |reason: String| Error::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let mut lines = text.lines();
    match lines.next().map(str::trim) {
        Some("0") => {}
        other => return Err(corrupt(format!("unsupported checkpoint version {other:?}"))),
    }
    let count: usize = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| corrupt("missing entry count".into()))?;
    let mut entries = BTreeMap::new();
    for line in lines.by_ref().take(count) {
        let mut parts = line.split_whitespace();
        let (Some(topic), Some(partition), Some(offset), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(corrupt(format!("malformed entry {line:?}")));
        };
        let partition = partition
            .parse()
            .map_err(|_| corrupt(format!("bad partition in {line:?}")))?;
        let offset = offset.parse().map_err(|_| corrupt(format!("bad offset in {line:?}")))?;
        entries.insert((topic.to_string(), partition), offset);
    }
    if entries.len() != count {
        return Err(corrupt(format!("expected {count} entries, found {}", entries.len())));
    }
    Ok(entries)
}

/// Writes a checkpoint file atomically.
pub fn write(path: &Path, entries: &BTreeMap<TopicPartition, i64>) -> Result<()> {
    let mut text = format!("0\n{}\n", entries.len());
    for ((topic, partition), offset) in entries {
        text.push_str(&format!("{topic} {partition} {offset}\n"));
    }
    write_text(path, &text, true)
}

/// The temporary file a checkpoint is written to before it is renamed over `path`.
pub(crate) fn tmp_path(path: &Path) -> std::path::PathBuf {
    path.with_extension("tmp")
}

/// Replaces the file at `path` with `text`: written to [`tmp_path`], then renamed, so that a reader sees
/// the old or the new text. With `sync`, the temporary file is synced before the rename and the directory
/// after it, so that the new text survives a crash once this returns.
pub(crate) fn write_text(path: &Path, text: &str, sync: bool) -> Result<()> {
    let tmp = tmp_path(path);
    let mut f = fs::File::create(&tmp).ctx("creating", &tmp)?;
    f.write_all(text.as_bytes()).ctx("writing", &tmp)?;
    if sync {
        f.sync_all().ctx("syncing", &tmp)?;
    }
    fs::rename(&tmp, path).ctx("renaming", &tmp)?;
    if sync {
        sync_parent(path)?;
    }
    Ok(())
}

/// Syncs the directory holding `path`, so that a rename into it is on disk (Kafka flushes the parent
/// directory after the move too). A file system that cannot sync a directory (`EINVAL`) is taken at its
/// word: there is nothing more to do there.
pub(crate) fn sync_parent(path: &Path) -> Result<()> {
    let Some(dir) = path.parent() else { return Ok(()) };
    let d = fs::File::open(dir).ctx("opening", dir)?;
    match d.sync_all() {
        Err(e) if e.raw_os_error() == Some(nix::libc::EINVAL) => Ok(()),
        other => other.ctx("syncing", dir),
    }
}
