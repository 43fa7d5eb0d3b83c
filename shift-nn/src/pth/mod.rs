//! PyTorch's own checkpoint files, read and written without PyTorch and without running
//! any of the code a pickle can name.
//!
//! Read ([`read_pth`], [`load_pth`]; [`load_weights`] also takes safetensors, by the first
//! bytes):
//! - the zip format of `torch.save` since PyTorch 1.6 (`NAME/data.pkl`, `NAME/data/KEY`,
//!   `NAME/byteorder`, any top folder name), entries stored or deflated;
//! - the legacy format before it (a magic-number pickle, the protocol version, `sys_info`,
//!   the object pickle, the storage keys, then each storage's raw bytes);
//!
//! holding a state dict or a dict with a `state_dict` entry (the reference's
//! `checkpoint.pth.tar`: its `epoch`, `arch` and `best_acc1` are reported, `optimizer` and
//! `lr_scheduler` ignored). Tensors may be f32, f16, bf16, f64, i64, i32, i16, i8, u8 or
//! bool, contiguous or strided, and become f32; DataParallel's `module.` prefix is removed.
//! The pickle is read by a restricted machine ([`pickle`]) that knows only the globals a state
//! dict needs and refuses every other by name; a whole pickled model gets an error that says
//! to save `model.state_dict()` instead. Every declared size is checked against the bytes
//! there before anything is allocated, and no input makes the reader panic.
//!
//! Written ([`encode_pth`], [`save_pth`]): the zip format as `torch.save` writes it (protocol
//! 2 pickle with persistent-id storages, stored entries with their data 64-byte aligned), which
//! `torch.load(..., weights_only=True)` opens.

mod calls;
mod legacy;
pub mod pickle;
mod tensor;
mod values;
mod write;
mod zip_format;

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::NnError;
use crate::state_dict::{parse_safetensors, StateDict};
use pickle::{Heap, Obj, Value};

pub use write::{encode_pth, save_pth};

/// Which kind of file [`load_weights`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightsFormat {
    /// safetensors.
    Safetensors,
    /// PyTorch's zip format (PyTorch >= 1.6).
    PthZip,
    /// PyTorch's legacy pickle format (before 1.6).
    PthLegacy,
}

/// The weights of a file and what else it said.
#[derive(Debug, Clone)]
pub struct WeightsFile {
    /// The state dict, every tensor as f32.
    pub state_dict: StateDict,
    /// The file's kind.
    pub format: WeightsFormat,
    /// The checkpoint's other entries that are plain values (`epoch`, `arch`, `best_acc1`),
    /// formatted as text.
    pub entries: BTreeMap<String, String>,
    /// Lines for the user: entries ignored, a `module.` prefix removed.
    pub notes: Vec<String>,
}

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sniffed {
    Zip,
    Legacy,
    Tar,
    Other,
}

fn sniff(bytes: &[u8]) -> Sniffed {
    // safetensors: an 8-byte header length, then the JSON header. A length of 640 starts with
    // the bytes of a protocol 2 pickle (0x80 0x02), so the `{` decides.
    if bytes.get(8) == Some(&b'{') {
        Sniffed::Other
    } else if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        Sniffed::Zip
    } else if bytes.first() == Some(&0x80) {
        Sniffed::Legacy
    } else if bytes.get(257..262) == Some(b"ustar") {
        Sniffed::Tar
    } else {
        Sniffed::Other
    }
}

/// Whether `bytes` look like a PyTorch file (zip, legacy pickle or the old tar format)
/// rather than safetensors.
pub fn is_pth(bytes: &[u8]) -> bool {
    sniff(bytes) != Sniffed::Other
}

/// Reads a PyTorch checkpoint from bytes; `origin` names them in errors.
pub fn read_pth(bytes: &[u8], origin: &str) -> Result<WeightsFile, NnError> {
    let fail = |problem: String| NnError::StateDict {
        file: origin.to_string(),
        problem,
    };
    let (format, loaded) =
        match sniff(bytes) {
            Sniffed::Zip => (
                WeightsFormat::PthZip,
                zip_format::read(bytes).map_err(fail)?,
            ),
            Sniffed::Legacy => (WeightsFormat::PthLegacy, legacy::read(bytes).map_err(fail)?),
            Sniffed::Tar => return Err(fail(
                "this is the tar format of PyTorch before 0.4, which is not read: load it with \
                 that PyTorch and save it again with torch.save (any later version)"
                    .into(),
            )),
            Sniffed::Other => {
                return Err(fail(
                    "not a PyTorch file (neither a zip archive nor a pickle stream)".into(),
                ))
            }
        };
    let mut file = extract(&loaded).map_err(fail)?;
    file.format = format;
    Ok(file)
}

/// [`read_pth`] of a file.
pub fn load_pth(path: &Path) -> Result<WeightsFile, NnError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| NnError::Io {
        file: file.clone(),
        source,
    })?;
    read_pth(&bytes, &file)
}

/// Reads weights from a safetensors or PyTorch file, told apart by their first bytes (so a
/// `.pth` file renamed to `.safetensors` still loads).
pub fn load_weights(path: &Path) -> Result<WeightsFile, NnError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| NnError::Io {
        file: file.clone(),
        source,
    })?;
    if is_pth(&bytes) {
        return read_pth(&bytes, &file);
    }
    Ok(WeightsFile {
        state_dict: parse_safetensors(&bytes, &file)?,
        format: WeightsFormat::Safetensors,
        entries: BTreeMap::new(),
        notes: Vec::new(),
    })
}

/// A pickle and the bytes of the storages it names.
pub(crate) struct Loaded {
    /// The object pickle.
    pub value: Value,
    /// Its objects.
    pub heap: Heap,
    /// Bytes of each storage by key.
    pub storages: tensor::Storages,
    /// Whether the file's numbers are big-endian (`byteorder`, `sys_info`).
    pub big_endian: bool,
    /// Total input size, which bounds the values the tensors may expand to.
    pub file_len: usize,
}

/// Entries of a checkpoint dict that are training state, not weights.
const IGNORED: &[&str] = &["optimizer", "lr_scheduler", "scheduler", "amp", "scaler"];

/// Finds the state dict in the unpickled value and converts its tensors.
fn extract(l: &Loaded) -> Result<WeightsFile, String> {
    let heap = &l.heap;
    let Some(Obj::Dict(top)) = heap.obj(&l.value) else {
        return Err(format!(
            "it holds {}, not a state dict (a dict of tensors) or a checkpoint dict with \
             `state_dict`",
            heap.describe(&l.value)
        ));
    };
    let key_of = |k: &Value| match k {
        Value::Str(s) => Some(s.to_string()),
        _ => None,
    };
    let find = |name: &str| {
        top.iter()
            .rev()
            .find(|(k, _)| key_of(k).as_deref() == Some(name))
    };
    let all_tensors = |d: &[(Value, Value)]| {
        !d.is_empty()
            && d.iter()
                .all(|(_, v)| matches!(heap.obj(v), Some(Obj::Tensor(_))))
    };
    let mut notes = Vec::new();
    let mut entries = BTreeMap::new();
    let weights = if let Some((_, sd)) = find("state_dict").or_else(|| {
        find("model").filter(|(_, v)| matches!(heap.obj(v), Some(Obj::Dict(d)) if all_tensors(d)))
    }) {
        let inner = match heap.obj(sd) {
            Some(Obj::Dict(d)) => d,
            _ => {
                return Err(format!(
                    "its `state_dict` entry is {}, not a dict of tensors",
                    heap.describe(sd)
                ))
            }
        };
        for (k, v) in top {
            let Some(k) = key_of(k) else { continue };
            if k == "state_dict" || (k == "model" && std::ptr::eq(v, sd)) {
                continue;
            }
            if IGNORED.contains(&k.as_str()) {
                notes.push(format!("`{k}` ignored ({})", heap.describe(v)));
                continue;
            }
            match tensor::scalar_text(v, l) {
                Some(text) => {
                    notes.push(format!("{k} = {text}"));
                    entries.insert(k, text);
                }
                None => notes.push(format!("`{k}` ignored ({})", heap.describe(v))),
            }
        }
        inner
    } else {
        top
    };
    let mut tensors = BTreeMap::new();
    let mut budget = l.file_len.saturating_mul(4).saturating_add(1 << 16);
    for (k, v) in weights {
        let Some(name) = key_of(k) else {
            return Err(format!(
                "a state dict key is {}, not a str",
                heap.describe(k)
            ));
        };
        let Some(Obj::Tensor(t)) = heap.obj(v) else {
            return Err(format!(
                "state dict entry `{name}` is {}, not a tensor",
                heap.describe(v)
            ));
        };
        let t = tensor::to_f32(t, l, &mut budget).map_err(|e| format!("tensor `{name}`: {e}"))?;
        tensors.insert(name, t);
    }
    if tensors.is_empty() {
        return Err("the state dict holds no tensors".into());
    }
    if tensors.keys().all(|k| k.starts_with("module.")) {
        tensors = tensors
            .into_iter()
            .map(|(k, v)| (k["module.".len()..].to_string(), v))
            .collect();
        notes.push("the `module.` prefix of DataParallel removed from every name".into());
    }
    Ok(WeightsFile {
        state_dict: StateDict {
            tensors,
            metadata: BTreeMap::new(),
        },
        format: WeightsFormat::PthZip,
        entries,
        notes,
    })
}
