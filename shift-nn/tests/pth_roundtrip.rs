//! The `.pth` writer's files read back through the reader, and their archive structure.

use shift_nn::pth::{encode_pth, read_pth, WeightsFormat};
use shift_nn::{StateDict, Tensor};

fn sample() -> StateDict {
    let mut d = StateDict::default();
    let w: Vec<f32> = (0..24).map(|i| i as f32 * 0.5 - 3.0).collect();
    d.tensors.insert(
        "conv.weight".into(),
        Tensor::from_shape_vec(vec![2, 3, 2, 2], w).unwrap(),
    );
    d.tensors.insert(
        "bn.num_batches_tracked".into(),
        Tensor::from_shape_vec(vec![], vec![7.0]).unwrap(),
    );
    d.tensors.insert(
        "fc.bias".into(),
        Tensor::from_shape_vec(vec![3], vec![1.0, -2.0, 1e-3]).unwrap(),
    );
    d
}

#[test]
fn written_files_read_back_exactly() {
    let d = sample();
    let bytes = encode_pth(&d, "w.pth").unwrap();
    if let Ok(p) = std::env::var("PTH_DUMP") {
        std::fs::write(p, &bytes).unwrap();
    }
    let back = read_pth(&bytes, "w.pth").unwrap();
    assert_eq!(back.format, WeightsFormat::PthZip);
    assert_eq!(back.state_dict.tensors, d.tensors);
}
