//! ACL administration: DescribeAcls (key 29), CreateAcls (key 30) and DeleteAcls (key 31), from
//! [KIP-140]; pattern types from [KIP-290].
//!
//! ```text
//! DescribeAcls  v1-3 (v0 was removed in Kafka 4.0), flexible 2+
//! CreateAcls    v1-3 (v0 was removed in Kafka 4.0), flexible 2+
//! DeleteAcls    v1-3 (v0 was removed in Kafka 4.0), flexible 2+
//! ```
//!
//! v1 added the pattern type (it is in every implemented version), v2 is the first flexible version, and
//! v3 only allows the USER resource type (7), which changes no field.
//! The enums are INT8s: resource type (1 ANY, 2 TOPIC, 3 GROUP, 4 CLUSTER, 5 TRANSACTIONAL_ID,
//! 6 DELEGATION_TOKEN, 7 USER), pattern type (1 ANY, 2 MATCH, 3 LITERAL, 4 PREFIXED), operation
//! (1 ANY, 2 ALL, 3 READ, 4 WRITE, 5 CREATE, 6 DELETE, 7 ALTER, 8 DESCRIBE, 9 CLUSTER_ACTION,
//! 10 DESCRIBE_CONFIGS, 11 ALTER_CONFIGS, 12 IDEMPOTENT_WRITE, …) and permission type (1 ANY, 2 DENY,
//! 3 ALLOW); 0 is UNKNOWN in each.
//!
//! [KIP-140]: https://cwiki.apache.org/confluence/display/KAFKA/KIP-140%3A+Add+administrative+RPCs+for+adding%2C+deleting%2C+and+listing+ACLs
//! [KIP-290]: https://cwiki.apache.org/confluence/display/KAFKA/KIP-290%3A+Support+for+Prefixed+ACLs

use crate::schema::wire_struct;

wire_struct! {
    /// DescribeAcls request ([protocol](https://kafka.apache.org/protocol#The_Messages_DescribeAcls)).
    pub struct DescribeAclsRequest {
        /// The resource type.
        pub resource_type_filter: i8 [0..=99];
        /// The resource name, or null for any.
        pub resource_name_filter: Option<String> [0..=99];
        /// The resource pattern type to match (v1+).
        pub pattern_type_filter: i8 [1..=99] = 3;
        /// The principal, or null for any.
        pub principal_filter: Option<String> [0..=99];
        /// The host, or null for any.
        pub host_filter: Option<String> [0..=99];
        /// The operation.
        pub operation: i8 [0..=99];
        /// The permission type.
        pub permission_type: i8 [0..=99];
    }
}

wire_struct! {
    /// DescribeAcls response ([protocol](https://kafka.apache.org/protocol#The_Messages_DescribeAcls)).
    pub struct DescribeAclsResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [0..=99];
        /// The error code, or 0.
        pub error_code: i16 [0..=99];
        /// The error message, or null.
        pub error_message: Option<String> [0..=99];
        /// Each resource that has matching ACLs.
        pub resources: Vec<DescribeAclsResource> [0..=99];
    }
}

wire_struct! {
    /// A resource in a DescribeAcls response.
    pub struct DescribeAclsResource {
        /// The resource type.
        pub resource_type: i8 [0..=99];
        /// The resource name.
        pub resource_name: String [0..=99];
        /// The resource pattern type (v1+).
        pub pattern_type: i8 [1..=99] = 3;
        /// The ACLs.
        pub acls: Vec<AclDescription> [0..=99];
    }
}

wire_struct! {
    /// An ACL of a resource in a DescribeAcls response.
    pub struct AclDescription {
        /// The principal.
        pub principal: String [0..=99];
        /// The host.
        pub host: String [0..=99];
        /// The operation.
        pub operation: i8 [0..=99];
        /// The permission type.
        pub permission_type: i8 [0..=99];
    }
}

wire_struct! {
    /// CreateAcls request ([protocol](https://kafka.apache.org/protocol#The_Messages_CreateAcls)).
    pub struct CreateAclsRequest {
        /// The ACLs to create.
        pub creations: Vec<AclCreation> [0..=99];
    }
}

wire_struct! {
    /// An ACL to create.
    pub struct AclCreation {
        /// The resource type.
        pub resource_type: i8 [0..=99];
        /// The resource name.
        pub resource_name: String [0..=99];
        /// The resource pattern type (v1+).
        pub resource_pattern_type: i8 [1..=99] = 3;
        /// The principal.
        pub principal: String [0..=99];
        /// The host.
        pub host: String [0..=99];
        /// The operation.
        pub operation: i8 [0..=99];
        /// The permission type.
        pub permission_type: i8 [0..=99];
    }
}

wire_struct! {
    /// CreateAcls response ([protocol](https://kafka.apache.org/protocol#The_Messages_CreateAcls)).
    pub struct CreateAclsResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [0..=99];
        /// One result per creation, in the request's order.
        pub results: Vec<AclCreationResult> [0..=99];
    }
}

wire_struct! {
    /// The result of one ACL creation.
    pub struct AclCreationResult {
        /// The error code, or 0.
        pub error_code: i16 [0..=99];
        /// The error message, or null.
        pub error_message: Option<String> [0..=99];
    }
}

wire_struct! {
    /// DeleteAcls request ([protocol](https://kafka.apache.org/protocol#The_Messages_DeleteAcls)).
    pub struct DeleteAclsRequest {
        /// The filters: every ACL a filter matches is deleted.
        pub filters: Vec<DeleteAclsFilter> [0..=99];
    }
}

wire_struct! {
    /// A filter in a DeleteAcls request.
    pub struct DeleteAclsFilter {
        /// The resource type.
        pub resource_type_filter: i8 [0..=99];
        /// The resource name, or null for any.
        pub resource_name_filter: Option<String> [0..=99];
        /// The resource pattern type to match (v1+).
        pub pattern_type_filter: i8 [1..=99] = 3;
        /// The principal, or null for any.
        pub principal_filter: Option<String> [0..=99];
        /// The host, or null for any.
        pub host_filter: Option<String> [0..=99];
        /// The operation.
        pub operation: i8 [0..=99];
        /// The permission type.
        pub permission_type: i8 [0..=99];
    }
}

wire_struct! {
    /// DeleteAcls response ([protocol](https://kafka.apache.org/protocol#The_Messages_DeleteAcls)).
    pub struct DeleteAclsResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [0..=99];
        /// One result per filter, in the request's order.
        pub filter_results: Vec<DeleteAclsFilterResult> [0..=99];
    }
}

wire_struct! {
    /// The result of one DeleteAcls filter.
    pub struct DeleteAclsFilterResult {
        /// The error code, or 0 if the filter succeeded.
        pub error_code: i16 [0..=99];
        /// The error message, or null.
        pub error_message: Option<String> [0..=99];
        /// The ACLs the filter matched.
        pub matching_acls: Vec<DeleteAclsMatchingAcl> [0..=99];
    }
}

wire_struct! {
    /// An ACL a DeleteAcls filter matched.
    pub struct DeleteAclsMatchingAcl {
        /// The deletion's error code, or 0 if it was deleted.
        pub error_code: i16 [0..=99];
        /// The deletion's error message, or null.
        pub error_message: Option<String> [0..=99];
        /// The resource type.
        pub resource_type: i8 [0..=99];
        /// The resource name.
        pub resource_name: String [0..=99];
        /// The resource pattern type (v1+).
        pub pattern_type: i8 [1..=99] = 3;
        /// The principal.
        pub principal: String [0..=99];
        /// The host.
        pub host: String [0..=99];
        /// The operation.
        pub operation: i8 [0..=99];
        /// The permission type.
        pub permission_type: i8 [0..=99];
    }
}
