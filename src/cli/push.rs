use baocao_sync::configuration;
use baocao_sync::domain::Period;
use baocao_sync::duties::Duties;
use baocao_sync::forms::FormCatalog;
use baocao_sync::store;
use baocao_sync::sync::push::{PushRequest, push};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// Period id, e.g. 2023-Q3.
    #[arg(long)]
    period: String,
    /// Unit tree as TOML.
    #[arg(long)]
    units: PathBuf,
    /// Reporting systems' base URLs, token endpoints and client ids.
    #[arg(long, env = "BAOCAO_UPSTREAMS")]
    upstreams: PathBuf,
    /// Duties: who files what, where; the shipped example by default.
    #[arg(long, env = "BAOCAO_DUTIES")]
    duties: Option<PathBuf>,
    /// Only this form.
    #[arg(long)]
    form: Option<String>,
    /// Only this unit.
    #[arg(long)]
    unit: Option<String>,
    /// Only this system (central or provincial).
    #[arg(long)]
    system: Option<String>,
    /// Overwrite this unit's drafts even where a person changed them (repeatable; never approved ones).
    #[arg(long)]
    force_unit: Vec<String>,
    #[command(flatten)]
    key: super::creds::KeyArgs,
    #[arg(long, env = "BAOCAO_DATABASE_URL", default_value = store::DEFAULT_DATABASE_URL)]
    database_url: String,
}

pub async fn run(a: PushArgs) -> anyhow::Result<ExitCode> {
    let period: Period = a.period.parse()?;
    let units = configuration::units(&a.units)?;
    let upstreams = configuration::upstreams(&a.upstreams)?;
    let duties = match &a.duties {
        Some(p) => configuration::duties(p)?,
        None => Duties::builtin(),
    };
    let vault = a.key.vault()?;
    let store = store::open(&a.database_url).await?;
    let request = PushRequest {
        period,
        form: a.form,
        unit: a.unit,
        system: a.system,
        force_units: a.force_unit,
    };
    let outcomes = push(
        &store,
        &units,
        &duties,
        &FormCatalog::builtin(),
        &upstreams,
        &vault,
        &request,
    )
    .await?;
    let ok = ["created", "updated", "unchanged", "recreated"];
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &outcomes {
        *counts.entry(o.outcome.as_str()).or_default() += 1;
        if !ok.contains(&o.outcome.as_str()) {
            println!(
                "{:<18} {:<9} {:<11} {:<14} {}",
                o.unit, o.form, o.system, o.outcome, o.detail
            );
        }
    }
    let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!("{}", summary.join(", "));
    Ok(ExitCode::SUCCESS)
}
