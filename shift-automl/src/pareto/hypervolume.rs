//! Exact hypervolume (minimisation) for any number of objectives: a sweep in 2-D and slicing along
//! the last objective above that (HSO), which is O(n^2 log n) in 3-D and fine for the front sizes a
//! hyperparameter search produces in 4-D and more.

/// Hypervolume dominated by `points` and bounded by `reference`, minimisation. Points that do not
/// strictly dominate the reference point (some coordinate >= the reference's, or NaN) count 0,
/// and so do points whose length differs from the reference's. An empty set has volume 0.
pub fn hypervolume(points: &[Vec<f64>], reference: &[f64]) -> f64 {
    let m = reference.len();
    if m == 0 {
        return 0.0;
    }
    let inside: Vec<&[f64]> = points
        .iter()
        .filter(|p| p.len() == m && p.iter().zip(reference).all(|(v, r)| *v < *r))
        .map(|p| p.as_slice())
        .collect();
    hv_rec(inside, reference)
}

/// Exclusive contribution of each point: the volume lost when it alone is removed. Dominated
/// points and points outside the reference box contribute 0.
pub fn hypervolume_contributions(points: &[Vec<f64>], reference: &[f64]) -> Vec<f64> {
    let total = hypervolume(points, reference);
    (0..points.len())
        .map(|i| {
            let rest: Vec<Vec<f64>> = points
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, p)| p.clone())
                .collect();
            (total - hypervolume(&rest, reference)).max(0.0)
        })
        .collect()
}

/// `points` all strictly inside the reference box and of the reference's length.
fn hv_rec(mut points: Vec<&[f64]>, reference: &[f64]) -> f64 {
    let m = reference.len();
    if points.is_empty() {
        return 0.0;
    }
    match m {
        1 => {
            let best = points.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min);
            reference[0] - best
        }
        2 => {
            points.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
            let mut hv = 0.0;
            let mut best = reference[1];
            for p in points {
                if p[1] < best {
                    hv += (reference[0] - p[0]) * (best - p[1]);
                    best = p[1];
                }
            }
            hv
        }
        _ => {
            let last = m - 1;
            points.sort_by(|a, b| a[last].total_cmp(&b[last]));
            let mut hv = 0.0;
            let mut slice: Vec<&[f64]> = Vec::with_capacity(points.len());
            for i in 0..points.len() {
                slice.push(&points[i][..last]);
                let lo = points[i][last];
                let hi = if i + 1 < points.len() {
                    points[i + 1][last]
                } else {
                    reference[last]
                };
                if hi > lo {
                    // Dropping dominated projections keeps the recursion on the front only.
                    prune_dominated(&mut slice);
                    hv += hv_rec(slice.clone(), &reference[..last]) * (hi - lo);
                }
            }
            hv
        }
    }
}

fn prune_dominated(points: &mut Vec<&[f64]>) {
    let keep: Vec<bool> = (0..points.len())
        .map(|i| {
            !points.iter().enumerate().any(|(j, q)| {
                let p = points[i];
                // weak dominance by an earlier duplicate also removes the copy
                (super::dominates(q, p)) || (j < i && q == &p)
            })
        })
        .collect();
    let mut k = 0;
    points.retain(|_| {
        k += 1;
        keep[k - 1]
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Inclusion-exclusion over all subsets: the volume of a union of boxes [p, r].
    fn brute_force(points: &[Vec<f64>], r: &[f64]) -> f64 {
        let inside: Vec<&Vec<f64>> = points
            .iter()
            .filter(|p| p.iter().zip(r).all(|(v, q)| v < q))
            .collect();
        let n = inside.len();
        let mut total = 0.0;
        for mask in 1u32..(1 << n) {
            let mut corner = vec![f64::NEG_INFINITY; r.len()];
            for (i, p) in inside.iter().enumerate() {
                if mask & (1 << i) != 0 {
                    for k in 0..r.len() {
                        corner[k] = corner[k].max(p[k]);
                    }
                }
            }
            let vol: f64 = corner.iter().zip(r).map(|(c, q)| q - c).product();
            if mask.count_ones() % 2 == 1 {
                total += vol;
            } else {
                total -= vol;
            }
        }
        total
    }

    #[test]
    fn matches_inclusion_exclusion() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for m in 2..=4 {
            for trial in 0..40 {
                let n = 1 + trial % 10;
                let pts: Vec<Vec<f64>> = (0..n)
                    .map(|_| (0..m).map(|_| rng.gen_range(0.0..1.2)).collect())
                    .collect();
                let r = vec![1.0; m];
                let a = hypervolume(&pts, &r);
                let b = brute_force(&pts, &r);
                assert!((a - b).abs() < 1e-12, "m={m} n={n}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn edge_cases() {
        assert_eq!(hypervolume(&[], &[1.0, 1.0]), 0.0);
        // on the reference boundary: not strictly dominating
        assert_eq!(hypervolume(&[vec![0.5, 1.0]], &[1.0, 1.0]), 0.0);
        assert_eq!(hypervolume(&[vec![0.5, 0.5, 0.5]], &[1.0, 1.0]), 0.0);
        let h = hypervolume(&[vec![0.5, 0.5], vec![0.5, 0.5]], &[1.0, 1.0]);
        assert!((h - 0.25).abs() < 1e-15);
        let c = hypervolume_contributions(
            &[vec![0.0, 0.5], vec![0.5, 0.0], vec![0.6, 0.6]],
            &[1.0, 1.0],
        );
        assert!((c[0] - 0.25).abs() < 1e-12 && (c[1] - 0.25).abs() < 1e-12 && c[2] == 0.0);
    }
}
