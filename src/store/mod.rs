//! Store: the only place that speaks SQL.
//!
//! A trait with one implementation per backend (SQLite now, the embedded default; PostgreSQL for
//! production comes next), each with its own migrations folder and runtime queries, chosen by the
//! URL scheme. Native pools rather than sqlx's `Any` driver: `Any` cannot carry the types we need
//! on both backends and its queries cannot be checked; the cost is writing some queries twice.

mod sqlite;

use crate::auth::vault::SealedCredential;
use crate::domain::{Dossier, Finding, RecordKind};
pub use sqlite::{SqliteDossierImport, SqliteStore};
use std::future::Future;

/// The default embedded database.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/baocao-sync.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    #[error("unsupported database URL `{0}`: use sqlite://PATH")]
    UnsupportedUrl(String),
    #[error("the store holds a record it cannot read back ({0}); was the database edited by hand?")]
    Corrupt(String),
}

/// A dossier to store, with the record as it arrived.
#[derive(Debug, Clone, Copy)]
pub struct IncomingDossier<'a> {
    pub dossier: &'a Dossier,
    /// The record as received, a JSON object.
    pub raw: &'a str,
}

/// A rating or feedback record to store: its key, CapNhatLuc, and the record as received.
#[derive(Debug, Clone, Copy)]
pub struct IncomingRaw<'a> {
    pub key: &'a str,
    pub updated_at: Option<crate::domain::Instant>,
    pub raw: &'a str,
}

/// A record that could not be read, named by its key.
#[derive(Debug, Clone)]
pub struct Reject {
    pub record_key: String,
    pub reason: String,
    pub raw: String,
}

/// One push decision as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionRecord {
    pub system: String,
    pub form: String,
    pub period: String,
    pub unit: String,
    /// `created`, `updated`, `unchanged`, `recreated`, `locked`, `edited`, `forbidden`, …
    pub decision: String,
    pub remote_version: Option<u64>,
    pub content_hash: String,
    /// A message for the operator (why it failed), empty on success.
    pub detail: String,
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpsertCounts {
    pub new: u64,
    pub updated: u64,
    pub unchanged: u64,
}

impl UpsertCounts {
    pub fn add(&mut self, o: UpsertCounts) {
        self.new += o.new;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
    }
}

/// A bulk import of dossiers: one transaction across many batches. The unique index's keys arrive
/// in no order, so every commit rewrites most of its pages into the journal; committing every few
/// hundred thousand dossiers rather than every batch made a million-dossier import 25 % faster
/// without holding more than a batch in memory.
pub trait DossierImport: Send {
    /// Stores one batch (keys unique within it) under the rule of [`Store::upsert_dossiers`].
    fn add(
        &mut self,
        records: &[IncomingDossier<'_>],
    ) -> impl Future<Output = Result<UpsertCounts, StoreError>> + Send;
    fn commit(self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// What the product keeps. Every method is one transaction.
pub trait Store: Send + Sync {
    type Import: DossierImport;

    /// Starts a bulk dossier import for `source`; nothing is visible until it commits.
    fn begin_dossier_import(
        &self,
        source: &str,
    ) -> impl Future<Output = Result<Self::Import, StoreError>> + Send;

    /// Stores dossiers keyed by (source, MaHoSo): a new key is inserted; an existing one is
    /// replaced when the incoming CapNhatLuc is later (an absent one is older than any), or equal
    /// with a different record; otherwise nothing changes. Keys must be unique within one call.
    fn upsert_dossiers(
        &self,
        source: &str,
        records: &[IncomingDossier<'_>],
    ) -> impl Future<Output = Result<UpsertCounts, StoreError>> + Send;

    /// Ratings or feedback, kept as received, with the same replacement rule as dossiers.
    fn upsert_raw(
        &self,
        kind: RecordKind,
        source: &str,
        records: &[IncomingRaw<'_>],
    ) -> impl Future<Output = Result<UpsertCounts, StoreError>> + Send;

    /// Stored ratings or feedback as received (JSON objects), in the order first stored.
    fn raw_records(
        &self,
        kind: RecordKind,
        source: Option<&str>,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Remembers records that could not be read, replacing earlier rejects of the same key.
    fn record_rejects(
        &self,
        kind: RecordKind,
        source: &str,
        rejects: &[Reject],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every stored dossier (of one source, or all), in the order they were first stored.
    fn dossiers(
        &self,
        source: Option<&str>,
    ) -> impl Future<Output = Result<Vec<Dossier>, StoreError>> + Send;

    /// `invalid_record` findings for rejects of `kind` no readable version has replaced.
    fn rejects(
        &self,
        kind: RecordKind,
        source: Option<&str>,
    ) -> impl Future<Output = Result<Vec<Finding>, StoreError>> + Send;

    /// Stores (or replaces) one unit's sealed login on one system.
    fn put_credential(
        &self,
        credential: &SealedCredential,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every sealed credential, by system then unit.
    fn credentials(&self)
    -> impl Future<Output = Result<Vec<SealedCredential>, StoreError>> + Send;

    /// Replaces every credential at once (a key rotation): all or nothing.
    fn replace_credentials(
        &self,
        credentials: &[SealedCredential],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records one push decision.
    fn record_decision(
        &self,
        decision: &DecisionRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The version of our own last write of a report (created, updated, recreated, or confirmed
    /// unchanged), if any.
    fn last_written_version(
        &self,
        system: &str,
        form: &str,
        period: &str,
        unit: &str,
    ) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;

    /// The upper bound of the last pulled window of `kind` from `source`.
    fn watermark(
        &self,
        source: &str,
        kind: RecordKind,
    ) -> impl Future<Output = Result<Option<crate::domain::Instant>, StoreError>> + Send;

    /// Advances the watermark; call only once the window's records are stored.
    fn set_watermark(
        &self,
        source: &str,
        kind: RecordKind,
        upper: crate::domain::Instant,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Opens the store a URL names, creating and migrating it on first use.
pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
    if url.starts_with("sqlite:") {
        SqliteStore::open(url).await
    } else {
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}
