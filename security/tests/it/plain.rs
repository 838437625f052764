//! PLAIN: token parsing as Kafka's `PlainSaslServer` does it, and passwords checked against SCRAM
//! credentials.

use std::cell::Cell;

use proptest::prelude::*;
use security::plain::{authenticate, parse, verify_plain, PlainError, PlainMessage, MECHANISM};
use security::scram::{Credential, Mechanism};

fn message(authzid: &str, username: &str, password: &str) -> PlainMessage {
    PlainMessage {
        authzid: authzid.to_string(),
        username: username.to_string(),
        password: password.to_string(),
    }
}

fn check_parse(token: &[u8], expect: Result<PlainMessage, PlainError>) {
    assert_eq!(parse(token), expect, "{:?}", String::from_utf8_lossy(token));
}

#[test]
fn parse_tokens() {
    let count = |tokens| Err(PlainError::WrongTokenCount { tokens });
    let cases: &[(&[u8], Result<PlainMessage, PlainError>)] = &[
        // librdkafka sends no authzid, kafka-python 2.0.2 repeats the user name.
        (b"\0alice\0pw", Ok(message("", "alice", "pw"))),
        (b"alice\0alice\0pw", Ok(message("alice", "alice", "pw"))),
        (b"admin\0alice\0pw", Ok(message("admin", "alice", "pw"))),
        ("\0jörg\0pässwörd".as_bytes(), Ok(message("", "jörg", "pässwörd"))),
        (b"\0alice\0p w ", Ok(message("", "alice", "p w "))),
        // Invalid UTF-8 is replaced, as Java's decoder does.
        (b"\0alice\0p\xffw", Ok(message("", "alice", "p\u{fffd}w"))),
        // Anything but three parts, counting at most four.
        (b"", count(1)),
        (b"alice", count(1)),
        (b"\0alice", count(2)),
        (b"\0alice\0pw\0", count(4)),
        (b"\0alice\0pw\0x", count(4)),
        (b"\0alice\0pw\0x\0y\0z", count(4)),
        (b"\0\0\0\0\0\0", count(4)),
        // Empty parts: the user name is judged first.
        (b"\0\0pw", Err(PlainError::EmptyUsername)),
        (b"\0\0", Err(PlainError::EmptyUsername)),
        (b"\0alice\0", Err(PlainError::EmptyPassword)),
    ];
    for (token, expect) in cases {
        check_parse(token, expect.clone());
    }
}

#[test]
fn verify_plain_against_either_mechanism() {
    for mechanism in Mechanism::ALL {
        let credential = Credential::new(mechanism, "pässword".as_bytes(), b"salt", 4096).unwrap();
        assert!(verify_plain("pässword".as_bytes(), &credential), "{mechanism}");
        assert!(!verify_plain(b"password", &credential), "{mechanism}");
        assert!(!verify_plain(b"", &credential), "{mechanism}");

        // A credential whose ServerKey alone is wrong does not match.
        let mut tampered = credential.clone();
        tampered.server_key[0] ^= 1;
        assert!(!verify_plain("pässword".as_bytes(), &tampered));
        // Nor one with the other salt or iteration count.
        let mut resalted = credential.clone();
        resalted.salt = b"other".to_vec();
        assert!(!verify_plain("pässword".as_bytes(), &resalted));
        let mut reiterated = credential.clone();
        reiterated.iterations = 4097;
        assert!(!verify_plain("pässword".as_bytes(), &reiterated));
    }
}

#[test]
fn verify_plain_refuses_broken_credentials() {
    let mut credential = Credential::new(Mechanism::Sha256, b"pw", b"salt", 4096).unwrap();
    credential.iterations = 0;
    assert!(!verify_plain(b"pw", &credential));
    let empty = Credential {
        mechanism: Mechanism::Sha512,
        salt: Vec::new(),
        stored_key: Vec::new(),
        server_key: Vec::new(),
        iterations: 1,
    };
    assert!(!verify_plain(b"pw", &empty));
}

/// Authenticates `token` against a broker that knows `alice` with password `pw`.
fn check_authenticate(token: &[u8], expect: Result<&str, PlainError>) {
    let credential = Credential::new(Mechanism::Sha512, b"pw", b"salt", 4096).unwrap();
    let asked = Cell::new(None);
    let got = authenticate(token, |name| {
        asked.set(Some(name.to_string()));
        (name == "alice").then(|| credential.clone())
    });
    assert_eq!(got, expect.map(str::to_string), "{:?}", String::from_utf8_lossy(token));
}

#[test]
fn authenticate_in_kafkas_order() {
    let cases: &[(&[u8], Result<&str, PlainError>)] = &[
        (b"\0alice\0pw", Ok("alice")),
        (b"alice\0alice\0pw", Ok("alice")),
        (b"\0alice\0wrong", Err(PlainError::InvalidCredentials)),
        (b"\0bob\0pw", Err(PlainError::InvalidCredentials)),
        (b"\0Alice\0pw", Err(PlainError::InvalidCredentials)),
        (b"admin\0alice\0pw", Err(PlainError::AuthorizationIdMismatch)),
        // The authzid is judged only once the password is right.
        (b"admin\0alice\0wrong", Err(PlainError::InvalidCredentials)),
        (b"\0alice\0pw\0", Err(PlainError::WrongTokenCount { tokens: 4 })),
        (b"\0\0pw", Err(PlainError::EmptyUsername)),
    ];
    for (token, expect) in cases {
        check_authenticate(token, expect.clone());
    }
}

#[test]
fn authenticate_does_not_look_up_a_malformed_token() {
    for token in [&b"alice"[..], b"\0\0pw", b"\0alice\0"] {
        assert!(authenticate(token, |_| panic!("no lookup")).is_err());
    }
}

#[test]
fn client_messages_are_kafkas() {
    let cases = [
        (
            PlainError::WrongTokenCount { tokens: 2 },
            "Invalid SASL/PLAIN response: expected 3 tokens, got 2",
        ),
        (
            PlainError::EmptyUsername,
            "Authentication failed: username not specified",
        ),
        (
            PlainError::EmptyPassword,
            "Authentication failed: password not specified",
        ),
        (
            PlainError::InvalidCredentials,
            "Authentication failed: Invalid username or password",
        ),
        (
            PlainError::AuthorizationIdMismatch,
            "Authentication failed: Client requested an authorization id that is different from username",
        ),
    ];
    for (err, text) in cases {
        assert_eq!(err.client_message(), text);
        // The Rust message says the same, in the crate's style.
        assert_eq!(err.to_string(), text.to_lowercase());
    }
    assert_eq!(MECHANISM, "PLAIN");
}

#[test]
fn debug_hides_the_password() {
    let debug = format!("{:?}", message("", "alice", "hunter2"));
    assert!(!debug.contains("hunter2"));
    assert!(debug.contains("alice"));
}

proptest! {
    /// No token makes PLAIN panic.
    #[test]
    fn any_token_is_a_value(token in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = parse(&token);
        let _ = authenticate(&token, |_| None);
    }
}
