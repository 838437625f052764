//! Broker benchmarks, run by `cargo xtask bench` (or `cargo bench -p server --bench broker -- [--quick]`, which
//! writes to `$KZERO_BENCH_DIR`, by default `bench` in cargo's target directory).
//!
//! The release `kzero-server` runs as a child process; one fast client (this process) speaks the Kafka
//! protocol over loopback, reading every response into one reused buffer and walking batch headers only.
//!
//! - Produce 1 GiB of 1 KiB records with acks=1 in 1 MiB batches, next to a bare reference server that
//!   `recv`s the same frames and `write`s them to a file.
//! - Consume it back with 8 MiB fetches from a warm page cache, next to a bare reference that sends the
//!   same segment file with plain `sendfile(2)` in 1 MiB steps to the same client; the broker in `sendfile`
//!   mode and in `copy` mode. Targets: the broker reaches 85% of the reference's throughput, its CPU seconds
//!   per GB are at most 40% of copy mode's, and its resident memory while serving stays under 64 MiB.
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

fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

struct Broker {
    child: Child,
    addr: SocketAddr,
}

impl Broker {
    fn start(data: &Path, mode: &str) -> Broker {
        let addr = free_port();
        let config = data.with_extension(format!("{mode}.toml"));
        std::fs::write(
            &config,
            format!(
                "listen = \"{addr}\"\ndata_dir = \"{}\"\nmessage_max_bytes = 2000000\n[transfer]\nmode = \"{mode}\"\n",
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
        Broker { child, addr }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
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

/// Consumes everything below `end` with fetches of `fetch_bytes`; returns bytes received and seconds.
fn consume(addr: SocketAddr, end: i64, fetch_bytes: i32) -> (u64, f64) {
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
    (received, start.elapsed().as_secs_f64())
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

fn sample_rss(pid: u32, stop: Arc<AtomicBool>, max: Arc<AtomicU64>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let kb = (rss_mib(pid) * 1024.0) as u64;
            max.fetch_max(kb, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(50));
        }
    })
}

struct Consumed {
    gbps: Vec<f64>,
    cpu_per_gb: Vec<f64>,
    rss_mib: f64,
}

fn consume_runs(broker: &Broker, end: i64, runs: usize) -> Consumed {
    let (stop, max) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let sampler = sample_rss(broker.pid(), Arc::clone(&stop), Arc::clone(&max));
    let mut out = Consumed {
        gbps: Vec::new(),
        cpu_per_gb: Vec::new(),
        rss_mib: 0.0,
    };
    for _ in 0..runs {
        let cpu = cpu_seconds(broker.pid());
        let (bytes, secs) = consume(broker.addr, end, fetch_mib() * MIB as i32);
        let cpu = cpu_seconds(broker.pid()) - cpu;
        out.gbps.push(bytes as f64 / secs / 1e9);
        out.cpu_per_gb.push(cpu / (bytes as f64 / 1e9));
    }
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    out.rss_mib = max.load(Ordering::Relaxed) as f64 / 1024.0;
    out
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
    let data = work.join("data");
    let total = if quick { 256 * MIB } else { 1024 * MIB };
    let runs = if quick { 1 } else { 3 };

    // Produce.
    let batch = produce_batch();
    let broker = Broker::start(&data, "sendfile");
    {
        // Create the topic through Metadata (auto-create).
        let mut s = TcpStream::connect(broker.addr).unwrap();
        let md = protocol::MetadataRequest {
            topics: Some(vec![protocol::MetadataRequestTopic {
                name: TOPIC.into(),
                ..Default::default()
            }]),
            ..Default::default()
        };
        s.write_all(&frame(ApiKey::Metadata, 4, 1, md.into())).unwrap();
        read_frame(&mut s, &mut Vec::new());
    }
    let mut kz_produce = Vec::new();
    let mut ref_produce = Vec::new();
    for _ in 0..runs {
        // Start each measurement with no dirty pages left by the previous one.
        nix::unistd::sync();
        ref_produce.push(reference_produce(&work, batch.len() + 80, total / runs as u64));
        nix::unistd::sync();
        kz_produce.push(produce(broker.addr, &batch, total / runs as u64));
    }
    let end = {
        let per = total / runs as u64 / batch.len() as u64;
        (per * runs as u64 * 1000) as i64
    };

    // Consume: reference, then the broker in sendfile mode, then in copy mode (same data).
    let segment = data.join(format!("{TOPIC}-0/00000000000000000000.log"));
    let _ = reference_consume(&segment); // warm the page cache
    let mut ref_gbps = Vec::new();
    let mut ref_cpu = Vec::new();
    for _ in 0..runs {
        let (bytes, secs, cpu) = reference_consume(&segment);
        ref_gbps.push(bytes as f64 / secs / 1e9);
        ref_cpu.push(cpu / (bytes as f64 / 1e9));
    }
    let sendfile = consume_runs(&broker, end, runs);
    broker.stop();
    let broker = Broker::start(&data, "copy");
    let copy = consume_runs(&broker, end, runs);
    broker.stop();
    let _ = std::fs::remove_dir_all(&work);

    let (p, pmin, pmax) = stats(kz_produce);
    let (rp, rpmin, rpmax) = stats(ref_produce);
    let (r, rmin, rmax) = stats(ref_gbps);
    let (rc, _, _) = stats(ref_cpu);
    let (s, smin, smax) = stats(sendfile.gbps.clone());
    let (sc, scmin, scmax) = stats(sendfile.cpu_per_gb.clone());
    let (c, cmin, cmax) = stats(copy.gbps.clone());
    let (cc, ccmin, ccmax) = stats(copy.cpu_per_gb.clone());
    let throughput_ratio = s / r;
    let cpu_ratio = sc / cc;
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    let md = format!(
        "## Broker\n\nThe release `kzero-server` as a child process, one client on loopback reading responses into a reused \
buffer; {} of 1 KiB records in one partition; median of {runs} runs with min–max; {} CPUs.\n\n\
| measurement | kzero | reference | ratio | target |\n|---|---|---|---|---|\n\
| produce, acks=1, 1 MiB batches (MB/s) | {p:.0} ({pmin:.0}–{pmax:.0}) | {rp:.0} ({rpmin:.0}–{rpmax:.0}) bare recv+write | {:.2} | reported |\n\
| consume, 8 MiB fetches, sendfile mode (GB/s) | {s:.2} ({smin:.2}–{smax:.2}) | {r:.2} ({rmin:.2}–{rmax:.2}) bare sendfile | {throughput_ratio:.2} | ≥ 0.85: {} |\n\
| consume, copy mode (GB/s) | {c:.2} ({cmin:.2}–{cmax:.2}) | | {:.2} of sendfile mode | reported |\n\
| broker CPU s/GB, sendfile mode | {sc:.3} ({scmin:.3}–{scmax:.3}) | {rc:.3} bare sendfile sender | {:.2} of copy mode | ≤ 0.40 of copy: {} |\n\
| broker CPU s/GB, copy mode | {cc:.3} ({ccmin:.3}–{ccmax:.3}) | | | |\n\
| broker peak RSS while serving (MiB) | {:.1} sendfile, {:.1} copy | | | < 64: {} |\n",
        if quick { "256 MiB (quick mode)" } else { "1 GiB" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        p / rp,
        verdict(throughput_ratio >= 0.85),
        c / s,
        cpu_ratio,
        verdict(cpu_ratio <= 0.40),
        sendfile.rss_mib,
        copy.rss_mib,
        verdict(sendfile.rss_mib < 64.0 && copy.rss_mib < 64.0),
    );
    print!("{md}");
    std::fs::write(out_dir.join("broker.md"), &md).unwrap();
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    let tsv = format!(
        "metric\tbroker consume\tkzero sendfile mode GB/s\t{s:.4}\t{smin:.4}\t{smax:.4}\tGB/s\n\
metric\tbroker consume\tkzero copy mode GB/s\t{c:.4}\t{cmin:.4}\t{cmax:.4}\tGB/s\n\
metric\tbroker consume\tbare sendfile GB/s\t{r:.4}\t{rmin:.4}\t{rmax:.4}\tGB/s\n\
metric\tbroker produce\tkzero acks=1 MB/s\t{p:.1}\t{pmin:.1}\t{pmax:.1}\tMB/s\n\
metric\tbroker produce\tbare recv+write MB/s\t{rp:.1}\t{rpmin:.1}\t{rpmax:.1}\tMB/s\n\
target\tbroker\tconsume throughput / bare sendfile\t{throughput_ratio:.3}\t>= 0.85\t{}\n\
target\tbroker\tCPU per GB, sendfile / copy mode\t{cpu_ratio:.3}\t<= 0.40\t{}\n\
target\tbroker\tpeak RSS while serving (MiB)\t{:.1}\t< 64\t{}\n\
target\tbroker\tproduce / bare recv+write\t{:.3}\treported\tinfo\n",
        verdict(throughput_ratio >= 0.85),
        verdict(cpu_ratio <= 0.40),
        sendfile.rss_mib.max(copy.rss_mib),
        verdict(sendfile.rss_mib < 64.0 && copy.rss_mib < 64.0),
        p / rp,
    );
    std::fs::write(out_dir.join("broker.rows.tsv"), tsv).unwrap();
    let json = format!(
        "{{\"produce_mb_per_s\":{p:.1},\"produce_reference_mb_per_s\":{rp:.1},\"consume_gb_per_s\":{s:.3},\
\"consume_reference_gb_per_s\":{r:.3},\"consume_copy_gb_per_s\":{c:.3},\"cpu_s_per_gb\":{sc:.4},\"cpu_s_per_gb_copy\":{cc:.4},\
\"cpu_s_per_gb_reference\":{rc:.4},\"rss_mib\":{:.1},\"rss_mib_copy\":{:.1},\"bytes\":{total},\"runs\":{runs}}}\n",
        sendfile.rss_mib, copy.rss_mib
    );
    std::fs::write(out_dir.join("broker.json"), json).unwrap();
}
