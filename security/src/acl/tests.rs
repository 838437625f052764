//! Tests of the ACL model and the authorizer rules, one scenario per test, through `check`-style helpers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;

use Operation as Op;
use ResourceType as Rt;

const HOST: &str = "10.0.0.1";

fn binding(
    rt: Rt,
    pattern_type: PatternType,
    name: &str,
    principal: &str,
    op: Op,
    permission: Permission,
) -> AclBinding {
    AclBinding::new(
        ResourcePattern::new(rt, name, pattern_type),
        AccessControlEntry::new(principal, WILDCARD, op, permission),
    )
}

fn allow_literal(rt: Rt, name: &str, principal: &str, op: Op) -> AclBinding {
    binding(rt, PatternType::Literal, name, principal, op, Permission::Allow)
}

fn deny_literal(rt: Rt, name: &str, principal: &str, op: Op) -> AclBinding {
    binding(rt, PatternType::Literal, name, principal, op, Permission::Deny)
}

fn allow_prefixed(rt: Rt, name: &str, principal: &str, op: Op) -> AclBinding {
    binding(rt, PatternType::Prefixed, name, principal, op, Permission::Allow)
}

fn deny_prefixed(rt: Rt, name: &str, principal: &str, op: Op) -> AclBinding {
    binding(rt, PatternType::Prefixed, name, principal, op, Permission::Deny)
}

fn with_host(mut binding: AclBinding, host: &str) -> AclBinding {
    binding.entry.host = host.to_string();
    binding
}

fn authorizer(bindings: Vec<AclBinding>) -> Authorizer {
    Authorizer::default().with_bindings(bindings)
}

fn ctx(principal: &str) -> RequestContext {
    ctx_from(principal, HOST)
}

fn ctx_from(principal: &str, host: &str) -> RequestContext {
    RequestContext::new(KafkaPrincipal::parse(principal).unwrap(), host)
}

/// Checks one authorization of `principal` from [`HOST`].
#[track_caller]
fn check(authz: &Authorizer, principal: &str, op: Op, rt: Rt, name: &str, expect: Decision) {
    let got = authz.authorize(&ctx(principal), op, rt, name);
    assert_eq!(got, expect, "{principal} {op} on {rt} {name:?}");
}

/// Checks `authorize_by_resource_type` for `principal` from [`HOST`].
#[track_caller]
fn check_by_type(authz: &Authorizer, principal: &str, op: Op, rt: Rt, expect: Decision) {
    let got = authz.authorize_by_resource_type(&ctx(principal), op, rt);
    assert_eq!(got, expect, "{principal} {op} on any {rt}");
}

use Decision::{Allowed, Denied};

// ---------------------------------------------------------------------------------------------------------
// Enums, principals and patterns.

#[test]
fn enum_codes_and_names_round_trip() {
    for &rt in Rt::VALUES {
        assert_eq!(Rt::from_code(rt.code()), rt);
        assert_eq!(Rt::parse(rt.name()), rt);
    }
    for &pt in PatternType::VALUES {
        assert_eq!(PatternType::from_code(pt.code()), pt);
        assert_eq!(PatternType::parse(pt.name()), pt);
    }
    for &op in Op::VALUES {
        assert_eq!(Op::from_code(op.code()), op);
        assert_eq!(Op::parse(op.name()), op);
    }
    for &p in Permission::VALUES {
        assert_eq!(Permission::from_code(p.code()), p);
        assert_eq!(Permission::parse(p.name()), p);
    }
    assert_eq!(
        Rt::VALUES.iter().map(|v| v.code()).collect::<Vec<_>>(),
        (0..=7).collect::<Vec<i8>>()
    );
    assert_eq!(
        PatternType::VALUES.iter().map(|v| v.code()).collect::<Vec<_>>(),
        (0..=4).collect::<Vec<i8>>()
    );
    assert_eq!(
        Op::VALUES.iter().map(|v| v.code()).collect::<Vec<_>>(),
        (0..=15).collect::<Vec<i8>>()
    );
    assert_eq!(
        Permission::VALUES.iter().map(|v| v.code()).collect::<Vec<_>>(),
        (0..=3).collect::<Vec<i8>>()
    );
}

#[test]
fn enum_wire_codes_are_kafkas() {
    assert_eq!(Rt::TransactionalId.code(), 5);
    assert_eq!(Rt::User.code(), 7);
    assert_eq!(PatternType::Prefixed.code(), 4);
    assert_eq!(Op::ClusterAction.code(), 9);
    assert_eq!(Op::IdempotentWrite.code(), 12);
    assert_eq!(Op::TwoPhaseCommit.code(), 15);
    assert_eq!(Op::TwoPhaseCommit.name(), "TWO_PHASE_COMMIT");
    assert_eq!(Permission::Allow.code(), 3);
    assert_eq!(Rt::DelegationToken.to_string(), "DELEGATION_TOKEN");
}

#[test]
fn unknown_codes_decode_to_unknown() {
    for code in [-1, 8, 99, i8::MIN, i8::MAX] {
        assert_eq!(Rt::from_code(code), Rt::Unknown, "{code}");
    }
    assert_eq!(PatternType::from_code(5), PatternType::Unknown);
    assert_eq!(Op::from_code(16), Op::Unknown);
    assert_eq!(Permission::from_code(4), Permission::Unknown);
}

#[test]
fn parse_is_case_insensitive_except_pattern_type() {
    assert_eq!(Rt::parse("topic"), Rt::Topic);
    assert_eq!(Rt::parse("Transactional_Id"), Rt::TransactionalId);
    assert_eq!(Rt::parse("TransactionalId"), Rt::Unknown); // fromString upper-cases only
    assert_eq!(Op::parse("cluster_action"), Op::ClusterAction);
    assert_eq!(Op::parse("two_phase_commit"), Op::TwoPhaseCommit);
    assert_eq!(Op::parse("Describe"), Op::Describe);
    assert_eq!(Op::parse("frobnicate"), Op::Unknown);
    assert_eq!(Permission::parse("allow"), Permission::Allow);
    assert_eq!(Permission::parse(""), Permission::Unknown);
    // Java's ROOT-locale upper-casing maps the dotless i to I.
    assert_eq!(Rt::parse("topıc"), Rt::Topic);
    // PatternType.fromString looks the exact name up.
    assert_eq!(PatternType::parse("PREFIXED"), PatternType::Prefixed);
    assert_eq!(PatternType::parse("prefixed"), PatternType::Unknown);
    assert_eq!(PatternType::parse("Literal"), PatternType::Unknown);
}

#[test]
fn supported_operations_per_resource_type() {
    let names = |rt: Rt| rt.supported_operations().iter().map(|op| op.name()).collect::<Vec<_>>();
    assert_eq!(
        names(Rt::Topic),
        [
            "READ",
            "WRITE",
            "CREATE",
            "DELETE",
            "ALTER",
            "DESCRIBE",
            "DESCRIBE_CONFIGS",
            "ALTER_CONFIGS"
        ]
    );
    assert_eq!(
        names(Rt::Group),
        ["READ", "DELETE", "DESCRIBE", "DESCRIBE_CONFIGS", "ALTER_CONFIGS"]
    );
    assert_eq!(
        names(Rt::Cluster),
        [
            "CREATE",
            "ALTER",
            "DESCRIBE",
            "CLUSTER_ACTION",
            "DESCRIBE_CONFIGS",
            "ALTER_CONFIGS",
            "IDEMPOTENT_WRITE"
        ]
    );
    assert_eq!(names(Rt::TransactionalId), ["WRITE", "DESCRIBE"]);
    assert_eq!(names(Rt::DelegationToken), ["DESCRIBE"]);
    assert_eq!(names(Rt::User), ["CREATE_TOKENS", "DESCRIBE_TOKENS"]);
    assert!(Rt::Any.supported_operations().is_empty());
    assert!(Rt::Unknown.supported_operations().is_empty());
}

#[test]
fn authorization_error_codes() {
    assert_eq!(Rt::Topic.authorization_error_code(), Some(29));
    assert_eq!(Rt::Group.authorization_error_code(), Some(30));
    assert_eq!(Rt::Cluster.authorization_error_code(), Some(31));
    assert_eq!(Rt::TransactionalId.authorization_error_code(), Some(53));
    assert_eq!(Rt::DelegationToken.authorization_error_code(), Some(65));
    assert_eq!(Rt::User.authorization_error_code(), None);
}

#[test]
fn operation_implications_are_for_allow() {
    for op in [Op::Read, Op::Write, Op::Delete, Op::Alter, Op::Describe, Op::All] {
        assert!(op.implies(Op::Describe), "{op}");
    }
    for op in [
        Op::Create,
        Op::ClusterAction,
        Op::AlterConfigs,
        Op::DescribeConfigs,
        Op::IdempotentWrite,
    ] {
        assert!(!op.implies(Op::Describe), "{op}");
    }
    assert!(Op::AlterConfigs.implies(Op::DescribeConfigs));
    assert!(!Op::Alter.implies(Op::DescribeConfigs));
    assert!(!Op::Read.implies(Op::Write));
    assert!(!Op::Describe.implies(Op::Read));
    assert!(Op::All.implies(Op::TwoPhaseCommit));
}

#[test]
fn principal_parsing() {
    let p = KafkaPrincipal::parse("User:alice").unwrap();
    assert_eq!((p.principal_type.as_str(), p.name.as_str()), ("User", "alice"));
    assert_eq!(p, KafkaPrincipal::user("alice"));
    assert_eq!(p.to_string(), "User:alice");
    assert!(KafkaPrincipal::parse("User:*").unwrap().is_wildcard());
    assert!(!KafkaPrincipal::parse("Group:*").unwrap().is_wildcard());
    assert_eq!(KafkaPrincipal::wildcard().to_string(), WILDCARD_PRINCIPAL);
    assert_eq!(KafkaPrincipal::anonymous().to_string(), "User:ANONYMOUS");
    // Split at the first colon only.
    assert_eq!(
        "a:b:c".parse::<KafkaPrincipal>().unwrap(),
        KafkaPrincipal::new("a", "b:c")
    );
    assert_eq!(KafkaPrincipal::parse("User:").unwrap(), KafkaPrincipal::user(""));
    for bad in ["alice", ""] {
        let err = KafkaPrincipal::parse(bad).unwrap_err();
        assert_eq!(err, AclError::MalformedPrincipal(bad.to_string()));
        assert_eq!(
            err.to_string(),
            format!("expected a string in format principalType:principalName but got {bad}")
        );
    }
}

#[test]
fn super_users_config() {
    assert_eq!(
        parse_super_users(" User:admin ; User:bob;;").unwrap(),
        ["User:admin", "User:bob"]
    );
    assert_eq!(parse_super_users("").unwrap(), Vec::<String>::new());
    assert_eq!(
        parse_super_users("User:admin;bob"),
        Err(AclError::MalformedPrincipal("bob".into()))
    );
}

#[test]
fn host_addresses_print_as_java_does() {
    assert_eq!(host_address(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))), "10.0.0.1");
    assert_eq!(host_address(IpAddr::V6(Ipv6Addr::LOCALHOST)), "0:0:0:0:0:0:0:1");
    assert_eq!(host_address("fe80::1:ab".parse().unwrap()), "fe80:0:0:0:0:0:1:ab");
    assert_eq!(host_address("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1");
    let ctx = RequestContext::from_ip(KafkaPrincipal::user("alice"), "::ffff:192.168.1.2".parse().unwrap());
    assert_eq!(ctx.host, "192.168.1.2");
}

#[test]
fn pattern_applies_to_resources() {
    let orders = ResourcePattern::prefixed(Rt::Topic, "orders-");
    assert!(orders.applies_to(Rt::Topic, "orders-eu"));
    assert!(orders.applies_to(Rt::Topic, "orders-"));
    assert!(!orders.applies_to(Rt::Topic, "orders"));
    assert!(!orders.applies_to(Rt::Group, "orders-eu"));
    assert!(ResourcePattern::literal(Rt::Topic, "*").applies_to(Rt::Topic, "anything"));
    assert!(!ResourcePattern::prefixed(Rt::Topic, "*").applies_to(Rt::Topic, "anything"));
    assert!(ResourcePattern::prefixed(Rt::Topic, "*").applies_to(Rt::Topic, "*x"));
    assert_eq!(
        ResourcePattern::cluster(),
        ResourcePattern::literal(Rt::Cluster, "kafka-cluster")
    );
}

#[test]
fn display_follows_kafka_to_string() {
    let b = allow_literal(Rt::Topic, "a", "User:alice", Op::Read);
    assert_eq!(
        b.to_string(),
        "(pattern=ResourcePattern(resourceType=TOPIC, name=a, patternType=LITERAL), \
         entry=(principal=User:alice, host=*, operation=READ, permissionType=ALLOW))"
    );
}

// ---------------------------------------------------------------------------------------------------------
// authorize: the scenarios and Kafka's rules.

#[test]
fn read_allowed_on_topic_a_not_b() {
    let authz = authorizer(vec![allow_literal(Rt::Topic, "a", "User:alice", Op::Read)]);
    check(&authz, "User:alice", Op::Read, Rt::Topic, "a", Allowed);
    check(&authz, "User:alice", Op::Read, Rt::Topic, "b", Denied);
    check(&authz, "User:alice", Op::Write, Rt::Topic, "a", Denied);
    check(&authz, "User:bob", Op::Read, Rt::Topic, "a", Denied);
    // A literal name is not a prefix.
    check(&authz, "User:alice", Op::Read, Rt::Topic, "ab", Denied);
}

#[test]
fn prefixed_allow_with_literal_deny() {
    let authz = authorizer(vec![
        allow_prefixed(Rt::Topic, "orders-", "User:alice", Op::Read),
        deny_literal(Rt::Topic, "orders-secret", "User:alice", Op::Read),
    ]);
    check(&authz, "User:alice", Op::Read, Rt::Topic, "orders-eu", Allowed);
    check(&authz, "User:alice", Op::Read, Rt::Topic, "orders-", Allowed);
    check(&authz, "User:alice", Op::Read, Rt::Topic, "orders-secret", Denied);
    check(&authz, "User:alice", Op::Read, Rt::Topic, "orders-secret-2", Allowed);
    check(&authz, "User:alice", Op::Read, Rt::Topic, "orders", Denied);
}

#[test]
fn deny_wins_whatever_its_pattern() {
    let authz = authorizer(vec![
        allow_literal(Rt::Topic, "orders-eu", "User:alice", Op::Read),
        deny_prefixed(Rt::Topic, "orders", "User:*", Op::Read),
    ]);
    check(&authz, "User:alice", Op::Read, Rt::Topic, "orders-eu", Denied);
    let authz = authorizer(vec![
        allow_literal(Rt::Topic, "t", "User:alice", Op::Read),
        deny_literal(Rt::Topic, "*", "User:alice", Op::All),
    ]);
    check(&authz, "User:alice", Op::Read, Rt::Topic, "t", Denied);
}

#[test]
fn wildcard_principal_and_host() {
    let authz = authorizer(vec![
        allow_literal(Rt::Topic, "public", "User:*", Op::Read),
        with_host(allow_literal(Rt::Topic, "local", "User:alice", Op::Read), HOST),
        with_host(deny_literal(Rt::Topic, "public", "User:*", Op::Read), "10.9.9.9"),
    ]);
    check(&authz, "User:alice", Op::Read, Rt::Topic, "public", Allowed);
    check(&authz, "User:bob", Op::Read, Rt::Topic, "public", Allowed);
    check(&authz, "User:alice", Op::Read, Rt::Topic, "local", Allowed);
    let read = |principal: &str, host: &str, name: &str| {
        authz.authorize(&ctx_from(principal, host), Op::Read, Rt::Topic, name)
    };
    assert_eq!(read("User:alice", "10.0.0.2", "local"), Denied);
    assert_eq!(read("User:bob", "10.9.9.9", "public"), Denied);
    // `User:*` is only the wildcard of type User.
    let authz = authorizer(vec![allow_literal(Rt::Topic, "t", "Group:*", Op::Read)]);
    check(&authz, "User:alice", Op::Read, Rt::Topic, "t", Denied);
    assert_eq!(authz.authorize(&ctx("Group:*"), Op::Read, Rt::Topic, "t"), Allowed);
}

#[test]
fn principal_type_matters() {
    let authz = authorizer(vec![allow_literal(Rt::Topic, "t", "Group:alice", Op::Read)]);
    check(&authz, "User:alice", Op::Read, Rt::Topic, "t", Denied);
    check(&authz, "Group:alice", Op::Read, Rt::Topic, "t", Allowed);
}

#[test]
fn wildcard_resource_is_literal_star_only() {
    let authz = authorizer(vec![allow_literal(Rt::Topic, "*", "User:alice", Op::Read)]);
    check(&authz, "User:alice", Op::Read, Rt::Topic, "anything", Allowed);
    check(&authz, "User:alice", Op::Read, Rt::Topic, "*", Allowed);
    check(&authz, "User:alice", Op::Read, Rt::Group, "anything", Denied);
    let authz = authorizer(vec![allow_prefixed(Rt::Topic, "*", "User:alice", Op::Read)]);
    check(&authz, "User:alice", Op::Read, Rt::Topic, "anything", Denied);
    check(&authz, "User:alice", Op::Read, Rt::Topic, "*star", Allowed);
}

#[test]
fn super_users_are_allowed_everything() {
    let authz = Authorizer::new(vec!["User:admin".into()], false).with_bindings([
        deny_literal(Rt::Topic, "*", "User:*", Op::All),
        deny_literal(Rt::Cluster, CLUSTER_NAME, "User:admin", Op::All),
    ]);
    check(&authz, "User:admin", Op::Write, Rt::Topic, "t", Allowed);
    check(&authz, "User:admin", Op::Alter, Rt::Cluster, CLUSTER_NAME, Allowed);
    check(&authz, "User:bob", Op::Write, Rt::Topic, "t", Denied);
    // The comparison is of the whole `Type:name` string.
    check(&authz, "Group:admin", Op::Write, Rt::Topic, "t", Denied);
    assert_eq!(authz.super_users(), ["User:admin"]);
    let (_, rule) = authz.authorize_explained(&ctx("User:admin"), Op::Read, Rt::Topic, "t");
    assert_eq!(rule, Rule::SuperUser);
}

#[test]
fn no_acl_found_denies_by_default() {
    let authz = authorizer(vec![allow_literal(Rt::Topic, "a", "User:alice", Op::Read)]);
    assert!(!authz.allow_everyone_if_no_acl_found());
    check(&authz, "User:bob", Op::Read, Rt::Topic, "c", Denied);
    check(&authz, "User:bob", Op::Read, Rt::Group, "g", Denied);
    let (decision, rule) = authz.authorize_explained(&ctx("User:bob"), Op::Read, Rt::Topic, "c");
    assert_eq!((decision, rule), (Denied, Rule::NoAclFound));
}

#[test]
fn no_acl_found_allows_when_configured() {
    let authz = Authorizer::new(vec![], true).with_bindings([allow_literal(Rt::Topic, "a", "User:alice", Op::Read)]);
    // No ACL on topic c, nor on any group: everyone is allowed.
    check(&authz, "User:bob", Op::Write, Rt::Topic, "c", Allowed);
    check(&authz, "User:bob", Op::Read, Rt::Group, "g", Allowed);
    // Topic a has an ACL, for someone else: bob is denied, whatever the setting.
    check(&authz, "User:bob", Op::Read, Rt::Topic, "a", Denied);
    // So is alice for an operation her ACL does not give.
    check(&authz, "User:alice", Op::Write, Rt::Topic, "a", Denied);
    let (decision, rule) = authz.authorize_explained(&ctx("User:bob"), Op::Read, Rt::Topic, "a");
    assert_eq!((decision, rule), (Denied, Rule::NoMatchingAcl));
    // An ACL on a prefix or the wildcard counts as an ACL on the resource.
    let authz = Authorizer::new(vec![], true).with_bindings([allow_prefixed(Rt::Topic, "c", "User:alice", Op::Read)]);
    check(&authz, "User:bob", Op::Read, Rt::Topic, "cat", Denied);
    check(&authz, "User:bob", Op::Read, Rt::Topic, "dog", Allowed);
}

#[test]
fn describe_is_implied_by_allow_only() {
    for op in [Op::Read, Op::Write, Op::Delete, Op::Alter] {
        let authz = authorizer(vec![allow_literal(Rt::Topic, "t", "User:alice", op)]);
        check(&authz, "User:alice", Op::Describe, Rt::Topic, "t", Allowed);
    }
    let authz = authorizer(vec![allow_literal(Rt::Topic, "t", "User:alice", Op::Create)]);
    check(&authz, "User:alice", Op::Describe, Rt::Topic, "t", Denied);
    let authz = authorizer(vec![allow_literal(Rt::Topic, "t", "User:alice", Op::AlterConfigs)]);
    check(&authz, "User:alice", Op::DescribeConfigs, Rt::Topic, "t", Allowed);
    check(&authz, "User:alice", Op::Describe, Rt::Topic, "t", Denied);
    // A DENY on READ does not deny DESCRIBE.
    let authz = authorizer(vec![
        allow_literal(Rt::Topic, "t", "User:alice", Op::Write),
        deny_literal(Rt::Topic, "t", "User:alice", Op::Read),
    ]);
    check(&authz, "User:alice", Op::Describe, Rt::Topic, "t", Allowed);
    check(&authz, "User:alice", Op::Read, Rt::Topic, "t", Denied);
    // A DENY on DESCRIBE denies it even next to an ALLOW READ.
    let authz = authorizer(vec![
        allow_literal(Rt::Topic, "t", "User:alice", Op::Read),
        deny_literal(Rt::Topic, "t", "User:alice", Op::Describe),
    ]);
    check(&authz, "User:alice", Op::Describe, Rt::Topic, "t", Denied);
    check(&authz, "User:alice", Op::Read, Rt::Topic, "t", Allowed);
}

#[test]
fn all_allows_and_denies_everything() {
    let authz = authorizer(vec![allow_literal(Rt::Topic, "t", "User:alice", Op::All)]);
    for &op in Rt::Topic.supported_operations() {
        check(&authz, "User:alice", op, Rt::Topic, "t", Allowed);
    }
    let authz = authorizer(vec![
        allow_literal(Rt::Topic, "t", "User:alice", Op::All),
        deny_literal(Rt::Topic, "t", "User:alice", Op::All),
    ]);
    for &op in Rt::Topic.supported_operations() {
        check(&authz, "User:alice", op, Rt::Topic, "t", Denied);
    }
}

#[test]
fn cluster_create_acl() {
    let authz = authorizer(vec![allow_literal(Rt::Cluster, CLUSTER_NAME, "User:alice", Op::Create)]);
    check(&authz, "User:alice", Op::Create, Rt::Cluster, CLUSTER_NAME, Allowed);
    check(&authz, "User:alice", Op::Alter, Rt::Cluster, CLUSTER_NAME, Denied);
    check(&authz, "User:alice", Op::Create, Rt::Topic, "new-topic", Denied);
    check(&authz, "User:bob", Op::Create, Rt::Cluster, CLUSTER_NAME, Denied);
    // CREATE on a topic instead (CreateTopics' fallback).
    let authz = authorizer(vec![allow_prefixed(Rt::Topic, "team-", "User:bob", Op::Create)]);
    check(&authz, "User:bob", Op::Create, Rt::Cluster, CLUSTER_NAME, Denied);
    check(&authz, "User:bob", Op::Create, Rt::Topic, "team-x", Allowed);
}

#[test]
fn group_read_acl() {
    let authz = authorizer(vec![
        allow_literal(Rt::Group, "g", "User:alice", Op::Read),
        allow_literal(Rt::Topic, "t", "User:alice", Op::Read),
    ]);
    check(&authz, "User:alice", Op::Read, Rt::Group, "g", Allowed);
    check(&authz, "User:alice", Op::Describe, Rt::Group, "g", Allowed);
    check(&authz, "User:alice", Op::Delete, Rt::Group, "g", Denied);
    check(&authz, "User:alice", Op::Read, Rt::Group, "h", Denied);
}

#[test]
fn acls_never_cross_resource_types() {
    // A TOPIC prefix must not authorize a GROUP of a matching name (redpanda issue #1579).
    let authz = authorizer(vec![
        allow_prefixed(Rt::Topic, "app-", "User:alice", Op::Read),
        allow_literal(Rt::Topic, "*", "User:alice", Op::Read),
    ]);
    check(&authz, "User:alice", Op::Read, Rt::Group, "app-consumers", Denied);
    check(&authz, "User:alice", Op::Read, Rt::TransactionalId, "app-1", Denied);
}

#[test]
fn explained_rule_names_the_matching_acl() {
    let deny = deny_literal(Rt::Topic, "orders-secret", "User:alice", Op::Read);
    let allow = allow_prefixed(Rt::Topic, "orders-", "User:alice", Op::Read);
    let authz = authorizer(vec![allow.clone(), deny.clone()]);
    let explain = |name| authz.authorize_explained(&ctx("User:alice"), Op::Read, Rt::Topic, name);
    assert_eq!(explain("orders-secret"), (Denied, Rule::MatchingAcl(deny)));
    assert_eq!(explain("orders-eu"), (Allowed, Rule::MatchingAcl(allow)));
}

#[test]
fn malformed_acl_principal_applies_to_nobody_but_counts() {
    let authz = Authorizer::new(vec![], true).with_bindings([allow_literal(Rt::Topic, "t", "alice", Op::Read)]);
    check(&authz, "User:alice", Op::Read, Rt::Topic, "t", Denied);
}

#[test]
fn unknown_permission_counts_as_deny_as_in_kafka() {
    let authz = authorizer(vec![
        allow_literal(Rt::Topic, "t", "User:alice", Op::Read),
        binding(
            Rt::Topic,
            PatternType::Literal,
            "t",
            "User:alice",
            Op::Read,
            Permission::Unknown,
        ),
    ]);
    check(&authz, "User:alice", Op::Read, Rt::Topic, "t", Denied);
    check(&authz, "User:alice", Op::Describe, Rt::Topic, "t", Allowed);
}

#[test]
fn non_ascii_names_match_prefixes_on_char_boundaries() {
    let authz = authorizer(vec![allow_prefixed(Rt::Topic, "zürich-", "User:alice", Op::Read)]);
    check(&authz, "User:alice", Op::Read, Rt::Topic, "zürich-1", Allowed);
    check(&authz, "User:alice", Op::Read, Rt::Topic, "zü", Denied);
}

// ---------------------------------------------------------------------------------------------------------
// authorize_by_resource_type.

#[test]
fn by_resource_type_without_acls_follows_the_default() {
    check_by_type(&authorizer(vec![]), "User:alice", Op::Write, Rt::Topic, Denied);
    let authz = Authorizer::new(vec![], true);
    check_by_type(&authz, "User:alice", Op::Write, Rt::Topic, Allowed);
    let admin = Authorizer::new(vec!["User:admin".into()], false).with_bindings([deny_literal(
        Rt::Topic,
        "*",
        "User:*",
        Op::All,
    )]);
    check_by_type(&admin, "User:admin", Op::Write, Rt::Topic, Allowed);
    check_by_type(&admin, "User:bob", Op::Write, Rt::Topic, Denied);
}

#[test]
fn by_resource_type_literal_allow_and_deny() {
    let authz = authorizer(vec![allow_literal(Rt::Topic, "t1", "User:alice", Op::Write)]);
    check_by_type(&authz, "User:alice", Op::Write, Rt::Topic, Allowed);
    check_by_type(&authz, "User:bob", Op::Write, Rt::Topic, Denied);
    check_by_type(&authz, "User:alice", Op::Write, Rt::Group, Denied);
    check_by_type(&authz, "User:alice", Op::Read, Rt::Topic, Denied);
    let authz = authz.with_bindings([deny_literal(Rt::Topic, "t1", "User:alice", Op::Write)]);
    check_by_type(&authz, "User:alice", Op::Write, Rt::Topic, Denied);
    let authz = authz.with_bindings([allow_literal(Rt::Topic, "t2", "User:alice", Op::Write)]);
    check_by_type(&authz, "User:alice", Op::Write, Rt::Topic, Allowed);
}

#[test]
fn by_resource_type_prefix_denies_dominate() {
    let authz = authorizer(vec![
        allow_prefixed(Rt::Topic, "abc", "User:alice", Op::Write),
        deny_prefixed(Rt::Topic, "ab", "User:alice", Op::Write),
    ]);
    check_by_type(&authz, "User:alice", Op::Write, Rt::Topic, Denied);
    // A deny on a longer prefix leaves the rest of `abc` allowed.
    let authz = authorizer(vec![
        allow_prefixed(Rt::Topic, "abc", "User:alice", Op::Write),
        deny_prefixed(Rt::Topic, "abcd", "User:alice", Op::Write),
    ]);
    check_by_type(&authz, "User:alice", Op::Write, Rt::Topic, Allowed);
    // A prefix deny dominates a literal allow under it.
    let authz = authorizer(vec![
        allow_literal(Rt::Topic, "abc", "User:alice", Op::Write),
        deny_prefixed(Rt::Topic, "a", "User:alice", Op::Write),
    ]);
    check_by_type(&authz, "User:alice", Op::Write, Rt::Topic, Denied);
    // A literal deny does not dominate a prefix allow of the same name.
    let authz = authorizer(vec![
        allow_prefixed(Rt::Topic, "abc", "User:alice", Op::Write),
        deny_literal(Rt::Topic, "abc", "User:alice", Op::Write),
    ]);
    check_by_type(&authz, "User:alice", Op::Write, Rt::Topic, Allowed);
    // A prefix deny equal to the prefix allow dominates it.
    let authz = authorizer(vec![
        allow_prefixed(Rt::Topic, "abc", "User:alice", Op::Write),
        deny_prefixed(Rt::Topic, "abc", "User:alice", Op::Write),
    ]);
    check_by_type(&authz, "User:alice", Op::Write, Rt::Topic, Denied);
}

#[test]
fn by_resource_type_wildcards() {
    let authz = authorizer(vec![
        allow_literal(Rt::Topic, "t1", "User:alice", Op::Write),
        deny_literal(Rt::Topic, "*", "User:alice", Op::Write),
    ]);
    check_by_type(&authz, "User:alice", Op::Write, Rt::Topic, Denied);
    let authz = authorizer(vec![
        allow_literal(Rt::Topic, "*", "User:alice", Op::Write),
        deny_prefixed(Rt::Topic, "a", "User:alice", Op::Write),
    ]);
    check_by_type(&authz, "User:alice", Op::Write, Rt::Topic, Allowed);
    // The wildcard principal's deny applies; another principal's does not.
    let authz = authorizer(vec![
        allow_literal(Rt::Topic, "t1", "User:alice", Op::Write),
        deny_prefixed(Rt::Topic, "t", "User:*", Op::Write),
    ]);
    check_by_type(&authz, "User:alice", Op::Write, Rt::Topic, Denied);
    let authz = authorizer(vec![
        allow_literal(Rt::Topic, "t1", "User:alice", Op::Write),
        deny_prefixed(Rt::Topic, "t", "User:bob", Op::Write),
    ]);
    check_by_type(&authz, "User:alice", Op::Write, Rt::Topic, Allowed);
}

#[test]
fn by_resource_type_hosts_operations_and_arguments() {
    // ACLs for other hosts are ignored, both allows and denies.
    let authz = authorizer(vec![
        with_host(allow_literal(Rt::Topic, "t1", "User:alice", Op::Write), "10.9.9.9"),
        allow_literal(Rt::Topic, "t2", "User:alice", Op::Write),
        with_host(deny_prefixed(Rt::Topic, "t", "User:alice", Op::Write), "10.9.9.9"),
    ]);
    check_by_type(&authz, "User:alice", Op::Write, Rt::Topic, Allowed);
    let only_elsewhere = authorizer(vec![with_host(
        allow_literal(Rt::Topic, "t1", "User:alice", Op::Write),
        "10.9.9.9",
    )]);
    check_by_type(&only_elsewhere, "User:alice", Op::Write, Rt::Topic, Denied);
    // ALL counts; implication does not.
    let authz = authorizer(vec![allow_literal(Rt::Topic, "t1", "User:alice", Op::All)]);
    check_by_type(&authz, "User:alice", Op::Write, Rt::Topic, Allowed);
    let authz = authorizer(vec![allow_literal(Rt::Topic, "t1", "User:alice", Op::Read)]);
    check_by_type(&authz, "User:alice", Op::Describe, Rt::Topic, Denied);
    // Filter values are not valid arguments.
    let authz = Authorizer::new(vec!["User:admin".into()], true);
    check_by_type(&authz, "User:admin", Op::Any, Rt::Topic, Denied);
    check_by_type(&authz, "User:admin", Op::Write, Rt::Any, Denied);
    check_by_type(&authz, "User:admin", Op::Unknown, Rt::Topic, Denied);
}

// ---------------------------------------------------------------------------------------------------------
// Filters, describe and delete.

fn pattern_filter(rt: Rt, name: Option<&str>, pattern_type: PatternType) -> ResourcePatternFilter {
    ResourcePatternFilter::new(rt, name.map(str::to_string), pattern_type)
}

/// Checks which of a fixed set of patterns `filter` selects (by index).
#[track_caller]
fn check_pattern_filter(filter: ResourcePatternFilter, expect: &[usize]) {
    let patterns = [
        ResourcePattern::literal(Rt::Topic, "orders-eu"),  // 0
        ResourcePattern::literal(Rt::Topic, "*"),          // 1
        ResourcePattern::prefixed(Rt::Topic, "orders-"),   // 2
        ResourcePattern::prefixed(Rt::Topic, "orders-eu"), // 3
        ResourcePattern::literal(Rt::Topic, "payments"),   // 4
        ResourcePattern::literal(Rt::Group, "orders-eu"),  // 5
        ResourcePattern::prefixed(Rt::Topic, "*"),         // 6
    ];
    let got: Vec<usize> = (0..patterns.len()).filter(|i| filter.matches(&patterns[*i])).collect();
    assert_eq!(got, expect, "{filter:?}");
}

#[test]
fn pattern_filter_any() {
    check_pattern_filter(ResourcePatternFilter::ANY, &[0, 1, 2, 3, 4, 5, 6]);
    // ANY with a name: exact names only, whatever the pattern type (prefixed `orders-` is not found).
    check_pattern_filter(pattern_filter(Rt::Topic, Some("orders-eu"), PatternType::Any), &[0, 3]);
    check_pattern_filter(pattern_filter(Rt::Any, Some("orders-eu"), PatternType::Any), &[0, 3, 5]);
    check_pattern_filter(pattern_filter(Rt::Topic, None, PatternType::Any), &[0, 1, 2, 3, 4, 6]);
    check_pattern_filter(pattern_filter(Rt::Topic, Some("*"), PatternType::Any), &[1, 6]);
}

#[test]
fn pattern_filter_match() {
    // Everything that applies to topic orders-eu: the literal, the wildcard, and both prefixes.
    check_pattern_filter(
        pattern_filter(Rt::Topic, Some("orders-eu"), PatternType::Match),
        &[0, 1, 2, 3],
    );
    check_pattern_filter(
        pattern_filter(Rt::Topic, Some("orders-us"), PatternType::Match),
        &[1, 2],
    );
    check_pattern_filter(
        pattern_filter(Rt::Any, Some("orders-eu"), PatternType::Match),
        &[0, 1, 2, 3, 5],
    );
    // A MATCH filter without a name matches every pattern of the type.
    check_pattern_filter(pattern_filter(Rt::Topic, None, PatternType::Match), &[0, 1, 2, 3, 4, 6]);
    // The literal `*` as a MATCH name: the wildcard, and prefixed `*`.
    check_pattern_filter(pattern_filter(Rt::Topic, Some("*"), PatternType::Match), &[1, 6]);
}

#[test]
fn pattern_filter_literal_and_prefixed() {
    check_pattern_filter(pattern_filter(Rt::Topic, Some("orders-eu"), PatternType::Literal), &[0]);
    check_pattern_filter(pattern_filter(Rt::Topic, None, PatternType::Literal), &[0, 1, 4]);
    check_pattern_filter(pattern_filter(Rt::Topic, Some("orders-"), PatternType::Prefixed), &[2]);
    check_pattern_filter(
        pattern_filter(Rt::Topic, Some("orders-eu"), PatternType::Prefixed),
        &[3],
    );
    check_pattern_filter(pattern_filter(Rt::Topic, Some("*"), PatternType::Literal), &[1]);
    // UNKNOWN types select nothing stored.
    check_pattern_filter(pattern_filter(Rt::Unknown, None, PatternType::Any), &[]);
    check_pattern_filter(pattern_filter(Rt::Topic, None, PatternType::Unknown), &[]);
}

#[test]
fn entry_filter_fields() {
    let entry = AccessControlEntry::new("User:alice", "10.0.0.1", Op::Read, Permission::Allow);
    let f = |principal: Option<&str>, host: Option<&str>, op, perm| {
        AccessControlEntryFilter::new(principal.map(str::to_string), host.map(str::to_string), op, perm)
    };
    assert!(AccessControlEntryFilter::ANY.matches(&entry));
    assert!(f(Some("User:alice"), None, Op::Any, Permission::Any).matches(&entry));
    assert!(!f(Some("User:bob"), None, Op::Any, Permission::Any).matches(&entry));
    // Strings compare exactly: the filter's `User:*` is not a wildcard.
    assert!(!f(Some("User:*"), None, Op::Any, Permission::Any).matches(&entry));
    assert!(f(None, Some("10.0.0.1"), Op::Any, Permission::Any).matches(&entry));
    assert!(!f(None, Some("*"), Op::Any, Permission::Any).matches(&entry));
    assert!(f(None, None, Op::Read, Permission::Allow).matches(&entry));
    // Operations compare exactly: no implication in filters.
    assert!(!f(None, None, Op::Describe, Permission::Any).matches(&entry));
    assert!(!f(None, None, Op::All, Permission::Any).matches(&entry));
    assert!(!f(None, None, Op::Any, Permission::Deny).matches(&entry));
    assert!(entry.to_filter().matches(&entry));
}

#[test]
fn binding_filter_indefinite_fields() {
    let b = allow_literal(Rt::Topic, "t", "User:alice", Op::Read);
    assert!(b.to_filter().matches_at_most_one());
    assert!(b.to_filter().matches(&b));
    assert!(AclBindingFilter::ANY.matches(&b));
    assert_eq!(
        AclBindingFilter::ANY.find_indefinite_field(),
        Some("Resource type is ANY.")
    );
    let mut f = b.to_filter();
    f.pattern.pattern_type = PatternType::Match;
    assert_eq!(f.find_indefinite_field(), Some("Resource pattern type is MATCH."));
    let mut f = b.to_filter();
    f.entry.host = None;
    assert_eq!(f.find_indefinite_field(), Some("Host is NULL"));
    assert!(!f.matches_at_most_one());
}

#[test]
fn describe_and_matching_select_by_filter() {
    let a = allow_literal(Rt::Topic, "orders-eu", "User:alice", Op::Read);
    let b = allow_prefixed(Rt::Topic, "orders-", "User:bob", Op::Write);
    let c = deny_literal(Rt::Topic, "*", "User:carol", Op::All);
    let d = allow_literal(Rt::Group, "g", "User:alice", Op::Read);
    let authz = authorizer(vec![d.clone(), c.clone(), b.clone(), a.clone()]);
    // Ordered by resource type, pattern type, then name (`*` sorts before letters).
    assert_eq!(
        authz.describe(&AclBindingFilter::ANY),
        [c.clone(), a.clone(), b.clone(), d.clone()]
    );
    let matching_orders_eu = AclBindingFilter::new(
        pattern_filter(Rt::Topic, Some("orders-eu"), PatternType::Match),
        AccessControlEntryFilter::ANY,
    );
    assert_eq!(authz.describe(&matching_orders_eu), [c.clone(), a.clone(), b.clone()]);
    let any_orders_eu = AclBindingFilter::new(
        pattern_filter(Rt::Topic, Some("orders-eu"), PatternType::Any),
        AccessControlEntryFilter::ANY,
    );
    assert_eq!(authz.describe(&any_orders_eu), std::slice::from_ref(&a));
    let alices = AclBindingFilter::new(
        ResourcePatternFilter::ANY,
        AccessControlEntryFilter::new(Some("User:alice".into()), None, Op::Any, Permission::Any),
    );
    assert_eq!(authz.matching(&alices), [a.clone(), d.clone()]);
    assert_eq!(authz.matching(&c.to_filter()), [c]);
}

#[test]
fn grouping_for_describe_acls_responses() {
    let a1 = allow_literal(Rt::Topic, "a", "User:alice", Op::Read);
    let a2 = allow_literal(Rt::Topic, "a", "User:bob", Op::Read);
    let b = allow_prefixed(Rt::Topic, "a", "User:alice", Op::Read);
    let groups = group_by_pattern([a2.clone(), b.clone(), a1.clone(), a1.clone()]);
    assert_eq!(
        groups,
        [
            (a1.pattern.clone(), vec![a1.entry.clone(), a2.entry.clone()]),
            (b.pattern.clone(), vec![b.entry.clone()]),
        ]
    );
}

#[test]
fn add_remove_contains() {
    let a = allow_literal(Rt::Topic, "a", "User:alice", Op::Read);
    let b = deny_prefixed(Rt::Topic, "a", "User:alice", Op::Read);
    let mut authz = Authorizer::default();
    assert!(authz.is_empty());
    assert!(authz.add(a.clone()));
    assert!(!authz.add(a.clone()), "identical ACLs are stored once");
    assert!(authz.add(b.clone()));
    assert_eq!(authz.len(), 2);
    assert!(authz.contains(&a) && authz.contains(&b));
    check(&authz, "User:alice", Op::Read, Rt::Topic, "a", Denied);
    assert!(authz.remove(&b));
    assert!(!authz.remove(&b));
    assert!(!authz.contains(&b));
    check(&authz, "User:alice", Op::Read, Rt::Topic, "a", Allowed);
    assert!(authz.remove(&a));
    assert!(authz.is_empty());
    assert_eq!(authz, Authorizer::default(), "no empty maps are left behind");
    assert_eq!(authz.bindings().count(), 0);
}

// ---------------------------------------------------------------------------------------------------------
// Validation of creations and delete filters.

/// Checks the validation of a binding to create: `Ok(())`, or the Kafka error code and message.
#[track_caller]
fn check_validate(binding: AclBinding, expect: Result<(), &str>) {
    let got = binding.validate().map_err(|e| {
        assert_eq!(e.error_code(), 42, "INVALID_REQUEST");
        e.message()
    });
    assert_eq!(got, expect.map_err(str::to_string), "{binding}");
}

#[test]
fn valid_bindings_pass() {
    check_validate(allow_literal(Rt::Topic, "t", "User:alice", Op::Read), Ok(()));
    check_validate(deny_prefixed(Rt::Group, "g-", "User:*", Op::All), Ok(()));
    check_validate(
        allow_literal(Rt::Cluster, "kafka-cluster", "User:alice", Op::Create),
        Ok(()),
    );
    check_validate(
        allow_literal(Rt::TransactionalId, "*", "User:", Op::TwoPhaseCommit),
        Ok(()),
    );
    // Kafka does not check that the operation is one the resource type supports.
    check_validate(
        allow_literal(Rt::Cluster, "kafka-cluster", "User:alice", Op::Read),
        Ok(()),
    );
    // Nor the host, nor the principal type.
    check_validate(
        with_host(allow_literal(Rt::Topic, "t", "Group:x", Op::Read), "not an ip"),
        Ok(()),
    );
}

#[test]
fn cluster_acls_must_name_kafka_cluster() {
    check_validate(
        allow_literal(Rt::Cluster, "my-cluster", "User:alice", Op::Create),
        Err("The only valid name for the CLUSTER resource is kafka-cluster"),
    );
    check_validate(
        allow_literal(Rt::Cluster, "*", "User:alice", Op::Create),
        Err("The only valid name for the CLUSTER resource is kafka-cluster"),
    );
    check_validate(
        allow_prefixed(Rt::Cluster, "kafka-", "User:alice", Op::Create),
        Err("The only valid name for the CLUSTER resource is kafka-cluster"),
    );
}

#[test]
fn empty_resource_names_are_refused() {
    check_validate(
        allow_literal(Rt::Topic, "", "User:alice", Op::Read),
        Err("Invalid empty resource name"),
    );
    check_validate(
        allow_prefixed(Rt::Group, "", "User:alice", Op::Read),
        Err("Invalid empty resource name"),
    );
}

#[test]
fn filter_values_are_refused_in_bindings() {
    check_validate(
        allow_literal(Rt::Any, "t", "User:alice", Op::Read),
        Err("Invalid resourceType ANY"),
    );
    check_validate(
        allow_literal(Rt::Unknown, "t", "User:alice", Op::Read),
        Err("Invalid resourceType UNKNOWN"),
    );
    for (pt, message) in [
        (PatternType::Any, "Invalid patternType ANY"),
        (PatternType::Match, "Invalid patternType MATCH"),
        (PatternType::Unknown, "Invalid patternType UNKNOWN"),
    ] {
        check_validate(
            binding(Rt::Topic, pt, "t", "User:alice", Op::Read, Permission::Allow),
            Err(message),
        );
    }
    check_validate(
        allow_literal(Rt::Topic, "t", "User:alice", Op::Any),
        Err("Invalid operation ANY"),
    );
    check_validate(
        allow_literal(Rt::Topic, "t", "User:alice", Op::Unknown),
        Err("Invalid operation UNKNOWN"),
    );
    for (perm, message) in [
        (Permission::Any, "Invalid permissionType ANY"),
        (Permission::Unknown, "Invalid permissionType UNKNOWN"),
    ] {
        check_validate(
            binding(Rt::Topic, PatternType::Literal, "t", "User:alice", Op::Read, perm),
            Err(message),
        );
    }
}

#[test]
fn principals_need_a_colon() {
    check_validate(
        allow_literal(Rt::Topic, "t", "alice", Op::Read),
        Err(
            "Could not parse principal from `alice` (no colon is present separating the principal type from the \
             principal name)",
        ),
    );
    check_validate(
        allow_literal(Rt::Topic, "t", "", Op::Read),
        Err(
            "Could not parse principal from `` (no colon is present separating the principal type from the \
             principal name)",
        ),
    );
}

#[test]
fn checks_run_in_kafkas_order() {
    // The request handler's checks (cluster name, empty name) come before the controller's.
    check_validate(
        binding(Rt::Cluster, PatternType::Match, "x", "alice", Op::Any, Permission::Any),
        Err("The only valid name for the CLUSTER resource is kafka-cluster"),
    );
    check_validate(
        binding(Rt::Any, PatternType::Match, "", "alice", Op::Any, Permission::Any),
        Err("Invalid empty resource name"),
    );
    check_validate(
        binding(Rt::Topic, PatternType::Match, "t", "alice", Op::Any, Permission::Any),
        Err("Invalid patternType MATCH"),
    );
    check_validate(
        binding(Rt::Topic, PatternType::Literal, "t", "alice", Op::Any, Permission::Any),
        Err("Invalid operation ANY"),
    );
    check_validate(
        binding(Rt::Topic, PatternType::Literal, "t", "alice", Op::Read, Permission::Any),
        Err("Invalid permissionType ANY"),
    );
}

#[test]
fn delete_filters_refuse_unknown_values() {
    assert_eq!(AclBindingFilter::ANY.validate(), Ok(()));
    let b = allow_literal(Rt::Topic, "t", "User:alice", Op::Read);
    assert_eq!(b.to_filter().validate(), Ok(()));
    let mut f = AclBindingFilter::ANY;
    f.pattern.resource_type = Rt::from_code(42);
    let err = f.validate().unwrap_err();
    assert_eq!(
        (err.error_code(), err.message()),
        (42, "Unknown patternFilter.".to_string())
    );
    let mut f = AclBindingFilter::ANY;
    f.pattern.pattern_type = PatternType::Unknown;
    assert_eq!(f.validate(), Err(AclError::UnknownPatternFilter));
    let mut f = AclBindingFilter::ANY;
    f.entry.operation = Op::from_code(99);
    assert_eq!(
        f.validate().map_err(|e| e.message()),
        Err("Unknown entryFilter.".to_string())
    );
    let mut f = AclBindingFilter::ANY;
    f.entry.permission = Permission::Unknown;
    assert_eq!(f.validate(), Err(AclError::UnknownEntryFilter));
    // MATCH is fine in a delete filter.
    let f = AclBindingFilter::new(
        pattern_filter(Rt::Topic, Some("t"), PatternType::Match),
        AccessControlEntryFilter::ANY,
    );
    assert_eq!(f.validate(), Ok(()));
}

// ---------------------------------------------------------------------------------------------------------
// Authorized-operations bit fields.

#[test]
fn bitfield_of_every_supported_operation() {
    assert_eq!(authorized_operations(Rt::Topic, |_| true), 3576);
    assert_eq!(authorized_operations(Rt::Group, |_| true), 3400);
    assert_eq!(authorized_operations(Rt::Cluster, |_| true), 8096);
    assert_eq!(
        authorized_operations(Rt::TransactionalId, |_| true),
        (1 << 4) | (1 << 8)
    );
    assert_eq!(authorized_operations(Rt::User, |_| true), (1 << 13) | (1 << 14));
    assert_eq!(authorized_operations(Rt::Topic, |_| false), 0);
    assert_eq!(authorized_operations(Rt::Any, |_| true), 0);
    assert_eq!(authorized_operations(Rt::Topic, |op| op == Op::Read), 1 << 3);
}

#[test]
fn bitfield_from_acls() {
    let authz = authorizer(vec![
        allow_literal(Rt::Topic, "t", "User:alice", Op::Read),
        allow_literal(Rt::Group, "g", "User:alice", Op::All),
        deny_literal(Rt::Group, "g", "User:alice", Op::Delete),
        allow_literal(Rt::Cluster, CLUSTER_NAME, "User:alice", Op::Alter),
        allow_literal(Rt::Cluster, CLUSTER_NAME, "User:alice", Op::AlterConfigs),
    ]);
    let alice = ctx("User:alice");
    // READ, and DESCRIBE by implication.
    assert_eq!(authz.authorized_operations(&alice, Rt::Topic, "t"), (1 << 3) | (1 << 8));
    assert_eq!(authz.authorized_operations(&alice, Rt::Topic, "other"), 0);
    // Everything but DELETE.
    assert_eq!(authz.authorized_operations(&alice, Rt::Group, "g"), 3400 & !(1 << 6));
    // ALTER, DESCRIBE (implied by ALTER), ALTER_CONFIGS and DESCRIBE_CONFIGS (implied).
    assert_eq!(
        authz.authorized_operations(&alice, Rt::Cluster, CLUSTER_NAME),
        (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11)
    );
    let admin = Authorizer::new(vec!["User:alice".into()], false);
    assert_eq!(admin.authorized_operations(&alice, Rt::Cluster, CLUSTER_NAME), 8096);
}
