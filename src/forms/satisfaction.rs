//! The satisfaction summary (domain.md §7): ratings given in the period, by level and by channel,
//! the satisfaction rate, and coverage against the dossiers resolved (II.06a column 7).
//! Aggregates sum counts over a subtree and recompute the rates.
//!
//! Where a source sends satisfaction only as monthly aggregates (`DongBoDanhGia`, docs/sources.md):
//! a calendar month counts in the period whose window holds its 15th day; one question counts
//! (the configured one, or the only one); each level's count is rebuilt from its share by the
//! largest remainder, so the counts add up to the raters; there is no channel. A unit with ratings
//! one per dossier in the period is summed from those; the report says which input it was computed
//! from (`basis`).

use super::ii06a::Window;
use crate::catalog::fold;
use crate::domain::{Finding, FindingCode, Period, Rating, RatingMonth, UnitTree};
use std::collections::HashMap;

/// What a summary was computed from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Ratings one per dossier (exact; by channel too).
    #[default]
    PerDossier,
    /// Monthly aggregates of shares (counts rebuilt from percentages; no channel).
    MonthlyAggregates,
    /// Some units of the subtree one way, some the other.
    Mixed,
}

impl Basis {
    pub fn is_per_dossier(&self) -> bool {
        *self == Basis::PerDossier
    }

    fn with(self, other: Basis) -> Basis {
        if self == other { self } else { Basis::Mixed }
    }

    /// What an official reads about the figures' precision, in Vietnamese.
    pub fn describe_vi(self) -> Option<&'static str> {
        match self {
            Basis::PerDossier => None,
            Basis::MonthlyAggregates => Some(
                "Tính từ số liệu tổng hợp theo tháng (tỷ lệ phần trăm từng mức và tổng số người đánh giá) do Hệ thống thông tin giải quyết TTHC gửi; số lượt theo từng mức được quy đổi từ tỷ lệ (sai số dưới 0,5% số người đánh giá), không có số liệu theo hình thức đánh giá; các tháng dương lịch được tính vào kỳ có ngày 15 của tháng.",
            ),
            Basis::Mixed => Some(
                "Một phần tính từ từng lượt đánh giá, một phần từ số liệu tổng hợp theo tháng (quy đổi từ tỷ lệ phần trăm, không có số liệu theo hình thức đánh giá).",
            ),
        }
    }
}

/// Why ratings over resolved dossiers can pass 100 %, in an official's words (HL's note column and
/// the II.01-ĐC say it alike).
pub const COVERAGE_OVER_100_VI: &str = "Trên 100%: lượt đánh giá tính theo ngày đánh giá, có lượt đánh giá hồ sơ đã giải quyết ở kỳ trước.";

/// Whether a calendar month counts in a period: the window holds the month's 15th day.
pub fn month_in(period: &Period, (year, month): (i32, u32)) -> bool {
    chrono::NaiveDate::from_ymd_opt(year, month, 15)
        .is_some_and(|d| period.first_day <= d && d <= period.last_day)
}

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
    /// What the counts were computed from (ratings one per dossier unless said).
    #[serde(default, skip_serializing_if = "Basis::is_per_dossier")]
    pub basis: Basis,
}

/// What a column of the HL definition may show (`metric = "…"` in config/forms/*/HL.toml).
pub const SATISFACTION_METRICS: [&str; 10] = [
    "level_1",
    "level_2",
    "level_3",
    "channel_tablet",
    "channel_phieu",
    "channel_truc_tuyen",
    "ratings",
    "satisfaction_rate",
    "resolved",
    "coverage",
];

/// One figure of a summary row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Figure {
    Count(u64),
    /// Percent, one decimal.
    Percent(f64),
    /// Not defined: no ratings for a rate, no dossiers given or none resolved for coverage.
    Undefined,
}

impl SatisfactionReport {
    /// The figure a metric of [`SATISFACTION_METRICS`] names; `None` for an unknown metric.
    pub fn figure(&self, metric: &str) -> Option<Figure> {
        let count = |map: &std::collections::BTreeMap<String, u64>, key: &str| {
            Figure::Count(map.get(key).copied().unwrap_or(0))
        };
        let percent = |v: Option<f64>| v.map_or(Figure::Undefined, Figure::Percent);
        Some(match metric {
            "level_1" => count(&self.levels, "1"),
            "level_2" => count(&self.levels, "2"),
            "level_3" => count(&self.levels, "3"),
            "ratings" => Figure::Count(self.total),
            "satisfaction_rate" => percent(self.satisfaction_rate),
            "resolved" => self.resolved.map_or(Figure::Undefined, Figure::Count),
            "coverage" => percent(self.coverage),
            other => {
                let channel = other.strip_prefix("channel_")?.replace('_', "-");
                if !CHANNELS.contains(&channel.as_str()) {
                    return None;
                }
                // Monthly aggregates carry no channel: the figure is absent, never zero.
                if !self.basis.is_per_dossier() {
                    return Some(Figure::Undefined);
                }
                count(&self.channels, &channel)
            }
        })
    }
}

/// Every figure column of the summary's definition names a known metric.
pub fn check_columns(def: &super::FormDef) -> Result<(), String> {
    for c in &def.columns {
        if let super::definition::Fill::Metric(m) = &c.fill
            && !SATISFACTION_METRICS.contains(&m.as_str())
        {
            return Err(format!(
                "{} column {}: unknown metric `{m}`; known: {}",
                def.code,
                c.number,
                SATISFACTION_METRICS.join(", ")
            ));
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    levels: [u64; 3],
    channels: [u64; 3],
    basis: Basis,
}

impl Counts {
    fn add(&mut self, o: &Counts, first: bool) {
        (0..3).for_each(|i| {
            self.levels[i] += o.levels[i];
            self.channels[i] += o.channels[i];
        });
        self.basis = if first {
            o.basis
        } else {
            self.basis.with(o.basis)
        };
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

/// The summary per unit with ratings or resolved dossiers, and per unit with children over its
/// subtree.
/// `resolved` gives column 7 of each unit's II.06a by unit code, when dossiers were given.
pub fn compute(
    ratings: &[Rating],
    months: Option<&MonthlyInput<'_>>,
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
            Finding::new(code, r.key.to_string(), msg)
                .with_unit(r.unit_code.to_string())
                .about(crate::domain::RecordKind::Rating)
        };
        let Some(day) = r.rated_at.map(|i| i.local_day()) else {
            findings.push(finding(
                FindingCode::NoRatingDate,
                "ThoiGianDanhGia để trống: lượt đánh giá không xếp được vào kỳ nào".into(),
            ));
            continue;
        };
        if day < w.first || day > w.last {
            continue;
        }
        let Some(channel) = CHANNELS.iter().position(|c| *c == r.channel.trim()) else {
            let msg = format!(
                "KenhDanhGia `{}` không phải tablet, phieu hoặc truc-tuyen",
                r.channel
            );
            findings.push(finding(FindingCode::UnknownRatingChannel, msg));
            continue;
        };
        let Some(unit) = units.find(&r.unit_code) else {
            let msg = format!(
                "MaDonVi `{}` không có trong cây đơn vị; thêm đơn vị (hoặc bí danh) vào cấu hình",
                r.unit_code
            );
            findings.push(finding(FindingCode::UnknownUnit, msg));
            continue;
        };
        let c = by_unit.entry(unit).or_default();
        c.levels[usize::from(r.level.code()) - 1] += 1;
        c.channels[channel] += 1;
    }
    if let Some(m) = months {
        let from_months = monthly(m, units, period, &mut findings);
        for (unit, counts) in from_months {
            // A unit rated one per dossier is summed from those ratings alone.
            by_unit.entry(unit).or_insert(counts);
        }
    }
    // A unit that resolved dossiers but got no rating is listed too (0 ratings, coverage 0 %):
    // it is exactly what the office must see, and the unit rows then add up to the aggregates.
    if let Some(resolved) = resolved {
        for (code, n) in resolved {
            if *n > 0
                && let Some(unit) = units.find(code)
            {
                by_unit.entry(unit).or_default();
            }
        }
    }
    let resolved_of = |ids: &mut dyn Iterator<Item = usize>| -> Option<u64> {
        resolved.map(|m| {
            ids.map(|u| m.get(&units.get(u).code).copied().unwrap_or(0))
                .sum()
        })
    };
    let report = |unit: usize, c: Counts, resolved: Option<u64>| {
        let total: u64 = c.levels.iter().sum();
        let channels = if c.basis.is_per_dossier() {
            CHANNELS
                .iter()
                .zip(c.channels)
                .map(|(n, v)| ((*n).to_owned(), v))
                .collect()
        } else {
            Default::default()
        };
        SatisfactionReport {
            unit: units.get(unit).code.clone(),
            levels: (1..=3).map(|l| (l.to_string(), c.levels[l - 1])).collect(),
            channels,
            total,
            satisfaction_rate: percent(c.levels[0] + c.levels[1], total),
            resolved,
            coverage: resolved.and_then(|r| percent(total, r)),
            basis: c.basis,
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
            let mut first = true;
            for member in units.subtree(u) {
                if let Some(c) = by_unit.get(&member) {
                    sum.add(c, first);
                    first = false;
                }
            }
            report(u, sum, resolved_of(&mut units.subtree(u)))
        })
        .collect();
    aggregates.sort_by(|a, b| a.unit.cmp(&b.unit));
    (per_unit, aggregates, findings)
}

/// Monthly aggregates, and the question that counts (compared folded), when one is configured.
#[derive(Debug, Clone, Copy)]
pub struct MonthlyInput<'a> {
    pub months: &'a [RatingMonth],
    pub question: Option<&'a str>,
}

/// Level counts per unit from the months that count in `period`: one question per unit-month.
fn monthly(
    input: &MonthlyInput<'_>,
    units: &UnitTree,
    period: &Period,
    findings: &mut Vec<Finding>,
) -> HashMap<usize, Counts> {
    let mut by_unit_month: std::collections::BTreeMap<(&str, (i32, u32)), Vec<&RatingMonth>> =
        Default::default();
    for m in input.months.iter().filter(|m| month_in(period, m.month)) {
        by_unit_month
            .entry((&m.unit_code, m.month))
            .or_default()
            .push(m);
    }
    let wanted = input.question.map(fold);
    let mut out: HashMap<usize, Counts> = HashMap::new();
    for ((unit_code, (year, month)), items) in by_unit_month {
        let record = format!("{unit_code}|{year:04}-{month:02}");
        let chosen: Vec<&&RatingMonth> = match &wanted {
            Some(q) => items.iter().filter(|m| fold(&m.question) == *q).collect(),
            None => items.iter().collect(),
        };
        let item = match chosen.as_slice() {
            [one] => **one,
            _ => {
                let questions: Vec<&str> = items.iter().map(|m| &*m.question).collect();
                let message = match &wanted {
                    Some(_) => format!(
                        "kết quả đánh giá tháng {month}/{year} của {unit_code} không có câu hỏi đã cấu hình (sources.*.satisfaction.question); các câu hỏi có: {}",
                        questions.join(" | ")
                    ),
                    None => format!(
                        "kết quả đánh giá tháng {month}/{year} của {unit_code} trả lời {} câu hỏi ({}): chọn câu được tính bằng sources.*.satisfaction.question",
                        questions.len(),
                        questions.join(" | ")
                    ),
                };
                findings.push(
                    Finding::new(FindingCode::UnmappedValue, record, message)
                        .with_unit(unit_code.to_owned())
                        .about(crate::domain::RecordKind::Rating),
                );
                continue;
            }
        };
        let Some(unit) = units.find(unit_code) else {
            let message = format!(
                "MaDonVi `{unit_code}` của kết quả đánh giá tháng {month}/{year} không có trong cây đơn vị; thêm đơn vị (hoặc bí danh) vào cấu hình"
            );
            findings.push(
                Finding::new(FindingCode::UnknownUnit, record, message)
                    .about(crate::domain::RecordKind::Rating),
            );
            continue;
        };
        let levels = item.counts();
        let c = out.entry(unit).or_insert(Counts {
            basis: Basis::MonthlyAggregates,
            ..Counts::default()
        });
        (0..3).for_each(|i| c.levels[i] += levels[i]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_that_resolved_dossiers_but_got_no_rating_is_listed() {
        let units = UnitTree::from_toml(
            "[[units]]\ncode=\"P\"\nname=\"P\"\nkind=\"province\"\nparent=\"\"\n\
             [[units]]\ncode=\"A\"\nname=\"A\"\nkind=\"commune\"\nparent=\"P\"\n\
             [[units]]\ncode=\"B\"\nname=\"B\"\nkind=\"commune\"\nparent=\"P\"\n",
        )
        .unwrap();
        let rating = Rating {
            key: "R1".into(),
            dossier_key: "D1".into(),
            unit_code: "A".into(),
            level: crate::domain::Level::parse("1").unwrap(),
            channel: "tablet".into(),
            rated_at: Some(crate::domain::Instant::parse("20230701090000").unwrap()),
            updated_at: None,
        };
        // A resolved 2 dossiers and got one rating; B resolved 3 and got none.
        let resolved: HashMap<String, u64> = [("A".into(), 2), ("B".into(), 3)].into();
        let period: Period = "2023-Q3".parse().unwrap();
        let (per_unit, aggregates, _) = compute(&[rating], None, &units, &period, Some(&resolved));
        let b = per_unit
            .iter()
            .find(|r| r.unit == "B")
            .expect("B is listed");
        assert_eq!((b.total, b.resolved, b.coverage), (0, Some(3), Some(0.0)));
        assert_eq!(b.satisfaction_rate, None, "no rating, no rate");
        let p = &aggregates[0];
        assert_eq!((p.total, p.resolved, p.coverage), (1, Some(5), Some(20.0)));
        assert_eq!(
            per_unit.iter().map(|r| r.resolved.unwrap()).sum::<u64>(),
            5,
            "the unit rows add up to the aggregate"
        );
    }

    #[test]
    fn every_metric_of_the_summary_is_a_figure() {
        let r = SatisfactionReport {
            unit: "A".into(),
            levels: [("1".into(), 2), ("2".into(), 1), ("3".into(), 1)].into(),
            channels: [("tablet".into(), 3), ("truc-tuyen".into(), 1)].into(),
            total: 4,
            satisfaction_rate: Some(75.0),
            resolved: None,
            coverage: None,
            basis: Basis::PerDossier,
        };
        let got: Vec<Figure> = SATISFACTION_METRICS
            .iter()
            .map(|m| r.figure(m).unwrap())
            .collect();
        use Figure::*;
        assert_eq!(
            got,
            [
                Count(2),
                Count(1),
                Count(1),
                Count(3),
                Count(0),
                Count(1),
                Count(4),
                Percent(75.0),
                Undefined,
                Undefined
            ]
        );
        assert_eq!(r.figure("channel_fax"), None);
    }

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
