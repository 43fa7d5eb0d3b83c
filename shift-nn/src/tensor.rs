//! The tensor type and the element-wise helpers every layer above uses: maps over whole
//! tensors split into fixed chunks on the rayon pool, in-place accumulation and a fixed-order
//! sum. The bottom of the crate: it imports nothing from it.
//!
//! Chunks are fixed in size, so results never depend on the thread count; inputs that are
//! not in standard layout are copied into it first.

use ndarray::ArrayD;
use rayon::prelude::*;

/// The tensor type: an n-dimensional f32 array, NCHW for images.
pub type Tensor = ArrayD<f32>;

/// Elements per parallel task of every element-wise op (here and in the DeepShift ops): large
/// enough to amortise scheduling, small enough to balance.
pub(crate) const PAR_CHUNK: usize = 1 << 14;

/// A vector of `len` elements built in parallel chunks of `chunk` elements: the task for
/// chunk `i` gets it zeroed on its own thread and leaves the result in it. `vec![0.0; len]`
/// would zero (and fault in) the whole vector on the calling thread first, a serial memset
/// per op that showed as a tenth of a ResNet-20 step's time on the main thread.
pub(crate) fn par_build(
    len: usize,
    chunk: usize,
    f: impl Fn(usize, &mut [f32]) + Sync + Send,
) -> Vec<f32> {
    use std::mem::MaybeUninit;
    let mut v: Vec<f32> = Vec::with_capacity(len);
    v.spare_capacity_mut()[..len]
        .par_chunks_mut(chunk.max(1))
        .enumerate()
        .for_each(|(i, c)| {
            for e in c.iter_mut() {
                e.write(0.0);
            }
            // SAFETY: every element of `c` was initialised just above, and
            // `MaybeUninit<f32>` has the layout of `f32`.
            let c = unsafe { &mut *(c as *mut [MaybeUninit<f32>] as *mut [f32]) };
            f(i, c);
        });
    // SAFETY: the chunks cover `0..len` and every one was initialised (a panic in a task
    // propagates out of `for_each` before this line, leaving the vector empty).
    unsafe { v.set_len(len) };
    v
}

/// `f(x)` for every element, in `x`'s shape.
pub(crate) fn map(x: &Tensor, f: impl Fn(f32) -> f32 + Sync) -> Tensor {
    let xs = x.as_standard_layout();
    let xs = xs.as_slice().expect("standard layout");
    let y = par_build(xs.len(), PAR_CHUNK, |i, y| {
        let x = &xs[i * PAR_CHUNK..][..y.len()];
        y.iter_mut().zip(x).for_each(|(y, &x)| *y = f(x));
    });
    Tensor::from_shape_vec(x.raw_dim(), y).expect("same length")
}

/// `f(a, b)` for every pair of elements of two tensors of one shape.
///
/// # Panics
/// If the shapes differ (callers check them first).
pub(crate) fn zip_map(a: &Tensor, b: &Tensor, f: impl Fn(f32, f32) -> f32 + Sync) -> Tensor {
    assert_eq!(a.shape(), b.shape(), "element-wise operands");
    let (av, bv) = (a.as_standard_layout(), b.as_standard_layout());
    let (a_s, b_s) = (
        av.as_slice().expect("standard layout"),
        bv.as_slice().expect("standard layout"),
    );
    let y = par_build(a_s.len(), PAR_CHUNK, |i, y| {
        let (a, b) = (
            &a_s[i * PAR_CHUNK..][..y.len()],
            &b_s[i * PAR_CHUNK..][..y.len()],
        );
        for ((y, &a), &b) in y.iter_mut().zip(a).zip(b) {
            *y = f(a, b);
        }
    });
    Tensor::from_shape_vec(a.raw_dim(), y).expect("same length")
}

/// `acc += g`, in place.
///
/// # Panics
/// If the shapes differ.
pub(crate) fn add_assign(acc: &mut Tensor, g: &Tensor) {
    assert_eq!(acc.shape(), g.shape(), "gradient accumulation");
    match (acc.as_slice_mut(), g.as_slice()) {
        (Some(acc), Some(g)) => acc
            .par_chunks_mut(PAR_CHUNK)
            .zip(g.par_chunks(PAR_CHUNK))
            .for_each(|(a, g)| a.iter_mut().zip(g).for_each(|(a, g)| *a += g)),
        _ => *acc += g,
    }
}

/// The sum of a slice in eight interleaved partial sums: the fixed order lets the compiler
/// keep them in one vector register, where a single running sum is one serial chain.
pub(crate) fn sum(xs: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let mut chunks = xs.chunks_exact(8);
    for c in &mut chunks {
        for (l, v) in lanes.iter_mut().zip(c) {
            *l += v;
        }
    }
    let tail: f32 = chunks.remainder().iter().sum();
    lanes.iter().sum::<f32>() + tail
}
