//! Reconciling II.06a with another system's statistics of the same dossiers (`reconcile`): per
//! unit × field × column, ours, theirs and the difference; for each difference, the dossiers that
//! a known other reading of the rules moves into or out of that cell, each with its reading, and
//! what is left unexplained.
//!
//! The readings are the ones other systems are known to apply where domain.md differs, in this
//! order (a dossier is attributed to the first that applies to it):
//! 1. `withdrawn_by_dates`, 2. `unknown_channel_in_total`, 3. `finished_before_received_counted`,
//! 4. `resolved_without_reception_date` (see [`ReadingName`]).
//!
//! Another system applies its rules to every dossier, so a reading is taken to be in effect
//! there when applying it to every dossier brings the two tables closer (less total absolute
//! difference), tried in that order, each on top of those already in effect. The dossiers those
//! readings move explain the differences they touch; the rest is left unexplained, never forced.
//!
//! Their table arrives as raw sheets (read by `sources::theirs`): a flat table (a header row with `unit`,
//! `field` and the columns by number, "(n)" or label, then one row per unit and field) or the
//! template layout `report --format xlsx` writes (one sheet per unit). Units and fields are
//! matched by code or by name; whatever cannot be matched is listed, never dropped.
//!
//! Pure: no IO, no clock.

use super::FormDef;
use super::ii06a::{DOSSIER_METRICS, Placement, Reading, Window, place_as};
use super::table::UnitReport;
use crate::domain::{Dossier, Period, UnitTree};
use readings::{joined, reading_of};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use theirs::Index;

mod readings;
mod theirs;

pub use readings::{READINGS, ReadingName};
pub use theirs::{
    FINDINGS_SHEET, INDEX_SHEET, RawCell, RawSheet, TOTAL, TheirRow, TheirTable, UNIT_CODE_LABEL,
    Unmatched, read_theirs,
};

/// How one dossier changes one cell under the readings in effect.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Move {
    pub dossier: String,
    /// The reading's code; for a move only several readings make together, their codes joined
    /// by "+" in the table's order (docs/reconcile.md).
    pub reading: String,
    /// +1: their reading puts the dossier in the cell and ours does not; -1: the other way.
    pub change: i64,
}

/// One cell compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    pub unit: String,
    pub unit_name: String,
    /// Field code, or `_total`.
    pub field: String,
    pub label: String,
    pub column: u32,
    /// The column's name in the form.
    pub column_label: String,
    pub ours: u64,
    pub theirs: u64,
    /// theirs - ours.
    pub difference: i64,
    /// The dossiers the readings in effect move into (+1) or out of (-1) this cell.
    pub explained: Vec<Move>,
    /// difference - the sum of the moves.
    pub unexplained: i64,
    /// When something is unexplained: the dossiers of that unit and field that carry findings,
    /// where an official looks first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<Candidate>,
}

/// A dossier with a finding, of the unit and field of a cell left unexplained.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub dossier: String,
    pub finding: &'static str,
}

/// What a reading does to the comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadingResult {
    pub reading: ReadingName,
    /// Applied to every dossier, it brings the tables closer (see the module doc).
    pub in_effect: bool,
    /// Dossiers it moves, applied alone.
    pub dossiers: usize,
    /// Total absolute difference over the compared cells with the readings in effect before it,
    /// then with it added.
    pub difference_without: u64,
    pub difference_with: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub cells: usize,
    pub differing: usize,
    /// Sum of |difference| over the cells.
    pub difference: u64,
    /// Sum of |unexplained| over the cells.
    pub unexplained: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reconciliation {
    pub form: String,
    pub period: String,
    pub summary: Summary,
    pub readings: Vec<ReadingResult>,
    /// Every compared cell, by unit, field and column.
    pub cells: Vec<Cell>,
    /// Their rows (or columns, or sheets) that could not be matched or read.
    pub unmatched: Vec<Unmatched>,
    /// Our units with figures that their table does not have at all (not compared).
    pub units_only_ours: Vec<String>,
}

type Key = (String, String, u32);

/// Compares `ours` (II.06a computed from `dossiers`) with `theirs`. `fields` gives each field
/// code with the names it may be written by (the source's, the catalogue's).
pub fn reconcile(
    def: &FormDef,
    dossiers: &[Dossier],
    units: &UnitTree,
    period: &Period,
    ours: &[UnitReport],
    theirs: &TheirTable,
    fields: &[(String, String)],
) -> Reconciliation {
    let index = Index::new(units, fields);
    let mut unmatched = theirs.unreadable.clone();

    // Their figures by cell; which units (and which with field rows) their table covers.
    let mut their_cells: HashMap<Key, u64> = HashMap::new();
    let mut seen_rows: HashMap<(String, String), String> = HashMap::new();
    let mut with_fields: BTreeSet<String> = BTreeSet::new();
    let mut with_total: BTreeSet<String> = BTreeSet::new();
    for row in &theirs.rows {
        let matched = index
            .unit(&row.unit)
            .and_then(|u| index.field(&row.field).map(|f| (u, f)));
        let (unit, field) = match matched {
            Ok(m) => m,
            Err((problem, reason)) => {
                unmatched.push(Unmatched {
                    place: row.place.clone(),
                    unit: row.unit.clone(),
                    field: row.field.clone(),
                    problem,
                    reason,
                });
                continue;
            }
        };
        if let Some(first) = seen_rows.get(&(unit.clone(), field.clone())) {
            unmatched.push(Unmatched {
                place: row.place.clone(),
                unit: row.unit.clone(),
                field: row.field.clone(),
                problem: "duplicate_row",
                reason: format!(
                    "Trùng đơn vị và lĩnh vực với dòng ở {first}; chỉ dòng đầu được đối chiếu"
                ),
            });
            continue;
        }
        seen_rows.insert((unit.clone(), field.clone()), row.place.clone());
        if field == TOTAL {
            with_total.insert(unit.clone());
        } else {
            with_fields.insert(unit.clone());
        }
        for (&n, &v) in &row.values {
            their_cells.insert((unit.clone(), field.clone(), n), v);
        }
    }
    let compared = |unit: &str, field: &str| {
        if field == TOTAL {
            with_total.contains(unit)
        } else {
            with_fields.contains(unit)
        }
    };

    // Our figures by cell, for the units their table covers.
    let columns = def.figure_columns();
    let mut our_cells: HashMap<Key, u64> = HashMap::new();
    let mut labels: HashMap<(String, String), String> = HashMap::new();
    let mut units_only_ours = Vec::new();
    for r in ours {
        if !with_fields.contains(&r.unit) && !with_total.contains(&r.unit) {
            if !r.total.is_zero() {
                units_only_ours.push(r.unit.clone());
            }
            continue;
        }
        for &n in &columns {
            our_cells.insert((r.unit.clone(), TOTAL.to_owned(), n), r.total.get(n));
        }
        labels.insert((r.unit.clone(), TOTAL.to_owned()), "Tổng số".to_owned());
        for row in &r.rows {
            for &n in &columns {
                our_cells.insert((r.unit.clone(), row.key.clone(), n), row.values.get(n));
            }
            labels.insert((r.unit.clone(), row.key.clone()), row.label.clone());
        }
    }

    // Which column each metric fills in this form.
    let metric_column: Vec<Option<u32>> =
        DOSSIER_METRICS.iter().map(|m| def.column_of(m)).collect();
    let window = Window::from(period);
    let base: Vec<Placement> = dossiers
        .iter()
        .map(|d| place_as(d, window, units, Reading::default()))
        .collect();
    // The cells one dossier's placement changes between ours and `reading`, with the change.
    let moves_of = |i: usize, reading: Reading| -> Vec<(Key, i64)> {
        let d = &dossiers[i];
        let alt = place_as(d, window, units, reading);
        if alt == base[i] {
            return Vec::new();
        }
        let set = |p: &Placement| match p {
            Placement::Counted { unit, columns, .. } => Some((*unit, *columns)),
            _ => None,
        };
        let (before, after) = (set(&base[i]), set(&alt));
        let unit = match (before, after) {
            (Some((u, _)), _) | (None, Some((u, _))) => units.get(u).code.clone(),
            (None, None) => return Vec::new(),
        };
        let mut out = Vec::new();
        for (m, column) in metric_column.iter().enumerate() {
            let Some(column) = column else { continue };
            let was = before.is_some_and(|(_, c)| c[m]);
            let now = after.is_some_and(|(_, c)| c[m]);
            if was != now {
                let change = if now { 1 } else { -1 };
                for field in [d.field_code.to_string(), TOTAL.to_owned()] {
                    out.push(((unit.clone(), field, *column), change));
                }
            }
        }
        out
    };
    let moved_by = |reading: Reading| -> Vec<(usize, Vec<(Key, i64)>)> {
        (0..dossiers.len())
            .map(|i| (i, moves_of(i, reading)))
            .filter(|(_, m)| !m.is_empty())
            .collect()
    };
    let distance = |moved: &[(usize, Vec<(Key, i64)>)]| -> u64 {
        let mut shift: HashMap<&Key, i64> = HashMap::new();
        for (_, cells) in moved {
            for (k, c) in cells {
                if compared(&k.0, &k.1) {
                    *shift.entry(k).or_insert(0) += c;
                }
            }
        }
        let keys: BTreeSet<&Key> = our_cells
            .keys()
            .chain(their_cells.keys())
            .chain(shift.keys().copied())
            .filter(|k| compared(&k.0, &k.1))
            .collect();
        keys.into_iter()
            .map(|k| {
                let ours = our_cells.get(k).copied().unwrap_or(0) as i64;
                let theirs = their_cells.get(k).copied().unwrap_or(0) as i64;
                (ours + shift.get(k).copied().unwrap_or(0) - theirs).unsigned_abs()
            })
            .sum()
    };

    // Which readings are in effect there.
    let mut in_effect: Vec<ReadingName> = Vec::new();
    let mut current = distance(&[]);
    let mut readings = Vec::new();
    for name in ReadingName::all() {
        let alone = moved_by(reading_of(&[name])).len();
        let mut trial = in_effect.clone();
        trial.push(name);
        let with = distance(&moved_by(reading_of(&trial)));
        let accepted = with < current;
        readings.push(ReadingResult {
            reading: name,
            in_effect: accepted,
            dossiers: alone,
            difference_without: current,
            difference_with: with,
        });
        if accepted {
            in_effect = trial;
            current = with;
        }
    }

    // The moves of the readings in effect, each attributed (docs/reconcile.md): to the first
    // reading that alone makes the same change in that cell; else to the first that alone moves
    // the dossier; else to the fewest readings, earliest first, that together make the change.
    let alone: Vec<Reading> = in_effect.iter().map(|r| reading_of(&[*r])).collect();
    let mut explained: HashMap<Key, Vec<Move>> = HashMap::new();
    for (i, cells) in moved_by(reading_of(&in_effect)) {
        let singles: Vec<Vec<(Key, i64)>> = alone.iter().map(|r| moves_of(i, *r)).collect();
        for (k, change) in cells {
            let makes = |moves: &[(Key, i64)]| moves.iter().any(|(c, x)| *c == k && *x == change);
            let names = if let Some(n) = singles.iter().position(|m| makes(m)) {
                vec![in_effect[n]]
            } else if let Some(n) = singles.iter().position(|m| !m.is_empty()) {
                vec![in_effect[n]]
            } else {
                subsets(in_effect.len())
                    .map(|set| set.iter().map(|&n| in_effect[n]).collect::<Vec<_>>())
                    .find(|names| makes(&moves_of(i, reading_of(names))))
                    .unwrap_or_else(|| in_effect.clone())
            };
            explained.entry(k).or_default().push(Move {
                dossier: dossiers[i].key.to_string(),
                reading: joined(&names),
                change,
            });
        }
    }
    // Where a cell stays unexplained, the dossiers of its unit and field with findings.
    let mut flagged: HashMap<(String, String), Vec<Candidate>> = HashMap::new();
    for (d, p) in dossiers.iter().zip(&base) {
        let finding = match p {
            Placement::Error(code, _) => code,
            Placement::Counted {
                warning: Some((code, _)),
                ..
            } => code,
            _ => continue,
        };
        let unit = units
            .find(&d.unit_code)
            .map_or_else(|| d.unit_code.to_string(), |u| units.get(u).code.clone());
        for field in [d.field_code.to_string(), TOTAL.to_owned()] {
            flagged
                .entry((unit.clone(), field))
                .or_default()
                .push(Candidate {
                    dossier: d.key.to_string(),
                    finding: finding.as_str(),
                });
        }
    }

    let keys: BTreeSet<Key> = our_cells
        .keys()
        .chain(their_cells.keys())
        .chain(explained.keys())
        .filter(|k| compared(&k.0, &k.1))
        .cloned()
        .collect();
    let order: HashMap<&str, usize> = units
        .subtree(units.root())
        .enumerate()
        .map(|(i, id)| (units.get(id).code.as_str(), i))
        .collect();
    let mut keys: Vec<Key> = keys.into_iter().collect();
    keys.sort_by(|a, b| {
        let rank = |k: &Key| {
            (
                order.get(k.0.as_str()).copied().unwrap_or(usize::MAX),
                k.1 != TOTAL,
                k.1.clone(),
                columns.iter().position(|c| *c == k.2),
            )
        };
        rank(a).cmp(&rank(b))
    });
    let mut cells = Vec::with_capacity(keys.len());
    let mut summary = Summary::default();
    for k in keys {
        let ours = our_cells.get(&k).copied().unwrap_or(0);
        let theirs = their_cells.get(&k).copied().unwrap_or(0);
        let difference = theirs as i64 - ours as i64;
        let mut moves = explained.remove(&k).unwrap_or_default();
        moves.sort_by(|a, b| {
            (reading_rank(&a.reading), &a.dossier).cmp(&(reading_rank(&b.reading), &b.dossier))
        });
        let unexplained = difference - moves.iter().map(|m| m.change).sum::<i64>();
        summary.cells += 1;
        summary.differing += usize::from(difference != 0);
        summary.difference += difference.unsigned_abs();
        summary.unexplained += unexplained.unsigned_abs();
        let unit_name = units
            .find(&k.0)
            .map_or_else(String::new, |id| units.get(id).name.clone());
        let label = labels
            .get(&(k.0.clone(), k.1.clone()))
            .cloned()
            .or_else(|| {
                fields
                    .iter()
                    .find(|(c, n)| *c == k.1 && !n.is_empty())
                    .map(|(_, n)| n.clone())
            })
            .unwrap_or_else(|| k.1.clone());
        let candidates = if unexplained == 0 {
            Vec::new()
        } else {
            flagged
                .get(&(k.0.clone(), k.1.clone()))
                .cloned()
                .unwrap_or_default()
        };
        cells.push(Cell {
            unit: k.0,
            unit_name,
            field: k.1,
            label,
            column: k.2,
            column_label: def.full_header(k.2),
            ours,
            theirs,
            difference,
            explained: moves,
            unexplained,
            candidates,
        });
    }
    Reconciliation {
        form: def.code.clone(),
        period: period.id(),
        summary,
        readings,
        cells,
        unmatched,
        units_only_ours,
    }
}

/// Sets of `n` indices, fewest first, then in order: {0}, {1}, …, {0, 1}, {0, 2}, ….
fn subsets(n: usize) -> impl Iterator<Item = Vec<usize>> {
    let mut all: Vec<Vec<usize>> = (1u32..(1 << n))
        .map(|mask| (0..n).filter(|i| mask & (1 << i) != 0).collect())
        .collect();
    all.sort_by(|a: &Vec<usize>, b| (a.len(), a).cmp(&(b.len(), b)));
    all.into_iter()
}

/// A move's reading(s) in the table's order, for sorting.
fn reading_rank(reading: &str) -> Vec<ReadingName> {
    reading
        .split('+')
        .filter_map(ReadingName::from_code)
        .collect()
}
