//! The IDX format of MNIST and Fashion-MNIST, raw or gzip-compressed.
//!
//! An IDX file is a big-endian header `00 00 <type> <ndim>`, `ndim` big-endian `u32`
//! dimensions, then the data in row-major order. Only unsigned bytes (type `0x08`) occur in
//! the MNIST family, so only those are accepted.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::DataError;

/// Element type code of unsigned bytes.
const TYPE_U8: u32 = 0x08;

/// An IDX tensor of unsigned bytes.
#[derive(Debug, Clone)]
pub struct IdxU8 {
    /// The file it was read from.
    pub path: PathBuf,
    /// Dimensions, the item count first.
    pub dims: Vec<u32>,
    /// The elements, row-major.
    pub data: Vec<u8>,
}

/// Reads a whole file, decompressing it when it starts with the gzip magic bytes
/// (whatever its name, since both spellings circulate).
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    decode_maybe_gz(path, raw)
}

/// [`read_maybe_gz`] on bytes already in memory (read from `path`, which names them in
/// errors): decompresses them when they start with the gzip magic bytes, else returns them.
pub fn decode_maybe_gz(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>, DataError> {
    if raw.len() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
        let mut out = Vec::with_capacity(raw.len() * 4);
        flate2::read::MultiGzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| DataError::Archive {
                path: path.to_path_buf(),
                problem: format!("corrupt or truncated gzip data: {e}"),
            })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Parses IDX bytes of `ndim` dimensions; `what` names the expected content in errors.
pub fn parse_idx_u8(
    path: &Path,
    bytes: Vec<u8>,
    ndim: usize,
    what: &'static str,
) -> Result<IdxU8, DataError> {
    let header = 4 + 4 * ndim;
    let be_u32 = |b: &[u8], at: usize| u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    if bytes.len() < 4 {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: header as u64,
            found: bytes.len() as u64,
        });
    }
    let magic = be_u32(&bytes, 0);
    let expected_magic = (TYPE_U8 << 8) | ndim as u32;
    if magic != expected_magic {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            found: magic,
            expected: expected_magic,
            what,
        });
    }
    if bytes.len() < header {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: header as u64,
            found: bytes.len() as u64,
        });
    }
    let dims: Vec<u32> = (0..ndim).map(|i| be_u32(&bytes, 4 + 4 * i)).collect();
    let expected = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(u64::from(d)))
        .and_then(|n| n.checked_add(header as u64))
        .ok_or_else(|| DataError::BadDimensions {
            path: path.to_path_buf(),
            found: dims.clone(),
            expected: "dimensions whose product fits in 64 bits".into(),
        })?;
    let found = bytes.len() as u64;
    if found < expected {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected,
            found,
        });
    }
    if found > expected {
        return Err(DataError::TrailingBytes {
            path: path.to_path_buf(),
            expected,
            extra: found - expected,
        });
    }
    let mut data = bytes;
    data.drain(..header);
    Ok(IdxU8 {
        path: path.to_path_buf(),
        dims,
        data,
    })
}

/// Reads an IDX file (raw or gzip) of `ndim` dimensions.
pub fn read_idx_u8(path: &Path, ndim: usize, what: &'static str) -> Result<IdxU8, DataError> {
    let bytes = read_maybe_gz(path)?;
    parse_idx_u8(path, bytes, ndim, what)
}

/// Encodes an IDX file of unsigned bytes (for tests and tools that write the real format).
pub fn encode_idx_u8(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 4 * dims.len() + data.len());
    out.extend_from_slice(&[0, 0, TYPE_U8 as u8, dims.len() as u8]);
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let data: Vec<u8> = (0..24).collect();
        let bytes = encode_idx_u8(&[2, 3, 4], &data);
        let idx = parse_idx_u8(Path::new("x"), bytes, 3, "images").unwrap();
        assert_eq!(idx.dims, vec![2, 3, 4]);
        assert_eq!(idx.data, data);
    }

    #[test]
    fn zero_items_is_well_formed() {
        let bytes = encode_idx_u8(&[0, 28, 28], &[]);
        let idx = parse_idx_u8(Path::new("x"), bytes, 3, "images").unwrap();
        assert!(idx.data.is_empty());
    }

    #[test]
    fn short_header_is_truncated() {
        let mut bytes = encode_idx_u8(&[2, 3, 4], &[0; 24]);
        bytes.truncate(9);
        let err = parse_idx_u8(Path::new("f"), bytes, 3, "images").unwrap_err();
        assert!(
            matches!(
                err,
                DataError::Truncated {
                    expected: 16,
                    found: 9,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn huge_dimensions_do_not_overflow() {
        let bytes = encode_idx_u8(&[u32::MAX, u32::MAX, u32::MAX], &[]);
        let err = parse_idx_u8(Path::new("f"), bytes, 3, "images").unwrap_err();
        assert!(matches!(err, DataError::BadDimensions { .. }), "{err}");
    }
}
