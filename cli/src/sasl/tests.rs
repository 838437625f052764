//! Tests of SASL authentication against a scripted broker on a loopback port: the requests a
//! connection sends (SaslHandshake v1 naming the mechanism, SaslAuthenticate at the best version, the
//! PLAIN token, a SCRAM exchange the crate's server accepts) and the one-line errors.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::BytesMut;
use protocol::{
    encode_response, ApiVersion, ApiVersionsResponse, Request, RequestBody, SaslAuthenticateResponse,
    SaslHandshakeResponse,
};
use security::scram::{Credential, ServerExchange};

use super::*;
use crate::client::Settings;

/// What the scripted broker enables and knows.
#[derive(Clone)]
struct Script {
    mechanisms: Vec<&'static str>,
    authenticate_max: i16,
    user: &'static str,
    password: &'static str,
}

/// The requests the broker saw: (api name, version, detail).
type Seen = Arc<Mutex<Vec<(String, i16, String)>>>;

fn read_frame(stream: &mut TcpStream) -> Option<Bytes> {
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).ok()?;
    let mut frame = vec![0; i32::from_be_bytes(size) as usize];
    stream.read_exact(&mut frame).ok()?;
    Some(Bytes::from(frame))
}

/// A broker that answers one connection: ApiVersions, SaslHandshake, then SaslAuthenticate tokens
/// checked with the security crate, closing after a failure as Kafka does.
fn broker(script: Script) -> (String, Seen, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut scram: Option<ServerExchange> = None;
        while let Some(frame) = read_frame(&mut stream) {
            let request = Request::decode(frame).unwrap();
            let version = request.header.api_version;
            let (body, close): (ResponseBody, bool) = match request.body {
                RequestBody::ApiVersions(_) => {
                    log.lock().unwrap().push(("ApiVersions".into(), version, String::new()));
                    let key = |api: ApiKey, max| ApiVersion {
                        api_key: api as i16,
                        min_version: 0,
                        max_version: max,
                        ..Default::default()
                    };
                    let body = ApiVersionsResponse {
                        api_keys: vec![
                            key(ApiKey::ApiVersions, 4),
                            key(ApiKey::SaslHandshake, 1),
                            key(ApiKey::SaslAuthenticate, script.authenticate_max),
                        ],
                        ..Default::default()
                    };
                    (body.into(), false)
                }
                RequestBody::SaslHandshake(r) => {
                    log.lock()
                        .unwrap()
                        .push(("SaslHandshake".into(), version, r.mechanism.clone()));
                    let enabled = script.mechanisms.contains(&r.mechanism.as_str());
                    if let Some(m) = Mechanism::from_name(&r.mechanism) {
                        scram = Some(ServerExchange::new(m, "srvnonce"));
                    }
                    let body = SaslHandshakeResponse {
                        error_code: if enabled {
                            0
                        } else {
                            ErrorCode::UnsupportedSaslMechanism.code()
                        },
                        mechanisms: script.mechanisms.iter().map(|m| m.to_string()).collect(),
                        ..Default::default()
                    };
                    (body.into(), !enabled)
                }
                RequestBody::SaslAuthenticate(r) => {
                    let token = r.auth_bytes.to_vec();
                    log.lock().unwrap().push((
                        "SaslAuthenticate".into(),
                        version,
                        String::from_utf8_lossy(&token).into(),
                    ));
                    let outcome = match scram.as_mut() {
                        None => (token == plain_token(script.user, script.password))
                            .then(Vec::new)
                            .ok_or_else(|| "Authentication failed: Invalid username or password".to_string()),
                        Some(exchange) => {
                            let mechanism = exchange.mechanism();
                            let credential =
                                Credential::new(mechanism, script.password.as_bytes(), b"salt", 4096).unwrap();
                            exchange
                                .evaluate_response(&token, |name| (name == script.user).then_some(credential))
                                .map_err(|e| e.client_message(mechanism, false))
                        }
                    };
                    let failed = outcome.is_err();
                    let body = match outcome {
                        Ok(bytes) => SaslAuthenticateResponse {
                            auth_bytes: Bytes::from(bytes),
                            ..Default::default()
                        },
                        Err(message) => SaslAuthenticateResponse {
                            error_code: ErrorCode::SaslAuthenticationFailed.code(),
                            error_message: Some(message),
                            ..Default::default()
                        },
                    };
                    (body.into(), failed)
                }
                other => panic!("unexpected request {other:?}"),
            };
            let mut out = BytesMut::new();
            encode_response(&request.header, &body, &mut out).unwrap();
            stream.write_all(&out).unwrap();
            if close {
                break;
            }
        }
    });
    (addr, seen, handle)
}

fn script() -> Script {
    Script {
        mechanisms: vec!["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"],
        authenticate_max: 2,
        user: "alice",
        password: "alice-secret",
    }
}

fn connect(addr: &str, mechanism: &str, user: &str, password: &str) -> Result<Conn> {
    let settings = Settings {
        bootstrap: addr.to_string(),
        timeout: Duration::from_secs(10),
        sasl: Some(SaslConfig {
            mechanism: SaslMechanism::parse(mechanism).unwrap(),
            username: user.to_string(),
            password: password.to_string(),
        }),
    };
    Conn::connect(addr, &settings)
}

#[test]
fn plain_sends_one_token_after_handshake_v1() {
    let (addr, seen, handle) = broker(script());
    let conn = connect(&addr, "plain", "alice", "alice-secret").unwrap();
    drop(conn);
    handle.join().unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            ("ApiVersions".to_string(), 4, String::new()),
            ("SaslHandshake".to_string(), 1, "PLAIN".to_string()),
            ("SaslAuthenticate".to_string(), 2, "\0alice\0alice-secret".to_string()),
        ]
    );
}

#[test]
fn scram_completes_against_the_server_side_at_the_highest_authenticate_version() {
    for (mechanism, max) in [("SCRAM-SHA-256", 2), ("scram-sha-512", 1), ("SCRAM-SHA-512", 0)] {
        let (addr, seen, handle) = broker(Script {
            authenticate_max: max,
            ..script()
        });
        connect(&addr, mechanism, "alice", "alice-secret").unwrap();
        handle.join().unwrap();
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 4, "{seen:?}");
        assert_eq!(seen[1].2, mechanism.to_ascii_uppercase());
        assert!(seen[2].2.starts_with("n,,n=alice,r="), "{:?}", seen[2]);
        assert!(seen[3].2.starts_with("c=biws,r="), "{:?}", seen[3]);
        assert!(seen[2..].iter().all(|s| s.1 == max), "{seen:?}");
    }
}

/// The error of a connection the scripted broker refuses, without the `authentication failed at ADDR: `
/// that every such error starts with.
fn refusal(script: Script, mechanism: &str, user: &str, password: &str) -> String {
    let (addr, _, handle) = broker(script);
    let err = connect(&addr, mechanism, user, password).unwrap_err();
    handle.join().unwrap();
    let line = format!("{err:#}");
    let prefix = format!("authentication failed at {addr}: ");
    assert!(line.starts_with(&prefix), "{line}");
    line[prefix.len()..].to_string()
}

#[test]
fn refusals_are_one_line_with_the_brokers_message() {
    assert_eq!(
        refusal(script(), "SCRAM-SHA-256", "alice", "wrong"),
        "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256"
    );
    assert_eq!(
        refusal(script(), "PLAIN", "bob", "alice-secret"),
        "Authentication failed: Invalid username or password"
    );
    let plain_only = Script {
        mechanisms: vec!["PLAIN"],
        ..script()
    };
    assert_eq!(
        refusal(plain_only, "SCRAM-SHA-512", "alice", "alice-secret"),
        "the broker does not enable SCRAM-SHA-512 (it enables PLAIN)"
    );
}

#[test]
fn mechanism_names() {
    assert_eq!(SaslMechanism::parse("PLAIN"), Ok(SaslMechanism::Plain));
    assert_eq!(
        SaslMechanism::parse("Scram-Sha-256"),
        Ok(SaslMechanism::Scram(Mechanism::Sha256))
    );
    assert_eq!(SaslMechanism::Scram(Mechanism::Sha512).to_string(), "SCRAM-SHA-512");
    assert!(SaslMechanism::parse("GSSAPI")
        .unwrap_err()
        .contains("expected PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"));
    assert_eq!(plain_token("u", "p"), b"\0u\0p");
    let debug = format!(
        "{:?}",
        SaslConfig {
            mechanism: SaslMechanism::Plain,
            username: "u".into(),
            password: "hunter2".into()
        }
    );
    assert!(!debug.contains("hunter2"), "{debug}");
}
