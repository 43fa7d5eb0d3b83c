//! `deepshift export --packed` writes a safetensors file with U8 packed shift weights, several
//! times smaller than f32, the same bytes every time, and `-e [--use-kernel] --weights OUT`
//! scores what the original weights score.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn deepshift(args: &[&str], paths: &[(&str, &Path)]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deepshift"));
    cmd.args(args);
    for (flag, p) in paths {
        cmd.arg(flag).arg(p);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    text
}

fn golden_ps() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mnist_linear_ps_pytorch.safetensors")
}

#[test]
fn packed_export_is_small_reproducible_and_readable() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        dir.path().join("a.safetensors"),
        dir.path().join("b.safetensors"),
    );
    let args = [
        "export",
        "--packed",
        "--shift-depth",
        "1000",
        "--shift-type",
        "PS",
        "-wb",
        "5",
    ];
    let text = deepshift(&args, &[("--weights", &golden_ps()), ("--out", &a)]);
    assert!(text.contains("3 shift layers packed"), "{text}");
    deepshift(&args, &[("--weights", &golden_ps()), ("--out", &b)]);
    let bytes = std::fs::read(&a).unwrap();
    assert_eq!(bytes, std::fs::read(&b).unwrap(), "same model, same bytes");
    // 669,706 weights: 4 bytes each as f32, 5.33 bits packed.
    let weights = 784 * 512 + 512 * 512 + 512 * 10;
    assert!(bytes.len() * 5 < 4 * weights, "{} bytes", bytes.len());
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let packed = st.tensor("fc1.packed").unwrap();
    assert_eq!(packed.dtype(), safetensors::Dtype::U8);
    let m = shift_core::PackedShiftWeights::from_bytes(packed.data()).unwrap();
    assert_eq!((m.rows(), m.cols(), m.code_bits()), (512, 784, 5));
    assert!(st.tensor("fc1.shift").is_err() && st.tensor("fc1.bias").is_ok());
    let meta = safetensors::SafeTensors::read_metadata(&bytes).unwrap().1;
    let meta = meta.metadata().clone().unwrap();
    assert_eq!(meta["packed_format"], "DSPW1");
    assert_eq!(meta["fc2.packed_shape"], "[512,512]");
    // Without --packed, or without the shift layers, nothing is written.
    let out = Command::new(env!("CARGO_BIN_EXE_deepshift"))
        .args(["export", "--shift-depth", "1000", "--out"])
        .arg(dir.path().join("c"))
        .arg("--weights")
        .arg(golden_ps())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--packed"));
}

fn accuracy(model_dir: &Path) -> f64 {
    let log = std::fs::read_dir(model_dir.join("mnist"))
        .unwrap()
        .flat_map(|a| std::fs::read_dir(a.unwrap().path()).unwrap())
        .map(|l| l.unwrap().path().join("test_log.csv"))
        .find(|p| p.exists())
        .unwrap();
    let text = std::fs::read_to_string(log).unwrap();
    text.lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn packed_file_runs_on_the_kernels() {
    let Some(data) = common::mnist_root_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let packed = dir.path().join("ps.safetensors");
    let flags = ["--shift-depth", "1000", "--shift-type", "PS"];
    let mut export = vec!["export", "--packed"];
    export.extend(flags);
    deepshift(&export, &[("--weights", &golden_ps()), ("--out", &packed)]);
    for kernel in [true, false] {
        let models = dir.path().join(format!("models-{kernel}"));
        let mut eval = vec!["mnist", "-e"];
        eval.extend(flags);
        if kernel {
            eval.push("--use-kernel");
        }
        let text = deepshift(
            &eval,
            &[
                ("--weights", &packed),
                ("--data-dir", &data),
                ("--model-dir", &models),
            ],
        );
        assert!(text.contains("9851/10000"), "{text}");
        assert!((accuracy(&models) - 0.9851).abs() < 1e-9);
    }
}

#[test]
fn packed_conv_q_model_scores_what_its_float_weights_score() {
    let Some(data) = common::mnist_root_or_skip() else {
        return;
    };
    let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/golden/mnist_conv_float_logits.safetensors");
    if !golden.exists() {
        eprintln!("SKIPPED: {} missing", golden.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut dict = shift_nn::load_safetensors(&golden).unwrap();
    dict.tensors.retain(|n, _| n != "input" && n != "log_probs");
    let float = dir.path().join("float.safetensors");
    shift_nn::save_safetensors(&dict, &float).unwrap();
    let packed = dir.path().join("q.safetensors");
    let flags = [
        "--type",
        "conv",
        "--shift-depth",
        "2",
        "--shift-type",
        "Q",
        "-wb",
        "4",
    ];
    let mut export = vec!["export", "--packed"];
    export.extend(flags);
    let text = deepshift(&export, &[("--weights", &float), ("--out", &packed)]);
    assert!(text.contains("4 shift layers packed"), "{text}");
    let run = |weights: &Path, kernel: bool| {
        let models = dir.path().join(format!(
            "m-{kernel}-{}",
            weights.display().to_string().len()
        ));
        let mut eval = vec!["mnist", "-e"];
        eval.extend(flags);
        if kernel {
            eval.push("--use-kernel");
        }
        deepshift(
            &eval,
            &[
                ("--weights", weights),
                ("--data-dir", &data),
                ("--model-dir", &models),
            ],
        );
        accuracy(&models)
    };
    let (from_float, from_packed) = (run(&float, false), run(&packed, true));
    assert!(
        (from_float - from_packed).abs() <= 0.0005,
        "{from_float} vs {from_packed}"
    );
}
