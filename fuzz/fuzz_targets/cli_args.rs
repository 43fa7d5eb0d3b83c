//! The command line of `deepshift` (clap, shift-cli/src/args.rs): the input is split at NUL
//! bytes into arguments, normalised as `main` does (`-wb` -> `--weight-bits`, ...), parsed,
//! and the training commands' flag combinations checked (`CommonArgs::validate`).
#![no_main]
// Only the parser is used here; the rest of the binary is compiled along.
#![allow(dead_code, unused_imports)]

include!("cli_modules.rs");

use clap::Parser;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let argv: Vec<String> = std::iter::once("deepshift".to_string())
        .chain(
            data.split(|&b| b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned()),
        )
        .collect();
    match args::Cli::try_parse_from(args::normalise_argv(argv)) {
        Ok(cli) => {
            let common = match &cli.command {
                args::Command::Mnist(a) => Some(&a.common),
                args::Command::Cifar10(a) => Some(&a.common),
                args::Command::Imagenet(a) => Some(&a.image.common),
                _ => None,
            };
            if let Some(Err(e)) = common.map(|c| c.validate()) {
                let _ = format!("{e:#}");
            }
        }
        Err(e) => {
            let _ = e.render().to_string();
        }
    }
});
