//! Random search: uniform draws from the space, the baseline of every table.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{Context, Sampler, SamplerError};
use crate::Configuration;

/// Draws each proposal from the space's prior, independently of the history.
#[derive(Debug, Clone)]
pub struct RandomSampler {
    rng: ChaCha8Rng,
}

impl RandomSampler {
    /// A random sampler with its own seeded generator.
    pub fn new(seed: u64) -> Self {
        RandomSampler {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }
}

impl Sampler for RandomSampler {
    fn name(&self) -> String {
        "random".into()
    }

    fn propose(&mut self, ctx: &Context<'_>) -> Result<Configuration, SamplerError> {
        if ctx.space.is_empty() {
            return Err(SamplerError::EmptySpace);
        }
        Ok(ctx.space.try_sample(&mut self.rng)?)
    }
}
