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
        args::Command::Mnist(a) => &a.common,
        args::Command::Cifar10(a) => &a.common,
        args::Command::Imagenet(a) => &a.image.common,
    };
    common.validate()?;
    anyhow::bail!("training and evaluation are not implemented yet: shift-train is being written")
}
