//! Normalisation and the geometry of torchvision's transforms.
//!
//! Values follow torchvision exactly: `ToTensor` divides the byte by 255 in `f32`, `Normalize`
//! subtracts the mean and divides by the standard deviation in `f32`; a 256-entry table per
//! channel holds the results, so the float math happens once.

use rand::Rng;

use crate::resize::CropBox;

/// Per-channel mean and standard deviation applied after scaling bytes to `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalize {
    /// Mean per channel.
    pub mean: Vec<f32>,
    /// Standard deviation per channel.
    pub std: Vec<f32>,
}

impl Normalize {
    /// MNIST: mean 0.1307, std 0.3081 (the constants of the PyTorch MNIST example and of
    /// DeepShift's `mnist.py`).
    pub fn mnist() -> Self {
        Self::gray(0.1307, 0.3081)
    }

    /// Fashion-MNIST: mean 0.2860, std 0.3530, the statistics of its 60,000 training images
    /// (as widely used, e.g. in the Fashion-MNIST benchmark scripts; the test
    /// `real_data::fashion_mnist_statistics` recomputes them from the data when installed).
    pub fn fashion_mnist() -> Self {
        Self::gray(0.2860, 0.3530)
    }

    /// CIFAR-10 as in DeepShift's `cifar10.py`: mean (0.4914, 0.4822, 0.4465),
    /// std (0.2023, 0.1994, 0.2010).
    pub fn cifar10() -> Self {
        Self::rgb([0.4914, 0.4822, 0.4465], [0.2023, 0.1994, 0.2010])
    }

    /// CIFAR-100 training-set statistics: mean (0.5071, 0.4865, 0.4409),
    /// std (0.2673, 0.2564, 0.2762).
    pub fn cifar100() -> Self {
        Self::rgb([0.5071, 0.4865, 0.4409], [0.2673, 0.2564, 0.2762])
    }

    /// ImageNet as torchvision's reference scripts: mean (0.485, 0.456, 0.406),
    /// std (0.229, 0.224, 0.225).
    pub fn imagenet() -> Self {
        Self::rgb([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    }

    /// One channel.
    pub fn gray(mean: f32, std: f32) -> Self {
        Normalize {
            mean: vec![mean],
            std: vec![std],
        }
    }

    /// Three channels.
    pub fn rgb(mean: [f32; 3], std: [f32; 3]) -> Self {
        Normalize {
            mean: mean.to_vec(),
            std: std.to_vec(),
        }
    }

    /// No normalisation: bytes become `[0, 1]` floats.
    pub fn identity(channels: usize) -> Self {
        Normalize {
            mean: vec![0.0; channels],
            std: vec![1.0; channels],
        }
    }

    /// The table of every byte value per channel.
    pub fn table(&self) -> NormTable {
        let tables = self
            .mean
            .iter()
            .zip(&self.std)
            .map(|(&m, &s)| {
                let mut t = [0f32; 256];
                for (v, out) in t.iter_mut().enumerate() {
                    *out = (v as f32 / 255.0 - m) / s;
                }
                t
            })
            .collect();
        NormTable { tables }
    }
}

/// Normalised value of every byte, per channel (see [`Normalize::table`]).
#[derive(Debug, Clone)]
pub struct NormTable {
    tables: Vec<[f32; 256]>,
}

impl NormTable {
    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.tables.len()
    }

    /// The table of channel `c`.
    #[inline]
    pub fn channel(&self, c: usize) -> &[f32; 256] {
        &self.tables[c]
    }

    /// Converts an interleaved `height x width x 3` RGB image to normalised CHW floats,
    /// mirrored left-right when `flip`.
    pub fn hwc_to_chw(&self, hwc: &[u8], width: usize, height: usize, flip: bool, out: &mut [f32]) {
        let plane = width * height;
        debug_assert_eq!(hwc.len(), plane * 3);
        debug_assert_eq!(out.len(), plane * 3);
        let (r, rest) = out.split_at_mut(plane);
        let (g, b) = rest.split_at_mut(plane);
        let (tr, tg, tb) = (self.channel(0), self.channel(1), self.channel(2));
        for y in 0..height {
            let src = &hwc[y * width * 3..(y + 1) * width * 3];
            let o = y * width;
            for x in 0..width {
                let xs = if flip { width - 1 - x } else { x };
                let p = &src[xs * 3..xs * 3 + 3];
                r[o + x] = tr[p[0] as usize];
                g[o + x] = tg[p[1] as usize];
                b[o + x] = tb[p[2] as usize];
            }
        }
    }
}

/// Python's `int(round(x))`: halves go to the even neighbour.
fn py_round(x: f64) -> i64 {
    x.round_ties_even() as i64
}

/// torchvision's `RandomResizedCrop` (the crop-box sampling of `get_params`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomResizedCrop {
    /// Output side (square).
    pub size: usize,
    /// Range of the crop's area as a fraction of the image's.
    pub scale: (f64, f64),
    /// Range of the crop's aspect ratio (width / height).
    pub ratio: (f64, f64),
}

impl Default for RandomResizedCrop {
    /// `RandomResizedCrop(224)`: scale 0.08..1, ratio 3/4..4/3.
    fn default() -> Self {
        RandomResizedCrop {
            size: 224,
            scale: (0.08, 1.0),
            ratio: (3.0 / 4.0, 4.0 / 3.0),
        }
    }
}

impl RandomResizedCrop {
    /// Samples a crop of a `width x height` image: ten tries at a random area and log-uniform
    /// aspect ratio, then the central crop clamped to the ratio range, as torchvision does.
    pub fn sample(&self, width: usize, height: usize, rng: &mut impl Rng) -> CropBox {
        let area = (width * height) as f64;
        let (lr0, lr1) = (self.ratio.0.ln(), self.ratio.1.ln());
        for _ in 0..10 {
            let target_area = area * uniform(rng, self.scale.0, self.scale.1);
            let aspect = uniform(rng, lr0, lr1).exp();
            let w = py_round((target_area * aspect).sqrt());
            let h = py_round((target_area / aspect).sqrt());
            if 0 < w && w as usize <= width && 0 < h && h as usize <= height {
                let (w, h) = (w as usize, h as usize);
                let top = rng.gen_range(0..=height - h);
                let left = rng.gen_range(0..=width - w);
                return CropBox {
                    top,
                    left,
                    height: h,
                    width: w,
                };
            }
        }
        let in_ratio = width as f64 / height as f64;
        let (rmin, rmax) = (
            self.ratio.0.min(self.ratio.1),
            self.ratio.0.max(self.ratio.1),
        );
        let (w, h) = if in_ratio < rmin {
            (width, (py_round(width as f64 / rmin) as usize).min(height))
        } else if in_ratio > rmax {
            ((py_round(height as f64 * rmax) as usize).min(width), height)
        } else {
            (width, height)
        };
        CropBox {
            top: (height - h) / 2,
            left: (width - w) / 2,
            height: h,
            width: w,
        }
    }
}

fn uniform(rng: &mut impl Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.gen::<f64>()
}

/// torchvision's `Resize(resize)` (shorter side to `resize`) followed by `CenterCrop(crop)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResizeCenterCrop {
    /// Target of the shorter side.
    pub resize: usize,
    /// Side of the square centre crop.
    pub crop: usize,
}

impl Default for ResizeCenterCrop {
    /// `Resize(256)` + `CenterCrop(224)`.
    fn default() -> Self {
        ResizeCenterCrop {
            resize: 256,
            crop: 224,
        }
    }
}

impl ResizeCenterCrop {
    /// The resized size `(width, height)` of a `width x height` image: the shorter side
    /// becomes `resize`, the longer `int(resize * long / short)` as torchvision computes it.
    pub fn resized_size(&self, width: usize, height: usize) -> (usize, usize) {
        let (short, long) = if width <= height {
            (width, height)
        } else {
            (height, width)
        };
        let new_long = ((self.resize * long) as f64 / short as f64) as usize;
        if width <= height {
            (self.resize, new_long)
        } else {
            (new_long, self.resize)
        }
    }

    /// The centre-crop window within the resized image (`int(round((size - crop) / 2))`).
    pub fn window(&self, resized_w: usize, resized_h: usize) -> CropBox {
        CropBox {
            top: py_round((resized_h - self.crop) as f64 / 2.0) as usize,
            left: py_round((resized_w - self.crop) as f64 / 2.0) as usize,
            height: self.crop,
            width: self.crop,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn table_matches_torchvision_formula() {
        let t = Normalize::mnist().table();
        assert_eq!(t.channel(0)[0], (0.0f32 - 0.1307) / 0.3081);
        assert_eq!(t.channel(0)[255], (1.0f32 - 0.1307) / 0.3081);
        assert_eq!(t.channel(0)[128], (128.0f32 / 255.0 - 0.1307) / 0.3081);
    }

    #[test]
    fn python_rounding_is_half_even() {
        assert_eq!(py_round(58.5), 58);
        assert_eq!(py_round(59.5), 60);
        assert_eq!(py_round(-0.5), 0);
    }

    #[test]
    fn resize_sizes_as_torchvision() {
        let t = ResizeCenterCrop::default();
        assert_eq!(t.resized_size(500, 375), (341, 256));
        assert_eq!(t.resized_size(375, 500), (256, 341));
        assert_eq!(t.resized_size(256, 256), (256, 256));
        // (341 - 224) / 2 = 58.5 rounds to 58 in Python.
        assert_eq!(t.window(341, 256).left, 58);
        assert_eq!(t.window(341, 256).top, 16);
    }

    #[test]
    fn random_resized_crops_stay_inside_and_respect_ranges() {
        let rrc = RandomResizedCrop::default();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for (w, h) in [
            (500, 375),
            (375, 500),
            (64, 64),
            (1000, 20),
            (20, 1000),
            (1, 1),
        ] {
            for _ in 0..500 {
                let c = rrc.sample(w, h, &mut rng);
                assert!(c.width >= 1 && c.height >= 1);
                assert!(
                    c.left + c.width <= w && c.top + c.height <= h,
                    "{c:?} in {w}x{h}"
                );
            }
        }
        // No sampled crop fits a 1000x20 image (any crop of area >= 1600 and ratio <= 4/3
        // is taller than 20): the fallback is the central crop of ratio 4/3.
        let c = rrc.sample(1000, 20, &mut rng);
        assert_eq!(
            c,
            CropBox {
                top: 0,
                left: 486,
                height: 20,
                width: 27
            }
        );
    }
}
