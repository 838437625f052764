//! Log configuration, with Kafka's defaults and names.

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
        }
    }
}
