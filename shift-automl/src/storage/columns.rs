//! The column values of a stored trial and study, shared by the SQL backends so that both
//! store exactly the same text (JSON for structured values, written with shortest round-trip
//! floats and read back bit for bit).

use serde_json::Value as Json;

use super::record::{LostAttempt, Provenance, StoredTrial, StudySettings, TrialState};
use crate::scheduler::Event;

/// Columns of the trials table after `study_id`, in this order.
pub const TRIAL_COLUMNS: &str = "number, state, config_json, budget, parent, seed, \
     objectives_json, metadata_json, error, attempt, worker, asked_at, started_at, finished_at, \
     heartbeat_at, provenance_json, lost_json";

/// One trial's column values, in [`TRIAL_COLUMNS`]' order.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialRow {
    pub number: i64,
    pub state: String,
    pub config_json: String,
    pub budget: f64,
    pub parent: Option<i64>,
    pub seed: i64,
    pub objectives_json: Option<String>,
    pub metadata_json: String,
    pub error: Option<String>,
    pub attempt: i64,
    pub worker: Option<String>,
    pub asked_at: f64,
    pub started_at: Option<f64>,
    pub finished_at: Option<f64>,
    pub heartbeat_at: Option<f64>,
    pub provenance_json: Option<String>,
    pub lost_json: String,
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    // every stored type serialises (finite numbers, string keys)
    serde_json::to_string(v).unwrap_or_default()
}

impl TrialRow {
    /// The columns of `t`. Numbers stored in SQL integers are bit-cast (seeds above i64::MAX
    /// round-trip).
    pub fn from_trial(t: &StoredTrial) -> TrialRow {
        TrialRow {
            number: t.number as i64,
            state: t.state.as_str().to_string(),
            config_json: to_json(&t.config),
            budget: t.budget,
            parent: t.parent.map(|p| p as i64),
            seed: t.seed as i64,
            objectives_json: t.objectives.as_ref().map(to_json),
            metadata_json: to_json(&t.metadata),
            error: t.error.clone(),
            attempt: i64::from(t.attempt),
            worker: t.worker.clone(),
            asked_at: t.asked_at,
            started_at: t.started_at,
            finished_at: t.finished_at,
            heartbeat_at: t.heartbeat_at,
            provenance_json: t.provenance.as_ref().map(to_json),
            lost_json: to_json(&t.lost_attempts),
        }
    }

    /// The trial, or what cannot be read.
    pub fn into_trial(self) -> Result<StoredTrial, String> {
        let n = self.number;
        let parse = |what: &str, text: &str| -> Result<Json, String> {
            serde_json::from_str(text).map_err(|e| format!("trial {n}: {what}: {e}"))
        };
        let state = TrialState::parse(&self.state)
            .ok_or_else(|| format!("trial {n}: unknown state '{}'", self.state))?;
        let objectives = match &self.objectives_json {
            Some(s) => Some(
                serde_json::from_str::<Vec<f64>>(s)
                    .map_err(|e| format!("trial {n}: objectives: {e}"))?,
            ),
            None => None,
        };
        let provenance = match &self.provenance_json {
            Some(s) => Some(
                serde_json::from_str::<Provenance>(s)
                    .map_err(|e| format!("trial {n}: provenance: {e}"))?,
            ),
            None => None,
        };
        let lost_attempts = serde_json::from_str::<Vec<LostAttempt>>(&self.lost_json)
            .map_err(|e| format!("trial {n}: lost attempts: {e}"))?;
        Ok(StoredTrial {
            number: n as u64,
            state,
            config: parse("configuration", &self.config_json)?,
            budget: self.budget,
            parent: self.parent.map(|p| p as u64),
            seed: self.seed as u64,
            objectives,
            metadata: parse("metadata", &self.metadata_json)?,
            error: self.error,
            attempt: u32::try_from(self.attempt).unwrap_or(u32::MAX),
            worker: self.worker,
            asked_at: self.asked_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            heartbeat_at: self.heartbeat_at,
            provenance,
            lost_attempts,
        })
    }
}

/// Settings as stored.
pub fn settings_json(s: &StudySettings) -> String {
    to_json(s)
}

/// Settings from their stored text.
pub fn parse_settings(text: &str) -> Result<StudySettings, String> {
    serde_json::from_str(text).map_err(|e| format!("settings: {e}"))
}

/// Provenance as stored.
pub fn provenance_json(p: &Provenance) -> String {
    to_json(p)
}

/// Provenance from its stored text.
pub fn parse_provenance(text: &str) -> Result<Provenance, String> {
    serde_json::from_str(text).map_err(|e| format!("provenance: {e}"))
}

/// An event as stored.
pub fn event_json(e: &Event) -> String {
    to_json(e)
}

/// An event from its stored text.
pub fn parse_event(seq: i64, text: &str) -> Result<Event, String> {
    serde_json::from_str(text).map_err(|e| format!("event {seq}: {e}"))
}
