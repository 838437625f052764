//! The `kzero` command: topics, consumer groups, produce, consume, dump-log, bench, cluster status, SCRAM
//! users and ACLs, over the Kafka protocol only (with SASL PLAIN or SCRAM when asked).
//!
//! It must never depend on `server`, `storage` or `replication`: it talks to brokers over the wire,
//! so it works against any Kafka-compatible broker, Apache Kafka included.
//! Every failure a user can cause ends in one line on stderr (`error: unknown topic "x"`) and a
//! non-zero exit code, never a panic or a backtrace.

mod acls;
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
mod sasl;
mod table;
mod topics;
mod users;

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::client::Settings;
use crate::sasl::{SaslConfig, SaslMechanism};

/// kzero's command-line tool: manage topics, consumer groups, users and ACLs, produce and consume records,
/// decode log files, benchmark, see the cluster's state.
///
/// It speaks the Kafka protocol only, so it works against kzero and against Apache Kafka alike.
#[derive(Debug, Parser)]
#[command(name = "kzero", version, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    leading: LeadingConnectArgs,
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
    /// Create, list and delete users' SCRAM credentials.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Add, list and remove ACLs, like kafka-acls.sh.
    #[command(subcommand)]
    Acls(acls::AclsCommand),
}

/// Where the brokers are and how to authenticate; every subcommand that talks to brokers takes these.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// The broker(s) to bootstrap from, comma-separated [default: 127.0.0.1:9092]
    #[arg(short = 'b', long = "bootstrap-server", value_name = "HOST:PORT")]
    pub bootstrap_server: Option<String>,
    /// How long to wait for a connection and for each response, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub request_timeout_ms: u64,
    /// Authenticate every connection with SASL: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
    #[arg(long, value_name = "MECHANISM", value_parser = SaslMechanism::parse)]
    pub sasl_mechanism: Option<SaslMechanism>,
    /// The SASL user name.
    #[arg(long, value_name = "NAME")]
    pub sasl_username: Option<String>,
    /// The SASL password [default: $KZERO_SASL_PASSWORD]
    #[arg(long, value_name = "PASS")]
    pub sasl_password: Option<String>,
}

/// The connection options given before the subcommand, `kzero -b HOST:PORT --sasl-mechanism M ... topics
/// list`. The same option after the subcommand wins.
#[derive(Debug, Clone, Default, Args)]
struct LeadingConnectArgs {
    /// The broker(s) to bootstrap from, for any subcommand (also accepted after it).
    #[arg(short = 'b', long = "bootstrap-server", value_name = "HOST:PORT")]
    bootstrap_server: Option<String>,
    /// The SASL mechanism, for any subcommand (also accepted after it).
    #[arg(long, value_name = "MECHANISM", value_parser = SaslMechanism::parse)]
    sasl_mechanism: Option<SaslMechanism>,
    /// The SASL user name, for any subcommand (also accepted after it).
    #[arg(long, value_name = "NAME")]
    sasl_username: Option<String>,
    /// The SASL password, for any subcommand (also accepted after it).
    #[arg(long, value_name = "PASS")]
    sasl_password: Option<String>,
}

/// The options given before the subcommand; set once, before the subcommand runs.
static LEADING: OnceLock<LeadingConnectArgs> = OnceLock::new();

/// The environment variable read for the SASL password when no option gives one.
const PASSWORD_VARIABLE: &str = "KZERO_SASL_PASSWORD";

impl ConnectArgs {
    /// The client settings, from these options, then those given before the subcommand, then the
    /// defaults (and `KZERO_SASL_PASSWORD` for the password).
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let leading = LEADING.get().cloned().unwrap_or_default();
        self.settings_with(&leading, std::env::var(PASSWORD_VARIABLE).ok())
    }

    fn settings_with(&self, leading: &LeadingConnectArgs, env_password: Option<String>) -> anyhow::Result<Settings> {
        let mechanism = self.sasl_mechanism.or(leading.sasl_mechanism);
        let username = self.sasl_username.clone().or_else(|| leading.sasl_username.clone());
        let password = self
            .sasl_password
            .clone()
            .or_else(|| leading.sasl_password.clone())
            .or(env_password);
        let sasl = match (mechanism, username, password) {
            (None, None, _) => None,
            (None, Some(_), _) => anyhow::bail!("--sasl-username needs --sasl-mechanism"),
            (Some(_), None, _) => anyhow::bail!("--sasl-mechanism needs --sasl-username"),
            (Some(_), Some(_), None) => {
                anyhow::bail!("--sasl-mechanism needs a password: give --sasl-password or set {PASSWORD_VARIABLE}")
            }
            (Some(mechanism), Some(username), Some(password)) => Some(SaslConfig {
                mechanism,
                username,
                password,
            }),
        };
        let bootstrap = self
            .bootstrap_server
            .clone()
            .or_else(|| leading.bootstrap_server.clone())
            .unwrap_or_else(|| DEFAULT_BOOTSTRAP.to_string());
        Ok(Settings {
            bootstrap,
            timeout: Duration::from_millis(self.request_timeout_ms.max(1)),
            sasl,
        })
    }
}

/// The broker to bootstrap from when no `--bootstrap-server` is given.
const DEFAULT_BOOTSTRAP: &str = "127.0.0.1:9092";

/// Prints each problem as one `error:` line on stderr; the exit code is a failure if there was any.
/// For commands that go on after one item fails (one user, one ACL) and report every failure.
pub fn report(problems: &[String]) -> io::Result<ExitCode> {
    let mut err = io::stderr().lock();
    for p in problems {
        writeln!(err, "error: {p}")?;
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    LEADING.get_or_init(|| cli.leading.clone());
    let result = match cli.command {
        Command::Topics(c) => topics::run(c),
        Command::Groups(c) => groups::run(c),
        Command::Produce(a) => produce::run(a),
        Command::Consume(a) => consume::run(a),
        Command::DumpLog(a) => dump::run(a),
        Command::Bench(c) => bench::run(c),
        Command::Cluster(c) => cluster::run(c),
        Command::Users(c) => users::run(c),
        Command::Acls(c) => acls::run(c),
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

#[cfg(test)]
mod tests;
