//! The response queue: order across many queued responses, and what senders see once the writer stopped.

use std::sync::Arc;

use tokio::net::TcpListener;
use transfer::{response_queue, Config, Counters, Error, PlaintextTransportLayer};

use crate::support::{bytes, check, connect, pattern_file, region, Opts, Writer, TIMEOUT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_responses_keep_their_order() {
    let file = pattern_file(30, 1 << 20);
    let responses = (0..300u64)
        .map(|i| {
            let start = i * 997 % (1 << 19);
            vec![
                bytes(&(i as u32).to_be_bytes()),
                region(&file, start..start + i * 13 % 5000),
                bytes(b";"),
            ]
        })
        .collect();
    check(
        responses,
        Opts {
            writer: Writer::Queued,
            ..Opts::default()
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn senders_see_closed_once_the_writer_stopped() {
    let file = pattern_file(31, 1000);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = tokio::spawn(async move { connect(addr, None).await });
    let (stream, _) = listener.accept().await.unwrap();
    let _client = client.await.unwrap();
    let (_read, transport) =
        PlaintextTransportLayer::split(stream, &Config::default(), Arc::new(Counters::new())).unwrap();
    let (sender, writer) = response_queue(transport, 2);
    let writer = tokio::spawn(writer.run());
    sender.send(vec![region(&file, 0..2000)]).await.unwrap();
    let result = tokio::time::timeout(TIMEOUT, writer).await.unwrap().unwrap();
    assert!(matches!(result, Err(Error::Truncated { .. })), "{result:?}");
    assert!(sender.is_closed());
    let error = sender.send(vec![bytes(b"late")]).await.unwrap_err();
    assert!(matches!(error, Error::Closed));
    assert_eq!(error.to_string(), "the connection's response writer has stopped");
}
