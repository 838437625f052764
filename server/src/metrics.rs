//! Prometheus metrics: requests and latency per API, bytes in and out, bytes sent by sendfile vs copied,
//! connections, delayed operations, and every partition's log start and end offsets and high watermark.
//! Served as text on `metrics_listen`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use protocol::ApiKey;

use crate::delayed::DelayedStats;

/// Latency histogram bucket bounds in seconds.
const BUCKETS: [f64; 12] = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0];

#[derive(Debug, Default, Clone)]
struct ApiStats {
    count: u64,
    seconds: f64,
    buckets: [u64; BUCKETS.len()],
}

/// The broker's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    apis: Mutex<Vec<(ApiKey, ApiStats)>>,
    bytes_in: AtomicU64,
    connections_open: AtomicU64,
    connections_total: AtomicU64,
    rejected_requests: AtomicU64,
}

/// One partition's gauges.
#[derive(Debug, Clone)]
pub(crate) struct PartitionGauges {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) log_start_offset: i64,
    pub(crate) log_end_offset: i64,
    pub(crate) high_watermark: i64,
}

impl Metrics {
    pub(crate) fn request(&self, api: ApiKey, took: Duration) {
        let mut apis = self.apis.lock().unwrap_or_else(|p| p.into_inner());
        let i = match apis.iter().position(|(a, _)| *a == api) {
            Some(i) => i,
            None => {
                apis.push((api, ApiStats::default()));
                apis.len() - 1
            }
        };
        let s = &mut apis[i].1;
        let secs = took.as_secs_f64();
        s.count += 1;
        s.seconds += secs;
        for (b, bound) in s.buckets.iter_mut().zip(BUCKETS) {
            if secs <= bound {
                *b += 1;
            }
        }
    }

    pub(crate) fn rejected(&self) {
        self.rejected_requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn bytes_in(&self, n: u64) {
        self.bytes_in.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn connection_opened(&self) {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
        self.connections_total.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub(crate) fn render(
        &self,
        transfer: &transfer::CountersSnapshot,
        partitions: &[PartitionGauges],
        delayed: &[(&str, DelayedStats)],
    ) -> String {
        let mut out = String::new();
        let apis = self.apis.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let _ = writeln!(
            out,
            "# HELP kzero_requests_total Requests handled, by API.\n# TYPE kzero_requests_total counter"
        );
        for (api, s) in &apis {
            let _ = writeln!(out, "kzero_requests_total{{api=\"{}\"}} {}", api.snake_name(), s.count);
        }
        let _ = writeln!(
            out,
            "# HELP kzero_request_seconds Request handling time, by API.\n# TYPE kzero_request_seconds histogram"
        );
        for (api, s) in &apis {
            let name = api.snake_name();
            for (b, bound) in s.buckets.iter().zip(BUCKETS) {
                let _ = writeln!(out, "kzero_request_seconds_bucket{{api=\"{name}\",le=\"{bound}\"}} {b}");
            }
            let _ = writeln!(
                out,
                "kzero_request_seconds_bucket{{api=\"{name}\",le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(out, "kzero_request_seconds_sum{{api=\"{name}\"}} {}", s.seconds);
            let _ = writeln!(out, "kzero_request_seconds_count{{api=\"{name}\"}} {}", s.count);
        }
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        counter(
            &mut out,
            "kzero_rejected_requests_total",
            "Requests rejected by closing the connection.",
            self.rejected_requests.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "kzero_fetch_wakeups_total",
            "Waiting fetches woken by an append to one of their partitions.",
            delayed
                .iter()
                .find(|(kind, _)| *kind == "fetch")
                .map_or(0, |(_, s)| s.woken),
        );
        let _ = writeln!(
            out,
            "# HELP kzero_delayed_operations Requests waiting (fetches for min_bytes, acks=all produces for the high watermark).\n# TYPE kzero_delayed_operations gauge"
        );
        for (kind, s) in delayed {
            let _ = writeln!(out, "kzero_delayed_operations{{kind=\"{kind}\"}} {}", s.waiting);
        }
        let _ = writeln!(
            out,
            "# HELP kzero_delayed_expired_total Waiting requests answered at their deadline.\n# TYPE kzero_delayed_expired_total counter"
        );
        for (kind, s) in delayed {
            let _ = writeln!(out, "kzero_delayed_expired_total{{kind=\"{kind}\"}} {}", s.expired);
        }
        counter(
            &mut out,
            "kzero_bytes_in_total",
            "Record bytes appended by produce requests.",
            self.bytes_in.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "kzero_bytes_out_total",
            "Bytes written to clients.",
            transfer.sendfile_bytes + transfer.copy_bytes + transfer.memory_bytes + transfer.tls_bytes,
        );
        counter(
            &mut out,
            "kzero_bytes_sendfile_total",
            "File bytes sent with sendfile (zero-copy).",
            transfer.sendfile_bytes,
        );
        counter(
            &mut out,
            "kzero_bytes_copied_total",
            "File bytes copied through user space (copy mode).",
            transfer.copy_bytes,
        );
        counter(
            &mut out,
            "kzero_bytes_tls_total",
            "Bytes written through TLS.",
            transfer.tls_bytes,
        );
        counter(
            &mut out,
            "kzero_connections_total",
            "Connections accepted.",
            self.connections_total.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP kzero_connections Open connections.\n# TYPE kzero_connections gauge\nkzero_connections {}",
            self.connections_open.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP kzero_log_start_offset First offset of each partition.\n# TYPE kzero_log_start_offset gauge"
        );
        for g in partitions {
            let (t, p, v) = (&g.topic, g.partition, g.log_start_offset);
            let _ = writeln!(out, "kzero_log_start_offset{{topic=\"{t}\",partition=\"{p}\"}} {v}");
        }
        let _ = writeln!(
            out,
            "# HELP kzero_log_end_offset Next offset of each partition.\n# TYPE kzero_log_end_offset gauge"
        );
        for g in partitions {
            let (t, p, v) = (&g.topic, g.partition, g.log_end_offset);
            let _ = writeln!(out, "kzero_log_end_offset{{topic=\"{t}\",partition=\"{p}\"}} {v}");
        }
        let _ = writeln!(
            out,
            "# HELP kzero_high_watermark Offset below which each partition's records are committed.\n# TYPE kzero_high_watermark gauge"
        );
        for g in partitions {
            let (t, p, v) = (&g.topic, g.partition, g.high_watermark);
            let _ = writeln!(out, "kzero_high_watermark{{topic=\"{t}\",partition=\"{p}\"}} {v}");
        }
        out
    }
}
