//! Produce and InitProducerId.
//!
//! Every batch is checked (size, CRC, magic 2, `message_max_bytes`, client rules, the idempotent-producer
//! sequence rules) before anything is written; a bad batch is answered with its error code and never
//! affects the other partitions of the request. The appends and the wait for the acks condition are the
//! `ReplicaManager`'s; the sequence rules are in `producer_state.rs`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use protocol::{
    ApiKey, ErrorCode, InitProducerIdResponse, PartitionProduceResponse, ProduceResponse, Request, TopicProduceResponse,
};

use super::{body, Pending};
use crate::broker::{Broker, Listener, Reply};
use crate::group::OFFSETS_TOPIC;
use crate::replica_manager::{ProduceEntry, ProduceResult};

pub(super) fn produce<'a>(broker: &'a Broker, request: &'a Request, _: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, Produce);
        let version = request.header.api_version;
        let mut entries: Vec<ProduceEntry<'_>> = Vec::new();
        for t in &r.topic_data {
            for p in &t.partition_data {
                entries.push(ProduceEntry {
                    topic: &t.name,
                    partition: p.index,
                    records: p.records.as_ref(),
                });
            }
        }
        let (results, remote) = if !(-1..=1).contains(&r.acks) {
            (
                vec![ProduceResult::failed(ErrorCode::InvalidRequiredAcks); entries.len()],
                Duration::ZERO,
            )
        } else if r.transactional_id.is_some() {
            // No transaction coordinator: refuse clearly rather than pretend.
            (
                vec![ProduceResult::failed(ErrorCode::InvalidTxnState); entries.len()],
                Duration::ZERO,
            )
        } else {
            let timeout = Duration::from_millis(r.timeout_ms.max(0) as u64);
            if entries.iter().all(|e| e.topic != OFFSETS_TOPIC) {
                broker.replicas.append_records(r.acks, timeout, version, entries).await
            } else {
                // Clients may not write to the coordinator's internal topic (Kafka: "Cannot append to
                // internal topic"); the other partitions of the request go ahead.
                let allowed: Vec<ProduceEntry<'_>> =
                    entries.iter().filter(|e| e.topic != OFFSETS_TOPIC).copied().collect();
                let (appended, remote) = broker.replicas.append_records(r.acks, timeout, version, allowed).await;
                let mut appended = appended.into_iter();
                let results = entries
                    .iter()
                    .map(|e| {
                        if e.topic == OFFSETS_TOPIC {
                            ProduceResult::failed(ErrorCode::InvalidTopicException)
                        } else {
                            appended
                                .next()
                                .unwrap_or(ProduceResult::failed(ErrorCode::UnknownServerError))
                        }
                    })
                    .collect();
                (results, remote)
            }
        };
        let mut results = results.into_iter();
        let mut failed = false;
        let responses = r
            .topic_data
            .iter()
            .map(|topic| TopicProduceResponse {
                name: topic.name.clone(),
                partition_responses: topic
                    .partition_data
                    .iter()
                    .map(|p| {
                        let result = results
                            .next()
                            .unwrap_or(ProduceResult::failed(ErrorCode::UnknownServerError));
                        if result.error != ErrorCode::None {
                            failed = true;
                            broker.metrics.error(ApiKey::Produce, result.error);
                            tracing::debug!(topic = %topic.name, partition = p.index, error = %result.error, "produce rejected");
                        }
                        PartitionProduceResponse {
                            index: p.index,
                            error_code: result.error.code(),
                            base_offset: result.base_offset,
                            log_start_offset: result.log_start_offset,
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
                body: None,
                regions: Vec::new(),
                close: failed,
                refused: false,
                remote,
            };
        }
        Reply {
            remote,
            ..Reply::body(ProduceResponse {
                responses,
                ..ProduceResponse::default()
            })
        }
    })
}

pub(super) fn init_producer_id(broker: &Broker, request: &Request, _: &Listener) -> Reply {
    let r = body!(request, InitProducerId);
    if r.transactional_id.is_some() {
        // No transaction coordinator: refuse clearly rather than pretend.
        tracing::warn!("InitProducerId with a transactional id: transactions are not supported");
        broker.metrics.error(ApiKey::InitProducerId, ErrorCode::InvalidRequest);
        return Reply::body(InitProducerIdResponse {
            error_code: ErrorCode::InvalidRequest.code(),
            ..InitProducerIdResponse::default()
        });
    }
    let id = broker.next_producer_id.fetch_add(1, Ordering::SeqCst);
    Reply::body(InitProducerIdResponse {
        producer_id: id,
        producer_epoch: 0,
        ..InitProducerIdResponse::default()
    })
}
