//! A small blocking Kafka client: one TCP connection per broker, ApiVersions negotiation, framing,
//! correlation ids, and the cluster view (brokers and partition leaders) from Metadata.
//!
//! Every request goes out at the highest version both the broker advertises and the protocol crate
//! implements, so the same code talks to kzero and to Apache Kafka.
//! Errors are worded for a person: `cannot connect to 127.0.0.1:9092: connection refused`.
//! With SASL settings, every connection (bootstrap and per broker) authenticates right after ApiVersions
//! ([`crate::sasl`]).

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use bytes::{Bytes, BytesMut};
use protocol::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, ErrorCode, MetadataRequest, MetadataRequestTopic,
    MetadataResponse, Request, RequestBody, RequestHeader, Response, ResponseBody,
};

use crate::sasl::SaslConfig;

/// The client id sent in every request header.
pub const CLIENT_ID: &str = "kzero";

/// Connection settings shared by every subcommand that talks to brokers.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Comma-separated `host:port` list.
    pub bootstrap: String,
    /// How long to wait for a connection and for each response.
    pub timeout: Duration,
    /// How every connection authenticates; `None` for none (PLAINTEXT listeners).
    pub sasl: Option<SaslConfig>,
}

/// The version ranges a broker advertised, by api key.
#[derive(Debug, Clone, Default)]
pub struct Versions(HashMap<i16, (i16, i16)>);

impl Versions {
    /// True if the broker advertises `api` at all.
    pub fn advertises(&self, api: ApiKey) -> bool {
        self.0.contains_key(&(api as i16))
    }

    /// The highest version of `api` that both the broker advertises and the protocol crate implements.
    pub fn pick(&self, api: ApiKey, addr: &str) -> Result<i16> {
        let Some(&(bmin, bmax)) = self.0.get(&(api as i16)) else {
            bail!("the broker at {addr} does not support {} requests", api.name());
        };
        // At most the range kzero itself advertises, and below the versions that name topics only by id
        // (this tool names topics by name; every broker still accepts the older versions).
        let imin = api.info().implemented.0;
        let imax = api.info().advertised.1.min(by_name_max(api));
        let v = bmax.min(imax);
        if v < bmin.max(imin) {
            bail!(
                "no common {} version with the broker at {addr}: it supports {bmin}-{bmax}, kzero implements {imin}-{imax}",
                api.name()
            );
        }
        Ok(v)
    }
}

/// The last version of `api` that names topics by name: Produce v13, Fetch v13 and DeleteTopics v6 name
/// them by id only.
fn by_name_max(api: ApiKey) -> i16 {
    match api {
        ApiKey::Produce | ApiKey::Fetch => 12,
        ApiKey::DeleteTopics => 5,
        _ => i16::MAX,
    }
}

/// Why a socket operation failed, in a few lowercase words (no "os error 111").
pub fn io_reason(e: &io::Error) -> String {
    use io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "connection refused".into(),
        ConnectionReset => "connection reset by the broker".into(),
        ConnectionAborted => "connection aborted".into(),
        TimedOut | WouldBlock => "timed out".into(),
        UnexpectedEof => "the broker closed the connection".into(),
        BrokenPipe => "the broker closed the connection".into(),
        AddrNotAvailable => "address not available".into(),
        HostUnreachable => "host unreachable".into(),
        NetworkUnreachable => "network unreachable".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_lowercase(),
                None => s,
            }
        }
    }
}

/// Resolves and connects to `addr` (`host:port`) within `timeout`.
pub fn connect_tcp(addr: &str, timeout: Duration) -> Result<TcpStream> {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| anyhow!("cannot connect to {addr}: {}", resolve_reason(&e)))?
        .collect();
    let mut last = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, timeout) {
            Ok(s) => {
                s.set_nodelay(true).ok();
                s.set_read_timeout(Some(timeout)).ok();
                s.set_write_timeout(Some(timeout)).ok();
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    match last {
        Some(e) => bail!("cannot connect to {addr}: {}", io_reason(&e)),
        None => bail!("cannot connect to {addr}: the name resolves to no address"),
    }
}

fn resolve_reason(e: &io::Error) -> String {
    let s = e.to_string();
    if s.contains("invalid socket address") || s.contains("invalid port") {
        "expected HOST:PORT".into()
    } else if s.contains("failed to lookup") || s.contains("Name or service not known") {
        "unknown host".into()
    } else {
        io_reason(e)
    }
}

/// Appends one request frame (size prefix, header with our client id, body) to `buf`.
pub fn encode_request(
    buf: &mut BytesMut,
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    body: RequestBody,
) -> Result<()> {
    let mut header = RequestHeader::new(api, version, correlation_id);
    header.client_id = Some(CLIENT_ID.to_string());
    Request { header, body }
        .encode(buf)
        .map_err(|e| anyhow!("cannot encode a {} v{version} request: {e}", api.name()))
}

/// Reads response frames into one reused buffer.
///
/// A frame is handed out as [`Bytes`] that share the buffer (no copy); once the caller drops them, the
/// next frame is read into the same memory, which is never zero-filled again. If the previous frame is
/// still alive, a new buffer is made.
#[derive(Debug, Default)]
pub struct FrameReader {
    buf: Arc<Vec<u8>>,
}

/// The owner of a frame's bytes: the shared buffer and how much of it the frame uses.
struct Frame {
    buf: Arc<Vec<u8>>,
    len: usize,
}

impl AsRef<[u8]> for Frame {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl FrameReader {
    /// Reads one frame and returns it without its size prefix.
    pub fn read(&mut self, stream: &mut impl Read, addr: &str) -> Result<Bytes> {
        let mut size = [0u8; 4];
        stream
            .read_exact(&mut size)
            .map_err(|e| anyhow!("lost the connection to {addr}: {}", io_reason(&e)))?;
        let size = i32::from_be_bytes(size);
        if !(4..=1 << 30).contains(&size) {
            bail!("the broker at {addr} sent a frame of invalid size {size} (is it a Kafka listener?)");
        }
        let size = size as usize;
        if Arc::get_mut(&mut self.buf).is_none() {
            self.buf = Arc::new(Vec::new());
        }
        let buf = Arc::get_mut(&mut self.buf).ok_or_else(|| anyhow!("frame buffer still shared"))?;
        if buf.len() < size {
            buf.resize(size, 0);
        }
        stream
            .read_exact(&mut buf[..size])
            .map_err(|e| anyhow!("lost the connection to {addr}: {}", io_reason(&e)))?;
        Ok(Bytes::from_owner(Frame {
            buf: Arc::clone(&self.buf),
            len: size,
        }))
    }
}

/// The correlation id at the start of a response frame.
pub fn correlation_id(frame: &[u8]) -> i32 {
    frame
        .get(..4)
        .map_or(-1, |b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// One connection to one broker, after ApiVersions.
#[derive(Debug)]
pub struct Conn {
    /// `host:port` as given or advertised, for messages.
    pub addr: String,
    stream: TcpStream,
    /// What the broker advertised.
    pub versions: Versions,
    next_id: i32,
    out: BytesMut,
    frames: FrameReader,
}

impl Conn {
    /// Connects, negotiates versions and authenticates if the settings say how.
    pub fn connect(addr: &str, settings: &Settings) -> Result<Conn> {
        let stream = connect_tcp(addr, settings.timeout)?;
        let mut conn = Conn {
            addr: addr.to_string(),
            stream,
            versions: Versions::default(),
            next_id: 1,
            out: BytesMut::with_capacity(4096),
            frames: FrameReader::default(),
        };
        conn.negotiate()?;
        if let Some(sasl) = &settings.sasl {
            crate::sasl::authenticate(&mut conn, sasl)?;
        }
        Ok(conn)
    }

    fn negotiate(&mut self) -> Result<()> {
        let mut version = ApiKey::ApiVersions.info().implemented.1;
        for _ in 0..3 {
            let body = ApiVersionsRequest {
                client_software_name: CLIENT_ID.into(),
                client_software_version: env!("CARGO_PKG_VERSION").into(),
                ..ApiVersionsRequest::default()
            };
            let id = self
                .send(ApiKey::ApiVersions, version, body.into())
                .map_err(|e| self.handshake_error(e))?;
            let frame = self
                .frames
                .read(&mut self.stream, &self.addr)
                .map_err(|e| self.handshake_error(e))?;
            if correlation_id(&frame) != id {
                bail!(
                    "the broker at {} answered ApiVersions out of order (is it a Kafka listener?)",
                    self.addr
                );
            }
            // A broker that does not know our version answers in v0 with UNSUPPORTED_VERSION and its range.
            let decoded = Response::decode(ApiKey::ApiVersions, version, frame.clone())
                .ok()
                .and_then(|r| match r.body {
                    ResponseBody::ApiVersions(b) => Some(b),
                    _ => None,
                })
                .filter(|b| b.error_code == 0);
            let response = match decoded {
                Some(r) => r,
                None => {
                    let r = Response::decode(ApiKey::ApiVersions, 0, frame).map_err(|e| {
                        anyhow!(
                            "the broker at {} sent an ApiVersions response kzero cannot read: {e}",
                            self.addr
                        )
                    })?;
                    let ResponseBody::ApiVersions(b) = r.body else {
                        bail!("unexpected response to ApiVersions");
                    };
                    if b.error_code != ErrorCode::UnsupportedVersion.code() {
                        bail!(
                            "the broker at {} refused ApiVersions: {}",
                            self.addr,
                            code_name(b.error_code)
                        );
                    }
                    let theirs = range_of(&b, ApiKey::ApiVersions).map_or(0, |(_, max)| max);
                    let next = theirs.min(ApiKey::ApiVersions.info().implemented.1);
                    if next >= version {
                        bail!("the broker at {} refused ApiVersions v{version}", self.addr);
                    }
                    version = next;
                    continue;
                }
            };
            self.versions = Versions(
                response
                    .api_keys
                    .iter()
                    .map(|a| (a.api_key, (a.min_version, a.max_version)))
                    .collect(),
            );
            return Ok(());
        }
        bail!("the broker at {} did not agree on an ApiVersions version", self.addr)
    }

    fn handshake_error(&self, e: anyhow::Error) -> anyhow::Error {
        let msg = e.to_string();
        if msg.contains("closed the connection") || msg.contains("reset") {
            anyhow!(
                "the broker at {} closed the connection during the ApiVersions handshake (is it a TLS or SASL listener?)",
                self.addr
            )
        } else {
            e
        }
    }

    /// The version to use for `api`.
    pub fn version(&self, api: ApiKey) -> Result<i16> {
        self.versions.pick(api, &self.addr)
    }

    /// Writes one request; returns its correlation id.
    pub fn send(&mut self, api: ApiKey, version: i16, body: RequestBody) -> Result<i32> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.out.clear();
        encode_request(&mut self.out, api, version, id, body)?;
        self.stream
            .write_all(&self.out)
            .map_err(|e| anyhow!("lost the connection to {}: {}", self.addr, io_reason(&e)))?;
        Ok(id)
    }

    /// Reads the response to request `id` of `api` at `version`.
    pub fn recv(&mut self, api: ApiKey, version: i16, id: i32) -> Result<ResponseBody> {
        let frame = self.frames.read(&mut self.stream, &self.addr)?;
        let got = correlation_id(&frame);
        if got != id {
            bail!(
                "the broker at {} answered correlation id {got} where {id} was expected",
                self.addr
            );
        }
        let response = Response::decode(api, version, frame)
            .map_err(|e| anyhow!("cannot read the {} response from {}: {e}", api.name(), self.addr))?;
        Ok(response.body)
    }

    /// Sends `body` at the negotiated version and waits for its response.
    pub fn call(&mut self, body: impl Into<RequestBody>) -> Result<ResponseBody> {
        self.call_versioned(body).map(|(_, r)| r)
    }

    /// Like [`Conn::call`], also returning the version used (for responses whose layout changed).
    pub fn call_versioned(&mut self, body: impl Into<RequestBody>) -> Result<(i16, ResponseBody)> {
        let body = body.into();
        let api = body.api_key();
        let version = self.version(api)?;
        let id = self.send(api, version, body)?;
        Ok((version, self.recv(api, version, id)?))
    }

    /// Sends `body` and waits up to `wait` for its response (JoinGroup and SyncGroup wait for a rebalance,
    /// which may take longer than an ordinary request), then restores the usual timeout.
    pub fn call_waiting(
        &mut self,
        body: impl Into<RequestBody>,
        wait: Duration,
        usual: Duration,
    ) -> Result<(i16, ResponseBody)> {
        self.stream.set_read_timeout(Some(wait.max(usual))).ok();
        let result = self.call_versioned(body);
        self.stream.set_read_timeout(Some(usual)).ok();
        result
    }

    /// Sends `body` at the negotiated version and expects no response (Produce with acks=0).
    pub fn call_no_response(&mut self, body: impl Into<RequestBody>) -> Result<()> {
        let body = body.into();
        let api = body.api_key();
        let version = self.version(api)?;
        self.send(api, version, body).map(drop)
    }

    /// The underlying stream, for callers that pipeline (bench).
    pub fn into_stream(self) -> TcpStream {
        self.stream
    }
}

fn range_of(r: &ApiVersionsResponse, api: ApiKey) -> Option<(i16, i16)> {
    r.api_keys
        .iter()
        .find(|a| a.api_key == api as i16)
        .map(|a| (a.min_version, a.max_version))
}

/// Kafka's name for an error code, e.g. `UNKNOWN_TOPIC_OR_PARTITION`.
pub fn code_name(code: i16) -> String {
    match ErrorCode::from_code(code) {
        Some(c) => c.name().to_string(),
        None => format!("error code {code}"),
    }
}

/// A broker error as `NAME: message`, or the name alone when the broker sent no message.
pub fn error_text(code: i16, message: Option<&str>) -> String {
    match message.filter(|m| !m.is_empty()) {
        Some(m) => format!("{}: {m}", code_name(code)),
        None => code_name(code),
    }
}

/// A person's description of a broker error about `topic` (no trailing context).
pub fn topic_error(topic: &str, code: i16) -> String {
    match ErrorCode::from_code(code) {
        Some(ErrorCode::UnknownTopicOrPartition) => format!("unknown topic {topic:?}"),
        Some(ErrorCode::InvalidTopicException) => format!("invalid topic name {topic:?}"),
        Some(ErrorCode::TopicAuthorizationFailed) => format!("not authorized to access topic {topic:?}"),
        Some(ErrorCode::TopicAlreadyExists) => format!("topic {topic:?} already exists"),
        Some(ErrorCode::LeaderNotAvailable) => format!("topic {topic:?} has no leader yet (LEADER_NOT_AVAILABLE)"),
        _ => format!("topic {topic:?}: {}", code_name(code)),
    }
}

/// A partition: its leader's node id, replicas and ISR.
#[derive(Debug, Clone)]
pub struct PartitionInfo {
    /// The partition index.
    pub partition: i32,
    /// The leader's node id (-1 if none).
    pub leader: i32,
    /// All replicas.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// Replicas on brokers that are down (fenced or unregistered).
    pub offline: Vec<i32>,
    /// The partition's error code.
    pub error_code: i16,
}

/// A topic's partitions, sorted by index.
#[derive(Debug, Clone)]
pub struct TopicInfo {
    /// The topic name.
    pub name: String,
    /// Its partitions.
    pub partitions: Vec<PartitionInfo>,
}

/// Connections to a cluster: the bootstrap broker plus one per leader, and the broker addresses.
#[derive(Debug)]
pub struct Client {
    /// The settings this client was made with.
    pub settings: Settings,
    bootstrap: Conn,
    brokers: BTreeMap<i32, String>,
    conns: HashMap<i32, Conn>,
}

impl Client {
    /// Connects to the first reachable bootstrap server.
    pub fn connect(settings: &Settings) -> Result<Client> {
        let mut last = None;
        for addr in settings.bootstrap.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match Conn::connect(addr, settings) {
                Ok(c) => {
                    return Ok(Client {
                        settings: settings.clone(),
                        bootstrap: c,
                        brokers: BTreeMap::new(),
                        conns: HashMap::new(),
                    })
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow!("no bootstrap server given")))
    }

    /// The bootstrap connection.
    pub fn bootstrap(&mut self) -> &mut Conn {
        &mut self.bootstrap
    }

    /// Metadata for `topics` (all topics if `None`); brokers are remembered for [`Client::leader`].
    pub fn metadata(&mut self, topics: Option<&[String]>, auto_create: bool) -> Result<MetadataResponse> {
        let request = MetadataRequest {
            topics: topics.map(|t| {
                t.iter()
                    .map(|name| MetadataRequestTopic {
                        name: Some(name.clone()),
                        ..MetadataRequestTopic::default()
                    })
                    .collect()
            }),
            allow_auto_topic_creation: auto_create,
            ..MetadataRequest::default()
        };
        // Metadata v0 reads an empty list as "all topics", so ask for an explicit list only when non-empty.
        let ResponseBody::Metadata(m) = self.bootstrap.call(request)? else {
            bail!("unexpected response to Metadata");
        };
        for b in &m.brokers {
            self.brokers.insert(b.node_id, format!("{}:{}", b.host, b.port));
        }
        Ok(m)
    }

    /// One topic's partitions, waiting a little while a freshly created topic has no leaders yet.
    pub fn topic(&mut self, topic: &str, auto_create: bool) -> Result<TopicInfo> {
        let names = [topic.to_string()];
        let mut tries = 0;
        loop {
            let m = self.metadata(Some(&names), auto_create)?;
            let t = m
                .topics
                .into_iter()
                .find(|t| t.name.as_deref() == Some(topic))
                .ok_or_else(|| anyhow!("the broker did not describe topic {topic:?}"))?;
            let retriable = ErrorCode::from_code(t.error_code).is_some_and(ErrorCode::is_retriable)
                && t.error_code != ErrorCode::UnknownTopicOrPartition.code();
            let leaderless = t.error_code == 0 && t.partitions.iter().any(|p| p.leader_id < 0);
            if (retriable || leaderless || (t.error_code == 0 && t.partitions.is_empty())) && tries < 20 {
                tries += 1;
                std::thread::sleep(Duration::from_millis(100 * tries.min(5)));
                continue;
            }
            if t.error_code != 0 {
                bail!("{}", topic_error(topic, t.error_code));
            }
            return Ok(topic_info(t));
        }
    }

    /// Every broker the last Metadata response named: node id and `host:port`.
    pub fn brokers(&self) -> &BTreeMap<i32, String> {
        &self.brokers
    }

    /// The connection to broker `node`.
    pub fn leader(&mut self, node: i32) -> Result<&mut Conn> {
        match self.conns.entry(node) {
            std::collections::hash_map::Entry::Occupied(e) => Ok(e.into_mut()),
            std::collections::hash_map::Entry::Vacant(e) => {
                let addr = self
                    .brokers
                    .get(&node)
                    .ok_or_else(|| anyhow!("no address known for broker {node}"))?;
                Ok(e.insert(Conn::connect(addr, &self.settings)?))
            }
        }
    }
}

/// Converts a Metadata topic into a sorted [`TopicInfo`].
pub fn topic_info(t: protocol::MetadataResponseTopic) -> TopicInfo {
    let mut partitions: Vec<PartitionInfo> = t
        .partitions
        .into_iter()
        .map(|p| PartitionInfo {
            partition: p.partition_index,
            leader: p.leader_id,
            replicas: p.replica_nodes,
            isr: p.isr_nodes,
            offline: p.offline_replicas,
            error_code: p.error_code,
        })
        .collect();
    partitions.sort_by_key(|p| p.partition);
    TopicInfo {
        name: t.name.unwrap_or_default(),
        partitions,
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Client {
    /// ListOffsets for some partitions of `topic` at `timestamp` (-1 latest, -2 earliest, else the first
    /// offset at or after that time), asking each partition's leader. Returns partition -> offset, with
    /// -1 where no record is that recent.
    pub fn list_offsets(
        &mut self,
        topic: &str,
        partitions: &[PartitionInfo],
        timestamp: i64,
    ) -> Result<BTreeMap<i32, i64>> {
        let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
        for p in partitions {
            if p.leader < 0 {
                bail!("partition {} of topic {topic:?} has no leader", p.partition);
            }
            by_leader.entry(p.leader).or_default().push(p.partition);
        }
        let mut out = BTreeMap::new();
        for (leader, parts) in by_leader {
            let request = protocol::ListOffsetsRequest {
                replica_id: -1,
                topics: vec![protocol::ListOffsetsTopic {
                    name: topic.to_string(),
                    partitions: parts
                        .iter()
                        .map(|&p| protocol::ListOffsetsPartition {
                            partition_index: p,
                            timestamp,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            };
            let ResponseBody::ListOffsets(r) = self.leader(leader)?.call(request)? else {
                bail!("unexpected response to ListOffsets");
            };
            for t in r.topics {
                for p in t.partitions {
                    if p.error_code != 0 {
                        bail!(
                            "cannot list offsets of {topic:?} partition {}: {}",
                            p.partition_index,
                            if p.error_code == ErrorCode::UnknownTopicOrPartition.code() {
                                topic_error(topic, p.error_code)
                            } else {
                                code_name(p.error_code)
                            }
                        );
                    }
                    out.insert(p.partition_index, p.offset);
                }
            }
        }
        Ok(out)
    }
}
