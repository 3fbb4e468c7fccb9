//! CSV: UTF-8 with a byte-order mark (so spreadsheet programs show Vietnamese), one line per
//! unit × row; section subtotals and report totals are lines of their own, marked by their key.

use super::{Document, RenderError, Reports};
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
        Reports::Aggregate(reports) => {
            for r in reports {
                for s in &r.sections {
                    w.rows(&r.unit, &s.kind, &s.rows)?;
                    w.line(&r.unit, &s.kind, "_subtotal", "Cộng", &s.subtotal)?;
                }
                w.line(&r.unit, "", "_total", "Tổng số", &r.total)?;
            }
        }
    }
    w.csv.flush()?;
    Ok(())
}
