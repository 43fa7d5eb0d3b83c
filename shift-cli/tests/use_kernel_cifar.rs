//! `deepshift cifar10 -e --use-kernel` on a ResNet-20 (convolutions, batch norms, option-A
//! shortcuts, the fc layer) trained one epoch on a tiny CIFAR-10 written in the official
//! binary format: the kernels give the float emulation's loss and accuracy, from the weights
//! file and from its packed export.

mod tiny_data;

use std::path::Path;
use std::process::Command;

fn succeeds(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_deepshift"))
        .args(args)
        .output()
        .expect("deepshift runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{args:?} failed:\n{text}");
    text
}

fn test_log(run: &Path) -> (f64, f64) {
    let text = std::fs::read_to_string(run.join("test_log.csv")).unwrap();
    let row: Vec<f64> = text
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    (row[0], row[1])
}

#[test]
fn resnet20_on_the_kernels_matches_the_float_emulation() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    tiny_data::write_cifar10(&data, 4, 16);
    let data = data.to_str().unwrap();
    let models = tmp.path().join("models");
    let m = models.to_str().unwrap();
    let model = [
        "--arch",
        "resnet20",
        "--shift-depth",
        "1000",
        "-st",
        "PS",
        "-wb",
        "5",
    ];
    let mut train = vec!["cifar10", "--epochs", "1", "-b", "8", "--data-dir", data];
    train.extend(model);
    train.extend(["--model-dir", m]);
    succeeds(&train);
    let run = models.join("cifar10/resnet20/shift_ps_1000_wb_5");
    let weights = run.join("weights.safetensors");
    let packed = tmp.path().join("packed.safetensors");
    let mut export = vec!["export", "--packed", "--dataset", "cifar10"];
    export.extend(model);
    export.extend(["--weights", weights.to_str().unwrap()]);
    export.extend(["--out", packed.to_str().unwrap()]);
    let text = succeeds(&export);
    assert!(text.contains("20 shift layers packed"), "{text}");
    let mut results = Vec::new();
    for (file, kernel) in [(&weights, false), (&weights, true), (&packed, true)] {
        let mut eval = vec![
            "cifar10",
            "-e",
            "--test-batch-size",
            "5",
            "--data-dir",
            data,
        ];
        eval.extend(model);
        eval.extend(["--weights", file.to_str().unwrap(), "--model-dir", m]);
        if kernel {
            eval.push("--use-kernel");
        }
        let text = succeeds(&eval);
        assert_eq!(text.contains("integer kernels"), kernel, "{text}");
        results.push(test_log(&run));
    }
    let (loss, acc) = results[0];
    for &(l, a) in &results[1..] {
        assert_eq!(a, acc, "{results:?}");
        assert!((l - loss).abs() <= 1e-4 * (1.0 + loss.abs()), "{results:?}");
    }
}
