//! What the linear and the convolution layer share: the bias on the kernels' scale, the
//! accumulator rule per call, and the output grid.

use shift_core::FixedPoint;

use crate::error::KernelError;
use crate::fixed::{check_accumulator, max_run, quantize, shifted_magnitude};
use crate::kernel::scalar::shl;
use crate::matrix::ShiftMatrix;

/// The per-call plan of a layer: each row's start value, the `i32` run length and the
/// exponent of the output grid.
pub(crate) struct Plan {
    pub init: Vec<i64>,
    pub max_run: usize,
    pub exp: i32,
}

/// Quantises a bias onto the activations' grid (as the float layers round it) or returns
/// zeros.
pub(crate) fn quantize_bias(
    bias: Option<&[f32]>,
    rows: usize,
    act: FixedPoint,
) -> Result<Vec<i32>, KernelError> {
    match bias {
        None => Ok(vec![0; rows]),
        Some(b) if b.len() != rows => Err(KernelError::Shape(format!(
            "bias of {} values for {rows} outputs",
            b.len()
        ))),
        Some(b) => Ok(quantize(b, act)
            .map_err(|e| match e {
                KernelError::NanInput { index } => {
                    KernelError::Shape(format!("bias {index} is NaN"))
                }
                e => e,
            })?
            .0),
    }
}

/// Checks the accumulator rule for inputs of magnitude at most `max_input` and plans the
/// call.
pub(crate) fn plan(
    m: &ShiftMatrix,
    bias: &[i32],
    max_input: u64,
    act: FixedPoint,
) -> Result<Plan, KernelError> {
    let offset = (-m.min_shift()) as u32;
    check_accumulator(
        max_input,
        (0..m.rows()).map(|r| (m.row_bound(r), shifted_magnitude(bias[r] as i64, offset))),
        act.frac_bits(),
        m.span(),
        m.cols(),
    )?;
    Ok(Plan {
        init: bias.iter().map(|&b| shl(b as i64, offset)).collect(),
        max_run: max_run(max_input),
        exp: m.min_shift() - act.frac_bits() as i32,
    })
}
