//! `cargo xtask bench [--quick]`: runs every benchmark in release mode and writes `target/bench/report.md`
//! with one table of targets, one table of measurements, and PNG charts.
//!
//! Each benchmark target writes `<name>.md` (its own section), `<name>.json`, and `<name>.rows.tsv` into
//! `$KZERO_BENCH_DIR`. The rows are tab-separated lines of two kinds:
//!
//! ```text
//! metric  <group>  <label>  <median>  <min>  <max>  <unit>
//! target  <group>  <name>   <value>   <limit>  PASS|FAIL|info
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::{cargo, run as run_cmd};

/// The benchmark targets, in report order: (package, bench target).
const BENCHES: &[(&str, &str)] = &[("transfer", "transfer"), ("storage", "storage"), ("server", "broker")];

struct Metric {
    group: String,
    label: String,
    median: f64,
    min: f64,
    max: f64,
    unit: String,
}

struct Target {
    group: String,
    name: String,
    value: String,
    limit: String,
    verdict: String,
}

fn parse_rows(text: &str, metrics: &mut Vec<Metric>, targets: &mut Vec<Target>) -> Result<()> {
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["metric", group, label, median, min, max, unit] => metrics.push(Metric {
                group: group.to_string(),
                label: label.to_string(),
                median: median.parse().with_context(|| format!("bad number in {line:?}"))?,
                min: min.parse().with_context(|| format!("bad number in {line:?}"))?,
                max: max.parse().with_context(|| format!("bad number in {line:?}"))?,
                unit: unit.to_string(),
            }),
            ["target", group, name, value, limit, verdict] => targets.push(Target {
                group: group.to_string(),
                name: name.to_string(),
                value: value.to_string(),
                limit: limit.to_string(),
                verdict: verdict.to_string(),
            }),
            _ => bail!("a benchmark wrote a malformed row: {line:?}"),
        }
    }
    Ok(())
}

pub(crate) fn run(root: &Path, quick: bool, report_only: bool) -> Result<()> {
    let started = Instant::now();
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out).context("creating target/bench")?;
    let mut sections = Vec::new();
    let mut metrics = Vec::new();
    let mut targets = Vec::new();
    for (package, target) in BENCHES {
        if !report_only {
            for suffix in ["md", "rows.tsv"] {
                let _ = std::fs::remove_file(out.join(format!("{target}.{suffix}")));
            }
            let mut cmd = cargo();
            cmd.args(["bench", "--locked", "-p", package, "--bench", target, "--"])
                .env("KZERO_BENCH_DIR", &out);
            if quick {
                cmd.arg("--quick");
            }
            run_cmd(&mut cmd)?;
        }
        let read = |suffix: &str| {
            std::fs::read_to_string(out.join(format!("{target}.{suffix}")))
                .with_context(|| format!("the {target} benchmark wrote no {target}.{suffix}"))
        };
        sections.push(read("md")?);
        parse_rows(&read("rows.tsv")?, &mut metrics, &mut targets)?;
    }

    let charts = draw_charts(&out, &metrics)?;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut report = String::new();
    report += "# kzero benchmark report\n\n";
    report += &format!(
        "Mode: {}. Load average at the end: {}. Every comparison is measured in the same run on the same machine: \
read the ratios, not the absolute figures (the machines are small and noisy). Figures are medians of several \
runs with min–max; a quick run has fewer, smaller runs and is a smoke test, not a measurement.\n\n",
        if quick { "quick" } else { "full" },
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    report += "## Targets\n\n| area | target | value | limit | verdict |\n|---|---|---|---|---|\n";
    for t in &targets {
        report += &format!(
            "| {} | {} | {} | {} | {} |\n",
            t.group, t.name, t.value, t.limit, t.verdict
        );
    }
    report += "\n## Measurements\n\n| area | measurement | median | min–max | unit |\n|---|---|---|---|---|\n";
    for m in &metrics {
        report += &format!(
            "| {} | {} | {:.3} | {:.3}–{:.3} | {} |\n",
            m.group, m.label, m.median, m.min, m.max, m.unit
        );
    }
    report += "\n## Charts\n\n";
    for c in &charts {
        report += &format!(
            "![{}]({})\n\n",
            c.display(),
            c.file_name().unwrap_or_default().to_string_lossy()
        );
    }
    report += "\n# Details by benchmark\n\n";
    report += &sections.join("\n");
    std::fs::write(out.join("report.md"), report).context("writing target/bench/report.md")?;
    let failed = targets.iter().filter(|t| t.verdict == "FAIL").count();
    println!(
        "\nwrote {} ({} targets, {failed} failing) in {:.0}s",
        out.join("report.md").display(),
        targets.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn font() -> Result<()> {
    const CANDIDATES: &[&str] = &[
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
    ];
    let path = CANDIDATES
        .iter()
        .find(|p| Path::new(p).exists())
        .context("charts need DejaVuSans.ttf (Debian: apt-get install fonts-dejavu-core)")?;
    let bytes: &'static [u8] = Box::leak(std::fs::read(path)?.into_boxed_slice());
    plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, bytes)
        .map_err(|_| anyhow::anyhow!("{path} is not a usable font"))?;
    Ok(())
}

/// One horizontal bar chart per group of metrics (same unit), with min–max whiskers.
fn draw_charts(out: &Path, metrics: &[Metric]) -> Result<Vec<PathBuf>> {
    use plotters::prelude::*;
    font()?;
    let mut groups: Vec<&str> = Vec::new();
    for m in metrics {
        if !groups.contains(&m.group.as_str()) {
            groups.push(&m.group);
        }
    }
    let mut files = Vec::new();
    for group in groups {
        let rows: Vec<&Metric> = metrics.iter().filter(|m| m.group == group).collect();
        let unit = rows[0].unit.clone();
        let path = out.join(format!("{}.png", group.replace(' ', "-")));
        let height = 90 + 44 * rows.len() as u32;
        let root = BitMapBackend::new(&path, (900, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
        let top = rows.iter().map(|m| m.max.max(m.median)).fold(0.0f64, f64::max) * 1.15 + 1e-9;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{group} ({unit}, median with min–max)"), ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(300)
            .build_cartesian_2d(0.0..top, (0..rows.len()).into_segmented())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(rows.len())
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => rows.get(*i).map_or(String::new(), |m| m.label.clone()),
                _ => String::new(),
            })
            .y_label_style(("sans-serif", 14))
            .x_label_style(("sans-serif", 13))
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let palette = [
            RGBColor(52, 101, 164),
            RGBColor(204, 102, 0),
            RGBColor(78, 154, 6),
            RGBColor(117, 80, 123),
        ];
        chart
            .draw_series(rows.iter().enumerate().map(|(i, m)| {
                let color = palette[i % palette.len()];
                let mut bar = Rectangle::new(
                    [(0.0, SegmentValue::Exact(i)), (m.median, SegmentValue::Exact(i + 1))],
                    color.mix(0.8).filled(),
                );
                bar.set_margin(7, 7, 0, 0);
                bar
            }))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .draw_series(rows.iter().enumerate().map(|(i, m)| {
                PathElement::new(
                    vec![(m.min, SegmentValue::CenterOf(i)), (m.max, SegmentValue::CenterOf(i))],
                    BLACK.stroke_width(2),
                )
            }))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .draw_series(rows.iter().enumerate().map(|(i, m)| {
                Text::new(
                    format!("  {:.2}", m.median),
                    (m.max.max(m.median), SegmentValue::CenterOf(i)),
                    ("sans-serif", 14).into_font(),
                )
            }))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
        drop(chart);
        drop(root);
        files.push(path);
    }
    Ok(files)
}
