//! Changing configurations: AlterConfigs (key 33), which replaces a resource's whole set of dynamic
//! configurations, and IncrementalAlterConfigs (key 44, [KIP-339]), which sets, deletes, appends to or
//! subtracts from single entries.
//!
//! ```text
//! AlterConfigs             v0-2, flexible 2+
//! IncrementalAlterConfigs  v0-1, flexible 1+
//! ```
//! Both responses have the same shape and share [`AlterConfigsResourceResponse`].
//!
//! [KIP-339]: https://cwiki.apache.org/confluence/display/KAFKA/KIP-339%3A+Create+a+new+IncrementalAlterConfigs+API

use crate::schema::wire_struct;

wire_struct! {
    /// AlterConfigs request ([protocol](https://kafka.apache.org/protocol#The_Messages_AlterConfigs)).
    pub struct AlterConfigsRequest {
        /// The resources to change.
        pub resources: Vec<AlterConfigsResource> [0..=99];
        /// If true, only validate the request.
        pub validate_only: bool [0..=99];
    }
}

wire_struct! {
    /// A resource whose configuration an AlterConfigs request replaces.
    pub struct AlterConfigsResource {
        /// The resource type: 2 = topic, 4 = broker.
        pub resource_type: i8 [0..=99];
        /// The resource name.
        pub resource_name: String [0..=99];
        /// The new configuration.
        pub configs: Vec<AlterableConfig> [0..=99];
    }
}

wire_struct! {
    /// One configuration entry in an AlterConfigs request.
    pub struct AlterableConfig {
        /// The name.
        pub name: String [0..=99];
        /// The value.
        pub value: Option<String> [0..=99];
    }
}

wire_struct! {
    /// AlterConfigs response ([protocol](https://kafka.apache.org/protocol#The_Messages_AlterConfigs)).
    pub struct AlterConfigsResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [0..=99];
        /// One result per resource.
        pub responses: Vec<AlterConfigsResourceResponse> [0..=99];
    }
}

wire_struct! {
    /// The result of changing one resource's configuration (AlterConfigs and IncrementalAlterConfigs).
    pub struct AlterConfigsResourceResponse {
        /// The error code.
        pub error_code: i16 [0..=99];
        /// The error message.
        pub error_message: Option<String> [0..=99];
        /// The resource type.
        pub resource_type: i8 [0..=99];
        /// The resource name.
        pub resource_name: String [0..=99];
    }
}

wire_struct! {
    /// IncrementalAlterConfigs request
    /// ([protocol](https://kafka.apache.org/protocol#The_Messages_IncrementalAlterConfigs)).
    pub struct IncrementalAlterConfigsRequest {
        /// The resources to change.
        pub resources: Vec<IncrementalAlterConfigsResource> [0..=99];
        /// If true, only validate the request.
        pub validate_only: bool [0..=99];
    }
}

wire_struct! {
    /// A resource in an IncrementalAlterConfigs request (Kafka's `AlterConfigsResource` of that message).
    pub struct IncrementalAlterConfigsResource {
        /// The resource type: 2 = topic, 4 = broker.
        pub resource_type: i8 [0..=99];
        /// The resource name.
        pub resource_name: String [0..=99];
        /// The changes.
        pub configs: Vec<IncrementalAlterableConfig> [0..=99];
    }
}

wire_struct! {
    /// One change in an IncrementalAlterConfigs request (Kafka's `AlterableConfig` of that message).
    pub struct IncrementalAlterableConfig {
        /// The configuration name.
        pub name: String [0..=99];
        /// 0 = set, 1 = delete, 2 = append, 3 = subtract.
        pub config_operation: i8 [0..=99];
        /// The value (null to delete).
        pub value: Option<String> [0..=99];
    }
}

wire_struct! {
    /// IncrementalAlterConfigs response
    /// ([protocol](https://kafka.apache.org/protocol#The_Messages_IncrementalAlterConfigs)).
    pub struct IncrementalAlterConfigsResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [0..=99];
        /// One result per resource.
        pub responses: Vec<AlterConfigsResourceResponse> [0..=99];
    }
}
