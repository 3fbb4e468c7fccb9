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
            // NUL and other control characters are not allowed in HTML text: each is shown as
            // U+FFFD (the replacement character), never echoed raw.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
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

/// Time left to a deadline (the whole day `deadline`, ICT) at `now`: "còn 2 ngày 5 giờ", or once
/// it has passed, the calendar days since: "đã quá hạn 1 ngày" from the day after it.
pub fn countdown(deadline: chrono::NaiveDate, now: Instant) -> String {
    let end = Instant::from_local(
        (deadline + chrono::Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .expect("midnight"),
    );
    let left = end.0 - now.0;
    if left > 0 {
        format!("còn {} ngày {} giờ", left / 86_400, (left % 86_400) / 3600)
    } else {
        let late = (now.to_local().date() - deadline).num_days().max(1);
        format!("đã quá hạn {late} ngày")
    }
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
#grid thead th {{ position: sticky; top: 0; z-index: 1; }}
pre.draft-text {{ white-space: pre-wrap; max-width: 60em; font-size: 13px; }}
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

/// The login page; after signing in the operator lands on `next` (a page of this server) or "/".
pub fn login_page(message: Option<&str>, next: Option<&str>) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8"><title>Đăng nhập — baocao-sync</title></head><body>
<h1>baocao-sync: đăng nhập</h1>
{}
<form method="post" action="/login">
<p><label>Mã truy cập của cán bộ vận hành: <input type="password" name="token" id="token" autocomplete="off"></label></p>
<p>Cán bộ đơn vị: <label>tên đăng nhập <input name="name" id="name" autocomplete="username"></label>
<label>mật khẩu <input type="password" name="password" id="password" autocomplete="current-password"></label></p>
{}<button type="submit" id="login">Đăng nhập</button>
</form></body></html>"#,
        message.map_or_else(String::new, |m| format!("<p>{}</p>", esc(m))),
        next.and_then(local_path)
            .map_or_else(String::new, |n| format!(
                r#"<input type="hidden" name="next" value="{}">"#,
                esc(n)
            ))
    )
}

/// `path` if it is a page of this server ("/periods/…"), never another site ("//host", "/\\host",
/// "https://…") or the login page itself.
pub fn local_path(path: &str) -> Option<&str> {
    let b = path.as_bytes();
    (b.first() == Some(&b'/')
        && !matches!(b.get(1), Some(b'/' | b'\\'))
        && !path.chars().any(char::is_control)
        && !path.starts_with("/login"))
    .then_some(path)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(local: &str) -> Instant {
        Instant::from_local(
            chrono::NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M").expect("a time"),
        )
    }

    #[test]
    fn only_pages_of_this_server_are_landed_on() {
        assert_eq!(
            local_path("/periods/2023-Q3/units/000.10.00.H55?x=1"),
            Some("/periods/2023-Q3/units/000.10.00.H55?x=1")
        );
        for away in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "",
            "/login",
            "/a\nb",
        ] {
            assert_eq!(local_path(away), None, "{away}");
        }
    }

    #[test]
    fn control_characters_are_never_echoed_raw() {
        assert_eq!(esc("000.10\0.H55<b>"), "000.10\u{FFFD}.H55&lt;b&gt;");
        assert_eq!(esc("a\u{1b}[31m\u{7f}"), "a\u{FFFD}[31m\u{FFFD}");
        assert_eq!(esc("dòng\tmột\ndòng hai"), "dòng\tmột\ndòng hai");
    }

    #[test]
    fn a_deadline_passed_yesterday_is_one_day_late() {
        let deadline = chrono::NaiveDate::from_ymd_opt(2023, 9, 19).expect("a day");
        for (now, said) in [
            ("2023-09-20 09:00", "đã quá hạn 1 ngày"),
            ("2023-09-20 00:00", "đã quá hạn 1 ngày"),
            ("2023-09-22 23:30", "đã quá hạn 3 ngày"),
            ("2023-09-19 21:00", "còn 0 ngày 3 giờ"),
            ("2023-09-17 12:00", "còn 2 ngày 12 giờ"),
        ] {
            assert_eq!(countdown(deadline, at(now)), said, "at {now}");
        }
    }
}
