//! The DSNN objective the search calls: (configuration, budget in epochs, seed) -> named
//! objectives plus their provenance.
//!
//! - `loss` = 1 - top-1 accuracy of the last epoch on a validation split held out of the
//!   training set ([`holdout_split`]: fixed and seeded, the same for every trial). The test set
//!   is not an input of this type, so it cannot be used to choose.
//! - `val_loss`: the mean cross-entropy on the same split.
//! - `energy_kwh`, `emissions_kg`: training plus validation, measured by shift-energy's ladder
//!   (RAPL, NVML, else the estimate); the provenance names the source.
//! - `inference_energy_uj`: per image, from the analytic 45 nm model (MNIST architectures).
//! - `model_bits`: the weights' storage, shift weights packed (`shift_core::bits_per_weight`),
//!   float weights and biases at 32 bits, shift-layer biases at the activation width.
//!
//! Multi-fidelity without retraining: every design (configuration, seed, architecture, split)
//! has a folder under the cache directory. A trial at budget `b` continues from that folder's
//! checkpoint when it holds fewer than `b` epochs, so promoting a design from 3 to 9 epochs
//! trains 6 more, and the result equals training 9 at once bit for bit (the learning rate is
//! constant, so no schedule depends on the final budget). The energy reported for `b` epochs is
//! the whole trajectory's, earlier calls included.

mod design;
mod spaces;
mod split;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use shift_data::Dataset;
use shift_energy::analytic::{inference_energy, models, ShiftSpec};
use shift_energy::{EnergyMeter, MeterConfig};
use shift_nn::models::{build_model, DataDomain};
use shift_nn::{convert_to_shift, LayerWeights, Model, ModuleRef, ParamKind, ShiftOptions};

pub use design::{DsnnDesign, HYPERPARAMETERS};
pub use spaces::{shipped_space, shipped_space_name};
pub use split::{holdout_split, Subset};

use crate::checkpoint::Checkpoint;
use crate::progress::ProgressMode;
use crate::schedule::LrSchedule;
use crate::trainer::{EnergyHook, TrainConfig, Trainer};
use crate::TrainError;

/// What a trial asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialRequest {
    /// The configuration: a flat JSON object, inactive hyperparameters absent.
    pub config: Map<String, Value>,
    /// Epochs to have trained when the trial ends.
    pub budget: usize,
    /// Seed of initialisation, shuffling, dropout and stochastic rounding.
    pub seed: u64,
}

/// What a trial returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialResult {
    /// Objective values by name (all minimised).
    pub objectives: BTreeMap<String, f64>,
    /// How they were obtained: energy source, epochs trained by this call, the epoch it
    /// continued from, the run folder, this program's version.
    pub provenance: BTreeMap<String, String>,
}

/// The DSNN objective over one data set and architecture.
pub struct DsnnObjective {
    /// The zoo's domain of the architecture (MNIST, CIFAR-10, ImageNet).
    pub domain: DataDomain,
    /// Architecture name (`linear`, `conv`, `resnet20`, ...).
    pub arch: String,
    /// The training split, as training reads it (with its augmentation, if any).
    pub train_pool: Arc<dyn Dataset>,
    /// The same images as evaluation reads them (no augmentation); for sets without
    /// augmentation, the same set as `train_pool`.
    pub val_pool: Arc<dyn Dataset>,
    /// Share of the training set held out for validation.
    pub val_fraction: f64,
    /// Seed of the split (fixed for a whole search).
    pub split_seed: u64,
    /// Data loading threads.
    pub workers: usize,
    /// Evaluation batch size.
    pub val_batch_size: usize,
    /// Folder of per-design runs to continue from.
    pub cache_dir: PathBuf,
    /// Energy meter settings.
    pub meter: MeterConfig,
}

/// Sums the energy of a trial's training and validation regions.
struct EnergyTotal {
    meter: EnergyMeter,
    open: Option<shift_energy::RegionHandle>,
    kwh: f64,
    kg: f64,
    sources: Vec<String>,
    error: Option<shift_energy::EnergyError>,
}

impl EnergyHook for EnergyTotal {
    fn start(&mut self, region: &str) {
        self.open = Some(self.meter.start(region));
    }
    fn stop(&mut self) {
        let Some(handle) = self.open.take() else {
            return;
        };
        match self.meter.stop(handle) {
            Ok(report) => {
                self.kwh += report.energy_kwh();
                self.kg += report.emissions_kg();
                let source = report.source_summary();
                if !self.sources.contains(&source) {
                    self.sources.push(source);
                }
            }
            Err(e) => self.error = Some(e),
        }
    }
}

/// Energy of a design's trajectory so far, kept beside its checkpoint.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Ledger {
    epochs: usize,
    energy_kwh: f64,
    emissions_kg: f64,
    /// The meters' sources over the trajectory, so a call that trains nothing (the design
    /// already holds the budget) still names where its energy figures came from.
    #[serde(default)]
    sources: Vec<String>,
}

/// A trial's model, data and run folder, ready to train or to evaluate.
struct Prepared {
    design: DsnnDesign,
    model: Box<dyn Model>,
    converted: usize,
    train_set: Arc<dyn Dataset>,
    val_set: Arc<dyn Dataset>,
    run_dir: PathBuf,
    /// The design's checkpoint, when it has one of at most the requested epochs.
    resume: Option<Checkpoint>,
}

impl DsnnObjective {
    /// Builds the trial's model (initialised from its seed and converted as its design says)
    /// and finds its run folder and checkpoint.
    fn prepare(&self, request: &TrialRequest) -> Result<Prepared, TrainError> {
        let design = DsnnDesign::from_config(&request.config)?;
        if request.budget == 0 {
            return Err(TrainError::InvalidConfig(
                "the budget must be at least one epoch".into(),
            ));
        }
        let (train_idx, val_idx) =
            holdout_split(self.train_pool.len(), self.val_fraction, self.split_seed);
        let train_set: Arc<dyn Dataset> = Arc::new(Subset::new(self.train_pool.clone(), train_idx));
        let val_set: Arc<dyn Dataset> = Arc::new(Subset::new(self.val_pool.clone(), val_idx));

        let mut rng = ChaCha8Rng::seed_from_u64(request.seed);
        let mut model = build_model(self.domain, &self.arch, &mut rng)?;
        let options = ShiftOptions {
            shift_type: design.shift_type,
            weight_bits: design.weight_bits,
            act: design.act,
            rounding: design.rounding,
        };
        // As mnist.py and cifar10.py: shift layers start from the initialised float weights.
        let converted = convert_to_shift(
            model.as_mut(),
            design.shift_depth,
            options,
            self.domain.linear_rule(&self.arch),
            true,
            &mut rng,
        )?;

        let mut run_dir = self.cache_dir.join(self.design_key(request));
        let mut resume = run_checkpoint(&run_dir)?;
        if resume
            .as_ref()
            .is_some_and(|c| c.epochs_done > request.budget)
        {
            // A lower budget than this design has already trained: train it afresh elsewhere
            // rather than overwrite the longer run.
            run_dir = run_dir.join(format!("budget-{}", request.budget));
            resume = run_checkpoint(&run_dir)?.filter(|c| c.epochs_done <= request.budget);
        }
        Ok(Prepared {
            design,
            model,
            converted,
            train_set,
            val_set,
            run_dir,
            resume,
        })
    }

    /// How a trial trains: the design's batch size and optimiser, a constant learning rate
    /// (so no schedule depends on the final budget), quietly, into `run_dir`.
    fn train_config(
        &self,
        design: &DsnnDesign,
        request: &TrialRequest,
        run_dir: &Path,
    ) -> TrainConfig {
        TrainConfig {
            epochs: request.budget,
            batch_size: design.batch_size,
            test_batch_size: self.val_batch_size,
            optimizer: design.optimizer.clone(),
            schedule: LrSchedule::Constant,
            seed: request.seed,
            workers: self.workers,
            out_dir: run_dir.to_path_buf(),
            progress: ProgressMode::Quiet,
        }
    }

    /// Top-1 accuracy on `test_set` of the model a trial trained, read from its checkpoint:
    /// for the report's test accuracy of the final front, after the search has chosen (the
    /// search itself never sees a test set). An error when the design's checkpoint does not
    /// hold exactly `request.budget` epochs (it was promoted further, or never trained).
    pub fn test_accuracy(
        &self,
        request: &TrialRequest,
        test_set: Arc<dyn Dataset>,
    ) -> Result<f64, TrainError> {
        let p = self.prepare(request)?;
        let Some(ckpt) = p.resume.filter(|c| c.epochs_done == request.budget) else {
            return Err(TrainError::InvalidConfig(format!(
                "no checkpoint of {} epochs in {}",
                request.budget,
                p.run_dir.display()
            )));
        };
        let config = self.train_config(&p.design, request, &p.run_dir);
        let mut trainer = Trainer::new(p.model.as_ref(), p.train_set, test_set, config)?;
        trainer.restore(&ckpt)?;
        Ok(trainer.evaluate()?.top1)
    }

    /// Trains (or continues) the design to `request.budget` epochs and measures it.
    pub fn evaluate(&self, request: &TrialRequest) -> Result<TrialResult, TrainError> {
        let Prepared {
            design,
            model,
            converted,
            train_set,
            val_set,
            run_dir,
            resume,
        } = self.prepare(request)?;
        let ledger_path = run_dir.join("energy.json");
        let mut ledger: Ledger = match (&resume, std::fs::read(&ledger_path)) {
            (Some(_), Ok(bytes)) => serde_json::from_slice(&bytes).unwrap_or_default(),
            _ => Ledger::default(),
        };
        let config = self.train_config(&design, request, &run_dir);
        let mut trainer = Trainer::new(model.as_ref(), train_set, val_set, config)?;
        let continued_from = match &resume {
            Some(ckpt) => {
                trainer.restore(ckpt)?;
                ckpt.epochs_done
            }
            None => 0,
        };
        let mut energy = EnergyTotal {
            meter: EnergyMeter::new(self.meter.clone())?,
            open: None,
            kwh: 0.0,
            kg: 0.0,
            sources: Vec::new(),
            error: None,
        };
        let summary = trainer.train_until(request.budget, Some(&mut energy))?;
        drop(trainer);
        if let Some(e) = energy.error {
            return Err(e.into());
        }
        ledger.epochs = request.budget;
        ledger.energy_kwh += energy.kwh;
        ledger.emissions_kg += energy.kg;
        for source in energy.sources {
            if !ledger.sources.contains(&source) {
                ledger.sources.push(source);
            }
        }
        write_ledger(&ledger_path, &ledger)?;

        let last = summary
            .epochs
            .last()
            .ok_or_else(|| TrainError::InvalidConfig("no epoch was trained".into()))?;
        let mut objectives = BTreeMap::from([
            ("loss".to_string(), 1.0 - last.test_accuracy),
            ("val_loss".to_string(), last.test_loss),
            ("energy_kwh".to_string(), ledger.energy_kwh),
            ("emissions_kg".to_string(), ledger.emissions_kg),
            ("model_bits".to_string(), model_bits(model.as_ref()) as f64),
        ]);
        if let Some(uj) = self.inference_energy_uj(&design)? {
            objectives.insert("inference_energy_uj".to_string(), uj);
        }
        let provenance = BTreeMap::from([
            ("energy_source".to_string(), ledger.sources.join("; ")),
            (
                "epochs_trained".to_string(),
                (request.budget - continued_from).to_string(),
            ),
            (
                "continued_from_epoch".to_string(),
                continued_from.to_string(),
            ),
            ("layers_converted".to_string(), converted.to_string()),
            ("run_dir".to_string(), run_dir.display().to_string()),
            (
                "version".to_string(),
                format!("deepshift-rs {}", env!("CARGO_PKG_VERSION")),
            ),
        ]);
        Ok(TrialResult {
            objectives,
            provenance,
        })
    }

    /// A folder name unique to what determines a run: configuration, seed, architecture and
    /// validation split.
    fn design_key(&self, request: &TrialRequest) -> String {
        use sha2::{Digest, Sha256};
        // serde_json's maps are sorted, so equal configurations give equal text.
        let config: BTreeMap<&String, &Value> = request.config.iter().collect();
        let text = serde_json::json!({
            "config": config,
            "seed": request.seed,
            "domain": format!("{:?}", self.domain),
            "arch": self.arch,
            "val_fraction": self.val_fraction,
            "split_seed": self.split_seed,
            "train_size": self.train_pool.len(),
        })
        .to_string();
        format!("{:x}", Sha256::digest(text.as_bytes()))[..16].to_string()
    }

    /// The analytic 45 nm inference energy per image in µJ, for the architectures described
    /// in `shift_energy::analytic::models` (MNIST `linear` and `conv`); `None` for others.
    fn inference_energy_uj(&self, design: &DsnnDesign) -> Result<Option<f64>, TrainError> {
        let spec = (design.shift_depth > 0).then_some(ShiftSpec {
            weight_bits: design.weight_bits,
            act_int_bits: design.act.int_bits(),
            act_frac_bits: design.act.frac_bits(),
        });
        let layers = match (self.domain, self.arch.as_str()) {
            (DataDomain::Mnist, "linear") => models::mnist_linear(spec, design.shift_depth),
            (DataDomain::Mnist, "conv") => models::mnist_conv(spec, design.shift_depth),
            _ => return Ok(None),
        };
        Ok(Some(inference_energy(&layers)?.total_pj() * 1e-6))
    }
}

/// Storage of the model's weights in bits: shift weights packed at their code width, float
/// weights, batch norm parameters and biases at 32 bits, shift-layer biases at the fixed-point
/// width.
pub fn model_bits(model: &dyn Model) -> u64 {
    let mut bits = 0f64;
    for (_, module) in model.modules() {
        let (params, code_bits) = match module {
            ModuleRef::Weight(layer) => (
                layer.named_params(""),
                match &layer.weights {
                    LayerWeights::Float(_) => None,
                    LayerWeights::Shift(_, opts) => Some(opts),
                },
            ),
            ModuleRef::Norm(bn) => (bn.named_params(""), None),
        };
        for (_, p) in params {
            let n = p.len() as f64;
            bits += match (code_bits, p.kind()) {
                (None, _) => 32.0 * n,
                // A PS code holds shift and sign together.
                (Some(_), ParamKind::Sign) => 0.0,
                (Some(opts), ParamKind::Bias) => {
                    n * f64::from(opts.act.int_bits() + opts.act.frac_bits())
                }
                (Some(opts), _) => n * shift_core::bits_per_weight(opts.weight_bits),
            };
        }
    }
    bits.ceil() as u64
}

/// The checkpoint in a design's run folder, if it has one.
fn run_checkpoint(run_dir: &Path) -> Result<Option<Checkpoint>, TrainError> {
    let path = run_dir.join("checkpoint.safetensors");
    path.exists().then(|| Checkpoint::load(&path)).transpose()
}

fn write_ledger(path: &Path, ledger: &Ledger) -> Result<(), TrainError> {
    let text = serde_json::to_string(ledger).expect("plain numbers serialise");
    crate::csv_log::write_atomically(path, text.as_bytes())
}
