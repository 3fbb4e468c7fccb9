//! Satisfaction as monthly aggregates (`DongBoDanhGia`, real-sources.md §1): one item per
//! question per unit per month — `NgayTongHop` ("M-YYYY"), `TongSoNguoiDanhGia`,
//! `PhanTramDanhGia{RatHaiLong, HaiLong, ChuaHaiLong}` as strings like "87%", `NoiDung`,
//! `Madonvi`, `TenDonVi`. Each is kept as received under (unit, month, question), its unit
//! resolved by code then by name as dossiers' are; what cannot be read is a reject naming why.

use super::mapping::UnitIndex;
use crate::catalog::fold;
use crate::domain::{FindingCode, RatingMonth};
use crate::store::{IncomingRaw, Reject, SourceFinding, Store, StoreError, UpsertCounts};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// An item mapped: its key, the record as stored, a note when its unit matched nothing.
pub struct MappedMonth {
    pub key: String,
    pub text: String,
    pub note: Option<String>,
}

fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// Maps one `DongBoDanhGia` item; `Err` (key if any, why) for one that cannot be read.
pub fn map_item(
    source: &str,
    item: &Value,
    units: &UnitIndex,
    codes: &BTreeMap<String, String>,
) -> Result<MappedMonth, (Option<String>, String)> {
    let unit_raw = text(item.get("Madonvi").or_else(|| item.get("MaDonVi")));
    let name = text(item.get("TenDonVi"));
    let month_text = text(item.get("NgayTongHop"));
    let question = text(item.get("NoiDung"));
    let provisional = format!("{unit_raw}|{month_text}|{}", fold(&question));
    let fail = |why: String| Err((Some(provisional.clone()), why));
    let Some(month) = month_of(&month_text) else {
        return fail(format!(
            "NgayTongHop `{month_text}` is not a month written M-YYYY"
        ));
    };
    let raters_text = text(item.get("TongSoNguoiDanhGia"));
    let Ok(raters) = raters_text.parse::<u64>() else {
        return fail(format!(
            "TongSoNguoiDanhGia `{raters_text}` is not a number of people"
        ));
    };
    let shares = item.get("PhanTramDanhGia");
    let mut parsed = [0u32; 3];
    for (i, level) in ["RatHaiLong", "HaiLong", "ChuaHaiLong"].iter().enumerate() {
        let t = text(shares.and_then(|s| s.get(*level)));
        parsed[i] = match RatingMonth::share(&t) {
            Some(v) => v,
            None => return fail(format!("PhanTramDanhGia.{level} `{t}` is not a percentage")),
        };
    }
    let code = codes.get(&unit_raw).cloned().unwrap_or(unit_raw.clone());
    let (unit, note) = if units.has(&code) {
        (code, None)
    } else {
        match units.by_unit_name(&name) {
            Ok(found) => (found.to_owned(), None),
            Err(why) => (
                if unit_raw.is_empty() {
                    name.clone()
                } else {
                    unit_raw.clone()
                },
                Some(format!(
                    "source `{source}`: satisfaction of Madonvi `{unit_raw}` / TenDonVi `{name}`: the code is not in the unit tree and the name {why}; add the name to the unit's `aliases`, or the code to sources.{source}.mapping.units.codes"
                )),
            ),
        }
    };
    let thang = format!("{:04}-{:02}", month.0, month.1);
    let key = format!("{unit}|{thang}|{}", fold(&question));
    let stored = json!({
        "MaDonVi": unit, "TenDonVi": name, "Thang": thang, "NoiDung": question,
        "TongSoNguoiDanhGia": raters.to_string(),
        "RatHaiLong": text(shares.and_then(|s| s.get("RatHaiLong"))),
        "HaiLong": text(shares.and_then(|s| s.get("HaiLong"))),
        "ChuaHaiLong": text(shares.and_then(|s| s.get("ChuaHaiLong"))),
    });
    let _ = parsed;
    Ok(MappedMonth {
        key,
        text: stored.to_string(),
        note,
    })
}

/// "M-YYYY" or "MM-YYYY" (also "M/YYYY").
fn month_of(t: &str) -> Option<(i32, u32)> {
    let (m, y) = t.split_once(['-', '/'])?;
    let m: u32 = m.trim().parse().ok()?;
    let y: i32 = y.trim().parse().ok()?;
    ((1..=12).contains(&m) && (2000..=2100).contains(&y)).then_some((y, m))
}

/// A stored aggregate read back for the forms.
pub fn parse_stored(text: &str) -> Option<RatingMonth> {
    let v: Value = serde_json::from_str(text).ok()?;
    let s = |k: &str| text_of(&v, k);
    let (y, m) = s("Thang")
        .split_once('-')
        .and_then(|(y, m)| Some((y.parse().ok()?, m.parse().ok()?)))?;
    Some(RatingMonth {
        unit_code: s("MaDonVi").into(),
        month: (y, m),
        question: s("NoiDung").into(),
        raters: s("TongSoNguoiDanhGia").parse().ok()?,
        shares: [
            RatingMonth::share(&s("RatHaiLong"))?,
            RatingMonth::share(&s("HaiLong"))?,
            RatingMonth::share(&s("ChuaHaiLong"))?,
        ],
    })
}

fn text_of(v: &Value, k: &str) -> String {
    text(v.get(k))
}

/// What storing a batch of aggregates did.
#[derive(Debug, Default)]
pub struct StoredMonths {
    pub counts: UpsertCounts,
    /// (record, why) of items that could not be read.
    pub rejected: Vec<(String, String)>,
}

/// Maps and stores `items` under `source`.
pub async fn store_items<S: Store>(
    store: &S,
    source: &str,
    items: &[Value],
    units: &UnitIndex,
    codes: &BTreeMap<String, String>,
    at: crate::domain::Instant,
) -> Result<StoredMonths, StoreError> {
    let mut out = StoredMonths::default();
    let mut mapped = Vec::new();
    let mut rejects = Vec::new();
    let mut findings = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match map_item(source, item, units, codes) {
            Ok(m) => {
                if let Some(note) = &m.note {
                    findings.push(SourceFinding {
                        key: m.key.clone(),
                        field: "MaDonVi".to_owned(),
                        code: FindingCode::UnmappedValue,
                        unit: None,
                        message: note.clone(),
                    });
                }
                mapped.push(m);
            }
            Err((key, why)) => {
                let record = key.clone().unwrap_or_else(|| format!("row:{}", i + 1));
                if let Some(k) = key {
                    rejects.push(Reject {
                        record_key: k,
                        reason: why.clone(),
                        raw: item.to_string(),
                        code: FindingCode::InvalidRecord,
                    });
                }
                out.rejected.push((record, why));
            }
        }
    }
    let incoming: Vec<IncomingRaw> = mapped
        .iter()
        .map(|m| IncomingRaw {
            key: &m.key,
            updated_at: None,
            raw: &m.text,
        })
        .collect();
    if !incoming.is_empty() {
        out.counts = store.upsert_rating_months(source, &incoming).await?;
    }
    if !rejects.is_empty() {
        store
            .record_rejects(crate::domain::RecordKind::Rating, source, &rejects)
            .await?;
    }
    let keys: Vec<&str> = mapped.iter().map(|m| m.key.as_str()).collect();
    store
        .replace_source_findings(
            source,
            crate::domain::RecordKind::Rating,
            &keys,
            &findings,
            at,
        )
        .await?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UnitTree;

    #[test]
    fn an_item_maps_and_reads_back() {
        let tree = UnitTree::from_toml(
            "[[units]]\ncode=\"P\"\nname=\"UBND tỉnh\"\nkind=\"province\"\nparent=\"\"\n\
             [[units]]\ncode=\"000.10.00.H55\"\nname=\"Sở Tư pháp\"\nkind=\"department\"\nparent=\"P\"\n",
        )
        .unwrap();
        let units = UnitIndex::of(&tree);
        let item = json!({"NgayTongHop": "7-2023", "TongSoNguoiDanhGia": "120",
            "PhanTramDanhGia": {"RatHaiLong": "87%", "HaiLong": "10%", "ChuaHaiLong": "3%"},
            "NoiDung": "Mức độ hài lòng chung", "Madonvi": "H55.10", "TenDonVi": "SỞ TƯ PHÁP"});
        let m = map_item("nhan", &item, &units, &BTreeMap::new()).unwrap();
        assert!(m.note.is_none(), "resolved by name");
        let back = parse_stored(&m.text).unwrap();
        assert_eq!(&*back.unit_code, "000.10.00.H55");
        assert_eq!(back.month, (2023, 7));
        assert_eq!(back.raters, 120);
        assert_eq!(back.shares, [8700, 1000, 300]);
        let bad = json!({"NgayTongHop": "2023-07", "TongSoNguoiDanhGia": "x"});
        assert!(map_item("nhan", &bad, &units, &BTreeMap::new()).is_err());
        let stranger = json!({"NgayTongHop": "8-2023", "TongSoNguoiDanhGia": 5,
            "PhanTramDanhGia": {"RatHaiLong": "100%"}, "Madonvi": "X", "TenDonVi": "Phòng khác"});
        let m = map_item("nhan", &stranger, &units, &BTreeMap::new()).unwrap();
        assert!(m.note.unwrap().contains("aliases"));
    }
}
