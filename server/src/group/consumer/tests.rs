//! KIP-848 consumer groups driven without sockets or clocks: joins, revocation before reassignment, leaving,
//! static members, timers, epoch and validation errors, regex subscriptions, replay, the group-side checks
//! of offsets and deletion, and random schedules of members (seeded; `KZERO_SEED=<n>` replays one).

use std::collections::{BTreeMap, BTreeSet};

use protocol::ErrorCode;

use super::*;

fn tid(n: u8) -> TopicId {
    TopicId([n; 16])
}

fn topics(list: &[(&str, u8, i32)]) -> Topics {
    list.iter().map(|(n, id, p)| (n.to_string(), (tid(*id), *p))).collect()
}

fn a(list: &[(u8, &[i32])]) -> Assignment {
    list.iter()
        .filter(|(_, ps)| !ps.is_empty())
        .map(|(t, ps)| (tid(*t), ps.iter().copied().collect()))
        .collect()
}

fn tps(a: &Assignment) -> TopicPartitions {
    a.iter().map(|(t, ps)| (*t, ps.iter().copied().collect())).collect()
}

const REBALANCE: i32 = 30_000;

/// A join (epoch 0, full) of a member subscribing to `names`.
fn join(group: &str, member: &str, names: &[&str]) -> HeartbeatRequest {
    HeartbeatRequest {
        version: 1,
        group_id: group.into(),
        member_id: member.into(),
        member_epoch: 0,
        instance_id: None,
        rack_id: None,
        rebalance_timeout_ms: REBALANCE,
        subscribed_topic_names: Some(names.iter().map(|n| n.to_string()).collect()),
        subscribed_topic_regex: None,
        server_assignor: None,
        topic_partitions: Some(Vec::new()),
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        describable: None,
    }
}

/// A regular heartbeat reporting `owned`.
fn beat(group: &str, member: &str, epoch: i32, owned: &Assignment) -> HeartbeatRequest {
    HeartbeatRequest {
        member_epoch: epoch,
        rebalance_timeout_ms: -1,
        subscribed_topic_names: None,
        topic_partitions: Some(tps(owned)),
        ..join(group, member, &[])
    }
}

fn leave(group: &str, member: &str, epoch: i32) -> HeartbeatRequest {
    HeartbeatRequest {
        topic_partitions: None,
        ..beat(group, member, epoch, &Assignment::new())
    }
}

fn with_instance(mut r: HeartbeatRequest, instance: &str) -> HeartbeatRequest {
    r.instance_id = Some(instance.into());
    r
}

/// A coordinator with a clock, broker metadata, and every record it emitted.
struct Sim {
    c: ConsumerGroups,
    now: Ms,
    topics: Topics,
    log: Vec<Record>,
}

impl Sim {
    fn new(topics: Topics) -> Sim {
        Sim::with_config(ConsumerGroupConfig::default(), topics)
    }

    fn with_config(config: ConsumerGroupConfig, topics: Topics) -> Sim {
        Sim {
            c: ConsumerGroups::new(config, 7),
            now: 1_000_000,
            topics,
            log: Vec::new(),
        }
    }

    fn hb(&mut self, req: HeartbeatRequest) -> HeartbeatResponse {
        let (r, out) = self.c.heartbeat(&req, self.now, &self.topics);
        if r.error != ErrorCode::None {
            assert!(out.is_empty(), "a refused heartbeat wrote {out:?}");
        }
        self.log.extend(out);
        self.check();
        r
    }

    /// A heartbeat that must succeed.
    fn ok(&mut self, req: HeartbeatRequest) -> HeartbeatResponse {
        let r = self.hb(req);
        assert_eq!(r.error, ErrorCode::None, "{r:?}");
        r
    }

    fn err(&mut self, req: HeartbeatRequest) -> ErrorCode {
        let r = self.hb(req);
        assert_ne!(r.error, ErrorCode::None);
        assert!(r.error_message.is_some());
        r.error
    }

    fn advance(&mut self, ms: Ms) {
        let end = self.now + ms;
        while let Some(d) = self.c.next_deadline().filter(|d| *d <= end) {
            self.now = d.max(self.now);
            let out = self.c.tick(self.now);
            self.log.extend(out);
            self.check();
        }
        self.now = end;
    }

    fn set_topics(&mut self, topics: Topics) {
        self.topics = topics;
        let out = self.c.topics_changed(&self.topics, self.now);
        self.log.extend(out);
        self.check();
    }

    fn group(&self, g: &str) -> &ConsumerGroup {
        &self.c.groups[g]
    }

    fn member(&self, g: &str, m: &str) -> &Member {
        &self.group(g).members[m]
    }

    fn check(&self) {
        for g in self.c.groups.values() {
            check_group(g, "");
        }
    }
}

/// The invariants: no partition owned by two members (nor twice by one), member and assignment epochs at
/// most the group epoch, the owner map equal to the members' sets, the instance map consistent.
fn check_group(g: &ConsumerGroup, ctx: &str) {
    let mut owners = Owners::new();
    for m in g.members.values() {
        assert!(
            m.current.member_epoch <= g.group_epoch,
            "{ctx}: member {} at epoch {} > group epoch {}",
            m.id,
            m.current.member_epoch,
            g.group_epoch
        );
        for set in [&m.current.assigned, &m.current.pending_revocation] {
            for (t, ps) in set {
                assert!(!ps.is_empty(), "{ctx}: empty set");
                for p in ps {
                    let previous = owners.insert((*t, *p), (m.id.clone(), m.current.member_epoch));
                    assert!(
                        previous.is_none(),
                        "{ctx}: {t:?}-{p} owned by {} and {:?}",
                        m.id,
                        previous
                    );
                }
            }
        }
        if let Some(i) = &m.meta.instance_id {
            assert_eq!(g.statics.get(i), Some(&m.id), "{ctx}: instance map");
        }
    }
    assert!(g.assignment_epoch <= g.group_epoch, "{ctx}: assignment epoch");
    assert_eq!(owners, g.owners, "{ctx}: owner map");
    assert!(
        g.statics.values().all(|id| g.members.contains_key(id)),
        "{ctx}: stale instance"
    );
}

/// Replays `log` into a new coordinator: it must hold the same records as `c`, and the same owners.
fn check_replay(c: &ConsumerGroups, log: &[Record], ctx: &str) -> ConsumerGroups {
    let mut r = ConsumerGroups::new(c.config.clone(), 1);
    for rec in log {
        r.replay(rec.clone(), 5);
    }
    assert_eq!(r.live_records(), c.live_records(), "{ctx}: replay differs");
    for (id, g) in &c.groups {
        assert_eq!(r.groups[id].owners, g.owners, "{ctx}: owners after replay");
        assert_eq!(r.groups[id].statics, g.statics, "{ctx}: instances after replay");
        assert_eq!(r.groups[id].state(), g.state(), "{ctx}: state after replay");
        check_group(&r.groups[id], ctx);
    }
    // Replaying the live records alone (a compacted log) gives the same again.
    let mut compact = ConsumerGroups::new(c.config.clone(), 1);
    for rec in c.live_records() {
        compact.replay(rec, 5);
    }
    assert_eq!(
        compact.live_records(),
        c.live_records(),
        "{ctx}: compacted replay differs"
    );
    r
}

const T: &[(&str, u8, i32)] = &[("t", 1, 4)];

#[test]
fn the_first_member_gets_every_partition() {
    let mut s = Sim::new(topics(T));
    let r = s.ok(join("g", "m1", &["t"]));
    assert_eq!(r.member_id.as_deref(), Some("m1"));
    assert_eq!(r.member_epoch, 1);
    assert_eq!(r.heartbeat_interval_ms, 5000);
    assert_eq!(r.assignment, Some(a(&[(1, &[0, 1, 2, 3])])));
    assert_eq!(s.c.state("g"), Some(GroupState::Stable));
    // A heartbeat with nothing new carries no assignment.
    let r = s.ok(beat("g", "m1", 1, &a(&[(1, &[0, 1, 2, 3])])));
    assert_eq!((r.member_epoch, r.assignment), (1, None));
    // Records: epoch, target, assignment epoch, current assignment, in that order after the member.
    let types: Vec<i16> = s.log.iter().map(Record::record_type).collect();
    assert_eq!(types, vec![5, 3, 7, 6, 8]);
}

/// Two members join one after the other; the second gets partitions only after the first revoked them.
fn two_members(s: &mut Sim) {
    // Partitions 0 and 1 do not move: m1 holds them at every step.
    let keeps = |s: &Sim| {
        let m1 = &s.member("g", "m1").current.assigned;
        assert!(
            m1.get(&tid(1)).is_some_and(|p| p.contains(&0) && p.contains(&1)),
            "{m1:?}"
        );
    };
    s.ok(join("g", "m1", &["t"]));
    keeps(s);
    let r = s.ok(join("g", "m2", &["t"]));
    keeps(s);
    // m2 is at the new epoch but gets nothing yet: m1 still owns its target.
    assert_eq!((r.member_epoch, r.assignment), (2, Some(Assignment::new())));
    assert_eq!(s.member("g", "m2").current.state, MemberState::UnreleasedPartitions);
    assert_eq!(s.c.state("g"), Some(GroupState::Reconciling));

    // m1 must revoke: it keeps its epoch and is told its smaller assignment.
    let r = s.ok(beat("g", "m1", 1, &a(&[(1, &[0, 1, 2, 3])])));
    keeps(s);
    assert_eq!((r.member_epoch, r.assignment), (1, Some(a(&[(1, &[0, 1])]))));
    let m1 = s.member("g", "m1");
    assert_eq!(m1.current.state, MemberState::UnrevokedPartitions);
    assert_eq!(m1.current.pending_revocation, a(&[(1, &[2, 3])]));
    assert!(m1.rebalance_deadline.is_some());

    // m2 still waits (nothing changed for it, so no assignment in the answer).
    let r = s.ok(beat("g", "m2", 2, &Assignment::new()));
    keeps(s);
    assert_eq!((r.member_epoch, r.assignment), (2, None));
    // While m1 still reports them, it stays where it is.
    let r = s.ok(beat("g", "m1", 1, &a(&[(1, &[0, 1, 2, 3])])));
    keeps(s);
    assert_eq!((r.member_epoch, r.assignment), (1, None));

    // m1 revoked: it moves to epoch 2, keeping 0 and 1 throughout.
    let r = s.ok(beat("g", "m1", 1, &a(&[(1, &[0, 1])])));
    keeps(s);
    assert_eq!((r.member_epoch, r.assignment), (2, None));
    assert_eq!(s.member("g", "m1").current.state, MemberState::Stable);
    assert_eq!(s.member("g", "m1").rebalance_deadline, None);

    // Now m2 gets the released partitions.
    let r = s.ok(beat("g", "m2", 2, &Assignment::new()));
    keeps(s);
    assert_eq!((r.member_epoch, r.assignment), (2, Some(a(&[(1, &[2, 3])]))));
    assert_eq!(s.c.state("g"), Some(GroupState::Stable));
}

#[test]
fn a_second_member_gets_partitions_only_after_the_first_revoked_them() {
    let mut s = Sim::new(topics(T));
    two_members(&mut s);
    let g = s.group("g");
    assert_eq!((g.group_epoch, g.assignment_epoch), (2, 2));
    for id in ["m1", "m2"] {
        assert_eq!(s.member("g", id).current.member_epoch, 2);
    }
}

#[test]
fn a_member_leaving_with_minus_one_frees_its_partitions_for_the_others() {
    let mut s = Sim::new(topics(T));
    two_members(&mut s);
    let r = s.ok(leave("g", "m1", LEAVE_EPOCH));
    assert_eq!((r.member_id.as_deref(), r.member_epoch), (Some("m1"), -1));
    assert!(!s.group("g").members.contains_key("m1"));
    let types: Vec<i16> = s.log.iter().rev().take(4).map(Record::record_type).collect();
    assert_eq!(types, vec![3, 5, 7, 8], "tombstones 8, 7, 5 then the epoch bump");
    assert_eq!(s.group("g").group_epoch, 3);
    assert_eq!(s.c.state("g"), Some(GroupState::Assigning));
    let r = s.ok(beat("g", "m2", 2, &a(&[(1, &[2, 3])])));
    assert_eq!((r.member_epoch, r.assignment), (3, Some(a(&[(1, &[0, 1, 2, 3])]))));
    assert_eq!(s.c.state("g"), Some(GroupState::Stable));
    // The last member leaving empties the group, which stays.
    s.ok(leave("g", "m2", LEAVE_EPOCH));
    assert_eq!(s.c.state("g"), Some(GroupState::Empty));
    assert!(s.c.is_empty("g") && s.c.contains("g"));
    // A leave from an unknown member.
    assert_eq!(s.err(leave("g", "m9", LEAVE_EPOCH)), ErrorCode::UnknownMemberId);
    assert_eq!(s.err(leave("nope", "m9", LEAVE_EPOCH)), ErrorCode::GroupIdNotFound);
}

#[test]
fn a_static_member_leaving_with_minus_two_comes_back_with_a_new_id_and_its_assignment() {
    let mut s = Sim::new(topics(T));
    s.ok(with_instance(join("g", "a1", &["t"]), "ia"));
    s.ok(with_instance(join("g", "b1", &["t"]), "ib"));
    s.ok(with_instance(beat("g", "a1", 1, &a(&[(1, &[0, 1, 2, 3])])), "ia"));
    s.ok(with_instance(beat("g", "a1", 1, &a(&[(1, &[0, 1])])), "ia"));
    s.ok(with_instance(beat("g", "b1", 2, &Assignment::new()), "ib"));
    assert_eq!(s.c.state("g"), Some(GroupState::Stable));
    let epoch = s.group("g").group_epoch;

    let r = s.ok(with_instance(leave("g", "a1", STATIC_LEAVE_EPOCH), "ia"));
    assert_eq!((r.member_id.as_deref(), r.member_epoch), (Some("a1"), -2));
    let a1 = s.member("g", "a1");
    assert_eq!(a1.current.member_epoch, -2);
    assert_eq!(a1.current.assigned, a(&[(1, &[0, 1])]), "it keeps its partitions");
    assert_eq!(s.group("g").group_epoch, epoch, "no rebalance");
    assert_eq!(s.c.state("g"), Some(GroupState::Reconciling));

    // The instance restarts with a new member id and inherits the assignment at once.
    let r = s.ok(with_instance(join("g", "a2", &["t"]), "ia"));
    assert_eq!(r.member_id.as_deref(), Some("a2"));
    assert_eq!((r.member_epoch, r.assignment), (epoch, Some(a(&[(1, &[0, 1])]))));
    assert!(!s.group("g").members.contains_key("a1"));
    assert_eq!(s.group("g").statics["ia"], "a2");
    assert_eq!(s.group("g").target["a2"], a(&[(1, &[0, 1])]));
    assert_eq!(s.group("g").group_epoch, epoch, "still no rebalance");
    assert_eq!(s.c.state("g"), Some(GroupState::Stable));

    // Leaving with -2 again and rejoining with the same member id also takes the assignment back.
    s.ok(with_instance(leave("g", "a2", STATIC_LEAVE_EPOCH), "ia"));
    let r = s.ok(with_instance(join("g", "a2", &["t"]), "ia"));
    assert_eq!((r.member_epoch, r.assignment), (epoch, Some(a(&[(1, &[0, 1])]))));

    // The old id is fenced by the instance id; a second process with the same instance id is refused.
    assert_eq!(
        s.err(with_instance(beat("g", "a1", epoch, &Assignment::new()), "ia")),
        ErrorCode::FencedInstanceId
    );
    assert_eq!(
        s.err(with_instance(join("g", "a3", &["t"]), "ia")),
        ErrorCode::UnreleasedInstanceId
    );
    // Kafka's current rule: even the holder rejoining with its own id is refused while it is active.
    assert_eq!(
        s.err(with_instance(join("g", "a2", &["t"]), "ia")),
        ErrorCode::UnreleasedInstanceId
    );
    assert_eq!(
        s.err(with_instance(beat("g", "zz", 3, &Assignment::new()), "iz")),
        ErrorCode::UnknownMemberId
    );
}

#[test]
fn a_static_member_that_does_not_come_back_is_fenced_when_its_session_expires() {
    let mut s = Sim::new(topics(T));
    s.ok(with_instance(join("g", "a1", &["t"]), "ia"));
    s.ok(with_instance(leave("g", "a1", STATIC_LEAVE_EPOCH), "ia"));
    s.advance(44_999);
    assert!(s.group("g").members.contains_key("a1"));
    s.advance(1);
    assert!(s.c.is_empty("g"));
    assert_eq!(s.group("g").group_epoch, 2);
}

#[test]
fn a_member_that_stops_heartbeating_is_fenced_after_the_session_timeout() {
    let mut s = Sim::new(topics(T));
    two_members(&mut s);
    // m2 keeps heartbeating, m1 stops.
    for _ in 0..8 {
        s.advance(5_000);
        s.ok(beat("g", "m2", 2, &a(&[(1, &[2, 3])])));
    }
    s.advance(4_999);
    assert!(
        s.group("g").members.contains_key("m1"),
        "45 s have not passed since m1's last heartbeat"
    );
    s.advance(1);
    assert!(!s.group("g").members.contains_key("m1"));
    assert_eq!(s.group("g").group_epoch, 3);
    assert!(
        s.group("g").owners.values().all(|(o, _)| o == "m2"),
        "m1's partitions are free"
    );
    let r = s.ok(beat("g", "m2", 2, &a(&[(1, &[2, 3])])));
    assert_eq!(r.assignment, Some(a(&[(1, &[0, 1, 2, 3])])));
    // m1 comes back: unknown at its epoch, welcome at epoch 0.
    assert_eq!(
        s.err(beat("g", "m1", 2, &a(&[(1, &[0, 1])]))),
        ErrorCode::UnknownMemberId
    );
    assert_eq!(s.ok(join("g", "m1", &["t"])).member_epoch, 4);
}

#[test]
fn a_member_that_never_revokes_is_fenced_after_its_rebalance_timeout() {
    let mut s = Sim::new(topics(T));
    s.ok(join("g", "m1", &["t"]));
    s.ok(join("g", "m2", &["t"]));
    s.ok(beat("g", "m1", 1, &a(&[(1, &[0, 1, 2, 3])])));
    assert_eq!(s.member("g", "m1").current.state, MemberState::UnrevokedPartitions);
    // m1 heartbeats on time but keeps reporting the partitions it must give up.
    for _ in 0..5 {
        s.advance(5_000);
        s.ok(beat("g", "m1", 1, &a(&[(1, &[0, 1, 2, 3])])));
        s.ok(beat("g", "m2", 2, &Assignment::new()));
    }
    s.advance(4_999);
    assert!(s.group("g").members.contains_key("m1"));
    s.advance(1);
    assert!(
        !s.group("g").members.contains_key("m1"),
        "fenced {REBALANCE} ms after entering UNREVOKED"
    );
    assert_eq!(
        s.err(beat("g", "m1", 1, &a(&[(1, &[0, 1])]))),
        ErrorCode::UnknownMemberId
    );
    let r = s.ok(beat("g", "m2", 2, &Assignment::new()));
    assert_eq!((r.member_epoch, r.assignment), (3, Some(a(&[(1, &[0, 1, 2, 3])]))));
}

#[test]
fn the_rebalance_timer_does_not_fire_once_the_member_moved_on() {
    let mut s = Sim::new(topics(T));
    two_members(&mut s);
    // m1 revoked in time; keep both alive past the rebalance timeout.
    for _ in 0..8 {
        s.advance(5_000);
        s.ok(beat("g", "m1", 2, &a(&[(1, &[0, 1])])));
        s.ok(beat("g", "m2", 2, &a(&[(1, &[2, 3])])));
    }
    assert_eq!(s.group("g").members.len(), 2);
    assert_eq!(s.group("g").group_epoch, 2);
}

#[test]
fn member_epochs_are_checked_as_kafka_does() {
    let mut s = Sim::new(topics(T));
    two_members(&mut s);
    let owned = a(&[(1, &[0, 1])]);
    // Ahead of the coordinator.
    assert_eq!(s.err(beat("g", "m1", 3, &owned)), ErrorCode::FencedMemberEpoch);
    // Behind it: accepted at the previous epoch with a subset of the assignment (the answer was lost)...
    let m1 = s.member("g", "m1").current.clone();
    assert_eq!((m1.member_epoch, m1.previous_member_epoch), (2, 1));
    let r = s.ok(beat("g", "m1", 1, &owned));
    assert_eq!(r.member_epoch, 2);
    // ...but not with partitions it does not have, nor at an older epoch, nor without reporting them.
    assert_eq!(
        s.err(beat("g", "m1", 1, &a(&[(1, &[0, 3])]))),
        ErrorCode::FencedMemberEpoch
    );
    assert_eq!(s.err(leave("g", "m1", 1)), ErrorCode::FencedMemberEpoch);
    s.ok(leave("g", "m2", LEAVE_EPOCH));
    s.ok(join("g", "m2", &["t"]));
    assert_eq!(
        s.err(beat("g", "m2", 1, &Assignment::new())),
        ErrorCode::FencedMemberEpoch
    );
    // Unknown members and groups.
    assert_eq!(s.err(beat("g", "m9", 2, &owned)), ErrorCode::UnknownMemberId);
    assert_eq!(s.err(beat("nope", "m1", 2, &owned)), ErrorCode::GroupIdNotFound);
    assert!(!s.c.contains("nope"));
    // KAFKA-19233: a member that still exists rejoins at epoch 0 (after FENCED_MEMBER_EPOCH) and gets
    // its assignment back.
    assert_eq!(s.member("g", "m1").current.member_epoch, 2);
    let r = s.ok(join("g", "m1", &["t"]));
    assert_eq!((r.member_epoch, r.assignment), (4, Some(a(&[(1, &[0, 1])]))));
}

#[test]
fn a_full_group_refuses_new_members() {
    let config = ConsumerGroupConfig {
        max_size: 1,
        ..ConsumerGroupConfig::default()
    };
    let mut s = Sim::with_config(config, topics(T));
    s.ok(join("g", "m1", &["t"]));
    assert_eq!(s.err(join("g", "m2", &["t"])), ErrorCode::GroupMaxSizeReached);
    // The member already in it is not refused.
    s.ok(join("g", "m1", &["t"]));
}

#[test]
fn invalid_requests_are_refused_before_anything_changes() {
    let mut s = Sim::new(topics(T));
    let cases: Vec<(HeartbeatRequest, ErrorCode)> = vec![
        (join("g", "", &["t"]), ErrorCode::InvalidRequest),
        (join("g", "  ", &["t"]), ErrorCode::InvalidRequest),
        (join("", "m", &["t"]), ErrorCode::InvalidRequest),
        (join(" ", "m", &["t"]), ErrorCode::InvalidRequest),
        (with_instance(join("g", "m", &["t"]), ""), ErrorCode::InvalidRequest),
        (
            HeartbeatRequest {
                rack_id: Some("\t".into()),
                ..join("g", "m", &["t"])
            },
            ErrorCode::InvalidRequest,
        ),
        (
            HeartbeatRequest {
                rebalance_timeout_ms: -1,
                ..join("g", "m", &["t"])
            },
            ErrorCode::InvalidRequest,
        ),
        (
            HeartbeatRequest {
                topic_partitions: None,
                ..join("g", "m", &["t"])
            },
            ErrorCode::InvalidRequest,
        ),
        (
            HeartbeatRequest {
                topic_partitions: Some(vec![(tid(1), vec![0])]),
                ..join("g", "m", &["t"])
            },
            ErrorCode::InvalidRequest,
        ),
        (
            HeartbeatRequest {
                subscribed_topic_names: None,
                ..join("g", "m", &["t"])
            },
            ErrorCode::InvalidRequest,
        ),
        (leave("g", "m", STATIC_LEAVE_EPOCH), ErrorCode::InvalidRequest),
        (leave("g", "m", -3), ErrorCode::InvalidRequest),
        (beat("g", "", 3, &Assignment::new()), ErrorCode::InvalidRequest),
        (leave("g", "", LEAVE_EPOCH), ErrorCode::InvalidRequest),
        (
            HeartbeatRequest {
                server_assignor: Some("sticky".into()),
                ..join("g", "m", &["t"])
            },
            ErrorCode::UnsupportedAssignor,
        ),
        (
            HeartbeatRequest {
                subscribed_topic_regex: Some("t(".into()),
                ..join("g", "m", &["t"])
            },
            ErrorCode::InvalidRegularExpression,
        ),
    ];
    for (req, expected) in cases {
        assert_eq!(s.err(req.clone()), expected, "{req:?}");
    }
    assert!(s.log.is_empty());
    assert!(!s.c.contains("g"), "a refused join does not create the group");
    // v0: an empty member id at epoch 0 is allowed, and the coordinator names the member.
    let r = s.ok(HeartbeatRequest {
        version: 0,
        ..join("g", "", &["t"])
    });
    let id = r.member_id.expect("a generated member id");
    assert_eq!(id.len(), 22);
    assert!(s.group("g").members.contains_key(&id));
    // Only configured assignors are accepted.
    let config = ConsumerGroupConfig {
        assignors: vec![Assignor::Range],
        ..ConsumerGroupConfig::default()
    };
    let mut s = Sim::with_config(config, topics(T));
    let uniform = HeartbeatRequest {
        server_assignor: Some("uniform".into()),
        ..join("g", "m", &["t"])
    };
    assert_eq!(s.err(uniform), ErrorCode::UnsupportedAssignor);
}

#[test]
fn the_assignment_is_sent_on_full_requests_and_on_changes_only() {
    let mut s = Sim::new(topics(T));
    s.ok(join("g", "m1", &["t"]));
    let owned = a(&[(1, &[0, 1, 2, 3])]);
    assert_eq!(s.ok(beat("g", "m1", 1, &owned)).assignment, None);
    let full = HeartbeatRequest {
        rebalance_timeout_ms: REBALANCE,
        subscribed_topic_names: Some(vec!["t".into()]),
        ..beat("g", "m1", 1, &owned)
    };
    assert_eq!(s.ok(full).assignment, Some(owned.clone()));
    // Null owned partitions: "unchanged".
    let r = s.ok(HeartbeatRequest {
        topic_partitions: None,
        ..beat("g", "m1", 1, &owned)
    });
    assert_eq!(r.assignment, None);
}

#[test]
fn subscription_and_metadata_changes_bump_the_group_epoch() {
    let mut s = Sim::new(topics(&[("t", 1, 2), ("u", 2, 2)]));
    s.ok(join("g", "m1", &["t"]));
    assert_eq!(s.group("g").group_epoch, 1);
    // Same subscription, other fields: a member record but no bump.
    s.ok(HeartbeatRequest {
        rack_id: Some("r1".into()),
        ..beat("g", "m1", 1, &a(&[(1, &[0, 1])]))
    });
    assert_eq!(s.group("g").group_epoch, 1);
    assert_eq!(s.member("g", "m1").meta.rack_id.as_deref(), Some("r1"));
    // A new subscription: bump, new target, at once.
    let r = s.ok(HeartbeatRequest {
        subscribed_topic_names: Some(vec!["u".into(), "t".into(), "u".into()]),
        ..beat("g", "m1", 1, &a(&[(1, &[0, 1])]))
    });
    assert_eq!(s.member("g", "m1").meta.subscribed_topic_names, vec!["t", "u"]);
    assert_eq!(
        (r.member_epoch, r.assignment),
        (2, Some(a(&[(1, &[0, 1]), (2, &[0, 1])])))
    );
    // Partitions added to a subscribed topic: topics_changed bumps, the next heartbeat assigns them.
    s.set_topics(topics(&[("t", 1, 3), ("u", 2, 2)]));
    assert_eq!(s.group("g").group_epoch, 3);
    assert_eq!(s.c.state("g"), Some(GroupState::Assigning));
    let r = s.ok(beat("g", "m1", 2, &a(&[(1, &[0, 1]), (2, &[0, 1])])));
    assert_eq!(r.assignment, Some(a(&[(1, &[0, 1, 2]), (2, &[0, 1])])));
    // A topic nobody subscribes to changes nothing.
    s.set_topics(topics(&[("t", 1, 3), ("u", 2, 2), ("v", 3, 9)]));
    assert_eq!(s.group("g").group_epoch, 3);
    // A subscribed topic deleted: its partitions are revoked.
    s.set_topics(topics(&[("t", 1, 3)]));
    assert_eq!(s.group("g").group_epoch, 4);
    let r = s.ok(beat("g", "m1", 3, &a(&[(1, &[0, 1, 2]), (2, &[0, 1])])));
    assert_eq!((r.member_epoch, r.assignment), (3, Some(a(&[(1, &[0, 1, 2])]))));
    let r = s.ok(beat("g", "m1", 3, &a(&[(1, &[0, 1, 2])])));
    assert_eq!(r.member_epoch, 4);
}

/// With an authorizer, a regex resolves to the topics its subscriber may see, at the subscription and as
/// topics come later (Kafka resolves regexes with the member's authorization).
#[test]
fn a_regex_resolves_to_the_topics_its_subscriber_may_describe() {
    let mut s = Sim::new(topics(&[("orders-eu", 1, 2), ("orders-secret", 2, 2)]));
    let filter = TopicFilter(std::sync::Arc::new(|t: &str| !t.ends_with("secret")));
    let r = s.ok(HeartbeatRequest {
        subscribed_topic_names: None,
        subscribed_topic_regex: Some("orders-.*".into()),
        describable: Some(filter),
        ..join("g", "m1", &[])
    });
    assert_eq!(r.assignment, Some(a(&[(1, &[0, 1])])));
    assert_eq!(s.group("g").regexes["orders-.*"].topics, vec!["orders-eu"]);
    s.set_topics(topics(&[
        ("orders-eu", 1, 2),
        ("orders-secret", 2, 2),
        ("orders-us", 3, 1),
        ("orders-us-secret", 4, 1),
    ]));
    assert_eq!(s.group("g").regexes["orders-.*"].topics, vec!["orders-eu", "orders-us"]);
}

#[test]
fn a_regex_subscription_picks_up_a_topic_created_later() {
    let mut s = Sim::new(topics(&[("orders-eu", 1, 2), ("payments", 2, 2)]));
    let r = s.ok(HeartbeatRequest {
        subscribed_topic_names: None,
        subscribed_topic_regex: Some("orders-.*".into()),
        ..join("g", "m1", &[])
    });
    assert_eq!(r.assignment, Some(a(&[(1, &[0, 1])])));
    let resolved = &s.group("g").regexes["orders-.*"];
    assert_eq!(resolved.topics, vec!["orders-eu"]);
    assert!(s.log.iter().any(|r| r.record_type() == 16));
    // Whole-name matching: "orders" alone, or a name with a prefix, does not match.
    s.set_topics(topics(&[
        ("orders-eu", 1, 2),
        ("payments", 2, 2),
        ("orders", 4, 1),
        ("x-orders-us", 5, 1),
    ]));
    assert_eq!(s.group("g").group_epoch, 1);
    s.set_topics(topics(&[("orders-eu", 1, 2), ("payments", 2, 2), ("orders-us", 3, 1)]));
    assert_eq!(s.group("g").regexes["orders-.*"].topics, vec!["orders-eu", "orders-us"]);
    assert_eq!(s.group("g").group_epoch, 2);
    let r = s.ok(beat("g", "m1", 1, &a(&[(1, &[0, 1])])));
    assert_eq!((r.member_epoch, r.assignment), (2, Some(a(&[(1, &[0, 1]), (3, &[0])]))));
    // A second member with the same regex shares it; the resolution goes when the last one leaves it.
    s.ok(HeartbeatRequest {
        subscribed_topic_names: None,
        subscribed_topic_regex: Some("orders-.*".into()),
        ..join("g", "m2", &[])
    });
    s.ok(HeartbeatRequest {
        subscribed_topic_regex: Some(String::new()),
        subscribed_topic_names: Some(vec!["payments".into()]),
        ..beat("g", "m1", 2, &a(&[(1, &[0, 1]), (3, &[0])]))
    });
    assert!(s.group("g").regexes.contains_key("orders-.*"));
    s.ok(leave("g", "m2", LEAVE_EPOCH));
    assert!(!s.group("g").regexes.contains_key("orders-.*"));
    assert!(matches!(
        s.log.last(),
        Some(Record::GroupMetadata { .. }) | Some(Record::RegularExpression { value: None, .. })
    ));
    assert!(s
        .log
        .iter()
        .any(|r| matches!(r, Record::RegularExpression { value: None, .. })));
}

#[test]
fn the_assignor_is_the_one_most_members_ask_for() {
    let mut s = Sim::new(topics(&[("t", 1, 3), ("u", 2, 3)]));
    let range = |m: &str| HeartbeatRequest {
        server_assignor: Some("range".into()),
        ..join("g", m, &["t", "u"])
    };
    s.ok(range("m1"));
    s.ok(range("m2"));
    s.ok(join("g", "m3", &["t", "u"]));
    let d = &s.c.describe(&["g".into()], &s.topics)[0];
    assert_eq!(d.assignor_name, "range");
    // range co-partitions: m1 has partition 0 of both topics.
    assert_eq!(s.group("g").target["m1"], a(&[(1, &[0]), (2, &[0])]));
}

#[test]
fn describe_list_offsets_and_delete_see_the_group_as_kafka_does() {
    let mut s = Sim::new(topics(T));
    two_members(&mut s);
    let d = s.c.describe(&["g".into(), "nope".into()], &s.topics);
    assert_eq!(d[0].error, ErrorCode::None);
    assert_eq!((d[0].state, d[0].group_epoch, d[0].assignment_epoch), ("Stable", 2, 2));
    assert_eq!(d[0].assignor_name, "uniform");
    let m1 = &d[0].members[0];
    assert_eq!((m1.member_id.as_str(), m1.member_epoch), ("m1", 2));
    assert_eq!(m1.subscribed_topic_names, vec!["t"]);
    assert_eq!(
        m1.assignment,
        vec![DescribedTopicPartitions {
            topic_id: tid(1),
            topic_name: "t".into(),
            partitions: vec![0, 1],
        }]
    );
    assert_eq!(m1.target_assignment, m1.assignment);
    assert_eq!(d[1].error, ErrorCode::GroupIdNotFound);
    assert_eq!(s.c.list(), vec![("g".to_string(), "Stable")]);

    // OffsetCommit.
    assert_eq!(s.c.validate_offset_commit("g", "m1", 2, 9), Ok(()));
    assert_eq!(
        s.c.validate_offset_commit("g", "m1", 1, 9),
        Err(ErrorCode::StaleMemberEpoch)
    );
    assert_eq!(
        s.c.validate_offset_commit("g", "m1", 2, 8),
        Err(ErrorCode::UnsupportedVersion)
    );
    assert_eq!(
        s.c.validate_offset_commit("g", "m9", 2, 9),
        Err(ErrorCode::UnknownMemberId)
    );
    assert_eq!(
        s.c.validate_offset_commit("g", "", -1, 9),
        Err(ErrorCode::UnknownMemberId)
    );
    assert_eq!(
        s.c.validate_offset_commit("h", "m1", 2, 9),
        Err(ErrorCode::GroupIdNotFound)
    );
    // OffsetFetch.
    assert_eq!(s.c.validate_offset_fetch("g", Some("m2"), 2), Ok(()));
    assert_eq!(s.c.validate_offset_fetch("g", None, -1), Ok(()));
    assert_eq!(
        s.c.validate_offset_fetch("g", Some("m2"), 1),
        Err(ErrorCode::StaleMemberEpoch)
    );
    assert_eq!(
        s.c.validate_offset_fetch("g", Some("m9"), 2),
        Err(ErrorCode::UnknownMemberId)
    );
    assert_eq!(s.c.validate_offset_fetch("g", None, 2), Err(ErrorCode::UnknownMemberId));

    // DeleteGroups.
    assert_eq!(s.c.delete("g"), Err(ErrorCode::NonEmptyGroup));
    assert_eq!(s.c.delete("nope"), Err(ErrorCode::GroupIdNotFound));
    s.ok(leave("g", "m1", LEAVE_EPOCH));
    s.ok(leave("g", "m2", LEAVE_EPOCH));
    // An empty group takes admin commits.
    assert_eq!(s.c.validate_offset_commit("g", "", -1, 2), Ok(()));
    assert_eq!(s.c.list(), vec![("g".to_string(), "Empty")]);
    let tombstones = s.c.delete("g").expect("an empty group can be deleted");
    assert!(tombstones.iter().all(Record::is_tombstone));
    let types: Vec<i16> = tombstones.iter().map(Record::record_type).collect();
    assert_eq!(types, vec![6, 3], "the group metadata goes last");
    assert!(!s.c.contains("g"));
    // Replaying everything, tombstones included, leaves nothing.
    s.log.extend(tombstones);
    let r = check_replay(&s.c, &s.log, "deleted");
    assert!(r.groups.is_empty());
}

#[test]
fn replaying_the_records_rebuilds_the_same_groups_and_rearms_the_timers() {
    let mut s = Sim::new(topics(&[("t", 1, 4), ("u", 2, 2)]));
    s.ok(with_instance(join("g", "a1", &["t", "u"]), "ia"));
    s.ok(join("g", "b1", &["t"]));
    s.ok(with_instance(
        beat("g", "a1", 1, &a(&[(1, &[0, 1, 2, 3]), (2, &[0, 1])])),
        "ia",
    ));
    s.ok(HeartbeatRequest {
        subscribed_topic_regex: Some("u".into()),
        ..join("h", "c1", &[])
    });
    s.ok(with_instance(leave("g", "a1", STATIC_LEAVE_EPOCH), "ia"));
    s.ok(with_instance(join("g", "a2", &["t", "u"]), "ia"));
    let r = check_replay(&s.c, &s.log, "replay");
    assert_eq!(
        r.describe(&["g".into(), "h".into()], &s.topics),
        s.c.describe(&["g".into(), "h".into()], &s.topics)
    );
    // Timers: every member's session from the load time; b1's rebalance timer if it must revoke.
    for g in r.groups.values() {
        for m in g.members.values() {
            assert_eq!(m.session_deadline, Some(5 + 45_000));
            assert_eq!(
                m.rebalance_deadline.is_some(),
                m.current.state == MemberState::UnrevokedPartitions
            );
        }
    }
    assert!(r.next_deadline().is_some_and(|d| d <= 5 + 45_000));
    // Member states survive as their stored byte.
    for st in [
        MemberState::Stable,
        MemberState::UnrevokedPartitions,
        MemberState::UnreleasedPartitions,
        MemberState::Unknown,
    ] {
        assert_eq!(MemberState::from_value(st.value()), st);
    }
    assert_eq!(MemberState::from_value(3), MemberState::Unknown);
}

#[test]
fn a_member_in_an_unknown_state_must_rejoin_without_partitions() {
    let mut s = Sim::new(topics(T));
    s.ok(join("g", "m1", &["t"]));
    let mut value = s.member("g", "m1").current.clone();
    value.state = MemberState::from_value(9);
    s.c.replay(
        Record::CurrentMemberAssignment {
            group: "g".into(),
            member: "m1".into(),
            value: Some(value),
        },
        s.now,
    );
    assert_eq!(
        s.err(beat("g", "m1", 1, &a(&[(1, &[0, 1, 2, 3])]))),
        ErrorCode::FencedMemberEpoch
    );
    let r = s.ok(beat("g", "m1", 1, &Assignment::new()));
    assert_eq!(r.member_epoch, 1);
    assert_eq!(s.member("g", "m1").current.state, MemberState::Stable);
}

#[test]
fn the_defaults_are_kafkas_and_are_checked() {
    let c = ConsumerGroupConfig::default();
    assert_eq!((c.session_timeout_ms, c.heartbeat_interval_ms), (45_000, 5_000));
    assert_eq!((c.min_session_timeout_ms, c.max_session_timeout_ms), (45_000, 60_000));
    assert_eq!(
        (c.min_heartbeat_interval_ms, c.max_heartbeat_interval_ms),
        (5_000, 15_000)
    );
    assert_eq!(c.max_size, i32::MAX as usize);
    assert_eq!(c.assignors, vec![Assignor::Uniform, Assignor::Range]);
    assert_eq!(c.validate(), Ok(()));
    for bad in [
        ConsumerGroupConfig {
            session_timeout_ms: 70_000,
            ..c.clone()
        },
        ConsumerGroupConfig {
            heartbeat_interval_ms: 4_000,
            ..c.clone()
        },
        ConsumerGroupConfig {
            heartbeat_interval_ms: 50_000,
            max_heartbeat_interval_ms: 60_000,
            ..c.clone()
        },
        ConsumerGroupConfig {
            assignors: Vec::new(),
            ..c.clone()
        },
        ConsumerGroupConfig {
            max_size: 0,
            ..c.clone()
        },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
    }
    assert_eq!(GroupState::Assigning.name(), "Assigning");
}

// ---------------------------------------------------------------------------------------------------
// Random schedules.

/// A simulated KIP-848 client (roughly librdkafka's behaviour).
#[derive(Debug, Clone)]
struct Client {
    member_id: String,
    instance: Option<String>,
    names: Option<Vec<String>>,
    regex: Option<String>,
    /// 0 while (re)joining.
    epoch: i32,
    /// What it holds now.
    owned: Assignment,
    /// The last assignment it was sent.
    assigned: Assignment,
    /// Heartbeats left before it gives up the partitions it was told to revoke.
    revoke_delay: u64,
    next_beat: Ms,
    /// After a lost answer it sends a full request.
    full_next: bool,
    /// Crashed or left: when it comes back (None: never).
    away_until: Option<Option<Ms>>,
}

const SIM_SESSION: i32 = 10_000;
const SIM_INTERVAL: i32 = 2_000;
const SIM_REBALANCE: i32 = 8_000;

fn sim_config() -> ConsumerGroupConfig {
    ConsumerGroupConfig {
        session_timeout_ms: SIM_SESSION,
        min_session_timeout_ms: SIM_SESSION,
        max_session_timeout_ms: SIM_SESSION,
        heartbeat_interval_ms: SIM_INTERVAL,
        min_heartbeat_interval_ms: SIM_INTERVAL,
        max_heartbeat_interval_ms: SIM_INTERVAL,
        ..ConsumerGroupConfig::default()
    }
}

fn rng(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n.max(1)
    }
}

impl Client {
    fn request(&mut self) -> HeartbeatRequest {
        let mut r = if self.epoch == 0 {
            HeartbeatRequest {
                subscribed_topic_names: self.names.clone(),
                subscribed_topic_regex: self.regex.clone(),
                ..join("g", &self.member_id, &[])
            }
        } else {
            beat("g", &self.member_id, self.epoch, &self.owned)
        };
        r.rebalance_timeout_ms = if self.epoch == 0 || self.full_next {
            SIM_REBALANCE
        } else {
            -1
        };
        if self.full_next && self.epoch != 0 {
            r.subscribed_topic_names = Some(self.names.clone().unwrap_or_default());
        }
        r.instance_id = self.instance.clone();
        r
    }

    /// Gives up everything (fenced, crashed) and rejoins with epoch 0.
    fn reset(&mut self) {
        self.epoch = 0;
        self.owned.clear();
        self.assigned.clear();
        self.revoke_delay = 0;
        self.full_next = false;
    }

    fn answer(&mut self, r: &HeartbeatResponse, delay: u64) {
        match r.error {
            ErrorCode::None => {
                self.full_next = false;
                self.epoch = r.member_epoch;
                if let Some(new) = &r.assignment {
                    self.assigned = new.clone();
                    for (t, ps) in new {
                        self.owned.entry(*t).or_default().extend(ps);
                    }
                    let must_revoke = self.owned != self.assigned;
                    self.revoke_delay = if must_revoke { delay } else { 0 };
                }
            }
            ErrorCode::FencedMemberEpoch | ErrorCode::UnknownMemberId => self.reset(),
            // The instance is still held by a previous incarnation: retry until its session expires.
            ErrorCode::UnreleasedInstanceId => {}
            e => panic!("unexpected {e:?}: {r:?}"),
        }
    }

    /// Before a heartbeat: revoke what it was told to once its delay is over.
    fn maybe_revoke(&mut self) {
        if self.revoke_delay > 0 {
            self.revoke_delay -= 1;
            return;
        }
        self.owned = self
            .owned
            .iter()
            .filter_map(|(t, ps)| {
                let keep: BTreeSet<i32> = ps
                    .iter()
                    .copied()
                    .filter(|p| self.assigned.get(t).is_some_and(|a| a.contains(p)))
                    .collect();
                (!keep.is_empty()).then_some((*t, keep))
            })
            .collect();
    }
}

/// Members join, heartbeat late or on time, revoke slowly, lose answers, crash, leave (static ones with
/// -2 and come back with a new member id), and topics change, at random. After every step: no partition
/// owned by two members, member epochs at most the group epoch. Then, with every remaining client
/// heartbeating promptly and nothing changing, the group converges to Stable with every subscribed
/// partition assigned exactly once, each client holding exactly what the coordinator assigned it; and
/// replaying every emitted record rebuilds the same state. A failing seed is printed; rerun one with
/// `KZERO_SEED=<seed> cargo test -p server --lib group::consumer`.
#[test]
fn random_schedules_never_double_assign_and_converge() {
    let seeds: Vec<u64> = match std::env::var("KZERO_SEED") {
        Ok(s) => vec![s.parse().expect("KZERO_SEED is a number")],
        Err(_) => (1..=150).collect(),
    };
    for seed in seeds {
        if let Err(e) = std::panic::catch_unwind(|| simulate(seed)) {
            eprintln!("failing seed: {seed} (replay with KZERO_SEED={seed})");
            std::panic::resume_unwind(e);
        }
    }
}

/// What clients hold: no partition held by two clients in good standing (present, and still members for
/// the coordinator; a fenced client is a zombie until it hears so, as in Kafka), and nothing a client holds
/// that the coordinator does not count as its own (assigned or pending revocation).
fn check_clients(s: &Sim, clients: &[Client], ctx: &str) {
    let Some(g) = s.c.groups.get("g") else {
        return;
    };
    let mut held = BTreeMap::new();
    for c in clients.iter().filter(|c| c.away_until.is_none()) {
        let Some(m) = g.members.get(&c.member_id) else {
            continue;
        };
        for (t, ps) in &c.owned {
            for p in ps {
                let by_coordinator = [&m.current.assigned, &m.current.pending_revocation]
                    .iter()
                    .any(|a| a.get(t).is_some_and(|s| s.contains(p)));
                assert!(
                    by_coordinator,
                    "{ctx}: {} holds {t:?}-{p} the coordinator does not give it",
                    c.member_id
                );
                if let Some(other) = held.insert((*t, *p), &c.member_id) {
                    panic!("{ctx}: {t:?}-{p} held by {other} and {}", c.member_id);
                }
            }
        }
    }
}

fn simulate(seed: u64) {
    let mut next = rng(seed);
    let mut s = Sim::with_config(
        sim_config(),
        topics(&[("t1", 1, 1 + next(6) as i32), ("t2", 2, next(4) as i32)]),
    );
    let mut clients: Vec<Client> = Vec::new();
    let mut incarnation = 0;
    let new_id = |incarnation: &mut u64, i: usize| {
        *incarnation += 1;
        format!("c{i}-{incarnation}")
    };

    let beat_client = |s: &mut Sim, c: &mut Client, lose: bool, delay: u64, ctx: &str| {
        c.maybe_revoke();
        let req = c.request();
        let r = s.hb(req);
        if r.error == ErrorCode::None && !s.c.groups.is_empty() {
            // The coordinator's view: never a partition the client does not know it may hold.
            let g = &s.c.groups["g"];
            if let Some(m) = g.members.get(&c.member_id) {
                assert!(
                    r.assignment.as_ref().is_none_or(|a| *a == m.current.assigned),
                    "{ctx}: the answer is the member's assigned set"
                );
            }
        }
        if lose {
            c.full_next = true;
        } else {
            c.answer(&r, delay);
        }
        c.next_beat = s.now + Ms::from(SIM_INTERVAL);
    };

    for step in 0..300 {
        let ctx = format!("seed {seed} step {step}");
        s.advance(1 + next(1500) as Ms);
        match next(30) {
            0 | 1 if clients.len() < 6 => {
                let i = clients.len();
                let subscription = next(3);
                clients.push(Client {
                    member_id: new_id(&mut incarnation, i),
                    instance: (next(3) == 0).then(|| format!("instance-{i}")),
                    names: match subscription {
                        0 => Some(vec!["t1".into()]),
                        1 => Some(vec!["t1".into(), "t2".into()]),
                        _ => None,
                    },
                    regex: (subscription == 2).then(|| "t[0-9]+".into()),
                    epoch: 0,
                    owned: Assignment::new(),
                    assigned: Assignment::new(),
                    revoke_delay: 0,
                    next_beat: s.now,
                    full_next: false,
                    away_until: None,
                });
            }
            2 if !clients.is_empty() => {
                // Leave: -2 for static members half of the time (then come back later with a new id).
                let i = next(clients.len() as u64) as usize;
                let c = &mut clients[i];
                if c.away_until.is_none() && c.epoch > 0 {
                    let epoch = if c.instance.is_some() && next(2) == 0 {
                        STATIC_LEAVE_EPOCH
                    } else {
                        LEAVE_EPOCH
                    };
                    let mut req = leave("g", &c.member_id, epoch);
                    req.instance_id = c.instance.clone();
                    let r = s.hb(req);
                    assert!(
                        matches!(
                            r.error,
                            ErrorCode::None | ErrorCode::UnknownMemberId | ErrorCode::FencedInstanceId
                        ),
                        "{ctx}: {r:?}"
                    );
                    c.reset();
                    c.away_until = Some((next(2) == 0).then_some(s.now + next(20_000) as Ms));
                }
            }
            3 if !clients.is_empty() => {
                // Crash: everything is lost; it restarts later (a static one with a new member id).
                let i = next(clients.len() as u64) as usize;
                let c = &mut clients[i];
                if c.away_until.is_none() {
                    c.reset();
                    c.away_until = Some(Some(s.now + next(25_000) as Ms));
                }
            }
            4 => {
                // Metadata: partitions added, or a topic created or deleted.
                let mut t = s.topics.clone();
                match next(3) {
                    0 => {
                        if let Some(e) = t.get_mut("t1") {
                            e.1 += 1;
                        }
                    }
                    1 => {
                        t.insert("t3".into(), (tid(3), 1 + next(3) as i32));
                    }
                    _ => {
                        t.remove("t3");
                    }
                }
                s.set_topics(t);
            }
            _ => {}
        }
        // Clients come back, and heartbeat when due (some late, some with slow revocations).
        for (i, c) in clients.iter_mut().enumerate() {
            if let Some(Some(until)) = c.away_until {
                if until <= s.now {
                    c.away_until = None;
                    if c.instance.is_some() {
                        c.member_id = new_id(&mut incarnation, i);
                    }
                    c.next_beat = s.now;
                }
            }
            if c.away_until.is_some() || c.next_beat > s.now {
                continue;
            }
            let lose = next(15) == 0;
            let delay = next(4);
            let late = next(40) == 0;
            beat_client(&mut s, c, lose, delay, &ctx);
            if late {
                c.next_beat += Ms::from(SIM_SESSION);
            }
        }
        check_clients(&s, &clients, &ctx);
    }

    // Quiet period: nothing changes, everyone present heartbeats promptly and revokes at once. Long
    // enough for absent members to be fenced and the rest to converge.
    clients.retain(|c| c.away_until.is_none() || matches!(c.away_until, Some(Some(_))));
    for c in &mut clients {
        if c.away_until.is_some() {
            c.away_until = None;
            if c.instance.is_some() {
                c.member_id = new_id(&mut incarnation, 99);
            }
        }
        c.next_beat = s.now;
    }
    for round in 0..40 {
        let ctx = format!("seed {seed} quiet round {round}");
        s.advance(1_000);
        for c in clients.iter_mut() {
            if c.next_beat <= s.now {
                beat_client(&mut s, c, false, 0, &ctx);
                c.next_beat = s.now + 1_000;
            }
        }
    }
    let ctx = format!("seed {seed} at the end");
    if clients.is_empty() {
        assert!(s.c.groups.values().all(|g| g.members.is_empty()), "{ctx}");
    } else {
        let g = &s.c.groups["g"];
        assert_eq!(g.state(), GroupState::Stable, "{ctx}: {g:#?}");
        assert_eq!(g.members.len(), clients.len(), "{ctx}: members {:?}", g.members.keys());
        // Every partition of every subscribed topic, exactly once.
        let mut seen = BTreeSet::new();
        for m in g.members.values() {
            for (t, ps) in &m.current.assigned {
                for p in ps {
                    assert!(seen.insert((*t, *p)), "{ctx}: {t:?}-{p} twice");
                }
            }
        }
        let subscribed: BTreeSet<&str> = g.subscribed_names();
        let expected: BTreeSet<(TopicId, i32)> = s
            .topics
            .iter()
            .filter(|(n, _)| subscribed.contains(n.as_str()))
            .flat_map(|(_, (id, n))| (0..*n).map(move |p| (*id, p)))
            .collect();
        assert_eq!(seen, expected, "{ctx}: every subscribed partition is assigned");
        for c in &clients {
            let m = &g.members[&c.member_id];
            assert_eq!(
                c.owned, m.current.assigned,
                "{ctx}: {} holds what it was assigned",
                c.member_id
            );
            assert_eq!(c.epoch, m.current.member_epoch, "{ctx}");
            assert_eq!(c.epoch, g.group_epoch, "{ctx}");
        }
        check_group(g, &ctx);
    }
    check_replay(&s.c, &s.log, &ctx);
    // The records a heartbeat emits are of the known types.
    assert!(s.log.iter().all(|r| [3, 5, 6, 7, 8, 16].contains(&r.record_type())));
}

#[test]
fn members_of_a_reconciling_group_heartbeat_sooner() {
    let mut s = Sim::new(topics(T));
    let r = s.ok(join("g", "m1", &["t"]));
    // Alone and at once stable: the configured interval.
    assert_eq!(r.heartbeat_interval_ms, 5_000);
    assert_eq!(s.c.state("g"), Some(GroupState::Stable));
    // A second member joins: it must wait for m1 to release partitions, so it comes back sooner.
    let r = s.ok(join("g", "m2", &["t"]));
    assert_ne!(s.c.state("g"), Some(GroupState::Stable));
    assert_eq!(r.heartbeat_interval_ms, RECONCILING_HEARTBEAT_MS);
}
