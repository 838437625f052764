//! The `kzero-server` binary: reads the config, binds the listeners, serves until SIGTERM or SIGINT.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use server::{Config, Listeners};

/// A Kafka-wire-compatible broker.
#[derive(Debug, Parser)]
#[command(name = "kzero-server", version, about)]
struct Args {
    /// A TOML config file (see kzero.example.toml); every key is optional.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The plaintext listener, overriding `listen`.
    #[arg(long, value_name = "HOST:PORT")]
    listen: Option<std::net::SocketAddr>,
    /// The data directory, overriding `data_dir`.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// This broker's id, overriding `node_id`.
    #[arg(long, value_name = "N")]
    node_id: Option<i32>,
}

/// The log filter without `KZERO_LOG`: openraft's own lines are off (it logs every failed heartbeat to a
/// stopped voter as an error, ten a second); the quorum's state is in `kzero cluster status` and the
/// `kzero_quorum_*` metrics, and `KZERO_LOG=info,openraft=info` shows Raft's internals.
const DEFAULT_LOG: &str = "info,openraft=off";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut config = match &args.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    if let Some(l) = args.listen {
        config.listen = l;
    }
    if let Some(d) = args.data_dir {
        config.data_dir = d;
    }
    if let Some(n) = args.node_id {
        config.node_id = n;
    }
    config.validate()?;

    let filter = tracing_subscriber::EnvFilter::try_from_env("KZERO_LOG").unwrap_or_else(|_| DEFAULT_LOG.into());
    match config.log_format {
        server::config::LogFormat::Human => tracing_subscriber::fmt().with_env_filter(filter).init(),
        server::config::LogFormat::Json => tracing_subscriber::fmt().json().with_env_filter(filter).init(),
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let listeners = Listeners::bind(&config).await?;
        server::run(listeners, config, shutdown_signal()).await?;
        anyhow::Ok(())
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM; stop with SIGINT");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
    }
}
