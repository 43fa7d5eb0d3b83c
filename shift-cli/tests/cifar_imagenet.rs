//! `deepshift cifar10` and `deepshift imagenet` end to end on tiny data sets written in the
//! official formats (CIFAR-10 binary batches, ImageNet class folders of JPEGs): a one-epoch
//! training run writes the reference's output folder, its weights evaluate with `-e`, and bad
//! paths or architectures are clear errors.

mod tiny_data;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn deepshift(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deepshift"))
        .args(args)
        .output()
        .expect("deepshift runs")
}

fn succeeds(args: &[&str]) -> String {
    let out = deepshift(args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn fails_with(args: &[&str], needles: &[&str]) {
    let out = deepshift(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} should fail");
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{args:?}: stderr lacks `{needle}`:\n{stderr}"
        );
    }
    assert!(!stderr.contains("panicked"), "{args:?} panicked:\n{stderr}");
}

/// `root/{train,val}/<class>/*.JPEG` with small images of varied sizes.
fn write_imagenet(root: &Path, classes: &[&str], train: usize, val: usize) {
    for (split, n) in [("train", train), ("val", val)] {
        for (c, class) in classes.iter().enumerate() {
            let dir = root.join(split).join(class);
            std::fs::create_dir_all(&dir).unwrap();
            for i in 0..n {
                let (w, h) = (40 + 8 * i as u32, 32 + 4 * c as u32);
                let px = tiny_data::bytes((c * 100 + i) as u32 + 7, (w * h * 3) as usize);
                let img = image::RgbImage::from_raw(w, h, px).unwrap();
                img.save(dir.join(format!("{class}_{i}.JPEG"))).unwrap();
            }
        }
    }
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(String::from)
        .collect()
}

/// Checks the training outputs of a one-epoch run and returns the weights file.
fn check_training_outputs(run: &Path) -> PathBuf {
    for file in [
        "command_args.txt",
        "model_summary.txt",
        "checkpoint.safetensors",
        "weights.safetensors",
        "emissions.csv",
    ] {
        assert!(
            run.join(file).is_file(),
            "{} missing",
            run.join(file).display()
        );
    }
    let log = lines(&run.join("train_log.csv"));
    assert_eq!(log[0], "epoch,train_loss,test_loss,test_accuracy");
    assert_eq!(log.len(), 2, "one row per epoch: {log:?}");
    let row: Vec<f64> = log[1].split(',').map(|v| v.parse().unwrap()).collect();
    assert_eq!(row[0], 1.0);
    assert!(row[1].is_finite() && row[2].is_finite(), "{row:?}");
    assert!((0.0..=1.0).contains(&row[3]), "{row:?}");
    run.join("weights.safetensors")
}

fn check_test_log(run: &Path) {
    let log = lines(&run.join("test_log.csv"));
    assert_eq!(log[0], "test_loss,test_accuracy");
    let row: Vec<f64> = log[1].split(',').map(|v| v.parse().unwrap()).collect();
    assert!(
        row[0].is_finite() && (0.0..=1.0).contains(&row[1]),
        "{row:?}"
    );
}

#[test]
fn cifar10_trains_one_epoch_then_evaluates_its_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let models = tmp.path().join("models");
    tiny_data::write_cifar10(&data, 2, 4);
    let (data, models) = (data.to_str().unwrap(), models.to_str().unwrap());
    let common = [
        "--arch",
        "resnet20",
        "--shift-depth",
        "1000",
        "-st",
        "PS",
        "--opt",
        "radam",
        "--data-dir",
        data,
        "--model-dir",
        models,
    ];
    let mut args = vec![
        "cifar10",
        "--epochs",
        "1",
        "-b",
        "8",
        "--test-batch-size",
        "8",
    ];
    args.extend(common);
    let stdout = succeeds(&args);
    let run = Path::new(models).join("cifar10/resnet20/shift_ps_1000_wb_5");
    assert!(
        stdout.contains(&format!("outputs in {}", run.display())),
        "{stdout}"
    );
    let weights = check_training_outputs(&run);
    let summary = std::fs::read_to_string(run.join("model_summary.txt")).unwrap();
    // resnet20: 19 convolutions (option-A shortcuts have none) and the fc layer.
    assert!(
        summary.contains("converted to shift layers: 20"),
        "{summary}"
    );
    assert!(summary.contains("shift PS, weight bits 5"), "{summary}");
    let command = std::fs::read_to_string(run.join("command_args.txt")).unwrap();
    assert!(command.contains("cifar10 --epochs 1 -b 8"), "{command}");

    let mut eval = vec!["cifar10", "-e", "--weights", weights.to_str().unwrap()];
    eval.extend(common);
    let stdout = succeeds(&eval);
    assert!(stdout.contains("/4 ("), "four test images: {stdout}");
    check_test_log(&run);

    // A second epoch continues from the checkpoint.
    let checkpoint = run.join("checkpoint.safetensors");
    let mut resume = vec![
        "cifar10",
        "--epochs",
        "2",
        "-b",
        "8",
        "--resume",
        checkpoint.to_str().unwrap(),
    ];
    resume.extend(common);
    succeeds(&resume);
    let log = lines(&run.join("train_log.csv"));
    assert_eq!(log.len(), 3, "{log:?}");
    assert!(log[2].starts_with("2,"), "{log:?}");
}

#[test]
fn imagenet_trains_one_epoch_then_evaluates_its_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("imagenet");
    let models = tmp.path().join("models");
    write_imagenet(&root, &["n01440764", "n01443537"], 2, 1);
    let (root, models) = (root.to_str().unwrap(), models.to_str().unwrap());
    let common = [
        "--arch",
        "resnet18",
        "-s",
        "3",
        "-st",
        "Q",
        "--model-dir",
        models,
        "-j",
        "1",
    ];
    let mut args = vec!["imagenet", root, "--epochs", "1", "-b", "4"];
    args.extend(common);
    succeeds(&args);
    let run = Path::new(models).join("imagenet/resnet18/shift_q_3_wb_5");
    let weights = check_training_outputs(&run);
    let summary = std::fs::read_to_string(run.join("model_summary.txt")).unwrap();
    // The last three convolutions and the fc layer, which is always converted.
    assert!(
        summary.contains("converted to shift layers: 4"),
        "{summary}"
    );

    let mut eval = vec![
        "imagenet",
        root,
        "-e",
        "--weights",
        weights.to_str().unwrap(),
    ];
    eval.extend(common);
    let stdout = succeeds(&eval);
    assert!(stdout.contains("/2 ("), "two validation images: {stdout}");
    check_test_log(&run);
}

#[test]
fn missing_data_names_the_path_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let nowhere = tmp.path().join("nowhere");
    let models = tmp.path().join("models");
    let (nowhere_s, models_s) = (nowhere.to_str().unwrap(), models.to_str().unwrap());
    fails_with(
        &[
            "cifar10",
            "--arch",
            "resnet20",
            "--data-dir",
            nowhere_s,
            "--model-dir",
            models_s,
        ],
        &[
            &format!(
                "CIFAR-10 not found in {}",
                nowhere.join("cifar10").display()
            ),
            "cifar-10-binary.tar.gz",
        ],
    );
    fails_with(
        &[
            "imagenet",
            nowhere_s,
            "--arch",
            "mobilenet_v2",
            "--model-dir",
            models_s,
        ],
        &[&format!("ImageNet not found in {nowhere_s}"), "val/<class>"],
    );
    assert!(!models.exists(), "a failed start leaves no output folder");
}

#[test]
fn unknown_arch_lists_the_known_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let models = tmp.path().join("models");
    let models = models.to_str().unwrap();
    fails_with(
        &["cifar10", "--arch", "resnet21", "--model-dir", models],
        &[
            "unknown Cifar10 architecture `resnet21`",
            "resnet20, resnet32",
            "vgg19",
        ],
    );
    fails_with(
        &["imagenet", "x", "-a", "resnet20", "--model-dir", models],
        &[
            "unknown Imagenet architecture `resnet20`",
            "alexnet",
            "mobilenet_v2",
        ],
    );
}

#[test]
fn pretrained_names_the_missing_file_and_schedules_do_not_contradict() {
    let tmp = tempfile::tempdir().unwrap();
    let models = tmp.path().to_str().unwrap();
    fails_with(
        &["cifar10", "--pretrained", "True", "--model-dir", models],
        &[
            "cifar10/original_pretrained_models/resnet18.th",
            "--weights",
        ],
    );
    // (pth_cli.rs checks the torch hub cache with TORCH_HOME set)
    fails_with(
        &["imagenet", "x", "--pretrained", "-a", "resnet50"],
        &[
            "resnet50-0676ba61.pth",
            "hub/checkpoints",
            "Nothing is downloaded",
        ],
    );
    fails_with(
        &["cifar10", "--lr-schedule", "False", "--lr-step-size", "5"],
        &["drop one"],
    );
    fails_with(&["cifar10", "-wb", "9"], &["use 2..=8"]);
}

#[test]
fn imagenet_splits_must_have_the_same_classes() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("imagenet");
    write_imagenet(&root, &["a", "b"], 1, 1);
    std::fs::rename(root.join("val/b"), root.join("val/c")).unwrap();
    let models = tmp.path().join("models");
    fails_with(
        &[
            "imagenet",
            root.to_str().unwrap(),
            "-a",
            "mobilenet_v2",
            "--model-dir",
            models.to_str().unwrap(),
        ],
        &["not the same ones"],
    );
}

#[test]
fn the_dsnn_objective_trains_the_shipped_cifar10_resnet20_default() {
    let dir = tempfile::tempdir().unwrap();
    tiny_data::write_cifar10(dir.path(), 8, 4);
    let space = shift_automl::ConfigSpace::from_json(
        shift_train::objective::shipped_space(shift_nn::models::DataDomain::Cifar10, "resnet20")
            .unwrap(),
    )
    .unwrap();
    let trial = serde_json::json!({
        "trial": 0,
        "config": space.default_configuration().to_json(),
        "budget": 1,
        "seed": 1,
    });
    let mut child = Command::new(env!("CARGO_BIN_EXE_deepshift"))
        .args([
            "hpo",
            "objective",
            "--dataset",
            "cifar10",
            "--arch",
            "resnet20",
            "-j",
            "1",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--cache-dir")
        .arg(dir.path().join("runs"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    writeln!(child.stdin.take().unwrap(), "{trial}").unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let loss = line["loss"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&loss), "{line}");
    assert!(line["energy_kwh"].as_f64().unwrap() > 0.0);
    assert!(line["model_bits"].as_f64().unwrap() > 0.0);
    // the analytic model describes the MNIST networks only
    assert!(line.get("inference_energy_uj").is_none(), "{line}");
    // the default converts everything: 19 convolutions and the Linear layer
    assert_eq!(line["provenance"]["layers_converted"], "20", "{line}");
    assert_eq!(line["provenance"]["epochs_trained"], "1");
}
