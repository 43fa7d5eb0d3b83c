//! A single-precision GEMM whose right operand is packed by the caller, so that a
//! convolution writes its im2col values straight into the micro-kernel's panels instead of
//! building a column matrix that a general GEMM then copies into panels again (about a fifth of
//! a ResNet-20 training step went to that second copy, issue 15).
//!
//! `C = A · B` with `A` (`M x K`) packed once by [`PackedA::new`] into panels of
//! [`Level::mr`] rows, and `B` (`K x N`) produced panel by panel by a callback: a panel is
//! [`Level::nr`] consecutive columns, `K` deep, stored row after row (`panel[k * nr + j]`).
//! Every output tile is one call of a register-blocked micro-kernel over the whole depth `K`.
//!
//! **Determinism.** Every output element is `fma(a[i][K-1], b[K-1][j], ... fma(a[i][0],
//! b[0][j], 0))`, the fused multiply-adds in increasing `k`, then the optional old value and
//! bias added in that order. `K` is never split, and nothing depends on threads. Fused
//! multiply-add is exactly rounded, so the scalar reference ([`f32::mul_add`]), AVX2 and
//! AVX-512 kernels give the same bits, and the tests demand equality.
//!
//! **Why here and not in `shift-kernels-cpu`.** That crate holds the integer shift kernels and
//! has `shift-nn` as a dev-dependency (its tests compare against `shift-nn`'s ops); making
//! `shift-nn` depend on it would close a dependency cycle, build the kernel crate twice in
//! its own tests, and tie the float training path to the integer inference crate. The level
//! choice follows that crate's: the best instruction set the CPU has, capped by the same
//! environment variable `SHIFT_KERNELS_MAX_LEVEL`. AArch64 (and any other target) runs the
//! portable kernel, which the compiler turns into native fused multiply-adds there.

mod kernel;
mod pack;

pub(crate) use pack::transpose_into;

use std::sync::OnceLock;

use super::gemm::Mat;

/// The environment variable that caps the kernel level, shared with `shift-kernels-cpu`.
const MAX_LEVEL_ENV: &str = "SHIFT_KERNELS_MAX_LEVEL";

/// Instruction-set level of the micro-kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    /// Portable Rust with [`f32::mul_add`], 4 x 8 tiles.
    Scalar,
    /// x86-64 AVX2 + FMA, 6 x 16 tiles (twelve of the sixteen registers accumulate).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    Avx2,
    /// x86-64 AVX-512F, 8 x 32 tiles (sixteen of the thirty-two registers accumulate).
    #[cfg_attr(not(all(target_arch = "x86_64", shift_avx512)), allow(dead_code))]
    Avx512,
}

impl Level {
    /// Rows of a tile (of a panel of packed `A`).
    pub fn mr(self) -> usize {
        match self {
            Level::Scalar => 4,
            Level::Avx2 => 6,
            Level::Avx512 => 8,
        }
    }

    /// Columns of a tile (of a panel of `B`).
    pub fn nr(self) -> usize {
        match self {
            Level::Scalar => 8,
            Level::Avx2 => 16,
            Level::Avx512 => 32,
        }
    }

    /// Whether this CPU runs the level.
    fn is_supported(self) -> bool {
        match self {
            Level::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(all(target_arch = "x86_64", shift_avx512))]
            Level::Avx512 => is_x86_feature_detected!("avx512f"),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// The levels this CPU runs, portable first (what the tests iterate over).
    pub fn available() -> Vec<Level> {
        [Level::Scalar, Level::Avx2, Level::Avx512]
            .into_iter()
            .filter(|l| l.is_supported())
            .collect()
    }

    /// The best level of this CPU, capped by `SHIFT_KERNELS_MAX_LEVEL` (`scalar`, `avx2`;
    /// `neon` and unknown values mean no x86 kernel), read once per process.
    pub fn detect() -> Level {
        static LEVEL: OnceLock<Level> = OnceLock::new();
        *LEVEL.get_or_init(|| {
            let cap = match std::env::var(MAX_LEVEL_ENV).as_deref() {
                Ok("scalar") | Ok("neon") => Level::Scalar,
                Ok("avx2") => Level::Avx2,
                _ => Level::Avx512,
            };
            Level::available()
                .into_iter()
                .filter(|l| *l <= cap)
                .max()
                .unwrap_or(Level::Scalar)
        })
    }
}

/// `A` (`M x K`) in panels of `mr` rows: panel `p`, element `(p*mr + r, k)` at
/// `data[(p*K + k)*mr + r]`, rows past `M` zero.
pub(crate) struct PackedA {
    level: Level,
    m: usize,
    k: usize,
    data: Vec<f32>,
}

impl PackedA {
    /// Packs the matrix view `a` for `level`.
    ///
    /// # Panics
    /// If the view reaches outside its slice, or this CPU does not run `level`.
    pub fn new(level: Level, a: &[f32], am: Mat) -> PackedA {
        let at = |i: usize, kk: usize| {
            a[(am.offset as isize + i as isize * am.rs + kk as isize * am.cs) as usize]
        };
        PackedA::with(level, am.rows, am.cols, at)
    }

    /// Packs the `m x k` matrix whose element `(i, k)` is `at(i, k)` for `level`.
    ///
    /// # Panics
    /// If this CPU does not run `level`.
    pub fn with(level: Level, m: usize, k: usize, at: impl Fn(usize, usize) -> f32) -> PackedA {
        assert!(
            level.is_supported(),
            "gemm level {level:?} not supported here"
        );
        let mr = level.mr();
        let mut data = vec![0.0f32; m.div_ceil(mr) * mr * k];
        for (p, panel) in data.chunks_exact_mut((mr * k).max(1)).enumerate() {
            for r in 0..mr.min(m - p * mr) {
                for kk in 0..k {
                    panel[kk * mr + r] = at(p * mr + r, kk);
                }
            }
        }
        PackedA { level, m, k, data }
    }
}

/// Where `C`'s elements live: `(i, j)` at `(j / group)*group_stride + i*ldc + j % group`.
/// Columns come in groups of `group` (a convolution's output pixels of one image), each group
/// a row-major block; a plain row-major matrix is one group as wide as `N`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OutLayout {
    /// Columns per group.
    pub group: usize,
    /// Distance between rows.
    pub ldc: usize,
    /// Distance between groups.
    pub group_stride: usize,
}

impl OutLayout {
    /// A row-major `rows x cols` matrix with rows `ldc` apart.
    pub fn rows(cols: usize, ldc: usize) -> OutLayout {
        OutLayout {
            group: cols.max(1),
            ldc,
            group_stride: 0,
        }
    }

    fn at(&self, i: usize, j: usize) -> usize {
        (j / self.group) * self.group_stride + i * self.ldc + j % self.group
    }
}

/// How the computed `acc` reaches `C`: `c = acc`, or `c = c + acc` with `accumulate`; then
/// `+ bias[i]` when a bias is given.
#[derive(Clone, Copy)]
pub(crate) struct Store<'a> {
    /// Add onto `C`'s old values instead of overwriting them.
    pub accumulate: bool,
    /// A value per row of `C` added last.
    pub bias: Option<&'a [f32]>,
}

/// `C = A · B` (see [`Store`]) with `B` (`a.depth() x n`) written panel by panel by
/// `pack_b(j0, width, panel)`: it must write `panel[k * nr + j]` = `B[k][j0 + j]` for every
/// `k < K` and `j < width` (`nr` = `a`'s level's [`Level::nr`]); the other columns are zero
/// already. `panel` is a reusable buffer.
///
/// # Panics
/// If `C` with `layout` reaches outside `c`, or the bias is shorter than `A`'s rows.
pub(crate) fn gemm(
    a: &PackedA,
    n: usize,
    mut pack_b: impl FnMut(usize, usize, &mut [f32]),
    c: &mut [f32],
    layout: OutLayout,
    store: Store<'_>,
    panel: &mut Vec<f32>,
) {
    let (m, k, level) = (a.m, a.k, a.level);
    let (mr, nr) = (level.mr(), level.nr());
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        layout.at(m - 1, n - 1) < c.len(),
        "gemm output outside its slice"
    );
    assert!(
        (0..n.min(layout.group)).all(|j| layout.at(m - 1, n - 1 - j) < c.len()),
        "gemm output outside its slice"
    );
    if let Some(b) = store.bias {
        assert!(b.len() >= m, "gemm bias shorter than the rows");
    }
    if panel.len() < k * nr {
        panel.resize(k * nr, 0.0);
    }
    let panel = &mut panel[..k * nr];
    let mut tile = vec![0.0f32; mr * nr];
    let mut j0 = 0;
    while j0 < n {
        let w = nr.min(n - j0);
        if w < nr {
            panel.fill(0.0);
        }
        pack_b(j0, w, panel);
        // The block is stored in place when it is full width and inside one group.
        let in_place = w == nr && j0 / layout.group == (j0 + nr - 1) / layout.group;
        for p in 0..m.div_ceil(mr) {
            let (i0, h) = (p * mr, mr.min(m - p * mr));
            let a_panel = &a.data[p * mr * k..][..mr * k];
            let bias = store.bias.map(|b| &b[i0..i0 + h]);
            if in_place {
                let base = layout.at(i0, j0);
                // SAFETY: the tile's rows `i0..i0+h` and columns `j0..j0+nr` are inside
                // `C` (rows below `m`, columns below `n`, one group, all checked above to lie
                // in `c`), the panels hold `mr*k` and `k*nr` elements, and `a`'s level runs
                // on this CPU (`PackedA::new` checks it).
                unsafe {
                    kernel::run(
                        level,
                        k,
                        a_panel,
                        panel,
                        c.as_mut_ptr().add(base),
                        (h, layout.ldc),
                        store.accumulate,
                        bias,
                    )
                };
            } else {
                // SAFETY: as above, with the local `mr x nr` tile as the output.
                unsafe {
                    kernel::run(
                        level,
                        k,
                        a_panel,
                        panel,
                        tile.as_mut_ptr(),
                        (mr, nr),
                        false,
                        None,
                    )
                };
                for r in 0..h {
                    for j in 0..w {
                        let at = layout.at(i0 + r, j0 + j);
                        let mut v = tile[r * nr + j];
                        if store.accumulate {
                            v += c[at];
                        }
                        if let Some(b) = bias {
                            v += b[r];
                        }
                        c[at] = v;
                    }
                }
            }
        }
        j0 += w;
    }
}

#[cfg(test)]
mod tests;
