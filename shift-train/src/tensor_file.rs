//! Named `f32`/`i64` tensors plus string metadata in a safetensors file, written atomically
//! and read back with errors that name the file and the tensor.
//!
//! Files written here carry a SHA-256 of their tensors in the metadata
//! (`deepshift.sha256`), so a damaged data section is reported rather than loaded; files
//! without it (e.g. from PyTorch's `safetensors.torch.save_file`) load unchecked. Tensors
//! of other dtypes are kept as raw bytes and written back unchanged.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use sha2::{Digest, Sha256};

use crate::atomic::write_atomic_bytes;
use crate::TrainError;

/// Metadata key of the tensors' checksum.
pub const CHECKSUM_KEY: &str = "deepshift.sha256";
const MEMORY: &str = "<memory>";

/// A tensor's values.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    /// 32-bit floats (`F32`).
    F32(Vec<f32>),
    /// 64-bit integers (`I64`), e.g. PyTorch's `num_batches_tracked`.
    I64(Vec<i64>),
    /// Any other dtype, kept as little-endian bytes.
    Other {
        /// The safetensors dtype name (`F16`, `BF16`, `F64`, ...).
        dtype: String,
        /// The raw data.
        bytes: Vec<u8>,
    },
}

impl TensorData {
    /// The safetensors dtype name.
    pub fn dtype(&self) -> &str {
        match self {
            TensorData::F32(_) => "F32",
            TensorData::I64(_) => "I64",
            TensorData::Other { dtype, .. } => dtype,
        }
    }

    fn le_bytes(&self) -> Vec<u8> {
        match self {
            TensorData::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::Other { bytes, .. } => bytes.clone(),
        }
    }
}

/// A tensor: shape and values (row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// The shape (`[]` for a scalar).
    pub shape: Vec<usize>,
    /// The values.
    pub data: TensorData,
}

/// A set of named tensors and metadata, as one safetensors file holds them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TensorFile {
    tensors: BTreeMap<String, Tensor>,
    metadata: BTreeMap<String, String>,
    source: Option<String>,
}

fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

fn dtype_by_name(name: &str) -> Option<Dtype> {
    use Dtype::*;
    [
        BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64,
    ]
    .into_iter()
    .find(|d| format!("{d:?}") == name)
}

impl TensorFile {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The file it was read from, or `<memory>`.
    pub fn source(&self) -> &str {
        self.source.as_deref().unwrap_or(MEMORY)
    }

    fn check_len(name: &str, shape: &[usize], len: usize) -> Result<(), TrainError> {
        if numel(shape) != len {
            return Err(TrainError::ShapeDataMismatch {
                tensor: name.to_string(),
                shape: shape.to_vec(),
                expected: numel(shape),
                found: len,
            });
        }
        Ok(())
    }

    /// Adds (or replaces) an `f32` tensor.
    pub fn insert_f32(
        &mut self,
        name: &str,
        shape: &[usize],
        data: Vec<f32>,
    ) -> Result<(), TrainError> {
        Self::check_len(name, shape, data.len())?;
        self.tensors.insert(
            name.to_string(),
            Tensor {
                shape: shape.to_vec(),
                data: TensorData::F32(data),
            },
        );
        Ok(())
    }

    /// Adds (or replaces) an `i64` tensor.
    pub fn insert_i64(
        &mut self,
        name: &str,
        shape: &[usize],
        data: Vec<i64>,
    ) -> Result<(), TrainError> {
        Self::check_len(name, shape, data.len())?;
        self.tensors.insert(
            name.to_string(),
            Tensor {
                shape: shape.to_vec(),
                data: TensorData::I64(data),
            },
        );
        Ok(())
    }

    /// Sets a metadata entry (keys starting with `deepshift.sha256` are reserved).
    pub fn set_metadata(&mut self, key: &str, value: &str) {
        self.metadata.insert(key.to_string(), value.to_string());
    }

    /// A metadata entry.
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }

    /// A metadata entry that must be present.
    pub fn require_metadata(&self, key: &str) -> Result<&str, TrainError> {
        self.metadata(key).ok_or_else(|| TrainError::BadMetadata {
            file: self.source().to_string(),
            key: key.to_string(),
            reason: "missing".into(),
        })
    }

    /// All metadata entries.
    pub fn metadata_map(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// A tensor by name.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.tensors.get(name)
    }

    /// Removes a tensor and returns it.
    pub fn remove(&mut self, name: &str) -> Option<Tensor> {
        self.tensors.remove(name)
    }

    /// Tensor names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether there are no tensors.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    fn lookup(&self, name: &str, expected: Option<&[usize]>) -> Result<&Tensor, TrainError> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| TrainError::MissingTensor {
                file: self.source().to_string(),
                tensor: name.to_string(),
            })?;
        match expected {
            Some(shape) if shape != t.shape.as_slice() => Err(TrainError::WrongShape {
                file: self.source().to_string(),
                tensor: name.to_string(),
                expected: shape.to_vec(),
                found: t.shape.clone(),
            }),
            _ => Ok(t),
        }
    }

    fn wrong_dtype(&self, name: &str, expected: &'static str, t: &Tensor) -> TrainError {
        TrainError::WrongDtype {
            file: self.source().to_string(),
            tensor: name.to_string(),
            expected,
            found: t.data.dtype().to_string(),
        }
    }

    /// The values of an `f32` tensor that must have `shape` (`None`: any shape).
    pub fn f32(&self, name: &str, shape: Option<&[usize]>) -> Result<&[f32], TrainError> {
        let t = self.lookup(name, shape)?;
        match &t.data {
            TensorData::F32(v) => Ok(v),
            _ => Err(self.wrong_dtype(name, "F32", t)),
        }
    }

    /// The values of an `i64` tensor that must have `shape` (`None`: any shape).
    pub fn i64(&self, name: &str, shape: Option<&[usize]>) -> Result<&[i64], TrainError> {
        let t = self.lookup(name, shape)?;
        match &t.data {
            TensorData::I64(v) => Ok(v),
            _ => Err(self.wrong_dtype(name, "I64", t)),
        }
    }

    /// SHA-256 over names, dtypes, shapes and data, in name order.
    fn checksum(&self) -> String {
        let mut h = Sha256::new();
        for (name, t) in &self.tensors {
            h.update((name.len() as u64).to_le_bytes());
            h.update(name.as_bytes());
            h.update(t.data.dtype().as_bytes());
            h.update((t.shape.len() as u64).to_le_bytes());
            for d in &t.shape {
                h.update((*d as u64).to_le_bytes());
            }
            h.update(t.data.le_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The safetensors bytes, with the checksum in the metadata.
    pub fn to_bytes(&self) -> Result<Vec<u8>, TrainError> {
        let mut metadata: HashMap<String, String> = self.metadata.clone().into_iter().collect();
        metadata.insert(CHECKSUM_KEY.to_string(), self.checksum());
        let bytes: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = self
            .tensors
            .iter()
            .map(|(name, t)| {
                let dtype =
                    dtype_by_name(t.data.dtype()).ok_or_else(|| TrainError::WrongDtype {
                        file: MEMORY.into(),
                        tensor: name.clone(),
                        expected: "a safetensors dtype",
                        found: t.data.dtype().to_string(),
                    })?;
                Ok((name.clone(), dtype, t.shape.clone(), t.data.le_bytes()))
            })
            .collect::<Result<_, TrainError>>()?;
        let views = bytes
            .iter()
            .map(|(name, dtype, shape, data)| {
                TensorView::new(*dtype, shape.clone(), data)
                    .map(|v| (name.as_str(), v))
                    .map_err(|e| TrainError::ShapeDataMismatch {
                        tensor: format!("{name} ({e})"),
                        shape: shape.clone(),
                        expected: numel(shape),
                        found: data.len(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        safetensors::serialize(views, &Some(metadata)).map_err(|e| TrainError::CorruptCheckpoint {
            file: MEMORY.into(),
            reason: format!("cannot serialise: {e}"),
        })
    }

    /// Parses safetensors bytes; `source` names them in errors.
    pub fn from_bytes(bytes: &[u8], source: &str) -> Result<Self, TrainError> {
        let corrupt = |reason: String| TrainError::CorruptCheckpoint {
            file: source.to_string(),
            reason,
        };
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| corrupt(format!("not a complete safetensors file ({e:?})")))?;
        let (_, meta) = SafeTensors::read_metadata(bytes)
            .map_err(|e| corrupt(format!("unreadable header ({e:?})")))?;
        let mut metadata: BTreeMap<String, String> = meta
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let recorded = metadata.remove(CHECKSUM_KEY);
        let mut file = TensorFile {
            tensors: BTreeMap::new(),
            metadata,
            source: Some(source.to_string()),
        };
        for (name, view) in st.tensors() {
            let raw = view.data();
            let data = match view.dtype() {
                Dtype::F32 => TensorData::F32(
                    raw.chunks_exact(4)
                        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                        .collect(),
                ),
                Dtype::I64 => TensorData::I64(
                    raw.chunks_exact(8)
                        .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
                        .collect(),
                ),
                other => TensorData::Other {
                    dtype: format!("{other:?}"),
                    bytes: raw.to_vec(),
                },
            };
            file.tensors.insert(
                name,
                Tensor {
                    shape: view.shape().to_vec(),
                    data,
                },
            );
        }
        if let Some(recorded) = recorded {
            if recorded != file.checksum() {
                return Err(corrupt(format!(
                    "its tensors do not match the checksum recorded in `{CHECKSUM_KEY}` (damaged file?)"
                )));
            }
        }
        Ok(file)
    }

    /// Writes the file atomically (temporary file, fsync, rename): on any error the previous
    /// file at `path`, if any, is left intact.
    pub fn write(&self, path: &Path) -> Result<(), TrainError> {
        write_atomic_bytes(path, &self.to_bytes()?)
    }

    /// Reads a safetensors file.
    pub fn read(path: &Path) -> Result<Self, TrainError> {
        let bytes = std::fs::read(path).map_err(|e| TrainError::io_op("read", path, e))?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TensorFile {
        let mut f = TensorFile::new();
        f.insert_f32(
            "fc1.weight",
            &[2, 3],
            vec![1.0, -2.0, 0.5, 3.25, f32::MIN_POSITIVE, -0.0],
        )
        .unwrap();
        f.insert_i64("bn.num_batches_tracked", &[], vec![12345])
            .unwrap();
        f.insert_f32("empty", &[0], vec![]).unwrap();
        f.set_metadata("arch", "mnist_linear");
        f
    }

    #[test]
    fn round_trip_in_memory() {
        let f = sample();
        let back = TensorFile::from_bytes(&f.to_bytes().unwrap(), "x.safetensors").unwrap();
        assert_eq!(
            back.f32("fc1.weight", Some(&[2, 3])).unwrap(),
            f.f32("fc1.weight", None).unwrap()
        );
        assert_eq!(
            back.i64("bn.num_batches_tracked", Some(&[])).unwrap(),
            &[12345]
        );
        assert_eq!(back.metadata("arch"), Some("mnist_linear"));
        assert_eq!(
            back.metadata(CHECKSUM_KEY),
            None,
            "the checksum is internal"
        );
        assert_eq!(
            back.names().collect::<Vec<_>>(),
            vec!["bn.num_batches_tracked", "empty", "fc1.weight"]
        );
        assert_eq!(back.source(), "x.safetensors");
    }

    #[test]
    fn lookups_name_file_and_tensor() {
        let f = TensorFile::from_bytes(&sample().to_bytes().unwrap(), "ckpt.safetensors").unwrap();
        let e = f.f32("fc2.weight", None).unwrap_err().to_string();
        assert!(
            e.contains("ckpt.safetensors") && e.contains("fc2.weight"),
            "{e}"
        );
        let e = f.f32("fc1.weight", Some(&[3, 2])).unwrap_err();
        assert!(
            matches!(&e, TrainError::WrongShape { found, .. } if found == &[2, 3]),
            "{e}"
        );
        let e = f.f32("bn.num_batches_tracked", None).unwrap_err();
        assert!(
            matches!(&e, TrainError::WrongDtype { found, .. } if found == "I64"),
            "{e}"
        );
        assert!(e.to_string().contains("bn.num_batches_tracked"));
        let e = f.i64("fc1.weight", None).unwrap_err();
        assert!(matches!(
            e,
            TrainError::WrongDtype {
                expected: "I64",
                ..
            }
        ));
        assert!(f
            .require_metadata("epoch")
            .unwrap_err()
            .to_string()
            .contains("epoch"));
        assert!(matches!(
            TensorFile::new().insert_f32("x", &[2, 2], vec![0.0; 3]),
            Err(TrainError::ShapeDataMismatch {
                expected: 4,
                found: 3,
                ..
            })
        ));
    }

    #[test]
    fn foreign_files_without_checksum_load_and_other_dtypes_survive() {
        // As `safetensors.torch.save_file` writes: no checksum, an F16 tensor.
        let half = [0x00u8, 0x3c, 0x00, 0xc0]; // 1.0, -2.0 in f16
        let w = [1.5f32.to_le_bytes(), 2.5f32.to_le_bytes()].concat();
        let views = vec![
            ("h", TensorView::new(Dtype::F16, vec![2], &half).unwrap()),
            ("w", TensorView::new(Dtype::F32, vec![2], &w).unwrap()),
        ];
        let bytes = safetensors::serialize(views, &None).unwrap();
        let f = TensorFile::from_bytes(&bytes, "torch.safetensors").unwrap();
        assert_eq!(f.f32("w", Some(&[2])).unwrap(), &[1.5, 2.5]);
        assert!(matches!(
            f.f32("h", None),
            Err(TrainError::WrongDtype { .. })
        ));
        let again = TensorFile::from_bytes(&f.to_bytes().unwrap(), "again").unwrap();
        assert_eq!(again.get("h"), f.get("h"));
    }

    #[test]
    fn a_flipped_data_byte_fails_the_checksum() {
        let mut bytes = sample().to_bytes().unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        let e = TensorFile::from_bytes(&bytes, "ckpt.safetensors").unwrap_err();
        assert!(matches!(e, TrainError::CorruptCheckpoint { .. }), "{e}");
        assert!(e.to_string().contains("checksum"), "{e}");
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = sample().to_bytes().unwrap();
        for cut in 0..bytes.len() {
            let e = TensorFile::from_bytes(&bytes[..cut], "t.safetensors").unwrap_err();
            assert!(
                matches!(e, TrainError::CorruptCheckpoint { .. }),
                "cut {cut}: {e}"
            );
        }
    }
}
