//! CSV: UTF-8 with a byte-order mark (so spreadsheet programs show Vietnamese), one line per
//! unit × row; section subtotals and report totals are lines of their own, marked by their key.

use super::{Document, RenderError, Reports};
use crate::forms::{COLUMNS, Row, Values};

pub fn write(doc: &Document<'_>, out: &mut dyn std::io::Write) -> Result<(), RenderError> {
    out.write_all("\u{feff}".as_bytes())?;
    let mut w = ::csv::Writer::from_writer(out);
    let mut header = vec![
        "unit".to_owned(),
        "section".to_owned(),
        "key".to_owned(),
        "label".to_owned(),
    ];
    header.extend(COLUMNS.iter().map(|c| c.to_string()));
    w.write_record(&header)?;
    let mut line = |unit: &str, section: &str, key: &str, label: &str, values: &Values| {
        let mut record = vec![
            unit.to_owned(),
            section.to_owned(),
            key.to_owned(),
            label.to_owned(),
        ];
        record.extend(COLUMNS.iter().map(|&c| values.get(c).to_string()));
        w.write_record(&record)
    };
    let rows =
        |rows: &[Row],
         unit: &str,
         section: &str,
         line: &mut dyn FnMut(&str, &str, &str, &str, &Values) -> Result<(), ::csv::Error>|
         -> Result<(), ::csv::Error> {
            for r in rows {
                line(unit, section, &r.key, &r.label, &r.values)?;
            }
            Ok(())
        };
    match doc.reports {
        Reports::PerUnit(reports) => {
            for r in reports {
                rows(&r.rows, &r.unit, "", &mut line)?;
                line(&r.unit, "", "_total", "Tổng số", &r.total)?;
            }
        }
        Reports::Aggregate(reports) => {
            for r in reports {
                for s in &r.sections {
                    rows(&s.rows, &r.unit, &s.kind, &mut line)?;
                    line(&r.unit, &s.kind, "_subtotal", "Cộng", &s.subtotal)?;
                }
                line(&r.unit, "", "_total", "Tổng số", &r.total)?;
            }
        }
    }
    w.flush()?;
    Ok(())
}
