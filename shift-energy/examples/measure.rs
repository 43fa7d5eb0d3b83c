//! Measures a command and appends its row to `emissions.csv` in the current folder:
//! `cargo run -p shift-energy --example measure -- [--country CC] [--cpu-tdp W]
//! [--machine] -- CMD ARGS`. The library call behind `deepshift energy -- CMD ARGS`.

use std::path::Path;

use shift_energy::{measure_command, EmissionsCsv, MeterConfig, TrackingMode};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let split = args
        .iter()
        .position(|a| a == "--")
        .ok_or("usage: [OPTIONS] -- CMD ARGS")?;
    let (opts, cmd) = (&args[..split], &args[split + 1..]);
    let mut config = MeterConfig::default();
    let mut it = opts.iter();
    while let Some(o) = it.next() {
        match o.as_str() {
            "--country" => config.country = Some(it.next().ok_or("--country CC")?.clone()),
            "--cpu-tdp" => config.cpu_tdp_override = Some(it.next().ok_or("--cpu-tdp W")?.parse()?),
            "--machine" => config.tracking_mode = TrackingMode::Machine,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let (status, report) = measure_command(cmd, config)?;
    EmissionsCsv::append(Path::new("emissions.csv"), &report)?;
    print!("{report}");
    println!(
        "  cpu time {:.3} s; exit status {status}",
        report.cpu_time_s
    );
    Ok(())
}
