//! State dicts as safetensors files with PyTorch's names and layouts.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use safetensors::{Dtype, SafeTensors};

use crate::buffer::Buffer;
use crate::error::NnError;
use crate::model::{named_buffers, named_params, Model, ModuleRef};
use crate::param::Param;
use crate::tensor::Tensor;

/// Named tensors in a deterministic (sorted) order plus string metadata.
#[derive(Debug, Clone, Default)]
pub struct StateDict {
    /// Tensors by PyTorch name.
    pub tensors: BTreeMap<String, Tensor>,
    /// `__metadata__` of the safetensors file (sorted, so files are reproducible).
    pub metadata: BTreeMap<String, String>,
}

/// The model's parameters and buffers as they are (exact values, for checkpoints and resume).
pub fn state_dict(model: &dyn Model) -> StateDict {
    let params = named_params(model)
        .into_iter()
        .map(|(n, p)| (n, p.value().as_standard_layout().into_owned()));
    let buffers = named_buffers(model)
        .into_iter()
        .map(|(n, b)| (n, b.value().as_standard_layout().into_owned()));
    StateDict {
        tensors: params.chain(buffers).collect(),
        metadata: BTreeMap::new(),
    }
}

/// The model's parameters rounded as DeepShift saves trained weights (see
/// [`crate::WeightLayer::rounded_params`]).
pub fn rounded_state_dict(model: &dyn Model) -> Result<StateDict, NnError> {
    let mut tensors = BTreeMap::new();
    for (name, module) in model.modules() {
        match module {
            ModuleRef::Weight(layer) => tensors.extend(layer.rounded_params(&name)?),
            ModuleRef::Norm(bn) => {
                let params = bn.named_params(&name).into_iter();
                tensors.extend(params.map(|(n, p)| (n, p.value().clone())));
                let buffers = bn.named_buffers(&name).into_iter();
                tensors.extend(buffers.map(|(n, b)| (n, b.value().clone())));
            }
        }
    }
    Ok(StateDict {
        tensors,
        metadata: BTreeMap::new(),
    })
}

/// Where a state-dict entry goes: a parameter or a buffer.
enum Slot {
    Param(Param),
    Buffer(Buffer),
}

impl Slot {
    fn shape(&self) -> Vec<usize> {
        match self {
            Slot::Param(p) => p.value().shape().to_vec(),
            Slot::Buffer(b) => b.value().shape().to_vec(),
        }
    }

    fn set(&self, t: Tensor) {
        match self {
            Slot::Param(p) => p.set_value(t),
            Slot::Buffer(b) => b.set_value(t),
        }
    }
}

/// Loads parameters and buffers into the model, strictly: a missing, unexpected or wrongly
/// shaped tensor is an error naming it (`file` names the source in messages). Nothing is
/// changed on error.
pub fn load_state_dict(model: &dyn Model, dict: &StateDict, file: &str) -> Result<(), NnError> {
    let err = |problem: String| NnError::StateDict {
        file: file.to_string(),
        problem,
    };
    let slots: Vec<(String, Slot)> = named_params(model)
        .into_iter()
        .map(|(n, p)| (n, Slot::Param(p)))
        .chain(
            named_buffers(model)
                .into_iter()
                .map(|(n, b)| (n, Slot::Buffer(b))),
        )
        .collect();
    let expected: BTreeMap<_, _> = slots.iter().map(|(n, p)| (n.as_str(), p)).collect();
    let missing: Vec<_> = expected
        .keys()
        .filter(|n| !dict.tensors.contains_key(**n))
        .collect();
    if !missing.is_empty() {
        return Err(err(format!("missing tensors {missing:?}")));
    }
    let unexpected: Vec<_> = dict
        .tensors
        .keys()
        .filter(|n| !expected.contains_key(n.as_str()))
        .collect();
    if !unexpected.is_empty() {
        return Err(err(format!("unexpected tensors {unexpected:?}")));
    }
    for (name, slot) in &expected {
        let t = &dict.tensors[*name];
        if t.shape() != slot.shape() {
            return Err(err(format!(
                "tensor `{name}` has shape {:?}, the model expects {:?}",
                t.shape(),
                slot.shape()
            )));
        }
    }
    for (name, slot) in expected {
        slot.set(dict.tensors[name].as_standard_layout().into_owned());
    }
    Ok(())
}

/// Writes a state dict as safetensors, atomically (temporary file in the same folder, fsync,
/// rename, fsync of the folder), so an interrupted or failed write never replaces a good file.
/// Tensors named `*.num_batches_tracked` are written as I64, as PyTorch keeps them; all others
/// as F32. The same state always gives the same bytes: see [`encode_safetensors`].
pub fn save_safetensors(dict: &StateDict, path: &Path) -> Result<(), NnError> {
    let blob = encode_safetensors(dict, &path.display().to_string())?;
    if path.is_dir() {
        // The rename would fail only after the temporary file exists, and leave it behind.
        return Err(NnError::StateDict {
            file: path.display().to_string(),
            problem: "is a folder, not a file".into(),
        });
    }
    let io = |source| NnError::Io {
        file: path.display().to_string(),
        source,
    };
    let mut file = atomic_write_file::AtomicWriteFile::open(path).map_err(io)?;
    file.write_all(&blob).map_err(io)?;
    file.commit().map_err(io)
}

/// The safetensors bytes of a state dict. The `safetensors` crate lays the data out in a fixed
/// order (by alignment, then name) but writes `__metadata__` in hash order; the header is
/// re-serialised here with every map sorted, so equal states give equal bytes. `file` names the
/// destination in errors.
pub fn encode_safetensors(dict: &StateDict, file: &str) -> Result<Vec<u8>, NnError> {
    let err = |problem: String| NnError::StateDict {
        file: file.to_string(),
        problem,
    };
    let bytes: Vec<(String, Dtype, Vec<u8>, Vec<usize>)> = dict
        .tensors
        .iter()
        .map(|(n, t)| {
            let t = t.as_standard_layout();
            let (dtype, data): (Dtype, Vec<u8>) = if is_int64_buffer(n) {
                let bytes = t.iter().flat_map(|v| (*v as i64).to_le_bytes()).collect();
                (Dtype::I64, bytes)
            } else {
                (Dtype::F32, t.iter().flat_map(|v| v.to_le_bytes()).collect())
            };
            (n.clone(), dtype, data, t.shape().to_vec())
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(n, dtype, data, shape)| {
            safetensors::tensor::TensorView::new(*dtype, shape.clone(), data)
                .map(|v| (n.clone(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    let metadata = (!dict.metadata.is_empty()).then(|| dict.metadata.clone().into_iter().collect());
    let blob = safetensors::serialize(views, &metadata).map_err(|e| err(e.to_string()))?;
    canonical_header(blob).map_err(err)
}

/// One entry of a safetensors header: `__metadata__` (strings) or a tensor's description.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
enum HeaderEntry {
    Metadata(BTreeMap<String, String>),
    Tensor(serde_json::Value),
}

/// Rewrites the header of a safetensors blob with sorted keys, padded with spaces to a multiple
/// of 8 bytes as the format asks; the data part is kept as it is.
fn canonical_header(blob: Vec<u8>) -> Result<Vec<u8>, String> {
    let header_len = blob
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
        .ok_or("serialised blob is shorter than its length prefix")?;
    let header = blob
        .get(8..8 + header_len)
        .ok_or("serialised header is truncated")?;
    let entries: BTreeMap<String, HeaderEntry> =
        serde_json::from_slice(header).map_err(|e| format!("serialised header: {e}"))?;
    let mut header = serde_json::to_vec(&entries).map_err(|e| format!("header: {e}"))?;
    header.resize(header.len().div_ceil(8) * 8, b' ');
    let mut out = Vec::with_capacity(8 + header.len() + blob.len() - 8 - header_len);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&blob[8 + header_len..]);
    Ok(out)
}

/// PyTorch's integer buffers (batch norm's batch counter).
fn is_int64_buffer(name: &str) -> bool {
    name == "num_batches_tracked" || name.ends_with(".num_batches_tracked")
}

/// Reads a safetensors file; F32 tensors as they are, F64/I64/I32 converted to f32 (PyTorch
/// stores `num_batches_tracked` as I64). Errors name the file and the tensor.
pub fn load_safetensors(path: &Path) -> Result<StateDict, NnError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| NnError::Io {
        file: file.clone(),
        source,
    })?;
    parse_safetensors(&bytes, &file)
}

/// [`load_safetensors`] on bytes in memory; `file` names them in errors.
pub fn parse_safetensors(bytes: &[u8], file: &str) -> Result<StateDict, NnError> {
    let err = |problem: String| NnError::StateDict {
        file: file.to_string(),
        problem,
    };
    let (_, meta) = SafeTensors::read_metadata(bytes)
        .map_err(|e| err(format!("not a valid safetensors file: {e}")))?;
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| err(format!("not a valid safetensors file: {e}")))?;
    let mut tensors = BTreeMap::new();
    for (name, view) in st.tensors() {
        let data = view.data();
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect(),
            Dtype::F64 => data
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32)
                .collect(),
            Dtype::I64 => data
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f32)
                .collect(),
            Dtype::I32 => data
                .chunks_exact(4)
                .map(|b| i32::from_le_bytes(b.try_into().unwrap()) as f32)
                .collect(),
            other => {
                return Err(err(format!(
                    "tensor `{name}` has unsupported dtype {other:?}"
                )))
            }
        };
        let t = Tensor::from_shape_vec(view.shape().to_vec(), values)
            .map_err(|e| err(format!("tensor `{name}`: {e}")))?;
        tensors.insert(name, t);
    }
    Ok(StateDict {
        tensors,
        metadata: meta
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
    })
}
