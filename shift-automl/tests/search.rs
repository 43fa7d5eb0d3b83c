//! Ask/tell behaviour of every method: determinism, pending points, failures, replay, and the
//! Hyperband / ASHA schedules.

use shift_automl::bench::{unit_space, Method};
use shift_automl::problems::{NoisyProblem, Problem};
use shift_automl::sampler::{
    GpOptions, GpSampler, ParEgoOptions, ParEgoSampler, RandomSampler, Sampler,
};
use shift_automl::scheduler::{
    Asha, Event, FullFidelity, Hyperband, Outcome, Search, SearchOptions, TrialState,
};

fn drive(method: Method, seed: u64, n: usize) -> Vec<(Vec<f64>, f64)> {
    let mut s = method.build(unit_space().unwrap(), 2, seed, true).unwrap();
    let mut noisy = NoisyProblem::new(Problem::Zdt1, seed);
    let mut out = Vec::new();
    for _ in 0..n {
        let t = s.ask().unwrap();
        let x = s.trials()[t.id as usize].x.clone();
        let (obs, _) = noisy.evaluate(&x, t.budget).unwrap();
        s.tell(t.id, Outcome::Ok(obs)).unwrap();
        out.push((x, t.budget));
    }
    out
}

#[test]
fn every_method_is_deterministic_for_a_seed() {
    for m in Method::ALL {
        // enough trials to get past every initial design
        let n = if m == Method::MfGp || m == Method::ScreenGp {
            70
        } else {
            16
        };
        let a = drive(m, 3, n);
        let b = drive(m, 3, n);
        assert_eq!(a, b, "{}", m.name());
        assert_ne!(a, drive(m, 4, n), "{}: seed has no effect", m.name());
    }
}

fn samplers() -> Vec<Box<dyn Sampler>> {
    vec![
        Box::new(RandomSampler::new(1)),
        Box::new(ParEgoSampler::new(
            ParEgoOptions {
                random_probability: 0.0,
                ..ParEgoOptions::default()
            },
            1,
        )),
        Box::new(GpSampler::new(GpOptions::default(), 1)),
    ]
}

fn options() -> SearchOptions {
    SearchOptions {
        n_objectives: 2,
        min_budget: 1.0,
        max_budget: 27.0,
        crash_cost: None,
    }
}

#[test]
fn pending_points_give_distinct_proposals() {
    for sampler in samplers() {
        let name = sampler.name();
        let mut s = Search::new(
            unit_space().unwrap(),
            sampler,
            Box::new(FullFidelity::new(27.0)),
            options(),
        )
        .unwrap();
        for _ in 0..12 {
            let t = s.ask().unwrap();
            let f = Problem::Zdt1
                .evaluate(&s.trials()[t.id as usize].x)
                .unwrap();
            s.tell(t.id, Outcome::Ok(f)).unwrap();
        }
        // four workers ask before anyone reports
        let asked: Vec<Vec<f64>> = (0..4)
            .map(|_| {
                let t = s.ask().unwrap();
                s.trials()[t.id as usize].x.clone()
            })
            .collect();
        for i in 0..asked.len() {
            for j in 0..i {
                let dist: f64 = asked[i]
                    .iter()
                    .zip(&asked[j])
                    .map(|(a, b)| (a - b).abs())
                    .sum();
                assert!(dist > 1e-6, "{name}: proposals {i} and {j} coincide");
            }
        }
        // and the initial design hands out distinct points too
        let mut s = Search::new(
            unit_space().unwrap(),
            samplers().remove(2),
            Box::new(FullFidelity::new(27.0)),
            options(),
        )
        .unwrap();
        let first: Vec<Vec<f64>> = (0..5)
            .map(|_| {
                let t = s.ask().unwrap();
                s.trials()[t.id as usize].x.clone()
            })
            .collect();
        for i in 0..5 {
            for j in 0..i {
                assert_ne!(first[i], first[j]);
            }
        }
    }
}

#[test]
fn failures_are_recorded_and_never_stop_a_search() {
    for crash in [None, Some(vec![1.0, 10.0])] {
        for sampler in samplers() {
            let name = sampler.name();
            let opts = SearchOptions {
                crash_cost: crash.clone(),
                ..options()
            };
            let mut s = Search::new(
                unit_space().unwrap(),
                sampler,
                Box::new(Hyperband::new(3.0, 1.0, 27.0)),
                opts,
            )
            .unwrap();
            for i in 0..40 {
                let t = s
                    .ask()
                    .unwrap_or_else(|e| panic!("{name}: ask {i} failed: {e}"));
                let outcome = if i % 3 == 0 {
                    Outcome::Failed(format!("worker {i} crashed"))
                } else {
                    Outcome::Ok(
                        Problem::Zdt1
                            .evaluate(&s.trials()[t.id as usize].x)
                            .unwrap(),
                    )
                };
                s.tell(t.id, outcome).unwrap();
            }
            assert!(
                matches!(&s.trials()[0].state, TrialState::Failed(e) if e == "worker 0 crashed")
            );
            assert_eq!(s.effective_objectives(0), crash);
        }
    }
}

#[test]
fn bad_tells_are_errors() {
    let mut s = Search::new(
        unit_space().unwrap(),
        Box::new(RandomSampler::new(0)),
        Box::new(FullFidelity::new(27.0)),
        options(),
    )
    .unwrap();
    let t = s.ask().unwrap();
    assert!(s.tell(99, Outcome::Ok(vec![0.0, 0.0])).is_err());
    assert!(s.tell(t.id, Outcome::Ok(vec![0.0])).is_err());
    s.tell(t.id, Outcome::Ok(vec![f64::NAN, 0.0])).unwrap();
    assert!(matches!(s.trials()[0].state, TrialState::Failed(_)));
    assert!(s.tell(t.id, Outcome::Ok(vec![0.0, 0.0])).is_err());
    let bad = SearchOptions {
        crash_cost: Some(vec![1.0]),
        ..options()
    };
    assert!(Search::new(
        unit_space().unwrap(),
        Box::new(RandomSampler::new(0)),
        Box::new(FullFidelity::new(27.0)),
        bad
    )
    .is_err());
}

#[test]
fn replay_reproduces_the_search() {
    let build = || {
        Search::new(
            unit_space().unwrap(),
            Box::new(GpSampler::new(GpOptions::default(), 9)),
            Box::new(FullFidelity::new(27.0)),
            options(),
        )
        .unwrap()
    };
    let mut a = build();
    // two workers: tells lag one ask behind
    let mut waiting = Vec::new();
    for _ in 0..14 {
        waiting.push(a.ask().unwrap());
        if waiting.len() == 2 {
            let t = waiting.remove(0);
            let f = Problem::Zdt2
                .evaluate(&a.trials()[t.id as usize].x)
                .unwrap();
            a.tell(t.id, Outcome::Ok(f)).unwrap();
        }
    }
    let events: Vec<Event> =
        serde_json::from_str(&serde_json::to_string(a.events()).unwrap()).unwrap();
    let mut b = build();
    b.replay(&events).unwrap();
    assert_eq!(a.trials(), b.trials());
    assert_eq!(a.ask().unwrap(), b.ask().unwrap());
}

#[test]
fn hyperband_runs_li_et_al_brackets_in_order() {
    let mut s = Search::new(
        unit_space().unwrap(),
        Box::new(RandomSampler::new(0)),
        Box::new(Hyperband::new(3.0, 1.0, 27.0)),
        options(),
    )
    .unwrap();
    let mut budgets = Vec::new();
    let mut promoted = 0;
    for _ in 0..(27 + 9 + 3 + 1 + 12 + 4 + 1 + 6 + 2 + 4) {
        let t = s.ask().unwrap();
        budgets.push(t.budget);
        promoted += usize::from(t.parent.is_some());
        let f = Problem::Zdt1
            .evaluate(&s.trials()[t.id as usize].x)
            .unwrap();
        s.tell(t.id, Outcome::Ok(f)).unwrap();
    }
    let count = |b: f64| budgets.iter().filter(|&&x| x == b).count();
    assert_eq!(
        (count(1.0), count(3.0), count(9.0), count(27.0)),
        (27, 9 + 12, 3 + 4 + 6, 1 + 1 + 2 + 4)
    );
    assert_eq!(promoted, 9 + 3 + 1 + 4 + 1 + 2);
    assert_eq!(&budgets[..27], &[1.0; 27]);
    assert_eq!(
        &budgets[27..40],
        &[[3.0; 9].as_slice(), &[9.0; 3], &[27.0]].concat()[..]
    );
}

#[test]
fn asha_promotes_the_non_dominated() {
    let mut s = Search::new(
        unit_space().unwrap(),
        Box::new(RandomSampler::new(0)),
        Box::new(Asha::new(3.0, 1.0, 27.0)),
        options(),
    )
    .unwrap();
    let mut promotions = Vec::new();
    for _ in 0..60 {
        let t = s.ask().unwrap();
        if let Some(p) = t.parent {
            promotions.push((p, t.budget));
        }
        let f = Problem::Zdt1
            .evaluate(&s.trials()[t.id as usize].x)
            .unwrap();
        s.tell(t.id, Outcome::Ok(f)).unwrap();
    }
    assert!(promotions.iter().any(|p| p.1 == 3.0) && promotions.iter().any(|p| p.1 == 9.0));
    // the first promotion (after three rung-0 results) takes the best of the three
    let (p, _) = promotions[0];
    let vals: Vec<Vec<f64>> = (0..3).map(|i| s.effective_objectives(i).unwrap()).collect();
    assert!(!vals
        .iter()
        .any(|v| shift_automl::pareto::dominates(v, &vals[p as usize])));
}

#[test]
fn model_based_samplers_handle_mixed_conditional_spaces() {
    use shift_automl::space::Condition;
    use shift_automl::{ConfigSpace, Hyperparameter, Value};
    let mut space = ConfigSpace::new();
    space
        .add(Hyperparameter::categorical(
            "opt",
            vec![
                Value::from("sgd"),
                Value::from("adam"),
                Value::from("rmsprop"),
            ],
        ))
        .unwrap();
    space
        .add(Hyperparameter::uniform_float("lr", 1e-4, 1e-1).log(true))
        .unwrap();
    space
        .add(Hyperparameter::uniform_float("momentum", 0.0, 0.9))
        .unwrap();
    space
        .add(Hyperparameter::uniform_int("bits", 2, 8))
        .unwrap();
    space
        .add_condition(Condition::eq("momentum", "opt", "sgd"))
        .unwrap();
    let samplers: Vec<Box<dyn Sampler>> = vec![
        Box::new(GpSampler::new(GpOptions::default(), 2)),
        Box::new(ParEgoSampler::new(ParEgoOptions::default(), 2)),
    ];
    for sampler in samplers {
        let mut s = Search::new(
            space.clone(),
            sampler,
            Box::new(FullFidelity::new(27.0)),
            options(),
        )
        .unwrap();
        for _ in 0..16 {
            let t = s.ask().unwrap();
            space.validate(&t.config).unwrap();
            let lr = t.config.get("lr").and_then(Value::as_f64).unwrap();
            let bits = t.config.get("bits").and_then(Value::as_f64).unwrap();
            let sgd = t.config.get("opt").and_then(Value::as_str) == Some("sgd");
            assert_eq!(t.config.contains("momentum"), sgd);
            s.tell(
                t.id,
                Outcome::Ok(vec![
                    (lr.ln() + 5.0).powi(2) + f64::from(u8::from(!sgd)),
                    bits,
                ]),
            )
            .unwrap();
        }
    }
}

#[test]
fn multi_fidelity_gp_gives_distinct_full_fidelity_proposals_to_parallel_workers() {
    use shift_automl::scheduler::Screening;
    let sampler = GpSampler::new(
        GpOptions {
            multi_fidelity: true,
            n_initial: 5,
            ..GpOptions::default()
        },
        5,
    );
    let mut s = Search::new(
        unit_space().unwrap(),
        Box::new(sampler),
        Box::new(Screening::new(20, 1.0, 27.0)),
        options(),
    )
    .unwrap();
    let mut noisy = NoisyProblem::new(Problem::Zdt1, 5);
    for _ in 0..28 {
        let t = s.ask().unwrap();
        let (obs, _) = noisy
            .evaluate(&s.trials()[t.id as usize].x, t.budget)
            .unwrap();
        s.tell(t.id, Outcome::Ok(obs)).unwrap();
    }
    let asked: Vec<Vec<f64>> = (0..3)
        .map(|_| {
            let t = s.ask().unwrap();
            assert_eq!(t.budget, 27.0);
            s.trials()[t.id as usize].x.clone()
        })
        .collect();
    for i in 0..3 {
        for j in 0..i {
            let dist: f64 = asked[i]
                .iter()
                .zip(&asked[j])
                .map(|(a, b)| (a - b).abs())
                .sum();
            assert!(dist > 1e-6, "proposals {i} and {j} coincide");
        }
    }
}

/// Proposes the space's default every time, as a model whose acquisition is flat would.
struct Stuck;

impl Sampler for Stuck {
    fn name(&self) -> String {
        "stuck".into()
    }
    fn propose(
        &mut self,
        ctx: &shift_automl::sampler::Context<'_>,
    ) -> Result<shift_automl::Configuration, shift_automl::sampler::SamplerError> {
        Ok(ctx.space.default_configuration())
    }
}

#[test]
fn a_proposal_already_asked_at_its_budget_is_replaced_by_a_random_one() {
    let build = || {
        Search::new(
            unit_space().unwrap(),
            Box::new(Stuck),
            Box::new(FullFidelity::new(27.0)),
            options(),
        )
        .unwrap()
    };
    let mut a = build();
    for _ in 0..6 {
        let t = a.ask().unwrap();
        a.tell(t.id, Outcome::Ok(vec![1.0, 1.0])).unwrap();
    }
    let configs: Vec<_> = a.trials().iter().map(|r| r.trial.config.clone()).collect();
    assert_eq!(configs[0], unit_space().unwrap().default_configuration());
    for (i, c) in configs.iter().enumerate() {
        assert!(
            !configs[..i].contains(c),
            "trial {i} repeats an earlier one"
        );
    }
    let mut b = build();
    b.replay(a.events()).unwrap();
    assert_eq!(a.trials(), b.trials());
}
