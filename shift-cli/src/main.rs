//! The `deepshift` command-line tool: the reference's `mnist.py`, `cifar10.py` and
//! `imagenet.py` with their flags, plus `deepshift energy -- CMD`.
//!
//! `deepshift mnist`, `deepshift cifar10` and `deepshift imagenet DIR` share one path
//! ([`run::run_training`]); what differs ([`datasets`]) is the model zoo, the data and the
//! defaults of the reference scripts:
//!
//! | subcommand | lr | momentum | weight decay | batch | test batch | epochs | schedule |
//! |---|---|---|---|---|---|---|---|
//! | `mnist` | 0.01 | 0 | 0 | 64 | 1000 | 10 | constant |
//! | `cifar10` | 0.1 | 0.9 | 1e-4 | 128 | = batch | 200 | x0.1 at epochs 80, 120, 160, 180 |
//! | `imagenet` | 0.1 | 0.9 | 1e-4 | 256 | = batch | 90 | x0.1 every 30 epochs |
//!
//! `--lr-step-size N` replaces the schedule by x0.1 every N epochs; `--lr-schedule False`
//! (CIFAR-10, ImageNet) keeps the rate constant. Shift layers trained from scratch start from
//! the initialised float weights for MNIST and CIFAR-10 and from DeepShift's own
//! initialisation for ImageNet, as each script's `convert_weights` does.
//!
//! `-e --use-kernel` runs every shift layer on the exact integer kernels of
//! `shift-kernels-cpu` ([`kernel_model`]: weights packed once, the model's forward code
//! unchanged); float layers run as before. `deepshift export --packed --weights IN --out OUT`
//! (plus the model flags) writes the model with its shift weights packed ([`export`]);
//! `--format pth` writes PyTorch's zip-format `weights.pth` instead.
//!
//! `--weights` reads safetensors, packed exports and PyTorch files ([`weights_file`]);
//! `--pretrained True` finds torchvision's or the reference's pre-trained file locally
//! ([`pretrained`]; nothing is downloaded).
//!
//! Not done: the reference's resnet110 warm-up (lr x0.1) is not reproduced; the default
//! architecture is resnet18 for both CIFAR-10 and ImageNet, and
//! `--pretrained` defaults to False for ImageNet (the reference's imagenet.py defaults to
//! True).

mod args;
mod bench_kernels;
mod datasets;
mod export;
mod hpo;
mod hpo_bench;
mod hpo_export;
mod hpo_objective;
mod hpo_progress;
mod hpo_report;
mod hpo_study;
mod kernel_model;
mod pretrained;
mod run;
mod task;
mod weights_file;

// Training allocates and frees activation-sized buffers at every step: glibc maps and unmaps
// them each time (page faults and TLB shootdowns across the worker threads), mimalloc reuses
// its pages. Measured on MNIST conv: one training step 24 ms with glibc, 13 ms with mimalloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

extern "C" {
    /// mimalloc's option setter (linked through the allocator above).
    fn mi_option_set(option: std::os::raw::c_int, value: std::os::raw::c_long);
}

/// Keeps the pages mimalloc frees instead of returning them to the OS 10 ms later: every
/// step frees and reallocates the same activations, and a returned page costs a fault and a
/// kernel zeroing when it comes back (about a tenth of a ResNet-20 step, issue 15).
fn keep_freed_pages() {
    // `mi_option_purge_decommits` (5) off and `mi_option_purge_delay` (15) -1, i.e. never
    // purge; the numbering is the same in mimalloc v2 and v3.
    // SAFETY: plain option stores, valid at any time.
    unsafe {
        mi_option_set(5, 0);
        mi_option_set(15, -1);
    }
}

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    keep_freed_pages();
    let argv: Vec<String> = std::env::args().collect();
    let cli = args::Cli::parse_from(args::normalise_argv(argv.clone()));
    match dispatch(cli, &argv) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(cli: args::Cli, argv: &[String]) -> anyhow::Result<()> {
    match &cli.command {
        args::Command::Energy(a) => measure_energy(a),
        args::Command::Export(a) => run::run_export(a),
        args::Command::Bench(args::BenchCommand::Kernels(a)) => bench_kernels::run(a),
        args::Command::Hpo(c) => hpo::run(c),
        args::Command::Mnist(a) => run::run_training(datasets::mnist_task(a)?, &a.common, argv),
        args::Command::Cifar10(a) => run::run_training(datasets::cifar10_task(a)?, &a.common, argv),
        args::Command::Imagenet(a) => {
            run::run_training(datasets::imagenet_task(a)?, &a.image.common, argv)
        }
    }
}

/// `deepshift energy -- CMD ARGS`: runs the command, prints and appends its energy report.
fn measure_energy(args: &args::EnergyArgs) -> anyhow::Result<()> {
    use anyhow::Context;
    let mut config = args.meter.config();
    if args.machine {
        config.tracking_mode = shift_energy::TrackingMode::Machine;
    }
    let (status, report) = shift_energy::measure_command(&args.command, config)
        .with_context(|| format!("measuring `{}`", args.command.join(" ")))?;
    shift_energy::EmissionsCsv::append(&args.output, &report)
        .with_context(|| format!("appending to {}", args.output.display()))?;
    print!("{report}");
    println!("  written to {}", args.output.display());
    if !status.success() {
        anyhow::bail!("the measured command failed: {status}");
    }
    Ok(())
}
