//! Produce and InitProducerId.
//!
//! Every batch is checked (size, CRC, magic 2, `message_max_bytes`, client rules, the idempotent-producer
//! sequence rules) before anything is written; a bad batch is answered with its error code and never
//! affects the other partitions of the request. The appends and the wait for the acks condition are the
//! `ReplicaManager`'s; the sequence rules are in `producer_state.rs`.

use std::sync::Arc;
use std::time::Duration;

use protocol::{
    ApiKey, ErrorCode, InitProducerIdResponse, PartitionProduceResponse, ProduceResponse, Request, TopicProduceResponse,
};
use security::acl::{Operation, ResourceType};

use super::{body, LeaderHints, Pending};
use crate::broker::{Broker, Listener, Reply};
use crate::group::OFFSETS_TOPIC;
use crate::replica_manager::{ProduceEntry, ProduceResult, Topic};
use crate::topic_id::TopicId;

pub(super) fn produce<'a>(broker: &'a Broker, request: &'a Request, listener: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, Produce);
        let version = request.header.api_version;
        // v13 names topics by id: resolve each once (an id no topic has is UNKNOWN_TOPIC_ID).
        let by_id: Vec<Option<Arc<Topic>>> = if version >= 13 {
            r.topic_data
                .iter()
                .map(|t| TopicId::from_uuid(t.topic_id).and_then(|id| broker.replicas.topic_by_id(id)))
                .collect()
        } else {
            Vec::new()
        };
        // WRITE on each topic (Kafka's order: authorization before existence), asked once per topic.
        let writable: Vec<bool> = (0..r.topic_data.len())
            .map(|i| {
                let name = if version >= 13 {
                    by_id[i].as_deref().map(|t| &*t.name)
                } else {
                    Some(r.topic_data[i].name.as_str())
                };
                name.is_none_or(|name| broker.authorize(listener, Operation::Write, ResourceType::Topic, name))
            })
            .collect();
        // Where topic `i`'s batches go, or why they do not.
        let target = |i: usize| -> Result<&str, ErrorCode> {
            let name = if version >= 13 {
                by_id[i].as_deref().map(|t| &*t.name).ok_or(ErrorCode::UnknownTopicId)?
            } else {
                r.topic_data[i].name.as_str()
            };
            if !writable[i] {
                return Err(ErrorCode::TopicAuthorizationFailed);
            }
            // Clients may not write to the coordinator's internal topic (Kafka: "Cannot append to internal
            // topic"); the other partitions of the request go ahead.
            if name == OFFSETS_TOPIC {
                return Err(ErrorCode::InvalidTopicException);
            }
            Ok(name)
        };
        let mut entries: Vec<ProduceEntry<'_>> = Vec::new();
        for (i, t) in r.topic_data.iter().enumerate() {
            if let Ok(topic) = target(i) {
                entries.extend(t.partition_data.iter().map(|p| ProduceEntry {
                    topic,
                    partition: p.index,
                    records: p.records.as_ref(),
                }));
            }
        }
        let (appended, wait) = if !(-1..=1).contains(&r.acks) {
            (
                vec![ProduceResult::failed(ErrorCode::InvalidRequiredAcks); entries.len()],
                None,
            )
        } else if let Some(id) = r
            .transactional_id
            .as_deref()
            .filter(|id| !broker.authorize(listener, Operation::Write, ResourceType::TransactionalId, id))
        {
            tracing::debug!(
                transactional_id = id,
                "produce refused: no WRITE on the transactional id"
            );
            (
                vec![ProduceResult::failed(ErrorCode::TransactionalIdAuthorizationFailed); entries.len()],
                None,
            )
        } else if r.transactional_id.is_some() {
            // No transaction coordinator: refuse clearly rather than pretend.
            (
                vec![ProduceResult::failed(ErrorCode::InvalidTxnState); entries.len()],
                None,
            )
        } else {
            let timeout = Duration::from_millis(r.timeout_ms.max(0) as u64);
            broker.replicas.append(r.acks, timeout, version, entries).await
        };
        // The appended results, in request order, between the partitions that were refused; `slots[k]` is
        // where the k-th appended result is in the response (topic, partition).
        let mut appended = appended.into_iter();
        let mut slots: Vec<(usize, usize)> = Vec::new();
        let mut failed = false;
        let mut hints = LeaderHints::new(broker, listener);
        let responses = r
            .topic_data
            .iter()
            .enumerate()
            .map(|(i, topic)| TopicProduceResponse {
                // v13 answers by id (the name is not on the wire).
                name: if version >= 13 { String::new() } else { topic.name.clone() },
                topic_id: topic.topic_id,
                partition_responses: topic
                    .partition_data
                    .iter()
                    .enumerate()
                    .map(|(j, p)| {
                        let result = match target(i) {
                            Err(code) => ProduceResult::failed(code),
                            Ok(_) => {
                                // Only an acks=all answer is settled later.
                                if wait.is_some() {
                                    slots.push((i, j));
                                }
                                appended
                                    .next()
                                    .unwrap_or(ProduceResult::failed(ErrorCode::UnknownServerError))
                            }
                        };
                        if result.error != ErrorCode::None {
                            failed = true;
                            broker.metrics.error(ApiKey::Produce, result.error);
                            tracing::debug!(topic = %topic.name, partition = p.index, error = %result.error, "produce rejected");
                        }
                        let current_leader = match target(i) {
                            Ok(name) => hints.hint(name, p.index, result.error),
                            Err(_) => Default::default(),
                        };
                        PartitionProduceResponse {
                            index: p.index,
                            error_code: result.error.code(),
                            base_offset: result.base_offset,
                            log_start_offset: result.log_start_offset,
                            current_leader,
                            ..PartitionProduceResponse::default()
                        }
                    })
                    .collect(),
                ..TopicProduceResponse::default()
            })
            .collect();
        if r.acks == 0 {
            // No response; after an error Kafka closes the connection so the producer refreshes metadata.
            return Reply {
                close: failed,
                ..Reply::none()
            };
        }
        let mut response = ProduceResponse {
            responses,
            node_endpoints: hints.endpoints(),
            ..ProduceResponse::default()
        };
        let Some(wait) = wait else {
            return Reply::body(response);
        };
        if let Some(outcomes) = broker.replicas.acks_decided(&wait) {
            // Nothing to wait for (one replica, or quick followers).
            settle(&mut response, &slots, outcomes, &broker.metrics);
            return Reply::body(response);
        }
        // acks=all: the connection goes on with its next requests while this one waits for the high
        // watermark (Kafka's delayed produce); the answer keeps its place in the response order.
        let (replicas, metrics) = (Arc::clone(&broker.replicas), Arc::clone(&broker.metrics));
        Reply::deferred(async move {
            let (outcomes, waited) = replicas.wait_for_acks(wait).await;
            settle(&mut response, &slots, outcomes, &metrics);
            Reply {
                remote: waited,
                ..Reply::body(response)
            }
        })
    })
}

/// Writes the `acks=all` outcomes (by appended result `k`, at `slots[k]` in the response) into the
/// response: a batch that was not acknowledged gets its error and no offsets.
fn settle(
    response: &mut ProduceResponse,
    slots: &[(usize, usize)],
    outcomes: Vec<(usize, ErrorCode)>,
    metrics: &crate::metrics::Metrics,
) {
    for (k, code) in outcomes {
        if code == ErrorCode::None {
            continue;
        }
        metrics.error(ApiKey::Produce, code);
        if let Some(p) = slots
            .get(k)
            .and_then(|(i, j)| response.responses.get_mut(*i)?.partition_responses.get_mut(*j))
        {
            tracing::debug!(partition = p.index, error = %code, "acks=all produce not acknowledged");
            p.error_code = code.code();
            p.base_offset = -1;
            p.log_start_offset = -1;
        }
    }
}

pub(super) fn init_producer_id<'a>(broker: &'a Broker, request: &'a Request, listener: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, InitProducerId);
        // Kafka: WRITE on the transactional id, or (idempotence alone) IDEMPOTENT_WRITE on the cluster or
        // WRITE on some topic.
        let refused = match r.transactional_id.as_deref() {
            Some(id) => (!broker.authorize(listener, Operation::Write, ResourceType::TransactionalId, id))
                .then_some(ErrorCode::TransactionalIdAuthorizationFailed),
            None => (!broker.authorize_quietly(
                listener,
                Operation::IdempotentWrite,
                ResourceType::Cluster,
                security::acl::CLUSTER_NAME,
            ) && !broker.authorize_any(listener, Operation::Write, ResourceType::Topic))
            .then_some(ErrorCode::ClusterAuthorizationFailed),
        };
        if let Some(code) = refused {
            broker.metrics.error(ApiKey::InitProducerId, code);
            return Reply::body(InitProducerIdResponse {
                error_code: code.code(),
                ..InitProducerIdResponse::default()
            });
        }
        if r.transactional_id.is_some() {
            // No transaction coordinator: refuse clearly rather than pretend.
            tracing::warn!("InitProducerId with a transactional id: transactions are not supported");
            broker.metrics.error(ApiKey::InitProducerId, ErrorCode::InvalidRequest);
            return Reply::body(InitProducerIdResponse {
                error_code: ErrorCode::InvalidRequest.code(),
                ..InitProducerIdResponse::default()
            });
        }
        // v3+ may carry the producer's current id and epoch (KIP-360). Both or neither (Kafka:
        // INVALID_REQUEST otherwise). For a producer without a transactional id Kafka always answers a new
        // id with epoch 0, whatever it had, and so does kzero.
        if (r.producer_id == -1) != (r.producer_epoch == -1) {
            broker.metrics.error(ApiKey::InitProducerId, ErrorCode::InvalidRequest);
            return Reply::body(InitProducerIdResponse {
                error_code: ErrorCode::InvalidRequest.code(),
                ..InitProducerIdResponse::default()
            });
        }
        // From this broker's block of ids; a new block comes from the active controller.
        match broker.cluster.next_producer_id().await {
            Ok(id) => Reply::body(InitProducerIdResponse {
                producer_id: id,
                producer_epoch: 0,
                ..InitProducerIdResponse::default()
            }),
            Err(code) => {
                broker.metrics.error(ApiKey::InitProducerId, code);
                Reply::body(InitProducerIdResponse {
                    error_code: code.code(),
                    ..InitProducerIdResponse::default()
                })
            }
        }
    })
}
