//! The broker's Rust error (why it could not start or stop) and the mapping from the lower crates'
//! errors to the Kafka error codes a response carries.
//!
//! A Kafka error code is response data, not a Rust error: a handler that meets a storage error answers
//! with [`storage_error_code`] of it, and the connection keeps serving.

use std::path::PathBuf;

use protocol::ErrorCode;

use crate::config::ConfigError;

/// Why the broker could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The data directory could not be opened or closed.
    #[error("storage: {0}")]
    Storage(#[from] storage::Error),
    /// A file or socket operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or address.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The TLS certificate or key is unusable.
    #[error("tls: {0}")]
    Tls(String),
    /// The metadata quorum could not be joined.
    #[error("metadata quorum: {0}")]
    Quorum(String),
    /// A blocking task (opening or closing the logs) panicked or was cancelled.
    #[error("{0} did not finish: {1}")]
    Task(&'static str, String),
}

/// The Kafka error code for a storage error, as Kafka maps its storage exceptions.
pub(crate) fn storage_error_code(e: &storage::Error) -> ErrorCode {
    match e {
        storage::Error::InvalidBatch(b) => b.error_code(),
        storage::Error::InvalidRecord { .. } => ErrorCode::InvalidRecord,
        storage::Error::MessageTooLarge { .. } => ErrorCode::MessageTooLarge,
        storage::Error::RecordListTooLarge { .. } => ErrorCode::RecordListTooLarge,
        storage::Error::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
        storage::Error::Io { .. } | storage::Error::Corrupt { .. } => ErrorCode::KafkaStorageError,
        // The partition was deleted (or the broker is stopping) under the request.
        storage::Error::Closed { .. } => ErrorCode::NotLeaderOrFollower,
        _ => ErrorCode::UnknownServerError,
    }
}
