//! What a person reads for each code the admin HTTP shows, in Vietnamese: a report's note (the
//! "Ghi chú" column), a push's answer, the audit's actors and actions, a source's failed pull,
//! and the errors pages and the API return. Codes (`login_failed`, `period_not_ended`) stay in a
//! column or field of their own; the English detail the pipeline keeps for logs and the CLI is
//! logged, never shown.

use crate::domain::Instant;
use crate::store::{OutboxRow, OutboxState};
use crate::sync::SyncError;
use crate::sync::outbox::Refused;

/// The note beside a report's state: what happened and what a person does about it.
pub fn note(row: &OutboxRow) -> String {
    use OutboxState::*;
    let forced = row.force.is_some();
    match row.state {
        Created | Updated | Unchanged if forced => {
            "Đã ghi đè theo yêu cầu của cán bộ vận hành".to_owned()
        }
        Created | Updated | Unchanged => String::new(),
        Recreated => "Bản nháp đã bị xoá trên hệ thống báo cáo; đã tạo lại".to_owned(),
        NothingToReport if row.our_version.is_some() => {
            "Đơn vị không có hồ sơ được tính trong kỳ. Bản nháp gửi trước đó vẫn còn trên hệ \
             thống báo cáo: cán bộ cần xoá bản nháp đó"
                .to_owned()
        }
        NothingToReport => {
            "Đơn vị không có hồ sơ được tính trong kỳ: không tạo bản nháp (không gửi số 0)"
                .to_owned()
        }
        Locked => "Cán bộ đã duyệt, ký hoặc gửi báo cáo: không ghi đè; nếu cán bộ trả lại \
                   thành bản nháp, lần đồng bộ sau sẽ cập nhật"
            .to_owned(),
        EditedByPerson => {
            "Cán bộ đã sửa bản nháp: giữ nguyên bản của cán bộ (cán bộ vận hành có thể ghi đè \
             bằng lệnh force-push, kèm lý do)"
                .to_owned()
        }
        WaitingForSource => "Chờ dữ liệu nguồn đầy đủ đến ngày chốt số liệu".to_owned(),
        Sending => match &row.lease {
            Some(lease) => format!(
                "Đang gửi tới hệ thống báo cáo (tiến trình {} giữ đến {}; nếu tiến trình đó đã dừng, \
                 lần chạy sau tiếp tục ngay)",
                lease.owner,
                super::html::time(lease.until)
            ),
            None => "Đang chờ gửi tới hệ thống báo cáo".to_owned(),
        },
        Pending => "Đang chờ gửi tới hệ thống báo cáo".to_owned(),
        Retrying => match row.next_attempt_at {
            Some(at) => format!(
                "Hệ thống báo cáo tạm thời không trả lời được; sẽ tự gửi lại lúc {}",
                super::html::time(at)
            ),
            None => "Hệ thống báo cáo tạm thời không trả lời được; sẽ tự gửi lại".to_owned(),
        },
        Held => "Cán bộ vận hành đang tạm giữ báo cáo này".to_owned(),
        NoCredential => {
            "Đơn vị chưa có tài khoản trên hệ thống này: nhập tài khoản (lệnh creds set)".to_owned()
        }
        LoginFailed => "Hệ thống báo cáo từ chối đăng nhập (sai mật khẩu, mật khẩu hết hạn hoặc \
                        tài khoản bị khoá): cập nhật tài khoản (lệnh creds set)"
            .to_owned(),
        Forbidden => {
            "Tài khoản không có quyền nhập liệu cho đơn vị này trên hệ thống báo cáo".to_owned()
        }
        Invalid => "Hệ thống báo cáo không nhận nội dung bản nháp; bộ phận kỹ thuật xem chi \
                    tiết trong nhật ký hệ thống"
            .to_owned(),
        GivenUp => "Đã thử gửi hết số lần cho phép: cán bộ vận hành cần cho gửi lại".to_owned(),
        Withheld => "Số liệu không qua được kiểm tra tính nhất quán (lỗi phần mềm): không gửi; \
                     báo cho bộ phận kỹ thuật"
            .to_owned(),
    }
}

/// A delivery attempt's answer (`created`, `locked`, `login_failed`, …).
pub fn answer(code: &str) -> &'static str {
    match code {
        "created" => "Đã tạo bản nháp",
        "updated" => "Đã cập nhật bản nháp",
        "unchanged" => "Bản nháp đã đúng số liệu, không ghi",
        "recreated" => "Bản nháp đã bị xoá, đã tạo lại",
        "found_written" => "Bản nháp đã được ghi trước đó (lần ghi chưa kịp ghi nhận)",
        "locked" => "Báo cáo đã được duyệt/ký/gửi, không ghi",
        "edited" => "Cán bộ đã sửa bản nháp, không ghi",
        "forbidden" => "Tài khoản không có quyền nhập liệu",
        "invalid" => "Hệ thống báo cáo không nhận nội dung",
        "unauthorized" => "Hệ thống báo cáo từ chối mã truy cập",
        "transient" => "Hệ thống báo cáo tạm thời không trả lời",
        "no_credential" => "Chưa có tài khoản",
        "login_failed" => "Đăng nhập bị từ chối",
        "login_unavailable" => "Không kết nối được máy chủ đăng nhập",
        _ => "Kết quả khác",
    }
}

/// Who did it: the schedule, an operator on the page or the API, someone at the command line.
pub fn actor(actor: &str) -> String {
    if actor == "schedule" {
        return "Lịch tự động".to_owned();
    }
    if let Some(name) = actor.strip_prefix("operator:") {
        return format!("Cán bộ vận hành {name}");
    }
    if let Some(name) = actor.strip_prefix("viewer:") {
        return format!("Cán bộ đơn vị {name}");
    }
    if let Some(user) = actor.strip_prefix("cli:") {
        return format!("Dòng lệnh (người dùng {user})");
    }
    actor.to_owned()
}

/// What was done.
pub fn action(action: &str) -> &'static str {
    match action {
        "write" => "Ghi bản nháp",
        "accept_stale" => "Gửi khi dữ liệu nguồn chưa đủ",
        "outbox_retry" => "Cho gửi lại",
        "outbox_hold" => "Tạm giữ",
        "outbox_release" => "Bỏ tạm giữ",
        "force_push" => "Ghi đè bản cán bộ đã sửa",
        "rearm" => "Gửi lại sau khi có tài khoản mới",
        "credential_set" => "Nhập tài khoản",
        "credential_rotate" => "Đổi khoá mã hoá tài khoản",
        "receiver_client_set" => "Cấp quyền gửi dữ liệu",
        "receiver_client_removed" => "Thu hồi quyền gửi dữ liệu",
        "sign_in_lockout" => "Tạm khoá đăng nhập",
        "viewer_issue" => "Cấp quyền xem cho cán bộ đơn vị",
        "viewer_revoke" => "Thu hồi quyền xem",
        "viewer_visit" => "Cán bộ đơn vị xem trang",
        _ => "Thao tác khác",
    }
}

/// An audit line's result: a push's answer, or a state change `pending -> held`.
pub fn audit_answer(answer: &str) -> String {
    match answer.split_once(" -> ") {
        Some((from, to)) => format!("{} → {}", state_word(from), state_word(to)),
        None => self::answer(answer).to_owned(),
    }
}

fn state_word(code: &str) -> &'static str {
    OutboxState::ALL
        .iter()
        .find(|s| s.as_str() == code)
        .map_or("khác", |s| super::html::state_vi(*s).0)
}

/// An audit line's reason: what an operator typed stays theirs; what the machine wrote is said
/// in Vietnamese.
pub fn audit_reason(action: &str, reason: &str) -> String {
    if let Some(rest) = reason.strip_prefix("forced by ")
        && let Some((by, why)) = rest.split_once(": ")
    {
        return format!("Ghi đè theo yêu cầu của {}: {why}", self::actor(by));
    }
    match action {
        // The push's own detail: the answer column says it.
        "write" => String::new(),
        "rearm" => "Đã có tài khoản mới".to_owned(),
        _ => reason.to_owned(),
    }
}

/// Why a source's latest pull failed, from the error the pull logged.
pub fn pull_failure(detail: &str) -> String {
    let d = detail.to_ascii_lowercase();
    let said = if d.contains("unavailable") || d.contains("http 5") || d.contains("timed out") {
        "Hệ thống nguồn tạm thời không trả lời; sẽ lấy lại ở lần sau"
    } else if d.contains("login")
        || d.contains("token")
        || d.contains("session")
        || d.contains("invalid_grant")
        || d.contains("unauthorized")
    {
        "Hệ thống nguồn từ chối đăng nhập: kiểm tra tài khoản của nguồn (lệnh creds set)"
    } else if d.contains("certificate") {
        "Chứng chỉ của hệ thống nguồn không được tin cậy: kiểm tra cấu hình TLS"
    } else if d.contains("contract") || d.contains("parse") {
        "Hệ thống nguồn trả dữ liệu không đúng giao thức đã cấu hình"
    } else {
        "Lấy dữ liệu không thành công"
    };
    format!("{said} (chi tiết trong nhật ký hệ thống)")
}

/// An error a page or the API returns, in words an operator reads; the detail is logged.
pub fn sync_error(e: &SyncError) -> String {
    tracing::warn!(error = %e, "admin request failed");
    match e {
        SyncError::Store(_) => {
            "Không đọc hoặc ghi được cơ sở dữ liệu; thử lại sau ít phút, nếu vẫn lỗi báo bộ phận \
             kỹ thuật"
                .to_owned()
        }
        SyncError::Config(_) => {
            "Yêu cầu không khớp với cấu hình (đơn vị, biểu mẫu hoặc kỳ báo cáo không có)".to_owned()
        }
        SyncError::Upstream(_) => {
            "Không kết nối được hệ thống nguồn hoặc hệ thống báo cáo; thử lại sau".to_owned()
        }
        SyncError::Busy(_) => {
            "Một lần đồng bộ khác của kỳ này đang chạy; đợi nó xong rồi thử lại".to_owned()
        }
        SyncError::Internal(_) => {
            "Lỗi kiểm tra nội bộ của phần mềm; báo cho bộ phận kỹ thuật".to_owned()
        }
    }
}

/// A period that could not be read from the address.
pub fn period_error(text: &str) -> String {
    format!(
        "Không có kỳ báo cáo «{text}». Viết kỳ theo dạng NĂM-Mtháng (tháng, ví dụ 2023-M09), \
         NĂM-Qquý (quý, ví dụ 2023-Q3), NĂM-H1 hoặc NĂM-H2 (6 tháng), NĂM-9M (9 tháng), NĂM-Y (năm)"
    )
}

/// Why an operator's action on a report was refused.
pub fn refusal(why: Refused) -> &'static str {
    match why {
        Refused::InFlight => "Báo cáo đang được gửi; thử lại sau ít phút",
        Refused::WaitsForSource => "Báo cáo đang chờ dữ liệu nguồn: đồng bộ lại kỳ báo cáo trước",
        Refused::NothingToSend | Refused::NoSuchReport => {
            "Chưa có nội dung để gửi: đồng bộ kỳ báo cáo trước"
        }
        Refused::Approved => "Báo cáo đã được duyệt, ký hoặc gửi: không bao giờ ghi đè",
        Refused::NotHeld => "Báo cáo không bị tạm giữ",
    }
}

/// "phiên bản 3".
pub fn version(v: Option<i64>) -> String {
    v.map_or_else(String::new, |v| format!(" (phiên bản {v})"))
}

/// When a re-sync ended, for the page it comes back to.
pub fn synced(at: Instant) -> String {
    format!(
        "Đã đồng bộ lại đơn vị này, xong lúc {}: số liệu dưới đây tính từ dữ liệu vừa lấy về; \
         bản nháp được gửi dần tới các hệ thống báo cáo.",
        super::html::time(at)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ReportId;

    /// The test-owned list of English a person must never read.
    fn english() -> impl Iterator<Item = &'static str> {
        include_str!("../../tests/fixtures/english-phrases.txt")
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
    }

    fn clean(text: &str) {
        for phrase in english() {
            assert!(
                !text.to_lowercase().contains(&phrase.to_lowercase()),
                "`{phrase}` in: {text}"
            );
        }
    }

    #[test]
    fn every_word_shown_for_a_code_is_vietnamese() {
        let report: ReportId = "central/II.06a/2023-Q3/000.10.00.H55".parse().unwrap();
        for state in OutboxState::ALL {
            let mut row = OutboxRow::new(report.clone(), state, Instant(1_700_000_000));
            row.detail = "approved: not touched; login refused (invalid_grant)".into();
            row.next_attempt_at = Some(Instant(1_700_000_600));
            clean(&note(&row));
            row.our_version = Some(1);
            clean(&note(&row));
        }
        for code in [
            "created",
            "updated",
            "unchanged",
            "recreated",
            "found_written",
            "locked",
            "edited",
            "forbidden",
            "invalid",
            "unauthorized",
            "transient",
            "no_credential",
            "login_failed",
            "login_unavailable",
        ] {
            assert_ne!(answer(code), answer("?"), "{code} has its words");
            clean(answer(code));
            clean(&format!("{}{}", answer(code), version(Some(1))));
        }
        clean(&audit_answer("pending -> held"));
        for who in ["schedule", "operator:Nguyễn Văn An", "cli:root"] {
            clean(&actor(who));
        }
        for what in [
            "write",
            "accept_stale",
            "outbox_retry",
            "outbox_hold",
            "outbox_release",
            "force_push",
            "rearm",
            "credential_set",
        ] {
            assert_ne!(action(what), action("?"), "{what} has its words");
            clean(action(what));
            clean(&audit_reason(what, "a new login was set"));
        }
        clean(&audit_reason("force_push", "forced by cli:ops: Sở yêu cầu"));
        for detail in [
            "the source is unavailable for now: HTTP 503",
            "login refused (invalid_grant): the password is wrong",
            "something else",
        ] {
            clean(&pull_failure(detail));
        }
        for e in [
            SyncError::Busy("a run of 2023-Q3 holds it".into()),
            SyncError::Config("unknown period `x`: expected YYYY-Mmm".into()),
            SyncError::Upstream("HTTP 503".into()),
            SyncError::Internal("created".into()),
        ] {
            clean(&sync_error(&e));
        }
        clean(&period_error("2023-Q5"));
        for why in [
            Refused::NoSuchReport,
            Refused::InFlight,
            Refused::WaitsForSource,
            Refused::NothingToSend,
            Refused::NotHeld,
            Refused::Approved,
        ] {
            clean(refusal(why));
        }
    }
}
