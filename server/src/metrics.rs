//! The broker's metrics, in the Prometheus project's Rust client (`prometheus-client`), exposed as
//! OpenMetrics text on `metrics_listen` (see `http.rs`). `docs/metrics.md` maps each one to the Kafka JMX
//! metric operators already chart.
//!
//! Recording never takes a lock: every handle (a counter per API, a latency histogram per API and
//! stage, a set of counters per topic held by the topic's partitions) is created once, when the broker
//! starts or a topic is created, and recording is an atomic add. The histograms are this module's own
//! [`LatencyHistogram`] (atomic buckets; the library's histogram locks a mutex per observation), encoded
//! by the library. Error counts by API and error code are the one labelled lookup at record time, on the
//! error path only. Partition gauges, delayed operations, bytes by transfer path and log flushes are read
//! when scraped, by [`Scrape`], so a deleted partition simply stops appearing.
//!
//! When the broker has no metrics listener nothing is recorded: every record call returns at once.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::{Registry, Unit};
use protocol::{ApiKey, ErrorCode, API_TABLE};

use crate::cluster::Cluster;
use crate::replica_manager::ReplicaManager;

/// Latency bucket bounds, in seconds (100 µs to 10 s).
const LATENCY_BUCKETS: [f64; 15] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// A latency histogram recorded with atomics only.
#[derive(Debug, Clone, Default)]
pub(crate) struct LatencyHistogram(Arc<HistogramCells>);

#[derive(Debug, Default)]
struct HistogramCells {
    /// Observations per bucket (not cumulative); the last cell is above every bound.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl LatencyHistogram {
    pub(crate) fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = LATENCY_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        let cells = &self.0;
        cells.buckets[i].fetch_add(1, Ordering::Relaxed);
        cells
            .sum_nanos
            .fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

impl TypedMetric for LatencyHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for LatencyHistogram {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> fmt::Result {
        let cells = &self.0;
        // Per-bucket counts (the encoder accumulates them), the last one unbounded.
        let buckets: Vec<(f64, u64)> = LATENCY_BUCKETS
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(&cells.buckets)
            .map(|(bound, n)| (bound, n.load(Ordering::Relaxed)))
            .collect();
        // The count is the buckets' total, so that a scrape racing with an observation stays consistent.
        let count = buckets.iter().map(|(_, n)| n).sum();
        let sum = cells.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// What the group coordinator publishes for the metrics (it owns the groups; the scrape reads this copy).
#[derive(Debug, Clone, Default)]
pub(crate) struct GroupView {
    /// Every live group and its state.
    pub(crate) states: Vec<(String, &'static str)>,
    /// (group, topic, partition, committed offset).
    pub(crate) committed: Vec<(String, String, i32, i64)>,
    /// Join phases completed since start-up.
    pub(crate) rebalances: u64,
}

/// How long a request spent where (Kafka's `RequestMetrics` times).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RequestTimes {
    /// From the request's bytes arriving to its handling starting (behind earlier pipelined requests).
    pub(crate) queue: Duration,
    /// Handling, without `remote`.
    pub(crate) local: Duration,
    /// Waiting as a delayed operation (a fetch for `min_bytes`, an `acks=all` produce for replicas).
    pub(crate) remote: Duration,
}

impl RequestTimes {
    pub(crate) fn total(&self) -> Duration {
        self.queue + self.local + self.remote
    }
}

#[derive(Debug, Clone)]
struct ApiMetrics {
    requests: Counter,
    total: LatencyHistogram,
    queue: LatencyHistogram,
    local: LatencyHistogram,
    remote: LatencyHistogram,
}

type ApiLabel = [(&'static str, &'static str); 1];
type TopicLabel = [(&'static str, String); 1];
type ErrorLabel = [(&'static str, &'static str); 2];

/// One topic's counters (Kafka's `BrokerTopicMetrics` with a `topic` tag), shared by its partitions.
#[derive(Debug, Clone)]
pub(crate) struct TopicMetrics {
    enabled: bool,
    bytes_in: Counter,
    messages_in: Counter,
    bytes_out: Counter,
    produce_requests: Counter,
    failed_produce_requests: Counter,
    fetch_requests: Counter,
    failed_fetch_requests: Counter,
    /// The broker-wide totals (Kafka's `BrokerTopicMetrics` without a topic tag).
    all: Arc<TopicMetricsTotals>,
}

#[derive(Debug, Default)]
struct TopicMetricsTotals {
    bytes_in: Counter,
    messages_in: Counter,
    bytes_out: Counter,
}

impl TopicMetrics {
    /// A batch of `bytes` holding `messages` records was appended.
    pub(crate) fn produced(&self, bytes: u64, messages: u64) {
        if self.enabled {
            self.produce_requests.inc();
            self.bytes_in.inc_by(bytes);
            self.messages_in.inc_by(messages);
            self.all.bytes_in.inc_by(bytes);
            self.all.messages_in.inc_by(messages);
        }
    }

    /// A produce to this topic failed.
    pub(crate) fn produce_failed(&self) {
        if self.enabled {
            self.produce_requests.inc();
            self.failed_produce_requests.inc();
        }
    }

    /// A fetch of this topic returned `bytes` of records.
    pub(crate) fn fetched(&self, bytes: u64) {
        if self.enabled {
            self.fetch_requests.inc();
            self.bytes_out.inc_by(bytes);
            self.all.bytes_out.inc_by(bytes);
        }
    }

    /// A fetch of this topic failed.
    pub(crate) fn fetch_failed(&self) {
        if self.enabled {
            self.fetch_requests.inc();
            self.failed_fetch_requests.inc();
        }
    }
}

#[derive(Debug, Clone, Default)]
struct TopicFamilies {
    bytes_in: Family<TopicLabel, Counter>,
    messages_in: Family<TopicLabel, Counter>,
    bytes_out: Family<TopicLabel, Counter>,
    produce_requests: Family<TopicLabel, Counter>,
    failed_produce_requests: Family<TopicLabel, Counter>,
    fetch_requests: Family<TopicLabel, Counter>,
    failed_fetch_requests: Family<TopicLabel, Counter>,
}

/// The broker's metrics.
#[derive(Debug)]
pub struct Metrics {
    enabled: bool,
    registry: Registry,
    /// By API key number.
    apis: Vec<Option<ApiMetrics>>,
    errors: Family<ErrorLabel, Counter>,
    topics: TopicFamilies,
    totals: Arc<TopicMetricsTotals>,
    connections: Gauge,
    connections_total: Counter,
    rejected_requests: Counter,
    slow_requests: Counter,
    authentications: Family<ApiLabel, Counter>,
    authentication_failures: Family<ApiLabel, Counter>,
    authorization_denials: Family<ApiLabel, Counter>,
    /// Bytes written by transfer path; the connections' transport layers add to it.
    pub(crate) transfer: Arc<transfer::Counters>,
    /// The partitions, once the data directory is open (read when scraped; weak: the replica manager holds
    /// these metrics).
    replicas: Arc<OnceLock<Weak<ReplicaManager>>>,
    /// The groups, as the coordinator last published them.
    pub(crate) groups: Arc<ArcSwap<GroupView>>,
    /// The node's seat in the quorum, once attached.
    cluster: Arc<OnceLock<Weak<Cluster>>>,
}

impl Metrics {
    /// The broker's metrics; with `enabled` false nothing is recorded.
    pub(crate) fn new(enabled: bool) -> Metrics {
        let mut registry = Registry::default();
        let api_families = [
            (
                "kzero_request_total_seconds",
                "Time from a request's arrival to its response, by API (Kafka's TotalTimeMs)",
            ),
            (
                "kzero_request_queue_seconds",
                "Time a request waited behind earlier requests of its connection, by API (RequestQueueTimeMs)",
            ),
            (
                "kzero_request_local_seconds",
                "Time handling a request, waiting excluded, by API (LocalTimeMs)",
            ),
            (
                "kzero_request_remote_seconds",
                "Time a request waited for data or replicas, by API (RemoteTimeMs)",
            ),
        ]
        .map(|(name, help)| {
            let family = Family::<ApiLabel, LatencyHistogram>::default();
            registry.register(name, help, family.clone());
            family
        });
        let requests = Family::<ApiLabel, Counter>::default();
        registry.register(
            "kzero_requests",
            "Requests handled, by API (Kafka's RequestsPerSec)",
            requests.clone(),
        );
        // The handled APIs only: a request for another one closes its connection (counted as rejected).
        let max_key = API_TABLE.iter().map(|a| a.key as i16).max().unwrap_or(0);
        let mut apis = vec![None; max_key as usize + 1];
        for key in crate::HANDLED_APIS {
            let label = [("api", key.snake_name())];
            apis[*key as i16 as usize] = Some(ApiMetrics {
                requests: requests.get_or_create_owned(&label),
                total: api_families[0].get_or_create_owned(&label),
                queue: api_families[1].get_or_create_owned(&label),
                local: api_families[2].get_or_create_owned(&label),
                remote: api_families[3].get_or_create_owned(&label),
            });
        }
        let errors = Family::<ErrorLabel, Counter>::default();
        registry.register(
            "kzero_errors",
            "Error codes in responses, by API and error (Kafka's ErrorsPerSec)",
            errors.clone(),
        );
        let topics = TopicFamilies::default();
        for (name, help, family) in [
            (
                "kzero_topic_bytes_in",
                "Record bytes appended, by topic (BytesInPerSec)",
                &topics.bytes_in,
            ),
            (
                "kzero_topic_messages_in",
                "Records appended, by topic (MessagesInPerSec)",
                &topics.messages_in,
            ),
            (
                "kzero_topic_bytes_out",
                "Record bytes fetched, by topic (BytesOutPerSec)",
                &topics.bytes_out,
            ),
            (
                "kzero_topic_produce_requests",
                "Partition appends requested, by topic (TotalProduceRequestsPerSec)",
                &topics.produce_requests,
            ),
            (
                "kzero_topic_failed_produce_requests",
                "Partition appends that failed, by topic (FailedProduceRequestsPerSec)",
                &topics.failed_produce_requests,
            ),
            (
                "kzero_topic_fetch_requests",
                "Partition reads requested, by topic (TotalFetchRequestsPerSec)",
                &topics.fetch_requests,
            ),
            (
                "kzero_topic_failed_fetch_requests",
                "Partition reads that failed, by topic (FailedFetchRequestsPerSec)",
                &topics.failed_fetch_requests,
            ),
        ] {
            registry.register(name, help, family.clone());
        }
        let totals = Arc::new(TopicMetricsTotals::default());
        registry.register(
            "kzero_bytes_in",
            "Record bytes appended by produce requests (BytesInPerSec)",
            totals.bytes_in.clone(),
        );
        registry.register(
            "kzero_messages_in",
            "Records appended by produce requests (MessagesInPerSec)",
            totals.messages_in.clone(),
        );
        registry.register(
            "kzero_bytes_fetched",
            "Record bytes returned by fetches (BytesOutPerSec)",
            totals.bytes_out.clone(),
        );
        let connections = Gauge::default();
        registry.register(
            "kzero_connections",
            "Open client connections (connection-count)",
            connections.clone(),
        );
        let connections_total = Counter::default();
        registry.register(
            "kzero_connections_accepted",
            "Connections accepted (connection-creation-total)",
            connections_total.clone(),
        );
        let rejected_requests = Counter::default();
        registry.register(
            "kzero_rejected_requests",
            "Requests rejected by closing the connection (malformed, unknown API or version)",
            rejected_requests.clone(),
        );
        let slow_requests = Counter::default();
        registry.register(
            "kzero_slow_requests",
            "Requests whose queue and local time passed slow_request_ms (each is also logged)",
            slow_requests.clone(),
        );
        let [authentications, authentication_failures, authorization_denials] = [
            (
                "kzero_authentications",
                "Successful SASL authentications, by mechanism (successful-authentication-total)",
            ),
            (
                "kzero_authentication_failures",
                "Failed SASL authentications (and unsupported mechanisms), by mechanism (failed-authentication-total)",
            ),
            (
                "kzero_authorization_denials",
                "Operations the authorizer denied, by API (the authorizer log's DENIED lines)",
            ),
        ]
        .map(|(name, help)| {
            let family = Family::<ApiLabel, Counter>::default();
            registry.register(name, help, family.clone());
            family
        });
        // Every series exists from the start (0), as the per-API request series do, so rates and alerts
        // need no special case for "never happened".
        for mechanism in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
            let _ = authentications.get_or_create(&[("mechanism", mechanism)]);
            let _ = authentication_failures.get_or_create(&[("mechanism", mechanism)]);
        }
        for key in crate::HANDLED_APIS {
            let _ = authorization_denials.get_or_create(&[("api", key.snake_name())]);
        }
        let transfer = Arc::new(transfer::Counters::new());
        let replicas = Arc::new(OnceLock::new());
        let groups = Arc::new(ArcSwap::from_pointee(GroupView::default()));
        let cluster = Arc::new(OnceLock::new());
        registry.register_collector(Box::new(Scrape {
            transfer: Arc::clone(&transfer),
            replicas: Arc::clone(&replicas),
            groups: Arc::clone(&groups),
            cluster: Arc::clone(&cluster),
        }));
        Metrics {
            enabled,
            registry,
            apis,
            errors,
            topics,
            totals,
            connections,
            connections_total,
            rejected_requests,
            slow_requests,
            authentications,
            authentication_failures,
            authorization_denials,
            transfer,
            replicas,
            groups,
            cluster,
        }
    }

    /// Gives the scrape its partitions once the data directory is open, and the node's seat in the quorum.
    pub(crate) fn attach(&self, replicas: &Arc<ReplicaManager>, cluster: &Arc<Cluster>) {
        let _ = self.replicas.set(Arc::downgrade(replicas));
        let _ = self.cluster.set(Arc::downgrade(cluster));
    }

    /// The counters of a topic (created with it; removed by [`Metrics::remove_topic`]).
    pub(crate) fn topic(&self, name: &str) -> Arc<TopicMetrics> {
        let label = [("topic", name.to_string())];
        let t = &self.topics;
        Arc::new(TopicMetrics {
            enabled: self.enabled,
            bytes_in: t.bytes_in.get_or_create_owned(&label),
            messages_in: t.messages_in.get_or_create_owned(&label),
            bytes_out: t.bytes_out.get_or_create_owned(&label),
            produce_requests: t.produce_requests.get_or_create_owned(&label),
            failed_produce_requests: t.failed_produce_requests.get_or_create_owned(&label),
            fetch_requests: t.fetch_requests.get_or_create_owned(&label),
            failed_fetch_requests: t.failed_fetch_requests.get_or_create_owned(&label),
            all: Arc::clone(&self.totals),
        })
    }

    /// Forgets a deleted topic's counters.
    pub(crate) fn remove_topic(&self, name: &str) {
        let label = [("topic", name.to_string())];
        let t = &self.topics;
        for family in [
            &t.bytes_in,
            &t.messages_in,
            &t.bytes_out,
            &t.produce_requests,
            &t.failed_produce_requests,
            &t.fetch_requests,
            &t.failed_fetch_requests,
        ] {
            family.remove(&label);
        }
    }

    /// Records a handled request.
    pub(crate) fn request(&self, api: ApiKey, times: RequestTimes) {
        if !self.enabled {
            return;
        }
        if let Some(Some(m)) = self.apis.get(api as i16 as usize) {
            m.requests.inc();
            m.queue.observe(times.queue);
            m.local.observe(times.local);
            m.remote.observe(times.remote);
            m.total.observe(times.total());
        }
    }

    /// Records an error code a response carries (`NONE` is not counted).
    pub(crate) fn error(&self, api: ApiKey, code: ErrorCode) {
        if self.enabled && code != ErrorCode::None {
            self.errors
                .get_or_create(&[("api", api.snake_name()), ("error", code.name())])
                .inc();
        }
    }

    pub(crate) fn slow_request(&self) {
        if self.enabled {
            self.slow_requests.inc();
        }
    }

    /// A SASL authentication with `mechanism` succeeded.
    pub(crate) fn authenticated(&self, mechanism: &'static str) {
        if self.enabled {
            self.authentications.get_or_create(&[("mechanism", mechanism)]).inc();
        }
    }

    /// A SASL authentication with `mechanism` failed (or named a mechanism not enabled: "unknown" for
    /// names kzero does not know).
    pub(crate) fn authentication_failed(&self, mechanism: &'static str) {
        if self.enabled {
            self.authentication_failures
                .get_or_create(&[("mechanism", mechanism)])
                .inc();
        }
    }

    /// The authorizer denied an operation of a request of `api`.
    pub(crate) fn authorization_denied(&self, api: ApiKey) {
        if self.enabled {
            self.authorization_denials
                .get_or_create(&[("api", api.snake_name())])
                .inc();
        }
    }

    /// A request refused by closing its connection.
    pub(crate) fn rejected(&self) {
        if self.enabled {
            self.rejected_requests.inc();
        }
    }

    pub(crate) fn connection_opened(&self) {
        if self.enabled {
            self.connections.inc();
            self.connections_total.inc();
        }
    }

    pub(crate) fn connection_closed(&self) {
        if self.enabled {
            self.connections.dec();
        }
    }

    /// The OpenMetrics text exposition.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        out
    }
}

/// The metrics read when scraped.
#[derive(Debug)]
struct Scrape {
    transfer: Arc<transfer::Counters>,
    replicas: Arc<OnceLock<Weak<ReplicaManager>>>,
    groups: Arc<ArcSwap<GroupView>>,
    cluster: Arc<OnceLock<Weak<Cluster>>>,
}

fn counter(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: u64,
) -> fmt::Result {
    let c = ConstCounter::new(value);
    c.encode(encoder.encode_descriptor(name, help, unit, c.metric_type())?)
}

fn gauge(encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: i64) -> fmt::Result {
    let g = ConstGauge::new(value);
    g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)
}

/// The quorum and the cluster as this node sees them (Kafka's controller and raft metrics).
fn encode_cluster(e: &mut DescriptorEncoder<'_>, cluster: &Cluster) -> fmt::Result {
    let status = cluster.status();
    let image = cluster.image();
    let active = status.leader == Some(cluster.node_id as u64) && cluster.is_controller;
    gauge(
        e,
        "kzero_controller_active",
        "1 on the active controller, else 0 (ActiveControllerCount)",
        i64::from(active),
    )?;
    gauge(
        e,
        "kzero_quorum_leader",
        "The metadata quorum's leader, the active controller (-1: none known)",
        status.leader.map_or(-1, |l| l as i64),
    )?;
    gauge(
        e,
        "kzero_quorum_term",
        "The quorum's current term (leader epoch)",
        status.term as i64,
    )?;
    gauge(
        e,
        "kzero_quorum_log_end_offset",
        "The next index of this node's metadata log",
        status.last_log_index.map_or(0, |i| i as i64 + 1),
    )?;
    gauge(
        e,
        "kzero_quorum_applied_offset",
        "The last metadata index applied by this node",
        status.last_applied.map_or(-1, |i| i as i64),
    )?;
    {
        let g = ConstGauge::new(0i64);
        let mut m = e.encode_descriptor(
            "kzero_quorum_replica_lag",
            "Entries each quorum member is behind the leader's log end (on the leader only)",
            None,
            g.metric_type(),
        )?;
        let end = status.last_log_index.unwrap_or(0) as i64;
        for (id, matched) in &status.matched {
            let lag = end - matched.map_or(-1, |m| m as i64);
            ConstGauge::new(lag.max(0)).encode(m.encode_family(&[("replica", id.to_string())])?)?;
        }
    }
    {
        let g = ConstGauge::new(0i64);
        let mut m = e.encode_descriptor(
            "kzero_cluster_brokers",
            "Registered brokers by state (unfenced, fenced, controlled_shutdown)",
            None,
            g.metric_type(),
        )?;
        let count = |f: &dyn Fn(&metadata::Broker) -> bool| image.brokers.values().filter(|b| f(b)).count() as i64;
        for (state, n) in [
            ("unfenced", count(&|b| !b.fenced && !b.in_controlled_shutdown)),
            ("fenced", count(&|b| b.fenced)),
            ("controlled_shutdown", count(&|b| !b.fenced && b.in_controlled_shutdown)),
        ] {
            ConstGauge::new(n).encode(m.encode_family(&[("state", state)])?)?;
        }
    }
    let partitions = image.topics.values().flat_map(|t| t.partitions.iter());
    let (offline, led) = partitions.fold((0, 0), |(o, l), p| {
        (o + i64::from(p.leader < 0), l + i64::from(p.leader == cluster.node_id))
    });
    gauge(
        e,
        "kzero_offline_partitions",
        "Partitions without a leader (OfflinePartitionsCount)",
        offline,
    )?;
    gauge(
        e,
        "kzero_leader_partitions",
        "Partitions this broker leads (LeaderCount)",
        led,
    )?;
    gauge(
        e,
        "kzero_broker_fenced",
        "1 while this broker is fenced (not serving as a leader), else 0",
        i64::from(cluster.broker.is_fenced()),
    )?;
    counter(
        e,
        "kzero_controller_writes",
        "Metadata entries this node wrote as the active controller",
        None,
        cluster.writes.load(std::sync::atomic::Ordering::Relaxed),
    )
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        let t = self.transfer.snapshot();
        let e = &mut encoder;
        counter(
            e,
            "kzero_bytes_out",
            "Bytes written to clients, all paths",
            None,
            t.sendfile_bytes + t.copy_bytes + t.memory_bytes + t.tls_bytes,
        )?;
        counter(
            e,
            "kzero_bytes_sendfile",
            "File bytes sent with sendfile (zero-copy)",
            None,
            t.sendfile_bytes,
        )?;
        counter(
            e,
            "kzero_bytes_copied",
            "File bytes copied through user space (copy mode)",
            None,
            t.copy_bytes,
        )?;
        counter(
            e,
            "kzero_bytes_memory",
            "Encoded response bytes (headers, metadata) written from memory",
            None,
            t.memory_bytes,
        )?;
        counter(e, "kzero_bytes_tls", "Bytes written through TLS", None, t.tls_bytes)?;
        if let Some(cluster) = self.cluster.get().and_then(Weak::upgrade) {
            encode_cluster(e, &cluster)?;
        }
        let Some(replicas) = self.replicas.get().and_then(Weak::upgrade) else {
            return Ok(());
        };
        let fetch = replicas.delayed_fetch.stats();
        let produce = replicas.delayed_produce.stats();
        counter(
            e,
            "kzero_fetch_wakeups",
            "Waiting fetches woken by an append to one of their partitions",
            None,
            fetch.woken,
        )?;
        {
            let g = ConstGauge::new(0i64);
            let mut m = e.encode_descriptor(
                "kzero_delayed_operations",
                "Requests waiting: fetches for min_bytes, acks=all produces for the high watermark (purgatory size)",
                None,
                g.metric_type(),
            )?;
            for (kind, s) in [("fetch", fetch), ("produce", produce)] {
                ConstGauge::new(s.waiting as i64).encode(m.encode_family(&[("kind", kind)])?)?;
            }
        }
        {
            let c = ConstCounter::new(0u64);
            let mut m = e.encode_descriptor(
                "kzero_delayed_expired",
                "Waiting requests answered at their deadline",
                None,
                c.metric_type(),
            )?;
            for (kind, s) in [("fetch", fetch), ("produce", produce)] {
                ConstCounter::new(s.expired).encode(m.encode_family(&[("kind", kind)])?)?;
            }
        }
        let flush = replicas.flush_stats();
        counter(
            e,
            "kzero_log_flushes",
            "Log flushes that synced data (LogFlushRateAndTimeMs rate)",
            None,
            flush.flushes,
        )?;
        {
            let c = ConstCounter::new(flush.seconds);
            c.encode(e.encode_descriptor(
                "kzero_log_flush_seconds",
                "Time spent in log flushes (LogFlushRateAndTimeMs time)",
                None,
                c.metric_type(),
            )?)?;
        }
        let partitions = replicas.partitions();
        gauge(
            e,
            "kzero_partitions",
            "Partitions on this broker (PartitionCount)",
            partitions.len() as i64,
        )?;
        type Read = fn(&crate::partition::Partition) -> i64;
        let per_partition: [(&str, &str, Read); 5] = [
            (
                "kzero_log_size_bytes",
                "Bytes in each partition's log (kafka.log Size)",
                |p| p.log().size_in_bytes() as i64,
            ),
            (
                "kzero_log_segments",
                "Segments of each partition's log (NumLogSegments)",
                |p| p.log().segment_count() as i64,
            ),
            (
                "kzero_log_start_offset",
                "First offset of each partition (LogStartOffset)",
                |p| p.log().log_start_offset(),
            ),
            (
                "kzero_log_end_offset",
                "Next offset of each partition (LogEndOffset)",
                |p| p.log().log_end_offset(),
            ),
            (
                "kzero_high_watermark",
                "Offset below which each partition's records are committed",
                |p| p.high_watermark(),
            ),
        ];
        for (name, help, read) in per_partition {
            let mut m = e.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for p in &partitions {
                let labels = [("topic", p.topic.to_string()), ("partition", p.index.to_string())];
                ConstGauge::new(read(p)).encode(m.encode_family(&labels)?)?;
            }
        }
        // The leader's view of its replicas.
        let led: Vec<_> = partitions
            .iter()
            .filter(|p| p.is_leader())
            .filter_map(|p| p.leader_view().map(|v| (p, v)))
            .collect();
        gauge(
            e,
            "kzero_under_replicated_partitions",
            "Partitions led here whose ISR is smaller than their replicas (UnderReplicatedPartitions)",
            led.iter().filter(|(_, v)| v.under_replicated).count() as i64,
        )?;
        gauge(
            e,
            "kzero_under_min_isr_partitions",
            "Partitions led here whose ISR is below min.insync.replicas (UnderMinIsrPartitionCount)",
            led.iter().filter(|(_, v)| v.under_min_isr).count() as i64,
        )?;
        {
            let mut m = e.encode_descriptor(
                "kzero_replica_lag",
                "Offsets each replica is behind the leader's log end, on the leader (0 for itself; -1: not fetched yet)",
                None,
                MetricType::Gauge,
            )?;
            for (p, v) in &led {
                for (replica, lag) in &v.follower_lags {
                    let labels = [
                        ("topic", p.topic.to_string()),
                        ("partition", p.index.to_string()),
                        ("replica", replica.to_string()),
                    ];
                    ConstGauge::new(lag.unwrap_or(-1)).encode(m.encode_family(&labels)?)?;
                }
            }
        }
        self.encode_groups(e, &replicas)
    }
}

impl Scrape {
    /// Groups by state, rebalances, and each group's committed offset and lag per partition.
    fn encode_groups(&self, e: &mut DescriptorEncoder<'_>, replicas: &ReplicaManager) -> fmt::Result {
        let view = self.groups.load();
        {
            let mut m = e.encode_descriptor(
                "kzero_consumer_groups",
                "Consumer groups by state (NumGroupsStable, NumGroupsEmpty, ...)",
                None,
                MetricType::Gauge,
            )?;
            for state in ["Empty", "PreparingRebalance", "CompletingRebalance", "Stable"] {
                let n = view.states.iter().filter(|(_, s)| *s == state).count();
                ConstGauge::new(n as i64).encode(m.encode_family(&[("state", state)])?)?;
            }
        }
        counter(
            e,
            "kzero_group_rebalances",
            "Rebalances (join phases) completed by classic groups (classic-group-rebalance-count)",
            None,
            view.rebalances,
        )?;
        let mut committed = e.encode_descriptor(
            "kzero_consumer_group_committed_offset",
            "Each group's committed offset per partition",
            None,
            MetricType::Gauge,
        )?;
        for (group, topic, partition, offset) in &view.committed {
            let labels = [
                ("group", group.clone()),
                ("topic", topic.clone()),
                ("partition", partition.to_string()),
            ];
            ConstGauge::new(*offset).encode(committed.encode_family(&labels)?)?;
        }
        let mut lag = e.encode_descriptor(
            "kzero_consumer_group_lag",
            "Records between each group's committed offset and the partition's high watermark",
            None,
            MetricType::Gauge,
        )?;
        for (group, topic, partition, offset) in &view.committed {
            let Ok(p) = replicas.partition(topic, *partition) else {
                continue;
            };
            if *offset < 0 {
                continue;
            }
            let labels = [
                ("group", group.clone()),
                ("topic", topic.clone()),
                ("partition", partition.to_string()),
            ];
            ConstGauge::new((p.high_watermark() - offset).max(0)).encode(lag.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
