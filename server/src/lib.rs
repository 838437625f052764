//! The kzero broker: configuration, listeners, request dispatch, partitions, and the wiring of all crates.
//!
//! This is the only crate that owns a runtime and spawns tasks.
//! `protocol` decodes requests and encodes responses, `storage` holds the partition logs, `transfer`
//! writes responses (file regions go out with `sendfile` on plaintext connections), and `replication`
//! holds the leader rules (high watermark, leader epochs) that each `Partition` applies.
//!
//! Its shape follows Kafka's broker: who dispatches a request, who owns a partition and who waits are
//! separate. `connection` reads frames and hands each request to `apis` (one file per API family,
//! dispatched from one table that is also what ApiVersions advertises); handlers call the
//! `replica_manager`, which owns the topics and their `partition`s (log, leader epoch, high watermark,
//! producer state, waiting operations) and does appends and fetches; requests that wait do so as
//! `delayed` operations keyed by partition. The group coordinator (`group`) and the node's seat in the
//! metadata quorum (`cluster`: the image every partition's role comes from, the active controller, the
//! broker's registration and heartbeats) are peers of the replica manager.
//!
//! It must never: parse wire formats by hand (that is `protocol`'s job), read record bytes into memory on
//! the fetch path, let one connection's error affect another, or block an async worker thread (file
//! creation and deletion, syncs, retention, checkpoints and producer-state rebuilds run on blocking
//! threads).
//!
//! [`run`] serves until its `shutdown` future completes, then stops accepting, lets every connection
//! finish the request it is handling, flushes and closes the logs (writing the clean-shutdown marker so the
//! next start needs no recovery) and returns. Tests bind listeners on port 0 and call it directly.
#![deny(missing_docs)]

mod apis;
mod auth;
mod broker;
mod cluster;
pub mod config;
mod connection;
mod delayed;
mod error;
mod group;
mod http;
mod isr_updates;
mod metrics;
mod partition;
mod producer_state;
mod replica_fetcher;
mod replica_manager;
mod sasl;
mod topic_config;
mod topic_id;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use apis::HANDLED_APIS;
pub use broker::{Broker, Listener, SecurityProtocol};
pub use config::{Config, ConfigError};
pub use error::Error;

/// The sockets the broker serves, bound by the caller (port 0 in tests).
#[derive(Debug)]
pub struct Listeners {
    /// The plaintext Kafka listener.
    pub plaintext: TcpListener,
    /// The TLS Kafka listener (requires `[tls]` in the config for the certificate and key).
    pub tls: Option<TcpListener>,
    /// The SASL_PLAINTEXT listener (requires `[sasl]`).
    pub sasl: Option<TcpListener>,
    /// The SASL_SSL listener (requires `[sasl]` and `[tls]`).
    pub sasl_ssl: Option<TcpListener>,
    /// The Prometheus metrics HTTP listener.
    pub metrics: Option<TcpListener>,
}

impl Listeners {
    /// Binds the addresses in `config`.
    pub async fn bind(config: &Config) -> Result<Listeners, Error> {
        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr).await.map_err(|source| Error::Io {
                op: "listening on",
                path: addr.to_string().into(),
                source,
            })
        };
        Ok(Listeners {
            plaintext: bind(config.listen).await?,
            tls: match &config.tls {
                Some(t) => Some(bind(t.listen).await?),
                None => None,
            },
            sasl: match &config.sasl {
                Some(s) => Some(bind(s.listen).await?),
                None => None,
            },
            sasl_ssl: match config.sasl.as_ref().and_then(|s| s.ssl_listen) {
                Some(a) => Some(bind(a).await?),
                None => None,
            },
            metrics: match config.metrics_listen {
                Some(a) => Some(bind(a).await?),
                None => None,
            },
        })
    }
}

/// Raises the soft limit of open files to the hard limit (every partition's active segment and every
/// connection holds a descriptor) and logs the budget.
fn raise_fd_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) => {
            if soft < hard {
                if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                    tracing::warn!(soft, hard, error = %e, "cannot raise the open-file limit");
                    return;
                }
            }
            tracing::info!(
                limit = hard.max(soft),
                "open-file budget: about one descriptor per idle partition, one per connection, plus the sealed-segment cache"
            );
        }
        Err(e) => tracing::warn!(error = %e, "cannot read the open-file limit"),
    }
}

/// Runs blocking work on a blocking thread.
async fn blocking<T: Send + 'static>(what: &'static str, f: impl FnOnce() -> T + Send + 'static) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Task(what, e.to_string()))
}

fn transfer_config(config: &Config) -> transfer::Config {
    transfer::Config {
        mode: match config.transfer.mode {
            config::TransferMode::Sendfile => transfer::Mode::Sendfile,
            config::TransferMode::Copy => transfer::Mode::Copy,
        },
        ..transfer::Config::default()
    }
}

fn tls_acceptor(config: &Config) -> Result<Option<tokio_rustls::TlsAcceptor>, Error> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let Some(tls) = &config.tls else { return Ok(None) };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| Error::Tls(format!("reading certificates from {}: {e}", tls.cert.display())))?;
    if certs.is_empty() {
        return Err(Error::Tls(format!("no certificate in {}", tls.cert.display())));
    }
    let key = PrivateKeyDer::from_pem_file(&tls.key)
        .map_err(|e| Error::Tls(format!("reading the private key from {}: {e}", tls.key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?;
    // Kafka's ssl.client.auth: client certificates must (or may) chain to the configured authorities.
    let builder = match (&tls.ca, tls.client_auth) {
        (Some(ca), auth) if auth != config::ClientAuth::None => {
            let mut roots = rustls::RootCertStore::empty();
            let cas: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca)
                .and_then(|it| it.collect::<Result<_, _>>())
                .map_err(|e| Error::Tls(format!("reading certificates from {}: {e}", ca.display())))?;
            for c in cas {
                roots
                    .add(c)
                    .map_err(|e| Error::Tls(format!("a certificate in {}: {e}", ca.display())))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if auth == config::ClientAuth::Requested {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| Error::Tls(e.to_string()))?)
        }
        _ => builder.with_no_client_auth(),
    };
    let server = builder
        .with_single_cert(certs, key)
        .map_err(|e| Error::Tls(e.to_string()))?;
    Ok(Some(tokio_rustls::TlsAcceptor::from(Arc::new(server))))
}

/// The SSL listener's principal mapping (`[tls] principal_mapping_rules`).
fn principal_mapper(config: &Config) -> Result<security::principal::PrincipalMapper, Error> {
    let rules = match &config.tls {
        Some(t) => t.principal_mapping_rules.clone(),
        None => vec!["DEFAULT".to_string()],
    };
    security::principal::PrincipalMapper::parse(&rules).map_err(|e| Error::Tls(e.to_string()))
}

/// The principal of a TLS connection on the SSL listener: `User:` and its client certificate's subject
/// through the mapping rules, or `User:ANONYMOUS` without a certificate (Kafka's
/// `DefaultKafkaPrincipalBuilder`).
fn certificate_principal(
    stream: &tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    mapper: &security::principal::PrincipalMapper,
) -> Result<security::acl::KafkaPrincipal, String> {
    let Some(cert) = stream.get_ref().1.peer_certificates().and_then(|c| c.first()) else {
        return Ok(security::acl::KafkaPrincipal::anonymous());
    };
    let dn = security::principal::distinguished_name(cert.as_ref()).map_err(|e| e.to_string())?;
    let name = mapper.name(&dn).map_err(|e| e.to_string())?;
    Ok(security::acl::KafkaPrincipal::user(name))
}

/// Runs the broker on `listeners` until `shutdown` completes, then shuts down cleanly.
pub async fn run(listeners: Listeners, config: Config, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
    config.validate()?;
    let bound = listeners.plaintext.local_addr().map_err(|source| Error::Io {
        op: "inspecting",
        path: "listener".into(),
        source,
    })?;
    let tls = tls_acceptor(&config)?;
    if listeners.tls.is_some() && tls.is_none() {
        return Err(Error::Tls("a TLS listener needs [tls] cert and key".into()));
    }
    raise_fd_limit();
    if let (true, Some((user, _))) = (config.authorizer.enabled, config.inter_broker_credentials()) {
        let principal = format!("User:{user}");
        if !config.authorizer.super_users.contains(&principal) {
            tracing::warn!(
                %principal,
                "the inter-broker user is not a super user: followers need CLUSTER_ACTION on the cluster (an ACL) to replicate"
            );
        }
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut background = JoinSet::new();
    // The metrics listener answers /health while the data directory loads; /ready once the broker serves.
    // It keeps answering (/ready with 503) while connections drain, and stops after them.
    let http_state = Arc::new(http::HttpState::default());
    let (http_stop_tx, http_stop_rx) = watch::channel(false);
    let metrics_enabled = listeners.metrics.is_some();
    if let Some(metrics) = listeners.metrics {
        background.spawn(http::serve(metrics, Arc::clone(&http_state), http_stop_rx));
    }
    let checked = config.clone();
    let cluster_id = blocking("reading meta.properties", move || broker::cluster_id(&checked)).await??;
    // The metadata quorum first: the partitions' roles come from it.
    let cluster = cluster::Cluster::start(&config).await?;
    if config.is_controller() {
        let c = Arc::clone(&cluster);
        let mut s = stop_rx.clone();
        background.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tokio::select! {
                    _ = tick.tick() => c.tick().await,
                    _ = s.changed() => return,
                }
            }
        });
    }
    if !config.is_broker() {
        tracing::info!(node_id = config.node_id, controller_listener = %cluster.controller_addr, "kzero controller started");
        shutdown.await;
        let _ = stop_tx.send(true);
        background.abort_all();
        while background.join_next().await.is_some() {}
        cluster.shutdown().await;
        tracing::info!("kzero controller stopped");
        return Ok(());
    }
    // The other listeners' advertised addresses (their bound ones unless configured).
    let mut other_advertised = Vec::new();
    {
        let sasl = config.sasl.as_ref();
        let others = [
            (
                SecurityProtocol::Ssl,
                listeners.tls.as_ref(),
                config.tls.as_ref().and_then(|t| t.advertised_listen.clone()),
            ),
            (
                SecurityProtocol::SaslPlaintext,
                listeners.sasl.as_ref(),
                sasl.and_then(|s| s.advertised_listen.clone()),
            ),
            (
                SecurityProtocol::SaslSsl,
                listeners.sasl_ssl.as_ref(),
                sasl.and_then(|s| s.ssl_advertised_listen.clone()),
            ),
        ];
        for (protocol, listener, advertised) in others {
            if let Some(Ok(addr)) = listener.map(|l| l.local_addr()) {
                let address = advertised
                    .as_deref()
                    .and_then(config::parse_host_port)
                    .unwrap_or_else(|| (addr.ip().to_string(), i32::from(addr.port())));
                other_advertised.push((protocol, address));
            }
        }
    }
    if listeners.sasl.is_some() && config.sasl.is_none() {
        return Err(Error::Config(ConfigError::Value {
            key: "sasl.listen",
            reason: "a SASL listener was bound without a [sasl] section".into(),
        }));
    }
    if listeners.sasl_ssl.is_some() && tls.is_none() {
        return Err(Error::Tls("a SASL_SSL listener needs [tls] cert and key".into()));
    }
    let opened_cluster = Arc::clone(&cluster);
    let advertised_for_broker = other_advertised.clone();
    let broker = Arc::new(
        blocking("opening the data directory", move || {
            Broker::open(
                config,
                cluster_id,
                bound,
                advertised_for_broker,
                metrics_enabled,
                opened_cluster,
            )
        })
        .await??,
    );
    let _ = http_state.broker.set(Arc::clone(&broker));
    // Followers fetch from their leaders; leaders send their ISR changes and expire lagging followers.
    let fetchers = Arc::new(replica_fetcher::FetcherManager::new(
        broker.config.node_id,
        broker.config.inter_broker_credentials(),
        Arc::clone(&cluster),
        stop_rx.clone(),
    ));
    background.spawn(isr_updates::send_proposals(
        Arc::clone(&broker.replicas),
        Arc::clone(&cluster),
        stop_rx.clone(),
    ));
    background.spawn(isr_updates::expire_isr(Arc::clone(&broker.replicas), stop_rx.clone()));
    // The metadata publisher: every applied entry is brought to the local partitions, in order.
    {
        let b = Arc::clone(&broker);
        let fetchers = Arc::clone(&fetchers);
        let mut applied = cluster.applied();
        let mut fenced = cluster.broker.fenced();
        let mut s = stop_rx.clone();
        background.spawn(async move {
            loop {
                // A fenced broker leads nothing (the controller moves its leaderships away), whatever its
                // metadata says until it catches up.
                b.replicas.set_fenced(*fenced.borrow_and_update());
                let image = b.cluster.image();
                if let Some(authz) = &b.authorization {
                    authz.update(&image);
                }
                // Deletions wait until this broker's metadata reached its own registration.
                let epoch = b.cluster.broker.epoch.load(std::sync::atomic::Ordering::Acquire);
                let caught_up = epoch >= 0 && i64::try_from(image.offset).unwrap_or(i64::MAX) >= epoch;
                let deleted = b.replicas.apply_image(&image, caught_up).await;
                fetchers.update(b.replicas.partitions());
                if let Some(groups) = b.groups.get() {
                    // The coordinator follows its __consumer_offsets partitions' leadership (and the fencing).
                    groups.leadership_changed();
                    for topic in deleted {
                        groups.topic_deleted(topic).await;
                    }
                }
                b.metadata_applied.send_replace(image.offset);
                tokio::select! {
                    changed = applied.changed() => if changed.is_err() { return },
                    changed = fenced.changed() => if changed.is_err() { return },
                    _ = s.changed() => return,
                }
            }
        });
    }
    // Registration and heartbeats.
    {
        let registration = metadata::records::RegisterBroker {
            broker_id: broker.config.node_id,
            incarnation_id: [0; 16],
            endpoints: broker.endpoints(),
            rack: None,
            observer_addr: (!broker.config.is_controller()).then(|| cluster.controller_addr.to_string()),
        };
        let replicas = Arc::clone(&broker.replicas);
        let adopt = move || {
            replicas
                .unregistered_topics()
                .into_iter()
                .map(|t| cluster::rpc::AdoptTopic {
                    configs: t.config.entries(),
                    name: t.name,
                    id: t.id.0,
                    partitions: t.partitions,
                    epochs: t.epochs,
                })
                .collect()
        };
        background.spawn(Arc::clone(&cluster).run_broker(
            registration,
            adopt,
            broker.metadata_applied.subscribe(),
            stop_rx.clone(),
        ));
    }
    // Serve once unfenced (the controller says this broker caught up with the metadata), so clients that
    // connect at once see it in Metadata, leading its partitions.
    let mut fenced = cluster.broker.fenced();
    let unfenced = tokio::time::timeout(Duration::from_secs(60), fenced.wait_for(|f| !*f))
        .await
        .is_ok();
    if unfenced {
        // The unfencing elected this broker where it can lead: wait until this node's metadata shows it
        // unfenced and the local partitions took that image (Metadata then lists this broker).
        let node_id = broker.config.node_id;
        let caught_up = async {
            let mut applied = cluster.applied();
            let target = loop {
                let image = cluster.image();
                if image.brokers.get(&node_id).is_some_and(|b| !b.fenced) {
                    break image.offset;
                }
                if applied.changed().await.is_err() {
                    return;
                }
            };
            let mut local = broker.metadata_applied.subscribe();
            let _ = local.wait_for(|a| *a >= target).await;
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), caught_up).await;
        // (The publisher follows the fencing too; this is not to depend on which task runs first.)
        broker.replicas.set_fenced(*cluster.broker.fenced().borrow());
    } else {
        tracing::warn!("still fenced after 60 s (no active controller, or behind the metadata); serving anyway");
    }
    // The first users, once (their credentials are cluster metadata; a restart does not re-salt them),
    // before serving so that they can log in at once; without a controller in 10 s, in the background.
    if let Some(sasl) = &broker.config.sasl {
        if !sasl.bootstrap_users.is_empty() {
            let mut create = Box::pin(auth::create_bootstrap_users(Arc::clone(&broker)));
            if tokio::time::timeout(Duration::from_secs(10), &mut create)
                .await
                .is_err()
            {
                background.spawn(create);
            }
        }
    }
    let weak = Arc::downgrade(&broker);
    let create_topic: group::CreateTopic = Arc::new(move |partitions, configs| {
        let weak = weak.clone();
        Box::pin(async move {
            let Some(broker) = weak.upgrade() else {
                return Err((protocol::ErrorCode::CoordinatorNotAvailable, "shutting down".into()));
            };
            // Kafka's offsets.topic.replication.factor, capped at the registered brokers so that a single
            // broker (or a small cluster) can still coordinate groups.
            let brokers = broker.cluster.image().brokers.len().max(1);
            let replication_factor = broker.config.offsets_topic_replication_factor.min(brokers as i16);
            let spec = cluster::rpc::TopicSpec {
                name: group::OFFSETS_TOPIC.to_string(),
                partitions,
                replication_factor,
                assignments: Vec::new(),
                configs,
            };
            match broker.create_topics(vec![spec], false).await.into_iter().next() {
                Some(Ok(_)) => Ok(()),
                Some(Err(e)) => Err(e),
                None => Err((protocol::ErrorCode::UnknownServerError, "no answer".into())),
            }
        })
    });
    let (coordinator, coordinator_task) = group::GroupCoordinator::start(
        Arc::clone(&broker.replicas),
        create_topic,
        &broker.config.group,
        Arc::clone(&broker.metrics.groups),
        stop_rx.clone(),
    );
    let _ = broker.groups.set(coordinator);
    if let Some(groups) = broker.groups.get() {
        // Images applied before the coordinator existed.
        groups.leadership_changed();
    }
    let counters = Arc::clone(&broker.metrics.transfer);
    let transfer_config = transfer_config(&broker.config);
    let mut connections = JoinSet::new();
    spawn_background(&broker, &mut background, stop_rx.clone());
    http_state.ready.store(true, std::sync::atomic::Ordering::Release);
    tracing::info!(
        listen = %bound,
        others = ?broker.other_advertised,
        data_dir = %broker.config.data_dir.display(),
        "kzero broker started"
    );

    // One accept task per listener; accepted sockets come here with their listener's template.
    let (accepted_tx, mut accepted_rx) = tokio::sync::mpsc::channel::<(tokio::net::TcpStream, SocketAddr, usize)>(64);
    let mut templates = vec![Arc::new(Listener::new(
        broker.advertised.0.clone(),
        broker.advertised.1,
        SecurityProtocol::Plaintext,
    ))];
    let mut sockets = vec![listeners.plaintext];
    for (protocol, socket) in [
        (SecurityProtocol::Ssl, listeners.tls),
        (SecurityProtocol::SaslPlaintext, listeners.sasl),
        (SecurityProtocol::SaslSsl, listeners.sasl_ssl),
    ] {
        if let Some(socket) = socket {
            let (host, port) = broker
                .other_advertised
                .iter()
                .find(|(p, _)| *p == protocol)
                .map(|(_, a)| a.clone())
                .unwrap_or_else(|| broker.advertised.clone());
            templates.push(Arc::new(Listener::new(host, port, protocol)));
            sockets.push(socket);
        }
    }
    let mut acceptors = JoinSet::new();
    for (index, socket) in sockets.into_iter().enumerate() {
        let tx = accepted_tx.clone();
        let protocol = templates[index].protocol;
        acceptors.spawn(async move {
            loop {
                match socket.accept().await {
                    Ok((stream, peer)) => {
                        if tx.send((stream, peer, index)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(listener = protocol.name(), error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
    }
    drop(accepted_tx);
    let mapper = Arc::new(principal_mapper(&broker.config)?);

    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some((stream, peer, index)) = accepted_rx.recv() => {
                let template = Arc::clone(&templates[index]);
                if !template.protocol.is_tls() {
                    let split = transfer::PlaintextTransportLayer::split(stream, &transfer_config, Arc::clone(&counters));
                    match split {
                        Ok((read, transport)) => {
                            connections.spawn(connection::serve(
                                Arc::clone(&broker),
                                template,
                                security::acl::KafkaPrincipal::anonymous(),
                                read,
                                transport,
                                peer,
                                stop_rx.clone(),
                            ));
                        }
                        Err(e) => tracing::warn!(%peer, error = %e, "cannot set up a connection"),
                    }
                    continue;
                }
                let Some(acceptor) = tls.clone() else { continue };
                let (broker, counters, config, stop) =
                    (Arc::clone(&broker), Arc::clone(&counters), transfer_config.clone(), stop_rx.clone());
                let mapper = Arc::clone(&mapper);
                connections.spawn(async move {
                    let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await;
                    match handshake {
                        Ok(Ok(stream)) => {
                            // On SSL the client certificate names the principal; SASL_SSL authenticates with SASL.
                            let principal = if template.protocol == SecurityProtocol::Ssl {
                                match certificate_principal(&stream, &mapper) {
                                    Ok(p) => p,
                                    Err(e) => {
                                        tracing::warn!(%peer, error = %e, "closing TLS connection: no principal for its certificate");
                                        return;
                                    }
                                }
                            } else {
                                security::acl::KafkaPrincipal::anonymous()
                            };
                            match transfer::TlsTransportLayer::split_server(stream, &config, counters) {
                                Ok((read, transport)) => connection::serve(broker, template, principal, read, transport, peer, stop).await,
                                Err(e) => tracing::warn!(%peer, error = %e, "cannot set up a TLS connection"),
                            }
                        }
                        Ok(Err(e)) => tracing::info!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::info!(%peer, "TLS handshake timed out"),
                    }
                });
            }
            Some(done) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = done {
                    tracing::error!(error = %e, "a connection task failed");
                }
            }
        }
    }

    http_state.ready.store(false, std::sync::atomic::Ordering::Release);
    // Controlled shutdown: the controller moves this broker's leaderships away before it stops serving.
    cluster.controlled_shutdown(Duration::from_secs(5)).await;
    tracing::info!(
        connections = connections.len(),
        "shutting down: finishing in-flight requests"
    );
    // Stop accepting (the accept tasks own the sockets).
    acceptors.abort_all();
    while acceptors.join_next().await.is_some() {}
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(Duration::from_secs(30), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = connections.len(),
            "connections did not finish in 30 s; closing them"
        );
        connections.abort_all();
    }
    let _ = http_stop_tx.send(true);
    fetchers.shutdown();
    background.abort_all();
    while background.join_next().await.is_some() {}
    // The coordinator saw `stop`; its writes are done once it returns.
    if let Err(e) = coordinator_task.await {
        tracing::error!(error = %e, "the group coordinator failed");
    }
    let replicas = Arc::clone(&broker.replicas);
    blocking("closing the logs", move || replicas.close()).await??;
    cluster.shutdown().await;
    tracing::info!("kzero broker stopped cleanly");
    Ok(())
}

fn spawn_background(broker: &Arc<Broker>, tasks: &mut JoinSet<()>, stop: watch::Receiver<bool>) {
    // Retention, as Kafka's log.retention.check.interval.ms, below each partition's high watermark.
    let b = Arc::clone(broker);
    let mut s = stop.clone();
    tasks.spawn(async move {
        let every = Duration::from_millis(b.config.log.retention_check_interval_ms);
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = s.changed() => return,
            }
            let replicas = Arc::clone(&b.replicas);
            if let Err(e) = blocking("retention", move || replicas.apply_retention(broker::storage_now_ms())).await {
                tracing::error!(error = %e, "retention failed");
            }
        }
    });
    // The time-based flush policy (each log's own flush.ms: its topic's override or the broker's),
    // checkpoints (recovery points, log start offsets) every minute, high watermarks every 5 s.
    let b = Arc::clone(broker);
    let mut s = stop;
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut seconds = 0u64;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = s.changed() => return,
            }
            seconds += 1;
            let replicas = Arc::clone(&b.replicas);
            let checkpoint = seconds % 60 == 0;
            // Kafka's replica.high.watermark.checkpoint.interval.ms: 5 s.
            let high_watermarks = seconds % 5 == 0;
            let done = blocking("flushing", move || {
                if let Err(e) = replicas.flush_due(broker::storage_now_ms()) {
                    tracing::error!(error = %e, "time-based flush failed");
                }
                if high_watermarks {
                    if let Err(e) = replicas.checkpoint_high_watermarks() {
                        tracing::error!(error = %e, "writing the high-watermark checkpoint failed");
                    }
                }
                if checkpoint {
                    if let Err(e) = replicas.checkpoint() {
                        tracing::error!(error = %e, "writing checkpoints failed");
                    }
                }
            })
            .await;
            if let Err(e) = done {
                tracing::error!(error = %e, "the flush task failed");
            }
        }
    });
}
