//! The micro-kernels: one `mr x nr` tile of `C` from an `mr`-row panel of `A` and an
//! `nr`-column panel of `B`, over the whole depth. All levels perform the same fused
//! multiply-adds in the same order (see the module above), so they agree bit for bit.

use super::Level;

/// Computes one tile: `acc[r][j] = sum_k a[k*mr + r] * b[k*nr + j]` as a chain of fused
/// multiply-adds in increasing `k` from zero, then stores the first `rows` rows:
/// `c[r*ldc + j] = acc` (or `c + acc` with `accumulate`), plus `bias[r]` when given.
///
/// # Safety
/// `level` must run on this CPU; `a` and `b` must hold at least `k*mr` and `k*nr` elements
/// (`mr`, `nr` of `level`); `rows <= mr`; `c` must address a writable `rows x nr` tile with
/// rows `ldc` apart, readable too with `accumulate`; `bias` must hold `rows` values when given.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn run(
    level: Level,
    k: usize,
    a: &[f32],
    b: &[f32],
    c: *mut f32,
    (rows, ldc): (usize, usize),
    accumulate: bool,
    bias: Option<&[f32]>,
) {
    debug_assert!(a.len() >= k * level.mr() && b.len() >= k * level.nr() && rows <= level.mr());
    // SAFETY: forwarded from this function's contract.
    unsafe {
        match level {
            #[cfg(all(target_arch = "x86_64", shift_avx512))]
            Level::Avx512 => {
                x86::tile_8x32(k, a.as_ptr(), b.as_ptr(), c, (rows, ldc), accumulate, bias)
            }
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => {
                x86::tile_6x16(k, a.as_ptr(), b.as_ptr(), c, (rows, ldc), accumulate, bias)
            }
            _ => scalar_tile::<4, 8>(k, a, b, c, (rows, ldc), accumulate, bias),
        }
    }
}

/// The portable kernel, `MR x NR`; the reference the vector kernels are tested against.
///
/// # Safety
/// As [`run`].
unsafe fn scalar_tile<const MR: usize, const NR: usize>(
    k: usize,
    a: &[f32],
    b: &[f32],
    c: *mut f32,
    (rows, ldc): (usize, usize),
    accumulate: bool,
    bias: Option<&[f32]>,
) {
    let mut acc = [[0.0f32; NR]; MR];
    for (av, bv) in a.chunks_exact(MR).zip(b.chunks_exact(NR)).take(k) {
        for r in 0..MR {
            for j in 0..NR {
                acc[r][j] = av[r].mul_add(bv[j], acc[r][j]);
            }
        }
    }
    for (r, row) in acc.iter().enumerate().take(rows) {
        for (j, &v) in row.iter().enumerate() {
            // SAFETY: inside the tile, by the contract.
            let dst = unsafe { c.add(r * ldc + j) };
            // SAFETY: as above.
            let mut v = if accumulate { (unsafe { *dst }) + v } else { v };
            if let Some(b) = bias {
                v += b[r];
            }
            // SAFETY: as above.
            unsafe { *dst = v };
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// The AVX-512F kernel: 8 rows x 32 columns in sixteen `zmm` accumulators; per `k` two
    /// loads of `B` and eight broadcasts of `A` feed sixteen fused multiply-adds.
    ///
    /// Compiled only by Rust 1.89 and later (`cfg(shift_avx512)`, set by the build script),
    /// where these intrinsics are stable; hence the MSRV lint is silenced here alone. (The
    /// compiler cannot be trusted to write it from portable code: it vectorised the portable
    /// kernel across `k` with gathers and scatters.)
    ///
    /// # Safety
    /// As [`super::run`] at [`super::Level::Avx512`].
    #[cfg(shift_avx512)]
    #[allow(clippy::incompatible_msrv)]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn tile_8x32(
        k: usize,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        (rows, ldc): (usize, usize),
        accumulate: bool,
        bias: Option<&[f32]>,
    ) {
        const MR: usize = 8;
        let mut lo = [_mm512_setzero_ps(); MR];
        let mut hi = [_mm512_setzero_ps(); MR];
        for kk in 0..k {
            // SAFETY: `k*32` elements of `b` and `k*8` of `a` are readable (contract).
            unsafe {
                let b0 = _mm512_loadu_ps(b.add(kk * 32));
                let b1 = _mm512_loadu_ps(b.add(kk * 32 + 16));
                let ak = a.add(kk * MR);
                for r in 0..MR {
                    let av = _mm512_set1_ps(*ak.add(r));
                    lo[r] = _mm512_fmadd_ps(av, b0, lo[r]);
                    hi[r] = _mm512_fmadd_ps(av, b1, hi[r]);
                }
            }
        }
        for r in 0..rows.min(MR) {
            // SAFETY: the tile's row `r` (32 elements) is inside `c` (contract).
            unsafe {
                let row = c.add(r * ldc);
                let (mut v0, mut v1) = (lo[r], hi[r]);
                if accumulate {
                    v0 = _mm512_add_ps(_mm512_loadu_ps(row), v0);
                    v1 = _mm512_add_ps(_mm512_loadu_ps(row.add(16)), v1);
                }
                if let Some(bias) = bias {
                    let bv = _mm512_set1_ps(bias[r]);
                    v0 = _mm512_add_ps(v0, bv);
                    v1 = _mm512_add_ps(v1, bv);
                }
                _mm512_storeu_ps(row, v0);
                _mm512_storeu_ps(row.add(16), v1);
            }
        }
    }

    /// The AVX2 kernel: 6 rows x 16 columns in twelve `ymm` accumulators (with the two `B`
    /// vectors and one broadcast, fifteen of the sixteen registers).
    ///
    /// # Safety
    /// As [`super::run`] at [`super::Level::Avx2`].
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn tile_6x16(
        k: usize,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        (rows, ldc): (usize, usize),
        accumulate: bool,
        bias: Option<&[f32]>,
    ) {
        const MR: usize = 6;
        let mut lo = [_mm256_setzero_ps(); MR];
        let mut hi = [_mm256_setzero_ps(); MR];
        for kk in 0..k {
            // SAFETY: `k*16` elements of `b` and `k*6` of `a` are readable (contract).
            unsafe {
                let b0 = _mm256_loadu_ps(b.add(kk * 16));
                let b1 = _mm256_loadu_ps(b.add(kk * 16 + 8));
                let ak = a.add(kk * MR);
                for r in 0..MR {
                    let av = _mm256_broadcast_ss(&*ak.add(r));
                    lo[r] = _mm256_fmadd_ps(av, b0, lo[r]);
                    hi[r] = _mm256_fmadd_ps(av, b1, hi[r]);
                }
            }
        }
        for r in 0..rows.min(MR) {
            // SAFETY: the tile's row `r` (16 elements) is inside `c` (contract).
            unsafe {
                let row = c.add(r * ldc);
                let (mut v0, mut v1) = (lo[r], hi[r]);
                if accumulate {
                    v0 = _mm256_add_ps(_mm256_loadu_ps(row), v0);
                    v1 = _mm256_add_ps(_mm256_loadu_ps(row.add(8)), v1);
                }
                if let Some(bias) = bias {
                    let bv = _mm256_set1_ps(bias[r]);
                    v0 = _mm256_add_ps(v0, bv);
                    v1 = _mm256_add_ps(v1, bv);
                }
                _mm256_storeu_ps(row, v0);
                _mm256_storeu_ps(row.add(8), v1);
            }
        }
    }
}
