//! Consumer groups (the classic protocol and KIP-848's consumer protocol) and committed offsets, driven by
//! unmodified real clients: confluent-kafka (librdkafka, also with `group.protocol=consumer`), kafka-python
//! and kafkajs. The scenarios are the `group_*` and `kip848_*` functions of `tests/clients/interop.py` and
//! `tests/clients/kafkajs_groups.js`; each test starts its own broker.
//!
//! Brokers use a short `[group] initial_rebalance_delay_ms` where the delay is not what is tested, so that
//! the whole set stays fast; the time-to-first-record test uses the broker's and the client's defaults.

use std::path::Path;
use std::process::Command;

use server::Config;

use crate::support::{config, kafkajs, python, scenario, TestBroker};

/// A test broker's config with a short initial rebalance delay.
fn quick(dir: &Path) -> Config {
    let mut cfg = config(dir);
    cfg.group.initial_rebalance_delay_ms = 300;
    cfg
}

/// A test broker for KIP-848 groups: a 6 s session timeout (Kafka's is 45 s) and 500 ms heartbeats, so
/// fencing is seen quickly.
fn kip848(dir: &Path) -> Config {
    let mut cfg = quick(dir);
    cfg.group.consumer_session_timeout_ms = 6000;
    cfg.group.consumer_heartbeat_interval_ms = 500;
    cfg
}

/// Runs a scenario and shows what it printed (`cargo test -- --nocapture`).
fn run(py: &Path, broker: &TestBroker, name: &str, extra: &[&str]) -> String {
    let out = scenario(py, &broker.bootstrap(), name, extra);
    eprintln!("{name}:\n{}", out.trim());
    out
}

#[test]
fn confluent_members_split_hand_over_and_resume_after_consumer_and_broker_restarts() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (topic, group) = ("restart-topic", "restart-group");
    let broker = TestBroker::start(quick(dir.path()));
    let out = run(&py, &broker, "group_restart", &["first", topic, group]);
    broker.stop().unwrap();
    let committed = out
        .lines()
        .find_map(|l| l.strip_prefix("COMMITTED "))
        .expect("the first phase prints the committed offsets")
        .to_string();
    // Same data directory: the commits come back from `__consumer_offsets`.
    let broker = TestBroker::start(quick(dir.path()));
    run(&py, &broker, "group_restart", &["after", topic, group, &committed]);
    broker.stop().unwrap();
}

#[test]
fn a_fresh_group_starts_at_earliest_or_latest_as_configured() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(quick(dir.path()));
    run(&py, &broker, "group_reset", &[]);
    broker.stop().unwrap();
}

#[test]
fn cooperative_sticky_moves_only_the_partitions_that_change_owner() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(quick(dir.path()));
    run(&py, &broker, "group_cooperative", &[]);
    broker.stop().unwrap();
}

#[test]
fn a_consumer_with_defaults_sees_its_first_record_within_four_seconds() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    // Broker defaults: a 3 s initial rebalance delay.
    let broker = TestBroker::start(config(dir.path()));
    assert_eq!(config(dir.path()).group.initial_rebalance_delay_ms, 3000);
    run(&py, &broker, "group_first_record", &[]);
    broker.stop().unwrap();
}

#[test]
fn kafka_python_group_consumes_commits_and_resumes() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(quick(dir.path()));
    run(&py, &broker, "group_kafka_python", &[]);
    broker.stop().unwrap();
}

#[test]
fn kafkajs_group_consumes_commits_and_resumes() {
    let Some(modules) = kafkajs() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(quick(dir.path()));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/kafkajs_groups.js");
    let out = Command::new("node")
        .arg(&script)
        .arg(broker.bootstrap())
        .env("NODE_PATH", &modules)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("OK kafkajs groups"),
        "kafkajs groups failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("kafkajs groups:\n{}", stdout.trim());
    broker.stop().unwrap();
}

#[test]
fn a_killed_member_is_expelled_after_its_session_timeout() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(quick(dir.path()));
    run(&py, &broker, "group_kill", &[]);
    broker.stop().unwrap();
}

#[test]
fn a_static_member_restarting_gets_its_partitions_back_without_a_rebalance() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(quick(dir.path()));
    run(&py, &broker, "group_static", &[]);
    broker.stop().unwrap();
}

#[test]
fn five_concurrent_members_converge_to_one_stable_assignment() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(quick(dir.path()));
    run(&py, &broker, "group_five", &[]);
    broker.stop().unwrap();
}

#[test]
fn kip848_members_split_and_only_moved_partitions_pause() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(kip848(dir.path()));
    run(&py, &broker, "kip848_groups", &[]);
    broker.stop().unwrap();
}

#[test]
fn kip848_regex_subscription_picks_up_a_new_topic_and_a_killed_member_is_fenced() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(kip848(dir.path()));
    run(&py, &broker, "kip848_regex", &[]);
    run(&py, &broker, "kip848_kill", &[]);
    broker.stop().unwrap();
}

#[test]
fn kip848_static_member_comes_back_to_its_partitions_without_a_rebalance() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(kip848(dir.path()));
    run(&py, &broker, "kip848_static", &[]);
    broker.stop().unwrap();
}

#[test]
fn kip848_commits_resume_after_a_broker_restart() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (topic, group) = ("kip848-restart-topic", "kip848-restart-group");
    let broker = TestBroker::start(kip848(dir.path()));
    run(&py, &broker, "kip848_restart", &["first", topic, group]);
    broker.stop().unwrap();
    let broker = TestBroker::start(kip848(dir.path()));
    run(&py, &broker, "kip848_restart", &["after", topic, group]);
    broker.stop().unwrap();
}
