//! Progress of training: an indicatif bar over an epoch's batches (loss, images/s, ETA) when
//! stdout is a terminal, and one plain log line per epoch otherwise.
//!
//! The bar draws on stderr through indicatif's `ProgressDrawTarget::stderr`, which also hides
//! itself when stderr is not a terminal; this module additionally chooses no bar at all when
//! stdout is not a terminal (output piped to a file or CI log), so logs stay free of bar
//! redraws. The bar needs the feature `progress-bar` (indicatif); without it
//! [`ProgressMode::Bar`] shows the plain lines only.

use std::io::{self, IsTerminal, Write};
use std::time::Instant;

#[cfg(feature = "progress-bar")]
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::meters::RunningMean;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A live bar on stderr plus a line per epoch on stdout.
    Bar,
    /// A line per epoch on stdout only.
    Plain,
    /// Nothing.
    Quiet,
}

impl ProgressMode {
    /// [`ProgressMode::Bar`] when stdout is a terminal, else [`ProgressMode::Plain`].
    pub fn detect() -> Self {
        if io::stdout().is_terminal() {
            ProgressMode::Bar
        } else {
            ProgressMode::Plain
        }
    }
}

/// An indicatif bar over `batches` batches on stderr in [`ProgressMode::Bar`] (hidden when
/// stderr is not a terminal), none otherwise. `template` is indicatif's.
#[cfg(feature = "progress-bar")]
pub(crate) fn batch_bar(mode: ProgressMode, batches: u64, template: &str) -> Option<ProgressBar> {
    (mode == ProgressMode::Bar).then(|| {
        let bar = ProgressBar::with_draw_target(Some(batches), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    })
}

/// Without the `progress-bar` feature there is never a bar.
#[cfg(not(feature = "progress-bar"))]
pub(crate) fn batch_bar(
    _mode: ProgressMode,
    _batches: u64,
    _template: &str,
) -> Option<ProgressBar> {
    None
}

/// Stands in for indicatif's bar without the `progress-bar` feature; never constructed.
#[cfg(not(feature = "progress-bar"))]
#[derive(Debug)]
pub(crate) enum ProgressBar {}

#[cfg(not(feature = "progress-bar"))]
impl ProgressBar {
    pub(crate) fn set_prefix(&self, _prefix: String) {
        match *self {}
    }
    pub(crate) fn set_message(&self, _message: String) {
        match *self {}
    }
    pub(crate) fn inc(&self, _delta: u64) {
        match *self {}
    }
    pub(crate) fn finish_and_clear(&self) {
        match *self {}
    }
    pub(crate) fn is_hidden(&self) -> bool {
        match *self {}
    }
}

/// One epoch's results, for its log line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochSummary {
    /// 1-based epoch.
    pub epoch: usize,
    /// Number of epochs of the run.
    pub epochs: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Mean test loss.
    pub test_loss: f64,
    /// Test accuracy as a fraction.
    pub test_accuracy: f64,
    /// Seconds of training.
    pub seconds: f64,
    /// Training throughput.
    pub images_per_second: f64,
}

/// The plain per-epoch line, e.g.
/// `epoch 3/10: train loss 0.1234, test loss 0.0567, accuracy 98.12 %, 41.3 s, 1452 img/s`.
pub fn epoch_line(s: &EpochSummary) -> String {
    format!(
        "epoch {}/{}: train loss {:.4}, test loss {:.4}, accuracy {:.2} %, {:.1} s, {:.0} img/s",
        s.epoch,
        s.epochs,
        s.train_loss,
        s.test_loss,
        100.0 * s.test_accuracy,
        s.seconds,
        s.images_per_second
    )
}

/// Progress of one epoch's training batches.
#[derive(Debug)]
pub struct EpochProgress {
    mode: ProgressMode,
    bar: Option<ProgressBar>,
    started: Instant,
    images: u64,
    loss: RunningMean,
}

impl EpochProgress {
    /// Starts an epoch of `batches` batches (`epoch` is 1-based).
    pub fn start(mode: ProgressMode, epoch: usize, epochs: usize, batches: u64) -> Self {
        let bar = batch_bar(
            mode,
            batches,
            "epoch {prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}",
        );
        if let Some(bar) = &bar {
            bar.set_prefix(format!("{epoch}/{epochs}"));
        }
        Self {
            mode,
            bar,
            started: Instant::now(),
            images: 0,
            loss: RunningMean::new(),
        }
    }

    /// Records a finished batch of `images` images with mean loss `loss`.
    pub fn batch(&mut self, images: u64, loss: f64) {
        self.images += images;
        self.loss.update(loss, images);
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "loss {:.4}, {:.0} img/s",
                self.loss.mean().unwrap_or(f64::NAN),
                self.images_per_second()
            ));
            bar.inc(1);
        }
    }

    /// Images trained so far this epoch.
    pub fn images(&self) -> u64 {
        self.images
    }

    /// The image-weighted mean loss so far.
    pub fn mean_loss(&self) -> Option<f64> {
        self.loss.mean()
    }

    /// Seconds since the epoch started.
    pub fn elapsed_seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Training throughput so far.
    pub fn images_per_second(&self) -> f64 {
        let s = self.elapsed_seconds();
        if s > 0.0 {
            self.images as f64 / s
        } else {
            0.0
        }
    }

    /// Whether a bar is drawn (a bar mode whose stderr is a terminal).
    pub fn is_drawing(&self) -> bool {
        self.bar.as_ref().is_some_and(|b| !b.is_hidden())
    }

    /// Clears the bar and writes the epoch's line to `out` (nothing in quiet mode).
    pub fn finish_to(self, summary: &EpochSummary, out: &mut dyn Write) -> io::Result<()> {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.mode == ProgressMode::Quiet {
            return Ok(());
        }
        writeln!(out, "{}", epoch_line(summary))
    }

    /// [`EpochProgress::finish_to`] stdout; a closed stdout is ignored (progress is a courtesy).
    pub fn finish(self, summary: &EpochSummary) {
        let _ = self.finish_to(summary, &mut io::stdout().lock());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> EpochSummary {
        EpochSummary {
            epoch: 3,
            epochs: 10,
            train_loss: 0.12344,
            test_loss: 0.05671,
            test_accuracy: 0.98123,
            seconds: 41.26,
            images_per_second: 1452.4,
        }
    }

    #[test]
    fn line_format() {
        assert_eq!(
            epoch_line(&summary()),
            "epoch 3/10: train loss 0.1234, test loss 0.0567, accuracy 98.12 %, 41.3 s, 1452 img/s"
        );
    }

    /// indicatif's stderr target hides itself exactly when stderr is not a terminal.
    #[cfg(feature = "progress-bar")]
    #[test]
    fn stderr_target_hides_without_a_terminal() {
        assert_eq!(
            ProgressDrawTarget::stderr().is_hidden(),
            !io::stderr().is_terminal()
        );
        let p = EpochProgress::start(ProgressMode::Bar, 1, 1, 10);
        assert_eq!(p.is_drawing(), io::stderr().is_terminal());
    }

    #[test]
    fn detect_follows_stdout() {
        let want = if io::stdout().is_terminal() {
            ProgressMode::Bar
        } else {
            ProgressMode::Plain
        };
        assert_eq!(ProgressMode::detect(), want);
    }

    #[test]
    fn plain_and_quiet_modes() {
        let mut p = EpochProgress::start(ProgressMode::Plain, 3, 10, 2);
        assert!(!p.is_drawing());
        p.batch(64, 0.5);
        p.batch(32, 2.0);
        assert_eq!(p.images(), 96);
        assert_eq!(p.mean_loss(), Some(1.0));
        assert!(p.images_per_second() >= 0.0);
        let mut out = Vec::new();
        p.finish_to(&summary(), &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("{}\n", epoch_line(&summary()))
        );
        let q = EpochProgress::start(ProgressMode::Quiet, 1, 1, 1);
        let mut out = Vec::new();
        q.finish_to(&summary(), &mut out).unwrap();
        assert!(out.is_empty());
    }
}
