//! The AutoDSNN part of a DSNN study's report (`dsnn.md`, and `inference/`, the report of
//! validation loss against the analytic inference energy): the reference DSNNs' positions and
//! the configurations that dominate them by how much (loss % and energy %, the AutoDSNN
//! paper's two figures), the test accuracy of the front, where the energy-optimal end of each
//! front converts how much of the network with how many bits, and the training that
//! continuing promoted trials from their checkpoints saved against retraining them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value as Json;
use shift_automl::report::{
    DefaultPosition, Report, ReportInput, ReportOptions, ReportTrial, TrialState,
};
use shift_automl::storage::{StoredTrial, StudyRecord, TrialState as Stored};
use shift_automl::Configuration;
use shift_train::objective::TrialRequest;

use crate::hpo_objective::DsnnSetup;
use crate::hpo_study::dsnn::ATTRIBUTE;

/// The study's DSNN setup, when it is a DSNN study (`deepshift hpo run --dataset`).
pub fn setup(record: &StudyRecord) -> Result<Option<DsnnSetup>> {
    record
        .settings
        .attributes
        .get(ATTRIBUTE)
        .map(|v| {
            serde_json::from_value(v.clone())
                .with_context(|| format!("study '{}': attribute '{ATTRIBUTE}'", record.name))
        })
        .transpose()
}

fn metadata_number(t: &StoredTrial, name: &str) -> Option<f64> {
    t.metadata.get(name).and_then(Json::as_f64)
}

fn provenance<'a>(t: &'a StoredTrial, name: &str) -> Option<&'a str> {
    t.metadata.get("provenance")?.get(name)?.as_str()
}

/// The study as a report of validation loss against the analytic inference energy per
/// image, which every trial of the DSNN objective reports beside its searched objectives.
pub fn inference_input(record: &StudyRecord, input: &ReportInput) -> Option<ReportInput> {
    let loss = record
        .settings
        .objectives
        .iter()
        .position(|o| o == "loss")?;
    let by_number: BTreeMap<u64, &StoredTrial> =
        record.trials.iter().map(|t| (t.number, t)).collect();
    let trials: Vec<ReportTrial> = input
        .trials
        .iter()
        .filter_map(|t| {
            let stored = by_number.get(&t.number)?;
            if t.state != TrialState::Finished {
                return Some(t.clone());
            }
            let uj = metadata_number(stored, "inference_energy_uj")?;
            Some(ReportTrial {
                objectives: vec![t.objectives[loss], uj],
                ..t.clone()
            })
        })
        .collect();
    trials
        .iter()
        .any(|t| t.state == TrialState::Finished)
        .then(|| ReportInput {
            study: format!("{} (inference energy)", input.study),
            objectives: vec!["loss".into(), "inference_energy_uj".into()],
            trials,
            ..input.clone()
        })
}

fn hp<'a>(c: &'a Configuration, name: &str) -> Option<&'a shift_automl::Value> {
    c.get(name)
}

fn hp_text(c: &Configuration, name: &str) -> String {
    match hp(c, name) {
        None => "-".to_string(),
        Some(v) => v.as_str().map_or_else(|| v.to_string(), str::to_string),
    }
}

/// `4 of 5 layers PS, 3 bits, 16/16` or `float`.
fn design_text(c: &Configuration, max_depth: i64) -> String {
    let depth = hp(c, "shift_depth").and_then(|v| v.as_i64()).unwrap_or(0);
    if depth == 0 {
        return "float".to_string();
    }
    format!(
        "depth {depth} of {max_depth} {}, {} bits, act {}.{}",
        hp_text(c, "shift_type"),
        hp_text(c, "weight_bits"),
        hp_text(c, "activation_integer_bits"),
        hp_text(c, "activation_fraction_bits"),
    )
}

fn pct(x: f64) -> String {
    format!("{:.1} %", 100.0 * x)
}

fn sci(x: f64) -> String {
    if x == 0.0 || (1e-3..1e4).contains(&x.abs()) {
        format!("{x:.4}")
    } else {
        format!("{x:.3e}")
    }
}

/// Everything `dsnn.md` states, computed from the study and its two reports.
pub struct DsnnSummary<'a> {
    /// The study.
    pub record: &'a StudyRecord,
    /// Its setup.
    pub setup: &'a DsnnSetup,
    /// The report of the searched objectives.
    pub report: &'a Report,
    /// The report of loss against inference energy, when the trials reported it.
    pub inference: Option<&'a Report>,
    /// Test accuracy per trial number, for the trials whose checkpoints were evaluated, or
    /// why it is missing.
    pub test_accuracy: &'a BTreeMap<u64, Result<f64, String>>,
    /// The space's largest shift depth (every layer converted).
    pub max_depth: i64,
}

/// Test accuracy of the front's designs (both fronts) and of the references, each from its
/// checkpoint: read after the search, never by it.
pub fn test_accuracies(
    setup: &DsnnSetup,
    record: &StudyRecord,
    reports: &[&Report],
) -> BTreeMap<u64, Result<f64, String>> {
    let mut wanted: Vec<(u64, f64, Configuration)> = Vec::new();
    for r in reports {
        let mut add = |i: usize| {
            let c = &r.results[i];
            if !wanted.iter().any(|w| w.0 == c.trial) {
                wanted.push((c.trial, c.budget, c.config.clone()));
            }
        };
        r.front.iter().for_each(|&i| add(i));
        r.references
            .iter()
            .filter_map(|(_, p)| p.result)
            .for_each(&mut add);
    }
    let mut out = BTreeMap::new();
    let opened = setup
        .dataset()
        .and_then(|d| d.open(&setup.data_dir, false))
        .and_then(|(test, _)| {
            Ok((
                setup.objective(2, shift_energy::MeterConfig::default())?,
                test,
            ))
        });
    let (objective, test) = match opened {
        Ok(x) => x,
        Err(e) => {
            for (n, ..) in wanted {
                out.insert(n, Err(format!("{e:#}")));
            }
            return out;
        }
    };
    for (number, budget, config) in wanted {
        let seed = record
            .trials
            .iter()
            .find(|t| t.number == number)
            .map_or(record.settings.seed, |t| t.seed);
        let request = TrialRequest {
            config: config.to_json().as_object().cloned().unwrap_or_default(),
            budget: budget as usize,
            seed,
        };
        let acc = objective
            .test_accuracy(&request, test.clone())
            .map_err(|e| e.to_string());
        out.insert(number, acc);
    }
    out
}

impl DsnnSummary<'_> {
    fn test_text(&self, number: u64) -> String {
        match self.test_accuracy.get(&number) {
            Some(Ok(a)) => pct(*a),
            Some(Err(_)) => "n/a".to_string(),
            None => "-".to_string(),
        }
    }

    /// The markdown of `dsnn.md`.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let (r, s) = (self.report, self.setup);
        let _ = writeln!(md, "# AutoDSNN summary: {}\n", r.study);
        let done: Vec<&StoredTrial> = self
            .record
            .trials
            .iter()
            .filter(|t| t.state == Stored::Done)
            .collect();
        let _ = writeln!(
            md,
            "{} {} on a validation split of {:.0} % held out of the training set (split seed {}); \
             the test set was used only for the test accuracies below, after the search. \
             Method {}, budgets {} to {} epochs, objectives {}. {} trials, {} done. Data: `{}`.\n",
            s.dataset,
            s.arch,
            100.0 * s.val_fraction,
            s.split_seed,
            self.record.method,
            self.record.settings.min_budget,
            self.record.settings.max_budget,
            r.objectives.join(", "),
            self.record.trials.len(),
            done.len(),
            s.data_dir.display()
        );
        self.energy_sources(&mut md, &done);
        self.references(&mut md);
        self.front(
            &mut md,
            r,
            "Front: validation loss against the searched objectives",
        );
        if let Some(inf) = self.inference {
            self.front(
                &mut md,
                inf,
                "Front: validation loss against the analytic inference energy per image",
            );
        }
        self.energy_end(&mut md);
        self.continuation(&mut md, &done);
        let _ = writeln!(
            md,
            "Hyperparameter importance per objective: see `report.md` (and `inference/report.md` \
             for the inference energy)."
        );
        md
    }

    fn energy_sources(&self, md: &mut String, done: &[&StoredTrial]) {
        let mut sources: BTreeMap<String, usize> = BTreeMap::new();
        for t in done {
            let src = provenance(t, "energy_source")
                .unwrap_or("not recorded")
                .to_string();
            *sources.entry(src).or_default() += 1;
        }
        let _ = writeln!(md, "## Energy measurement\n");
        let _ = writeln!(
            md,
            "Training plus validation energy per trial (the whole trajectory of a promoted \
             design, earlier rungs included), by source (`deepshift hpo export` lists each \
             trial's):\n"
        );
        for (src, n) in &sources {
            let trials = if *n == 1 { "trial" } else { "trials" };
            let _ = writeln!(md, "- {n} {trials}: {src}");
        }
        let _ = writeln!(
            md,
            "\n`inference_energy_uj` is the analytic 45 nm model of the converted network \
             (shift-energy): what a shift saves on hardware built for it, which a CPU's \
             measured energy does not show.\n"
        );
    }

    fn references(&self, md: &mut String) {
        let r = self.report;
        if r.references.is_empty() {
            return;
        }
        let _ = writeln!(md, "## The reference DSNNs and what dominates them\n");
        let _ = writeln!(
            md,
            "The paper's figures, computed its way: for each configuration that dominates the \
             reference (no worse in either objective, better in one), the reduction of each \
             objective relative to the reference's value. \"Any budget\" counts each \
             configuration at the highest budget it reached (fewer epochs are a cheaper \
             design); \"largest budget\" compares only designs trained as long as the \
             reference.\n"
        );
        let max_budget = self.record.settings.max_budget;
        let _ = writeln!(
            md,
            "| reference | trial | budget | val. accuracy | test accuracy | {} | dominated by (any budget) | best loss reduction (its {}) | best {} reduction (its loss) | dominated by (largest budget) | best loss reduction there (its {}) |",
            r.objectives.join(" | "),
            r.objectives.get(1).map_or("", String::as_str),
            r.objectives.get(1).map_or("", String::as_str),
            r.objectives.get(1).map_or("", String::as_str),
        );
        let _ = writeln!(
            md,
            "|---|---:|---:|---:|---:|{}---:|---:|---:|---:|---:|",
            "---:|".repeat(r.objectives.len())
        );
        for (label, p) in &r.references {
            let Some(i) = p.result else {
                let _ = writeln!(md, "| {label} | - | not evaluated | | | |");
                continue;
            };
            let c = &r.results[i];
            let d = &c.objectives;
            let any = dominating(r, p, None);
            let top = dominating(r, p, Some(max_budget));
            let best = |set: &[(f64, f64)], k: usize| {
                set.iter()
                    .copied()
                    .max_by(|a, b| {
                        if k == 0 {
                            a.0.total_cmp(&b.0)
                        } else {
                            a.1.total_cmp(&b.1)
                        }
                    })
                    .map_or("-".to_string(), |(l, e)| {
                        if k == 0 {
                            format!("{} ({})", pct(l), pct(e))
                        } else {
                            format!("{} ({})", pct(e), pct(l))
                        }
                    })
            };
            let _ = writeln!(
                md,
                "| {label} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                c.trial,
                c.budget,
                pct(1.0 - d[0]),
                self.test_text(c.trial),
                d.iter().map(|v| sci(*v)).collect::<Vec<_>>().join(" | "),
                any.len(),
                best(&any, 0),
                best(&any, 1),
                top.len(),
                best(&top, 0),
            );
        }
        md.push('\n');
    }

    fn front(&self, md: &mut String, r: &Report, title: &str) {
        let _ = writeln!(md, "## {title}\n");
        let _ = writeln!(
            md,
            "| trial | budget | val. accuracy | test accuracy | {} | design | optimiser | lr | batch |",
            r.objectives.join(" | ")
        );
        let _ = writeln!(
            md,
            "|---:|---:|---:|---:|{}---|---|---:|---:|",
            "---:|".repeat(r.objectives.len())
        );
        for &i in &r.front {
            let c = &r.results[i];
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                c.trial,
                c.budget,
                pct(1.0 - c.objectives[0]),
                self.test_text(c.trial),
                c.objectives
                    .iter()
                    .map(|v| sci(*v))
                    .collect::<Vec<_>>()
                    .join(" | "),
                design_text(&c.config, self.max_depth),
                hp_text(&c.config, "optimizer"),
                hp(&c.config, "lr")
                    .and_then(|v| v.as_f64())
                    .map_or("-".into(), sci),
                hp_text(&c.config, "batch_size"),
            );
        }
        md.push('\n');
    }

    /// Whether "a smaller part quantised with fewer bits" is the energy-optimal end.
    fn energy_end(&self, md: &mut String) {
        let _ = writeln!(md, "## The energy-optimal end of each front\n");
        let _ = writeln!(
            md,
            "AutoDSNN's observation: quantising a smaller part of the network with few bits \
             can be the energy optimum. Checked here on the lowest-energy design of each front \
             and on the front's most accurate design that reaches at least 97 % of the best \
             validation accuracy: \"partial\" means 0 < shift depth < {} (the whole network), \
             \"fewer bits\" fewer than 5 weight bits.\n",
            self.max_depth
        );
        let fronts = std::iter::once(("searched objectives", self.report))
            .chain(self.inference.map(|i| ("inference energy", i)));
        for (name, r) in fronts {
            let Some(&low) = r.front.iter().min_by(|&&a, &&b| {
                r.results[a].objectives[1].total_cmp(&r.results[b].objectives[1])
            }) else {
                continue;
            };
            let best_acc = r
                .front
                .iter()
                .map(|&i| 1.0 - r.results[i].objectives[0])
                .fold(0.0, f64::max);
            let accurate = r
                .front
                .iter()
                .filter(|&&i| 1.0 - r.results[i].objectives[0] >= 0.97 * best_acc)
                .min_by(|&&a, &&b| {
                    r.results[a].objectives[1].total_cmp(&r.results[b].objectives[1])
                });
            for (what, i) in [
                ("lowest energy", Some(low)),
                (
                    "lowest energy at >= 97 % of the best accuracy",
                    accurate.copied(),
                ),
            ] {
                let Some(i) = i else { continue };
                let c = &r.results[i];
                let depth = hp(&c.config, "shift_depth")
                    .and_then(|v| v.as_i64())
                    .unwrap_or(0);
                let bits = hp(&c.config, "weight_bits").and_then(|v| v.as_i64());
                let partial = depth > 0 && depth < self.max_depth;
                let fewer = depth > 0 && bits.is_some_and(|b| b < 5);
                let _ = writeln!(
                    md,
                    "- {name}, {what}: trial {} ({}, {} validation accuracy): partial {}, fewer bits {}.",
                    c.trial,
                    design_text(&c.config, self.max_depth),
                    pct(1.0 - c.objectives[0]),
                    if partial { "yes" } else { "no" },
                    if fewer { "yes" } else { "no" },
                );
            }
        }
        md.push('\n');
    }

    fn continuation(&self, md: &mut String, done: &[&StoredTrial]) {
        let trained = |t: &StoredTrial| {
            provenance(t, "epochs_trained")
                .and_then(|e| e.parse::<f64>().ok())
                .unwrap_or(t.budget)
        };
        let budgets: f64 = done.iter().map(|t| t.budget).sum();
        let all_trained: f64 = done.iter().map(|t| trained(t)).sum();
        let promoted: Vec<&&StoredTrial> = done.iter().filter(|t| t.parent.is_some()).collect();
        let promoted_saved: f64 = promoted.iter().map(|t| t.budget - trained(t)).sum::<f64>() + 0.0;
        let repeats: Vec<&&StoredTrial> = done
            .iter()
            .filter(|t| t.parent.is_none() && trained(t) < t.budget)
            .collect();
        // `+ 0.0`: an empty float sum is -0
        let repeats_saved: f64 = repeats.iter().map(|t| t.budget - trained(t)).sum::<f64>() + 0.0;
        let share = |x: f64| {
            if budgets > 0.0 {
                pct(x / budgets)
            } else {
                "0 %".into()
            }
        };
        let _ = writeln!(md, "## Training saved by continuing promotions\n");
        let _ = writeln!(
            md,
            "Retraining every done trial from scratch, as SMAC3's Hyperband does in AutoDSNN, \
             trains the sum of their budgets: {budgets} epochs. Here the {} promoted trials \
             continued from their design's checkpoint (bit for bit the same as training at \
             once) and saved {promoted_saved} epochs ({} of that sum). {} further trials asked \
             for a design (configuration and seed) that had already been trained that far: the \
             method proposed the same configuration again, and its run was reused ({} epochs, \
             {}). All trials together trained {all_trained} epochs.\n",
            promoted.len(),
            share(promoted_saved),
            repeats.len(),
            repeats_saved,
            share(repeats_saved),
        );
    }
}

/// (loss reduction, second objective's reduction) of the report's dominators of a
/// reference, optionally only those at `budget`.
fn dominating(r: &Report, p: &DefaultPosition, budget: Option<f64>) -> Vec<(f64, f64)> {
    p.dominated_by
        .iter()
        .filter(|d| budget.is_none_or(|b| r.results[d.result].budget == b))
        .map(|d| (d.relative[0].unwrap_or(0.0), d.relative[1].unwrap_or(0.0)))
        .collect()
}

/// Writes `dsnn.md` and `inference/` for a DSNN study.
pub fn write(
    record: &StudyRecord,
    setup: &DsnnSetup,
    input: &ReportInput,
    report: &Report,
    options: &ReportOptions,
    out: &Path,
) -> Result<()> {
    let inference_input = inference_input(record, input);
    let inference = match &inference_input {
        Some(i) => Some(Report::build(
            i,
            &ReportOptions {
                reference: None,
                ..options.clone()
            },
        )?),
        None => None,
    };
    if let Some(inf) = &inference {
        super::write_files(&out.join("inference"), &inf.render()?)?;
    }
    let max_depth = input
        .space
        .hyperparameters()
        .iter()
        .find(|h| h.name() == "shift_depth")
        .and_then(|h| match h.kind() {
            shift_automl::space::HpKind::Int { upper, .. } => Some(*upper),
            _ => None,
        })
        .unwrap_or(0);
    let reports: Vec<&Report> = std::iter::once(report).chain(inference.as_ref()).collect();
    let test_accuracy = test_accuracies(setup, record, &reports);
    let summary = DsnnSummary {
        record,
        setup,
        report,
        inference: inference.as_ref(),
        test_accuracy: &test_accuracy,
        max_depth,
    };
    super::write_files(
        out,
        &[shift_automl::report::ReportFile {
            name: "dsnn.md".into(),
            bytes: summary.markdown().into_bytes(),
        }],
    )?;
    for (n, e) in &test_accuracy {
        if let Err(e) = e {
            eprintln!("test accuracy of trial {n}: {e}");
        }
    }
    Ok(())
}
