//! The values a pickle builds, and which globals may appear in one.
//!
//! Every value lives in one arena ([`Heap`]) and is referred to by index, so shared and even
//! cyclic references (which pickles may hold) cost nothing and need no recursion.

use std::rc::Rc;

/// A pickled value. Containers and objects live in the [`Heap`]; `Ref` points there.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An integer that fits in an i64.
    Int(i64),
    /// A larger integer: its little-endian two's-complement bytes, as `LONG1` stores them.
    BigInt(Rc<[u8]>),
    /// A float.
    Float(f64),
    /// A str (or a Python 2 str, read as Latin-1).
    Str(Rc<str>),
    /// bytes or bytearray.
    Bytes(Rc<[u8]>),
    /// An object in the heap.
    Ref(usize),
}

/// The element types of torch storages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// float32.
    F32,
    /// float16.
    F16,
    /// bfloat16.
    BF16,
    /// float64.
    F64,
    /// int64.
    I64,
    /// int32.
    I32,
    /// int16.
    I16,
    /// int8.
    I8,
    /// uint8.
    U8,
    /// bool.
    Bool,
}

impl Dtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::F64 | Dtype::I64 => 8,
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::F16 | Dtype::BF16 | Dtype::I16 => 2,
            Dtype::I8 | Dtype::U8 | Dtype::Bool => 1,
        }
    }

    /// The dtype of a torch storage class (`FloatStorage`, ...).
    fn of_storage(name: &str) -> Option<Dtype> {
        Some(match name {
            "FloatStorage" => Dtype::F32,
            "HalfStorage" => Dtype::F16,
            "BFloat16Storage" => Dtype::BF16,
            "DoubleStorage" => Dtype::F64,
            "LongStorage" => Dtype::I64,
            "IntStorage" => Dtype::I32,
            "ShortStorage" => Dtype::I16,
            "CharStorage" => Dtype::I8,
            "ByteStorage" => Dtype::U8,
            "BoolStorage" => Dtype::Bool,
            _ => return None,
        })
    }
}

/// A storage named by a persistent id: where its bytes are and what they hold.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageRef {
    /// The key of its bytes (`data/KEY` in a zip file; the root key in the legacy format).
    pub key: Rc<str>,
    /// Element type.
    pub dtype: Dtype,
    /// Elements the storage declares.
    pub numel: u64,
    /// Legacy storage views: the first element of the view in the root storage.
    pub view_offset: u64,
    /// The device it was saved from (`cpu`, `cuda:0`), reported only.
    pub location: Rc<str>,
}

/// A tensor as `_rebuild_tensor_v2` describes it: a strided view of a storage.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorRef {
    /// The storage (a heap index of an [`Obj::Storage`]).
    pub storage: StorageRef,
    /// Offset in elements.
    pub offset: u64,
    /// Shape.
    pub size: Vec<u64>,
    /// Strides in elements.
    pub stride: Vec<u64>,
}

/// What the heap holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Obj {
    /// A tuple.
    Tuple(Vec<Value>),
    /// A list (or a set: the order of a pickled set is kept).
    List(Vec<Value>),
    /// A dict or `OrderedDict`, in insertion order (a repeated key keeps its last value).
    Dict(Vec<(Value, Value)>),
    /// A global that is allowed, not yet called.
    Global(String),
    /// A storage.
    Storage(StorageRef),
    /// A tensor.
    Tensor(TensorRef),
    /// An object of an inert class (an optimizer, a scheduler): only its class is kept; its
    /// items and state are dropped as they arrive.
    Opaque(String),
    /// A numpy dtype (`numpy.dtype('f8')`), for numpy scalars such as a `best_acc1`.
    NumpyDtype(String),
}

/// The arena of objects.
#[derive(Debug, Default)]
pub struct Heap {
    pub(super) objs: Vec<Obj>,
}

impl Heap {
    /// Objects in the heap.
    pub fn len(&self) -> usize {
        self.objs.len()
    }

    /// Whether the heap is empty.
    pub fn is_empty(&self) -> bool {
        self.objs.is_empty()
    }

    /// The object at `i` (`Ref(i)`).
    pub fn get(&self, i: usize) -> &Obj {
        &self.objs[i]
    }

    /// The object behind a value, if it is a reference.
    pub fn obj<'a>(&'a self, v: &Value) -> Option<&'a Obj> {
        match v {
            Value::Ref(i) => self.objs.get(*i),
            _ => None,
        }
    }

    pub(super) fn push(&mut self, o: Obj) -> Value {
        self.objs.push(o);
        Value::Ref(self.objs.len() - 1)
    }

    /// A short description of a value's type for messages (`a str`, `a tensor`).
    pub fn describe(&self, v: &Value) -> String {
        match v {
            Value::None => "None".into(),
            Value::Bool(_) => "a bool".into(),
            Value::Int(_) | Value::BigInt(_) => "an int".into(),
            Value::Float(_) => "a float".into(),
            Value::Str(_) => "a str".into(),
            Value::Bytes(_) => "bytes".into(),
            Value::Ref(i) => match &self.objs[*i] {
                Obj::Tuple(t) => format!("a tuple of {}", t.len()),
                Obj::List(l) => format!("a list of {}", l.len()),
                Obj::Dict(d) => format!("a dict of {} entries", d.len()),
                Obj::Global(g) => format!("the global `{g}`"),
                Obj::Storage(_) => "a storage".into(),
                Obj::Tensor(t) => format!("a tensor of shape {:?}", t.size),
                Obj::Opaque(c) => format!("a `{c}` object"),
                Obj::NumpyDtype(d) => format!("the numpy dtype {d}"),
            },
        }
    }
}

/// What a global is allowed to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobalKind {
    /// Interpreted by this machine (tensors, storages, `OrderedDict`, ...).
    Known,
    /// A class whose objects are kept as [`Obj::Opaque`]: training state beside the weights.
    Inert,
    /// A class of a model (`torch.nn.*`, `torchvision.models.*`, `__main__.*`): the file is
    /// a whole pickled module.
    Module,
    /// Anything else: refused.
    Refused,
}

/// Globals that building a state dict needs; no other is ever interpreted.
const KNOWN: &[&str] = &[
    "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state",
    "collections.OrderedDict",
    "torch.device",
    "torch.Size",
    "_codecs.encode",
    "numpy.dtype",
    "numpy.core.multiarray.scalar",
    "numpy._core.multiarray.scalar",
    "builtins.set",
    "builtins.frozenset",
    "builtins.list",
    "builtins.tuple",
    "builtins.dict",
    "__builtin__.set",
    "__builtin__.frozenset",
    "__builtin__.list",
    "__builtin__.tuple",
    "__builtin__.dict",
];

/// Classes of a training checkpoint's other entries (DeepShift's `checkpoint.pth.tar` holds
/// `optimizer` as a state dict and `lr_scheduler` as a pickled scheduler, which holds the
/// optimizer object). Their objects are recorded by class name and never built.
const INERT_PREFIXES: &[&str] = &["torch.optim.", "optim.", "radam.", "ranger."];
const INERT: &[&str] = &[
    "collections.Counter",
    "collections.defaultdict",
    "builtins.object",
    "__builtin__.object",
    "copyreg._reconstructor",
    "copy_reg._reconstructor",
];

/// Where model classes come from: torch's and torchvision's modules, scripts, the reference's
/// own packages.
const MODULE_PREFIXES: &[&str] = &[
    "torch.nn.",
    "torchvision.",
    "__main__.",
    "cifar10_models.",
    "deepshift.",
    "unoptimized.",
    "customized_models.",
    "models.",
    "timm.",
    // TorchScript archives (`torch.jit.save`) name their compiled classes so
    "__torch__.",
];

/// Classifies the global `module.name`.
pub fn classify_global(full: &str) -> GlobalKind {
    if KNOWN.contains(&full) || storage_dtype(full).is_some() || torch_dtype(full) {
        GlobalKind::Known
    } else if INERT.contains(&full) || INERT_PREFIXES.iter().any(|p| full.starts_with(p)) {
        GlobalKind::Inert
    } else if MODULE_PREFIXES.iter().any(|p| full.starts_with(p)) {
        GlobalKind::Module
    } else {
        GlobalKind::Refused
    }
}

/// `torch.FloatStorage` and `torch.cuda.FloatStorage` (legacy files saved from a GPU).
pub(super) fn storage_dtype(full: &str) -> Option<Dtype> {
    let name = full
        .strip_prefix("torch.cuda.")
        .or_else(|| full.strip_prefix("torch."))?;
    Dtype::of_storage(name)
}

/// `torch.float32` and the other dtype objects, which pickles name as globals.
fn torch_dtype(full: &str) -> bool {
    matches!(
        full,
        "torch.float32"
            | "torch.float16"
            | "torch.bfloat16"
            | "torch.float64"
            | "torch.int64"
            | "torch.int32"
            | "torch.int16"
            | "torch.int8"
            | "torch.uint8"
            | "torch.bool"
    )
}
