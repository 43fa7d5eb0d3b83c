//! PyTorch files on the command line: `--weights` takes `.pth` / `.pth.tar` files in both
//! formats and they evaluate exactly as their safetensors conversion; `--pretrained True`
//! loads torchvision's file from the torch hub cache (`TORCH_HOME`) or the reference's
//! CIFAR-10 file, and names the file to place when it is missing; `deepshift export --format
//! pth` writes a file that reads back to the same tensors.

mod common;
mod tiny_data;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use shift_nn::models::{build_model, DataDomain};
use shift_nn::{StateDict, Tensor};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mnist_linear_ps_pytorch.safetensors")
}

fn deepshift(args: &[&str], torch_home: Option<&Path>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_deepshift"));
    c.args(args);
    if let Some(h) = torch_home {
        c.env("TORCH_HOME", h);
    }
    c.output().expect("deepshift runs")
}

fn succeeds(args: &[&str], torch_home: Option<&Path>) -> (String, String) {
    let out = deepshift(args, torch_home);
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{args:?} failed:\n{o}\n{e}");
    (o, e)
}

/// A legacy-format (PyTorch < 1.6) `checkpoint.pth.tar` as the reference scripts save it:
/// `{'epoch', 'arch', 'state_dict' (DataParallel names), 'best_acc1', 'optimizer'}`, written
/// opcode by opcode as `torch.save(..., _use_new_zipfile_serialization=False)` does; `prefix`
/// goes in front of every name.
fn legacy_checkpoint(dict: &StateDict, prefix: &str) -> Vec<u8> {
    fn s(out: &mut Vec<u8>, v: &str) {
        out.push(b'X');
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    fn int(out: &mut Vec<u8>, v: u32) {
        out.push(b'J');
        out.extend_from_slice(&v.to_le_bytes());
    }
    let mut out = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.".to_vec();
    out.extend_from_slice(b"\x80\x02M\xe9\x03.");
    out.extend_from_slice(b"\x80\x02}(");
    s(&mut out, "little_endian");
    out.extend_from_slice(b"\x88u.");
    // the object pickle
    out.extend_from_slice(b"\x80\x02}(");
    s(&mut out, "epoch");
    int(&mut out, 15);
    s(&mut out, "arch");
    s(&mut out, "simple_linear");
    s(&mut out, "optimizer");
    out.extend_from_slice(b"}");
    s(&mut out, "state_dict");
    out.extend_from_slice(b"ccollections\nOrderedDict\n)R(");
    let mut storages = Vec::new();
    for (i, (name, t)) in dict.tensors.iter().enumerate() {
        let key = format!("9438{i}");
        s(&mut out, &format!("{prefix}{name}"));
        out.extend_from_slice(b"ctorch._utils\n_rebuild_tensor_v2\n((");
        s(&mut out, "storage");
        out.extend_from_slice(b"ctorch.cuda\nFloatStorage\n");
        s(&mut out, &key);
        s(&mut out, "cuda:0");
        int(&mut out, t.len() as u32);
        out.extend_from_slice(b"NtQ");
        int(&mut out, 0);
        let shape: Vec<u32> = t.shape().iter().map(|&d| d as u32).collect();
        let mut strides = vec![1u32; shape.len()];
        for d in (0..shape.len().saturating_sub(1)).rev() {
            strides[d] = strides[d + 1] * shape[d + 1];
        }
        for v in [&shape, &strides] {
            out.push(b'(');
            v.iter().for_each(|&x| int(&mut out, x));
            out.push(b't');
        }
        out.extend_from_slice(b"\x89ccollections\nOrderedDict\n)RtR");
        storages.push((
            key,
            t.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>(),
        ));
    }
    out.extend_from_slice(b"u");
    s(&mut out, "best_acc1");
    out.extend_from_slice(b"G@X\xa0\xa3\xd7\x0a\x3d\x71u.");
    // the storage keys, then each storage: element count and bytes
    out.extend_from_slice(b"\x80\x02](");
    storages.iter().for_each(|(k, _)| s(&mut out, k));
    out.extend_from_slice(b"e.");
    for (_, b) in &storages {
        out.extend_from_slice(&((b.len() / 4) as u64).to_le_bytes());
        out.extend_from_slice(b);
    }
    out
}

#[test]
fn export_format_pth_reads_back_to_the_same_tensors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("weights.pth");
    let fix = fixture();
    let (stdout, _) = succeeds(
        &[
            "export",
            "--format",
            "pth",
            "--weights",
            fix.to_str().unwrap(),
            "--shift-depth",
            "1000",
            "--shift-type",
            "PS",
            "--out",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert!(stdout.contains("weights_only=True"), "{stdout}");
    let back = shift_nn::pth::load_pth(&out).unwrap();
    let golden = shift_nn::load_safetensors(&fix).unwrap();
    assert_eq!(back.state_dict.tensors, golden.tensors);
    // the same run through --weights weights.pth exports the same bytes again
    let again = tmp.path().join("again.pth");
    succeeds(
        &[
            "export",
            "--format",
            "pth",
            "--weights",
            out.to_str().unwrap(),
            "--shift-depth",
            "1000",
            "--shift-type",
            "PS",
            "--out",
            again.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&again).unwrap());
    let e = deepshift(&["export", "--weights", "x", "--out", "y"], None);
    assert!(String::from_utf8_lossy(&e.stderr).contains("--format pth"));
}

#[test]
fn pytorch_files_evaluate_exactly_as_their_safetensors_conversion() {
    let Some(data) = common::mnist_root_or_skip() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let fix = fixture();
    let zip = tmp.path().join("weights.pth");
    shift_nn::pth::save_pth(&shift_nn::load_safetensors(&fix).unwrap(), &zip).unwrap();
    let legacy = tmp.path().join("checkpoint.pth.tar");
    std::fs::write(
        &legacy,
        legacy_checkpoint(&shift_nn::load_safetensors(&fix).unwrap(), "module."),
    )
    .unwrap();
    let mut logs = Vec::new();
    for (i, w) in [&fix, &zip, &legacy].iter().enumerate() {
        let models = tmp.path().join(format!("m{i}"));
        let (_, stderr) = succeeds(
            &[
                "mnist",
                "--shift-depth",
                "1000",
                "--shift-type",
                "PS",
                "-e",
                "--weights",
                w.to_str().unwrap(),
                "--data-dir",
                data.to_str().unwrap(),
                "--model-dir",
                models.to_str().unwrap(),
            ],
            None,
        );
        if i == 2 {
            assert!(stderr.contains("epoch = 15"), "{stderr}");
            assert!(stderr.contains("best_acc1 = 98.51"), "{stderr}");
            assert!(stderr.contains("`optimizer` ignored"), "{stderr}");
            assert!(stderr.contains("`module.` prefix"), "{stderr}");
        }
        let log = models.join("mnist/simple_linear/shift_ps_1000_wb_5/test_log.csv");
        logs.push(std::fs::read_to_string(log).unwrap());
    }
    assert_eq!(logs[0], logs[1]);
    assert_eq!(logs[0], logs[2]);
    // --resume takes this tool's checkpoints only; a PyTorch file says to use --weights
    let models = tmp.path().join("resume");
    let out = deepshift(
        &[
            "mnist",
            "--resume",
            zip.to_str().unwrap(),
            "--epochs",
            "1",
            "--data-dir",
            data.to_str().unwrap(),
            "--model-dir",
            models.to_str().unwrap(),
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("--weights FILE instead"),
        "{stderr}"
    );
    // 9851 of 10000 correct, as the original PyTorch code scores this checkpoint
    assert!(
        logs[0].lines().nth(1).unwrap().contains(",0.9851"),
        "{}",
        logs[0]
    );
}

/// `root/{train,val}/<class>/*.JPEG`.
fn write_imagenet(root: &Path) {
    for split in ["train", "val"] {
        for (c, class) in ["n01440764", "n01443537"].iter().enumerate() {
            let dir = root.join(split).join(class);
            std::fs::create_dir_all(&dir).unwrap();
            let px = tiny_data::bytes(c as u32 + 3, 48 * 40 * 3);
            let img = image::RgbImage::from_raw(48, 40, px).unwrap();
            img.save(dir.join(format!("{class}_0.JPEG"))).unwrap();
        }
    }
}

#[test]
fn pretrained_loads_torchvision_s_file_from_the_torch_hub_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("torch");
    let root = tmp.path().join("imagenet");
    write_imagenet(&root);
    let models = tmp.path().join("models");
    let args = |extra: &[&str]| {
        let mut a = vec![
            "imagenet",
            root.to_str().unwrap(),
            "-e",
            "-b",
            "2",
            "--model-dir",
            models.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let (stdout, _) = succeeds(&a, Some(&home));
        let log = models.join("imagenet/resnet18/shift_0/test_log.csv");
        (stdout, std::fs::read_to_string(log).unwrap())
    };
    // missing: the error names the file and the folder
    let a = args(&["--pretrained", "True"]);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let out = deepshift(&a, Some(&home));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    let want = home.join("hub").join("checkpoints");
    assert!(
        stderr.contains("resnet18-f37072fd.pth") && stderr.contains(&want.display().to_string()),
        "{stderr}"
    );
    // a file in torchvision's format (zip, as torch.save writes it) under torchvision's name
    std::fs::create_dir_all(&want).unwrap();
    let model = build_model(
        DataDomain::Imagenet,
        "resnet18",
        &mut ChaCha8Rng::seed_from_u64(99),
    )
    .unwrap();
    let file = want.join("resnet18-f37072fd.pth");
    shift_nn::pth::save_pth(&shift_nn::state_dict(model.as_ref()), &file).unwrap();
    let (_, pretrained) = run(&["--pretrained", "True"]);
    let (_, weights) = run(&["--weights", file.to_str().unwrap()]);
    assert_eq!(pretrained, weights, "--pretrained True loads the hub file");
    // both flags at once are refused
    let a = args(&["--pretrained", "True", "--weights", file.to_str().unwrap()]);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let out = deepshift(&a, Some(&home));
    assert!(String::from_utf8_lossy(&out.stderr).contains("drop one"));
}

#[test]
fn pretrained_cifar10_reads_the_reference_s_original_pretrained_models() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("cifar10");
    tiny_data::write_cifar10(&data, 2, 4);
    let models = tmp.path().join("models");
    let dir = models.join("cifar10/original_pretrained_models");
    std::fs::create_dir_all(&dir).unwrap();
    let model = build_model(
        DataDomain::Cifar10,
        "resnet20",
        &mut ChaCha8Rng::seed_from_u64(4),
    )
    .unwrap();
    // DataParallel names in a checkpoint dict, as the pytorch_resnet_cifar10 files hold them
    let dict = shift_nn::state_dict(model.as_ref());
    std::fs::write(dir.join("resnet20.th"), legacy_checkpoint(&dict, "module.")).unwrap();
    let (_, stderr) = succeeds(
        &[
            "cifar10",
            "-a",
            "resnet20",
            "--pretrained",
            "True",
            "-e",
            "-b",
            "4",
            "--data-dir",
            data.to_str().unwrap(),
            "--model-dir",
            models.to_str().unwrap(),
        ],
        None,
    );
    assert!(stderr.contains("resnet20.th"), "{stderr}");
    let t: &Tensor = &shift_nn::pth::load_pth(&dir.join("resnet20.th"))
        .unwrap()
        .state_dict
        .tensors["conv1.weight"];
    assert_eq!(
        t,
        &shift_nn::state_dict(model.as_ref()).tensors["conv1.weight"]
    );
}
