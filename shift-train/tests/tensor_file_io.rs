//! Checkpoint files on disk: damaged files are reported with the file's name, and a write that
//! cannot happen leaves the previous checkpoint intact.

use std::path::Path;

use shift_train::optim::{Algorithm, GroupOptions, Optim, Optimizer};
use shift_train::{TensorFile, TrainError};

fn checkpoint(epoch: i64) -> TensorFile {
    let mut f = TensorFile::new();
    f.insert_f32("model.fc1.weight", &[2, 2], vec![0.5, -1.0, 0.25, 2.0])
        .unwrap();
    f.insert_i64("epoch", &[], vec![epoch]).unwrap();
    // Optimiser state travels as 1-D f32 tensors.
    let mut opt = Optim::new(Algorithm::radam(), vec![GroupOptions::new(0.01, 0.0)]).unwrap();
    let mut w = vec![0.5f32, -1.0, 0.25, 2.0];
    opt.update("fc1.weight", 0, &mut w, &[0.1, 0.2, -0.3, 0.4])
        .unwrap();
    for (name, v) in opt.state_tensors() {
        let n = v.len();
        f.insert_f32(&format!("optimizer.{name}"), &[n], v).unwrap();
    }
    f.set_metadata("format", "test");
    f
}

fn optimizer_state(f: &TensorFile) -> Vec<(String, Vec<f32>)> {
    f.names()
        .filter_map(|n| n.strip_prefix("optimizer."))
        .map(|n| {
            (
                n.to_string(),
                f.f32(&format!("optimizer.{n}"), None).unwrap().to_vec(),
            )
        })
        .collect()
}

fn epoch_of(path: &Path) -> i64 {
    TensorFile::read(path)
        .unwrap()
        .i64("epoch", Some(&[]))
        .unwrap()[0]
}

#[test]
fn round_trip_restores_the_optimiser() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.safetensors");
    let original = checkpoint(3);
    original.write(&path).unwrap();
    let back = TensorFile::read(&path).unwrap();
    assert_eq!(
        back.f32("model.fc1.weight", Some(&[2, 2])).unwrap(),
        &[0.5, -1.0, 0.25, 2.0]
    );
    assert_eq!(back.metadata("format"), Some("test"));
    let mut opt = Optim::new(Algorithm::radam(), vec![GroupOptions::new(0.01, 0.0)]).unwrap();
    opt.load_state_tensors(&optimizer_state(&back)).unwrap();
    assert_eq!(opt.param_step("fc1.weight"), Some(1));
    let mut restored = opt.state_tensors();
    restored.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(restored, optimizer_state(&original));
}

#[test]
fn damaged_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.safetensors");
    checkpoint(1).write(&path).unwrap();
    let good = std::fs::read(&path).unwrap();
    let damaged: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() - 3].to_vec()),
        ("header only", good[..40].to_vec()),
        ("empty", Vec::new()),
        ("garbage", b"this is not a safetensors file at all".to_vec()),
        ("flipped data byte", {
            let mut b = good.clone();
            let i = b.len() - 5;
            b[i] ^= 1;
            b
        }),
    ];
    for (what, bytes) in damaged {
        std::fs::write(&path, &bytes).unwrap();
        let err = TensorFile::read(&path).unwrap_err();
        assert!(
            matches!(err, TrainError::CorruptCheckpoint { .. }),
            "{what}: {err}"
        );
        assert!(
            err.to_string().contains("checkpoint.safetensors"),
            "{what}: {err}"
        );
    }
    let err = TensorFile::read(&dir.path().join("missing.safetensors")).unwrap_err();
    assert!(
        matches!(err, TrainError::Io { .. }) && err.to_string().contains("missing.safetensors")
    );
}

#[test]
fn unwritable_destinations_leave_the_old_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.safetensors");
    checkpoint(1).write(&path).unwrap();

    // A folder that does not exist, and a "folder" that is a file: errors even for root.
    for bad in [
        dir.path().join("nope/checkpoint.safetensors"),
        path.join("checkpoint.safetensors"),
    ] {
        let err = checkpoint(2).write(&bad).unwrap_err();
        assert!(matches!(err, TrainError::Io { .. }), "{err}");
    }
    // Writing onto a directory fails at the rename and leaves nothing behind.
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    assert!(checkpoint(2).write(&sub).is_err());
    assert_eq!(epoch_of(&path), 1);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names.len(),
        2,
        "a temporary file was left behind: {names:?}"
    );
}

#[cfg(unix)]
#[test]
fn read_only_folder_keeps_the_old_checkpoint() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let path = ro.join("checkpoint.safetensors");
    checkpoint(1).write(&path).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let probe = std::fs::File::create(ro.join("probe"));
    let result = checkpoint(2).write(&path);
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    if probe.is_ok() {
        // Root ignores directory permissions, so the folder is not read-only for this process;
        // the other tests cover failed writes in ways root cannot bypass.
        eprintln!("read-only folder test skipped: this process can write to a 0555 folder (root)");
        return;
    }
    let err = result.unwrap_err();
    assert!(
        matches!(err, TrainError::Io { .. }) && err.to_string().contains("ro"),
        "{err}"
    );
    assert_eq!(epoch_of(&path), 1);
}
