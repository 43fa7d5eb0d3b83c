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
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use serde::Deserialize;
use shift_data::{Dataset, Mnist, MnistKind, Split};
use shift_nn::models::DataDomain;
use shift_train::objective::{DsnnObjective, TrialRequest};

use crate::args::MeterArgs;
use crate::datasets::dataset_dir;

/// The data sets the objective trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ObjectiveDataset {
    /// MNIST (`data/mnist`).
    Mnist,
    /// Fashion-MNIST (`data/fashion-mnist`), with the MNIST models.
    FashionMnist,
}

/// `deepshift hpo objective` flags.
#[derive(Debug, Clone, Args)]
pub struct ObjectiveArgs {
    /// The data set.
    #[arg(long, value_enum, default_value = "mnist")]
    pub dataset: ObjectiveDataset,
    /// The MNIST architecture (`linear` or `conv`).
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
    if !(0.0..1.0).contains(&args.val_fraction) {
        bail!("--val-fraction {} must lie in [0, 1)", args.val_fraction);
    }
    let (name, kind) = match args.dataset {
        ObjectiveDataset::Mnist => ("mnist", MnistKind::Mnist),
        ObjectiveDataset::FashionMnist => ("fashion-mnist", MnistKind::FashionMnist),
    };
    let dir = dataset_dir(&args.data_dir, name);
    let train: Arc<dyn Dataset> = Arc::new(
        Mnist::open(&dir, kind, Split::Train)
            .with_context(|| format!("{name} not found in {}", dir.display()))?,
    );
    let cache_dir = args.cache_dir.clone().unwrap_or_else(|| {
        trial
            .workdir
            .as_deref()
            .and_then(|w| w.parent())
            .map_or_else(|| PathBuf::from("dsnn-runs"), |p| p.join("dsnn-runs"))
    });
    let objective = DsnnObjective {
        domain: DataDomain::Mnist,
        arch: args.arch.clone(),
        train_pool: train.clone(),
        // MNIST and Fashion-MNIST have no augmentation: one set serves both.
        val_pool: train,
        val_fraction: args.val_fraction,
        split_seed: args.split_seed,
        workers: args.workers,
        val_batch_size: 1000,
        cache_dir,
        meter: args.meter.config(),
    };
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
