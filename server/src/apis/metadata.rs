//! ApiVersions and Metadata.
//!
//! ApiVersions advertises exactly the dispatch table's APIs. Metadata answers with the address of the
//! listener the request came in on (as Kafka's per-listener advertised addresses do), each partition's
//! leader, leader epoch and replicas from its `Partition`, each topic's id (v10+), and auto-creates
//! topics named (not those asked by id) when allowed. From v12 a request naming any topic by id is read
//! by id (names ignored), and an id no topic has is answered `UNKNOWN_TOPIC_ID` with a null name; below
//! v12 a null name or an id is `INVALID_REQUEST`, as Kafka answers. Authorized operations, when asked, are every operation the
//! resource supports (no authorizer: Kafka's answer).

use protocol::{
    ApiKey, ApiVersion, ApiVersionsResponse, ErrorCode, MetadataResponse, MetadataResponseBroker,
    MetadataResponsePartition, MetadataResponseTopic, Request,
};

use super::{body, operations, Pending, HANDLED_APIS};
use crate::broker::{Broker, Listener, Reply};
use crate::topic_config::TopicConfig;
use crate::topic_id::TopicId;

pub(super) fn api_versions(broker: &Broker, request: &Request, _: &Listener) -> Reply {
    let r = body!(request, ApiVersions);
    if request.response_version() != request.header.api_version {
        broker.metrics.error(ApiKey::ApiVersions, ErrorCode::UnsupportedVersion);
        return Reply::body(ApiVersionsResponse::unsupported_version());
    }
    if request.header.api_version >= 3 && !r.has_valid_software_names() {
        broker.metrics.error(ApiKey::ApiVersions, ErrorCode::InvalidRequest);
        return Reply::body(ApiVersionsResponse {
            error_code: ErrorCode::InvalidRequest.code(),
            ..ApiVersionsResponse::default()
        });
    }
    Reply::body(ApiVersionsResponse {
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
    })
}

/// What one requested topic resolved to.
enum Wanted {
    Name(String),
    Id(TopicId),
    /// Not a valid way to name a topic at this version (the name given, if any).
    Invalid(Option<String>),
}

pub(super) fn metadata<'a>(broker: &'a Broker, request: &'a Request, listener: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, Metadata);
        let version = request.header.api_version;
        let wanted: Vec<Wanted> = match &r.topics {
            // v0: an empty list means every topic; v1+: null means every topic.
            None => all_topics(broker),
            Some(t) if t.is_empty() && version == 0 => all_topics(broker),
            // Below v12 topics are named by name only (Kafka refuses a null name or an id there).
            Some(t) if version < 12 => t
                .iter()
                .map(|t| match &t.name {
                    Some(name) if t.topic_id.is_zero() => Wanted::Name(name.clone()),
                    _ => Wanted::Invalid(t.name.clone()),
                })
                .collect(),
            // v12+: if any topic is named by id, the request is by id and names are ignored, as Kafka
            // reads it.
            Some(t) if t.iter().any(|t| !t.topic_id.is_zero()) => {
                let mut ids: Vec<TopicId> = t.iter().filter_map(|t| TopicId::from_uuid(t.topic_id)).collect();
                ids.sort_unstable();
                ids.dedup();
                ids.into_iter().map(Wanted::Id).collect()
            }
            Some(t) => t
                .iter()
                .map(|t| match &t.name {
                    Some(name) => Wanted::Name(name.clone()),
                    None => Wanted::Invalid(None),
                })
                .collect(),
        };
        let allow_create = r.topics.is_some() && (version < 4 || r.allow_auto_topic_creation);
        let node = broker.config.node_id;
        let topic_operations = operations::if_asked(r.include_topic_authorized_operations, operations::TOPIC);
        let mut topics = Vec::with_capacity(wanted.len());
        for w in wanted {
            let (found, name) = match w {
                Wanted::Name(name) => (topic_or_create(broker, &name, allow_create).await, Some(name)),
                Wanted::Id(id) => match broker.replicas.topic_by_id(id) {
                    Some(topic) => (Ok(topic), None),
                    None => {
                        broker.metrics.error(ApiKey::Metadata, ErrorCode::UnknownTopicId);
                        topics.push(MetadataResponseTopic {
                            error_code: ErrorCode::UnknownTopicId.code(),
                            name: None,
                            topic_id: id.uuid(),
                            ..MetadataResponseTopic::default()
                        });
                        continue;
                    }
                },
                Wanted::Invalid(name) => (Err(ErrorCode::InvalidRequest), name),
            };
            topics.push(match found {
                Ok(topic) => MetadataResponseTopic {
                    is_internal: &*topic.name == crate::group::OFFSETS_TOPIC,
                    name: Some(topic.name.to_string()),
                    topic_id: topic.id.uuid(),
                    partitions: topic
                        .partitions
                        .iter()
                        .map(|p| {
                            let replicas = p.replicas();
                            MetadataResponsePartition {
                                partition_index: p.index,
                                leader_id: node,
                                leader_epoch: p.leader_epoch(),
                                isr_nodes: replicas.clone(),
                                replica_nodes: replicas,
                                ..MetadataResponsePartition::default()
                            }
                        })
                        .collect(),
                    topic_authorized_operations: topic_operations,
                    ..MetadataResponseTopic::default()
                },
                Err(code) => {
                    broker.metrics.error(ApiKey::Metadata, code);
                    MetadataResponseTopic {
                        error_code: code.code(),
                        name,
                        ..MetadataResponseTopic::default()
                    }
                }
            });
        }
        Reply::body(MetadataResponse {
            brokers: vec![MetadataResponseBroker {
                node_id: node,
                host: listener.host.clone(),
                port: listener.port,
                ..MetadataResponseBroker::default()
            }],
            cluster_id: Some(broker.cluster_id.clone()),
            controller_id: node,
            topics,
            // Only v8-10 carry it (v11+ moved it to DescribeCluster).
            cluster_authorized_operations: operations::if_asked(
                r.include_cluster_authorized_operations,
                operations::CLUSTER,
            ),
            ..MetadataResponse::default()
        })
    })
}

fn all_topics(broker: &Broker) -> Vec<Wanted> {
    broker
        .replicas
        .topics()
        .keys()
        .map(|k| Wanted::Name(k.to_string()))
        .collect()
}

/// The topic, auto-created (with the broker's `num_partitions`) if allowed.
async fn topic_or_create(
    broker: &Broker,
    name: &str,
    allow: bool,
) -> Result<std::sync::Arc<crate::replica_manager::Topic>, ErrorCode> {
    if let Some(topic) = broker.replicas.topic(name) {
        return Ok(topic);
    }
    if !storage::is_valid_topic_name(name) {
        return Err(ErrorCode::InvalidTopicException);
    }
    // The coordinator creates `__consumer_offsets` with its own shape, never a client's Metadata.
    if !(allow && broker.config.auto_create_topics) || name == crate::group::OFFSETS_TOPIC {
        return Err(ErrorCode::UnknownTopicOrPartition);
    }
    match broker
        .replicas
        .create_topic(name, broker.config.num_partitions, TopicConfig::default())
        .await
    {
        Ok(()) | Err((ErrorCode::TopicAlreadyExists, _)) => {
            broker.replicas.topic(name).ok_or(ErrorCode::UnknownTopicOrPartition)
        }
        Err((code, _)) => Err(code),
    }
}
