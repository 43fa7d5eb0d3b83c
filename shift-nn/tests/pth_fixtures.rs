//! PyTorch files written by Python's own pickler the way `torch.save` writes them
//! (`fixtures/pth/make_pth_fixtures.py`: zip and legacy formats, every dtype, strided views,
//! the reference's checkpoint dict with optimizer and scheduler, a whole pickled model and a
//! pickle that would run `os.system`), read by `shift_nn::pth`.

use shift_nn::pth::{read_pth, WeightsFormat};
use shift_nn::{NnError, Tensor};

const DTYPES_ZIP: &[u8] = include_bytes!("fixtures/pth/dtypes_zip.pth");
const DTYPES_ZIP_STEM: &[u8] = include_bytes!("fixtures/pth/dtypes_zip_stem.pth");
const DTYPES_LEGACY: &[u8] = include_bytes!("fixtures/pth/dtypes_legacy.pth");
const CHECKPOINT_ZIP: &[u8] = include_bytes!("fixtures/pth/checkpoint_zip.pth.tar");
const CHECKPOINT_LEGACY: &[u8] = include_bytes!("fixtures/pth/checkpoint_legacy.pth.tar");
const MODEL_ZIP: &[u8] = include_bytes!("fixtures/pth/model_zip.pth");
const MODEL_LEGACY: &[u8] = include_bytes!("fixtures/pth/model_legacy.pth");
const OS_SYSTEM_ZIP: &[u8] = include_bytes!("fixtures/pth/os_system_zip.pth");
const OS_SYSTEM_LEGACY: &[u8] = include_bytes!("fixtures/pth/os_system_legacy.pth");

fn t(shape: &[usize], v: &[f32]) -> Tensor {
    Tensor::from_shape_vec(shape.to_vec(), v.to_vec()).unwrap()
}

fn check_dtypes(bytes: &[u8], format: WeightsFormat) {
    let f = read_pth(bytes, "dtypes.pth").unwrap();
    assert_eq!(f.format, format);
    let d = &f.state_dict.tensors;
    assert_eq!(d.len(), 8);
    assert_eq!(d["f32"], t(&[2, 3], &[0.5, -1.25, 3.0, 1e-3, -7.5, 2.0]));
    assert_eq!(d["f16"], t(&[4], &[0.5, -2.0, 65504.0, 0.0]));
    assert_eq!(d["bf16"], t(&[3], &[1.5, -3.0, 256.0]));
    assert_eq!(d["f64"], t(&[2, 1], &[0.1f64 as f32, -1e10]));
    assert_eq!(d["i64"], t(&[], &[123456.0]));
    assert_eq!(d["u8"], t(&[3], &[0.0, 7.0, 255.0]));
    // storage 0..12 as 3x4 rows; `transposed` is its 4x3 transpose (strides 1, 4)
    let tr: Vec<f32> = (0..4)
        .flat_map(|c| (0..3).map(move |r| (r * 4 + c) as f32))
        .collect();
    assert_eq!(d["transposed"], t(&[4, 3], &tr));
    assert_eq!(d["window"], t(&[2, 2], &[5.0, 6.0, 9.0, 10.0]));
    assert!(f.notes.is_empty(), "{:?}", f.notes);
}

#[test]
fn every_dtype_and_strided_views_in_the_zip_format() {
    check_dtypes(DTYPES_ZIP, WeightsFormat::PthZip);
}

#[test]
fn the_zip_format_with_the_file_stem_as_top_folder() {
    check_dtypes(DTYPES_ZIP_STEM, WeightsFormat::PthZip);
}

#[test]
fn every_dtype_and_strided_views_in_the_legacy_format() {
    check_dtypes(DTYPES_LEGACY, WeightsFormat::PthLegacy);
}

fn check_checkpoint(bytes: &[u8]) {
    let f = read_pth(bytes, "checkpoint.pth.tar").unwrap();
    let d = &f.state_dict.tensors;
    assert_eq!(
        d.keys().collect::<Vec<_>>(),
        ["fc.bias", "fc.weight"],
        "the module. prefix is removed"
    );
    assert_eq!(d["fc.weight"], t(&[2, 2], &[1.0, 2.0, 3.0, 4.0]));
    assert_eq!(d["fc.bias"], t(&[2], &[0.25, -0.25]));
    assert_eq!(f.entries["epoch"], "200");
    assert_eq!(f.entries["arch"], "resnet20");
    assert_eq!(f.entries["best_acc1"], "91.25");
    let notes = f.notes.join("\n");
    assert!(notes.contains("`optimizer` ignored"), "{notes}");
    assert!(
        notes.contains("`lr_scheduler` ignored (a `torch.optim.lr_scheduler.MultiStepLR` object)"),
        "{notes}"
    );
    assert!(notes.contains("module."), "{notes}");
}

#[test]
fn the_reference_checkpoint_dict_in_the_zip_format() {
    check_checkpoint(CHECKPOINT_ZIP);
}

#[test]
fn the_reference_checkpoint_dict_in_the_legacy_format_from_a_gpu() {
    check_checkpoint(CHECKPOINT_LEGACY);
}

fn problem(bytes: &[u8], file: &str) -> String {
    match read_pth(bytes, file) {
        Err(e @ NnError::StateDict { .. }) => {
            let s = e.to_string();
            assert!(s.contains(file), "{s}");
            s
        }
        other => panic!("expected a state dict error, got {other:?}"),
    }
}

#[test]
fn whole_pickled_models_are_refused_with_a_pointer_to_the_state_dict() {
    for bytes in [MODEL_ZIP, MODEL_LEGACY] {
        let e = problem(bytes, "model.pth");
        assert!(e.contains("torchvision.models.resnet.ResNet"), "{e}");
        assert!(
            e.contains("model.state_dict()") && e.contains("weights.pth"),
            "{e}"
        );
    }
}

#[test]
fn a_pickle_that_would_call_os_system_is_refused_by_name() {
    for bytes in [OS_SYSTEM_ZIP, OS_SYSTEM_LEGACY] {
        let e = problem(bytes, "evil.pth");
        // Python pickles os.system as posix.system on Linux
        assert!(e.contains("refused global `posix.system`"), "{e}");
    }
}

#[test]
fn every_truncation_of_every_fixture_is_an_error_not_a_panic() {
    for bytes in [DTYPES_ZIP, DTYPES_LEGACY, CHECKPOINT_ZIP, CHECKPOINT_LEGACY] {
        for n in 0..bytes.len() {
            assert!(
                read_pth(&bytes[..n], "cut.pth").is_err(),
                "prefix of {n} bytes"
            );
        }
    }
}

#[test]
fn flipped_bytes_never_panic() {
    for bytes in [DTYPES_ZIP, DTYPES_LEGACY, CHECKPOINT_ZIP, CHECKPOINT_LEGACY] {
        for i in 0..bytes.len() {
            for x in [0x01u8, 0x80, 0xff] {
                let mut b = bytes.to_vec();
                b[i] ^= x;
                // The result may be an error or (for a flipped value byte) weights.
                let _ = read_pth(&b, "flipped.pth");
            }
        }
    }
}
