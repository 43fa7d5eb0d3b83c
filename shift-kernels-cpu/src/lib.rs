//! Integer shift inference kernels for CPU.
//!
//! Not implemented yet. This crate will hold GEMM/GEMV and convolution kernels over
//! `shift-core` packed shift weights and fixed-point activations: a scalar reference plus
//! AVX2, AVX-512 and NEON paths chosen at run time, threaded with rayon.
