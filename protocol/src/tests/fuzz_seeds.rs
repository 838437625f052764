//! Seeds for the `decode` fuzz target (`protocol/fuzz`): one size-prefixed request frame per implemented
//! (api, version), so that the fuzzer starts from every version and not only from the old ones the client
//! captures in `test_data/valid/` use.
//!
//! The frames are built with the property tests' generator and always checked: they must split with
//! [`FrameCodec`], decode to the same request and fit in libFuzzer's default `-max_len` of 4096 bytes.
//! With `KZERO_WRITE_FUZZ_SEEDS=<dir>` set, the test also writes each frame to `<dir>/<api>_v<version>_generated`;
//! `protocol/fuzz/seed-corpus.sh` runs it that way.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::Decoder;

use super::implemented;
use crate::api::random_request;
use crate::testing::Gen;
use crate::*;

/// libFuzzer's default `-max_len`; a larger seed would be truncated.
const MAX_SEED_LEN: usize = 4096;

/// The record batch of an uncompressed produce capture, so that generated Produce seeds carry real records.
fn captured_batch() -> Bytes {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/test_data/valid/produce_v7_kcat_none.bin");
    let frame = Bytes::from(std::fs::read(path).unwrap());
    let RequestBody::Produce(p) = Request::decode(frame).unwrap().body else {
        panic!("{path} is not a Produce request")
    };
    let Some(Records::Inline(records)) = &p.topic_data[0].partition_data[0].records else {
        panic!("{path} has no inline records")
    };
    records.clone()
}

/// The seed frame of one (api, version): of a few generated requests, the largest one that fits, so that
/// lists are rarely empty.
fn seed_frame(api: ApiKey, version: i16, batch: &Bytes) -> BytesMut {
    let mut best = BytesMut::new();
    for attempt in 0..8u64 {
        let mut g = Gen::new(0x5eed ^ ((api as u64) << 16) ^ ((version as u64) << 8) ^ attempt);
        let mut body = random_request(api, &mut g, api.cx(version));
        if let RequestBody::Produce(p) = &mut body {
            for partition in p.topic_data.iter_mut().flat_map(|t| &mut t.partition_data) {
                partition.records = Some(Records::Inline(batch.clone()));
            }
        }
        let request = Request {
            header: RequestHeader {
                client_id: Some("kzero-fuzz".into()),
                ..RequestHeader::new(api, version, attempt as i32)
            },
            body,
        };
        let mut frame = BytesMut::new();
        request.encode(&mut frame).unwrap();
        // The frame must be what the fuzz target accepts: one frame of the stream, decoding to the request.
        let mut stream = frame.clone();
        let split = FrameCodec::new(MAX_SEED_LEN).decode(&mut stream).unwrap().unwrap();
        assert!(stream.is_empty(), "{api:?} v{version}: the seed is more than one frame");
        assert_eq!(Request::decode(split.freeze()).unwrap(), request, "{api:?} v{version}");
        if frame.len() <= MAX_SEED_LEN && frame.len() > best.len() {
            best = frame;
        }
    }
    assert!(
        !best.is_empty(),
        "{api:?} v{version}: no generated request fits in {MAX_SEED_LEN} bytes"
    );
    best
}

#[test]
fn fuzz_seeds_cover_every_implemented_version() {
    let batch = captured_batch();
    let seeds: Vec<(String, BytesMut)> = implemented()
        .into_iter()
        .map(|(api, version)| {
            let name = format!("{}_v{version}_generated", api.snake_name());
            (name, seed_frame(api, version, &batch))
        })
        .collect();
    let expected: usize = API_TABLE
        .iter()
        .map(|a| (a.implemented.1 - a.implemented.0 + 1) as usize)
        .sum();
    assert_eq!(seeds.len(), expected);

    if let Some(dir) = std::env::var_os("KZERO_WRITE_FUZZ_SEEDS") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, frame) in &seeds {
            std::fs::write(dir.join(name), frame).unwrap();
        }
    }
}
