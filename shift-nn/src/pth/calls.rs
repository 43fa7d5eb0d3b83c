//! What the restricted machine makes of a call (`REDUCE`, `NEWOBJ`, `INST`, `OBJ`) and of a
//! persistent id: allowed globals are interpreted here, and nothing is ever executed.

use super::pickle::{err, Machine, PickleError, Res};
use super::values::{
    classify_global, storage_dtype, GlobalKind, Obj, StorageRef, TensorRef, Value,
};

impl Machine<'_> {
    /// The items of a tuple argument.
    fn args_of(&mut self, args: &Value) -> Res<Vec<Value>> {
        let n = match self.heap.obj(args) {
            Some(Obj::Tuple(t)) => t.len(),
            _ => 0,
        };
        self.charge(n)?;
        match self.heap.obj(args) {
            Some(Obj::Tuple(t)) => Ok(t.clone()),
            _ => err(format!(
                "call arguments are {}, not a tuple",
                self.heap.describe(args)
            )),
        }
    }

    /// REDUCE, NEWOBJ, INST and OBJ: interprets an allowed global; nothing is ever executed.
    pub(super) fn call(&mut self, f: &Value, args: &Value) -> Res<Value> {
        let name = match self.heap.obj(f) {
            Some(Obj::Global(g)) => g.clone(),
            _ => {
                return err(format!(
                    "a call of {} (only allowed globals can be called)",
                    self.heap.describe(f)
                ))
            }
        };
        let a = self.args_of(args)?;
        if classify_global(&name) == GlobalKind::Inert {
            let class = match (name.as_str(), a.first()) {
                // copyreg._reconstructor(cls, base, state): the object is of class `cls`.
                ("copyreg._reconstructor" | "copy_reg._reconstructor", Some(c)) => {
                    match self.heap.obj(c) {
                        Some(Obj::Global(g)) if classify_global(g) == GlobalKind::Inert => {
                            g.clone()
                        }
                        _ => {
                            return err(format!(
                                "copyreg._reconstructor of {}",
                                self.heap.describe(c)
                            ))
                        }
                    }
                }
                _ => name,
            };
            return Ok(self.heap.push(Obj::Opaque(class)));
        }
        match name.as_str() {
            "torch._utils._rebuild_tensor" | "torch._utils._rebuild_tensor_v2" => {
                if a.len() < 4 {
                    return err(format!("{name} with {} arguments", a.len()));
                }
                let storage = match self.heap.obj(&a[0]) {
                    Some(Obj::Storage(s)) => s.clone(),
                    _ => return err(format!("{name}'s storage is {}", self.heap.describe(&a[0]))),
                };
                let offset = self.uint(&a[1], "storage offset")?;
                let size = self.uints(&a[2], "size")?;
                let stride = self.uints(&a[3], "stride")?;
                if size.len() != stride.len() {
                    return err(format!(
                        "a tensor has {} sizes but {} strides",
                        size.len(),
                        stride.len()
                    ));
                }
                Ok(self.heap.push(Obj::Tensor(TensorRef {
                    storage,
                    offset,
                    size,
                    stride,
                })))
            }
            "torch._utils._rebuild_parameter" | "torch._utils._rebuild_parameter_with_state" => {
                match a.first() {
                    Some(t @ Value::Ref(i)) if matches!(self.heap.get(*i), Obj::Tensor(_)) => {
                        Ok(t.clone())
                    }
                    other => err(format!(
                        "{name} of {}",
                        other.map_or("nothing".into(), |v| self.heap.describe(v))
                    )),
                }
            }
            "collections.OrderedDict" | "builtins.dict" | "__builtin__.dict" => {
                let mut d = Vec::new();
                if let Some(src) = a.first() {
                    d = self.pairs_of(src)?;
                }
                Ok(self.heap.push(Obj::Dict(d)))
            }
            "builtins.set"
            | "builtins.frozenset"
            | "builtins.list"
            | "__builtin__.set"
            | "__builtin__.frozenset"
            | "__builtin__.list" => {
                let items = match a.first() {
                    None => Vec::new(),
                    Some(v) => self.seq_of(v)?,
                };
                Ok(self.heap.push(Obj::List(items)))
            }
            "builtins.tuple" | "__builtin__.tuple" | "torch.Size" => {
                let items = match a.first() {
                    None => Vec::new(),
                    Some(v) => self.seq_of(v)?,
                };
                Ok(self.heap.push(Obj::Tuple(items)))
            }
            "torch.device" => match a.as_slice() {
                [Value::Str(s)] => Ok(Value::Str(s.clone())),
                [Value::Str(s), Value::Int(i)] => Ok(Value::Str(format!("{s}:{i}").into())),
                _ => err("torch.device with unexpected arguments"),
            },
            "numpy.dtype" => match a.first() {
                Some(Value::Str(s)) => Ok(self.heap.push(Obj::NumpyDtype(s.to_string()))),
                _ => err("numpy.dtype without a type code"),
            },
            "numpy.core.multiarray.scalar" | "numpy._core.multiarray.scalar" => {
                numpy_scalar(&self.heap, &a)
            }
            "_codecs.encode" => match a.as_slice() {
                // Protocol 2 writes bytes as `_codecs.encode(text, "latin1")`.
                [Value::Str(s), Value::Str(enc)] if is_latin1(enc) => {
                    let b: Option<Vec<u8>> =
                        s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect();
                    b.map(|b| Value::Bytes(b.into()))
                        .ok_or_else(|| PickleError("_codecs.encode of non-Latin-1 text".into()))
                }
                _ => err("_codecs.encode with arguments other than (str, \"latin1\")"),
            },
            other => err(format!("`{other}` cannot be called")),
        }
    }

    fn seq_of(&mut self, v: &Value) -> Res<Vec<Value>> {
        if let Some(Obj::Tuple(t) | Obj::List(t)) = self.heap.obj(v) {
            self.charge(t.len())?;
        }
        match self.heap.obj(v) {
            Some(Obj::Tuple(t) | Obj::List(t)) => Ok(t.clone()),
            _ => err(format!(
                "expected a sequence, got {}",
                self.heap.describe(v)
            )),
        }
    }

    fn pairs_of(&mut self, v: &Value) -> Res<Vec<(Value, Value)>> {
        match self.heap.obj(v) {
            Some(Obj::Dict(d)) => self.charge(2 * d.len())?,
            Some(Obj::Tuple(t) | Obj::List(t)) => self.charge(2 * t.len())?,
            _ => {}
        }
        match self.heap.obj(v) {
            Some(Obj::Dict(d)) => Ok(d.clone()),
            Some(Obj::Tuple(t) | Obj::List(t)) => t
                .iter()
                .map(|p| match self.heap.obj(p) {
                    Some(Obj::Tuple(kv) | Obj::List(kv)) if kv.len() == 2 => {
                        Ok((kv[0].clone(), kv[1].clone()))
                    }
                    _ => err("a dict built from something other than pairs"),
                })
                .collect(),
            _ => err(format!("a dict built from {}", self.heap.describe(v))),
        }
    }

    fn uint(&self, v: &Value, what: &str) -> Res<u64> {
        match v {
            Value::Int(i) if *i >= 0 => Ok(*i as u64),
            other => err(format!(
                "a tensor's {what} is {}, not a non-negative int",
                self.heap.describe(other)
            )),
        }
    }

    fn uints(&mut self, v: &Value, what: &str) -> Res<Vec<u64>> {
        self.seq_of(v)?.iter().map(|x| self.uint(x, what)).collect()
    }

    /// A storage's persistent id: `('storage', StorageType, key, location, numel)` in zip
    /// files, plus `view_metadata` (None or `(view_key, offset, size)`) in legacy files.
    pub(super) fn persistent_load(&mut self, pid: &Value) -> Res<Value> {
        let items = match self.heap.obj(pid) {
            Some(Obj::Tuple(t)) => t.clone(),
            _ => {
                return err(format!(
                    "persistent id {} is not a storage tuple",
                    self.heap.describe(pid)
                ))
            }
        };
        if items.len() < 5 || items[0] != Value::Str("storage".into()) {
            return err("a persistent id other than ('storage', type, key, location, size)");
        }
        let dtype = match self.heap.obj(&items[1]) {
            Some(Obj::Global(g)) => storage_dtype(g),
            _ => None,
        };
        let Some(dtype) = dtype else {
            return err(format!(
                "storage type {} is not a torch storage class",
                self.heap.describe(&items[1])
            ));
        };
        let key = match &items[2] {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string().into(),
            other => {
                return err(format!(
                    "storage key is {}, not a str",
                    self.heap.describe(other)
                ))
            }
        };
        let location = match &items[3] {
            Value::Str(s) => s.clone(),
            _ => "".into(),
        };
        let numel = match &items[4] {
            Value::Int(i) if *i >= 0 => *i as u64,
            other => {
                return err(format!(
                    "storage size is {}, not a non-negative int",
                    self.heap.describe(other)
                ))
            }
        };
        let mut storage = StorageRef {
            key,
            dtype,
            numel,
            view_offset: 0,
            location,
        };
        if let Some(view) = items.get(5).filter(|v| **v != Value::None) {
            // A legacy storage view: its elements start at `offset` in the root storage.
            let v = self.seq_of(view)?;
            match v.as_slice() {
                [_, Value::Int(off), Value::Int(size)] if *off >= 0 && *size >= 0 => {
                    if (*off as u64).saturating_add(*size as u64) > numel {
                        return err("a storage view reaches past its storage");
                    }
                    storage.view_offset = *off as u64;
                    storage.numel = *size as u64;
                }
                _ => return err("a storage view other than (key, offset, size)"),
            }
        }
        Ok(self.heap.push(Obj::Storage(storage)))
    }
}

/// `numpy.core.multiarray.scalar(dtype, bytes)`: a number (little-endian, as numpy writes
/// on the machines PyTorch runs on).
fn numpy_scalar(heap: &super::values::Heap, a: &[Value]) -> Res<Value> {
    let (Some(Obj::NumpyDtype(code)), Some(Value::Bytes(b))) =
        (a.first().and_then(|d| heap.obj(d)), a.get(1))
    else {
        return err("numpy scalar without a dtype and bytes");
    };
    fn le<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
        b.try_into().ok()
    }
    let v = match code.as_str() {
        "f8" => le::<8>(b).map(|x| Value::Float(f64::from_le_bytes(x))),
        "f4" => le::<4>(b).map(|x| Value::Float(f32::from_le_bytes(x).into())),
        "i8" => le::<8>(b).map(|x| Value::Int(i64::from_le_bytes(x))),
        "i4" => le::<4>(b).map(|x| Value::Int(i32::from_le_bytes(x).into())),
        "b1" => le::<1>(b).map(|x| Value::Bool(x[0] != 0)),
        other => return err(format!("numpy scalar of dtype {other} is not read")),
    };
    v.ok_or_else(|| PickleError(format!("numpy {code} scalar of {} bytes", b.len())))
}

fn is_latin1(enc: &str) -> bool {
    matches!(
        enc.to_ascii_lowercase().as_str(),
        "latin1" | "latin-1" | "iso-8859-1" | "iso8859-1"
    )
}
