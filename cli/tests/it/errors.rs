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

/// A broker that answers ApiVersions without any group API (as a broker without a group coordinator
/// would), then hangs up on anything else.
fn broker_without_groups() -> String {
    use std::io::{Read, Write};

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut size = [0u8; 4];
            if s.read_exact(&mut size).is_err() {
                continue;
            }
            let mut frame = vec![0u8; i32::from_be_bytes(size) as usize];
            if s.read_exact(&mut frame).is_err() {
                continue;
            }
            let Ok(request) = protocol::Request::decode(bytes::Bytes::from(frame)) else {
                continue;
            };
            let mut body = protocol::ApiVersionsResponse::supported();
            body.api_keys.retain(|a| {
                [
                    protocol::ApiKey::ApiVersions,
                    protocol::ApiKey::Metadata,
                    protocol::ApiKey::Fetch,
                ]
                .iter()
                .any(|k| *k as i16 == a.api_key)
            });
            let mut out = bytes::BytesMut::new();
            protocol::encode_response(&request.header, &protocol::ResponseBody::ApiVersions(body), &mut out).unwrap();
            let _ = s.write_all(&out);
            // Keep the connection open until the client hangs up.
            let _ = s.read(&mut [0u8; 1]);
        }
    });
    addr
}

#[test]
fn groups_need_a_broker_with_the_group_apis() {
    let addr = broker_without_groups();
    assert_eq!(
        kzero(&["consume", "t", "--group", "g", "-b", &addr]).fails(),
        format!(
            "error: the broker at {addr} does not support consumer groups (it does not advertise FindCoordinator); consume without --group"
        )
    );
    for args in [
        &["groups", "list", "-b", &addr][..],
        &["groups", "describe", "g", "-b", &addr],
        &["groups", "delete", "g", "-b", &addr],
        &[
            "groups",
            "reset-offsets",
            "g",
            "--topic",
            "t",
            "--to-latest",
            "-b",
            &addr,
        ],
    ] {
        assert_eq!(
            kzero(args).fails(),
            format!(
                "error: the broker at {addr} does not support consumer groups (it does not advertise FindCoordinator)"
            ),
            "{args:?}"
        );
    }
}

#[test]
fn group_consumers_refuse_options_that_pick_partitions_or_offsets() {
    // With --group the group decides the partitions and the committed offsets decide where to start, as
    // with Kafka's console consumer; these are usage errors (exit code 2).
    for extra in [&["--partition", "0"][..], &["--offset", "3"], &["--timestamp", "0"]] {
        let mut args = vec!["consume", "t", "--group", "g"];
        args.extend(extra);
        let run = kzero(&args);
        assert_eq!(run.code, Some(2), "{extra:?}");
        assert!(run.stderr.contains("cannot be used with"), "{}", run.stderr);
    }
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
