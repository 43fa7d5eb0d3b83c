//! Packing of fixed-point activations into column panels for the micro-kernels.
//!
//! A panel holds `NR` columns (batch entries or output pixels) of a `[K, N]` matrix as `K`
//! rows of `NR` consecutive `i32`, zero beyond the last column: the micro-kernel reads the
//! `NR` values of input `k` at offset `k << log2(NR)`.

use crate::conv::Conv2dShape;

/// Panels needed for `n` columns at width `nr`.
pub fn panels(n: usize, nr: usize) -> usize {
    n.div_ceil(nr)
}

/// Packs `x [n, k]` (row-major: one batch entry per row) as panels of its transpose
/// `[k, n]`, `nr` columns each: `out.len() == panels(n, nr) * k * nr`.
pub fn pack_rows_transposed(x: &[i32], n: usize, k: usize, nr: usize, out: &mut [i32]) {
    assert_eq!(x.len(), n * k, "pack_rows_transposed: input length");
    assert_eq!(
        out.len(),
        panels(n, nr) * k * nr,
        "pack_rows_transposed: panel length"
    );
    for (j, panel) in out.chunks_exact_mut(k * nr).enumerate() {
        let n0 = j * nr;
        let width = nr.min(n - n0);
        for (kk, dst) in panel.chunks_exact_mut(nr).enumerate() {
            for (c, d) in dst[..width].iter_mut().enumerate() {
                *d = x[(n0 + c) * k + kk];
            }
            dst[width..].fill(0);
        }
    }
}

/// im2col of one image straight into panels: `x [C, H, W]` (the channels of one group),
/// rows `(c, ky, kx)` of the column matrix, columns the output pixels, zero in the padding.
/// `out.len() == panels(OH*OW, nr) * (C*KH*KW) * nr`.
pub fn im2col_panels(x: &[i32], shape: &Conv2dShape, channels: usize, nr: usize, out: &mut [i32]) {
    let (h, w) = (shape.height, shape.width);
    let (kh, kw) = shape.kernel;
    let (oh, ow) = shape.output_size();
    let p = oh * ow;
    let k = channels * kh * kw;
    assert_eq!(x.len(), channels * h * w, "im2col_panels: input length");
    assert_eq!(
        out.len(),
        panels(p, nr) * k * nr,
        "im2col_panels: panel length"
    );
    out.fill(0);
    let g = &shape.geometry;
    let panel_stride = k * nr;
    for row in 0..k {
        let (ch, ky, kx) = (row / (kh * kw), (row / kw) % kh, row % kw);
        let plane = &x[ch * h * w..][..h * w];
        let x0 = (kx * g.dilation.1) as isize - g.padding.1 as isize;
        // Output pixel (oy, ox) goes to panel pix / nr, column pix % nr: walked incrementally
        // (`base` is the panel's row offset, `c` the column).
        let (mut base, mut c) = (row * nr, 0usize);
        for oy in 0..oh {
            let iy = (oy * g.stride.0 + ky * g.dilation.0) as isize - g.padding.0 as isize;
            let src = (iy >= 0 && (iy as usize) < h).then(|| &plane[iy as usize * w..][..w]);
            let mut ix = x0;
            for _ in 0..ow {
                if let Some(src) = src {
                    if ix >= 0 && (ix as usize) < w {
                        out[base + c] = src[ix as usize];
                    }
                }
                ix += g.stride.1 as isize;
                c += 1;
                if c == nr {
                    c = 0;
                    base += panel_stride;
                }
            }
        }
    }
}
