//! `cargo xtask reproduce [--quick]`: runs the DeepShift README's MNIST commands with the
//! `deepshift` binary on real MNIST and writes `reports/reproduce.md` with the paper's and
//! the measured accuracy, time per epoch and energy per run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;

/// Arguments of `cargo xtask reproduce`.
#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// One epoch per run instead of the reference's ten (finishes in minutes).
    #[arg(long)]
    quick: bool,
    /// Epochs per run (overrides the default of 10, or 1 with --quick).
    #[arg(long)]
    epochs: Option<usize>,
    /// Only run the rows whose id contains this text (e.g. `conv`).
    #[arg(long)]
    only: Option<String>,
    /// Where the report goes.
    #[arg(long, default_value = "reports/reproduce.md")]
    report: PathBuf,
}

/// One row of the DeepShift README's MNIST tables.
struct Row {
    id: &'static str,
    table: &'static str,
    model: &'static str,
    variant: &'static str,
    paper: f64,
    args: &'static [&'static str],
    /// The float run whose weights this row starts from.
    pretrained_from: Option<&'static str>,
}

const ROWS: &[Row] = &[
    Row {
        id: "linear-float",
        table: "scratch",
        model: "Simple FC",
        variant: "Original",
        paper: 96.92,
        args: &["--type", "linear"],
        pretrained_from: None,
    },
    Row {
        id: "linear-q",
        table: "scratch",
        model: "Simple FC",
        variant: "DeepShift-Q",
        paper: 97.03,
        args: &[
            "--type",
            "linear",
            "--shift-depth",
            "1000",
            "--shift-type",
            "Q",
        ],
        pretrained_from: None,
    },
    Row {
        id: "linear-ps",
        table: "scratch",
        model: "Simple FC",
        variant: "DeepShift-PS",
        paper: 98.26,
        args: &[
            "--type",
            "linear",
            "--shift-depth",
            "1000",
            "--shift-type",
            "PS",
            "--opt",
            "radam",
        ],
        pretrained_from: None,
    },
    Row {
        id: "conv-float",
        table: "scratch",
        model: "Simple Conv",
        variant: "Original",
        paper: 98.75,
        args: &["--type", "conv"],
        pretrained_from: None,
    },
    Row {
        id: "conv-q",
        table: "scratch",
        model: "Simple Conv",
        variant: "DeepShift-Q",
        paper: 98.81,
        args: &[
            "--type",
            "conv",
            "--shift-depth",
            "1000",
            "--shift-type",
            "Q",
        ],
        pretrained_from: None,
    },
    Row {
        id: "conv-ps",
        table: "scratch",
        model: "Simple Conv",
        variant: "DeepShift-PS",
        paper: 99.12,
        args: &[
            "--type",
            "conv",
            "--shift-depth",
            "1000",
            "--shift-type",
            "PS",
            "--opt",
            "radam",
        ],
        pretrained_from: None,
    },
    Row {
        id: "linear-q-pretrained",
        table: "pretrained",
        model: "Simple FC",
        variant: "DeepShift-Q",
        paper: 97.85,
        args: &[
            "--type",
            "linear",
            "--shift-depth",
            "1000",
            "--shift-type",
            "Q",
            "--desc",
            "from_pretrained",
        ],
        pretrained_from: Some("linear-float"),
    },
    Row {
        id: "linear-ps-pretrained",
        table: "pretrained",
        model: "Simple FC",
        variant: "DeepShift-PS",
        paper: 98.26,
        args: &[
            "--type",
            "linear",
            "--shift-depth",
            "1000",
            "--shift-type",
            "PS",
            "--opt",
            "radam",
            "--desc",
            "from_pretrained",
        ],
        pretrained_from: Some("linear-float"),
    },
    Row {
        id: "conv-q-pretrained",
        table: "pretrained",
        model: "Simple Conv",
        variant: "DeepShift-Q",
        paper: 99.15,
        args: &[
            "--type",
            "conv",
            "--shift-depth",
            "1000",
            "--shift-type",
            "Q",
            "--desc",
            "from_pretrained",
        ],
        pretrained_from: Some("conv-float"),
    },
    Row {
        id: "conv-ps-pretrained",
        table: "pretrained",
        model: "Simple Conv",
        variant: "DeepShift-PS",
        paper: 99.16,
        args: &[
            "--type",
            "conv",
            "--shift-depth",
            "1000",
            "--shift-type",
            "PS",
            "--opt",
            "radam",
            "--desc",
            "from_pretrained",
        ],
        pretrained_from: Some("conv-float"),
    },
];

struct Outcome {
    row: &'static Row,
    run_dir: PathBuf,
    final_acc: f64,
    best_acc: f64,
    seconds_per_epoch: f64,
    energy_kwh: f64,
    emissions_kg: f64,
    energy_source: String,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Runs `cargo xtask reproduce`.
pub fn run(args: &ReproduceArgs) -> Result<()> {
    let root = workspace_root();
    std::env::set_current_dir(&root)?;
    let data_dir = crate::data::default_data_dir();
    crate::data::fetch_mnist(&data_dir)?;
    let epochs = args.epochs.unwrap_or(if args.quick { 1 } else { 10 });
    let model_dir = root.join(if args.quick {
        "models/reproduce-quick"
    } else {
        "models/reproduce"
    });
    eprintln!("building deepshift (release)...");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "-q", "-p", "shift-cli"])
        .status()?;
    if !status.success() {
        bail!("building deepshift failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let deepshift = target.join("release").join("deepshift");
    let rows: Vec<&Row> = ROWS
        .iter()
        .filter(|r| args.only.as_deref().is_none_or(|o| r.id.contains(o)))
        .collect();
    let mut outcomes: Vec<Outcome> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        eprintln!(
            "== [{}/{}] {} ({} epochs)",
            i + 1,
            rows.len(),
            row.id,
            epochs
        );
        let mut cmd_args: Vec<String> = vec!["mnist".into()];
        cmd_args.extend(row.args.iter().map(|s| s.to_string()));
        cmd_args.extend([
            "--epochs".into(),
            epochs.to_string(),
            "--seed".into(),
            "1".into(),
        ]);
        cmd_args.extend([
            "--model-dir".into(),
            model_dir.display().to_string(),
            "--data-dir".into(),
            data_dir.display().to_string(),
        ]);
        if let Some(from) = row.pretrained_from {
            let base = outcomes
                .iter()
                .find(|o| o.row.id == from)
                .with_context(|| {
                    format!(
                        "{} starts from {from}'s weights: run that row too (drop --only)",
                        row.id
                    )
                })?;
            cmd_args.extend([
                "--weights".into(),
                base.run_dir
                    .join("weights.safetensors")
                    .display()
                    .to_string(),
            ]);
        }
        outcomes.push(run_row(row, &deepshift, &cmd_args, epochs)?);
    }
    let report = render(&outcomes, epochs, args.quick, &data_dir);
    if let Some(parent) = args.report.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.report, report)
        .with_context(|| format!("writing {}", args.report.display()))?;
    eprintln!("report written to {}", args.report.display());
    Ok(())
}

fn run_row(
    row: &'static Row,
    deepshift: &Path,
    cmd_args: &[String],
    epochs: usize,
) -> Result<Outcome> {
    let started = Instant::now();
    let output = Command::new(deepshift)
        .args(cmd_args)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", deepshift.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    if !output.status.success() {
        bail!(
            "deepshift {} failed ({})",
            cmd_args.join(" "),
            output.status
        );
    }
    let run_dir = stdout
        .lines()
        .find_map(|l| l.split("outputs in ").nth(1))
        .map(PathBuf::from)
        .context("deepshift did not say where its outputs are")?;
    let log = std::fs::read_to_string(run_dir.join("train_log.csv"))?;
    let accs: Vec<f64> = log
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(3)?.parse().ok())
        .collect();
    let accs = &accs[accs.len().saturating_sub(epochs)..];
    let records =
        shift_energy::EmissionsCsv::read(&run_dir.join("emissions.csv")).unwrap_or_default();
    let recent = &records[records.len().saturating_sub(2 * epochs)..];
    let mut sources: Vec<String> = recent.iter().map(|r| r.source.clone()).collect();
    sources.sort();
    sources.dedup();
    Ok(Outcome {
        row,
        run_dir,
        final_acc: 100.0 * accs.last().copied().unwrap_or(f64::NAN),
        best_acc: 100.0 * accs.iter().copied().fold(f64::NAN, f64::max),
        seconds_per_epoch: seconds / epochs.max(1) as f64,
        energy_kwh: recent.iter().map(|r| r.energy_kwh).sum(),
        emissions_kg: recent.iter().map(|r| r.emissions_kg).sum(),
        energy_source: sources.join("+"),
    })
}

/// Seconds per epoch (train + test) of the original PyTorch script on this machine kind, as
/// given in the project's issue 5 (not measured by this command).
fn torch_seconds_per_epoch(row: &Row) -> f64 {
    match (row.model, row.variant) {
        ("Simple FC", "Original") => 10.7,
        ("Simple FC", "DeepShift-Q") => 15.2,
        ("Simple FC", "DeepShift-PS") => 13.6,
        ("Simple Conv", "Original") => 20.8,
        ("Simple Conv", "DeepShift-Q") => 25.3,
        _ => 28.2,
    }
}

fn render(outcomes: &[Outcome], epochs: usize, quick: bool, data_dir: &Path) -> String {
    let mut s = String::new();
    s += "# DeepShift MNIST reproduction\n\n";
    s += &format!(
        "Generated by `cargo xtask reproduce{}` ({epochs} epoch(s) per run, seed 1, MNIST from {}).\n",
        if quick { " --quick" } else { "" },
        data_dir.display()
    );
    if quick {
        s += "\n**Quick mode**: one epoch per run, so accuracies are below the paper's 10-epoch figures by design.\n";
    }
    s += "\nAccuracy is top-1 on the 10,000 test images. Time per epoch is the wall time of the whole command \
          (training + test + start-up) divided by the epochs. Energy covers the training and evaluation regions \
          of the run (`emissions.csv`); `estimate` means no power counters were readable on this machine \
          (CPU time x per-thread TDP share + RAM), see shift-energy. PyTorch s / epoch is the original script's \
          time for one epoch with test on this machine kind, as given in issue 5 (not measured by this command); \
          time ratio = ours / PyTorch's (below 1 is faster). Other processes running at the same time inflate \
          our times.\n\n";
    for (table, title) in [
        ("scratch", "Train from scratch"),
        ("pretrained", "Train from pre-trained"),
    ] {
        s += &format!("## {title}\n\n| model | variant | paper % | final % | best % | final - paper | s / epoch | PyTorch s / epoch | time ratio | energy kWh | kg CO2eq | source | run folder |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for o in outcomes.iter().filter(|o| o.row.table == table) {
            s += &format!(
                "| {} | {} | {:.2} | {:.2} | {:.2} | {:+.2} | {:.1} | {:.1} | {:.2} | {:.3e} | {:.3e} | {} | `{}` |\n",
                o.row.model, o.row.variant, o.row.paper, o.final_acc, o.best_acc, o.final_acc - o.row.paper,
                o.seconds_per_epoch, torch_seconds_per_epoch(o.row), o.seconds_per_epoch / torch_seconds_per_epoch(o.row),
                o.energy_kwh, o.emissions_kg, o.energy_source,
                o.run_dir.display()
            );
        }
        s += "\n";
    }
    s += "## CIFAR-10\n\nSkipped: the CIFAR-10 model zoo (resnet20, resnet18, ...) is not implemented yet in shift-nn";
    s += if data_dir.join("cifar10").exists() {
        " (CIFAR-10 data is present).\n"
    } else {
        ", and CIFAR-10 is not present (put the binary batches in data/cifar10).\n"
    };
    s
}
