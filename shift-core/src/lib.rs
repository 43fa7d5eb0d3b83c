//! DeepShift numerics.
