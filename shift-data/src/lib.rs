//! MNIST, Fashion-MNIST, CIFAR-10/100 and ImageNet loaders.
//!
//! Being written; see the README status table.
