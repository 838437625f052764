//! `kzero topics create|list|describe|delete`.

use crate::support::Broker;

#[test]
fn create_list_describe_delete() {
    let broker = Broker::start();
    assert_eq!(
        broker.kzero(&["topics", "create", "orders", "--partitions", "3"]).ok(),
        "Created topic orders.\n"
    );
    assert_eq!(
        broker.kzero(&["topics", "create", "audit"]).ok(),
        "Created topic audit.\n"
    );
    assert_eq!(broker.kzero(&["topics", "list"]).ok(), "audit\norders\n");

    broker
        .kzero_input(&["produce", "orders", "--partition", "1"], b"a\nb\nc\n")
        .ok();
    let describe = broker.kzero(&["topics", "describe", "orders"]);
    let lines: Vec<&str> = describe.ok().lines().collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(
        lines[0].starts_with("Topic: orders\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: "),
        "{}",
        lines[0]
    );
    assert_eq!(
        lines[1],
        "\tTopic: orders\tPartition: 0\tLeader: 0\tReplicas: 0\tIsr: 0\tLogStartOffset: 0\tLogEndOffset: 0"
    );
    assert_eq!(
        lines[2],
        "\tTopic: orders\tPartition: 1\tLeader: 0\tReplicas: 0\tIsr: 0\tLogStartOffset: 0\tLogEndOffset: 3"
    );

    // Without names, every topic.
    let all = broker.kzero(&["topics", "describe"]);
    assert_eq!(all.ok().lines().filter(|l| l.starts_with("Topic: ")).count(), 2);
    let configs = broker.kzero(&["topics", "describe", "audit", "--all-configs"]);
    assert!(configs.ok().contains("retention.ms="), "{}", configs.stdout);

    assert_eq!(
        broker.kzero(&["topics", "delete", "orders"]).ok(),
        "Deleted topic orders.\n"
    );
    assert_eq!(broker.kzero(&["topics", "list"]).ok(), "audit\n");
    assert_eq!(
        broker.kzero(&["topics", "describe", "orders"]).fails(),
        r#"error: unknown topic "orders""#
    );
}

#[test]
fn create_and_delete_report_conflicts() {
    let broker = Broker::start();
    broker.kzero(&["topics", "create", "t"]).ok();
    let again = broker.kzero(&["topics", "create", "t"]);
    assert!(again.fails().contains("TOPIC_ALREADY_EXISTS"), "{}", again.stderr);
    assert_eq!(broker.kzero(&["topics", "create", "t", "--if-not-exists"]).ok(), "");

    let missing = broker.kzero(&["topics", "delete", "missing"]);
    assert_eq!(
        missing.fails(),
        r#"error: cannot delete topic "missing": unknown topic "missing""#
    );
    assert_eq!(broker.kzero(&["topics", "delete", "missing", "--if-exists"]).ok(), "");

    // Per-topic configs are set, and shown by describe; a value the broker cannot honour is refused in one line.
    broker
        .kzero(&["topics", "create", "c", "--config", "retention.ms=1000"])
        .ok();
    let described = broker.kzero(&["topics", "describe", "c"]);
    assert!(described.ok().contains("retention.ms=1000"), "{}", described.stdout);
    let compact = broker.kzero(&["topics", "create", "d", "--config", "cleanup.policy=compact"]);
    assert!(compact.fails().contains("INVALID_CONFIG"), "{}", compact.stderr);
    let bad = broker.kzero(&["topics", "create", "bad name!"]);
    assert!(bad.fails().contains("INVALID_TOPIC_EXCEPTION"), "{}", bad.stderr);
}
