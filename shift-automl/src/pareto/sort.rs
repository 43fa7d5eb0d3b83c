//! Dominance, non-dominated sorting and crowding distance (Deb et al., NSGA-II).

/// True when `a` Pareto-dominates `b` (minimisation): no worse in every objective and strictly
/// better in at least one. Vectors of different lengths never dominate each other.
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut strictly = false;
    for (x, y) in a.iter().zip(b) {
        if x > y {
            return false;
        }
        if x < y {
            strictly = true;
        }
    }
    strictly
}

/// Indices of the points that no other point dominates, in input order. Points with a NaN
/// objective are never in the front (NaN compares false, so they must be excluded explicitly).
pub fn nondominated_front(points: &[Vec<f64>]) -> Vec<usize> {
    let ok = |p: &Vec<f64>| p.iter().all(|v| !v.is_nan());
    (0..points.len())
        .filter(|&i| ok(&points[i]))
        .filter(|&i| !points.iter().any(|q| ok(q) && dominates(q, &points[i])))
        .collect()
}

/// Fronts of the fast non-dominated sort: `fronts[0]` is the Pareto front, `fronts[1]` the front
/// once the first is removed, and so on; each holds indices in input order. Points with a NaN
/// objective form the last front.
pub fn nondominated_sort(points: &[Vec<f64>]) -> Vec<Vec<usize>> {
    let n = points.len();
    let bad: Vec<bool> = points
        .iter()
        .map(|p| p.iter().any(|v| v.is_nan()))
        .collect();
    let mut dominated_by = vec![0usize; n];
    let mut dominating: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n {
        if bad[i] {
            continue;
        }
        for j in (i + 1)..n {
            if bad[j] {
                continue;
            }
            if dominates(&points[i], &points[j]) {
                dominating[i].push(j);
                dominated_by[j] += 1;
            } else if dominates(&points[j], &points[i]) {
                dominating[j].push(i);
                dominated_by[i] += 1;
            }
        }
    }
    let mut fronts = Vec::new();
    let mut current: Vec<usize> = (0..n)
        .filter(|&i| !bad[i] && dominated_by[i] == 0)
        .collect();
    while !current.is_empty() {
        let mut next = Vec::new();
        for &i in &current {
            for &j in &dominating[i] {
                dominated_by[j] -= 1;
                if dominated_by[j] == 0 {
                    next.push(j);
                }
            }
        }
        next.sort_unstable();
        fronts.push(std::mem::take(&mut current));
        current = next;
    }
    let last: Vec<usize> = (0..n).filter(|&i| bad[i]).collect();
    if !last.is_empty() {
        fronts.push(last);
    }
    fronts
}

/// Crowding distance of each point of one front (NSGA-II): the sum over objectives of the
/// normalised gap between its two neighbours; the extremes of every objective get infinity, so
/// that promotion by crowding keeps the ends of the front.
pub fn crowding_distance(points: &[Vec<f64>]) -> Vec<f64> {
    let n = points.len();
    let mut dist = vec![0.0; n];
    if n <= 2 {
        return vec![f64::INFINITY; n];
    }
    let m = points[0].len();
    let mut order: Vec<usize> = (0..n).collect();
    #[allow(clippy::needless_range_loop)] // k indexes an objective of every point
    for k in 0..m {
        order.sort_by(|&a, &b| points[a][k].total_cmp(&points[b][k]).then(a.cmp(&b)));
        let lo = points[order[0]][k];
        let hi = points[order[n - 1]][k];
        dist[order[0]] = f64::INFINITY;
        dist[order[n - 1]] = f64::INFINITY;
        let span = hi - lo;
        if span.is_nan() || span <= 0.0 {
            continue;
        }
        for w in 1..n - 1 {
            let gap = points[order[w + 1]][k] - points[order[w - 1]][k];
            dist[order[w]] += gap / span;
        }
    }
    dist
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_hand_case() {
        let p = vec![
            vec![1.0, 4.0],
            vec![2.0, 2.0],
            vec![4.0, 1.0],
            vec![3.0, 3.0],
            vec![5.0, 5.0],
            vec![2.0, 2.0],
        ];
        let fronts = nondominated_sort(&p);
        assert_eq!(fronts, vec![vec![0, 1, 2, 5], vec![3], vec![4]]);
        assert_eq!(nondominated_front(&p), vec![0, 1, 2, 5]);
        assert!(dominates(&p[1], &p[3]));
        assert!(!dominates(&p[1], &p[5]));
    }

    #[test]
    fn nan_points_go_last() {
        let p = vec![vec![f64::NAN, 0.0], vec![1.0, 1.0]];
        assert_eq!(nondominated_sort(&p), vec![vec![1], vec![0]]);
        assert_eq!(nondominated_front(&p), vec![1]);
    }

    #[test]
    fn crowding_hand_case() {
        let p = vec![
            vec![0.0, 4.0],
            vec![1.0, 2.0],
            vec![2.0, 1.0],
            vec![4.0, 0.0],
        ];
        let d = crowding_distance(&p);
        assert!(d[0].is_infinite() && d[3].is_infinite());
        // point 1: (2-0)/4 + (4-1)/4 = 1.25; point 2: (4-1)/4 + (2-0)/4 = 1.25
        assert!((d[1] - 1.25).abs() < 1e-12);
        assert!((d[2] - 1.25).abs() < 1e-12);
        let p = vec![
            vec![0.0, 4.0],
            vec![3.0, 1.0],
            vec![3.5, 0.5],
            vec![4.0, 0.0],
        ];
        let d = crowding_distance(&p);
        assert!(d[1] > d[2]);
    }
}
