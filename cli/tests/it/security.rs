//! `kzero` against a broker with a SASL_PLAINTEXT listener and the authorizer on: SCRAM users created,
//! listed, used and deleted, ACLs added, listed and removed, and authentication failures as one line.
//!
//! The broker is configured with the keys of the security issue: `[sasl]` (listener, mechanisms, the
//! bootstrap user `admin`) and `[authorizer]` (`User:admin` is a super user).

use std::time::Duration;

use crate::support::{free_port, kzero, wait_until, Broker, Run};

/// A broker with a SASL listener on its own port; returns it and the listener's address.
fn secured_broker() -> (Broker, String) {
    let sasl = format!("127.0.0.1:{}", free_port());
    let broker = Broker::start_with(&format!(
        r#"
[sasl]
listen = "{sasl}"
mechanisms = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
bootstrap_users = [{{ name = "admin", password = "admin-secret" }}]
[authorizer]
enabled = true
super_users = ["User:admin"]
"#
    ));
    (broker, sasl)
}

/// `kzero --sasl-mechanism M --sasl-username U --sasl-password P -b ADDR ARGS`: the connection options
/// before the subcommand, as a user would put them in an alias.
fn as_user(addr: &str, mechanism: &str, user: &str, password: &str, args: &[&str]) -> Run {
    let mut argv = vec![
        "--sasl-mechanism",
        mechanism,
        "--sasl-username",
        user,
        "--sasl-password",
        password,
        "-b",
        addr,
    ];
    argv.extend_from_slice(args);
    kzero(&argv)
}

fn admin(addr: &str, args: &[&str]) -> Run {
    as_user(addr, "SCRAM-SHA-512", "admin", "admin-secret", args)
}

/// The line for a refused authentication: Kafka's fixed text, which does not say whether the user exists.
fn invalid_credentials(addr: &str, mechanism: &str) -> String {
    format!(
        "error: authentication failed at {addr}: Authentication failed during authentication due to invalid \
         credentials with SASL mechanism {mechanism}"
    )
}

/// Waits until the bootstrap user can authenticate (the broker creates it once it serves).
fn wait_for_admin(addr: &str) {
    wait_until(Duration::from_secs(30), "admin can authenticate", || {
        admin(addr, &["topics", "list"]).code == Some(0)
    });
}

#[test]
fn users_acls_and_authentication_over_sasl() {
    let (_broker, sasl) = secured_broker();
    wait_for_admin(&sasl);

    assert_eq!(
        admin(&sasl, &["users", "create", "alice", "--password", "alice-secret"]).ok(),
        "Created SCRAM credentials for user alice (SCRAM-SHA-256, SCRAM-SHA-512).\n"
    );
    let listed = admin(&sasl, &["users", "list"]);
    let lines: Vec<Vec<&str>> = listed.ok().lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(lines[0], ["USER", "MECHANISM", "ITERATIONS"], "{}", listed.stdout);
    assert!(
        lines.contains(&vec!["alice", "SCRAM-SHA-256", "4096"]),
        "{}",
        listed.stdout
    );
    assert!(
        lines.contains(&vec!["alice", "SCRAM-SHA-512", "4096"]),
        "{}",
        listed.stdout
    );
    let only_alice = admin(&sasl, &["users", "list", "alice"]);
    assert_eq!(only_alice.ok().lines().count(), 3, "{}", only_alice.stdout);

    // alice authenticates with either SCRAM mechanism (and PLAIN, checked against her SCRAM credential).
    for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] {
        wait_until(Duration::from_secs(10), "alice can authenticate", || {
            as_user(&sasl, mechanism, "alice", "alice-secret", &["topics", "list"]).code == Some(0)
        });
    }
    // alice is no super user: she cannot manage users.
    let refused = as_user(
        &sasl,
        "SCRAM-SHA-256",
        "alice",
        "alice-secret",
        &["users", "create", "mallory", "--password", "x"],
    );
    assert!(
        refused.fails().contains("CLUSTER_AUTHORIZATION_FAILED"),
        "{}",
        refused.stderr
    );

    let row = ["User:alice", "*", "READ", "ALLOW", "TOPIC", "a", "LITERAL"];
    let rows = |run: &Run| -> Vec<Vec<String>> {
        run.stdout
            .lines()
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .collect()
    };
    let added = admin(
        &sasl,
        &[
            "acls",
            "add",
            "--allow-principal",
            "User:alice",
            "--operation",
            "Read",
            "--topic",
            "a",
        ],
    );
    assert_eq!(added.ok().lines().next(), Some("Added ACLs:"));
    assert!(
        rows(&added).contains(&row.map(String::from).to_vec()),
        "{}",
        added.stdout
    );
    for filter in [
        &[][..],
        &["--topic", "a"],
        &["--principal", "User:alice"],
        &["--topic", "a", "--resource-pattern-type", "match"],
    ] {
        let mut args = vec!["acls", "list"];
        args.extend_from_slice(filter);
        let listed = admin(&sasl, &args);
        listed.ok();
        assert!(
            rows(&listed).contains(&row.map(String::from).to_vec()),
            "{filter:?}: {}",
            listed.stdout
        );
    }
    let other = admin(&sasl, &["acls", "list", "--principal", "User:bob"]);
    assert_eq!(other.ok().lines().count(), 1, "{}", other.stdout);

    let removed = admin(
        &sasl,
        &["acls", "remove", "--allow-principal", "User:alice", "--topic", "a"],
    );
    assert_eq!(removed.ok().lines().next(), Some("Removed ACLs:"));
    assert!(
        rows(&removed).contains(&row.map(String::from).to_vec()),
        "{}",
        removed.stdout
    );
    let after = admin(&sasl, &["acls", "list", "--topic", "a"]);
    assert_eq!(after.ok().lines().count(), 1, "{}", after.stdout);
    assert_eq!(
        admin(&sasl, &["acls", "remove", "--topic", "a"]).ok(),
        "No ACLs matched.\n"
    );

    assert_eq!(
        admin(&sasl, &["users", "delete", "alice"]).ok(),
        "Deleted SCRAM credentials of user alice (SCRAM-SHA-256, SCRAM-SHA-512).\n"
    );
    wait_until(Duration::from_secs(10), "alice can no longer authenticate", || {
        as_user(&sasl, "SCRAM-SHA-256", "alice", "alice-secret", &["topics", "list"]).code != Some(0)
    });
    let gone = as_user(&sasl, "SCRAM-SHA-256", "alice", "alice-secret", &["topics", "list"]);
    assert_eq!(gone.fails(), invalid_credentials(&sasl, "SCRAM-SHA-256"));
    // A user without credentials is one error line for that user, and a non-zero exit.
    let ghost = admin(&sasl, &["users", "list", "alice"]);
    assert!(
        ghost
            .fails()
            .starts_with("error: cannot describe user \"alice\": RESOURCE_NOT_FOUND"),
        "{}",
        ghost.stderr
    );
    assert!(admin(&sasl, &["users", "delete", "alice"]).fails().contains("alice"));
}

#[test]
fn wrong_password_and_unknown_mechanism_are_one_line() {
    let (broker, sasl) = secured_broker();
    wait_for_admin(&sasl);
    let wrong = as_user(&sasl, "SCRAM-SHA-512", "admin", "not-the-password", &["topics", "list"]);
    assert_eq!(wrong.fails(), invalid_credentials(&sasl, "SCRAM-SHA-512"));
    let plain = as_user(&sasl, "PLAIN", "admin", "not-the-password", &["users", "list"]);
    assert!(
        plain
            .fails()
            .starts_with(&format!("error: authentication failed at {sasl}: ")),
        "{}",
        plain.stderr
    );
    // The password may come from the environment.
    let from_env = std::process::Command::new(crate::support::KZERO)
        .args([
            "topics",
            "list",
            "-b",
            &sasl,
            "--sasl-mechanism",
            "SCRAM-SHA-256",
            "--sasl-username",
            "admin",
        ])
        .env("KZERO_SASL_PASSWORD", "admin-secret")
        .output()
        .unwrap();
    assert!(
        from_env.status.success(),
        "{}",
        String::from_utf8_lossy(&from_env.stderr)
    );
    // SASL towards the plaintext listener: that listener does not do SASL.
    let plaintext = as_user(
        &broker.addr,
        "SCRAM-SHA-256",
        "admin",
        "admin-secret",
        &["topics", "list"],
    );
    assert!(
        plaintext
            .fails()
            .starts_with(&format!("error: authentication failed at {}: ", broker.addr)),
        "{}",
        plaintext.stderr
    );
}
