//! The classic consumer-group protocol: FindCoordinator (10), JoinGroup (11), Heartbeat (12),
//! LeaveGroup (13), SyncGroup (14), DescribeGroups (15) and ListGroups (16).

use bytes::Bytes;

use crate::schema::wire_struct;

wire_struct! {
    /// FindCoordinator request ([protocol](https://kafka.apache.org/protocol#The_Messages_FindCoordinator)).
    pub struct FindCoordinatorRequest {
        /// The coordinator key (the group id or transactional id).
        pub key: String [0..=3];
        /// 0 = group, 1 = transaction.
        pub key_type: i8 [1..=99];
    }
}

wire_struct! {
    /// FindCoordinator response ([protocol](https://kafka.apache.org/protocol#The_Messages_FindCoordinator)).
    pub struct FindCoordinatorResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [1..=99];
        /// The error code.
        pub error_code: i16 [0..=3];
        /// The error message.
        pub error_message: Option<String> [1..=3];
        /// The coordinator's broker id.
        pub node_id: i32 [0..=3];
        /// The coordinator's host.
        pub host: String [0..=3];
        /// The coordinator's port.
        pub port: i32 [0..=3];
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
        /// The protocol type, e.g. `consumer`.
        pub protocol_type: String [0..=99];
        /// The protocols the member supports, in preference order.
        pub protocols: Vec<JoinGroupRequestProtocol> [0..=99];
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
    pub struct JoinGroupResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [2..=99];
        /// The error code.
        pub error_code: i16 [0..=99];
        /// The generation id.
        pub generation_id: i32 [0..=99] = -1;
        /// The chosen protocol.
        pub protocol_name: String [0..=99];
        /// The leader's member id.
        pub leader: String [0..=99];
        /// This member's id.
        pub member_id: String [0..=99];
        /// All members, sent to the leader only.
        pub members: Vec<JoinGroupResponseMember> [0..=99];
    }
}

wire_struct! {
    /// A member in a JoinGroup response.
    pub struct JoinGroupResponseMember {
        /// The member id.
        pub member_id: String [0..=99];
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
    pub struct LeaveGroupRequest {
        /// The group id.
        pub group_id: String [0..=99];
        /// The member id.
        pub member_id: String [0..=2];
    }
}

wire_struct! {
    /// LeaveGroup response ([protocol](https://kafka.apache.org/protocol#The_Messages_LeaveGroup)).
    pub struct LeaveGroupResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [1..=99];
        /// The error code.
        pub error_code: i16 [0..=99];
    }
}

wire_struct! {
    /// ListGroups request ([protocol](https://kafka.apache.org/protocol#The_Messages_ListGroups)); empty.
    pub struct ListGroupsRequest {}
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
    }
}

wire_struct! {
    /// DescribeGroups request ([protocol](https://kafka.apache.org/protocol#The_Messages_DescribeGroups)).
    pub struct DescribeGroupsRequest {
        /// The group ids.
        pub groups: Vec<String> [0..=99];
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
        /// The error code.
        pub error_code: i16 [0..=99];
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
    }
}

wire_struct! {
    /// A member of a described group.
    pub struct DescribedGroupMember {
        /// The member id.
        pub member_id: String [0..=99];
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
