//! Wire records (DVCQG field names, every value possibly a string) and their parse into domain
//! records. One wire shape for every export format: NDJSON and JSON arrays deserialize into it
//! (borrowing from the input where they can), CSV and XLSX rows fill it by header name. Each record
//! kind says which fields it has ([`FromWire::FIELDS`], the key first) and how it parses.

use crate::domain::{Dossier, Feedback, Instant, Level, Rating, RecordKind, ResultKind, Status};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

/// A record kind that can be read from an export.
pub trait FromWire: Sized + Send + 'static {
    /// Field names (JSON keys, CSV/XLSX headers); the first is the record key.
    const FIELDS: &'static [&'static str];
    const KIND: RecordKind;
    /// What the kind is called in messages.
    const NAME: &'static str;
    fn parse(wire: &WireRecord<'_>, strings: &mut Interner) -> Result<Self, String>;
    fn key(&self) -> &str;
    /// CapNhatLuc: decides which of two versions of a key counts.
    fn updated_at(&self) -> Option<Instant>;
    /// The unit the record belongs to, for findings.
    fn unit_code(&self) -> &str;
}

/// One record as it arrived. Values are text; absent and empty are the same thing.
#[derive(Debug, Clone)]
pub struct WireRecord<'a> {
    fields: &'static [&'static str],
    values: Vec<Option<Cow<'a, str>>>,
    /// A known field whose value was an object or array: the record cannot be read.
    unreadable: Option<&'static str>,
}

impl<'a> WireRecord<'a> {
    pub fn new(fields: &'static [&'static str]) -> WireRecord<'a> {
        WireRecord {
            fields,
            values: vec![None; fields.len()],
            unreadable: None,
        }
    }

    /// The index of a field name (a CSV/XLSX header, BOM and white space ignored).
    pub fn index_of(fields: &[&str], name: &str) -> Option<usize> {
        let name = name.trim_start_matches('\u{feff}').trim();
        fields.iter().position(|n| *n == name)
    }

    pub fn set(&mut self, index: usize, value: Option<Cow<'a, str>>) {
        self.values[index] = value;
    }

    pub fn mark_unreadable(&mut self, index: usize) {
        self.unreadable = Some(self.fields[index]);
    }

    /// A field's trimmed text, empty when absent.
    pub fn get(&self, name: &str) -> &str {
        Self::index_of(self.fields, name)
            .and_then(|i| self.values[i].as_deref())
            .map(str::trim)
            .unwrap_or("")
    }

    /// A field's trimmed text by its index in `FIELDS` (the hot path: no name search).
    pub fn at(&self, index: usize) -> &str {
        self.values[index].as_deref().map(str::trim).unwrap_or("")
    }

    /// The record key (the first field), when present.
    pub fn key(&self) -> Option<&str> {
        Some(self.at(0)).filter(|k| !k.is_empty())
    }

    /// The fields that arrived, as a JSON object of text values: the record as stored.
    pub fn to_json(&self) -> String {
        let mut map = serde_json::Map::new();
        for (name, value) in self.fields.iter().zip(&self.values) {
            if let Some(v) = value {
                map.insert((*name).to_owned(), serde_json::Value::String(v.to_string()));
            }
        }
        serde_json::Value::Object(map).to_string()
    }

    fn check_readable(&self) -> Result<&str, String> {
        if let Some(field) = self.unreadable {
            return Err(format!(
                "{field} holds an object or array where text was expected"
            ));
        }
        self.key()
            .ok_or_else(|| format!("{} is missing", self.fields[0]))
    }

    fn instant(&self, name: &str) -> Result<Option<Instant>, String> {
        Self::index_of(self.fields, name).map_or(Ok(None), |i| self.instant_at(i))
    }

    fn instant_at(&self, index: usize) -> Result<Option<Instant>, String> {
        let text = self.at(index);
        if text.is_empty() {
            return Ok(None);
        }
        Instant::parse(text)
            .map(Some)
            .map_err(|e| format!("{}: {e}", self.fields[index]))
    }
}

/// A `1` (or JSON/Excel `true`, which arrives as `1`) flag.
fn is_set(text: &str) -> bool {
    text == "1" || text.eq_ignore_ascii_case("true")
}

impl FromWire for Dossier {
    const FIELDS: &'static [&'static str] = &[
        "MaHoSo",
        "MaTTHC",
        "TenTTHC",
        "MaLinhVuc",
        "TenLinhVuc",
        "MaDonViXuLy",
        "DonViXuLy",
        "KenhThucHien",
        "TrangThaiHoSo",
        "NgayTiepNhan",
        "NgayHenTra",
        "NgayYeuCauBoSung",
        "NgayKetThucXuLy",
        "NgayTra",
        "LoaiKetQua",
        "CapNhatLuc",
        "DaXoa",
    ];
    const KIND: RecordKind = RecordKind::Dossier;
    const NAME: &'static str = "dossier";

    fn parse(w: &WireRecord<'_>, strings: &mut Interner) -> Result<Dossier, String> {
        // Indices into FIELDS: a million dossiers are parsed per report, so no name search here.
        const MA_TTHC: usize = 1;
        const MA_LINH_VUC: usize = 3;
        const TEN_LINH_VUC: usize = 4;
        const MA_DON_VI: usize = 5;
        const KENH: usize = 7;
        const TRANG_THAI: usize = 8;
        const TIEP_NHAN: usize = 9;
        const HEN_TRA: usize = 10;
        const BO_SUNG: usize = 11;
        const KET_THUC: usize = 12;
        const TRA: usize = 13;
        const LOAI_KET_QUA: usize = 14;
        const CAP_NHAT: usize = 15;
        const DA_XOA: usize = 16;
        let key = w.check_readable()?;
        let status_text = w.at(TRANG_THAI);
        let status = Status::parse(status_text).ok_or_else(|| {
            if status_text.is_empty() {
                "TrangThaiHoSo is empty; expected a status code from 1 to 10".to_owned()
            } else {
                format!("TrangThaiHoSo `{status_text}` is not a status code from 1 to 10")
            }
        })?;
        Ok(Dossier {
            key: key.into(),
            procedure_code: strings.intern(w.at(MA_TTHC)),
            field_code: strings.intern(w.at(MA_LINH_VUC)),
            field_name: strings.intern(w.at(TEN_LINH_VUC)),
            unit_code: strings.intern(w.at(MA_DON_VI)),
            channel: strings.intern(w.at(KENH)),
            status,
            received_at: w.instant_at(TIEP_NHAN)?.into(),
            due_at: w.instant_at(HEN_TRA)?.into(),
            supplement_requested_at: w.instant_at(BO_SUNG)?.into(),
            finished_at: w.instant_at(KET_THUC)?.into(),
            returned_at: w.instant_at(TRA)?.into(),
            updated_at: w.instant_at(CAP_NHAT)?.into(),
            result_kind: ResultKind::from_text(w.at(LOAI_KET_QUA)),
            deleted: is_set(w.at(DA_XOA)),
        })
    }

    fn key(&self) -> &str {
        &self.key
    }
    fn updated_at(&self) -> Option<Instant> {
        self.updated_at.get()
    }
    fn unit_code(&self) -> &str {
        &self.unit_code
    }
}

impl FromWire for Rating {
    const FIELDS: &'static [&'static str] = &[
        "MaDanhGia",
        "MaHoSo",
        "MaDonVi",
        "MucDo",
        "KenhDanhGia",
        "ThoiGianDanhGia",
        "CapNhatLuc",
    ];
    const KIND: RecordKind = RecordKind::Rating;
    const NAME: &'static str = "rating";

    fn parse(w: &WireRecord<'_>, strings: &mut Interner) -> Result<Rating, String> {
        let key = w.check_readable()?;
        let level_text = w.get("MucDo");
        let level = Level::parse(level_text).ok_or_else(|| {
            format!(
                "MucDo `{level_text}` is not 1 (very satisfied), 2 (satisfied) or 3 (not satisfied)"
            )
        })?;
        Ok(Rating {
            key: key.into(),
            dossier_key: w.get("MaHoSo").into(),
            unit_code: strings.intern(w.get("MaDonVi")),
            level,
            channel: strings.intern(w.get("KenhDanhGia")),
            rated_at: w.instant("ThoiGianDanhGia")?,
            updated_at: w.instant("CapNhatLuc")?,
        })
    }

    fn key(&self) -> &str {
        &self.key
    }
    fn updated_at(&self) -> Option<Instant> {
        self.updated_at
    }
    fn unit_code(&self) -> &str {
        &self.unit_code
    }
}

impl FromWire for Feedback {
    const FIELDS: &'static [&'static str] = &[
        "MaPAKN",
        "MaDonVi",
        "NgayTiepNhan",
        "LoaiNoiDung",
        "TrangThai",
        "NgayXuLy",
        "CongKhai",
        "CapNhatLuc",
    ];
    const KIND: RecordKind = RecordKind::Feedback;
    const NAME: &'static str = "feedback";

    fn parse(w: &WireRecord<'_>, strings: &mut Interner) -> Result<Feedback, String> {
        let key = w.check_readable()?;
        Ok(Feedback {
            key: key.into(),
            unit_code: strings.intern(w.get("MaDonVi")),
            received_at: w.instant("NgayTiepNhan")?,
            content: strings.intern(w.get("LoaiNoiDung")),
            state: strings.intern(w.get("TrangThai")),
            processed_at: w.instant("NgayXuLy")?,
            published: is_set(w.get("CongKhai")),
            updated_at: w.instant("CapNhatLuc")?,
        })
    }

    fn key(&self) -> &str {
        &self.key
    }
    fn updated_at(&self) -> Option<Instant> {
        self.updated_at
    }
    fn unit_code(&self) -> &str {
        &self.unit_code
    }
}

/// Shares the few distinct codes and names (fields, units, channels) among a million records.
#[derive(Debug, Default)]
pub struct Interner(HashSet<Arc<str>, foldhash::fast::RandomState>);

impl Interner {
    pub fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(existing) = self.0.get(s) {
            return existing.clone();
        }
        let arc: Arc<str> = Arc::from(s);
        self.0.insert(arc.clone());
        arc
    }
}

/// Text of a number as report-json.md says: an integer-valued number means its digits.
pub fn number_text(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// A JSON value where text is expected: strings (borrowed when possible), numbers and booleans
/// become text, null is absent; objects and arrays are unreadable.
enum Flex<'a> {
    Text(Option<Cow<'a, str>>),
    Nested,
}

impl<'de> de::Deserialize<'de> for Flex<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Flex<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("text, a number, a boolean or null")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Flex::Text(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Flex::Text(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Flex::Text(Some(Cow::Owned(v))))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Flex::Text(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Flex::Text(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Flex::Text(Some(Cow::Owned(number_text(v)))))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Flex::Text(Some(Cow::Borrowed(if v { "1" } else { "0" }))))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Flex::Text(None))
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Flex::Text(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Flex::Nested)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Flex::Nested)
            }
        }
        d.deserialize_any(V)
    }
}

/// A JSON object key, borrowed when the input allows.
struct Key<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A JSON value that should be a record object; anything else is kept as "not an object".
// Lives on the stack for one record at a time; boxing it would cost an allocation per record.
#[allow(clippy::large_enum_variant)]
pub enum JsonRecord<'a> {
    Object(WireRecord<'a>),
    NotAnObject,
}

/// Deserializes one [`JsonRecord`] with the given field names.
#[derive(Clone, Copy)]
pub struct JsonRecordSeed(pub &'static [&'static str]);

impl<'de> DeserializeSeed<'de> for JsonRecordSeed {
    type Value = JsonRecord<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for JsonRecordSeed {
    type Value = JsonRecord<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a record object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut wire = WireRecord::new(self.0);
        // Exports write their fields in one order: the field after the last one found is tried
        // first, and a million records seldom need the search.
        let mut next = 0;
        while let Some(Key(k)) = map.next_key()? {
            let found = match self.0.get(next) {
                Some(n) if *n == k => Some(next),
                _ => self.0.iter().position(|n| *n == k),
            };
            if let Some(i) = found {
                next = i + 1;
            }
            match found {
                Some(i) => match map.next_value::<Flex>()? {
                    Flex::Text(v) => wire.set(i, v),
                    Flex::Nested => wire.mark_unreadable(i),
                },
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(JsonRecord::Object(wire))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(JsonRecord::NotAnObject)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(JsonRecord::NotAnObject)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(JsonRecord::NotAnObject)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(JsonRecord::NotAnObject)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(JsonRecord::NotAnObject)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(JsonRecord::NotAnObject)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(JsonRecord::NotAnObject)
    }
}

/// Parses one JSON text (an NDJSON line) as a record of `fields`.
pub fn json_record<'a>(
    text: &'a [u8],
    fields: &'static [&'static str],
) -> Result<JsonRecord<'a>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let record = JsonRecordSeed(fields).deserialize(&mut de)?;
    de.end()?;
    Ok(record)
}

/// [`json_record`] of text known to be UTF-8: its strings are not checked again one by one (a
/// block of lines is checked at once, several times faster).
pub fn json_record_str<'a>(
    text: &'a str,
    fields: &'static [&'static str],
) -> Result<JsonRecord<'a>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let record = JsonRecordSeed(fields).deserialize(&mut de)?;
    de.end()?;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dossier_field_indices_match_the_names() {
        for (i, name) in [
            (1, "MaTTHC"),
            (3, "MaLinhVuc"),
            (4, "TenLinhVuc"),
            (5, "MaDonViXuLy"),
            (7, "KenhThucHien"),
            (8, "TrangThaiHoSo"),
            (9, "NgayTiepNhan"),
            (13, "NgayTra"),
            (14, "LoaiKetQua"),
            (15, "CapNhatLuc"),
            (16, "DaXoa"),
        ] {
            assert_eq!(Dossier::FIELDS[i], name);
        }
    }

    fn parse<R: FromWire>(json: &str) -> Result<R, String> {
        match json_record(json.as_bytes(), R::FIELDS).unwrap() {
            JsonRecord::Object(w) => R::parse(&w, &mut Interner::default()),
            JsonRecord::NotAnObject => Err("not an object".into()),
        }
    }

    #[test]
    fn numbers_and_nulls_are_text_and_absent() {
        let d: Dossier = parse(
            r#"{"MaHoSo": 123, "TrangThaiHoSo": 9.0, "KenhThucHien": 2, "NgayTiepNhan": 20230620083000,
                "NgayHenTra": null, "NgayKetThucXuLy": "", "DaXoa": true, "Other": {"x": 1}}"#,
        )
        .unwrap();
        assert_eq!(&*d.key, "123");
        assert_eq!(d.status.code(), 9);
        assert_eq!(&*d.channel, "2");
        assert!(d.received_at.is_some());
        assert!(d.due_at.is_none());
        assert!(d.finished_at.is_none());
        assert!(d.deleted);
    }

    #[test]
    fn unreadable_records_say_why() {
        assert!(
            parse::<Dossier>(r#"{"TrangThaiHoSo": "2"}"#)
                .unwrap_err()
                .contains("MaHoSo")
        );
        assert!(
            parse::<Dossier>(r#"{"MaHoSo": "A", "TrangThaiHoSo": "11"}"#)
                .unwrap_err()
                .contains("TrangThaiHoSo")
        );
        assert!(
            parse::<Dossier>(r#"{"MaHoSo": "A", "TrangThaiHoSo": ""}"#)
                .unwrap_err()
                .contains("empty")
        );
        let e = parse::<Dossier>(
            r#"{"MaHoSo": "A", "TrangThaiHoSo": "2", "NgayTiepNhan": "20/06/2023"}"#,
        )
        .unwrap_err();
        assert!(e.contains("NgayTiepNhan"), "{e}");
        let nested = parse::<Dossier>(r#"{"MaHoSo": "A", "TrangThaiHoSo": "2", "NgayTra": [1]}"#);
        assert!(nested.unwrap_err().contains("NgayTra"));
        assert!(
            parse::<Rating>(r#"{"MaDanhGia": "R", "MucDo": "4"}"#)
                .unwrap_err()
                .contains("MucDo")
        );
        assert!(
            parse::<Feedback>(r#"{"MaDonVi": "U"}"#)
                .unwrap_err()
                .contains("MaPAKN")
        );
    }

    #[test]
    fn ratings_and_feedback_parse() {
        let r: Rating = parse(
            r#"{"MaDanhGia":"R1","MaHoSo":"D1","MaDonVi":"U","MucDo":2,"KenhDanhGia":"tablet","ThoiGianDanhGia":"20230701080000"}"#,
        )
        .unwrap();
        assert!(r.level.is_satisfied());
        assert_eq!(&*r.channel, "tablet");
        let f: Feedback = parse(
            r#"{"MaPAKN":"P1","MaDonVi":"U","NgayTiepNhan":"20230701080000","LoaiNoiDung":"hanh-vi","TrangThai":"da-xu-ly","NgayXuLy":"20230705080000","CongKhai":"1"}"#,
        )
        .unwrap();
        assert!(f.published);
        assert!(f.processed_at.is_some());
    }

    #[test]
    fn number_text_keeps_integers_as_digits() {
        assert_eq!(number_text(2.0), "2");
        assert_eq!(number_text(20230620083000.0), "20230620083000");
        assert_eq!(number_text(2.5), "2.5");
    }
}
