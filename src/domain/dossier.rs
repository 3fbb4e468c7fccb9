//! Dossiers (hồ sơ) as the report rules see them (domain.md §1).
//!
//! A `Dossier` is already parsed: its instants are instants, its status is a known code. Channel
//! and result kind keep their raw text's meaning without judging it: whether a channel is usable
//! depends on the period (a carried-over dossier needs none), so that judgement is the forms'.

use super::instant::Moment;
use std::sync::Arc;
use unicode_normalization::UnicodeNormalization;

/// TrangThaiHoSo, a code from 1 to 10.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Status(u8);

/// How the report rules treat a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    /// 1 registered online but not received, 3 refused at reception: never counted.
    Excluded,
    /// 2 received, 4 processing.
    InProgress,
    /// 5 waiting for a supplement, 6 waiting for a fee, 8 processing stopped.
    Paused,
    /// 7 the applicant asked to withdraw.
    Withdrawn,
    /// 9 processing finished, 10 result handed back.
    Finished,
}

impl Status {
    pub fn new(code: u8) -> Option<Status> {
        (1..=10).contains(&code).then_some(Status(code))
    }

    /// Reads a status as it arrives: digits, white space around them ignored.
    pub fn parse(text: &str) -> Option<Status> {
        text.trim().parse::<u8>().ok().and_then(Status::new)
    }

    pub fn code(self) -> u8 {
        self.0
    }

    pub fn class(self) -> StatusClass {
        match self.0 {
            1 | 3 => StatusClass::Excluded,
            2 | 4 => StatusClass::InProgress,
            5 | 6 | 8 => StatusClass::Paused,
            7 => StatusClass::Withdrawn,
            _ => StatusClass::Finished,
        }
    }

    /// Statuses whose processing-finished instant (KT) means something: 7, 9 and 10.
    pub fn reads_finish_date(self) -> bool {
        matches!(self.class(), StatusClass::Withdrawn | StatusClass::Finished)
    }
}

/// KenhThucHien once it is judged usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// `1`: at the counter.
    InPerson,
    /// `2`: online.
    Online,
    /// `3`: public postal service.
    Postal,
}

impl Channel {
    /// `None` for anything but `1`, `2` or `3` (white space around them ignored).
    pub fn classify(raw: &str) -> Option<Channel> {
        match raw.trim() {
            "1" => Some(Channel::InPerson),
            "2" => Some(Channel::Online),
            "3" => Some(Channel::Postal),
            _ => None,
        }
    }
}

/// What LoaiKetQua says about a finished dossier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResultKind {
    /// `Trả lại/Xin rút`: handed back unresolved or withdrawn.
    Withdrawal,
    /// Anything else, including absent.
    #[default]
    Other,
}

impl ResultKind {
    /// Compares after Unicode NFC normalisation, ignoring case and the spaces around `/`.
    pub fn from_text(text: &str) -> ResultKind {
        // Fast path: nearly every dossier says "Kết quả" or nothing.
        if !text.contains('/') {
            return ResultKind::Other;
        }
        let normalised: String = text.nfc().collect::<String>().to_lowercase();
        let mut parts = normalised.split('/').map(str::trim);
        let is_withdrawal = parts.next() == Some("trả lại")
            && parts.next() == Some("xin rút")
            && parts.next().is_none();
        if is_withdrawal {
            ResultKind::Withdrawal
        } else {
            ResultKind::Other
        }
    }
}

/// One dossier, keyed by MaHoSo within its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dossier {
    /// MaHoSo.
    pub key: Box<str>,
    /// MaTTHC.
    pub procedure_code: Arc<str>,
    /// MaLinhVuc: the row key of II.06a.
    pub field_code: Arc<str>,
    /// TenLinhVuc as the source spells it.
    pub field_name: Arc<str>,
    /// MaDonViXuLy.
    pub unit_code: Arc<str>,
    /// KenhThucHien, raw (trimmed) text; see [`Channel::classify`].
    pub channel: Arc<str>,
    pub status: Status,
    /// NgayTiepNhan (TN).
    pub received_at: Moment,
    /// NgayHenTra (HT): absent when the procedure has no time limit.
    pub due_at: Moment,
    /// NgayYeuCauBoSung (YC).
    pub supplement_requested_at: Moment,
    /// NgayKetThucXuLy (KT).
    pub finished_at: Moment,
    /// NgayTra.
    pub returned_at: Moment,
    /// CapNhatLuc: the source's last-modified instant.
    pub updated_at: Moment,
    /// LoaiKetQua, judged.
    pub result_kind: ResultKind,
    /// DaXoa = 1.
    pub deleted: bool,
}

/// What the column-4 check reads of the dossiers a period reads nothing else of — those of the
/// period before that closed before this one began —, column by column: unit, channel, status,
/// deleted, the reception and finish instants. No key, no field: nothing is listed from them.
#[derive(Debug, Clone, Default)]
pub struct Receptions {
    /// The units' and channels' texts, each once.
    pub texts: Vec<Arc<str>>,
    pub rows: Vec<Reception>,
}

/// One dossier of [`Receptions`]; `unit` and `channel` index its texts.
#[derive(Debug, Clone, Copy)]
pub struct Reception {
    pub unit: u32,
    pub channel: u32,
    pub status: Status,
    pub deleted: bool,
    pub received_at: Moment,
    pub finished_at: Moment,
}

impl Receptions {
    /// Each row as a dossier the rules can place (no key, field or other dates: what the
    /// column-4 check reads does not depend on them), handed to `each` in turn.
    pub fn each_as_dossier(&self, mut each: impl FnMut(&Dossier)) {
        let empty: Arc<str> = Arc::from("");
        let mut d = Dossier {
            key: Box::from(""),
            procedure_code: empty.clone(),
            field_code: empty.clone(),
            field_name: empty.clone(),
            unit_code: empty.clone(),
            channel: empty,
            status: Status(9),
            received_at: Moment::NONE,
            due_at: Moment::NONE,
            supplement_requested_at: Moment::NONE,
            finished_at: Moment::NONE,
            returned_at: Moment::NONE,
            updated_at: Moment::NONE,
            result_kind: ResultKind::Other,
            deleted: false,
        };
        for r in &self.rows {
            d.unit_code = self.texts[r.unit as usize].clone();
            d.channel = self.texts[r.channel as usize].clone();
            d.status = r.status;
            d.deleted = r.deleted;
            d.received_at = r.received_at;
            d.finished_at = r.finished_at;
            each(&d);
        }
    }
}
