//! The methods the benchmark compares, each a sampler with a schedule.

use serde::Serialize;

use super::BenchError;
use crate::problems::{B_MAX, B_MIN};
use crate::sampler::{GpOptions, GpSampler, ParEgoOptions, ParEgoSampler, RandomSampler, Sampler};
use crate::scheduler::{Asha, FullFidelity, Hyperband, Schedule, Screening, Search, SearchOptions};
use crate::ConfigSpace;

/// Reduction factor of Hyperband and MO-ASHA (AutoDSNN's).
pub const ETA: f64 = 3.0;

/// Screening evaluations at b = 1 of the model-based multi-fidelity method.
pub const MF_SCREEN: usize = 60;
/// Space-filling full-fidelity points of the model-based multi-fidelity method before EHVI
/// (fewer than the full-fidelity GP's 8: the screening data already cover the space; these
/// only calibrate the discrepancy between budgets).
pub const MF_INITIAL: usize = 5;

/// A benchmarked method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Method {
    /// Random search at full fidelity.
    Random,
    /// ParEGO on SMAC's random forest at full fidelity.
    ParEgo,
    /// AutoDSNN's setup: ParEGO with Hyperband (eta 3).
    HyperbandParEgo,
    /// GP + EHVI at full fidelity.
    Gp,
    /// Hyperband (eta 3) with random sampling and non-dominated promotion.
    HyperbandRandom,
    /// MO-ASHA (eta 3) with random sampling.
    AshaRandom,
    /// Hyperband with the GP sampler on the highest budget with enough points (BOHB-style).
    HyperbandGp,
    /// Model-based multi-fidelity: screening at b = 1, then GP + EHVI at b = 27 with all
    /// budgets in one model.
    MfGp,
    /// Screening at b = 1, then GP + EHVI at b = 27 on the highest budget with enough points
    /// (so the screening data choose the first full-fidelity points, and b = 27 data the rest).
    ScreenGp,
}

impl Method {
    /// Methods of the full-fidelity table.
    pub const FULL_FIDELITY: [Method; 3] = [Method::Random, Method::ParEgo, Method::Gp];
    /// Methods of the multi-fidelity table.
    pub const MULTI_FIDELITY: [Method; 8] = [
        Method::Random,
        Method::Gp,
        Method::HyperbandRandom,
        Method::AshaRandom,
        Method::HyperbandParEgo,
        Method::HyperbandGp,
        Method::ScreenGp,
        Method::MfGp,
    ];
    /// Every method.
    pub const ALL: [Method; 9] = [
        Method::Random,
        Method::ParEgo,
        Method::Gp,
        Method::HyperbandRandom,
        Method::AshaRandom,
        Method::HyperbandParEgo,
        Method::HyperbandGp,
        Method::ScreenGp,
        Method::MfGp,
    ];

    /// Command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Method::Random => "random",
            Method::ParEgo => "parego",
            Method::HyperbandParEgo => "hb-parego",
            Method::Gp => "gp",
            Method::HyperbandRandom => "hb-random",
            Method::AshaRandom => "asha-random",
            Method::HyperbandGp => "hb-gp",
            Method::MfGp => "mf-gp",
            Method::ScreenGp => "screen-gp",
        }
    }

    /// Parses a command-line name.
    pub fn from_name(s: &str) -> Result<Method, BenchError> {
        Method::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| BenchError::UnknownMethod(s.to_string()))
    }

    /// Whether the method uses budgets below the largest.
    pub fn is_multi_fidelity(self) -> bool {
        !matches!(self, Method::Random | Method::ParEgo | Method::Gp)
    }

    /// The search for `space` (budgets 1..27).
    pub fn build(
        self,
        space: ConfigSpace,
        n_objectives: usize,
        seed: u64,
        _mf_table: bool,
    ) -> Result<Search, BenchError> {
        let options = SearchOptions {
            n_objectives,
            min_budget: B_MIN,
            max_budget: B_MAX,
            crash_cost: None,
        };
        let (sampler, schedule) = self.parts(seed, B_MIN, B_MAX, MF_SCREEN);
        Ok(Search::new(space, sampler, schedule, options)?)
    }

    /// The method's sampler and schedule for budgets `min_budget..=max_budget`, with a
    /// screening phase of `n_screen` trials for `screen-gp` and `mf-gp`: the one mapping from
    /// a method's name to its parts, shared by the benchmark and by studies.
    pub fn parts(
        self,
        seed: u64,
        min_budget: f64,
        max_budget: f64,
        n_screen: usize,
    ) -> (Box<dyn Sampler>, Box<dyn Schedule>) {
        match self {
            Method::Random => (
                Box::new(RandomSampler::new(seed)),
                Box::new(FullFidelity::new(max_budget)),
            ),
            Method::ParEgo => (
                Box::new(ParEgoSampler::new(ParEgoOptions::default(), seed)),
                Box::new(FullFidelity::new(max_budget)),
            ),
            Method::HyperbandParEgo => (
                Box::new(ParEgoSampler::new(ParEgoOptions::default(), seed)),
                Box::new(Hyperband::new(ETA, min_budget, max_budget)),
            ),
            Method::Gp => (
                Box::new(GpSampler::new(GpOptions::default(), seed)),
                Box::new(FullFidelity::new(max_budget)),
            ),
            Method::HyperbandRandom => (
                Box::new(RandomSampler::new(seed)),
                Box::new(Hyperband::new(ETA, min_budget, max_budget)),
            ),
            Method::AshaRandom => (
                Box::new(RandomSampler::new(seed)),
                Box::new(Asha::new(ETA, min_budget, max_budget)),
            ),
            Method::HyperbandGp => (
                Box::new(GpSampler::new(GpOptions::default(), seed)),
                Box::new(Hyperband::new(ETA, min_budget, max_budget)),
            ),
            Method::MfGp => (
                Box::new(GpSampler::new(
                    GpOptions {
                        multi_fidelity: true,
                        n_initial: MF_INITIAL,
                        ..GpOptions::default()
                    },
                    seed,
                )),
                Box::new(Screening::new(n_screen, min_budget, max_budget)),
            ),
            Method::ScreenGp => (
                Box::new(GpSampler::new(GpOptions::default(), seed)),
                Box::new(Screening::new(n_screen, min_budget, max_budget)),
            ),
        }
    }
}
