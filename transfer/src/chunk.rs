//! [`Chunk`]: one piece of a response, bytes in memory or a region of a file.

use std::fs::File;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;

use crate::Error;

/// One piece of a response. A response is a slice of chunks, written in order.
///
/// File regions are the `(Arc<File>, Range<u64>)` pairs a log store hands out; they are sent with
/// `sendfile(2)` on plaintext connections and read with `pread` into a reused buffer otherwise.
/// A region is read when it is written, not when the chunk is made: if the file shrinks in between, the
/// write fails with [`Error::Truncated`].
#[derive(Debug, Clone)]
pub enum Chunk {
    /// Bytes in memory (for example, an encoded response header).
    Bytes(Bytes),
    /// The bytes `range` of `file`.
    File {
        /// The file, shared with whoever else reads or appends to it.
        file: Arc<File>,
        /// Byte offsets in the file; may be empty and may lie above 4 GiB.
        range: Range<u64>,
    },
}

impl Chunk {
    /// A file region chunk.
    pub fn file(file: Arc<File>, range: Range<u64>) -> Chunk {
        Chunk::File { file, range }
    }

    /// The number of bytes this chunk puts on the wire (0 for an invalid region whose start is after its end).
    pub fn len(&self) -> u64 {
        match self {
            Chunk::Bytes(b) => b.len() as u64,
            Chunk::File { range, .. } => range.end.saturating_sub(range.start),
        }
    }

    /// Whether the chunk puts nothing on the wire.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<Bytes> for Chunk {
    fn from(bytes: Bytes) -> Chunk {
        Chunk::Bytes(bytes)
    }
}

impl From<Vec<u8>> for Chunk {
    fn from(bytes: Vec<u8>) -> Chunk {
        Chunk::Bytes(Bytes::from(bytes))
    }
}

impl From<&'static [u8]> for Chunk {
    fn from(bytes: &'static [u8]) -> Chunk {
        Chunk::Bytes(Bytes::from_static(bytes))
    }
}

impl From<(Arc<File>, Range<u64>)> for Chunk {
    fn from((file, range): (Arc<File>, Range<u64>)) -> Chunk {
        Chunk::File { file, range }
    }
}

/// The total length of a response, or an error if one of its regions is invalid.
///
/// Called before anything of a response is written, so an invalid region never leaves half a response on
/// the wire.
pub(crate) fn validate(response: &[Chunk]) -> Result<u64, Error> {
    let mut total = 0u64;
    for chunk in response {
        if let Chunk::File { range, .. } = chunk {
            if range.start > range.end {
                return Err(Error::InvalidRange { range: range.clone() });
            }
        }
        total += chunk.len();
    }
    Ok(total)
}
