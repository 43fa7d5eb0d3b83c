//! Descriptions of the MNIST networks (DESIGN.md section 4), for the README's numbers and for
//! the HPO. Other networks are described the same way by whoever builds them.

use super::{convert_to_shift, LayerDesc, ShiftSpec};

fn conv(
    name: &str,
    in_ch: usize,
    out_ch: usize,
    k: usize,
    in_hw: usize,
    out_hw: usize,
) -> LayerDesc {
    LayerDesc::Conv2d {
        name: name.to_string(),
        in_ch,
        out_ch,
        kernel: (k, k),
        in_hw: (in_hw, in_hw),
        out_hw: (out_hw, out_hw),
        groups: 1,
        bias: true,
        shift: None,
    }
}

fn linear(name: &str, in_features: usize, out_features: usize) -> LayerDesc {
    LayerDesc::Linear {
        name: name.to_string(),
        in_features,
        out_features,
        bias: true,
        shift: None,
    }
}

fn relu(name: &str, elements: usize) -> LayerDesc {
    LayerDesc::ReLU {
        name: name.to_string(),
        elements,
    }
}

fn pool(name: &str, channels: usize, out_hw: usize) -> LayerDesc {
    LayerDesc::MaxPool2d {
        name: name.to_string(),
        channels,
        kernel: (2, 2),
        out_hw: (out_hw, out_hw),
    }
}

/// MNIST `conv`: conv1 1->20 k5 (28x28 -> 24x24), ReLU, max-pool 2, conv2 20->50 k5
/// (12x12 -> 8x8), ReLU, max-pool 2, fc1 800->500, ReLU, fc2 500->10. With `shift`, converted
/// as `--type conv --shift-depth D` does: both Linear layers always, plus the last `D`
/// convolutions (nothing when `D` is 0).
pub fn mnist_conv(shift: Option<ShiftSpec>, shift_depth: usize) -> Vec<LayerDesc> {
    let mut layers = vec![
        conv("conv1", 1, 20, 5, 28, 24),
        relu("relu1", 20 * 24 * 24),
        pool("pool1", 20, 12),
        conv("conv2", 20, 50, 5, 12, 8),
        relu("relu2", 50 * 8 * 8),
        pool("pool2", 50, 4),
        linear("fc1", 800, 500),
        relu("relu3", 500),
        linear("fc2", 500, 10),
    ];
    if let Some(spec) = shift {
        convert_to_shift(&mut layers, spec, shift_depth, true);
    }
    layers
}

/// MNIST `linear`: fc1 784->512, ReLU, fc2 512->512, ReLU, fc3 512->10 (dropout does nothing at
/// inference). With `shift`, the last `shift_depth` Linear layers are converted, as
/// `--type linear --shift-depth D` does.
pub fn mnist_linear(shift: Option<ShiftSpec>, shift_depth: usize) -> Vec<LayerDesc> {
    let mut layers = vec![
        linear("fc1", 784, 512),
        relu("relu1", 512),
        linear("fc2", 512, 512),
        relu("relu2", 512),
        linear("fc3", 512, 10),
    ];
    if let Some(spec) = shift {
        convert_to_shift(&mut layers, spec, shift_depth, false);
    }
    layers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytic::{costs::OpKind, inference_energy};

    const PS5: ShiftSpec = ShiftSpec {
        weight_bits: 5,
        act_int_bits: 16,
        act_frac_bits: 16,
    };

    #[test]
    fn mnist_conv_mac_counts() {
        let layers = mnist_conv(None, 0);
        let macs: Vec<(String, u64)> = layers
            .iter()
            .filter(|l| l.macs() > 0)
            .map(|l| (l.name().to_string(), l.macs()))
            .collect();
        assert_eq!(
            macs,
            [
                ("conv1", 288_000),
                ("conv2", 1_600_000),
                ("fc1", 400_000),
                ("fc2", 5_000)
            ]
            .map(|(n, m)| (n.to_string(), m))
        );
        let e = inference_energy(&layers).unwrap();
        assert_eq!(e.macs, 2_293_000);
        assert_eq!(e.count(OpKind::FloatMult), 2_293_000);
    }

    #[test]
    fn depth_rules_follow_the_reference() {
        let count = |v: &[LayerDesc]| {
            v.iter()
                .filter(|l| {
                    matches!(
                        l,
                        LayerDesc::Conv2d { shift: Some(_), .. }
                            | LayerDesc::Linear { shift: Some(_), .. }
                    )
                })
                .count()
        };
        assert_eq!(count(&mnist_conv(Some(PS5), 0)), 0);
        assert_eq!(count(&mnist_conv(Some(PS5), 1)), 3); // fc1, fc2, conv2
        assert_eq!(count(&mnist_conv(Some(PS5), 1000)), 4);
        let one = mnist_conv(Some(PS5), 1);
        assert!(matches!(&one[0], LayerDesc::Conv2d { shift: None, .. }));
        assert_eq!(count(&mnist_linear(Some(PS5), 2)), 2);
        assert!(matches!(
            &mnist_linear(Some(PS5), 2)[0],
            LayerDesc::Linear { shift: None, .. }
        ));
    }

    #[test]
    fn shift_network_costs_far_less_arithmetic() {
        let float = inference_energy(&mnist_conv(None, 0)).unwrap();
        let ps = inference_energy(&mnist_conv(Some(PS5), 1000)).unwrap();
        assert_eq!(float.macs, ps.macs);
        assert_eq!(ps.count(OpKind::Shift(32)), 2_293_000);
        assert_eq!(ps.count(OpKind::FloatMult), 0);
        // conv1: 25 products + bias -> 32 + ceil(log2 26) = 37-bit accumulator, 25 adds/output.
        assert_eq!(ps.count(OpKind::IntAdd(37)), 20 * 24 * 24 * 25);
        assert!(ps.compute_pj * 10.0 < float.compute_pj);
        assert!(ps.weight_bits * 6 < float.weight_bits);
    }
}
