//! Trainer, optimisers, LR schedules and checkpoints for DeepShift networks.
//!
//! Being written; see the README status table.
