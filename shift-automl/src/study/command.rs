//! Any program as the objective: each trial runs a shell command that reads one JSON object
//! on its standard input (also in the environment variable `DEEPSHIFT_TRIAL`):
//!
//! ```json
//! {"study": "s", "trial": 17, "config": {"lr": 0.01}, "budget": 9, "seed": 1,
//!  "workdir": "/abs/s-trials/17", "parent": 5, "parent_workdir": "/abs/s-trials/5", "attempt": 1}
//! ```
//!
//! and prints, as the last line of its standard output, a JSON object holding at least the
//! study's objectives (`{"loss": 0.1, "energy_kwh": 2e-5, "epochs_run": 9}`); other keys are
//! kept as the trial's metadata. A non-zero exit, a missing or non-numeric objective, a
//! non-finite value or a timeout fails the trial with the tail of its standard error. A
//! budget with no fractional part is written as an integer. `parent` is the lower-budget trial
//! this one continues (a promotion; `null` otherwise), so a program can resume from what it
//! left in that trial's workdir. The command's standard output and error are kept in
//! `stdout.log` and `stderr.log` in the workdir. The command runs in its own process group,
//! which is killed on timeout; on Linux it is also killed when the worker dies (a child that
//! forks further processes should exec or wait for them).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value as Json};

use super::{Objective, TrialResult, TrialSpec};

/// Bytes of standard error kept in a failed trial's message.
const STDERR_TAIL: u64 = 2000;

/// The objective that runs a shell command per trial.
#[derive(Debug, Clone)]
pub struct CommandObjective {
    /// The command line, run with `sh -c`.
    pub command: String,
    /// The study's objective names, in order.
    pub objectives: Vec<String>,
    /// Kill the command and fail the trial after this long.
    pub timeout: Option<Duration>,
    /// Folder holding one workdir per trial (`<root>/<number>`), created when missing.
    pub workdir_root: PathBuf,
    /// The study's name, passed along.
    pub study: String,
}

impl CommandObjective {
    /// The workdir of trial `number`.
    pub fn workdir(&self, number: u64) -> PathBuf {
        self.workdir_root.join(number.to_string())
    }

    /// The JSON object a trial's command receives.
    pub fn input(&self, t: &TrialSpec) -> Json {
        let budget = if t.budget.fract() == 0.0 && t.budget.abs() < 9.0e15 {
            json!(t.budget as i64)
        } else {
            json!(t.budget)
        };
        json!({
            "study": self.study,
            "trial": t.number,
            "config": t.config,
            "budget": budget,
            "seed": t.seed,
            "workdir": self.workdir(t.number),
            "parent": t.parent,
            "parent_workdir": t.parent.map(|p| self.workdir(p)),
            "attempt": t.attempt,
        })
    }
}

/// The last `n` bytes of a file, lossily decoded and trimmed.
fn tail(path: &Path, n: u64) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(n)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).trim().to_string()
}

/// Objectives and metadata from the command's last output line.
pub fn parse_result(stdout: &str, objectives: &[String]) -> Result<(Vec<f64>, Json), String> {
    let Some(line) = stdout.lines().rev().map(str::trim).find(|l| !l.is_empty()) else {
        return Err("the command printed nothing on standard output".into());
    };
    let obj: Map<String, Json> = match serde_json::from_str::<Json>(line) {
        Ok(Json::Object(m)) => m,
        _ => {
            let shown: String = line.chars().take(200).collect();
            // Python's json.dumps writes NaN and Infinity, which JSON does not have
            if ["NaN", "Infinity"].iter().any(|w| line.contains(w)) {
                return Err(format!("non-finite value in the result: {shown}"));
            }
            return Err(format!(
                "the last line of standard output is not a JSON object: {shown}"
            ));
        }
    };
    let mut values = Vec::with_capacity(objectives.len());
    for name in objectives {
        match obj.get(name) {
            Some(Json::Number(x)) => match x.as_f64() {
                Some(v) if v.is_finite() => values.push(v),
                _ => return Err(format!("objective '{name}' is not finite: {x}")),
            },
            Some(Json::Null) => return Err(format!("objective '{name}' is null (not finite?)")),
            Some(other) => return Err(format!("objective '{name}' is not a number: {other}")),
            None => {
                let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
                return Err(format!(
                    "objective '{name}' missing from the result (its keys: {})",
                    keys.join(", ")
                ));
            }
        }
    }
    let metadata: Map<String, Json> = obj
        .into_iter()
        .filter(|(k, _)| !objectives.contains(k))
        .collect();
    Ok((values, Json::Object(metadata)))
}

#[cfg(unix)]
fn kill_group(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill takes plain integers; a negative pid addresses the process group that
        // the child leads (it was started with process_group(0)).
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

#[cfg(not(unix))]
fn kill_group(_pid: u32) {}

fn configure(cmd: &mut Command) {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        #[cfg(target_os = "linux")]
        {
            let parent = std::process::id();
            // SAFETY: the closure runs between fork and exec and calls only async-signal-safe
            // functions (prctl, getppid, _exit).
            unsafe {
                cmd.pre_exec(move || {
                    // a worker killed with -9 takes its trial's command with it, so a resumed
                    // study never races an orphan in the same workdir
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    if libc::getppid() as u32 != parent {
                        libc::_exit(137);
                    }
                    Ok(())
                });
            }
        }
    }
}

impl CommandObjective {
    fn run(&self, t: &TrialSpec, still_wanted: &mut dyn FnMut() -> bool) -> TrialResult {
        let dir = self.workdir(t.number);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            return TrialResult::failed(format!("creating workdir {}: {e}", dir.display()));
        }
        let input = self.input(t).to_string();
        let (out_path, err_path) = (dir.join("stdout.log"), dir.join("stderr.log"));
        let files = File::create(&out_path).and_then(|o| Ok((o, File::create(&err_path)?)));
        let (out, err) = match files {
            Ok(f) => f,
            Err(e) => {
                return TrialResult::failed(format!("creating logs in {}: {e}", dir.display()))
            }
        };
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(&self.command)
            .env("DEEPSHIFT_TRIAL", &input)
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err);
        configure(&mut cmd);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => return TrialResult::failed(format!("starting `{}`: {e}", self.command)),
        };
        if let Some(mut stdin) = child.stdin.take() {
            // a command that ignores its input may exit before reading it: not an error
            let _ = writeln!(stdin, "{input}");
        }
        let start = Instant::now();
        let mut last_check = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) => {}
                Err(e) => {
                    kill_group(child.id());
                    let _ = child.wait();
                    return TrialResult::failed(format!("waiting for `{}`: {e}", self.command));
                }
            }
            if let Some(limit) = self.timeout {
                if start.elapsed() > limit {
                    kill_group(child.id());
                    let _ = child.wait();
                    return self.failure(
                        format!("timed out after {:.1} s", limit.as_secs_f64()),
                        &err_path,
                    );
                }
            }
            if last_check.elapsed() > Duration::from_millis(500) {
                last_check = Instant::now();
                if !still_wanted() {
                    kill_group(child.id());
                    let _ = child.wait();
                    return TrialResult::failed("given to another worker");
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // the group may hold processes the command left behind
        kill_group(child.id());
        if !status.success() {
            return self.failure(format!("the command failed ({status})"), &err_path);
        }
        let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
        match parse_result(&stdout, &self.objectives) {
            Ok((values, metadata)) => TrialResult {
                outcome: Ok(values),
                metadata,
            },
            Err(e) => self.failure(e, &err_path),
        }
    }

    fn failure(&self, what: String, err_path: &Path) -> TrialResult {
        let stderr = tail(err_path, STDERR_TAIL);
        if stderr.is_empty() {
            TrialResult::failed(what)
        } else {
            TrialResult::failed(format!("{what}; standard error ends with:\n{stderr}"))
        }
    }
}

impl Objective for CommandObjective {
    fn evaluate(
        &mut self,
        trial: &TrialSpec,
        still_wanted: &mut dyn FnMut() -> bool,
    ) -> TrialResult {
        self.run(trial, still_wanted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn last_line_with_extra_keys() {
        let (v, m) = parse_result(
            "progress\n{\"loss\": 0.5, \"energy\": 2, \"note\": \"x\"}\n\n",
            &names(&["loss", "energy"]),
        )
        .unwrap();
        assert_eq!(v, vec![0.5, 2.0]);
        assert_eq!(m, json!({"note": "x"}));
    }

    #[test]
    fn bad_results_say_why() {
        let o = names(&["loss"]);
        assert!(parse_result("", &o).unwrap_err().contains("nothing"));
        assert!(parse_result("0.5", &o)
            .unwrap_err()
            .contains("not a JSON object"));
        let e = parse_result("{\"acc\": 1}", &o).unwrap_err();
        assert!(e.contains("'loss' missing") && e.contains("acc"), "{e}");
        assert!(parse_result("{\"loss\": null}", &o)
            .unwrap_err()
            .contains("null"));
        assert!(parse_result("{\"loss\": \"1\"}", &o)
            .unwrap_err()
            .contains("not a number"));
    }
}
