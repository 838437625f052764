//! `kzero bench produce|consume` emit one valid JSON object with sensible numbers.

use serde_json::Value;

use crate::support::Broker;

fn json(out: &str) -> Value {
    assert_eq!(out.lines().count(), 1, "one line: {out}");
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// mean, p50 <= p99 <= p99.9 <= max, all positive.
fn check_latency(l: &Value) {
    let get = |k: &str| l[k].as_f64().unwrap_or_else(|| panic!("{k} in {l}"));
    assert!(get("mean") >= 0.0);
    assert!(
        get("p50") <= get("p99") && get("p99") <= get("p99_9") && get("p99_9") <= get("max"),
        "{l}"
    );
}

#[test]
fn produce_then_consume() {
    let broker = Broker::start();
    let produce = json(
        broker
            .kzero(&["bench", "produce", "--quick", "--json", "--topic", "b"])
            .ok(),
    );
    assert_eq!(produce["bench"], "produce");
    assert_eq!(produce["topic"], "b");
    assert_eq!(produce["records"], 20_000);
    assert_eq!(produce["record_size"], 100);
    assert_eq!(produce["acks"], -1);
    assert_eq!(produce["compression"], "none");
    assert_eq!(produce["partitions"], 1);
    assert!(produce["records_per_s"].as_f64().unwrap() > 0.0);
    assert!(produce["mb_per_s"].as_f64().unwrap() > 0.0);
    assert!(produce["requests"].as_i64().unwrap() >= 20_000 / produce["records_per_batch"].as_i64().unwrap());
    check_latency(&produce["ack_latency_ms"]);

    // The consumer reads back exactly what is there.
    let consume = json(broker.kzero(&["bench", "consume", "--json", "--topic", "b"]).ok());
    assert_eq!(consume["bench"], "consume");
    assert_eq!(consume["records"], 20_000);
    assert!(consume["bytes"].as_i64().unwrap() > 20_000 * 100);
    assert!(consume["records_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(consume["end_to_end_latency_ms"], Value::Null);
    assert_eq!(consume["produce"], Value::Null);

    // Every record is there for a console consumer too.
    let n = broker
        .kzero(&["consume", "b", "--from-beginning", "--exit"])
        .ok()
        .lines()
        .count();
    assert_eq!(n, 20_000);
}

#[test]
fn produce_options() {
    let broker = Broker::start();
    let args = [
        "bench",
        "produce",
        "--json",
        "--topic",
        "opts",
        "--records",
        "3000",
        "--record-size",
        "200",
        "--batch-size",
        "4096",
        "--acks",
        "1",
        "--compression",
        "lz4",
        "--partitions",
        "3",
        "--throughput",
        "20000",
        "--max-in-flight",
        "2",
    ];
    let r = json(broker.kzero(&args).ok());
    assert_eq!(r["records"], 3000);
    assert_eq!(r["partitions"], 3);
    assert_eq!(r["compression"], "lz4");
    assert_eq!(r["acks"], 1);
    assert_eq!(r["throughput_cap"], 20_000);
    assert_eq!(r["records_per_batch"], (4096 - 61) / 208);
    // 3000 records at 20000/s take at least about 0.15 s.
    assert!(r["elapsed_s"].as_f64().unwrap() >= 0.1, "{r}");
    check_latency(&r["ack_latency_ms"]);
    let lines = broker
        .kzero(&["consume", "opts", "--from-beginning", "--exit"])
        .ok()
        .lines()
        .count();
    assert_eq!(lines, 3000);

    // acks=0: no responses, so no ack latency.
    let r = json(
        broker
            .kzero(&[
                "bench",
                "produce",
                "--json",
                "--topic",
                "opts",
                "--records",
                "1000",
                "--acks",
                "0",
            ])
            .ok(),
    );
    assert_eq!(r["ack_latency_ms"], Value::Null);
    // Three partitions: each request carries a batch of 151 records for each.
    assert_eq!(r["requests"], 3);
    // Nothing acknowledges them, so the broker may still be appending the last ones.
    let mut lines = 0;
    for _ in 0..100 {
        let run = broker.kzero(&["consume", "opts", "--from-beginning", "--exit"]);
        lines = run.ok().lines().count();
        if lines == 4000 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(lines, 4000);
}

#[test]
fn consume_with_producer_measures_end_to_end() {
    let broker = Broker::start();
    let r = json(
        broker
            .kzero(&[
                "bench",
                "consume",
                "--json",
                "--quick",
                "--with-producer",
                "--topic",
                "live",
                "-p",
                "2",
                "-z",
                "zstd",
            ])
            .ok(),
    );
    assert_eq!(r["records"], 20_000);
    assert_eq!(r["partitions"], 2);
    check_latency(&r["end_to_end_latency_ms"]);
    assert_eq!(r["produce"]["records"], 20_000);
    assert_eq!(r["produce"]["compression"], "zstd");
    check_latency(&r["produce"]["ack_latency_ms"]);

    // The human form is one line per side.
    let human = broker.kzero(&[
        "bench",
        "consume",
        "--with-producer",
        "--topic",
        "live",
        "--records",
        "500",
    ]);
    let lines: Vec<&str> = human.ok().lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("consume: 500 records"), "{}", lines[0]);
    assert!(lines[0].contains("end-to-end latency mean"), "{}", lines[0]);
    assert!(lines[1].starts_with("produce: 500 records sent in"), "{}", lines[1]);
}
