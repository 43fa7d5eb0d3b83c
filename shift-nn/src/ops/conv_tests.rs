use super::*;
use crate::ops::gemm::sgemm;

use crate::ops::test_values as values;

/// The forward pass as it was before the packed-panel GEMM: a whole column matrix per
/// image, then matrixmultiply per group, then the bias.
fn im2col_matrixmultiply(geo: &Geometry, xs: &[f32], ws: &[f32], bias: &[f32]) -> Vec<f32> {
    let (p, k, oc, groups) = (geo.p(), geo.k(), geo.oc, geo.spec.groups);
    let (kg, ocg, x_len) = (k / groups, oc / groups, geo.c * geo.h * geo.w);
    let mut y = vec![0.0f32; geo.n * oc * p];
    let mut col = vec![0.0f32; k * p];
    for img in 0..geo.n {
        geo.im2col(&xs[img * x_len..][..x_len], &mut col, p, 0);
        let y_n = &mut y[img * oc * p..][..oc * p];
        for g in 0..groups {
            sgemm(
                1.0,
                (ws, Mat::rm(ocg, kg).at(g * ocg * kg)),
                (&col, Mat::rm(kg, p).at(g * kg * p)),
                0.0,
                (&mut *y_n, Mat::rm(ocg, p).at(g * ocg * p)),
            );
        }
        for (c, plane) in y_n.chunks_exact_mut(p).enumerate() {
            plane.iter_mut().for_each(|v| *v += bias[c]);
        }
    }
    y
}

/// Input and weight shapes, stride, padding, dilation, groups.
type Case = ([usize; 4], [usize; 4], usize, usize, usize, usize);

/// The geometries tested.
const CASES: [Case; 14] = [
    ([3, 16, 32, 32], [16, 16, 3, 3], 1, 1, 1, 1),
    ([2, 16, 32, 32], [32, 16, 3, 3], 2, 1, 1, 1),
    ([5, 32, 8, 8], [64, 32, 1, 1], 1, 0, 1, 1),
    ([2, 8, 9, 7], [12, 8, 1, 1], 2, 0, 1, 1),
    ([3, 24, 6, 6], [24, 1, 3, 3], 1, 1, 1, 24),
    ([2, 12, 11, 13], [6, 4, 3, 5], 2, 2, 2, 3),
    ([9, 3, 5, 5], [7, 3, 3, 3], 1, 1, 1, 1),
    ([2, 4, 1, 1], [5, 4, 5, 5], 1, 2, 1, 1),
    ([1, 2, 17, 3], [3, 2, 2, 2], 3, 1, 2, 1),
    ([4, 6, 4, 4], [6, 1, 3, 3], 2, 1, 1, 6),
    ([2, 6, 9, 9], [4, 3, 3, 3], 1, 2, 2, 2),
    ([2, 3, 4, 4], [5, 3, 1, 1], 1, 1, 1, 1),
    ([2, 5, 20, 37], [5, 1, 5, 5], 1, 2, 1, 5),
    ([2, 4, 13, 21], [4, 1, 3, 3], 2, 2, 2, 4),
];

/// The backward pass as it was before the packed-panel GEMM: per image, the weight gradient
/// `G · colᵀ` and the column gradient `Wᵀ · G` (then col2im) with matrixmultiply.
fn backward_im2col_matrixmultiply(
    geo: &Geometry,
    xs: &[f32],
    ws: &[f32],
    gs: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let (p, k, oc, groups) = (geo.p(), geo.k(), geo.oc, geo.spec.groups);
    let (kg, ocg, x_len) = (k / groups, oc / groups, geo.c * geo.h * geo.w);
    let (mut dx, mut dw) = (vec![0.0f32; geo.n * x_len], vec![0.0f32; oc * kg]);
    let (mut col, mut gcol) = (vec![0.0f32; k * p], vec![0.0f32; k * p]);
    for img in 0..geo.n {
        geo.im2col(&xs[img * x_len..][..x_len], &mut col, p, 0);
        let g_n = &gs[img * oc * p..][..oc * p];
        for g in 0..groups {
            sgemm(
                1.0,
                (g_n, Mat::rm(ocg, p).at(g * ocg * p)),
                (&col, Mat::rm(kg, p).at(g * kg * p).t()),
                1.0,
                (&mut dw, Mat::rm(ocg, kg).at(g * ocg * kg)),
            );
            sgemm(
                1.0,
                (ws, Mat::rm(ocg, kg).at(g * ocg * kg).t()),
                (g_n, Mat::rm(ocg, p).at(g * ocg * p)),
                0.0,
                (&mut gcol, Mat::rm(kg, p).at(g * kg * p)),
            );
        }
        geo.col2im(&gcol, p, 0, &mut dx[img * x_len..][..x_len]);
    }
    (dx, dw)
}

/// The geometry of one of `CASES`.
fn case_geometry(
    xd: &[usize],
    wd: &[usize],
    s: usize,
    pad: usize,
    d: usize,
    groups: usize,
) -> Geometry {
    let spec = Conv2dGeometry {
        stride: (s, s),
        padding: (pad, pad),
        dilation: (d, d),
        groups,
    };
    geometry(xd, wd, spec).unwrap()
}

/// The packed-panel forward pass agrees with im2col + matrixmultiply to a few ulps of the
/// sum of absolute products, for every geometry the zoo uses and some it does not.
#[test]
fn forward_matches_im2col_and_matrixmultiply() {
    for (xd, wd, s, pad, d, groups) in CASES {
        let geo = case_geometry(&xd, &wd, s, pad, d, groups);
        let xs = values(xd.iter().product(), 1);
        let ws = values(wd.iter().product(), 2);
        let bias = values(wd[0], 3);
        let want = im2col_matrixmultiply(&geo, &xs, &ws, &bias);
        let got = forward(&geo, &xs, &ws, Some(&bias));
        assert_eq!(want.len(), got.len());
        // Bound on the rounding of either summation order: K products of magnitude < 1/4.
        let tol = 4.0 * (geo.k() / groups) as f32 * f32::EPSILON;
        for (i, (w, g)) in want.iter().zip(&got).enumerate() {
            assert!(
                (w - g).abs() <= tol,
                "x {xd:?} w {wd:?} s {s} p {pad} d {d} g {groups}: element {i}: {w} vs {g}"
            );
        }
    }
}

/// The packed-panel backward pass agrees with im2col + matrixmultiply on the same geometries.
#[test]
fn backward_matches_im2col_and_matrixmultiply() {
    for (xd, wd, s, pad, d, groups) in CASES {
        let geo = case_geometry(&xd, &wd, s, pad, d, groups);
        let xs = values(xd.iter().product(), 1);
        let ws = values(wd.iter().product(), 2);
        let gs = values(geo.n * geo.oc * geo.p(), 3);
        let (want_x, want_w) = backward_im2col_matrixmultiply(&geo, &xs, &ws, &gs);
        let (got_x, got_w) = backward(&geo, &xs, &ws, &gs, true, true);
        let (got_x, got_w) = (got_x.unwrap(), got_w.unwrap());
        // The weight gradient sums over every pixel of the batch, the input gradient over
        // output channels and taps.
        let tol_w = 4.0 * (geo.n * geo.p()) as f32 * f32::EPSILON;
        let tol_x = 4.0 * (geo.oc * geo.kh * geo.kw) as f32 * f32::EPSILON;
        for (name, want, got, tol) in [("dw", want_w, got_w, tol_w), ("dx", want_x, got_x, tol_x)] {
            assert_eq!(want.len(), got.len());
            for (i, (w, g)) in want.iter().zip(&got).enumerate() {
                assert!(
                    (w - g).abs() <= tol,
                    "{name}: x {xd:?} w {wd:?} s {s} p {pad} d {d} g {groups}: [{i}] {w} vs {g}"
                );
            }
        }
    }
}

/// The forward and backward passes do not depend on the thread count, bit for bit (GEMM
/// and depthwise paths).
#[test]
fn conv_is_the_same_on_one_and_four_threads() {
    for (wd, groups) in [([16, 8, 3, 3], 1), ([8, 1, 3, 3], 8)] {
        let spec = Conv2dGeometry {
            padding: (1, 1),
            groups,
            ..Conv2dGeometry::default()
        };
        let geo = geometry(&[37, 8, 10, 10], &wd, spec).unwrap();
        let xs = values(37 * 8 * 100, 4);
        let ws = values(wd.iter().product(), 5);
        let gs = values(37 * wd[0] * 100, 6);
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                (
                    forward(&geo, &xs, &ws, None),
                    backward(&geo, &xs, &ws, &gs, true, true),
                )
            })
        };
        assert_eq!(run(1), run(4), "groups {groups}");
    }
}
