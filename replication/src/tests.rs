//! The leader, ISR, epoch-cache and follower rules over hand-made and random event sequences.

use crate::{
    check_leader_epoch, diverging_epoch, AckOutcome, EpochCheck, EpochEndOffset, EpochEntry, EpochHistory, EpochLookup,
    FetchPosition, FetchResponse, Follower, FollowerAction, IsrProposal, LeaderAction, LeaderConfig, LeaderEvent,
    LeaderState, NewLeader, NotAReplica, NotEnoughReplicas,
};

#[test]
fn a_single_replica_commits_every_append() {
    let mut l = leader(&[0], &[0], 1);
    assert_eq!(l.high_watermark(), 0);
    assert_eq!(append(&mut l, 5, 1_000), vec![LeaderAction::HighWatermark(5)]);
    assert_eq!(append(&mut l, 5, 1_000), vec![]);
    assert_eq!(l.acks_all_complete(5), Some(AckOutcome::Ok));
    assert_eq!(l.acks_all_complete(6), None);
    // Leading an existing log alone: everything in it is committed.
    let init = NewLeader {
        local: 3,
        replicas: Vec::new(),
        isr: Vec::new(),
        leader_epoch: 0,
        partition_epoch: 0,
        log_end_offset: 42,
        high_watermark: 0,
        now_ms: 0,
    };
    assert_eq!(LeaderState::new(init, LeaderConfig::default()).high_watermark(), 42);
}

#[test]
fn the_high_watermark_waits_for_the_slowest_replica_and_never_goes_back() {
    let mut l = leader(&[0, 1, 2], &[0, 1, 2], 1);
    assert_eq!(append(&mut l, 10, 1_000), vec![]);
    assert_eq!(l.follower_fetch(1, 10, 1_000), Ok(vec![]));
    assert_eq!(l.follower_fetch(2, 4, 1_000), Ok(vec![LeaderAction::HighWatermark(4)]));
    assert_eq!(
        l.follower_fetch(2, 10, 1_000),
        Ok(vec![LeaderAction::HighWatermark(10)])
    );
    // A follower that truncated and fetches from lower down does not pull the high watermark back.
    assert_eq!(l.follower_fetch(1, 3, 1_000), Ok(vec![]));
    assert_eq!(l.high_watermark(), 10);
}

#[test]
fn fetches_from_brokers_that_are_not_followers_are_refused() {
    let mut l = leader(&[0, 1], &[0, 1], 1);
    assert_eq!(l.follower_fetch(7, 1, 1_000), Err(NotAReplica { replica: 7 }));
    assert_eq!(l.follower_fetch(0, 1, 1_000), Err(NotAReplica { replica: 0 }));
    assert!(l.is_follower(1) && !l.is_follower(0) && !l.is_follower(7));
    assert_eq!(l.replicas(), &[0, 1]);
}

#[test]
fn epochs_are_checked_as_kafka_does() {
    assert_eq!(check_leader_epoch(3, -1), EpochCheck::Ok);
    assert_eq!(check_leader_epoch(3, 3), EpochCheck::Ok);
    assert_eq!(check_leader_epoch(3, 2), EpochCheck::Fenced);
    assert_eq!(check_leader_epoch(3, 4), EpochCheck::Unknown);
}

/// Random interleavings of appends and follower fetches (each follower fetching at most what the leader
/// has): the high watermark is always the minimum of what every replica is known to hold, at most the
/// leader's log end, and never decreases. A failing seed is printed; rerun one with
/// `KZERO_SEED=<seed> cargo test -p replication`.
#[test]
fn random_schedules_keep_the_high_watermark_rules() {
    let seeds: Vec<u64> = match std::env::var("KZERO_SEED") {
        Ok(s) => vec![s.parse().expect("KZERO_SEED is a number")],
        Err(_) => (1..=500).collect(),
    };
    for seed in seeds {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let followers = 1 + next(3) as i32;
        let ids: Vec<i32> = (0..=followers).collect();
        let mut l = leader(&ids, &ids, 1);
        let mut leo = 0i64;
        let mut held = vec![0i64; ids.len()];
        let mut last_hw = 0;
        for step in 0..200 {
            if next(2) == 0 {
                leo += 1 + next(5) as i64;
                held[0] = leo;
                append(&mut l, leo, 1_000);
            } else {
                let f = 1 + next(followers as u64) as usize;
                let offset = next(leo as u64 + 1) as i64;
                held[f] = offset;
                l.follower_fetch(f as i32, offset, 1_000).unwrap();
            }
            let hw = l.high_watermark();
            let context = format!("seed {seed} step {step}: hw {hw}, held {held:?}");
            assert!(hw >= last_hw, "the high watermark went back; {context}");
            assert!(hw <= leo, "the high watermark passed the log end; {context}");
            let min_held = *held.iter().min().unwrap();
            assert_eq!(hw, last_hw.max(min_held), "not the minimum held; {context}");
            last_hw = hw;
        }
    }
}

fn leader(replicas: &[i32], isr: &[i32], min_isr: usize) -> LeaderState {
    let init = NewLeader {
        local: 0,
        replicas: replicas.to_vec(),
        isr: isr.to_vec(),
        leader_epoch: 5,
        partition_epoch: 10,
        log_end_offset: 0,
        high_watermark: 0,
        now_ms: 1_000,
    };
    let config = LeaderConfig {
        replica_lag_time_max_ms: 100,
        min_insync_replicas: min_isr,
    };
    LeaderState::new(init, config)
}

fn append(l: &mut LeaderState, leo: i64, now_ms: u64) -> Vec<LeaderAction> {
    l.handle(LeaderEvent::LocalAppend {
        log_end_offset: leo,
        now_ms,
    })
}

#[test]
fn a_lagging_follower_is_shrunk_and_a_caught_up_one_is_added_back() {
    let mut l = leader(&[0, 1, 2], &[0, 1, 2], 1);
    append(&mut l, 10, 1_000);
    assert_eq!(l.follower_fetch(1, 10, 1_010), Ok(vec![]));
    assert_eq!(l.follower_fetch(2, 4, 1_010), Ok(vec![LeaderAction::HighWatermark(4)]));
    // Follower 2 stays behind for longer than the lag time: the tick proposes dropping it.
    assert_eq!(l.follower_fetch(1, 10, 1_150), Ok(vec![]));
    let proposal = IsrProposal {
        id: 0,
        leader_epoch: 5,
        partition_epoch: 10,
        isr: vec![0, 1],
    };
    assert_eq!(
        l.handle(LeaderEvent::Tick { now_ms: 1_150 }),
        vec![LeaderAction::ProposeIsr(proposal)]
    );
    // Still in the maximal ISR until the controller commits: the high watermark waits for it.
    assert_eq!(l.maximal_isr(), vec![0, 1, 2]);
    assert_eq!(l.handle(LeaderEvent::Tick { now_ms: 1_200 }), vec![]);
    let committed = LeaderEvent::IsrCommitted {
        isr: vec![0, 1],
        partition_epoch: 11,
        now_ms: 1_200,
    };
    assert_eq!(l.handle(committed.clone()), vec![LeaderAction::HighWatermark(10)]);
    assert_eq!(l.handle(committed), vec![], "an old partition epoch is ignored");
    // Follower 2 catches up to the high watermark: proposed back, and counted while the proposal is in flight.
    append(&mut l, 12, 1_300);
    let actions = l.follower_fetch(2, 10, 1_300).unwrap();
    assert!(matches!(&actions[..], [LeaderAction::ProposeIsr(p)] if p.isr == [0, 1, 2] && p.id == 1));
    assert_eq!(
        l.follower_fetch(1, 12, 1_300),
        Ok(vec![]),
        "2 holds the high watermark back"
    );
    // Rejected (INELIGIBLE_REPLICA): back to the committed ISR; a stale rejection changes nothing.
    assert_eq!(
        l.handle(LeaderEvent::IsrRejected {
            proposal_id: 0,
            now_ms: 1_300
        }),
        vec![]
    );
    assert_eq!(
        l.handle(LeaderEvent::IsrRejected {
            proposal_id: 1,
            now_ms: 1_300
        }),
        vec![LeaderAction::HighWatermark(12)]
    );
    assert!(l.pending_proposal().is_none());
}

#[test]
fn min_insync_replicas_gates_acks_all() {
    let mut l = leader(&[0, 1, 2], &[0], 2);
    assert_eq!(
        l.check_min_isr_for_acks_all(),
        Err(NotEnoughReplicas {
            isr_size: 1,
            min_insync_replicas: 2
        })
    );
    // Below the minimum the high watermark does not move, even with the leader alone in the ISR.
    assert_eq!(append(&mut l, 3, 1_000), vec![]);
    assert_eq!(l.acks_all_complete(3), None);
    l.handle(LeaderEvent::IsrCommitted {
        isr: vec![0, 1],
        partition_epoch: 11,
        now_ms: 1_000,
    });
    assert_eq!(l.check_min_isr_for_acks_all(), Ok(()));
    assert_eq!(l.follower_fetch(1, 3, 1_000), Ok(vec![LeaderAction::HighWatermark(3)]));
    assert_eq!(l.acks_all_complete(3), Some(AckOutcome::Ok));
    // The ISR shrinks after the append: the produce completes with NOT_ENOUGH_REPLICAS_AFTER_APPEND.
    let mut l2 = l.clone();
    l2.handle(LeaderEvent::IsrCommitted {
        isr: vec![0],
        partition_epoch: 12,
        now_ms: 1_000,
    });
    assert_eq!(l2.acks_all_complete(3), Some(AckOutcome::NotEnoughReplicasAfterAppend));
    // A replication factor below min.insync.replicas caps the minimum.
    assert_eq!(leader(&[0], &[0], 3).check_min_isr_for_acks_all(), Ok(()));
}

#[test]
fn a_follower_joins_only_past_the_start_of_the_leaders_epoch() {
    let mut init_l = leader(&[0, 1], &[0], 1);
    assert_eq!(init_l.high_watermark(), 0);
    let init = NewLeader {
        local: 0,
        replicas: vec![0, 1],
        isr: vec![0],
        leader_epoch: 5,
        partition_epoch: 10,
        log_end_offset: 8,
        high_watermark: 2,
        now_ms: 1_000,
    };
    let mut l = LeaderState::new(init, LeaderConfig::default());
    assert_eq!(l.high_watermark(), 8, "a leader alone in the ISR commits its log");
    assert_eq!(l.leader_epoch_start_offset(), 8);
    assert_eq!(l.follower_fetch(1, 7, 1_000), Ok(vec![]));
    assert!(matches!(
        &l.follower_fetch(1, 8, 1_000).unwrap()[..],
        [LeaderAction::ProposeIsr(_)]
    ));
    assert_eq!(init_l.follower_fetch(3, 0, 0), Err(NotAReplica { replica: 3 }));
}

#[test]
fn the_epoch_cache_follows_kafkas_rules() {
    let mut h = EpochHistory::new();
    assert_eq!(h.end_offset_for(0, 0), None);
    assert!(h.assign(1, 0));
    assert!(!h.assign(1, 5), "the same epoch later is no change");
    assert!(h.assign(3, 10));
    assert!(h.assign(4, 20));
    assert_eq!(h.latest_epoch(), Some(4));
    let eo = |epoch, end_offset| Some(EpochEndOffset { epoch, end_offset });
    assert_eq!(h.end_offset_for(4, 25), eo(4, 25));
    assert_eq!(h.end_offset_for(3, 25), eo(3, 20));
    assert_eq!(
        h.end_offset_for(2, 25),
        eo(1, 10),
        "the largest epoch below, ended by the next one"
    );
    assert_eq!(h.end_offset_for(0, 25), eo(0, 0), "below every epoch");
    assert_eq!(h.end_offset_for(5, 25), None, "above every epoch");
    assert_eq!(h.end_offset_for(-1, 25), None);
    // A new epoch at a lower start offset removes the entries it contradicts.
    assert!(h.assign(5, 15));
    assert_eq!(
        h.entries(),
        &[
            EpochEntry {
                epoch: 1,
                start_offset: 0
            },
            EpochEntry {
                epoch: 3,
                start_offset: 10
            },
            EpochEntry {
                epoch: 5,
                start_offset: 15
            }
        ]
    );
    h.truncate_from_end(15);
    assert_eq!(h.latest_epoch(), Some(3));
    // The leader's divergence check.
    assert_eq!(diverging_epoch(&h, 15, 15, Some(3)), None);
    assert_eq!(diverging_epoch(&h, 15, 12, None), None);
    assert_eq!(diverging_epoch(&h, 15, 9, Some(1)), None);
    assert_eq!(diverging_epoch(&h, 15, 12, Some(1)), eo(1, 10));
    assert_eq!(diverging_epoch(&h, 15, 12, Some(2)), eo(1, 10));
    assert_eq!(diverging_epoch(&h, 15, 16, Some(3)), eo(3, 15));
    assert_eq!(diverging_epoch(&h, 15, 16, Some(4)), Some(EpochEndOffset::UNDEFINED));
}

#[test]
fn a_follower_appends_truncates_and_tracks_the_high_watermark() {
    // The follower's log: epoch 1 at [0, 10), epoch 2 at [10, 14) written by a deposed leader.
    let mut epochs = EpochHistory::new();
    epochs.assign(1, 0);
    epochs.assign(2, 10);
    let mut f = Follower::new(1, 0, 3, 0, 14, 8);
    let pos = f.fetch_position(&epochs);
    assert_eq!(
        pos,
        FetchPosition {
            leader: 0,
            current_leader_epoch: 3,
            fetch_offset: 14,
            last_fetched_epoch: Some(2),
            log_start_offset: 0
        }
    );
    // The leader never had epoch 2: it answers with its end of epoch 1, 12.
    let diverging = |fetch_offset, epoch, end_offset| FetchResponse::Diverging {
        leader_epoch: 3,
        fetch_offset,
        diverging: EpochEndOffset { epoch, end_offset },
    };
    assert_eq!(
        f.handle(&epochs, diverging(14, 1, 12)),
        vec![FollowerAction::Truncate { offset: 10 }]
    );
    epochs.truncate_from_end(10);
    assert_eq!(f.log_end_offset(), 10);
    // A stale answer (another fetch offset or epoch) is dropped.
    assert_eq!(f.handle(&epochs, diverging(14, 1, 12)), vec![]);
    let records = |leader_epoch, fetch_offset, next_offset, high_watermark| FetchResponse::Records {
        leader_epoch,
        fetch_offset,
        next_offset,
        high_watermark,
        log_start_offset: 2,
    };
    assert_eq!(f.handle(&epochs, records(2, 10, 12, 12)), vec![]);
    assert_eq!(
        f.handle(&epochs, records(3, 10, 12, 20)),
        vec![
            FollowerAction::Append { log_end_offset: 12 },
            FollowerAction::HighWatermark(12),
            FollowerAction::LogStartOffset(2)
        ]
    );
    // The high watermark only moves forward.
    assert_eq!(f.handle(&epochs, records(3, 12, 12, 5)), vec![]);
    assert_eq!(f.high_watermark(), 12);
    // A follower missing the leader's epoch goes back to the end of its own epoch below it.
    let mut epochs = EpochHistory::new();
    epochs.assign(1, 0);
    epochs.assign(4, 6);
    let mut g = Follower::new(2, 0, 2, 0, 9, 3);
    assert_eq!(g.handle(&epochs, diverging(9, 3, 7)), vec![]);
    assert!(g.become_follower(0, 3) && !g.become_follower(0, 3));
    assert_eq!(
        g.handle(&epochs, diverging(9, 3, 7)),
        vec![FollowerAction::Truncate { offset: 6 }]
    );
}

#[test]
fn a_refused_expansion_is_not_proposed_again_at_once() {
    // Follower 2 is out of the ISR and catches up; the controller refuses it (fenced, say).
    let mut l = leader(&[0, 1, 2], &[0, 1], 1);
    append(&mut l, 10, 1_000);
    let proposal = match l.follower_fetch(2, 10, 1_000).unwrap().as_slice() {
        [LeaderAction::ProposeIsr(p), ..] => p.clone(),
        other => panic!("no expansion proposed: {other:?}"),
    };
    assert_eq!(proposal.isr, vec![0, 1, 2]);
    l.handle(LeaderEvent::IsrRejected {
        proposal_id: proposal.id,
        now_ms: 1_100,
    });
    assert_eq!(
        l.maximal_isr(),
        vec![0, 1],
        "the refused member does not hold the high watermark"
    );
    // Its next fetches propose nothing until the backoff has passed.
    let again = |l: &mut LeaderState, now_ms| {
        l.follower_fetch(2, 10, now_ms)
            .unwrap()
            .into_iter()
            .any(|a| matches!(a, LeaderAction::ProposeIsr(_)))
    };
    assert!(!again(&mut l, 1_200));
    assert!(!again(&mut l, 1_100 + crate::EXPANSION_BACKOFF_MS - 1));
    assert!(again(&mut l, 1_100 + crate::EXPANSION_BACKOFF_MS));
}
