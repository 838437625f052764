//! The network: Raft RPCs and application RPCs over one TCP listener per node.
//!
//! A frame is `[u32 big-endian length][serde_json body]`. A connection carries requests and
//! their responses in order. With a shared secret ([`crate::Options::secret`]) every connection starts
//! with a mutual challenge-response before its first frame: the client sends 32 random bytes, the server
//! answers 32 of its own and `HMAC-SHA256(secret, "kzero-quorum-server" | client's | server's)`, the client
//! checks it and answers `HMAC-SHA256(secret, "kzero-quorum-client" | client's | server's)`, which the
//! server checks (both in constant time). A peer that fails is disconnected and logged. The server serves each connection in its own task; a frame above
//! [`MAX_FRAME`] or an undecodable one closes that connection (with a warning), never the node.

use std::sync::Arc;
use std::time::Duration;

use openraft::error::InstallSnapshotError;
use openraft::error::NetworkError;
use openraft::error::RPCError;
use openraft::error::RaftError;
use openraft::error::RemoteError;
use openraft::error::Unreachable;
use openraft::network::RPCOption;
use openraft::network::RPCTypes;
use openraft::network::RaftNetwork;
use openraft::network::RaftNetworkFactory;
use openraft::raft::AppendEntriesRequest;
use openraft::raft::AppendEntriesResponse;
use openraft::raft::InstallSnapshotRequest;
use openraft::raft::InstallSnapshotResponse;
use openraft::raft::VoteRequest;
use openraft::raft::VoteResponse;
use openraft::BasicNode;
use serde::Deserialize;
use serde::Serialize;
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWriteExt;
use tokio::io::BufStream;
use tokio::net::TcpListener;
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::AppRpc;
use crate::Error;
use crate::NodeId;
use crate::Raft;
use crate::TypeConfig;

/// The largest frame accepted: 64 MiB.
pub(crate) const MAX_FRAME: usize = 64 * 1024 * 1024;

/// A request on the wire.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Request {
    /// Raft's AppendEntries.
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    /// Raft's RequestVote.
    Vote(VoteRequest<NodeId>),
    /// One chunk of a snapshot.
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// An application request.
    App(Vec<u8>),
}

/// A response on the wire.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Response {
    /// The answer to AppendEntries.
    AppendEntries(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    /// The answer to RequestVote.
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    /// The answer to a snapshot chunk.
    InstallSnapshot(Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>),
    /// The application's answer.
    App(Vec<u8>),
}

/// Why a frame could not be exchanged.
#[derive(Debug)]
enum WireError {
    /// The connection failed or closed.
    Io(std::io::Error),
    /// The peer sent something that is not a valid frame.
    Protocol(String),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Io(e) => write!(f, "{e}"),
            WireError::Protocol(reason) => write!(f, "{reason}"),
        }
    }
}

async fn write_frame<W: AsyncWriteExt + Unpin, T: Serialize>(out: &mut W, value: &T) -> Result<(), WireError> {
    let body = serde_json::to_vec(value).map_err(|e| WireError::Protocol(e.to_string()))?;
    if body.len() > MAX_FRAME {
        return Err(WireError::Protocol(format!(
            "frame of {} bytes is too large",
            body.len()
        )));
    }
    let len = u32::try_from(body.len()).map_err(|e| WireError::Protocol(e.to_string()))?;
    out.write_all(&len.to_be_bytes()).await.map_err(WireError::Io)?;
    out.write_all(&body).await.map_err(WireError::Io)?;
    out.flush().await.map_err(WireError::Io)
}

/// Reads one frame; `Ok(None)` on a clean end of stream before a frame.
async fn read_frame<R: AsyncReadExt + Unpin, T: for<'de> Deserialize<'de>>(
    input: &mut R,
) -> Result<Option<T>, WireError> {
    let mut header = [0u8; 4];
    match input.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(WireError::Io(e)),
    }
    let len = u32::from_be_bytes(header) as usize;
    if len > MAX_FRAME {
        return Err(WireError::Protocol(format!(
            "frame of {len} bytes is above the 64 MiB limit"
        )));
    }
    let mut body = vec![0u8; len];
    input.read_exact(&mut body).await.map_err(WireError::Io)?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| WireError::Protocol(format!("undecodable frame: {e}")))
}

/// The secret both ends of a connection must prove they know.
pub(crate) type Secret = Arc<crate::Secret>;

const NONCE: usize = 32;

fn random_nonce() -> Result<[u8; NONCE], WireError> {
    use ring::rand::SecureRandom;
    let mut nonce = [0u8; NONCE];
    ring::rand::SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| WireError::Protocol("the system random generator failed".into()))?;
    Ok(nonce)
}

fn proof_input(role: &[u8], client: &[u8], server: &[u8]) -> Vec<u8> {
    [role, client, server].concat()
}

/// The server's side of the challenge-response.
async fn prove_server<S: AsyncReadExt + AsyncWriteExt + Unpin>(stream: &mut S, secret: &[u8]) -> Result<(), WireError> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let mut client = [0u8; NONCE];
    stream.read_exact(&mut client).await.map_err(WireError::Io)?;
    let server = random_nonce()?;
    let tag = ring::hmac::sign(&key, &proof_input(b"kzero-quorum-server", &client, &server));
    stream.write_all(&server).await.map_err(WireError::Io)?;
    stream.write_all(tag.as_ref()).await.map_err(WireError::Io)?;
    stream.flush().await.map_err(WireError::Io)?;
    let mut answer = [0u8; 32];
    stream.read_exact(&mut answer).await.map_err(WireError::Io)?;
    ring::hmac::verify(&key, &proof_input(b"kzero-quorum-client", &client, &server), &answer)
        .map_err(|_| WireError::Protocol("the peer does not know the cluster's secret".into()))
}

/// The client's side of the challenge-response.
async fn prove_client<S: AsyncReadExt + AsyncWriteExt + Unpin>(stream: &mut S, secret: &[u8]) -> Result<(), WireError> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let client = random_nonce()?;
    stream.write_all(&client).await.map_err(WireError::Io)?;
    stream.flush().await.map_err(WireError::Io)?;
    let mut server = [0u8; NONCE];
    stream.read_exact(&mut server).await.map_err(WireError::Io)?;
    let mut tag = [0u8; 32];
    stream.read_exact(&mut tag).await.map_err(WireError::Io)?;
    ring::hmac::verify(&key, &proof_input(b"kzero-quorum-server", &client, &server), &tag)
        .map_err(|_| WireError::Protocol("the listener does not know the cluster's secret".into()))?;
    let answer = ring::hmac::sign(&key, &proof_input(b"kzero-quorum-client", &client, &server));
    stream.write_all(answer.as_ref()).await.map_err(WireError::Io)?;
    stream.flush().await.map_err(WireError::Io)
}

/// Accepts connections until `shutdown` turns true; each connection is served by its own task.
pub(crate) async fn serve(
    listener: TcpListener,
    raft: Raft,
    app_rpc: Arc<dyn AppRpc>,
    secret: Option<Secret>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let raft = raft.clone();
                let app_rpc = app_rpc.clone();
                let mut stop = shutdown.clone();
                let secret = secret.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        result = serve_connection(stream, &raft, &*app_rpc, secret.as_deref().map(crate::Secret::bytes)) => {
                            if let Err(e) = result {
                                tracing::warn!(%peer, "closing a quorum connection: {e}");
                            }
                        }
                        _ = stop.wait_for(|stop| *stop) => {}
                    }
                });
            }
            Err(e) => {
                tracing::warn!("accepting a quorum connection failed: {e}");
                // Accept errors (such as running out of file descriptors) are usually transient.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    raft: &Raft,
    app_rpc: &dyn AppRpc,
    secret: Option<&[u8]>,
) -> Result<(), WireError> {
    let mut stream = BufStream::new(stream);
    if let Some(secret) = secret {
        tokio::time::timeout(Duration::from_secs(10), prove_server(&mut stream, secret))
            .await
            .map_err(|_| WireError::Protocol("no challenge-response in 10 s".into()))??;
    }
    while let Some(request) = read_frame::<_, Request>(&mut stream).await? {
        let response = match request {
            Request::AppendEntries(rpc) => Response::AppendEntries(raft.append_entries(rpc).await),
            Request::Vote(rpc) => Response::Vote(raft.vote(rpc).await),
            Request::InstallSnapshot(rpc) => Response::InstallSnapshot(raft.install_snapshot(rpc).await),
            Request::App(bytes) => Response::App(app_rpc.handle(bytes).await),
        };
        write_frame(&mut stream, &response).await?;
    }
    Ok(())
}

/// One request-response exchange over `conn`, connecting first if needed.
async fn exchange(
    conn: &mut Option<BufStream<TcpStream>>,
    addr: &str,
    secret: Option<&[u8]>,
    request: &Request,
) -> Result<Response, WireError> {
    if conn.is_none() {
        let stream = TcpStream::connect(addr).await.map_err(WireError::Io)?;
        let _ = stream.set_nodelay(true);
        let mut stream = BufStream::new(stream);
        if let Some(secret) = secret {
            prove_client(&mut stream, secret).await?;
        }
        *conn = Some(stream);
    }
    let Some(stream) = conn.as_mut() else {
        return Err(WireError::Protocol("no connection".into()));
    };
    write_frame(stream, request).await?;
    match read_frame(stream).await? {
        Some(response) => Ok(response),
        None => Err(WireError::Io(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the peer closed the connection",
        ))),
    }
}

/// Sends one application request to the listener at `addr` and returns its answer; `secret` is the
/// cluster's shared secret when the listener authenticates its peers.
pub async fn call(
    addr: &str,
    request: Vec<u8>,
    timeout: Duration,
    secret: Option<&crate::Secret>,
) -> Result<Vec<u8>, Error> {
    let secret = secret.map(crate::Secret::bytes);
    let mut conn = None;
    let network = |reason: String| Error::Network {
        addr: addr.to_string(),
        reason,
    };
    match tokio::time::timeout(timeout, exchange(&mut conn, addr, secret, &Request::App(request))).await {
        Err(_) => Err(Error::Timeout(timeout)),
        Ok(Err(e)) => Err(network(e.to_string())),
        Ok(Ok(Response::App(bytes))) => Ok(bytes),
        Ok(Ok(_)) => Err(network("unexpected response to an application request".into())),
    }
}

/// Creates the per-target clients.
#[derive(Debug, Clone)]
pub(crate) struct Network {
    /// This node's id, for timeout errors.
    pub(crate) id: NodeId,
    /// The cluster's shared secret, when connections are authenticated.
    pub(crate) secret: Option<Secret>,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Client;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Client {
        Client {
            id: self.id,
            target,
            addr: node.addr.clone(),
            secret: self.secret.clone(),
            conn: None,
        }
    }
}

/// A client for one target that keeps one connection open and reconnects after an error.
#[derive(Debug)]
pub(crate) struct Client {
    id: NodeId,
    target: NodeId,
    addr: String,
    secret: Option<Secret>,
    conn: Option<BufStream<TcpStream>>,
}

impl Client {
    async fn send<E: std::error::Error>(
        &mut self,
        action: RPCTypes,
        request: Request,
        option: &RPCOption,
    ) -> Result<Response, RPCError<NodeId, BasicNode, E>> {
        let ttl = option.hard_ttl();
        match tokio::time::timeout(
            ttl,
            exchange(
                &mut self.conn,
                &self.addr,
                self.secret.as_deref().map(crate::Secret::bytes),
                &request,
            ),
        )
        .await
        {
            Err(_) => {
                self.conn = None;
                Err(RPCError::Timeout(openraft::error::Timeout {
                    action,
                    id: self.id,
                    target: self.target,
                    timeout: ttl,
                }))
            }
            Ok(Err(WireError::Io(e))) => {
                self.conn = None;
                Err(RPCError::Unreachable(Unreachable::new(&e)))
            }
            Ok(Err(WireError::Protocol(reason))) => {
                self.conn = None;
                Err(RPCError::Network(NetworkError::new(&std::io::Error::other(reason))))
            }
            Ok(Ok(response)) => Ok(response),
        }
    }

    fn unexpected<E: std::error::Error>(&mut self) -> RPCError<NodeId, BasicNode, E> {
        self.conn = None;
        RPCError::Network(NetworkError::new(&std::io::Error::other("unexpected response type")))
    }

    fn remote<E: std::error::Error>(&self, e: E) -> RPCError<NodeId, BasicNode, E> {
        RPCError::RemoteError(RemoteError::new_with_node(
            self.target,
            BasicNode::new(self.addr.clone()),
            e,
        ))
    }
}

impl RaftNetwork<TypeConfig> for Client {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        match self
            .send(RPCTypes::AppendEntries, Request::AppendEntries(rpc), &option)
            .await?
        {
            Response::AppendEntries(Ok(response)) => Ok(response),
            Response::AppendEntries(Err(e)) => Err(self.remote(e)),
            _ => Err(self.unexpected()),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>>
    {
        match self
            .send(RPCTypes::InstallSnapshot, Request::InstallSnapshot(rpc), &option)
            .await?
        {
            Response::InstallSnapshot(Ok(response)) => Ok(response),
            Response::InstallSnapshot(Err(e)) => Err(self.remote(e)),
            _ => Err(self.unexpected()),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        match self.send(RPCTypes::Vote, Request::Vote(rpc), &option).await? {
            Response::Vote(Ok(response)) => Ok(response),
            Response::Vote(Err(e)) => Err(self.remote(e)),
            _ => Err(self.unexpected()),
        }
    }
}
