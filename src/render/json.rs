//! The JSON of report-json.md.

use super::{Document, RenderError, Reports};
use crate::domain::Finding;
use crate::domain::period::PeriodSummary;
use crate::forms::aggregate::AggregateReport;
use crate::forms::narrative::Narrative;
use crate::forms::satisfaction::SatisfactionReport;
use crate::forms::table::UnitReport;
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
    let (form, period, findings) = (doc.form.code.as_str(), doc.period.summary(), doc.findings);
    match doc.reports {
        Reports::PerUnit(reports) => {
            let document = Out::<UnitReport> {
                form,
                period,
                reports,
                aggregates: None,
                findings,
            };
            serde_json::to_writer_pretty(&mut out, &document)?
        }
        Reports::Aggregate(reports) => {
            let document = Out::<AggregateReport> {
                form,
                period,
                reports,
                aggregates: None,
                findings,
            };
            serde_json::to_writer_pretty(&mut out, &document)?
        }
        Reports::Narrative(reports) => {
            let document = Out::<Narrative> {
                form,
                period,
                reports,
                aggregates: None,
                findings,
            };
            serde_json::to_writer_pretty(&mut out, &document)?
        }
        Reports::Satisfaction(reports, aggregates) => {
            let document = Out::<SatisfactionReport> {
                form,
                period,
                reports,
                aggregates: Some(aggregates),
                findings,
            };
            serde_json::to_writer_pretty(&mut out, &document)?
        }
    }
    use std::io::Write;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}
