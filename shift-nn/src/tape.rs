//! The define-by-run tape: every op records its inputs and a backward closure; `backward`
//! walks the recorded graph from a scalar loss in reverse topological order.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use crate::param::Param;
use crate::tensor::{self, Tensor};

/// Gradient rule of one recorded op: given the output's gradient, returns one gradient per
/// input (`None` for inputs that need none).
pub(crate) type BackwardFn = Box<dyn Fn(&Tensor) -> Vec<Option<Tensor>>>;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
    static NEXT_ID: Cell<usize> = const { Cell::new(0) };
}

/// Runs `f` with recording switched off (evaluation): ops build no graph.
pub fn no_grad<T>(f: impl FnOnce() -> T) -> T {
    let previous = GRAD_ENABLED.with(|g| g.replace(false));
    let out = f();
    GRAD_ENABLED.with(|g| g.set(previous));
    out
}

/// Whether ops currently record the graph.
pub fn grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

struct Node {
    id: usize,
    value: Tensor,
    requires_grad: bool,
    inputs: Vec<Var>,
    backward: Option<BackwardFn>,
    param: Option<Param>,
}

/// A value in the graph: a tensor plus how it was computed.
#[derive(Clone)]
pub struct Var(Rc<Node>);

fn next_id() -> usize {
    NEXT_ID.with(|n| {
        let id = n.get();
        n.set(id + 1);
        id
    })
}

impl Var {
    /// A constant (inputs, targets): no gradient flows into it.
    pub fn constant(value: Tensor) -> Var {
        Var(Rc::new(Node {
            id: next_id(),
            value,
            requires_grad: false,
            inputs: Vec::new(),
            backward: None,
            param: None,
        }))
    }

    /// A leaf that reads a parameter; `backward` accumulates into the parameter's gradient.
    pub fn param(param: &Param) -> Var {
        Var(Rc::new(Node {
            id: next_id(),
            value: param.value().clone(),
            requires_grad: grad_enabled(),
            inputs: Vec::new(),
            backward: None,
            param: Some(param.clone()),
        }))
    }

    /// A leaf standing for a parameter whose value the op that uses it reads itself: the
    /// gradient reaches the parameter, but no copy of the value is made.
    pub(crate) fn param_handle(param: &Param) -> Var {
        Var(Rc::new(Node {
            id: next_id(),
            value: Tensor::zeros(ndarray::IxDyn(&[0])),
            requires_grad: grad_enabled(),
            inputs: Vec::new(),
            backward: None,
            param: Some(param.clone()),
        }))
    }

    /// Records the result of an op. Without grad mode, or when no input needs a gradient,
    /// the result is a constant and `backward` is dropped.
    pub(crate) fn from_op(value: Tensor, inputs: Vec<Var>, backward: BackwardFn) -> Var {
        let requires_grad = grad_enabled() && inputs.iter().any(|v| v.requires_grad());
        if !requires_grad {
            return Var::constant(value);
        }
        Var(Rc::new(Node {
            id: next_id(),
            value,
            requires_grad,
            inputs,
            backward: Some(backward),
            param: None,
        }))
    }

    /// The tensor.
    pub fn value(&self) -> &Tensor {
        &self.0.value
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        self.0.value.shape()
    }

    /// Whether gradients flow into this value.
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad
    }

    /// Back-propagates from this scalar, accumulating into every parameter reached.
    ///
    /// # Panics
    /// If the value is not a single element (a loss).
    pub fn backward(&self) {
        assert_eq!(self.0.value.len(), 1, "backward() needs a scalar loss");
        if !self.requires_grad() {
            return;
        }
        let order = self.topological_order();
        let mut grads: HashMap<usize, Tensor> = HashMap::new();
        grads.insert(self.0.id, Tensor::ones(self.0.value.raw_dim()));
        for var in order.iter().rev() {
            let Some(grad) = grads.remove(&var.0.id) else {
                continue;
            };
            if let Some(param) = &var.0.param {
                param.accumulate_grad(&grad);
            }
            if let Some(backward) = &var.0.backward {
                let input_grads = backward(&grad);
                for (input, g) in var.0.inputs.iter().zip(input_grads) {
                    let Some(g) = g else { continue };
                    if !input.requires_grad() {
                        continue;
                    }
                    match grads.get_mut(&input.0.id) {
                        Some(acc) => tensor::add_assign(acc, &g),
                        None => {
                            grads.insert(input.0.id, g);
                        }
                    }
                }
            }
        }
    }

    fn topological_order(&self) -> Vec<Var> {
        let mut order = Vec::new();
        let visited = RefCell::new(std::collections::HashSet::new());
        // Iterative DFS: deep ResNets would overflow a recursive walk's stack.
        let mut stack: Vec<(Var, bool)> = vec![(self.clone(), false)];
        while let Some((var, expanded)) = stack.pop() {
            if expanded {
                order.push(var);
                continue;
            }
            if !visited.borrow_mut().insert(var.0.id) {
                continue;
            }
            stack.push((var.clone(), true));
            for input in &var.0.inputs {
                if input.requires_grad() && !visited.borrow().contains(&input.0.id) {
                    stack.push((input.clone(), false));
                }
            }
        }
        order
    }
}

impl std::fmt::Debug for Var {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Var")
            .field("shape", &self.shape())
            .field("requires_grad", &self.requires_grad())
            .finish()
    }
}
