//! `deepshift hpo objective`: the DSNN objective as a program, speaking the protocol of
//! `deepshift hpo run --objective-cmd`: one JSON object on standard input (`{"trial": 17,
//! "config": {...}, "budget": 9, "seed": 1, "workdir": "..."}`), one JSON line on standard
//! output with the objectives by name and a `provenance` object.
//!
//! The configurations it reads are those of the shipped spaces
//! (`shift-train/spaces/dsnn_mnist_{linear,conv}.json`, AutoDSNN's space with log scales on
//! the learning rate and weight decay, momentum only under SGD, and the shift hyperparameters
//! only at a shift depth above 0).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use serde::Deserialize;
use shift_data::{Cifar, Dataset, Mnist, MnistKind, Split};
use shift_nn::models::DataDomain;
use shift_train::objective::{DsnnObjective, TrialRequest};

use crate::args::MeterArgs;
use crate::datasets::dataset_dir;

/// The data sets the objective trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ObjectiveDataset {
    /// MNIST (`data/mnist`).
    Mnist,
    /// Fashion-MNIST (`data/fashion-mnist`, or Debian's `/usr/share/datasets/fashion-mnist`),
    /// with the MNIST models.
    FashionMnist,
    /// CIFAR-10 (`data/cifar10`, the binary batches), with the CIFAR-10 zoo.
    Cifar10,
}

impl ObjectiveDataset {
    /// The name on the command line and in folders: `fashion-mnist`.
    pub fn name(self) -> &'static str {
        match self {
            ObjectiveDataset::Mnist => "mnist",
            ObjectiveDataset::FashionMnist => "fashion-mnist",
            ObjectiveDataset::Cifar10 => "cifar10",
        }
    }

    /// The zoo whose architectures it trains.
    pub fn domain(self) -> DataDomain {
        match self {
            ObjectiveDataset::Mnist | ObjectiveDataset::FashionMnist => DataDomain::Mnist,
            ObjectiveDataset::Cifar10 => DataDomain::Cifar10,
        }
    }

    /// The training split as training reads it and as evaluation reads it (without
    /// augmentation), or the test split twice (`train` false).
    pub fn open(
        self,
        data_dir: &Path,
        train: bool,
    ) -> Result<(Arc<dyn Dataset>, Arc<dyn Dataset>)> {
        let split = if train { Split::Train } else { Split::Test };
        let name = self.name();
        let mnist = |kind: MnistKind| -> Result<(Arc<dyn Dataset>, Arc<dyn Dataset>)> {
            let dir = kind
                .locate(data_dir)
                .unwrap_or_else(|| dataset_dir(data_dir, name));
            let set: Arc<dyn Dataset> = Arc::new(
                Mnist::open(&dir, kind, split)
                    .with_context(|| format!("{name} not found in {}", dir.display()))?,
            );
            // MNIST and Fashion-MNIST have no augmentation: one set serves both.
            Ok((set.clone(), set))
        };
        match self {
            ObjectiveDataset::Mnist => mnist(MnistKind::Mnist),
            ObjectiveDataset::FashionMnist => mnist(MnistKind::FashionMnist),
            ObjectiveDataset::Cifar10 => {
                let dir = dataset_dir(data_dir, name);
                let open = || {
                    Cifar::cifar10(&dir, split).with_context(|| {
                        format!(
                            "CIFAR-10 not found in {} (the binary batches; `cargo xtask data cifar10` explains)",
                            dir.display()
                        )
                    })
                };
                let augmented: Arc<dyn Dataset> = Arc::new(open()?);
                let plain: Arc<dyn Dataset> = Arc::new(open()?.with_augment(false));
                Ok((augmented, plain))
            }
        }
    }
}

/// What determines a DSNN study's objective besides the configuration: the data, the model
/// and the validation split.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DsnnSetup {
    /// The data set.
    pub dataset: String,
    /// The architecture.
    pub arch: String,
    /// The data root, or the data set's own folder.
    pub data_dir: PathBuf,
    /// Folder of per-design runs.
    pub cache_dir: PathBuf,
    /// Share of the training set held out for validation.
    pub val_fraction: f64,
    /// Seed of the validation split.
    pub split_seed: u64,
}

impl DsnnSetup {
    /// The data set, parsed.
    pub fn dataset(&self) -> Result<ObjectiveDataset> {
        ObjectiveDataset::from_str(&self.dataset, true)
            .map_err(|e| anyhow::anyhow!("data set '{}': {e}", self.dataset))
    }

    /// The objective over this setup's training split.
    pub fn objective(
        &self,
        workers: usize,
        meter: shift_energy::MeterConfig,
    ) -> Result<DsnnObjective> {
        if !(0.0..1.0).contains(&self.val_fraction) {
            bail!("--val-fraction {} must lie in [0, 1)", self.val_fraction);
        }
        let dataset = self.dataset()?;
        let domain = dataset.domain();
        if !domain.archs().contains(&self.arch.as_str()) {
            bail!(
                "--arch {}: not a {} architecture (known: {})",
                self.arch,
                dataset.name(),
                domain.archs().join(", ")
            );
        }
        let (train_pool, val_pool) = dataset.open(&self.data_dir, true)?;
        Ok(DsnnObjective {
            domain,
            arch: self.arch.clone(),
            train_pool,
            val_pool,
            val_fraction: self.val_fraction,
            split_seed: self.split_seed,
            workers,
            val_batch_size: if domain == DataDomain::Mnist {
                1000
            } else {
                256
            },
            cache_dir: self.cache_dir.clone(),
            meter,
        })
    }
}

/// `deepshift hpo objective` flags.
#[derive(Debug, Clone, Args)]
pub struct ObjectiveArgs {
    /// The data set.
    #[arg(long, value_enum, default_value = "mnist")]
    pub dataset: ObjectiveDataset,
    /// The architecture: `linear` or `conv` on MNIST and Fashion-MNIST, a CIFAR-10 zoo name
    /// (`resnet20`, ...) on CIFAR-10.
    #[arg(long, default_value = "conv")]
    pub arch: String,
    /// The data root, or the data set's own folder.
    #[arg(long, default_value = "data")]
    pub data_dir: PathBuf,
    /// Folder of per-design runs that promoted trials continue from (default: `dsnn-runs`
    /// beside the trial's workdir, else `./dsnn-runs`).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Share of the training set held out for validation.
    #[arg(long, default_value_t = 0.1)]
    pub val_fraction: f64,
    /// Seed of the validation split (keep it fixed for a whole study).
    #[arg(long, default_value_t = 0)]
    pub split_seed: u64,
    /// Data loading worker threads.
    #[arg(short = 'j', long, default_value_t = 2)]
    pub workers: usize,
    /// Energy meter settings.
    #[command(flatten)]
    pub meter: MeterArgs,
}

/// The trial as `deepshift hpo run` hands it over.
#[derive(Debug, Deserialize)]
struct TrialInput {
    config: serde_json::Map<String, serde_json::Value>,
    budget: usize,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    workdir: Option<PathBuf>,
}

/// Runs one trial read from standard input and prints its result line.
pub fn run(args: &ObjectiveArgs) -> Result<()> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("reading the trial from standard input")?;
    let trial: TrialInput = serde_json::from_str(&text)
        .with_context(|| format!("standard input is not a trial object: {}", text.trim()))?;
    let cache_dir = args.cache_dir.clone().unwrap_or_else(|| {
        trial
            .workdir
            .as_deref()
            .and_then(|w| w.parent())
            .map_or_else(|| PathBuf::from("dsnn-runs"), |p| p.join("dsnn-runs"))
    });
    let setup = DsnnSetup {
        dataset: args.dataset.name().to_string(),
        arch: args.arch.clone(),
        data_dir: args.data_dir.clone(),
        cache_dir,
        val_fraction: args.val_fraction,
        split_seed: args.split_seed,
    };
    let objective = setup.objective(args.workers, args.meter.config())?;
    let result = objective.evaluate(&TrialRequest {
        config: trial.config,
        budget: trial.budget,
        seed: trial.seed,
    })?;
    let mut line = serde_json::Map::new();
    for (k, v) in &result.objectives {
        line.insert(k.clone(), serde_json::json!(v));
    }
    line.insert("provenance".into(), serde_json::json!(result.provenance));
    println!("{}", serde_json::Value::Object(line));
    Ok(())
}
