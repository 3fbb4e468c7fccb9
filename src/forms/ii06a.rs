//! Biểu II.06a: handling results at one unit (domain.md §5).
//!
//! Each dossier is first checked (the findings, in the order domain.md gives, the first error
//! wins), then placed in its unit's row for its field, and each of the eleven columns is decided by
//! its own rule. Nothing derives one column from others, so the identities
//! 3 = 4 + 5 + 6, 7 = 8 + 9 + 10, 11 = 12 + 13 and 3 = 7 + 11 are real checks of the rules.

use super::table::{FieldLabels, Tally};
use crate::domain::unit::UnitId;
use crate::domain::{
    Channel, Day, Dossier, Finding, FindingCode, Period, ResultKind, StatusClass, UnitTree,
};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

/// The dossier metrics a form definition may name, in the order [`place`] decides them.
pub const DOSSIER_METRICS: [&str; 11] = [
    "received",
    "received_online",
    "received_in_person_or_post",
    "carried_over",
    "closed",
    "closed_early",
    "closed_on_time",
    "closed_late",
    "pending",
    "pending_within_time",
    "pending_overdue",
];

/// Without a catalogue: the first non-empty TenLinhVuc seen for the code, in input order, over
/// every readable dossier (counted or not), else the code itself.
#[derive(Debug, Default)]
pub struct FirstSeenLabels(HashMap<Arc<str>, Arc<str>, foldhash::fast::RandomState>);

impl FirstSeenLabels {
    pub fn from_dossiers(dossiers: &[Dossier]) -> FirstSeenLabels {
        let mut map: HashMap<Arc<str>, Arc<str>, _> = HashMap::default();
        // Codes arrive interned: once a code has its label, its pointer says so without hashing
        // or comparing its text again.
        let mut labelled: std::collections::HashSet<usize, foldhash::fast::RandomState> =
            Default::default();
        for d in dossiers {
            let code = Arc::as_ptr(&d.field_code) as *const u8 as usize;
            if d.field_name.is_empty() || labelled.contains(&code) {
                continue;
            }
            if !map.contains_key(&*d.field_code) {
                map.insert(d.field_code.clone(), d.field_name.clone());
            }
            labelled.insert(code);
        }
        FirstSeenLabels(map)
    }
}

impl FieldHistory {
    /// The first non-empty names, as [`FirstSeenLabels::from_dossiers`] finds them over the
    /// whole history.
    pub fn labels(&self) -> FirstSeenLabels {
        FirstSeenLabels(
            self.fields
                .iter()
                .filter(|(_, f)| !f.label.is_empty())
                .map(|(code, f)| (Arc::from(code.as_str()), Arc::from(f.label.as_str())))
                .collect(),
        )
    }
}

/// What the labels and `unknown_field` read of each field code over the whole history, for a
/// computation given only the dossiers its period needs (the store keeps it as they are written).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldHistory {
    pub fields: HashMap<String, FieldStart>,
}

/// A field code's first dossier in input order (key, unit, the name it carries, maybe empty) and
/// its first non-empty name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldStart {
    pub first_key: String,
    pub first_unit: String,
    pub first_name: String,
    pub label: String,
}

/// With a catalogue: the published name in force on the period's last day, found by code or by
/// the source's name; a field the catalogue cannot place keeps its first-seen name.
pub struct CatalogLabels<'a> {
    pub catalog: &'a crate::catalog::FieldCatalog,
    pub day: chrono::NaiveDate,
    pub seen: FirstSeenLabels,
}

impl CatalogLabels<'_> {
    /// The published name, if the catalogue knows the field.
    pub fn published(&self, field_code: &str) -> Option<&str> {
        let seen = self.seen.0.get(field_code).map(|s| &**s).unwrap_or("");
        self.catalog.resolve(field_code, seen, self.day)
    }
}

impl FieldLabels for CatalogLabels<'_> {
    fn label(&self, field_code: &str) -> Option<String> {
        self.published(field_code)
            .map(str::to_owned)
            .or_else(|| self.seen.label(field_code))
    }
}

impl FieldLabels for FirstSeenLabels {
    fn label(&self, field_code: &str) -> Option<String> {
        self.0.get(field_code).map(|s| s.to_string())
    }
}

/// What a dossier table reads of the dossiers, found without holding them
/// ([`super::streamed`]): the period's tally, the previous period's (for the column-4 check,
/// when asked), and the rules' findings (the `procedure_not_online` ones included).
#[derive(Debug, Default)]
pub struct Tallied {
    pub now: Tally,
    pub before: Option<Tally>,
    pub findings: Vec<Finding>,
}

/// What the rules make of one dossier for one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Outside this period's report, by rule (excluded status, deleted, received after D, closed
    /// before T): not a problem.
    Outside,
    /// Left out of the counts with an error finding. The message is written only where it
    /// differs per dossier: a pass that keeps no findings (the previous period's) builds none.
    Error(FindingCode, Cow<'static, str>),
    /// Counted in its unit's row for its field; columns 3..13 as 0/1.
    Counted {
        unit: UnitId,
        columns: [bool; 11],
        warning: Option<(FindingCode, Cow<'static, str>)>,
    },
}

/// The period's two bounds as local days: T and D.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub first: Day,
    pub last: Day,
}

impl From<&Period> for Window {
    fn from(p: &Period) -> Window {
        Window {
            first: p.first(),
            last: p.last(),
        }
    }
}

/// Readings of the rules other systems apply where domain.md differs (`reconcile` uses them to
/// explain why another system's statistics differ). All off is domain.md.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reading {
    /// A `Trả lại/Xin rút` dossier stored as 9/10 goes to (8)-(10) by its dates, not to (9).
    pub withdrawn_by_dates: bool,
    /// A dossier received in the period with a channel outside 1-3 counts in (3) and (7)-(13),
    /// in neither (4) nor (5), instead of being left out.
    pub unknown_channel_in_total: bool,
    /// A dossier finished before it was received is counted by its dates.
    pub finished_before_received_counted: bool,
    /// A resolved dossier without a reception date counts in (7) and its (8)-(10) column.
    pub resolved_without_reception_date: bool,
    /// A resolved dossier without a reception date, closed in the period, counts in (3).
    pub received_without_reception_date_counted: bool,
    /// A status-7 dossier without a finish date is left out of every column.
    pub withdrawn_without_finish_date_dropped: bool,
    /// A dossier finished in the period but received after its last day counts as resolved: (3),
    /// (7) and (8)-(10) by its due date, in neither (4)/(5) nor (6).
    pub finished_in_period_received_after_end_counted: bool,
}

/// Applies domain.md §5 to one dossier.
pub fn place(d: &Dossier, w: Window, units: &UnitTree) -> Placement {
    place_as(d, w, units, Reading::default())
}

/// Applies domain.md §5 to one dossier, as changed by `reading`.
pub fn place_as(d: &Dossier, w: Window, units: &UnitTree, reading: Reading) -> Placement {
    let class = d.status.class();
    if class == StatusClass::Excluded || d.deleted {
        return Placement::Outside;
    }
    if reading.withdrawn_without_finish_date_dropped
        && class == StatusClass::Withdrawn
        && d.finished_at.get().is_none()
    {
        return Placement::Outside;
    }
    let withdrawn = class == StatusClass::Withdrawn
        || (!reading.withdrawn_by_dates && d.result_kind == ResultKind::Withdrawal);
    let Some(received) = d.received_at.get().map(|i| i.local_day()) else {
        if (reading.resolved_without_reception_date
            || reading.received_without_reception_date_counted)
            && let Some(p) = resolved_without_reception(d, w, units, withdrawn, reading)
        {
            return p;
        }
        return error(
            FindingCode::NoReceptionDate,
            "NgayTiepNhan để trống: hồ sơ không xếp được vào kỳ nào; bổ sung ngày tiếp nhận trên hệ thống nguồn",
        );
    };
    let finished = d.finished_at.get().map(|i| i.local_day());
    // Received after the period: outside it, unless a reading counts it as finished in it.
    let after_end = received > w.last;
    if after_end
        && !(reading.finished_in_period_received_after_end_counted
            && d.status.reads_finish_date()
            && finished.is_some_and(|k| w.first <= k && k <= w.last))
    {
        return Placement::Outside;
    }
    if class == StatusClass::Finished && finished.is_none() {
        return error(
            FindingCode::FinishedWithoutFinishDate,
            "trạng thái là đã giải quyết xong (9/10) nhưng NgayKetThucXuLy để trống; bổ sung ngày kết thúc xử lý trên hệ thống nguồn",
        );
    }
    // KT means something only for statuses 7, 9 and 10; for any other status the dossier is open.
    let closed_on = if d.status.reads_finish_date() {
        finished
    } else {
        None
    };
    if let Some(k) = closed_on
        && k < received
        && !reading.finished_before_received_counted
        && !after_end
    {
        return error(
            FindingCode::FinishedBeforeReceived,
            "NgayKetThucXuLy trước NgayTiepNhan; sửa một trong hai ngày trên hệ thống nguồn",
        );
    }
    if closed_on.is_some_and(|k| k < w.first) {
        return Placement::Outside;
    }
    let in_period = received >= w.first && !after_end;
    let channel = Channel::classify(&d.channel);
    if in_period && channel.is_none() && !reading.unknown_channel_in_total {
        let msg = format!(
            "KenhThucHien `{}` không phải 1 (trực tiếp), 2 (trực tuyến) hoặc 3 (bưu chính); sửa kênh thực hiện trên hệ thống nguồn",
            d.channel
        );
        return Placement::Error(FindingCode::UnknownChannel, msg.into());
    }
    let Some(unit) = units.find(&d.unit_code) else {
        let msg = format!(
            "MaDonViXuLy `{}` không có trong cây đơn vị; thêm đơn vị (hoặc bí danh) vào cấu hình",
            d.unit_code
        );
        return Placement::Error(FindingCode::UnknownUnit, msg.into());
    };

    let resolved = !withdrawn;
    let due = d.due_at.get().map(|i| i.local_day());
    let closed_in_period = closed_on.filter(|&k| w.first <= k && k <= w.last);
    let pending_at_end = closed_on.is_none_or(|k| k > w.last);
    let paused_at_end = match d.status.code() {
        6 | 8 => true,
        5 => d
            .supplement_requested_at
            .get()
            .is_none_or(|y| y.local_day() <= w.last),
        _ => false,
    };
    let columns = [
        // 3: every dossier of the universe.
        true,
        // 4, 5: received in the period, online / in person or by post.
        in_period && channel == Some(Channel::Online),
        in_period && matches!(channel, Some(Channel::InPerson | Channel::Postal)),
        // 6: carried over from before the period.
        received < w.first,
        // 7: closed in the period; 8–10 split it by due date, withdrawn ones count as on time.
        closed_in_period.is_some(),
        closed_in_period.is_some_and(|k| resolved && due.is_some_and(|h| k < h)),
        closed_in_period.is_some_and(|k| withdrawn || due.is_none_or(|h| k == h)),
        closed_in_period.is_some_and(|k| resolved && due.is_some_and(|h| k > h)),
        // 11: still pending at D; 12 within time (or paused), 13 overdue.
        pending_at_end,
        pending_at_end && (paused_at_end || due.is_none_or(|h| h >= w.last)),
        pending_at_end && !paused_at_end && due.is_some_and(|h| h < w.last),
    ];
    let warning = (class == StatusClass::Withdrawn && finished.is_none()).then_some((
        FindingCode::WithdrawnWithoutFinishDate,
        Cow::Borrowed(
            "status 7 (withdrawal requested) without NgayKetThucXuLy: counted as still pending",
        ),
    ));
    Placement::Counted {
        unit,
        columns,
        warning,
    }
}

/// [`Reading::resolved_without_reception_date`]: a resolved dossier (status 9/10 with KT) closed in
/// the period counts in (7) and, by its due date, (8), (9) or (10);
/// [`Reading::received_without_reception_date_counted`]: it counts in (3). `None` when neither
/// applies.
fn resolved_without_reception(
    d: &Dossier,
    w: Window,
    units: &UnitTree,
    withdrawn: bool,
    reading: Reading,
) -> Option<Placement> {
    if d.status.class() != StatusClass::Finished || withdrawn {
        return None;
    }
    let k = d.finished_at.get()?.local_day();
    let unit = units.find(&d.unit_code)?;
    if k < w.first || k > w.last {
        return Some(Placement::Outside);
    }
    let due = d.due_at.get().map(|i| i.local_day());
    let mut columns = [false; 11];
    columns[0] = reading.received_without_reception_date_counted;
    if reading.resolved_without_reception_date {
        columns[4] = true;
        columns[5] = due.is_some_and(|h| k < h);
        columns[6] = due.is_none_or(|h| k == h);
        columns[7] = due.is_some_and(|h| k > h);
    }
    Some(Placement::Counted {
        unit,
        columns,
        warning: None,
    })
}

fn error(code: FindingCode, message: &'static str) -> Placement {
    Placement::Error(code, Cow::Borrowed(message))
}

/// Adds to `tally` the dossiers of `receptions` the rules count in `period`, by the same
/// placement, under one row of no field. Columns 4 and 5 and which units count anything are
/// exact (what the column-4 check reads); the columns that read due and supplement dates are not.
pub fn tally_receptions(
    tally: &mut Tally,
    receptions: &crate::domain::Receptions,
    units: &UnitTree,
    period: &Period,
) {
    let window = Window::from(period);
    let row: Arc<str> = Arc::from("");
    receptions.each_as_dossier(|d| {
        if let Placement::Counted { unit, columns, .. } = place(d, window, units) {
            tally.add(unit, &row, &columns);
        }
    });
}

/// Places every dossier: metric counts per (unit, field), and the findings, in input order.
pub fn tally(dossiers: &[Dossier], units: &UnitTree, period: &Period) -> (Tally, Vec<Finding>) {
    let mut findings = Vec::new();
    let tally = tally_with(dossiers, units, period, |d, code, message| {
        findings.push(rule_finding(&d.key, &d.unit_code, code, message));
    });
    (tally, findings)
}

/// A rule's finding about one dossier, named by its key and unit.
pub fn rule_finding(
    key: &str,
    unit: &str,
    code: FindingCode,
    message: Cow<'static, str>,
) -> Finding {
    Finding::new(code, key.to_owned(), message.into_owned()).with_unit(unit.to_owned())
}

/// The counts of [`tally`] without its findings: for a period whose findings no one reads (the
/// previous one, for the column-4 check), so that no finding is written only to be dropped.
pub fn tally_counts(dossiers: &[Dossier], units: &UnitTree, period: &Period) -> Tally {
    tally_with(dossiers, units, period, |_, _, _| {})
}

/// Places every dossier; hands each finding, in input order, to `found`.
fn tally_with(
    dossiers: &[Dossier],
    units: &UnitTree,
    period: &Period,
    mut found: impl FnMut(&Dossier, FindingCode, Cow<'static, str>),
) -> Tally {
    let window = Window::from(period);
    let mut tally = Tally::default();
    for d in dossiers {
        match place(d, window, units) {
            Placement::Outside => {}
            Placement::Error(code, message) => found(d, code, message),
            Placement::Counted {
                unit,
                columns,
                warning,
            } => {
                tally.add(unit, &d.field_code, &columns);
                if let Some((code, message)) = warning {
                    found(d, code, message);
                }
            }
        }
    }
    tally
}

#[cfg(test)]
mod tests {
    //! One case per rule of domain.md §5, each built from the rule's own words.
    use super::*;
    use crate::domain::{Instant, Moment, Status};

    const UNITS: &str =
        "[[units]]\ncode=\"U\"\nname=\"Đơn vị\"\nkind=\"department\"\nparent=\"\"\n";

    /// A dossier at unit U, online, status 4, received 1/7/2023, due 10/7/2023.
    fn base() -> Dossier {
        Dossier {
            key: "K".into(),
            procedure_code: "1.0".into(),
            field_code: "F".into(),
            field_name: "Lĩnh vực".into(),
            unit_code: "U".into(),
            channel: "2".into(),
            status: Status::new(4).unwrap(),
            received_at: at("20230701090000").into(),
            due_at: at("20230710090000").into(),
            supplement_requested_at: None.into(),
            finished_at: None.into(),
            returned_at: None.into(),
            updated_at: None.into(),
            result_kind: ResultKind::Other,
            deleted: false,
        }
    }

    fn at(s: &str) -> Option<Instant> {
        Some(Instant::parse(s).unwrap())
    }

    fn placement(d: &Dossier) -> Placement {
        let units = UnitTree::from_toml(UNITS).unwrap();
        place(
            d,
            Window::from(&"2023-Q3".parse::<Period>().unwrap()),
            &units,
        )
    }

    /// Columns 3..13 that are set, as column numbers.
    fn columns(d: &Dossier) -> Vec<usize> {
        match placement(d) {
            Placement::Counted { columns, .. } => columns
                .iter()
                .enumerate()
                .filter(|(_, set)| **set)
                .map(|(i, _)| i + 3)
                .collect(),
            other => panic!("not counted: {other:?}"),
        }
    }

    fn with(f: impl FnOnce(&mut Dossier)) -> Dossier {
        let mut d = base();
        f(&mut d);
        d
    }

    #[test]
    fn pending_online_within_time() {
        assert_eq!(columns(&base()), [3, 4, 11, 13]);
        let d = with(|d| d.due_at = at("20230914090000").into());
        assert_eq!(columns(&d), [3, 4, 11, 12], "due on D is within time");
    }

    #[test]
    fn resolved_early_on_time_late_by_calendar_day() {
        let early = with(|d| {
            d.status = Status::new(9).unwrap();
            d.finished_at = at("20230709235900").into();
        });
        assert_eq!(columns(&early), [3, 4, 7, 8]);
        let same_day = with(|d| {
            d.status = Status::new(10).unwrap();
            d.finished_at = at("20230710235900").into();
        });
        assert_eq!(
            columns(&same_day),
            [3, 4, 7, 9],
            "later on the due day is on time"
        );
        let late = with(|d| {
            d.status = Status::new(10).unwrap();
            d.finished_at = at("20230711000100").into();
        });
        assert_eq!(columns(&late), [3, 4, 7, 10]);
        let no_limit = with(|d| {
            d.status = Status::new(10).unwrap();
            d.due_at = Moment::NONE;
            d.finished_at = at("20230901000000").into();
        });
        assert_eq!(columns(&no_limit), [3, 4, 7, 9]);
    }

    #[test]
    fn withdrawn_dossiers_are_on_time_even_when_late() {
        let stored_as_finished = with(|d| {
            d.status = Status::new(10).unwrap();
            d.finished_at = at("20230801000000").into();
            d.result_kind = ResultKind::Withdrawal;
        });
        assert_eq!(columns(&stored_as_finished), [3, 4, 7, 9]);
        let status7 = with(|d| {
            d.status = Status::new(7).unwrap();
            d.finished_at = at("20230705000000").into();
        });
        assert_eq!(columns(&status7), [3, 4, 7, 9]);
    }

    #[test]
    fn status_7_without_finish_date_is_pending_with_a_warning() {
        let d = with(|d| d.status = Status::new(7).unwrap());
        match placement(&d) {
            Placement::Counted {
                warning: Some((FindingCode::WithdrawnWithoutFinishDate, _)),
                columns,
                ..
            } => {
                assert!(columns[11 - 3] && columns[13 - 3]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn finish_date_is_read_only_for_statuses_7_9_10() {
        let d = with(|d| d.finished_at = at("20230705000000").into());
        assert_eq!(
            columns(&d),
            [3, 4, 11, 13],
            "status 4 with a KT is still pending"
        );
    }

    #[test]
    fn closed_after_d_was_pending_at_d() {
        let d = with(|d| {
            d.status = Status::new(10).unwrap();
            d.finished_at = at("20230920000000").into();
        });
        assert_eq!(columns(&d), [3, 4, 11, 13]);
    }

    #[test]
    fn closed_before_t_is_outside_and_carried_over_needs_no_channel() {
        let closed = with(|d| {
            d.received_at = at("20230601000000").into();
            d.status = Status::new(9).unwrap();
            d.finished_at = at("20230614235959").into();
        });
        assert_eq!(placement(&closed), Placement::Outside);
        let carried = with(|d| {
            d.received_at = at("20230601000000").into();
            d.channel = "".into();
            d.due_at = at("20230920000000").into();
        });
        assert_eq!(columns(&carried), [3, 6, 11, 12]);
    }

    #[test]
    fn paused_at_d_is_within_time() {
        for code in [6, 8] {
            let d = with(|d| d.status = Status::new(code).unwrap());
            assert_eq!(columns(&d), [3, 4, 11, 12], "status {code}");
        }
        let asked_before_d = with(|d| {
            d.status = Status::new(5).unwrap();
            d.supplement_requested_at = at("20230914230000").into();
        });
        assert_eq!(columns(&asked_before_d), [3, 4, 11, 12]);
        let asked_after_d = with(|d| {
            d.status = Status::new(5).unwrap();
            d.supplement_requested_at = at("20230915000100").into();
        });
        assert_eq!(
            columns(&asked_after_d),
            [3, 4, 11, 13],
            "still in progress at D"
        );
        let never_asked = with(|d| d.status = Status::new(5).unwrap());
        assert_eq!(columns(&never_asked), [3, 4, 11, 12]);
    }

    #[test]
    fn findings_in_order_first_error_wins() {
        let no_tn = with(|d| {
            d.received_at = Moment::NONE;
            d.channel = "9".into();
        });
        assert!(matches!(
            placement(&no_tn),
            Placement::Error(FindingCode::NoReceptionDate, _)
        ));
        let finished_no_kt = with(|d| {
            d.status = Status::new(9).unwrap();
            d.channel = "9".into();
        });
        assert!(matches!(
            placement(&finished_no_kt),
            Placement::Error(FindingCode::FinishedWithoutFinishDate, _)
        ));
        let before = with(|d| {
            d.status = Status::new(7).unwrap();
            d.finished_at = at("20230630000000").into();
            d.unit_code = "ELSEWHERE".into();
        });
        assert!(matches!(
            placement(&before),
            Placement::Error(FindingCode::FinishedBeforeReceived, _)
        ));
        let channel_then_unit = with(|d| {
            d.channel = "4".into();
            d.unit_code = "ELSEWHERE".into();
        });
        assert!(matches!(
            placement(&channel_then_unit),
            Placement::Error(FindingCode::UnknownChannel, _)
        ));
        let unit = with(|d| d.unit_code = "ELSEWHERE".into());
        assert!(matches!(
            placement(&unit),
            Placement::Error(FindingCode::UnknownUnit, _)
        ));
        // Received after D: not this period's business, whatever is wrong with it.
        let later = with(|d| {
            d.received_at = at("20230915000000").into();
            d.status = Status::new(9).unwrap();
        });
        assert_eq!(placement(&later), Placement::Outside);
    }

    #[test]
    fn excluded_and_deleted_are_outside() {
        for code in [1, 3] {
            let d = with(|d| {
                d.status = Status::new(code).unwrap();
                d.received_at = Moment::NONE;
            });
            assert_eq!(placement(&d), Placement::Outside);
        }
        let deleted = with(|d| d.deleted = true);
        assert_eq!(placement(&deleted), Placement::Outside);
    }
}
