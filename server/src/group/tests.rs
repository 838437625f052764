//! The coordinator's rules, driven without sockets or clocks: joins and the initial delay, rebalances that
//! complete as soon as everyone rejoined, session expiry, static membership, protocol votes, error codes,
//! offsets, unloading, and random schedules of concurrent joins (seeded; `KZERO_SEED=<n>` replays one).
//! Then the driver over a real `ReplicaManager`: groups follow the leadership of their `__consumer_offsets`
//! partition.

use std::collections::HashMap;

use bytes::Bytes;
use protocol::ErrorCode;

use super::classic::*;
use super::offsets::*;

const SESSION: i32 = 10_000;
const REBALANCE: i32 = 60_000;

/// A coordinator with a clock and a mailbox of answers by ticket.
struct Sim {
    c: Coordinator,
    now: Ms,
    next: Ticket,
    joins: HashMap<Ticket, JoinResult>,
    syncs: HashMap<Ticket, SyncResult>,
    stored: Vec<GroupSnapshot>,
}

impl Sim {
    fn new() -> Sim {
        Sim {
            c: Coordinator::new(GroupConfig::default()),
            now: 1_000_000,
            next: 0,
            joins: HashMap::new(),
            syncs: HashMap::new(),
            stored: Vec::new(),
        }
    }

    fn take(&mut self, out: Vec<Output>) {
        for o in out {
            match o {
                Output::Join(t, r) => assert!(self.joins.insert(t, r).is_none(), "ticket {t} answered twice"),
                Output::Sync(t, r) => assert!(self.syncs.insert(t, r).is_none(), "ticket {t} answered twice"),
                Output::Store(s) => self.stored.push(s),
            }
        }
    }

    fn join_with(&mut self, group: &str, member: &str, instance: Option<&str>, protocols: &[&str]) -> Ticket {
        self.next += 1;
        let t = self.next;
        let req = JoinRequest {
            group_id: group.into(),
            member_id: member.into(),
            instance_id: instance.map(Into::into),
            client_id: "client".into(),
            client_host: "/127.0.0.1".into(),
            session_timeout_ms: SESSION,
            rebalance_timeout_ms: REBALANCE,
            protocol_type: "consumer".into(),
            protocols: protocols
                .iter()
                .map(|p| (p.to_string(), Bytes::from(format!("meta-{p}-{member}"))))
                .collect(),
            require_known_member_id: true,
            supports_skip_assignment: true,
        };
        let out = self.c.groups.join(req, t, self.now);
        self.take(out);
        t
    }

    fn join(&mut self, group: &str, member: &str) -> Ticket {
        self.join_with(group, member, None, &["range"])
    }

    /// A new dynamic member's two-round join (MEMBER_ID_REQUIRED, then the join): its id and ticket.
    fn join_new(&mut self, group: &str) -> (String, Ticket) {
        let t = self.join(group, "");
        let r = self.joins.remove(&t).expect("MEMBER_ID_REQUIRED at once");
        assert_eq!(r.error, ErrorCode::MemberIdRequired);
        let id = r.member_id;
        (id.clone(), self.join(group, &id))
    }

    fn sync(&mut self, group: &str, generation: i32, member: &str, assignments: &[(&str, &str)]) -> Ticket {
        self.next += 1;
        let t = self.next;
        let req = SyncRequest {
            group_id: group.into(),
            generation,
            member_id: member.into(),
            instance_id: None,
            protocol_type: Some("consumer".into()),
            protocol_name: None,
            assignments: assignments
                .iter()
                .map(|(m, a)| (m.to_string(), Bytes::from(a.to_string())))
                .collect(),
        };
        let out = self.c.groups.sync(req, t, self.now);
        self.take(out);
        t
    }

    fn heartbeat(&mut self, group: &str, generation: i32, member: &str) -> ErrorCode {
        self.c.groups.heartbeat(group, generation, member, None, self.now)
    }

    fn advance(&mut self, ms: Ms) {
        let end = self.now + ms;
        while let Some(d) = self.c.groups.next_deadline().filter(|d| *d <= end) {
            self.now = d.max(self.now);
            let out = self.c.groups.tick(self.now);
            self.take(out);
        }
        self.now = end;
        let out = self.c.groups.tick(self.now);
        self.take(out);
    }

    fn state(&self, group: &str) -> GroupState {
        self.c.groups.get(group).map_or(GroupState::Dead, |g| g.state())
    }
}

#[test]
fn a_first_member_waits_out_the_initial_delay_then_leads_generation_one() {
    let mut s = Sim::new();
    let (id, t) = s.join_new("g");
    assert_eq!(s.state("g"), GroupState::PreparingRebalance);
    s.advance(2999);
    assert!(!s.joins.contains_key(&t), "answered before the initial delay");
    s.advance(1);
    let r = s.joins.remove(&t).unwrap();
    assert_eq!(
        (r.error, r.generation, r.leader.as_str()),
        (ErrorCode::None, 1, id.as_str())
    );
    assert_eq!(r.protocol_name.as_deref(), Some("range"));
    assert_eq!(r.members.len(), 1);
    assert_eq!(s.state("g"), GroupState::CompletingRebalance);
    let sync = s.sync("g", 1, &id, &[(&id, "p0,p1")]);
    assert_eq!(s.syncs[&sync].assignment, Bytes::from("p0,p1"));
    assert_eq!(s.state("g"), GroupState::Stable);
    assert_eq!(s.stored.last().unwrap().members[0].assignment, Bytes::from("p0,p1"));
    assert_eq!(s.heartbeat("g", 1, &id), ErrorCode::None);
}

#[test]
fn each_new_member_during_the_initial_delay_extends_it() {
    let mut s = Sim::new();
    let (a, ta) = s.join_new("g");
    s.advance(2000);
    let (b, tb) = s.join_new("g");
    // At 3 s a member had arrived: another 3 s.
    s.advance(1000);
    assert!(s.joins.is_empty());
    s.advance(3000);
    let (ra, rb) = (s.joins.remove(&ta).unwrap(), s.joins.remove(&tb).unwrap());
    assert_eq!((ra.generation, rb.generation), (1, 1));
    assert_eq!(ra.leader, a);
    assert_eq!(ra.members.len(), 2, "the leader gets every member");
    assert!(rb.members.is_empty(), "followers get no member list");
    assert_eq!(rb.member_id, b);
}

/// A stable group of `n` members at generation 1 with everyone synced.
fn stable_group(s: &mut Sim, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut tickets = Vec::new();
    for _ in 0..n {
        let (id, t) = s.join_new("g");
        ids.push(id);
        tickets.push(t);
    }
    // Members joining together extend the initial delay once each.
    for _ in 0..60 {
        if tickets.iter().all(|t| s.joins.contains_key(t)) {
            break;
        }
        s.advance(1000);
    }
    for t in &tickets {
        assert_eq!(s.joins.remove(t).unwrap().generation, 1);
    }
    let leader = s.c.groups.get("g").unwrap().clone();
    let leader_id = ids
        .iter()
        .find(|i| leader.leader() == Some(i.as_str()))
        .unwrap()
        .clone();
    let assignments: Vec<(String, String)> = ids.iter().map(|i| (i.clone(), format!("for-{i}"))).collect();
    let refs: Vec<(&str, &str)> = assignments.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    for id in &ids {
        if *id != leader_id {
            s.sync("g", 1, id, &[]);
        }
    }
    s.sync("g", 1, &leader_id, &refs);
    assert_eq!(s.state("g"), GroupState::Stable);
    s.syncs.clear();
    ids
}

#[test]
fn followers_are_answered_only_when_the_leader_assigns() {
    let mut s = Sim::new();
    let ids = {
        let mut ids = Vec::new();
        let mut ts = Vec::new();
        for _ in 0..2 {
            let (id, t) = s.join_new("g");
            ids.push(id);
            ts.push(t);
        }
        s.advance(6000);
        ids
    };
    let follower = s.sync("g", 1, &ids[1], &[]);
    assert!(
        !s.syncs.contains_key(&follower),
        "a follower is parked until the leader's assignment"
    );
    s.sync("g", 1, &ids[0], &[(&ids[0], "a"), (&ids[1], "b")]);
    assert_eq!(s.syncs[&follower].assignment, Bytes::from("b"));
}

#[test]
fn a_rebalance_completes_as_soon_as_every_member_rejoined() {
    let mut s = Sim::new();
    let ids = stable_group(&mut s, 2);
    let (c, tc) = s.join_new("g");
    assert_eq!(s.state("g"), GroupState::PreparingRebalance);
    // The others learn it from their heartbeats and rejoin; no timer is waited out.
    assert_eq!(s.heartbeat("g", 1, &ids[0]), ErrorCode::RebalanceInProgress);
    let t0 = s.join("g", &ids[0]);
    assert!(!s.joins.contains_key(&tc));
    let t1 = s.join("g", &ids[1]);
    for t in [t0, t1, tc] {
        assert_eq!(s.joins[&t].generation, 2, "ticket {t}");
    }
    assert_eq!(s.state("g"), GroupState::CompletingRebalance);
    let _ = c;
}

#[test]
fn a_member_that_stops_heartbeating_is_expelled_and_the_rest_rebalance() {
    let mut s = Sim::new();
    let ids = stable_group(&mut s, 2);
    // Member 0 keeps heartbeating; member 1 goes silent and is expelled at its session timeout (10 s).
    for _ in 0..2 {
        s.advance(4000);
        assert_eq!(s.heartbeat("g", 1, &ids[0]), ErrorCode::None);
    }
    assert_eq!(s.state("g"), GroupState::Stable);
    s.advance(4000);
    assert_eq!(s.state("g"), GroupState::PreparingRebalance);
    assert_eq!(s.heartbeat("g", 1, &ids[1]), ErrorCode::UnknownMemberId);
    assert_eq!(s.heartbeat("g", 1, &ids[0]), ErrorCode::RebalanceInProgress);
    let t = s.join("g", &ids[0]);
    let r = &s.joins[&t];
    assert_eq!((r.generation, r.members.len()), (2, 1));
}

#[test]
fn a_group_never_stays_in_preparing_rebalance() {
    let mut s = Sim::new();
    let ids = stable_group(&mut s, 2);
    let (_, tc) = s.join_new("g");
    // The others stay alive (heartbeats) but never rejoin: the join phase completes at the rebalance
    // timeout without them.
    for _ in 0..12 {
        assert!(!s.joins.contains_key(&tc));
        for id in &ids {
            assert_eq!(s.heartbeat("g", 1, id), ErrorCode::RebalanceInProgress);
        }
        s.advance(i64::from(REBALANCE) / 12);
    }
    let r = &s.joins[&tc];
    assert_eq!((r.error, r.generation), (ErrorCode::None, 2));
    assert_eq!(s.state("g"), GroupState::CompletingRebalance);
    assert_eq!(s.heartbeat("g", 2, &ids[0]), ErrorCode::UnknownMemberId);
}

#[test]
fn members_that_never_sync_are_removed_after_the_rebalance_timeout() {
    let mut s = Sim::new();
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.push(s.join_new("g").0);
    }
    s.advance(6000);
    let leader = s.c.groups.get("g").unwrap().leader().unwrap().to_string();
    let follower = ids.iter().find(|i| **i != leader).unwrap().clone();
    // Only the follower syncs; the leader heartbeats but never sends its assignment.
    let t = s.sync("g", 1, &follower, &[]);
    for _ in 0..12 {
        assert_eq!(s.heartbeat("g", 1, &follower), ErrorCode::None);
        assert_eq!(s.heartbeat("g", 1, &leader), ErrorCode::None);
        s.advance(i64::from(REBALANCE) / 12);
    }
    assert_eq!(s.state("g"), GroupState::PreparingRebalance);
    assert_eq!(s.syncs[&t].error, ErrorCode::RebalanceInProgress);
    assert_eq!(s.heartbeat("g", 1, &leader), ErrorCode::UnknownMemberId);
}

#[test]
fn a_static_member_restarting_gets_its_assignment_back_without_a_rebalance() {
    let mut s = Sim::new();
    let t = s.join_with("g", "", Some("instance-1"), &["range"]);
    s.advance(3000);
    let first = s.joins.remove(&t).unwrap();
    s.sync("g", 1, &first.member_id, &[(&first.member_id, "mine")]);
    // The process restarts: same instance id, no member id.
    let t = s.join_with("g", "", Some("instance-1"), &["range"]);
    let again = s.joins.remove(&t).expect("answered at once");
    assert_eq!((again.error, again.generation), (ErrorCode::None, 1));
    assert_ne!(again.member_id, first.member_id);
    assert!(again.skip_assignment, "the static leader keeps the current assignment");
    assert_eq!(s.state("g"), GroupState::Stable);
    // Its SyncGroup returns the assignment it had; the old member id is fenced.
    let sync = s.sync("g", 1, &again.member_id, &[]);
    assert_eq!(s.syncs[&sync].assignment, Bytes::from("mine"));
    assert_eq!(
        s.c.groups
            .heartbeat("g", 1, &first.member_id, Some("instance-1"), s.now),
        ErrorCode::FencedInstanceId
    );
}

#[test]
fn protocols_are_chosen_by_vote_among_those_every_member_supports() {
    let mut s = Sim::new();
    let t1 = s.join_with("g", "", None, &["range", "roundrobin"]);
    let a = s.joins.remove(&t1).unwrap().member_id;
    let t1 = s.join_with("g", &a, None, &["range", "roundrobin"]);
    let t2 = s.join_with("g", "", None, &["roundrobin", "range", "sticky"]);
    let b = s.joins.remove(&t2).unwrap().member_id;
    let t2 = s.join_with("g", &b, None, &["roundrobin", "range", "sticky"]);
    let t3 = s.join_with("g", "", None, &["roundrobin", "range"]);
    let c = s.joins.remove(&t3).unwrap().member_id;
    let t3 = s.join_with("g", &c, None, &["roundrobin", "range"]);
    s.advance(10_000);
    for t in [t1, t2, t3] {
        assert_eq!(s.joins[&t].protocol_name.as_deref(), Some("roundrobin"));
    }
    // A member offering nothing the group speaks is refused.
    let t = s.join_with("g", "", None, &["sticky"]);
    assert_eq!(s.joins[&t].error, ErrorCode::InconsistentGroupProtocol);
}

#[test]
fn wrong_calls_get_kafkas_error_codes() {
    let mut s = Sim::new();
    let ids = stable_group(&mut s, 1);
    assert_eq!(s.heartbeat("g", 1, "nobody"), ErrorCode::UnknownMemberId);
    assert_eq!(s.heartbeat("g", 7, &ids[0]), ErrorCode::IllegalGeneration);
    assert_eq!(s.heartbeat("nope", 1, &ids[0]), ErrorCode::UnknownMemberId);
    let t = s.sync("g", 9, &ids[0], &[]);
    assert_eq!(s.syncs[&t].error, ErrorCode::IllegalGeneration);
    let t = s.join("other", "made-up-id");
    assert_eq!(s.joins[&t].error, ErrorCode::UnknownMemberId);
    let t = s.join("", "");
    assert_eq!(s.joins[&t].error, ErrorCode::InvalidGroupId);
    s.next += 1;
    let bad = JoinRequest {
        group_id: "g".into(),
        member_id: String::new(),
        instance_id: None,
        client_id: "c".into(),
        client_host: "h".into(),
        session_timeout_ms: 10,
        rebalance_timeout_ms: 10,
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), Bytes::new())],
        require_known_member_id: true,
        supports_skip_assignment: true,
    };
    let out = s.c.groups.join(bad, s.next, s.now);
    assert!(matches!(&out[..], [Output::Join(_, r)] if r.error == ErrorCode::InvalidSessionTimeout));
    let (top, each, _) =
        s.c.groups
            .leave("g", &[("ghost".into(), None), (ids[0].clone(), None)], s.now);
    assert_eq!(
        (top, each),
        (ErrorCode::None, vec![ErrorCode::UnknownMemberId, ErrorCode::None])
    );
    // The last member left: the group goes through a rebalance to Empty (generation 2).
    assert_eq!(s.state("g"), GroupState::Empty);
    assert_eq!(s.c.groups.get("g").unwrap().generation(), 2);
}

/// Five members joining in a random order, at random times, with random heartbeats, converge to one
/// generation in which every member is answered once, with one leader that lists them all.
#[test]
fn concurrent_joins_converge_to_one_stable_generation() {
    let seeds: Vec<u64> = match std::env::var("KZERO_SEED") {
        Ok(s) => vec![s.parse().expect("KZERO_SEED is a number")],
        Err(_) => (1..=200).collect(),
    };
    for seed in seeds {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut rnd = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let mut s = Sim::new();
        let mut members: Vec<(String, Ticket)> = Vec::new();
        for _ in 0..5 {
            s.advance(rnd(1500) as Ms);
            members.push(s.join_new("g"));
        }
        // Everyone waits for its answer; answered members heartbeat now and then (a heartbeat never
        // completes a join).
        for _ in 0..20 {
            s.advance(500 + rnd(1000) as Ms);
            let answered: Vec<(String, i32)> = members
                .iter()
                .filter_map(|(id, t)| s.joins.get(t).map(|r| (id.clone(), r.generation)))
                .collect();
            for (id, generation) in answered {
                assert_eq!(s.heartbeat("g", generation, &id), ErrorCode::None, "seed {seed}");
            }
        }
        let answers: Vec<&JoinResult> = members
            .iter()
            .map(|(_, t)| {
                s.joins
                    .get(t)
                    .unwrap_or_else(|| panic!("seed {seed}: a member was never answered"))
            })
            .collect();
        let generation = answers[0].generation;
        assert!(
            answers
                .iter()
                .all(|a| a.error == ErrorCode::None && a.generation == generation),
            "seed {seed}: {answers:?}"
        );
        let leaders: Vec<&&JoinResult> = answers.iter().filter(|a| !a.members.is_empty()).collect();
        assert_eq!(leaders.len(), 1, "seed {seed}: one leader");
        assert_eq!(leaders[0].members.len(), 5, "seed {seed}");
        // The leader assigns partitions 0..8 round-robin; every partition is owned exactly once.
        let ids: Vec<String> = members.iter().map(|(id, _)| id.clone()).collect();
        let leader = leaders[0].member_id.clone();
        let assignment: Vec<(String, String)> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let parts: Vec<String> = (0..8).filter(|p| p % 5 == i).map(|p| p.to_string()).collect();
                (id.clone(), parts.join(","))
            })
            .collect();
        let mut tickets = Vec::new();
        for id in ids.iter().filter(|id| **id != leader) {
            tickets.push(s.sync("g", generation, id, &[]));
        }
        let refs: Vec<(&str, &str)> = assignment.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        tickets.push(s.sync("g", generation, &leader, &refs));
        let mut owned: Vec<String> = tickets
            .iter()
            .flat_map(|t| {
                String::from_utf8(s.syncs[t].assignment.to_vec())
                    .unwrap()
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .collect();
        owned.sort_by_key(|p| p.parse::<i32>().unwrap());
        assert_eq!(owned, (0..8).map(|p| p.to_string()).collect::<Vec<_>>(), "seed {seed}");
        assert_eq!(s.state("g"), GroupState::Stable, "seed {seed}");
    }
}

fn commit(group: &str, generation: i32, member: &str, partitions: &[(&str, i32, i64)]) -> CommitRequest {
    CommitRequest {
        group_id: group.into(),
        generation,
        member_id: member.into(),
        instance_id: None,
        retention_ms: -1,
        version: 8,
        partitions: partitions
            .iter()
            .map(|(t, p, o)| (t.to_string(), *p, *o, -1, Some("m".to_string())))
            .collect(),
    }
}

#[test]
fn offsets_are_committed_checked_against_the_group_and_fetched() {
    let mut s = Sim::new();
    // A simple consumer (no generation) creates an empty group.
    let (errors, records) = s.c.commit(&commit("simple", -1, "", &[("t", 0, 42)]), s.now);
    assert_eq!(errors, vec![ErrorCode::None]);
    assert_eq!(records.len(), 1);
    assert_eq!(s.c.fetch("simple", "t", 0).unwrap().offset, 42);
    assert!(s.c.fetch("simple", "t", 1).is_none());
    assert!(s.c.fetch("unknown", "t", 0).is_none());
    // A group member commits with its generation; a stale generation or an unknown member is refused.
    let ids = stable_group(&mut s, 1);
    let (errors, _) = s.c.commit(&commit("g", 1, &ids[0], &[("t", 0, 7), ("t", 1, 8)]), s.now);
    assert_eq!(errors, vec![ErrorCode::None; 2]);
    let (errors, _) = s.c.commit(&commit("g", 0, &ids[0], &[("t", 0, 9)]), s.now);
    assert_eq!(errors, vec![ErrorCode::IllegalGeneration]);
    let (errors, _) = s.c.commit(&commit("g", 1, "stranger", &[("t", 0, 9)]), s.now);
    assert_eq!(errors, vec![ErrorCode::UnknownMemberId]);
    let (errors, _) = s.c.commit(&commit("nope", 3, "x", &[("t", 0, 9)]), s.now);
    assert_eq!(errors, vec![ErrorCode::IllegalGeneration]);
    let mut v9 = commit("nope", 3, "x", &[("t", 0, 9)]);
    v9.version = 9;
    assert_eq!(s.c.commit(&v9, s.now).0, vec![ErrorCode::GroupIdNotFound]);
    let mut big = commit("g", 1, &ids[0], &[("t", 2, 1)]);
    big.partitions[0].4 = Some("x".repeat(4097));
    assert_eq!(s.c.commit(&big, s.now).0, vec![ErrorCode::OffsetMetadataTooLarge]);
    assert_eq!(s.c.fetch_all("g").len(), 2);
}

#[test]
fn groups_with_members_cannot_be_deleted_and_empty_ones_leave_tombstones() {
    let mut s = Sim::new();
    let ids = stable_group(&mut s, 1);
    s.c.commit(&commit("g", 1, &ids[0], &[("t", 0, 5)]), s.now);
    let (errors, _) = s.c.delete_groups(&["g".into(), "missing".into()]);
    assert_eq!(errors, vec![ErrorCode::NonEmptyGroup, ErrorCode::GroupIdNotFound]);
    s.c.groups.leave("g", &[(ids[0].clone(), None)], s.now);
    let (errors, records) = s.c.delete_groups(&["g".into()]);
    assert_eq!(errors, vec![ErrorCode::None]);
    assert!(records.contains(&Record::Offset {
        group: "g".into(),
        topic: "t".into(),
        partition: 0,
        value: None
    }));
    assert!(records.contains(&Record::Group {
        group: "g".into(),
        value: None
    }));
    assert!(s.c.fetch("g", "t", 0).is_none());
}

#[test]
fn offsets_of_an_empty_group_expire_after_the_retention() {
    let mut s = Sim::new();
    let ids = stable_group(&mut s, 1);
    s.c.commit(&commit("g", 1, &ids[0], &[("t", 0, 5)]), s.now);
    let week = 7 * 24 * 3600 * 1000;
    // While the group is Stable nothing expires.
    s.advance(1000);
    assert_eq!(s.heartbeat("g", 1, &ids[0]), ErrorCode::None);
    assert!(s.c.expire(s.now + week * 2, week).is_empty());
    s.c.groups.leave("g", &[(ids[0].clone(), None)], s.now);
    assert_eq!(s.state("g"), GroupState::Empty);
    assert!(s.c.expire(s.now + week - 1, week).is_empty());
    let records = s.c.expire(s.now + week, week);
    assert_eq!(records.len(), 2, "the offset and then the empty group: {records:?}");
    assert_eq!(s.state("g"), GroupState::Dead);
}

#[test]
fn replaying_the_records_rebuilds_groups_and_offsets() {
    let mut s = Sim::new();
    let ids = stable_group(&mut s, 2);
    let (_, mut records) =
        s.c.commit(&commit("g", 1, &ids[0], &[("t", 0, 11), ("t", 1, 12)]), s.now);
    records.extend(s.c.commit(&commit("g", 1, &ids[0], &[("t", 0, 13)]), s.now).1);
    let group_records: Vec<Record> = s
        .stored
        .iter()
        .map(|snap| Record::Group {
            group: snap.group_id.clone(),
            value: Some(snap.clone()),
        })
        .collect();
    let mut fresh = Coordinator::new(GroupConfig::default());
    for r in group_records.into_iter().chain(records) {
        fresh.replay(r, s.now);
    }
    assert_eq!(fresh.fetch("g", "t", 0).unwrap().offset, 13);
    assert_eq!(fresh.fetch("g", "t", 1).unwrap().offset, 12);
    let g = fresh.groups.get("g").unwrap();
    assert_eq!((g.state(), g.generation()), (GroupState::Stable, 1));
    assert_eq!(fresh.groups.heartbeat("g", 1, &ids[1], None, s.now), ErrorCode::None);
    // Members that do not come back are expelled after their session timeout, as after any load.
    assert_eq!(
        fresh.groups.heartbeat("g", 1, &ids[0], None, s.now + 5000),
        ErrorCode::None
    );
    let out = fresh.groups.tick(s.now + i64::from(SESSION) + 1);
    assert!(out.is_empty() || out.iter().all(|o| !matches!(o, Output::Join(..))));
    assert_eq!(fresh.groups.get("g").unwrap().state(), GroupState::PreparingRebalance);
}

#[test]
fn groups_map_to_partitions_by_javas_string_hash() {
    // kafka-facts-2 §1.3's vectors (50 partitions).
    for (group, partition) in [
        ("", 0),
        ("g", 3),
        ("my-group", 12),
        ("test-group", 12),
        ("console-consumer-12345", 6),
        ("polygenelubricants", 0),
        ("Aa", 12),
        ("BB", 12),
        ("grüppe", 12),
        ("😀", 49),
    ] {
        assert_eq!(super::partition_for(group, 50), partition, "{group:?}");
    }
}

#[test]
fn a_static_leader_rejoining_below_v9_is_told_the_old_leader_and_no_members() {
    let mut s = Sim::new();
    let t = s.join_with("g", "", Some("instance-1"), &["range"]);
    s.advance(3000);
    let first = s.joins.remove(&t).unwrap();
    s.sync("g", 1, &first.member_id, &[(&first.member_id, "mine")]);
    s.next += 1;
    let req = JoinRequest {
        group_id: "g".into(),
        member_id: String::new(),
        instance_id: Some("instance-1".into()),
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: SESSION,
        rebalance_timeout_ms: REBALANCE,
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), Bytes::from("meta-range-"))],
        require_known_member_id: true,
        supports_skip_assignment: false,
    };
    let out = s.c.groups.join(req, s.next, s.now);
    let Some(Output::Join(_, r)) = out.into_iter().find(|o| matches!(o, Output::Join(..))) else {
        panic!("no answer")
    };
    assert_eq!((r.error, r.generation), (ErrorCode::None, 1));
    assert_ne!(r.member_id, first.member_id);
    assert_eq!(
        r.leader, first.member_id,
        "the old leader id, so the member does not act as leader"
    );
    assert!(r.members.is_empty() && !r.skip_assignment);
    assert_eq!(s.state("g"), GroupState::Stable);
}

#[test]
fn a_deleted_topics_offsets_are_dropped_for_every_group() {
    let mut s = Sim::new();
    s.c.commit(&commit("a", -1, "", &[("gone", 0, 5), ("kept", 0, 6)]), s.now);
    s.c.commit(&commit("b", -1, "", &[("gone", 1, 7)]), s.now);
    let records = s.c.topic_deleted("gone");
    assert_eq!(records.len(), 2);
    assert!(records
        .iter()
        .all(|r| matches!(r, Record::Offset { topic, value: None, .. } if topic == "gone")));
    assert!(s.c.fetch("a", "gone", 0).is_none());
    assert_eq!(s.c.fetch("a", "kept", 0).unwrap().offset, 6);
    assert!(s.c.fetch_all("b").is_empty());
}

/// A KIP-848 join of `member` to `group`, subscribing to topic `t` (id 1, two partitions).
fn kip848_join(s: &mut Sim, group: &str, member: &str) -> super::consumer::HeartbeatResponse {
    let topics: super::consumer::Topics = [("t".to_string(), (crate::topic_id::TopicId([1; 16]), 2))]
        .into_iter()
        .collect();
    s.c.consumer
        .heartbeat(&kip848_join_request(group, member), s.now, &topics)
        .0
}

/// A KIP-848 member's first heartbeat, subscribing to topic `t`.
fn kip848_join_request(group: &str, member: &str) -> super::consumer::HeartbeatRequest {
    super::consumer::HeartbeatRequest {
        version: 1,
        group_id: group.into(),
        member_id: member.into(),
        member_epoch: 0,
        instance_id: None,
        rack_id: None,
        rebalance_timeout_ms: REBALANCE,
        subscribed_topic_names: Some(vec!["t".into()]),
        subscribed_topic_regex: None,
        server_assignor: None,
        topic_partitions: Some(Vec::new()),
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        describable: None,
    }
}

/// `member` leaves `group` (epoch -1).
fn kip848_leave(s: &mut Sim, group: &str, member: &str) {
    let req = super::consumer::HeartbeatRequest {
        member_epoch: super::consumer::LEAVE_EPOCH,
        rebalance_timeout_ms: -1,
        subscribed_topic_names: None,
        topic_partitions: None,
        member_id: member.into(),
        group_id: group.into(),
        version: 1,
        instance_id: None,
        rack_id: None,
        subscribed_topic_regex: None,
        server_assignor: None,
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        describable: None,
    };
    let r = s.c.consumer.heartbeat(&req, s.now, &Default::default()).0;
    assert_eq!(r.error, ErrorCode::None);
}

#[test]
fn a_group_id_belongs_to_one_protocol_and_empty_groups_convert() {
    let mut s = Sim::new();
    // An empty classic group (offsets only) becomes a consumer group: its metadata is tombstoned.
    let commit = CommitRequest {
        group_id: "simple".into(),
        generation: -1,
        member_id: String::new(),
        instance_id: None,
        retention_ms: -1,
        version: 9,
        partitions: vec![("t".into(), 0, 5, -1, None)],
    };
    assert_eq!(s.c.commit(&commit, s.now).0, vec![ErrorCode::None]);
    let records = s.c.claim_for_consumer("simple").unwrap();
    assert!(
        matches!(&records[..], [Record::Group { value: None, .. }]),
        "{records:?}"
    );
    assert_eq!(kip848_join(&mut s, "simple", "m1").error, ErrorCode::None);
    assert_eq!(
        s.c.fetch("simple", "t", 0).map(|o| o.offset),
        Some(5),
        "the offsets stay"
    );
    // A classic group with members refuses a KIP-848 member.
    s.join_new("busy");
    assert!(s.c.groups.get("busy").is_some_and(|g| !g.is_empty()));
    assert_eq!(s.c.claim_for_consumer("busy").unwrap_err(), ErrorCode::GroupIdNotFound);
    // A consumer group with members refuses classic members; an empty one becomes classic.
    assert_eq!(
        s.c.claim_for_classic("simple").unwrap_err(),
        ErrorCode::InconsistentGroupProtocol
    );
    kip848_leave(&mut s, "simple", "m1");
    let records = s.c.claim_for_classic("simple").unwrap();
    assert!(records
        .iter()
        .all(|r| matches!(r, Record::Consumer(c) if c.is_tombstone())));
    assert!(!s.c.consumer.contains("simple"));
    // OffsetCommit validates against the kind of group the id has.
    assert_eq!(kip848_join(&mut s, "g848", "m2").error, ErrorCode::None);
    let stale = CommitRequest {
        group_id: "g848".into(),
        generation: 99,
        member_id: "m2".into(),
        ..commit.clone()
    };
    assert_eq!(s.c.commit(&stale, s.now).0, vec![ErrorCode::StaleMemberEpoch]);
}

#[test]
fn an_empty_kip848_group_expires_with_its_last_offset() {
    let mut s = Sim::new();
    assert_eq!(kip848_join(&mut s, "old", "m1").error, ErrorCode::None);
    let commit = CommitRequest {
        group_id: "old".into(),
        generation: 1,
        member_id: "m1".into(),
        instance_id: None,
        retention_ms: -1,
        version: 9,
        partitions: vec![("t".into(), 0, 3, -1, None), ("other".into(), 0, 7, -1, None)],
    };
    assert_eq!(s.c.commit(&commit, s.now).0, vec![ErrorCode::None; 2]);
    let retention = 60_000;
    // While it has a member: only the offsets of topics nobody subscribes to expire.
    let expired = s.c.expire(s.now + 2 * retention, retention);
    assert!(
        matches!(&expired[..], [Record::Offset { topic, value: None, .. }] if topic == "other"),
        "{expired:?}"
    );
    assert!(s.c.fetch("old", "t", 0).is_some());
    kip848_leave(&mut s, "old", "m1");
    let records = s.c.expire(s.now + 2 * retention, retention);
    assert!(records.iter().any(|r| matches!(r, Record::Offset { value: None, .. })));
    assert!(records
        .iter()
        .any(|r| matches!(r, Record::Consumer(c) if c.is_tombstone())));
    assert!(!s.c.consumer.contains("old"));
}

#[test]
fn a_change_whose_records_were_not_written_is_undone() {
    let mut s = Sim::new();
    // A KIP-848 join, undone: the group is as if the heartbeat never came.
    let before = s.c.consumer.snapshot("undo");
    assert_eq!(kip848_join(&mut s, "undo", "m1").error, ErrorCode::None);
    assert!(s.c.consumer.contains("undo"));
    s.c.consumer.restore(before);
    assert!(!s.c.consumer.contains("undo"));
    // An offset commit, undone: the previous offset is back, a new one is gone.
    let commit = |offset: i64| CommitRequest {
        group_id: "o".into(),
        generation: -1,
        member_id: String::new(),
        instance_id: None,
        retention_ms: -1,
        version: 9,
        partitions: vec![("t".into(), 0, offset, -1, None), ("t".into(), 1, offset, -1, None)],
    };
    s.c.commit(&commit(5), s.now);
    s.c.restore_offsets("o", vec![("t".into(), 0, None), ("t".into(), 1, None)]);
    assert!(s.c.fetch("o", "t", 0).is_none() && s.c.fetch_all("o").is_empty());
    s.c.commit(&commit(5), s.now);
    let before = vec![
        ("t".into(), 0, s.c.fetch("o", "t", 0).cloned()),
        ("t".into(), 1, s.c.fetch("o", "t", 1).cloned()),
    ];
    s.c.commit(&commit(9), s.now);
    s.c.restore_offsets("o", before);
    assert_eq!(s.c.fetch("o", "t", 1).map(|o| o.offset), Some(5));
}

#[test]
fn unloading_forgets_only_the_picked_groups_and_answers_their_parked_joins() {
    let mut s = Sim::new();
    let ids = stable_group(&mut s, 1);
    s.c.commit(&commit("g", 1, &ids[0], &[("t", 0, 5)]), s.now);
    let (_, other) = s.c.commit(&commit("other", -1, "", &[("t", 0, 6)]), s.now);
    // Parked by the initial rebalance delay.
    let (_, parked) = s.join_new("waiting");
    assert!(!s.joins.contains_key(&parked));
    assert_eq!(kip848_join(&mut s, "kip848", "m1").error, ErrorCode::None);
    let out = s.c.unload(|g| g != "g", ErrorCode::NotCoordinator);
    s.take(out);
    assert_eq!(s.joins.remove(&parked).unwrap().error, ErrorCode::NotCoordinator);
    assert!(s.c.fetch("other", "t", 0).is_none());
    assert!(s.c.groups.get("other").is_none() && s.c.groups.get("waiting").is_none());
    assert!(!s.c.consumer.contains("kip848"));
    assert_eq!(
        s.c.consumer.next_deadline(),
        None,
        "no timer of an unloaded group is left"
    );
    // The group kept is as it was.
    assert_eq!(s.c.fetch("g", "t", 0).map(|o| o.offset), Some(5));
    assert_eq!(s.heartbeat("g", 1, &ids[0]), ErrorCode::None);
    // Loading the other partition again replays only its groups.
    for r in other {
        s.c.replay(r, s.now);
    }
    s.c.loaded(|g| g == "other");
    assert_eq!(s.c.fetch("other", "t", 0).map(|o| o.offset), Some(6));
    assert_eq!(s.state("g"), GroupState::Stable);
    assert_eq!(s.heartbeat("g", 1, &ids[0]), ErrorCode::None);
}

mod driver {
    //! The coordinator's task over a real `ReplicaManager`, its partitions led here or not (a fenced broker
    //! leads nothing).

    use std::path::Path;
    use std::sync::Arc;
    use std::time::Duration;

    use arc_swap::ArcSwap;
    use protocol::ErrorCode;
    use tokio::sync::watch;

    use super::super::classic::JoinRequest;
    use super::super::driver::FetchedOffset;
    use super::super::{CreateTopic, GroupCoordinator, OFFSETS_TOPIC};
    use super::{commit, kip848_join_request};
    use crate::config::{Config, GroupSection};
    use crate::metrics::{GroupView, Metrics};
    use crate::replica_manager::ReplicaManager;
    use crate::topic_config::TopicConfig;

    /// A broker's partitions over `dir`, with `__consumer_offsets` (three partitions) and topic `t` (two)
    /// led here.
    async fn replicas(dir: &Path) -> Arc<ReplicaManager> {
        let config = Config {
            data_dir: dir.to_path_buf(),
            ..Config::default()
        };
        let replicas = Arc::new(ReplicaManager::open(&config, Arc::new(Metrics::new(true))).unwrap());
        replicas
            .create_topic(OFFSETS_TOPIC, 3, TopicConfig::default())
            .await
            .unwrap();
        replicas.create_topic("t", 2, TopicConfig::default()).await.unwrap();
        replicas
    }

    /// A running coordinator, its metrics view, and its stop switch.
    struct Running {
        c: GroupCoordinator,
        task: tokio::task::JoinHandle<()>,
        view: Arc<ArcSwap<GroupView>>,
        stop: watch::Sender<bool>,
    }

    async fn start(replicas: &Arc<ReplicaManager>) -> Running {
        // The topic exists already.
        let create: CreateTopic =
            Arc::new(|_, _| Box::pin(async { Err((ErrorCode::TopicAlreadyExists, String::new())) }));
        let config = GroupSection {
            initial_rebalance_delay_ms: 60_000,
            ..GroupSection::default()
        };
        let view = Arc::new(ArcSwap::from_pointee(GroupView::default()));
        let (stop, stop_rx) = watch::channel(false);
        let (c, task) = GroupCoordinator::start(Arc::clone(replicas), create, &config, Arc::clone(&view), stop_rx);
        while !c.is_loaded() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Running { c, task, view, stop }
    }

    /// A group's committed offsets, once its partition is loaded (COORDINATOR_LOAD_IN_PROGRESS until then).
    async fn fetch_loaded(c: &GroupCoordinator, group: &str) -> Result<Vec<FetchedOffset>, ErrorCode> {
        for _ in 0..1000 {
            match c.fetch(group.into(), None, None).await {
                Err(ErrorCode::CoordinatorLoadInProgress) => tokio::time::sleep(Duration::from_millis(10)).await,
                other => return other,
            }
        }
        Err(ErrorCode::CoordinatorLoadInProgress)
    }

    fn offsets(fetched: Result<Vec<FetchedOffset>, ErrorCode>) -> Result<Vec<(String, i32, i64)>, ErrorCode> {
        fetched.map(|f| {
            f.into_iter()
                .map(|(t, p, o)| (t, p, o.map_or(-1, |o| o.offset)))
                .collect()
        })
    }

    fn join_request(group: &str) -> JoinRequest {
        JoinRequest {
            group_id: group.into(),
            member_id: String::new(),
            instance_id: None,
            client_id: "client".into(),
            client_host: "/127.0.0.1".into(),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 60_000,
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), bytes::Bytes::from_static(b"meta"))],
            require_known_member_id: false,
            supports_skip_assignment: true,
        }
    }

    #[tokio::test]
    async fn groups_are_unloaded_when_leadership_is_lost_and_reloaded_when_it_comes_back() {
        let dir = tempfile::tempdir().unwrap();
        let replicas = replicas(dir.path()).await;
        let r = start(&replicas).await;
        for (group, offset) in [("g1", 11), ("g2", 22), ("g3", 33)] {
            let committed = r.c.commit(commit(group, -1, "", &[("t", 0, offset)])).await;
            assert_eq!(committed, vec![ErrorCode::None], "{group}");
        }
        let joined = r.c.consumer_heartbeat(kip848_join_request("kip848", "m1")).await;
        assert_eq!((joined.error, joined.member_epoch), (ErrorCode::None, 1));
        assert_eq!(r.view.load().committed.len(), 3);
        // A JoinGroup parked by the initial rebalance delay is answered when leadership goes.
        let (parked, ()) = tokio::join!(r.c.join(join_request("joining")), async {
            loop {
                let d = r.c.describe(vec!["joining".into()], true).await.unwrap();
                if d[0].state == "PreparingRebalance" {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            replicas.set_fenced(true);
            r.c.leadership_changed();
            r.c.leadership_changed();
        });
        assert_eq!(parked.error, ErrorCode::NotCoordinator);
        // Every request for those groups is answered NOT_COORDINATOR now.
        assert_eq!(
            offsets(r.c.fetch("g1".into(), None, None).await),
            Err(ErrorCode::NotCoordinator)
        );
        let refused = r.c.commit(commit("g2", -1, "", &[("t", 0, 99)])).await;
        assert_eq!(refused, vec![ErrorCode::NotCoordinator]);
        let hb = r.c.heartbeat("joining".into(), 0, "m".into(), None).await;
        assert_eq!(hb, ErrorCode::NotCoordinator);
        let hb = r.c.consumer_heartbeat(kip848_join_request("kip848", "m1")).await;
        assert_eq!(hb.error, ErrorCode::NotCoordinator);
        let described = r.c.consumer_describe(vec!["kip848".into()]).await.unwrap();
        assert_eq!(described[0].error, ErrorCode::NotCoordinator);
        let described = r.c.describe(vec!["g3".into()], true).await.unwrap();
        assert_eq!(described[0].error, ErrorCode::NotCoordinator);
        assert_eq!(
            r.c.delete_groups(vec!["g3".into()]).await,
            vec![ErrorCode::NotCoordinator]
        );
        assert_eq!(r.c.list(Vec::new()).await, Some(Vec::new()));
        let view = r.view.load();
        assert!(view.committed.is_empty() && view.states.is_empty(), "{view:?}");
        // Led again: replayed from the log, with the offsets committed before.
        replicas.set_fenced(false);
        r.c.leadership_changed();
        for (group, offset) in [("g1", 11), ("g2", 22), ("g3", 33)] {
            let fetched = offsets(fetch_loaded(&r.c, group).await);
            assert_eq!(fetched, Ok(vec![("t".to_string(), 0, offset)]), "{group}");
        }
        let described = r.c.consumer_describe(vec!["kip848".into()]).await.unwrap();
        assert_eq!(described[0].error, ErrorCode::None);
        assert_eq!(described[0].members[0].member_id, "m1");
        assert_eq!(r.view.load().committed.len(), 3);
        let committed = r.c.commit(commit("g1", -1, "", &[("t", 0, 12)])).await;
        assert_eq!(committed, vec![ErrorCode::None]);
        assert_eq!(
            offsets(r.c.fetch("g1".into(), None, None).await),
            Ok(vec![("t".to_string(), 0, 12)])
        );
    }

    #[tokio::test]
    async fn a_coordinator_that_leads_nothing_at_start_loads_when_it_becomes_leader() {
        let dir = tempfile::tempdir().unwrap();
        let replicas = replicas(dir.path()).await;
        let first = start(&replicas).await;
        let committed = first.c.commit(commit("g", -1, "", &[("t", 1, 5)])).await;
        assert_eq!(committed, vec![ErrorCode::None]);
        first.stop.send_replace(true);
        first.task.await.unwrap();
        // Started while fenced: nothing is led, nothing loaded.
        replicas.set_fenced(true);
        let second = start(&replicas).await;
        assert_eq!(
            offsets(second.c.fetch("g".into(), None, None).await),
            Err(ErrorCode::NotCoordinator)
        );
        assert!(second.view.load().committed.is_empty());
        replicas.set_fenced(false);
        second.c.leadership_changed();
        assert_eq!(
            offsets(fetch_loaded(&second.c, "g").await),
            Ok(vec![("t".to_string(), 1, 5)])
        );
        assert_eq!(second.view.load().committed.len(), 1);
    }
}
