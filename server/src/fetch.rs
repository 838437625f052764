//! Fetch and ListOffsets.
//!
//! Fetch is the zero-copy path: each partition's records are a file region from the storage crate, put
//! in the response as `Records::External`, and written by the transfer crate with `sendfile`; the record
//! bytes never enter the broker. Limits follow KIP-74: partitions are read in request order, the first
//! non-empty partition's first batch is returned whole even when larger than the limits, and a later
//! partition whose first batch does not fit gets empty records. When fewer than `min_bytes` are
//! available the request waits, woken by appends (not polled), until `max_wait_ms`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use protocol::{
    ErrorCode, FetchRequest, FetchResponse, FetchableTopicResponse, ListOffsetsPartitionResponse, ListOffsetsRequest,
    ListOffsetsResponse, ListOffsetsTopicResponse, PartitionData, Records,
};
use storage::Slice;
use tokio::sync::Notify;

use crate::broker::{Broker, Reply};
use crate::produce::storage_error_code;

/// Fetches waiting for data, by partition: an append wakes only the fetches that asked for its partition.
#[derive(Debug, Default)]
pub(crate) struct FetchWaiters {
    by_partition: Mutex<HashMap<(String, i32), Waiters>>,
}

/// The fetches registered on one partition.
type Waiters = Vec<Weak<Notify>>;

impl FetchWaiters {
    /// Registers `wake` on each partition (again after every wake-up, which clears the registrations).
    fn register(&self, partitions: &[(String, i32)], wake: &Arc<Notify>) {
        let mut map = self.by_partition.lock().unwrap_or_else(|p| p.into_inner());
        for key in partitions {
            let waiters = map.entry(key.clone()).or_default();
            // Drop the registrations of fetches that ended without being woken.
            waiters.retain(|w| w.strong_count() > 0 && !w.ptr_eq(&Arc::downgrade(wake)));
            waiters.push(Arc::downgrade(wake));
        }
    }

    /// Wakes the fetches waiting on a partition.
    pub(crate) fn wake(&self, topic: &str, partition: i32) {
        let mut map = self.by_partition.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(waiters) = map.get_mut(&(topic.to_string(), partition)) {
            for w in waiters.drain(..) {
                if let Some(n) = w.upgrade() {
                    n.notify_one();
                }
            }
        }
    }

    /// Forgets a deleted partition.
    pub(crate) fn forget(&self, topic: &str, partition: i32) {
        self.by_partition
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(topic.to_string(), partition));
    }
}

impl Broker {
    pub(crate) async fn fetch(&self, r: &FetchRequest, version: i16) -> Reply {
        let deadline = Instant::now() + Duration::from_millis(r.max_wait_ms.max(0) as u64);
        let partitions: Vec<(String, i32)> = r
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| (t.topic.clone(), p.partition)))
            .collect();
        let wake = Arc::new(Notify::new());
        loop {
            // Register before reading: an append in between leaves a permit in `wake`, so it is not missed.
            self.fetch_waiters.register(&partitions, &wake);
            let (reply, bytes, errors) = self.fetch_once(r, version);
            let min_bytes = i64::from(r.min_bytes).min(i64::from(r.max_bytes)).max(0) as u64;
            if bytes >= min_bytes || errors || r.topics.is_empty() || Instant::now() >= deadline {
                return reply;
            }
            tokio::select! {
                () = wake.notified() => self.metrics.fetch_woken(),
                () = tokio::time::sleep_until(deadline.into()) => return self.fetch_once(r, version).0,
            }
        }
    }

    /// One pass over the requested partitions: the reply, the record bytes in it, and whether any
    /// partition had an error.
    fn fetch_once(&self, r: &FetchRequest, _version: i16) -> (Reply, u64, bool) {
        let mut regions: Vec<Slice> = Vec::new();
        let response_limit = (r.max_bytes.max(0) as u64).min(self.config.fetch_max_bytes as u64);
        let mut remaining = response_limit;
        let mut total = 0u64;
        let mut any_error = false;
        let responses = r
            .topics
            .iter()
            .map(|topic| FetchableTopicResponse {
                topic: topic.topic.clone(),
                partitions: topic
                    .partitions
                    .iter()
                    .map(|p| {
                        let error = |code: ErrorCode| PartitionData {
                            partition_index: p.partition,
                            error_code: code.code(),
                            high_watermark: -1,
                            records: None,
                            ..PartitionData::default()
                        };
                        let Some(log) = self.log(&topic.topic, p.partition) else {
                            any_error = true;
                            return error(ErrorCode::UnknownTopicOrPartition);
                        };
                        // One broker: every append is committed, the high watermark is the log end.
                        let high_watermark = log.log_end_offset();
                        let limit = (p.partition_max_bytes.max(0) as u64).min(remaining);
                        let first_partition = regions.is_empty();
                        let records = if limit == 0 && !first_partition {
                            Records::Inline(bytes::Bytes::new())
                        } else {
                            match log.read(p.fetch_offset, limit, high_watermark) {
                                Ok(read) => match read.slice {
                                    Some(slice) if first_partition || slice.len() <= limit => {
                                        let len = slice.len();
                                        remaining = remaining.saturating_sub(len);
                                        total += len;
                                        regions.push(slice);
                                        Records::External {
                                            id: regions.len() - 1,
                                            len: len as u32,
                                        }
                                    }
                                    _ => Records::Inline(bytes::Bytes::new()),
                                },
                                Err(e) => {
                                    any_error = true;
                                    return error(storage_error_code(&e));
                                }
                            }
                        };
                        PartitionData {
                            partition_index: p.partition,
                            high_watermark,
                            last_stable_offset: high_watermark,
                            log_start_offset: log.log_start_offset(),
                            records: Some(records),
                            ..PartitionData::default()
                        }
                    })
                    .collect(),
                ..FetchableTopicResponse::default()
            })
            .collect();
        let body = FetchResponse {
            responses,
            ..FetchResponse::default()
        };
        (
            Reply {
                body: Some(body.into()),
                regions,
                close: false,
            },
            total,
            any_error,
        )
    }

    pub(crate) fn list_offsets(&self, r: &ListOffsetsRequest) -> ListOffsetsResponse {
        let topics = r
            .topics
            .iter()
            .map(|topic| ListOffsetsTopicResponse {
                name: topic.name.clone(),
                partitions: topic
                    .partitions
                    .iter()
                    .map(|p| {
                        let answer = |code: ErrorCode, offset: i64, timestamp: i64| ListOffsetsPartitionResponse {
                            partition_index: p.partition_index,
                            error_code: code.code(),
                            offset,
                            timestamp,
                            ..ListOffsetsPartitionResponse::default()
                        };
                        let Some(log) = self.log(&topic.name, p.partition_index) else {
                            return answer(ErrorCode::UnknownTopicOrPartition, -1, -1);
                        };
                        match p.timestamp {
                            -1 => answer(ErrorCode::None, log.log_end_offset(), -1),
                            -2 => answer(ErrorCode::None, log.log_start_offset(), -1),
                            t if t >= 0 => match log.offset_for_timestamp(t) {
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
        ListOffsetsResponse {
            topics,
            ..ListOffsetsResponse::default()
        }
    }
}
