//! The store a URL names, whichever backend it is: every method forwards to the backend, so the
//! rest of the product is written once against [`Store`] and compiled once.

use super::SignInFailures;
use super::{
    AttemptRecord, AuditEntry, Claim, DossierImport, Fire, IncomingRaw, OpenDossier, OpenMark,
    OutboxChanges, OutboxFilter, OutboxRow, PgDossierImport, PgStore, PullLog, Reject, RunRecord,
    SessionRecord, SourceFinding, SqliteDossierImport, SqliteStore, Store, StoreError,
    UpsertCounts, Viewer,
};
use crate::auth::vault::SealedCredential;
use crate::domain::{Axis, Dossier, Finding, Instant, RecordKind};

#[derive(Debug, Clone)]
pub enum AnyStore {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

pub enum AnyDossierImport {
    Sqlite(SqliteDossierImport, std::sync::Arc<std::path::PathBuf>),
    Postgres(PgDossierImport),
}

/// `$call` on whichever backend `$self` is.
macro_rules! forward {
    ($self:expr, $s:ident => $call:expr) => {
        match $self {
            // A full disk is named with the file and its free space.
            AnyStore::Sqlite($s) => ($call).map_err(|e: StoreError| e.on_file($s.file())),
            AnyStore::Postgres($s) => $call,
        }
    };
}

impl DossierImport for AnyDossierImport {
    async fn add(&mut self, records: &[&Dossier]) -> Result<UpsertCounts, StoreError> {
        match self {
            AnyDossierImport::Sqlite(i, file) => i.add(records).await.map_err(|e| e.on_file(file)),
            AnyDossierImport::Postgres(i) => i.add(records).await,
        }
    }

    async fn commit(self) -> Result<(), StoreError> {
        match self {
            AnyDossierImport::Sqlite(i, file) => i.commit().await.map_err(|e| e.on_file(&file)),
            AnyDossierImport::Postgres(i) => i.commit().await,
        }
    }
}

impl Store for AnyStore {
    type Import = AnyDossierImport;

    fn backend(&self) -> &'static str {
        match self {
            AnyStore::Sqlite(s) => s.backend(),
            AnyStore::Postgres(s) => s.backend(),
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        forward!(self, s => s.ping().await)
    }

    async fn begin_dossier_import(&self, source: &str) -> Result<AnyDossierImport, StoreError> {
        Ok(match self {
            AnyStore::Sqlite(s) => AnyDossierImport::Sqlite(
                s.begin_dossier_import(source)
                    .await
                    .map_err(|e| e.on_file(s.file()))?,
                std::sync::Arc::new(s.file().to_path_buf()),
            ),
            AnyStore::Postgres(s) => {
                AnyDossierImport::Postgres(s.begin_dossier_import(source).await?)
            }
        })
    }

    async fn prepare_dossier_import(&self, source: &str) -> Result<(), StoreError> {
        forward!(self, s => s.prepare_dossier_import(source).await)
    }

    async fn upsert_raw(
        &self,
        kind: RecordKind,
        source: &str,
        records: &[IncomingRaw<'_>],
    ) -> Result<UpsertCounts, StoreError> {
        forward!(self, s => s.upsert_raw(kind, source, records).await)
    }

    async fn raw_records(
        &self,
        kind: RecordKind,
        source: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        forward!(self, s => s.raw_records(kind, source).await)
    }

    async fn record_rejects(
        &self,
        kind: RecordKind,
        source: &str,
        rejects: &[Reject],
    ) -> Result<(), StoreError> {
        forward!(self, s => s.record_rejects(kind, source, rejects).await)
    }

    async fn dossiers(&self, source: Option<&str>) -> Result<Vec<Dossier>, StoreError> {
        forward!(self, s => s.dossiers(source).await)
    }

    async fn dossiers_since(
        &self,
        source: &str,
        since: chrono::NaiveDate,
    ) -> Result<(Vec<Dossier>, Vec<super::blocks::Seq>), StoreError> {
        forward!(self, s => s.dossiers_since(source, since).await)
    }

    async fn dossier_receptions(
        &self,
        source: &str,
        from: chrono::NaiveDate,
        until: chrono::NaiveDate,
    ) -> Result<crate::domain::Receptions, StoreError> {
        forward!(self, s => s.dossier_receptions(source, from, until).await)
    }

    async fn field_firsts(&self, source: &str) -> Result<super::blocks::FieldFirsts, StoreError> {
        forward!(self, s => s.field_firsts(source).await)
    }

    async fn rejects(
        &self,
        kind: RecordKind,
        source: Option<&str>,
    ) -> Result<Vec<Finding>, StoreError> {
        forward!(self, s => s.rejects(kind, source).await)
    }

    async fn put_credential(&self, credential: &SealedCredential) -> Result<(), StoreError> {
        forward!(self, s => s.put_credential(credential).await)
    }

    async fn credential(
        &self,
        system: crate::auth::vault::System,
        unit: &str,
    ) -> Result<Option<SealedCredential>, StoreError> {
        forward!(self, s => s.credential(system, unit).await)
    }

    async fn credentials(&self) -> Result<Vec<SealedCredential>, StoreError> {
        forward!(self, s => s.credentials().await)
    }

    async fn replace_credentials(
        &self,
        credentials: &[SealedCredential],
    ) -> Result<(), StoreError> {
        forward!(self, s => s.replace_credentials(credentials).await)
    }

    async fn record_pull(&self, log: &PullLog) -> Result<(), StoreError> {
        forward!(self, s => s.record_pull(log).await)
    }

    async fn pulls(&self, source: &str, kind: RecordKind) -> Result<Vec<PullLog>, StoreError> {
        forward!(self, s => s.pulls(source, kind).await)
    }

    async fn outbox(&self, filter: &OutboxFilter) -> Result<Vec<OutboxRow>, StoreError> {
        forward!(self, s => s.outbox(filter).await)
    }

    async fn outbox_without_drafts(
        &self,
        filter: &OutboxFilter,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        forward!(self, s => s.outbox_without_drafts(filter).await)
    }

    async fn outbox_apply<F>(&self, filter: &OutboxFilter, decide: F) -> Result<usize, StoreError>
    where
        F: FnOnce(Vec<OutboxRow>) -> OutboxChanges + Send,
    {
        forward!(self, s => s.outbox_apply(filter, decide).await)
    }

    async fn outbox_apply_rows<F>(
        &self,
        filter: &OutboxFilter,
        decide: F,
    ) -> Result<usize, StoreError>
    where
        F: FnOnce(Vec<OutboxRow>) -> OutboxChanges + Send,
    {
        forward!(self, s => s.outbox_apply_rows(filter, decide).await)
    }

    async fn outbox_claim(&self, claim: &Claim) -> Result<Vec<OutboxRow>, StoreError> {
        forward!(self, s => s.outbox_claim(claim).await)
    }

    async fn attempts(&self, outbox_id: i64) -> Result<Vec<AttemptRecord>, StoreError> {
        forward!(self, s => s.attempts(outbox_id).await)
    }

    async fn append_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        forward!(self, s => s.append_audit(entries).await)
    }

    async fn dossier_generations(&self) -> Result<Vec<(String, i64)>, StoreError> {
        forward!(self, s => s.dossier_generations().await)
    }

    async fn issue_viewer(
        &self,
        viewer: &Viewer,
        token_sha256: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        forward!(self, s => s.issue_viewer(viewer, token_sha256, expires_at).await)
    }

    async fn redeem_viewer_link(
        &self,
        token_sha256: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<Option<Viewer>, StoreError> {
        forward!(self, s => s.redeem_viewer_link(token_sha256, password_hash, now).await)
    }

    async fn viewer(&self, name: &str) -> Result<Option<Viewer>, StoreError> {
        forward!(self, s => s.viewer(name).await)
    }

    async fn viewers(&self) -> Result<Vec<Viewer>, StoreError> {
        forward!(self, s => s.viewers().await)
    }

    async fn revoke_viewer(&self, name: &str, now: i64) -> Result<bool, StoreError> {
        forward!(self, s => s.revoke_viewer(name, now).await)
    }

    async fn open_session(
        &self,
        id_sha256: &str,
        session: &SessionRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        forward!(self, s => s.open_session(id_sha256, session, now).await)
    }

    async fn session(
        &self,
        id_sha256: &str,
        now: i64,
    ) -> Result<Option<SessionRecord>, StoreError> {
        forward!(self, s => s.session(id_sha256, now).await)
    }

    async fn close_session(&self, id_sha256: &str) -> Result<(), StoreError> {
        forward!(self, s => s.close_session(id_sha256).await)
    }

    async fn sign_in_failures(&self, address: &str) -> Result<Option<SignInFailures>, StoreError> {
        forward!(self, s => s.sign_in_failures(address).await)
    }

    async fn record_sign_in_failure<F>(
        &self,
        address: &str,
        step: F,
    ) -> Result<SignInFailures, StoreError>
    where
        F: FnOnce(Option<SignInFailures>) -> SignInFailures + Send,
    {
        forward!(self, s => s.record_sign_in_failure(address, step).await)
    }

    async fn clear_sign_in_failures(&self, address: &str) -> Result<(), StoreError> {
        forward!(self, s => s.clear_sign_in_failures(address).await)
    }

    async fn audit(
        &self,
        period: Option<&str>,
        unit: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        forward!(self, s => s.audit(period, unit, limit).await)
    }

    async fn claim_fire(
        &self,
        job: &str,
        slot: Instant,
        owner: &str,
        now: Instant,
    ) -> Result<bool, StoreError> {
        forward!(self, s => s.claim_fire(job, slot, owner, now).await)
    }

    async fn finish_fire(
        &self,
        job: &str,
        slot: Instant,
        outcome: &str,
        now: Instant,
    ) -> Result<(), StoreError> {
        forward!(self, s => s.finish_fire(job, slot, outcome, now).await)
    }

    async fn unfinished_fires(&self) -> Result<Vec<Fire>, StoreError> {
        forward!(self, s => s.unfinished_fires().await)
    }

    async fn take_over_fire(
        &self,
        job: &str,
        slot: Instant,
        from: &str,
        to: &str,
        now: Instant,
    ) -> Result<bool, StoreError> {
        forward!(self, s => s.take_over_fire(job, slot, from, to, now).await)
    }

    async fn fires(&self, prefix: &str) -> Result<Vec<Fire>, StoreError> {
        forward!(self, s => s.fires(prefix).await)
    }

    async fn acquire_lock(
        &self,
        name: &str,
        owner: &str,
        until: Instant,
        now: Instant,
    ) -> Result<bool, StoreError> {
        forward!(self, s => s.acquire_lock(name, owner, until, now).await)
    }

    async fn release_lock(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        forward!(self, s => s.release_lock(name, owner).await)
    }

    async fn beat(
        &self,
        owner: &str,
        now: Instant,
        forget_before: Instant,
    ) -> Result<(), StoreError> {
        forward!(self, s => s.beat(owner, now, forget_before).await)
    }

    async fn heartbeats(&self) -> Result<Vec<(String, Instant)>, StoreError> {
        forward!(self, s => s.heartbeats().await)
    }

    async fn forget_heartbeat(&self, owner: &str) -> Result<(), StoreError> {
        forward!(self, s => s.forget_heartbeat(owner).await)
    }

    async fn locks(&self) -> Result<Vec<(String, String, Instant)>, StoreError> {
        forward!(self, s => s.locks().await)
    }

    async fn start_run(&self, run: &RunRecord) -> Result<i64, StoreError> {
        forward!(self, s => s.start_run(run).await)
    }

    async fn finish_run(
        &self,
        id: i64,
        outcome: &str,
        summary: &str,
        now: Instant,
    ) -> Result<(), StoreError> {
        forward!(self, s => s.finish_run(id, outcome, summary, now).await)
    }

    async fn close_unfinished_runs(
        &self,
        period: &str,
        summary: &str,
        now: Instant,
    ) -> Result<u64, StoreError> {
        forward!(self, s => s.close_unfinished_runs(period, summary, now).await)
    }

    async fn runs(&self, period: Option<&str>, limit: i64) -> Result<Vec<RunRecord>, StoreError> {
        forward!(self, s => s.runs(period, limit).await)
    }

    async fn axis_watermark(
        &self,
        source: &str,
        kind: RecordKind,
        axis: Axis,
    ) -> Result<Option<Instant>, StoreError> {
        forward!(self, s => s.axis_watermark(source, kind, axis).await)
    }

    async fn advance_axis_watermark(
        &self,
        source: &str,
        kind: RecordKind,
        axis: Axis,
        upper: Instant,
    ) -> Result<bool, StoreError> {
        forward!(self, s => s.advance_axis_watermark(source, kind, axis, upper).await)
    }

    async fn sources(&self, kind: RecordKind) -> Result<Vec<String>, StoreError> {
        forward!(self, s => s.sources(kind).await)
    }

    async fn dossiers_by_keys(
        &self,
        source: &str,
        keys: &[&str],
    ) -> Result<Vec<Dossier>, StoreError> {
        forward!(self, s => s.dossiers_by_keys(source, keys).await)
    }

    async fn track_open(
        &self,
        source: &str,
        marks: &[OpenMark],
        seen_at: Instant,
    ) -> Result<(), StoreError> {
        forward!(self, s => s.track_open(source, marks, seen_at).await)
    }

    async fn open_dossiers(
        &self,
        source: &str,
        seen_before: Instant,
        limit: i64,
    ) -> Result<Vec<OpenDossier>, StoreError> {
        forward!(self, s => s.open_dossiers(source, seen_before, limit).await)
    }

    async fn count_open(&self, source: &str, seen_before: Instant) -> Result<i64, StoreError> {
        forward!(self, s => s.count_open(source, seen_before).await)
    }

    async fn mark_gone(&self, source: &str, keys: &[&str], at: Instant) -> Result<(), StoreError> {
        forward!(self, s => s.mark_gone(source, keys, at).await)
    }

    async fn replace_source_findings(
        &self,
        source: &str,
        kind: RecordKind,
        keys: &[&str],
        findings: &[SourceFinding],
        at: Instant,
    ) -> Result<(), StoreError> {
        forward!(self, s => s.replace_source_findings(source, kind, keys, findings, at).await)
    }

    async fn source_findings(
        &self,
        source: Option<&str>,
    ) -> Result<Vec<(RecordKind, Finding)>, StoreError> {
        forward!(self, s => s.source_findings(source).await)
    }

    async fn upsert_rating_months(
        &self,
        source: &str,
        records: &[IncomingRaw<'_>],
    ) -> Result<UpsertCounts, StoreError> {
        forward!(self, s => s.upsert_rating_months(source, records).await)
    }

    async fn rating_months(&self, source: Option<&str>) -> Result<Vec<String>, StoreError> {
        forward!(self, s => s.rating_months(source).await)
    }

    async fn put_receiver_client(
        &self,
        source: &str,
        client: &str,
        password_hash: &str,
        at: Instant,
    ) -> Result<(), StoreError> {
        forward!(self, s => s.put_receiver_client(source, client, password_hash, at).await)
    }

    async fn receiver_client(
        &self,
        source: &str,
        client: &str,
    ) -> Result<Option<String>, StoreError> {
        forward!(self, s => s.receiver_client(source, client).await)
    }

    async fn receiver_clients(&self, source: &str) -> Result<Vec<(String, Instant)>, StoreError> {
        forward!(self, s => s.receiver_clients(source).await)
    }

    async fn remove_receiver_client(&self, source: &str, client: &str) -> Result<bool, StoreError> {
        forward!(self, s => s.remove_receiver_client(source, client).await)
    }

    async fn put_receiver_session(
        &self,
        token_hash: &str,
        source: &str,
        client: &str,
        expires_at: Instant,
    ) -> Result<(), StoreError> {
        forward!(self, s => s.put_receiver_session(token_hash, source, client, expires_at).await)
    }

    async fn receiver_session(
        &self,
        token_hash: &str,
        now: Instant,
    ) -> Result<Option<(String, String)>, StoreError> {
        forward!(self, s => s.receiver_session(token_hash, now).await)
    }
}

impl super::mail::MailStore for AnyStore {
    async fn enqueue_messages(
        &self,
        messages: &[super::mail::NewMessage],
        now: Instant,
    ) -> Result<usize, StoreError> {
        forward!(self, s => s.enqueue_messages(messages, now).await)
    }

    async fn claim_messages(
        &self,
        owner: &str,
        now: Instant,
        lease_until: Instant,
        limit: i64,
    ) -> Result<Vec<super::mail::MessageRow>, StoreError> {
        forward!(self, s => s.claim_messages(owner, now, lease_until, limit).await)
    }

    async fn finish_message(
        &self,
        outcome: &super::mail::MessageOutcome,
    ) -> Result<bool, StoreError> {
        forward!(self, s => s.finish_message(outcome).await)
    }

    async fn expire_messages(
        &self,
        now: Instant,
        dead: Option<&str>,
        actor: &str,
    ) -> Result<Vec<super::mail::MessageRow>, StoreError> {
        forward!(self, s => s.expire_messages(now, dead, actor).await)
    }

    async fn sending_owners(&self) -> Result<Vec<String>, StoreError> {
        forward!(self, s => s.sending_owners().await)
    }

    async fn messages(
        &self,
        period: Option<&str>,
        unit: Option<&str>,
        limit: i64,
    ) -> Result<Vec<super::mail::MessageRow>, StoreError> {
        forward!(self, s => s.messages(period, unit, limit).await)
    }

    async fn rearm_message(
        &self,
        id: i64,
        now: Instant,
        audit: &AuditEntry,
    ) -> Result<Option<super::mail::MessageRow>, StoreError> {
        forward!(self, s => s.rearm_message(id, now, audit).await)
    }

    async fn set_opt_out(
        &self,
        opt_out: &super::mail::OptOut,
        out: bool,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        forward!(self, s => s.set_opt_out(opt_out, out, audit).await)
    }

    async fn opt_outs(&self) -> Result<Vec<super::mail::OptOut>, StoreError> {
        forward!(self, s => s.opt_outs().await)
    }
}
