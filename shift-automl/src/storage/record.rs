//! What a stored study is made of: the types every backend reads and writes, and that
//! status, export and reports consume.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::pareto::nondominated_front;
use crate::{ConfigSpace, SpaceError};

/// Where a trial stands in storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrialState {
    /// Asked, waiting for a worker (a retry after its first worker died).
    Waiting,
    /// A worker runs it and sends heartbeats.
    Running,
    /// Finished with objectives.
    Done,
    /// Finished without: the objective failed, or its workers died too often.
    Failed,
}

impl TrialState {
    /// All states, in lifecycle order.
    pub const ALL: [TrialState; 4] = [
        TrialState::Waiting,
        TrialState::Running,
        TrialState::Done,
        TrialState::Failed,
    ];

    /// The stored (and displayed) name: `waiting`, `running`, `done`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            TrialState::Waiting => "waiting",
            TrialState::Running => "running",
            TrialState::Done => "done",
            TrialState::Failed => "failed",
        }
    }

    /// Parses [`TrialState::as_str`]'s names.
    pub fn parse(s: &str) -> Option<TrialState> {
        TrialState::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Whether the trial is over (done or failed).
    pub fn is_finished(self) -> bool {
        matches!(self, TrialState::Done | TrialState::Failed)
    }
}

impl std::fmt::Display for TrialState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fixed settings of a study, chosen when it is created (stored as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudySettings {
    /// Objective names, all minimised, in the order of [`StoredTrial::objectives`].
    pub objectives: Vec<String>,
    /// Smallest budget (equal to `max_budget` for a single-fidelity study).
    pub min_budget: f64,
    /// Largest budget, the fidelity results are judged at.
    pub max_budget: f64,
    /// Seed of the method, and the seed every trial is given.
    pub seed: u64,
    /// Stop asking new trials after this many (failed ones included); `None`: no limit.
    pub n_trials: Option<u64>,
    /// Stop asking new trials once the study has run trials for this long (seconds of wall
    /// time during which at least one trial was running); `None`: no limit.
    pub time_budget_s: Option<f64>,
    /// Objective values a failed trial counts as for the method; `None` leaves failures out.
    pub crash_cost: Option<Vec<f64>>,
    /// Runs of one trial at most: a trial whose worker stops sending heartbeats is handed to
    /// another worker until it has been started this many times, then it is failed.
    pub max_attempts: u32,
    /// Seconds between a running trial's heartbeats.
    pub heartbeat_s: f64,
    /// Seconds without a heartbeat after which a running trial's worker counts as dead.
    pub grace_s: f64,
    /// Shell command that evaluates a trial (see `crate::study::command`), if the study has one.
    pub objective_cmd: Option<String>,
    /// Seconds after which a trial's command is killed and the trial failed.
    pub trial_timeout_s: Option<f64>,
    /// Configurations evaluated first, before the method's own (Optuna's `enqueue_trial`): the
    /// baselines a report compares the search with. They take trial numbers 0, 1, ... in
    /// this order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<ReferenceTrial>,
    /// Free-form facts about the study for the programs that read it (Optuna's user
    /// attributes): which data set and model an objective command trains, say.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub attributes: Map<String, Json>,
}

/// A configuration a study evaluates before its method's: see [`StudySettings::references`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceTrial {
    /// What it is, for reports: `default (SGD)`.
    pub label: String,
    /// The configuration, a flat JSON object as trials store it.
    pub config: Json,
    /// The budget to evaluate it at (normally the study's largest).
    pub budget: f64,
}

impl StudySettings {
    /// Whether budgets below the largest are used.
    pub fn is_multi_fidelity(&self) -> bool {
        self.min_budget < self.max_budget
    }
}

/// Which process did something: machine, process, program versions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Provenance {
    /// The machine's host name.
    pub host: String,
    /// Process id on that machine.
    pub pid: u32,
    /// Name of the program and its version (`deepshift 0.1.0`, say).
    pub program: String,
    /// Version of shift-automl that ran the method.
    pub automl_version: String,
    /// Operating system and architecture (`linux x86_64`).
    pub platform: String,
    /// The kernel's boot id (Linux), which tells two machines with the same host name apart
    /// (containers) before a process id is compared; empty where unknown.
    #[serde(default)]
    pub boot_id: String,
}

impl Provenance {
    /// This process, run by `program`.
    pub fn current(program: &str) -> Self {
        Provenance {
            host: host_name(),
            pid: std::process::id(),
            program: program.to_string(),
            automl_version: env!("CARGO_PKG_VERSION").to_string(),
            platform: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            boot_id: std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
        }
    }

    /// Whether `other` ran on this very machine (same host name and boot), so that its
    /// process id means something here.
    pub fn same_machine(&self, other: &Provenance) -> bool {
        self.host == other.host && !self.boot_id.is_empty() && self.boot_id == other.boot_id
    }
}

/// The machine's host name (`unknown` when it cannot be read).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// An earlier run of a trial whose worker stopped sending heartbeats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LostAttempt {
    /// The worker that ran it.
    pub worker: String,
    /// When it started (unix seconds).
    pub started_at: f64,
    /// Its last heartbeat (unix seconds).
    pub last_heartbeat: f64,
    /// Why it was given up.
    pub reason: String,
}

/// One trial as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredTrial {
    /// Its number in the study: 0, 1, 2, ... in ask order (the search's trial id).
    pub number: u64,
    /// Where it stands.
    pub state: TrialState,
    /// The configuration: a flat JSON object, hyperparameter name to value (inactive ones
    /// absent), as `Configuration::to_json` writes it.
    pub config: Json,
    /// The budget it runs at.
    pub budget: f64,
    /// The lower-budget trial of the same configuration it continues (a promotion).
    pub parent: Option<u64>,
    /// The seed it is given.
    pub seed: u64,
    /// Objective values in [`StudySettings::objectives`]' order, when done.
    pub objectives: Option<Vec<f64>>,
    /// Further values the objective reported (a JSON object; empty when none).
    pub metadata: Json,
    /// Why it failed.
    pub error: Option<String>,
    /// How many times it was started (1 for a trial that never lost its worker).
    pub attempt: u32,
    /// The worker running or last running it.
    pub worker: Option<String>,
    /// When it was asked (unix seconds).
    pub asked_at: f64,
    /// When its current (or last) run started.
    pub started_at: Option<f64>,
    /// When it finished.
    pub finished_at: Option<f64>,
    /// Its worker's last heartbeat.
    pub heartbeat_at: Option<f64>,
    /// The process of its current (or last) run.
    pub provenance: Option<Provenance>,
    /// Runs given up because their worker died.
    pub lost_attempts: Vec<LostAttempt>,
}

impl StoredTrial {
    /// Seconds its last run took (or has taken until its last heartbeat).
    pub fn duration_s(&self) -> Option<f64> {
        let end = self.finished_at.or(self.heartbeat_at)?;
        Some((end - self.started_at?).max(0.0))
    }

    /// The configuration's values as a JSON map.
    pub fn config_map(&self) -> Map<String, Json> {
        self.config.as_object().cloned().unwrap_or_default()
    }
}

/// What [`crate::storage::Storage::create_study`] needs.
#[derive(Debug, Clone, PartialEq)]
pub struct NewStudy {
    /// Unique name within the storage.
    pub name: String,
    /// The space, in ConfigSpace JSON.
    pub space_json: String,
    /// The method's name (`crate::study::method` lists them).
    pub method: String,
    /// Its settings.
    pub settings: StudySettings,
    /// The process that created it.
    pub provenance: Provenance,
}

/// A study as stored, with all its trials: what status, export and reports read.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyRecord {
    /// Its name.
    pub name: String,
    /// [`crate::storage::SCHEMA_VERSION`] of the storage it came from.
    pub schema_version: u32,
    /// The space, in ConfigSpace JSON ([`StudyRecord::space`] parses it).
    pub space_json: String,
    /// The method's name.
    pub method: String,
    /// Its settings (objective names, budgets, seed, limits).
    pub settings: StudySettings,
    /// When it was created (unix seconds).
    pub created_at: f64,
    /// The process that created it.
    pub provenance: Provenance,
    /// Every trial, in number order.
    pub trials: Vec<StoredTrial>,
}

impl StudyRecord {
    /// The parsed space.
    pub fn space(&self) -> Result<ConfigSpace, SpaceError> {
        ConfigSpace::from_json(&self.space_json)
    }

    /// Number of trials in a state.
    pub fn count(&self, state: TrialState) -> usize {
        self.trials.iter().filter(|t| t.state == state).count()
    }

    /// Sum of the budgets of finished trials (the cost of a study whose evaluations cost
    /// their budget).
    pub fn budget_used(&self) -> f64 {
        self.trials
            .iter()
            .filter(|t| t.state.is_finished())
            .map(|t| t.budget)
            .sum()
    }

    /// Seconds of wall time during which at least one trial was running: the union of the
    /// trials' run intervals (lost runs included), the measure `time_budget_s` limits.
    pub fn time_used_s(&self, now: f64) -> f64 {
        time_used_s(&self.trials, now)
    }

    /// The best trials so far: the non-dominated ones among done trials at the highest budget
    /// any done trial reached, in number order.
    pub fn front(&self) -> Vec<&StoredTrial> {
        let done: Vec<&StoredTrial> = self
            .trials
            .iter()
            .filter(|t| t.state == TrialState::Done && t.objectives.is_some())
            .collect();
        let Some(top) = done.iter().map(|t| t.budget).max_by(f64::total_cmp) else {
            return Vec::new();
        };
        let at_top: Vec<&StoredTrial> = done.into_iter().filter(|t| t.budget == top).collect();
        let points: Vec<Vec<f64>> = at_top
            .iter()
            .map(|t| t.objectives.clone().unwrap_or_default())
            .collect();
        let mut first = nondominated_front(&points);
        first.sort_unstable();
        first.into_iter().map(|i| at_top[i]).collect()
    }
}

/// Marks `t` as started by `worker` at `now` (state running, a new attempt).
pub(crate) fn start_run(t: &mut StoredTrial, worker: &str, provenance: &Provenance, now: f64) {
    if t.started_at.is_some() {
        t.attempt += 1;
    }
    t.state = TrialState::Running;
    t.worker = Some(worker.to_string());
    t.provenance = Some(provenance.clone());
    t.started_at = Some(now);
    t.heartbeat_at = Some(now);
    t.finished_at = None;
}

/// [`StudyRecord::time_used_s`] of these trials.
pub fn time_used_s(trials: &[StoredTrial], now: f64) -> f64 {
    let mut spans: Vec<(f64, f64)> = Vec::new();
    for t in trials {
        for a in &t.lost_attempts {
            spans.push((a.started_at, a.last_heartbeat.max(a.started_at)));
        }
        if let Some(s) = t.started_at {
            let end = match t.state {
                TrialState::Running => now,
                _ => t.finished_at.or(t.heartbeat_at).unwrap_or(s),
            };
            spans.push((s, end.max(s)));
        }
    }
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut total, mut cur): (f64, Option<(f64, f64)>) = (0.0, None);
    for (s, e) in spans {
        cur = match cur {
            Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                total += ce - cs;
                Some((s, e))
            }
            None => Some((s, e)),
        };
    }
    total + cur.map_or(0.0, |(s, e)| e - s)
}
