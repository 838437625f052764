//! The assignors on fixed cases (balance, stickiness, heterogeneous subscriptions, co-partitioning, static
//! ordering, unknown topics) and on random groups (seeded; `KZERO_SEED=<n>` replays one).

use std::collections::{BTreeMap, BTreeSet};

use super::*;

fn tid(n: u8) -> TopicId {
    TopicId([n; 16])
}

/// A member for the tests: id, instance id, subscribed topics, current target.
struct M {
    id: String,
    instance: Option<String>,
    subscribed: BTreeSet<TopicId>,
    current: Assignment,
}

fn m(id: &str, topics: &[u8]) -> M {
    M {
        id: id.to_string(),
        instance: None,
        subscribed: topics.iter().map(|t| tid(*t)).collect(),
        current: Assignment::new(),
    }
}

fn run(assignor: Assignor, members: &[M], topics: &[(u8, i32)]) -> BTreeMap<String, Assignment> {
    let specs: Vec<MemberSpec<'_>> = members
        .iter()
        .map(|m| MemberSpec {
            member_id: &m.id,
            instance_id: m.instance.as_deref(),
            subscribed: &m.subscribed,
            current: &m.current,
        })
        .collect();
    let topics: BTreeMap<TopicId, i32> = topics.iter().map(|(t, n)| (tid(*t), *n)).collect();
    assignor.assign(&specs, &topics)
}

fn count(a: &Assignment) -> usize {
    a.values().map(BTreeSet::len).sum()
}

fn parts(a: &Assignment, t: u8) -> Vec<i32> {
    a.get(&tid(t)).map(|s| s.iter().copied().collect()).unwrap_or_default()
}

/// Every partition of `topics` with a subscriber is assigned exactly once, to a subscriber.
fn check_exactly_once(members: &[M], topics: &[(u8, i32)], out: &BTreeMap<String, Assignment>, ctx: &str) {
    let mut seen: BTreeMap<(TopicId, i32), &str> = BTreeMap::new();
    for m in members {
        let a = out
            .get(&m.id)
            .unwrap_or_else(|| panic!("{ctx}: member {} missing", m.id));
        for (t, ps) in a {
            assert!(!ps.is_empty(), "{ctx}: empty partition set");
            assert!(m.subscribed.contains(t), "{ctx}: {} got an unsubscribed topic", m.id);
            for p in ps {
                let previous = seen.insert((*t, *p), &m.id);
                assert!(previous.is_none(), "{ctx}: {t:?}-{p} assigned twice");
            }
        }
    }
    for (t, n) in topics {
        let subscribed = members.iter().any(|m| m.subscribed.contains(&tid(*t)));
        for p in 0..*n {
            assert_eq!(
                seen.contains_key(&(tid(*t), p)),
                subscribed,
                "{ctx}: partition {t}-{p} (subscribed: {subscribed})"
            );
        }
    }
    assert!(
        seen.keys()
            .all(|(t, p)| topics.iter().any(|(x, n)| tid(*x) == *t && *p < *n)),
        "{ctx}: unknown partition"
    );
}

#[test]
fn names_round_trip() {
    for a in [Assignor::Uniform, Assignor::Range] {
        assert_eq!(Assignor::from_name(a.name()), Some(a));
    }
    assert_eq!(Assignor::from_name("sticky"), None);
}

#[test]
fn uniform_balances_a_homogeneous_group() {
    let members = [m("a", &[1, 2]), m("b", &[1, 2]), m("c", &[1, 2])];
    let out = run(Assignor::Uniform, &members, &[(1, 4), (2, 3)]);
    check_exactly_once(&members, &[(1, 4), (2, 3)], &out, "uniform");
    let mut counts: Vec<usize> = out.values().map(count).collect();
    counts.sort();
    assert_eq!(counts, vec![2, 2, 3]);
}

#[test]
fn uniform_moves_only_what_a_joining_member_needs() {
    // a and b share 6 partitions, 3 each; c joins and takes one from each; nothing else moves.
    let mut a = m("a", &[1]);
    let mut b = m("b", &[1]);
    a.current = BTreeMap::from([(tid(1), BTreeSet::from([0, 1, 2]))]);
    b.current = BTreeMap::from([(tid(1), BTreeSet::from([3, 4, 5]))]);
    let members = [a, b, m("c", &[1])];
    let out = run(Assignor::Uniform, &members, &[(1, 6)]);
    check_exactly_once(&members, &[(1, 6)], &out, "join");
    for member in &members[..2] {
        let kept = &out[&member.id][&tid(1)];
        assert_eq!(kept.len(), 2);
        assert!(
            kept.is_subset(&member.current[&tid(1)]),
            "{} keeps two of its own",
            member.id
        );
    }
    assert_eq!(count(&out["c"]), 2);

    // Running again from the result changes nothing.
    let again: Vec<M> = members
        .iter()
        .map(|x| M {
            current: out[&x.id].clone(),
            ..m(&x.id, &[1])
        })
        .collect();
    assert_eq!(run(Assignor::Uniform, &again, &[(1, 6)]), out);
}

#[test]
fn uniform_keeps_partitions_when_a_member_leaves() {
    let mut a = m("a", &[1]);
    let mut b = m("b", &[1]);
    a.current = BTreeMap::from([(tid(1), BTreeSet::from([0, 1]))]);
    b.current = BTreeMap::from([(tid(1), BTreeSet::from([2, 3]))]);
    // c (which held 4 and 5) left.
    let members = [a, b];
    let out = run(Assignor::Uniform, &members, &[(1, 6)]);
    check_exactly_once(&members, &[(1, 6)], &out, "leave");
    assert!(out["a"][&tid(1)].is_superset(&BTreeSet::from([0, 1])));
    assert!(out["b"][&tid(1)].is_superset(&BTreeSet::from([2, 3])));
    assert_eq!((count(&out["a"]), count(&out["b"])), (3, 3));
}

#[test]
fn uniform_handles_heterogeneous_subscriptions() {
    // Topic 1 (6 partitions) is shared by a and b; topic 2 (4 partitions) only by c; topic 3 by a and c.
    let members = [m("a", &[1, 3]), m("b", &[1]), m("c", &[2, 3])];
    let topics = [(1, 6), (2, 4), (3, 2)];
    let out = run(Assignor::Uniform, &members, &topics);
    check_exactly_once(&members, &topics, &out, "heterogeneous");
    // 12 partitions; c must take topic 2 (4) and the best split gives a and b 4 each.
    assert_eq!(parts(&out["c"], 2), vec![0, 1, 2, 3]);
    assert_eq!(count(&out["a"]), 4);
    assert_eq!(count(&out["b"]), 4);
    assert_eq!(count(&out["c"]), 4);
}

#[test]
fn uniform_drops_unsubscribed_and_vanished_partitions_from_the_current_target() {
    let mut a = m("a", &[1]);
    a.current = BTreeMap::from([(tid(1), BTreeSet::from([0, 7])), (tid(2), BTreeSet::from([0]))]);
    let members = [a];
    let out = run(Assignor::Uniform, &members, &[(1, 2), (2, 1)]);
    assert_eq!(out["a"], BTreeMap::from([(tid(1), BTreeSet::from([0, 1]))]));
}

#[test]
fn unknown_topics_contribute_nothing() {
    for assignor in [Assignor::Uniform, Assignor::Range] {
        let members = [m("a", &[1, 9]), m("b", &[9])];
        let out = run(assignor, &members, &[(1, 2)]);
        assert_eq!(
            out["a"],
            BTreeMap::from([(tid(1), BTreeSet::from([0, 1]))]),
            "{assignor:?}"
        );
        assert_eq!(out["b"], Assignment::new(), "{assignor:?}");
        let none = run(assignor, &members, &[]);
        assert!(none.values().all(BTreeMap::is_empty), "{assignor:?}");
    }
}

#[test]
fn range_gives_contiguous_ranges_and_co_partitions() {
    let members = [m("b", &[1, 2]), m("a", &[1, 2]), m("c", &[1, 2])];
    let topics = [(1, 7), (2, 7)];
    let out = run(Assignor::Range, &members, &topics);
    check_exactly_once(&members, &topics, &out, "range");
    // 7 over 3: the first member (by id) gets 3, then 2 and 2.
    assert_eq!(parts(&out["a"], 1), vec![0, 1, 2]);
    assert_eq!(parts(&out["b"], 1), vec![3, 4]);
    assert_eq!(parts(&out["c"], 1), vec![5, 6]);
    for id in ["a", "b", "c"] {
        assert_eq!(parts(&out[id], 1), parts(&out[id], 2), "{id} is co-partitioned");
    }
}

#[test]
fn range_orders_static_members_first_by_instance_id() {
    let mut x = m("zz-dynamic-first-by-id", &[1]);
    x.instance = Some("i-2".into());
    let mut y = m("yy", &[1]);
    y.instance = Some("i-1".into());
    let members = [m("aa", &[1]), x, y];
    let out = run(Assignor::Range, &members, &[(1, 3)]);
    assert_eq!(parts(&out["yy"], 1), vec![0]);
    assert_eq!(parts(&out["zz-dynamic-first-by-id"], 1), vec![1]);
    assert_eq!(parts(&out["aa"], 1), vec![2]);
}

#[test]
fn range_assigns_each_topic_over_its_own_subscribers() {
    let members = [m("a", &[1, 2]), m("b", &[1])];
    let out = run(Assignor::Range, &members, &[(1, 4), (2, 3)]);
    assert_eq!(parts(&out["a"], 1), vec![0, 1]);
    assert_eq!(parts(&out["b"], 1), vec![2, 3]);
    assert_eq!(parts(&out["a"], 2), vec![0, 1, 2]);
    // More members than partitions: the last ones get nothing for that topic.
    let members = [m("a", &[1]), m("b", &[1]), m("c", &[1])];
    let out = run(Assignor::Range, &members, &[(1, 2)]);
    assert_eq!((parts(&out["a"], 1), parts(&out["b"], 1)), (vec![0], vec![1]));
    assert_eq!(out["c"], Assignment::new());
}

/// xorshift, seeded as the other simulations in this repository.
pub(crate) fn rng(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n.max(1)
    }
}

/// Random groups (homogeneous or not, with random and partly invalid current targets): every subscribed
/// partition is assigned exactly once to a subscriber; with `uniform`, members with identical
/// subscriptions are at most one partition apart and a second run from the result changes nothing; with
/// `range`, each topic's subscribers are at most one partition apart on it. A failing seed is printed;
/// rerun one with `KZERO_SEED=<seed> cargo test -p server --lib group::assignor`.
#[test]
fn random_groups_are_assigned_exactly_once_and_balanced() {
    let seeds: Vec<u64> = match std::env::var("KZERO_SEED") {
        Ok(s) => vec![s.parse().expect("KZERO_SEED is a number")],
        Err(_) => (1..=400).collect(),
    };
    for seed in seeds {
        let result = std::panic::catch_unwind(|| random_group(seed));
        if let Err(e) = result {
            eprintln!("failing seed: {seed} (replay with KZERO_SEED={seed})");
            std::panic::resume_unwind(e);
        }
    }
}

fn random_group(seed: u64) {
    let mut next = rng(seed);
    let topics: Vec<(u8, i32)> = (1..=1 + next(5) as u8).map(|t| (t, next(9) as i32)).collect();
    // Members pick their subscription from a pool of one (homogeneous) to three subscriptions, so that
    // heterogeneous groups still have members with identical subscriptions.
    let homogeneous = next(2) == 0;
    let pool: Vec<Vec<u8>> = (0..if homogeneous { 1 } else { 2 + next(2) })
        .map(|_| (1..=6u8).filter(|_| next(3) != 0).collect())
        .collect();
    let n = 1 + next(7) as usize;
    let mut members: Vec<M> = (0..n)
        .map(|i| {
            let mut subs: Vec<u8> = pool[next(pool.len() as u64) as usize].clone();
            if next(10) == 0 {
                subs.push(42); // an unknown topic
            }
            let mut x = m(&format!("m{i:02}"), &subs);
            if next(3) == 0 {
                x.instance = Some(format!("i{}", next(100)));
            }
            // The first member starts with a big, partly invalid current target, so that stickiness
            // alone would unbalance the group.
            for _ in 0..next(if i == 0 { 20 } else { 6 }) {
                let t = tid(1 + next(6) as u8);
                x.current.entry(t).or_default().insert(next(10) as i32);
            }
            x
        })
        .collect();
    for assignor in [Assignor::Uniform, Assignor::Range] {
        let ctx = format!("seed {seed} {assignor:?}");
        let out = run(assignor, &members, &topics);
        check_exactly_once(&members, &topics, &out, &ctx);
        match assignor {
            Assignor::Uniform => {
                for a in &members {
                    for b in &members {
                        if a.subscribed == b.subscribed {
                            let (x, y) = (count(&out[&a.id]), count(&out[&b.id]));
                            assert!(x.abs_diff(y) <= 1, "{ctx}: {} has {x}, {} has {y}", a.id, b.id);
                        }
                    }
                }
                let mut again: Vec<M> = members
                    .iter()
                    .map(|x| M {
                        id: x.id.clone(),
                        instance: x.instance.clone(),
                        subscribed: x.subscribed.clone(),
                        current: out[&x.id].clone(),
                    })
                    .collect();
                assert_eq!(run(assignor, &again, &topics), out, "{ctx}: not stable");
                // A member joining with the same subscription as the first one takes only what it must:
                // everyone else keeps all but at most what balance requires.
                again.push(M {
                    id: "zz-new".into(),
                    instance: None,
                    subscribed: members[0].subscribed.clone(),
                    current: Assignment::new(),
                });
                let joined = run(assignor, &again, &topics);
                check_exactly_once(&again, &topics, &joined, &format!("{ctx} after a join"));
                let moved: usize = again[..again.len() - 1]
                    .iter()
                    .map(|x| {
                        let before: BTreeSet<(TopicId, i32)> = x
                            .current
                            .iter()
                            .flat_map(|(t, ps)| ps.iter().map(move |p| (*t, *p)))
                            .collect();
                        let after: BTreeSet<(TopicId, i32)> = joined[&x.id]
                            .iter()
                            .flat_map(|(t, ps)| ps.iter().map(move |p| (*t, *p)))
                            .collect();
                        before.difference(&after).count()
                    })
                    .sum();
                if homogeneous {
                    assert!(moved <= count(&joined["zz-new"]), "{ctx}: {moved} moved for a join");
                }
            }
            Assignor::Range => {
                for (t, _) in &topics {
                    let counts: Vec<usize> = members
                        .iter()
                        .filter(|x| x.subscribed.contains(&tid(*t)))
                        .map(|x| parts(&out[&x.id], *t).len())
                        .collect();
                    let (lo, hi) = (counts.iter().min(), counts.iter().max());
                    if let (Some(lo), Some(hi)) = (lo, hi) {
                        assert!(hi - lo <= 1, "{ctx}: topic {t} counts {counts:?}");
                    }
                }
            }
        }
        members.iter_mut().for_each(|x| x.current = out[&x.id].clone());
    }
}
