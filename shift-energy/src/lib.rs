//! Energy and emissions measurement (RAPL, NVML, estimate).
//!
//! Being written; see the README status table.
