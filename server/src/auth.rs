//! Who a connection is and what it may do: security protocols, principals, the ACL authorizer built from
//! the metadata image, and SCRAM credentials looked up in it.
//!
//! The rules themselves (SCRAM, PLAIN, Kafka's ACL model) live in the sans-IO `security` crate; this module
//! is the broker's side: it turns the image's `AccessControlEntry` records into a
//! [`security::acl::Authorizer`] whenever they change, answers the handlers' `authorize` questions for a
//! connection's principal and address, and counts the denials by API.

use std::sync::Arc;

use arc_swap::ArcSwap;
use security::acl::{
    AccessControlEntry, AclBinding, Authorizer, Operation, PatternType, Permission, ResourcePattern, ResourceType,
};

use crate::broker::{Broker, Listener};

/// A listener's security protocol (Kafka's `SecurityProtocol`, with its wire ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityProtocol {
    /// No TLS, no authentication: every client is `User:ANONYMOUS`.
    Plaintext,
    /// TLS; a client certificate's subject is the principal, else `User:ANONYMOUS`.
    Ssl,
    /// SASL authentication without TLS.
    SaslPlaintext,
    /// SASL authentication over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Every protocol, in id order.
    pub const ALL: [SecurityProtocol; 4] = [
        SecurityProtocol::Plaintext,
        SecurityProtocol::Ssl,
        SecurityProtocol::SaslPlaintext,
        SecurityProtocol::SaslSsl,
    ];

    /// The protocol's name, which is also the name of kzero's listener speaking it.
    pub const fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// Kafka's id (`RegisterBrokerRecord` endpoints, DescribeCluster).
    pub const fn id(self) -> i16 {
        match self {
            SecurityProtocol::Plaintext => 0,
            SecurityProtocol::Ssl => 1,
            SecurityProtocol::SaslPlaintext => 2,
            SecurityProtocol::SaslSsl => 3,
        }
    }

    /// Does a client authenticate with SASL here?
    pub const fn is_sasl(self) -> bool {
        matches!(self, SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl)
    }

    /// Is the connection encrypted?
    pub const fn is_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }
}

/// The ACLs in force: the authorizer and the image records it was built from.
#[derive(Debug)]
pub(crate) struct Acls {
    pub(crate) entries: std::collections::BTreeMap<[u8; 16], metadata::records::AclEntry>,
    pub(crate) authorizer: Authorizer,
}

/// The broker's authorization state: `None` when no authorizer is configured (everything allowed, the ACL
/// APIs answer SECURITY_DISABLED).
#[derive(Debug)]
pub(crate) struct Authorization {
    acls: ArcSwap<Acls>,
    super_users: Vec<String>,
    allow_everyone: bool,
}

/// An image ACL record as a binding (with `Unknown` for codes this version does not know, which the
/// authorizer leaves out and CreateAcls refuses with Kafka's messages).
pub(crate) fn binding(entry: &metadata::records::AclEntry) -> AclBinding {
    AclBinding::new(
        ResourcePattern::new(
            ResourceType::from_code(entry.resource_type),
            entry.resource_name.clone(),
            PatternType::from_code(entry.pattern_type),
        ),
        AccessControlEntry::new(
            entry.principal.clone(),
            entry.host.clone(),
            Operation::from_code(entry.operation),
            Permission::from_code(entry.permission_type),
        ),
    )
}

impl Authorization {
    pub(crate) fn new(super_users: Vec<String>, allow_everyone: bool) -> Authorization {
        Authorization {
            acls: ArcSwap::from_pointee(Acls {
                entries: Default::default(),
                authorizer: Authorizer::new(super_users.clone(), allow_everyone),
            }),
            super_users,
            allow_everyone,
        }
    }

    /// Follows the image's ACL records (rebuilt only when they changed).
    pub(crate) fn update(&self, image: &metadata::Image) {
        if self.acls.load().entries == image.acls {
            return;
        }
        let authorizer = Authorizer::new(self.super_users.clone(), self.allow_everyone)
            .with_bindings(image.acls.values().map(binding).filter(|b| !b.is_unknown()));
        self.acls.store(Arc::new(Acls {
            entries: image.acls.clone(),
            authorizer,
        }));
    }

    /// The ACLs in force.
    pub(crate) fn current(&self) -> Arc<Acls> {
        self.acls.load_full()
    }
}

impl Broker {
    /// May this connection do `operation` on the resource? Always with no authorizer. A denial is counted
    /// (by the request's API) and logged at debug level.
    pub(crate) fn authorize(
        &self,
        listener: &Listener,
        operation: Operation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        let allowed = self.authorize_quietly(listener, operation, resource_type, name);
        if !allowed {
            self.denied(listener);
            tracing::debug!(
                principal = %listener.client.principal,
                ?operation,
                ?resource_type,
                resource = name,
                "authorization denied"
            );
        }
        allowed
    }

    /// As [`Broker::authorize`] without counting a denial: for filtering what a response shows (Metadata
    /// listing all topics, ListGroups), where Kafka does not log denials either.
    pub(crate) fn authorize_quietly(
        &self,
        listener: &Listener,
        operation: Operation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        let Some(authz) = &self.authorization else {
            return true;
        };
        let acls = authz.acls.load();
        acls.authorizer
            .authorize(&listener.client, operation, resource_type, name)
            .is_allowed()
    }

    /// May this connection do `operation` on the cluster?
    pub(crate) fn authorize_cluster(&self, listener: &Listener, operation: Operation) -> bool {
        self.authorize(listener, operation, ResourceType::Cluster, security::acl::CLUSTER_NAME)
    }

    /// What this connection may DESCRIBE, as a filter over topic names for the group coordinator (a
    /// KIP-848 regex subscription resolves to those topics only); `None` without an authorizer.
    pub(crate) fn describable_topics(&self, listener: &Listener) -> Option<crate::group::consumer::TopicFilter> {
        let authz = Arc::clone(self.authorization.as_ref()?);
        let ctx = listener.client.clone();
        Some(crate::group::consumer::TopicFilter(Arc::new(move |topic: &str| {
            authz
                .current()
                .authorizer
                .authorize(&ctx, Operation::Describe, ResourceType::Topic, topic)
                .is_allowed()
        })))
    }

    /// May this connection do `operation` on some resource of the type (Kafka's `authorizeByResourceType`:
    /// InitProducerId without a transactional id, with WRITE on any topic)?
    pub(crate) fn authorize_any(&self, listener: &Listener, operation: Operation, resource_type: ResourceType) -> bool {
        let Some(authz) = &self.authorization else {
            return true;
        };
        let acls = authz.acls.load();
        let allowed = acls
            .authorizer
            .authorize_by_resource_type(&listener.client, operation, resource_type)
            .is_allowed();
        if !allowed {
            self.denied(listener);
        }
        allowed
    }

    /// The bit field of operations this connection may do on the resource (Metadata, DescribeCluster,
    /// DescribeGroups' authorized operations): every operation of the type with no authorizer.
    pub(crate) fn authorized_operations(&self, listener: &Listener, resource_type: ResourceType, name: &str) -> i32 {
        match &self.authorization {
            None => security::acl::authorized_operations(resource_type, |_| true),
            Some(authz) => authz
                .acls
                .load()
                .authorizer
                .authorized_operations(&listener.client, resource_type, name),
        }
    }

    /// The cluster's authorized operations (Metadata v8-10, DescribeCluster): none without DESCRIBE on the
    /// cluster (Kafka's `AuthHelper`).
    pub(crate) fn cluster_operations(&self, listener: &Listener) -> i32 {
        let name = security::acl::CLUSTER_NAME;
        if self.authorize_quietly(listener, Operation::Describe, ResourceType::Cluster, name) {
            self.authorized_operations(listener, ResourceType::Cluster, name)
        } else {
            0
        }
    }

    fn denied(&self, listener: &Listener) {
        self.metrics.authorization_denied(listener.api);
    }
}

/// The SCRAM credential of a user for a mechanism in the metadata image.
pub(crate) fn credential(
    image: &metadata::Image,
    mechanism: security::scram::Mechanism,
    user: &str,
) -> Option<security::scram::Credential> {
    let c = image.scram_credentials.get(&(user.to_string(), mechanism.type_id()))?;
    Some(security::scram::Credential {
        mechanism,
        salt: c.salt.clone(),
        stored_key: c.stored_key.clone(),
        server_key: c.server_key.clone(),
        iterations: u32::try_from(c.iterations).ok()?,
    })
}

/// Creates the `[sasl] bootstrap_users` that have no credential yet (SCRAM-SHA-256 and SCRAM-SHA-512,
/// 4096 iterations, a random salt each), retrying until the controller wrote them.
pub(crate) async fn create_bootstrap_users(broker: Arc<Broker>) {
    use security::scram::{Credential, Mechanism, MIN_ITERATIONS};
    let Some(sasl) = &broker.config.sasl else { return };
    for attempt in 0u32.. {
        let image = broker.cluster.image();
        let missing: Vec<(String, String, Mechanism)> = sasl
            .bootstrap_users
            .iter()
            .flat_map(|user| Mechanism::ALL.map(|m| (user.name.clone(), user.password.clone(), m)))
            .filter(|(name, _, m)| !image.scram_credentials.contains_key(&(name.clone(), m.type_id())))
            .collect();
        if missing.is_empty() {
            return;
        }
        // PBKDF2 for each: a blocking thread's work.
        let derived = tokio::task::spawn_blocking(move || {
            missing
                .into_iter()
                .filter_map(|(name, password, mechanism)| {
                    let c = Credential::new(mechanism, password.as_bytes(), &random_salt(), MIN_ITERATIONS).ok()?;
                    Some(crate::cluster::rpc::ScramChange::Upsert(
                        metadata::records::ScramCredential {
                            name,
                            mechanism: mechanism.type_id(),
                            salt: c.salt,
                            stored_key: c.stored_key,
                            server_key: c.server_key,
                            iterations: MIN_ITERATIONS as i32,
                        },
                    ))
                })
                .collect::<Vec<_>>()
        })
        .await;
        let changes = match derived {
            Ok(changes) => changes,
            Err(e) => {
                tracing::error!(error = %e, "deriving the bootstrap users' credentials failed");
                return;
            }
        };
        let request = crate::cluster::rpc::Request::AlterScram {
            changes,
            only_if_absent: true,
        };
        match broker.controller_request(request).await {
            Ok(crate::cluster::rpc::Response::Results { .. }) => {
                tracing::info!(users = sasl.bootstrap_users.len(), "bootstrap users created");
                return;
            }
            other => {
                if attempt % 10 == 0 {
                    tracing::warn!(answer = ?other, "cannot create the bootstrap users yet; retrying");
                }
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        }
    }
}

/// 32 random bytes: a SCRAM salt (as Kafka's tools draw), or a nonce's randomness.
pub(crate) fn random_salt() -> Vec<u8> {
    use ring::rand::SecureRandom;
    let mut salt = vec![0u8; 32];
    if ring::rand::SystemRandom::new().fill(&mut salt).is_err() {
        // Never on Linux (getrandom); were it to happen, a salt or nonce must still never repeat: the hash
        // of the clock, the process and a counter.
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        tracing::error!("the system random generator failed; salting with the clock");
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let seed = format!("{now}:{}:{n}", std::process::id());
        salt = ring::digest::digest(&ring::digest::SHA256, seed.as_bytes())
            .as_ref()
            .to_vec();
    }
    salt
}
