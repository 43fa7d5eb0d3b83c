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

/// Rows and columns of an image zero-padded for `shape` (its padding on both sides).
pub fn padded_size(shape: &Conv2dShape) -> (usize, usize) {
    let (ph, pw) = shape.geometry.padding;
    (shape.height + 2 * ph, shape.width + 2 * pw)
}

/// im2col of one image straight into panels: `xp [C, HP, WP]` (the channels of one group,
/// zero-padded: see [`padded_size`]), rows `(c, ky, kx)` of the column matrix, columns the
/// output pixels. `out.len() == panels(OH*OW, nr) * (C*KH*KW) * nr`.
pub fn im2col_panels(xp: &[i32], shape: &Conv2dShape, channels: usize, nr: usize, out: &mut [i32]) {
    let (oh, ow) = shape.output_size();
    let k = channels * shape.kernel.0 * shape.kernel.1;
    assert_eq!(
        out.len(),
        panels(oh * ow, nr) * k * nr,
        "im2col_panels: panel length"
    );
    for (j, panel) in out.chunks_exact_mut((k * nr).max(1)).enumerate() {
        im2col_panel(xp, shape, channels, nr, j, panel);
    }
}

/// Panel `j` of [`im2col_panels`] alone (`out.len() == C*KH*KW * nr`): output pixels
/// `j * nr ..` of one image, so a convolution can build each panel just before the
/// micro-kernel reads it, while it is in L1.
///
/// The input is zero-padded, so the pixels of one output row read a contiguous (stride 1)
/// or evenly spaced run of one input row with no bounds to test: each panel row is a few
/// straight copies (one of `nr` values when the output rows are at least `nr` long).
pub fn im2col_panel(
    xp: &[i32],
    shape: &Conv2dShape,
    channels: usize,
    nr: usize,
    j: usize,
    out: &mut [i32],
) {
    match nr {
        32 => im2col_panel_nr::<32>(xp, shape, channels, j, out),
        16 => im2col_panel_nr::<16>(xp, shape, channels, j, out),
        8 => im2col_panel_nr::<8>(xp, shape, channels, j, out),
        _ => panic!("im2col_panel: panel width {nr} is not 8, 16 or 32"),
    }
}

fn im2col_panel_nr<const NR: usize>(
    xp: &[i32],
    shape: &Conv2dShape,
    channels: usize,
    j: usize,
    out: &mut [i32],
) {
    let (hp, wp) = padded_size(shape);
    let (kh, kw) = shape.kernel;
    let (oh, ow) = shape.output_size();
    let k = channels * kh * kw;
    assert_eq!(xp.len(), channels * hp * wp, "im2col_panel: input length");
    assert_eq!(out.len(), k * NR, "im2col_panel: panel length");
    assert!(j * NR < oh * ow, "im2col_panel: panel {j} out of range");
    let g = &shape.geometry;
    let (s, d) = (g.stride, g.dilation);
    // The panel's pixels split into pieces of one output row each: (offset of the piece's
    // first input in a channel plane, without the kernel offset; length).
    let p0 = j * NR;
    let width = NR.min(oh * ow - p0);
    // (Set up once per panel; the per-row loop below only adds.)
    let mut pieces = [(0usize, 0usize); NR];
    let (mut n_pieces, mut c) = (0, 0);
    while c < width {
        let (oy, ox0) = ((p0 + c) / ow, (p0 + c) % ow);
        let len = (ow - ox0).min(width - c);
        pieces[n_pieces] = (oy * s.0 * wp + ox0 * s.1, len);
        n_pieces += 1;
        c += len;
    }
    let pieces = &pieces[..n_pieces];
    let mut rows = out.chunks_exact_mut(NR);
    // The kernel tap (ky, kx) reads its pieces `shift = ky * dy + kx * dx` further on, walked
    // by additions (the per-row loop holds no multiply).
    let (dy, dx) = (d.0 * wp, d.1);
    for plane in xp.chunks_exact(hp * wp) {
        let mut row_shift = 0;
        for _ in 0..kh {
            let mut shift = row_shift;
            row_shift += dy;
            for _ in 0..kw {
                let dst: &mut [i32; NR] = rows.next().expect("k rows").try_into().unwrap();
                let at_shift = shift;
                shift += dx;
                let shift = at_shift;
                if let [(at, len)] = *pieces {
                    if len == NR {
                        // The common case (output rows at least NR long): one fixed-size copy.
                        let src: &[i32; NR] =
                            plane[at + shift..at + shift + NR].try_into().unwrap();
                        *dst = *src;
                        continue;
                    }
                }
                let mut c = 0;
                for &(at, len) in pieces {
                    let src = &plane[at + shift..];
                    let seg = &mut dst[c..c + len];
                    if s.1 == 1 {
                        seg.copy_from_slice(&src[..len]);
                    } else {
                        for (d, &v) in seg.iter_mut().zip(src.iter().step_by(s.1)) {
                            *d = v;
                        }
                    }
                    c += len;
                }
                dst[width..].fill(0);
            }
        }
    }
}

/// A zeroed `i32` buffer whose start is aligned to 64 bytes, so that every row of a 16- or
/// 32-column panel lies in whole cache lines: an unaligned 64-byte load spans two lines and
/// costs two of the core's loads.
pub struct AlignedBuf {
    lines: Vec<Line>,
    len: usize,
}

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([i32; 16]);

impl AlignedBuf {
    /// `len` zeros.
    pub fn zeroed(len: usize) -> Self {
        Self {
            lines: vec![Line([0; 16]); len.div_ceil(16)],
            len,
        }
    }
}

impl std::ops::Deref for AlignedBuf {
    type Target = [i32];
    fn deref(&self) -> &[i32] {
        // SAFETY: the lines hold at least len initialised i32, contiguous (repr(C), no
        // padding: 64 bytes of data at an alignment of 64).
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast(), self.len) }
    }
}

impl std::ops::DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [i32] {
        // SAFETY: as in deref, and the borrow is unique.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast(), self.len) }
    }
}
