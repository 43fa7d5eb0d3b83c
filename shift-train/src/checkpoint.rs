//! Resumable checkpoints: the model's exact parameters, the optimiser's state and the epoch
//! log in one safetensors file, written atomically.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use shift_nn::{load_state_dict, state_dict, Model, StateDict, Tensor};

use crate::optim::Optimizer;
use crate::TrainError;

/// The format tag stored in a checkpoint's metadata.
pub const CHECKPOINT_FORMAT: &str = "deepshift-rs checkpoint v1";

/// One epoch's results, as logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Mean test loss.
    pub test_loss: f64,
    /// Top-1 test accuracy (fraction).
    pub test_accuracy: f64,
    /// Top-5 test accuracy (fraction).
    pub test_top5: f64,
    /// Seconds spent training.
    pub train_seconds: f64,
    /// Seconds spent evaluating.
    pub eval_seconds: f64,
}

/// A resumable training state.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Epochs completed.
    pub epochs_done: usize,
    /// The epoch log so far.
    pub records: Vec<EpochRecord>,
    model: StateDict,
    optimizer: Vec<(String, Vec<f32>)>,
}

impl Checkpoint {
    /// Captures the model and optimiser after `epochs_done` epochs.
    pub fn capture(
        model: &dyn Model,
        optimizer: &Optimizer,
        epochs_done: usize,
        records: &[EpochRecord],
    ) -> Result<Self, TrainError> {
        Ok(Self {
            epochs_done,
            records: records.to_vec(),
            model: state_dict(model),
            optimizer: optimizer.state_tensors(),
        })
    }

    /// Puts the captured state back into a model of the same architecture and an optimiser
    /// of the same kind.
    pub fn restore(&self, model: &dyn Model, optimizer: &mut Optimizer) -> Result<(), TrainError> {
        load_state_dict(model, &self.model, "checkpoint")?;
        optimizer
            .load_state_tensors(&self.optimizer)
            .map_err(|e| TrainError::Checkpoint {
                file: "checkpoint".into(),
                problem: e.to_string(),
            })
    }

    /// Writes the checkpoint atomically.
    pub fn save(&self, path: &Path) -> Result<(), TrainError> {
        let mut dict = StateDict::default();
        for (name, t) in &self.model.tensors {
            dict.tensors.insert(format!("model.{name}"), t.clone());
        }
        for (name, v) in &self.optimizer {
            dict.tensors.insert(
                format!("optimizer.{name}"),
                Tensor::from_shape_vec(vec![v.len()], v.clone()).expect("1-D"),
            );
        }
        dict.metadata = BTreeMap::from([
            ("format".to_string(), CHECKPOINT_FORMAT.to_string()),
            ("sha256".to_string(), content_digest(&dict)),
            ("epochs_done".to_string(), self.epochs_done.to_string()),
            (
                "records".to_string(),
                serde_json::to_string(&self.records).expect("serialisable"),
            ),
        ]);
        shift_nn::save_safetensors(&dict, path)?;
        Ok(())
    }

    /// Reads a checkpoint written by [`Checkpoint::save`]; errors name the file and problem.
    pub fn load(path: &Path) -> Result<Self, TrainError> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| shift_nn::NnError::Io {
            file: file.clone(),
            source,
        })?;
        Self::from_bytes(&bytes, &file)
    }

    /// [`Checkpoint::load`] on the bytes of a checkpoint file; `file` names them in errors.
    pub fn from_bytes(bytes: &[u8], file: &str) -> Result<Self, TrainError> {
        let bad = |problem: String| TrainError::Checkpoint {
            file: file.to_string(),
            problem,
        };
        if shift_nn::pth::is_pth(bytes) {
            // PyTorch's optimiser state does not map onto this trainer's; its weights do.
            return Err(bad(
                "a PyTorch file is not a resumable checkpoint: start from its weights with \
                 --weights FILE instead (the optimizer state is not restored)"
                    .into(),
            ));
        }
        let dict = shift_nn::parse_safetensors(bytes, file)?;
        if dict.metadata.get("format").map(String::as_str) != Some(CHECKPOINT_FORMAT) {
            return Err(bad(format!("not a resumable checkpoint (metadata format is {:?}; expected {CHECKPOINT_FORMAT:?}); use --weights for plain weights", dict.metadata.get("format"))));
        }
        if dict.metadata.get("sha256") != Some(&content_digest(&dict)) {
            return Err(bad(
                "its tensors do not match the checksum written with them: the file is damaged"
                    .into(),
            ));
        }
        let epochs_done = dict
            .metadata
            .get("epochs_done")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("epochs_done missing".into()))?;
        let records = serde_json::from_str(
            dict.metadata
                .get("records")
                .map(String::as_str)
                .unwrap_or("[]"),
        )
        .map_err(|e| bad(format!("records: {e}")))?;
        let mut model = StateDict::default();
        let mut optimizer = Vec::new();
        for (name, t) in dict.tensors {
            if let Some(n) = name.strip_prefix("model.") {
                model.tensors.insert(n.to_string(), t);
            } else if let Some(n) = name.strip_prefix("optimizer.") {
                optimizer.push((n.to_string(), t.iter().copied().collect()));
            } else {
                return Err(bad(format!("unexpected tensor `{name}`")));
            }
        }
        Ok(Self {
            epochs_done,
            records,
            model,
            optimizer,
        })
    }
}

/// SHA-256 of every tensor's name, shape and exact values in name order: a damaged data byte
/// would otherwise load as a silently different model.
fn content_digest(dict: &StateDict) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for (name, t) in &dict.tensors {
        hash.update((name.len() as u64).to_le_bytes());
        hash.update(name.as_bytes());
        for &d in t.shape() {
            hash.update((d as u64).to_le_bytes());
        }
        for v in t.iter() {
            hash.update(v.to_bits().to_le_bytes());
        }
    }
    format!("{:x}", hash.finalize())
}
