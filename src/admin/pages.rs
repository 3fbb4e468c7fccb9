//! The status page in Vietnamese, server-rendered: the period with its deadlines and a countdown;
//! the grid of units (grouped by the unit tree) × (form × system) with one state per cell in
//! words and colour; the source's freshness; the chase list; a page per unit with its drafts,
//! attempts, what people did, audit lines, findings and figures — each figure a link to the
//! dossiers behind it — and a "Đồng bộ lại" button.
//!
//! Roll-up: a cell shows the unit's own report when its duty asks for the column; for a unit
//! without that duty whose subtree has such reports (a district's II.06a column, say), the worst
//! state among them (see `html::severity`), with how many reports it stands for.

use super::html::{severity, state_vi, url};
use super::templates;
use super::words;
use super::{AdminState, Authed, Reader, Shared, Who, session_cookie, view};
use crate::domain::{Instant, Period, PeriodKind};
use crate::forms::explain::{Cell, explain as explain_cell};
use crate::forms::{Row, Values};
use crate::store::MailStore;
use crate::store::{OutboxState, Store};
use crate::sync::{RunOptions, Scope, gate};
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Datelike;

pub(super) fn error_page(status: StatusCode, message: &str) -> Response {
    (status, Html(templates::error(message))).into_response()
}

/// A form the page did not send (no form content type, or fields it cannot read).
fn form_refused(e: &FormRejection) -> Response {
    tracing::warn!(error = %e, "a form was refused");
    error_page(
        e.status(),
        "Yêu cầu không gửi từ biểu mẫu của trang, hoặc biểu mẫu thiếu thông tin: tải lại trang \
         rồi thao tác lại",
    )
}

fn parse_period(text: &str) -> Result<Period, Response> {
    text.parse().map_err(|_: crate::domain::PeriodError| {
        error_page(StatusCode::NOT_FOUND, &words::period_error(text))
    })
}

#[derive(serde::Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

pub async fn login_form(Query(q): Query<LoginQuery>) -> Html<String> {
    Html(templates::login(
        None,
        q.next.as_deref().and_then(super::html::local_path),
    ))
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    /// An operator's token.
    #[serde(default)]
    token: String,
    /// A unit's viewer: name and password.
    name: Option<String>,
    password: Option<String>,
    /// The page asked for before signing in.
    next: Option<String>,
}

/// The viewer `name` if `password` is theirs (and they are not revoked).
async fn viewer_signs_in(state: &AdminState, name: &str, password: &str) -> Option<Who> {
    use crate::store::Store;
    let viewer = state.engine.store.viewer(name).await.ok().flatten()?;
    let hash = viewer
        .password_hash
        .filter(|_| viewer.revoked_at.is_none())?;
    crate::auth::receiver::verify_password(&secrecy::SecretString::from(password.to_owned()), &hash)
        .then_some(Who::Viewer {
            name: viewer.name,
            unit: viewer.unit,
        })
}

/// A signed-in session's answer: the cookie, and where to go.
fn signed_in(state: &AdminState, id: &secrecy::SecretString, location: String) -> Response {
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, session_cookie(state, id)),
            (header::LOCATION, location),
        ],
    )
        .into_response()
}

pub async fn login(
    State(state): State<Shared>,
    parts: axum::http::request::Parts,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) => form,
        Err(e) => return form_refused(&e),
    };
    let address = super::client_address(&state, &parts);
    let counted = match super::sign_in_gate(&state, address).await {
        Ok(counted) => counted,
        Err(wait) => return super::throttled(wait, false),
    };
    let name = form
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let who = match name {
        Some(name) => viewer_signs_in(&state, name, form.password.as_deref().unwrap_or("")).await,
        None => state
            .operators
            .as_ref()
            .and_then(|o| o.verify(&form.token))
            .map(Who::Operator),
    };
    let Some(who) = who else {
        super::sign_in_failed(&state, address, "login form").await;
        return (
            StatusCode::UNAUTHORIZED,
            Html(templates::login(
                Some("Mã truy cập, tên đăng nhập hoặc mật khẩu không đúng."),
                form.next.as_deref().and_then(super::html::local_path),
            )),
        )
            .into_response();
    };
    super::sign_in_succeeded(&state, address, counted).await;
    match &who {
        Who::Operator(o) => tracing::info!(operator = %o.name, %address, "operator signed in"),
        Who::Viewer { name, unit } => {
            tracing::info!(viewer = %name, unit = %unit, %address, "viewer signed in")
        }
    }
    let (id, _csrf) = match super::open_session(&state, &who).await {
        Ok(opened) => opened,
        Err(e) => {
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                &words::sync_error(&e.into()),
            );
        }
    };
    let next = form.next.as_deref().and_then(super::html::local_path);
    signed_in(&state, &id, next.unwrap_or("/").to_owned())
}

pub async fn logout(
    _who: Reader,
    State(state): State<Shared>,
    headers: axum::http::HeaderMap,
) -> Response {
    use crate::store::Store;
    if let Some(id) = super::cookie(&headers, super::COOKIE) {
        let closed = state
            .engine
            .store
            .close_session(&crate::auth::operators::session_key(&id))
            .await;
        if let Err(e) = closed {
            tracing::error!(error = %e, "a session could not be closed");
        }
    }
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                format!(
                    "{}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0",
                    super::COOKIE
                ),
            ),
            (header::LOCATION, "/login".to_owned()),
        ],
    )
        .into_response()
}

/// The period the operator most likely wants: the latest the schedule works on, else the last
/// quarter that has ended.
pub fn current_period(state: &AdminState) -> Period {
    let engine = &state.engine;
    let now = engine.clock.now();
    if let Ok(s) = crate::scheduler::Schedule::new(&engine.settings.schedule, &engine.parts.duties)
        && let Some(p) = s.active_periods(now).into_iter().max_by_key(|p| p.last_day)
    {
        return p;
    }
    let today = now.to_local().date();
    (today.year() - 1..=today.year())
        .flat_map(|y| (1..=4).filter_map(move |q| Period::new(y, PeriodKind::Quarter(q))))
        .filter(|p| p.last_day < today)
        .max_by_key(|p| p.last_day)
        .expect("some quarter has ended")
}

pub async fn home(who: Reader, State(state): State<Shared>) -> Redirect {
    let period = current_period(&state).id();
    match &who.who {
        Who::Operator(_) => Redirect::to(&format!("/periods/{period}")),
        Who::Viewer { unit, .. } => Redirect::to(&format!("/periods/{period}/units/{}", url(unit))),
    }
}

/// The period of a unit's page, if `who` may read that unit.
fn readable(
    who: &Reader,
    state: &AdminState,
    period: &str,
    unit: &str,
) -> Result<Period, Response> {
    let period = parse_period(period)?;
    if !who.may_read(&state.engine.parts.units, unit) {
        return Err(not_yours());
    }
    Ok(period)
}

/// A viewer asking for a unit outside theirs.
fn not_yours() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "Tài khoản của cán bộ đơn vị chỉ xem được số liệu của đơn vị mình và các đơn vị trực thuộc",
    )
}

#[derive(serde::Deserialize, Default)]
pub struct GridQuery {
    /// Only units of this kind.
    kind: Option<String>,
    /// Only rows with a cell in this colour class (`s-bad`, `s-wait`, …).
    state: Option<String>,
    /// Only units whose name or code holds this (accents and case ignored).
    q: Option<String>,
}

pub async fn grid(
    who: Authed,
    State(state): State<Shared>,
    Path(period): Path<String>,
    Query(q): Query<GridQuery>,
) -> Response {
    let period = match parse_period(&period) {
        Ok(p) => p,
        Err(r) => return r,
    };
    match grid_page(&state, &who, &period, &q).await {
        Ok(html) => Html(html).into_response(),
        Err(e) => error_page(StatusCode::BAD_REQUEST, &words::sync_error(&e)),
    }
}

async fn grid_page(
    state: &AdminState,
    who: &Authed,
    period: &Period,
    q: &GridQuery,
) -> Result<String, crate::sync::SyncError> {
    use templates::grid::{Cell, Chase, Deadline, Filters, Grid, Needing, Row, Source, Summary};
    let engine = &state.engine;
    let units = &engine.parts.units;
    let duties = &engine.parts.duties;
    let columns = view::columns(engine, period)?;
    let rows = view::rows(engine, period).await?;
    let now = engine.clock.now();
    let ended = now >= gate::settle_instant(period, engine.settings.gate.settle_hours);
    // Deadlines and countdown, by the duties.
    let deadlines = duties
        .duties
        .iter()
        .map(|d| {
            let date = d.deadline(period);
            Deadline {
                kind: crate::render::kind_label_vi(&d.kind).to_owned(),
                forms: d.forms.join(", "),
                date,
                countdown: super::html::countdown(date, now),
            }
        })
        .collect();
    // What the freshness gate sees.
    let setup = engine.setup();
    let regime = setup.regime(period)?;
    let kinds = setup.record_kinds(regime);
    let needed = gate::settle_instant(period, engine.settings.gate.settle_hours);
    let sources = engine
        .freshness(&kinds, Some(needed))
        .await?
        .into_iter()
        .map(|f| Source {
            kind: match f.kind {
                crate::domain::RecordKind::Dossier => "Hồ sơ",
                crate::domain::RecordKind::Rating => "Đánh giá hài lòng",
                crate::domain::RecordKind::Feedback => "Phản ánh, kiến nghị",
            },
            covered_to: f.covered_to,
            latest: f
                .latest
                .as_ref()
                .map(|(at, ok, why)| (*at, (!ok).then(|| words::pull_failure(why)))),
            open_unread: (f.protocol.looks_up_open_dossiers()
                && f.kind == crate::domain::RecordKind::Dossier)
                .then_some(f.open_unread),
            source: f.source,
        })
        .collect();
    // Filters.
    let mut kinds_listed: Vec<&str> = duties.duties.iter().map(|d| d.kind.as_str()).collect();
    for id in units.ids() {
        let k = units.get(id).kind.as_str();
        if !kinds_listed.contains(&k) {
            kinds_listed.push(k);
        }
    }
    let wanted =
        q.q.as_deref()
            .map(crate::catalog::fold)
            .filter(|w| !w.is_empty());
    // The answer first: per column, the own reports by kind of state; the reports that need
    // someone.
    let mut tally: Vec<std::collections::BTreeMap<&'static str, usize>> =
        vec![Default::default(); columns.len()];
    let mut needing = Vec::new();
    let mut shown = Vec::new();
    // Units in tree order; within a parent, kinds in the order the duties list them.
    let kind_rank = |k: &str| {
        kinds_listed
            .iter()
            .position(|x| *x == k)
            .unwrap_or(usize::MAX)
    };
    let mut order = Vec::new();
    let mut stack = vec![units.root()];
    while let Some(id) = stack.pop() {
        order.push(id);
        let mut children = units.children(id).to_vec();
        children.sort_by(|&a, &b| {
            let (ua, ub) = (units.get(a), units.get(b));
            (kind_rank(&ua.kind), &ua.code).cmp(&(kind_rank(&ub.kind), &ub.code))
        });
        stack.extend(children.into_iter().rev());
    }
    for id in order {
        let unit = units.get(id);
        let duty = duties.of_kind(&unit.kind);
        let mut cells = Vec::new();
        for (i, (form, system)) in columns.iter().enumerate() {
            let own = duty.is_some_and(|d| {
                d.systems.contains(system)
                    && d.forms
                        .iter()
                        .any(|f| regime.form(f).is_ok_and(|x| x.code == *form))
            });
            let cell = if !ended && own {
                Cell {
                    words: "Chưa hết kỳ".into(),
                    class: "s-none",
                }
            } else if own {
                match rows.get(&(unit.code.clone(), form.clone(), system.clone())) {
                    Some(r) => {
                        let (w, c) = state_vi(r.state);
                        Cell {
                            words: w.to_owned(),
                            class: c,
                        }
                    }
                    None => Cell {
                        words: "Chưa có dữ liệu".into(),
                        class: "s-none",
                    },
                }
            } else {
                // Roll-up over the subtree's reports of this column.
                let states: Vec<OutboxState> = units
                    .subtree(id)
                    .filter(|&m| m != id)
                    .filter_map(|m| {
                        rows.get(&(units.get(m).code.clone(), form.clone(), system.clone()))
                    })
                    .map(|r| r.state)
                    .collect();
                match states.iter().max_by_key(|s| severity(**s)) {
                    Some(worst) => {
                        let (w, c) = state_vi(*worst);
                        Cell {
                            words: format!("↳ {w} ({} báo cáo)", states.len()),
                            class: c,
                        }
                    }
                    None => Cell {
                        words: "Không phải nộp".into(),
                        class: "s-none",
                    },
                }
            };
            if own {
                *tally[i].entry(cell.class).or_default() += 1;
                if cell.class == "s-bad" {
                    needing.push(Needing {
                        unit: &unit.code,
                        name: &unit.name,
                        form,
                        system,
                        words: cell.words.clone(),
                    });
                }
            }
            cells.push(cell);
        }
        // Filters choose the rows shown; the summary above counts every report.
        if q.kind
            .as_deref()
            .is_some_and(|k| !k.is_empty() && k != unit.kind)
        {
            continue;
        }
        if let Some(wanted) = q.state.as_deref().filter(|s| !s.is_empty())
            && !cells.iter().any(|c| c.class == wanted)
        {
            continue;
        }
        if let Some(w) = &wanted
            && !crate::catalog::fold(&unit.name).contains(w.as_str())
            && !crate::catalog::fold(&unit.code).contains(w.as_str())
        {
            continue;
        }
        shown.push(Row {
            code: &unit.code,
            name: &unit.name,
            kind: crate::render::kind_label_vi(&unit.kind),
            depth: units.depth(id),
            cells,
        });
    }
    let summary = columns
        .iter()
        .zip(&tally)
        .map(|((form, system), t)| {
            let total: usize = t.values().sum();
            let n = |class: &str| t.get(class).copied().unwrap_or(0);
            let mut words = format!("đã có bản nháp {}/{total}", n("s-good"));
            for (class, said) in [
                ("s-bad", "cần xử lý"),
                ("s-wait", "đang chờ"),
                ("s-info", "cán bộ đã thao tác"),
                ("s-none", "không có số liệu hoặc chưa có"),
            ] {
                if n(class) > 0 {
                    words.push_str(&format!(", {said} {}", n(class)));
                }
            }
            Summary {
                form,
                system,
                total,
                good: n("s-good"),
                bad: n("s-bad"),
                words,
            }
        })
        .collect();
    let chase = chase_list(state).await?;
    let chase = chase
        .iter()
        .map(|(id, system, problem)| {
            let unit = units.get(*id);
            Chase {
                name: &unit.name,
                code: &unit.code,
                system,
                problem,
            }
        })
        .collect();
    Ok(templates::grid::render(&Grid {
        period: period.id(),
        label: period.label_vi(),
        window: period.window_vi(),
        operator: &who.operator.name,
        now,
        summary,
        needing,
        deadlines,
        needed,
        sources,
        filters: Filters {
            q: q.q.as_deref().unwrap_or(""),
            kind: q.kind.as_deref(),
            state: q.state.as_deref(),
            kinds: kinds_listed
                .iter()
                .map(|k| (*k, crate::render::kind_label_vi(k)))
                .collect(),
        },
        columns: &columns,
        rows: shown,
        chase,
        mail: templates::mail::period_section(
            &engine.store.messages(Some(&period.id()), None, 500).await?,
        ),
    }))
}

/// Units that must file but have no login in a system, or whose login fails: the unit, the
/// system, the problem in words.
async fn chase_list(
    state: &AdminState,
) -> Result<Vec<(usize, String, &'static str)>, crate::sync::SyncError> {
    let engine = &state.engine;
    let units = &engine.parts.units;
    let sealed = engine.store.credentials().await?;
    let failing: std::collections::HashSet<(String, String)> = engine
        .store
        .outbox(&Default::default())
        .await?
        .into_iter()
        .filter(|r| r.state == OutboxState::LoginFailed)
        .map(|r| (r.report.unit, r.report.system))
        .collect();
    let mut lines = Vec::new();
    for id in units.subtree(units.root()) {
        let unit = units.get(id);
        let Some(duty) = engine.parts.duties.of_kind(&unit.kind) else {
            continue;
        };
        for system in &duty.systems {
            let has = sealed
                .iter()
                .any(|s| s.system.as_str() == system && s.unit == unit.code);
            let problem = if !has {
                Some("chưa có tài khoản")
            } else if failing.contains(&(unit.code.clone(), system.clone())) {
                Some("đăng nhập không được")
            } else {
                None
            };
            if let Some(p) = problem {
                lines.push((id, system.clone(), p));
            }
        }
    }
    Ok(lines)
}

/// A table of computed figures, each a link to the dossiers behind it; columns headed by the
/// form definition's names.
fn figures_table(
    period: &Period,
    unit: &str,
    (form, heading): (&str, String),
    def: Option<&crate::forms::FormDef>,
    rows: &[(String, String, &Values)],
) -> templates::unit::Figures {
    let columns: Vec<(String, String)> = rows
        .first()
        .map(|(_, _, first)| {
            first
                .columns()
                .map(|(c, _)| {
                    (
                        c.to_string(),
                        def.map(|d| d.full_header(c)).unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let link = |key: &str, c: u32| {
        format!(
            "{}/explain?form={}&row={}&column={c}",
            templates::unit_link(&period.id(), unit),
            url(form),
            url(key)
        )
    };
    templates::unit::Figures {
        heading,
        class: "figures",
        form: form.to_owned(),
        text: None,
        columns,
        rows: rows
            .iter()
            .map(|(key, label, values)| templates::unit::FigureRow {
                key: key.clone(),
                label: label.clone(),
                values: values
                    .columns()
                    .map(|(c, v)| (v, Some(link(key, c))))
                    .collect(),
            })
            .collect(),
    }
}

#[derive(serde::Deserialize)]
pub struct UnitQuery {
    /// When "Đồng bộ lại" ended (Unix seconds), to confirm it on the page it comes back to.
    synced: Option<i64>,
}

pub async fn unit(
    who: Reader,
    State(state): State<Shared>,
    Path((period, unit)): Path<(String, String)>,
    Query(q): Query<UnitQuery>,
) -> Response {
    let period = match readable(&who, &state, &period, &unit) {
        Ok(p) => p,
        Err(r) => return r,
    };
    match unit_page(&state, &who, &period, &unit, q.synced.map(Instant)).await {
        Ok(Some(html)) => Html(html).into_response(),
        Ok(None) => error_page(StatusCode::NOT_FOUND, &format!("Không có đơn vị {unit}")),
        Err(e) => error_page(StatusCode::BAD_REQUEST, &words::sync_error(&e)),
    }
}

async fn unit_page(
    state: &AdminState,
    who: &Reader,
    period: &Period,
    code: &str,
    synced: Option<Instant>,
) -> Result<Option<String>, crate::sync::SyncError> {
    use templates::unit::{FigureRow, Figures};
    let engine = &state.engine;
    let units = &engine.parts.units;
    let Some(id) = units.find(code) else {
        return Ok(None);
    };
    let unit = units.get(id);
    let operator_csrf = match (&who.who, &who.csrf) {
        (Who::Operator(_), Some(csrf)) => Some(csrf.as_str()),
        _ => None,
    };
    // Drafts: each one's state, versions, attempts.
    let rows = view::rows(engine, period).await?;
    let mut mine: Vec<_> = rows.values().filter(|r| r.report.unit == code).collect();
    mine.sort_by(|a, b| {
        (&a.report.form, &a.report.system).cmp(&(&b.report.form, &b.report.system))
    });
    let mut drafts = Vec::new();
    for r in mine {
        let attempts = match r.id {
            Some(id) => engine.store.attempts(id).await?,
            None => Vec::new(),
        };
        drafts.push((r, attempts));
    }
    // Figures, each a link to its dossiers.
    let tables = state.view.tables(engine, period).await?;
    let regime = engine.setup().regime(period)?;
    let mut figures = Vec::new();
    if let Some(r) = tables.computed.per_unit.iter().find(|r| r.unit == code) {
        let mut rows: Vec<(String, String, &Values)> = r
            .rows
            .iter()
            .map(|row: &Row| (row.key.clone(), row.label.clone(), &row.values))
            .collect();
        rows.push(("_total".into(), "Tổng số".into(), &r.total));
        let heading = "Số liệu Biểu II.06a của đơn vị".to_owned();
        let def = regime.form("II.06a").ok();
        figures.push(figures_table(period, code, ("II.06a", heading), def, &rows));
    }
    if let Some(a) = tables.computed.aggregates.iter().find(|r| r.unit == code) {
        let mut rows: Vec<(String, String, &Values)> = Vec::new();
        for s in &a.sections {
            for row in &s.rows {
                rows.push((
                    format!("{}/{}", s.kind, row.key),
                    format!("{} — {}", crate::render::kind_label_vi(&s.kind), row.label),
                    &row.values,
                ));
            }
            rows.push((
                format!("{}/_subtotal", s.kind),
                format!("Cộng {}", crate::render::kind_label_vi(&s.kind)),
                &s.subtotal,
            ));
        }
        rows.push(("_total".into(), "Tổng số".into(), &a.total));
        let heading = "Số liệu Biểu II.06 (tổng hợp)".to_owned();
        let def = regime.form("II.06").ok();
        figures.push(figures_table(period, code, ("II.06", heading), def, &rows));
    }
    // Satisfaction: the unit's own ratings, and over its subtree when it aggregates.
    let (own, subtree) = &tables.satisfaction;
    let satisfaction = [
        ("Của đơn vị", own.iter().find(|r| r.unit == code)),
        (
            "Toàn bộ đơn vị và các đơn vị trực thuộc",
            subtree.iter().find(|r| r.unit == code),
        ),
    ]
    .into_iter()
    .filter_map(|(what, r)| r.map(|r| (what, r)))
    .collect();
    // The unit's documents, as officials open them.
    let mut downloads = Vec::new();
    if tables.computed.per_unit.iter().any(|r| r.unit == code) {
        downloads.push(("II.06a", "xlsx", "Excel"));
    }
    if tables.computed.aggregates.iter().any(|r| r.unit == code) {
        downloads.push(("II.06", "xlsx", "Excel"));
    }
    if rows
        .values()
        .any(|r| r.report.unit == code && r.report.form == "II.01-ĐC" && r.draft.is_some())
    {
        downloads.push(("II.01-ĐC", "docx", "Word"));
    }
    // The other forms' figures, as their drafts hold them (one per form: every system gets the
    // same content).
    let mut shown: Vec<&str> = vec!["II.06a", "II.06"];
    for r in rows.values().filter(|r| r.report.unit == code) {
        let form = r.report.form.as_str();
        let Some(draft) = r.draft.as_ref().filter(|_| !shown.contains(&form)) else {
            continue;
        };
        shown.push(form);
        let def = regime.form(form).ok();
        // Columns in numeric order ("10" after "9"), as the forms print them.
        let mut columns: Vec<&String> = draft
            .rows
            .first()
            .map(|row| row.values.keys().collect())
            .unwrap_or_default();
        columns.sort_by_key(|c| (c.parse::<u32>().unwrap_or(u32::MAX), c.as_str()));
        figures.push(Figures {
            heading: format!("Số liệu Biểu {form} (bản nháp đã gửi)"),
            class: "draft",
            form: form.to_owned(),
            text: draft.text.clone(),
            columns: columns
                .iter()
                .map(|c| {
                    let name = c
                        .parse()
                        .ok()
                        .and_then(|n| def.map(|d| d.full_header(n)))
                        .unwrap_or_default();
                    ((*c).clone(), name)
                })
                .collect(),
            rows: draft
                .rows
                .iter()
                .map(|row| FigureRow {
                    key: row.key.clone(),
                    label: row.label.clone(),
                    values: columns
                        .iter()
                        .map(|c| (row.values.get(*c).copied().unwrap_or(0), None))
                        .collect(),
                })
                .collect(),
        });
    }
    // Findings about the unit's records.
    let findings = tables
        .computed
        .findings
        .iter()
        .filter(|f| f.unit.as_deref() == Some(code))
        .collect();
    // Who may read this unit's figures: its officials' accesses (operators manage them).
    let viewers = match operator_csrf {
        Some(csrf) => Some(viewers_section(state, period, code, csrf).await?),
        None => None,
    };
    // A viewer's look is noted, so the operator sees who looked.
    if let Who::Viewer { .. } = &who.who {
        let seen = crate::store::AuditEntry {
            at: Some(engine.clock.now()),
            actor: who.actor(),
            action: "viewer_visit".to_owned(),
            period: Some(period.id()),
            unit: Some(unit.code.clone()),
            reason: "Xem trang số liệu của đơn vị".to_owned(),
            ..Default::default()
        };
        engine.store.append_audit(&[seen]).await?;
    }
    // Its e-mail: contacts (the operator stops or restarts each) and what was sent to it.
    let opted_out: std::collections::HashSet<String> = engine
        .store
        .opt_outs()
        .await?
        .into_iter()
        .filter(|o| o.unit == unit.code)
        .map(|o| o.address)
        .collect();
    let contacts: Vec<(&str, bool)> = unit
        .contacts
        .iter()
        .map(|a| (a.as_str(), opted_out.contains(a)))
        .collect();
    let mail = templates::mail::unit_section(
        &format!("{}/mail", templates::unit_link(&period.id(), &unit.code)),
        &contacts,
        &engine
            .store
            .messages(Some(&period.id()), Some(&unit.code), 100)
            .await?,
        operator_csrf,
    );
    // The audit's lines about the unit.
    let audit = engine
        .store
        .audit(Some(&period.id()), Some(&unit.code), 30)
        .await?;
    Ok(Some(templates::unit::render(&templates::unit::Unit {
        period: period.id(),
        label: period.label_vi(),
        window: period.window_vi(),
        code: &unit.code,
        name: &unit.name,
        kind: crate::render::kind_label_vi(&unit.kind),
        synced: synced.map(words::synced),
        resync: operator_csrf,
        drafts,
        figures,
        satisfaction,
        downloads,
        findings,
        viewers,
        mail,
        audit,
    })))
}

/// A file to download.
fn attachment(content_type: &str, name: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// The period's guidance letter (công văn hướng dẫn), as `letter guidance` writes it.
pub async fn guidance_letter(
    _who: Authed,
    State(state): State<Shared>,
    Path(period): Path<String>,
) -> Response {
    let texts = crate::render::texts::DocumentTexts::builtin();
    letter_download(&period, "cong-van-huong-dan", |period| async move {
        state.engine.guidance_letter(&period, &texts.letters)
    })
    .await
}

/// The period's chase letter (công văn đôn đốc): the reports' states read now from the reporting
/// systems, as `letter chase` writes it.
pub async fn chase_letter(
    _who: Authed,
    State(state): State<Shared>,
    Path(period): Path<String>,
) -> Response {
    let texts = crate::render::texts::DocumentTexts::builtin();
    letter_download(&period, "cong-van-don-doc", |period| async move {
        state
            .engine
            .chase_letter(&period, None, &texts.letters)
            .await
    })
    .await
}

/// A letter of the period as a Word download, or why there is none.
async fn letter_download<F, Fut>(period: &str, name: &str, make: F) -> Response
where
    F: FnOnce(Period) -> Fut,
    Fut: std::future::Future<Output = Result<crate::letters::Letter, crate::sync::SyncError>>,
{
    let period = match parse_period(period) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let id = period.id();
    let made = make(period).await.and_then(|letter| {
        crate::render::letter::docx(&letter)
            .map_err(|e| crate::sync::SyncError::Internal(e.to_string()))
    });
    match made {
        Ok(bytes) => attachment(DOCX.0, &format!("{name}-{id}.docx"), bytes),
        Err(e) => error_page(StatusCode::BAD_REQUEST, &words::sync_error(&e)),
    }
}

/// A unit code as part of a file name.
fn file_safe(unit: &str) -> String {
    unit.replace(|c: char| !c.is_ascii_alphanumeric() && c != '.', "_")
}

/// A unit's II.01-ĐC as the DOCX `report --format docx` writes, computed from the store now.
async fn narrative_docx(
    state: &AdminState,
    period: &Period,
    unit: &str,
) -> Result<Option<Vec<u8>>, crate::sync::SyncError> {
    let engine = &state.engine;
    let setup = engine.setup();
    let regime = setup.regime(period)?;
    let precedence = crate::sync::records::Precedence::of(&engine.parts.sources);
    let mut loaded = crate::sync::records::Loaded::from_store(
        &engine.store,
        None,
        &precedence,
        Some(crate::sync::records::reading_for(period)),
    )
    .await?;
    let (narratives, _) = crate::sync::compute::narratives(&setup, regime, &mut loaded, period)?;
    let Some(n) = narratives.iter().find(|n| n.unit == unit) else {
        return Ok(None);
    };
    let texts = crate::render::texts::DocumentTexts::builtin();
    let unit_texts = crate::render::narrative::unit_texts(&engine.parts.units, &texts, unit);
    crate::render::narrative::docx(n, &unit_texts)
        .map(Some)
        .map_err(|e| crate::sync::SyncError::Internal(e.to_string()))
}

/// A unit's II.06a (or its II.06) as the XLSX `report` writes, computed from the store now.
pub async fn document(
    who: Reader,
    State(state): State<Shared>,
    Path((period, unit, file)): Path<(String, String, String)>,
) -> Response {
    let period = match readable(&who, &state, &period, &unit) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if file == "II.01-ĐC.docx" {
        let made = narrative_docx(&state, &period, &unit).await;
        return downloaded(made, "II.01-ĐC", &period, &unit, DOCX);
    }
    let Some(form) = file.strip_suffix(".xlsx") else {
        return error_page(
            StatusCode::NOT_FOUND,
            "Chỉ có tệp Excel (.xlsx) của II.06a, II.06 và tệp Word (.docx) của II.01-ĐC",
        );
    };
    let engine = &state.engine;
    let made = async {
        let tables = state.view.tables(engine, &period).await?;
        let regime = engine.setup().regime(&period)?;
        let def = regime
            .form(form)
            .map_err(|e| crate::sync::SyncError::Config(e.to_string()))?;
        let units = &engine.parts.units;
        let id = units
            .find(&unit)
            .ok_or_else(|| crate::sync::SyncError::Config(format!("unknown unit {unit}")))?;
        let subtree: std::collections::HashSet<&str> = units
            .subtree(id)
            .map(|u| units.get(u).code.as_str())
            .collect();
        let per_unit: Vec<_> = tables
            .computed
            .per_unit
            .iter()
            .filter(|r| match def.layout {
                crate::forms::Layout::Aggregate => subtree.contains(r.unit.as_str()),
                _ => r.unit == unit,
            })
            .cloned()
            .collect();
        let aggregates: Vec<_> = tables
            .computed
            .aggregates
            .iter()
            .filter(|r| r.unit == unit)
            .cloned()
            .collect();
        let findings: Vec<_> = tables
            .computed
            .findings
            .iter()
            .filter(|f| f.unit.as_deref().is_some_and(|u| subtree.contains(u)))
            .cloned()
            .collect();
        let reports = match def.layout {
            crate::forms::Layout::PerUnit if !per_unit.is_empty() => {
                crate::render::Reports::PerUnit(&per_unit)
            }
            crate::forms::Layout::Aggregate if !aggregates.is_empty() => {
                crate::render::Reports::Aggregate(&aggregates, &per_unit)
            }
            _ => return Ok(None),
        };
        let texts = crate::render::texts::DocumentTexts::builtin();
        let doc = crate::render::Document {
            form: def,
            regime: &regime.info,
            period: &period,
            units,
            reports,
            findings: &findings,
            texts: &texts,
        };
        let mut bytes = Vec::new();
        crate::render::write(&doc, crate::render::OutputFormat::Xlsx, &mut bytes)
            .map_err(|e| crate::sync::SyncError::Internal(e.to_string()))?;
        Ok::<_, crate::sync::SyncError>(Some(bytes))
    }
    .await;
    downloaded(made, form, &period, &unit, XLSX)
}

const XLSX: (&str, &str) = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "xlsx",
);
const DOCX: (&str, &str) = (
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "docx",
);

/// A unit's document to download, or why there is none.
fn downloaded(
    made: Result<Option<Vec<u8>>, crate::sync::SyncError>,
    form: &str,
    period: &Period,
    unit: &str,
    (content_type, extension): (&str, &str),
) -> Response {
    match made {
        Ok(Some(bytes)) => attachment(
            content_type,
            &format!(
                "{}-{}-{}.{extension}",
                form.replace('Đ', "D"),
                period.id(),
                file_safe(unit)
            ),
            bytes,
        ),
        Ok(None) => error_page(
            StatusCode::NOT_FOUND,
            &format!("Đơn vị {unit} không có Biểu {form} trong kỳ này"),
        ),
        Err(e) => error_page(StatusCode::BAD_REQUEST, &words::sync_error(&e)),
    }
}

#[derive(serde::Deserialize)]
pub struct ExplainQuery {
    form: String,
    row: String,
    column: u32,
}

pub async fn explain(
    who: Reader,
    State(state): State<Shared>,
    Path((period, unit)): Path<(String, String)>,
    Query(q): Query<ExplainQuery>,
) -> Response {
    let period = match readable(&who, &state, &period, &unit) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let engine = &state.engine;
    let result = async {
        let tables = state.view.tables(engine, &period).await?;
        let regime = engine.setup().regime(&period)?;
        let def = regime
            .form(&q.form)
            .map_err(|e| crate::sync::SyncError::Config(e.to_string()))?;
        let explained = explain_cell(
            regime,
            def,
            crate::forms::explain::Ordered {
                dossiers: &tables.dossiers,
                order: tables.order.as_deref(),
            },
            &engine.parts.units,
            &period,
            crate::forms::aggregate::Aggregation::ByKind(&tables.aggregation_rules),
            &Cell {
                unit: unit.clone(),
                row: q.row.clone(),
                column: q.column,
            },
        )
        .map_err(|e| crate::sync::SyncError::Config(e.to_string()))?;
        // Field names as the unit's figures print them.
        let labels: std::collections::HashMap<String, String> = tables
            .computed
            .per_unit
            .iter()
            .flat_map(|r| r.rows.iter())
            .map(|row| (row.key.clone(), row.label.clone()))
            .collect();
        Ok::<_, crate::sync::SyncError>((explained, labels))
    }
    .await;
    let (e, labels) = match result {
        Ok(e) => e,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &words::sync_error(&e)),
    };
    let units = &engine.parts.units;
    let unit_name = |code: &str| {
        units
            .find(code)
            .map_or_else(|| code.to_owned(), |id| units.get(id).name.clone())
    };
    let field_name = |key: &str| labels.get(key).cloned().unwrap_or_else(|| key.to_owned());
    let row_name = match e.row.split_once('/') {
        _ if e.row == "_total" => "Tổng số".to_owned(),
        Some((kind, "_subtotal")) => format!("Cộng {}", crate::render::kind_label_vi(kind)),
        Some((kind, field)) => format!(
            "{} — {}",
            crate::render::kind_label_vi(kind),
            field_name(field)
        ),
        None => field_name(&e.row),
    };
    let explained = templates::explain::Explain {
        back: templates::unit_link(&period.id(), &unit),
        form: &e.form,
        unit: &e.unit,
        unit_name: unit_name(&e.unit),
        row: row_name,
        column: e.column,
        header: &e.header,
        figure: e.figure,
        counted: e
            .counted
            .iter()
            .map(|d| {
                [
                    d.record.clone(),
                    unit_name(&d.unit),
                    field_name(&d.field),
                    d.reason.clone(),
                ]
            })
            .collect(),
        left_out: e
            .left_out
            .iter()
            .map(|d| [d.record.clone(), field_name(&d.field), d.reason.clone()])
            .collect(),
    };
    Html(templates::explain::render(&explained)).into_response()
}

/// The unit's viewers, each with a button that revokes them, and the form that gives an official
/// a one-time link.
async fn viewers_section(
    state: &AdminState,
    period: &Period,
    code: &str,
    csrf: &str,
) -> Result<maud::Markup, crate::sync::SyncError> {
    let viewers: Vec<_> = state
        .engine
        .store
        .viewers()
        .await?
        .into_iter()
        .filter(|v| v.unit == code && v.revoked_at.is_none())
        .collect();
    let base = format!("{}/viewers", templates::unit_link(&period.id(), code));
    let listed: Vec<templates::viewers::Viewer> = viewers
        .iter()
        .map(|v| templates::viewers::Viewer {
            name: &v.name,
            has_password: v.password_hash.is_some(),
        })
        .collect();
    Ok(templates::viewers::section(&base, &listed, csrf))
}

#[derive(serde::Deserialize)]
pub struct ViewerForm {
    csrf: Option<String>,
    name: String,
}

/// Gives an official of the unit a one-time link that sets their password (valid
/// `VIEWER_LINK_HOURS`); the page shows the link once.
pub async fn issue_viewer(
    who: Authed,
    State(state): State<Shared>,
    headers: axum::http::HeaderMap,
    Path((period, unit)): Path<(String, String)>,
    form: Result<Form<ViewerForm>, FormRejection>,
) -> Response {
    let form = match checked(&who, form) {
        Ok(form) => form,
        Err(r) => return r,
    };
    let name = form.name.trim();
    if !crate::auth::viewers::valid_name(name) {
        return error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Tên đăng nhập chỉ gồm chữ, số và các dấu . _ - @ (tối đa 64 ký tự)",
        );
    }
    if state.engine.parts.units.find(&unit).is_none() {
        return error_page(StatusCode::NOT_FOUND, &format!("Không có đơn vị {unit}"));
    }
    let issued = crate::auth::viewers::issue(
        &state.engine.store,
        name,
        &unit,
        &who.operator.actor(),
        state.engine.clock.now(),
        super::VIEWER_LINK_HOURS,
    )
    .await;
    match issued {
        Ok(token) => {
            let link = crate::auth::viewers::link_path(&token);
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            Html(templates::viewers::issued(
                name,
                super::VIEWER_LINK_HOURS,
                &format!("http://{host}{link}"),
                &templates::unit_link(&period, &unit),
            ))
            .into_response()
        }
        Err(e) => error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            &words::sync_error(&e.into()),
        ),
    }
}

#[derive(serde::Deserialize)]
pub struct OptOutForm {
    csrf: Option<String>,
    address: String,
    /// `1`: stop sending to the address; `0`: start again.
    out: String,
}

/// Stops (or restarts) e-mail to one of the unit's contacts; audited.
pub async fn opt_out(
    who: Authed,
    State(state): State<Shared>,
    Path((period, unit)): Path<(String, String)>,
    form: Result<Form<OptOutForm>, FormRejection>,
) -> Response {
    let form = match checked(&who, form) {
        Ok(form) => form,
        Err(r) => return r,
    };
    let engine = &state.engine;
    match engine
        .set_opt_out(
            &unit,
            form.address.trim(),
            form.out == "1",
            &who.operator.actor(),
        )
        .await
    {
        Ok(()) => Redirect::to(&format!(
            "/periods/{}/units/{}#mail",
            url(&period),
            url(&unit)
        ))
        .into_response(),
        Err(crate::sync::SyncError::Config(_)) => error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Địa chỉ này không phải địa chỉ nhận thư của đơn vị",
        ),
        Err(e) => error_page(StatusCode::SERVICE_UNAVAILABLE, &words::sync_error(&e)),
    }
}

/// Revokes a viewer: no sign-in from now on, their sessions closed.
pub async fn revoke_viewer(
    who: Authed,
    State(state): State<Shared>,
    Path((period, unit, name)): Path<(String, String, String)>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    if let Err(r) = checked(&who, form) {
        return r;
    }
    let revoked = crate::auth::viewers::revoke(
        &state.engine.store,
        &name,
        &who.operator.actor(),
        state.engine.clock.now(),
    )
    .await;
    match revoked {
        Ok(_) => {
            Redirect::to(&format!("/periods/{}/units/{}", url(&period), url(&unit))).into_response()
        }
        Err(e) => error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            &words::sync_error(&e.into()),
        ),
    }
}

/// The page a one-time link opens: the official sets a password.
pub async fn welcome_form(Path(token): Path<String>) -> Html<String> {
    Html(templates::viewers::welcome(&token))
}

#[derive(serde::Deserialize)]
pub struct WelcomeForm {
    password: String,
    again: String,
}

/// Uses a one-time link: sets the password (argon2), signs the official in, and opens their unit.
pub async fn welcome(
    State(state): State<Shared>,
    Path(token): Path<String>,
    form: Result<Form<WelcomeForm>, FormRejection>,
) -> Response {
    use crate::store::Store;
    let form = match form {
        Ok(Form(form)) => form,
        Err(e) => return form_refused(&e),
    };
    if form.password.chars().count() < 10 || form.password != form.again {
        return error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Mật khẩu phải có ít nhất 10 ký tự và hai lần nhập phải giống nhau",
        );
    }
    let hash =
        match crate::auth::receiver::hash_password(&secrecy::SecretString::from(form.password)) {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "a password could not be hashed");
                return error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Không đặt được mật khẩu; thử lại sau",
                );
            }
        };
    let redeemed = state
        .engine
        .store
        .redeem_viewer_link(
            &crate::auth::viewers::link_key(&token),
            &hash,
            state.engine.clock.now().0,
        )
        .await;
    let viewer = match redeemed {
        Ok(Some(v)) => v,
        Ok(None) => {
            return error_page(
                StatusCode::GONE,
                "Đường dẫn đã được dùng, đã hết hạn hoặc đã bị thu hồi: đề nghị cán bộ vận hành cấp đường dẫn mới",
            );
        }
        Err(e) => {
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                &words::sync_error(&e.into()),
            );
        }
    };
    tracing::info!(viewer = %viewer.name, unit = %viewer.unit, "a viewer set their password");
    let who = Who::Viewer {
        name: viewer.name,
        unit: viewer.unit.clone(),
    };
    match super::open_session(&state, &who).await {
        Ok((id, _)) => signed_in(
            &state,
            &id,
            format!(
                "/periods/{}/units/{}",
                current_period(&state).id(),
                url(&viewer.unit)
            ),
        ),
        Err(e) => error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            &words::sync_error(&e.into()),
        ),
    }
}

/// A form that carries the session's CSRF token.
trait WithCsrf {
    fn csrf(&self) -> Option<&str>;
}

impl WithCsrf for CsrfForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

impl WithCsrf for ViewerForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

impl WithCsrf for OptOutForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// An operator's form from a page: read, and its CSRF token checked.
fn checked<T: WithCsrf>(who: &Authed, form: Result<Form<T>, FormRejection>) -> Result<T, Response> {
    let Form(form) = form.map_err(|e| form_refused(&e))?;
    who.check_csrf(form.csrf())?;
    Ok(form)
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// "Đồng bộ lại": the pipeline for this unit, now (delivery follows by the workers).
pub async fn sync_unit(
    who: Authed,
    State(state): State<Shared>,
    Path((period, unit)): Path<(String, String)>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    if let Err(r) = checked(&who, form) {
        return r;
    }
    let period_parsed = match parse_period(&period) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(message) = super::view::not_ended(&period_parsed, state.engine.clock.now()) {
        return error_page(StatusCode::UNPROCESSABLE_ENTITY, &message);
    }
    let scope = Scope {
        period: period_parsed,
        unit: Some(unit.clone()),
        form: None,
        system: None,
    };
    let opts = RunOptions {
        pull: true,
        deliver: false,
        actor: who.operator.actor(),
        cause: "http".to_owned(),
        ..RunOptions::default()
    };
    if let Err(e) = state.engine.run(&scope, &opts, &crate::sync::Quiet).await {
        return error_page(StatusCode::CONFLICT, &words::sync_error(&e));
    }
    Redirect::to(&format!(
        "/periods/{}/units/{}?synced={}",
        url(&period),
        url(&unit),
        state.engine.clock.now().0
    ))
    .into_response()
}
