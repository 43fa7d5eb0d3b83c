//! The kernels' parameter blocks, `#[repr(C)]` twins of the structs in
//! `cuda/shift_kernels.cu` (one struct per kernel family, passed by value). Pointer fields
//! are device addresses on the GPU and host addresses in the emulator test.

/// Parameters of the batch-1 kernels `shift_gemv_*`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GemvParams {
    /// Interleaved packed words: word `j` of row `r` at `j * rows + r`.
    pub words: u64,
    /// Quantised input, `[cols]`.
    pub x: u64,
    /// Each row's start value (the bias on the kernels' scale).
    pub init: u64,
    /// Totals, `[rows]`, zeroed before the launch (slices add into it).
    pub out: u64,
    /// Rows.
    pub rows: u32,
    /// Columns (fan-in).
    pub cols: u32,
    /// Bits per code.
    pub bits: u32,
    /// Codes per `u64` word.
    pub per_word: u32,
    /// Words per row.
    pub words_per_row: u32,
    /// Words per slice of K (`blockIdx.y` picks the slice).
    pub words_per_slice: u32,
    /// `s = base - m`: the left shift of code magnitude `m`.
    pub base: i32,
    /// Words per 32-bit window (i32 kernels; unused by the i64 kernels).
    pub flush_words: u32,
}

/// Parameters of the batched kernels `shift_gemm_*`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GemmParams {
    /// Interleaved packed words.
    pub words: u64,
    /// Quantised input, transposed: `[cols][npad]`.
    pub x: u64,
    /// Each row's start value.
    pub init: u64,
    /// Totals, `[rows][npad]`.
    pub out: u64,
    /// Rows.
    pub rows: u32,
    /// Columns.
    pub cols: u32,
    /// Bits per code.
    pub bits: u32,
    /// Codes per word.
    pub per_word: u32,
    /// Words per row.
    pub words_per_row: u32,
    /// The batch rounded up to a multiple of 4.
    pub npad: u32,
    /// `s = base - m`.
    pub base: i32,
    /// Words per 32-bit window.
    pub flush_words: u32,
}

/// Parameters of the convolution kernels `shift_conv{1,4}_*`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConvParams {
    /// Interleaved packed words (rows: output channels).
    pub words: u64,
    /// Quantised input `[batch][in_ch][height][width]`.
    pub x: u64,
    /// Each output channel's start value.
    pub init: u64,
    /// Totals `[batch][rows][oh][ow]`.
    pub out: u64,
    /// Output channels.
    pub rows: u32,
    /// Fan-in `cg * kh * kw`.
    pub cols: u32,
    /// Bits per code.
    pub bits: u32,
    /// Codes per word.
    pub per_word: u32,
    /// Words per row.
    pub words_per_row: u32,
    /// `s = base - m`.
    pub base: i32,
    /// Words per 32-bit window.
    pub flush_words: u32,
    /// Images.
    pub batch: u32,
    /// Input channels.
    pub in_ch: u32,
    /// Input rows.
    pub height: u32,
    /// Input columns.
    pub width: u32,
    /// Kernel rows.
    pub kh: u32,
    /// Kernel columns.
    pub kw: u32,
    /// Stride (rows).
    pub sh: u32,
    /// Stride (columns).
    pub sw: u32,
    /// Padding (rows).
    pub ph: u32,
    /// Padding (columns).
    pub pw: u32,
    /// Dilation (rows).
    pub dh: u32,
    /// Dilation (columns).
    pub dw: u32,
    /// Input channels per group.
    pub cg: u32,
    /// Output channels per group.
    pub og: u32,
    /// Output rows.
    pub oh: u32,
    /// Output columns.
    pub ow: u32,
    /// `height * width`.
    pub plane: u32,
    /// `dh * width`.
    pub row_step: u32,
}

/// One launch's parameters, by kernel family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Params {
    /// Batch 1.
    Gemv(GemvParams),
    /// Batched linear.
    Gemm(GemmParams),
    /// Convolution.
    Conv(ConvParams),
}

impl Params {
    /// Sets the four buffer addresses.
    pub fn set_buffers(&mut self, words: u64, x: u64, init: u64, out: u64) {
        macro_rules! set {
            ($p:expr) => {{
                $p.words = words;
                $p.x = x;
                $p.init = init;
                $p.out = out;
            }};
        }
        match self {
            Params::Gemv(p) => set!(p),
            Params::Gemm(p) => set!(p),
            Params::Conv(p) => set!(p),
        }
    }
}

// SAFETY: plain `#[repr(C)]` structs of integers, laid out as their CUDA C twins: the sizes
// equal the PTX's parameter declarations (tests/ptx.rs), and tests/emulated.rs passes these
// very structs to the same C code on the host.
unsafe impl cudarc::driver::DeviceRepr for GemvParams {}
// SAFETY: as above.
unsafe impl cudarc::driver::DeviceRepr for GemmParams {}
// SAFETY: as above.
unsafe impl cudarc::driver::DeviceRepr for ConvParams {}
