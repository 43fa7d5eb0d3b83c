use super::*;

use crate::ops::test_values as values;

/// The definition: per element, fused multiply-adds in increasing `k` from zero, then the
/// old value, then the bias.
fn reference(
    (m, k, n): (usize, usize, usize),
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    layout: OutLayout,
    store: Store<'_>,
) {
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0.0f32;
            for kk in 0..k {
                acc = a[i * k + kk].mul_add(b[kk * n + j], acc);
            }
            let at = layout.at(i, j);
            if store.accumulate {
                acc += c[at];
            }
            if let Some(bias) = store.bias {
                acc += bias[i];
            }
            c[at] = acc;
        }
    }
}

/// Runs [`gemm`] with `B` row-major `k x n`, packed by the callback the way a convolution
/// does it.
fn run_gemm(
    level: Level,
    (m, k, n): (usize, usize, usize),
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    layout: OutLayout,
    store: Store<'_>,
) {
    let packed = PackedA::new(level, a, Mat::rm(m, k));
    let nr = level.nr();
    let mut panel = Vec::new();
    gemm(
        &packed,
        n,
        |j0, w, p| {
            for kk in 0..k {
                p[kk * nr..kk * nr + w].copy_from_slice(&b[kk * n + j0..][..w]);
            }
        },
        c,
        layout,
        store,
        &mut panel,
    );
}

/// Every level this CPU runs equals the definition bit for bit, on sizes that are not
/// multiples of any tile, with and without accumulation and bias.
#[test]
fn every_level_equals_the_definition_on_awkward_sizes() {
    let sizes = [1usize, 3, 17, 33];
    let mut shapes: Vec<(usize, usize, usize)> = Vec::new();
    for &m in &sizes {
        for &k in &sizes {
            for &n in &sizes {
                shapes.push((m, k, n));
            }
        }
    }
    shapes.extend([
        (255, 7, 40),
        (16, 255, 70),
        (9, 64, 255),
        (64, 576, 96),
        (9, 1100, 70),
    ]);
    // No depth: zeros (plus the old values and the bias).
    shapes.push((3, 0, 5));
    for level in Level::available() {
        for &(m, k, n) in &shapes {
            let (a, b) = (values(m * k, 1), values(k * n, 2));
            let bias = values(m, 3);
            for (accumulate, with_bias) in [(false, false), (true, false), (false, true)] {
                let store = Store {
                    accumulate,
                    bias: with_bias.then_some(&bias[..]),
                };
                let layout = OutLayout::rows(n, n + 2);
                let c0 = values(m * (n + 2), 4);
                let (mut want, mut got) = (c0.clone(), c0);
                reference((m, k, n), &a, &b, &mut want, layout, store);
                run_gemm(level, (m, k, n), &a, &b, &mut got, layout, store);
                assert!(
                    want.iter()
                        .zip(&got)
                        .all(|(x, y)| x.to_bits() == y.to_bits()),
                    "{level:?} {m}x{k}x{n} accumulate {accumulate} bias {with_bias}"
                );
            }
        }
    }
}

/// The grouped output layout (a convolution's images): column groups narrower and wider than
/// a tile, tiles straddling groups.
#[test]
fn grouped_output_layout_equals_the_definition() {
    for level in Level::available() {
        for (m, k, n, group) in [
            (16, 27, 96, 16),
            (10, 9, 75, 25),
            (8, 5, 64, 4),
            (3, 2, 9, 9),
        ] {
            let (a, b) = (values(m * k, 5), values(k * n, 6));
            let layout = OutLayout {
                group,
                ldc: group,
                group_stride: m * group + 1,
            };
            let len = n.div_ceil(group) * (m * group + 1);
            let store = Store {
                accumulate: false,
                bias: None,
            };
            let (mut want, mut got) = (vec![7.0f32; len], vec![7.0f32; len]);
            reference((m, k, n), &a, &b, &mut want, layout, store);
            run_gemm(level, (m, k, n), &a, &b, &mut got, layout, store);
            assert_eq!(want, got, "{level:?} {m}x{k}x{n} in groups of {group}");
        }
    }
}

/// A `C` that does not fit its slice is refused, not written out of bounds.
#[test]
#[should_panic(expected = "outside its slice")]
fn output_outside_its_slice_panics() {
    let level = Level::detect();
    let store = Store {
        accumulate: false,
        bias: None,
    };
    let mut c = vec![0.0f32; 15];
    run_gemm(
        level,
        (4, 2, 4),
        &[1.0; 8],
        &[1.0; 8],
        &mut c,
        OutLayout::rows(4, 4),
        store,
    );
}
