//! Checkpoints are safe to trust: a damaged file is an error naming the file (a flipped data
//! byte included, through the checksum), and a failed write leaves the previous checkpoint and
//! no temporary file behind.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use shift_nn::models::MnistLinear;
use shift_train::optim::{Algorithm, GroupOptions, Optimizer, ParamRef};
use shift_train::{Checkpoint, TrainError};

fn checkpoint(epochs_done: usize) -> Checkpoint {
    let model = MnistLinear::new(&mut ChaCha8Rng::seed_from_u64(1));
    let mut opt = Optimizer::new(Algorithm::radam(), vec![GroupOptions::new(0.01, 0.0)]).unwrap();
    let (mut w, g) = (vec![1.0f32, 2.0], vec![0.5f32, -0.5]);
    opt.step(&mut [ParamRef {
        name: "fc1.weight",
        group: 0,
        value: &mut w,
        grad: &g,
    }])
    .unwrap();
    Checkpoint::capture(&model, &opt, epochs_done, &[]).unwrap()
}

fn epochs_in(path: &std::path::Path) -> usize {
    Checkpoint::load(path).unwrap().epochs_done
}

#[test]
fn damaged_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.safetensors");
    checkpoint(1).save(&path).unwrap();
    assert_eq!(epochs_in(&path), 1);
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
        let err = Checkpoint::load(&path).unwrap_err();
        assert!(
            err.to_string().contains("checkpoint.safetensors"),
            "{what}: {err}"
        );
    }
    let err = Checkpoint::load(&dir.path().join("missing.safetensors")).unwrap_err();
    assert!(err.to_string().contains("missing.safetensors"), "{err}");
}

#[test]
fn unwritable_destinations_leave_the_old_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.safetensors");
    checkpoint(1).save(&path).unwrap();
    // A folder that does not exist, and a "folder" that is a file: errors even for root.
    for bad in [
        dir.path().join("nope/checkpoint.safetensors"),
        path.join("checkpoint.safetensors"),
    ] {
        let err = checkpoint(2).save(&bad).unwrap_err();
        assert!(
            matches!(err, TrainError::Nn(_)) && err.to_string().contains("checkpoint.safetensors"),
            "{err}"
        );
    }
    // Writing onto a directory fails at the rename and leaves nothing behind.
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    assert!(checkpoint(2).save(&sub).is_err());
    assert_eq!(epochs_in(&path), 1);
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

#[test]
fn the_same_state_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    checkpoint(4).save(&a).unwrap();
    checkpoint(4).save(&b).unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}
