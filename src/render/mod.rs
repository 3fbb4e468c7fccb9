//! Render: computed reports as files for people and tools — JSON (report-json.md), CSV, and XLSX
//! in the official layout of the circular.
//!
//! Rendering never computes a figure; it only lays out what `forms` produced.

pub mod csv;
pub mod explain;
pub mod json;
pub mod letter;
pub mod narrative;
pub mod reconcile;
pub mod texts;
pub mod xlsx;

use crate::domain::{Finding, Period, UnitTree};
use crate::forms::FormDef;
use crate::forms::aggregate::AggregateReport;
use crate::forms::definition::RegimeInfo;
use crate::forms::narrative::Narrative;
use crate::forms::satisfaction::SatisfactionReport;
use crate::forms::table::UnitReport;
use std::str::FromStr;

/// The reports of one form for one period.
#[derive(Debug, Clone, Copy)]
pub enum Reports<'a> {
    PerUnit(&'a [UnitReport]),
    /// The aggregates, and the per-unit reports they sum (listed under their section when the
    /// form has no field rows).
    Aggregate(&'a [AggregateReport], &'a [UnitReport]),
    /// Per unit, and per aggregating unit over its subtree.
    Satisfaction(&'a [SatisfactionReport], &'a [SatisfactionReport]),
    /// II.01-ĐC drafts.
    Narrative(&'a [Narrative]),
}

/// Everything one output file shows.
#[derive(Debug, Clone, Copy)]
pub struct Document<'a> {
    pub form: &'a FormDef,
    pub regime: &'a RegimeInfo,
    pub period: &'a Period,
    pub units: &'a UnitTree,
    pub reports: Reports<'a>,
    pub findings: &'a [Finding],
    /// The texts of written reports that differ by unit (II.01-ĐC as DOCX).
    pub texts: &'a texts::DocumentTexts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Json,
    Csv,
    Xlsx,
    /// Narratives only.
    Markdown,
    /// Narratives only.
    Docx,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown output format `{0}`: use json, csv or xlsx (md or docx for II.01-ĐC)")]
pub struct UnknownOutputFormat(pub String);

impl FromStr for OutputFormat {
    type Err = UnknownOutputFormat;
    fn from_str(s: &str) -> Result<Self, UnknownOutputFormat> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(OutputFormat::Json),
            "csv" => Ok(OutputFormat::Csv),
            "xlsx" => Ok(OutputFormat::Xlsx),
            "md" | "markdown" => Ok(OutputFormat::Markdown),
            "docx" => Ok(OutputFormat::Docx),
            _ => Err(UnknownOutputFormat(s.to_owned())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot write the report: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot encode the report as JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot build the workbook: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("cannot write CSV: {0}")]
    Csv(#[from] ::csv::Error),
    #[error("{0}: no unit has anything to report in this period, so there is no document to write")]
    Nothing(String),
    #[error("{form} cannot be written as {format}: {hint}")]
    Unsupported {
        form: String,
        format: &'static str,
        hint: &'static str,
    },
}

/// Writes `doc` in `format`.
pub fn write(
    doc: &Document<'_>,
    format: OutputFormat,
    out: &mut dyn std::io::Write,
) -> Result<(), RenderError> {
    let unsupported = |format, hint| RenderError::Unsupported {
        form: doc.form.code.clone(),
        format,
        hint,
    };
    match (doc.reports, format) {
        (_, OutputFormat::Json) => json::write(doc, out),
        (Reports::Narrative(n), OutputFormat::Markdown) => narrative::markdown(n, out),
        (Reports::Narrative([]), OutputFormat::Docx) => {
            Err(RenderError::Nothing(doc.form.code.clone()))
        }
        (Reports::Narrative([one]), OutputFormat::Docx) => {
            let texts = narrative::unit_texts(doc.units, doc.texts, &one.unit);
            Ok(out.write_all(&narrative::docx(one, &texts)?)?)
        }
        (Reports::Narrative(many), OutputFormat::Docx) => {
            Ok(out.write_all(&narrative::docx_zip(many, doc.units, doc.texts)?)?)
        }
        (Reports::Narrative(_), OutputFormat::Csv) => {
            Err(unsupported("csv", "use md, docx or json"))
        }
        (Reports::Narrative(_), OutputFormat::Xlsx) => {
            Err(unsupported("xlsx", "use md, docx or json"))
        }
        (_, OutputFormat::Markdown) => Err(unsupported("md", "use json, csv or xlsx")),
        (_, OutputFormat::Docx) => Err(unsupported("docx", "use json, csv or xlsx")),
        (_, OutputFormat::Csv) => csv::write(doc, out),
        (_, OutputFormat::Xlsx) => Ok(out.write_all(&xlsx::to_bytes(doc)?)?),
    }
}

impl Document<'_> {
    /// The figure columns, in the definition's order.
    pub fn figure_columns(&self) -> Vec<u32> {
        self.form.figure_columns()
    }
}

/// Vietnamese name of a unit kind, for section headings. Kinds are configuration; unknown ones
/// print as they are.
pub fn kind_label_vi(kind: &str) -> &str {
    match kind {
        "province" => "UBND cấp tỉnh",
        "department" => "Sở, ban, ngành cấp tỉnh",
        "district" => "UBND cấp huyện",
        "district-office" => "Cơ quan chuyên môn cấp huyện",
        "commune" => "UBND cấp xã",
        other => other,
    }
}
