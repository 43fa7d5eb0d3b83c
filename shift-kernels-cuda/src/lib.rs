#![doc = include_str!("../README.md")]

mod device;
mod error;
mod layer;
pub mod params;
pub mod plan;
mod weights;

pub mod bench;

pub use device::{driver_present, gpu_available, CudaDevice, KERNELS, PTX};
pub use error::CudaError;
pub use layer::{CudaShiftConv2d, CudaShiftLinear};
pub use plan::{ConvPlan, Job, LinearPlan, Tuning};
pub use weights::GpuWeights;
