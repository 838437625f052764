//! SCRAM: the RFC 7677 test vector, round trips with a reference client written here from RFC 5802, and
//! every way a client message can be wrong.

use std::cell::Cell;
use std::num::NonZeroU32;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use proptest::prelude::*;
use ring::{digest, hmac, pbkdf2};
use security::scram::{
    generic_failure_message, server_nonce, validate_deletion, validate_upsertion, Credential, CredentialError,
    Mechanism, ScramError, ServerExchange, MAX_ITERATIONS, MIN_ITERATIONS,
};

// RFC 7677 section 3.
const RFC_SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
const RFC_CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
const RFC_SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const RFC_SERVER_FIRST: &str = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const RFC_CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                                p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const RFC_SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

fn rfc_credential() -> Credential {
    let salt = BASE64.decode(RFC_SALT).unwrap();
    Credential::new(Mechanism::Sha256, b"pencil", &salt, 4096).unwrap()
}

/// The RFC 7677 credential from its published keys, without running PBKDF2.
fn rfc_stored_credential() -> Credential {
    Credential {
        mechanism: Mechanism::Sha256,
        salt: BASE64.decode(RFC_SALT).unwrap(),
        stored_key: BASE64.decode("WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=").unwrap(),
        server_key: BASE64.decode("wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=").unwrap(),
        iterations: 4096,
    }
}

fn credential(mechanism: Mechanism, password: &str) -> Credential {
    Credential::new(mechanism, password.as_bytes(), b"some salt", 4096).unwrap()
}

/// A lookup that knows one user and records which name it was asked for.
fn lookup_for<'a>(
    user: &'a str,
    credential: &'a Credential,
    asked: &'a Cell<Option<String>>,
) -> impl FnOnce(&str) -> Option<Credential> + 'a {
    move |name| {
        asked.set(Some(name.to_string()));
        (name == user).then(|| credential.clone())
    }
}

/// The client side of RFC 5802, written here independently of the crate, with ring only.
struct Client {
    mechanism: Mechanism,
    /// The gs2 header: `n,,` or `n,a=<saslname>,`.
    gs2_header: String,
    /// client-first-message-bare, e.g. `n=user,r=nonce`.
    bare: String,
    password: String,
    /// Put the client nonce in front of the server-first nonce again in the client-final message, as
    /// librdkafka before 2.1 does.
    repeat_nonce: Option<String>,
}

impl Client {
    fn new(mechanism: Mechanism, saslname: &str, password: &str, nonce: &str) -> Client {
        Client {
            mechanism,
            gs2_header: "n,,".to_string(),
            bare: format!("n={saslname},r={nonce}"),
            password: password.to_string(),
            repeat_nonce: None,
        }
    }

    fn repeating_the_nonce(mut self, nonce: &str) -> Client {
        self.repeat_nonce = Some(nonce.to_string());
        self
    }

    fn with_authzid(mut self, authzid: &str) -> Client {
        self.gs2_header = format!("n,a={authzid},");
        self
    }

    fn with_extensions(mut self, extensions: &str) -> Client {
        self.bare = format!("{},{extensions}", self.bare);
        self
    }

    fn client_first(&self) -> String {
        format!("{}{}", self.gs2_header, self.bare)
    }

    /// The client-final message for this server-first message, and the server-final message it expects.
    fn client_final(&self, server_first: &str) -> (String, String) {
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for field in server_first.split(',') {
            match field.split_at(2) {
                ("r=", v) => nonce = Some(v.to_string()),
                ("s=", v) => salt = Some(BASE64.decode(v).unwrap()),
                ("i=", v) => iterations = Some(v.parse::<u32>().unwrap()),
                _ => panic!("unexpected server-first field {field}"),
            }
        }
        let (nonce, salt, iterations) = (nonce.unwrap(), salt.unwrap(), iterations.unwrap());
        let nonce = format!("{}{nonce}", self.repeat_nonce.as_deref().unwrap_or(""));
        let (pbkdf2_alg, hmac_alg, digest_alg) = match self.mechanism {
            Mechanism::Sha256 => (pbkdf2::PBKDF2_HMAC_SHA256, hmac::HMAC_SHA256, &digest::SHA256),
            Mechanism::Sha512 => (pbkdf2::PBKDF2_HMAC_SHA512, hmac::HMAC_SHA512, &digest::SHA512),
        };
        let mut salted = vec![0; digest_alg.output_len()];
        pbkdf2::derive(
            pbkdf2_alg,
            iterations.try_into().unwrap(),
            &salt,
            self.password.as_bytes(),
            &mut salted,
        );
        let salted_key = hmac::Key::new(hmac_alg, &salted);
        let client_key = hmac::sign(&salted_key, b"Client Key");
        let stored_key = digest::digest(digest_alg, client_key.as_ref());
        let server_key = hmac::sign(&salted_key, b"Server Key");

        let without_proof = format!("c={},r={nonce}", BASE64.encode(&self.gs2_header));
        let auth_message = format!("{},{server_first},{without_proof}", self.bare);
        let signature = hmac::sign(&hmac::Key::new(hmac_alg, stored_key.as_ref()), auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .as_ref()
            .iter()
            .zip(signature.as_ref())
            .map(|(k, s)| k ^ s)
            .collect();
        let server_signature = hmac::sign(&hmac::Key::new(hmac_alg, server_key.as_ref()), auth_message.as_bytes());
        (
            format!("{without_proof},p={}", BASE64.encode(proof)),
            format!("v={}", BASE64.encode(server_signature.as_ref())),
        )
    }
}

/// Runs a whole exchange between `client` and a server that knows `user` with `credential`; returns the
/// outcome and the server.
fn run(client: &Client, user: &str, credential: &Credential) -> (Result<(), ScramError>, ServerExchange) {
    let asked = Cell::new(None);
    let mut server = ServerExchange::new(client.mechanism, "sErVeRnOnCe");
    let server_first = match server.client_first(client.client_first().as_bytes(), lookup_for(user, credential, &asked))
    {
        Ok(m) => String::from_utf8(m).unwrap(),
        Err(e) => return (Err(e), server),
    };
    let (client_final, expected_server_final) = client.client_final(&server_first);
    let outcome = server
        .client_final(client_final.as_bytes())
        .map(|server_final| assert_eq!(server_final, expected_server_final.as_bytes()));
    (outcome, server)
}

#[test]
fn rfc7677_sha256_vector() {
    let credential = rfc_credential();
    assert_eq!(
        BASE64.encode(&credential.stored_key),
        "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
    );
    assert_eq!(
        BASE64.encode(&credential.server_key),
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
    );

    let asked = Cell::new(None);
    let mut server = ServerExchange::new(Mechanism::Sha256, RFC_SERVER_NONCE);
    let server_first = server
        .client_first(RFC_CLIENT_FIRST.as_bytes(), lookup_for("user", &credential, &asked))
        .unwrap();
    assert_eq!(asked.take().as_deref(), Some("user"));
    assert_eq!(String::from_utf8(server_first).unwrap(), RFC_SERVER_FIRST);
    assert!(!server.is_complete());
    assert_eq!(server.authenticated_user(), None);

    let server_final = server.client_final(RFC_CLIENT_FINAL.as_bytes()).unwrap();
    assert_eq!(String::from_utf8(server_final).unwrap(), RFC_SERVER_FINAL);
    assert!(server.is_complete());
    assert!(!server.is_failed());
    assert_eq!(server.authenticated_user(), Some("user"));
}

#[test]
fn rfc7677_vector_through_evaluate_response() {
    let credential = rfc_stored_credential();
    let mut server = ServerExchange::new(Mechanism::Sha256, RFC_SERVER_NONCE);
    let first = server
        .evaluate_response(RFC_CLIENT_FIRST.as_bytes(), |_| Some(credential.clone()))
        .unwrap();
    assert_eq!(first, RFC_SERVER_FIRST.as_bytes());
    let last = server
        .evaluate_response(RFC_CLIENT_FINAL.as_bytes(), |_| unreachable!())
        .unwrap();
    assert_eq!(last, RFC_SERVER_FINAL.as_bytes());
    assert_eq!(server.authenticated_user(), Some("user"));
}

#[test]
fn reference_client_matches_the_rfc_vector() {
    // The test client reproduces the published proof, so the round trips below test the server against
    // a client that is right.
    let client = Client::new(Mechanism::Sha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
    assert_eq!(client.client_first(), RFC_CLIENT_FIRST);
    let (client_final, server_final) = client.client_final(RFC_SERVER_FIRST);
    assert_eq!(client_final, RFC_CLIENT_FINAL);
    assert_eq!(server_final, RFC_SERVER_FINAL);
}

#[test]
fn round_trip_both_mechanisms() {
    for mechanism in Mechanism::ALL {
        let credential = credential(mechanism, "s3cr3t pässword");
        let client = Client::new(mechanism, "alice", "s3cr3t pässword", "fyko+d2lbbFgONRv9qkxdawL");
        let (outcome, server) = run(&client, "alice", &credential);
        assert_eq!(outcome, Ok(()), "{mechanism}");
        assert_eq!(server.authenticated_user(), Some("alice"));
        assert_eq!(server.mechanism(), mechanism);
    }
}

#[test]
fn sha512_keys_have_sha512_length() {
    let credential = credential(Mechanism::Sha512, "pw");
    assert_eq!(credential.stored_key.len(), 64);
    assert_eq!(credential.server_key.len(), 64);
    assert_eq!(Mechanism::Sha512.output_len(), 64);
}

#[test]
fn wrong_password_fails_with_the_generic_message() {
    for mechanism in Mechanism::ALL {
        let credential = credential(mechanism, "right");
        let client = Client::new(mechanism, "alice", "wrong", "abc");
        let (outcome, server) = run(&client, "alice", &credential);
        let err = outcome.unwrap_err();
        assert_eq!(err, ScramError::InvalidProof);
        assert!(server.is_failed());
        assert_eq!(server.authenticated_user(), None);
        assert_eq!(
            err.client_message(mechanism, false),
            format!(
                "Authentication failed during authentication due to invalid credentials with SASL \
                 mechanism {}",
                mechanism.name()
            )
        );
    }
}

#[test]
fn unknown_user_fails_at_client_first() {
    let credential = credential(Mechanism::Sha256, "pw");
    let asked = Cell::new(None);
    let mut server = ServerExchange::new(Mechanism::Sha256, "snonce");
    let err = server
        .client_first(b"n,,n=bob,r=abc", lookup_for("alice", &credential, &asked))
        .unwrap_err();
    assert_eq!(err, ScramError::UnknownUser);
    assert_eq!(asked.take().as_deref(), Some("bob"));
    assert!(server.is_failed());
    assert_eq!(
        err.client_message(Mechanism::Sha256, true),
        "Authentication failed during re-authentication due to invalid credentials with SASL \
         mechanism SCRAM-SHA-256"
    );
}

#[test]
fn credential_of_the_other_mechanism_counts_as_none() {
    let credential = credential(Mechanism::Sha512, "pw");
    let client = Client::new(Mechanism::Sha256, "alice", "pw", "abc");
    let (outcome, _) = run(&client, "alice", &credential);
    assert_eq!(outcome, Err(ScramError::UnknownUser));
}

#[test]
fn saslname_escapes_are_undone_before_lookup() {
    let user = "a,b=c";
    let credential = credential(Mechanism::Sha256, "pw");
    let client = Client::new(Mechanism::Sha256, "a=2Cb=3Dc", "pw", "abc");
    let (outcome, server) = run(&client, user, &credential);
    assert_eq!(outcome, Ok(()));
    assert_eq!(server.authenticated_user(), Some(user));
}

#[test]
fn authzid_equal_to_the_user_is_accepted_and_bound_into_c() {
    let credential = credential(Mechanism::Sha512, "pw");
    let client = Client::new(Mechanism::Sha512, "alice", "pw", "abc").with_authzid("alice");
    // c= carries the base64 of "n,a=alice,", not "biws".
    let (outcome, server) = run(&client, "alice", &credential);
    assert_eq!(outcome, Ok(()));
    assert_eq!(server.authenticated_user(), Some("alice"));

    // An escaped authzid is compared unescaped.
    let client = Client::new(Mechanism::Sha512, "a=2Cb", "pw", "abc").with_authzid("a=2Cb");
    assert_eq!(run(&client, "a,b", &credential).0, Ok(()));
}

#[test]
fn authzid_of_another_user_fails_with_kafkas_own_message() {
    let credential = credential(Mechanism::Sha256, "pw");
    let client = Client::new(Mechanism::Sha256, "alice", "pw", "abc").with_authzid("admin");
    let (outcome, server) = run(&client, "alice", &credential);
    let err = outcome.unwrap_err();
    assert_eq!(err, ScramError::AuthorizationIdMismatch);
    assert!(server.is_failed());
    assert_eq!(
        err.client_message(Mechanism::Sha256, false),
        "Authentication failed: Client requested an authorization id that is different from username"
    );
    // Kafka looks the user up first: an unknown user with a foreign authzid is just an unknown user.
    let (outcome, _) = run(&client, "somebody-else", &credential);
    assert_eq!(outcome, Err(ScramError::UnknownUser));
}

#[test]
fn token_authentication_is_refused_without_a_lookup() {
    for extension in ["tokenauth=true", "tokenauth=TRUE", "tokenauth=false,tokenauth=True"] {
        let client = Client::new(Mechanism::Sha256, "tokenid", "hmac", "abc").with_extensions(extension);
        let mut server = ServerExchange::new(Mechanism::Sha256, "snonce");
        let err = server
            .client_first(client.client_first().as_bytes(), |_| {
                panic!("no lookup for token authentication")
            })
            .unwrap_err();
        assert_eq!(err, ScramError::TokenAuthentication, "{extension}");
        assert!(err
            .client_message(Mechanism::Sha256, false)
            .starts_with("Authentication failed during authentication due to invalid credentials"));
    }
}

#[test]
fn other_extensions_are_ignored_but_signed() {
    let credential = credential(Mechanism::Sha256, "pw");
    for extension in [
        "tokenauth=false",
        "foo=bar",
        "tokenauth=true,tokenauth=false",
        "x=a=b,y=c",
    ] {
        let client = Client::new(Mechanism::Sha256, "alice", "pw", "abc").with_extensions(extension);
        assert_eq!(run(&client, "alice", &credential).0, Ok(()), "{extension}");
    }
}

#[test]
fn too_few_iterations_fail() {
    let salted = vec![7; 32];
    let weak = Credential::from_salted_password(Mechanism::Sha256, b"salt", &salted, 4095);
    let mut server = ServerExchange::new(Mechanism::Sha256, "snonce");
    let err = server
        .client_first(b"n,,n=alice,r=abc", |_| Some(weak.clone()))
        .unwrap_err();
    assert_eq!(
        err,
        ScramError::TooFewIterations {
            iterations: 4095,
            minimum: 4096,
            mechanism: Mechanism::Sha256
        }
    );
    assert_eq!(
        err.to_string(),
        "iterations 4095 is less than the minimum 4096 for SCRAM-SHA-256"
    );
}

#[test]
fn bad_server_nonce_fails() {
    let credential = credential(Mechanism::Sha256, "pw");
    for suffix in ["", "with,comma", "with space", "tab\t", "é"] {
        let mut server = ServerExchange::new(Mechanism::Sha256, suffix);
        let err = server
            .client_first(b"n,,n=alice,r=abc", |_| Some(credential.clone()))
            .unwrap_err();
        assert_eq!(err, ScramError::InvalidServerNonce, "{suffix:?}");
    }
}

#[test]
fn server_nonce_helper_is_a_valid_suffix() {
    let nonce = server_nonce(&[0xff; 17]);
    assert_eq!(nonce, "//////////////////////8");
    let credential = credential(Mechanism::Sha256, "pw");
    let mut server = ServerExchange::new(Mechanism::Sha256, &server_nonce(&[0, 1, 2, 250, 251, 252]));
    assert!(server
        .client_first(b"n,,n=alice,r=abc", |_| Some(credential.clone()))
        .is_ok());
}

/// Sends `message` as the client-first message to a server that knows `alice` with password `pw`.
fn check_client_first(message: &[u8], expect: Result<(), ScramError>) {
    let credential = credential(Mechanism::Sha256, "pw");
    let mut server = ServerExchange::new(Mechanism::Sha256, "snonce");
    let got = server
        .client_first(message, |name| (name == "alice").then(|| credential.clone()))
        .map(drop);
    assert_eq!(got, expect, "{:?}", String::from_utf8_lossy(message));
    assert_eq!(server.is_failed(), expect.is_err());
}

#[test]
fn client_first_grammar() {
    let malformed = Err(ScramError::MalformedClientFirst);
    let cases: &[(&[u8], Result<(), ScramError>)] = &[
        (b"n,,n=alice,r=abc", Ok(())),
        (b"n,,n=alice,r=!~\"#$%&'()*+-./:;<=>?@[\\]^_`{|}", Ok(())),
        (b"n,a=alice,n=alice,r=abc", Ok(())),
        (b"n,,n=alice,r=abc,ext=value=with=equals", Ok(())),
        (b"", malformed.clone()),
        (b"n", malformed.clone()),
        (b"n,", malformed.clone()),
        (b"n,,", malformed.clone()),
        // Channel binding flags other than n.
        (b"y,,n=alice,r=abc", malformed.clone()),
        (b"p=tls-unique,,n=alice,r=abc", malformed.clone()),
        (b"N,,n=alice,r=abc", malformed.clone()),
        // The gs2 header.
        (b"n,a=,n=alice,r=abc", malformed.clone()),
        (b"n,b=alice,n=alice,r=abc", malformed.clone()),
        (b"n,a=al=ice,n=alice,r=abc", malformed.clone()),
        (b"n,n=alice,r=abc", malformed.clone()),
        // The reserved m= attribute.
        (b"n,,m=ext,n=alice,r=abc", malformed.clone()),
        // The user name.
        (b"n,,n=,r=abc", malformed.clone()),
        (b"n,,r=abc,n=alice", malformed.clone()),
        (b"n,,n=al=ice,r=abc", malformed.clone()),
        (b"n,,n=al=2c,r=abc", malformed.clone()),
        (b"n,,n=al=3,r=abc", malformed.clone()),
        (b"n,,n=alice=,r=abc", malformed.clone()),
        (b"n,,n=al\0ice,r=abc", malformed.clone()),
        ("n,,n=jörg,r=abc".as_bytes(), malformed.clone()),
        (b"n,,n=al\xffice,r=abc", malformed.clone()),
        (b"n,,alice,r=abc", malformed.clone()),
        // The nonce.
        (b"n,,n=alice", malformed.clone()),
        (b"n,,n=alice,", malformed.clone()),
        (b"n,,n=alice,r=", malformed.clone()),
        (b"n,,n=alice,r=a b", malformed.clone()),
        (b"n,,n=alice,r=a\x7f", malformed.clone()),
        (b"n,,n=alice,r=\xc3\xa9", malformed.clone()),
        (b"n,,n=alice,x=abc", malformed.clone()),
        // Extensions.
        (b"n,,n=alice,r=abc,", malformed.clone()),
        (b"n,,n=alice,r=abc,=v", malformed.clone()),
        (b"n,,n=alice,r=abc,k=", malformed.clone()),
        (b"n,,n=alice,r=abc,k1=v", malformed.clone()),
        (b"n,,n=alice,r=abc,novalue", malformed.clone()),
        (b"n,,n=alice,r=abc,k=\x80", malformed.clone()),
        // Well formed, but not alice.
        (b"n,,n=Alice,r=abc", Err(ScramError::UnknownUser)),
    ];
    for (message, expect) in cases {
        check_client_first(message, expect.clone());
    }
}

/// Starts an exchange with the RFC 7677 client-first message, then sends `message` as the client-final
/// message.
fn check_client_final(message: &[u8], expect: Result<(), ScramError>) {
    let credential = rfc_credential();
    let mut server = ServerExchange::new(Mechanism::Sha256, RFC_SERVER_NONCE);
    server
        .client_first(RFC_CLIENT_FIRST.as_bytes(), |_| Some(credential.clone()))
        .unwrap();
    let got = server.client_final(message).map(drop);
    assert_eq!(got, expect, "{:?}", String::from_utf8_lossy(message));
    assert_eq!(server.is_complete(), expect.is_ok());
    assert_eq!(server.is_failed(), expect.is_err());
}

#[test]
fn client_final_grammar_and_checks() {
    const NONCE: &str = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const PROOF: &str = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    let malformed = Err(ScramError::MalformedClientFinal);
    let cases: Vec<(String, Result<(), ScramError>)> = vec![
        (RFC_CLIENT_FINAL.to_string(), Ok(())),
        (String::new(), malformed.clone()),
        ("p=".to_string(), malformed.clone()),
        (format!("c=biws,r={NONCE}"), malformed.clone()),
        (format!("c=biws,r={NONCE},p="), Err(ScramError::InvalidProof)),
        (format!("c=biws,r={NONCE},p={PROOF},"), malformed.clone()),
        (format!("r={NONCE},c=biws,p={PROOF}"), malformed.clone()),
        (format!("c=biws,p={PROOF}"), malformed.clone()),
        (format!("c=biws,r=,p={PROOF}"), malformed.clone()),
        (format!("c=bi ws,r={NONCE},p={PROOF}"), malformed.clone()),
        (format!("c=biws,r={NONCE},p=dHzb*apW"), malformed.clone()),
        // Not canonical base64: missing padding, bad length.
        (
            format!("c=biws,r={NONCE},p={}", PROOF.trim_end_matches('=')),
            malformed.clone(),
        ),
        (format!("c=biws,r={NONCE},p=abc"), malformed.clone()),
        (format!("c=biws,r={NONCE},=x,p={PROOF}"), malformed.clone()),
        (format!("c=biws,r={NONCE},k=\u{e9},p={PROOF}"), malformed.clone()),
        // The nonce must be the server-first nonce, exactly.
        (
            format!("c=biws,r=rOprNGfwEbeRWgbNEkqO,p={PROOF}"),
            Err(ScramError::NonceMismatch),
        ),
        (format!("c=biws,r={NONCE}x,p={PROOF}"), Err(ScramError::NonceMismatch)),
        // A nonce that ends with the server-first one passes the nonce check (Kafka's `endsWith`); the proof,
        // computed over another message, fails.
        (format!("c=biws,r=x{NONCE},p={PROOF}"), Err(ScramError::InvalidProof)),
        // c= must be the base64 of "n,,".
        (
            format!("c=eSws,r={NONCE},p={PROOF}"),
            Err(ScramError::ChannelBindingMismatch),
        ),
        (
            format!("c=,r={NONCE},p={PROOF}"),
            Err(ScramError::ChannelBindingMismatch),
        ),
        (
            format!("c=biws=,r={NONCE},p={PROOF}"),
            Err(ScramError::ChannelBindingMismatch),
        ),
        // The proof: wrong bytes, wrong length.
        (
            format!("c=biws,r={NONCE},p=eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="),
            Err(ScramError::InvalidProof),
        ),
        (format!("c=biws,r={NONCE},p=dHzb"), Err(ScramError::InvalidProof)),
        (
            format!("c=biws,r={NONCE},p={}", BASE64.encode([0u8; 64])),
            Err(ScramError::InvalidProof),
        ),
        // An extension is signed: the published proof does not cover it.
        (format!("c=biws,r={NONCE},k=v,p={PROOF}"), Err(ScramError::InvalidProof)),
    ];
    for (message, expect) in cases {
        check_client_final(message.as_bytes(), expect);
    }
}

#[test]
fn messages_out_of_order_fail() {
    let credential = rfc_credential();
    let state_of = |err: ScramError| match err {
        ScramError::UnexpectedMessage { state } => state,
        other => panic!("{other:?}"),
    };

    // A client-final message first.
    let mut server = ServerExchange::new(Mechanism::Sha256, RFC_SERVER_NONCE);
    let err = server.client_final(RFC_CLIENT_FINAL.as_bytes()).unwrap_err();
    assert_eq!(state_of(err), "RECEIVE_CLIENT_FIRST_MESSAGE");
    assert!(server.is_failed());

    // A second client-first message.
    let mut server = ServerExchange::new(Mechanism::Sha256, RFC_SERVER_NONCE);
    server
        .client_first(RFC_CLIENT_FIRST.as_bytes(), |_| Some(credential.clone()))
        .unwrap();
    let err = server
        .client_first(RFC_CLIENT_FIRST.as_bytes(), |_| Some(credential.clone()))
        .unwrap_err();
    assert_eq!(state_of(err), "RECEIVE_CLIENT_FINAL_MESSAGE");
    assert!(server.is_failed());
    // A failed exchange stays failed.
    let err = server.client_final(RFC_CLIENT_FINAL.as_bytes()).unwrap_err();
    assert_eq!(state_of(err), "FAILED");

    // Anything after completion fails the exchange, as Kafka's FAILED state does.
    let mut server = ServerExchange::new(Mechanism::Sha256, RFC_SERVER_NONCE);
    server
        .evaluate_response(RFC_CLIENT_FIRST.as_bytes(), |_| Some(credential.clone()))
        .unwrap();
    server.evaluate_response(RFC_CLIENT_FINAL.as_bytes(), |_| None).unwrap();
    let err = server
        .evaluate_response(RFC_CLIENT_FINAL.as_bytes(), |_| None)
        .unwrap_err();
    assert_eq!(state_of(err), "COMPLETE");
    assert_eq!(server.authenticated_user(), None);
}

#[test]
fn mechanism_names_and_type_ids() {
    assert_eq!(Mechanism::Sha256.name(), "SCRAM-SHA-256");
    assert_eq!(Mechanism::Sha512.name(), "SCRAM-SHA-512");
    assert_eq!(Mechanism::Sha512.to_string(), "SCRAM-SHA-512");
    assert_eq!(Mechanism::from_name("SCRAM-SHA-256"), Some(Mechanism::Sha256));
    assert_eq!(Mechanism::from_name("SCRAM-SHA-512"), Some(Mechanism::Sha512));
    assert_eq!(Mechanism::from_name("scram-sha-256"), None);
    assert_eq!(Mechanism::from_name("SCRAM-SHA-1"), None);
    assert_eq!(Mechanism::from_name("PLAIN"), None);
    assert_eq!(Mechanism::Sha256.type_id(), 1);
    assert_eq!(Mechanism::Sha512.type_id(), 2);
    for id in i8::MIN..=i8::MAX {
        let expected = match id {
            1 => Some(Mechanism::Sha256),
            2 => Some(Mechanism::Sha512),
            _ => None,
        };
        assert_eq!(Mechanism::from_type_id(id), expected);
    }
    for m in Mechanism::ALL {
        assert_eq!(m.min_iterations(), MIN_ITERATIONS);
        assert_eq!(m.max_iterations(), MAX_ITERATIONS);
    }
    assert_eq!((MIN_ITERATIONS, MAX_ITERATIONS), (4096, 16384));
}

#[test]
fn upsertion_and_deletion_checks() {
    type Expect = Result<Mechanism, CredentialError>;
    let cases: &[(&str, i8, i32, Expect)] = &[
        ("alice", 1, 4096, Ok(Mechanism::Sha256)),
        ("alice", 2, 16384, Ok(Mechanism::Sha512)),
        ("", 1, 4096, Err(CredentialError::EmptyUsername)),
        // The user name is checked before the mechanism, the mechanism before the iterations.
        ("", 0, 1, Err(CredentialError::EmptyUsername)),
        ("alice", 0, 1, Err(CredentialError::UnknownMechanism { mechanism: 0 })),
        (
            "alice",
            3,
            4096,
            Err(CredentialError::UnknownMechanism { mechanism: 3 }),
        ),
        (
            "alice",
            -1,
            4096,
            Err(CredentialError::UnknownMechanism { mechanism: -1 }),
        ),
        (
            "alice",
            1,
            4095,
            Err(CredentialError::TooFewIterations { iterations: 4095 }),
        ),
        (
            "alice",
            1,
            -5,
            Err(CredentialError::TooFewIterations { iterations: -5 }),
        ),
        (
            "alice",
            2,
            16385,
            Err(CredentialError::TooManyIterations { iterations: 16385 }),
        ),
        (
            "alice",
            2,
            i32::MAX,
            Err(CredentialError::TooManyIterations {
                iterations: i64::from(i32::MAX),
            }),
        ),
    ];
    for (name, mechanism, iterations, expect) in cases {
        assert_eq!(
            &validate_upsertion(name, *mechanism, *iterations),
            expect,
            "{name:?} {mechanism} {iterations}"
        );
    }
    assert_eq!(validate_deletion("alice", 2), Ok(Mechanism::Sha512));
    assert_eq!(validate_deletion("", 2), Err(CredentialError::EmptyUsername));
    assert_eq!(
        validate_deletion("alice", 9),
        Err(CredentialError::UnknownMechanism { mechanism: 9 })
    );

    let messages = [
        (CredentialError::EmptyUsername, 93, "Username must not be empty"),
        (
            CredentialError::UnknownMechanism { mechanism: 0 },
            33,
            "Unknown SCRAM mechanism",
        ),
        (
            CredentialError::TooFewIterations { iterations: 1 },
            93,
            "Too few iterations",
        ),
        (
            CredentialError::TooManyIterations { iterations: 20000 },
            93,
            "Too many iterations",
        ),
    ];
    for (err, code, message) in messages {
        assert_eq!(err.error_code(), code);
        assert_eq!(err.kafka_message(), message);
    }
}

#[test]
fn credential_new_keeps_kafkas_bounds() {
    for iterations in [0, 1, 4095] {
        assert_eq!(
            Credential::new(Mechanism::Sha256, b"pw", b"salt", iterations),
            Err(CredentialError::TooFewIterations {
                iterations: i64::from(iterations)
            })
        );
    }
    for iterations in [16385, u32::MAX] {
        assert_eq!(
            Credential::new(Mechanism::Sha512, b"pw", b"salt", iterations),
            Err(CredentialError::TooManyIterations {
                iterations: i64::from(iterations)
            })
        );
    }
}

#[test]
fn from_salted_password_agrees_with_new() {
    // An AlterUserScramCredentials client sends Hi(password, salt, i); the stored credential must be the
    // one the password gives directly.
    for mechanism in Mechanism::ALL {
        let salted = security::scram::salted_password(mechanism, b"pw", b"salt", NonZeroU32::new(4096).unwrap());
        assert_eq!(salted.len(), mechanism.output_len());
        let upserted = Credential::from_salted_password(mechanism, b"salt", &salted, 4096);
        let direct = Credential::new(mechanism, b"pw", b"salt", 4096).unwrap();
        assert_eq!(upserted, direct);
        assert_eq!(upserted.salt, b"salt");
        assert_eq!(upserted.iterations, 4096);
        assert_eq!(upserted.mechanism, mechanism);
    }
}

#[test]
fn credential_debug_hides_the_keys() {
    assert_eq!(rfc_credential(), rfc_stored_credential());
    let debug = format!("{:?}", rfc_credential());
    assert_eq!(
        debug,
        "Credential { mechanism: Sha256, salt: \"[hidden]\", stored_key: \"[hidden]\", \
         server_key: \"[hidden]\", iterations: 4096 }"
    );
}

#[test]
fn generic_failure_message_text() {
    assert_eq!(
        generic_failure_message("SCRAM-SHA-512", false),
        "Authentication failed during authentication due to invalid credentials with SASL mechanism \
         SCRAM-SHA-512"
    );
    assert_eq!(
        generic_failure_message("PLAIN", true),
        "Authentication failed during re-authentication due to invalid credentials with SASL mechanism \
         PLAIN"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// No client-first message makes the server panic, and a refused one leaves it failed.
    #[test]
    fn any_client_first_is_a_value(message in proptest::collection::vec(any::<u8>(), 0..64)) {
        let credential = Credential::from_salted_password(Mechanism::Sha256, b"s", &[1; 32], 4096);
        let mut server = ServerExchange::new(Mechanism::Sha256, "snonce");
        match server.client_first(&message, |_| Some(credential.clone())) {
            Ok(_) => prop_assert!(!server.is_failed()),
            Err(_) => prop_assert!(server.is_failed()),
        }
    }

    /// Client-first messages built from the grammar's own pieces, valid and not.
    #[test]
    fn grammar_shaped_client_first_is_a_value(
        message in "(n|y|p)?,(a=[a-z=2CD3,]{0,4})?,([mnr]=[a-z=,]{0,6},?){0,4}"
    ) {
        let credential = Credential::from_salted_password(Mechanism::Sha256, b"s", &[1; 32], 4096);
        let mut server = ServerExchange::new(Mechanism::Sha256, "snonce");
        let _ = server.client_first(message.as_bytes(), |_| Some(credential.clone()));
    }

    /// No client-final message makes the server panic, and only the right one completes it.
    #[test]
    fn any_client_final_is_a_value(message in proptest::collection::vec(any::<u8>(), 0..128)) {
        let credential = Credential::from_salted_password(Mechanism::Sha256, b"s", &[1; 32], 4096);
        let mut server = ServerExchange::new(Mechanism::Sha256, "snonce");
        server.client_first(b"n,,n=u,r=c", |_| Some(credential.clone())).unwrap();
        let outcome = server.client_final(&message);
        prop_assert!(outcome.is_err());
        prop_assert!(server.is_failed());
    }

    /// Any one-byte change to the RFC client-final message is refused.
    #[test]
    fn tampered_client_final_fails(index in 0..RFC_CLIENT_FINAL.len(), byte in any::<u8>()) {
        let mut message = RFC_CLIENT_FINAL.as_bytes().to_vec();
        prop_assume!(message[index] != byte);
        message[index] = byte;
        let credential = rfc_stored_credential();
        let mut server = ServerExchange::new(Mechanism::Sha256, RFC_SERVER_NONCE);
        server.client_first(RFC_CLIENT_FIRST.as_bytes(), |_| Some(credential.clone())).unwrap();
        prop_assert!(server.client_final(&message).is_err());
        prop_assert_eq!(server.authenticated_user(), None);
    }
}

/// librdkafka before 2.1 (Debian's kcat) sends the client nonce again in front of the server-first nonce
/// in its client-final message; Kafka accepts a nonce that *ends with* the server-first one, and so does
/// this crate. A nonce that does not end with it still fails.
#[test]
fn a_client_final_nonce_ending_with_the_server_nonce_is_accepted() {
    let credential = credential(Mechanism::Sha256, "pw");
    let client = Client::new(Mechanism::Sha256, "alice", "pw", "cnonce").repeating_the_nonce("cnonce");
    let (outcome, server) = run(&client, "alice", &credential);
    assert_eq!(outcome, Ok(()));
    assert_eq!(server.authenticated_user(), Some("alice"));
    let (outcome, _) = run(
        &Client::new(Mechanism::Sha256, "alice", "pw", "cnonce").repeating_the_nonce("x,"),
        "alice",
        &credential,
    );
    assert!(outcome.is_err(), "{outcome:?}");
}
