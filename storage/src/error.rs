//! The storage error type.

use std::io;
use std::path::PathBuf;

use protocol::record::BatchError;

/// Everything that can go wrong in this crate.
///
/// The variants that reject an append map one-to-one to Kafka error codes (the broker does the mapping):
/// [`Error::InvalidBatch`] to its [`BatchError::error_code`] (`CORRUPT_MESSAGE` for size and CRC problems),
/// [`Error::InvalidRecord`] to `INVALID_RECORD`, [`Error::MessageTooLarge`] to `MESSAGE_TOO_LARGE`,
/// [`Error::RecordListTooLarge`] to `RECORD_LIST_TOO_LARGE`, [`Error::OffsetOutOfRange`] to
/// `OFFSET_OUT_OF_RANGE`, and [`Error::Io`] to `KAFKA_STORAGE_ERROR`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The batch's own format is invalid: truncated, bad length, wrong magic, or CRC mismatch.
    #[error("invalid record batch: {0}")]
    InvalidBatch(#[from] BatchError),
    /// The batch is well-formed but breaks a rule for appends (offsets, counts, control batches).
    #[error("invalid record batch: {reason}")]
    InvalidRecord {
        /// Which rule.
        reason: String,
    },
    /// The batch is larger than `max_message_bytes`.
    #[error("record batch of {size} bytes exceeds the maximum of {max} bytes")]
    MessageTooLarge {
        /// The batch size.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The batch is larger than a whole segment.
    #[error("record batch of {size} bytes is larger than the segment size {segment_bytes}")]
    RecordListTooLarge {
        /// The batch size.
        size: usize,
        /// The configured segment size.
        segment_bytes: u64,
    },
    /// The offset is below the log start or above the log end.
    #[error("offset {offset} is out of range [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange {
        /// The requested offset.
        offset: i64,
        /// The log start offset.
        log_start_offset: i64,
        /// The log end offset.
        log_end_offset: i64,
    },
    /// A follower append whose offsets do not continue the log.
    #[error("follower append at offset {got} does not continue the log end {expected}")]
    NonContiguous {
        /// The log end offset.
        expected: i64,
        /// The first offset of the append.
        got: i64,
    },
    /// A file system operation failed. The log is unchanged and stays readable.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A file in the log directory cannot be made sense of.
    #[error("{}: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A topic name that cannot be a directory name (Kafka allows `[a-zA-Z0-9._-]`, at most 249 chars).
    #[error("invalid topic name {name:?}")]
    InvalidTopic {
        /// The name.
        name: String,
    },
    /// The log was deleted or closed.
    #[error("the log {} is closed", dir.display())]
    Closed {
        /// The log directory.
        dir: PathBuf,
    },
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: &std::path::Path) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, op: &'static str, path: &std::path::Path) -> Result<T> {
        self.map_err(|source| Error::Io {
            op,
            path: path.to_path_buf(),
            source,
        })
    }
}

impl<T> IoContext<T> for nix::Result<T> {
    fn ctx(self, op: &'static str, path: &std::path::Path) -> Result<T> {
        self.map_err(|e| Error::Io {
            op,
            path: path.to_path_buf(),
            source: io::Error::from(e),
        })
    }
}
