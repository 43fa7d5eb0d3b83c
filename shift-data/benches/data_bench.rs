//! Loader throughput (a bench, not a timed test).
//!
//! - `mnist_epoch`: a full pass over MNIST train (the real files when `data/mnist` or
//!   `$DEEPSHIFT_DATA_DIR/mnist` exists, else 60,000 synthetic images written as IDX),
//!   normalised, batch 64.
//! - `cifar_epoch`: 50,000 synthetic CIFAR-sized images, augmented, batch 128.
//! - `imagenet_per_core`: read + decode + `RandomResizedCrop(224)` + flip + normalise (and the
//!   evaluation transform) on generated 500x375 JPEGs, on one thread: images per second per
//!   core. `benches/pil_reference.py` runs PIL + torchvision on the same files; set
//!   `SHIFT_DATA_BENCH_JPEGS=<dir>` to keep the files for it.
#![allow(missing_docs)] // criterion_group! generates an undocumented public function.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use shift_data::imagefolder::{decode_rgb, transform_image};
use shift_data::{
    Cifar, DataLoader, Dataset, ImageTransform, LoaderConfig, Mnist, MnistKind, Normalize,
    SampleRng, Scratch, Split,
};

fn run_epoch<D: Dataset + ?Sized + 'static>(loader: &DataLoader<D>) -> usize {
    loader.epoch(0).map(|b| b.unwrap().len()).sum()
}

fn mnist(dir_holder: &mut Option<tempfile::TempDir>) -> (Mnist, &'static str) {
    let data = shift_data::data_dir();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
    for d in [data, root] {
        if let Some(dir) = MnistKind::Mnist.locate(&d) {
            return (
                Mnist::open(&dir, MnistKind::Mnist, Split::Train).unwrap(),
                "real",
            );
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let n = 60_000u32;
    let mut rng = SampleRng::seed_from_u64(0);
    let mut px = vec![0u8; n as usize * 784];
    rng.fill(px.as_mut_slice());
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    let img = shift_data::idx::encode_idx_u8(&[n, 28, 28], &px);
    std::fs::write(tmp.path().join("train-images-idx3-ubyte"), img).unwrap();
    let lab = shift_data::idx::encode_idx_u8(&[n], &labels);
    std::fs::write(tmp.path().join("train-labels-idx1-ubyte"), lab).unwrap();
    let ds = Mnist::open(tmp.path(), MnistKind::Mnist, Split::Train).unwrap();
    *dir_holder = Some(tmp);
    (ds, "synthetic")
}

fn loaders(c: &mut Criterion) {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut holder = None;
    let (ds, what) = mnist(&mut holder);
    let ds = Arc::new(ds);
    let mut g = c.benchmark_group(format!("mnist_epoch_{what}"));
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(ds.len() as u64));
    for w in [0, workers] {
        let config = LoaderConfig {
            batch_size: 64,
            shuffle: true,
            num_workers: w,
            ..Default::default()
        };
        let loader = DataLoader::new(Arc::clone(&ds), config).unwrap();
        g.bench_function(format!("workers_{w}"), |b| b.iter(|| run_epoch(&loader)));
    }
    g.finish();

    let ds = Arc::new(Cifar::synthetic(50_000, 10, 0, true));
    let mut g = c.benchmark_group("cifar_epoch_augmented");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(ds.len() as u64));
    for w in [0, workers] {
        let config = LoaderConfig {
            batch_size: 128,
            shuffle: true,
            num_workers: w,
            ..Default::default()
        };
        let loader = DataLoader::new(Arc::clone(&ds), config).unwrap();
        g.bench_function(format!("workers_{w}"), |b| b.iter(|| run_epoch(&loader)));
    }
    g.finish();
}

/// A 500x375 photo-like picture: smooth shapes, edges and some noise, so that the JPEG is
/// about the size of an ImageNet one (tens of kilobytes at quality 90).
fn picture(seed: u64) -> image::RgbImage {
    let mut rng = SampleRng::seed_from_u64(seed);
    let (cx, cy, r) = (
        rng.gen_range(100.0..400.0),
        rng.gen_range(80.0..300.0),
        rng.gen_range(40.0..150.0),
    );
    let phase: f32 = rng.gen_range(0.0..6.0);
    image::RgbImage::from_fn(500, 375, |x, y| {
        let (xf, yf) = (x as f32, y as f32);
        let inside = (xf - cx).hypot(yf - cy) < r;
        let noise = rng.gen_range(0..24) as f32;
        let base = [
            120.0 + 80.0 * (xf / 37.0 + phase).sin(),
            110.0 + 70.0 * (yf / 23.0).cos(),
            100.0 + 60.0 * ((xf + yf) / 51.0).sin(),
        ];
        image::Rgb(
            base.map(|v| (if inside { 255.0 - v } else { v } + noise).clamp(0.0, 255.0) as u8),
        )
    })
}

fn jpeg_dir(holder: &mut Option<tempfile::TempDir>, n: usize) -> PathBuf {
    let dir = match std::env::var_os("SHIFT_DATA_BENCH_JPEGS") {
        Some(d) => PathBuf::from(d),
        None => {
            let t = tempfile::tempdir().unwrap();
            let p = t.path().to_path_buf();
            *holder = Some(t);
            p
        }
    };
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..n {
        let p = dir.join(format!("img{i:03}.JPEG"));
        if !p.exists() {
            let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
            let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut f, 90);
            picture(i as u64).write_with_encoder(enc).unwrap();
        }
    }
    dir
}

fn imagenet(c: &mut Criterion) {
    const N: usize = 64;
    let mut holder = None;
    let dir = jpeg_dir(&mut holder, N);
    let files: Vec<PathBuf> = (0..N)
        .map(|i| dir.join(format!("img{i:03}.JPEG")))
        .collect();
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    eprintln!(
        "{N} JPEGs of 500x375 in {}, {} KB on average",
        dir.display(),
        bytes / N as u64 / 1024
    );
    let table = Normalize::imagenet().table();
    let mut g = c.benchmark_group("imagenet_per_core");
    g.sample_size(10).measurement_time(Duration::from_secs(6));
    g.throughput(Throughput::Elements(N as u64));
    let mut decoded = Vec::new();
    g.bench_function("decode_only", |b| {
        b.iter(|| {
            files
                .iter()
                .map(|f| {
                    decode_rgb(f, &std::fs::read(f).unwrap(), &mut decoded)
                        .unwrap()
                        .0
                })
                .sum::<usize>()
        })
    });
    for (name, split) in [
        ("decode_train_transform", Split::Train),
        ("decode_eval_transform", Split::Test),
    ] {
        let t = ImageTransform::imagenet(split);
        let mut out = vec![0f32; 3 * 224 * 224];
        let mut scratch = Scratch::default();
        let mut epoch = 0u64;
        g.bench_function(name, |b| {
            b.iter(|| {
                epoch += 1;
                for (i, f) in files.iter().enumerate() {
                    let (w, h) = decode_rgb(f, &std::fs::read(f).unwrap(), &mut decoded).unwrap();
                    let mut rng = shift_data::loader::sample_rng(0, epoch, i);
                    transform_image(&decoded, w, h, &t, &table, &mut rng, &mut scratch, &mut out);
                }
                out[0]
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = loaders, imagenet
}
criterion_main!(benches);
