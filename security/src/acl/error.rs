//! [`AclError`]: why an ACL, a filter or a principal is refused, with the Kafka error code and message a
//! broker sends back for it.

use super::types::{Operation, PatternType, Permission, ResourceType};

/// Kafka's INVALID_REQUEST error code.
const INVALID_REQUEST: i16 = 42;

/// Why an ACL binding to create, a filter of ACLs to delete, or a principal string is refused.
///
/// The `Display` text of each variant is **Kafka's own message**, which the broker sends as the
/// `ErrorMessage` of a CreateAcls result or DeleteAcls filter result, together with [`AclError::error_code`].
/// (That is why these messages keep Kafka's capitals and full stops.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AclError {
    /// A CLUSTER ACL whose resource name is not `kafka-cluster` (`AclApis.handleCreateAcls`).
    #[error("The only valid name for the CLUSTER resource is kafka-cluster")]
    InvalidClusterName,
    /// An ACL with an empty resource name (`AclApis.handleCreateAcls`).
    #[error("Invalid empty resource name")]
    EmptyResourceName,
    /// An ACL whose resource type is `UNKNOWN` or `ANY` (`AclControlManager.validateNewAcl`).
    #[error("Invalid resourceType {0}")]
    InvalidResourceType(ResourceType),
    /// An ACL whose pattern type is not LITERAL or PREFIXED (`AclControlManager.validateNewAcl`).
    #[error("Invalid patternType {0}")]
    InvalidPatternType(PatternType),
    /// An ACL whose operation is `UNKNOWN` or `ANY` (`AclControlManager.validateNewAcl`).
    #[error("Invalid operation {0}")]
    InvalidOperation(Operation),
    /// An ACL whose permission is not ALLOW or DENY (`AclControlManager.validateNewAcl`).
    #[error("Invalid permissionType {0}")]
    InvalidPermission(Permission),
    /// An ACL whose principal has no `:` between type and name (`AclControlManager.validateNewAcl`).
    #[error(
        "Could not parse principal from `{0}` (no colon is present separating the principal type from the \
         principal name)"
    )]
    PrincipalWithoutColon(String),
    /// A delete filter whose resource type or pattern type is `UNKNOWN` (`AclControlManager.validateFilter`).
    #[error("Unknown patternFilter.")]
    UnknownPatternFilter,
    /// A delete filter whose operation or permission is `UNKNOWN` (`AclControlManager.validateFilter`).
    #[error("Unknown entryFilter.")]
    UnknownEntryFilter,
    /// A string that is not `Type:name`, e.g. in `super.users` (`SecurityUtils.parseKafkaPrincipal`).
    #[error("expected a string in format principalType:principalName but got {0}")]
    MalformedPrincipal(String),
}

impl AclError {
    /// The Kafka error code to answer with: INVALID_REQUEST (42) for every variant, as Kafka's
    /// `InvalidRequestException` gives for all of the ACL checks. ([`AclError::MalformedPrincipal`] is a
    /// configuration error in Kafka, where it never reaches a response; 42 is the natural code if it does.)
    pub fn error_code(&self) -> i16 {
        INVALID_REQUEST
    }

    /// The message to answer with (the `Display` text, Kafka's wording).
    pub fn message(&self) -> String {
        self.to_string()
    }
}
