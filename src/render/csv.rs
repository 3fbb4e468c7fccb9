//! CSV: UTF-8 with a byte-order mark (so spreadsheet programs show Vietnamese), one line per
//! unit × row; section subtotals and report totals are lines of their own, marked by their key.

use super::{Document, RenderError, Reports};
use crate::forms::satisfaction::{CHANNELS, SatisfactionReport};
use crate::forms::{Row, Values};

struct Lines<W: std::io::Write> {
    csv: ::csv::Writer<W>,
    columns: Vec<u32>,
}

impl<W: std::io::Write> Lines<W> {
    fn line(
        &mut self,
        unit: &str,
        section: &str,
        key: &str,
        label: &str,
        values: &Values,
    ) -> Result<(), RenderError> {
        let mut record = vec![
            unit.to_owned(),
            section.to_owned(),
            key.to_owned(),
            label.to_owned(),
        ];
        record.extend(self.columns.iter().map(|&c| values.get(c).to_string()));
        Ok(self.csv.write_record(&record)?)
    }

    fn rows(&mut self, unit: &str, section: &str, rows: &[Row]) -> Result<(), RenderError> {
        rows.iter()
            .try_for_each(|r| self.line(unit, section, &r.key, &r.label, &r.values))
    }
}

pub fn write(doc: &Document<'_>, out: &mut dyn std::io::Write) -> Result<(), RenderError> {
    out.write_all("\u{feff}".as_bytes())?;
    if let Reports::Satisfaction(units, aggregates) = doc.reports {
        return satisfaction(units, aggregates, out);
    }
    let mut w = Lines {
        csv: ::csv::Writer::from_writer(out),
        columns: doc.figure_columns(),
    };
    let mut header = vec![
        "unit".to_owned(),
        "section".to_owned(),
        "key".to_owned(),
        "label".to_owned(),
    ];
    header.extend(w.columns.iter().map(|c| c.to_string()));
    w.csv.write_record(&header)?;
    match doc.reports {
        Reports::PerUnit(reports) => {
            for r in reports {
                w.rows(&r.unit, "", &r.rows)?;
                w.line(&r.unit, "", "_total", "Tổng số", &r.total)?;
            }
        }
        Reports::Aggregate(reports, _) => {
            for r in reports {
                for s in &r.sections {
                    w.rows(&r.unit, &s.kind, &s.rows)?;
                    w.line(&r.unit, &s.kind, "_subtotal", "Cộng", &s.subtotal)?;
                }
                w.line(&r.unit, "", "_total", "Tổng số", &r.total)?;
            }
        }
        Reports::Satisfaction(..) | Reports::Narrative(_) => {
            unreachable!("satisfaction is written above; render::write keeps narratives from csv")
        }
    }
    w.csv.flush()?;
    Ok(())
}

/// One line per unit (scope `unit`) and per aggregating unit (scope `subtree`).
fn satisfaction(
    units: &[SatisfactionReport],
    aggregates: &[SatisfactionReport],
    out: &mut dyn std::io::Write,
) -> Result<(), RenderError> {
    let mut csv = ::csv::Writer::from_writer(out);
    csv.write_record([
        "unit",
        "scope",
        "level_1",
        "level_2",
        "level_3",
        "tablet",
        "phieu",
        "truc-tuyen",
        "total",
        "satisfaction_rate",
        "resolved",
        "coverage",
    ])?;
    let opt = |v: Option<String>| v.unwrap_or_default();
    for (scope, list) in [("unit", units), ("subtree", aggregates)] {
        for r in list {
            let mut record = vec![r.unit.clone(), scope.to_owned()];
            record.extend(
                ["1", "2", "3"]
                    .iter()
                    .map(|l| r.levels.get(*l).copied().unwrap_or(0).to_string()),
            );
            record.extend(
                CHANNELS
                    .iter()
                    .map(|c| r.channels.get(*c).copied().unwrap_or(0).to_string()),
            );
            record.push(r.total.to_string());
            record.push(opt(r.satisfaction_rate.map(|v| format!("{v:.1}"))));
            record.push(opt(r.resolved.map(|v| v.to_string())));
            record.push(opt(r.coverage.map(|v| format!("{v:.1}"))));
            csv.write_record(&record)?;
        }
    }
    csv.flush()?;
    Ok(())
}
