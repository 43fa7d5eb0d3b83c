//! Tensors, autograd-lite, layers, DeepShift layers and the model zoo.
//!
//! Being written; see the README status table.
