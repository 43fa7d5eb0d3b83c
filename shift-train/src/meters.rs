//! Accuracy from logits and running averages, on plain slices.

use crate::TrainError;

/// `a` ranks above `b`: NaN above every number (as `torch.topk` and `argmax` treat it).
fn above(a: f32, b: f32) -> bool {
    match (a.is_nan(), b.is_nan()) {
        (true, false) => true,
        (false, false) => a > b,
        _ => false,
    }
}

fn same(a: f32, b: f32) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

fn check(logits: &[f32], classes: usize, labels: &[usize]) -> Result<(), TrainError> {
    if classes == 0 {
        return Err(TrainError::BadMetricsInput("zero classes".into()));
    }
    if logits.len() != labels.len() * classes {
        return Err(TrainError::BadMetricsInput(format!(
            "{} logits for {} labels x {classes} classes",
            logits.len(),
            labels.len()
        )));
    }
    if let Some((i, &l)) = labels.iter().enumerate().find(|(_, &l)| l >= classes) {
        return Err(TrainError::BadMetricsInput(format!(
            "label {l} of row {i} is not below the {classes} classes"
        )));
    }
    Ok(())
}

/// Each row's rank of its label: how many classes score higher, plus classes scoring the same
/// with a lower index (the first maximum wins, as in `argmax`). Rank 0 is a top-1 hit.
fn ranks<'a>(
    logits: &'a [f32],
    classes: usize,
    labels: &'a [usize],
) -> impl Iterator<Item = usize> + 'a {
    logits
        .chunks_exact(classes)
        .zip(labels)
        .map(|(row, &label)| {
            let target = row[label];
            row.iter()
                .enumerate()
                .filter(|&(c, &s)| above(s, target) || (same(s, target) && c < label))
                .count()
        })
}

/// Number of rows of `logits` (`labels.len()` rows of `classes` values) whose label is among
/// the `k` highest scores.
pub fn topk_correct(
    logits: &[f32],
    classes: usize,
    labels: &[usize],
    k: usize,
) -> Result<usize, TrainError> {
    check(logits, classes, labels)?;
    Ok(ranks(logits, classes, labels).filter(|&r| r < k).count())
}

/// Top-1 and top-5 hits of a batch (one pass over the logits).
pub fn top1_top5(
    logits: &[f32],
    classes: usize,
    labels: &[usize],
) -> Result<(usize, usize), TrainError> {
    check(logits, classes, labels)?;
    Ok(ranks(logits, classes, labels).fold((0, 0), |(a, b), r| {
        (a + usize::from(r == 0), b + usize::from(r < 5))
    }))
}

/// A weighted running mean (the reference's `AverageMeter`): `update(value, n)` counts `value`
/// `n` times, e.g. a batch's mean loss times its batch size.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RunningMean {
    sum: f64,
    count: u64,
    last: f64,
}

impl RunningMean {
    /// An empty mean.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `value` with weight `n`.
    pub fn update(&mut self, value: f64, n: u64) {
        self.sum += value * n as f64;
        self.count += n;
        self.last = value;
    }

    /// The mean so far (`None` before any update).
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }

    /// The weighted sum.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// The total weight.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The last value added.
    pub fn last(&self) -> f64 {
        self.last
    }
}

/// Top-1/top-5 hits accumulated over batches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccuracyMeter {
    /// Rows whose label scored highest.
    pub top1: u64,
    /// Rows whose label is among the five highest.
    pub top5: u64,
    /// Rows seen.
    pub total: u64,
}

impl AccuracyMeter {
    /// An empty meter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a batch of logits (`labels.len()` rows of `classes`).
    pub fn add(
        &mut self,
        logits: &[f32],
        classes: usize,
        labels: &[usize],
    ) -> Result<(), TrainError> {
        let (a, b) = top1_top5(logits, classes, labels)?;
        self.top1 += a as u64;
        self.top5 += b as u64;
        self.total += labels.len() as u64;
        Ok(())
    }

    /// Top-1 accuracy as a fraction (`correct / total`, as the reference logs it).
    pub fn top1_fraction(&self) -> Option<f64> {
        (self.total > 0).then(|| self.top1 as f64 / self.total as f64)
    }

    /// Top-5 accuracy as a fraction.
    pub fn top5_fraction(&self) -> Option<f64> {
        (self.total > 0).then(|| self.top5 as f64 / self.total as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOGITS: [f32; 12] = [
        0.1, 0.9, 0.0, 0.0, 0.0, 0.0, // row 0: class 1 best
        6.0, 5.0, 4.0, 3.0, 2.0, 1.0, // row 1: descending
    ];

    #[test]
    fn top_k_counts() {
        assert_eq!(top1_top5(&LOGITS, 6, &[1, 5]).unwrap(), (1, 1));
        assert_eq!(top1_top5(&LOGITS, 6, &[0, 4]).unwrap(), (0, 2));
        assert_eq!(topk_correct(&LOGITS, 6, &[0, 5], 6).unwrap(), 2);
        assert_eq!(topk_correct(&LOGITS, 6, &[0, 5], 0).unwrap(), 0);
    }

    #[test]
    fn ties_go_to_the_first_index_and_nan_ranks_highest() {
        let tied = [1.0f32, 1.0, 1.0];
        assert_eq!(topk_correct(&tied, 3, &[0], 1).unwrap(), 1);
        assert_eq!(topk_correct(&tied, 3, &[2], 1).unwrap(), 0);
        assert_eq!(topk_correct(&tied, 3, &[2], 3).unwrap(), 1);
        let nan = [0.0f32, f32::NAN, 5.0];
        assert_eq!(topk_correct(&nan, 3, &[1], 1).unwrap(), 1);
        assert_eq!(topk_correct(&nan, 3, &[2], 1).unwrap(), 0);
        assert_eq!(topk_correct(&nan, 3, &[2], 2).unwrap(), 1);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(topk_correct(&LOGITS, 6, &[1], 1).is_err());
        assert!(topk_correct(&LOGITS, 6, &[1, 6], 1)
            .unwrap_err()
            .to_string()
            .contains("label 6"));
        assert!(topk_correct(&[], 0, &[], 1).is_err());
        assert_eq!(topk_correct(&[], 10, &[], 1).unwrap(), 0);
    }

    #[test]
    fn meters_accumulate() {
        let mut m = RunningMean::new();
        assert_eq!(m.mean(), None);
        m.update(2.0, 3);
        m.update(4.0, 1);
        assert_eq!(m.mean(), Some(2.5));
        assert_eq!((m.sum(), m.count(), m.last()), (10.0, 4, 4.0));
        let mut a = AccuracyMeter::new();
        assert_eq!(a.top1_fraction(), None);
        a.add(&LOGITS, 6, &[1, 5]).unwrap();
        a.add(&LOGITS, 6, &[0, 4]).unwrap();
        assert_eq!((a.top1, a.top5, a.total), (1, 3, 4));
        assert_eq!(a.top1_fraction(), Some(0.25));
        assert_eq!(a.top5_fraction(), Some(0.75));
        assert!(a.add(&LOGITS, 5, &[0, 0]).is_err());
        assert_eq!(a.total, 4, "a failed batch adds nothing");
    }

    #[test]
    fn top1_and_top5_of_two_rows() {
        let scores = [0.1, 0.9, 0.0, 0.0, 0.0, 0.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0];
        assert_eq!(top1_top5(&scores, 6, &[1, 5]).unwrap(), (1, 1));
        assert_eq!(top1_top5(&scores, 6, &[0, 4]).unwrap(), (0, 2));
    }
}
