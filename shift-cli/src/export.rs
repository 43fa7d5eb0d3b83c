//! `deepshift export --packed`: a deployment file with every shift layer's weights packed
//! (shift-core's `DSPW` blob, `wb` bits per weight, as a `U8` tensor), and the reader that
//! turns such a file back into a state dict for `-e [--use-kernel] --weights FILE`.
//!
//! The file is safetensors: for a shift layer `NAME`, the tensor `NAME.packed` (U8, the
//! blob of `PackedShiftWeights::to_bytes`) replaces `NAME.weight` (Q) or `NAME.shift` and
//! `NAME.sign` (PS); `__metadata__` holds `NAME.packed_shape` (the PyTorch weight shape as
//! JSON) and `NAME.shift_type` (`Q` or `PS`), plus the run's `arch`, `shift_type`,
//! `shift_depth`, `weight_bits`, `activation_bits`, `format_version` and
//! `packed_format = DSPW1`. Biases, float layers and batch norms stay as they are (F32;
//! `num_batches_tracked` I64). The header is written with sorted keys, so equal models give
//! equal bytes.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use safetensors::{Dtype, SafeTensors};
use shift_core::{Encoding, PackedShiftWeights, ShiftType};
use shift_nn::{Model, StateDict, Tensor};

/// The metadata value that marks a packed file.
pub const PACKED_FORMAT: &str = "DSPW1";

enum Data {
    F32(Vec<f32>),
    I64(Vec<i64>),
    U8(Vec<u8>),
}

/// What [`write_packed`] wrote.
#[derive(Debug, Clone, Copy)]
pub struct ExportSummary {
    /// Shift layers packed.
    pub layers: usize,
    /// Bytes of the packed file.
    pub bytes: usize,
    /// Bytes of the same model as the f32 safetensors file a run writes
    /// (`weights.safetensors`: PS layers as two f32 tensors, shift and sign).
    pub f32_bytes: usize,
    /// Bytes with one f32 per shift weight instead (the float model's size).
    pub float_model_bytes: usize,
    /// Weights packed.
    pub weights: usize,
    /// Bytes of the packed weight tensors.
    pub packed_weight_bytes: usize,
}

/// The codes of a layer's weights: PS ternary at `wb` bits; Q binary at `wb` bits, or
/// ternary at `wb + 1` when it holds exact zeros.
fn pack_layer(
    w: &[f32],
    rows: usize,
    cols: usize,
    ty: ShiftType,
    wb: u32,
) -> Result<PackedShiftWeights> {
    let (enc, bits) = match ty {
        ShiftType::PS => (Encoding::Ternary, wb),
        ShiftType::Q if w.contains(&0.0) => (Encoding::Ternary, wb + 1),
        ShiftType::Q => (Encoding::Binary, wb),
    };
    Ok(PackedShiftWeights::from_weights(w, rows, cols, enc, bits)?)
}

/// Writes `model` (its shift layers packed) to `out`; `metadata` is added to the file's.
pub fn write_packed(
    model: &dyn Model,
    metadata: BTreeMap<String, String>,
    out: &Path,
) -> Result<ExportSummary> {
    let rounded = shift_nn::rounded_state_dict(model)?;
    let f32_bytes = shift_nn::encode_safetensors(&rounded, &out.display().to_string())?.len();
    let mut tensors: BTreeMap<String, (Vec<usize>, Data)> = BTreeMap::new();
    for (name, t) in &rounded.tensors {
        let data = if name.ends_with("num_batches_tracked") {
            Data::I64(t.iter().map(|&v| v as i64).collect())
        } else {
            Data::F32(t.iter().copied().collect())
        };
        tensors.insert(name.clone(), (t.shape().to_vec(), data));
    }
    let mut meta = metadata;
    meta.insert("packed_format".into(), PACKED_FORMAT.into());
    let (mut layers, mut weights, mut packed_weight_bytes) = (0, 0, 0);
    for (name, layer) in model.layers() {
        let shift_nn::LayerWeights::Shift(_, options) = &layer.weights else {
            continue;
        };
        let w = crate::kernel_model::shift_weights(&name, layer)?;
        let shape = layer.shape.weight_shape();
        let (rows, cols) = (shape[0], shape[1..].iter().product::<usize>());
        let packed = pack_layer(&w, rows, cols, options.shift_type, options.weight_bits)
            .with_context(|| format!("packing {name}"))?;
        for suffix in [".weight", ".shift", ".sign"] {
            tensors.remove(&format!("{name}{suffix}"));
        }
        let blob = packed.to_bytes();
        packed_weight_bytes += blob.len();
        weights += w.len();
        tensors.insert(format!("{name}.packed"), (vec![blob.len()], Data::U8(blob)));
        meta.insert(
            format!("{name}.packed_shape"),
            serde_json::to_string(&shape)?,
        );
        meta.insert(
            format!("{name}.shift_type"),
            format!("{:?}", options.shift_type),
        );
        layers += 1;
    }
    if layers == 0 {
        bail!("the model has no shift layers to pack (give --shift-depth N)");
    }
    let bytes = encode(&tensors, &meta);
    let mut file = atomic_write_file::AtomicWriteFile::open(out)
        .with_context(|| format!("creating a temporary file for {}", out.display()))?;
    file.write_all(&bytes)
        .and_then(|()| file.commit())
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(ExportSummary {
        layers,
        bytes: bytes.len(),
        f32_bytes,
        float_model_bytes: bytes.len() - packed_weight_bytes + 4 * weights,
        weights,
        packed_weight_bytes,
    })
}

/// The safetensors bytes: header with sorted keys (padded with spaces to 8 bytes), then the
/// tensors' data in name order.
fn encode(
    tensors: &BTreeMap<String, (Vec<usize>, Data)>,
    meta: &BTreeMap<String, String>,
) -> Vec<u8> {
    let mut header: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    header.insert(
        "__metadata__".into(),
        serde_json::to_value(meta).expect("strings"),
    );
    let mut data = Vec::new();
    for (name, (shape, d)) in tensors {
        let start = data.len();
        let dtype = match d {
            Data::F32(v) => {
                v.iter()
                    .for_each(|x| data.extend_from_slice(&x.to_le_bytes()));
                "F32"
            }
            Data::I64(v) => {
                v.iter()
                    .for_each(|x| data.extend_from_slice(&x.to_le_bytes()));
                "I64"
            }
            Data::U8(v) => {
                data.extend_from_slice(v);
                "U8"
            }
        };
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [start, data.len()]}),
        );
    }
    let mut h = serde_json::to_vec(&header).expect("a JSON map");
    while h.len() % 8 != 0 {
        h.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + h.len() + data.len());
    out.extend_from_slice(&(h.len() as u64).to_le_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(&data);
    out
}

/// Reads `path` as a packed deployment file: `Ok(None)` when it is an ordinary safetensors
/// file (no `packed_format` in its metadata), else its state dict with the shift weights
/// unpacked into PyTorch's tensors (`NAME.weight` for Q, `NAME.shift`/`NAME.sign` for PS).
pub fn read_packed(path: &Path) -> Result<Option<StateDict>> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).with_context(|| format!("reading {file}"))?;
    parse_packed(&bytes, &file)
}

/// [`read_packed`] on the bytes of a file; `file` names them in errors.
pub fn parse_packed(bytes: &[u8], file: &str) -> Result<Option<StateDict>> {
    let (_, header) =
        SafeTensors::read_metadata(bytes).with_context(|| format!("{file}: not safetensors"))?;
    let meta: BTreeMap<String, String> = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    match meta.get("packed_format").map(String::as_str) {
        None => return Ok(None),
        Some(PACKED_FORMAT) => {}
        Some(other) => bail!("{file}: packed format {other} is not {PACKED_FORMAT}"),
    }
    let st = SafeTensors::deserialize(bytes).with_context(|| format!("{file}: not safetensors"))?;
    let mut dict = StateDict::default();
    for (name, view) in st.tensors() {
        let d = view.data();
        let tensor = |vals: Vec<f32>, shape: Vec<usize>| {
            Tensor::from_shape_vec(shape, vals).with_context(|| format!("{file}: {name}"))
        };
        if let Some(layer) = name.strip_suffix(".packed") {
            if view.dtype() != Dtype::U8 {
                bail!("{file}: {name} is {:?}, not U8", view.dtype());
            }
            let packed =
                PackedShiftWeights::from_bytes(d).with_context(|| format!("{file}: {name}"))?;
            let shape: Vec<usize> = meta
                .get(&format!("{layer}.packed_shape"))
                .map(|s| serde_json::from_str(s))
                .transpose()?
                .with_context(|| format!("{file}: no {layer}.packed_shape in the metadata"))?;
            if shape.iter().product::<usize>() != packed.rows() * packed.cols() {
                bail!(
                    "{file}: {name} holds {}x{} weights, not {shape:?}",
                    packed.rows(),
                    packed.cols()
                );
            }
            let w = packed.unpack();
            match meta.get(&format!("{layer}.shift_type")).map(String::as_str) {
                Some("PS") => {
                    let mut shift = Vec::with_capacity(w.len());
                    let mut sign = Vec::with_capacity(w.len());
                    for r in 0..packed.rows() {
                        for c in 0..packed.cols() {
                            let code = packed.get(r, c);
                            shift.push(if code.sign == 0 {
                                0.0
                            } else {
                                code.shift as f32
                            });
                            sign.push(code.sign as f32);
                        }
                    }
                    dict.tensors
                        .insert(format!("{layer}.shift"), tensor(shift, shape.clone())?);
                    dict.tensors
                        .insert(format!("{layer}.sign"), tensor(sign, shape)?);
                }
                Some("Q") => {
                    dict.tensors
                        .insert(format!("{layer}.weight"), tensor(w, shape)?);
                }
                other => bail!("{file}: {layer}.shift_type is {other:?}, not Q or PS"),
            }
            continue;
        }
        let vals: Vec<f32> = match view.dtype() {
            Dtype::F32 => d
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect(),
            Dtype::I64 => d
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f32)
                .collect(),
            other => bail!("{file}: {name} has dtype {other:?}"),
        };
        dict.tensors
            .insert(name.to_string(), tensor(vals, view.shape().to_vec())?);
    }
    dict.metadata = meta;
    Ok(Some(dict))
}
