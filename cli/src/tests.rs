//! Tests of the connection options: where each setting comes from (after the subcommand, before it, the
//! environment, the default) and which combinations are refused.

use clap::Parser;

use super::*;

/// The real command line, reduced to the connection options: leading ones, then a subcommand `run`
/// that takes [`ConnectArgs`] as every broker subcommand does.
#[derive(Debug, Parser)]
struct Probe {
    #[command(flatten)]
    leading: LeadingConnectArgs,
    #[command(subcommand)]
    command: ProbeCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ProbeCommand {
    Run(ConnectArgs),
}

/// Parses `probe <args>` (the subcommand is `run`) into the leading and the subcommand's options.
fn parse(args: &[&str]) -> (LeadingConnectArgs, ConnectArgs) {
    let mut argv = vec!["probe"];
    argv.extend_from_slice(args);
    let probe = Probe::try_parse_from(argv).unwrap();
    let ProbeCommand::Run(connect) = probe.command;
    (probe.leading, connect)
}

fn settings(args: &[&str], env: Option<&str>) -> anyhow::Result<Settings> {
    let (leading, connect) = parse(args);
    connect.settings_with(&leading, env.map(str::to_string))
}

#[test]
fn bootstrap_after_before_and_default() {
    assert_eq!(settings(&["run"], None).unwrap().bootstrap, "127.0.0.1:9092");
    assert_eq!(settings(&["-b", "h:1", "run"], None).unwrap().bootstrap, "h:1");
    assert_eq!(settings(&["run", "-b", "h:2"], None).unwrap().bootstrap, "h:2");
    assert_eq!(
        settings(&["-b", "h:1", "run", "--bootstrap-server", "h:2"], None)
            .unwrap()
            .bootstrap,
        "h:2"
    );
    assert!(settings(&["run"], None).unwrap().sasl.is_none());
}

#[test]
fn sasl_options_before_or_after_the_subcommand() {
    let before = settings(
        &[
            "--sasl-mechanism",
            "SCRAM-SHA-512",
            "--sasl-username",
            "admin",
            "--sasl-password",
            "admin-secret",
            "-b",
            "h:9094",
            "run",
        ],
        None,
    )
    .unwrap();
    let sasl = before.sasl.unwrap();
    assert_eq!(sasl.mechanism, SaslMechanism::Scram(security::scram::Mechanism::Sha512));
    assert_eq!(
        (sasl.username.as_str(), sasl.password.as_str()),
        ("admin", "admin-secret")
    );
    assert_eq!(before.bootstrap, "h:9094");

    // Mixed: the mechanism before, the user after, the password from the environment.
    let mixed = settings(
        &["--sasl-mechanism", "plain", "run", "--sasl-username", "alice"],
        Some("from-env"),
    )
    .unwrap();
    let sasl = mixed.sasl.unwrap();
    assert_eq!(sasl.mechanism, SaslMechanism::Plain);
    assert_eq!((sasl.username.as_str(), sasl.password.as_str()), ("alice", "from-env"));

    // An option beats the environment, and the one after the subcommand beats the one before.
    let sasl = ["--sasl-mechanism", "PLAIN", "--sasl-username", "u"];
    for (before, after, env, expect) in [
        (Some("before"), Some("after"), Some("env"), "after"),
        (Some("before"), None, Some("env"), "before"),
        (None, None, Some("env"), "env"),
    ] {
        let mut args: Vec<&str> = before.map_or(vec![], |p| vec!["--sasl-password", p]);
        args.push("run");
        args.extend(sasl);
        args.extend(after.map_or(vec![], |p| vec!["--sasl-password", p]));
        let got = settings(&args, env).unwrap().sasl.unwrap().password;
        assert_eq!(got, expect, "{args:?}");
    }
}

#[test]
fn incomplete_sasl_options_are_refused() {
    let err = |args: &[&str], env: Option<&str>| settings(args, env).unwrap_err().to_string();
    assert_eq!(
        err(&["run", "--sasl-mechanism", "PLAIN"], Some("pw")),
        "--sasl-mechanism needs --sasl-username"
    );
    assert_eq!(
        err(&["run", "--sasl-username", "u"], Some("pw")),
        "--sasl-username needs --sasl-mechanism"
    );
    assert_eq!(
        err(&["run", "--sasl-mechanism", "PLAIN", "--sasl-username", "u"], None),
        "--sasl-mechanism needs a password: give --sasl-password or set KZERO_SASL_PASSWORD"
    );
    // A password alone (say, exported in the shell) asks for nothing.
    assert!(settings(&["run"], Some("pw")).unwrap().sasl.is_none());
    assert!(Probe::try_parse_from(["probe", "run", "--sasl-mechanism", "GSSAPI"]).is_err());
}

#[test]
fn the_real_command_line_takes_leading_options() {
    let cli = Cli::try_parse_from([
        "kzero",
        "--sasl-mechanism",
        "SCRAM-SHA-256",
        "--sasl-username",
        "alice",
        "-b",
        "h:9094",
        "users",
        "list",
    ])
    .unwrap();
    assert_eq!(cli.leading.bootstrap_server.as_deref(), Some("h:9094"));
    assert_eq!(cli.leading.sasl_username.as_deref(), Some("alice"));
    assert!(matches!(cli.command, Command::Users(_)));
    // dump-log takes no connection options after it, but they may still lead.
    assert!(Cli::try_parse_from(["kzero", "dump-log", "f.log", "-b", "h:1"]).is_err());
}
