//! IDX files (MNIST, Fashion-MNIST), raw or gzip-compressed: the bytes go through the gzip
//! detection and the header checks as `read_idx_u8` reads a file, once as images (3-D) and
//! once as labels (1-D).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use shift_data::idx::{decode_maybe_gz, parse_idx_u8};

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz-idx3-ubyte");
    let bytes = match decode_maybe_gz(path, data.to_vec()) {
        Ok(b) => b,
        Err(e) => {
            // The message is part of the reader: formatting it must not panic either.
            let _ = e.to_string();
            return;
        }
    };
    for (ndim, what) in [(3, "IDX images"), (1, "IDX labels")] {
        match parse_idx_u8(path, bytes.clone(), ndim, what) {
            Ok(idx) => {
                let n: u64 = idx.dims.iter().map(|&d| u64::from(d)).product();
                assert_eq!(n, idx.data.len() as u64, "dimensions and data disagree");
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
});
