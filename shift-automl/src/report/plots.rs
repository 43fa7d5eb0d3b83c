//! The report's plots, each drawn twice by the same code: once as SVG (for `report.html`, text
//! left to the viewer's fonts) and once into an RGB buffer encoded as PNG (text rasterised with
//! the bundled DejaVu Sans subset, so no system font is needed).

use std::sync::OnceLock;

use image::{codecs::png::PngEncoder, ExtendedColorType, ImageEncoder};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::importance::Importance;
use super::{Report, ReportError};

/// DejaVu Sans cut down to Latin and a few symbols (see `LICENSE-DejaVu.txt` beside it).
static FONT: &[u8] = include_bytes!("DejaVuSans-subset.ttf");

/// The family every text style names; the bundled font is registered under it.
const FAMILY: &str = "sans-serif";

const GREY: RGBColor = RGBColor(170, 170, 170);
const FRONT: RGBColor = RGBColor(31, 119, 180);
const DEFAULT: RGBColor = RGBColor(214, 39, 40);
const PALETTE: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];

/// One drawn plot.
pub(super) struct Plot {
    /// File stem: `front`, `hv_trials`, `hv_budget`, `importance`.
    pub stem: &'static str,
    /// The SVG document.
    pub svg: String,
    /// The PNG file.
    pub png: Vec<u8>,
}

#[derive(Clone, Copy)]
enum Kind {
    Front,
    HvTrials,
    HvBudget,
    Importance,
}

impl Kind {
    fn stem(self) -> &'static str {
        match self {
            Kind::Front => "front",
            Kind::HvTrials => "hv_trials",
            Kind::HvBudget => "hv_budget",
            Kind::Importance => "importance",
        }
    }

    fn size(self, r: &Report) -> (u32, u32) {
        match (self, &r.importance) {
            (Kind::Importance, Importance::Computed { objectives, .. }) => {
                let rows = objectives.first().map_or(1, |o| o.features.len()) as u32;
                (800, objectives.len() as u32 * (90 + 26 * rows))
            }
            _ => (800, 500),
        }
    }
}

fn register_font() -> Result<(), ReportError> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(ReportError::Plot {
            plot: "(font)".to_string(),
            problem: "the bundled font does not parse".to_string(),
        })
    }
}

/// Every plot the report shows: the importance bars only when importance was computed.
pub(super) fn draw_all(r: &Report) -> Result<Vec<Plot>, ReportError> {
    register_font()?;
    let mut kinds = vec![Kind::Front, Kind::HvTrials, Kind::HvBudget];
    if matches!(r.importance, Importance::Computed { .. }) {
        kinds.push(Kind::Importance);
    }
    kinds.into_iter().map(|k| render(k, r)).collect()
}

fn render(kind: Kind, r: &Report) -> Result<Plot, ReportError> {
    let err = |e: String| ReportError::Plot {
        plot: kind.stem().to_string(),
        problem: e,
    };
    let (w, h) = kind.size(r);
    let mut svg = String::new();
    draw(
        kind,
        r,
        SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area(),
    )
    .map_err(err)?;
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    draw(
        kind,
        r,
        BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area(),
    )
    .map_err(err)?;
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(&rgb, w, h, ExtendedColorType::Rgb8)
        .map_err(|e| err(e.to_string()))?;
    Ok(Plot {
        stem: kind.stem(),
        svg,
        png,
    })
}

fn draw<DB: DrawingBackend>(
    kind: Kind,
    r: &Report,
    root: DrawingArea<DB, Shift>,
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    match kind {
        Kind::Front => front(r, &root),
        Kind::HvTrials => {
            let pts: Vec<(f64, f64)> = r
                .curve
                .iter()
                .map(|c| (c.trials as f64, c.hypervolume))
                .collect();
            line(
                &root,
                "Hypervolume over trials",
                "trials (finished or failed)",
                &pts,
            )
        }
        Kind::HvBudget => {
            let pts: Vec<(f64, f64)> = r
                .curve
                .iter()
                .map(|c| (c.budget_spent, c.hypervolume))
                .collect();
            line(&root, "Hypervolume over budget spent", "budget spent", &pts)
        }
        Kind::Importance => importance(r, &root),
    }
    .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// `lo..hi` widened by 5 % on each side (or by 1 when empty), so markers are not cut at the edge.
fn padded(lo: f64, hi: f64) -> std::ops::Range<f64> {
    let pad = if hi > lo { 0.05 * (hi - lo) } else { 1.0 };
    (lo - pad)..(hi + pad)
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    })
}

/// Scatter of the results in the first two objectives (with one objective: the objective over
/// trial numbers), the front as a staircase, the default as a cross.
fn front<DB: DrawingBackend>(r: &Report, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
    let single = r.objectives.len() == 1;
    let xy = |i: usize| -> (f64, f64) {
        let c = &r.results[i];
        if single {
            (c.trial as f64, c.objectives[0])
        } else {
            (c.objectives[0], c.objectives[1])
        }
    };
    let all: Vec<(f64, f64)> = (0..r.results.len()).map(xy).collect();
    let default: Option<(f64, f64)> = r.default.objectives.as_ref().map(|o| {
        if single {
            (
                r.default.result.map_or(0.0, |i| r.results[i].trial as f64),
                o[0],
            )
        } else {
            (o[0], o[1])
        }
    });
    let (x0, x1) = bounds(all.iter().chain(default.iter()).map(|p| p.0));
    let (y0, y1) = bounds(all.iter().chain(default.iter()).map(|p| p.1));
    let (xd, yd) = if single {
        ("trial".to_string(), r.objectives[0].clone())
    } else {
        (r.objectives[0].clone(), r.objectives[1].clone())
    };
    let mut chart = ChartBuilder::on(root)
        .caption("Pareto front", (FAMILY, 22))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(padded(x0, x1), padded(y0, y1))?;
    chart
        .configure_mesh()
        .x_desc(xd)
        .y_desc(yd)
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 16))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    chart
        .draw_series(all.iter().map(|&p| Circle::new(p, 3, GREY.filled())))?
        .label("configurations")
        .legend(|(x, y)| Circle::new((x, y), 3, GREY.filled()));
    let mut front: Vec<(f64, f64)> = r.front.iter().map(|&i| xy(i)).collect();
    front.sort_by(|a, b| a.0.total_cmp(&b.0));
    if !single {
        let mut stairs = Vec::new();
        for (k, p) in front.iter().enumerate() {
            if k > 0 {
                stairs.push((p.0, front[k - 1].1));
            }
            stairs.push(*p);
        }
        chart.draw_series(LineSeries::new(stairs, FRONT.stroke_width(2)))?;
    }
    chart
        .draw_series(front.iter().map(|&p| Circle::new(p, 5, FRONT.filled())))?
        .label("Pareto front")
        .legend(|(x, y)| Circle::new((x, y), 5, FRONT.filled()));
    if let Some(d) = default {
        chart
            .draw_series(std::iter::once(Cross::new(d, 7, DEFAULT.stroke_width(3))))?
            .label(if r.default.result.is_some() {
                "default"
            } else {
                "default (predicted)"
            })
            .legend(|(x, y)| Cross::new((x, y), 5, DEFAULT.stroke_width(3)));
    }
    chart
        .configure_series_labels()
        .label_font((FAMILY, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    Ok(())
}

fn line<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    caption: &str,
    x_desc: &str,
    pts: &[(f64, f64)],
) -> DrawResult<DB> {
    let (x0, x1) = bounds(pts.iter().map(|p| p.0));
    let (_, y1) = bounds(pts.iter().map(|p| p.1));
    let y1 = if y1 > 0.0 { 1.05 * y1 } else { 1.0 };
    let mut chart = ChartBuilder::on(root)
        .caption(caption, (FAMILY, 22))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(x0.min(0.0)..x1.max(1.0), 0.0..y1)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("hypervolume")
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 16))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    // a step line: the hypervolume holds until the next trial changes it
    let mut steps = Vec::new();
    for (k, p) in pts.iter().enumerate() {
        if k > 0 {
            steps.push((p.0, pts[k - 1].1));
        }
        steps.push(*p);
    }
    chart.draw_series(LineSeries::new(steps, FRONT.stroke_width(2)))?;
    chart.draw_series(pts.iter().map(|&p| Circle::new(p, 2, FRONT.filled())))?;
    Ok(())
}

/// Horizontal bars, one panel per objective, most important hyperparameter on top.
fn importance<DB: DrawingBackend>(r: &Report, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
    let Importance::Computed { objectives, .. } = &r.importance else {
        return Ok(());
    };
    let panels = root.split_evenly((objectives.len().max(1), 1));
    let longest = objectives
        .iter()
        .flat_map(|o| o.features.iter().map(|f| f.name.chars().count()))
        .max()
        .unwrap_or(4) as u32;
    for (k, (o, area)) in objectives.iter().zip(&panels).enumerate() {
        let d = o.features.len() as i32;
        let (lo, hi) = bounds(o.features.iter().map(|f| f.importance));
        let x = lo.min(0.0)..(hi.max(0.0) * 1.1).max(0.01);
        let names: Vec<String> = o.features.iter().map(|f| f.name.clone()).collect();
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!("{} (forest R² {:.2})", o.objective, o.r2),
                (FAMILY, 18),
            )
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(20 + 8 * longest)
            .build_cartesian_2d(x, (0..d).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            // segment boundaries carry no label; their tick marks would only add clutter
            .set_tick_mark_size(LabelAreaPosition::Left, 0)
            .light_line_style(WHITE.mix(0.0))
            .y_labels(d.max(1) as usize)
            .y_label_formatter(&|v| match v {
                // no-break spaces keep the name off the axis (SVG collapses plain ones)
                SegmentValue::CenterOf(i) => usize::try_from(d - 1 - i)
                    .ok()
                    .and_then(|j| names.get(j))
                    .map(|n| format!("{n}\u{a0}\u{a0}"))
                    .unwrap_or_default(),
                _ => String::new(),
            })
            .label_style((FAMILY, 14))
            .draw()?;
        let colour = PALETTE[k % PALETTE.len()];
        chart.draw_series(o.features.iter().enumerate().map(|(j, f)| {
            let row = d - 1 - j as i32;
            let mut bar = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(row)),
                    (f.importance, SegmentValue::Exact(row + 1)),
                ],
                colour.filled(),
            );
            bar.set_margin(4, 4, 0, 0);
            bar
        }))?;
    }
    Ok(())
}
