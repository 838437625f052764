//! Request handlers, one file per API family, dispatched from one table (Kafka's `KafkaApis`).
//!
//! [`APIS`] lists every API the broker handles with its handler; dispatch looks the request's API up in
//! it, and ApiVersions advertises exactly its keys (with the codec's advertised ranges from
//! `protocol::API_TABLE`). So an API cannot be advertised without a handler, nor handled without being
//! advertised. A request for any other API closes the connection, as Kafka does for an API it does not
//! know. A handler decodes nothing (the codec did): it checks, calls the owner of the state
//! (the `ReplicaManager` for partitions; the group coordinator and controller will be peers of it), and
//! builds the response. Handlers that wait (produce, fetch, topic creation and deletion) are async.
//!
//! | file | APIs |
//! |---|---|
//! | `produce.rs` | Produce, InitProducerId |
//! | `fetch.rs` | Fetch, ListOffsets, OffsetForLeaderEpoch |
//! | `metadata.rs` | ApiVersions, Metadata |
//! | `admin.rs` | CreateTopics, DeleteTopics, CreatePartitions |
//! | `configs.rs` | DescribeConfigs, AlterConfigs, IncrementalAlterConfigs |
//! | `cluster.rs` | DescribeCluster, DescribeLogDirs, DeleteRecords, DescribeProducers |
//! | `security.rs` | SaslHandshake and SaslAuthenticate (outside SASL listeners), CreateAcls, DescribeAcls, DeleteAcls, DescribeUserScramCredentials, AlterUserScramCredentials |
//! | `group.rs` | FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, ListGroups, DescribeGroups, DeleteGroups, OffsetDelete, ConsumerGroupHeartbeat, ConsumerGroupDescribe |

use std::future::Future;
use std::pin::Pin;

use protocol::{ApiKey, Request};

use crate::broker::{Broker, Listener, Reply};

mod admin;
mod cluster;
mod configs;
mod fetch;
mod group;
mod metadata;
mod produce;
mod security;

/// A handler's future, borrowing the broker and the request.
pub(crate) type Pending<'a> = Pin<Box<dyn Future<Output = Reply> + Send + 'a>>;

/// How an API is handled.
#[derive(Clone, Copy)]
pub(crate) enum Handler {
    /// Answers without waiting.
    Now(fn(&Broker, &Request, &Listener) -> Reply),
    /// May wait (delayed operations, blocking file work).
    Later(for<'a> fn(&'a Broker, &'a Request, &'a Listener) -> Pending<'a>),
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Handler::Now(_) => "Handler::Now",
            Handler::Later(_) => "Handler::Later",
        })
    }
}

/// One handled API.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Api {
    pub(crate) key: ApiKey,
    pub(crate) handler: Handler,
}

/// Every API this broker handles, and how.
pub(crate) const APIS: &[Api] = &[
    Api {
        key: ApiKey::Produce,
        handler: Handler::Later(produce::produce),
    },
    Api {
        key: ApiKey::Fetch,
        handler: Handler::Later(fetch::fetch),
    },
    Api {
        key: ApiKey::ListOffsets,
        handler: Handler::Now(fetch::list_offsets),
    },
    Api {
        key: ApiKey::OffsetForLeaderEpoch,
        handler: Handler::Now(fetch::offset_for_leader_epoch),
    },
    Api {
        key: ApiKey::Metadata,
        handler: Handler::Later(metadata::metadata),
    },
    Api {
        key: ApiKey::ApiVersions,
        handler: Handler::Now(metadata::api_versions),
    },
    Api {
        key: ApiKey::CreateTopics,
        handler: Handler::Later(admin::create_topics),
    },
    Api {
        key: ApiKey::DeleteTopics,
        handler: Handler::Later(admin::delete_topics),
    },
    Api {
        key: ApiKey::InitProducerId,
        handler: Handler::Later(produce::init_producer_id),
    },
    Api {
        key: ApiKey::DescribeConfigs,
        handler: Handler::Now(configs::describe_configs),
    },
    Api {
        key: ApiKey::AlterConfigs,
        handler: Handler::Later(configs::alter_configs),
    },
    Api {
        key: ApiKey::IncrementalAlterConfigs,
        handler: Handler::Later(configs::incremental_alter_configs),
    },
    Api {
        key: ApiKey::CreatePartitions,
        handler: Handler::Later(admin::create_partitions),
    },
    Api {
        key: ApiKey::DeleteRecords,
        handler: Handler::Later(cluster::delete_records),
    },
    Api {
        key: ApiKey::DescribeCluster,
        handler: Handler::Now(cluster::describe_cluster),
    },
    Api {
        key: ApiKey::DescribeQuorum,
        handler: Handler::Later(cluster::describe_quorum),
    },
    Api {
        key: ApiKey::DescribeLogDirs,
        handler: Handler::Now(cluster::describe_log_dirs),
    },
    Api {
        key: ApiKey::DescribeProducers,
        handler: Handler::Later(cluster::describe_producers),
    },
    Api {
        key: ApiKey::OffsetCommit,
        handler: Handler::Later(group::offset_commit),
    },
    Api {
        key: ApiKey::OffsetFetch,
        handler: Handler::Later(group::offset_fetch),
    },
    Api {
        key: ApiKey::FindCoordinator,
        handler: Handler::Later(group::find_coordinator),
    },
    Api {
        key: ApiKey::JoinGroup,
        handler: Handler::Later(group::join_group),
    },
    Api {
        key: ApiKey::Heartbeat,
        handler: Handler::Later(group::heartbeat),
    },
    Api {
        key: ApiKey::LeaveGroup,
        handler: Handler::Later(group::leave_group),
    },
    Api {
        key: ApiKey::SyncGroup,
        handler: Handler::Later(group::sync_group),
    },
    Api {
        key: ApiKey::DescribeGroups,
        handler: Handler::Later(group::describe_groups),
    },
    Api {
        key: ApiKey::ListGroups,
        handler: Handler::Later(group::list_groups),
    },
    Api {
        key: ApiKey::DeleteGroups,
        handler: Handler::Later(group::delete_groups),
    },
    Api {
        key: ApiKey::OffsetDelete,
        handler: Handler::Later(group::offset_delete),
    },
    Api {
        key: ApiKey::ConsumerGroupHeartbeat,
        handler: Handler::Later(group::consumer_group_heartbeat),
    },
    Api {
        key: ApiKey::ConsumerGroupDescribe,
        handler: Handler::Later(group::consumer_group_describe),
    },
    Api {
        key: ApiKey::SaslHandshake,
        handler: Handler::Now(security::sasl_elsewhere),
    },
    Api {
        key: ApiKey::SaslAuthenticate,
        handler: Handler::Now(security::sasl_elsewhere),
    },
    Api {
        key: ApiKey::DescribeAcls,
        handler: Handler::Now(security::describe_acls),
    },
    Api {
        key: ApiKey::CreateAcls,
        handler: Handler::Later(security::create_acls),
    },
    Api {
        key: ApiKey::DeleteAcls,
        handler: Handler::Later(security::delete_acls),
    },
    Api {
        key: ApiKey::DescribeUserScramCredentials,
        handler: Handler::Now(security::describe_user_scram_credentials),
    },
    Api {
        key: ApiKey::AlterUserScramCredentials,
        handler: Handler::Later(security::alter_user_scram_credentials),
    },
];

const HANDLED: [ApiKey; APIS.len()] = {
    let mut keys = [ApiKey::ApiVersions; APIS.len()];
    let mut i = 0;
    while i < APIS.len() {
        keys[i] = APIS[i].key;
        i += 1;
    }
    keys
};

/// The APIs this broker handles, which ApiVersions advertises (with the codec's ranges): the keys of the
/// dispatch table.
pub const HANDLED_APIS: &[ApiKey] = &HANDLED;

/// The handler of an API, if the broker handles it.
pub(crate) fn handler(api: ApiKey) -> Option<Handler> {
    APIS.iter().find(|a| a.key == api).map(|a| a.handler)
}

/// Handles one request through the table. An API without a handler, or a version the broker does not
/// advertise (the codec decodes more versions than the broker implements the semantics of), closes the
/// connection without an answer, as Kafka does for an unsupported version. ApiVersions answers any version
/// itself (v0 with UNSUPPORTED_VERSION).
pub(crate) async fn dispatch(broker: &Broker, request: &Request, listener: &Listener) -> Reply {
    let api = request.header.api_key;
    let version = request.header.api_version;
    let (lowest, highest) = api.info().advertised;
    let advertised = api == ApiKey::ApiVersions || (lowest..=highest).contains(&version);
    match handler(api) {
        Some(Handler::Now(f)) if advertised => f(broker, request, listener),
        Some(Handler::Later(f)) if advertised => f(broker, request, listener).await,
        _ => {
            // Not advertised, so a client should never send it.
            tracing::info!(
                api = api.name(),
                version,
                "closing connection: API or version not advertised"
            );
            Reply::refuse()
        }
    }
}

/// The names given more than once (a request naming a topic or config twice is refused for that entry,
/// as Kafka refuses it).
pub(crate) fn repeated<'a>(names: impl Iterator<Item = &'a str>) -> std::collections::HashSet<&'a str> {
    let mut seen = std::collections::HashSet::new();
    names.filter(|n| !seen.insert(*n)).collect()
}

/// KIP-951's leader hints: a partition answered `NOT_LEADER_OR_FOLLOWER` or `FENCED_LEADER_EPOCH` carries the
/// leader the metadata names (Produce v10+, Fetch v12+), and the response the endpoints of those leaders on
/// the request's listener (Produce v10+, Fetch v16+), so the client goes there without a Metadata round trip.
pub(super) struct LeaderHints<'a> {
    broker: &'a Broker,
    listener: &'a Listener,
    /// Loaded at the first hint: a request without one never touches the metadata.
    image: Option<std::sync::Arc<::metadata::Image>>,
    endpoints: std::collections::BTreeMap<i32, protocol::NodeEndpoint>,
}

impl<'a> LeaderHints<'a> {
    pub(super) fn new(broker: &'a Broker, listener: &'a Listener) -> LeaderHints<'a> {
        LeaderHints {
            broker,
            listener,
            image: None,
            endpoints: std::collections::BTreeMap::new(),
        }
    }

    /// The leader to name for a partition answered `code` (the default, "unknown", for other codes).
    pub(super) fn hint(
        &mut self,
        topic: &str,
        partition: i32,
        code: protocol::ErrorCode,
    ) -> protocol::LeaderIdAndEpoch {
        use protocol::ErrorCode;
        if !matches!(code, ErrorCode::NotLeaderOrFollower | ErrorCode::FencedLeaderEpoch) {
            return protocol::LeaderIdAndEpoch::default();
        }
        let image = self.image.get_or_insert_with(|| self.broker.cluster.image());
        let Some(p) = image.partition(topic, partition).filter(|p| p.leader >= 0) else {
            return protocol::LeaderIdAndEpoch::default();
        };
        if let Some(b) = image.brokers.get(&p.leader).filter(|b| !b.fenced) {
            if let Some(e) = b.endpoints.iter().find(|e| e.name == self.listener.name()) {
                self.endpoints.insert(
                    b.id,
                    protocol::NodeEndpoint {
                        node_id: b.id,
                        host: e.host.clone(),
                        port: i32::from(e.port),
                        rack: b.rack.clone(),
                        ..protocol::NodeEndpoint::default()
                    },
                );
            }
        }
        protocol::LeaderIdAndEpoch {
            leader_id: p.leader,
            leader_epoch: p.leader_epoch,
            ..protocol::LeaderIdAndEpoch::default()
        }
    }

    /// The endpoints of the leaders named.
    pub(super) fn endpoints(self) -> Vec<protocol::NodeEndpoint> {
        self.endpoints.into_values().collect()
    }
}

/// Kafka's bit fields of authorized operations (`authorized_operations` in Metadata, DescribeCluster and
/// DescribeGroups): bit `n` set = ACL operation code `n` allowed, as `Broker::authorized_operations`
/// computes them (every operation the resource type supports without an authorizer).
pub(crate) mod operations {
    /// The value when the request did not ask.
    const NOT_ASKED: i32 = i32::MIN;

    /// What a response carries: `operations` if the request asked for them, else Kafka's "not asked".
    pub(crate) fn if_asked(asked: bool, operations: i32) -> i32 {
        if asked {
            operations
        } else {
            NOT_ASKED
        }
    }
}

/// The request's body as the handler's type; a body that does not match the table entry (impossible:
/// the codec decodes the body of the header's API) closes the connection rather than panicking.
macro_rules! body {
    ($request:expr, $variant:ident) => {
        match &$request.body {
            protocol::RequestBody::$variant(r) => r,
            other => {
                tracing::error!(api = other.api_key().name(), "dispatch table mismatch");
                return $crate::broker::Reply::refuse();
            }
        }
    };
}
pub(crate) use body;

#[cfg(test)]
mod tests;
