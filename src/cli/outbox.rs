//! The operator's hands on the outbox: `outbox retry|hold|release` and `force-push`, the one way
//! to overwrite a draft a person edited (never an approved one). Every action is audited.

use super::config::{ConfigArgs, cli_actor};
use baocao_sync::store::{Force, OutboxFilter, OutboxState, ReportId, Store};
use baocao_sync::sync::outbox::Event;
use baocao_sync::sync::{self, Operated, Quiet, Verdict};
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum OutboxCommand {
    /// Arm reports for another try now (attempts start again).
    Retry(Target),
    /// Keep reports from being sent until released.
    Hold(Target),
    /// Hand held reports back to delivery.
    Release(Target),
}

/// Which reports: one by its key, or every one of a period (narrowed by unit, form, system).
#[derive(Debug, clap::Args)]
pub struct Target {
    /// SYSTEM/FORM/PERIOD/UNIT, e.g. central/II.06a/2023-Q3/000.10.00.H55.
    report: Option<ReportId>,
    #[arg(long, conflicts_with = "report")]
    period: Option<String>,
    #[arg(long, requires = "period")]
    unit: Option<String>,
    #[arg(long, requires = "period")]
    form: Option<String>,
    #[arg(long, requires = "period")]
    system: Option<String>,
    /// Why (kept in the audit).
    #[arg(long, default_value = "")]
    reason: String,
    #[command(flatten)]
    config: ConfigArgs,
}

impl Target {
    fn filter(&self) -> anyhow::Result<OutboxFilter> {
        match (&self.report, &self.period) {
            (Some(r), _) => Ok(OutboxFilter::report(r)),
            (None, Some(p)) => {
                let period: baocao_sync::domain::Period = p.parse()?;
                Ok(OutboxFilter {
                    id: None,
                    system: self.system.clone(),
                    form: self.form.clone(),
                    period: Some(period.id()),
                    unit: self.unit.clone(),
                })
            }
            (None, None) => anyhow::bail!("name a report (SYSTEM/FORM/PERIOD/UNIT) or --period"),
        }
    }
}

pub async fn run(c: OutboxCommand) -> anyhow::Result<ExitCode> {
    let (target, event, action) = match c {
        OutboxCommand::Retry(t) => (t, Event::Retry, "outbox_retry"),
        OutboxCommand::Hold(t) => (t, Event::Hold, "outbox_hold"),
        OutboxCommand::Release(t) => (t, Event::Release, "outbox_release"),
    };
    let engine = target.config.engine().await?;
    let filter = target.filter()?;
    let done = sync::operate(
        &engine.store,
        &filter,
        event,
        &cli_actor(),
        action,
        &target.reason,
        engine.clock.now(),
        &engine.policy(),
    )
    .await?;
    print(&done);
    engine.delivery.wake();
    Ok(if done.refused.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn print(done: &Operated) {
    for r in &done.changed {
        println!("{:<52} now {}", r.report.to_string(), r.state);
    }
    for refusal in &done.refused {
        println!("refused: {refusal}");
    }
    if done.changed.is_empty() && done.refused.is_empty() {
        println!("no report changed");
    }
}

#[derive(Debug, clap::Args)]
pub struct ForcePushArgs {
    /// SYSTEM/FORM/PERIOD/UNIT.
    report: ReportId,
    /// Why the person's draft is overwritten (kept in the audit).
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    config: ConfigArgs,
}

/// Overwrites one report's draft although a person edited it, now, in the foreground.
pub async fn force_push(a: ForcePushArgs) -> anyhow::Result<ExitCode> {
    if a.reason.trim().is_empty() {
        anyhow::bail!("--reason must say why a person's draft is overwritten");
    }
    let engine = a.config.engine().await?;
    let actor = cli_actor();
    let filter = OutboxFilter::report(&a.report);
    let force = Force {
        by: actor.clone(),
        reason: a.reason.clone(),
    };
    let done = sync::operate(
        &engine.store,
        &filter,
        Event::Force(force),
        &actor,
        "force_push",
        &a.reason,
        engine.clock.now(),
        &engine.policy(),
    )
    .await?;
    if let Some(refusal) = done.refused.first() {
        println!("refused: {refusal}");
        return Ok(ExitCode::from(2));
    }
    if done.changed.is_empty() {
        println!(
            "{}: not in the outbox; run sync for its period first",
            a.report
        );
        return Ok(ExitCode::from(1));
    }
    engine.delivery.drain(&filter, &Quiet).await?;
    let row = engine
        .store
        .outbox(&filter)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("{} disappeared from the outbox", a.report))?;
    println!(
        "{:<52} {} {}",
        row.report.to_string(),
        row.state,
        row.detail
    );
    // A forced push succeeded only if it wrote (or found our content there): a person who
    // approved or changed the draft again meanwhile (409/412) wins, and the operator is told.
    if matches!(row.state, OutboxState::Locked | OutboxState::EditedByPerson) {
        eprintln!(
            "{}: not overwritten: a person {} the draft while it was being pushed; it is left as it is",
            row.report,
            if row.state == OutboxState::Locked {
                "approved, signed or sent"
            } else {
                "changed"
            }
        );
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::from(match sync::verdict_of(row.state) {
        Verdict::Good => 0,
        Verdict::NeedsAttention => 2,
        Verdict::Withheld => 3,
    }))
}
