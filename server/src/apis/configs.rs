//! DescribeConfigs, AlterConfigs and IncrementalAlterConfigs.
//!
//! DescribeConfigs describes the keys of the topic-config table under Kafka's names: a topic's overrides
//! with source `DYNAMIC_TOPIC_CONFIG` (1), otherwise the broker's settings, `DEFAULT_CONFIG` (5) where the
//! value is Kafka's default and `STATIC_BROKER_CONFIG` (4) where the broker's file changed it. From v3 each
//! entry has Kafka's config type, and its documentation when asked.
//!
//! The two alter APIs change a topic's overrides with the same validation as CreateTopics: the new set is
//! written to the topic's override file (synced) and applied to its live logs before the answer
//! (`ReplicaManager::alter_topic_config`). AlterConfigs replaces the whole set; IncrementalAlterConfigs
//! sets (0), deletes (1), appends to (2) or subtracts from (3) single keys, append and subtract only for
//! list-typed keys, as Kafka allows. Broker configs are static in kzero (its TOML file, read at start):
//! altering a broker or broker-logger resource is refused with `INVALID_REQUEST` and a message saying so,
//! where Kafka would apply dynamic broker configs.

use std::collections::BTreeMap;

use protocol::{
    AlterConfigsResourceResponse, AlterConfigsResponse, ApiKey, DescribeConfigsResourceResult, DescribeConfigsResponse,
    DescribeConfigsResult, DescribeConfigsSynonym, ErrorCode, IncrementalAlterConfigsResponse, Request,
};

use security::acl::{Operation, ResourceType};

use super::{body, repeated, Pending};
use crate::broker::{Broker, Listener, Reply};
use crate::config::Config;
use crate::topic_config::{TopicConfig, TopicKey, TOPIC_KEYS};

/// Kafka's `ConfigResource.Type` codes.
pub(super) const TOPIC: i8 = 2;
const BROKER: i8 = 4;
const BROKER_LOGGER: i8 = 8;
/// Kafka's `ConfigSource` codes.
pub(super) const DYNAMIC_TOPIC_CONFIG: i8 = 1;
const STATIC_BROKER_CONFIG: i8 = 4;
const DEFAULT_CONFIG: i8 = 5;
/// Kafka's `ConfigType` codes used for broker settings.
const BOOLEAN: i8 = 1;
const STRING: i8 = 2;
const INT: i8 = 3;
const LONG: i8 = 5;

/// The broker-resource configs: broker settings, then every topic key's broker synonym, with their types.
fn broker_configs(c: &Config) -> Vec<(&'static str, String, i8)> {
    let mut v: Vec<(&'static str, String, i8)> = vec![
        ("node.id", c.node_id.to_string(), INT),
        ("broker.id", c.node_id.to_string(), INT),
        ("log.dirs", c.data_dir.display().to_string(), STRING),
        ("num.partitions", c.num_partitions.to_string(), INT),
        ("default.replication.factor", "1".into(), INT),
        ("auto.create.topics.enable", c.auto_create_topics.to_string(), BOOLEAN),
        ("socket.request.max.bytes", c.max_request_bytes.to_string(), INT),
        ("fetch.max.bytes", c.fetch_max_bytes.to_string(), INT),
        (
            "log.retention.check.interval.ms",
            c.log.retention_check_interval_ms.to_string(),
            LONG,
        ),
    ];
    v.extend(
        TOPIC_KEYS
            .iter()
            .map(|k| (k.broker_name, k.broker_value(c), k.kafka_type())),
    );
    v.sort();
    v.dedup_by(|a, b| a.0 == b.0);
    v
}

/// A topic's configs as DescribeConfigs describes them (also CreateTopics v5+'s answer).
pub(super) fn topic_configs(
    c: &Config,
    overrides: &TopicConfig,
    wanted: impl Fn(&str) -> bool,
    include_synonyms: bool,
    include_documentation: bool,
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
                is_default: source == DEFAULT_CONFIG,
                config_source: source,
                is_sensitive: false,
                synonyms: if include_synonyms { synonyms } else { Vec::new() },
                config_type: key.kafka_type(),
                documentation: include_documentation.then(|| key.documentation().to_string()),
                ..DescribeConfigsResourceResult::default()
            }
        })
        .collect()
}

/// Kafka's checks of the config APIs: `operation` (DESCRIBE_CONFIGS or ALTER_CONFIGS) on the topic, or on
/// the cluster for a broker's configs.
fn config_refusal(
    broker: &Broker,
    listener: &Listener,
    resource_type: i8,
    name: &str,
    operation: Operation,
) -> Option<(ErrorCode, String)> {
    if resource_type == TOPIC {
        (!broker.authorize(listener, operation, ResourceType::Topic, name)).then(|| {
            (
                ErrorCode::TopicAuthorizationFailed,
                "Topic authorization failed.".to_string(),
            )
        })
    } else {
        (!broker.authorize_cluster(listener, operation)).then(|| {
            (
                ErrorCode::ClusterAuthorizationFailed,
                "Cluster authorization failed.".to_string(),
            )
        })
    }
}

pub(super) fn describe_configs(broker: &Broker, request: &Request, listener: &Listener) -> Reply {
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
            if let Some((code, message)) = config_refusal(
                broker,
                listener,
                res.resource_type,
                &res.resource_name,
                Operation::DescribeConfigs,
            ) {
                return fail(code, message);
            }
            let configs = match res.resource_type {
                TOPIC => match broker.replicas.topic(&res.resource_name) {
                    None => {
                        return fail(
                            ErrorCode::UnknownTopicOrPartition,
                            format!("unknown topic {:?}", res.resource_name),
                        )
                    }
                    Some(topic) => topic_configs(c, &topic.config, wanted, r.include_synonyms, r.include_documentation),
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
                        .filter(|(name, _, _)| wanted(name))
                        .map(|(name, value, config_type)| DescribeConfigsResourceResult {
                            name: name.into(),
                            value: Some(value.clone()),
                            read_only: true,
                            config_source: STATIC_BROKER_CONFIG,
                            synonyms: if r.include_synonyms {
                                vec![DescribeConfigsSynonym {
                                    name: name.into(),
                                    value: Some(value),
                                    source: STATIC_BROKER_CONFIG,
                                    ..DescribeConfigsSynonym::default()
                                }]
                            } else {
                                Vec::new()
                            },
                            config_type,
                            documentation: r.include_documentation.then(|| {
                                TOPIC_KEYS
                                    .iter()
                                    .find(|k| k.broker_name == name)
                                    .map_or("A static setting of the broker's TOML file.", TopicKey::documentation)
                                    .to_string()
                            }),
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

/// Why a non-topic resource cannot be altered.
fn not_alterable(config: &Config, resource_type: i8, name: &str) -> (ErrorCode, String) {
    match resource_type {
        BROKER if name.is_empty() || name == config.node_id.to_string() => (
            ErrorCode::InvalidRequest,
            "kzero's broker configs are static: set them in the broker's TOML file and restart".into(),
        ),
        BROKER => (ErrorCode::InvalidRequest, format!("unknown broker {name:?}")),
        BROKER_LOGGER => (
            ErrorCode::InvalidRequest,
            "kzero's log levels are set with KZERO_LOG at start, not altered at run time".into(),
        ),
        other => (ErrorCode::InvalidRequest, format!("unsupported resource type {other}")),
    }
}

/// Why a resource of an alter request cannot be altered before looking at its values: not a topic, or a
/// config named twice.
/// Why a resource's configs may not be altered: no ALTER_CONFIGS, then [`precheck`].
fn alter_refusal<'a>(
    broker: &Broker,
    listener: &Listener,
    resource_type: i8,
    name: &str,
    keys: impl Iterator<Item = &'a str>,
) -> Option<(ErrorCode, String)> {
    config_refusal(broker, listener, resource_type, name, Operation::AlterConfigs)
        .or_else(|| precheck(&broker.config, resource_type, name, keys))
}

fn precheck<'a>(
    config: &Config,
    resource_type: i8,
    name: &str,
    keys: impl Iterator<Item = &'a str>,
) -> Option<(ErrorCode, String)> {
    if resource_type != TOPIC {
        return Some(not_alterable(config, resource_type, name));
    }
    if name == crate::group::OFFSETS_TOPIC {
        // kzero cleans the topic itself (no compaction): its retention must stay off.
        return Some((
            ErrorCode::InvalidRequest,
            format!("the configs of internal topic {name} are the group coordinator's"),
        ));
    }
    repeated(keys)
        .into_iter()
        .next()
        .map(|dup| (ErrorCode::InvalidRequest, format!("the config {dup:?} is given twice")))
}

/// The answer to one altered resource.
fn altered(
    broker: &Broker,
    api: ApiKey,
    resource_type: i8,
    name: &str,
    outcome: Result<(), (ErrorCode, String)>,
) -> AlterConfigsResourceResponse {
    let (code, message) = match outcome {
        Ok(()) => (ErrorCode::None, None),
        Err((code, message)) => {
            tracing::debug!(resource = name, error = %code, message, "config change refused");
            (code, Some(message))
        }
    };
    broker.metrics.error(api, code);
    AlterConfigsResourceResponse {
        error_code: code.code(),
        error_message: message,
        resource_type,
        resource_name: name.to_string(),
        ..AlterConfigsResourceResponse::default()
    }
}

pub(super) fn alter_configs<'a>(broker: &'a Broker, request: &'a Request, listener: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, AlterConfigs);
        let mut responses = Vec::with_capacity(r.resources.len());
        for res in &r.resources {
            let keys = res.configs.iter().map(|c| c.name.as_str());
            let outcome =
                if let Some(refused) = alter_refusal(broker, listener, res.resource_type, &res.resource_name, keys) {
                    Err(refused)
                } else {
                    // The whole set of overrides is replaced by the one given (Kafka's AlterConfigs).
                    let entries: Vec<(&str, Option<&str>)> = res
                        .configs
                        .iter()
                        .map(|c| (c.name.as_str(), c.value.as_deref()))
                        .collect();
                    broker
                        .alter_topic_config(&res.resource_name, r.validate_only, |_| TopicConfig::parse(entries))
                        .await
                };
            responses.push(altered(
                broker,
                ApiKey::AlterConfigs,
                res.resource_type,
                &res.resource_name,
                outcome,
            ));
        }
        Reply::body(AlterConfigsResponse {
            responses,
            ..AlterConfigsResponse::default()
        })
    })
}

/// IncrementalAlterConfigs' operations.
const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;
/// Kafka's `ConfigType.LIST`, the only type append and subtract apply to.
const LIST: i8 = 7;

/// Applies IncrementalAlterConfigs operations to a topic's overrides; the result is validated as a whole.
fn incremental(
    current: &TopicConfig,
    ops: &[(String, i8, Option<String>)],
    broker: &Config,
) -> Result<TopicConfig, String> {
    let mut next: BTreeMap<String, String> = current.overrides.clone();
    for (name, op, value) in ops {
        let key = TopicKey::find(name).ok_or_else(|| format!("unknown or unsupported topic config {name:?}"))?;
        match *op {
            SET => {
                let value = value.as_ref().ok_or_else(|| format!("setting {name} needs a value"))?;
                next.insert(name.clone(), value.clone());
            }
            DELETE => {
                next.remove(name);
            }
            APPEND | SUBTRACT => {
                if key.kafka_type() != LIST {
                    let what = if *op == APPEND { "append" } else { "subtract" };
                    return Err(format!(
                        "a config value {what} is not allowed for the config key {name}"
                    ));
                }
                let value = value.as_ref().ok_or_else(|| format!("changing {name} needs a value"))?;
                let now = next.get(name).cloned().unwrap_or_else(|| key.broker_value(broker));
                let mut items: Vec<String> = now
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    if *op == APPEND {
                        if !items.iter().any(|i| i == item) {
                            items.push(item.to_string());
                        }
                    } else {
                        items.retain(|i| i != item);
                    }
                }
                next.insert(name.clone(), items.join(","));
            }
            other => return Err(format!("unknown config operation {other}")),
        }
    }
    TopicConfig::parse(next.iter().map(|(k, v)| (k.as_str(), Some(v.as_str()))))
}

pub(super) fn incremental_alter_configs<'a>(
    broker: &'a Broker,
    request: &'a Request,
    listener: &'a Listener,
) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, IncrementalAlterConfigs);
        let mut responses = Vec::with_capacity(r.resources.len());
        for res in &r.resources {
            let keys = res.configs.iter().map(|c| c.name.as_str());
            let outcome =
                if let Some(refused) = alter_refusal(broker, listener, res.resource_type, &res.resource_name, keys) {
                    Err(refused)
                } else if let Some(bad) = res
                    .configs
                    .iter()
                    .find(|c| !(SET..=SUBTRACT).contains(&c.config_operation))
                {
                    Err((
                        ErrorCode::InvalidRequest,
                        format!("unknown config operation {} for {}", bad.config_operation, bad.name),
                    ))
                } else {
                    let ops: Vec<(String, i8, Option<String>)> = res
                        .configs
                        .iter()
                        .map(|c| (c.name.clone(), c.config_operation, c.value.clone()))
                        .collect();
                    let config = &broker.config;
                    broker
                        .alter_topic_config(&res.resource_name, r.validate_only, |current| {
                            incremental(current, &ops, config)
                        })
                        .await
                };
            responses.push(altered(
                broker,
                ApiKey::IncrementalAlterConfigs,
                res.resource_type,
                &res.resource_name,
                outcome,
            ));
        }
        Reply::body(IncrementalAlterConfigsResponse {
            responses,
            ..IncrementalAlterConfigsResponse::default()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(list: &[(&str, i8, Option<&str>)]) -> Vec<(String, i8, Option<String>)> {
        list.iter()
            .map(|(n, o, v)| (n.to_string(), *o, v.map(String::from)))
            .collect()
    }

    #[test]
    fn incremental_operations_set_delete_append_and_subtract_as_kafka_does() {
        let broker = Config::default();
        let base = TopicConfig::parse([("retention.ms", Some("1000")), ("segment.ms", Some("5000"))]).unwrap();
        let next = incremental(
            &base,
            &ops(&[("retention.ms", SET, Some("2000")), ("segment.ms", DELETE, None)]),
            &broker,
        )
        .unwrap();
        assert_eq!(next.overrides.get("retention.ms").map(String::as_str), Some("2000"));
        assert!(!next.overrides.contains_key("segment.ms"));
        // Append and subtract only for list keys; appending what is there changes nothing.
        let err = incremental(&base, &ops(&[("retention.ms", APPEND, Some("1"))]), &broker).unwrap_err();
        assert!(err.contains("append is not allowed"), "{err}");
        let same = incremental(&base, &ops(&[("cleanup.policy", APPEND, Some("delete"))]), &broker).unwrap();
        assert_eq!(same.overrides.get("cleanup.policy").map(String::as_str), Some("delete"));
        // Appending compact is refused by the same validation as CreateTopics.
        let err = incremental(&base, &ops(&[("cleanup.policy", APPEND, Some("compact"))]), &broker).unwrap_err();
        assert!(err.contains("not supported"), "{err}");
        let err = incremental(&base, &ops(&[("retention.ms", SET, Some("-5"))]), &broker).unwrap_err();
        assert!(err.contains("at least"), "{err}");
        let err = incremental(&base, &ops(&[("no.such.key", SET, Some("1"))]), &broker).unwrap_err();
        assert!(err.contains("unknown"), "{err}");
        let err = incremental(&base, &ops(&[("retention.ms", SET, None)]), &broker).unwrap_err();
        assert!(err.contains("needs a value"), "{err}");
        let config = Config::default();
        let twice = precheck(&config, TOPIC, "t", ["a", "b", "a"].into_iter());
        assert_eq!(twice.map(|(code, _)| code), Some(ErrorCode::InvalidRequest));
        assert_eq!(precheck(&config, TOPIC, "t", ["a", "b"].into_iter()), None);
        let broker = precheck(&config, BROKER, "0", std::iter::empty());
        assert!(broker.is_some_and(|(_, why)| why.contains("static")));
    }
}
