//! The status page in Vietnamese, server-rendered: the period with its deadlines and a countdown;
//! the grid of units (grouped by the unit tree) × (form × system) with one state per cell in
//! words and colour; the source's freshness; the chase list; a page per unit with its drafts,
//! attempts, what people did, audit lines, findings and figures — each figure a link to the
//! dossiers behind it — and a "Đồng bộ lại" button.
//!
//! Roll-up: a cell shows the unit's own report when its duty asks for the column; for a unit
//! without that duty whose subtree has such reports (a district's II.06a column, say), the worst
//! state among them (see `html::severity`), with how many reports it stands for.

use super::html::{esc, page, severity, state_vi, system_vi, time, url};
use super::words;
use super::{AdminState, Authed, Reader, Shared, Who, session_cookie, view};
use crate::domain::{Instant, Period, PeriodKind, Severity};
use crate::forms::explain::{Cell, explain as explain_cell};
use crate::forms::{Row, Values};
use crate::store::{OutboxState, Store};
use crate::sync::{RunOptions, Scope, gate};
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{Datelike, Duration};

pub(super) fn error_page(status: StatusCode, message: &str) -> Response {
    (
        status,
        Html(page(
            "Lỗi",
            &format!("<h1>Không thực hiện được</h1><p>{}</p>", esc(message)),
        )),
    )
        .into_response()
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
    Html(super::html::login_page(None, q.next.as_deref()))
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
            Html(super::html::login_page(
                Some("Mã truy cập, tên đăng nhập hoặc mật khẩu không đúng."),
                form.next.as_deref(),
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

/// One cell of the grid: its words, colour, and how many reports it stands for.
struct GridCell {
    words: String,
    class: &'static str,
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
    let engine = &state.engine;
    let units = &engine.parts.units;
    let duties = &engine.parts.duties;
    let columns = view::columns(engine, period)?;
    let rows = view::rows(engine, period).await?;
    let now = engine.clock.now();
    let ended = now >= gate::settle_instant(period, engine.settings.gate.settle_hours);
    let mut body = format!(
        "<h1>Báo cáo {} ({})</h1><p class=\"note\">Cán bộ: {} · Giờ Việt Nam: {}</p>",
        esc(&period.label_vi()),
        esc(&period.window_vi()),
        esc(&who.operator.name),
        time(now)
    );
    let first_section = body.len();
    // Deadlines and countdown, by the duties.
    body.push_str(
        "<h2>Thời hạn</h2><table><tr><th>Đơn vị</th><th>Biểu</th><th>Hạn</th><th>Còn lại</th></tr>",
    );
    for d in &duties.duties {
        let deadline = period.last_day + Duration::days(d.deadline_days);
        let countdown = super::html::countdown(deadline, now);
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(crate::render::kind_label_vi(&d.kind)),
            esc(&d.forms.join(", ")),
            deadline.format("%d/%m/%Y"),
            countdown
        ));
    }
    body.push_str("</table>");
    // What the freshness gate sees.
    let setup = engine.setup();
    let regime = setup.regime(period)?;
    let kinds = setup.record_kinds(regime);
    let needed = gate::settle_instant(period, engine.settings.gate.settle_hours);
    body.push_str(&format!(
        "<h2>Dữ liệu nguồn</h2><p class=\"note\">Cần đủ dữ liệu đến {} (sau ngày chốt số liệu).</p><table><tr><th>Nguồn</th><th>Loại</th><th>Đã lấy đến</th><th>Lần lấy gần nhất</th><th>Hồ sơ đang giải quyết chưa đọc lại</th></tr>",
        time(needed)
    ));
    for f in engine.freshness(&kinds, Some(needed)).await? {
        let kind = match f.kind {
            crate::domain::RecordKind::Dossier => "Hồ sơ",
            crate::domain::RecordKind::Rating => "Đánh giá hài lòng",
            crate::domain::RecordKind::Feedback => "Phản ánh, kiến nghị",
        };
        let latest = match &f.latest {
            Some((at, true, _)) => format!("{} — thành công", time(*at)),
            Some((at, false, why)) => format!(
                "{} — <b>LỖI</b>: {}",
                time(*at),
                esc(&words::pull_failure(why))
            ),
            None => "chưa lấy lần nào".to_owned(),
        };
        let unread = if f.protocol.looks_up_open_dossiers()
            && f.kind == crate::domain::RecordKind::Dossier
        {
            f.open_unread.to_string()
        } else {
            "—".to_owned()
        };
        body.push_str(&format!(
            "<tr><td>{}</td><td>{kind}</td><td>{}</td><td>{latest}</td><td>{unread}</td></tr>",
            esc(&f.source),
            f.covered_to.map_or_else(|| "chưa có".to_owned(), time)
        ));
    }
    body.push_str("</table>");
    // Filters.
    let mut kinds_listed: Vec<&str> = duties.duties.iter().map(|d| d.kind.as_str()).collect();
    for id in units.ids() {
        let k = units.get(id).kind.as_str();
        if !kinds_listed.contains(&k) {
            kinds_listed.push(k);
        }
    }
    body.push_str(&format!(
        "<h2>Tình trạng từng đơn vị</h2><form method=\"get\" id=\"filters\">Tìm đơn vị (tên hoặc mã): <input type=\"search\" name=\"q\" id=\"search\" value=\"{}\"> Loại đơn vị: <select name=\"kind\"><option value=\"\">Tất cả</option>{}</select> Trạng thái: <select name=\"state\"><option value=\"\">Tất cả</option>{}</select> <button>Lọc</button></form>",
        esc(q.q.as_deref().unwrap_or("")),
        kinds_listed
            .iter()
            .map(|k| format!(
                "<option value=\"{}\"{}>{}</option>",
                esc(k),
                if q.kind.as_deref() == Some(k) { " selected" } else { "" },
                esc(crate::render::kind_label_vi(k))
            ))
            .collect::<String>(),
        [("s-bad", "Cần xử lý"), ("s-wait", "Đang chờ"), ("s-info", "Cán bộ đã thao tác"), ("s-good", "Đã có bản nháp")]
            .iter()
            .map(|(c, w)| format!(
                "<option value=\"{c}\"{}>{w}</option>",
                if q.state.as_deref() == Some(c) { " selected" } else { "" }
            ))
            .collect::<String>()
    ));
    body.push_str("<table id=\"grid\"><thead><tr><th>Đơn vị</th>");
    for (form, system) in &columns {
        body.push_str(&format!("<th>{}<br>{}</th>", esc(form), system_vi(system)));
    }
    body.push_str("</tr></thead><tbody>");
    let wanted =
        q.q.as_deref()
            .map(crate::catalog::fold)
            .filter(|w| !w.is_empty());
    // The answer first: per column, the own reports by kind of state; the reports that need
    // someone.
    let mut tally: Vec<std::collections::BTreeMap<&'static str, usize>> =
        vec![Default::default(); columns.len()];
    let mut needing = String::new();
    let mut shown = 0usize;
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
        let duty = duties.duties.iter().find(|d| d.kind == unit.kind);
        let mut cells = Vec::new();
        for (i, (form, system)) in columns.iter().enumerate() {
            let own = duty.is_some_and(|d| {
                d.systems.contains(system)
                    && d.forms
                        .iter()
                        .any(|f| regime.form(f).is_ok_and(|x| x.code == *form))
            });
            let cell = if !ended && own {
                GridCell {
                    words: "Chưa hết kỳ".into(),
                    class: "s-none",
                }
            } else if own {
                match rows.get(&(unit.code.clone(), form.clone(), system.clone())) {
                    Some(r) => {
                        let (w, c) = state_vi(r.state);
                        GridCell {
                            words: w.to_owned(),
                            class: c,
                        }
                    }
                    None => GridCell {
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
                        GridCell {
                            words: format!("↳ {w} ({} báo cáo)", states.len()),
                            class: c,
                        }
                    }
                    None => GridCell {
                        words: "Không phải nộp".into(),
                        class: "s-none",
                    },
                }
            };
            if own {
                *tally[i].entry(cell.class).or_default() += 1;
                if cell.class == "s-bad" {
                    needing.push_str(&format!(
                        "<tr><td><a href=\"/periods/{}/units/{}\">{}</a></td><td>{}</td><td>{}</td><td class=\"s-bad\">{}</td></tr>",
                        url(&period.id()),
                        url(&unit.code),
                        esc(&unit.name),
                        esc(form),
                        system_vi(system),
                        esc(&cell.words)
                    ));
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
        shown += 1;
        let link = format!("/periods/{}/units/{}", url(&period.id()), url(&unit.code));
        body.push_str(&format!(
            "<tr><td style=\"padding-left:{}px\"><a href=\"{link}\">{}</a><br><span class=\"note\">{} · {}</span></td>",
            6 + 16 * units.depth(id),
            esc(&unit.name),
            esc(&unit.code),
            esc(crate::render::kind_label_vi(&unit.kind)),
        ));
        for c in cells {
            body.push_str(&format!("<td class=\"{}\">{}</td>", c.class, esc(&c.words)));
        }
        body.push_str("</tr>");
    }
    body.push_str("</tbody></table>");
    if shown == 0 {
        body.push_str("<p id=\"no-match\">Không có đơn vị nào khớp bộ lọc.</p>");
    }
    // The summary and the reports that need someone go first.
    let mut summary = String::from(
        "<h2>Tóm tắt</h2><table id=\"summary\"><tr><th>Biểu</th><th>Hệ thống</th><th>Tình trạng</th></tr>",
    );
    for ((form, system), t) in columns.iter().zip(&tally) {
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
        summary.push_str(&format!(
            "<tr data-form=\"{}\" data-system=\"{}\" data-total=\"{total}\" data-good=\"{}\" data-bad=\"{}\"><td>{}</td><td>{}</td><td>{words}</td></tr>",
            esc(form),
            esc(system),
            n("s-good"),
            n("s-bad"),
            esc(form),
            system_vi(system)
        ));
    }
    summary.push_str("</table>");
    if needing.is_empty() {
        summary.push_str("<h2>Cần xử lý</h2><p id=\"needing\">Không có báo cáo nào cần xử lý.</p>");
    } else {
        summary.push_str(&format!(
            "<h2>Cần xử lý</h2><table id=\"needing\"><tr><th>Đơn vị</th><th>Biểu</th><th>Hệ thống</th><th>Tình trạng</th></tr>{needing}</table>"
        ));
    }
    body.insert_str(first_section, &summary);
    body.push_str(&chase_list(state).await?);
    Ok(page(&period.label_vi(), &body))
}

/// Units that must file but have no login, or whose login fails.
async fn chase_list(state: &AdminState) -> Result<String, crate::sync::SyncError> {
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
    let mut lines = String::new();
    for id in units.subtree(units.root()) {
        let unit = units.get(id);
        let Some(duty) = engine
            .parts
            .duties
            .duties
            .iter()
            .find(|d| d.kind == unit.kind)
        else {
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
                lines.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"s-bad\">{p}</td></tr>",
                    esc(&unit.name),
                    esc(&unit.code),
                    system_vi(system)
                ));
            }
        }
    }
    Ok(if lines.is_empty() {
        "<h2>Tài khoản cần bổ sung</h2><p>Mọi đơn vị đều đã có tài khoản.</p>".to_owned()
    } else {
        format!(
            "<h2>Tài khoản cần bổ sung</h2><table id=\"chase\"><tr><th>Đơn vị</th><th>Mã</th><th>Hệ thống</th><th>Vấn đề</th></tr>{lines}</table>"
        )
    })
}

/// A table of figures, each a link to the dossiers behind it; columns headed by the form
/// definition's names.
fn figures_table(
    period: &Period,
    unit: &str,
    form: &str,
    def: Option<&crate::forms::FormDef>,
    rows: &[(String, String, &Values)],
) -> String {
    let Some((_, _, first)) = rows.first() else {
        return "<p>Không có số liệu.</p>".to_owned();
    };
    let columns: Vec<u32> = first.columns().map(|(c, _)| c).collect();
    let mut out = format!(
        "<table class=\"figures\" data-form=\"{}\"><tr><th>Dòng</th>",
        esc(form)
    );
    for c in &columns {
        let name = def.map(|d| d.full_header(*c)).unwrap_or_default();
        out.push_str(&format!("<th>{} ({c})</th>", esc(&name)));
    }
    out.push_str("</tr>");
    for (key, label, values) in rows {
        out.push_str(&format!("<tr><td>{}</td>", esc(label)));
        for (c, v) in values.columns() {
            out.push_str(&format!(
                "<td class=\"n\"><a class=\"figure\" data-row=\"{}\" data-column=\"{c}\" href=\"/periods/{}/units/{}/explain?form={}&amp;row={}&amp;column={c}\">{v}</a></td>",
                esc(key),
                url(&period.id()),
                url(unit),
                url(form),
                url(key)
            ));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    out
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
    let engine = &state.engine;
    let units = &engine.parts.units;
    let Some(id) = units.find(code) else {
        return Ok(None);
    };
    let unit = units.get(id);
    let mut body = format!(
        "<h1>{} ({})</h1><p>{} · Kỳ {} ({})</p>",
        esc(&unit.name),
        esc(&unit.code),
        esc(crate::render::kind_label_vi(&unit.kind)),
        esc(&period.label_vi()),
        esc(&period.window_vi())
    );
    if let Some(at) = synced {
        body.push_str(&format!(
            "<p class=\"notice\" id=\"synced\">{}</p>",
            esc(&words::synced(at))
        ));
    }
    // Re-sync this unit (operators only).
    if let (Who::Operator(_), Some(csrf)) = (&who.who, &who.csrf) {
        body.push_str(&format!(
            "<form method=\"post\" action=\"/periods/{}/units/{}/sync\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button id=\"resync\">Đồng bộ lại</button></form>",
            url(&period.id()),
            url(code),
            esc(csrf)
        ));
    }
    // Drafts: each one's state, versions, attempts.
    let rows = view::rows(engine, period).await?;
    let mut mine: Vec<_> = rows.values().filter(|r| r.report.unit == code).collect();
    mine.sort_by(|a, b| {
        (&a.report.form, &a.report.system).cmp(&(&b.report.form, &b.report.system))
    });
    body.push_str("<h2>Bản nháp trên các hệ thống báo cáo</h2>");
    if mine.is_empty() {
        body.push_str("<p>Chưa có báo cáo nào của đơn vị trong kỳ này.</p>");
    } else {
        body.push_str("<table id=\"drafts\"><tr><th>Biểu</th><th>Hệ thống</th><th>Trạng thái</th><th>Phiên bản trên hệ thống</th><th>Ghi chú</th><th>Các lần gửi</th><th>Mã trạng thái</th></tr>");
        for r in mine {
            let (words, class) = state_vi(r.state);
            let attempts = match r.id {
                Some(id) => engine.store.attempts(id).await?,
                None => Vec::new(),
            };
            let history: String = attempts
                .iter()
                .rev()
                .take(6)
                .map(|a| {
                    format!(
                        "{} — {}{}<br>",
                        time(a.at),
                        words::answer(&a.answer),
                        words::version(a.remote_version)
                    )
                })
                .collect();
            let person = match r.state {
                OutboxState::Locked => " — cán bộ đã duyệt/ký/gửi",
                OutboxState::EditedByPerson => " — cán bộ đã sửa bản nháp",
                _ => "",
            };
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td class=\"{class}\">{words}{person}</td><td class=\"n\">{}</td><td>{}</td><td>{history}</td><td><code>{}</code></td></tr>",
                esc(&r.report.form),
                system_vi(&r.report.system),
                r.remote_version.map_or_else(|| "—".to_owned(), |v| format!("phiên bản {v}")),
                esc(&words::note(r)),
                r.state.as_str()
            ));
        }
        body.push_str("</table>");
    }
    // Figures, each a link to its dossiers.
    let tables = state.view.tables(engine, period).await?;
    let regime = engine.setup().regime(period)?;
    if let Some(r) = tables.computed.per_unit.iter().find(|r| r.unit == code) {
        let mut rows: Vec<(String, String, &Values)> = r
            .rows
            .iter()
            .map(|row: &Row| (row.key.clone(), row.label.clone(), &row.values))
            .collect();
        rows.push(("_total".into(), "Tổng số".into(), &r.total));
        body.push_str("<h2>Số liệu Biểu II.06a của đơn vị</h2>");
        let def = regime.form("II.06a").ok();
        body.push_str(&figures_table(period, code, "II.06a", def, &rows));
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
        body.push_str("<h2>Số liệu Biểu II.06 (tổng hợp)</h2>");
        let def = regime.form("II.06").ok();
        body.push_str(&figures_table(period, code, "II.06", def, &rows));
    }
    // Satisfaction: the unit's own ratings, and over its subtree when it aggregates.
    let (own, subtree) = &tables.satisfaction;
    let said: Vec<(&str, &crate::forms::satisfaction::SatisfactionReport)> = [
        ("Của đơn vị", own.iter().find(|r| r.unit == code)),
        (
            "Toàn bộ đơn vị và các đơn vị trực thuộc",
            subtree.iter().find(|r| r.unit == code),
        ),
    ]
    .into_iter()
    .filter_map(|(what, r)| r.map(|r| (what, r)))
    .collect();
    if !said.is_empty() {
        body.push_str("<h2>Đánh giá mức độ hài lòng</h2><table id=\"satisfaction\"><tr><th></th><th>Rất hài lòng</th><th>Hài lòng</th><th>Không hài lòng</th><th>Tổng số lượt đánh giá</th><th>Tỷ lệ hài lòng (%)</th><th>Hồ sơ đã giải quyết</th><th>Lượt đánh giá trên hồ sơ đã giải quyết (%)</th></tr>");
        let percent = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), |v| format!("{v:.1}"));
        for (what, r) in said {
            let level = |l: &str| r.levels.get(l).copied().unwrap_or(0);
            body.push_str(&format!(
                "<tr><td>{what}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                level("1"),
                level("2"),
                level("3"),
                r.total,
                percent(r.satisfaction_rate),
                r.resolved.map_or_else(|| "—".to_owned(), |v| v.to_string()),
                percent(r.coverage)
            ));
        }
        body.push_str("</table>");
    }
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
    if !downloads.is_empty() {
        body.push_str("<h2>Tải về</h2><ul id=\"downloads\">");
        for (form, extension, program) in downloads {
            body.push_str(&format!(
                "<li><a href=\"/periods/{}/units/{}/documents/{}.{extension}\">Biểu {} của đơn vị ({program})</a></li>",
                url(&period.id()),
                url(code),
                url(form),
                esc(form)
            ));
        }
        body.push_str("</ul>");
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
        body.push_str(&format!(
            "<h2>Số liệu Biểu {} (bản nháp đã gửi)</h2>",
            esc(form)
        ));
        if let Some(text) = &draft.text {
            body.push_str(&format!("<pre class=\"draft-text\">{}</pre>", esc(text)));
        }
        if draft.rows.is_empty() {
            continue;
        }
        let def = regime.form(form).ok();
        let columns: Vec<&String> = draft.rows[0].values.keys().collect();
        body.push_str(&format!(
            "<table class=\"draft\" data-form=\"{}\"><tr><th>Dòng</th>",
            esc(form)
        ));
        for c in &columns {
            let name = c
                .parse()
                .ok()
                .and_then(|n| def.map(|d| d.full_header(n)))
                .unwrap_or_default();
            body.push_str(&format!("<th>{} ({})</th>", esc(&name), esc(c)));
        }
        body.push_str("</tr>");
        for row in &draft.rows {
            body.push_str(&format!("<tr><td>{}</td>", esc(&row.label)));
            for c in &columns {
                let v = row.values.get(*c).copied().unwrap_or(0);
                body.push_str(&format!("<td class=\"n\">{v}</td>"));
            }
            body.push_str("</tr>");
        }
        body.push_str("</table>");
    }
    // Findings about the unit's records.
    let findings: Vec<_> = tables
        .computed
        .findings
        .iter()
        .filter(|f| f.unit.as_deref() == Some(code))
        .collect();
    body.push_str(&format!("<h2>Hồ sơ cần rà soát ({})</h2>", findings.len()));
    if !findings.is_empty() {
        body.push_str("<table id=\"findings\"><tr><th>Mã hồ sơ</th><th>Mức độ</th><th>Vấn đề và cách khắc phục</th><th>Mã lỗi</th></tr>");
        for f in findings {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                esc(&f.record),
                if f.severity == Severity::Error {
                    "Không tính vào số liệu"
                } else {
                    "Cảnh báo (vẫn tính)"
                },
                esc(f.code.describe_vi()),
                f.code.as_str()
            ));
        }
        body.push_str("</table>");
    }
    // Who may read this unit's figures: its officials' accesses (operators manage them).
    if let (Who::Operator(_), Some(csrf)) = (&who.who, &who.csrf) {
        body.push_str(&viewers_section(state, period, code, csrf).await?);
    }
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
    // The audit's lines about the unit.
    let audit = engine
        .store
        .audit(Some(&period.id()), Some(&unit.code), 30)
        .await?;
    body.push_str("<h2>Nhật ký thao tác</h2>");
    if audit.is_empty() {
        body.push_str("<p>Chưa có.</p>");
    } else {
        body.push_str("<table id=\"audit\"><tr><th>Thời gian</th><th>Người thực hiện</th><th>Thao tác</th><th>Báo cáo</th><th>Phiên bản</th><th>Kết quả</th><th>Lý do</th><th>Mã thao tác</th></tr>");
        for a in audit {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} {}</td><td>{} → {}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                a.at.map(time).unwrap_or_default(),
                esc(&words::actor(&a.actor)),
                words::action(&a.action),
                esc(a.form.as_deref().unwrap_or("")),
                system_vi(a.system.as_deref().unwrap_or("")),
                a.base_version.map_or_else(|| "—".to_owned(), |v| v.to_string()),
                a.new_version.map_or_else(|| "—".to_owned(), |v| v.to_string()),
                esc(&a.answer.as_deref().map(words::audit_answer).unwrap_or_default()),
                esc(&words::audit_reason(&a.action, &a.reason)),
                esc(&a.action)
            ));
        }
        body.push_str("</table>");
    }
    body.push_str(&format!(
        "<p><a href=\"/periods/{}\">← Về bảng tổng hợp</a></p>",
        url(&period.id())
    ));
    Ok(Some(page(&unit.name, &body)))
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
    let mut body = format!(
        "<h1>Giải thích số liệu</h1><p>Biểu {} · {} ({}) · dòng: {} · cột ({}) {}</p><p id=\"figure\">Số liệu: <b>{}</b> hồ sơ</p>",
        esc(&e.form),
        esc(&unit_name(&e.unit)),
        esc(&e.unit),
        esc(&row_name),
        e.column,
        esc(&e.header),
        e.figure
    );
    body.push_str("<table id=\"dossiers\"><tr><th>STT</th><th>Mã hồ sơ</th><th>Đơn vị</th><th>Lĩnh vực</th><th>Lý do được tính</th></tr>");
    for (i, d) in e.counted.iter().enumerate() {
        body.push_str(&format!(
            "<tr class=\"dossier\"><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            i + 1,
            esc(&d.record),
            esc(&unit_name(&d.unit)),
            esc(&field_name(&d.field)),
            esc(&d.reason)
        ));
    }
    body.push_str("</table>");
    if !e.left_out.is_empty() {
        body.push_str(&format!("<h2>Không tính vào số liệu ({} hồ sơ)</h2><table id=\"left-out\"><tr><th>Mã hồ sơ</th><th>Lĩnh vực</th><th>Vấn đề</th></tr>", e.left_out.len()));
        for d in &e.left_out {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&d.record),
                esc(&field_name(&d.field)),
                esc(&d.reason)
            ));
        }
        body.push_str("</table>");
    }
    body.push_str(&format!(
        "<p><a href=\"/periods/{}/units/{}\">← Về trang đơn vị</a></p>",
        url(&period.id()),
        url(&unit)
    ));
    Html(page("Giải thích số liệu", &body)).into_response()
}

/// The unit's viewers, each with a button that revokes them, and the form that gives an official
/// a one-time link.
async fn viewers_section(
    state: &AdminState,
    period: &Period,
    code: &str,
    csrf: &str,
) -> Result<String, crate::sync::SyncError> {
    let viewers: Vec<_> = state
        .engine
        .store
        .viewers()
        .await?
        .into_iter()
        .filter(|v| v.unit == code && v.revoked_at.is_none())
        .collect();
    let base = format!("/periods/{}/units/{}/viewers", url(&period.id()), url(code));
    let mut out = String::from("<h2>Cán bộ đơn vị được xem số liệu</h2>");
    if viewers.is_empty() {
        out.push_str("<p>Chưa có cán bộ nào của đơn vị được cấp quyền xem.</p>");
    } else {
        out.push_str(
            "<table id=\"viewers\"><tr><th>Tên đăng nhập</th><th>Tình trạng</th><th></th></tr>",
        );
        for v in viewers {
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td><form method=\"post\" action=\"{base}/{}/revoke\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button>Thu hồi quyền xem</button></form></td></tr>",
                esc(&v.name),
                if v.password_hash.is_some() {
                    "Đã đặt mật khẩu"
                } else {
                    "Chưa dùng đường dẫn"
                },
                url(&v.name),
                esc(csrf)
            ));
        }
        out.push_str("</table>");
    }
    out.push_str(&format!(
        "<form method=\"post\" action=\"{base}\" id=\"issue-viewer\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">Cấp quyền xem cho cán bộ đơn vị: <label>tên đăng nhập <input name=\"name\" id=\"viewer-name\"></label> <button>Tạo đường dẫn dùng một lần</button></form>",
        esc(csrf)
    ));
    Ok(out)
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
            let body = format!(
                "<h1>Đường dẫn cho cán bộ {}</h1><p>Gửi đường dẫn dưới đây cho cán bộ (chỉ hiện một lần; dùng được một lần, trong {} giờ). Cán bộ mở đường dẫn, đặt mật khẩu, rồi đăng nhập bằng tên <b>{}</b>.</p><p><code id=\"viewer-link\">http://{}{}</code></p><p><a href=\"/periods/{}/units/{}\">← Về trang đơn vị</a></p>",
                esc(name),
                super::VIEWER_LINK_HOURS,
                esc(name),
                esc(host),
                esc(&link),
                url(&period),
                url(&unit)
            );
            Html(page("Đường dẫn cho cán bộ đơn vị", &body)).into_response()
        }
        Err(e) => error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            &words::sync_error(&e.into()),
        ),
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
    Html(page(
        "Đặt mật khẩu",
        &format!(
            "<h1>Đặt mật khẩu xem số liệu của đơn vị</h1><form method=\"post\" action=\"/welcome/{}\"><p><label>Mật khẩu (ít nhất 10 ký tự): <input type=\"password\" name=\"password\" id=\"new-password\" autocomplete=\"new-password\"></label></p><p><label>Nhập lại mật khẩu: <input type=\"password\" name=\"again\" id=\"again\" autocomplete=\"new-password\"></label></p><button id=\"set-password\">Đặt mật khẩu và vào trang đơn vị</button></form>",
            url(&token)
        ),
    ))
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
