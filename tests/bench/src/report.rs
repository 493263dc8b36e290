//! The benchmark report: sections with tables, targets, notes and plot specifications, kept in
//! `bench/results.json` (one entry per part, so running one part alone keeps the others'
//! latest numbers) and rendered to `BENCHMARKS.md` and aligned text for the terminal. Pure
//! except for [`Results::load`] / [`Results::save`].

use std::{collections::BTreeMap, path::Path};

use serde::{Deserialize, Serialize};

use super::{machine::Machine, plot::Plot};

/// A table of already formatted cells.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(title: &str, header: &[&str]) -> Self {
        Self {
            title: title.into(),
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: vec![],
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        assert_eq!(cells.len(), self.header.len(), "one cell per column");
        self.rows.push(cells);
    }

    /// Aligned columns for the terminal.
    pub fn text(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|c| {
                std::iter::once(&self.header)
                    .chain(&self.rows)
                    .map(|r| r[c].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        let mut out = format!("{}\n", self.title);
        out.push_str(&format!("  {}\n", line(&self.header)));
        for r in &self.rows {
            out.push_str(&format!("  {}\n", line(r)));
        }
        out
    }

    /// A GitHub-flavoured markdown table.
    pub fn markdown(&self) -> String {
        let esc = |s: &String| s.replace('|', "\\|");
        let mut out = String::new();
        if !self.title.is_empty() {
            out.push_str(&format!("**{}**\n\n", self.title));
        }
        out.push_str(&format!(
            "| {} |\n|{}|\n",
            self.header.iter().map(esc).collect::<Vec<_>>().join(" | "),
            self.header
                .iter()
                .map(|_| "---")
                .collect::<Vec<_>>()
                .join("|")
        ));
        for r in &self.rows {
            out.push_str(&format!(
                "| {} |\n",
                r.iter().map(esc).collect::<Vec<_>>().join(" | ")
            ));
        }
        out
    }
}

/// A number the project wants to see, and what was measured. Reported, never asserted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub what: String,
    pub wanted: String,
    pub measured: String,
    /// `None` when the measurement needed for it could not be made.
    pub met: Option<bool>,
}

/// One part's results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Section {
    /// `xdp`, `throughput`, `failover`, `scale`: also the `cargo xtask bench <part>` name.
    pub id: String,
    pub title: String,
    /// How it was measured (markdown), so the numbers can be reproduced and judged.
    pub method: String,
    pub machine: Machine,
    /// Whether this run used `--quick` (fewer repetitions: not for publishing).
    pub quick: bool,
    pub tables: Vec<Table>,
    pub targets: Vec<Target>,
    /// Observations worth a sentence (markdown bullets without the dash).
    pub notes: Vec<String>,
    pub plots: Vec<Plot>,
    /// The raw measurements, for anyone who wants to recompute.
    pub data: serde_json::Value,
}

impl Section {
    pub fn new(id: &str, title: &str, quick: bool) -> Self {
        Self {
            id: id.into(),
            title: title.into(),
            method: String::new(),
            machine: Machine::detect(),
            quick,
            tables: vec![],
            targets: vec![],
            notes: vec![],
            plots: vec![],
            data: serde_json::Value::Null,
        }
    }

    /// Everything for the terminal.
    pub fn text(&self) -> String {
        let mut out = format!("== {} ==\n", self.title);
        for t in &self.tables {
            out.push_str(&t.text());
            out.push('\n');
        }
        for t in &self.targets {
            out.push_str(&format!(
                "  target {}: wanted {}, measured {} -> {}\n",
                t.what,
                t.wanted,
                t.measured,
                met_word(t.met)
            ));
        }
        for n in &self.notes {
            out.push_str(&format!("  note: {n}\n"));
        }
        out
    }
}

fn met_word(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "NOT met",
        None => "not measured",
    }
}

/// The order parts appear in BENCHMARKS.md.
pub const PART_ORDER: [&str; 4] = ["xdp", "throughput", "failover", "scale"];

/// All parts' latest results (`bench/results.json`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Results {
    pub sections: BTreeMap<String, Section>,
}

impl Results {
    /// The file's contents, or empty when it does not exist yet.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(s) => serde_json::from_str(&s)
                .map_err(|e| anyhow::anyhow!("{}: {e} (delete it to start over)", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(anyhow::anyhow!("{}: {e}", path.display())),
        }
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, serde_json::to_string_pretty(self)? + "\n")?;
        Ok(())
    }

    pub fn insert(&mut self, section: Section) {
        self.sections.insert(section.id.clone(), section);
    }

    fn ordered(&self) -> impl Iterator<Item = &Section> {
        PART_ORDER
            .iter()
            .filter_map(|id| self.sections.get(*id))
            .chain(
                self.sections
                    .values()
                    .filter(|s| !PART_ORDER.contains(&s.id.as_str())),
            )
    }

    /// BENCHMARKS.md. `plot_prefix` is the plots' folder relative to the markdown file.
    pub fn markdown(&self, plot_prefix: &str) -> String {
        let mut out = String::from(
            "# vrrp-xdp benchmarks\n\n\
             Generated by `cargo xtask bench` (each part alone: `cargo xtask bench <part>`); do \
             not edit by hand. Raw numbers: [`bench/results.json`](bench/results.json). \
             Benchmarks report numbers, they do not pass or fail; the targets are what the \
             project wants to see.\n\n",
        );
        let targets: Vec<(&Section, &Target)> = self
            .ordered()
            .flat_map(|s| s.targets.iter().map(move |t| (s, t)))
            .collect();
        if !targets.is_empty() {
            let mut t = Table::new("", &["part", "target", "wanted", "measured", ""]);
            for (s, tg) in targets {
                t.row(vec![
                    s.id.clone(),
                    tg.what.clone(),
                    tg.wanted.clone(),
                    tg.measured.clone(),
                    met_word(tg.met).into(),
                ]);
            }
            out.push_str("## Targets\n\n");
            out.push_str(&t.markdown());
            out.push('\n');
        }
        for s in self.ordered() {
            out.push_str(&format!("## {}\n\n", s.title));
            out.push_str(&format!(
                "Measured {} on {}{}. Command: `cargo xtask bench {}{}`.\n\n",
                s.machine.date,
                s.machine.describe(),
                if s.quick {
                    " — **quick run (fewer repetitions), not for publishing**"
                } else {
                    ""
                },
                s.id,
                if s.quick { " --quick" } else { "" }
            ));
            if !s.method.is_empty() {
                out.push_str(&format!("{}\n\n", s.method.trim()));
            }
            for t in &s.tables {
                out.push_str(&t.markdown());
                out.push('\n');
            }
            for p in &s.plots {
                out.push_str(&format!("![{}]({plot_prefix}/{})\n\n", p.title, p.file));
            }
            for n in &s.notes {
                out.push_str(&format!("- {n}\n"));
            }
            if !s.notes.is_empty() {
                out.push('\n');
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(id: &str) -> Section {
        let mut s = Section::new(id, &format!("Part {id}"), false);
        let mut t = Table::new("numbers", &["path", "ns/packet"]);
        t.row(vec!["advert".into(), "12.5".into()]);
        t.row(vec!["a|b".into(), "3".into()]);
        s.tables.push(t);
        s.targets.push(Target {
            what: "decision cost".into(),
            wanted: "≤ 20 ns".into(),
            measured: "12.5 ns".into(),
            met: Some(true),
        });
        s
    }

    #[test]
    fn text_tables_align_columns() {
        let text = section("xdp").tables[0].text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "  path    ns/packet");
        assert_eq!(lines[2], "  advert  12.5");
    }

    #[test]
    fn markdown_escapes_pipes_and_lists_targets_first() {
        let mut r = Results::default();
        r.insert(section("scale"));
        r.insert(section("xdp"));
        let md = r.markdown("bench");
        assert!(md.contains("| a\\|b | 3 |"), "{md}");
        let targets = md.find("## Targets").unwrap();
        let xdp = md.find("## Part xdp").unwrap();
        let scale = md.find("## Part scale").unwrap();
        assert!(targets < xdp && xdp < scale, "parts in PART_ORDER: {md}");
        assert!(
            md.contains("| xdp | decision cost | ≤ 20 ns | 12.5 ns | met |"),
            "{md}"
        );
    }

    #[test]
    fn results_round_trip_and_a_part_replaces_only_itself() {
        let dir = std::env::temp_dir().join(format!("vxt-bench-{}", std::process::id()));
        let path = dir.join("results.json");
        let mut r = Results::default();
        r.insert(section("xdp"));
        r.insert(section("scale"));
        r.save(&path).unwrap();
        let mut back = Results::load(&path).unwrap();
        assert_eq!(back, r);
        let mut newer = section("xdp");
        newer.notes.push("rerun".into());
        back.insert(newer);
        assert_eq!(back.sections["xdp"].notes, vec!["rerun".to_string()]);
        assert_eq!(back.sections["scale"], r.sections["scale"]);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(Results::load(&path).unwrap(), Results::default());
    }
}
