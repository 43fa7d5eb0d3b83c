//! 2-D batch normalisation over `[N, C, H, W]`, as `torch.nn.functional.batch_norm`.
//!
//! Statistics are accumulated in f64 per channel (rayon over channels); the normalisation
//! itself is one fused multiply-add per element with per-channel coefficients (rayon over
//! planes). The backward pass recomputes `x - mean` from the saved input instead of keeping a
//! normalised copy, which halves the memory a training step holds per layer.

use rayon::prelude::*;

use crate::error::{shape_err, NnError};
use crate::tape::Var;
use crate::tensor::Tensor;

/// Per-channel statistics of one training batch, for the layer's running averages.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchStats {
    /// Mean over `N, H, W`.
    pub mean: Vec<f32>,
    /// Unbiased variance over `N, H, W` (what PyTorch folds into `running_var`).
    pub var_unbiased: Vec<f32>,
}

struct Dims {
    n: usize,
    c: usize,
    hw: usize,
}

fn check(x: &Var, weight: &Var, bias: &Var) -> Result<Dims, NnError> {
    let s = x.shape();
    if s.len() != 4 {
        return Err(shape_err("batch_norm2d", format!("input {s:?} is not 4-D")));
    }
    let c = s[1];
    if weight.shape() != [c] || bias.shape() != [c] {
        return Err(shape_err(
            "batch_norm2d",
            format!(
                "input {s:?} with weight {:?} and bias {:?}",
                weight.shape(),
                bias.shape()
            ),
        ));
    }
    Ok(Dims {
        n: s[0],
        c,
        hw: s[2] * s[3],
    })
}

/// For each channel, `f` folded over the channel's planes of `xs` (and of `ys`, if given).
fn per_channel<T: Send>(
    d: &Dims,
    xs: &[f32],
    ys: Option<&[f32]>,
    f: impl Fn(usize, &[f32], Option<&[f32]>, &mut T) + Sync,
    init: impl Fn() -> T + Sync,
) -> Vec<T> {
    (0..d.c)
        .into_par_iter()
        .map(|c| {
            let mut acc = init();
            for n in 0..d.n {
                let start = (n * d.c + c) * d.hw;
                let y = ys.map(|ys| &ys[start..start + d.hw]);
                f(c, &xs[start..start + d.hw], y, &mut acc);
            }
            acc
        })
        .collect()
}

/// Lanes of the f64 sums: independent partial sums in a fixed order, so the loop is not one
/// serial chain of dependent additions and the result does not depend on the machine.
const LANES: usize = 8;

/// `sum f(x, y)` over two slices of one length, in [`LANES`] interleaved partial sums; the
/// second component of the result is unused (zero) and exists to share [`lane_sum2`].
fn lane_sum(xs: &[f32], ys: &[f32], f: impl Fn(f32, f32) -> f64) -> (f64, f64) {
    lane_sum2(xs, ys, |x, y| (f(x, y), 0.0))
}

/// Two sums `sum f(x, y).0` and `sum f(x, y).1` at once, each in [`LANES`] partial sums.
///
/// On x86-64 CPUs with AVX-512 the same loop is compiled for it, so the eight f64 lanes fill
/// one register instead of four SSE2 pairs. The operations and their order are the same (the
/// lanes are independent sums, nothing is reassociated, and Rust never contracts `a * b + c`
/// into a fused multiply-add), so the result is bit-identical on every CPU.
fn lane_sum2(xs: &[f32], ys: &[f32], f: impl Fn(f32, f32) -> (f64, f64)) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU supports AVX-512F, checked just above.
        return unsafe { lane_sum2_avx512(xs, ys, f) };
    }
    lane_sum2_portable(xs, ys, f)
}

/// [`lane_sum2_portable`] compiled with AVX-512F enabled.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn lane_sum2_avx512(
    xs: &[f32],
    ys: &[f32],
    f: impl Fn(f32, f32) -> (f64, f64),
) -> (f64, f64) {
    lane_sum2_portable(xs, ys, f)
}

/// The loop of [`lane_sum2`], inlined into each of its compilations.
#[inline(always)]
fn lane_sum2_portable(xs: &[f32], ys: &[f32], f: impl Fn(f32, f32) -> (f64, f64)) -> (f64, f64) {
    let (mut a, mut b) = ([0f64; LANES], [0f64; LANES]);
    let (xc, yc) = (xs.chunks_exact(LANES), ys.chunks_exact(LANES));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (x, y) in xc.zip(yc) {
        for l in 0..LANES {
            let (u, v) = f(x[l], y[l]);
            a[l] += u;
            b[l] += v;
        }
    }
    for (&x, &y) in xr.iter().zip(yr) {
        let (u, v) = f(x, y);
        a[0] += u;
        b[0] += v;
    }
    (a.iter().sum(), b.iter().sum())
}

/// Per channel, `sum(dy)` and `sum(dy * (x - mean[c]))`: what the backward passes need.
fn gradient_sums(d: &Dims, xs: &[f32], gs: &[f32], mean: &[f32]) -> Vec<(f64, f64)> {
    per_channel(
        d,
        xs,
        Some(gs),
        |c, xp, gp, acc: &mut (f64, f64)| {
            let m = mean[c];
            let (a, b) = lane_sum2(xp, gp.expect("gradient given"), |x, g| {
                (g as f64, g as f64 * (x - m) as f64)
            });
            acc.0 += a;
            acc.1 += b;
        },
        || (0.0, 0.0),
    )
}

/// The gradients of `weight` (`sum(dy * (x - mean)) * invstd`) and `bias` (`sum(dy)`) from
/// [`gradient_sums`], each when asked for.
fn affine_grads(
    sums: &[(f64, f64)],
    invstd: &[f32],
    need_w: bool,
    need_b: bool,
) -> (Option<Tensor>, Option<Tensor>) {
    let c = sums.len();
    let gw = need_w.then(|| {
        let v = sums
            .iter()
            .zip(invstd)
            .map(|(s, &i)| (s.1 * i as f64) as f32)
            .collect();
        Tensor::from_shape_vec(vec![c], v).unwrap()
    });
    let gb = need_b.then(|| {
        Tensor::from_shape_vec(vec![c], sums.iter().map(|s| s.0 as f32).collect()).unwrap()
    });
    (gw, gb)
}

/// `y = a[c] * (x - m[c]) + b[c]` for every plane. Subtracting the mean first keeps the
/// precision when it is large against the spread (deep residual streams).
fn affine_planes(d: &Dims, xs: &[f32], m: &[f32], a: &[f32], b: &[f32]) -> Vec<f32> {
    let hw = d.hw.max(1);
    crate::tensor::par_build(xs.len(), hw, |i, yp| {
        let c = i % d.c;
        let (m, a, b) = (m[c], a[c], b[c]);
        for (y, x) in yp.iter_mut().zip(&xs[i * hw..]) {
            *y = a * (x - m) + b;
        }
    })
}

fn contiguous(t: &Tensor) -> std::borrow::Cow<'_, [f32]> {
    match t.as_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(t.iter().copied().collect()),
    }
}

/// Batch norm in training mode: normalises with the batch's own statistics (biased variance)
/// and returns them for the running averages.
pub fn batch_norm2d_train(
    x: &Var,
    weight: &Var,
    bias: &Var,
    eps: f32,
) -> Result<(Var, BatchStats), NnError> {
    let d = check(x, weight, bias)?;
    let m = (d.n * d.hw) as f64;
    if m < 1.0 {
        return Err(shape_err("batch_norm2d", "empty batch"));
    }
    let xv = x.value();
    let xs = contiguous(xv);
    let sums = per_channel(
        &d,
        &xs,
        None,
        |_, p, _, acc: &mut f64| *acc += lane_sum(p, p, |v, _| v as f64).0,
        || 0.0,
    );
    let mean: Vec<f64> = sums.iter().map(|s| s / m).collect();
    let sq = per_channel(
        &d,
        &xs,
        None,
        |c, p, _, acc: &mut f64| *acc += lane_sum(p, p, |v, _| (v as f64 - mean[c]).powi(2)).0,
        || 0.0,
    );
    let var: Vec<f64> = sq.iter().map(|s| s / m).collect();
    let invstd: Vec<f32> = var
        .iter()
        .map(|v| (1.0 / (v + eps as f64).sqrt()) as f32)
        .collect();
    let mean32: Vec<f32> = mean.iter().map(|&v| v as f32).collect();
    let gamma = contiguous(weight.value()).into_owned();
    let beta = contiguous(bias.value());
    let a: Vec<f32> = (0..d.c).map(|c| gamma[c] * invstd[c]).collect();
    let y = affine_planes(&d, &xs, &mean32, &a, &beta);
    let stats = BatchStats {
        mean: mean32.clone(),
        var_unbiased: sq.iter().map(|s| (s / (m - 1.0).max(1.0)) as f32).collect(),
    };
    let y = Tensor::from_shape_vec(x.shape().to_vec(), y).expect("shape kept");
    let saved_x = x.clone();
    let (need_x, need_w, need_b) = (
        x.requires_grad(),
        weight.requires_grad(),
        bias.requires_grad(),
    );
    let out = Var::from_op(
        y,
        vec![x.clone(), weight.clone(), bias.clone()],
        Box::new(move |g| {
            let g = g.as_standard_layout();
            let gs = g.as_slice().expect("standard layout");
            let xv = saved_x.value();
            let xs = contiguous(xv);
            let sums = gradient_sums(&d, &xs, gs, &mean32);
            let (gw, gb) = affine_grads(&sums, &invstd, need_w, need_b);
            let gx = need_x.then(|| {
                // dx = k1 * dy + k2 * (x - mean) + k3, the per-channel coefficients of
                // gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)).
                let mut k = vec![(0.0f32, 0.0f32, 0.0f32, 0.0f32); d.c];
                for c in 0..d.c {
                    let k1 = gamma[c] as f64 * invstd[c] as f64;
                    let is2 = invstd[c] as f64 * invstd[c] as f64;
                    let k2 = -k1 * is2 * sums[c].1 / m;
                    let k3 = -k1 * sums[c].0 / m;
                    k[c] = (k1 as f32, k2 as f32, k3 as f32, mean32[c]);
                }
                let hw = d.hw.max(1);
                let dx = crate::tensor::par_build(xs.len(), hw, |i, dp| {
                    let (k1, k2, k3, mean) = k[i % d.c];
                    let (xp, gp) = (&xs[i * hw..], &gs[i * hw..]);
                    for ((dx, x), g) in dp.iter_mut().zip(xp).zip(gp) {
                        *dx = k1 * g + k2 * (x - mean) + k3;
                    }
                });
                Tensor::from_shape_vec(g.shape().to_vec(), dx).unwrap()
            });
            vec![gx, gw, gb]
        }),
    );
    Ok((out, stats))
}

/// Batch norm in evaluation mode: normalises with the given running statistics.
pub fn batch_norm2d_eval(
    x: &Var,
    weight: &Var,
    bias: &Var,
    running_mean: &[f32],
    running_var: &[f32],
    eps: f32,
) -> Result<Var, NnError> {
    let d = check(x, weight, bias)?;
    if running_mean.len() != d.c || running_var.len() != d.c {
        return Err(shape_err(
            "batch_norm2d",
            format!(
                "{} channels but running statistics of length {} and {}",
                d.c,
                running_mean.len(),
                running_var.len()
            ),
        ));
    }
    let xv = x.value();
    let xs = contiguous(xv);
    let gamma = contiguous(weight.value());
    let beta = contiguous(bias.value());
    let invstd: Vec<f32> = running_var
        .iter()
        .map(|&v| (1.0 / (v as f64 + eps as f64).sqrt()) as f32)
        .collect();
    let a: Vec<f32> = (0..d.c).map(|c| gamma[c] * invstd[c]).collect();
    let y = affine_planes(&d, &xs, running_mean, &a, &beta);
    let y = Tensor::from_shape_vec(x.shape().to_vec(), y).expect("shape kept");
    let saved_x = x.clone();
    let rm = running_mean.to_vec();
    let (need_x, need_w, need_b) = (
        x.requires_grad(),
        weight.requires_grad(),
        bias.requires_grad(),
    );
    Ok(Var::from_op(
        y,
        vec![x.clone(), weight.clone(), bias.clone()],
        Box::new(move |g| {
            let g = g.as_standard_layout();
            let gs = g.as_slice().expect("standard layout");
            let xv = saved_x.value();
            let xs = contiguous(xv);
            let sums = gradient_sums(&d, &xs, gs, &rm);
            let (gw, gb) = affine_grads(&sums, &invstd, need_w, need_b);
            let gx = need_x.then(|| {
                let zero = vec![0.0f32; d.c];
                let dx = affine_planes(&d, gs, &zero, &a, &zero);
                Tensor::from_shape_vec(g.shape().to_vec(), dx).unwrap()
            });
            vec![gx, gw, gb]
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX-512 compilation of the lane sums must give the portable loop's bits, on
    /// lengths with and without a remainder after the eight lanes.
    #[test]
    fn lane_sums_equal_the_portable_loop_bit_for_bit() {
        let mut seed = 11u32;
        let mut next = move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 16) as f32 - 128.0
        };
        for len in [0, 1, 7, 8, 9, 63, 64, 1000, 1027] {
            let xs: Vec<f32> = (0..len).map(|_| next()).collect();
            let ys: Vec<f32> = (0..len).map(|_| next()).collect();
            let m = 0.37f32;
            let f = |x: f32, g: f32| (g as f64, g as f64 * (x - m) as f64);
            let (a, b) = lane_sum2(&xs, &ys, f);
            let (pa, pb) = lane_sum2_portable(&xs, &ys, f);
            assert_eq!(
                (a.to_bits(), b.to_bits()),
                (pa.to_bits(), pb.to_bits()),
                "length {len}"
            );
        }
    }
}
