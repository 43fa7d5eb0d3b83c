//! The report of a finished (or running) study: what `deepshift hpo report` writes.
//!
//! [`Report::build`] analyses a [`ReportInput`] (a study as plain data: its space, objective
//! names and trials) and [`Report::render`] turns the analysis into files held in memory:
//!
//! - `report.md`: the Pareto front (per configuration, its result at the highest budget it
//!   finished at) with its exact hypervolume against a stated reference point, the hypervolume
//!   over trials and over budget spent, the default configuration's position and the
//!   configurations that dominate it (by how much, per objective), and hyperparameter importance
//!   per objective;
//! - with the cargo feature `report` (on by default): the plots `front`, `hv_trials`,
//!   `hv_budget` and `importance` as `.svg` and `.png`, drawn with plotters, and one
//!   self-contained `report.html` with the SVGs inline (no network, no scripts, no web fonts).
//!   Without the feature the library has no plotting dependency and renders `report.md` only.
//!
//! Importance is **permutation importance on a random forest** (the forest of
//! [`crate::sampler::forest`]), cross-validated: the rise of the held-out squared error when a
//! hyperparameter's column is replaced by a random permutation of its values, over twice the
//! objective's variance (1: it alone decides the objective; 0: unused). It needs only the forest's predictions, and measuring it on held-out
//! folds keeps a forest that memorised noise from calling a useless hyperparameter important.
//!
//! The library does no I/O: writing the files (atomically) is the caller's job.

mod analysis;
mod content;
mod document;
#[cfg(feature = "report")]
mod html;
mod importance;
#[cfg(feature = "report")]
mod plots;
mod stored;

use thiserror::Error;

use crate::{ConfigSpace, Configuration};

pub use analysis::{ConfigResult, CurvePoint, DefaultPosition, Domination, ReferenceRule};
pub use importance::{FeatureImportance, Importance, ObjectiveImportance, BUDGET_COLUMN, MIN_ROWS};

/// What became of a trial, as far as the report cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TrialState {
    /// Ran to the end and has all objectives.
    Finished,
    /// Ran (its budget counts as spent) but gave no usable objectives.
    Failed,
    /// Claimed by a worker and not done yet.
    Running,
    /// Asked for but not started.
    Waiting,
}

/// One trial of a study, as plain data.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportTrial {
    /// The trial's number in the study; trials are replayed in this order.
    pub number: u64,
    /// What became of it.
    pub state: TrialState,
    /// The budget (fidelity) it ran at.
    pub budget: f64,
    /// Its configuration.
    pub config: Configuration,
    /// Its objectives (minimised), in [`ReportInput::objectives`]' order; read only when the
    /// trial is [`TrialState::Finished`].
    pub objectives: Vec<f64>,
}

/// A study as the report reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportInput {
    /// The study's name, for the title.
    pub study: String,
    /// The search method and its budgets, as the summary should name them (`hb-gp, budgets 1
    /// to 27`), when known.
    pub method: Option<String>,
    /// The configuration space (its default configuration is located in the results).
    pub space: ConfigSpace,
    /// Names of the objectives, all minimised.
    pub objectives: Vec<String>,
    /// The trials, in any order.
    pub trials: Vec<ReportTrial>,
    /// Labelled baselines to locate among the results (a study's reference trials); when
    /// empty, the report locates the space's default configuration instead.
    pub references: Vec<(String, Configuration)>,
}

/// Settings of [`Report::build`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    /// Hypervolume reference point, one coordinate per objective; `None` takes the default
    /// rule ([`ReferenceRule::MaxPlusTenPercent`]).
    pub reference: Option<Vec<f64>>,
    /// Seed of the importance forests and permutations.
    pub seed: u64,
    /// Trees per importance forest.
    pub trees: usize,
    /// Permutations per hyperparameter and fold.
    pub repeats: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            reference: None,
            seed: 0,
            trees: 50,
            repeats: 10,
        }
    }
}

/// Why a report could not be made.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The study names no objective.
    #[error("study '{0}': no objective names")]
    NoObjectives(String),
    /// No trial has finished, so there is nothing to put on a front.
    #[error("study '{0}': no finished trial yet, nothing to report")]
    NoFinishedTrial(String),
    /// A finished trial has the wrong number of objectives.
    #[error("trial {trial}: {got} objective values, the study has {expected} objectives")]
    ObjectiveCount {
        /// The trial's number.
        trial: u64,
        /// Number of objectives of the study.
        expected: usize,
        /// Number of values the trial has.
        got: usize,
    },
    /// A finished trial has a NaN or infinite objective or budget.
    #[error("trial {trial}: {what} is not a finite number")]
    NotFinite {
        /// The trial's number.
        trial: u64,
        /// Which value.
        what: String,
    },
    /// The stored space does not parse.
    #[error("study '{study}': its space: {problem}")]
    Space {
        /// The study.
        study: String,
        /// The space's error.
        problem: String,
    },
    /// A stored configuration does not fit the space.
    #[error("trial {trial}: {problem}")]
    Configuration {
        /// The trial's number.
        trial: u64,
        /// What is wrong.
        problem: String,
    },
    /// The reference point given does not fit the study.
    #[error("reference point: {0}")]
    Reference(String),
    /// Drawing a plot failed.
    #[error("plot '{plot}': {problem}")]
    Plot {
        /// The plot's file stem.
        plot: String,
        /// What went wrong.
        problem: String,
    },
}

/// The analysis of a study, ready to render.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The study's name.
    pub study: String,
    /// The method, as [`ReportInput::method`] gave it.
    pub method: Option<String>,
    /// Objective names.
    pub objectives: Vec<String>,
    /// Hyperparameter names, in encoding order.
    pub hyperparameters: Vec<String>,
    /// Number of trials in each state: finished, failed, running, waiting.
    pub counts: [usize; 4],
    /// Sum of the budgets of finished and failed trials.
    pub budget_spent: f64,
    /// The hypervolume reference point.
    pub reference: Vec<f64>,
    /// How the reference point was chosen.
    pub reference_rule: ReferenceRule,
    /// Per distinct configuration, its finished result at the highest budget, by trial number.
    pub results: Vec<ConfigResult>,
    /// Indices into `results` of the non-dominated ones, sorted by the first objective.
    pub front: Vec<usize>,
    /// Exact hypervolume of the front against `reference`.
    pub hypervolume: f64,
    /// Hypervolume after each finished or failed trial, in trial order.
    pub curve: Vec<CurvePoint>,
    /// Where the space's default configuration stands.
    pub default: DefaultPosition,
    /// Where each of [`ReportInput::references`] stands, with its label.
    pub references: Vec<(String, DefaultPosition)>,
    /// Hyperparameter importance per objective, or why it was skipped.
    pub importance: Importance,
}

/// One file of a rendered report.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportFile {
    /// File name inside the report folder (`report.md`, `front.svg`, ...).
    pub name: String,
    /// Its content.
    pub bytes: Vec<u8>,
}

impl Report {
    /// Analyses a study. Errors: no objective names, no finished trial, a finished trial with
    /// the wrong number of objectives or a non-finite value, a reference point of the wrong
    /// length or with a non-finite coordinate.
    pub fn build(input: &ReportInput, options: &ReportOptions) -> Result<Report, ReportError> {
        analysis::build(input, options)
    }

    /// The report's files: `report.md` and, with the `report` feature, the plots as SVG and
    /// PNG and `report.html`. Errors only when a plot cannot be drawn.
    pub fn render(&self) -> Result<Vec<ReportFile>, ReportError> {
        let doc = content::document(self);
        let mut files = vec![ReportFile {
            name: "report.md".to_string(),
            bytes: document::to_markdown(&doc).into_bytes(),
        }];
        files.extend(self.drawn(&doc)?);
        Ok(files)
    }

    /// `report.html` and the plots.
    #[cfg(feature = "report")]
    fn drawn(&self, doc: &[document::Block]) -> Result<Vec<ReportFile>, ReportError> {
        let plots = plots::draw_all(self)?;
        let mut files = vec![ReportFile {
            name: "report.html".to_string(),
            bytes: html::to_html(&self.study, doc, &plots).into_bytes(),
        }];
        for p in plots {
            files.push(ReportFile {
                name: format!("{}.svg", p.stem),
                bytes: p.svg.into_bytes(),
            });
            files.push(ReportFile {
                name: format!("{}.png", p.stem),
                bytes: p.png,
            });
        }
        Ok(files)
    }

    /// Without the `report` feature there is nothing to draw.
    #[cfg(not(feature = "report"))]
    fn drawn(&self, _doc: &[document::Block]) -> Result<Vec<ReportFile>, ReportError> {
        Ok(Vec::new())
    }
}
