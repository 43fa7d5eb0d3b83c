//! `deepshift hpo run --dataset D --arch A`: a study of DSNN designs with the built-in
//! objective (`deepshift hpo objective`), the shipped space, and the reference scripts'
//! default DSNNs evaluated first at the largest budget as the baselines of the report.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Value as Json};
use shift_automl::storage::ReferenceTrial;
use shift_automl::ConfigSpace;
use shift_nn::models::DataDomain;
use shift_train::objective::{shipped_space, shipped_space_name};

use crate::hpo_objective::{DsnnSetup, ObjectiveDataset};

/// The key of a DSNN study's [`DsnnSetup`] in the study's attributes.
pub const ATTRIBUTE: &str = "dsnn";

/// Smallest and largest budget (epochs) of a DSNN study when none are given.
pub const DEFAULT_BUDGETS: (f64, f64) = (1.0, 9.0);

/// Objectives of a DSNN study when none are given.
pub const DEFAULT_OBJECTIVES: [&str; 2] = ["loss", "energy_kwh"];

/// The method of a multi-fidelity DSNN study when none is given: Hyperband's promotions
/// continue a design from its checkpoint, so its lower rungs cost no retraining; the
/// model-based mf-gp never promotes.
pub const DEFAULT_METHOD: &str = "hb-gp";

/// `deepshift hpo run|create` flags of the built-in DSNN objective.
#[derive(Debug, Clone, Args)]
pub struct DsnnRunArgs {
    /// Search DSNN designs on this data set with the built-in objective: the shipped space
    /// (unless --space), `deepshift hpo objective` as the command (unless --objective-cmd),
    /// objectives loss,energy_kwh, budgets 1..9 epochs, method hb-gp, and the reference
    /// scripts' default DSNNs (SGD, and the README's RAdam) as trials 0 and 1.
    #[arg(long, value_enum, value_name = "D")]
    pub dataset: Option<ObjectiveDataset>,
    /// The architecture (with --dataset): `linear` or `conv` (MNIST, Fashion-MNIST; default
    /// conv), `resnet20`, ... (CIFAR-10; default resnet20).
    #[arg(long, value_name = "A", requires = "dataset")]
    pub arch: Option<String>,
    /// The data root, or the data set's own folder (with --dataset).
    #[arg(long, value_name = "DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Folder of the designs' runs and checkpoints, which promotions continue from (with
    /// --dataset). Default: `<study>-runs` beside the SQLite file.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Share of the training set held out for validation (with --dataset).
    #[arg(long, value_name = "F", default_value_t = 0.1)]
    pub val_fraction: f64,
    /// Seed of the validation split (with --dataset).
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub split_seed: u64,
}

/// What `--dataset` decides about a new study.
#[derive(Debug, Clone)]
pub struct DsnnPlan {
    /// The space to search.
    pub space: ConfigSpace,
    /// The objective command.
    pub objective_cmd: String,
    /// The baselines.
    pub references: Vec<ReferenceTrial>,
    /// The setup, stored as the study's `dsnn` attribute.
    pub setup: DsnnSetup,
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))
}

/// Quotes a word for `sh -c`.
fn shell_word(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

impl DsnnPlan {
    /// The plan for `args`; `space_file` and `objective_cmd` replace the shipped ones;
    /// `runs_dir` is the default cache folder.
    pub fn new(
        args: &DsnnRunArgs,
        dataset: ObjectiveDataset,
        space_file: Option<&Path>,
        objective_cmd: Option<&str>,
        runs_dir: &Path,
        max_budget: f64,
    ) -> Result<DsnnPlan> {
        let domain = dataset.domain();
        let arch = args.arch.clone().unwrap_or_else(|| {
            match domain {
                DataDomain::Mnist => "conv",
                DataDomain::Cifar10 => "resnet20",
                DataDomain::Imagenet => "resnet18",
            }
            .to_string()
        });
        if !domain.archs().contains(&arch.as_str()) {
            bail!(
                "--arch {arch}: not a {} architecture (known: {})",
                dataset.name(),
                domain.archs().join(", ")
            );
        }
        let space = match space_file {
            Some(f) => crate::hpo::read_space(f)?,
            None => {
                let Some(text) = shipped_space(domain, &arch) else {
                    bail!(
                        "no search space is shipped for {} {arch}: give --space FILE (the \
                         shipped ones are shift-train/spaces/dsnn_*.json)",
                        dataset.name()
                    );
                };
                ConfigSpace::from_json(text).with_context(|| {
                    format!(
                        "shipped space {}",
                        shipped_space_name(domain, &arch).unwrap_or_default()
                    )
                })?
            }
        };
        let setup = DsnnSetup {
            dataset: dataset.name().to_string(),
            arch,
            data_dir: absolute(&args.data_dir)?,
            cache_dir: absolute(args.cache_dir.as_deref().unwrap_or(runs_dir))?,
            val_fraction: args.val_fraction,
            split_seed: args.split_seed,
        };
        if !(0.0..1.0).contains(&setup.val_fraction) {
            bail!("--val-fraction {} must lie in [0, 1)", setup.val_fraction);
        }
        let objective_cmd = match objective_cmd {
            Some(c) => c.to_string(),
            None => {
                let exe = std::env::current_exe().context("locating this program")?;
                format!(
                    "{} hpo objective --dataset {} --arch {} --data-dir {} --cache-dir {} \
                     --val-fraction {} --split-seed {}",
                    shell_word(&exe.display().to_string()),
                    setup.dataset,
                    shell_word(&setup.arch),
                    shell_word(&setup.data_dir.display().to_string()),
                    shell_word(&setup.cache_dir.display().to_string()),
                    setup.val_fraction,
                    setup.split_seed
                )
            }
        };
        let references = references(&space, domain, max_budget);
        Ok(DsnnPlan {
            space,
            objective_cmd,
            references,
            setup,
        })
    }

    /// The study attributes that record the setup.
    pub fn attributes(&self) -> serde_json::Map<String, Json> {
        let mut m = serde_json::Map::new();
        m.insert(ATTRIBUTE.into(), json!(self.setup));
        m
    }
}

/// The reference scripts' default DSNN (the space's default configuration) and the reference
/// README's PS recipe (the same with RAdam, which the README says PS needs), at `budget`.
/// A space without RAdam gets the first only.
pub fn references(space: &ConfigSpace, domain: DataDomain, budget: f64) -> Vec<ReferenceTrial> {
    let script = match domain {
        DataDomain::Mnist => "mnist.py",
        DataDomain::Cifar10 => "cifar10.py",
        DataDomain::Imagenet => "imagenet.py",
    };
    let default = space.default_configuration().to_json();
    let mut out = vec![ReferenceTrial {
        label: format!("default: {script}'s DSNN"),
        config: default.clone(),
        budget,
    }];
    if let Json::Object(mut m) = default {
        m.insert("optimizer".into(), json!("radam"));
        m.remove("momentum");
        let config = Json::Object(m);
        if space.configuration_from_json(&config).is_ok() {
            out.push(ReferenceTrial {
                label: format!("{script}'s DSNN with --optimizer radam (the README's PS recipe)"),
                config,
                budget,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_survive_quotes() {
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }

    #[test]
    fn the_references_are_the_scripts_defaults_with_sgd_and_with_radam() {
        let space =
            ConfigSpace::from_json(shipped_space(DataDomain::Mnist, "conv").unwrap()).unwrap();
        let r = references(&space, DataDomain::Mnist, 9.0);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].config["optimizer"], "sgd");
        assert_eq!(r[0].config["lr"], 0.01);
        assert_eq!(r[0].config["shift_type"], "PS");
        assert_eq!(r[0].config["weight_bits"], 5);
        assert_eq!(r[0].config["shift_depth"], 2);
        assert_eq!(r[1].config["optimizer"], "radam");
        assert!(r[1].config.get("momentum").is_none());
        assert!(r.iter().all(|t| t.budget == 9.0));
        let cifar = ConfigSpace::from_json(shipped_space(DataDomain::Cifar10, "resnet20").unwrap())
            .unwrap();
        let r = references(&cifar, DataDomain::Cifar10, 3.0);
        assert_eq!(r[0].config["lr"], 0.1);
        assert_eq!(r[0].config["momentum"], 0.9);
        assert_eq!(r[0].config["batch_size"], 128);
    }
}
