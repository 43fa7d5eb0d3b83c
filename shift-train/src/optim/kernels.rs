//! The per-parameter update rules, in `f32` with PyTorch's order of operations.
//!
//! Each scalar hyperparameter is combined in `f64` (as Python does) and cast to `f32` where
//! PyTorch passes it to a tensor kernel; each tensor op rounds to `f32` once, in the order
//! the reference performs them. Where ATen's CPU kernels compute with a fused multiply-add
//! (`add(a, b, alpha)` is `fmadd(b, alpha, a)`, `lerp` is an `fmadd`, and `addcmul`'s
//! `a + (v*b)*c` is contracted to `fma(v*b, c, a)`), this code uses [`f32::mul_add`] too, which
//! makes SGD bit-identical to PyTorch. Not reproducible bit for bit: PyTorch's `sqrt` goes
//! through MKL's vector math (up to one ulp off the correctly rounded root), so optimisers
//! with a square root agree to about one `f32` ulp of their denominators.

use super::Algorithm;

/// Learning rate, weight decay and the step number (counting this step, from 1).
pub(crate) struct StepCtx {
    pub lr: f64,
    pub weight_decay: f64,
    pub step: u64,
}

/// Fresh state buffers for a parameter about to take its first step.
pub(crate) fn init_buffers(algo: &Algorithm, value: &[f32]) -> Vec<Vec<f32>> {
    algo.buffer_names()
        .into_iter()
        .map(|name| match (algo, name) {
            // Lookahead's slow weights start as the weights before the first update.
            (Algorithm::Ranger { .. }, "slow_buffer") => value.to_vec(),
            (
                Algorithm::Adagrad {
                    initial_accumulator_value,
                    ..
                },
                _,
            ) => vec![*initial_accumulator_value as f32; value.len()],
            _ => vec![0.0; value.len()],
        })
        .collect()
}

/// `torch.lerp(a, b, w)` as ATen's vectorised kernel computes it: `fma(w, b-a, a)` for small
/// weights, `fma(w-1, b-a, b)` otherwise.
#[inline(always)]
fn lerp(a: f32, b: f32, w: f32) -> f32 {
    if w.abs() < 0.5 {
        w.mul_add(b - a, a)
    } else {
        (w - 1.0).mul_add(b - a, b)
    }
}

/// `a.addcmul(b, c, value=v)`: ATen's `a + v*b*c`, contracted by the compiler to an FMA.
#[inline(always)]
fn addcmul(a: f32, v: f32, b: f32, c: f32) -> f32 {
    (v * b).mul_add(c, a)
}

/// `torch.maximum`: NaN propagates.
#[inline(always)]
fn maximum(a: f32, b: f32) -> f32 {
    if a.is_nan() || a > b {
        a
    } else {
        b
    }
}

/// `grad.add(param, alpha=weight_decay)` (L2 weight decay of the PyTorch optimisers).
#[inline(always)]
fn l2(g: f32, p: f32, wd: f32, use_wd: bool) -> f32 {
    if use_wd {
        p.mul_add(wd, g)
    } else {
        g
    }
}

/// One parallel piece of an update: parameter, gradient and state-buffer chunks.
type ChunkTask<'a> = (&'a mut [f32], &'a [f32], Vec<&'a mut [f32]>);

/// Applies one step of `algo` to `p` given `g`; `bufs` are the parameter's state buffers in
/// [`Algorithm::buffer_names`] order, each as long as `p` (the caller guarantees both).
pub(crate) fn update(
    algo: &Algorithm,
    ctx: &StepCtx,
    p: &mut [f32],
    g: &[f32],
    bufs: &mut [Vec<f32>],
) {
    use rayon::prelude::*;
    // Every algorithm here is element-wise, so fixed-size chunks updated in parallel give
    // exactly the serial result.
    const CHUNK: usize = 1 << 15;
    let mut buf_chunks: Vec<_> = bufs.iter_mut().map(|b| b.chunks_mut(CHUNK)).collect();
    let tasks: Vec<ChunkTask> = p
        .chunks_mut(CHUNK)
        .zip(g.chunks(CHUNK))
        .map(|(p, g)| {
            let bufs = buf_chunks
                .iter_mut()
                .map(|b| b.next().expect("buffers as long as the parameter"))
                .collect();
            (p, g, bufs)
        })
        .collect();
    tasks
        .into_par_iter()
        .for_each(|(p, g, mut bufs)| update_chunk(algo, ctx, p, g, &mut bufs));
}

fn update_chunk(
    algo: &Algorithm,
    ctx: &StepCtx,
    p: &mut [f32],
    g: &[f32],
    bufs: &mut [&mut [f32]],
) {
    // `f32::mul_add` is a libm call unless the code is compiled with FMA; compile a copy with
    // it and pick that one at run time where the CPU has it. Results are identical: fused
    // multiply-add is exactly rounded either way.
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports FMA, checked just above.
        unsafe { update_fma(algo, ctx, p, g, bufs) };
        return;
    }
    update_generic(algo, ctx, p, g, bufs);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
unsafe fn update_fma(
    algo: &Algorithm,
    ctx: &StepCtx,
    p: &mut [f32],
    g: &[f32],
    bufs: &mut [&mut [f32]],
) {
    update_generic(algo, ctx, p, g, bufs);
}

#[inline(always)]
fn update_generic(
    algo: &Algorithm,
    ctx: &StepCtx,
    p: &mut [f32],
    g: &[f32],
    bufs: &mut [&mut [f32]],
) {
    let use_wd = ctx.weight_decay != 0.0;
    let wd = ctx.weight_decay as f32;
    let neg_lr = (-ctx.lr) as f32;
    let t = ctx.step as f64;
    match *algo {
        Algorithm::Sgd {
            momentum,
            dampening,
            nesterov,
        } => {
            let m = momentum as f32;
            let damp = (1.0 - dampening) as f32;
            match bufs {
                [] => {
                    for (pi, &gi) in p.iter_mut().zip(g) {
                        *pi = l2(gi, *pi, wd, use_wd).mul_add(neg_lr, *pi);
                    }
                }
                [buf] => {
                    for ((pi, &gi), bi) in p.iter_mut().zip(g).zip(buf.iter_mut()) {
                        let d = l2(gi, *pi, wd, use_wd);
                        // PyTorch creates the buffer as a copy of the first gradient.
                        *bi = if ctx.step == 1 {
                            d
                        } else {
                            d.mul_add(damp, *bi * m)
                        };
                        let d = if nesterov { bi.mul_add(m, d) } else { *bi };
                        *pi = d.mul_add(neg_lr, *pi);
                    }
                }
                _ => unreachable!("SGD has at most one buffer"),
            }
        }
        Algorithm::Adam {
            betas: (beta1, beta2),
            eps,
            amsgrad,
        } => {
            let bias_correction1 = 1.0 - beta1.powf(t);
            let bias_correction2 = 1.0 - beta2.powf(t);
            let neg_step_size = (-(ctx.lr / bias_correction1)) as f32;
            let bc2_sqrt = bias_correction2.sqrt() as f32;
            let (w1, b2, c2, eps) = (
                (1.0 - beta1) as f32,
                beta2 as f32,
                (1.0 - beta2) as f32,
                eps as f32,
            );
            let (m, rest) = bufs.split_first_mut().expect("Adam has buffers");
            let (v, rest) = rest.split_first_mut().expect("Adam has two buffers");
            let mut vmax = rest.first_mut();
            for i in 0..p.len() {
                let d = l2(g[i], p[i], wd, use_wd);
                m[i] = lerp(m[i], d, w1);
                v[i] = addcmul(v[i] * b2, c2, d, d);
                let second = match vmax.as_deref_mut() {
                    Some(vm) if amsgrad => {
                        vm[i] = maximum(vm[i], v[i]);
                        vm[i]
                    }
                    _ => v[i],
                };
                let denom = second.sqrt() / bc2_sqrt + eps;
                p[i] += neg_step_size * m[i] / denom;
            }
        }
        Algorithm::Adagrad { lr_decay, eps, .. } => {
            let clr = ctx.lr / (1.0 + (t - 1.0) * lr_decay);
            let neg_clr = (-clr) as f32;
            let eps = eps as f32;
            let [sum] = bufs else {
                unreachable!("Adagrad has one buffer")
            };
            for ((pi, &gi), si) in p.iter_mut().zip(g).zip(sum.iter_mut()) {
                let d = l2(gi, *pi, wd, use_wd);
                *si = addcmul(*si, 1.0, d, d);
                let std = si.sqrt() + eps;
                *pi += neg_clr * d / std;
            }
        }
        Algorithm::RmsProp {
            alpha,
            eps,
            momentum,
            centered,
        } => {
            let (a, c, eps, mom) = (
                alpha as f32,
                (1.0 - alpha) as f32,
                eps as f32,
                momentum as f32,
            );
            let (sq, rest) = bufs.split_first_mut().expect("RMSprop has a buffer");
            let (mut buf, rest) = if momentum > 0.0 {
                let (b, r) = rest.split_first_mut().expect("momentum buffer");
                (Some(b), r)
            } else {
                (None, rest)
            };
            let mut grad_avg = if centered { rest.first_mut() } else { None };
            for i in 0..p.len() {
                let d = l2(g[i], p[i], wd, use_wd);
                sq[i] = addcmul(sq[i] * a, c, d, d);
                let avg = match grad_avg.as_deref_mut() {
                    Some(ga) => {
                        ga[i] = lerp(ga[i], d, c);
                        addcmul(sq[i], -1.0, ga[i], ga[i]).sqrt()
                    }
                    None => sq[i].sqrt(),
                } + eps;
                match buf.as_deref_mut() {
                    Some(b) => {
                        b[i] = b[i] * mom + d / avg;
                        p[i] = b[i].mul_add(neg_lr, p[i]);
                    }
                    None => p[i] += neg_lr * d / avg,
                }
            }
        }
        Algorithm::Adadelta { rho, eps } => {
            let (r, c, eps) = (rho as f32, (1.0 - rho) as f32, eps as f32);
            let [sq, acc] = bufs else {
                unreachable!("Adadelta has two buffers")
            };
            for i in 0..p.len() {
                let d = l2(g[i], p[i], wd, use_wd);
                sq[i] = addcmul(sq[i] * r, c, d, d);
                let std = (sq[i] + eps).sqrt();
                let delta = (acc[i] + eps).sqrt() / std * d;
                acc[i] = addcmul(acc[i] * r, c, delta, delta);
                p[i] = delta.mul_add(neg_lr, p[i]);
            }
        }
        Algorithm::RAdam { betas, eps } => {
            let [m, v] = bufs else {
                unreachable!("RAdam has two buffers")
            };
            // radam.py rectifies when N_sma >= 5.
            radam_core(ctx, betas, eps, p, g, m, v, |n_sma| n_sma >= 5.0);
        }
        Algorithm::Ranger {
            betas,
            eps,
            k,
            alpha,
            n_sma_threshold,
        } => {
            let [m, v, slow] = bufs else {
                unreachable!("Ranger has three buffers")
            };
            // ranger.py rectifies when N_sma > threshold (strictly).
            radam_core(ctx, betas, eps, p, g, m, v, |n_sma| n_sma > n_sma_threshold);
            if ctx.step % k == 0 {
                let a = alpha as f32;
                for (pi, si) in p.iter_mut().zip(slow.iter_mut()) {
                    *si = (*pi - *si).mul_add(a, *si);
                    *pi = *si;
                }
            }
        }
    }
}

/// The reference's RAdam step (shared by Ranger), in its order: moments, step size from
/// `N_sma`, decoupled weight decay, then the rectified or plain momentum update.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn radam_core(
    ctx: &StepCtx,
    (beta1, beta2): (f64, f64),
    eps: f64,
    p: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    rectify: impl Fn(f64) -> bool,
) {
    let (b1, c1, b2, c2) = (
        beta1 as f32,
        (1.0 - beta1) as f32,
        beta2 as f32,
        (1.0 - beta2) as f32,
    );
    for ((mi, vi), &gi) in m.iter_mut().zip(v.iter_mut()).zip(g) {
        *vi = addcmul(*vi * b2, c2, gi, gi);
        *mi = gi.mul_add(c1, *mi * b1);
    }
    let t = ctx.step as f64;
    let beta2_t = beta2.powf(t);
    let n_sma_max = 2.0 / (1.0 - beta2) - 1.0;
    let n_sma = n_sma_max - 2.0 * t * beta2_t / (1.0 - beta2_t);
    let rectified = rectify(n_sma);
    let step_size = if rectified {
        ((1.0 - beta2_t) * (n_sma - 4.0) / (n_sma_max - 4.0) * (n_sma - 2.0) / n_sma * n_sma_max
            / (n_sma_max - 2.0))
            .sqrt()
            / (1.0 - beta1.powf(t))
    } else {
        1.0 / (1.0 - beta1.powf(t))
    };
    if ctx.weight_decay != 0.0 {
        let decay = (-ctx.weight_decay * ctx.lr) as f32;
        for pi in p.iter_mut() {
            *pi = pi.mul_add(decay, *pi);
        }
    }
    let scale = (-step_size * ctx.lr) as f32;
    if rectified {
        let eps = eps as f32;
        for ((pi, &mi), &vi) in p.iter_mut().zip(m.iter()).zip(v.iter()) {
            *pi += scale * mi / (vi.sqrt() + eps);
        }
    } else {
        for (pi, &mi) in p.iter_mut().zip(m.iter()) {
            *pi = mi.mul_add(scale, *pi);
        }
    }
}
