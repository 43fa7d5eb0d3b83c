//! Tensors out of storage bytes: bounds of strided views checked, every dtype to f32.

use std::collections::HashMap;

use super::pickle::{Dtype, Obj, TensorRef, Value};
use super::Loaded;
use crate::tensor::Tensor;

/// The raw bytes of each storage by key, borrowed from the file or read from the archive.
pub(crate) struct Storages {
    /// Bytes by storage key.
    pub by_key: HashMap<String, Vec<u8>>,
}

/// The tensor as f32 values in its shape. `budget` is the number of values the file's tensors
/// may still produce: tensors may share a storage, so without it a small file could name one
/// large storage many times and ask for far more memory than its size.
pub(crate) fn to_f32(t: &TensorRef, l: &Loaded, budget: &mut usize) -> Result<Tensor, String> {
    let s = &t.storage;
    let Some(bytes) = l.storages.by_key.get(&*s.key) else {
        return Err(format!("its storage `{}` is not in the file", s.key));
    };
    let es = s.dtype.size() as u64;
    // The storage's elements, as declared, must all be there.
    let end = s
        .view_offset
        .checked_add(s.numel)
        .and_then(|n| n.checked_mul(es));
    match end {
        Some(end) if end <= bytes.len() as u64 => {}
        _ => {
            return Err(format!(
                "its storage `{}` declares {} elements of {} bytes (from element {}) but holds {} bytes",
                s.key,
                s.numel,
                es,
                s.view_offset,
                bytes.len()
            ))
        }
    }
    let mut numel: u64 = 1;
    for &d in &t.size {
        numel = numel
            .checked_mul(d)
            .ok_or_else(|| format!("its shape {:?} overflows", t.size))?;
    }
    if numel > s.numel {
        return Err(format!(
            "its shape {:?} has {numel} elements but its storage only {} (broadcast views are \
             not read)",
            t.size, s.numel
        ));
    }
    if numel > 0 {
        // The last element the view reaches must lie inside the storage.
        let mut last = t.offset;
        for (&d, &st) in t.size.iter().zip(&t.stride) {
            last = (d - 1)
                .checked_mul(st)
                .and_then(|x| x.checked_add(last))
                .ok_or_else(|| "its strides overflow".to_string())?;
        }
        if last >= s.numel {
            return Err(format!(
                "offset {} with shape {:?} and strides {:?} reaches element {last} of a storage \
                 of {}",
                t.offset, t.size, t.stride, s.numel
            ));
        }
    }
    *budget = budget.checked_sub(numel as usize).ok_or_else(|| {
        "the file's tensors hold far more values than its size (one storage used many times)"
            .to_string()
    })?;
    let base = &bytes[(s.view_offset * es) as usize..];
    let value = |i: u64| decode(s.dtype, &base[(i * es) as usize..], l.big_endian);
    let shape: Vec<usize> = t.size.iter().map(|&d| d as usize).collect();
    let mut out = Vec::with_capacity(numel as usize);
    if numel > 0 && is_row_major(&t.size, &t.stride) {
        // The common case, read straight through without the index walk below.
        let start = (t.offset * es) as usize;
        let run = &base[start..start + (numel * es) as usize];
        out.extend(
            run.chunks_exact(es as usize)
                .map(|b| decode(s.dtype, b, l.big_endian)),
        );
    } else if numel > 0 {
        // Visit the elements in row-major order of the shape, following the strides.
        let mut idx = vec![0u64; shape.len()];
        let mut pos = t.offset;
        for _ in 0..numel {
            out.push(value(pos));
            for ax in (0..idx.len()).rev() {
                idx[ax] += 1;
                // Wrapping: past the last element `pos` may leave the storage, and is never
                // read there.
                pos = pos.wrapping_add(t.stride[ax]);
                if idx[ax] < t.size[ax] {
                    break;
                }
                pos = pos.wrapping_sub(t.stride[ax].wrapping_mul(t.size[ax]));
                idx[ax] = 0;
            }
        }
    }
    Tensor::from_shape_vec(shape, out).map_err(|e| e.to_string())
}

/// Whether `stride` is the row-major layout of `size` (dimensions of size 1 may have any
/// stride).
fn is_row_major(size: &[u64], stride: &[u64]) -> bool {
    let mut want = 1u64;
    for (&d, &st) in size.iter().zip(stride).rev() {
        if d != 1 && st != want {
            return false;
        }
        want = want.saturating_mul(d);
    }
    true
}

/// One element at the start of `b` (which holds at least one element).
fn decode(dtype: Dtype, b: &[u8], big: bool) -> f32 {
    fn arr<const N: usize>(b: &[u8], big: bool) -> [u8; N] {
        let mut a = [0u8; N];
        a.copy_from_slice(&b[..N]);
        if big {
            a.reverse();
        }
        a
    }
    match dtype {
        Dtype::F32 => f32::from_le_bytes(arr(b, big)),
        Dtype::F64 => f64::from_le_bytes(arr(b, big)) as f32,
        Dtype::F16 => half::f16::from_le_bytes(arr(b, big)).to_f32(),
        Dtype::BF16 => half::bf16::from_le_bytes(arr(b, big)).to_f32(),
        Dtype::I64 => i64::from_le_bytes(arr(b, big)) as f32,
        Dtype::I32 => i32::from_le_bytes(arr(b, big)) as f32,
        Dtype::I16 => i16::from_le_bytes(arr(b, big)) as f32,
        Dtype::I8 => b[0] as i8 as f32,
        Dtype::U8 => b[0] as f32,
        Dtype::Bool => (b[0] != 0) as u8 as f32,
    }
}

/// A plain value as text (`200`, `resnet20`, `93.5`, a one-element tensor's value); `None`
/// for containers and objects.
pub(crate) fn scalar_text(v: &Value, l: &Loaded) -> Option<String> {
    Some(match v {
        Value::None => "None".into(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Str(s) => s.to_string(),
        Value::BigInt(_) | Value::Bytes(_) => return None,
        Value::Ref(_) => match l.heap.obj(v) {
            Some(Obj::Tensor(t))
                if t.size.iter().try_fold(1u64, |a, &d| a.checked_mul(d)) == Some(1) =>
            {
                let mut budget = 1;
                let x = to_f32(t, l, &mut budget).ok()?;
                x.iter().next()?.to_string()
            }
            _ => return None,
        },
    })
}
