//! CreateTopics, DeleteTopics and DescribeConfigs.
//!
//! Topic creation and deletion are the `ReplicaManager`'s (files on blocking threads, then a new topic
//! table). DescribeConfigs describes the keys of the topic-config table under Kafka's names: a topic's
//! overrides with source `DYNAMIC_TOPIC_CONFIG` (1), otherwise the broker's settings, `DEFAULT_CONFIG` (5)
//! where the value is Kafka's default and `STATIC_BROKER_CONFIG` (4) where the broker's file changed it.

use protocol::{
    ApiKey, CreatableTopicResult, CreateTopicsResponse, DeletableTopicResult, DeleteTopicsResponse,
    DescribeConfigsResourceResult, DescribeConfigsResponse, DescribeConfigsResult, DescribeConfigsSynonym, ErrorCode,
    Request,
};

use super::{body, Pending};
use crate::broker::{Broker, Listener, Reply};
use crate::config::Config;
use crate::topic_config::{TopicConfig, TOPIC_KEYS};

const TOPIC: i8 = 2;
const BROKER: i8 = 4;
const DYNAMIC_TOPIC_CONFIG: i8 = 1;
const STATIC_BROKER_CONFIG: i8 = 4;
const DEFAULT_CONFIG: i8 = 5;

pub(super) fn create_topics<'a>(broker: &'a Broker, request: &'a Request, _: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, CreateTopics);
        let mut topics = Vec::with_capacity(r.topics.len());
        for t in &r.topics {
            let result = |code: ErrorCode, message: Option<String>| {
                broker.metrics.error(ApiKey::CreateTopics, code);
                CreatableTopicResult {
                    name: t.name.clone(),
                    error_code: code.code(),
                    error_message: message,
                    ..CreatableTopicResult::default()
                }
            };
            let partitions = if t.num_partitions == -1 {
                broker.config.num_partitions
            } else {
                t.num_partitions
            };
            let checked = if !t.assignments.is_empty() {
                Err((
                    ErrorCode::InvalidReplicaAssignment,
                    "manual replica assignments are not supported by a single broker".to_string(),
                ))
            } else if t.replication_factor != -1 && t.replication_factor != 1 {
                Err((
                    ErrorCode::InvalidReplicationFactor,
                    format!(
                        "replication factor {} is larger than the 1 available broker",
                        t.replication_factor
                    ),
                ))
            } else if partitions < 1 {
                Err((ErrorCode::InvalidPartitions, format!("{partitions} partitions")))
            } else {
                TopicConfig::parse(t.configs.iter().map(|c| (c.name.as_str(), c.value.as_deref())))
                    .map_err(|reason| (ErrorCode::InvalidConfig, reason))
            };
            let outcome = match checked {
                Err(e) => Err(e),
                Ok(_) if r.validate_only => match broker.replicas.topic(&t.name) {
                    Some(_) => Err((
                        ErrorCode::TopicAlreadyExists,
                        format!("topic {:?} already exists", t.name),
                    )),
                    None => Ok(()),
                },
                Ok(config) => broker.replicas.create_topic(&t.name, partitions, config).await,
            };
            topics.push(match outcome {
                Ok(()) => result(ErrorCode::None, None),
                Err((code, message)) => result(code, Some(message)),
            });
        }
        Reply::body(CreateTopicsResponse {
            topics,
            ..CreateTopicsResponse::default()
        })
    })
}

pub(super) fn delete_topics<'a>(broker: &'a Broker, request: &'a Request, _: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, DeleteTopics);
        let mut responses = Vec::with_capacity(r.topic_names.len());
        for name in &r.topic_names {
            let code = broker.replicas.delete_topic(name).await;
            broker.metrics.error(ApiKey::DeleteTopics, code);
            if code == ErrorCode::None {
                if let Some(groups) = broker.groups.get() {
                    groups.topic_deleted(name.clone()).await;
                }
            }
            responses.push(DeletableTopicResult {
                name: Some(name.clone()),
                error_code: code.code(),
                ..DeletableTopicResult::default()
            });
        }
        Reply::body(DeleteTopicsResponse {
            responses,
            ..DeleteTopicsResponse::default()
        })
    })
}

/// The broker-resource configs: broker settings, then every topic key's broker synonym.
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
    v.extend(TOPIC_KEYS.iter().map(|k| (k.broker_name, k.broker_value(c))));
    v.sort();
    v.dedup_by(|a, b| a.0 == b.0);
    v
}

fn topic_configs(
    c: &Config,
    overrides: &TopicConfig,
    wanted: impl Fn(&str) -> bool,
    include_synonyms: bool,
) -> Vec<DescribeConfigsResourceResult> {
    TOPIC_KEYS
        .iter()
        .filter(|k| wanted(k.name))
        .map(|key| {
            let broker_value = key.broker_value(c);
            let broker_source = if broker_value == key.kafka_default() {
                DEFAULT_CONFIG
            } else {
                STATIC_BROKER_CONFIG
            };
            let broker_synonym = DescribeConfigsSynonym {
                name: key.broker_name.into(),
                value: Some(broker_value.clone()),
                source: broker_source,
                ..DescribeConfigsSynonym::default()
            };
            // Synonyms in precedence order: the topic's override first, then the broker's.
            let (value, source, synonyms) = match overrides.overrides.get(key.name) {
                Some(v) => (
                    v.clone(),
                    DYNAMIC_TOPIC_CONFIG,
                    vec![
                        DescribeConfigsSynonym {
                            name: key.name.into(),
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
                name: key.name.into(),
                value: Some(value),
                read_only: false,
                config_source: source,
                is_sensitive: false,
                synonyms: if include_synonyms { synonyms } else { Vec::new() },
                ..DescribeConfigsResourceResult::default()
            }
        })
        .collect()
}

pub(super) fn describe_configs(broker: &Broker, request: &Request, _: &Listener) -> Reply {
    let r = body!(request, DescribeConfigs);
    let c = &broker.config;
    let results = r
        .resources
        .iter()
        .map(|res| {
            let wanted = |name: &str| {
                res.configuration_keys
                    .as_ref()
                    .is_none_or(|keys| keys.iter().any(|k| k == name))
            };
            let fail = |code: ErrorCode, message: String| {
                broker.metrics.error(ApiKey::DescribeConfigs, code);
                DescribeConfigsResult {
                    error_code: code.code(),
                    error_message: Some(message),
                    resource_type: res.resource_type,
                    resource_name: res.resource_name.clone(),
                    ..DescribeConfigsResult::default()
                }
            };
            let configs = match res.resource_type {
                TOPIC => match broker.replicas.topic(&res.resource_name) {
                    None => {
                        return fail(
                            ErrorCode::UnknownTopicOrPartition,
                            format!("unknown topic {:?}", res.resource_name),
                        )
                    }
                    Some(topic) => topic_configs(c, &topic.config, wanted, r.include_synonyms),
                },
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
    Reply::body(DescribeConfigsResponse {
        results,
        ..DescribeConfigsResponse::default()
    })
}
