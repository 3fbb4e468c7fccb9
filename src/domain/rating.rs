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

/// Satisfaction as a one-stop system reports it to the national portal (`DongBoDanhGia`): for
/// one unit, one calendar month and one question, how many people rated and what share chose
/// each level, in whole or decimal percents. There is no rating per dossier on this path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingMonth {
    /// The unit as the source named it, resolved to a unit code where it could be.
    pub unit_code: Arc<str>,
    /// The calendar month (year, 1–12).
    pub month: (i32, u32),
    /// NoiDung: the question.
    pub question: Arc<str>,
    /// TongSoNguoiDanhGia.
    pub raters: u64,
    /// RatHaiLong, HaiLong, ChuaHaiLong in hundredths of a percent (87.5% is 8750).
    pub shares: [u32; 3],
}

impl RatingMonth {
    /// A share as written ("87%", "87.5 %", "87", "87,5%") in hundredths of a percent.
    pub fn share(text: &str) -> Option<u32> {
        let t = text.trim().trim_end_matches('%').trim().replace(',', ".");
        if t.is_empty() {
            return Some(0);
        }
        let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let whole: u32 = whole.parse().ok()?;
        let frac: u32 = format!("{frac:0<2}").parse().ok()?;
        let v = whole.checked_mul(100)?.checked_add(frac)?;
        (v <= 10_000).then_some(v)
    }

    /// Raters per level, reconstructed from the shares so that they add up to `raters`: each
    /// level's exact share of the raters rounded down, the raters left over given to the levels
    /// with the largest remainders (Hamilton's method; ties to the more satisfied level). When
    /// the shares do not add up to 100 % the counts are scaled to what they do add up to.
    pub fn counts(&self) -> [u64; 3] {
        let total: u64 = self.shares.iter().map(|&s| u64::from(s)).sum();
        if total == 0 || self.raters == 0 {
            return [0; 3];
        }
        let exact: Vec<(u64, u64)> = self
            .shares
            .iter()
            .map(|&s| {
                let n = u64::from(s) * self.raters;
                (n / total, n % total)
            })
            .collect();
        let mut counts = [exact[0].0, exact[1].0, exact[2].0];
        let mut left = self.raters - counts.iter().sum::<u64>();
        let mut order = [0usize, 1, 2];
        order.sort_by(|&a, &b| exact[b].1.cmp(&exact[a].1).then(a.cmp(&b)));
        for &i in order.iter().cycle() {
            if left == 0 {
                break;
            }
            counts[i] += 1;
            left -= 1;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_read_as_written() {
        assert_eq!(RatingMonth::share("87%"), Some(8700));
        assert_eq!(RatingMonth::share(" 87.5 %"), Some(8750));
        assert_eq!(RatingMonth::share("12,25%"), Some(1225));
        assert_eq!(RatingMonth::share("100"), Some(10_000));
        assert_eq!(RatingMonth::share(""), Some(0));
        assert_eq!(RatingMonth::share("101%"), None);
        assert_eq!(RatingMonth::share("-3%"), None);
        assert_eq!(RatingMonth::share("1.234%"), None);
    }

    #[test]
    fn counts_add_up_to_the_raters() {
        let m = |raters, shares| RatingMonth {
            unit_code: "U".into(),
            month: (2023, 7),
            question: "Q".into(),
            raters,
            shares,
        };
        // 87% of 120 = 104.4, 10% = 12, 3% = 3.6: 104 + 12 + 3 = 119, one left, to the .6.
        assert_eq!(m(120, [8700, 1000, 300]).counts(), [104, 12, 4]);
        // Thirds: 33/33/34 of 10 raters → 3.3 each; the one left goes to the first tie.
        assert_eq!(m(10, [3333, 3333, 3334]).counts(), [3, 3, 4]);
        // Shares adding up to 99% are scaled to what they add up to.
        assert_eq!(m(100, [5000, 4900, 0]).counts(), [51, 49, 0]);
        assert_eq!(m(0, [5000, 5000, 0]).counts(), [0, 0, 0]);
        assert_eq!(m(7, [0, 0, 0]).counts(), [0, 0, 0]);
    }
}
