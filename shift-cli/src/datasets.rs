//! What differs between `deepshift mnist`, `cifar10` and `imagenet`: the reference scripts'
//! defaults, the architecture, how shift layers start, and where the data comes from.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use shift_data::{Cifar, DataError, Dataset, ImageFolder, Mnist, MnistKind, Split};
use shift_nn::models::DataDomain;
use shift_train::{LrSchedule, OptimizerConfig};

use crate::args::{CommonArgs, ImageArgs, ImagenetArgs, MnistArgs, MnistType, OptimizerName};
use crate::task::{DataSets, Hyper, OpenData, Task};

/// Training defaults of a reference script (flags left out on the command line).
#[derive(Debug, Clone, PartialEq)]
pub struct Defaults {
    /// `--batch-size`.
    pub batch_size: usize,
    /// `--test-batch-size`; `None`: the training batch size (cifar10.py and imagenet.py
    /// evaluate with `--batch-size`).
    pub test_batch_size: Option<usize>,
    /// `--epochs`.
    pub epochs: usize,
    /// `--lr`.
    pub lr: f64,
    /// `--momentum`.
    pub momentum: f64,
    /// `--weight-decay`.
    pub weight_decay: f64,
    /// The schedule when `--lr-step-size` is not given.
    pub schedule: LrSchedule,
}

/// mnist.py: SGD lr 0.01 without momentum, batch 64, test batch 1000, 10 epochs.
pub fn mnist_defaults() -> Defaults {
    Defaults {
        batch_size: 64,
        test_batch_size: Some(1000),
        epochs: 10,
        lr: 0.01,
        momentum: 0.0,
        weight_decay: 0.0,
        schedule: LrSchedule::Constant,
    }
}

/// cifar10.py: SGD lr 0.1, momentum 0.9, weight decay 1e-4, batch 128, 200 epochs,
/// `MultiStepLR([80, 120, 160, 180], 0.1)`.
pub fn cifar10_defaults() -> Defaults {
    Defaults {
        batch_size: 128,
        test_batch_size: None,
        epochs: 200,
        lr: 0.1,
        momentum: 0.9,
        weight_decay: 1e-4,
        schedule: LrSchedule::MultiStep {
            milestones: vec![80, 120, 160, 180],
            gamma: 0.1,
        },
    }
}

/// imagenet.py: SGD lr 0.1, momentum 0.9, weight decay 1e-4, batch 256, 90 epochs, the rate
/// divided by 10 every 30 epochs.
pub fn imagenet_defaults() -> Defaults {
    Defaults {
        batch_size: 256,
        test_batch_size: None,
        epochs: 90,
        lr: 0.1,
        momentum: 0.9,
        weight_decay: 1e-4,
        schedule: LrSchedule::step(30),
    }
}

/// Resolves the hyperparameters: `--lr-step-size N` replaces the default schedule by
/// `StepLR(N, 0.1)`; `lr_schedule == false` (`--lr-schedule False`) keeps the rate constant.
pub fn resolve(common: &CommonArgs, d: &Defaults, lr_schedule: bool) -> Result<Hyper> {
    let schedule = match (lr_schedule, common.lr_step_size) {
        (true, Some(step)) => LrSchedule::step(step),
        (true, None) => d.schedule.clone(),
        (false, None) => LrSchedule::Constant,
        (false, Some(_)) => {
            bail!("--lr-step-size sets a schedule and --lr-schedule False turns it off: drop one")
        }
    };
    let batch_size = common.batch_size.unwrap_or(d.batch_size);
    let name = match common.optimizer {
        OptimizerName::Sgd => "sgd",
        OptimizerName::Adam => "adam",
        OptimizerName::Adagrad => "adagrad",
        OptimizerName::Rmsprop => "rmsprop",
        OptimizerName::Adadelta => "adadelta",
        OptimizerName::Radam => "radam",
        OptimizerName::Ranger => "ranger",
    };
    Ok(Hyper {
        batch_size,
        test_batch_size: common
            .test_batch_size
            .or(d.test_batch_size)
            .unwrap_or(batch_size),
        epochs: common.epochs.unwrap_or(d.epochs),
        optimizer: OptimizerConfig {
            name: name.to_string(),
            lr: common.lr.unwrap_or(d.lr),
            lr_sign: common.lr_sign,
            momentum: common.momentum.unwrap_or(d.momentum),
            weight_decay: common.weight_decay.unwrap_or(d.weight_decay),
        },
        schedule,
    })
}

/// The folder of dataset `name` given `--data-dir`: the data root (`data`, holding `mnist/`,
/// `cifar10/`, ...) or the dataset's own folder (`data/mnist`). The root's subfolder wins when
/// it exists; otherwise an existing folder is the dataset's own, and when neither exists errors
/// name the conventional `<root>/<name>`.
pub fn dataset_dir(data_dir: &Path, name: &str) -> PathBuf {
    let nested = data_dir.join(name);
    if nested.is_dir() || !data_dir.is_dir() {
        nested
    } else {
        data_dir.to_path_buf()
    }
}

/// `deepshift mnist`.
pub fn mnist_task(args: &MnistArgs) -> Result<Task> {
    let common = &args.common;
    let arch = match args.model_type {
        MnistType::Linear => "linear",
        MnistType::Conv => "conv",
    };
    let dir = dataset_dir(&common.data_dir, "mnist");
    let open: OpenData = Box::new(move |with_train| {
        let open = |split| -> Result<Arc<dyn Dataset>> {
            let set = Mnist::open(&dir, MnistKind::Mnist, split).with_context(|| {
                format!(
                    "MNIST not found in {}: run `cargo xtask data mnist`, or pass --data-dir \
                     (the data root or the folder holding the IDX files)",
                    dir.display()
                )
            })?;
            Ok(Arc::new(set))
        };
        DataSets::open(with_train, open)
    });
    Ok(Task {
        dataset: "mnist",
        zoo: DataDomain::Mnist,
        arch: arch.to_string(),
        hyper: resolve(common, &mnist_defaults(), true)?,
        // mnist.py converts with `convert_weights=True`: shift layers start from the freshly
        // initialised float weights (PS: their shift and sign).
        convert_from_scratch: true,
        pretrained: None,
        open,
    })
}

/// The architecture flag: resnet18 when omitted, as both reference scripts.
fn arch_or_default(args: &ImageArgs) -> String {
    args.arch.clone().unwrap_or_else(|| "resnet18".to_string())
}

/// The file of `--pretrained True` ([`crate::pretrained::pretrained_file`]: torchvision's in
/// the torch hub cache for ImageNet, the reference's `original_pretrained_models/<arch>.th`
/// for CIFAR-10), or `None` without the flag. Nothing is downloaded.
fn pretrained(args: &ImageArgs, domain: DataDomain) -> Result<Option<PathBuf>> {
    if !args.pretrained {
        return Ok(None);
    }
    let common = &args.common;
    if common.weights.is_some() {
        bail!("--pretrained True and --weights both give the starting weights: drop one");
    }
    if common.resume.is_some() {
        bail!("--resume restores the weights from the checkpoint: drop --pretrained True");
    }
    let arch = arch_or_default(args);
    crate::pretrained::pretrained_file(domain, &arch, &common.model_dir).map(Some)
}

/// Whether opening failed because the data is not there (as opposed to being damaged).
fn is_missing(e: &DataError) -> bool {
    match e {
        DataError::MissingFile { .. } | DataError::NoClassFolders { .. } => true,
        DataError::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
        _ => false,
    }
}

/// `deepshift cifar10`: the binary batches under `--data-dir`/cifar10.
pub fn cifar10_task(args: &ImageArgs) -> Result<Task> {
    let pretrained = pretrained(args, DataDomain::Cifar10)?;
    let common = &args.common;
    let dir = dataset_dir(&common.data_dir, "cifar10");
    let open: OpenData = Box::new(move |with_train| {
        let open = |split| -> Result<Arc<dyn Dataset>> {
            let set = Cifar::cifar10(&dir, split).map_err(|e| {
                let what = if is_missing(&e) {
                    format!(
                        "CIFAR-10 not found in {}: put the binary batches there (`cifar-10-binary.tar.gz`, \
                         or its `cifar-10-batches-bin/` folder; `cargo xtask data cifar10` explains), \
                         or pass --data-dir",
                        dir.display()
                    )
                } else {
                    format!("reading CIFAR-10 from {}", dir.display())
                };
                anyhow::Error::new(e).context(what)
            })?;
            Ok(Arc::new(set))
        };
        DataSets::open(with_train, open)
    });
    Ok(Task {
        dataset: "cifar10",
        zoo: DataDomain::Cifar10,
        arch: arch_or_default(args),
        hyper: resolve(common, &cifar10_defaults(), args.lr_schedule)?,
        // cifar10.py passes `convert_weights = (args.pretrained != "none" or args.weights)`
        // with a boolean `--pretrained`, which is always true: shift layers start from the
        // initialised float weights even from scratch.
        convert_from_scratch: true,
        pretrained,
        open,
    })
}

/// Opens `root/train` or `root/val`.
fn open_image_folder(root: &Path, split: Split) -> Result<ImageFolder> {
    ImageFolder::imagenet(root, split).map_err(|e| {
        let what = if is_missing(&e) {
            format!(
                "ImageNet not found in {}: expected {} and {} holding one folder per class \
                 (`cargo xtask data imagenet` explains)",
                root.display(),
                root.join("train/<class>/*.JPEG").display(),
                root.join("val/<class>/*.JPEG").display()
            )
        } else {
            format!("reading ImageNet from {}", root.display())
        };
        anyhow::Error::new(e).context(what)
    })
}

/// `deepshift imagenet DIR`: `DIR/train/<class>/` and `DIR/val/<class>/`.
pub fn imagenet_task(args: &ImagenetArgs) -> Result<Task> {
    let image = &args.image;
    let pretrained = pretrained(image, DataDomain::Imagenet)?;
    let root: PathBuf = args.data.clone();
    let open: OpenData = Box::new(move |with_train| {
        let test = open_image_folder(&root, Split::Test)?;
        let train = with_train
            .then(|| open_image_folder(&root, Split::Train))
            .transpose()?;
        if let Some(train) = &train {
            // Labels are class indices in sorted folder order: both splits must list the
            // same classes, or the same index would mean different classes.
            if train.classes() != test.classes() {
                bail!(
                    "{} has {} class folders and {} has {}, not the same ones: both splits need the \
                     same class folders",
                    train.root().display(),
                    train.classes().len(),
                    test.root().display(),
                    test.classes().len()
                );
            }
        }
        Ok(DataSets {
            test: Arc::new(test),
            train: train.map(|t| Arc::new(t) as Arc<dyn Dataset>),
        })
    });
    Ok(Task {
        dataset: "imagenet",
        zoo: DataDomain::Imagenet,
        arch: arch_or_default(image),
        hyper: resolve(&image.common, &imagenet_defaults(), image.lr_schedule)?,
        // imagenet.py passes `convert_weights = args.pretrained or args.weights`: from scratch,
        // shift layers get DeepShift's own initialisation.
        convert_from_scratch: false,
        pretrained,
        open,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    fn common(args: &[&str]) -> (CommonArgs, bool) {
        let argv = std::iter::once("deepshift")
            .chain(std::iter::once("cifar10"))
            .chain(args.iter().copied())
            .map(String::from);
        match Cli::parse_from(crate::args::normalise_argv(argv)).command {
            Command::Cifar10(a) => (a.common, a.lr_schedule),
            _ => unreachable!(),
        }
    }

    #[test]
    fn data_dir_is_the_root_or_the_dataset_s_own_folder() {
        let root = tempfile::tempdir().unwrap();
        let mnist = root.path().join("mnist");
        std::fs::create_dir(&mnist).unwrap();
        assert_eq!(dataset_dir(root.path(), "mnist"), mnist);
        assert_eq!(dataset_dir(&mnist, "mnist"), mnist);
        assert_eq!(dataset_dir(root.path(), "cifar10"), root.path());
        let nowhere = root.path().join("nowhere");
        assert_eq!(dataset_dir(&nowhere, "mnist"), nowhere.join("mnist"));
    }

    #[test]
    fn cifar10_defaults_are_the_reference_script_s() {
        let (c, sched) = common(&[]);
        let h = resolve(&c, &cifar10_defaults(), sched).unwrap();
        assert_eq!((h.batch_size, h.test_batch_size, h.epochs), (128, 128, 200));
        assert_eq!(h.optimizer.lr, 0.1);
        assert_eq!(h.optimizer.momentum, 0.9);
        assert_eq!(h.optimizer.weight_decay, 1e-4);
        assert_eq!(h.schedule.lr_at(0.1, 79), 0.1);
        assert!((h.schedule.lr_at(0.1, 80) - 0.01).abs() < 1e-15);
        assert!((h.schedule.lr_at(0.1, 180) - 1e-5).abs() < 1e-18);
    }

    #[test]
    fn flags_override_defaults() {
        let (c, sched) = common(&["-b", "8", "--lr", "1e-3", "--lr-step", "5", "--wd", "0"]);
        let h = resolve(&c, &cifar10_defaults(), sched).unwrap();
        assert_eq!((h.batch_size, h.test_batch_size), (8, 8));
        assert_eq!(h.optimizer.lr, 1e-3);
        assert_eq!(h.optimizer.weight_decay, 0.0);
        assert_eq!(h.schedule, LrSchedule::step(5));
        let (c, sched) = common(&["--lr-schedule", "False", "--test-batch-size", "3"]);
        let h = resolve(&c, &cifar10_defaults(), sched).unwrap();
        assert_eq!(h.schedule, LrSchedule::Constant);
        assert_eq!(h.test_batch_size, 3);
        let (c, sched) = common(&["--lr-schedule", "False", "--lr-step-size", "5"]);
        let err = resolve(&c, &cifar10_defaults(), sched).unwrap_err();
        assert!(err.to_string().contains("drop one"), "{err}");
    }

    #[test]
    fn imagenet_and_mnist_defaults() {
        let (c, _) = common(&[]);
        let h = resolve(&c, &imagenet_defaults(), true).unwrap();
        assert_eq!((h.batch_size, h.test_batch_size, h.epochs), (256, 256, 90));
        assert!((h.schedule.lr_at(0.1, 30) - 0.01).abs() < 1e-15);
        assert_eq!(h.schedule.lr_at(0.1, 29), 0.1);
        let h = resolve(&c, &mnist_defaults(), true).unwrap();
        assert_eq!((h.batch_size, h.test_batch_size, h.epochs), (64, 1000, 10));
        assert_eq!((h.optimizer.lr, h.optimizer.momentum), (0.01, 0.0));
        assert_eq!(h.schedule, LrSchedule::Constant);
    }
}
