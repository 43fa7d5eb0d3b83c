//! What the study tests share: the binary, the ZDT1 example, and reading a study back.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `deepshift` binary under test.
pub fn deepshift() -> Command {
    Command::new(env!("CARGO_BIN_EXE_deepshift"))
}

/// The repository's `examples/zdt1/` folder.
pub fn zdt1_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/zdt1")
}

/// `python3 examples/zdt1/objective.py`, as an objective command.
pub fn zdt1_cmd() -> String {
    format!("python3 {}", zdt1_dir().join("objective.py").display())
}

/// Runs `deepshift ARGS`, returning its output.
pub fn run(args: &[&str]) -> Output {
    deepshift().args(args).output().expect("deepshift starts")
}

/// Runs `deepshift ARGS` and checks that it succeeded.
pub fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "deepshift {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `deepshift hpo export --format json` of a study, parsed.
pub fn export_json(study: &str, storage: &str) -> Vec<serde_json::Value> {
    let text = ok(&[
        "hpo",
        "export",
        "--study",
        study,
        "--storage",
        storage,
        "--format",
        "json",
    ]);
    serde_json::from_str::<Vec<serde_json::Value>>(&text).expect("export is a JSON list")
}

/// Each trial's number, state, budget, configuration and objectives: what two runs of a
/// study with the same seed must agree on.
pub fn outcome(trials: &[serde_json::Value]) -> Vec<String> {
    trials
        .iter()
        .map(|t| {
            format!(
                "{} {} {} {} {}",
                t["number"], t["state"], t["budget"], t["config"], t["objectives"]
            )
        })
        .collect()
}

/// The PostgreSQL server of `DEEPSHIFT_TEST_POSTGRES`, or `None` after saying why the test
/// skips; with `CI` set a missing server fails instead.
pub fn postgres_or_skip() -> Option<String> {
    match std::env::var("DEEPSHIFT_TEST_POSTGRES") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but DEEPSHIFT_TEST_POSTGRES is not (start one with .ci/start-postgres)"
            );
            eprintln!("SKIPPED: DEEPSHIFT_TEST_POSTGRES is not set (export DEEPSHIFT_TEST_POSTGRES=$(.ci/start-postgres))");
            None
        }
    }
}

/// A name no earlier test run used (a PostgreSQL server outlives test runs).
pub fn unique(tag: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{tag}-{}-{t}", std::process::id())
}
