//! The same run gives the same bytes: one MNIST epoch of a DeepShift-PS linear model trained
//! twice with the same seed writes identical `weights.safetensors` and `train_log.csv`
//! (metadata and tensors in sorted order; no hash-ordered maps), and checkpoints whose tensors
//! are identical (their metadata also holds the epochs' wall times). The
//! runs pass `--data-dir` as the dataset's own folder (`data/mnist`), which must work as well as
//! the data root. Skips (saying so) without MNIST, unless `DEEPSHIFT_REQUIRE_MNIST=1` (CI).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    format!("{:x}", Sha256::digest(bytes))
}

fn train_one_epoch(mnist: &Path, model_dir: &Path) -> PathBuf {
    let out = Command::new(env!("CARGO_BIN_EXE_deepshift"))
        .args([
            "mnist",
            "--shift-depth",
            "1000",
            "--shift-type",
            "PS",
            "--epochs",
            "1",
            "--seed",
            "3",
            "--weight-decay",
            "1e-4",
        ])
        .arg("--data-dir")
        .arg(mnist)
        .arg("--model-dir")
        .arg(model_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    model_dir.join("mnist/simple_linear/shift_ps_1000_wb_5")
}

#[test]
fn one_mnist_epoch_twice_gives_identical_files() {
    let Some(data) = common::mnist_root_or_skip() else {
        return;
    };
    let mnist = data.join("mnist");
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (run_a, run_b) = (
        train_one_epoch(&mnist, a.path()),
        train_one_epoch(&mnist, b.path()),
    );
    for file in ["weights.safetensors", "train_log.csv"] {
        let (ha, hb) = (sha256(&run_a.join(file)), sha256(&run_b.join(file)));
        assert_eq!(ha, hb, "{file} differs between two runs with the same seed");
    }
    let ckpt =
        |dir: &Path| shift_nn::load_safetensors(&dir.join("checkpoint.safetensors")).unwrap();
    let (ca, cb) = (ckpt(&run_a), ckpt(&run_b));
    assert_eq!(ca.tensors.len(), cb.tensors.len());
    for (name, t) in &ca.tensors {
        let same = t
            .iter()
            .zip(cb.tensors[name].iter())
            .all(|(x, y)| x.to_bits() == y.to_bits());
        assert!(same, "checkpoint tensor `{name}` differs between the runs");
    }
}
