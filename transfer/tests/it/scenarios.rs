//! The same responses through sendfile, copy and TLS: the receiving side must see identical bytes.

use std::time::Duration;

use crate::support::{bytes, check, pattern_file, region, sparse_file, Opts, Writer};
use transfer::Chunk;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

/// Bytes and regions of two files interleaved, adjacent regions, regions that end at the end of the file,
/// byte pieces larger than any buffer, and many small responses in a row.
fn mixed() -> Vec<Vec<Chunk>> {
    let a = pattern_file(1, 3 * MIB);
    let b = pattern_file(2, 100 * KIB);
    let big = vec![0xAB; 300 * KIB as usize];
    let mut responses = vec![
        vec![
            bytes(b"hdr1"),
            region(&a, 0..1000),
            bytes(b"middle"),
            region(&b, 10..20),
            bytes(b""),
            region(&a, 5000..5000),
            region(&a, 2 * MIB..3 * MIB),
            bytes(b"tail"),
        ],
        vec![],
        vec![region(&a, 0..0)],
        vec![bytes(b"x")],
        vec![region(&b, 0..100 * KIB)],
        vec![region(&a, 100..200), region(&a, 200..300), region(&b, 50_000..50_001)],
        vec![bytes(&big), region(&a, 1..MIB + 1), bytes(&big)],
    ];
    for i in 0..20u64 {
        responses.push(vec![
            bytes(&i.to_be_bytes()),
            region(&a, i * 4096..(i + 1) * 4096),
            bytes(b"end"),
        ]);
    }
    responses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_pieces() {
    check(mixed(), Opts::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_pieces_through_the_queue() {
    check(
        mixed(),
        Opts {
            writer: Writer::Queued,
            ..Opts::default()
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_length_pieces() {
    let a = pattern_file(3, 64 * KIB);
    let responses = vec![
        vec![],
        vec![bytes(b"")],
        vec![region(&a, 0..0), region(&a, 64 * KIB..64 * KIB)],
        // A zero-length region is never read, even past the end of the file.
        vec![region(&a, 10 * MIB..10 * MIB)],
        vec![region(&a, 7..7), bytes(b"between"), region(&a, 9..9)],
        vec![bytes(b""), region(&a, 1..2), bytes(b""), region(&a, 3..3)],
        vec![],
    ];
    let outcomes = check(responses, Opts::default()).await;
    assert_eq!(outcomes[0].client.len, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regions_above_4_gib() {
    // Sparse: only 2 MiB are written, around the 4 GiB boundary; the rest of the 4 GiB + 8 MiB reads as zeros.
    let data_at = 4 * GIB - MIB;
    let file = sparse_file(4 * GIB + 8 * MIB, data_at, 2 * MIB as usize);
    let responses = vec![
        vec![bytes(b"across"), region(&file, 4 * GIB - 1000..4 * GIB + 1000)],
        vec![region(&file, 4 * GIB..4 * GIB + MIB), bytes(b"hole next")],
        vec![region(&file, 4 * GIB + 5 * MIB..4 * GIB + 6 * MIB)],
        vec![region(&file, 4 * GIB + 8 * MIB - 10..4 * GIB + 8 * MIB)],
    ];
    check(responses, Opts::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gib_region() {
    let file = pattern_file(4, GIB);
    let responses = vec![vec![bytes(b"header"), region(&file, 0..GIB), bytes(b"trailer")]];
    check(responses, Opts::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiny_receive_buffer_and_slow_reader() {
    let a = pattern_file(5, MIB);
    let b = pattern_file(6, 200 * KIB);
    let responses = vec![
        vec![
            bytes(&[1; 100]),
            region(&a, 0..MIB),
            bytes(b"seven b"),
            region(&b, 0..200 * KIB),
        ],
        vec![bytes(b"second"), region(&a, 12_345..112_345)],
    ];
    let opts = Opts {
        client_rcvbuf: Some(4096),
        server_sndbuf: Some(4096),
        read_size: 1000,
        pause: Some((16, Duration::from_millis(1))),
        ..Opts::default()
    };
    for outcome in check(responses, opts).await {
        assert!(
            outcome.counters.write_waits > 0,
            "the sender never had to wait: {:?}",
            outcome.counters
        );
    }
}

#[derive(Debug, Clone)]
enum Piece {
    Bytes(usize),
    Region { file: usize, start: u64, len: u64 },
}

const FILE_LENS: [u64; 2] = [300 * KIB, 2 * MIB];

fn piece() -> impl proptest::strategy::Strategy<Value = Piece> {
    use proptest::prelude::*;
    prop_oneof![
        (0usize..70_000).prop_map(Piece::Bytes),
        (0usize..2, 0u64..300 * KIB, 0u64..300 * KIB).prop_map(|(file, start, len)| Piece::Region { file, start, len }),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]

    /// Random responses (bytes of any size, regions anywhere in two files, empty pieces) come out identical
    /// through sendfile, copy and TLS.
    #[test]
    fn random_responses_are_identical_in_every_mode(
        responses in proptest::collection::vec(proptest::collection::vec(piece(), 0..6), 1..6),
    ) {
        static FILES: std::sync::OnceLock<[std::sync::Arc<std::fs::File>; 2]> = std::sync::OnceLock::new();
        let files = FILES.get_or_init(|| [pattern_file(40, FILE_LENS[0]), pattern_file(41, FILE_LENS[1])]);
        let responses: Vec<Vec<Chunk>> = responses
            .iter()
            .map(|pieces| {
                pieces
                    .iter()
                    .map(|p| match *p {
                        Piece::Bytes(n) => bytes(&vec![n as u8; n]),
                        Piece::Region { file, start, len } => {
                            let start = start.min(FILE_LENS[file]);
                            region(&files[file], start..(start + len).min(FILE_LENS[file]))
                        }
                    })
                    .collect()
            })
            .collect();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(check(responses, Opts::default()));
    }
}
