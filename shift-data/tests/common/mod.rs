//! Writers of small files in the real formats, for the integration tests.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use shift_data::idx::encode_idx_u8;

/// Writes a file and returns its path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Gzip-compresses bytes.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// IDX images `n x side x side` whose pixel values encode the image index.
pub fn idx_images(n: usize, side: u32) -> Vec<u8> {
    let px = (side * side) as usize;
    let data: Vec<u8> = (0..n * px).map(|i| ((i / px) * 10 + i % 7) as u8).collect();
    encode_idx_u8(&[n as u32, side, side], &data)
}

/// IDX labels.
pub fn idx_labels(labels: &[u8]) -> Vec<u8> {
    encode_idx_u8(&[labels.len() as u32], labels)
}

/// Writes a consistent MNIST split (`prefix` = train or t10k) of `n` images into `dir`.
pub fn write_mnist(dir: &Path, prefix: &str, n: usize, gz: bool) {
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    let (img, lab) = (idx_images(n, 28), idx_labels(&labels));
    if gz {
        write(dir, &format!("{prefix}-images-idx3-ubyte.gz"), &gzip(&img));
        write(dir, &format!("{prefix}-labels-idx1-ubyte.gz"), &gzip(&lab));
    } else {
        write(dir, &format!("{prefix}-images-idx3-ubyte"), &img);
        write(dir, &format!("{prefix}-labels-idx1-ubyte"), &lab);
    }
}

/// CIFAR records: `labels[i]` label bytes then 3072 pixels derived from the record index.
pub fn cifar_records(labels: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, l) in labels.iter().enumerate() {
        out.extend_from_slice(l);
        out.extend((0..3072).map(|p| ((i * 13 + p) % 256) as u8));
    }
    out
}

/// A `.tar.gz` with the given members.
pub fn tar_gz(members: &[(&str, &[u8])]) -> Vec<u8> {
    let enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(enc);
    for (name, bytes) in members {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, *bytes).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

/// A small JPEG of a colour gradient.
pub fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img =
        image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 3) as u8, (y * 5) as u8, 128]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// A small PNG.
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 7]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}
