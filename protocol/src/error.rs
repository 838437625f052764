//! The codec's error type.
//!
//! A Rust `Err` from this crate means "no message could be decoded or encoded".
//! Kafka error codes that travel inside responses are data, see [`crate::ErrorCode`].

use std::fmt;

/// Where in the input an error happened: the api and version being decoded, the field, and the byte offset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The api key of the message, when known.
    pub api_key: Option<i16>,
    /// The api version of the message, when known.
    pub version: Option<i16>,
    /// The path of the field being read or written, innermost last (for example `topics.partitions.records`).
    pub field: Vec<&'static str>,
    /// The byte offset in the message (after the size prefix) where the field starts.
    pub offset: usize,
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(key) = self.api_key {
            match crate::ApiKey::from_i16(key) {
                Some(api) => write!(f, "{}", api.name())?,
                None => write!(f, "api {key}")?,
            }
            if let Some(v) = self.version {
                write!(f, " v{v}")?;
            }
            write!(f, ", ")?;
        }
        if !self.field.is_empty() {
            let mut path = String::new();
            for seg in &self.field {
                if !path.is_empty() && !seg.starts_with('[') {
                    path.push('.');
                }
                path.push_str(seg);
            }
            write!(f, "field `{path}`, ")?;
        }
        write!(f, "byte {}", self.offset)
    }
}

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ended before the value was complete; `needed` more bytes would be required (at least).
    #[error("incomplete input ({context}): {needed} more bytes needed")]
    Incomplete {
        /// How many more bytes are needed at least.
        needed: usize,
        /// Where the input ended.
        context: Context,
    },
    /// The input is complete but its bytes do not form a valid value.
    #[error("malformed input ({context}): {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
        /// Where.
        context: Context,
    },
    /// A value cannot be represented at the requested version or in the wire type (for example a string
    /// longer than 32767 bytes in a non-flexible version, or records that live in a file in a contiguous
    /// encoding).
    #[error("cannot encode ({context}): {reason}")]
    Unencodable {
        /// What cannot be encoded.
        reason: String,
        /// Where.
        context: Context,
    },
    /// The api key is not one kzero knows.
    #[error("unknown api key {api_key} (correlation id {correlation_id})")]
    UnknownApiKey {
        /// The api key that was sent.
        api_key: i16,
        /// The correlation id of the request, for logging.
        correlation_id: i32,
    },
    /// The api is known but this version is not implemented.
    #[error("unsupported version {version} of {} (implemented {min}-{max}, correlation id {correlation_id})", api_name(*.api_key))]
    UnsupportedVersion {
        /// The api key.
        api_key: i16,
        /// The version that was sent.
        version: i16,
        /// The lowest implemented version.
        min: i16,
        /// The highest implemented version.
        max: i16,
        /// The correlation id of the request, for logging.
        correlation_id: i32,
    },
    /// A frame's size prefix is negative.
    #[error("negative frame size {size}")]
    NegativeFrameSize {
        /// The size that was sent.
        size: i32,
    },
    /// A frame's size prefix is above the configured maximum.
    #[error("frame size {size} exceeds the maximum of {max} bytes")]
    FrameTooLarge {
        /// The size that was sent.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
    /// A `__consumer_offsets` record key has a type this crate does not read: 9-15 are share-group records,
    /// 17 and up streams-group records (see [`crate::group_records`]), which a consumer-group loader skips.
    #[error("unknown __consumer_offsets record type {record_type}")]
    UnknownRecordType {
        /// The key's INT16 prefix.
        record_type: i16,
    },
    /// A `__consumer_offsets` record value has a version this crate does not read.
    #[error("unknown version {version} of {record} (known {min}-{max})")]
    UnknownRecordVersion {
        /// The value's schema, e.g. `OffsetCommitValue`.
        record: &'static str,
        /// The value's INT16 prefix.
        version: i16,
        /// The lowest known version.
        min: i16,
        /// The highest known version.
        max: i16,
    },
    /// A record batch is not valid; see [`crate::record::BatchError`].
    #[error(transparent)]
    Batch(#[from] crate::record::BatchError),
    /// An I/O error from the stream a [`crate::FrameCodec`] is reading (required by `tokio_util::codec`).
    #[error("i/o error while reading frames: {0}")]
    Io(#[from] std::io::Error),
}

fn api_name(key: i16) -> &'static str {
    crate::ApiKey::from_i16(key).map_or("unknown api", crate::ApiKey::name)
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn incomplete(needed: usize, offset: usize) -> Self {
        Error::Incomplete {
            needed,
            context: Context {
                offset,
                ..Context::default()
            },
        }
    }

    pub(crate) fn malformed(reason: impl Into<String>, offset: usize) -> Self {
        Error::Malformed {
            reason: reason.into(),
            context: Context {
                offset,
                ..Context::default()
            },
        }
    }

    pub(crate) fn unencodable(reason: impl Into<String>, offset: usize) -> Self {
        Error::Unencodable {
            reason: reason.into(),
            context: Context {
                offset,
                ..Context::default()
            },
        }
    }

    /// The context of a decoding or encoding error, if it has one.
    pub fn context(&self) -> Option<&Context> {
        match self {
            Error::Incomplete { context, .. }
            | Error::Malformed { context, .. }
            | Error::Unencodable { context, .. } => Some(context),
            _ => None,
        }
    }

    fn context_mut(&mut self) -> Option<&mut Context> {
        match self {
            Error::Incomplete { context, .. }
            | Error::Malformed { context, .. }
            | Error::Unencodable { context, .. } => Some(context),
            _ => None,
        }
    }

    /// Adds an enclosing field name (errors bubble up from the innermost field outwards).
    pub(crate) fn in_field(mut self, name: &'static str) -> Self {
        if let Some(c) = self.context_mut() {
            c.field.insert(0, name);
        }
        self
    }

    /// Records the api and version being decoded or encoded.
    pub(crate) fn in_api(mut self, api_key: i16, version: i16) -> Self {
        if let Some(c) = self.context_mut() {
            c.api_key = Some(api_key);
            c.version = Some(version);
        }
        self
    }

    /// True for [`Error::Incomplete`]: more bytes would help.
    pub fn is_incomplete(&self) -> bool {
        matches!(self, Error::Incomplete { .. })
    }
}
