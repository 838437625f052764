//! Partition logs in Kafka's own on-disk format.
//!
//! This crate owns the files under a data directory: one directory per partition (`<topic>-<partition>`),
//! segments named by their 20-digit base offset with `.log`, `.index` and `.timeindex` files, Kafka's
//! checkpoint files, roll, retention, the flush policy and crash recovery.
//! A segment written by kzero has the same bytes Kafka would write: the `.log` is the producer batches as
//! they came off the wire with offsets assigned, the indexes have Kafka's entry formats and density.
//!
//! Appends ([`Log::append`]) check a batch's header and CRC, patch its base offset and leader epoch in a
//! copy of the 61-byte header, and write header and body with one `pwritev`: no record is parsed, nothing
//! is decompressed, the body is never copied.
//! Reads ([`Log::read`]) return a [`Slice`]: the segment file (`Arc<File>`) and a byte range starting at the
//! batch that holds the offset and ending on a batch boundary. The bytes are never read into memory; the
//! caller sends them with `sendfile`. The OS page cache is the only cache.
//!
//! Durability: a flush ([`Log::flush`], or the flush policy after an append) syncs the files and raises the
//! log's recovery point, below which every offset is on disk; after a crash only what lies at or above it
//! is re-scanned. A rolled segment is synced in the background by a flusher thread, as Kafka does. The
//! recovery point never passes data that is not synced: a flush syncs rolled segments the flusher has not
//! reached yet, and [`LogManager::close`] waits for the flusher to drain before it writes the checkpoints
//! and the clean-shutdown marker. Each [`LogManager`] owns its flusher (a standalone [`Log`] owns a
//! private one); the thread stops when its owner is closed or dropped.
//!
//! File descriptors: an idle partition costs one, its active segment's `.log`. The active segment's
//! indexes live in memory and their files are opened only to be written; a sealed segment's files are
//! opened when read, through a bounded cache of descriptors that all logs of a [`LogManager`] share
//! ([`LogManagerOptions::file_cache_capacity`], 1024 by default). A [`Slice`] holds its own reference to
//! the file, so the cache may evict it while it is being sent.
//!
//! Leader epochs: each log keeps Kafka's leader-epoch cache, the first offset of every leader epoch in
//! it, in the partition directory's `leader-epoch-checkpoint`. Appends update it from the epochs they
//! stamp or carry, truncations and retention cut it, and [`Log::end_offset_for_epoch`] answers
//! OffsetForLeaderEpoch and a fetch's diverging-epoch check from it.
//!
//! It must never: copy record bytes into memory on the read path, decompress or parse individual records
//! on the append path, open sockets, or depend on the `transfer` crate (the two meet through std types).
//!
//! Main types: [`Log`] (one partition), [`LogManager`] (a data directory), [`LogConfig`],
//! [`LogManagerOptions`], [`Error`].
//!
//! ```
//! use protocol::record::{BatchBuilder, Compression, Record};
//! use storage::{Log, LogConfig, OpenHints};
//!
//! let dir = std::env::temp_dir().join(format!("kzero-doc-{}", std::process::id()));
//! let (log, _) = Log::open(&dir, LogConfig::default(), OpenHints::default()).unwrap();
//! let mut batch = BatchBuilder::new(Compression::None, 1_700_000_000_000);
//! batch.push(Record { value: Some("hello".into()), ..Record::default() });
//! let appended = log.append(&batch.build().unwrap(), 0).unwrap();
//! assert_eq!(appended.base_offset, 0);
//!
//! let read = log.read(0, 1024 * 1024, log.log_end_offset()).unwrap();
//! let slice = read.slice.unwrap();
//! assert_eq!(slice.range.start, 0); // send `slice.range` of `slice.file` with sendfile
//! log.delete().unwrap();
//! ```
#![deny(missing_docs)]

pub mod checkpoint;
mod config;
mod epoch_cache;
mod epoch_file;
mod error;
mod file_cache;
mod flusher;
mod index;
mod log;
mod manager;
mod segment;

pub use config::{LogConfig, LogManagerOptions};
pub use error::{Error, Result};
pub use flusher::FlushStats;
pub use log::{AppendInfo, Log, OpenHints, OpenReport, ProducerBatch, ReadInfo, Slice};
pub use manager::{is_valid_topic_name, LogManager};
