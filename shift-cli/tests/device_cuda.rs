//! `--device cuda` (shift-kernels-cuda): it needs `-e --use-kernel`, and where no CUDA driver
//! is installed it is an error naming the missing library, before any output folder is made.
//! (Its results on a GPU are checked by shift-kernels-cuda/gpu/run-on-gpu.sh.)

use std::process::Command;

fn deepshift(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_deepshift"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn device_cuda_needs_the_kernels() {
    let (ok, err) = deepshift(&["mnist", "--device", "cuda"]);
    assert!(!ok);
    assert!(err.contains("add -e --use-kernel"), "{err}");
    let (ok, err) = deepshift(&["mnist", "--device", "tpu"]);
    assert!(!ok);
    assert!(err.contains("invalid value 'tpu'"), "{err}");
}

#[test]
fn no_gpu_is_a_clear_error() {
    if shift_kernels_cuda::driver_present() {
        eprintln!("a CUDA driver is present: the no-driver error cannot be seen here");
        return;
    }
    let weights = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/mnist_linear_ps_pytorch.safetensors"
    );
    let dir = tempfile::tempdir().unwrap();
    let model_dir = dir.path().join("models");
    let (ok, err) = deepshift(&[
        "mnist",
        "-e",
        "--use-kernel",
        "--device",
        "cuda",
        "--shift-depth",
        "1000",
        "--shift-type",
        "PS",
        "--weights",
        weights,
        "--model-dir",
        model_dir.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        err.contains("--device cuda") && err.contains("libcuda.so"),
        "{err}"
    );
    assert!(!model_dir.exists(), "no output folder without a GPU");
    let (ok, err) = deepshift(&["bench", "kernels", "--device", "cuda"]);
    assert!(!ok);
    assert!(err.contains("libcuda.so"), "{err}");
}
