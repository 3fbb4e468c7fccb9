//! Duties and deadlines (domain.md §3): which forms each kind of unit files, which kinds an
//! aggregating unit sums, which reporting systems receive them, and by when — configuration of a
//! regime, never code. [`plan`] is pure; `configuration::duties` reads the file.

use crate::domain::{Period, UnitTree};
use crate::forms::FormCatalog;
use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Duties {
    /// The regime whose forms these duties name, e.g. `TT01/2020`.
    pub regime: String,
    pub name: String,
    /// Reporting systems by id (`central`, `provincial`).
    pub systems: BTreeMap<String, System>,
    pub duties: Vec<Duty>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct System {
    pub name: String,
    /// The kind of account officials log in with.
    pub account: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Duty {
    /// The unit kind this duty applies to.
    pub kind: String,
    pub forms: Vec<String>,
    /// For aggregating forms: the kinds of units in the subtree that are summed.
    #[serde(default)]
    pub aggregates: Vec<String>,
    /// Reporting system ids.
    pub systems: Vec<String>,
    /// Days after the period's cut-off (its last day).
    pub deadline_days: i64,
    /// The report must be digitally signed before it is sent.
    #[serde(default)]
    pub signed: bool,
}

impl Duty {
    /// The day this duty's reports of `period` are due.
    pub fn deadline(&self, period: &Period) -> NaiveDate {
        period.last_day + Duration::days(self.deadline_days)
    }
}

/// One line of the plan: what one unit files for one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanRow {
    pub unit: String,
    pub name: String,
    pub kind: String,
    /// Empty when the unit's kind has no duty.
    pub forms: Vec<String>,
    pub systems: Vec<String>,
    pub deadline: Option<NaiveDate>,
    pub signed: bool,
    /// For aggregating units: how many units of the subtree (itself included) are summed.
    pub aggregates: Option<usize>,
}

impl Duties {
    pub fn from_toml(text: &str) -> Result<Duties, String> {
        let duties: Duties = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        for d in &duties.duties {
            if let Some(s) = d.systems.iter().find(|s| !duties.systems.contains_key(*s)) {
                return Err(format!(
                    "duty of `{}` names system `{s}`, which [systems] does not define",
                    d.kind
                ));
            }
        }
        Ok(duties)
    }

    /// The shipped example: the 2023 Quảng Ngãi letter.
    pub fn builtin() -> Duties {
        Duties::from_toml(include_str!("../config/duties/quang-ngai-2023.toml"))
            .expect("shipped duties are valid (tested)")
    }

    /// The shipped two-tier duties (since 1/7/2025, regime TT05/2025; provisional).
    pub const TWO_TIER: &'static str = include_str!("../config/duties/two-tier-2026.toml");

    /// The duty of a kind of unit, if it has one.
    pub fn of_kind(&self, kind: &str) -> Option<&Duty> {
        self.duties.iter().find(|d| d.kind == kind)
    }

    /// Checks the forms named exist in the regime the period falls in.
    pub fn check_forms(&self, catalog: &FormCatalog, period: &Period) -> Result<(), String> {
        let regime = catalog.regime_for(period).map_err(|e| e.to_string())?;
        if regime.info.id != self.regime {
            return Err(format!(
                "these duties are for regime {}, but {} falls under {}",
                self.regime,
                period.id(),
                regime.info.id
            ));
        }
        for d in &self.duties {
            for f in &d.forms {
                regime
                    .form(f)
                    .map_err(|e| format!("duty of `{}`: {e}", d.kind))?;
            }
        }
        Ok(())
    }
}

/// What every unit files for `period`, in tree order (depth first, children by code).
pub fn plan(duties: &Duties, units: &UnitTree, period: &Period) -> Vec<PlanRow> {
    units
        .subtree(units.root())
        .map(|id| {
            let unit = units.get(id);
            let duty = duties.of_kind(&unit.kind);
            PlanRow {
                unit: unit.code.clone(),
                name: unit.name.clone(),
                kind: unit.kind.clone(),
                forms: duty.map(|d| d.forms.clone()).unwrap_or_default(),
                systems: duty.map(|d| d.systems.clone()).unwrap_or_default(),
                deadline: duty.map(|d| d.deadline(period)),
                signed: duty.is_some_and(|d| d.signed),
                aggregates: duty.filter(|d| !d.aggregates.is_empty()).map(|d| {
                    units
                        .subtree(id)
                        .filter(|&m| d.aggregates.contains(&units.get(m).kind))
                        .count()
                }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_letters_table_for_2023_q3() {
        let units = UnitTree::from_toml(include_str!("../config/units.example.toml")).unwrap();
        let period: Period = "2023-Q3".parse().unwrap();
        let duties = Duties::builtin();
        duties
            .check_forms(&FormCatalog::builtin(), &period)
            .unwrap();
        let rows = plan(&duties, &units, &period);
        let by_kind = |kind: &str| rows.iter().find(|r| r.kind == kind).unwrap();
        let date = |s: &str| Some(s.parse::<NaiveDate>().unwrap());
        assert_eq!(by_kind("commune").forms, ["II.05a", "II.06a", "II.01-ĐC"]);
        assert_eq!(by_kind("commune").deadline, date("2023-09-17"));
        assert_eq!(by_kind("district-office").forms, ["II.05a", "II.06a"]);
        assert_eq!(by_kind("district-office").deadline, date("2023-09-17"));
        assert_eq!(by_kind("district").forms, ["II.05", "II.06", "II.01-ĐC"]);
        assert_eq!(by_kind("district").deadline, date("2023-09-19"));
        assert!(by_kind("district").signed);
        assert_eq!(
            by_kind("district").aggregates,
            Some(4),
            "itself, its office and two communes"
        );
        assert_eq!(by_kind("department").deadline, date("2023-09-19"));
        assert!(by_kind("department").signed);
        assert!(
            by_kind("province").forms.is_empty(),
            "the province itself has no duty in the letter"
        );
        assert_eq!(rows.len(), units.len(), "every unit is listed");
    }

    #[test]
    fn duties_must_name_known_systems_and_forms() {
        let bad = include_str!("../config/duties/quang-ngai-2023.toml").replace("systems = [\"central\", \"provincial\"]\ndeadline_days = 3\n\n[[duties]]\nkind = \"district-office\"", "systems = [\"nowhere\"]\ndeadline_days = 3\n\n[[duties]]\nkind = \"district-office\"");
        assert!(Duties::from_toml(&bad).unwrap_err().contains("nowhere"));
        let period: Period = "2026-Q2".parse().unwrap();
        assert!(
            Duties::builtin()
                .check_forms(&FormCatalog::builtin(), &period)
                .unwrap_err()
                .contains("TT05/2025")
        );
        Duties::from_toml(Duties::TWO_TIER)
            .unwrap()
            .check_forms(&FormCatalog::builtin(), &period)
            .unwrap();
    }
}
