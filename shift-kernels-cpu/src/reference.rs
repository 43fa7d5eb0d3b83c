//! The scalar reference: the exact DeepShift forward computed directly from float weights,
//! one output at a time, by the textbook formula. Every micro-kernel must equal it bit for
//! bit. It shares only the quantisation ([`crate::quantize`], itself tested against
//! `shift_core::round_fixed`), the accumulator rule and the f32 rounding with the kernels.

use shift_core::FixedPoint;

use crate::conv::Conv2dShape;
use crate::error::KernelError;
use crate::fixed::{check_accumulator, quantize, shifted_magnitude, FixedOutput};
use crate::matrix::decode_weight;

/// `v << s` checked: the accumulator rule guarantees it never loses bits.
fn shl_exact(v: i64, s: u32) -> i64 {
    if v == 0 {
        return 0;
    }
    assert!(s < 63, "the accumulator rule bounds every term");
    let t = v << s;
    assert_eq!(t >> s, v, "the accumulator rule bounds every term");
    t
}

/// `t + sign * x * 2^shift`, checked.
fn add_term(t: i64, sign: i8, x: i32, shift: u32) -> i64 {
    match sign {
        0 => Some(t),
        1 => t.checked_add(shl_exact(x as i64, shift)),
        _ => t.checked_sub(shl_exact(x as i64, shift)),
    }
    .expect("the accumulator rule bounds every partial sum")
}

struct Decoded {
    signs: Vec<i8>,
    shifts: Vec<u32>,
    min_shift: i32,
    span: u32,
}

fn decode(weights: &[f32]) -> Result<Decoded, KernelError> {
    let mut d = Vec::with_capacity(weights.len());
    for (index, &value) in weights.iter().enumerate() {
        d.push(decode_weight(value).ok_or(KernelError::NotAShiftWeight { index, value })?);
    }
    let nz = || d.iter().filter(|(s, _)| *s != 0).map(|&(_, p)| p);
    let min_shift = nz().min().unwrap_or(0);
    let span = (nz().max().unwrap_or(0) - min_shift + 1) as u32;
    Ok(Decoded {
        signs: d.iter().map(|&(s, _)| s).collect(),
        shifts: d.iter().map(|&(_, p)| (p - min_shift) as u32).collect(),
        min_shift,
        span,
    })
}

/// Row bounds `sum 2^shift` of a `[rows, cols]` decoded matrix, with the rows' biases.
fn bounds(d: &Decoded, rows: usize, cols: usize, bias: &[i32]) -> Vec<(u128, u128)> {
    let offset = (-d.min_shift) as u32;
    (0..rows)
        .map(|r| {
            let mut b = 0u128;
            for c in 0..cols {
                if d.signs[r * cols + c] != 0 {
                    b = b.saturating_add(1u128 << d.shifts[r * cols + c]);
                }
            }
            (b, shifted_magnitude(bias[r] as i64, offset))
        })
        .collect()
}

fn bias_q(bias: Option<&[f32]>, rows: usize, act: FixedPoint) -> Result<Vec<i32>, KernelError> {
    crate::layer::quantize_bias(bias, rows, act)
}

/// The exact linear forward `[batch, rows]` of `x [batch, cols]` with weights `[rows, cols]`.
pub fn linear(
    weights: &[f32],
    rows: usize,
    cols: usize,
    bias: Option<&[f32]>,
    x: &[f32],
    batch: usize,
    act: FixedPoint,
) -> Result<FixedOutput, KernelError> {
    if weights.len() != rows * cols || x.len() != batch * cols {
        return Err(KernelError::Shape("reference linear: lengths".into()));
    }
    let d = decode(weights)?;
    let b = bias_q(bias, rows, act)?;
    let (xq, max_abs) = quantize(x, act)?;
    check_accumulator(
        max_abs,
        bounds(&d, rows, cols, &b).into_iter(),
        act.frac_bits(),
        d.span,
        cols,
    )?;
    let offset = (-d.min_shift) as u32;
    let mut totals = Vec::with_capacity(batch * rows);
    for n in 0..batch {
        for (r, &br) in b.iter().enumerate() {
            let mut t = shl_exact(br as i64, offset);
            for c in 0..cols {
                t = add_term(
                    t,
                    d.signs[r * cols + c],
                    xq[n * cols + c],
                    d.shifts[r * cols + c],
                );
            }
            totals.push(t);
        }
    }
    Ok(FixedOutput {
        totals,
        exp: d.min_shift - act.frac_bits() as i32,
    })
}

/// The exact direct convolution `[batch, out, OH, OW]` of `x [batch, in, H, W]` with
/// weights `[out, in/groups, kh, kw]`.
pub fn conv2d(
    weights: &[f32],
    bias: Option<&[f32]>,
    x: &[f32],
    batch: usize,
    shape: &Conv2dShape,
    act: FixedPoint,
) -> Result<FixedOutput, KernelError> {
    let (c_in, oc) = (shape.in_channels, shape.out_channels);
    let g = &shape.geometry;
    let (kh, kw) = shape.kernel;
    let (h, w) = (shape.height, shape.width);
    let fan = shape.fan_in();
    if weights.len() != oc * fan || x.len() != batch * c_in * h * w {
        return Err(KernelError::Shape("reference conv2d: lengths".into()));
    }
    let d = decode(weights)?;
    let b = bias_q(bias, oc, act)?;
    let (xq, max_abs) = quantize(x, act)?;
    check_accumulator(
        max_abs,
        bounds(&d, oc, fan, &b).into_iter(),
        act.frac_bits(),
        d.span,
        fan,
    )?;
    let offset = (-d.min_shift) as u32;
    let (oh, ow) = shape.output_size();
    let (cg, og) = (c_in / g.groups, oc / g.groups);
    let mut totals = Vec::with_capacity(batch * oc * oh * ow);
    for n in 0..batch {
        for (o, &bo) in b.iter().enumerate() {
            let group = o / og;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut t = shl_exact(bo as i64, offset);
                    for ci in 0..cg {
                        let ch = group * cg + ci;
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (oy * g.stride.0 + ky * g.dilation.0) as isize
                                    - g.padding.0 as isize;
                                let ix = (ox * g.stride.1 + kx * g.dilation.1) as isize
                                    - g.padding.1 as isize;
                                if iy < 0 || ix < 0 || iy as usize >= h || ix as usize >= w {
                                    continue;
                                }
                                let xv = xq[((n * c_in + ch) * h + iy as usize) * w + ix as usize];
                                let wi = ((o * cg + ci) * kh + ky) * kw + kx;
                                t = add_term(t, d.signs[wi], xv, d.shifts[wi]);
                            }
                        }
                    }
                    totals.push(t);
                }
            }
        }
    }
    Ok(FixedOutput {
        totals,
        exp: d.min_shift - act.frac_bits() as i32,
    })
}
