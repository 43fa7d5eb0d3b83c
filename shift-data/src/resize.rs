//! Bilinear resampling of 8-bit RGB images, bit-exact with Pillow's `Image.resize(...,
//! BILINEAR)`, which is what torchvision's `Resize` and `RandomResizedCrop` call on PIL images.
//!
//! Pillow's bilinear filter is antialiased: when shrinking by a factor `s`, the triangle
//! filter is stretched to a support of `s` input pixels, so every input pixel contributes.
//! Pillow computes the weights in `f64`, normalises them to 22-bit fixed point and runs two
//! separable integer passes (horizontal, then vertical) with an 8-bit intermediate; this module
//! repeats exactly those steps, so a PNG resized here and by Pillow gives the same bytes
//! (the test `pil_parity` checks it against fixtures written by Pillow).

/// Fixed-point precision of the weights, as Pillow's `PRECISION_BITS` (32 - 8 - 2).
const PRECISION_BITS: u32 = 22;

/// A rectangle of a source image: rows `top..top+height`, columns `left..left+width`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropBox {
    /// First row.
    pub top: usize,
    /// First column.
    pub left: usize,
    /// Number of rows.
    pub height: usize,
    /// Number of columns.
    pub width: usize,
}

/// Per-output-pixel filter windows and fixed-point weights for one axis.
#[derive(Debug, Clone)]
pub(crate) struct AxisCoeffs {
    /// For each output pixel, the first input pixel and the number of taps.
    bounds: Vec<(usize, usize)>,
    /// `ksize` weights per output pixel (unused tail zero).
    weights: Vec<i32>,
    ksize: usize,
}

fn bilinear(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        1.0 - x
    } else {
        0.0
    }
}

impl AxisCoeffs {
    /// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for `in_size -> out_size`.
    pub(crate) fn new(in_size: usize, out_size: usize) -> Self {
        // Pillow passes the box as `float`, then widens to double.
        let scale = f64::from(in_size as f32) / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = filterscale; // bilinear support is 1
        let ksize = support.ceil() as usize * 2 + 1;
        let mut bounds = Vec::with_capacity(out_size);
        let mut weights = vec![0i32; out_size * ksize];
        let mut k = vec![0f64; ksize];
        for xx in 0..out_size {
            let center = (xx as f64 + 0.5) * scale;
            let ss = 1.0 / filterscale;
            // C's (int) truncates; negatives are clamped to 0 right after, so max(0) suffices.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let n = xmax.saturating_sub(xmin);
            let mut ww = 0.0;
            for (x, kx) in k.iter_mut().enumerate().take(n) {
                let w = bilinear((x as f64 + xmin as f64 - center + 0.5) * ss);
                *kx = w;
                ww += w;
            }
            let row = &mut weights[xx * ksize..(xx + 1) * ksize];
            for (dst, &w) in row.iter_mut().zip(&k[..n]) {
                let w = if ww != 0.0 { w / ww } else { w };
                let fixed = w * f64::from(1u32 << PRECISION_BITS);
                *dst = if w < 0.0 {
                    (fixed - 0.5) as i32
                } else {
                    (fixed + 0.5) as i32
                };
            }
            bounds.push((xmin, n));
        }
        AxisCoeffs {
            bounds,
            weights,
            ksize,
        }
    }

    /// The same filter with exactly `ksize` taps for every output pixel (windows near the end
    /// shifted left, their weights padded with zeros), so the tap loop has a fixed length.
    /// `None` when the input is shorter than `ksize`.
    fn fixed_taps(&self, in_size: usize) -> Option<(Vec<usize>, Vec<i32>)> {
        let k = self.ksize;
        if in_size < k {
            return None;
        }
        let mut starts = Vec::with_capacity(self.bounds.len());
        let mut weights = vec![0i32; self.bounds.len() * k];
        for (i, &(start, n)) in self.bounds.iter().enumerate() {
            let s = start.min(in_size - k);
            let shift = start - s;
            weights[i * k + shift..i * k + shift + n]
                .copy_from_slice(&self.weights[i * k..i * k + n]);
            starts.push(s);
        }
        Some((starts, weights))
    }

    fn taps(&self, i: usize) -> (usize, &[i32]) {
        let (start, n) = self.bounds[i];
        (start, &self.weights[i * self.ksize..i * self.ksize + n])
    }
}

#[inline]
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

const HALF: i32 = 1 << (PRECISION_BITS - 1);

/// Resizes `crop` of an RGB image (`width` pixels per row, interleaved) to
/// `out_width x out_height` as Pillow's `img.crop(crop).resize((out_width, out_height),
/// BILINEAR)` would, but only computes the output pixels inside `window` (a crop of the
/// resized image, which is how `Resize` + `CenterCrop` is fused without changing any value).
///
/// Writes `window.height * window.width * 3` bytes, interleaved RGB, into `out`.
/// `scratch` is reused between calls to avoid allocations.
///
/// # Panics
/// If `crop` lies outside the source or `window` outside the output (callers validate).
#[allow(clippy::too_many_arguments)]
pub fn resize_crop_rgb8(
    src: &[u8],
    width: usize,
    crop: CropBox,
    out_width: usize,
    out_height: usize,
    window: CropBox,
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
) {
    assert!(crop.left + crop.width <= width && (crop.top + crop.height) * width * 3 <= src.len());
    assert!(window.left + window.width <= out_width && window.top + window.height <= out_height);
    let stride = width * 3;
    let need_h = out_width != crop.width;
    let need_v = out_height != crop.height;
    out.clear();
    out.resize(window.width * window.height * 3, 0);

    let vc = AxisCoeffs::new(crop.height, out_height);
    // Rows of the crop that the window's vertical taps reach.
    let (first_row, last_row) = if need_v {
        let (a, _) = vc.taps(window.top);
        let (b, w) = vc.taps(window.top + window.height - 1);
        (a, b + w.len())
    } else {
        (window.top, window.top + window.height)
    };

    // Horizontal pass into `scratch` (rows first_row..last_row, window columns only),
    // or a plain copy of those columns when the width does not change.
    let tmp_stride = window.width * 3;
    scratch.clear();
    scratch.resize((last_row - first_row) * tmp_stride, 0);
    if need_h {
        let hc = AxisCoeffs::new(crop.width, out_width);
        let rows = || {
            (first_row..last_row).map(|r| {
                let start = (crop.top + r) * stride + crop.left * 3;
                &src[start..start + crop.width * 3]
            })
        };
        // A fixed tap count lets the compiler unroll the tap loop: the common shrink factors
        // (up to 4x) get their own copy.
        match (hc.ksize, hc.fixed_taps(crop.width)) {
            (3, Some((st, w))) => horizontal_fixed::<3>(rows(), &st, &w, window, scratch),
            (5, Some((st, w))) => horizontal_fixed::<5>(rows(), &st, &w, window, scratch),
            (7, Some((st, w))) => horizontal_fixed::<7>(rows(), &st, &w, window, scratch),
            (9, Some((st, w))) => horizontal_fixed::<9>(rows(), &st, &w, window, scratch),
            _ => horizontal_any(rows(), &hc, window, scratch),
        }
    } else {
        for (r, dst) in (first_row..last_row).zip(scratch.chunks_exact_mut(tmp_stride)) {
            let start = (crop.top + r) * stride + (crop.left + window.left) * 3;
            dst.copy_from_slice(&src[start..start + tmp_stride]);
        }
    }

    if !need_v {
        out.copy_from_slice(scratch);
        return;
    }
    let mut acc = vec![0i32; tmp_stride];
    for (yo, dst) in out.chunks_exact_mut(tmp_stride).enumerate() {
        let (start, w) = vc.taps(window.top + yo);
        acc.fill(HALF);
        // Tap-major order keeps the inner loop contiguous (it vectorises); integer sums are
        // exact, so the order does not change the result.
        for (j, &k) in w.iter().enumerate() {
            let row = &scratch[(start - first_row + j) * tmp_stride..][..tmp_stride];
            for (a, &p) in acc.iter_mut().zip(row) {
                *a += i32::from(p) * k;
            }
        }
        for (d, &a) in dst.iter_mut().zip(&acc) {
            *d = clip8(a);
        }
    }
}

/// Horizontal pass with exactly `K` taps per output pixel; `rows` are the crop's rows.
fn horizontal_fixed<'a, const K: usize>(
    rows: impl Iterator<Item = &'a [u8]>,
    starts: &[usize],
    weights: &[i32],
    window: CropBox,
    out: &mut [u8],
) {
    let starts = &starts[window.left..window.left + window.width];
    let weights = &weights[window.left * K..(window.left + window.width) * K];
    for (row, dst) in rows.zip(out.chunks_exact_mut(window.width * 3)) {
        for ((px, &start), w) in dst
            .chunks_exact_mut(3)
            .zip(starts)
            .zip(weights.chunks_exact(K))
        {
            let taps = &row[start * 3..start * 3 + 3 * K];
            let (mut s0, mut s1, mut s2) = (HALF, HALF, HALF);
            for k in 0..K {
                s0 += i32::from(taps[3 * k]) * w[k];
                s1 += i32::from(taps[3 * k + 1]) * w[k];
                s2 += i32::from(taps[3 * k + 2]) * w[k];
            }
            px[0] = clip8(s0);
            px[1] = clip8(s1);
            px[2] = clip8(s2);
        }
    }
}

/// Horizontal pass for any filter size.
fn horizontal_any<'a>(
    rows: impl Iterator<Item = &'a [u8]>,
    hc: &AxisCoeffs,
    window: CropBox,
    out: &mut [u8],
) {
    for (row, dst) in rows.zip(out.chunks_exact_mut(window.width * 3)) {
        for (xo, px) in dst.chunks_exact_mut(3).enumerate() {
            let (start, w) = hc.taps(window.left + xo);
            let taps = &row[start * 3..(start + w.len()) * 3];
            let (mut s0, mut s1, mut s2) = (HALF, HALF, HALF);
            for (p, &k) in taps.chunks_exact(3).zip(w) {
                s0 += i32::from(p[0]) * k;
                s1 += i32::from(p[1]) * k;
                s2 += i32::from(p[2]) * k;
            }
            px[0] = clip8(s0);
            px[1] = clip8(s1);
            px[2] = clip8(s2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(w: usize, h: usize) -> CropBox {
        CropBox {
            top: 0,
            left: 0,
            height: h,
            width: w,
        }
    }

    #[test]
    fn weights_sum_to_one_in_fixed_point() {
        for (i, o) in [(500, 224), (37, 224), (256, 256), (375, 256), (3, 1)] {
            let c = AxisCoeffs::new(i, o);
            for x in 0..o {
                let (_, w) = c.taps(x);
                let s: i32 = w.iter().sum();
                assert!(
                    (s - (1 << PRECISION_BITS)).abs() <= w.len() as i32,
                    "{i}->{o} at {x}"
                );
            }
        }
    }

    /// Pillow's two passes written plainly: whole crop, `taps` only.
    fn naive(src: &[u8], width: usize, crop: CropBox, ow: usize, oh: usize) -> Vec<u8> {
        let (hc, vc) = (
            AxisCoeffs::new(crop.width, ow),
            AxisCoeffs::new(crop.height, oh),
        );
        let mut tmp = vec![0u8; crop.height * ow * 3];
        for y in 0..crop.height {
            for x in 0..ow {
                let (start, w) = hc.taps(x);
                for c in 0..3 {
                    let mut acc = HALF;
                    for (j, &k) in w.iter().enumerate() {
                        acc += i32::from(
                            src[((crop.top + y) * width + crop.left + start + j) * 3 + c],
                        ) * k;
                    }
                    tmp[(y * ow + x) * 3 + c] = if ow == crop.width {
                        src[((crop.top + y) * width + crop.left + x) * 3 + c]
                    } else {
                        clip8(acc)
                    };
                }
            }
        }
        let mut out = vec![0u8; oh * ow * 3];
        for y in 0..oh {
            let (start, w) = vc.taps(y);
            for i in 0..ow * 3 {
                let mut acc = HALF;
                for (j, &k) in w.iter().enumerate() {
                    acc += i32::from(tmp[(start + j) * ow * 3 + i]) * k;
                }
                out[y * ow * 3 + i] = if oh == crop.height {
                    tmp[y * ow * 3 + i]
                } else {
                    clip8(acc)
                };
            }
        }
        out
    }

    #[test]
    fn every_tap_count_matches_the_plain_algorithm() {
        let (w, h) = (97, 83);
        let src: Vec<u8> = (0..w * h * 3).map(|v| ((v * 7919) % 251) as u8).collect();
        let (mut out, mut scratch) = (Vec::new(), Vec::new());
        // Shrink factors from 1 to 12 (3 to 25 taps), growth, and inputs shorter than the filter.
        for (cw, ch, ow, oh) in [
            (97, 83, 97, 83),
            (97, 83, 50, 41),
            (90, 80, 30, 27),
            (96, 80, 24, 20),
            (97, 83, 8, 7),
            (60, 70, 5, 6),
            (3, 2, 1, 1),
            (2, 3, 9, 11),
            (5, 5, 2, 40),
            (1, 1, 4, 4),
        ] {
            let crop = CropBox {
                top: h - ch,
                left: (w - cw) / 2,
                height: ch,
                width: cw,
            };
            let full = CropBox {
                top: 0,
                left: 0,
                height: oh,
                width: ow,
            };
            resize_crop_rgb8(&src, w, crop, ow, oh, full, &mut out, &mut scratch);
            assert_eq!(out, naive(&src, w, crop, ow, oh), "{cw}x{ch} -> {ow}x{oh}");
        }
    }

    #[test]
    fn identity_size_copies() {
        let src: Vec<u8> = (0..4 * 5 * 3).map(|v| (v * 7 % 256) as u8).collect();
        let (mut out, mut scratch) = (Vec::new(), Vec::new());
        resize_crop_rgb8(
            &src,
            4,
            full(4, 5),
            4,
            5,
            full(4, 5),
            &mut out,
            &mut scratch,
        );
        assert_eq!(out, src);
    }

    #[test]
    fn constant_image_stays_constant() {
        let src = vec![77u8; 50 * 40 * 3];
        let (mut out, mut scratch) = (Vec::new(), Vec::new());
        for (ow, oh) in [(13, 29), (224, 224), (50, 7)] {
            resize_crop_rgb8(
                &src,
                50,
                full(50, 40),
                ow,
                oh,
                full(ow, oh),
                &mut out,
                &mut scratch,
            );
            assert!(out.iter().all(|&v| v == 77), "{ow}x{oh}");
        }
    }

    #[test]
    fn window_equals_crop_of_full_resize() {
        let (w, h) = (61, 47);
        let src: Vec<u8> = (0..w * h * 3)
            .map(|v| ((v * 31 + v / 7) % 256) as u8)
            .collect();
        let crop = CropBox {
            top: 3,
            left: 5,
            height: 40,
            width: 50,
        };
        let (mut whole, mut part, mut scratch) = (Vec::new(), Vec::new(), Vec::new());
        resize_crop_rgb8(
            &src,
            w,
            crop,
            33,
            27,
            full(33, 27),
            &mut whole,
            &mut scratch,
        );
        let win = CropBox {
            top: 4,
            left: 6,
            height: 20,
            width: 21,
        };
        resize_crop_rgb8(&src, w, crop, 33, 27, win, &mut part, &mut scratch);
        for y in 0..win.height {
            let a = &whole[((win.top + y) * 33 + win.left) * 3..][..win.width * 3];
            assert_eq!(&part[y * win.width * 3..][..win.width * 3], a, "row {y}");
        }
    }
}
