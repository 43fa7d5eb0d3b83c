//! Optimisers over flat parameter slices: SGD, Adam, Adagrad, RMSprop and Adadelta as PyTorch
//! defines them, RAdam and Ranger as the DeepShift reference does.
//!
//! An [`Optimizer`] holds the hyperparameters ([`Algorithm`]), the parameter groups
//! ([`GroupOptions`]: learning rate and weight decay each) and, per parameter name, the state
//! (step count and buffers such as `exp_avg`). A parameter's state is created at its first
//! update, as PyTorch creates it at the first `step()`; a parameter never updated (no
//! gradient) has none. The state exports as named `f32` vectors
//! ([`Optimizer::state_tensors`]) for checkpoints; loading them back continues bit for bit.
//!
//! ```
//! use shift_train::optim::{Algorithm, GroupOptions, Optimizer, ParamRef};
//! let mut opt = Optimizer::new(Algorithm::sgd(0.9), vec![GroupOptions::new(0.1, 1e-4)]).unwrap();
//! let (mut w, g) = (vec![1.0f32, -2.0], vec![0.5f32, 0.25]);
//! opt.step(&mut [ParamRef { name: "fc.weight", group: 0, value: &mut w, grad: &g }]).unwrap();
//! assert_eq!(w[0], 1.0 - 0.1 * (0.5 + 1e-4 * 1.0) as f32);
//! ```

mod algorithm;
mod kernels;
mod state;

use std::collections::HashMap;

pub use algorithm::Algorithm;

use crate::TrainError;

/// Index of the group of ordinary parameters (weights, biases, BatchNorm) in optimisers built
/// by [`Optimizer::from_config`].
pub const GROUP_OTHER: usize = 0;
/// Index of the group of PS sign parameters (own learning rate `--lr-sign`, no weight decay).
pub const GROUP_SIGN: usize = 1;
/// Index of the group of PS shift parameters (no weight decay).
pub const GROUP_SHIFT: usize = 2;

/// Per-group options: PyTorch's `param_groups[i]['lr']` and `['weight_decay']`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupOptions {
    /// Learning rate.
    pub lr: f64,
    /// Weight decay: L2 (added to the gradient) for the PyTorch optimisers, decoupled
    /// (`p -= wd*lr*p`) for RAdam and Ranger.
    pub weight_decay: f64,
}

impl GroupOptions {
    /// A group with this learning rate and weight decay.
    pub fn new(lr: f64, weight_decay: f64) -> Self {
        Self { lr, weight_decay }
    }

    fn validate(&self) -> Result<(), TrainError> {
        let bad = |name, value| TrainError::InvalidHyperparameter {
            name,
            value,
            reason: "must be finite and >= 0",
        };
        if !(self.lr.is_finite() && self.lr >= 0.0) {
            return Err(bad("lr", self.lr));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(bad("weight_decay", self.weight_decay));
        }
        Ok(())
    }
}

/// One parameter handed to [`Optimizer::step`]: its name (the key of its state), its group,
/// its values (updated in place) and its gradient.
#[derive(Debug)]
pub struct ParamRef<'a> {
    /// Unique parameter name, e.g. `fc1.weight` (PyTorch's state-dict name).
    pub name: &'a str,
    /// Index of its parameter group.
    pub group: usize,
    /// The values, updated in place.
    pub value: &'a mut [f32],
    /// The gradient, as long as `value`.
    pub grad: &'a [f32],
}

/// Optimiser settings as the reference's command-line flags give them.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerConfig {
    /// `sgd`, `adam`, `adagrad`, `rmsprop`, `adadelta`, `radam` or `ranger`.
    pub name: String,
    /// Learning rate (`--lr`).
    pub lr: f64,
    /// Learning rate of sign parameters (`--lr-sign`; `None`: `lr`).
    pub lr_sign: Option<f64>,
    /// SGD momentum (`--momentum`; ignored by the others, as in the reference).
    pub momentum: f64,
    /// Weight decay (`--weight-decay`) of the ordinary parameters.
    pub weight_decay: f64,
}

#[derive(Debug, Clone)]
struct Slot {
    group: usize,
    step: u64,
    buffers: Vec<Vec<f32>>,
}

/// The optimiser: an [`Algorithm`], parameter groups and per-parameter state.
#[derive(Debug, Clone)]
pub struct Optimizer {
    algorithm: Algorithm,
    groups: Vec<GroupOptions>,
    slots: HashMap<String, Slot>,
}

impl Optimizer {
    /// An optimiser with these hyperparameters and groups (validated as PyTorch does).
    pub fn new(algorithm: Algorithm, groups: Vec<GroupOptions>) -> Result<Self, TrainError> {
        algorithm.validate()?;
        if groups.is_empty() {
            return Err(TrainError::InvalidGroups("no parameter groups".into()));
        }
        for g in &groups {
            g.validate()?;
        }
        Ok(Self {
            algorithm,
            groups,
            slots: HashMap::new(),
        })
    }

    /// The reference's optimiser for command-line settings: its defaults for `config.name`
    /// and three groups, [`GROUP_OTHER`] (`lr`, `weight_decay`), [`GROUP_SIGN`] (`lr_sign` or
    /// `lr`, no decay) and [`GROUP_SHIFT`] (`lr`, no decay).
    pub fn from_config(config: &OptimizerConfig) -> Result<Self, TrainError> {
        let algorithm = Algorithm::from_name(&config.name, config.momentum)?;
        let lr_sign = config.lr_sign.unwrap_or(config.lr);
        Self::new(
            algorithm,
            vec![
                GroupOptions::new(config.lr, config.weight_decay),
                GroupOptions::new(lr_sign, 0.0),
                GroupOptions::new(config.lr, 0.0),
            ],
        )
    }

    /// The algorithm and its hyperparameters.
    pub fn algorithm(&self) -> &Algorithm {
        &self.algorithm
    }

    /// The parameter groups.
    pub fn groups(&self) -> &[GroupOptions] {
        &self.groups
    }

    /// Sets a group's weight decay.
    pub fn set_weight_decay(&mut self, group: usize, weight_decay: f64) -> Result<(), TrainError> {
        let g = self.group_mut(group)?;
        let new = GroupOptions { weight_decay, ..*g };
        new.validate()?;
        *g = new;
        Ok(())
    }

    /// How many steps a parameter has taken (`None`: never updated).
    pub fn param_step(&self, name: &str) -> Option<u64> {
        self.slots.get(name).map(|s| s.step)
    }

    /// A parameter's state buffer by name (`exp_avg`, `momentum_buffer`, ...).
    pub fn param_buffer(&self, name: &str, buffer: &str) -> Option<&[f32]> {
        let slot = self.slots.get(name)?;
        let i = self
            .algorithm
            .buffer_names()
            .iter()
            .position(|b| *b == buffer)?;
        Some(&slot.buffers[i])
    }

    /// Updates one parameter; see [`Optimizer::step`].
    pub fn update(
        &mut self,
        name: &str,
        group: usize,
        value: &mut [f32],
        grad: &[f32],
    ) -> Result<(), TrainError> {
        self.check(name, group, value, grad)?;
        let options = self.groups[group];
        let slot = self.slots.entry(name.to_string()).or_insert_with(|| Slot {
            group,
            step: 0,
            buffers: kernels::init_buffers(&self.algorithm, value),
        });
        slot.step += 1;
        let ctx = kernels::StepCtx {
            lr: options.lr,
            weight_decay: options.weight_decay,
            step: slot.step,
        };
        kernels::update(&self.algorithm, &ctx, value, grad, &mut slot.buffers);
        Ok(())
    }

    fn check(
        &self,
        name: &str,
        group: usize,
        value: &[f32],
        grad: &[f32],
    ) -> Result<(), TrainError> {
        if group >= self.groups.len() {
            return Err(TrainError::UnknownGroup(format!(
                "{group} for parameter `{name}` (the optimiser has {})",
                self.groups.len()
            )));
        }
        let mismatch = |what, expected, found| TrainError::LengthMismatch {
            param: name.to_string(),
            what,
            expected,
            found,
        };
        if grad.len() != value.len() {
            return Err(mismatch("grad", value.len(), grad.len()));
        }
        if let Some(slot) = self.slots.get(name) {
            if slot.group != group {
                return Err(TrainError::UnknownGroup(format!(
                    "{group} for parameter `{name}`, which belongs to group {}",
                    slot.group
                )));
            }
            if let Some(b) = slot.buffers.first() {
                if b.len() != value.len() {
                    return Err(mismatch("value", b.len(), value.len()));
                }
            }
        }
        Ok(())
    }

    fn group_mut(&mut self, group: usize) -> Result<&mut GroupOptions, TrainError> {
        let n = self.groups.len();
        self.groups
            .get_mut(group)
            .ok_or_else(|| TrainError::UnknownGroup(format!("{group} (the optimiser has {n})")))
    }
}

impl Optimizer {
    /// Updates each parameter from its gradient (PyTorch's `optimizer.step()`). Parameters
    /// without a gradient are simply left out. All parameters are checked before any is
    /// changed, so an error leaves values and state untouched.
    pub fn step(&mut self, params: &mut [ParamRef<'_>]) -> Result<(), TrainError> {
        let mut seen = std::collections::HashSet::new();
        for p in params.iter() {
            self.check(p.name, p.group, p.value, p.grad)?;
            if !seen.insert(p.name) {
                return Err(TrainError::InvalidGroups(format!(
                    "parameter `{}` given twice in one step",
                    p.name
                )));
            }
        }
        for p in params.iter_mut() {
            self.update(p.name, p.group, p.value, p.grad)?;
        }
        Ok(())
    }

    /// Sets a group's learning rate (for schedules).
    pub fn set_lr(&mut self, group: usize, lr: f64) -> Result<(), TrainError> {
        let g = self.group_mut(group)?;
        let new = GroupOptions { lr, ..*g };
        new.validate()?;
        *g = new;
        Ok(())
    }

    /// A group's learning rate.
    pub fn lr(&self, group: usize) -> Option<f64> {
        self.groups.get(group).map(|g| g.lr)
    }

    /// The state as named `f32` vectors: `state.<param>.<buffer>`, `state.<param>.step` (the
    /// step count; exact up to 2^24, as PyTorch's own `float32` step tensors) and one empty
    /// marker `algorithm.<name>`. Learning rates are not included: they are configuration,
    /// reapplied by the schedule.
    pub fn state_tensors(&self) -> Vec<(String, Vec<f32>)> {
        state::export(self)
    }

    /// Restores state exported by [`Optimizer::state_tensors`] of an optimiser with the same
    /// algorithm; existing state is replaced. Errors leave the optimiser unchanged.
    pub fn load_state_tensors(&mut self, tensors: &[(String, Vec<f32>)]) -> Result<(), TrainError> {
        state::import(self, tensors)
    }
}

#[cfg(test)]
mod tests;
