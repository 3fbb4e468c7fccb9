//! Which version of a record counts when one input holds its key more than once (domain.md §1):
//! the latest CapNhatLuc (an absent one is older than any), the last one read on a tie. Every
//! reader of an export settles duplicates by this one rule, whatever it keeps of the records.

use super::{Finding, FindingCode, Instant};

/// One version set aside: where it was read, and the CapNhatLuc of the version kept at that
/// point and of the one ignored, as its `duplicate_record` warning names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetAside {
    /// Index of the version read (in `updated`), the one the warning is for.
    pub at: usize,
    /// Index of the version that counted once this one was read (its unit names the warning).
    pub kept: usize,
    pub kept_updated: Option<Instant>,
    pub ignored_updated: Option<Instant>,
}

/// One key's versions settled: which counts, and one warning for each version read after the
/// first, as if the versions had been read one by one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub kept: usize,
    pub warnings: Vec<SetAside>,
}

/// Settles one key's versions, given their CapNhatLuc in input order (at least one).
pub fn settle(updated: &[Option<Instant>]) -> Settled {
    let mut kept = 0;
    let mut warnings = Vec::with_capacity(updated.len().saturating_sub(1));
    for (at, &new) in updated.iter().enumerate().skip(1) {
        let old = updated[kept];
        let (kept_updated, ignored_updated) = if new >= old {
            kept = at;
            (new, old)
        } else {
            (old, new)
        };
        warnings.push(SetAside {
            at,
            kept,
            kept_updated,
            ignored_updated,
        });
    }
    Settled { kept, warnings }
}

impl SetAside {
    /// Its `duplicate_record` warning, about `key` of `unit`; `what` is the record kind's name
    /// and `key_field` its key's field (e.g. "hồ sơ", "MaHoSo").
    pub fn finding(&self, what: &str, key_field: &str, key: &str, unit: &str) -> Finding {
        let at = |i: Option<Instant>| {
            i.map(|i| i.to_compact_local())
                .unwrap_or_else(|| "none".into())
        };
        let message = format!(
            "{what} {key_field} appears more than once; the version with CapNhatLuc {} counts, the one with {} is ignored",
            at(self.kept_updated),
            at(self.ignored_updated)
        );
        Finding::new(FindingCode::DuplicateRecord, key.to_owned(), message)
            .with_unit(unit.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_counts_the_last_read_on_a_tie_and_an_absent_one_is_oldest() {
        let (a, b) = (Some(Instant(10)), Some(Instant(20)));
        // Older, newer, absent, newer again (a tie): the last of the two newest counts.
        let s = settle(&[a, b, None, b]);
        assert_eq!(s.kept, 3);
        let named: Vec<(usize, usize, Option<Instant>, Option<Instant>)> = s
            .warnings
            .iter()
            .map(|w| (w.at, w.kept, w.kept_updated, w.ignored_updated))
            .collect();
        assert_eq!(
            named,
            vec![(1, 1, b, a), (2, 1, b, None), (3, 3, b, b)],
            "one warning per version after the first, naming what counted then"
        );
        assert_eq!(settle(&[None]).warnings, vec![]);
        assert_eq!(settle(&[b, a]).kept, 0);
    }
}
