//! Three `kzero-server` processes forming one KRaft-style cluster (every node a broker and a controller
//! voter, on free ports): the nodes agree on the metadata, spread partitions, serve real clients through
//! any one of them, survive the loss of the active controller, fence a paused broker and take it back,
//! come back from a full crash with the same topics, and keep every acknowledged metadata write of a voter
//! killed mid-append.
//!
//! Each test starts its own cluster; a failing test prints every node's log (`KZERO_LOG=warn`). Measured
//! times are printed with `eprintln!` (`cargo test -p server --test it -- cluster:: --nocapture`).

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::{ErrorCode, ResponseBody};

use crate::cluster_support::{
    call, create_ok, create_topic, leaders, produce_one, view, wait_until, Cluster, HEARTBEAT_MS, SESSION_TIMEOUT_MS,
};
use crate::support::{kcat, python, scenario};

#[test]
fn a_three_node_cluster_agrees_spreads_partitions_and_serves_real_clients() {
    let test_started = Instant::now();
    let c = Cluster::start();
    // One topic created through each node: all forwarded to the active controller.
    create_ok(c.addr(0), "spread", 6, 1);
    create_ok(c.addr(1), "replicated", 3, 3);
    create_ok(c.addr(2), "single", 1, 1);

    let v = c.agreed_view(Duration::from_secs(10), "three topics");
    assert_eq!(
        v.brokers.iter().map(|b| b.0).collect::<Vec<_>>(),
        vec![0, 1, 2],
        "{v:#?}"
    );
    for (i, n) in c.nodes.iter().enumerate() {
        assert_eq!(v.broker_addr(i as i32), n.kafka, "broker {i}'s advertised endpoint");
    }
    for name in ["spread", "replicated", "single"] {
        let t = v.topic(name);
        assert_ne!(t.id, [0; 16], "{name} has a topic id");
        for p in &t.partitions {
            assert_eq!(p.error, 0, "{name}: {p:?}");
            assert_eq!(p.epoch, 0, "{name}: a new partition starts at leader epoch 0: {p:?}");
            assert_eq!(p.leader, p.replicas[0], "{name}: the first replica leads: {p:?}");
            assert_eq!(p.isr, p.replicas, "{name}: every replica is in the ISR: {p:?}");
            assert!(p.offline.is_empty(), "{name}: {p:?}");
        }
    }
    let spread = v.topic("spread");
    assert_eq!(spread.partitions.len(), 6);
    let led = leaders(spread);
    assert_eq!(
        led.keys().copied().collect::<Vec<_>>(),
        vec![0, 1, 2],
        "every broker leads some of the 6 RF=1 partitions: {led:?}"
    );
    assert!(
        led.values().all(|ps| ps.len() == 2),
        "striped placement: two each: {led:?}"
    );
    let replicated = v.topic("replicated");
    assert_eq!(replicated.partitions.len(), 3);
    for p in &replicated.partitions {
        let mut r = p.replicas.clone();
        r.sort_unstable();
        assert_eq!(r, vec![0, 1, 2], "RF=3 on three brokers: {p:?}");
    }
    assert_eq!(
        leaders(replicated).len(),
        3,
        "the RF=3 partitions' leaders are striped too: {replicated:?}"
    );
    let ids: BTreeSet<[u8; 16]> = v.topics.values().map(|t| t.id).collect();
    assert_eq!(ids.len(), v.topics.len(), "distinct topic ids");

    // Produce straight to a broker that does not lead the partition: NOT_LEADER_OR_FOLLOWER; the leader
    // takes the same request.
    let p0 = &spread.partitions[0];
    let other = (0..3).find(|b| *b != p0.leader).unwrap();
    assert_eq!(
        produce_one(&v.broker_addr(other), "spread", 0),
        ErrorCode::NotLeaderOrFollower.code(),
        "broker {other} does not host spread-0 (led by {})",
        p0.leader
    );
    let r0 = &replicated.partitions[0];
    let follower = r0.replicas[1];
    assert_eq!(
        produce_one(&v.broker_addr(follower), "replicated", 0),
        ErrorCode::NotLeaderOrFollower.code(),
        "broker {follower} is a follower of replicated-0 (led by {})",
        r0.leader
    );
    assert_eq!(
        produce_one(&v.broker_addr(p0.leader), "spread", 0),
        0,
        "the leader takes it"
    );
    assert_eq!(
        produce_one(&v.broker_addr(r0.leader), "replicated", 0),
        0,
        "the leader takes it"
    );

    // kcat through node 1 only: every record of the 6-partition topic comes back.
    if let Some(kcat) = kcat() {
        let started = Instant::now();
        create_ok(c.addr(2), "kcat-spread", 6, 1);
        let input: String = (0..600).map(|i| format!("key{i}:value {i}\n")).collect();
        let mut p = Command::new(&kcat)
            .args(["-b", c.addr(1), "-t", "kcat-spread", "-P", "-K:", "-X", "acks=all"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        p.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = p.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "kcat produce: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = Command::new(&kcat)
            .args([
                "-b",
                c.addr(1),
                "-t",
                "kcat-spread",
                "-C",
                "-e",
                "-q",
                "-f",
                "%p %k:%s\n",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "kcat consume: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let mut got: Vec<&str> = Vec::new();
        let mut partitions = BTreeSet::new();
        for line in text.lines() {
            let (p, record) = line.split_once(' ').unwrap();
            partitions.insert(p.to_string());
            got.push(record);
        }
        got.sort_unstable();
        let mut want: Vec<&str> = input.lines().collect();
        want.sort_unstable();
        assert_eq!(got.len(), 600, "kcat read {} of 600 records", got.len());
        assert_eq!(got, want, "kcat read back other records");
        assert_eq!(partitions.len(), 6, "records in every partition: {partitions:?}");
        eprintln!(
            "kcat via node 1 only: 600 records over 6 partitions led by 3 brokers, round trip in {} ms",
            started.elapsed().as_millis()
        );
    }
    // confluent-kafka through node 2 only.
    if let Some(py) = python() {
        let started = Instant::now();
        create_ok(c.addr(0), "confluent-spread", 6, 1);
        let v = c.agreed_view(Duration::from_secs(10), "confluent-spread");
        assert_eq!(leaders(v.topic("confluent-spread")).len(), 3, "{v:#?}");
        let out = scenario(&py, c.addr(2), "cluster_roundtrip", &["confluent-spread", "3000"]);
        eprintln!(
            "confluent-kafka via node 2 only: {} in {} ms",
            out.lines().next().unwrap_or(""),
            started.elapsed().as_millis()
        );
    }
    // The clients' traffic changed nothing in the nodes' agreement.
    let after = c.agreed_view(Duration::from_secs(10), "after the clients");
    for name in ["spread", "replicated", "single"] {
        assert_eq!(after.topic(name), v.topic(name), "{name} unchanged");
    }
    eprintln!("three-node agreement test: {} ms", test_started.elapsed().as_millis());
}

#[test]
fn killing_the_active_controller_elects_a_new_one_and_the_killed_node_catches_up() {
    let test_started = Instant::now();
    let mut c = Cluster::start();
    create_ok(c.addr(0), "before", 3, 3);
    let old = wait_until("a controller named by every node", Duration::from_secs(10), || {
        let ids = (0..3).map(|i| c.controller(i)).collect::<Result<BTreeSet<_>, _>>()?;
        if ids.len() == 1 {
            Ok(*ids.iter().next().unwrap())
        } else {
            Err(format!("nodes disagree: {ids:?}"))
        }
    }) as usize;
    let survivor = (old + 1) % 3;

    let killed_at = Instant::now();
    c.nodes[old].kill();
    // CreateTopics through a survivor, retried until it succeeds.
    // A fresh name per attempt: an attempt that timed out may still have created its topic.
    let mut attempts = 0;
    let mut outcomes = Vec::new();
    let created = loop {
        attempts += 1;
        let name = format!("while-down-{attempts}");
        let answer = create_topic(c.addr(survivor), &name, 2, 2);
        if let Ok(0) = answer {
            break name;
        }
        outcomes.push(format!("{name}: {answer:?}"));
        assert!(
            killed_at.elapsed() < Duration::from_secs(20),
            "no CreateTopics succeeded after the controller was killed: {outcomes:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let failover = killed_at.elapsed();
    eprintln!(
        "failover: CreateTopics succeeded {} ms after kill -9 of active controller {old} ({attempts} attempts, \
         failed ones: {outcomes:?})",
        failover.as_millis()
    );
    assert!(
        failover < Duration::from_secs(2),
        "failover took {failover:?}, not < 2 s"
    );
    let new = c.controller(survivor).unwrap();
    assert_ne!(
        new as usize, old,
        "a survivor still names the killed node as the controller"
    );
    let other = 3 - old - survivor;
    assert_eq!(
        c.controller(other).unwrap(),
        new,
        "both survivors name the same controller"
    );

    // The killed node's broker is fenced once its session expires: the survivors stop listing it.
    let fenced = wait_until(
        "the survivors stop listing the killed broker",
        Duration::from_millis(SESSION_TIMEOUT_MS + 5000),
        || {
            let v = view(c.addr(survivor))?;
            if v.brokers.iter().any(|b| b.0 == old as i32) {
                Err(format!("{:?}", v.brokers))
            } else {
                Ok(v)
            }
        },
    );
    eprintln!(
        "killed broker {old} unlisted {} ms after the kill",
        killed_at.elapsed().as_millis()
    );
    for p in &fenced.topic("before").partitions {
        assert!(p.leader != old as i32 && !p.isr.contains(&(old as i32)), "{p:?}");
        assert!(p.offline.contains(&(old as i32)), "{p:?}");
    }

    // Restart it from the same config and data: it catches up with the metadata written while it was down.
    let restarted = Instant::now();
    c.nodes[old].start();
    c.wait_serving(old, Duration::from_secs(30));
    let serving = restarted.elapsed();
    let caught_up = wait_until(
        "the restarted node shows the topic created while it was down",
        Duration::from_secs(10),
        || {
            let v = view(c.addr(old))?;
            if v.topics.contains_key(&created) {
                Ok(v)
            } else {
                Err(format!("{:?}", v.topics.keys().collect::<Vec<_>>()))
            }
        },
    );
    let with_topic = restarted.elapsed();
    c.wait_all_listed(Duration::from_secs(15));
    let listed = restarted.elapsed();
    eprintln!(
        "restarted node {old}: serving after {} ms, shows the new topic after {} ms, listed by all after {} ms",
        serving.as_millis(),
        with_topic.as_millis(),
        listed.as_millis()
    );
    let survivors = view(c.addr(survivor)).unwrap();
    assert_eq!(
        caught_up.topic(&created).id,
        survivors.topic(&created).id,
        "the same topic id"
    );
    let v = c.agreed_view(Duration::from_secs(10), "after the restart");
    assert_eq!(v.topic(&created).partitions.len(), 2);
    assert_eq!(
        c.controller(old).unwrap(),
        new,
        "the restarted node names the new controller"
    );
    eprintln!("controller failover test: {} ms", test_started.elapsed().as_millis());
}

#[test]
fn a_paused_broker_is_fenced_and_its_leaderships_move_then_rejoins() {
    let test_started = Instant::now();
    let c = Cluster::start();
    create_ok(c.addr(0), "paused", 6, 3);
    let before = c.agreed_view(Duration::from_secs(10), "the RF=3 topic");
    let controller = c.controller(0).unwrap();
    let led = leaders(before.topic("paused"));
    let victim = *led
        .keys()
        .find(|b| **b != controller)
        .expect("a broker other than the controller leads a partition");
    let survivor = (0..3).find(|b| *b != victim && *b != controller).unwrap() as usize;
    let victim_parts = led[&victim].clone();

    let stopped_at = Instant::now();
    c.nodes[victim as usize].signal("-STOP");
    let after = wait_until(
        "the paused broker is no longer listed",
        Duration::from_millis(SESSION_TIMEOUT_MS + 3000),
        || {
            let v = view(c.addr(survivor))?;
            if v.brokers.iter().any(|b| b.0 == victim) {
                Err(format!("{:?}", v.brokers))
            } else {
                Ok(v)
            }
        },
    );
    let unlisted = stopped_at.elapsed();
    eprintln!(
        "paused broker {victim} (leading partitions {victim_parts:?}) unlisted {} ms after SIGSTOP \
         (session timeout {SESSION_TIMEOUT_MS} ms)",
        unlisted.as_millis()
    );
    assert!(
        unlisted >= Duration::from_millis(SESSION_TIMEOUT_MS - HEARTBEAT_MS),
        "fenced before its session could have expired: {unlisted:?}"
    );
    let was = before.topic("paused");
    let now = after.topic("paused");
    for (i, (b, a)) in was.partitions.iter().zip(&now.partitions).enumerate() {
        assert!(
            !a.isr.contains(&victim),
            "partition {i}: the paused broker left the ISR: {a:?}"
        );
        assert_eq!(a.offline, vec![victim], "partition {i}: {a:?}");
        assert_eq!(a.replicas, b.replicas, "partition {i}: replicas unchanged");
        if victim_parts.contains(&i) {
            let expected = b.replicas.iter().copied().find(|r| *r != victim).unwrap();
            assert_eq!(
                a.leader, expected,
                "partition {i}: the next ISR replica in replica order leads: was {b:?}, now {a:?}"
            );
            assert!(
                a.epoch > b.epoch,
                "partition {i}: a higher leader epoch: was {b:?}, now {a:?}"
            );
        } else {
            assert_eq!(
                (a.leader, a.epoch),
                (b.leader, b.epoch),
                "partition {i}: its leader stays"
            );
        }
    }
    // Produce to a moved partition through its new leader works; through the paused broker it cannot.
    let moved = victim_parts[0];
    assert_eq!(
        produce_one(&after.broker_addr(now.partitions[moved].leader), "paused", moved as i32),
        0
    );

    let resumed_at = Instant::now();
    c.nodes[victim as usize].signal("-CONT");
    let back = wait_until("the resumed broker is listed again", Duration::from_secs(10), || {
        let v = view(c.addr(survivor))?;
        if v.brokers.iter().any(|b| b.0 == victim) {
            Ok(v)
        } else {
            Err(format!("{:?}", v.brokers))
        }
    });
    eprintln!(
        "resumed broker {victim} listed again {} ms after SIGCONT",
        resumed_at.elapsed().as_millis()
    );
    // The leaders stay where they moved (no preferred-leader election); the ISR grows back as the resumed
    // broker catches up (the replication tests check that).
    for (i, p) in back.topic("paused").partitions.iter().enumerate() {
        assert!(p.offline.is_empty(), "partition {i}: {p:?}");
        assert_eq!(p.leader, now.partitions[i].leader, "partition {i}: {p:?}");
    }
    let agreed = c.agreed_view(Duration::from_secs(10), "after the rejoin");
    assert_eq!(agreed.brokers.len(), 3);
    eprintln!("pause/fence/rejoin test: {} ms", test_started.elapsed().as_millis());
}

#[test]
fn a_full_cluster_restart_keeps_topics_assignments_and_epochs() {
    let test_started = Instant::now();
    let mut c = Cluster::start();
    create_ok(c.addr(0), "kept-rf1", 6, 1);
    create_ok(c.addr(1), "kept-rf3", 3, 3);
    let py = python();
    if let Some(py) = &py {
        scenario(py, c.addr(2), "cluster_roundtrip", &["kept-rf1", "300", "0"]);
    }
    let before = c.agreed_view(Duration::from_secs(10), "before the crash");

    let crashed = Instant::now();
    for n in &mut c.nodes {
        n.kill();
    }
    for n in &mut c.nodes {
        n.start();
    }
    // While the nodes come back, note every Metadata answer naming as a partition's leader a broker it
    // does not list (fenced or unknown): printed as evidence, not asserted (it depends on timing).
    let mut unlisted_leaders = BTreeSet::new();
    wait_until(
        "every node serves and lists all three brokers",
        Duration::from_secs(40),
        || {
            let mut complete = 0;
            for i in 0..3 {
                let Ok(v) = view(c.addr(i)) else { continue };
                let listed: BTreeSet<i32> = v.brokers.iter().map(|b| b.0).collect();
                for (name, t) in &v.topics {
                    for (p, part) in t.partitions.iter().enumerate() {
                        if part.leader >= 0 && !listed.contains(&part.leader) {
                            unlisted_leaders.insert(format!(
                                "node {i}: {name}-{p} led by {}@{} while listing {listed:?}",
                                part.leader, part.epoch
                            ));
                        }
                    }
                }
                complete += usize::from(listed.len() == 3);
            }
            if complete == 3 {
                Ok(())
            } else {
                Err(format!("{complete} of 3 nodes list all brokers"))
            }
        },
    );
    c.wait_all_listed(Duration::from_secs(5));
    if !unlisted_leaders.is_empty() {
        eprintln!("during the restart, partitions led by a broker not listed (fenced): {unlisted_leaders:#?}");
    }
    let after = c.agreed_view(Duration::from_secs(10), "after the restart");
    eprintln!(
        "full crash (kill -9 of all three) and restart: all serving and listed in {} ms",
        crashed.elapsed().as_millis()
    );
    assert_eq!(
        after.topics.keys().collect::<Vec<_>>(),
        before.topics.keys().collect::<Vec<_>>(),
        "the same topics"
    );
    let mut report = Vec::new();
    // Kafka bumps the leader epoch of every partition a broker led when it comes back from an unclean
    // shutdown (fenced, then elected again); counted and printed, not asserted.
    let mut same_leader_new_epoch = 0;
    for (name, b) in &before.topics {
        let a = after.topic(name);
        assert_eq!(a.id, b.id, "{name}: the same topic id");
        assert_eq!(a.partitions.len(), b.partitions.len(), "{name}");
        for (i, (pb, pa)) in b.partitions.iter().zip(&a.partitions).enumerate() {
            assert_eq!(pa.replicas, pb.replicas, "{name}-{i}: the same replicas");
            assert!(
                pa.epoch >= pb.epoch,
                "{name}-{i}: the leader epoch went back: before {pb:?}, after {pa:?}"
            );
            report.push(format!(
                "{name}-{i}: leader {}@{} -> {}@{}, isr {:?} -> {:?}",
                pb.leader, pb.epoch, pa.leader, pa.epoch, pb.isr, pa.isr
            ));
            if pa.leader == pb.leader && pa.epoch != pb.epoch {
                same_leader_new_epoch += 1;
            }
            assert!(pa.leader >= 0, "{name}-{i}: a leader after the restart: {pa:?}");
        }
    }
    eprintln!(
        "after the full restart ({same_leader_new_epoch} partitions kept their leader at a higher epoch):\n  {}",
        report.join("\n  ")
    );
    // The RF=1 partitions keep their only possible leader, and their records.
    for (pb, pa) in before
        .topic("kept-rf1")
        .partitions
        .iter()
        .zip(&after.topic("kept-rf1").partitions)
    {
        assert_eq!(pa.leader, pb.leader);
    }
    // Produce and consume still work, and the records from before the crash are still there.
    if let Some(py) = &py {
        let out = scenario(py, c.addr(0), "cluster_roundtrip", &["kept-rf1", "300", "1"]);
        eprintln!("after the full restart: {}", out.lines().next().unwrap_or(""));
    }
    eprintln!("full restart test: {} ms", test_started.elapsed().as_millis());
}

#[test]
fn acknowledged_topic_creations_survive_a_voter_killed_mid_append() {
    let test_started = Instant::now();
    let mut c = Cluster::start();
    let controller = c.controller(0).unwrap() as usize;
    // Create through a node that is not the active controller (each creation is forwarded), kill the
    // active controller while creations are in flight.
    let via = (controller + 1) % 3;
    let addr = c.addr(via).to_string();
    let acked = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let creators: Vec<_> = (0..3)
        .map(|w| {
            let (addr, acked, stop) = (addr.clone(), Arc::clone(&acked), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut outcomes = Vec::new();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let name = format!("durable-{w}-{i}");
                    let answer = create_topic(&addr, &name, 1, 1);
                    if let Ok(0) = answer {
                        acked.fetch_add(1, Ordering::Relaxed);
                    }
                    outcomes.push((name, answer.map_err(|e| e.to_string())));
                    i += 1;
                }
                outcomes
            })
        })
        .collect();
    wait_until("30 acknowledged creations", Duration::from_secs(30), || {
        let n = acked.load(Ordering::Relaxed);
        if n >= 30 {
            Ok(())
        } else {
            Err(format!("{n}"))
        }
    });
    let at_kill = acked.load(Ordering::Relaxed);
    c.nodes[controller].kill();
    wait_until(
        "30 more acknowledged creations after the kill",
        Duration::from_secs(30),
        || {
            let n = acked.load(Ordering::Relaxed);
            if n >= at_kill + 30 {
                Ok(())
            } else {
                Err(format!("{n}"))
            }
        },
    );
    stop.store(true, Ordering::Relaxed);
    let outcomes: Vec<(String, Result<i16, String>)> = creators.into_iter().flat_map(|t| t.join().unwrap()).collect();
    let acknowledged: BTreeSet<&str> = outcomes
        .iter()
        .filter(|(_, r)| *r == Ok(0))
        .map(|(n, _)| n.as_str())
        .collect();
    let failed: Vec<&(String, Result<i16, String>)> = outcomes.iter().filter(|(_, r)| *r != Ok(0)).collect();
    eprintln!(
        "durability: {} creations, {} acknowledged ({at_kill} before the kill of controller {controller}), \
         not acknowledged: {failed:?}",
        outcomes.len(),
        acknowledged.len()
    );

    let restarted = Instant::now();
    c.nodes[controller].start();
    c.wait_serving(controller, Duration::from_secs(30));
    let v = wait_until(
        "the restarted node shows every acknowledged topic",
        Duration::from_secs(15),
        || {
            let v = view(c.addr(controller))?;
            let missing: Vec<&&str> = acknowledged.iter().filter(|n| !v.topics.contains_key(**n)).collect();
            if missing.is_empty() {
                Ok(v)
            } else {
                Err(format!("missing {} acknowledged topics: {missing:?}", missing.len()))
            }
        },
    );
    eprintln!(
        "the restarted voter {controller} serves all {} acknowledged topics {} ms after its restart",
        acknowledged.len(),
        restarted.elapsed().as_millis()
    );
    let agreed = c.agreed_view(Duration::from_secs(15), "after the restart");
    assert_eq!(
        agreed.topics.keys().collect::<Vec<_>>(),
        v.topics.keys().collect::<Vec<_>>()
    );
    eprintln!("durability test: {} ms", test_started.elapsed().as_millis());
}

#[test]
fn a_broker_only_node_follows_the_metadata_as_an_observer_and_hosts_partitions() {
    // Node 3 has `process_roles = ["broker"]`: it finds the active controller through the voters, registers,
    // is added to the quorum as an observer (not a voter), and takes its share of new partitions.
    let c = Cluster::start_with(1);
    create_ok(c.addr(3), "spread", 8, 1);
    let v = c.agreed_view(Duration::from_secs(10), "a topic created through the observer");
    let t = v.topic("spread");
    let leaders: BTreeSet<i32> = t.partitions.iter().map(|p| p.leader).collect();
    assert_eq!(
        leaders,
        BTreeSet::from([0, 1, 2, 3]),
        "8 partitions striped over 4 brokers: {t:?}"
    );
    // The observer leads its partitions: a produce sent to it for one of them is accepted.
    let mine = t.partitions.iter().position(|p| p.leader == 3).unwrap() as i32;
    assert_eq!(produce_one(c.addr(3), "spread", mine), 0);
    // DescribeQuorum: three voters, node 3 an observer, caught up.
    let body = protocol::DescribeQuorumRequest {
        topics: vec![protocol::DescribeQuorumTopicData {
            topic_name: "__cluster_metadata".into(),
            partitions: vec![protocol::DescribeQuorumPartitionData {
                partition_index: 0,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let q = wait_until(
        "the observer caught up in DescribeQuorum",
        Duration::from_secs(10),
        || match call(c.addr(3), 2, body.clone().into()).map_err(|e| e.to_string())? {
            ResponseBody::DescribeQuorum(q) if q.error_code == 0 => {
                let p = &q.topics[0].partitions[0];
                let observers: Vec<(i32, i64)> = p.observers.iter().map(|o| (o.replica_id, o.log_end_offset)).collect();
                let leader_end = p
                    .current_voters
                    .iter()
                    .find(|v| v.replica_id == p.leader_id)
                    .map_or(-1, |v| v.log_end_offset);
                if observers == [(3, leader_end)] {
                    Ok(q)
                } else {
                    Err(format!("observers {observers:?}, leader end {leader_end}"))
                }
            }
            other => Err(format!("{other:?}")),
        },
    );
    let voters: BTreeSet<i32> = q.topics[0].partitions[0]
        .current_voters
        .iter()
        .map(|v| v.replica_id)
        .collect();
    assert_eq!(voters, BTreeSet::from([0, 1, 2]));
}

#[test]
fn sigterm_moves_leaderships_away_before_the_broker_stops() {
    // A controlled shutdown: the broker asks the controller to move its leaderships, waits until it is let
    // go, then stops. The survivors list it as gone at once (not a session timeout later), every partition
    // it led has the next ISR replica as leader at a higher epoch, and the process exits cleanly.
    let c = Cluster::start();
    create_ok(c.addr(0), "leaving", 6, 3);
    let before = c.agreed_view(Duration::from_secs(10), "the RF=3 topic");
    let controller = c.controller(0).unwrap();
    let led = leaders(before.topic("leaving"));
    let victim = *led
        .keys()
        .find(|b| **b != controller)
        .expect("a broker other than the controller leads a partition");
    let survivor = (0..3).find(|b| *b != victim && *b != controller).unwrap() as usize;
    let mut c = c;
    let started = Instant::now();
    c.nodes[victim as usize].signal("-TERM");
    let status = {
        let child = c.nodes[victim as usize].child.as_mut().unwrap();
        wait_until("the broker exits after SIGTERM", Duration::from_secs(15), || {
            child
                .try_wait()
                .map_err(|e| e.to_string())?
                .ok_or_else(|| "still running".to_string())
        })
    };
    c.nodes[victim as usize].child = None;
    let stopped = started.elapsed();
    assert!(status.success(), "exit status {status}");
    let v = view(c.addr(survivor)).unwrap();
    eprintln!(
        "broker {victim} stopped {} ms after SIGTERM; survivors list {:?}",
        stopped.as_millis(),
        v.brokers.iter().map(|b| b.0).collect::<Vec<_>>()
    );
    assert!(
        !v.brokers.iter().any(|b| b.0 == victim),
        "still listed right after its controlled shutdown: {:?}",
        v.brokers
    );
    let (was, now) = (before.topic("leaving"), v.topic("leaving"));
    for (i, (b, a)) in was.partitions.iter().zip(&now.partitions).enumerate() {
        assert!(!a.isr.contains(&victim), "partition {i}: {a:?}");
        if b.leader == victim {
            let expected = b.replicas.iter().copied().find(|r| *r != victim).unwrap();
            assert_eq!(
                (a.leader, a.epoch > b.epoch),
                (expected, true),
                "partition {i}: was {b:?}, now {a:?}"
            );
        }
    }
}

#[test]
fn consumer_groups_are_coordinated_by_the_leader_of_their_offsets_partition() {
    // Classic and KIP-848 groups through one bootstrap node: FindCoordinator names the leader of the group's
    // `__consumer_offsets` partition, commits land there, and a resumed member starts from them. A group
    // request sent to a broker that does not coordinate the group is NOT_COORDINATOR.
    let Some(python) = python() else { return };
    let c = Cluster::start();
    for protocol in ["classic", "consumer"] {
        // A topic of its own per group: the first member reads it from the beginning.
        let topic = format!("grouped-{protocol}");
        create_ok(c.addr(0), &topic, 6, 1);
        c.agreed_view(Duration::from_secs(10), "the grouped topic");
        let out = scenario(&python, c.addr(1), "cluster_group", &[&topic, "60", protocol]);
        eprintln!("{}", out.trim());
    }
    let v = c.agreed_view(Duration::from_secs(10), "after the groups");
    let offsets = v.topic("__consumer_offsets");
    let leaders: BTreeSet<i32> = offsets.partitions.iter().map(|p| p.leader).collect();
    assert_eq!(
        leaders,
        BTreeSet::from([0, 1, 2]),
        "__consumer_offsets is spread: {offsets:?}"
    );
    // A heartbeat for a group whose partition another broker leads: NOT_COORDINATOR.
    let group = "not-here";
    let partition = (0..offsets.partitions.len())
        .find(|p| *p as i32 == server_partition_for(group, offsets.partitions.len() as i32))
        .unwrap();
    let coordinator = offsets.partitions[partition].leader;
    let other = (0..3).find(|b| *b != coordinator).unwrap() as usize;
    let heartbeat = protocol::HeartbeatRequest {
        group_id: group.into(),
        generation_id: 1,
        member_id: "m".into(),
        ..Default::default()
    };
    match call(c.addr(other), 4, heartbeat.into()).unwrap() {
        ResponseBody::Heartbeat(r) => assert_eq!(r.error_code, ErrorCode::NotCoordinator.code()),
        other => panic!("{other:?}"),
    }
}

/// Kafka's `partitionFor`: `abs(groupId.hashCode()) % partitions`, Java's hash over UTF-16 code units.
fn server_partition_for(group: &str, partitions: i32) -> i32 {
    let hash = group
        .encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)));
    let abs = if hash == i32::MIN { 0 } else { hash.abs() };
    abs % partitions.max(1)
}
