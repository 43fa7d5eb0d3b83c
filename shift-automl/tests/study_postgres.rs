//! Studies on PostgreSQL, in process: the server named by `DEEPSHIFT_TEST_POSTGRES`
//! (`.ci/start-postgres` starts one). Without it the tests skip, saying why, except when `CI`
//! is set, where a missing server fails.

#[cfg(not(feature = "postgres"))]
#[test]
fn postgres_tests_need_the_feature() {
    eprintln!("skipped: shift-automl built without the 'postgres' feature");
}

#[cfg(feature = "postgres")]
mod pg {
    use std::sync::{Arc, Mutex};

    use shift_automl::bench::unit_space;
    use shift_automl::problems::Problem;
    use shift_automl::storage::{self, NewStudy, Provenance, StudySettings, TrialState};
    use shift_automl::study::{Next, Objective, TrialResult, TrialSpec, Worker, WorkerEvent};

    fn server() -> Option<String> {
        match std::env::var("DEEPSHIFT_TEST_POSTGRES") {
            Ok(u) if !u.is_empty() => Some(u),
            _ if std::env::var_os("CI").is_some() => {
                panic!("CI is set but DEEPSHIFT_TEST_POSTGRES is not: start a server with .ci/start-postgres")
            }
            _ => {
                eprintln!("skipped: DEEPSHIFT_TEST_POSTGRES is not set (export DEEPSHIFT_TEST_POSTGRES=$(.ci/start-postgres))");
                None
            }
        }
    }

    /// A study name no earlier run used (the server outlives test runs).
    fn unique(tag: &str) -> String {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        format!("{tag}-{}-{t}", std::process::id())
    }

    fn new_study(name: &str, method: &str, n: u64) -> NewStudy {
        NewStudy {
            name: name.into(),
            space_json: unit_space().unwrap().to_json(),
            method: method.into(),
            settings: StudySettings {
                objectives: vec!["f1".into(), "f2".into()],
                min_budget: 1.0,
                max_budget: 9.0,
                seed: 5,
                n_trials: Some(n),
                time_budget_s: None,
                crash_cost: None,
                max_attempts: 2,
                heartbeat_s: 0.2,
                grace_s: 2.0,
                objective_cmd: None,
                trial_timeout_s: None,
                references: Vec::new(),
                attributes: Default::default(),
            },
            provenance: Provenance::current("test"),
        }
    }

    struct Zdt1;

    impl Objective for Zdt1 {
        fn evaluate(&mut self, t: &TrialSpec, _: &mut dyn FnMut() -> bool) -> TrialResult {
            let x: Vec<f64> = (0..6)
                .map(|i| t.config[format!("x{i}")].as_f64().unwrap())
                .collect();
            TrialResult {
                outcome: Ok(Problem::Zdt1.evaluate(&x).unwrap()),
                metadata: serde_json::json!({}),
            }
        }
    }

    #[test]
    fn threads_share_one_study_and_a_replay_agrees() {
        let Some(url) = server() else { return };
        let name = unique("threads");
        Worker::create(
            storage::open(&url).unwrap(),
            &new_study(&name, "hb-random", 30),
            "test",
        )
        .unwrap();
        let ran = Arc::new(Mutex::new(Vec::new()));
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let (url, name, ran) = (url.clone(), name.clone(), ran.clone());
                std::thread::spawn(move || {
                    let mut w = Worker::open(storage::open(&url).unwrap(), &name, "t").unwrap();
                    w.run(&mut Zdt1, &mut |e| {
                        if let WorkerEvent::Started(t) = e {
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
        assert_eq!(ran, (0..30).collect::<Vec<u64>>());
        let rec = storage::open(&url).unwrap().load_study(&name).unwrap();
        assert_eq!(rec.count(TrialState::Done), 30);
        assert_eq!(rec.method, "hb-random");
        // a new worker replays the whole concurrent history and checks every stored trial
        let mut w = Worker::open(storage::open(&url).unwrap(), &name, "t").unwrap();
        assert_eq!(w.sync().unwrap(), 60);
        assert_eq!(w.next_trial().unwrap(), shift_automl::study::Next::Finished);
    }

    #[test]
    fn errors_name_the_server_and_study() {
        let Some(url) = server() else { return };
        let e = storage::open(&url)
            .unwrap()
            .load_study("no-such-study")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no study named 'no-such-study'") && e.contains(&url),
            "{e}"
        );
        let name = unique("dup");
        let mut st = storage::open(&url).unwrap();
        st.create_study(&new_study(&name, "random", 1)).unwrap();
        let e = st
            .create_study(&new_study(&name, "random", 1))
            .unwrap_err()
            .to_string();
        assert!(e.contains("exists already"), "{e}");
        let e = storage::open("postgresql://postgres@127.0.0.1:1/postgres")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("connecting"), "{e}");
    }

    #[test]
    fn a_dead_workers_trial_is_claimed_by_another() {
        let Some(url) = server() else { return };
        let name = unique("dead");
        let mut study = new_study(&name, "random", 1);
        study.settings.min_budget = 9.0;
        study.settings.grace_s = 0.3;
        study.settings.heartbeat_s = 0.1;
        Worker::create(storage::open(&url).unwrap(), &study, "test").unwrap();
        let mut w1 = Worker::open(storage::open(&url).unwrap(), &name, "t").unwrap();
        let Next::Run(t) = w1.next_trial().unwrap() else {
            panic!("no trial")
        };
        let mut w2 = Worker::open(storage::open(&url).unwrap(), &name, "t").unwrap();
        assert_eq!(w2.next_trial().unwrap(), Next::Wait);
        std::thread::sleep(std::time::Duration::from_millis(400));
        let Next::Run(again) = w2.next_trial().unwrap() else {
            panic!("not handed on")
        };
        assert_eq!((again.number, again.attempt), (t.number, 2));
        assert!(!w1.heartbeat(t.number).unwrap());
        assert!(w1
            .finish(t.number, TrialResult::failed("late"))
            .unwrap()
            .is_none());
        let r = Zdt1.evaluate(
            &TrialSpec {
                number: again.number,
                config: again.config.clone(),
                budget: again.budget,
                seed: again.seed,
                parent: None,
                attempt: 2,
            },
            &mut || true,
        );
        assert!(w2.finish(again.number, r).unwrap().is_some());
        assert_eq!(w2.next_trial().unwrap(), Next::Finished);
    }
}
