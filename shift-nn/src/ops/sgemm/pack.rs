//! Panel writing helpers for the callers of [`super::gemm`]: a transpose of a small
//! row-major block into panel rows, for operands whose natural rows run along the GEMM's depth
//! (the weight gradient's column matrix, whose rows run along the pixels it sums over).

use super::Level;

/// Writes the transpose of the `rows x cols` block `src` (row `r` at `src[r * stride..]`)
/// into `dst`: `dst[c * nr + r] = src[r * stride + c]`. `rows` must be a multiple of 8 and at
/// most `nr`; the result is the same at every level.
///
/// # Panics
/// If a slice is too short for the block, or `rows` is not a multiple of 8 or exceeds `nr`.
pub(crate) fn transpose_into(
    level: Level,
    src: &[f32],
    (rows, cols, stride): (usize, usize, usize),
    dst: &mut [f32],
    nr: usize,
) {
    assert!(
        rows % 8 == 0 && rows <= nr,
        "transpose of {rows} rows into panels of {nr}"
    );
    if rows == 0 || cols == 0 {
        return;
    }
    assert!((rows - 1) * stride + cols <= src.len() && (cols - 1) * nr + rows <= dst.len());
    // Columns done in 8 x 8 blocks; the rest one by one.
    #[cfg(target_arch = "x86_64")]
    let c0 = if level >= Level::Avx2 && is_x86_feature_detected!("avx2") {
        let full = cols / 8 * 8;
        // SAFETY: the CPU runs AVX2 (checked); the blocks read rows `< rows` and columns
        // `< full <= cols` of `src` and write elements `< rows` of rows `< full` of `dst`,
        // inside the slices (asserted above).
        unsafe { x86::transpose_8x8_blocks(src, (rows, full, stride), dst, nr) };
        full
    } else {
        0
    };
    #[cfg(not(target_arch = "x86_64"))]
    let c0 = {
        let _ = level;
        0
    };
    for c in c0..cols {
        let out = &mut dst[c * nr..][..rows];
        for (r, o) in out.iter_mut().enumerate() {
            *o = src[r * stride + c];
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// The 8 x 8 blocks of [`super::transpose_into`] for columns `0..cols` (a multiple of 8),
    /// each in eight loads, twenty-four shuffles and eight stores.
    ///
    /// # Safety
    /// The CPU must run AVX2; `src` must hold rows `0..rows` of `cols` elements `stride`
    /// apart and `dst` rows `0..cols` of `rows` elements `nr` apart.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn transpose_8x8_blocks(
        src: &[f32],
        (rows, cols, stride): (usize, usize, usize),
        dst: &mut [f32],
        nr: usize,
    ) {
        let (s, d) = (src.as_ptr(), dst.as_mut_ptr());
        for r0 in (0..rows).step_by(8) {
            for c0 in (0..cols).step_by(8) {
                // SAFETY: rows r0..r0+8 < rows, columns c0..c0+8 <= cols (contract).
                unsafe {
                    let ld = |r: usize| _mm256_loadu_ps(s.add((r0 + r) * stride + c0));
                    let (a0, a1, a2, a3) = (ld(0), ld(1), ld(2), ld(3));
                    let (a4, a5, a6, a7) = (ld(4), ld(5), ld(6), ld(7));
                    let t0 = _mm256_unpacklo_ps(a0, a1);
                    let t1 = _mm256_unpackhi_ps(a0, a1);
                    let t2 = _mm256_unpacklo_ps(a2, a3);
                    let t3 = _mm256_unpackhi_ps(a2, a3);
                    let t4 = _mm256_unpacklo_ps(a4, a5);
                    let t5 = _mm256_unpackhi_ps(a4, a5);
                    let t6 = _mm256_unpacklo_ps(a6, a7);
                    let t7 = _mm256_unpackhi_ps(a6, a7);
                    let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
                    let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
                    let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
                    let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
                    let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
                    let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
                    let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
                    let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
                    let st = |c: usize, v: __m256| _mm256_storeu_ps(d.add((c0 + c) * nr + r0), v);
                    st(0, _mm256_permute2f128_ps::<0x20>(u0, u4));
                    st(1, _mm256_permute2f128_ps::<0x20>(u1, u5));
                    st(2, _mm256_permute2f128_ps::<0x20>(u2, u6));
                    st(3, _mm256_permute2f128_ps::<0x20>(u3, u7));
                    st(4, _mm256_permute2f128_ps::<0x31>(u0, u4));
                    st(5, _mm256_permute2f128_ps::<0x31>(u1, u5));
                    st(6, _mm256_permute2f128_ps::<0x31>(u2, u6));
                    st(7, _mm256_permute2f128_ps::<0x31>(u3, u7));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every level writes the exact transpose, for widths with and without a tail.
    #[test]
    fn transpose_into_panels() {
        for level in Level::available() {
            for (rows, cols) in [(8, 8), (16, 32), (32, 7), (8, 1), (24, 19)] {
                let stride = cols + 3;
                let src: Vec<f32> = (0..rows * stride).map(|i| i as f32).collect();
                let nr = 32;
                let mut dst = vec![-1.0f32; cols * nr];
                transpose_into(level, &src, (rows, cols, stride), &mut dst, nr);
                for c in 0..cols {
                    for r in 0..nr {
                        let want = if r < rows { src[r * stride + c] } else { -1.0 };
                        assert_eq!(dst[c * nr + r], want, "{level:?} {rows}x{cols} ({r}, {c})");
                    }
                }
            }
        }
    }
}
