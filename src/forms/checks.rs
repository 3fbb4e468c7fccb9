//! Column-4 checks the 2023 letter asks for (domain.md §5 findings): warnings, never exclusions.
//! - `online_share_shift`: a unit's online share moved far from its previous period;
//! - `procedure_not_online`: online dossiers for a procedure the catalogue says is not online.

use super::ii06a::{DOSSIER_METRICS, Placement, Window, place};
use super::table::Tally;
use crate::catalog::FieldCatalog;
use crate::domain::{Dossier, Finding, FindingCode, Period, UnitTree};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecksConfig {
    pub column_4: Column4,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column4 {
    pub online_share_shift_points: f64,
    pub min_received: u64,
}

impl ChecksConfig {
    pub fn from_toml(text: &str) -> Result<ChecksConfig, String> {
        toml::from_str(text).map_err(|e| format!("checks: {}", e.message()))
    }

    /// The thresholds shipped in config/checks.toml.
    pub fn builtin() -> ChecksConfig {
        ChecksConfig::from_toml(include_str!("../../config/checks.toml"))
            .expect("shipped checks are valid (tested)")
    }
}

fn metric(name: &str) -> usize {
    DOSSIER_METRICS
        .iter()
        .position(|m| *m == name)
        .expect("a dossier metric")
}

/// Both column-4 checks for one period; `now` is the period's own tally and `before` the
/// previous period's (both already computed; none before the first period).
#[allow(clippy::too_many_arguments)]
pub fn column4(
    dossiers: &[Dossier],
    now: &Tally,
    before: Option<(&Period, &Tally)>,
    units: &UnitTree,
    period: &Period,
    catalog: Option<&FieldCatalog>,
    config: &Column4,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let (online, counter) = (
        metric("received_online"),
        metric("received_in_person_or_post"),
    );
    let share = |counts: &[u64]| {
        let received = counts[online] + counts[counter];
        (
            received,
            if received == 0 {
                0.0
            } else {
                100.0 * counts[online] as f64 / received as f64
            },
        )
    };
    if let Some((previous, before)) = before {
        let mut ids: Vec<usize> = now.units().collect();
        ids.sort_unstable();
        ids.dedup();
        for unit in ids {
            let (Some(a), Some(b)) = (now.unit_counts(unit), before.unit_counts(unit)) else {
                continue;
            };
            let ((received_now, share_now), (received_before, share_before)) =
                (share(&a), share(&b));
            if received_now < config.min_received || received_before < config.min_received {
                continue;
            }
            if (share_now - share_before).abs() >= config.online_share_shift_points {
                let code = units.get(unit).code.clone();
                let message = format!(
                    "tỷ lệ tiếp nhận trực tuyến (cột 4) là {share_now:.1} % trong kỳ {period}, so với {share_before:.1} % kỳ {previous}; \
                     kiểm tra kênh thực hiện (KenhThucHien) của hồ sơ kỳ này trước khi duyệt"
                );
                findings.push(
                    Finding::new(FindingCode::OnlineShareShift, code.clone(), message)
                        .with_unit(code),
                );
            }
        }
    }
    if let Some(catalog) = catalog {
        let window = Window::from(period);
        for d in dossiers {
            if let Placement::Counted { columns, .. } = place(d, window, units) {
                findings.extend(procedure_not_online(d, &columns, catalog));
            }
        }
    }
    findings
}

/// The `procedure_not_online` warning for one counted dossier, given its columns: received online
/// (column 4) for a procedure the catalogue says is not offered online.
pub fn procedure_not_online(
    d: &Dossier,
    columns: &[bool; 11],
    catalog: &FieldCatalog,
) -> Option<Finding> {
    if !columns[metric("received_online")]
        || catalog.procedure_online(&d.procedure_code) != Some(false)
    {
        return None;
    }
    let message = format!(
        "tiếp nhận trực tuyến (cột 4) nhưng danh mục ghi thủ tục {} không cung cấp trực tuyến; \
         kiểm tra KenhThucHien hoặc danh mục thủ tục",
        d.procedure_code
    );
    Some(
        Finding::new(FindingCode::ProcedureNotOnline, d.key.to_string(), message)
            .with_unit(d.unit_code.to_string()),
    )
}
