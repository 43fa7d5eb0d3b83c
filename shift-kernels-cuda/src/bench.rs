//! The GPU benchmark (`deepshift bench kernels --device cuda`, and `gpu/run-on-gpu.sh`):
//! GEMV 8192x8192 (batch 1) and GEMM 4096x4096 at batch 256 against cuBLAS SGEMM (plain f32,
//! cuBLAS's default math mode, which uses no tensor cores for f32), timed with CUDA events,
//! medians after warm-up, with achieved GB/s and operations/s and the device's measured copy
//! bandwidth as the ceiling. Every timed shift kernel's output is also compared with
//! shift-kernels-cpu bit for bit.

use std::sync::Arc;

use cudarc::cublas::{sys as blas_sys, CudaBlas, Gemm, GemmConfig};
use cudarc::driver::sys::CUevent_flags;
use shift_core::{exp2i, FixedPoint};
use shift_kernels_cpu::{Level, ShiftLinear, ShiftMatrix};

use crate::device::CudaDevice;
use crate::error::CudaError;
use crate::plan::LinearPlan;
use crate::weights::GpuWeights;

/// One measured case.
#[derive(Debug, Clone)]
pub struct BenchRow {
    /// Case name.
    pub case: String,
    /// Median milliseconds of the shift kernel.
    pub kernel_ms: f64,
    /// Bytes the kernel reads and writes, per call.
    pub bytes: f64,
    /// Shift-add terms (weights x batch) per call.
    pub terms: f64,
    /// Median milliseconds of cuBLAS SGEMM on the same shape, if cuBLAS is there.
    pub cublas_ms: Option<f64>,
    /// The kernel's totals equal shift-kernels-cpu's.
    pub exact: bool,
}

impl BenchRow {
    /// Achieved bandwidth in GB/s.
    pub fn gbps(&self) -> f64 {
        self.bytes / self.kernel_ms / 1e6
    }

    /// Achieved shift-add terms per second, in G/s.
    pub fn gterms(&self) -> f64 {
        self.terms / self.kernel_ms / 1e6
    }
}

/// The whole report.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Device name and compute capability.
    pub device: String,
    /// Measured device-to-device copy bandwidth (read + write), GB/s: the ceiling.
    pub copy_gbps: f64,
    /// Why cuBLAS is not compared, when it is not.
    pub cublas_missing: Option<String>,
    /// The cases.
    pub rows: Vec<BenchRow>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Median milliseconds of `f` on the device's stream, timed with CUDA events, after `warm`
/// untimed calls.
fn time(
    dev: &CudaDevice,
    warm: usize,
    reps: usize,
    mut f: impl FnMut() -> Result<(), CudaError>,
) -> Result<f64, CudaError> {
    for _ in 0..warm {
        f()?;
    }
    let ctx = dev.context();
    let mut ms = Vec::with_capacity(reps);
    for _ in 0..reps.max(1) {
        let start = ctx.new_event(Some(CUevent_flags::CU_EVENT_DEFAULT))?;
        let end = ctx.new_event(Some(CUevent_flags::CU_EVENT_DEFAULT))?;
        start.record(dev.stream())?;
        f()?;
        end.record(dev.stream())?;
        ms.push(start.elapsed_ms(&end)? as f64);
    }
    Ok(median(ms))
}

/// A small deterministic generator (the benchmark needs no statistical quality).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }
    /// Q weights at 5 bits: ±2^p, p in [-15, 0], no zeros.
    fn weight(&mut self) -> f32 {
        let r = self.next();
        let s = if r & 1 == 0 { 1.0 } else { -1.0 };
        s * exp2i(-(((r >> 1) % 16) as i32))
    }
    /// Uniform in [-1, 1).
    fn input(&mut self) -> f32 {
        (self.next() as f32 / 2_147_483_648.0) - 1.0
    }
}

/// Runs the cases with `reps` timed repetitions each.
pub fn run(dev: &Arc<CudaDevice>, reps: usize) -> Result<BenchReport, CudaError> {
    let s = dev.stream();
    // The ceiling: a 256 MiB device-to-device copy.
    let n_copy = 64 << 20;
    let src = s.alloc_zeros::<f32>(n_copy)?;
    let mut dst = s.alloc_zeros::<f32>(n_copy)?;
    let copy_ms = time(dev, 3, reps, || Ok(s.memcpy_dtod(&src, &mut dst)?))?;
    let copy_gbps = 2.0 * 4.0 * n_copy as f64 / copy_ms / 1e6;
    drop((src, dst));

    // SAFETY: only dlopens cuBLAS by its usual names.
    let blas = if unsafe { blas_sys::is_culib_present() } {
        Some(CudaBlas::new(s.clone()).map_err(|e| CudaError::Cublas(e.to_string()))?)
    } else {
        None
    };
    let cublas_missing = blas
        .is_none()
        .then(|| "libcublas.so (libcublas.so.12) cannot be opened".to_string());

    let mut rows = Vec::new();
    let mut rng = Lcg(16);
    for (m, k, batch, ab) in [
        (8192usize, 8192usize, 1usize, (16u32, 16u32)),
        (8192, 8192, 1, (8, 8)),
        (4096, 4096, 256, (16, 16)),
        (4096, 4096, 256, (8, 8)),
    ] {
        let act = FixedPoint::new(ab.0, ab.1).map_err(shift_kernels_cpu::KernelError::from)?;
        let w: Vec<f32> = (0..m * k).map(|_| rng.weight()).collect();
        let x: Vec<f32> = (0..batch * k).map(|_| rng.input()).collect();
        let gw = GpuWeights::from_weights(&w, m, k)?;
        let plan = LinearPlan::new(gw, None, act)?;
        let job = plan.job(&x, batch, &dev.tuning())?;
        let words = dev.upload(plan.weights().words())?;
        let xd = dev.upload(&job.x)?;
        let init = dev.upload(&job.init)?;
        let mut out = s.alloc_zeros::<i64>(job.out_len)?;
        let ms = time(dev, 3, reps, || {
            s.memset_zeros(&mut out)?;
            dev.launch(&job, &words, &xd, &init, &mut out)
        })?;
        // Exactness of what was timed, against the CPU layer.
        let got = job.finish(s.clone_dtoh(&out)?);
        let cpu = ShiftLinear::new(ShiftMatrix::from_weights(&w, m, k)?, None, act)?;
        let want = cpu.forward_fixed(&x, batch, Level::detect())?;
        let cublas_ms = match &blas {
            None => None,
            Some(blas) => {
                let a = dev.upload(&w)?;
                let b = dev.upload(&x)?;
                let mut c = s.alloc_zeros::<f32>(m * batch)?;
                let cfg = GemmConfig {
                    transa: blas_sys::cublasOperation_t::CUBLAS_OP_T,
                    transb: blas_sys::cublasOperation_t::CUBLAS_OP_N,
                    m: m as i32,
                    n: batch as i32,
                    k: k as i32,
                    alpha: 1.0f32,
                    lda: k as i32,
                    ldb: k as i32,
                    beta: 0.0f32,
                    ldc: m as i32,
                };
                Some(time(dev, 3, reps, || {
                    // SAFETY: a is [m][k] row-major (= k x m column-major, transposed), b is
                    // [batch][k] (= k x batch), c is m x batch: the sizes the config names.
                    unsafe { blas.gemm(cfg, &a, &b, &mut c) }
                        .map_err(|e| CudaError::Cublas(e.to_string()))
                })?)
            }
        };
        let wb = plan.weights().device_bytes() as f64;
        rows.push(BenchRow {
            case: format!(
                "{}_{m}x{k}_b{batch}_wb5_ab{}_{} ({})",
                if batch == 1 { "gemv" } else { "gemm" },
                ab.0,
                ab.1,
                job.kernel
            ),
            kernel_ms: ms,
            bytes: wb + 4.0 * job.x.len() as f64 + 8.0 * job.out_len as f64,
            terms: (m * k * batch) as f64,
            cublas_ms,
            exact: got == want,
        });
    }
    let (maj, min) = dev.capability();
    Ok(BenchReport {
        device: format!("{} (sm_{maj}{min})", dev.name()),
        copy_gbps,
        cublas_missing,
        rows,
    })
}

impl BenchReport {
    /// The report as a Markdown table.
    pub fn to_markdown(&self) -> String {
        let mut s = format!(
            "device: {}; copy ceiling {:.0} GB/s (device-to-device, read + write)\n",
            self.device, self.copy_gbps
        );
        if let Some(why) = &self.cublas_missing {
            s += &format!("cuBLAS not compared: {why}\n");
        }
        s += "\n| case | shift kernel ms | GB/s | % of copy | G terms/s | cuBLAS SGEMM ms | \
              cuBLAS GFLOP/s | speedup | exact vs CPU |\n|---|---|---|---|---|---|---|---|---|\n";
        for r in &self.rows {
            let (cb, gf, sp) = match r.cublas_ms {
                Some(c) => (
                    format!("{c:.4}"),
                    format!("{:.0}", 2.0 * r.terms / c / 1e6),
                    format!("{:.2}x", c / r.kernel_ms),
                ),
                None => ("-".into(), "-".into(), "-".into()),
            };
            s += &format!(
                "| {} | {:.4} | {:.0} | {:.0} % | {:.0} | {cb} | {gf} | {sp} | {} |\n",
                r.case,
                r.kernel_ms,
                r.gbps(),
                100.0 * r.gbps() / self.copy_gbps,
                r.gterms(),
                r.exact
            );
        }
        s
    }
}
