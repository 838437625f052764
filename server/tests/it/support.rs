//! Starting a broker on free ports for a test, and finding the real clients.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use protocol::{
    ApiKey, MetadataRequest, MetadataRequestTopic, Request, RequestBody, RequestHeader, Response, ResponseBody,
};
use server::{Config, Listeners};

/// A broker running on its own runtime thread.
pub struct TestBroker {
    pub addr: SocketAddr,
    pub tls_addr: Option<SocketAddr>,
    /// The SASL_PLAINTEXT listener, when the config has `[sasl]`.
    pub sasl_addr: Option<SocketAddr>,
    /// The SASL_SSL listener, when the config has `[sasl] ssl_listen`.
    pub sasl_ssl_addr: Option<SocketAddr>,
    pub metrics_addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), server::Error>>>,
}

impl TestBroker {
    /// Starts a broker with `config` (its listen addresses are replaced by free ports).
    pub fn start(config: Config) -> TestBroker {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
                let plaintext = tokio::net::TcpListener::bind(any).await.unwrap();
                let tls = match config.tls {
                    Some(_) => Some(tokio::net::TcpListener::bind(any).await.unwrap()),
                    None => None,
                };
                let sasl = match config.sasl {
                    Some(_) => Some(tokio::net::TcpListener::bind(any).await.unwrap()),
                    None => None,
                };
                let sasl_ssl = match config.sasl.as_ref().and_then(|s| s.ssl_listen) {
                    Some(_) => Some(tokio::net::TcpListener::bind(any).await.unwrap()),
                    None => None,
                };
                let metrics = tokio::net::TcpListener::bind(any).await.unwrap();
                let local = |l: &Option<tokio::net::TcpListener>| l.as_ref().map(|l| l.local_addr().unwrap());
                addr_tx
                    .send((
                        plaintext.local_addr().unwrap(),
                        local(&tls),
                        local(&sasl),
                        local(&sasl_ssl),
                        metrics.local_addr().unwrap(),
                    ))
                    .unwrap();
                let listeners = Listeners {
                    plaintext,
                    tls,
                    sasl,
                    sasl_ssl,
                    metrics: Some(metrics),
                };
                server::run(listeners, config, async {
                    let _ = rx.await;
                })
                .await
            })
        });
        let (addr, tls_addr, sasl_addr, sasl_ssl_addr, metrics_addr) =
            addr_rx.recv().expect("the broker thread started");
        TestBroker {
            addr,
            tls_addr,
            sasl_addr,
            sasl_ssl_addr,
            metrics_addr,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// Stops the broker cleanly and returns what `run` returned.
    pub fn stop(mut self) -> Result<(), server::Error> {
        self.shutdown.take().map(|tx| tx.send(()));
        self.thread.take().unwrap().join().expect("the broker thread panicked")
    }

    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// The Prometheus metrics text.
    pub fn metrics(&self) -> String {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(self.metrics_addr).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    /// One metric's value (summed over labels matching `labels`).
    pub fn metric(&self, name: &str) -> f64 {
        self.metrics()
            .lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A config for tests: data in `dir`, everything else default.
pub fn config(dir: &Path) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        ..Config::default()
    }
}

/// Cargo's target directory (the parent of the `tmp` directory cargo gives integration tests), where
/// `cargo xtask ci` installs the real clients.
fn target_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).to_path_buf()
}

/// Whether this run opted out of the real clients with `KZERO_SKIP_CLIENTS=1`.
fn skip_clients() -> bool {
    std::env::var_os("KZERO_SKIP_CLIENTS").is_some_and(|v| v == "1")
}

/// What a client test does when its client is missing: fail, saying how to install it, unless the run opted
/// out with `KZERO_SKIP_CLIENTS=1` (then it says so on stderr and the test returns early).
#[track_caller]
fn missing_client(what: &str, install: &str) -> Option<PathBuf> {
    if skip_clients() {
        eprintln!("SKIPPED (KZERO_SKIP_CLIENTS=1): {what}; this test proved nothing");
        return None;
    }
    panic!(
        "{what}.\n`cargo xtask ci` installs every client the tests use (`cargo xtask ci test` runs only the \
         tests); to install this one by hand: {install}.\nTo skip the client tests on purpose, set \
         KZERO_SKIP_CLIENTS=1."
    );
}

/// The Python with confluent-kafka and kafka-python: `KZERO_PYTHON`, or the venv `cargo xtask ci` makes in
/// `<target>/kzero-venv`. Panics when it is missing, unless `KZERO_SKIP_CLIENTS=1` (then `None`).
#[track_caller]
pub fn python() -> Option<PathBuf> {
    let candidate = std::env::var_os("KZERO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("kzero-venv/bin/python"));
    let ok = Command::new(&candidate)
        .args(["-c", "import confluent_kafka, kafka"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(candidate);
    }
    let venv = target_dir().join("kzero-venv");
    missing_client(
        &format!(
            "{} cannot import confluent_kafka and kafka (set KZERO_PYTHON to a Python that can)",
            candidate.display()
        ),
        &format!(
            "`python3 -m venv {venv} && {venv}/bin/pip install confluent-kafka kafka-python lz4 zstandard \
             python-snappy`",
            venv = venv.display()
        ),
    )
}

/// The `node_modules` directory holding kafkajs: `KZERO_NODE_MODULES`, or the one `cargo xtask ci` makes in
/// `<target>/kzero-node`. Panics when it or Node.js is missing, unless `KZERO_SKIP_CLIENTS=1` (then `None`).
#[track_caller]
pub fn kafkajs() -> Option<PathBuf> {
    let modules = std::env::var_os("KZERO_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("kzero-node/node_modules"));
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if node && modules.join("kafkajs").exists() {
        return Some(modules);
    }
    let what = if node {
        format!(
            "kafkajs is not in {} (set KZERO_NODE_MODULES to a node_modules directory that has it)",
            modules.display()
        )
    } else {
        "Node.js (`node`) is not installed".to_string()
    };
    missing_client(
        &what,
        &format!(
            "install Node.js and npm, then `npm install --prefix {} kafkajs@2.2.4`",
            target_dir().join("kzero-node").display()
        ),
    )
}

/// kcat on the `PATH`. Panics when it is missing, unless `KZERO_SKIP_CLIENTS=1` (then `None`).
#[track_caller]
pub fn kcat() -> Option<PathBuf> {
    let found = Command::new("kcat")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some(PathBuf::from("kcat"));
    }
    missing_client("kcat is not installed", "`sudo apt-get install kcat` (Debian, Ubuntu)")
}

/// Runs a client scenario from `tests/clients/interop.py`; panics with its output unless it prints OK.
pub fn scenario(python: &Path, bootstrap: &str, name: &str, extra: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/interop.py");
    let out = Command::new(python)
        .arg(&script)
        .arg(bootstrap)
        .arg(name)
        .args(extra)
        .output()
        .expect("running python");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(&format!("OK {name}")),
        "scenario {name} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    stdout
}

/// A raw Kafka protocol client: one connection, requests encoded with the protocol crate.
pub struct RawClient {
    /// The connection.
    pub s: TcpStream,
    correlation: i32,
}

impl RawClient {
    pub fn new(broker: &TestBroker) -> RawClient {
        RawClient::connect(broker.addr)
    }

    /// A client of the broker at `addr` (a broker process started by a test).
    pub fn connect(addr: SocketAddr) -> RawClient {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        RawClient { s, correlation: 0 }
    }

    pub fn send(&mut self, version: i16, body: RequestBody) -> i32 {
        self.correlation += 1;
        let mut out = BytesMut::new();
        let header = RequestHeader::new(body.api_key(), version, self.correlation);
        Request { header, body }.encode(&mut out).unwrap();
        self.s.write_all(&out).unwrap();
        self.correlation
    }

    pub fn recv(&mut self, api: ApiKey, version: i16) -> Response {
        let mut size = [0u8; 4];
        self.s.read_exact(&mut size).unwrap();
        let mut frame = vec![0u8; i32::from_be_bytes(size) as usize];
        self.s.read_exact(&mut frame).unwrap();
        Response::decode(api, version, Bytes::from(frame)).unwrap()
    }

    pub fn call(&mut self, version: i16, body: RequestBody) -> ResponseBody {
        let api = body.api_key();
        let id = self.send(version, body);
        let r = self.recv(api, version);
        assert_eq!(r.header.correlation_id, id);
        r.body
    }

    /// Creates a topic through Metadata (auto-creation).
    pub fn create(&mut self, topic: &str) {
        let md = MetadataRequest {
            topics: Some(vec![MetadataRequestTopic {
                name: Some(topic.into()),
                ..Default::default()
            }]),
            ..Default::default()
        };
        self.call(4, md.into());
    }
}

/// `127.0.0.1:PORT` with a port free right now, below the kernel's ephemeral range when there is room: a
/// node restarted by a test binds its ports again, and while it is down any outgoing connection on the
/// machine may be given one of them as its local port (seen as `binding the controller listener
/// 127.0.0.1:P: Address already in use` on restart). Outside the range the kernel never hands it out.
pub fn free_addr() -> String {
    use std::hash::BuildHasher;
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(0);
    if low > 12_000 {
        for _ in 0..200 {
            let random = std::collections::hash_map::RandomState::new().hash_one(std::time::Instant::now());
            let port = 10_000 + (random % u64::from(low - 10_000)) as u16;
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return format!("127.0.0.1:{port}");
            }
        }
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}
