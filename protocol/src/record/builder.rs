//! Building v2 record batches, as a producer does (used by the CLI and by tests).

use bytes::{BufMut, Bytes, BytesMut};

use super::{BatchError, Compression, Record, BATCH_HEADER_SIZE, CRC_START, LOG_OVERHEAD, MAGIC_V2};
use crate::wire::{varint_size, varlong_size, Writer};

/// Builds one record batch. Offsets start at 0 (the broker assigns real ones);
/// each record's offset delta is its position, and timestamps are relative to `base_timestamp`.
#[derive(Debug, Clone)]
pub struct BatchBuilder {
    /// The codec for the records.
    pub compression: Compression,
    /// The first record's timestamp (ms since the epoch).
    pub base_timestamp: i64,
    /// The producer id, -1 for none.
    pub producer_id: i64,
    /// The producer epoch, -1 for none.
    pub producer_epoch: i16,
    /// The first sequence number, -1 for none.
    pub base_sequence: i32,
    /// Marks the batch transactional.
    pub transactional: bool,
    records: Vec<Record>,
}

impl BatchBuilder {
    /// An empty builder with no producer id.
    pub fn new(compression: Compression, base_timestamp: i64) -> Self {
        BatchBuilder {
            compression,
            base_timestamp,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            transactional: false,
            records: Vec::new(),
        }
    }

    /// Adds a record; its offset delta is set to its position in the batch.
    pub fn push(&mut self, mut record: Record) -> &mut Self {
        record.offset_delta = self.records.len() as i32;
        self.records.push(record);
        self
    }

    /// The number of records so far.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when no record was added.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Encodes the batch with its CRC.
    pub fn build(&self) -> Result<Bytes, BatchError> {
        let mut w = Writer::new(BytesMut::new());
        for r in &self.records {
            write_record(&mut w, r);
        }
        let raw = w.into_bytes_mut();
        let payload = self.compression.compress(&raw)?;
        let max_delta = self.records.iter().map(|r| r.timestamp_delta).max().unwrap_or(0);
        let mut attributes = i16::from(self.compression.id());
        if self.transactional {
            attributes |= 0x10;
        }
        let count = self.records.len() as i32;
        let mut b = BytesMut::with_capacity(BATCH_HEADER_SIZE + payload.len());
        b.put_i64(0);
        b.put_i32((BATCH_HEADER_SIZE - LOG_OVERHEAD + payload.len()) as i32);
        b.put_i32(-1);
        b.put_i8(MAGIC_V2);
        b.put_u32(0); // CRC, filled in below.
        b.put_i16(attributes);
        b.put_i32((count - 1).max(0));
        b.put_i64(if count == 0 { -1 } else { self.base_timestamp });
        b.put_i64(if count == 0 {
            -1
        } else {
            self.base_timestamp + max_delta
        });
        b.put_i64(self.producer_id);
        b.put_i16(self.producer_epoch);
        b.put_i32(self.base_sequence);
        b.put_i32(count);
        b.put_slice(&payload);
        let crc = crc32c::crc32c(&b[CRC_START..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        Ok(b.freeze())
    }
}

fn bytes_size(b: &Option<Bytes>) -> usize {
    match b {
        Some(b) => varint_size(b.len() as i32) + b.len(),
        None => varint_size(-1),
    }
}

fn write_bytes(w: &mut Writer, b: &Option<Bytes>) {
    match b {
        Some(b) => {
            w.varint(b.len() as i32);
            w.put(b);
        }
        None => w.varint(-1),
    }
}

fn write_record(w: &mut Writer, r: &Record) {
    let headers: usize = r
        .headers
        .iter()
        .map(|h| varint_size(h.key.len() as i32) + h.key.len() + bytes_size(&h.value))
        .sum();
    let body = 1
        + varlong_size(r.timestamp_delta)
        + varint_size(r.offset_delta)
        + bytes_size(&r.key)
        + bytes_size(&r.value)
        + varint_size(r.headers.len() as i32)
        + headers;
    w.varint(body as i32);
    w.i8(r.attributes);
    w.varlong(r.timestamp_delta);
    w.varint(r.offset_delta);
    write_bytes(w, &r.key);
    write_bytes(w, &r.value);
    w.varint(r.headers.len() as i32);
    for h in &r.headers {
        w.varint(h.key.len() as i32);
        w.put(&h.key);
        write_bytes(w, &h.value);
    }
}
