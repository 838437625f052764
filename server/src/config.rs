//! Broker configuration: a TOML file (every key optional, Kafka's defaults), overridden by flags.
//!
//! Unknown keys and bad values are start-up errors that name the key. `kzero.example.toml` at the
//! repository root lists every key with its default and meaning; a test keeps the two in sync.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Everything the broker can be configured with.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// This broker's id (`node.id`).
    pub node_id: i32,
    /// What this node is (`process.roles`): `broker` (serves clients), `controller` (votes in the metadata
    /// quorum), or both (the default).
    pub process_roles: Vec<ProcessRole>,
    /// The plaintext listener.
    pub listen: SocketAddr,
    /// The `host:port` clients are told to connect to (Metadata); defaults to `listen`.
    pub advertised_listen: Option<String>,
    /// Where partition logs live (`log.dirs`).
    pub data_dir: PathBuf,
    /// Partitions of an auto-created topic, or of CreateTopics with -1 (`num.partitions`).
    pub num_partitions: i32,
    /// Create unknown topics on Metadata and Produce (`auto.create.topics.enable`).
    pub auto_create_topics: bool,
    /// The largest record batch accepted (`message.max.bytes`).
    pub message_max_bytes: usize,
    /// The largest request accepted (`socket.request.max.bytes`).
    pub max_request_bytes: usize,
    /// The most a fetch response carries (`fetch.max.bytes`).
    pub fetch_max_bytes: usize,
    /// Serve metrics (`/metrics`, OpenMetrics text) and health probes (`/health`, `/ready`) over HTTP on
    /// this address. Without it no metrics are recorded.
    pub metrics_listen: Option<SocketAddr>,
    /// Log a warning (and count `kzero_slow_requests_total`) for a request whose queue and local time
    /// reach this many milliseconds; time waiting for data or replicas does not count. 0 turns it off.
    pub slow_request_ms: u64,
    /// `human` or `json` log lines.
    pub log_format: LogFormat,
    /// Partition log settings.
    pub log: LogSection,
    /// How responses are written.
    pub transfer: TransferSection,
    /// The group coordinator.
    pub group: GroupSection,
    /// An optional TLS listener (security protocol SSL), optionally requiring client certificates.
    pub tls: Option<TlsSection>,
    /// SASL listeners (SASL_PLAINTEXT, and SASL_SSL over the `[tls]` certificate) and their users.
    pub sasl: Option<SaslSection>,
    /// ACL enforcement.
    pub authorizer: AuthorizerSection,
    /// The metadata quorum. Without it this node is a single combined broker and controller with a
    /// one-voter quorum on an ephemeral loopback port.
    pub controller: Option<ControllerSection>,
    /// `default.replication.factor`: replicas of an auto-created topic, or of CreateTopics with -1.
    pub default_replication_factor: i16,
    /// `offsets.topic.replication.factor`: replicas of `__consumer_offsets` (fewer when fewer brokers are
    /// registered when it is created).
    pub offsets_topic_replication_factor: i16,
    /// `min.insync.replicas`: the default of the topic config of that name (1).
    pub min_insync_replicas: i64,
    /// `replica.lag.time.max.ms`: a follower that has not caught up with the leader for this long leaves
    /// the ISR (30000).
    pub replica_lag_time_max_ms: u64,
}

/// A node's role (`process.roles`).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ProcessRole {
    /// Serves clients and hosts partitions.
    Broker,
    /// Votes in the metadata quorum (an active controller is the Raft leader).
    Controller,
}

/// The `[controller]` section: the metadata quorum (Kafka's `controller.*` and `broker.*` settings).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ControllerSection {
    /// The controller listener: Raft and broker-to-controller traffic (`controller.listener.names`).
    pub listen: SocketAddr,
    /// `controller.quorum.voters`: `id@host:port` of every voter.
    pub quorum_voters: Vec<String>,
    /// `broker.session.timeout.ms`: a broker without a heartbeat for this long is fenced.
    #[serde(default = "default_session_timeout")]
    pub broker_session_timeout_ms: u64,
    /// `broker.heartbeat.interval.ms`.
    #[serde(default = "default_heartbeat_interval")]
    pub broker_heartbeat_interval_ms: u64,
}

fn default_session_timeout() -> u64 {
    9000
}

fn default_heartbeat_interval() -> u64 {
    2000
}

impl ControllerSection {
    /// The voters as (id, `host:port`).
    pub fn voters(&self) -> Result<Vec<(i32, String)>, ConfigError> {
        self.quorum_voters
            .iter()
            .map(|v| {
                let (id, addr) = v.split_once('@').ok_or_else(|| ConfigError::Value {
                    key: "controller.quorum_voters",
                    reason: format!("{v:?} is not id@host:port"),
                })?;
                let id: i32 = id.parse().ok().filter(|i| *i >= 0).ok_or_else(|| ConfigError::Value {
                    key: "controller.quorum_voters",
                    reason: format!("{v:?} has no valid node id"),
                })?;
                if parse_host_port(addr).is_none() {
                    return Err(ConfigError::Value {
                        key: "controller.quorum_voters",
                        reason: format!("{v:?} has no valid host:port"),
                    });
                }
                Ok((id, addr.to_string()))
            })
            .collect()
    }
}

/// The `[log]` section: Kafka's `log.*` settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// `log.segment.bytes`.
    pub segment_bytes: u64,
    /// `log.roll.ms`.
    pub segment_ms: i64,
    /// `log.index.size.max.bytes`.
    pub segment_index_bytes: u64,
    /// `log.index.interval.bytes`.
    pub index_interval_bytes: u64,
    /// `log.retention.ms` (-1: keep forever).
    pub retention_ms: i64,
    /// `log.retention.bytes` (-1: no limit).
    pub retention_bytes: i64,
    /// `log.retention.check.interval.ms`.
    pub retention_check_interval_ms: u64,
    /// `log.flush.interval.messages` (1: `fdatasync` before every acknowledgement).
    pub flush_messages: i64,
    /// `log.flush.interval.ms`.
    pub flush_ms: i64,
    /// How many sealed segments' files (`.log`, `.index`, `.timeindex`) stay open, shared by all partitions
    /// (least recently used closed first). No Kafka equivalent: Kafka keeps every segment's files open.
    pub segment_file_cache: usize,
}

/// The `[group]` section: Kafka's `group.*` and `offsets.*` settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GroupSection {
    /// `group.initial.rebalance.delay.ms`: how long a new group waits for more members to join.
    pub initial_rebalance_delay_ms: i64,
    /// `group.min.session.timeout.ms`.
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`.
    pub max_session_timeout_ms: i32,
    /// `offsets.topic.num.partitions`: partitions of `__consumer_offsets` (fixed once it exists).
    pub offsets_topic_partitions: i32,
    /// `offsets.retention.minutes`: how long an empty group's committed offsets are kept.
    pub offsets_retention_minutes: i64,
    /// `offsets.retention.check.interval.ms`.
    pub offsets_retention_check_interval_ms: u64,
    /// `group.consumer.session.timeout.ms`: a KIP-848 member that sends no heartbeat for this long is
    /// fenced (the broker decides it, not the client).
    pub consumer_session_timeout_ms: i32,
    /// `group.consumer.heartbeat.interval.ms`: how often KIP-848 members heartbeat (sent to them in every
    /// answer); less than the session timeout.
    pub consumer_heartbeat_interval_ms: i32,
    /// `group.consumer.max.size`: the most members a KIP-848 group may have.
    pub consumer_max_size: i32,
    /// `group.consumer.assignors`: the server-side assignors KIP-848 members may ask for; the first is
    /// the default (`uniform`, `range`).
    pub consumer_assignors: Vec<String>,
}

impl GroupSection {
    /// The KIP-848 group settings. Per-group overrides do not exist here, so the configured values are
    /// their own bounds (Kafka's min/max defaults widened to include them).
    pub(crate) fn consumer(&self) -> crate::group::consumer::ConsumerGroupConfig {
        use crate::group::assignor::Assignor;
        let session = self.consumer_session_timeout_ms;
        let heartbeat = self.consumer_heartbeat_interval_ms;
        crate::group::consumer::ConsumerGroupConfig {
            session_timeout_ms: session,
            min_session_timeout_ms: session.min(45_000),
            max_session_timeout_ms: session.max(60_000),
            heartbeat_interval_ms: heartbeat,
            min_heartbeat_interval_ms: heartbeat.min(5_000),
            max_heartbeat_interval_ms: heartbeat.max(15_000),
            max_size: usize::try_from(self.consumer_max_size).unwrap_or(0),
            assignors: self
                .consumer_assignors
                .iter()
                .filter_map(|name| Assignor::from_name(name))
                .collect(),
        }
    }
}

impl Default for GroupSection {
    fn default() -> Self {
        GroupSection {
            initial_rebalance_delay_ms: 3000,
            min_session_timeout_ms: 6000,
            max_session_timeout_ms: 1_800_000,
            offsets_topic_partitions: 50,
            offsets_retention_minutes: 7 * 24 * 60,
            offsets_retention_check_interval_ms: 600_000,
            consumer_session_timeout_ms: 45_000,
            consumer_heartbeat_interval_ms: 5_000,
            consumer_max_size: i32::MAX,
            consumer_assignors: vec!["uniform".into(), "range".into()],
        }
    }
}

/// The `[transfer]` section.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TransferSection {
    /// `sendfile` (zero-copy) or `copy` (pread + write, for comparison and as a fallback).
    pub mode: TransferMode,
}

/// How plaintext responses send file regions.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum TransferMode {
    /// `sendfile(2)` from the page cache.
    #[default]
    Sendfile,
    /// `pread` into a buffer, then `write`.
    Copy,
}

/// Log line format.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// The `[tls]` section: a second listener speaking TLS.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// The TLS listener address.
    pub listen: SocketAddr,
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// The `host:port` Metadata advertises to clients of this listener (default: its bound address).
    pub advertised_listen: Option<String>,
    /// `ssl.client.auth`: whether clients of the TLS listeners (SSL and SASL_SSL) must present a certificate
    /// signed by `ca`.
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// `ssl.truststore`: PEM certificates of the authorities client certificates must chain to (required
    /// when `client_auth` is not `none`).
    pub ca: Option<PathBuf>,
    /// `ssl.principal.mapping.rules`: how a client certificate's subject (RFC 2253, `CN=x,O=y`) becomes
    /// the principal's name on the SSL listener, the first matching rule winning: `DEFAULT` (the subject
    /// itself) or `RULE:regex/replacement/` with an optional `L` or `U` (lower or upper case).
    #[serde(default = "default_mapping_rules")]
    pub principal_mapping_rules: Vec<String>,
}

fn default_mapping_rules() -> Vec<String> {
    vec!["DEFAULT".into()]
}

/// `ssl.client.auth`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// No client certificate is asked for.
    #[default]
    None,
    /// A certificate is asked for; a client without one connects as `User:ANONYMOUS`.
    Requested,
    /// A client without a valid certificate is refused during the handshake.
    Required,
}

/// The `[sasl]` section: SASL listeners (Kafka's SASL_PLAINTEXT and SASL_SSL security protocols).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SaslSection {
    /// The SASL_PLAINTEXT listener.
    pub listen: SocketAddr,
    /// The `host:port` Metadata advertises to its clients (default: its bound address).
    pub advertised_listen: Option<String>,
    /// A SASL_SSL listener: SASL over TLS with the `[tls]` certificate and client-auth settings.
    pub ssl_listen: Option<SocketAddr>,
    /// The `host:port` Metadata advertises to SASL_SSL clients (default: its bound address).
    pub ssl_advertised_listen: Option<String>,
    /// `sasl.enabled.mechanisms`: of `PLAIN`, `SCRAM-SHA-256` and `SCRAM-SHA-512`.
    #[serde(default = "default_mechanisms")]
    pub mechanisms: Vec<String>,
    /// Users created at start-up when they have no credential yet: SCRAM-SHA-256 and SCRAM-SHA-512
    /// credentials (4096 iterations), which PLAIN authenticates against too. Only salted hashes are stored.
    #[serde(default)]
    pub bootstrap_users: Vec<BootstrapUser>,
    /// The user brokers authenticate as to each other's SASL listener (replica fetchers); a
    /// `bootstrap_users` entry (default: the first). It needs CLUSTER_ACTION on the cluster (a super user).
    pub inter_broker_user: Option<String>,
    /// `connections.max.reauth.ms` (KIP-368): an authenticated session lasts at most this long, after which
    /// the client must re-authenticate on the same connection or be disconnected (0: no limit).
    #[serde(default)]
    pub connections_max_reauth_ms: u64,
}

fn default_mechanisms() -> Vec<String> {
    vec!["PLAIN".into(), "SCRAM-SHA-256".into(), "SCRAM-SHA-512".into()]
}

/// A user in `[sasl] bootstrap_users`.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BootstrapUser {
    /// The user name.
    pub name: String,
    /// The password (only its salted SCRAM hashes reach the metadata log).
    pub password: String,
}

impl std::fmt::Debug for BootstrapUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrapUser")
            .field("name", &self.name)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The `[authorizer]` section: Kafka's StandardAuthorizer settings.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AuthorizerSection {
    /// Enforce ACLs on every listener (`authorizer.class.name`); without it every principal may do
    /// everything and the ACL APIs answer SECURITY_DISABLED.
    pub enabled: bool,
    /// `super.users`: principals (`User:name`) allowed everything.
    pub super_users: Vec<String>,
    /// `allow.everyone.if.no.acl.found`: a resource without any ACL is open to all (default false).
    pub allow_everyone_if_no_acl_found: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            node_id: 0,
            listen: "127.0.0.1:9092".parse().expect("a valid address"),
            advertised_listen: None,
            data_dir: PathBuf::from("./kzero-data"),
            num_partitions: 1,
            auto_create_topics: true,
            message_max_bytes: 1024 * 1024 + 12,
            max_request_bytes: 100 * 1024 * 1024,
            fetch_max_bytes: 55 * 1024 * 1024,
            metrics_listen: None,
            slow_request_ms: 1000,
            log_format: LogFormat::Human,
            log: LogSection::default(),
            transfer: TransferSection::default(),
            group: GroupSection::default(),
            tls: None,
            sasl: None,
            authorizer: AuthorizerSection::default(),
            controller: None,
            process_roles: vec![ProcessRole::Broker, ProcessRole::Controller],
            default_replication_factor: 1,
            offsets_topic_replication_factor: 3,
            min_insync_replicas: 1,
            replica_lag_time_max_ms: 30_000,
        }
    }
}

impl Default for LogSection {
    fn default() -> Self {
        let d = storage::LogConfig::default();
        LogSection {
            segment_bytes: d.segment_bytes,
            segment_ms: d.segment_ms,
            segment_index_bytes: d.segment_index_bytes,
            index_interval_bytes: d.index_interval_bytes,
            retention_ms: d.retention_ms,
            retention_bytes: d.retention_bytes,
            retention_check_interval_ms: 300_000,
            flush_messages: d.flush_messages,
            flush_ms: d.flush_ms,
            segment_file_cache: storage::LogManagerOptions::DEFAULT_FILE_CACHE_CAPACITY,
        }
    }
}

impl Default for TransferSection {
    fn default() -> Self {
        TransferSection {
            mode: TransferMode::Sendfile,
        }
    }
}

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is invalid, a key is unknown or a value has the wrong type (the message names the key).
    #[error("invalid config file {}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with the key and line.
        message: String,
    },
    /// A value is out of range.
    #[error("invalid value for `{key}`: {reason}")]
    Value {
        /// The key.
        key: &'static str,
        /// Why.
        reason: String,
    },
}

impl Config {
    /// Reads a TOML file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        Config::from_toml(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.into(),
                message,
            },
            other => other,
        })
    }

    /// Parses TOML text and validates it.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::new(),
            message: e.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that the types alone do not.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &'static str, reason: &str| {
            Err(ConfigError::Value {
                key,
                reason: reason.into(),
            })
        };
        if self.node_id < 0 {
            return bad("node_id", "must be 0 or more");
        }
        if self.process_roles.is_empty() {
            return bad("process_roles", "must name broker, controller or both");
        }
        if self.default_replication_factor < 1 {
            return bad("default_replication_factor", "must be at least 1");
        }
        if self.replica_lag_time_max_ms < 100 {
            return bad("replica_lag_time_max_ms", "must be at least 100");
        }
        if self.offsets_topic_replication_factor < 1 {
            return bad("offsets_topic_replication_factor", "must be at least 1");
        }
        match &self.controller {
            None if !self.is_controller() => {
                return bad(
                    "process_roles",
                    "a broker-only node needs a [controller] section naming the voters",
                )
            }
            None => {}
            Some(c) => {
                let voters = c.voters()?;
                if voters.is_empty() {
                    return bad("controller.quorum_voters", "must name at least one voter");
                }
                let mut ids: Vec<i32> = voters.iter().map(|(id, _)| *id).collect();
                ids.sort_unstable();
                ids.dedup();
                if ids.len() != voters.len() {
                    return bad("controller.quorum_voters", "names a node id twice");
                }
                if self.is_controller() != ids.contains(&self.node_id) {
                    return bad(
                        "controller.quorum_voters",
                        "must include this node's id exactly when process_roles includes controller",
                    );
                }
                if !self.is_controller() && c.listen.ip().is_unspecified() {
                    return bad(
                        "controller.listen",
                        "a broker-only node's controller listener must be a specific address: the active controller replicates the metadata to it there",
                    );
                }
                if c.broker_heartbeat_interval_ms == 0 || c.broker_heartbeat_interval_ms >= c.broker_session_timeout_ms
                {
                    return bad(
                        "controller.broker_heartbeat_interval_ms",
                        "must be above 0 and below broker_session_timeout_ms",
                    );
                }
            }
        }
        if self.num_partitions < 1 {
            return bad("num_partitions", "must be at least 1");
        }
        if self.max_request_bytes < 1024 {
            return bad("max_request_bytes", "must be at least 1024 bytes");
        }
        // The keys that are also topic configs are validated by the topic-config table.
        if let Err((key, reason)) = crate::topic_config::validate_broker_defaults(&self.log_config()) {
            return Err(ConfigError::Value { key, reason });
        }
        if self.log.retention_check_interval_ms < 1 {
            return bad("log.retention_check_interval_ms", "must be at least 1");
        }
        if self.log.segment_file_cache < 1 {
            return bad("log.segment_file_cache", "must be at least 1");
        }
        let g = &self.group;
        if g.initial_rebalance_delay_ms < 0 {
            return bad("group.initial_rebalance_delay_ms", "must be 0 or more");
        }
        if g.min_session_timeout_ms < 1 || g.max_session_timeout_ms < g.min_session_timeout_ms {
            return bad(
                "group.max_session_timeout_ms",
                "must be at least group.min_session_timeout_ms, which must be at least 1",
            );
        }
        if g.offsets_topic_partitions < 1 {
            return bad("group.offsets_topic_partitions", "must be at least 1");
        }
        if g.offsets_retention_minutes < 1 {
            return bad("group.offsets_retention_minutes", "must be at least 1");
        }
        if g.offsets_retention_check_interval_ms < 1 {
            return bad("group.offsets_retention_check_interval_ms", "must be at least 1");
        }
        // Kafka's own checks of these settings (bounds, heartbeat below session, a size of at least 1).
        if let Err(why) = g.consumer().validate() {
            // The message names Kafka's key first; name the TOML key it comes from.
            let key = if why.starts_with("group.consumer.max.size") {
                "group.consumer_max_size"
            } else if why.starts_with("group.consumer.heartbeat") {
                "group.consumer_heartbeat_interval_ms"
            } else if why.starts_with("group.consumer.assignors") {
                "group.consumer_assignors"
            } else {
                "group.consumer_session_timeout_ms"
            };
            return bad(key, &why);
        }
        if g.consumer_assignors.is_empty()
            || g.consumer_assignors
                .iter()
                .any(|a| !matches!(a.as_str(), "uniform" | "range"))
        {
            return bad(
                "group.consumer_assignors",
                "must list one or more of \"uniform\" and \"range\"",
            );
        }
        if let Some(a) = &self.advertised_listen {
            if parse_host_port(a).is_none() {
                return bad("advertised_listen", "must be host:port");
            }
        }
        self.validate_security()
    }

    fn validate_security(&self) -> Result<(), ConfigError> {
        let bad = |key: &'static str, reason: String| Err(ConfigError::Value { key, reason });
        if let Some(tls) = &self.tls {
            if tls.client_auth != ClientAuth::None && tls.ca.is_none() {
                return bad(
                    "tls.ca",
                    "client_auth needs the authorities client certificates chain to".into(),
                );
            }
            if let Err(e) = security::principal::PrincipalMapper::parse(&tls.principal_mapping_rules) {
                return bad("tls.principal_mapping_rules", e.to_string());
            }
        }
        if let Some(sasl) = &self.sasl {
            if sasl.mechanisms.is_empty() {
                return bad("sasl.mechanisms", "must name at least one mechanism".into());
            }
            for m in &sasl.mechanisms {
                if !matches!(m.as_str(), "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512") {
                    return bad(
                        "sasl.mechanisms",
                        format!("{m:?} is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"),
                    );
                }
            }
            if sasl.ssl_listen.is_some() && self.tls.is_none() {
                return bad("sasl.ssl_listen", "a SASL_SSL listener needs [tls] cert and key".into());
            }
            for (key, a) in [
                ("sasl.advertised_listen", &sasl.advertised_listen),
                ("sasl.ssl_advertised_listen", &sasl.ssl_advertised_listen),
            ] {
                if a.as_deref().is_some_and(|a| parse_host_port(a).is_none()) {
                    return bad(key, "must be host:port".into());
                }
            }
            for u in &sasl.bootstrap_users {
                if u.name.is_empty() || u.password.is_empty() {
                    return bad("sasl.bootstrap_users", "every user needs a name and a password".into());
                }
            }
            if let Some(name) = &sasl.inter_broker_user {
                if !sasl.bootstrap_users.iter().any(|u| &u.name == name) {
                    return bad(
                        "sasl.inter_broker_user",
                        format!("{name:?} is not in bootstrap_users (its password is needed)"),
                    );
                }
            }
        }
        if let Err(e) = security::acl::parse_super_users(&self.authorizer.super_users.join(";")) {
            return bad("authorizer.super_users", e.to_string());
        }
        // In a cluster, brokers and controllers must authenticate each other, or anyone reaching a
        // controller listener could change ACLs and credentials, and followers would fetch anonymously.
        if self.authorizer.enabled && self.controller.is_some() && self.inter_broker_credentials().is_none() {
            return bad(
                "authorizer.enabled",
                "a cluster with the authorizer needs [sasl] bootstrap_users: nodes authenticate each other as the inter-broker user".into(),
            );
        }
        Ok(())
    }

    /// The log settings for a partition.
    pub fn log_config(&self) -> storage::LogConfig {
        storage::LogConfig {
            segment_bytes: self.log.segment_bytes,
            segment_ms: self.log.segment_ms,
            segment_index_bytes: self.log.segment_index_bytes,
            index_interval_bytes: self.log.index_interval_bytes,
            retention_ms: self.log.retention_ms,
            retention_bytes: self.log.retention_bytes,
            flush_messages: self.log.flush_messages,
            flush_ms: self.log.flush_ms,
            max_message_bytes: self.message_max_bytes,
            min_insync_replicas: self.min_insync_replicas,
        }
    }

    /// The user and password brokers authenticate as to each other (`[sasl] inter_broker_user`, or the
    /// first bootstrap user), when there is a `[sasl]` section with users.
    pub fn inter_broker_credentials(&self) -> Option<(String, String)> {
        let sasl = self.sasl.as_ref()?;
        let user = match &sasl.inter_broker_user {
            Some(name) => sasl.bootstrap_users.iter().find(|u| &u.name == name)?,
            None => sasl.bootstrap_users.first()?,
        };
        Some((user.name.clone(), user.password.clone()))
    }

    /// Does this node serve clients?
    pub fn is_broker(&self) -> bool {
        self.process_roles.contains(&ProcessRole::Broker)
    }

    /// Does this node vote in the metadata quorum?
    pub fn is_controller(&self) -> bool {
        self.process_roles.contains(&ProcessRole::Controller)
    }

    /// The host and port that Metadata advertises for the plaintext listener, given its bound address.
    pub fn advertised(&self, bound: SocketAddr) -> (String, i32) {
        self.advertised_listen
            .as_deref()
            .and_then(parse_host_port)
            .unwrap_or_else(|| (bound.ip().to_string(), i32::from(bound.port())))
    }
}

pub(crate) fn parse_host_port(s: &str) -> Option<(String, i32)> {
    let (host, port) = s.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    (!host.is_empty()).then(|| (host.trim_matches(['[', ']']).to_string(), i32::from(port)))
}

#[cfg(test)]
mod tests;
