//! The exposition: names, histogram buckets, per-topic counters, and nothing recorded when disabled.

use std::time::Duration;

use protocol::{ApiKey, ErrorCode};

use super::*;

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn requests_and_latencies_by_api() {
    let m = Metrics::new(true);
    let times = RequestTimes {
        queue: Duration::from_micros(50),
        local: Duration::from_micros(700),
        remote: Duration::from_millis(20),
    };
    m.request(ApiKey::Fetch, times);
    m.request(ApiKey::Fetch, times);
    let text = m.render();
    assert_eq!(
        value(&text, r#"kzero_requests_total{api="fetch"}"#),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(&text, r#"kzero_request_total_seconds_count{api="fetch"}"#),
        Some(2.0)
    );
    // 0.77 ms total: not in the 0.5 ms bucket, in the 1 ms one (cumulative), and in +Inf.
    assert_eq!(
        value(&text, r#"kzero_request_local_seconds_bucket{le="0.0005",api="fetch"}"#),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        value(&text, r#"kzero_request_local_seconds_bucket{le="0.001",api="fetch"}"#),
        Some(2.0)
    );
    assert_eq!(
        value(&text, r#"kzero_request_remote_seconds_bucket{le="+Inf",api="fetch"}"#),
        Some(2.0)
    );
    let sum = value(&text, r#"kzero_request_total_seconds_sum{api="fetch"}"#).unwrap();
    assert!((sum - 0.0415).abs() < 1e-9, "{sum}");
    assert!(text.ends_with("# EOF\n"));
}

#[test]
fn topics_and_errors_are_counted_and_deleted_topics_forgotten() {
    let m = Metrics::new(true);
    let t = m.topic("orders");
    t.produced(1000, 10);
    t.produced(500, 5);
    t.fetched(1500);
    t.fetch_failed();
    m.error(ApiKey::Produce, ErrorCode::CorruptMessage);
    m.error(ApiKey::Produce, ErrorCode::None);
    let text = m.render();
    assert_eq!(
        value(&text, r#"kzero_topic_bytes_in_total{topic="orders"}"#),
        Some(1500.0),
        "{text}"
    );
    assert_eq!(
        value(&text, r#"kzero_topic_messages_in_total{topic="orders"}"#),
        Some(15.0)
    );
    assert_eq!(
        value(&text, r#"kzero_topic_bytes_out_total{topic="orders"}"#),
        Some(1500.0)
    );
    assert_eq!(
        value(&text, r#"kzero_topic_fetch_requests_total{topic="orders"}"#),
        Some(2.0)
    );
    assert_eq!(
        value(&text, r#"kzero_topic_failed_fetch_requests_total{topic="orders"}"#),
        Some(1.0)
    );
    assert_eq!(value(&text, "kzero_bytes_in_total"), Some(1500.0));
    assert_eq!(value(&text, "kzero_messages_in_total"), Some(15.0));
    assert_eq!(
        value(&text, r#"kzero_errors_total{api="produce",error="CORRUPT_MESSAGE"}"#),
        Some(1.0),
        "{text}"
    );
    assert!(!text.contains(r#"error="NONE""#));
    m.remove_topic("orders");
    assert!(!m.render().contains("orders"));
}

#[test]
fn nothing_is_recorded_without_a_metrics_listener() {
    let m = Metrics::new(false);
    m.request(ApiKey::Produce, RequestTimes::default());
    m.topic("t").produced(10, 1);
    m.error(ApiKey::Produce, ErrorCode::CorruptMessage);
    m.connection_opened();
    let text = m.render();
    assert_eq!(value(&text, r#"kzero_requests_total{api="produce"}"#), Some(0.0));
    assert_eq!(value(&text, r#"kzero_topic_bytes_in_total{topic="t"}"#), Some(0.0));
    assert_eq!(value(&text, "kzero_connections"), Some(0.0));
    assert!(!text.contains("CORRUPT_MESSAGE"));
}
