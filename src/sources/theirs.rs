//! Another system's statistics, as a table of cells (`reconcile --theirs FILE`): a CSV file (one
//! sheet) or every sheet of an XLSX workbook, cells as text or numbers, nothing interpreted yet.
//! `forms::reconcile` finds the units, fields and columns in them.

pub use crate::forms::reconcile::{RawCell, RawSheet};
use calamine::{Data, Reader, Xlsx};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum TheirsError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path}: only .xlsx and .csv are read (the flat table or the template layout)")]
    Format { path: String },
}

/// Reads every sheet of `path`.
#[tracing::instrument(name = "sources.theirs", skip_all, fields(path = %path.display()))]
pub fn read(path: &Path) -> Result<Vec<RawSheet>, TheirsError> {
    let fail = |reason: String| TheirsError::Read {
        path: path.display().to_string(),
        reason,
    };
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "xlsx" => {
            let mut book: Xlsx<_> = calamine::open_workbook(path)
                .map_err(|e: calamine::XlsxError| fail(e.to_string()))?;
            let mut sheets = Vec::new();
            for name in book.sheet_names() {
                let range = book
                    .worksheet_range(&name)
                    .map_err(|e| fail(e.to_string()))?;
                let (top, left) = range.start().unwrap_or((0, 0));
                let mut rows = vec![Vec::new(); top as usize];
                for row in range.rows() {
                    let mut cells = vec![RawCell::Empty; left as usize];
                    cells.extend(row.iter().map(|c| match c {
                        Data::Empty => RawCell::Empty,
                        Data::Float(f) => RawCell::Number(*f),
                        Data::Int(i) => RawCell::Number(*i as f64),
                        Data::String(s) => RawCell::Text(s.clone()),
                        other => RawCell::Text(other.to_string()),
                    }));
                    rows.push(cells);
                }
                sheets.push(RawSheet { name, rows });
            }
            Ok(sheets)
        }
        "csv" => {
            let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
            let text = String::from_utf8(bytes).map_err(|_| fail("not UTF-8 text".into()))?;
            let text = text.trim_start_matches('\u{feff}');
            let first = text.lines().next().unwrap_or("");
            // Spreadsheets set to a Vietnamese locale write `;` between fields.
            let delimiter = if first.matches(';').count() > first.matches(',').count() {
                b';'
            } else {
                b','
            };
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .delimiter(delimiter)
                .from_reader(text.as_bytes());
            let mut rows = Vec::new();
            for record in reader.records() {
                let record = record.map_err(|e| fail(e.to_string()))?;
                rows.push(
                    record
                        .iter()
                        .map(|c| {
                            let c = c.trim();
                            if c.is_empty() {
                                RawCell::Empty
                            } else {
                                RawCell::Text(c.to_owned())
                            }
                        })
                        .collect(),
                );
            }
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok(vec![RawSheet { name, rows }])
        }
        _ => Err(TheirsError::Format {
            path: path.display().to_string(),
        }),
    }
}
