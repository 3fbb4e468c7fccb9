//! A unit's page: its drafts in each reporting system with their attempts, its figures (each a
//! link to the dossiers behind it), its satisfaction summary, its documents to download, the
//! other forms' drafts, the records to review, who may read it, and its audit lines.

use crate::admin::html::{state_vi, system_vi, time};
use crate::admin::words;
use crate::domain::{Finding, Severity};
use crate::forms::satisfaction::SatisfactionReport;
use crate::store::{AttemptRecord, AuditEntry, OutboxRow, OutboxState};
use maud::{Markup, html};

pub struct Unit<'a> {
    pub period: String,
    pub label: String,
    pub window: String,
    pub code: &'a str,
    pub name: &'a str,
    pub kind: &'a str,
    /// When "Đồng bộ lại" ended, in words.
    pub synced: Option<String>,
    /// The operator's CSRF token: the page offers "Đồng bộ lại".
    pub resync: Option<&'a str>,
    pub drafts: Vec<(&'a OutboxRow, Vec<AttemptRecord>)>,
    pub figures: Vec<Figures>,
    /// The satisfaction summary: what it covers, and the figures.
    pub satisfaction: Vec<(&'static str, &'a SatisfactionReport)>,
    /// Documents: form, file extension, the program that opens it.
    pub downloads: Vec<(&'static str, &'static str, &'static str)>,
    pub findings: Vec<&'a Finding>,
    pub viewers: Option<Markup>,
    /// Its contacts and the messages sent to it.
    pub mail: Markup,
    pub audit: Vec<AuditEntry>,
}

/// A table of figures: computed (each a link to its dossiers) or as a draft holds them.
pub struct Figures {
    pub heading: String,
    /// "figures" (computed, linked) or "draft".
    pub class: &'static str,
    pub form: String,
    /// The draft's text, for a narrative.
    pub text: Option<String>,
    /// Each column's number and the form definition's name for it.
    pub columns: Vec<(String, String)>,
    pub rows: Vec<FigureRow>,
}

pub struct FigureRow {
    pub key: String,
    pub label: String,
    /// Each value, with the link to its dossiers when it has one.
    pub values: Vec<(u64, Option<String>)>,
}

pub fn render(u: &Unit) -> String {
    super::page(
        u.name,
        html! {
            h1 { (u.name) " (" (u.code) ")" }
            p { (u.kind) " · Kỳ " (u.label) " (" (u.window) ")" }
            @if let Some(said) = &u.synced { p.notice #synced { (said) } }
            @if let Some(csrf) = u.resync {
                form method="post" action={ (super::unit_link(&u.period, u.code)) "/sync" } {
                    input type="hidden" name="csrf" value=(csrf);
                    button #resync { "Đồng bộ lại" }
                }
            }
            (drafts(u))
            @for f in u.figures.iter().filter(|f| f.class == "figures") { (figures(f)) }
            (satisfaction(&u.satisfaction))
            @if !u.downloads.is_empty() {
                h2 { "Tải về" }
                ul #downloads {
                    @for (form, extension, program) in &u.downloads {
                        li {
                            a href={ (super::unit_link(&u.period, u.code)) "/documents/"
                                (crate::admin::html::url(form)) "." (extension) } {
                                "Biểu " (form) " của đơn vị (" (program) ")"
                            }
                        }
                    }
                }
            }
            @for f in u.figures.iter().filter(|f| f.class == "draft") { (figures(f)) }
            (findings(&u.findings))
            @if let Some(v) = &u.viewers { (v) }
            (u.mail)
            (audit(&u.audit))
            p { a href={ "/periods/" (crate::admin::html::url(&u.period)) } { "← Về bảng tổng hợp" } }
        },
    )
}

fn drafts(u: &Unit) -> Markup {
    html! {
        h2 { "Bản nháp trên các hệ thống báo cáo" }
        @if u.drafts.is_empty() {
            p { "Chưa có báo cáo nào của đơn vị trong kỳ này." }
        } @else {
            table #drafts {
                tr {
                    th { "Biểu" } th { "Hệ thống" } th { "Trạng thái" }
                    th { "Phiên bản trên hệ thống" } th { "Ghi chú" } th { "Các lần gửi" }
                    th { "Mã trạng thái" }
                }
                @for (r, attempts) in &u.drafts {
                    @let (said, class) = state_vi(r.state);
                    tr {
                        td { (r.report.form) }
                        td { (system_vi(&r.report.system)) }
                        td class=(class) {
                            (said)
                            @match r.state {
                                OutboxState::Locked => " — cán bộ đã duyệt/ký/gửi",
                                OutboxState::EditedByPerson => " — cán bộ đã sửa bản nháp",
                                _ => "",
                            }
                        }
                        td.n {
                            @match r.remote_version { Some(v) => { "phiên bản " (v) }, None => "—" }
                        }
                        td { (words::note(r)) }
                        td {
                            @for a in attempts.iter().rev().take(6) {
                                (time(a.at)) " — " (words::answer(&a.answer))
                                (words::version(a.remote_version)) br;
                            }
                        }
                        td { code { (r.state.as_str()) } }
                    }
                }
            }
        }
    }
}

fn figures(f: &Figures) -> Markup {
    html! {
        h2 { (f.heading) }
        @if let Some(text) = &f.text { pre.draft-text { (text) } }
        @if f.rows.is_empty() {
            @if f.class == "figures" { p { "Không có số liệu." } }
        } @else {
            table class=(f.class) data-form=(f.form) {
                tr {
                    th { "Dòng" }
                    @for (c, name) in &f.columns { th { (name) " (" (c) ")" } }
                }
                @for row in &f.rows {
                    tr {
                        td { (row.label) }
                        @for ((c, _), (v, link)) in f.columns.iter().zip(&row.values) {
                            td.n {
                                @match link {
                                    Some(href) => a.figure data-row=(row.key) data-column=(c)
                                        href=(href) { (v) },
                                    None => (v),
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn satisfaction(said: &[(&str, &SatisfactionReport)]) -> Markup {
    let percent = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), |v| format!("{v:.1}"));
    html! {
        @if !said.is_empty() {
            h2 { "Đánh giá mức độ hài lòng" }
            table #satisfaction {
                tr {
                    th {} th { "Rất hài lòng" } th { "Hài lòng" } th { "Không hài lòng" }
                    th { "Tổng số lượt đánh giá" } th { "Tỷ lệ hài lòng (%)" }
                    th { "Hồ sơ đã giải quyết" } th { "Lượt đánh giá trên hồ sơ đã giải quyết (%)" }
                }
                @for (what, r) in said {
                    @let level = |l: &str| r.levels.get(l).copied().unwrap_or(0);
                    tr {
                        td { (what) }
                        td.n { (level("1")) } td.n { (level("2")) } td.n { (level("3")) }
                        td.n { (r.total) }
                        td.n { (percent(r.satisfaction_rate)) }
                        td.n { @match r.resolved { Some(v) => (v), None => "—" } }
                        td.n { (percent(r.coverage)) }
                    }
                }
            }
        }
    }
}

fn findings(findings: &[&Finding]) -> Markup {
    html! {
        h2 { "Hồ sơ cần rà soát (" (findings.len()) ")" }
        @if !findings.is_empty() {
            table #findings {
                tr { th { "Mã hồ sơ" } th { "Mức độ" } th { "Vấn đề và cách khắc phục" } th { "Mã lỗi" } }
                @for f in findings {
                    tr {
                        td { (f.record) }
                        td {
                            @if f.severity == Severity::Error { "Không tính vào số liệu" }
                            @else { "Cảnh báo (vẫn tính)" }
                        }
                        td { (f.describe_vi()) }
                        td { code { (f.code.as_str()) } }
                    }
                }
            }
        }
    }
}

fn audit(lines: &[AuditEntry]) -> Markup {
    let version = |v: Option<i64>| v.map_or_else(|| "—".to_owned(), |v| v.to_string());
    html! {
        h2 { "Nhật ký thao tác" }
        @if lines.is_empty() {
            p { "Chưa có." }
        } @else {
            table #audit {
                tr {
                    th { "Thời gian" } th { "Người thực hiện" } th { "Thao tác" } th { "Báo cáo" }
                    th { "Phiên bản" } th { "Kết quả" } th { "Lý do" } th { "Mã thao tác" }
                }
                @for a in lines {
                    tr {
                        td { @if let Some(at) = a.at { (time(at)) } }
                        td { (words::actor(&a.actor)) }
                        td { (words::action(&a.action)) }
                        td {
                            (a.form.as_deref().unwrap_or("")) " "
                            (system_vi(a.system.as_deref().unwrap_or("")))
                        }
                        td { (version(a.base_version)) " → " (version(a.new_version)) }
                        td { (a.answer.as_deref().map(words::audit_answer).unwrap_or_default()) }
                        td { (words::audit_reason(&a.action, &a.reason)) }
                        td { code { (a.action) } }
                    }
                }
            }
        }
    }
}
