//! [`TlsTransportLayer`]: file regions are read with `pread` into a reused buffer and written through TLS.
//!
//! This is Kafka's `SslTransportLayer.transferFrom`: zero-copy is impossible when the bytes must be
//! encrypted, so the best we can do is one reused buffer per connection, sized by measurement, that both the
//! byte pieces and the file bytes of a response are gathered into, so that rustls sees large writes and
//! emits full 16 KiB records.

use std::sync::Arc;

use tokio::io::{AsyncWrite, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use crate::buffered::{Buffered, Path};
use crate::chunk::validate;
use crate::{Chunk, Config, Counters, Error, TransportLayer};

/// A TLS connection's write side (or, in fact, any [`AsyncWrite`]: the transport only copies).
#[derive(Debug)]
pub struct TlsTransportLayer<W> {
    io: Buffered<W>,
    counters: Arc<Counters>,
}

/// The write half of a server-side TLS stream over TCP, as [`TlsTransportLayer::split_server`] makes it.
pub type TlsWriteHalf = WriteHalf<TlsStream<TcpStream>>;
/// The read half of a server-side TLS stream over TCP, as [`TlsTransportLayer::split_server`] makes it.
pub type TlsReadHalf = ReadHalf<TlsStream<TcpStream>>;

impl TlsTransportLayer<TlsWriteHalf> {
    /// Splits an accepted TLS stream: the read half is the caller's (for its request framing), the write half
    /// becomes the transport. Sets `TCP_NODELAY` on the TCP stream if the configuration asks for it.
    pub fn split_server(
        stream: TlsStream<TcpStream>,
        config: &Config,
        counters: Arc<Counters>,
    ) -> Result<(TlsReadHalf, TlsTransportLayer<TlsWriteHalf>), Error> {
        if config.nodelay {
            stream
                .get_ref()
                .0
                .set_nodelay(true)
                .map_err(|source| Error::SocketOption {
                    option: "TCP_NODELAY",
                    source,
                })?;
        }
        let (read, write) = tokio::io::split(stream);
        Ok((read, TlsTransportLayer::new(write, config, counters)))
    }
}

impl<W: AsyncWrite + Unpin + Send> TlsTransportLayer<W> {
    /// A transport over any writer, typically the write half of a tokio-rustls stream (client or server).
    pub fn new(writer: W, config: &Config, counters: Arc<Counters>) -> TlsTransportLayer<W> {
        TlsTransportLayer {
            io: Buffered::new(writer, counters.clone(), Path::Tls, config.tls_buffer_size),
            counters,
        }
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        self.io.get_ref()
    }
}

impl<W: AsyncWrite + Unpin + Send> TransportLayer for TlsTransportLayer<W> {
    async fn feed_response(&mut self, response: &[Chunk]) -> Result<u64, Error> {
        let total = validate(response)?;
        if response
            .iter()
            .any(|c| matches!(c, Chunk::File { .. }) && !c.is_empty())
        {
            self.io.reserve();
        }
        for chunk in response {
            match chunk {
                Chunk::Bytes(b) => self.io.push_bytes(b).await?,
                Chunk::File { file, range } => self.io.push_file(file, range, range.start).await?,
            }
        }
        self.counters.add_response();
        Ok(total)
    }

    async fn flush(&mut self) -> Result<(), Error> {
        self.io.flush().await
    }

    async fn shutdown(&mut self) -> Result<(), Error> {
        self.io.shutdown().await
    }

    fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }
}
