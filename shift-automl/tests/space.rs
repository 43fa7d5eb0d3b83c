//! Configuration spaces against a file written by Python's ConfigSpace 1.2
//! (`tests/data/dsnn_space.json`: every hyperparameter type, condition kind and forbidden kind).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use shift_automl::space::{Condition, Forbidden, HpKind, Relation};
use shift_automl::{ConfigSpace, Configuration, DimKind, Hyperparameter, SpaceError, Value};

const DSNN: &str = include_str!("data/dsnn_space.json");

fn dsnn() -> ConfigSpace {
    match ConfigSpace::from_json(DSNN) {
        Ok(s) => s,
        Err(e) => panic!("the test file does not read: {e}"),
    }
}

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn str_of<'a>(c: &'a Configuration, name: &str) -> Option<&'a str> {
    c.get(name).and_then(|v| v.as_str())
}

fn num(c: &Configuration, name: &str) -> Option<f64> {
    c.get(name).and_then(|v| v.as_f64())
}

#[test]
fn reads_python_file_in_configspace_order() {
    let s = dsnn();
    assert_eq!(s.name(), Some("dsnn-mnist"));
    assert_eq!(s.len(), 17);
    // The order `list(cs.keys())` gives in Python: depth in the condition graph, then name.
    assert_eq!(
        s.names(),
        [
            "activation_fraction_bits",
            "activation_integer_bits",
            "batch_size",
            "dataset",
            "lr",
            "optimizer",
            "shift_depth",
            "shift_type",
            "weight_bits",
            "weight_decay",
            "beta1",
            "eps",
            "lr_step",
            "momentum",
            "rounding",
            "warmup_epochs",
            "nesterov",
        ]
    );
    assert_eq!(s.conditions().len(), 7);
    assert_eq!(s.forbiddens().len(), 4);
    let kinds = s.dim_kinds();
    assert_eq!(kinds[0], DimKind::Integer { levels: 29 });
    assert_eq!(kinds[2], DimKind::Ordinal { levels: 4 });
    assert_eq!(kinds[3], DimKind::Constant);
    assert_eq!(kinds[4], DimKind::Continuous);
    assert_eq!(kinds[5], DimKind::Categorical { choices: 7 });
    let lr = s.hyperparameter("lr").unwrap();
    assert_eq!(
        lr.meta(),
        Some(&serde_json::json!({"unit": "learning rate"}))
    );
}

#[test]
fn json_round_trip() {
    let a = dsnn();
    let text = a.to_json();
    let b = ConfigSpace::from_json(&text).unwrap();
    assert_eq!(a, b);
    assert_eq!(text, b.to_json());
    // Field names of ConfigSpace 1.x.
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["format_version"], 0.4);
    let hp = &doc["hyperparameters"][4];
    assert_eq!(hp["type"], "uniform_float");
    assert_eq!(hp["name"], "lr");
    assert_eq!(hp["default_value"], 0.1);
    assert_eq!(hp["log"], true);
}

#[test]
fn default_configuration_matches_python() {
    // `dict(cs.get_default_configuration())` in ConfigSpace 1.2.
    let expected = serde_json::json!({
        "activation_fraction_bits": 16, "activation_integer_bits": 16, "batch_size": 128,
        "dataset": "mnist", "lr": 0.1, "optimizer": "SGD", "shift_depth": 20,
        "shift_type": "PS", "weight_bits": 5, "weight_decay": 0.0001, "lr_step": 32,
        "momentum": 0.9, "warmup_epochs": 2, "nesterov": false,
    });
    assert_eq!(dsnn().default_configuration().to_json(), expected);
}

#[test]
fn derived_defaults_follow_configspace_rules() {
    let mut s = ConfigSpace::new();
    s.add(Hyperparameter::uniform_float("a", 1.0, 3.0)).unwrap();
    s.add(Hyperparameter::uniform_float("b", 1.0, 100.0).log(true))
        .unwrap();
    s.add(Hyperparameter::uniform_int("c", 0, 5)).unwrap();
    s.add(Hyperparameter::uniform_int("d", 10, 100).log(true))
        .unwrap();
    s.add(
        Hyperparameter::categorical("e", vec!["x".into(), "y".into(), "z".into()])
            .with_weights(vec![1.0, 3.0, 3.0]),
    )
    .unwrap();
    s.add(Hyperparameter::ordinal(
        "f",
        vec![8i64.into(), 16i64.into()],
    ))
    .unwrap();
    let d = s.default_configuration();
    assert_eq!(d.get("a"), Some(&Value::Float(2.0)));
    assert!((num(&d, "b").unwrap() - 10.0).abs() < 1e-12);
    // 2.5 rounds half to even, as NumPy's rint (Python gives 2 for warmup_epochs [0, 5]).
    assert_eq!(d.get("c"), Some(&Value::Int(2)));
    assert_eq!(d.get("d"), Some(&Value::Int(32)));
    assert_eq!(str_of(&d, "e"), Some("y"));
    assert_eq!(d.get("f"), Some(&Value::Int(8)));
}

#[test]
fn conditions_make_children_absent() {
    let s = dsnn();
    let mut r = rng(7);
    let mut seen_inactive = 0;
    for _ in 0..2000 {
        let c = s.try_sample(&mut r).unwrap();
        s.validate(&c).unwrap();
        let opt = str_of(&c, "optimizer").unwrap();
        assert_eq!(c.contains("momentum"), opt == "SGD", "{c}");
        assert_eq!(c.contains("eps"), opt != "SGD", "{c}");
        assert_eq!(c.contains("beta1"), opt == "Adam" || opt == "radam", "{c}");
        let nesterov = opt == "SGD" && num(&c, "momentum").unwrap() > 0.0;
        assert_eq!(c.contains("nesterov"), nesterov, "{c}");
        assert_eq!(
            c.contains("rounding"),
            str_of(&c, "shift_type") == Some("Q"),
            "{c}"
        );
        assert_eq!(
            c.contains("warmup_epochs"),
            num(&c, "batch_size").unwrap() < 256.0,
            "{c}"
        );
        assert_eq!(c.contains("lr_step"), num(&c, "lr").unwrap() > 0.05, "{c}");
        seen_inactive += s.len() - c.len();
    }
    assert!(seen_inactive > 0);
}

#[test]
fn a_child_of_an_inactive_parent_is_inactive() {
    let mut s = ConfigSpace::new();
    s.add(Hyperparameter::categorical(
        "a",
        vec![true.into(), false.into()],
    ))
    .unwrap();
    s.add(Hyperparameter::uniform_int("b", 0, 10)).unwrap();
    s.add(Hyperparameter::uniform_int("c", 0, 10)).unwrap();
    s.add_condition(Condition::eq("b", "a", true)).unwrap();
    // NEQ would hold for an absent parent if absence were a value; it must not.
    s.add_condition(Condition::neq("c", "b", 3i64)).unwrap();
    let mut r = rng(1);
    for _ in 0..500 {
        let c = s.sample(&mut r);
        if c.get("a") == Some(&Value::Bool(false)) {
            assert!(!c.contains("b") && !c.contains("c"), "{c}");
        }
    }
}

#[test]
fn forbidden_clauses_are_never_sampled() {
    let s = dsnn();
    let mut r = rng(11);
    for _ in 0..3000 {
        let c = s.try_sample(&mut r).unwrap();
        let q = str_of(&c, "shift_type") == Some("Q");
        let wb = num(&c, "weight_bits").unwrap();
        assert!(!(q && (wb == 2.0 || wb == 3.0)), "{c}");
        assert_ne!(num(&c, "activation_integer_bits"), Some(4.0), "{c}");
        assert_ne!(str_of(&c, "optimizer"), Some("adadelta"), "{c}");
        assert!(
            num(&c, "activation_fraction_bits") <= num(&c, "activation_integer_bits"),
            "{c}"
        );
    }
}

#[test]
fn categorical_weights_are_honoured() {
    let s = dsnn();
    let mut r = rng(3);
    let n = 4000;
    let ps = (0..n)
        .filter(|_| str_of(&s.sample(&mut r), "shift_type") == Some("PS"))
        .count();
    // Weights 0.3 / 0.7; the forbidden clause on Q with 2-3 weight bits removes about half of
    // the Q draws, leaving PS with 0.7 / (0.7 + 0.15) of the samples.
    let p = ps as f64 / n as f64;
    assert!((p - 0.7 / 0.85).abs() < 0.03, "{p}");
}

#[test]
fn sampling_is_deterministic_for_a_seed() {
    let s = dsnn();
    let a = s.sample_n(&mut rng(42), 20).unwrap();
    let b = s.sample_n(&mut rng(42), 20).unwrap();
    assert_eq!(a, b);
    let c = s.sample_n(&mut rng(43), 20).unwrap();
    assert_ne!(a, c);
}

#[test]
fn encode_decode_round_trip() {
    let s = dsnn();
    let mut r = rng(5);
    for _ in 0..500 {
        let c = s.sample(&mut r);
        let v = s.encode(&c);
        assert_eq!(v.len(), s.len());
        for (x, name) in v.iter().zip(s.names()) {
            if c.contains(name) {
                assert!((0.0..=1.0).contains(x), "{name} encodes to {x}");
            } else {
                assert!(x.is_nan(), "inactive {name} encodes to {x}");
            }
        }
        let d = s.decode(&v).unwrap();
        assert_eq!(d.len(), c.len());
        for (name, value) in c.iter() {
            let back = d.get(name).unwrap();
            match value {
                Value::Float(x) => {
                    let y = back.as_f64().unwrap();
                    assert!(
                        (x - y).abs() <= 1e-12 * x.abs().max(1e-300),
                        "{name}: {x} {y}"
                    );
                }
                _ => assert_eq!(value, back, "{name}"),
            }
        }
    }
}

#[test]
fn decode_rounds_drops_inactive_and_rejects_forbidden() {
    let s = dsnn();
    let mut v = s.encode(&s.default_configuration());
    let at = |n: &str| s.index_of(n).unwrap();
    // optimizer: 7 choices, 0.2 * 6 = 1.2 rounds to index 1, "Adam".
    v[at("optimizer")] = 0.2;
    // Entries of children that the new parent value deactivates are ignored.
    v[at("momentum")] = 0.3;
    v[at("beta1")] = 0.5;
    // Out of range entries are clamped.
    v[at("shift_depth")] = 1.7;
    let c = s.decode(&v).unwrap();
    assert_eq!(str_of(&c, "optimizer"), Some("Adam"));
    assert!(!c.contains("momentum") && !c.contains("nesterov"));
    assert_eq!(c.get("shift_depth"), Some(&Value::Int(20)));
    // Active with a NaN entry: the default (eps's is 1e-8).
    assert!((num(&c, "eps").unwrap() - 1e-8).abs() < 1e-20);
    assert!((num(&c, "beta1").unwrap() - 0.895).abs() < 1e-12);
    s.validate(&c).unwrap();

    v[at("activation_integer_bits")] = 0.0; // 4, forbidden
    assert!(matches!(
        s.decode(&v),
        Err(SpaceError::ForbiddenConfiguration(_))
    ));
    assert!(matches!(
        s.decode(&v[1..]),
        Err(SpaceError::VectorLength {
            expected: 17,
            got: 16
        })
    ));
}

#[test]
fn unit_floats_encode_as_the_identity() {
    let mut s = ConfigSpace::new();
    for i in 0..6 {
        s.add(Hyperparameter::uniform_float(&format!("x{i}"), 0.0, 1.0))
            .unwrap();
    }
    assert_eq!(s.names(), ["x0", "x1", "x2", "x3", "x4", "x5"]);
    let x = [0.0, 0.1, 0.25, 1.0 / 3.0, 0.9, 1.0];
    let c = s.decode(&x).unwrap();
    for (i, xi) in x.iter().enumerate() {
        assert_eq!(c.get(&format!("x{i}")), Some(&Value::Float(*xi)));
    }
    assert_eq!(s.encode(&c), x);
}

#[test]
fn log_scale() {
    let mut s = ConfigSpace::new();
    s.add(Hyperparameter::uniform_float("lr", 1e-4, 1.0).log(true))
        .unwrap();
    s.add(Hyperparameter::uniform_int("n", 1, 1024).log(true))
        .unwrap();
    let mut c = Configuration::default();
    c.insert("lr", Value::Float(1e-2));
    c.insert("n", Value::Int(32));
    let v = s.encode(&c);
    assert!((v[0] - 0.5).abs() < 1e-12, "{v:?}");
    assert!((v[1] - 0.5).abs() < 1e-12, "{v:?}");
    let mut r = rng(9);
    let n = 4000;
    let (mut small_lr, mut small_n) = (0, 0);
    for _ in 0..n {
        let c = s.sample(&mut r);
        small_lr += usize::from(num(&c, "lr").unwrap() < 1e-2);
        small_n += usize::from(num(&c, "n").unwrap() < 32.0);
    }
    // Log-uniform: half the mass below the geometric middle (a linear scale would put 1 %).
    let (p_lr, p_n) = (small_lr as f64 / n as f64, small_n as f64 / n as f64);
    assert!((p_lr - 0.5).abs() < 0.03, "{p_lr}");
    assert!((p_n - 0.5).abs() < 0.04, "{p_n}");
}

#[test]
fn neighbours_are_valid_and_one_exchange() {
    let s = dsnn();
    let mut r = rng(13);
    for _ in 0..50 {
        let c = s.sample(&mut r);
        let ns = s.neighbours(&c, &mut r, 8);
        assert_eq!(ns.len(), 8);
        for (i, nb) in ns.iter().enumerate() {
            s.validate(nb).unwrap();
            assert_ne!(nb, &c);
            assert!(!ns[..i].contains(nb));
            // Exactly one hyperparameter active in both changed value; others can only have
            // appeared (at their defaults) or disappeared through conditions.
            let changed: Vec<&str> = c
                .iter()
                .filter(|(n, v)| nb.get(n).is_some_and(|w| w != *v))
                .map(|(n, _)| n)
                .collect();
            assert_eq!(changed.len(), 1, "{c}\n{nb}");
            for (name, v) in nb.iter() {
                if !c.contains(name) {
                    let h = s.hyperparameter(name).unwrap();
                    assert_eq!(v, &h.default_value(), "{name}");
                }
            }
        }
    }
}

#[test]
fn neighbourhoods_smaller_than_asked_are_returned_whole() {
    let mut s = ConfigSpace::new();
    s.add(Hyperparameter::categorical(
        "a",
        vec!["x".into(), "y".into(), "z".into()],
    ))
    .unwrap();
    s.add(Hyperparameter::constant("k", Value::Int(1))).unwrap();
    s.add(Hyperparameter::ordinal(
        "o",
        vec![1i64.into(), 2i64.into(), 3i64.into()],
    ))
    .unwrap();
    let c = s.default_configuration(); // a = x, o = 1
    let ns = s.neighbours(&c, &mut rng(0), 100);
    // Two other choices of `a`, one adjacent item of `o`.
    assert_eq!(ns.len(), 3);
    let mut only_constants = ConfigSpace::new();
    only_constants
        .add(Hyperparameter::constant("k", Value::Int(1)))
        .unwrap();
    let d = only_constants.default_configuration();
    assert!(only_constants.neighbours(&d, &mut rng(0), 5).is_empty());
}

#[test]
fn configurations_read_from_json() {
    let s = dsnn();
    let c = s.sample(&mut rng(2));
    let back = s.configuration_from_json(&c.to_json()).unwrap();
    assert_eq!(back, c);
    // Integers given for a float hyperparameter become floats.
    let mut j = s.default_configuration().to_json();
    j["momentum"] = serde_json::json!(0);
    // Momentum 0 deactivates nesterov.
    j.as_object_mut().unwrap().remove("nesterov");
    let d = s.configuration_from_json(&j).unwrap();
    assert_eq!(d.get("momentum"), Some(&Value::Float(0.0)));
    j["weight_bits"] = serde_json::json!(4.5);
    let e = s.configuration_from_json(&j).unwrap_err().to_string();
    assert!(e.contains("'weight_bits': 4.5 is not a legal value"), "{e}");
}

#[test]
fn an_effectively_empty_space_is_an_error_not_a_hang() {
    let mut s = ConfigSpace::new();
    s.add(Hyperparameter::uniform_float("x", 0.0, 1.0)).unwrap();
    s.add(Hyperparameter::uniform_float("y", 0.0, 1.0)).unwrap();
    for op in [Relation::Lt, Relation::Gt] {
        s.add_forbidden(Forbidden::Relation {
            op,
            left: "x".into(),
            right: "y".into(),
        })
        .unwrap();
    }
    // Only x == y is allowed (the default, 0.5 and 0.5), which sampling never hits.
    assert!(matches!(
        s.try_sample(&mut rng(0)),
        Err(SpaceError::Empty { .. })
    ));
    assert_eq!(s.sample(&mut rng(0)), s.default_configuration());
}

#[test]
fn builder_api_and_kinds() {
    let mut s = ConfigSpace::new();
    s.add(Hyperparameter::uniform_int("bits", 2, 5).with_default(Value::Int(5)))
        .unwrap()
        .add(Hyperparameter::constant("k", "x".into()))
        .unwrap();
    assert!(matches!(
        s.add(Hyperparameter::uniform_int("bad", 3, 3)),
        Err(SpaceError::Hyperparameter { .. })
    ));
    let h = s.hyperparameter("bits").unwrap();
    assert!(matches!(
        h.kind(),
        HpKind::Int {
            lower: 2,
            upper: 5,
            log: false
        }
    ));
    assert_eq!(s.len(), 2);
    assert_eq!(s.default_configuration().get("bits"), Some(&Value::Int(5)));
}
