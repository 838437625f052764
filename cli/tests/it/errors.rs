//! User errors end in one line on stderr and exit code 1, never a panic.

use std::net::TcpListener;

use crate::support::{free_port, kzero, Broker};

#[test]
fn unknown_topic() {
    let broker = Broker::start();
    for args in [
        &["consume", "nope", "--exit"][..],
        &["topics", "describe", "nope"],
        &["bench", "consume", "--topic", "nope"],
    ] {
        assert_eq!(broker.kzero(args).fails(), r#"error: unknown topic "nope""#, "{args:?}");
    }
}

#[test]
fn broker_down() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let expect = format!("error: cannot connect to {addr}: connection refused");
    for args in [
        &["topics", "list", "-b", &addr][..],
        &["consume", "t", "-b", &addr],
        &["produce", "t", "-b", &addr],
        &["bench", "produce", "--quick", "-b", &addr],
    ] {
        assert_eq!(kzero(args).fails(), expect, "{args:?}");
    }
    assert!(kzero(&["topics", "list", "-b", "no-port"])
        .fails()
        .contains("cannot connect to no-port"));
}

#[test]
fn not_a_kafka_listener() {
    // A listener that hangs up at once, as a TLS or SASL listener does on a plaintext ApiVersions.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            drop(s);
        }
    });
    let line = kzero(&["topics", "list", "-b", &addr]).fails().to_string();
    assert_eq!(
        line,
        format!(
            "error: the broker at {addr} closed the connection during the ApiVersions handshake (is it a TLS or SASL listener?)"
        )
    );
}

#[test]
fn consuming_in_a_group_is_refused_clearly_until_the_cli_joins_groups() {
    let broker = Broker::start();
    broker.kzero(&["topics", "create", "t"]).ok();
    let line = broker.kzero(&["consume", "t", "--group", "g"]).fails().to_string();
    assert_eq!(
        line,
        "error: consuming as a member of group \"g\" is not implemented by kzero yet; consume without --group"
    );
}

#[test]
fn bad_arguments_and_files() {
    let broker = Broker::start();
    broker.kzero(&["topics", "create", "t", "-p", "2"]).ok();
    assert_eq!(
        broker.kzero(&["consume", "t", "--partition", "5"]).fails(),
        r#"error: topic "t" has no partition 5 (it has 2 partitions)"#
    );
    broker.kzero_input(&["produce", "t", "-p", "0"], b"x\n").ok();
    assert_eq!(
        broker
            .kzero(&["consume", "t", "-p", "0", "--offset", "7", "--exit"])
            .fails(),
        r#"error: offset 7 is out of range for "t" partition 0 (its offsets are 0 to 1)"#
    );
    let missing = kzero(&["dump-log", "/nonexistent/00000000000000000000.log"]);
    assert_eq!(
        missing.fails(),
        "error: cannot open /nonexistent/00000000000000000000.log: no such file or directory"
    );
    // Usage errors are clap's (exit code 2), still without a panic.
    let usage = kzero(&["produce"]);
    assert_eq!(usage.code, Some(2));
    assert!(usage.stderr.contains("TOPIC"), "{}", usage.stderr);
}
