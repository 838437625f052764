//! Unmodified real clients against the broker: confluent-kafka (librdkafka 2.16), kafka-python 3.x and,
//! where installed, kcat (Debian's, librdkafka 2.0). The scenarios live in `tests/clients/interop.py`.

use std::io::Write;
use std::process::{Command, Stdio};

use server::config::TlsSection;

use crate::support::{config, kafkajs, kcat, python, scenario, TestBroker};

#[test]
fn round_trips_with_every_codec_and_both_clients() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(config(dir.path()));
    scenario(&py, &broker.bootstrap(), "roundtrip", &[]);
    broker.stop().unwrap();
}

#[test]
fn several_partitions_offsets_and_admin() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(config(dir.path()));
    scenario(&py, &broker.bootstrap(), "partitions", &[]);
    scenario(&py, &broker.bootstrap(), "offsets", &[]);
    scenario(&py, &broker.bootstrap(), "admin", &[]);
    broker.stop().unwrap();
}

/// librdkafka and kafka-python negotiate their own newest versions (Metadata 13, Fetch 16 with topic ids,
/// Produce 10, ListOffsets 7+, ...) and produce, consume in a group, commit and look up offsets with them;
/// the admin calls tools make (describe cluster and topics, add partitions, alter configs, list offsets by
/// max timestamp, delete records, describe log dirs and producers) work through both admin clients.
#[test]
fn clients_negotiate_their_newest_versions_and_the_admin_apis_work() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(config(dir.path()));
    for name in ["negotiated", "kafka_python_negotiated", "admin_apis"] {
        let out = scenario(&py, &broker.bootstrap(), name, &[]);
        eprintln!("{}", out.trim());
    }
    broker.stop().unwrap();
}

#[test]
fn consumer_groups_split_partitions_take_over_and_resume_from_commits() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(config(dir.path()));
    let out = scenario(&py, &broker.bootstrap(), "groups", &[]);
    eprintln!("{}", out.trim());
    broker.stop().unwrap();
}

#[test]
fn messages_just_under_and_over_message_max_bytes() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let limit = cfg.message_max_bytes.to_string();
    let broker = TestBroker::start(cfg);
    scenario(&py, &broker.bootstrap(), "size_limits", &[&limit]);
    broker.stop().unwrap();
}

#[test]
fn a_restart_between_produce_and_consume_loses_nothing() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(config(dir.path()));
    scenario(&py, &broker.bootstrap(), "produce", &["restart", "5000", "300"]);
    broker.stop().unwrap();
    // A clean stop leaves the marker, so the next start needs no recovery.
    assert!(dir.path().join(".kafka_cleanshutdown").exists());
    let broker = TestBroker::start(config(dir.path()));
    scenario(&py, &broker.bootstrap(), "consume", &["restart", "5000", "300"]);
    broker.stop().unwrap();
}

#[test]
fn the_fetch_path_uses_sendfile() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(config(dir.path()));
    // 100 MB of 1 KiB records, produced, then consumed over plaintext.
    scenario(&py, &broker.bootstrap(), "produce", &["zerocopy", "100000", "1000"]);
    let before = broker.metric("kzero_bytes_sendfile_total");
    scenario(&py, &broker.bootstrap(), "consume", &["zerocopy", "100000", "1000"]);
    let sent = broker.metric("kzero_bytes_sendfile_total") - before;
    let copied = broker.metric("kzero_bytes_copied_total");
    assert!(sent >= 100e6, "only {sent} bytes went out through sendfile");
    assert_eq!(copied, 0.0, "record bytes were copied through user space");
    assert!(broker.metric("kzero_requests_total") > 10.0);
    broker.stop().unwrap();
}

#[test]
fn topic_configs_are_set_described_enforced_and_kept() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(config(dir.path()));
    scenario(&py, &broker.bootstrap(), "topic_configs", &["create", "configured"]);
    broker.stop().unwrap();
    let broker = TestBroker::start(config(dir.path()));
    scenario(&py, &broker.bootstrap(), "topic_configs", &["check", "configured"]);
    broker.stop().unwrap();
}

#[test]
fn consumers_over_tls() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let mut cfg = config(&dir.path().join("data"));
    cfg.tls = Some(TlsSection {
        listen: "127.0.0.1:0".parse().unwrap(),
        cert: cert_path.clone(),
        key: key_path,
        advertised_listen: None,
        client_auth: Default::default(),
        ca: None,
        principal_mapping_rules: vec!["DEFAULT".into()],
    });
    let broker = TestBroker::start(cfg);
    let tls = broker.tls_addr.unwrap().to_string();
    scenario(&py, &tls, "tls", &[cert_path.to_str().unwrap()]);
    assert!(broker.metric("kzero_bytes_tls_total") > 0.0);
    broker.stop().unwrap();
}

#[test]
fn kcat_produces_and_consumes() {
    let Some(kcat) = kcat() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(config(dir.path()));
    let input: String = (0..500).map(|i| format!("key{i}:value number {i}\n")).collect();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("kcat-{codec}");
        let mut p = Command::new(&kcat)
            .args(["-b", &broker.bootstrap(), "-t", &topic, "-P", "-K:", "-z", codec])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        p.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        assert!(p.wait().unwrap().success(), "kcat produce with {codec}");
        let out = Command::new(&kcat)
            .args([
                "-b",
                &broker.bootstrap(),
                "-t",
                &topic,
                "-C",
                "-e",
                "-q",
                "-f",
                "%k:%s\n",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "kcat consume with {codec}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            input,
            "kcat round trip with {codec}"
        );
    }
    let meta = Command::new(&kcat)
        .args(["-b", &broker.bootstrap(), "-L"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&meta.stdout).contains("topic \"kcat-zstd\" with 1 partitions"));
    broker.stop().unwrap();
}

#[test]
fn kafkajs_admin_and_idempotent_producer() {
    let Some(modules) = kafkajs() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(config(dir.path()));
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/kafkajs.js");
    let out = Command::new("node")
        .arg(&script)
        .arg(broker.bootstrap())
        .env("NODE_PATH", &modules)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("OK kafkajs"),
        "kafkajs failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    broker.stop().unwrap();
}
