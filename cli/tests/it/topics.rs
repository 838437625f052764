//! `kzero topics create|list|describe|alter|delete|delete-records`.

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

#[test]
fn alter_adds_partitions_and_changes_configs_and_delete_records_raises_the_start() {
    let broker = Broker::start();
    broker.kzero(&["topics", "create", "t", "--partitions", "2"]).ok();
    assert_eq!(
        broker.kzero(&["topics", "alter", "t", "--partitions", "4"]).ok(),
        "Topic t now has 4 partitions.\n"
    );
    let described = broker.kzero(&["topics", "describe", "t"]);
    assert!(described.ok().contains("PartitionCount: 4"), "{}", described.stdout);
    // The new partitions take records.
    broker
        .kzero_input(&["produce", "t", "--partition", "3"], b"x\ny\n")
        .ok();
    let fewer = broker.kzero(&["topics", "alter", "t", "--partitions", "3"]);
    assert!(
        fewer.fails().contains("partitions cannot be removed"),
        "{}",
        fewer.stderr
    );

    // Set, then delete, a config; the others keep their values.
    broker
        .kzero(&[
            "topics",
            "alter",
            "t",
            "--config",
            "retention.ms=5000",
            "--config",
            "segment.ms=9000",
        ])
        .ok();
    let described = broker.kzero(&["topics", "describe", "t"]);
    assert!(
        described.ok().contains("retention.ms=5000,segment.ms=9000"),
        "{}",
        described.stdout
    );
    assert_eq!(
        broker
            .kzero(&["topics", "alter", "t", "--delete-config", "retention.ms"])
            .ok(),
        "Altered the configs of topic t.\n"
    );
    let described = broker.kzero(&["topics", "describe", "t"]);
    assert!(!described.ok().contains("retention.ms=5000"), "{}", described.stdout);
    assert!(described.ok().contains("segment.ms=9000"), "{}", described.stdout);
    let bad = broker.kzero(&["topics", "alter", "t", "--config", "retention.ms=-7"]);
    assert!(bad.fails().contains("at least"), "{}", bad.stderr);
    let nothing = broker.kzero(&["topics", "alter", "t"]);
    assert!(nothing.fails().contains("nothing to alter"), "{}", nothing.stderr);

    // delete-records: the low watermark moves; describe shows the new start; beyond the end is refused.
    broker
        .kzero_input(&["produce", "t", "--partition", "0"], b"a\nb\nc\nd\n")
        .ok();
    assert_eq!(
        broker
            .kzero(&["topics", "delete-records", "t", "--partition", "0", "--before", "3"])
            .ok(),
        "Topic: t\tPartition: 0\tLowWatermark: 3\n"
    );
    let described = broker.kzero(&["topics", "describe", "t"]);
    assert!(
        described
            .ok()
            .contains("Partition: 0\tLeader: 0\tReplicas: 0\tIsr: 0\tLogStartOffset: 3\tLogEndOffset: 4"),
        "{}",
        described.stdout
    );
    let beyond = broker.kzero(&["topics", "delete-records", "t", "--partition", "0", "--before", "99"]);
    assert!(
        beyond.fails().contains("beyond the high watermark"),
        "{}",
        beyond.stderr
    );
    let all = broker.kzero(&["topics", "delete-records", "t", "--before", "-1"]);
    assert_eq!(all.ok().lines().count(), 4, "{}", all.stdout);
    assert!(all.ok().contains("Partition: 3\tLowWatermark: 2"), "{}", all.stdout);
}
