//! The report's charts, drawn by plotters into SVG strings (inline in the page: no network,
//! no script). Labels come from entries and commits: control characters are dropped here and
//! plotters escapes the markup characters.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Chart size in pixels.
const SIZE: (u32, u32) = (760, 300);

/// Series colours: readable on white, told apart without colour vision too (with the legend).
const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// A label safe to hand to the SVG backend: no control characters, at most 40 characters.
fn label(s: &str) -> String {
    let clean: String = s
        .chars()
        .filter(|c| {
            !crate::output::is_control(*c)
                && !crate::output::is_bidi(*c)
                && *c != '\n'
                && *c != '\t'
        })
        .take(40)
        .collect();
    clean
}

/// A chart title (ours, never truncated).
fn title_of(s: &str) -> String {
    s.chars()
        .filter(|c| !crate::output::is_control(*c) && !crate::output::is_bidi(*c))
        .collect()
}

/// A chart with nothing to plot yet: an SVG saying so.
fn empty(title: &str, why: &str) -> String {
    svg(|root| {
        let _ = root.draw(&Text::new(
            format!("{} — {}", title_of(title), label(why)),
            (20, 140),
            ("sans-serif", 18).into_font().color(&RGBColor(90, 90, 90)),
        ));
    })
}

/// An SVG drawn by `draw` on a white canvas of [`SIZE`].
fn svg(draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, plotters::coord::Shift>)) -> String {
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, SIZE).into_drawing_area();
        let _ = root.fill(&WHITE);
        draw(&root);
        let _ = root.present();
    }
    s
}

/// The chart frame every chart shares: title, margins, axis label room.
fn frame<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    title: &str,
) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut b = ChartBuilder::on(root);
    b.caption(title_of(title), ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(70);
    b
}

/// Grouped bars: one group per category (x), one bar per series; values ≥ 0.
pub fn bars(
    title: &str,
    y_label: &str,
    categories: &[String],
    series: &[(&str, Vec<f64>)],
) -> String {
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0f64, f64::max);
    if categories.is_empty() || max <= 0.0 {
        return empty(title, "no data yet");
    }
    let n = categories.len();
    let cats: Vec<String> = categories.iter().map(|c| label(c)).collect();
    svg(|root| {
        let Ok(mut chart) = frame(root, title).build_cartesian_2d(0f64..n as f64, 0f64..max * 1.1)
        else {
            return;
        };
        let _ = chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc(label(y_label))
            .draw();
        // Category names centred under their bars (every k-th one when there are many).
        let every = n.div_ceil(12).max(1);
        let style = ("sans-serif", 12)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Top));
        for (i, c) in cats.iter().enumerate().step_by(every) {
            let (px, py) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
            let _ = root.draw(&Text::new(c.clone(), (px, py + 6), style.clone()));
        }
        let k = series.len().max(1) as f64;
        for (si, (name, values)) in series.iter().enumerate() {
            let colour = COLOURS[si % COLOURS.len()];
            let width = 0.8 / k;
            let drawn = chart.draw_series(values.iter().enumerate().map(|(i, v)| {
                let x0 = i as f64 + 0.1 + si as f64 * width;
                Rectangle::new([(x0, 0.0), (x0 + width * 0.95, *v)], colour.filled())
            }));
            if let Ok(d) = drawn {
                d.label(label(name)).legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled())
                });
            }
        }
        if series.len() > 1 {
            let _ = chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw();
        }
    })
}

/// A line over categories (x) with values in `0..=max_y`.
pub fn line(
    title: &str,
    y_label: &str,
    categories: &[String],
    values: &[f64],
    max_y: f64,
) -> String {
    if categories.is_empty() {
        return empty(title, "no runs recorded yet");
    }
    let n = categories.len();
    let cats: Vec<String> = categories.iter().map(|c| label(c)).collect();
    svg(|root| {
        let Ok(mut chart) =
            frame(root, title).build_cartesian_2d(-0.5f64..(n as f64 - 0.5).max(0.5), 0f64..max_y)
        else {
            return;
        };
        let _ = chart
            .configure_mesh()
            .x_labels(n.min(10))
            .x_label_formatter(&|x| {
                let r = x.round();
                if (x - r).abs() < 0.01 && r >= 0.0 {
                    cats.get(r as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc(label(y_label))
            .draw();
        let colour = COLOURS[0];
        let points: Vec<(f64, f64)> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (i as f64, *v))
            .collect();
        let _ = chart.draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)));
        let _ = chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 4, colour.filled())),
        );
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_with_shapes_and_labels_cannot_inject_markup() {
        let cats = vec![
            "2026-10".to_string(),
            "</text><script>x</script>".to_string(),
        ];
        let svg = bars(
            "Spend",
            "USD",
            &cats,
            &[("spent", vec![1.0, 2.0]), ("saved", vec![0.5, 3.0])],
        );
        assert!(svg.starts_with("<svg") && svg.contains("<rect"), "{svg}");
        assert!(!svg.contains("<script"), "{svg}");
        assert!(svg.contains("&lt;script&gt;") || !svg.contains("script"));
        let l = line("Hit rate", "%", &cats, &[50.0, 90.0], 100.0);
        assert!(l.contains("<polyline") || l.contains("<path"), "{l}");
        let e = bars("Spend", "USD", &[], &[]);
        assert!(e.contains("no data yet"), "{e}");
    }
}
