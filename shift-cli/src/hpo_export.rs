//! `deepshift hpo status|export --study NAME [--storage URL]`: read a stored study.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Value as Json};
use shift_automl::storage::{unix_now, StudyRecord, TrialState};

use crate::hpo_report::DEFAULT_STORAGE;
use crate::hpo_study::open_existing;

/// `deepshift hpo status` flags.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// The study's name.
    #[arg(long, value_name = "NAME")]
    pub study: String,
    /// Where the study is stored.
    #[arg(long, value_name = "URL", default_value = DEFAULT_STORAGE)]
    pub storage: String,
    /// Print the status again every this many seconds until the study is complete.
    #[arg(long, value_name = "SECONDS")]
    pub watch: Option<f64>,
}

/// `deepshift hpo export` flags.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// The study's name.
    #[arg(long, value_name = "NAME")]
    pub study: String,
    /// Where the study is stored.
    #[arg(long, value_name = "URL", default_value = DEFAULT_STORAGE)]
    pub storage: String,
    /// `csv` (one row per trial: number, state, budget, each hyperparameter, each objective)
    /// or `json` (a list of objects with number, state, budget, config, objectives, error,
    /// metadata).
    #[arg(long, default_value = "csv", value_name = "FORMAT")]
    pub format: String,
    /// Write to this file (atomically) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

fn hms(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    format!("{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60)
}

/// The status of a study: trials by state, budget and time used, ETA, the best front.
pub fn status_text(r: &StudyRecord, now: f64) -> String {
    let s = &r.settings;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "study '{}': method {}, objectives {}, budgets {}..{}, seed {}",
        r.name,
        r.method,
        s.objectives.join(","),
        s.min_budget,
        s.max_budget,
        s.seed
    );
    let by_state: Vec<String> = TrialState::ALL
        .iter()
        .map(|&st| format!("{st} {}", r.count(st)))
        .collect();
    let limit = s.n_trials.map_or("no limit".to_string(), |n| n.to_string());
    let _ = writeln!(
        out,
        "trials: {} of {limit}: {}",
        r.trials.len(),
        by_state.join(", ")
    );
    let used = r.time_used_s(now);
    let time_limit = s
        .time_budget_s
        .map(|t| format!(" of {}", hms(t)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "budget used: {} (sum of finished trials' budgets); time used: {}{time_limit}",
        r.budget_used(),
        hms(used)
    );
    let finished = r.count(TrialState::Done) + r.count(TrialState::Failed);
    let remaining_by_count = s
        .n_trials
        .map(|n| n.saturating_sub(finished as u64) as f64 * used / finished.max(1) as f64);
    let remaining_by_time = s.time_budget_s.map(|t| (t - used).max(0.0));
    let eta = match (remaining_by_count, remaining_by_time) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let Some(eta) = eta.filter(|&e| finished > 0 && e > 0.0) {
        let _ = writeln!(out, "eta: {} (at the pace so far)", hms(eta));
    }
    let front = r.front();
    if front.is_empty() {
        let _ = writeln!(out, "best front: no finished trial yet");
    } else {
        let _ = writeln!(
            out,
            "best front ({} trials at budget {}):",
            front.len(),
            front[0].budget
        );
        for t in front {
            let vals: Vec<String> = s
                .objectives
                .iter()
                .zip(t.objectives.iter().flatten())
                .map(|(n, v)| format!("{n}={v:.6}"))
                .collect();
            let _ = writeln!(
                out,
                "  trial {:>4}  {}  {}",
                t.number,
                vals.join(" "),
                t.config
            );
        }
    }
    out
}

/// `deepshift hpo status`.
pub fn status(args: &StatusArgs) -> Result<()> {
    let mut storage = open_existing(&args.storage)?;
    loop {
        let r = storage
            .load_study(&args.study)
            .with_context(|| format!("loading study '{}'", args.study))?;
        print!("{}", status_text(&r, unix_now()));
        let busy = r.count(TrialState::Running) + r.count(TrialState::Waiting) > 0;
        let limit_left = r
            .settings
            .n_trials
            .is_none_or(|n| (r.trials.len() as u64) < n);
        match args.watch {
            Some(secs) if secs > 0.0 && (busy || limit_left) => {
                std::thread::sleep(std::time::Duration::from_secs_f64(secs));
                println!();
            }
            _ => return Ok(()),
        }
    }
}

fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn json_cell(v: &Json) -> String {
    match v {
        Json::String(s) => csv_cell(s),
        Json::Null => String::new(),
        other => csv_cell(&other.to_string()),
    }
}

/// A trial's metadata as flat columns: top-level values by their key, the values of a nested
/// object (the DSNN objective's `provenance`) as `key.inner`.
fn flat_metadata(metadata: &Json) -> BTreeMap<String, Json> {
    let mut out = BTreeMap::new();
    if let Json::Object(m) = metadata {
        for (k, v) in m {
            match v {
                Json::Object(inner) => {
                    for (ik, iv) in inner {
                        out.insert(format!("{k}.{ik}"), iv.clone());
                    }
                }
                other => {
                    out.insert(k.clone(), other.clone());
                }
            }
        }
    }
    out
}

/// The CSV export: a header, then one row per trial; inactive hyperparameters and missing
/// objectives are empty cells. After the objectives come the further values trials reported
/// (their metadata: other objectives, and the DSNN objective's provenance such as
/// `provenance.energy_source`), one column per name any trial has.
pub fn export_csv(r: &StudyRecord) -> Result<String> {
    let space = r
        .space()
        .with_context(|| format!("study '{}': stored space", r.name))?;
    let names: Vec<&str> = space.names();
    let metadata: Vec<BTreeMap<String, Json>> = r
        .trials
        .iter()
        .map(|t| flat_metadata(&t.metadata))
        .collect();
    let extra: Vec<String> = metadata
        .iter()
        .flat_map(|m| m.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|k| !r.settings.objectives.contains(k))
        .collect();
    let mut out = String::new();
    let header: Vec<String> = ["number", "state", "budget"]
        .iter()
        .map(|s| s.to_string())
        .chain(names.iter().map(|n| csv_cell(n)))
        .chain(r.settings.objectives.iter().map(|o| csv_cell(o)))
        .chain(extra.iter().map(|k| csv_cell(k)))
        .collect();
    let _ = writeln!(out, "{}", header.join(","));
    for (t, meta) in r.trials.iter().zip(&metadata) {
        let mut row = vec![
            t.number.to_string(),
            t.state.to_string(),
            t.budget.to_string(),
        ];
        row.extend(
            names
                .iter()
                .map(|n| t.config.get(*n).map(json_cell).unwrap_or_default()),
        );
        for i in 0..r.settings.objectives.len() {
            row.push(
                t.objectives
                    .as_ref()
                    .and_then(|v| v.get(i))
                    .map(|x| x.to_string())
                    .unwrap_or_default(),
            );
        }
        row.extend(
            extra
                .iter()
                .map(|k| meta.get(k).map(json_cell).unwrap_or_default()),
        );
        let _ = writeln!(out, "{}", row.join(","));
    }
    Ok(out)
}

/// The JSON export: a list of trial objects.
pub fn export_json(r: &StudyRecord) -> String {
    let trials: Vec<Json> = r
        .trials
        .iter()
        .map(|t| {
            let objectives = t.objectives.as_ref().map(|v| {
                Json::Object(
                    r.settings
                        .objectives
                        .iter()
                        .cloned()
                        .zip(v.iter().map(|x| json!(x)))
                        .collect(),
                )
            });
            json!({
                "number": t.number,
                "state": t.state.as_str(),
                "budget": t.budget,
                "config": t.config,
                "objectives": objectives,
                "error": t.error,
                "metadata": t.metadata,
            })
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&Json::Array(trials)).unwrap_or_default();
    s.push('\n');
    s
}

/// `deepshift hpo export`.
pub fn export(args: &ExportArgs) -> Result<()> {
    let mut storage = open_existing(&args.storage)?;
    let r = storage
        .load_study(&args.study)
        .with_context(|| format!("loading study '{}'", args.study))?;
    let text = match args.format.to_ascii_lowercase().as_str() {
        "csv" => export_csv(&r)?,
        "json" => export_json(&r),
        other => bail!("--format: '{other}' is neither csv nor json"),
    };
    match &args.out {
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(text.as_bytes())?;
            stdout.flush()?;
        }
        Some(path) => {
            let mut f = atomic_write_file::AtomicWriteFile::open(path)
                .with_context(|| format!("writing {}", path.display()))?;
            f.write_all(text.as_bytes())
                .and_then(|_| f.commit())
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting() {
        assert_eq!(csv_cell("a"), "a");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(json_cell(&json!(true)), "true");
        assert_eq!(json_cell(&json!("SGD")), "SGD");
        assert_eq!(json_cell(&json!(0.5)), "0.5");
    }
}
