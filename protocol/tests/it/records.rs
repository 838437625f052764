//! Record batches built by [`BatchBuilder`] decode back to the same records with every codec, and
//! match what real clients produce.

use bytes::Bytes;
use protocol::record::{BatchBuilder, Compression, Header, Record, RecordBatch};

fn sample_records() -> Vec<Record> {
    vec![
        Record {
            key: Some(Bytes::from_static(b"k1")),
            value: Some(Bytes::from_static(b"v1")),
            ..Record::default()
        },
        Record {
            key: None,
            value: Some(Bytes::from(vec![b'x'; 300])),
            timestamp_delta: 5,
            ..Record::default()
        },
        Record {
            key: Some(Bytes::from_static(b"tombstone")),
            value: None,
            timestamp_delta: 9,
            ..Record::default()
        },
        Record {
            key: Some(Bytes::from_static(b"h")),
            value: Some(Bytes::new()),
            headers: vec![
                Header {
                    key: Bytes::from_static(b"trace"),
                    value: Some(Bytes::from_static(b"abc")),
                },
                Header {
                    key: Bytes::from_static(b"empty"),
                    value: None,
                },
            ],
            ..Record::default()
        },
    ]
}

#[test]
fn built_batches_round_trip_with_every_codec() {
    for codec in Compression::ALL {
        let mut builder = BatchBuilder::new(codec, 1_700_000_000_000);
        builder.producer_id = 1000;
        builder.producer_epoch = 0;
        builder.base_sequence = 7;
        for r in sample_records() {
            builder.push(r);
        }
        let bytes = builder.build().unwrap();
        let (batch, size) = RecordBatch::parse(&bytes).unwrap();
        assert_eq!(size, bytes.len());
        batch.verify_crc().unwrap();
        let h = batch.header();
        assert_eq!(h.compression().unwrap(), codec);
        assert_eq!(h.records_count(), 4);
        assert_eq!(h.last_offset_delta(), 3);
        assert_eq!(h.base_timestamp(), 1_700_000_000_000);
        assert_eq!(h.max_timestamp(), 1_700_000_000_009);
        assert_eq!((h.producer_id(), h.producer_epoch(), h.base_sequence()), (1000, 0, 7));
        let decoded: Vec<Record> = batch.records().unwrap().collect::<Result<_, _>>().unwrap();
        let mut expected = sample_records();
        for (i, r) in expected.iter_mut().enumerate() {
            r.offset_delta = i as i32;
        }
        assert_eq!(decoded, expected, "{codec}");
    }
}

#[test]
fn snappy_accepts_xerial_framing_and_raw_blocks() {
    let data = b"hello hello hello hello kzero".repeat(10);
    let framed = Compression::Snappy.compress(&data).unwrap();
    assert_eq!(&framed[..8], b"\x82SNAPPY\x00");
    assert_eq!(Compression::Snappy.decompress(&framed, 1 << 20).unwrap(), &data[..]);
    let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
    assert_eq!(Compression::Snappy.decompress(&raw, 1 << 20).unwrap(), &data[..]);
}

#[test]
fn decompression_is_bounded() {
    let data = vec![0u8; 1 << 20];
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let packed = codec.compress(&data).unwrap();
        let err = codec.decompress(&packed, 1000).unwrap_err();
        assert!(err.to_string().contains("exceeds 1000 bytes"), "{codec}: {err}");
        assert_eq!(codec.decompress(&packed, 1 << 20).unwrap().len(), 1 << 20);
    }
}

#[test]
fn snappy_blocks_claiming_impossible_sizes_are_refused_before_allocating() {
    // A 9-byte block whose header claims 200 MiB (found by the fuzzer: it used to allocate it all).
    let mut block = Vec::new();
    let mut n: u32 = 200 << 20;
    while n >= 0x80 {
        block.push((n as u8) | 0x80);
        n >>= 7;
    }
    block.push(n as u8);
    block.extend_from_slice(&[0, 1, 2, 3, 4]);
    let err = Compression::Snappy.decompress(&block, 256 << 20).unwrap_err();
    assert!(err.to_string().contains("claims"), "{err}");
}
