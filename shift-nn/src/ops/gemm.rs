//! Strided single-precision GEMM over slices, checked, on matrixmultiply.

/// A matrix view into a slice: `rows x cols`, element `(i, j)` at `offset + i*rs + j*cs`.
#[derive(Clone, Copy)]
pub(crate) struct Mat {
    pub rows: usize,
    pub cols: usize,
    pub rs: isize,
    pub cs: isize,
    pub offset: usize,
}

impl Mat {
    /// Row-major `rows x cols`.
    pub fn rm(rows: usize, cols: usize) -> Mat {
        Mat {
            rows,
            cols,
            rs: cols as isize,
            cs: 1,
            offset: 0,
        }
    }

    /// The transpose (a view, no copy).
    pub fn t(self) -> Mat {
        Mat {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            offset: self.offset,
        }
    }

    /// Shifts the view by `offset` elements.
    pub fn at(self, offset: usize) -> Mat {
        Mat {
            offset: self.offset + offset,
            ..self
        }
    }

    fn max_index(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            return self.offset;
        }
        self.offset
            + (self.rows as isize - 1).unsigned_abs() * self.rs.unsigned_abs()
            + (self.cols as isize - 1).unsigned_abs() * self.cs.unsigned_abs()
    }
}

/// `c = alpha * a · b + beta * c`.
///
/// # Panics
/// If the shapes disagree or a view reaches outside its slice.
pub(crate) fn sgemm(
    alpha: f32,
    a: (&[f32], Mat),
    b: (&[f32], Mat),
    beta: f32,
    c: (&mut [f32], Mat),
) {
    let (a, am) = a;
    let (b, bm) = b;
    let (c, cm) = c;
    assert_eq!(am.cols, bm.rows, "gemm inner dimensions");
    assert_eq!((am.rows, bm.cols), (cm.rows, cm.cols), "gemm output shape");
    if cm.rows == 0 || cm.cols == 0 {
        return;
    }
    assert!(am.max_index() < a.len().max(1) || am.cols == 0);
    assert!(bm.max_index() < b.len().max(1) || bm.rows == 0);
    assert!(cm.max_index() < c.len());
    // SAFETY: every view was checked to lie inside its slice (strides are non-negative here),
    // and `c` is borrowed mutably, so it cannot alias `a` or `b`.
    unsafe {
        raw_gemm(
            (am.rows, am.cols, bm.cols),
            alpha,
            (a.as_ptr().add(am.offset), am.rs, am.cs),
            (b.as_ptr().add(bm.offset), bm.rs, bm.cs),
            beta,
            (c.as_mut_ptr().add(cm.offset), cm.rs, cm.cs),
        );
    }
}

/// `c = alpha * a · b + beta * c` on raw strided pointers, single-threaded.
///
/// # Safety
/// Every pointer with its strides must address valid elements for the `(m, k, n)` shape, and
/// `c` must not overlap `a` or `b`.
unsafe fn raw_gemm(
    (m, k, n): (usize, usize, usize),
    alpha: f32,
    a: (*const f32, isize, isize),
    b: (*const f32, isize, isize),
    beta: f32,
    c: (*mut f32, isize, isize),
) {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        matrixmultiply::sgemm(
            m, k, n, alpha, a.0, a.1, a.2, b.0, b.1, b.2, beta, c.0, c.1, c.2,
        );
    }
}

/// Raw output pointer handed to the tasks of [`sgemm_par`], which write disjoint blocks.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: the tasks of `sgemm_par` write disjoint elements through it (see there).
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// The pointer. A method, so that closures capture the whole (`Send`) wrapper rather
    /// than its raw-pointer field.
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// [`sgemm`] with the output split into column (or row) blocks computed in parallel on the
/// rayon pool. Every output element is still one single-threaded dot product in the same
/// order, so the result equals [`sgemm`]'s bit for bit, whatever the thread count.
///
/// # Panics
/// As [`sgemm`].
pub(crate) fn sgemm_par(
    alpha: f32,
    a: (&[f32], Mat),
    b: (&[f32], Mat),
    beta: f32,
    c: (&mut [f32], Mat),
) {
    use rayon::prelude::*;
    /// Output blocks are multiples of this many rows or columns (the micro-kernels' width).
    const ALIGN: usize = 16;
    /// Below this many multiply-adds per block, splitting costs more than it gains.
    const MIN_WORK: usize = 1 << 18;
    let (a, am) = a;
    let (b, bm) = b;
    let (c, cm) = c;
    let work = am.rows * am.cols * bm.cols;
    let split_cols = cm.cols >= cm.rows;
    let len = if split_cols { cm.cols } else { cm.rows };
    // One block per thread: every block packs the shared operand again, so more blocks than
    // threads only add copies. The result does not depend on the split (see above).
    let blocks = (work / MIN_WORK)
        .clamp(1, rayon::current_num_threads())
        .min(len.div_ceil(ALIGN));
    if blocks <= 1 {
        return sgemm(alpha, (a, am), (b, bm), beta, (c, cm));
    }
    assert_eq!(am.cols, bm.rows, "gemm inner dimensions");
    assert_eq!((am.rows, bm.cols), (cm.rows, cm.cols), "gemm output shape");
    assert!(am.max_index() < a.len().max(1) || am.cols == 0);
    assert!(bm.max_index() < b.len().max(1) || bm.rows == 0);
    assert!(cm.max_index() < c.len());
    let step = len.div_ceil(blocks).div_ceil(ALIGN) * ALIGN;
    let out = OutPtr(c.as_mut_ptr());
    (0..len.div_ceil(step)).into_par_iter().for_each(|i| {
        let (start, size) = (i * step, step.min(len - i * step));
        // SAFETY: every view lies inside its slice (checked above for the whole matrices,
        // and each block is a sub-view); blocks cover disjoint output rows or columns, so no
        // two tasks write the same element, and `c` is borrowed mutably for the whole call.
        unsafe {
            if split_cols {
                raw_gemm(
                    (am.rows, am.cols, size),
                    alpha,
                    (a.as_ptr().add(am.offset), am.rs, am.cs),
                    (
                        b.as_ptr().add(bm.offset + start * bm.cs as usize),
                        bm.rs,
                        bm.cs,
                    ),
                    beta,
                    (
                        out.get().add(cm.offset + start * cm.cs as usize),
                        cm.rs,
                        cm.cs,
                    ),
                );
            } else {
                raw_gemm(
                    (size, am.cols, bm.cols),
                    alpha,
                    (
                        a.as_ptr().add(am.offset + start * am.rs as usize),
                        am.rs,
                        am.cs,
                    ),
                    (b.as_ptr().add(bm.offset), bm.rs, bm.cs),
                    beta,
                    (
                        out.get().add(cm.offset + start * cm.rs as usize),
                        cm.rs,
                        cm.cs,
                    ),
                );
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parallel split must not change a single bit, for row and column splits, strided
    /// (transposed) operands, beta != 0 and sizes that are not multiples of the block width.
    #[test]
    fn parallel_gemm_equals_serial_bit_for_bit() {
        let mut seed = 7u32;
        let mut next = move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        for (m, k, n) in [(67, 301, 533), (517, 129, 45), (3, 1000, 700)] {
            let a: Vec<f32> = (0..m * k).map(|_| next()).collect();
            let b: Vec<f32> = (0..k * n).map(|_| next()).collect();
            let c0: Vec<f32> = (0..m * n).map(|_| next()).collect();
            for transposed_b in [false, true] {
                let bm = if transposed_b {
                    Mat::rm(n, k).t()
                } else {
                    Mat::rm(k, n)
                };
                let (mut serial, mut parallel) = (c0.clone(), c0.clone());
                sgemm(
                    0.5,
                    (&a, Mat::rm(m, k)),
                    (&b, bm),
                    1.0,
                    (&mut serial, Mat::rm(m, n)),
                );
                // Four threads whatever the machine, so the output is really split.
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(4)
                    .build()
                    .unwrap();
                pool.install(|| {
                    sgemm_par(
                        0.5,
                        (&a, Mat::rm(m, k)),
                        (&b, bm),
                        1.0,
                        (&mut parallel, Mat::rm(m, n)),
                    )
                });
                assert_eq!(
                    serial, parallel,
                    "{m}x{k}x{n}, transposed b: {transposed_b}"
                );
            }
        }
    }
}
