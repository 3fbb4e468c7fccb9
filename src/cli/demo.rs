//! `demo`: the whole product on one machine, in one command. A generated two-tier province
//! (departments and communes; dossiers, ratings, feedback) is served by the sandbox as the
//! procedure-handling system and the two reporting systems; the daemon runs on the embedded
//! SQLite with its admin HTTP, its clock set to the morning after the cut-off of the last quarter
//! that has ended; its schedule pre-fills that quarter. The command prints a summary, the page's
//! address and the file holding the demo operator's token, and stops everything on Ctrl-C.
//!
//! `--source` picks the protocol the province's one-stop system speaks: our own contract
//! (`baocao`), the national portal's envelope pulled by window (`envelope_window`), VNPT iGate
//! (`igate`), or the `receiver`, into which a one-stop system played by the sandbox pushes its
//! dossiers and monthly satisfaction as it does to the national portal. Ratings and feedback that
//! the protocol does not carry come from export files, as they would.

use anyhow::Context;
use baocao_sync::auth::vault::{Credential, System, Vault};
use baocao_sync::domain::{Instant, Period, PeriodKind};
use baocao_sync::duties::Duties;
use baocao_sync::settings::{Overrides, Settings};
use baocao_sync::store::Store;
use baocao_sync::sync::{Clock, Engine};
use baocao_sync::{configuration, daemon, sandbox, shutdown, synth};
use chrono::Datelike;
use secrecy::SecretString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where the demo keeps its data set, store, keys and configuration (made afresh).
    #[arg(long, default_value = "data/demo")]
    dir: PathBuf,
    #[arg(long, default_value_t = 200)]
    units: usize,
    #[arg(long, default_value_t = 60_000)]
    dossiers: usize,
    #[arg(long, default_value_t = 12_000)]
    ratings: usize,
    #[arg(long, default_value_t = 1_500)]
    feedback: usize,
    /// The status page's address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// The protocol the province's one-stop system speaks.
    #[arg(long, value_enum, default_value = "baocao")]
    source: DemoSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
enum DemoSource {
    Baocao,
    EnvelopeWindow,
    Igate,
    Receiver,
}

/// The demo's receiver client (the sandbox's one-stop system) and its password.
const PUSHER: (&str, &str) = ("mot-cua-tinh", "demo-mot-cua-tinh");

/// The `[[sources]]` (or `[upstreams.source]`) of each choice, at the sandbox's `upstream`.
fn source_block(choice: DemoSource, upstream: &str) -> String {
    match choice {
        DemoSource::Baocao => format!(
            "[upstreams.source]\nbase_url = \"{upstream}/source\"\ntoken_url = \"{upstream}/source/oauth/token\"\nclient_id = \"baocao-sync\"\n"
        ),
        DemoSource::EnvelopeWindow => format!(
            "[[sources]]\nname = \"dvc\"\nprotocol = \"envelope_window\"\nbase_url = \"{upstream}/envelope\"\n\
             windows = {{ days = 31 }}\n"
        ),
        DemoSource::Igate => format!(
            "[[sources]]\nname = \"igate\"\nprotocol = \"igate\"\nbase_url = \"{upstream}/igate\"\n\
             windows = {{ days = 31 }}\n[sources.auth]\nkind = \"oauth2_password\"\n\
             token_url = \"{upstream}/igate/realms/digo/protocol/openid-connect/token\"\nclient_id = \"digo\"\n"
        ),
        DemoSource::Receiver => "[[sources]]\nname = \"nhan\"\nprotocol = \"receiver\"\n\
             [sources.receiver]\nlisten = \"127.0.0.1:0\"\n"
            .to_owned(),
    }
}

/// The last quarter whose window has ended by `today`.
fn last_ended_quarter(today: chrono::NaiveDate) -> Period {
    (today.year() - 1..=today.year())
        .flat_map(|y| (1..=4).filter_map(move |q| Period::new(y, PeriodKind::Quarter(q))))
        .filter(|p| p.last_day < today)
        .max_by_key(|p| p.last_day)
        .expect("a quarter has ended")
}

pub async fn run(a: DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = &a.dir;
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    let data = dir.join("data");
    let period = last_ended_quarter(chrono::Utc::now().date_naive());
    eprintln!(
        "generating a province of {} units for {} into {}…",
        a.units,
        period.id(),
        data.display()
    );
    let spec = synth::Spec {
        dossiers: a.dossiers,
        ratings: a.ratings,
        feedback: a.feedback,
        units: a.units,
        tiers: 2,
        seed: 1,
        first_day: period.first_day,
        last_day: period.last_day,
        ..Default::default()
    };
    synth::write_data_set(&spec, &data)?;
    add_contacts(&data.join("units.toml"))?;

    // The sandbox serves the three upstream systems on a free loopback port.
    let (sandbox_data, records) = configuration::sandbox(&data)?;
    let sandbox_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let upstream = format!("http://{}", sandbox_listener.local_addr()?);
    let (trigger, stop) = shutdown::channel();
    let mut sandbox_stop = stop.clone();
    tokio::spawn(sandbox::serve(
        sandbox_listener,
        sandbox_data,
        records,
        async move { sandbox_stop.requested().await },
    ));

    // The sandbox's mail server: what the product sends lands in mail/ as .eml files.
    let smtp_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let smtp_port = smtp_listener.local_addr()?.port();
    let mut smtp_stop = stop.clone();
    let mail_dir = dir.join("mail");
    tokio::spawn(sandbox::smtp::serve(
        smtp_listener,
        mail_dir.clone(),
        async move { smtp_stop.requested().await },
    ));
    // The page's address is in the messages: a port 0 is resolved now.
    let listen = {
        let probe = std::net::TcpListener::bind(&a.listen)
            .with_context(|| format!("cannot listen on {}", a.listen))?;
        probe.local_addr()?.to_string()
    };

    // Keys, the operator, the duties, the configuration: files the operator can reuse.
    // The key apart from the store it opens (a key beside its store is warned about).
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys)?;
    let key = keys.join("vault.key");
    super::daemon::write_private(&key, &Vault::generate_key())?;
    let mut operators = baocao_sync::auth::operators::OperatorsFile { operators: vec![] };
    let token = operators.add("demo");
    let token_file = dir.join("operator-token.txt");
    super::daemon::write_private(&dir.join("operators.toml"), &operators.to_toml())?;
    super::daemon::write_private(
        &token_file,
        &format!("{}\n", baocao_sync::auth::operators::reveal(&token)),
    )?;
    std::fs::write(dir.join("duties.toml"), Duties::TWO_TIER)?;
    let mut upstreams = String::new();
    for system in ["central", "provincial"] {
        upstreams.push_str(&format!(
            "[upstreams.{system}]\nbase_url = \"{upstream}/{system}\"\ntoken_url = \"{upstream}/{system}/oauth/token\"\nclient_id = \"baocao-sync\"\n"
        ));
    }
    upstreams.push_str(&source_block(a.source, &upstream));
    let history = period
        .first_day
        .with_day(1)
        .expect("a day")
        .with_month(1)
        .expect("a month")
        - chrono::Duration::days(365);
    let config = dir.join("baocao-sync.toml");
    std::fs::write(
        &config,
        format!(
            "# The demo's configuration (`baocao-sync demo`); every command takes it with --config.\n\
             [store]\ndatabase_url = \"sqlite://{store}\"\n[vault]\nkey_file = \"{key}\"\n\
             [files]\nunits = \"{units}\"\nduties = \"{duties}\"\n\
             [pull]\nhistory_from = \"{history}\"\nwindow_days = 60\n\
             [http]\nlisten = \"{listen}\"\noperators_file = \"{operators}\"\n\
             [mail]\nserver = \"127.0.0.1\"\nport = {smtp_port}\ntls = \"none\"\n\
             from = \"Văn phòng UBND tỉnh <baocao@demo.example.vn>\"\n\
             operator = [\"theodoi@demo.example.vn\"]\npage_url = \"http://{listen}\"\n\
             {upstreams}",
            store = dir.join("baocao-sync.db").display(),
            key = key.display(),
            units = data.join("units.toml").display(),
            duties = dir.join("duties.toml").display(),
            operators = dir.join("operators.toml").display(),
        ),
    )?;
    let settings = Settings::load(Some(&config), &Overrides::default())?;
    let parts = settings.load_parts()?;
    let vault = super::config::read_key(&key)?;
    // The morning after the cut-off, half an hour after the pre-fill is due.
    let morning = Instant::from_local(
        (period.last_day + chrono::Duration::days(1))
            .and_hms_opt(7, 30, 0)
            .expect("a time"),
    );
    let engine =
        Arc::new(Engine::start(settings, parts, Some(vault), Clock::starting_at(morning)).await?);

    // Every unit's logins (the sandbox's demo accounts), sealed in the store.
    let vault = engine.vault.clone().expect("opened above");
    let mut logins = ::csv::Reader::from_path(data.join("logins.csv"))?;
    let mut count = 0;
    for line in logins.records() {
        let line = line?;
        let system: System = line[0].parse()?;
        let credential = Credential {
            system,
            unit: line[1].to_owned(),
            username: system.username(&line[2])?,
            password: SecretString::from(line[3].to_owned()),
        };
        engine
            .store
            .put_credential(&vault.seal(&credential, chrono::Utc::now().to_rfc3339()))
            .await?;
        count += 1;
    }
    eprintln!("{count} demo logins sealed in the store");
    if a.source != DemoSource::Baocao {
        // What the protocol does not carry comes from export files, as in a real province.
        let mut kinds = vec![("feedback.ndjson", baocao_sync::domain::RecordKind::Feedback)];
        if a.source != DemoSource::Receiver {
            kinds.push(("ratings.ndjson", baocao_sync::domain::RecordKind::Rating));
        }
        for (file, kind) in kinds {
            let n = import_raw(
                &engine.store,
                kind,
                &std::fs::read_to_string(data.join(file))?,
            )
            .await?;
            eprintln!("{n} {} records imported from {file}", kind.as_str());
        }
    }
    if a.source == DemoSource::Receiver {
        receive(&engine, &data).await?;
    }

    let schedule = engine.schedule().map_err(anyhow::Error::msg)?;
    let running = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let admin = super::daemon::admin(&engine, running.clone()).await?;
    let address = admin
        .as_ref()
        .map(|a| a.listener.local_addr())
        .transpose()?
        .map(|a| format!("http://{a}"))
        .unwrap_or_default();
    let daemon = tokio::spawn(daemon::serve(
        engine.clone(),
        schedule,
        stop.clone(),
        admin,
        running,
    ));

    // The pre-fill runs at start (its fire is due); wait until every draft has settled.
    eprintln!(
        "the daemon pre-fills {} (clock: {} ICT)…",
        period.id(),
        morning.to_local().format("%d/%m/%Y %H:%M")
    );
    let filter = baocao_sync::store::OutboxFilter {
        period: Some(period.id()),
        ..Default::default()
    };
    let mut ctrl_c = std::pin::pin!(shutdown::signal());
    let settled = loop {
        let rows = engine.store.outbox(&filter).await?;
        let busy = rows.iter().any(|r| {
            use baocao_sync::store::OutboxState::*;
            matches!(r.state, Pending | Sending | WaitingForSource)
        });
        if !rows.is_empty() && !busy {
            break Some(rows);
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(300)) => {}
            _ = &mut ctrl_c => break None,
        }
    };
    if let Some(rows) = settled {
        println!(
            "{} reports for {}: {}",
            rows.len(),
            period.id(),
            baocao_sync::sync::summarize(&rows)
        );
        println!("status page: {address}/periods/{}", period.id());
        println!("operator token: {}", token_file.display());
        println!(
            "e-mail the product sends: {} (the sandbox's SMTP server)",
            mail_dir.display()
        );
        println!(
            "configuration: {} (for `status`, `sync`, `explain` … with --config)",
            config.display()
        );
        println!("press Ctrl-C to stop");
        ctrl_c.await;
    }
    eprintln!("stopping…");
    trigger.pull();
    daemon.await??;
    Ok(ExitCode::SUCCESS)
}

/// Gives every generated unit an address for the product's e-mail, and the first commune one
/// more that the sandbox's mail server refuses (the page then shows a message given up).
fn add_contacts(path: &std::path::Path) -> anyhow::Result<()> {
    let mut tree: toml::Table = toml::from_str(&std::fs::read_to_string(path)?)?;
    let mut refused = false;
    if let Some(units) = tree.get_mut("units").and_then(|u| u.as_array_mut()) {
        for unit in units.iter_mut().filter_map(|u| u.as_table_mut()) {
            let code = unit
                .get("code")
                .and_then(|c| c.as_str())
                .unwrap_or("")
                .replace('.', "-")
                .to_lowercase();
            let mut contacts = vec![toml::Value::from(format!("vanthu-{code}@demo.example.vn"))];
            if !refused && unit.get("kind").and_then(|k| k.as_str()) == Some("commune") {
                contacts.push(toml::Value::from("khong-ton-tai@demo.example.vn"));
                refused = true;
            }
            unit.insert("contacts".to_owned(), toml::Value::Array(contacts));
        }
    }
    std::fs::write(path, toml::to_string(&tree)?)?;
    Ok(())
}

/// Stores ratings or feedback of an export (NDJSON) under the source `files`.
async fn import_raw(
    store: &baocao_sync::store::AnyStore,
    kind: baocao_sync::domain::RecordKind,
    ndjson: &str,
) -> anyhow::Result<usize> {
    use baocao_sync::domain::{Feedback, Rating, RecordKind};
    use baocao_sync::sources::export::{FromWire, parse_raw};
    fn incoming<R: FromWire>(ndjson: &str) -> (Vec<(String, Option<Instant>)>, Vec<String>) {
        let batch = parse_raw::<R>(ndjson.lines(), true);
        let keys = batch
            .records
            .iter()
            .map(|r| (r.key().to_owned(), r.updated_at()))
            .collect();
        (keys, batch.raws)
    }
    let (keys, raws) = match kind {
        RecordKind::Rating => incoming::<Rating>(ndjson),
        _ => incoming::<Feedback>(ndjson),
    };
    let records: Vec<baocao_sync::store::IncomingRaw> = keys
        .iter()
        .zip(&raws)
        .map(|((key, updated_at), raw)| baocao_sync::store::IncomingRaw {
            key,
            updated_at: *updated_at,
            raw,
        })
        .collect();
    store.upsert_raw(kind, "files", &records).await?;
    Ok(records.len())
}

/// The receiver, with the sandbox's one-stop system pushing its dossiers and its monthly
/// satisfaction into it as it does to the national portal.
async fn receive(engine: &Arc<Engine>, data: &std::path::Path) -> anyhow::Result<()> {
    let hash = baocao_sync::auth::receiver::hash_password(&SecretString::from(PUSHER.1.to_owned()))
        .map_err(anyhow::Error::msg)?;
    engine
        .store
        .put_receiver_client("nhan", PUSHER.0, &hash, engine.clock.now())
        .await?;
    let served = super::daemon::receivers(engine, shutdown::Shutdown::never()).await?;
    let base = served
        .first()
        .map(|r| format!("http://{}", r.address))
        .context("the demo's receiver is configured")?;
    eprintln!("receiver on {base}; the sandbox's one-stop system pushes into it…");
    let names: std::collections::HashMap<String, String> = engine
        .parts
        .units
        .ids()
        .map(|id| {
            let u = engine.parts.units.get(id);
            (u.code.clone(), u.name.clone())
        })
        .collect();
    let dossiers = sandbox::pusher::dossier_items(
        &std::fs::read_to_string(data.join("dossiers.ndjson"))?,
        &names,
    );
    let pushed = sandbox::pusher::push(&base, PUSHER, None, "DongBoHoSoMC", &dossiers, 500)
        .await
        .map_err(anyhow::Error::msg)?;
    let ratings = sandbox::pusher::rating_items(
        &std::fs::read_to_string(data.join("ratings.ndjson"))?,
        &names,
    );
    let months = sandbox::pusher::push(&base, PUSHER, None, "DongBoDanhGia", &ratings, 500)
        .await
        .map_err(anyhow::Error::msg)?;
    eprintln!(
        "pushed {} dossiers in {} batches ({} refused by the receiver) and {} monthly satisfaction items",
        dossiers.len(),
        pushed.batches,
        pushed.refused.len(),
        ratings.len()
    );
    let _ = months;
    Ok(())
}
