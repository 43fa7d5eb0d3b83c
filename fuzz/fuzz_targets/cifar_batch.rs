//! CIFAR-10 binary batches (`test_batch.bin`): the record checks of `Cifar::cifar10`, then one
//! sample loaded with the training augmentation, as a data loader would.
#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use shift_data::cifar::CIFAR_PIXELS;
use shift_data::{Cifar, Dataset, SampleRng, Scratch, Split};

fuzz_target!(|data: &[u8]| {
    let batch = vec![(PathBuf::from("test_batch.bin"), data.to_vec())];
    match Cifar::cifar10_from_batches(batch, Split::Test) {
        Ok(ds) => {
            assert_eq!(ds.raw_images().len(), ds.len() * CIFAR_PIXELS);
            assert!(ds.labels().iter().all(|&l| l < 10));
            let ds = ds.with_augment(true);
            let mut out = vec![0f32; CIFAR_PIXELS];
            let mut rng = SampleRng::seed_from_u64(0);
            let label = ds
                .load(ds.len() - 1, &mut rng, &mut Scratch::default(), &mut out)
                .expect("a checked record loads");
            assert!(label < 10);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
