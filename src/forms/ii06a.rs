//! Biểu II.06a: handling results at one unit (domain.md §5).
//!
//! Each dossier is first checked (the findings, in the order domain.md gives, the first error
//! wins), then placed in its unit's row for its field, and each of the eleven columns is decided by
//! its own rule. Nothing derives one column from others, so the identities
//! 3 = 4 + 5 + 6, 7 = 8 + 9 + 10, 11 = 12 + 13 and 3 = 7 + 11 are real checks of the rules.

use super::{FormCode, IdentityViolation, Row, Values};
use crate::domain::finding::sort_findings;
use crate::domain::unit::UnitId;
use crate::domain::{
    Channel, Day, Dossier, Finding, FindingCode, Period, ResultKind, StatusClass, UnitTree,
};
use std::collections::HashMap;
use std::sync::Arc;

/// II.06a of one unit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UnitReport {
    pub unit: String,
    /// One row per field with at least one counted dossier, sorted by key.
    pub rows: Vec<Row>,
    pub total: Values,
}

/// II.06a for every unit with a counted dossier, and the findings about the input.
#[derive(Debug, Clone, Default)]
pub struct Ii06aResult {
    /// Sorted by unit code.
    pub reports: Vec<UnitReport>,
    /// Sorted by code, then record.
    pub findings: Vec<Finding>,
    /// Reports withheld because an identity failed (a bug).
    pub violations: Vec<IdentityViolation>,
}

/// Field names for row labels, looked up by field code.
pub trait FieldLabels {
    fn label(&self, field_code: &str) -> Option<String>;
}

/// Without a catalogue: the first non-empty TenLinhVuc seen for the code, in input order, over
/// every readable dossier (counted or not), else the code itself.
#[derive(Debug, Default)]
pub struct FirstSeenLabels(HashMap<Arc<str>, Arc<str>>);

impl FirstSeenLabels {
    pub fn from_dossiers(dossiers: &[Dossier]) -> FirstSeenLabels {
        let mut map: HashMap<Arc<str>, Arc<str>> = HashMap::new();
        for d in dossiers {
            if !d.field_name.is_empty() && !map.contains_key(&d.field_code) {
                map.insert(d.field_code.clone(), d.field_name.clone());
            }
        }
        FirstSeenLabels(map)
    }
}

impl FieldLabels for FirstSeenLabels {
    fn label(&self, field_code: &str) -> Option<String> {
        self.0.get(field_code).map(|s| s.to_string())
    }
}

/// What the rules make of one dossier for one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Outside this period's report, by rule (excluded status, deleted, received after D, closed
    /// before T): not a problem.
    Outside,
    /// Left out of the counts with an error finding.
    Error(FindingCode, String),
    /// Counted in its unit's row for its field; columns 3..13 as 0/1.
    Counted {
        unit: UnitId,
        columns: [bool; 11],
        warning: Option<(FindingCode, String)>,
    },
}

/// The period's two bounds as local days: T and D.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub first: Day,
    pub last: Day,
}

impl From<&Period> for Window {
    fn from(p: &Period) -> Window {
        Window {
            first: p.first(),
            last: p.last(),
        }
    }
}

/// Applies domain.md §5 to one dossier.
pub fn place(d: &Dossier, w: Window, units: &UnitTree) -> Placement {
    let class = d.status.class();
    if class == StatusClass::Excluded || d.deleted {
        return Placement::Outside;
    }
    let Some(received) = d.received_at.map(|i| i.local_day()) else {
        return error(
            FindingCode::NoReceptionDate,
            "NgayTiepNhan is empty; the dossier cannot be placed in any period",
        );
    };
    if received > w.last {
        return Placement::Outside;
    }
    let finished = d.finished_at.map(|i| i.local_day());
    if class == StatusClass::Finished && finished.is_none() {
        return error(
            FindingCode::FinishedWithoutFinishDate,
            "status says processing finished (9/10) but NgayKetThucXuLy is empty",
        );
    }
    // KT means something only for statuses 7, 9 and 10; for any other status the dossier is open.
    let closed_on = if d.status.reads_finish_date() {
        finished
    } else {
        None
    };
    if let Some(k) = closed_on
        && k < received
    {
        return error(
            FindingCode::FinishedBeforeReceived,
            "NgayKetThucXuLy is before NgayTiepNhan",
        );
    }
    if closed_on.is_some_and(|k| k < w.first) {
        return Placement::Outside;
    }
    let in_period = received >= w.first;
    let channel = Channel::classify(&d.channel);
    if in_period && channel.is_none() {
        let msg = format!(
            "KenhThucHien `{}` is not 1 (in person), 2 (online) or 3 (postal)",
            d.channel
        );
        return Placement::Error(FindingCode::UnknownChannel, msg);
    }
    let Some(unit) = units.find(&d.unit_code) else {
        let msg = format!(
            "MaDonViXuLy `{}` is not in the unit tree; add the unit to the configuration",
            d.unit_code
        );
        return Placement::Error(FindingCode::UnknownUnit, msg);
    };

    let withdrawn = class == StatusClass::Withdrawn || d.result_kind == ResultKind::Withdrawal;
    let resolved = !withdrawn;
    let due = d.due_at.map(|i| i.local_day());
    let closed_in_period = closed_on.filter(|&k| w.first <= k && k <= w.last);
    let pending_at_end = !closed_on.is_some_and(|k| k <= w.last);
    let paused_at_end = match d.status.code() {
        6 | 8 => true,
        5 => d
            .supplement_requested_at
            .is_none_or(|y| y.local_day() <= w.last),
        _ => false,
    };
    let columns = [
        // 3: every dossier of the universe.
        true,
        // 4, 5: received in the period, online / in person or by post.
        in_period && channel == Some(Channel::Online),
        in_period && matches!(channel, Some(Channel::InPerson | Channel::Postal)),
        // 6: carried over from before the period.
        received < w.first,
        // 7: closed in the period; 8–10 split it by due date, withdrawn ones count as on time.
        closed_in_period.is_some(),
        closed_in_period.is_some_and(|k| resolved && due.is_some_and(|h| k < h)),
        closed_in_period.is_some_and(|k| withdrawn || due.is_none_or(|h| k == h)),
        closed_in_period.is_some_and(|k| resolved && due.is_some_and(|h| k > h)),
        // 11: still pending at D; 12 within time (or paused), 13 overdue.
        pending_at_end,
        pending_at_end && (paused_at_end || due.is_none_or(|h| h >= w.last)),
        pending_at_end && !paused_at_end && due.is_some_and(|h| h < w.last),
    ];
    let warning = (class == StatusClass::Withdrawn && finished.is_none()).then(|| {
        (
            FindingCode::WithdrawnWithoutFinishDate,
            "status 7 (withdrawal requested) without NgayKetThucXuLy: counted as still pending"
                .to_owned(),
        )
    });
    Placement::Counted {
        unit,
        columns,
        warning,
    }
}

fn error(code: FindingCode, message: &str) -> Placement {
    Placement::Error(code, message.to_owned())
}

/// Computes II.06a for every unit of the tree that has a counted dossier.
pub fn compute(
    dossiers: &[Dossier],
    units: &UnitTree,
    period: &Period,
    labels: &dyn FieldLabels,
) -> Ii06aResult {
    let window = Window::from(period);
    let mut cells: HashMap<(UnitId, Arc<str>), Values> = HashMap::new();
    let mut findings = Vec::new();
    for d in dossiers {
        match place(d, window, units) {
            Placement::Outside => {}
            Placement::Error(code, message) => {
                findings.push(
                    Finding::new(code, d.key.to_string(), message)
                        .with_unit(d.unit_code.to_string()),
                );
            }
            Placement::Counted {
                unit,
                columns,
                warning,
            } => {
                cells
                    .entry((unit, d.field_code.clone()))
                    .or_default()
                    .add_flags(&columns);
                if let Some((code, message)) = warning {
                    findings.push(
                        Finding::new(code, d.key.to_string(), message)
                            .with_unit(d.unit_code.to_string()),
                    );
                }
            }
        }
    }
    let mut by_unit: HashMap<UnitId, Vec<Row>> = HashMap::new();
    for ((unit, field), values) in cells {
        let label = labels.label(&field).unwrap_or_else(|| field.to_string());
        by_unit.entry(unit).or_default().push(Row {
            key: field.to_string(),
            label,
            values,
        });
    }
    let mut result = Ii06aResult {
        findings,
        ..Ii06aResult::default()
    };
    for (unit, mut rows) in by_unit {
        rows.sort_by(|a, b| a.key.cmp(&b.key));
        let report = UnitReport {
            unit: units.get(unit).code.clone(),
            total: sum_rows(&rows),
            rows,
        };
        match check(FormCode::Ii06a, &report.unit, &report.rows, &report.total) {
            Ok(()) => result.reports.push(report),
            Err(v) => result.violations.push(v),
        }
    }
    result.reports.sort_by(|a, b| a.unit.cmp(&b.unit));
    sort_findings(&mut result.findings);
    result
}

pub(super) fn sum_rows(rows: &[Row]) -> Values {
    let mut total = Values::default();
    for r in rows {
        total.add(&r.values);
    }
    total
}

/// Checks every row and the total of a report against the identities.
pub(super) fn check(
    form: FormCode,
    unit: &str,
    rows: &[Row],
    total: &Values,
) -> Result<(), IdentityViolation> {
    let named = rows
        .iter()
        .map(|r| (r.key.as_str(), &r.values))
        .chain(std::iter::once(("_total", total)));
    for (row, values) in named {
        if let Some(identity) = values.broken_identity() {
            return Err(IdentityViolation {
                form,
                unit: unit.to_owned(),
                row: row.to_owned(),
                identity,
                values: values.to_string(),
            });
        }
    }
    Ok(())
}
