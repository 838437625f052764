//! Malformed input gets a precise error and never a panic: hand-made invalid frames
//! (`protocol/test_data/invalid/`), framing errors, truncation of every captured frame at every byte,
//! and corrupt record batches.

use bytes::{Bytes, BytesMut};
use protocol::record::{set_base_offset, set_partition_leader_epoch, BatchError, Batches, RecordBatch};
use protocol::{Error, FrameCodec, Records, Request, RequestBody};
use tokio_util::codec::Decoder;

#[test]
fn invalid_frames_fail_with_their_error() {
    insta::glob!("../../test_data/invalid", "*.bin", |path| {
        let frame = Bytes::from(std::fs::read(path).unwrap());
        let err = Request::decode(frame).expect_err("an invalid frame must not decode");
        insta::with_settings!({ prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(format!("{err}\n{err:?}"));
        });
    });
}

fn decode_stream(codec: &mut FrameCodec, bytes: &[u8]) -> Result<Option<BytesMut>, Error> {
    let mut buf = BytesMut::from(bytes);
    codec.decode(&mut buf)
}

#[test]
fn frame_sizes_are_checked_before_reading() {
    let mut codec = FrameCodec::new(1024);
    // Incomplete prefix or body: need more bytes, not an error.
    assert!(decode_stream(&mut codec, &[0, 0]).unwrap().is_none());
    assert!(decode_stream(&mut codec, &[0, 0, 0, 5, 1, 2]).unwrap().is_none());
    // A size of 0 is legal.
    assert_eq!(decode_stream(&mut codec, &[0, 0, 0, 0]).unwrap().unwrap().len(), 0);
    // Negative and oversized sizes are distinct errors, reported before any body arrives.
    let err = decode_stream(&mut codec, &[0xff, 0xff, 0xff, 0xfe]).unwrap_err();
    assert!(matches!(err, Error::NegativeFrameSize { size: -2 }), "{err:?}");
    let err = decode_stream(&mut codec, &1025i32.to_be_bytes()).unwrap_err();
    assert!(matches!(err, Error::FrameTooLarge { size: 1025, max: 1024 }), "{err:?}");
    // The default is Kafka's socket.request.max.bytes.
    let err = decode_stream(&mut FrameCodec::default(), &(100 * 1024 * 1024 + 1i32).to_be_bytes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "frame size 104857601 exceeds the maximum of 104857600 bytes"
    );
}

#[test]
fn frames_are_split_from_a_stream() {
    let mut codec = FrameCodec::default();
    let mut buf = BytesMut::new();
    for frame in [&b"abc"[..], b"", b"defgh"] {
        protocol::put_frame(&mut buf, frame).unwrap();
    }
    let mut frames = Vec::new();
    while let Some(f) = codec.decode(&mut buf).unwrap() {
        frames.push(f);
    }
    assert_eq!(frames, [&b"abc"[..], b"", b"defgh"]);
    assert!(buf.is_empty());
}

fn golden() -> Vec<(String, Bytes)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/test_data/valid");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                Bytes::from(std::fs::read(&p).unwrap()),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_captured_frame_truncated_anywhere_is_incomplete() {
    for (name, frame) in golden() {
        for cut in 0..frame.len() {
            match Request::decode(frame.slice(..cut)) {
                Err(e) if e.is_incomplete() => {}
                other => panic!(
                    "{name} cut at {cut}/{}: expected Incomplete, got {other:?}",
                    frame.len()
                ),
            }
        }
    }
}

/// The first record batch of a captured produce request, by file name.
fn produce_batch(name: &str) -> Vec<u8> {
    let frame = golden().into_iter().find(|(n, _)| n == name).unwrap().1;
    let Ok(Request {
        body: RequestBody::Produce(p),
        ..
    }) = Request::decode(frame)
    else {
        panic!("{name}")
    };
    let Some(Records::Inline(records)) = &p.topic_data[0].partition_data[0].records else {
        panic!("{name}")
    };
    records.to_vec()
}

#[test]
fn a_flipped_byte_breaks_the_crc() {
    for name in [
        "produce_v7_kcat_none.bin",
        "produce_v7_confluent_zstd.bin",
        "produce_v7_kafkapython_gzip.bin",
    ] {
        let batch = produce_batch(name);
        for at in [21, 40, 61, batch.len() - 1] {
            let mut bad = batch.clone();
            bad[at] ^= 0x20;
            let (b, _) = RecordBatch::parse(&bad).unwrap();
            let err = b.verify_crc().unwrap_err();
            assert!(
                matches!(err, BatchError::CrcMismatch { .. }),
                "{name} byte {at}: {err:?}"
            );
            assert_eq!(err.error_code(), protocol::ErrorCode::CorruptMessage);
        }
    }
}

#[test]
fn offsets_and_epochs_are_patched_without_touching_the_crc() {
    let mut batch = produce_batch("produce_v7_confluent_snappy.bin");
    set_base_offset(&mut batch, 1_234_567);
    set_partition_leader_epoch(&mut batch, 42);
    let (b, _) = RecordBatch::parse(&batch).unwrap();
    b.verify_crc().unwrap();
    assert_eq!(b.header().base_offset(), 1_234_567);
    assert_eq!(b.header().partition_leader_epoch(), 42);
    assert_eq!(
        b.header().last_offset(),
        1_234_567 + i64::from(b.header().last_offset_delta())
    );
}

#[test]
fn truncated_and_legacy_batches_are_rejected() {
    let batch = produce_batch("produce_v7_kcat_lz4.bin");
    for cut in 0..batch.len() {
        let err = RecordBatch::parse(&batch[..cut]).unwrap_err();
        assert!(matches!(err, BatchError::Truncated { .. }), "cut {cut}: {err:?}");
    }
    // A trailing partial batch ends iteration, as a fetch response may legally end with one.
    let mut two = batch.clone();
    two.extend_from_slice(&batch[..30]);
    let mut it = Batches::new(&two);
    assert!(it.next().unwrap().is_ok());
    assert!(it.next().is_none());
    assert_eq!(it.remainder(), 30);

    // Magic 0 and 1 are Kafka's legacy formats.
    for magic in [0u8, 1] {
        let mut legacy = batch.clone();
        legacy[16] = magic;
        let err = RecordBatch::parse(&legacy).unwrap_err();
        assert_eq!(err, BatchError::UnsupportedMagic { magic: magic as i8 });
        assert!(err.to_string().contains("legacy"), "{err}");
    }
    // A length field too small for a header.
    let mut short = batch.clone();
    short[8..12].copy_from_slice(&10i32.to_be_bytes());
    assert_eq!(
        RecordBatch::parse(&short).unwrap_err(),
        BatchError::InvalidLength { length: 10 }
    );
}

#[test]
fn corrupt_compressed_payloads_and_records_are_errors() {
    for name in [
        "produce_v7_kcat_gzip.bin",
        "produce_v7_kcat_snappy.bin",
        "produce_v7_kafkapython_snappy.bin",
        "produce_v7_kcat_lz4.bin",
        "produce_v7_kcat_zstd.bin",
        "produce_v7_kcat_none.bin",
    ] {
        let batch = produce_batch(name);
        // Overwrite the payload's middle; decoding must fail cleanly (or yield wrong-but-valid records).
        for at in [61, 64, 70, batch.len() / 2 + 30, batch.len() - 3] {
            let mut bad = batch.clone();
            for b in bad.iter_mut().skip(at).take(4) {
                *b = !*b;
            }
            let (b, _) = RecordBatch::parse(&bad).unwrap();
            if let Ok(records) = b.records() {
                let _ = records.count();
            }
        }
    }
    // An unknown codec id.
    let mut batch = produce_batch("produce_v7_kcat_none.bin");
    batch[22] |= 0x07;
    let (b, _) = RecordBatch::parse(&batch).unwrap();
    assert_eq!(b.records().unwrap_err(), BatchError::UnknownCompression { codec: 7 });
    // A record count larger than the records present.
    let mut batch = produce_batch("produce_v7_kcat_none.bin");
    let count = i32::from_be_bytes(batch[57..61].try_into().unwrap());
    batch[57..61].copy_from_slice(&(count + 1).to_be_bytes());
    let (b, _) = RecordBatch::parse(&batch).unwrap();
    let last = b.records().unwrap().last().unwrap();
    assert!(matches!(last, Err(BatchError::InvalidRecord { .. })), "{last:?}");
}
