//! Satisfaction ratings (đánh giá mức độ hài lòng, domain.md §1) and feedback (phản ánh, kiến nghị).
//! Like dossiers, they are parsed values; channel, content kind and state keep their raw text for
//! the forms to judge.

use super::instant::Instant;
use std::sync::Arc;

/// MucDo: 1 very satisfied, 2 satisfied, 3 not satisfied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Level(u8);

impl Level {
    pub fn parse(text: &str) -> Option<Level> {
        match text.trim().parse::<u8>() {
            Ok(n @ 1..=3) => Some(Level(n)),
            _ => None,
        }
    }

    pub fn code(self) -> u8 {
        self.0
    }

    /// Levels 1 and 2 count as satisfied.
    pub fn is_satisfied(self) -> bool {
        self.0 <= 2
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rating {
    /// MaDanhGia.
    pub key: Box<str>,
    /// MaHoSo of the rated dossier.
    pub dossier_key: Box<str>,
    /// MaDonVi.
    pub unit_code: Arc<str>,
    pub level: Level,
    /// KenhDanhGia, raw: `tablet`, `phieu` (paper form) or `truc-tuyen` (online).
    pub channel: Arc<str>,
    /// ThoiGianDanhGia.
    pub rated_at: Option<Instant>,
    pub updated_at: Option<Instant>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    /// MaPAKN.
    pub key: Box<str>,
    /// MaDonVi.
    pub unit_code: Arc<str>,
    /// NgayTiepNhan.
    pub received_at: Option<Instant>,
    /// LoaiNoiDung, raw: `quy-dinh` (about a regulation) or `hanh-vi` (about conduct).
    pub content: Arc<str>,
    /// TrangThai, raw: `dang-xu-ly` (being processed) or `da-xu-ly` (processed).
    pub state: Arc<str>,
    /// NgayXuLy.
    pub processed_at: Option<Instant>,
    /// CongKhai = 1: the answer was published.
    pub published: bool,
    pub updated_at: Option<Instant>,
}
