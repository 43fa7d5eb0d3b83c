//! Class-folder image data sets (ImageNet's `train/<wnid>/*.JPEG`), as torchvision's
//! `ImageFolder`: classes are the sub-folders in sorted order, samples are the image files
//! found under each (recursively, following links), sorted as `sorted(os.walk(...))` +
//! `sorted(files)` visits them.
//!
//! Images are decoded with the `image` crate (JPEG through zune-jpeg, PNG); grey and CMYK
//! JPEGs become RGB, alpha is dropped, as PIL's `convert("RGB")`. Resampling is bit-exact with
//! Pillow's bilinear filter ([`crate::resize`]); only the JPEG decoders differ (zune-jpeg
//! versus libjpeg-turbo), by at most a few levels on some pixels.

use std::io::Read;
use std::path::{Path, PathBuf};

use rand::Rng;
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;

use crate::error::DataError;
use crate::loader::{Dataset, SampleRng, Scratch};
use crate::resize::{resize_crop_rgb8, CropBox};
use crate::transforms::{NormTable, Normalize, RandomResizedCrop, ResizeCenterCrop};
use crate::Split;

/// torchvision's `IMG_EXTENSIONS` (compared case-insensitively). Only JPEG and PNG decode;
/// other files are listed, as torchvision lists them, so class and sample indices agree, and
/// fail to decode (a training loader skips them with a warning).
pub const IMG_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "png", "ppm", "bmp", "pgm", "tif", "tiff", "webp",
];

/// Folders nested deeper than this are refused (a link cycle, most likely).
const MAX_DEPTH: usize = 32;

/// What happens to each image before normalisation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ImageTransform {
    /// `RandomResizedCrop` then `RandomHorizontalFlip(0.5)`.
    Train(RandomResizedCrop),
    /// `Resize` of the shorter side then `CenterCrop`.
    Eval(ResizeCenterCrop),
}

impl ImageTransform {
    /// The transform torchvision's ImageNet scripts use for `split`.
    pub fn imagenet(split: Split) -> Self {
        match split {
            Split::Train => ImageTransform::Train(RandomResizedCrop::default()),
            Split::Test => ImageTransform::Eval(ResizeCenterCrop::default()),
        }
    }

    /// Side of the square output.
    pub fn output_size(&self) -> usize {
        match self {
            ImageTransform::Train(t) => t.size,
            ImageTransform::Eval(t) => t.crop,
        }
    }
}

/// A class-folder data set.
#[derive(Debug, Clone)]
pub struct ImageFolder {
    root: PathBuf,
    classes: Vec<String>,
    samples: Vec<(PathBuf, u32)>,
    transform: ImageTransform,
    table: NormTable,
}

impl ImageFolder {
    /// `root/train` (training transform) or `root/val` (evaluation transform) of an ImageNet
    /// folder, normalised with the ImageNet mean and standard deviation.
    pub fn imagenet(root: &Path, split: Split) -> Result<Self, DataError> {
        let dir = match split {
            Split::Train => root.join("train"),
            Split::Test => root.join("val"),
        };
        Self::open(
            &dir,
            ImageTransform::imagenet(split),
            &Normalize::imagenet(),
        )
    }

    /// Scans the class folders of `dir`.
    pub fn open(
        dir: &Path,
        transform: ImageTransform,
        norm: &Normalize,
    ) -> Result<Self, DataError> {
        if norm.mean.len() != 3 || norm.std.len() != 3 {
            return Err(DataError::Config(
                "images are RGB: give three means and stds".into(),
            ));
        }
        match transform {
            ImageTransform::Train(t) if t.size == 0 || !(t.scale.0 > 0.0 && t.ratio.0 > 0.0) => {
                return Err(DataError::Config(format!(
                    "invalid RandomResizedCrop {t:?}"
                )))
            }
            ImageTransform::Eval(t) if t.crop == 0 || t.crop > t.resize => {
                return Err(DataError::Config(format!(
                    "centre crop {} must be between 1 and the resize {}",
                    t.crop, t.resize
                )))
            }
            _ => {}
        }
        let mut classes = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))? {
            let entry = entry.map_err(|e| DataError::io(dir, e))?;
            if entry.path().is_dir() {
                classes.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        if classes.is_empty() {
            return Err(DataError::NoClassFolders {
                path: dir.to_path_buf(),
            });
        }
        classes.sort();
        let mut samples = Vec::new();
        for (label, class) in classes.iter().enumerate() {
            let class_dir = dir.join(class);
            let before = samples.len();
            for file in image_files(&class_dir)? {
                samples.push((file, label as u32));
            }
            if samples.len() == before {
                return Err(DataError::EmptyClassFolder { path: class_dir });
            }
        }
        Ok(ImageFolder {
            root: dir.to_path_buf(),
            classes,
            samples,
            transform,
            table: norm.table(),
        })
    }

    /// The folder scanned.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Class names (folder names) in index order.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Every sample's file and class index.
    pub fn samples(&self) -> &[(PathBuf, u32)] {
        &self.samples
    }

    /// The transform applied.
    pub fn transform(&self) -> ImageTransform {
        self.transform
    }

    /// Replaces the transform.
    pub fn with_transform(mut self, transform: ImageTransform) -> Self {
        self.transform = transform;
        self
    }
}

/// The image files under `dir`, in torchvision's order.
fn image_files(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut dirs: Vec<(PathBuf, Vec<PathBuf>)> = Vec::new();
    collect_dirs(dir, 0, &mut dirs)?;
    // `sorted(os.walk(...))` orders folders by their whole path string.
    dirs.sort_by(|a, b| a.0.as_os_str().cmp(b.0.as_os_str()));
    Ok(dirs.into_iter().flat_map(|(_, files)| files).collect())
}

fn collect_dirs(
    dir: &Path,
    depth: usize,
    out: &mut Vec<(PathBuf, Vec<PathBuf>)>,
) -> Result<(), DataError> {
    if depth > MAX_DEPTH {
        return Err(DataError::io(
            dir,
            std::io::Error::other(format!(
                "folders nested over {MAX_DEPTH} deep (a link cycle?)"
            )),
        ));
    }
    let mut files = Vec::new();
    let mut subdirs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))? {
        let path = entry.map_err(|e| DataError::io(dir, e))?.path();
        if path.is_dir() {
            subdirs.push(path);
        } else if has_image_extension(&path) {
            files.push(path);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    out.push((dir.to_path_buf(), files));
    for sub in subdirs {
        collect_dirs(&sub, depth + 1, out)?;
    }
    Ok(())
}

fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMG_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// Decodes a JPEG or PNG held in memory to interleaved 8-bit RGB in `out` (reused, so a
/// worker allocates once) and returns `(width, height)`. Grey and CMYK JPEGs and grey, palette
/// and alpha PNGs become RGB as with PIL's `convert("RGB")` (alpha dropped).
pub fn decode_rgb(
    path: &Path,
    bytes: &[u8],
    out: &mut Vec<u8>,
) -> Result<(usize, usize), DataError> {
    let fail = |problem: String| DataError::Decode {
        path: path.to_path_buf(),
        problem,
    };
    if bytes.starts_with(&[0xff, 0xd8]) {
        // zune-jpeg directly (rather than through `image`) to decode into the reused buffer:
        // a fresh 0.5 MB buffer per image costs page faults and zeroing.
        // Strict: a file cut short is an error (PIL's default: "image file is truncated"),
        // not an image with a grey bottom that a training run would learn from.
        let options = DecoderOptions::default()
            .set_strict_mode(true)
            .jpeg_set_out_colorspace(ColorSpace::RGB);
        let mut dec = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
        dec.decode_headers().map_err(|e| fail(format!("{e:?}")))?;
        let (w, h) = dec
            .dimensions()
            .ok_or_else(|| fail("no dimensions in the headers".into()))?;
        let size = dec
            .output_buffer_size()
            .ok_or_else(|| fail("image too large".into()))?;
        if size != w * h * 3 {
            return Err(fail(format!(
                "decoder output is {size} bytes, not {w}x{h}x3"
            )));
        }
        out.resize(size, 0);
        dec.decode_into(out).map_err(|e| fail(format!("{e:?}")))?;
        Ok((w, h))
    } else {
        let img = image::load_from_memory(bytes)
            .map_err(|e| fail(e.to_string()))?
            .into_rgb8();
        let (w, h) = (img.width() as usize, img.height() as usize);
        *out = img.into_raw();
        Ok((w, h))
    }
}

/// Applies `transform` to an interleaved RGB image `width x height`, writing normalised CHW
/// floats into `out`.
#[allow(clippy::too_many_arguments)]
pub fn transform_image(
    pixels: &[u8],
    width: usize,
    height: usize,
    transform: &ImageTransform,
    table: &NormTable,
    rng: &mut SampleRng,
    scratch: &mut Scratch,
    out: &mut [f32],
) {
    let (w, h) = (width, height);
    let (crop, out_w, out_h, window, flip) = match transform {
        ImageTransform::Train(rrc) => {
            let crop = rrc.sample(w, h, rng);
            let flip = rng.gen::<f64>() < 0.5;
            let full = CropBox {
                top: 0,
                left: 0,
                height: rrc.size,
                width: rrc.size,
            };
            (crop, rrc.size, rrc.size, full, flip)
        }
        ImageTransform::Eval(t) => {
            let (rw, rh) = t.resized_size(w, h);
            let full = CropBox {
                top: 0,
                left: 0,
                height: h,
                width: w,
            };
            (full, rw, rh, t.window(rw, rh), false)
        }
    };
    resize_crop_rgb8(
        pixels,
        w,
        crop,
        out_w,
        out_h,
        window,
        &mut scratch.pixels,
        &mut scratch.rows,
    );
    table.hwc_to_chw(&scratch.pixels, window.width, window.height, flip, out);
}

impl Dataset for ImageFolder {
    fn len(&self) -> usize {
        self.samples.len()
    }

    fn sample_shape(&self) -> [usize; 3] {
        let s = self.transform.output_size();
        [3, s, s]
    }

    fn num_classes(&self) -> usize {
        self.classes.len()
    }

    fn load(
        &self,
        index: usize,
        rng: &mut SampleRng,
        scratch: &mut Scratch,
        out: &mut [f32],
    ) -> Result<usize, DataError> {
        let (path, label) = &self.samples[index];
        scratch.bytes.clear();
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut scratch.bytes))
            .map_err(|e| DataError::io(path, e))?;
        let mut decoded = std::mem::take(&mut scratch.decoded);
        let (w, h) = decode_rgb(path, &scratch.bytes, &mut decoded)?;
        transform_image(
            &decoded,
            w,
            h,
            &self.transform,
            &self.table,
            rng,
            scratch,
            out,
        );
        scratch.decoded = decoded;
        Ok(*label as usize)
    }
}
