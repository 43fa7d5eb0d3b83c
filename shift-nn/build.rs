//! Sets `cfg(shift_avx512)` when the compiler has the AVX-512 intrinsics (stable from Rust
//! 1.89): the crate declares Rust 1.85, and the AVX-512 GEMM kernel is compiled only with a
//! compiler that has them (with an older one, AVX-512 CPUs run the AVX2 kernel).

use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(shift_avx512)");
    println!("cargo::rerun-if-env-changed=RUSTC");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_default();
    // "rustc 1.95.0 (59807616e 2026-04-14)": the minor version of 1.x.
    let minor = version
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.split('.').nth(1))
        .and_then(|m| m.parse::<u32>().ok());
    if minor.is_some_and(|m| m >= 89) {
        println!("cargo::rustc-cfg=shift_avx512");
    }
}
