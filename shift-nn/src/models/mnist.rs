//! The reference's MNIST models.

use rand::Rng;

use super::DataDomain;
use crate::error::NnError;
use crate::layers::{Conv2dSpec, Ctx, WeightLayer};
use crate::model::Model;
use crate::ops;
use crate::tape::Var;

/// `simple_linear`: fc1 784->512, ReLU, Dropout 0.2, fc2 512->512, ReLU, Dropout 0.2,
/// fc3 512->10, log-softmax.
#[derive(Debug, Clone)]
pub struct MnistLinear {
    /// `fc1`.
    pub fc1: WeightLayer,
    /// `fc2`.
    pub fc2: WeightLayer,
    /// `fc3`.
    pub fc3: WeightLayer,
}

impl MnistLinear {
    /// PyTorch's initialisation from `rng`.
    pub fn new(rng: &mut impl Rng) -> Self {
        Self {
            fc1: WeightLayer::linear(784, 512, true, rng),
            fc2: WeightLayer::linear(512, 512, true, rng),
            fc3: WeightLayer::linear(512, DataDomain::Mnist.num_classes(), true, rng),
        }
    }
}

fn maybe_dropout(x: Var, ctx: &mut Ctx) -> Var {
    if ctx.train {
        ops::dropout(&x, 0.2, &mut ctx.rng)
    } else {
        x
    }
}

impl Model for MnistLinear {
    fn forward(&self, x: &Var, ctx: &mut Ctx) -> Result<Var, NnError> {
        let x = ops::flatten(x)?;
        let x = maybe_dropout(ops::relu(&self.fc1.forward(&x, ctx)?), ctx);
        let x = maybe_dropout(ops::relu(&self.fc2.forward(&x, ctx)?), ctx);
        ops::log_softmax(&self.fc3.forward(&x, ctx)?)
    }

    fn layers(&self) -> Vec<(String, &WeightLayer)> {
        vec![
            ("fc1".into(), &self.fc1),
            ("fc2".into(), &self.fc2),
            ("fc3".into(), &self.fc3),
        ]
    }

    fn layers_mut(&mut self) -> Vec<(String, &mut WeightLayer)> {
        vec![
            ("fc1".into(), &mut self.fc1),
            ("fc2".into(), &mut self.fc2),
            ("fc3".into(), &mut self.fc3),
        ]
    }

    fn arch(&self) -> &str {
        "simple_linear"
    }
}

/// `simple_conv`: conv1 1->20 k5, ReLU, max-pool 2, conv2 20->50 k5, ReLU, max-pool 2,
/// fc1 800->500, ReLU, fc2 500->10, log-softmax.
#[derive(Debug, Clone)]
pub struct MnistConv {
    /// `conv1`.
    pub conv1: WeightLayer,
    /// `conv2`.
    pub conv2: WeightLayer,
    /// `fc1`.
    pub fc1: WeightLayer,
    /// `fc2`.
    pub fc2: WeightLayer,
}

impl MnistConv {
    /// PyTorch's initialisation from `rng`.
    pub fn new(rng: &mut impl Rng) -> Self {
        Self {
            conv1: WeightLayer::conv2d(Conv2dSpec::new(1, 20, 5), rng),
            conv2: WeightLayer::conv2d(Conv2dSpec::new(20, 50, 5), rng),
            fc1: WeightLayer::linear(800, 500, true, rng),
            fc2: WeightLayer::linear(500, DataDomain::Mnist.num_classes(), true, rng),
        }
    }
}

impl Model for MnistConv {
    fn forward(&self, x: &Var, ctx: &mut Ctx) -> Result<Var, NnError> {
        let x = ops::max_pool2d(&ops::relu(&self.conv1.forward(x, ctx)?), 2, 2, 0)?;
        let x = ops::max_pool2d(&ops::relu(&self.conv2.forward(&x, ctx)?), 2, 2, 0)?;
        let x = ops::relu(&self.fc1.forward(&ops::flatten(&x)?, ctx)?);
        ops::log_softmax(&self.fc2.forward(&x, ctx)?)
    }

    fn layers(&self) -> Vec<(String, &WeightLayer)> {
        vec![
            ("conv1".into(), &self.conv1),
            ("conv2".into(), &self.conv2),
            ("fc1".into(), &self.fc1),
            ("fc2".into(), &self.fc2),
        ]
    }

    fn layers_mut(&mut self) -> Vec<(String, &mut WeightLayer)> {
        vec![
            ("conv1".into(), &mut self.conv1),
            ("conv2".into(), &mut self.conv2),
            ("fc1".into(), &mut self.fc1),
            ("fc2".into(), &mut self.fc2),
        ]
    }

    fn arch(&self) -> &str {
        "simple_conv"
    }
}
