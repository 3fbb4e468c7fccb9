//! Storing what a source sent in its own shape: each record mapped (`mapping`) to domain.md's,
//! read like an export's record, stored by (source, MaHoSo); what cannot be counted kept as a
//! reject with its key; what the mapping noted kept as findings about the record; and, for
//! sources without CapNhatLuc, which dossiers are still open there (to be read again by key).
//! Pulls, look-ups, queue drains and the receiver all store through here.

use super::export::parse_raw;
use super::mapping::{Lookups, Mapping, UnitIndex};
use crate::domain::{Dossier, Finding, FindingCode, Instant, RecordKind};
use crate::store::{OpenMark, Reject, SourceFinding, Store, StoreError, UpsertCounts};

/// One record as the source sent it, and its id there when it has one (iGate's ObjectId).
pub struct Native {
    pub value: serde_json::Value,
    pub remote_id: Option<String>,
}

/// What storing a batch did.
#[derive(Debug, Default, Clone)]
pub struct Ingested {
    pub counts: UpsertCounts,
    /// Records that cannot be counted, with their keys (or positions).
    pub rejected: Vec<Finding>,
    /// Values no table maps (channels, unit names), noted on stored records.
    pub notes: usize,
    /// The keys stored or rejected, in order.
    pub keys: Vec<String>,
}

impl Ingested {
    pub fn add(&mut self, o: Ingested) {
        self.counts.add(o.counts);
        self.rejected.extend(o.rejected);
        self.notes += o.notes;
        self.keys.extend(o.keys);
    }
}

/// Maps `records` and stores them under `source`, read at `seen_at`. With `track`, the dossiers
/// still open are remembered for look-ups (and closed ones forgotten).
#[tracing::instrument(name = "source.ingest", skip_all, fields(source = mapping.source(), records = records.len()))]
pub async fn dossiers<S: Store>(
    store: &S,
    mapping: &Mapping,
    units: &UnitIndex,
    lookups: &Lookups,
    records: &[Native],
    seen_at: Instant,
    track: bool,
) -> Result<Ingested, StoreError> {
    let source = mapping.source();
    let mut texts = Vec::with_capacity(records.len());
    let mut open = Vec::with_capacity(records.len());
    let mut rejects = Vec::new();
    let mut findings = Vec::new();
    let mut out = Ingested::default();
    for (i, native) in records.iter().enumerate() {
        match mapping.map(&native.value, units, lookups) {
            Ok(mapped) => {
                for note in &mapped.notes {
                    findings.push(SourceFinding {
                        key: mapped.key.clone(),
                        field: note.field.to_owned(),
                        code: FindingCode::UnmappedValue,
                        unit: None,
                        message: note.message.clone(),
                    });
                }
                out.notes += mapped.notes.len();
                open.push(OpenMark {
                    key: mapped.key.clone(),
                    remote_id: native.remote_id.clone(),
                    open: mapped.open,
                });
                out.keys.push(mapped.key.clone());
                texts.push(mapped.text);
            }
            Err(rejected) => {
                let record = rejected
                    .key
                    .clone()
                    .unwrap_or_else(|| format!("row:{}", i + 1));
                if let Some(key) = &rejected.key {
                    rejects.push(Reject {
                        record_key: key.clone(),
                        reason: rejected.message.clone(),
                        raw: String::new(),
                        code: rejected.code,
                    });
                    // Not counted, so its state is not known: looked up again like an open one.
                    open.push(OpenMark {
                        key: key.clone(),
                        remote_id: native.remote_id.clone(),
                        open: true,
                    });
                    out.keys.push(key.clone());
                }
                out.rejected.push(
                    Finding::new(rejected.code, record, rejected.message)
                        .about(RecordKind::Dossier),
                );
            }
        }
    }
    let batch = parse_raw::<Dossier>(texts.iter().map(String::as_str), false);
    for f in batch.findings {
        if f.code == FindingCode::InvalidRecord {
            if !f.record.starts_with("row:") {
                rejects.push(Reject {
                    record_key: f.record.clone(),
                    reason: f.message.clone(),
                    raw: String::new(),
                    code: f.code,
                });
            }
            out.rejected.push(f);
        }
    }
    let stored: Vec<&Dossier> = batch.records.iter().collect();
    if !stored.is_empty() {
        out.counts = store.upsert_dossiers(source, &stored).await?;
    }
    if !rejects.is_empty() {
        store
            .record_rejects(RecordKind::Dossier, source, &rejects)
            .await?;
    }
    let keys: Vec<&str> = out.keys.iter().map(String::as_str).collect();
    store
        .replace_source_findings(source, RecordKind::Dossier, &keys, &findings, seen_at)
        .await?;
    if track {
        store.track_open(source, &open, seen_at).await?;
    }
    Ok(out)
}

/// The source no longer returns these open dossiers: they stay as last read, counted, and a
/// finding says so until the source returns them again.
pub async fn gone<S: Store>(
    store: &S,
    source: &str,
    keys: &[&str],
    at: Instant,
) -> Result<(), StoreError> {
    if keys.is_empty() {
        return Ok(());
    }
    store.mark_gone(source, keys, at).await?;
    let findings: Vec<SourceFinding> = keys
        .iter()
        .map(|k| SourceFinding {
            key: (*k).to_owned(),
            field: "_gone".to_owned(),
            code: FindingCode::MissingAtSource,
            unit: None,
            message: format!(
                "source `{source}` no longer returns dossier {k} (looked up by its code at {at}); it is counted as last read"
            ),
        })
        .collect();
    // Only the "gone" note is replaced: the mapping's notes about the record stay.
    for chunk in findings.chunks(500) {
        store
            .replace_source_findings(source, RecordKind::Dossier, &[], chunk, at)
            .await?;
    }
    Ok(())
}
