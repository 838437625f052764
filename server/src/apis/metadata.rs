//! ApiVersions and Metadata.
//!
//! ApiVersions advertises exactly the dispatch table's APIs. Metadata answers with the address of the
//! listener the request came in on (as Kafka's per-listener advertised addresses do), each partition's
//! leader and replicas from its `Partition`, and auto-creates topics when allowed.

use protocol::{
    ApiKey, ApiVersion, ApiVersionsResponse, ErrorCode, MetadataResponse, MetadataResponseBroker,
    MetadataResponsePartition, MetadataResponseTopic, Request,
};

use super::{body, Pending, HANDLED_APIS};
use crate::broker::{Broker, Listener, Reply};
use crate::topic_config::TopicConfig;

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

pub(super) fn metadata<'a>(broker: &'a Broker, request: &'a Request, listener: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, Metadata);
        let version = request.header.api_version;
        let names: Vec<String> = match &r.topics {
            // v0: an empty list means every topic; v1+: null means every topic.
            None => all_topics(broker),
            Some(t) if t.is_empty() && version == 0 => all_topics(broker),
            // Names only: topic ids (v10+) are not advertised yet.
            Some(t) => t.iter().map(|t| t.name.clone().unwrap_or_default()).collect(),
        };
        let allow_create = r.topics.is_some() && (version < 4 || r.allow_auto_topic_creation);
        let node = broker.config.node_id;
        let mut topics = Vec::with_capacity(names.len());
        for name in names {
            topics.push(match topic_or_create(broker, &name, allow_create).await {
                Ok(topic) => MetadataResponseTopic {
                    is_internal: name == crate::group::OFFSETS_TOPIC,
                    name: Some(name),
                    partitions: topic
                        .partitions
                        .iter()
                        .map(|p| {
                            let replicas = p.replicas();
                            MetadataResponsePartition {
                                partition_index: p.index,
                                leader_id: node,
                                isr_nodes: replicas.clone(),
                                replica_nodes: replicas,
                                ..MetadataResponsePartition::default()
                            }
                        })
                        .collect(),
                    ..MetadataResponseTopic::default()
                },
                Err(code) => {
                    broker.metrics.error(ApiKey::Metadata, code);
                    MetadataResponseTopic {
                        error_code: code.code(),
                        name: Some(name),
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
            ..MetadataResponse::default()
        })
    })
}

fn all_topics(broker: &Broker) -> Vec<String> {
    broker.replicas.topics().keys().map(|k| k.to_string()).collect()
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
    if !(allow && broker.config.auto_create_topics) {
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
