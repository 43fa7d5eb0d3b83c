//! The reference's CSV logs: `train_log.csv` (`epoch,train_loss,test_loss,test_accuracy`) and
//! `test_log.csv` (`test_loss,test_accuracy`), accuracy as a fraction.
//!
//! Numbers are written as Python's `csv` module writes floats (`repr`: shortest round-trip
//! digits, `0.9851`, `3.0`, `1e-05`), so the files read like the reference's; lines end in
//! `\n` (Python's `csv` writes `\r\n`; both read the same). Each write replaces the whole
//! file atomically.

use std::path::Path;

use crate::TrainError;
use std::io::Write;

/// Replaces `path` atomically: temporary file in its folder, fsync, rename, fsync of the folder.
/// The crate's one writer of whole files other than checkpoints (those go through shift-nn).
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let mut file = atomic_write_file::AtomicWriteFile::open(path)
        .map_err(|e| TrainError::io_op("create a temporary file for", path, e))?;
    file.write_all(bytes)
        .and_then(|()| file.commit())
        .map_err(|e| TrainError::io_op("write", path, e))
}

/// Header of `train_log.csv`.
pub const TRAIN_LOG_HEADER: &str = "epoch,train_loss,test_loss,test_accuracy";
/// Header of `test_log.csv`.
pub const TEST_LOG_HEADER: &str = "test_loss,test_accuracy";

/// `repr(x)` of a Python float.
pub fn python_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    // Rust's `{:e}` gives the shortest round-trip digits, like Python's repr.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` has an exponent");
    let exp: i32 = exp.parse().expect("integer exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if !(-4..16).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.abs());
    }
    if exp < 0 {
        return format!("{sign}0.{}{digits}", "0".repeat((-exp - 1) as usize));
    }
    let int_len = exp as usize + 1;
    if digits.len() <= int_len {
        format!("{sign}{digits}{}.0", "0".repeat(int_len - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..int_len], &digits[int_len..])
    }
}

/// One row of `train_log.csv`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainLogRow {
    /// 1-based epoch.
    pub epoch: usize,
    /// Training loss (the reference logs its last batch's loss for MNIST, the epoch mean for
    /// CIFAR-10/ImageNet; the trainer decides).
    pub train_loss: f64,
    /// Mean test loss.
    pub test_loss: f64,
    /// Test accuracy as a fraction.
    pub test_accuracy: f64,
}

/// `train_log.csv`: its rows, rewritten whole after each epoch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainLog {
    /// The rows so far.
    pub rows: Vec<TrainLogRow>,
}

fn bad_log(path: &Path, line: usize, reason: impl Into<String>) -> TrainError {
    TrainError::BadLog {
        file: path.display().to_string(),
        line,
        reason: reason.into(),
    }
}

impl TrainLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a row.
    pub fn push(&mut self, row: TrainLogRow) {
        self.rows.push(row);
    }

    /// The CSV text.
    pub fn to_csv(&self) -> String {
        let mut s = format!("{TRAIN_LOG_HEADER}\n");
        for r in &self.rows {
            s += &format!(
                "{},{},{},{}\n",
                r.epoch,
                python_float_repr(r.train_loss),
                python_float_repr(r.test_loss),
                python_float_repr(r.test_accuracy)
            );
        }
        s
    }

    /// Writes the whole log to `path` atomically.
    pub fn write(&self, path: &Path) -> Result<(), TrainError> {
        write_atomically(path, self.to_csv().as_bytes())
    }

    /// Reads a log written by [`TrainLog::write`] (or the reference; `\r\n` is accepted), e.g.
    /// to continue it when a run resumes. Errors name the file and line.
    pub fn read(path: &Path) -> Result<Self, TrainError> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io_op("read", path, e))?;
        let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
        match lines.next() {
            Some(TRAIN_LOG_HEADER) => {}
            other => {
                return Err(bad_log(
                    path,
                    1,
                    format!("header is {other:?}, expected `{TRAIN_LOG_HEADER}`"),
                ))
            }
        }
        let mut log = TrainLog::new();
        for (i, line) in lines.enumerate().filter(|(_, l)| !l.is_empty()) {
            let lineno = i + 2;
            let f: Vec<&str> = line.split(',').collect();
            if f.len() != 4 {
                return Err(bad_log(
                    path,
                    lineno,
                    format!("{} fields, expected 4", f.len()),
                ));
            }
            let num = |s: &str, what: &str| {
                s.trim()
                    .parse::<f64>()
                    .map_err(|_| bad_log(path, lineno, format!("{what} `{s}` is not a number")))
            };
            log.push(TrainLogRow {
                epoch: f[0].trim().parse().map_err(|_| {
                    bad_log(path, lineno, format!("epoch `{}` is not an integer", f[0]))
                })?,
                train_loss: num(f[1], "train_loss")?,
                test_loss: num(f[2], "test_loss")?,
                test_accuracy: num(f[3], "test_accuracy")?,
            });
        }
        Ok(log)
    }
}

/// `test_log.csv` of an evaluation run (`-e`): one row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestLog {
    /// Mean test loss.
    pub test_loss: f64,
    /// Test accuracy as a fraction.
    pub test_accuracy: f64,
}

impl TestLog {
    /// The CSV text.
    pub fn to_csv(&self) -> String {
        format!(
            "{TEST_LOG_HEADER}\n{},{}\n",
            python_float_repr(self.test_loss),
            python_float_repr(self.test_accuracy)
        )
    }

    /// Writes the log to `path` atomically.
    pub fn write(&self, path: &Path) -> Result<(), TrainError> {
        write_atomically(path, self.to_csv().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_repr_of_floats() {
        // repr() of these in CPython 3.
        let cases = [
            (0.9851, "0.9851"),
            (3.0, "3.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1e-05, "1e-05"),
            (0.0001, "0.0001"),
            (0.054252, "0.054252"),
            (1.5e-7, "1.5e-07"),
            (123456.789, "123456.789"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.2345e20, "1.2345e+20"),
            (-2.5e-300, "-2.5e-300"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::INFINITY, "inf"),
            (f64::NAN, "nan"),
            (9851.0 / 1e4, "0.9851"),
        ];
        for (x, want) in cases {
            assert_eq!(python_float_repr(x), want, "{x:e}");
            if x.is_finite() {
                assert_eq!(want.parse::<f64>().unwrap().to_bits(), x.to_bits());
            }
        }
    }

    #[test]
    fn train_log_writes_reads_and_rejects_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train_log.csv");
        let mut log = TrainLog::new();
        log.push(TrainLogRow {
            epoch: 1,
            train_loss: 0.25,
            test_loss: 0.125,
            test_accuracy: 0.9851,
        });
        log.write(&path).unwrap();
        log.push(TrainLogRow {
            epoch: 2,
            train_loss: 1e-5,
            test_loss: 0.1,
            test_accuracy: 0.99,
        });
        log.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "epoch,train_loss,test_loss,test_accuracy\n1,0.25,0.125,0.9851\n2,1e-05,0.1,0.99\n"
        );
        assert_eq!(TrainLog::read(&path).unwrap(), log);
        std::fs::write(
            &path,
            "epoch,train_loss,test_loss,test_accuracy\r\n1,0.5,0.25,0.5\r\n",
        )
        .unwrap();
        assert_eq!(TrainLog::read(&path).unwrap().rows[0].test_accuracy, 0.5);
        for (text, needle) in [
            ("epoch,loss\n", "header"),
            (
                "epoch,train_loss,test_loss,test_accuracy\n1,2,3\n",
                "line 2: 3 fields",
            ),
            (
                "epoch,train_loss,test_loss,test_accuracy\n1,2,3,4\nx,2,3,4\n",
                "line 3: epoch",
            ),
            (
                "epoch,train_loss,test_loss,test_accuracy\n1,2,abc,4\n",
                "test_loss `abc`",
            ),
        ] {
            std::fs::write(&path, text).unwrap();
            let e = TrainLog::read(&path).unwrap_err().to_string();
            assert!(e.contains("train_log.csv") && e.contains(needle), "{e}");
        }
        assert!(matches!(
            TrainLog::read(&dir.path().join("none.csv")),
            Err(TrainError::Io { .. })
        ));
    }

    #[test]
    fn test_log_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test_log.csv");
        TestLog {
            test_loss: 0.054252,
            test_accuracy: 9851.0 / 1e4,
        }
        .write(&path)
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "test_loss,test_accuracy\n0.054252,0.9851\n"
        );
    }
}
