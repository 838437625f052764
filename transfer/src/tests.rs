//! Internal tests: chunks, errors, and the buffered copy path over an in-memory writer.

use std::fs::File;
use std::io::{self, Write};
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;

use crate::chunk::validate;
use crate::{Chunk, Config, Counters, Error, TlsTransportLayer, TransportLayer};

fn file_with(content: &[u8]) -> Arc<File> {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(content).unwrap();
    Arc::new(file)
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn chunk_lengths() {
    let file = file_with(b"0123456789");
    assert_eq!(Chunk::from(Bytes::from_static(b"abc")).len(), 3);
    assert_eq!(Chunk::file(file.clone(), 2..7).len(), 5);
    assert!(Chunk::file(file.clone(), 4..4).is_empty());
    assert_eq!(Chunk::from((file.clone(), 5..1u64 << 40)).len(), (1 << 40) - 5);
    assert_eq!(Chunk::file(file, Range { start: 9, end: 3 }).len(), 0);
    assert!(Chunk::from(Vec::new()).is_empty());
}

#[test]
fn validation_rejects_reversed_regions_before_anything_is_written() {
    let file = file_with(b"0123456789");
    assert_eq!(
        validate(&[Chunk::from(&b"ab"[..]), Chunk::file(file.clone(), 0..10)]).unwrap(),
        12
    );
    let err = validate(&[Chunk::from(&b"ab"[..]), Chunk::file(file, Range { start: 9, end: 3 })]).unwrap_err();
    assert!(matches!(err, Error::InvalidRange { range } if range == (Range { start: 9, end: 3 })));
}

#[test]
fn error_messages_and_kinds() {
    let reset = || io::Error::from(io::ErrorKind::ConnectionReset);
    let cases: Vec<(Error, &str, bool, io::ErrorKind)> = vec![
        (
            Error::Truncated {
                range: 10..20,
                end_of_file: 15,
            },
            "file region 10..20 is truncated: end of file reached at offset 15, 5 bytes into the region",
            false,
            io::ErrorKind::UnexpectedEof,
        ),
        (
            Error::SendFile {
                range: 0..4096,
                offset: 1024,
                source: reset(),
            },
            "sending file region 0..4096 at offset 1024 with sendfile failed: connection reset",
            true,
            io::ErrorKind::ConnectionReset,
        ),
        (
            Error::Write {
                source: io::Error::from(io::ErrorKind::BrokenPipe),
            },
            "writing to the connection failed: broken pipe",
            true,
            io::ErrorKind::BrokenPipe,
        ),
        (
            Error::ReadFile {
                range: 0..10,
                offset: 3,
                source: io::Error::from(io::ErrorKind::UnexpectedEof),
            },
            "reading file region 0..10 at offset 3 failed: unexpected end of file",
            false,
            io::ErrorKind::UnexpectedEof,
        ),
        (
            Error::SocketOption {
                option: "TCP_CORK",
                source: io::Error::from(io::ErrorKind::InvalidInput),
            },
            "setting socket option TCP_CORK failed: invalid input parameter",
            false,
            io::ErrorKind::InvalidInput,
        ),
        (
            Error::Closed,
            "the connection's response writer has stopped",
            false,
            io::ErrorKind::BrokenPipe,
        ),
    ];
    for (error, message, disconnect, kind) in cases {
        assert_eq!(error.to_string(), message);
        assert_eq!(error.is_peer_disconnect(), disconnect, "{error:?}");
        assert_eq!(io::Error::from(error).kind(), kind);
    }
}

#[derive(Debug, Clone)]
enum Piece {
    Bytes(usize),
    Region(Range<u64>),
}

fn piece(file_len: u64) -> impl Strategy<Value = Piece> {
    prop_oneof![
        (0usize..3000).prop_map(Piece::Bytes),
        (0..=file_len)
            .prop_flat_map(move |start| (Just(start), start..=file_len))
            .prop_map(|(s, e)| Piece::Region(s..e)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The buffered path (TLS and copy mode) writes exactly the pieces in order, whatever the buffer size.
    #[test]
    fn buffered_path_writes_pieces_in_order(
        buffer in 1usize..5000,
        responses in prop::collection::vec(prop::collection::vec(piece(20_000), 0..6), 1..5),
    ) {
        let content: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let file = file_with(&content);
        let mut expected = Vec::new();
        let mut total = 0u64;
        let responses: Vec<Vec<Chunk>> = responses
            .iter()
            .enumerate()
            .map(|(r, pieces)| {
                pieces
                    .iter()
                    .map(|p| match p {
                        Piece::Bytes(n) => {
                            let b: Vec<u8> = (0..*n).map(|i| (i + r) as u8 ^ 0x5a).collect();
                            expected.extend_from_slice(&b);
                            Chunk::from(b)
                        }
                        Piece::Region(range) => {
                            expected.extend_from_slice(&content[range.start as usize..range.end as usize]);
                            Chunk::file(file.clone(), range.clone())
                        }
                    })
                    .inspect(|c| total += c.len())
                    .collect()
            })
            .collect();
        let counters = Arc::new(Counters::new());
        let config = Config { tls_buffer_size: buffer, ..Config::default() };
        let mut transport = TlsTransportLayer::new(Vec::new(), &config, counters.clone());
        block_on(async {
            for (i, response) in responses.iter().enumerate() {
                if i % 2 == 0 {
                    transport.write_response(response).await.unwrap();
                } else {
                    transport.feed_response(response).await.unwrap();
                }
            }
            transport.flush().await.unwrap();
        });
        prop_assert_eq!(transport.get_ref(), &expected);
        prop_assert_eq!(counters.tls_bytes(), total);
        prop_assert_eq!(counters.responses(), responses.len() as u64);
    }
}

#[test]
fn buffered_path_holds_back_until_flushed() {
    let file = file_with(&[7; 100]);
    let counters = Arc::new(Counters::new());
    let config = Config {
        tls_buffer_size: 64,
        ..Config::default()
    };
    let mut transport = TlsTransportLayer::new(Vec::new(), &config, counters);
    block_on(async {
        transport
            .feed_response(&[Chunk::from(&b"head"[..]), Chunk::file(file.clone(), 0..10)])
            .await
            .unwrap();
        assert!(transport.get_ref().is_empty(), "a small response waits in the buffer");
        transport
            .feed_response(&[Chunk::file(file.clone(), 0..100)])
            .await
            .unwrap();
        assert_eq!(transport.get_ref().len(), 64, "a full buffer is written out");
        transport.flush().await.unwrap();
        assert_eq!(transport.get_ref().len(), 114);
    });
}

#[test]
fn buffered_path_reports_truncation_and_read_errors() {
    let file = file_with(&[1; 10]);
    let counters = Arc::new(Counters::new());
    let mut transport = TlsTransportLayer::new(Vec::new(), &Config::default(), counters);
    let err = block_on(transport.write_response(&[Chunk::file(file, 5..20)])).unwrap_err();
    assert!(
        matches!(&err, Error::Truncated { range, end_of_file: 10 } if *range == (5..20)),
        "{err:?}"
    );

    // A descriptor opened for writing only cannot be read.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w");
    std::fs::write(&path, [0; 10]).unwrap();
    let write_only = Arc::new(std::fs::OpenOptions::new().write(true).open(&path).unwrap());
    let mut transport = TlsTransportLayer::new(Vec::new(), &Config::default(), Arc::new(Counters::new()));
    let err = block_on(transport.write_response(&[Chunk::file(write_only, 0..10)])).unwrap_err();
    assert!(matches!(err, Error::ReadFile { offset: 0, .. }), "{err:?}");
    assert!(!err.is_peer_disconnect());
}
