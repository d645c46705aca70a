//! The offsets of one partition over a cutover, drawn as an inline SVG line chart by hand:
//! `origin_committed`, `destination_committed`, `mirror_end` and `origin_end` against the
//! time since the run started, with each phase transition marked by a labelled vertical line.
//!
//! The chart needs no script, stylesheet or font from anywhere. Lines that coincide stay
//! visible: each is drawn narrower than the one under it (origin end widest, the destination's
//! committed offset thinnest and dashed), so equal values show as nested bands, also in print.

use std::fmt::Write as _;

use super::html::esc;
use crate::journal::PartitionSample;
use crate::model::Offset;

const WIDTH: f64 = 760.0;
const LEFT: f64 = 96.0;
const RIGHT: f64 = 16.0;
/// The legend's baseline.
const LEGEND_Y: f64 = 18.0;
/// Where the band of phase labels begins, above the plot.
const BAND_TOP: f64 = 28.0;
const LABEL_ROW: f64 = 12.0;
/// At most this many rows of phase labels; past it, labels share the least crowded row.
const MAX_LABEL_ROWS: usize = 5;
const PLOT_HEIGHT: f64 = 210.0;
const BOTTOM: f64 = 44.0;
/// Rough text widths, for laying out labels without measuring fonts.
const CHAR_WIDTH_10PX: f64 = 5.8;
const CHAR_WIDTH_11PX: f64 = 6.6;

/// One line of the chart.
struct Series {
    name: &'static str,
    colour: &'static str,
    dash: &'static str,
    /// Lines that often coincide (the mirror's end on the origin's, the destination's offset on
    /// the origin's) are drawn widest first and narrower on top, so each stays visible as a band
    /// around the next instead of hiding under it.
    width: f64,
    value: fn(&PartitionSample) -> Option<i64>,
}

/// In drawing order: widest first.
const SERIES: [Series; 4] = [
    Series {
        name: "origin_end",
        colour: "#a8a8a8",
        dash: "none",
        width: 7.0,
        value: |p| p.origin_end.map(Offset::get),
    },
    Series {
        name: "mirror_end",
        colour: "#1e8449",
        dash: "none",
        width: 4.5,
        value: |p| p.mirror_end.map(Offset::get),
    },
    Series {
        name: "origin_committed",
        colour: "#1f5fa8",
        dash: "none",
        width: 2.5,
        value: |p| p.origin_committed.map(Offset::get),
    },
    Series {
        name: "destination_committed",
        colour: "#e67e22",
        dash: "6 3",
        width: 1.2,
        value: |p| p.destination_committed.map(Offset::get),
    },
];

/// A phase transition to mark on the chart.
pub(crate) struct PhaseMark<'a> {
    pub since_start_ms: i64,
    pub phase: &'a str,
}

/// A linear map from a data interval onto a pixel interval.
struct Scale {
    lo: f64,
    hi: f64,
    from_px: f64,
    to_px: f64,
}

impl Scale {
    fn px(&self, v: f64) -> f64 {
        self.from_px + (v - self.lo) / (self.hi - self.lo) * (self.to_px - self.from_px)
    }

    /// The multiples of `step` inside the interval.
    fn ticks(&self, step: f64) -> impl Iterator<Item = f64> + '_ {
        let first = (self.lo / step).ceil() as i64;
        let last = (self.hi / step).floor() as i64;
        (first..=last).map(move |i| i as f64 * step)
    }
}

/// A tick spacing of 1, 2 or 5 times a power of ten, never below 1.
fn nice_step(span: f64, max_ticks: f64) -> f64 {
    let raw = (span / max_ticks).max(1.0);
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|step| *step >= raw)
        .unwrap_or(10.0 * magnitude)
}

fn time_label(ms: f64, step: f64) -> String {
    if step >= 1000.0 {
        format!("{} s", (ms / 1000.0).round())
    } else if step >= 100.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        format!("{ms} ms")
    }
}

/// A phase label placed in the band above the plot.
struct PlacedLabel<'a> {
    px: f64,
    row: usize,
    /// Drawn to the left of its line (near the right edge).
    before_line: bool,
    text: &'a str,
}

/// Places each label right of its line (left of it near the right edge), in the first row
/// where it overlaps no earlier label, so transitions close together stay legible.
fn place_labels<'a>(marks: &[PhaseMark<'a>], x: &Scale) -> (Vec<PlacedLabel<'a>>, usize) {
    let mut row_ends: Vec<f64> = Vec::new();
    let mut placed = Vec::new();
    for mark in marks {
        let px = x.px(mark.since_start_ms as f64);
        let width = mark.phase.chars().count() as f64 * CHAR_WIDTH_10PX;
        let before_line = px + 3.0 + width > WIDTH - RIGHT;
        let start = if before_line {
            px - 3.0 - width
        } else {
            px + 3.0
        };
        let row = match row_ends.iter().position(|end| *end <= start) {
            Some(row) => row,
            None if row_ends.len() < MAX_LABEL_ROWS => {
                row_ends.push(f64::MIN);
                row_ends.len() - 1
            }
            None => (0..row_ends.len())
                .min_by(|a, b| row_ends[*a].total_cmp(&row_ends[*b]))
                .expect("there is at least one row"),
        };
        row_ends[row] = start + width + 6.0;
        placed.push(PlacedLabel {
            px,
            row,
            before_line,
            text: mark.phase,
        });
    }
    let rows = row_ends.len();
    (placed, rows)
}

/// The chart of one partition. `samples` are (milliseconds since start, sample) in time
/// order; `phases` the transitions to mark.
pub(super) fn partition_chart(
    title: &str,
    samples: &[(i64, &PartitionSample)],
    phases: &[PhaseMark<'_>],
) -> String {
    let x_span = samples
        .iter()
        .map(|(x, _)| *x)
        .chain(phases.iter().map(|p| p.since_start_ms))
        .fold((0, 0), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let values = samples
        .iter()
        .flat_map(|(_, s)| SERIES.iter().filter_map(|series| (series.value)(s)));
    let (y_lo, y_hi) = values.fold((i64::MAX, i64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let y_span = if y_lo > y_hi {
        (0.0, 1.0)
    } else if y_lo == y_hi {
        (y_lo as f64 - 1.0, y_hi as f64 + 1.0)
    } else {
        (y_lo as f64, y_hi as f64)
    };
    let (mut svg, x, y) = frame(
        &format!("offsets of {title} over the cutover"),
        "offset",
        x_span,
        y_span,
        phases,
    );
    for series in &SERIES {
        lines(&mut svg, series, samples, &x, &y);
    }
    legend(&mut svg);
    svg.push_str("</svg>\n");
    svg
}

/// A chart's frame: the SVG opened, its title, the plot area, the axes for `x_span`
/// (milliseconds) and `y_span`, and the marks as labelled dashed lines; the scales to draw
/// the lines with.
fn frame(
    title: &str,
    y_label: &str,
    (x_lo, x_hi): (i64, i64),
    (y_lo, y_hi): (f64, f64),
    marks: &[PhaseMark<'_>],
) -> (String, Scale, Scale) {
    let x = Scale {
        lo: x_lo as f64,
        hi: (x_hi.max(x_lo + 1)) as f64,
        from_px: LEFT,
        to_px: WIDTH - RIGHT,
    };
    let (labels, label_rows) = place_labels(marks, &x);
    let top = BAND_TOP + LABEL_ROW * label_rows as f64 + 4.0;
    let bottom = top + PLOT_HEIGHT;
    let height = bottom + BOTTOM;
    let y_step = nice_step(y_hi - y_lo, 5.0);
    let y = Scale {
        lo: (y_lo / y_step).floor() * y_step,
        hi: (y_hi / y_step).ceil() * y_step,
        from_px: bottom,
        to_px: top,
    };
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(svg, "<title>{}</title>", esc(title));
    let _ = writeln!(
        svg,
        r##"<rect x="{LEFT}" y="{top}" width="{}" height="{PLOT_HEIGHT}" fill="#fff" stroke="#999"/>"##,
        WIDTH - LEFT - RIGHT,
    );
    axes(&mut svg, &x, &y, y_step, y_label);
    for label in &labels {
        let row_top = BAND_TOP + LABEL_ROW * label.row as f64;
        let _ = writeln!(
            svg,
            r##"<line class="phase" x1="{px:.1}" y1="{:.1}" x2="{px:.1}" y2="{bottom}" stroke="#888" stroke-dasharray="3 3"/>"##,
            row_top + 1.0,
            px = label.px,
        );
        let (lx, anchor) = if label.before_line {
            (label.px - 3.0, "end")
        } else {
            (label.px + 3.0, "start")
        };
        let _ = writeln!(
            svg,
            r##"<text x="{lx:.1}" y="{:.1}" font-size="10" fill="#444" text-anchor="{anchor}">{}</text>"##,
            row_top + LABEL_ROW - 3.0,
            esc(label.text)
        );
    }
    (svg, x, y)
}

/// One value over time (a runbook's total mirror lag), its stages marked: `points` are
/// (milliseconds since start, value), `None` where it could not be read.
pub(crate) fn lag_chart(
    title: &str,
    points: &[(i64, Option<i64>)],
    marks: &[PhaseMark<'_>],
) -> String {
    let x_span = points
        .iter()
        .map(|(x, _)| *x)
        .chain(marks.iter().map(|p| p.since_start_ms))
        .fold((0, 0), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let y_hi = points
        .iter()
        .filter_map(|(_, v)| *v)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let (mut svg, x, y) = frame(title, "records behind", x_span, (0.0, y_hi), marks);
    let mut segments: Vec<Vec<String>> = vec![Vec::new()];
    for (t, v) in points {
        match v {
            Some(v) => segments
                .last_mut()
                .expect("segments always has a last element")
                .push(format!("{:.1},{:.1}", x.px(*t as f64), y.px(*v as f64))),
            None => segments.push(Vec::new()),
        }
    }
    for segment in segments.iter().filter(|s| !s.is_empty()) {
        let _ = writeln!(
            svg,
            r##"<polyline class="lag" points="{}" fill="none" stroke="#1e8449" stroke-width="2"/>"##,
            segment.join(" ")
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn axes(svg: &mut String, x: &Scale, y: &Scale, y_step: f64, y_label: &str) {
    let (bottom, top) = (y.from_px, y.to_px);
    for v in y.ticks(y_step) {
        let py = y.px(v);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{}" y2="{py:.1}" stroke="#e4e4e4"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            py + 4.0,
            v as i64
        );
    }
    let x_step = nice_step(x.hi - x.lo, 8.0);
    for v in x.ticks(x_step) {
        let px = x.px(v);
        let _ = writeln!(
            svg,
            r##"<line x1="{px:.1}" y1="{bottom}" x2="{px:.1}" y2="{}" stroke="#999"/><text x="{px:.1}" y="{}" text-anchor="middle">{}</text>"##,
            bottom + 4.0,
            bottom + 16.0,
            time_label(v, x_step)
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{}" text-anchor="middle">time since the run started</text>"#,
        (LEFT + WIDTH - RIGHT) / 2.0,
        bottom + BOTTOM - 6.0
    );
    let _ = writeln!(
        svg,
        r#"<text transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        (top + bottom) / 2.0,
        esc(y_label)
    );
}

/// One series as polylines, broken where a sample has no value; a lone point is a dot.
fn lines(
    svg: &mut String,
    series: &Series,
    samples: &[(i64, &PartitionSample)],
    x: &Scale,
    y: &Scale,
) {
    let mut segments: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for (t, sample) in samples {
        match (series.value)(sample) {
            Some(v) => segments
                .last_mut()
                .expect("segments always has a last element")
                .push((x.px(*t as f64), y.px(v as f64))),
            None => segments.push(Vec::new()),
        }
    }
    for segment in segments {
        match segment.as_slice() {
            [] => {}
            [(px, py)] => {
                let _ = writeln!(
                    svg,
                    r#"<circle class="{}" cx="{px:.1}" cy="{py:.1}" r="2.5" fill="{}"/>"#,
                    series.name, series.colour
                );
            }
            points => {
                let points: Vec<String> = points
                    .iter()
                    .map(|(px, py)| format!("{px:.1},{py:.1}"))
                    .collect();
                let _ = writeln!(
                    svg,
                    r#"<polyline class="{}" points="{}" fill="none" stroke="{}" stroke-width="{}" stroke-dasharray="{}"/>"#,
                    series.name,
                    points.join(" "),
                    series.colour,
                    series.width,
                    series.dash
                );
            }
        }
    }
}

fn legend(svg: &mut String) {
    let mut lx = LEFT;
    for series in &SERIES {
        let _ = writeln!(
            svg,
            r#"<line x1="{lx:.1}" y1="{}" x2="{:.1}" y2="{}" stroke="{}" stroke-width="{}" stroke-dasharray="{}"/><text x="{:.1}" y="{LEGEND_Y}">{}</text>"#,
            LEGEND_Y - 4.0,
            lx + 26.0,
            LEGEND_Y - 4.0,
            series.colour,
            series.width.min(5.0),
            series.dash,
            lx + 31.0,
            series.name
        );
        lx += 31.0 + series.name.len() as f64 * CHAR_WIDTH_11PX + 20.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_steps_are_round_numbers() {
        assert_eq!(nice_step(10_000.0, 8.0), 2000.0);
        assert_eq!(nice_step(900.0, 5.0), 200.0);
        assert_eq!(nice_step(3.0, 5.0), 1.0);
        assert_eq!(time_label(4000.0, 2000.0), "4 s");
        assert_eq!(time_label(400.0, 200.0), "0.4 s");
    }

    #[test]
    fn coinciding_lines_stay_visible_each_drawn_narrower_over_a_wider_one() {
        let sample = PartitionSample {
            topic: "t".into(),
            partition: 0,
            origin_committed: Some(Offset(10)),
            destination_committed: Some(Offset(10)),
            origin_end: Some(Offset(10)),
            mirror_end: Some(Offset(10)),
        };
        let svg = partition_chart("t-0", &[(0, &sample), (1000, &sample)], &[]);
        let mut drawn: Vec<(usize, f64)> = SERIES
            .iter()
            .map(|s| {
                let at = svg
                    .find(&format!("<polyline class=\"{}\"", s.name))
                    .expect("drawn");
                (at, s.width)
            })
            .collect();
        drawn.sort_by_key(|(at, _)| *at);
        assert!(
            drawn.windows(2).all(|w| w[0].1 > w[1].1),
            "widest first: {drawn:?}"
        );
    }
}
