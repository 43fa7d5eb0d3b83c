//! The one reader of `--weights FILE` (and of `--pretrained True`'s file) for every command:
//! PyTorch files (`.pth`, `.pth.tar`, `.pt`, `.th`: zip or legacy format, told by their first
//! bytes, whatever the name), packed exports (`deepshift export --packed`) and safetensors.

use std::path::Path;

use anyhow::{Context, Result};
use shift_nn::StateDict;

/// Reads the weights in `path` for a model of architecture `arch`, printing what the file
/// said besides (a checkpoint's epoch, entries ignored) to stderr.
///
/// torchvision's own files need what torchvision does when it loads them: DenseNet's
/// `denselayerN.norm.1` names become `norm1`, and GoogLeNet's untrained auxiliary heads
/// (`aux1.*`, `aux2.*`, which the zoo's model does not have) are dropped.
pub fn load_weights_arg(path: &Path, arch: &str) -> Result<StateDict> {
    let file = path.display().to_string();
    let head = read_head(path).with_context(|| format!("reading {file}"))?;
    let mut dict = if shift_nn::pth::is_pth(&head) {
        let w = shift_nn::pth::load_pth(path)?;
        for note in &w.notes {
            eprintln!("{file}: {note}");
        }
        w.state_dict
    } else {
        match crate::export::read_packed(path)? {
            Some(dict) => dict,
            None => shift_nn::load_safetensors(path)?,
        }
    };
    if arch == "densenet121" {
        let renamed: Vec<(String, String)> = dict
            .tensors
            .keys()
            .filter_map(|k| shift_nn::models::densenet_legacy_key(k).map(|n| (k.clone(), n)))
            .collect();
        if !renamed.is_empty() {
            eprintln!(
                "{file}: {} DenseNet names of torchvision's old layout renamed (norm.1 -> norm1, ...)",
                renamed.len()
            );
        }
        for (old, new) in renamed {
            let t = dict.tensors.remove(&old).expect("listed above");
            dict.tensors.insert(new, t);
        }
    }
    if arch == "googlenet" {
        let before = dict.tensors.len();
        dict.tensors
            .retain(|k, _| !(k.starts_with("aux1.") || k.starts_with("aux2.")));
        if dict.tensors.len() < before {
            eprintln!(
                "{file}: {} tensors of GoogLeNet's auxiliary heads dropped (aux_logits=False, as \
                 torchvision's pretrained model)",
                before - dict.tensors.len()
            );
        }
    }
    Ok(dict)
}

/// The first bytes of a file, enough to tell its format.
fn read_head(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(512);
    std::fs::File::open(path)?
        .take(512)
        .read_to_end(&mut head)?;
    Ok(head)
}
