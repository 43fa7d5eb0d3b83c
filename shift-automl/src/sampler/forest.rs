//! Random-forest regression with SMAC's settings (pyrfr as SMAC3 configures it): 10 trees,
//! bootstrapping, 5/6 of the features tried per split, at least 3 points to split and 3 per leaf,
//! depth up to 2^20. Prediction: mean and variance over the trees' leaf means. Categorical
//! dimensions split by subsets: within a node their categories are ordered by mean target, which
//! makes a threshold scan find the best binary partition (Breiman's result for squared error).

use rand::seq::index::sample;
use rand::Rng;

/// Settings of [`Forest`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ForestOptions {
    /// Number of trees.
    pub n_trees: usize,
    /// Fraction of the dimensions tried at each split.
    pub ratio_features: f64,
    /// A node with fewer points is a leaf.
    pub min_samples_split: usize,
    /// No split may leave fewer points on a side.
    pub min_samples_leaf: usize,
    /// Maximal depth.
    pub max_depth: usize,
    /// Each tree sees a bootstrap sample.
    pub bootstrap: bool,
}

impl Default for ForestOptions {
    fn default() -> Self {
        ForestOptions {
            n_trees: 10,
            ratio_features: 5.0 / 6.0,
            min_samples_split: 3,
            min_samples_leaf: 3,
            max_depth: 1 << 20,
            bootstrap: true,
        }
    }
}

#[derive(Debug, Clone)]
enum Node {
    Leaf(f64),
    Split {
        dim: usize,
        /// Ordered dims: go left when `x <= threshold`.
        threshold: f64,
        /// Categorical dims: the values that go left.
        left_set: Option<Vec<f64>>,
        left: usize,
        right: usize,
    },
}

#[derive(Debug, Clone)]
struct Tree {
    nodes: Vec<Node>,
}

/// A fitted forest.
#[derive(Debug, Clone)]
pub struct Forest {
    trees: Vec<Tree>,
}

fn sse(sum: f64, sq: f64, n: f64) -> f64 {
    sq - sum * sum / n
}

struct Builder<'a> {
    x: &'a [Vec<f64>],
    y: &'a [f64],
    cat: &'a [bool],
    opt: &'a ForestOptions,
    nodes: Vec<Node>,
}

impl Builder<'_> {
    fn build(&mut self, idx: Vec<usize>, depth: usize, rng: &mut impl Rng) -> usize {
        let n = idx.len();
        let mean = idx.iter().map(|&i| self.y[i]).sum::<f64>() / n as f64;
        let at = self.nodes.len();
        self.nodes.push(Node::Leaf(mean));
        let pure = idx.iter().all(|&i| (self.y[i] - mean).abs() < 1e-8);
        if n < self.opt.min_samples_split || depth >= self.opt.max_depth || pure {
            return at;
        }
        let d = self.cat.len();
        let k = ((d as f64 * self.opt.ratio_features).ceil() as usize).clamp(1, d);
        let mut best: Option<(f64, usize, f64, Option<Vec<f64>>)> = None;
        for dim in sample(rng, d, k).into_iter() {
            // key to sort by: the value, or for categoricals the category's mean target
            let mut keyed: Vec<(f64, f64, f64)> = if self.cat[dim] {
                let mut cats: Vec<(f64, f64, usize)> = Vec::new();
                for &i in &idx {
                    let v = self.x[i][dim];
                    match cats
                        .iter_mut()
                        .find(|c| c.0 == v || (c.0.is_nan() && v.is_nan()))
                    {
                        Some(c) => {
                            c.1 += self.y[i];
                            c.2 += 1;
                        }
                        None => cats.push((v, self.y[i], 1)),
                    }
                }
                idx.iter()
                    .map(|&i| {
                        let v = self.x[i][dim];
                        let c = cats
                            .iter()
                            .find(|c| c.0 == v || (c.0.is_nan() && v.is_nan()))
                            .map_or(0.0, |c| c.1 / c.2 as f64);
                        (c, v, self.y[i])
                    })
                    .collect()
            } else {
                idx.iter()
                    .map(|&i| (self.x[i][dim], self.x[i][dim], self.y[i]))
                    .collect()
            };
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            let total: f64 = keyed.iter().map(|t| t.2).sum();
            let total_sq: f64 = keyed.iter().map(|t| t.2 * t.2).sum();
            let (mut ls, mut lq) = (0.0, 0.0);
            for s in 0..n - 1 {
                ls += keyed[s].2;
                lq += keyed[s].2 * keyed[s].2;
                let nl = s + 1;
                // NaN (an inactive hyperparameter) sorts last and is a value of its own: two
                // NaNs are equal here, so no split falls between them.
                let same = keyed[s].0 == keyed[s + 1].0
                    || (keyed[s].0.is_nan() && keyed[s + 1].0.is_nan());
                if same || nl < self.opt.min_samples_leaf || n - nl < self.opt.min_samples_leaf {
                    continue;
                }
                let cost = sse(ls, lq, nl as f64) + sse(total - ls, total_sq - lq, (n - nl) as f64);
                if best.as_ref().is_none_or(|b| cost < b.0) {
                    let (threshold, set) = if self.cat[dim] {
                        let mut set: Vec<f64> = keyed[..=s].iter().map(|t| t.1).collect();
                        set.sort_by(f64::total_cmp);
                        set.dedup();
                        (0.0, Some(set))
                    } else {
                        // Between the last number and the first NaN the threshold is that
                        // number: `v <= threshold` is false for NaN, which goes right.
                        let (a, b) = (keyed[s].0, keyed[s + 1].0);
                        (if b.is_nan() { a } else { 0.5 * (a + b) }, None)
                    };
                    best = Some((cost, dim, threshold, set));
                }
            }
        }
        let Some((_, dim, threshold, left_set)) = best else {
            return at;
        };
        let goes_left = |v: f64| match &left_set {
            Some(s) => s.iter().any(|c| *c == v || (c.is_nan() && v.is_nan())),
            None => v <= threshold,
        };
        let (li, ri): (Vec<usize>, Vec<usize>) =
            idx.iter().partition(|&&i| goes_left(self.x[i][dim]));
        let left = self.build(li, depth + 1, rng);
        let right = self.build(ri, depth + 1, rng);
        self.nodes[at] = Node::Split {
            dim,
            threshold,
            left_set,
            left,
            right,
        };
        at
    }
}

impl Forest {
    /// Fits a forest to rows `x` (NaN allowed: it is a value of its own, sorted after every
    /// number, so it always goes to the right of a numeric split) and targets `y`.
    pub fn fit(
        x: &[Vec<f64>],
        y: &[f64],
        cat: &[bool],
        options: &ForestOptions,
        rng: &mut impl Rng,
    ) -> Forest {
        let n = y.len();
        let trees = (0..options.n_trees.max(1))
            .map(|_| {
                let idx: Vec<usize> = if options.bootstrap {
                    (0..n).map(|_| rng.gen_range(0..n.max(1))).collect()
                } else {
                    (0..n).collect()
                };
                let mut b = Builder {
                    x,
                    y,
                    cat,
                    opt: options,
                    nodes: Vec::new(),
                };
                if !idx.is_empty() && n > 0 {
                    b.build(idx, 0, rng);
                } else {
                    b.nodes.push(Node::Leaf(0.0));
                }
                Tree { nodes: b.nodes }
            })
            .collect();
        Forest { trees }
    }

    /// Mean and variance over the trees' predictions at `x`.
    pub fn predict(&self, x: &[f64]) -> (f64, f64) {
        let preds: Vec<f64> = self
            .trees
            .iter()
            .map(|t| {
                let mut i = 0;
                loop {
                    match &t.nodes[i] {
                        Node::Leaf(v) => break *v,
                        Node::Split {
                            dim,
                            threshold,
                            left_set,
                            left,
                            right,
                        } => {
                            let v = x[*dim];
                            let l = match left_set {
                                Some(s) => s.iter().any(|c| *c == v || (c.is_nan() && v.is_nan())),
                                None => v <= *threshold,
                            };
                            i = if l { *left } else { *right };
                        }
                    }
                }
            })
            .collect();
        let n = preds.len() as f64;
        let mean = preds.iter().sum::<f64>() / n;
        let var = preds.iter().map(|p| (p - mean) * (p - mean)).sum::<f64>() / n;
        (mean, var)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn learns_a_step_and_a_category() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let x: Vec<Vec<f64>> = (0..200)
            .map(|_| vec![rng.gen::<f64>(), f64::from(rng.gen_range(0..3u8)) / 2.0])
            .collect();
        let y: Vec<f64> = x
            .iter()
            .map(|r| f64::from(u8::from(r[0] > 0.5)) + if r[1] == 0.5 { 2.0 } else { 0.0 })
            .collect();
        let f = Forest::fit(&x, &y, &[false, true], &ForestOptions::default(), &mut rng);
        assert!((f.predict(&[0.9, 0.5]).0 - 3.0).abs() < 0.3);
        assert!((f.predict(&[0.1, 0.0]).0 - 0.0).abs() < 0.3);
        assert!((f.predict(&[0.1, 1.0]).0 - 0.0).abs() < 0.3);
        assert!(f.predict(&[0.5, 0.5]).1 >= 0.0);
    }

    /// An inactive hyperparameter (NaN) in a numeric column is a value of its own: the forest
    /// separates it from the numbers instead of recursing on a NaN threshold.
    #[test]
    fn nan_in_a_numeric_column_is_a_value_of_its_own() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let x: Vec<Vec<f64>> = (0..120)
            .map(|i| {
                vec![if i % 3 == 0 {
                    f64::NAN
                } else {
                    rng.gen::<f64>()
                }]
            })
            .collect();
        let y: Vec<f64> = x
            .iter()
            .map(|r| if r[0].is_nan() { 5.0 } else { r[0] })
            .collect();
        let options = ForestOptions {
            max_depth: usize::MAX,
            ..ForestOptions::default()
        };
        let f = Forest::fit(&x, &y, &[false], &options, &mut rng);
        assert!((f.predict(&[f64::NAN]).0 - 5.0).abs() < 0.3);
        assert!(f.predict(&[0.2]).0 < 1.0);
    }
}
