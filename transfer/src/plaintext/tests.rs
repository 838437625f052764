//! Internal tests of the plaintext transport: when it corks, and the sendfile fallback state.

use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

use super::PlaintextTransportLayer;
use crate::{Chunk, Coalesce, Config, Counters, Mode, TransportLayer};

async fn pair(config: &Config) -> (PlaintextTransportLayer, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    let (server, _) = listener.accept().await.unwrap();
    let (_read, transport) = PlaintextTransportLayer::split(server, config, Arc::new(Counters::new())).unwrap();
    (transport, client)
}

fn corked(transport: &PlaintextTransportLayer) -> bool {
    socket2::SockRef::from(transport.stream()).tcp_cork().unwrap()
}

fn file() -> Arc<std::fs::File> {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&[3; 8192]).unwrap();
    Arc::new(file)
}

#[tokio::test]
async fn cork_is_held_across_fed_responses_and_released_by_flush() {
    let (mut transport, mut client) = pair(&Config::default()).await;
    assert!(transport.stream().nodelay().unwrap());
    let file = file();
    let two = [
        Chunk::Bytes(Bytes::from_static(b"head")),
        Chunk::file(file.clone(), 0..4096),
    ];

    // A single piece is not worth two setsockopt calls.
    transport
        .feed_response(&[Chunk::file(file.clone(), 0..10)])
        .await
        .unwrap();
    assert!(!transport.corked && !corked(&transport));

    transport.feed_response(&two).await.unwrap();
    assert!(transport.corked && corked(&transport));
    transport.feed_response(&two).await.unwrap();
    assert!(corked(&transport), "still corked: the next response shares the packets");
    transport.flush().await.unwrap();
    assert!(!transport.corked && !corked(&transport));

    transport.write_response(&two).await.unwrap();
    assert!(!corked(&transport), "write_response flushes");
    transport.shutdown().await.unwrap();
    let mut received = Vec::new();
    client.read_to_end(&mut received).await.unwrap();
    assert_eq!(received.len(), 10 + 3 * 4100);
    assert_eq!(transport.copy_buffer_allocated(), 0);
}

#[tokio::test]
async fn other_coalescing_modes_never_cork() {
    for coalesce in [Coalesce::Off, Coalesce::MsgMore] {
        let config = Config {
            coalesce,
            ..Config::default()
        };
        let (mut transport, _client) = pair(&config).await;
        let response = [Chunk::Bytes(Bytes::from_static(b"head")), Chunk::file(file(), 0..4096)];
        transport.feed_response(&response).await.unwrap();
        assert!(!corked(&transport), "{coalesce:?}");
        transport.flush().await.unwrap();
    }
}

#[tokio::test]
async fn copy_mode_gathers_a_response_in_its_buffer() {
    let config = Config {
        mode: Mode::Copy,
        nodelay: false,
        ..Config::default()
    };
    let (mut transport, mut client) = pair(&config).await;
    assert!(!transport.stream().nodelay().unwrap());
    let response = [Chunk::Bytes(Bytes::from_static(b"head")), Chunk::file(file(), 0..4096)];
    transport.feed_response(&response).await.unwrap();
    assert!(
        !corked(&transport),
        "copy mode gathers in its buffer instead of corking"
    );
    assert_eq!(transport.io.filled, 4100, "held back until flushed");
    transport.shutdown().await.unwrap();
    let mut received = Vec::new();
    client.read_to_end(&mut received).await.unwrap();
    assert_eq!(received.len(), 4100);
    assert_eq!(transport.copy_buffer_allocated(), config.copy_buffer_size);
}

#[tokio::test]
async fn regions_larger_than_one_sendfile_call_resume_at_the_right_offset() {
    assert_eq!(super::MAX_SENDFILE, 100_000);
    let content: Vec<u8> = (0..1_000_000u32).map(|i| (i % 253) as u8).collect();
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&content).unwrap();
    let file = Arc::new(file);
    let (mut transport, mut client) = pair(&Config::default()).await;
    let reader = tokio::spawn(async move {
        let mut received = Vec::new();
        client.read_to_end(&mut received).await.unwrap();
        received
    });
    transport
        .write_response(&[Chunk::file(file, 3..999_999)])
        .await
        .unwrap();
    transport.shutdown().await.unwrap();
    assert_eq!(reader.await.unwrap(), &content[3..999_999]);
    assert_eq!(transport.counters().sendfile_bytes(), 999_996);
}
