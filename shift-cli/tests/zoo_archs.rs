//! The zoo's torchvision GoogLeNet, DenseNet-121 and EfficientNet-B0 through the CLI: each
//! trains one epoch on a tiny data set with `--shift-depth` counted as the reference does
//! (the last convolutions in registration order, plus the always-converted classifier), and
//! the shifted EfficientNet evaluates the same on the integer kernels (`--use-kernel`).

mod tiny_data;

use std::path::Path;
use std::process::Command;

/// Runs `deepshift args`, which must succeed; returns its standard output and error, in
/// that order.
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

fn converted(run: &Path) -> String {
    let summary = std::fs::read_to_string(run.join("model_summary.txt"))
        .unwrap_or_else(|e| panic!("{}: {e}", run.display()));
    assert!(run.join("weights.safetensors").is_file());
    summary
}

#[test]
fn cifar10_efficientnet_b0_trains_with_a_shift_depth() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let models = tmp.path().join("models");
    tiny_data::write_cifar10(&data, 2, 4);
    succeeds(&[
        "cifar10",
        "--arch",
        "efficientnet_b0",
        "--shift-depth",
        "3",
        "-st",
        "PS",
        "--epochs",
        "1",
        "-b",
        "4",
        "--test-batch-size",
        "4",
        "--data-dir",
        data.to_str().unwrap(),
        "--model-dir",
        models.to_str().unwrap(),
    ]);
    let summary = converted(&models.join("cifar10/efficientnet_b0/shift_ps_3_wb_5"));
    // features.8.0, the last block's projection and its SE fc2, and classifier.1.
    assert!(
        summary.contains("converted to shift layers: 4"),
        "{summary}"
    );

    // Every layer shifted, then evaluated on the integer kernels too: depthwise 5x5
    // convolutions with padding 2 on 1x1 maps and the SE's 1x1 convolutions on 1x1 inputs.
    let common = [
        "cifar10",
        "--arch",
        "efficientnet_b0",
        "--shift-depth",
        "1000",
        "-st",
        "PS",
        "--test-batch-size",
        "4",
        "--data-dir",
        data.to_str().unwrap(),
        "--model-dir",
        models.to_str().unwrap(),
    ];
    let mut train = common.to_vec();
    train.extend(["--epochs", "1", "-b", "4"]);
    succeeds(&train);
    let run = models.join("cifar10/efficientnet_b0/shift_ps_1000_wb_5");
    assert!(converted(&run).contains("converted to shift layers: 82"));
    let weights = run.join("weights.safetensors");
    let mut eval = common.to_vec();
    eval.extend(["-e", "--weights", weights.to_str().unwrap()]);
    let float_path = succeeds(&eval);
    eval.push("--use-kernel");
    let kernels = succeeds(&eval);
    assert!(kernels.contains("on the integer kernels"), "{kernels}");
    // The same images right on both paths (the kernels are exact for these weights).
    let accuracy = |out: &str| {
        out.lines()
            .find(|l| l.starts_with("test: "))
            .and_then(|l| l.split("accuracy ").nth(1))
            .map(|a| a.split(' ').next().unwrap_or_default().to_string())
            .unwrap_or_else(|| panic!("no test line in {out}"))
    };
    assert_eq!(accuracy(&float_path), accuracy(&kernels));
}

#[test]
fn imagenet_googlenet_and_densenet121_train_with_a_shift_depth() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("imagenet");
    let models = tmp.path().join("models");
    // One small JPEG per class and split: the loader resizes and crops to 224.
    for split in ["train", "val"] {
        for (c, class) in ["n01440764", "n01443537"].iter().enumerate() {
            let dir = root.join(split).join(class);
            std::fs::create_dir_all(&dir).unwrap();
            let px = tiny_data::bytes(c as u32 + 11, 48 * 40 * 3);
            let img = image::RgbImage::from_raw(48, 40, px).unwrap();
            img.save(dir.join(format!("{class}_0.JPEG"))).unwrap();
        }
    }
    for arch in ["googlenet", "densenet121"] {
        succeeds(&[
            "imagenet",
            root.to_str().unwrap(),
            "--arch",
            arch,
            "-s",
            "2",
            "-st",
            "Q",
            "--epochs",
            "1",
            "-b",
            "2",
            "-j",
            "1",
            "--model-dir",
            models.to_str().unwrap(),
        ]);
        let summary = converted(&models.join(format!("imagenet/{arch}/shift_q_2_wb_5")));
        assert!(
            summary.contains("converted to shift layers: 3"),
            "{arch}: {summary}"
        );
    }
}
