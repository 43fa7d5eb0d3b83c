//! `cargo xtask reproduce [--quick]`: runs the DeepShift README's MNIST commands (and its
//! CIFAR-10 commands when CIFAR-10 is present) with the `deepshift` binary and writes
//! `reports/reproduce.md` with the paper's and the measured accuracy, time per epoch and
//! energy per run; absent CIFAR-10 rows are listed as skipped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::rows::{self, Row};

/// Arguments of `cargo xtask reproduce`.
#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// One epoch per run instead of the reference's (MNIST: 10, CIFAR-10: 200 or 15).
    #[arg(long)]
    quick: bool,
    /// Epochs per run (overrides the reference's, or 1 with --quick).
    #[arg(long)]
    epochs: Option<usize>,
    /// Only run the rows whose id contains this text (e.g. `conv`); `autodsnn` runs only the
    /// AutoDSNN search.
    #[arg(long)]
    only: Option<String>,
    /// Where the report goes.
    #[arg(long, default_value = "reports/reproduce.md")]
    report: PathBuf,
    /// Leave out the AutoDSNN search (8 minutes with --quick, 30 without).
    #[arg(long)]
    no_autodsnn: bool,
    /// A Python with PyTorch: after each MNIST row, time one epoch of the equivalent PyTorch
    /// loop (`bench/torch_mnist_epoch.py`) on the same machine and report that ratio too.
    #[arg(long, value_name = "PYTHON")]
    torch_python: Option<PathBuf>,
}

struct Outcome<'a> {
    row: &'a Row,
    epochs: usize,
    run_dir: PathBuf,
    final_acc: f64,
    best_acc: f64,
    seconds_per_epoch: f64,
    energy_kwh: f64,
    emissions_kg: f64,
    energy_source: String,
    /// Seconds of one epoch of the equivalent PyTorch loop, measured right after this row.
    torch_measured: Option<f64>,
    /// Training + evaluation seconds per epoch, without start-up (from `emissions.csv`).
    loop_seconds_per_epoch: f64,
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
    let cifar_present = data_dir.join("cifar10").exists();
    let (all_rows, skipped) = rows::rows(cifar_present);
    let selected: Vec<&Row> = all_rows
        .iter()
        .filter(|r| args.only.as_deref().is_none_or(|o| r.id.contains(o)))
        .collect();
    let mut outcomes: Vec<Outcome> = Vec::new();
    for (i, row) in selected.iter().enumerate() {
        let epochs = args
            .epochs
            .unwrap_or(if args.quick { 1 } else { row.reference_epochs });
        eprintln!(
            "== [{}/{}] {} ({} epochs)",
            i + 1,
            selected.len(),
            row.id,
            epochs
        );
        let mut cmd_args: Vec<String> = vec![row.dataset.into()];
        cmd_args.extend(row.args.iter().cloned());
        cmd_args.extend([
            "--epochs".into(),
            epochs.to_string(),
            "--seed".into(),
            "1".into(),
            "--model-dir".into(),
            model_dir.display().to_string(),
            "--data-dir".into(),
            data_dir.display().to_string(),
        ]);
        if let Some(from) = &row.pretrained_from {
            let base = outcomes
                .iter()
                .find(|o| &o.row.id == from)
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
        let mut outcome = run_row(row, &deepshift, &cmd_args, epochs)?;
        if let (Some(python), "mnist") = (&args.torch_python, row.dataset) {
            outcome.torch_measured = Some(torch_epoch(python, &root, row, &data_dir)?);
        }
        outcomes.push(outcome);
    }
    let mut report = render(&outcomes, &skipped, args.quick, &data_dir);
    let autodsnn_selected = args.only.as_deref().is_none_or(|o| "autodsnn".contains(o));
    if autodsnn_selected && !args.no_autodsnn {
        let plan = crate::autodsnn::plan(args.quick);
        eprintln!(
            "== AutoDSNN: {} of DSNN search on MNIST conv",
            plan.time_budget
        );
        let reports_dir = args
            .report
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        report +=
            &crate::autodsnn::reproduce(&deepshift, &plan, &model_dir, &data_dir, reports_dir)?;
    }
    if let Some(parent) = args.report.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.report, report)
        .with_context(|| format!("writing {}", args.report.display()))?;
    eprintln!("report written to {}", args.report.display());
    Ok(())
}

fn run_row<'a>(
    row: &'a Row,
    deepshift: &Path,
    cmd_args: &[String],
    epochs: usize,
) -> Result<Outcome<'a>> {
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
        epochs,
        run_dir,
        final_acc: 100.0 * accs.last().copied().unwrap_or(f64::NAN),
        best_acc: 100.0 * accs.iter().copied().fold(f64::NAN, f64::max),
        seconds_per_epoch: seconds / epochs.max(1) as f64,
        energy_kwh: recent.iter().map(|r| r.energy_kwh).sum(),
        emissions_kg: recent.iter().map(|r| r.emissions_kg).sum(),
        energy_source: sources.join("+"),
        torch_measured: None,
        loop_seconds_per_epoch: recent.iter().map(|r| r.duration_s).sum::<f64>()
            / epochs.max(1) as f64,
    })
}

/// Times one epoch of `bench/torch_mnist_epoch.py` for the row's model and variant.
fn torch_epoch(python: &Path, root: &Path, row: &Row, data_dir: &Path) -> Result<f64> {
    let arg = |flag: &str| {
        row.args
            .iter()
            .position(|a| a == flag)
            .and_then(|i| row.args.get(i + 1))
            .cloned()
    };
    let ty = arg("--type").unwrap_or_else(|| "linear".into());
    let variant = arg("--shift-type").unwrap_or_else(|| "float".into());
    let script = root.join("bench").join("torch_mnist_epoch.py");
    eprintln!("   PyTorch: {ty} {variant}, one epoch");
    let out = Command::new(python)
        .arg(&script)
        .args(["--type", &ty, "--variant", &variant, "--data"])
        .arg(data_dir.join("mnist"))
        .output()
        .with_context(|| format!("running {} {}", python.display(), script.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let value: serde_json::Value = serde_json::from_str(text.trim())
        .with_context(|| format!("{} printed {text:?}", script.display()))?;
    value["seconds_per_epoch"]
        .as_f64()
        .with_context(|| format!("no seconds_per_epoch in {text:?}"))
}

fn render(outcomes: &[Outcome], skipped: &[Row], quick: bool, data_dir: &Path) -> String {
    let mut s = String::new();
    s += "# DeepShift reproduction (MNIST, CIFAR-10)\n\n";
    let epochs: Vec<String> = outcomes.iter().map(|o| o.epochs.to_string()).collect();
    let mut distinct = epochs;
    distinct.sort_unstable_by_key(|e| e.parse::<usize>().unwrap_or(0));
    distinct.dedup();
    s += &format!(
        "Generated by `cargo xtask reproduce{}` ({} epoch(s) per run, seed 1, data from {}).\n",
        if quick { " --quick" } else { "" },
        distinct.join("/"),
        data_dir.display()
    );
    if quick {
        s += "\n**Quick mode**: one epoch per run, so accuracies are below the paper's figures by design.\n";
    }
    s += "\nAccuracy is top-1 on the test set (10,000 images). Time per epoch is the wall time of the whole command \
          (training + test + start-up) divided by the epochs. Energy covers the training and evaluation regions \
          of the run (`emissions.csv`); `estimate` means no power counters were readable on this machine \
          (CPU time x per-thread TDP share + RAM), see shift-energy. PyTorch s / epoch is the original script's \
          time for one MNIST epoch with test on this machine kind, as given in issue 5 (not measured by this command); \
          time ratio = ours / PyTorch's (below 1 is faster). With `--torch-python PY`, one epoch of \
          `bench/torch_mnist_epoch.py` (the same models, optimisers and per-sample data path in PyTorch) is \
          timed right after each MNIST row and compared with our training + evaluation time per epoch \
          (start-up excluded on both sides, from `emissions.csv`). Other processes running at the same time inflate \
          our times.\n\n";
    let sections = [
        ("mnist", "scratch", "MNIST, train from scratch"),
        ("mnist", "pretrained", "MNIST, train from pre-trained"),
        ("cifar10", "scratch", "CIFAR-10, train from scratch"),
        ("cifar10", "pretrained", "CIFAR-10, train from pre-trained"),
        (
            "cifar10",
            "fewer-bits",
            "CIFAR-10, using fewer bits (resnet18)",
        ),
    ];
    for (dataset, table, title) in sections {
        let rows: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| o.row.dataset == dataset && o.row.table == table)
            .collect();
        if rows.is_empty() {
            continue;
        }
        s += &format!("## {title}\n\n| model | variant | epochs | paper % | final % | best % | best - paper | s / epoch | PyTorch s / epoch | time ratio | train + test s / epoch | PyTorch loop s / epoch, measured | ratio to measured | energy kWh | kg CO2eq | source | run folder |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for o in rows {
            let torch = rows::torch_seconds_per_epoch(o.row);
            let (torch_s, ratio) = match torch {
                Some(t) => (format!("{t:.1}"), format!("{:.2}", o.seconds_per_epoch / t)),
                None => ("n/a".into(), "n/a".into()),
            };
            s += &format!(
                "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {:+.2} | {:.1} | {} | {} | {:.1} | {} | {} | {:.3e} | {:.3e} | {} | `{}` |\n",
                o.row.model, o.row.variant, o.epochs, o.row.paper, o.final_acc, o.best_acc,
                o.best_acc - o.row.paper, o.seconds_per_epoch, torch_s, ratio,
                o.loop_seconds_per_epoch,
                o.torch_measured.map_or("not run".into(), |t| format!("{t:.1}")),
                o.torch_measured.map_or("n/a".into(), |t| format!("{:.2}", o.loop_seconds_per_epoch / t)),
                o.energy_kwh, o.emissions_kg, o.energy_source, o.run_dir.display()
            );
        }
        s += "\n";
    }
    if !skipped.is_empty() {
        s += &format!(
            "## CIFAR-10: skipped\n\nCIFAR-10 is not present in {} (put the official binary batches there, \
             `cargo xtask data cifar10` checks them), so these {} rows of the DeepShift README were not run:\n\n\
             | id | model | variant | paper % | reference epochs |\n|---|---|---|---|---|\n",
            data_dir.join("cifar10").display(),
            skipped.len()
        );
        for r in skipped {
            s += &format!(
                "| `{}` | {} | {} | {:.2} | {} |\n",
                r.id, r.model, r.variant, r.paper, r.reference_epochs
            );
        }
    }
    s
}
