//! The transfer benchmark: a page-cached file served in 1 MiB regions over loopback, per mode.
//!
//! Run with `cargo bench -p transfer --bench transfer -- [--quick] [--tls-buffers] [--coalesce]`.
//!
//! The main run creates a 2 GiB file (256 MiB with `--quick`) under `$KZERO_BENCH_TMP` (default: the system's
//! temporary directory), reads it once so that it sits in the page cache, and then for each mode serves all of
//! it as 1 MiB regions to one client thread that reads into a 1 MiB buffer:
//! - `reference`: a bare blocking `sendfile(2)` loop on a std `TcpStream`, no framework at all;
//! - `sendfile`, `copy`, `tls`: `PlaintextTransportLayer` (both modes) and `TlsTransportLayer`, each driven by
//!   a current-thread tokio runtime on the sender thread, one `write_response` per region.
//!
//! Throughput is wall time from the first byte sent to the last byte received; CPU is the sender thread's
//! user + system time (`getrusage(RUSAGE_THREAD)`), so the client's CPU is excluded. Each mode runs 5 times
//! (2 with `--quick`), interleaved; the report gives the median and the min–max. The markdown report and a JSON
//! copy go to `$KZERO_BENCH_DIR` (default `target/bench` under the workspace root) as `transfer.md` and
//! `transfer.json`, and the markdown is printed.
//!
//! `--tls-buffers` also measures TLS and copy mode at several buffer sizes; `--coalesce` measures how the
//! coalescing modes (`Off`, `MsgMore`, `Cork`) packetize small multi-piece responses. Both only print.
//! `--runs N` changes the number of repetitions, `--only MODE` measures one mode without writing a report (for
//! profiling), and `KZERO_BENCH_PIN=1` pins the sender to CPU 0 and the client to CPU 1.
// The coalescing experiment reads TCP_INFO with getsockopt, which has no safe wrapper in nix or socket2.
#![allow(unsafe_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use nix::sys::resource::{getrusage, UsageWho};
use nix::sys::sendfile::sendfile64;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use transfer::{Chunk, Coalesce, Config, Counters, Mode, PlaintextTransportLayer, TlsTransportLayer, TransportLayer};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;
/// Throughput and CPU are per decimal gigabyte.
const GB: f64 = 1e9;
const REGION: u64 = MIB;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Reference,
    Sendfile,
    Copy,
    Tls,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Reference => "reference",
            Kind::Sendfile => "sendfile",
            Kind::Copy => "copy",
            Kind::Tls => "tls",
        }
    }
}

const KINDS: [Kind; 4] = [Kind::Reference, Kind::Sendfile, Kind::Copy, Kind::Tls];

/// One measured transfer.
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// Seconds from the first byte sent to the last byte received.
    secs: f64,
    /// Sender thread CPU seconds (user + system).
    cpu: f64,
    bytes: u64,
}

impl Sample {
    fn gbps(&self) -> f64 {
        self.bytes as f64 / GB / self.secs
    }
    fn cpu_per_gb(&self) -> f64 {
        self.cpu / (self.bytes as f64 / GB)
    }
}

/// Median, min and max.
#[derive(Debug, Clone, Copy)]
struct Stat {
    median: f64,
    min: f64,
    max: f64,
}

fn stat(mut values: Vec<f64>) -> Stat {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    Stat {
        median,
        min: values[0],
        max: values[n - 1],
    }
}

struct Args {
    quick: bool,
    tls_buffers: bool,
    coalesce: bool,
    /// `--only MODE`: measure one mode (for profiling); no report is written.
    only: Option<String>,
    /// `--runs N`: repetitions per mode (and per buffer size), instead of 5 (quick: 2 and 1).
    runs: Option<usize>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = Args {
        quick: args.iter().any(|a| a == "--quick"),
        tls_buffers: args.iter().any(|a| a == "--tls-buffers"),
        coalesce: args.iter().any(|a| a == "--coalesce"),
        only: args
            .iter()
            .position(|a| a == "--only")
            .and_then(|i| args.get(i + 1))
            .cloned(),
        runs: args
            .iter()
            .position(|a| a == "--runs")
            .and_then(|i| args.get(i + 1))
            .map(|n| n.parse().expect("--runs N")),
    };
    let (size, runs) = if args.quick { (256 * MIB, 2) } else { (2 * GIB, 5) };
    let runs = args.runs.unwrap_or(runs);
    let tmp = std::env::var_os("KZERO_BENCH_TMP")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    eprintln!("creating a {} MiB file in {} ...", size / MIB, tmp.display());
    let file = Arc::new(make_file(&tmp, size));
    warm(&file, size);
    let tls = Tls::new();

    if let Some(only) = &args.only {
        let kind = *KINDS
            .iter()
            .find(|k| k.name() == only)
            .expect("--only reference|sendfile|copy|tls");
        for run in 0..runs {
            let sample = measure(kind, &file, size, &Config::default(), &tls);
            eprintln!(
                "run {} {only}: {:.2} GB/s {:.3} CPU s/GB",
                run + 1,
                sample.gbps(),
                sample.cpu_per_gb()
            );
        }
        return;
    }
    let load_before = loadavg();
    let mut samples: Vec<(Kind, Sample)> = Vec::new();
    for run in 0..runs {
        for kind in KINDS {
            let sample = measure(kind, &file, size, &Config::default(), &tls);
            eprintln!(
                "run {}/{runs} {:<9} {:6.2} GB/s {:6.3} CPU s/GB",
                run + 1,
                kind.name(),
                sample.gbps(),
                sample.cpu_per_gb()
            );
            samples.push((kind, sample));
        }
    }
    let report = Report::new(&samples, size, runs, args.quick, (load_before, loadavg()));
    let markdown = report.markdown();
    let dir = std::env::var_os("KZERO_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // `bench` in cargo's target directory (the parent of the benchmarks' tmp dir).
            PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                .parent()
                .expect("the target directory")
                .join("bench")
        });
    std::fs::create_dir_all(&dir).expect("creating the report directory");
    std::fs::write(dir.join("transfer.md"), &markdown).expect("writing transfer.md");
    std::fs::write(dir.join("transfer.json"), report.json()).expect("writing transfer.json");
    std::fs::write(dir.join("transfer.rows.tsv"), report.rows_tsv()).expect("writing transfer.rows.tsv");
    println!("{markdown}");
    eprintln!("wrote {}/transfer.md and transfer.json", dir.display());

    if args.tls_buffers {
        buffer_sweep(
            &file,
            size.min(512 * MIB),
            &tls,
            args.runs.unwrap_or(if args.quick { 1 } else { 5 }),
        );
    }
    if args.coalesce {
        coalesce_experiment(&file, if args.quick { 5_000 } else { 20_000 });
    }
}

// ---------------------------------------------------------------------------------------------------------
// The file

/// An anonymous file of `size` non-zero bytes (a repeated 1 MiB block of pseudo-random bytes).
fn make_file(dir: &std::path::Path, size: u64) -> File {
    let mut file = tempfile::tempfile_in(dir).expect("creating the benchmark file");
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let block: Vec<u8> = (0..MIB)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let mut written = 0;
    while written < size {
        file.write_all(&block).expect("writing the benchmark file");
        written += MIB;
    }
    // Write back now, so that writeback does not run during the measurements.
    file.sync_all().expect("syncing the benchmark file");
    file
}

/// Reads the whole file once so that it is in the page cache.
fn warm(file: &File, size: u64) {
    let mut buf = vec![0; MIB as usize];
    let mut offset = 0;
    while offset < size {
        let n = file.read_at(&mut buf, offset).expect("reading the benchmark file");
        assert!(n > 0);
        offset += n as u64;
    }
}

// ---------------------------------------------------------------------------------------------------------
// One transfer

/// Pins the calling thread to `cpu` when `KZERO_BENCH_PIN` is set (sender on CPU 0, client on CPU 1).
fn pin(cpu: usize) {
    if std::env::var_os("KZERO_BENCH_PIN").is_none() {
        return;
    }
    // SAFETY: an all-zero `cpu_set_t` is the empty set, a valid value.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` is below CPU_SETSIZE on any machine this runs on; the call only writes into `set`.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid cpu set of the size passed; pid 0 means the calling thread.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    assert_eq!(rc, 0, "sched_setaffinity: {}", std::io::Error::last_os_error());
}

fn cpu_now() -> f64 {
    let usage = getrusage(UsageWho::RUSAGE_THREAD).expect("getrusage");
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    secs(usage.user_time()) + secs(usage.system_time())
}

/// Serves `size` bytes of `file` in 1 MiB regions in `kind` to a client thread; returns the measurement.
fn measure(kind: Kind, file: &Arc<File>, size: u64, config: &Config, tls: &Tls) -> Sample {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client_config = tls.client.clone();
    let client = thread::Builder::new()
        .name("client".into())
        .spawn(move || {
            pin(1);
            let stream = TcpStream::connect(addr).unwrap();
            let received = if kind == Kind::Tls {
                let name = ServerName::try_from("localhost").unwrap();
                let conn = rustls::ClientConnection::new(client_config, name).unwrap();
                drain(rustls::StreamOwned::new(conn, stream))
            } else {
                drain(stream)
            };
            (received, Instant::now())
        })
        .unwrap();
    let file = file.clone();
    let config = config.clone();
    let acceptor = tls.acceptor.clone();
    let sender = thread::Builder::new()
        .name("sender".into())
        .spawn(move || {
            pin(0);
            let (stream, _) = listener.accept().unwrap();
            stream.set_nodelay(true).unwrap();
            if kind == Kind::Reference {
                return reference(stream, &file, size);
            }
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                stream.set_nonblocking(true).unwrap();
                let stream = tokio::net::TcpStream::from_std(stream).unwrap();
                let counters = Arc::new(Counters::new());
                match kind {
                    Kind::Sendfile | Kind::Copy => {
                        let mode = if kind == Kind::Copy { Mode::Copy } else { Mode::Sendfile };
                        let config = Config { mode, ..config };
                        let (_read, transport) = PlaintextTransportLayer::split(stream, &config, counters).unwrap();
                        serve(transport, &file, size).await
                    }
                    Kind::Tls => {
                        let stream = acceptor.accept(stream).await.unwrap();
                        let (_read, transport) = TlsTransportLayer::split_server(stream, &config, counters).unwrap();
                        serve(transport, &file, size).await
                    }
                    Kind::Reference => unreachable!(),
                }
            })
        })
        .unwrap();
    let (start, cpu) = sender.join().unwrap();
    let (received, end) = client.join().unwrap();
    assert_eq!(
        received, size,
        "{kind:?}: the client received the wrong number of bytes"
    );
    Sample {
        secs: end.duration_since(start).as_secs_f64(),
        cpu,
        bytes: size,
    }
}

/// Reads until the end of the stream into a 1 MiB buffer; returns the byte count.
fn drain(mut stream: impl Read) -> u64 {
    let mut buf = vec![0; MIB as usize];
    let mut total = 0;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return total,
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("client read failed: {e}"),
        }
    }
}

/// The bare reference: blocking `sendfile(2)` per 1 MiB region. Returns the start time and CPU seconds.
fn reference(stream: TcpStream, file: &File, size: u64) -> (Instant, f64) {
    let cpu = cpu_now();
    let start = Instant::now();
    let mut region = 0;
    while region < size {
        let end = (region + REGION).min(size);
        let mut offset = region as i64;
        while (offset as u64) < end {
            let count = (end - offset as u64) as usize;
            let n = sendfile64(&stream, file, Some(&mut offset), count).unwrap();
            assert!(n > 0);
        }
        region = end;
    }
    stream.shutdown(Shutdown::Write).unwrap();
    (start, cpu_now() - cpu)
}

/// One `write_response` per 1 MiB region, then `shutdown`. Returns the start time and CPU seconds.
async fn serve<T: TransportLayer>(mut transport: T, file: &Arc<File>, size: u64) -> (Instant, f64) {
    let cpu = cpu_now();
    let start = Instant::now();
    let mut region = 0;
    while region < size {
        let end = (region + REGION).min(size);
        transport
            .write_response(&[Chunk::file(file.clone(), region..end)])
            .await
            .unwrap();
        region = end;
    }
    transport.shutdown().await.unwrap();
    (start, cpu_now() - cpu)
}

// ---------------------------------------------------------------------------------------------------------
// TLS

struct Tls {
    acceptor: tokio_rustls::TlsAcceptor,
    client: Arc<rustls::ClientConfig>,
}

impl Tls {
    fn new() -> Tls {
        let rcgen::CertifiedKey { cert, key_pair } =
            rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let cert: CertificateDer<'static> = cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pair.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).unwrap();
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Tls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
            client: Arc::new(client),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// The report

struct Row {
    kind: Kind,
    gbps: Stat,
    cpu: Stat,
}

struct Target {
    name: &'static str,
    value: f64,
    limit: &'static str,
    pass: Option<bool>,
}

struct Report {
    rows: Vec<Row>,
    targets: Vec<Target>,
    size: u64,
    runs: usize,
    quick: bool,
    nproc: usize,
    /// `/proc/loadavg` before and after the measurements.
    load: (String, String),
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

impl Report {
    fn new(samples: &[(Kind, Sample)], size: u64, runs: usize, quick: bool, load: (String, String)) -> Report {
        let rows: Vec<Row> = KINDS
            .iter()
            .map(|&kind| {
                let of = |f: fn(&Sample) -> f64| {
                    stat(samples.iter().filter(|(k, _)| *k == kind).map(|(_, s)| f(s)).collect())
                };
                Row {
                    kind,
                    gbps: of(Sample::gbps),
                    cpu: of(Sample::cpu_per_gb),
                }
            })
            .collect();
        let get = |kind: Kind| rows.iter().find(|r| r.kind == kind).unwrap();
        let (reference, sendfile, copy, tls) = (
            get(Kind::Reference),
            get(Kind::Sendfile),
            get(Kind::Copy),
            get(Kind::Tls),
        );
        let throughput = sendfile.gbps.median / reference.gbps.median;
        let cpu = sendfile.cpu.median / reference.cpu.median;
        let vs_copy = sendfile.cpu.median / copy.cpu.median;
        let targets = vec![
            Target {
                name: "sendfile throughput / reference",
                value: throughput,
                limit: ">= 0.90",
                pass: Some(throughput >= 0.9),
            },
            Target {
                name: "sendfile CPU per GB / reference",
                value: cpu,
                limit: "<= 1.20",
                pass: Some(cpu <= 1.2),
            },
            Target {
                name: "sendfile CPU per GB / copy",
                value: vs_copy,
                limit: "<= 0.40",
                pass: Some(vs_copy <= 0.4),
            },
            Target {
                name: "TLS throughput / sendfile",
                value: tls.gbps.median / sendfile.gbps.median,
                limit: "reported",
                pass: None,
            },
            Target {
                name: "TLS CPU per GB / sendfile",
                value: tls.cpu.median / sendfile.cpu.median,
                limit: "reported",
                pass: None,
            },
            Target {
                name: "TLS throughput / copy",
                value: tls.gbps.median / copy.gbps.median,
                limit: "reported",
                pass: None,
            },
            Target {
                name: "TLS CPU per GB / copy",
                value: tls.cpu.median / copy.cpu.median,
                limit: "reported",
                pass: None,
            },
        ];
        let nproc = thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
        Report {
            rows,
            targets,
            size,
            runs,
            quick,
            nproc,
            load,
        }
    }

    fn markdown(&self) -> String {
        let reference = &self.rows[0];
        let mut md = String::new();
        md += "## transfer: serving a page-cached file in 1 MiB regions over loopback\n\n";
        md += &format!(
            "{} MiB file, 1 MiB regions, one client reading into a 1 MiB buffer; {} run(s) per mode{}, median (min–max). \
             GB = 10^9 bytes; CPU = sender thread user+system time (`getrusage(RUSAGE_THREAD)`). \
             nproc = {}; load average {} before, {} after.\n\n",
            self.size / MIB,
            self.runs,
            if self.quick { " (quick mode)" } else { "" },
            self.nproc,
            self.load.0,
            self.load.1,
        );
        md += "| mode | GB/s | sender CPU s/GB | throughput vs reference | CPU/GB vs reference |\n";
        md += "|---|---|---|---|---|\n";
        for row in &self.rows {
            md += &format!(
                "| {} | {:.2} ({:.2}–{:.2}) | {:.3} ({:.3}–{:.3}) | {:.2} | {:.2} |\n",
                row.kind.name(),
                row.gbps.median,
                row.gbps.min,
                row.gbps.max,
                row.cpu.median,
                row.cpu.min,
                row.cpu.max,
                row.gbps.median / reference.gbps.median,
                row.cpu.median / reference.cpu.median,
            );
        }
        md += "\nTargets (medians):\n\n";
        for t in &self.targets {
            let verdict = match t.pass {
                Some(true) => "PASS",
                Some(false) => "FAIL",
                None => "info",
            };
            md += &format!("- {verdict}: {} = {:.2} (target {})\n", t.name, t.value, t.limit);
        }
        md
    }

    /// Rows for `cargo xtask bench`'s summary table and charts (see xtask's `bench` module):
    /// `metric<TAB>group<TAB>label<TAB>median<TAB>min<TAB>max<TAB>unit` and
    /// `target<TAB>group<TAB>name<TAB>value<TAB>limit<TAB>verdict`.
    fn rows_tsv(&self) -> String {
        let mut out = String::new();
        for r in &self.rows {
            out += &format!(
                "metric\ttransfer\t{} GB/s\t{:.4}\t{:.4}\t{:.4}\tGB/s\n",
                r.kind.name(),
                r.gbps.median,
                r.gbps.min,
                r.gbps.max
            );
            out += &format!(
                "metric\ttransfer CPU\t{} CPU s/GB\t{:.4}\t{:.4}\t{:.4}\ts/GB\n",
                r.kind.name(),
                r.cpu.median,
                r.cpu.min,
                r.cpu.max
            );
        }
        for t in &self.targets {
            let verdict = match t.pass {
                Some(true) => "PASS",
                Some(false) => "FAIL",
                None => "info",
            };
            out += &format!("target\ttransfer\t{}\t{:.3}\t{}\t{verdict}\n", t.name, t.value, t.limit);
        }
        out
    }

    fn json(&self) -> String {
        let stat = |s: &Stat| {
            format!(
                "{{\"median\": {:.6}, \"min\": {:.6}, \"max\": {:.6}}}",
                s.median, s.min, s.max
            )
        };
        let modes: Vec<String> = self
            .rows
            .iter()
            .map(|r| {
                format!(
                    "    \"{}\": {{\"gb_per_s\": {}, \"cpu_s_per_gb\": {}}}",
                    r.kind.name(),
                    stat(&r.gbps),
                    stat(&r.cpu)
                )
            })
            .collect();
        let targets: Vec<String> = self
            .targets
            .iter()
            .map(|t| {
                let pass = t.pass.map_or("null".to_string(), |p| p.to_string());
                format!(
                    "    {{\"name\": \"{}\", \"value\": {:.4}, \"target\": \"{}\", \"pass\": {pass}}}",
                    t.name, t.value, t.limit
                )
            })
            .collect();
        format!(
            "{{\n  \"bench\": \"transfer\",\n  \"loadavg_before\": \"{}\",\n  \"loadavg_after\": \"{}\",\n  \"file_bytes\": {},\n  \"region_bytes\": {REGION},\n  \"runs\": {},\n  \"quick\": {},\n  \"nproc\": {},\n  \"modes\": {{\n{}\n  }},\n  \"targets\": [\n{}\n  ]\n}}\n",
            self.load.0,
            self.load.1,
            self.size,
            self.runs,
            self.quick,
            self.nproc,
            modes.join(",\n"),
            targets.join(",\n")
        )
    }
}

// ---------------------------------------------------------------------------------------------------------
// Extra experiments

/// TLS and copy mode at several buffer sizes, the sizes interleaved within each run.
fn buffer_sweep(file: &Arc<File>, size: u64, tls: &Tls, runs: usize) {
    const SIZES_KIB: [usize; 5] = [16, 32, 64, 128, 256];
    let mut samples: Vec<(usize, Kind, Sample)> = Vec::new();
    for _ in 0..runs {
        for kib in SIZES_KIB {
            let config = Config {
                tls_buffer_size: kib * KIB as usize,
                copy_buffer_size: kib * KIB as usize,
                ..Config::default()
            };
            for kind in [Kind::Tls, Kind::Copy] {
                samples.push((kib, kind, measure(kind, file, size, &config, tls)));
            }
        }
    }
    println!(
        "\n### Buffer size sweep ({} MiB per run, median (min–max) of {runs})\n",
        size / MIB
    );
    println!("| buffer | TLS GB/s | TLS CPU s/GB | copy GB/s | copy CPU s/GB |");
    println!("|---|---|---|---|---|");
    for kib in SIZES_KIB {
        let cell = |kind: Kind, f: fn(&Sample) -> f64| {
            let s = stat(
                samples
                    .iter()
                    .filter(|(k, m, _)| *k == kib && *m == kind)
                    .map(|(_, _, s)| f(s))
                    .collect(),
            );
            format!("{:.3} ({:.3}–{:.3})", s.median, s.min, s.max)
        };
        println!(
            "| {kib} KiB | {} | {} | {} | {} |",
            cell(Kind::Tls, Sample::gbps),
            cell(Kind::Tls, Sample::cpu_per_gb),
            cell(Kind::Copy, Sample::gbps),
            cell(Kind::Copy, Sample::cpu_per_gb)
        );
    }
}

/// The data segments a socket has sent so far (`tcpi_data_segs_out`).
fn data_segments_out(stream: &tokio::net::TcpStream) -> u64 {
    // SAFETY: an all-zero `tcp_info` is a valid value (it has only integer fields).
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the descriptor is a live TCP socket borrowed for the call; `info` and `len` are valid for writes
    // and `len` holds the size of `info`, so the kernel writes at most that many bytes.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "getsockopt(TCP_INFO): {}", std::io::Error::last_os_error());
    u64::from(info.tcpi_data_segs_out)
}

/// Small responses of five pieces (64 B, a 4 KiB region, 16 B, a 4 KiB region, 16 B), for each coalescing
/// mode: request–response (the client acknowledges each response with one byte before the next is written,
/// so nothing is in flight and the kernel's autocorking cannot help), and pipelined (all fed, one flush).
fn coalesce_experiment(file: &Arc<File>, responses: usize) {
    println!("\n### Coalescing: {responses} responses of 5 pieces (64 B, 4 KiB region, 16 B, 4 KiB region, 16 B)\n");
    println!("| mode | pattern | data segments per response | µs per response (wall) | sender CPU µs per response |");
    println!("|---|---|---|---|---|");
    let cases = [
        ("sendfile, Off", Mode::Sendfile, Coalesce::Off),
        ("sendfile, MsgMore", Mode::Sendfile, Coalesce::MsgMore),
        ("sendfile, Cork", Mode::Sendfile, Coalesce::Cork),
        ("copy", Mode::Copy, Coalesce::Off),
    ];
    for pipelined in [false, true] {
        for (name, mode, coalesce) in cases {
            let config = Config {
                mode,
                coalesce,
                ..Config::default()
            };
            let (segments, secs, cpu) = small_responses(file, responses, &config, pipelined);
            println!(
                "| {name} | {} | {:.2} | {:.2} | {:.2} |",
                if pipelined {
                    "pipelined, one flush"
                } else {
                    "request–response"
                },
                segments as f64 / responses as f64,
                secs * 1e6 / responses as f64,
                cpu * 1e6 / responses as f64
            );
        }
    }
}

/// Returns (data segments sent, seconds, sender CPU seconds).
fn small_responses(file: &Arc<File>, count: usize, config: &Config, pipelined: bool) -> (u64, f64, f64) {
    const RESPONSE: u64 = 96 + 8 * KIB;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = thread::spawn(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        if pipelined {
            return drain(stream);
        }
        let mut buf = vec![0; RESPONSE as usize];
        for _ in 0..count {
            stream.read_exact(&mut buf).unwrap();
            stream.write_all(b"n").unwrap();
        }
        RESPONSE * count as u64 + drain(stream)
    });
    let (stream, _) = listener.accept().unwrap();
    stream.set_nonblocking(true).unwrap();
    let file = file.clone();
    let config = config.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (segments, secs, cpu) = runtime.block_on(async move {
        use tokio::io::AsyncReadExt;
        let stream = tokio::net::TcpStream::from_std(stream).unwrap();
        let (mut read, mut transport) =
            PlaintextTransportLayer::split(stream, &config, Arc::new(Counters::new())).unwrap();
        let segments_before = data_segments_out(transport.get_ref().as_ref());
        let head = Bytes::from(vec![1u8; 64]);
        let mid = Bytes::from(vec![2u8; 16]);
        let mut ack = [0u8; 1];
        let cpu = cpu_now();
        let start = Instant::now();
        for i in 0..count as u64 {
            let at = i * 8 * KIB % (256 * MIB);
            let response = [
                Chunk::Bytes(head.clone()),
                Chunk::file(file.clone(), at..at + 4 * KIB),
                Chunk::Bytes(mid.clone()),
                Chunk::file(file.clone(), at + 4 * KIB..at + 8 * KIB),
                Chunk::Bytes(mid.clone()),
            ];
            if pipelined {
                transport.feed_response(&response).await.unwrap();
            } else {
                transport.write_response(&response).await.unwrap();
                read.read_exact(&mut ack).await.unwrap();
            }
        }
        transport.flush().await.unwrap();
        let secs = start.elapsed().as_secs_f64();
        let cpu = cpu_now() - cpu;
        // Let the last segments leave before counting.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let segments = data_segments_out(transport.get_ref().as_ref()) - segments_before;
        transport.shutdown().await.unwrap();
        (segments, secs, cpu)
    });
    let received = client.join().unwrap();
    assert_eq!(received, count as u64 * RESPONSE);
    (segments, secs, cpu)
}
