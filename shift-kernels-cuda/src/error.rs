//! The errors of the CUDA kernels.

use thiserror::Error;

/// Errors of the CUDA shift kernels: no GPU is an error naming the reason, never a panic.
#[derive(Debug, Error)]
pub enum CudaError {
    /// The CUDA driver library (`libcuda.so.1`) cannot be opened: no NVIDIA driver here.
    #[error(
        "no CUDA driver: libcuda.so (libcuda.so.1) cannot be opened (no NVIDIA driver installed \
         or not on the library path)"
    )]
    NoDriver,
    /// The driver is there but has no usable device (or failed to start).
    #[error("no CUDA device: {0}")]
    NoDevice(String),
    /// A driver call failed.
    #[error("CUDA driver: {0}")]
    Driver(String),
    /// cuBLAS (the benchmark's baseline) is missing or failed.
    #[error("cuBLAS: {0}")]
    Cublas(String),
    /// The layer or the call is invalid, or its exact sum cannot be held (the same errors as
    /// shift-kernels-cpu's).
    #[error(transparent)]
    Kernel(#[from] shift_kernels_cpu::KernelError),
}

impl From<cudarc::driver::DriverError> for CudaError {
    fn from(e: cudarc::driver::DriverError) -> Self {
        CudaError::Driver(e.to_string())
    }
}
