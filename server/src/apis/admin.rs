//! CreateTopics, DeleteTopics and CreatePartitions.
//!
//! Each broker checks what it can alone (names, the internal topic, configs, repeated topics, the
//! partition limit) and forwards the rest to the active controller, which places replicas
//! (`metadata::placement`) and writes the records; the answer waits until this broker's partitions reflect
//! the write. CreateTopics v5+ answers the created topic's partitions, replication factor and configs (as
//! DescribeConfigs describes them), v7+ its id; DeleteTopics v6+ deletes by name or by id (an id no
//! topic has is `UNKNOWN_TOPIC_ID`).

use protocol::{
    ApiKey, CreatableTopicConfigs, CreatableTopicResult, CreatePartitionsResponse, CreatePartitionsTopicResult,
    CreateTopicsResponse, DeletableTopicResult, DeleteTopicsResponse, ErrorCode, Request, Uuid,
};

use security::acl::{Operation, ResourceType};

use super::configs::topic_configs;
use super::{body, repeated, Pending};
use crate::broker::{unexpected, Broker, Listener, Reply};
use crate::cluster::rpc::{Request as ControllerRequest, Response as ControllerResponse, TopicSpec};
use crate::group::OFFSETS_TOPIC;
use crate::replica_manager::MAX_PARTITIONS_PER_REQUEST;
use crate::topic_config::TopicConfig;
use crate::topic_id::TopicId;

type Refusal = (ErrorCode, String);

/// A topic to delete, by name (and the id it must still have), or why not (with the name, if known).
type ToDelete = Result<(String, Option<TopicId>), (Option<String>, ErrorCode)>;

/// Partitions to add: (topic, new count, manual assignments).
type ToGrow = (String, i32, Vec<Vec<i32>>);

/// Kafka's message for TOPIC_AUTHORIZATION_FAILED from the controller's topic APIs.
const AUTHORIZATION_FAILED: &str = "Authorization failed.";

fn refusal(code: i16, message: String) -> Refusal {
    (
        ErrorCode::from_code(code).unwrap_or(ErrorCode::UnknownServerError),
        message,
    )
}

pub(super) fn create_topics<'a>(broker: &'a Broker, request: &'a Request, listener: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, CreateTopics);
        let repeated = repeated(r.topics.iter().map(|t| t.name.as_str()));
        // Kafka: CREATE on the cluster, else CREATE on each topic.
        let cluster_create = broker.authorize_quietly(
            listener,
            Operation::Create,
            ResourceType::Cluster,
            security::acl::CLUSTER_NAME,
        );
        // What this broker can check alone, then one request to the controller for the rest.
        let checked: Vec<Result<(TopicSpec, TopicConfig), Refusal>> = r
            .topics
            .iter()
            .map(|t| {
                // Kafka answers a repeated name before it asks the authorizer.
                if repeated.contains(t.name.as_str()) {
                    return Err((
                        ErrorCode::InvalidRequest,
                        format!("the request names the topic {:?} more than once", t.name),
                    ));
                }
                if !cluster_create && !broker.authorize(listener, Operation::Create, ResourceType::Topic, &t.name) {
                    return Err((ErrorCode::TopicAuthorizationFailed, AUTHORIZATION_FAILED.into()));
                }
                let partitions = if t.num_partitions == -1 {
                    broker.config.num_partitions
                } else {
                    t.num_partitions
                };
                let replication_factor = if t.replication_factor == -1 {
                    broker.config.default_replication_factor
                } else {
                    t.replication_factor
                };
                let mut assignments: Vec<(i32, Vec<i32>)> =
                    t.assignments.iter().map(|a| (a.partition_index, a.broker_ids.clone())).collect();
                assignments.sort_by_key(|(p, _)| *p);
                if t.name == OFFSETS_TOPIC {
                    return Err((
                        ErrorCode::InvalidRequest,
                        format!("creation of internal topic {OFFSETS_TOPIC} is prohibited: the group coordinator creates it"),
                    ));
                }
                if !storage::is_valid_topic_name(&t.name) {
                    return Err((ErrorCode::InvalidTopicException, format!("invalid topic name {:?}", t.name)));
                }
                if !assignments.is_empty() {
                    if t.num_partitions != -1 || t.replication_factor != -1 {
                        return Err((
                            ErrorCode::InvalidRequest,
                            "both manual assignments and a partition count or replication factor were given".into(),
                        ));
                    }
                    if assignments.iter().zip(0..).any(|((p, _), i)| *p != i) {
                        return Err((
                            ErrorCode::InvalidReplicaAssignment,
                            "the assignments must cover partitions 0..n, each once".into(),
                        ));
                    }
                } else if partitions < 1 {
                    return Err((ErrorCode::InvalidPartitions, format!("{partitions} partitions")));
                }
                let count = if assignments.is_empty() { partitions } else { assignments.len() as i32 };
                if count > MAX_PARTITIONS_PER_REQUEST {
                    return Err((
                        ErrorCode::PolicyViolation,
                        format!("unable to perform excessively large batch operation: {count} partitions in one request, at most {MAX_PARTITIONS_PER_REQUEST}"),
                    ));
                }
                let config = TopicConfig::parse(t.configs.iter().map(|c| (c.name.as_str(), c.value.as_deref())))
                    .map_err(|reason| (ErrorCode::InvalidConfig, reason))?;
                Ok((
                    TopicSpec {
                        name: t.name.clone(),
                        partitions,
                        replication_factor,
                        assignments: assignments.into_iter().map(|(_, b)| b).collect(),
                        configs: config.entries(),
                    },
                    config,
                ))
            })
            .collect();
        // Kafka's limit is per request (MAX_RECORDS_PER_USER_OP): over it, every topic is refused.
        let total: i64 = checked
            .iter()
            .filter_map(|c| c.as_ref().ok())
            .map(|(s, _)| {
                i64::from(if s.assignments.is_empty() {
                    s.partitions
                } else {
                    s.assignments.len() as i32
                })
            })
            .sum();
        let checked: Vec<Result<(TopicSpec, TopicConfig), Refusal>> = if total > i64::from(MAX_PARTITIONS_PER_REQUEST) {
            checked
                .into_iter()
                .map(|c| {
                    c.and_then(|_| {
                        Err((
                            ErrorCode::PolicyViolation,
                            format!("unable to perform excessively large batch operation: {total} partitions in one request, at most {MAX_PARTITIONS_PER_REQUEST}"),
                        ))
                    })
                })
                .collect()
        } else {
            checked
        };
        let specs: Vec<TopicSpec> = checked
            .iter()
            .filter_map(|c| c.as_ref().ok())
            .map(|(s, _)| s.clone())
            .collect();
        let mut outcomes = if specs.is_empty() {
            Vec::new()
        } else {
            broker.create_topics(specs, r.validate_only).await
        }
        .into_iter();
        let image = broker.cluster.image();
        let mut topics = Vec::with_capacity(r.topics.len());
        for (t, checked) in r.topics.iter().zip(checked) {
            let outcome = checked.and_then(|(spec, config)| {
                let id = outcomes
                    .next()
                    .unwrap_or_else(|| Err((ErrorCode::UnknownServerError, "no answer".into())))?;
                Ok((spec, config, id))
            });
            let code = outcome.as_ref().map_or_else(|(c, _)| *c, |_| ErrorCode::None);
            broker.metrics.error(ApiKey::CreateTopics, code);
            topics.push(match outcome {
                Ok((spec, config, id)) => {
                    // v5+: what was (or would be) created; v7+: its id.
                    let created = image.topics.get(&t.name).filter(|_| !r.validate_only);
                    // v5+ configs only with DESCRIBE_CONFIGS on the topic (Kafka: else the error in
                    // TopicConfigErrorCode and no configs).
                    let configs_visible =
                        broker.authorize(listener, Operation::DescribeConfigs, ResourceType::Topic, &t.name);
                    CreatableTopicResult {
                        topic_config_error_code: if configs_visible {
                            0
                        } else {
                            ErrorCode::TopicAuthorizationFailed.code()
                        },
                        name: t.name.clone(),
                        topic_id: Uuid(id.filter(|_| !r.validate_only).unwrap_or([0; 16])),
                        num_partitions: created.map_or(
                            if spec.assignments.is_empty() {
                                spec.partitions
                            } else {
                                spec.assignments.len() as i32
                            },
                            |c| c.partitions.len() as i32,
                        ),
                        replication_factor: created
                            .and_then(|c| c.partitions.first())
                            .map_or(spec.replication_factor, |p| p.replicas.len() as i16),
                        configs: configs_visible.then(|| {
                            topic_configs(&broker.config, &config, |_| true, false, false)
                                .into_iter()
                                .map(|c| CreatableTopicConfigs {
                                    name: c.name,
                                    value: c.value,
                                    read_only: c.read_only,
                                    config_source: c.config_source,
                                    is_sensitive: c.is_sensitive,
                                    ..CreatableTopicConfigs::default()
                                })
                                .collect()
                        }),
                        ..CreatableTopicResult::default()
                    }
                }
                Err((code, message)) => CreatableTopicResult {
                    name: t.name.clone(),
                    error_code: code.code(),
                    error_message: Some(message),
                    ..CreatableTopicResult::default()
                },
            });
        }
        Reply::body(CreateTopicsResponse {
            topics,
            ..CreateTopicsResponse::default()
        })
    })
}

pub(super) fn delete_topics<'a>(broker: &'a Broker, request: &'a Request, listener: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, DeleteTopics);
        let version = request.header.api_version;
        // v6+ names each topic by name or by id; earlier versions by name.
        let wanted: Vec<(Option<String>, Uuid)> = if version >= 6 {
            r.topics.iter().map(|t| (t.name.clone(), t.topic_id)).collect()
        } else {
            r.topic_names.iter().map(|n| (Some(n.clone()), Uuid::ZERO)).collect()
        };
        let cluster_delete = broker.authorize_quietly(
            listener,
            Operation::Delete,
            ResourceType::Cluster,
            security::acl::CLUSTER_NAME,
        );
        // Resolve ids to names here (this broker's table has every topic), refuse what is malformed, then
        // one request to the controller; the id check is repeated there, where it is decided.
        let resolved: Vec<ToDelete> = wanted
            .into_iter()
            .map(|(name, id)| match (name, TopicId::from_uuid(id)) {
                (Some(name), None) if name == OFFSETS_TOPIC => Err((Some(name), ErrorCode::InvalidRequest)),
                (Some(name), None) => Ok((name, None)),
                (None, Some(topic_id)) => match broker.replicas.topic_by_id(topic_id) {
                    Some(t) if &*t.name == OFFSETS_TOPIC => Err((Some(t.name.to_string()), ErrorCode::InvalidRequest)),
                    Some(t) => Ok((t.name.to_string(), Some(topic_id))),
                    None => Err((None, ErrorCode::UnknownTopicId)),
                },
                (Some(name), Some(_)) => Err((Some(name), ErrorCode::InvalidRequest)),
                (None, None) => Err((None, ErrorCode::InvalidRequest)),
            })
            // DELETE on the cluster, else on each topic; a topic named by id keeps its name hidden from a
            // client that may not DESCRIBE it (Kafka's `ControllerApis.deleteTopics`).
            .map(|resolved| match resolved {
                Ok((name, id))
                    if !cluster_delete
                        && !broker.authorize(listener, Operation::Delete, ResourceType::Topic, &name) =>
                {
                    let shown = id.is_none()
                        || broker.authorize_quietly(listener, Operation::Describe, ResourceType::Topic, &name);
                    Err((shown.then_some(name), ErrorCode::TopicAuthorizationFailed))
                }
                other => other,
            })
            .collect();
        let asked: Vec<(String, Option<metadata::TopicId>)> = resolved
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|(name, id)| (name.clone(), id.map(|i| i.0)))
            .collect();
        let n = asked.len();
        let answers: Vec<Result<Option<metadata::TopicId>, Refusal>> = if n == 0 {
            Vec::new()
        } else {
            match broker
                .controller_request(ControllerRequest::DeleteTopics { topics: asked })
                .await
            {
                Ok(ControllerResponse::Results { results, .. }) if results.len() == n => {
                    results.into_iter().map(|r| r.map_err(|(c, m)| refusal(c, m))).collect()
                }
                Ok(other) => vec![Err(unexpected(&other)); n],
                Err(e) => vec![Err(e); n],
            }
        };
        let mut answers = answers.into_iter();
        let mut responses = Vec::with_capacity(resolved.len());
        for r in resolved {
            let (name, id, code, message) = match r {
                Ok((name, id)) => match answers.next() {
                    Some(Ok(deleted)) => (Some(name), Uuid(deleted.unwrap_or([0; 16])), ErrorCode::None, None),
                    Some(Err((code, message))) => {
                        (Some(name), id.map_or(Uuid::ZERO, |i| i.uuid()), code, Some(message))
                    }
                    None => (Some(name), Uuid::ZERO, ErrorCode::UnknownServerError, None),
                },
                Err((name, code)) => {
                    let message = match code {
                        ErrorCode::UnknownTopicId => "no topic has this id".to_string(),
                        ErrorCode::TopicAuthorizationFailed => AUTHORIZATION_FAILED.to_string(),
                        ErrorCode::InvalidRequest if name.as_deref() == Some(OFFSETS_TOPIC) => {
                            format!("internal topic {OFFSETS_TOPIC} cannot be deleted")
                        }
                        _ => "name either a topic or a topic id".to_string(),
                    };
                    (name, Uuid::ZERO, code, Some(message))
                }
            };
            broker.metrics.error(ApiKey::DeleteTopics, code);
            responses.push(DeletableTopicResult {
                error_message: message,
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

pub(super) fn create_partitions<'a>(broker: &'a Broker, request: &'a Request, listener: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, CreatePartitions);
        let repeated = repeated(r.topics.iter().map(|t| t.name.as_str()));
        let checked: Vec<Result<ToGrow, Refusal>> = r
            .topics
            .iter()
            .map(|t| {
                // ALTER on the topic.
                if !broker.authorize(listener, Operation::Alter, ResourceType::Topic, &t.name) {
                    return Err((ErrorCode::TopicAuthorizationFailed, AUTHORIZATION_FAILED.into()));
                }
                let current = broker.cluster.image().topics.get(&t.name).map(|topic| topic.partitions.len() as i32);
                if t.name == OFFSETS_TOPIC {
                    return Err((
                        ErrorCode::InvalidRequest,
                        format!("the partition count of {OFFSETS_TOPIC} is fixed: groups map to its partitions by hash"),
                    ));
                }
                if repeated.contains(t.name.as_str()) {
                    return Err((
                        ErrorCode::InvalidRequest,
                        format!("the request names the topic {:?} more than once", t.name),
                    ));
                }
                let added = i64::from(t.count) - i64::from(current.unwrap_or(0));
                if added > i64::from(MAX_PARTITIONS_PER_REQUEST) {
                    return Err((
                        ErrorCode::PolicyViolation,
                        format!("unable to perform excessively large batch operation: {added} partitions in one request, at most {MAX_PARTITIONS_PER_REQUEST}"),
                    ));
                }
                let assignments = t
                    .assignments
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .map(|a| a.broker_ids.clone())
                    .collect();
                Ok((t.name.clone(), t.count, assignments))
            })
            .collect();
        let asked: Vec<ToGrow> = checked.iter().filter_map(|c| c.as_ref().ok()).cloned().collect();
        let n = asked.len();
        let answers: Vec<Result<Option<metadata::TopicId>, Refusal>> = if n == 0 {
            Vec::new()
        } else {
            let request = ControllerRequest::CreatePartitions {
                topics: asked,
                validate_only: r.validate_only,
            };
            match broker.controller_request(request).await {
                Ok(ControllerResponse::Results { results, .. }) if results.len() == n => {
                    results.into_iter().map(|r| r.map_err(|(c, m)| refusal(c, m))).collect()
                }
                Ok(other) => vec![Err(unexpected(&other)); n],
                Err(e) => vec![Err(e); n],
            }
        };
        let mut answers = answers.into_iter();
        let mut results = Vec::with_capacity(r.topics.len());
        for (t, c) in r.topics.iter().zip(checked) {
            let outcome = c.and_then(|_| {
                answers
                    .next()
                    .unwrap_or_else(|| Err((ErrorCode::UnknownServerError, "no answer".into())))
            });
            let (code, message) = match outcome {
                Ok(_) => (ErrorCode::None, None),
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
