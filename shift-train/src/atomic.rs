//! Atomic file writing: a temporary file in the destination's folder, fsync, rename.
//!
//! Readers see either the old file or the complete new one, never a partial write: a full
//! disk, a crash or a failing writer leaves the old file as it was and no temporary file.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::TrainError;

/// Writes `path` atomically with the bytes `write` produces.
///
/// The temporary file (`.<name>.<random>.tmp`) is created in the same folder so the final
/// rename stays on one file system. An existing file's permissions are kept; a new file gets
/// `0644` on Unix (the temporary file starts as `0600`).
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), TrainError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| {
            TrainError::io_op(
                "write",
                path,
                io::Error::new(io::ErrorKind::InvalidInput, "no file name"),
            )
        })?
        .to_string_lossy();
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| TrainError::io_op("create a temporary file in", dir, e))?;
    // On any error below, dropping `tmp` deletes the temporary file.
    let mut out = BufWriter::new(tmp);
    write(&mut out).map_err(|e| TrainError::io_op("write", path, e))?;
    let tmp = out
        .into_inner()
        .map_err(|e| TrainError::io_op("write", path, e.into_error()))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| TrainError::io_op("sync", path, e))?;
    set_permissions(tmp.as_file(), path);
    tmp.persist(path)
        .map_err(|e| TrainError::io_op("rename a temporary file onto", path, e.error))?;
    sync_dir(dir);
    Ok(())
}

/// Writes `bytes` to `path` atomically; see [`write_atomic`].
pub fn write_atomic_bytes(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    write_atomic(path, |w| w.write_all(bytes))
}

#[cfg(unix)]
fn set_permissions(file: &File, path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o644);
    // Permissions are a courtesy; failing to set them must not lose the data.
    let _ = file.set_permissions(std::fs::Permissions::from_mode(mode));
}

#[cfg(not(unix))]
fn set_permissions(_file: &File, _path: &Path) {}

/// Makes the rename itself durable. Some file systems refuse to fsync a directory; the data
/// is already synced, so that is not an error.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn writes_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        write_atomic_bytes(&path, b"one").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        write_atomic_bytes(&path, b"two, longer").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two, longer");
        assert_eq!(entries(dir.path()), vec!["log.csv"]);
    }

    /// A writer failing half way (as on a full disk) leaves the old file and no temporary.
    #[test]
    fn failing_writer_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint.safetensors");
        write_atomic_bytes(&path, b"old contents").unwrap();
        let err = write_atomic(&path, |w| {
            w.write_all(&[7u8; 100_000])?;
            Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no space left on device",
            ))
        })
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("checkpoint.safetensors") && msg.contains("no space"),
            "{msg}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"old contents");
        assert_eq!(entries(dir.path()), vec!["checkpoint.safetensors"]);
    }

    #[test]
    fn missing_folder_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/dir/log.csv");
        let err = write_atomic_bytes(&path, b"x").unwrap_err();
        assert!(matches!(err, TrainError::Io { .. }));
        assert!(err.to_string().contains("no/such/dir"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn keeps_permissions_of_an_existing_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        write_atomic_bytes(&path, b"1").unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o644
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        write_atomic_bytes(&path, b"2").unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
