//! Writing the convolution's GEMM operands straight into the micro-kernel's panels: the
//! forward pass's column matrix ([`Geometry::pack_columns`]) and the weight gradient's
//! transposed one ([`Geometry::pack_taps`]), never built whole.

use super::{sized, Geometry};
use crate::ops::sgemm::{transpose_into, Level};

/// One kernel tap (one row of the column matrix): its input plane, its row and column
/// offsets from the output pixel's top-left input, and the output columns `lo..hi` whose input
/// column is inside the image.
pub(super) struct Tap {
    plane: usize,
    dy: isize,
    dx: isize,
    lo: usize,
    hi: usize,
}

impl Geometry {
    /// The kernel taps of channel group `g`, in column-matrix row order.
    pub(super) fn taps(&self, g: usize) -> Vec<Tap> {
        let (cg, kk) = (self.c / self.spec.groups, self.kh * self.kw);
        (0..cg * kk)
            .map(|t| {
                let (ch, ky, kx) = (g * cg + t / kk, (t / self.kw) % self.kh, t % self.kw);
                let dx = (kx * self.spec.dilation.1) as isize - self.spec.padding.1 as isize;
                let (lo, hi) = self.valid_ox(dx);
                Tap {
                    plane: ch * self.h * self.w,
                    dy: (ky * self.spec.dilation.0) as isize - self.spec.padding.0 as isize,
                    dx,
                    lo,
                    hi,
                }
            })
            .collect()
    }

    /// Writes columns `j0..j0+w` of the column matrix of the images `xs` (`[images, C, H,
    /// W]`, column `j` = image `j / P`, output pixel `j % P`), rows `taps`, into a GEMM
    /// panel: `panel[t * nr + j - j0]`. The columns are walked in runs along one output
    /// row, each run a copy (strided with a column stride) between zero-filled padding.
    pub(super) fn pack_columns(
        &self,
        xs: &[f32],
        taps: &[Tap],
        (j0, w): (usize, usize),
        nr: usize,
        panel: &mut [f32],
    ) {
        let (p, ow, sx) = (self.p(), self.ow, self.spec.stride.1);
        let x_len = self.c * self.h * self.w;
        let mut j = j0;
        while j < j0 + w {
            let (img, pix) = (j / p, j % p);
            let (oy, ox0) = (pix / ow, pix % ow);
            let len = (ow - ox0).min(j0 + w - j);
            let x_img = &xs[img * x_len..][..x_len];
            let iy0 = (oy * self.spec.stride.0) as isize;
            for (t, tap) in taps.iter().enumerate() {
                let dst = &mut panel[t * nr + j - j0..][..len];
                let iy = iy0 + tap.dy;
                // Valid output columns of this run: `a..b`.
                let a = tap.lo.clamp(ox0, ox0 + len);
                let b = tap.hi.clamp(a, ox0 + len);
                if iy < 0 || iy as usize >= self.h || a == b {
                    dst.fill(0.0);
                    continue;
                }
                let row = &x_img[tap.plane + iy as usize * self.w..][..self.w];
                dst[..a - ox0].fill(0.0);
                dst[b - ox0..].fill(0.0);
                let first = (a as isize * sx as isize + tap.dx) as usize;
                let out = &mut dst[a - ox0..b - ox0];
                if sx == 1 {
                    out.copy_from_slice(&row[first..first + (b - a)]);
                } else {
                    for (i, d) in out.iter_mut().enumerate() {
                        *d = row[first + i * sx];
                    }
                }
            }
            j += len;
        }
    }

    /// Writes the transposed column matrix of the images `xs` (`[images, C, H, W]`) into a
    /// GEMM panel: row `img*P + pixel`, column `t` (one of `taps`) at
    /// `panel[(img*P + pixel) * nr + t]`. Per output row, the taps' rows are gathered as
    /// im2col does (copies between zero padding) into `tmp`, then transposed in 8 x 8 blocks.
    pub(super) fn pack_taps(
        &self,
        level: Level,
        xs: &[f32],
        taps: &[Tap],
        nr: usize,
        panel: &mut [f32],
        tmp: &mut Vec<f32>,
    ) {
        let (p, ow, sx) = (self.p(), self.ow, self.spec.stride.1);
        let x_len = self.c * self.h * self.w;
        let rows = taps.len().div_ceil(8) * 8;
        let tmp = sized(tmp, rows * ow);
        // Rows past the taps stay zero: they become the panel's zero columns.
        tmp[taps.len() * ow..].fill(0.0);
        for (img, x_img) in xs.chunks_exact(x_len).enumerate() {
            for oy in 0..self.oh {
                let iy0 = (oy * self.spec.stride.0) as isize;
                for (tap, dst) in taps.iter().zip(tmp.chunks_exact_mut(ow)) {
                    let iy = iy0 + tap.dy;
                    if iy < 0 || iy as usize >= self.h || tap.lo == tap.hi {
                        dst.fill(0.0);
                        continue;
                    }
                    let row = &x_img[tap.plane + iy as usize * self.w..][..self.w];
                    dst[..tap.lo].fill(0.0);
                    dst[tap.hi..].fill(0.0);
                    let first = (tap.lo as isize * sx as isize + tap.dx) as usize;
                    let out = &mut dst[tap.lo..tap.hi];
                    if sx == 1 {
                        out.copy_from_slice(&row[first..first + out.len()]);
                    } else {
                        for (i, d) in out.iter_mut().enumerate() {
                            *d = row[first + i * sx];
                        }
                    }
                }
                let dst = &mut panel[(img * p + oy * ow) * nr..][..ow * nr];
                transpose_into(level, tmp, (rows, ow, ow), dst, nr);
            }
        }
    }
}
