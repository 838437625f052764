//! Kafka's ACL model and the decision rules of its authorizer, as plain data and pure functions.
//!
//! What it mirrors (Kafka 4.x sources):
//!
//! - the enums [`ResourceType`], [`PatternType`], [`Operation`] (`AclOperation`) and [`Permission`]
//!   (`AclPermissionType`), with their wire codes and names, and the operations each resource type supports
//!   (`AclEntry.supportedOperations`);
//! - [`KafkaPrincipal`] and its parsing (`SecurityUtils.parseKafkaPrincipal`);
//! - [`ResourcePattern`], [`AccessControlEntry`], [`AclBinding`] and their filters
//!   [`ResourcePatternFilter`], [`AccessControlEntryFilter`], [`AclBindingFilter`] (`matches`);
//! - the checks on ACLs to create ([`AclBinding::validate`]: `AclApis.handleCreateAcls` and
//!   `AclControlManager.validateNewAcl`) and on filters to delete with ([`AclBindingFilter::validate`]:
//!   `AclControlManager.validateFilter`), each failing with an [`AclError`] that carries Kafka's error code
//!   and message;
//! - [`Authorizer`]: the ACLs in force, `super.users` and `allow.everyone.if.no.acl.found`, with
//!   [`Authorizer::authorize`] (`StandardAuthorizerData.authorize`), [`Authorizer::authorize_by_resource_type`]
//!   (`Authorizer.authorizeByResourceType`), [`Authorizer::describe`] and [`Authorizer::matching`];
//! - the "authorized operations" bit fields ([`authorized_operations`], `AuthHelper.authorizedOperations`).
//!
//! What it leaves to the broker: which operation on which resource each API needs; decoding requests
//! (where Kafka already refuses code 0 in any enum, and non-LITERAL patterns in v0 CreateAcls, DescribeAcls
//! and DeleteAcls, turning a v0 DescribeAcls/DeleteAcls filter of pattern type ANY into LITERAL); storing
//! ACLs in the metadata log; answering SECURITY_DISABLED when no authorizer is configured; and refusing
//! non-super users while the ACLs are still loading (Kafka's `AuthorizerNotReadyException`).
//!
//! ```
//! use security::acl::{
//!     AccessControlEntry, AclBinding, Authorizer, Decision, KafkaPrincipal, Operation, RequestContext,
//!     ResourcePattern, ResourceType,
//! };
//!
//! let authorizer = Authorizer::new(vec!["User:admin".into()], false).with_bindings([
//!     AclBinding::new(
//!         ResourcePattern::prefixed(ResourceType::Topic, "orders-"),
//!         AccessControlEntry::allow("User:alice", Operation::Read),
//!     ),
//!     AclBinding::new(
//!         ResourcePattern::literal(ResourceType::Topic, "orders-secret"),
//!         AccessControlEntry::deny("User:alice", Operation::Read),
//!     ),
//! ]);
//! let alice = RequestContext::new(KafkaPrincipal::user("alice"), "10.0.0.7");
//! let read = |name| authorizer.authorize(&alice, Operation::Read, ResourceType::Topic, name);
//! assert_eq!(read("orders-eu"), Decision::Allowed);
//! assert_eq!(read("orders-secret"), Decision::Denied); // DENY wins
//! assert_eq!(read("payments"), Decision::Denied); // no ACL, and allow.everyone.if.no.acl.found is false
//! // READ implies DESCRIBE for an ALLOW.
//! assert!(authorizer.authorize(&alice, Operation::Describe, ResourceType::Topic, "orders-eu").is_allowed());
//! ```

mod authorizer;
mod binding;
mod error;
mod types;

pub use authorizer::{
    authorized_operations, host_address, parse_super_users, Authorizer, Decision, RequestContext, Rule,
};
pub use binding::{
    group_by_pattern, AccessControlEntry, AccessControlEntryFilter, AclBinding, AclBindingFilter, KafkaPrincipal,
    ResourcePattern, ResourcePatternFilter, CLUSTER_NAME, WILDCARD, WILDCARD_PRINCIPAL,
};
pub use error::AclError;
pub use types::{Operation, PatternType, Permission, ResourceType};

#[cfg(test)]
mod tests;
