//! Reporting periods and their cut-off windows (Decree 09/2019/NĐ-CP, domain.md §2).
//!
//! A window runs, inclusive by calendar day, from the 15th of the month before the period's first
//! month to the 14th of its last month. A regime may override windows; that lives in configuration
//! and produces a `Period` through [`Period::with_window`].

use super::instant::{Day, Instant};
use chrono::NaiveDate;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// What kind of period an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeriodKind {
    /// `2023-M07`
    Month(u32),
    /// `2023-Q3`
    Quarter(u32),
    /// `2023-H1`, `2023-H2`
    Half(u32),
    /// `2023-9M`
    NineMonths,
    /// `2023-Y`
    Year,
}

/// A period: its canonical id and its inclusive window of local calendar days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub year: i32,
    pub kind: PeriodKind,
    /// T: the first day of the window.
    pub first_day: NaiveDate,
    /// D: the last day of the window.
    pub last_day: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown period `{0}`: expected YYYY-Mmm (month), YYYY-Qn (quarter), YYYY-H1/H2, YYYY-9M or YYYY-Y, e.g. 2023-Q3"
)]
pub struct PeriodError(pub String);

impl Period {
    /// The period of `kind` in `year` with the Decree's window (`None` for an impossible one).
    pub fn new(year: i32, kind: PeriodKind) -> Option<Period> {
        Period::standard(year, kind)
    }

    /// The window the Decree gives: ends on the 14th of `last_month`, spans `months` months.
    fn standard(year: i32, kind: PeriodKind) -> Option<Period> {
        let (last_month, months) = match kind {
            PeriodKind::Month(m) => (m, 1),
            PeriodKind::Quarter(q) => (q * 3, 3),
            PeriodKind::Half(h) => (h * 6, 6),
            PeriodKind::NineMonths => (9, 9),
            PeriodKind::Year => (12, 12),
        };
        let last_day = NaiveDate::from_ymd_opt(year, last_month, 14)?;
        // The 15th of the month `months` before the last month.
        let zero_based = year * 12 + last_month as i32 - 1 - months;
        let first_day = NaiveDate::from_ymd_opt(
            zero_based.div_euclid(12),
            zero_based.rem_euclid(12) as u32 + 1,
            15,
        )?;
        Some(Period {
            year,
            kind,
            first_day,
            last_day,
        })
    }

    /// The same period with a window a regime configured instead of the Decree's.
    pub fn with_window(mut self, first_day: NaiveDate, last_day: NaiveDate) -> Period {
        self.first_day = first_day;
        self.last_day = last_day;
        self
    }

    /// The period of the same kind just before this one (Q3 → Q2, M01 → the previous M12, H1 →
    /// the previous H2, 9M and Y → the previous year's), with the Decree's window.
    pub fn previous(&self) -> Option<Period> {
        let (year, kind) = match self.kind {
            PeriodKind::Month(1) => (self.year - 1, PeriodKind::Month(12)),
            PeriodKind::Month(m) => (self.year, PeriodKind::Month(m - 1)),
            PeriodKind::Quarter(1) => (self.year - 1, PeriodKind::Quarter(4)),
            PeriodKind::Quarter(q) => (self.year, PeriodKind::Quarter(q - 1)),
            PeriodKind::Half(1) => (self.year - 1, PeriodKind::Half(2)),
            PeriodKind::Half(_) => (self.year, PeriodKind::Half(1)),
            PeriodKind::NineMonths | PeriodKind::Year => (self.year - 1, self.kind),
        };
        Period::standard(year, kind)
    }

    /// The canonical id, e.g. `2023-Q3`, `2023-M07`.
    pub fn id(&self) -> String {
        self.to_string()
    }

    pub fn first(&self) -> Day {
        Day::from_date(self.first_day)
    }

    pub fn last(&self) -> Day {
        Day::from_date(self.last_day)
    }

    /// The instant the window has ended: 00:00 ICT the day after its last day. Before it a
    /// period's figures are not whole, so it is not synced.
    pub fn ended_at(&self) -> Instant {
        Instant::from_local(
            (self.last_day + chrono::Duration::days(1))
                .and_hms_opt(0, 0, 0)
                .expect("midnight"),
        )
    }

    /// Vietnamese name as printed on the forms, e.g. "Quý III/2023".
    pub fn label_vi(&self) -> String {
        const ROMAN: [&str; 4] = ["I", "II", "III", "IV"];
        match self.kind {
            PeriodKind::Month(m) => format!("Tháng {m:02}/{}", self.year),
            PeriodKind::Quarter(q) => format!("Quý {}/{}", ROMAN[q as usize - 1], self.year),
            PeriodKind::Half(1) => format!("6 tháng đầu năm {}", self.year),
            PeriodKind::Half(_) => format!("6 tháng cuối năm {}", self.year),
            PeriodKind::NineMonths => format!("9 tháng năm {}", self.year),
            PeriodKind::Year => format!("Năm {}", self.year),
        }
    }

    /// "Từ ngày 15/06/2023 đến ngày 14/09/2023".
    pub fn window_vi(&self) -> String {
        format!(
            "Từ ngày {} đến ngày {}",
            self.first_day.format("%d/%m/%Y"),
            self.last_day.format("%d/%m/%Y")
        )
    }

    /// The JSON shape of report-json.md: `{"id", "from", "to"}`.
    pub fn summary(&self) -> PeriodSummary {
        PeriodSummary {
            id: self.id(),
            from: self.first_day.format("%Y-%m-%d").to_string(),
            to: self.last_day.format("%Y-%m-%d").to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct PeriodSummary {
    pub id: String,
    pub from: String,
    pub to: String,
}

impl FromStr for Period {
    type Err = PeriodError;

    fn from_str(text: &str) -> Result<Period, PeriodError> {
        let err = || PeriodError(text.to_owned());
        let upper = text.trim().to_ascii_uppercase();
        let (year, rest) = upper.split_once('-').ok_or_else(err)?;
        if year.len() != 4 {
            return Err(err());
        }
        let year: i32 = year.parse().map_err(|_| err())?;
        let number = |s: &str, max: u32| -> Result<u32, PeriodError> {
            match s.parse::<u32>() {
                Ok(n) if (1..=max).contains(&n) && !s.is_empty() && s.len() <= 2 => Ok(n),
                _ => Err(err()),
            }
        };
        let kind = match rest {
            "Y" => PeriodKind::Year,
            "9M" => PeriodKind::NineMonths,
            _ if rest.starts_with('M') => PeriodKind::Month(number(&rest[1..], 12)?),
            _ if rest.starts_with('Q') => PeriodKind::Quarter(number(&rest[1..], 4)?),
            _ if rest.starts_with('H') => PeriodKind::Half(number(&rest[1..], 2)?),
            _ => return Err(err()),
        };
        Period::standard(year, kind).ok_or_else(err)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            PeriodKind::Month(m) => write!(f, "{}-M{m:02}", self.year),
            PeriodKind::Quarter(q) => write!(f, "{}-Q{q}", self.year),
            PeriodKind::Half(h) => write!(f, "{}-H{h}", self.year),
            PeriodKind::NineMonths => write!(f, "{}-9M", self.year),
            PeriodKind::Year => write!(f, "{}-Y", self.year),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(id: &str) -> (String, String, String) {
        let p: Period = id.parse().unwrap();
        let s = p.summary();
        (s.id, s.from, s.to)
    }

    #[test]
    fn windows_of_domain_md() {
        let w = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
        assert_eq!(
            window("2023-M07"),
            w("2023-M07", "2023-06-15", "2023-07-14")
        );
        assert_eq!(window("2023-Q3"), w("2023-Q3", "2023-06-15", "2023-09-14"));
        assert_eq!(window("2023-Q1"), w("2023-Q1", "2022-12-15", "2023-03-14"));
        assert_eq!(window("2023-H1"), w("2023-H1", "2022-12-15", "2023-06-14"));
        assert_eq!(window("2023-H2"), w("2023-H2", "2023-06-15", "2023-12-14"));
        assert_eq!(window("2023-9M"), w("2023-9M", "2022-12-15", "2023-09-14"));
        assert_eq!(window("2023-Y"), w("2023-Y", "2022-12-15", "2023-12-14"));
        assert_eq!(
            window("2024-M01"),
            w("2024-M01", "2023-12-15", "2024-01-14")
        );
    }

    #[test]
    fn ids_are_case_insensitive_and_canonical() {
        assert_eq!(window("2023-q3").0, "2023-Q3");
        assert_eq!(window("2023-m7").0, "2023-M07");
        assert_eq!(window("2023-9m").0, "2023-9M");
        assert_eq!(window(" 2023-y ").0, "2023-Y");
    }

    #[test]
    fn unknown_ids_are_errors() {
        for bad in [
            "2023-Q5", "2023-M13", "2023-M00", "2023-H3", "23-Q3", "2023Q3", "Q3-2023", "2023-10M",
            "",
        ] {
            assert!(bad.parse::<Period>().is_err(), "{bad}");
        }
    }

    #[test]
    fn previous_periods() {
        let prev = |id: &str| id.parse::<Period>().unwrap().previous().unwrap().id();
        assert_eq!(prev("2023-Q3"), "2023-Q2");
        assert_eq!(prev("2023-Q1"), "2022-Q4");
        assert_eq!(prev("2024-M01"), "2023-M12");
        assert_eq!(prev("2023-H1"), "2022-H2");
        assert_eq!(prev("2023-9M"), "2022-9M");
    }

    #[test]
    fn vietnamese_labels() {
        let p: Period = "2023-Q3".parse().unwrap();
        assert_eq!(p.label_vi(), "Quý III/2023");
        assert_eq!(p.window_vi(), "Từ ngày 15/06/2023 đến ngày 14/09/2023");
    }
}
