//! `deepshift hpo run|status|export` with a program as the objective: what the program
//! receives, how each kind of failure is recorded while the study goes on, the exports.

mod study_support;

use study_support::{export_json, ok, run, zdt1_cmd, zdt1_dir};

/// An objective whose behaviour depends on the trial number: success (checking that stdin and
/// $DEEPSHIFT_TRIAL agree), a crash, a missing objective, a NaN, a hang, success.
const SCRIPT: &str = r#"
import json, os, sys, time
raw = sys.stdin.readline()
t = json.loads(raw)
assert json.loads(os.environ["DEEPSHIFT_TRIAL"]) == t
n = t["trial"]
if n == 1:
    print("boom from trial 1", file=sys.stderr); sys.exit(2)
if n == 2:
    print(json.dumps({"f1": 1.0}))
elif n == 3:
    print(json.dumps({"f1": 1.0, "f2": float("nan")}))
elif n == 4:
    print("about to hang", file=sys.stderr); sys.stderr.flush(); time.sleep(30)
else:
    print("some progress line")
    print(json.dumps({"f1": t["config"]["x0"], "f2": t["budget"], "seen": t,
                      "budget_is_int": isinstance(t["budget"], int)}))
"#;

#[test]
fn failures_are_recorded_and_the_study_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("obj.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let db = dir.path().join("s.db");
    let storage = format!("sqlite://{}", db.display());
    let space = zdt1_dir().join("space.json");
    let cmd = format!("python3 {}", script.display());
    let started = std::time::Instant::now();
    ok(&[
        "hpo",
        "run",
        "--study",
        "cmd",
        "--space",
        space.to_str().unwrap(),
        "--objective-cmd",
        &cmd,
        "--objectives",
        "f1,f2",
        "--method",
        "random",
        "--n-trials",
        "6",
        "--max-budget",
        "9",
        "--seed",
        "1",
        "--storage",
        &storage,
        "--trial-timeout",
        "1s",
        "--no-progress",
    ]);
    assert!(
        started.elapsed().as_secs() < 20,
        "the hanging trial was not cut off"
    );
    let trials = export_json("cmd", &storage);
    let states: Vec<&str> = trials
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["done", "failed", "failed", "failed", "failed", "done"]
    );
    let err = |i: usize| trials[i]["error"].as_str().unwrap().to_string();
    assert!(
        err(1).contains("exit status: 2") && err(1).contains("boom from trial 1"),
        "{}",
        err(1)
    );
    assert!(err(2).contains("'f2' missing"), "{}", err(2));
    assert!(err(3).contains("non-finite"), "{}", err(3));
    assert!(
        err(4).contains("timed out after 1.0 s") && err(4).contains("about to hang"),
        "{}",
        err(4)
    );
    let t0 = &trials[0];
    assert_eq!(t0["objectives"]["f2"], 9.0);
    assert_eq!(t0["objectives"]["f1"], t0["config"]["x0"]);
    let seen = &t0["metadata"]["seen"];
    assert_eq!(t0["metadata"]["budget_is_int"], true);
    assert_eq!(
        (
            seen["trial"].as_u64(),
            seen["seed"].as_u64(),
            seen["study"].as_str()
        ),
        (Some(0), Some(1), Some("cmd"))
    );
    assert_eq!(seen["config"], t0["config"]);
    let workdir = std::path::PathBuf::from(seen["workdir"].as_str().unwrap());
    assert!(workdir.ends_with("cmd-trials/0"), "{}", workdir.display());
    let log = std::fs::read_to_string(workdir.join("stdout.log")).unwrap();
    assert!(log.starts_with("some progress line"), "{log}");

    // CSV: one row per trial, every hyperparameter and objective in its own column, then
    // what the command reported besides (nested objects flattened)
    let csv = ok(&["hpo", "export", "--study", "cmd", "--storage", &storage]);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("number,state,budget,x0,x1,x2,x3,x4,x5,f1,f2,budget_is_int,"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains(",seen.budget,"), "{}", lines[0]);
    assert_eq!(lines.len(), 7);
    assert!(
        lines[2].starts_with("1,failed,9,") && lines[2].ends_with(",,"),
        "{}",
        lines[2]
    );
    let out = dir.path().join("t.csv");
    ok(&[
        "hpo",
        "export",
        "--study",
        "cmd",
        "--storage",
        &storage,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), csv);

    let status = ok(&["hpo", "status", "--study", "cmd", "--storage", &storage]);
    assert!(
        status.contains("trials: 6 of 6: waiting 0, running 0, done 2, failed 4"),
        "{status}"
    );
    assert!(
        status.contains("budget used: 54") && status.contains("best front"),
        "{status}"
    );
}

#[test]
fn a_zdt1_study_finds_points_at_every_budget() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("z.db").display().to_string();
    let space = zdt1_dir().join("space.json");
    ok(&[
        "hpo",
        "run",
        "--study",
        "z",
        "--space",
        space.to_str().unwrap(),
        "--objective-cmd",
        &zdt1_cmd(),
        "--objectives",
        "f1,f2",
        "--method",
        "hb-random",
        "--n-trials",
        "40",
        "--min-budget",
        "1",
        "--max-budget",
        "27",
        "--storage",
        &storage,
    ]);
    let trials = export_json("z", &storage);
    assert_eq!(trials.len(), 40);
    assert!(trials.iter().all(|t| t["state"] == "done"));
    // Hyperband's first bracket: 27 at budget 1, 9 promoted to 3, 3 to 9, 1 to 27
    let budgets: std::collections::BTreeSet<String> =
        trials.iter().map(|t| t["budget"].to_string()).collect();
    assert_eq!(
        budgets.into_iter().collect::<Vec<_>>(),
        ["1.0", "27.0", "3.0", "9.0"]
    );
}

#[test]
fn bad_invocations_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("e.db").display().to_string();
    let space = zdt1_dir().join("space.json");
    let base = |extra: &[&str]| {
        let mut a = vec![
            "hpo",
            "run",
            "--study",
            "e",
            "--space",
            space.to_str().unwrap(),
            "--objective-cmd",
            "true",
            "--objectives",
            "f1,f2",
            "--storage",
            &storage,
        ];
        a.extend_from_slice(extra);
        String::from_utf8_lossy(&run(&a).stderr).into_owned()
    };
    assert!(base(&[]).contains("--n-trials N or --time-budget T"));
    assert!(base(&["--n-trials", "2", "--method", "nope"]).contains("unknown method 'nope'"));
    assert!(base(&["--time-budget", "soon"]).contains("'soon' is not a duration"));
    assert!(base(&["--n-trials", "2", "--objectives", "f1,f1"]).contains("repeated"));
    let e = String::from_utf8_lossy(
        &run(&[
            "hpo",
            "status",
            "--study",
            "x",
            "--storage",
            dir.path().join("none.db").to_str().unwrap(),
        ])
        .stderr,
    )
    .into_owned();
    assert!(e.contains("does not exist"), "{e}");
    ok(&[
        "hpo",
        "create",
        "--study",
        "c",
        "--space",
        space.to_str().unwrap(),
        "--objective-cmd",
        "true",
        "--objectives",
        "f1",
        "--n-trials",
        "1",
        "--storage",
        &storage,
    ]);
    let e = String::from_utf8_lossy(
        &run(&["hpo", "resume", "--study", "other", "--storage", &storage]).stderr,
    )
    .into_owned();
    assert!(
        e.contains("no study named 'other'") && e.contains("it holds: c"),
        "{e}"
    );
    let e = String::from_utf8_lossy(
        &run(&[
            "hpo",
            "export",
            "--study",
            "c",
            "--storage",
            &storage,
            "--format",
            "xml",
        ])
        .stderr,
    )
    .into_owned();
    assert!(e.contains("neither csv nor json"), "{e}");
    // running a study that exists points at resume
    let e = String::from_utf8_lossy(
        &run(&[
            "hpo",
            "create",
            "--study",
            "c",
            "--space",
            space.to_str().unwrap(),
            "--objective-cmd",
            "true",
            "--objectives",
            "f1",
            "--n-trials",
            "1",
            "--storage",
            &storage,
        ])
        .stderr,
    )
    .into_owned();
    assert!(
        e.contains("exists already") && e.contains("deepshift hpo resume --study c"),
        "{e}"
    );
}

#[test]
fn a_time_budget_stops_the_study() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("t.db").display().to_string();
    let space = zdt1_dir().join("space.json");
    let out = study_support::deepshift()
        .args([
            "hpo",
            "run",
            "--study",
            "t",
            "--space",
            space.to_str().unwrap(),
            "--objective-cmd",
            &zdt1_cmd(),
            "--objectives",
            "f1,f2",
            "--method",
            "random",
            "--time-budget",
            "1s",
            "--storage",
            &storage,
            "--no-progress",
        ])
        .env("ZDT1_SECONDS_PER_BUDGET", "0.25")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trials = export_json("t", &storage);
    assert!((2..=5).contains(&trials.len()), "{} trials", trials.len());
    assert!(trials.iter().all(|t| t["state"] == "done"));
}
