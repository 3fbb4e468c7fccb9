//! The dossier wire record (DVCQG field names, every value possibly a string) and its parse into
//! a domain [`Dossier`].
//!
//! One wire shape for every export format: NDJSON and JSON arrays deserialize into it (borrowing
//! from the input where they can), CSV and XLSX rows fill it by header name.

use crate::domain::{Dossier, Instant, ResultKind, Status};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

/// The dossier fields of domain.md §1, in a fixed order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Field {
    MaHoSo,
    MaTTHC,
    TenTTHC,
    MaLinhVuc,
    TenLinhVuc,
    MaDonViXuLy,
    DonViXuLy,
    KenhThucHien,
    TrangThaiHoSo,
    NgayTiepNhan,
    NgayHenTra,
    NgayYeuCauBoSung,
    NgayKetThucXuLy,
    NgayTra,
    LoaiKetQua,
    CapNhatLuc,
    DaXoa,
}

pub const FIELD_COUNT: usize = 17;

/// Field names, by [`Field`] index: the JSON keys and the CSV/XLSX headers.
pub const FIELD_NAMES: [&str; FIELD_COUNT] = [
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

pub fn field_index(name: &str) -> Option<usize> {
    let name = name.trim_start_matches('\u{feff}').trim();
    FIELD_NAMES.iter().position(|n| *n == name)
}

/// One record as it arrived. Values are text; absent and empty are the same thing.
#[derive(Debug, Default, Clone)]
pub struct WireDossier<'a> {
    values: [Option<Cow<'a, str>>; FIELD_COUNT],
    /// A known field whose value was an object or array: the record cannot be read.
    unreadable: Option<&'static str>,
}

impl<'a> WireDossier<'a> {
    pub fn set(&mut self, index: usize, value: Option<Cow<'a, str>>) {
        self.values[index] = value;
    }

    pub fn mark_unreadable(&mut self, index: usize) {
        self.unreadable = Some(FIELD_NAMES[index]);
    }

    fn get(&self, f: Field) -> &str {
        self.values[f as usize]
            .as_deref()
            .map(str::trim)
            .unwrap_or("")
    }

    /// The fields that arrived, as a JSON object of text values: the record as stored.
    pub fn to_json(&self) -> String {
        let mut map = serde_json::Map::new();
        for (name, value) in FIELD_NAMES.iter().zip(&self.values) {
            if let Some(v) = value {
                map.insert((*name).to_owned(), serde_json::Value::String(v.to_string()));
            }
        }
        serde_json::Value::Object(map).to_string()
    }

    /// MaHoSo, when the record has one.
    pub fn key(&self) -> Option<&str> {
        Some(self.get(Field::MaHoSo)).filter(|k| !k.is_empty())
    }

    /// Parses into a domain dossier, or says why it cannot be read.
    pub fn parse(&self, strings: &mut Interner) -> Result<Dossier, String> {
        if let Some(field) = self.unreadable {
            return Err(format!(
                "{field} holds an object or array where text was expected"
            ));
        }
        let key = self.key().ok_or("MaHoSo is missing")?;
        let status_text = self.get(Field::TrangThaiHoSo);
        let status = Status::parse(status_text).ok_or_else(|| {
            if status_text.is_empty() {
                "TrangThaiHoSo is empty; expected a status code from 1 to 10".to_owned()
            } else {
                format!("TrangThaiHoSo `{status_text}` is not a status code from 1 to 10")
            }
        })?;
        let instant = |f: Field| -> Result<Option<Instant>, String> {
            let text = self.get(f);
            if text.is_empty() {
                return Ok(None);
            }
            Instant::parse(text)
                .map(Some)
                .map_err(|e| format!("{}: {e}", FIELD_NAMES[f as usize]))
        };
        Ok(Dossier {
            key: key.into(),
            procedure_code: strings.intern(self.get(Field::MaTTHC)),
            field_code: strings.intern(self.get(Field::MaLinhVuc)),
            field_name: strings.intern(self.get(Field::TenLinhVuc)),
            unit_code: strings.intern(self.get(Field::MaDonViXuLy)),
            channel: strings.intern(self.get(Field::KenhThucHien)),
            status,
            received_at: instant(Field::NgayTiepNhan)?,
            due_at: instant(Field::NgayHenTra)?,
            supplement_requested_at: instant(Field::NgayYeuCauBoSung)?,
            finished_at: instant(Field::NgayKetThucXuLy)?,
            returned_at: instant(Field::NgayTra)?,
            updated_at: instant(Field::CapNhatLuc)?,
            result_kind: ResultKind::from_text(self.get(Field::LoaiKetQua)),
            deleted: is_deleted_flag(self.get(Field::DaXoa)),
        })
    }
}

/// DaXoa: `1` when deleted at the source (a JSON or Excel `true` arrives here as `1`).
fn is_deleted_flag(text: &str) -> bool {
    text == "1" || text.eq_ignore_ascii_case("true")
}

/// Shares the few distinct codes and names (fields, units, channels) among a million dossiers.
#[derive(Debug, Default)]
pub struct Interner(HashSet<Arc<str>>);

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

/// A JSON value that should be a dossier object; anything else is kept as "not an object".
// Lives on the stack for one record at a time; boxing it would cost an allocation per record.
#[allow(clippy::large_enum_variant)]
pub enum JsonRecord<'a> {
    Object(WireDossier<'a>),
    NotAnObject,
}

impl<'de> de::Deserialize<'de> for JsonRecord<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonRecord<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a dossier object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut wire = WireDossier::default();
                while let Some(Key(k)) = map.next_key()? {
                    match FIELD_NAMES.iter().position(|n| *n == k) {
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
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Dossier, String> {
        match serde_json::from_str::<JsonRecord>(json).unwrap() {
            JsonRecord::Object(w) => w.parse(&mut Interner::default()),
            JsonRecord::NotAnObject => Err("not an object".into()),
        }
    }

    #[test]
    fn numbers_and_nulls_are_text_and_absent() {
        let d = parse(
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
            parse(r#"{"TrangThaiHoSo": "2"}"#)
                .unwrap_err()
                .contains("MaHoSo")
        );
        assert!(
            parse(r#"{"MaHoSo": "A", "TrangThaiHoSo": "11"}"#)
                .unwrap_err()
                .contains("TrangThaiHoSo")
        );
        assert!(
            parse(r#"{"MaHoSo": "A", "TrangThaiHoSo": ""}"#)
                .unwrap_err()
                .contains("empty")
        );
        let e = parse(r#"{"MaHoSo": "A", "TrangThaiHoSo": "2", "NgayTiepNhan": "20/06/2023"}"#)
            .unwrap_err();
        assert!(e.contains("NgayTiepNhan"), "{e}");
        assert!(
            parse(r#"{"MaHoSo": "A", "TrangThaiHoSo": "2", "NgayTra": [1]}"#)
                .unwrap_err()
                .contains("NgayTra")
        );
    }

    #[test]
    fn number_text_keeps_integers_as_digits() {
        assert_eq!(number_text(2.0), "2");
        assert_eq!(number_text(20230620083000.0), "20230620083000");
        assert_eq!(number_text(2.5), "2.5");
    }
}
