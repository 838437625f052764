//! [`response_queue`]: responses queued per connection and written in order by one writer.
//!
//! The broker's request loop produces responses; the writer consumes them. Between the two sits a bounded
//! channel, so a slow reader applies back-pressure to its own connection's request loop and to nothing else.
//! The writer flushes only when the queue is empty, so responses that are already waiting share packets
//! (and TLS records).

use tokio::sync::mpsc;

use crate::{Chunk, Error, TransportLayer};

/// Makes a queue of at most `capacity` waiting responses (at least 1) in front of `transport`.
///
/// Spawn [`ResponseWriter::run`] as the connection's writer task and give the [`ResponseSender`] to the code
/// that produces responses.
pub fn response_queue<T: TransportLayer>(transport: T, capacity: usize) -> (ResponseSender, ResponseWriter<T>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (ResponseSender { tx }, ResponseWriter { transport, rx })
}

/// Queues responses for a connection; cheap to clone. Responses from one sender go out in the order sent.
#[derive(Debug, Clone)]
pub struct ResponseSender {
    tx: mpsc::Sender<Vec<Chunk>>,
}

impl ResponseSender {
    /// Queues a response, waiting while the queue is full.
    ///
    /// Fails with [`Error::Closed`] once the writer has stopped; the writer's own result says why.
    pub async fn send(&self, response: Vec<Chunk>) -> Result<(), Error> {
        self.tx.send(response).await.map_err(|_| Error::Closed)
    }

    /// Whether the writer has stopped.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// Writes the queued responses of one connection, in order.
#[derive(Debug)]
pub struct ResponseWriter<T> {
    transport: T,
    rx: mpsc::Receiver<Vec<Chunk>>,
}

impl<T: TransportLayer> ResponseWriter<T> {
    /// Writes responses until every [`ResponseSender`] is dropped, then flushes and shuts the write side down.
    ///
    /// Returns the first error; the transport (and with it the write side of the connection) is dropped then,
    /// and later sends fail with [`Error::Closed`]. The caller should then close the read side as well.
    pub async fn run(mut self) -> Result<(), Error> {
        while let Some(response) = self.rx.recv().await {
            self.transport.feed_response(&response).await?;
            // Release the file handles before waiting for the next response.
            drop(response);
            if self.rx.is_empty() {
                self.transport.flush().await?;
            }
        }
        self.transport.shutdown().await
    }
}
