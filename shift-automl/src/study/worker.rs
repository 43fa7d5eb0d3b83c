//! One worker of a study: asks, claims, heartbeats and tells, each a transaction.

use std::time::Duration;

use serde_json::Value as Json;

use super::{build_search, Objective, StudyError, TrialResult, TrialSpec};
use crate::scheduler::{Event, Outcome, Search};
use crate::storage::{
    host_name, time_used_s, unix_now, LostAttempt, NewStudy, Provenance, Storage, StoredTrial,
    StudyRecord, StudySettings, StudyTx, TrialState,
};
use crate::ConfigSpace;

/// What [`Worker::next_trial`] found to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Run this trial (already marked running on this worker).
    Run(Box<StoredTrial>),
    /// Nothing to start now, but trials of other workers are still running (and may come
    /// back if their workers die): ask again shortly.
    Wait,
    /// The study is complete: its limits are reached and no trial is running or waiting.
    Finished,
}

/// What [`Worker::run`] reports as it goes.
#[derive(Debug, Clone, Copy)]
pub enum WorkerEvent<'a> {
    /// A trial started on this worker.
    Started(&'a StoredTrial),
    /// A trial of this worker finished (done or failed) and was recorded.
    Finished(&'a StoredTrial),
    /// A trial of this worker was given to another worker meanwhile; its result was dropped.
    Dropped(u64),
    /// Waiting for other workers' trials.
    Waiting,
}

/// A process's seat in a study.
pub struct Worker {
    storage: Box<dyn Storage>,
    name: String,
    method: String,
    space: ConfigSpace,
    settings: StudySettings,
    /// The local search, current up to event `applied`; `None` after an error, so the next
    /// ask rebuilds it from the whole history rather than trust a half-applied state.
    search: Option<Search>,
    applied: u64,
    id: String,
    provenance: Provenance,
    last_beat: f64,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("study", &self.name)
            .field("storage", &self.storage.url())
            .field("id", &self.id)
            .finish()
    }
}

fn check_settings(name: &str, s: &StudySettings) -> Result<(), StudyError> {
    let bad = |problem: String| {
        Err(StudyError::Settings {
            study: name.to_string(),
            problem,
        })
    };
    if name.trim().is_empty() {
        return bad("the study needs a name".into());
    }
    if s.objectives.is_empty() {
        return bad("no objectives".into());
    }
    for (i, o) in s.objectives.iter().enumerate() {
        if o.trim().is_empty() || s.objectives[..i].contains(o) {
            return bad(format!("objective name '{o}' is empty or repeated"));
        }
    }
    if !(s.min_budget > 0.0 && s.min_budget <= s.max_budget && s.max_budget.is_finite()) {
        return bad(format!(
            "budgets must satisfy 0 < min <= max, got {} and {}",
            s.min_budget, s.max_budget
        ));
    }
    if s.max_attempts == 0 {
        return bad("max_attempts must be at least 1".into());
    }
    if !(s.heartbeat_s > 0.0 && s.grace_s > s.heartbeat_s) {
        return bad(format!(
            "the grace period ({} s) must exceed the heartbeat interval ({} s)",
            s.grace_s, s.heartbeat_s
        ));
    }
    let not_positive = |t: f64| t.is_nan() || t <= 0.0;
    if s.time_budget_s.is_some_and(not_positive) || s.trial_timeout_s.is_some_and(not_positive) {
        return bad("time limits must be positive".into());
    }
    Ok(())
}

#[cfg(unix)]
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return true;
    };
    // SAFETY: signal 0 only checks that the process exists; it sends nothing.
    let r = unsafe { libc::kill(pid, 0) };
    let exists = r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    // a killed worker whose parent died too can linger as a zombie until something reaps it
    // (a container's init may never): it exists for kill(2) but will never send a heartbeat
    exists && !is_zombie(pid)
}

#[cfg(unix)]
fn is_zombie(pid: libc::pid_t) -> bool {
    // /proc/PID/stat: "pid (comm) S ...", the state after the last ')'
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next())
        })
        .is_some_and(|c| c == 'Z' || c == 'X')
}

#[cfg(not(unix))]
fn process_alive(_pid: u32) -> bool {
    true
}

impl Worker {
    /// Creates a study in `storage` and joins it. The space, method and settings are checked
    /// (and the method built once) before anything is written.
    pub fn create(
        mut storage: Box<dyn Storage>,
        study: &NewStudy,
        program: &str,
    ) -> Result<Worker, StudyError> {
        check_settings(&study.name, &study.settings)?;
        let space =
            ConfigSpace::from_json(&study.space_json).map_err(|source| StudyError::Space {
                study: study.name.clone(),
                source,
            })?;
        build_search(&study.method, space, &study.settings).map_err(|source| {
            StudyError::Method {
                study: study.name.clone(),
                source,
            }
        })?;
        storage.create_study(study)?;
        Worker::open(storage, &study.name, program)
    }

    /// Joins an existing study.
    pub fn open(
        mut storage: Box<dyn Storage>,
        name: &str,
        program: &str,
    ) -> Result<Worker, StudyError> {
        let rec = storage.load_study(name)?;
        let space = rec.space().map_err(|source| StudyError::Space {
            study: name.to_string(),
            source,
        })?;
        check_settings(name, &rec.settings)?;
        let provenance = Provenance::current(program);
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        Ok(Worker {
            id: format!("{}:{}:{nonce:08x}", host_name(), std::process::id()),
            storage,
            name: name.to_string(),
            method: rec.method,
            space,
            settings: rec.settings,
            search: None,
            applied: 0,
            provenance,
            last_beat: 0.0,
        })
    }

    /// The study's name.
    pub fn study(&self) -> &str {
        &self.name
    }

    /// The study's method.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The study's settings.
    pub fn settings(&self) -> &StudySettings {
        &self.settings
    }

    /// This worker's id (`host:pid:nonce`), as stored with its trials.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The storage's URL.
    pub fn url(&self) -> &str {
        self.storage.url()
    }

    /// The study as stored now.
    pub fn load(&mut self) -> Result<StudyRecord, StudyError> {
        Ok(self.storage.load_study(&self.name)?)
    }

    /// Why a running trial of another worker counts as abandoned, if it does.
    fn abandoned(
        me: &str,
        settings: &StudySettings,
        mine: &Provenance,
        t: &StoredTrial,
        now: f64,
    ) -> Option<String> {
        let who = t.worker.clone().unwrap_or_else(|| "?".into());
        if t.worker.as_deref() == Some(me) {
            // this worker runs one trial at a time and tells it before asking again
            return Some(format!("worker {who} abandoned it"));
        }
        let last = t.heartbeat_at.or(t.started_at).unwrap_or(t.asked_at);
        if now - last > settings.grace_s {
            return Some(format!(
                "worker {who} sent no heartbeat for {:.0} s (grace {} s)",
                now - last,
                settings.grace_s
            ));
        }
        match &t.provenance {
            Some(p) if mine.same_machine(p) && !process_alive(p.pid) => Some(format!(
                "worker {who}: process {} on this machine is gone",
                p.pid
            )),
            _ => None,
        }
    }

    /// Finds the next thing to do, in one transaction: gives up trials of dead workers (back
    /// to waiting, or failed after `max_attempts` runs), claims a waiting trial, or asks the
    /// method for a new one while the study's limits allow.
    pub fn next_trial(&mut self) -> Result<Next, StudyError> {
        let search = self.search.take();
        let now = unix_now();
        let mut tx = self.storage.begin(&self.name)?;
        let mut trials = tx.trials(None)?;
        for t in trials.iter_mut() {
            if t.state != TrialState::Running {
                continue;
            }
            let Some(reason) = Self::abandoned(&self.id, &self.settings, &self.provenance, t, now)
            else {
                continue;
            };
            if t.attempt < self.settings.max_attempts {
                t.lost_attempts.push(LostAttempt {
                    worker: t.worker.take().unwrap_or_default(),
                    started_at: t.started_at.unwrap_or(t.asked_at),
                    last_heartbeat: t.heartbeat_at.or(t.started_at).unwrap_or(t.asked_at),
                    reason,
                });
                t.state = TrialState::Waiting;
            } else {
                let error = format!(
                    "given up after {} runs: {reason}",
                    self.settings.max_attempts
                );
                t.state = TrialState::Failed;
                t.error = Some(error.clone());
                t.finished_at = Some(now);
                tx.append_event(&Event::Tell(t.number, Outcome::Failed(error)))?;
            }
            tx.update_trial(t)?;
        }
        if let Some(t) = tx.claim_waiting(&self.id, &self.provenance, now)? {
            tx.commit()?;
            self.search = search;
            return Ok(Next::Run(Box::new(t)));
        }
        let count = trials.len() as u64;
        let limit_reached = self.settings.n_trials.is_some_and(|n| count >= n)
            || self
                .settings
                .time_budget_s
                .is_some_and(|b| time_used_s(&trials, now) >= b);
        if limit_reached {
            let busy = trials.iter().any(|t| t.state == TrialState::Running);
            tx.commit()?;
            self.search = search;
            return Ok(if busy { Next::Wait } else { Next::Finished });
        }
        let (mut search, applied) = Self::replayed(
            (&self.name, &self.method, &self.space, &self.settings),
            search.map(|s| (s, self.applied)),
            tx.as_mut(),
            &trials,
        )?;
        let asked = search.ask().map_err(|source| StudyError::Search {
            study: self.name.clone(),
            source,
        })?;
        if asked.id != count {
            return Err(StudyError::Diverged {
                study: self.name.clone(),
                number: count,
                problem: format!("the method numbered the new trial {}", asked.id),
            });
        }
        let trial = StoredTrial {
            number: asked.id,
            state: TrialState::Running,
            config: asked.config.to_json(),
            budget: asked.budget,
            parent: asked.parent,
            seed: self.settings.seed,
            objectives: None,
            metadata: Json::Object(Default::default()),
            error: None,
            attempt: 1,
            worker: Some(self.id.clone()),
            asked_at: now,
            started_at: Some(now),
            finished_at: None,
            heartbeat_at: Some(now),
            provenance: Some(self.provenance.clone()),
            lost_attempts: Vec::new(),
        };
        tx.insert_trial(&trial)?;
        let seq = tx.append_event(&Event::Ask(asked.id))?;
        tx.commit()?;
        debug_assert!(seq > applied);
        self.search = Some(search);
        self.applied = seq;
        self.last_beat = now;
        Ok(Next::Run(Box::new(trial)))
    }

    /// `current` (a search and the last event it has seen) brought up to the stored history,
    /// or a fresh search with the whole history replayed when there is none.
    fn replayed(
        (name, method, space, settings): (&str, &str, &ConfigSpace, &StudySettings),
        current: Option<(Search, u64)>,
        tx: &mut dyn StudyTx,
        trials: &[StoredTrial],
    ) -> Result<(Search, u64), StudyError> {
        let (mut search, from) = match current {
            Some(c) => c,
            None => {
                let s = build_search(method, space.clone(), settings).map_err(|source| {
                    StudyError::Method {
                        study: name.to_string(),
                        source,
                    }
                })?;
                (s, 0)
            }
        };
        let mut applied = from;
        for (seq, event) in tx.events_after(from)? {
            Self::apply(name, &mut search, &event, trials)?;
            applied = seq;
        }
        Ok((search, applied))
    }

    /// Brings this worker's copy of the method up to the stored history without changing
    /// anything (a read under the study's lock), checking every replayed ask against its
    /// stored trial; returns the number of events applied in all. A fresh worker replays the
    /// whole history, so this verifies that the study's method state can be rebuilt.
    pub fn sync(&mut self) -> Result<u64, StudyError> {
        let current = self.search.take().map(|s| (s, self.applied));
        let mut tx = self.storage.begin(&self.name)?;
        let trials = tx.trials(None)?;
        let (search, applied) = Self::replayed(
            (&self.name, &self.method, &self.space, &self.settings),
            current,
            tx.as_mut(),
            &trials,
        )?;
        drop(tx);
        self.search = Some(search);
        self.applied = applied;
        Ok(applied)
    }

    /// Applies one stored event to the local search, checking replayed asks against the
    /// stored trials.
    fn apply(
        name: &str,
        search: &mut Search,
        event: &Event,
        trials: &[StoredTrial],
    ) -> Result<(), StudyError> {
        let err = |source| StudyError::Search {
            study: name.to_string(),
            source,
        };
        match event {
            Event::Ask(id) => {
                let t = search.ask().map_err(err)?;
                let diverged = |problem: String| StudyError::Diverged {
                    study: name.to_string(),
                    number: *id,
                    problem,
                };
                let stored = trials
                    .get(*id as usize)
                    .ok_or_else(|| diverged("no stored trial".into()))?;
                if t.id != *id {
                    return Err(diverged(format!("the method numbered it {}", t.id)));
                }
                let config = t.config.to_json();
                if config != stored.config || t.budget != stored.budget || t.parent != stored.parent
                {
                    return Err(diverged(format!(
                        "the method proposed {config} at budget {}, the study holds {} at budget {}",
                        t.budget, stored.config, stored.budget
                    )));
                }
            }
            Event::Tell(id, outcome) => search.tell(*id, outcome.clone()).map_err(err)?,
        }
        Ok(())
    }

    /// Sends a heartbeat for `number` when one is due; `false` when the trial was given to
    /// another worker meanwhile.
    pub fn heartbeat(&mut self, number: u64) -> Result<bool, StudyError> {
        let now = unix_now();
        if now - self.last_beat < self.settings.heartbeat_s {
            return Ok(true);
        }
        self.last_beat = now;
        Ok(self.storage.heartbeat(&self.name, number, &self.id, now)?)
    }

    /// Records a trial's result (one transaction: the trial's row and the tell event);
    /// `None` when the trial is no longer this worker's (it was given up and handed on), in
    /// which case nothing is written.
    pub fn finish(
        &mut self,
        number: u64,
        result: TrialResult,
    ) -> Result<Option<StoredTrial>, StudyError> {
        let now = unix_now();
        let m = self.settings.objectives.len();
        let mut tx = self.storage.begin(&self.name)?;
        let Some(mut t) = tx
            .trials(Some(TrialState::Running))?
            .into_iter()
            .find(|t| t.number == number && t.worker.as_deref() == Some(self.id.as_str()))
        else {
            return Ok(None);
        };
        let outcome = match result.outcome {
            Ok(v) if v.len() != m => {
                Err(format!("{} objective values, the study has {m}", v.len()))
            }
            Ok(v) if v.iter().any(|x| !x.is_finite()) => {
                Err(format!("non-finite objectives {v:?}"))
            }
            other => other,
        };
        t.metadata = result.metadata;
        t.finished_at = Some(now);
        t.heartbeat_at = Some(now);
        let event = match outcome {
            Ok(v) => {
                t.state = TrialState::Done;
                t.objectives = Some(v.clone());
                t.error = None;
                Outcome::Ok(v)
            }
            Err(e) => {
                t.state = TrialState::Failed;
                t.objectives = None;
                t.error = Some(e.clone());
                Outcome::Failed(e)
            }
        };
        tx.update_trial(&t)?;
        tx.append_event(&Event::Tell(number, event))?;
        tx.commit()?;
        Ok(Some(t))
    }

    /// Runs trials with `objective` until the study is complete, reporting through
    /// `on_event`.
    pub fn run(
        &mut self,
        objective: &mut dyn Objective,
        on_event: &mut dyn FnMut(WorkerEvent<'_>),
    ) -> Result<(), StudyError> {
        let poll = Duration::from_secs_f64((self.settings.grace_s / 4.0).clamp(0.05, 1.0));
        loop {
            match self.next_trial()? {
                Next::Run(t) => {
                    on_event(WorkerEvent::Started(&t));
                    let spec = TrialSpec {
                        number: t.number,
                        config: t.config.clone(),
                        budget: t.budget,
                        seed: t.seed,
                        parent: t.parent,
                        attempt: t.attempt,
                    };
                    let mut lost = false;
                    let result = {
                        let mut still_wanted = || {
                            // a failed heartbeat write is not a lost trial: others judge
                            // staleness, and the next beat may get through
                            let ok = self.heartbeat(t.number).unwrap_or(true);
                            lost |= !ok;
                            ok
                        };
                        objective.evaluate(&spec, &mut still_wanted)
                    };
                    let done = if lost {
                        None
                    } else {
                        self.finish(t.number, result)?
                    };
                    match done {
                        Some(done) => on_event(WorkerEvent::Finished(&done)),
                        None => on_event(WorkerEvent::Dropped(t.number)),
                    }
                }
                Next::Wait => {
                    on_event(WorkerEvent::Waiting);
                    std::thread::sleep(poll);
                }
                Next::Finished => return Ok(()),
            }
        }
    }
}
