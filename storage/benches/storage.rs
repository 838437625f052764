//! Storage benchmarks, run by `cargo xtask bench` (or `cargo bench -p storage --bench storage -- [--quick]`).
//!
//! - Append throughput of 1 KiB-record batches of 16 KiB and 1 MiB, with flushing off and with
//!   `flush_messages = 1`, next to a plain sequential `write(2)` loop (plus `fdatasync` for the flushing
//!   case) of the same batches to a file, measured in the same run. Target: appends reach at least 70% of
//!   the plain loop.
//! - Read-locate latency: `Log::read` at random offsets of a 1 GiB log (16 KiB batches) in eight segments,
//!   seven of them sealed (files opened through the descriptor cache, index searched on disk with `pread`)
//!   and one active (index in memory).
//!
//! Writes `storage.md` and `storage.json` to `$KZERO_BENCH_DIR` (default `target/bench`); data files go to
//! `$KZERO_BENCH_TMP` (default the system temp dir) and are removed.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use protocol::record::{BatchBuilder, Compression, Record};
use storage::{Log, LogConfig, OpenHints};

struct Stats {
    median: f64,
    min: f64,
    max: f64,
}

fn stats(mut v: Vec<f64>) -> Stats {
    v.sort_by(|a, b| a.total_cmp(b));
    Stats {
        median: v[v.len() / 2],
        min: v[0],
        max: v[v.len() - 1],
    }
}

fn make_batch(bytes: usize) -> Vec<u8> {
    let mut b = BatchBuilder::new(Compression::None, 1_700_000_000_000);
    let records = (bytes / 1024).max(1);
    for i in 0..records {
        // 1 KiB records: about 1000 bytes of value plus key and framing.
        b.push(Record {
            key: Some(format!("key-{i:06}").into()),
            value: Some(vec![b'x'; 1000].into()),
            ..Record::default()
        });
    }
    b.build().unwrap().to_vec()
}

fn scratch(base: &Path, name: &str) -> PathBuf {
    let p = base.join(format!("kzero-bench-storage-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    let _ = std::fs::remove_file(&p);
    p
}

/// MB/s of appending `total` bytes of `batch` to a fresh log.
fn run_append(tmp: &Path, batch: &[u8], total: u64, flush_messages: i64) -> f64 {
    let dir = scratch(tmp, "append");
    let config = LogConfig {
        flush_messages,
        max_message_bytes: 2 << 20,
        ..LogConfig::default()
    };
    let (log, _) = Log::open(&dir, config, OpenHints::default()).unwrap();
    let n = (total / batch.len() as u64).max(1);
    let start = Instant::now();
    for _ in 0..n {
        log.append(batch, 0).unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    drop(log);
    std::fs::remove_dir_all(&dir).unwrap();
    (n * batch.len() as u64) as f64 / secs / 1e6
}

/// MB/s of a bare sequential `write(2)` loop of the same batches (and `fdatasync` after each if `sync`).
fn run_plain(tmp: &Path, batch: &[u8], total: u64, sync: bool) -> f64 {
    let path = scratch(tmp, "plain");
    let mut f = File::create(&path).unwrap();
    let n = (total / batch.len() as u64).max(1);
    let start = Instant::now();
    for _ in 0..n {
        f.write_all(batch).unwrap();
        if sync {
            f.sync_data().unwrap();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    drop(f);
    std::fs::remove_file(&path).unwrap();
    (n * batch.len() as u64) as f64 / secs / 1e6
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    // Without KZERO_BENCH_DIR: `bench` in cargo's target directory (the parent of the benchmarks' tmp dir).
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap();
    let out_dir = std::env::var_os("KZERO_BENCH_DIR").map_or(target.join("bench"), PathBuf::from);
    let tmp = std::env::var_os("KZERO_BENCH_TMP").map_or(std::env::temp_dir(), PathBuf::from);
    std::fs::create_dir_all(&out_dir).unwrap();
    let runs = if quick { 1 } else { 3 };
    let mib = 1u64 << 20;

    let mut rows = Vec::new();
    let mut json = Vec::new();
    // Rows for `cargo xtask bench` (metric / target lines, tab-separated).
    let mut tsv = String::new();
    let mut pass_all = true;
    for (label, batch_bytes) in [("16 KiB", 16 * 1024usize), ("1 MiB", 1 << 20)] {
        let batch = make_batch(batch_bytes);
        for (flush_label, flush_messages) in [("off", i64::MAX), ("every append", 1)] {
            let sync = flush_messages == 1;
            let total = match (quick, sync, batch_bytes) {
                (true, false, _) => 128 * mib,
                (true, true, b) if b < (1 << 20) => 2 * mib,
                (true, true, _) => 16 * mib,
                (false, false, _) => 1024 * mib,
                (false, true, b) if b < (1 << 20) => 8 * mib,
                (false, true, _) => 128 * mib,
            };
            let mut kz = Vec::new();
            let mut plain = Vec::new();
            for _ in 0..runs {
                // Alternate so that neither side always runs on a warmer or colder machine.
                plain.push(run_plain(&tmp, &batch, total, sync));
                kz.push(run_append(&tmp, &batch, total, flush_messages));
            }
            let (k, p) = (stats(kz), stats(plain));
            let ratio = k.median / p.median;
            let pass = ratio >= 0.70;
            tsv += &format!(
                "metric\tstorage append\t{label}, flush {flush_label}: kzero MB/s\t{:.1}\t{:.1}\t{:.1}\tMB/s\n",
                k.median, k.min, k.max
            );
            tsv += &format!(
                "metric\tstorage append\t{label}, flush {flush_label}: write(2) MB/s\t{:.1}\t{:.1}\t{:.1}\tMB/s\n",
                p.median, p.min, p.max
            );
            tsv += &format!(
                "target\tstorage\tappend {label}, flush {flush_label} / plain write loop\t{ratio:.3}\t>= 0.70\t{}\n",
                if pass { "PASS" } else { "FAIL" }
            );
            pass_all &= pass;
            rows.push(format!(
                "| {label} batches, flush {flush_label} | {:.0} ({:.0}–{:.0}) | {:.0} ({:.0}–{:.0}) | {:.2} | {} |",
                k.median,
                k.min,
                k.max,
                p.median,
                p.min,
                p.max,
                ratio,
                if pass { "PASS (≥ 0.70)" } else { "FAIL (< 0.70)" }
            ));
            json.push(format!(
                "{{\"case\":\"append {label} flush {flush_label}\",\"mb_per_s\":{:.1},\"min\":{:.1},\"max\":{:.1},\"reference_mb_per_s\":{:.1},\"ratio\":{ratio:.3},\"bytes\":{total},\"runs\":{runs}}}",
                k.median, k.min, k.max, p.median
            ));
        }
    }

    // Read-locate latency at random offsets.
    let log_bytes = if quick { 128 * mib } else { 1024 * mib };
    let dir = scratch(&tmp, "locate");
    let batch = make_batch(16 * 1024);
    // Eight segments: seven sealed (index searched on disk with pread), one active (index in memory).
    let config = LogConfig {
        segment_bytes: log_bytes / 8,
        ..LogConfig::default()
    };
    let (log, _) = Log::open(&dir, config, OpenHints::default()).unwrap();
    for _ in 0..log_bytes / batch.len() as u64 {
        log.append(&batch, 0).unwrap();
    }
    let end = log.log_end_offset();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let samples = if quick { 2000 } else { 20000 };
    let mut lat = Vec::with_capacity(samples);
    for _ in 0..samples {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let offset = (seed % end as u64) as i64;
        let t = Instant::now();
        let r = log.read(offset, mib, end).unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1e6);
        assert!(r.slice.is_some());
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    let (p50, p99, max) = (lat[lat.len() / 2], lat[lat.len() * 99 / 100], lat[lat.len() - 1]);
    let segments = log.segment_count();
    drop(log);
    std::fs::remove_dir_all(&dir).unwrap();
    tsv += &format!("target\tstorage\tread-locate p50 / p99 (µs)\t{p50:.1} / {p99:.1}\treported\tinfo\n");
    rows.push(format!(
        "| read-locate at random offsets, {} MiB log in {segments} segments, 1 MiB reads | p50 {p50:.1} µs, p99 {p99:.1} µs, max {max:.0} µs | | | |",
        log_bytes / mib
    ));
    json.push(format!(
        "{{\"case\":\"read-locate\",\"p50_us\":{p50:.2},\"p99_us\":{p99:.2},\"max_us\":{max:.1},\"log_bytes\":{log_bytes},\"segments\":{segments}}}"
    ));

    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let md =
        format!(
        "## Storage\n\nAppend throughput of 1 KiB-record batches (MB/s, median of {runs} runs with min–max) next to a \
plain sequential `write(2)` loop of the same batches to one file (with `fdatasync` after each write when the log \
flushes every append), in the same run; {cpus} CPUs{}.\n\n\
| case | kzero `Log::append` | plain `write(2)` loop | ratio | target |\n|---|---|---|---|---|\n{}\n\n\
Overall: {}.\n",
        if quick { ", quick mode (smaller volumes)" } else { "" },
        rows.join("\n"),
        if pass_all { "all append targets PASS" } else { "some append targets FAIL" }
    );
    print!("{md}");
    std::fs::write(out_dir.join("storage.md"), &md).unwrap();
    std::fs::write(out_dir.join("storage.rows.tsv"), &tsv).unwrap();
    std::fs::write(out_dir.join("storage.json"), format!("[\n{}\n]\n", json.join(",\n"))).unwrap();
}
