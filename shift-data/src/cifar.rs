//! CIFAR-10 and CIFAR-100, binary version: records of label byte(s) + 3072 pixel bytes (CHW,
//! 32x32), from the extracted folder or straight from the `.tar.gz` archive.

use std::io::Read;
use std::path::{Path, PathBuf};

use rand::Rng;

use crate::error::DataError;
use crate::loader::{Dataset, SampleRng, Scratch};
use crate::transforms::{NormTable, Normalize};
use crate::Split;

/// Side of a CIFAR image.
pub const CIFAR_SIDE: usize = 32;
/// Bytes of pixels per record.
pub const CIFAR_PIXELS: usize = 3 * CIFAR_SIDE * CIFAR_SIDE;
/// Zero padding of the training crop (`RandomCrop(32, padding=4)`).
const PAD: usize = 4;
/// The largest batch of either variant: CIFAR-100's `train.bin`, 50000 records of 3074 bytes.
const MAX_MEMBER_BYTES: u64 = 50_000 * (2 + CIFAR_PIXELS as u64);

/// Which labels of CIFAR-100 to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cifar100Labels {
    /// The 100 classes.
    Fine,
    /// The 20 superclasses.
    Coarse,
}

/// Layout of one variant of the binary format.
struct Variant {
    folder: &'static str,
    archive: &'static str,
    train: &'static [&'static str],
    test: &'static [&'static str],
    /// Label bytes per record, and the class count of each.
    label_classes: &'static [usize],
}

const CIFAR10: Variant = Variant {
    folder: "cifar-10-batches-bin",
    archive: "cifar-10-binary.tar.gz",
    train: &[
        "data_batch_1.bin",
        "data_batch_2.bin",
        "data_batch_3.bin",
        "data_batch_4.bin",
        "data_batch_5.bin",
    ],
    test: &["test_batch.bin"],
    label_classes: &[10],
};

const CIFAR100: Variant = Variant {
    folder: "cifar-100-binary",
    archive: "cifar-100-binary.tar.gz",
    train: &["train.bin"],
    test: &["test.bin"],
    // coarse, then fine
    label_classes: &[20, 100],
};

/// A CIFAR split held in memory.
#[derive(Debug, Clone)]
pub struct Cifar {
    images: Vec<u8>,
    labels: Vec<u8>,
    num_classes: usize,
    augment: bool,
    table: NormTable,
    source: PathBuf,
}

impl Cifar {
    /// CIFAR-10 `split` from `path`: a folder holding the `.bin` batches, a folder holding
    /// `cifar-10-batches-bin/` or `cifar-10-binary.tar.gz`, or the archive itself.
    /// The training split augments (random crop 32 with padding 4, horizontal flip) and both
    /// normalise as DeepShift's `cifar10.py`.
    pub fn cifar10(path: &Path, split: Split) -> Result<Self, DataError> {
        let mut l = load_variant(&CIFAR10, path, split)?;
        Ok(Self::cifar10_from_loaded(l.labels.remove(0), l, split))
    }

    /// CIFAR-100 `split` from `path` (as [`Cifar::cifar10`], with `cifar-100-binary/`,
    /// `cifar-100-binary.tar.gz`, `train.bin`, `test.bin`), with fine or coarse labels.
    pub fn cifar100(path: &Path, split: Split, which: Cifar100Labels) -> Result<Self, DataError> {
        let mut l = load_variant(&CIFAR100, path, split)?;
        let (labels, n) = match which {
            Cifar100Labels::Coarse => (l.labels.remove(0), 20),
            Cifar100Labels::Fine => (l.labels.remove(1), 100),
        };
        Ok(Self::new(
            l.images,
            labels,
            n,
            split,
            Normalize::cifar100(),
            l.source,
        ))
    }

    fn new(
        images: Vec<u8>,
        labels: Vec<u8>,
        num_classes: usize,
        split: Split,
        norm: Normalize,
        source: PathBuf,
    ) -> Self {
        Cifar {
            images,
            labels,
            num_classes,
            augment: split == Split::Train,
            table: norm.table(),
            source,
        }
    }

    /// CIFAR-10 `split` from batch files already in memory, each `(name, bytes)` as
    /// [`Cifar::cifar10`] would read them from a folder (the name only appears in errors):
    /// records are checked as for files on disk.
    pub fn cifar10_from_batches(
        batches: Vec<(PathBuf, Vec<u8>)>,
        split: Split,
    ) -> Result<Self, DataError> {
        let Some(source) = batches.first().map(|(p, _)| p.clone()) else {
            return Err(DataError::Config(
                "no CIFAR-10 batch given: pass at least one batch file's bytes".into(),
            ));
        };
        let mut l = decode_records(&CIFAR10, batches, source)?;
        Ok(Self::cifar10_from_loaded(l.labels.remove(0), l, split))
    }

    /// CIFAR-10 `split` from a `cifar-10-binary.tar.gz` stream (`archive` names it in
    /// errors), as [`Cifar::cifar10`] reads the archive from disk.
    pub fn cifar10_from_archive(
        archive: &Path,
        reader: impl Read,
        split: Split,
    ) -> Result<Self, DataError> {
        let names = CIFAR10.names(split);
        let files = read_archive_from(archive, reader, names)?;
        let mut l = decode_records(&CIFAR10, files, archive.to_path_buf())?;
        Ok(Self::cifar10_from_loaded(l.labels.remove(0), l, split))
    }

    fn cifar10_from_loaded(labels: Vec<u8>, l: Loaded, split: Split) -> Self {
        Self::new(l.images, labels, 10, split, Normalize::cifar10(), l.source)
    }

    /// Turns the training augmentation on or off.
    pub fn with_augment(mut self, augment: bool) -> Self {
        self.augment = augment;
        self
    }

    /// Replaces the normalisation (three channels).
    pub fn with_normalize(mut self, norm: &Normalize) -> Result<Self, DataError> {
        if norm.mean.len() != 3 || norm.std.len() != 3 {
            return Err(DataError::Config(format!(
                "CIFAR has three channels, the normalisation has {}",
                norm.mean.len()
            )));
        }
        self.table = norm.table();
        Ok(self)
    }

    /// All pixels, record after record, 3072 bytes (CHW) each.
    pub fn raw_images(&self) -> &[u8] {
        &self.images
    }

    /// All labels.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The folder or archive read.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// A data set of `n` random images and labels in memory (for benchmarks and tests).
    pub fn synthetic(n: usize, num_classes: usize, seed: u64, augment: bool) -> Self {
        let mut rng = <SampleRng as rand::SeedableRng>::seed_from_u64(seed);
        let mut images = vec![0u8; n * CIFAR_PIXELS];
        rng.fill(images.as_mut_slice());
        let labels = (0..n)
            .map(|_| rng.gen_range(0..num_classes) as u8)
            .collect();
        Cifar {
            images,
            labels,
            num_classes,
            augment,
            table: Normalize::cifar10().table(),
            source: PathBuf::from("<synthetic>"),
        }
    }
}

/// The records of one split.
struct Loaded {
    images: Vec<u8>,
    /// One vector per label byte of the record.
    labels: Vec<Vec<u8>>,
    source: PathBuf,
}

impl Variant {
    /// The batch files of `split`.
    fn names(&self, split: Split) -> &'static [&'static str] {
        match split {
            Split::Train => self.train,
            Split::Test => self.test,
        }
    }
}

/// Finds and reads the files of `split`.
fn load_variant(v: &Variant, path: &Path, split: Split) -> Result<Loaded, DataError> {
    let names = v.names(split);
    let files: Vec<(PathBuf, Vec<u8>)> = if path.is_file() {
        read_archive(path, names)?
    } else if names.iter().all(|n| path.join(n).is_file()) {
        read_files(path, names)?
    } else if names.iter().all(|n| path.join(v.folder).join(n).is_file()) {
        read_files(&path.join(v.folder), names)?
    } else if path.join(v.archive).is_file() {
        read_archive(&path.join(v.archive), names)?
    } else {
        let mut tried: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        tried.push(format!("{}/{}", v.folder, names[0]));
        tried.push(v.archive.to_string());
        return Err(DataError::MissingFile {
            dir: path.to_path_buf(),
            tried,
            hint: format!(
                "; download the binary version ({}) from the CIFAR page and put it, or its \
                 extracted folder, there (`cargo xtask data cifar10` explains)",
                v.archive
            ),
        });
    };
    decode_records(v, files, path.to_path_buf())
}

/// Checks and splits the records of the batch files `files` (label bytes, then pixels).
fn decode_records(
    v: &Variant,
    files: Vec<(PathBuf, Vec<u8>)>,
    source: PathBuf,
) -> Result<Loaded, DataError> {
    let record = v.label_classes.len() + CIFAR_PIXELS;
    let total: usize = files.iter().map(|(_, b)| b.len() / record).sum();
    let mut images = Vec::with_capacity(total * CIFAR_PIXELS);
    let mut labels = vec![Vec::with_capacity(total); v.label_classes.len()];
    for (file, bytes) in &files {
        if bytes.is_empty() {
            return Err(DataError::Empty { path: file.clone() });
        }
        if bytes.len() % record != 0 {
            return Err(DataError::PartialRecord {
                path: file.clone(),
                len: bytes.len() as u64,
                record,
            });
        }
        for (index, rec) in bytes.chunks_exact(record).enumerate() {
            for (k, &classes) in v.label_classes.iter().enumerate() {
                if rec[k] as usize >= classes {
                    return Err(DataError::LabelOutOfRange {
                        path: file.clone(),
                        index,
                        label: u32::from(rec[k]),
                        classes,
                    });
                }
                labels[k].push(rec[k]);
            }
            images.extend_from_slice(&rec[v.label_classes.len()..]);
        }
    }
    Ok(Loaded {
        images,
        labels,
        source,
    })
}

fn read_files(dir: &Path, names: &[&str]) -> Result<Vec<(PathBuf, Vec<u8>)>, DataError> {
    names
        .iter()
        .map(|n| {
            let p = dir.join(n);
            std::fs::read(&p)
                .map(|b| (p.clone(), b))
                .map_err(|e| DataError::io(&p, e))
        })
        .collect()
}

/// Reads the members named `names` (in any folder of the archive) from a `.tar.gz`.
fn read_archive(archive: &Path, names: &[&str]) -> Result<Vec<(PathBuf, Vec<u8>)>, DataError> {
    let file = std::fs::File::open(archive).map_err(|e| DataError::io(archive, e))?;
    read_archive_from(archive, std::io::BufReader::new(file), names)
}

/// [`read_archive`] on a `.tar.gz` stream; `archive` names it in errors.
fn read_archive_from(
    archive: &Path,
    reader: impl Read,
    names: &[&str],
) -> Result<Vec<(PathBuf, Vec<u8>)>, DataError> {
    let corrupt = |e: std::io::Error| DataError::Archive {
        path: archive.to_path_buf(),
        problem: format!("corrupt or truncated archive: {e}"),
    };
    let gz = flate2::read::GzDecoder::new(reader);
    let mut tar = tar::Archive::new(gz);
    let mut found: Vec<Option<(PathBuf, Vec<u8>)>> = vec![None; names.len()];
    for entry in tar.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let member = entry.path().map_err(corrupt)?.into_owned();
        let Some(name) = member.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if let Some(k) = names.iter().position(|n| *n == name) {
            // The size is the header's claim, not bytes at hand: a member claiming more than
            // any batch is refused before reading (a compressed stream can expand to it), and
            // at most one batch is allocated ahead, so a false claim fails on the missing data.
            let claimed = entry.size();
            if claimed > MAX_MEMBER_BYTES {
                return Err(DataError::Archive {
                    path: archive.to_path_buf(),
                    problem: format!(
                        "member {} claims {claimed} bytes, more than any CIFAR batch \
                         (at most {MAX_MEMBER_BYTES})",
                        member.display()
                    ),
                });
            }
            let mut bytes = Vec::with_capacity(claimed as usize);
            entry.read_to_end(&mut bytes).map_err(corrupt)?;
            found[k] = Some((archive.join(&member), bytes));
            if found.iter().all(Option::is_some) {
                break;
            }
        }
    }
    found
        .into_iter()
        .zip(names)
        .map(|(f, n)| {
            f.ok_or_else(|| DataError::Archive {
                path: archive.to_path_buf(),
                problem: format!("no member named {n}"),
            })
        })
        .collect()
}

impl Dataset for Cifar {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn sample_shape(&self) -> [usize; 3] {
        [3, CIFAR_SIDE, CIFAR_SIDE]
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn load(
        &self,
        index: usize,
        rng: &mut SampleRng,
        _scratch: &mut Scratch,
        out: &mut [f32],
    ) -> Result<usize, DataError> {
        let src = &self.images[index * CIFAR_PIXELS..(index + 1) * CIFAR_PIXELS];
        const S: usize = CIFAR_SIDE;
        if !self.augment {
            for c in 0..3 {
                let t = self.table.channel(c);
                for (o, &p) in out[c * S * S..(c + 1) * S * S]
                    .iter_mut()
                    .zip(&src[c * S * S..(c + 1) * S * S])
                {
                    *o = t[p as usize];
                }
            }
            return Ok(self.labels[index] as usize);
        }
        // torchvision draws the crop offset (top, then left), then the flip.
        let top = rng.gen_range(0..=2 * PAD);
        let left = rng.gen_range(0..=2 * PAD);
        let flip = rng.gen::<f64>() < 0.5;
        for c in 0..3 {
            let t = self.table.channel(c);
            let plane = &src[c * S * S..(c + 1) * S * S];
            for y in 0..S {
                let dst = &mut out[(c * S + y) * S..(c * S + y + 1) * S];
                // The padding is black before normalisation, as in the PIL pipeline.
                let Some(sy) = (y + top).checked_sub(PAD).filter(|&sy| sy < S) else {
                    dst.fill(t[0]);
                    continue;
                };
                let row = &plane[sy * S..(sy + 1) * S];
                for (x, o) in dst.iter_mut().enumerate() {
                    let xc = if flip { S - 1 - x } else { x };
                    *o = match (xc + left).checked_sub(PAD).filter(|&sx| sx < S) {
                        Some(sx) => t[row[sx] as usize],
                        None => t[0],
                    };
                }
            }
        }
        Ok(self.labels[index] as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn augmentation_is_a_shifted_possibly_mirrored_copy() {
        let ds = Cifar::synthetic(3, 10, 7, true);
        let plain = ds.clone().with_augment(false);
        let mut scratch = Scratch::default();
        let mut aug = vec![0f32; CIFAR_PIXELS];
        let mut orig = vec![0f32; CIFAR_PIXELS];
        plain
            .load(1, &mut SampleRng::seed_from_u64(0), &mut scratch, &mut orig)
            .unwrap();
        let black = plain.table.channel(0)[0];
        for seed in 0..20 {
            let mut rng = SampleRng::seed_from_u64(seed);
            ds.load(1, &mut rng, &mut scratch, &mut aug).unwrap();
            // Recover the draw and check every pixel of the red plane against it.
            let mut rng = SampleRng::seed_from_u64(seed);
            let (top, left) = (rng.gen_range(0..=8usize), rng.gen_range(0..=8usize));
            let flip = rng.gen::<f64>() < 0.5;
            for y in 0..32 {
                for x in 0..32 {
                    let xc = if flip { 31 - x } else { x };
                    let (sy, sx) = (y + top, xc + left);
                    let want = if (4..36).contains(&sy) && (4..36).contains(&sx) {
                        orig[(sy - 4) * 32 + sx - 4]
                    } else {
                        black
                    };
                    assert_eq!(aug[y * 32 + x], want, "seed {seed} at {y},{x}");
                }
            }
        }
    }
}
