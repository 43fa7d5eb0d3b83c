//! Dense Cholesky and triangular solves on row-major `n x n` matrices: a few hundred points is
//! all a GP sampler holds, where a hand-written O(n^3) factorisation takes milliseconds.

/// Dot product with four independent accumulators, which lets the compiler vectorise it (a
/// single running sum is a serial dependency chain without reassociation).
#[inline]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 4];
    let ca = a.chunks_exact(4);
    let cb = b.chunks_exact(4);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        acc[0] += x[0] * y[0];
        acc[1] += x[1] * y[1];
        acc[2] += x[2] * y[2];
        acc[3] += x[3] * y[3];
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// Lower Cholesky factor of a symmetric positive definite matrix (row-major), or `None` when a
/// pivot is not positive (the caller adds jitter and retries).
pub fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for j in 0..n {
        let row_j = j * n;
        let d = a[row_j + j] - dot(&l[row_j..row_j + j], &l[row_j..row_j + j]);
        if d.is_nan() || d <= 0.0 || !d.is_finite() {
            return None;
        }
        let djj = d.sqrt();
        l[row_j + j] = djj;
        for i in (j + 1)..n {
            let row_i = i * n;
            let s = a[row_i + j] - dot(&l[row_i..row_i + j], &l[row_j..row_j + j]);
            l[row_i + j] = s / djj;
        }
    }
    Some(l)
}

/// Solves `L y = b` in place.
pub fn solve_lower(l: &[f64], n: usize, b: &mut [f64]) {
    for i in 0..n {
        let s = b[i] - dot(&l[i * n..i * n + i], &b[..i]);
        b[i] = s / l[i * n + i];
    }
}

/// Solves `L^T x = b` in place.
pub fn solve_upper_t(l: &[f64], n: usize, b: &mut [f64]) {
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in (i + 1)..n {
            s -= l[k * n + i] * b[k];
        }
        b[i] = s / l[i * n + i];
    }
}

/// `A^{-1}` from the Cholesky factor of `A` (row-major, symmetric).
pub fn inverse_from_cholesky(l: &[f64], n: usize) -> Vec<f64> {
    // Row j of `cols` is column j of L^{-1} (zero above j), so that both loops below read
    // contiguous memory; then A^{-1}[i][j] = sum_{k >= i} L^{-1}[k][i] L^{-1}[k][j] for j <= i.
    let mut cols = vec![0.0; n * n];
    for j in 0..n {
        let e = &mut cols[j * n..(j + 1) * n];
        e[j] = 1.0 / l[j * n + j];
        for i in (j + 1)..n {
            let s = -dot(&l[i * n + j..i * n + i], &e[j..i]);
            e[i] = s / l[i * n + i];
        }
    }
    let mut inv = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s = dot(&cols[i * n + i..(i + 1) * n], &cols[j * n + i..(j + 1) * n]);
            inv[i * n + j] = s;
            inv[j * n + i] = s;
        }
    }
    inv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factor_solve_invert() {
        let a = [4.0, 2.0, 0.4, 2.0, 5.0, 1.0, 0.4, 1.0, 3.0];
        let l = cholesky(&a, 3).unwrap();
        let mut b = [1.0, 2.0, 3.0];
        solve_lower(&l, 3, &mut b);
        solve_upper_t(&l, 3, &mut b);
        for i in 0..3 {
            let ax: f64 = (0..3).map(|k| a[i * 3 + k] * b[k]).sum();
            assert!((ax - [1.0, 2.0, 3.0][i]).abs() < 1e-12);
        }
        let inv = inverse_from_cholesky(&l, 3);
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| a[i * 3 + k] * inv[k * 3 + j]).sum();
                assert!((v - f64::from(i == j)).abs() < 1e-12);
            }
        }
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }
}
