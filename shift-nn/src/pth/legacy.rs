//! The legacy format of `torch.save` (before PyTorch 1.6, and `_use_new_zipfile_serialization
//! =False` since): five things one after another,
//! 1. a pickle of the magic number 0x1950a86a20f9469cfc6c,
//! 2. a pickle of the protocol version 1001,
//! 3. a pickle of `sys_info` (`little_endian`, `type_sizes`, `protocol_version`),
//! 4. the object pickle, whose persistent ids are `('storage', type, key, location, numel,
//!    view)`,
//! 5. a pickle of the list of storage keys, then for each key in that order its element count
//!    (int64) and its raw bytes.

use std::collections::HashMap;

use super::pickle::{unpickle, Dtype, Obj, Value};
use super::tensor::Storages;
use super::Loaded;

/// 0x1950a86a20f9469cfc6c as `LONG1` stores it.
const MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

/// Reads a legacy stream.
pub(crate) fn read(bytes: &[u8]) -> Result<Loaded, String> {
    let mut pos = 0;
    let mut next = |what: &str| {
        let p = unpickle(&bytes[pos..]).map_err(|e| format!("{what}: {}", e.0))?;
        pos += p.consumed;
        Ok::<_, String>(p)
    };
    let magic = next("the magic number")?;
    if magic.value != Value::BigInt(MAGIC.as_slice().into()) {
        return Err(
            "a pickle without PyTorch's magic number: not a file written by torch.save".into(),
        );
    }
    let proto = next("the protocol version")?;
    if proto.value != Value::Int(1001) {
        return Err(format!(
            "legacy protocol version {:?}, not 1001",
            proto.value
        ));
    }
    let sys = next("sys_info")?;
    let big_endian = match sys.heap.obj(&sys.value) {
        Some(Obj::Dict(d)) => d
            .iter()
            .any(|(k, v)| *k == Value::Str("little_endian".into()) && *v == Value::Bool(false)),
        _ => return Err("sys_info is not a dict".into()),
    };
    let main = next("the object pickle")?;
    let keys = next("the storage keys")?;
    let key_list: Vec<String> = match keys.heap.obj(&keys.value) {
        Some(Obj::List(l)) => l
            .iter()
            .map(|k| match k {
                Value::Str(s) => Ok(s.to_string()),
                _ => Err("a storage key that is not a str".to_string()),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err("the storage keys are not a list".into()),
    };
    // The element type of each root storage, from the object pickle's persistent ids.
    let mut dtypes: HashMap<&str, Dtype> = HashMap::new();
    for i in 0..main.heap.len() {
        if let Obj::Storage(s) = main.heap.get(i) {
            dtypes.insert(&s.key, s.dtype);
        }
    }
    let mut by_key = HashMap::new();
    for key in &key_list {
        let Some(&dtype) = dtypes.get(key.as_str()) else {
            return Err(format!("storage `{key}` is listed but no tensor uses it"));
        };
        let head = bytes
            .get(pos..pos + 8)
            .ok_or_else(|| format!("the file ends before storage `{key}`"))?;
        let mut n = [0u8; 8];
        n.copy_from_slice(head);
        if big_endian {
            n.reverse();
        }
        let numel = u64::from_le_bytes(n);
        pos += 8;
        let len = numel
            .checked_mul(dtype.size() as u64)
            .filter(|&l| l <= (bytes.len() - pos) as u64)
            .ok_or_else(|| {
                format!(
                    "storage `{key}` declares {numel} elements of {} bytes but the file has {} \
                     bytes left",
                    dtype.size(),
                    bytes.len() - pos
                )
            })? as usize;
        by_key.insert(key.clone(), bytes[pos..pos + len].to_vec());
        pos += len;
    }
    Ok(Loaded {
        value: main.value,
        heap: main.heap,
        storages: Storages { by_key },
        big_endian,
        file_len: bytes.len(),
    })
}
