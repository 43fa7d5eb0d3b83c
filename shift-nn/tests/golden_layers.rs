//! Shift layers against the reference implementation's forward and backward tensors
//! (`fixtures/README` of shift-core describes them): outputs, input gradients and parameter
//! gradients within 1e-5 normwise relative error.

mod common;

use common::{golden, rel_err};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use shift_core::{FixedPoint, Rounding, ShiftType};
use shift_nn::ops::weighted_sum;
use shift_nn::{Conv2dSpec, Ctx, Param, ParamKind, ShiftOptions, Var, WeightLayer};

fn run_case(case: &str, ab: (u32, u32)) {
    let g = golden();
    let prefix = format!("{case}.ab{}_{}", ab.0, ab.1);
    let t = |name: &str| {
        g.tensors
            .get(&format!("{prefix}.{name}"))
            .unwrap_or_else(|| panic!("missing {prefix}.{name}"))
            .clone()
    };
    let shift_type = if case.ends_with("_ps") {
        ShiftType::PS
    } else {
        ShiftType::Q
    };
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut layer = match case {
        "linear_q" | "linear_ps" => WeightLayer::linear(64, 32, true, &mut rng),
        "conv_q" => WeightLayer::conv2d(Conv2dSpec::new(3, 8, 3).stride(2).padding(1), &mut rng),
        "conv_ps" => WeightLayer::conv2d(Conv2dSpec::new(4, 6, 5).padding(2).groups(2), &mut rng),
        _ => unreachable!(),
    };
    let options = ShiftOptions {
        shift_type,
        weight_bits: 5,
        act: FixedPoint::new(ab.0, ab.1).unwrap(),
        rounding: Rounding::Deterministic,
    };
    layer.convert_to_shift(options, false, &mut rng).unwrap();
    let params = layer.named_params("layer");
    for (name, p) in &params {
        let short = name.trim_start_matches("layer.");
        p.set_value(t(&format!("param.{short}")));
    }
    let input = Param::new(t("input"), ParamKind::Weight);
    let mut ctx = Ctx { train: true, rng };
    let out = layer.forward(&Var::param(&input), &mut ctx).unwrap();
    let e = rel_err(out.value(), &t("output"));
    assert!(e < 1e-5, "{prefix}: output error {e}");
    weighted_sum(&out, &t("upstream_grad")).unwrap().backward();
    let e = rel_err(&input.grad(), &t("grad_input"));
    assert!(e < 1e-5, "{prefix}: grad_input error {e}");
    for (name, p) in &params {
        let short = name.trim_start_matches("layer.");
        let e = rel_err(&p.grad(), &t(&format!("grad.{short}")));
        assert!(e < 1e-5, "{prefix}: grad.{short} error {e}");
    }
}

#[test]
fn linear_q() {
    run_case("linear_q", (16, 16));
    run_case("linear_q", (3, 5));
}

#[test]
fn linear_ps() {
    run_case("linear_ps", (16, 16));
    run_case("linear_ps", (3, 5));
}

#[test]
fn conv_q() {
    run_case("conv_q", (16, 16));
    run_case("conv_q", (3, 5));
}

#[test]
fn conv_ps() {
    run_case("conv_ps", (16, 16));
    run_case("conv_ps", (3, 5));
}
