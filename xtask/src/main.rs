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
mod tidy;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  ci              run everything CI checks (fmt, clippy, tests + snapshots, deps, tidy, doc)
  ci <step>       run one step: fmt | clippy | test | deps | tidy | doc
  bench [--quick] run every benchmark (release builds) and write target/bench/report.md
  bench --report-only   rebuild report.md and the charts from the last run's files";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    std::env::set_current_dir(&root).context("entering the workspace root")?;
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["ci"] => ci(&root, None),
        ["ci", step] => ci(&root, Some(step)),
        ["bench"] => bench::run(&root, false, false),
        ["bench", "--quick"] => bench::run(&root, true, false),
        ["bench", "--report-only"] => bench::run(&root, false, true),
        ["help" | "--help" | "-h"] | [] => {
            println!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command {other:?}\n\n{USAGE}"),
    }
}

fn workspace_root() -> PathBuf {
    // xtask lives at <root>/xtask.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask has a parent directory")
        .to_path_buf()
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
/// The broker's interop tests need real clients: they are installed first and then required.
fn test(root: &Path) -> Result<()> {
    ensure_cargo_insta()?;
    let python = ensure_python_clients(root)?;
    let mut cmd = cargo();
    cmd.args(["insta", "test", "--workspace", "--check", "--unreferenced=reject"])
        .env("INSTA_UPDATE", "no")
        .env("KZERO_PYTHON", &python)
        .env("KZERO_REQUIRE_CLIENTS", "1");
    if ensure_kcat() {
        cmd.env("KZERO_REQUIRE_KCAT", "1");
    }
    if let Some(modules) = ensure_kafkajs(root) {
        cmd.env("KZERO_NODE_MODULES", modules).env("KZERO_REQUIRE_KAFKAJS", "1");
    }
    run(&mut cmd)
}

/// kafkajs, pinned, under target/ (installed once with npm), where Node.js exists.
fn ensure_kafkajs(root: &Path) -> Option<PathBuf> {
    let prefix = root.join("target/kzero-node");
    let modules = prefix.join("node_modules");
    if modules.join("kafkajs/package.json").exists() {
        return Some(modules);
    }
    if !Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        println!("node is not installed: the kafkajs interop test will be skipped");
        return None;
    }
    println!("installing kafkajs into {} (once per checkout)", prefix.display());
    let _ = std::fs::create_dir_all(&prefix);
    let ok = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
        .arg(&prefix)
        .arg("kafkajs@2.2.4")
        .status()
        .is_ok_and(|s| s.success());
    if ok && modules.join("kafkajs/package.json").exists() {
        Some(modules)
    } else {
        println!("npm could not install kafkajs: the kafkajs interop test will be skipped");
        None
    }
}

/// The real Kafka clients the interop tests drive, pinned, in a venv under target/ (made once).
const PYTHON_CLIENTS: &[&str] = &[
    "confluent-kafka==2.16.1",
    "kafka-python==3.0.12",
    "lz4",
    "zstandard",
    "python-snappy",
    "cramjam",
];

fn ensure_python_clients(root: &Path) -> Result<PathBuf> {
    let venv = root.join("target/kzero-venv");
    let python = venv.join("bin/python");
    let ready = |py: &Path| {
        Command::new(py)
            .args(["-c", "import confluent_kafka, kafka, lz4, zstandard, snappy"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if ready(&python) {
        return Ok(python);
    }
    println!(
        "installing the Python Kafka clients into {} (once per checkout)",
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

/// kcat from Debian's packages, installed where we run as root. Returns whether it is available.
fn ensure_kcat() -> bool {
    let present = || {
        Command::new("kcat")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if present() {
        return true;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root {
        println!("kcat is not installed and we are not root: the kcat interop test will be skipped");
        return false;
    }
    println!("installing kcat with apt-get");
    let quiet = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    let _ = quiet(&["update", "-qq"]);
    if !quiet(&["install", "-y", "-qq", "kcat"]) {
        println!("apt-get could not install kcat: the kcat interop test will be skipped");
    }
    present()
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
    ("replication", &["protocol", "storage"]),
    ("server", &["protocol", "storage", "transfer", "replication"]),
    ("cli", &["protocol", "transfer"]),
    ("xtask", &[]),
];

/// Libraries must not pull in these crates (they belong to binaries).
const LIBRARIES: &[&str] = &["protocol", "transfer", "storage", "replication"];
const BINARY_ONLY: &[&str] = &["anyhow", "clap", "tracing-subscriber"];

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
            if LIBRARIES.contains(krate) && BINARY_ONLY.contains(dep) {
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
