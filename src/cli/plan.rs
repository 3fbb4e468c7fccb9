use baocao_sync::configuration;
use baocao_sync::domain::Period;
use baocao_sync::duties::{self, Duties, PlanRow};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Period id, e.g. 2023-Q3.
    #[arg(long)]
    period: String,
    /// Unit tree as TOML.
    #[arg(long)]
    units: PathBuf,
    /// Duties and deadlines (TOML); the shipped example (the 2023 Quảng Ngãi letter) by default.
    #[arg(long, env = "BAOCAO_DUTIES")]
    duties: Option<PathBuf>,
    /// Form definitions folder; the built-in copy by default.
    #[arg(long, env = "BAOCAO_FORMS_DIR")]
    forms_dir: Option<PathBuf>,
    /// text, json or csv.
    #[arg(long, default_value = "text")]
    format: String,
}

pub fn run(a: PlanArgs) -> anyhow::Result<ExitCode> {
    let period: Period = a.period.parse()?;
    let units = configuration::units(&a.units)?;
    let duties = match &a.duties {
        Some(p) => configuration::duties(p)?,
        None => Duties::builtin(),
    };
    let catalog = configuration::forms_or_builtin(a.forms_dir.as_deref())?;
    duties
        .check_forms(&catalog, &period)
        .map_err(anyhow::Error::msg)?;
    let rows = duties::plan(&duties, &units, &period);
    match a.format.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&rows)?),
        "csv" => {
            let mut w = csv::Writer::from_writer(std::io::stdout());
            w.write_record([
                "unit",
                "name",
                "kind",
                "forms",
                "systems",
                "deadline",
                "signed",
                "aggregates",
            ])?;
            for r in &rows {
                w.write_record([
                    r.unit.clone(),
                    r.name.clone(),
                    r.kind.clone(),
                    r.forms.join(" "),
                    r.systems.join(" "),
                    r.deadline.map(|d| d.to_string()).unwrap_or_default(),
                    r.signed.to_string(),
                    r.aggregates.map(|n| n.to_string()).unwrap_or_default(),
                ])?;
            }
            w.flush()?;
        }
        "text" => print_text(&rows, &duties, &period),
        other => anyhow::bail!("unknown plan format `{other}`: use text, json or csv"),
    }
    Ok(ExitCode::SUCCESS)
}

fn print_text(rows: &[PlanRow], duties: &Duties, period: &Period) {
    println!(
        "Kế hoạch báo cáo {} — {} ({})",
        period.id(),
        period.label_vi(),
        period.window_vi()
    );
    println!("Theo: {}", duties.name);
    println!();
    let header = [
        "Mã đơn vị",
        "Tên đơn vị",
        "Loại",
        "Biểu",
        "Gửi đến",
        "Hạn chót",
        "Ký số",
    ];
    let lines: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            let forms = if r.forms.is_empty() {
                "(không có nghĩa vụ)".to_owned()
            } else {
                r.forms.join(", ")
            };
            let forms = match r.aggregates {
                Some(n) => format!("{forms} (tổng hợp {n} đơn vị)"),
                None => forms,
            };
            [
                r.unit.clone(),
                r.name.clone(),
                r.kind.clone(),
                forms,
                r.systems.join(", "),
                r.deadline
                    .map(|d| d.format("%d/%m/%Y").to_string())
                    .unwrap_or_default(),
                if r.forms.is_empty() {
                    String::new()
                } else if r.signed {
                    "có".into()
                } else {
                    "không".into()
                },
            ]
        })
        .collect();
    let width = |i: usize| {
        lines
            .iter()
            .map(|l| l[i].chars().count())
            .chain(std::iter::once(header[i].chars().count()))
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..7).map(width).collect();
    let print = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    print(&header.map(str::to_owned));
    for l in &lines {
        print(l);
    }
    println!();
    for (id, s) in &duties.systems {
        println!("{id}: {} ({})", s.name, s.account);
    }
}
