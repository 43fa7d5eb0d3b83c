//! The zip format of `torch.save` (PyTorch >= 1.6): `NAME/data.pkl` (the object pickle,
//! whose persistent ids name storages), `NAME/data/KEY` (each storage's raw bytes),
//! `NAME/byteorder` (`little` or `big`; absent before PyTorch 1.10: little) and
//! `NAME/version`. `NAME` is the archive's top folder (`archive`, or the file's stem for
//! older versions); PyTorch takes it from the first entry, and so does this reader.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use zip::result::ZipError;
use zip::{CompressionMethod, ZipArchive};

use super::pickle::{unpickle, Obj};
use super::tensor::Storages;
use super::Loaded;

type Archive<'a> = ZipArchive<Cursor<&'a [u8]>>;

/// Reads the archive: its pickle and the storages that pickle names.
pub(crate) fn read(bytes: &[u8]) -> Result<Loaded, String> {
    let mut zip = ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| format!("not a readable zip archive: {e}"))?;
    let first = match zip.len() {
        0 => return Err("the zip archive is empty".into()),
        _ => zip
            .name_for_index(0)
            .ok_or("the zip archive's first entry has no name")?
            .to_string(),
    };
    let Some((prefix, _)) = first.split_once('/') else {
        return Err(format!(
            "the zip archive's first entry `{first}` is not in a folder, as torch.save writes it"
        ));
    };
    let prefix = prefix.to_string();
    let pkl = entry(&mut zip, &format!("{prefix}/data.pkl"), bytes.len())?;
    let big_endian = match entry(&mut zip, &format!("{prefix}/byteorder"), bytes.len()) {
        Ok(b) => match b.as_slice() {
            b"little" => false,
            b"big" => true,
            other => {
                return Err(format!(
                    "`{prefix}/byteorder` says `{}`, not little or big",
                    String::from_utf8_lossy(&other[..other.len().min(16)])
                ))
            }
        },
        Err(_) if zip.index_for_name(&format!("{prefix}/byteorder")).is_none() => false,
        Err(e) => return Err(e),
    };
    let p = unpickle(&pkl).map_err(|e| format!("`{prefix}/data.pkl`: {}", e.0))?;
    let mut by_key = HashMap::new();
    for i in 0..p.heap.len() {
        if let Obj::Storage(s) = p.heap.get(i) {
            if by_key.contains_key(&*s.key) {
                continue;
            }
            let name = format!("{prefix}/data/{}", s.key);
            by_key.insert(s.key.to_string(), entry(&mut zip, &name, bytes.len())?);
        }
    }
    Ok(Loaded {
        value: p.value,
        heap: p.heap,
        storages: Storages { by_key },
        big_endian,
        file_len: bytes.len(),
    })
}

/// The bytes of entry `name`, its declared size checked before anything is allocated.
fn entry(zip: &mut Archive<'_>, name: &str, file_len: usize) -> Result<Vec<u8>, String> {
    let f = match zip.by_name(name) {
        Ok(f) => f,
        Err(ZipError::FileNotFound) => return Err(format!("the archive has no `{name}`")),
        Err(e) => return Err(format!("`{name}`: {e}")),
    };
    let size = f.size();
    // A stored entry holds its bytes as they are; deflate expands at most about 1032 times.
    let limit = match f.compression() {
        CompressionMethod::Stored => f.compressed_size(),
        CompressionMethod::Deflated => f.compressed_size().saturating_mul(1032).saturating_add(64),
        other => {
            return Err(format!(
                "`{name}` is compressed with {other}, which is not read"
            ))
        }
    };
    if size > limit || f.compressed_size() > file_len as u64 {
        return Err(format!(
            "`{name}` declares {size} bytes, more than the {} bytes of the file allow",
            file_len
        ));
    }
    // Reserve no more than the file could hold stored: a deflated entry grows its buffer only
    // with bytes that really decompress.
    let mut buf = Vec::with_capacity(size.min(file_len as u64) as usize);
    f.take(size.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| format!("`{name}`: {e}"))?;
    if buf.len() as u64 != size {
        return Err(format!(
            "`{name}` declares {size} bytes but holds {}",
            buf.len()
        ));
    }
    Ok(buf)
}
