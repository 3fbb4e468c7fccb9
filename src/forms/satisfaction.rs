//! The satisfaction summary (domain.md §7): ratings given in the period, by level and by channel,
//! the satisfaction rate, and coverage against the dossiers resolved (II.06a column 7).
//! Aggregates sum counts over a subtree and recompute the rates.

use super::ii06a::Window;
use crate::domain::{Finding, FindingCode, Period, Rating, UnitTree};
use std::collections::HashMap;

/// Rating channels (KenhDanhGia), in report order.
pub const CHANNELS: [&str; 3] = ["tablet", "phieu", "truc-tuyen"];

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SatisfactionReport {
    pub unit: String,
    /// Ratings by level: "1" very satisfied, "2" satisfied, "3" not satisfied.
    pub levels: std::collections::BTreeMap<String, u64>,
    /// Ratings by channel: tablet, phieu (paper form), truc-tuyen (online).
    pub channels: std::collections::BTreeMap<String, u64>,
    pub total: u64,
    /// Levels 1 and 2 over all, in percent, one decimal; empty without ratings.
    pub satisfaction_rate: Option<f64>,
    /// Dossiers resolved in the period (II.06a column 7), when dossiers were given.
    pub resolved: Option<u64>,
    /// Ratings over resolved dossiers, in percent, one decimal; empty when nothing was resolved.
    pub coverage: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    levels: [u64; 3],
    channels: [u64; 3],
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        (0..3).for_each(|i| {
            self.levels[i] += o.levels[i];
            self.channels[i] += o.channels[i];
        });
    }
}

/// `numerator / denominator` in percent, rounded to one decimal half away from zero, in integers
/// so that 2/3 is 66.7 on every machine.
pub fn percent(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| {
        let tenths = (2 * numerator * 1000 + denominator) / (2 * denominator);
        tenths as f64 / 10.0
    })
}

/// The summary per unit with ratings, and per unit with children over its subtree.
/// `resolved` gives column 7 of each unit's II.06a by unit code, when dossiers were given.
pub fn compute(
    ratings: &[Rating],
    units: &UnitTree,
    period: &Period,
    resolved: Option<&HashMap<String, u64>>,
) -> (
    Vec<SatisfactionReport>,
    Vec<SatisfactionReport>,
    Vec<Finding>,
) {
    let w = Window::from(period);
    let mut by_unit: HashMap<usize, Counts> = HashMap::new();
    let mut findings = Vec::new();
    for r in ratings {
        let finding = |code: FindingCode, msg: String| {
            Finding::new(code, r.key.to_string(), msg).with_unit(r.unit_code.to_string())
        };
        let Some(day) = r.rated_at.map(|i| i.local_day()) else {
            findings.push(finding(
                FindingCode::NoRatingDate,
                "ThoiGianDanhGia is empty".into(),
            ));
            continue;
        };
        if day < w.first || day > w.last {
            continue;
        }
        let Some(channel) = CHANNELS.iter().position(|c| *c == r.channel.trim()) else {
            let msg = format!(
                "KenhDanhGia `{}` is not tablet, phieu or truc-tuyen",
                r.channel
            );
            findings.push(finding(FindingCode::UnknownRatingChannel, msg));
            continue;
        };
        let Some(unit) = units.find(&r.unit_code) else {
            let msg = format!(
                "MaDonVi `{}` is not in the unit tree; add the unit to the configuration",
                r.unit_code
            );
            findings.push(finding(FindingCode::UnknownUnit, msg));
            continue;
        };
        let c = by_unit.entry(unit).or_default();
        c.levels[usize::from(r.level.code()) - 1] += 1;
        c.channels[channel] += 1;
    }
    let resolved_of = |ids: &mut dyn Iterator<Item = usize>| -> Option<u64> {
        resolved.map(|m| {
            ids.map(|u| m.get(&units.get(u).code).copied().unwrap_or(0))
                .sum()
        })
    };
    let report = |unit: usize, c: Counts, resolved: Option<u64>| {
        let total: u64 = c.levels.iter().sum();
        SatisfactionReport {
            unit: units.get(unit).code.clone(),
            levels: (1..=3).map(|l| (l.to_string(), c.levels[l - 1])).collect(),
            channels: CHANNELS
                .iter()
                .zip(c.channels)
                .map(|(n, v)| ((*n).to_owned(), v))
                .collect(),
            total,
            satisfaction_rate: percent(c.levels[0] + c.levels[1], total),
            resolved,
            coverage: resolved.and_then(|r| percent(total, r)),
        }
    };
    let mut per_unit: Vec<SatisfactionReport> = by_unit
        .iter()
        .map(|(&u, &c)| report(u, c, resolved_of(&mut std::iter::once(u))))
        .collect();
    per_unit.sort_by(|a, b| a.unit.cmp(&b.unit));
    let mut aggregates: Vec<SatisfactionReport> = units
        .ids()
        .filter(|&u| units.has_children(u))
        .map(|u| {
            let mut sum = Counts::default();
            for member in units.subtree(u) {
                if let Some(c) = by_unit.get(&member) {
                    sum.add(c);
                }
            }
            report(u, sum, resolved_of(&mut units.subtree(u)))
        })
        .collect();
    aggregates.sort_by(|a, b| a.unit.cmp(&b.unit));
    (per_unit, aggregates, findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_rounds_half_away_from_zero_to_one_decimal() {
        assert_eq!(percent(2, 3), Some(66.7));
        assert_eq!(percent(1, 3), Some(33.3));
        assert_eq!(percent(1, 8), Some(12.5));
        assert_eq!(percent(1, 16), Some(6.3), "6.25 rounds up");
        assert_eq!(percent(0, 5), Some(0.0));
        assert_eq!(percent(5, 0), None);
    }
}
