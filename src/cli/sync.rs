//! `sync` (and `push`, the same without the pull): the pipeline once over a scope, in the
//! foreground, with progress, a line per report that needs someone, and the exit status the
//! operator's scripts read: 0 when every report ended in a good or intended state, 2 when
//! something needs someone or time, 3 for a broken identity.

use super::config::{ConfigArgs, cli_actor};
use baocao_sync::domain::Period;
use baocao_sync::store::OutboxRow;
use baocao_sync::sync::{self, Progress, RunOptions, Scope, SyncError, Verdict};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Mutex;

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// Period id, e.g. 2023-Q3.
    #[arg(long)]
    pub period: String,
    /// Only this unit.
    #[arg(long)]
    pub unit: Option<String>,
    /// Only this form (its code or alias: II.06a, II.01-DC…).
    #[arg(long)]
    pub form: Option<String>,
    /// Only this reporting system: central or provincial.
    #[arg(long)]
    pub system: Option<String>,
    /// Compute and show what would change; write nothing anywhere.
    #[arg(long)]
    pub dry_run: bool,
    /// Go on although the freshness gate holds; REASON is kept in the audit.
    #[arg(long, value_name = "REASON")]
    pub accept_stale: Option<String>,
    /// Print the time each stage took, as one JSON line on standard error, at the end.
    #[arg(long)]
    pub timings: bool,
    /// Pull only this configured source (its `[[sources]]` name) before computing.
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

impl SyncArgs {
    pub fn scope(&self) -> anyhow::Result<Scope> {
        let period: Period = self.period.parse()?;
        Ok(Scope {
            period,
            unit: self.unit.clone(),
            form: self.form.clone(),
            system: self.system.clone(),
        })
    }
}

/// Runs the pipeline once (`pull`: with the pull stage, as `sync`; without, as `push`).
pub async fn run(a: SyncArgs, pull: bool) -> anyhow::Result<ExitCode> {
    let engine = a.config.engine().await?;
    let scope = a.scope()?;
    let options = RunOptions {
        pull,
        deliver: !a.dry_run,
        dry_run: a.dry_run,
        accept_stale: a.accept_stale.clone(),
        actor: cli_actor(),
        cause: "cli".to_owned(),
        source: a.source.clone(),
        ..RunOptions::default()
    };
    let progress = Bars::new();
    let result = engine.run(&scope, &options, &progress).await;
    progress.finish();
    if a.timings
        && let Ok(report) = &result
    {
        let mut stages = progress.timings();
        let store: f64 = report.pulls.iter().map(|(_, o)| o.store_seconds).sum();
        stages.insert("store".to_owned(), (store * 1000.0).round() / 1000.0);
        let points: serde_json::Map<String, serde_json::Value> = baocao_sync::drill::passed()
            .into_iter()
            .map(|(stage, n)| (stage.to_owned(), n.into()))
            .collect();
        eprintln!(
            "{}",
            serde_json::json!({ "timings": stages, "drill_points": points })
        );
    }
    let report = match result {
        Ok(r) => r,
        Err(SyncError::Busy(why)) => {
            eprintln!("{why}");
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e.into()),
    };
    for (kind, outcome) in &report.pulls {
        match &outcome.failure {
            Some(f) => println!("pull {}: failed: {f}", kind.as_str()),
            None => println!(
                "pull {}: new {}, updated {}, unchanged {}, rejected {}",
                kind.as_str(),
                outcome.counts.new,
                outcome.counts.updated,
                outcome.counts.unchanged,
                outcome.rejected.len()
            ),
        }
    }
    if !report.gate.is_empty() {
        let verb = if report.accepted_stale {
            "held, overridden by --accept-stale"
        } else {
            "holds: nothing was computed or sent"
        };
        println!("freshness gate {verb}:");
        for reason in &report.gate {
            println!("  - {reason}");
        }
    }
    print_rows(&report.rows, a.dry_run);
    let verdict = report.verdict();
    Ok(ExitCode::from(match verdict {
        Verdict::Good => 0,
        Verdict::NeedsAttention => 2,
        Verdict::Withheld => 3,
    }))
}

/// A line per report that did not plainly succeed (what a person did to it included), then the
/// counts.
fn print_rows(rows: &[OutboxRow], dry_run: bool) {
    use baocao_sync::store::OutboxState::*;
    for r in rows {
        if !matches!(
            r.state,
            Created | Updated | Unchanged | Recreated | NothingToReport
        ) {
            println!(
                "{:<18} {:<9} {:<11} {:<19} {}",
                r.report.unit, r.report.form, r.report.system, r.state, r.detail
            );
        }
    }
    let prefix = if dry_run { "would be: " } else { "" };
    println!("{prefix}{}", sync::summarize(rows));
}

/// Progress on standard error: bars on a terminal, plain lines otherwise; and the time each
/// stage took.
struct Bars {
    terminal: bool,
    bar: Mutex<Option<(ProgressBar, Option<u64>, u64)>>,
    /// Stages in order, with when each started; the run's end closes the last.
    stages: Mutex<Vec<(String, std::time::Instant)>>,
    ended: Mutex<Option<std::time::Instant>>,
}

impl Bars {
    fn new() -> Bars {
        Bars {
            terminal: std::io::stderr().is_terminal(),
            bar: Mutex::new(None),
            stages: Mutex::new(Vec::new()),
            ended: Mutex::new(None),
        }
    }

    fn finish(&self) {
        self.ended
            .lock()
            .expect("not poisoned")
            .get_or_insert_with(std::time::Instant::now);
        if let Some((bar, _, _)) = self.bar.lock().expect("not poisoned").take() {
            bar.finish_and_clear();
        }
    }

    /// Seconds per stage, each from its start to the next one's (or the run's end).
    fn timings(&self) -> std::collections::BTreeMap<String, f64> {
        let stages = self.stages.lock().expect("not poisoned");
        let end = self
            .ended
            .lock()
            .expect("not poisoned")
            .unwrap_or_else(std::time::Instant::now);
        let mut out = std::collections::BTreeMap::new();
        for (i, (name, start)) in stages.iter().enumerate() {
            let until = stages.get(i + 1).map_or(end, |(_, s)| *s);
            let seconds = until.duration_since(*start).as_secs_f64();
            *out.entry(name.clone()).or_insert(0.0) += (seconds * 1000.0).round() / 1000.0;
        }
        out
    }
}

impl Progress for Bars {
    fn stage(&self, name: &str, total: Option<u64>) {
        if let Some((bar, _, _)) = self.bar.lock().expect("not poisoned").take() {
            bar.finish_and_clear();
        }
        self.stages
            .lock()
            .expect("not poisoned")
            .push((name.to_owned(), std::time::Instant::now()));
        if !self.terminal {
            match total {
                Some(n) => eprintln!("{name}: {n}"),
                None => eprintln!("{name}…"),
            }
            *self.bar.lock().expect("not poisoned") = Some((ProgressBar::hidden(), total, 0));
            return;
        }
        let bar = match total {
            Some(n) => ProgressBar::new(n).with_style(
                ProgressStyle::with_template("{msg:>8} [{bar:40}] {pos}/{len} {elapsed}")
                    .expect("a valid template")
                    .progress_chars("=> "),
            ),
            None => {
                let b = ProgressBar::new_spinner();
                b.enable_steady_tick(std::time::Duration::from_millis(120));
                b
            }
        };
        bar.set_message(name.to_owned());
        *self.bar.lock().expect("not poisoned") = Some((bar, total, 0));
    }

    fn delivered(&self, _row: &OutboxRow) {
        let mut guard = self.bar.lock().expect("not poisoned");
        if let Some((bar, total, done)) = guard.as_mut() {
            *done += 1;
            bar.inc(1);
            if !self.terminal
                && let Some(t) = total
                && (*done == *t || *done % (*t / 10).max(1) == 0)
            {
                eprintln!("delivered {done}/{t}");
            }
        }
    }
}
