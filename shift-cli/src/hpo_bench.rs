//! `deepshift hpo bench`: the benchmark tables of shift-automl (full fidelity, 60 evaluations;
//! multi-fidelity, budget 1620) and the time per ask at 100 and 500 trials.

use anyhow::{bail, Result};
use clap::Args;
use shift_automl::bench::{overhead, run_bench, BenchConfig, Method, Progress};
use shift_automl::problems::Problem;

/// Flags of `deepshift hpo bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Problems, comma-separated (zdt1, zdt2, zdt3, dtlz2).
    #[arg(long, value_delimiter = ',', default_value = "zdt1,zdt2,zdt3,dtlz2")]
    pub problems: Vec<String>,
    /// Methods, comma-separated; each goes into the tables it belongs to (random, parego and gp
    /// into both, the multi-fidelity ones into the second). Default: all.
    #[arg(long, value_delimiter = ',')]
    pub methods: Option<Vec<String>>,
    /// Seeds per cell (0..N).
    #[arg(long, default_value_t = 10)]
    pub seeds: u64,
    /// Only this table: "full" or "mf".
    #[arg(long)]
    pub table: Option<String>,
    /// Print the report as JSON (all runs) instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Instead of the tables, the median time per ask over runs of 100 and 500 trials (ZDT1 and
    /// DTLZ2, seed 0) of the chosen methods (default: gp).
    #[arg(long)]
    pub overhead: bool,
}

/// Runs the command.
pub fn run(args: &BenchArgs) -> Result<()> {
    let problems = args
        .problems
        .iter()
        .map(|p| Problem::from_name(p))
        .collect::<Result<Vec<_>, _>>()?;
    let methods = match &args.methods {
        Some(v) => v
            .iter()
            .map(|m| Method::from_name(m))
            .collect::<Result<Vec<_>, _>>()?,
        None if args.overhead => vec![Method::Gp],
        None => Method::ALL.to_vec(),
    };
    if args.overhead {
        for &m in &methods {
            for p in [Problem::Zdt1, Problem::Dtlz2] {
                for n in [100, 500] {
                    let s = overhead(p, m, 0, n)?;
                    println!(
                        "{:<12} {:<6} {n:>4} trials: median {:>7.2} ms per ask (max {:.1} ms)",
                        m.name(),
                        p.name(),
                        1e3 * s.median,
                        1e3 * s.max
                    );
                }
            }
        }
        return Ok(());
    }
    let (full, mf) = match args.table.as_deref() {
        None => (true, true),
        Some("full") => (true, false),
        Some("mf") => (false, true),
        Some(t) => bail!("--table takes full or mf, not {t}"),
    };
    let config = BenchConfig {
        problems,
        full_methods: if full {
            methods
                .iter()
                .copied()
                .filter(|m| !m.is_multi_fidelity())
                .collect()
        } else {
            Vec::new()
        },
        mf_methods: if mf { methods.clone() } else { Vec::new() },
        seeds: args.seeds,
        ..BenchConfig::default()
    };
    let mut report_progress = |p: Progress<'_>| {
        let r = p.last;
        let table = if p.multi_fidelity {
            "multi-fidelity"
        } else {
            "full fidelity"
        };
        eprintln!(
            "[{}/{}] {table}: {} {} seed {}: {:.2} %",
            p.done, p.total, r.problem, r.method, r.seed, r.hv_percent
        );
    };
    let report = run_bench(&config, &mut report_progress)?;
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.render());
    }
    Ok(())
}
