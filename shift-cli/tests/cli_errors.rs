//! The CLI turns bad flags into errors that say what to do, and never panics.

use std::process::{Command, Output};

fn deepshift(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deepshift"))
        .args(args)
        .output()
        .expect("deepshift runs")
}

fn fails_with(args: &[&str], needle: &str) {
    let out = deepshift(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(
        stderr.contains(needle),
        "{args:?}: stderr lacks `{needle}`:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{args:?} panicked:\n{stderr}");
}

#[test]
fn impossible_weight_bits() {
    fails_with(&["mnist", "-wb", "1"], "weight bits 1 are not supported");
    fails_with(&["mnist", "-wb", "9"], "use 2..=8");
}

#[test]
fn activation_bits_need_two_numbers() {
    fails_with(&["mnist", "-ab", "3"], "-ab takes two numbers");
    fails_with(&["mnist", "-ab", "0", "4"], "need I >= 1");
    fails_with(&["mnist", "-ab", "20", "20"], "I + F <= 32");
}

#[test]
fn use_kernel_needs_evaluate() {
    fails_with(&["mnist", "--use-kernel", "True"], "add -e");
}

#[test]
fn contradictory_and_unknown_flags() {
    fails_with(&["mnist", "-e"], "--weights FILE");
    fails_with(&["mnist", "--bogus"], "unexpected argument '--bogus'");
    fails_with(&["mnist", "--shift-type", "X"], "use Q or PS");
    fails_with(&["mnist", "--opt", "lbfgs"], "invalid value 'lbfgs'");
}

#[test]
fn energy_measures_a_command_into_a_csv() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("emissions.csv");
    let out = deepshift(&[
        "energy",
        "--carbon-intensity",
        "100",
        "--output",
        csv.to_str().unwrap(),
        "--",
        "true",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("timestamp,project_name,run_id,duration"));
    assert!(lines.next().is_some(), "one row per measurement");
    fails_with(
        &["energy", "--output", csv.to_str().unwrap(), "--", "false"],
        "the measured command failed",
    );
}
