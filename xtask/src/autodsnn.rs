//! The AutoDSNN section of `cargo xtask reproduce`: a DSNN search on MNIST conv with
//! `deepshift hpo run --dataset mnist --arch conv` (8 minutes of trials, budgets 1-3 epochs
//! with `--quick`; 30 minutes, budgets 1-9 without), its report in `reports/autodsnn[-quick]/`,
//! and a summary (front, hypervolume, the reference DSNNs' positions) for `reproduce.md`.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

/// How the section's search runs.
pub struct Plan {
    /// The study's name and the report folder's.
    pub name: &'static str,
    /// `--time-budget`.
    pub time_budget: &'static str,
    /// `--max-budget` (the smallest is 1).
    pub max_budget: u32,
}

/// The plan for `--quick` or the full run.
pub fn plan(quick: bool) -> Plan {
    if quick {
        Plan {
            name: "autodsnn-quick",
            time_budget: "8m",
            max_budget: 3,
        }
    } else {
        Plan {
            name: "autodsnn",
            time_budget: "30m",
            max_budget: 9,
        }
    }
}

fn run(deepshift: &Path, args: &[String]) -> Result<String> {
    eprintln!("deepshift {}", args.join(" "));
    let out = Command::new(deepshift)
        .args(args)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", deepshift.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    print!("{stdout}");
    if !out.status.success() {
        bail!("deepshift {} failed ({})", args.join(" "), out.status);
    }
    Ok(stdout)
}

/// Runs the search afresh (a previous run's study and design runs are removed first, so
/// nothing is reused), writes its report into `reports_dir/<name>/` and returns the markdown
/// section for `reproduce.md`.
pub fn reproduce(
    deepshift: &Path,
    plan: &Plan,
    work_dir: &Path,
    data_dir: &Path,
    reports_dir: &Path,
) -> Result<String> {
    std::fs::create_dir_all(work_dir)?;
    let db = work_dir.join(format!("{}.db", plan.name));
    for stale in [
        db.clone(),
        work_dir.join(format!("{}-trials", plan.name)),
        work_dir.join(format!("{}-runs", plan.name)),
    ] {
        if stale.is_dir() {
            std::fs::remove_dir_all(&stale)
        } else if stale.exists() {
            std::fs::remove_file(&stale)
        } else {
            Ok(())
        }
        .with_context(|| format!("removing the previous run's {}", stale.display()))?;
    }
    let storage = format!("sqlite://{}", db.display());
    let s = |x: &str| x.to_string();
    let search = vec![
        s("hpo"),
        s("run"),
        s("--study"),
        s(plan.name),
        s("--dataset"),
        s("mnist"),
        s("--arch"),
        s("conv"),
        s("--data-dir"),
        data_dir.display().to_string(),
        s("--min-budget"),
        s("1"),
        s("--max-budget"),
        plan.max_budget.to_string(),
        s("--time-budget"),
        s(plan.time_budget),
        s("--seed"),
        s("1"),
        s("--storage"),
        storage.clone(),
        s("--no-progress"),
    ];
    run(deepshift, &search)?;
    let out_dir = reports_dir.join(plan.name);
    let stdout = run(
        deepshift,
        &[
            s("hpo"),
            s("report"),
            s("--study"),
            s(plan.name),
            s("--storage"),
            storage,
            s("--out"),
            out_dir.display().to_string(),
        ],
    )?;
    let summary_line = stdout
        .lines()
        .find(|l| l.contains("hypervolume"))
        .unwrap_or("")
        .to_string();
    let dsnn = std::fs::read_to_string(out_dir.join("dsnn.md"))
        .with_context(|| format!("reading {}", out_dir.join("dsnn.md").display()))?;
    let body: String = dsnn
        .lines()
        .skip_while(|l| l.starts_with("# ") || l.is_empty())
        .map(|l| match l.strip_prefix("## ") {
            Some(h) => format!("### {h}\n"),
            None => format!("{l}\n"),
        })
        .collect();
    Ok(format!(
        "## AutoDSNN: a DSNN search on MNIST conv\n\n\
         `deepshift {}`, then `deepshift hpo report` into `{}` (front plots, hypervolume over \
         trials, importance, `dsnn.md`). {summary_line}.\n\n{body}\n",
        search.join(" "),
        out_dir.display(),
    ))
}
