//! The training path shared by `deepshift mnist`, `cifar10` and `imagenet`: build the model,
//! load or convert weights, then train or evaluate, writing the reference's output folder.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use shift_core::{FixedPoint, Rounding, ShiftType};
use shift_energy::{EmissionsCsv, EnergyMeter, RegionHandle};
use shift_nn::models::build_model;
use shift_nn::{
    convert_to_shift, load_state_dict, param_count, rounded_state_dict, save_safetensors,
    LinearRule, Model, ShiftOptions,
};
use shift_train::{evaluate, Checkpoint, EnergyHook, ProgressMode, TestLog, TrainConfig, Trainer};

use crate::args::CommonArgs;
use crate::task::Task;

/// The output folder's last component, after the reference's `shift_0` / `shift_ps` naming:
/// `shift_0` for the float model, otherwise type, depth and weight bits (and activation bits
/// when not 16/16), then `_<desc>`.
pub fn shift_label(common: &CommonArgs, act: FixedPoint) -> String {
    let mut label = if common.shift_depth == 0 {
        "shift_0".to_string()
    } else {
        let ty = match common.shift_type {
            ShiftType::Q => "q",
            ShiftType::PS => "ps",
        };
        format!(
            "shift_{ty}_{}_wb_{}",
            common.shift_depth, common.weight_bits
        )
    };
    if common.shift_depth > 0 && act != FixedPoint::DEFAULT {
        label += &format!("_ab_{}_{}", act.int_bits(), act.frac_bits());
    }
    if let Some(desc) = common.desc.as_deref().filter(|d| !d.is_empty()) {
        label += &format!("_{desc}");
    }
    label
}

struct MeterHook {
    meter: EnergyMeter,
    csv: PathBuf,
    open: Option<RegionHandle>,
}

impl EnergyHook for MeterHook {
    fn start(&mut self, region: &str) {
        self.open = Some(self.meter.start(region));
    }

    fn stop(&mut self) {
        let Some(handle) = self.open.take() else {
            return;
        };
        // Energy is reported, never allowed to stop training: failures become warnings.
        match self.meter.stop(handle) {
            Ok(report) => {
                if let Err(e) = EmissionsCsv::append(&self.csv, &report) {
                    eprintln!("warning: {}: {e}", self.csv.display());
                }
            }
            Err(e) => eprintln!("warning: energy meter: {e}"),
        }
    }
}

/// Loads `weights` (`--weights`, or the file of `--pretrained True`) into a freshly built
/// model and converts it as the flags say.
///
/// A file with PS names (`*.shift`) is a shift checkpoint: the model is converted first and
/// the file loaded into the shift layers. Otherwise the file holds float (or Q) weights,
/// loaded into the float model, which is then converted from them (Q keeps them, PS derives
/// shift and sign), as the reference does for `--weights` from a pre-trained model.
fn prepare_model(
    model: &mut dyn Model,
    weights: Option<&Path>,
    common: &CommonArgs,
    options: ShiftOptions,
    rule: LinearRule,
    convert_from_scratch: bool,
    rng: &mut ChaCha8Rng,
) -> Result<usize> {
    let Some(path) = weights else {
        return Ok(convert_to_shift(
            model,
            common.shift_depth,
            options,
            rule,
            convert_from_scratch,
            rng,
        )?);
    };
    // PyTorch files, packed deployment files (`deepshift export --packed`) and safetensors.
    let dict = crate::weights_file::load_weights_arg(path, model.arch())?;
    let is_ps_file = dict.tensors.keys().any(|k| k.ends_with(".shift"));
    let file = path.display().to_string();
    if is_ps_file {
        if common.shift_depth == 0 || common.shift_type != ShiftType::PS {
            bail!("{file} holds DeepShift-PS weights: run with --shift-type PS --shift-depth N");
        }
        let n = convert_to_shift(model, common.shift_depth, options, rule, false, rng)?;
        load_state_dict(model, &dict, &file)?;
        Ok(n)
    } else {
        load_state_dict(model, &dict, &file)?;
        Ok(convert_to_shift(
            model,
            common.shift_depth,
            options,
            rule,
            true,
            rng,
        )?)
    }
}

fn model_summary(model: &dyn Model) -> String {
    let mut out = format!("{}: {} parameters\n", model.arch(), param_count(model));
    for (name, layer) in model.layers() {
        let kind = match &layer.weights {
            shift_nn::LayerWeights::Float(_) => "float".to_string(),
            shift_nn::LayerWeights::Shift(_, o) => format!(
                "shift {:?}, weight bits {}, activation bits {}/{}, {:?} rounding",
                o.shift_type,
                o.weight_bits,
                o.act.int_bits(),
                o.act.frac_bits(),
                o.rounding
            ),
        };
        out += &format!("  {name}: {:?} ({kind})\n", layer.shape);
    }
    out
}

/// Builds the model, loads or converts weights, opens the data, then trains or evaluates,
/// writing the reference's output folder. The same path serves every dataset; `deepshift
/// mnist` draws from the RNG in the same order as before this was shared.
pub fn run_training(task: Task, common: &CommonArgs, argv: &[String]) -> Result<()> {
    let act = common.validate()?;
    if common.evaluate && common.weights.is_none() && task.pretrained.is_none() {
        bail!("-e evaluates trained weights: give them with --weights FILE (or --pretrained True)");
    }
    let mut rng = ChaCha8Rng::seed_from_u64(common.seed);
    let mut model = build_model(task.zoo, &task.arch, &mut rng)?;
    let options = ShiftOptions {
        shift_type: common.shift_type,
        weight_bits: common.weight_bits,
        act,
        rounding: common.rounding,
    };
    let rule = task.zoo.linear_rule(&task.arch);
    let weights = common.weights.as_deref().or(task.pretrained.as_deref());
    let converted = prepare_model(
        model.as_mut(),
        weights,
        common,
        options,
        rule,
        task.convert_from_scratch,
        &mut rng,
    )?;
    let kernel_note = if common.use_kernel == Some(true) {
        let (n, bytes, level) =
            crate::kernel_model::freeze_on_device(model.as_mut(), common.device)?;
        if n == 0 {
            bail!("--use-kernel: the model has no shift layers (give --shift-depth N)");
        }
        let mut note = format!(
            "shift layers on the integer kernels ({level}): {n}, {bytes} bytes of packed weights\n"
        );
        if common.shift_type == ShiftType::Q && common.rounding == Rounding::Stochastic {
            // the float path draws a new stochastic rounding of the Q weights every batch
            note += "note: the kernels hold each Q weight rounded once, deterministically \
                     (-r stochastic rounds anew on every batch without --use-kernel)\n";
        }
        note
    } else {
        String::new()
    };
    // The data is opened before anything is written, so a wrong path leaves no folder behind.
    let data = (task.open)(!common.evaluate)?;
    let outputs = model.num_classes();
    for set in std::iter::once(&data.test).chain(data.train.as_ref()) {
        if set.num_classes() > outputs {
            bail!(
                "the data has {} classes but {} has {outputs} outputs",
                set.num_classes(),
                model.arch()
            );
        }
    }
    let out_dir = common
        .model_dir
        .join(task.dataset)
        .join(model.arch())
        .join(shift_label(common, act));
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    write_text(&out_dir.join("command_args.txt"), &(argv.join(" ") + "\n"))?;
    let summary = model_summary(model.as_ref())
        + &format!("converted to shift layers: {converted}\n")
        + &kernel_note;
    write_text(&out_dir.join("model_summary.txt"), &summary)?;
    eprint!("{summary}");

    let hyper = &task.hyper;
    let progress = ProgressMode::detect();
    let Some(train_set) = data.train else {
        let eval = evaluate(
            model.as_ref(),
            data.test,
            hyper.test_batch_size,
            common.workers,
            progress,
        )?;
        TestLog {
            test_loss: eval.loss,
            test_accuracy: eval.top1,
        }
        .write(&out_dir.join("test_log.csv"))?;
        println!(
            "test: loss {:.6}, accuracy {}/{} ({:.2} %), top-5 {:.2} %",
            eval.loss,
            (eval.top1 * eval.images as f64).round(),
            eval.images,
            100.0 * eval.top1,
            100.0 * eval.top5
        );
        return Ok(());
    };
    let config = TrainConfig {
        epochs: hyper.epochs,
        batch_size: hyper.batch_size,
        test_batch_size: hyper.test_batch_size,
        optimizer: hyper.optimizer.clone(),
        schedule: hyper.schedule.clone(),
        seed: common.seed,
        workers: common.workers,
        out_dir: out_dir.clone(),
        progress,
    };
    let mut hook = MeterHook {
        meter: EnergyMeter::new(common.meter.config())?,
        csv: out_dir.join("emissions.csv"),
        open: None,
    };
    let mut trainer = Trainer::new(model.as_ref(), train_set, data.test, config)?;
    if let Some(path) = common.resume.as_deref() {
        trainer.restore(&Checkpoint::load(path)?)?;
    }
    let summary = trainer.run(Some(&mut hook))?;
    let mut weights = rounded_state_dict(model.as_ref())?;
    weights
        .metadata
        .extend(run_metadata(model.as_ref(), common, act));
    save_safetensors(&weights, &out_dir.join("weights.safetensors"))?;
    println!(
        "final test accuracy {:.2} %, best {:.2} %; outputs in {}",
        100.0 * summary.final_accuracy().unwrap_or(0.0),
        100.0 * summary.best_accuracy().unwrap_or(0.0),
        out_dir.display()
    );
    Ok(())
}

/// The `__metadata__` of the weight files a run writes.
fn run_metadata(
    model: &dyn Model,
    common: &CommonArgs,
    act: FixedPoint,
) -> std::collections::BTreeMap<String, String> {
    [
        ("arch".to_string(), model.arch().to_string()),
        ("shift_type".to_string(), format!("{:?}", common.shift_type)),
        ("shift_depth".to_string(), common.shift_depth.to_string()),
        ("weight_bits".to_string(), common.weight_bits.to_string()),
        (
            "activation_bits".to_string(),
            format!("{} {}", act.int_bits(), act.frac_bits()),
        ),
        ("format_version".to_string(), "1".to_string()),
    ]
    .into_iter()
    .collect()
}

/// `deepshift export --packed` / `--format pth`: builds the model as `-e` would (the same
/// flags), loads `--weights` and writes it with its shift layers packed ([`crate::export`]),
/// or as PyTorch's zip-format `weights.pth` (the rounded state dict, as the reference saves
/// it).
pub fn run_export(args: &crate::args::ExportArgs) -> Result<()> {
    use crate::args::{ExportDataset, ExportFormat};
    let common = &args.common;
    let format = match (args.packed, args.format) {
        (true, None | Some(ExportFormat::Packed)) | (false, Some(ExportFormat::Packed)) => {
            ExportFormat::Packed
        }
        (false, Some(ExportFormat::Pth)) => ExportFormat::Pth,
        (true, Some(ExportFormat::Pth)) => {
            bail!("--packed and --format pth ask for different files: give one")
        }
        (false, None) => bail!(
            "deepshift export needs a format: --packed (or --format packed) for a deployment \
             file, --format pth for PyTorch"
        ),
    };
    if common.weights.is_none() {
        bail!("deepshift export needs the trained weights: --weights IN");
    }
    let act = common.validate()?;
    let (zoo, arch) = match args.dataset {
        ExportDataset::Mnist => (
            shift_nn::models::DataDomain::Mnist,
            match args.model_type {
                crate::args::MnistType::Linear => "linear".to_string(),
                crate::args::MnistType::Conv => "conv".to_string(),
            },
        ),
        ExportDataset::Cifar10 => (
            shift_nn::models::DataDomain::Cifar10,
            args.arch.clone().unwrap_or_else(|| "resnet18".into()),
        ),
        ExportDataset::Imagenet => (
            shift_nn::models::DataDomain::Imagenet,
            args.arch.clone().unwrap_or_else(|| "resnet18".into()),
        ),
    };
    let mut rng = ChaCha8Rng::seed_from_u64(common.seed);
    let mut model = build_model(zoo, &arch, &mut rng)?;
    let options = ShiftOptions {
        shift_type: common.shift_type,
        weight_bits: common.weight_bits,
        act,
        rounding: common.rounding,
    };
    let rule = zoo.linear_rule(&arch);
    let weights = common.weights.as_deref();
    prepare_model(
        model.as_mut(),
        weights,
        common,
        options,
        rule,
        true,
        &mut rng,
    )?;
    if format == ExportFormat::Pth {
        let dict = rounded_state_dict(model.as_ref())?;
        let bytes = shift_nn::pth::save_pth(&dict, &args.out)?;
        println!(
            "wrote {}: {} tensors, {} bytes, PyTorch's zip format (torch.load(\"{}\", \
             weights_only=True) gives the state dict)",
            args.out.display(),
            dict.tensors.len(),
            bytes,
            args.out.display()
        );
        return Ok(());
    }
    let s = crate::export::write_packed(
        model.as_ref(),
        run_metadata(model.as_ref(), common, act),
        &args.out,
    )?;
    println!(
        "wrote {}: {} shift layers packed, {} bytes ({:.2} bits per shift weight); as f32: \
         {} bytes ({:.1}x larger), the f32 weights file of the run: {} bytes ({:.1}x larger)",
        args.out.display(),
        s.layers,
        s.bytes,
        8.0 * s.packed_weight_bytes as f64 / s.weights as f64,
        s.float_model_bytes,
        s.float_model_bytes as f64 / s.bytes as f64,
        s.f32_bytes,
        s.f32_bytes as f64 / s.bytes as f64
    );
    Ok(())
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    let mut file = atomic_write_file::AtomicWriteFile::open(path)
        .with_context(|| format!("creating a temporary file for {}", path.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.commit())
        .with_context(|| format!("writing {}", path.display()))
}
