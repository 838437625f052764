//! `kzero produce` from stdin, then `kzero consume --exit` gives back exactly the input.

use serde_json::Value;

use crate::support::Broker;

/// Lines with the awkward cases: empty, spaces, tabs, UTF-8, a separator-looking value.
const LINES: &str = "first\n\n  spaced  \ttab\nnaïve café ✓\nkey-like:value\nlast\n";

fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn plain_lines_round_trip() {
    let broker = Broker::start();
    broker.kzero(&["topics", "create", "lines"]).ok();
    broker.kzero_input(&["produce", "lines"], LINES.as_bytes()).ok();
    let out = broker.kzero(&["consume", "lines", "--from-beginning", "--exit"]);
    assert_eq!(out.ok(), LINES);

    // A last line without a newline is a record too; CRLF line ends are stripped as Kafka's producer does.
    broker.kzero_input(&["produce", "lines"], b"dos\r\nno newline").ok();
    let out = broker.kzero(&["consume", "lines", "--offset", "6", "--exit"]);
    assert_eq!(out.ok(), "dos\nno newline\n");
}

#[test]
fn keys_and_headers_round_trip() {
    let broker = Broker::start();
    broker.kzero(&["topics", "create", "keyed"]).ok();
    let input = "k1:v1\nk2:v:with:colons\n:empty key\nk4:\n";
    broker
        .kzero_input(
            &[
                "produce",
                "keyed",
                "--key-separator",
                ":",
                "-H",
                "app=kzero",
                "-H",
                "n=1",
            ],
            input.as_bytes(),
        )
        .ok();
    let out = broker.kzero(&[
        "consume",
        "keyed",
        "--from-beginning",
        "--exit",
        "--print-key",
        "--key-separator",
        ":",
    ]);
    assert_eq!(out.ok(), input);

    let records = json_lines(
        broker
            .kzero(&["consume", "keyed", "--from-beginning", "--exit", "--json"])
            .ok(),
    );
    assert_eq!(records.len(), 4);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["topic"], "keyed");
        assert_eq!(r["partition"], 0);
        assert_eq!(r["offset"], i as i64);
        assert_eq!(r["timestamp_type"], "CreateTime");
        assert!(r["timestamp"].as_i64().unwrap() > 1_600_000_000_000);
        assert_eq!(
            r["headers"],
            serde_json::json!([{"key": "app", "value": "kzero"}, {"key": "n", "value": "1"}])
        );
    }
    assert_eq!(records[1]["key"], "k2");
    assert_eq!(records[1]["value"], "v:with:colons");
    assert_eq!(records[2]["key"], "");

    // Without a key separator keys are null.
    broker.kzero_input(&["produce", "keyed"], b"nokey\n").ok();
    let last = json_lines(
        broker
            .kzero(&["consume", "keyed", "--offset", "4", "--exit", "--json"])
            .ok(),
    );
    assert_eq!(last[0]["key"], Value::Null);
    assert_eq!(last[0]["value"], "nokey");
}

#[test]
fn every_compression_codec_round_trips() {
    let broker = Broker::start();
    let input: String = (0..300)
        .map(|i| format!("record {i} {}\n", "x".repeat(i % 50)))
        .collect();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("codec-{codec}");
        broker.kzero(&["topics", "create", &topic]).ok();
        broker
            .kzero_input(
                &["produce", &topic, "--compression", codec, "--batch-size", "2000"],
                input.as_bytes(),
            )
            .ok();
        let out = broker.kzero(&["consume", &topic, "--from-beginning", "--exit"]);
        assert_eq!(out.ok(), input, "{codec}");
        let segment = broker.partition_dir(&topic, 0).join("00000000000000000000.log");
        let dump = crate::support::kzero(&["dump-log", segment.to_str().unwrap()]);
        assert!(
            dump.ok().contains(&format!("compresscodec: {codec} ")),
            "{codec}: {}",
            dump.stdout
        );
        assert!(!dump.stdout.contains("isvalid: false"));
    }
}

#[test]
fn keys_pick_partitions_like_kafka() {
    let broker = Broker::start();
    broker.kzero(&["topics", "create", "spread", "-p", "4"]).ok();
    let input: String = (0..40).map(|i| format!("key-{}\tvalue-{i}\n", i % 8)).collect();
    broker
        .kzero_input(&["produce", "spread", "-k", "\t"], input.as_bytes())
        .ok();
    let records = json_lines(
        broker
            .kzero(&["consume", "spread", "--from-beginning", "--exit", "--json"])
            .ok(),
    );
    assert_eq!(records.len(), 40);
    let mut partition_of = std::collections::HashMap::new();
    for r in &records {
        let key = r["key"].as_str().unwrap().to_string();
        let p = r["partition"].as_i64().unwrap();
        assert_eq!(
            *partition_of.entry(key.clone()).or_insert(p),
            p,
            "{key} in two partitions"
        );
    }
    // murmur2("key-0") & 0x7fffffff % 4, as Kafka's default partitioner computes it.
    assert_eq!(partition_of["key-0"], i64::from((murmur2(b"key-0") & 0x7fff_ffff) % 4));
    assert!(partition_of.values().collect::<std::collections::HashSet<_>>().len() > 1);
}

/// Kafka's murmur2, written out again so that the test does not trust the code under test.
fn murmur2(data: &[u8]) -> i32 {
    let m: i32 = 0x5bd1_e995;
    let mut h: i32 = 0x9747_b28c_u32 as i32 ^ data.len() as i32;
    let n = data.len() / 4;
    for i in 0..n {
        let mut k = i32::from_le_bytes([data[4 * i], data[4 * i + 1], data[4 * i + 2], data[4 * i + 3]]);
        k = k.wrapping_mul(m);
        k ^= ((k as u32) >> 24) as i32;
        k = k.wrapping_mul(m);
        h = h.wrapping_mul(m);
        h ^= k;
    }
    let tail = &data[4 * n..];
    if tail.len() >= 3 {
        h ^= i32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= i32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= i32::from(tail[0]);
        h = h.wrapping_mul(m);
    }
    h ^= ((h as u32) >> 13) as i32;
    h = h.wrapping_mul(m);
    h ^= ((h as u32) >> 15) as i32;
    h
}

#[test]
fn start_positions_and_limits() {
    let broker = Broker::start();
    broker.kzero(&["topics", "create", "pos"]).ok();
    broker.kzero_input(&["produce", "pos"], b"a\nb\nc\nd\n").ok();
    // By default a consumer starts at the end: nothing old is printed.
    assert_eq!(broker.kzero(&["consume", "pos", "--exit"]).ok(), "");
    assert_eq!(
        broker.kzero(&["consume", "pos", "--offset", "2", "--exit"]).ok(),
        "c\nd\n"
    );
    assert_eq!(
        broker.kzero(&["consume", "pos", "--from-beginning", "--max", "3"]).ok(),
        "a\nb\nc\n"
    );

    let ts: Vec<i64> = json_lines(
        broker
            .kzero(&["consume", "pos", "--from-beginning", "--exit", "--json"])
            .ok(),
    )
    .iter()
    .map(|r| r["timestamp"].as_i64().unwrap())
    .collect();
    std::thread::sleep(std::time::Duration::from_millis(20));
    broker.kzero_input(&["produce", "pos"], b"later\n").ok();
    let after = (ts[3] + 1).to_string();
    assert_eq!(
        broker.kzero(&["consume", "pos", "--timestamp", &after, "--exit"]).ok(),
        "later\n"
    );
    assert_eq!(
        broker.kzero(&["consume", "pos", "--timestamp", "0", "--max", "1"]).ok(),
        "a\n"
    );

    // Without --exit, --timeout-ms stops a consumer that waits for new records.
    assert_eq!(broker.kzero(&["consume", "pos", "--timeout-ms", "300"]).ok(), "");
}

#[test]
fn errors_are_reported_per_record() {
    let broker = Broker::start();
    broker.kzero(&["topics", "create", "strict"]).ok();
    // Line 2 has no separator; line 4 is larger than the broker's 1 MiB message limit.
    let big = "v".repeat(1_100_000);
    let input = format!("k:one\nnoseparator\nk:three\nk:{big}\nk:five\n");
    let run = broker.kzero_input(&["produce", "strict", "-k", ":"], input.as_bytes());
    assert_eq!(run.code, Some(1));
    let errors: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(
        errors,
        [
            r#"error: line 2: no key separator ":" in the line"#,
            "error: line 4: partition 0: MESSAGE_TOO_LARGE: the record is larger than the broker or topic accepts",
            "error: 2 of 5 records failed",
        ]
    );
    assert_eq!(
        broker.kzero(&["consume", "strict", "--from-beginning", "--exit"]).ok(),
        "one\nthree\nfive\n"
    );
}

#[test]
fn binary_values_round_trip() {
    let broker = Broker::start();
    broker.kzero(&["topics", "create", "bin"]).ok();
    let input = b"\xff\xfe\x00raw\nok\n";
    broker.kzero_input(&["produce", "bin"], input).ok();
    let plain = broker.kzero(&["consume", "bin", "--from-beginning", "--exit"]);
    plain.ok();
    assert_eq!(plain.raw_stdout, input);
    let records = json_lines(
        broker
            .kzero(&["consume", "bin", "--from-beginning", "--exit", "--json"])
            .ok(),
    );
    assert_eq!(records[0]["value"], serde_json::json!({"base64": "//4AcmF3"}));
    assert_eq!(records[1]["value"], "ok");
}

#[test]
fn file_input_acks_and_bootstrap_lists() {
    let broker = Broker::start();
    broker.kzero(&["topics", "create", "f"]).ok();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("input.txt");
    std::fs::write(&file, "from\na file\n").unwrap();
    broker
        .kzero(&["produce", "f", "--file", file.to_str().unwrap(), "--acks", "1"])
        .ok();
    assert_eq!(
        broker.kzero(&["consume", "f", "--from-beginning", "--exit"]).ok(),
        "from\na file\n"
    );

    // acks=0: nothing comes back, the records still arrive.
    broker
        .kzero_input(&["produce", "f", "--acks", "0"], b"fire\nforget\n")
        .ok();
    let mut out = String::new();
    for _ in 0..100 {
        out = broker
            .kzero(&["consume", "f", "--offset", "2", "--exit"])
            .ok()
            .to_string();
        if out.lines().count() == 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(out, "fire\nforget\n");

    // The first reachable bootstrap server of a list is used.
    let dead = format!("127.0.0.1:{}", crate::support::free_port());
    let list = format!("{dead},{}", broker.addr);
    let run = crate::support::kzero(&["consume", "f", "--from-beginning", "--max", "1", "-b", &list]);
    assert_eq!(run.ok(), "from\n");

    let missing = broker.kzero(&["produce", "f", "--file", "/nonexistent/input.txt"]);
    assert_eq!(
        missing.fails(),
        "error: cannot open /nonexistent/input.txt: no such file or directory"
    );
}
