//! The loader: order, reproducibility, worker independence, drop_last, resume, bounds.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use shift_data::{
    Batch, Cifar, DataError, DataLoader, Dataset, ImageFolder, ImageTransform, LoaderConfig,
    Normalize, RandomResizedCrop, SampleRng, Scratch, Split,
};

fn cfg(batch_size: usize, workers: usize) -> LoaderConfig {
    LoaderConfig {
        batch_size,
        shuffle: true,
        seed: 42,
        num_workers: workers,
        prefetch: 3,
        ..Default::default()
    }
}

fn collect<D: Dataset + ?Sized + 'static>(loader: &DataLoader<D>, epoch: u64) -> Vec<Batch> {
    loader.epoch(epoch).map(Result::unwrap).collect()
}

fn same(a: &[Batch], b: &[Batch]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.images == y.images && x.labels == y.labels && x.indices == y.indices)
}

#[test]
fn batches_do_not_depend_on_the_number_of_workers() {
    let ds = Arc::new(Cifar::synthetic(103, 10, 1, true));
    let reference = collect(&DataLoader::new(Arc::clone(&ds), cfg(8, 0)).unwrap(), 3);
    for workers in [1, 2, 5] {
        let got = collect(
            &DataLoader::new(Arc::clone(&ds), cfg(8, workers)).unwrap(),
            3,
        );
        assert!(same(&reference, &got), "{workers} workers");
    }
}

#[test]
fn every_sample_once_per_epoch_in_a_new_order() {
    let ds = Arc::new(Cifar::synthetic(50, 10, 1, false));
    let loader = DataLoader::new(Arc::clone(&ds), cfg(7, 2)).unwrap();
    let order = |e| {
        collect(&loader, e)
            .iter()
            .flat_map(|b| b.indices.clone())
            .collect::<Vec<_>>()
    };
    let (e0, e1) = (order(0), order(1));
    let mut sorted = e0.clone();
    sorted.sort();
    assert_eq!(sorted, (0..50).collect::<Vec<_>>());
    assert_ne!(e0, e1);
    assert_eq!(e0, order(0));
    assert_eq!(e0, loader.order(0));
    let other_seed = DataLoader::new(
        ds,
        LoaderConfig {
            seed: 43,
            ..cfg(7, 2)
        },
    )
    .unwrap();
    assert_ne!(other_seed.order(0), e0);
}

#[test]
fn without_shuffle_the_order_is_the_data_set_order() {
    let ds = Arc::new(Cifar::synthetic(10, 10, 1, false));
    let loader = DataLoader::new(
        ds,
        LoaderConfig {
            shuffle: false,
            ..cfg(4, 1)
        },
    )
    .unwrap();
    let idx: Vec<usize> = collect(&loader, 5)
        .iter()
        .flat_map(|b| b.indices.clone())
        .collect();
    assert_eq!(idx, (0..10).collect::<Vec<_>>());
}

#[test]
fn drop_last_and_batch_shapes() {
    let ds = Arc::new(Cifar::synthetic(10, 10, 1, false));
    let keep = DataLoader::new(Arc::clone(&ds), cfg(4, 2)).unwrap();
    let sizes: Vec<usize> = collect(&keep, 0)
        .iter()
        .map(|b| b.images.shape()[0])
        .collect();
    assert_eq!((keep.num_batches(), sizes), (3, vec![4, 4, 2]));
    let drop = DataLoader::new(
        ds,
        LoaderConfig {
            drop_last: true,
            ..cfg(4, 2)
        },
    )
    .unwrap();
    let b = collect(&drop, 0);
    assert_eq!((drop.num_batches(), b.len()), (2, 2));
    assert_eq!(b[0].images.shape(), &[4, 3, 32, 32]);
}

#[test]
fn labels_and_images_match_the_data_set() {
    let ds = Arc::new(Cifar::synthetic(20, 10, 9, false));
    let loader = DataLoader::new(Arc::clone(&ds), cfg(6, 3)).unwrap();
    let mut out = vec![0f32; 3 * 32 * 32];
    for b in collect(&loader, 2) {
        for (k, &i) in b.indices.iter().enumerate() {
            assert_eq!(b.labels[k], ds.labels()[i] as usize);
            let mut rng = shift_data::loader::sample_rng(42, 2, i);
            ds.load(i, &mut rng, &mut Scratch::default(), &mut out)
                .unwrap();
            assert_eq!(
                b.images.index_axis(ndarray::Axis(0), k).as_slice().unwrap(),
                out.as_slice()
            );
        }
    }
}

#[test]
fn resuming_inside_an_epoch_reproduces_the_rest() {
    let ds = Arc::new(Cifar::synthetic(40, 10, 1, true));
    let loader = DataLoader::new(ds, cfg(6, 2)).unwrap();
    let full = collect(&loader, 4);
    let rest: Vec<Batch> = loader.epoch_from(4, 3).map(Result::unwrap).collect();
    assert!(same(&full[3..], &rest));
    assert_eq!(loader.epoch_from(4, 99).count(), 0);
}

#[test]
fn stopping_early_does_not_hang() {
    let ds = Arc::new(Cifar::synthetic(500, 10, 1, true));
    let loader = DataLoader::new(ds, cfg(4, 4)).unwrap();
    let mut it = loader.epoch(0);
    assert!(it.next().unwrap().is_ok());
    drop(it); // joins the workers
}

/// Counts loads; panics on one index when asked to.
struct Probe {
    loads: AtomicUsize,
    panic_at: Option<usize>,
}

impl Dataset for Probe {
    fn len(&self) -> usize {
        100
    }
    fn sample_shape(&self) -> [usize; 3] {
        [1, 1, 1]
    }
    fn num_classes(&self) -> usize {
        1
    }
    fn load(
        &self,
        index: usize,
        _: &mut SampleRng,
        _: &mut Scratch,
        out: &mut [f32],
    ) -> Result<usize, DataError> {
        assert_ne!(Some(index), self.panic_at, "probe panic");
        self.loads.fetch_add(1, Ordering::SeqCst);
        out[0] = index as f32;
        Ok(0)
    }
}

#[test]
fn the_queue_is_bounded() {
    let ds = Arc::new(Probe {
        loads: AtomicUsize::new(0),
        panic_at: None,
    });
    let config = LoaderConfig {
        batch_size: 1,
        shuffle: false,
        num_workers: 4,
        prefetch: 3,
        ..Default::default()
    };
    let loader = DataLoader::new(Arc::clone(&ds), config).unwrap();
    let mut it = loader.epoch(0);
    for taken in 1..=5 {
        it.next().unwrap().unwrap();
        // Give the workers a chance to run ahead; they may build at most `prefetch` batches
        // past the consumer, so the count can never exceed this, however long they run.
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(ds.loads.load(Ordering::SeqCst) <= taken + 3);
    }
}

#[test]
fn a_panicking_data_set_gives_an_error_not_a_hang() {
    let ds = Arc::new(Probe {
        loads: AtomicUsize::new(0),
        panic_at: Some(37),
    });
    let config = LoaderConfig {
        batch_size: 10,
        shuffle: false,
        num_workers: 3,
        prefetch: 2,
        ..Default::default()
    };
    let loader = DataLoader::new(ds, config).unwrap();
    let results: Vec<_> = loader.epoch(0).collect();
    assert_eq!(results.len(), 4);
    assert!(results[..3].iter().all(Result::is_ok));
    let msg = results[3].as_ref().unwrap_err().to_string();
    assert!(
        msg.contains("probe panic") && msg.contains("batch 3"),
        "{msg}"
    );
}

fn folder(dir: &Path) {
    write(dir, "n02/b.JPEG", &jpeg(50, 40));
    write(dir, "n02/a.jpg", &jpeg(40, 50));
    write(dir, "n02/sub/c.png", &png(30, 30));
    write(dir, "n02/sub-a.jpg", &jpeg(20, 20));
    write(dir, "n02/sub.b/q.jpg", &jpeg(21, 20));
    write(dir, "n01/z.PNG", &png(64, 48));
    write(dir, "n01/readme.txt", b"ignored");
    write(dir, "n10/x.jpeg", &jpeg(33, 77));
    for f in ["gray.jpg", "cmyk.jpg"] {
        let bytes = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(f),
        )
        .unwrap();
        write(dir, &format!("n10/{f}"), &bytes);
    }
}

#[test]
fn image_folder_order_matches_torchvision() {
    let d = tempfile::tempdir().unwrap();
    folder(d.path());
    let ds = ImageFolder::open(
        d.path(),
        ImageTransform::imagenet(Split::Test),
        &Normalize::imagenet(),
    )
    .unwrap();
    assert_eq!(ds.classes(), ["n01", "n02", "n10"]);
    let got: Vec<(String, u32)> = ds
        .samples()
        .iter()
        .map(|(p, l)| (p.strip_prefix(d.path()).unwrap().display().to_string(), *l))
        .collect();
    let want = [
        // As torchvision's ImageFolder lists the same tree (checked with torchvision 0.29).
        ("n01/z.PNG", 0),
        ("n02/a.jpg", 1),
        ("n02/b.JPEG", 1),
        ("n02/sub-a.jpg", 1),
        ("n02/sub/c.png", 1),
        ("n02/sub.b/q.jpg", 1),
        ("n10/cmyk.jpg", 2),
        ("n10/gray.jpg", 2),
        ("n10/x.jpeg", 2),
    ];
    assert_eq!(got, want.map(|(p, l)| (p.to_string(), l)));
}

#[test]
fn imagenet_layout_and_transforms() {
    let d = tempfile::tempdir().unwrap();
    folder(&d.path().join("train"));
    folder(&d.path().join("val"));
    let train = Arc::new(ImageFolder::imagenet(d.path(), Split::Train).unwrap());
    let val = ImageFolder::imagenet(d.path(), Split::Test).unwrap();
    assert_eq!(train.sample_shape(), [3, 224, 224]);
    assert_eq!(val.transform(), ImageTransform::imagenet(Split::Test));
    let small = ImageTransform::Train(RandomResizedCrop {
        size: 24,
        ..Default::default()
    });
    let ds = Arc::new((*train).clone().with_transform(small));
    let a = collect(&DataLoader::new(Arc::clone(&ds), cfg(3, 0)).unwrap(), 0);
    let b = collect(&DataLoader::new(Arc::clone(&ds), cfg(3, 3)).unwrap(), 0);
    assert!(same(&a, &b));
    assert_eq!(a.iter().map(Batch::len).sum::<usize>(), 9);
    assert!(a.iter().all(|b| b.skipped.is_empty()));
    let c = collect(&DataLoader::new(ds, cfg(3, 3)).unwrap(), 1);
    assert!(!same(&a, &c), "augmentation must change with the epoch");
}
