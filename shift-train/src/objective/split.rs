//! The validation split held out of a training set: a fixed, seeded subset of indices.

use std::sync::Arc;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use shift_data::{DataError, Dataset, SampleRng, Scratch};

/// Samples `indices` of another data set, in that order.
pub struct Subset {
    inner: Arc<dyn Dataset>,
    indices: Vec<usize>,
}

impl Subset {
    /// The samples of `inner` at `indices` (each below `inner.len()`).
    pub fn new(inner: Arc<dyn Dataset>, indices: Vec<usize>) -> Self {
        Self { inner, indices }
    }
}

impl Dataset for Subset {
    fn len(&self) -> usize {
        self.indices.len()
    }
    fn sample_shape(&self) -> [usize; 3] {
        self.inner.sample_shape()
    }
    fn num_classes(&self) -> usize {
        self.inner.num_classes()
    }
    fn load(
        &self,
        index: usize,
        rng: &mut SampleRng,
        scratch: &mut Scratch,
        out: &mut [f32],
    ) -> Result<usize, DataError> {
        self.inner.load(self.indices[index], rng, scratch, out)
    }
}

/// Splits `0..n` into (training, validation) index lists: a seeded shuffle, the first
/// `round(n * fraction)` (at least one, when `n > 1`) for validation, both lists sorted. The
/// split depends only on `n`, `fraction` and `seed`, never on a trial, so every trial of a
/// search is validated on the same images.
pub fn holdout_split(n: usize, fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let held =
        ((n as f64 * fraction).round() as usize).clamp(usize::from(n > 1), n.saturating_sub(1));
    let (mut val, mut train) = (order[..held].to_vec(), order[held..].to_vec());
    val.sort_unstable();
    train.sort_unstable();
    (train, val)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_is_disjoint_complete_and_fixed_by_its_seed() {
        let (train, val) = holdout_split(1000, 0.1, 7);
        assert_eq!((train.len(), val.len()), (900, 100));
        let mut all: Vec<usize> = train.iter().chain(&val).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        assert_eq!(holdout_split(1000, 0.1, 7), (train, val.clone()));
        assert_ne!(holdout_split(1000, 0.1, 8).1, val);
        assert_eq!(holdout_split(2, 0.0, 1).1.len(), 1);
    }
}
