//! Config parsing: the example file, unknown keys and bad values.

use super::*;

#[test]
fn the_example_config_lists_every_key_with_its_default() {
    let text = include_str!("../../../kzero.example.toml");
    let parsed = Config::from_toml(text).unwrap();
    // The example has the TLS section commented out and shows the defaults.
    assert_eq!(parsed, Config::default());
    // Every key of the config appears in the example (commented or not).
    for key in [
        "node_id",
        "listen",
        "advertised_listen",
        "data_dir",
        "num_partitions",
        "auto_create_topics",
        "message_max_bytes",
        "max_request_bytes",
        "fetch_max_bytes",
        "metrics_listen",
        "slow_request_ms",
        "log_format",
        "[log]",
        "segment_bytes",
        "segment_ms",
        "segment_index_bytes",
        "index_interval_bytes",
        "retention_ms",
        "retention_bytes",
        "retention_check_interval_ms",
        "flush_messages",
        "flush_ms",
        "segment_file_cache",
        "[transfer]",
        "mode",
        "[group]",
        "initial_rebalance_delay_ms",
        "min_session_timeout_ms",
        "max_session_timeout_ms",
        "offsets_topic_partitions",
        "offsets_retention_minutes",
        "offsets_retention_check_interval_ms",
        "[tls]",
        "cert",
        "key",
        "client_auth",
        "ca =",
        "principal_mapping_rules",
        "[sasl]",
        "ssl_listen",
        "ssl_advertised_listen",
        "mechanisms",
        "bootstrap_users",
        "inter_broker_user",
        "connections_max_reauth_ms",
        "[authorizer]",
        "enabled",
        "super_users",
        "allow_everyone_if_no_acl_found",
    ] {
        assert!(text.contains(key), "kzero.example.toml does not mention {key}");
    }
}

#[test]
fn unknown_keys_and_bad_values_name_the_key() {
    let err = Config::from_toml("nod_id = 1").unwrap_err().to_string();
    assert!(err.contains("nod_id"), "{err}");
    let err = Config::from_toml("[log]\nsegment_byte = 10").unwrap_err().to_string();
    assert!(err.contains("segment_byte"), "{err}");
    let err = Config::from_toml("num_partitions = \"two\"").unwrap_err().to_string();
    assert!(err.contains("num_partitions"), "{err}");
    let err = Config::from_toml("num_partitions = 0").unwrap_err().to_string();
    assert!(err.contains("num_partitions"), "{err}");
    let err = Config::from_toml("[log]\nsegment_bytes = 10").unwrap_err().to_string();
    assert!(err.contains("log.segment_bytes"), "{err}");
    let err = Config::from_toml("[transfer]\nmode = \"zerocopy\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("mode"), "{err}");
    for (toml, key) in [
        ("[group]\nconsumer_max_size = -1", "group.consumer_max_size"),
        (
            "[group]\nconsumer_heartbeat_interval_ms = 50000",
            "group.consumer_heartbeat_interval_ms",
        ),
        (
            "[group]\nconsumer_session_timeout_ms = 100",
            "group.consumer_heartbeat_interval_ms",
        ),
        ("[group]\nconsumer_assignors = [\"sticky\"]", "group.consumer_assignors"),
    ] {
        let err = Config::from_toml(toml).unwrap_err().to_string();
        assert!(err.contains(key), "{toml}: {err}");
    }
}

#[test]
fn overrides_and_advertised_address() {
    let c = Config::from_toml("listen = \"127.0.0.1:1234\"\nadvertised_listen = \"kafka.example:9092\"").unwrap();
    assert_eq!(
        c.advertised("127.0.0.1:1234".parse().unwrap()),
        ("kafka.example".to_string(), 9092)
    );
    let c = Config::default();
    assert_eq!(
        c.advertised("127.0.0.1:5555".parse().unwrap()),
        ("127.0.0.1".to_string(), 5555)
    );
}

#[test]
fn the_issue_keys_of_a_secured_broker_parse_and_are_checked() {
    let c = Config::from_toml(
        r#"
[sasl]
listen = "127.0.0.1:9094"
mechanisms = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
bootstrap_users = [{ name = "admin", password = "admin-secret" }]
[authorizer]
enabled = true
super_users = ["User:admin"]
"#,
    )
    .unwrap();
    assert!(c.authorizer.enabled && !c.authorizer.allow_everyone_if_no_acl_found);
    assert_eq!(
        c.inter_broker_credentials(),
        Some(("admin".into(), "admin-secret".into()))
    );
    // The password never reaches a log line through Debug.
    assert!(!format!("{c:?}").contains("admin-secret"));
    let bad = [
        (
            "[sasl]\nlisten = \"127.0.0.1:1\"\nmechanisms = [\"GSSAPI\"]",
            "sasl.mechanisms",
        ),
        (
            "[sasl]\nlisten = \"127.0.0.1:1\"\nssl_listen = \"127.0.0.1:2\"",
            "sasl.ssl_listen",
        ),
        (
            "[sasl]\nlisten = \"127.0.0.1:1\"\ninter_broker_user = \"x\"",
            "sasl.inter_broker_user",
        ),
        ("[authorizer]\nsuper_users = [\"admin\"]", "authorizer.super_users"),
        (
            "[authorizer]\nenabled = true\n[controller]\nlisten = \"127.0.0.1:1\"\nquorum_voters = [\"0@127.0.0.1:1\"]",
            "authorizer.enabled",
        ),
        (
            "[tls]\nlisten = \"127.0.0.1:1\"\ncert = \"c\"\nkey = \"k\"\nclient_auth = \"required\"",
            "tls.ca",
        ),
        (
            "[tls]\nlisten = \"127.0.0.1:1\"\ncert = \"c\"\nkey = \"k\"\nprincipal_mapping_rules = [\"RULE:x\"]",
            "tls.principal_mapping_rules",
        ),
    ];
    for (text, key) in bad {
        let err = Config::from_toml(text).unwrap_err().to_string();
        assert!(err.contains(key), "{text}: {err}");
    }
}
