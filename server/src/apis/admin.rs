//! CreateTopics, DeleteTopics and CreatePartitions.
//!
//! Topic creation and deletion, and adding partitions, are the `ReplicaManager`'s (files on blocking
//! threads, then a new topic table). CreateTopics v5+ answers the created topic's partitions, replication
//! factor and configs (as DescribeConfigs describes them), v7+ its id; DeleteTopics v6+ deletes by name
//! or by id (an id no topic has is `UNKNOWN_TOPIC_ID`). A single broker has one replica per partition:
//! a replication factor other than 1 (or -1, the default) and manual assignments naming another broker
//! are refused with Kafka's errors.

use protocol::{
    ApiKey, CreatableTopicConfigs, CreatableTopicResult, CreatePartitionsResponse, CreatePartitionsTopicResult,
    CreateTopicsResponse, DeletableTopicResult, DeleteTopicsResponse, ErrorCode, Request, Uuid,
};

use super::configs::topic_configs;
use super::{body, repeated, Pending};
use crate::broker::{Broker, Listener, Reply};
use crate::group::OFFSETS_TOPIC;
use crate::topic_config::TopicConfig;
use crate::topic_id::TopicId;

pub(super) fn create_topics<'a>(broker: &'a Broker, request: &'a Request, _: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, CreateTopics);
        let mut topics = Vec::with_capacity(r.topics.len());
        let repeated = repeated(r.topics.iter().map(|t| t.name.as_str()));
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
            let checked = if t.name == OFFSETS_TOPIC {
                Err((
                    ErrorCode::InvalidRequest,
                    format!(
                        "creation of internal topic {OFFSETS_TOPIC} is prohibited: the group coordinator creates it"
                    ),
                ))
            } else if repeated.contains(t.name.as_str()) {
                Err((
                    ErrorCode::InvalidRequest,
                    format!("the request names the topic {:?} more than once", t.name),
                ))
            } else if !t.assignments.is_empty() {
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
                Ok(()) => {
                    // v5+: what was (or would be) created; v7+: its id.
                    let created = broker.replicas.topic(&t.name).filter(|_| !r.validate_only);
                    let overrides = match &created {
                        Some(topic) => topic.config.clone(),
                        None => TopicConfig::parse(t.configs.iter().map(|c| (c.name.as_str(), c.value.as_deref())))
                            .unwrap_or_default(),
                    };
                    CreatableTopicResult {
                        topic_id: created.as_ref().map_or(Uuid::ZERO, |topic| topic.id.uuid()),
                        num_partitions: created
                            .as_ref()
                            .map_or(partitions, |topic| topic.partitions.len() as i32),
                        replication_factor: 1,
                        configs: Some(
                            topic_configs(&broker.config, &overrides, |_| true, false, false)
                                .into_iter()
                                .map(|c| CreatableTopicConfigs {
                                    name: c.name,
                                    value: c.value,
                                    read_only: c.read_only,
                                    config_source: c.config_source,
                                    is_sensitive: c.is_sensitive,
                                    ..CreatableTopicConfigs::default()
                                })
                                .collect(),
                        ),
                        ..result(ErrorCode::None, None)
                    }
                }
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
        let version = request.header.api_version;
        // v6+ names each topic by name or by id; earlier versions by name.
        let wanted: Vec<(Option<String>, Uuid)> = if version >= 6 {
            r.topics.iter().map(|t| (t.name.clone(), t.topic_id)).collect()
        } else {
            r.topic_names.iter().map(|n| (Some(n.clone()), Uuid::ZERO)).collect()
        };
        let mut responses = Vec::with_capacity(wanted.len());
        for (name, id) in wanted {
            let resolved = match (name, TopicId::from_uuid(id)) {
                (Some(name), None) => Ok((name, id)),
                (None, Some(topic_id)) => broker
                    .replicas
                    .topic_by_id(topic_id)
                    .map(|t| (t.name.to_string(), id))
                    .ok_or((None, ErrorCode::UnknownTopicId)),
                (Some(name), Some(_)) => Err((Some(name), ErrorCode::InvalidRequest)),
                (None, None) => Err((None, ErrorCode::InvalidRequest)),
            };
            let (name, id, code) = match resolved {
                Ok((name, id)) if name == OFFSETS_TOPIC => (Some(name), id, ErrorCode::InvalidRequest),
                Ok((name, id)) => {
                    let deleted_id = broker.replicas.topic(&name).map_or(id, |t| t.id.uuid());
                    let code = broker
                        .replicas
                        .delete_topic_checked(&name, TopicId::from_uuid(id))
                        .await;
                    if code == ErrorCode::None {
                        if let Some(groups) = broker.groups.get() {
                            groups.topic_deleted(name.clone()).await;
                        }
                    }
                    (Some(name), deleted_id, code)
                }
                Err((name, code)) => (name, id, code),
            };
            broker.metrics.error(ApiKey::DeleteTopics, code);
            responses.push(DeletableTopicResult {
                error_message: match code {
                    ErrorCode::None => None,
                    ErrorCode::UnknownTopicId => Some("no topic has this id".into()),
                    ErrorCode::UnknownTopicOrPartition => Some("the topic does not exist".into()),
                    ErrorCode::InvalidRequest if name.as_deref() == Some(OFFSETS_TOPIC) => {
                        Some(format!("internal topic {OFFSETS_TOPIC} cannot be deleted"))
                    }
                    ErrorCode::InvalidRequest => Some("name either a topic or a topic id".into()),
                    other => Some(other.to_string()),
                },
                name,
                topic_id: id,
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

pub(super) fn create_partitions<'a>(broker: &'a Broker, request: &'a Request, _: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, CreatePartitions);
        let node = broker.config.node_id;
        let repeated = repeated(r.topics.iter().map(|t| t.name.as_str()));
        let mut results = Vec::with_capacity(r.topics.len());
        for t in &r.topics {
            let current = broker
                .replicas
                .topic(&t.name)
                .map(|topic| topic.partitions.len() as i32);
            let assignments = t.assignments.as_deref().unwrap_or_default();
            let new_partitions = i64::from(t.count) - i64::from(current.unwrap_or(0));
            let outcome = if t.name == OFFSETS_TOPIC {
                Err((
                    ErrorCode::InvalidRequest,
                    format!("the partition count of {OFFSETS_TOPIC} is fixed: groups map to its partitions by hash"),
                ))
            } else if repeated.contains(t.name.as_str()) {
                Err((
                    ErrorCode::InvalidRequest,
                    format!("the request names the topic {:?} more than once", t.name),
                ))
            } else if current.is_none_or(|c| t.count <= c) || assignments.is_empty() {
                // Kafka's order: an unknown topic, then the count, then the assignments.
                broker
                    .replicas
                    .create_partitions(&t.name, t.count, r.validate_only)
                    .await
            } else if i64::try_from(assignments.len()).unwrap_or(i64::MAX) != new_partitions {
                Err((
                    ErrorCode::InvalidReplicaAssignment,
                    format!("{} assignments for {new_partitions} new partitions", assignments.len()),
                ))
            } else if let Some(a) = assignments.iter().find(|a| a.broker_ids != [node]) {
                Err((
                    ErrorCode::InvalidReplicaAssignment,
                    format!(
                        "the assignment {:?} names brokers other than the only one, {node}",
                        a.broker_ids
                    ),
                ))
            } else {
                broker
                    .replicas
                    .create_partitions(&t.name, t.count, r.validate_only)
                    .await
            };
            let (code, message) = match outcome {
                Ok(()) => (ErrorCode::None, None),
                Err((code, message)) => (code, Some(message)),
            };
            broker.metrics.error(ApiKey::CreatePartitions, code);
            results.push(CreatePartitionsTopicResult {
                name: t.name.clone(),
                error_code: code.code(),
                error_message: message,
                ..CreatePartitionsTopicResult::default()
            });
        }
        Reply::body(CreatePartitionsResponse {
            results,
            ..CreatePartitionsResponse::default()
        })
    })
}
