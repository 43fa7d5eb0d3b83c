//! A restricted pickle machine: it reads the opcodes of protocols 0 to 5 that `torch.save`
//! and Python's pickler emit and builds a tree of plain values, and it never calls anything.
//! A global (`GLOBAL`, `STACK_GLOBAL`) is looked up in [`classify_global`]: the few that a
//! state dict needs are interpreted here (tensor rebuilding, `OrderedDict`, storages), the
//! objects a training checkpoint carries beside its state dict (optimizers, learning-rate
//! schedulers) become inert [`Obj::Opaque`] records, and every other global is refused by
//! name before anything is built from it.
//!
//! Every value lives in one arena ([`Heap`]) and is referred to by index, so shared and even
//! cyclic references (which pickles may hold) cost nothing and need no recursion. Work and
//! memory are linear in the input: each opcode reads at least one byte and makes at most one
//! object, and every declared length is checked against the bytes left before it is read.

use std::collections::HashMap;
use std::rc::Rc;

pub use super::values::{
    classify_global, Dtype, GlobalKind, Heap, Obj, StorageRef, TensorRef, Value,
};

/// Why a pickle could not be read: a message without the file name (the caller adds it).
#[derive(Debug, Clone, PartialEq)]
pub struct PickleError(pub String);

pub(super) type Res<T> = Result<T, PickleError>;

pub(super) fn err<T>(msg: impl Into<String>) -> Res<T> {
    Err(PickleError(msg.into()))
}

/// A pickle stream's result: the value, the heap it refers to and where the stream ended.
#[derive(Debug)]
pub struct Unpickled {
    /// The value `STOP` returned.
    pub value: Value,
    /// The objects it refers to.
    pub heap: Heap,
    /// Bytes read, up to and including `STOP`.
    pub consumed: usize,
}

/// Runs the machine on `data` until its first `STOP`.
pub fn unpickle(data: &[u8]) -> Res<Unpickled> {
    let mut m = Machine {
        data,
        pos: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        heap: Heap::default(),
        budget: data.len().saturating_mul(8).saturating_add(1024),
    };
    let value = m.run()?;
    Ok(Unpickled {
        value,
        heap: m.heap,
        consumed: m.pos,
    })
}

pub(super) struct Machine<'a> {
    data: &'a [u8],
    pub(super) pos: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u64, Value>,
    pub(super) heap: Heap,
    /// Values that calls may still copy out of containers: a container can be passed to
    /// many calls by memo references, and copying it each time would make the work
    /// quadratic in the input.
    budget: usize,
}

impl<'a> Machine<'a> {
    pub(super) fn charge(&mut self, n: usize) -> Res<()> {
        match self.budget.checked_sub(n) {
            Some(b) => {
                self.budget = b;
                Ok(())
            }
            None => err("the pickle copies its containers more often than its size allows"),
        }
    }

    fn take(&mut self, n: usize) -> Res<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return err(format!(
                "the pickle is truncated: {n} bytes declared at byte {}, {} left",
                self.pos,
                self.data.len() - self.pos
            ));
        };
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Res<u8> {
        Ok(self.take(1)?[0])
    }

    fn le<const N: usize>(&mut self) -> Res<[u8; N]> {
        let mut b = [0u8; N];
        b.copy_from_slice(self.take(N)?);
        Ok(b)
    }

    /// A length of `N` little-endian bytes, checked against the bytes left.
    fn len<const N: usize>(&mut self) -> Res<usize> {
        let mut b = [0u8; 8];
        b[..N].copy_from_slice(&self.le::<N>()?);
        let n = u64::from_le_bytes(b);
        if n > (self.data.len() - self.pos) as u64 {
            return err(format!(
                "the pickle is truncated: {n} bytes declared at byte {}, {} left",
                self.pos,
                self.data.len() - self.pos
            ));
        }
        Ok(n as usize)
    }

    /// A text line (protocol 0 arguments), without its newline.
    fn line(&mut self) -> Res<&'a str> {
        let rest = &self.data[self.pos..];
        let Some(n) = rest.iter().position(|&b| b == b'\n') else {
            return err("the pickle is truncated inside a text argument");
        };
        self.pos += n + 1;
        std::str::from_utf8(&rest[..n])
            .map_err(|_| PickleError("a text argument is not UTF-8".into()))
    }

    fn pop(&mut self) -> Res<Value> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return err(format!("stack underflow at byte {}", self.pos));
        }
        Ok(self.stack.pop().expect("checked non-empty"))
    }

    fn top(&self) -> Res<Value> {
        match self.stack.last() {
            Some(v) => Ok(v.clone()),
            None => err(format!("stack underflow at byte {}", self.pos)),
        }
    }

    fn pop_mark(&mut self) -> Res<Vec<Value>> {
        let Some(m) = self.marks.pop() else {
            return err(format!("no MARK for the opcode at byte {}", self.pos - 1));
        };
        Ok(self.stack.split_off(m))
    }

    fn push(&mut self, v: Value) {
        self.stack.push(v);
    }

    fn new_obj(&mut self, o: Obj) {
        let v = self.heap.push(o);
        self.push(v);
    }

    fn memo_get(&mut self, key: u64) -> Res<()> {
        match self.memo.get(&key) {
            Some(v) => {
                let v = v.clone();
                self.push(v);
                Ok(())
            }
            None => err(format!("memo entry {key} is not set (byte {})", self.pos)),
        }
    }

    fn memo_put(&mut self, key: u64) -> Res<()> {
        let v = self.top()?;
        self.memo.insert(key, v);
        Ok(())
    }

    fn global(&mut self, module: &str, name: &str) -> Res<()> {
        let full = format!("{module}.{name}");
        match classify_global(&full) {
            GlobalKind::Known | GlobalKind::Inert => {
                self.new_obj(Obj::Global(full));
                Ok(())
            }
            GlobalKind::Module => err(format!(
                "it holds a whole pickled model (class `{full}`), not a state dict; loading it \
                 would need that class's code. Save the weights with \
                 `torch.save(model.state_dict(), \"weights.pth\")` (the reference scripts write \
                 weights.pth next to model.pth) and pass that file"
            )),
            GlobalKind::Refused => err(format!(
                "refused global `{full}`: only the globals of a state dict are allowed (loading a \
                 checkpoint never runs code)"
            )),
        }
    }

    fn str_of(&self, v: &Value, what: &str) -> Res<String> {
        match v {
            Value::Str(s) => Ok(s.to_string()),
            other => err(format!(
                "{what} is {}, not a str",
                self.heap.describe(other)
            )),
        }
    }

    fn run(&mut self) -> Res<Value> {
        loop {
            let at = self.pos;
            let op = self.u8()?;
            match op {
                0x80 => {
                    let p = self.u8()?;
                    if p > 5 {
                        return err(format!("pickle protocol {p} is newer than 5"));
                    }
                }
                0x95 => {
                    self.le::<8>()?; // FRAME: a length hint, the data follows inline
                }
                b'.' => return self.pop(),
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.top()?;
                    self.push(v);
                }
                b'N' => self.push(Value::None),
                0x88 => self.push(Value::Bool(true)),
                0x89 => self.push(Value::Bool(false)),
                b'I' => {
                    let l = self.line()?;
                    let v =
                        match l {
                            "01" => Value::Bool(true),
                            "00" => Value::Bool(false),
                            _ => Value::Int(l.trim().parse().map_err(|_| {
                                PickleError(format!("INT `{l}` is not an integer"))
                            })?),
                        };
                    self.push(v);
                }
                b'J' => {
                    let v = i32::from_le_bytes(self.le()?);
                    self.push(Value::Int(v.into()));
                }
                b'K' => {
                    let v = self.u8()?;
                    self.push(Value::Int(v.into()));
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.le()?);
                    self.push(Value::Int(v.into()));
                }
                b'L' => {
                    let l = self.line()?.trim_end_matches('L');
                    let v = l
                        .parse::<i64>()
                        .map(Value::Int)
                        .map_err(|_| PickleError(format!("LONG `{l}` is not a 64-bit integer")))?;
                    self.push(v);
                }
                0x8a => {
                    let n = self.len::<1>()?;
                    let b = self.take(n)?;
                    self.push(long_value(b));
                }
                0x8b => {
                    let n = self.len::<4>()?;
                    let b = self.take(n)?;
                    self.push(long_value(b));
                }
                b'F' => {
                    let l = self.line()?;
                    let v = l
                        .trim()
                        .parse()
                        .map_err(|_| PickleError(format!("FLOAT `{l}` is not a number")))?;
                    self.push(Value::Float(v));
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.le()?);
                    self.push(Value::Float(v));
                }
                b'S' => {
                    let l = self.line()?.trim();
                    let inner = l
                        .strip_prefix('\'')
                        .and_then(|s| s.strip_suffix('\''))
                        .or_else(|| l.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
                    match inner {
                        Some(s) => self.push(Value::Str(s.into())),
                        None => return err(format!("STRING `{l}` is not quoted")),
                    }
                }
                b'T' => {
                    let n = self.len::<4>()?;
                    let b = self.take(n)?;
                    self.push(Value::Str(latin1(b)));
                }
                b'U' => {
                    let n = self.len::<1>()?;
                    let b = self.take(n)?;
                    self.push(Value::Str(latin1(b)));
                }
                b'B' => {
                    let n = self.len::<4>()?;
                    let b = self.take(n)?;
                    self.push(Value::Bytes(b.into()));
                }
                b'C' => {
                    let n = self.len::<1>()?;
                    let b = self.take(n)?;
                    self.push(Value::Bytes(b.into()));
                }
                0x8e | 0x96 => {
                    let n = self.len::<8>()?;
                    let b = self.take(n)?;
                    self.push(Value::Bytes(b.into()));
                }
                b'V' => {
                    let l = self.line()?;
                    self.push(Value::Str(l.into()));
                }
                b'X' => {
                    let n = self.len::<4>()?;
                    let s = utf8(self.take(n)?)?;
                    self.push(Value::Str(s));
                }
                0x8c => {
                    let n = self.len::<1>()?;
                    let s = utf8(self.take(n)?)?;
                    self.push(Value::Str(s));
                }
                0x8d => {
                    let n = self.len::<8>()?;
                    let s = utf8(self.take(n)?)?;
                    self.push(Value::Str(s));
                }
                b')' => self.new_obj(Obj::Tuple(Vec::new())),
                b't' => {
                    let items = self.pop_mark()?;
                    self.new_obj(Obj::Tuple(items));
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.new_obj(Obj::Tuple(items));
                }
                b']' => self.new_obj(Obj::List(Vec::new())),
                b'l' => {
                    let items = self.pop_mark()?;
                    self.new_obj(Obj::List(items));
                }
                b'a' => {
                    let v = self.pop()?;
                    self.extend_list(vec![v])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.extend_list(items)?;
                }
                0x8f => self.new_obj(Obj::List(Vec::new())),
                0x90 => {
                    let items = self.pop_mark()?;
                    self.extend_list(items)?;
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    self.new_obj(Obj::List(items));
                }
                b'}' => self.new_obj(Obj::Dict(Vec::new())),
                b'd' => {
                    let items = self.pop_mark()?;
                    let pairs = pairs(items)?;
                    self.new_obj(Obj::Dict(pairs));
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.extend_dict(vec![(k, v)])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let pairs = pairs(items)?;
                    self.extend_dict(pairs)?;
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.global(module, name)?;
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (module, name) = (
                        self.str_of(&module, "STACK_GLOBAL's module")?,
                        self.str_of(&name, "STACK_GLOBAL's name")?,
                    );
                    self.global(&module, &name)?;
                }
                b'i' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.global(module, name)?;
                    let class = self.pop()?;
                    let args = self.pop_mark()?;
                    let args = self.heap.push(Obj::Tuple(args));
                    let v = self.call(&class, &args)?;
                    self.push(v);
                }
                b'o' => {
                    let mut items = self.pop_mark()?;
                    if items.is_empty() {
                        return err("OBJ without a class");
                    }
                    let class = items.remove(0);
                    let args = self.heap.push(Obj::Tuple(items));
                    let v = self.call(&class, &args)?;
                    self.push(v);
                }
                b'R' => {
                    let args = self.pop()?;
                    let f = self.pop()?;
                    let v = self.call(&f, &args)?;
                    self.push(v);
                }
                0x81 => {
                    let args = self.pop()?;
                    let class = self.pop()?;
                    let v = self.call(&class, &args)?;
                    self.push(v);
                }
                0x92 => {
                    let _kwargs = self.pop()?;
                    let args = self.pop()?;
                    let class = self.pop()?;
                    let v = self.call(&class, &args)?;
                    self.push(v);
                }
                b'b' => {
                    // BUILD sets an object's state (`OrderedDict._metadata`, an optimizer's
                    // fields): nothing that a state dict's tensors depend on, so it is dropped.
                    self.pop()?;
                    self.top()?;
                }
                b'P' => {
                    let pid = Value::Str(self.line()?.into());
                    let v = self.persistent_load(&pid)?;
                    self.push(v);
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let v = self.persistent_load(&pid)?;
                    self.push(v);
                }
                b'p' => {
                    let l = self.line()?;
                    let k = l
                        .parse()
                        .map_err(|_| PickleError(format!("PUT `{l}` is not an index")))?;
                    self.memo_put(k)?;
                }
                b'q' => {
                    let k = self.u8()?;
                    self.memo_put(k.into())?;
                }
                b'r' => {
                    let k = u32::from_le_bytes(self.le()?);
                    self.memo_put(k.into())?;
                }
                0x94 => {
                    let k = self.memo.len() as u64;
                    self.memo_put(k)?;
                }
                b'g' => {
                    let l = self.line()?;
                    let k = l
                        .parse()
                        .map_err(|_| PickleError(format!("GET `{l}` is not an index")))?;
                    self.memo_get(k)?;
                }
                b'h' => {
                    let k = self.u8()?;
                    self.memo_get(k.into())?;
                }
                b'j' => {
                    let k = u32::from_le_bytes(self.le()?);
                    self.memo_get(k.into())?;
                }
                0x82..=0x84 => {
                    return err(format!(
                    "opcode EXT{} at byte {at} (the copyreg extension registry) is not supported",
                    1 << (op - 0x82)
                ))
                }
                0x97 | 0x98 => {
                    return err(format!(
                        "opcode 0x{op:02x} at byte {at}: out-of-band buffers are not supported"
                    ))
                }
                _ => return err(format!("unknown pickle opcode 0x{op:02x} at byte {at}")),
            }
        }
    }

    fn extend_list(&mut self, items: Vec<Value>) -> Res<()> {
        let target = self.top()?;
        match &target {
            Value::Ref(i) => match &mut self.heap.objs[*i] {
                Obj::List(l) => {
                    l.extend(items);
                    Ok(())
                }
                Obj::Opaque(_) => Ok(()),
                _ => err(format!(
                    "APPENDS on {} (byte {})",
                    self.heap.describe(&target),
                    self.pos
                )),
            },
            _ => err(format!(
                "APPENDS on {} (byte {})",
                self.heap.describe(&target),
                self.pos
            )),
        }
    }

    fn extend_dict(&mut self, items: Vec<(Value, Value)>) -> Res<()> {
        let target = self.top()?;
        match &target {
            Value::Ref(i) => match &mut self.heap.objs[*i] {
                Obj::Dict(d) => {
                    d.extend(items);
                    Ok(())
                }
                Obj::Opaque(_) => Ok(()),
                _ => err(format!(
                    "SETITEMS on {} (byte {})",
                    self.heap.describe(&target),
                    self.pos
                )),
            },
            _ => err(format!(
                "SETITEMS on {} (byte {})",
                self.heap.describe(&target),
                self.pos
            )),
        }
    }
}

fn utf8(b: &[u8]) -> Res<Rc<str>> {
    std::str::from_utf8(b)
        .map(Rc::from)
        .map_err(|_| PickleError("a str is not UTF-8".into()))
}

fn latin1(b: &[u8]) -> Rc<str> {
    b.iter().map(|&c| char::from(c)).collect::<String>().into()
}

/// A `LONG1`/`LONG4` integer: an `Int` when it fits in 64 bits.
fn long_value(b: &[u8]) -> Value {
    if b.len() <= 8 {
        let neg = b.last().is_some_and(|&x| x & 0x80 != 0);
        let mut buf = [if neg { 0xff } else { 0 }; 8];
        buf[..b.len()].copy_from_slice(b);
        Value::Int(i64::from_le_bytes(buf))
    } else {
        Value::BigInt(b.into())
    }
}

fn pairs(items: Vec<Value>) -> Res<Vec<(Value, Value)>> {
    if items.len() % 2 != 0 {
        return err("SETITEMS with an odd number of items");
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
}
