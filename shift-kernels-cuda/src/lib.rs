//! Integer shift inference kernels for CUDA.
//!
//! Not implemented yet. This crate will hold the `shift-kernels-cpu` kernels as PTX, loaded
//! at run time through `cudarc`, so that it builds and its non-GPU tests pass without CUDA.
