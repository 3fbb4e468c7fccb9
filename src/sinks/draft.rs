//! The draft body: flat rows (`<field>` and `_total` for a per-unit form; `<kind>/<field>`,
//! `<kind>/_subtotal` and `_total` for an aggregate), optional text, and the content hash —
//! SHA-256 over the JSON of `{"rows", "text"}` with object keys sorted and no white space.

use crate::forms::aggregate::AggregateReport;
use crate::forms::table::UnitReport;
use crate::forms::{Row, Values};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct DraftRow {
    pub key: String,
    pub label: String,
    pub values: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Draft {
    pub rows: Vec<DraftRow>,
    pub text: Option<String>,
}

fn row(key: String, label: &str, values: &Values) -> DraftRow {
    DraftRow {
        key,
        label: label.to_owned(),
        values: values.columns().map(|(c, v)| (c.to_string(), v)).collect(),
    }
}

fn rows<'a>(prefix: &'a str, list: &'a [Row]) -> impl Iterator<Item = DraftRow> + 'a {
    list.iter()
        .map(move |r| row(format!("{prefix}{}", r.key), &r.label, &r.values))
}

impl Draft {
    pub fn per_unit(report: &UnitReport) -> Draft {
        let mut out: Vec<DraftRow> = rows("", &report.rows).collect();
        out.push(row("_total".into(), "Tổng số", &report.total));
        Draft {
            rows: out,
            text: None,
        }
    }

    pub fn aggregate(report: &AggregateReport) -> Draft {
        let mut out = Vec::new();
        for s in &report.sections {
            out.extend(rows(&format!("{}/", s.kind), &s.rows));
            out.push(row(
                format!("{}/_subtotal", s.kind),
                crate::render::kind_label_vi(&s.kind),
                &s.subtotal,
            ));
        }
        out.push(row("_total".into(), "Tổng số", &report.total));
        Draft {
            rows: out,
            text: None,
        }
    }

    /// A narrative report (II.01-ĐC): its text, no rows.
    pub fn narrative(text: String) -> Draft {
        Draft {
            rows: Vec::new(),
            text: Some(text),
        }
    }

    /// `sha256:<hex>` over the canonical JSON of `{"rows", "text"}`. The draft's own
    /// serialisation is that JSON (its fields, the rows' fields and the values' keys are in
    /// sorted order, with serde_json's escaping), so it is streamed into the hash without
    /// building a copy; a test holds it to the canonical JSON written apart.
    pub fn content_hash(&self) -> String {
        struct Hashing(Sha256);
        impl std::io::Write for Hashing {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.update(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut out = std::io::BufWriter::with_capacity(16 * 1024, Hashing(Sha256::new()));
        serde_json::to_writer(&mut out, self).expect("a draft serialises");
        let Ok(Hashing(hasher)) = out.into_inner() else {
            unreachable!("hashing never fails to write")
        };
        format!(
            "sha256:{}",
            hasher
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// JSON with object keys sorted (by their text) at every level and no insignificant white space,
    /// whatever order serde_json's map keeps.
    fn write_canonical(v: &Value, out: &mut String) {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    write_canonical(&map[k], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_canonical(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let v = serde_json::json!({"text": null, "rows": [{"values": {"3": 1, "10": 2}, "key": "G09-HT", "label": "Hộ tịch"}]});
        let mut s = String::new();
        write_canonical(&v, &mut s);
        assert_eq!(
            s,
            r#"{"rows":[{"key":"G09-HT","label":"Hộ tịch","values":{"10":2,"3":1}}],"text":null}"#
        );
        let draft = Draft {
            rows: vec![DraftRow {
                key: "_total".into(),
                label: "Tổng số".into(),
                values: [("3".to_owned(), 1)].into(),
            }],
            text: None,
        };
        let hash = draft.content_hash();
        assert!(hash.starts_with("sha256:") && hash.len() == 7 + 64);
        assert_eq!(hash, draft.clone().content_hash(), "stable");
    }

    /// The hash streamed from the draft's serialisation is the hash of the canonical JSON
    /// (keys sorted at every level), whatever the text holds and however the columns sort.
    #[test]
    fn content_hash_is_sha256_of_the_canonical_json() {
        let drafts = [
            Draft {
                rows: vec![
                    DraftRow {
                        key: "G09-HT".into(),
                        label: "Hộ tịch \"A\"\n\tB\u{1}".into(),
                        values: [
                            ("3".to_owned(), 1),
                            ("10".to_owned(), 2),
                            ("2".to_owned(), 0),
                        ]
                        .into(),
                    },
                    DraftRow {
                        key: "_total".into(),
                        label: "Tổng số".into(),
                        values: [("1".to_owned(), u64::MAX)].into(),
                    },
                ],
                text: None,
            },
            Draft::narrative("# Báo cáo\n\nDòng \"trích\" \\ / </script> 😀\r\n".repeat(500)),
        ];
        for draft in drafts {
            let mut canonical = String::new();
            write_canonical(
                &serde_json::json!({"rows": draft.rows, "text": draft.text}),
                &mut canonical,
            );
            let expected = format!(
                "sha256:{}",
                Sha256::digest(canonical.as_bytes())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            );
            assert_eq!(draft.content_hash(), expected);
        }
    }
}
