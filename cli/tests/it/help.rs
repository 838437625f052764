//! `kzero --help` and every subcommand's help are complete: the test knows every flag, and each one is
//! listed with a description. A new flag without a line here fails the test, so does a missing one.

use crate::support::kzero;

const CONNECT: &[&str] = &[
    "--bootstrap-server",
    "--request-timeout-ms",
    "--sasl-mechanism",
    "--sasl-username",
    "--sasl-password",
];

/// The acls flags shared by add and remove.
const ACL_CHANGE: &[&str] = &[
    "--topic",
    "--group",
    "--cluster",
    "--transactional-id",
    "--resource-pattern-type",
    "--allow-principal",
    "--deny-principal",
    "--allow-host",
    "--deny-host",
    "--operation",
];

/// (subcommand path, its flags besides --help, --version and the connection flags, takes connection flags)
const COMMANDS: &[(&[&str], &[&str], bool)] = &[
    (
        &["topics", "create"],
        &["--partitions", "--replication-factor", "--config", "--if-not-exists"],
        true,
    ),
    (&["topics", "list"], &["--internal"], true),
    (
        &["topics", "describe"],
        &[
            "--all-configs",
            "--under-replicated-partitions",
            "--unavailable-partitions",
        ],
        true,
    ),
    (&["topics", "delete"], &["--if-exists"], true),
    (&["groups", "list"], &[], true),
    (&["groups", "describe"], &[], true),
    (&["groups", "delete"], &[], true),
    (
        &["groups", "reset-offsets"],
        &[
            "--topic",
            "--to-earliest",
            "--to-latest",
            "--to-offset",
            "--to-datetime",
            "--execute",
            "--dry-run",
        ],
        true,
    ),
    (
        &["produce"],
        &[
            "--file",
            "--key-separator",
            "--header",
            "--compression",
            "--acks",
            "--partition",
            "--batch-size",
        ],
        true,
    ),
    (
        &["consume"],
        &[
            "--partition",
            "--from-beginning",
            "--offset",
            "--timestamp",
            "--max",
            "--exit",
            "--timeout-ms",
            "--json",
            "--print-key",
            "--key-separator",
            "--group",
            "--partition-max-bytes",
        ],
        true,
    ),
    (&["dump-log"], &["--records", "--no-log-check"], false),
    (
        &["users", "create"],
        &["--password", "--mechanism", "--iterations"],
        true,
    ),
    (&["users", "list"], &[], true),
    (&["users", "delete"], &["--mechanism"], true),
    (&["acls", "add"], ACL_CHANGE, true),
    (&["acls", "remove"], ACL_CHANGE, true),
    (
        &["acls", "list"],
        &[
            "--topic",
            "--group",
            "--cluster",
            "--transactional-id",
            "--resource-pattern-type",
            "--principal",
        ],
        true,
    ),
    (
        &["bench", "produce"],
        &[
            "--topic",
            "--json",
            "--quick",
            "--records",
            "--record-size",
            "--batch-size",
            "--acks",
            "--compression",
            "--partitions",
            "--throughput",
            "--max-in-flight",
        ],
        true,
    ),
    (
        &["bench", "consume"],
        &[
            "--topic",
            "--json",
            "--quick",
            "--records",
            "--fetch-max-bytes",
            "--partition-max-bytes",
            "--timeout-ms",
            "--with-producer",
            "--record-size",
            "--batch-size",
            "--acks",
            "--compression",
            "--partitions",
            "--throughput",
            "--max-in-flight",
        ],
        true,
    ),
];

/// True for a line that names an option: clap indents those by 2 spaces (6 without a short flag), and
/// descriptions on lines of their own by 10.
fn is_option_line(l: &str) -> bool {
    let indent = l.len() - l.trim_start().len();
    indent <= 6 && l.trim_start().starts_with('-')
}

/// The long flags a help text lists, in order.
fn flags(help: &str) -> Vec<String> {
    help.lines()
        .filter(|l| is_option_line(l))
        .filter_map(|l| {
            let at = l.find("--")?;
            Some(l[at..].split([' ', ',', '=']).next()?.to_string())
        })
        .collect()
}

#[test]
fn top_level_help_lists_every_subcommand() {
    let help = kzero(&["--help"]);
    let out = help.ok();
    for sub in [
        "topics", "groups", "produce", "consume", "dump-log", "bench", "cluster", "users", "acls",
    ] {
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(sub)),
            "{sub} missing:\n{out}"
        );
    }
    for sub in ["create", "list", "describe", "delete"] {
        assert!(
            kzero(&["topics", "--help"])
                .ok()
                .lines()
                .any(|l| l.trim_start().starts_with(sub)),
            "{sub}"
        );
    }
    for sub in ["list", "describe", "delete", "reset-offsets"] {
        assert!(
            kzero(&["groups", "--help"])
                .ok()
                .lines()
                .any(|l| l.trim_start().starts_with(sub)),
            "{sub}"
        );
    }
    for sub in ["produce", "consume"] {
        assert!(
            kzero(&["bench", "--help"])
                .ok()
                .lines()
                .any(|l| l.trim_start().starts_with(sub)),
            "{sub}"
        );
    }
    for (command, subs) in [
        ("users", ["create", "list", "delete"]),
        ("acls", ["add", "list", "remove"]),
    ] {
        let help = kzero(&[command, "--help"]);
        for sub in subs {
            assert!(
                help.ok().lines().any(|l| l.trim_start().starts_with(sub)),
                "{command} {sub}"
            );
        }
    }
    // The connection options may also come before the subcommand.
    let mut leading = flags(out);
    leading.sort();
    assert_eq!(
        leading,
        [
            "--bootstrap-server",
            "--help",
            "--sasl-mechanism",
            "--sasl-password",
            "--sasl-username",
            "--version"
        ]
    );
    assert!(kzero(&["--version"]).ok().starts_with("kzero "));
}

#[test]
fn every_subcommand_help_lists_every_flag() {
    for (path, own, connect) in COMMANDS {
        let mut args = path.to_vec();
        args.push("--help");
        let help = kzero(&args);
        let out = help.ok();
        let mut expect: Vec<String> = own.iter().map(|s| s.to_string()).collect();
        if *connect {
            expect.extend(CONNECT.iter().map(|s| s.to_string()));
        }
        expect.push("--help".into());
        expect.push("--version".into());
        let mut got = flags(out);
        got.sort();
        expect.sort();
        assert_eq!(got, expect, "{path:?}:\n{out}");
        // Every option line has a description after it (no bare flags).
        for line in out.lines().filter(|l| is_option_line(l)) {
            let described = line.split("  ").filter(|s| !s.trim().is_empty()).count() >= 2;
            let next_described = out
                .lines()
                .skip_while(|l| *l != line)
                .nth(1)
                .is_some_and(|n| n.starts_with("          ") && !n.trim().is_empty());
            assert!(described || next_described, "{path:?}: {line:?} has no description");
        }
        if *connect {
            assert!(out.contains("-b, --bootstrap-server <HOST:PORT>"), "{path:?}");
            assert!(out.contains("[default: 127.0.0.1:9092]"), "{path:?}");
        }
    }
}
