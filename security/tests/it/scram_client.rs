//! The client side of SCRAM: RFC 7677's vector from the client's end, round trips with the crate's own
//! server, and every way a server message can be wrong.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use proptest::prelude::*;
use security::scram::{client_nonce, ClientExchange, Credential, Mechanism, ScramClientError, ServerExchange};

// RFC 7677 section 3.
const RFC_CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
const RFC_CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
const RFC_SERVER_FIRST: &str = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const RFC_CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                                p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const RFC_SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

fn rfc_client() -> ClientExchange {
    ClientExchange::new(Mechanism::Sha256, "user", "pencil", RFC_CLIENT_NONCE)
}

/// An RFC client that has sent its first message and read the RFC server-first message.
fn rfc_client_awaiting_final() -> ClientExchange {
    let mut client = rfc_client();
    client.client_first();
    client.server_first(RFC_SERVER_FIRST.as_bytes()).unwrap();
    client
}

#[test]
fn rfc7677_vector_from_the_client_side() {
    let mut client = rfc_client();
    assert_eq!(client.mechanism(), Mechanism::Sha256);
    assert_eq!(client.client_first(), RFC_CLIENT_FIRST.as_bytes());
    let client_final = client.server_first(RFC_SERVER_FIRST.as_bytes()).unwrap();
    assert_eq!(String::from_utf8(client_final).unwrap(), RFC_CLIENT_FINAL);
    assert!(!client.is_complete());
    client.server_final(RFC_SERVER_FINAL.as_bytes()).unwrap();
    assert!(client.is_complete());
    assert!(!client.is_failed());
}

#[test]
fn client_first_is_stable_and_escapes_the_user_name() {
    let mut client = ClientExchange::new(Mechanism::Sha512, "a,b=c", "pw", "n0nce");
    assert_eq!(client.client_first(), b"n,,n=a=2Cb=3Dc,r=n0nce");
    assert_eq!(client.client_first(), b"n,,n=a=2Cb=3Dc,r=n0nce");
    let debug = format!("{client:?}");
    assert!(!debug.contains("pw"), "{debug}");
}

/// Runs a whole exchange between a client with `password` and a server that stores `stored`.
fn exchange(mechanism: Mechanism, user: &str, password: &str, stored: &str) -> Result<(), String> {
    let credential = Credential::new(mechanism, stored.as_bytes(), b"pepper salt", 4096).unwrap();
    let mut client = ClientExchange::new(mechanism, user, password, &client_nonce(&[7; 18]));
    let mut server = ServerExchange::new(mechanism, "sErVeR");
    let server_first = server
        .client_first(&client.client_first(), |name| {
            (name == user).then(|| credential.clone())
        })
        .map_err(|e| format!("server: {e}"))?;
    let client_final = client.server_first(&server_first).map_err(|e| format!("client: {e}"))?;
    let server_final = server.client_final(&client_final).map_err(|e| format!("server: {e}"))?;
    client.server_final(&server_final).map_err(|e| format!("client: {e}"))?;
    assert!(client.is_complete());
    assert_eq!(server.authenticated_user(), Some(user));
    Ok(())
}

#[test]
fn round_trip_with_the_server_for_both_mechanisms() {
    for mechanism in Mechanism::ALL {
        assert_eq!(
            exchange(mechanism, "alice", "s3cr3t pässword", "s3cr3t pässword"),
            Ok(())
        );
        assert_eq!(exchange(mechanism, "a,b=c", "pw", "pw"), Ok(()));
        assert_eq!(
            exchange(mechanism, "alice", "wrong", "right"),
            Err("server: invalid client credentials".into()),
            "{mechanism}"
        );
    }
}

#[test]
fn nonces_are_printable_base64() {
    let nonce = client_nonce(&[0xFF; 24]);
    assert_eq!(nonce, "////////////////////////////////");
    assert!(nonce.bytes().all(|b| (0x21..=0x7E).contains(&b) && b != b','));
}

#[test]
fn wrong_server_signature_fails() {
    let mut signature = BASE64.decode(&RFC_SERVER_FINAL[2..]).unwrap();
    signature[0] ^= 1;
    let mut client = rfc_client_awaiting_final();
    let err = client
        .server_final(format!("v={}", BASE64.encode(&signature)).as_bytes())
        .unwrap_err();
    assert_eq!(err, ScramClientError::InvalidServerSignature);
    assert_eq!(err.to_string(), "invalid server signature in server final message");
    assert!(client.is_failed());

    // A signature of the other length, or for another exchange, fails the same way.
    let mut client = rfc_client_awaiting_final();
    assert_eq!(
        client.server_final(b"v=AAAA"),
        Err(ScramClientError::InvalidServerSignature)
    );
}

#[test]
fn server_error_is_reported_with_its_message() {
    let mut client = rfc_client_awaiting_final();
    let err = client.server_final(b"e=invalid-proof").unwrap_err();
    assert_eq!(
        err,
        ScramClientError::ServerError {
            message: "invalid-proof".into()
        }
    );
    assert_eq!(err.to_string(), "the server failed the scram exchange: invalid-proof");
    assert!(client.is_failed());
}

#[test]
fn server_final_grammar() {
    // Extensions after the signature are accepted; anything else is malformed.
    let mut client = rfc_client_awaiting_final();
    assert_eq!(
        client.server_final(format!("{RFC_SERVER_FINAL},x=y").as_bytes()),
        Ok(())
    );
    // Java's decoder accepts a signature without its padding.
    let mut client = rfc_client_awaiting_final();
    assert_eq!(
        client.server_final(RFC_SERVER_FINAL.trim_end_matches('=').as_bytes()),
        Ok(())
    );
    for bad in [
        "",
        "v=",
        "x=abc",
        "v=not base64!",
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,junk",
    ] {
        let mut client = rfc_client_awaiting_final();
        assert_eq!(
            client.server_final(bad.as_bytes()),
            Err(ScramClientError::MalformedServerFinal),
            "{bad:?}"
        );
        assert!(client.is_failed());
    }
}

#[test]
fn server_nonce_must_extend_the_client_nonce() {
    let mut client = rfc_client();
    client.client_first();
    let err = client
        .server_first(b"r=someoneElsesNonce,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
        .unwrap_err();
    assert_eq!(err, ScramClientError::InvalidServerNonce);
    assert_eq!(
        err.to_string(),
        "invalid server nonce: does not start with client nonce"
    );
    assert!(client.is_failed());
}

#[test]
fn too_few_iterations_are_refused_before_any_work() {
    for (iterations, mechanism) in [
        (4095, Mechanism::Sha256),
        (0, Mechanism::Sha512),
        (1, Mechanism::Sha256),
    ] {
        let mut client = ClientExchange::new(mechanism, "user", "pencil", "abc");
        client.client_first();
        let message = format!("r=abcdef,s=c2FsdA==,i={iterations}");
        assert_eq!(
            client.server_first(message.as_bytes()),
            Err(ScramClientError::TooFewIterations {
                iterations,
                minimum: 4096,
                mechanism
            })
        );
    }
    let err = ScramClientError::TooFewIterations {
        iterations: 10,
        minimum: 4096,
        mechanism: Mechanism::Sha256,
    };
    assert_eq!(
        err.to_string(),
        "requested iterations 10 is less than the minimum 4096 for SCRAM-SHA-256"
    );
}

#[test]
fn server_first_grammar() {
    for bad in [
        "",
        "r=abc",
        "r=abcd,s=c2FsdA==",
        "s=c2FsdA==,r=abcd,i=4096",
        "m=ext,r=abcd,s=c2FsdA==,i=4096",
        "r=ab cd,s=c2FsdA==,i=4096",
        "r=abcd,s=,i=4096",
        "r=abcd,s=not*base64,i=4096",
        "r=abcd,s=c2FsdA==,i=",
        "r=abcd,s=c2FsdA==,i=-4096",
        "r=abcd,s=c2FsdA==,i=4096x",
        "r=abcd,s=c2FsdA==,i=99999999999",
        "r=abcd,s=c2FsdA==,i=4096,=x",
        "r=abcd,s=c2FsdA==,i=4096,junk",
    ] {
        let mut client = ClientExchange::new(Mechanism::Sha256, "user", "pencil", "ab");
        client.client_first();
        assert_eq!(
            client.server_first(bad.as_bytes()),
            Err(ScramClientError::MalformedServerFirst),
            "{bad:?}"
        );
        assert!(client.is_failed());
    }
    // Extensions after the iteration count are accepted and signed.
    let mut client = ClientExchange::new(Mechanism::Sha256, "user", "pencil", "ab");
    client.client_first();
    assert!(client.server_first(b"r=abcd,s=c2FsdA==,i=4096,x=1").is_ok());
}

#[test]
fn messages_out_of_order_fail() {
    // No server-first before the client-first message.
    let mut client = rfc_client();
    assert_eq!(
        client.server_first(RFC_SERVER_FIRST.as_bytes()),
        Err(ScramClientError::UnexpectedMessage {
            state: "SEND_CLIENT_FIRST_MESSAGE"
        })
    );
    assert!(client.is_failed());
    // No server-final before the server-first message.
    let mut client = rfc_client();
    client.client_first();
    assert_eq!(
        client.server_final(RFC_SERVER_FINAL.as_bytes()),
        Err(ScramClientError::UnexpectedMessage {
            state: "RECEIVE_SERVER_FIRST_MESSAGE"
        })
    );
    // Nothing after completion, nor after a failure.
    let mut client = rfc_client_awaiting_final();
    client.server_final(RFC_SERVER_FINAL.as_bytes()).unwrap();
    assert_eq!(
        client.server_final(RFC_SERVER_FINAL.as_bytes()),
        Err(ScramClientError::UnexpectedMessage { state: "COMPLETE" })
    );
    assert_eq!(
        client.server_final(RFC_SERVER_FINAL.as_bytes()),
        Err(ScramClientError::UnexpectedMessage { state: "FAILED" })
    );
    // Calling client_first again does not restart a failed exchange.
    client.client_first();
    assert!(client.server_first(RFC_SERVER_FIRST.as_bytes()).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// No server-first message makes the client panic; a refused one leaves it failed.
    #[test]
    fn any_server_first_is_a_value(message in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut client = ClientExchange::new(Mechanism::Sha256, "u", "p", "c");
        client.client_first();
        // Only messages with a huge iteration count would be slow; the generator cannot make one that
        // also parses, since it would need `r=c...,s=...,i=` with many digits.
        match client.server_first(&message) {
            Ok(_) => prop_assert!(!client.is_failed()),
            Err(_) => prop_assert!(client.is_failed()),
        }
    }

    /// No server-final message makes the client panic, and only the right one completes it.
    #[test]
    fn any_server_final_is_a_value(message in proptest::collection::vec(any::<u8>(), 0..96)) {
        let mut client = rfc_client_awaiting_final();
        let outcome = client.server_final(&message);
        prop_assert_eq!(outcome.is_ok(), message == RFC_SERVER_FINAL.as_bytes());
        prop_assert_eq!(client.is_complete(), outcome.is_ok());
    }
}

#[test]
fn more_iterations_than_any_stored_credential_are_refused_before_any_work() {
    for (iterations, mechanism) in [(16_385, Mechanism::Sha256), (u32::MAX, Mechanism::Sha512)] {
        let mut client = ClientExchange::new(mechanism, "user", "pencil", "abc");
        client.client_first();
        let message = format!("r=abcdef,s=c2FsdA==,i={iterations}");
        assert_eq!(
            client.server_first(message.as_bytes()),
            Err(ScramClientError::TooManyIterations {
                iterations,
                maximum: 16_384,
                mechanism
            })
        );
    }
}
