//! Test support: loopback connections in each mode, TLS with a generated certificate, pattern files, and a
//! client that checks what it receives against the expected bytes as they arrive.

use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use transfer::{
    response_queue, Chunk, Config, Counters, CountersSnapshot, Error, Mode, PlaintextTransportLayer, TlsTransportLayer,
    TransportLayer,
};

/// Every test gives up after this long rather than hang.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// The three ways a response can be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Plaintext, file regions with sendfile.
    Sendfile,
    /// Plaintext, file regions with pread + write.
    Copy,
    /// TLS (pread + encrypt + write).
    Tls,
}

pub const KINDS: [Kind; 3] = [Kind::Sendfile, Kind::Copy, Kind::Tls];

impl Kind {
    pub fn config(self) -> Config {
        let mut config = Config::default();
        if self == Kind::Copy {
            config.mode = Mode::Copy;
        }
        config
    }
}

/// How the server hands responses to the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    /// `write_response` for each response, then `shutdown`.
    Direct,
    /// All responses through `response_queue` and `ResponseWriter::run`.
    Queued,
}

/// Socket and pacing options of one test connection.
#[derive(Debug, Clone, Copy)]
pub struct Opts {
    pub writer: Writer,
    /// `SO_RCVBUF` of the client, set before connecting.
    pub client_rcvbuf: Option<u32>,
    /// `SO_SNDBUF` of the server's accepted socket.
    pub server_sndbuf: Option<usize>,
    /// The client's read size.
    pub read_size: usize,
    /// Sleep this long after every `n` reads.
    pub pause: Option<(usize, Duration)>,
}

impl Default for Opts {
    fn default() -> Opts {
        Opts {
            writer: Writer::Direct,
            client_rcvbuf: None,
            server_sndbuf: None,
            read_size: 1 << 20,
            pause: None,
        }
    }
}

/// What happened on both ends of a connection.
#[derive(Debug)]
pub struct Outcome {
    pub server: Result<(), Error>,
    pub client: Received,
    pub counters: CountersSnapshot,
}

/// What the client received.
#[derive(Debug)]
pub struct Received {
    /// Bytes received in total.
    pub len: u64,
    /// The first offset where the received bytes differ from the expected ones (or where they ran past them).
    pub mismatch: Option<u64>,
    /// The received bytes, kept when there are few of them.
    pub bytes: Option<Vec<u8>>,
    /// How the stream ended: `Ok` on a clean end of stream.
    pub end: std::io::Result<()>,
}

/// Bytes kept in `Received::bytes` at most.
const KEEP: u64 = 16 << 20;

/// Serves `responses` over one fresh loopback connection and reads them back on the client side.
pub async fn serve(kind: Kind, responses: Vec<Vec<Chunk>>, opts: Opts) -> Outcome {
    serve_with(kind, kind.config(), responses, opts).await
}

/// [`serve`] with an explicit configuration.
pub async fn serve_with(kind: Kind, config: Config, responses: Vec<Vec<Chunk>>, opts: Opts) -> Outcome {
    let counters = Arc::new(Counters::new());
    let expected = Expected::new(&responses);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = {
        let counters = counters.clone();
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            if let Some(size) = opts.server_sndbuf {
                socket2::SockRef::from(&stream).set_send_buffer_size(size).unwrap();
            }
            run_server(kind, &config, stream, responses, opts.writer, counters).await
        })
    };
    let client = tokio::spawn(async move {
        let stream = connect(addr, opts.client_rcvbuf).await;
        if kind == Kind::Tls {
            let tls = tls_connect(stream).await.unwrap();
            read_all(tls, expected, opts).await
        } else {
            read_all(stream, expected, opts).await
        }
    });
    let (server, client) = tokio::time::timeout(TIMEOUT, async { (server.await.unwrap(), client.await.unwrap()) })
        .await
        .expect("connection timed out");
    Outcome {
        server,
        client,
        counters: counters.snapshot(),
    }
}

/// Accepts the transport for `kind` on an accepted stream and writes the responses.
pub async fn run_server(
    kind: Kind,
    config: &Config,
    stream: TcpStream,
    responses: Vec<Vec<Chunk>>,
    writer: Writer,
    counters: Arc<Counters>,
) -> Result<(), Error> {
    match kind {
        Kind::Sendfile | Kind::Copy => {
            let (_read, transport) = PlaintextTransportLayer::split(stream, config, counters)?;
            drive(transport, responses, writer).await
        }
        Kind::Tls => {
            let stream = tls().acceptor.accept(stream).await.unwrap();
            let (_read, transport) = TlsTransportLayer::split_server(stream, config, counters)?;
            drive(transport, responses, writer).await
        }
    }
}

async fn drive<T: TransportLayer + 'static>(
    mut transport: T,
    responses: Vec<Vec<Chunk>>,
    writer: Writer,
) -> Result<(), Error> {
    match writer {
        Writer::Direct => {
            for response in &responses {
                let n = transport.write_response(response).await?;
                assert_eq!(n, response.iter().map(Chunk::len).sum::<u64>());
            }
            transport.shutdown().await
        }
        Writer::Queued => {
            let (sender, writer) = response_queue(transport, 4);
            let task = tokio::spawn(writer.run());
            for response in responses {
                if sender.send(response).await.is_err() {
                    break;
                }
            }
            drop(sender);
            task.await.unwrap()
        }
    }
}

/// Connects to `addr`, with a small receive buffer if asked.
pub async fn connect(addr: SocketAddr, rcvbuf: Option<u32>) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    if let Some(size) = rcvbuf {
        socket.set_recv_buffer_size(size).unwrap();
    }
    socket.connect(addr).await.unwrap()
}

/// Reads until the end of the stream, checking every byte against `expected`.
pub async fn read_all<R: AsyncRead + Unpin>(mut stream: R, mut expected: Expected, opts: Opts) -> Received {
    let mut buf = vec![0u8; opts.read_size];
    let mut received = Received {
        len: 0,
        mismatch: None,
        bytes: Some(Vec::new()),
        end: Ok(()),
    };
    let mut reads = 0usize;
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                received.end = Err(e);
                break;
            }
        };
        if received.mismatch.is_none() {
            if let Err(at) = expected.check(&buf[..n]) {
                received.mismatch = Some(received.len + at);
            }
        }
        received.len += n as u64;
        match &mut received.bytes {
            Some(kept) if received.len <= KEEP => kept.extend_from_slice(&buf[..n]),
            kept => *kept = None,
        }
        reads += 1;
        if let Some((every, pause)) = opts.pause {
            if reads % every == 0 {
                tokio::time::sleep(pause).await;
            }
        }
    }
    if received.mismatch.is_none() && !expected.is_done() {
        received.mismatch = Some(received.len);
    }
    received
}

/// The bytes a list of responses should put on the wire, produced lazily (regions are read when checked).
#[derive(Debug)]
pub struct Expected {
    segments: Vec<Segment>,
    /// Index of the current segment and the position inside it.
    at: (usize, u64),
    scratch: Vec<u8>,
}

#[derive(Debug)]
enum Segment {
    Bytes(Bytes),
    File(Arc<File>, Range<u64>),
}

impl Expected {
    pub fn new(responses: &[Vec<Chunk>]) -> Expected {
        let segments = responses
            .iter()
            .flatten()
            .filter(|c| !c.is_empty())
            .map(|c| match c {
                Chunk::Bytes(b) => Segment::Bytes(b.clone()),
                Chunk::File { file, range } => Segment::File(file.clone(), range.clone()),
            })
            .collect();
        Expected {
            segments,
            at: (0, 0),
            scratch: Vec::new(),
        }
    }

    /// Checks the next received bytes; on a mismatch returns its position within `data`.
    pub fn check(&mut self, mut data: &[u8]) -> Result<(), u64> {
        let mut checked = 0u64;
        while !data.is_empty() {
            let Some(segment) = self.segments.get(self.at.0) else {
                return Err(checked);
            };
            let (seg_len, n) = match segment {
                Segment::Bytes(b) => {
                    let rest = &b[self.at.1 as usize..];
                    let n = rest.len().min(data.len());
                    if rest[..n] != data[..n] {
                        return Err(checked + first_difference(&rest[..n], &data[..n]));
                    }
                    (b.len() as u64, n)
                }
                Segment::File(file, range) => {
                    let rest = range.end - range.start - self.at.1;
                    let n = (rest.min(data.len() as u64) as usize).min(1 << 20);
                    self.scratch.resize(n, 0);
                    file.read_exact_at(&mut self.scratch, range.start + self.at.1)
                        .expect("expected region readable");
                    if self.scratch[..] != data[..n] {
                        return Err(checked + first_difference(&self.scratch, &data[..n]));
                    }
                    (range.end - range.start, n)
                }
            };
            self.at.1 += n as u64;
            if self.at.1 == seg_len {
                self.at = (self.at.0 + 1, 0);
            }
            data = &data[n..];
            checked += n as u64;
        }
        Ok(())
    }

    pub fn is_done(&self) -> bool {
        self.at.0 == self.segments.len()
    }
}

fn first_difference(a: &[u8], b: &[u8]) -> u64 {
    a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(0) as u64
}

/// The total number of bytes of file regions in `responses`.
pub fn file_bytes(responses: &[Vec<Chunk>]) -> u64 {
    responses
        .iter()
        .flatten()
        .filter(|c| matches!(c, Chunk::File { .. }))
        .map(Chunk::len)
        .sum()
}

/// The total number of bytes in `responses`.
pub fn total_bytes(responses: &[Vec<Chunk>]) -> u64 {
    responses.iter().flatten().map(Chunk::len).sum()
}

/// Runs `responses` through every mode, and checks that each client received exactly the expected bytes,
/// that all modes delivered identical bytes, and that each mode's counters account for every byte.
pub async fn check(responses: Vec<Vec<Chunk>>, opts: Opts) -> Vec<Outcome> {
    let total = total_bytes(&responses);
    let files = file_bytes(&responses);
    let mut outcomes = Vec::new();
    for kind in KINDS {
        let outcome = serve(kind, responses.clone(), opts).await;
        assert!(outcome.server.is_ok(), "{kind:?}: server failed: {:?}", outcome.server);
        assert!(
            outcome.client.end.is_ok(),
            "{kind:?}: client failed: {:?}",
            outcome.client.end
        );
        assert_eq!(
            outcome.client.mismatch, None,
            "{kind:?}: received bytes differ from the expected ones"
        );
        assert_eq!(outcome.client.len, total, "{kind:?}: wrong length");
        let c = outcome.counters;
        match kind {
            Kind::Sendfile => {
                assert_eq!(
                    (c.sendfile_bytes, c.copy_bytes, c.tls_bytes),
                    (files, 0, 0),
                    "{kind:?}: {c:?}"
                );
                assert_eq!(c.memory_bytes, total - files, "{kind:?}: {c:?}");
            }
            Kind::Copy => {
                assert_eq!(
                    (c.sendfile_bytes, c.copy_bytes, c.tls_bytes),
                    (0, files, 0),
                    "{kind:?}: {c:?}"
                );
                assert_eq!(c.memory_bytes, total - files, "{kind:?}: {c:?}");
            }
            Kind::Tls => {
                assert_eq!(
                    (c.sendfile_bytes, c.copy_bytes, c.memory_bytes),
                    (0, 0, 0),
                    "{kind:?}: {c:?}"
                );
                assert_eq!(c.tls_bytes, total, "{kind:?}: {c:?}");
            }
        }
        assert_eq!(c.responses, responses.len() as u64, "{kind:?}: {c:?}");
        outcomes.push(outcome);
    }
    if let [first, rest @ ..] = &outcomes[..] {
        for other in rest {
            assert_eq!(
                first.client.bytes, other.client.bytes,
                "modes delivered different bytes"
            );
        }
    }
    outcomes
}

// ---------------------------------------------------------------------------------------------------------
// TLS

pub struct Tls {
    pub acceptor: TlsAcceptor,
    pub connector: TlsConnector,
}

/// A self-signed certificate for `localhost`, generated once per test run, a server that presents it and a
/// client that trusts exactly it.
pub fn tls() -> &'static Tls {
    static TLS: OnceLock<Tls> = OnceLock::new();
    TLS.get_or_init(|| {
        let rcgen::CertifiedKey { cert, key_pair } =
            rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let cert = cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pair.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .unwrap();
        Tls {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            connector: client_connector(Some(&cert)),
        }
    })
}

/// A client that trusts `cert` (or nothing at all).
pub fn client_connector(cert: Option<&rustls::pki_types::CertificateDer<'static>>) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(cert) = cert {
        roots.add(cert.clone()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(client))
}

/// The client side of the TLS handshake, verifying the server's certificate for `localhost`.
pub async fn tls_connect(stream: TcpStream) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    tls()
        .connector
        .connect(ServerName::try_from("localhost").unwrap(), stream)
        .await
}

// ---------------------------------------------------------------------------------------------------------
// Files

/// The period of the pattern in pattern files: a prime, so that no power-of-two shift of the data matches.
const PERIOD: usize = 1_000_003;

/// Pseudo-random bytes that repeat every [`PERIOD`] bytes, starting at phase `seed`.
fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut period = Vec::with_capacity(PERIOD + 8);
    while period.len() < PERIOD {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        period.extend_from_slice(&x.to_le_bytes());
    }
    period.truncate(PERIOD);
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let n = (len - out.len()).min(PERIOD);
        out.extend_from_slice(&period[..n]);
    }
    out
}

/// An anonymous temporary file of `len` pattern bytes.
pub fn pattern_file(seed: u64, len: u64) -> Arc<File> {
    let mut file = tempfile::tempfile().unwrap();
    // Write in 1 MiB blocks cut from a repeated period, so that a 1 GiB file costs no per-byte work.
    let block = 1usize << 20;
    let source = pattern(seed, PERIOD + block);
    let mut written = 0u64;
    while written < len {
        let phase = (written % PERIOD as u64) as usize;
        let n = (len - written).min(block as u64) as usize;
        file.write_all(&source[phase..phase + n]).unwrap();
        written += n as u64;
    }
    Arc::new(file)
}

/// An anonymous sparse temporary file of `len` bytes: zeros except `data_len` pattern bytes at `data_at`.
pub fn sparse_file(len: u64, data_at: u64, data_len: usize) -> Arc<File> {
    let file = tempfile::tempfile().unwrap();
    file.set_len(len).unwrap();
    file.write_all_at(&pattern(7, data_len), data_at).unwrap();
    Arc::new(file)
}

/// A bytes chunk.
pub fn bytes(b: &[u8]) -> Chunk {
    Chunk::Bytes(Bytes::copy_from_slice(b))
}

/// A file region chunk.
pub fn region(file: &Arc<File>, range: Range<u64>) -> Chunk {
    Chunk::file(file.clone(), range)
}
