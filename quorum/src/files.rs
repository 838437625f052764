//! File helpers shared by the log and the snapshot: atomic replacement of small files and
//! checksummed frames.

use std::fs::File;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use crate::Error;

/// The size of a frame header: the body's length and its crc32c, both u32.
pub(crate) const FRAME_HEADER: usize = 8;

/// Maps an I/O error on `path` to [`Error::Io`].
pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Makes a directory's entries (created, renamed or deleted files) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))
}

/// Replaces `dir/name` with `bytes` atomically: written to a temporary file, synced, renamed over
/// the old file, and the directory synced. After a crash the file holds either the old or the
/// new contents.
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), Error> {
    let tmp = dir.join(format!("{name}.tmp"));
    let path = dir.join(name);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    file.write_all(bytes).map_err(io_err(&tmp))?;
    file.sync_all().map_err(io_err(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
    sync_dir(dir)
}

/// Reads `dir/name`, or `None` if it does not exist.
pub(crate) fn read_optional(dir: &Path, name: &str) -> Result<Option<Vec<u8>>, Error> {
    let path = dir.join(name);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(&path)(e)),
    }
}

/// Appends one frame `[u32 len][u32 crc32c of body][body]` (big-endian) to `out`.
pub(crate) fn put_frame(out: &mut Vec<u8>, body: &[u8]) {
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&crc32c::crc32c(body).to_be_bytes());
    out.extend_from_slice(body);
}

/// Why a frame could not be read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// The buffer ends inside the frame.
    Short,
    /// The body's checksum does not match.
    Checksum,
}

/// Reads the frame at the start of `buf`: its body and the frame's total length.
pub(crate) fn get_frame(buf: &[u8]) -> Result<(&[u8], usize), FrameError> {
    if buf.len() < FRAME_HEADER {
        return Err(FrameError::Short);
    }
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    let crc = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
    let end = FRAME_HEADER.checked_add(len).ok_or(FrameError::Short)?;
    let body = buf.get(FRAME_HEADER..end).ok_or(FrameError::Short)?;
    if crc32c::crc32c(body) != crc {
        return Err(FrameError::Checksum);
    }
    Ok((body, end))
}
