//! Consumer groups: `consume --group` as a real member of the classic protocol (resuming from committed
//! offsets, sharing partitions with another member), and `kzero groups list|describe|delete|reset-offsets`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;

use crate::support::{wait_until, Broker, Run};

/// A broker whose new groups wait 100 ms for more members instead of Kafka's 3 s, for tests with one
/// member at a time.
fn quick_broker() -> Broker {
    Broker::start_with("[group]\ninitial_rebalance_delay_ms = 100\n")
}

/// The records a `consume --json` run printed: (partition, offset, value).
fn records(run: &Run) -> Vec<(i64, i64, String)> {
    run.ok()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            (
                v["partition"].as_i64().unwrap(),
                v["offset"].as_i64().unwrap(),
                v["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Produces `n` records `{prefix}{i}` to each partition of `topic`.
fn fill(broker: &Broker, topic: &str, partitions: i32, n: usize, prefix: &str) {
    for p in 0..partitions {
        let input: String = (0..n).map(|i| format!("{prefix}p{p}-{i}\n")).collect();
        broker
            .kzero_input(&["produce", topic, "-p", &p.to_string()], input.as_bytes())
            .ok();
    }
}

/// One line of the offsets table of `groups describe`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OffsetRow {
    current: String,
    end: String,
    lag: String,
    consumer: String,
}

/// The table under `header` (its first column name, then the others), as rows of cells.
fn table<'a>(out: &'a str, header: &str) -> Vec<Vec<&'a str>> {
    let mut lines = out
        .lines()
        .skip_while(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") != header);
    assert!(lines.next().is_some(), "no table {header:?} in:\n{out}");
    lines
        .take_while(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect())
        .collect()
}

/// `groups describe`'s offsets table: (topic, partition) -> row.
fn offsets(out: &str) -> BTreeMap<(String, i32), OffsetRow> {
    table(
        out,
        "GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID",
    )
    .into_iter()
    .map(|c| {
        (
            (c[1].to_string(), c[2].parse().unwrap()),
            OffsetRow {
                current: c[3].into(),
                end: c[4].into(),
                lag: c[5].into(),
                consumer: c[6].into(),
            },
        )
    })
    .collect()
}

fn row(current: i64, end: i64) -> OffsetRow {
    OffsetRow {
        current: current.to_string(),
        end: end.to_string(),
        lag: (end - current).to_string(),
        consumer: "-".into(),
    }
}

/// `groups describe`'s state line: (strategy, state, member count).
fn state(out: &str) -> (String, String, usize) {
    let rows = table(out, "GROUP COORDINATOR ASSIGNMENT-STRATEGY STATE #MEMBERS");
    let c = &rows[0];
    (c[2].to_string(), c[3].to_string(), c[4].parse().unwrap())
}

#[test]
fn sequential_members_resume_where_the_last_one_stopped() {
    let broker = quick_broker();
    broker.kzero(&["topics", "create", "seq", "-p", "3"]).ok();
    fill(&broker, "seq", 3, 10, "a");

    // The first member prints 12 of the 30 records and commits exactly what it printed.
    let first = records(&broker.kzero(&[
        "consume",
        "seq",
        "--group",
        "g",
        "--from-beginning",
        "--max",
        "12",
        "--json",
    ]));
    assert_eq!(first.len(), 12);
    fill(&broker, "seq", 3, 4, "b");
    // The second starts at the committed offsets (no --from-beginning needed: the first member committed
    // its start positions too) and stops once caught up.
    let second = records(&broker.kzero(&["consume", "seq", "--group", "g", "--exit", "--json"]));
    let mut all: Vec<(i64, i64, String)> = first.iter().chain(&second).cloned().collect();
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), total, "a record was printed twice: {first:?} {second:?}");
    let expect: BTreeSet<String> = (0..3)
        .flat_map(|p| {
            (0..10)
                .map(move |i| format!("ap{p}-{i}"))
                .chain((0..4).map(move |i| format!("bp{p}-{i}")))
        })
        .collect();
    let got: BTreeSet<String> = all.iter().map(|(_, _, v)| v.clone()).collect();
    assert_eq!(got, expect);
    // Each partition's records came in order, without gaps.
    for p in 0..3 {
        let offsets: Vec<i64> = all.iter().filter(|r| r.0 == p).map(|r| r.1).collect();
        assert_eq!(offsets, (0..14).collect::<Vec<_>>(), "partition {p}");
    }
    // A third member has nothing left to print.
    assert_eq!(broker.kzero(&["consume", "seq", "--group", "g", "--exit"]).ok(), "");
    // Another group is independent of this one.
    let other = records(&broker.kzero(&[
        "consume",
        "seq",
        "--group",
        "other",
        "--from-beginning",
        "--exit",
        "--json",
    ]));
    assert_eq!(other.len(), 42);
}

#[test]
fn concurrent_members_split_the_partitions() {
    // Kafka's default initial rebalance delay (3 s), so that both members are in the first generation.
    let broker = Broker::start();
    broker.kzero(&["topics", "create", "split", "-p", "4"]).ok();
    fill(&broker, "split", 4, 10, "");
    let args = [
        "consume",
        "split",
        "--group",
        "g",
        "--from-beginning",
        "--exit",
        "--json",
    ];
    let a = broker.spawn(&args);
    let b = broker.spawn(&args);
    let a = records(&a.wait(Duration::from_secs(20)));
    let b = records(&b.wait(Duration::from_secs(20)));
    let partitions = |r: &[(i64, i64, String)]| r.iter().map(|x| x.0).collect::<BTreeSet<_>>();
    let (pa, pb) = (partitions(&a), partitions(&b));
    assert!(
        !pa.is_empty() && !pb.is_empty(),
        "one member got nothing: {pa:?} {pb:?}"
    );
    assert!(pa.is_disjoint(&pb), "{pa:?} {pb:?}");
    let mut all: Vec<(i64, i64, String)> = a.into_iter().chain(b).collect();
    all.sort();
    let expect: Vec<(i64, i64, String)> = (0..4)
        .flat_map(|p| (0..10).map(move |i| (p, i, format!("p{p}-{i}"))))
        .collect();
    assert_eq!(all, expect, "every record exactly once");
    // Both committed and left: the group is empty and fully caught up.
    let out = broker.kzero(&["groups", "describe", "g"]);
    let out = out.ok();
    assert_eq!(state(out).1, "Empty");
    assert!(out.contains("Consumer group 'g' has no active members."), "{out}");
    for p in 0..4 {
        assert_eq!(offsets(out)[&("split".to_string(), p)], row(10, 10));
    }
}

#[test]
fn a_member_joining_later_gets_partitions_after_a_rebalance() {
    let broker = quick_broker();
    broker.kzero(&["topics", "create", "grow", "-p", "4"]).ok();
    fill(&broker, "grow", 4, 20, "old-");
    // Members that stop 6 s after their latest assignment or record.
    let args = [
        "consume",
        "grow",
        "--group",
        "g",
        "--from-beginning",
        "--timeout-ms",
        "6000",
        "--json",
    ];
    let first = broker.spawn(&args);
    let members = |broker: &Broker| -> Vec<String> {
        let run = broker.kzero(&["groups", "describe", "g"]);
        if run.code != Some(0) || state(&run.stdout).1 != "Stable" {
            return Vec::new();
        }
        table(&run.stdout, "GROUP CONSUMER-ID HOST CLIENT-ID #PARTITIONS ASSIGNMENT")
            .iter()
            .map(|c| c[5].to_string())
            .collect()
    };
    wait_until(Duration::from_secs(15), "the first member has every partition", || {
        members(&broker) == ["grow(0,1,2,3)"]
    });
    // The second member's join makes the first one rejoin (it learns it from its heartbeat) after it
    // committed what it printed; then they share the partitions.
    let second = broker.spawn(&args);
    wait_until(Duration::from_secs(15), "the members share the partitions", || {
        let mut m = members(&broker);
        m.sort();
        m == ["grow(0,1)", "grow(2,3)"]
    });
    fill(&broker, "grow", 4, 5, "new-");
    let first = records(&first.wait(Duration::from_secs(20)));
    let second = records(&second.wait(Duration::from_secs(20)));
    assert!(first.iter().any(|r| r.2.starts_with("new-")), "{first:?}");
    assert!(
        !second.is_empty() && second.iter().all(|r| r.2.starts_with("new-")),
        "{second:?}"
    );
    let mut all: Vec<(i64, i64, String)> = first.into_iter().chain(second).collect();
    all.sort();
    let expect: Vec<(i64, i64, String)> = (0..4)
        .flat_map(|p| {
            (0..20)
                .map(move |i| (p, i, format!("old-p{p}-{i}")))
                .chain((0..5).map(move |i| (p, 20 + i, format!("new-p{p}-{i}"))))
        })
        .collect();
    assert_eq!(all, expect, "every record exactly once");
}

#[test]
fn describe_shows_committed_offsets_and_lag() {
    let broker = quick_broker();
    broker.kzero(&["topics", "create", "d", "-p", "2"]).ok();
    broker
        .kzero_input(&["produce", "d", "-p", "0"], b"1\n2\n3\n4\n5\n")
        .ok();
    broker.kzero_input(&["produce", "d", "-p", "1"], b"1\n2\n3\n").ok();
    let printed = records(&broker.kzero(&[
        "consume",
        "d",
        "--group",
        "g",
        "--from-beginning",
        "--max",
        "6",
        "--json",
    ]));
    assert_eq!(printed.len(), 6);
    // What each partition printed decides its committed offset; 8 records minus 6 printed is a lag of 2.
    let next = |p: i64| printed.iter().filter(|r| r.0 == p).map(|r| r.1 + 1).max().unwrap_or(0);
    let out = broker.kzero(&["groups", "describe", "g"]);
    let out = out.ok();
    assert_eq!(state(out), ("-".to_string(), "Empty".to_string(), 0));
    let table = offsets(out);
    assert_eq!(table.len(), 2, "{out}");
    assert_eq!(table[&("d".to_string(), 0)], row(next(0), 5));
    assert_eq!(table[&("d".to_string(), 1)], row(next(1), 3));
    let lag: i64 = table.values().map(|r| r.lag.parse::<i64>().unwrap()).sum();
    assert_eq!(lag, 2);

    // Three more records: the lag grows, the committed offsets stay.
    broker.kzero_input(&["produce", "d", "-p", "1"], b"4\n5\n6\n").ok();
    let out = broker.kzero(&["groups", "describe", "g"]);
    assert_eq!(offsets(out.ok())[&("d".to_string(), 1)], row(next(1), 6));

    assert_eq!(
        broker.kzero(&["groups", "describe", "nope"]).fails(),
        r#"error: group "nope" does not exist"#
    );
}

#[test]
fn list_shows_groups_with_state_and_protocol_type() {
    let broker = quick_broker();
    assert_eq!(broker.kzero(&["groups", "list"]).ok(), "GROUP  STATE  PROTOCOL-TYPE\n");
    broker.kzero(&["topics", "create", "l"]).ok();
    broker.kzero(&["consume", "l", "--group", "readers", "--exit"]).ok();
    // An admin commit makes a group without a protocol type.
    broker
        .kzero(&[
            "groups",
            "reset-offsets",
            "admin",
            "--topic",
            "l",
            "--to-earliest",
            "--execute",
        ])
        .ok();
    let out = broker.kzero(&["groups", "list"]);
    let rows = table(out.ok(), "GROUP STATE PROTOCOL-TYPE");
    assert_eq!(
        rows,
        [vec!["admin", "Empty", "-"], vec!["readers", "Empty", "consumer"]]
    );
}

#[test]
fn an_active_group_cannot_be_deleted_or_reset() {
    let broker = quick_broker();
    broker.kzero(&["topics", "create", "live", "-p", "2"]).ok();
    // A member that waits for one record.
    let member = broker.spawn(&["consume", "live", "--group", "g", "--from-beginning", "--max", "1"]);
    let mut described = String::new();
    wait_until(Duration::from_secs(15), "the member is in a stable group", || {
        let run = broker.kzero(&["groups", "describe", "g"]);
        described = run.stdout.clone();
        run.code == Some(0) && state(&described).1 == "Stable"
    });
    assert_eq!(state(&described), ("range".to_string(), "Stable".to_string(), 1));
    let members = table(&described, "GROUP CONSUMER-ID HOST CLIENT-ID #PARTITIONS ASSIGNMENT");
    assert_eq!(members.len(), 1);
    let (id, host, client, count, assignment) = (
        members[0][1],
        members[0][2],
        members[0][3],
        members[0][4],
        members[0][5],
    );
    assert!(id.starts_with("kzero-"), "{id}");
    assert_eq!(
        (host, client, count, assignment),
        ("/127.0.0.1", "kzero", "2", "live(0,1)")
    );
    for ((_, _), r) in offsets(&described) {
        assert_eq!(r.consumer, id, "{described}");
    }

    assert_eq!(
        broker.kzero(&["groups", "delete", "g"]).fails(),
        r#"error: cannot delete group "g": it has active members (NON_EMPTY_GROUP); stop its consumers first"#
    );
    let refusal = r#"error: cannot reset the offsets of group "g": it has 1 active member(s) (state Stable); offsets can only be reset while the group is inactive, so stop its consumers first"#;
    for extra in [&[][..], &["--execute"]] {
        let mut args = vec!["groups", "reset-offsets", "g", "--topic", "live", "--to-latest"];
        args.extend(extra);
        assert_eq!(broker.kzero(&args).fails(), refusal);
    }

    // The member gets its record, commits, leaves; now the group goes.
    broker.kzero_input(&["produce", "live", "-p", "1"], b"bye\n").ok();
    assert_eq!(member.wait(Duration::from_secs(15)).ok(), "bye\n");
    assert_eq!(broker.kzero(&["groups", "delete", "g"]).ok(), "Deleted group g.\n");
    assert_eq!(
        broker.kzero(&["groups", "describe", "g"]).fails(),
        r#"error: group "g" does not exist"#
    );
    assert_eq!(
        broker.kzero(&["groups", "delete", "g"]).fails(),
        r#"error: cannot delete group "g": it does not exist (GROUP_ID_NOT_FOUND)"#
    );
    // Its committed offsets went with it: a new member of the same name starts over.
    assert_eq!(
        broker
            .kzero(&["consume", "live", "--group", "g", "--from-beginning", "--exit"])
            .ok(),
        "bye\n"
    );
}

#[test]
fn reset_offsets_prints_a_plan_and_commits_it_with_execute() {
    let broker = quick_broker();
    broker.kzero(&["topics", "create", "r", "-p", "2"]).ok();
    broker.kzero_input(&["produce", "r", "-p", "0"], b"a\nb\nc\nd\n").ok();
    broker
        .kzero_input(&["produce", "r", "-p", "1"], b"e\nf\ng\nh\ni\nj\n")
        .ok();
    assert_eq!(
        broker
            .kzero(&["consume", "r", "--group", "g", "--from-beginning", "--exit"])
            .ok()
            .len(),
        20
    );
    let committed = |broker: &Broker| {
        let out = broker.kzero(&["groups", "describe", "g"]);
        offsets(out.ok())
            .into_iter()
            .map(|((_, p), r)| (p, r.current.parse::<i64>().unwrap()))
            .collect::<Vec<_>>()
    };
    assert_eq!(committed(&broker), [(0, 4), (1, 6)]);

    // A dry run (the default, or --dry-run) prints the plan and changes nothing.
    let plan = "GROUP  TOPIC  PARTITION  NEW-OFFSET\ng      r      0          0\ng      r      1          0\n";
    for extra in [&[][..], &["--dry-run"]] {
        let mut args = vec!["groups", "reset-offsets", "g", "--topic", "r", "--to-earliest"];
        args.extend(extra);
        let run = broker.kzero(&args);
        assert_eq!(run.ok(), plan);
        assert_eq!(
            run.stderr,
            "dry run: nothing was committed; add --execute to commit these offsets\n"
        );
    }
    assert_eq!(committed(&broker), [(0, 4), (1, 6)]);

    // --execute commits; --to-offset is kept within each partition's offsets.
    let run = broker.kzero(&[
        "groups",
        "reset-offsets",
        "g",
        "--topic",
        "r",
        "--to-offset",
        "2",
        "--execute",
    ]);
    assert_eq!(
        run.ok(),
        "GROUP  TOPIC  PARTITION  NEW-OFFSET\ng      r      0          2\ng      r      1          2\n"
    );
    assert_eq!(run.stderr, "");
    assert_eq!(committed(&broker), [(0, 2), (1, 2)]);
    broker
        .kzero(&[
            "groups",
            "reset-offsets",
            "g",
            "--topic",
            "r:1",
            "--to-offset",
            "100",
            "--execute",
        ])
        .ok();
    assert_eq!(committed(&broker), [(0, 2), (1, 6)]);
    // The next member resumes from the reset offsets.
    assert_eq!(broker.kzero(&["consume", "r", "--group", "g", "--exit"]).ok(), "c\nd\n");

    // By time: before every record is the start, after every record the end.
    broker
        .kzero(&[
            "groups",
            "reset-offsets",
            "g",
            "--topic",
            "r",
            "--to-datetime",
            "2000-01-01T00:00:00Z",
            "--execute",
        ])
        .ok();
    assert_eq!(committed(&broker), [(0, 0), (1, 0)]);
    let run = broker.kzero(&[
        "groups",
        "reset-offsets",
        "g",
        "--topic",
        "r",
        "--to-datetime",
        "2999-01-01T00:00:00+01:00",
    ]);
    assert!(
        run.ok()
            .ends_with("g      r      0          4\ng      r      1          6\n"),
        "{}",
        run.stdout
    );
    broker
        .kzero(&[
            "groups",
            "reset-offsets",
            "g",
            "--topic",
            "r",
            "--to-latest",
            "--execute",
        ])
        .ok();
    assert_eq!(committed(&broker), [(0, 4), (1, 6)]);

    // Mistakes: a bad time or no target are usage errors; unknown topics and partitions are refused.
    let bad_time = broker.kzero(&[
        "groups",
        "reset-offsets",
        "g",
        "--topic",
        "r",
        "--to-datetime",
        "yesterday",
    ]);
    assert_eq!(bad_time.code, Some(2));
    assert!(bad_time.stderr.contains("RFC 3339"), "{}", bad_time.stderr);
    assert_eq!(
        broker.kzero(&["groups", "reset-offsets", "g", "--topic", "r"]).code,
        Some(2)
    );
    assert_eq!(
        broker
            .kzero(&["groups", "reset-offsets", "g", "--topic", "nope", "--to-latest"])
            .fails(),
        r#"error: unknown topic "nope""#
    );
    assert_eq!(
        broker
            .kzero(&["groups", "reset-offsets", "g", "--topic", "r:7", "--to-latest"])
            .fails(),
        r#"error: topic "r" has no partition 7 (it has 2 partitions)"#
    );
}

#[test]
fn ctrl_c_commits_what_was_printed_and_leaves_the_group_at_once() {
    let broker = quick_broker();
    broker.kzero(&["topics", "create", "sig", "-p", "2"]).ok();
    let member = broker.spawn(&["consume", "sig", "--group", "g", "--from-beginning"]);
    wait_until(Duration::from_secs(15), "the member is in a stable group", || {
        let run = broker.kzero(&["groups", "describe", "g"]);
        run.code == Some(0) && state(&run.stdout).1 == "Stable"
    });
    broker.kzero_input(&["produce", "sig", "-p", "0"], b"one\ntwo\n").ok();
    broker.kzero_input(&["produce", "sig", "-p", "1"], b"three\n").ok();
    // Give the member time to print them (it fetches continuously; whether its 5-second auto-commit ran
    // first or not, what follows holds).
    std::thread::sleep(Duration::from_millis(3000));
    member.signal("INT");
    let run = member.wait(Duration::from_secs(10));
    let out = run.ok();
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["one", "three", "two"]);
    // It committed and left: the group is Empty now (no session timeout to wait out) and nothing lags.
    let run = broker.kzero(&["groups", "describe", "g"]);
    let described = run.ok();
    assert!(described.contains("has no active members"), "{described}");
    for ((_, partition), r) in offsets(described) {
        assert_eq!(r.lag, "0", "partition {partition}: {described}");
    }
}

/// Sends one request over a fresh connection and reads its answer (a raw client, so that a KIP-848 member
/// can join without a client library).
fn call(addr: &str, version: i16, body: protocol::RequestBody) -> protocol::ResponseBody {
    use std::io::{Read, Write};
    let api = body.api_key();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut out = bytes::BytesMut::new();
    protocol::Request {
        header: protocol::RequestHeader::new(api, version, 1),
        body,
    }
    .encode(&mut out)
    .unwrap();
    s.write_all(&out).unwrap();
    let mut size = [0u8; 4];
    s.read_exact(&mut size).unwrap();
    let mut frame = vec![0u8; i32::from_be_bytes(size) as usize];
    s.read_exact(&mut frame).unwrap();
    protocol::Response::decode(api, version, bytes::Bytes::from(frame))
        .unwrap()
        .body
}

#[test]
fn describe_shows_a_kip848_group_with_its_assignor_and_assignments() {
    let broker = quick_broker();
    broker.kzero(&["topics", "create", "kt", "--partitions", "2"]).ok();
    fill(&broker, "kt", 2, 1, "r");
    // One KIP-848 member joins with ConsumerGroupHeartbeat v1 (its own member id) and gets both partitions.
    let join = protocol::ConsumerGroupHeartbeatRequest {
        group_id: "g848".into(),
        member_id: "member-of-g848-0000001".into(),
        member_epoch: 0,
        rebalance_timeout_ms: 30_000,
        subscribed_topic_names: Some(vec!["kt".into()]),
        topic_partitions: Some(Vec::new()),
        ..Default::default()
    };
    let mut joined = false;
    wait_until(Duration::from_secs(20), "the member joins", || {
        let protocol::ResponseBody::ConsumerGroupHeartbeat(r) = call(&broker.addr, 1, join.clone().into()) else {
            panic!("not a heartbeat answer")
        };
        // The coordinator may still be loading its topic.
        joined = r.error_code == 0
            && r.assignment
                .as_ref()
                .is_some_and(|a| a.topic_partitions.iter().map(|t| t.partitions.len()).sum::<usize>() == 2);
        joined
    });
    let out = broker.kzero(&["groups", "describe", "g848"]);
    let (strategy, state_name, members) = state(out.ok());
    assert_eq!((strategy.as_str(), members), ("uniform", 1), "{}", out.stdout);
    assert!(
        ["Stable", "Reconciling"].contains(&state_name.as_str()),
        "{}",
        out.stdout
    );
    assert!(out.ok().contains("member-of-g848-0000001"), "{}", out.stdout);
    assert!(out.ok().contains("kt(0,1)"), "{}", out.stdout);
    let listed = broker.kzero(&["groups", "list"]);
    assert!(listed.ok().contains("g848"), "{}", listed.stdout);
}
