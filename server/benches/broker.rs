//! Broker benchmarks, run by `cargo xtask bench` (or `cargo bench -p server --bench broker -- [--quick]`, which
//! writes to `$KZERO_BENCH_DIR`, by default `bench` in cargo's target directory).
//!
//! The release `kzero-server` runs as a child process; one fast client (this process) speaks the Kafka
//! protocol over loopback, reading every response into one reused buffer and walking batch headers only.
//!
//! - Produce 1 GiB of 1 KiB records with acks=1 in 1 MiB batches, next to a bare reference server that
//!   `recv`s the same frames and `write`s them to a file. Each produce measurement starts after `sync` and
//!   after writing and deleting a scratch file, so that it fills the page cache from recently used memory
//!   (see [`recycle_page_cache`]).
//! - Consume it back with 8 MiB fetches from a warm page cache, next to a bare reference that sends the
//!   same segment file with plain `sendfile(2)` in 1 MiB steps to the same client; the broker in `sendfile`
//!   mode and in `copy` mode. Targets: the broker reaches 85% of the reference's throughput, its CPU seconds
//!   per GB are at most 40% of copy mode's, and its resident memory while serving stays under 64 MiB.
//! - The cost of metrics: the broker above has no metrics listener, so it records nothing; a second broker
//!   with one (`metrics_listen`) runs beside it and receives the same produce and consume runs, the two
//!   alternating run by run, and taking turns at going first. Target: the median with metrics on reaches 98%
//!   of the median with metrics off, for produce and for consume in sendfile mode; the report gives a 95%
//!   bootstrap interval beside each ratio, since one run's noise here is several times 2%. Its `/metrics` is
//!   scraped at the end and must have counted produce requests, or the bench fails.
//!
//! CPU time of the broker comes from `/proc/<pid>/stat` (utime + stime, 100 ticks per second on Linux),
//! memory from `VmRSS` sampled every 50 ms while serving.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use protocol::record::{BatchBuilder, Batches, Compression, Record};
use protocol::{
    ApiKey, FetchPartition, FetchRequest, FetchTopic, PartitionProduceData, ProduceRequest, Records, Request,
    RequestHeader, TopicProduceData,
};

const MIB: u64 = 1 << 20;
const TOPIC: &str = "bench";

/// Median (the mean of the two middle values for an even count), min and max.
fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (median, v[0], v[n - 1])
}

/// `N` distinct free loopback ports (their listeners are open together, so the kernel cannot repeat one).
fn free_ports<const N: usize>() -> [SocketAddr; N] {
    let listeners: [TcpListener; N] = std::array::from_fn(|_| TcpListener::bind("127.0.0.1:0").unwrap());
    listeners.map(|l| l.local_addr().unwrap())
}

/// A release `kzero-server` child process; stopped (SIGTERM) when dropped, so that a failing bench leaves
/// none behind.
struct Broker {
    child: Child,
    addr: SocketAddr,
    /// The metrics listener, when the broker has one (and so records metrics).
    metrics: Option<SocketAddr>,
}

impl Broker {
    /// Starts a broker on `data` in transfer `mode`, with a metrics listener if `metrics`.
    fn start(data: &Path, mode: &str, metrics: bool) -> Broker {
        let [addr, metrics_addr] = free_ports();
        let metrics = metrics.then_some(metrics_addr);
        let config = data.with_extension(format!("{mode}.toml"));
        let metrics_line = metrics.map_or(String::new(), |m| format!("metrics_listen = \"{m}\"\n"));
        std::fs::write(
            &config,
            format!(
                "listen = \"{addr}\"\ndata_dir = \"{}\"\nmessage_max_bytes = 2000000\n{metrics_line}[transfer]\nmode = \"{mode}\"\n",
                data.display()
            ),
        )
        .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_kzero-server"))
            .arg("--config")
            .arg(&config)
            .env("KZERO_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "the broker did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Broker { child, addr, metrics }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(self) {
        drop(self);
    }

    /// Creates the topic through Metadata (auto-create).
    fn create_topic(&self) {
        let mut s = TcpStream::connect(self.addr).unwrap();
        let md = protocol::MetadataRequest {
            topics: Some(vec![protocol::MetadataRequestTopic {
                name: Some(TOPIC.into()),
                ..Default::default()
            }]),
            ..Default::default()
        };
        s.write_all(&frame(ApiKey::Metadata, 4, 1, md.into())).unwrap();
        read_frame(&mut s, &mut Vec::new());
    }

    /// `GET /metrics` from the metrics listener (one request, `Connection: close`); returns the body.
    fn scrape(&self) -> Result<String, String> {
        let addr = self.metrics.ok_or("the broker has no metrics listener")?;
        let mut s = TcpStream::connect(addr).map_err(|e| format!("connecting to {addr}: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())
            .map_err(|e| format!("writing to {addr}: {e}"))?;
        let mut text = String::new();
        s.read_to_string(&mut text)
            .map_err(|e| format!("reading from {addr}: {e}"))?;
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| format!("not an HTTP response: {text:?}"))?;
        if !head.starts_with("HTTP/1.1 200") {
            return Err(format!("GET /metrics answered {head:?}"));
        }
        Ok(body.to_string())
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// The value of one sample (`name{labels}`, exactly as exposed) in OpenMetrics text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU seconds of the current thread.
fn thread_cpu() -> f64 {
    let u = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_THREAD).unwrap();
    let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
    t(u.user_time()) + t(u.system_time())
}

fn frame(api: ApiKey, version: i16, correlation_id: i32, body: protocol::RequestBody) -> Vec<u8> {
    let mut out = BytesMut::new();
    Request {
        header: RequestHeader::new(api, version, correlation_id),
        body,
    }
    .encode(&mut out)
    .unwrap();
    out.to_vec()
}

/// Reads one response frame into `buf` (reused); returns its length.
fn read_frame(s: &mut TcpStream, buf: &mut Vec<u8>) -> usize {
    let mut size = [0u8; 4];
    s.read_exact(&mut size).unwrap();
    let n = i32::from_be_bytes(size) as usize;
    if buf.len() < n {
        buf.resize(n, 0);
    }
    s.read_exact(&mut buf[..n]).unwrap();
    n
}

fn produce_batch() -> Vec<u8> {
    let mut b = BatchBuilder::new(Compression::None, 1_700_000_000_000);
    for i in 0..1000 {
        b.push(Record {
            key: Some(format!("k{i:06}").into()),
            value: Some(vec![b'v'; 1000].into()),
            ..Record::default()
        });
    }
    b.build().unwrap().to_vec()
}

/// Produces `total` bytes with acks=1, one request in flight; returns MB/s.
fn produce(addr: SocketAddr, batch: &[u8], total: u64) -> f64 {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    let body = ProduceRequest {
        acks: 1,
        timeout_ms: 30_000,
        topic_data: vec![TopicProduceData {
            name: TOPIC.into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(Records::Inline(batch.to_vec().into())),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let request = frame(ApiKey::Produce, 7, 1, body.into());
    let n = total / batch.len() as u64;
    let mut buf = vec![0u8; 4096];
    let start = Instant::now();
    for _ in 0..n {
        s.write_all(&request).unwrap();
        let len = read_frame(&mut s, &mut buf);
        // topic name, partition index, then the error code: it must be 0.
        let code_at = 4 + 4 + 2 + TOPIC.len() + 4 + 4;
        assert!(
            len > code_at + 2 && buf[code_at..code_at + 2] == [0, 0],
            "produce failed"
        );
    }
    (n * batch.len() as u64) as f64 / start.elapsed().as_secs_f64() / 1e6
}

/// Writes and deletes a scratch file of `bytes` in `dir`: run right before each produce measurement, so that
/// the page cache it fills reuses recently touched memory.
///
/// In the virtual machines the benchmarks run on, memory the guest has not touched for a while is slow to fault
/// back in (a host-side cost: writes into the page cache fall from about 5 GB/s to 0.4 GB/s once the recently
/// freed pages are used up), and which kind a run gets depends on what ran before it: that gave some produce
/// runs a fraction of the others' speed, most often the second of two back-to-back runs. The pages of a file just
/// deleted are reused first.
fn recycle_page_cache(dir: &Path, bytes: u64) {
    let path = dir.join("scratch.bin");
    let mut f = File::create(&path).unwrap();
    let chunk = vec![0u8; MIB as usize];
    for _ in 0..bytes.div_ceil(MIB) {
        f.write_all(&chunk).unwrap();
    }
    drop(f);
    std::fs::remove_file(&path).unwrap();
}

/// The bare produce reference: a thread that reads size-prefixed frames and writes them to a file, acking
/// each with 8 bytes.
fn reference_produce_server(dir: &Path) -> (SocketAddr, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let path = dir.join("reference-produce.bin");
    let t = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_nodelay(true).unwrap();
        let mut f = File::create(&path).unwrap();
        let mut buf = Vec::new();
        loop {
            let mut size = [0u8; 4];
            if s.read_exact(&mut size).is_err() {
                break;
            }
            let n = i32::from_be_bytes(size) as usize;
            buf.resize(n, 0);
            s.read_exact(&mut buf).unwrap();
            f.write_all(&buf).unwrap();
            s.write_all(&[0, 0, 0, 4, 0, 0, 0, 1]).unwrap();
        }
        drop(f);
        let _ = std::fs::remove_file(&path);
    });
    (addr, t)
}

fn reference_produce(dir: &Path, batch_frame_len: usize, total: u64) -> f64 {
    let (addr, t) = reference_produce_server(dir);
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    let mut request = vec![0u8; 4 + batch_frame_len];
    request[..4].copy_from_slice(&(batch_frame_len as i32).to_be_bytes());
    let n = total / batch_frame_len as u64;
    let mut ack = [0u8; 8];
    let start = Instant::now();
    for _ in 0..n {
        s.write_all(&request).unwrap();
        s.read_exact(&mut ack).unwrap();
    }
    let mbps = (n * batch_frame_len as u64) as f64 / start.elapsed().as_secs_f64() / 1e6;
    drop(s);
    t.join().unwrap();
    mbps
}

/// Consumes everything below `end` with fetches of `fetch_bytes`; returns bytes received, seconds and
/// fetches sent.
fn consume(addr: SocketAddr, end: i64, fetch_bytes: i32) -> (u64, f64, u64) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    let mut buf = vec![0u8; fetch_bytes as usize + MIB as usize];
    let mut offset = 0i64;
    let mut received = 0u64;
    let mut correlation = 0;
    let start = Instant::now();
    while offset < end {
        correlation += 1;
        let body = FetchRequest {
            max_wait_ms: 500,
            min_bytes: 1,
            max_bytes: fetch_bytes,
            topics: vec![FetchTopic {
                topic: TOPIC.into(),
                partitions: vec![FetchPartition {
                    partition: 0,
                    fetch_offset: offset,
                    partition_max_bytes: fetch_bytes,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        s.write_all(&frame(ApiKey::Fetch, 10, correlation, body.into()))
            .unwrap();
        let n = read_frame(&mut s, &mut buf);
        received += n as u64 + 4;
        // Fetch v10, one topic and partition: the records are the tail of the frame after a fixed head.
        let head = 4 + 4 + 2 + 4 + 4 + 2 + TOPIC.len() + 4 + 4 + 2 + 8 + 8 + 8;
        let aborted = i32::from_be_bytes(buf[head..head + 4].try_into().unwrap());
        let records_at = head + 4 + aborted.max(0) as usize * 16 + 4;
        let last = Batches::new(&buf[records_at..n])
            .last()
            .expect("a fetch returned no batch")
            .unwrap();
        offset = last.header().last_offset() + 1;
    }
    (received, start.elapsed().as_secs_f64(), correlation as u64)
}

/// The bare reference: plain blocking `sendfile(2)` of the segment file in 1 MiB steps to the same kind of
/// client (reading into a reused buffer). Returns (bytes, seconds, sender CPU seconds).
fn reference_consume(segment: &Path) -> (u64, f64, f64) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let path = segment.to_path_buf();
    let sender = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let f = File::open(&path).unwrap();
        let len = f.metadata().unwrap().len();
        let cpu = thread_cpu();
        let mut off: i64 = 0;
        while (off as u64) < len {
            let want = MIB.min(len - off as u64) as usize;
            nix::sys::sendfile::sendfile64(s.as_fd(), f.as_fd(), Some(&mut off), want).unwrap();
        }
        thread_cpu() - cpu
    });
    let mut c = TcpStream::connect(addr).unwrap();
    let mut buf = vec![0u8; MIB as usize];
    let start = Instant::now();
    let mut got = 0u64;
    loop {
        let n = c.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        got += n as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    (got, secs, sender.join().unwrap())
}

/// The fetch size in MiB (8 unless `KZERO_BENCH_FETCH_MIB` says otherwise, for experiments).
fn fetch_mib() -> i32 {
    std::env::var("KZERO_BENCH_FETCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8)
}

/// The peak resident memory of a process, sampled every 50 ms until [`RssSampler::finish`].
struct RssSampler {
    stop: Arc<AtomicBool>,
    max_kib: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
        let (stop, max_kib) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
        let thread = {
            let (stop, max_kib) = (Arc::clone(&stop), Arc::clone(&max_kib));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let kb = (rss_mib(pid) * 1024.0) as u64;
                    max_kib.fetch_max(kb, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        };
        RssSampler { stop, max_kib, thread }
    }

    /// Stops sampling; returns the peak in MiB.
    fn finish(self) -> f64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap();
        self.max_kib.load(Ordering::Relaxed) as f64 / 1024.0
    }
}

#[derive(Default)]
struct Consumed {
    gbps: Vec<f64>,
    cpu_per_gb: Vec<f64>,
    rss_mib: f64,
    /// Fetch requests sent.
    fetches: u64,
}

impl Consumed {
    /// One consume run of everything below `end`, with the broker's CPU time.
    fn run(&mut self, broker: &Broker, end: i64) {
        let cpu = cpu_seconds(broker.pid());
        let (bytes, secs, fetches) = consume(broker.addr, end, fetch_mib() * MIB as i32);
        let cpu = cpu_seconds(broker.pid()) - cpu;
        self.gbps.push(bytes as f64 / secs / 1e9);
        self.cpu_per_gb.push(cpu / (bytes as f64 / 1e9));
        self.fetches += fetches;
    }
}

fn consume_repeatedly(broker: &Broker, end: i64, runs: usize) -> Consumed {
    let sampler = RssSampler::start(broker.pid());
    let mut out = Consumed::default();
    for _ in 0..runs {
        out.run(broker, end);
    }
    out.rss_mib = sampler.finish();
    out
}

/// Reads every segment of the partition under `data` (to warm the page cache).
fn warm(data: &Path) {
    let dir = data.join(format!("{TOPIC}-0"));
    let mut buf = vec![0u8; MIB as usize];
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "log") {
            let mut f = File::open(&path).unwrap();
            while f.read(&mut buf).unwrap() > 0 {}
        }
    }
}

/// A metrics-on / metrics-off comparison: the runs of both brokers, pair `i` measured back to back.
struct OnOff {
    off: Vec<f64>,
    on: Vec<f64>,
}

impl OnOff {
    /// The ratio of the medians, on / off.
    fn ratio(&self) -> f64 {
        stats(self.on.clone()).0 / stats(self.off.clone()).0
    }

    /// A 95% bootstrap interval of [`OnOff::ratio`] (pairs resampled; a fixed seed, so that a run is
    /// reproducible from its numbers): how far the machine's noise alone moves the ratio. None with fewer
    /// than 10 pairs (a quick run), too few to say.
    fn interval(&self) -> Option<(f64, f64)> {
        let n = self.off.len();
        if n < 10 {
            return None;
        }
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut ratios: Vec<f64> = (0..2000)
            .map(|_| {
                let picks: Vec<usize> = (0..n).map(|_| next()).collect();
                let median = |v: &[f64]| stats(picks.iter().map(|&i| v[i]).collect()).0;
                median(&self.on) / median(&self.off)
            })
            .collect();
        ratios.sort_by(|a, b| a.total_cmp(b));
        Some((ratios[ratios.len() * 25 / 1000], ratios[ratios.len() * 975 / 1000]))
    }

    /// The ratio and its interval, for the report.
    fn describe(&self) -> String {
        match self.interval() {
            Some((lo, hi)) => format!("{:.3} (95% interval {lo:.3}–{hi:.3})", self.ratio()),
            None => format!("{:.3} (too few runs for an interval)", self.ratio()),
        }
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    // Without KZERO_BENCH_DIR (set by `cargo xtask bench`): `bench` in cargo's target directory, the parent of
    // the `tmp` directory cargo gives benchmarks.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap();
    let out_dir = std::env::var_os("KZERO_BENCH_DIR").map_or(target.join("bench"), PathBuf::from);
    let tmp = std::env::var_os("KZERO_BENCH_TMP").map_or(std::env::temp_dir(), PathBuf::from);
    std::fs::create_dir_all(&out_dir).unwrap();
    let work = tmp.join(format!("kzero-bench-broker-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    // The broker of the main rows, without a metrics listener (it records nothing), and its twin with one.
    let data = work.join("data");
    let data_on = work.join("data-metrics");
    let total = if quick { 256 * MIB } else { 1024 * MIB };
    // Even, so that each broker goes first in half of the rounds. As many as the volume allows: one run's noise
    // here is 10-15%, and the metrics target is 2%. Produce runs stay around 100 MiB (shorter ones measure more
    // of each connection's start); consume runs read the whole log, as the reference does.
    let (produce_runs, consume_runs) = if quick { (2, 6) } else { (10, 30) };

    // Produce: rounds of the reference, then both brokers, the one going first alternating.
    let batch = produce_batch();
    let broker = Broker::start(&data, "sendfile", false);
    let broker_on = Broker::start(&data_on, "sendfile", true);
    broker.create_topic();
    broker_on.create_topic();
    let per_run = total / produce_runs as u64;
    let mut produced = OnOff {
        off: Vec::new(),
        on: Vec::new(),
    };
    let mut ref_produce = Vec::new();
    // Start each measurement with no dirty pages left by the previous one, and with recently used memory for
    // the page cache it fills (more than it needs: the log's indexes, the reference's buffers).
    let prepare = || {
        nix::unistd::sync();
        recycle_page_cache(&work, per_run + per_run / 4 + 64 * MIB);
    };
    for round in 0..produce_runs {
        prepare();
        ref_produce.push(reference_produce(&work, batch.len() + 80, per_run));
        for on in [round % 2 == 1, round % 2 == 0] {
            prepare();
            if on {
                produced.on.push(produce(broker_on.addr, &batch, per_run));
            } else {
                produced.off.push(produce(broker.addr, &batch, per_run));
            }
        }
    }
    let produce_requests = per_run / batch.len() as u64 * produce_runs as u64;
    let end = (produce_requests * 1000) as i64;

    // Consume: rounds of the reference (sending one broker's segment, then the other's, so that both logs are
    // read as often), then both brokers in sendfile mode, alternating as above; then the first broker in copy
    // mode (same data).
    warm(&data);
    warm(&data_on);
    let segments = [&data, &data_on].map(|d| d.join(format!("{TOPIC}-0/00000000000000000000.log")));
    let mut ref_gbps = Vec::new();
    let mut ref_cpu = Vec::new();
    let mut sendfile = Consumed::default();
    let mut sendfile_on = Consumed::default();
    let (sampler, sampler_on) = (RssSampler::start(broker.pid()), RssSampler::start(broker_on.pid()));
    for round in 0..consume_runs {
        let (bytes, secs, cpu) = reference_consume(&segments[round % 2]);
        ref_gbps.push(bytes as f64 / secs / 1e9);
        ref_cpu.push(cpu / (bytes as f64 / 1e9));
        for on in [round % 2 == 1, round % 2 == 0] {
            if on {
                sendfile_on.run(&broker_on, end);
            } else {
                sendfile.run(&broker, end);
            }
        }
    }
    sendfile.rss_mib = sampler.finish();
    sendfile_on.rss_mib = sampler_on.finish();
    // The metrics-enabled broker must really have recorded: its requests counter for produce is not zero.
    let scraped = broker_on.scrape();
    broker.stop();
    broker_on.stop();
    let counted = |api: &str| {
        let series = format!("kzero_requests_total{{api=\"{api}\"}}");
        scraped.as_ref().ok().and_then(|text| sample(text, &series))
    };
    let (counted_produce, counted_fetch) = (counted("produce"), counted("fetch"));
    if !counted_produce.is_some_and(|n| n > 0.0) {
        let _ = std::fs::remove_dir_all(&work);
        match &scraped {
            Ok(text) => panic!(
                "the metrics-enabled broker recorded no produce request (kzero_requests_total{{api=\"produce\"}} \
is {counted_produce:?} after {produce_requests} produce requests); its /metrics:\n{text}"
            ),
            Err(e) => panic!("cannot scrape the metrics-enabled broker: {e}"),
        }
    }
    let (counted_produce, counted_fetch) = (counted_produce.unwrap_or(0.0), counted_fetch.unwrap_or(0.0));
    let broker = Broker::start(&data, "copy", false);
    let copy = consume_repeatedly(&broker, end, consume_runs);
    broker.stop();
    let _ = std::fs::remove_dir_all(&work);

    let consumed = OnOff {
        off: sendfile.gbps.clone(),
        on: sendfile_on.gbps.clone(),
    };
    let (p, pmin, pmax) = stats(produced.off.clone());
    let (po, pomin, pomax) = stats(produced.on.clone());
    let (rp, rpmin, rpmax) = stats(ref_produce);
    let (r, rmin, rmax) = stats(ref_gbps);
    let (rc, _, _) = stats(ref_cpu);
    let (s, smin, smax) = stats(sendfile.gbps.clone());
    let (sc, scmin, scmax) = stats(sendfile.cpu_per_gb.clone());
    let (so, somin, somax) = stats(sendfile_on.gbps.clone());
    let (soc, socmin, socmax) = stats(sendfile_on.cpu_per_gb.clone());
    let (c, cmin, cmax) = stats(copy.gbps.clone());
    let (cc, ccmin, ccmax) = stats(copy.cpu_per_gb.clone());
    let throughput_ratio = s / r;
    let cpu_ratio = sc / cc;
    let (produce_on_off, consume_on_off) = (produced.ratio(), consumed.ratio());
    let json_interval = |x: &OnOff| {
        x.interval()
            .map_or("null".to_string(), |(lo, hi)| format!("[{lo:.4},{hi:.4}]"))
    };
    let (produce_interval, consume_interval) = (json_interval(&produced), json_interval(&consumed));
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    let md = format!(
        "## Broker\n\nThe release `kzero-server` as a child process, one client on loopback reading responses into a reused \
buffer; {} of 1 KiB records in one partition, produced in {produce_runs} runs and consumed {consume_runs} times; \
medians with min–max; {} CPUs. Each produce measurement starts after `sync` and after writing and deleting a \
scratch file, so that every run fills the page cache from recently used memory (in these virtual machines, \
memory not touched for a while is several times slower to fill).\n\n\
The broker has no metrics listener, so it records no metrics. A second broker with one (`metrics_listen`) runs \
beside it and gets the same runs, the two alternating run by run and taking turns at going first; scraped at \
the end, it had counted {counted_produce:.0} produce requests (of {produce_requests} sent) and {counted_fetch:.0} \
fetches (of {} sent). The metrics on / off ratios are of the medians, with a 95% bootstrap interval over the \
pairs of runs: an interval reaching across 0.98 means this run cannot tell.\n\n\
| measurement | kzero | reference | ratio | target |\n|---|---|---|---|---|\n\
| produce, acks=1, 1 MiB batches (MB/s) | {p:.0} ({pmin:.0}–{pmax:.0}) | {rp:.0} ({rpmin:.0}–{rpmax:.0}) bare recv+write | {:.2} | reported |\n\
| consume, 8 MiB fetches, sendfile mode (GB/s) | {s:.2} ({smin:.2}–{smax:.2}) | {r:.2} ({rmin:.2}–{rmax:.2}) bare sendfile | {throughput_ratio:.2} | ≥ 0.85: {} |\n\
| consume, copy mode (GB/s) | {c:.2} ({cmin:.2}–{cmax:.2}) | | {:.2} of sendfile mode | reported |\n\
| broker CPU s/GB, sendfile mode | {sc:.3} ({scmin:.3}–{scmax:.3}) | {rc:.3} bare sendfile sender | {:.2} of copy mode | ≤ 0.40 of copy: {} |\n\
| broker CPU s/GB, copy mode | {cc:.3} ({ccmin:.3}–{ccmax:.3}) | | | |\n\
| broker peak RSS while serving (MiB) | {:.1} sendfile, {:.1} copy | | | < 64: {} |\n\
| produce, metrics on (MB/s) | {po:.0} ({pomin:.0}–{pomax:.0}) | {p:.0} metrics off | {} | ≥ 0.98: {} |\n\
| consume, sendfile mode, metrics on (GB/s) | {so:.2} ({somin:.2}–{somax:.2}) | {s:.2} metrics off | {} | ≥ 0.98: {} |\n\
| broker CPU s/GB, sendfile mode, metrics on | {soc:.3} ({socmin:.3}–{socmax:.3}) | {sc:.3} metrics off | {:.2} | reported |\n\
| broker peak RSS while serving, metrics on (MiB) | {:.1} | {:.1} metrics off | | reported |\n",
        if quick { "256 MiB (quick mode)" } else { "1 GiB" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        sendfile_on.fetches,
        p / rp,
        verdict(throughput_ratio >= 0.85),
        c / s,
        cpu_ratio,
        verdict(cpu_ratio <= 0.40),
        sendfile.rss_mib,
        copy.rss_mib,
        verdict(sendfile.rss_mib < 64.0 && copy.rss_mib < 64.0),
        produced.describe(),
        verdict(produce_on_off >= 0.98),
        consumed.describe(),
        verdict(consume_on_off >= 0.98),
        soc / sc,
        sendfile_on.rss_mib,
        sendfile.rss_mib,
    );
    print!("{md}");
    std::fs::write(out_dir.join("broker.md"), &md).unwrap();
    let tsv = format!(
        "metric\tbroker consume\tkzero sendfile mode GB/s\t{s:.4}\t{smin:.4}\t{smax:.4}\tGB/s\n\
metric\tbroker consume\tkzero copy mode GB/s\t{c:.4}\t{cmin:.4}\t{cmax:.4}\tGB/s\n\
metric\tbroker consume\tbare sendfile GB/s\t{r:.4}\t{rmin:.4}\t{rmax:.4}\tGB/s\n\
metric\tbroker produce\tkzero acks=1 MB/s\t{p:.1}\t{pmin:.1}\t{pmax:.1}\tMB/s\n\
metric\tbroker produce\tbare recv+write MB/s\t{rp:.1}\t{rpmin:.1}\t{rpmax:.1}\tMB/s\n\
metric\tbroker metrics produce\tkzero acks=1, metrics off MB/s\t{p:.1}\t{pmin:.1}\t{pmax:.1}\tMB/s\n\
metric\tbroker metrics produce\tkzero acks=1, metrics on MB/s\t{po:.1}\t{pomin:.1}\t{pomax:.1}\tMB/s\n\
metric\tbroker metrics consume\tkzero sendfile mode, metrics off GB/s\t{s:.4}\t{smin:.4}\t{smax:.4}\tGB/s\n\
metric\tbroker metrics consume\tkzero sendfile mode, metrics on GB/s\t{so:.4}\t{somin:.4}\t{somax:.4}\tGB/s\n\
target\tbroker\tconsume throughput / bare sendfile\t{throughput_ratio:.3}\t>= 0.85\t{}\n\
target\tbroker\tCPU per GB, sendfile / copy mode\t{cpu_ratio:.3}\t<= 0.40\t{}\n\
target\tbroker\tpeak RSS while serving (MiB)\t{:.1}\t< 64\t{}\n\
target\tbroker\tproduce / bare recv+write\t{:.3}\treported\tinfo\n\
target\tbroker\tproduce, metrics on / off\t{}\t>= 0.98\t{}\n\
target\tbroker\tconsume, metrics on / off\t{}\t>= 0.98\t{}\n",
        verdict(throughput_ratio >= 0.85),
        verdict(cpu_ratio <= 0.40),
        sendfile.rss_mib.max(copy.rss_mib),
        verdict(sendfile.rss_mib < 64.0 && copy.rss_mib < 64.0),
        p / rp,
        produced.describe(),
        verdict(produce_on_off >= 0.98),
        consumed.describe(),
        verdict(consume_on_off >= 0.98),
    );
    std::fs::write(out_dir.join("broker.rows.tsv"), tsv).unwrap();
    let json = format!(
        "{{\"produce_mb_per_s\":{p:.1},\"produce_reference_mb_per_s\":{rp:.1},\"consume_gb_per_s\":{s:.3},\
\"consume_reference_gb_per_s\":{r:.3},\"consume_copy_gb_per_s\":{c:.3},\"cpu_s_per_gb\":{sc:.4},\"cpu_s_per_gb_copy\":{cc:.4},\
\"cpu_s_per_gb_reference\":{rc:.4},\"rss_mib\":{:.1},\"rss_mib_copy\":{:.1},\
\"produce_metrics_on_mb_per_s\":{po:.1},\"consume_metrics_on_gb_per_s\":{so:.3},\"cpu_s_per_gb_metrics_on\":{soc:.4},\
\"rss_mib_metrics_on\":{:.1},\"produce_metrics_on_off\":{produce_on_off:.4},\"consume_metrics_on_off\":{consume_on_off:.4},\
\"produce_metrics_on_off_interval\":{produce_interval},\"consume_metrics_on_off_interval\":{consume_interval},\
\"bytes\":{total},\"produce_runs\":{produce_runs},\"consume_runs\":{consume_runs}}}\n",
        sendfile.rss_mib, copy.rss_mib, sendfile_on.rss_mib
    );
    std::fs::write(out_dir.join("broker.json"), json).unwrap();
}
