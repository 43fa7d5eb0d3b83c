//! What the report says, as a [`Block`] list that `report.md` and `report.html` are written from.

use super::document::{para, Block, Span};
use super::importance::Importance;
use super::{DefaultPosition, ReferenceRule, Report};
use crate::{Configuration, Value};

/// At most this many rows in the front and dominance tables; the rest is summarised.
const MAX_ROWS: usize = 100;

/// A number in at most 4 significant digits, without an exponent where that stays readable.
pub(super) fn num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if (1e-3..1e5).contains(&a) {
        let decimals = (3 - a.log10().floor() as i32).max(0) as usize;
        let s = format!("{v:.decimals$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        format!("{v:.3e}")
    }
}

/// Three decimals, without the sign of a value that rounds to zero (`-0.000` reads as a
/// negative importance that is not there).
fn fixed3(v: f64) -> String {
    let s = format!("{v:.3}");
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        s.trim_start_matches('-').to_string()
    } else {
        s
    }
}

fn value(v: Option<&Value>) -> String {
    match v {
        None => "-".to_string(),
        Some(Value::Float(x)) => num(*x),
        Some(Value::Int(i)) => i.to_string(),
        Some(Value::Str(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
    }
}

fn vector(v: &[f64]) -> String {
    format!(
        "({})",
        v.iter().map(|x| num(*x)).collect::<Vec<_>>().join(", ")
    )
}

fn named(names: &[String], v: &[f64]) -> String {
    names
        .iter()
        .zip(v)
        .map(|(n, x)| format!("{n} = {}", num(*x)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn config_cells(r: &Report, c: &Configuration) -> Vec<String> {
    r.hyperparameters.iter().map(|h| value(c.get(h))).collect()
}

/// The whole report as blocks.
pub(super) fn document(r: &Report) -> Vec<Block> {
    let mut doc = vec![Block::Heading(1, format!("HPO study report: {}", r.study))];
    summary(r, &mut doc);
    front(r, &mut doc);
    curve(r, &mut doc);
    default(r, &mut doc);
    importance(r, &mut doc);
    doc
}

fn summary(r: &Report, doc: &mut Vec<Block>) {
    let [finished, failed, running, waiting] = r.counts;
    let total: usize = r.counts.iter().sum();
    let method = r
        .method
        .as_ref()
        .map(|m| format!("Method: {m}. "))
        .unwrap_or_default();
    doc.push(para(format!(
        "{method}{total} trials: {finished} finished, {failed} failed, {running} running, {waiting} \
         waiting; {} distinct configurations finished. Budget spent (finished and failed \
         trials): {}. Objectives, all minimised: {}.",
        r.results.len(),
        num(r.budget_spent),
        r.objectives.join(", ")
    )));
}

fn front(r: &Report, doc: &mut Vec<Block>) {
    doc.push(Block::Heading(2, "Pareto front".to_string()));
    doc.push(para(format!(
        "Each configuration counts once, with its result at the highest budget it finished at. \
         {} of the {} configurations are non-dominated.",
        r.front.len(),
        r.results.len()
    )));
    let rule = match r.reference_rule {
        ReferenceRule::Given => "given with --ref".to_string(),
        ReferenceRule::MaxPlusTenPercent => "the default rule: per objective, the worst value \
            over all finished trials plus 10 % of the objective's range"
            .to_string(),
    };
    doc.push(Block::Para(vec![
        Span::Text("Hypervolume of the front: ".to_string()),
        Span::Code(num(r.hypervolume)),
        Span::Text(" against the reference point ".to_string()),
        Span::Code(vector(&r.reference)),
        Span::Text(format!(" ({rule}).")),
    ]));
    let mut head = vec!["trial".to_string(), "budget".to_string()];
    head.extend(r.objectives.iter().cloned());
    head.extend(r.hyperparameters.iter().cloned());
    let rows = r
        .front
        .iter()
        .take(MAX_ROWS)
        .map(|&i| {
            let c = &r.results[i];
            let mut row = vec![c.trial.to_string(), num(c.budget)];
            row.extend(c.objectives.iter().map(|v| num(*v)));
            row.extend(config_cells(r, &c.config));
            row
        })
        .collect();
    doc.push(Block::Table {
        head,
        rows,
        text_columns: 0,
    });
    if r.front.len() > MAX_ROWS {
        doc.push(para(format!(
            "(The first {MAX_ROWS} of {} front points, by {}.)",
            r.front.len(),
            r.objectives[0]
        )));
    }
    let what = if r.objectives.len() > 2 {
        format!(
            " (projected onto {} and {})",
            r.objectives[0], r.objectives[1]
        )
    } else {
        String::new()
    };
    doc.push(Block::Figure(
        "front".to_string(),
        format!(
            "Pareto front{what}: every configuration's result (grey), the front (blue), the \
             default configuration (red)"
        ),
    ));
}

fn curve(r: &Report, doc: &mut Vec<Block>) {
    doc.push(Block::Heading(
        2,
        "Hypervolume over trials and budget".to_string(),
    ));
    doc.push(para(
        "The hypervolume of the front known after each finished or failed trial, in trial \
         order, against the same reference point. It can fall when a configuration's result at a \
         higher budget is worse than at a lower one.",
    ));
    let n = r.curve.len();
    let mut marks: Vec<usize> = [1usize, 2, 3, 4]
        .iter()
        .map(|q| (q * n).div_ceil(4).max(1) - 1)
        .collect();
    marks.dedup();
    let rows = marks
        .into_iter()
        .map(|i| {
            let c = &r.curve[i];
            let share = if r.hypervolume > 0.0 {
                format!("{:.1} %", 100.0 * c.hypervolume / r.hypervolume)
            } else {
                "-".to_string()
            };
            vec![
                c.trials.to_string(),
                c.trial.to_string(),
                num(c.budget_spent),
                num(c.hypervolume),
                share,
            ]
        })
        .collect();
    doc.push(Block::Table {
        head: vec![
            "trials counted".to_string(),
            "last trial".to_string(),
            "budget spent".to_string(),
            "hypervolume".to_string(),
            "of final".to_string(),
        ],
        rows,
        text_columns: 0,
    });
    doc.push(Block::Figure(
        "hv_trials".to_string(),
        "Hypervolume over trials".to_string(),
    ));
    doc.push(Block::Figure(
        "hv_budget".to_string(),
        "Hypervolume over budget spent".to_string(),
    ));
}

fn default(r: &Report, doc: &mut Vec<Block>) {
    if r.references.is_empty() {
        doc.push(Block::Heading(2, "Default configuration".to_string()));
        position(r, "The space's default", &r.default, doc);
        return;
    }
    doc.push(Block::Heading(2, "Reference configurations".to_string()));
    doc.push(para(
        "The baselines the study evaluated before its method's own trials, each located \
         among the results.",
    ));
    for (label, d) in &r.references {
        doc.push(Block::Heading(3, format!("Reference: {label}")));
        position(r, "The configuration", d, doc);
    }
}

/// Where `d` stands: its result, its rank and the results that dominate it.
fn position(r: &Report, what: &str, d: &DefaultPosition, doc: &mut Vec<Block>) {
    doc.push(Block::Para(vec![
        Span::Text(format!("{what}: ")),
        Span::Code(d.config.to_string()),
        Span::Text(".".to_string()),
    ]));
    let Some(objectives) = &d.objectives else {
        doc.push(para(
            "It was not evaluated in this study, and there are too few results to predict it.",
        ));
        return;
    };
    match d.result {
        Some(i) => {
            let c = &r.results[i];
            doc.push(para(format!(
                "Evaluated in trial {} at budget {}: {}. Non-dominated rank {} (0 is the front).",
                c.trial,
                num(c.budget),
                named(&r.objectives, objectives),
                c.rank
            )));
        }
        None => doc.push(para(format!(
            "It was not evaluated in this study; the importance forests predict {} at the \
             highest budget. The comparison below is with that prediction.",
            named(&r.objectives, objectives)
        ))),
    }
    if d.dominated_by.is_empty() {
        doc.push(para("No configuration dominates it."));
        return;
    }
    doc.push(para(format!(
        "{} configurations dominate it (no worse in any objective, better in at least one). \
         Their improvement over it per objective: its value minus theirs, and that relative \
         to its magnitude.",
        d.dominated_by.len()
    )));
    let mut head = vec!["trial".to_string(), "budget".to_string()];
    for o in &r.objectives {
        head.push(o.clone());
        head.push(format!("{o} better by"));
    }
    let rows = d
        .dominated_by
        .iter()
        .take(MAX_ROWS)
        .map(|dom| {
            let c = &r.results[dom.result];
            let mut row = vec![c.trial.to_string(), num(c.budget)];
            for (k, v) in c.objectives.iter().enumerate() {
                row.push(num(*v));
                row.push(match dom.relative[k] {
                    Some(rel) => format!("{} ({:.1} %)", num(dom.absolute[k]), 100.0 * rel),
                    None => num(dom.absolute[k]),
                });
            }
            row
        })
        .collect();
    doc.push(Block::Table {
        head,
        rows,
        text_columns: 0,
    });
}

fn importance(r: &Report, doc: &mut Vec<Block>) {
    doc.push(Block::Heading(2, "Hyperparameter importance".to_string()));
    let Importance::Computed {
        objectives,
        folds,
        trees,
        repeats,
        rows,
        with_budget,
        ..
    } = &r.importance
    else {
        if let Importance::Skipped(why) = &r.importance {
            doc.push(para(format!("Not computed: {why}.")));
        }
        return;
    };
    let budget = if *with_budget {
        " The results span several budgets, so the budget is a column too: its share is not \
         credited to any hyperparameter."
    } else {
        ""
    };
    doc.push(para(format!(
        "Method: permutation importance on a random forest ({trees} trees, SMAC's settings), \
         {folds}-fold cross-validated over the {rows} configurations' results. A \
         hyperparameter's importance is the rise of the held-out squared error when its column \
         is replaced by a random permutation of its values ({repeats} permutations per fold), \
         divided by twice the objective's variance: 1 for a hyperparameter that alone decides \
         the objective, 0 for one the model does not use; ± is the spread over folds and \
         permutations.{budget}"
    )));
    for o in objectives {
        doc.push(Block::Heading(3, o.objective.clone()));
        doc.push(para(format!(
            "Cross-validated R² of the forest: {}.",
            fixed3(o.r2)
        )));
        let rows = o
            .features
            .iter()
            .enumerate()
            .map(|(k, f)| {
                vec![
                    (k + 1).to_string(),
                    f.name.clone(),
                    fixed3(f.importance),
                    format!("± {}", fixed3(f.spread)),
                ]
            })
            .collect();
        doc.push(Block::Table {
            head: vec![
                "rank".to_string(),
                "hyperparameter".to_string(),
                "importance".to_string(),
                "spread".to_string(),
            ],
            rows,
            text_columns: 2,
        });
    }
    doc.push(Block::Figure(
        "importance".to_string(),
        "Hyperparameter importance per objective (permutation importance, 1 = decides the objective alone)".to_string(),
    ));
}

#[cfg(test)]
mod tests {
    use super::num;

    #[test]
    fn numbers_keep_four_significant_digits() {
        assert_eq!(num(0.0), "0");
        assert_eq!(num(1.0), "1");
        assert_eq!(num(10.666664), "10.67");
        assert_eq!(num(-0.012345), "-0.01235");
        assert_eq!(num(123456.0), "1.235e5");
        assert_eq!(num(0.00001), "1.000e-5");
        assert_eq!(super::fixed3(-0.0001), "0.000");
        assert_eq!(super::fixed3(-0.25), "-0.250");
    }
}
