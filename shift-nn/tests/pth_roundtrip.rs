//! The `.pth` writer: the archive is laid out as `torch.save` lays it out (checked here
//! without PyTorch: entry names, stored, 64-byte aligned data, the pickle's globals) and
//! reads back exactly through the reader.

use std::io::{Cursor, Read};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use shift_nn::models::{build_model, DataDomain};
use shift_nn::pth::{encode_pth, load_weights, read_pth, save_pth, WeightsFormat};
use shift_nn::{load_state_dict, save_safetensors, state_dict, StateDict, Tensor};

fn sample() -> StateDict {
    let mut d = StateDict::default();
    let w: Vec<f32> = (0..24).map(|i| i as f32 * 0.5 - 3.0).collect();
    d.tensors.insert(
        "conv.weight".into(),
        Tensor::from_shape_vec(vec![2, 3, 2, 2], w).unwrap(),
    );
    d.tensors.insert(
        "bn.num_batches_tracked".into(),
        Tensor::from_shape_vec(vec![], vec![7.0]).unwrap(),
    );
    d.tensors.insert(
        "fc.bias".into(),
        Tensor::from_shape_vec(vec![3], vec![1.0, -2.0, 1e-3]).unwrap(),
    );
    d.tensors.insert(
        "empty".into(),
        Tensor::from_shape_vec(vec![0, 4], vec![]).unwrap(),
    );
    d
}

#[test]
fn written_files_read_back_exactly() {
    let d = sample();
    let bytes = encode_pth(&d, "w.pth").unwrap();
    let back = read_pth(&bytes, "w.pth").unwrap();
    assert_eq!(back.format, WeightsFormat::PthZip);
    assert_eq!(back.state_dict.tensors, d.tensors);
    assert_eq!(bytes, encode_pth(&d, "w.pth").unwrap(), "deterministic");
}

#[test]
fn the_archive_is_laid_out_as_torch_save_lays_it_out() {
    let bytes = encode_pth(&sample(), "w.pth").unwrap();
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes.as_slice())).unwrap();
    let names: Vec<String> = (0..zip.len())
        .map(|i| zip.name_for_index(i).unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "archive/data.pkl",
            "archive/byteorder",
            "archive/data/0",
            "archive/data/1",
            "archive/data/2",
            "archive/data/3",
            "archive/version"
        ]
    );
    for i in 0..zip.len() {
        let f = zip.by_index(i).unwrap();
        assert_eq!(
            f.compression(),
            zip::CompressionMethod::Stored,
            "{}",
            f.name()
        );
        assert_eq!(
            f.data_start() % 64,
            0,
            "{} is not 64-byte aligned",
            f.name()
        );
    }
    let mut read = |name: &str| {
        let mut v = Vec::new();
        zip.by_name(name).unwrap().read_to_end(&mut v).unwrap();
        v
    };
    assert_eq!(read("archive/byteorder"), b"little");
    assert_eq!(read("archive/version"), b"3\n");
    // keys in name order: bn.num_batches_tracked (int64), conv.weight, empty, fc.bias
    assert_eq!(read("archive/data/0"), 7i64.to_le_bytes());
    assert_eq!(read("archive/data/1").len(), 24 * 4);
    assert!(read("archive/data/2").is_empty());
    let pkl = read("archive/data.pkl");
    assert_eq!(&pkl[..2], b"\x80\x02", "protocol 2, as torch.save");
    assert_eq!(pkl.last(), Some(&b'.'));
    // The only globals, each once (later uses are memo fetches); weights_only allows them
    // all. A GLOBAL has two newlines, and nothing else in this pickle has any.
    let globals = [
        b"ccollections\nOrderedDict\n".as_slice(),
        b"ctorch._utils\n_rebuild_tensor_v2\n",
        b"ctorch\nLongStorage\n",
        b"ctorch\nFloatStorage\n",
    ];
    for g in globals {
        let n = pkl.windows(g.len()).filter(|w| *w == g).count();
        assert_eq!(n, 1, "{}", String::from_utf8_lossy(g));
    }
    assert_eq!(
        pkl.iter().filter(|&&b| b == b'\n').count(),
        2 * globals.len()
    );
}

#[test]
fn a_zoo_model_goes_through_pth_and_loads_strictly() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let model = build_model(DataDomain::Cifar10, "resnet20", &mut rng).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weights.pth");
    let dict = state_dict(model.as_ref());
    save_pth(&dict, &path).unwrap();
    let back = load_weights(&path).unwrap();
    assert_eq!(back.format, WeightsFormat::PthZip);
    assert_eq!(back.state_dict.tensors, dict.tensors);
    let fresh = build_model(DataDomain::Cifar10, "resnet20", &mut rng).unwrap();
    load_state_dict(fresh.as_ref(), &back.state_dict, "weights.pth").unwrap();
    assert_eq!(state_dict(fresh.as_ref()).tensors, dict.tensors);
    // load_weights tells safetensors apart by its first bytes, whatever the name says
    let st = dir.path().join("weights.pth.safetensors");
    save_safetensors(&dict, &st).unwrap();
    let w = load_weights(&st).unwrap();
    assert_eq!(w.format, WeightsFormat::Safetensors);
    assert_eq!(w.state_dict.tensors, dict.tensors);
}

#[test]
fn saving_over_a_folder_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let e = save_pth(&sample(), dir.path()).unwrap_err().to_string();
    assert!(e.contains(&dir.path().display().to_string()), "{e}");
}

#[test]
fn safetensors_whose_header_length_looks_like_a_pickle_are_still_safetensors() {
    // a header of 640 bytes: the file starts 0x80 0x02, as a protocol 2 pickle does
    let mut header = br#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#.to_vec();
    header.resize(640, b' ');
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(&2.5f32.to_le_bytes());
    assert_eq!(&bytes[..2], b"\x80\x02");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    std::fs::write(&path, &bytes).unwrap();
    let w = load_weights(&path).unwrap();
    assert_eq!(w.format, WeightsFormat::Safetensors);
    assert_eq!(w.state_dict.tensors["w"].as_slice().unwrap(), &[2.5]);
}
