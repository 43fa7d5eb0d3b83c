//! CIFAR-10 as `cifar-10-binary.tar.gz`: gzip, then tar, then the batch records. An input that
//! does not start with the gzip magic bytes is compressed here first, so that the fuzzer's
//! mutations reach the tar headers too (mutated deflate data rarely decompresses).
#![no_main]

use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;
use libfuzzer_sys::fuzz_target;
use shift_data::cifar::CIFAR_PIXELS;
use shift_data::{Cifar, Dataset, Split};

fuzz_target!(|data: &[u8]| {
    let archive = if data.starts_with(&[0x1f, 0x8b]) {
        data.to_vec()
    } else {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(data).expect("in memory");
        enc.finish().expect("in memory")
    };
    let name = Path::new("cifar-10-binary.tar.gz");
    match Cifar::cifar10_from_archive(name, archive.as_slice(), Split::Test) {
        Ok(ds) => assert_eq!(ds.raw_images().len(), ds.len() * CIFAR_PIXELS),
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
