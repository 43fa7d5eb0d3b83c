//! The kernels' CUDA C source, compiled as C++ for the host (`-DSHIFT_EMU`, `cuda/emu.h`: one
//! host thread runs every thread of the grid), equals shift-kernels-cpu's scalar reference
//! bit for bit on every case of `common`. This checks the kernels' arithmetic, decoding,
//! indexing and launch plans without a GPU; `tests/gpu.rs` runs the same cases on the PTX.
//! Needs a C++ compiler (`$CXX`, else `c++`); without one the test says so and skips, except
//! under CI (`CI` set), where it fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use shift_kernels_cuda::params::{ConvParams, GemmParams, GemvParams, Params};
use shift_kernels_cuda::Job;

#[repr(C)]
#[derive(Clone, Copy)]
struct Dim3 {
    x: u32,
    y: u32,
    z: u32,
}

type Launch<P> = unsafe extern "C" fn(Dim3, Dim3, *const P);

struct Emulator {
    lib: libloading::Library,
    _dir: tempfile::TempDir,
}

impl Emulator {
    /// Compiles the kernels for the host, or says why it cannot.
    fn build() -> Result<Self, String> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("cuda");
        let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let lib: PathBuf = dir.path().join("libshift_emu.so");
        let out = Command::new(&cxx)
            .args(["-O2", "-std=c++17", "-fPIC", "-shared", "-DSHIFT_EMU"])
            .args([
                "-Wall",
                "-Wextra",
                "-Werror",
                "-Wno-unknown-pragmas",
                "-x",
                "c++",
            ])
            .arg("-I")
            .arg(&src)
            .arg(src.join("shift_kernels.cu"))
            .arg("-o")
            .arg(&lib)
            .output()
            .map_err(|e| format!("no C++ compiler ({cxx}: {e})"))?;
        if !out.status.success() {
            panic!(
                "the kernels do not compile as C++:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // SAFETY: the library is the one just built; its initialisers do nothing.
        let lib = unsafe { libloading::Library::new(&lib) }.map_err(|e| e.to_string())?;
        Ok(Self { lib, _dir: dir })
    }

    fn call<P>(&self, name: &str, grid: Dim3, block: Dim3, p: &P) {
        let sym = format!("emu_{name}");
        // SAFETY: every emu_ entry has this signature with the parameter struct of its
        // family (EMU_EXPORT in the source); `p`'s buffers are live host vectors.
        unsafe {
            let f: libloading::Symbol<Launch<P>> = self
                .lib
                .get(sym.as_bytes())
                .unwrap_or_else(|e| panic!("{sym}: {e}"));
            f(grid, block, p);
        }
    }

    /// Runs a job on host buffers.
    fn run(&self, job: &Job, words: &[u64]) -> Vec<i64> {
        let mut out = vec![0i64; job.out_len.max(1)];
        let mut params = job.params;
        params.set_buffers(
            words.as_ptr() as u64,
            job.x.as_ptr() as u64,
            job.init.as_ptr() as u64,
            out.as_mut_ptr() as u64,
        );
        let d = |(x, y, z): (u32, u32, u32)| Dim3 { x, y, z };
        let (g, b) = (d(job.grid), d(job.block));
        match &params {
            Params::Gemv(p) => self.call::<GemvParams>(&job.kernel, g, b, p),
            Params::Gemm(p) => self.call::<GemmParams>(&job.kernel, g, b, p),
            Params::Conv(p) => self.call::<ConvParams>(&job.kernel, g, b, p),
        }
        out.truncate(job.out_len);
        out
    }
}

fn emulator() -> Option<Emulator> {
    match Emulator::build() {
        Ok(e) => Some(e),
        Err(why) if std::env::var_os("CI").is_none() => {
            eprintln!("skipping the emulated kernels: {why}");
            None
        }
        Err(why) => panic!("CI: the emulated kernels need a C++ compiler: {why}"),
    }
}

/// The kernels a run used, for the coverage checks.
fn used(
    names: &std::cell::RefCell<std::collections::BTreeSet<String>>,
    prefix: &str,
) -> Vec<String> {
    let want: Vec<String> = shift_kernels_cuda::KERNELS
        .iter()
        .filter(|k| k.starts_with(prefix))
        .map(|k| k.to_string())
        .collect();
    want.into_iter()
        .filter(|k| !names.borrow().contains(k))
        .collect()
}

#[test]
fn emulated_linear_equals_reference() {
    let Some(emu) = emulator() else { return };
    let names = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let n = common::linear_cases(
        &mut |job, words| {
            names.borrow_mut().insert(job.kernel.clone());
            emu.run(job, words)
        },
        16,
        160,
    );
    assert_eq!(n, 160);
    for family in ["shift_gemv", "shift_gemm"] {
        assert_eq!(
            used(&names, family),
            Vec::<String>::new(),
            "kernels never run"
        );
    }
}

#[test]
fn emulated_conv_equals_reference() {
    let Some(emu) = emulator() else { return };
    let names = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let n = common::conv_cases(
        &mut |job, words| {
            names.borrow_mut().insert(job.kernel.clone());
            emu.run(job, words)
        },
        17,
    );
    assert_eq!(n, 27);
    assert_eq!(
        used(&names, "shift_conv"),
        Vec::<String>::new(),
        "kernels never run"
    );
}

#[test]
fn emulated_edges_equal_reference() {
    let Some(emu) = emulator() else { return };
    assert_eq!(common::edge_cases(&mut |job, words| emu.run(job, words)), 6);
}
