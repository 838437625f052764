//! The classic consumer-group protocol: FindCoordinator (10), JoinGroup (11), Heartbeat (12),
//! LeaveGroup (13), SyncGroup (14), DescribeGroups (15), ListGroups (16) and DeleteGroups (42).
//!
//! Versions that changed the shape of a message:
//!
//! ```text
//! FindCoordinator  v0 Key | v1-3 Key, KeyType | v4+ KeyType, CoordinatorKeys[] (batched)   flexible 3+
//!                  response v0-3 one coordinator | v4+ Coordinators[Key, NodeId, Host, Port, ErrorCode, ErrorMessage]
//! JoinGroup        v1+ RebalanceTimeoutMs, v5+ GroupInstanceId, v8+ Reason                   flexible 6+
//!                  response v2+ ThrottleTimeMs, v5+ Members[].GroupInstanceId, v7+ ProtocolType and a nullable
//!                  ProtocolName, v9+ SkipAssignment
//! Heartbeat        v3+ GroupInstanceId                                                       flexible 4+
//! LeaveGroup       v0-2 MemberId | v3+ Members[MemberId, GroupInstanceId, Reason (v5+)]      flexible 4+
//!                  response v3+ Members[MemberId, GroupInstanceId, ErrorCode]
//! SyncGroup        v3+ GroupInstanceId, v5+ ProtocolType and ProtocolName (both directions)  flexible 4+
//! DescribeGroups   v3+ IncludeAuthorizedOperations / AuthorizedOperations, v4+ member
//!                  GroupInstanceId, v6+ per-group ErrorMessage                               flexible 5+
//! ListGroups       v4+ StatesFilter / GroupState, v5+ TypesFilter / GroupType               flexible 3+
//! DeleteGroups     GroupsNames[] -> Results[GroupId, ErrorCode]                              flexible 2+
//! ```

use bytes::Bytes;

use crate::schema::wire_struct;

wire_struct! {
    /// FindCoordinator request ([protocol](https://kafka.apache.org/protocol#The_Messages_FindCoordinator)).
    pub struct FindCoordinatorRequest {
        /// The coordinator key (the group id or transactional id), v0-3.
        pub key: String [0..=3];
        /// 0 = group, 1 = transaction, 2 = share group (v6+).
        pub key_type: i8 [1..=99];
        /// The coordinator keys (v4+, batched lookups, KIP-699).
        pub coordinator_keys: Vec<String> [4..=99];
    }
}

wire_struct! {
    /// FindCoordinator response ([protocol](https://kafka.apache.org/protocol#The_Messages_FindCoordinator)).
    pub struct FindCoordinatorResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [1..=99];
        /// The error code (v0-3).
        pub error_code: i16 [0..=3];
        /// The error message (v1-3).
        pub error_message: Option<String> [1..=3];
        /// The coordinator's broker id (v0-3), -1 on error.
        pub node_id: i32 [0..=3];
        /// The coordinator's host (v0-3), empty on error.
        pub host: String [0..=3];
        /// The coordinator's port (v0-3), -1 on error.
        pub port: i32 [0..=3];
        /// One result per requested key (v4+).
        pub coordinators: Vec<Coordinator> [4..=99];
    }
}

wire_struct! {
    /// The coordinator of one key in a batched FindCoordinator response (v4+).
    pub struct Coordinator {
        /// The coordinator key.
        pub key: String [4..=99];
        /// The coordinator's broker id, -1 on error.
        pub node_id: i32 [4..=99];
        /// The coordinator's host, empty on error.
        pub host: String [4..=99];
        /// The coordinator's port, -1 on error.
        pub port: i32 [4..=99];
        /// The error code.
        pub error_code: i16 [4..=99];
        /// The error message.
        pub error_message: Option<String> [4..=99];
    }
}

wire_struct! {
    /// JoinGroup request ([protocol](https://kafka.apache.org/protocol#The_Messages_JoinGroup)).
    pub struct JoinGroupRequest {
        /// The group id.
        pub group_id: String [0..=99];
        /// The session timeout.
        pub session_timeout_ms: i32 [0..=99];
        /// The rebalance timeout (v1+; v0 uses the session timeout).
        pub rebalance_timeout_ms: i32 [1..=99] = -1;
        /// The member id, empty on the first join.
        pub member_id: String [0..=99];
        /// The static member's instance id (v5+), null for a dynamic member.
        pub group_instance_id: Option<String> [5..=99];
        /// The protocol type, e.g. `consumer`.
        pub protocol_type: String [0..=99];
        /// The protocols the member supports, in preference order.
        pub protocols: Vec<JoinGroupRequestProtocol> [0..=99];
        /// Why the member (re)joins (v8+, KIP-800).
        pub reason: Option<String> [8..=99];
    }
}

wire_struct! {
    /// A protocol a joining member supports.
    pub struct JoinGroupRequestProtocol {
        /// The protocol name, e.g. `range`.
        pub name: String [0..=99];
        /// The protocol metadata.
        pub metadata: Bytes [0..=99];
    }
}

wire_struct! {
    /// JoinGroup response ([protocol](https://kafka.apache.org/protocol#The_Messages_JoinGroup)).
    ///
    /// `protocol_name` is nullable from v7 only; [`JoinGroupResponse::for_version`] applies Kafka's rule
    /// (null becomes `""` below v7, `""` becomes null from v7).
    pub struct JoinGroupResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [2..=99];
        /// The error code.
        pub error_code: i16 [0..=99];
        /// The generation id.
        pub generation_id: i32 [0..=99] = -1;
        /// The group's protocol type (v7+, KIP-559).
        pub protocol_type: Option<String> [7..=99];
        /// The chosen protocol; null allowed from v7.
        pub protocol_name: Option<String> [0..=99] nullable 7 = Some(String::new());
        /// The leader's member id.
        pub leader: String [0..=99];
        /// True if the leader must skip the assignment (v9+, a static leader rejoining a stable group).
        pub skip_assignment: bool [9..=99];
        /// This member's id.
        pub member_id: String [0..=99];
        /// All members, sent to the leader only.
        pub members: Vec<JoinGroupResponseMember> [0..=99];
    }
}

impl JoinGroupResponse {
    /// The response as Kafka sends it at `version`: below v7 a null protocol name is sent as `""`, and from
    /// v7 an empty one is sent as null (`JoinGroupResponse`'s constructor in Kafka's clients).
    pub fn for_version(mut self, version: i16) -> Self {
        if version < 7 && self.protocol_name.is_none() {
            self.protocol_name = Some(String::new());
        }
        if version >= 7 && self.protocol_name.as_deref() == Some("") {
            self.protocol_name = None;
        }
        self
    }
}

wire_struct! {
    /// A member in a JoinGroup response.
    pub struct JoinGroupResponseMember {
        /// The member id.
        pub member_id: String [0..=99];
        /// The member's instance id (v5+), null for a dynamic member.
        pub group_instance_id: Option<String> [5..=99];
        /// The member's protocol metadata.
        pub metadata: Bytes [0..=99];
    }
}

wire_struct! {
    /// SyncGroup request ([protocol](https://kafka.apache.org/protocol#The_Messages_SyncGroup)).
    pub struct SyncGroupRequest {
        /// The group id.
        pub group_id: String [0..=99];
        /// The generation id.
        pub generation_id: i32 [0..=99];
        /// The member id.
        pub member_id: String [0..=99];
        /// The static member's instance id (v3+).
        pub group_instance_id: Option<String> [3..=99];
        /// The protocol type the member expects (v5+; Kafka rejects a null one).
        pub protocol_type: Option<String> [5..=99];
        /// The protocol name the member expects (v5+; Kafka rejects a null one).
        pub protocol_name: Option<String> [5..=99];
        /// The assignments, sent by the leader only.
        pub assignments: Vec<SyncGroupRequestAssignment> [0..=99];
    }
}

wire_struct! {
    /// One member's assignment in a SyncGroup request.
    pub struct SyncGroupRequestAssignment {
        /// The member id.
        pub member_id: String [0..=99];
        /// The assignment.
        pub assignment: Bytes [0..=99];
    }
}

wire_struct! {
    /// SyncGroup response ([protocol](https://kafka.apache.org/protocol#The_Messages_SyncGroup)).
    pub struct SyncGroupResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [1..=99];
        /// The error code.
        pub error_code: i16 [0..=99];
        /// The group's protocol type (v5+).
        pub protocol_type: Option<String> [5..=99];
        /// The group's protocol name (v5+).
        pub protocol_name: Option<String> [5..=99];
        /// This member's assignment.
        pub assignment: Bytes [0..=99];
    }
}

wire_struct! {
    /// Heartbeat request ([protocol](https://kafka.apache.org/protocol#The_Messages_Heartbeat)).
    pub struct HeartbeatRequest {
        /// The group id.
        pub group_id: String [0..=99];
        /// The generation id.
        pub generation_id: i32 [0..=99];
        /// The member id.
        pub member_id: String [0..=99];
        /// The static member's instance id (v3+).
        pub group_instance_id: Option<String> [3..=99];
    }
}

wire_struct! {
    /// Heartbeat response ([protocol](https://kafka.apache.org/protocol#The_Messages_Heartbeat)).
    pub struct HeartbeatResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [1..=99];
        /// The error code.
        pub error_code: i16 [0..=99];
    }
}

wire_struct! {
    /// LeaveGroup request ([protocol](https://kafka.apache.org/protocol#The_Messages_LeaveGroup)).
    ///
    /// v0-2 name one member in `member_id`; v3+ carry a batch in `members`.
    pub struct LeaveGroupRequest {
        /// The group id.
        pub group_id: String [0..=99];
        /// The member id (v0-2).
        pub member_id: String [0..=2];
        /// The leaving members (v3+).
        pub members: Vec<MemberIdentity> [3..=99];
    }
}

wire_struct! {
    /// A leaving member in a LeaveGroup request (v3+).
    pub struct MemberIdentity {
        /// The member id; empty to remove a static member by its instance id.
        pub member_id: String [3..=99];
        /// The static member's instance id.
        pub group_instance_id: Option<String> [3..=99];
        /// Why the member leaves (v5+, KIP-800).
        pub reason: Option<String> [5..=99];
    }
}

wire_struct! {
    /// LeaveGroup response ([protocol](https://kafka.apache.org/protocol#The_Messages_LeaveGroup)).
    pub struct LeaveGroupResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [1..=99];
        /// The error code (in v0-2, the one member's error).
        pub error_code: i16 [0..=99];
        /// One result per leaving member (v3+).
        pub members: Vec<MemberResponse> [3..=99];
    }
}

wire_struct! {
    /// The result for one leaving member in a LeaveGroup response (v3+).
    pub struct MemberResponse {
        /// The member id.
        pub member_id: String [3..=99];
        /// The member's instance id.
        pub group_instance_id: Option<String> [3..=99];
        /// The error code.
        pub error_code: i16 [3..=99];
    }
}

wire_struct! {
    /// ListGroups request ([protocol](https://kafka.apache.org/protocol#The_Messages_ListGroups)).
    pub struct ListGroupsRequest {
        /// Only groups in these states (v4+, KIP-518, case-insensitive); empty for all.
        pub states_filter: Vec<String> [4..=99];
        /// Only groups of these types (v5+, KIP-848: `classic`, `consumer`, `share`); empty for all.
        pub types_filter: Vec<String> [5..=99];
    }
}

wire_struct! {
    /// ListGroups response ([protocol](https://kafka.apache.org/protocol#The_Messages_ListGroups)).
    pub struct ListGroupsResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [1..=99];
        /// The error code.
        pub error_code: i16 [0..=99];
        /// The groups.
        pub groups: Vec<ListedGroup> [0..=99];
    }
}

wire_struct! {
    /// A group in a ListGroups response.
    pub struct ListedGroup {
        /// The group id.
        pub group_id: String [0..=99];
        /// The protocol type.
        pub protocol_type: String [0..=99];
        /// The group state, e.g. `Stable` (v4+).
        pub group_state: String [4..=99];
        /// The group type, e.g. `classic` (v5+).
        pub group_type: String [5..=99];
    }
}

wire_struct! {
    /// DescribeGroups request ([protocol](https://kafka.apache.org/protocol#The_Messages_DescribeGroups)).
    pub struct DescribeGroupsRequest {
        /// The group ids.
        pub groups: Vec<String> [0..=99];
        /// Whether to include the authorized operations (v3+).
        pub include_authorized_operations: bool [3..=99];
    }
}

wire_struct! {
    /// DescribeGroups response ([protocol](https://kafka.apache.org/protocol#The_Messages_DescribeGroups)).
    pub struct DescribeGroupsResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [1..=99];
        /// One entry per group.
        pub groups: Vec<DescribedGroup> [0..=99];
    }
}

wire_struct! {
    /// A described group.
    pub struct DescribedGroup {
        /// The error code (from v6, `GROUP_ID_NOT_FOUND` for an unknown group, KIP-1043).
        pub error_code: i16 [0..=99];
        /// The error message (v6+).
        pub error_message: Option<String> [6..=99];
        /// The group id.
        pub group_id: String [0..=99];
        /// The group state, e.g. `Stable`.
        pub group_state: String [0..=99];
        /// The protocol type.
        pub protocol_type: String [0..=99];
        /// The protocol (assignor) in use.
        pub protocol_data: String [0..=99];
        /// The members.
        pub members: Vec<DescribedGroupMember> [0..=99];
        /// A bit field of the operations the client may perform (v3+); `i32::MIN` when not requested.
        pub authorized_operations: i32 [3..=99] = i32::MIN;
    }
}

wire_struct! {
    /// A member of a described group.
    pub struct DescribedGroupMember {
        /// The member id.
        pub member_id: String [0..=99];
        /// The member's instance id (v4+).
        pub group_instance_id: Option<String> [4..=99];
        /// The client id.
        pub client_id: String [0..=99];
        /// The client host.
        pub client_host: String [0..=99];
        /// The member's protocol metadata.
        pub member_metadata: Bytes [0..=99];
        /// The member's assignment.
        pub member_assignment: Bytes [0..=99];
    }
}

wire_struct! {
    /// DeleteGroups request ([protocol](https://kafka.apache.org/protocol#The_Messages_DeleteGroups)).
    pub struct DeleteGroupsRequest {
        /// The group ids to delete.
        pub groups_names: Vec<String> [0..=99];
    }
}

wire_struct! {
    /// DeleteGroups response ([protocol](https://kafka.apache.org/protocol#The_Messages_DeleteGroups)).
    pub struct DeleteGroupsResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [0..=99];
        /// One result per group.
        pub results: Vec<DeletableGroupResult> [0..=99];
    }
}

wire_struct! {
    /// The result of deleting one group.
    pub struct DeletableGroupResult {
        /// The group id.
        pub group_id: String [0..=99];
        /// The error code, e.g. `NON_EMPTY_GROUP` or `GROUP_ID_NOT_FOUND`.
        pub error_code: i16 [0..=99];
    }
}
