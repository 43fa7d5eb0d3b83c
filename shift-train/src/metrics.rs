//! Accuracy counting and CSV logs.

use std::path::Path;

use shift_nn::Tensor;

use crate::TrainError;

/// Number of rows whose label is the top-1 and among the top-5 scores of `scores [N, C]`.
/// Ties count against the label (a label tied with a higher-index class is not top-1 unless it
/// comes first, as `argmax` picks the first maximum).
pub fn topk_correct(scores: &Tensor, labels: &[usize]) -> (usize, usize) {
    let (mut top1, mut top5) = (0, 0);
    for (row, &label) in scores.outer_iter().zip(labels) {
        let target = row[label];
        // Rank = classes scoring higher, plus equal classes before the label.
        let rank = row
            .iter()
            .enumerate()
            .filter(|&(c, &s)| s > target || (s == target && c < label))
            .count();
        top1 += usize::from(rank == 0);
        top5 += usize::from(rank < 5);
    }
    (top1, top5)
}

/// Writes a CSV file (header plus rows) atomically: a temporary file, fsync, rename.
pub fn write_csv_atomically(path: &Path, header: &str, rows: &[String]) -> Result<(), TrainError> {
    let mut text = String::with_capacity(64 * (rows.len() + 1));
    text.push_str(header);
    text.push('\n');
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    shift_nn::write_atomically(path, text.as_bytes()).map_err(|e| TrainError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_counts() {
        let scores = Tensor::from_shape_vec(
            vec![2, 6],
            vec![0.1, 0.9, 0.0, 0.0, 0.0, 0.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0],
        )
        .unwrap();
        assert_eq!(topk_correct(&scores, &[1, 5]), (1, 1));
        assert_eq!(topk_correct(&scores, &[0, 4]), (0, 2));
    }
}
