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

use security::acl::{Operation, ResourceType};

use super::{body, operations, Pending, HANDLED_APIS};
use crate::broker::{Broker, Listener, Reply};
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
        let every = r.topics.is_none() || (version == 0 && r.topics.as_ref().is_some_and(|t| t.is_empty()));
        // Listing every topic shows those the principal may DESCRIBE (Kafka filters them out silently).
        let wanted: Vec<Wanted> = if every {
            wanted
                .into_iter()
                .filter(|w| match w {
                    Wanted::Name(name) => {
                        broker.authorize_quietly(listener, Operation::Describe, ResourceType::Topic, name)
                    }
                    _ => true,
                })
                .collect()
        } else {
            wanted
        };
        let allow_create = r.topics.is_some() && (version < 4 || r.allow_auto_topic_creation);
        let mut topics = Vec::with_capacity(wanted.len());
        let mut image = broker.cluster.image();
        for w in wanted {
            let (found, name) = match w {
                Wanted::Name(name)
                    if !every && !broker.authorize(listener, Operation::Describe, ResourceType::Topic, &name) =>
                {
                    (Err(ErrorCode::TopicAuthorizationFailed), Some(name))
                }
                Wanted::Name(name) => {
                    // Auto-creation needs CREATE on the cluster or on the topic.
                    let may_create = !(allow_create && broker.config.auto_create_topics)
                        || (image.topics.contains_key(&name)
                            || broker.authorize_quietly(
                                listener,
                                Operation::Create,
                                ResourceType::Cluster,
                                security::acl::CLUSTER_NAME,
                            )
                            || broker.authorize(listener, Operation::Create, ResourceType::Topic, &name));
                    let found = if !may_create {
                        Err(ErrorCode::TopicAuthorizationFailed)
                    } else {
                        topic_or_create(broker, &mut image, &name, allow_create).await
                    };
                    (found, Some(name))
                }
                Wanted::Id(id) => match broker
                    .replicas
                    .topic_by_id(id)
                    .and_then(|t| image.topics.get(&*t.name).cloned())
                {
                    Some(topic)
                        if !broker.authorize(listener, Operation::Describe, ResourceType::Topic, &topic.name) =>
                    {
                        broker
                            .metrics
                            .error(ApiKey::Metadata, ErrorCode::TopicAuthorizationFailed);
                        topics.push(MetadataResponseTopic {
                            error_code: ErrorCode::TopicAuthorizationFailed.code(),
                            name: None,
                            topic_id: id.uuid(),
                            ..MetadataResponseTopic::default()
                        });
                        continue;
                    }
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
                    is_internal: topic.name == crate::group::OFFSETS_TOPIC,
                    name: Some(topic.name.clone()),
                    topic_id: protocol::Uuid(topic.id),
                    partitions: topic
                        .partitions
                        .iter()
                        .zip(0..)
                        .map(|(p, index)| partition(&image, p, index))
                        .collect(),
                    topic_authorized_operations: operations::if_asked(
                        r.include_topic_authorized_operations,
                        broker.authorized_operations(listener, ResourceType::Topic, &topic.name),
                    ),
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
        // Only unfenced brokers are listed, each with its endpoint of the listener the request came in on
        // (Kafka's `KRaftMetadataCache`).
        let brokers: Vec<MetadataResponseBroker> = image
            .brokers
            .values()
            .filter(|b| !b.fenced)
            .filter_map(|b| {
                let e = b.endpoints.iter().find(|e| e.name == listener.name())?;
                Some(MetadataResponseBroker {
                    node_id: b.id,
                    host: e.host.clone(),
                    port: i32::from(e.port),
                    rack: b.rack.clone(),
                    ..MetadataResponseBroker::default()
                })
            })
            .collect();
        // Clients send admin requests to the "controller"; any broker forwards them, so this is the active
        // controller when it is a live broker, else this broker (KRaft answers a random live broker).
        let controller_id = broker
            .cluster
            .controller_id()
            .filter(|id| brokers.iter().any(|b| b.node_id == *id))
            .unwrap_or(broker.config.node_id);
        Reply::body(MetadataResponse {
            brokers,
            cluster_id: Some(broker.cluster_id.clone()),
            controller_id,
            topics,
            // Only v8-10 carry it (v11+ moved it to DescribeCluster).
            cluster_authorized_operations: operations::if_asked(
                r.include_cluster_authorized_operations,
                broker.cluster_operations(listener),
            ),
            ..MetadataResponse::default()
        })
    })
}

/// A partition as Metadata describes it: a partition without a leader is `LEADER_NOT_AVAILABLE`, replicas
/// on brokers that are not live are offline.
pub(super) fn partition(
    image: &metadata::Image,
    p: &metadata::PartitionState,
    index: i32,
) -> MetadataResponsePartition {
    let live = |b: &i32| image.brokers.get(b).is_some_and(|b| !b.fenced);
    MetadataResponsePartition {
        error_code: if p.leader < 0 {
            ErrorCode::LeaderNotAvailable.code()
        } else {
            ErrorCode::None.code()
        },
        partition_index: index,
        leader_id: p.leader,
        leader_epoch: p.leader_epoch,
        replica_nodes: p.replicas.clone(),
        isr_nodes: p.isr.clone(),
        offline_replicas: p.replicas.iter().copied().filter(|b| !live(b)).collect(),
        ..MetadataResponsePartition::default()
    }
}

fn all_topics(broker: &Broker) -> Vec<Wanted> {
    broker
        .cluster
        .image()
        .topics
        .keys()
        .map(|k| Wanted::Name(k.clone()))
        .collect()
}

/// The topic, auto-created (with the broker's `num_partitions` and `default_replication_factor`) if
/// allowed; `image` is refreshed after a creation.
async fn topic_or_create(
    broker: &Broker,
    image: &mut std::sync::Arc<metadata::Image>,
    name: &str,
    allow: bool,
) -> Result<std::sync::Arc<metadata::Topic>, ErrorCode> {
    if let Some(topic) = image.topics.get(name) {
        return Ok(std::sync::Arc::clone(topic));
    }
    if !storage::is_valid_topic_name(name) {
        return Err(ErrorCode::InvalidTopicException);
    }
    // The coordinator creates `__consumer_offsets` with its own shape, never a client's Metadata.
    if !(allow && broker.config.auto_create_topics) || name == crate::group::OFFSETS_TOPIC {
        return Err(ErrorCode::UnknownTopicOrPartition);
    }
    let spec = crate::cluster::rpc::TopicSpec {
        name: name.to_string(),
        partitions: broker.config.num_partitions,
        replication_factor: broker.config.default_replication_factor,
        assignments: Vec::new(),
        configs: Vec::new(),
    };
    let created = broker.create_topics(vec![spec], false).await;
    match created.into_iter().next() {
        Some(Ok(_)) | Some(Err((ErrorCode::TopicAlreadyExists, _))) => {
            *image = broker.cluster.image();
            image
                .topics
                .get(name)
                .cloned()
                .ok_or(ErrorCode::UnknownTopicOrPartition)
        }
        // Kafka answers LEADER_NOT_AVAILABLE while an auto-created topic is being made.
        Some(Err((ErrorCode::InvalidReplicationFactor, message))) => {
            tracing::warn!(topic = name, %message, "cannot auto-create the topic");
            Err(ErrorCode::LeaderNotAvailable)
        }
        Some(Err((code, _))) => Err(code),
        None => Err(ErrorCode::UnknownServerError),
    }
}
