//! `deepshift hpo run --dataset`: one command runs a DSNN study with the shipped space, the
//! built-in objective and the reference DSNNs as its first trials; `export` carries each
//! trial's energy source; `report` adds the AutoDSNN summary with the test accuracy of the
//! front (real MNIST; skipped without it, except in CI). Bad set-ups are refused up front.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn deepshift(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deepshift"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn one_command_runs_a_dsnn_study_with_its_references_and_reports_it() {
    let Some(data) = common::mnist_root_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = data.display().to_string();
    let o = deepshift(
        dir.path(),
        &[
            "hpo",
            "run",
            "--study",
            "s",
            "--dataset",
            "mnist",
            "--arch",
            "linear",
            "--data-dir",
            &data,
            "--n-trials",
            "3",
            "--max-budget",
            "1",
            "--storage",
            "sqlite://s.db",
            "--no-progress",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));

    let o = deepshift(
        dir.path(),
        &[
            "hpo",
            "export",
            "--study",
            "s",
            "--storage",
            "sqlite://s.db",
            "--format",
            "json",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let trials: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let trials = trials.as_array().unwrap();
    assert_eq!(trials.len(), 3);
    // the reference DSNNs first, at the largest budget: mnist.py's default, then with RAdam
    assert_eq!(trials[0]["config"]["optimizer"], "sgd");
    assert_eq!(trials[0]["config"]["lr"], 0.01);
    assert_eq!(trials[0]["config"]["shift_type"], "PS");
    assert_eq!(trials[0]["config"]["shift_depth"], 3);
    assert_eq!(trials[1]["config"]["optimizer"], "radam");
    for t in trials {
        assert_eq!(t["state"], "done", "{t}");
        assert_eq!(t["budget"], 1.0);
        assert!(t["metadata"]["inference_energy_uj"].as_f64().unwrap() > 0.0);
    }

    let o = deepshift(
        dir.path(),
        &[
            "hpo",
            "export",
            "--study",
            "s",
            "--storage",
            "sqlite://s.db",
        ],
    );
    let csv = String::from_utf8(o.stdout).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = header
        .iter()
        .position(|h| *h == "provenance.energy_source")
        .unwrap_or_else(|| panic!("no energy source column: {header:?}"));
    for row in csv.lines().skip(1) {
        let cells: Vec<&str> = row.split(',').collect();
        assert!(!cells[col].is_empty(), "{row}");
    }

    let o = deepshift(
        dir.path(),
        &[
            "hpo",
            "report",
            "--study",
            "s",
            "--storage",
            "sqlite://s.db",
            "--out",
            "rep",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let md = std::fs::read_to_string(dir.path().join("rep/dsnn.md")).unwrap();
    assert!(md.contains("| default: mnist.py's DSNN |"), "{md}");
    assert!(md.contains("with --optimizer radam"), "{md}");
    assert!(md.contains("## Front: validation loss against the analytic inference energy"));
    assert!(
        !md.contains("n/a"),
        "every front member has a test accuracy: {md}"
    );
    let report = std::fs::read_to_string(dir.path().join("rep/report.md")).unwrap();
    assert!(
        report.contains("### Reference: default: mnist.py's DSNN"),
        "{report}"
    );
    assert!(dir.path().join("rep/inference/report.md").exists());
}

#[test]
fn impossible_dsnn_studies_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    for (args, expect) in [
        (
            &[
                "--dataset",
                "mnist",
                "--arch",
                "resnet20",
                "--n-trials",
                "2",
            ][..],
            "not a mnist architecture",
        ),
        (
            &[
                "--dataset",
                "cifar10",
                "--arch",
                "resnet32",
                "--n-trials",
                "2",
            ][..],
            "no search space is shipped for cifar10 resnet32",
        ),
        (&["--dataset", "mnist"][..], "a study needs a limit"),
        (
            &[
                "--dataset",
                "mnist",
                "--n-trials",
                "2",
                "--val-fraction",
                "1.5",
            ][..],
            "--val-fraction 1.5",
        ),
        (&["--n-trials", "2"][..], "--space"),
    ] {
        let mut all = vec!["hpo", "run", "--study", "x", "--storage", "sqlite://x.db"];
        all.extend_from_slice(args);
        let o = deepshift(dir.path(), &all);
        assert!(!o.status.success(), "{args:?}");
        assert!(text(&o).contains(expect), "{args:?}: {}", text(&o));
    }
}
