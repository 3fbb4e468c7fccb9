//! `daemon`: the schedule and the delivery workers until SIGTERM or Ctrl-C; and `check-config`.

use super::config::ConfigArgs;
use anyhow::Context;
use baocao_sync::scheduler::{Job, Schedule};
use baocao_sync::store::Store;
use baocao_sync::{daemon, shutdown};
use std::collections::HashSet;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub struct DaemonArgs {
    #[command(flatten)]
    config: ConfigArgs,
}

impl DaemonArgs {
    pub fn config_file(&self) -> Option<std::path::PathBuf> {
        self.config.config.clone()
    }
}

pub async fn run(a: DaemonArgs) -> anyhow::Result<ExitCode> {
    let engine = Arc::new(a.config.engine().await?);
    let schedule = engine.schedule().map_err(anyhow::Error::msg)?;
    if engine.vault.is_none() {
        tracing::warn!(
            "no vault key (vault.key_file or BAOCAO_VAULT_KEY): nothing can be pulled or pushed"
        );
    }
    let now = engine.clock.now();
    let done: HashSet<String> = engine
        .store
        .fires("prefill:")
        .await?
        .into_iter()
        .filter(|f| f.outcome.as_deref() == Some(baocao_sync::scheduler::DONE))
        .map(|f| f.job)
        .collect();
    println!(
        "baocao-sync daemon {} on {} ({}), as {}",
        env!("CARGO_PKG_VERSION"),
        engine.store.backend(),
        baocao_sync::store::redact_url(&engine.settings.store.database_url),
        engine.owner
    );
    if engine.settings.schedule.enabled {
        for fire in schedule.next(now, |p| done.contains(&Job::Prefill(p.clone()).name())) {
            println!(
                "next {:<18} {} ICT",
                fire.job.name(),
                fire.slot.to_local().format("%d/%m/%Y %H:%M")
            );
        }
    } else {
        println!("schedule disabled: delivering what `sync` queues");
    }
    let running = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let admin = admin(&engine, running.clone()).await?;
    let (trigger, listener) = shutdown::channel();
    for r in receivers(&engine, listener.clone()).await? {
        println!("receiver `{}` on http://{}", r.name, r.address);
    }
    tokio::spawn(async move {
        shutdown::signal().await;
        tracing::info!("shutdown asked for: finishing what is in flight");
        trigger.pull();
    });
    daemon::serve(engine, schedule, listener, admin, running).await?;
    Ok(ExitCode::SUCCESS)
}

/// The configured receivers, served on the engine's clock until `stop`.
pub async fn receivers(
    engine: &Arc<baocao_sync::sync::Engine>,
    stop: shutdown::Shutdown,
) -> anyhow::Result<Vec<baocao_sync::sources::receiver::Serving>> {
    let clock = engine.clock;
    baocao_sync::sources::receiver::spawn_all(
        &engine.store,
        &engine.parts.sources,
        &engine.parts.units,
        Arc::new(move || clock.now()),
        stop,
    )
    .await
    .map_err(anyhow::Error::msg)
}

/// The admin HTTP, when enabled: its listener (the address printed) and its operators.
pub async fn admin(
    engine: &Arc<baocao_sync::sync::Engine>,
    running: Arc<std::sync::atomic::AtomicBool>,
) -> anyhow::Result<Option<daemon::Admin>> {
    let http = &engine.settings.http;
    if !http.enabled {
        return Ok(None);
    }
    let operators = match &http.operators_file {
        Some(path) => Some(baocao_sync::configuration::operators(path)?),
        None => {
            tracing::warn!("no http.operators_file: only /healthz and /readyz will answer");
            None
        }
    };
    let listener = tokio::net::TcpListener::bind(&http.listen)
        .await
        .with_context(|| format!("cannot listen on {}", http.listen))?;
    println!("admin HTTP on http://{}", listener.local_addr()?);
    Ok(Some(daemon::Admin {
        listener,
        state: baocao_sync::admin::AdminState::new(engine.clone(), operators, running),
    }))
}

#[derive(Debug, clap::Args)]
pub struct HealthcheckArgs {
    /// The admin HTTP's address (host:port); the configuration's [http] listen by default.
    #[arg(long)]
    address: Option<String>,
    /// Ask /readyz (store and schedule) instead of /healthz.
    #[arg(long)]
    ready: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

/// For container health checks (the slim image has no curl): exit 0 when the daemon answers.
pub async fn healthcheck(a: HealthcheckArgs) -> anyhow::Result<ExitCode> {
    let address = match a.address {
        Some(a) => a,
        None => a.config.settings()?.http.listen,
    };
    let path = if a.ready { "readyz" } else { "healthz" };
    let answer = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()?
        .get(format!("http://{address}/{path}"))
        .send()
        .await;
    match answer {
        Ok(r) if r.status().is_success() => Ok(ExitCode::SUCCESS),
        Ok(r) => {
            eprintln!("{path}: HTTP {}", r.status());
            Ok(ExitCode::FAILURE)
        }
        Err(e) => {
            eprintln!("{path}: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct OperatorAddArgs {
    /// The operator's name, as the audit will show it.
    #[arg(long)]
    name: String,
    /// The operators file ([http] operators_file); created if missing.
    #[arg(long)]
    file: std::path::PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct ViewerLinkArgs {
    /// The official's sign-in name (letters, digits, . _ - @).
    #[arg(long)]
    name: String,
    /// The unit code they may read (with its subtree).
    #[arg(long)]
    unit: String,
    /// How long the link may be used.
    #[arg(long, default_value_t = baocao_sync::admin::VIEWER_LINK_HOURS)]
    hours: i64,
    #[command(flatten)]
    config: super::config::ConfigArgs,
}

/// Issues a viewer's one-time link and prints it once (the path, after the page's address).
pub async fn viewer_link(a: ViewerLinkArgs) -> anyhow::Result<ExitCode> {
    let engine = a.config.engine().await?;
    let name = a.name.trim();
    if !baocao_sync::auth::viewers::valid_name(name) {
        anyhow::bail!("--name: 1 to 64 letters, digits and . _ - @ only, e.g. --name can.bo.xa1");
    }
    if engine.parts.units.find(&a.unit).is_none() {
        anyhow::bail!("--unit {} is not in the unit tree", a.unit);
    }
    let token = baocao_sync::auth::viewers::issue(
        &engine.store,
        name,
        &a.unit,
        &super::config::cli_actor(),
        engine.clock.now(),
        a.hours,
    )
    .await?;
    println!(
        "http://{}{}",
        engine.settings.http.listen,
        baocao_sync::auth::viewers::link_path(&token)
    );
    eprintln!(
        "viewer `{name}` of {}: the link above is shown once, works once, for {} hours; \
         behind a proxy, use the page's public address instead of the listen address",
        a.unit, a.hours
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct ViewerRevokeArgs {
    #[arg(long)]
    name: String,
    #[command(flatten)]
    config: super::config::ConfigArgs,
}

pub async fn viewer_revoke(a: ViewerRevokeArgs) -> anyhow::Result<ExitCode> {
    let engine = a.config.engine().await?;
    let revoked = baocao_sync::auth::viewers::revoke(
        &engine.store,
        a.name.trim(),
        &super::config::cli_actor(),
        engine.clock.now(),
    )
    .await?;
    if revoked {
        eprintln!("viewer `{}` revoked", a.name.trim());
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("no viewer `{}` with access", a.name.trim());
        Ok(ExitCode::from(1))
    }
}

/// Adds an operator (or gives one a new token): the token is printed once, only its SHA-256 kept.
pub fn operator_add(a: OperatorAddArgs) -> anyhow::Result<ExitCode> {
    let mut file = if a.file.exists() {
        baocao_sync::configuration::operators(&a.file)?
    } else {
        baocao_sync::auth::operators::OperatorsFile { operators: vec![] }
    };
    let token = file.add(a.name.trim());
    write_private(&a.file, &file.to_toml())?;
    println!("{}", baocao_sync::auth::operators::reveal(&token));
    eprintln!(
        "operator `{}` added to {}: the token above is shown once; give it to them privately",
        a.name.trim(),
        a.file.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes a file only its owner can read (replacing it).
pub fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct CheckConfigArgs {
    /// Log in to this configured source, read a window of its dossiers, store nothing, and print
    /// what came: records per status code, values no table maps, unit names no unit matches, the
    /// time range.
    #[arg(long, value_name = "NAME")]
    probe_source: Option<String>,
    /// The reception days to read, FROM..TO (YYYY-MM-DD, both included); the last 7 days by
    /// default.
    #[arg(long, requires = "probe_source", value_name = "FROM..TO")]
    window: Option<String>,
    #[command(flatten)]
    config: ConfigArgs,
}

/// Prints the configuration as it resolved (passwords masked), then checks everything it names:
/// the files, the store, the vault key, the schedule.
pub async fn check(a: CheckConfigArgs) -> anyhow::Result<ExitCode> {
    if let Some(name) = &a.probe_source {
        return probe(&a, name).await;
    }
    let settings = a.config.settings()?;
    println!("{}", settings.resolved());
    settings.require_history()?;
    let parts = settings.load_parts()?;
    println!(
        "# units: {} ({} with duties); duties: {}; regimes: {}",
        parts.units.len(),
        parts
            .units
            .ids()
            .filter(|&u| parts.duties.of_kind(&parts.units.get(u).kind).is_some())
            .count(),
        parts.duties.name,
        parts
            .forms
            .regimes
            .iter()
            .map(|r| r.info.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Schedule::new(&settings.schedule, &parts.duties).map_err(anyhow::Error::msg)?;
    let vault = super::config::vault(&settings)?;
    println!(
        "# vault: {}",
        vault.map_or_else(
            || "no key configured".to_owned(),
            |v| format!("key {}", v.key_id())
        )
    );
    let store = baocao_sync::store::open(&settings.store.database_url).await?;
    store.ping().await?;
    println!("# store: {} reachable, migrations applied", store.backend());
    // E-mail: the CA file and password read, then a real connection, TLS and login (no message).
    match baocao_sync::configuration::mailer(&settings.mail)? {
        None => println!("# mail: off (no [mail] server)"),
        Some(mailer) => {
            let reached = mailer.connect().await.map_err(anyhow::Error::msg)?;
            reached.quit().await;
            println!(
                "# mail: {}:{} connected ({:?}), {}; {} units have contacts",
                settings.mail.server,
                settings.mail.port,
                settings.mail.tls,
                if settings.mail.username.is_some() {
                    "signed in"
                } else {
                    "no login"
                },
                parts
                    .units
                    .ids()
                    .filter(|&u| !parts.units.get(u).contacts.is_empty())
                    .count()
            );
        }
    }
    for s in &parts.sources {
        println!(
            "# source {}: {} (precedence {}, sends {:?})",
            s.name,
            s.protocol,
            s.precedence,
            s.provides()
        );
    }
    println!("# configuration OK");
    Ok(ExitCode::SUCCESS)
}

/// `check-config --probe-source NAME`: exit 0 when everything maps, 2 when something needs a
/// setting, 1 when the source cannot be read.
async fn probe(a: &CheckConfigArgs, name: &str) -> anyhow::Result<ExitCode> {
    use baocao_sync::domain::Instant;
    let settings = a.config.settings()?;
    let sources = settings.load_sources()?;
    let source = sources.iter().find(|s| s.name == name).with_context(|| {
        format!(
            "no source is named `{name}`; configured: {}",
            sources
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let units = match &settings.files.units {
        Some(path) => baocao_sync::configuration::units(path)?,
        None => anyhow::bail!("files.units is required (or --units): units are matched against it"),
    };
    let now = a.config.clock()?.now();
    let midnight = |d: chrono::NaiveDate| Instant::from_local(d.and_time(chrono::NaiveTime::MIN));
    let (from, to) = match &a.window {
        Some(w) => {
            let (f, t) = w
                .split_once("..")
                .with_context(|| format!("--window `{w}` is not FROM..TO"))?;
            let day = |s: &str| {
                chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                    .with_context(|| format!("--window: `{s}` is not a day YYYY-MM-DD"))
            };
            (
                midnight(day(f)?),
                midnight(day(t)? + chrono::Duration::days(1)),
            )
        }
        None => (
            midnight(now.to_local().date() - chrono::Duration::days(7)),
            now,
        ),
    };
    let vault = super::config::vault(&settings)?;
    let store = baocao_sync::store::open(&settings.store.database_url).await?;
    let auth = baocao_sync::sync::pull::source_auth(&store, vault.as_ref(), source)
        .await
        .map_err(anyhow::Error::msg)?;
    let day = |i: Instant| i.to_local().format("%d/%m/%Y %H:%M").to_string();
    println!(
        "probe of `{name}` ({}): dossiers received {} – {} (ICT)",
        source.protocol,
        day(from),
        day(Instant(to.0 - 1))
    );
    let seen = match baocao_sync::sources::probe::run(source, &auth, &units, from, to).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: the source could not be read: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    println!(
        "logged in and read {} dossiers; nothing was stored",
        seen.records
    );
    if !seen.statuses.is_empty() {
        let mut codes: Vec<(&String, &usize)> = seen.statuses.iter().collect();
        codes.sort_by_key(|(code, _)| (code.len(), code.to_string()));
        let by_code: Vec<String> = codes
            .iter()
            .map(|(code, n)| format!("{code}: {n}"))
            .collect();
        println!(
            "status codes as the source writes them: {}",
            by_code.join(", ")
        );
    }
    if let Some((first, last)) = seen.received {
        println!("received from {} to {}", day(first), day(last));
    }
    if !seen.unmapped.is_empty() {
        println!("values no table maps:");
        for ((field, value), (n, example, message)) in &seen.unmapped {
            let kind = if field == "MaDonViXuLy" {
                "unit name no unit matches"
            } else {
                "value"
            };
            println!("  {kind} {field} `{value}` ({n} dossiers, e.g. {example}): {message}");
        }
    }
    if !seen.unreadable.is_empty() {
        println!("records that cannot be read:");
        for (key, why) in seen.unreadable.iter().take(20) {
            println!("  {key}: {why}");
        }
        if seen.unreadable.len() > 20 {
            println!("  … and {} more", seen.unreadable.len() - 20);
        }
    }
    Ok(if seen.clean() {
        println!("everything maps");
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
