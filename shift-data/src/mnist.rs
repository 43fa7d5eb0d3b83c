//! MNIST and Fashion-MNIST: 28x28 grey images in IDX files, raw or gzip-compressed.

use std::path::{Path, PathBuf};

use crate::error::DataError;
use crate::idx::read_idx_u8;
use crate::loader::{Dataset, SampleRng, Scratch};
use crate::transforms::{NormTable, Normalize};
use crate::Split;

/// Side of an MNIST image.
pub const MNIST_SIDE: usize = 28;
/// Number of classes of both data sets.
pub const MNIST_CLASSES: usize = 10;
/// Where Debian's `dataset-fashion-mnist` package installs its files.
pub const FASHION_MNIST_SYSTEM_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Which of the two IDX data sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MnistKind {
    /// Handwritten digits.
    Mnist,
    /// Zalando's fashion articles.
    FashionMnist,
}

impl MnistKind {
    /// The folder name under the data directory (`mnist`, `fashion-mnist`).
    pub fn dir_name(self) -> &'static str {
        match self {
            MnistKind::Mnist => "mnist",
            MnistKind::FashionMnist => "fashion-mnist",
        }
    }

    /// The reference normalisation of the data set.
    pub fn normalize(self) -> Normalize {
        match self {
            MnistKind::Mnist => Normalize::mnist(),
            MnistKind::FashionMnist => Normalize::fashion_mnist(),
        }
    }

    /// Folders searched, in order, for the data set under `data_dir`: `data_dir/<dir_name>`,
    /// and for Fashion-MNIST also Debian's [`FASHION_MNIST_SYSTEM_DIR`].
    pub fn candidate_dirs(self, data_dir: &Path) -> Vec<PathBuf> {
        let mut dirs = vec![data_dir.join(self.dir_name())];
        if self == MnistKind::FashionMnist {
            dirs.push(PathBuf::from(FASHION_MNIST_SYSTEM_DIR));
        }
        dirs
    }

    /// The first candidate folder that holds the training images, if any.
    pub fn locate(self, data_dir: &Path) -> Option<PathBuf> {
        self.candidate_dirs(data_dir)
            .into_iter()
            .find(|d| find_file(d, "train", "images", 3).is_some())
    }

    fn hint(self) -> &'static str {
        match self {
            MnistKind::Mnist => "; run `cargo xtask data mnist`",
            MnistKind::FashionMnist => "; run `cargo xtask data fashion-mnist`",
        }
    }
}

/// The accepted spellings of a file: `train-images-idx3-ubyte`, `train-images.idx3-ubyte`,
/// each optionally with `.gz`.
fn file_names(prefix: &str, what: &str, ndim: usize) -> Vec<String> {
    let mut names = Vec::new();
    for sep in ['-', '.'] {
        for gz in ["", ".gz"] {
            names.push(format!("{prefix}-{what}{sep}idx{ndim}-ubyte{gz}"));
        }
    }
    names
}

fn find_file(dir: &Path, prefix: &str, what: &str, ndim: usize) -> Option<PathBuf> {
    file_names(prefix, what, ndim)
        .into_iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// An MNIST-family split held in memory as bytes.
#[derive(Debug, Clone)]
pub struct Mnist {
    kind: MnistKind,
    images: Vec<u8>,
    labels: Vec<u8>,
    images_path: PathBuf,
    labels_path: PathBuf,
    table: NormTable,
}

impl Mnist {
    /// Reads `split` of `kind` from `dir`, checking magic numbers, dimensions, counts and
    /// labels; normalises with the data set's reference constants.
    pub fn open(dir: &Path, kind: MnistKind, split: Split) -> Result<Self, DataError> {
        let prefix = match split {
            Split::Train => "train",
            Split::Test => "t10k",
        };
        let missing = |what: &str, ndim| DataError::MissingFile {
            dir: dir.to_path_buf(),
            tried: file_names(prefix, what, ndim),
            hint: kind.hint().to_string(),
        };
        let images_path =
            find_file(dir, prefix, "images", 3).ok_or_else(|| missing("images", 3))?;
        let labels_path =
            find_file(dir, prefix, "labels", 1).ok_or_else(|| missing("labels", 1))?;
        Self::from_files(&images_path, &labels_path, kind)
    }

    /// Reads a given pair of IDX files.
    pub fn from_files(
        images_path: &Path,
        labels_path: &Path,
        kind: MnistKind,
    ) -> Result<Self, DataError> {
        let images = read_idx_u8(images_path, 3, "IDX images: 0x00000803")?;
        if images.dims[1] as usize != MNIST_SIDE || images.dims[2] as usize != MNIST_SIDE {
            return Err(DataError::BadDimensions {
                path: images_path.to_path_buf(),
                found: images.dims[1..].to_vec(),
                expected: format!("{MNIST_SIDE} x {MNIST_SIDE} images"),
            });
        }
        let labels = read_idx_u8(labels_path, 1, "IDX labels: 0x00000801")?;
        let (n_images, n_labels) = (images.dims[0] as usize, labels.dims[0] as usize);
        if n_images != n_labels {
            return Err(DataError::CountMismatch {
                images: images_path.to_path_buf(),
                n_images,
                labels: labels_path.to_path_buf(),
                n_labels,
            });
        }
        if n_images == 0 {
            return Err(DataError::Empty {
                path: images_path.to_path_buf(),
            });
        }
        if let Some((index, &label)) = labels
            .data
            .iter()
            .enumerate()
            .find(|(_, &l)| l as usize >= MNIST_CLASSES)
        {
            return Err(DataError::LabelOutOfRange {
                path: labels_path.to_path_buf(),
                index,
                label: u32::from(label),
                classes: MNIST_CLASSES,
            });
        }
        Ok(Mnist {
            kind,
            images: images.data,
            labels: labels.data,
            images_path: images_path.to_path_buf(),
            labels_path: labels_path.to_path_buf(),
            table: kind.normalize().table(),
        })
    }

    /// Replaces the normalisation (one channel).
    pub fn with_normalize(mut self, norm: &Normalize) -> Result<Self, DataError> {
        if norm.mean.len() != 1 || norm.std.len() != 1 {
            return Err(DataError::Config(format!(
                "MNIST has one channel, the normalisation has {}",
                norm.mean.len()
            )));
        }
        self.table = norm.table();
        Ok(self)
    }

    /// Which data set this is.
    pub fn kind(&self) -> MnistKind {
        self.kind
    }

    /// All pixels, image after image, 784 bytes each.
    pub fn raw_images(&self) -> &[u8] {
        &self.images
    }

    /// All labels.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The image and label files read.
    pub fn paths(&self) -> (&Path, &Path) {
        (&self.images_path, &self.labels_path)
    }

    /// Number of images of each class.
    pub fn class_counts(&self) -> [usize; MNIST_CLASSES] {
        let mut counts = [0; MNIST_CLASSES];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }
}

impl Dataset for Mnist {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn sample_shape(&self) -> [usize; 3] {
        [1, MNIST_SIDE, MNIST_SIDE]
    }

    fn num_classes(&self) -> usize {
        MNIST_CLASSES
    }

    fn load(
        &self,
        index: usize,
        _rng: &mut SampleRng,
        _scratch: &mut Scratch,
        out: &mut [f32],
    ) -> Result<usize, DataError> {
        const PIXELS: usize = MNIST_SIDE * MNIST_SIDE;
        let t = self.table.channel(0);
        let src = &self.images[index * PIXELS..(index + 1) * PIXELS];
        for (o, &p) in out.iter_mut().zip(src) {
            *o = t[p as usize];
        }
        Ok(self.labels[index] as usize)
    }
}
