//! Tests of `kzero users`: the upsertions sent carry a SaltedPassword from which the broker derives a
//! credential the password authenticates against, and the listing is ordered and reports refusals.

use protocol::{CredentialInfo, DescribeUserScramCredentialsResult};
use security::scram::{ClientExchange, Credential, ServerExchange};

use super::*;

fn fixed_salts() -> impl FnMut() -> Result<[u8; 32]> {
    let mut next = 0u8;
    move || {
        next += 1;
        Ok([next; 32])
    }
}

#[test]
fn upsertions_carry_salt_and_salted_password_per_mechanism() {
    let ups = upsertions("alice", "alice-secret", &Mechanism::ALL, 4096, fixed_salts()).unwrap();
    assert_eq!(ups.len(), 2);
    for (i, (up, mechanism)) in ups.iter().zip(Mechanism::ALL).enumerate() {
        assert_eq!(up.name, "alice");
        assert_eq!(up.mechanism, mechanism.type_id());
        assert_eq!(up.iterations, 4096);
        // A salt of its own for each mechanism.
        assert_eq!(up.salt.as_ref(), &[i as u8 + 1; 32]);
        assert_eq!(up.salted_password.len(), mechanism.output_len());
        // The broker stores what the upsertion gives; the password must authenticate against it.
        let stored = Credential::from_salted_password(mechanism, &up.salt, &up.salted_password, 4096);
        assert_eq!(
            stored,
            Credential::new(mechanism, b"alice-secret", &up.salt, 4096).unwrap()
        );
        let mut client = ClientExchange::new(mechanism, "alice", "alice-secret", "cnonce");
        let mut server = ServerExchange::new(mechanism, "snonce");
        let first = server
            .client_first(&client.client_first(), |_| Some(stored.clone()))
            .unwrap();
        let last = server.client_final(&client.server_first(&first).unwrap()).unwrap();
        client.server_final(&last).unwrap();
    }
}

#[test]
fn upsertions_are_checked_before_the_slow_part() {
    let never = || -> Result<[u8; 32]> { panic!("no salt for a refused upsertion") };
    for (name, iterations, expect) in [
        ("alice", 4095, "cannot create user \"alice\": too few iterations: 4095"),
        ("alice", 0, "cannot create user \"alice\": too few iterations: 0"),
        (
            "alice",
            16385,
            "cannot create user \"alice\": too many iterations: 16385",
        ),
        (
            "alice",
            u32::MAX,
            "cannot create user \"alice\": too many iterations: 2147483647",
        ),
        ("", 4096, "cannot create user \"\": user name must not be empty"),
    ] {
        let err = upsertions(name, "pw", &[Mechanism::Sha256], iterations, never).unwrap_err();
        assert_eq!(err.to_string(), expect);
    }
    let ups = upsertions("bob", "pw", &[Mechanism::Sha512], 16384, fixed_salts()).unwrap();
    assert_eq!(ups[0].iterations, 16384);
}

#[test]
fn mechanisms_default_to_both_and_are_deduplicated() {
    assert_eq!(chosen(&[]), Mechanism::ALL.to_vec());
    assert_eq!(
        chosen(&[Mechanism::Sha512, Mechanism::Sha512, Mechanism::Sha256]),
        vec![Mechanism::Sha512, Mechanism::Sha256]
    );
    assert_eq!(parse_mechanism("scram-sha-256"), Ok(Mechanism::Sha256));
    assert_eq!(parse_mechanism("SCRAM-SHA-512"), Ok(Mechanism::Sha512));
    assert!(parse_mechanism("PLAIN")
        .unwrap_err()
        .contains("expected SCRAM-SHA-256 or SCRAM-SHA-512"));
}

#[test]
fn listing_is_sorted_and_reports_refused_users() {
    let info = |mechanism, iterations| CredentialInfo {
        mechanism,
        iterations,
        ..Default::default()
    };
    let response = DescribeUserScramCredentialsResponse {
        results: vec![
            DescribeUserScramCredentialsResult {
                user: "zed".into(),
                credential_infos: vec![info(2, 8192), info(1, 4096)],
                ..Default::default()
            },
            DescribeUserScramCredentialsResult {
                user: "ghost".into(),
                error_code: 91,
                error_message: Some("Attempt to describe a user credential that does not exist".into()),
                ..Default::default()
            },
            DescribeUserScramCredentialsResult {
                user: "alice".into(),
                credential_infos: vec![info(7, 4096)],
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let (rows, problems) = list_rows(&response);
    let rows: Vec<String> = rows.iter().map(|r| r.join(" ")).collect();
    assert_eq!(
        rows,
        [
            "alice UNKNOWN(7) 4096",
            "zed SCRAM-SHA-256 4096",
            "zed SCRAM-SHA-512 8192"
        ]
    );
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].starts_with("cannot describe user \"ghost\": ")
            && problems[0].ends_with(": Attempt to describe a user credential that does not exist"),
        "{}",
        problems[0]
    );
}

#[test]
fn refusals_are_one_line_each() {
    let result = |user: &str, error_code, message: Option<&str>| AlterUserScramCredentialsResult {
        user: user.into(),
        error_code,
        error_message: message.map(str::to_string),
        ..Default::default()
    };
    assert!(failures(&[result("a", 0, None), result("b", 0, None)], "create").is_empty());
    let problems = failures(
        &[
            result("a", 0, None),
            result("b", 91, None),
            result("c", 93, Some("Too few iterations")),
        ],
        "create",
    );
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].starts_with("cannot create user \"b\": "), "{}", problems[0]);
    assert!(
        problems[1].starts_with("cannot create user \"c\": ") && problems[1].ends_with(": Too few iterations"),
        "{}",
        problems[1]
    );
}
