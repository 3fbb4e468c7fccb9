//! The JSON of report-json.md.

use super::{Document, RenderError, Reports};
use crate::domain::Finding;
use crate::domain::period::PeriodSummary;
use serde::{Deserialize, Serialize};

/// The document as JSON; also what tests read back.
#[derive(Debug, Serialize, Deserialize)]
pub struct JsonDocument<R> {
    pub form: String,
    pub period: PeriodSummary,
    pub reports: Vec<R>,
    pub findings: Vec<JsonFinding>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonFinding {
    pub code: String,
    pub severity: String,
    pub record: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Serialize)]
struct Out<'a, R: Serialize> {
    form: &'a str,
    period: PeriodSummary,
    reports: &'a [R],
    #[serde(skip_serializing_if = "Option::is_none")]
    aggregates: Option<&'a [R]>,
    findings: &'a [Finding],
}

pub fn write(doc: &Document<'_>, out: &mut dyn std::io::Write) -> Result<(), RenderError> {
    let mut out = std::io::BufWriter::new(out);
    match doc.reports {
        Reports::PerUnit(reports) => emit(&mut out, doc, reports, None)?,
        Reports::Aggregate(reports, _) => emit(&mut out, doc, reports, None)?,
        Reports::Narrative(reports) => emit(&mut out, doc, reports, None)?,
        Reports::Satisfaction(reports, aggregates) => {
            emit(&mut out, doc, reports, Some(aggregates))?
        }
    }
    use std::io::Write;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

fn emit<R: Serialize>(
    out: &mut impl std::io::Write,
    doc: &Document<'_>,
    reports: &[R],
    aggregates: Option<&[R]>,
) -> Result<(), RenderError> {
    let document = Out {
        form: &doc.form.code,
        period: doc.period.summary(),
        reports,
        aggregates,
        findings: doc.findings,
    };
    Ok(serde_json::to_writer_pretty(out, &document)?)
}
