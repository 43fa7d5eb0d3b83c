//! Analytic inference energy: operation counts of a network, per image, times published
//! per-operation energies (45 nm). A CPU cannot show what a shift saves on dedicated hardware;
//! this model can, and the HPO can use it as an objective.
//!
//! The per-operation energies and the counting rules are in [`costs`]; descriptions of the
//! MNIST networks in [`models`].

pub mod costs;
pub mod models;

use std::fmt;

use crate::error::{EnergyError, Result};
use costs::OpKind;

/// A shift layer's number formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShiftSpec {
    /// Weight bits (`-wb`): the width of a packed shift code.
    pub weight_bits: u32,
    /// Integer bits of the fixed-point activations (`-ab I F`, I).
    pub act_int_bits: u32,
    /// Fraction bits of the fixed-point activations (`-ab I F`, F).
    pub act_frac_bits: u32,
}

impl ShiftSpec {
    /// Width of a fixed-point activation, I + F.
    pub fn act_bits(&self) -> u32 {
        self.act_int_bits + self.act_frac_bits
    }
}

/// One layer of a network, with the shapes needed to count its operations for one image.
#[derive(Debug, Clone, PartialEq)]
pub enum LayerDesc {
    /// 2-D convolution (float, or a shift layer when `shift` is set).
    Conv2d {
        /// Layer name (PyTorch's, e.g. `conv1`).
        name: String,
        /// Input channels.
        in_ch: usize,
        /// Output channels.
        out_ch: usize,
        /// Kernel height and width.
        kernel: (usize, usize),
        /// Input height and width.
        in_hw: (usize, usize),
        /// Output height and width.
        out_hw: (usize, usize),
        /// Groups (1 for a dense convolution).
        groups: usize,
        /// Whether the layer adds a bias.
        bias: bool,
        /// `Some` for a DeepShift layer.
        shift: Option<ShiftSpec>,
    },
    /// Fully connected layer.
    Linear {
        /// Layer name.
        name: String,
        /// Input features.
        in_features: usize,
        /// Output features.
        out_features: usize,
        /// Whether the layer adds a bias.
        bias: bool,
        /// `Some` for a DeepShift layer.
        shift: Option<ShiftSpec>,
    },
    /// Max pooling: `kh*kw - 1` comparisons per output.
    MaxPool2d {
        /// Layer name.
        name: String,
        /// Channels.
        channels: usize,
        /// Window height and width.
        kernel: (usize, usize),
        /// Output height and width.
        out_hw: (usize, usize),
    },
    /// Average pooling: `kh*kw - 1` additions and one scaling multiplication per output.
    AvgPool2d {
        /// Layer name.
        name: String,
        /// Channels.
        channels: usize,
        /// Window height and width.
        kernel: (usize, usize),
        /// Output height and width.
        out_hw: (usize, usize),
    },
    /// Batch normalisation at inference: one multiplication and one addition per element.
    BatchNorm2d {
        /// Layer name.
        name: String,
        /// Channels.
        channels: usize,
        /// Height and width.
        hw: (usize, usize),
    },
    /// ReLU: one comparison per element.
    ReLU {
        /// Layer name.
        name: String,
        /// Elements per image.
        elements: usize,
    },
    /// Element-wise addition (residual connections): one addition per element.
    Add {
        /// Layer name.
        name: String,
        /// Elements per image.
        elements: usize,
    },
}

impl LayerDesc {
    /// The layer's name.
    pub fn name(&self) -> &str {
        match self {
            LayerDesc::Conv2d { name, .. }
            | LayerDesc::Linear { name, .. }
            | LayerDesc::MaxPool2d { name, .. }
            | LayerDesc::AvgPool2d { name, .. }
            | LayerDesc::BatchNorm2d { name, .. }
            | LayerDesc::ReLU { name, .. }
            | LayerDesc::Add { name, .. } => name,
        }
    }

    /// Weight multiplications per image (the MACs of a float layer, the shifts of a shift
    /// layer; 0 for layers without weights).
    pub fn macs(&self) -> u64 {
        match self {
            LayerDesc::Conv2d {
                in_ch,
                out_ch,
                kernel,
                out_hw,
                groups,
                ..
            } => {
                let k = (in_ch / groups.max(&1)) * kernel.0 * kernel.1;
                (out_ch * out_hw.0 * out_hw.1 * k) as u64
            }
            LayerDesc::Linear {
                in_features,
                out_features,
                ..
            } => (in_features * out_features) as u64,
            _ => 0,
        }
    }
}

/// A number of operations of one kind and their energy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpCount {
    /// The operation.
    pub kind: OpKind,
    /// How many per image.
    pub count: u64,
    /// `count` times the per-operation energy, picojoules.
    pub energy_pj: f64,
}

/// The energy of one layer for one image.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerEnergy {
    /// Layer name.
    pub name: String,
    /// Weight multiplications (float MACs or shifts).
    pub macs: u64,
    /// Operations by kind.
    pub ops: Vec<OpCount>,
    /// Bits of stored parameters (weights, biases, batch-norm scales).
    pub weight_bits: u64,
    /// Arithmetic energy, pJ.
    pub compute_pj: f64,
    /// Reading every parameter once from a small SRAM, pJ.
    pub weight_read_pj: f64,
}

/// The energy of a network for one image.
#[derive(Debug, Clone, PartialEq)]
pub struct EnergyBreakdown {
    /// Per layer, in order.
    pub layers: Vec<LayerEnergy>,
    /// Totals by operation kind, in order of first appearance.
    pub ops: Vec<OpCount>,
    /// Weight multiplications in the whole network.
    pub macs: u64,
    /// Bits of stored parameters.
    pub weight_bits: u64,
    /// Arithmetic energy, pJ.
    pub compute_pj: f64,
    /// Parameter reads, pJ.
    pub weight_read_pj: f64,
}

impl EnergyBreakdown {
    /// Arithmetic plus parameter reads, pJ per image.
    pub fn total_pj(&self) -> f64 {
        self.compute_pj + self.weight_read_pj
    }

    /// The count of one kind of operation (0 when absent).
    pub fn count(&self, kind: OpKind) -> u64 {
        self.ops
            .iter()
            .filter(|o| o.kind == kind)
            .map(|o| o.count)
            .sum()
    }
}

impl fmt::Display for EnergyBreakdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<8} {:>12} {:>14} {:>14} {:>12}",
            "layer", "MACs", "compute pJ", "weights pJ", "weight bits"
        )?;
        for l in &self.layers {
            writeln!(
                f,
                "{:<8} {:>12} {:>14.1} {:>14.1} {:>12}",
                l.name, l.macs, l.compute_pj, l.weight_read_pj, l.weight_bits
            )?;
        }
        writeln!(
            f,
            "{:<8} {:>12} {:>14.1} {:>14.1} {:>12}",
            "total", self.macs, self.compute_pj, self.weight_read_pj, self.weight_bits
        )?;
        for o in &self.ops {
            writeln!(
                f,
                "  {:<22} {:>12} ops {:>14.1} pJ",
                o.kind.to_string(),
                o.count,
                o.energy_pj
            )?;
        }
        Ok(())
    }
}

/// Counts the operations of `layers` for one image and prices them (see [`costs`]).
pub fn inference_energy(layers: &[LayerDesc]) -> Result<EnergyBreakdown> {
    let mut out = EnergyBreakdown {
        layers: Vec::with_capacity(layers.len()),
        ops: Vec::new(),
        macs: 0,
        weight_bits: 0,
        compute_pj: 0.0,
        weight_read_pj: 0.0,
    };
    for layer in layers {
        validate(layer)?;
        let (counts, weight_bits) = costs::count_ops(layer);
        let ops: Vec<OpCount> = counts
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(kind, count)| OpCount {
                kind,
                count,
                energy_pj: count as f64 * kind.energy_pj(),
            })
            .collect();
        let compute_pj = ops.iter().map(|o| o.energy_pj).sum();
        let weight_read_pj = costs::weight_read_pj(weight_bits);
        for o in &ops {
            match out.ops.iter_mut().find(|t| t.kind == o.kind) {
                Some(t) => {
                    t.count += o.count;
                    t.energy_pj += o.energy_pj;
                }
                None => out.ops.push(*o),
            }
        }
        out.macs += layer.macs();
        out.weight_bits += weight_bits;
        out.compute_pj += compute_pj;
        out.weight_read_pj += weight_read_pj;
        out.layers.push(LayerEnergy {
            name: layer.name().to_string(),
            macs: layer.macs(),
            ops,
            weight_bits,
            compute_pj,
            weight_read_pj,
        });
    }
    Ok(out)
}

fn validate(layer: &LayerDesc) -> Result<()> {
    let bad = |message: String| {
        Err(EnergyError::InvalidConfig {
            what: "layer description",
            message: format!("{}: {message}", layer.name()),
        })
    };
    let check_shift = |s: &Option<ShiftSpec>| match s {
        Some(s) if !(2..=8).contains(&s.weight_bits) => {
            bad(format!("weight bits {} outside 2..=8", s.weight_bits))
        }
        Some(s) if s.act_int_bits == 0 || s.act_bits() > 64 => bad(format!(
            "activation format {}/{} needs 1..=64 bits with at least one integer bit",
            s.act_int_bits, s.act_frac_bits
        )),
        _ => Ok(()),
    };
    match layer {
        LayerDesc::Conv2d {
            in_ch,
            out_ch,
            kernel,
            in_hw,
            out_hw,
            groups,
            shift,
            ..
        } => {
            let dims = [
                *in_ch, *out_ch, kernel.0, kernel.1, in_hw.0, in_hw.1, out_hw.0, out_hw.1, *groups,
            ];
            if dims.contains(&0) {
                return bad("every size must be > 0".to_string());
            }
            if in_ch % groups != 0 || out_ch % groups != 0 {
                return bad(format!(
                    "groups {groups} must divide {in_ch} and {out_ch} channels"
                ));
            }
            check_shift(shift)
        }
        LayerDesc::Linear {
            in_features,
            out_features,
            shift,
            ..
        } => {
            if *in_features == 0 || *out_features == 0 {
                return bad("every size must be > 0".to_string());
            }
            check_shift(shift)
        }
        LayerDesc::MaxPool2d {
            channels,
            kernel,
            out_hw,
            ..
        }
        | LayerDesc::AvgPool2d {
            channels,
            kernel,
            out_hw,
            ..
        } => {
            if [*channels, kernel.0, kernel.1, out_hw.0, out_hw.1].contains(&0) {
                return bad("every size must be > 0".to_string());
            }
            Ok(())
        }
        LayerDesc::BatchNorm2d { channels, hw, .. } => {
            if [*channels, hw.0, hw.1].contains(&0) {
                return bad("every size must be > 0".to_string());
            }
            Ok(())
        }
        LayerDesc::ReLU { .. } | LayerDesc::Add { .. } => Ok(()),
    }
}

/// Converts weight layers to shift layers as the reference's `convert_to_shift` does: walking
/// from the last layer backwards, each Conv2d converted counts toward `shift_depth`; Linear
/// layers are always converted (and do not count) when `convert_all_linear`, else they count
/// like convolutions. A depth of 0 converts nothing (the reference only converts when the
/// depth is positive). Returns how many layers were converted.
pub fn convert_to_shift(
    layers: &mut [LayerDesc],
    spec: ShiftSpec,
    shift_depth: usize,
    convert_all_linear: bool,
) -> usize {
    if shift_depth == 0 {
        return 0;
    }
    let mut counted = 0;
    let mut converted = 0;
    for layer in layers.iter_mut().rev() {
        match layer {
            LayerDesc::Conv2d { shift, .. } if counted < shift_depth => {
                *shift = Some(spec);
                counted += 1;
                converted += 1;
            }
            LayerDesc::Linear { shift, .. } if convert_all_linear || counted < shift_depth => {
                *shift = Some(spec);
                if !convert_all_linear {
                    counted += 1;
                }
                converted += 1;
            }
            _ => {}
        }
    }
    converted
}
