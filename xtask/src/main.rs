//! Project automation, run as `cargo xtask <command>`.
//!
//! `cargo xtask ci` is exactly what CI checks (`.ci/run` calls it and nothing else):
//! formatting, clippy with warnings denied, every test with insta snapshots checked and no updates allowed,
//! the dependency direction between workspace crates, a tidy pass over the sources, and the docs.
//! Each step prints a header and the whole run stops at the first failing step.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

mod bench;
mod cluster_bench;
mod partitions;
mod tidy;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  ci              run everything CI checks (fmt, clippy, tests + snapshots, deps, tidy, doc)
  ci <step>       run one step: fmt | clippy | test | deps | tidy | doc
  bench [--quick] run every benchmark (release builds) and write <target>/bench/report.md
  bench --report-only   rebuild report.md and the charts from the last run's files
  bench cluster [--quick]
                  run only the cluster row (3 nodes: 1,000 partitions, controller failover; replication:
                  acks=all RF=3 vs acks=1 RF=1 throughput and p99 ack latency, follower catch-up rate)
  bench partitions [--quick] [--partitions N]
                  run only the many-partitions row (N partitions, 100 per topic)
  bench security [--quick]
                  run only the security row (SASL + ACLs vs plaintext throughput, login cost)

<target> is cargo's target directory: CARGO_TARGET_DIR, build.target-dir, or target/ in the workspace.";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    // A relative CARGO_TARGET_DIR means relative to where cargo was run: keep that meaning in the root.
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) {
        if dir.is_relative() {
            std::env::set_var("CARGO_TARGET_DIR", std::env::current_dir()?.join(dir));
        }
    }
    std::env::set_current_dir(&root).context("entering the workspace root")?;
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["ci"] => ci(&root, None),
        ["ci", step] => ci(&root, Some(step)),
        ["bench"] => bench::run(false, false),
        ["bench", "--quick"] => bench::run(true, false),
        ["bench", "--report-only"] => bench::run(false, true),
        ["bench", "partitions", rest @ ..] => bench::partitions_only(rest),
        ["bench", "cluster", rest @ ..] => bench::cluster_only(rest),
        ["bench", "security", rest @ ..] => bench::security_only(rest),
        ["help" | "--help" | "-h"] | [] => {
            println!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command {other:?}\n\n{USAGE}"),
    }
}

pub(crate) fn workspace_root() -> PathBuf {
    // xtask lives at <root>/xtask.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask has a parent directory")
        .to_path_buf()
}

/// Cargo's target directory, as cargo itself resolves it (`CARGO_TARGET_DIR`, `build.target-dir` in a
/// cargo config, or `<root>/target`). Everything xtask builds, installs or writes goes under it.
pub(crate) fn target_dir() -> Result<PathBuf> {
    let json = output(cargo().args(["metadata", "--format-version", "1", "--no-deps"]))?;
    let dir = json_string(&json, "target_directory").context("`cargo metadata` printed no target_directory")?;
    Ok(PathBuf::from(dir))
}

/// The string value of the last `"key":` in `json` (escapes decoded), without a JSON library.
fn json_string(json: &str, key: &str) -> Option<String> {
    let at = json.rfind(&format!("\"{key}\":"))? + key.len() + 3;
    let mut chars = json[at..].trim_start().strip_prefix('"')?.chars();
    let mut value = String::new();
    loop {
        match chars.next()? {
            '"' => return Some(value),
            '\\' => match chars.next()? {
                'n' => value.push('\n'),
                't' => value.push('\t'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    value.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                c => value.push(c),
            },
            c => value.push(c),
        }
    }
}

type Step = (&'static str, fn(&Path) -> Result<()>);

const STEPS: &[Step] = &[
    ("fmt", fmt),
    ("clippy", clippy),
    ("test", test),
    ("deps", deps),
    ("tidy", tidy::run),
    ("doc", doc),
];

fn ci(root: &Path, only: Option<&str>) -> Result<()> {
    let started = Instant::now();
    let steps: Vec<&Step> = match only {
        None => STEPS.iter().collect(),
        Some(name) => match STEPS.iter().find(|(n, _)| *n == name) {
            Some(step) => vec![step],
            None => bail!("unknown ci step {name:?}\n\n{USAGE}"),
        },
    };
    for (name, step) in steps {
        let t = Instant::now();
        println!("\n==> xtask ci: {name}");
        step(root).with_context(|| format!("ci step `{name}` failed"))?;
        println!("==> {name} ok ({:.1}s)", t.elapsed().as_secs_f64());
    }
    println!(
        "\nxtask ci: all steps passed in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

pub(crate) fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

pub(crate) fn run(cmd: &mut Command) -> Result<()> {
    println!("$ {cmd:?}");
    let status = cmd.status().with_context(|| format!("spawning {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} exited with {status}");
    }
    Ok(())
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("spawning {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}

fn fmt(_: &Path) -> Result<()> {
    run(cargo().args(["fmt", "--all", "--", "--check"]))
}

fn clippy(_: &Path) -> Result<()> {
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))
}

/// Runs every test through `cargo insta test`, which fails on any snapshot that does not match,
/// writes no snapshot, and rejects snapshot files no test refers to.
/// The broker's interop tests need real clients: they are installed first (into cargo's target directory, or
/// kcat with apt-get), and a client that cannot be installed fails this step. The tests themselves fail when a
/// client is missing, and this step never lets them skip (`KZERO_SKIP_CLIENTS` is removed).
fn test(_: &Path) -> Result<()> {
    ensure_cargo_insta()?;
    let target = target_dir()?;
    let python = ensure_python_clients(&target)?;
    let modules = ensure_kafkajs(&target)?;
    ensure_kcat()?;
    if std::env::var_os("KZERO_SKIP_CLIENTS").is_some() {
        println!("KZERO_SKIP_CLIENTS is ignored by `cargo xtask ci`: the client tests always run here");
    }
    run(cargo()
        .args(["insta", "test", "--workspace", "--check", "--unreferenced=reject"])
        .env("INSTA_UPDATE", "no")
        .env("KZERO_PYTHON", &python)
        .env("KZERO_NODE_MODULES", &modules)
        .env_remove("KZERO_SKIP_CLIENTS"))
}

/// Whether `program ARG` runs and exits successfully.
pub(crate) fn runs(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Installs Debian packages with apt-get, which needs root; fails with what to install by hand otherwise.
fn apt_install(packages: &[&str], why: &str) -> Result<()> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root {
        bail!(
            "{why}, and installing it needs root: run `sudo apt-get install {}` (or your system's equivalent) \
             and run `cargo xtask ci` again",
            packages.join(" ")
        );
    }
    println!("installing {} with apt-get ({why})", packages.join(" "));
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    let _ = apt(&["update", "-qq"]);
    if !apt(&[&["install", "-y", "-qq"][..], packages].concat()) {
        bail!("{why}, and `apt-get install {}` failed", packages.join(" "));
    }
    Ok(())
}

/// kafkajs, pinned, in `<target>/kzero-node` (installed once with npm; Node.js itself with apt-get as root).
fn ensure_kafkajs(target: &Path) -> Result<PathBuf> {
    let prefix = target.join("kzero-node");
    let modules = prefix.join("node_modules");
    if modules.join("kafkajs/package.json").exists() && runs("node", "--version") {
        return Ok(modules);
    }
    if !runs("node", "--version") || !runs("npm", "--version") {
        apt_install(&["nodejs", "npm"], "the kafkajs interop test needs Node.js and npm")?;
    }
    println!(
        "installing kafkajs into {} (once per target directory)",
        prefix.display()
    );
    std::fs::create_dir_all(&prefix).with_context(|| format!("creating {}", prefix.display()))?;
    run(Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
        .arg(&prefix)
        .arg("kafkajs@2.2.4"))
    .context("npm could not install kafkajs")?;
    if !modules.join("kafkajs/package.json").exists() {
        bail!("npm ran but kafkajs is not in {}", modules.display());
    }
    Ok(modules)
}

/// The real Kafka clients the interop tests drive, pinned, in a venv in `<target>/kzero-venv` (made once).
const PYTHON_CLIENTS: &[&str] = &[
    "confluent-kafka==2.16.1",
    "kafka-python==3.0.12",
    "lz4",
    "zstandard",
    "python-snappy",
    "cramjam",
    // The strict OpenMetrics parser the metrics test pipes /metrics through (tests/clients/metrics_check.py).
    "prometheus-client==0.26.0",
];

pub(crate) fn ensure_python_clients(target: &Path) -> Result<PathBuf> {
    let venv = target.join("kzero-venv");
    let python = venv.join("bin/python");
    let ready = |py: &Path| {
        Command::new(py)
            .args([
                "-c",
                "import confluent_kafka, kafka, lz4, zstandard, snappy, prometheus_client.openmetrics.parser",
            ])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if ready(&python) {
        return Ok(python);
    }
    println!(
        "installing the Python Kafka clients into {} (once per target directory)",
        venv.display()
    );
    if !python.exists() {
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    }
    run(Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
        .args(PYTHON_CLIENTS))?;
    if !ready(&python) {
        bail!("the Python clients did not install into {}", venv.display());
    }
    Ok(python)
}

/// kcat from Debian's packages, installed with apt-get where we run as root; an error where it cannot be.
fn ensure_kcat() -> Result<()> {
    if runs("kcat", "-V") {
        return Ok(());
    }
    apt_install(&["kcat"], "the kcat interop test needs kcat")?;
    if !runs("kcat", "-V") {
        bail!("apt-get installed kcat but `kcat -V` still fails");
    }
    Ok(())
}

fn ensure_cargo_insta() -> Result<()> {
    let ok = cargo()
        .args(["insta", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        println!("cargo-insta is not installed; installing it (once per machine)");
        run(cargo().args(["install", "cargo-insta", "--locked", "--version", "^1"]))?;
    }
    Ok(())
}

fn doc(_: &Path) -> Result<()> {
    run(cargo()
        .args(["doc", "--workspace", "--no-deps", "--locked"])
        .env("RUSTDOCFLAGS", "-D warnings"))
}

/// The workspace crates each crate may depend on (through normal and build dependencies, transitively).
/// Everything else is a forbidden edge; see ARCHITECTURE.md.
const ALLOWED: &[(&str, &[&str])] = &[
    ("protocol", &[]),
    ("transfer", &[]),
    ("storage", &["protocol"]),
    ("replication", &[]),
    ("metadata", &["protocol"]),
    ("quorum", &[]),
    ("security", &[]),
    (
        "server",
        &[
            "protocol",
            "storage",
            "transfer",
            "replication",
            "metadata",
            "quorum",
            "security",
        ],
    ),
    ("cli", &["protocol", "transfer", "security"]),
    ("xtask", &[]),
];

/// Libraries must not pull in these crates (they belong to binaries).
const LIBRARIES: &[&str] = &[
    "protocol",
    "transfer",
    "storage",
    "replication",
    "metadata",
    "quorum",
    "security",
];
const BINARY_ONLY: &[&str] = &["anyhow", "clap", "tracing-subscriber"];

/// Binary-only crates a library may still pull in through a third-party dependency, with the reason:
/// (library, binary-only crate, why).
const EXCEPTIONS: &[(&str, &str, &str)] = &[
    // openraft derives a command-line parser for its `Config` and always depends on clap; quorum never uses it.
    ("quorum", "clap", "openraft's Config parser"),
];

fn deps(_: &Path) -> Result<()> {
    let workspace: Vec<&str> = ALLOWED.iter().map(|(name, _)| *name).collect();
    let mut problems = Vec::new();
    for (krate, allowed) in ALLOWED {
        let tree = output(cargo().args([
            "tree",
            "--locked",
            "-p",
            krate,
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ]))?;
        let names: Vec<&str> = tree.lines().filter_map(|line| line.split_whitespace().next()).collect();
        for dep in &names {
            if dep == krate {
                continue;
            }
            if workspace.contains(dep) && !allowed.contains(dep) {
                problems.push(format!("{krate} depends on {dep}: a forbidden edge"));
            }
            let excepted = EXCEPTIONS
                .iter()
                .any(|(library, name, _)| library == krate && name == dep);
            if LIBRARIES.contains(krate) && BINARY_ONLY.contains(dep) && !excepted {
                problems.push(format!("library {krate} depends on {dep}, which only binaries may use"));
            }
        }
    }
    problems.sort();
    problems.dedup();
    if !problems.is_empty() {
        bail!("dependency direction violated:\n  {}", problems.join("\n  "));
    }
    println!("dependency direction holds for {} crates", ALLOWED.len());
    Ok(())
}
