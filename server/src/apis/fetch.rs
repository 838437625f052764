//! Fetch and ListOffsets.
//!
//! Fetch is the zero-copy path: each partition's records are a file region from the storage crate, put in
//! the response as `Records::External`, and written by the transfer crate with `sendfile`; the record
//! bytes never enter the broker. Reading, the KIP-74 byte limits and waiting for `min_bytes` are the
//! `ReplicaManager`'s (`fetch_messages`), which honours a follower's fields (replica id, leader epoch).

use std::time::Duration;

use protocol::{
    ApiKey, ErrorCode, FetchResponse, FetchableTopicResponse, ListOffsetsPartitionResponse, ListOffsetsResponse,
    ListOffsetsTopicResponse, PartitionData, Records, Request,
};
use storage::Slice;

use super::{body, Pending};
use crate::broker::{Broker, Listener, Reply};
use crate::error::storage_error_code;
use crate::replica_manager::{FetchParams, FetchPartitionParams};

pub(super) fn fetch<'a>(broker: &'a Broker, request: &'a Request, _: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, Fetch);
        let mut params = FetchParams {
            replica_id: r.replica_id,
            max_wait: Duration::from_millis(r.max_wait_ms.max(0) as u64),
            min_bytes: r.min_bytes,
            max_bytes: r.max_bytes,
            isolation_level: r.isolation_level,
            partitions: Vec::with_capacity(r.topics.iter().map(|t| t.partitions.len()).sum()),
        };
        for t in &r.topics {
            for p in &t.partitions {
                params.partitions.push(FetchPartitionParams {
                    topic: &t.topic,
                    partition: p.partition,
                    fetch_offset: p.fetch_offset,
                    current_leader_epoch: p.current_leader_epoch,
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
        let responses = r
            .topics
            .iter()
            .map(|topic| FetchableTopicResponse {
                topic: topic.topic.clone(),
                partitions: topic
                    .partitions
                    .iter()
                    .map(|p| {
                        // Partitions with errors carry -1 and null records, as Kafka answers.
                        let failed = |code: ErrorCode| PartitionData {
                            partition_index: p.partition,
                            error_code: code.code(),
                            high_watermark: -1,
                            records: None,
                            ..PartitionData::default()
                        };
                        let f = match fetched.next() {
                            None => return failed(ErrorCode::UnknownServerError),
                            Some(f) if f.error != ErrorCode::None => {
                                broker.metrics.error(ApiKey::Fetch, f.error);
                                return failed(f.error);
                            }
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
                    ..FetchResponse::default()
                }
                .into(),
            ),
            regions,
            close: false,
            refused: false,
            remote,
        }
    })
}

pub(super) fn list_offsets(broker: &Broker, request: &Request, _: &Listener) -> Reply {
    let r = body!(request, ListOffsets);
    let topics = r
        .topics
        .iter()
        .map(|topic| ListOffsetsTopicResponse {
            name: topic.name.clone(),
            partitions: topic
                .partitions
                .iter()
                .map(|p| {
                    let answer = |code: ErrorCode, offset: i64, timestamp: i64| {
                        broker.metrics.error(ApiKey::ListOffsets, code);
                        ListOffsetsPartitionResponse {
                            partition_index: p.partition_index,
                            error_code: code.code(),
                            offset,
                            timestamp,
                            ..ListOffsetsPartitionResponse::default()
                        }
                    };
                    let partition = match broker.replicas.partition(&topic.name, p.partition_index) {
                        Ok(partition) => partition,
                        Err(code) => return answer(code, -1, -1),
                    };
                    let log = partition.log();
                    match p.timestamp {
                        // Latest: the high watermark (also the last stable offset without transactions).
                        -1 => answer(ErrorCode::None, partition.high_watermark(), -1),
                        -2 => answer(ErrorCode::None, log.log_start_offset(), -1),
                        t if t >= 0 => match log.offset_for_timestamp(t) {
                            Ok(Some((offset, _))) if offset >= partition.high_watermark() => {
                                answer(ErrorCode::None, -1, -1)
                            }
                            Ok(Some((offset, ts))) => answer(ErrorCode::None, offset, ts),
                            Ok(None) => answer(ErrorCode::None, -1, -1),
                            Err(e) => answer(storage_error_code(&e), -1, -1),
                        },
                        // -3 (max timestamp) and below exist only in versions we do not implement.
                        _ => answer(ErrorCode::InvalidRequest, -1, -1),
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
