//! A model-based property test: random appends, reads, truncations, retention, flushes and reopens
//! (clean and unclean), checked after every step against an in-memory list of batches.

use proptest::prelude::*;
use protocol::record::{Batches, RecordBatch};
use storage::{Log, LogConfig, OpenHints};

use crate::{batch, slice_bytes};

#[derive(Debug, Clone)]
enum Op {
    Append { records: usize, value: usize },
    Read { at: u16, max_bytes: u32, bound_back: u8 },
    Truncate { at: u16 },
    Retain { keep_bytes: u16 },
    Flush,
    Reopen { clean: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1usize..8, 0usize..300).prop_map(|(records, value)| Op::Append { records, value }),
        4 => (any::<u16>(), 0u32..6000, 0u8..4).prop_map(|(at, max_bytes, bound_back)| Op::Read { at, max_bytes, bound_back }),
        1 => any::<u16>().prop_map(|at| Op::Truncate { at }),
        1 => (0u16..6000).prop_map(|keep_bytes| Op::Retain { keep_bytes }),
        1 => Just(Op::Flush),
        1 => any::<bool>().prop_map(|clean| Op::Reopen { clean }),
    ]
}

/// The model: the batches as stored (offsets assigned), and the log start offset.
#[derive(Default)]
struct Model {
    batches: Vec<(i64, i64, Vec<u8>)>,
    log_start: i64,
    end: i64,
}

impl Model {
    fn holding(&self, offset: i64) -> Option<usize> {
        self.batches.iter().position(|(_, last, _)| *last >= offset)
    }
}

fn check_read(log: &Log, model: &Model, offset: i64, max_bytes: u64, bound: i64) {
    let read = log.read(offset, max_bytes, bound);
    if offset < model.log_start || offset > model.end {
        assert!(
            matches!(read, Err(storage::Error::OffsetOutOfRange { .. })),
            "{offset} {read:?}"
        );
        return;
    }
    let read = read.unwrap();
    let first = model.holding(offset).filter(|&i| model.batches[i].1 < bound);
    let Some(first) = first else {
        assert!(read.slice.is_none(), "nothing below the bound at {offset}");
        return;
    };
    let slice = read.slice.expect("records below the bound");
    let bytes = slice_bytes(&slice);
    // Whole, consecutive model batches starting with the one holding the offset.
    let mut at = 0;
    let mut i = first;
    while at < bytes.len() {
        let expected = &model.batches[i].2;
        assert_eq!(&bytes[at..at + expected.len()], &expected[..], "batch {i} at {at}");
        assert!(model.batches[i].1 < bound, "batch {i} is at or past the bound");
        at += expected.len();
        i += 1;
    }
    let first_len = model.batches[first].2.len() as u64;
    assert!(bytes.len() as u64 <= max_bytes.max(first_len));
    // It stopped for a reason: the byte limit, the bound, the end, or the end of its segment file.
    if let Some((_, last, next)) = model.batches.get(i) {
        let fits = bytes.len() as u64 + next.len() as u64 <= max_bytes.max(first_len);
        if fits && *last < bound {
            let file_len = slice.file.metadata().unwrap().len();
            assert_eq!(
                slice.range.end, file_len,
                "a read that could go on must end at its segment's end"
            );
        }
    }
}

fn check_all(log: &Log, model: &Model) {
    assert_eq!(log.log_end_offset(), model.end);
    assert_eq!(log.log_start_offset(), model.log_start);
    // Reading everything from the start gives exactly the model's bytes.
    let mut got = Vec::new();
    let mut offset = model.log_start;
    while offset < model.end {
        let s = log.read(offset, 1 << 20, model.end).unwrap().slice.unwrap();
        let bytes = slice_bytes(&s);
        offset = Batches::new(&bytes).last().unwrap().unwrap().header().last_offset() + 1;
        got.extend_from_slice(&bytes);
    }
    let first = model.holding(model.log_start).unwrap_or(model.batches.len());
    let expected: Vec<u8> = model.batches[first..]
        .iter()
        .flat_map(|b| b.2.iter().copied())
        .collect();
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "log contents differ from the model");
}

fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 3000,
        index_interval_bytes: 512,
        ..LogConfig::default()
    };
    let (mut log, _) = Log::open(dir.path(), config.clone(), OpenHints::default()).unwrap();
    let mut model = Model::default();
    for (n, op) in ops.into_iter().enumerate() {
        match op {
            Op::Append { records, value } => {
                let b = batch(n as u64, records, value);
                let info = log.append(&b, 1).unwrap();
                assert_eq!(info.base_offset, model.end);
                let mut stored = b.to_vec();
                protocol::record::set_base_offset(&mut stored, info.base_offset);
                protocol::record::set_partition_leader_epoch(&mut stored, 1);
                model.batches.push((info.base_offset, info.last_offset, stored));
                model.end = info.last_offset + 1;
            }
            Op::Read {
                at,
                max_bytes,
                bound_back,
            } => {
                let span = (model.end - model.log_start + 2).max(1);
                let offset = model.log_start - 1 + i64::from(at) % span;
                let bound = model.end - i64::from(bound_back);
                check_read(&log, &model, offset, u64::from(max_bytes), bound);
            }
            Op::Truncate { at } => {
                if model.end > model.log_start {
                    let offset = model.log_start + i64::from(at) % (model.end - model.log_start);
                    log.truncate_to(offset).unwrap();
                    let i = model.holding(offset).unwrap();
                    model.end = model.batches[i].0;
                    model.batches.truncate(i);
                    if model.end < model.log_start {
                        model.log_start = model.end;
                    }
                }
            }
            Op::Retain { keep_bytes } => {
                let retain = LogConfig {
                    retention_bytes: i64::from(keep_bytes),
                    ..config.clone()
                };
                let (start, recovery) = (log.log_start_offset(), log.recovery_point());
                log.close().unwrap();
                drop(log);
                let hints = OpenHints {
                    clean_shutdown: true,
                    recovery_point: recovery,
                    log_start_offset: start,
                };
                let (l, _) = Log::open(dir.path(), retain, hints).unwrap();
                l.apply_retention(model.end, 0).unwrap();
                let new_start = l.log_start_offset();
                assert!(new_start >= model.log_start);
                // The new start is a batch start (whole segments go).
                assert!(new_start == model.end || model.batches.iter().any(|b| b.0 == new_start));
                model.log_start = new_start;
                let (start, recovery) = (l.log_start_offset(), l.recovery_point());
                l.close().unwrap();
                drop(l);
                let hints = OpenHints {
                    clean_shutdown: true,
                    recovery_point: recovery,
                    log_start_offset: start,
                };
                log = Log::open(dir.path(), config.clone(), hints).unwrap().0;
            }
            Op::Flush => {
                log.flush().unwrap();
                assert_eq!(log.recovery_point(), model.end);
            }
            Op::Reopen { clean } => {
                let (start, recovery) = (log.log_start_offset(), log.recovery_point());
                if clean {
                    log.close().unwrap();
                }
                drop(log);
                let hints = OpenHints {
                    clean_shutdown: clean,
                    recovery_point: recovery,
                    log_start_offset: start,
                };
                let (l, report) = Log::open(dir.path(), config.clone(), hints).unwrap();
                if clean {
                    assert!(report.recovered_segments.is_empty(), "{report:?}");
                }
                assert_eq!(report.truncated_bytes, 0);
                log = l;
            }
        }
        check_all(&log, &model);
    }
    // Every batch still has a valid CRC.
    for (_, _, bytes) in &model.batches {
        RecordBatch::parse(bytes).unwrap().0.verify_crc().unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, max_shrink_iters: 400, ..ProptestConfig::default() })]
    #[test]
    fn the_log_behaves_like_its_model(ops in proptest::collection::vec(op(), 1..60)) {
        run(ops);
    }
}
