//! The GP's covariance: Matern 5/2 with one length scale per dimension (ARD), a Hamming-type
//! distance on categorical dimensions, and optionally a second Matern term weighted by a
//! fidelity weight phi in [0, 1] (0 at the largest budget), so that low-budget observations are
//! `f(x) + phi * delta(x)` with their own noise: an additive discrepancy that vanishes at full
//! fidelity. Also the negative log marginal likelihood and its gradient in the log-parameters.

use super::linalg::{cholesky, inverse_from_cholesky, solve_lower, solve_upper_t};

const SQRT5: f64 = 2.23606797749979;
/// Noise variance floor (standardised units): the jitter that keeps noise-free data factorable.
pub const NOISE_FLOOR: f64 = 1e-6;

/// Training data: features in `[0, 1]` (inactive dimensions mapped to -1), fidelity weights and
/// standardised targets.
#[derive(Debug, Clone)]
pub struct Data {
    /// Row `i` is point `i`.
    pub x: Vec<Vec<f64>>,
    /// Fidelity weight of each point; all 0 for a single-fidelity model.
    pub phi: Vec<f64>,
    /// Targets, standardised.
    pub y: Vec<f64>,
}

/// Layout of the log-parameter vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Input dimensions.
    pub d: usize,
    /// Whether the discrepancy term is present.
    pub multi_fidelity: bool,
}

impl Layout {
    /// Layout for `d` dims, with or without the fidelity term.
    pub fn new(d: usize, multi_fidelity: bool) -> Self {
        Layout { d, multi_fidelity }
    }
    /// Length of the parameter vector: `[ln l (d), ln s, ln noise]` and, for multi-fidelity,
    /// `[ln l2 (d), ln s2, ln noise2]`.
    #[allow(clippy::len_without_is_empty)] // never empty: at least a scale and a noise
    pub fn len(&self) -> usize {
        if self.multi_fidelity {
            2 * (self.d + 2)
        } else {
            self.d + 2
        }
    }
    /// Parameters a fit starts from without a previous fit: unit length scales, unit signal,
    /// small noise, a small discrepancy.
    pub fn initial(&self) -> Vec<f64> {
        let mut t = vec![0.0; self.d];
        t.push(0.0);
        t.push(-9.0);
        if self.multi_fidelity {
            t.extend(std::iter::repeat_n(-0.7, self.d));
            t.push(-2.0);
            t.push(-4.0);
        }
        t
    }
    /// Gaussian prior (mean, sd) of each log-parameter: weak, it only keeps fits with few
    /// points from degenerate length scales.
    pub fn prior(&self) -> Vec<(f64, f64)> {
        let mut p = vec![(0.0, 1.5); self.d];
        p.push((0.0, 1.0));
        p.push((-9.0, 3.0));
        if self.multi_fidelity {
            p.extend(std::iter::repeat_n((-0.7, 1.5), self.d));
            p.push((-2.0, 1.5));
            p.push((-4.0, 2.0));
        }
        p
    }
}

/// Squared scaled distance and per-dimension terms.
#[inline]
fn dist_terms(a: &[f64], b: &[f64], cat: &[bool], inv_l2: &[f64], terms: &mut [f64]) -> f64 {
    let mut r2 = 0.0;
    for k in 0..a.len() {
        let t = if cat[k] {
            f64::from(u8::from(a[k] != b[k]))
        } else {
            let d = a[k] - b[k];
            d * d
        };
        terms[k] = t;
        r2 += t * inv_l2[k];
    }
    r2
}

/// Matern 5/2 at squared distance `r2`: (value, -dk/d(r2) * 2, i.e. the factor that multiplies
/// each dimension's scaled term in the length-scale gradient).
#[inline]
fn matern(r2: f64) -> (f64, f64) {
    let r = r2.sqrt();
    let e = (-SQRT5 * r).exp();
    let v = (1.0 + SQRT5 * r + 5.0 / 3.0 * r2) * e;
    let g = 5.0 / 3.0 * (1.0 + SQRT5 * r) * e;
    (v, g)
}

/// A fitted covariance with its factorisation, ready to predict.
#[derive(Debug, Clone)]
pub struct Posterior {
    cat: Vec<bool>,
    theta: Vec<f64>,
    layout: Layout,
    kern: Kern,
    x: Vec<Vec<f64>>,
    chol: Vec<f64>,
    alpha: Vec<f64>,
}

/// Evaluates the kernel between two points with fidelity weights.
fn k_pair(t: &Kern, a: &[f64], pa: f64, b: &[f64], pb: f64, cat: &[bool], buf: &mut [f64]) -> f64 {
    let r1 = dist_terms(a, b, cat, &t.inv_l1, buf);
    let mut k = t.s1 * matern(r1).0;
    if t.mf && pa != 0.0 && pb != 0.0 {
        let r2 = dist_terms(a, b, cat, &t.inv_l2, buf);
        k += pa * pb * t.s2 * matern(r2).0;
    }
    k
}

/// Unpacked parameters.
#[derive(Debug, Clone)]
struct Kern {
    mf: bool,
    inv_l1: Vec<f64>,
    s1: f64,
    n1: f64,
    inv_l2: Vec<f64>,
    s2: f64,
    n2: f64,
}

impl Kern {
    fn new(layout: Layout, theta: &[f64]) -> Self {
        let d = layout.d;
        let inv = |s: &[f64]| s.iter().map(|v| (-2.0 * v).exp()).collect::<Vec<f64>>();
        let mut k = Kern {
            mf: layout.multi_fidelity,
            inv_l1: inv(&theta[..d]),
            s1: theta[d].exp(),
            n1: NOISE_FLOOR + theta[d + 1].exp(),
            inv_l2: Vec::new(),
            s2: 0.0,
            n2: 0.0,
        };
        if k.mf {
            let o = d + 2;
            k.inv_l2 = inv(&theta[o..o + d]);
            k.s2 = theta[o + d].exp();
            k.n2 = theta[o + d + 1].exp();
        }
        k
    }
}

fn covariance(kern: &Kern, data: &Data, cat: &[bool]) -> Vec<f64> {
    let n = data.y.len();
    let d = cat.len();
    let mut buf = vec![0.0; d];
    let mut k = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let v = k_pair(
                kern,
                &data.x[i],
                data.phi[i],
                &data.x[j],
                data.phi[j],
                cat,
                &mut buf,
            );
            k[i * n + j] = v;
            k[j * n + i] = v;
        }
        k[i * n + i] += kern.n1 + data.phi[i] * data.phi[i] * kern.n2;
    }
    k
}

/// Negative log marginal likelihood plus the prior's negative log density, and its gradient;
/// `None` when the covariance does not factor.
pub fn objective(
    layout: Layout,
    theta: &[f64],
    data: &Data,
    cat: &[bool],
) -> Option<(f64, Vec<f64>)> {
    let n = data.y.len();
    let d = layout.d;
    let kern = Kern::new(layout, theta);
    let kmat = covariance(&kern, data, cat);
    let l = cholesky(&kmat, n)?;
    let mut alpha = data.y.clone();
    solve_lower(&l, n, &mut alpha);
    let quad: f64 = alpha.iter().map(|a| a * a).sum();
    solve_upper_t(&l, n, &mut alpha);
    let logdet: f64 = (0..n).map(|i| l[i * n + i].ln()).sum();
    let mut value = 0.5 * quad + logdet + 0.5 * n as f64 * (2.0 * std::f64::consts::PI).ln();
    let kinv = inverse_from_cholesky(&l, n);
    let mut grad = vec![0.0; layout.len()];
    let mut buf = vec![0.0; d];
    for i in 0..n {
        for j in 0..=i {
            // W = alpha alpha^T - K^{-1}; dNLL = -0.5 tr(W dK); off-diagonal pairs count twice
            let w = alpha[i] * alpha[j] - kinv[i * n + j];
            let mult = if i == j { 0.5 } else { 1.0 };
            let c = -mult * w;
            let r1 = dist_terms(&data.x[i], &data.x[j], cat, &kern.inv_l1, &mut buf);
            let (m1, g1) = matern(r1);
            // d k / d ln l_k = s * g(r) * term_k / l_k^2
            for k in 0..d {
                grad[k] += c * kern.s1 * g1 * buf[k] * kern.inv_l1[k];
            }
            grad[d] += c * kern.s1 * m1;
            if i == j {
                grad[d + 1] += c * (kern.n1 - NOISE_FLOOR);
            }
            if kern.mf {
                let o = d + 2;
                let pp = data.phi[i] * data.phi[j];
                if pp != 0.0 {
                    let r2 = dist_terms(&data.x[i], &data.x[j], cat, &kern.inv_l2, &mut buf);
                    let (m2, g2) = matern(r2);
                    for k in 0..d {
                        grad[o + k] += c * pp * kern.s2 * g2 * buf[k] * kern.inv_l2[k];
                    }
                    grad[o + d] += c * pp * kern.s2 * m2;
                    if i == j {
                        grad[o + d + 1] += c * pp * kern.n2;
                    }
                }
            }
        }
    }
    for (p, ((mu, sd), t)) in layout.prior().into_iter().zip(theta).enumerate() {
        let z = (t - mu) / sd;
        value += 0.5 * z * z;
        grad[p] += z / sd;
    }
    value.is_finite().then_some((value, grad))
}

impl Posterior {
    /// Factorises the covariance of `data` under `theta`, adding jitter if it must.
    pub fn new(layout: Layout, theta: Vec<f64>, data: &Data, cat: &[bool]) -> Option<Self> {
        let n = data.y.len();
        let kern = Kern::new(layout, &theta);
        let mut kmat = covariance(&kern, data, cat);
        let mut jitter = 1e-8;
        let chol = loop {
            if let Some(l) = cholesky(&kmat, n) {
                break l;
            }
            if jitter > 1e-2 {
                return None;
            }
            for i in 0..n {
                kmat[i * n + i] += jitter;
            }
            jitter *= 10.0;
        };
        let mut alpha = data.y.clone();
        solve_lower(&chol, n, &mut alpha);
        solve_upper_t(&chol, n, &mut alpha);
        Some(Posterior {
            cat: cat.to_vec(),
            theta,
            layout,
            kern,
            x: data.x.clone(),
            chol,
            alpha,
        })
    }

    /// The log-parameters.
    pub fn theta(&self) -> &[f64] {
        &self.theta
    }

    /// Mean and variance of the latent function at full fidelity (phi = 0) at `x`;
    /// `buf` must hold `n + d` entries and is scratch.
    pub fn predict(&self, x: &[f64], buf: &mut Vec<f64>) -> (f64, f64) {
        let n = self.alpha.len();
        let d = self.layout.d;
        let kern = &self.kern;
        buf.resize(n + d, 0.0);
        let (kstar, terms) = buf.split_at_mut(n);
        let mut mean = 0.0;
        for ((ks, xi), a) in kstar.iter_mut().zip(&self.x).zip(&self.alpha) {
            let r = dist_terms(x, xi, &self.cat, &kern.inv_l1, terms);
            *ks = kern.s1 * matern(r).0;
            mean += *ks * a;
        }
        solve_lower(&self.chol, n, kstar);
        let vv: f64 = kstar.iter().map(|v| v * v).sum();
        (mean, (kern.s1 - vv).max(1e-12))
    }
}
