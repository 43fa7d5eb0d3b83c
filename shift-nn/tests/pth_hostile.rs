//! Hand-built pickles and archives that a state dict reader must refuse with a clear error:
//! calls of dangerous globals, sizes that do not match the bytes, views past their storage,
//! one storage named many times, protocol 4/5 opcodes, non-tensor entries.

use std::io::{Cursor, Write};

use shift_nn::pth::pickle::unpickle;
use shift_nn::pth::read_pth;

/// A protocol 2 pickle under construction.
struct P(Vec<u8>);

impl P {
    fn new() -> P {
        P(b"\x80\x02".to_vec())
    }
    fn raw(mut self, b: &[u8]) -> P {
        self.0.extend_from_slice(b);
        self
    }
    fn global(self, m: &str, n: &str) -> P {
        self.raw(format!("c{m}\n{n}\n").as_bytes())
    }
    fn s(mut self, s: &str) -> P {
        self.0.push(b'X');
        self.0.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.raw(s.as_bytes())
    }
    fn int(mut self, v: i32) -> P {
        self.0.push(b'J');
        self.raw(&v.to_le_bytes())
    }
    fn ints(self, v: &[i32]) -> P {
        v.iter().fold(self.raw(b"("), |p, &x| p.int(x)).raw(b"t")
    }
    /// `_rebuild_tensor_v2((storage pid), offset, size, stride, False, OrderedDict())`.
    fn tensor(self, class: &str, key: &str, numel: i32, off: i32, size: &[i32], st: &[i32]) -> P {
        self.global("torch._utils", "_rebuild_tensor_v2")
            .raw(b"((")
            .s("storage")
            .global("torch", class)
            .s(key)
            .s("cpu")
            .int(numel)
            .raw(b"tQ")
            .int(off)
            .ints(size)
            .ints(st)
            .raw(b"\x89")
            .global("collections", "OrderedDict")
            .raw(b")RtR")
    }
    fn done(self) -> Vec<u8> {
        self.raw(b".").0
    }
}

/// A zip-format file holding `pkl` and the storages.
fn zip_file(pkl: &[u8], storages: &[(&str, &[u8])]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let o =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    z.start_file("archive/data.pkl", o).unwrap();
    z.write_all(pkl).unwrap();
    for (k, b) in storages {
        z.start_file(format!("archive/data/{k}"), o).unwrap();
        z.write_all(b).unwrap();
    }
    z.finish().unwrap().into_inner()
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn err_of(bytes: &[u8]) -> String {
    match read_pth(bytes, "hostile.pth") {
        Ok(f) => panic!("read {:?}", f.state_dict.tensors.keys()),
        Err(e) => {
            let s = e.to_string();
            assert!(s.contains("hostile.pth"), "{s}");
            s
        }
    }
}

fn one_tensor(class: &str, numel: i32, off: i32, size: &[i32], st: &[i32]) -> Vec<u8> {
    P::new()
        .raw(b"}(")
        .s("w")
        .tensor(class, "0", numel, off, size, st)
        .raw(b"u")
        .done()
}

#[test]
fn a_valid_hand_built_file_reads() {
    let pkl = one_tensor("FloatStorage", 4, 1, &[3], &[1]);
    let f = read_pth(&zip_file(&pkl, &[("0", &f32s(&[1., 2., 3., 4.]))]), "x").unwrap();
    assert_eq!(f.state_dict.tensors["w"].as_slice().unwrap(), &[2., 3., 4.]);
}

#[test]
fn deflated_entries_read_and_a_zip_bomb_declaration_is_refused() {
    let pkl = one_tensor("FloatStorage", 2, 0, &[2], &[1]);
    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    z.start_file("archive/data.pkl", o).unwrap();
    z.write_all(&pkl).unwrap();
    z.start_file("archive/data/0", o).unwrap();
    z.write_all(&f32s(&[1.5, -2.5])).unwrap();
    let bytes = z.finish().unwrap().into_inner();
    let f = read_pth(&bytes, "deflated.pth").unwrap();
    assert_eq!(f.state_dict.tensors["w"].as_slice().unwrap(), &[1.5, -2.5]);
    // the same archive with data.pkl's declared size (central directory) set to 4 GiB - 1
    let cd = bytes
        .windows(4)
        .rposition(|w| w == b"PK\x01\x02")
        .expect("a central directory entry");
    let first_cd = bytes.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
    assert!(first_cd <= cd);
    let mut bomb = bytes.clone();
    bomb[first_cd + 24..first_cd + 28].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = err_of(&bomb);
    assert!(e.contains("data.pkl"), "{e}");
}

#[test]
fn dangerous_globals_are_refused_by_name_before_anything_is_built() {
    for (m, n) in [
        ("os", "system"),
        ("posix", "system"),
        ("builtins", "eval"),
        ("builtins", "exec"),
        ("__builtin__", "getattr"),
        ("subprocess", "Popen"),
        ("torch", "load"),
        ("torch._utils", "_rebuild_qtensor"),
    ] {
        let pkl = P::new().global(m, n).s("echo pwned").raw(b"\x85R").done();
        let e = err_of(&zip_file(&pkl, &[]));
        assert!(e.contains(&format!("refused global `{m}.{n}`")), "{e}");
        // the same through STACK_GLOBAL (protocol 4)
        let pkl = P::new().s(m).s(n).raw(b"\x93").done();
        let e = err_of(&zip_file(&pkl, &[]));
        assert!(e.contains(&format!("`{m}.{n}`")), "{e}");
    }
}

#[test]
fn module_classes_are_refused_as_whole_models() {
    for (m, n) in [
        ("__main__", "Net"),
        ("torch.nn.modules.conv", "Conv2d"),
        ("deepshift.modules", "Conv2dShift"),
    ] {
        let pkl = P::new().global(m, n).raw(b")\x81}b").done();
        let e = err_of(&zip_file(&pkl, &[]));
        assert!(
            e.contains(&format!("`{m}.{n}`")) && e.contains("weights.pth"),
            "{e}"
        );
    }
}

#[test]
fn declared_sizes_beyond_the_bytes_are_errors() {
    // a storage that declares more elements than its entry holds
    let pkl = one_tensor("FloatStorage", 1 << 30, 0, &[1 << 30], &[1]);
    let e = err_of(&zip_file(&pkl, &[("0", &f32s(&[1.0]))]));
    assert!(
        e.contains("tensor `w`") && e.contains("holds 4 bytes"),
        "{e}"
    );
    // a view past the end of its storage
    let pkl = one_tensor("FloatStorage", 4, 2, &[2, 2], &[2, 1]);
    let e = err_of(&zip_file(&pkl, &[("0", &f32s(&[1., 2., 3., 4.]))]));
    assert!(e.contains("reaches element 5"), "{e}");
    // a broadcast view (stride 0) larger than its storage
    let pkl = one_tensor("FloatStorage", 1, 0, &[1000, 1000], &[0, 0]);
    let e = err_of(&zip_file(&pkl, &[("0", &f32s(&[1.0]))]));
    assert!(e.contains("broadcast"), "{e}");
    // a storage entry missing from the archive
    let pkl = one_tensor("FloatStorage", 1, 0, &[1], &[1]);
    let e = err_of(&zip_file(&pkl, &[]));
    assert!(e.contains("archive/data/0"), "{e}");
    // strings and byte strings longer than the pickle
    for op in [b'X', b'B', b'T'] {
        let mut pkl = b"\x80\x02".to_vec();
        pkl.push(op);
        pkl.extend_from_slice(&u32::MAX.to_le_bytes());
        let e = err_of(&zip_file(&pkl, &[]));
        assert!(e.contains("truncated"), "{e}");
    }
}

#[test]
fn one_storage_named_many_times_cannot_exhaust_memory() {
    // 1 MiB of data, named by 200 tensors of 1 MiB each: 200 MiB of f32 for a 1 MiB file
    let n = 1 << 18;
    let mut p = P::new().raw(b"}(");
    for i in 0..200 {
        p = p
            .s(&format!("w{i}"))
            .tensor("FloatStorage", "0", n, 0, &[n], &[1]);
    }
    let pkl = p.raw(b"u").done();
    let data = vec![0u8; 4 * n as usize];
    let e = err_of(&zip_file(&pkl, &[("0", &data)]));
    assert!(e.contains("far more values than its size"), "{e}");
}

#[test]
fn memo_copies_of_a_large_list_cannot_make_the_work_quadratic() {
    // a list of 20000 items, then 20000 calls of builtins.list on it through the memo
    let mut p = P::new().raw(b"](");
    for _ in 0..20000 {
        p = p.raw(b"N");
    }
    p = p.raw(b"eq\x00").global("builtins", "list").raw(b"q\x01");
    for _ in 0..20000 {
        p = p.raw(b"h\x01h\x00\x85R0");
    }
    let e = unpickle(&p.done()).unwrap_err();
    assert!(e.0.contains("copies its containers"), "{e:?}");
}

#[test]
fn protocol_4_and_5_opcodes_read() {
    // FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL, EMPTY_DICT with SETITEM
    let mut pkl = b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00".to_vec();
    pkl.extend_from_slice(b"}\x94\x8c\x01a\x94");
    pkl.extend_from_slice(b"\x8c\x05torch\x8c\x0cFloatStorage\x93");
    pkl.extend_from_slice(b"s.");
    let u = unpickle(&pkl).unwrap();
    assert_eq!(u.consumed, pkl.len());
    let pkl = P::new().raw(b"\x80\x06").done();
    assert!(unpickle(&pkl).unwrap_err().0.contains("protocol 6"));
}

#[test]
fn entries_that_are_not_tensors_are_named() {
    let pkl = P::new().raw(b"}(").s("w").int(3).raw(b"u").done();
    let e = err_of(&zip_file(&pkl, &[]));
    assert!(e.contains("`w` is an int, not a tensor"), "{e}");
    let pkl = P::new().s("just a string").done();
    let e = err_of(&zip_file(&pkl, &[]));
    assert!(e.contains("a str, not a state dict"), "{e}");
}

#[test]
fn garbage_and_empty_inputs_are_errors() {
    for bytes in [
        &b""[..],
        b"PK\x03\x04",
        b"\x80",
        b"\x80\x02.",
        b"hello world",
    ] {
        err_of(bytes);
    }
    // a zip without data.pkl
    let e = err_of(&zip_file(b"", &[]));
    assert!(e.contains("archive/data.pkl"), "{e}");
}

#[test]
fn stack_and_memo_misuse_are_errors() {
    for pkl in [
        &b"\x80\x02t."[..],    // TUPLE without MARK
        b"\x80\x02h\x05.",     // BINGET of an unset memo slot
        b"\x80\x02(0.",        // POP of the mark
        b"\x80\x02Ns.",        // SETITEM on None
        b"\x80\x02NNa.",       // APPEND on None
        b"\x80\x02}NNN\x87b.", // BUILD on a dict: an empty dict, no tensors
        b"\x80\x02\xff.",      // unknown opcode
        b"\x80\x02\x82\x01.",  // EXT1
        b"\x80\x02NR.",        // REDUCE of None
    ] {
        let _ = unpickle(pkl); // must return, never panic
        assert!(read_pth(pkl, "p.pth").is_err());
    }
}
