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
        matrixmultiply::sgemm(
            am.rows,
            am.cols,
            bm.cols,
            alpha,
            a.as_ptr().add(am.offset),
            am.rs,
            am.cs,
            b.as_ptr().add(bm.offset),
            bm.rs,
            bm.cs,
            beta,
            c.as_mut_ptr().add(cm.offset),
            cm.rs,
            cm.cs,
        );
    }
}
