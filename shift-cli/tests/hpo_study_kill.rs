//! `kill -9` of the driver at random moments, then `deepshift hpo resume`, repeatedly: the
//! study ends exactly as an uninterrupted one with the same seed (no finished trial lost, none
//! repeated, the method's state rebuilt each time).

mod study_support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use study_support::{deepshift, export_json, ok, outcome, run, zdt1_cmd, zdt1_dir};

const KILLS: usize = 6;

fn args<'a>(study: &'a str, storage: &'a str, space: &'a str, cmd: &'a str) -> Vec<&'a str> {
    vec![
        "hpo",
        "run",
        "--study",
        study,
        "--space",
        space,
        "--objective-cmd",
        cmd,
        "--objectives",
        "f1,f2",
        "--method",
        "hb-gp",
        "--n-trials",
        "24",
        "--min-budget",
        "1",
        "--max-budget",
        "27",
        "--seed",
        "7",
        "--storage",
        storage,
        "--max-attempts",
        "50",
        "--no-progress",
    ]
}

#[test]
fn kill_9_and_resume_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("k.db").display().to_string();
    let space = zdt1_dir().join("space.json").display().to_string();
    let cmd = zdt1_cmd();

    ok(&args("straight", &storage, &space, &cmd));
    let reference = outcome(&export_json("straight", &storage));
    assert_eq!(reference.len(), 24);

    // a fixed pseudo-random sequence of kill delays (xorshift), 50..450 ms after each start
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut delay = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        Duration::from_millis(50 + state % 400)
    };
    let mut kills = 0;
    let mut first = true;
    let mut done_before: Vec<String> = Vec::new();
    while kills < KILLS {
        let a: Vec<&str> = if first {
            args("killed", &storage, &space, &cmd)
        } else {
            vec![
                "hpo",
                "resume",
                "--study",
                "killed",
                "--storage",
                &storage,
                "--no-progress",
            ]
        };
        let mut child = deepshift()
            .args(&a)
            .env("ZDT1_SECONDS_PER_BUDGET", "0.01")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let wait = delay();
        let t = Instant::now();
        let mut exited = false;
        while t.elapsed() < wait {
            if child.try_wait().unwrap().is_some() {
                exited = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if exited {
            // it finished (or died before creating the study) before the kill came
            let created = run(&["hpo", "status", "--study", "killed", "--storage", &storage]);
            if created.status.success() && !first {
                break;
            }
            first = !created.status.success();
            continue;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        let created = run(&["hpo", "status", "--study", "killed", "--storage", &storage]);
        if !created.status.success() {
            continue; // killed before the study existed: start over with run
        }
        first = false;
        // every trial finished before this kill is still there, unchanged
        let now: Vec<String> = outcome(&export_json("killed", &storage))
            .into_iter()
            .filter(|l| !l.contains("\"running\"") && !l.contains("\"waiting\""))
            .collect();
        for l in &done_before {
            assert!(now.contains(l), "finished trial lost or changed: {l}");
        }
        done_before = now;
    }
    assert!(kills >= 3, "only {kills} kills landed");
    ok(&[
        "hpo",
        "resume",
        "--study",
        "killed",
        "--storage",
        &storage,
        "--no-progress",
    ]);
    let trials = export_json("killed", &storage);
    assert_eq!(outcome(&trials), reference);
    // kills that hit a running trial show as lost runs, retried on resume
    let rec = shift_automl::storage::open(&storage)
        .unwrap()
        .load_study("killed")
        .unwrap();
    let lost: usize = rec.trials.iter().map(|t| t.lost_attempts.len()).sum();
    eprintln!("{kills} kills, {lost} of them during a trial");
    assert!(lost >= 1, "no kill hit a running trial");
    assert!(rec
        .trials
        .iter()
        .all(|t| t.attempt as usize == 1 + t.lost_attempts.len()));
}
