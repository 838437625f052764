//! Fuzz target `decode`: a byte stream as a client would send it, through framing, request decoding,
//! re-encoding, and (for Produce) record batch parsing and decompression.
//!
//! The input is a stream of size-prefixed frames.
//! [`protocol::FrameCodec`] splits it (stopping at the first framing error or incomplete frame),
//! every frame goes through [`protocol::Request::decode`], and every request that decodes must re-encode
//! to a frame whose size prefix matches its length and which decodes back to an equal request.
//! The records of every Produce partition are walked with [`protocol::record::Batches`]:
//! CRC check, decompression and every record.
//! Nothing may panic; decoding errors are expected and ignored.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use protocol::record::Batches;
use protocol::{FrameCodec, Records, Request, RequestBody};
use tokio_util::codec::Decoder;

/// Frames above this are a framing error, as they would be for a broker with a 1 MiB limit.
const MAX_FRAME_SIZE: usize = 1024 * 1024;

fuzz_target!(|data: &[u8]| {
    let mut codec = FrameCodec::new(MAX_FRAME_SIZE);
    let mut stream = BytesMut::from(data);
    // Each successful call consumes at least the 4-byte prefix, so the loop ends.
    while let Ok(Some(frame)) = codec.decode(&mut stream) {
        let Ok(request) = Request::decode(frame.freeze()) else {
            continue;
        };
        check_round_trip(&request);
        if let RequestBody::Produce(produce) = &request.body {
            for topic in &produce.topic_data {
                for partition in &topic.partition_data {
                    if let Some(Records::Inline(records)) = &partition.records {
                        walk_records(records);
                    }
                }
            }
        }
    }
});

/// Decode → encode → decode must be stable, and a decoded request must always be encodable.
fn check_round_trip(request: &Request) {
    let mut encoded = BytesMut::new();
    if let Err(e) = request.encode(&mut encoded) {
        panic!("a decoded request does not encode: {e}\nrequest: {request:?}");
    }
    assert!(encoded.len() >= 4, "an encoded frame has no size prefix");
    let prefix = i32::from_be_bytes([encoded[0], encoded[1], encoded[2], encoded[3]]);
    assert_eq!(
        usize::try_from(prefix).ok(),
        Some(encoded.len() - 4),
        "the size prefix does not match the encoded frame"
    );
    let frame = encoded.freeze().slice(4..);
    match Request::decode(frame.clone()) {
        Ok(again) => assert_eq!(&again, request, "decode → encode → decode changed the request"),
        Err(e) => panic!("a re-encoded request does not decode: {e}\nrequest: {request:?}\nframe: {frame:02x?}"),
    }
}

/// Parses every batch, checks its CRC, and decompresses and decodes all of its records.
fn walk_records(records: &[u8]) {
    for batch in Batches::new(records) {
        let Ok(batch) = batch else {
            break;
        };
        let _ = batch.verify_crc();
        let Ok(iter) = batch.records() else {
            continue;
        };
        for record in iter {
            if record.is_err() {
                break;
            }
        }
    }
}
