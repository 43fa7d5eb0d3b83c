//! The `deepshift` command-line tool.

mod args;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse_from(args::normalise_argv(std::env::args()));
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: args::Cli) -> anyhow::Result<()> {
    let common = match &cli.command {
        args::Command::Energy(a) => return measure_energy(a),
        args::Command::Mnist(a) => &a.common,
        args::Command::Cifar10(a) => &a.common,
        args::Command::Imagenet(a) => &a.image.common,
    };
    common.validate()?;
    anyhow::bail!("training and evaluation are not implemented yet: shift-train is being written")
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
