//! The `deepshift` command-line tool.

mod args;
mod run;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
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
    let (dataset, common) = match &cli.command {
        args::Command::Energy(a) => return measure_energy(a),
        args::Command::Mnist(a) => return run::run_mnist(a, argv),
        args::Command::Cifar10(a) => ("cifar10", &a.common),
        args::Command::Imagenet(a) => ("imagenet", &a.image.common),
    };
    common.validate()?;
    anyhow::bail!(
        "`deepshift {dataset}` is not implemented yet: its model zoo and training defaults are being written; `deepshift mnist` works"
    )
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
