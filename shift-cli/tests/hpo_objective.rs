//! `deepshift hpo objective`: the shipped DSNN spaces are valid ConfigSpace files whose every
//! sample the objective accepts, and one trial on real MNIST prints its objectives and
//! provenance as the `--objective-cmd` protocol asks (skipped without MNIST, except in CI).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use rand::SeedableRng;
use shift_automl::ConfigSpace;
use shift_train::objective::DsnnDesign;

#[test]
fn every_sample_of_the_shipped_spaces_is_a_trainable_design() {
    for arch in ["linear", "conv"] {
        let path = format!(
            "{}/../shift-train/spaces/dsnn_mnist_{arch}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let space = ConfigSpace::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let default = space.default_configuration().to_json();
        let d = DsnnDesign::from_config(default.as_object().unwrap()).unwrap();
        assert_eq!(
            (d.optimizer.name.as_str(), d.optimizer.lr, d.weight_bits),
            ("sgd", 0.01, 5)
        );
        for _ in 0..200 {
            let c = space.sample(&mut rng).to_json();
            let c = c.as_object().unwrap();
            DsnnDesign::from_config(c).unwrap_or_else(|e| panic!("{path}: {c:?}: {e}"));
            // Momentum only under SGD; shift settings only when something is converted.
            assert_eq!(c.contains_key("momentum"), c["optimizer"] == "sgd", "{c:?}");
            assert_eq!(
                c.contains_key("weight_bits"),
                c["shift_depth"] != 0,
                "{c:?}"
            );
        }
    }
}

#[test]
fn one_trial_on_mnist_prints_its_objectives() {
    let Some(data) = common::mnist_root_or_skip() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let trial = serde_json::json!({
        "trial": 3,
        "config": {"shift_depth": 3, "shift_type": "PS", "weight_bits": 5, "optimizer": "radam",
                   "lr": 0.01, "weight_decay": 1e-4, "batch_size": 128},
        "budget": 1,
        "seed": 1,
        "workdir": work.path().join("trial-3"),
    });
    let mut child = Command::new(env!("CARGO_BIN_EXE_deepshift"))
        .args([
            "hpo",
            "objective",
            "--dataset",
            "mnist",
            "--arch",
            "linear",
            "--data-dir",
        ])
        .arg(&data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(trial.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let loss = line["loss"].as_f64().unwrap();
    assert!(
        loss < 0.2,
        "one RAdam epoch of PS linear should pass 80 % validation accuracy: {line}"
    );
    for key in [
        "val_loss",
        "energy_kwh",
        "emissions_kg",
        "inference_energy_uj",
        "model_bits",
    ] {
        assert!(line[key].as_f64().is_some_and(|v| v > 0.0), "{key}: {line}");
    }
    assert_eq!(line["provenance"]["epochs_trained"], "1");
    // The default cache is beside the trial's workdir, so a promotion finds the checkpoint.
    assert!(work.path().join("dsnn-runs").is_dir());
}
