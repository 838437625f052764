//! [`Authorizer`]: the ACLs in force and the decision rules of Kafka's `StandardAuthorizer`
//! (`StandardAuthorizerData.authorize`/`findAclRule`/`findResult`), plus `authorizeByResourceType` (the
//! default method of Kafka's `Authorizer` interface, which `StandardAuthorizer` uses) and the "authorized
//! operations" bit fields (`AuthHelper.authorizedOperations`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::binding::{
    principal_applies, AccessControlEntry, AclBinding, AclBindingFilter, KafkaPrincipal, ResourcePattern, WILDCARD,
};
use super::error::AclError;
use super::types::{Operation, PatternType, Permission, ResourceType};

/// Who is asking and from where (the parts of Kafka's `AuthorizableRequestContext` the rules use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// The authenticated principal (`User:ANONYMOUS` on an unauthenticated connection).
    pub principal: KafkaPrincipal,
    /// The client's address as Kafka prints it: build it with [`host_address`] (or use
    /// [`RequestContext::from_ip`]) so that it compares equal to the hosts in ACLs.
    pub host: String,
}

impl RequestContext {
    /// A context from a principal and a host string already in Kafka's form.
    pub fn new(principal: KafkaPrincipal, host: impl Into<String>) -> Self {
        RequestContext {
            principal,
            host: host.into(),
        }
    }

    /// A context from a principal and the client's IP address, printed with [`host_address`].
    pub fn from_ip(principal: KafkaPrincipal, ip: IpAddr) -> Self {
        Self::new(principal, host_address(ip))
    }
}

/// Prints a client address as Kafka's authorizer sees it (Java's `InetAddress.getHostAddress()`), which is
/// what a host in an ACL must equal:
///
/// - IPv4: dotted decimal, `10.0.0.1`;
/// - IPv6: eight lower-case hex groups without leading zeros and **without** `::` compression,
///   `0:0:0:0:0:0:0:1` for `::1`;
/// - an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, what a dual-stack listener reports for IPv4 clients)
///   prints as the IPv4 address, because Java turns it into an `Inet4Address`.
///
/// (Java appends `%scope` to a scoped IPv6 address; a `std::net::IpAddr` carries no scope, so neither
/// does this.)
pub fn host_address(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6
                .segments()
                .iter()
                .map(|s| format!("{s:x}"))
                .collect::<Vec<_>>()
                .join(":"),
        },
    }
}

/// The outcome of an authorization (Kafka's `AuthorizationResult`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// The operation may proceed.
    Allowed,
    /// The operation is refused.
    Denied,
}

impl Decision {
    /// Whether this is [`Decision::Allowed`].
    pub fn is_allowed(self) -> bool {
        self == Decision::Allowed
    }

    fn of(allowed: bool) -> Self {
        if allowed {
            Decision::Allowed
        } else {
            Decision::Denied
        }
    }
}

/// Why a decision was taken, for audit logs (the `MatchingRule`s of `StandardAuthorizerData`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// The principal is a super user (`SuperUserRule`): allowed.
    SuperUser,
    /// This ACL applies (`MatchingAclRule`): a DENY (denied), or, when no DENY applies, an ALLOW (allowed).
    MatchingAcl(AclBinding),
    /// ACLs exist for the resource but none applies to this principal, host and operation: denied.
    NoMatchingAcl,
    /// No ACL exists for the resource at all (`DefaultRule`): `allow.everyone.if.no.acl.found` decides.
    NoAclFound,
}

/// [`Rule`] borrowed from the ACLs.
enum Why<'a> {
    SuperUser,
    Acl(PatternType, &'a String, &'a AccessControlEntry),
    NoMatchingAcl,
    NoAclFound,
}

/// The "authorized operations" bit field of Metadata (topics, cluster), DescribeGroups, DescribeCluster and
/// ConsumerGroupDescribe (`AuthHelper.authorizedOperations` with `Utils.to32BitField`): bit `1 << code` is
/// set for every operation in [`ResourceType::supported_operations`] that `allowed` accepts.
///
/// For example, full access to a topic gives READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS
/// and ALTER_CONFIGS: `0b1101_1111_1000` = 3576. A resource type with no supported operations gives 0.
pub fn authorized_operations(resource_type: ResourceType, mut allowed: impl FnMut(Operation) -> bool) -> i32 {
    resource_type
        .supported_operations()
        .iter()
        .filter(|op| allowed(**op))
        .fold(0, |bits, op| bits | (1 << op.code()))
}

/// Parses Kafka's `super.users` setting (`StandardAuthorizer.getConfiguredSuperUsers`): principals separated
/// by `;`, each trimmed, empty items skipped, each of which must parse as `Type:name`.
pub fn parse_super_users(config: &str) -> Result<Vec<String>, AclError> {
    let mut users = Vec::new();
    for item in config.split(';') {
        // Java's String.trim() strips every char up to and including the space.
        let item = item.trim_matches(|c: char| c <= ' ');
        if !item.is_empty() {
            KafkaPrincipal::parse(item)?;
            users.push(item.to_string());
        }
    }
    Ok(users)
}

/// Entries by resource name, for one resource type and pattern type.
type ByName = BTreeMap<String, BTreeSet<AccessControlEntry>>;

/// The ACLs in force and the authorizer's settings: the state of Kafka's `StandardAuthorizerData`.
///
/// It is plain data. The broker builds it from the ACLs in the cluster metadata (the
/// `AccessControlEntryRecord`s and `RemoveAccessControlEntryRecord`s of the log) with [`Authorizer::add`]
/// and [`Authorizer::remove`], and shares an immutable copy with the request handlers, replacing it as the
/// log advances. Identical bindings are stored once (a set), as Kafka's controller never writes an ACL
/// that already exists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Authorizer {
    /// `super.users`: principals as `Type:name`, allowed everything.
    super_users: Vec<String>,
    /// `allow.everyone.if.no.acl.found` (default false).
    allow_everyone_if_no_acl_found: bool,
    /// INVARIANT: no empty inner map or set is kept, and `len` counts the entries of the innermost sets.
    acls: BTreeMap<ResourceType, BTreeMap<PatternType, ByName>>,
    /// How many bindings are stored.
    len: usize,
}

impl Authorizer {
    /// An authorizer without ACLs. `super_users` are principal strings such as `User:admin` (see
    /// [`parse_super_users`]); `allow_everyone_if_no_acl_found` is Kafka's setting of that name (false by
    /// default: a resource without any ACL is denied to everyone but super users).
    pub fn new(super_users: Vec<String>, allow_everyone_if_no_acl_found: bool) -> Self {
        Authorizer {
            super_users,
            allow_everyone_if_no_acl_found,
            acls: BTreeMap::new(),
            len: 0,
        }
    }

    /// This authorizer with `bindings` added.
    pub fn with_bindings(mut self, bindings: impl IntoIterator<Item = AclBinding>) -> Self {
        for binding in bindings {
            self.add(binding);
        }
        self
    }

    /// The super users.
    pub fn super_users(&self) -> &[String] {
        &self.super_users
    }

    /// The `allow.everyone.if.no.acl.found` setting.
    pub fn allow_everyone_if_no_acl_found(&self) -> bool {
        self.allow_everyone_if_no_acl_found
    }

    /// Adds a binding; false if it was already there. The binding is stored as given: validate bindings
    /// from clients with [`AclBinding::validate`] first. (A stored binding whose pattern type is not
    /// LITERAL or PREFIXED is listed by [`Authorizer::describe`] but never applies to a resource.)
    pub fn add(&mut self, binding: AclBinding) -> bool {
        let AclBinding { pattern, entry } = binding;
        let added = self
            .acls
            .entry(pattern.resource_type)
            .or_default()
            .entry(pattern.pattern_type)
            .or_default()
            .entry(pattern.name)
            .or_default()
            .insert(entry);
        if added {
            self.len += 1;
        }
        added
    }

    /// Removes a binding; false if it was not there.
    pub fn remove(&mut self, binding: &AclBinding) -> bool {
        let pattern = &binding.pattern;
        let Some(by_pattern) = self.acls.get_mut(&pattern.resource_type) else {
            return false;
        };
        let Some(by_name) = by_pattern.get_mut(&pattern.pattern_type) else {
            return false;
        };
        let Some(entries) = by_name.get_mut(pattern.name.as_str()) else {
            return false;
        };
        if !entries.remove(&binding.entry) {
            return false;
        }
        self.len -= 1;
        if entries.is_empty() {
            by_name.remove(pattern.name.as_str());
            if by_name.is_empty() {
                by_pattern.remove(&pattern.pattern_type);
                if by_pattern.is_empty() {
                    self.acls.remove(&pattern.resource_type);
                }
            }
        }
        true
    }

    /// Whether this exact binding is stored (CreateAcls of an existing ACL succeeds without a new record,
    /// `AclControlManager.createAcls`).
    pub fn contains(&self, binding: &AclBinding) -> bool {
        let pattern = &binding.pattern;
        self.acls
            .get(&pattern.resource_type)
            .and_then(|by_pattern| by_pattern.get(&pattern.pattern_type))
            .and_then(|by_name| by_name.get(pattern.name.as_str()))
            .is_some_and(|entries| entries.contains(&binding.entry))
    }

    /// How many bindings are stored (`aclCount`).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no binding is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every stored binding, ordered by resource type, pattern type, name, then entry.
    pub fn bindings(&self) -> impl Iterator<Item = AclBinding> + '_ {
        self.acls.iter().flat_map(|(resource_type, by_pattern)| {
            by_pattern.iter().flat_map(move |(pattern_type, by_name)| {
                by_name.iter().flat_map(move |(name, entries)| {
                    entries.iter().map(move |entry| {
                        AclBinding::new(
                            ResourcePattern::new(*resource_type, name.clone(), *pattern_type),
                            entry.clone(),
                        )
                    })
                })
            })
        })
    }

    /// The bindings `filter` selects, for DescribeAcls (`StandardAuthorizer.acls`), in the order of
    /// [`Authorizer::bindings`]. Group them for the response with
    /// [`group_by_pattern`](super::group_by_pattern).
    pub fn describe(&self, filter: &AclBindingFilter) -> Vec<AclBinding> {
        self.bindings().filter(|binding| filter.matches(binding)).collect()
    }

    /// The bindings a DeleteAcls filter removes (`AclControlManager.deleteAclsForFilter`): the same
    /// selection as [`Authorizer::describe`]. Check the filter with [`AclBindingFilter::validate`] first; the
    /// caller writes one removal per binding and reports them as the filter's `MatchingAcls`.
    pub fn matching(&self, filter: &AclBindingFilter) -> Vec<AclBinding> {
        self.describe(filter)
    }

    /// Whether `ctx` may perform `operation` on the resource `resource_type`/`name` (a LITERAL resource, as
    /// every broker check is): Kafka's `StandardAuthorizer.authorize`.
    ///
    /// 1. A principal whose `Type:name` is one of the super users is allowed.
    /// 2. The ACLs considered are those of the same resource type that are LITERAL with the same name,
    ///    LITERAL `*`, or PREFIXED with a prefix of the name.
    /// 3. Of those, an ACL applies if its principal is the context's or `User:*`, its host is `*` or the
    ///    context's, and its operation is ALL or the requested one, or, for an ALLOW only, implies it
    ///    ([`Operation::implies`]: READ/WRITE/DELETE/ALTER imply DESCRIBE, ALTER_CONFIGS implies
    ///    DESCRIBE_CONFIGS).
    /// 4. Any applicable DENY denies (whatever its pattern); else any applicable ALLOW allows.
    /// 5. Else, if any ACL at all was considered in step 2, denied.
    /// 6. Else `allow.everyone.if.no.acl.found` decides.
    ///
    /// An ACL whose permission is neither ALLOW nor DENY (only possible from a corrupt record) counts as a
    /// DENY on equal operations, as in Kafka. An ACL whose principal has no colon applies to nobody.
    pub fn authorize(
        &self,
        ctx: &RequestContext,
        operation: Operation,
        resource_type: ResourceType,
        name: &str,
    ) -> Decision {
        self.decide(ctx, operation, resource_type, name).0
    }

    /// [`Authorizer::authorize`], with the rule that decided.
    pub fn authorize_explained(
        &self,
        ctx: &RequestContext,
        operation: Operation,
        resource_type: ResourceType,
        name: &str,
    ) -> (Decision, Rule) {
        let (decision, why) = self.decide(ctx, operation, resource_type, name);
        let rule = match why {
            Why::SuperUser => Rule::SuperUser,
            Why::Acl(pattern_type, acl_name, entry) => Rule::MatchingAcl(AclBinding::new(
                ResourcePattern::new(resource_type, acl_name.as_str(), pattern_type),
                entry.clone(),
            )),
            Why::NoMatchingAcl => Rule::NoMatchingAcl,
            Why::NoAclFound => Rule::NoAclFound,
        };
        (decision, rule)
    }

    /// The decision and what decided it, borrowed from the ACLs: the request path allocates nothing.
    fn decide<'a>(
        &'a self,
        ctx: &RequestContext,
        operation: Operation,
        resource_type: ResourceType,
        name: &'a str,
    ) -> (Decision, Why<'a>) {
        let principal = &ctx.principal;
        let is_super = self.super_users.iter().any(|s| {
            s.split_once(':')
                .is_some_and(|(t, n)| t == principal.principal_type && n == principal.name)
        });
        if is_super {
            return (Decision::Allowed, Why::SuperUser);
        }
        let mut allow = None;
        let mut has_resource_acls = false;
        for (pattern_type, acl_name, entries) in self.candidates(resource_type, name) {
            has_resource_acls = true;
            for entry in entries {
                match entry_result(entry, ctx, operation) {
                    Some(Decision::Denied) => return (Decision::Denied, Why::Acl(pattern_type, acl_name, entry)),
                    Some(Decision::Allowed) if allow.is_none() => allow = Some(Why::Acl(pattern_type, acl_name, entry)),
                    _ => {}
                }
            }
        }
        match allow {
            Some(why) => (Decision::Allowed, why),
            None if has_resource_acls => (Decision::Denied, Why::NoMatchingAcl),
            None => (Decision::of(self.allow_everyone_if_no_acl_found), Why::NoAclFound),
        }
    }

    /// The ACL groups that may apply to `resource_type`/`name`, as (pattern type, pattern name, entries):
    /// LITERAL with the name, LITERAL `*`, and PREFIXED with each prefix of the name (on character
    /// boundaries, the empty prefix and the whole name included).
    fn candidates<'a>(
        &'a self,
        resource_type: ResourceType,
        name: &'a str,
    ) -> impl Iterator<Item = (PatternType, &'a String, &'a BTreeSet<AccessControlEntry>)> + 'a {
        let by_pattern = self.acls.get(&resource_type);
        let literal = by_pattern.and_then(|p| p.get(&PatternType::Literal));
        let prefixed = by_pattern.and_then(|p| p.get(&PatternType::Prefixed));
        let exact = literal.and_then(|l| l.get_key_value(name));
        let wildcard = literal
            .filter(|_| name != WILDCARD)
            .and_then(|l| l.get_key_value(WILDCARD));
        let literals = exact
            .into_iter()
            .chain(wildcard)
            .map(|(n, e)| (PatternType::Literal, n, e));
        let prefixes = prefixed.into_iter().flat_map(move |p| {
            (0..=name.len())
                .filter(move |end| name.is_char_boundary(*end))
                .filter_map(move |end| p.get_key_value(&name[..end]))
                .map(|(n, e)| (PatternType::Prefixed, n, e))
        });
        literals.chain(prefixes)
    }

    /// Whether `ctx` may perform `operation` on **at least one** resource of `resource_type`, considering
    /// DENY ACLs on wildcards and prefixes: the default `Authorizer.authorizeByResourceType` of Kafka, which
    /// `StandardAuthorizer` inherits. Kafka uses it for InitProducerId without a transactional id (WRITE on
    /// any TOPIC, when IDEMPOTENT_WRITE on the CLUSTER is not allowed).
    ///
    /// 1. If [`Authorizer::authorize`] allows the operation on a resource named `hardcode` of that type,
    ///    allowed. (That is how super users, a LITERAL `*` ALLOW, and `allow.everyone.if.no.acl.found` with
    ///    no ACL covering `hardcode` get through; a PREFIXED ALLOW on a prefix of `hardcode` does too.)
    /// 2. Otherwise only ACLs of that resource type whose host is `*` or the context's, whose principal is
    ///    the context's or `User:*`, and whose operation is exactly the requested one or ALL count
    ///    (no implication: an ALLOW READ does not count for DESCRIBE here).
    /// 3. A DENY on LITERAL `*` denies. An ALLOW on LITERAL `*` allows.
    /// 4. Allowed if some ALLOW LITERAL name is neither denied by a DENY LITERAL of the same name nor
    ///    "dominated" by a DENY PREFIXED that is a non-empty prefix of it; or some ALLOW PREFIXED name is
    ///    not dominated by a DENY PREFIXED that is a non-empty prefix of it (a DENY LITERAL never dominates
    ///    a prefix).
    /// 5. Otherwise denied.
    ///
    /// Kafka throws for resource type `ANY`/`UNKNOWN` or operation `ANY`/`UNKNOWN`; this returns
    /// [`Decision::Denied`] for them.
    pub fn authorize_by_resource_type(
        &self,
        ctx: &RequestContext,
        operation: Operation,
        resource_type: ResourceType,
    ) -> Decision {
        if matches!(resource_type, ResourceType::Any | ResourceType::Unknown)
            || matches!(operation, Operation::Any | Operation::Unknown)
        {
            return Decision::Denied;
        }
        if self.authorize(ctx, operation, resource_type, "hardcode").is_allowed() {
            return Decision::Allowed;
        }
        let Some(by_pattern) = self.acls.get(&resource_type) else {
            return Decision::Denied;
        };
        let mut deny_literal = BTreeSet::new();
        let mut deny_prefixed = BTreeSet::new();
        let mut allow_literal = BTreeSet::new();
        let mut allow_prefixed = BTreeSet::new();
        let mut wildcard_allow = false;
        for (pattern_type, by_name) in by_pattern {
            for (name, entries) in by_name {
                for entry in entries {
                    if entry.host != WILDCARD && entry.host != ctx.host {
                        continue;
                    }
                    // The entry's principal parsed equals the context's, or is `User:*`.
                    if !principal_applies(&entry.principal, &ctx.principal) {
                        continue;
                    }
                    if entry.operation != operation && entry.operation != Operation::All {
                        continue;
                    }
                    let name = name.as_str();
                    match (entry.permission, pattern_type) {
                        (Permission::Deny, PatternType::Literal) if name == WILDCARD => return Decision::Denied,
                        (Permission::Deny, PatternType::Literal) => {
                            deny_literal.insert(name);
                        }
                        (Permission::Deny, PatternType::Prefixed) => {
                            deny_prefixed.insert(name);
                        }
                        (Permission::Allow, PatternType::Literal) if name == WILDCARD => wildcard_allow = true,
                        (Permission::Allow, PatternType::Literal) => {
                            allow_literal.insert(name);
                        }
                        (Permission::Allow, PatternType::Prefixed) => {
                            allow_prefixed.insert(name);
                        }
                        _ => {}
                    }
                }
            }
        }
        if wildcard_allow {
            return Decision::Allowed;
        }
        let dominated = |allowed: &str| {
            allowed
                .char_indices()
                .any(|(i, c)| deny_prefixed.contains(&allowed[..i + c.len_utf8()]))
        };
        let literal_ok = allow_literal
            .iter()
            .any(|name| !deny_literal.contains(name) && !dominated(name));
        let prefixed_ok = allow_prefixed.iter().any(|name| !dominated(name));
        Decision::of(literal_ok || prefixed_ok)
    }

    /// The "authorized operations" bit field of one resource for `ctx` ([`authorized_operations`] over
    /// [`Authorizer::authorize`]). Kafka answers 0 for the cluster's field in Metadata v8-10 and
    /// DescribeCluster when DESCRIBE on the CLUSTER is denied, and `i32::MIN` when the field was not
    /// asked for; those choices are the caller's.
    pub fn authorized_operations(&self, ctx: &RequestContext, resource_type: ResourceType, name: &str) -> i32 {
        authorized_operations(resource_type, |op| {
            self.authorize(ctx, op, resource_type, name).is_allowed()
        })
    }
}

/// What one ACL entry, whose pattern applies to the resource, says about `operation` for `ctx`
/// (`StandardAuthorizerData.findResult`): `None` if it does not apply.
fn entry_result(entry: &AccessControlEntry, ctx: &RequestContext, operation: Operation) -> Option<Decision> {
    if !principal_applies(&entry.principal, &ctx.principal) {
        return None;
    }
    if entry.host != WILDCARD && entry.host != ctx.host {
        return None;
    }
    let allow = entry.permission == Permission::Allow;
    let operation_applies = if allow {
        entry.operation.implies(operation)
    } else {
        entry.operation == Operation::All || entry.operation == operation
    };
    operation_applies.then_some(Decision::of(allow))
}
