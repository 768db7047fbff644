//! The SVG plot: location latency percentiles over time (top) and the
//! latency distribution of every message kind (bottom), both on log scales
//! so a 1 ms median and a 2 s stall are readable on one chart.

use std::path::Path;

use plotters::prelude::*;

use crate::error::LoadTestError;
use crate::report::Report;
use crate::stats::Kind;

/// Plots below this many milliseconds are drawn at it (log axes cannot
/// show zero).
const FLOOR_MS: f64 = 0.01;
/// The distribution's x axis ends at 99.999 %.
const MAX_NINES: f64 = 5.0;

fn plot_err(path: &Path, e: impl std::fmt::Display) -> LoadTestError {
    LoadTestError::Write {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

/// Turns a quantile into "nines": 0.9 -> 1, 0.99 -> 2, capped at 5.
fn nines(q: f64) -> f64 {
    if q >= 1.0 {
        MAX_NINES
    } else {
        (-(1.0 - q).log10()).clamp(0.0, MAX_NINES)
    }
}

fn nines_label(x: &f64) -> String {
    let q = 1.0 - 10f64.powf(-*x);
    let pct = q * 100.0;
    if *x < 0.5 {
        format!("{pct:.0}%")
    } else {
        format!("{}%", trim_float(pct))
    }
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn series_color(i: usize) -> RGBColor {
    [BLUE, GREEN, RGBColor(230, 140, 0), RED, MAGENTA, CYAN][i % 6]
}

/// Writes the plot of `report` as SVG to `path`.
pub fn write_svg(report: &Report, path: &Path) -> Result<(), LoadTestError> {
    let root = SVGBackend::new(path, (1000, 900)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
    let (top, bottom) = root.split_vertically(450);
    over_time(report, &top).map_err(|e| plot_err(path, e))?;
    distribution(report, &bottom).map_err(|e| plot_err(path, e))?;
    root.present().map_err(|e| plot_err(path, e))
}

/// A log range from half the smallest to 1.5x the largest value.
fn y_range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for v in values.filter(|v| *v > 0.0) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return FLOOR_MS..1.0;
    }
    (lo / 2.0).max(FLOOR_MS)..(hi * 1.5).max(lo * 10.0)
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type PickFn = fn(&crate::report::Percentiles) -> f64;
type PlotResult = Result<(), Box<dyn std::error::Error + 'static>>;

fn over_time(report: &Report, area: &Area<'_>) -> PlotResult {
    let t_max = report.series.last().map_or(1.0, |p| p.t_s).max(1.0);
    let y = y_range(
        report
            .series
            .iter()
            .filter(|p| p.location.count > 0)
            .flat_map(|p| [p.location.p50, p.location.max]),
    );
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!(
                "location latency per second: {} players x {}/s, {}",
                report.players, report.rate_per_player, report.target
            ),
            ("sans-serif", 18),
        )
        .margin(12)
        .margin_right(30)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..t_max, y.log_scale())?;
    chart
        .configure_mesh()
        .max_light_lines(4)
        .x_desc("seconds since start")
        .y_desc("latency ms (log)")
        .draw()?;
    let lines: [(&str, PickFn); 4] = [
        ("p50", |p| p.p50),
        ("p90", |p| p.p90),
        ("p99", |p| p.p99),
        ("max", |p| p.max),
    ];
    for (i, (name, pick)) in lines.into_iter().enumerate() {
        let color = series_color(i);
        let points = report
            .series
            .iter()
            .filter(|p| p.location.count > 0)
            .map(|p| (p.t_s, pick(&p.location).max(FLOOR_MS)));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    legend(&mut chart)
}

fn legend<'a, X, Y>(chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>) -> PlotResult
where
    X: plotters::coord::ranged1d::Ranged,
    Y: plotters::coord::ranged1d::Ranged,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

fn distribution(report: &Report, area: &Area<'_>) -> PlotResult {
    let y = y_range(Kind::ALL.iter().flat_map(|&k| {
        report
            .latency_ms
            .get(k)
            .distribution
            .iter()
            .map(|[_, ms]| *ms)
    }));
    let mut chart = ChartBuilder::on(area)
        .caption("latency distribution by message type", ("sans-serif", 18))
        .margin(12)
        .margin_right(30)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..MAX_NINES, y.log_scale())?;
    chart
        .configure_mesh()
        .max_light_lines(4)
        .x_desc("percentile")
        .x_labels(6)
        .y_desc("latency ms (log)")
        .x_label_formatter(&nines_label)
        .draw()?;
    for (i, kind) in Kind::ALL.into_iter().enumerate() {
        let k = report.latency_ms.get(kind);
        if k.distribution.is_empty() {
            continue;
        }
        let color = series_color(i);
        let points: Vec<(f64, f64)> = k
            .distribution
            .iter()
            .map(|[q, ms]| (nines(*q), ms.max(FLOOR_MS)))
            .collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(format!("{} (n={})", kind.name(), k.count))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    legend(&mut chart)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nines_map_percentiles_to_axis_positions() {
        assert_eq!(nines(0.0), 0.0);
        assert!((nines(0.9) - 1.0).abs() < 1e-9);
        assert!((nines(0.999) - 3.0).abs() < 1e-9);
        assert_eq!(nines(1.0), MAX_NINES);
        assert_eq!(nines_label(&2.0), "99%");
        assert_eq!(nines_label(&3.0), "99.9%");
        assert_eq!(nines_label(&0.0), "0%");
    }
}
