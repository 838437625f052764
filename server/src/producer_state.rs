//! Idempotent producers (KIP-98): the sequence rules of one partition.
//!
//! Per producer id the partition keeps the epoch and the last five batches' sequence ranges. A retried
//! batch (the same sequence range) is acknowledged with its original offset and not appended again; a gap
//! is `OUT_OF_ORDER_SEQUENCE_NUMBER`; an older epoch is `INVALID_PRODUCER_EPOCH`; a new epoch must start
//! at sequence 0. A producer this partition has never seen is accepted at whatever sequence it carries and
//! tracked from there (its earlier batches may have been deleted by retention).
//!
//! The state lives in memory. After a restart it is rebuilt from the batch headers of the last
//! [`REBUILD_BYTES`] of the partition's log (where Kafka reads snapshots), so a batch retried across a
//! restart is still a duplicate. Pure code: no I/O, no locks; the `Partition` owns one of these.

use std::collections::{HashMap, VecDeque};

use protocol::ErrorCode;

/// How many batches per producer are remembered for duplicate detection (Kafka's five in-flight requests).
pub(crate) const REMEMBERED_BATCHES: usize = 5;
/// How much of a partition's log is scanned (batch headers only) to rebuild producer state after a start.
pub(crate) const REBUILD_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SentBatch {
    first_seq: i32,
    last_seq: i32,
    base_offset: i64,
}

#[derive(Debug)]
struct ProducerEntry {
    epoch: i16,
    /// The largest timestamp of its last batch (DescribeProducers' `LastTimestamp`).
    last_timestamp: i64,
    /// INVARIANT: at most `REMEMBERED_BATCHES`, oldest first, all of `epoch`.
    batches: VecDeque<SentBatch>,
}

/// What the sequence check decided for a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sequence {
    /// Append it, then [`ProducerStates::record`] it.
    Append,
    /// Already appended at this base offset: acknowledge without appending.
    Duplicate(i64),
}

/// The producer ids of one partition and their recent batches.
#[derive(Debug, Default)]
pub(crate) struct ProducerStates {
    producers: HashMap<i64, ProducerEntry>,
}

/// The last sequence of a batch starting at `first` with `last_offset_delta` (sequences wrap at `i32::MAX`).
pub(crate) fn last_sequence(first: i32, last_offset_delta: i32) -> i32 {
    first.wrapping_add(last_offset_delta).max(0)
}

impl ProducerStates {
    /// Rebuilds the state from the producer fields of the log's last batches, oldest first.
    pub(crate) fn rebuild(batches: impl IntoIterator<Item = storage::ProducerBatch>) -> ProducerStates {
        let mut states = ProducerStates::default();
        for b in batches {
            let last = last_sequence(b.base_sequence, b.last_offset_delta);
            let entry = states.producers.entry(b.producer_id).or_insert(ProducerEntry {
                epoch: b.producer_epoch,
                last_timestamp: -1,
                batches: VecDeque::new(),
            });
            // A batch of an older epoch than one already seen is history; skip it.
            if b.producer_epoch >= entry.epoch {
                states.record(
                    b.producer_id,
                    b.producer_epoch,
                    b.base_sequence,
                    last,
                    b.base_offset,
                    b.max_timestamp,
                );
            }
        }
        states
    }

    /// Checks a batch of producer `pid` at `epoch` with sequences `first..=last`.
    pub(crate) fn check(&self, pid: i64, epoch: i16, first: i32, last: i32) -> Result<Sequence, ErrorCode> {
        let Some(entry) = self.producers.get(&pid) else {
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

    /// Every producer: (id, epoch, last sequence, last timestamp), by id (DescribeProducers).
    pub(crate) fn describe(&self) -> Vec<(i64, i16, i32, i64)> {
        let mut v: Vec<_> = self
            .producers
            .iter()
            .map(|(pid, e)| {
                let last_seq = e.batches.back().map_or(-1, |b| b.last_seq);
                (*pid, e.epoch, last_seq, e.last_timestamp)
            })
            .collect();
        v.sort_unstable();
        v
    }

    /// Remembers an appended batch whose largest timestamp is `timestamp` (a new epoch forgets the old
    /// epoch's batches).
    pub(crate) fn record(&mut self, pid: i64, epoch: i16, first: i32, last: i32, base_offset: i64, timestamp: i64) {
        let entry = self.producers.entry(pid).or_insert(ProducerEntry {
            epoch,
            last_timestamp: timestamp,
            batches: VecDeque::new(),
        });
        entry.last_timestamp = timestamp;
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
            base_offset,
        });
    }
}

#[cfg(test)]
mod tests;
