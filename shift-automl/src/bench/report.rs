//! Plain-text rendering of the benchmark tables and JSON output.

use std::fmt::Write as _;

use super::{BenchReport, Cell, Stats, CHECKPOINTS};

fn stat(s: &Stats) -> String {
    format!("{:.1} [{:.1}, {:.1}]", s.median, s.min, s.max)
}

fn table(cells: &[Cell], title: &str, checkpoint: Option<usize>) -> String {
    let mut problems: Vec<&str> = Vec::new();
    let mut methods: Vec<&str> = Vec::new();
    for c in cells {
        if !problems.contains(&c.problem.as_str()) {
            problems.push(&c.problem);
        }
        if !methods.contains(&c.method.as_str()) {
            methods.push(&c.method);
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "{title}");
    let mut header = format!("| {:<12} |", "method");
    for p in &problems {
        let _ = write!(header, " {:<30} |", p);
    }
    let _ = write!(header, " {:>17} |", "ask ms med/mean");
    let _ = writeln!(out, "{header}");
    let _ = writeln!(
        out,
        "|{}|",
        header[1..header.len() - 1]
            .chars()
            .map(|c| if c == '|' { '|' } else { '-' })
            .collect::<String>()
    );
    for m in &methods {
        let mut line = format!("| {:<12} |", m);
        let mut asks = Vec::new();
        let mut means = Vec::new();
        for p in &problems {
            match cells.iter().find(|c| c.method == *m && c.problem == *p) {
                Some(c) => {
                    let text = match checkpoint {
                        Some(k) => format!("{} ({:.1})", stat(&c.hv), c.hv_at[k].median),
                        None => stat(&c.hv),
                    };
                    let _ = write!(line, " {:<30} |", text);
                    asks.push(c.median_ask_seconds);
                    means.push(c.mean_ask_seconds);
                }
                None => {
                    let _ = write!(line, " {:<30} |", "-");
                }
            }
        }
        // over problems: the median of the cells' medians and of their means
        let med = Stats::of(&asks).median;
        let mean = Stats::of(&means).median;
        let _ = write!(line, " {:>8.2} / {:>6.2} |", 1e3 * med, 1e3 * mean);
        let _ = writeln!(out, "{line}");
    }
    out
}

impl BenchReport {
    /// Both tables as text: median [min, max] over seeds of the HV in % of the true front's;
    /// the multi-fidelity table adds the median at the first checkpoint in parentheses. The last
    /// column is the time per ask in ms: the median over problems of each cell's median and of
    /// each cell's mean.
    pub fn render(&self) -> String {
        let seeds = self
            .full
            .first()
            .or(self.multi_fidelity.first())
            .map_or(0, |c| c.runs.len());
        let mut out = String::new();
        if !self.full.is_empty() {
            out += &table(
                &self.full,
                &format!(
                    "Full fidelity: HV % of the true front, median [min, max] over {seeds} seeds"
                ),
                None,
            );
            out.push('\n');
        }
        if !self.multi_fidelity.is_empty() {
            out += &table(
                &self.multi_fidelity,
                &format!(
                    "Multi-fidelity (budget {}): HV % at the end, median [min, max] over {seeds} seeds (median at {})",
                    super::TOTAL_BUDGET,
                    CHECKPOINTS[0]
                ),
                Some(0),
            );
        }
        out
    }

    /// The report as JSON (every run included).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}
