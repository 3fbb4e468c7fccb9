//! Instants and local calendar days.
//!
//! Upstream instants arrive in three textual forms (domain.md §1). They are stored as UTC epoch
//! seconds; every report rule compares calendar days in Asia/Ho_Chi_Minh. Vietnam has used UTC+07:00
//! without daylight saving since 1975, so a fixed offset is exact for every date the product sees and
//! saves a time-zone database lookup per instant on the hot path.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime};
use std::fmt;

/// Seconds east of UTC for Vietnam local time.
pub const VN_OFFSET_SECONDS: i64 = 7 * 3600;
const SECONDS_PER_DAY: i64 = 86_400;
/// `NaiveDate::num_days_from_ce()` of 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i64 = 719_163;

/// A point in time, as whole seconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(pub i64);

/// A calendar day in Vietnam local time, as days from the common era (chrono's numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub i32);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not an instant (expected yyyyMMddHHmmss, RFC 3339 with an offset, or yyyy-MM-dd HH:mm:ss)"
)]
pub struct InstantError(pub String);

/// `yyyy-MM-dd HH:mm:ss` to the byte: digits where digits go (chrono's `%Y` would take a sign
/// and its spaces any run of white space).
fn local_shape(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().all(|(i, b)| match i {
        4 | 7 => *b == b'-',
        10 => *b == b' ',
        13 | 16 => *b == b':',
        _ => b.is_ascii_digit(),
    })
}

/// An instant that may be absent, in eight bytes where `Option<Instant>` takes sixteen: a dossier
/// holds six, a report a million dossiers. `i64::MIN` seconds (no instant the parser accepts)
/// stands for "absent".
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Moment(i64);

impl Moment {
    pub const NONE: Moment = Moment(i64::MIN);

    pub fn get(self) -> Option<Instant> {
        (self.0 != i64::MIN).then_some(Instant(self.0))
    }

    pub fn is_some(self) -> bool {
        self.0 != i64::MIN
    }

    pub fn is_none(self) -> bool {
        self.0 == i64::MIN
    }
}

impl From<Option<Instant>> for Moment {
    fn from(i: Option<Instant>) -> Moment {
        i.map_or(Moment::NONE, |i| Moment(i.0))
    }
}

impl From<Instant> for Moment {
    fn from(i: Instant) -> Moment {
        Moment(i.0)
    }
}

impl fmt::Debug for Moment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}

impl Instant {
    /// Parses one of the three accepted forms. Surrounding white space is ignored; the caller
    /// decides what an empty value means (it means "absent" everywhere in domain.md).
    pub fn parse(text: &str) -> Result<Instant, InstantError> {
        let s = text.trim();
        let bytes = s.as_bytes();
        let parsed = if bytes.len() == 14 && bytes.iter().all(u8::is_ascii_digit) {
            compact_local(bytes)
        } else if bytes.len() == 19 && local_shape(bytes) {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
                .ok()
                .map(Instant::from_local)
        } else {
            DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|dt| Instant(dt.timestamp()))
        };
        // Only what the three forms can write back: a four-digit year in UTC and in local time.
        parsed
            .filter(|i| {
                let four_digits = |y: i32| (0..=9999).contains(&y);
                DateTime::from_timestamp(i.0, 0).is_some_and(|d| four_digits(d.year()))
                    && DateTime::from_timestamp(i.0 + VN_OFFSET_SECONDS, 0)
                        .is_some_and(|d| four_digits(d.year()))
            })
            .ok_or_else(|| InstantError(text.to_owned()))
    }

    /// The instant of a Vietnam local date and time.
    pub fn from_local(local: NaiveDateTime) -> Instant {
        Instant(local.and_utc().timestamp() - VN_OFFSET_SECONDS)
    }

    /// The local calendar day this instant falls on.
    pub fn local_day(self) -> Day {
        let days = (self.0 + VN_OFFSET_SECONDS).div_euclid(SECONDS_PER_DAY);
        Day((days + UNIX_EPOCH_DAYS_FROM_CE) as i32)
    }

    /// Local date and time, for display and for the compact upstream form.
    pub fn to_local(self) -> NaiveDateTime {
        DateTime::from_timestamp(self.0 + VN_OFFSET_SECONDS, 0)
            .expect("instant within chrono's range")
            .naive_utc()
    }

    /// The compact local form `yyyyMMddHHmmss` that the procedure-handling system uses.
    pub fn to_compact_local(self) -> String {
        self.to_local().format("%Y%m%d%H%M%S").to_string()
    }

    /// RFC 3339 in UTC with a fixed width, so that text order is time order.
    pub fn to_rfc3339_utc(self) -> String {
        DateTime::from_timestamp(self.0, 0)
            .expect("instant within chrono's range")
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    }
}

fn compact_local(b: &[u8]) -> Option<Instant> {
    let num = |r: std::ops::Range<usize>| -> u32 {
        b[r].iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    let date = NaiveDate::from_ymd_opt(num(0..4) as i32, num(4..6), num(6..8))?;
    let time = date.and_hms_opt(num(8..10), num(10..12), num(12..14))?;
    Some(Instant::from_local(time))
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339_utc())
    }
}

impl Day {
    pub fn from_date(date: NaiveDate) -> Day {
        Day(date.num_days_from_ce())
    }

    pub fn to_date(self) -> NaiveDate {
        NaiveDate::from_num_days_from_ce_opt(self.0).expect("day within chrono's range")
    }

    /// The day before.
    pub fn pred(self) -> Day {
        Day(self.0 - 1)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_date().format("%Y-%m-%d"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Day {
        Day::from_date(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
    }

    #[test]
    fn three_forms_denote_the_same_instant() {
        let compact = Instant::parse("20230614233000").unwrap();
        let spaced = Instant::parse("2023-06-14 23:30:00").unwrap();
        let utc = Instant::parse("2023-06-14T16:30:00Z").unwrap();
        let offset = Instant::parse("2023-06-14T23:30:00+07:00").unwrap();
        assert_eq!(compact, spaced);
        assert_eq!(compact, utc);
        assert_eq!(compact, offset);
    }

    #[test]
    fn utc_evening_is_next_local_day() {
        // 20:30 UTC on the 20th is 03:30 on the 21st in Vietnam.
        let i = Instant::parse("2023-06-20T20:30:00Z").unwrap();
        assert_eq!(i.local_day(), day("2023-06-21"));
        let i = Instant::parse("2023-06-20T16:59:59Z").unwrap();
        assert_eq!(i.local_day(), day("2023-06-20"));
    }

    #[test]
    fn rejects_what_is_none_of_the_forms() {
        for bad in [
            "2023-06-20",
            "20230231000000",
            "2023063112000",
            "yesterday",
            "2023-06-20 25:00:00",
            "2023-06-20T10:00:00",
            // Found by fuzzing: chrono's `%Y` takes a sign, its spaces any white space.
            " -023-07-\r1 \r1:0: 00",
            "-023-07-01 08:00:00",
            // A year the forms cannot write back (10000 in UTC).
            "9999-12-31T23:00:00-05:00",
        ] {
            assert!(Instant::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn compact_round_trip() {
        let i = Instant::parse("20230912075200").unwrap();
        assert_eq!(i.to_compact_local(), "20230912075200");
        assert_eq!(i.to_rfc3339_utc(), "2023-09-12T00:52:00Z");
    }

    #[test]
    fn days_before_1970_are_whole_days() {
        let i = Instant::parse("19691231235959").unwrap();
        assert_eq!(i.local_day(), day("1969-12-31"));
    }
}
