//! Parameters: tensors an optimiser updates in place, with their gradients and kinds.

use std::cell::{Ref, RefCell, RefMut};
use std::rc::Rc;

use crate::tensor::{self, Tensor};

/// What a parameter is, so a trainer can build optimiser groups (no weight decay on shift and
/// sign parameters, a separate learning rate for signs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamKind {
    /// A float (or DeepShift-Q) weight.
    Weight,
    /// A bias.
    Bias,
    /// A DeepShift-PS shift.
    Shift,
    /// A DeepShift-PS sign.
    Sign,
    /// A normalisation scale.
    NormWeight,
    /// A normalisation shift.
    NormBias,
}

#[derive(Debug)]
struct ParamData {
    value: Tensor,
    grad: Tensor,
    kind: ParamKind,
}

/// A shared handle to a parameter tensor and its gradient.
#[derive(Debug, Clone)]
pub struct Param(Rc<RefCell<ParamData>>);

impl Param {
    /// A parameter with a zero gradient.
    pub fn new(value: Tensor, kind: ParamKind) -> Param {
        let grad = Tensor::zeros(value.raw_dim());
        Param(Rc::new(RefCell::new(ParamData { value, grad, kind })))
    }

    /// Its kind.
    pub fn kind(&self) -> ParamKind {
        self.0.borrow().kind
    }

    /// The value.
    pub fn value(&self) -> Ref<'_, Tensor> {
        Ref::map(self.0.borrow(), |d| &d.value)
    }

    /// The value, mutably (for optimisers and in-place projections).
    pub fn value_mut(&self) -> RefMut<'_, Tensor> {
        RefMut::map(self.0.borrow_mut(), |d| &mut d.value)
    }

    /// The accumulated gradient.
    pub fn grad(&self) -> Ref<'_, Tensor> {
        Ref::map(self.0.borrow(), |d| &d.grad)
    }

    /// Value and gradient at once, as flat slices, for an optimiser step.
    pub fn with_value_and_grad<T>(&self, f: impl FnOnce(&mut [f32], &[f32]) -> T) -> T {
        let mut data = self.0.borrow_mut();
        let ParamData { value, grad, .. } = &mut *data;
        let value = value.as_slice_mut().expect("parameters are contiguous");
        let grad = grad.as_slice().expect("gradients are contiguous");
        f(value, grad)
    }

    /// The gradient, mutably (for extra loss terms computed outside the tape).
    pub fn grad_mut(&self) -> RefMut<'_, Tensor> {
        RefMut::map(self.0.borrow_mut(), |d| &mut d.grad)
    }

    /// Sets the gradient to zero.
    pub fn zero_grad(&self) {
        self.0.borrow_mut().grad.fill(0.0);
    }

    /// Replaces the value (shape must match; checked by callers that load state dicts).
    pub fn set_value(&self, value: Tensor) {
        let mut data = self.0.borrow_mut();
        data.grad = Tensor::zeros(value.raw_dim());
        data.value = value;
    }

    pub(crate) fn accumulate_grad(&self, g: &Tensor) {
        tensor::add_assign(&mut self.0.borrow_mut().grad, g);
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.0.borrow().value.len()
    }

    /// Whether the parameter is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
