//! The pages' vocabulary: links, times and countdowns in ICT, and the Vietnamese words for
//! states, each with a colour that is never the only sign. The markup is in `templates`.

use crate::domain::Instant;
use crate::store::OutboxState;

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
