//! Several `deepshift hpo worker` processes on one study: 4 on SQLite, 3 on PostgreSQL. Every
//! trial runs exactly once, every worker gets trials (the asynchronous method keeps them
//! busy), and the stored history replays.

mod study_support;

use std::collections::BTreeMap;
use std::process::Stdio;

use shift_automl::storage::TrialState;
use study_support::{deepshift, ok, postgres_or_skip, unique, zdt1_cmd, zdt1_dir};

fn workers_share(storage: &str, study: &str, method: &str, workers: usize, n: usize) {
    let space = zdt1_dir().join("space.json").display().to_string();
    let cmd = zdt1_cmd();
    let n_s = n.to_string();
    // a PostgreSQL study's workdirs would otherwise go to the current folder
    let scratch = tempfile::tempdir().unwrap();
    let workdir = scratch.path().join("trials").display().to_string();
    ok(&[
        "hpo",
        "create",
        "--study",
        study,
        "--space",
        &space,
        "--objective-cmd",
        &cmd,
        "--objectives",
        "f1,f2",
        "--method",
        method,
        "--n-trials",
        &n_s,
        "--min-budget",
        "1",
        "--max-budget",
        "9",
        "--storage",
        storage,
    ]);
    let children: Vec<_> = (0..workers)
        .map(|_| {
            deepshift()
                .args([
                    "hpo",
                    "worker",
                    "--study",
                    study,
                    "--storage",
                    storage,
                    "--no-progress",
                    "--workdir",
                    &workdir,
                ])
                .env("ZDT1_SECONDS_PER_BUDGET", "0.03")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let rec = shift_automl::storage::open(storage)
        .unwrap()
        .load_study(study)
        .unwrap();
    assert_eq!(rec.trials.len(), n);
    assert_eq!(rec.count(TrialState::Done), n);
    let mut per_worker: BTreeMap<String, usize> = BTreeMap::new();
    for t in &rec.trials {
        assert_eq!(t.attempt, 1, "trial {} ran twice", t.number);
        *per_worker.entry(t.worker.clone().unwrap()).or_default() += 1;
    }
    assert_eq!(per_worker.len(), workers, "idle workers: {per_worker:?}");
    // the objective's pids: one run per trial
    let pids: std::collections::BTreeSet<i64> = rec
        .trials
        .iter()
        .map(|t| t.metadata["pid"].as_i64().unwrap())
        .collect();
    assert_eq!(pids.len(), n);
    // a fresh process replays the interleaved history of all workers
    ok(&[
        "hpo",
        "resume",
        "--study",
        study,
        "--storage",
        storage,
        "--no-progress",
        "--workdir",
        &workdir,
    ]);
}

#[test]
fn four_workers_on_one_sqlite_study() {
    let dir = tempfile::tempdir().unwrap();
    let storage = format!("sqlite://{}", dir.path().join("w.db").display());
    workers_share(&storage, "w", "asha-random", 4, 32);
}

#[test]
fn three_workers_on_one_postgres_study() {
    let Some(url) = postgres_or_skip() else {
        return;
    };
    workers_share(&url, &unique("pg-workers"), "hb-gp", 3, 24);
}
