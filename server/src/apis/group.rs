//! The group APIs: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit,
//! OffsetFetch, ListGroups, DescribeGroups, DeleteGroups and OffsetDelete, and the KIP-848 consumer
//! group APIs ConsumerGroupHeartbeat and ConsumerGroupDescribe.
//!
//! Each handler translates its request (every version Kafka 4.x accepts, except OffsetCommit and
//! OffsetFetch v10, which name topics by id) into the coordinator's terms and its answer back, with
//! Kafka's per-version rules (error layouts of v0-1 / v2-7 / v8+ OffsetFetch, batched FindCoordinator
//! and LeaveGroup, JoinGroup's null-versus-empty protocol name). The rules of groups and offsets are the
//! coordinator's (`group/`). Until `__consumer_offsets` is loaded, group requests get
//! COORDINATOR_LOAD_IN_PROGRESS (a Heartbeat gets NONE, as Kafka answers).

use protocol::{
    ApiKey, ConsumerGroupDescribeAssignment, ConsumerGroupDescribeMember, ConsumerGroupDescribeResponse,
    ConsumerGroupDescribeTopicPartitions, ConsumerGroupDescribedGroup, ConsumerGroupHeartbeatAssignment,
    ConsumerGroupHeartbeatResponse, ConsumerGroupHeartbeatTopicPartitions, Coordinator, DeletableGroupResult,
    DeleteGroupsResponse, DescribeGroupsResponse, DescribedGroup, DescribedGroupMember, ErrorCode,
    FindCoordinatorResponse, HeartbeatResponse, JoinGroupResponse, JoinGroupResponseMember, LeaveGroupResponse,
    ListGroupsResponse, ListedGroup, MemberResponse, OffsetCommitResponse, OffsetCommitResponsePartition,
    OffsetCommitResponseTopic, OffsetDeleteResponse, OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
    OffsetFetchRequestTopic, OffsetFetchResponse, OffsetFetchResponseGroup, OffsetFetchResponsePartition,
    OffsetFetchResponseTopic, Request, SyncGroupResponse,
};

use security::acl::{Operation, ResourceType};

use super::{body, operations, Pending};
use crate::broker::{Broker, Listener, Reply};
use crate::group::classic::{JoinRequest, SyncRequest};
use crate::group::consumer;
use crate::group::offsets::CommitRequest;
use crate::group::{GroupCoordinator, OFFSETS_TOPIC};
use crate::topic_id::TopicId;

/// The coordinator, or the error a group request gets when it cannot be served yet.
fn coordinator(broker: &Broker) -> Result<&GroupCoordinator, ErrorCode> {
    match broker.groups.get() {
        None => Err(ErrorCode::CoordinatorNotAvailable),
        Some(c) if !c.is_loaded() => Err(ErrorCode::CoordinatorLoadInProgress),
        Some(c) => Ok(c),
    }
}

/// The coordinator, for a group this broker coordinates: it leads the group's `__consumer_offsets`
/// partition (or the topic does not exist yet, and this broker's first write creates it). Another broker's
/// group is `NOT_COORDINATOR`, so the client asks FindCoordinator again, as Kafka answers.
/// The coordinator of `group`, once the connection may do `operation` on the group (Kafka checks the
/// group ACL before anything else: GROUP_AUTHORIZATION_FAILED).
fn coordinator_of<'a>(
    broker: &'a Broker,
    listener: &Listener,
    group: &str,
    operation: Operation,
) -> Result<&'a GroupCoordinator, ErrorCode> {
    if !broker.authorize(listener, operation, ResourceType::Group, group) {
        return Err(ErrorCode::GroupAuthorizationFailed);
    }
    let c = coordinator(broker)?;
    if let Some(topic) = broker.replicas.topic(OFFSETS_TOPIC) {
        let partition = crate::group::partition_for(group, topic.partitions.len() as i32);
        if broker.replicas.partition(OFFSETS_TOPIC, partition).is_err() {
            return Err(ErrorCode::NotCoordinator);
        }
    }
    Ok(c)
}

fn count_error(broker: &Broker, api: ApiKey, code: ErrorCode) -> i16 {
    broker.metrics.error(api, code);
    code.code()
}

pub(super) fn find_coordinator<'a>(broker: &'a Broker, request: &'a Request, listener: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, FindCoordinator);
        let version = request.header.api_version;
        // Per key: the broker leading the key's `__consumer_offsets` partition (this broker while the topic
        // does not exist yet: its first commit creates it), or why not.
        let image = broker.cluster.image();
        let answer = |key_type: i8, key: &str| -> Result<(i32, String, i32), (ErrorCode, String)> {
            // DESCRIBE on the group, or on the transactional id.
            if key_type == 0 && !broker.authorize(listener, Operation::Describe, ResourceType::Group, key) {
                return Err((
                    ErrorCode::GroupAuthorizationFailed,
                    "Group authorization failed.".into(),
                ));
            }
            if key_type == 1 && !broker.authorize(listener, Operation::Describe, ResourceType::TransactionalId, key) {
                return Err((
                    ErrorCode::TransactionalIdAuthorizationFailed,
                    "Transactional Id authorization failed.".into(),
                ));
            }
            match key_type {
                0 => {
                    if broker.groups.get().is_none() {
                        return Err((
                            ErrorCode::CoordinatorNotAvailable,
                            "the group coordinator is not running".into(),
                        ));
                    }
                    let Some(topic) = image.topics.get(OFFSETS_TOPIC) else {
                        return Ok((broker.config.node_id, listener.host.clone(), listener.port));
                    };
                    let partition = crate::group::partition_for(key, topic.partitions.len() as i32);
                    let leader = topic.partitions.get(partition as usize).map_or(-1, |p| p.leader);
                    image
                        .brokers
                        .get(&leader)
                        .filter(|b| !b.fenced)
                        .and_then(|b| b.endpoints.iter().find(|e| e.name == listener.name()))
                        .map(|e| (leader, e.host.clone(), i32::from(e.port)))
                        .ok_or((
                            ErrorCode::CoordinatorNotAvailable,
                            format!("{OFFSETS_TOPIC} partition {partition} has no live leader"),
                        ))
                }
                1 => Err((
                    ErrorCode::CoordinatorNotAvailable,
                    "kzero has no transaction coordinator".into(),
                )),
                2 if version >= 6 => Err((ErrorCode::CoordinatorNotAvailable, "kzero has no share groups".into())),
                other => Err((ErrorCode::InvalidRequest, format!("unknown coordinator type {other}"))),
            }
        };
        if version >= 4 {
            let coordinators = r
                .coordinator_keys
                .iter()
                .map(|key| match answer(r.key_type, key) {
                    Ok((node_id, host, port)) => Coordinator {
                        key: key.clone(),
                        node_id,
                        host,
                        port,
                        ..Coordinator::default()
                    },
                    Err((code, message)) => Coordinator {
                        key: key.clone(),
                        node_id: -1,
                        host: String::new(),
                        port: -1,
                        error_code: count_error(broker, ApiKey::FindCoordinator, code),
                        error_message: Some(message),
                        ..Coordinator::default()
                    },
                })
                .collect();
            return Reply::body(FindCoordinatorResponse {
                coordinators,
                ..FindCoordinatorResponse::default()
            });
        }
        Reply::body(match answer(r.key_type, &r.key) {
            Ok((node_id, host, port)) => FindCoordinatorResponse {
                node_id,
                host,
                port,
                ..FindCoordinatorResponse::default()
            },
            Err((code, message)) => FindCoordinatorResponse {
                error_code: count_error(broker, ApiKey::FindCoordinator, code),
                error_message: Some(message),
                node_id: -1,
                host: String::new(),
                port: -1,
                ..FindCoordinatorResponse::default()
            },
        })
    })
}

pub(super) fn join_group<'a>(broker: &'a Broker, request: &'a Request, listener: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, JoinGroup);
        let version = request.header.api_version;
        let error = |code: ErrorCode| {
            Reply::body(
                JoinGroupResponse {
                    error_code: count_error(broker, ApiKey::JoinGroup, code),
                    generation_id: -1,
                    member_id: r.member_id.clone(),
                    ..JoinGroupResponse::default()
                }
                .for_version(version),
            )
        };
        let c = match coordinator_of(broker, listener, &r.group_id, Operation::Read) {
            Ok(c) => c,
            Err(code) => return error(code),
        };
        let parked = std::time::Instant::now();
        let result = c
            .join(JoinRequest {
                group_id: r.group_id.clone(),
                member_id: r.member_id.clone(),
                instance_id: r.group_instance_id.clone(),
                client_id: request.header.client_id.clone().unwrap_or_default(),
                client_host: listener.peer.map_or_else(String::new, |p| format!("/{}", p.ip())),
                session_timeout_ms: r.session_timeout_ms,
                // v0 has no rebalance timeout: Kafka uses the session timeout.
                rebalance_timeout_ms: if version == 0 {
                    r.session_timeout_ms
                } else {
                    r.rebalance_timeout_ms
                },
                protocol_type: r.protocol_type.clone(),
                protocols: r
                    .protocols
                    .iter()
                    .map(|p| (p.name.clone(), p.metadata.clone()))
                    .collect(),
                require_known_member_id: version >= 4,
                supports_skip_assignment: version >= 9,
            })
            .await;
        // Waiting for the rebalance is the request's remote time, as in Kafka's purgatory.
        let remote = parked.elapsed();
        let reply = Reply::body(
            JoinGroupResponse {
                error_code: count_error(broker, ApiKey::JoinGroup, result.error),
                generation_id: result.generation,
                protocol_type: result.protocol_type,
                protocol_name: Some(result.protocol_name.unwrap_or_default()),
                leader: result.leader,
                skip_assignment: result.skip_assignment,
                member_id: result.member_id,
                members: result
                    .members
                    .into_iter()
                    .map(|m| JoinGroupResponseMember {
                        member_id: m.member_id,
                        group_instance_id: m.instance_id,
                        metadata: m.metadata,
                        ..JoinGroupResponseMember::default()
                    })
                    .collect(),
                ..JoinGroupResponse::default()
            }
            .for_version(version),
        );
        Reply { remote, ..reply }
    })
}

pub(super) fn sync_group<'a>(broker: &'a Broker, request: &'a Request, listener: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, SyncGroup);
        let version = request.header.api_version;
        let error = |code: ErrorCode| {
            Reply::body(SyncGroupResponse {
                error_code: count_error(broker, ApiKey::SyncGroup, code),
                ..SyncGroupResponse::default()
            })
        };
        // v5+ must name the protocol type and name (Kafka checks this before the coordinator).
        if version >= 5 && (r.protocol_type.is_none() || r.protocol_name.is_none()) {
            return error(ErrorCode::InconsistentGroupProtocol);
        }
        let c = match coordinator_of(broker, listener, &r.group_id, Operation::Read) {
            Ok(c) => c,
            Err(code) => return error(code),
        };
        let parked = std::time::Instant::now();
        let result = c
            .sync(SyncRequest {
                group_id: r.group_id.clone(),
                generation: r.generation_id,
                member_id: r.member_id.clone(),
                instance_id: r.group_instance_id.clone(),
                protocol_type: r.protocol_type.clone(),
                protocol_name: r.protocol_name.clone(),
                assignments: r
                    .assignments
                    .iter()
                    .map(|a| (a.member_id.clone(), a.assignment.clone()))
                    .collect(),
            })
            .await;
        let remote = parked.elapsed();
        let reply = Reply::body(SyncGroupResponse {
            error_code: count_error(broker, ApiKey::SyncGroup, result.error),
            protocol_type: result.protocol_type,
            protocol_name: result.protocol_name,
            assignment: result.assignment,
            ..SyncGroupResponse::default()
        });
        Reply { remote, ..reply }
    })
}

pub(super) fn heartbeat<'a>(broker: &'a Broker, request: &'a Request, listener: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, Heartbeat);
        let code = match coordinator_of(broker, listener, &r.group_id, Operation::Read) {
            // Kafka answers a heartbeat during loading with NONE (the member keeps its session).
            Err(ErrorCode::CoordinatorLoadInProgress) => ErrorCode::None,
            Err(code) => code,
            Ok(c) => {
                c.heartbeat(
                    r.group_id.clone(),
                    r.generation_id,
                    r.member_id.clone(),
                    r.group_instance_id.clone(),
                )
                .await
            }
        };
        Reply::body(HeartbeatResponse {
            error_code: count_error(broker, ApiKey::Heartbeat, code),
            ..HeartbeatResponse::default()
        })
    })
}

pub(super) fn leave_group<'a>(broker: &'a Broker, request: &'a Request, listener: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, LeaveGroup);
        let version = request.header.api_version;
        let members: Vec<(String, Option<String>)> = if version >= 3 {
            r.members
                .iter()
                .map(|m| (m.member_id.clone(), m.group_instance_id.clone()))
                .collect()
        } else {
            vec![(r.member_id.clone(), None)]
        };
        let (top, each) = match coordinator_of(broker, listener, &r.group_id, Operation::Read) {
            Err(code) => (code, Vec::new()),
            Ok(c) => c.leave(r.group_id.clone(), members.clone()).await,
        };
        if version < 3 {
            // v0-2 carry the one member's error at the top level.
            let code = if top != ErrorCode::None {
                top
            } else {
                each.first().copied().unwrap_or(ErrorCode::None)
            };
            return Reply::body(LeaveGroupResponse {
                error_code: count_error(broker, ApiKey::LeaveGroup, code),
                ..LeaveGroupResponse::default()
            });
        }
        Reply::body(LeaveGroupResponse {
            error_code: count_error(broker, ApiKey::LeaveGroup, top),
            members: members
                .into_iter()
                .zip(each)
                .map(|((member_id, group_instance_id), code)| MemberResponse {
                    member_id,
                    group_instance_id,
                    error_code: count_error(broker, ApiKey::LeaveGroup, code),
                    ..MemberResponse::default()
                })
                .collect(),
            ..LeaveGroupResponse::default()
        })
    })
}

pub(super) fn offset_commit<'a>(broker: &'a Broker, request: &'a Request, listener: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, OffsetCommit);
        let version = request.header.api_version;
        // Unknown topics or partitions are answered here; the rest go to the coordinator.
        // Known means in the metadata: the partition may be led by any broker of the cluster.
        let image = broker.cluster.image();
        let mut known = Vec::new();
        let mut codes: Vec<Vec<ErrorCode>> = Vec::with_capacity(r.topics.len());
        // READ on the group first (all partitions GROUP_AUTHORIZATION_FAILED), then on each topic.
        let group_refused = !broker.authorize(listener, Operation::Read, ResourceType::Group, &r.group_id);
        for t in &r.topics {
            let mut topic_codes = Vec::with_capacity(t.partitions.len());
            let readable = !group_refused && broker.authorize(listener, Operation::Read, ResourceType::Topic, &t.name);
            for p in &t.partitions {
                if group_refused {
                    topic_codes.push(ErrorCode::GroupAuthorizationFailed);
                } else if !readable {
                    topic_codes.push(ErrorCode::TopicAuthorizationFailed);
                } else if image.partition(&t.name, p.partition_index).is_some() {
                    known.push((
                        t.name.clone(),
                        p.partition_index,
                        p.committed_offset,
                        p.committed_leader_epoch,
                        p.committed_metadata.clone(),
                    ));
                    topic_codes.push(ErrorCode::None);
                } else {
                    topic_codes.push(ErrorCode::UnknownTopicOrPartition);
                }
            }
            codes.push(topic_codes);
        }
        let results = if known.is_empty() {
            Vec::new()
        } else {
            match coordinator_of(broker, listener, &r.group_id, Operation::Read) {
                Err(code) => vec![code; known.len()],
                Ok(c) => {
                    c.commit(CommitRequest {
                        group_id: r.group_id.clone(),
                        generation: r.generation_id_or_member_epoch,
                        member_id: r.member_id.clone(),
                        instance_id: r.group_instance_id.clone(),
                        retention_ms: if (2..=4).contains(&version) {
                            r.retention_time_ms
                        } else {
                            -1
                        },
                        version,
                        partitions: known,
                    })
                    .await
                }
            }
        };
        let mut results = results.into_iter();
        let topics = r
            .topics
            .iter()
            .zip(codes)
            .map(|(t, topic_codes)| OffsetCommitResponseTopic {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .zip(topic_codes)
                    .map(|(p, code)| {
                        let code = if code == ErrorCode::None {
                            results.next().unwrap_or(ErrorCode::UnknownServerError)
                        } else {
                            code
                        };
                        OffsetCommitResponsePartition {
                            partition_index: p.partition_index,
                            error_code: count_error(broker, ApiKey::OffsetCommit, code),
                            ..OffsetCommitResponsePartition::default()
                        }
                    })
                    .collect(),
                ..OffsetCommitResponseTopic::default()
            })
            .collect();
        Reply::body(OffsetCommitResponse {
            topics,
            ..OffsetCommitResponse::default()
        })
    })
}

/// One group's OffsetFetch answer: its topics, or a group-level error.
async fn fetch_group(
    broker: &Broker,
    listener: &Listener,
    group_id: &str,
    topics: Option<&Vec<OffsetFetchRequestTopic>>,
    member: Option<(Option<String>, i32)>,
) -> Result<Vec<OffsetFetchResponseTopic>, ErrorCode> {
    let c = coordinator_of(broker, listener, group_id, Operation::Describe)?;
    let wanted = topics.map(|ts| {
        ts.iter()
            .map(|t| (t.name.clone(), t.partition_indexes.clone()))
            .collect::<Vec<_>>()
    });
    let named = wanted.is_some();
    let fetched = c.fetch(group_id.to_string(), wanted, member).await?;
    // Group the answers by topic, in the order they came (request order, or sorted for "all").
    let mut out: Vec<OffsetFetchResponseTopic> = Vec::new();
    for (topic, partition, offset) in fetched {
        // Topics the principal may not DESCRIBE: left out of "all", TOPIC_AUTHORIZATION_FAILED when named.
        let described = if named {
            broker.authorize(listener, Operation::Describe, ResourceType::Topic, &topic)
        } else {
            broker.authorize_quietly(listener, Operation::Describe, ResourceType::Topic, &topic)
        };
        if !described && !named {
            continue;
        }
        let offset = if described { offset } else { None };
        let part = match offset {
            _ if !described => OffsetFetchResponsePartition {
                partition_index: partition,
                committed_offset: -1,
                committed_leader_epoch: -1,
                error_code: ErrorCode::TopicAuthorizationFailed.code(),
                ..OffsetFetchResponsePartition::default()
            },
            Some(o) => OffsetFetchResponsePartition {
                partition_index: partition,
                committed_offset: o.offset,
                committed_leader_epoch: o.leader_epoch,
                metadata: Some(o.metadata),
                ..OffsetFetchResponsePartition::default()
            },
            None => OffsetFetchResponsePartition {
                partition_index: partition,
                committed_offset: -1,
                committed_leader_epoch: -1,
                metadata: Some(String::new()),
                ..OffsetFetchResponsePartition::default()
            },
        };
        match out.last_mut() {
            Some(t) if t.name == topic => t.partitions.push(part),
            _ => out.push(OffsetFetchResponseTopic {
                name: topic,
                partitions: vec![part],
                ..OffsetFetchResponseTopic::default()
            }),
        }
    }
    Ok(out)
}

pub(super) fn offset_fetch<'a>(broker: &'a Broker, request: &'a Request, listener: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, OffsetFetch);
        let version = request.header.api_version;
        if version >= 8 {
            let mut groups = Vec::with_capacity(r.groups.len());
            for g in &r.groups {
                // v9+: a KIP-848 member's fetch carries its member id and epoch, checked by its group.
                let member = (version >= 9).then(|| (g.member_id.clone(), g.member_epoch));
                groups.push(
                    match fetch_group(broker, listener, &g.group_id, g.topics.as_ref(), member).await {
                        Ok(topics) => OffsetFetchResponseGroup {
                            group_id: g.group_id.clone(),
                            topics,
                            ..OffsetFetchResponseGroup::default()
                        },
                        Err(code) => OffsetFetchResponseGroup {
                            group_id: g.group_id.clone(),
                            error_code: count_error(broker, ApiKey::OffsetFetch, code),
                            ..OffsetFetchResponseGroup::default()
                        },
                    },
                );
            }
            return Reply::body(OffsetFetchResponse {
                groups,
                ..OffsetFetchResponse::default()
            });
        }
        // v0-1: an empty topic list is not "all"; v2-7: null is.
        match fetch_group(broker, listener, &r.group_id, r.topics.as_ref(), None).await {
            Ok(topics) => Reply::body(OffsetFetchResponse {
                topics,
                ..OffsetFetchResponse::default()
            }),
            Err(code) if version >= 2 => Reply::body(OffsetFetchResponse {
                error_code: count_error(broker, ApiKey::OffsetFetch, code),
                ..OffsetFetchResponse::default()
            }),
            // v0-1 have no top-level error: it is copied into every partition, with offset -1.
            Err(code) => Reply::body(OffsetFetchResponse {
                topics: r
                    .topics
                    .iter()
                    .flatten()
                    .map(|t| OffsetFetchResponseTopic {
                        name: t.name.clone(),
                        partitions: t
                            .partition_indexes
                            .iter()
                            .map(|p| OffsetFetchResponsePartition {
                                partition_index: *p,
                                committed_offset: -1,
                                committed_leader_epoch: -1,
                                metadata: Some(String::new()),
                                error_code: count_error(broker, ApiKey::OffsetFetch, code),
                                ..OffsetFetchResponsePartition::default()
                            })
                            .collect(),
                        ..OffsetFetchResponseTopic::default()
                    })
                    .collect(),
                ..OffsetFetchResponse::default()
            }),
        }
    })
}

pub(super) fn list_groups<'a>(broker: &'a Broker, request: &'a Request, listener: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, ListGroups);
        // v5+ may filter by type: `classic` or `consumer` (KIP-848); other types exist nowhere here.
        let types: Vec<String> = r.types_filter.iter().map(|t| t.trim().to_ascii_lowercase()).collect();
        let listed = match coordinator(broker) {
            Err(code) => {
                return Reply::body(ListGroupsResponse {
                    error_code: count_error(broker, ApiKey::ListGroups, code),
                    ..ListGroupsResponse::default()
                })
            }
            Ok(c) => c.list(r.states_filter.clone()).await.unwrap_or_default(),
        };
        // Kafka: every group with DESCRIBE on the cluster, else those with DESCRIBE on the group.
        let all = broker.authorize_quietly(
            listener,
            Operation::Describe,
            ResourceType::Cluster,
            security::acl::CLUSTER_NAME,
        );
        Reply::body(ListGroupsResponse {
            groups: listed
                .into_iter()
                .filter(|(_, _, _, group_type)| types.is_empty() || types.iter().any(|t| t == group_type))
                .filter(|(group_id, ..)| {
                    all || broker.authorize_quietly(listener, Operation::Describe, ResourceType::Group, group_id)
                })
                .map(|(group_id, protocol_type, state, group_type)| ListedGroup {
                    group_id,
                    protocol_type,
                    group_state: state.to_string(),
                    group_type: group_type.into(),
                    ..ListedGroup::default()
                })
                .collect(),
            ..ListGroupsResponse::default()
        })
    })
}

pub(super) fn describe_groups<'a>(broker: &'a Broker, request: &'a Request, listener: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, DescribeGroups);
        let version = request.header.api_version;
        let operations_of = |group: &str| {
            operations::if_asked(
                r.include_authorized_operations,
                broker.authorized_operations(listener, ResourceType::Group, group),
            )
        };
        // DESCRIBE on each group; the others are answered GROUP_AUTHORIZATION_FAILED.
        let allowed: Vec<String> = r
            .groups
            .iter()
            .filter(|g| broker.authorize(listener, Operation::Describe, ResourceType::Group, g))
            .cloned()
            .collect();
        let described = match coordinator(broker) {
            Ok(c) => c
                .describe(allowed.clone(), version >= 6)
                .await
                .ok_or(ErrorCode::CoordinatorNotAvailable),
            Err(code) => Err(code),
        };
        let groups = match described {
            Err(code) => r
                .groups
                .iter()
                .map(|g| DescribedGroup {
                    error_code: count_error(broker, ApiKey::DescribeGroups, code),
                    group_id: g.clone(),
                    authorized_operations: operations_of(g),
                    ..DescribedGroup::default()
                })
                .collect(),
            Ok(descriptions) => {
                let mut descriptions = descriptions.into_iter();
                r.groups
                    .iter()
                    .map(|g| {
                        if !allowed.contains(g) {
                            return DescribedGroup {
                                error_code: count_error(
                                    broker,
                                    ApiKey::DescribeGroups,
                                    ErrorCode::GroupAuthorizationFailed,
                                ),
                                group_id: g.clone(),
                                authorized_operations: i32::MIN,
                                ..DescribedGroup::default()
                            };
                        }
                        let Some(d) = descriptions.next() else {
                            return DescribedGroup {
                                error_code: count_error(broker, ApiKey::DescribeGroups, ErrorCode::UnknownServerError),
                                group_id: g.clone(),
                                ..DescribedGroup::default()
                            };
                        };
                        DescribedGroup {
                            error_code: count_error(broker, ApiKey::DescribeGroups, d.error),
                            error_message: (d.error != ErrorCode::None)
                                .then(|| format!("group {} not found", d.group_id)),
                            group_state: d.state.to_string(),
                            protocol_type: d.protocol_type,
                            protocol_data: d.protocol_data,
                            members: d
                                .members
                                .into_iter()
                                .map(|m| DescribedGroupMember {
                                    member_id: m.member_id,
                                    group_instance_id: m.instance_id,
                                    client_id: m.client_id,
                                    client_host: m.client_host,
                                    member_metadata: m.metadata,
                                    member_assignment: m.assignment,
                                    ..DescribedGroupMember::default()
                                })
                                .collect(),
                            authorized_operations: operations_of(&d.group_id),
                            group_id: d.group_id,
                            ..DescribedGroup::default()
                        }
                    })
                    .collect()
            }
        };
        Reply::body(DescribeGroupsResponse {
            groups,
            ..DescribeGroupsResponse::default()
        })
    })
}

pub(super) fn delete_groups<'a>(broker: &'a Broker, request: &'a Request, listener: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, DeleteGroups);
        // DELETE on each group; the others are answered GROUP_AUTHORIZATION_FAILED.
        let allowed: Vec<String> = r
            .groups_names
            .iter()
            .filter(|g| broker.authorize(listener, Operation::Delete, ResourceType::Group, g))
            .cloned()
            .collect();
        let mut deleted = match coordinator(broker) {
            Err(code) => vec![code; allowed.len()],
            Ok(c) if !allowed.is_empty() => c.delete_groups(allowed.clone()).await,
            Ok(_) => Vec::new(),
        }
        .into_iter();
        let codes: Vec<ErrorCode> = r
            .groups_names
            .iter()
            .map(|g| {
                if allowed.contains(g) {
                    deleted.next().unwrap_or(ErrorCode::UnknownServerError)
                } else {
                    ErrorCode::GroupAuthorizationFailed
                }
            })
            .collect();
        Reply::body(DeleteGroupsResponse {
            results: r
                .groups_names
                .iter()
                .zip(codes)
                .map(|(g, code)| DeletableGroupResult {
                    group_id: g.clone(),
                    error_code: count_error(broker, ApiKey::DeleteGroups, code),
                    ..DeletableGroupResult::default()
                })
                .collect(),
            ..DeleteGroupsResponse::default()
        })
    })
}

pub(super) fn offset_delete<'a>(broker: &'a Broker, request: &'a Request, listener: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, OffsetDelete);
        // DELETE on the group, then READ on each topic (the others: TOPIC_AUTHORIZATION_FAILED).
        let group = coordinator_of(broker, listener, &r.group_id, Operation::Delete);
        let readable: Vec<bool> = r
            .topics
            .iter()
            .map(|t| group.is_ok() && broker.authorize(listener, Operation::Read, ResourceType::Topic, &t.name))
            .collect();
        let partitions: Vec<(String, i32)> = r
            .topics
            .iter()
            .zip(&readable)
            .filter(|(_, readable)| **readable)
            .flat_map(|(t, _)| t.partitions.iter().map(|p| (t.name.clone(), p.partition_index)))
            .collect();
        let (top, each) = match group {
            Err(code) => (code, Vec::new()),
            Ok(_) if partitions.is_empty() => (ErrorCode::None, Vec::new()),
            Ok(c) => c.delete_offsets(r.group_id.clone(), partitions).await,
        };
        if top != ErrorCode::None {
            return Reply::body(OffsetDeleteResponse {
                error_code: count_error(broker, ApiKey::OffsetDelete, top),
                ..OffsetDeleteResponse::default()
            });
        }
        let mut each = each.into_iter();
        Reply::body(OffsetDeleteResponse {
            topics: r
                .topics
                .iter()
                .zip(readable)
                .map(|(t, readable)| OffsetDeleteResponseTopic {
                    name: t.name.clone(),
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| OffsetDeleteResponsePartition {
                            partition_index: p.partition_index,
                            error_code: count_error(
                                broker,
                                ApiKey::OffsetDelete,
                                if readable {
                                    each.next().unwrap_or(ErrorCode::UnknownServerError)
                                } else {
                                    ErrorCode::TopicAuthorizationFailed
                                },
                            ),
                            ..OffsetDeleteResponsePartition::default()
                        })
                        .collect(),
                    ..OffsetDeleteResponseTopic::default()
                })
                .collect(),
            ..OffsetDeleteResponse::default()
        })
    })
}

/// ConsumerGroupHeartbeat (KIP-848): the wire request in the coordinator's terms (topic ids as kzero's),
/// and its answer back. The member's host is the connection's address, as Kafka records it.
pub(super) fn consumer_group_heartbeat<'a>(
    broker: &'a Broker,
    request: &'a Request,
    listener: &'a Listener,
) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, ConsumerGroupHeartbeat);
        // READ on the group, and DESCRIBE on every subscribed topic (Kafka refuses a subscription to a topic
        // the member may not see).
        let c = coordinator_of(broker, listener, &r.group_id, Operation::Read).and_then(|c| {
            let hidden = r
                .subscribed_topic_names
                .iter()
                .flatten()
                .any(|topic| !broker.authorize(listener, Operation::Describe, ResourceType::Topic, topic));
            if hidden {
                Err(ErrorCode::TopicAuthorizationFailed)
            } else {
                Ok(c)
            }
        });
        let c = match c {
            Ok(c) => c,
            Err(code) => {
                return Reply::body(ConsumerGroupHeartbeatResponse {
                    error_code: count_error(broker, ApiKey::ConsumerGroupHeartbeat, code),
                    ..ConsumerGroupHeartbeatResponse::default()
                })
            }
        };
        let req = consumer::HeartbeatRequest {
            version: request.header.api_version,
            group_id: r.group_id.clone(),
            member_id: r.member_id.clone(),
            member_epoch: r.member_epoch,
            instance_id: r.instance_id.clone(),
            rack_id: r.rack_id.clone(),
            rebalance_timeout_ms: r.rebalance_timeout_ms,
            subscribed_topic_names: r.subscribed_topic_names.clone(),
            subscribed_topic_regex: r.subscribed_topic_regex.clone(),
            server_assignor: r.server_assignor.clone(),
            topic_partitions: r.topic_partitions.as_ref().map(|tps| {
                tps.iter()
                    .filter_map(|tp| TopicId::from_uuid(tp.topic_id).map(|id| (id, tp.partitions.clone())))
                    .collect()
            }),
            client_id: request.header.client_id.clone().unwrap_or_default(),
            client_host: listener.peer.map(|p| format!("/{}", p.ip())).unwrap_or_default(),
            describable: r
                .subscribed_topic_regex
                .as_deref()
                .is_some_and(|re| !re.is_empty())
                .then(|| broker.describable_topics(listener))
                .flatten(),
        };
        let answer = c.consumer_heartbeat(req).await;
        Reply::body(ConsumerGroupHeartbeatResponse {
            error_code: count_error(broker, ApiKey::ConsumerGroupHeartbeat, answer.error),
            error_message: answer.error_message,
            member_id: answer.member_id,
            member_epoch: answer.member_epoch,
            heartbeat_interval_ms: answer.heartbeat_interval_ms,
            assignment: answer.assignment.map(|a| ConsumerGroupHeartbeatAssignment {
                topic_partitions: a
                    .into_iter()
                    .map(|(id, partitions)| ConsumerGroupHeartbeatTopicPartitions {
                        topic_id: id.uuid(),
                        partitions: partitions.into_iter().collect(),
                        ..ConsumerGroupHeartbeatTopicPartitions::default()
                    })
                    .collect(),
                ..ConsumerGroupHeartbeatAssignment::default()
            }),
            ..ConsumerGroupHeartbeatResponse::default()
        })
    })
}

fn described_partitions(tps: Vec<consumer::DescribedTopicPartitions>) -> ConsumerGroupDescribeAssignment {
    ConsumerGroupDescribeAssignment {
        topic_partitions: tps
            .into_iter()
            .map(|t| ConsumerGroupDescribeTopicPartitions {
                topic_id: t.topic_id.uuid(),
                topic_name: t.topic_name,
                partitions: t.partitions,
                ..ConsumerGroupDescribeTopicPartitions::default()
            })
            .collect(),
        ..ConsumerGroupDescribeAssignment::default()
    }
}

/// ConsumerGroupDescribe (KIP-848): a group that is not a consumer group is GROUP_ID_NOT_FOUND.
pub(super) fn consumer_group_describe<'a>(
    broker: &'a Broker,
    request: &'a Request,
    listener: &'a Listener,
) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, ConsumerGroupDescribe);
        let operations_of = |group: &str| {
            operations::if_asked(
                r.include_authorized_operations,
                broker.authorized_operations(listener, ResourceType::Group, group),
            )
        };
        // DESCRIBE on each group; the others are answered GROUP_AUTHORIZATION_FAILED.
        let refused: std::collections::HashSet<&str> = r
            .group_ids
            .iter()
            .filter(|g| !broker.authorize(listener, Operation::Describe, ResourceType::Group, g))
            .map(|g| g.as_str())
            .collect();
        let described = match coordinator(broker) {
            Ok(c) => c
                .consumer_describe(r.group_ids.clone())
                .await
                .ok_or(ErrorCode::CoordinatorNotAvailable),
            Err(code) => Err(code),
        };
        let groups = match described {
            Err(code) => r
                .group_ids
                .iter()
                .map(|g| ConsumerGroupDescribedGroup {
                    error_code: count_error(broker, ApiKey::ConsumerGroupDescribe, code),
                    group_id: g.clone(),
                    authorized_operations: operations_of(g),
                    ..ConsumerGroupDescribedGroup::default()
                })
                .collect(),
            Ok(groups) => groups
                .into_iter()
                .map(|d| {
                    if refused.contains(d.group_id.as_str()) {
                        return ConsumerGroupDescribedGroup {
                            error_code: count_error(
                                broker,
                                ApiKey::ConsumerGroupDescribe,
                                ErrorCode::GroupAuthorizationFailed,
                            ),
                            authorized_operations: i32::MIN,
                            group_id: d.group_id,
                            ..ConsumerGroupDescribedGroup::default()
                        };
                    }
                    // Kafka hides a group whose assignments name a topic the client may not describe.
                    let hidden = d
                        .members
                        .iter()
                        .flat_map(|m| m.assignment.iter().chain(&m.target_assignment))
                        .any(|t| !broker.authorize(listener, Operation::Describe, ResourceType::Topic, &t.topic_name));
                    if hidden {
                        return ConsumerGroupDescribedGroup {
                            error_code: count_error(
                                broker,
                                ApiKey::ConsumerGroupDescribe,
                                ErrorCode::TopicAuthorizationFailed,
                            ),
                            error_message: Some(
                                "The group has described topic(s) that the client is not authorized to describe."
                                    .into(),
                            ),
                            authorized_operations: operations_of(&d.group_id),
                            group_id: d.group_id,
                            ..ConsumerGroupDescribedGroup::default()
                        };
                    }
                    ConsumerGroupDescribedGroup {
                        error_code: count_error(broker, ApiKey::ConsumerGroupDescribe, d.error),
                        error_message: d.error_message.or_else(|| {
                            (d.error == ErrorCode::GroupIdNotFound).then(|| format!("group {} not found", d.group_id))
                        }),
                        authorized_operations: operations_of(&d.group_id),
                        group_id: d.group_id,
                        group_state: d.state.to_string(),
                        group_epoch: d.group_epoch,
                        assignment_epoch: d.assignment_epoch,
                        assignor_name: d.assignor_name,
                        members: d
                            .members
                            .into_iter()
                            .map(|m| ConsumerGroupDescribeMember {
                                member_id: m.member_id,
                                instance_id: m.instance_id,
                                rack_id: m.rack_id,
                                member_epoch: m.member_epoch,
                                client_id: m.client_id,
                                client_host: m.client_host,
                                subscribed_topic_names: m.subscribed_topic_names,
                                subscribed_topic_regex: m.subscribed_topic_regex,
                                assignment: described_partitions(m.assignment),
                                target_assignment: described_partitions(m.target_assignment),
                                // v1: 1 = a member of the consumer protocol (KIP-1099).
                                member_type: 1,
                                ..ConsumerGroupDescribeMember::default()
                            })
                            .collect(),
                        ..ConsumerGroupDescribedGroup::default()
                    }
                })
                .collect(),
        };
        Reply::body(ConsumerGroupDescribeResponse {
            groups,
            ..ConsumerGroupDescribeResponse::default()
        })
    })
}
