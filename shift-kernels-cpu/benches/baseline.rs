//! The float baselines the kernel benchmarks compare against (shared with `deepshift bench
//! kernels`, which includes this file): a hand-written AVX-512 f32 GEMV (matrixmultiply
//! repacks its operands on every call, which is no fair baseline at batch 1).

/// `y = W x` for a row-major `[rows, cols]` f32 matrix: AVX-512 FMA with four accumulators
/// per row where the CPU has it, a plain loop otherwise.
pub fn sgemv(w: &[f32], rows: usize, cols: usize, x: &[f32], y: &mut [f32]) {
    assert_eq!(w.len(), rows * cols);
    assert_eq!(x.len(), cols);
    assert_eq!(y.len(), rows);
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx512f") {
        // SAFETY: the feature was detected; lengths were checked.
        unsafe { sgemv_avx512(w, cols, x, y) };
        return;
    }
    for (row, out) in w.chunks_exact(cols).zip(y.iter_mut()) {
        *out = row.iter().zip(x).map(|(a, b)| a * b).sum();
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
// AVX-512 intrinsics are stable from Rust 1.89, the MSRV of shift-kernels-cpu (which every
// includer of this file depends on), above the workspace's 1.85.
#[allow(clippy::incompatible_msrv)]
unsafe fn sgemv_avx512(w: &[f32], cols: usize, x: &[f32], y: &mut [f32]) {
    use std::arch::x86_64::*;
    let xp = x.as_ptr();
    for (row, out) in w.chunks_exact(cols).zip(y.iter_mut()) {
        let wp = row.as_ptr();
        let mut acc = [_mm512_setzero_ps(); 4];
        let mut k = 0;
        while k + 64 <= cols {
            for (i, a) in acc.iter_mut().enumerate() {
                // SAFETY: k + 64 <= cols.
                unsafe {
                    let wv = _mm512_loadu_ps(wp.add(k + 16 * i));
                    let xv = _mm512_loadu_ps(xp.add(k + 16 * i));
                    *a = _mm512_fmadd_ps(wv, xv, *a);
                }
            }
            k += 64;
        }
        let s = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
        let mut sum = _mm512_reduce_add_ps(s);
        while k < cols {
            sum += row[k] * x[k];
            k += 1;
        }
        *out = sum;
    }
}
