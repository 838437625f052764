//! Decodes every request frame captured from real clients (kcat, confluent-kafka, kafka-python) in
//! `protocol/test_data/valid/`.
//!
//! For each file, in order: the file name's api and version match the header; re-encoding the decoded
//! request gives back exactly the captured bytes; every record batch in a produce request has a valid CRC
//! and decodes (all codecs); then the decoded request and its records are snapshotted.

use std::fmt::Write as _;
use std::path::Path;

use bytes::{Bytes, BytesMut};
use protocol::record::Batches;
use protocol::{Records, Request, RequestBody};

fn api_and_version(path: &Path) -> (String, i16) {
    let stem = path.file_stem().unwrap().to_str().unwrap();
    // File names are <api>_v<N>_<client>_<case>.bin, and <api> may itself contain "_v" (api_versions).
    let at = (0..stem.len())
        .find(|&i| stem[i..].starts_with("_v") && stem[i + 2..].starts_with(|c: char| c.is_ascii_digit()))
        .expect("a _v<N> part");
    let version = stem[at + 2..]
        .split('_')
        .next()
        .unwrap()
        .parse()
        .expect("a version number");
    (stem[..at].to_string(), version)
}

/// Decodes every batch of a RECORDS field into a readable listing, checking CRCs on the way.
fn describe_records(records: &Bytes, out: &mut String) {
    let mut batches = Batches::new(records);
    for batch in batches.by_ref() {
        let batch = batch.expect("a valid batch header");
        batch.verify_crc().expect("a valid CRC");
        let h = batch.header();
        let codec = h.compression().unwrap();
        writeln!(
            out,
            "batch: {} bytes, codec {codec}, {} records, producer id {} epoch {} seq {}, leader epoch {}",
            h.size_in_bytes(),
            h.records_count(),
            h.producer_id(),
            h.producer_epoch(),
            h.base_sequence(),
            h.partition_leader_epoch()
        )
        .unwrap();
        assert_eq!(h.base_offset(), 0, "clients send base offset 0");
        let records: Vec<_> = batch
            .records()
            .unwrap()
            .collect::<Result<_, _>>()
            .expect("records decode");
        assert_eq!(records.len() as i32, h.records_count());
        assert_eq!(h.last_offset_delta(), h.records_count() - 1);
        for r in records {
            let show = |b: &Option<Bytes>| match b {
                None => "null".to_string(),
                Some(b) if b.len() > 24 => format!("{:?}… ({} bytes)", String::from_utf8_lossy(&b[..24]), b.len()),
                Some(b) => format!("{:?}", String::from_utf8_lossy(b)),
            };
            let headers: Vec<String> = r
                .headers
                .iter()
                .map(|h| format!("{}={}", String::from_utf8_lossy(&h.key), show(&h.value)))
                .collect();
            writeln!(
                out,
                "  record +{}: key {} value {} headers [{}]",
                r.offset_delta,
                show(&r.key),
                show(&r.value),
                headers.join(", ")
            )
            .unwrap();
        }
    }
    assert_eq!(batches.remainder(), 0, "a produce request carries whole batches");
}

#[test]
fn captured_client_requests_decode() {
    let mut count = 0;
    insta::glob!("../../test_data/valid", "*.bin", |path| {
        count += 1;
        let frame = Bytes::from(std::fs::read(path).unwrap());
        let request = Request::decode(frame.clone()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));

        // 1. Invariants: the name matches, and encoding gives back the captured bytes.
        let (api, version) = api_and_version(path);
        assert_eq!(request.header.api_key.snake_name(), api, "{}", path.display());
        assert_eq!(request.header.api_version, version);
        let mut again = BytesMut::new();
        request.encode(&mut again).unwrap();
        assert_eq!(&again[4..], &frame[..], "{}: re-encoding differs", path.display());
        assert_eq!(i32::from_be_bytes(again[..4].try_into().unwrap()) as usize, frame.len());

        // 2. Records.
        let mut records = String::new();
        if let RequestBody::Produce(p) = &request.body {
            for topic in &p.topic_data {
                for partition in &topic.partition_data {
                    writeln!(records, "{}-{}:", topic.name, partition.index).unwrap();
                    match &partition.records {
                        Some(Records::Inline(b)) => describe_records(b, &mut records),
                        other => panic!("unexpected records {other:?}"),
                    }
                }
            }
        }

        // 3. The decoded value.
        insta::with_settings!({ prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(format!("{records}{request:#?}"));
        });
    });
    assert!(count >= 100, "expected the captured fixtures, found {count}");
}

/// librdkafka 2.x asks Metadata v9+ for all topics with a 4-byte placeholder where the 1-byte null topic
/// array belongs (`rd_kafka_buf_write_arraycnt_pos` is never finalized on that path), so 3 bytes follow
/// the body. Kafka ignores bytes after a request body, and so does the codec: this frame, captured from
/// confluent-kafka 2.16 with `strace`, decodes as Kafka reads it.
#[test]
fn librdkafkas_all_topics_metadata_request_decodes_as_kafka_reads_it() {
    let frame: &[u8] = &[
        0x00, 0x03, 0x00, 0x0d, 0x00, 0x00, 0x00, 0x03, 0x00, 0x07, b'r', b'd', b'k', b'a', b'f', b'k', b'a', 0x00,
        0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    ];
    let request = Request::decode(Bytes::from_static(frame)).unwrap();
    assert_eq!(request.header.api_version, 13);
    let RequestBody::Metadata(m) = request.body else {
        panic!("not a Metadata request")
    };
    // Null topics (all of them); the next two zero bytes are read as false, as Kafka reads them.
    assert_eq!(m.topics, None);
    assert!(!m.allow_auto_topic_creation && !m.include_topic_authorized_operations);
}
