//! Topic administration: CreateTopics (key 19), DeleteTopics (key 20), DescribeConfigs (key 32) and
//! CreatePartitions (key 37).
//!
//! ```text
//! CreateTopics      v1+ ValidateOnly, v2+ ThrottleTimeMs, v5+ flexible with NumPartitions,
//!                   ReplicationFactor, Configs and tagged TopicConfigErrorCode in the result, v7+ TopicId
//! DeleteTopics      v4+ flexible, v5+ ErrorMessage, v6+ Topics[Name?, TopicId] instead of TopicNames and a
//!                   nullable result Name with TopicId
//! DescribeConfigs   v1+ IncludeSynonyms, ConfigSource, Synonyms, v3+ IncludeDocumentation, ConfigType,
//!                   Documentation, v4+ flexible
//! CreatePartitions  v2+ flexible
//! ```

use crate::schema::wire_struct;
use crate::wire::Uuid;

wire_struct! {
    /// CreateTopics request ([protocol](https://kafka.apache.org/protocol#The_Messages_CreateTopics)).
    pub struct CreateTopicsRequest {
        /// The topics to create.
        pub topics: Vec<CreatableTopic> [0..=99];
        /// How long to wait for the creation.
        pub timeout_ms: i32 [0..=99] = 60000;
        /// If true, only validate the request.
        pub validate_only: bool [1..=99];
    }
}

wire_struct! {
    /// A topic to create.
    pub struct CreatableTopic {
        /// The topic name.
        pub name: String [0..=99];
        /// The number of partitions, or -1 for the broker default or a manual assignment.
        pub num_partitions: i32 [0..=99];
        /// The replication factor, or -1 for the broker default or a manual assignment.
        pub replication_factor: i16 [0..=99];
        /// A manual assignment of partitions to brokers.
        pub assignments: Vec<CreatableReplicaAssignment> [0..=99];
        /// Topic configurations.
        pub configs: Vec<CreatableTopicConfig> [0..=99];
    }
}

wire_struct! {
    /// A manual partition assignment.
    pub struct CreatableReplicaAssignment {
        /// The partition index.
        pub partition_index: i32 [0..=99];
        /// The brokers to place it on.
        pub broker_ids: Vec<i32> [0..=99];
    }
}

wire_struct! {
    /// A topic configuration.
    pub struct CreatableTopicConfig {
        /// The configuration name.
        pub name: String [0..=99];
        /// The value.
        pub value: Option<String> [0..=99];
    }
}

wire_struct! {
    /// CreateTopics response ([protocol](https://kafka.apache.org/protocol#The_Messages_CreateTopics)).
    pub struct CreateTopicsResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [2..=99];
        /// One result per topic.
        pub topics: Vec<CreatableTopicResult> [0..=99];
    }
}

wire_struct! {
    /// The result of creating one topic.
    pub struct CreatableTopicResult {
        /// The topic name.
        pub name: String [0..=99];
        /// The topic id (v7+).
        pub topic_id: Uuid [7..=99];
        /// The error code.
        pub error_code: i16 [0..=99];
        /// The error message.
        pub error_message: Option<String> [1..=99];
        /// Why the configs could not be returned (v5+), e.g. an authorization error.
        pub topic_config_error_code: i16 [5..=99], tag 0;
        /// The number of partitions (v5+), -1 if unknown.
        pub num_partitions: i32 [5..=99] = -1;
        /// The replication factor (v5+), -1 if unknown.
        pub replication_factor: i16 [5..=99] = -1;
        /// The topic's configuration (v5+), null if it could not be returned.
        pub configs: Option<Vec<CreatableTopicConfigs>> [5..=99] = Some(Vec::new());
    }
}

wire_struct! {
    /// A configuration of a created topic (CreateTopics v5+).
    pub struct CreatableTopicConfigs {
        /// The name.
        pub name: String [0..=99];
        /// The value.
        pub value: Option<String> [0..=99];
        /// True if it cannot be changed.
        pub read_only: bool [0..=99];
        /// Where the value comes from (as in DescribeConfigs), -1 if unknown.
        pub config_source: i8 [0..=99] = -1;
        /// True if the value is sensitive.
        pub is_sensitive: bool [0..=99];
    }
}

wire_struct! {
    /// DeleteTopics request ([protocol](https://kafka.apache.org/protocol#The_Messages_DeleteTopics)).
    pub struct DeleteTopicsRequest {
        /// The topics by name or id (v6+).
        pub topics: Vec<DeleteTopicState> [6..=99];
        /// The topic names (v0-5).
        pub topic_names: Vec<String> [0..=5];
        /// How long to wait for the deletion.
        pub timeout_ms: i32 [0..=99];
    }
}

wire_struct! {
    /// A topic to delete (DeleteTopics v6+): by name, or by id with a null name.
    pub struct DeleteTopicState {
        /// The topic name, or null when deleting by id.
        pub name: Option<String> [0..=99];
        /// The topic id, zero when deleting by name.
        pub topic_id: Uuid [0..=99];
    }
}

wire_struct! {
    /// DeleteTopics response ([protocol](https://kafka.apache.org/protocol#The_Messages_DeleteTopics)).
    pub struct DeleteTopicsResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [1..=99];
        /// One result per topic.
        pub responses: Vec<DeletableTopicResult> [0..=99];
    }
}

wire_struct! {
    /// The result of deleting one topic.
    pub struct DeletableTopicResult {
        /// The topic name; null (v6+) for a topic given by an unknown id.
        pub name: Option<String> [0..=99] nullable 6 = Some(String::new());
        /// The topic id (v6+).
        pub topic_id: Uuid [6..=99];
        /// The error code.
        pub error_code: i16 [0..=99];
        /// The error message (v5+).
        pub error_message: Option<String> [5..=99];
    }
}

wire_struct! {
    /// DescribeConfigs request ([protocol](https://kafka.apache.org/protocol#The_Messages_DescribeConfigs)).
    pub struct DescribeConfigsRequest {
        /// The resources to describe.
        pub resources: Vec<DescribeConfigsResource> [0..=99];
        /// Whether to include synonyms.
        pub include_synonyms: bool [1..=99];
        /// Whether to include each configuration's documentation (v3+).
        pub include_documentation: bool [3..=99];
    }
}

wire_struct! {
    /// A resource to describe.
    pub struct DescribeConfigsResource {
        /// The resource type: 2 = topic, 4 = broker.
        pub resource_type: i8 [0..=99];
        /// The resource name.
        pub resource_name: String [0..=99];
        /// The keys to describe, or null for all.
        pub configuration_keys: Option<Vec<String>> [0..=99];
    }
}

wire_struct! {
    /// DescribeConfigs response ([protocol](https://kafka.apache.org/protocol#The_Messages_DescribeConfigs)).
    pub struct DescribeConfigsResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [0..=99];
        /// One result per resource.
        pub results: Vec<DescribeConfigsResult> [0..=99];
    }
}

wire_struct! {
    /// The configuration of one resource.
    pub struct DescribeConfigsResult {
        /// The error code.
        pub error_code: i16 [0..=99];
        /// The error message.
        pub error_message: Option<String> [0..=99];
        /// The resource type.
        pub resource_type: i8 [0..=99];
        /// The resource name.
        pub resource_name: String [0..=99];
        /// The configurations.
        pub configs: Vec<DescribeConfigsResourceResult> [0..=99];
    }
}

wire_struct! {
    /// One configuration entry.
    pub struct DescribeConfigsResourceResult {
        /// The name.
        pub name: String [0..=99];
        /// The value.
        pub value: Option<String> [0..=99];
        /// True if it cannot be changed.
        pub read_only: bool [0..=99];
        /// True if it is the default (v0 only; later versions use `config_source`).
        pub is_default: bool [0..=0];
        /// Where the value comes from: 5 = default, 4 = static broker, 1 = topic, -1 = unknown.
        pub config_source: i8 [1..=99] = -1;
        /// True if the value is sensitive.
        pub is_sensitive: bool [0..=99];
        /// Synonyms, in precedence order.
        pub synonyms: Vec<DescribeConfigsSynonym> [1..=99];
        /// The value's type (v3+): 0 unknown, 1 boolean, 2 string, 3 int, 4 short, 5 long, 6 double, 7 list,
        /// 8 class, 9 password.
        pub config_type: i8 [3..=99];
        /// The documentation (v3+).
        pub documentation: Option<String> [3..=99];
    }
}

wire_struct! {
    /// A configuration synonym.
    pub struct DescribeConfigsSynonym {
        /// The name.
        pub name: String [1..=99];
        /// The value.
        pub value: Option<String> [1..=99];
        /// The source.
        pub source: i8 [1..=99];
    }
}

wire_struct! {
    /// CreatePartitions request ([protocol](https://kafka.apache.org/protocol#The_Messages_CreatePartitions)).
    pub struct CreatePartitionsRequest {
        /// The topics to grow.
        pub topics: Vec<CreatePartitionsTopic> [0..=99];
        /// How long to wait for the partitions.
        pub timeout_ms: i32 [0..=99];
        /// If true, only validate the request.
        pub validate_only: bool [0..=99];
    }
}

wire_struct! {
    /// A topic to grow.
    pub struct CreatePartitionsTopic {
        /// The topic name.
        pub name: String [0..=99];
        /// The new total number of partitions.
        pub count: i32 [0..=99];
        /// The replicas of each new partition, or null for the broker's placement.
        pub assignments: Option<Vec<CreatePartitionsAssignment>> [0..=99] = Some(Vec::new());
    }
}

wire_struct! {
    /// The replicas of one new partition.
    pub struct CreatePartitionsAssignment {
        /// The brokers to place it on.
        pub broker_ids: Vec<i32> [0..=99];
    }
}

wire_struct! {
    /// CreatePartitions response ([protocol](https://kafka.apache.org/protocol#The_Messages_CreatePartitions)).
    pub struct CreatePartitionsResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [0..=99];
        /// One result per topic.
        pub results: Vec<CreatePartitionsTopicResult> [0..=99];
    }
}

wire_struct! {
    /// The result of growing one topic.
    pub struct CreatePartitionsTopicResult {
        /// The topic name.
        pub name: String [0..=99];
        /// The error code.
        pub error_code: i16 [0..=99];
        /// The error message.
        pub error_message: Option<String> [0..=99];
    }
}
