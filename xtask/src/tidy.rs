//! The tidy step: source-level rules that neither rustc nor clippy checks.
//!
//! - every `.rs` file starts with a `//!` module doc, and every library root denies missing docs;
//! - no test is marked to expect a panic or to be ignored (slow tests are gated at run time instead);
//! - no unreviewed insta snapshot (`.snap.new`, `.pending-snap`) is in the tree;
//! - internal dependencies carry a version, internal dev-dependencies do not.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

const WORKSPACE_CRATES: &[&str] = &[
    "protocol",
    "storage",
    "transfer",
    "replication",
    "metadata",
    "quorum",
    "security",
    "server",
    "cli",
    "xtask",
];

pub(crate) fn run(root: &Path) -> Result<()> {
    let mut problems = Vec::new();
    let mut files = Vec::new();
    walk(root, &mut files)?;

    // Built at run time so that this file does not trip its own check.
    let should_panic = ["#[should", "_panic"].concat();
    let ignore = ["#[", "ignore"].concat();

    for path in &files {
        let rel = path.strip_prefix(root).unwrap_or(path).display().to_string();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".snap.new") || name.ends_with(".pending-snap") {
            problems.push(format!("{rel}: unreviewed insta snapshot"));
            continue;
        }
        if !name.ends_with(".rs") {
            continue;
        }
        let text = fs::read_to_string(path).with_context(|| format!("reading {rel}"))?;
        if !text.trim_start().starts_with("//!") {
            problems.push(format!("{rel}: does not start with a `//!` module doc"));
        }
        for (i, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with(&should_panic) {
                problems.push(format!("{rel}:{}: tests must not expect panics", i + 1));
            }
            if code.starts_with(&ignore)
                && (code[ignore.len()..].starts_with(']') || code[ignore.len()..].starts_with(" ="))
            {
                problems.push(format!(
                    "{rel}:{}: ignored tests never run; gate slow tests at run time",
                    i + 1
                ));
            }
        }
        if name == "lib.rs" && rel.ends_with("src/lib.rs") && !text.contains("#![deny(missing_docs)]") {
            problems.push(format!("{rel}: library roots must `#![deny(missing_docs)]`"));
        }
    }

    check_manifests(root, &mut problems)?;

    if !problems.is_empty() {
        bail!("tidy found {} problem(s):\n  {}", problems.len(), problems.join("\n  "));
    }
    println!("tidy: {} files checked", files.len());
    Ok(())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if entry.file_type()?.is_dir() {
            if name == "target"
                || name.starts_with('.')
                || name == "kzero-data"
                || name == "corpus"
                || name == "artifacts"
            {
                continue;
            }
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Internal dependencies in the root manifest carry a version (so the crates could be published in order);
/// internal dev-dependencies use a bare path and no version (so they never constrain publishing).
fn check_manifests(root: &Path, problems: &mut Vec<String>) -> Result<()> {
    let manifest = fs::read_to_string(root.join("Cargo.toml"))?;
    for line in section_lines(&manifest, "[workspace.dependencies]") {
        if let Some(name) = dep_name(line) {
            if WORKSPACE_CRATES.contains(&name) && !line.contains("version") {
                problems.push(format!("Cargo.toml: internal dependency `{name}` must carry a version"));
            }
        }
    }
    for krate in WORKSPACE_CRATES {
        let path = root.join(krate).join("Cargo.toml");
        let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        for line in section_lines(&text, "[dev-dependencies]") {
            if let Some(name) = dep_name(line) {
                if WORKSPACE_CRATES.contains(&name) && (line.contains("version") || line.contains("workspace")) {
                    problems.push(format!(
                        "{krate}/Cargo.toml: internal dev-dependency `{name}` must be a bare path without a version"
                    ));
                }
            }
        }
    }
    Ok(())
}

fn section_lines<'a>(text: &'a str, header: &str) -> Vec<&'a str> {
    let mut inside = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            inside = trimmed == header;
            continue;
        }
        if inside && !trimmed.is_empty() && !trimmed.starts_with('#') {
            lines.push(trimmed);
        }
    }
    lines
}

fn dep_name(line: &str) -> Option<&str> {
    let name = line.split(['=', '.', ' ']).next()?.trim();
    (!name.is_empty()).then_some(name)
}
