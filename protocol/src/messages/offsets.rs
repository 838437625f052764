//! Committed offsets and leader epochs: OffsetCommit (8), OffsetFetch (9), OffsetForLeaderEpoch (23) and
//! OffsetDelete (47).
//!
//! ```text
//! OffsetCommit   v2-4 RetentionTimeMs, v6+ CommittedLeaderEpoch, v7+ GroupInstanceId            flexible 8+
//! OffsetFetch    v1-7 GroupId, Topics? | v8+ Groups[GroupId, MemberId? (v9+), MemberEpoch (v9+), Topics?],
//!                v7+ RequireStable                                                            flexible 6+
//!                response v1-7 Topics[..], ErrorCode (v2+) | v8+ Groups[GroupId, Topics[..], ErrorCode]
//! OffsetDelete   v0 only: GroupId, Topics[Name, Partitions[PartitionIndex]]                     not flexible
//! ```

use crate::schema::wire_struct;

wire_struct! {
    /// OffsetCommit request ([protocol](https://kafka.apache.org/protocol#The_Messages_OffsetCommit)).
    pub struct OffsetCommitRequest {
        /// The group id.
        pub group_id: String [0..=99];
        /// The generation (classic groups) or member epoch (KIP-848), or -1 for a simple (non-group) commit.
        pub generation_id_or_member_epoch: i32 [1..=99] = -1;
        /// The member id, empty for a simple commit.
        pub member_id: String [1..=99];
        /// The static member's instance id (v7+).
        pub group_instance_id: Option<String> [7..=99];
        /// The retention time (v2-4), -1 for the broker default.
        pub retention_time_ms: i64 [2..=4] = -1;
        /// The topics.
        pub topics: Vec<OffsetCommitRequestTopic> [0..=99];
    }
}

wire_struct! {
    /// A topic in an OffsetCommit request.
    pub struct OffsetCommitRequestTopic {
        /// The topic name.
        pub name: String [0..=99];
        /// The partitions.
        pub partitions: Vec<OffsetCommitRequestPartition> [0..=99];
    }
}

wire_struct! {
    /// A partition in an OffsetCommit request.
    pub struct OffsetCommitRequestPartition {
        /// The partition index.
        pub partition_index: i32 [0..=99];
        /// The offset to commit.
        pub committed_offset: i64 [0..=99];
        /// The leader epoch of the last consumed record (v6+), -1 if unknown.
        pub committed_leader_epoch: i32 [6..=99] = -1;
        /// The commit timestamp (v1 only).
        pub commit_timestamp: i64 [1..=1] = -1;
        /// Client metadata.
        pub committed_metadata: Option<String> [0..=99];
    }
}

wire_struct! {
    /// OffsetCommit response ([protocol](https://kafka.apache.org/protocol#The_Messages_OffsetCommit)).
    ///
    /// There is no top-level error code: a group-level error is repeated in every partition.
    pub struct OffsetCommitResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [3..=99];
        /// The topics.
        pub topics: Vec<OffsetCommitResponseTopic> [0..=99];
    }
}

wire_struct! {
    /// A topic in an OffsetCommit response.
    pub struct OffsetCommitResponseTopic {
        /// The topic name.
        pub name: String [0..=99];
        /// The partitions.
        pub partitions: Vec<OffsetCommitResponsePartition> [0..=99];
    }
}

wire_struct! {
    /// A partition in an OffsetCommit response.
    pub struct OffsetCommitResponsePartition {
        /// The partition index.
        pub partition_index: i32 [0..=99];
        /// The error code.
        pub error_code: i16 [0..=99];
    }
}

wire_struct! {
    /// OffsetFetch request ([protocol](https://kafka.apache.org/protocol#The_Messages_OffsetFetch)).
    ///
    /// v1-7 ask for one group (`group_id`, `topics`); v8+ ask for several (`groups`).
    /// Kafka names the v8+ topic struct `OffsetFetchRequestTopics`; it has the same fields, so both layouts
    /// share [`OffsetFetchRequestTopic`].
    pub struct OffsetFetchRequest {
        /// The group id (v0-7).
        pub group_id: String [0..=7];
        /// The topics (v0-7), or null (v2+) for all committed partitions.
        pub topics: Option<Vec<OffsetFetchRequestTopic>> [0..=7] nullable 2;
        /// The groups (v8+).
        pub groups: Vec<OffsetFetchRequestGroup> [8..=99];
        /// Whether to answer `UNSTABLE_OFFSET_COMMIT` for partitions with pending transactional offsets (v7+).
        pub require_stable: bool [7..=99];
    }
}

wire_struct! {
    /// A group in an OffsetFetch request (v8+).
    pub struct OffsetFetchRequestGroup {
        /// The group id.
        pub group_id: String [8..=99];
        /// The member id (v9+, KIP-848 members only), null otherwise.
        pub member_id: Option<String> [9..=99];
        /// The member epoch (v9+, KIP-848 members only), -1 otherwise.
        pub member_epoch: i32 [9..=99] = -1;
        /// The topics, or null for all committed partitions.
        pub topics: Option<Vec<OffsetFetchRequestTopic>> [8..=99];
    }
}

wire_struct! {
    /// A topic in an OffsetFetch request (top-level in v0-7, per group in v8+).
    pub struct OffsetFetchRequestTopic {
        /// The topic name.
        pub name: String [0..=99];
        /// The partition indexes.
        pub partition_indexes: Vec<i32> [0..=99];
    }
}

wire_struct! {
    /// OffsetFetch response ([protocol](https://kafka.apache.org/protocol#The_Messages_OffsetFetch)).
    ///
    /// v1-7 answer for one group (`topics`, `error_code`); v8+ answer per group (`groups`).
    /// Kafka names the v8+ structs `OffsetFetchResponseTopics` / `OffsetFetchResponsePartitions`; they have
    /// the same fields, so both layouts share [`OffsetFetchResponseTopic`] and [`OffsetFetchResponsePartition`].
    pub struct OffsetFetchResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [3..=99];
        /// The topics (v0-7).
        pub topics: Vec<OffsetFetchResponseTopic> [0..=7];
        /// The top-level error code (v2-7); in v0-1 a group error goes into every partition.
        pub error_code: i16 [2..=7];
        /// One result per group (v8+).
        pub groups: Vec<OffsetFetchResponseGroup> [8..=99];
    }
}

wire_struct! {
    /// The offsets of one group in an OffsetFetch response (v8+).
    pub struct OffsetFetchResponseGroup {
        /// The group id.
        pub group_id: String [8..=99];
        /// The topics.
        pub topics: Vec<OffsetFetchResponseTopic> [8..=99];
        /// The group-level error code.
        pub error_code: i16 [8..=99];
    }
}

wire_struct! {
    /// A topic in an OffsetFetch response (top-level in v0-7, per group in v8+).
    pub struct OffsetFetchResponseTopic {
        /// The topic name.
        pub name: String [0..=99];
        /// The partitions.
        pub partitions: Vec<OffsetFetchResponsePartition> [0..=99];
    }
}

wire_struct! {
    /// A partition in an OffsetFetch response.
    pub struct OffsetFetchResponsePartition {
        /// The partition index.
        pub partition_index: i32 [0..=99];
        /// The committed offset, -1 if none.
        pub committed_offset: i64 [0..=99];
        /// The leader epoch of the committed offset (v5+), -1 if none.
        pub committed_leader_epoch: i32 [5..=99] = -1;
        /// Client metadata.
        pub metadata: Option<String> [0..=99];
        /// The error code.
        pub error_code: i16 [0..=99];
    }
}

wire_struct! {
    /// OffsetDelete request ([protocol](https://kafka.apache.org/protocol#The_Messages_OffsetDelete)); v0 only,
    /// never flexible.
    pub struct OffsetDeleteRequest {
        /// The group id.
        pub group_id: String [0..=99];
        /// The topics whose committed offsets to delete.
        pub topics: Vec<OffsetDeleteRequestTopic> [0..=99];
    }
}

wire_struct! {
    /// A topic in an OffsetDelete request.
    pub struct OffsetDeleteRequestTopic {
        /// The topic name.
        pub name: String [0..=99];
        /// The partitions.
        pub partitions: Vec<OffsetDeleteRequestPartition> [0..=99];
    }
}

wire_struct! {
    /// A partition in an OffsetDelete request.
    pub struct OffsetDeleteRequestPartition {
        /// The partition index.
        pub partition_index: i32 [0..=99];
    }
}

wire_struct! {
    /// OffsetDelete response ([protocol](https://kafka.apache.org/protocol#The_Messages_OffsetDelete)).
    pub struct OffsetDeleteResponse {
        /// The top-level error code.
        pub error_code: i16 [0..=99];
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [0..=99];
        /// The topics.
        pub topics: Vec<OffsetDeleteResponseTopic> [0..=99];
    }
}

wire_struct! {
    /// A topic in an OffsetDelete response.
    pub struct OffsetDeleteResponseTopic {
        /// The topic name.
        pub name: String [0..=99];
        /// The partitions.
        pub partitions: Vec<OffsetDeleteResponsePartition> [0..=99];
    }
}

wire_struct! {
    /// A partition in an OffsetDelete response.
    pub struct OffsetDeleteResponsePartition {
        /// The partition index.
        pub partition_index: i32 [0..=99];
        /// The error code, e.g. `GROUP_SUBSCRIBED_TO_TOPIC`.
        pub error_code: i16 [0..=99];
    }
}

wire_struct! {
    /// OffsetForLeaderEpoch request ([protocol](https://kafka.apache.org/protocol#The_Messages_OffsetForLeaderEpoch)).
    pub struct OffsetForLeaderEpochRequest {
        /// The follower's broker id (v3+), -1 for consumers, -2 for debugging.
        pub replica_id: i32 [3..=99] = -2;
        /// The topics.
        pub topics: Vec<OffsetForLeaderTopic> [0..=99];
    }
}

wire_struct! {
    /// A topic in an OffsetForLeaderEpoch request.
    pub struct OffsetForLeaderTopic {
        /// The topic name.
        pub topic: String [0..=99];
        /// The partitions.
        pub partitions: Vec<OffsetForLeaderPartition> [0..=99];
    }
}

wire_struct! {
    /// A partition in an OffsetForLeaderEpoch request.
    pub struct OffsetForLeaderPartition {
        /// The partition index.
        pub partition: i32 [0..=99];
        /// The leader epoch the requester knows, -1 for no check.
        pub current_leader_epoch: i32 [2..=99] = -1;
        /// The epoch to look up the end offset of.
        pub leader_epoch: i32 [0..=99];
    }
}

wire_struct! {
    /// OffsetForLeaderEpoch response ([protocol](https://kafka.apache.org/protocol#The_Messages_OffsetForLeaderEpoch)).
    pub struct OffsetForLeaderEpochResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [2..=99];
        /// The topics.
        pub topics: Vec<OffsetForLeaderTopicResult> [0..=99];
    }
}

wire_struct! {
    /// A topic in an OffsetForLeaderEpoch response.
    pub struct OffsetForLeaderTopicResult {
        /// The topic name.
        pub topic: String [0..=99];
        /// The partitions.
        pub partitions: Vec<EpochEndOffset> [0..=99];
    }
}

wire_struct! {
    /// The end offset of an epoch for one partition.
    pub struct EpochEndOffset {
        /// The error code.
        pub error_code: i16 [0..=99];
        /// The partition index.
        pub partition: i32 [0..=99];
        /// The leader epoch found.
        pub leader_epoch: i32 [1..=99] = -1;
        /// Its end offset.
        pub end_offset: i64 [0..=99] = -1;
    }
}
