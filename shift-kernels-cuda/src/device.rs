//! The CUDA side: driver check, context, the embedded PTX module, and running a [`Job`].

use std::collections::HashMap;
use std::sync::Arc;

use cudarc::driver::{CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, DevicePtr};
use cudarc::driver::{LaunchConfig, PushKernelArg};
use cudarc::nvrtc::Ptx;

use crate::error::CudaError;
use crate::params::Params;
use crate::plan::{Job, Tuning};

/// The kernels' PTX (`ptx/shift_kernels.ptx`, generated from `cuda/shift_kernels.cu` by
/// `cargo xtask cuda-ptx`), embedded in the binary and JIT-compiled by the driver on load.
pub const PTX: &str = include_str!("../ptx/shift_kernels.ptx");

/// Every kernel entry point of [`PTX`].
pub const KERNELS: [&str; 16] = [
    "shift_gemv_i32_bin",
    "shift_gemv_i32_ter",
    "shift_gemv_i64_bin",
    "shift_gemv_i64_ter",
    "shift_gemm_i32_bin",
    "shift_gemm_i32_ter",
    "shift_gemm_i64_bin",
    "shift_gemm_i64_ter",
    "shift_conv1_i32_bin",
    "shift_conv1_i32_ter",
    "shift_conv1_i64_bin",
    "shift_conv1_i64_ter",
    "shift_conv4_i32_bin",
    "shift_conv4_i32_ter",
    "shift_conv4_i64_bin",
    "shift_conv4_i64_ter",
];

/// Whether the CUDA driver library can be opened. cudarc panics on its first call without
/// it, so every GPU path asks this first.
pub fn driver_present() -> bool {
    // SAFETY: only tries to dlopen the driver library by its usual names.
    unsafe { cudarc::driver::sys::is_culib_present() }
}

/// `Ok` when a CUDA device can be used, else the reason (no driver library, no device).
pub fn gpu_available() -> Result<(), CudaError> {
    if !driver_present() {
        return Err(CudaError::NoDriver);
    }
    match CudaContext::device_count() {
        Ok(n) if n > 0 => Ok(()),
        Ok(_) => Err(CudaError::NoDevice("the driver reports no device".into())),
        Err(e) => Err(CudaError::NoDevice(e.to_string())),
    }
}

/// One GPU with the kernels loaded.
#[derive(Debug)]
pub struct CudaDevice {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    #[allow(dead_code)]
    module: Arc<CudaModule>,
    functions: HashMap<&'static str, CudaFunction>,
    name: String,
    sm_count: u32,
    capability: (i32, i32),
}

impl CudaDevice {
    /// Opens device `ordinal`, loads the PTX and its kernels. A clear error without a driver
    /// or a device.
    pub fn new(ordinal: usize) -> Result<Arc<Self>, CudaError> {
        gpu_available()?;
        let ctx = CudaContext::new(ordinal).map_err(|e| CudaError::NoDevice(e.to_string()))?;
        let stream = ctx.default_stream();
        let module = ctx
            .load_module(Ptx::from_src(PTX))
            .map_err(|e| CudaError::Driver(format!("loading the kernels' PTX: {e}")))?;
        let mut functions = HashMap::new();
        for k in KERNELS {
            functions.insert(k, module.load_function(k)?);
        }
        let sm_count = ctx.attribute(
            cudarc::driver::sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
        )? as u32;
        Ok(Arc::new(Self {
            name: ctx.name()?,
            capability: ctx.compute_capability()?,
            ctx,
            stream,
            module,
            functions,
            sm_count,
        }))
    }

    /// The device's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Compute capability (major, minor).
    pub fn capability(&self) -> (i32, i32) {
        self.capability
    }

    /// The launch-shape defaults for this device.
    pub fn tuning(&self) -> Tuning {
        Tuning {
            sm_count: self.sm_count,
            ..Default::default()
        }
    }

    /// The context (for the benchmark's events and cuBLAS).
    pub fn context(&self) -> &Arc<CudaContext> {
        &self.ctx
    }

    /// The stream every launch runs on.
    pub fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }

    /// Copies host data to a new device buffer.
    pub fn upload<T: cudarc::driver::DeviceRepr + cudarc::driver::ValidAsZeroBits>(
        &self,
        data: &[T],
    ) -> Result<CudaSlice<T>, CudaError> {
        if data.is_empty() {
            return Ok(self.stream.alloc_zeros(1)?);
        }
        Ok(self.stream.clone_htod(data)?)
    }

    /// Launches `job` on buffers already on the device (`out` zeroed by the caller when the
    /// job is a GEMV, whose slices add into it).
    pub fn launch(
        &self,
        job: &Job,
        words: &CudaSlice<u64>,
        x: &CudaSlice<i32>,
        init: &CudaSlice<i64>,
        out: &mut CudaSlice<i64>,
    ) -> Result<(), CudaError> {
        if job.empty {
            return Ok(());
        }
        let f = self
            .functions
            .get(job.kernel.as_str())
            .ok_or_else(|| CudaError::Driver(format!("no kernel {} in the PTX", job.kernel)))?;
        let s = &self.stream;
        let (w, _a) = words.device_ptr(s);
        let (xp, _b) = x.device_ptr(s);
        let (ip, _c) = init.device_ptr(s);
        let (op, _d) = out.device_ptr(s);
        let mut params = job.params;
        params.set_buffers(w, xp, ip, op);
        let cfg = LaunchConfig {
            grid_dim: job.grid,
            block_dim: job.block,
            shared_mem_bytes: 0,
        };
        let mut b = s.launch_builder(f);
        match &params {
            Params::Gemv(p) => b.arg(p),
            Params::Gemm(p) => b.arg(p),
            Params::Conv(p) => b.arg(p),
        };
        // SAFETY: the parameter block matches the kernel's (same family, `#[repr(C)]`), its
        // buffers are live for the launch and as large as the plan says (`Job::out_len`,
        // the input and start values uploaded from the job itself).
        unsafe { b.launch(cfg) }?;
        Ok(())
    }

    /// Runs `job` against resident weights: uploads its input and start values, launches,
    /// and returns the kernel's totals.
    pub fn run(&self, job: &Job, words: &CudaSlice<u64>) -> Result<Vec<i64>, CudaError> {
        if job.empty {
            return Ok(job.empty_output());
        }
        let x = self.upload(&job.x)?;
        let init = self.upload(&job.init)?;
        let mut out = self.stream.alloc_zeros::<i64>(job.out_len.max(1))?;
        self.launch(job, words, &x, &init, &mut out)?;
        let mut raw = self.stream.clone_dtoh(&out)?;
        raw.truncate(job.out_len);
        Ok(raw)
    }
}
