//! Expected hypervolume improvement, exact in any number of objectives for independent Gaussian
//! predictions: the non-dominated region is a union of disjoint boxes (see
//! [`crate::pareto::nondominated_boxes`]) and, per box, the expected volume of its part that the
//! new point dominates is a product of one-dimensional integrals
//! `E[(u - max(l, Y))+] = G(u) - G(l)`, with `G(a) = E[(a - Y)+] = sigma h((a - mu) / sigma)`,
//! `h(z) = phi(z) + z Phi(z)`. The value is returned as its logarithm (LogEHVI, Ament et al.
//! 2023), computed in log space when the plain sum underflows, so that a local search still
//! sees a slope far from the front.

use crate::pareto::nondominated_boxes;

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// `ln erfc(x)` (Numerical Recipes' Chebyshev-fitted erfcc, relative error < 1.2e-7, kept in log
/// form so that large `x` does not underflow).
fn ln_erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let ln_pos = t.ln() + poly;
    if x >= 0.0 {
        ln_pos
    } else {
        (2.0 - ln_pos.exp()).ln()
    }
}

/// Standard normal CDF.
pub fn norm_cdf(z: f64) -> f64 {
    0.5 * ln_erfc(-z / std::f64::consts::SQRT_2).exp()
}

/// `h(z) = phi(z) + z Phi(z)` and its logarithm.
fn h_and_ln_h(z: f64) -> (f64, f64) {
    if z > -8.0 {
        let pdf = (-0.5 * z * z - LN_SQRT_2PI).exp();
        let h = pdf + z * norm_cdf(z);
        let h = h.max(0.0);
        (h, h.ln())
    } else {
        // asymptotic series of the Mills ratio: h(z) = phi(z)/z^2 (1 - 3/z^2 + 15/z^4 - ...)
        let w = 1.0 / (z * z);
        let series = 1.0 - 3.0 * w + 15.0 * w * w - 105.0 * w * w * w + 945.0 * w * w * w * w;
        let ln_h = -0.5 * z * z - LN_SQRT_2PI + w.ln() + series.ln();
        (ln_h.exp(), ln_h)
    }
}

/// A box as indices into the per-objective tables of bounds; `None` lower = -inf.
#[derive(Debug, Clone)]
struct IndexedBox {
    lower: Vec<Option<usize>>,
    upper: Vec<usize>,
}

/// The non-dominated region of a front, prepared for evaluating EHVI at many points.
#[derive(Debug, Clone)]
pub struct Ehvi {
    bounds: Vec<Vec<f64>>,
    boxes: Vec<IndexedBox>,
}

impl Ehvi {
    /// Prepares the region that `front` does not dominate within `reference`.
    pub fn new(front: &[Vec<f64>], reference: &[f64]) -> Self {
        let m = reference.len();
        let raw = nondominated_boxes(front, reference);
        let mut bounds: Vec<Vec<f64>> = vec![Vec::new(); m];
        for b in &raw {
            for (i, v) in bounds.iter_mut().enumerate() {
                if b.lower[i].is_finite() {
                    v.push(b.lower[i]);
                }
                v.push(b.upper[i]);
            }
        }
        for v in bounds.iter_mut() {
            v.sort_by(f64::total_cmp);
            v.dedup();
        }
        let find = |i: usize, v: f64| bounds[i].binary_search_by(|p| p.total_cmp(&v)).unwrap_or(0);
        let boxes = raw
            .iter()
            .map(|b| IndexedBox {
                lower: (0..m)
                    .map(|i| b.lower[i].is_finite().then(|| find(i, b.lower[i])))
                    .collect(),
                upper: (0..m).map(|i| find(i, b.upper[i])).collect(),
            })
            .collect();
        Ehvi { bounds, boxes }
    }

    /// `ln EHVI` of a point whose objectives are independent normals `N(mean_i, sd_i^2)`;
    /// `-inf` when there is nothing to improve (an empty region).
    pub fn ln_ehvi(&self, mean: &[f64], sd: &[f64]) -> f64 {
        let m = self.bounds.len();
        let mut g: Vec<Vec<(f64, f64)>> = Vec::with_capacity(m);
        for i in 0..m {
            let s = sd[i].max(1e-12);
            g.push(
                self.bounds[i]
                    .iter()
                    .map(|&a| {
                        let (h, lh) = h_and_ln_h((a - mean[i]) / s);
                        (s * h, s.ln() + lh)
                    })
                    .collect(),
            );
        }
        let mut total = 0.0;
        for b in &self.boxes {
            let mut p = 1.0;
            for i in 0..m {
                let up = g[i][b.upper[i]].0;
                let e = match b.lower[i] {
                    Some(l) => up - g[i][l].0,
                    None => up,
                };
                p *= e.max(0.0);
            }
            total += p;
        }
        if total > 1e-250 {
            return total.ln();
        }
        // the plain sum underflowed: the same sum in log space
        let mut terms: Vec<f64> = Vec::with_capacity(self.boxes.len());
        for b in &self.boxes {
            let mut lp = 0.0;
            for i in 0..m {
                let lu = g[i][b.upper[i]].1;
                let le = match b.lower[i] {
                    Some(l) => {
                        let ll = g[i][l].1;
                        let diff = ll - lu;
                        if diff < -1e-9 {
                            lu + (-diff.exp()).ln_1p()
                        } else {
                            // G(u) ~ G(l): the slope G' = sd Phi times the width
                            let s = sd[i].max(1e-12);
                            let zl = (self.bounds[i][l] - mean[i]) / s;
                            let width =
                                (self.bounds[i][b.upper[i]] - self.bounds[i][l]).max(1e-300);
                            ln_erfc(-zl / std::f64::consts::SQRT_2) - std::f64::consts::LN_2
                                + width.ln()
                        }
                    }
                    None => lu,
                };
                lp += le;
            }
            terms.push(lp);
        }
        let mx = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !mx.is_finite() {
            return f64::NEG_INFINITY;
        }
        mx + terms.iter().map(|t| (t - mx).exp()).sum::<f64>().ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pareto::hypervolume;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, StandardNormal};

    #[test]
    fn normal_cdf_and_h() {
        assert!((norm_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((norm_cdf(1.96) - 0.975_002_1).abs() < 1e-6);
        assert!((norm_cdf(-5.0) / 2.866_515_7e-7 - 1.0).abs() < 1e-5);
        // continuity of ln h at the switch to the series
        let a = h_and_ln_h(-7.999_999).1;
        let b = h_and_ln_h(-8.000_001).1;
        assert!((a - b).abs() < 1e-4, "{a} {b}");
        assert!(h_and_ln_h(-40.0).1.is_finite());
    }

    #[test]
    fn matches_monte_carlo() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let front = vec![
            vec![0.2, 0.8, 0.5],
            vec![0.5, 0.3, 0.6],
            vec![0.7, 0.6, 0.1],
        ];
        let r = [1.0, 1.0, 1.0];
        let e = Ehvi::new(&front, &r);
        let mean = [0.4, 0.5, 0.45];
        let sd = [0.2, 0.1, 0.3];
        let base = hypervolume(&front, &r);
        let n = 40_000;
        let mut acc = 0.0;
        for _ in 0..n {
            let y: Vec<f64> = (0..3)
                .map(|i| {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    mean[i] + sd[i] * z
                })
                .collect();
            let mut f = front.clone();
            f.push(y);
            acc += hypervolume(&f, &r) - base;
        }
        let mc = acc / n as f64;
        let exact = e.ln_ehvi(&mean, &sd).exp();
        assert!((mc - exact).abs() < 0.03 * exact, "mc {mc} exact {exact}");
        // far from the front: tiny but finite and ordered
        let far = e.ln_ehvi(&[5.0, 5.0, 5.0], &[0.1, 0.1, 0.1]);
        let farther = e.ln_ehvi(&[6.0, 6.0, 6.0], &[0.1, 0.1, 0.1]);
        assert!(far.is_finite() && farther.is_finite() && far > farther);
    }
}
