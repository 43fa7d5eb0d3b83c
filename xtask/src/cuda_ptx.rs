//! `cargo xtask cuda-ptx [--check]`: regenerates shift-kernels-cuda's committed PTX from its
//! CUDA C source with NVRTC (opened at run time; PyPI's `nvidia-cuda-nvrtc-cu12==12.0.140`,
//! its `nvidia/cuda_nvrtc/lib` on `LD_LIBRARY_PATH`). NVRTC 12.0 writes PTX ISA 8.0, which
//! every driver since CUDA 12.0 JIT-compiles; `compute_80` runs on sm_80 and later.
//! `--check` compares instead of writing and fails when the committed PTX is stale.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use cudarc::nvrtc::result as nvrtc;

/// The NVRTC the committed PTX comes from (the PTX header names it).
pub const NVRTC_PACKAGE: &str = "nvidia-cuda-nvrtc-cu12==12.0.140";

/// NVRTC options: the oldest architecture the kernels target; device code only.
const OPTIONS: [&str; 3] = [
    "--gpu-architecture=compute_80",
    "--std=c++17",
    "-default-device",
];

/// `cargo xtask cuda-ptx` flags.
#[derive(Debug, clap::Args)]
pub struct CudaPtxArgs {
    /// Fail if the committed PTX differs from what the sources give, instead of writing it.
    #[arg(long)]
    pub check: bool,
}

/// (source, PTX) pairs under shift-kernels-cuda.
fn sources(root: &Path) -> Vec<(PathBuf, PathBuf)> {
    let crate_dir = root.join("shift-kernels-cuda");
    vec![(
        crate_dir.join("cuda/shift_kernels.cu"),
        crate_dir.join("ptx/shift_kernels.ptx"),
    )]
}

/// Compiles one CUDA C file to PTX.
fn compile(src: &Path) -> Result<String> {
    let text =
        std::fs::read_to_string(src).with_context(|| format!("reading {}", src.display()))?;
    let name = src
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("kernel.cu");
    let text = CString::new(text).context("a NUL byte in the source")?;
    let name = CString::new(name)?;
    let prog = nvrtc::create_program(&text, Some(&name))
        .map_err(|e| anyhow::anyhow!("nvrtcCreateProgram: {e:?}"))?;
    // SAFETY: prog is a live program, destroyed once below.
    let compiled = unsafe { nvrtc::compile_program(prog, &OPTIONS) };
    // SAFETY: as above.
    let log = unsafe { nvrtc::get_program_log(prog) }.unwrap_or_default();
    let log: String = log
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8 as char)
        .collect();
    let ptx = compiled.map(|()| {
        // SAFETY: as above; the program compiled.
        unsafe { nvrtc::get_ptx(prog) }
    });
    // SAFETY: as above.
    unsafe { nvrtc::destroy_program(prog) }.ok();
    let ptx = match ptx {
        Ok(Ok(p)) => p,
        _ => bail!("{} does not compile:\n{log}", src.display()),
    };
    Ok(ptx
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8 as char)
        .collect())
}

/// Runs the command.
pub fn run(args: &CudaPtxArgs) -> Result<()> {
    // SAFETY: only tries to dlopen libnvrtc by its usual names.
    if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        bail!(
            "NVRTC (libnvrtc.so.12) cannot be opened: `pip install --target DIR {NVRTC_PACKAGE}` \
             and put DIR/nvidia/cuda_nvrtc/lib on LD_LIBRARY_PATH"
        );
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("the workspace root")?;
    let mut stale = Vec::new();
    for (src, out) in sources(root) {
        let ptx = compile(&src)?;
        if args.check {
            let committed = std::fs::read_to_string(&out).unwrap_or_default();
            if committed != ptx {
                stale.push(out.display().to_string());
            } else {
                println!("{}: up to date", out.display());
            }
        } else {
            std::fs::write(&out, &ptx).with_context(|| format!("writing {}", out.display()))?;
            println!("{} ({} lines)", out.display(), ptx.lines().count());
        }
    }
    if !stale.is_empty() {
        bail!(
            "the committed PTX is not what the CUDA sources give (run `cargo xtask cuda-ptx` \
             with {NVRTC_PACKAGE}): {}",
            stale.join(", ")
        );
    }
    Ok(())
}
