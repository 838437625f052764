//! The coordinator's records in Kafka's `__consumer_offsets` formats (`protocol::group_records`): an
//! OffsetCommit key (type 1) with a v3 value (v1 when the commit carries an expire time), a GroupMetadata
//! key (type 2) with a v3 value, and the KIP-848 consumer group records (types 3, 5, 6, 7, 8 and 16, v0
//! values); a null value is a tombstone. Other record types (type 4, which Kafka 4.1 replaced by a hash
//! in type 3, and share or streams groups) are skipped when loading.

use bytes::Bytes;
use protocol::group_records::{
    ConsumerGroupCurrentMemberAssignmentValue, ConsumerGroupMemberMetadataValue, ConsumerGroupMetadataValue,
    ConsumerGroupRegularExpressionValue, ConsumerGroupTargetAssignmentMemberValue,
    ConsumerGroupTargetAssignmentMetadataValue, GroupMetadataValue, GroupRecord, GroupRecordKey, GroupRecordValue,
    MemberMetadata, OffsetCommitValue, TopicPartitions,
};

use super::assignor::Assignment;
use super::classic::{GroupSnapshot, MemberSnapshot};
use super::consumer::{self, CurrentAssignmentValue, MemberMetadataValue, MemberState, RegexValue};
use super::offsets::{CommittedOffset, Record};
use crate::topic_id::TopicId;

fn to_wire(a: &Assignment) -> Vec<TopicPartitions> {
    a.iter()
        .map(|(id, parts)| TopicPartitions {
            topic_id: id.uuid(),
            partitions: parts.iter().copied().collect(),
            ..TopicPartitions::default()
        })
        .collect()
}

fn from_wire(tps: Vec<TopicPartitions>) -> Assignment {
    let mut a = Assignment::new();
    for tp in tps {
        let Some(id) = TopicId::from_uuid(tp.topic_id) else {
            continue;
        };
        if !tp.partitions.is_empty() {
            a.entry(id).or_default().extend(tp.partitions);
        }
    }
    a
}

/// A KIP-848 record in Kafka's format.
fn encode_consumer(r: &consumer::Record) -> GroupRecord {
    use consumer::Record as C;
    match r {
        C::GroupMetadata { group, value: Some(v) } => GroupRecord::consumer_group_metadata(
            group,
            ConsumerGroupMetadataValue {
                epoch: v.epoch,
                metadata_hash: v.metadata_hash,
                ..ConsumerGroupMetadataValue::default()
            },
        ),
        C::GroupMetadata { group, value: None } => GroupRecord::consumer_group_metadata_tombstone(group),
        C::MemberMetadata {
            group,
            member,
            value: Some(v),
        } => GroupRecord::consumer_group_member_metadata(
            group,
            member,
            ConsumerGroupMemberMetadataValue {
                instance_id: v.instance_id.clone(),
                rack_id: v.rack_id.clone(),
                client_id: v.client_id.clone(),
                client_host: v.client_host.clone(),
                subscribed_topic_names: v.subscribed_topic_names.clone(),
                subscribed_topic_regex: v.subscribed_topic_regex.clone(),
                rebalance_timeout_ms: v.rebalance_timeout_ms,
                server_assignor: v.server_assignor.clone(),
                ..ConsumerGroupMemberMetadataValue::default()
            },
        ),
        C::MemberMetadata {
            group,
            member,
            value: None,
        } => GroupRecord::consumer_group_member_metadata_tombstone(group, member),
        C::TargetAssignmentMetadata {
            group,
            value: Some(epoch),
        } => GroupRecord::consumer_group_target_assignment_metadata(
            group,
            ConsumerGroupTargetAssignmentMetadataValue {
                assignment_epoch: *epoch,
                ..ConsumerGroupTargetAssignmentMetadataValue::default()
            },
        ),
        C::TargetAssignmentMetadata { group, value: None } => {
            GroupRecord::consumer_group_target_assignment_metadata_tombstone(group)
        }
        C::TargetAssignmentMember {
            group,
            member,
            value: Some(a),
        } => GroupRecord::consumer_group_target_assignment_member(
            group,
            member,
            ConsumerGroupTargetAssignmentMemberValue {
                topic_partitions: to_wire(a),
                ..ConsumerGroupTargetAssignmentMemberValue::default()
            },
        ),
        C::TargetAssignmentMember {
            group,
            member,
            value: None,
        } => GroupRecord::consumer_group_target_assignment_member_tombstone(group, member),
        C::CurrentMemberAssignment {
            group,
            member,
            value: Some(v),
        } => GroupRecord::consumer_group_current_member_assignment(
            group,
            member,
            ConsumerGroupCurrentMemberAssignmentValue {
                member_epoch: v.member_epoch,
                previous_member_epoch: v.previous_member_epoch,
                state: v.state.value(),
                assigned_partitions: to_wire(&v.assigned),
                partitions_pending_revocation: to_wire(&v.pending_revocation),
                ..ConsumerGroupCurrentMemberAssignmentValue::default()
            },
        ),
        C::CurrentMemberAssignment {
            group,
            member,
            value: None,
        } => GroupRecord::consumer_group_current_member_assignment_tombstone(group, member),
        C::RegularExpression {
            group,
            regex,
            value: Some(v),
        } => GroupRecord::consumer_group_regular_expression(
            group,
            regex,
            ConsumerGroupRegularExpressionValue {
                topics: v.topics.clone(),
                version: v.version,
                timestamp: v.timestamp,
                ..ConsumerGroupRegularExpressionValue::default()
            },
        ),
        C::RegularExpression {
            group,
            regex,
            value: None,
        } => GroupRecord::consumer_group_regular_expression_tombstone(group, regex),
    }
}

/// A KIP-848 record read back, or `None` for a key this coordinator does not keep.
fn decode_consumer(key: GroupRecordKey, value: Option<GroupRecordValue>) -> Option<consumer::Record> {
    use consumer::Record as C;
    use GroupRecordKey as K;
    use GroupRecordValue as V;
    Some(match (key, value) {
        (K::ConsumerGroupMetadata(k), v) => C::GroupMetadata {
            group: k.group_id,
            value: match v {
                Some(V::ConsumerGroupMetadata { value, .. }) => Some(consumer::GroupMetadataValue {
                    epoch: value.epoch,
                    metadata_hash: value.metadata_hash,
                }),
                _ => None,
            },
        },
        (K::ConsumerGroupMemberMetadata(k), v) => C::MemberMetadata {
            group: k.group_id,
            member: k.member_id,
            value: match v {
                Some(V::ConsumerGroupMemberMetadata { value, .. }) => Some(MemberMetadataValue {
                    instance_id: value.instance_id,
                    rack_id: value.rack_id,
                    client_id: value.client_id,
                    client_host: value.client_host,
                    subscribed_topic_names: value.subscribed_topic_names,
                    subscribed_topic_regex: value.subscribed_topic_regex,
                    rebalance_timeout_ms: value.rebalance_timeout_ms,
                    server_assignor: value.server_assignor,
                }),
                _ => None,
            },
        },
        (K::ConsumerGroupTargetAssignmentMetadata(k), v) => C::TargetAssignmentMetadata {
            group: k.group_id,
            value: match v {
                Some(V::ConsumerGroupTargetAssignmentMetadata { value, .. }) => Some(value.assignment_epoch),
                _ => None,
            },
        },
        (K::ConsumerGroupTargetAssignmentMember(k), v) => C::TargetAssignmentMember {
            group: k.group_id,
            member: k.member_id,
            value: match v {
                Some(V::ConsumerGroupTargetAssignmentMember { value, .. }) => Some(from_wire(value.topic_partitions)),
                _ => None,
            },
        },
        (K::ConsumerGroupCurrentMemberAssignment(k), v) => C::CurrentMemberAssignment {
            group: k.group_id,
            member: k.member_id,
            value: match v {
                Some(V::ConsumerGroupCurrentMemberAssignment { value, .. }) => Some(CurrentAssignmentValue {
                    member_epoch: value.member_epoch,
                    previous_member_epoch: value.previous_member_epoch,
                    state: MemberState::from_value(value.state),
                    assigned: from_wire(value.assigned_partitions),
                    pending_revocation: from_wire(value.partitions_pending_revocation),
                }),
                _ => None,
            },
        },
        (K::ConsumerGroupRegularExpression(k), v) => C::RegularExpression {
            group: k.group_id,
            regex: k.regular_expression,
            value: match v {
                Some(V::ConsumerGroupRegularExpression { value, .. }) => Some(RegexValue {
                    topics: value.topics,
                    version: value.version,
                    timestamp: value.timestamp,
                }),
                _ => None,
            },
        },
        _ => return None,
    })
}

/// The key and value bytes of a record (a `None` value is a tombstone).
pub(crate) fn encode(record: &Record) -> Result<(Bytes, Option<Bytes>), protocol::Error> {
    let wire = match record {
        Record::Consumer(r) => encode_consumer(r),
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
        (key, value) => match decode_consumer(key, value) {
            Some(r) => Record::Consumer(r),
            None => return Ok(None),
        },
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every KIP-848 record, with a value and as a tombstone, comes back from Kafka's format as it went in.
    #[test]
    fn consumer_group_records_round_trip_through_kafkas_format() {
        let id = TopicId([7; 16]);
        let assignment: Assignment = [(id, BTreeSet::from([0, 2, 5]))].into_iter().collect();
        let (g, m) = (String::from("g"), String::from("m"));
        let records = vec![
            consumer::Record::GroupMetadata {
                group: g.clone(),
                value: Some(consumer::GroupMetadataValue {
                    epoch: 4,
                    metadata_hash: -99,
                }),
            },
            consumer::Record::MemberMetadata {
                group: g.clone(),
                member: m.clone(),
                value: Some(MemberMetadataValue {
                    instance_id: Some("i".into()),
                    rack_id: None,
                    client_id: "c".into(),
                    client_host: "/127.0.0.1".into(),
                    subscribed_topic_names: vec!["a".into(), "b".into()],
                    subscribed_topic_regex: Some("^x.*".into()),
                    rebalance_timeout_ms: 300_000,
                    server_assignor: Some("range".into()),
                }),
            },
            consumer::Record::TargetAssignmentMetadata {
                group: g.clone(),
                value: Some(4),
            },
            consumer::Record::TargetAssignmentMember {
                group: g.clone(),
                member: m.clone(),
                value: Some(assignment.clone()),
            },
            consumer::Record::CurrentMemberAssignment {
                group: g.clone(),
                member: m.clone(),
                value: Some(CurrentAssignmentValue {
                    member_epoch: 4,
                    previous_member_epoch: 3,
                    state: MemberState::from_value(1),
                    assigned: assignment.clone(),
                    pending_revocation: [(id, BTreeSet::from([1]))].into_iter().collect(),
                }),
            },
            consumer::Record::RegularExpression {
                group: g.clone(),
                regex: "^x.*".into(),
                value: Some(RegexValue {
                    topics: vec!["xa".into()],
                    version: 4,
                    timestamp: 1_700_000_000_000,
                }),
            },
        ];
        let tombstones: Vec<consumer::Record> = vec![
            consumer::Record::GroupMetadata {
                group: g.clone(),
                value: None,
            },
            consumer::Record::MemberMetadata {
                group: g.clone(),
                member: m.clone(),
                value: None,
            },
            consumer::Record::TargetAssignmentMetadata {
                group: g.clone(),
                value: None,
            },
            consumer::Record::TargetAssignmentMember {
                group: g.clone(),
                member: m.clone(),
                value: None,
            },
            consumer::Record::CurrentMemberAssignment {
                group: g.clone(),
                member: m.clone(),
                value: None,
            },
            consumer::Record::RegularExpression {
                group: g.clone(),
                regex: "^x.*".into(),
                value: None,
            },
        ];
        for r in records.into_iter().chain(tombstones) {
            let record = Record::Consumer(r.clone());
            let (key, value) = encode(&record).unwrap();
            assert_eq!(value.is_none(), r.is_tombstone(), "{r:?}");
            let back = decode(&key, value.as_ref()).unwrap();
            assert_eq!(back, Some(record), "{r:?}");
        }
    }
}
