//! `deepshift hpo report --study NAME [--storage URL] --out DIR`: the report of a stored study
//! (see `shift_automl::report`), written into DIR: `report.md`, `report.html` and the plots as
//! SVG and PNG, each file atomically.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use shift_automl::report::{Report, ReportFile, ReportInput, ReportOptions};
use shift_automl::storage::StorageUrl;

mod dsnn;

/// Where studies are stored when `--storage` is not given: a SQLite file in the current folder.
pub const DEFAULT_STORAGE: &str = "sqlite://deepshift-studies.db";

/// `deepshift hpo report` flags.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// The study's name.
    #[arg(long, value_name = "NAME")]
    pub study: String,
    /// Where the study is stored: `sqlite:///path/study.db`, a plain path, or
    /// `postgresql://user@host:port/db`.
    #[arg(long, value_name = "URL", default_value = DEFAULT_STORAGE)]
    pub storage: String,
    /// Folder to write the report into (created when missing; files there are replaced).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Hypervolume reference point, one coordinate per objective: `--ref 1.1,10`. Default:
    /// per objective, the worst finished value plus 10 % of the objective's range.
    #[arg(long = "ref", value_name = "R1,R2,...", allow_hyphen_values = true)]
    pub reference: Option<String>,
    /// Seed of the importance forests.
    #[arg(long, default_value_t = 0, value_name = "S")]
    pub seed: u64,
}

/// Loads the study, builds its report and writes the files.
pub fn run(args: &ReportArgs) -> Result<()> {
    // opening a SQLite URL creates the file: a report of a mistyped path would leave an empty
    // database behind and then say only that the study is missing
    if let Ok(StorageUrl::Sqlite(path)) = StorageUrl::parse(&args.storage) {
        if !path.exists() {
            bail!(
                "storage {}: {} does not exist (no study has been stored there)",
                args.storage,
                path.display()
            );
        }
    }
    let mut storage = shift_automl::storage::open(&args.storage)
        .with_context(|| format!("opening storage {}", args.storage))?;
    let record = storage
        .load_study(&args.study)
        .with_context(|| format!("loading study '{}' from {}", args.study, args.storage))?;
    let input = ReportInput::try_from(&record)?;
    let options = ReportOptions {
        reference: args
            .reference
            .as_deref()
            .map(crate::hpo::parse_reference)
            .transpose()?,
        seed: args.seed,
        ..ReportOptions::default()
    };
    let report = Report::build(&input, &options)?;
    let files = report.render()?;
    write_files(&args.out, &files)?;
    if let Some(setup) = dsnn::setup(&record)? {
        dsnn::write(&record, &setup, &input, &report, &options, &args.out)?;
        println!(
            "DSNN study: wrote {} and {}",
            args.out.join("dsnn.md").display(),
            args.out.join("inference").display()
        );
    }
    println!(
        "study '{}': {} configurations, {} on the front, hypervolume {} against {:?}",
        report.study,
        report.results.len(),
        report.front.len(),
        report.hypervolume,
        report.reference
    );
    println!(
        "wrote {} files to {} ({})",
        files.len(),
        args.out.display(),
        args.out.join("report.md").display()
    );
    Ok(())
}

/// Writes each file into `dir` atomically (temporary file, fsync, rename).
fn write_files(dir: &Path, files: &[ReportFile]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for f in files {
        let path = dir.join(&f.name);
        let mut w = atomic_write_file::AtomicWriteFile::open(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        std::io::Write::write_all(&mut w, &f.bytes)
            .with_context(|| format!("writing {}", path.display()))?;
        w.commit()
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
