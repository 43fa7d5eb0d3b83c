//! Hyperparameter fitting: L-BFGS on the log-parameters of the marginal likelihood (with a weak
//! prior), warm-started from the previous fit and restarted from a default.

use super::kernel::{objective, Data, Layout};

/// Minimises `f` from `x0` by L-BFGS (memory 8) with a backtracking Armijo line search;
/// returns the best point found and its value. `f` returning `None` (a covariance that does not
/// factor) counts as an infinitely bad point.
pub fn lbfgs<F>(f: F, x0: Vec<f64>, max_iter: usize) -> Option<(Vec<f64>, f64)>
where
    F: Fn(&[f64]) -> Option<(f64, Vec<f64>)>,
{
    const MEMORY: usize = 8;
    let (mut fx, mut g) = f(&x0)?;
    let mut x = x0;
    let mut s_hist: Vec<Vec<f64>> = Vec::new();
    let mut y_hist: Vec<Vec<f64>> = Vec::new();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
    for _ in 0..max_iter {
        // two-loop recursion for the search direction
        let mut q = g.clone();
        let mut alphas = Vec::with_capacity(s_hist.len());
        for (s, y) in s_hist.iter().zip(&y_hist).rev() {
            let rho = 1.0 / dot(y, s);
            let a = rho * dot(s, &q);
            for (qi, yi) in q.iter_mut().zip(y) {
                *qi -= a * yi;
            }
            alphas.push((a, rho));
        }
        let gamma = match (s_hist.last(), y_hist.last()) {
            (Some(s), Some(y)) => dot(s, y) / dot(y, y),
            _ => 0.1 / dot(&g, &g).sqrt().max(1e-12),
        };
        for qi in q.iter_mut() {
            *qi *= gamma;
        }
        for ((s, y), (a, rho)) in s_hist.iter().zip(&y_hist).zip(alphas.into_iter().rev()) {
            let b = rho * dot(y, &q);
            for (qi, si) in q.iter_mut().zip(s) {
                *qi += (a - b) * si;
            }
        }
        let dir: Vec<f64> = q.iter().map(|v| -v).collect();
        let mut slope = dot(&dir, &g);
        let dir = if slope >= 0.0 {
            // not a descent direction: fall back to steepest descent
            s_hist.clear();
            y_hist.clear();
            slope = -dot(&g, &g);
            g.iter()
                .map(|v| -v * 0.1 / dot(&g, &g).sqrt().max(1e-12))
                .collect()
        } else {
            dir
        };
        let mut step = 1.0;
        let mut accepted = None;
        for _ in 0..20 {
            // cap any single log-parameter move at 3 (a factor of 20)
            let xn: Vec<f64> = x
                .iter()
                .zip(&dir)
                .map(|(xi, di)| xi + (step * di).clamp(-3.0, 3.0))
                .collect();
            if let Some((fn_, gn)) = f(&xn) {
                if fn_ <= fx + 1e-4 * step * slope {
                    accepted = Some((xn, fn_, gn));
                    break;
                }
            }
            step *= 0.5;
        }
        let Some((xn, fn_, gn)) = accepted else { break };
        let s: Vec<f64> = xn.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = gn.iter().zip(&g).map(|(a, b)| a - b).collect();
        let improvement = fx - fn_;
        x = xn;
        fx = fn_;
        g = gn;
        if dot(&s, &y) > 1e-12 {
            s_hist.push(s);
            y_hist.push(y);
            if s_hist.len() > MEMORY {
                s_hist.remove(0);
                y_hist.remove(0);
            }
        }
        if improvement.abs() < 1e-7 * (1.0 + fx.abs()) || dot(&g, &g).sqrt() < 1e-6 {
            break;
        }
    }
    Some((x, fx))
}

/// Fits the log-parameters of `data`: from each start in `starts`, L-BFGS for `max_iter`
/// iterations; the best fit wins. `None` when no start gives a factorable covariance.
pub fn fit(
    layout: Layout,
    data: &Data,
    cat: &[bool],
    starts: &[Vec<f64>],
    max_iter: usize,
) -> Option<Vec<f64>> {
    let mut best: Option<(Vec<f64>, f64)> = None;
    for s in starts {
        if let Some((x, v)) = lbfgs(|t| objective(layout, t, data, cat), s.clone(), max_iter) {
            if best.as_ref().is_none_or(|(_, bv)| v < *bv) {
                best = Some((x, v));
            }
        }
    }
    best.map(|(x, _)| x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lbfgs_minimises_a_quadratic_and_rosenbrock() {
        let quad = |x: &[f64]| {
            Some((
                x[0] * x[0] + 10.0 * (x[1] - 1.0).powi(2),
                vec![2.0 * x[0], 20.0 * (x[1] - 1.0)],
            ))
        };
        let (x, v) = lbfgs(quad, vec![3.0, -2.0], 100).unwrap();
        assert!(v < 1e-8 && (x[1] - 1.0).abs() < 1e-4);
        let rosen = |x: &[f64]| {
            let (a, b) = (x[0], x[1]);
            Some((
                (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2),
                vec![
                    -2.0 * (1.0 - a) - 400.0 * a * (b - a * a),
                    200.0 * (b - a * a),
                ],
            ))
        };
        let (x, _) = lbfgs(rosen, vec![-1.2, 1.0], 500).unwrap();
        assert!(
            (x[0] - 1.0).abs() < 1e-3 && (x[1] - 1.0).abs() < 1e-3,
            "{x:?}"
        );
    }

    #[test]
    fn likelihood_gradient_matches_finite_differences() {
        let data = Data {
            x: (0..7)
                .map(|i| vec![i as f64 / 7.0, ((i * 3) % 7) as f64 / 7.0, (i % 2) as f64])
                .collect(),
            phi: (0..7)
                .map(|i| if i < 4 { 0.0 } else { 0.5 + 0.1 * i as f64 })
                .collect(),
            y: vec![0.3, -1.0, 0.8, 0.1, -0.4, 1.2, -0.9],
        };
        let cat = [false, false, true];
        let layout = Layout::new(3, true);
        let theta: Vec<f64> = (0..layout.len()).map(|i| -0.5 + 0.13 * i as f64).collect();
        let (_, g) = objective(layout, &theta, &data, &cat).unwrap();
        for p in 0..theta.len() {
            let h = 1e-6;
            let mut a = theta.clone();
            a[p] += h;
            let mut b = theta.clone();
            b[p] -= h;
            let fd = (objective(layout, &a, &data, &cat).unwrap().0
                - objective(layout, &b, &data, &cat).unwrap().0)
                / (2.0 * h);
            assert!(
                (fd - g[p]).abs() < 1e-5 * (1.0 + fd.abs()),
                "param {p}: {fd} vs {}",
                g[p]
            );
        }
    }
}
