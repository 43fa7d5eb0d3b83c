//! Resuming from a checkpoint continues bit for bit as an uninterrupted run with the same seed,
//! for a float model with SGD and a DeepShift-PS model with RAdam and weight decay (which
//! exercises the optimiser state, the shift L2 term and dropout's per-epoch RNG).

use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use shift_core::{FixedPoint, Rounding, ShiftType};
use shift_data::{DataError, Dataset, SampleRng, Scratch};
use shift_nn::models::MnistLinear;
use shift_nn::{convert_to_shift, state_dict, LinearRule, ShiftOptions};
use shift_train::{Checkpoint, LrSchedule, OptimizerConfig, ProgressMode, TrainConfig, Trainer};

/// 96 synthetic 28x28 images in 10 classes.
struct Toy;

impl Dataset for Toy {
    fn len(&self) -> usize {
        96
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
        let label = index % 10;
        for (j, v) in out.iter_mut().enumerate() {
            *v = (((j * 31 + label * 97 + index) % 17) as f32 / 17.0) - 0.5
                + if j % 10 == label { 1.0 } else { 0.0 };
        }
        Ok(label)
    }
}

fn model(ps: bool) -> MnistLinear {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut m = MnistLinear::new(&mut rng);
    if ps {
        let opts = ShiftOptions {
            shift_type: ShiftType::PS,
            weight_bits: 5,
            act: FixedPoint::DEFAULT,
            rounding: Rounding::Deterministic,
        };
        convert_to_shift(&mut m, 1000, opts, LinearRule::Count, false, &mut rng).unwrap();
    }
    m
}

fn config(dir: &std::path::Path, epochs: usize, name: &str, wd: f64) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 16,
        test_batch_size: 32,
        optimizer: OptimizerConfig {
            name: name.into(),
            lr: 0.01,
            lr_sign: None,
            momentum: 0.9,
            weight_decay: wd,
        },
        schedule: LrSchedule::Step {
            step_size: 2,
            gamma: 0.1,
        },
        seed: 7,
        workers: 0,
        out_dir: dir.to_path_buf(),
        progress: ProgressMode::Quiet,
    }
}

/// Trains a fresh model in `dir` up to `epochs`, continuing from `resume` if given.
fn run(
    ps: bool,
    dir: &std::path::Path,
    epochs: usize,
    optimizer: &str,
    wd: f64,
    resume: Option<Checkpoint>,
) -> (MnistLinear, shift_train::TrainSummary) {
    // A fresh process would rebuild the model from scratch; the checkpoint overrides it.
    let m = model(ps);
    let mut trainer = Trainer::new(
        &m,
        Arc::new(Toy),
        Arc::new(Toy),
        config(dir, epochs, optimizer, wd),
    )
    .unwrap();
    if let Some(ckpt) = resume {
        trainer.restore(&ckpt).unwrap();
    }
    let summary = trainer.run(None).unwrap();
    drop(trainer);
    (m, summary)
}

fn assert_same_weights(a: &MnistLinear, b: &MnistLinear, what: &str) {
    let (a, b) = (state_dict(a), state_dict(b));
    assert_eq!(
        a.tensors.keys().collect::<Vec<_>>(),
        b.tensors.keys().collect::<Vec<_>>()
    );
    for (name, t) in &a.tensors {
        let same = t
            .iter()
            .zip(b.tensors[name].iter())
            .all(|(x, y)| x.to_bits() == y.to_bits());
        assert!(same, "{what}: `{name}` differs after resume");
    }
}

fn check(ps: bool, optimizer: &str, wd: f64) {
    let full_dir = tempfile::tempdir().unwrap();
    let (full, summary) = run(ps, full_dir.path(), 3, optimizer, wd, None);
    assert_eq!(summary.epochs.len(), 3);

    let dir = tempfile::tempdir().unwrap();
    run(ps, dir.path(), 2, optimizer, wd, None);
    let ckpt = Checkpoint::load(&dir.path().join("checkpoint.safetensors")).unwrap();
    assert_eq!(ckpt.epochs_done, 2);
    let (resumed, summary2) = run(ps, dir.path(), 3, optimizer, wd, Some(ckpt));
    assert_eq!(summary2.epochs.len(), 3);

    assert_same_weights(&full, &resumed, optimizer);
    assert_eq!(
        summary.epochs.last().unwrap().train_loss,
        summary2.epochs.last().unwrap().train_loss
    );
    let log = std::fs::read_to_string(dir.path().join("train_log.csv")).unwrap();
    assert_eq!(log.lines().count(), 4, "header + three epochs:\n{log}");
}

/// What a multi-fidelity search does with a promoted trial: one `Trainer` trains to a lower
/// budget and stops; later another continues the same run from its checkpoint to a higher
/// budget, and the result equals training to the higher budget in one go. The schedule's
/// horizon is the run's full length in both.
#[test]
fn a_run_stopped_at_a_budget_continues_to_a_higher_one_bit_for_bit() {
    let (ps, optimizer, wd, full_epochs, low) = (true, "adam", 1e-4, 5, 2);
    let straight_dir = tempfile::tempdir().unwrap();
    let (straight, straight_summary) =
        run(ps, straight_dir.path(), full_epochs, optimizer, wd, None);

    let dir = tempfile::tempdir().unwrap();
    let m = model(ps);
    let mut first = Trainer::new(
        &m,
        Arc::new(Toy),
        Arc::new(Toy),
        config(dir.path(), full_epochs, optimizer, wd),
    )
    .unwrap();
    first.train_until(low, None).unwrap();
    assert_eq!(first.epochs_done(), low);
    drop(first);
    let ckpt = Checkpoint::load(&dir.path().join("checkpoint.safetensors")).unwrap();
    let (continued, summary) = run(ps, dir.path(), full_epochs, optimizer, wd, Some(ckpt));
    assert_same_weights(&straight, &continued, "promotion");
    assert_eq!(straight_summary.epochs.len(), summary.epochs.len());
    for (a, b) in straight_summary.epochs.iter().zip(&summary.epochs) {
        assert_eq!(
            (a.train_loss, a.test_loss, a.test_accuracy),
            (b.train_loss, b.test_loss, b.test_accuracy)
        );
    }
}

#[test]
fn float_sgd_resumes_bit_for_bit() {
    check(false, "sgd", 0.0);
}

#[test]
fn ps_radam_with_weight_decay_resumes_bit_for_bit() {
    check(true, "radam", 1e-4);
}

#[test]
fn a_damaged_checkpoint_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.safetensors");
    std::fs::write(&path, b"not a checkpoint").unwrap();
    let e = Checkpoint::load(&path).unwrap_err().to_string();
    assert!(e.contains("checkpoint.safetensors"), "{e}");
}
