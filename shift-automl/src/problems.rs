//! Benchmark problems with known Pareto fronts (ZDT1-3, DTLZ2 on `[0,1]^6`) and the synthetic
//! fidelity of the multi-fidelity benchmark, exactly as `/work/shared/hpo/README.md` defines them
//! (same floating-point order, so values match the Python reference to the last bit up to libm).
//!
//! The benchmark's noise stream is a seeded ChaCha8 standard normal generator: it has the
//! reference's distribution and seeding discipline (one generator per run, `m` draws per
//! evaluation in evaluation order, at every budget) but not numpy's bits.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use thiserror::Error;

/// Number of decision variables of every problem here.
pub const DIM: usize = 6;
/// Smallest budget of the multi-fidelity benchmark.
pub const B_MIN: f64 = 1.0;
/// Largest budget ("epochs") of the multi-fidelity benchmark; s(B_MAX) = 0 exactly.
pub const B_MAX: f64 = 27.0;

/// Errors of problem evaluation.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ProblemError {
    /// The decision vector does not have [`DIM`] entries.
    #[error("decision vector has {0} entries, the problems take {DIM}")]
    Dimension(usize),
    /// The budget is outside [B_MIN, B_MAX] (or NaN).
    #[error("budget {0} outside [{B_MIN}, {B_MAX}]")]
    Budget(f64),
    /// The name is none of zdt1, zdt2, zdt3, dtlz2.
    #[error("unknown problem '{0}' (zdt1, zdt2, zdt3, dtlz2)")]
    Unknown(String),
}

/// One of the four benchmark problems (minimisation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Problem {
    /// ZDT1: convex front f2 = 1 - sqrt(f1).
    Zdt1,
    /// ZDT2: concave front f2 = 1 - f1^2.
    Zdt2,
    /// ZDT3: disconnected front.
    Zdt3,
    /// DTLZ2 with 3 objectives (k = 4): the positive octant of the unit sphere.
    Dtlz2,
}

impl Problem {
    /// All four, in table order.
    pub const ALL: [Problem; 4] = [Problem::Zdt1, Problem::Zdt2, Problem::Zdt3, Problem::Dtlz2];

    /// Lower-case name, as the command line spells it.
    pub fn name(self) -> &'static str {
        match self {
            Problem::Zdt1 => "zdt1",
            Problem::Zdt2 => "zdt2",
            Problem::Zdt3 => "zdt3",
            Problem::Dtlz2 => "dtlz2",
        }
    }

    /// Parses a name, case-insensitively.
    pub fn from_name(name: &str) -> Result<Problem, ProblemError> {
        Problem::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| ProblemError::Unknown(name.to_string()))
    }

    /// Number of objectives.
    pub fn n_objectives(self) -> usize {
        match self {
            Problem::Dtlz2 => 3,
            _ => 2,
        }
    }

    /// The benchmark's hypervolume reference point.
    pub fn reference(self) -> Vec<f64> {
        match self {
            Problem::Dtlz2 => vec![2.5, 2.5, 2.5],
            _ => vec![1.1, 10.0],
        }
    }

    /// Hypervolume of the true front (dense-sample value), the 100 % mark of the benchmark.
    pub fn front_hv(self) -> f64 {
        match self {
            Problem::Zdt1 => 10.66666416434365,
            Problem::Zdt2 => 10.333330833337536,
            Problem::Zdt3 => 11.121758472020204,
            Problem::Dtlz2 => 15.100728416830204,
        }
    }

    /// True (noise-free, full-fidelity) objectives of `x`.
    pub fn evaluate(self, x: &[f64]) -> Result<Vec<f64>, ProblemError> {
        if x.len() != DIM {
            return Err(ProblemError::Dimension(x.len()));
        }
        Ok(match self {
            Problem::Zdt1 | Problem::Zdt2 | Problem::Zdt3 => {
                let f1 = x[0];
                let sum = x[1..].iter().fold(0.0, |a, v| a + v);
                let g = 1.0 + (9.0 * sum) / (DIM as f64 - 1.0);
                let r = f1 / g;
                let f2 = match self {
                    Problem::Zdt1 => g * (1.0 - r.sqrt()),
                    Problem::Zdt2 => g * (1.0 - r * r),
                    _ => g * (1.0 - r.sqrt() - r * (10.0 * std::f64::consts::PI * f1).sin()),
                };
                vec![f1, f2]
            }
            Problem::Dtlz2 => {
                let m = 3;
                let g = x[m - 1..]
                    .iter()
                    .fold(0.0, |a, v| a + (v - 0.5) * (v - 0.5));
                let th: Vec<f64> = x[..m - 1]
                    .iter()
                    .map(|v| v * (std::f64::consts::PI / 2.0))
                    .collect();
                (0..m)
                    .map(|i| {
                        let mut v = 1.0 + g;
                        for t in &th[..m - 1 - i] {
                            v *= t.cos();
                        }
                        if i > 0 {
                            v *= th[m - 1 - i].sin();
                        }
                        v
                    })
                    .collect()
            }
        })
    }

    /// Objectives observed at budget `b` with standard normal draws `eps` (one per objective;
    /// zeros give the noise-free part): `f + s(b) * (0.2 sin(2 pi w_i.x) + 0.1 eps_i)`.
    pub fn observe(self, x: &[f64], b: f64, eps: &[f64]) -> Result<Vec<f64>, ProblemError> {
        let f = self.evaluate(x)?;
        let s = fidelity_weight(b)?;
        Ok(f.iter()
            .enumerate()
            .map(|(i, fi)| {
                let term = bias_term(x, i) + 0.1 * eps.get(i).copied().unwrap_or(0.0);
                fi + s * term
            })
            .collect())
    }
}

/// s(b) = 1 - ln(b)/ln(27): 1 at b = 1, 0.0 exactly at b = 27.
pub fn fidelity_weight(b: f64) -> Result<f64, ProblemError> {
    if !(B_MIN..=B_MAX).contains(&b) {
        return Err(ProblemError::Budget(b));
    }
    Ok(1.0 - b.ln() / B_MAX.ln())
}

/// 0.2 sin(2 pi (w_i . x)), the dot product summed left to right from 0.0.
fn bias_term(x: &[f64], i: usize) -> f64 {
    let w = |j: usize| -> f64 {
        match i {
            0 => (j as f64 + 1.0) / 6.0,
            1 => (6.0 - j as f64) / 6.0,
            _ => [1.0, 0.0, 1.0, 0.0, 1.0, 0.0][j],
        }
    };
    let mut dot = 0.0;
    for (j, xj) in x.iter().enumerate().take(DIM) {
        dot += w(j) * xj;
    }
    0.2 * ((2.0 * std::f64::consts::PI) * dot).sin()
}

/// One run of the multi-fidelity benchmark: a problem and its noise generator, seeded with
/// `seed + 1000` as the reference seeds numpy's.
#[derive(Debug, Clone)]
pub struct NoisyProblem {
    problem: Problem,
    rng: ChaCha8Rng,
}

impl NoisyProblem {
    /// The run's noise stream for `seed`.
    pub fn new(problem: Problem, seed: u64) -> Self {
        NoisyProblem {
            problem,
            rng: ChaCha8Rng::seed_from_u64(seed.wrapping_add(1000)),
        }
    }

    /// The problem.
    pub fn problem(&self) -> Problem {
        self.problem
    }

    /// Evaluates `x` at budget `b`: draws `m` normals (also at b = 27, to keep the stream's
    /// order) and returns (observed, true objectives).
    pub fn evaluate(&mut self, x: &[f64], b: f64) -> Result<(Vec<f64>, Vec<f64>), ProblemError> {
        fidelity_weight(b)?;
        let m = self.problem.n_objectives();
        let eps: Vec<f64> = (0..m)
            .map(|_| StandardNormal.sample(&mut self.rng))
            .collect();
        let obs = self.problem.observe(x, b, &eps)?;
        Ok((obs, self.problem.evaluate(x)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-15 * y.abs().max(1.0), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn sample_points_of_the_readme() {
        use Problem::*;
        type Row = (
            Problem,
            [f64; 6],
            f64,
            f64,
            &'static [f64],
            &'static [f64],
            &'static [f64],
        );
        let rows: [Row; 5] = [
            (
                Zdt1,
                [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
                1.0,
                1.0,
                &[0.1, 3.921767001687473],
                &[0.07909430734646962, 3.840419673072313],
                &[0.17909430734646964, 3.7404196730723127],
            ),
            (
                Zdt2,
                [0.5, 0.05, 0.1, 0.0, 0.25, 0.9],
                3.0,
                0.6666666666666666,
                &[0.5, 3.2651497005988026],
                &[0.6331506046339432, 3.1533269582060792],
                &[0.6998172713006099, 3.086660291539413],
            ),
            (
                Zdt3,
                [0.25, 0.0, 0.0, 0.1, 0.0, 0.0],
                9.0,
                0.33333333333333326,
                &[0.25, 0.3868609754399892],
                &[0.2919546927366558, 0.4502647431929995],
                &[0.32528802606998913, 0.4169314098596661],
            ),
            (
                Dtlz2,
                [0.3, 0.7, 0.45, 0.6, 0.2, 0.85],
                5.0,
                0.5116754930940244,
                &[0.49552290905465535, 0.9725184670291398, 0.5561383621809448],
                &[0.4490637464918082, 0.8769804220149627, 0.5245150775866979],
                &[0.5002312958012106, 0.8258128727055603, 0.5500988522413991],
            ),
            (
                Dtlz2,
                [0.3, 0.7, 0.45, 0.6, 0.2, 0.85],
                27.0,
                0.0,
                &[0.49552290905465535, 0.9725184670291398, 0.5561383621809448],
                &[0.49552290905465535, 0.9725184670291398, 0.5561383621809448],
                &[0.49552290905465535, 0.9725184670291398, 0.5561383621809448],
            ),
        ];
        let eps = [1.0, -1.0, 0.5];
        for (p, x, b, s, f, clean, noisy) in rows {
            assert!((fidelity_weight(b).unwrap() - s).abs() <= 1e-16);
            close(&p.evaluate(&x).unwrap(), f);
            close(&p.observe(&x, b, &[0.0; 3]).unwrap(), clean);
            close(&p.observe(&x, b, &eps).unwrap(), noisy);
        }
        // s(27) = 0 exactly: observed equals true bit for bit
        let x = [0.3, 0.7, 0.45, 0.6, 0.2, 0.85];
        assert_eq!(
            Dtlz2.observe(&x, 27.0, &eps).unwrap(),
            Dtlz2.evaluate(&x).unwrap()
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(Problem::Zdt1.evaluate(&[0.0; 5]).is_err());
        assert!(fidelity_weight(0.5).is_err());
        assert!(fidelity_weight(f64::NAN).is_err());
        assert!(Problem::from_name("zdt4").is_err());
        assert_eq!(Problem::from_name("DTLZ2").unwrap(), Problem::Dtlz2);
    }

    #[test]
    fn noise_stream_is_seeded_and_ordered() {
        let x = [0.5; 6];
        let mut a = NoisyProblem::new(Problem::Zdt1, 4);
        let mut b = NoisyProblem::new(Problem::Zdt1, 4);
        let ra: Vec<_> = (0..5).map(|_| a.evaluate(&x, 1.0).unwrap().0).collect();
        let rb: Vec<_> = (0..5).map(|_| b.evaluate(&x, 1.0).unwrap().0).collect();
        assert_eq!(ra, rb);
        assert_ne!(ra[0], ra[1]);
        // b = 27 consumes draws but observes the true value
        let (o, t) = a.evaluate(&x, 27.0).unwrap();
        assert_eq!(o, t);
        let next_a = a.evaluate(&x, 1.0).unwrap().0;
        b.evaluate(&x, 3.0).unwrap();
        assert_eq!(next_a, b.evaluate(&x, 1.0).unwrap().0);
    }
}
