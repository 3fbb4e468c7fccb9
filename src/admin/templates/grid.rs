//! The period page: the answer first (the summary per form and system, the reports that need
//! someone), then the deadlines, the source's freshness, the grid of units with its filters, and
//! the units whose accounts are missing or failing.

use super::unit_link;
use crate::admin::html::{system_vi, time};
use crate::domain::Instant;
use maud::{Markup, html};

pub struct Grid<'a> {
    pub period: String,
    pub label: String,
    pub window: String,
    pub operator: &'a str,
    pub now: Instant,
    pub summary: Vec<Summary<'a>>,
    pub needing: Vec<Needing<'a>>,
    pub deadlines: Vec<Deadline>,
    /// When the sources must have been read up to.
    pub needed: Instant,
    pub sources: Vec<Source>,
    pub filters: Filters<'a>,
    pub columns: &'a [(String, String)],
    pub rows: Vec<Row<'a>>,
    pub chase: Vec<Chase<'a>>,
    /// The period's e-mail.
    pub mail: Markup,
}

/// One column's reports by kind of state.
pub struct Summary<'a> {
    pub form: &'a str,
    pub system: &'a str,
    pub total: usize,
    pub good: usize,
    pub bad: usize,
    pub words: String,
}

/// A report that needs someone.
pub struct Needing<'a> {
    pub unit: &'a str,
    pub name: &'a str,
    pub form: &'a str,
    pub system: &'a str,
    pub words: String,
}

pub struct Deadline {
    pub kind: String,
    pub forms: String,
    pub date: chrono::NaiveDate,
    pub countdown: String,
}

/// A source's freshness for one record kind.
pub struct Source {
    pub source: String,
    pub kind: &'static str,
    pub covered_to: Option<Instant>,
    /// The latest pull: when, and the failure in words when it failed.
    pub latest: Option<(Instant, Option<String>)>,
    /// Open dossiers not looked up again yet, where the protocol looks them up.
    pub open_unread: Option<i64>,
}

pub struct Filters<'a> {
    pub q: &'a str,
    pub kind: Option<&'a str>,
    pub state: Option<&'a str>,
    /// Unit kinds: code and label.
    pub kinds: Vec<(&'a str, &'a str)>,
}

/// The colour classes a filter can choose, with their words.
const STATES: [(&str, &str); 4] = [
    ("s-bad", "Cần xử lý"),
    ("s-wait", "Đang chờ"),
    ("s-info", "Cán bộ đã thao tác"),
    ("s-good", "Đã có bản nháp"),
];

pub struct Row<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub kind: &'a str,
    pub depth: usize,
    pub cells: Vec<Cell>,
}

/// One cell of the grid: its words and colour class.
pub struct Cell {
    pub words: String,
    pub class: &'static str,
}

/// A unit that must file but has no account in a system, or whose login fails.
pub struct Chase<'a> {
    pub name: &'a str,
    pub code: &'a str,
    pub system: &'a str,
    pub problem: &'static str,
}

pub fn render(g: &Grid) -> String {
    super::page(
        &g.label,
        html! {
            h1 { "Báo cáo " (g.label) " (" (g.window) ")" }
            p.note { "Cán bộ: " (g.operator) " · Giờ Việt Nam: " (time(g.now)) }
            p {
                a #guidance-letter href={ "/periods/" (crate::admin::html::url(&g.period)) "/letters/guidance.docx" } {
                    "Công văn hướng dẫn báo cáo kỳ này (Word)"
                }
                " · "
                a #chase-letter href={ "/periods/" (crate::admin::html::url(&g.period)) "/letters/chase.docx" } {
                    "Công văn đôn đốc các đơn vị chưa gửi báo cáo (Word, đọc trạng thái lúc tải)"
                }
            }
            (summary(g))
            (deadlines(&g.deadlines))
            (sources(g))
            (grid(g))
            (chase(&g.chase))
            (g.mail)
        },
    )
}

fn summary(g: &Grid) -> Markup {
    html! {
        h2 { "Tóm tắt" }
        table #summary {
            tr { th { "Biểu" } th { "Hệ thống" } th { "Tình trạng" } }
            @for s in &g.summary {
                tr data-form=(s.form) data-system=(s.system) data-total=(s.total)
                    data-good=(s.good) data-bad=(s.bad) {
                    td { (s.form) } td { (system_vi(s.system)) } td { (s.words) }
                }
            }
        }
        h2 { "Cần xử lý" }
        @if g.needing.is_empty() {
            p #needing { "Không có báo cáo nào cần xử lý." }
        } @else {
            table #needing {
                tr { th { "Đơn vị" } th { "Biểu" } th { "Hệ thống" } th { "Tình trạng" } }
                @for n in &g.needing {
                    tr {
                        td { a href=(unit_link(&g.period, n.unit)) { (n.name) } }
                        td { (n.form) }
                        td { (system_vi(n.system)) }
                        td.s-bad { (n.words) }
                    }
                }
            }
        }
    }
}

fn deadlines(deadlines: &[Deadline]) -> Markup {
    html! {
        h2 { "Thời hạn" }
        table {
            tr { th { "Đơn vị" } th { "Biểu" } th { "Hạn" } th { "Còn lại" } }
            @for d in deadlines {
                tr {
                    td { (d.kind) } td { (d.forms) }
                    td { (d.date.format("%d/%m/%Y")) } td { (d.countdown) }
                }
            }
        }
    }
}

fn sources(g: &Grid) -> Markup {
    html! {
        h2 { "Dữ liệu nguồn" }
        p.note { "Cần đủ dữ liệu đến " (time(g.needed)) " (sau ngày chốt số liệu)." }
        table {
            tr {
                th { "Nguồn" } th { "Loại" } th { "Đã lấy đến" } th { "Lần lấy gần nhất" }
                th { "Hồ sơ đang giải quyết chưa đọc lại" }
            }
            @for s in &g.sources {
                tr {
                    td { (s.source) }
                    td { (s.kind) }
                    td {
                        @match s.covered_to { Some(at) => (time(at)), None => "chưa có" }
                    }
                    td {
                        @match &s.latest {
                            Some((at, None)) => { (time(*at)) " — thành công" }
                            Some((at, Some(why))) => { (time(*at)) " — " b { "LỖI" } ": " (why) }
                            None => "chưa lấy lần nào",
                        }
                    }
                    td {
                        @match s.open_unread { Some(n) => (n), None => "—" }
                    }
                }
            }
        }
    }
}

fn grid(g: &Grid) -> Markup {
    let f = &g.filters;
    html! {
        h2 { "Tình trạng từng đơn vị" }
        form method="get" #filters {
            "Tìm đơn vị (tên hoặc mã): "
            input type="search" name="q" #search value=(f.q);
            " Loại đơn vị: "
            select name="kind" {
                option value="" { "Tất cả" }
                @for (code, label) in &f.kinds {
                    option value=(code) selected[f.kind == Some(*code)] { (label) }
                }
            }
            " Trạng thái: "
            select name="state" {
                option value="" { "Tất cả" }
                @for (class, words) in STATES {
                    option value=(class) selected[f.state == Some(class)] { (words) }
                }
            }
            " "
            button { "Lọc" }
        }
        table #grid {
            thead {
                tr {
                    th { "Đơn vị" }
                    @for (form, system) in g.columns { th { (form) br; (system_vi(system)) } }
                }
            }
            tbody {
                @for r in &g.rows {
                    tr {
                        td style={ "padding-left:" (6 + 16 * r.depth) "px" } {
                            a href=(unit_link(&g.period, r.code)) { (r.name) }
                            br;
                            span.note { (r.code) " · " (r.kind) }
                        }
                        @for c in &r.cells { td class=(c.class) { (c.words) } }
                    }
                }
            }
        }
        @if g.rows.is_empty() {
            p #no-match { "Không có đơn vị nào khớp bộ lọc." }
        }
    }
}

fn chase(lines: &[Chase]) -> Markup {
    html! {
        h2 { "Tài khoản cần bổ sung" }
        @if lines.is_empty() {
            p { "Mọi đơn vị đều đã có tài khoản." }
        } @else {
            table #chase {
                tr { th { "Đơn vị" } th { "Mã" } th { "Hệ thống" } th { "Vấn đề" } }
                @for l in lines {
                    tr {
                        td { (l.name) } td { (l.code) } td { (system_vi(l.system)) }
                        td.s-bad { (l.problem) }
                    }
                }
            }
        }
    }
}
