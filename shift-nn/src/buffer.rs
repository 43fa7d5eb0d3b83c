//! Buffers: state that a module keeps and saves but that no optimiser updates (batch norm's
//! running statistics), PyTorch's `register_buffer`.

use std::cell::{Ref, RefCell, RefMut};
use std::rc::Rc;

use crate::tensor::Tensor;

/// A shared handle to a buffer tensor. Layers update it in place during training forward
/// passes (which take `&self`), hence the interior mutability.
#[derive(Debug, Clone)]
pub struct Buffer(Rc<RefCell<Tensor>>);

impl Buffer {
    /// A buffer holding `value`.
    pub fn new(value: Tensor) -> Buffer {
        Buffer(Rc::new(RefCell::new(value)))
    }

    /// The value.
    pub fn value(&self) -> Ref<'_, Tensor> {
        self.0.borrow()
    }

    /// The value, mutably.
    pub fn value_mut(&self) -> RefMut<'_, Tensor> {
        self.0.borrow_mut()
    }

    /// Replaces the value (shape checked by callers that load state dicts).
    pub fn set_value(&self, value: Tensor) {
        *self.0.borrow_mut() = value;
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.0.borrow().len()
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
