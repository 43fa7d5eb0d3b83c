//! `deepshift hpo space` and `deepshift hpo hypervolume` on files, through the built binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn deepshift(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deepshift"))
        .args(args)
        .output()
        .expect("deepshift runs")
}

fn succeeds(args: &[&str]) -> String {
    let out = deepshift(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?} failed:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails_with(args: &[&str], needles: &[&str]) {
    let out = deepshift(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} should fail");
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{args:?}: stderr lacks `{needle}`:\n{stderr}"
        );
    }
    assert!(!stderr.contains("panicked"), "{args:?} panicked:\n{stderr}");
}

/// The ConfigSpace 1.2 file of shift-automl's tests.
fn dsnn_space() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shift-automl/tests/data/dsnn_space.json")
        .to_string_lossy()
        .into_owned()
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn space_describes_and_samples() {
    let file = dsnn_space();
    let out = succeeds(&["hpo", "space", &file, "--sample", "5", "--seed", "3"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].contains("17 hyperparameters, 7 conditions, 4 forbidden clauses"),
        "{out}"
    );
    let lr = lines.iter().find(|l| l.contains(" lr ")).unwrap();
    assert!(lr.contains("uniform_float") && lr.contains("[0.001, 0.2], log scale"));
    assert!(lr.contains("default 0.1"), "{lr}");
    let mom = lines.iter().find(|l| l.contains(" momentum ")).unwrap();
    assert!(
        mom.contains("active if momentum | optimizer == 'SGD'"),
        "{mom}"
    );
    assert!(
        out.contains("Forbidden: activation_integer_bits == 4"),
        "{out}"
    );
    // The last five lines are the configurations, inactive hyperparameters absent.
    let configs = &lines[lines.len() - 5..];
    for c in configs {
        let v: serde_json::Value = serde_json::from_str(c).unwrap();
        let obj = v.as_object().unwrap();
        let sgd = obj["optimizer"] == "SGD";
        assert_eq!(obj.contains_key("momentum"), sgd, "{c}");
        assert_ne!(obj["activation_integer_bits"], 4, "{c}");
    }
    // The same seed gives the same configurations.
    let again = succeeds(&["hpo", "space", &file, "--sample", "5", "--seed", "3"]);
    assert_eq!(out, again);
    let other = succeeds(&["hpo", "space", &file, "--sample", "5", "--seed", "4"]);
    assert_ne!(out, other);
}

#[test]
fn bad_space_files_name_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        &dir,
        "bad.json",
        r#"{"hyperparameters": [{"type": "uniform_float", "name": "lr", "lower": 0.0,
            "upper": 0.1, "log": true}]}"#,
    );
    let bad = bad.to_string_lossy();
    fails_with(
        &["hpo", "space", &bad],
        &[
            "bad.json",
            "hyperparameter 'lr': a log scale needs lower > 0",
        ],
    );
    let cyc = write(
        &dir,
        "cycle.json",
        r#"{"hyperparameters": [
            {"type": "uniform_int", "name": "a", "lower": 0, "upper": 5},
            {"type": "uniform_int", "name": "b", "lower": 0, "upper": 5}],
           "conditions": [
            {"type": "GT", "child": "a", "parent": "b", "value": 1},
            {"type": "GT", "child": "b", "parent": "a", "value": 1}]}"#,
    );
    fails_with(
        &["hpo", "space", &cyc.to_string_lossy()],
        &["cycle.json", "the conditions form a cycle"],
    );
    let not_json = write(&dir, "x.json", "hyperparameters:\n");
    fails_with(
        &["hpo", "space", &not_json.to_string_lossy()],
        &["x.json", "not a ConfigSpace JSON document"],
    );
    fails_with(
        &["hpo", "space", "/nonexistent/space.json"],
        &["reading /nonexistent/space.json"],
    );
}

#[test]
fn hypervolume_of_a_csv() {
    let dir = tempfile::tempdir().unwrap();
    // Staircase of three points under reference (1, 1): 0.9*0.2 + 0.5*0.3 + 0.2*0.3 = 0.39.
    let csv = write(
        &dir,
        "front.csv",
        "loss,energy\n0.1,0.8\n0.5,0.5\n\n0.8,0.2\n0.9,0.9\n",
    );
    let out = succeeds(&["hpo", "hypervolume", &csv.to_string_lossy(), "--ref", "1,1"]);
    let last: f64 = out.lines().last().unwrap().parse().unwrap();
    assert!((last - 0.39).abs() < 1e-12, "{out}");
    // 3 objectives, no header, negative reference coordinates.
    let cube = write(&dir, "cube.csv", "-2,-2,-2\n");
    let out = succeeds(&[
        "hpo",
        "hypervolume",
        &cube.to_string_lossy(),
        "--ref",
        "-1,-1,-1",
    ]);
    assert_eq!(out.lines().last(), Some("1"), "{out}");
}

#[test]
fn hypervolume_errors_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(&dir, "p.csv", "a,b\n0.1,0.2\n0.3,zero\n");
    let csv = csv.to_string_lossy();
    fails_with(
        &["hpo", "hypervolume", &csv, "--ref", "1,1"],
        &["p.csv", "line 3: 'zero' is not a finite number"],
    );
    fails_with(
        &["hpo", "hypervolume", &csv, "--ref", "1,1,1"],
        &["p.csv", "line 2: 2 values, but --ref has 3 coordinates"],
    );
    fails_with(
        &["hpo", "hypervolume", &csv, "--ref", "1,one"],
        &["--ref: 'one' is not a finite number"],
    );
    fails_with(&["hpo", "hypervolume", &csv], &["--ref"]);
}
