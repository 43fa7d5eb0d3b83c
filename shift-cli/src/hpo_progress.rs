//! What a worker shows while it runs trials: progress bars (the study, the running trial) on a
//! terminal, plain log lines on standard error otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use shift_automl::storage::{StoredTrial, StudyRecord, TrialState};
use shift_automl::study::WorkerEvent;

/// Progress display of one worker.
pub struct Progress {
    bars: Option<(MultiProgress, ProgressBar, Option<ProgressBar>)>,
    objectives: Vec<String>,
    finished: u64,
    failed: u64,
    started: Instant,
    waiting: bool,
}

/// One line about a finished trial: its values, or the first line of its error.
pub fn trial_line(t: &StoredTrial, objectives: &[String]) -> String {
    let took = t
        .duration_s()
        .map(|d| format!(" in {d:.1} s"))
        .unwrap_or_default();
    match (&t.state, &t.objectives) {
        (TrialState::Done, Some(v)) => {
            let vals: Vec<String> = objectives
                .iter()
                .zip(v)
                .map(|(n, x)| format!("{n}={x:.6}"))
                .collect();
            format!(
                "trial {} (budget {}) done{took}: {}",
                t.number,
                t.budget,
                vals.join(" ")
            )
        }
        _ => format!(
            "trial {} (budget {}) {}{took}: {}",
            t.number,
            t.budget,
            t.state,
            t.error
                .as_deref()
                .and_then(|e| e.lines().next())
                .unwrap_or("")
        ),
    }
}

impl Progress {
    /// A display for `record`'s study; bars only when standard error is a terminal and
    /// `plain` is false.
    pub fn new(record: &StudyRecord, plain: bool) -> Self {
        let finished = (record.count(TrialState::Done) + record.count(TrialState::Failed)) as u64;
        let failed = record.count(TrialState::Failed) as u64;
        let bars = (!plain && std::io::stderr().is_terminal()).then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let study = match record.settings.n_trials {
                Some(n) => multi.add(ProgressBar::new(n)),
                None => multi.add(ProgressBar::new_spinner()),
            };
            let style = ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} trials  {elapsed_precise} (eta {eta})  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            study.set_style(style);
            study.set_prefix(format!("study {}", record.name));
            study.set_position(finished);
            study.set_message(format!("{failed} failed"));
            (multi, study, None)
        });
        Progress {
            bars,
            objectives: record.settings.objectives.clone(),
            finished,
            failed,
            started: Instant::now(),
            waiting: false,
        }
    }

    /// Shows one worker event.
    pub fn event(&mut self, e: WorkerEvent<'_>) {
        match e {
            WorkerEvent::Started(t) => {
                self.waiting = false;
                let what = format!(
                    "trial {} (budget {}{}) {}",
                    t.number,
                    t.budget,
                    if t.attempt > 1 {
                        format!(", attempt {}", t.attempt)
                    } else {
                        String::new()
                    },
                    t.config
                );
                match &mut self.bars {
                    Some((multi, _, running)) => {
                        let bar = multi.add(ProgressBar::new_spinner());
                        bar.set_style(
                            ProgressStyle::with_template("  {spinner} {elapsed} {wide_msg}")
                                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                        );
                        bar.set_message(what);
                        bar.enable_steady_tick(Duration::from_millis(200));
                        *running = Some(bar);
                    }
                    None => eprintln!("[{:>7.1}s] {what} started", self.elapsed()),
                }
            }
            WorkerEvent::Finished(t) => {
                self.finished += 1;
                if t.state == TrialState::Failed {
                    self.failed += 1;
                }
                let line = trial_line(t, &self.objectives);
                let elapsed = self.elapsed();
                match &mut self.bars {
                    Some((multi, study, running)) => {
                        if let Some(bar) = running.take() {
                            bar.finish_and_clear();
                            multi.remove(&bar);
                        }
                        let _ = multi.println(line);
                        study.set_position(self.finished);
                        study.set_message(format!("{} failed", self.failed));
                    }
                    None => eprintln!("[{elapsed:>7.1}s] {line}"),
                }
            }
            WorkerEvent::Dropped(n) => {
                let line = format!("trial {n} was handed to another worker; its result is dropped");
                match &mut self.bars {
                    Some((multi, _, running)) => {
                        if let Some(bar) = running.take() {
                            bar.finish_and_clear();
                        }
                        let _ = multi.println(line);
                    }
                    None => eprintln!("[{:>7.1}s] {line}", self.elapsed()),
                }
            }
            WorkerEvent::Waiting => {
                if !std::mem::replace(&mut self.waiting, true) {
                    let line = "no trial to start: waiting for other workers' trials";
                    match &self.bars {
                        Some((_, study, _)) => study.set_message(line),
                        None => eprintln!("[{:>7.1}s] {line}", self.elapsed()),
                    }
                }
            }
        }
    }

    fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Clears the bars and prints the study's status.
    pub fn finish(&mut self, record: &StudyRecord) {
        if let Some((_, study, running)) = self.bars.take() {
            if let Some(bar) = running {
                bar.finish_and_clear();
            }
            study.finish_and_clear();
        }
        eprint!(
            "{}",
            crate::hpo_export::status_text(record, shift_automl::storage::unix_now())
        );
    }
}
