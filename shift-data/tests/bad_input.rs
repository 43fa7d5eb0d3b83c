//! Every kind of bad input gives an error that names the file and the problem.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;
use rand::SeedableRng;
use shift_data::idx::encode_idx_u8;
use shift_data::{
    Cifar, Cifar100Labels, DataError, DataLoader, Dataset, ImageFolder, ImageTransform,
    LoaderConfig, Mnist, MnistKind, Normalize, ResizeCenterCrop, SampleRng, Scratch, Split,
};

/// Asserts the message names `file` and contains `phrase`.
fn names(err: &DataError, file: &Path, phrase: &str) {
    let msg = err.to_string();
    assert!(
        msg.contains(&file.display().to_string()),
        "{msg:?} does not name {}",
        file.display()
    );
    assert!(msg.contains(phrase), "{msg:?} does not say {phrase:?}");
}

fn open_mnist(dir: &Path) -> Result<Mnist, DataError> {
    Mnist::open(dir, MnistKind::Mnist, Split::Train)
}

#[test]
fn mnist_raw_and_gz_load_the_same() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_mnist(a.path(), "train", 12, false);
    write_mnist(b.path(), "train", 12, true);
    let (ra, rb) = (open_mnist(a.path()).unwrap(), open_mnist(b.path()).unwrap());
    assert_eq!(ra.len(), 12);
    assert_eq!(ra.raw_images(), rb.raw_images());
    assert_eq!(ra.labels(), rb.labels());
    assert_eq!(ra.class_counts().iter().sum::<usize>(), 12);
}

#[test]
fn mnist_truncated_images() {
    let d = tempfile::tempdir().unwrap();
    write_mnist(d.path(), "train", 5, false);
    let mut img = idx_images(5, 28);
    img.truncate(img.len() - 100);
    let p = write(d.path(), "train-images-idx3-ubyte", &img);
    let e = open_mnist(d.path()).unwrap_err();
    assert!(matches!(e, DataError::Truncated { .. }), "{e}");
    names(&e, &p, "truncated file");
}

#[test]
fn mnist_truncated_gzip() {
    let d = tempfile::tempdir().unwrap();
    write_mnist(d.path(), "train", 5, true);
    let gz = gzip(&idx_images(5, 28));
    let p = write(d.path(), "train-images-idx3-ubyte.gz", &gz[..gz.len() / 2]);
    let e = open_mnist(d.path()).unwrap_err();
    names(&e, &p, "truncated gzip");
}

#[test]
fn mnist_trailing_bytes() {
    let d = tempfile::tempdir().unwrap();
    write_mnist(d.path(), "train", 5, false);
    let mut lab = idx_labels(&[1, 2, 3, 4, 5]);
    lab.extend_from_slice(&[0, 0, 0]);
    let p = write(d.path(), "train-labels-idx1-ubyte", &lab);
    let e = open_mnist(d.path()).unwrap_err();
    names(&e, &p, "3 unexpected bytes");
}

#[test]
fn mnist_wrong_magic() {
    let d = tempfile::tempdir().unwrap();
    write_mnist(d.path(), "train", 5, false);
    // A label file where the images should be: magic 0x801 instead of 0x803.
    let p = write(d.path(), "train-images-idx3-ubyte", &idx_labels(&[0; 5]));
    let e = open_mnist(d.path()).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::BadMagic {
                found: 0x801,
                expected: 0x803,
                ..
            }
        ),
        "{e}"
    );
    names(&e, &p, "wrong magic number");
}

#[test]
fn mnist_wrong_dimensions() {
    let d = tempfile::tempdir().unwrap();
    write_mnist(d.path(), "train", 5, false);
    let p = write(
        d.path(),
        "train-images-idx3-ubyte",
        &encode_idx_u8(&[5, 28, 27], &[0; 5 * 28 * 27]),
    );
    let e = open_mnist(d.path()).unwrap_err();
    names(&e, &p, "wrong dimensions [28, 27]");
}

#[test]
fn mnist_count_mismatch_names_both_files() {
    let d = tempfile::tempdir().unwrap();
    write_mnist(d.path(), "train", 5, false);
    let p = write(
        d.path(),
        "train-labels-idx1-ubyte",
        &idx_labels(&[1, 2, 3, 4]),
    );
    let e = open_mnist(d.path()).unwrap_err();
    names(&e, &p, "holds 5 images but");
    names(&e, &d.path().join("train-images-idx3-ubyte"), "4 labels");
}

#[test]
fn mnist_label_out_of_range() {
    let d = tempfile::tempdir().unwrap();
    write_mnist(d.path(), "train", 5, false);
    let p = write(
        d.path(),
        "train-labels-idx1-ubyte",
        &idx_labels(&[1, 2, 3, 10, 5]),
    );
    let e = open_mnist(d.path()).unwrap_err();
    names(&e, &p, "label 10 of item 3 is out of range");
}

#[test]
fn mnist_missing_file_says_how_to_fetch() {
    let d = tempfile::tempdir().unwrap();
    let e = open_mnist(d.path()).unwrap_err();
    names(&e, d.path(), "cargo xtask data mnist");
    let e = Mnist::open(d.path(), MnistKind::FashionMnist, Split::Test).unwrap_err();
    names(&e, d.path(), "cargo xtask data fashion-mnist");
}

fn cifar10_files(dir: &Path, n: usize) {
    let labels: Vec<Vec<u8>> = (0..n).map(|i| vec![(i % 10) as u8]).collect();
    for k in 1..=5 {
        write(dir, &format!("data_batch_{k}.bin"), &cifar_records(&labels));
    }
    write(dir, "test_batch.bin", &cifar_records(&labels[..2]));
}

#[test]
fn cifar10_folder_parent_and_archive_agree() {
    let d = tempfile::tempdir().unwrap();
    let inner = d.path().join("cifar-10-batches-bin");
    cifar10_files(&inner, 3);
    let direct = Cifar::cifar10(&inner, Split::Train).unwrap();
    let parent = Cifar::cifar10(d.path(), Split::Train).unwrap();
    assert_eq!(direct.len(), 15);
    assert_eq!(direct.raw_images(), parent.raw_images());

    let members: Vec<(String, Vec<u8>)> = std::fs::read_dir(&inner)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                format!(
                    "cifar-10-batches-bin/{}",
                    p.file_name().unwrap().to_str().unwrap()
                ),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    let refs: Vec<(&str, &[u8])> = members
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let a = tempfile::tempdir().unwrap();
    let archive = write(a.path(), "cifar-10-binary.tar.gz", &tar_gz(&refs));
    for path in [archive.as_path(), a.path()] {
        let from_tar = Cifar::cifar10(path, Split::Train).unwrap();
        assert_eq!(from_tar.raw_images(), direct.raw_images());
        assert_eq!(from_tar.labels(), direct.labels());
        assert_eq!(Cifar::cifar10(path, Split::Test).unwrap().len(), 2);
    }
}

#[test]
fn cifar10_truncated_batch() {
    let d = tempfile::tempdir().unwrap();
    cifar10_files(d.path(), 3);
    let mut rec = cifar_records(&[vec![1], vec![2]]);
    rec.truncate(3073 + 1000);
    let p = write(d.path(), "data_batch_4.bin", &rec);
    let e = Cifar::cifar10(d.path(), Split::Train).unwrap_err();
    names(&e, &p, "not a whole number of 3073-byte records");
}

#[test]
fn cifar10_label_out_of_range() {
    let d = tempfile::tempdir().unwrap();
    cifar10_files(d.path(), 3);
    let p = write(
        d.path(),
        "test_batch.bin",
        &cifar_records(&[vec![3], vec![10]]),
    );
    let e = Cifar::cifar10(d.path(), Split::Test).unwrap_err();
    names(
        &e,
        &p,
        "label 10 of item 1 is out of range (the data set has 10 classes)",
    );
}

#[test]
fn cifar100_labels_and_ranges() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "train.bin",
        &cifar_records(&[vec![19, 99], vec![0, 5]]),
    );
    let fine = Cifar::cifar100(d.path(), Split::Train, Cifar100Labels::Fine).unwrap();
    let coarse = Cifar::cifar100(d.path(), Split::Train, Cifar100Labels::Coarse).unwrap();
    assert_eq!((fine.labels(), fine.num_classes()), (&[99u8, 5][..], 100));
    assert_eq!(
        (coarse.labels(), coarse.num_classes()),
        (&[19u8, 0][..], 20)
    );
    let p = write(d.path(), "test.bin", &cifar_records(&[vec![20, 1]]));
    let e = Cifar::cifar100(d.path(), Split::Test, Cifar100Labels::Fine).unwrap_err();
    names(
        &e,
        &p,
        "label 20 of item 0 is out of range (the data set has 20 classes)",
    );
}

#[test]
fn cifar_archive_missing_member_and_truncated() {
    let d = tempfile::tempdir().unwrap();
    let rec = cifar_records(&[vec![1]]);
    let gz = tar_gz(&[("cifar-10-batches-bin/data_batch_1.bin", &rec)]);
    let p = write(d.path(), "cifar-10-binary.tar.gz", &gz);
    let e = Cifar::cifar10(&p, Split::Train).unwrap_err();
    names(&e, &p, "no member named data_batch_2.bin");
    let p = write(d.path(), "cifar-10-binary.tar.gz", &gz[..gz.len() / 2]);
    let e = Cifar::cifar10(&p, Split::Train).unwrap_err();
    names(&e, &p, "corrupt or truncated archive");
}

#[test]
fn cifar_missing_says_where_to_put_it() {
    let d = tempfile::tempdir().unwrap();
    let e = Cifar::cifar10(d.path(), Split::Train).unwrap_err();
    names(&e, d.path(), "cifar-10-binary.tar.gz");
}

#[test]
fn image_folder_empty_class() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "a/x.JPEG", &jpeg(8, 8));
    std::fs::create_dir_all(d.path().join("b")).unwrap();
    write(d.path(), "b/notes.txt", b"not an image");
    let e = ImageFolder::open(
        d.path(),
        ImageTransform::imagenet(Split::Test),
        &Normalize::imagenet(),
    )
    .unwrap_err();
    names(&e, &d.path().join("b"), "empty class folder");
}

#[test]
fn image_folder_without_classes() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "x.jpg", &jpeg(8, 8));
    let e = ImageFolder::open(
        d.path(),
        ImageTransform::imagenet(Split::Test),
        &Normalize::imagenet(),
    )
    .unwrap_err();
    names(&e, d.path(), "no class folders");
}

fn small_eval() -> ImageTransform {
    ImageTransform::Eval(ResizeCenterCrop {
        resize: 20,
        crop: 16,
    })
}

#[test]
fn undecodable_jpeg_is_an_error_naming_the_file() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "a/good.jpg", &jpeg(30, 20));
    let mut bad = jpeg(30, 20);
    bad.truncate(20); // the header alone, cut
    let p = write(d.path(), "a/bad.jpg", &bad);
    let ds = ImageFolder::open(d.path(), small_eval(), &Normalize::imagenet()).unwrap();
    let i = ds.samples().iter().position(|(f, _)| f == &p).unwrap();
    let mut out = vec![0f32; 3 * 16 * 16];
    let e = ds
        .load(
            i,
            &mut SampleRng::seed_from_u64(0),
            &mut Scratch::default(),
            &mut out,
        )
        .unwrap_err();
    assert!(e.is_skippable());
    names(&e, &p, "cannot decode image");
}

#[test]
fn jpeg_cut_inside_its_data_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let full = jpeg(64, 48);
    let p = write(d.path(), "a/cut.jpg", &full[..full.len() * 2 / 3]);
    let ds = ImageFolder::open(d.path(), small_eval(), &Normalize::imagenet()).unwrap();
    let mut out = vec![0f32; 3 * 16 * 16];
    let e = ds
        .load(
            0,
            &mut SampleRng::seed_from_u64(0),
            &mut Scratch::default(),
            &mut out,
        )
        .unwrap_err();
    names(&e, &p, "cannot decode image");
}

#[test]
fn training_loader_skips_and_counts_undecodable_images() {
    let d = tempfile::tempdir().unwrap();
    for k in 0..5 {
        write(d.path(), &format!("c{}/{k}.JPEG", k % 2), &jpeg(40 + k, 30));
    }
    write(d.path(), "c1/garbage.JPEG", b"\xff\xd8 this is not a jpeg");
    write(d.path(), "c0/image.webp", b"RIFF....WEBP"); // listed as torchvision does, not decodable
    let ds = Arc::new(ImageFolder::open(d.path(), small_eval(), &Normalize::imagenet()).unwrap());
    assert_eq!(ds.len(), 7);
    for workers in [0, 2] {
        let cfg = LoaderConfig {
            batch_size: 3,
            num_workers: workers,
            ..Default::default()
        };
        let loader = DataLoader::new(Arc::clone(&ds), cfg).unwrap();
        let mut epoch = loader.epoch(0);
        let batches: Vec<_> = epoch.by_ref().map(Result::unwrap).collect();
        assert_eq!(epoch.skipped(), 2);
        assert_eq!(batches.iter().map(|b| b.len()).sum::<usize>(), 5);
        let skipped: Vec<String> = batches
            .iter()
            .flat_map(|b| &b.skipped)
            .map(|s| s.error.to_string())
            .collect();
        assert!(
            skipped.iter().any(|m| m.contains("garbage.JPEG")),
            "{skipped:?}"
        );
        assert!(
            skipped.iter().any(|m| m.contains("image.webp")),
            "{skipped:?}"
        );
        // Without skipping, the first undecodable image ends the epoch with its error.
        let strict = LoaderConfig {
            batch_size: 3,
            num_workers: workers,
            skip_undecodable: false,
            ..Default::default()
        };
        let loader = DataLoader::new(Arc::clone(&ds), strict).unwrap();
        let errs: Vec<DataError> = loader.epoch(0).filter_map(Result::err).collect();
        assert_eq!(errs.len(), 1);
        assert!(errs[0].to_string().contains("cannot decode image"));
    }
}

#[test]
fn bad_configuration_is_refused() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "a/x.png", &png(8, 8));
    let t = ImageTransform::Eval(ResizeCenterCrop {
        resize: 200,
        crop: 224,
    });
    let e = ImageFolder::open(d.path(), t, &Normalize::imagenet()).unwrap_err();
    assert!(matches!(e, DataError::Config(_)), "{e}");
    let ds = Arc::new(Cifar::synthetic(4, 10, 0, false));
    let cfg = LoaderConfig {
        batch_size: 0,
        ..Default::default()
    };
    assert!(matches!(
        DataLoader::new(ds, cfg),
        Err(DataError::Config(_))
    ));
}
