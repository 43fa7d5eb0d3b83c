//! Command-line flags, spelled as the original DeepShift scripts spell them.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use shift_core::{check_weight_bits, FixedPoint, Rounding, ShiftType};

/// Train, evaluate and measure Deep Shift Neural Networks.
#[derive(Debug, Parser)]
#[command(name = "deepshift", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train or evaluate on MNIST (the reference's mnist.py).
    Mnist(MnistArgs),
    /// Train or evaluate on CIFAR-10 (the reference's cifar10.py).
    Cifar10(ImageArgs),
    /// Train or evaluate on ImageNet class folders (the reference's imagenet.py).
    Imagenet(ImagenetArgs),
    /// Write a deployment file: `deepshift export --packed --weights IN --out OUT` plus the
    /// model flags (`--dataset mnist --type conv --shift-depth N --shift-type PS -wb 5`).
    Export(ExportArgs),
    /// Benchmarks: `deepshift bench kernels [--json]`.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Measure the energy and emissions of any command: `deepshift energy -- CMD ARGS`.
    Energy(EnergyArgs),
    /// Hyperparameter search tools: `deepshift hpo space FILE`, `deepshift hpo hypervolume FILE`.
    #[command(subcommand)]
    Hpo(crate::hpo::HpoCommand),
}

/// Flags of the energy meter, shared by training runs and `deepshift energy`.
#[derive(Debug, Clone, Args)]
pub struct MeterArgs {
    /// Country (ISO 3166 alpha-2 or alpha-3) whose electricity mix gives the carbon intensity.
    #[arg(long)]
    pub country: Option<String>,
    /// Carbon intensity in gCO2eq/kWh; overrides `--country` (default: world average 475).
    #[arg(long, value_name = "G_PER_KWH")]
    pub carbon_intensity: Option<f64>,
    /// CPU package power (TDP) in watts, instead of the built-in table.
    #[arg(long, value_name = "W")]
    pub cpu_tdp: Option<f64>,
}

impl MeterArgs {
    /// The meter configuration these flags describe.
    pub fn config(&self) -> shift_energy::MeterConfig {
        shift_energy::MeterConfig {
            country: self.country.clone(),
            carbon_intensity: self.carbon_intensity,
            cpu_tdp_override: self.cpu_tdp,
            ..Default::default()
        }
    }
}

/// `deepshift energy` flags.
#[derive(Debug, Clone, Args)]
pub struct EnergyArgs {
    /// Meter settings.
    #[command(flatten)]
    pub meter: MeterArgs,
    /// Attribute the whole machine's CPU time and memory, not just the command's.
    #[arg(long)]
    pub machine: bool,
    /// The CSV file the measurement is appended to.
    #[arg(long, default_value = "emissions.csv")]
    pub output: PathBuf,
    /// The command to measure, after `--`.
    #[arg(last = true, required = true, num_args = 1..)]
    pub command: Vec<String>,
}

/// MNIST's model types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MnistType {
    /// fc1-fc2-fc3 (`simple_linear`).
    Linear,
    /// conv1-conv2-fc1-fc2 (`simple_conv`).
    Conv,
}

/// The optimisers the reference offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "lower")]
pub enum OptimizerName {
    /// Stochastic gradient descent (momentum, Nesterov, weight decay).
    Sgd,
    /// Adam.
    Adam,
    /// Adagrad.
    Adagrad,
    /// RMSprop.
    Rmsprop,
    /// Adadelta.
    Adadelta,
    /// Rectified Adam, needed for good DeepShift-PS results.
    Radam,
    /// RAdam with Lookahead.
    Ranger,
}

/// Flags shared by every dataset.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Number of (last) layers converted to shift layers; 0 trains the float model.
    #[arg(short = 's', long, default_value_t = 0)]
    pub shift_depth: usize,
    /// Shift training scheme: Q or PS (also `-st`).
    #[arg(long, default_value = "PS", value_parser = parse_shift_type)]
    pub shift_type: ShiftType,
    /// Rounding of shifts: deterministic or stochastic (`-r`).
    #[arg(short = 'r', long, default_value = "deterministic", value_parser = parse_rounding)]
    pub rounding: Rounding,
    /// Weight bits of shift layers, 2..=8 (also `-wb`).
    #[arg(long, default_value_t = 5)]
    pub weight_bits: u32,
    /// Fixed-point activation bits: integer and fraction bits (also `-ab I F`).
    #[arg(long, num_args = 1..=2, value_names = ["I", "F"], default_values_t = [16, 16])]
    pub activation_bits: Vec<u32>,
    /// Training batch size (dataset default when omitted).
    #[arg(short = 'b', long)]
    pub batch_size: Option<usize>,
    /// Evaluation batch size (dataset default when omitted: 1000 for MNIST, the training
    /// batch size for CIFAR-10 and ImageNet, as the reference scripts).
    #[arg(long)]
    pub test_batch_size: Option<usize>,
    /// Number of epochs (dataset default when omitted).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Optimiser (also `--opt`).
    #[arg(long, visible_alias = "opt", ignore_case = true, default_value = "sgd")]
    pub optimizer: OptimizerName,
    /// Learning rate (also `--learning-rate`; dataset default when omitted).
    #[arg(long, visible_alias = "learning-rate")]
    pub lr: Option<f64>,
    /// Learning rate of the PS sign parameters (defaults to `--lr`).
    #[arg(long)]
    pub lr_sign: Option<f64>,
    /// SGD momentum (dataset default when omitted).
    #[arg(long)]
    pub momentum: Option<f64>,
    /// Weight decay (also `--wd`; dataset default when omitted).
    #[arg(long, visible_alias = "wd")]
    pub weight_decay: Option<f64>,
    /// Divide the learning rate by 10 every this many epochs (replaces the dataset's schedule).
    #[arg(long, visible_alias = "lr-step")]
    pub lr_step_size: Option<usize>,
    /// Float or shift weights to start from (safetensors with PyTorch names).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// A checkpoint to resume training from.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Evaluate the `--weights` on the test set instead of training.
    #[arg(short = 'e', long)]
    pub evaluate: bool,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Run every shift layer on the integer shift kernels of shift-kernels-cpu (needs `-e`;
    /// `SHIFT_KERNELS_MAX_LEVEL=scalar|avx2|avx512|neon` caps the instruction set).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_parser = parse_bool)]
    pub use_kernel: Option<bool>,
    /// Where `--use-kernel` runs the shift layers: `cpu`, or `cuda` (shift-kernels-cuda on
    /// GPU 0, the same results bit for bit; an error naming the reason without a GPU).
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: crate::kernel_model::DeviceArg,
    /// Suffix for the output folder's name.
    #[arg(long)]
    pub desc: Option<String>,
    /// Where the datasets live (`<dir>/mnist`, `<dir>/cifar10`; ImageNet takes its own DIR).
    #[arg(long, default_value = "data")]
    pub data_dir: PathBuf,
    /// Root of the output folders (`<model-dir>/<dataset>/<arch>/<label>/`).
    #[arg(long, default_value = "models")]
    pub model_dir: PathBuf,
    /// Data loading worker threads.
    #[arg(short = 'j', long, default_value_t = 2)]
    pub workers: usize,
    /// Energy meter settings for the run's `emissions.csv`.
    #[command(flatten)]
    pub meter: MeterArgs,
}

/// `deepshift mnist` flags.
#[derive(Debug, Clone, Args)]
pub struct MnistArgs {
    /// Model type.
    #[arg(long = "type", value_enum, default_value = "linear")]
    pub model_type: MnistType,
    /// The shared flags.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `deepshift cifar10` flags.
#[derive(Debug, Clone, Args)]
pub struct ImageArgs {
    /// Architecture (default resnet18, as the reference scripts).
    #[arg(short = 'a', long)]
    pub arch: Option<String>,
    /// Start from pre-trained float weights found locally (nothing is downloaded): ImageNet,
    /// torchvision's file in the torch hub cache (`$TORCH_HOME/hub/checkpoints/`); CIFAR-10,
    /// `<model-dir>/cifar10/original_pretrained_models/<arch>.th`, as the reference.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value = "false", value_parser = parse_bool)]
    pub pretrained: bool,
    /// Use the dataset's learning-rate schedule (False: constant rate, as the reference's
    /// `--lr-schedule False`).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value = "true", value_parser = parse_bool)]
    pub lr_schedule: bool,
    /// The shared flags.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `deepshift bench` subcommands.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The integer shift kernels against float baselines, measured in the same run.
    Kernels(crate::bench_kernels::BenchKernelsArgs),
}

/// The model zoo `deepshift export` builds from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportDataset {
    /// MNIST (`--type linear|conv`).
    Mnist,
    /// CIFAR-10 (`--arch`, default resnet18).
    Cifar10,
    /// ImageNet (`--arch`, default resnet18).
    Imagenet,
}

/// The file formats of `deepshift export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// safetensors with every shift layer's weights packed (`--packed`).
    Packed,
    /// PyTorch's zip format (`torch.save(model.state_dict())`), rounded as the reference's
    /// `weights.pth`.
    Pth,
}

/// `deepshift export` flags.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// Pack the shift layers' weights (`wb` bits each): the same as `--format packed`.
    #[arg(long)]
    pub packed: bool,
    /// What to write: `packed` (safetensors with packed shift weights) or `pth` (the rounded
    /// state dict as PyTorch's zip-format `weights.pth`, for `torch.load`).
    #[arg(long, value_enum)]
    pub format: Option<ExportFormat>,
    /// The file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// The dataset whose model zoo the weights belong to.
    #[arg(long, value_enum, default_value = "mnist")]
    pub dataset: ExportDataset,
    /// MNIST model type.
    #[arg(long = "type", value_enum, default_value = "linear")]
    pub model_type: MnistType,
    /// CIFAR-10 / ImageNet architecture (default resnet18).
    #[arg(short = 'a', long)]
    pub arch: Option<String>,
    /// The model flags (`--weights IN`, `--shift-depth`, `--shift-type`, `-wb`, `-ab`).
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `deepshift imagenet` flags.
#[derive(Debug, Clone, Args)]
pub struct ImagenetArgs {
    /// The folder holding `train/` and `val/` class folders.
    pub data: PathBuf,
    /// Architecture and the shared flags.
    #[command(flatten)]
    pub image: ImageArgs,
}

fn parse_shift_type(s: &str) -> Result<ShiftType, String> {
    s.parse()
}

fn parse_rounding(s: &str) -> Result<Rounding, String> {
    s.parse()
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!("`{s}` is not a boolean: use True or False")),
    }
}

/// Rewrites the reference's two-letter single-dash flags (`-wb`, `-ab`, `-st`) into the long
/// forms clap understands, so that the original commands run unchanged.
pub fn normalise_argv<I: IntoIterator<Item = String>>(argv: I) -> Vec<String> {
    argv.into_iter()
        .map(|a| match a.as_str() {
            "-wb" => "--weight-bits".to_string(),
            "-ab" => "--activation-bits".to_string(),
            "-st" => "--shift-type".to_string(),
            _ => a,
        })
        .collect()
}

impl CommonArgs {
    /// Checks combinations that clap cannot: returns the activation format.
    pub fn validate(&self) -> Result<FixedPoint> {
        check_weight_bits(self.weight_bits).map_err(|e| anyhow::anyhow!("-wb: {e}"))?;
        let [int_bits, frac_bits] = self.activation_bits[..] else {
            bail!(
                "-ab takes two numbers, the integer and the fraction bits (e.g. `-ab 16 16`); got {:?}",
                self.activation_bits
            );
        };
        let format =
            FixedPoint::new(int_bits, frac_bits).map_err(|e| anyhow::anyhow!("-ab: {e}"))?;
        if self.use_kernel == Some(true) && !self.evaluate {
            bail!("--use-kernel runs inference only: add -e and --weights FILE");
        }
        if self.device == crate::kernel_model::DeviceArg::Cuda && self.use_kernel != Some(true) {
            bail!("--device cuda runs the shift kernels on a GPU: add -e --use-kernel");
        }
        if self.evaluate && self.resume.is_some() {
            bail!("-e and --resume contradict each other: -e evaluates --weights, --resume continues training");
        }
        if self.resume.is_some() && self.weights.is_some() {
            bail!("--resume restores the weights from the checkpoint: drop --weights");
        }
        if self.batch_size == Some(0) || self.test_batch_size == Some(0) {
            bail!("batch sizes must be at least 1");
        }
        if let Some(lr) = self.lr.filter(|lr| !(lr.is_finite() && *lr > 0.0)) {
            bail!("--lr {lr} must be a positive number");
        }
        if self.lr_step_size == Some(0) {
            bail!("--lr-step-size must be at least 1 epoch");
        }
        Ok(format)
    }
}
