//! The broker: what every connection shares, and the entry point of request handling.
//!
//! `Broker` is the context the handlers (`apis/`) run in: the config, the cluster id, the
//! [`ReplicaManager`] that owns the partitions, the producer-id generator and the metrics. It holds no
//! partition state of its own. A handler turns one decoded request into a [`Reply`]; records it returns
//! from the log are [`protocol::Records::External`] entries that index into [`Reply::regions`], so the
//! connection writes them straight from the segment files (zero-copy).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::Duration;

use protocol::{Request, ResponseBody};
use storage::Slice;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::replica_manager::ReplicaManager;
use crate::Error;

/// Where a request came from: the advertised address of the listener it came in on (Metadata and
/// FindCoordinator send clients back through the same listener, as Kafka's per-listener advertised
/// addresses do) and the client's own address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// The advertised host.
    pub host: String,
    /// The advertised port.
    pub port: i32,
    /// The client's address, when known.
    pub peer: Option<SocketAddr>,
}

/// A response body plus the file regions its external records refer to.
#[derive(Debug)]
pub struct Reply {
    /// The body, or `None` when no response is sent (Produce with acks=0).
    pub body: Option<ResponseBody>,
    /// `Records::External { id }` refers to `regions[id]`.
    pub regions: Vec<Slice>,
    /// Close the connection after this request (acks=0 produce that failed, a refused request).
    pub close: bool,
    /// The request was refused without being handled (an API or version the broker does not advertise).
    pub refused: bool,
    /// How long the request waited as a delayed operation (its "remote" time in the metrics).
    pub remote: Duration,
}

impl Reply {
    pub(crate) fn body(body: impl Into<ResponseBody>) -> Reply {
        Reply {
            body: Some(body.into()),
            regions: Vec::new(),
            close: false,
            refused: false,
            remote: Duration::ZERO,
        }
    }

    /// A refused request: no response, and the connection is closed.
    pub(crate) fn refuse() -> Reply {
        Reply {
            body: None,
            regions: Vec::new(),
            close: true,
            refused: true,
            remote: Duration::ZERO,
        }
    }
}

/// The broker: everything connections share.
#[derive(Debug)]
pub struct Broker {
    pub(crate) config: Config,
    /// The plaintext listener's advertised address.
    pub(crate) advertised: (String, i32),
    pub(crate) cluster_id: String,
    /// The partitions, and the produce and fetch paths over them.
    pub(crate) replicas: Arc<ReplicaManager>,
    pub(crate) next_producer_id: AtomicI64,
    pub(crate) metrics: Arc<Metrics>,
    /// The group coordinator, once `run` started it.
    pub(crate) groups: std::sync::OnceLock<crate::group::GroupCoordinator>,
}

impl Broker {
    /// Opens the data directory (recovering logs if needed) and builds the broker state; `metrics` says
    /// whether metrics are recorded (they are when there is a metrics listener). Blocking: run it on a
    /// blocking thread.
    pub fn open(config: Config, bound: SocketAddr, metrics: bool) -> Result<Broker, Error> {
        let metrics = Arc::new(Metrics::new(metrics));
        let replicas = Arc::new(ReplicaManager::open(&config, Arc::clone(&metrics))?);
        metrics.attach(&replicas);
        let cluster_id = cluster_id(&config.data_dir, config.node_id)?;
        let advertised = config.advertised(bound);
        // Producer ids must not repeat across restarts: start above anything handed out before.
        let start_pid = storage_now_ms() * 1000;
        Ok(Broker {
            advertised,
            cluster_id,
            replicas,
            next_producer_id: AtomicI64::new(start_pid),
            metrics,
            groups: std::sync::OnceLock::new(),
            config,
        })
    }

    /// Handles one request that came in through `listener`.
    pub async fn handle(&self, request: &Request, listener: &Listener) -> Reply {
        crate::apis::dispatch(self, request, listener).await
    }
}

pub(crate) fn storage_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Reads `meta.properties` (Kafka's file) for the cluster id, creating it on first start.
fn cluster_id(data_dir: &Path, node_id: i32) -> Result<String, Error> {
    let path = data_dir.join("meta.properties");
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Some(id) = text.lines().find_map(|l| l.strip_prefix("cluster.id=")) {
            return Ok(id.trim().to_string());
        }
    }
    // 16 bytes from the clock and the process, base64url without padding like Kafka's 22-character ids.
    let seed = (storage_now_ms() as u128) << 32 ^ u128::from(std::process::id()) ^ (&path as *const _ as u128);
    let mut x = seed | 1;
    let mut bytes = [0u8; 16];
    for b in &mut bytes {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let id: String = bytes
        .chunks(3)
        .flat_map(|c| {
            let n = c.iter().fold(0u32, |acc, b| acc << 8 | u32::from(*b)) << (8 * (3 - c.len()));
            let chars = if c.len() == 3 { 4 } else { c.len() + 1 };
            (0..chars).map(move |i| ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char)
        })
        .collect();
    let text = format!("#\n#kzero\nversion=1\nnode.id={node_id}\ncluster.id={id}\n");
    std::fs::write(&path, text).map_err(|source| Error::Io {
        op: "writing",
        path: path.clone(),
        source,
    })?;
    Ok(id)
}
