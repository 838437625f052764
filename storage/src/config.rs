//! Log configuration, with Kafka's defaults and names, and the settings a data directory's logs share.

/// How a log rolls, retains and flushes. Defaults are Kafka's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// Roll a segment when it would exceed this size (`segment.bytes`, 1 GiB).
    pub segment_bytes: u64,
    /// Roll a segment this long after its first append (`segment.ms`, 7 days).
    pub segment_ms: i64,
    /// The maximum size of an index file; a full index rolls the segment (`segment.index.bytes`, 10 MiB).
    pub segment_index_bytes: u64,
    /// Add an index entry after this many bytes (`index.interval.bytes`, 4096).
    pub index_interval_bytes: u64,
    /// Delete segments whose newest record is older than this; -1 keeps them (`retention.ms`, 7 days).
    pub retention_ms: i64,
    /// Delete the oldest segments while the log is larger than this; -1 for no limit (`retention.bytes`).
    pub retention_bytes: i64,
    /// `fdatasync` after this many messages (`flush.messages`; the default, `i64::MAX`, leaves it to the page
    /// cache; 1 syncs before every append returns).
    pub flush_messages: i64,
    /// `fdatasync` when this long has passed since the last flush (`flush.ms`, `i64::MAX`).
    pub flush_ms: i64,
    /// The largest batch accepted (`max.message.bytes`, 1 MiB + 12).
    pub max_message_bytes: usize,
    /// Replicas that must be in sync for an `acks=all` write (`min.insync.replicas`, 1). Kafka keeps it with
    /// the log's settings; the storage crate only carries it for the broker's replication rules.
    pub min_insync_replicas: i64,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1024 * 1024 * 1024,
            segment_ms: 7 * 24 * 60 * 60 * 1000,
            segment_index_bytes: 10 * 1024 * 1024,
            index_interval_bytes: 4096,
            retention_ms: 7 * 24 * 60 * 60 * 1000,
            retention_bytes: -1,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            max_message_bytes: 1024 * 1024 + 12,
            min_insync_replicas: 1,
        }
    }
}

/// Settings of a [`crate::LogManager`] that are not per topic: resources its logs share.
///
/// Marked `#[non_exhaustive]` so that settings can be added without breaking callers: start from
/// [`LogManagerOptions::default`] and set fields, or use the `with_` methods.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogManagerOptions {
    /// How many descriptors of sealed segments' files (`.log`, `.index`, `.timeindex`) stay open, for all
    /// the manager's logs together (least recently used ones are closed first; default
    /// [`LogManagerOptions::DEFAULT_FILE_CACHE_CAPACITY`]). 0 opens such a file for each use. The active
    /// segment of each log holds one more descriptor, its `.log`, outside this budget; a read being sent
    /// keeps its file open until the [`crate::Slice`] is dropped.
    pub file_cache_capacity: usize,
}

impl LogManagerOptions {
    /// The default of [`LogManagerOptions::file_cache_capacity`], also the capacity of the private cache of
    /// a log opened with [`crate::Log::open`].
    pub const DEFAULT_FILE_CACHE_CAPACITY: usize = 1024;

    /// Sets [`LogManagerOptions::file_cache_capacity`].
    pub fn with_file_cache_capacity(mut self, capacity: usize) -> Self {
        self.file_cache_capacity = capacity;
        self
    }
}

impl Default for LogManagerOptions {
    fn default() -> Self {
        LogManagerOptions {
            file_cache_capacity: LogManagerOptions::DEFAULT_FILE_CACHE_CAPACITY,
        }
    }
}
