//! The KIP-848 server-side assignors, `uniform` and `range` (`kafka-facts-2.md` §3.5): given a consumer
//! group's members (with their subscriptions and current target assignment) and the subscribed topics'
//! partition counts, each computes a new target assignment, keyed by member id, then topic id.
//!
//! This module owns only the computation. It must never do I/O, read a clock, spawn a task or take a
//! lock; it does not know about epochs, records or reconciliation (that is `consumer.rs`). Results are
//! deterministic: every map is a `BTreeMap`, members are visited in a fixed order, and no `HashMap`
//! iteration order reaches a result.
//!
//! - **uniform** (Kafka's `UniformAssignor`): balance first, then stickiness. When every member subscribes
//!   to the same topics it gives each member ⌊P/N⌋ or ⌈P/N⌉ of the P partitions, keeping as much of each
//!   member's current target as those quotas allow. With different subscriptions it keeps what it can,
//!   gives each free partition to its least-loaded subscriber, then moves partitions from a member to a
//!   subscriber with at least two fewer until no such move exists; so members with identical
//!   subscriptions end up at most one partition apart. Racks are ignored: kzero has a single rack view
//!   of partitions in the group coordinator, and Kafka only uses racks as a tie-breaker for stickiness.
//! - **range** (Kafka's `RangeAssignor`): per topic, the subscribers sorted with static members first (by
//!   instance id) then dynamic ones (by member id) get contiguous ranges of ⌊P/N⌋ partitions, the first
//!   P mod N of them one more. Identical subscriptions over topics with equal partition counts are thus
//!   co-partitioned. It does not look at current targets.
//!
//! Topics a member subscribes to that are not in `topics` (unknown or deleted) contribute nothing.

use std::collections::{BTreeMap, BTreeSet};

use crate::topic_id::TopicId;

/// Partitions by topic id. INVARIANT (for assignor outputs and everything `consumer.rs` stores): no
/// topic maps to an empty set.
pub(crate) type Assignment = BTreeMap<TopicId, BTreeSet<i32>>;

/// One member as an assignor sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MemberSpec<'a> {
    pub(crate) member_id: &'a str,
    pub(crate) instance_id: Option<&'a str>,
    /// Subscribed topic ids (ids missing from `topics` are ignored).
    pub(crate) subscribed: &'a BTreeSet<TopicId>,
    /// The member's current target assignment (the starting point for stickiness).
    pub(crate) current: &'a Assignment,
}

/// A server-side assignor, by its Kafka name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Assignor {
    Uniform,
    Range,
}

impl Assignor {
    /// The name clients send in `ServerAssignor` and ConsumerGroupDescribe reports.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Assignor::Uniform => "uniform",
            Assignor::Range => "range",
        }
    }

    /// The assignor with this name.
    pub(crate) fn from_name(name: &str) -> Option<Assignor> {
        match name {
            "uniform" => Some(Assignor::Uniform),
            "range" => Some(Assignor::Range),
            _ => None,
        }
    }

    /// The new target assignment: every member appears, with an empty map if it gets nothing.
    /// `topics` maps each known topic id to its partition count.
    pub(crate) fn assign(
        self,
        members: &[MemberSpec<'_>],
        topics: &BTreeMap<TopicId, i32>,
    ) -> BTreeMap<String, Assignment> {
        match self {
            Assignor::Uniform => uniform(members, topics),
            Assignor::Range => range(members, topics),
        }
    }
}

type Tp = (TopicId, i32);

/// The subscribed topics of a member that exist and have partitions.
fn known_subscriptions(m: &MemberSpec<'_>, topics: &BTreeMap<TopicId, i32>) -> BTreeSet<TopicId> {
    m.subscribed
        .iter()
        .filter(|t| topics.get(t).is_some_and(|&n| n > 0))
        .copied()
        .collect()
}

fn partitions_of(subscribed: &BTreeSet<TopicId>, topics: &BTreeMap<TopicId, i32>) -> Vec<Tp> {
    subscribed
        .iter()
        .flat_map(|t| (0..topics.get(t).copied().unwrap_or(0)).map(move |p| (*t, p)))
        .collect()
}

fn to_assignment(partitions: &[Tp]) -> Assignment {
    let mut a = Assignment::new();
    for &(t, p) in partitions {
        a.entry(t).or_default().insert(p);
    }
    a
}

/// `uniform`: members sorted by id, then the homogeneous or the heterogeneous builder.
fn uniform(members: &[MemberSpec<'_>], topics: &BTreeMap<TopicId, i32>) -> BTreeMap<String, Assignment> {
    let mut sorted: Vec<&MemberSpec<'_>> = members.iter().collect();
    sorted.sort_by(|a, b| a.member_id.cmp(b.member_id));
    sorted.dedup_by(|a, b| a.member_id == b.member_id);
    let subs: Vec<BTreeSet<TopicId>> = sorted.iter().map(|m| known_subscriptions(m, topics)).collect();
    let owned: Vec<Vec<Tp>> = if subs.iter().all(|s| Some(s) == subs.first()) {
        homogeneous(&sorted, subs.first().cloned().unwrap_or_default(), topics)
    } else {
        heterogeneous(&sorted, &subs, topics)
    };
    sorted
        .iter()
        .zip(owned)
        .map(|(m, parts)| (m.member_id.to_string(), to_assignment(&parts)))
        .collect()
}

/// The partitions of `m`'s current target that are valid (a subscribed topic, an existing partition)
/// and not yet taken by an earlier member, in order.
fn retainable(m: &MemberSpec<'_>, subscribed: &BTreeSet<TopicId>, topics: &BTreeMap<TopicId, i32>) -> Vec<Tp> {
    m.current
        .iter()
        .filter(|(t, _)| subscribed.contains(t))
        .flat_map(|(t, ps)| {
            let count = topics.get(t).copied().unwrap_or(0);
            ps.iter()
                .filter(move |p| (0..count).contains(*p))
                .map(move |p| (*t, *p))
        })
        .collect()
}

/// Every member subscribes to the same topics: quotas of ⌊P/N⌋, the first P mod N slots of one more
/// going to members that already hold more than ⌊P/N⌋.
fn homogeneous(
    members: &[&MemberSpec<'_>],
    subscribed: BTreeSet<TopicId>,
    topics: &BTreeMap<TopicId, i32>,
) -> Vec<Vec<Tp>> {
    let n = members.len();
    let mut owned: Vec<Vec<Tp>> = vec![Vec::new(); n];
    if n == 0 {
        return owned;
    }
    let all = partitions_of(&subscribed, topics);
    let min = all.len() / n;
    let mut extra = all.len() % n;
    let mut taken: BTreeSet<Tp> = BTreeSet::new();
    let mut quota = vec![min; n];
    // Stickiness: keep the current target up to the quota.
    for (i, m) in members.iter().enumerate() {
        let retained: Vec<Tp> = retainable(m, &subscribed, topics)
            .into_iter()
            .filter(|tp| !taken.contains(tp))
            .collect();
        if retained.len() > min && extra > 0 {
            extra -= 1;
            quota[i] = min + 1;
        }
        for tp in retained.into_iter().take(quota[i]) {
            taken.insert(tp);
            owned[i].push(tp);
        }
    }
    // The remaining extra slots go to the first members still at the base quota.
    for q in quota.iter_mut() {
        if extra == 0 {
            break;
        }
        if *q == min {
            *q = min + 1;
            extra -= 1;
        }
    }
    // Free partitions are dealt round-robin to members under their quota.
    // INVARIANT: the free partitions are exactly the sum of the members' missing quotas.
    let mut next = 0;
    for tp in all.into_iter().filter(|tp| !taken.contains(tp)) {
        for _ in 0..n {
            let i = next;
            next = (next + 1) % n;
            if owned[i].len() < quota[i] {
                owned[i].push(tp);
                break;
            }
        }
    }
    owned
}

/// Members subscribe to different topics: keep, give free partitions to the least-loaded subscriber,
/// then move partitions towards subscribers holding at least two fewer until none can move.
fn heterogeneous(
    members: &[&MemberSpec<'_>],
    subs: &[BTreeSet<TopicId>],
    topics: &BTreeMap<TopicId, i32>,
) -> Vec<Vec<Tp>> {
    let n = members.len();
    // Per member, its partitions by topic.
    let mut owned: Vec<BTreeMap<TopicId, BTreeSet<i32>>> = vec![BTreeMap::new(); n];
    let mut count = vec![0usize; n];
    let mut taken: BTreeSet<Tp> = BTreeSet::new();
    for (i, m) in members.iter().enumerate() {
        for tp in retainable(m, &subs[i], topics) {
            if taken.insert(tp) {
                owned[i].entry(tp.0).or_default().insert(tp.1);
                count[i] += 1;
            }
        }
    }
    // Subscribers per topic, in member order.
    let mut subscribers: BTreeMap<TopicId, Vec<usize>> = BTreeMap::new();
    for (i, s) in subs.iter().enumerate() {
        for t in s {
            subscribers.entry(*t).or_default().push(i);
        }
    }
    // Free partitions, topics with the fewest subscribers first (they have the fewest choices).
    let mut free: Vec<Tp> = subscribers
        .keys()
        .flat_map(|t| (0..topics.get(t).copied().unwrap_or(0)).map(move |p| (*t, p)))
        .filter(|tp| !taken.contains(tp))
        .collect();
    free.sort_by_key(|(t, p)| (subscribers[t].len(), *t, *p));
    for (t, p) in free {
        let Some(&i) = subscribers[&t].iter().min_by_key(|&&i| (count[i], i)) else {
            continue;
        };
        owned[i].entry(t).or_default().insert(p);
        count[i] += 1;
    }
    // Balance. Each move lowers the sum of squared counts, so the loop ends.
    loop {
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| (count[i], i));
        let mut step = None;
        'search: for &d in order.iter().rev() {
            for &r in &order {
                if count[r] + 2 > count[d] {
                    break;
                }
                // The highest partition of the first topic of `d` that `r` subscribes to.
                let pick = owned[d]
                    .iter()
                    .find(|(t, _)| subs[r].contains(t))
                    .and_then(|(t, ps)| ps.last().map(|p| (*t, *p)));
                if let Some(tp) = pick {
                    step = Some((d, r, tp));
                    break 'search;
                }
            }
        }
        let Some((d, r, (t, p))) = step else {
            break;
        };
        if let Some(ps) = owned[d].get_mut(&t) {
            ps.remove(&p);
            if ps.is_empty() {
                owned[d].remove(&t);
            }
        }
        count[d] -= 1;
        owned[r].entry(t).or_default().insert(p);
        count[r] += 1;
    }
    owned
        .into_iter()
        .map(|a| {
            a.into_iter()
                .flat_map(|(t, ps)| ps.into_iter().map(move |p| (t, p)))
                .collect()
        })
        .collect()
}

/// `range`: contiguous ranges per topic over its sorted subscribers.
fn range(members: &[MemberSpec<'_>], topics: &BTreeMap<TopicId, i32>) -> BTreeMap<String, Assignment> {
    let mut out: BTreeMap<String, Assignment> = members
        .iter()
        .map(|m| (m.member_id.to_string(), Assignment::new()))
        .collect();
    // Static members first, by instance id; then dynamic members by member id.
    let mut sorted: Vec<&MemberSpec<'_>> = members.iter().collect();
    sorted.sort_by(|a, b| match (a.instance_id, b.instance_id) {
        (Some(x), Some(y)) => x.cmp(y).then(a.member_id.cmp(b.member_id)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.member_id.cmp(b.member_id),
    });
    sorted.dedup_by(|a, b| a.member_id == b.member_id);
    for (&topic, &count) in topics {
        if count <= 0 {
            continue;
        }
        let subscribers: Vec<&&MemberSpec<'_>> = sorted.iter().filter(|m| m.subscribed.contains(&topic)).collect();
        if subscribers.is_empty() {
            continue;
        }
        let n = subscribers.len() as i32;
        let (quota, extra) = (count / n, count % n);
        for (i, m) in subscribers.iter().enumerate() {
            let i = i as i32;
            let start = i * quota + i.min(extra);
            let len = quota + i32::from(i < extra);
            if len == 0 {
                continue;
            }
            if let Some(a) = out.get_mut(m.member_id) {
                a.insert(topic, (start..start + len).collect());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
