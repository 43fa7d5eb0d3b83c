//! Iterates one epoch of MNIST training batches (64 images, shuffled with seed 1, background
//! workers) and prints the batch count, the normalised pixels' mean and standard deviation
//! and the time the epoch took.
//!
//! Needs the IDX files in `$DEEPSHIFT_DATA_DIR/mnist` (default `data/mnist`): `cargo xtask
//! data mnist` fetches them. Without them it says where it looked and exits with status 2.
//!
//! `cargo run --release -p shift-data --example mnist_batches`

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use shift_data::{DataError, DataLoader, LoaderConfig, Mnist, MnistKind, Split};

fn main() -> ExitCode {
    let dir = shift_data::data_dir().join("mnist");
    let train = match Mnist::open(&dir, MnistKind::Mnist, Split::Train) {
        Ok(train) => train,
        Err(e @ DataError::MissingFile { .. }) => {
            eprintln!(
                "MNIST is not there: {e}\n(run from the workspace root, or set DEEPSHIFT_DATA_DIR \
                 to the folder that holds mnist/)"
            );
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match run(train) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(train: Mnist) -> Result<(), DataError> {
    let config = LoaderConfig {
        batch_size: 64,
        shuffle: true,
        seed: 1,
        ..Default::default()
    };
    let loader = DataLoader::new(Arc::new(train), config)?;
    let start = Instant::now();
    let (mut batches, mut images, mut sum, mut sum_sq) = (0usize, 0usize, 0f64, 0f64);
    let mut first_labels = Vec::new();
    for batch in loader.epoch(0) {
        let batch = batch?;
        if batches == 0 {
            first_labels = batch.labels.clone();
        }
        batches += 1;
        images += batch.labels.len();
        for &v in batch.images.iter() {
            sum += f64::from(v);
            sum_sq += f64::from(v) * f64::from(v);
        }
    }
    let n = (images * 28 * 28) as f64;
    let mean = sum / n;
    println!(
        "{batches} batches, {images} images in {:.2} s; pixels after normalisation: mean {mean:.4}, std {:.4}",
        start.elapsed().as_secs_f64(),
        (sum_sq / n - mean * mean).sqrt()
    );
    println!("labels of the first batch: {first_labels:?}");
    Ok(())
}
