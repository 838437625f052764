//! The records of `__consumer_offsets`: committed offsets and classic group metadata, as Kafka's group
//! coordinator writes them (`group-coordinator/src/main/resources/common/message/*.json`).
//!
//! They are ordinary RecordBatch v2 records (see [`crate::record`]) whose key and value are encoded like
//! protocol messages, each behind an INT16 prefix:
//!
//! ```text
//! key:    INT16 record type | key struct (never flexible: INT16-length strings)
//!           0 or 1  OffsetCommitKey    group STRING, topic STRING, partition INT32   (Kafka writes 1)
//!           2       GroupMetadataKey   group STRING
//!           3..     KIP-848 and share-group records       -> Error::UnknownRecordType
//! value:  INT16 version | value struct (flexible in v4: compact strings and a tag buffer), or null
//!         (a tombstone: compaction then drops every record with the same key bytes)
//!           OffsetCommitValue   v0-4: offset, leader_epoch (v3+), metadata, commit_timestamp,
//!                                     expire_timestamp (v1 only)
//!           GroupMetadataValue  v0-4: protocol_type, generation, protocol?, leader?,
//!                                     current_state_timestamp (v2+), members[MemberMetadata]
//! ```
//!
//! Kafka writes OffsetCommitValue v3, or v1 when the commit carries an expire timestamp (an OffsetCommit
//! v2-4 request with a retention time), and GroupMetadataValue v3; readers accept v0-4.
//! [`GroupRecordValue::offset_commit`] and [`GroupRecordValue::group_metadata`] make the same choice.
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

use bytes::{Bytes, BytesMut};

use crate::error::{Error, Result};
use crate::schema::wire_struct;
use crate::wire::{Cx, Field, Reader, Writer};

/// The record type Kafka writes for OffsetCommit keys.
pub const OFFSET_COMMIT_KEY_TYPE: i16 = 1;
/// The legacy record type of OffsetCommit keys: read like type 1, never written.
pub const LEGACY_OFFSET_COMMIT_KEY_TYPE: i16 = 0;
/// The record type of GroupMetadata keys.
pub const GROUP_METADATA_KEY_TYPE: i16 = 2;
/// The OffsetCommitValue and GroupMetadataValue versions this crate reads and writes.
pub const VALUE_VERSIONS: (i16, i16) = (0, 4);
/// The first flexible value version.
const FLEXIBLE_VALUE_VERSION: i16 = 4;

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

/// The key of a `__consumer_offsets` record this crate reads.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum GroupRecordKey {
    /// A committed offset (record type 1, or the legacy 0 when read).
    OffsetCommit(OffsetCommitKey),
    /// A classic group's metadata (record type 2).
    GroupMetadata(GroupMetadataKey),
}

impl GroupRecordKey {
    /// The record type written as the key's INT16 prefix.
    pub fn record_type(&self) -> i16 {
        match self {
            GroupRecordKey::OffsetCommit(_) => OFFSET_COMMIT_KEY_TYPE,
            GroupRecordKey::GroupMetadata(_) => GROUP_METADATA_KEY_TYPE,
        }
    }

    fn cx(&self) -> Cx {
        Cx {
            version: self.record_type(),
            flexible: false,
        }
    }

    /// Decodes a record key; every byte must be used.
    /// A record type other than 0, 1 or 2 is [`Error::UnknownRecordType`] (KIP-848 and share-group records,
    /// which a loader of classic groups skips).
    pub fn decode(key: &Bytes) -> Result<Self> {
        decode_all(key, "key", |r| {
            let record_type = r.i16()?;
            let cx = Cx {
                version: record_type,
                flexible: false,
            };
            match record_type {
                LEGACY_OFFSET_COMMIT_KEY_TYPE | OFFSET_COMMIT_KEY_TYPE => {
                    Ok(GroupRecordKey::OffsetCommit(OffsetCommitKey::read(r, cx)?))
                }
                GROUP_METADATA_KEY_TYPE => Ok(GroupRecordKey::GroupMetadata(GroupMetadataKey::read(r, cx)?)),
                record_type => Err(Error::UnknownRecordType { record_type }),
            }
        })
    }

    /// Appends the key: its record type, then the key struct.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<()> {
        let cx = self.cx();
        encode_into(buf, "key", |w| {
            w.i16(cx.version);
            match self {
                GroupRecordKey::OffsetCommit(k) => k.write(w, cx),
                GroupRecordKey::GroupMetadata(k) => k.write(w, cx),
            }
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
        let cx = self.cx();
        2 + match self {
            GroupRecordKey::OffsetCommit(k) => k.size(cx),
            GroupRecordKey::GroupMetadata(k) => k.size(cx),
        }
    }
}

/// The (non-null) value of a `__consumer_offsets` record, with the version it is encoded in.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum GroupRecordValue {
    /// The value of an OffsetCommit key.
    OffsetCommit {
        /// The value version, 0-4.
        version: i16,
        /// The committed offset.
        value: OffsetCommitValue,
    },
    /// The value of a GroupMetadata key.
    GroupMetadata {
        /// The value version, 0-4.
        version: i16,
        /// The group's metadata.
        value: GroupMetadataValue,
    },
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

    /// The value version.
    pub fn version(&self) -> i16 {
        match self {
            GroupRecordValue::OffsetCommit { version, .. } | GroupRecordValue::GroupMetadata { version, .. } => {
                *version
            }
        }
    }

    fn record_name(&self) -> &'static str {
        match self {
            GroupRecordValue::OffsetCommit { .. } => "OffsetCommitValue",
            GroupRecordValue::GroupMetadata { .. } => "GroupMetadataValue",
        }
    }

    /// True if this value belongs to `key`'s record type.
    pub fn matches(&self, key: &GroupRecordKey) -> bool {
        matches!(
            (self, key),
            (GroupRecordValue::OffsetCommit { .. }, GroupRecordKey::OffsetCommit(_))
                | (GroupRecordValue::GroupMetadata { .. }, GroupRecordKey::GroupMetadata(_))
        )
    }

    /// Decodes the non-null value of a record with `key`; every byte must be used.
    /// A version outside 0-4 is [`Error::UnknownRecordVersion`].
    pub fn decode(key: &GroupRecordKey, value: &Bytes) -> Result<Self> {
        decode_all(value, "value", |r| {
            let version = r.i16()?;
            let record = match key {
                GroupRecordKey::OffsetCommit(_) => "OffsetCommitValue",
                GroupRecordKey::GroupMetadata(_) => "GroupMetadataValue",
            };
            let cx = value_cx(version).ok_or(Error::UnknownRecordVersion {
                record,
                version,
                min: VALUE_VERSIONS.0,
                max: VALUE_VERSIONS.1,
            })?;
            Ok(match key {
                GroupRecordKey::OffsetCommit(_) => GroupRecordValue::OffsetCommit {
                    version,
                    value: OffsetCommitValue::read(r, cx)?,
                },
                GroupRecordKey::GroupMetadata(_) => GroupRecordValue::GroupMetadata {
                    version,
                    value: GroupMetadataValue::read(r, cx)?,
                },
            })
        })
    }

    fn checked_cx(&self) -> Result<Cx> {
        value_cx(self.version()).ok_or_else(|| {
            Error::unencodable(
                format!(
                    "{} v{} is not a known version ({}-{})",
                    self.record_name(),
                    self.version(),
                    VALUE_VERSIONS.0,
                    VALUE_VERSIONS.1
                ),
                0,
            )
        })
    }

    /// Appends the value: its version, then the value struct in that version. Fields the version lacks are
    /// not written.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<()> {
        let cx = self.checked_cx()?;
        encode_into(buf, "value", |w| {
            w.i16(cx.version);
            match self {
                GroupRecordValue::OffsetCommit { value, .. } => value.write(w, cx),
                GroupRecordValue::GroupMetadata { value, .. } => value.write(w, cx),
            }
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
        2 + match self {
            GroupRecordValue::OffsetCommit { value, .. } => value.size(cx),
            GroupRecordValue::GroupMetadata { value, .. } => value.size(cx),
        }
    }
}

/// One `__consumer_offsets` record: a key and its value, or `None` for a tombstone.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRecord {
    /// The key.
    pub key: GroupRecordKey,
    /// The value; `None` is a tombstone (the offset or the group is deleted).
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

/// The context of value `version`, or `None` if the version is unknown.
fn value_cx(version: i16) -> Option<Cx> {
    (VALUE_VERSIONS.0..=VALUE_VERSIONS.1)
        .contains(&version)
        .then(|| Cx::new(version, FLEXIBLE_VALUE_VERSION))
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
