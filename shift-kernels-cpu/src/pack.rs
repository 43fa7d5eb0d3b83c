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
    let (oh, ow) = shape.output_size();
    let k = channels * shape.kernel.0 * shape.kernel.1;
    assert_eq!(
        out.len(),
        panels(oh * ow, nr) * k * nr,
        "im2col_panels: panel length"
    );
    for (j, panel) in out.chunks_exact_mut((k * nr).max(1)).enumerate() {
        im2col_panel(x, shape, channels, nr, j, panel);
    }
}

/// Panel `j` of [`im2col_panels`] alone (`out.len() == C*KH*KW * nr`): output pixels
/// `j * nr ..` of one image, so a convolution can build each panel just before the
/// micro-kernel reads it, while it is in L1.
///
/// Each panel row is written once: the pixels of one output row read a contiguous (stride 1)
/// or evenly spaced run of one input row, so the row is copied in runs, with zeros written
/// only where the window leaves the image.
pub fn im2col_panel(
    x: &[i32],
    shape: &Conv2dShape,
    channels: usize,
    nr: usize,
    j: usize,
    out: &mut [i32],
) {
    let (h, w) = (shape.height, shape.width);
    let (kh, kw) = shape.kernel;
    let (oh, ow) = shape.output_size();
    let k = channels * kh * kw;
    assert_eq!(x.len(), channels * h * w, "im2col_panel: input length");
    assert_eq!(out.len(), k * nr, "im2col_panel: panel length");
    assert!(j * nr < oh * ow, "im2col_panel: panel {j} out of range");
    assert!(nr <= 64, "im2col_panel: panel width {nr} above 64");
    let g = &shape.geometry;
    // The panel's pixels split into pieces of one output row each: (oy, ox0, len).
    let p0 = j * nr;
    let width = nr.min(oh * ow - p0);
    let mut pieces = [(0usize, 0usize, 0usize); 64];
    let (mut n_pieces, mut c) = (0, 0);
    while c < width {
        let (oy, ox0) = ((p0 + c) / ow, (p0 + c) % ow);
        let len = (ow - ox0).min(width - c);
        pieces[n_pieces] = (oy, ox0, len);
        n_pieces += 1;
        c += len;
    }
    for (row, dst) in out.chunks_exact_mut(nr).enumerate() {
        let (ch, ky, kx) = (row / (kh * kw), (row / kw) % kh, row % kw);
        let plane = &x[ch * h * w..][..h * w];
        let dx = (kx * g.dilation.1) as isize - g.padding.1 as isize;
        let mut c = 0;
        for &(oy, ox0, len) in &pieces[..n_pieces] {
            let seg = &mut dst[c..c + len];
            c += len;
            let iy = (oy * g.stride.0 + ky * g.dilation.0) as isize - g.padding.0 as isize;
            if iy < 0 || iy as usize >= h {
                seg.fill(0);
                continue;
            }
            let src = &plane[iy as usize * w..][..w];
            // Input column of piece entry t: ix0 + t * stride.
            let s = g.stride.1 as isize;
            let ix0 = ox0 as isize * s + dx;
            // Entries t in [t0, t1) read inside the row.
            let t0 = if ix0 < 0 { (-ix0 + s - 1) / s } else { 0 }.min(len as isize);
            let t1 = if ix0 >= w as isize {
                t0
            } else {
                ((w as isize - ix0 + s - 1) / s).clamp(t0, len as isize)
            };
            let (t0, t1) = (t0 as usize, t1 as usize);
            seg[..t0].fill(0);
            seg[t1..].fill(0);
            if t1 == t0 {
                continue;
            }
            let first = (ix0 + (t0 as isize) * s) as usize;
            if s == 1 {
                seg[t0..t1].copy_from_slice(&src[first..first + (t1 - t0)]);
            } else {
                for (d, &v) in seg[t0..t1]
                    .iter_mut()
                    .zip(src[first..].iter().step_by(s as usize))
                {
                    *d = v;
                }
            }
        }
        dst[width..].fill(0);
    }
}
