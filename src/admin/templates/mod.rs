//! The pages as markup: maud templates, each a function from what a page shows (a view the
//! handlers in `pages` gather from the store) to HTML. maud escapes every value spliced into text
//! or an attribute by construction, so no page can forget to; `PreEscaped` appears only for the
//! style sheet below. `document` then shows any control character a value carried (a NUL in a
//! unit path, say) as U+FFFD, never raw.
//!
//! No script, no CDN: a plain page old browsers show.

pub mod explain;
pub mod grid;
pub mod mail;
pub mod unit;
pub mod viewers;

use maud::{DOCTYPE, Markup, PreEscaped, html};

const STYLE: &str = r#"
body { font-family: Arial, "Liberation Sans", sans-serif; font-size: 14px; margin: 12px; color: #111; }
h1 { font-size: 20px; margin: 4px 0; } h2 { font-size: 16px; margin: 16px 0 6px; }
table { border-collapse: collapse; margin: 6px 0; }
th, td { border: 1px solid #999; padding: 3px 6px; vertical-align: top; }
th { background: #eee; }
#grid thead th { position: sticky; top: 0; z-index: 1; }
pre.draft-text { white-space: pre-wrap; max-width: 60em; font-size: 13px; }
td.n { text-align: right; }
.s-good { background: #d8f0d8; } .s-info { background: #dde8f8; } .s-wait { background: #fdf0c8; }
.s-bad { background: #f8d4d4; font-weight: bold; } .s-none { background: #f4f4f4; color: #555; }
.note { color: #444; } .nav a { margin-right: 12px; }
"#;

/// A whole page of a signed-in person: the navigation, then `body`.
pub fn page(title: &str, body: Markup) -> String {
    document(html! {
        (DOCTYPE)
        html lang="vi" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — baocao-sync" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                div.nav {
                    a href="/" { "Trang chính" }
                    form method="post" action="/logout" style="display:inline" {
                        button { "Đăng xuất" }
                    }
                }
                (body)
            }
        }
    })
}

/// A page that says what could not be done.
pub fn error(message: &str) -> String {
    page(
        "Lỗi",
        html! {
            h1 { "Không thực hiện được" }
            p { (message) }
        },
    )
}

/// The login page; after signing in the person lands on `next` (already checked to be a page of
/// this server).
pub fn login(message: Option<&str>, next: Option<&str>) -> String {
    document(html! {
        (DOCTYPE)
        html lang="vi" {
            head {
                meta charset="utf-8";
                title { "Đăng nhập — baocao-sync" }
            }
            body {
                h1 { "baocao-sync: đăng nhập" }
                @if let Some(m) = message { p { (m) } }
                form method="post" action="/login" {
                    p {
                        label {
                            "Mã truy cập của cán bộ vận hành: "
                            input type="password" name="token" id="token" autocomplete="off";
                        }
                    }
                    p {
                        "Cán bộ đơn vị: "
                        label { "tên đăng nhập " input name="name" id="name" autocomplete="username"; }
                        " "
                        label {
                            "mật khẩu "
                            input type="password" name="password" id="password" autocomplete="current-password";
                        }
                    }
                    @if let Some(n) = next { input type="hidden" name="next" value=(n); }
                    button type="submit" id="login" { "Đăng nhập" }
                }
            }
        }
    })
}

/// The markup as text, each control character but tab and line breaks shown as U+FFFD.
fn document(markup: Markup) -> String {
    let text = markup.into_string();
    let shown = |c: char| !c.is_control() || matches!(c, '\t' | '\n' | '\r');
    if text.chars().all(shown) {
        return text;
    }
    text.chars()
        .map(|c| if shown(c) { c } else { '\u{FFFD}' })
        .collect()
}

/// A link to a unit's page.
pub fn unit_link(period: &str, unit: &str) -> String {
    format!(
        "/periods/{}/units/{}",
        super::html::url(period),
        super::html::url(unit)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_control_characters_never_echoed_raw() {
        let shown = error("000.10\0.H55<b>\"x\"");
        assert!(
            shown.contains("000.10\u{FFFD}.H55&lt;b&gt;&quot;x&quot;"),
            "{shown}"
        );
        assert!(!shown.contains('\0'));
        let shown = error("a\u{1b}[31m\u{7f}");
        assert!(shown.contains("a\u{FFFD}[31m\u{FFFD}"), "{shown}");
        let shown = login(None, Some("/periods/x\"><script>"));
        assert!(
            shown.contains("value=\"/periods/x&quot;&gt;&lt;script&gt;\""),
            "{shown}"
        );
    }

    /// Markup is written only in the templates, and nothing but the style sheet is spliced in
    /// unescaped: a page cannot forget to escape.
    #[test]
    fn markup_lives_only_in_templates() {
        let handlers = [
            ("api.rs", include_str!("../api.rs")),
            ("html.rs", include_str!("../html.rs")),
            ("mod.rs", include_str!("../mod.rs")),
            ("pages.rs", include_str!("../pages.rs")),
            ("view.rs", include_str!("../view.rs")),
            ("words.rs", include_str!("../words.rs")),
        ];
        for (file, text) in handlers {
            for tag in [
                "<h1", "<p>", "<p ", "<table", "<tr>", "<tr ", "<td", "<form ", "<a href", "<br>",
            ] {
                assert!(
                    !text.contains(tag),
                    "{file} writes markup ({tag}): move it to templates/"
                );
            }
            assert!(
                !text.contains("PreEscaped"),
                "{file} splices unescaped text"
            );
        }
        let templates = [
            include_str!("explain.rs"),
            include_str!("grid.rs"),
            include_str!("mail.rs"),
            include_str!("unit.rs"),
            include_str!("viewers.rs"),
        ];
        for text in templates {
            assert!(
                !text.contains("PreEscaped"),
                "a template splices unescaped text"
            );
        }
    }
}
