//! `deepshift hpo report` through the built binary, on a SQLite study written with the storage
//! API: the files, the stated reference point, and errors that name what is wrong.

use std::path::Path;
use std::process::{Command, Output};

use rand::SeedableRng;
use shift_automl::bench::unit_space;
use shift_automl::problems::Problem;
use shift_automl::storage::{self, NewStudy, Provenance, StoredTrial, StudySettings, TrialState};

fn deepshift(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deepshift"))
        .args(args)
        .output()
        .expect("deepshift runs")
}

/// A 30-trial ZDT1 study named `zdt` in `db`: the default first, budgets 3 and 9, every 8th
/// trial failed.
fn store_study(db: &Path) -> String {
    let url = format!("sqlite://{}", db.display());
    let space = unit_space().unwrap();
    let mut s = storage::open(&url).unwrap();
    s.create_study(&NewStudy {
        name: "zdt".into(),
        space_json: space.to_json(),
        method: "random".into(),
        settings: StudySettings {
            objectives: vec!["loss".into(), "energy_kwh".into()],
            min_budget: 3.0,
            max_budget: 9.0,
            seed: 0,
            n_trials: Some(30),
            time_budget_s: None,
            crash_cost: None,
            max_attempts: 1,
            heartbeat_s: 1.0,
            grace_s: 10.0,
            objective_cmd: None,
            trial_timeout_s: None,
            references: Vec::new(),
            attributes: Default::default(),
        },
        provenance: Provenance::current("test"),
    })
    .unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let mut tx = s.begin("zdt").unwrap();
    for n in 0..30u64 {
        let c = if n == 0 {
            space.default_configuration()
        } else {
            space.sample(&mut rng)
        };
        let x = space.encode(&c);
        let budget = if n % 2 == 0 { 9.0 } else { 3.0 };
        let failed = n > 0 && n % 8 == 0;
        tx.insert_trial(&StoredTrial {
            number: n,
            state: if failed {
                TrialState::Failed
            } else {
                TrialState::Done
            },
            config: c.to_json(),
            budget,
            parent: None,
            seed: 0,
            objectives: (!failed).then(|| Problem::Zdt1.observe(&x, budget, &[0.0; 2]).unwrap()),
            metadata: serde_json::json!({}),
            error: failed.then(|| "exit status 1".to_string()),
            attempt: 1,
            worker: Some("w".into()),
            asked_at: n as f64,
            started_at: Some(n as f64),
            finished_at: Some(n as f64 + 0.5),
            heartbeat_at: Some(n as f64 + 0.5),
            provenance: None,
            lost_attempts: Vec::new(),
        })
        .unwrap();
    }
    tx.commit().unwrap();
    url
}

#[test]
fn writes_the_report_of_a_stored_study() {
    let dir = tempfile::tempdir().unwrap();
    let url = store_study(&dir.path().join("study.db"));
    let out_dir = dir.path().join("report");
    let out = deepshift(&[
        "hpo",
        "report",
        "--study",
        "zdt",
        "--storage",
        &url,
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("study 'zdt': 27 configurations"),
        "{stdout}"
    );
    for name in [
        "report.md",
        "report.html",
        "front.svg",
        "front.png",
        "hv_trials.svg",
        "hv_trials.png",
        "hv_budget.svg",
        "hv_budget.png",
        "importance.svg",
        "importance.png",
    ] {
        let len = std::fs::metadata(out_dir.join(name)).map(|m| m.len());
        assert!(len.as_ref().is_ok_and(|l| *l > 100), "{name}: {len:?}");
    }
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(md.starts_with("# HPO study report: zdt\n"), "{md}");
    assert!(
        md.contains("Method: random, budgets 3 to 9. 30 trials: 27 finished, 3 failed"),
        "{md}"
    );
    assert!(md.contains("Evaluated in trial 0 at budget 9"), "{md}");
    assert!(md.contains("worst value over all finished trials"), "{md}");

    // a given reference point is used and said to be given
    let out = deepshift(&[
        "hpo",
        "report",
        "--study",
        "zdt",
        "--storage",
        &url,
        "--out",
        out_dir.to_str().unwrap(),
        "--ref",
        "2,12",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(
        md.contains("reference point `(2, 12)` (given with --ref)"),
        "{md}"
    );
}

#[test]
fn errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let url = store_study(&dir.path().join("study.db"));
    let out_dir = dir.path().join("r");
    let out = out_dir.to_str().unwrap();
    let err = |args: &[&str]| {
        let o = deepshift(args);
        assert!(!o.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&o.stderr).to_string()
    };
    let e = err(&[
        "hpo",
        "report",
        "--study",
        "nope",
        "--storage",
        &url,
        "--out",
        out,
    ]);
    assert!(e.contains("nope"), "{e}");
    let e = err(&[
        "hpo",
        "report",
        "--study",
        "zdt",
        "--storage",
        &url,
        "--out",
        out,
        "--ref",
        "1",
    ]);
    assert!(e.contains("reference point: 1 coordinates"), "{e}");
    let missing = dir.path().join("missing.db");
    let e = err(&[
        "hpo",
        "report",
        "--study",
        "zdt",
        "--storage",
        missing.to_str().unwrap(),
        "--out",
        out,
    ]);
    assert!(e.contains("does not exist"), "{e}");
    assert!(!missing.exists(), "a report must not create a database");
}
