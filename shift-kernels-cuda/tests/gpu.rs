//! The same bit-exactness cases as tests/emulated.rs, on a GPU: the embedded PTX, loaded by
//! the driver, equals shift-kernels-cpu's scalar reference bit for bit. Without a CUDA driver
//! or device every test prints why and passes without running; with
//! `SHIFT_KERNELS_REQUIRE_GPU=1` (gpu/run-on-gpu.sh sets it) it fails instead.

mod common;

use std::sync::Arc;

use shift_core::FixedPoint;
use shift_kernels_cpu::{ConvGeometry, Level, ShiftConv2d, ShiftLinear, ShiftMatrix};
use shift_kernels_cuda::{gpu_available, CudaDevice, CudaShiftConv2d, CudaShiftLinear, GpuWeights};

fn device() -> Option<Arc<CudaDevice>> {
    let required = std::env::var_os("SHIFT_KERNELS_REQUIRE_GPU").is_some();
    match gpu_available().and_then(|()| CudaDevice::new(0)) {
        Ok(d) => {
            eprintln!(
                "GPU: {} (sm_{}{})",
                d.name(),
                d.capability().0,
                d.capability().1
            );
            Some(d)
        }
        Err(e) if !required => {
            eprintln!("skipping the GPU test: {e}");
            None
        }
        Err(e) => panic!("SHIFT_KERNELS_REQUIRE_GPU is set but: {e}"),
    }
}

/// The device as a `common::Backend` (uploads the words on every call: tests only).
fn backend(dev: &CudaDevice) -> impl FnMut(&shift_kernels_cuda::Job, &[u64]) -> Vec<i64> + '_ {
    move |job, words| {
        let w = dev.upload(words).expect("upload");
        dev.run(job, &w).expect("launch")
    }
}

#[test]
fn gpu_linear_equals_reference() {
    let Some(dev) = device() else { return };
    let mut b = backend(&dev);
    assert_eq!(common::linear_cases(&mut b, 16, 160), 160);
    // more random sizes than the emulator can afford
    assert_eq!(common::linear_cases(&mut b, 61, 2000), 2000);
}

#[test]
fn gpu_conv_equals_reference() {
    let Some(dev) = device() else { return };
    let mut b = backend(&dev);
    assert_eq!(common::conv_cases(&mut b, 17), 27);
    assert_eq!(common::conv_cases(&mut b, 71), 27);
}

#[test]
fn gpu_edges_equal_reference() {
    let Some(dev) = device() else { return };
    assert_eq!(common::edge_cases(&mut backend(&dev)), 6);
}

/// The layers with the device's own launch shapes, on sizes large enough to fill it: equal
/// to shift-kernels-cpu's layers (themselves tested against the reference).
#[test]
fn gpu_layers_equal_cpu_layers_at_size() {
    let Some(dev) = device() else { return };
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let act = FixedPoint::new(8, 8).unwrap();
    for (m, k, batch) in [
        (1000usize, 3000usize, 1usize),
        (513, 1027, 77),
        (4096, 4096, 1),
    ] {
        let w = common::weights(&mut rng, m * k, shift_core::ShiftType::Q, 5, 0);
        let x = common::inputs(&mut rng, batch * k, act);
        let cpu =
            ShiftLinear::new(ShiftMatrix::from_weights(&w, m, k).unwrap(), None, act).unwrap();
        let gpu = CudaShiftLinear::new(
            dev.clone(),
            GpuWeights::from_weights(&w, m, k).unwrap(),
            None,
            act,
        )
        .unwrap();
        let want = cpu.forward_fixed(&x, batch, Level::detect()).unwrap();
        assert_eq!(
            gpu.forward_fixed(&x, batch).unwrap(),
            want,
            "[{m}, {k}] batch {batch}"
        );
        let (xq, max_abs) = shift_kernels_cpu::quantize(&x, act).unwrap();
        assert_eq!(gpu.forward_quantized(&xq, max_abs, batch).unwrap(), want);
    }
    let geometry = ConvGeometry {
        padding: (1, 1),
        ..Default::default()
    };
    for (c, hw, batch) in [(16usize, 32usize, 64usize), (64, 8, 9)] {
        let fan = c * 9;
        let w = common::weights(&mut rng, c * fan, shift_core::ShiftType::PS, 5, 0);
        let x = common::inputs(&mut rng, batch * c * hw * hw, act);
        let cpu = ShiftConv2d::new(
            ShiftMatrix::from_weights(&w, c, fan).unwrap(),
            None,
            act,
            c,
            (3, 3),
            geometry,
        )
        .unwrap();
        let gpu = CudaShiftConv2d::new(
            dev.clone(),
            GpuWeights::from_weights(&w, c, fan).unwrap(),
            None,
            act,
            c,
            (3, 3),
            geometry,
        )
        .unwrap();
        assert_eq!(
            gpu.forward_fixed(&x, batch, hw, hw).unwrap(),
            cpu.forward_fixed(&x, batch, hw, hw, Level::detect())
                .unwrap(),
            "conv {c} channels {hw}x{hw} batch {batch}"
        );
    }
}

/// Without a driver the error names it (and nothing panics).
#[test]
fn no_driver_is_a_clear_error() {
    if shift_kernels_cuda::driver_present() {
        eprintln!("a CUDA driver is present: the no-driver error is not reachable here");
        return;
    }
    let e = CudaDevice::new(0).unwrap_err().to_string();
    assert!(e.contains("libcuda.so"), "{e}");
}
