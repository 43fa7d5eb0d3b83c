//! The in-memory entry points (used by the fuzz targets of `fuzz/`) read exactly what the
//! file readers read, and give the same errors naming the same source.

mod common;

use std::path::Path;

use common::*;
use shift_data::idx::{decode_maybe_gz, parse_idx_u8, read_idx_u8};
use shift_data::{Cifar, DataError, Split};

#[test]
fn gz_bytes_decode_as_the_file_reader_decodes_them() {
    let d = tempfile::tempdir().unwrap();
    let raw = idx_images(3, 28);
    let p = write(d.path(), "x-images-idx3-ubyte.gz", &gzip(&raw));
    let from_file = read_idx_u8(&p, 3, "images").unwrap();
    let bytes = decode_maybe_gz(&p, std::fs::read(&p).unwrap()).unwrap();
    assert_eq!(bytes, raw);
    let from_bytes = parse_idx_u8(&p, bytes, 3, "images").unwrap();
    assert_eq!(from_file.dims, from_bytes.dims);
    assert_eq!(from_file.data, from_bytes.data);
    // Not gzip: returned as it is.
    assert_eq!(decode_maybe_gz(&p, raw.clone()).unwrap(), raw);
    // Cut gzip: an archive error naming the source.
    let mut cut = gzip(&raw);
    cut.truncate(cut.len() / 2);
    let e = decode_maybe_gz(Path::new("cut.gz"), cut).unwrap_err();
    assert!(matches!(e, DataError::Archive { .. }), "{e}");
    assert!(e.to_string().contains("cut.gz"), "{e}");
}

#[test]
fn cifar10_batches_and_archive_in_memory_match_the_files() {
    let d = tempfile::tempdir().unwrap();
    let labels: Vec<Vec<u8>> = (0..4).map(|i| vec![(i * 3 % 10) as u8]).collect();
    let batch = cifar_records(&labels);
    write(d.path(), "test_batch.bin", &batch);
    let from_dir = Cifar::cifar10(d.path(), Split::Test).unwrap();

    let name = Path::new("test_batch.bin").to_path_buf();
    let from_batch = Cifar::cifar10_from_batches(vec![(name, batch.clone())], Split::Test).unwrap();
    assert_eq!(from_batch.raw_images(), from_dir.raw_images());
    assert_eq!(from_batch.labels(), from_dir.labels());

    let archive = tar_gz(&[("cifar-10-batches-bin/test_batch.bin", &batch)]);
    let p = write(d.path(), "cifar-10-binary.tar.gz", &archive);
    let from_file = Cifar::cifar10(&p, Split::Test).unwrap();
    let from_reader = Cifar::cifar10_from_archive(&p, archive.as_slice(), Split::Test).unwrap();
    assert_eq!(from_reader.raw_images(), from_file.raw_images());
    assert_eq!(from_reader.labels(), from_dir.labels());
    assert_eq!(from_reader.source(), p.as_path());

    // The training split is not in this archive: the error names the archive and member.
    let e = Cifar::cifar10_from_archive(&p, archive.as_slice(), Split::Train).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("cifar-10-binary.tar.gz") && msg.contains("data_batch_1.bin"),
        "{msg}"
    );
    // A bad label in memory is reported as for a file.
    let mut bad = batch;
    bad[3073] = 10;
    let e = Cifar::cifar10_from_batches(vec![("b.bin".into(), bad)], Split::Test).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::LabelOutOfRange {
                index: 1,
                label: 10,
                ..
            }
        ),
        "{e}"
    );
}
