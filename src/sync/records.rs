//! The records forms are computed from, loaded once: from the store (push, `report
//! --from-store`) or from export files (`report --input`), de-duplicated, with the findings about
//! the records that could not be read, by kind, so each form lists only those about what it reads.
//!
//! From the store, records come from every source; the same key from two sources counts once,
//! from the source of the lowest `precedence` (then the first by name), and each other copy is a
//! `duplicate_record` finding naming both sources. The findings a source's mapping left about
//! stored records (values no table maps, dossiers a source no longer returns) join the rest.

use crate::domain::{Dossier, Feedback, Finding, FindingCode, Rating, RatingMonth, RecordKind};
use crate::forms::ii06a::{FieldHistory, FieldStart};
use crate::sources::export::{FromWire, RecordBatch, parse_raw};
use crate::store::blocks::Seq;
use crate::store::{Store, StoreError};
use std::collections::HashMap;

/// Which source counts when two send the same record: the lower number.
#[derive(Debug, Clone, Default)]
pub struct Precedence(HashMap<String, i64>);

impl Precedence {
    pub fn of(sources: &[crate::sources::config::SourceSettings]) -> Precedence {
        Precedence(
            sources
                .iter()
                .map(|s| (s.name.clone(), s.precedence))
                .collect(),
        )
    }

    fn rank(&self, source: &str) -> (i64, String) {
        (
            self.0.get(source).copied().unwrap_or(100),
            source.to_owned(),
        )
    }
}

/// Keeps each key's copy from the best-ranked source; `(records, findings about the others)`.
fn settle_sources<R>(
    mut by_source: Vec<(String, Vec<R>)>,
    precedence: &Precedence,
    key: impl Fn(&R) -> &str,
    unit: impl Fn(&R) -> &str,
    kind: RecordKind,
) -> (Vec<R>, Vec<Finding>) {
    by_source.sort_by_key(|(s, _)| precedence.rank(s));
    if by_source.len() <= 1 {
        // One source: its records as they are (a million are not moved).
        return (
            by_source.pop().map(|(_, r)| r).unwrap_or_default(),
            Vec::new(),
        );
    }
    let mut counted: HashMap<String, String> = HashMap::new();
    let mut out = Vec::new();
    let mut findings = Vec::new();
    for (source, records) in by_source {
        for r in records {
            match counted.get(key(&r)) {
                Some(first) => findings.push(
                    Finding::new(
                        FindingCode::DuplicateRecord,
                        key(&r).to_owned(),
                        format!(
                            "{} {} came from source `{first}` and from `{source}`; the copy from `{first}` counts (sources' precedence)",
                            kind.as_str(),
                            key(&r)
                        ),
                    )
                    .about(kind)
                    .with_unit(unit(&r).to_owned()),
                ),
                None => {
                    counted.insert(key(&r).to_owned(), source.clone());
                    out.push(r);
                }
            }
        }
    }
    (out, findings)
}

#[derive(Debug, Default)]
pub struct Loaded {
    pub dossiers: Option<Vec<Dossier>>,
    pub ratings: Option<Vec<Rating>>,
    pub feedback: Option<Vec<Feedback>>,
    /// Monthly satisfaction aggregates (`DongBoDanhGia`), when a source sends them.
    pub rating_months: Option<Vec<RatingMonth>>,
    /// The fields over the whole history, when `dossiers` are only those a period needs.
    pub fields: Option<FieldHistory>,
    /// When `dossiers` are not in their first-stored order (a period's read), each one's place
    /// in it (by source in precedence order, then sequence): what explain lists by.
    pub dossier_order: Option<Vec<i64>>,
    /// With a period's read, what the column-4 check reads of the dossiers of the period before
    /// that closed before this one began (their reception columns).
    pub earlier: Option<crate::domain::Receptions>,
    pub findings: Vec<(RecordKind, Finding)>,
    /// Records read, the unreadable ones included.
    pub records: usize,
}

impl Loaded {
    /// Keeps a batch's findings and count; returns its records.
    pub fn take<R: FromWire>(&mut self, batch: RecordBatch<R>) -> Vec<R> {
        self.records += batch.records_read;
        self.findings
            .extend(batch.findings.into_iter().map(|f| (R::KIND, f)));
        batch.records
    }

    /// The findings about the kinds of records a form reads (each given out once).
    pub fn findings_for(&mut self, kinds: &[RecordKind]) -> Vec<Finding> {
        std::mem::take(&mut self.findings)
            .into_iter()
            .filter(|(k, _)| kinds.contains(k))
            .map(|(k, f)| f.about(k))
            .collect()
    }

    /// Every stored record of the three kinds (of one source, or all), the rejects no readable
    /// version has replaced, and what the sources' mappings noted. With a period's [`Reading`],
    /// only the dossiers it may count or name, the reception columns of those the column-4 check
    /// also reads, and the fields' history the labels need.
    #[tracing::instrument(name = "sync.load", skip_all, fields(source, reading = ?reading))]
    pub async fn from_store<S: Store>(
        store: &S,
        source: Option<&str>,
        precedence: &Precedence,
        reading: Option<Reading>,
    ) -> Result<Loaded, StoreError> {
        let mut loaded = Loaded::default();
        let sources = |kind| async move {
            let all = store.sources(kind).await?;
            Ok::<Vec<String>, StoreError>(match source {
                Some(s) => all.into_iter().filter(|a| a == s).collect(),
                None => all,
            })
        };
        let dossier_sources = sources(RecordKind::Dossier).await?;
        // Receptions carry no key: where two sources may hold the same dossier, the previous
        // period is read whole, so that precedence can settle it.
        let reading = reading.map(|r| match r.earlier_from {
            Some(earlier) if dossier_sources.len() > 1 => Reading {
                from: earlier,
                earlier_from: None,
            },
            _ => r,
        });
        let mut by_source = Vec::new();
        for s in dossier_sources {
            let (d, seqs) = match reading {
                Some(r) => {
                    if let Some(earlier) = r.earlier_from {
                        loaded.earlier = Some(store.dossier_receptions(&s, earlier, r.from).await?);
                    }
                    let (d, seqs) = store.dossiers_since(&s, r.from).await?;
                    (d, Some(seqs))
                }
                None => (store.dossiers(Some(&s)).await?, None),
            };
            by_source.push((s, d, seqs));
        }
        if reading.is_some() {
            other_copies(store, &mut by_source).await?;
            let names: Vec<&str> = by_source.iter().map(|(s, _, _)| s.as_str()).collect();
            loaded.fields = Some(field_history(store, &names, precedence).await?);
        }
        let (dossiers, order, findings) = settle_dossiers(by_source, precedence);
        loaded.records += dossiers.len() + findings.len();
        loaded.dossiers = Some(dossiers);
        loaded.dossier_order = order;
        loaded
            .findings
            .extend(findings.into_iter().map(|f| (RecordKind::Dossier, f)));
        loaded.ratings = Some(
            load_raw::<S, Rating>(
                store,
                &mut loaded,
                sources(RecordKind::Rating).await?,
                precedence,
            )
            .await?,
        );
        loaded.feedback = Some(
            load_raw::<S, Feedback>(
                store,
                &mut loaded,
                sources(RecordKind::Feedback).await?,
                precedence,
            )
            .await?,
        );
        let mut by_source = Vec::new();
        for s in sources(RecordKind::Rating).await? {
            let months: Vec<RatingMonth> = store
                .rating_months(Some(&s))
                .await?
                .iter()
                .filter_map(|t| crate::sources::rating_months::parse_stored(t))
                .collect();
            if !months.is_empty() {
                by_source.push((s, months));
            }
        }
        if !by_source.is_empty() {
            // One unit-month-question from two sources counts once, as records do.
            let keyed = |m: &RatingMonth| {
                format!(
                    "{}|{:04}-{:02}|{}",
                    m.unit_code,
                    m.month.0,
                    m.month.1,
                    crate::catalog::fold(&m.question)
                )
            };
            let by_source: Vec<(String, Vec<(String, RatingMonth)>)> = by_source
                .into_iter()
                .map(|(s, ms)| (s, ms.into_iter().map(|m| (keyed(&m), m)).collect()))
                .collect();
            let (months, findings) = settle_sources(
                by_source,
                precedence,
                |(k, _): &(String, RatingMonth)| k,
                |(_, m)| &m.unit_code,
                RecordKind::Rating,
            );
            loaded.rating_months = Some(months.into_iter().map(|(_, m)| m).collect());
            loaded
                .findings
                .extend(findings.into_iter().map(|f| (RecordKind::Rating, f)));
        }
        for kind in [
            RecordKind::Dossier,
            RecordKind::Rating,
            RecordKind::Feedback,
        ] {
            let rejects = store.rejects(kind, source).await?;
            loaded.records += rejects.len();
            loaded
                .findings
                .extend(rejects.into_iter().map(|f| (kind, f)));
        }
        loaded.findings.extend(store.source_findings(source).await?);
        Ok(loaded)
    }
}

/// What a period reads of the stored dossiers: every one it may count or name from its first day
/// on, and for the column-4 check, the reception columns of those that closed from the previous
/// period's first day until then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    pub from: chrono::NaiveDate,
    pub earlier_from: Option<chrono::NaiveDate>,
}

/// What `period` reads (see [`Reading`]).
pub fn reading_for(period: &crate::domain::Period) -> Reading {
    Reading {
        from: period.first_day,
        earlier_from: period
            .previous()
            .map(|p| p.first_day)
            .filter(|d| *d < period.first_day),
    }
}

/// A source's dossiers as read: its name, the dossiers, their sequences when read out of order.
type SourceRead = (String, Vec<Dossier>, Option<Vec<Seq>>);

/// Where two sources hold dossiers, the copy of a key one of them has outside the window read,
/// when the other's copy was read: precedence picks among all copies, not among those read.
async fn other_copies<S: Store>(store: &S, by_source: &mut [SourceRead]) -> Result<(), StoreError> {
    if by_source.len() < 2 {
        return Ok(());
    }
    let read: Vec<std::collections::HashSet<String>> = by_source
        .iter()
        .map(|(_, ds, _)| ds.iter().map(|d| d.key.to_string()).collect())
        .collect();
    for (i, (source, dossiers, seqs)) in by_source.iter_mut().enumerate() {
        let mut wanted: Vec<&str> = read
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .flat_map(|(_, keys)| keys.iter().map(String::as_str))
            .filter(|k| !read[i].contains(*k))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let copies = store.dossiers_by_keys(source, &wanted).await?;
        if let Some(seqs) = seqs {
            // Closed before the period: no list shows them; after every dossier read.
            seqs.extend(std::iter::repeat_n(Seq::MAX, copies.len()));
        }
        dossiers.extend(copies);
    }
    Ok(())
}

/// The dossiers of every source settled by precedence ([`settle_sources`]), with each one's place
/// in the first-stored order when they were read out of it: (dossiers, order, findings).
fn settle_dossiers(
    mut by_source: Vec<SourceRead>,
    precedence: &Precedence,
) -> (Vec<Dossier>, Option<Vec<i64>>, Vec<Finding>) {
    if by_source.len() <= 1 {
        // One source: as read, nothing moved.
        return match by_source.pop() {
            Some((_, d, order)) => (d, order, Vec::new()),
            None => (Vec::new(), None, Vec::new()),
        };
    }
    by_source.sort_by_key(|(s, _, _)| precedence.rank(s));
    let ordered = by_source.iter().any(|(_, _, seqs)| seqs.is_some());
    // Precedence first, then sequence (below 2^40: a trillion dossiers a source).
    let keyed: Vec<(String, Vec<(Dossier, i64)>)> = by_source
        .into_iter()
        .enumerate()
        .map(|(rank, (s, d, seqs))| {
            let seqs = seqs.unwrap_or_default();
            let records = d
                .into_iter()
                .enumerate()
                .map(|(i, d)| {
                    let seq = seqs
                        .get(i)
                        .copied()
                        .unwrap_or(i as i64)
                        .clamp(0, (1 << 40) - 1);
                    (d, ((rank as i64) << 40) | seq)
                })
                .collect();
            (s, records)
        })
        .collect();
    let (records, findings) = settle_sources(
        keyed,
        precedence,
        |(d, _): &(Dossier, i64)| &d.key,
        |(d, _)| &d.unit_code,
        RecordKind::Dossier,
    );
    let (dossiers, order): (Vec<Dossier>, Vec<i64>) = records.into_iter().unzip();
    (dossiers, ordered.then_some(order), findings)
}

/// The fields' history over every source holding dossiers: each code's first dossier from the
/// source that counts first (precedence), its label from the first that has one.
async fn field_history<S: Store>(
    store: &S,
    sources: &[&str],
    precedence: &Precedence,
) -> Result<FieldHistory, StoreError> {
    let mut sources: Vec<&str> = sources.to_vec();
    sources.sort_by_key(|s| precedence.rank(s));
    let mut history = FieldHistory::default();
    for source in sources {
        for (code, f) in store.field_firsts(source).await? {
            let start = history.fields.entry(code).or_insert_with(|| FieldStart {
                first_key: f.first_key,
                first_unit: f.first_unit,
                first_name: f.first_name,
                label: String::new(),
            });
            if start.label.is_empty() {
                start.label = f.label;
            }
        }
    }
    Ok(history)
}

/// Ratings or feedback of every source in `sources`, settled by precedence.
async fn load_raw<S: Store, R: FromWire>(
    store: &S,
    loaded: &mut Loaded,
    sources: Vec<String>,
    precedence: &Precedence,
) -> Result<Vec<R>, StoreError> {
    let mut by_source = Vec::new();
    for s in sources {
        let raws = store.raw_records(R::KIND, Some(&s)).await?;
        let batch = parse_raw::<R>(raws.iter().map(String::as_str), false);
        let records = loaded.take(batch);
        by_source.push((s, records));
    }
    let (records, findings) = settle_sources(
        by_source,
        precedence,
        |r: &R| r.key(),
        |r| r.unit_code(),
        R::KIND,
    );
    loaded
        .findings
        .extend(findings.into_iter().map(|f| (R::KIND, f)));
    Ok(records)
}
