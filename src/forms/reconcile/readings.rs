//! The known other readings of domain.md §5, one definition each, in the order `reconcile` walks
//! them: its code, what the other system does in an official's words, the dossiers it applies to,
//! the columns it moves, and the switch in [`Reading`] that makes `ii06a::place_as` apply it. A
//! reading is added by adding an entry here and its switch in the placement rules.

use super::super::ii06a::Reading;
use serde::Serialize;

/// One known other reading.
pub struct Definition {
    pub code: &'static str,
    /// What the other system does, in Vietnamese.
    pub label_vi: &'static str,
    /// The dossiers it applies to, in Vietnamese.
    pub applies_to_vi: &'static str,
    /// The columns it can move a dossier into or out of.
    pub columns: &'static [u32],
    /// Turns it on.
    set: fn(&mut Reading),
}

/// The readings, in the order a dossier is attributed to them.
pub const READINGS: [Definition; 7] = [
    Definition {
        code: "withdrawn_by_dates",
        label_vi: "Hồ sơ \"Trả lại/Xin rút\" lưu ở trạng thái 9/10 được xếp vào cột (8) hoặc (10) theo ngày, thay vì cột (9)",
        applies_to_vi: "Hồ sơ trạng thái 9/10 có kết quả \"Trả lại/Xin rút\", kết thúc trong kỳ",
        columns: &[8, 9, 10],
        set: |r| r.withdrawn_by_dates = true,
    },
    Definition {
        code: "unknown_channel_in_total",
        label_vi: "Hồ sơ tiếp nhận trong kỳ có kênh thực hiện không phải 1, 2, 3 được tính vào cột (3) và (7)-(13) nhưng không vào (4), (5), thay vì không tính",
        applies_to_vi: "Hồ sơ tiếp nhận trong kỳ có KenhThucHien ngoài 1, 2, 3",
        columns: &[3, 7, 8, 9, 10, 11, 12, 13],
        set: |r| r.unknown_channel_in_total = true,
    },
    Definition {
        code: "finished_before_received_counted",
        label_vi: "Hồ sơ có ngày kết thúc xử lý trước ngày tiếp nhận (tiếp nhận trong kỳ hoặc trước kỳ) vẫn được tính theo các ngày của nó, thay vì không tính",
        applies_to_vi: "Hồ sơ có NgayKetThucXuLy trước NgayTiepNhan, tiếp nhận không sau ngày cuối kỳ",
        columns: &[3, 4, 5, 6, 7, 8, 9, 10],
        set: |r| r.finished_before_received_counted = true,
    },
    Definition {
        code: "resolved_without_reception_date",
        label_vi: "Hồ sơ đã giải quyết không có ngày tiếp nhận được tính vào cột (7) và cột (8)-(10) tương ứng, thay vì không tính",
        applies_to_vi: "Hồ sơ trạng thái 9/10 (không phải \"Trả lại/Xin rút\") không có NgayTiepNhan, kết thúc trong kỳ",
        columns: &[7, 8, 9, 10],
        set: |r| r.resolved_without_reception_date = true,
    },
    Definition {
        code: "received_without_reception_date_counted",
        label_vi: "Hồ sơ đã giải quyết không có ngày tiếp nhận còn được tính vào cột (3), thay vì không tính",
        applies_to_vi: "Hồ sơ trạng thái 9/10 (không phải \"Trả lại/Xin rút\") không có NgayTiepNhan, kết thúc trong kỳ",
        columns: &[3],
        set: |r| r.received_without_reception_date_counted = true,
    },
    Definition {
        code: "withdrawn_without_finish_date_dropped",
        label_vi: "Hồ sơ trạng thái 7 (xin rút) không có ngày kết thúc xử lý bị bỏ khỏi mọi cột, thay vì tính là đang giải quyết",
        applies_to_vi: "Hồ sơ trạng thái 7 không có NgayKetThucXuLy",
        columns: &[3, 4, 5, 6, 11, 12, 13],
        set: |r| r.withdrawn_without_finish_date_dropped = true,
    },
    Definition {
        code: "finished_in_period_received_after_end_counted",
        label_vi: "Hồ sơ kết thúc xử lý trong kỳ nhưng tiếp nhận sau ngày cuối kỳ được tính là đã giải quyết: cột (3), (7) và (8)-(10) theo hạn, không vào (4), (5), (6), thay vì không tính",
        applies_to_vi: "Hồ sơ có NgayKetThucXuLy trong kỳ và NgayTiepNhan sau ngày cuối kỳ",
        columns: &[3, 7, 8, 9, 10],
        set: |r| r.finished_in_period_received_after_end_counted = true,
    },
];

/// A reading, by its place in [`READINGS`]; serialized as its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReadingName(usize);

impl ReadingName {
    /// Every reading, in order.
    pub fn all() -> impl Iterator<Item = ReadingName> {
        (0..READINGS.len()).map(ReadingName)
    }

    pub fn definition(self) -> &'static Definition {
        &READINGS[self.0]
    }

    pub fn as_str(self) -> &'static str {
        self.definition().code
    }

    /// What the other system does, in Vietnamese.
    pub fn describe_vi(self) -> &'static str {
        self.definition().label_vi
    }

    pub fn from_code(code: &str) -> Option<ReadingName> {
        READINGS
            .iter()
            .position(|d| d.code == code)
            .map(ReadingName)
    }
}

impl Serialize for ReadingName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The rules as changed by `names` together.
pub fn reading_of(names: &[ReadingName]) -> Reading {
    let mut r = Reading::default();
    for n in names {
        (n.definition().set)(&mut r);
    }
    r
}

/// Several readings that move a dossier only together: their codes joined by "+", in order.
pub fn joined(names: &[ReadingName]) -> String {
    names
        .iter()
        .map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join("+")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reading_turns_on_one_switch_of_its_own() {
        let mut seen = Vec::new();
        for n in ReadingName::all() {
            let r = reading_of(&[n]);
            assert_ne!(r, Reading::default(), "{} changes nothing", n.as_str());
            assert!(!seen.contains(&r), "{} repeats a switch", n.as_str());
            seen.push(r);
            assert_eq!(ReadingName::from_code(n.as_str()), Some(n));
        }
    }
}
