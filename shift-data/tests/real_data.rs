//! Reads the real MNIST (and Fashion-MNIST when installed). Trains nothing.
//!
//! MNIST is looked for in `$DEEPSHIFT_DATA_DIR/mnist`, then `<workspace>/data/mnist`
//! (`cargo xtask data mnist` puts it there); the tests print a message and pass when it is
//! absent. CI fetches it first and sets `DEEPSHIFT_REQUIRE_MNIST=1`, so there the MNIST test
//! runs (and fails rather than skips if the data went missing).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use shift_data::{DataLoader, Dataset, LoaderConfig, Mnist, MnistKind, Split};

fn data_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os(shift_data::DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        dirs.push(PathBuf::from(d));
    }
    dirs.push(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("data"),
    );
    dirs
}

/// Mean and standard deviation of every value of every batch of an epoch.
fn batch_stats<D: Dataset + 'static>(ds: D) -> (f64, f64, usize) {
    let config = LoaderConfig {
        batch_size: 64,
        shuffle: true,
        seed: 1,
        ..Default::default()
    };
    let loader = DataLoader::new(Arc::new(ds), config).unwrap();
    let (mut sum, mut sq, mut n, mut images) = (0f64, 0f64, 0usize, 0usize);
    for b in loader.epoch(0) {
        let b = b.unwrap();
        images += b.len();
        for &v in b.images.iter() {
            sum += f64::from(v);
            sq += f64::from(v) * f64::from(v);
            n += 1;
        }
    }
    let mean = sum / n as f64;
    (mean, (sq / n as f64 - mean * mean).sqrt(), images)
}

#[test]
fn real_mnist() {
    let Some(dir) = data_dirs()
        .into_iter()
        .find_map(|d| MnistKind::Mnist.locate(&d))
    else {
        // CI sets this after fetching, so that a failed fetch cannot pass as a skip.
        assert!(
            std::env::var_os("DEEPSHIFT_REQUIRE_MNIST").is_none(),
            "DEEPSHIFT_REQUIRE_MNIST is set but there is no MNIST in {:?}",
            data_dirs()
        );
        eprintln!(
            "SKIPPED real_mnist: no MNIST in {:?}; run `cargo xtask data mnist`",
            data_dirs()
        );
        return;
    };
    let train = Mnist::open(&dir, MnistKind::Mnist, Split::Train).unwrap();
    let test = Mnist::open(&dir, MnistKind::Mnist, Split::Test).unwrap();
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    assert_eq!(
        train.class_counts(),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        test.class_counts(),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    assert_eq!(train.class_counts().iter().sum::<usize>(), 60_000);
    assert_eq!((train.labels()[0], test.labels()[0]), (5, 7));
    // The reference constants are the training set's statistics: normalised, it has mean 0
    // and standard deviation 1 (to the constants' four digits).
    let (mean, std, n) = batch_stats(train);
    assert_eq!(n, 60_000);
    assert!(
        mean.abs() < 1e-3 && (std - 1.0).abs() < 1e-3,
        "mean {mean}, std {std}"
    );
}

#[test]
fn real_fashion_mnist() {
    let Some(dir) = data_dirs()
        .into_iter()
        .find_map(|d| MnistKind::FashionMnist.locate(&d))
    else {
        eprintln!(
            "SKIPPED real_fashion_mnist: not installed; run `cargo xtask data fashion-mnist`"
        );
        return;
    };
    let train = Mnist::open(&dir, MnistKind::FashionMnist, Split::Train).unwrap();
    let test = Mnist::open(&dir, MnistKind::FashionMnist, Split::Test).unwrap();
    assert_eq!(train.class_counts(), [6000; 10]);
    assert_eq!(test.class_counts(), [1000; 10]);
    // Recomputes the documented constants 0.2860 / 0.3530 from the data.
    let raw = train.raw_images();
    let mean = raw.iter().map(|&v| f64::from(v) / 255.0).sum::<f64>() / raw.len() as f64;
    let var = raw
        .iter()
        .map(|&v| (f64::from(v) / 255.0 - mean).powi(2))
        .sum::<f64>()
        / raw.len() as f64;
    assert!(
        (mean - 0.2860).abs() < 5e-5 && (var.sqrt() - 0.3530).abs() < 5e-5,
        "mean {mean}, std {}",
        var.sqrt()
    );
    let (m, s, _) = batch_stats(train);
    assert!(
        m.abs() < 1e-3 && (s - 1.0).abs() < 1e-3,
        "normalised mean {m}, std {s}"
    );
}
