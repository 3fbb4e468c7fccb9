//! Viewers: the unit page's section where an operator gives a unit's official a one-time link or
//! revokes one, the page that shows a new link once, and the page the link opens.

use crate::admin::html::url;
use maud::{Markup, html};

/// A viewer of the unit: name, and whether they have set their password.
pub struct Viewer<'a> {
    pub name: &'a str,
    pub has_password: bool,
}

/// The unit's viewers, each with a button that revokes them, and the form that issues a link.
/// `base` is the unit's viewers path.
pub fn section(base: &str, viewers: &[Viewer], csrf: &str) -> Markup {
    html! {
        h2 { "Cán bộ đơn vị được xem số liệu" }
        @if viewers.is_empty() {
            p { "Chưa có cán bộ nào của đơn vị được cấp quyền xem." }
        } @else {
            table #viewers {
                tr { th { "Tên đăng nhập" } th { "Tình trạng" } th {} }
                @for v in viewers {
                    tr {
                        td { (v.name) }
                        td { @if v.has_password { "Đã đặt mật khẩu" } @else { "Chưa dùng đường dẫn" } }
                        td {
                            form method="post" action={ (base) "/" (url(v.name)) "/revoke" } {
                                input type="hidden" name="csrf" value=(csrf);
                                button { "Thu hồi quyền xem" }
                            }
                        }
                    }
                }
            }
        }
        form method="post" action=(base) #issue-viewer {
            input type="hidden" name="csrf" value=(csrf);
            "Cấp quyền xem cho cán bộ đơn vị: "
            label { "tên đăng nhập " input name="name" #viewer-name; }
            " "
            button { "Tạo đường dẫn dùng một lần" }
        }
    }
}

/// The page that shows a new one-time link, once.
pub fn issued(name: &str, hours: i64, link: &str, back: &str) -> String {
    super::page(
        "Đường dẫn cho cán bộ đơn vị",
        html! {
            h1 { "Đường dẫn cho cán bộ " (name) }
            p {
                "Gửi đường dẫn dưới đây cho cán bộ (chỉ hiện một lần; dùng được một lần, trong "
                (hours) " giờ). Cán bộ mở đường dẫn, đặt mật khẩu, rồi đăng nhập bằng tên "
                b { (name) } "."
            }
            p { code #viewer-link { (link) } }
            p { a href=(back) { "← Về trang đơn vị" } }
        },
    )
}

/// The page a one-time link opens: the official sets a password.
pub fn welcome(token: &str) -> String {
    super::page(
        "Đặt mật khẩu",
        html! {
            h1 { "Đặt mật khẩu xem số liệu của đơn vị" }
            form method="post" action={ "/welcome/" (url(token)) } {
                p {
                    label {
                        "Mật khẩu (ít nhất 10 ký tự): "
                        input type="password" name="password" #new-password autocomplete="new-password";
                    }
                }
                p {
                    label {
                        "Nhập lại mật khẩu: "
                        input type="password" name="again" #again autocomplete="new-password";
                    }
                }
                button #set-password { "Đặt mật khẩu và vào trang đơn vị" }
            }
        },
    )
}
