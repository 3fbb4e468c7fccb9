//! Pull: records from every configured source into the store, incrementally, each source by its
//! protocol (`[[sources]]`, `sources::config`):
//!
//! - `baocao` (our own contract): windows of CapNhatLuc walked with the keyset cursor
//!   ([`baocao`]);
//! - `envelope_window` and `igate`, which have no CapNhatLuc to trust: windows of a business date
//!   re-scanned with an overlap ([`windows`]), and the dossiers still open in the store read again
//!   by key at a cadence and always before a pre-fill ([`lookups`]);
//! - `ack_queue`: drained, each item acknowledged only once stored ([`queue`]);
//! - `receiver`: nothing to pull — one-stop systems push to it (`sources::receiver`).
//!
//! Each window (or pass, or drain) is stored as it completes and logged for the freshness gate;
//! a stopped pull resumes where it stopped. Transient answers are retried by time within each
//! source's budget, never by count.

pub mod baocao;
pub mod lookups;
pub mod queue;
pub mod windows;

pub use baocao::{PullRequest, Pulled, log_failure, pull};

use super::SyncError;
use crate::auth::source::{AuthSettings, Credentials, SourceAuth};
use crate::auth::vault::{SOURCE_UNIT, System, Vault};
use crate::domain::{Axis, Finding, Instant, RecordKind, UnitTree};
use crate::sources::config::{Protocol, SourceSettings};
use crate::sources::mapping::{Mapping, UnitIndex};
use crate::store::{AnyStore, PullLog, Store, UpsertCounts};

/// What one pull of one record kind from one source did.
#[derive(Debug, Clone, Default)]
pub struct PullOutcome {
    /// The source's name.
    pub source: String,
    pub counts: UpsertCounts,
    pub rejected: Vec<Finding>,
    pub from: Option<Instant>,
    pub to: Option<Instant>,
    pub windows: usize,
    /// Windows stored (a prefix of `windows`).
    pub stored: usize,
    /// Why the pull stopped before its end, if it did.
    pub failure: Option<String>,
    /// Time spent storing the windows (the fetches of the next ones go on meanwhile).
    pub store_seconds: f64,
    /// Open dossiers read again by key, and those the source no longer returned.
    pub looked_up: usize,
    pub gone: usize,
    /// Values no table maps, noted on stored records.
    pub notes: usize,
}

/// What a pull is asked to do beyond the incremental.
#[derive(Debug, Clone, Default)]
pub struct PullPlan {
    /// Re-read everything from this instant, not from the watermarks.
    pub full_from: Option<Instant>,
    /// One source alone (by its configured name).
    pub only: Option<String>,
    /// Read again by key every open dossier last read before this instant (a period's settle
    /// instant, before its pre-fill), besides the cadence's.
    pub lookups_before: Option<Instant>,
}

/// The pull stage with what it needs: the store, the configured sources, the unit tree (units
/// are resolved from names and code prefixes), the vault that opens the sources' logins, and
/// "now".
pub struct Puller<'a> {
    pub store: &'a AnyStore,
    pub sources: &'a [SourceSettings],
    pub history_from: Instant,
    /// The unit tree, which sources other than our own contract resolve units against.
    pub units: Option<&'a UnitTree>,
    pub vault: Option<&'a Vault>,
    pub now: Instant,
    /// How many times as fast as real time the clock runs (1 unless simulated): retry waits
    /// take their share of real time.
    pub speed: u32,
}

impl Puller<'_> {
    /// Pulls `kinds` from every source that sends them (or the one `plan.only` names). A source
    /// that cannot be pulled is logged as a failed pull, so the freshness gate says why.
    pub async fn pull(
        &self,
        kinds: &[RecordKind],
        plan: &PullPlan,
    ) -> Result<Vec<(RecordKind, PullOutcome)>, SyncError> {
        if let Some(only) = &plan.only
            && !self.sources.iter().any(|s| &s.name == only)
        {
            return Err(SyncError::Config(format!(
                "no source is named `{only}`; configured: {}",
                self.sources
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let mut out = Vec::new();
        for source in self.sources {
            if plan.only.as_ref().is_some_and(|o| *o != source.name) {
                continue;
            }
            let fed: Vec<RecordKind> = kinds.iter().copied().filter(|k| source.feeds(*k)).collect();
            if fed.is_empty() || source.protocol == Protocol::Receiver {
                continue;
            }
            out.extend(self.pull_source(source, &fed, plan).await?);
        }
        Ok(out)
    }

    #[tracing::instrument(name = "sync.pull.source", skip_all, fields(source = %source.name, protocol = %source.protocol))]
    async fn pull_source(
        &self,
        source: &SourceSettings,
        kinds: &[RecordKind],
        plan: &PullPlan,
    ) -> Result<Vec<(RecordKind, PullOutcome)>, SyncError> {
        let auth = match self.auth(source).await {
            Ok(a) => a,
            Err(reason) => {
                tracing::warn!(source = %source.name, %reason, "cannot pull");
                let mut out = Vec::new();
                for &kind in kinds {
                    self.log_failure(source, kind, &reason).await?;
                    out.push((
                        kind,
                        PullOutcome {
                            source: source.name.clone(),
                            failure: Some(reason.clone()),
                            ..PullOutcome::default()
                        },
                    ));
                }
                return Ok(out);
            }
        };
        let http = source.http_client();
        let retry = source.retry.policy().on_clock(self.speed);
        match source.protocol {
            Protocol::Baocao => {
                let client = crate::sources::procedure::SourceClient::new(
                    http,
                    source.base_url.as_deref().unwrap_or_default(),
                    source.max_body_bytes,
                )
                .map_err(SyncError::Config)?;
                let w = source.window_plan();
                let mut out = Vec::new();
                for &kind in kinds {
                    let req = PullRequest {
                        source: source.name.clone(),
                        kind,
                        now: self.now,
                        lag_seconds: w.lag_seconds,
                        overlap_seconds: w.overlap_seconds,
                        window_seconds: w.days * 86_400,
                        history_from: self.history_from,
                        full_from: plan.full_from,
                        page_size: w.page_size,
                        parallel: w.parallel,
                        retry: retry.clone(),
                    };
                    out.push((kind, pull(self.store, &client, &auth, &req).await?));
                }
                Ok(out)
            }
            Protocol::EnvelopeWindow | Protocol::Igate | Protocol::AckQueue => {
                let units = self.units.ok_or_else(|| {
                    SyncError::Config(format!(
                        "source `{}` names its dossiers' units by code, name or code prefix: files.units (--units) is required",
                        source.name
                    ))
                })?;
                let run = SourceRun {
                    store: self.store,
                    settings: source,
                    mapping: Mapping::compile(&source.name, &source.effective_mapping())
                        .map_err(SyncError::Config)?,
                    units: UnitIndex::of(units),
                    auth,
                    http,
                    retry,
                    now: self.now,
                    history_from: self.history_from,
                };
                let outcome = match source.protocol {
                    Protocol::AckQueue => queue::drain(&run).await?,
                    _ => {
                        let mut o = windows::pull(&run, plan.full_from).await?;
                        if o.failure.is_none() {
                            let l = lookups::run(&run, plan.lookups_before).await?;
                            o.looked_up = l.looked_up;
                            o.gone = l.gone;
                            o.counts.add(l.counts);
                            o.rejected.extend(l.rejected);
                            o.notes += l.notes;
                            o.failure = l.failure;
                        }
                        o
                    }
                };
                Ok(vec![(RecordKind::Dossier, outcome)])
            }
            Protocol::Receiver => Ok(Vec::new()),
        }
    }

    /// The source's authentication with its logins from the vault, or why there is none.
    async fn auth(&self, source: &SourceSettings) -> Result<SourceAuth, String> {
        Ok(source_auth(self.store, self.vault, source)
            .await?
            .on_clock(self.speed))
    }

    async fn log_failure(
        &self,
        source: &SourceSettings,
        kind: RecordKind,
        reason: &str,
    ) -> Result<(), SyncError> {
        let axis = match source.protocol {
            Protocol::Baocao => Axis::Updated,
            Protocol::AckQueue => Axis::Queue,
            Protocol::Receiver => Axis::Push,
            _ => Axis::Received,
        };
        let lag = source.window_plan().lag_seconds;
        let to = Instant(self.now.0 - lag);
        self.store
            .record_pull(&PullLog {
                source: source.name.clone(),
                kind,
                axis,
                from: to,
                to,
                ok: false,
                detail: reason.to_owned(),
                records: 0,
                finished_at: self.now,
            })
            .await?;
        Ok(())
    }
}

/// A source's authentication, its logins opened from the vault.
pub async fn source_auth<S: Store>(
    store: &S,
    vault: Option<&Vault>,
    source: &SourceSettings,
) -> Result<SourceAuth, String> {
    let settings = source.auth();
    let credentials = open_credentials(store, vault, &source.name, &settings).await?;
    SourceAuth::new(
        &source.name,
        settings,
        source.http_client(),
        source.max_body_bytes,
        credentials,
        |p| source.url(p),
    )
}

/// Opens a source's logins from the vault: its own entry (or, for today's `[upstreams.source]`,
/// the `*` entry it has always used), and `NAME:client`, `NAME:gateway` where its authentication
/// needs them.
pub async fn open_credentials<S: Store>(
    store: &S,
    vault: Option<&Vault>,
    source: &str,
    settings: &AuthSettings,
) -> Result<Credentials, String> {
    let entries = settings.vault_entries(source);
    if entries.is_empty() {
        return Ok(Credentials::default());
    }
    let vault = vault.ok_or("no vault key: set vault.key_file (or BAOCAO_VAULT_KEY)")?;
    let open = |sealed: crate::auth::vault::SealedCredential| {
        vault.open(&sealed).map_err(|e| e.to_string())
    };
    let mut credentials = Credentials::default();
    for entry in entries {
        let mut sealed = store
            .credential(System::Source, &entry)
            .await
            .map_err(|e| e.to_string())?;
        if sealed.is_none() && entry == source && settings.legacy_vault_entry {
            sealed = store
                .credential(System::Source, SOURCE_UNIT)
                .await
                .map_err(|e| e.to_string())?;
        }
        let Some(sealed) = sealed else {
            return Err(format!(
                "no login for source `{source}` in the vault: baocao-sync creds set --source {entry} --username … --password-stdin"
            ));
        };
        let credential = open(sealed)?;
        match entry.split_once(':') {
            Some((_, crate::auth::source::CLIENT_PART)) => credentials.client = Some(credential),
            Some((_, crate::auth::source::GATEWAY_PART)) => credentials.gateway = Some(credential),
            _ => credentials.main = Some(credential),
        }
    }
    Ok(credentials)
}

/// One pull of one source that is not our own contract: what every step needs.
pub struct SourceRun<'a> {
    pub store: &'a AnyStore,
    pub settings: &'a SourceSettings,
    pub mapping: Mapping,
    pub units: UnitIndex,
    pub auth: SourceAuth,
    pub http: reqwest::Client,
    /// The pull's retry budget (shared by every call of the pull).
    pub retry: crate::retry::RetryPolicy,
    pub now: Instant,
    pub history_from: Instant,
}

impl SourceRun<'_> {
    /// Logs one window, pass or drain.
    pub async fn log(
        &self,
        axis: Axis,
        (from, to): (Instant, Instant),
        outcome: Result<i64, &str>,
    ) -> Result<(), SyncError> {
        let (ok, detail, records) = match outcome {
            Ok(n) => (true, String::new(), n),
            Err(e) => (false, e.to_owned(), 0),
        };
        self.store
            .record_pull(&PullLog {
                source: self.settings.name.clone(),
                kind: RecordKind::Dossier,
                axis,
                from,
                to,
                ok,
                detail,
                records,
                finished_at: self.now,
            })
            .await?;
        Ok(())
    }
}
