//! The records of `__consumer_offsets`: committed offsets, classic group metadata and KIP-848 consumer
//! groups, as Kafka's group coordinator writes them (`group-coordinator/src/main/resources/common/message/*.json`).
//!
//! They are ordinary RecordBatch v2 records (see [`crate::record`]) whose key and value are encoded like
//! protocol messages, each behind an INT16 prefix:
//!
//! ```text
//! key:    INT16 record type | key struct (never flexible: INT16-length strings)
//!           0 or 1  OffsetCommitKey                           group, topic, partition INT32  (Kafka writes 1)
//!           2       GroupMetadataKey                          group
//!           3       ConsumerGroupMetadataKey                  group_id
//!           4       ConsumerGroupPartitionMetadataKey         group_id
//!           5       ConsumerGroupMemberMetadataKey            group_id, member_id
//!           6       ConsumerGroupTargetAssignmentMetadataKey  group_id
//!           7       ConsumerGroupTargetAssignmentMemberKey    group_id, member_id
//!           8       ConsumerGroupCurrentMemberAssignmentKey   group_id, member_id
//!           16      ConsumerGroupRegularExpressionKey         group_id, regular_expression
//!           9-15, 17..  share-group and streams-group records  -> Error::UnknownRecordType
//! value:  INT16 version | value struct, or null (a tombstone: compaction then drops every record with the
//!         same key bytes)
//!           OffsetCommitValue   v0-4 (flexible 4): offset, leader_epoch (v3+), metadata, commit_timestamp,
//!                                     expire_timestamp (v1 only)
//!           GroupMetadataValue  v0-4 (flexible 4): protocol_type, generation, protocol?, leader?,
//!                                     current_state_timestamp (v2+), members[MemberMetadata]
//!           KIP-848 values      v0 only, flexible (compact encodings and a tag buffer):
//!             3   ConsumerGroupMetadataValue                 epoch INT32, metadata_hash INT64 (tag 0, 4.1+)
//!             4   ConsumerGroupPartitionMetadataValue        topics[topic_id, topic_name, num_partitions,
//!                                                              partition_metadata[partition, racks[]]]
//!             5   ConsumerGroupMemberMetadataValue           instance_id?, rack_id?, client_id, client_host,
//!                                                              subscribed_topic_names[], subscribed_topic_regex?,
//!                                                              rebalance_timeout_ms, server_assignor?,
//!                                                              classic_member_metadata? (tag 0)
//!             6   ConsumerGroupTargetAssignmentMetadataValue assignment_epoch INT32
//!             7   ConsumerGroupTargetAssignmentMemberValue   topic_partitions[topic_id, partitions[]]
//!             8   ConsumerGroupCurrentMemberAssignmentValue  member_epoch, previous_member_epoch, state INT8,
//!                                                              assigned_partitions[..],
//!                                                              partitions_pending_revocation[..]
//!             16  ConsumerGroupRegularExpressionValue        topics[], version INT64, timestamp INT64
//! ```
//!
//! Kafka writes OffsetCommitValue v3, or v1 when the commit carries an expire timestamp (an OffsetCommit
//! v2-4 request with a retention time), and GroupMetadataValue v3; readers accept v0-4.
//! [`GroupRecordValue::offset_commit`] and [`GroupRecordValue::group_metadata`] make the same choice.
//! KIP-848 values have one version, 0; Kafka only adds tagged fields to them, which this crate keeps as
//! unknown tagged fields when it does not know them (so they round-trip).
//! Kafka 4.1 replaced the partition metadata (type 4) by the metadata hash of type 3 (KIP-1101), and may
//! still write type-4 tombstones; this crate reads and writes both.
//!
//! Example: the offset 42 of group `g`, topic `t`, partition 0, committed at 1700000000000 ms.
//!
//! ```
//! use protocol::group_records::{GroupRecord, GroupRecordKey, GroupRecordValue, OffsetCommitValue};
//!
//! let value = OffsetCommitValue { offset: 42, commit_timestamp: 1_700_000_000_000, ..Default::default() };
//! let record = GroupRecord::offset_commit("g", "t", 0, value);
//! let key = record.key_bytes().unwrap();
//! assert_eq!(&key[..], &[0, 1, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 0]);
//! let bytes = record.value_bytes().unwrap().unwrap();
//! assert_eq!(&bytes[..2], &[0, 3]); // version 3
//!
//! let read = GroupRecord::decode(Some(&key), Some(&bytes)).unwrap();
//! assert_eq!(read, record);
//! assert!(matches!(read.value, Some(GroupRecordValue::OffsetCommit { version: 3, .. })));
//! ```
//!
//! And a KIP-848 group's epoch, then the tombstone that deletes it:
//!
//! ```
//! use protocol::group_records::{ConsumerGroupMetadataValue, GroupRecord};
//!
//! let value = ConsumerGroupMetadataValue { epoch: 5, ..Default::default() };
//! let record = GroupRecord::consumer_group_metadata("g", value);
//! assert_eq!(&record.key_bytes().unwrap()[..], &[0, 3, 0, 1, b'g']);
//! // Version 0, epoch 5, an empty tag buffer (the metadata hash 0 is the default, so it is not written).
//! assert_eq!(&record.value_bytes().unwrap().unwrap()[..], &[0, 0, 0, 0, 0, 5, 0]);
//! let tombstone = GroupRecord::consumer_group_metadata_tombstone("g");
//! assert_eq!(tombstone.value_bytes().unwrap(), None);
//! ```

use bytes::{Bytes, BytesMut};

use crate::error::{Error, Result};
use crate::schema::wire_struct;
use crate::wire::{Cx, Field, Reader, Uuid, Writer};

/// The record type Kafka writes for OffsetCommit keys.
pub const OFFSET_COMMIT_KEY_TYPE: i16 = 1;
/// The legacy record type of OffsetCommit keys: read like type 1, never written.
pub const LEGACY_OFFSET_COMMIT_KEY_TYPE: i16 = 0;
/// The record type of GroupMetadata keys.
pub const GROUP_METADATA_KEY_TYPE: i16 = 2;
/// The record type of ConsumerGroupMetadata keys (KIP-848).
pub const CONSUMER_GROUP_METADATA_KEY_TYPE: i16 = 3;
/// The record type of ConsumerGroupPartitionMetadata keys (KIP-848).
pub const CONSUMER_GROUP_PARTITION_METADATA_KEY_TYPE: i16 = 4;
/// The record type of ConsumerGroupMemberMetadata keys (KIP-848).
pub const CONSUMER_GROUP_MEMBER_METADATA_KEY_TYPE: i16 = 5;
/// The record type of ConsumerGroupTargetAssignmentMetadata keys (KIP-848).
pub const CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA_KEY_TYPE: i16 = 6;
/// The record type of ConsumerGroupTargetAssignmentMember keys (KIP-848).
pub const CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER_KEY_TYPE: i16 = 7;
/// The record type of ConsumerGroupCurrentMemberAssignment keys (KIP-848).
pub const CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT_KEY_TYPE: i16 = 8;
/// The record type of ConsumerGroupRegularExpression keys (KIP-848 regular expressions, Kafka 4.0+).
pub const CONSUMER_GROUP_REGULAR_EXPRESSION_KEY_TYPE: i16 = 16;
/// The OffsetCommitValue and GroupMetadataValue versions this crate reads and writes.
pub const VALUE_VERSIONS: (i16, i16) = (0, 4);
/// The first flexible OffsetCommitValue and GroupMetadataValue version.
const FLEXIBLE_VALUE_VERSION: i16 = 4;
/// The versions of every KIP-848 value.
pub const CONSUMER_GROUP_VALUE_VERSIONS: (i16, i16) = (0, 0);
/// The first flexible KIP-848 value version (all of them).
const CONSUMER_GROUP_FLEXIBLE_VALUE_VERSION: i16 = 0;

wire_struct! {
    /// The key of a committed offset (record types 0 and 1).
    pub struct OffsetCommitKey {
        /// The group id.
        pub group: String [0..=1];
        /// The topic name.
        pub topic: String [0..=1];
        /// The partition index.
        pub partition: i32 [0..=1];
    }
}

wire_struct! {
    /// A committed offset (OffsetCommitValue v0-4).
    pub struct OffsetCommitValue {
        /// The committed offset, as the client sent it.
        pub offset: i64 [0..=99];
        /// The leader epoch of the committed offset (v3+), -1 if none.
        pub leader_epoch: i32 [3..=99] = -1;
        /// The client's metadata (`""` when the request carried null).
        pub metadata: String [0..=99];
        /// When the offset was committed, in milliseconds since the epoch.
        pub commit_timestamp: i64 [0..=99];
        /// When the offset expires (v1 only, from a v2-4 commit with a retention time), -1 if never.
        pub expire_timestamp: i64 [1..=1] = -1;
    }
}

wire_struct! {
    /// The key of a classic group's metadata (record type 2).
    pub struct GroupMetadataKey {
        /// The group id.
        pub group: String [2..=2];
    }
}

wire_struct! {
    /// A classic group's metadata (GroupMetadataValue v0-4).
    pub struct GroupMetadataValue {
        /// The protocol type, e.g. `consumer` (`""` when the group has none).
        pub protocol_type: String [0..=99];
        /// The generation id.
        pub generation: i32 [0..=99];
        /// The selected protocol, null when the group is empty.
        pub protocol: Option<String> [0..=99];
        /// The leader's member id, null when the group is empty.
        pub leader: Option<String> [0..=99];
        /// When the group entered its current state (v2+), -1 if unknown.
        pub current_state_timestamp: i64 [2..=99] = -1;
        /// The members.
        pub members: Vec<MemberMetadata> [0..=99];
    }
}

wire_struct! {
    /// A member in a GroupMetadataValue.
    pub struct MemberMetadata {
        /// The member id.
        pub member_id: String [0..=99];
        /// The static member's instance id (v3+).
        pub group_instance_id: Option<String> [3..=99];
        /// The client id.
        pub client_id: String [0..=99];
        /// The client host.
        pub client_host: String [0..=99];
        /// The rebalance timeout (v1+), -1 if unknown.
        pub rebalance_timeout: i32 [1..=99] = -1;
        /// The session timeout.
        pub session_timeout: i32 [0..=99];
        /// The member's metadata for the selected protocol.
        pub subscription: Bytes [0..=99];
        /// The member's assignment from SyncGroup.
        pub assignment: Bytes [0..=99];
    }
}

// ---------------------------------------------------------------------------------------------------------
// KIP-848 consumer groups. Keys declare their fields in the version equal to their record type (as Kafka's
// JSON files did before 4.0); every value is version 0, flexible.

wire_struct! {
    /// The key of a KIP-848 group's metadata (record type 3).
    pub struct ConsumerGroupMetadataKey {
        /// The group id.
        pub group_id: String [3..=3];
    }
}

wire_struct! {
    /// A KIP-848 group's metadata (ConsumerGroupMetadataValue v0).
    ///
    /// Kafka 4.3 adds a tagged `CreationTimeMs` (tag 1, KIP-1282), which this crate keeps as an unknown
    /// tagged field.
    pub struct ConsumerGroupMetadataValue {
        /// The group epoch.
        pub epoch: i32 [0..=99];
        /// A hash of the subscribed topics' metadata (tag 0, Kafka 4.1+, KIP-1101); 0 when not computed.
        pub metadata_hash: i64 [0..=99], tag 0;
    }
}

wire_struct! {
    /// The key of a KIP-848 group's subscription metadata (record type 4).
    pub struct ConsumerGroupPartitionMetadataKey {
        /// The group id.
        pub group_id: String [4..=4];
    }
}

wire_struct! {
    /// The metadata of the topics a KIP-848 group subscribes to (ConsumerGroupPartitionMetadataValue v0).
    ///
    /// Kafka 4.1 detects topic changes with [`ConsumerGroupMetadataValue::metadata_hash`] instead, and may
    /// still write tombstones of this record type.
    pub struct ConsumerGroupPartitionMetadataValue {
        /// The subscribed topics.
        pub topics: Vec<TopicMetadata> [0..=99];
    }
}

wire_struct! {
    /// One topic in a ConsumerGroupPartitionMetadataValue.
    pub struct TopicMetadata {
        /// The topic id.
        pub topic_id: Uuid [0..=99];
        /// The topic name.
        pub topic_name: String [0..=99];
        /// The number of partitions.
        pub num_partitions: i32 [0..=99];
        /// The racks of each partition (unused after Kafka 4.0; empty when no rack is known).
        pub partition_metadata: Vec<PartitionMetadata> [0..=99];
    }
}

wire_struct! {
    /// The racks of one partition in a ConsumerGroupPartitionMetadataValue.
    pub struct PartitionMetadata {
        /// The partition index.
        pub partition: i32 [0..=99];
        /// The racks of the partition's replicas.
        pub racks: Vec<String> [0..=99];
    }
}

wire_struct! {
    /// The key of a KIP-848 member's metadata (record type 5).
    pub struct ConsumerGroupMemberMetadataKey {
        /// The group id.
        pub group_id: String [5..=5];
        /// The member id.
        pub member_id: String [5..=5];
    }
}

wire_struct! {
    /// A KIP-848 member's metadata (ConsumerGroupMemberMetadataValue v0).
    pub struct ConsumerGroupMemberMetadataValue {
        /// The static member's instance id, null for a dynamic member.
        pub instance_id: Option<String> [0..=99];
        /// The member's rack id, null if none.
        pub rack_id: Option<String> [0..=99];
        /// The client id.
        pub client_id: String [0..=99];
        /// The client host.
        pub client_host: String [0..=99];
        /// The subscribed topic names.
        pub subscribed_topic_names: Vec<String> [0..=99];
        /// The subscribed topic regular expression, null if none.
        pub subscribed_topic_regex: Option<String> [0..=99];
        /// The rebalance timeout, -1 if unknown.
        pub rebalance_timeout_ms: i32 [0..=99] = -1;
        /// The server-side assignor the member prefers, null if none.
        pub server_assignor: Option<String> [0..=99];
        /// For a member that speaks the classic protocol inside a consumer group, its session timeout and
        /// protocols (tag 0, a nullable struct); null for a member that speaks the consumer protocol.
        pub classic_member_metadata: Option<ClassicMemberMetadata> [0..=99], tag 0;
    }
}

wire_struct! {
    /// The classic-protocol part of a ConsumerGroupMemberMetadataValue.
    pub struct ClassicMemberMetadata {
        /// The session timeout of the classic member.
        pub session_timeout_ms: i32 [0..=99];
        /// The protocols the classic member supports.
        pub supported_protocols: Vec<ClassicProtocol> [0..=99];
    }
}

wire_struct! {
    /// A protocol a classic member supports, in a ClassicMemberMetadata.
    pub struct ClassicProtocol {
        /// The protocol name, e.g. `range`.
        pub name: String [0..=99];
        /// The protocol metadata.
        pub metadata: Bytes [0..=99];
    }
}

wire_struct! {
    /// The key of a KIP-848 group's target-assignment metadata (record type 6).
    pub struct ConsumerGroupTargetAssignmentMetadataKey {
        /// The group id.
        pub group_id: String [6..=6];
    }
}

wire_struct! {
    /// A KIP-848 group's target-assignment metadata (ConsumerGroupTargetAssignmentMetadataValue v0).
    pub struct ConsumerGroupTargetAssignmentMetadataValue {
        /// The epoch of the target assignment.
        pub assignment_epoch: i32 [0..=99];
    }
}

wire_struct! {
    /// The key of a KIP-848 member's target assignment (record type 7).
    pub struct ConsumerGroupTargetAssignmentMemberKey {
        /// The group id.
        pub group_id: String [7..=7];
        /// The member id.
        pub member_id: String [7..=7];
    }
}

wire_struct! {
    /// A KIP-848 member's target assignment (ConsumerGroupTargetAssignmentMemberValue v0).
    pub struct ConsumerGroupTargetAssignmentMemberValue {
        /// The partitions assigned to the member.
        pub topic_partitions: Vec<TopicPartitions> [0..=99];
    }
}

wire_struct! {
    /// The partitions of one topic, by topic id, in a target or current assignment.
    ///
    /// Kafka 4.3 adds a tagged `AssignmentEpochs` (tag 0, KIP-1251) in current assignments, which this crate
    /// keeps as an unknown tagged field.
    pub struct TopicPartitions {
        /// The topic id.
        pub topic_id: Uuid [0..=99];
        /// The partition indexes.
        pub partitions: Vec<i32> [0..=99];
    }
}

wire_struct! {
    /// The key of a KIP-848 member's current assignment (record type 8).
    pub struct ConsumerGroupCurrentMemberAssignmentKey {
        /// The group id.
        pub group_id: String [8..=8];
        /// The member id.
        pub member_id: String [8..=8];
    }
}

wire_struct! {
    /// A KIP-848 member's current assignment (ConsumerGroupCurrentMemberAssignmentValue v0).
    pub struct ConsumerGroupCurrentMemberAssignmentValue {
        /// The member epoch the coordinator expects in the member's next heartbeat.
        pub member_epoch: i32 [0..=99];
        /// The epoch before the last bump, accepted if the bump did not reach the member.
        pub previous_member_epoch: i32 [0..=99];
        /// The member state: 0 STABLE, 1 UNREVOKED_PARTITIONS, 2 UNRELEASED_PARTITIONS (Kafka reads any other
        /// value as UNKNOWN, 127).
        pub state: i8 [0..=99];
        /// The partitions assigned to (or owned by) the member.
        pub assigned_partitions: Vec<TopicPartitions> [0..=99];
        /// The partitions the member must revoke.
        pub partitions_pending_revocation: Vec<TopicPartitions> [0..=99];
    }
}

wire_struct! {
    /// The key of a KIP-848 group's resolved regular expression (record type 16).
    pub struct ConsumerGroupRegularExpressionKey {
        /// The group id.
        pub group_id: String [16..=16];
        /// The regular expression.
        pub regular_expression: String [16..=16];
    }
}

wire_struct! {
    /// The topics a regular expression of a KIP-848 group resolved to (ConsumerGroupRegularExpressionValue v0).
    pub struct ConsumerGroupRegularExpressionValue {
        /// The matching topic names.
        pub topics: Vec<String> [0..=99];
        /// The version of the topic metadata the expression was resolved against.
        pub version: i64 [0..=99];
        /// When the expression was resolved, in milliseconds since the epoch.
        pub timestamp: i64 [0..=99];
    }
}

// ---------------------------------------------------------------------------------------------------------
// Keys and values of every record type

/// Declares [`GroupRecordKey`] and [`GroupRecordValue`] with one variant per record type, and their
/// dispatch: record type, value versions, and reading, writing and sizing of key and value structs.
macro_rules! group_records {
    ($(
        $(#[$doc:meta])*
        $variant:ident = $record_type:ident, $key:ident, $value:ident, versions $versions:ident, flexible $flex:ident;
    )*) => {
        /// The key of a `__consumer_offsets` record this crate reads.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum GroupRecordKey {
            $( $(#[$doc])* $variant($key), )*
        }

        /// The (non-null) value of a `__consumer_offsets` record, with the version it is encoded in.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum GroupRecordValue {
            $(
                #[doc = concat!("The value of a ", stringify!($variant), " key.")]
                $variant {
                    /// The value version (see [`GroupRecordKey::value_versions`]).
                    version: i16,
                    #[doc = concat!("The ", stringify!($value), ".")]
                    value: $value,
                },
            )*
        }

        impl GroupRecordKey {
            /// The record type written as the key's INT16 prefix.
            pub fn record_type(&self) -> i16 {
                match self {
                    $( GroupRecordKey::$variant(_) => $record_type, )*
                }
            }

            /// The name of the value schema of this key's record type, e.g. `OffsetCommitValue`.
            pub fn value_name(&self) -> &'static str {
                match self {
                    $( GroupRecordKey::$variant(_) => stringify!($value), )*
                }
            }

            /// The value versions this crate reads and writes for this key's record type, inclusive.
            pub fn value_versions(&self) -> (i16, i16) {
                match self {
                    $( GroupRecordKey::$variant(_) => $versions, )*
                }
            }

            /// The context of value `version` of this key's record type, or `None` if it is unknown.
            fn value_cx(&self, version: i16) -> Option<Cx> {
                let ((lo, hi), flexible_since) = match self {
                    $( GroupRecordKey::$variant(_) => ($versions, $flex), )*
                };
                (lo..=hi).contains(&version).then(|| Cx::new(version, flexible_since))
            }

            /// Reads the key struct of `record_type` (after the prefix).
            fn read_struct(record_type: i16, r: &mut Reader<'_>) -> Result<Self> {
                let cx = Cx {
                    version: record_type,
                    flexible: false,
                };
                match record_type {
                    LEGACY_OFFSET_COMMIT_KEY_TYPE => Ok(GroupRecordKey::OffsetCommit(OffsetCommitKey::read(r, cx)?)),
                    $( $record_type => Ok(GroupRecordKey::$variant($key::read(r, cx)?)), )*
                    record_type => Err(Error::UnknownRecordType { record_type }),
                }
            }

            fn write_struct(&self, w: &mut Writer, cx: Cx) -> Result<()> {
                match self {
                    $( GroupRecordKey::$variant(k) => k.write(w, cx), )*
                }
            }

            fn struct_size(&self, cx: Cx) -> usize {
                match self {
                    $( GroupRecordKey::$variant(k) => k.size(cx), )*
                }
            }
        }

        impl GroupRecordValue {
            /// The value version.
            pub fn version(&self) -> i16 {
                match self {
                    $( GroupRecordValue::$variant { version, .. } => *version, )*
                }
            }

            fn record_name(&self) -> &'static str {
                match self {
                    $( GroupRecordValue::$variant { .. } => stringify!($value), )*
                }
            }

            /// True if this value belongs to `key`'s record type.
            pub fn matches(&self, key: &GroupRecordKey) -> bool {
                match (self, key) {
                    $( (GroupRecordValue::$variant { .. }, GroupRecordKey::$variant(_)) => true, )*
                    _ => false,
                }
            }

            /// The known versions of this value's record, and its first flexible version.
            fn versions(&self) -> ((i16, i16), i16) {
                match self {
                    $( GroupRecordValue::$variant { .. } => ($versions, $flex), )*
                }
            }

            /// Reads the value struct of `key`'s record type (after the version prefix).
            fn read_struct(key: &GroupRecordKey, r: &mut Reader<'_>, cx: Cx) -> Result<Self> {
                Ok(match key {
                    $( GroupRecordKey::$variant(_) => GroupRecordValue::$variant {
                        version: cx.version,
                        value: $value::read(r, cx)?,
                    }, )*
                })
            }

            fn write_struct(&self, w: &mut Writer, cx: Cx) -> Result<()> {
                match self {
                    $( GroupRecordValue::$variant { value, .. } => value.write(w, cx), )*
                }
            }

            fn struct_size(&self, cx: Cx) -> usize {
                match self {
                    $( GroupRecordValue::$variant { value, .. } => value.size(cx), )*
                }
            }
        }
    };
}

group_records! {
    /// A committed offset (record type 1, or the legacy 0 when read).
    OffsetCommit = OFFSET_COMMIT_KEY_TYPE,
        OffsetCommitKey, OffsetCommitValue,
        versions VALUE_VERSIONS, flexible FLEXIBLE_VALUE_VERSION;
    /// A classic group's metadata (record type 2).
    GroupMetadata = GROUP_METADATA_KEY_TYPE,
        GroupMetadataKey, GroupMetadataValue,
        versions VALUE_VERSIONS, flexible FLEXIBLE_VALUE_VERSION;
    /// A KIP-848 group's epoch and metadata hash (record type 3).
    ConsumerGroupMetadata = CONSUMER_GROUP_METADATA_KEY_TYPE,
        ConsumerGroupMetadataKey, ConsumerGroupMetadataValue,
        versions CONSUMER_GROUP_VALUE_VERSIONS, flexible CONSUMER_GROUP_FLEXIBLE_VALUE_VERSION;
    /// A KIP-848 group's subscribed topic metadata (record type 4).
    ConsumerGroupPartitionMetadata = CONSUMER_GROUP_PARTITION_METADATA_KEY_TYPE,
        ConsumerGroupPartitionMetadataKey, ConsumerGroupPartitionMetadataValue,
        versions CONSUMER_GROUP_VALUE_VERSIONS, flexible CONSUMER_GROUP_FLEXIBLE_VALUE_VERSION;
    /// A KIP-848 member's metadata (record type 5).
    ConsumerGroupMemberMetadata = CONSUMER_GROUP_MEMBER_METADATA_KEY_TYPE,
        ConsumerGroupMemberMetadataKey, ConsumerGroupMemberMetadataValue,
        versions CONSUMER_GROUP_VALUE_VERSIONS, flexible CONSUMER_GROUP_FLEXIBLE_VALUE_VERSION;
    /// A KIP-848 group's target-assignment epoch (record type 6).
    ConsumerGroupTargetAssignmentMetadata = CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA_KEY_TYPE,
        ConsumerGroupTargetAssignmentMetadataKey, ConsumerGroupTargetAssignmentMetadataValue,
        versions CONSUMER_GROUP_VALUE_VERSIONS, flexible CONSUMER_GROUP_FLEXIBLE_VALUE_VERSION;
    /// A KIP-848 member's target assignment (record type 7).
    ConsumerGroupTargetAssignmentMember = CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER_KEY_TYPE,
        ConsumerGroupTargetAssignmentMemberKey, ConsumerGroupTargetAssignmentMemberValue,
        versions CONSUMER_GROUP_VALUE_VERSIONS, flexible CONSUMER_GROUP_FLEXIBLE_VALUE_VERSION;
    /// A KIP-848 member's current assignment (record type 8).
    ConsumerGroupCurrentMemberAssignment = CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT_KEY_TYPE,
        ConsumerGroupCurrentMemberAssignmentKey, ConsumerGroupCurrentMemberAssignmentValue,
        versions CONSUMER_GROUP_VALUE_VERSIONS, flexible CONSUMER_GROUP_FLEXIBLE_VALUE_VERSION;
    /// The topics a KIP-848 group's regular expression resolved to (record type 16).
    ConsumerGroupRegularExpression = CONSUMER_GROUP_REGULAR_EXPRESSION_KEY_TYPE,
        ConsumerGroupRegularExpressionKey, ConsumerGroupRegularExpressionValue,
        versions CONSUMER_GROUP_VALUE_VERSIONS, flexible CONSUMER_GROUP_FLEXIBLE_VALUE_VERSION;
}

impl GroupRecordKey {
    /// Decodes a record key; every byte must be used.
    /// A record type this crate does not know is [`Error::UnknownRecordType`] (share-group and
    /// streams-group records, which a consumer-group coordinator skips).
    pub fn decode(key: &Bytes) -> Result<Self> {
        decode_all(key, "key", |r| {
            let record_type = r.i16()?;
            GroupRecordKey::read_struct(record_type, r)
        })
    }

    fn cx(&self) -> Cx {
        Cx {
            version: self.record_type(),
            flexible: false,
        }
    }

    /// Appends the key: its record type, then the key struct.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<()> {
        let cx = self.cx();
        encode_into(buf, "key", |w| {
            w.i16(cx.version);
            self.write_struct(w, cx)
        })
    }

    /// The encoded key.
    pub fn to_bytes(&self) -> Result<Bytes> {
        let mut buf = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut buf)?;
        Ok(buf.freeze())
    }

    /// The exact number of bytes [`GroupRecordKey::encode`] appends.
    pub fn encoded_len(&self) -> usize {
        2 + self.struct_size(self.cx())
    }
}

impl GroupRecordValue {
    /// A committed offset in the version Kafka writes: v1 when it has an expire timestamp (v1 has no leader
    /// epoch, so the epoch is dropped, as in Kafka), v3 otherwise.
    pub fn offset_commit(value: OffsetCommitValue) -> Self {
        let version = if value.expire_timestamp != -1 { 1 } else { 3 };
        GroupRecordValue::OffsetCommit { version, value }
    }

    /// A group's metadata in the version Kafka writes (v3).
    pub fn group_metadata(value: GroupMetadataValue) -> Self {
        GroupRecordValue::GroupMetadata { version: 3, value }
    }

    /// Decodes the non-null value of a record with `key`; every byte must be used.
    /// A version the key's record type does not have ([`GroupRecordKey::value_versions`]) is
    /// [`Error::UnknownRecordVersion`].
    pub fn decode(key: &GroupRecordKey, value: &Bytes) -> Result<Self> {
        decode_all(value, "value", |r| {
            let version = r.i16()?;
            let cx = key.value_cx(version).ok_or_else(|| {
                let (min, max) = key.value_versions();
                Error::UnknownRecordVersion {
                    record: key.value_name(),
                    version,
                    min,
                    max,
                }
            })?;
            GroupRecordValue::read_struct(key, r, cx)
        })
    }

    fn checked_cx(&self) -> Result<Cx> {
        let ((lo, hi), flexible_since) = self.versions();
        let version = self.version();
        if (lo..=hi).contains(&version) {
            Ok(Cx::new(version, flexible_since))
        } else {
            Err(Error::unencodable(
                format!("{} v{version} is not a known version ({lo}-{hi})", self.record_name()),
                0,
            ))
        }
    }

    /// Appends the value: its version, then the value struct in that version. Fields the version lacks are
    /// not written.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<()> {
        let cx = self.checked_cx()?;
        encode_into(buf, "value", |w| {
            w.i16(cx.version);
            self.write_struct(w, cx)
        })
    }

    /// The encoded value.
    pub fn to_bytes(&self) -> Result<Bytes> {
        let mut buf = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut buf)?;
        Ok(buf.freeze())
    }

    /// The exact number of bytes [`GroupRecordValue::encode`] appends (0 for an unknown version, which
    /// cannot be encoded).
    pub fn encoded_len(&self) -> usize {
        let Ok(cx) = self.checked_cx() else { return 0 };
        2 + self.struct_size(cx)
    }
}

/// One `__consumer_offsets` record: a key and its value, or `None` for a tombstone.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRecord {
    /// The key.
    pub key: GroupRecordKey,
    /// The value; `None` is a tombstone (what the key names is deleted: an offset, a group, a member...).
    pub value: Option<GroupRecordValue>,
}

impl GroupRecord {
    /// A committed offset, in the value version Kafka writes ([`GroupRecordValue::offset_commit`]).
    pub fn offset_commit(group: &str, topic: &str, partition: i32, value: OffsetCommitValue) -> Self {
        GroupRecord {
            value: Some(GroupRecordValue::offset_commit(value)),
            ..GroupRecord::offset_commit_tombstone(group, topic, partition)
        }
    }

    /// The tombstone that deletes a committed offset.
    pub fn offset_commit_tombstone(group: &str, topic: &str, partition: i32) -> Self {
        GroupRecord {
            key: GroupRecordKey::OffsetCommit(OffsetCommitKey {
                group: group.to_string(),
                topic: topic.to_string(),
                partition,
                ..OffsetCommitKey::default()
            }),
            value: None,
        }
    }

    /// A classic group's metadata, in the value version Kafka writes (v3).
    pub fn group_metadata(group: &str, value: GroupMetadataValue) -> Self {
        GroupRecord {
            value: Some(GroupRecordValue::group_metadata(value)),
            ..GroupRecord::group_metadata_tombstone(group)
        }
    }

    /// The tombstone that deletes a classic group.
    pub fn group_metadata_tombstone(group: &str) -> Self {
        GroupRecord {
            key: GroupRecordKey::GroupMetadata(GroupMetadataKey {
                group: group.to_string(),
                ..GroupMetadataKey::default()
            }),
            value: None,
        }
    }

    /// Decodes a record's key and value (`None` is a tombstone).
    /// A null key is malformed; an unknown record type is [`Error::UnknownRecordType`].
    pub fn decode(key: Option<&Bytes>, value: Option<&Bytes>) -> Result<Self> {
        let Some(key) = key else {
            return Err(Error::malformed("a __consumer_offsets record has a null key", 0).in_field("key"));
        };
        let key = GroupRecordKey::decode(key)?;
        let value = value.map(|v| GroupRecordValue::decode(&key, v)).transpose()?;
        Ok(GroupRecord { key, value })
    }

    /// The encoded key.
    pub fn key_bytes(&self) -> Result<Bytes> {
        self.key.to_bytes()
    }

    /// The encoded value, `None` for a tombstone. A value of another record type than the key's is
    /// [`Error::Unencodable`].
    pub fn value_bytes(&self) -> Result<Option<Bytes>> {
        match &self.value {
            None => Ok(None),
            Some(v) if !v.matches(&self.key) => Err(Error::unencodable(
                format!(
                    "a {} cannot be the value of record type {}",
                    v.record_name(),
                    self.key.record_type()
                ),
                0,
            )
            .in_field("value")),
            Some(v) => v.to_bytes().map(Some),
        }
    }
}

/// Declares, for each KIP-848 record type, a constructor of a record with a value (in version 0, the only
/// one) and one of its tombstone.
macro_rules! consumer_group_constructors {
    ($(
        $variant:ident, $record:ident, $tombstone:ident, $key:ident { $($field:ident),* }, $value:ident;
    )*) => {
        impl GroupRecord {
            $(
                #[doc = concat!("A ", stringify!($variant), " record (", stringify!($value), " v0).")]
                pub fn $record($($field: &str,)* value: $value) -> Self {
                    GroupRecord {
                        value: Some(GroupRecordValue::$variant { version: 0, value }),
                        ..GroupRecord::$tombstone($($field),*)
                    }
                }

                #[doc = concat!("The tombstone of a ", stringify!($variant), " record.")]
                pub fn $tombstone($($field: &str),*) -> Self {
                    GroupRecord {
                        key: GroupRecordKey::$variant($key {
                            $( $field: $field.to_string(), )*
                            ..$key::default()
                        }),
                        value: None,
                    }
                }
            )*
        }
    };
}

consumer_group_constructors! {
    ConsumerGroupMetadata, consumer_group_metadata, consumer_group_metadata_tombstone,
        ConsumerGroupMetadataKey { group_id }, ConsumerGroupMetadataValue;
    ConsumerGroupPartitionMetadata, consumer_group_partition_metadata, consumer_group_partition_metadata_tombstone,
        ConsumerGroupPartitionMetadataKey { group_id }, ConsumerGroupPartitionMetadataValue;
    ConsumerGroupMemberMetadata, consumer_group_member_metadata, consumer_group_member_metadata_tombstone,
        ConsumerGroupMemberMetadataKey { group_id, member_id }, ConsumerGroupMemberMetadataValue;
    ConsumerGroupTargetAssignmentMetadata, consumer_group_target_assignment_metadata,
        consumer_group_target_assignment_metadata_tombstone,
        ConsumerGroupTargetAssignmentMetadataKey { group_id }, ConsumerGroupTargetAssignmentMetadataValue;
    ConsumerGroupTargetAssignmentMember, consumer_group_target_assignment_member,
        consumer_group_target_assignment_member_tombstone,
        ConsumerGroupTargetAssignmentMemberKey { group_id, member_id }, ConsumerGroupTargetAssignmentMemberValue;
    ConsumerGroupCurrentMemberAssignment, consumer_group_current_member_assignment,
        consumer_group_current_member_assignment_tombstone,
        ConsumerGroupCurrentMemberAssignmentKey { group_id, member_id }, ConsumerGroupCurrentMemberAssignmentValue;
    ConsumerGroupRegularExpression, consumer_group_regular_expression, consumer_group_regular_expression_tombstone,
        ConsumerGroupRegularExpressionKey { group_id, regular_expression }, ConsumerGroupRegularExpressionValue;
}

/// Runs `read` over `bytes`, requires it to use every byte, and names `part` in errors.
fn decode_all<T>(bytes: &Bytes, part: &'static str, read: impl FnOnce(&mut Reader<'_>) -> Result<T>) -> Result<T> {
    let mut r = Reader::new(bytes);
    let v = read(&mut r).map_err(|e| e.in_field(part))?;
    if r.remaining() != 0 {
        return Err(Error::malformed(
            format!("{} bytes left after the {part}", r.remaining()),
            r.position(),
        ));
    }
    Ok(v)
}

/// Runs `write` appending to `buf`, and names `part` in errors.
fn encode_into(buf: &mut BytesMut, part: &'static str, write: impl FnOnce(&mut Writer) -> Result<()>) -> Result<()> {
    let mut w = Writer::new(std::mem::take(buf));
    let r = write(&mut w);
    *buf = w.into_bytes_mut();
    r.map_err(|e| e.in_field(part))
}

#[cfg(test)]
mod tests;
