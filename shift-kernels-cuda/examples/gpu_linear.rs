//! A shift layer on the GPU next to the same layer on the CPU: `cargo run -p
//! shift-kernels-cuda --example gpu_linear`. Without an NVIDIA driver or GPU it prints why and
//! exits cleanly.

use shift_core::{exp2i, FixedPoint};
use shift_kernels_cpu::{Level, ShiftLinear, ShiftMatrix};
use shift_kernels_cuda::{gpu_available, CudaDevice, CudaShiftLinear, GpuWeights};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A [3, 4] DeepShift-PS layer: weights 0 or ±2^p.
    let w = [
        1.0,
        -0.5,
        0.0,
        exp2i(-3),
        -1.0,
        0.25,
        0.25,
        0.0,
        0.0,
        0.0,
        exp2i(-6),
        -exp2i(-2),
    ];
    let bias = [0.1f32, -0.2, 0.0];
    let x = [0.75f32, -1.5, 2.0, 0.125, 1.0, 1.0, -1.0, 3.0];
    let act = FixedPoint::DEFAULT;
    let cpu = ShiftLinear::new(ShiftMatrix::from_weights(&w, 3, 4)?, Some(&bias), act)?;
    let want = cpu.forward(&x, 2, Level::detect())?;
    println!("CPU: {want:?}");
    if let Err(why) = gpu_available() {
        println!("no GPU run: {why}");
        return Ok(());
    }
    let dev = CudaDevice::new(0)?;
    let gpu = CudaShiftLinear::new(
        dev.clone(),
        GpuWeights::from_weights(&w, 3, 4)?,
        Some(&bias),
        act,
    )?;
    let got = gpu.forward(&x, 2)?;
    println!("GPU ({}): {got:?}", dev.name());
    assert_eq!(got, want, "the GPU equals the CPU bit for bit");
    Ok(())
}
