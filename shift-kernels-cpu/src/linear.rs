//! The fully connected shift layer: `y = x · Wᵀ + b` over fixed-point inputs.

use shift_core::FixedPoint;

use crate::dispatch::Level;
use crate::error::KernelError;
use crate::fixed::{quantize, FixedOutput};
use crate::gemm::{gemm, gemv};
use crate::layer::{plan, quantize_bias};
use crate::matrix::ShiftMatrix;
use crate::pack::{pack_rows_transposed, panels};
use crate::table::gemv_table;

/// A frozen linear shift layer: weights `[out, in]` in kernel form, the bias on the
/// activations' fixed-point grid, and the activation format.
#[derive(Debug, Clone)]
pub struct ShiftLinear {
    matrix: ShiftMatrix,
    bias: Vec<i32>,
    act: FixedPoint,
}

impl ShiftLinear {
    /// A layer from its weights, an optional bias (rounded to `act` as the float layer does)
    /// and the activation format.
    pub fn new(
        matrix: ShiftMatrix,
        bias: Option<&[f32]>,
        act: FixedPoint,
    ) -> Result<Self, KernelError> {
        let bias = quantize_bias(bias, matrix.rows(), act)?;
        Ok(Self { matrix, bias, act })
    }

    /// The weights.
    pub fn matrix(&self) -> &ShiftMatrix {
        &self.matrix
    }

    /// Input features.
    pub fn in_features(&self) -> usize {
        self.matrix.cols()
    }

    /// Output features.
    pub fn out_features(&self) -> usize {
        self.matrix.rows()
    }

    /// The exact outputs `[batch, out]` for `x [batch, in]` (rounded to the activation
    /// format first, as the float layer does).
    pub fn forward_fixed(
        &self,
        x: &[f32],
        batch: usize,
        level: Level,
    ) -> Result<FixedOutput, KernelError> {
        let k = self.in_features();
        if x.len() != batch * k {
            return Err(KernelError::Shape(format!(
                "linear input of {} values is not [{batch}, {k}]",
                x.len()
            )));
        }
        let (xq, max_abs) = quantize(x, self.act)?;
        self.forward_quantized(&xq, max_abs, batch, level)
    }

    /// [`Self::forward_fixed`] rounded to f32.
    pub fn forward(&self, x: &[f32], batch: usize, level: Level) -> Result<Vec<f32>, KernelError> {
        Ok(self.forward_fixed(x, batch, level)?.to_f32())
    }

    /// The exact outputs for inputs already on the grid (`max_abs` bounds their magnitude).
    pub fn forward_quantized(
        &self,
        xq: &[i32],
        max_abs: u64,
        batch: usize,
        level: Level,
    ) -> Result<FixedOutput, KernelError> {
        let (m, k) = (self.out_features(), self.in_features());
        assert_eq!(xq.len(), batch * k, "forward_quantized: input length");
        let plan = plan(&self.matrix, &self.bias, max_abs, self.act)?;
        if batch == 1 {
            let mut totals = vec![0i64; m];
            if gemv_table(level, &self.matrix, xq, max_abs, &plan.init, &mut totals).is_none() {
                gemv(
                    level,
                    &self.matrix,
                    xq,
                    &plan.init,
                    plan.max_run,
                    &mut totals,
                );
            }
            return Ok(FixedOutput {
                totals,
                exp: plan.exp,
            });
        }
        let nr = level.panel_width();
        let n_panels = panels(batch, nr);
        let mut packed = vec![0i32; n_panels * k * nr];
        pack_rows_transposed(xq, batch, k, nr, &mut packed);
        let mut tot = vec![0i64; n_panels * m * nr];
        gemm(
            level,
            &self.matrix,
            0..m,
            &packed,
            &plan.init,
            plan.max_run,
            true,
            &mut tot,
        );
        let mut totals = vec![0i64; batch * m];
        for (n, row) in totals.chunks_exact_mut(m.max(1)).enumerate().take(batch) {
            let (j, c) = (n / nr, n % nr);
            for (i, t) in row.iter_mut().enumerate() {
                *t = tot[(j * m + i) * nr + c];
            }
        }
        Ok(FixedOutput {
            totals,
            exp: plan.exp,
        })
    }
}
