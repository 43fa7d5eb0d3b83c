//! The study report on a synthetic ZDT1 study and on hand-made cases.

mod report_support;

use std::collections::BTreeMap;

use report_support::{small_space, study, study_of, two_effects, UNUSED};
use shift_automl::pareto::hypervolume;
use shift_automl::report::{
    Importance, ReferenceRule, Report, ReportError, ReportInput, ReportOptions, ReportTrial,
    TrialState,
};
use shift_automl::{ConfigSpace, Configuration, Hyperparameter, Value};

fn build(input: &ReportInput) -> Report {
    Report::build(input, &ReportOptions::default()).unwrap()
}

#[test]
fn synthetic_study_front_reference_and_curve() {
    let input = study(60, 1);
    let r = build(&input);
    let finished = input
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Finished)
        .count();
    assert_eq!(r.counts[0], finished);
    assert_eq!(r.counts.iter().sum::<usize>(), 60);
    // every configuration is distinct, so each finished trial is one result
    assert_eq!(r.results.len(), finished);
    assert_eq!(r.reference_rule, ReferenceRule::MaxPlusTenPercent);
    for (k, rk) in r.reference.iter().enumerate() {
        let (lo, hi) = r
            .results
            .iter()
            .map(|c| c.objectives[k])
            .fold((f64::INFINITY, f64::NEG_INFINITY), |a, v| {
                (a.0.min(v), a.1.max(v))
            });
        assert!((rk - (hi + 0.1 * (hi - lo))).abs() < 1e-12);
    }
    let all: Vec<Vec<f64>> = r.results.iter().map(|c| c.objectives.clone()).collect();
    let hv = hypervolume(&all, &r.reference);
    assert!((r.hypervolume - hv).abs() <= 1e-12 * hv && hv > 0.0);
    // the curve counts finished and failed trials, not running ones
    assert_eq!(r.curve.len(), r.counts[0] + r.counts[1]);
    for w in r.curve.windows(2) {
        assert!(w[1].hypervolume >= w[0].hypervolume, "{w:?}");
        assert!(w[1].budget_spent > w[0].budget_spent);
    }
    assert_eq!(r.curve.last().unwrap().hypervolume, r.hypervolume);
    let spent: f64 = input
        .trials
        .iter()
        .filter(|t| matches!(t.state, TrialState::Finished | TrialState::Failed))
        .map(|t| t.budget)
        .sum();
    assert_eq!(r.budget_spent, spent);
    // front sorted by the first objective, all of rank 0
    for w in r.front.windows(2) {
        assert!(r.results[w[0]].objectives[0] <= r.results[w[1]].objectives[0]);
    }
    assert!(r.front.iter().all(|&i| r.results[i].rank == 0));
    // the default was trial 0
    assert_eq!(r.default.result.map(|i| r.results[i].trial), Some(0));
}

#[test]
fn markdown_states_what_it_computed() {
    let r = build(&study(60, 1));
    let files = r.render().unwrap();
    let md = String::from_utf8(files[0].bytes.clone()).unwrap();
    assert_eq!(files[0].name, "report.md");
    assert!(
        md.contains("\nMethod: random, budgets 1 to 27. 60 trials: "),
        "{md}"
    );
    for heading in [
        "# HPO study report: zdt1-synthetic",
        "## Pareto front",
        "## Hypervolume over trials and budget",
        "## Default configuration",
        "## Hyperparameter importance",
        "### f1",
        "### f2",
    ] {
        assert!(
            md.contains(&format!("\n{heading}\n")) || md.starts_with(heading),
            "{heading}"
        );
    }
    assert!(md.contains("against the reference point `("), "{md}");
    assert!(md.contains("worst value over all finished trials plus 10 %"));
    assert!(md.contains("permutation importance on a random forest"));
    assert!(md.contains("![Hypervolume over trials](hv_trials.png)"));
    // one front table row per front point: rows start with "| <trial> | <budget> |"
    let front_rows = md
        .split("## Hypervolume")
        .next()
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("| ") && l.chars().nth(2).is_some_and(|c| c.is_ascii_digit()))
        .count();
    assert_eq!(front_rows, r.front.len());
}

#[test]
fn importance_ranks_the_unused_hyperparameter_last() {
    // checked for seeds 0..20 at 60 trials: 40 of 40 objective rankings put it last
    let input = study_of(small_space(), 60, 3, two_effects);
    let r = build(&input);
    let Importance::Computed {
        objectives,
        with_budget,
        ..
    } = &r.importance
    else {
        panic!("importance skipped: {:?}", r.importance);
    };
    assert!(*with_budget);
    for o in objectives {
        let names: Vec<&str> = o.features.iter().map(|f| f.name.as_str()).collect();
        assert!(o.r2 > 0.5, "{}: R^2 {}", o.objective, o.r2);
        assert_eq!(names.last(), Some(&UNUSED), "{}: {names:?}", o.objective);
        assert!(o.features.last().unwrap().importance.abs() < 0.05);
    }
    assert_eq!(objectives[0].features[0].name, "x0");
    // on ZDT1, f1 is x0 (plus a small fidelity bias)
    let Importance::Computed { objectives, .. } = build(&study(60, 1)).importance else {
        panic!("importance skipped");
    };
    assert_eq!(objectives[0].features[0].name, "x0");
    assert!(objectives[0].features[0].importance > 0.5);
}

fn two_floats() -> ConfigSpace {
    let mut s = ConfigSpace::new();
    s.add(Hyperparameter::uniform_float("a", 0.0, 1.0)).unwrap();
    s.add(Hyperparameter::uniform_float("b", 0.0, 1.0)).unwrap();
    s
}

fn config(a: f64, b: f64) -> Configuration {
    Configuration::new(BTreeMap::from([
        ("a".to_string(), Value::Float(a)),
        ("b".to_string(), Value::Float(b)),
    ]))
}

fn trial(number: u64, budget: f64, c: Configuration, objectives: Vec<f64>) -> ReportTrial {
    ReportTrial {
        number,
        state: TrialState::Finished,
        budget,
        config: c,
        objectives,
    }
}

fn hand_case() -> ReportInput {
    ReportInput {
        study: "hand".to_string(),
        method: None,
        space: two_floats(),
        objectives: vec!["loss".to_string(), "energy".to_string()],
        trials: vec![
            // the default looks perfect at budget 1, then shows its real value at budget 3
            trial(0, 1.0, config(0.5, 0.5), vec![0.1, 0.1]),
            trial(1, 3.0, config(0.5, 0.5), vec![1.0, 2.0]),
            trial(2, 3.0, config(0.1, 0.1), vec![0.5, 1.0]),
            trial(3, 3.0, config(0.2, 0.2), vec![1.0, 2.0]),
            trial(4, 3.0, config(0.3, 0.3), vec![2.0, 0.5]),
            trial(5, 3.0, config(0.4, 0.4), vec![0.8, 2.0]),
        ],
        references: Vec::new(),
    }
}

#[test]
fn references_are_located_each_with_its_dominators() {
    let mut input = hand_case();
    input.references = vec![
        ("baseline".to_string(), config(0.4, 0.4)),
        ("never run".to_string(), config(0.9, 0.9)),
    ];
    let r = Report::build(
        &input,
        &ReportOptions {
            reference: Some(vec![3.0, 3.0]),
            ..ReportOptions::default()
        },
    )
    .unwrap();
    assert_eq!(r.references.len(), 2);
    let (label, b) = &r.references[0];
    assert_eq!(label, "baseline");
    assert_eq!(r.results[b.result.unwrap()].trial, 5);
    let by: Vec<u64> = b
        .dominated_by
        .iter()
        .map(|x| r.results[x.result].trial)
        .collect();
    assert_eq!(by, vec![2]);
    // not evaluated, and the forests predict only the space's default: nothing to compare
    assert_eq!(r.references[1].1.result, None);
    assert_eq!(r.references[1].1.objectives, None);
    let md = String::from_utf8(r.render().unwrap()[0].bytes.clone()).unwrap();
    assert!(md.contains("## Reference configurations"), "{md}");
    assert!(md.contains("### Reference: baseline"), "{md}");
    assert!(md.contains("### Reference: never run"), "{md}");
    assert!(!md.contains("## Default configuration"), "{md}");
}

#[test]
fn dominance_of_the_default_on_a_hand_case() {
    let r = Report::build(
        &hand_case(),
        &ReportOptions {
            reference: Some(vec![3.0, 3.0]),
            ..ReportOptions::default()
        },
    )
    .unwrap();
    assert_eq!(r.reference_rule, ReferenceRule::Given);
    let d = &r.default;
    let di = d.result.unwrap();
    assert_eq!(r.results[di].trial, 1, "the highest budget counts");
    assert_eq!(d.objectives.as_deref(), Some(&[1.0, 2.0][..]));
    // trial 3 ties the default: not dominating; trial 4 trades off: not dominating
    let by: Vec<u64> = d
        .dominated_by
        .iter()
        .map(|x| r.results[x.result].trial)
        .collect();
    assert_eq!(by, vec![2, 5], "most dominating first");
    assert_eq!(d.dominated_by[0].absolute, vec![0.5, 1.0]);
    assert_eq!(d.dominated_by[0].relative, vec![Some(0.5), Some(0.5)]);
    let rel = &d.dominated_by[1].relative;
    assert!((rel[0].unwrap() - 0.2).abs() < 1e-12 && rel[1] == Some(0.0));
    // front: trials 2 and 4; the default sits behind trial 5, which trial 2 dominates
    let front: Vec<u64> = r.front.iter().map(|&i| r.results[i].trial).collect();
    assert_eq!(front, vec![2, 4]);
    assert_eq!(r.results[di].rank, 2);
    assert_eq!(
        r.hypervolume,
        hypervolume(&[vec![0.5, 1.0], vec![2.0, 0.5]], &[3.0, 3.0])
    );
    // the default's budget-1 result first fills the box, then budget 3 replaces it
    assert_eq!(r.curve[0].hypervolume, 2.9 * 2.9);
    assert!(r.curve[1].hypervolume < r.curve[0].hypervolume);
    assert!(matches!(r.importance, Importance::Skipped(_)));
    let md = String::from_utf8(r.render().unwrap()[0].bytes.clone()).unwrap();
    assert!(md.contains("2 configurations dominate it"), "{md}");
    assert!(
        md.contains("| 2 | 3 | 0.5 | 0.5 (50.0 %) | 1 | 1 (50.0 %) |"),
        "{md}"
    );
    assert!(
        md.contains("Not computed: 5 distinct finished configurations"),
        "{md}"
    );
}

#[test]
fn an_unevaluated_default_is_predicted_and_said_so() {
    let mut input = study(60, 2);
    input.trials.remove(0);
    let r = build(&input);
    assert_eq!(r.default.result, None);
    let pred = r
        .default
        .objectives
        .as_ref()
        .expect("forests predict the default");
    assert_eq!(pred.len(), 2);
    let md = String::from_utf8(r.render().unwrap()[0].bytes.clone()).unwrap();
    assert!(md.contains("It was not evaluated in this study; the importance forests predict"));
}

#[test]
fn bad_input_is_an_error() {
    let mut input = hand_case();
    input.trials[2].objectives.pop();
    let e = Report::build(&input, &ReportOptions::default()).unwrap_err();
    assert_eq!(
        e,
        ReportError::ObjectiveCount {
            trial: 2,
            expected: 2,
            got: 1
        }
    );
    let mut input = hand_case();
    input.trials[3].objectives[1] = f64::NAN;
    let e = Report::build(&input, &ReportOptions::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "trial 3: objective 'energy' is not a finite number"
    );
    let options = ReportOptions {
        reference: Some(vec![1.0]),
        ..ReportOptions::default()
    };
    let e = Report::build(&hand_case(), &options).unwrap_err();
    assert!(matches!(e, ReportError::Reference(_)), "{e}");
    let mut input = hand_case();
    for t in &mut input.trials {
        t.state = TrialState::Failed;
    }
    let e = Report::build(&input, &ReportOptions::default()).unwrap_err();
    assert_eq!(e, ReportError::NoFinishedTrial("hand".to_string()));
    let mut input = hand_case();
    input.objectives.clear();
    assert!(matches!(
        Report::build(&input, &ReportOptions::default()),
        Err(ReportError::NoObjectives(_))
    ));
}

#[cfg(feature = "report")]
#[test]
fn plots_are_svg_and_png_with_text_and_render_the_same_twice() {
    let r = build(&study(60, 1));
    let files = r.render().unwrap();
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    for stem in ["front", "hv_trials", "hv_budget", "importance"] {
        assert!(names.contains(&format!("{stem}.svg").as_str()), "{names:?}");
        let png = &files
            .iter()
            .find(|f| f.name == format!("{stem}.png"))
            .unwrap()
            .bytes;
        let img = image::load_from_memory(png).unwrap().to_rgb8();
        // black text pixels: the bundled font rasterised the labels
        let dark = img.pixels().filter(|p| p.0.iter().all(|&c| c < 60)).count();
        assert!(dark > 200, "{stem}: {dark} dark pixels");
    }
    assert!(names.contains(&"report.html"));
    let svg = files.iter().find(|f| f.name == "front.svg").unwrap();
    let svg = String::from_utf8(svg.bytes.clone()).unwrap();
    assert!(svg.contains("<svg") && svg.contains("Pareto front"));
    assert_eq!(files, r.render().unwrap());
    assert_eq!(r, build(&study(60, 1)));
}

#[cfg(feature = "report")]
#[test]
fn html_is_self_contained() {
    let r = build(&study(60, 1));
    let files = r.render().unwrap();
    let html = files.iter().find(|f| f.name == "report.html").unwrap();
    let html = String::from_utf8(html.bytes.clone()).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<svg").count(), 4);
    for banned in ["<script", "<link", "src=", "@import", "url("] {
        assert!(!html.contains(banned), "{banned}");
    }
}

#[test]
fn curve_with_promotions_matches_a_replay_from_scratch() {
    let mut input = study(40, 4);
    // promote every third finished configuration to budget 27, after all the others
    let promoted: Vec<ReportTrial> = input
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Finished && t.budget < 27.0)
        .step_by(3)
        .cloned()
        .collect();
    for (k, mut t) in promoted.into_iter().enumerate() {
        t.number = 40 + k as u64;
        t.budget = 27.0;
        t.objectives = report_support::zdt1(&t.config, 27.0);
        input.trials.push(t);
    }
    let r = build(&input);
    let mut sorted: Vec<&ReportTrial> = input.trials.iter().collect();
    sorted.sort_by_key(|t| t.number);
    let mut known: BTreeMap<String, (f64, Vec<f64>)> = BTreeMap::new();
    let mut at = 0;
    for t in sorted {
        match t.state {
            TrialState::Finished => {
                let e = known
                    .entry(t.config.to_string())
                    .or_insert((t.budget, t.objectives.clone()));
                if t.budget >= e.0 {
                    *e = (t.budget, t.objectives.clone());
                }
            }
            TrialState::Failed => {}
            _ => continue,
        }
        let all: Vec<Vec<f64>> = known.values().map(|v| v.1.clone()).collect();
        assert_eq!(r.curve[at].trial, t.number);
        let hv = hypervolume(&all, &r.reference);
        assert!((r.curve[at].hypervolume - hv).abs() <= 1e-12 * hv, "{t:?}");
        at += 1;
    }
    assert_eq!(at, r.curve.len());
    assert_eq!(r.curve.last().unwrap().hypervolume, r.hypervolume);
}

/// Trials of `f` over `space`, all finished at budget 1 except every 5th at budget 3.
fn study_over(
    space: ConfigSpace,
    objectives: &[&str],
    n: usize,
    f: impl Fn(&Configuration) -> Vec<f64>,
) -> ReportInput {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let trials = (0..n as u64)
        .map(|i| {
            let c = space.sample(&mut rng);
            trial(i, if i % 5 == 0 { 3.0 } else { 1.0 }, c.clone(), f(&c))
        })
        .collect();
    ReportInput {
        study: "edge".to_string(),
        method: None,
        space,
        objectives: objectives.iter().map(|s| s.to_string()).collect(),
        trials,
        references: Vec::new(),
    }
}

fn num_of(c: &Configuration, name: &str) -> f64 {
    c.get(name).and_then(Value::as_f64).unwrap_or(0.0)
}

#[test]
fn one_and_three_objectives_and_names_outside_the_font_render() {
    let one = study_over(two_floats(), &["損失"], 30, |c| vec![num_of(c, "a")]);
    let r = build(&one);
    assert_eq!(r.front.len(), 1);
    assert!(r.render().unwrap().len() >= 9);
    let three = study_over(
        two_floats(),
        &["loss", "énergie_µJ", "latency"],
        30,
        |c| {
            let (a, b) = (num_of(c, "a"), num_of(c, "b"));
            vec![a, 1.0 - a + b, (a - 0.5).abs() + b]
        },
    );
    let r = build(&three);
    let files = r.render().unwrap();
    let md = String::from_utf8(files[0].bytes.clone()).unwrap();
    assert!(md.contains("(projected onto loss and énergie_µJ)"), "{md}");
    let all: Vec<Vec<f64>> = r.results.iter().map(|c| c.objectives.clone()).collect();
    // the front's volume and all results' volume agree up to the slicing's rounding
    let hv = hypervolume(&all, &r.reference);
    assert!(
        (r.hypervolume - hv).abs() <= 1e-12 * hv,
        "{} {hv}",
        r.hypervolume
    );
}

#[test]
fn conditional_and_categorical_spaces_and_constant_objectives() {
    use shift_automl::space::Condition;
    let mut space = ConfigSpace::new();
    space
        .add(Hyperparameter::categorical(
            "opt",
            vec![Value::Str("sgd".into()), Value::Str("adam".into())],
        ))
        .unwrap();
    space
        .add(Hyperparameter::uniform_float("momentum", 0.0, 1.0))
        .unwrap();
    space
        .add(Hyperparameter::uniform_float("lr", 1e-4, 1.0).log(true))
        .unwrap();
    space
        .add_condition(Condition::eq("momentum", "opt", "sgd"))
        .unwrap();
    let input = study_over(space, &["loss", "flat"], 40, |c| {
        let sgd = c.get("opt") == Some(&Value::Str("sgd".into()));
        let lr = num_of(c, "lr").ln();
        vec![if sgd { 1.0 } else { 0.0 } + 0.1 * lr * lr, 2.0]
    });
    let r = build(&input);
    let Importance::Computed { objectives, .. } = &r.importance else {
        panic!("{:?}", r.importance);
    };
    // a constant objective: nothing matters, and the reference point still lies beyond it
    assert!(objectives[1].features.iter().all(|f| f.importance == 0.0));
    assert!(r.reference[1] > 2.0);
    let md = String::from_utf8(r.render().unwrap()[0].bytes.clone()).unwrap();
    // an inactive momentum shows as '-' in the front table
    let inactive = r
        .front
        .iter()
        .any(|&i| !r.results[i].config.contains("momentum"));
    assert!(
        inactive,
        "adam is the better optimiser here, so it is on the front"
    );
    assert!(
        md.contains("| adam | - |") || md.contains("| - | adam |"),
        "{md}"
    );
}
