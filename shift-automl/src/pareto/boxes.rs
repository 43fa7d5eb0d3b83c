//! Decomposition of the region that a front does not dominate (inside the reference box) into
//! disjoint axis-aligned boxes. Expected hypervolume improvement under independent Gaussian
//! objectives is exact as a sum over these boxes of a product of one-dimensional integrals.

use std::collections::HashMap;

/// One box `[lower, upper]`; `lower` may be `-inf` in any coordinate.
#[derive(Debug, Clone, PartialEq)]
pub struct HvBox {
    /// Lower corner (minimisation: the side better than the front).
    pub lower: Vec<f64>,
    /// Upper corner, never beyond the reference point.
    pub upper: Vec<f64>,
}

/// Disjoint boxes whose union is `{z < reference : no point of front weakly dominates z}`, up to
/// boundaries of measure zero. Points that do not strictly dominate the reference are ignored.
/// Slicing along the last objective with boxes merged across slices keeps the count near linear
/// in the front size in 3-D.
pub fn nondominated_boxes(front: &[Vec<f64>], reference: &[f64]) -> Vec<HvBox> {
    let m = reference.len();
    if m == 0 {
        return Vec::new();
    }
    let inside: Vec<&[f64]> = front
        .iter()
        .filter(|p| p.len() == m && p.iter().zip(reference).all(|(v, r)| *v < *r))
        .map(|p| p.as_slice())
        .collect();
    rec(inside, reference)
}

fn rec(mut points: Vec<&[f64]>, reference: &[f64]) -> Vec<HvBox> {
    let m = reference.len();
    if m == 1 {
        let best = points.iter().map(|p| p[0]).fold(reference[0], f64::min);
        return vec![HvBox {
            lower: vec![f64::NEG_INFINITY],
            upper: vec![best],
        }];
    }
    let last = m - 1;
    points.sort_by(|a, b| a[last].total_cmp(&b[last]));
    let mut out = Vec::new();
    // open boxes of the (m-1)-dimensional slice, keyed by their bits, with the level they opened at
    let mut open: HashMap<Vec<u64>, (HvBox, f64)> = HashMap::new();
    let key = |b: &HvBox| -> Vec<u64> {
        b.lower
            .iter()
            .chain(&b.upper)
            .map(|v| v.to_bits())
            .collect()
    };
    let mut level = f64::NEG_INFINITY;
    let mut k = 0;
    loop {
        // slice above `level`: dominated by the first k points
        let sub = rec(
            points[..k].iter().map(|p| &p[..last]).collect(),
            &reference[..last],
        );
        let mut next: HashMap<Vec<u64>, (HvBox, f64)> = HashMap::with_capacity(sub.len());
        for b in sub {
            let kb = key(&b);
            let entry = open.remove(&kb).unwrap_or((b, level));
            next.insert(kb, entry);
        }
        for (_, (b, start)) in open.drain() {
            close(&mut out, b, start, level);
        }
        open = next;
        if k == points.len() {
            break;
        }
        level = points[k][last];
        k += 1;
        // points at the same level enter together
        while k < points.len() && points[k][last] == level {
            k += 1;
        }
    }
    for (_, (b, start)) in open.drain() {
        close(&mut out, b, start, reference[last]);
    }
    // HashMap order is not deterministic; callers sum over boxes, so fix the order for
    // bit-reproducible sums.
    out.sort_by(|a, b| {
        a.lower
            .iter()
            .chain(&a.upper)
            .zip(b.lower.iter().chain(&b.upper))
            .map(|(x, y)| x.total_cmp(y))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    out
}

fn close(out: &mut Vec<HvBox>, mut b: HvBox, start: f64, end: f64) {
    if end > start && b.lower.iter().zip(&b.upper).all(|(l, u)| u > l) {
        b.lower.push(start);
        b.upper.push(end);
        out.push(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pareto::hypervolume;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Volume of the non-dominated region, with -inf clipped at `floor`.
    fn volume(boxes: &[HvBox], floor: f64) -> f64 {
        boxes
            .iter()
            .map(|b| {
                b.lower
                    .iter()
                    .zip(&b.upper)
                    .map(|(l, u)| u - l.max(floor))
                    .product::<f64>()
            })
            .sum()
    }

    #[test]
    fn complement_of_hypervolume() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for m in 2..=4 {
            for n in 0..12 {
                let pts: Vec<Vec<f64>> = (0..n)
                    .map(|_| (0..m).map(|_| rng.gen_range(0.0..1.1)).collect())
                    .collect();
                let r = vec![1.0; m];
                let boxes = nondominated_boxes(&pts, &r);
                let total = 1.0; // the box [0, 1]^m
                let v = volume(&boxes, 0.0);
                let hv = hypervolume(&pts, &r);
                assert!((v + hv - total).abs() < 1e-12, "m={m} n={n}: {v} + {hv}");
                // disjoint and not dominated: a random point lies in at most one box, and in
                // one exactly when no front point dominates it
                for _ in 0..200 {
                    let z: Vec<f64> = (0..m).map(|_| rng.gen_range(0.0..1.0)).collect();
                    let hits = boxes
                        .iter()
                        .filter(|b| (0..m).all(|i| z[i] > b.lower[i] && z[i] < b.upper[i]))
                        .count();
                    let dominated = pts.iter().any(|p| p.iter().zip(&z).all(|(a, b)| a <= b));
                    assert_eq!(hits, usize::from(!dominated));
                }
            }
        }
    }
}
