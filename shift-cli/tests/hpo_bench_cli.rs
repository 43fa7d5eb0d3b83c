//! `deepshift hpo bench` through the built binary: both tables, JSON, bad flags.

use std::process::{Command, Output};

fn deepshift(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deepshift"))
        .args(args)
        .output()
        .expect("deepshift runs")
}

#[test]
fn prints_both_tables_with_progress() {
    let out = deepshift(&[
        "hpo",
        "bench",
        "--problems",
        "zdt1",
        "--methods",
        "random,hb-random",
        "--seeds",
        "2",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("Full fidelity") && stdout.contains("Multi-fidelity"),
        "{stdout}"
    );
    assert!(
        stdout.contains("| random ") && stdout.contains("| hb-random "),
        "{stdout}"
    );
    // hb-random only in the multi-fidelity table: 2 + 2 * 2 runs
    assert!(stderr.contains("[6/6]"), "{stderr}");
}

#[test]
fn json_report_parses() {
    let out = deepshift(&[
        "hpo",
        "bench",
        "--problems",
        "dtlz2",
        "--methods",
        "random",
        "--seeds",
        "1",
        "--table",
        "full",
        "--json",
    ]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let hv = v["full"][0]["hv"]["median"].as_f64().unwrap();
    assert!(hv > 50.0 && hv < 100.0, "{hv}");
    assert!(v["multi_fidelity"].as_array().unwrap().is_empty());
}

#[test]
fn unknown_names_are_errors() {
    for args in [
        &["hpo", "bench", "--problems", "zdt9"][..],
        &["hpo", "bench", "--methods", "nsga2"][..],
        &["hpo", "bench", "--table", "both"][..],
    ] {
        let out = deepshift(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
