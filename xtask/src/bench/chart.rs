//! `target/bench/chart.svg`: requests per second on each endpoint, grouped bars, one colour a
//! configuration, on a log scale (a health check and a thousand-row page differ a
//! hundredfold).
//!
//! plotters draws it without font files: the SVG holds `<text>` elements that the viewer
//! sets in its own sans-serif, and plotters only estimates their widths for the layout.

use std::path::Path;

use anyhow::{Context, Result};
use plotters::{
    prelude::*,
    style::text_anchor::{HPos, Pos, VPos},
};

use super::report::{Endpoint, Measured, Setup, Store, Who};

const WIDTH: u32 = 1100;
const HEIGHT: u32 = 560;

/// The configurations drawn, in the order of their bars in each group, with their colours.
fn series() -> [(Setup, RGBColor); 5] {
    [
        (Setup::peer(1_000), RGBColor(140, 140, 140)),
        (
            Setup::ours(Store::Postgres, false, 1_000),
            RGBColor(158, 202, 225),
        ),
        (
            Setup::ours(Store::Postgres, true, 1_000),
            RGBColor(33, 113, 181),
        ),
        (
            Setup::ours(Store::Postgres, false, 1_000_000),
            RGBColor(253, 190, 133),
        ),
        (
            Setup::ours(Store::Postgres, true, 1_000_000),
            RGBColor(217, 71, 1),
        ),
    ]
}

/// One configuration's bars, as drawn.
struct Series {
    name: String,
    colour: RGBColor,
    bars: Vec<(usize, f64)>,
}

/// The bars of one configuration: (group, req/s) for each endpoint it answered well.
fn bars(measured: &Measured) -> Vec<(usize, f64)> {
    let Ok(figures) = &measured.figures else {
        return Vec::new();
    };
    figures
        .measures
        .iter()
        .filter_map(|m| {
            let group = Endpoint::OURS
                .iter()
                .position(|&e| e == m.endpoint.beside())?;
            let rate = measured.rate(m.endpoint).ok()?;
            (rate > 0.0).then_some((group, rate))
        })
        .collect()
}

/// `950`, `12k`, `1.5k`, `2M`: short enough for an axis.
fn human(v: f64) -> String {
    let (scaled, unit) = match v {
        v if v >= 1e6 => (v / 1e6, "M"),
        v if v >= 1e3 => (v / 1e3, "k"),
        v => (v, ""),
    };
    if scaled >= 10.0 || scaled.fract().abs() < 1e-9 {
        format!("{scaled:.0}{unit}")
    } else {
        format!("{scaled:.1}{unit}")
    }
}

pub(super) fn write(path: &Path, measured: &[Measured]) -> Result<()> {
    draw(path, measured).with_context(|| format!("could not draw {}", path.display()))
}

fn draw(path: &Path, measured: &[Measured]) -> Result<()> {
    let drawn: Vec<Series> = series()
        .into_iter()
        .map(|(setup, colour)| {
            let bars = measured
                .iter()
                .find(|m| m.setup == setup)
                .map(bars)
                .unwrap_or_default();
            // The peer answers two of the groups, with pages of its own.
            let name = match setup.who {
                Who::Peer => format!("{} (/quotes, hello)", setup.name()),
                Who::Ours { .. } => setup.name(),
            };
            Series { name, colour, bars }
        })
        .collect();
    let rates = drawn.iter().flat_map(|s| s.bars.iter().map(|b| b.1));
    let (lo, hi) = rates.fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(r), hi.max(r)));
    // From a whole decade below the lowest bar, so that it still shows, to a decade above
    // the highest, where the legend sits clear of the bars.
    let (lo, hi) = if lo <= hi {
        (10f64.powf((lo / 2.0).log10().floor()), hi * 12.0)
    } else {
        (1.0, 10.0)
    };

    let groups = Endpoint::OURS.len();
    let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "quotes bench: requests per second (log scale)",
            ("sans-serif", 20),
        )
        .margin(16)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(-0.5f64..groups as f64 - 0.5, (lo..hi).log_scale())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        // The groups' names are drawn below instead: plotters places numeric labels where
        // its own spacing puts them, not under the groups.
        .x_labels(0)
        .y_label_formatter(&|y| human(*y))
        .y_desc("req/s")
        .label_style(("sans-serif", 13))
        .draw()?;

    // Each group is one unit wide: the bars share 0.8 of it, centred, leaving a gap.
    let width = 0.8 / drawn.len() as f64;
    let value_style =
        TextStyle::from(("sans-serif", 10).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    for (slot, Series { name, colour, bars }) in drawn.into_iter().enumerate() {
        let left = |group: usize| group as f64 - 0.4 + slot as f64 * width;
        chart.draw_series(bars.iter().map(|&(group, rate)| {
            let centre = left(group) + width * 0.45;
            Text::new(human(rate), (centre, rate * 1.08), value_style.clone())
        }))?;
        chart
            .draw_series(bars.iter().map(|&(group, rate)| {
                Rectangle::new(
                    [(left(group), lo), (left(group) + width * 0.9, rate)],
                    colour.filled(),
                )
            }))?
            .label(name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 12, y + 6)], colour.filled()));
    }
    let label_style =
        TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    for (group, endpoint) in Endpoint::OURS.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(group as f64, lo));
        root.draw(&Text::new(
            endpoint.short(),
            (x, y + 8),
            label_style.clone(),
        ))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::report::tests::sample;
    use super::*;

    #[test]
    fn numbers_on_the_axis_are_short() {
        assert_eq!(human(950.0), "950");
        assert_eq!(human(1000.0), "1k");
        assert_eq!(human(1500.0), "1.5k");
        assert_eq!(human(63_000.0), "63k");
        assert_eq!(human(2_000_000.0), "2M");
    }

    #[test]
    fn the_peer_stands_beside_our_long_page_and_health_check() {
        let sample = sample();
        let peer = bars(&sample[0]);
        assert_eq!(peer.len(), 2);
        assert!(peer.contains(&(2, 1000.0)) && peer.contains(&(6, 60000.0)));
        assert_eq!(bars(&sample[1]).len(), 7);
        assert!(bars(&sample[4]).is_empty());
    }

    #[test]
    fn writes_an_svg_with_labels() {
        let dir = std::env::temp_dir().join(format!("xtask-chart-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("chart.svg");
        write(&path, &sample()).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        for text in ["pg cached 1k", "actix-ref 1k", "last page", "req/s"] {
            assert!(svg.contains(text), "{text} missing from the chart");
        }
        // Nothing measured still draws axes rather than failing.
        write(&path, &[]).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
