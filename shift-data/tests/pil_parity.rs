//! Parity with Pillow + torchvision on fixtures written by `tests/fixtures/make_fixtures.py`.

use std::path::{Path, PathBuf};

use rand::SeedableRng;
use shift_data::imagefolder::{decode_rgb, transform_image};
use shift_data::resize::{resize_crop_rgb8, CropBox};
use shift_data::{ImageTransform, Normalize, ResizeCenterCrop, SampleRng, Scratch};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn load(name: &str) -> image::RgbImage {
    let p = fixture(name);
    let mut buf = Vec::new();
    let (w, h) = decode_rgb(&p, &std::fs::read(&p).unwrap(), &mut buf).unwrap();
    image::RgbImage::from_raw(w as u32, h as u32, buf).unwrap()
}

fn cases(kind: &str) -> Vec<Vec<String>> {
    std::fs::read_to_string(fixture("cases.txt"))
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter(|f| f[0] == kind)
        .collect()
}

#[test]
fn resized_crop_is_bit_exact_with_torchvision_on_pil() {
    let src = load("photo.png");
    let cs = cases("crop");
    assert_eq!(cs.len(), 6);
    for c in cs {
        let n: Vec<usize> = c[1..6].iter().map(|v| v.parse().unwrap()).collect();
        let crop = CropBox {
            top: n[0],
            left: n[1],
            height: n[2],
            width: n[3],
        };
        let size = n[4];
        let want = load(&c[6]);
        let (mut out, mut scratch) = (Vec::new(), Vec::new());
        let full = CropBox {
            top: 0,
            left: 0,
            height: size,
            width: size,
        };
        resize_crop_rgb8(
            src.as_raw(),
            src.width() as usize,
            crop,
            size,
            size,
            full,
            &mut out,
            &mut scratch,
        );
        assert_eq!(out, want.as_raw().as_slice(), "case {c:?}");
    }
}

#[test]
fn resize_center_crop_is_bit_exact_with_torchvision_on_pil() {
    let src = load("photo.png");
    let cs = cases("eval");
    assert_eq!(cs.len(), 3);
    for c in cs {
        let t = ResizeCenterCrop {
            resize: c[1].parse().unwrap(),
            crop: c[2].parse().unwrap(),
        };
        let want = load(&c[3]);
        let mut out = vec![0f32; 3 * t.crop * t.crop];
        let table = Normalize::identity(3).table();
        let mut rng = SampleRng::seed_from_u64(0);
        let (w, h) = (src.width() as usize, src.height() as usize);
        transform_image(
            src.as_raw(),
            w,
            h,
            &ImageTransform::Eval(t),
            &table,
            &mut rng,
            &mut Scratch::default(),
            &mut out,
        );
        let plane = t.crop * t.crop;
        for (i, px) in want.as_raw().chunks_exact(3).enumerate() {
            for ch in 0..3 {
                assert_eq!(
                    out[ch * plane + i],
                    px[ch] as f32 / 255.0,
                    "case {c:?} pixel {i} channel {ch}"
                );
            }
        }
    }
}

/// Largest absolute difference between two images of the same size.
fn max_diff(a: &image::RgbImage, b: &image::RgbImage) -> u8 {
    assert_eq!(a.dimensions(), b.dimensions());
    a.as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| x.abs_diff(*y))
        .max()
        .unwrap()
}

#[test]
fn rgba_png_drops_alpha_as_pil() {
    assert_eq!(max_diff(&load("rgba.png"), &load("rgba_pil.png")), 0);
}

#[test]
fn jpegs_decode_close_to_libjpeg() {
    // zune-jpeg and libjpeg-turbo differ in IDCT rounding and chroma upsampling; grey and CMYK
    // images must come out as RGB close to PIL's convert("RGB").
    for (jpg, png, tol) in [
        ("rgb.jpg", "rgb_pil.png", 6),
        ("gray.jpg", "gray_pil.png", 1),
        ("cmyk.jpg", "cmyk_pil.png", 2),
    ] {
        let d = max_diff(&load(jpg), &load(png));
        assert!(d <= tol, "{jpg}: max difference {d} > {tol}");
    }
}
