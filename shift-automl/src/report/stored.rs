//! A stored study as report input.

use super::{ReportError, ReportInput, ReportTrial, TrialState};
use crate::storage::{StudyRecord, TrialState as Stored};

impl TryFrom<&StudyRecord> for ReportInput {
    type Error = ReportError;

    /// Parses the study's space and every trial's configuration. A done trial's objectives
    /// are checked later, by [`super::Report::build`].
    fn try_from(rec: &StudyRecord) -> Result<ReportInput, ReportError> {
        let space = rec.space().map_err(|e| ReportError::Space {
            study: rec.name.clone(),
            problem: e.to_string(),
        })?;
        let trials = rec
            .trials
            .iter()
            .map(|t| {
                let config = space.configuration_from_json(&t.config).map_err(|e| {
                    ReportError::Configuration {
                        trial: t.number,
                        problem: e.to_string(),
                    }
                })?;
                Ok(ReportTrial {
                    number: t.number,
                    state: match t.state {
                        Stored::Done => TrialState::Finished,
                        Stored::Failed => TrialState::Failed,
                        Stored::Running => TrialState::Running,
                        Stored::Waiting => TrialState::Waiting,
                    },
                    budget: t.budget,
                    config,
                    objectives: t.objectives.clone().unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>, ReportError>>()?;
        let references =
            rec.settings
                .references
                .iter()
                .map(|r| {
                    let config = space.configuration_from_json(&r.config).map_err(|e| {
                        ReportError::Space {
                            study: rec.name.clone(),
                            problem: format!("reference '{}': {e}", r.label),
                        }
                    })?;
                    Ok((r.label.clone(), config))
                })
                .collect::<Result<Vec<_>, ReportError>>()?;
        let s = &rec.settings;
        let budgets = if s.min_budget < s.max_budget {
            format!("budgets {} to {}", s.min_budget, s.max_budget)
        } else {
            format!("budget {}", s.max_budget)
        };
        Ok(ReportInput {
            study: rec.name.clone(),
            method: Some(format!("{}, {budgets}", rec.method)),
            space,
            objectives: rec.settings.objectives.clone(),
            trials,
            references,
        })
    }
}
