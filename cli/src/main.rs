//! The `kzero` command: topics, consumer groups, produce, consume, dump-log, bench and cluster status, over
//! the Kafka protocol only.
//!
//! It must never depend on `server`, `storage` or `replication`: it talks to brokers over the wire,
//! so it works against any Kafka-compatible broker, Apache Kafka included.
//! Every failure a user can cause ends in one line on stderr (`error: unknown topic "x"`) and a
//! non-zero exit code, never a panic or a backtrace.

mod bench;
mod client;
mod cluster;
mod consume;
mod dump;
mod group;
mod groups;
mod json;
mod member;
mod produce;
mod topics;

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::client::Settings;

/// kzero's command-line tool: manage topics and consumer groups, produce and consume records, decode log
/// files, benchmark, see the cluster's state.
///
/// It speaks the Kafka protocol only, so it works against kzero and against Apache Kafka alike.
#[derive(Debug, Parser)]
#[command(name = "kzero", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create, list, describe and delete topics.
    #[command(subcommand)]
    Topics(topics::TopicsCommand),
    /// List, describe and delete consumer groups, and reset their committed offsets.
    #[command(subcommand)]
    Groups(groups::GroupsCommand),
    /// Produce lines from standard input (or a file) as records.
    Produce(produce::ProduceArgs),
    /// Consume records and print them, one per line.
    Consume(consume::ConsumeArgs),
    /// Decode segment (.log), offset index (.index) and time index (.timeindex) files offline.
    DumpLog(dump::DumpLogArgs),
    /// Producer and consumer performance tests.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// The metadata quorum and the brokers: who leads, how far each member is behind, who is fenced.
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
}

/// Where the brokers are; every subcommand that talks to brokers takes these.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// The broker(s) to bootstrap from, comma-separated.
    #[arg(
        short = 'b',
        long = "bootstrap-server",
        value_name = "HOST:PORT",
        default_value = "127.0.0.1:9092"
    )]
    pub bootstrap_server: String,
    /// How long to wait for a connection and for each response, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub request_timeout_ms: u64,
}

impl ConnectArgs {
    /// The client settings.
    pub fn settings(&self) -> Settings {
        Settings {
            bootstrap: self.bootstrap_server.clone(),
            timeout: Duration::from_millis(self.request_timeout_ms.max(1)),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Topics(c) => topics::run(c),
        Command::Groups(c) => groups::run(c),
        Command::Produce(a) => produce::run(a),
        Command::Consume(a) => consume::run(a),
        Command::DumpLog(a) => dump::run(a),
        Command::Bench(c) => bench::run(c),
        Command::Cluster(c) => cluster::run(c),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // A closed stdout (`kzero consume | head`) is not an error of ours.
            if e.downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            let message = format!("{e:#}").replace('\n', " ");
            let _ = writeln!(io::stderr(), "error: {message}");
            ExitCode::FAILURE
        }
    }
}
