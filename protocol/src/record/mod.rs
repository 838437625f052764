//! RecordBatch v2 (magic 2): the unit producers send, the log stores and consumers fetch.
//!
//! ```text
//! offset size field                      offset size field
//!      0    8 base_offset                    27    8 base_timestamp
//!      8    4 batch_length (= size - 12)     35    8 max_timestamp
//!     12    4 partition_leader_epoch         43    8 producer_id
//!     16    1 magic (2)                      51    2 producer_epoch
//!     17    4 crc (CRC-32C of 21..end)       53    4 base_sequence
//!     21    2 attributes                     57    4 records_count
//!     23    4 last_offset_delta              61    … records (one compressed blob if a codec is set)
//! ```
//! Attributes: bits 0-2 compression (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd), bit 3 LogAppendTime,
//! bit 4 transactional, bit 5 control.
//!
//! The broker's hot path uses only [`BatchHeader`] (a view over the 61 header bytes),
//! [`RecordBatch::verify_crc`] and the in-place patches [`set_base_offset`] and
//! [`set_partition_leader_epoch`] (both outside the CRC-covered range).
//! Decompressing and iterating records ([`RecordBatch::records`]) is for the CLI and tests.
//! Legacy magic 0/1 message sets are detected and rejected as [`BatchError::UnsupportedMagic`].

mod builder;
mod compression;

pub use builder::BatchBuilder;
pub use compression::Compression;

use bytes::Bytes;

use crate::error_code::ErrorCode;

/// The size of the batch header, up to the records.
pub const BATCH_HEADER_SIZE: usize = 61;
/// The bytes before `batch_length` counts: base offset and the length itself.
pub const LOG_OVERHEAD: usize = 12;
/// The magic byte of RecordBatch v2.
pub const MAGIC_V2: i8 = 2;
/// Where the CRC-covered range starts (the attributes).
pub const CRC_START: usize = 21;
/// Offset of the magic byte, the same in every message format.
pub const MAGIC_OFFSET: usize = 16;
/// Decompressed records larger than this are refused, so that a small batch cannot exhaust memory.
pub const MAX_DECOMPRESSED_SIZE: usize = 256 * 1024 * 1024;

const ATTR_COMPRESSION_MASK: i16 = 0x07;
const ATTR_LOG_APPEND_TIME: i16 = 0x08;
const ATTR_TRANSACTIONAL: i16 = 0x10;
const ATTR_CONTROL: i16 = 0x20;

/// What is wrong with a record batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The buffer ends before the batch does.
    #[error("record batch truncated: {needed} bytes needed, {available} available")]
    Truncated {
        /// Bytes the batch needs (from its length field, or the header size).
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// The batch length field is smaller than a batch header.
    #[error("invalid record batch length {length}")]
    InvalidLength {
        /// The value of the length field.
        length: i32,
    },
    /// The batch is not magic 2 (0 and 1 are Kafka's legacy formats, which kzero does not support).
    #[error("unsupported message format magic {magic}{}", if (0..=1).contains(.magic) { " (legacy message format)" } else { "" })]
    UnsupportedMagic {
        /// The magic byte found.
        magic: i8,
    },
    /// The stored CRC does not match the bytes.
    #[error("record batch CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// The CRC in the header.
        stored: u32,
        /// The CRC-32C of bytes 21..end.
        computed: u32,
    },
    /// The compression bits name no known codec.
    #[error("unknown compression codec {codec}")]
    UnknownCompression {
        /// The codec id.
        codec: u8,
    },
    /// Decompression failed.
    #[error("cannot decompress {codec} records: {reason}")]
    Decompression {
        /// The codec.
        codec: Compression,
        /// Why.
        reason: String,
    },
    /// Compression failed (only when building a batch).
    #[error("cannot compress records with {codec}: {reason}")]
    Compression {
        /// The codec.
        codec: Compression,
        /// Why.
        reason: String,
    },
    /// A record inside the batch is malformed.
    #[error("invalid record {index}: {reason}")]
    InvalidRecord {
        /// The record's index in the batch.
        index: usize,
        /// Why.
        reason: String,
    },
}

impl BatchError {
    /// The Kafka error code a broker answers a produce request with for this error.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            BatchError::Truncated { .. } | BatchError::InvalidLength { .. } | BatchError::CrcMismatch { .. } => {
                ErrorCode::CorruptMessage
            }
            BatchError::UnknownCompression { .. } => ErrorCode::UnsupportedCompressionType,
            _ => ErrorCode::InvalidRecord,
        }
    }
}

fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

/// A zero-copy view over the 61 header bytes of a v2 record batch.
#[derive(Debug, Clone, Copy)]
pub struct BatchHeader<'a> {
    // INVARIANT: at least BATCH_HEADER_SIZE bytes, magic 2, batch_length >= BATCH_HEADER_SIZE - LOG_OVERHEAD.
    bytes: &'a [u8],
}

impl<'a> BatchHeader<'a> {
    /// Reads the header at the start of `buf` (at least 61 bytes; more is fine).
    /// Checks the magic byte and that the length field can hold a header; nothing else.
    pub fn parse(buf: &'a [u8]) -> Result<Self, BatchError> {
        if buf.len() <= MAGIC_OFFSET {
            return Err(BatchError::Truncated {
                needed: BATCH_HEADER_SIZE,
                available: buf.len(),
            });
        }
        let magic = buf[MAGIC_OFFSET] as i8;
        if magic != MAGIC_V2 {
            return Err(BatchError::UnsupportedMagic { magic });
        }
        if buf.len() < BATCH_HEADER_SIZE {
            return Err(BatchError::Truncated {
                needed: BATCH_HEADER_SIZE,
                available: buf.len(),
            });
        }
        let length = be_i32(buf, 8);
        if length < (BATCH_HEADER_SIZE - LOG_OVERHEAD) as i32 {
            return Err(BatchError::InvalidLength { length });
        }
        Ok(BatchHeader {
            bytes: &buf[..BATCH_HEADER_SIZE],
        })
    }

    /// The offset of the first record.
    pub fn base_offset(&self) -> i64 {
        be_i64(self.bytes, 0)
    }
    /// The length field: the batch size minus 12.
    pub fn batch_length(&self) -> i32 {
        be_i32(self.bytes, 8)
    }
    /// The whole batch size in bytes (12 + `batch_length`).
    pub fn size_in_bytes(&self) -> usize {
        LOG_OVERHEAD + self.batch_length() as usize
    }
    /// The partition leader epoch (-1 if none).
    pub fn partition_leader_epoch(&self) -> i32 {
        be_i32(self.bytes, 12)
    }
    /// The magic byte (always 2 here).
    pub fn magic(&self) -> i8 {
        self.bytes[MAGIC_OFFSET] as i8
    }
    /// The stored CRC.
    pub fn crc(&self) -> u32 {
        be_i32(self.bytes, 17) as u32
    }
    /// The raw attributes.
    pub fn attributes(&self) -> i16 {
        be_i16(self.bytes, 21)
    }
    /// The compression codec.
    pub fn compression(&self) -> Result<Compression, BatchError> {
        Compression::from_id((self.attributes() & ATTR_COMPRESSION_MASK) as u8)
    }
    /// True if the timestamps are the broker's append time.
    pub fn is_log_append_time(&self) -> bool {
        self.attributes() & ATTR_LOG_APPEND_TIME != 0
    }
    /// True for transactional batches.
    pub fn is_transactional(&self) -> bool {
        self.attributes() & ATTR_TRANSACTIONAL != 0
    }
    /// True for control batches (transaction markers).
    pub fn is_control(&self) -> bool {
        self.attributes() & ATTR_CONTROL != 0
    }
    /// The last offset minus the base offset.
    pub fn last_offset_delta(&self) -> i32 {
        be_i32(self.bytes, 23)
    }
    /// The offset of the last record.
    pub fn last_offset(&self) -> i64 {
        // Saturating: the header comes from the network, and a base offset near i64::MAX must not overflow.
        self.base_offset().saturating_add(i64::from(self.last_offset_delta()))
    }
    /// The first record's timestamp.
    pub fn base_timestamp(&self) -> i64 {
        be_i64(self.bytes, 27)
    }
    /// The largest timestamp in the batch.
    pub fn max_timestamp(&self) -> i64 {
        be_i64(self.bytes, 35)
    }
    /// The producer id (-1 if none).
    pub fn producer_id(&self) -> i64 {
        be_i64(self.bytes, 43)
    }
    /// The producer epoch (-1 if none).
    pub fn producer_epoch(&self) -> i16 {
        be_i16(self.bytes, 51)
    }
    /// The sequence of the first record (-1 if none).
    pub fn base_sequence(&self) -> i32 {
        be_i32(self.bytes, 53)
    }
    /// The number of records (never compressed).
    pub fn records_count(&self) -> i32 {
        be_i32(self.bytes, 57)
    }
}

/// Writes `offset` into the base-offset field of the batch at the start of `batch` (not CRC-covered).
/// Does nothing if `batch` is shorter than a header.
pub fn set_base_offset(batch: &mut [u8], offset: i64) {
    if batch.len() >= BATCH_HEADER_SIZE {
        batch[0..8].copy_from_slice(&offset.to_be_bytes());
    }
}

/// Writes `epoch` into the partition-leader-epoch field of the batch at the start of `batch`
/// (not CRC-covered). Does nothing if `batch` is shorter than a header.
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) {
    if batch.len() >= BATCH_HEADER_SIZE {
        batch[12..16].copy_from_slice(&epoch.to_be_bytes());
    }
}

/// The CRC-32C Kafka stores in a batch: over bytes 21..end.
pub fn batch_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(batch.get(CRC_START..).unwrap_or(&[]))
}

/// A whole v2 record batch.
#[derive(Debug, Clone, Copy)]
pub struct RecordBatch<'a> {
    // INVARIANT: exactly one batch: the header parses and bytes.len() == header.size_in_bytes().
    bytes: &'a [u8],
}

impl<'a> RecordBatch<'a> {
    /// Reads the batch at the start of `buf`; returns it and its size. Does not check the CRC.
    pub fn parse(buf: &'a [u8]) -> Result<(Self, usize), BatchError> {
        let header = BatchHeader::parse(buf)?;
        let size = header.size_in_bytes();
        if buf.len() < size {
            return Err(BatchError::Truncated {
                needed: size,
                available: buf.len(),
            });
        }
        Ok((RecordBatch { bytes: &buf[..size] }, size))
    }

    /// The header.
    pub fn header(&self) -> BatchHeader<'a> {
        BatchHeader {
            bytes: &self.bytes[..BATCH_HEADER_SIZE],
        }
    }

    /// The batch's bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Checks the stored CRC against the CRC-32C of bytes 21..end.
    pub fn verify_crc(&self) -> Result<(), BatchError> {
        let stored = self.header().crc();
        let computed = batch_crc(self.bytes);
        if stored == computed {
            Ok(())
        } else {
            Err(BatchError::CrcMismatch { stored, computed })
        }
    }

    /// Decompresses (if needed) and returns an iterator over the records.
    /// Not for the broker's hot path: it copies and decompresses.
    pub fn records(&self) -> Result<RecordIter, BatchError> {
        let header = self.header();
        let codec = header.compression()?;
        let raw = &self.bytes[BATCH_HEADER_SIZE..];
        let data = codec.decompress(raw, MAX_DECOMPRESSED_SIZE)?;
        Ok(RecordIter {
            data,
            pos: 0,
            index: 0,
            expected: header.records_count().max(0) as usize,
        })
    }
}

/// Iterates over the v2 batches in a buffer of concatenated batches (a fetch response's records).
/// Stops at the end, or at a trailing partial batch (which a fetch response may legally end with);
/// [`Batches::remainder`] tells how many bytes were left.
#[derive(Debug, Clone)]
pub struct Batches<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> Batches<'a> {
    /// Batches over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Batches {
            buf,
            pos: 0,
            failed: false,
        }
    }

    /// Bytes not consumed as whole batches.
    pub fn remainder(&self) -> usize {
        self.buf.len() - self.pos
    }
}

impl<'a> Iterator for Batches<'a> {
    type Item = Result<RecordBatch<'a>, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        match RecordBatch::parse(&self.buf[self.pos..]) {
            Ok((batch, size)) => {
                self.pos += size;
                Some(Ok(batch))
            }
            Err(BatchError::Truncated { .. }) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// A record header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The header key (UTF-8 in Kafka's clients; kept as bytes).
    pub key: Bytes,
    /// The value, or null.
    pub value: Option<Bytes>,
}

/// A record inside a batch, with offsets and timestamps relative to the batch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// The record attributes (unused by Kafka, 0).
    pub attributes: i8,
    /// Timestamp minus the batch's base timestamp.
    pub timestamp_delta: i64,
    /// Offset minus the batch's base offset.
    pub offset_delta: i32,
    /// The key, or null.
    pub key: Option<Bytes>,
    /// The value, or null (a tombstone).
    pub value: Option<Bytes>,
    /// The headers.
    pub headers: Vec<Header>,
}

/// The records of one batch, decoded one at a time.
#[derive(Debug)]
pub struct RecordIter {
    data: Bytes,
    pos: usize,
    index: usize,
    expected: usize,
}

impl Iterator for RecordIter {
    type Item = Result<Record, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.index == self.expected {
            if self.pos != self.data.len() {
                self.index += 1;
                return Some(Err(BatchError::InvalidRecord {
                    index: self.expected,
                    reason: format!(
                        "{} bytes after the last of {} records",
                        self.data.len() - self.pos,
                        self.expected
                    ),
                }));
            }
            return None;
        }
        if self.index > self.expected {
            return None;
        }
        let index = self.index;
        self.index += 1;
        let result =
            read_record(&self.data, &mut self.pos).map_err(|reason| BatchError::InvalidRecord { index, reason });
        if result.is_err() {
            self.index = self.expected + 1;
        }
        Some(result)
    }
}

fn read_record(data: &Bytes, pos: &mut usize) -> Result<Record, String> {
    use crate::wire::Reader;
    let mut r = Reader::new(data);
    r.take(*pos).map_err(|e| e.to_string())?;
    let err = |e: crate::Error| match e {
        crate::Error::Incomplete { needed, .. } => format!("truncated: {needed} more bytes needed"),
        other => other.to_string(),
    };
    let length = r.varint().map_err(err)?;
    if length < 0 {
        return Err(format!("negative record length {length}"));
    }
    let start = r.position();
    let end = start + length as usize;
    if end > data.len() {
        return Err(format!("record length {length} runs past the end of the batch"));
    }
    let attributes = r.i8().map_err(err)?;
    let timestamp_delta = r.varlong().map_err(err)?;
    let offset_delta = r.varint().map_err(err)?;
    let key = read_varint_bytes(&mut r).map_err(err)?;
    let value = read_varint_bytes(&mut r).map_err(err)?;
    let count = r.varint().map_err(err)?;
    if count < 0 {
        return Err(format!("negative header count {count}"));
    }
    let mut headers = Vec::with_capacity((count as usize).min(64));
    for _ in 0..count {
        let key = read_varint_bytes(&mut r).map_err(err)?.ok_or("null header key")?;
        let value = read_varint_bytes(&mut r).map_err(err)?;
        headers.push(Header { key, value });
    }
    if r.position() != end {
        return Err(format!(
            "record length {length} does not match its content ({} bytes)",
            r.position() - start
        ));
    }
    *pos = end;
    Ok(Record {
        attributes,
        timestamp_delta,
        offset_delta,
        key,
        value,
        headers,
    })
}

fn read_varint_bytes(r: &mut crate::wire::Reader<'_>) -> crate::Result<Option<Bytes>> {
    let at = r.position();
    match r.varint()? {
        -1 => Ok(None),
        n if n < 0 => Err(crate::Error::malformed(format!("negative length {n}"), at)),
        n => r.take_bytes(n as usize).map(Some),
    }
}
