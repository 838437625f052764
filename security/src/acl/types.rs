//! The four enumerations of Kafka's ACL model, with their wire codes (`INT8`) and names: [`ResourceType`]
//! (`org.apache.kafka.common.resource.ResourceType`), [`PatternType`] (`...resource.PatternType`),
//! [`Operation`] (`org.apache.kafka.common.acl.AclOperation`) and [`Permission`] (`...acl.AclPermissionType`).
//!
//! As in Kafka, a code this crate does not know decodes to the `Unknown` value rather than failing, so that a
//! request or record from a newer peer still parses; validation rejects `Unknown` where it matters.

use std::fmt;

/// Declares one of Kafka's code-carrying enums: the variants with their codes and Java names, `VALUES`,
/// `from_code`, `code`, `name`, `is_unknown` and `Display` (the Java name, as Kafka's `toString`).
macro_rules! kafka_enum {
    (
        $(#[$meta:meta])*
        $ty:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $code:literal, $name:literal; )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $ty {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $ty {
            /// Every value, in code order (which is also Kafka's declaration order and this type's `Ord`).
            pub const VALUES: &'static [$ty] = &[$($ty::$variant),+];

            /// The value with this wire code; any other code gives `Unknown` (Kafka's `fromCode`).
            pub fn from_code(code: i8) -> Self {
                match code {
                    $( $code => $ty::$variant, )+
                    _ => $ty::Unknown,
                }
            }

            /// The wire code (Kafka's `code()`).
            pub fn code(self) -> i8 {
                match self {
                    $( $ty::$variant => $code, )+
                }
            }

            /// The Java constant's name, e.g. `TRANSACTIONAL_ID` (Kafka's `name()`/`toString()`).
            pub fn name(self) -> &'static str {
                match self {
                    $( $ty::$variant => $name, )+
                }
            }

            /// Whether this is the `Unknown` value (Kafka's `isUnknown()`).
            pub fn is_unknown(self) -> bool {
                self == $ty::Unknown
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

/// Parses a name the way Kafka's `fromString` of `ResourceType`, `AclOperation` and `AclPermissionType`
/// does: upper-case the input (`toUpperCase(Locale.ROOT)`, i.e. full Unicode upper-casing) and compare it
/// with the constant names; anything else is `unknown`.
fn parse_upper<T: Copy>(values: &[T], name: impl Fn(T) -> &'static str, input: &str, unknown: T) -> T {
    let upper = input.to_uppercase();
    values.iter().copied().find(|v| name(*v) == upper).unwrap_or(unknown)
}

kafka_enum! {
    /// The kind of resource an ACL protects (Kafka's `ResourceType`).
    ResourceType {
        /// A type this broker does not understand, perhaps from a newer client.
        Unknown = 0, "UNKNOWN";
        /// In a filter, matches any resource type.
        Any = 1, "ANY";
        /// A topic.
        Topic = 2, "TOPIC";
        /// A consumer group.
        Group = 3, "GROUP";
        /// The cluster as a whole; its only resource name is [`CLUSTER_NAME`](super::CLUSTER_NAME).
        Cluster = 4, "CLUSTER";
        /// A transactional id.
        TransactionalId = 5, "TRANSACTIONAL_ID";
        /// A delegation token id.
        DelegationToken = 6, "DELEGATION_TOKEN";
        /// A user principal (for delegation tokens created on behalf of other users).
        User = 7, "USER";
    }
}

impl ResourceType {
    /// Parses a name case-insensitively (Kafka's `ResourceType.fromString`): `"topic"` and
    /// `"TRANSACTIONAL_id"` parse, the Pascal-case `"TransactionalId"` does not; unknown names give
    /// [`ResourceType::Unknown`].
    pub fn parse(name: &str) -> Self {
        parse_upper(Self::VALUES, Self::name, name, Self::Unknown)
    }

    /// The operations an ACL on this resource type can meaningfully grant, as Kafka's
    /// `AclEntry.supportedOperations` lists them (in code order here). They make up the "authorized
    /// operations" bit fields ([`authorized_operations`](super::authorized_operations)). `Unknown` and
    /// `Any` are not concrete types and support nothing (Kafka throws for them).
    ///
    /// Kafka does **not** check these when ACLs are created: an ACL for READ on the CLUSTER is accepted
    /// (it simply never matters).
    pub fn supported_operations(self) -> &'static [Operation] {
        use Operation as Op;
        match self {
            ResourceType::Topic => &[
                Op::Read,
                Op::Write,
                Op::Create,
                Op::Delete,
                Op::Alter,
                Op::Describe,
                Op::DescribeConfigs,
                Op::AlterConfigs,
            ],
            ResourceType::Group => &[
                Op::Read,
                Op::Delete,
                Op::Describe,
                Op::DescribeConfigs,
                Op::AlterConfigs,
            ],
            ResourceType::Cluster => &[
                Op::Create,
                Op::Alter,
                Op::Describe,
                Op::ClusterAction,
                Op::DescribeConfigs,
                Op::AlterConfigs,
                Op::IdempotentWrite,
            ],
            ResourceType::TransactionalId => &[Op::Write, Op::Describe],
            ResourceType::DelegationToken => &[Op::Describe],
            ResourceType::User => &[Op::CreateTokens, Op::DescribeTokens],
            ResourceType::Unknown | ResourceType::Any => &[],
        }
    }

    /// The error code a request answers when this resource is not authorized (Kafka's
    /// `AclEntry.authorizationError`): TOPIC_AUTHORIZATION_FAILED (29), GROUP_AUTHORIZATION_FAILED (30),
    /// CLUSTER_AUTHORIZATION_FAILED (31), TRANSACTIONAL_ID_AUTHORIZATION_FAILED (53) or
    /// DELEGATION_TOKEN_AUTHORIZATION_FAILED (65). `None` for the other types, for which Kafka has none.
    pub fn authorization_error_code(self) -> Option<i16> {
        match self {
            ResourceType::Topic => Some(29),
            ResourceType::Group => Some(30),
            ResourceType::Cluster => Some(31),
            ResourceType::TransactionalId => Some(53),
            ResourceType::DelegationToken => Some(65),
            ResourceType::User | ResourceType::Unknown | ResourceType::Any => None,
        }
    }
}

kafka_enum! {
    /// How an ACL's resource name is matched (Kafka's `PatternType`). Only [`PatternType::Literal`] and
    /// [`PatternType::Prefixed`] are concrete; `Any` and `Match` exist only in filters.
    PatternType {
        /// A pattern type this broker does not understand.
        Unknown = 0, "UNKNOWN";
        /// In a filter: any pattern type, names compared exactly.
        Any = 1, "ANY";
        /// In a filter: every pattern that would apply to the named resource (literal, wildcard, prefixes).
        Match = 2, "MATCH";
        /// The name is the full resource name; the literal name `*` matches every resource of the type.
        Literal = 3, "LITERAL";
        /// The name is a prefix of the resource names it matches (`*` is not special here).
        Prefixed = 4, "PREFIXED";
    }
}

impl PatternType {
    /// Parses a name **case-sensitively**, as Kafka's `PatternType.fromString` does (it looks the exact
    /// name up, unlike the other three enums): `"PREFIXED"` parses, `"prefixed"` gives
    /// [`PatternType::Unknown`].
    pub fn parse(name: &str) -> Self {
        Self::VALUES
            .iter()
            .copied()
            .find(|v| v.name() == name)
            .unwrap_or(Self::Unknown)
    }

    /// Whether this is a concrete pattern type rather than `Unknown` or a filter type (Kafka's
    /// `isSpecific()`).
    pub fn is_specific(self) -> bool {
        matches!(self, PatternType::Literal | PatternType::Prefixed)
    }
}

kafka_enum! {
    /// An operation an ACL allows or denies (Kafka's `AclOperation`, as of Kafka 4.1 which added
    /// `TWO_PHASE_COMMIT`). Codes stay below 31 so that a set of them fits the `INT32` "authorized
    /// operations" bit fields.
    Operation {
        /// An operation this broker does not understand.
        Unknown = 0, "UNKNOWN";
        /// In a filter, matches any operation.
        Any = 1, "ANY";
        /// Every operation (an ALLOW ALL allows, and a DENY ALL denies, everything).
        All = 2, "ALL";
        /// READ.
        Read = 3, "READ";
        /// WRITE.
        Write = 4, "WRITE";
        /// CREATE.
        Create = 5, "CREATE";
        /// DELETE.
        Delete = 6, "DELETE";
        /// ALTER.
        Alter = 7, "ALTER";
        /// DESCRIBE (also allowed by an ALLOW for READ, WRITE, DELETE or ALTER).
        Describe = 8, "DESCRIBE";
        /// CLUSTER_ACTION (inter-broker and controller requests).
        ClusterAction = 9, "CLUSTER_ACTION";
        /// DESCRIBE_CONFIGS (also allowed by an ALLOW for ALTER_CONFIGS).
        DescribeConfigs = 10, "DESCRIBE_CONFIGS";
        /// ALTER_CONFIGS.
        AlterConfigs = 11, "ALTER_CONFIGS";
        /// IDEMPOTENT_WRITE (idempotent producers without a transactional id).
        IdempotentWrite = 12, "IDEMPOTENT_WRITE";
        /// CREATE_TOKENS (delegation tokens for other users, KIP-373).
        CreateTokens = 13, "CREATE_TOKENS";
        /// DESCRIBE_TOKENS (KIP-373).
        DescribeTokens = 14, "DESCRIBE_TOKENS";
        /// TWO_PHASE_COMMIT on a transactional id (KIP-939, Kafka 4.1+).
        TwoPhaseCommit = 15, "TWO_PHASE_COMMIT";
    }
}

impl Operation {
    /// Parses a name case-insensitively (Kafka's `AclOperation.fromString`); unknown names give
    /// [`Operation::Unknown`].
    pub fn parse(name: &str) -> Self {
        parse_upper(Self::VALUES, Self::name, name, Self::Unknown)
    }

    /// Whether an **ALLOW** ACL for `self` allows `requested` (`StandardAuthorizerData.findResult`):
    /// ALL allows everything; an operation allows itself; READ, WRITE, DELETE and ALTER also allow
    /// DESCRIBE; ALTER_CONFIGS also allows DESCRIBE_CONFIGS.
    ///
    /// DENY ACLs imply nothing: a DENY for READ does not deny DESCRIBE (only DENY ALL or DENY DESCRIBE do).
    pub fn implies(self, requested: Operation) -> bool {
        use Operation as Op;
        self == Op::All
            || self == requested
            || (requested == Op::Describe && matches!(self, Op::Read | Op::Write | Op::Delete | Op::Alter))
            || (requested == Op::DescribeConfigs && self == Op::AlterConfigs)
    }
}

kafka_enum! {
    /// Whether an ACL allows or denies (Kafka's `AclPermissionType`).
    Permission {
        /// A permission type this broker does not understand.
        Unknown = 0, "UNKNOWN";
        /// In a filter, matches any permission type.
        Any = 1, "ANY";
        /// Denies access; a matching DENY wins over any ALLOW.
        Deny = 2, "DENY";
        /// Grants access.
        Allow = 3, "ALLOW";
    }
}

impl Permission {
    /// Parses a name case-insensitively (Kafka's `AclPermissionType.fromString`); unknown names give
    /// [`Permission::Unknown`].
    pub fn parse(name: &str) -> Self {
        parse_upper(Self::VALUES, Self::name, name, Self::Unknown)
    }
}
