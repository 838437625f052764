//! One connection's SASL authentication (Kafka's `SaslServerAuthenticator`): the handshake, the exchange
//! of tokens, the session's lifetime and re-authentication (KIP-368).
//!
//! On a SASL listener a connection starts unauthenticated: only ApiVersions, SaslHandshake and
//! SaslAuthenticate are answered, and any other request closes it. SaslHandshake names a mechanism (one of
//! `[sasl] mechanisms`, else UNSUPPORTED_SASL_MECHANISM and the connection closes); with v1 the tokens then
//! come in SaslAuthenticate requests, with v0 as raw length-prefixed frames answered the same way
//! ([`Session::expects_raw_token`]). PLAIN takes one token; SCRAM two (client-first, client-final). A failed
//! attempt is answered SASL_AUTHENTICATION_FAILED with Kafka's message (a raw-token exchange just closes),
//! logged with the peer address and counted, and the connection closes.
//!
//! With `connections_max_reauth_ms` the session lasts that long (SaslAuthenticate v1+ tells the client);
//! a client re-authenticates by sending SaslHandshake and SaslAuthenticate again on the same connection,
//! as the same principal. A request other than SaslHandshake after the session expired closes the
//! connection.
//!
//! Credentials are the SCRAM hashes of the metadata image; PLAIN checks its password against them, so no
//! password is ever stored. The checks (PBKDF2 for PLAIN) run on a blocking thread.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use protocol::{ErrorCode, Request, RequestBody, ResponseBody, SaslAuthenticateResponse, SaslHandshakeResponse};
use security::acl::KafkaPrincipal;
use security::scram::{Mechanism, ServerExchange};

use crate::broker::{Broker, Reply};

/// What the connection does with a request.
pub(crate) enum Gate {
    /// Dispatch it as usual.
    Pass,
    /// A SASL request: [`Session::handle`] answers it.
    Sasl,
    /// Close the connection without answering (a request before authentication, or after the session
    /// expired).
    Close,
}

/// The mechanism chosen by the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chosen {
    Plain,
    Scram(Mechanism),
}

impl Chosen {
    fn name(self) -> &'static str {
        match self {
            Chosen::Plain => security::plain::MECHANISM,
            Chosen::Scram(m) => m.name(),
        }
    }

    fn parse(name: &str) -> Option<Chosen> {
        if name == security::plain::MECHANISM {
            return Some(Chosen::Plain);
        }
        Mechanism::from_name(name).map(Chosen::Scram)
    }
}

#[derive(Debug)]
enum State {
    /// Waiting for SaslHandshake.
    Handshake,
    /// The handshake chose a mechanism; tokens come (raw after a v0 handshake).
    Authenticate {
        chosen: Chosen,
        raw: bool,
        scram: Option<Box<ServerExchange>>,
    },
    /// Authenticated (until `expires`, if set).
    Authenticated,
}

/// A connection's authentication state (only on SASL listeners; others never authenticate).
#[derive(Debug)]
pub(crate) struct Session {
    state: State,
    /// The principal authenticated, once it is.
    principal: Option<KafkaPrincipal>,
    /// When the session ends (KIP-368), if `connections_max_reauth_ms` is set.
    expires: Option<Instant>,
    /// The mechanism of the authenticated session (a re-authentication must use it again).
    mechanism: Option<Chosen>,
    peer: SocketAddr,
}

/// The outcome of one token.
enum Outcome {
    /// Send this token back; the exchange goes on.
    Continue(Vec<u8>),
    /// Authenticated as this user; send this token back.
    Done(Vec<u8>, String),
    /// Failed, with the message for the client and the reason for the log.
    Failed(String, String),
}

impl Session {
    pub(crate) fn new(peer: SocketAddr) -> Session {
        Session {
            state: State::Handshake,
            principal: None,
            expires: None,
            mechanism: None,
            peer,
        }
    }

    /// After a v0 handshake, the next frame is a raw token rather than a request.
    pub(crate) fn expects_raw_token(&self) -> bool {
        matches!(self.state, State::Authenticate { raw: true, .. })
    }

    /// The authenticated principal, once there is one.
    pub(crate) fn principal(&self) -> Option<&KafkaPrincipal> {
        self.principal.as_ref()
    }

    /// What to do with `request` on a SASL listener.
    pub(crate) fn gate(&self, request: &Request) -> Gate {
        use protocol::ApiKey;
        let api = request.header.api_key;
        if matches!(api, ApiKey::SaslHandshake | ApiKey::SaslAuthenticate) {
            return Gate::Sasl;
        }
        let live = self.principal.is_some() && self.expires.is_none_or(|e| Instant::now() < e);
        match self.state {
            // An authenticated session goes on until it ends, during a re-authentication too.
            State::Authenticated | State::Authenticate { .. } if live => Gate::Pass,
            // Kafka answers ApiVersions before the handshake, not between a first handshake and its tokens.
            State::Handshake if api == ApiKey::ApiVersions && self.principal.is_none() => Gate::Pass,
            _ if self.principal.is_some() => {
                tracing::info!(peer = %self.peer, api = api.name(), "closing connection: its SASL session expired and it did not re-authenticate");
                Gate::Close
            }
            _ => {
                tracing::info!(peer = %self.peer, api = api.name(), "closing connection: a request before SASL authentication");
                Gate::Close
            }
        }
    }

    /// Answers a SaslHandshake or SaslAuthenticate request; on success `principal` becomes the
    /// authenticated one.
    pub(crate) async fn handle(&mut self, broker: &Broker, request: &Request) -> Reply {
        match &request.body {
            RequestBody::SaslHandshake(r) => self.handshake(broker, request.header.api_version, &r.mechanism),
            RequestBody::SaslAuthenticate(r) => {
                let version = request.header.api_version;
                let raw = match &self.state {
                    State::Authenticate { raw, .. } => *raw,
                    _ => false,
                };
                if raw || !matches!(self.state, State::Authenticate { .. }) {
                    let message = if self.principal.is_some() {
                        "SaslAuthenticate request received after successful authentication"
                    } else {
                        "Unexpected Kafka request of type SASL_AUTHENTICATE during SASL handshake."
                    };
                    tracing::info!(peer = %self.peer, "closing connection: {message}");
                    let mut reply = Reply::body(SaslAuthenticateResponse {
                        error_code: ErrorCode::IllegalSaslState.code(),
                        error_message: Some(message.into()),
                        ..Default::default()
                    });
                    reply.close = true;
                    return reply;
                }
                let token = self.token(broker, &r.auth_bytes).await;
                // A failed attempt ends the connection.
                let close = token.is_err();
                let mut response = SaslAuthenticateResponse::default();
                match token {
                    Ok(token) => {
                        response.auth_bytes = token.into();
                        if version >= 1 {
                            response.session_lifetime_ms = self.lifetime_ms();
                        }
                    }
                    Err(message) => {
                        response.error_code = ErrorCode::SaslAuthenticationFailed.code();
                        response.error_message = Some(message);
                    }
                }
                let mut reply = Reply::body(response);
                reply.close = close;
                reply
            }
            _ => Reply::refuse(),
        }
    }

    /// A raw token after a v0 handshake: the raw answer to send, or `None` to close.
    pub(crate) async fn raw_token(&mut self, broker: &Broker, token: &[u8]) -> Option<Vec<u8>> {
        self.token(broker, token).await.ok()
    }

    /// The session lifetime SaslAuthenticate v1+ reports (0: none).
    fn lifetime_ms(&self) -> i64 {
        match self.expires {
            Some(e) if matches!(self.state, State::Authenticated) => {
                i64::try_from(e.saturating_duration_since(Instant::now()).as_millis()).unwrap_or(i64::MAX)
            }
            _ => 0,
        }
    }

    fn handshake(&mut self, broker: &Broker, version: i16, mechanism: &str) -> Reply {
        let enabled = broker
            .config
            .sasl
            .as_ref()
            .map(|s| s.mechanisms.clone())
            .unwrap_or_default();
        let mut response = SaslHandshakeResponse {
            mechanisms: enabled.clone(),
            ..Default::default()
        };
        if matches!(self.state, State::Authenticate { .. }) {
            response.error_code = ErrorCode::IllegalSaslState.code();
            tracing::info!(peer = %self.peer, "closing connection: a second SaslHandshake during authentication");
            let mut reply = Reply::body(response);
            reply.close = true;
            return reply;
        }
        let chosen = Chosen::parse(mechanism).filter(|_| enabled.iter().any(|m| m == mechanism));
        if self.principal.is_some() {
            // A re-authentication (KIP-368): only when sessions expire, with SaslAuthenticate requests (a v0
            // handshake's raw tokens would overtake queued answers), and with the same mechanism.
            let illegal = ErrorCode::IllegalSaslState;
            let refusal = if self.expires.is_none() {
                Some((
                    false,
                    illegal,
                    "re-authentication is not enabled (connections_max_reauth_ms is 0)".to_string(),
                ))
            } else if version == 0 {
                Some((true, illegal, "re-authentication needs SaslHandshake v1".to_string()))
            } else if chosen.is_some() && chosen != self.mechanism {
                Some((
                    true,
                    ErrorCode::UnsupportedSaslMechanism,
                    format!(
                        "SASL mechanism {mechanism} requested for re-authentication of a {} session",
                        self.mechanism.map_or("?", Chosen::name)
                    ),
                ))
            } else {
                None
            };
            if let Some((close, code, reason)) = refusal {
                tracing::info!(peer = %self.peer, mechanism, reason, "re-authentication refused");
                response.error_code = code.code();
                let mut reply = Reply::body(response);
                reply.close = close;
                return reply;
            }
        }
        let Some(chosen) = chosen else {
            broker.metrics.authentication_failed(mechanism_label(mechanism));
            tracing::info!(peer = %self.peer, mechanism, "closing connection: unsupported SASL mechanism");
            response.error_code = ErrorCode::UnsupportedSaslMechanism.code();
            let mut reply = Reply::body(response);
            reply.close = true;
            return reply;
        };
        let scram = match chosen {
            Chosen::Scram(m) => Some(Box::new(ServerExchange::new(
                m,
                &security::scram::server_nonce(&crate::auth::random_salt()),
            ))),
            Chosen::Plain => None,
        };
        self.state = State::Authenticate {
            chosen,
            raw: version == 0,
            scram,
        };
        Reply::body(response)
    }

    /// Feeds one token to the exchange: the answer token, or the failure message; and whether to close.
    async fn token(&mut self, broker: &Broker, token: &[u8]) -> Result<Vec<u8>, String> {
        let State::Authenticate { chosen, scram, .. } = &mut self.state else {
            return Err("no SASL handshake".into());
        };
        let chosen = *chosen;
        let reauthentication = self.principal.is_some();
        let outcome = match chosen {
            Chosen::Plain => {
                let (token, broker_credentials) = (token.to_vec(), credentials_of(broker));
                let checked = tokio::task::spawn_blocking(move || {
                    security::plain::authenticate(&token, |user| {
                        broker_credentials(Mechanism::Sha512, user)
                            .or_else(|| broker_credentials(Mechanism::Sha256, user))
                    })
                })
                .await;
                match checked {
                    Ok(Ok(user)) => Outcome::Done(Vec::new(), user),
                    Ok(Err(e)) => Outcome::Failed(e.client_message(), e.to_string()),
                    Err(e) => Outcome::Failed("Authentication failed".into(), e.to_string()),
                }
            }
            Chosen::Scram(mechanism) => {
                let Some(exchange) = scram.as_mut() else {
                    return Err("no SCRAM exchange".into());
                };
                let lookup = credentials_of(broker);
                let result = exchange.evaluate_response(token, |user| lookup(mechanism, user));
                match result {
                    Ok(answer) => match exchange.authenticated_user() {
                        Some(user) => Outcome::Done(answer, user.to_string()),
                        None => Outcome::Continue(answer),
                    },
                    Err(e) => Outcome::Failed(e.client_message(mechanism, reauthentication), e.to_string()),
                }
            }
        };
        match outcome {
            Outcome::Continue(answer) => Ok(answer),
            Outcome::Done(answer, user) => {
                let principal = KafkaPrincipal::user(user);
                if let Some(before) = &self.principal {
                    if *before != principal {
                        let message =
                            format!("Cannot change principals during re-authentication from {before}: {principal}");
                        return self.fail(broker, chosen, message.clone(), message);
                    }
                }
                broker.metrics.authenticated(chosen.name());
                tracing::debug!(peer = %self.peer, mechanism = chosen.name(), %principal, reauthentication, "authenticated");
                self.principal = Some(principal);
                self.mechanism = Some(chosen);
                self.state = State::Authenticated;
                let reauth = broker.config.sasl.as_ref().map_or(0, |s| s.connections_max_reauth_ms);
                self.expires = (reauth > 0).then(|| Instant::now() + Duration::from_millis(reauth));
                Ok(answer)
            }
            Outcome::Failed(message, reason) => self.fail(broker, chosen, message, reason),
        }
    }

    fn fail(&mut self, broker: &Broker, chosen: Chosen, message: String, reason: String) -> Result<Vec<u8>, String> {
        broker.metrics.authentication_failed(chosen.name());
        tracing::info!(peer = %self.peer, mechanism = chosen.name(), reason, "SASL authentication failed; closing the connection");
        self.state = State::Handshake;
        Err(message)
    }
}

/// The mechanism label of a failure metric: the names kzero knows, else "unknown" (the label set stays
/// bounded whatever clients send).
fn mechanism_label(name: &str) -> &'static str {
    match Chosen::parse(name) {
        Some(c) => c.name(),
        None => "unknown",
    }
}

/// Looks credentials up in the current image (a copy of the lookup that can move to a blocking thread).
fn credentials_of(broker: &Broker) -> impl Fn(Mechanism, &str) -> Option<security::scram::Credential> + Send + 'static {
    let image = broker.cluster.image();
    move |mechanism, user| crate::auth::credential(&image, mechanism, user)
}

/// The body of a raw-token answer: the 4-byte length and the token (after a v0 handshake).
pub(crate) fn raw_frame(token: &[u8]) -> bytes::Bytes {
    let mut out = Vec::with_capacity(4 + token.len());
    out.extend_from_slice(&(token.len() as u32).to_be_bytes());
    out.extend_from_slice(token);
    out.into()
}

/// The answer to SaslHandshake and SaslAuthenticate on a listener without SASL (Kafka's `KafkaApis`):
/// ILLEGAL_SASL_STATE.
pub(crate) fn not_sasl_listener(request: &Request) -> ResponseBody {
    match &request.body {
        RequestBody::SaslHandshake(_) => SaslHandshakeResponse {
            error_code: ErrorCode::IllegalSaslState.code(),
            mechanisms: Vec::new(),
            ..Default::default()
        }
        .into(),
        _ => SaslAuthenticateResponse {
            error_code: ErrorCode::IllegalSaslState.code(),
            error_message: Some("SaslAuthenticate request received after successful authentication".into()),
            ..Default::default()
        }
        .into(),
    }
}
