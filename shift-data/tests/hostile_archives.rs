//! Archives whose headers lie: the CIFAR-10 reader refuses them with an error naming the
//! archive and the member, without allocating what they claim.

mod common;

use std::path::Path;

use common::*;
use shift_data::{Cifar, Split};

/// A tar stream of one member header claiming `size` bytes (GNU base-256 for large sizes),
/// followed by `data` and the end-of-archive blocks.
fn tar_claiming(name: &str, size: u64, data: &[u8]) -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    h.set_path(name).unwrap();
    h.set_mode(0o644);
    h.set_size(size);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512 + 1024, 0);
    out
}

#[test]
fn a_member_claiming_more_than_any_batch_is_refused_before_reading() {
    let name = "cifar-10-batches-bin/test_batch.bin";
    // u64::MAX: the tar reader itself refuses it ("size overflow").
    let archive = gzip(&tar_claiming(name, u64::MAX, &[0; 100]));
    let e = Cifar::cifar10_from_archive(
        Path::new("cifar-10-binary.tar.gz"),
        archive.as_slice(),
        Split::Test,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("cifar-10-binary.tar.gz"), "{e}");
    // Sizes the tar reader accepts: refused by the CIFAR reader before allocating.
    for claimed in [1 << 40, 153_700_001] {
        let archive = gzip(&tar_claiming(name, claimed, &[0; 100]));
        let e = Cifar::cifar10_from_archive(
            Path::new("cifar-10-binary.tar.gz"),
            archive.as_slice(),
            Split::Test,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("cifar-10-binary.tar.gz")
                && e.contains("test_batch.bin")
                && e.contains(&format!("claims {claimed} bytes")),
            "{e}"
        );
    }
}

#[test]
fn a_member_claiming_more_than_it_holds_is_a_truncated_archive() {
    let name = "cifar-10-batches-bin/test_batch.bin";
    // A whole batch claimed, one record present.
    let archive = gzip(&tar_claiming(name, 10_000 * 3073, &[1; 3073]));
    let e = Cifar::cifar10_from_archive(
        Path::new("cifar-10-binary.tar.gz"),
        archive.as_slice(),
        Split::Test,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("cifar-10-binary.tar.gz") && e.contains("truncated"),
        "{e}"
    );
}
