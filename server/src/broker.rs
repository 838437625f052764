//! The broker: what every connection shares, and the entry point of request handling.
//!
//! `Broker` is the context the handlers (`apis/`) run in: the config, the cluster id, the
//! [`ReplicaManager`] that owns the partitions, the producer-id generator and the metrics. It holds no
//! partition state of its own. A handler turns one decoded request into a [`Reply`]; records it returns
//! from the log are [`protocol::Records::External`] entries that index into [`Reply::regions`], so the
//! connection writes them straight from the segment files (zero-copy).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use protocol::{Request, ResponseBody};
use storage::Slice;

use security::acl::{KafkaPrincipal, RequestContext};

pub use crate::auth::SecurityProtocol;
use crate::cluster::Cluster;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::replica_manager::ReplicaManager;
use crate::Error;

/// Where a request came from and who sent it: the advertised address of the listener it came in on
/// (Metadata and FindCoordinator send clients back through the same listener, as Kafka's per-listener
/// advertised addresses do), the client's own address and its principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// The advertised host.
    pub host: String,
    /// The advertised port.
    pub port: i32,
    /// The client's address, when known.
    pub peer: Option<SocketAddr>,
    /// The listener's security protocol (Metadata gives every broker's endpoint of the same listener).
    pub protocol: SecurityProtocol,
    /// Who the client is and where from, as the authorizer asks: the principal is `User:ANONYMOUS` until
    /// it authenticates (and on PLAINTEXT), the SASL user, or the mapped certificate subject on SSL. Built
    /// once per connection (and login), so authorizing allocates nothing.
    pub client: RequestContext,
    /// The API of the request being handled (authorization denials are counted by it).
    pub api: protocol::ApiKey,
}

impl Listener {
    /// A listener's template for its connections (anonymous, no peer yet).
    pub fn new(host: impl Into<String>, port: i32, protocol: SecurityProtocol) -> Listener {
        Listener {
            host: host.into(),
            port,
            peer: None,
            protocol,
            client: RequestContext::new(KafkaPrincipal::anonymous(), ""),
            api: protocol::ApiKey::ApiVersions,
        }
    }

    /// The name of the listener's endpoints.
    pub(crate) fn name(&self) -> &'static str {
        self.protocol.name()
    }
}

/// The rest of a request that waits as a delayed operation: it resolves to the final reply, and the
/// connection reads and handles its later requests meanwhile (responses still leave in request order).
pub type Deferred = std::pin::Pin<Box<dyn std::future::Future<Output = Reply> + Send + 'static>>;

/// A response body plus the file regions its external records refer to.
pub struct Reply {
    /// The body, or `None` when no response is sent (Produce with acks=0).
    pub body: Option<ResponseBody>,
    /// `Records::External { id }` refers to `regions[id]`.
    pub regions: Vec<Slice>,
    /// Close the connection after this request (acks=0 produce that failed, a refused request).
    pub close: bool,
    /// The request was refused without being handled (an API or version the broker does not advertise).
    pub refused: bool,
    /// How long the request waited as a delayed operation (its "remote" time in the metrics).
    pub remote: Duration,
    /// Set when the answer waits for something (an `acks=all` produce waiting for the high watermark):
    /// this reply's other fields are ignored and the deferred one is sent when ready.
    pub deferred: Option<Deferred>,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("body", &self.body)
            .field("regions", &self.regions)
            .field("close", &self.close)
            .field("refused", &self.refused)
            .field("remote", &self.remote)
            .field("deferred", &self.deferred.is_some())
            .finish()
    }
}

impl Reply {
    pub(crate) fn body(body: impl Into<ResponseBody>) -> Reply {
        Reply {
            body: Some(body.into()),
            regions: Vec::new(),
            close: false,
            refused: false,
            remote: Duration::ZERO,
            deferred: None,
        }
    }

    /// A reply that is the outcome of `wait` (see [`Deferred`]).
    pub(crate) fn deferred(wait: impl std::future::Future<Output = Reply> + Send + 'static) -> Reply {
        Reply {
            deferred: Some(Box::pin(wait)),
            ..Reply::none()
        }
    }

    /// No response.
    pub(crate) fn none() -> Reply {
        Reply {
            body: None,
            regions: Vec::new(),
            close: false,
            refused: false,
            remote: Duration::ZERO,
            deferred: None,
        }
    }

    /// A refused request: no response, and the connection is closed.
    pub(crate) fn refuse() -> Reply {
        Reply {
            body: None,
            regions: Vec::new(),
            close: true,
            refused: true,
            remote: Duration::ZERO,
            deferred: None,
        }
    }
}

/// The broker: everything connections share.
#[derive(Debug)]
pub struct Broker {
    pub(crate) config: Config,
    /// The plaintext listener's advertised address.
    pub(crate) advertised: (String, i32),
    pub(crate) cluster_id: String,
    /// The partitions, and the produce and fetch paths over them.
    pub(crate) replicas: Arc<ReplicaManager>,
    pub(crate) metrics: Arc<Metrics>,
    /// This node's seat in the metadata quorum: the image, the active controller, producer-id blocks.
    pub(crate) cluster: Arc<Cluster>,
    /// The metadata offset the local partitions have caught up with.
    pub(crate) metadata_applied: tokio::sync::watch::Sender<u64>,
    /// The advertised addresses of the other listeners (SSL, SASL_PLAINTEXT, SASL_SSL) there are.
    pub(crate) other_advertised: Vec<(SecurityProtocol, (String, i32))>,
    /// ACL enforcement, when `[authorizer] enabled`.
    pub(crate) authorization: Option<Arc<crate::auth::Authorization>>,
    /// The group coordinator, once `run` started it.
    pub(crate) groups: std::sync::OnceLock<crate::group::GroupCoordinator>,
}

impl Broker {
    /// Opens the data directory (recovering logs if needed) and builds the broker state; `metrics` says
    /// whether metrics are recorded (they are when there is a metrics listener). Blocking: run it on a
    /// blocking thread.
    pub(crate) fn open(
        config: Config,
        cluster_id: String,
        bound: SocketAddr,
        other_advertised: Vec<(SecurityProtocol, (String, i32))>,
        metrics: bool,
        cluster: Arc<Cluster>,
    ) -> Result<Broker, Error> {
        let metrics = Arc::new(Metrics::new(metrics));
        let replicas = Arc::new(ReplicaManager::open(&config, Arc::clone(&metrics))?);
        metrics.attach(&replicas, &cluster);
        let advertised = config.advertised(bound);
        let authorization = config.authorizer.enabled.then(|| {
            Arc::new(crate::auth::Authorization::new(
                config.authorizer.super_users.clone(),
                config.authorizer.allow_everyone_if_no_acl_found,
            ))
        });
        Ok(Broker {
            authorization,
            advertised,
            cluster_id,
            replicas,
            metrics,
            cluster,
            metadata_applied: tokio::sync::watch::channel(0).0,
            other_advertised,
            groups: std::sync::OnceLock::new(),
            config,
        })
    }

    /// The listeners this broker registers with the controller (Kafka's `RegisterBrokerRecord.EndPoints`).
    pub(crate) fn endpoints(&self) -> Vec<metadata::records::Endpoint> {
        let endpoint = |protocol: SecurityProtocol, (host, port): &(String, i32)| metadata::records::Endpoint {
            name: protocol.name().into(),
            host: host.clone(),
            port: u16::try_from(*port).unwrap_or(0),
            security_protocol: protocol.id(),
        };
        let mut endpoints = vec![endpoint(SecurityProtocol::Plaintext, &self.advertised)];
        for (protocol, address) in &self.other_advertised {
            endpoints.push(endpoint(*protocol, address));
        }
        endpoints
    }

    /// Sends a request to the active controller and, once it is answered, waits until the local partitions
    /// reflect what it wrote (so a created topic can be produced to as soon as its creation is answered).
    pub(crate) async fn controller_request(
        &self,
        request: crate::cluster::rpc::Request,
    ) -> Result<crate::cluster::rpc::Response, (protocol::ErrorCode, String)> {
        use crate::cluster::rpc::Response;
        let response = self.cluster.submit(request).await?;
        if let Response::Results { offset, .. }
        | Response::AlterPartition { offset, .. }
        | Response::AclsDeleted { offset, .. } = &response
        {
            self.wait_for_metadata(*offset).await;
        }
        Ok(response)
    }

    /// Waits (at most 10 s) until this broker applied the metadata up to `offset`.
    pub(crate) async fn wait_for_metadata(&self, offset: u64) {
        let mut applied = self.metadata_applied.subscribe();
        let caught_up = tokio::time::timeout(Duration::from_secs(10), applied.wait_for(|a| *a >= offset)).await;
        if !matches!(caught_up, Ok(Ok(_))) {
            tracing::warn!(
                offset,
                "the local partitions did not catch up with the controller's write in 10 s"
            );
        }
    }

    /// Creates topics through the active controller: one outcome per topic (its id), in order.
    pub(crate) async fn create_topics(
        &self,
        topics: Vec<crate::cluster::rpc::TopicSpec>,
        validate_only: bool,
    ) -> Vec<Result<Option<metadata::TopicId>, (protocol::ErrorCode, String)>> {
        use crate::cluster::rpc::{Request, Response};
        let n = topics.len();
        match self
            .controller_request(Request::CreateTopics { topics, validate_only })
            .await
        {
            Ok(Response::Results { results, .. }) if results.len() == n => results
                .into_iter()
                .map(|r| {
                    r.map_err(|(code, m)| {
                        (
                            protocol::ErrorCode::from_code(code).unwrap_or(protocol::ErrorCode::UnknownServerError),
                            m,
                        )
                    })
                })
                .collect(),
            Ok(other) => vec![Err(unexpected(&other)); n],
            Err(e) => vec![Err(e); n],
        }
    }

    /// Changes a topic's config overrides through the active controller: `change` computes the new set
    /// from the current one (or refuses with a reason: `INVALID_CONFIG`); the differences are written as
    /// config records. With `validate_only` nothing changes.
    pub(crate) async fn alter_topic_config(
        &self,
        name: &str,
        validate_only: bool,
        change: impl FnOnce(&crate::topic_config::TopicConfig) -> Result<crate::topic_config::TopicConfig, String>,
    ) -> Result<(), (protocol::ErrorCode, String)> {
        use crate::cluster::rpc::{Request, Response};
        let Some(topic) = self.replicas.topic(name) else {
            return Err((
                protocol::ErrorCode::UnknownTopicOrPartition,
                format!("the topic {name:?} does not exist"),
            ));
        };
        let next = change(&topic.config).map_err(|reason| (protocol::ErrorCode::InvalidConfig, reason))?;
        let changes = topic.config.changes_to(&next);
        if validate_only || changes.is_empty() {
            return Ok(());
        }
        let request = Request::AlterConfigs {
            topics: vec![(name.to_string(), changes)],
            validate_only,
        };
        match self.controller_request(request).await? {
            Response::Results { results, .. } => match results.into_iter().next() {
                Some(Ok(_)) => Ok(()),
                Some(Err((code, message))) => Err((
                    protocol::ErrorCode::from_code(code).unwrap_or(protocol::ErrorCode::UnknownServerError),
                    message,
                )),
                None => Err((protocol::ErrorCode::UnknownServerError, "no answer".into())),
            },
            other => Err(unexpected(&other)),
        }
    }

    /// Handles one request that came in through `listener`.
    pub async fn handle(&self, request: &Request, listener: &Listener) -> Reply {
        crate::apis::dispatch(self, request, listener).await
    }
}

/// An answer of the wrong kind (or a refusal) from the controller, as a Kafka error.
pub(crate) fn unexpected(response: &crate::cluster::rpc::Response) -> (protocol::ErrorCode, String) {
    match response {
        crate::cluster::rpc::Response::Error { code, message } => (
            protocol::ErrorCode::from_code(*code).unwrap_or(protocol::ErrorCode::UnknownServerError),
            message.clone(),
        ),
        other => (
            protocol::ErrorCode::UnknownServerError,
            format!("unexpected controller answer {other:?}"),
        ),
    }
}

pub(crate) fn storage_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Reads `meta.properties` (Kafka's file) for the cluster id, creating it on first start; run once, before
/// anything else opens the data directory. A directory that belongs to another node id is refused: that
/// node's partitions and Raft vote would be taken for this one's (Kafka refuses too). Every node of a
/// configured quorum derives the same id from the voter list (Kafka formats each node's storage with one
/// id); a single node draws a random one.
pub(crate) fn cluster_id(config: &Config) -> Result<String, Error> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let (data_dir, node_id) = (&config.data_dir, config.node_id);
    let path = data_dir.join("meta.properties");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let owner = text.lines().find_map(|l| l.strip_prefix("node.id="));
        if let Some(owner) = owner
            .and_then(|o| o.trim().parse::<i32>().ok())
            .filter(|o| *o != node_id)
        {
            return Err(Error::Config(crate::ConfigError::Value {
                key: "node_id",
                reason: format!(
                    "the data directory {} belongs to node {owner}, not {node_id} (meta.properties)",
                    data_dir.display()
                ),
            }));
        }
        if let Some(id) = text.lines().find_map(|l| l.strip_prefix("cluster.id=")) {
            return Ok(id.trim().to_string());
        }
    }
    // 16 bytes from the voters, or the clock and the process; base64url without padding like Kafka's
    // 22-character ids.
    let seed = match &config.controller {
        Some(c) => {
            let mut voters = c.quorum_voters.clone();
            voters.sort();
            voters.join(",").bytes().fold(0xcbf2_9ce4_8422_2325_u128, |h, b| {
                (h ^ u128::from(b)).wrapping_mul(0x0100_0000_01b3)
            })
        }
        None => (storage_now_ms() as u128) << 32 ^ u128::from(std::process::id()) ^ (&path as *const _ as u128),
    };
    let mut x = seed | 1;
    let mut bytes = [0u8; 16];
    for b in &mut bytes {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let id = URL_SAFE_NO_PAD.encode(bytes);
    std::fs::create_dir_all(data_dir).map_err(|source| Error::Io {
        op: "creating",
        path: data_dir.clone(),
        source,
    })?;
    let text = format!("#\n#kzero\nversion=1\nnode.id={node_id}\ncluster.id={id}\n");
    std::fs::write(&path, text).map_err(|source| Error::Io {
        op: "writing",
        path: path.clone(),
        source,
    })?;
    Ok(id)
}
