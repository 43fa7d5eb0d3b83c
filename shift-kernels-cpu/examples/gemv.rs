//! Packs a random 1024 x 1024 DeepShift-PS matrix (5-bit weights), runs the batch-1 shift
//! kernel (GEMV) on every SIMD level this CPU has, and compares each result with the f32 GEMV
//! of the same weights and with the exact sum (computed in f64, where every product and
//! partial sum of this size is exact). The kernel must equal the exact sum rounded to f32 bit
//! for bit; the f32 GEMV differs from it by its own rounding.
//!
//! `cargo run --release -p shift-kernels-cpu --example gemv [-- ROWS COLS]`

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shift_core::{shift_range, Encoding, FixedPoint, PackedShiftWeights, ShiftType};
use shift_kernels_cpu::{Level, ShiftLinear, ShiftMatrix};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let (rows, cols) = match args.as_slice() {
        [] => (1024, 1024),
        [r, c] => (*r, *c),
        _ => return Err("expected no arguments or ROWS COLS".into()),
    };
    let range = shift_range(ShiftType::PS, 5)?;
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    // Trained PS layers use the low end of their range rarely; draw shifts in [-8, 0] and
    // signs in {-1, 0, +1}.
    let weights: Vec<f32> = (0..rows * cols)
        .map(|_| {
            let sign = rng.gen_range(-1i32..=1) as f32;
            sign * 2f32.powi(rng.gen_range(range.min.max(-8)..=range.max))
        })
        .collect();
    let x: Vec<f32> = (0..cols).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
    let act = FixedPoint::new(16, 16)?;

    let packed = PackedShiftWeights::from_weights(&weights, rows, cols, Encoding::Ternary, 5)?;
    let layer = ShiftLinear::new(ShiftMatrix::from_packed(&packed)?, None, act)?;
    println!(
        "{rows} x {cols} PS weights, 5 bits: {} bytes packed ({:.2} bits per weight), {} bytes as f32",
        packed.to_bytes().len(),
        8.0 * packed.to_bytes().len() as f64 / (rows * cols) as f64,
        4 * rows * cols
    );

    // The f32 reference: inputs floored onto the 2^-16 grid, as the float shift layer does.
    let xr: Vec<f32> = x.iter().map(|&v| shift_core::round_fixed(v, act)).collect();
    let start = Instant::now();
    let f32_gemv: Vec<f32> = weights
        .chunks_exact(cols)
        .map(|w| w.iter().zip(&xr).map(|(w, x)| w * x).sum())
        .collect();
    let f32_ms = start.elapsed().as_secs_f64() * 1e3;
    let exact: Vec<f32> = weights
        .chunks_exact(cols)
        .map(|w| {
            let sum: f64 = w
                .iter()
                .zip(&xr)
                .map(|(&w, &x)| f64::from(w) * f64::from(x))
                .sum();
            sum as f32
        })
        .collect();
    let f32_err = max_abs_diff(&f32_gemv, &exact);
    println!("f32 GEMV (naive loop): {f32_ms:.3} ms, max |f32 - exact| = {f32_err:.3e}");

    for level in Level::available() {
        // The first call builds the batch-1 tables; time the second.
        layer.forward(&x, 1, level)?;
        let start = Instant::now();
        let y = layer.forward(&x, 1, level)?;
        let ms = start.elapsed().as_secs_f64() * 1e3;
        let mismatches = y
            .iter()
            .zip(&exact)
            .filter(|(a, b)| a.to_bits() != b.to_bits())
            .count();
        println!(
            "{:<7} {ms:.3} ms, max |kernel - f32| = {:.3e}, outputs differing from the exact sum: {mismatches}",
            level.name(),
            max_abs_diff(&y, &f32_gemv)
        );
        if mismatches != 0 {
            return Err(format!("level {level}: {mismatches} outputs are not exact").into());
        }
    }
    Ok(())
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}
