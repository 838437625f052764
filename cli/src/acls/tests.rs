//! Tests of `kzero acls`: options to the ACLs, filters and wire fields they send.

use clap::Parser;

use super::*;

/// Parses `kzero acls <args>` the way the binary does and returns the subcommand.
fn parse(args: &[&str]) -> AclsCommand {
    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: AclsCommand,
    }
    let mut argv = vec!["acls"];
    argv.extend_from_slice(args);
    Cli::try_parse_from(argv).unwrap().command
}

fn change(args: &[&str]) -> ChangeArgs {
    match parse(args) {
        AclsCommand::Add(a) | AclsCommand::Remove(a) => a,
        AclsCommand::List(_) => panic!("not a change: {args:?}"),
    }
}

fn list_args(args: &[&str]) -> ListArgs {
    let mut argv = vec!["list"];
    argv.extend_from_slice(args);
    match parse(&argv) {
        AclsCommand::List(a) => a,
        _ => unreachable!(),
    }
}

/// An ACL as its printed row.
fn rows(bindings: &[AclBinding]) -> Vec<String> {
    bindings.iter().map(|b| row(b).join(" ")).collect()
}

#[test]
fn add_is_resources_times_principals_hosts_operations() {
    let a = change(&[
        "add",
        "--allow-principal",
        "User:alice",
        "--allow-principal",
        "User:bob",
        "--allow-host",
        "10.0.0.1",
        "--deny-principal",
        "User:mallory",
        "--operation",
        "Read",
        "--operation",
        "describe",
        "--topic",
        "a",
        "--group",
        "g",
    ]);
    assert_eq!(
        rows(&bindings_to_add(&a).unwrap()),
        [
            "User:alice 10.0.0.1 READ ALLOW TOPIC a LITERAL",
            "User:alice 10.0.0.1 DESCRIBE ALLOW TOPIC a LITERAL",
            "User:bob 10.0.0.1 READ ALLOW TOPIC a LITERAL",
            "User:bob 10.0.0.1 DESCRIBE ALLOW TOPIC a LITERAL",
            "User:mallory * READ DENY TOPIC a LITERAL",
            "User:mallory * DESCRIBE DENY TOPIC a LITERAL",
            "User:alice 10.0.0.1 READ ALLOW GROUP g LITERAL",
            "User:alice 10.0.0.1 DESCRIBE ALLOW GROUP g LITERAL",
            "User:bob 10.0.0.1 READ ALLOW GROUP g LITERAL",
            "User:bob 10.0.0.1 DESCRIBE ALLOW GROUP g LITERAL",
            "User:mallory * READ DENY GROUP g LITERAL",
            "User:mallory * DESCRIBE DENY GROUP g LITERAL",
        ]
    );
}

#[test]
fn add_defaults_and_wire_codes() {
    let a = change(&[
        "add",
        "--allow-principal",
        "User:*",
        "--cluster",
        "--transactional-id",
        "tx-",
        "--resource-pattern-type",
        "PREFIXED",
    ]);
    let bindings = bindings_to_add(&a).unwrap();
    assert_eq!(
        rows(&bindings),
        [
            "User:* * ALL ALLOW CLUSTER kafka-cluster PREFIXED",
            "User:* * ALL ALLOW TRANSACTIONAL_ID tx- PREFIXED",
        ]
    );
    let wire = creation(&bindings[1]);
    assert_eq!(
        (
            wire.resource_type,
            wire.resource_name.as_str(),
            wire.resource_pattern_type,
            wire.principal.as_str(),
            wire.host.as_str(),
            wire.operation,
            wire.permission_type
        ),
        (5, "tx-", 4, "User:*", "*", 2, 3)
    );
    // Repeated options make one ACL, not two.
    let a = change(&[
        "add",
        "--allow-principal",
        "User:a",
        "--operation",
        "Read",
        "--operation",
        "READ",
        "--topic",
        "t",
    ]);
    assert_eq!(bindings_to_add(&a).unwrap().len(), 1);
}

#[test]
fn add_refuses_what_cannot_be_an_acl() {
    let err = |args: &[&str]| bindings_to_add(&change(args)).unwrap_err().to_string();
    assert_eq!(
        err(&["add", "--allow-principal", "User:a"]),
        "name at least one resource: --topic, --group, --cluster or --transactional-id"
    );
    assert_eq!(
        err(&["add", "--topic", "t"]),
        "name at least one principal: --allow-principal or --deny-principal"
    );
    assert_eq!(
        err(&[
            "add",
            "--allow-principal",
            "User:a",
            "--topic",
            "t",
            "--resource-pattern-type",
            "match"
        ]),
        "acls add needs --resource-pattern-type literal or prefixed, not MATCH"
    );
    assert_eq!(
        err(&["add", "--allow-principal", "User:a", "--topic", ""]),
        "invalid ACL for TOPIC \"\": Invalid empty resource name"
    );
}

#[test]
fn option_values_are_parsed_like_kafka_acls() {
    for (input, expect) in [
        ("Read", Operation::Read),
        ("ClusterAction", Operation::ClusterAction),
        ("cluster_action", Operation::ClusterAction),
        ("DESCRIBE-CONFIGS", Operation::DescribeConfigs),
        ("alterconfigs", Operation::AlterConfigs),
        ("IdempotentWrite", Operation::IdempotentWrite),
        ("all", Operation::All),
    ] {
        assert_eq!(parse_operation(input), Ok(expect), "{input}");
    }
    for bad in ["any", "unknown", "reed", ""] {
        assert!(parse_operation(bad).is_err(), "{bad}");
    }
    assert_eq!(parse_pattern_type("literal"), Ok(PatternType::Literal));
    assert_eq!(parse_pattern_type("Prefixed"), Ok(PatternType::Prefixed));
    assert_eq!(parse_pattern_type("ANY"), Ok(PatternType::Any));
    assert_eq!(parse_pattern_type("match"), Ok(PatternType::Match));
    assert!(parse_pattern_type("unknown").is_err());
    assert_eq!(parse_principal("User:alice"), Ok("User:alice".into()));
    assert_eq!(parse_principal("Group:a:b"), Ok("Group:a:b".into()));
    assert!(parse_principal("alice").unwrap_err().contains("expected Type:name"));
}

/// The seven fields of a filter as a DeleteAcls request carries them, checked to be the fields a
/// DescribeAcls request carries for the same filter.
fn sent(f: &AclBindingFilter) -> (i8, Option<String>, i8, Option<String>, Option<String>, i8, i8) {
    let d = delete_filter(f);
    let fields = (
        d.resource_type_filter,
        d.resource_name_filter,
        d.pattern_type_filter,
        d.principal_filter,
        d.host_filter,
        d.operation,
        d.permission_type,
    );
    let r = describe_request(f);
    assert_eq!(
        fields,
        (
            r.resource_type_filter,
            r.resource_name_filter,
            r.pattern_type_filter,
            r.principal_filter,
            r.host_filter,
            r.operation,
            r.permission_type
        )
    );
    fields
}

#[test]
fn remove_without_principals_removes_every_acl_of_the_resources() {
    let filters = filters_to_remove(&change(&["remove", "--topic", "a", "--topic", "b"])).unwrap();
    assert_eq!(filters.len(), 2);
    assert_eq!(sent(&filters[1]), (2, Some("b".into()), 1, None, None, 1, 1));
    assert!(filters_to_remove(&change(&["remove"])).is_err());
}

#[test]
fn remove_with_principals_is_exact_but_any_operation() {
    let filters = filters_to_remove(&change(&[
        "remove",
        "--allow-principal",
        "User:alice",
        "--group",
        "g",
        "--resource-pattern-type",
        "literal",
    ]))
    .unwrap();
    assert_eq!(filters.len(), 1);
    assert_eq!(
        sent(&filters[0]),
        (
            3,
            Some("g".into()),
            3,
            Some("User:alice".into()),
            Some("*".into()),
            1,
            3
        )
    );
    let with_op = filters_to_remove(&change(&[
        "remove",
        "--deny-principal",
        "User:m",
        "--deny-host",
        "1.2.3.4",
        "--operation",
        "Write",
        "--topic",
        "t",
    ]))
    .unwrap();
    assert_eq!(
        sent(&with_op[0]),
        (
            2,
            Some("t".into()),
            1,
            Some("User:m".into()),
            Some("1.2.3.4".into()),
            4,
            2
        )
    );
}

#[test]
fn list_filters() {
    // Nothing named: every ACL.
    let all = filters_to_list(&list_args(&[]));
    assert_eq!(all.len(), 1);
    assert_eq!(sent(&all[0]), (1, None, 1, None, None, 1, 1));
    // Each resource for each principal.
    let some = filters_to_list(&list_args(&[
        "--topic",
        "a",
        "--cluster",
        "--principal",
        "User:x",
        "--principal",
        "User:y",
        "--resource-pattern-type",
        "match",
    ]));
    let described: Vec<(i8, Option<String>, i8, Option<String>)> = some
        .iter()
        .map(describe_request)
        .map(|r| {
            (
                r.resource_type_filter,
                r.resource_name_filter,
                r.pattern_type_filter,
                r.principal_filter,
            )
        })
        .collect();
    assert_eq!(
        described,
        [
            (2, Some("a".into()), 2, Some("User:x".into())),
            (2, Some("a".into()), 2, Some("User:y".into())),
            (4, Some("kafka-cluster".into()), 2, Some("User:x".into())),
            (4, Some("kafka-cluster".into()), 2, Some("User:y".into())),
        ]
    );
}

#[test]
fn response_codes_become_names() {
    let b = binding(3, "g", 4, "User:a", "*", 12, 2);
    assert_eq!(row(&b).join(" "), "User:a * IDEMPOTENT_WRITE DENY GROUP g PREFIXED");
    let unknown = binding(99, "x", 99, "User:a", "*", 99, 99);
    assert_eq!(row(&unknown).join(" "), "User:a * UNKNOWN UNKNOWN UNKNOWN x UNKNOWN");
}
