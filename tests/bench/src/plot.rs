//! PNG plots of benchmark results (grouped bar charts), drawn with plotters from a serializable
//! specification so `BENCHMARKS.md` and its pictures always come from the same numbers.
//! Text uses DejaVu Sans from the system (Debian `fonts-dejavu-core`, installed by
//! `cargo xtask setup`); without it, plots are skipped with a message, never an error.

use std::path::Path;

use plotters::{
    coord::Shift,
    prelude::*,
    style::{
        FontStyle, register_font,
        text_anchor::{HPos, Pos, VPos},
    },
};
use serde::{Deserialize, Serialize};

/// One bar series: a value per category (`None` leaves a gap, e.g. "not measured").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

/// A grouped bar chart: one group per category, one bar per series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plot {
    /// File name in the plots folder (`xdp-cost.png`).
    pub file: String,
    pub title: String,
    pub y_label: String,
    pub categories: Vec<String>,
    pub series: Vec<Series>,
    /// Logarithmic y axis, for values spanning decades (outages from 10 ms to 7 s).
    pub log_y: bool,
}

const FONT_PATHS: [&str; 2] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// Registers the font once; false when no font file is installed.
fn font_ready() -> bool {
    static READY: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *READY.get_or_init(|| {
        for p in FONT_PATHS {
            if let Ok(bytes) = std::fs::read(p) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        false
    })
}

const COLORS: [RGBColor; 6] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
];

impl Plot {
    /// Writes the PNG into `dir`. Returns a message instead when it cannot be drawn.
    pub fn render(&self, dir: &Path) -> Result<(), String> {
        if !font_ready() {
            return Err(format!(
                "{}: no DejaVu Sans font (apt-get install fonts-dejavu-core); plot skipped",
                self.file
            ));
        }
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join(&self.file);
        let root = BitMapBackend::new(&path, (1000, 560)).into_drawing_area();
        self.draw(&root)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        root.present()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(())
    }

    fn transform(&self, v: f64) -> f64 {
        if self.log_y { v.max(1e-9).log10() } else { v }
    }

    fn draw(
        &self,
        root: &DrawingArea<BitMapBackend<'_>, Shift>,
    ) -> Result<(), Box<dyn std::error::Error + '_>> {
        root.fill(&WHITE)?;
        let values: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.values.iter().flatten().copied())
            .filter(|v| v.is_finite())
            .collect();
        let max = values.iter().copied().fold(0.0_f64, f64::max).max(1e-9);
        let (y0, y1) = if self.log_y {
            let min = values
                .iter()
                .copied()
                .filter(|v| *v > 0.0)
                .fold(f64::INFINITY, f64::min);
            let min = if min.is_finite() { min } else { max / 10.0 };
            // A decade below the smallest value, so even it has a visible bar; headroom above
            // the largest for its label.
            let lo = (min.log10() - 0.3).floor();
            (lo, max.log10().ceil().max(lo + 1.0) + 0.15)
        } else {
            (0.0, max * 1.15)
        };
        let groups = self.categories.len().max(1);
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(60)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..groups as f64, y0..y1)?;
        let cats = self.categories.clone();
        let log = self.log_y;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(groups * 2 + 1)
            .x_label_formatter(&move |x| {
                let i = x.floor() as usize;
                if (x - i as f64 - 0.5).abs() < 0.01 {
                    cats.get(i).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_labels(if log {
                (y1 - y0).floor() as usize + 1
            } else {
                10
            })
            .y_desc(&self.y_label)
            .y_label_formatter(&move |y| {
                let v = if log { 10f64.powf(*y) } else { *y };
                if v >= 100.0 || v == v.round() {
                    format!("{v:.0}")
                } else {
                    format!("{v:.2}")
                }
            })
            .label_style(("sans-serif", 15))
            .draw()?;
        let n = self.series.len().max(1) as f64;
        let width = 0.8 / n;
        for (si, s) in self.series.iter().enumerate() {
            let color = COLORS[si % COLORS.len()];
            let bars = s.values.iter().enumerate().filter_map(|(ci, v)| {
                let v = (*v)?;
                let x0 = ci as f64 + 0.1 + si as f64 * width;
                Some(Rectangle::new(
                    [(x0, y0), (x0 + width * 0.92, self.transform(v).max(y0))],
                    color.filled(),
                ))
            });
            chart
                .draw_series(bars)?
                .label(&s.name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled())
                });
            let labels = s.values.iter().enumerate().filter_map(|(ci, v)| {
                let v = (*v)?;
                let x0 = ci as f64 + 0.1 + si as f64 * width;
                Some(Text::new(
                    short(v),
                    (x0, self.transform(v).max(y0)),
                    ("sans-serif", 13)
                        .into_font()
                        .color(&BLACK)
                        .pos(Pos::new(HPos::Left, VPos::Bottom)),
                ))
            });
            chart.draw_series(labels)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 15))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
        Ok(())
    }
}

/// A bar's value label: three significant digits at most.
fn short(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_png_or_explains_why_not() {
        let plot = Plot {
            file: "test.png".into(),
            title: "t".into(),
            y_label: "ms".into(),
            categories: vec!["a".into(), "b".into()],
            series: vec![
                Series {
                    name: "ours".into(),
                    values: vec![Some(10.0), Some(20.0)],
                },
                Series {
                    name: "theirs".into(),
                    values: vec![Some(1000.0), None],
                },
            ],
            log_y: true,
        };
        let dir = std::env::var_os("VXT_PLOT_KEEP")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::env::temp_dir().join(format!("vxt-plot-{}", std::process::id()))
            });
        match plot.render(&dir) {
            Ok(()) => {
                let png = std::fs::read(dir.join("test.png")).unwrap();
                assert_eq!(&png[1..4], b"PNG");
            }
            Err(e) => assert!(e.contains("fonts-dejavu-core"), "{e}"),
        }
        if std::env::var_os("VXT_PLOT_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
