//! Batching: the [`Dataset`] trait and the [`DataLoader`].
//!
//! Every random choice is a function of `(seed, epoch, ...)`: the order of an epoch comes from
//! `(seed, epoch)` and a sample's augmentation from `(seed, epoch, sample index)`. So the
//! batches of an epoch are the same whatever the number of workers, and resuming at epoch `e`
//! (or at batch `b` of it, [`DataLoader::epoch_from`]) reproduces an uninterrupted run.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use ndarray::Array4;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::error::DataError;

/// The random generator handed to [`Dataset::load`] for one sample.
pub type SampleRng = rand_chacha::ChaCha8Rng;

/// Buffers a worker reuses from sample to sample (file bytes, decoded pixels, ...).
#[derive(Debug, Default)]
pub struct Scratch {
    /// Raw file contents.
    pub bytes: Vec<u8>,
    /// A decoded image.
    pub decoded: Vec<u8>,
    /// Decoded or resized pixels.
    pub pixels: Vec<u8>,
    /// Intermediate rows of a resize.
    pub rows: Vec<u8>,
}

/// A data set of fixed-shape samples with integer labels.
pub trait Dataset: Send + Sync {
    /// Number of samples.
    fn len(&self) -> usize;

    /// Whether there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Shape of one sample, `[channels, height, width]`.
    fn sample_shape(&self) -> [usize; 3];

    /// Number of classes (labels are below it).
    fn num_classes(&self) -> usize;

    /// Writes sample `index`, normalised and (where the data set augments) augmented with
    /// randomness drawn from `rng`, into `out` (`C*H*W` floats, CHW), and returns its label.
    fn load(
        &self,
        index: usize,
        rng: &mut SampleRng,
        scratch: &mut Scratch,
        out: &mut [f32],
    ) -> Result<usize, DataError>;
}

impl<D: Dataset + ?Sized> Dataset for Arc<D> {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn sample_shape(&self) -> [usize; 3] {
        (**self).sample_shape()
    }
    fn num_classes(&self) -> usize {
        (**self).num_classes()
    }
    fn load(
        &self,
        index: usize,
        rng: &mut SampleRng,
        scratch: &mut Scratch,
        out: &mut [f32],
    ) -> Result<usize, DataError> {
        (**self).load(index, rng, scratch, out)
    }
}

/// A sample left out of its batch because it could not be decoded.
#[derive(Debug)]
pub struct SkippedSample {
    /// Index in the data set.
    pub index: usize,
    /// Why (names the file).
    pub error: DataError,
}

/// One batch: images `N x C x H x W` and their labels.
#[derive(Debug)]
pub struct Batch {
    /// Normalised (and augmented) images, NCHW.
    pub images: Array4<f32>,
    /// Label of each image.
    pub labels: Vec<usize>,
    /// Data-set index of each image.
    pub indices: Vec<usize>,
    /// Samples of this batch that were skipped (so `N` is smaller than the batch size).
    pub skipped: Vec<SkippedSample>,
}

impl Batch {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the batch holds no image (every sample was skipped).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Settings of a [`DataLoader`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoaderConfig {
    /// Samples per batch.
    pub batch_size: usize,
    /// Visit the samples in a new random order each epoch.
    pub shuffle: bool,
    /// Seed of the order and of the augmentation.
    pub seed: u64,
    /// Drop the last batch when it is smaller than `batch_size`.
    pub drop_last: bool,
    /// Background threads building batches; 0 builds them on the calling thread (the
    /// deterministic mode for tests; all settings give the same batches).
    pub num_workers: usize,
    /// Most batches built ahead of the consumer (the bounded queue); at least 1.
    pub prefetch: usize,
    /// Skip samples that cannot be decoded (with a warning on stderr, counted in
    /// [`Batch::skipped`] and [`EpochIter::skipped`]) instead of failing the epoch.
    pub skip_undecodable: bool,
}

impl Default for LoaderConfig {
    /// Batch 64, no shuffling, seed 0, keep the last batch, one worker per core, a window of
    /// `workers + 2` batches (every worker busy, two ready; an ImageNet batch of 256 is
    /// 154 MB, so the window bounds memory), skip undecodable images.
    fn default() -> Self {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        LoaderConfig {
            batch_size: 64,
            shuffle: false,
            seed: 0,
            drop_last: false,
            num_workers: workers,
            prefetch: workers + 2,
            skip_undecodable: true,
        }
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A well-mixed seed from several integers (order matters).
pub fn derive_seed(parts: &[u64]) -> u64 {
    parts
        .iter()
        .fold(0x5eed_da7a_u64, |h, &p| splitmix64(h ^ splitmix64(p)))
}

/// Tag of the epoch-order generator, distinct from every sample index.
const ORDER_TAG: u64 = u64::MAX;

/// The generator of sample `index` in `epoch`.
pub fn sample_rng(seed: u64, epoch: u64, index: usize) -> SampleRng {
    SampleRng::seed_from_u64(derive_seed(&[seed, epoch, index as u64]))
}

/// Batches over a [`Dataset`], optionally shuffled, built on background threads.
pub struct DataLoader<D: Dataset + ?Sized> {
    dataset: Arc<D>,
    config: LoaderConfig,
}

impl<D: Dataset + ?Sized + 'static> DataLoader<D> {
    /// A loader over `dataset`; fails on a zero batch size or prefetch.
    pub fn new(dataset: Arc<D>, config: LoaderConfig) -> Result<Self, DataError> {
        if config.batch_size == 0 {
            return Err(DataError::Config("batch size must be at least 1".into()));
        }
        if config.prefetch == 0 {
            return Err(DataError::Config("prefetch must be at least 1".into()));
        }
        Ok(DataLoader { dataset, config })
    }

    /// The data set.
    pub fn dataset(&self) -> &Arc<D> {
        &self.dataset
    }

    /// The settings.
    pub fn config(&self) -> &LoaderConfig {
        &self.config
    }

    /// Batches per epoch.
    pub fn num_batches(&self) -> usize {
        let (n, b) = (self.dataset.len(), self.config.batch_size);
        if self.config.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// The order in which `epoch` visits the samples.
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.dataset.len()).collect();
        if self.config.shuffle {
            let mut rng =
                SampleRng::seed_from_u64(derive_seed(&[self.config.seed, epoch, ORDER_TAG]));
            order.shuffle(&mut rng);
        }
        order
    }

    /// The batches of `epoch`.
    pub fn epoch(&self, epoch: u64) -> EpochIter<D> {
        self.epoch_from(epoch, 0)
    }

    /// The batches of `epoch` from batch `start` on (to resume inside an epoch).
    pub fn epoch_from(&self, epoch: u64, start: usize) -> EpochIter<D> {
        let job = Arc::new(Job {
            dataset: Arc::clone(&self.dataset),
            order: self.order(epoch),
            config: self.config.clone(),
            epoch,
            num_batches: self.num_batches(),
        });
        let start = start.min(job.num_batches);
        let mut it = EpochIter {
            job: Arc::clone(&job),
            next: start,
            skipped: 0,
            failed: false,
            workers: None,
            local_scratch: Scratch::default(),
        };
        if self.config.num_workers > 0 && start < job.num_batches {
            it.workers = Some(Workers::spawn(job, start));
        }
        it
    }
}

/// Everything needed to build any batch of one epoch.
struct Job<D: ?Sized> {
    dataset: Arc<D>,
    order: Vec<usize>,
    config: LoaderConfig,
    epoch: u64,
    num_batches: usize,
}

impl<D: Dataset + ?Sized> Job<D> {
    fn build(&self, b: usize, scratch: &mut Scratch) -> Result<Batch, DataError> {
        let ds = &*self.dataset;
        let bs = self.config.batch_size;
        let idx = &self.order[b * bs..((b + 1) * bs).min(self.order.len())];
        let [c, h, w] = ds.sample_shape();
        let per = c * h * w;
        let mut data = vec![0f32; idx.len() * per];
        let mut labels = Vec::with_capacity(idx.len());
        let mut indices = Vec::with_capacity(idx.len());
        let mut skipped = Vec::new();
        for &i in idx {
            let mut rng = sample_rng(self.config.seed, self.epoch, i);
            let slot = &mut data[labels.len() * per..(labels.len() + 1) * per];
            match ds.load(i, &mut rng, scratch, slot) {
                Ok(label) => {
                    labels.push(label);
                    indices.push(i);
                }
                Err(e) if self.config.skip_undecodable && e.is_skippable() => {
                    skipped.push(SkippedSample { index: i, error: e })
                }
                Err(e) => return Err(e),
            }
        }
        data.truncate(labels.len() * per);
        let images = Array4::from_shape_vec((labels.len(), c, h, w), data)
            .expect("length is batch * C * H * W by construction");
        Ok(Batch {
            images,
            labels,
            indices,
            skipped,
        })
    }
}

struct Window {
    /// Next batch a worker will claim.
    next: usize,
    /// Batches handed to the consumer so far (the window's left edge).
    consumed: usize,
    stop: bool,
}

struct Workers<D: ?Sized> {
    shared: Arc<(Mutex<Window>, Condvar)>,
    rx: mpsc::Receiver<(usize, Result<Batch, DataError>)>,
    pending: BTreeMap<usize, Result<Batch, DataError>>,
    handles: Vec<JoinHandle<()>>,
    _job: std::marker::PhantomData<fn() -> Arc<Job<D>>>,
}

impl<D: Dataset + ?Sized + 'static> Workers<D> {
    fn spawn(job: Arc<Job<D>>, start: usize) -> Self {
        let shared = Arc::new((
            Mutex::new(Window {
                next: start,
                consumed: start,
                stop: false,
            }),
            Condvar::new(),
        ));
        let (tx, rx) = mpsc::channel();
        let handles = (0..job.config.num_workers)
            .map(|_| {
                let (job, shared, tx) = (Arc::clone(&job), Arc::clone(&shared), tx.clone());
                std::thread::spawn(move || worker(&job, &shared, &tx))
            })
            .collect();
        Workers {
            shared,
            rx,
            pending: BTreeMap::new(),
            handles,
            _job: std::marker::PhantomData,
        }
    }

    fn take(&mut self, b: usize) -> Result<Batch, DataError> {
        loop {
            if let Some(r) = self.pending.remove(&b) {
                let (lock, cv) = &*self.shared;
                lock.lock().unwrap_or_else(|e| e.into_inner()).consumed = b + 1;
                cv.notify_all();
                return r;
            }
            match self.rx.recv() {
                Ok((i, r)) => {
                    self.pending.insert(i, r);
                }
                Err(_) => {
                    return Err(DataError::Worker(format!(
                        "all workers stopped before batch {b} was built (a worker panicked)"
                    )))
                }
            }
        }
    }
}

impl<D: ?Sized> Drop for Workers<D> {
    fn drop(&mut self) {
        {
            let (lock, cv) = &*self.shared;
            lock.lock().unwrap_or_else(|e| e.into_inner()).stop = true;
            cv.notify_all();
        }
        for h in self.handles.drain(..) {
            // A panicked worker already reported itself through the closed channel.
            let _ = h.join();
        }
    }
}

fn worker<D: Dataset + ?Sized>(
    job: &Job<D>,
    shared: &(Mutex<Window>, Condvar),
    tx: &mpsc::Sender<(usize, Result<Batch, DataError>)>,
) {
    let mut scratch = Scratch::default();
    let (lock, cv) = shared;
    loop {
        let b = {
            let mut w = lock.lock().unwrap_or_else(|e| e.into_inner());
            while !w.stop && w.next < job.num_batches && w.next >= w.consumed + job.config.prefetch
            {
                w = cv.wait(w).unwrap_or_else(|e| e.into_inner());
            }
            if w.stop || w.next >= job.num_batches {
                return;
            }
            w.next += 1;
            w.next - 1
        };
        // A panic must reach the consumer as an error: otherwise the other workers wait for
        // the window to move and the consumer waits for the lost batch, forever.
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.build(b, &mut scratch)))
                .unwrap_or_else(|p| {
                    let msg = p
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| p.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".into());
                    scratch = Scratch::default();
                    Err(DataError::Worker(format!(
                        "panic while building batch {b}: {msg}"
                    )))
                });
        if tx.send((b, result)).is_err() {
            return;
        }
    }
}

/// The batches of one epoch, in order. Stops after the first error.
pub struct EpochIter<D: Dataset + ?Sized + 'static> {
    job: Arc<Job<D>>,
    next: usize,
    skipped: usize,
    failed: bool,
    workers: Option<Workers<D>>,
    local_scratch: Scratch,
}

impl<D: Dataset + ?Sized + 'static> EpochIter<D> {
    /// Samples skipped so far in this epoch (undecodable images).
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Batches of the whole epoch (including those already yielded).
    pub fn num_batches(&self) -> usize {
        self.job.num_batches
    }
}

impl<D: Dataset + ?Sized + 'static> Iterator for EpochIter<D> {
    type Item = Result<Batch, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.next >= self.job.num_batches {
            return None;
        }
        let b = self.next;
        self.next += 1;
        let r = match &mut self.workers {
            Some(w) => w.take(b),
            None => self.job.build(b, &mut self.local_scratch),
        };
        match &r {
            Ok(batch) => {
                for s in &batch.skipped {
                    eprintln!("warning: skipped sample {}: {}", s.index, s.error);
                }
                self.skipped += batch.skipped.len();
            }
            Err(_) => {
                self.failed = true;
                self.workers = None;
            }
        }
        Some(r)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = if self.failed {
            0
        } else {
            self.job.num_batches - self.next
        };
        (n, Some(n))
    }
}
