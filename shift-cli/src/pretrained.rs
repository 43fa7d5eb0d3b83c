//! `--pretrained True`: where the pre-trained float weights of a model are, found locally
//! (nothing is downloaded) by the conventions of the reference scripts.
//!
//! - ImageNet: torchvision's weights, which `torchvision.models.<arch>(pretrained=True)` keeps
//!   in the torch hub cache, `$TORCH_HOME/hub/checkpoints/` (default
//!   `$XDG_CACHE_HOME/torch` or `~/.cache/torch`), by torchvision's file names
//!   ([`TORCHVISION_FILES`]; for each architecture the `IMAGENET1K_V1` file that
//!   `pretrained=True` means, then the older names of the same weights).
//! - CIFAR-10: the reference's `cifar10.py --pretrained cifar10` read
//!   `./models/cifar10/original_pretrained_models/<arch>.th` (the checkpoints of
//!   akamaster's pytorch_resnet_cifar10, DataParallel names); here that is
//!   `<--model-dir>/cifar10/original_pretrained_models/<arch>.th`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use shift_nn::models::DataDomain;

/// torchvision's weight files by architecture: the current name first, then older names of
/// the same weights (from before torchvision re-saved them).
pub const TORCHVISION_FILES: &[(&str, &[&str])] = &[
    (
        "resnet18",
        &["resnet18-f37072fd.pth", "resnet18-5c106cde.pth"],
    ),
    (
        "resnet34",
        &["resnet34-b627a593.pth", "resnet34-333f7ec4.pth"],
    ),
    (
        "resnet50",
        &["resnet50-0676ba61.pth", "resnet50-19c8e357.pth"],
    ),
    ("vgg16", &["vgg16-397923af.pth"]),
    (
        "alexnet",
        &["alexnet-owt-7be5be79.pth", "alexnet-owt-4df8aa71.pth"],
    ),
    ("mobilenet_v2", &["mobilenet_v2-b0353104.pth"]),
    ("googlenet", &["googlenet-1378be20.pth"]),
    ("densenet121", &["densenet121-a639ec97.pth"]),
    (
        "efficientnet_b0",
        &[
            "efficientnet_b0_rwightman-7f5810bc.pth",
            "efficientnet_b0_rwightman-3dd342df.pth",
        ],
    ),
];

/// The torch hub's checkpoint folder, as `torch.hub.get_dir()` finds it: `$TORCH_HOME/hub`,
/// else `$XDG_CACHE_HOME/torch/hub`, else `~/.cache/torch/hub`; then `checkpoints`.
pub fn hub_checkpoints_dir() -> PathBuf {
    let non_empty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let home = non_empty("TORCH_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let cache = non_empty("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    non_empty("HOME")
                        .map(PathBuf::from)
                        .unwrap_or_default()
                        .join(".cache")
                });
            cache.join("torch")
        });
    home.join("hub").join("checkpoints")
}

/// The file `--pretrained True` loads for `arch`, or an error naming the file to put where.
pub fn pretrained_file(domain: DataDomain, arch: &str, model_dir: &Path) -> Result<PathBuf> {
    match domain {
        DataDomain::Imagenet => {
            let Some((_, names)) = TORCHVISION_FILES.iter().find(|(a, _)| *a == arch) else {
                bail!(
                    "--pretrained True: no torchvision weights are known for `{arch}` (known: {}); \
                     pass the weights with --weights FILE",
                    TORCHVISION_FILES
                        .iter()
                        .map(|(a, _)| *a)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            };
            let dir = hub_checkpoints_dir();
            if let Some(found) = names.iter().map(|n| dir.join(n)).find(|p| p.is_file()) {
                return Ok(found);
            }
            bail!(
                "--pretrained True: torchvision's {arch} weights are not in the torch hub cache: \
                 place {} in {} (torchvision downloads it there on a machine with PyTorch: \
                 `python -c \"import torchvision; torchvision.models.{arch}(pretrained=True)\"`; \
                 set TORCH_HOME to use another cache). Nothing is downloaded here.",
                names[0],
                dir.display()
            )
        }
        DataDomain::Cifar10 => {
            let dir = model_dir.join("cifar10").join("original_pretrained_models");
            let file = dir.join(format!("{arch}.th"));
            if file.is_file() {
                return Ok(file);
            }
            bail!(
                "--pretrained True: no pre-trained CIFAR-10 {arch}: place its checkpoint at {} \
                 (the reference's convention: a state dict or a dict with `state_dict`, e.g. the \
                 pytorch_resnet_cifar10 files resnet20.th ... resnet110.th), or pass --weights FILE",
                file.display()
            )
        }
        DataDomain::Mnist => bail!("--pretrained is not a flag of the MNIST models"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_imagenet_arch_of_the_zoo_has_a_torchvision_file() {
        for arch in DataDomain::Imagenet.archs() {
            assert!(
                TORCHVISION_FILES.iter().any(|(a, _)| a == arch),
                "{arch} has no torchvision file name"
            );
        }
        for (_, names) in TORCHVISION_FILES {
            assert!(names.iter().all(|n| n.ends_with(".pth")));
        }
    }
}
