//! Tiny data sets in the official formats, written by the tests that need them.

use std::path::Path;

/// A pseudo-random byte stream (no RNG dependency needed for test pixels).
pub fn bytes(seed: u32, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// `dir/cifar10/cifar-10-batches-bin/` with `per_batch` images in each of the five training
/// batches and `test` in the test batch: records of one label byte and 3072 pixel bytes.
pub fn write_cifar10(dir: &Path, per_batch: usize, test: usize) {
    let bin = dir.join("cifar10").join("cifar-10-batches-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let batch = |seed: u32, n: usize| -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..n {
            out.push(((seed as usize + i) % 10) as u8);
            out.extend(bytes(seed * 1000 + i as u32, 3072));
        }
        out
    };
    for k in 1..=5 {
        std::fs::write(bin.join(format!("data_batch_{k}.bin")), batch(k, per_batch)).unwrap();
    }
    std::fs::write(bin.join("test_batch.bin"), batch(9, test)).unwrap();
    std::fs::write(
        bin.join("batches.meta.txt"),
        "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n",
    )
    .unwrap();
}
