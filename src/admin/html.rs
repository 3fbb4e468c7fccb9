//! The pages' vocabulary: escaping, the layout (no script, no CDN: a plain page old browsers
//! show), and the Vietnamese words for states, each with a colour that is never the only sign.

use crate::domain::Instant;
use crate::store::OutboxState;

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes a path segment or query value.
pub fn url(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// "dd/mm/yyyy HH:MM" in ICT.
pub fn time(i: Instant) -> String {
    i.to_local().format("%d/%m/%Y %H:%M").to_string()
}

/// A whole page.
pub fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — baocao-sync</title>
<style>
body {{ font-family: Arial, "Liberation Sans", sans-serif; font-size: 14px; margin: 12px; color: #111; }}
h1 {{ font-size: 20px; margin: 4px 0; }} h2 {{ font-size: 16px; margin: 16px 0 6px; }}
table {{ border-collapse: collapse; margin: 6px 0; }}
th, td {{ border: 1px solid #999; padding: 3px 6px; vertical-align: top; }}
th {{ background: #eee; }}
td.n {{ text-align: right; }}
.s-good {{ background: #d8f0d8; }} .s-info {{ background: #dde8f8; }} .s-wait {{ background: #fdf0c8; }}
.s-bad {{ background: #f8d4d4; font-weight: bold; }} .s-none {{ background: #f4f4f4; color: #555; }}
.note {{ color: #444; }} .nav a {{ margin-right: 12px; }}
</style></head><body>
<div class="nav"><a href="/">Trang chính</a><form method="post" action="/logout" style="display:inline"><button>Đăng xuất</button></form></div>
{body}
</body></html>"#,
        title = esc(title)
    )
}

pub fn login_page(message: Option<&str>) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8"><title>Đăng nhập — baocao-sync</title></head><body>
<h1>baocao-sync: đăng nhập</h1>
{}
<form method="post" action="/login">
<label>Mã truy cập của cán bộ vận hành: <input type="password" name="token" id="token" autocomplete="off"></label>
<button type="submit" id="login">Đăng nhập</button>
</form></body></html>"#,
        message.map_or_else(String::new, |m| format!("<p>{}</p>", esc(m)))
    )
}

/// How bad a state is, for roll-ups: the worst state of a group is shown for it.
pub fn severity(state: OutboxState) -> u8 {
    use OutboxState::*;
    match state {
        NothingToReport => 0,
        Created | Updated | Unchanged | Recreated => 1,
        Locked => 2,
        EditedByPerson => 3,
        Pending | Sending => 4,
        Retrying | WaitingForSource => 5,
        Held => 6,
        NoCredential | LoginFailed | Forbidden | Invalid | GivenUp => 8,
        Withheld => 9,
    }
}

/// The state in words an official reads, and its colour class.
pub fn state_vi(state: OutboxState) -> (&'static str, &'static str) {
    use OutboxState::*;
    match state {
        Created | Updated | Unchanged | Recreated => ("Đã có bản nháp", "s-good"),
        NothingToReport => ("Không có số liệu", "s-none"),
        Locked => ("Đã duyệt/ký/gửi", "s-info"),
        EditedByPerson => ("Cán bộ đã sửa", "s-info"),
        WaitingForSource => ("Chờ dữ liệu nguồn", "s-wait"),
        Pending | Sending => ("Đang gửi", "s-wait"),
        Retrying => ("Đang thử lại", "s-wait"),
        Held => ("Tạm giữ", "s-wait"),
        NoCredential => ("Thiếu tài khoản", "s-bad"),
        LoginFailed => ("Đăng nhập lỗi", "s-bad"),
        Forbidden => ("Không có quyền", "s-bad"),
        Invalid => ("Bị từ chối", "s-bad"),
        GivenUp => ("Đã ngừng thử", "s-bad"),
        Withheld => ("Lỗi tính toán (giữ lại)", "s-bad"),
    }
}

/// A reporting system's name.
pub fn system_vi(system: &str) -> &str {
    match system {
        "central" => "Trung ương",
        "provincial" => "Tỉnh",
        other => other,
    }
}
