//! Dense Cholesky and triangular solves on row-major `n x n` matrices: a few hundred points is
//! all a GP sampler holds, where a hand-written O(n^3) factorisation takes milliseconds.

/// Lower Cholesky factor of a symmetric positive definite matrix (row-major), or `None` when a
/// pivot is not positive (the caller adds jitter and retries).
pub fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for j in 0..n {
        let row_j = j * n;
        let mut d = a[row_j + j];
        for k in 0..j {
            d -= l[row_j + k] * l[row_j + k];
        }
        if !(d > 0.0) || !d.is_finite() {
            return None;
        }
        let djj = d.sqrt();
        l[row_j + j] = djj;
        for i in (j + 1)..n {
            let row_i = i * n;
            let mut s = a[row_i + j];
            let (li, lj) = (&l[row_i..row_i + j], &l[row_j..row_j + j]);
            for k in 0..j {
                s -= li[k] * lj[k];
            }
            l[row_i + j] = s / djj;
        }
    }
    Some(l)
}

/// Solves `L y = b` in place.
pub fn solve_lower(l: &[f64], n: usize, b: &mut [f64]) {
    for i in 0..n {
        let row = &l[i * n..i * n + i];
        let mut s = b[i];
        for (k, lk) in row.iter().enumerate() {
            s -= lk * b[k];
        }
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
    // L^{-1} column by column, then A^{-1} = L^{-T} L^{-1}.
    let mut linv = vec![0.0; n * n];
    for j in 0..n {
        let mut e = vec![0.0; n];
        e[j] = 1.0;
        for i in j..n {
            let mut s = e[i];
            for k in j..i {
                s -= l[i * n + k] * e[k];
            }
            e[i] = s / l[i * n + i];
        }
        for i in j..n {
            linv[i * n + j] = e[i];
        }
    }
    let mut inv = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            // sum over k >= max(i, j) = i of Linv[k][i] * Linv[k][j]
            let mut s = 0.0;
            for k in i..n {
                s += linv[k * n + i] * linv[k * n + j];
            }
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
