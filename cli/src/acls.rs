//! `kzero acls add|list|remove`, like Kafka's `kafka-acls.sh`: CreateAcls, DescribeAcls and DeleteAcls.
//!
//! - `add` creates, for every resource named, an ALLOW ACL for each `--allow-principal` × `--allow-host`
//!   × `--operation` and a DENY ACL for each `--deny-principal` × `--deny-host` × `--operation`. Hosts
//!   default to `*`, the operation to `All`, the pattern type to `literal`.
//! - `list` prints the ACLs matching the resources named (default: every resource) and the
//!   `--principal`s (default: any), under `--resource-pattern-type` (default `any`: every pattern whose
//!   name is exactly the one given; `match`: every pattern that applies to the resource named).
//! - `remove` deletes, for every resource named, the ACLs the same options as `add` describe; without any
//!   principal it deletes every ACL of the resources (of the `--operation`s, if given). The operation
//!   defaults to any operation and the pattern type to `any`. It prints what it removed.
//!
//! The names and codes of resource types, pattern types, operations and permissions come from
//! [`security::acl`]. Every row printed is `PRINCIPAL HOST OPERATION PERMISSION RESOURCE_TYPE NAME PATTERN`.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use protocol::{
    AclCreation, CreateAclsRequest, DeleteAclsFilter, DeleteAclsRequest, DescribeAclsRequest, ResponseBody,
};
use security::acl::{
    AccessControlEntry, AccessControlEntryFilter, AclBinding, AclBindingFilter, KafkaPrincipal, Operation, PatternType,
    Permission, ResourcePattern, ResourcePatternFilter, ResourceType, CLUSTER_NAME, WILDCARD,
};

use crate::client::{error_text, Client};
use crate::table::print_table;
use crate::{report, ConnectArgs};

#[derive(Debug, Subcommand)]
pub enum AclsCommand {
    /// Add ACLs.
    Add(ChangeArgs),
    /// List ACLs.
    List(ListArgs),
    /// Remove ACLs, and print what was removed.
    Remove(ChangeArgs),
}

/// The resources an ACL command is about.
#[derive(Debug, Args)]
pub struct ResourceArgs {
    /// A topic; repeatable.
    #[arg(long = "topic", value_name = "TOPIC")]
    topics: Vec<String>,
    /// A consumer group; repeatable.
    #[arg(long = "group", value_name = "GROUP")]
    groups: Vec<String>,
    /// The cluster.
    #[arg(long)]
    cluster: bool,
    /// A transactional id; repeatable.
    #[arg(long = "transactional-id", value_name = "ID")]
    transactional_ids: Vec<String>,
    /// How resource names match: literal or prefixed; for list and remove also any or match.
    #[arg(long, value_name = "TYPE", value_parser = parse_pattern_type)]
    resource_pattern_type: Option<PatternType>,
}

#[derive(Debug, Args)]
pub struct ChangeArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(flatten)]
    resources: ResourceArgs,
    /// A principal to allow, e.g. User:alice; repeatable.
    #[arg(long = "allow-principal", value_name = "PRINCIPAL", value_parser = parse_principal)]
    allow_principals: Vec<String>,
    /// A principal to deny, e.g. User:mallory; repeatable.
    #[arg(long = "deny-principal", value_name = "PRINCIPAL", value_parser = parse_principal)]
    deny_principals: Vec<String>,
    /// A host the allowed principals connect from; repeatable (default: any host, `*`).
    #[arg(long = "allow-host", value_name = "HOST")]
    allow_hosts: Vec<String>,
    /// A host the denied principals connect from; repeatable (default: any host, `*`).
    #[arg(long = "deny-host", value_name = "HOST")]
    deny_hosts: Vec<String>,
    /// Read, Write, Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs,
    /// IdempotentWrite or All; repeatable (add: default All; remove: default any operation).
    #[arg(long = "operation", value_name = "OPERATION", value_parser = parse_operation)]
    operations: Vec<Operation>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(flatten)]
    resources: ResourceArgs,
    /// Only the ACLs of this principal, e.g. User:alice; repeatable.
    #[arg(long = "principal", value_name = "PRINCIPAL", value_parser = parse_principal)]
    principals: Vec<String>,
}

/// A pattern type by name, ignoring case: literal, prefixed, any or match.
fn parse_pattern_type(s: &str) -> Result<PatternType, String> {
    PatternType::VALUES
        .iter()
        .copied()
        .filter(|p| !p.is_unknown())
        .find(|p| p.name().eq_ignore_ascii_case(s))
        .ok_or_else(|| format!("unknown resource pattern type {s:?}: expected literal, prefixed, any or match"))
}

/// An operation by name, ignoring case, underscores and dashes: `Read`, `ClusterAction`,
/// `describe_configs`, `IDEMPOTENT-WRITE`. Not `Any` (a filter value) nor `Unknown`.
fn parse_operation(s: &str) -> Result<Operation, String> {
    let squeeze = |name: &str| name.replace(['_', '-'], "").to_ascii_uppercase();
    let wanted = squeeze(s);
    Operation::VALUES
        .iter()
        .copied()
        .filter(|op| !matches!(op, Operation::Any | Operation::Unknown))
        .find(|op| squeeze(op.name()) == wanted)
        .ok_or_else(|| {
            format!(
                "unknown operation {s:?}: expected Read, Write, Create, Delete, Alter, Describe, ClusterAction, \
                 DescribeConfigs, AlterConfigs, IdempotentWrite or All"
            )
        })
}

/// A principal, `Type:name`.
fn parse_principal(s: &str) -> Result<String, String> {
    KafkaPrincipal::parse(s)
        .map(|p| p.to_string())
        .map_err(|_| format!("invalid principal {s:?}: expected Type:name, such as User:alice"))
}

pub fn run(command: AclsCommand) -> Result<ExitCode> {
    match command {
        AclsCommand::Add(a) => add(a),
        AclsCommand::List(a) => list(a),
        AclsCommand::Remove(a) => remove(a),
    }
}

/// The resources named, as (type, name); the cluster is named `kafka-cluster`.
fn named_resources(r: &ResourceArgs) -> Vec<(ResourceType, String)> {
    let mut out = Vec::new();
    out.extend(r.topics.iter().map(|t| (ResourceType::Topic, t.clone())));
    out.extend(r.groups.iter().map(|g| (ResourceType::Group, g.clone())));
    if r.cluster {
        out.push((ResourceType::Cluster, CLUSTER_NAME.to_string()));
    }
    out.extend(
        r.transactional_ids
            .iter()
            .map(|t| (ResourceType::TransactionalId, t.clone())),
    );
    out
}

/// `hosts`, or `*` when none was given.
fn hosts_or_any(hosts: &[String]) -> Vec<String> {
    if hosts.is_empty() {
        vec![WILDCARD.to_string()]
    } else {
        hosts.to_vec()
    }
}

/// Every (principal, host, permission) the options name: allowed ones first.
fn principals_hosts(a: &ChangeArgs) -> Vec<(String, String, Permission)> {
    let mut out = Vec::new();
    for (principals, hosts, permission) in [
        (&a.allow_principals, &a.allow_hosts, Permission::Allow),
        (&a.deny_principals, &a.deny_hosts, Permission::Deny),
    ] {
        for principal in principals {
            for host in hosts_or_any(hosts) {
                out.push((principal.clone(), host, permission));
            }
        }
    }
    out
}

/// The ACLs `add` creates, each checked as Kafka checks a creation.
fn bindings_to_add(a: &ChangeArgs) -> Result<Vec<AclBinding>> {
    let pattern_type = a.resources.resource_pattern_type.unwrap_or(PatternType::Literal);
    if !pattern_type.is_specific() {
        bail!("acls add needs --resource-pattern-type literal or prefixed, not {pattern_type}");
    }
    let resources = named_resources(&a.resources);
    if resources.is_empty() {
        bail!("name at least one resource: --topic, --group, --cluster or --transactional-id");
    }
    let entries = principals_hosts(a);
    if entries.is_empty() {
        bail!("name at least one principal: --allow-principal or --deny-principal");
    }
    let operations = if a.operations.is_empty() {
        vec![Operation::All]
    } else {
        a.operations.clone()
    };
    let mut out = Vec::new();
    for (resource_type, name) in &resources {
        for (principal, host, permission) in &entries {
            for &operation in &operations {
                let binding = AclBinding::new(
                    ResourcePattern::new(*resource_type, name.clone(), pattern_type),
                    AccessControlEntry::new(principal.clone(), host.clone(), operation, *permission),
                );
                if let Err(e) = binding.validate() {
                    bail!("invalid ACL for {resource_type} {name:?}: {}", e.message());
                }
                if !out.contains(&binding) {
                    out.push(binding);
                }
            }
        }
    }
    Ok(out)
}

/// The filters `remove` deletes with.
fn filters_to_remove(a: &ChangeArgs) -> Result<Vec<AclBindingFilter>> {
    let pattern_type = a.resources.resource_pattern_type.unwrap_or(PatternType::Any);
    let resources = named_resources(&a.resources);
    if resources.is_empty() {
        bail!("name at least one resource: --topic, --group, --cluster or --transactional-id");
    }
    let operations = if a.operations.is_empty() {
        vec![Operation::Any]
    } else {
        a.operations.clone()
    };
    let entries: Vec<(Option<String>, Option<String>, Permission)> = if principals_hosts(a).is_empty() {
        vec![(None, None, Permission::Any)]
    } else {
        principals_hosts(a)
            .into_iter()
            .map(|(principal, host, permission)| (Some(principal), Some(host), permission))
            .collect()
    };
    let mut out = Vec::new();
    for (resource_type, name) in &resources {
        for (principal, host, permission) in &entries {
            for &operation in &operations {
                out.push(AclBindingFilter {
                    pattern: ResourcePatternFilter::new(*resource_type, Some(name.clone()), pattern_type),
                    entry: AccessControlEntryFilter::new(principal.clone(), host.clone(), operation, *permission),
                });
            }
        }
    }
    Ok(out)
}

/// The filters `list` describes with: each resource (or any) for each principal (or any).
fn filters_to_list(a: &ListArgs) -> Vec<AclBindingFilter> {
    let pattern_type = a.resources.resource_pattern_type.unwrap_or(PatternType::Any);
    let resources = named_resources(&a.resources);
    let patterns: Vec<ResourcePatternFilter> = if resources.is_empty() {
        vec![ResourcePatternFilter::new(ResourceType::Any, None, pattern_type)]
    } else {
        resources
            .into_iter()
            .map(|(resource_type, name)| ResourcePatternFilter::new(resource_type, Some(name), pattern_type))
            .collect()
    };
    let principals: Vec<Option<String>> = if a.principals.is_empty() {
        vec![None]
    } else {
        a.principals.iter().cloned().map(Some).collect()
    };
    let mut out = Vec::new();
    for pattern in &patterns {
        for principal in &principals {
            out.push(AclBindingFilter {
                pattern: pattern.clone(),
                entry: AccessControlEntryFilter::new(principal.clone(), None, Operation::Any, Permission::Any),
            });
        }
    }
    out
}

fn creation(b: &AclBinding) -> AclCreation {
    AclCreation {
        resource_type: b.pattern.resource_type.code(),
        resource_name: b.pattern.name.clone(),
        resource_pattern_type: b.pattern.pattern_type.code(),
        principal: b.entry.principal.clone(),
        host: b.entry.host.clone(),
        operation: b.entry.operation.code(),
        permission_type: b.entry.permission.code(),
        ..Default::default()
    }
}

/// A wire filter (DescribeAcls request or DeleteAcls filter: the same seven fields) from a filter.
macro_rules! wire_filter {
    ($ty:ident, $filter:expr) => {{
        let f: &AclBindingFilter = $filter;
        $ty {
            resource_type_filter: f.pattern.resource_type.code(),
            resource_name_filter: f.pattern.name.clone(),
            pattern_type_filter: f.pattern.pattern_type.code(),
            principal_filter: f.entry.principal.clone(),
            host_filter: f.entry.host.clone(),
            operation: f.entry.operation.code(),
            permission_type: f.entry.permission.code(),
            ..Default::default()
        }
    }};
}

fn describe_request(f: &AclBindingFilter) -> DescribeAclsRequest {
    wire_filter!(DescribeAclsRequest, f)
}

fn delete_filter(f: &AclBindingFilter) -> DeleteAclsFilter {
    wire_filter!(DeleteAclsFilter, f)
}

/// An ACL from the codes and strings of a response.
fn binding(
    resource_type: i8,
    name: &str,
    pattern_type: i8,
    principal: &str,
    host: &str,
    operation: i8,
    permission: i8,
) -> AclBinding {
    AclBinding::new(
        ResourcePattern::new(
            ResourceType::from_code(resource_type),
            name,
            PatternType::from_code(pattern_type),
        ),
        AccessControlEntry::new(
            principal,
            host,
            Operation::from_code(operation),
            Permission::from_code(permission),
        ),
    )
}

const HEADER: [&str; 7] = [
    "PRINCIPAL",
    "HOST",
    "OPERATION",
    "PERMISSION",
    "RESOURCE_TYPE",
    "NAME",
    "PATTERN",
];

fn row(b: &AclBinding) -> Vec<String> {
    vec![
        b.entry.principal.clone(),
        b.entry.host.clone(),
        b.entry.operation.name().to_string(),
        b.entry.permission.name().to_string(),
        b.pattern.resource_type.name().to_string(),
        b.pattern.name.clone(),
        b.pattern.pattern_type.name().to_string(),
    ]
}

/// Prints ACLs as a table, in a stable order (resource, then entry).
fn print_acls<'a>(bindings: impl IntoIterator<Item = &'a AclBinding>) -> io::Result<()> {
    let sorted: BTreeSet<&AclBinding> = bindings.into_iter().collect();
    let rows: Vec<Vec<String>> = sorted.into_iter().map(row).collect();
    print_table(&mut io::stdout().lock(), &HEADER, &rows)
}

fn add(a: ChangeArgs) -> Result<ExitCode> {
    let bindings = bindings_to_add(&a)?;
    let mut client = Client::connect(&a.connect.settings()?)?;
    let request = CreateAclsRequest {
        creations: bindings.iter().map(creation).collect(),
        ..Default::default()
    };
    let ResponseBody::CreateAcls(r) = client.bootstrap().call(request)? else {
        bail!("unexpected response to CreateAcls");
    };
    if r.results.len() != bindings.len() {
        bail!(
            "the broker answered {} results for {} ACLs",
            r.results.len(),
            bindings.len()
        );
    }
    let mut created = Vec::new();
    let mut problems = Vec::new();
    for (b, result) in bindings.iter().zip(&r.results) {
        if result.error_code == 0 {
            created.push(b);
        } else {
            problems.push(format!(
                "cannot add ACL {}: {}",
                row(b).join(" "),
                error_text(result.error_code, result.error_message.as_deref())
            ));
        }
    }
    if !created.is_empty() {
        writeln!(io::stdout(), "Added ACLs:")?;
        print_acls(created)?;
    }
    Ok(report(&problems)?)
}

fn list(a: ListArgs) -> Result<ExitCode> {
    let filters = filters_to_list(&a);
    let mut client = Client::connect(&a.connect.settings()?)?;
    let mut found = Vec::new();
    for f in &filters {
        let ResponseBody::DescribeAcls(r) = client.bootstrap().call(describe_request(f))? else {
            bail!("unexpected response to DescribeAcls");
        };
        if r.error_code != 0 {
            bail!(
                "cannot list ACLs: {}",
                error_text(r.error_code, r.error_message.as_deref())
            );
        }
        for res in &r.resources {
            for acl in &res.acls {
                found.push(binding(
                    res.resource_type,
                    &res.resource_name,
                    res.pattern_type,
                    &acl.principal,
                    &acl.host,
                    acl.operation,
                    acl.permission_type,
                ));
            }
        }
    }
    print_acls(&found)?;
    Ok(ExitCode::SUCCESS)
}

fn remove(a: ChangeArgs) -> Result<ExitCode> {
    let filters = filters_to_remove(&a)?;
    let mut client = Client::connect(&a.connect.settings()?)?;
    let request = DeleteAclsRequest {
        filters: filters.iter().map(delete_filter).collect(),
        ..Default::default()
    };
    let ResponseBody::DeleteAcls(r) = client.bootstrap().call(request)? else {
        bail!("unexpected response to DeleteAcls");
    };
    let mut removed = Vec::new();
    let mut problems = Vec::new();
    for result in &r.filter_results {
        if result.error_code != 0 {
            problems.push(format!(
                "cannot remove ACLs: {}",
                error_text(result.error_code, result.error_message.as_deref())
            ));
            continue;
        }
        for m in &result.matching_acls {
            let b = binding(
                m.resource_type,
                &m.resource_name,
                m.pattern_type,
                &m.principal,
                &m.host,
                m.operation,
                m.permission_type,
            );
            if m.error_code == 0 {
                removed.push(b);
            } else {
                problems.push(format!(
                    "cannot remove ACL {}: {}",
                    row(&b).join(" "),
                    error_text(m.error_code, m.error_message.as_deref())
                ));
            }
        }
    }
    if removed.is_empty() {
        writeln!(io::stdout(), "No ACLs matched.")?;
    } else {
        writeln!(io::stdout(), "Removed ACLs:")?;
        print_acls(&removed)?;
    }
    Ok(report(&problems)?)
}

#[cfg(test)]
mod tests;
