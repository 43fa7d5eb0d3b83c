//! The methods a study can use, by name, built for the study's budgets and seed. The names
//! and the sampler/schedule pairs are the benchmark's ([`crate::bench::Method`]); only the
//! budgets differ (the benchmark's are fixed at 1..27).

use crate::bench::Method;
use crate::scheduler::{Search, SearchError, SearchOptions};
use crate::storage::StudySettings;
use crate::ConfigSpace;

pub use crate::bench::ETA;
use crate::bench::MF_SCREEN;

// The defaults are the best methods of `deepshift hpo bench` (README, "Search methods"): gp
// at full fidelity, mf-gp with budgets (at least the full-fidelity GP on all four problems at
// 1620 and 540 budget units, where hb-gp falls to 81 % on DTLZ2).

/// Method of a study whose every trial runs at one budget: GP + EHVI, which models all
/// objectives jointly and treats running trials as pending points, so several workers get
/// distinct proposals.
pub const DEFAULT_FULL_FIDELITY: &str = "gp";
/// Method of a multi-fidelity study: a screening phase at the smallest budget (at most 60
/// trials, half of `--n-trials` when that is given), then one GP over all budgets with EHVI at
/// the largest; running trials are pending points, so workers get distinct proposals.
pub const DEFAULT_MULTI_FIDELITY: &str = "mf-gp";

/// The default method for a study with these budgets.
pub fn default_method(min_budget: f64, max_budget: f64) -> &'static str {
    if min_budget < max_budget {
        DEFAULT_MULTI_FIDELITY
    } else {
        DEFAULT_FULL_FIDELITY
    }
}

/// The method names a study accepts, with what each does.
pub fn method_names() -> Vec<(&'static str, &'static str)> {
    Method::ALL
        .into_iter()
        .map(|m| {
            let what = match m {
                Method::Random => "random search at the largest budget",
                Method::ParEgo => "ParEGO on a random forest at the largest budget",
                Method::Gp => "GP + EHVI at the largest budget",
                Method::HyperbandRandom => "Hyperband (eta 3), random sampling",
                Method::AshaRandom => "MO-ASHA (eta 3, asynchronous), random sampling",
                Method::HyperbandParEgo => "Hyperband (eta 3) with ParEGO (AutoDSNN's method)",
                Method::HyperbandGp => "Hyperband (eta 3) with GP + EHVI (BOHB-style)",
                Method::ScreenGp => "screening at the smallest budget, then GP + EHVI",
                Method::MfGp => "screening, then a multi-fidelity GP + EHVI at the largest budget",
            };
            (m.name(), what)
        })
        .collect()
}

/// Why a method cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MethodError {
    /// The name is not one of [`method_names`].
    #[error("unknown method '{name}' (known: {known})")]
    Unknown {
        /// The name given.
        name: String,
        /// The known names.
        known: String,
    },
    /// The search refused the settings.
    #[error(transparent)]
    Search(#[from] SearchError),
    /// A reference configuration does not belong to the space.
    #[error("reference configuration '{label}': {problem}")]
    Reference {
        /// Its label.
        label: String,
        /// What is wrong.
        problem: String,
    },
}

/// Parses a method name.
pub fn parse_method(name: &str) -> Result<Method, MethodError> {
    Method::from_name(name).map_err(|_| MethodError::Unknown {
        name: name.to_string(),
        known: method_names()
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// A fresh search of `method` over `space` with the study's settings, its reference
/// configurations enqueued first. Two calls with equal
/// arguments give searches that behave identically, which is what replay relies on.
pub fn build_search(
    method: &str,
    space: ConfigSpace,
    settings: &StudySettings,
) -> Result<Search, MethodError> {
    let m = parse_method(method)?;
    let (lo, hi, seed) = (settings.min_budget, settings.max_budget, settings.seed);
    let options = SearchOptions {
        n_objectives: settings.objectives.len(),
        min_budget: lo,
        max_budget: hi,
        crash_cost: settings.crash_cost.clone(),
    };
    // the benchmark screens 60 points out of 1620 budget units; a study with fewer trials
    // screens half of them
    let n_screen = settings
        .n_trials
        .map_or(MF_SCREEN, |n| MF_SCREEN.min((n / 2).max(1) as usize));
    let (sampler, schedule) = m.parts(seed, lo, hi, n_screen);
    let mut search = Search::new(space, sampler, schedule, options)?;
    for r in &settings.references {
        let config = search
            .space()
            .configuration_from_json(&r.config)
            .map_err(|e| MethodError::Reference {
                label: r.label.clone(),
                problem: e.to_string(),
            })?;
        search.enqueue(config, r.budget)?;
    }
    Ok(search)
}
