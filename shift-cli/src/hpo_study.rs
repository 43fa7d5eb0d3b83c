//! `deepshift hpo run|create|resume|worker`: studies of any program as the objective, stored
//! in SQLite or PostgreSQL (see `shift_automl::study`), run by one or many workers.
//!
//! `run` creates the study and works on it until it is complete; `create` only creates it
//! (for a cluster whose workers all join with `worker`); `resume` and `worker` join an
//! existing study: after a crash, or from another process or machine. All of them return when
//! the study's limits are reached and no trial is running anywhere.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use shift_automl::storage::{self, NewStudy, Provenance, StorageError, StorageUrl, StudySettings};
use shift_automl::study::command::CommandObjective;
use shift_automl::study::{default_method, method_names, StudyError, Worker};

use crate::hpo_progress::Progress;
use crate::hpo_report::DEFAULT_STORAGE;

pub mod dsnn;

/// The program name recorded in provenance.
pub fn program() -> String {
    format!("deepshift {}", env!("CARGO_PKG_VERSION"))
}

/// `deepshift hpo run` and `create` flags.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The study's name (unique within the storage).
    #[arg(long, value_name = "NAME")]
    pub study: String,
    /// The search space, a ConfigSpace JSON file (required unless --dataset, which ships
    /// one).
    #[arg(long, value_name = "FILE", required_unless_present = "dataset")]
    pub space: Option<PathBuf>,
    /// Shell command that evaluates one trial: it reads a JSON object on standard input (and
    /// in $DEEPSHIFT_TRIAL) and prints a JSON object of objective values as its last line
    /// (required unless --dataset, whose objective is built in).
    #[arg(long, value_name = "CMD", required_unless_present = "dataset")]
    pub objective_cmd: Option<String>,
    /// Objective names (all minimised), as the command reports them: `loss,energy_kwh`
    /// (required unless --dataset, whose default this is).
    #[arg(
        long,
        value_name = "A,B,...",
        value_delimiter = ',',
        required_unless_present = "dataset"
    )]
    pub objectives: Vec<String>,
    /// Search method (see `deepshift hpo methods`); default: gp, or mf-gp when budgets are
    /// given (hb-gp with --dataset).
    #[arg(long, value_name = "M")]
    pub method: Option<String>,
    /// Stop after this many trials (failed ones count).
    #[arg(long, value_name = "N")]
    pub n_trials: Option<u64>,
    /// Stop starting trials once trials have run this long (wall time): 90s, 30m, 2h, 1h30m.
    #[arg(long, value_name = "T")]
    pub time_budget: Option<String>,
    /// Smallest budget (multi-fidelity); needs --max-budget.
    #[arg(long, value_name = "B", requires = "max_budget")]
    pub min_budget: Option<f64>,
    /// Largest budget; without --min-budget every trial runs at it. Default 1.
    #[arg(long, value_name = "B")]
    pub max_budget: Option<f64>,
    /// Seed of the method (also passed to every trial).
    #[arg(long, default_value_t = 0, value_name = "S")]
    pub seed: u64,
    /// Where the study is stored: `sqlite:///path/study.db`, a plain path, or
    /// `postgresql://user@host:port/db`.
    #[arg(long, value_name = "URL", default_value = DEFAULT_STORAGE)]
    pub storage: String,
    /// Kill a trial's command and fail the trial after this long: 90s, 30m, 2h.
    #[arg(long, value_name = "T")]
    pub trial_timeout: Option<String>,
    /// Objective values a failed trial counts as for the method (`1,1` as AutoDSNN); default:
    /// failures are left out of its models.
    #[arg(
        long,
        value_name = "V1,V2,...",
        value_delimiter = ',',
        allow_hyphen_values = true
    )]
    pub crash_cost: Option<Vec<f64>>,
    /// Runs of one trial at most when its workers die (1 = no retry).
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub max_attempts: u32,
    /// Interval of a running trial's heartbeats.
    #[arg(long, default_value = "10s", value_name = "T")]
    pub heartbeat: String,
    /// A trial whose worker sent no heartbeat for this long is handed to another worker.
    #[arg(long, default_value = "60s", value_name = "T")]
    pub grace: String,
    #[command(flatten)]
    pub join: JoinOptions,
    #[command(flatten)]
    pub dsnn: dsnn::DsnnRunArgs,
}

/// Flags of every command that works on trials.
#[derive(Debug, Clone, Args)]
pub struct JoinOptions {
    /// Folder of the trials' workdirs (`DIR/<trial number>/`). Default: `<study>-trials/`
    /// beside the SQLite file, or in the current folder for PostgreSQL.
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Plain log lines instead of progress bars, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

/// `deepshift hpo resume` and `worker` flags.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// The study's name.
    #[arg(long, value_name = "NAME")]
    pub study: String,
    /// Where the study is stored.
    #[arg(long, value_name = "URL", default_value = DEFAULT_STORAGE)]
    pub storage: String,
    /// Run trials with this command instead of the stored one (same protocol; for a machine
    /// where the program lives elsewhere).
    #[arg(long, value_name = "CMD")]
    pub objective_cmd: Option<String>,
    #[command(flatten)]
    pub join: JoinOptions,
}

/// Parses `90s`, `30m`, `2h`, `1h30m`, `1.5h` or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let t = text.trim();
    let bad = || anyhow::anyhow!("'{text}' is not a duration (expected e.g. 90s, 30m, 2h, 1h30m)");
    if let Ok(s) = t.parse::<f64>() {
        return if s.is_finite() && s > 0.0 {
            Ok(Duration::from_secs_f64(s))
        } else {
            Err(bad())
        };
    }
    let (mut total, mut num) = (0.0, String::new());
    for c in t.chars() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let unit = match c {
            's' => 1.0,
            'm' => 60.0,
            'h' => 3600.0,
            'd' => 86400.0,
            _ => return Err(bad()),
        };
        let v: f64 = num.parse().map_err(|_| bad())?;
        total += v * unit;
        num.clear();
    }
    if !(num.is_empty() && total > 0.0 && total.is_finite()) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(total))
}

/// Opens a storage that must already hold studies: a SQLite path that does not exist is an
/// error here rather than a new empty database.
pub fn open_existing(url: &str) -> Result<Box<dyn storage::Storage>> {
    if let Ok(StorageUrl::Sqlite(path)) = StorageUrl::parse(url) {
        if !path.exists() {
            bail!(
                "storage {url}: {} does not exist (no study has been stored there)",
                path.display()
            );
        }
    }
    storage::open(url).with_context(|| format!("opening storage {url}"))
}

/// The study's budgets: the flags', else the DSNN default with --dataset, else 1.
fn budgets(args: &RunArgs) -> Result<(f64, f64)> {
    Ok(match (args.min_budget, args.max_budget) {
        (Some(lo), Some(hi)) => (lo, hi),
        (None, Some(hi)) => (hi, hi),
        (None, None) if args.dsnn.dataset.is_some() => dsnn::DEFAULT_BUDGETS,
        (None, None) => (1.0, 1.0),
        (Some(_), None) => bail!("--min-budget needs --max-budget"),
    })
}

fn settings(args: &RunArgs, plan: Option<&dsnn::DsnnPlan>) -> Result<StudySettings> {
    let (min, max) = budgets(args)?;
    if args.n_trials.is_none() && args.time_budget.is_none() {
        bail!("give --n-trials N or --time-budget T (or both): a study needs a limit");
    }
    let secs = |flag: &str, v: &str| -> Result<f64> {
        Ok(parse_duration(v)
            .with_context(|| flag.to_string())?
            .as_secs_f64())
    };
    let objectives: Vec<String> = if args.objectives.is_empty() {
        dsnn::DEFAULT_OBJECTIVES.map(String::from).to_vec()
    } else {
        args.objectives
            .iter()
            .map(|s| s.trim().to_string())
            .collect()
    };
    let objective_cmd = match (plan, &args.objective_cmd) {
        (Some(p), _) => p.objective_cmd.clone(),
        (None, Some(c)) => c.clone(),
        (None, None) => bail!("give --objective-cmd CMD (or --dataset for the DSNN objective)"),
    };
    Ok(StudySettings {
        objectives,
        min_budget: min,
        max_budget: max,
        seed: args.seed,
        n_trials: args.n_trials,
        time_budget_s: args
            .time_budget
            .as_deref()
            .map(|t| secs("--time-budget", t))
            .transpose()?,
        crash_cost: args.crash_cost.clone(),
        max_attempts: args.max_attempts,
        heartbeat_s: secs("--heartbeat", &args.heartbeat)?,
        grace_s: secs("--grace", &args.grace)?,
        objective_cmd: Some(objective_cmd),
        trial_timeout_s: args
            .trial_timeout
            .as_deref()
            .map(|t| secs("--trial-timeout", t))
            .transpose()?,
        references: plan.map(|p| p.references.clone()).unwrap_or_default(),
        attributes: plan.map(|p| p.attributes()).unwrap_or_default(),
    })
}

/// Creates the study; returns its worker.
fn create(args: &RunArgs) -> Result<Worker> {
    let plan = match args.dsnn.dataset {
        Some(dataset) => {
            let runs = default_workdir(&args.storage, &args.study)
                .with_file_name(format!("{}-runs", args.study));
            Some(dsnn::DsnnPlan::new(
                &args.dsnn,
                dataset,
                args.space.as_deref(),
                args.objective_cmd.as_deref(),
                &runs,
                budgets(args)?.1,
            )?)
        }
        None => None,
    };
    let settings = settings(args, plan.as_ref())?;
    let space = match (&plan, &args.space) {
        (Some(p), _) => p.space.clone(),
        (None, Some(f)) => crate::hpo::read_space(f)?,
        (None, None) => bail!("give --space FILE (or --dataset for a shipped DSNN space)"),
    };
    let method = args.method.clone().unwrap_or_else(|| {
        if plan.is_some() && settings.is_multi_fidelity() {
            dsnn::DEFAULT_METHOD.to_string()
        } else {
            default_method(settings.min_budget, settings.max_budget).to_string()
        }
    });
    let study = NewStudy {
        name: args.study.clone(),
        space_json: space.to_json(),
        method,
        settings,
        provenance: Provenance::current(&program()),
    };
    let storage = storage::open(&args.storage)
        .with_context(|| format!("opening storage {}", args.storage))?;
    let w = match Worker::create(storage, &study, &program()) {
        Ok(w) => w,
        Err(StudyError::Storage(e @ StorageError::StudyExists { .. })) => bail!(
            "{e}: continue it with `deepshift hpo resume --study {} --storage {}`, or choose another name",
            args.study,
            args.storage
        ),
        Err(e) => {
            return Err(e)
                .with_context(|| format!("creating study '{}' in {}", args.study, args.storage))
        }
    };
    eprintln!(
        "created study '{}' in {}: method {}, objectives {}, budgets {}..{}",
        args.study,
        args.storage,
        w.method(),
        w.settings().objectives.join(","),
        w.settings().min_budget,
        w.settings().max_budget
    );
    Ok(w)
}

/// The default folder of a study's trial workdirs.
fn default_workdir(url: &str, study: &str) -> PathBuf {
    let name = format!("{study}-trials");
    match StorageUrl::parse(url) {
        Ok(StorageUrl::Sqlite(p)) => p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .join(name),
        _ => PathBuf::from(name),
    }
}

/// Works on the study until it is complete.
fn work(mut w: Worker, join: &JoinOptions, cmd_override: Option<&str>) -> Result<()> {
    let s = w.settings().clone();
    let Some(command) = cmd_override.map(str::to_string).or(s.objective_cmd.clone()) else {
        bail!(
            "study '{}' has no objective command: give --objective-cmd",
            w.study()
        );
    };
    let root = match &join.workdir {
        Some(d) => d.clone(),
        None => default_workdir(w.url(), w.study()),
    };
    std::fs::create_dir_all(&root)
        .with_context(|| format!("creating the trials' folder {}", root.display()))?;
    let root = root.canonicalize().unwrap_or(root);
    let mut objective = CommandObjective {
        command,
        objectives: s.objectives.clone(),
        timeout: s.trial_timeout_s.map(Duration::from_secs_f64),
        workdir_root: root,
        study: w.study().to_string(),
    };
    let record = w.load()?;
    let mut progress = Progress::new(&record, join.no_progress);
    let (study, url) = (w.study().to_string(), w.url().to_string());
    w.run(&mut objective, &mut |e| progress.event(e))
        .with_context(|| format!("study '{study}' in {url}"))?;
    let record = w.load()?;
    progress.finish(&record);
    Ok(())
}

/// `deepshift hpo run`.
pub fn run(args: &RunArgs) -> Result<()> {
    let w = create(args)?;
    work(w, &args.join, None)
}

/// `deepshift hpo create`.
pub fn create_only(args: &RunArgs) -> Result<()> {
    create(args).map(drop)
}

/// `deepshift hpo resume` and `deepshift hpo worker`.
pub fn join(args: &WorkerArgs, resume: bool) -> Result<()> {
    let storage = open_existing(&args.storage)?;
    let mut w = Worker::open(storage, &args.study, &program())
        .with_context(|| format!("opening study '{}' in {}", args.study, args.storage))?;
    let rec = w.load()?;
    eprintln!(
        "{} study '{}' in {} as worker {}: {} trials so far, method {}",
        if resume { "resuming" } else { "joining" },
        args.study,
        args.storage,
        w.id(),
        rec.trials.len(),
        w.method()
    );
    if resume {
        // rebuild the method from the whole history now, so a diverged replay is reported
        // before any trial runs
        w.sync()
            .with_context(|| format!("replaying study '{}'", args.study))?;
    }
    work(w, &args.join, args.objective_cmd.as_deref())
}

/// `deepshift hpo methods`: the method names with what each does.
pub fn list_methods() -> Result<()> {
    for (name, what) in method_names() {
        println!("{name:12} {what}");
    }
    println!(
        "default: {} (one budget), {} (with --min-budget/--max-budget)",
        default_method(1.0, 1.0),
        default_method(1.0, 2.0)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let s = |t: &str| parse_duration(t).unwrap().as_secs_f64();
        assert_eq!(s("90s"), 90.0);
        assert_eq!(s("30m"), 1800.0);
        assert_eq!(s("1h30m"), 5400.0);
        assert_eq!(s("1.5h"), 5400.0);
        assert_eq!(s("2.5"), 2.5);
        for bad in ["", "m", "10x", "-5", "0", "5m3"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
