//! Prints the analytic inference energy of the MNIST networks, float versus DeepShift
//! (5-bit weights, 16/16 fixed-point activations by default), the numbers of the README.
//!
//! `cargo run -p shift-energy --example mnist_energy [-- WEIGHT_BITS INT_BITS FRAC_BITS]`

use shift_energy::analytic::models::{mnist_conv, mnist_linear};
use shift_energy::{inference_energy, ShiftSpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<u32> = std::env::args()
        .skip(1)
        .map(|a| a.parse::<u32>())
        .collect::<Result<_, _>>()?;
    let spec = match args.as_slice() {
        [] => ShiftSpec {
            weight_bits: 5,
            act_int_bits: 16,
            act_frac_bits: 16,
        },
        [wb, i, f] => ShiftSpec {
            weight_bits: *wb,
            act_int_bits: *i,
            act_frac_bits: *f,
        },
        _ => return Err("expected no arguments or WEIGHT_BITS INT_BITS FRAC_BITS".into()),
    };
    for (name, float, shift) in [
        (
            "MNIST conv",
            mnist_conv(None, 0),
            mnist_conv(Some(spec), 1000),
        ),
        (
            "MNIST linear",
            mnist_linear(None, 0),
            mnist_linear(Some(spec), 1000),
        ),
    ] {
        let f = inference_energy(&float)?;
        let s = inference_energy(&shift)?;
        println!(
            "== {name}: float vs shift (wb {}, ab {}/{}), per image ==",
            spec.weight_bits, spec.act_int_bits, spec.act_frac_bits
        );
        println!("-- float --\n{f}-- shift --\n{s}");
        println!(
            "compute: {:.1} nJ vs {:.1} nJ ({:.1}x); with weight reads: {:.1} nJ vs {:.1} nJ ({:.1}x)\n",
            f.compute_pj / 1e3,
            s.compute_pj / 1e3,
            f.compute_pj / s.compute_pj,
            f.total_pj() / 1e3,
            s.total_pj() / 1e3,
            f.total_pj() / s.total_pj()
        );
    }
    Ok(())
}
