//! Error messages of configuration spaces: each names the hyperparameter, condition or clause
//! and what is wrong with it.

use shift_automl::{ConfigSpace, Value};

const DSNN: &str = include_str!("data/dsnn_space.json");

fn dsnn() -> ConfigSpace {
    match ConfigSpace::from_json(DSNN) {
        Ok(s) => s,
        Err(e) => panic!("the test file does not read: {e}"),
    }
}

fn error_of(text: &str) -> String {
    match ConfigSpace::from_json(text) {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => e.to_string(),
    }
}

fn hp_file(hps: &str) -> String {
    format!(r#"{{"name": null, "hyperparameters": [{hps}], "conditions": [], "forbiddens": []}}"#)
}

#[test]
fn invalid_hyperparameters_are_named() {
    let cases = [
        (
            r#"{"type": "uniform_float", "name": "lr", "lower": 0.5, "upper": 0.1}"#,
            "hyperparameter 'lr': lower (0.5) must be smaller than upper (0.1)",
        ),
        (
            r#"{"type": "uniform_float", "name": "wd", "lower": 0.0, "upper": 1.0, "log": true}"#,
            "hyperparameter 'wd': a log scale needs lower > 0",
        ),
        (
            r#"{"type": "uniform_int", "name": "bits", "lower": 2, "upper": 5, "default_value": 7}"#,
            "hyperparameter 'bits': default 7 is not a legal value ([2, 5])",
        ),
        (
            r#"{"type": "uniform_int", "name": "bits", "lower": 2.5, "upper": 5}"#,
            "hyperparameter 'bits': 'lower' must be an integer, got 2.5",
        ),
        (
            r#"{"type": "normal_float", "name": "x", "mu": 0, "sigma": 1}"#,
            "hyperparameter 'x': unknown type 'normal_float'",
        ),
        (
            r#"{"type": "uniform_float", "name": "x", "lowr": 0, "upper": 1}"#,
            "hyperparameter 'x': missing field 'lower'",
        ),
        (
            r#"{"type": "uniform_float", "name": "x", "lower": 0, "upper": 1, "lowr": 0}"#,
            "hyperparameter 'x': unknown field 'lowr'",
        ),
        (
            r#"{"type": "categorical", "name": "opt", "choices": ["a", "b"], "weights": [1]}"#,
            "hyperparameter 'opt': 1 weights for 2 choices",
        ),
        (
            r#"{"type": "categorical", "name": "opt", "choices": ["a", "a"]}"#,
            "hyperparameter 'opt': choices holds 'a' twice",
        ),
        (
            r#"{"type": "categorical", "name": "opt", "choices": ["a"], "default_value": "b"}"#,
            "hyperparameter 'opt': default 'b' is not a legal value",
        ),
        (
            r#"{"type": "ordinal", "name": "bs", "sequence": []}"#,
            "hyperparameter 'bs': sequence is empty",
        ),
        (
            r#"{"type": "uniform_float", "lower": 0, "upper": 1}"#,
            "hyperparameter '#0': missing field 'name'",
        ),
        (
            r#"{"type": "uniform_int", "name": "a", "lower": 0, "upper": 1},
               {"type": "uniform_int", "name": "a", "lower": 0, "upper": 2}"#,
            "hyperparameter 'a' is defined twice",
        ),
    ];
    for (hps, expected) in cases {
        let e = error_of(&hp_file(hps));
        assert!(e.contains(expected), "{e}\n  expected: {expected}");
    }
}

fn file(conditions: &str, forbiddens: &str) -> String {
    format!(
        r#"{{"name": "t", "hyperparameters": [
            {{"type": "categorical", "name": "opt", "choices": ["SGD", "Adam"]}},
            {{"type": "uniform_float", "name": "mom", "lower": 0.0, "upper": 0.9}},
            {{"type": "uniform_float", "name": "beta", "lower": 0.5, "upper": 0.9}}
        ], "conditions": [{conditions}], "forbiddens": [{forbiddens}]}}"#
    )
}

#[test]
fn invalid_conditions_and_forbiddens_are_named() {
    let cases = [
        (
            file(
                r#"{"type": "EQ", "child": "mom", "parent": "optim", "value": "SGD"}"#,
                "",
            ),
            "condition on 'mom': unknown parent 'optim'",
        ),
        (
            file(
                r#"{"type": "EQ", "child": "mom", "parent": "opt", "value": "sgd"}"#,
                "",
            ),
            "condition on 'mom': EQ value 'sgd' is not a legal value of 'opt'",
        ),
        (
            file(
                r#"{"type": "LT", "child": "mom", "parent": "opt", "value": "SGD"}"#,
                "",
            ),
            "condition on 'mom': LT needs an ordered parent, 'opt' is categorical",
        ),
        (
            file(
                r#"{"type": "GT", "child": "mom", "parent": "beta", "value": 0.6},
                   {"type": "LT", "child": "beta", "parent": "mom", "value": 0.5}"#,
                "",
            ),
            "the conditions form a cycle",
        ),
        (
            file(
                r#"{"type": "EQ", "child": "mom", "parent": "opt", "value": "SGD"},
                   {"type": "EQ", "child": "mom", "parent": "opt", "value": "Adam"}"#,
                "",
            ),
            "condition on 'mom': it already has a condition",
        ),
        (
            file(
                r#"{"type": "XOR", "child": "mom", "parent": "opt", "value": "SGD"}"#,
                "",
            ),
            "condition on 'mom': unknown condition type 'XOR'",
        ),
        (
            file(
                r#"{"type": "AND", "conditions": [
                    {"type": "EQ", "child": "mom", "parent": "opt", "value": "SGD"},
                    {"type": "GT", "child": "beta", "parent": "mom", "value": 0.1}]}"#,
                "",
            ),
            "condition on 'mom': AND mixes conditions on 'mom' and 'beta'",
        ),
        (
            file(
                "",
                r#"{"type": "EQUALS", "name": "momentum", "value": 0.5}"#,
            ),
            "unknown hyperparameter 'momentum'",
        ),
        (
            file("", r#"{"type": "EQUALS", "name": "opt", "value": "SGD"}"#),
            "it forbids the default configuration",
        ),
        (
            file(
                "",
                r#"{"type": "IN", "name": "opt", "values": ["Adam", "RMSprop"]}"#,
            ),
            "'RMSprop' is not a legal value of 'opt'",
        ),
        (
            file("", r#"{"type": "NOT", "name": "opt"}"#),
            "unknown forbidden type 'NOT'",
        ),
        (
            file(
                "",
                r#"{"type": "RELATION_LT", "left": "opt", "right": "mom"}"#,
            ),
            "relations compare numbers, 'opt' is categorical",
        ),
    ];
    for (text, expected) in cases {
        let e = error_of(&text);
        assert!(e.contains(expected), "{e}\n  expected: {expected}");
    }
}

#[test]
fn malformed_documents_are_errors() {
    for (text, expected) in [
        ("", "not a ConfigSpace JSON document"),
        ("[1, 2]", "the top level must be an object"),
        (
            r#"{"hyperparameters": 3}"#,
            "'hyperparameters' must be a list",
        ),
        (r#"{"hyperparameters": [3]}"#, "must be an object"),
        (
            r#"{"hyperparameters": [{"name": "x"}]}"#,
            "missing field 'type'",
        ),
    ] {
        let e = error_of(text);
        assert!(e.contains(expected), "{e}\n  expected: {expected}");
    }
    // An empty object is the empty space, as for ConfigSpace.
    assert!(ConfigSpace::from_json("{}").unwrap().is_empty());
}

#[test]
fn reads_the_pre_1_0_spelling() {
    // ConfigSpace 0.x wrote `default` and `q`; 1.x reads both (and drops q).
    let s = ConfigSpace::from_json(&hp_file(
        r#"{"type": "uniform_float", "name": "x", "lower": 0, "upper": 10, "default": 2, "q": null},
           {"type": "uniform_int", "name": "n", "lower": 1, "upper": 9, "default": 3, "q": 2}"#,
    ))
    .unwrap();
    let d = s.default_configuration();
    assert_eq!(d.get("x"), Some(&Value::Float(2.0)));
    assert_eq!(d.get("n"), Some(&Value::Int(3)));
}

#[test]
fn validate_names_the_problem() {
    let s = dsnn();
    let mut c = s.default_configuration();
    c.insert("eps", Value::Float(1e-8));
    let e = s.validate(&c).unwrap_err().to_string();
    assert!(e.contains("'eps': inactive but set to"), "{e}");
    c.remove("eps");
    c.remove("momentum");
    let e = s.validate(&c).unwrap_err().to_string();
    assert!(e.contains("'momentum': active but not set"), "{e}");
    c.insert("momentum", Value::Float(1.5));
    let e = s.validate(&c).unwrap_err().to_string();
    assert!(e.contains("'momentum': 1.5 is not a legal value"), "{e}");
    c.insert("momentum", Value::Float(0.5));
    c.insert("optimiser", Value::Str("SGD".into()));
    let e = s.validate(&c).unwrap_err().to_string();
    assert!(e.contains("'optimiser': not a hyperparameter"), "{e}");
    c.remove("optimiser");
    c.insert("activation_integer_bits", Value::Int(4));
    c.insert("activation_fraction_bits", Value::Int(4));
    let e = s.validate(&c).unwrap_err().to_string();
    assert!(e.contains("activation_integer_bits == 4"), "{e}");
}
