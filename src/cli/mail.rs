//! `baocao-sync mail …`: the outbox of messages by hand — what the daemon's schedule does (drafts
//! ready, the day's reminders, a sending pass), the list of messages, an operator's resend of a
//! failed or uncertain one, and a contact's opt-out. Every change is audited.

use super::config::{ConfigArgs, cli_actor};
use baocao_sync::domain::Period;
use baocao_sync::store::MailStore;
use baocao_sync::sync::{Quiet, RunOptions, Scope};
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum MailCommand {
    /// Send what is due now (one pass of the daemon's mail worker).
    Send(Box<ConfigArgs>),
    /// Enqueue "drafts ready" for every unit of a period with contacts (figures and findings
    /// as computed from the store now), then send.
    Ready(Box<PeriodArgs>),
    /// Enqueue the reminders (and the operator's digest) due today for a period, reading the
    /// reports' states from the reporting systems, then send.
    Remind(Box<PeriodArgs>),
    /// The messages, newest first: state, recipient, subject, why.
    List(Box<ListArgs>),
    /// Send a failed or uncertain message again (an uncertain one may reach its reader twice).
    Resend(Box<ResendArgs>),
    /// An address of a unit stops getting e-mail (`--undo`: starts again).
    OptOut(Box<OptOutArgs>),
}

#[derive(Debug, clap::Args)]
pub struct PeriodArgs {
    /// Period id, e.g. 2023-Q3.
    #[arg(long)]
    period: String,
    #[command(flatten)]
    config: ConfigArgs,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[arg(long)]
    period: Option<String>,
    #[arg(long)]
    unit: Option<String>,
    #[arg(long, default_value_t = 100)]
    limit: i64,
    #[command(flatten)]
    config: ConfigArgs,
}

#[derive(Debug, clap::Args)]
pub struct ResendArgs {
    /// The message's id (`mail list`).
    id: i64,
    /// Why (kept in the audit).
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    config: ConfigArgs,
}

#[derive(Debug, clap::Args)]
pub struct OptOutArgs {
    #[arg(long)]
    unit: String,
    #[arg(long)]
    address: String,
    /// Start sending to the address again.
    #[arg(long)]
    undo: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

pub async fn run(c: MailCommand) -> anyhow::Result<ExitCode> {
    match c {
        MailCommand::Send(config) => {
            let engine = config.engine().await?;
            require_mail(&engine)?;
            send(&engine).await
        }
        MailCommand::Ready(a) => {
            let period: Period = a.period.parse()?;
            let engine = a.config.engine().await?;
            require_mail(&engine)?;
            // The findings as a run would count them: a dry run computes and writes nothing.
            let options = RunOptions {
                dry_run: true,
                accept_stale: Some("mail ready".to_owned()),
                actor: cli_actor(),
                cause: "cli".to_owned(),
                ..RunOptions::default()
            };
            let report = engine
                .run(&Scope::period(period.clone()), &options, &Quiet)
                .await?;
            let new = engine.enqueue_ready(&period, &report.findings).await?;
            println!("{new} new messages");
            send(&engine).await
        }
        MailCommand::Remind(a) => {
            let period: Period = a.period.parse()?;
            let engine = a.config.engine().await?;
            require_mail(&engine)?;
            let today = engine.clock.now().to_local().date();
            if engine.reminder_deadlines(&period, today).is_empty() {
                println!(
                    "no reminder is due on {today} for {} (mail.remind_days_before days before a deadline, or the day after it)",
                    period.id()
                );
                return Ok(ExitCode::SUCCESS);
            }
            let new = engine.enqueue_reminders(&period, today).await?;
            println!("{new} new messages");
            send(&engine).await
        }
        MailCommand::List(a) => {
            let engine = a.config.engine().await?;
            let period = a.period.as_deref().map(str::parse::<Period>).transpose()?;
            let rows = engine
                .store
                .messages(
                    period.map(|p| p.id()).as_deref(),
                    a.unit.as_deref(),
                    a.limit,
                )
                .await?;
            for m in &rows {
                println!(
                    "{:>6}  {:<9} {:<8} {:<10} {:<32} {}{}",
                    m.id,
                    m.state.as_str(),
                    m.kind,
                    m.period,
                    m.recipient,
                    m.subject,
                    if m.detail.is_empty() {
                        String::new()
                    } else {
                        format!("  ({})", m.detail)
                    }
                );
            }
            if rows.is_empty() {
                println!("no messages");
            }
            Ok(ExitCode::SUCCESS)
        }
        MailCommand::Resend(a) => {
            if a.reason.trim().is_empty() {
                anyhow::bail!("--reason must say why the message is sent again");
            }
            let engine = a.config.engine().await?;
            require_mail(&engine)?;
            match engine.resend_message(a.id, &cli_actor(), &a.reason).await? {
                Some(m) => {
                    println!("message {} to {} armed again", m.id, m.recipient);
                    send(&engine).await
                }
                None => {
                    println!(
                        "message {} is not failed or uncertain (see `mail list`); nothing changed",
                        a.id
                    );
                    Ok(ExitCode::from(2))
                }
            }
        }
        MailCommand::OptOut(a) => {
            let engine = a.config.engine().await?;
            engine
                .set_opt_out(&a.unit, &a.address, !a.undo, &cli_actor())
                .await?;
            println!(
                "{} of {}: {}",
                a.address,
                a.unit,
                if a.undo {
                    "gets e-mail again"
                } else {
                    "gets no more e-mail"
                }
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn require_mail(engine: &baocao_sync::sync::Engine) -> anyhow::Result<()> {
    if engine.mailer.is_none() {
        anyhow::bail!(
            "no SMTP server is configured: set [mail] server, from and page_url (config/baocao-sync.example.toml)"
        );
    }
    Ok(())
}

async fn send(engine: &baocao_sync::sync::Engine) -> anyhow::Result<ExitCode> {
    let pass = engine.deliver_mail(&cli_actor()).await?;
    println!(
        "sent {}, to retry {}, failed {}, uncertain {}",
        pass.sent, pass.retrying, pass.failed, pass.uncertain
    );
    Ok(if pass.failed + pass.uncertain > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
