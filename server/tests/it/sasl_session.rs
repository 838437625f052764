//! SASL session lifetime and re-authentication (KIP-368, `connections_max_reauth_ms`): the broker tells
//! the client how long its session lasts, closes a connection that goes on past it without
//! re-authenticating, and lets a client re-authenticate on the same connection (librdkafka does it).

use std::io::Read;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use protocol::{MetadataRequest, ResponseBody, SaslAuthenticateRequest, SaslHandshakeRequest};
use server::Config;

use crate::support::{python, RawClient, TestBroker};

fn config(dir: &std::path::Path, reauth_ms: u64) -> Config {
    Config::from_toml(&format!(
        r#"
data_dir = {data:?}
[sasl]
listen = "127.0.0.1:0"
bootstrap_users = [{{ name = "admin", password = "admin-secret" }}]
connections_max_reauth_ms = {reauth_ms}
[authorizer]
enabled = true
super_users = ["User:admin"]
"#,
        data = dir.join("data").to_str().unwrap(),
    ))
    .unwrap()
}

/// SaslHandshake v1 and PLAIN through SaslAuthenticate v1: the session lifetime the broker answered.
fn plain_login(c: &mut RawClient, password: &str) -> (i16, i64) {
    let handshake = SaslHandshakeRequest {
        mechanism: "PLAIN".into(),
        ..Default::default()
    };
    let ResponseBody::SaslHandshake(h) = c.call(1, handshake.into()) else {
        panic!("no handshake answer")
    };
    assert_eq!(h.error_code, 0);
    let token = format!("\0admin\0{password}");
    let request = SaslAuthenticateRequest {
        auth_bytes: Bytes::from(token.into_bytes()),
        ..Default::default()
    };
    let ResponseBody::SaslAuthenticate(a) = c.call(1, request.into()) else {
        panic!("no authenticate answer")
    };
    (a.error_code, a.session_lifetime_ms)
}

fn closed(c: &mut RawClient) -> bool {
    c.s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 64];
    match c.s.read(&mut buf) {
        Ok(n) => n == 0,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

#[test]
fn a_session_ends_unless_the_client_reauthenticates_on_the_same_connection() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(config(dir.path(), 1500));
    let sasl = broker.sasl_addr.unwrap();

    // The lifetime is reported; requests are served within it.
    let mut c = RawClient::connect(sasl);
    let (code, lifetime) = plain_login(&mut c, "admin-secret");
    assert_eq!(code, 0);
    assert!((1000..=1500).contains(&lifetime), "session lifetime {lifetime} ms");
    assert!(matches!(
        c.call(12, MetadataRequest::default().into()),
        ResponseBody::Metadata(_)
    ));

    // Re-authenticating before the end starts a new session on the same connection.
    std::thread::sleep(Duration::from_millis(900));
    let (code, lifetime) = plain_login(&mut c, "admin-secret");
    assert_eq!(
        (code, (1000..=1500).contains(&lifetime)),
        (0, true),
        "re-authentication: {lifetime}"
    );
    std::thread::sleep(Duration::from_millis(900));
    // 1.8 s after the first login: still served, thanks to the second.
    assert!(matches!(
        c.call(12, MetadataRequest::default().into()),
        ResponseBody::Metadata(_)
    ));

    // Past the end without re-authenticating: the next request closes the connection.
    std::thread::sleep(Duration::from_millis(1000));
    c.send(12, MetadataRequest::default().into());
    assert!(closed(&mut c), "a request after the session ended was served");

    // A failed re-authentication closes the connection too.
    let mut c = RawClient::connect(sasl);
    assert_eq!(plain_login(&mut c, "admin-secret").0, 0);
    let (code, _) = plain_login(&mut c, "wrong");
    assert_eq!(code, protocol::ErrorCode::SaslAuthenticationFailed.code());
    assert!(closed(&mut c));
    broker.stop().unwrap();
}

/// librdkafka re-authenticates by itself (KIP-368): a producer that keeps producing across several session
/// lifetimes loses nothing and keeps its connections, and the broker counts the re-authentications.
#[test]
fn librdkafka_reauthenticates_and_keeps_producing() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(config(dir.path(), 1000));
    let sasl = broker.sasl_addr.unwrap();
    let script = r#"
import sys, time
from confluent_kafka import Producer
conf = {"bootstrap.servers": sys.argv[1], "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "admin", "sasl.password": "admin-secret"}
p = Producer(conf)
errors, acked = [], []
def done(err, msg):
    (errors if err else acked).append(err or msg.offset())
end = time.time() + 4.5
i = 0
while time.time() < end:
    p.produce("reauth", str(i).encode(), callback=done)
    i += 1
    p.poll(0.1)
p.flush(15)
assert not errors, errors
assert acked == list(range(i)), (len(acked), i)
print("OK", i)
"#;
    let out = Command::new(&py)
        .arg("-c")
        .arg(script)
        .arg(sasl.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.starts_with("OK"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One login per connection, then one per second of session on each of them.
    let logins = broker.metric("kzero_authentications_total");
    let connections = broker.metric("kzero_connections_accepted_total");
    assert!(
        logins >= connections + 3.0,
        "{logins} authentications over {connections} connections: no re-authentication"
    );
    broker.stop().unwrap();
}
