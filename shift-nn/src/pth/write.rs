//! Writes a state dict as `torch.save(state_dict, "weights.pth")` does: a zip archive of
//! stored entries, `archive/data.pkl` (a protocol 2 pickle of an `OrderedDict` of
//! `torch._utils._rebuild_tensor_v2` calls whose storages are persistent ids
//! `('storage', torch.FloatStorage, KEY, 'cpu', numel)`), `archive/byteorder`
//! (`little`), `archive/data/KEY` (each tensor's bytes, 64-byte aligned in the file as
//! PyTorch aligns them) and `archive/version` (`3`). `torch.load(..., weights_only=True)`
//! opens it: only `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2` and the
//! storage classes are named.

use std::io::{Cursor, Write};
use std::path::Path;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::error::NnError;
use crate::state_dict::StateDict;

/// PyTorch's alignment of storage data in the archive (`kFieldAlignment`).
const ALIGNMENT: u16 = 64;

/// The archive's top folder, as `torch.save` names it for a file-like object.
const PREFIX: &str = "archive";

/// Memo slots of the globals the pickle names more than once.
const MEMO_ORDERED_DICT: u8 = 0;
const MEMO_REBUILD: u8 = 1;
const MEMO_FLOAT: u8 = 2;
const MEMO_LONG: u8 = 3;

/// PyTorch's integer buffers (batch norm's batch counter), written as int64.
fn is_int64_buffer(name: &str) -> bool {
    name == "num_batches_tracked" || name.ends_with(".num_batches_tracked")
}

/// The bytes of the zip-format `.pth` file of `dict` (f32 tensors; `num_batches_tracked` as
/// int64). Equal dicts give equal bytes. `origin` names the destination in errors.
pub fn encode_pth(dict: &StateDict, origin: &str) -> Result<Vec<u8>, NnError> {
    let fail = |problem: String| NnError::StateDict {
        file: origin.to_string(),
        problem,
    };
    let mut pkl = Pickler::default();
    let mut storages: Vec<Vec<u8>> = Vec::new();
    pkl.out.extend_from_slice(b"\x80\x02");
    pkl.global("collections", "OrderedDict", MEMO_ORDERED_DICT);
    pkl.out.extend_from_slice(b")R");
    let mut pending = 0;
    for (name, t) in &dict.tensors {
        if pending == 0 {
            pkl.out.push(b'(');
        }
        let t = t.as_standard_layout();
        let int = is_int64_buffer(name);
        let key = storages.len().to_string();
        let data: Vec<u8> = if int {
            t.iter().flat_map(|v| (*v as i64).to_le_bytes()).collect()
        } else {
            t.iter().flat_map(|v| v.to_le_bytes()).collect()
        };
        storages.push(data);
        pkl.str(name);
        pkl.global("torch._utils", "_rebuild_tensor_v2", MEMO_REBUILD);
        pkl.out.push(b'(');
        // The persistent id of the storage.
        pkl.out.push(b'(');
        pkl.str("storage");
        if int {
            pkl.global("torch", "LongStorage", MEMO_LONG);
        } else {
            pkl.global("torch", "FloatStorage", MEMO_FLOAT);
        }
        pkl.str(&key);
        pkl.str("cpu");
        pkl.int(t.len() as u64);
        pkl.out.extend_from_slice(b"tQ");
        pkl.int(0);
        let shape: Vec<u64> = t.shape().iter().map(|&d| d as u64).collect();
        let mut strides = vec![1u64; shape.len()];
        for i in (0..shape.len().saturating_sub(1)).rev() {
            strides[i] = strides[i + 1] * shape[i + 1].max(1);
        }
        pkl.tuple(&shape);
        pkl.tuple(&strides);
        pkl.out.push(0x89); // requires_grad = False
        pkl.global("collections", "OrderedDict", MEMO_ORDERED_DICT);
        pkl.out.extend_from_slice(b")R"); // backward_hooks = OrderedDict()
        pkl.out.extend_from_slice(b"tR");
        pending += 1;
        // Python's pickler sets items in batches of 1000.
        if pending == 1000 {
            pkl.out.push(b'u');
            pending = 0;
        }
    }
    if pending > 0 {
        pkl.out.push(b'u');
    }
    pkl.out.push(b'.');

    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .large_file(false);
    let mut add = |name: String, data: &[u8], align: bool| -> Result<(), String> {
        let o = if align {
            opts.with_alignment(ALIGNMENT)
        } else {
            opts
        };
        zip.start_file(name.as_str(), o)
            .map_err(|e| format!("{name}: {e}"))?;
        zip.write_all(data).map_err(|e| format!("{name}: {e}"))
    };
    add(format!("{PREFIX}/data.pkl"), &pkl.out, true).map_err(fail)?;
    add(format!("{PREFIX}/byteorder"), b"little", true).map_err(fail)?;
    for (i, data) in storages.iter().enumerate() {
        add(format!("{PREFIX}/data/{i}"), data, true).map_err(fail)?;
    }
    add(format!("{PREFIX}/version"), b"3\n", true).map_err(fail)?;
    let out = zip.finish().map_err(|e| fail(e.to_string()))?;
    Ok(out.into_inner())
}

/// Writes `dict` as a zip-format `.pth` file ([`encode_pth`]), atomically: an interrupted or
/// failed write never replaces a good file. Returns the bytes written.
pub fn save_pth(dict: &StateDict, path: &Path) -> Result<usize, NnError> {
    let file = path.display().to_string();
    let bytes = encode_pth(dict, &file)?;
    if path.is_dir() {
        return Err(NnError::StateDict {
            file,
            problem: "is a folder, not a file".into(),
        });
    }
    let io = |source| NnError::Io {
        file: file.clone(),
        source,
    };
    let mut f = atomic_write_file::AtomicWriteFile::open(path).map_err(io)?;
    f.write_all(&bytes).map_err(io)?;
    f.commit().map_err(io)?;
    Ok(bytes.len())
}

/// The few opcodes of protocol 2 that a state dict needs, as Python's pickler writes them.
#[derive(Default)]
struct Pickler {
    out: Vec<u8>,
    /// Which memo slots are set.
    memo: [bool; 4],
}

impl Pickler {
    /// `GLOBAL module name`, memoised in `slot` the first time and fetched after.
    fn global(&mut self, module: &str, name: &str, slot: u8) {
        if self.memo[slot as usize] {
            self.out.extend_from_slice(&[b'h', slot]);
        } else {
            self.out.push(b'c');
            self.out.extend_from_slice(module.as_bytes());
            self.out.push(b'\n');
            self.out.extend_from_slice(name.as_bytes());
            self.out.push(b'\n');
            self.out.extend_from_slice(&[b'q', slot]);
            self.memo[slot as usize] = true;
        }
    }

    /// `BINUNICODE`.
    fn str(&mut self, s: &str) {
        self.out.push(b'X');
        self.out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.out.extend_from_slice(s.as_bytes());
    }

    /// The smallest of `BININT1`, `BININT2`, `BININT`, `LONG1`, as Python picks them.
    fn int(&mut self, v: u64) {
        if v <= 0xff {
            self.out.extend_from_slice(&[b'K', v as u8]);
        } else if v <= 0xffff {
            self.out.push(b'M');
            self.out.extend_from_slice(&(v as u16).to_le_bytes());
        } else if v <= i32::MAX as u64 {
            self.out.push(b'J');
            self.out.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            // LONG1: little-endian two's complement, with a zero byte when the top bit is set.
            let mut b = v.to_le_bytes().to_vec();
            while b.len() > 1 && b[b.len() - 1] == 0 && b[b.len() - 2] & 0x80 == 0 {
                b.pop();
            }
            if b[b.len() - 1] & 0x80 != 0 {
                b.push(0);
            }
            self.out.extend_from_slice(&[0x8a, b.len() as u8]);
            self.out.extend_from_slice(&b);
        }
    }

    /// A tuple of ints: `EMPTY_TUPLE`, `TUPLE1..3`, or `MARK ... TUPLE`.
    fn tuple(&mut self, items: &[u64]) {
        match items.len() {
            0 => self.out.push(b')'),
            n @ 1..=3 => {
                items.iter().for_each(|&v| self.int(v));
                self.out.push(0x84 + n as u8);
            }
            _ => {
                self.out.push(b'(');
                items.iter().for_each(|&v| self.int(v));
                self.out.push(b't');
            }
        }
    }
}
