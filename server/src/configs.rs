//! DescribeConfigs: the topic and broker configs clients read, under Kafka's names.
//!
//! A topic's configs are its overrides from CreateTopics (source `DYNAMIC_TOPIC_CONFIG`, 1), and otherwise the
//! broker's `[log]` settings: `DEFAULT_CONFIG` (5) where the value is Kafka's default and
//! `STATIC_BROKER_CONFIG` (4) where the broker's file changed it.

use protocol::{
    DescribeConfigsRequest, DescribeConfigsResourceResult, DescribeConfigsResponse, DescribeConfigsResult,
    DescribeConfigsSynonym, ErrorCode,
};

use crate::broker::Broker;
use crate::config::Config;

const TOPIC: i8 = 2;
const BROKER: i8 = 4;
const DYNAMIC_TOPIC_CONFIG: i8 = 1;
const STATIC_BROKER_CONFIG: i8 = 4;
const DEFAULT_CONFIG: i8 = 5;

/// (topic name, broker name, value, Kafka's default value).
pub(crate) fn topic_configs(c: &Config) -> Vec<(&'static str, &'static str, String, String)> {
    let d = Config::default();
    let v = |x: &dyn ToString| x.to_string();
    vec![
        ("cleanup.policy", "log.cleanup.policy", "delete".into(), "delete".into()),
        (
            "compression.type",
            "compression.type",
            "producer".into(),
            "producer".into(),
        ),
        (
            "flush.messages",
            "log.flush.interval.messages",
            v(&c.log.flush_messages),
            v(&d.log.flush_messages),
        ),
        (
            "flush.ms",
            "log.flush.interval.ms",
            v(&c.log.flush_ms),
            v(&d.log.flush_ms),
        ),
        (
            "index.interval.bytes",
            "log.index.interval.bytes",
            v(&c.log.index_interval_bytes),
            v(&d.log.index_interval_bytes),
        ),
        (
            "max.message.bytes",
            "message.max.bytes",
            v(&c.message_max_bytes),
            v(&d.message_max_bytes),
        ),
        (
            "message.timestamp.type",
            "log.message.timestamp.type",
            "CreateTime".into(),
            "CreateTime".into(),
        ),
        ("min.insync.replicas", "min.insync.replicas", "1".into(), "1".into()),
        (
            "retention.bytes",
            "log.retention.bytes",
            v(&c.log.retention_bytes),
            v(&d.log.retention_bytes),
        ),
        (
            "retention.ms",
            "log.retention.ms",
            v(&c.log.retention_ms),
            v(&d.log.retention_ms),
        ),
        (
            "segment.bytes",
            "log.segment.bytes",
            v(&c.log.segment_bytes),
            v(&d.log.segment_bytes),
        ),
        (
            "segment.index.bytes",
            "log.index.size.max.bytes",
            v(&c.log.segment_index_bytes),
            v(&d.log.segment_index_bytes),
        ),
        ("segment.ms", "log.roll.ms", v(&c.log.segment_ms), v(&d.log.segment_ms)),
        (
            "unclean.leader.election.enable",
            "unclean.leader.election.enable",
            "false".into(),
            "false".into(),
        ),
    ]
}

fn broker_configs(c: &Config) -> Vec<(&'static str, String)> {
    let mut v: Vec<(&'static str, String)> = vec![
        ("node.id", c.node_id.to_string()),
        ("broker.id", c.node_id.to_string()),
        ("log.dirs", c.data_dir.display().to_string()),
        ("num.partitions", c.num_partitions.to_string()),
        ("default.replication.factor", "1".into()),
        ("auto.create.topics.enable", c.auto_create_topics.to_string()),
        ("socket.request.max.bytes", c.max_request_bytes.to_string()),
        ("fetch.max.bytes", c.fetch_max_bytes.to_string()),
        (
            "log.retention.check.interval.ms",
            c.log.retention_check_interval_ms.to_string(),
        ),
    ];
    v.extend(
        topic_configs(c)
            .into_iter()
            .map(|(_, broker, value, _)| (broker, value)),
    );
    v.sort();
    v.dedup_by(|a, b| a.0 == b.0);
    v
}

impl Broker {
    pub(crate) fn describe_configs(&self, r: &DescribeConfigsRequest) -> DescribeConfigsResponse {
        let c = &self.config;
        let results = r
            .resources
            .iter()
            .map(|res| {
                let wanted = |name: &str| {
                    res.configuration_keys
                        .as_ref()
                        .is_none_or(|keys| keys.iter().any(|k| k == name))
                };
                let fail = |code: ErrorCode, message: String| DescribeConfigsResult {
                    error_code: code.code(),
                    error_message: Some(message),
                    resource_type: res.resource_type,
                    resource_name: res.resource_name.clone(),
                    ..DescribeConfigsResult::default()
                };
                let configs: Vec<DescribeConfigsResourceResult> = match res.resource_type {
                    TOPIC => {
                        if self.partitions(&res.resource_name).is_none() {
                            return fail(
                                ErrorCode::UnknownTopicOrPartition,
                                format!("unknown topic {:?}", res.resource_name),
                            );
                        }
                        let overrides = self
                            .topic_configs
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .get(&res.resource_name)
                            .cloned()
                            .unwrap_or_default();
                        topic_configs(c)
                            .into_iter()
                            .filter(|(name, ..)| wanted(name))
                            .map(|(name, broker_name, broker_value, default)| {
                                let broker_source = if broker_value == default {
                                    DEFAULT_CONFIG
                                } else {
                                    STATIC_BROKER_CONFIG
                                };
                                let broker_synonym = DescribeConfigsSynonym {
                                    name: broker_name.into(),
                                    value: Some(broker_value.clone()),
                                    source: broker_source,
                                    ..DescribeConfigsSynonym::default()
                                };
                                // Synonyms in precedence order: the topic's override first, then the broker's.
                                let (value, source, synonyms) = match overrides.overrides.get(name) {
                                    Some(v) => (
                                        v.clone(),
                                        DYNAMIC_TOPIC_CONFIG,
                                        vec![
                                            DescribeConfigsSynonym {
                                                name: name.into(),
                                                value: Some(v.clone()),
                                                source: DYNAMIC_TOPIC_CONFIG,
                                                ..DescribeConfigsSynonym::default()
                                            },
                                            broker_synonym,
                                        ],
                                    ),
                                    None => (broker_value, broker_source, vec![broker_synonym]),
                                };
                                DescribeConfigsResourceResult {
                                    name: name.into(),
                                    value: Some(value),
                                    read_only: false,
                                    config_source: source,
                                    is_sensitive: false,
                                    synonyms: if r.include_synonyms { synonyms } else { Vec::new() },
                                    ..DescribeConfigsResourceResult::default()
                                }
                            })
                            .collect()
                    }
                    BROKER => {
                        if !res.resource_name.is_empty() && res.resource_name != c.node_id.to_string() {
                            return fail(
                                ErrorCode::InvalidRequest,
                                format!("unknown broker {:?}", res.resource_name),
                            );
                        }
                        broker_configs(c)
                            .into_iter()
                            .filter(|(name, _)| wanted(name))
                            .map(|(name, value)| DescribeConfigsResourceResult {
                                name: name.into(),
                                value: Some(value),
                                read_only: true,
                                config_source: STATIC_BROKER_CONFIG,
                                ..DescribeConfigsResourceResult::default()
                            })
                            .collect()
                    }
                    other => return fail(ErrorCode::InvalidRequest, format!("unsupported resource type {other}")),
                };
                DescribeConfigsResult {
                    resource_type: res.resource_type,
                    resource_name: res.resource_name.clone(),
                    configs,
                    ..DescribeConfigsResult::default()
                }
            })
            .collect();
        DescribeConfigsResponse {
            results,
            ..DescribeConfigsResponse::default()
        }
    }
}
