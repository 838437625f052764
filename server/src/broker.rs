//! The broker's shared state and request dispatch.
//!
//! A handler turns one decoded request into a response body; records it returns from the log are
//! [`protocol::Records::External`] entries that index into the [`Reply::regions`] list, so the connection
//! writes them straight from the segment files (zero-copy).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use protocol::{
    ApiKey, ApiVersion, ApiVersionsResponse, CreatableTopicResult, CreateTopicsRequest, CreateTopicsResponse,
    DeletableTopicResult, DeleteTopicsRequest, DeleteTopicsResponse, ErrorCode, InitProducerIdRequest,
    InitProducerIdResponse, MetadataRequest, MetadataResponse, MetadataResponseBroker, MetadataResponsePartition,
    MetadataResponseTopic, Request, RequestBody, ResponseBody,
};
use storage::{is_valid_topic_name, LogManager, Slice};

use crate::config::Config;
use crate::metrics::Metrics;
use crate::produce::ProducerStates;
use crate::topic_config::TopicConfig;
use crate::Error;

/// The APIs this broker handles; ApiVersions advertises exactly these (with the codec's ranges).
pub const HANDLED_APIS: &[ApiKey] = &[
    ApiKey::Produce,
    ApiKey::Fetch,
    ApiKey::ListOffsets,
    ApiKey::Metadata,
    ApiKey::ApiVersions,
    ApiKey::CreateTopics,
    ApiKey::DeleteTopics,
    ApiKey::InitProducerId,
    ApiKey::DescribeConfigs,
];

/// A response body plus the file regions its external records refer to.
#[derive(Debug)]
pub struct Reply {
    /// The body, or `None` when no response is sent (Produce with acks=0).
    pub body: Option<ResponseBody>,
    /// `Records::External { id }` refers to `regions[id]`.
    pub regions: Vec<Slice>,
    /// Close the connection after this request (acks=0 produce that failed).
    pub close: bool,
}

impl Reply {
    pub(crate) fn body(body: impl Into<ResponseBody>) -> Reply {
        Reply {
            body: Some(body.into()),
            regions: Vec::new(),
            close: false,
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
    pub(crate) logs: LogManager,
    /// Topic -> partition count. Changed only under this lock (create/delete).
    pub(crate) topics: Mutex<BTreeMap<String, i32>>,
    /// Topic -> its config overrides (topics without overrides are absent).
    pub(crate) topic_configs: Mutex<BTreeMap<String, TopicConfig>>,
    pub(crate) producers: ProducerStates,
    next_producer_id: AtomicI64,
    /// Fetches waiting for `min_bytes`, woken by appends to their partitions.
    pub(crate) fetch_waiters: crate::fetch::FetchWaiters,
    pub(crate) metrics: Metrics,
}

impl Broker {
    /// Opens the data directory (recovering logs if needed) and builds the broker state.
    pub fn open(config: Config, bound: SocketAddr) -> Result<Broker, Error> {
        let log_config = config.log_config();
        let topic_configs = TopicConfig::load_all(&config.data_dir)?;
        let (logs, reports) = LogManager::open(&config.data_dir, |topic| {
            topic_configs
                .get(topic)
                .map_or_else(|| log_config.clone(), |c| c.apply(log_config.clone()))
        })?;
        for ((topic, partition), report) in &reports {
            if !report.recovered_segments.is_empty() {
                tracing::info!(
                    topic,
                    partition,
                    segments = report.recovered_segments.len(),
                    truncated_bytes = report.truncated_bytes,
                    "recovered partition log"
                );
            }
        }
        let mut topics = BTreeMap::new();
        for (topic, partition) in logs.list() {
            let n = topics.entry(topic).or_insert(0);
            *n = (*n).max(partition + 1);
        }
        let cluster_id = cluster_id(&config.data_dir, config.node_id)?;
        let advertised = config.advertised(bound);
        // Producer ids must not repeat across restarts: start above anything handed out before.
        let start_pid = storage_now_ms() * 1000;
        Ok(Broker {
            advertised,
            cluster_id,
            logs,
            topics: Mutex::new(topics),
            topic_configs: Mutex::new(topic_configs),
            producers: ProducerStates::default(),
            next_producer_id: AtomicI64::new(start_pid),
            fetch_waiters: crate::fetch::FetchWaiters::default(),
            metrics: Metrics::default(),
            config,
        })
    }

    /// The partition count of a topic.
    pub(crate) fn partitions(&self, topic: &str) -> Option<i32> {
        self.topics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(topic)
            .copied()
    }

    /// The log of an existing partition.
    pub(crate) fn log(&self, topic: &str, partition: i32) -> Option<std::sync::Arc<storage::Log>> {
        let count = self.partitions(topic)?;
        (0..count)
            .contains(&partition)
            .then(|| self.logs.get(topic, partition))
            .flatten()
    }

    /// Creates a topic with `partitions` partitions. Returns the error code for CreateTopics.
    pub(crate) fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        config: TopicConfig,
    ) -> Result<(), (ErrorCode, String)> {
        if !is_valid_topic_name(name) {
            return Err((ErrorCode::InvalidTopicException, format!("invalid topic name {name:?}")));
        }
        if partitions < 1 {
            return Err((ErrorCode::InvalidPartitions, format!("{partitions} partitions")));
        }
        let mut topics = self.topics.lock().unwrap_or_else(|p| p.into_inner());
        if topics.contains_key(name) {
            return Err((ErrorCode::TopicAlreadyExists, format!("topic {name:?} already exists")));
        }
        if let Err(e) = config.save(&self.config.data_dir, name) {
            return Err((ErrorCode::KafkaStorageError, e.to_string()));
        }
        let log_config = config.apply(self.config.log_config());
        for p in 0..partitions {
            if let Err(e) = self.logs.create(name, p, log_config.clone()) {
                tracing::error!(topic = name, partition = p, error = %e, "cannot create partition log");
                for q in 0..p {
                    let _ = self.logs.delete(name, q);
                }
                let _ = TopicConfig::remove(&self.config.data_dir, name);
                return Err((ErrorCode::KafkaStorageError, e.to_string()));
            }
        }
        if !config.overrides.is_empty() {
            self.topic_configs
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(name.to_string(), config);
        }
        topics.insert(name.to_string(), partitions);
        tracing::info!(topic = name, partitions, "created topic");
        Ok(())
    }

    /// Auto-creates `name` if allowed; returns its partition count or the error code.
    pub(crate) fn topic_or_create(&self, name: &str, allow: bool) -> Result<i32, ErrorCode> {
        if let Some(n) = self.partitions(name) {
            return Ok(n);
        }
        if !is_valid_topic_name(name) {
            return Err(ErrorCode::InvalidTopicException);
        }
        if !(allow && self.config.auto_create_topics) {
            return Err(ErrorCode::UnknownTopicOrPartition);
        }
        match self.create_topic(name, self.config.num_partitions, TopicConfig::default()) {
            Ok(()) => Ok(self.config.num_partitions),
            Err((ErrorCode::TopicAlreadyExists, _)) => self.partitions(name).ok_or(ErrorCode::UnknownTopicOrPartition),
            Err((code, _)) => Err(code),
        }
    }

    /// Handles one request.
    /// `listener` is the advertised `(host, port)` of the listener the request came in on: Metadata tells
    /// clients to come back through the same listener (as Kafka's per-listener advertised addresses do).
    pub async fn handle(&self, request: &Request, listener: &(String, i32)) -> Reply {
        let version = request.header.api_version;
        match &request.body {
            RequestBody::ApiVersions(r) => Reply::body(self.api_versions(request, r)),
            RequestBody::Metadata(r) => Reply::body(self.metadata(r, version, listener)),
            RequestBody::Produce(r) => self.produce(r, version),
            RequestBody::Fetch(r) => self.fetch(r, version).await,
            RequestBody::ListOffsets(r) => Reply::body(self.list_offsets(r)),
            RequestBody::CreateTopics(r) => Reply::body(self.create_topics(r)),
            RequestBody::DeleteTopics(r) => Reply::body(self.delete_topics(r)),
            RequestBody::InitProducerId(r) => Reply::body(self.init_producer_id(r)),
            RequestBody::DescribeConfigs(r) => Reply::body(self.describe_configs(r)),
            other => {
                // Not advertised, so a client should never send it; Kafka closes the connection.
                tracing::warn!(
                    api = other.api_key().name(),
                    "request for an API this broker does not handle"
                );
                Reply {
                    body: None,
                    regions: Vec::new(),
                    close: true,
                }
            }
        }
    }

    fn api_versions(&self, request: &Request, r: &protocol::ApiVersionsRequest) -> ApiVersionsResponse {
        if request.response_version() != request.header.api_version {
            return ApiVersionsResponse::unsupported_version();
        }
        if request.header.api_version >= 3 && !r.has_valid_software_names() {
            return ApiVersionsResponse {
                error_code: ErrorCode::InvalidRequest.code(),
                ..ApiVersionsResponse::default()
            };
        }
        ApiVersionsResponse {
            api_keys: HANDLED_APIS
                .iter()
                .map(|api| {
                    let (min, max) = api.info().advertised;
                    ApiVersion {
                        api_key: *api as i16,
                        min_version: min,
                        max_version: max,
                        ..ApiVersion::default()
                    }
                })
                .collect(),
            ..ApiVersionsResponse::default()
        }
    }

    fn metadata(&self, r: &MetadataRequest, version: i16, listener: &(String, i32)) -> MetadataResponse {
        let names: Vec<String> = match &r.topics {
            // v0: an empty list means every topic; v1+: null means every topic.
            None => self.all_topics(),
            Some(t) if t.is_empty() && version == 0 => self.all_topics(),
            Some(t) => t.iter().map(|t| t.name.clone()).collect(),
        };
        let allow_create = r.topics.is_some() && (version < 4 || r.allow_auto_topic_creation);
        let node = self.config.node_id;
        let topics = names
            .into_iter()
            .map(|name| match self.topic_or_create(&name, allow_create) {
                Ok(n) => MetadataResponseTopic {
                    name,
                    partitions: (0..n)
                        .map(|p| MetadataResponsePartition {
                            partition_index: p,
                            leader_id: node,
                            replica_nodes: vec![node],
                            isr_nodes: vec![node],
                            ..MetadataResponsePartition::default()
                        })
                        .collect(),
                    ..MetadataResponseTopic::default()
                },
                Err(code) => MetadataResponseTopic {
                    error_code: code.code(),
                    name,
                    ..MetadataResponseTopic::default()
                },
            })
            .collect();
        MetadataResponse {
            brokers: vec![MetadataResponseBroker {
                node_id: node,
                host: listener.0.clone(),
                port: listener.1,
                ..MetadataResponseBroker::default()
            }],
            cluster_id: Some(self.cluster_id.clone()),
            controller_id: node,
            topics,
            ..MetadataResponse::default()
        }
    }

    fn all_topics(&self) -> Vec<String> {
        self.topics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    fn create_topics(&self, r: &CreateTopicsRequest) -> CreateTopicsResponse {
        let topics = r
            .topics
            .iter()
            .map(|t| {
                let result = |code: ErrorCode, message: Option<String>| CreatableTopicResult {
                    name: t.name.clone(),
                    error_code: code.code(),
                    error_message: message,
                    ..CreatableTopicResult::default()
                };
                let partitions = if t.num_partitions == -1 {
                    self.config.num_partitions
                } else {
                    t.num_partitions
                };
                if !t.assignments.is_empty() {
                    return result(
                        ErrorCode::InvalidReplicaAssignment,
                        Some("manual replica assignments are not supported by a single broker".into()),
                    );
                }
                if t.replication_factor != -1 && t.replication_factor != 1 {
                    return result(
                        ErrorCode::InvalidReplicationFactor,
                        Some(format!(
                            "replication factor {} is larger than the 1 available broker",
                            t.replication_factor
                        )),
                    );
                }
                let config = match TopicConfig::parse(t.configs.iter().map(|c| (c.name.as_str(), c.value.as_deref()))) {
                    Ok(config) => config,
                    Err(reason) => return result(ErrorCode::InvalidConfig, Some(reason)),
                };
                if partitions < 1 {
                    return result(ErrorCode::InvalidPartitions, Some(format!("{partitions} partitions")));
                }
                if r.validate_only {
                    return match self.partitions(&t.name) {
                        Some(_) => result(
                            ErrorCode::TopicAlreadyExists,
                            Some(format!("topic {:?} already exists", t.name)),
                        ),
                        None => result(ErrorCode::None, None),
                    };
                }
                match self.create_topic(&t.name, partitions, config) {
                    Ok(()) => result(ErrorCode::None, None),
                    Err((code, message)) => result(code, Some(message)),
                }
            })
            .collect();
        CreateTopicsResponse {
            topics,
            ..CreateTopicsResponse::default()
        }
    }

    fn delete_topics(&self, r: &DeleteTopicsRequest) -> DeleteTopicsResponse {
        let responses = r
            .topic_names
            .iter()
            .map(|name| {
                let mut topics = self.topics.lock().unwrap_or_else(|p| p.into_inner());
                let code = match topics.remove(name) {
                    None => ErrorCode::UnknownTopicOrPartition,
                    Some(n) => {
                        let mut code = ErrorCode::None;
                        for p in 0..n {
                            if let Err(e) = self.logs.delete(name, p) {
                                tracing::error!(topic = name, partition = p, error = %e, "cannot delete partition log");
                                code = ErrorCode::KafkaStorageError;
                            }
                            self.producers.forget(name, p);
                            self.fetch_waiters.forget(name, p);
                        }
                        self.topic_configs
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(name);
                        if let Err(e) = TopicConfig::remove(&self.config.data_dir, name) {
                            tracing::error!(topic = name, error = %e, "cannot remove the topic's config file");
                        }
                        tracing::info!(topic = name, "deleted topic");
                        code
                    }
                };
                DeletableTopicResult {
                    name: name.clone(),
                    error_code: code.code(),
                    ..DeletableTopicResult::default()
                }
            })
            .collect();
        DeleteTopicsResponse {
            responses,
            ..DeleteTopicsResponse::default()
        }
    }

    fn init_producer_id(&self, r: &InitProducerIdRequest) -> InitProducerIdResponse {
        if r.transactional_id.is_some() {
            // No transaction coordinator: refuse clearly rather than pretend.
            tracing::warn!("InitProducerId with a transactional id: transactions are not supported");
            return InitProducerIdResponse {
                error_code: ErrorCode::InvalidRequest.code(),
                ..InitProducerIdResponse::default()
            };
        }
        let id = self.next_producer_id.fetch_add(1, Ordering::SeqCst);
        InitProducerIdResponse {
            producer_id: id,
            producer_epoch: 0,
            ..InitProducerIdResponse::default()
        }
    }
}

pub(crate) fn storage_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Reads `meta.properties` (Kafka's file) for the cluster id, creating it on first start.
fn cluster_id(data_dir: &Path, node_id: i32) -> Result<String, Error> {
    let path = data_dir.join("meta.properties");
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Some(id) = text.lines().find_map(|l| l.strip_prefix("cluster.id=")) {
            return Ok(id.trim().to_string());
        }
    }
    // 16 bytes from the clock and the process, base64url without padding like Kafka's 22-character ids.
    let seed = (storage_now_ms() as u128) << 32 ^ u128::from(std::process::id()) ^ (&path as *const _ as u128);
    let mut x = seed | 1;
    let mut bytes = [0u8; 16];
    for b in &mut bytes {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let id: String = bytes
        .chunks(3)
        .flat_map(|c| {
            let n = c.iter().fold(0u32, |acc, b| acc << 8 | u32::from(*b)) << (8 * (3 - c.len()));
            let chars = if c.len() == 3 { 4 } else { c.len() + 1 };
            (0..chars).map(move |i| ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char)
        })
        .collect();
    let text = format!("#\n#kzero\nversion=1\nnode.id={node_id}\ncluster.id={id}\n");
    std::fs::write(&path, text).map_err(|source| Error::Io {
        op: "writing",
        path: path.clone(),
        source,
    })?;
    Ok(id)
}
