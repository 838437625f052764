//! The producer sequence rules, one `check` helper per case.

use protocol::ErrorCode;

use super::*;

const PID: i64 = 1000;

/// A state where producer `PID` at epoch 0 appended batches of `sizes` records from sequence 0, at offsets
/// counting from 100.
fn state(sizes: &[i32]) -> ProducerStates {
    let mut s = ProducerStates::default();
    let (mut seq, mut offset) = (0, 100);
    for &n in sizes {
        s.record(PID, 0, seq, seq + n - 1, offset, 1_700_000_000_000);
        seq += n;
        offset += i64::from(n);
    }
    s
}

fn check(s: &ProducerStates, epoch: i16, first: i32, last: i32) -> Result<Sequence, ErrorCode> {
    s.check(PID, epoch, first, last)
}

#[test]
fn the_next_sequence_is_appended_and_a_gap_is_out_of_order() {
    let s = state(&[5, 5]);
    assert_eq!(check(&s, 0, 10, 14), Ok(Sequence::Append));
    assert_eq!(check(&s, 0, 11, 14), Err(ErrorCode::OutOfOrderSequenceNumber));
    assert_eq!(check(&s, 0, 20, 24), Err(ErrorCode::OutOfOrderSequenceNumber));
}

#[test]
fn a_retried_batch_gets_its_original_offset() {
    let s = state(&[5, 5, 5]);
    assert_eq!(check(&s, 0, 0, 4), Ok(Sequence::Duplicate(100)));
    assert_eq!(check(&s, 0, 5, 9), Ok(Sequence::Duplicate(105)));
    // The same start with another end is not the same batch.
    assert_eq!(check(&s, 0, 5, 8), Err(ErrorCode::OutOfOrderSequenceNumber));
}

#[test]
fn only_the_last_five_batches_are_remembered() {
    let s = state(&[1, 1, 1, 1, 1, 1]);
    assert_eq!(check(&s, 0, 0, 0), Err(ErrorCode::OutOfOrderSequenceNumber));
    assert_eq!(check(&s, 0, 1, 1), Ok(Sequence::Duplicate(101)));
    assert_eq!(check(&s, 0, 6, 6), Ok(Sequence::Append));
}

#[test]
fn epochs_fence_old_producers_and_a_new_epoch_starts_at_zero() {
    let mut s = state(&[5]);
    s.record(PID, 3, 0, 0, 200, 1_700_000_000_000);
    assert_eq!(check(&s, 2, 1, 1), Err(ErrorCode::InvalidProducerEpoch));
    assert_eq!(check(&s, 4, 0, 9), Ok(Sequence::Append));
    assert_eq!(check(&s, 4, 3, 9), Err(ErrorCode::OutOfOrderSequenceNumber));
    // The new epoch forgot the old epoch's batches.
    s.record(PID, 4, 0, 9, 300, 1_700_000_000_000);
    assert_eq!(check(&s, 4, 0, 9), Ok(Sequence::Duplicate(300)));
}

#[test]
fn an_unknown_producer_is_accepted_at_any_sequence() {
    let s = state(&[5]);
    assert_eq!(s.check(PID + 1, 7, 42, 50), Ok(Sequence::Append));
}

#[test]
fn sequences_wrap_after_i32_max() {
    let mut s = ProducerStates::default();
    let first = i32::MAX - 4;
    let last = last_sequence(first, 4);
    assert_eq!(last, i32::MAX);
    s.record(PID, 0, first, last, 10, 1_700_000_000_000);
    assert_eq!(check(&s, 0, 0, 2), Ok(Sequence::Append));
    assert_eq!(check(&s, 0, 1, 2), Err(ErrorCode::OutOfOrderSequenceNumber));
}

#[test]
fn rebuilding_from_the_log_recognises_retries_and_keeps_the_newest_epoch() {
    let batch = |epoch: i16, base_sequence: i32, n: i32, base_offset: i64| storage::ProducerBatch {
        producer_id: PID,
        producer_epoch: epoch,
        base_sequence,
        last_offset_delta: n - 1,
        base_offset,
        max_timestamp: 1_000 + base_offset,
    };
    let s = ProducerStates::rebuild([batch(0, 0, 3, 0), batch(1, 0, 2, 3), batch(1, 2, 2, 5)]);
    // DescribeProducers sees the newest epoch, its last sequence and its last batch's timestamp.
    assert_eq!(s.describe(), vec![(PID, 1, 3, 1_005)]);
    assert_eq!(check(&s, 1, 2, 3), Ok(Sequence::Duplicate(5)));
    assert_eq!(check(&s, 1, 4, 4), Ok(Sequence::Append));
    assert_eq!(check(&s, 0, 3, 3), Err(ErrorCode::InvalidProducerEpoch));
}
