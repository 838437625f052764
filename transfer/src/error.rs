//! The crate's single error type.

use std::io;
use std::ops::Range;

/// Why a response could not be written.
///
/// Every error ends the response it happened in, and the caller should close the connection: after an error
/// the peer has received an unknown prefix of the response, so the stream is no longer framed.
/// Other connections are never affected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file region ends before the file does: the file was truncated (or was always shorter).
    #[error(
        "file region {}..{} is truncated: end of file reached at offset {end_of_file}, {} bytes into the region",
        range.start, range.end, end_of_file - range.start
    )]
    Truncated {
        /// The region as requested.
        range: Range<u64>,
        /// The offset at which reading hit the end of the file (the file ends there or before).
        end_of_file: u64,
    },
    /// A file region whose start lies after its end; nothing of the response was written.
    #[error("invalid file region {}..{}: the start lies after the end", range.start, range.end)]
    InvalidRange {
        /// The region as requested.
        range: Range<u64>,
    },
    /// Reading a file region with `pread` failed (copy mode, the sendfile fallback, or TLS).
    #[error("reading file region {}..{} at offset {offset} failed: {source}", range.start, range.end)]
    ReadFile {
        /// The region being read.
        range: Range<u64>,
        /// The file offset of the failed read.
        offset: u64,
        /// The error from the system.
        source: io::Error,
    },
    /// Sending a file region with `sendfile(2)` failed, for example because the peer disconnected.
    #[error("sending file region {}..{} at offset {offset} with sendfile failed: {source}", range.start, range.end)]
    SendFile {
        /// The region being sent.
        range: Range<u64>,
        /// The file offset of the failed call.
        offset: u64,
        /// The error from the system.
        source: io::Error,
    },
    /// Writing bytes to the connection (or flushing or shutting it down) failed, for example because the peer
    /// disconnected.
    #[error("writing to the connection failed: {source}")]
    Write {
        /// The error from the system or from TLS.
        source: io::Error,
    },
    /// Setting a socket option on the connection failed.
    #[error("setting socket option {option} failed: {source}")]
    SocketOption {
        /// The option, e.g. `TCP_NODELAY`.
        option: &'static str,
        /// The error from the system.
        source: io::Error,
    },
    /// The connection's [`ResponseWriter`](crate::ResponseWriter) has stopped (after an error, or because it
    /// was dropped), so no more responses can be queued.
    #[error("the connection's response writer has stopped")]
    Closed,
}

impl Error {
    /// The underlying I/O error, if this error has one.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            Error::ReadFile { source, .. }
            | Error::SendFile { source, .. }
            | Error::Write { source, .. }
            | Error::SocketOption { source, .. } => Some(source),
            Error::Truncated { .. } | Error::InvalidRange { .. } | Error::Closed => None,
        }
    }

    /// Whether the peer went away (reset, broken pipe, closed without TLS `close_notify`): an ordinary end of a
    /// connection, worth a debug log rather than a warning.
    pub fn is_peer_disconnect(&self) -> bool {
        let Some(e) = self.io_error() else {
            return false;
        };
        if matches!(self, Error::ReadFile { .. }) {
            return false;
        }
        matches!(
            e.kind(),
            io::ErrorKind::BrokenPipe
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::NotConnected
                | io::ErrorKind::UnexpectedEof
                | io::ErrorKind::WriteZero
        )
    }
}

impl From<Error> for io::Error {
    /// Keeps the kind of an underlying I/O error; truncation becomes `UnexpectedEof`, an invalid region
    /// `InvalidInput`, and a stopped writer `BrokenPipe`.
    fn from(e: Error) -> io::Error {
        let kind = match &e {
            Error::Truncated { .. } => io::ErrorKind::UnexpectedEof,
            Error::InvalidRange { .. } => io::ErrorKind::InvalidInput,
            Error::Closed => io::ErrorKind::BrokenPipe,
            other => other.io_error().map_or(io::ErrorKind::Other, io::Error::kind),
        };
        io::Error::new(kind, e)
    }
}
