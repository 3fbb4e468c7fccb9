//! E-mail on the pages: on a unit's page, its contacts (each with the operator's button that
//! stops or restarts its mail) and the messages sent to it; on the period's page, every message
//! of the period — to whom, what, where it stands and, when it failed, the server's reason.

use crate::admin::html::time;
use crate::store::{MessageRow, MessageState};
use maud::{Markup, html};

/// What a message is, in words.
pub fn kind_words(kind: &str) -> &str {
    match kind {
        "ready" => "Bản nháp đã sẵn sàng",
        "reminder" => "Nhắc hạn gửi báo cáo",
        "overdue" => "Báo cáo quá hạn",
        "digest" => "Tổng hợp cho Văn phòng",
        other => other,
    }
}

fn state_class(state: MessageState) -> &'static str {
    match state {
        MessageState::Sent => "good",
        MessageState::Failed | MessageState::Uncertain => "bad",
        _ => "waiting",
    }
}

fn table(messages: &[MessageRow], with_unit: bool) -> Markup {
    html! {
        table.messages {
            tr {
                th { "Mã" } th { "Lúc" } @if with_unit { th { "Đơn vị" } } th { "Gửi tới" }
                th { "Loại thư" } th { "Tiêu đề" } th { "Tình trạng" } th { "Lần thử" } th { "Trả lời của máy chủ thư" }
            }
            @for m in messages {
                tr.(state_class(m.state)) data-state=(m.state.as_str()) {
                    td { (m.id) }
                    td { (time(m.sent_at.unwrap_or(m.changed_at))) }
                    @if with_unit { td { (m.unit.as_deref().unwrap_or("Văn phòng")) } }
                    td { (m.recipient) }
                    td { (kind_words(&m.kind)) }
                    td { (m.subject) }
                    td { (crate::sync::mail::state_words(m.state)) }
                    td { (m.attempts) }
                    td { code { (m.detail) } }
                }
            }
        }
    }
}

/// The unit page's section. `csrf`: the operator's, who may stop or restart an address's mail.
pub fn unit_section(
    base: &str,
    contacts: &[(&str, bool)],
    messages: &[MessageRow],
    csrf: Option<&str>,
) -> Markup {
    html! {
        h2 #mail { "Thư điện tử" }
        @if contacts.is_empty() {
            p { "Đơn vị chưa có địa chỉ nhận thư (contacts trong danh sách đơn vị)." }
        } @else {
            table #contacts {
                tr { th { "Địa chỉ nhận thư" } th { "Tình trạng" } @if csrf.is_some() { th {} } }
                @for (address, out) in contacts {
                    tr {
                        td { (address) }
                        td { @if *out { "Đã ngừng nhận thư" } @else { "Nhận thư" } }
                        @if let Some(csrf) = csrf {
                            td {
                                form method="post" action={ (base) "/opt-out" } {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="hidden" name="address" value=(address);
                                    input type="hidden" name="out" value=(if *out { "0" } else { "1" });
                                    button { @if *out { "Nhận thư trở lại" } @else { "Ngừng gửi thư" } }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if messages.is_empty() {
            p { "Chưa có thư nào gửi tới đơn vị trong kỳ." }
        } @else {
            (table(messages, false))
        }
    }
}

/// The period page's section: every message of the period, newest first.
pub fn period_section(messages: &[MessageRow]) -> Markup {
    let count = |s: MessageState| messages.iter().filter(|m| m.state == s).count();
    html! {
        h2 #mail { "Thư điện tử đã gửi" }
        @if messages.is_empty() {
            p { "Chưa có thư nào trong kỳ." }
        } @else {
            p {
                "Đã gửi " (count(MessageState::Sent)) "; chờ gửi hoặc sẽ gửi lại "
                (count(MessageState::Pending) + count(MessageState::Sending) + count(MessageState::Retrying))
                "; không gửi được " (count(MessageState::Failed))
                "; chưa rõ đã gửi hay chưa " (count(MessageState::Uncertain))
                " (không tự gửi lại; cán bộ vận hành gửi lại bằng lệnh mail resend)."
            }
            (table(messages, true))
        }
    }
}
