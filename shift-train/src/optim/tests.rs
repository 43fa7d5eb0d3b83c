//! Unit tests of the optimisers against hand-derived PyTorch formulas (in `f64`), and of their
//! state handling. The six golden trajectories are in `tests/golden_optim.rs`.

use super::*;

/// Deterministic pseudo-random gradients, no RNG crate needed.
fn grads(steps: usize, n: usize) -> Vec<Vec<f32>> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..steps)
        .map(|_| {
            (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    ((x >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 4.0
                })
                .collect()
        })
        .collect()
}

const P0: [f32; 5] = [0.5, -1.25, 0.0, 2.0, -0.03125];

fn run(opt: &mut Optimizer, gs: &[Vec<f32>]) -> Vec<f32> {
    let mut p = P0.to_vec();
    for g in gs {
        opt.update("p", 0, &mut p, g).unwrap();
    }
    p
}

fn assert_close(got: &[f32], want: &[f64], what: &str) {
    for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
        let tol = 1e-5 * b.abs().max(0.1);
        assert!((f64::from(a) - b).abs() <= tol, "{what}[{i}]: {a} vs {b}");
    }
}

fn optim(algo: Algorithm, lr: f64, wd: f64) -> Optimizer {
    Optimizer::new(algo, vec![GroupOptions::new(lr, wd)]).unwrap()
}

#[test]
fn rmsprop_first_step_by_hand() {
    // square_avg = 0.01 * 0.5^2 = 0.0025; p = 1 - 0.01 * 0.5 / (0.05 + 1e-8).
    let mut o = optim(Algorithm::rmsprop(), 0.01, 0.0);
    let mut p = [1.0f32];
    o.update("w", 0, &mut p, &[0.5]).unwrap();
    assert_close(&p, &[1.0 - 0.01 * 0.5 / (0.05 + 1e-8)], "rmsprop");
    assert_close(
        o.param_buffer("w", "square_avg").unwrap(),
        &[0.0025],
        "square_avg",
    );
}

/// RMSprop as `torch.optim.RMSprop` documents it, in `f64`.
fn rmsprop_f64(
    lr: f64,
    alpha: f64,
    eps: f64,
    wd: f64,
    mom: f64,
    centered: bool,
    gs: &[Vec<f32>],
) -> Vec<f64> {
    let mut p: Vec<f64> = P0.iter().map(|&x| x.into()).collect();
    let n = p.len();
    let (mut v, mut b, mut ga) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    for g in gs {
        for i in 0..n {
            let g = f64::from(g[i]) + wd * p[i];
            v[i] = alpha * v[i] + (1.0 - alpha) * g * g;
            let mut vt = v[i];
            if centered {
                ga[i] = alpha * ga[i] + (1.0 - alpha) * g;
                vt -= ga[i] * ga[i];
            }
            if mom > 0.0 {
                b[i] = mom * b[i] + g / (vt.sqrt() + eps);
                p[i] -= lr * b[i];
            } else {
                p[i] -= lr * g / (vt.sqrt() + eps);
            }
        }
    }
    p
}

#[test]
fn rmsprop_matches_the_pytorch_formulas() {
    let gs = grads(20, P0.len());
    for (mom, centered, wd) in [
        (0.0, false, 0.0),
        (0.9, false, 1e-2),
        (0.5, true, 0.0),
        (0.0, true, 1e-3),
    ] {
        let algo = Algorithm::RmsProp {
            alpha: 0.99,
            eps: 1e-8,
            momentum: mom,
            centered,
        };
        let got = run(&mut optim(algo, 0.01, wd), &gs);
        let want = rmsprop_f64(0.01, 0.99, 1e-8, wd, mom, centered, &gs);
        assert_close(
            &got,
            &want,
            &format!("rmsprop mom {mom} centered {centered} wd {wd}"),
        );
    }
}

#[test]
fn adadelta_first_step_by_hand() {
    // square_avg = 0.1 * 0.25; delta = sqrt(0 + 1e-6) / sqrt(0.025 + 1e-6) * 0.5.
    let mut o = optim(Algorithm::adadelta(), 1.0, 0.0);
    let mut p = [1.0f32];
    o.update("w", 0, &mut p, &[0.5]).unwrap();
    let delta = (1e-6f64).sqrt() / (0.025f64 + 1e-6).sqrt() * 0.5;
    assert_close(&p, &[1.0 - delta], "adadelta");
    assert_close(
        o.param_buffer("w", "acc_delta").unwrap(),
        &[0.1 * delta * delta],
        "acc_delta",
    );
}

#[test]
fn adadelta_matches_the_pytorch_formulas() {
    let gs = grads(20, P0.len());
    for (lr, rho, wd) in [(1.0, 0.9, 0.0), (0.5, 0.95, 1e-2)] {
        let got = run(
            &mut optim(Algorithm::Adadelta { rho, eps: 1e-6 }, lr, wd),
            &gs,
        );
        let mut p: Vec<f64> = P0.iter().map(|&x| x.into()).collect();
        let (mut v, mut u) = (vec![0.0f64; 5], vec![0.0f64; 5]);
        for g in &gs {
            for i in 0..5 {
                let g = f64::from(g[i]) + wd * p[i];
                v[i] = rho * v[i] + (1.0 - rho) * g * g;
                let delta = (u[i] + 1e-6).sqrt() / (v[i] + 1e-6).sqrt() * g;
                u[i] = rho * u[i] + (1.0 - rho) * delta * delta;
                p[i] -= lr * delta;
            }
        }
        assert_close(&got, &p, &format!("adadelta lr {lr} rho {rho} wd {wd}"));
    }
}

#[test]
fn adam_amsgrad_and_weight_decay_match_the_pytorch_formulas() {
    let gs = grads(15, P0.len());
    for amsgrad in [false, true] {
        let algo = Algorithm::Adam {
            betas: (0.9, 0.999),
            eps: 1e-8,
            amsgrad,
        };
        let got = run(&mut optim(algo, 1e-2, 1e-2), &gs);
        let mut p: Vec<f64> = P0.iter().map(|&x| x.into()).collect();
        let (mut m, mut v, mut vmax) = (vec![0.0f64; 5], vec![0.0f64; 5], vec![0.0f64; 5]);
        for (t, g) in gs.iter().enumerate() {
            let t = (t + 1) as i32;
            for i in 0..5 {
                let g = f64::from(g[i]) + 1e-2 * p[i];
                m[i] = 0.9 * m[i] + 0.1 * g;
                v[i] = 0.999 * v[i] + 0.001 * g * g;
                vmax[i] = vmax[i].max(v[i]);
                let second = if amsgrad { vmax[i] } else { v[i] };
                let denom = (second / (1.0 - 0.999f64.powi(t))).sqrt() + 1e-8;
                p[i] -= 1e-2 * m[i] / (1.0 - 0.9f64.powi(t)) / denom;
            }
        }
        assert_close(&got, &p, &format!("adam amsgrad {amsgrad}"));
    }
}

#[test]
fn adagrad_lr_decay_and_initial_accumulator_match_the_pytorch_formulas() {
    let gs = grads(10, P0.len());
    let algo = Algorithm::Adagrad {
        lr_decay: 0.1,
        initial_accumulator_value: 0.5,
        eps: 1e-10,
    };
    let got = run(&mut optim(algo, 0.05, 1e-3), &gs);
    let mut p: Vec<f64> = P0.iter().map(|&x| x.into()).collect();
    let mut s = [0.5f64; 5];
    for (t, g) in gs.iter().enumerate() {
        let clr = 0.05 / (1.0 + t as f64 * 0.1);
        for i in 0..5 {
            let g = f64::from(g[i]) + 1e-3 * p[i];
            s[i] += g * g;
            p[i] -= clr * g / (s[i].sqrt() + 1e-10);
        }
    }
    assert_close(&got, &p, "adagrad");
}

#[test]
fn sgd_dampening_matches_the_pytorch_formulas() {
    let gs = grads(10, P0.len());
    let algo = Algorithm::Sgd {
        momentum: 0.8,
        dampening: 0.3,
        nesterov: false,
    };
    let got = run(&mut optim(algo, 0.1, 0.0), &gs);
    let mut p: Vec<f64> = P0.iter().map(|&x| x.into()).collect();
    let mut b = [0.0f64; 5];
    for (t, g) in gs.iter().enumerate() {
        for i in 0..5 {
            let g = f64::from(g[i]);
            // The first step copies the gradient, undampened.
            b[i] = if t == 0 { g } else { 0.8 * b[i] + 0.7 * g };
            p[i] -= 0.1 * b[i];
        }
    }
    assert_close(&got, &p, "sgd dampening");
}

#[test]
fn ranger_lookahead_syncs_every_k_steps() {
    let gs = grads(12, P0.len());
    let mut o = optim(Algorithm::ranger(), 1e-2, 0.0);
    let mut p = P0.to_vec();
    for (t, g) in gs.iter().enumerate() {
        o.update("p", 0, &mut p, g).unwrap();
        let slow = o.param_buffer("p", "slow_buffer").unwrap();
        if (t + 1) % 6 == 0 {
            assert_eq!(slow, &p[..], "step {}", t + 1);
        } else {
            assert_ne!(slow, &p[..], "step {}", t + 1);
        }
    }
}

fn all_algorithms() -> Vec<Algorithm> {
    vec![
        Algorithm::sgd(0.0),
        Algorithm::Sgd {
            momentum: 0.9,
            dampening: 0.0,
            nesterov: true,
        },
        Algorithm::Adam {
            betas: (0.9, 0.999),
            eps: 1e-8,
            amsgrad: true,
        },
        Algorithm::adagrad(),
        Algorithm::RmsProp {
            alpha: 0.99,
            eps: 1e-8,
            momentum: 0.9,
            centered: true,
        },
        Algorithm::adadelta(),
        Algorithm::radam(),
        Algorithm::ranger(),
    ]
}

#[test]
fn state_round_trip_continues_bit_for_bit() {
    let gs = grads(16, P0.len());
    for algo in all_algorithms() {
        let groups = vec![GroupOptions::new(0.01, 1e-3), GroupOptions::new(0.02, 0.0)];
        let mut whole = Optimizer::new(algo.clone(), groups.clone()).unwrap();
        let (mut a, mut b) = (P0.to_vec(), P0.to_vec());
        for g in &gs {
            let mut refs = [
                ParamRef {
                    name: "a",
                    group: 0,
                    value: &mut a,
                    grad: g,
                },
                ParamRef {
                    name: "layer.b",
                    group: 1,
                    value: &mut b,
                    grad: &g[..],
                },
            ];
            whole.step(&mut refs).unwrap();
        }
        // The same run, interrupted after 7 steps and resumed from exported state.
        let mut first = Optimizer::new(algo.clone(), groups.clone()).unwrap();
        let (mut a2, mut b2) = (P0.to_vec(), P0.to_vec());
        for g in &gs[..7] {
            first.update("a", 0, &mut a2, g).unwrap();
            first.update("layer.b", 1, &mut b2, g).unwrap();
        }
        let saved = first.state_tensors();
        let mut resumed = Optimizer::new(algo.clone(), groups).unwrap();
        resumed.load_state_tensors(&saved).unwrap();
        assert_eq!(resumed.param_step("layer.b"), Some(7));
        for g in &gs[7..] {
            resumed.update("a", 0, &mut a2, g).unwrap();
            resumed.update("layer.b", 1, &mut b2, g).unwrap();
        }
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&a2), "{}", algo.name());
        assert_eq!(bits(&b), bits(&b2), "{}", algo.name());
        assert_eq!(
            resumed.state_tensors(),
            whole.state_tensors(),
            "{}",
            algo.name()
        );
    }
}

/// Exported optimiser state.
type State = Vec<(String, Vec<f32>)>;

#[test]
fn bad_state_is_rejected_and_leaves_the_optimiser_unchanged() {
    let mut o = optim(Algorithm::radam(), 0.01, 0.0);
    let mut p = P0.to_vec();
    o.update("w", 0, &mut p, &[0.1; 5]).unwrap();
    let good = o.state_tensors();
    let edit = |f: &dyn Fn(&mut State)| {
        let mut t = good.clone();
        f(&mut t);
        t
    };
    let cases: Vec<(State, &str)> = vec![
        (optim(Algorithm::adam(), 0.01, 0.0).state_tensors(), "adam"),
        (
            edit(&|t| t.retain(|(n, _)| !n.ends_with("exp_avg_sq"))),
            "missing",
        ),
        (
            edit(&|t| t.retain(|(n, _)| !n.starts_with("algorithm."))),
            "no `algorithm.",
        ),
        (
            edit(&|t| t.push(("state.w.momentum_buffer".into(), vec![0.0; 5]))),
            "not part of",
        ),
        (edit(&|t| t.push(("junk".into(), vec![]))), "unexpected"),
        (
            edit(&|t| {
                t.iter_mut()
                    .filter(|(n, _)| n.ends_with(".step"))
                    .for_each(|(_, v)| v[0] = 1.5)
            }),
            "integer",
        ),
        (
            edit(&|t| {
                t.iter_mut()
                    .filter(|(n, _)| n.ends_with(".group"))
                    .for_each(|(_, v)| v[0] = 3.0)
            }),
            "integer",
        ),
        (
            edit(&|t| {
                t.iter_mut()
                    .filter(|(n, _)| n.ends_with(".exp_avg"))
                    .for_each(|(_, v)| v.pop().map(drop).unwrap_or(()))
            }),
            "values",
        ),
    ];
    for (tensors, needle) in cases {
        let mut target = o.clone();
        let err = target.load_state_tensors(&tensors).unwrap_err();
        assert!(matches!(err, TrainError::StateMismatch(_)), "{err}");
        assert!(err.to_string().contains(needle), "`{err}` lacks `{needle}`");
        assert_eq!(
            target.state_tensors(),
            good,
            "state changed by a failed load"
        );
    }
}

#[test]
fn step_checks_every_parameter_before_changing_any() {
    let mut o = optim(Algorithm::adam(), 0.01, 0.0);
    let (mut a, mut b) = (vec![1.0f32; 3], vec![1.0f32; 2]);
    let err = o
        .step(&mut [
            ParamRef {
                name: "a",
                group: 0,
                value: &mut a,
                grad: &[0.5; 3],
            },
            ParamRef {
                name: "b",
                group: 0,
                value: &mut b,
                grad: &[0.5; 3],
            },
        ])
        .unwrap_err();
    assert!(
        matches!(
            err,
            TrainError::LengthMismatch {
                expected: 2,
                found: 3,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(a, vec![1.0; 3]);
    assert_eq!(o.param_step("a"), None);
    let err = o
        .step(&mut [ParamRef {
            name: "a",
            group: 5,
            value: &mut a,
            grad: &[0.5; 3],
        }])
        .unwrap_err();
    assert!(matches!(err, TrainError::UnknownGroup(_)), "{err}");
    o.update("a", 0, &mut a, &[0.5; 3]).unwrap();
    let mut short = vec![1.0f32; 2];
    assert!(matches!(
        o.update("a", 0, &mut short, &[0.5; 2]),
        Err(TrainError::LengthMismatch {
            what: "value",
            expected: 3,
            found: 2,
            ..
        })
    ));
    let mut o2 = Optimizer::new(Algorithm::adam(), vec![GroupOptions::new(0.1, 0.0); 2]).unwrap();
    o2.update("a", 0, &mut a, &[0.5; 3]).unwrap();
    assert!(matches!(
        o2.update("a", 1, &mut a, &[0.5; 3]),
        Err(TrainError::UnknownGroup(_))
    ));
    let g = [0.5f32; 3];
    let (mut x, mut y) = (vec![1.0f32; 3], vec![1.0f32; 3]);
    assert!(matches!(
        o2.step(&mut [
            ParamRef {
                name: "x",
                group: 0,
                value: &mut x,
                grad: &g
            },
            ParamRef {
                name: "x",
                group: 0,
                value: &mut y,
                grad: &g
            },
        ]),
        Err(TrainError::InvalidGroups(_))
    ));
}

#[test]
fn groups_learning_rates_and_the_reference_layout() {
    let config = OptimizerConfig {
        name: "SGD".into(),
        lr: 0.1,
        lr_sign: Some(0.5),
        momentum: 0.9,
        weight_decay: 1e-4,
    };
    let mut o = Optimizer::from_config(&config).unwrap();
    assert_eq!(o.algorithm(), &Algorithm::sgd(0.9));
    assert_eq!(
        o.groups(),
        &[
            GroupOptions::new(0.1, 1e-4),
            GroupOptions::new(0.5, 0.0),
            GroupOptions::new(0.1, 0.0)
        ]
    );
    o.set_lr(GROUP_SHIFT, 0.01).unwrap();
    assert_eq!(o.lr(GROUP_SHIFT), Some(0.01));
    assert_eq!(o.lr(7), None);
    assert!(matches!(o.set_lr(3, 0.1), Err(TrainError::UnknownGroup(_))));
    assert!(matches!(
        o.set_lr(0, f64::NAN),
        Err(TrainError::InvalidHyperparameter { name: "lr", .. })
    ));
    assert!(matches!(
        o.set_lr(0, -1.0),
        Err(TrainError::InvalidHyperparameter { .. })
    ));
    o.set_weight_decay(GROUP_OTHER, 0.0).unwrap();
    assert_eq!(o.groups()[0].weight_decay, 0.0);
    // A sign parameter steps with the sign group's rate and no decay.
    let mut s = [1.0f32];
    o.update("fc.sign", GROUP_SIGN, &mut s, &[1.0]).unwrap();
    assert_eq!(s[0], 1.0 - 0.5);
    let b = Optimizer::from_config(&OptimizerConfig {
        lr_sign: None,
        ..config
    })
    .unwrap();
    assert_eq!(b.lr(GROUP_SIGN), Some(0.1));
    assert!(Optimizer::new(Algorithm::adam(), vec![]).is_err());
}
