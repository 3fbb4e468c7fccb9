//! `check-config --probe-source NAME`: log in to one source, read one window of its dossiers,
//! store nothing, and say what came: records per status code as the source writes them, values
//! no table maps (with the setting that would map each), unit names no unit matches, records that
//! cannot be read, and the time range the dossiers span. What an operator runs before any report
//! depends on a new source.

use super::call::SourceError;
use super::config::{Protocol, SourceSettings};
use super::mapping::{Lookups, Mapping, UnitIndex};
use crate::auth::source::SourceAuth;
use crate::domain::{Axis, FindingCode, Instant};
use serde_json::Value;
use std::collections::BTreeMap;

/// What a probe saw.
#[derive(Debug, Default)]
pub struct Probe {
    pub records: usize,
    /// The source's own status codes, and how many records carry each.
    pub statuses: BTreeMap<String, usize>,
    /// (field, value) → (records, an example key, what to set).
    pub unmapped: BTreeMap<(String, String), (usize, String, String)>,
    /// Records that cannot be read: (key or position, why).
    pub unreadable: Vec<(String, String)>,
    /// The earliest and latest reception instants.
    pub received: Option<(Instant, Instant)>,
}

impl Probe {
    /// Whether every value maps and every record reads.
    pub fn clean(&self) -> bool {
        self.unmapped.is_empty() && self.unreadable.is_empty()
    }

    fn saw(&mut self, mapping: &Mapping, units: &UnitIndex, lookups: &Lookups, item: &Value) {
        self.records += 1;
        let status = mapping
            .raw(item, "TrangThaiHoSo", lookups)
            .unwrap_or_else(|| "(none)".to_owned());
        *self.statuses.entry(status).or_default() += 1;
        match mapping.map(item, units, lookups) {
            Ok(mapped) => {
                for note in &mapped.notes {
                    self.note(note.field, &note.value, &mapped.key, &note.message);
                }
                let canonical: Value = serde_json::from_str(&mapped.text).unwrap_or(Value::Null);
                let received = canonical
                    .get("NgayTiepNhan")
                    .and_then(Value::as_str)
                    .and_then(|t| Instant::parse(t).ok());
                if let Some(at) = received {
                    self.received = Some(match self.received {
                        Some((a, b)) => (a.min(at), b.max(at)),
                        None => (at, at),
                    });
                }
            }
            Err(rejected) => {
                let key = rejected
                    .key
                    .clone()
                    .unwrap_or_else(|| format!("row:{}", self.records));
                if rejected.code == FindingCode::UnmappedValue {
                    let value = mapping
                        .raw(item, "TrangThaiHoSo", lookups)
                        .unwrap_or_default();
                    self.note("TrangThaiHoSo", &value, &key, &rejected.message);
                } else {
                    self.unreadable.push((key, rejected.message));
                }
            }
        }
    }

    fn note(&mut self, field: &str, value: &str, key: &str, message: &str) {
        let entry = self
            .unmapped
            .entry((field.to_owned(), value.to_owned()))
            .or_insert_with(|| (0, key.to_owned(), message.to_owned()));
        entry.0 += 1;
    }
}

/// Reads the dossiers of `source` received in [from, to) (a queue: what waits, unacknowledged).
pub async fn run(
    source: &SourceSettings,
    auth: &SourceAuth,
    units: &crate::domain::UnitTree,
    from: Instant,
    to: Instant,
) -> Result<Probe, String> {
    let mapping = Mapping::compile(&source.name, &source.effective_mapping())?;
    let units = UnitIndex::of(units);
    let retry = source.retry.policy();
    let http = source.http_client();
    let failed = |e: SourceError| e.to_string();
    let mut probe = Probe::default();
    match source.protocol {
        Protocol::EnvelopeWindow => {
            let client = super::envelope::EnvelopeClient::new(source, http)?;
            let last = Instant(to.0 - 1).to_local().date();
            let items = client
                .window(auth, &retry, from.to_local().date(), last)
                .await
                .map_err(failed)?;
            for item in &items {
                probe.saw(&mapping, &units, &Lookups::new(), item);
            }
        }
        Protocol::Igate => {
            let client = super::igate::IgateClient::new(source, http);
            let size = source.window_plan().page_size;
            let items = client
                .window(auth, &retry, Axis::Received, from, to, size)
                .await
                .map_err(failed)?;
            let mut wanted: Vec<(String, String)> =
                items.iter().flat_map(|i| mapping.lookup_ids(i)).collect();
            wanted.sort();
            wanted.dedup();
            let mut lookups = Lookups::new();
            let mut missing = std::collections::HashSet::new();
            client
                .look_up(auth, &retry, wanted, &mut lookups, &mut missing)
                .await
                .map_err(failed)?;
            for item in &items {
                probe.saw(&mapping, &units, &lookups, item);
            }
        }
        Protocol::AckQueue => {
            let client = super::queue::QueueClient::new(source, http);
            for item in &client.batch(auth, &retry).await.map_err(failed)? {
                probe.saw(&mapping, &units, &Lookups::new(), item);
            }
        }
        Protocol::Baocao => {
            let client = super::procedure::SourceClient::new(
                http,
                source.base_url.as_deref().unwrap_or_default(),
                source.max_body_bytes,
            )?;
            let texts = client
                .window(
                    auth,
                    &retry,
                    "dossiers",
                    from,
                    to,
                    source.window_plan().page_size,
                )
                .await
                .map_err(failed)?;
            for text in &texts {
                let item: Value = serde_json::from_str(text).unwrap_or(Value::Null);
                probe.saw(&mapping, &units, &Lookups::new(), &item);
            }
        }
        Protocol::Receiver => {
            return Err(format!(
                "`{}` is a receiver: nothing is read from it, one-stop systems push to it (see `baocao-sync receiver client list --source {}`)",
                source.name, source.name
            ));
        }
    }
    Ok(probe)
}
