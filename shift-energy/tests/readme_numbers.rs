//! The README's analytic numbers for MNIST conv come from the code: recompute and compare.

use shift_energy::analytic::models::mnist_conv;
use shift_energy::{inference_energy, EnergyBreakdown, ShiftSpec};

/// `12726.8` -> `12,726.8`; integers get separators too.
fn grouped(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    let (int, frac) = s
        .split_once('.')
        .map_or((s.as_str(), None), |(i, f)| (i, Some(f)));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

fn energy(spec: Option<ShiftSpec>) -> EnergyBreakdown {
    inference_energy(&mnist_conv(spec, 1000)).unwrap()
}

#[test]
fn readme_table_matches_the_model() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let row = |label: &str| -> String {
        readme
            .lines()
            .find(|l| l.starts_with(&format!("| {label} |")))
            .unwrap_or_else(|| panic!("README has no row {label:?}"))
            .to_string()
    };
    let float = energy(None);
    let wide = energy(Some(ShiftSpec {
        weight_bits: 5,
        act_int_bits: 16,
        act_frac_bits: 16,
    }));
    let narrow = energy(Some(ShiftSpec {
        weight_bits: 5,
        act_int_bits: 4,
        act_frac_bits: 4,
    }));
    let nj = |pj: f64| grouped(pj / 1e3, 1);
    let ratio = |a: f64, b: f64| format!("{:.1}x less", a / b);

    let arithmetic = row("arithmetic");
    for e in [&float, &wide, &narrow] {
        assert!(
            arithmetic.contains(&format!("{} nJ", nj(e.compute_pj))),
            "{arithmetic}"
        );
    }
    assert!(
        arithmetic.contains(&ratio(float.compute_pj, wide.compute_pj)),
        "{arithmetic}"
    );
    assert!(
        arithmetic.contains(&ratio(float.compute_pj, narrow.compute_pj)),
        "{arithmetic}"
    );

    let reads = row("parameter reads");
    for e in [&float, &wide, &narrow] {
        assert!(
            reads.contains(&format!("{} nJ", nj(e.weight_read_pj))),
            "{reads}"
        );
    }
    let total = row("total");
    for e in [&float, &wide, &narrow] {
        assert!(
            total.contains(&format!("{} nJ", nj(e.total_pj()))),
            "{total}"
        );
    }
    assert!(
        total.contains(&ratio(float.total_pj(), wide.total_pj())),
        "{total}"
    );
    let bits = row("parameter bits");
    for e in [&float, &wide, &narrow] {
        assert!(bits.contains(&grouped(e.weight_bits as f64, 0)), "{bits}");
    }
    assert!(row("weight multiplications").contains(&grouped(float.macs as f64, 0)));
}
