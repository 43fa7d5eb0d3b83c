//! The DSNN objective: it validates on a split held out of the training set (and sees no other
//! data), a promoted design continues from its checkpoint to the same result as training at
//! once, and every result says how it was measured.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use shift_data::{DataError, Dataset, SampleRng, Scratch};
use shift_energy::MeterConfig;
use shift_nn::models::DataDomain;
use shift_train::objective::{holdout_split, DsnnObjective, TrialRequest};

/// 120 synthetic 28x28 images in 10 classes that remember which indices were read.
#[derive(Default)]
struct Recording {
    read: Mutex<BTreeSet<usize>>,
}

impl Dataset for Recording {
    fn len(&self) -> usize {
        120
    }
    fn sample_shape(&self) -> [usize; 3] {
        [1, 28, 28]
    }
    fn num_classes(&self) -> usize {
        10
    }
    fn load(
        &self,
        index: usize,
        _: &mut SampleRng,
        _: &mut Scratch,
        out: &mut [f32],
    ) -> Result<usize, DataError> {
        self.read.lock().unwrap().insert(index);
        let label = index % 10;
        for (j, v) in out.iter_mut().enumerate() {
            *v = (((j * 31 + label * 97 + index) % 17) as f32 / 17.0) - 0.5
                + if j % 10 == label { 1.0 } else { 0.0 };
        }
        Ok(label)
    }
}

fn objective(train: Arc<Recording>, val: Arc<Recording>, cache: &std::path::Path) -> DsnnObjective {
    DsnnObjective {
        domain: DataDomain::Mnist,
        arch: "linear".into(),
        train_pool: train,
        val_pool: val,
        val_fraction: 0.25,
        split_seed: 11,
        workers: 0,
        val_batch_size: 64,
        cache_dir: cache.to_path_buf(),
        meter: MeterConfig::default(),
    }
}

fn request(budget: usize) -> TrialRequest {
    TrialRequest {
        config: serde_json::from_str(
            r#"{"shift_depth": 3, "shift_type": "PS", "weight_bits": 4, "optimizer": "adam",
                "lr": 0.001, "weight_decay": 1e-4, "batch_size": 16}"#,
        )
        .unwrap(),
        budget,
        seed: 5,
    }
}

#[test]
fn training_and_validation_read_only_their_own_part_of_the_training_set() {
    let cache = tempfile::tempdir().unwrap();
    let (train, val) = (
        Arc::new(Recording::default()),
        Arc::new(Recording::default()),
    );
    let result = objective(train.clone(), val.clone(), cache.path())
        .evaluate(&request(1))
        .unwrap();
    let (train_idx, val_idx) = holdout_split(120, 0.25, 11);
    assert_eq!(val_idx.len(), 30);
    let read_train: Vec<usize> = train.read.lock().unwrap().iter().copied().collect();
    let read_val: Vec<usize> = val.read.lock().unwrap().iter().copied().collect();
    assert_eq!(read_train, train_idx, "training read outside its split");
    assert_eq!(
        read_val, val_idx,
        "validation read outside the held-out split"
    );
    let loss = result.objectives["loss"];
    assert!((0.0..=1.0).contains(&loss), "{loss}");
}

#[test]
fn a_promoted_design_continues_to_the_result_of_training_at_once() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let pools = || {
        (
            Arc::new(Recording::default()),
            Arc::new(Recording::default()),
        )
    };
    let (t, v) = pools();
    let staged = objective(t, v, a.path());
    let low = staged.evaluate(&request(1)).unwrap();
    assert_eq!(low.provenance["continued_from_epoch"], "0");
    let high = staged.evaluate(&request(3)).unwrap();
    assert_eq!(high.provenance["continued_from_epoch"], "1");
    assert_eq!(high.provenance["epochs_trained"], "2");
    let (t, v) = pools();
    let at_once = objective(t, v, b.path()).evaluate(&request(3)).unwrap();
    assert_eq!(at_once.provenance["epochs_trained"], "3");
    for name in ["loss", "val_loss", "model_bits", "inference_energy_uj"] {
        assert_eq!(high.objectives[name], at_once.objectives[name], "{name}");
    }
    let weights = |r: &shift_train::objective::TrialResult| {
        let dir = std::path::PathBuf::from(&r.provenance["run_dir"]);
        shift_nn::load_safetensors(&dir.join("checkpoint.safetensors")).unwrap()
    };
    let (x, y) = (weights(&high), weights(&at_once));
    for (name, t) in &x.tensors {
        let same = t
            .iter()
            .zip(y.tensors[name].iter())
            .all(|(p, q)| p.to_bits() == q.to_bits());
        assert!(
            same,
            "`{name}` differs between continued and at-once training"
        );
    }
    // The continued trial's energy covers all three epochs: more than the first epoch's.
    assert!(high.objectives["energy_kwh"] > low.objectives["energy_kwh"]);
}

#[test]
fn every_result_carries_its_provenance() {
    let cache = tempfile::tempdir().unwrap();
    let r = objective(Default::default(), Default::default(), cache.path())
        .evaluate(&request(1))
        .unwrap();
    for key in [
        "loss",
        "val_loss",
        "energy_kwh",
        "emissions_kg",
        "model_bits",
        "inference_energy_uj",
    ] {
        let v = r.objectives[key];
        assert!(v.is_finite() && v >= 0.0, "{key} = {v}");
    }
    assert!(r.objectives["energy_kwh"] > 0.0);
    assert!(!r.provenance["energy_source"].is_empty());
    assert!(r.provenance["version"].starts_with("deepshift-rs"));
    // Three PS layers: 4-bit codes (16 per 64-bit word, so exactly 4 bits a weight), biases
    // in the 16/16 fixed-point format.
    let (weights, biases) = (784 * 512 + 512 * 512 + 512 * 10, 512 + 512 + 10);
    assert_eq!(
        r.objectives["model_bits"],
        (4 * weights + 32 * biases) as f64
    );
}

#[test]
fn a_bad_configuration_is_an_error_naming_the_hyperparameter() {
    let cache = tempfile::tempdir().unwrap();
    let mut req = request(1);
    req.config
        .insert("weight_bits".into(), serde_json::json!(12));
    let e = objective(Default::default(), Default::default(), cache.path())
        .evaluate(&req)
        .unwrap_err()
        .to_string();
    assert!(e.contains("weight_bits"), "{e}");
}
