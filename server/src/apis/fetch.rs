//! Fetch, ListOffsets and OffsetForLeaderEpoch.
//!
//! Fetch is the zero-copy path: each partition's records are a file region from the storage crate, put in
//! the response as `Records::External`, and written by the transfer crate with `sendfile`; the record
//! bytes never enter the broker. Reading, the KIP-74 byte limits and waiting for `min_bytes` are the
//! `ReplicaManager`'s (`fetch_messages`), which honours a follower's fields (replica id, leader epoch,
//! last fetched epoch: a diverged fetcher gets `DivergingEpoch` instead of records). From v13 topics are
//! named by id (an unknown id is `UNKNOWN_TOPIC_ID`); from v15 the follower's id is in `ReplicaState`.
//! Fetch sessions (KIP-227) are not kept: every answer has session id 0, which clients take as
//! "no session" and send full fetches, as Kafka allows.
//!
//! ListOffsets answers latest (-1), earliest (-2), max timestamp (-3, the first record with the largest
//! timestamp), earliest local (-4, the log start: nothing is tiered) and latest tiered (-5: -1, as Kafka
//! answers without remote storage), with the leader epoch of the offset from v4. OffsetForLeaderEpoch
//! answers from the log's leader-epoch cache (KIP-101/KIP-320).

use std::sync::Arc;
use std::time::Duration;

use protocol::{
    ApiKey, DivergingEpoch, EpochEndOffset, ErrorCode, FetchResponse, FetchableTopicResponse,
    ListOffsetsPartitionResponse, ListOffsetsResponse, ListOffsetsTopicResponse, OffsetForLeaderEpochResponse,
    OffsetForLeaderTopicResult, PartitionData, Records, Request,
};
use storage::Slice;

use security::acl::{Operation, ResourceType};

use super::{body, LeaderHints, Pending};
use crate::broker::{Broker, Listener, Reply};
use crate::error::storage_error_code;
use crate::replica_manager::{FetchParams, FetchPartitionParams, Topic};
use crate::topic_id::TopicId;

pub(super) fn fetch<'a>(broker: &'a Broker, request: &'a Request, listener: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, Fetch);
        let version = request.header.api_version;
        // v13+ names topics by id: resolve each once (an id no topic has is UNKNOWN_TOPIC_ID).
        let by_id: Vec<Option<Arc<Topic>>> = if version >= 13 {
            r.topics
                .iter()
                .map(|t| TopicId::from_uuid(t.topic_id).and_then(|id| broker.replicas.topic_by_id(id)))
                .collect()
        } else {
            Vec::new()
        };
        let topic_name = |i: usize| -> Option<&str> {
            if version >= 13 {
                by_id[i].as_deref().map(|t| &*t.name)
            } else {
                Some(r.topics[i].topic.as_str())
            }
        };
        let mut params = FetchParams {
            // v15+ moved the follower's id into the tagged ReplicaState (KIP-903).
            replica_id: if version >= 15 {
                r.replica_state.replica_id
            } else {
                r.replica_id
            },
            max_wait: Duration::from_millis(r.max_wait_ms.max(0) as u64),
            min_bytes: r.min_bytes,
            max_bytes: r.max_bytes,
            isolation_level: r.isolation_level,
            partitions: Vec::with_capacity(r.topics.iter().map(|t| t.partitions.len()).sum()),
        };
        // A follower needs CLUSTER_ACTION on the cluster, a consumer READ on each topic (Kafka answers
        // TOPIC_AUTHORIZATION_FAILED for every partition either way).
        let follower_allowed = params.replica_id < 0 || broker.authorize_cluster(listener, Operation::ClusterAction);
        let readable: Vec<bool> = (0..r.topics.len())
            .map(|i| {
                follower_allowed
                    && (params.replica_id >= 0
                        || topic_name(i)
                            .is_none_or(|name| broker.authorize(listener, Operation::Read, ResourceType::Topic, name)))
            })
            .collect();
        for (i, t) in r.topics.iter().enumerate() {
            let Some(name) = topic_name(i) else { continue };
            if !readable[i] {
                continue;
            }
            for p in &t.partitions {
                params.partitions.push(FetchPartitionParams {
                    topic: name,
                    partition: p.partition,
                    fetch_offset: p.fetch_offset,
                    current_leader_epoch: p.current_leader_epoch,
                    last_fetched_epoch: p.last_fetched_epoch,
                    partition_max_bytes: p.partition_max_bytes,
                });
            }
        }
        let (fetched, remote) = broker
            .replicas
            .fetch_messages(&params, broker.config.fetch_max_bytes as u64)
            .await;
        let mut fetched = fetched.into_iter();
        let mut regions: Vec<Slice> = Vec::new();
        let hints = std::cell::RefCell::new(LeaderHints::new(broker, listener));
        let responses = r
            .topics
            .iter()
            .enumerate()
            .map(|(i, topic)| FetchableTopicResponse {
                topic: topic.topic.clone(),
                topic_id: topic.topic_id,
                partitions: topic
                    .partitions
                    .iter()
                    .map(|p| {
                        // Partitions with errors carry -1 and empty records, as Kafka answers
                        // (`FetchResponse.partitionResponse`: librdkafka rejects null records at v12+).
                        let failed = |code: ErrorCode| {
                            broker.metrics.error(ApiKey::Fetch, code);
                            let current_leader = topic_name(i)
                                .map(|name| hints.borrow_mut().hint(name, p.partition, code))
                                .unwrap_or_default();
                            PartitionData {
                                partition_index: p.partition,
                                error_code: code.code(),
                                high_watermark: -1,
                                current_leader,
                                records: Some(Records::Inline(bytes::Bytes::new())),
                                ..PartitionData::default()
                            }
                        };
                        if topic_name(i).is_none() {
                            return failed(ErrorCode::UnknownTopicId);
                        }
                        if !readable[i] {
                            return failed(ErrorCode::TopicAuthorizationFailed);
                        }
                        let f = match fetched.next() {
                            None => return failed(ErrorCode::UnknownServerError),
                            Some(f) if f.error != ErrorCode::None => return failed(f.error),
                            Some(f) => f,
                        };
                        let records = match f.records {
                            Some(slice) => {
                                let len = slice.len() as u32;
                                regions.push(slice);
                                Records::External {
                                    id: regions.len() - 1,
                                    len,
                                }
                            }
                            None => Records::Inline(bytes::Bytes::new()),
                        };
                        PartitionData {
                            partition_index: p.partition,
                            high_watermark: f.high_watermark,
                            // No transactions: the last stable offset is the high watermark.
                            last_stable_offset: f.high_watermark,
                            log_start_offset: f.log_start_offset,
                            diverging_epoch: f.diverging_epoch.map_or_else(
                                DivergingEpoch::default,
                                |(epoch, end_offset)| DivergingEpoch {
                                    epoch,
                                    end_offset,
                                    ..DivergingEpoch::default()
                                },
                            ),
                            records: Some(records),
                            ..PartitionData::default()
                        }
                    })
                    .collect(),
                ..FetchableTopicResponse::default()
            })
            .collect();
        Reply {
            body: Some(
                FetchResponse {
                    responses,
                    node_endpoints: hints.into_inner().endpoints(),
                    ..FetchResponse::default()
                }
                .into(),
            ),
            regions,
            close: false,
            refused: false,
            remote,
            deferred: None,
        }
    })
}

pub(super) fn list_offsets(broker: &Broker, request: &Request, listener: &Listener) -> Reply {
    let r = body!(request, ListOffsets);
    // Consumers (-1) see up to the high watermark (the last stable offset too, without transactions);
    // followers (>= 0) and debugging tools (-2) up to the log end, as Kafka answers them.
    let consumer = r.replica_id == -1;
    let topics = r
        .topics
        .iter()
        .map(|topic| {
            (
                topic,
                broker.authorize(listener, Operation::Describe, ResourceType::Topic, &topic.name),
            )
        })
        .map(|(topic, described)| ListOffsetsTopicResponse {
            name: topic.name.clone(),
            partitions: topic
                .partitions
                .iter()
                .map(|p| {
                    let answer = |code: ErrorCode, offset: i64, timestamp: i64, leader_epoch: i32| {
                        broker.metrics.error(ApiKey::ListOffsets, code);
                        ListOffsetsPartitionResponse {
                            partition_index: p.partition_index,
                            error_code: code.code(),
                            offset,
                            timestamp,
                            leader_epoch,
                            ..ListOffsetsPartitionResponse::default()
                        }
                    };
                    if !described {
                        return answer(ErrorCode::TopicAuthorizationFailed, -1, -1, -1);
                    }
                    let partition = match broker.replicas.partition(&topic.name, p.partition_index) {
                        Ok(partition) => partition,
                        Err(code) => return answer(code, -1, -1, -1),
                    };
                    if let Err(code) = partition.check_epoch(p.current_leader_epoch) {
                        return answer(code, -1, -1, -1);
                    }
                    let log = partition.log();
                    let last_fetchable = if consumer {
                        partition.high_watermark()
                    } else {
                        log.log_end_offset()
                    };
                    // A lookup that finds a record at or past what the asker may read finds nothing.
                    let found = |lookup: Result<Option<(i64, i64)>, storage::Error>| match lookup {
                        Ok(Some((offset, ts))) if offset < last_fetchable => {
                            answer(ErrorCode::None, offset, ts, partition.epoch_of_offset(offset))
                        }
                        Ok(_) => answer(ErrorCode::None, -1, -1, -1),
                        Err(e) => answer(storage_error_code(&e), -1, -1, -1),
                    };
                    match p.timestamp {
                        LATEST => answer(ErrorCode::None, last_fetchable, -1, partition.leader_epoch()),
                        // Without tiered storage the local log is the whole log.
                        EARLIEST | EARLIEST_LOCAL => {
                            let start = log.log_start_offset();
                            answer(ErrorCode::None, start, -1, partition.epoch_of_offset(start))
                        }
                        MAX_TIMESTAMP => found(log.offset_of_max_timestamp()),
                        // Nothing is tiered: Kafka answers -1 when remote storage is off.
                        LATEST_TIERED => answer(ErrorCode::None, -1, -1, -1),
                        t if t >= 0 => found(log.offset_for_timestamp(t)),
                        _ => answer(ErrorCode::InvalidRequest, -1, -1, -1),
                    }
                })
                .collect(),
            ..ListOffsetsTopicResponse::default()
        })
        .collect();
    Reply::body(ListOffsetsResponse {
        topics,
        ..ListOffsetsResponse::default()
    })
}

/// ListOffsets' special timestamps (`ListOffsetsRequest.java`).
const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;

pub(super) fn offset_for_leader_epoch(broker: &Broker, request: &Request, listener: &Listener) -> Reply {
    let r = body!(request, OffsetForLeaderEpoch);
    // Kafka: CLUSTER_ACTION on the cluster (asked quietly), else DESCRIBE on each topic, whoever asks.
    let cluster_action = broker.authorize_quietly(
        listener,
        Operation::ClusterAction,
        ResourceType::Cluster,
        security::acl::CLUSTER_NAME,
    );
    let topics = r
        .topics
        .iter()
        .map(|topic| {
            let refused = if !cluster_action
                && !broker.authorize(listener, Operation::Describe, ResourceType::Topic, &topic.topic)
            {
                Some(ErrorCode::TopicAuthorizationFailed)
            } else {
                None
            };
            (topic, refused)
        })
        .map(|(topic, refused)| OffsetForLeaderTopicResult {
            topic: topic.topic.clone(),
            partitions: topic
                .partitions
                .iter()
                .map(|p| {
                    let result = refused
                        .map_or(Ok(()), Err)
                        .and_then(|()| broker.replicas.partition(&topic.topic, p.partition))
                        .and_then(|partition| {
                            partition.check_epoch(p.current_leader_epoch)?;
                            Ok(partition.end_offset_for_epoch(p.leader_epoch))
                        });
                    match result {
                        Ok((leader_epoch, end_offset)) => EpochEndOffset {
                            partition: p.partition,
                            leader_epoch,
                            end_offset,
                            ..EpochEndOffset::default()
                        },
                        Err(code) => {
                            broker.metrics.error(ApiKey::OffsetForLeaderEpoch, code);
                            EpochEndOffset {
                                error_code: code.code(),
                                partition: p.partition,
                                ..EpochEndOffset::default()
                            }
                        }
                    }
                })
                .collect(),
            ..OffsetForLeaderTopicResult::default()
        })
        .collect();
    Reply::body(OffsetForLeaderEpochResponse {
        topics,
        ..OffsetForLeaderEpochResponse::default()
    })
}
