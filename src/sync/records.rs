//! The records forms are computed from, loaded once: from the store (push, `report
//! --from-store`) or from export files (`report --input`), de-duplicated, with the findings about
//! the records that could not be read, by kind, so each form lists only those about what it reads.

use crate::domain::{Dossier, Feedback, Finding, Rating, RecordKind};
use crate::sources::export::{FromWire, RecordBatch, parse_raw};
use crate::store::{Store, StoreError};

#[derive(Debug, Default)]
pub struct Loaded {
    pub dossiers: Option<Vec<Dossier>>,
    pub ratings: Option<Vec<Rating>>,
    pub feedback: Option<Vec<Feedback>>,
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

    /// Every stored record of the three kinds (of one source, or all), and the rejects no
    /// readable version has replaced.
    #[tracing::instrument(name = "sync.load", skip_all, fields(source))]
    pub async fn from_store<S: Store>(
        store: &S,
        source: Option<&str>,
    ) -> Result<Loaded, StoreError> {
        let mut loaded = Loaded::default();
        let dossiers = store.dossiers(source).await?;
        loaded.records += dossiers.len();
        loaded.dossiers = Some(dossiers);
        let ratings = store.raw_records(RecordKind::Rating, source).await?;
        let ratings = parse_raw::<Rating>(ratings.iter().map(String::as_str), false);
        loaded.ratings = Some(loaded.take(ratings));
        let feedback = store.raw_records(RecordKind::Feedback, source).await?;
        let feedback = parse_raw::<Feedback>(feedback.iter().map(String::as_str), false);
        loaded.feedback = Some(loaded.take(feedback));
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
        Ok(loaded)
    }
}
