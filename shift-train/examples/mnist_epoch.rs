//! Trains the MNIST `linear` network as DeepShift-PS (5-bit weights, 16/16 fixed-point
//! activations, shift and sign converted from the float initialisation as the reference
//! scripts do) for one epoch as the reference's PS rows run (RAdam, lr 0.01, batch 64, test
//! batch 1000, seed 1), then prints the test loss and accuracy. The run's
//! `train_log.csv` and `checkpoint.safetensors` go to a temporary folder, removed at the end.
//!
//! Needs the IDX files in `$DEEPSHIFT_DATA_DIR/mnist` (default `data/mnist`): `cargo xtask
//! data mnist` fetches them. Without them it says where it looked and exits with status 2.
//!
//! `cargo run --release -p shift-train --example mnist_epoch`

use std::process::ExitCode;
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use shift_data::{DataError, Mnist, MnistKind, Split};
use shift_nn::models::{build_model, DataDomain};
use shift_nn::{
    convert_to_shift, param_count, FixedPoint, LinearRule, Rounding, ShiftOptions, ShiftType,
};
use shift_train::{LrSchedule, OptimizerConfig, ProgressMode, TrainConfig, Trainer};

fn main() -> ExitCode {
    let dir = shift_data::data_dir().join("mnist");
    let open = |split| Mnist::open(&dir, MnistKind::Mnist, split);
    let (train, test) = match (open(Split::Train), open(Split::Test)) {
        (Ok(train), Ok(test)) => (train, test),
        (Err(e @ DataError::MissingFile { .. }), _)
        | (_, Err(e @ DataError::MissingFile { .. })) => {
            eprintln!(
                "MNIST is not there: {e}\n(run from the workspace root, or set DEEPSHIFT_DATA_DIR \
                 to the folder that holds mnist/)"
            );
            return ExitCode::from(2);
        }
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match run(train, test) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(train: Mnist, test: Mnist) -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut model = build_model(DataDomain::Mnist, "linear", &mut rng)?;
    let options = ShiftOptions {
        shift_type: ShiftType::PS,
        weight_bits: 5,
        act: FixedPoint::new(16, 16)?,
        rounding: Rounding::Deterministic,
    };
    let converted = convert_to_shift(
        model.as_mut(),
        3,
        options,
        LinearRule::Count,
        // The float initialisation's weights become the shifts and signs (the reference's
        // `convert_weights=True`); PS's own initialisation trains worse.
        true,
        &mut rng,
    )?;
    println!(
        "MNIST linear, {converted} layers DeepShift-PS (5-bit weights, -ab 16 16), {} parameters",
        param_count(model.as_ref())
    );
    let out_dir =
        std::env::temp_dir().join(format!("shift-train-mnist-epoch-{}", std::process::id()));
    let config = TrainConfig {
        epochs: 1,
        batch_size: 64,
        test_batch_size: 1000,
        optimizer: OptimizerConfig {
            name: "radam".into(),
            lr: 0.01,
            lr_sign: None,
            momentum: 0.0,
            weight_decay: 0.0,
        },
        schedule: LrSchedule::Constant,
        seed: 1,
        workers: 2,
        out_dir: out_dir.clone(),
        progress: ProgressMode::detect(),
    };
    let mut trainer = Trainer::new(model.as_ref(), Arc::new(train), Arc::new(test), config)?;
    // The trainer prints the epoch's line (train loss, test loss and accuracy, time).
    trainer.run(None)?;
    std::fs::remove_dir_all(&out_dir)?;
    Ok(())
}
