//! `-e --use-kernel` runs the shift layers on the integer kernels and scores what the float
//! emulation scores: the PyTorch-trained MNIST linear PS checkpoint (9851/10000), and an MNIST
//! conv model converted to DeepShift-Q from PyTorch-written float weights (both conv and
//! linear shift layers). Skips (saying so) without `data/mnist`, unless
//! `DEEPSHIFT_REQUIRE_MNIST=1` (CI).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `deepshift mnist ARGS -e --weights W [--use-kernel]`; returns (loss, accuracy) from
/// its `test_log.csv` and its standard error.
fn evaluate(args: &[&str], weights: &Path, kernel: bool, data: &Path) -> ((f64, f64), String) {
    let out_dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deepshift"));
    cmd.arg("mnist")
        .args(args)
        .arg("-e")
        .arg("--weights")
        .arg(weights);
    if kernel {
        cmd.arg("--use-kernel");
    }
    let out = cmd
        .arg("--data-dir")
        .arg(data)
        .arg("--model-dir")
        .arg(out_dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    let log = walk(out_dir.path(), "test_log.csv");
    let row: Vec<f64> = std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    ((row[0], row[1]), stderr)
}

fn walk(dir: &Path, name: &str) -> PathBuf {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            let found = walk(&p, name);
            if found.exists() {
                return found;
            }
        } else if p.file_name().unwrap() == name {
            return p;
        }
    }
    dir.join("missing")
}

#[test]
fn pytorch_ps_checkpoint_scores_the_same_on_the_kernels() {
    let Some(data) = common::mnist_root_or_skip() else {
        return;
    };
    let weights = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mnist_linear_ps_pytorch.safetensors");
    let args = ["--shift-depth", "1000", "--shift-type", "PS"];
    let ((loss_f, acc_f), _) = evaluate(&args, &weights, false, &data);
    let ((loss_k, acc_k), stderr) = evaluate(&args, &weights, true, &data);
    assert!(
        stderr.contains("shift layers on the integer kernels"),
        "{stderr}"
    );
    assert!((acc_k - 0.9851).abs() <= 0.0005, "kernel accuracy {acc_k}");
    assert!((acc_k - acc_f).abs() <= 0.0005, "{acc_k} vs float {acc_f}");
    assert!((loss_k - loss_f).abs() < 1e-5, "{loss_k} vs float {loss_f}");
}

#[test]
fn conv_q_model_scores_the_same_on_the_kernels() {
    let Some(data) = common::mnist_root_or_skip() else {
        return;
    };
    let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/golden/mnist_conv_float_logits.safetensors");
    if !golden.exists() {
        eprintln!("SKIPPED: {} missing", golden.display());
        return;
    }
    // The model's tensors only (the file also holds a sample input and its outputs).
    let mut dict = shift_nn::load_safetensors(&golden).unwrap();
    dict.tensors
        .retain(|name, _| name != "input" && name != "log_probs");
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("mnist_conv_float.safetensors");
    shift_nn::save_safetensors(&dict, &weights).unwrap();
    let args = [
        "--type",
        "conv",
        "--shift-depth",
        "2",
        "--shift-type",
        "Q",
        "-wb",
        "4",
        "-ab",
        "8",
        "8",
    ];
    let ((loss_f, acc_f), _) = evaluate(&args, &weights, false, &data);
    let ((loss_k, acc_k), stderr) = evaluate(&args, &weights, true, &data);
    assert!(
        stderr.contains("integer kernels") && stderr.contains("): 4,"),
        "{stderr}"
    );
    assert!((acc_k - acc_f).abs() <= 0.0005, "{acc_k} vs float {acc_f}");
    assert!(
        (loss_k - loss_f).abs() < 1e-4 * (1.0 + loss_f),
        "{loss_k} vs float {loss_f}"
    );
}
