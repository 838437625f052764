//! Black-box tests of the storage crate.

mod behavior;
mod corruption;
mod crash;
mod descriptors;
mod disk_full;
mod epochs;
mod manager;
mod model;

use bytes::Bytes;
use protocol::record::{BatchBuilder, Compression, Record};

/// A producer batch of `records` records with `value_size`-byte values, tagged with `seed` so that batches
/// differ.
pub fn batch(seed: u64, records: usize, value_size: usize) -> Bytes {
    batch_at(seed, records, value_size, 1_700_000_000_000 + seed as i64)
}

/// Like [`batch`] with a chosen base timestamp (record `i` is `i` ms later).
pub fn batch_at(seed: u64, records: usize, value_size: usize, timestamp: i64) -> Bytes {
    let mut b = BatchBuilder::new(Compression::None, timestamp);
    for i in 0..records {
        let fill = (seed as u8).wrapping_add(i as u8);
        b.push(Record {
            key: Some(Bytes::from(format!("k{seed:06}-{i:03}"))),
            value: Some(Bytes::from(vec![fill; value_size])),
            timestamp_delta: i as i64,
            ..Record::default()
        });
    }
    b.build().unwrap()
}

/// The bytes of a slice, read back from its file (tests only: the broker never does this).
pub fn slice_bytes(slice: &storage::Slice) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; slice.len() as usize];
    slice.file.read_exact_at(&mut buf, slice.range.start).unwrap();
    buf
}
