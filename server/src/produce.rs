//! Produce: validation per partition, idempotent-producer sequence checks, appends.
//!
//! Every batch is checked (size, CRC, magic 2, `message_max_bytes`, client rules) by the storage crate
//! before anything is written; a bad batch is answered with its error code and never affects the other
//! partitions of the request.
//!
//! Idempotence (KIP-98): per partition and producer id the broker keeps the epoch and the last five
//! batches' sequence ranges. A retried batch (same sequence range) is acknowledged with its original offset
//! and not appended again; a gap is `OUT_OF_ORDER_SEQUENCE_NUMBER`; an older epoch is
//! `INVALID_PRODUCER_EPOCH`. Producer state lives in memory; after a restart it is rebuilt from the batch
//! headers of the last 64 MiB of each partition's log on the partition's first idempotent produce (where
//! Kafka reads snapshots), so a batch retried across a restart is still a duplicate. A producer seen in none
//! of those batches is accepted at whatever sequence it carries and tracked from there.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use protocol::record::{BatchHeader, Compression};
use protocol::{ErrorCode, PartitionProduceResponse, ProduceRequest, ProduceResponse, Records, TopicProduceResponse};

use crate::broker::{Broker, Reply};

const REMEMBERED_BATCHES: usize = 5;
/// How much of a partition's log is scanned (batch headers only) to rebuild producer state after a start.
const REBUILD_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone, Copy)]
struct SentBatch {
    first_seq: i32,
    last_seq: i32,
    base_offset: i64,
}

#[derive(Debug)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<SentBatch>,
}

/// The producers of one partition, by producer id.
type PartitionProducers = Arc<Mutex<HashMap<i64, ProducerEntry>>>;

/// Producer sequence state per partition.
#[derive(Debug, Default)]
pub(crate) struct ProducerStates {
    partitions: Mutex<HashMap<(String, i32), PartitionProducers>>,
}

impl ProducerStates {
    /// The producers of a partition. The first time a partition is used since the broker started, its state
    /// is rebuilt from the batch headers of the last `REBUILD_BYTES` of its log, so that a batch retried
    /// across a broker restart is still recognised as a duplicate.
    fn partition(&self, topic: &str, partition: i32, log: &storage::Log) -> PartitionProducers {
        let mut map = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = map.get(&(topic.to_string(), partition)) {
            return Arc::clone(p);
        }
        let mut producers: HashMap<i64, ProducerEntry> = HashMap::new();
        match log.producer_batches(REBUILD_BYTES) {
            Ok(batches) => {
                for b in batches {
                    let entry = producers.entry(b.producer_id).or_insert(ProducerEntry {
                        epoch: b.producer_epoch,
                        batches: VecDeque::new(),
                    });
                    if b.producer_epoch > entry.epoch {
                        entry.epoch = b.producer_epoch;
                        entry.batches.clear();
                    }
                    if b.producer_epoch == entry.epoch {
                        if entry.batches.len() == REMEMBERED_BATCHES {
                            entry.batches.pop_front();
                        }
                        entry.batches.push_back(SentBatch {
                            first_seq: b.base_sequence,
                            last_seq: b.base_sequence.wrapping_add(b.last_offset_delta).max(0),
                            base_offset: b.base_offset,
                        });
                    }
                }
            }
            Err(e) => tracing::warn!(topic, partition, error = %e, "cannot rebuild producer state from the log"),
        }
        let state = Arc::new(Mutex::new(producers));
        map.insert((topic.to_string(), partition), Arc::clone(&state));
        state
    }

    /// Drops the state of a deleted partition.
    pub(crate) fn forget(&self, topic: &str, partition: i32) {
        self.partitions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(topic.to_string(), partition));
    }
}

/// What the sequence check decided.
enum Sequence {
    /// Append, then remember the batch.
    Append,
    /// Already appended at this offset.
    Duplicate(i64),
}

fn check_sequence(entry: Option<&ProducerEntry>, epoch: i16, first: i32, last: i32) -> Result<Sequence, ErrorCode> {
    let Some(entry) = entry else {
        return Ok(Sequence::Append);
    };
    if epoch < entry.epoch {
        return Err(ErrorCode::InvalidProducerEpoch);
    }
    if epoch > entry.epoch {
        return if first == 0 {
            Ok(Sequence::Append)
        } else {
            Err(ErrorCode::OutOfOrderSequenceNumber)
        };
    }
    if let Some(b) = entry
        .batches
        .iter()
        .find(|b| b.first_seq == first && b.last_seq == last)
    {
        return Ok(Sequence::Duplicate(b.base_offset));
    }
    let expected = entry
        .batches
        .back()
        .map_or(0, |b| if b.last_seq == i32::MAX { 0 } else { b.last_seq + 1 });
    if first == expected {
        Ok(Sequence::Append)
    } else {
        Err(ErrorCode::OutOfOrderSequenceNumber)
    }
}

pub(crate) fn storage_error_code(e: &storage::Error) -> ErrorCode {
    match e {
        storage::Error::InvalidBatch(b) => b.error_code(),
        storage::Error::InvalidRecord { .. } => ErrorCode::InvalidRecord,
        storage::Error::MessageTooLarge { .. } => ErrorCode::MessageTooLarge,
        storage::Error::RecordListTooLarge { .. } => ErrorCode::RecordListTooLarge,
        storage::Error::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
        storage::Error::Io { .. } | storage::Error::Corrupt { .. } => ErrorCode::KafkaStorageError,
        storage::Error::Closed { .. } => ErrorCode::NotLeaderOrFollower,
        _ => ErrorCode::UnknownServerError,
    }
}

impl Broker {
    pub(crate) fn produce(&self, r: &ProduceRequest, version: i16) -> Reply {
        let acks_ok = (-1..=1).contains(&r.acks);
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
                        let (code, base, start) = if !acks_ok {
                            (ErrorCode::InvalidRequiredAcks, -1, -1)
                        } else if r.transactional_id.is_some() {
                            (ErrorCode::InvalidTxnState, -1, -1)
                        } else {
                            match self.append(&topic.name, p.index, p.records.as_ref(), version) {
                                Ok((base, start)) => (ErrorCode::None, base, start),
                                Err(code) => (code, -1, -1),
                            }
                        };
                        if code != ErrorCode::None {
                            failed = true;
                            tracing::debug!(topic = %topic.name, partition = p.index, error = %code, "produce rejected");
                        }
                        PartitionProduceResponse {
                            index: p.index,
                            error_code: code.code(),
                            base_offset: base,
                            log_start_offset: start,
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
            };
        }
        Reply::body(ProduceResponse {
            responses,
            ..ProduceResponse::default()
        })
    }

    /// Appends one partition's batch; returns (base offset, log start offset) or the error code.
    fn append(
        &self,
        topic: &str,
        partition: i32,
        records: Option<&Records>,
        version: i16,
    ) -> Result<(i64, i64), ErrorCode> {
        let log = self.log(topic, partition).ok_or(ErrorCode::UnknownTopicOrPartition)?;
        let Some(Records::Inline(bytes)) = records else {
            return Err(ErrorCode::InvalidRecord);
        };
        let header = BatchHeader::parse(bytes).map_err(|e| match e {
            protocol::record::BatchError::UnsupportedMagic { .. } => ErrorCode::InvalidRecord,
            other => other.error_code(),
        })?;
        if header.compression() == Ok(Compression::Zstd) && version < 7 {
            return Err(ErrorCode::UnsupportedCompressionType);
        }
        let append = |bytes: &[u8]| -> Result<storage::AppendInfo, ErrorCode> {
            let result = if self.config.log.flush_messages < i64::MAX && crate::can_block_in_place() {
                tokio::task::block_in_place(|| log.append(bytes, 0))
            } else {
                log.append(bytes, 0)
            };
            result.map_err(|e| {
                let code = storage_error_code(&e);
                if code == ErrorCode::KafkaStorageError {
                    tracing::error!(topic, partition, error = %e, "append failed");
                }
                code
            })
        };
        let info = if header.producer_id() >= 0 {
            let (pid, epoch, first) = (header.producer_id(), header.producer_epoch(), header.base_sequence());
            let last = first.wrapping_add(header.last_offset_delta()).max(0);
            let state = self.producers.partition(topic, partition, &log);
            let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
            match check_sequence(state.get(&pid), epoch, first, last)? {
                Sequence::Duplicate(base) => return Ok((base, log.log_start_offset())),
                Sequence::Append => {
                    let info = append(bytes)?;
                    let entry = state.entry(pid).or_insert(ProducerEntry {
                        epoch,
                        batches: VecDeque::new(),
                    });
                    if entry.epoch != epoch {
                        entry.epoch = epoch;
                        entry.batches.clear();
                    }
                    if entry.batches.len() == REMEMBERED_BATCHES {
                        entry.batches.pop_front();
                    }
                    entry.batches.push_back(SentBatch {
                        first_seq: first,
                        last_seq: last,
                        base_offset: info.base_offset,
                    });
                    info
                }
            }
        } else {
            append(bytes)?
        };
        self.metrics.bytes_in(bytes.len() as u64);
        self.fetch_waiters.wake(topic, partition);
        Ok((info.base_offset, info.log_start_offset))
    }
}
