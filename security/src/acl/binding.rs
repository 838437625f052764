//! ACLs as data: who ([`KafkaPrincipal`]), which resources ([`ResourcePattern`]), what ([`AccessControlEntry`]),
//! both together ([`AclBinding`]), and the filters that DescribeAcls and DeleteAcls select them with
//! ([`ResourcePatternFilter`], [`AccessControlEntryFilter`], [`AclBindingFilter`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use super::error::AclError;
use super::types::{Operation, PatternType, Permission, ResourceType};

/// The only resource name of the CLUSTER resource type (Kafka's `Resource.CLUSTER_NAME`).
pub const CLUSTER_NAME: &str = "kafka-cluster";

/// The literal resource name, and the host, that match everything (`ResourcePattern.WILDCARD_RESOURCE`,
/// `AclEntry.WILDCARD_HOST`).
pub const WILDCARD: &str = "*";

/// The principal of ACLs that apply to every principal (`AclEntry.WILDCARD_PRINCIPAL_STRING`).
pub const WILDCARD_PRINCIPAL: &str = "User:*";

/// Who a client is: a principal type and a name (Kafka's `KafkaPrincipal`). SASL and PLAINTEXT
/// connections give type `User`: `User:<authorization id>` after SASL, `User:ANONYMOUS` without it.
///
/// Equality compares type and name, as Kafka's `equals` does.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KafkaPrincipal {
    /// The principal type, `User` for every principal Kafka's own authenticators build.
    pub principal_type: String,
    /// The name (for SASL, the authorization id).
    pub name: String,
}

impl KafkaPrincipal {
    /// The principal type of users (`KafkaPrincipal.USER_TYPE`).
    pub const USER_TYPE: &'static str = "User";

    /// A principal of any type.
    pub fn new(principal_type: impl Into<String>, name: impl Into<String>) -> Self {
        KafkaPrincipal {
            principal_type: principal_type.into(),
            name: name.into(),
        }
    }

    /// `User:<name>`.
    pub fn user(name: impl Into<String>) -> Self {
        Self::new(Self::USER_TYPE, name)
    }

    /// `User:ANONYMOUS`, the principal of unauthenticated connections (`KafkaPrincipal.ANONYMOUS`).
    pub fn anonymous() -> Self {
        Self::user("ANONYMOUS")
    }

    /// `User:*`, the principal of ACLs that apply to everyone.
    pub fn wildcard() -> Self {
        Self::user(WILDCARD)
    }

    /// Whether this is `User:*`.
    pub fn is_wildcard(&self) -> bool {
        self.principal_type == Self::USER_TYPE && self.name == WILDCARD
    }

    /// Parses `Type:name`, splitting at the **first** colon (Kafka's `SecurityUtils.parseKafkaPrincipal`):
    /// `User:alice` is (`User`, `alice`), `a:b:c` is (`a`, `b:c`), and `User:` is (`User`, ``). A string
    /// without a colon, or an empty one, is refused.
    pub fn parse(s: &str) -> Result<Self, AclError> {
        match s.split_once(':') {
            Some((principal_type, name)) => Ok(Self::new(principal_type, name)),
            None => Err(AclError::MalformedPrincipal(s.to_string())),
        }
    }
}

impl FromStr for KafkaPrincipal {
    type Err = AclError;

    fn from_str(s: &str) -> Result<Self, AclError> {
        Self::parse(s)
    }
}

impl fmt::Display for KafkaPrincipal {
    /// `Type:name`, as Kafka's `toString` (the form ACLs and `super.users` hold).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.principal_type, self.name)
    }
}

/// Whether the principal string of an ACL names `principal` or is the wildcard `User:*`
/// (`StandardAuthorizerData.matchingPrincipals`). A string without a colon names nobody (Kafka's
/// `StandardAcl.kafkaPrincipal` would throw; newer controllers refuse to create such ACLs).
pub(crate) fn principal_applies(acl_principal: &str, principal: &KafkaPrincipal) -> bool {
    match acl_principal.split_once(':') {
        Some((principal_type, name)) => {
            (principal_type == principal.principal_type && name == principal.name)
                || (principal_type == KafkaPrincipal::USER_TYPE && name == WILDCARD)
        }
        None => false,
    }
}

/// The resources an ACL applies to (Kafka's `ResourcePattern`): a resource type, a name and how the name
/// matches. In a stored ACL the pattern type is LITERAL (the exact name, or `*` for every resource of the
/// type) or PREFIXED (every name starting with it); [`AclBinding::validate`] refuses the others.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourcePattern {
    /// The resource type.
    pub resource_type: ResourceType,
    /// The resource name, the wildcard `*` (LITERAL only), or a prefix (PREFIXED).
    pub name: String,
    /// How `name` matches resource names.
    pub pattern_type: PatternType,
}

impl ResourcePattern {
    /// A pattern.
    pub fn new(resource_type: ResourceType, name: impl Into<String>, pattern_type: PatternType) -> Self {
        ResourcePattern {
            resource_type,
            name: name.into(),
            pattern_type,
        }
    }

    /// A LITERAL pattern: exactly this resource, or every resource of the type if `name` is `*`.
    pub fn literal(resource_type: ResourceType, name: impl Into<String>) -> Self {
        Self::new(resource_type, name, PatternType::Literal)
    }

    /// A PREFIXED pattern: every resource of the type whose name starts with `prefix`.
    pub fn prefixed(resource_type: ResourceType, prefix: impl Into<String>) -> Self {
        Self::new(resource_type, prefix, PatternType::Prefixed)
    }

    /// The pattern of the CLUSTER resource (`CLUSTER`, `kafka-cluster`, LITERAL).
    pub fn cluster() -> Self {
        Self::literal(ResourceType::Cluster, CLUSTER_NAME)
    }

    /// Whether the resource type or pattern type is `UNKNOWN` (`ResourcePattern.isUnknown`).
    pub fn is_unknown(&self) -> bool {
        self.resource_type.is_unknown() || self.pattern_type.is_unknown()
    }

    /// Whether this pattern applies to the resource `resource_type`/`name`, as the authorizer matches it:
    /// same resource type, and LITERAL with the same name or `*`, or PREFIXED with a prefix of `name`.
    pub fn applies_to(&self, resource_type: ResourceType, name: &str) -> bool {
        self.resource_type == resource_type
            && match self.pattern_type {
                PatternType::Literal => self.name == name || self.name == WILDCARD,
                PatternType::Prefixed => name.starts_with(self.name.as_str()),
                _ => false,
            }
    }

    /// The filter that matches exactly this pattern (`ResourcePattern.toFilter`).
    pub fn to_filter(&self) -> ResourcePatternFilter {
        ResourcePatternFilter {
            resource_type: self.resource_type,
            name: Some(self.name.clone()),
            pattern_type: self.pattern_type,
        }
    }
}

impl fmt::Display for ResourcePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ResourcePattern(resourceType={}, name={}, patternType={})",
            self.resource_type, self.name, self.pattern_type
        )
    }
}

/// Who may or may not do what from where (Kafka's `AccessControlEntry`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccessControlEntry {
    /// The principal as `Type:name`, e.g. `User:alice`; `User:*` applies to everyone.
    pub principal: String,
    /// The client address as Kafka prints it ([`host_address`](super::host_address)), or `*` for any host.
    pub host: String,
    /// The operation; ALL covers every operation.
    pub operation: Operation,
    /// ALLOW or DENY.
    pub permission: Permission,
}

impl AccessControlEntry {
    /// An entry.
    pub fn new(
        principal: impl Into<String>,
        host: impl Into<String>,
        operation: Operation,
        permission: Permission,
    ) -> Self {
        AccessControlEntry {
            principal: principal.into(),
            host: host.into(),
            operation,
            permission,
        }
    }

    /// An ALLOW entry for `principal` from any host.
    pub fn allow(principal: impl Into<String>, operation: Operation) -> Self {
        Self::new(principal, WILDCARD, operation, Permission::Allow)
    }

    /// A DENY entry for `principal` from any host.
    pub fn deny(principal: impl Into<String>, operation: Operation) -> Self {
        Self::new(principal, WILDCARD, operation, Permission::Deny)
    }

    /// Whether the operation or permission is `UNKNOWN` (`AccessControlEntry.isUnknown`).
    pub fn is_unknown(&self) -> bool {
        self.operation.is_unknown() || self.permission.is_unknown()
    }

    /// The filter that matches exactly this entry (`AccessControlEntry.toFilter`).
    pub fn to_filter(&self) -> AccessControlEntryFilter {
        AccessControlEntryFilter {
            principal: Some(self.principal.clone()),
            host: Some(self.host.clone()),
            operation: self.operation,
            permission: self.permission,
        }
    }
}

impl fmt::Display for AccessControlEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "(principal={}, host={}, operation={}, permissionType={})",
            self.principal, self.host, self.operation, self.permission
        )
    }
}

/// One ACL: a resource pattern bound to an access control entry (Kafka's `AclBinding`). This is what
/// CreateAcls creates, DescribeAcls lists and DeleteAcls removes, and what the metadata log's
/// `AccessControlEntryRecord` holds (plus an id).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AclBinding {
    /// The resources.
    pub pattern: ResourcePattern,
    /// Who, from where, what, and whether allowed.
    pub entry: AccessControlEntry,
}

impl AclBinding {
    /// A binding.
    pub fn new(pattern: ResourcePattern, entry: AccessControlEntry) -> Self {
        AclBinding { pattern, entry }
    }

    /// Whether any component is `UNKNOWN` (`AclBinding.isUnknown`).
    pub fn is_unknown(&self) -> bool {
        self.pattern.is_unknown() || self.entry.is_unknown()
    }

    /// The filter that matches exactly this binding (`AclBinding.toFilter`).
    pub fn to_filter(&self) -> AclBindingFilter {
        AclBindingFilter {
            pattern: self.pattern.to_filter(),
            entry: self.entry.to_filter(),
        }
    }

    /// The checks a binding to create passes in Kafka, in Kafka's order, each failing with INVALID_REQUEST
    /// and Kafka's message:
    ///
    /// 1. `AclApis.handleCreateAcls` (the request handler): a CLUSTER resource must be named
    ///    `kafka-cluster`; the resource name must not be empty.
    /// 2. `AclControlManager.validateNewAcl` (the controller): resource type not `UNKNOWN`/`ANY`; pattern type
    ///    LITERAL or PREFIXED; operation not `UNKNOWN`/`ANY`; permission ALLOW or DENY; the principal
    ///    contains a colon (Kafka 4.x).
    ///
    /// Not checked, as in Kafka: whether the operation is one the resource type supports, the host, and
    /// the principal type. Checks that belong to the request decoder are not here either (see the module
    /// docs): a request carrying code 0 (`UNKNOWN`) in any of the four enums does not parse in Kafka, and a
    /// v0 request may only create LITERAL patterns (UNSUPPORTED_VERSION).
    ///
    /// One difference: for a creation whose resource type, pattern type, operation or permission is a
    /// *filter* value (`ANY`, or `MATCH`), Kafka's `ResourcePattern`/`AccessControlEntry` constructors throw
    /// before any of these checks and the **whole** CreateAcls request is answered UNKNOWN_SERVER_ERROR
    /// without a message. Here such a creation fails alone, with the controller's INVALID_REQUEST message.
    pub fn validate(&self) -> Result<(), AclError> {
        let pattern = &self.pattern;
        let entry = &self.entry;
        if pattern.resource_type == ResourceType::Cluster && pattern.name != CLUSTER_NAME {
            return Err(AclError::InvalidClusterName);
        }
        if pattern.name.is_empty() {
            return Err(AclError::EmptyResourceName);
        }
        if matches!(pattern.resource_type, ResourceType::Unknown | ResourceType::Any) {
            return Err(AclError::InvalidResourceType(pattern.resource_type));
        }
        if !pattern.pattern_type.is_specific() {
            return Err(AclError::InvalidPatternType(pattern.pattern_type));
        }
        if matches!(entry.operation, Operation::Unknown | Operation::Any) {
            return Err(AclError::InvalidOperation(entry.operation));
        }
        if !matches!(entry.permission, Permission::Allow | Permission::Deny) {
            return Err(AclError::InvalidPermission(entry.permission));
        }
        if !entry.principal.contains(':') {
            return Err(AclError::PrincipalWithoutColon(entry.principal.clone()));
        }
        Ok(())
    }
}

impl fmt::Display for AclBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(pattern={}, entry={})", self.pattern, self.entry)
    }
}

/// Selects resource patterns (Kafka's `ResourcePatternFilter`), for DescribeAcls and DeleteAcls.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourcePatternFilter {
    /// `ANY`, or the one resource type to match.
    pub resource_type: ResourceType,
    /// `None` matches every name; otherwise see [`ResourcePatternFilter::matches`].
    pub name: Option<String>,
    /// `ANY`, `MATCH`, or the one pattern type to match.
    pub pattern_type: PatternType,
}

impl ResourcePatternFilter {
    /// Matches every pattern (`ResourcePatternFilter.ANY`).
    pub const ANY: ResourcePatternFilter = ResourcePatternFilter {
        resource_type: ResourceType::Any,
        name: None,
        pattern_type: PatternType::Any,
    };

    /// A filter.
    pub fn new(resource_type: ResourceType, name: Option<String>, pattern_type: PatternType) -> Self {
        ResourcePatternFilter {
            resource_type,
            name,
            pattern_type,
        }
    }

    /// Whether this filter selects `pattern` (`ResourcePatternFilter.matches`):
    ///
    /// - the resource type must be equal unless the filter's is `ANY`;
    /// - the pattern type must be equal unless the filter's is `ANY` or `MATCH`;
    /// - a `None` name matches every name;
    /// - with `ANY` or a concrete pattern type, the names must be **equal** (so `ANY` with name `orders-eu`
    ///   does not find a PREFIXED `orders-` ACL);
    /// - with `MATCH`, the pattern must apply to the named resource: a LITERAL with the same name or `*`,
    ///   or a PREFIXED whose name the filter's name starts with.
    ///
    /// A `MATCH` filter never selects a stored pattern whose type is not LITERAL or PREFIXED (Kafka throws).
    pub fn matches(&self, pattern: &ResourcePattern) -> bool {
        if self.resource_type != ResourceType::Any && self.resource_type != pattern.resource_type {
            return false;
        }
        if !matches!(self.pattern_type, PatternType::Any | PatternType::Match)
            && self.pattern_type != pattern.pattern_type
        {
            return false;
        }
        let Some(name) = &self.name else {
            return true;
        };
        if self.pattern_type == PatternType::Any || self.pattern_type == pattern.pattern_type {
            return *name == pattern.name;
        }
        match pattern.pattern_type {
            PatternType::Literal => *name == pattern.name || pattern.name == WILDCARD,
            PatternType::Prefixed => name.starts_with(pattern.name.as_str()),
            _ => false,
        }
    }

    /// Whether the resource type or pattern type is `UNKNOWN` (`ResourcePatternFilter.isUnknown`).
    pub fn is_unknown(&self) -> bool {
        self.resource_type.is_unknown() || self.pattern_type.is_unknown()
    }

    /// Describes the first field that keeps this filter from naming exactly one pattern, or `None`
    /// (`ResourcePatternFilter.findIndefiniteField`).
    pub fn find_indefinite_field(&self) -> Option<&'static str> {
        match (self.resource_type, &self.name, self.pattern_type) {
            (ResourceType::Any, _, _) => Some("Resource type is ANY."),
            (ResourceType::Unknown, _, _) => Some("Resource type is UNKNOWN."),
            (_, None, _) => Some("Resource name is NULL."),
            (_, _, PatternType::Match) => Some("Resource pattern type is MATCH."),
            (_, _, PatternType::Unknown) => Some("Resource pattern type is UNKNOWN."),
            _ => None,
        }
    }
}

/// Selects access control entries (Kafka's `AccessControlEntryFilter`). Strings compare exactly (a filter
/// principal `User:*` selects only entries whose principal is literally `User:*`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccessControlEntryFilter {
    /// `None` for any principal, else the exact principal string.
    pub principal: Option<String>,
    /// `None` for any host, else the exact host string.
    pub host: Option<String>,
    /// `ANY`, or the one operation (exactly: a filter for DESCRIBE does not select READ entries).
    pub operation: Operation,
    /// `ANY`, or the one permission.
    pub permission: Permission,
}

impl AccessControlEntryFilter {
    /// Matches every entry (`AccessControlEntryFilter.ANY`).
    pub const ANY: AccessControlEntryFilter = AccessControlEntryFilter {
        principal: None,
        host: None,
        operation: Operation::Any,
        permission: Permission::Any,
    };

    /// A filter.
    pub fn new(principal: Option<String>, host: Option<String>, operation: Operation, permission: Permission) -> Self {
        AccessControlEntryFilter {
            principal,
            host,
            operation,
            permission,
        }
    }

    /// Whether this filter selects `entry` (`AccessControlEntryFilter.matches`).
    pub fn matches(&self, entry: &AccessControlEntry) -> bool {
        self.principal.as_ref().is_none_or(|p| *p == entry.principal)
            && self.host.as_ref().is_none_or(|h| *h == entry.host)
            && (self.operation == Operation::Any || self.operation == entry.operation)
            && (self.permission == Permission::Any || self.permission == entry.permission)
    }

    /// Whether the operation or permission is `UNKNOWN` (`AccessControlEntryFilter.isUnknown`).
    pub fn is_unknown(&self) -> bool {
        self.operation.is_unknown() || self.permission.is_unknown()
    }

    /// Describes the first field that keeps this filter from naming exactly one entry, or `None`
    /// (`AccessControlEntryData.findIndefiniteField`).
    pub fn find_indefinite_field(&self) -> Option<&'static str> {
        if self.principal.is_none() {
            Some("Principal is NULL")
        } else if self.host.is_none() {
            Some("Host is NULL")
        } else if self.operation == Operation::Any {
            Some("Operation is ANY")
        } else if self.operation == Operation::Unknown {
            Some("Operation is UNKNOWN")
        } else if self.permission == Permission::Any {
            Some("Permission type is ANY")
        } else if self.permission == Permission::Unknown {
            Some("Permission type is UNKNOWN")
        } else {
            None
        }
    }
}

/// Selects ACL bindings (Kafka's `AclBindingFilter`): the filter of a DescribeAcls request, and each filter
/// of a DeleteAcls request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AclBindingFilter {
    /// Which resource patterns.
    pub pattern: ResourcePatternFilter,
    /// Which entries.
    pub entry: AccessControlEntryFilter,
}

impl AclBindingFilter {
    /// Matches every binding (`AclBindingFilter.ANY`).
    pub const ANY: AclBindingFilter = AclBindingFilter {
        pattern: ResourcePatternFilter::ANY,
        entry: AccessControlEntryFilter::ANY,
    };

    /// A filter.
    pub fn new(pattern: ResourcePatternFilter, entry: AccessControlEntryFilter) -> Self {
        AclBindingFilter { pattern, entry }
    }

    /// Whether both the pattern filter and the entry filter select `binding` (`AclBindingFilter.matches`).
    pub fn matches(&self, binding: &AclBinding) -> bool {
        self.pattern.matches(&binding.pattern) && self.entry.matches(&binding.entry)
    }

    /// Whether any component is `UNKNOWN` (`AclBindingFilter.isUnknown`).
    pub fn is_unknown(&self) -> bool {
        self.pattern.is_unknown() || self.entry.is_unknown()
    }

    /// Whether this filter can select at most one binding: no `ANY`, `MATCH`, `UNKNOWN` or `None` field
    /// (`AclBindingFilter.matchesAtMostOne`).
    pub fn matches_at_most_one(&self) -> bool {
        self.find_indefinite_field().is_none()
    }

    /// Describes the first indefinite field, pattern first (`AclBindingFilter.findIndefiniteField`).
    pub fn find_indefinite_field(&self) -> Option<&'static str> {
        self.pattern
            .find_indefinite_field()
            .or_else(|| self.entry.find_indefinite_field())
    }

    /// The check the controller makes on each DeleteAcls filter (`AclControlManager.validateFilter`): no
    /// `UNKNOWN` resource type or pattern type ("Unknown patternFilter."), no `UNKNOWN` operation or
    /// permission ("Unknown entryFilter."), each INVALID_REQUEST for that filter alone.
    ///
    /// Code 0 in any of these does not even parse in Kafka (the request decoder refuses it); this catches
    /// the codes no enum knows, which decode to `UNKNOWN`. DescribeAcls makes no such check: its filter
    /// simply matches nothing then.
    pub fn validate(&self) -> Result<(), AclError> {
        if self.pattern.is_unknown() {
            return Err(AclError::UnknownPatternFilter);
        }
        if self.entry.is_unknown() {
            return Err(AclError::UnknownEntryFilter);
        }
        Ok(())
    }
}

/// Groups bindings by resource pattern, as a DescribeAcls response lists them (`Resources[...]` each with
/// its `Acls[...]`; Kafka's `DescribeAclsResponse.aclsResources`). Duplicate entries collapse, as in Kafka's
/// per-pattern set. Patterns and entries come out in this crate's `Ord` order (Kafka's order is a hash
/// map's, i.e. unspecified).
pub fn group_by_pattern(
    bindings: impl IntoIterator<Item = AclBinding>,
) -> Vec<(ResourcePattern, Vec<AccessControlEntry>)> {
    let mut groups: BTreeMap<ResourcePattern, BTreeSet<AccessControlEntry>> = BTreeMap::new();
    for binding in bindings {
        groups.entry(binding.pattern).or_default().insert(binding.entry);
    }
    groups
        .into_iter()
        .map(|(pattern, entries)| (pattern, entries.into_iter().collect()))
        .collect()
}
