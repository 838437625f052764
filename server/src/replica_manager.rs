//! The partitions this broker hosts, and the two operations every client and follower uses on them:
//! [`ReplicaManager::append_records`] and [`ReplicaManager::fetch_messages`] (Kafka's `ReplicaManager`).
//!
//! The topic table is an immutable snapshot behind an atomic pointer (`arc-swap`): produce, fetch and
//! metadata read it without a lock, and topic creation and deletion publish a new snapshot (serialized by
//! an admin lock that no produce or fetch takes). File work (creating and deleting logs, syncing appends,
//! rebuilding producer state, retention, checkpoints) runs on blocking threads.
//!
//! Requests that must wait (a fetch short of `min_bytes`, an `acks=all` produce whose batch is not yet
//! below the high watermark) wait as delayed operations ([`crate::delayed`]) on their partitions.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use protocol::{ErrorCode, Records};
use storage::{LogConfig, LogManager, LogManagerOptions, Slice};

use crate::config::Config;
use crate::delayed::DelayedOperations;
use crate::error::storage_error_code;
use crate::metrics::Metrics;
use crate::partition::{parse_header, Appended, Partition, PartitionContext, ReadBound};
use crate::topic_config::TopicConfig;
use crate::topic_id::TopicId;
use crate::Error;

/// One topic as the metadata has it: its id, its partitions (index = partition id; `None` for a partition
/// this broker does not host) and its config overrides.
#[derive(Debug)]
pub(crate) struct Topic {
    pub(crate) name: Arc<str>,
    /// Given at creation, kept in each hosted partition's `partition.metadata`.
    pub(crate) id: TopicId,
    /// INVARIANT: `partitions[i]`, when hosted here, has index `i`.
    pub(crate) partitions: Vec<Option<Arc<Partition>>>,
    pub(crate) config: TopicConfig,
    /// The metadata this was built from (`None` until the metadata named the topic: logs found on disk at
    /// start-up); an unchanged image topic is skipped by pointer.
    source: Option<Arc<metadata::Topic>>,
}

impl Topic {
    /// The partitions hosted here.
    pub(crate) fn hosted(&self) -> impl Iterator<Item = &Arc<Partition>> {
        self.partitions.iter().flatten()
    }
}

/// A topic found on disk that the metadata does not name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LocalTopic {
    pub(crate) name: String,
    pub(crate) id: TopicId,
    /// The partition count (one past the highest partition found).
    pub(crate) partitions: i32,
    /// (partition, its log's last leader epoch).
    pub(crate) epochs: Vec<(i32, i32)>,
    pub(crate) config: TopicConfig,
}

/// The snapshot readers load: topics by name, and the same topics by id (Kafka's topic ids, KIP-516).
#[derive(Debug, Clone, Default)]
pub(crate) struct TopicMap {
    by_name: BTreeMap<Arc<str>, Arc<Topic>>,
    by_id: HashMap<TopicId, Arc<Topic>>,
}

impl TopicMap {
    /// The topic with this name.
    pub(crate) fn get(&self, name: &str) -> Option<&Arc<Topic>> {
        self.by_name.get(name)
    }

    /// The topic with this id.
    pub(crate) fn by_id(&self, id: TopicId) -> Option<&Arc<Topic>> {
        self.by_id.get(&id)
    }

    /// Every topic, sorted by name.
    pub(crate) fn values(&self) -> impl Iterator<Item = &Arc<Topic>> {
        self.by_name.values()
    }

    /// Adds or replaces a topic (by name; the id of a replaced topic is forgotten).
    fn insert(&mut self, topic: Arc<Topic>) {
        if let Some(old) = self.by_name.insert(Arc::clone(&topic.name), Arc::clone(&topic)) {
            self.by_id.remove(&old.id);
        }
        self.by_id.insert(topic.id, topic);
    }

    fn remove(&mut self, name: &str) -> Option<Arc<Topic>> {
        let topic = self.by_name.remove(name)?;
        self.by_id.remove(&topic.id);
        Some(topic)
    }
}

/// A partition's batch in a produce request (borrowed from the request).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProduceEntry<'a> {
    pub(crate) topic: &'a str,
    pub(crate) partition: i32,
    pub(crate) records: Option<&'a Records>,
}

/// The `acks=all` batches of a produce request, appended and waiting for the high watermark.
#[derive(Debug)]
pub(crate) struct AcksWait {
    /// (index among the request's results, partition, what was appended).
    waiting: Vec<(usize, Arc<Partition>, Appended)>,
    deadline: tokio::time::Instant,
}

/// The outcome for one partition of a produce request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProduceResult {
    pub(crate) error: ErrorCode,
    pub(crate) base_offset: i64,
    pub(crate) log_start_offset: i64,
}

impl ProduceResult {
    pub(crate) fn failed(error: ErrorCode) -> Self {
        ProduceResult {
            error,
            base_offset: -1,
            log_start_offset: -1,
        }
    }
}

/// What a fetch asks, consumer or follower: the fields a follower sends are honoured.
#[derive(Debug, Clone)]
pub(crate) struct FetchParams<'a> {
    /// The follower's broker id, or negative for consumers (-1).
    pub(crate) replica_id: i32,
    pub(crate) max_wait: Duration,
    pub(crate) min_bytes: i32,
    pub(crate) max_bytes: i32,
    /// 0 = read uncommitted, 1 = read committed.
    pub(crate) isolation_level: i8,
    /// In request order (KIP-74 reads them in this order).
    pub(crate) partitions: Vec<FetchPartitionParams<'a>>,
}

/// One partition of a fetch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FetchPartitionParams<'a> {
    /// Borrowed from the request: a fetch allocates nothing per partition for names.
    pub(crate) topic: &'a str,
    pub(crate) partition: i32,
    pub(crate) fetch_offset: i64,
    /// -1 for no check.
    pub(crate) current_leader_epoch: i32,
    /// The epoch of the last batch the fetcher has (Fetch v12+), -1 for none: a log that diverged from
    /// it answers with its diverging epoch instead of records.
    pub(crate) last_fetched_epoch: i32,
    pub(crate) partition_max_bytes: i32,
}

impl FetchParams<'_> {
    fn is_from_follower(&self) -> bool {
        self.replica_id >= 0
    }

    fn bound(&self) -> ReadBound {
        if self.is_from_follower() {
            ReadBound::LogEnd
        } else if self.isolation_level == 1 {
            ReadBound::LastStableOffset
        } else {
            ReadBound::HighWatermark
        }
    }
}

/// A fetched partition once resolved: the partition and, when the fetcher's log diverged from it, the
/// `DivergingEpoch` to answer; or why it cannot be read.
type Resolved = Result<(Arc<Partition>, Option<(i32, i64)>), ErrorCode>;

/// The outcome for one partition of a fetch.
#[derive(Debug, Clone)]
pub(crate) struct FetchedPartition {
    pub(crate) error: ErrorCode,
    /// Set (with no records) when the fetcher's last fetched epoch is not on this log as it says
    /// (Kafka's `DivergingEpoch`): the largest epoch of this log at most the fetcher's, and its end offset.
    pub(crate) diverging_epoch: Option<(i32, i64)>,
    pub(crate) high_watermark: i64,
    pub(crate) log_start_offset: i64,
    /// The records' file region; `None` for no records (null in the response when `error` is set).
    pub(crate) records: Option<Slice>,
}

impl FetchedPartition {
    fn failed(error: ErrorCode) -> Self {
        FetchedPartition {
            error,
            diverging_epoch: None,
            high_watermark: -1,
            log_start_offset: -1,
            records: None,
        }
    }
}

/// The response byte limit of a fetch (KIP-74): partitions are read in order, each up to
/// `min(partition_max_bytes, what is left)`; the first batch of the first partition with records is
/// returned whole even when larger than both limits; a later partition whose first batch does not fit
/// gets no records rather than a partial batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ByteBudget {
    remaining: u64,
    any_records: bool,
}

impl ByteBudget {
    pub(crate) fn new(response_max_bytes: u64) -> Self {
        ByteBudget {
            remaining: response_max_bytes,
            any_records: false,
        }
    }

    /// The most a partition may read, or `None` when it must not read at all.
    pub(crate) fn partition_limit(&self, partition_max_bytes: i32) -> Option<u64> {
        let limit = (partition_max_bytes.max(0) as u64).min(self.remaining);
        (limit > 0 || !self.any_records).then_some(limit)
    }

    /// Whether a partition's read of `len` bytes (at least its first batch) under `limit` is returned;
    /// counts it if so.
    pub(crate) fn take(&mut self, len: u64, limit: u64) -> bool {
        if self.any_records && len > limit {
            return false;
        }
        self.any_records = true;
        self.remaining = self.remaining.saturating_sub(len);
        true
    }
}

/// A topic's id from its partitions' `partition.metadata` files; a topic without one (created before kzero
/// kept ids) gets a new id, written to every partition, and partitions missing the file get it.
fn topic_id_of(name: &str, partitions: &[Arc<Partition>]) -> Result<TopicId, Error> {
    // (Logs found on disk, before the metadata names the topic.)
    let found: Vec<Option<TopicId>> = partitions.iter().map(|p| TopicId::read(p.log().dir())).collect();
    let id = match found.iter().flatten().next() {
        Some(id) => *id,
        None => {
            let id = TopicId::random();
            tracing::info!(topic = name, %id, "gave the topic an id");
            id
        }
    };
    for (p, f) in partitions.iter().zip(&found) {
        if *f != Some(id) {
            if f.is_some() {
                tracing::warn!(topic = name, partition = p.index, %id, "a partition disagreed on the topic id; rewriting it");
            }
            id.write(p.log().dir())?;
        }
    }
    Ok(id)
}

/// The high-watermark checkpoint in the data directory (Kafka's name).
const HW_CHECKPOINT: &str = "replication-offset-checkpoint";

/// The most partitions one request may create (Kafka's controller refuses operations of more than
/// 10,000 records, `MAX_RECORDS_PER_USER_OP`): a client cannot make the broker allocate or create files
/// for billions of partitions.
pub(crate) const MAX_PARTITIONS_PER_REQUEST: i32 = 10_000;

/// Owns the partitions.
#[derive(Debug)]
pub(crate) struct ReplicaManager {
    metrics: Arc<Metrics>,
    local_id: i32,
    data_dir: PathBuf,
    /// The broker's log settings (topic overrides apply on top).
    defaults: LogConfig,
    logs: Arc<LogManager>,
    topics: ArcSwap<TopicMap>,
    /// Serializes topic creation and deletion (never taken by produce or fetch).
    admin: tokio::sync::Mutex<()>,
    /// Fetches waiting for `min_bytes` (Kafka's fetch purgatory).
    pub(crate) delayed_fetch: DelayedOperations,
    /// `acks=all` produces waiting for the high watermark (Kafka's produce purgatory).
    pub(crate) delayed_produce: DelayedOperations,
    /// What every `Partition` shares: the fenced flag (a fenced broker leads nothing), the replication
    /// settings and the queue of ISR proposals.
    pub(crate) context: Arc<PartitionContext>,
    /// The metadata the unit tests' topic changes build (production gets it from the quorum).
    #[cfg(test)]
    test_image: std::sync::Mutex<metadata::Image>,
}

fn blocking_failed(e: tokio::task::JoinError) -> (ErrorCode, String) {
    tracing::error!(error = %e, "a blocking task failed");
    (ErrorCode::UnknownServerError, format!("internal error: {e}"))
}

impl ReplicaManager {
    /// Opens the data directory (recovering logs if needed); blocking.
    pub(crate) fn open(config: &Config, metrics: Arc<Metrics>) -> Result<ReplicaManager, Error> {
        let defaults = config.log_config();
        let topic_configs = TopicConfig::load_all(&config.data_dir)?;
        let options = LogManagerOptions::default().with_file_cache_capacity(config.log.segment_file_cache);
        let (logs, reports) = LogManager::open_with(
            &config.data_dir,
            |topic| {
                topic_configs
                    .get(topic)
                    .map_or_else(|| defaults.clone(), |c| c.apply(defaults.clone()))
            },
            options,
        )?;
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
        // The high watermarks of the last checkpoint (Kafka's `replication-offset-checkpoint`). A data
        // directory from before replication has none: its logs were committed to their ends. A partition
        // missing from an existing file starts from its log start, and its leader's rules raise it.
        let hw_path = config.data_dir.join(HW_CHECKPOINT);
        let hw_file_exists = hw_path.exists();
        let checkpointed = storage::checkpoint::read(&hw_path)?;
        let mut by_topic: BTreeMap<String, BTreeMap<i32, Arc<storage::Log>>> = BTreeMap::new();
        for ((topic, partition), log) in logs.logs() {
            by_topic.entry(topic).or_default().insert(partition, log);
        }
        let local = config.node_id;
        let context = Arc::new(PartitionContext {
            local_id: local,
            fenced: std::sync::atomic::AtomicBool::new(false),
            replica_lag_time_max_ms: config.replica_lag_time_max_ms,
            isr_queue: Default::default(),
        });
        let mut topics = TopicMap::default();
        for (name, found) in by_topic {
            let count = found.keys().next_back().map_or(0, |p| p + 1);
            let topic_config = topic_configs.get(&name).cloned().unwrap_or_default();
            let name: Arc<str> = name.into();
            let topic_metrics = metrics.topic(&name);
            // Partitions this broker does not host (any more) are holes until the metadata says more.
            let mut partitions: Vec<Option<Arc<Partition>>> = vec![None; count as usize];
            for (p, log) in found {
                let high_watermark = match checkpointed.get(&(name.to_string(), p)) {
                    Some(hw) => *hw,
                    None if hw_file_exists => log.log_start_offset(),
                    None => log.log_end_offset(),
                };
                partitions[p as usize] = Some(Arc::new(Partition::new(
                    Arc::clone(&name),
                    p,
                    log,
                    high_watermark,
                    Arc::clone(&context),
                    Arc::clone(&topic_metrics),
                )));
            }
            let hosted: Vec<Arc<Partition>> = partitions.iter().flatten().cloned().collect();
            let id = topic_id_of(&name, &hosted)?;
            let topic = Topic {
                name: Arc::clone(&name),
                id,
                partitions,
                config: topic_config,
                source: None,
            };
            topics.insert(Arc::new(topic));
        }
        let manager = ReplicaManager {
            metrics,
            local_id: local,
            data_dir: config.data_dir.clone(),
            defaults,
            logs: Arc::new(logs),
            topics: ArcSwap::from_pointee(topics),
            admin: tokio::sync::Mutex::new(()),
            delayed_fetch: DelayedOperations::default(),
            delayed_produce: DelayedOperations::default(),
            context,
            #[cfg(test)]
            test_image: std::sync::Mutex::new(metadata::Image::default()),
        };
        // From now on the file exists: after a crash before the next checkpoint, a partition it does not
        // name starts from its log start, not from a log end that may hold uncommitted records.
        manager.checkpoint_high_watermarks()?;
        Ok(manager)
    }

    /// The current topic table.
    pub(crate) fn topics(&self) -> Arc<TopicMap> {
        self.topics.load_full()
    }

    pub(crate) fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics.load().get(name).cloned()
    }

    /// The topic with this id (`None` for the zero id, or an id no topic has: `UNKNOWN_TOPIC_ID`).
    pub(crate) fn topic_by_id(&self, id: TopicId) -> Option<Arc<Topic>> {
        self.topics.load().by_id(id).cloned()
    }

    /// A partition this broker leads: `UNKNOWN_TOPIC_OR_PARTITION` for a topic or partition the metadata
    /// does not have, `NOT_LEADER_OR_FOLLOWER` for one another broker leads (Kafka's
    /// `getPartitionOrError` then `leaderLogIfLocal`).
    pub(crate) fn partition(&self, topic: &str, index: i32) -> Result<Arc<Partition>, ErrorCode> {
        let partition = self.local_partition(topic, index)?;
        if partition.is_leader() {
            Ok(partition)
        } else {
            Err(ErrorCode::NotLeaderOrFollower)
        }
    }

    /// A partition hosted here, leader or not.
    pub(crate) fn local_partition(&self, topic: &str, index: i32) -> Result<Arc<Partition>, ErrorCode> {
        let topics = self.topics.load();
        let topic = topics.get(topic).ok_or(ErrorCode::UnknownTopicOrPartition)?;
        let slot = usize::try_from(index)
            .ok()
            .and_then(|i| topic.partitions.get(i))
            .ok_or(ErrorCode::UnknownTopicOrPartition)?;
        slot.clone().ok_or(ErrorCode::NotLeaderOrFollower)
    }

    /// Every partition hosted here, sorted by topic and index.
    pub(crate) fn partitions(&self) -> Vec<Arc<Partition>> {
        self.topics.load().values().flat_map(|t| t.hosted().cloned()).collect()
    }

    /// Partition objects over newly created logs, with their states from the metadata applied.
    fn new_partitions(
        &self,
        name: &Arc<str>,
        created: Vec<(Arc<storage::Log>, &metadata::PartitionState, i32)>,
    ) -> Vec<(i32, Arc<Partition>)> {
        let topic_metrics = self.metrics.topic(name);
        created
            .into_iter()
            .map(|(log, state, p)| {
                let partition = Arc::new(Partition::new(
                    Arc::clone(name),
                    p,
                    log,
                    0,
                    Arc::clone(&self.context),
                    Arc::clone(&topic_metrics),
                ));
                partition.apply_state(state);
                (p, partition)
            })
            .collect()
    }

    /// Brings the local partitions in line with the metadata (Kafka's `ReplicaManager.applyDelta`), under
    /// the admin lock: topics gone from the metadata (or re-created with a new id) are deleted here (a topic
    /// found on disk that the metadata never named is left alone, not served);
    /// every topic is published with the partitions this broker hosts (logs created on blocking threads
    /// with the topic's id and config; partitions no longer assigned here are deleted), each hosted
    /// partition takes its leader and epochs, and config changes are saved and applied to the live logs.
    /// Topics whose metadata did not change are skipped. Returns the names of the deleted topics.
    ///
    /// Nothing is deleted until `caught_up` (this broker's metadata has reached its own registration): an
    /// image replayed from an older point may still name an earlier incarnation of a topic, and deleting
    /// the newer one's logs then would lose acknowledged records (Kafka likewise waits for the metadata
    /// to catch up before it removes stray logs).
    pub(crate) async fn apply_image(self: &Arc<Self>, image: &metadata::Image, caught_up: bool) -> Vec<String> {
        let _admin = self.admin.lock().await;
        let mut deleted = Vec::new();
        let current = self.topics();
        if caught_up {
            for topic in current.values() {
                // Deleted: a topic the metadata named before and no longer does, or one whose name the metadata
                // gives to another incarnation (another id). A topic found on disk that the metadata does not
                // name (yet) stays: it is offered for adoption, or a stray left alone.
                let stale = match image.topics.get(&*topic.name) {
                    Some(t) => t.id != topic.id.0,
                    None => topic.source.is_some(),
                };
                if stale {
                    self.remove_topic(topic).await;
                    deleted.push(topic.name.to_string());
                }
            }
        }
        let mut changed = Vec::new();
        for source in image.topics.values() {
            let named = self.topic(&source.name);
            if named.as_ref().is_some_and(|l| l.id.0 != source.id) {
                // Another incarnation's logs are here (deleted above once caught up): not before.
                continue;
            }
            let local = named;
            if local
                .as_ref()
                .and_then(|l| l.source.as_ref())
                .is_some_and(|s| Arc::ptr_eq(s, source))
            {
                continue;
            }
            match self.apply_topic(source, local, caught_up).await {
                Ok(topic) => changed.push(Arc::new(topic)),
                Err((code, e)) => {
                    tracing::error!(topic = %source.name, ?code, error = %e, "cannot apply the topic's metadata")
                }
            }
        }
        // One new table for every changed topic (a start with thousands of topics publishes once).
        if !changed.is_empty() {
            let mut next = TopicMap::clone(&self.topics.load());
            for topic in changed {
                next.insert(topic);
            }
            self.topics.store(Arc::new(next));
        }
        deleted
    }

    /// Applies one topic's metadata (see [`ReplicaManager::apply_image`]).
    async fn apply_topic(
        self: &Arc<Self>,
        source: &Arc<metadata::Topic>,
        local: Option<Arc<Topic>>,
        caught_up: bool,
    ) -> Result<Topic, (ErrorCode, String)> {
        let name: Arc<str> = local
            .as_ref()
            .map_or_else(|| source.name.as_str().into(), |l| Arc::clone(&l.name));
        let id = TopicId(source.id);
        let (config, skipped) =
            TopicConfig::parse_lenient(source.configs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if !skipped.is_empty() {
            tracing::warn!(topic = %name, ?skipped, "the metadata holds topic configs this broker does not take; the others apply");
        }
        let mut partitions: Vec<Option<Arc<Partition>>> =
            local.as_ref().map_or_else(Vec::new, |l| l.partitions.clone());
        partitions.resize(source.partitions.len(), None);
        let mut create = Vec::new();
        let mut remove = Vec::new();
        for (i, state) in source.partitions.iter().enumerate() {
            let hosted = state.replicas.contains(&self.local_id);
            match (&partitions[i], hosted) {
                (Some(p), true) => p.apply_state(state),
                (None, true) => create.push(i as i32),
                (Some(p), false) if caught_up => {
                    remove.push(Arc::clone(p));
                    partitions[i] = None;
                }
                (Some(_), false) => {}
                (None, false) => {}
            }
        }
        let config_changed = local.as_ref().is_none_or(|l| l.config != config);
        let hosts_any = !create.is_empty() || partitions.iter().any(Option::is_some);
        if hosts_any && (config_changed || !create.is_empty()) || !remove.is_empty() {
            let this = Arc::clone(self);
            let (owned_name, owned_config, live) = (Arc::clone(&name), config.clone(), partitions.clone());
            let indexes = create.clone();
            let removing = remove.clone();
            let logs = tokio::task::spawn_blocking(move || {
                if config_changed {
                    owned_config
                        .save(&this.data_dir, &owned_name)
                        .map_err(|e| (ErrorCode::KafkaStorageError, e.to_string()))?;
                    let log_config = owned_config.apply(this.defaults.clone());
                    for p in live.iter().flatten() {
                        p.set_config(log_config.clone());
                    }
                }
                for p in &removing {
                    p.mark_deleted();
                    if let Err(e) = this.logs.delete(&owned_name, p.index) {
                        tracing::error!(topic = %owned_name, partition = p.index, error = %e, "cannot delete a partition no longer assigned here");
                    }
                }
                this.create_partition_logs(&owned_name, id, &indexes, &owned_config)
            })
            .await
            .map_err(blocking_failed)??;
            let created = logs
                .into_iter()
                .zip(&create)
                .map(|(log, p)| (log, &source.partitions[*p as usize], *p))
                .collect();
            for (p, partition) in self.new_partitions(&name, created) {
                partitions[p as usize] = Some(partition);
            }
        }
        if local.is_none() {
            tracing::info!(topic = %name, %id, partitions = source.partitions.len(), hosted = partitions.iter().flatten().count(), "topic in the metadata");
        }
        Ok(Topic {
            name,
            id,
            partitions,
            config,
            source: Some(Arc::clone(source)),
        })
    }

    /// Creates the logs of partitions `indexes` of a topic, each with the topic's id; on a failure the
    /// ones created are deleted again.
    fn create_partition_logs(
        &self,
        name: &str,
        id: TopicId,
        indexes: &[i32],
        config: &TopicConfig,
    ) -> Result<Vec<Arc<storage::Log>>, (ErrorCode, String)> {
        let log_config = config.apply(self.defaults.clone());
        let mut logs = Vec::with_capacity(indexes.len());
        for (n, p) in indexes.iter().enumerate() {
            let created = self
                .logs
                .create(name, *p, log_config.clone())
                .map_err(|e| e.to_string())
                .and_then(|log| id.write(log.dir()).map(|()| log).map_err(|e| e.to_string()));
            match created {
                Ok(log) => logs.push(log),
                Err(e) => {
                    tracing::error!(topic = name, partition = p, error = %e, "cannot create partition log");
                    for q in &indexes[..=n] {
                        let _ = self.logs.delete(name, *q);
                    }
                    return Err((ErrorCode::KafkaStorageError, e));
                }
            }
        }
        Ok(logs)
    }

    /// Raises a partition's log start offset to `offset` (Kafka's DeleteRecords; -1 means the high
    /// watermark) and answers the new low watermark. Beyond the high watermark, or negative other than
    /// -1, is `OFFSET_OUT_OF_RANGE`. Segments entirely below are deleted, and the log-start checkpoint
    /// is written before the answer, so the deletion survives a crash.
    pub(crate) async fn delete_records(
        self: &Arc<Self>,
        topic: &str,
        index: i32,
        offset: i64,
    ) -> Result<i64, ErrorCode> {
        let partition = self.partition(topic, index)?;
        let high_watermark = partition.high_watermark();
        let offset = match offset {
            -1 => high_watermark,
            o if o < 0 || o > high_watermark => return Err(ErrorCode::OffsetOutOfRange),
            o => o,
        };
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            partition
                .log()
                .delete_records_before(offset)
                .and_then(|_| this.logs.checkpoint())
                .map_err(|e| {
                    tracing::error!(topic = %partition.topic, partition = partition.index, error = %e, "delete records failed");
                    storage_error_code(&e)
                })?;
            // Readers that waited below the new start must now see OFFSET_OUT_OF_RANGE.
            partition.watchers.wake();
            Ok(partition.log().log_start_offset())
        })
        .await
        .map_err(|e| blocking_failed(e).0)?
    }

    /// Deletes a topic here: unpublishes it (its partitions answer `UNKNOWN_TOPIC_OR_PARTITION` from then on
    /// and their waiting operations are woken), then removes its files on a blocking thread. The caller
    /// holds the admin lock.
    async fn remove_topic(self: &Arc<Self>, topic: &Arc<Topic>) {
        let mut next = TopicMap::clone(&self.topics.load());
        next.remove(&topic.name);
        self.topics.store(Arc::new(next));
        for p in topic.hosted() {
            p.mark_deleted();
        }
        self.metrics.remove_topic(&topic.name);
        let this = Arc::clone(self);
        let deleting = Arc::clone(topic);
        let _ = tokio::task::spawn_blocking(move || {
            for p in deleting.hosted() {
                if let Err(e) = this.logs.delete(&deleting.name, p.index) {
                    tracing::error!(topic = %deleting.name, partition = p.index, error = %e, "cannot delete partition log");
                }
            }
            if let Err(e) = TopicConfig::remove(&this.data_dir, &deleting.name) {
                tracing::error!(topic = %deleting.name, error = %e, "cannot remove the topic's config file");
            }
        })
        .await
        .map_err(blocking_failed);
        tracing::info!(topic = %topic.name, "deleted topic");
    }

    /// Whether this broker is fenced: then no partition is led here (each `Partition` reads the flag), and
    /// the metadata's states take effect again once unfenced.
    pub(crate) fn set_fenced(&self, fenced: bool) {
        if self.context.fenced.swap(fenced, std::sync::atomic::Ordering::AcqRel) != fenced {
            if fenced {
                tracing::warn!("fenced: leading no partition until the controller unfences this broker");
            }
            for p in self.partitions() {
                p.watchers.wake();
            }
        }
    }

    /// Local topics found on disk that the metadata does not name yet, with what the controller needs to
    /// adopt them.
    pub(crate) fn unregistered_topics(&self) -> Vec<LocalTopic> {
        self.topics
            .load()
            .values()
            .filter(|t| t.source.is_none())
            .map(|t| LocalTopic {
                name: t.name.to_string(),
                id: t.id,
                partitions: t.partitions.len() as i32,
                epochs: t.hosted().map(|p| (p.index, p.leader_epoch())).collect(),
                config: t.config.clone(),
            })
            .collect()
    }
    /// Unit tests change topics the way the controller does: records on a metadata image of their own,
    /// then [`ReplicaManager::apply_image`].
    #[cfg(test)]
    async fn test_change(
        self: &Arc<Self>,
        change: impl FnOnce(&metadata::Image) -> Result<Vec<metadata::Record>, (ErrorCode, String)>,
    ) -> Result<(), (ErrorCode, String)> {
        let image = {
            let mut image = self.test_image.lock().unwrap();
            if image.brokers.is_empty() {
                let register = metadata::Record::RegisterBroker(metadata::records::RegisterBroker {
                    broker_id: self.local_id,
                    incarnation_id: [1; 16],
                    endpoints: Vec::new(),
                    rack: None,
                    observer_addr: None,
                });
                image.apply_batch(1, &metadata::Batch(vec![register]));
                let unfence = metadata::Record::BrokerRegistrationChange {
                    broker_id: self.local_id,
                    broker_epoch: 1,
                    fenced: -1,
                    in_controlled_shutdown: 0,
                };
                image.apply_batch(2, &metadata::Batch(vec![unfence]));
            }
            let records = change(&image)?;
            let next = image.offset + 1;
            image.apply_batch(next, &metadata::Batch(records));
            image.clone()
        };
        self.apply_image(&image, true).await;
        Ok(())
    }

    /// Creates a topic led here (tests).
    #[cfg(test)]
    pub(crate) async fn create_topic(
        self: &Arc<Self>,
        name: &str,
        partitions: i32,
        config: TopicConfig,
    ) -> Result<(), (ErrorCode, String)> {
        let topic = metadata::controller::NewTopic {
            name: name.into(),
            id: TopicId::random().0,
            partitions,
            replication_factor: 1,
            assignments: Vec::new(),
            configs: config.entries(),
        };
        self.test_change(|image| metadata::controller::create_topic(image, &topic, 0))
            .await
    }

    /// Adds partitions (tests).
    #[cfg(test)]
    pub(crate) async fn create_partitions(self: &Arc<Self>, name: &str, count: i32) -> Result<(), (ErrorCode, String)> {
        self.test_change(|image| metadata::controller::create_partitions(image, name, count, &[], 0))
            .await
    }

    /// Replaces a topic's configs (tests).
    #[cfg(test)]
    pub(crate) async fn alter_topic_config(
        self: &Arc<Self>,
        name: &str,
        config: &TopicConfig,
    ) -> Result<(), (ErrorCode, String)> {
        let current = self.topic(name).map(|t| t.config.clone()).unwrap_or_default();
        let changes = current.changes_to(config);
        self.test_change(|image| metadata::controller::alter_configs(image, name, &changes))
            .await
    }

    /// Deletes a topic (tests).
    #[cfg(test)]
    pub(crate) async fn delete_topic(self: &Arc<Self>, name: &str) -> ErrorCode {
        match self
            .test_change(|image| metadata::controller::delete_topic(image, name))
            .await
        {
            Ok(()) => ErrorCode::None,
            Err((code, _)) => code,
        }
    }

    /// Appends each partition's batch and answers when the acks condition holds: at once for `acks` 0 and
    /// 1; for `acks=all` when the high watermark passes each batch (Kafka's delayed produce), or
    /// `REQUEST_TIMED_OUT` for the batches it has not passed after `timeout` ([`ReplicaManager::append`]
    /// then [`ReplicaManager::wait_for_acks`]). Returns the outcomes in order and how long the request
    /// waited for the high watermark.
    pub(crate) async fn append_records(
        &self,
        acks: i16,
        timeout: Duration,
        produce_version: i16,
        entries: impl IntoIterator<Item = ProduceEntry<'_>>,
    ) -> (Vec<ProduceResult>, Duration) {
        let (mut results, wait) = self.append(acks, timeout, produce_version, entries).await;
        let Some(wait) = wait else {
            return (results, Duration::ZERO);
        };
        let (outcomes, waited) = self.wait_for_acks(wait).await;
        for (i, code) in outcomes {
            if code != ErrorCode::None {
                results[i] = ProduceResult::failed(code);
            }
        }
        (results, waited)
    }

    /// Appends each partition's batch, in order. For `acks=all` a batch is refused with
    /// `NOT_ENOUGH_REPLICAS` before the append when the ISR is below `min.insync.replicas`, and the
    /// appended ones are returned as an [`AcksWait`] (with its deadline, `timeout` from now) for
    /// [`ReplicaManager::wait_for_acks`].
    pub(crate) async fn append(
        &self,
        acks: i16,
        timeout: Duration,
        produce_version: i16,
        entries: impl IntoIterator<Item = ProduceEntry<'_>>,
    ) -> (Vec<ProduceResult>, Option<AcksWait>) {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut results = Vec::new();
        let mut waiting: Vec<(usize, Arc<Partition>, Appended)> = Vec::new();
        for entry in entries {
            match self.append_one(entry, produce_version, acks == -1).await {
                Ok((partition, appended)) => {
                    if acks == -1 {
                        waiting.push((results.len(), partition, appended));
                    }
                    results.push(ProduceResult {
                        error: ErrorCode::None,
                        base_offset: appended.base_offset,
                        log_start_offset: appended.log_start_offset,
                    });
                }
                Err(code) => results.push(ProduceResult::failed(code)),
            }
        }
        let wait = (!waiting.is_empty()).then_some(AcksWait { waiting, deadline });
        (results, wait)
    }

    /// The outcomes of [`ReplicaManager::wait_for_acks`] if every batch is already decided (one replica,
    /// or followers that were quick): then there is nothing to wait for.
    pub(crate) fn acks_decided(&self, wait: &AcksWait) -> Option<Vec<(usize, ErrorCode)>> {
        wait.waiting
            .iter()
            .map(|(i, p, a)| Some((*i, p.acks_all_outcome(a.required_offset, a.leader_epoch)?)))
            .collect()
    }

    /// Waits until the high watermark passes each appended `acks=all` batch, or the deadline: the outcome
    /// of each (by its index among the request's results): `NONE`, `NOT_ENOUGH_REPLICAS_AFTER_APPEND` if
    /// committed after the ISR shrank below the minimum, `NOT_LEADER_OR_FOLLOWER` if the broker stopped
    /// leading in the batch's epoch, `REQUEST_TIMED_OUT` at the deadline. Also returns how long it waited.
    pub(crate) async fn wait_for_acks(&self, wait: AcksWait) -> (Vec<(usize, ErrorCode)>, Duration) {
        let AcksWait { waiting, deadline } = wait;
        let outcome =
            |(_, p, a): &(usize, Arc<Partition>, Appended)| p.acks_all_outcome(a.required_offset, a.leader_epoch);
        let (outcomes, waited) = self
            .delayed_produce
            .wait(
                waiting.iter().map(|(_, p, _)| &p.watchers),
                deadline.saturating_duration_since(tokio::time::Instant::now()),
                || waiting.iter().map(outcome).collect::<Option<Vec<ErrorCode>>>(),
                || {
                    waiting
                        .iter()
                        .map(|w| outcome(w).unwrap_or(ErrorCode::RequestTimedOut))
                        .collect()
                },
            )
            .await;
        (waiting.iter().map(|(i, _, _)| *i).zip(outcomes).collect(), waited)
    }

    async fn append_one(
        &self,
        entry: ProduceEntry<'_>,
        version: i16,
        acks_all: bool,
    ) -> Result<(Arc<Partition>, Appended), ErrorCode> {
        let partition = self.partition(entry.topic, entry.partition)?;
        if acks_all {
            if let Err(code) = partition.check_min_isr_for_acks_all() {
                partition.metrics.produce_failed();
                return Err(code);
            }
        }
        let appended = Self::append_to(&partition, entry.records, version).await;
        match &appended {
            Ok(a) if !a.duplicate => {
                let bytes = entry.records.map_or(0, Records::len);
                partition
                    .metrics
                    .produced(bytes as u64, (a.required_offset - a.base_offset) as u64);
            }
            Ok(_) => {}
            Err(_) => partition.metrics.produce_failed(),
        }
        Ok((partition, appended?))
    }

    async fn append_to(
        partition: &Arc<Partition>,
        records: Option<&Records>,
        version: i16,
    ) -> Result<Appended, ErrorCode> {
        let Some(Records::Inline(bytes)) = records else {
            return Err(ErrorCode::InvalidRecord);
        };
        let header = parse_header(bytes, version)?;
        if partition.append_may_block(&header) {
            let p = Arc::clone(partition);
            let bytes = bytes.clone();
            tokio::task::spawn_blocking(move || p.append_records(&bytes, version))
                .await
                .map_err(|e| blocking_failed(e).0)?
        } else {
            partition.append_records(bytes, version)
        }
    }

    /// Reads each partition as a consumer or a follower may, waiting up to `max_wait` for `min_bytes`.
    /// Returns the partitions' outcomes in request order and how long the request waited.
    pub(crate) async fn fetch_messages(
        &self,
        params: &FetchParams<'_>,
        fetch_max_bytes: u64,
    ) -> (Vec<FetchedPartition>, Duration) {
        let response_limit = if params.is_from_follower() {
            params.max_bytes.max(0) as u64
        } else {
            (params.max_bytes.max(0) as u64).min(fetch_max_bytes)
        };
        let min_bytes = i64::from(params.min_bytes).min(i64::from(params.max_bytes)).max(0) as u64;
        // Resolved once; a deleted partition fails its reads (its log is closed) and wakes its waiters.
        // A follower's fetch offset is its log end: recorded once per request, which may advance the high
        // watermark; a fetch from a broker that is not a replica is NOT_LEADER_OR_FOLLOWER.
        // With each partition, whether the fetcher's log diverged from this one (decided once: this log's
        // epochs change only with a new leader epoch, which fails the epoch check instead).
        let resolved: Vec<Resolved> = params
            .partitions
            .iter()
            .map(|p| {
                let partition = self.partition(p.topic, p.partition)?;
                partition.check_epoch(p.current_leader_epoch)?;
                let diverging = partition.diverging(p.last_fetched_epoch, p.fetch_offset);
                // A diverged fetch proves nothing about the follower's log (it is answered with the
                // diverging epoch), nor does one outside this log (OFFSET_OUT_OF_RANGE); any other shows
                // its log end (Kafka's `updateFollowerFetchState`, after a successful read).
                if params.is_from_follower() && diverging.is_none() {
                    let log = partition.log();
                    if (log.log_start_offset()..=log.log_end_offset()).contains(&p.fetch_offset) {
                        partition.follower_fetched(params.replica_id, p.fetch_offset)?;
                    }
                }
                Ok((partition, diverging))
            })
            .collect();
        let read = || self.read_once(params, &resolved, response_limit);
        let (fetched, waited) = self
            .delayed_fetch
            .wait(
                resolved
                    .iter()
                    .filter_map(|r| r.as_ref().ok())
                    .map(|(p, _)| &p.watchers),
                params.max_wait,
                || {
                    let (results, bytes, errors) = read();
                    (bytes >= min_bytes || errors || params.partitions.is_empty()).then_some(results)
                },
                || read().0,
            )
            .await;
        for (partition, f) in resolved.iter().zip(&fetched) {
            if let Ok((p, _)) = partition {
                if f.error == ErrorCode::None {
                    p.metrics.fetched(f.records.as_ref().map_or(0, Slice::len));
                } else {
                    p.metrics.fetch_failed();
                }
            }
        }
        (fetched, waited)
    }

    /// One pass over the partitions: the outcomes, the record bytes in them, and whether any failed or
    /// diverged (the fetch then completes at once).
    fn read_once(
        &self,
        params: &FetchParams<'_>,
        resolved: &[Resolved],
        response_limit: u64,
    ) -> (Vec<FetchedPartition>, u64, bool) {
        let mut budget = ByteBudget::new(response_limit);
        let mut total = 0;
        let mut any_error = false;
        let mut any_diverging = false;
        let bound = params.bound();
        let results = params
            .partitions
            .iter()
            .zip(resolved)
            .map(|(p, partition)| {
                let result = (|| {
                    let (partition, diverging) = partition.as_ref().map_err(|e| *e)?;
                    partition.check_epoch(p.current_leader_epoch)?;
                    let high_watermark = partition.high_watermark();
                    let mut fetched = FetchedPartition {
                        error: ErrorCode::None,
                        diverging_epoch: None,
                        high_watermark,
                        log_start_offset: partition.log().log_start_offset(),
                        records: None,
                    };
                    if let Some(diverging) = diverging {
                        // Answered at once, like an error: the follower must truncate before it can fetch.
                        any_diverging = true;
                        fetched.diverging_epoch = Some(*diverging);
                        return Ok(fetched);
                    }
                    let Some(limit) = budget.partition_limit(p.partition_max_bytes) else {
                        return Ok(fetched);
                    };
                    let read = partition.read(p.fetch_offset, limit, bound)?;
                    fetched.log_start_offset = read.log_start_offset;
                    if let Some(slice) = read.slice {
                        if budget.take(slice.len(), limit) {
                            total += slice.len();
                            fetched.records = Some(slice);
                        }
                    }
                    Ok(fetched)
                })();
                result.unwrap_or_else(|code| {
                    any_error = true;
                    FetchedPartition::failed(code)
                })
            })
            .collect();
        (results, total, any_error || any_diverging)
    }

    /// Deletes segments past retention, below each partition's high watermark (blocking).
    pub(crate) fn apply_retention(&self, now_ms: i64) {
        for p in self.partitions() {
            match p.log().apply_retention(p.high_watermark(), now_ms) {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(topic = %p.topic, partition = p.index, segments = n, "retention deleted segments")
                }
                Err(e) => tracing::error!(topic = %p.topic, partition = p.index, error = %e, "retention failed"),
            }
        }
    }

    /// How many log flushes synced data, and how long they took.
    pub(crate) fn flush_stats(&self) -> storage::FlushStats {
        self.logs.flush_stats()
    }

    /// Flushes the logs whose `flush.ms` (their topic's, or the broker's) has passed (blocking).
    pub(crate) fn flush_due(&self, now_ms: i64) -> Result<(), storage::Error> {
        self.logs.maybe_flush(now_ms)
    }

    /// Writes the recovery-point and log-start-offset checkpoints (blocking).
    pub(crate) fn checkpoint(&self) -> Result<(), storage::Error> {
        self.logs.checkpoint()
    }

    /// Writes every hosted partition's high watermark to `replication-offset-checkpoint` (Kafka's file and
    /// format; blocking). A restarted broker starts each partition from it rather than from its log end,
    /// which may hold records that were never committed.
    pub(crate) fn checkpoint_high_watermarks(&self) -> Result<(), storage::Error> {
        let entries = self
            .partitions()
            .iter()
            .map(|p| ((p.topic.to_string(), p.index), p.high_watermark()))
            .collect();
        storage::checkpoint::write(&self.data_dir.join(HW_CHECKPOINT), &entries)
    }

    /// Writes the high watermarks, then flushes and closes every log and writes the clean-shutdown marker
    /// (blocking).
    pub(crate) fn close(&self) -> Result<(), storage::Error> {
        if let Err(e) = self.checkpoint_high_watermarks() {
            tracing::error!(error = %e, "cannot write the high-watermark checkpoint");
        }
        self.logs.close()
    }
}

#[cfg(test)]
mod tests;
