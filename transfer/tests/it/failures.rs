//! Failures: truncated files, invalid regions, peers that disconnect or stop reading, the sendfile fallback,
//! and a TLS client that does not trust the server.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use transfer::{Chunk, Counters, Error};

use crate::support::{
    bytes, client_connector, connect, pattern_file, read_all, region, run_server, serve, tls, tls_connect, Expected,
    Kind, Opts, Writer, KINDS, TIMEOUT,
};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

fn assert_truncated(result: &Result<(), Error>, range: Range<u64>, end_of_file: u64) {
    match result {
        Err(Error::Truncated {
            range: r,
            end_of_file: e,
        }) if *r == range && *e == end_of_file => {}
        other => panic!("expected truncation of {range:?} at {end_of_file}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn region_beyond_the_end_of_the_file_ends_the_response_and_the_connection() {
    for kind in KINDS {
        for writer in [Writer::Direct, Writer::Queued] {
            let file = pattern_file(11, MIB);
            let responses = vec![
                vec![bytes(b"header"), region(&file, 0..2 * MIB), bytes(b"never sent")],
                vec![bytes(b"the next response is never sent either")],
            ];
            let outcome = serve(
                kind,
                responses,
                Opts {
                    writer,
                    ..Opts::default()
                },
            )
            .await;
            assert_truncated(&outcome.server, 0..2 * MIB, MIB);
            assert_eq!(
                outcome.server.as_ref().unwrap_err().to_string(),
                "file region 0..2097152 is truncated: end of file reached at offset 1048576, 1048576 bytes into the region"
            );
            // The client got a correct prefix, then the connection ended.
            let received = &outcome.client;
            assert!(received.len <= 6 + MIB, "{kind:?}: {received:?}");
            assert_eq!(received.mismatch, Some(received.len), "{kind:?}: the prefix is wrong");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_truncated_after_the_response_was_made() {
    for kind in KINDS {
        let file = pattern_file(12, MIB);
        let responses = vec![vec![region(&file, 0..MIB)]];
        file.set_len(300_000).unwrap();
        let outcome = serve(kind, responses, Opts::default()).await;
        assert_truncated(&outcome.server, 0..MIB, 300_000);

        // A region that now starts past the end of the file.
        let responses = vec![vec![bytes(b"h"), region(&file, 500_000..600_000)]];
        let outcome = serve(kind, responses, Opts::default()).await;
        assert_truncated(&outcome.server, 500_000..600_000, 500_000);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_region_writes_nothing() {
    for kind in KINDS {
        let file = pattern_file(13, KIB);
        let reversed = Range { start: 10, end: 5 };
        let responses = vec![vec![bytes(b"header"), Chunk::file(file.clone(), reversed)]];
        let outcome = serve(kind, responses, Opts::default()).await;
        match &outcome.server {
            Err(e @ Error::InvalidRange { range }) if *range == (Range { start: 10, end: 5 }) => {
                assert_eq!(e.to_string(), "invalid file region 10..5: the start lies after the end");
            }
            other => panic!("{kind:?}: {other:?}"),
        }
        assert_eq!(outcome.client.len, 0, "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_disconnecting_mid_transfer_is_an_ordinary_error() {
    let file = pattern_file(14, 64 * MIB);
    for kind in KINDS {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = {
            let file = file.clone();
            tokio::spawn(async move {
                let (stream, _) = listener.accept().await.unwrap();
                let responses = vec![vec![bytes(b"header"), region(&file, 0..64 * MIB)]];
                run_server(
                    kind,
                    &kind.config(),
                    stream,
                    responses,
                    Writer::Direct,
                    Arc::new(Counters::new()),
                )
                .await
            })
        };
        let stream = connect(addr, None).await;
        let mut buf = vec![0; 64 * KIB as usize];
        if kind == Kind::Tls {
            let mut stream = tls_connect(stream).await.unwrap();
            stream.read_exact(&mut buf).await.unwrap();
        } else {
            let mut stream = stream;
            stream.read_exact(&mut buf).await.unwrap();
        }
        // Dropped here with unread data in the receive buffer: the kernel resets the connection.
        let result = tokio::time::timeout(TIMEOUT, server)
            .await
            .expect("the server hung")
            .unwrap();
        let error = result.expect_err("the server cannot have sent everything");
        assert!(error.is_peer_disconnect(), "{kind:?}: {error:?}");
    }
}

/// On a single-threaded runtime, a connection whose peer never reads must not keep another connection from
/// completing; when that peer finally goes away, its server gets an ordinary error.
#[tokio::test(flavor = "current_thread")]
async fn slow_reader_does_not_stall_other_connections() {
    let big = pattern_file(15, 64 * MIB);
    let small = pattern_file(16, 8 * MIB);
    for kind in KINDS {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stalled_counters = Arc::new(Counters::new());
        let server = {
            let (big, small, counters) = (big.clone(), small.clone(), stalled_counters.clone());
            tokio::spawn(async move {
                let (stalled, _) = listener.accept().await.unwrap();
                let responses = vec![vec![region(&big, 0..64 * MIB)]];
                let stalled = tokio::spawn(async move {
                    run_server(kind, &kind.config(), stalled, responses, Writer::Direct, counters).await
                });
                let (fast, _) = listener.accept().await.unwrap();
                let responses = vec![vec![bytes(b"fast"), region(&small, 0..8 * MIB)]];
                let counters = Arc::new(Counters::new());
                let fast = run_server(kind, &kind.config(), fast, responses, Writer::Direct, counters).await;
                (fast, stalled)
            })
        };

        // The stalled client: a tiny receive buffer, and it never reads.
        let stalled_client = connect(addr, Some(4096)).await;
        let stalled_peer: Box<dyn Send> = if kind == Kind::Tls {
            Box::new(tls_connect(stalled_client).await.unwrap())
        } else {
            Box::new(stalled_client)
        };

        let expected = Expected::new(&[vec![bytes(b"fast"), region(&small, 0..8 * MIB)]]);
        let fast_client = connect(addr, None).await;
        let received = tokio::time::timeout(Duration::from_secs(30), async {
            if kind == Kind::Tls {
                read_all(tls_connect(fast_client).await.unwrap(), expected, Opts::default()).await
            } else {
                read_all(fast_client, expected, Opts::default()).await
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{kind:?}: the fast connection was stalled"));
        assert_eq!((received.len, received.mismatch), (8 * MIB + 4, None), "{kind:?}");

        let (fast, stalled) = tokio::time::timeout(TIMEOUT, server).await.unwrap().unwrap();
        fast.unwrap();
        assert!(
            !stalled.is_finished(),
            "{kind:?}: the stalled transfer cannot have finished"
        );
        let sent = stalled_counters.snapshot();
        assert!(sent.write_waits > 0, "{kind:?}: {sent:?}");

        // Now the stalled peer goes away.
        drop(stalled_peer);
        let result = tokio::time::timeout(TIMEOUT, stalled)
            .await
            .expect("the stalled server hung")
            .unwrap();
        let error = result.expect_err("the stalled server cannot have succeeded");
        assert!(error.is_peer_disconnect(), "{kind:?}: {error:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sendfile_falls_back_to_copying_where_the_file_does_not_support_it() {
    // sendfile(2) from /proc/self/cmdline fails with EINVAL; pread works.
    let path = "/proc/self/cmdline";
    let len = std::fs::read(path).unwrap().len() as u64;
    let file = Arc::new(std::fs::File::open(path).unwrap());
    let responses = vec![
        vec![bytes(b"cmdline:"), region(&file, 0..len), bytes(b"!")],
        vec![region(&file, 1..len)],
    ];
    let outcome = serve(Kind::Sendfile, responses, Opts::default()).await;
    outcome.server.unwrap();
    assert_eq!(outcome.client.mismatch, None);
    assert_eq!(outcome.client.len, 8 + len + 1 + len - 1);
    let c = outcome.counters;
    assert_eq!(
        (c.sendfile_fallbacks, c.sendfile_bytes, c.copy_bytes),
        (2, 0, 2 * len - 1),
        "{c:?}"
    );

    // A truncated region is still detected on the fallback path.
    let outcome = serve(Kind::Sendfile, vec![vec![region(&file, 0..len + 100)]], Opts::default()).await;
    assert_truncated(&outcome.server, 0..len + 100, len);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_client_rejects_a_certificate_it_does_not_trust() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        tls().acceptor.accept(stream).await
    });
    let stream = connect(addr, None).await;
    let untrusting = client_connector(None);
    let error = untrusting
        .connect(ServerName::try_from("localhost").unwrap(), stream)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("invalid peer certificate"), "{error}");
    assert!(tokio::time::timeout(TIMEOUT, server).await.unwrap().unwrap().is_err());
}
