//! `deepshift hpo ...`: the search tools of shift-automl on files: inspect and sample a
//! ConfigSpace JSON space, compute the hypervolume of a set of objective vectors.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use shift_automl::space::HpKind;
use shift_automl::ConfigSpace;

/// The `deepshift hpo` subcommands.
#[derive(Debug, Subcommand)]
pub enum HpoCommand {
    /// Validate a ConfigSpace JSON file, describe it and print sampled configurations.
    Space(SpaceArgs),
    /// Print the exact hypervolume (minimisation) of the points in a CSV file.
    Hypervolume(HypervolumeArgs),
    /// Train and measure one DSNN trial read from standard input (the objective program of
    /// `--objective-cmd`): loss on a held-out validation split, energy, inference energy, size.
    Objective(crate::hpo_objective::ObjectiveArgs),
    /// Benchmark the search methods on ZDT1-3 and DTLZ2 (full fidelity and multi-fidelity).
    Bench(crate::hpo_bench::BenchArgs),
    /// Write a stored study's report (Pareto front, hypervolume, the default configuration,
    /// hyperparameter importance) as markdown, HTML and plots.
    Report(crate::hpo_report::ReportArgs),
    /// Create a study of any program as the objective and run it until its limits.
    Run(crate::hpo_study::RunArgs),
    /// Create a study without running trials (workers join it with `worker`).
    Create(crate::hpo_study::RunArgs),
    /// Continue a study after its driver stopped or died.
    Resume(crate::hpo_study::WorkerArgs),
    /// Join a study as one more worker, from any machine that reaches its storage.
    Worker(crate::hpo_study::WorkerArgs),
    /// Show a study: trials by state, budget and time used, the best front so far.
    Status(crate::hpo_export::StatusArgs),
    /// Write a study's trials as CSV or JSON.
    Export(crate::hpo_export::ExportArgs),
    /// List the search methods a study can use.
    Methods,
}

/// `deepshift hpo space` flags.
#[derive(Debug, Clone, Args)]
pub struct SpaceArgs {
    /// The space, in ConfigSpace's JSON format (`ConfigurationSpace.to_json`).
    pub file: PathBuf,
    /// Print this many sampled configurations, one JSON object per line.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub sample: usize,
    /// Seed of the sampler.
    #[arg(long, default_value_t = 0, value_name = "S")]
    pub seed: u64,
}

/// `deepshift hpo hypervolume` flags.
#[derive(Debug, Clone, Args)]
pub struct HypervolumeArgs {
    /// CSV file, one point per line, one objective per column (minimised); a first line that
    /// is not all numbers is a header and skipped.
    pub file: PathBuf,
    /// Reference point, one coordinate per objective: `--ref 1.1,1.1`.
    #[arg(long = "ref", value_name = "R1,R2,...", allow_hyphen_values = true)]
    pub reference: String,
}

/// Runs a `deepshift hpo` subcommand.
pub fn run(cmd: &HpoCommand) -> Result<()> {
    match cmd {
        HpoCommand::Space(a) => space(a),
        HpoCommand::Hypervolume(a) => hypervolume(a),
        HpoCommand::Objective(a) => crate::hpo_objective::run(a),
        HpoCommand::Bench(a) => crate::hpo_bench::run(a),
        HpoCommand::Report(a) => crate::hpo_report::run(a),
        HpoCommand::Run(a) => crate::hpo_study::run(a),
        HpoCommand::Create(a) => crate::hpo_study::create_only(a),
        HpoCommand::Resume(a) => crate::hpo_study::join(a, true),
        HpoCommand::Worker(a) => crate::hpo_study::join(a, false),
        HpoCommand::Status(a) => crate::hpo_export::status(a),
        HpoCommand::Export(a) => crate::hpo_export::export(a),
        HpoCommand::Methods => crate::hpo_study::list_methods(),
    }
}

/// Reads and checks a ConfigSpace JSON file; errors name the file.
pub fn read_space(path: &Path) -> Result<ConfigSpace> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    ConfigSpace::from_json(&text).with_context(|| format!("{}", path.display()))
}

fn space(args: &SpaceArgs) -> Result<()> {
    use rand::SeedableRng;
    let space = read_space(&args.file)?;
    print!("{}", describe(&space, &args.file));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
    for _ in 0..args.sample {
        let c = space
            .try_sample(&mut rng)
            .with_context(|| format!("{}: sampling", args.file.display()))?;
        println!("{c}");
    }
    Ok(())
}

/// The description `deepshift hpo space` prints: one line per hyperparameter in encoding
/// order, then the forbidden clauses.
fn describe(space: &ConfigSpace, path: &Path) -> String {
    let mut out = String::new();
    let name = space.name().map(|n| format!(" '{n}'")).unwrap_or_default();
    let _ = writeln!(
        out,
        "space{name} ({}): {} hyperparameters, {} conditions, {} forbidden clauses",
        path.display(),
        space.len(),
        space.conditions().len(),
        space.forbiddens().len()
    );
    let width = space.names().iter().map(|n| n.len()).max().unwrap_or(0);
    for h in space.hyperparameters() {
        let values = match h.kind() {
            HpKind::Constant { value } => format!("value {value}"),
            _ => format!("{}, default {}", h.describe_range(), h.default_value()),
        };
        let _ = write!(out, "  {:width$}  {:13}  {values}", h.name(), h.type_name());
        if let Some(c) = space.condition_of(h.name()) {
            let _ = write!(out, "  (active if {c})");
        }
        out.push('\n');
    }
    if !space.forbiddens().is_empty() {
        out.push_str("forbidden:\n");
        for f in space.forbiddens() {
            let _ = writeln!(out, "  {f}");
        }
    }
    out
}

fn hypervolume(args: &HypervolumeArgs) -> Result<()> {
    let reference = parse_reference(&args.reference)?;
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let points =
        parse_points(&text, reference.len()).with_context(|| format!("{}", args.file.display()))?;
    let inside = points
        .iter()
        .filter(|p| p.iter().zip(&reference).all(|(x, r)| x < r))
        .count();
    println!(
        "{} points, {} of them dominate the reference point {:?}",
        points.len(),
        inside,
        reference
    );
    println!("{}", shift_automl::pareto::hypervolume(&points, &reference));
    Ok(())
}

/// Parses `--ref R1,R2,...`: finite numbers separated by commas.
pub fn parse_reference(text: &str) -> Result<Vec<f64>> {
    let reference = text
        .split(',')
        .map(|s| {
            let s = s.trim();
            match s.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(x),
                _ => bail!("--ref: '{s}' is not a finite number (expected e.g. --ref 1.1,1.1)"),
            }
        })
        .collect::<Result<Vec<f64>>>()?;
    Ok(reference)
}

/// The points of a CSV file with `dims` columns. Blank lines are skipped; so is a first line
/// with a cell that is not a number (a header).
fn parse_points(text: &str, dims: usize) -> Result<Vec<Vec<f64>>> {
    let mut points = Vec::new();
    let mut first = true;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let numbers: Vec<Option<f64>> = cells.iter().map(|c| c.parse::<f64>().ok()).collect();
        if std::mem::take(&mut first) && numbers.iter().any(Option::is_none) {
            continue;
        }
        if cells.len() != dims {
            bail!(
                "line {}: {} values, but --ref has {dims} coordinates",
                i + 1,
                cells.len()
            );
        }
        let point = cells
            .iter()
            .zip(numbers)
            .map(|(c, x)| match x {
                Some(x) if x.is_finite() => Ok(x),
                _ => bail!("line {}: '{c}' is not a finite number", i + 1),
            })
            .collect::<Result<Vec<f64>>>()?;
        points.push(point);
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_header_and_blank_lines() {
        let p = parse_points("loss,energy\n\n0.1, 2\n0.5,1\n", 2).unwrap();
        assert_eq!(p, vec![vec![0.1, 2.0], vec![0.5, 1.0]]);
    }

    #[test]
    fn csv_errors_name_the_line() {
        let e = parse_points("1,2\n3,x\n", 2).unwrap_err().to_string();
        assert!(e.contains("line 2: 'x' is not a finite number"), "{e}");
        let e = parse_points("a,b\n1,2,3\n", 2).unwrap_err().to_string();
        assert!(e.contains("line 2: 3 values"), "{e}");
        let e = parse_points("1,nan\n", 2).unwrap_err().to_string();
        assert!(e.contains("line 1: 'nan'"), "{e}");
    }

    #[test]
    fn reference_parsing() {
        assert_eq!(parse_reference("1, -2.5").unwrap(), vec![1.0, -2.5]);
        assert_eq!(parse_reference("1").unwrap(), vec![1.0]);
        assert!(parse_reference("").is_err());
        assert!(parse_reference("1,b").is_err());
    }
}
