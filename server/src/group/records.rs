//! The coordinator's records in Kafka's `__consumer_offsets` formats (`protocol::group_records`): an
//! OffsetCommit key (type 1) with a v3 value (v1 when the commit carries an expire time), a GroupMetadata
//! key (type 2) with a v3 value; a null value is a tombstone. Other record types (KIP-848 and share
//! groups) are skipped when loading.

use bytes::Bytes;
use protocol::group_records::{
    GroupMetadataValue, GroupRecord, GroupRecordKey, GroupRecordValue, MemberMetadata, OffsetCommitValue,
};

use super::classic::{GroupSnapshot, MemberSnapshot};
use super::offsets::{CommittedOffset, Record};

/// The key and value bytes of a record (a `None` value is a tombstone).
pub(crate) fn encode(record: &Record) -> Result<(Bytes, Option<Bytes>), protocol::Error> {
    let wire = match record {
        Record::Offset {
            group,
            topic,
            partition,
            value: Some(v),
        } => GroupRecord::offset_commit(
            group,
            topic,
            *partition,
            OffsetCommitValue {
                offset: v.offset,
                leader_epoch: v.leader_epoch,
                metadata: v.metadata.clone(),
                commit_timestamp: v.commit_timestamp,
                expire_timestamp: v.expire_timestamp.unwrap_or(-1),
                ..OffsetCommitValue::default()
            },
        ),
        Record::Offset {
            group,
            topic,
            partition,
            value: None,
        } => GroupRecord::offset_commit_tombstone(group, topic, *partition),
        Record::Group { group, value: Some(s) } => GroupRecord::group_metadata(
            group,
            GroupMetadataValue {
                protocol_type: s.protocol_type.clone(),
                generation: s.generation,
                protocol: s.protocol.clone(),
                leader: s.leader.clone(),
                current_state_timestamp: s.current_state_timestamp,
                members: s
                    .members
                    .iter()
                    .map(|m| MemberMetadata {
                        member_id: m.member_id.clone(),
                        group_instance_id: m.instance_id.clone(),
                        client_id: m.client_id.clone(),
                        client_host: m.client_host.clone(),
                        rebalance_timeout: m.rebalance_timeout_ms,
                        session_timeout: m.session_timeout_ms,
                        subscription: m.subscription.clone(),
                        assignment: m.assignment.clone(),
                        ..MemberMetadata::default()
                    })
                    .collect(),
                ..GroupMetadataValue::default()
            },
        ),
        Record::Group { group, value: None } => GroupRecord::group_metadata_tombstone(group),
    };
    Ok((wire.key_bytes()?, wire.value_bytes()?))
}

/// A stored record, or `None` for a record type the classic coordinator does not keep.
pub(crate) fn decode(key: &Bytes, value: Option<&Bytes>) -> Result<Option<Record>, String> {
    let record = match GroupRecord::decode(Some(key), value) {
        Ok(r) => r,
        Err(protocol::Error::UnknownRecordType { .. }) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    Ok(Some(match (record.key, record.value) {
        (GroupRecordKey::OffsetCommit(k), Some(GroupRecordValue::OffsetCommit { value: v, .. })) => Record::Offset {
            group: k.group,
            topic: k.topic,
            partition: k.partition,
            value: Some(CommittedOffset {
                offset: v.offset,
                leader_epoch: v.leader_epoch,
                metadata: v.metadata,
                commit_timestamp: v.commit_timestamp,
                expire_timestamp: (v.expire_timestamp >= 0).then_some(v.expire_timestamp),
            }),
        },
        (GroupRecordKey::OffsetCommit(k), None) => Record::Offset {
            group: k.group,
            topic: k.topic,
            partition: k.partition,
            value: None,
        },
        (GroupRecordKey::GroupMetadata(k), Some(GroupRecordValue::GroupMetadata { value: v, .. })) => Record::Group {
            value: Some(GroupSnapshot {
                group_id: k.group.clone(),
                protocol_type: v.protocol_type,
                generation: v.generation,
                protocol: v.protocol,
                leader: v.leader,
                current_state_timestamp: v.current_state_timestamp,
                members: v
                    .members
                    .into_iter()
                    .map(|m| MemberSnapshot {
                        member_id: m.member_id,
                        instance_id: m.group_instance_id,
                        client_id: m.client_id,
                        client_host: m.client_host,
                        rebalance_timeout_ms: m.rebalance_timeout,
                        session_timeout_ms: m.session_timeout,
                        subscription: m.subscription,
                        assignment: m.assignment,
                    })
                    .collect(),
            }),
            group: k.group,
        },
        (GroupRecordKey::GroupMetadata(k), None) => Record::Group {
            group: k.group,
            value: None,
        },
        (GroupRecordKey::OffsetCommit(_) | GroupRecordKey::GroupMetadata(_), _) => {
            // GroupRecord::decode checks that the value matches the key; this is a defect, not input.
            return Err("a value that does not match its key".to_string());
        }
        // KIP-848 records: not kept by the classic coordinator.
        _ => return Ok(None),
    }))
}
