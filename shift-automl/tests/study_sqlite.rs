//! Studies on SQLite, in process: a study resumed from storage continues exactly as an
//! uninterrupted one; workers on threads never share a trial; dead workers' trials come back
//! once, then fail; the read API.

use std::sync::{Arc, Mutex};

use serde_json::Value as Json;
use shift_automl::bench::unit_space;
use shift_automl::problems::Problem;
use shift_automl::storage::{
    self, NewStudy, Provenance, ReferenceTrial, StudySettings, TrialState,
};
use shift_automl::study::{Next, Objective, TrialResult, TrialSpec, Worker};

fn settings(n_trials: u64, min: f64, max: f64) -> StudySettings {
    StudySettings {
        objectives: vec!["f1".into(), "f2".into()],
        min_budget: min,
        max_budget: max,
        seed: 3,
        n_trials: Some(n_trials),
        time_budget_s: None,
        crash_cost: None,
        max_attempts: 2,
        heartbeat_s: 0.2,
        grace_s: 1.0,
        objective_cmd: None,
        trial_timeout_s: None,
        references: Vec::new(),
        attributes: Default::default(),
    }
}

fn new_study(name: &str, method: &str, s: StudySettings) -> NewStudy {
    NewStudy {
        name: name.into(),
        space_json: unit_space().unwrap().to_json(),
        method: method.into(),
        settings: s,
        provenance: Provenance::current("test"),
    }
}

/// ZDT1 of the configuration, plus the budget's distance to 27 so budgets matter.
struct Zdt1;

impl Objective for Zdt1 {
    fn evaluate(&mut self, t: &TrialSpec, _: &mut dyn FnMut() -> bool) -> TrialResult {
        let x: Vec<f64> = (0..6)
            .map(|i| t.config[format!("x{i}")].as_f64().unwrap())
            .collect();
        let mut f = Problem::Zdt1.evaluate(&x).unwrap();
        f[1] += (27.0 - t.budget) / 100.0;
        TrialResult {
            outcome: Ok(f),
            metadata: serde_json::json!({"budget_seen": t.budget}),
        }
    }
}

fn url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("study.db").display())
}

/// Number, state, configuration, budget and objectives of each trial.
type Summary = Vec<(u64, String, Json, f64, Option<Vec<f64>>)>;

fn summary(url: &str, name: &str) -> Summary {
    let rec = storage::open(url).unwrap().load_study(name).unwrap();
    rec.trials
        .iter()
        .map(|t| {
            (
                t.number,
                t.state.to_string(),
                t.config.clone(),
                t.budget,
                t.objectives.clone(),
            )
        })
        .collect()
}

#[test]
fn resumed_study_continues_as_uninterrupted() {
    for method in ["hb-gp", "asha-random", "hb-parego"] {
        straight_equals_resumed(method, settings(16, 1.0, 9.0));
    }
}

fn reference(label: &str, x: f64, budget: f64) -> ReferenceTrial {
    let config: serde_json::Map<String, Json> =
        (0..6).map(|i| (format!("x{i}"), Json::from(x))).collect();
    ReferenceTrial {
        label: label.into(),
        config: Json::Object(config),
        budget,
    }
}

#[test]
fn references_run_first_at_their_budget_and_survive_resumption() {
    let mut s = settings(12, 1.0, 9.0);
    s.references = vec![reference("a", 0.375, 9.0), reference("b", 0.25, 3.0)];
    let trials = straight_equals_resumed("hb-gp", s.clone());
    assert_eq!(trials[0].2, s.references[0].config);
    assert_eq!(trials[0].3, 9.0);
    assert_eq!(trials[1].2, s.references[1].config);
    assert_eq!(trials[1].3, 3.0);
    assert!(trials[2..]
        .iter()
        .all(|t| t.2 != trials[0].2 && t.2 != trials[1].2));

    // a reference outside the space is refused before anything is stored
    let dir = tempfile::tempdir().unwrap();
    s.references = vec![reference("too big", 7.0, 9.0)];
    let e = Worker::create(
        storage::open(&url(&dir)).unwrap(),
        &new_study("c", "hb-gp", s),
        "test",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("reference configuration 'too big'"), "{e}");
}

/// Runs a study in one worker and again with a fresh worker per trial; both give the same
/// trials, which are returned.
fn straight_equals_resumed(method: &str, s: StudySettings) -> Summary {
    {
        let dir = tempfile::tempdir().unwrap();
        let u = url(&dir);
        let n = s.n_trials.unwrap() as usize;
        let mut w = Worker::create(
            storage::open(&u).unwrap(),
            &new_study("a", method, s.clone()),
            "test",
        )
        .unwrap();
        w.run(&mut Zdt1, &mut |_| {}).unwrap();
        let straight = summary(&u, "a");
        assert_eq!(straight.len(), n, "{method}");

        // the same study, with a fresh worker (a new process) after every trial
        Worker::create(
            storage::open(&u).unwrap(),
            &new_study("b", method, s),
            "test",
        )
        .unwrap();
        loop {
            let mut w = Worker::open(storage::open(&u).unwrap(), "b", "test").unwrap();
            match w.next_trial().unwrap() {
                Next::Run(t) => {
                    let spec = TrialSpec {
                        number: t.number,
                        config: t.config.clone(),
                        budget: t.budget,
                        seed: t.seed,
                        parent: t.parent,
                        attempt: t.attempt,
                    };
                    let r = Zdt1.evaluate(&spec, &mut || true);
                    w.finish(t.number, r).unwrap().unwrap();
                }
                Next::Wait => panic!("nothing runs elsewhere"),
                Next::Finished => break,
            }
        }
        assert_eq!(summary(&u, "b"), straight, "{method}");
        straight
    }
}

#[test]
fn threads_never_share_a_trial() {
    let dir = tempfile::tempdir().unwrap();
    let u = url(&dir);
    Worker::create(
        storage::open(&u).unwrap(),
        &new_study("t", "asha-random", settings(40, 1.0, 9.0)),
        "test",
    )
    .unwrap();
    let ran = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (u, ran) = (u.clone(), ran.clone());
            std::thread::spawn(move || {
                let mut w = Worker::open(storage::open(&u).unwrap(), "t", "test").unwrap();
                w.run(&mut Zdt1, &mut |e| {
                    if let shift_automl::study::WorkerEvent::Started(t) = e {
                        ran.lock().unwrap().push(t.number);
                    }
                })
                .unwrap();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut ran = ran.lock().unwrap().clone();
    ran.sort_unstable();
    assert_eq!(ran, (0..40).collect::<Vec<u64>>());
    let rec = storage::open(&u).unwrap().load_study("t").unwrap();
    assert_eq!(rec.count(TrialState::Done), 40);
    assert!(rec
        .trials
        .iter()
        .all(|t| t.metadata["budget_seen"].as_f64() == Some(t.budget)));
    assert!(!rec.front().is_empty());
    assert_eq!(
        rec.budget_used(),
        rec.trials.iter().map(|t| t.budget).sum::<f64>()
    );
}

#[test]
fn a_dead_workers_trial_is_retried_once_then_failed() {
    let dir = tempfile::tempdir().unwrap();
    let u = url(&dir);
    let mut s = settings(1, 1.0, 1.0);
    s.grace_s = 0.3;
    s.heartbeat_s = 0.1;
    Worker::create(
        storage::open(&u).unwrap(),
        &new_study("d", "random", s),
        "test",
    )
    .unwrap();
    // a worker takes the trial and goes silent (same process, so only the grace period tells)
    let mut w1 = Worker::open(storage::open(&u).unwrap(), "d", "test").unwrap();
    let Next::Run(t) = w1.next_trial().unwrap() else {
        panic!()
    };
    let mut w2 = Worker::open(storage::open(&u).unwrap(), "d", "test").unwrap();
    assert_eq!(w2.next_trial().unwrap(), Next::Wait);
    std::thread::sleep(std::time::Duration::from_millis(400));
    let Next::Run(again) = w2.next_trial().unwrap() else {
        panic!("not retried")
    };
    assert_eq!(
        (again.number, again.attempt, again.config.clone()),
        (t.number, 2, t.config.clone())
    );
    assert_eq!(again.lost_attempts.len(), 1);
    assert!(
        again.lost_attempts[0].reason.contains("no heartbeat"),
        "{:?}",
        again.lost_attempts
    );
    // the first worker's late result is dropped
    assert!(w1
        .finish(t.number, TrialResult::failed("late"))
        .unwrap()
        .is_none());
    // the second goes silent too: the trial fails for good
    std::thread::sleep(std::time::Duration::from_millis(400));
    let mut w3 = Worker::open(storage::open(&u).unwrap(), "d", "test").unwrap();
    assert_eq!(w3.next_trial().unwrap(), Next::Finished);
    let rec = storage::open(&u).unwrap().load_study("d").unwrap();
    assert_eq!(rec.trials[0].state, TrialState::Failed);
    assert!(rec.trials[0]
        .error
        .as_deref()
        .unwrap()
        .contains("given up after 2 runs"));
}

#[test]
fn storage_errors_name_the_study_and_url() {
    let dir = tempfile::tempdir().unwrap();
    let u = url(&dir);
    let mut st = storage::open(&u).unwrap();
    let e = st.load_study("nope").unwrap_err().to_string();
    assert!(
        e.contains("no study named 'nope'") && e.contains("study.db"),
        "{e}"
    );
    Worker::create(
        storage::open(&u).unwrap(),
        &new_study("x", "random", settings(2, 1.0, 1.0)),
        "test",
    )
    .unwrap();
    let e = Worker::create(
        storage::open(&u).unwrap(),
        &new_study("x", "random", settings(2, 1.0, 1.0)),
        "test",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("'x' exists already"), "{e}");
    let e = Worker::create(
        storage::open(&u).unwrap(),
        &new_study("y", "simplex", settings(2, 1.0, 1.0)),
        "test",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("unknown method 'simplex'"), "{e}");
    let e = storage::open("/no/such/dir/s.db")
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("does not exist"), "{e}");
    assert_eq!(st.study_names().unwrap(), vec!["x".to_string()]);
}
