//! DescribeCluster, DescribeLogDirs, DeleteRecords and DescribeProducers: the cluster and its partitions'
//! state, as admin tools see them.
//!
//! - DescribeCluster lists the unfenced brokers (v2 with `IncludeFencedBrokers`: all, with `IsFenced`), each
//!   with its endpoint of the listener the request came in on, and names the active controller (this broker
//!   when the active controller is a controller-only node, as admin requests go through brokers); a request
//!   for the controllers' endpoints (endpoint type 2) is `MISMATCHED_ENDPOINT_TYPE`, as a Kafka broker
//!   answers.
//! - DescribeQuorum (what `kafka-metadata-quorum describe` asks) is answered from the active controller's
//!   view of the metadata quorum: leader, term, committed offset, each voter's and observer's log end.
//! - DescribeLogDirs describes the one data directory: each partition's size in bytes (lag 0: no future
//!   replicas), and from v4 the file system's total and usable bytes (`statvfs`).
//! - DeleteRecords raises partitions' log start offsets (`ReplicaManager::delete_records`).
//! - DescribeProducers lists each partition's idempotent producers (no transactions: coordinator epoch
//!   and transaction start are -1).

use protocol::{
    ApiKey, DeleteRecordsPartitionResult, DeleteRecordsResponse, DeleteRecordsTopicResult, DescribeClusterBroker,
    DescribeClusterResponse, DescribeLogDirsPartition, DescribeLogDirsResponse, DescribeLogDirsResult,
    DescribeLogDirsTopic, DescribeProducersPartitionResponse, DescribeProducersResponse,
    DescribeProducersTopicResponse, DescribeQuorumListener, DescribeQuorumNode, DescribeQuorumPartitionResult,
    DescribeQuorumResponse, DescribeQuorumTopicResult, ErrorCode, ProducerState, QuorumReplicaState, Request,
};

use security::acl::{Operation, ResourceType};

use super::{body, operations, Pending};
use crate::broker::{Broker, Listener, Reply};

/// DescribeCluster's endpoint types.
const BROKERS: i8 = 1;
const CONTROLLERS: i8 = 2;

pub(super) fn describe_cluster(broker: &Broker, request: &Request, listener: &Listener) -> Reply {
    let r = body!(request, DescribeCluster);
    let fail = |code: ErrorCode, message: String| {
        broker.metrics.error(ApiKey::DescribeCluster, code);
        Reply::body(DescribeClusterResponse {
            error_code: code.code(),
            error_message: Some(message),
            endpoint_type: r.endpoint_type,
            ..DescribeClusterResponse::default()
        })
    };
    match r.endpoint_type {
        BROKERS => {}
        CONTROLLERS => {
            return fail(
                ErrorCode::MismatchedEndpointType,
                "the request was sent to a broker's endpoint, but asks for the controllers".into(),
            )
        }
        other => {
            return fail(
                ErrorCode::UnsupportedEndpointType,
                format!("unknown endpoint type {other}"),
            )
        }
    }
    let image = broker.cluster.image();
    let brokers: Vec<DescribeClusterBroker> = image
        .brokers
        .values()
        .filter(|b| !b.fenced || r.include_fenced_brokers)
        .filter_map(|b| {
            let e = b.endpoints.iter().find(|e| e.name == listener.name())?;
            Some(DescribeClusterBroker {
                broker_id: b.id,
                host: e.host.clone(),
                port: i32::from(e.port),
                rack: b.rack.clone(),
                is_fenced: b.fenced,
                ..DescribeClusterBroker::default()
            })
        })
        .collect();
    Reply::body(DescribeClusterResponse {
        endpoint_type: BROKERS,
        cluster_id: broker.cluster_id.clone(),
        // The active controller when it is a listed broker; otherwise this broker, which forwards admin
        // requests to it (clients send them to the id named here).
        controller_id: broker
            .cluster
            .controller_id()
            .filter(|id| brokers.iter().any(|b: &DescribeClusterBroker| b.broker_id == *id))
            .unwrap_or(broker.config.node_id),
        brokers,
        cluster_authorized_operations: operations::if_asked(
            r.include_cluster_authorized_operations,
            broker.cluster_operations(listener),
        ),
        ..DescribeClusterResponse::default()
    })
}

/// The total and available bytes of the file system holding `dir`, or (-1, -1).
fn disk_space(dir: &std::path::Path) -> (i64, i64) {
    match nix::sys::statvfs::statvfs(dir) {
        Ok(s) => {
            let unit = s.fragment_size() as i64;
            (
                (s.blocks() as i64).saturating_mul(unit),
                (s.blocks_available() as i64).saturating_mul(unit),
            )
        }
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot stat the data directory's file system");
            (-1, -1)
        }
    }
}

/// The metadata log's topic, the one partition DescribeQuorum describes.
const METADATA_TOPIC: &str = "__cluster_metadata";

pub(super) fn describe_quorum<'a>(broker: &'a Broker, request: &'a Request, listener: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        use crate::cluster::rpc::{Request as ControllerRequest, Response as ControllerResponse};
        let r = body!(request, DescribeQuorum);
        let fail = |code: ErrorCode, message: String| {
            broker.metrics.error(ApiKey::DescribeQuorum, code);
            Reply::body(DescribeQuorumResponse {
                error_code: code.code(),
                error_message: Some(message),
                ..DescribeQuorumResponse::default()
            })
        };
        if !broker.authorize_cluster(listener, Operation::Describe) {
            return fail(
                ErrorCode::ClusterAuthorizationFailed,
                "Cluster authorization failed.".into(),
            );
        }
        // Kafka answers only for its one metadata partition.
        let asked: Vec<(&str, i32)> = r
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(move |p| (t.topic_name.as_str(), p.partition_index))
            })
            .collect();
        if asked.as_slice() != [(METADATA_TOPIC, 0)] {
            return fail(
                ErrorCode::UnknownTopicOrPartition,
                format!("DescribeQuorum describes {METADATA_TOPIC} partition 0 only"),
            );
        }
        // The active controller knows every member's position; any broker forwards to it, as Kafka's do.
        let q = match broker.cluster.submit(ControllerRequest::DescribeQuorum).await {
            Ok(ControllerResponse::Quorum(q)) => q,
            Ok(other) => {
                let (code, message) = crate::broker::unexpected(&other);
                return fail(code, message);
            }
            Err((code, message)) => return fail(code, message),
        };
        let now = crate::broker::storage_now_ms();
        let replica = |(id, end): &(i32, i64)| QuorumReplicaState {
            replica_id: *id,
            log_end_offset: *end,
            // The leader is caught up with itself now; the others' fetch times are not tracked.
            last_caught_up_timestamp: if *id == q.leader { now } else { -1 },
            ..QuorumReplicaState::default()
        };
        Reply::body(DescribeQuorumResponse {
            topics: vec![DescribeQuorumTopicResult {
                topic_name: METADATA_TOPIC.into(),
                partitions: vec![DescribeQuorumPartitionResult {
                    partition_index: 0,
                    leader_id: q.leader,
                    leader_epoch: i32::try_from(q.term).unwrap_or(i32::MAX),
                    high_watermark: q.high_watermark,
                    current_voters: q.voters.iter().map(replica).collect(),
                    observers: q.observers.iter().map(replica).collect(),
                    ..DescribeQuorumPartitionResult::default()
                }],
                ..DescribeQuorumTopicResult::default()
            }],
            nodes: q
                .addresses
                .iter()
                .filter_map(|(id, addr)| {
                    let (host, port) = crate::config::parse_host_port(addr)?;
                    Some(DescribeQuorumNode {
                        node_id: *id,
                        listeners: vec![DescribeQuorumListener {
                            name: "CONTROLLER".into(),
                            host,
                            port: u16::try_from(port).ok()?,
                            ..DescribeQuorumListener::default()
                        }],
                        ..DescribeQuorumNode::default()
                    })
                })
                .collect(),
            ..DescribeQuorumResponse::default()
        })
    })
}

pub(super) fn describe_log_dirs(broker: &Broker, request: &Request, listener: &Listener) -> Reply {
    let r = body!(request, DescribeLogDirs);
    // DESCRIBE on the cluster (Kafka answers the error at the top from v3 on, and nothing before).
    if !broker.authorize_cluster(listener, Operation::Describe) {
        return Reply::body(DescribeLogDirsResponse {
            error_code: ErrorCode::ClusterAuthorizationFailed.code(),
            ..DescribeLogDirsResponse::default()
        });
    }
    let topics = broker.replicas.topics();
    let partition = |p: &crate::partition::Partition| DescribeLogDirsPartition {
        partition_index: p.index,
        partition_size: p.log().size_in_bytes() as i64,
        offset_lag: 0,
        is_future_key: false,
        ..DescribeLogDirsPartition::default()
    };
    let described: Vec<DescribeLogDirsTopic> = match &r.topics {
        // Null: every partition.
        None => topics
            .values()
            .map(|t| DescribeLogDirsTopic {
                name: t.name.to_string(),
                partitions: t.hosted().map(|p| partition(p)).collect(),
                ..DescribeLogDirsTopic::default()
            })
            .collect(),
        // The partitions asked for that exist here (Kafka leaves out the others).
        Some(wanted) => wanted
            .iter()
            .filter_map(|w| {
                let t = topics.get(&w.topic)?;
                let partitions: Vec<DescribeLogDirsPartition> = w
                    .partitions
                    .iter()
                    .filter_map(|i| usize::try_from(*i).ok().and_then(|i| t.partitions.get(i)))
                    .flatten()
                    .map(|p| partition(p))
                    .collect();
                (!partitions.is_empty()).then(|| DescribeLogDirsTopic {
                    name: w.topic.clone(),
                    partitions,
                    ..DescribeLogDirsTopic::default()
                })
            })
            .collect(),
    };
    let dir = &broker.config.data_dir;
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
    let (total_bytes, usable_bytes) = disk_space(dir);
    Reply::body(DescribeLogDirsResponse {
        results: vec![DescribeLogDirsResult {
            log_dir: absolute.display().to_string(),
            topics: described,
            total_bytes,
            usable_bytes,
            ..DescribeLogDirsResult::default()
        }],
        ..DescribeLogDirsResponse::default()
    })
}

pub(super) fn delete_records<'a>(broker: &'a Broker, request: &'a Request, listener: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, DeleteRecords);
        let mut topics = Vec::with_capacity(r.topics.len());
        for t in &r.topics {
            let mut partitions = Vec::with_capacity(t.partitions.len());
            let deletable = broker.authorize(listener, Operation::Delete, ResourceType::Topic, &t.name);
            for p in &t.partitions {
                // Kafka: "Cannot delete records of internal topic".
                let deleted = if !deletable {
                    Err(ErrorCode::TopicAuthorizationFailed)
                } else if t.name == crate::group::OFFSETS_TOPIC {
                    Err(ErrorCode::InvalidTopicException)
                } else {
                    broker
                        .replicas
                        .delete_records(&t.name, p.partition_index, p.offset)
                        .await
                };
                let (code, low_watermark) = match deleted {
                    Ok(low) => (ErrorCode::None, low),
                    Err(code) => (code, -1),
                };
                broker.metrics.error(ApiKey::DeleteRecords, code);
                partitions.push(DeleteRecordsPartitionResult {
                    partition_index: p.partition_index,
                    low_watermark,
                    error_code: code.code(),
                    ..DeleteRecordsPartitionResult::default()
                });
            }
            topics.push(DeleteRecordsTopicResult {
                name: t.name.clone(),
                partitions,
                ..DeleteRecordsTopicResult::default()
            });
        }
        Reply::body(DeleteRecordsResponse {
            topics,
            ..DeleteRecordsResponse::default()
        })
    })
}

pub(super) fn describe_producers<'a>(broker: &'a Broker, request: &'a Request, listener: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, DescribeProducers);
        let mut topics = Vec::with_capacity(r.topics.len());
        for t in &r.topics {
            let mut partitions = Vec::with_capacity(t.partition_indexes.len());
            let readable = broker.authorize(listener, Operation::Read, ResourceType::Topic, &t.name);
            for &index in &t.partition_indexes {
                let found = if readable {
                    broker.replicas.partition(&t.name, index)
                } else {
                    Err(ErrorCode::TopicAuthorizationFailed)
                };
                partitions.push(match found {
                    Ok(p) => {
                        // The first look after a start rebuilds the producers from the log: blocking work.
                        let producers = tokio::task::spawn_blocking(move || p.producers())
                            .await
                            .unwrap_or_default();
                        DescribeProducersPartitionResponse {
                            partition_index: index,
                            active_producers: producers
                                .into_iter()
                                .map(|(producer_id, epoch, last_sequence, last_timestamp)| ProducerState {
                                    producer_id,
                                    producer_epoch: i32::from(epoch),
                                    last_sequence,
                                    last_timestamp,
                                    coordinator_epoch: -1,
                                    current_txn_start_offset: -1,
                                    ..ProducerState::default()
                                })
                                .collect(),
                            ..DescribeProducersPartitionResponse::default()
                        }
                    }
                    Err(code) => {
                        broker.metrics.error(ApiKey::DescribeProducers, code);
                        DescribeProducersPartitionResponse {
                            partition_index: index,
                            error_code: code.code(),
                            error_message: Some(format!("{}-{index} is not a partition of this broker", t.name)),
                            ..DescribeProducersPartitionResponse::default()
                        }
                    }
                });
            }
            topics.push(DescribeProducersTopicResponse {
                name: t.name.clone(),
                partitions,
                ..DescribeProducersTopicResponse::default()
            });
        }
        Reply::body(DescribeProducersResponse {
            topics,
            ..DescribeProducersResponse::default()
        })
    })
}
