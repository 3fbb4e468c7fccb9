//! Store: the only place that speaks SQL.
//!
//! A trait with one implementation per backend — SQLite, the embedded default, and PostgreSQL for
//! production — each with its own migrations folder and runtime queries, chosen by the URL scheme
//! ([`open`] returns an [`AnyStore`]). Native pools rather than sqlx's `Any` driver: `Any` cannot
//! carry the types we need on both backends and its queries cannot be checked. Where the SQL text
//! is the same on both, it is written once (`shared.rs`) and expanded into each backend; what
//! differs (bulk loads, bulk reads, how rows are claimed and locked) is written per backend.
//!
//! Besides the records, the store keeps the daemon's state: the outbox of drafts and every
//! attempt, the append-only audit, the pull log the freshness gate reads, the scheduler's claimed
//! fires, run history and short leases ("locks") that keep runs of one period from overlapping.

mod any;
mod block_io;
pub mod blocks;
pub mod mail;
mod postgres;
mod shared;
mod sqlite;
mod tracking;
mod turns;

use crate::auth::vault::SealedCredential;
use crate::domain::{Axis, Dossier, Finding, FindingCode, Instant, RecordKind};
use crate::sinks::Draft;
pub use any::{AnyDossierImport, AnyStore};
pub use mail::{MailStore, MessageOutcome, MessageRow, MessageState, NewMessage, OptOut};
pub use postgres::{PgDossierImport, PgStore};
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
    #[error(
        "unsupported database URL `{0}`: use sqlite://PATH (embedded) or postgres://USER@HOST/DB"
    )]
    UnsupportedUrl(String),
    #[error("the store holds a record it cannot read back ({0}); was the database edited by hand?")]
    Corrupt(String),
    #[error(
        "the store {url} was migrated by a newer release of baocao-sync (its schema is {store}, this \
         binary's — release {release} — is {binary}): run that release or a later one, or restore a \
         backup this release can read; nothing was changed"
    )]
    Newer {
        url: String,
        store: i64,
        binary: i64,
        release: &'static str,
    },
    #[error("{0}")]
    Backup(String),
    /// SQLite could not write its file: the disk is full, or the process may not write files
    /// that large. Whatever the failed statement wrote was rolled back.
    #[error(
        "the store's file {path} could not grow ({cause}): {free} free on its disk{limit}; free \
         space there and run again — the failed write was rolled back, nothing of it was kept"
    )]
    Full {
        path: String,
        cause: String,
        free: String,
        limit: String,
    },
    /// A call asked what its method does not do (a bug of the caller); nothing was written.
    #[error("{0}; this is a bug, please report it (nothing was written)")]
    Misuse(String),
}

impl StoreError {
    /// The database could not be reached or went away mid-statement (stopped, restarted, the
    /// network cut): the same work may succeed once it answers again. Nothing a failed statement
    /// began was committed.
    pub fn is_unavailable(&self) -> bool {
        let e = match self {
            StoreError::Query(e) | StoreError::Open { source: e, .. } => e,
            _ => return false,
        };
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            // PostgreSQL's connection exceptions (08…) and "operator intervention" (57P…: the
            // server shutting down, or not yet accepting connections).
            sqlx::Error::Database(db) => db
                .code()
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
            _ => false,
        }
    }

    /// The error as the operator should read it when `file` is the SQLite store's: a full disk
    /// (or a file-size limit) named with the path and the free space; anything else unchanged.
    pub fn on_file(self, file: &std::path::Path) -> StoreError {
        let cause = match &self {
            StoreError::Query(sqlx::Error::Database(db))
            | StoreError::Open {
                source: sqlx::Error::Database(db),
                ..
            } => db
                .code()
                .and_then(|c| c.parse::<i32>().ok())
                .and_then(|code| {
                    // SQLITE_FULL (13), or an I/O error writing or growing a file (SQLITE_IOERR, 10,
                    // and its extended codes): what a file-size limit (EFBIG) gives.
                    matches!(code & 0xff, 10 | 13).then(|| db.message().to_owned())
                }),
            StoreError::Query(sqlx::Error::Io(e))
            | StoreError::Open {
                source: sqlx::Error::Io(e),
                ..
            } if matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EFBIG)) => {
                Some(e.to_string())
            }
            _ => None,
        };
        let Some(cause) = cause else {
            return self;
        };
        let dir = match file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => std::path::Path::new("."),
        };
        StoreError::Full {
            path: file.display().to_string(),
            cause,
            free: free_space(dir).map_or_else(|| "unknown space".to_owned(), human_bytes),
            limit: file_size_limit()
                .map(|l| {
                    format!(
                        ", and this process may write files of at most {}",
                        human_bytes(l)
                    )
                })
                .unwrap_or_default(),
        }
    }
}

/// Runs `op` again while the store is unavailable, a second apart, for at most `patience`
/// (zero: once). What the store answers otherwise, or last, is returned.
pub async fn patiently<T, F, Fut>(patience: std::time::Duration, mut op: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        match op().await {
            Err(e) if e.is_unavailable() && tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %e, "the store does not answer; trying again in a second");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            result => return result,
        }
    }
}

/// Bytes an unprivileged process may still write on the file system holding `dir`.
fn free_space(dir: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `path` is a NUL-terminated string and `stat` is large enough for the answer.
    let rc = unsafe { libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled `stat`.
    let stat = unsafe { stat.assume_init() };
    Some(stat.f_bavail * stat.f_frsize)
}

/// The largest file this process may write (`ulimit -f`), when it is limited.
fn file_size_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only fills `limit`.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_FSIZE, &mut limit) };
    (rc == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

/// `1.5 GB`, `300 kB`: sizes as an operator reads them.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Refuses a store whose newest applied migration is one this binary does not have (a newer
/// release wrote it), before anything is migrated.
fn check_schema(
    url: &str,
    applied: Option<i64>,
    migrator: &sqlx::migrate::Migrator,
) -> Result<(), StoreError> {
    let binary = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    match applied {
        Some(store) if store > binary => Err(StoreError::Newer {
            url: redact_url(url),
            store,
            binary,
            release: env!("CARGO_PKG_VERSION"),
        }),
        _ => Ok(()),
    }
}

/// A database URL as it may be shown: the password, if any, replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        // Not a URL we can take apart: show only its scheme, never what follows.
        Err(_) => match url.split_once("://") {
            Some((scheme, rest)) if rest.contains('@') => format!("{scheme}://***"),
            _ => url.to_owned(),
        },
    }
}

/// A rating or feedback record to store: its key, CapNhatLuc, and the record as received.
#[derive(Debug, Clone, Copy)]
pub struct IncomingRaw<'a> {
    pub key: &'a str,
    pub updated_at: Option<Instant>,
    pub raw: &'a str,
}

/// A record that could not be read (or mapped), named by its key.
#[derive(Debug, Clone)]
pub struct Reject {
    pub record_key: String,
    pub reason: String,
    pub raw: String,
    /// `invalid_record`, or `unmapped_value` for a value a source's code table lacks.
    pub code: FindingCode,
}

/// A dossier as last read from a source without CapNhatLuc: open or not, and its id there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenMark {
    pub key: String,
    pub remote_id: Option<String>,
    pub open: bool,
}

/// A dossier the store holds as open at a source, and when it was last read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenDossier {
    pub key: String,
    pub remote_id: Option<String>,
    pub seen_at: Instant,
    /// The source no longer returned it.
    pub gone: bool,
}

/// What a source's mapping noted about one stored record (kept until the record maps cleanly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFinding {
    pub key: String,
    /// The canonical field it is about (`_gone` for a dossier the source no longer returns).
    pub field: String,
    pub code: FindingCode,
    pub unit: Option<String>,
    pub message: String,
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

/// A report's place in the reporting systems: (system, form, period, unit).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct ReportId {
    pub system: String,
    pub form: String,
    pub period: String,
    pub unit: String,
}

impl std::fmt::Display for ReportId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}",
            self.system, self.form, self.period, self.unit
        )
    }
}

impl std::str::FromStr for ReportId {
    type Err = String;
    /// `SYSTEM/FORM/PERIOD/UNIT`, e.g. `central/II.06a/2023-Q3/000.10.00.H55`.
    fn from_str(s: &str) -> Result<ReportId, String> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [system, form, period, unit] if parts.iter().all(|p| !p.is_empty()) => Ok(ReportId {
                system: (*system).to_owned(),
                form: (*form).to_owned(),
                period: (*period).to_owned(),
                unit: (*unit).to_owned(),
            }),
            _ => Err(format!(
                "`{s}` is not a report: SYSTEM/FORM/PERIOD/UNIT, e.g. central/II.06a/2023-Q3/000.10.00.H55"
            )),
        }
    }
}

/// Where an outbox row stands. The transitions between states are `sync::outbox`'s; the store only
/// keeps them. ARCHITECTURE.md has the table of state × event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Content ready, waiting for a delivery worker.
    Pending,
    /// Claimed by a delivery worker under a lease.
    Sending,
    Created,
    Updated,
    /// The draft already held this content.
    Unchanged,
    /// A draft of ours had disappeared and was created again.
    Recreated,
    /// The unit has no records for this form and period: no draft, never a zero one.
    NothingToReport,
    /// Approved, signed or sent: never touched again.
    Locked,
    /// A person changed the draft since our last write: left as it is.
    EditedByPerson,
    /// The freshness gate held: the source is not known to be complete for the period.
    WaitingForSource,
    /// The report (or one it includes) broke an identity: a bug, never pushed.
    Withheld,
    /// An operator holds it.
    Held,
    /// The unit has no login for this system (re-armed by `creds set`).
    NoCredential,
    /// The unit's login is refused (re-armed by `creds set`).
    LoginFailed,
    /// The account has no data-entry right for the unit.
    Forbidden,
    /// The reporting system refuses the content.
    Invalid,
    /// A transient failure; tried again at `next_attempt_at`.
    Retrying,
    /// Attempts ran out: only an operator re-arms it.
    GivenUp,
}

impl OutboxState {
    pub const ALL: [OutboxState; 18] = [
        OutboxState::Pending,
        OutboxState::Sending,
        OutboxState::Created,
        OutboxState::Updated,
        OutboxState::Unchanged,
        OutboxState::Recreated,
        OutboxState::NothingToReport,
        OutboxState::Locked,
        OutboxState::EditedByPerson,
        OutboxState::WaitingForSource,
        OutboxState::Withheld,
        OutboxState::Held,
        OutboxState::NoCredential,
        OutboxState::LoginFailed,
        OutboxState::Forbidden,
        OutboxState::Invalid,
        OutboxState::Retrying,
        OutboxState::GivenUp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Sending => "sending",
            OutboxState::Created => "created",
            OutboxState::Updated => "updated",
            OutboxState::Unchanged => "unchanged",
            OutboxState::Recreated => "recreated",
            OutboxState::NothingToReport => "nothing_to_report",
            OutboxState::Locked => "locked",
            OutboxState::EditedByPerson => "edited_by_person",
            OutboxState::WaitingForSource => "waiting_for_source",
            OutboxState::Withheld => "withheld",
            OutboxState::Held => "held",
            OutboxState::NoCredential => "no_credential",
            OutboxState::LoginFailed => "login_failed",
            OutboxState::Forbidden => "forbidden",
            OutboxState::Invalid => "invalid",
            OutboxState::Retrying => "retrying",
            OutboxState::GivenUp => "given_up",
        }
    }

    pub fn parse(text: &str) -> Option<OutboxState> {
        OutboxState::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for OutboxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An operator's one-shot permission to overwrite a person's draft (never an approved one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Force {
    pub by: String,
    pub reason: String,
}

/// A delivery worker's claim on a row, until it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub owner: String,
    pub until: Instant,
}

/// One report in the outbox: its content, where it stands, and the facts about the remote draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// `None` for a row not stored yet.
    pub id: Option<i64>,
    pub report: ReportId,
    pub state: OutboxState,
    /// Why it is in this state, for the operator (empty for a plain success).
    pub detail: String,
    /// What is to be sent; `None` when there is nothing (waiting, nothing to report, withheld).
    pub draft: Option<Draft>,
    /// `sha256:…` of `draft`.
    pub content_hash: Option<String>,
    /// Moves on each time the content changes.
    pub generation: i64,
    /// Delivery attempts since the row was last armed.
    pub attempts: i64,
    pub next_attempt_at: Option<Instant>,
    /// The remote draft's version as last seen.
    pub remote_version: Option<i64>,
    /// The version of our own last write (or of our content confirmed by a read-back).
    pub our_version: Option<i64>,
    /// How many times we created this draft (created or re-created): part of every write's
    /// Idempotency-Key, so a draft created again never replays an earlier answer.
    pub incarnation: i64,
    pub force: Option<Force>,
    pub lease: Option<Lease>,
    /// The generation a worker took when it claimed the row.
    pub sending_generation: Option<i64>,
    /// Who armed the row for its current delivery: `schedule`, `cli:<user>`, `operator:<name>`
    /// (the audit names them with each write).
    pub armed_by: String,
    pub changed_at: Instant,
}

impl OutboxRow {
    /// A row not stored yet.
    pub fn new(report: ReportId, state: OutboxState, now: Instant) -> OutboxRow {
        OutboxRow {
            id: None,
            report,
            state,
            detail: String::new(),
            draft: None,
            content_hash: None,
            generation: 0,
            attempts: 0,
            next_attempt_at: None,
            remote_version: None,
            our_version: None,
            incarnation: 0,
            force: None,
            lease: None,
            sending_generation: None,
            armed_by: String::new(),
            changed_at: now,
        }
    }
}

/// Which outbox rows; every part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxFilter {
    pub id: Option<i64>,
    pub system: Option<String>,
    pub form: Option<String>,
    pub period: Option<String>,
    pub unit: Option<String>,
}

impl OutboxFilter {
    pub fn id(id: i64) -> OutboxFilter {
        OutboxFilter {
            id: Some(id),
            ..OutboxFilter::default()
        }
    }

    pub fn report(r: &ReportId) -> OutboxFilter {
        OutboxFilter {
            id: None,
            system: Some(r.system.clone()),
            form: Some(r.form.clone()),
            period: Some(r.period.clone()),
            unit: Some(r.unit.clone()),
        }
    }

    pub fn matches(&self, row: &OutboxRow) -> bool {
        let is = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        self.id.is_none_or(|id| row.id == Some(id))
            && is(&self.system, &row.report.system)
            && is(&self.form, &row.report.form)
            && is(&self.period, &row.report.period)
            && is(&self.unit, &row.report.unit)
    }
}

/// One delivery attempt as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub outbox_id: i64,
    pub at: Instant,
    pub generation: i64,
    pub content_hash: Option<String>,
    /// The answer: a decision (`created`, `locked`, `transient`, …) or `no_credential`,
    /// `login_failed`.
    pub answer: String,
    pub remote_version: Option<i64>,
    pub detail: String,
    /// The worker (replica) that made it.
    pub worker: String,
}

/// One line of the append-only audit: who did what to which report, never a secret.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditEntry {
    pub at: Option<Instant>,
    /// `schedule`, `cli:<user>`, `operator:<name>`.
    pub actor: String,
    /// `write`, `force_push`, `accept_stale`, `credential_set`, `credential_rotate`,
    /// `outbox_retry`, `outbox_hold`, `outbox_release`.
    pub action: String,
    pub system: Option<String>,
    pub form: Option<String>,
    pub period: Option<String>,
    pub unit: Option<String>,
    pub content_hash: Option<String>,
    pub base_version: Option<i64>,
    pub new_version: Option<i64>,
    pub answer: Option<String>,
    pub reason: String,
}

impl AuditEntry {
    /// A line about one report.
    pub fn about(report: &ReportId, actor: &str, action: &str, at: Instant) -> AuditEntry {
        AuditEntry {
            at: Some(at),
            actor: actor.to_owned(),
            action: action.to_owned(),
            system: Some(report.system.clone()),
            form: Some(report.form.clone()),
            period: Some(report.period.clone()),
            unit: Some(report.unit.clone()),
            ..AuditEntry::default()
        }
    }
}

/// What one `outbox_apply` writes, in one transaction.
#[derive(Debug, Clone, Default)]
pub struct OutboxChanges {
    /// Rows to insert (no id) or replace (by report).
    pub rows: Vec<OutboxRow>,
    pub attempts: Vec<AttemptRecord>,
    pub audit: Vec<AuditEntry>,
}

/// A delivery worker's claim: up to `limit` rows of `system` in `filter` that are pending, due for
/// a retry, or whose lease expired, leased to `owner` until `lease_until`.
#[derive(Debug, Clone)]
pub struct Claim {
    pub owner: String,
    pub now: Instant,
    pub lease_until: Instant,
    pub system: String,
    pub filter: OutboxFilter,
    pub limit: i64,
}

/// One pulled window of one record kind, as the freshness gate reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullLog {
    pub source: String,
    pub kind: RecordKind,
    /// Which date the window is a window of.
    pub axis: Axis,
    /// The window's lower bound (inclusive) and upper bound (exclusive).
    pub from: Instant,
    pub to: Instant,
    pub ok: bool,
    pub detail: String,
    pub records: i64,
    pub finished_at: Instant,
}

/// A fire of a scheduled job, claimed by one replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fire {
    pub job: String,
    /// The slot's instant (the fire is due from then).
    pub slot: Instant,
    pub claimed_by: String,
    pub claimed_at: Instant,
    pub outcome: Option<String>,
    pub finished_at: Option<Instant>,
}

/// An official of a unit who may read its figures (and its subtree's).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Viewer {
    pub name: String,
    pub unit: String,
    /// argon2 (PHC string); `None` until the one-time link is used.
    pub password_hash: Option<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// Sign-in failures from one address (admin/throttle.rs decides what they mean).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct SignInFailures {
    pub failures: i64,
    /// The latest failure (Unix seconds).
    pub last_at: i64,
    /// No try is checked before this instant.
    pub until_at: i64,
}

/// A browser session as kept: who (an operator or a unit's viewer) and its CSRF token.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRecord {
    /// `operator` or `viewer`.
    pub role: String,
    pub name: String,
    /// The viewer's unit.
    pub unit: Option<String>,
    pub csrf: String,
    pub expires_at: i64,
}

/// One run of the pipeline, as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub id: Option<i64>,
    /// What started it: `schedule`, `cli`, `http`.
    pub cause: String,
    pub actor: String,
    pub period: String,
    /// The scope in words (`all units, all forms, both systems`).
    pub scope: String,
    pub started_at: Instant,
    pub finished_at: Option<Instant>,
    /// `ok`, `needs_attention`, `waiting_for_source`, `withheld`, `failed`.
    pub outcome: Option<String>,
    pub summary: String,
}

/// A bulk import of dossiers: one transaction across many batches, merged into blocks
/// (`store/blocks.rs`) a few at a time; nothing is visible until it commits.
pub trait DossierImport: Send {
    /// Stores one batch (keys unique within it) under the rule of [`Store::upsert_dossiers`].
    fn add(
        &mut self,
        records: &[&Dossier],
    ) -> impl Future<Output = Result<UpsertCounts, StoreError>> + Send;
    fn commit(self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// What the product keeps. Every method is one transaction.
pub trait Store: Send + Sync {
    type Import: DossierImport;

    /// Which backend: `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Whether the store answers and its migrations are applied.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Starts a bulk dossier import for `source`; nothing is visible until it commits.
    fn begin_dossier_import(
        &self,
        source: &str,
    ) -> impl Future<Output = Result<Self::Import, StoreError>> + Send;

    /// Builds what an import of `source` will need (the key index of its stored dossiers) ahead,
    /// so that a pull can do it while its first window is fetched; the import uses it unless a
    /// write moved the source since.
    fn prepare_dossier_import(
        &self,
        source: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores dossiers keyed by (source, MaHoSo): a new key is inserted; an existing one is
    /// replaced when the incoming CapNhatLuc is later (an absent one is older than any), or equal
    /// with a different record; otherwise nothing changes. Keys must be unique within one call.
    fn upsert_dossiers(
        &self,
        source: &str,
        records: &[&Dossier],
    ) -> impl Future<Output = Result<UpsertCounts, StoreError>> + Send {
        async move {
            let mut import = self.begin_dossier_import(source).await?;
            let counts = import.add(records).await?;
            import.commit().await?;
            Ok(counts)
        }
    }

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

    /// Every stored dossier (of one source, or all), by source, each source's in the order they
    /// were first stored.
    fn dossiers(
        &self,
        source: Option<&str>,
    ) -> impl Future<Output = Result<Vec<Dossier>, StoreError>> + Send;

    /// The stored dossiers of `source` a period from day `since` on may count or name: those
    /// still open or anomalous, and those that finished on a local day of `since`'s half-month or
    /// later ([`blocks::bucket`]); dossiers closed before are not read. In storage order (not the
    /// order first stored: putting a million back in it cost more than the rules), with each
    /// one's sequence, its place in that order.
    fn dossiers_since(
        &self,
        source: &str,
        since: chrono::NaiveDate,
    ) -> impl Future<Output = Result<(Vec<Dossier>, Vec<blocks::Seq>), StoreError>> + Send;

    /// What the column-4 check reads of the dossiers of `source` that finished (the ordinary
    /// way) from `from`'s half-month to before `until`'s: their reception columns alone.
    fn dossier_receptions(
        &self,
        source: &str,
        from: chrono::NaiveDate,
        until: chrono::NaiveDate,
    ) -> impl Future<Output = Result<crate::domain::Receptions, StoreError>> + Send;

    /// What the rules read of each field code over a source's whole history: its first dossier
    /// and first non-empty name, in first-stored order.
    fn field_firsts(
        &self,
        source: &str,
    ) -> impl Future<Output = Result<blocks::FieldFirsts, StoreError>> + Send;

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

    /// One unit's sealed login on one system.
    fn credential(
        &self,
        system: crate::auth::vault::System,
        unit: &str,
    ) -> impl Future<Output = Result<Option<SealedCredential>, StoreError>> + Send;

    /// Every sealed credential, by system then unit.
    fn credentials(&self)
    -> impl Future<Output = Result<Vec<SealedCredential>, StoreError>> + Send;

    /// Replaces every credential at once (a key rotation): all or nothing.
    fn replace_credentials(
        &self,
        credentials: &[SealedCredential],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The upper bound of the last pulled window of CapNhatLuc of `kind` from `source`.
    fn watermark(
        &self,
        source: &str,
        kind: RecordKind,
    ) -> impl Future<Output = Result<Option<Instant>, StoreError>> + Send {
        self.axis_watermark(source, kind, Axis::Updated)
    }

    /// Moves the watermark forward to `upper` (compare-and-set: never back); call only once the
    /// window's records are stored. `true` when it moved.
    fn advance_watermark(
        &self,
        source: &str,
        kind: RecordKind,
        upper: Instant,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        self.advance_axis_watermark(source, kind, Axis::Updated, upper)
    }

    /// Logs one pulled window (succeeded or failed).
    fn record_pull(&self, log: &PullLog) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The pull log of one kind from one source, oldest first.
    fn pulls(
        &self,
        source: &str,
        kind: RecordKind,
    ) -> impl Future<Output = Result<Vec<PullLog>, StoreError>> + Send;

    /// The watermark of one window kind (`axis`) of a record kind from a source.
    fn axis_watermark(
        &self,
        source: &str,
        kind: RecordKind,
        axis: Axis,
    ) -> impl Future<Output = Result<Option<Instant>, StoreError>> + Send;

    /// Moves it forward (compare-and-set); `true` when it moved.
    fn advance_axis_watermark(
        &self,
        source: &str,
        kind: RecordKind,
        axis: Axis,
        upper: Instant,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The sources that hold records of `kind` (rating months: `Rating` with `months`).
    fn sources(
        &self,
        kind: RecordKind,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// The stored dossiers of `source` with these keys (those it holds).
    fn dossiers_by_keys(
        &self,
        source: &str,
        keys: &[&str],
    ) -> impl Future<Output = Result<Vec<Dossier>, StoreError>> + Send;

    /// Records how dossiers of `source` stood when read at `seen_at`: open ones are kept (or
    /// refreshed, `gone` cleared), the others forgotten.
    fn track_open(
        &self,
        source: &str,
        marks: &[OpenMark],
        seen_at: Instant,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Open dossiers of `source` last read before `seen_before`, the longest unread first.
    fn open_dossiers(
        &self,
        source: &str,
        seen_before: Instant,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<OpenDossier>, StoreError>> + Send;

    /// How many open dossiers of `source` were last read before `seen_before`.
    fn count_open(
        &self,
        source: &str,
        seen_before: Instant,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// The source no longer returned these open dossiers when asked at `at`.
    fn mark_gone(
        &self,
        source: &str,
        keys: &[&str],
        at: Instant,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Replaces the findings about `keys` of `kind` from `source` with `findings` (about those
    /// keys) in one transaction.
    fn replace_source_findings(
        &self,
        source: &str,
        kind: RecordKind,
        keys: &[&str],
        findings: &[SourceFinding],
        at: Instant,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The findings sources' mappings left about stored records (of one source, or all).
    fn source_findings(
        &self,
        source: Option<&str>,
    ) -> impl Future<Output = Result<Vec<(RecordKind, Finding)>, StoreError>> + Send;

    /// Monthly satisfaction aggregates, kept as received (the replacement rule of `upsert_raw`).
    fn upsert_rating_months(
        &self,
        source: &str,
        records: &[IncomingRaw<'_>],
    ) -> impl Future<Output = Result<UpsertCounts, StoreError>> + Send;

    /// Stored monthly aggregates (of one source, or all), in the order first stored.
    fn rating_months(
        &self,
        source: Option<&str>,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Adds or replaces a receiver client's password hash.
    fn put_receiver_client(
        &self,
        source: &str,
        client: &str,
        password_hash: &str,
        at: Instant,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A receiver client's password hash.
    fn receiver_client(
        &self,
        source: &str,
        client: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// A source's receiver clients and when each was set.
    fn receiver_clients(
        &self,
        source: &str,
    ) -> impl Future<Output = Result<Vec<(String, Instant)>, StoreError>> + Send;

    /// Removes a receiver client and its sessions; `true` when it existed.
    fn remove_receiver_client(
        &self,
        source: &str,
        client: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Keeps a receiver session (by the hash of its token) until `expires_at`; expired ones go.
    fn put_receiver_session(
        &self,
        token_hash: &str,
        source: &str,
        client: &str,
        expires_at: Instant,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The (source, client) of a session still valid at `now`.
    fn receiver_session(
        &self,
        token_hash: &str,
        now: Instant,
    ) -> impl Future<Output = Result<Option<(String, String)>, StoreError>> + Send;

    /// Outbox rows in `filter`, by id.
    fn outbox(
        &self,
        filter: &OutboxFilter,
    ) -> impl Future<Output = Result<Vec<OutboxRow>, StoreError>> + Send;

    /// The same rows with no draft read (`draft` is `None` whatever is stored; `content_hash`
    /// says whether there is one): for what reports states, not contents.
    fn outbox_without_drafts(
        &self,
        filter: &OutboxFilter,
    ) -> impl Future<Output = Result<Vec<OutboxRow>, StoreError>> + Send;

    /// In one transaction, with the rows in `filter` locked against every other writer: hands
    /// them to `decide` and writes what it returns (rows inserted or replaced by report, attempts
    /// and audit lines appended). Returns how many rows were written.
    fn outbox_apply<F>(
        &self,
        filter: &OutboxFilter,
        decide: F,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send
    where
        F: FnOnce(Vec<OutboxRow>) -> OutboxChanges + Send;

    /// [`Store::outbox_apply`] over the rows alone: `decide` sees them with no draft read
    /// (`draft` is `None`), and their drafts stay as stored. For a change that never touches
    /// content (a delivery's answer, a lease given back): a narrative's draft is hundreds of
    /// kilobytes to read and parse. A row `decide` returns with new content, or a new row, is a
    /// bug: nothing is written and the error says so.
    fn outbox_apply_rows<F>(
        &self,
        filter: &OutboxFilter,
        decide: F,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send
    where
        F: FnOnce(Vec<OutboxRow>) -> OutboxChanges + Send;

    /// Claims rows for a delivery worker (see [`Claim`]); a row is claimed by one worker only.
    fn outbox_claim(
        &self,
        claim: &Claim,
    ) -> impl Future<Output = Result<Vec<OutboxRow>, StoreError>> + Send;

    /// Every attempt of one outbox row, oldest first.
    fn attempts(
        &self,
        outbox_id: i64,
    ) -> impl Future<Output = Result<Vec<AttemptRecord>, StoreError>> + Send;

    /// Appends to the audit.
    fn append_audit(
        &self,
        entries: &[AuditEntry],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The latest `limit` audit lines (of one period and one unit, or all), newest first.
    fn audit(
        &self,
        period: Option<&str>,
        unit: Option<&str>,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send;

    /// Each source's dossier generation (it moves with every import or pull that commits): what
    /// was computed from the dossiers is current while these are the same.
    fn dossier_generations(
        &self,
    ) -> impl Future<Output = Result<Vec<(String, i64)>, StoreError>> + Send;

    /// Adds a viewer of `unit` (or gives a revoked or existing one that unit again, with no
    /// password until a new link is used) and keeps the one-time link's token digest.
    fn issue_viewer(
        &self,
        viewer: &Viewer,
        token_sha256: &str,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Uses a one-time link: the viewer it was issued to, once, before it expires; the
    /// password hash is set in the same transaction.
    fn redeem_viewer_link(
        &self,
        token_sha256: &str,
        password_hash: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<Viewer>, StoreError>> + Send;

    fn viewer(&self, name: &str)
    -> impl Future<Output = Result<Option<Viewer>, StoreError>> + Send;

    fn viewers(&self) -> impl Future<Output = Result<Vec<Viewer>, StoreError>> + Send;

    /// Revokes a viewer: no sign-in, its sessions and unused links gone. `false` if unknown.
    fn revoke_viewer(
        &self,
        name: &str,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Opens a session (and forgets those expired at `now`).
    fn open_session(
        &self,
        id_sha256: &str,
        session: &SessionRecord,
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A live session at `now` (reading never writes).
    fn session(
        &self,
        id_sha256: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<SessionRecord>, StoreError>> + Send;

    fn close_session(&self, id_sha256: &str)
    -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The sign-in failures counted against `address`, if any.
    fn sign_in_failures(
        &self,
        address: &str,
    ) -> impl Future<Output = Result<Option<SignInFailures>, StoreError>> + Send;

    /// Counts a failure against `address`: `step` makes the new count from the stored one, in
    /// one transaction (replicas counting at once do not lose a failure).
    fn record_sign_in_failure<F>(
        &self,
        address: &str,
        step: F,
    ) -> impl Future<Output = Result<SignInFailures, StoreError>> + Send
    where
        F: FnOnce(Option<SignInFailures>) -> SignInFailures + Send;

    /// A good sign-in from `address`: its count starts again.
    fn clear_sign_in_failures(
        &self,
        address: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Claims the fire `(job, slot)` for `owner`: `true` for exactly one caller, ever.
    fn claim_fire(
        &self,
        job: &str,
        slot: Instant,
        owner: &str,
        now: Instant,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records how a claimed fire ended.
    fn finish_fire(
        &self,
        job: &str,
        slot: Instant,
        outcome: &str,
        now: Instant,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every fire of jobs whose name starts with `prefix`, oldest slot first.
    fn fires(&self, prefix: &str) -> impl Future<Output = Result<Vec<Fire>, StoreError>> + Send;

    /// The fires claimed and not finished, oldest slot first.
    fn unfinished_fires(&self) -> impl Future<Output = Result<Vec<Fire>, StoreError>> + Send;

    /// Gives the unfinished fire `(job, slot)` held by `from` (a gone process) to `to`: `true`
    /// for exactly one caller.
    fn take_over_fire(
        &self,
        job: &str,
        slot: Instant,
        from: &str,
        to: &str,
        now: Instant,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Takes (or renews) the lease `name` for `owner` until `until`, unless another owner holds it
    /// past `now`. `true` when taken.
    fn acquire_lock(
        &self,
        name: &str,
        owner: &str,
        until: Instant,
        now: Instant,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Every lease taken and not given up: (name, owner, until).
    fn locks(
        &self,
    ) -> impl Future<Output = Result<Vec<(String, String, Instant)>, StoreError>> + Send;

    /// `owner` (a process) is alive at `now`; heartbeats older than `forget_before` are dropped.
    fn beat(
        &self,
        owner: &str,
        now: Instant,
        forget_before: Instant,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every process's last heartbeat: (owner, when).
    fn heartbeats(&self)
    -> impl Future<Output = Result<Vec<(String, Instant)>, StoreError>> + Send;

    /// `owner` stopped cleanly: its heartbeat is removed.
    fn forget_heartbeat(&self, owner: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Gives up a lease `owner` holds.
    fn release_lock(
        &self,
        name: &str,
        owner: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records the start of a run; returns its id.
    fn start_run(&self, run: &RunRecord) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// Records how a run ended.
    fn finish_run(
        &self,
        id: i64,
        outcome: &str,
        summary: &str,
        now: Instant,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Closes the runs of `period` that never recorded how they ended, as `abandoned` with
    /// `summary`; how many. Its caller holds the period's run lock, so none of them is still
    /// running: its process was killed, or the store went away as it started (the start was
    /// written but never acknowledged, and the run was tried again under a new id). A run that
    /// was only slow (its lease lapsed while the store was away, or it gave the lock back just
    /// before recording its end) still records its own outcome over this one when it ends.
    fn close_unfinished_runs(
        &self,
        period: &str,
        summary: &str,
        now: Instant,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The latest `limit` runs (of one period, or all), newest first.
    fn runs(
        &self,
        period: Option<&str>,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<RunRecord>, StoreError>> + Send;
}

/// How PostgreSQL stores are backed up and restored: with PostgreSQL's own tools.
pub const PG_BACKUP: &str = "a PostgreSQL store is backed up with pg_dump --format=custom --file FILE URL (while the \
     daemon runs) and restored with pg_restore --clean --if-exists --no-owner --dbname URL FILE \
     (the daemon stopped)";

/// A backup of the store `url` names into the new file `to` (SQLite); its size in bytes.
pub async fn backup(url: &str, to: &std::path::Path) -> Result<u64, StoreError> {
    match open(url).await? {
        AnyStore::Sqlite(s) => {
            let size = s.backup(to).await;
            s.close().await;
            size
        }
        AnyStore::Postgres(_) => Err(StoreError::Backup(PG_BACKUP.to_owned())),
    }
}

/// Puts the SQLite backup `from` in place of the store `url` names: refused while a process holds
/// one of its leases (a daemon running on it) or when the backup is from a newer release; an
/// older backup is migrated first, on a copy. The old file is replaced whole, its journal with it.
pub async fn restore(from: &std::path::Path, url: &str, now: Instant) -> Result<(), StoreError> {
    if !url.starts_with("sqlite:") {
        return Err(StoreError::Backup(PG_BACKUP.to_owned()));
    }
    let target = SqliteStore::file_of(url)?;
    let failed = |what: &str, e: std::io::Error| StoreError::Backup(format!("{what}: {e}"));
    if !from.is_file() {
        return Err(StoreError::Backup(format!(
            "no backup file {}",
            from.display()
        )));
    }
    if target.exists() {
        let current = SqliteStore::open(url).await?;
        let live = current.live_leases(now).await?;
        current.close().await;
        if !live.is_empty() {
            return Err(StoreError::Backup(format!(
                "a process is working on {} (leases {}): stop the daemon first",
                target.display(),
                live.join(", ")
            )));
        }
    }
    let staged = target.with_extension("restoring");
    std::fs::copy(from, &staged).map_err(|e| failed(&staged.display().to_string(), e))?;
    let staged_url = format!("sqlite://{}", staged.display());
    match SqliteStore::open(&staged_url).await {
        Ok(s) => s.close().await,
        Err(e) => {
            let _ = std::fs::remove_file(&staged);
            return Err(e);
        }
    }
    for suffix in ["-wal", "-shm"] {
        let mut journal = target.clone().into_os_string();
        journal.push(suffix);
        let _ = std::fs::remove_file(&journal);
    }
    std::fs::rename(&staged, &target).map_err(|e| failed(&target.display().to_string(), e))
}

/// Opens the store a URL names (`sqlite://PATH` or `postgres://…`), creating and migrating it on
/// first use.
pub async fn open(url: &str) -> Result<AnyStore, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(AnyStore::Sqlite(SqliteStore::open(url).await.map_err(
            |e| match SqliteStore::file_of(url) {
                Ok(file) => e.on_file(&file),
                Err(_) => e,
            },
        )?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(AnyStore::Postgres(PgStore::open(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(redact_url(url)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_are_shown_without_their_password() {
        assert_eq!(
            redact_url("postgres://baocao:s3cr%40t@db.example:5432/baocao"),
            "postgres://baocao:***@db.example:5432/baocao"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres@127.0.0.1/x"
        );
        assert_eq!(
            redact_url("sqlite://data/baocao-sync.db"),
            "sqlite://data/baocao-sync.db"
        );
        assert!(!redact_url("weird://user:pass word@host").contains("pass"));
    }

    #[test]
    fn report_ids_read_back() {
        let id: ReportId = "central/II.06a/2023-Q3/000.10.00.H55".parse().unwrap();
        assert_eq!(id.to_string(), "central/II.06a/2023-Q3/000.10.00.H55");
        assert!("central/II.06a/2023-Q3".parse::<ReportId>().is_err());
        for s in OutboxState::ALL {
            assert_eq!(OutboxState::parse(s.as_str()), Some(s));
        }
    }
}
