//! The texts of a written report that differ by unit (config/documents.toml): the governing and
//! issuing body, the abbreviation in the number, the place, the addressees, the signer, the
//! recipients. Defaults, then the unit's kind, then the unit itself, key by key.

use crate::domain::UnitTree;
use crate::domain::unit::UnitId;
use serde::Deserialize;
use std::collections::BTreeMap;

/// One layer of texts; a key left out falls through to the layer below.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Layer {
    place: Option<String>,
    superior: Option<String>,
    issuer: Option<String>,
    abbreviation: Option<String>,
    addressees: Option<Vec<String>>,
    signer_authority: Option<String>,
    signer_title: Option<String>,
    signer_name: Option<String>,
    recipients: Option<Vec<String>>,
}

/// The provincial office's own letters (the guidance letter): its texts, with placeholders
/// `{period}` ("quý III/2023") and `{quarter}` ("quý III").
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LetterTexts {
    /// Printed above the office ("UBND TỈNH QUẢNG NGÃI").
    #[serde(default)]
    pub superior: String,
    /// The issuing office ("VĂN PHÒNG").
    #[serde(default)]
    pub office: String,
    /// The number line ("Số: …/VP-TTHC").
    #[serde(default)]
    pub number: String,
    #[serde(default)]
    pub place: String,
    /// The subject under the number ("V/v …").
    #[serde(default)]
    pub subject: String,
    /// The chase letter's subject.
    #[serde(default)]
    pub chase_subject: String,
    /// The "Kính gửi" groups.
    #[serde(default)]
    pub addressees: Vec<String>,
    /// The first paragraph of the body.
    #[serde(default)]
    pub opening: String,
    /// Whom to call for help, one line each.
    #[serde(default)]
    pub help: Vec<String>,
    /// The last paragraph of the body.
    #[serde(default)]
    pub closing: String,
    #[serde(default)]
    pub signer_title: String,
    #[serde(default)]
    pub signer_name: String,
    #[serde(default)]
    pub recipients: Vec<String>,
    /// Each reporting system's name, address and account, by the duties' system key; a name or
    /// account left out is the duties'.
    #[serde(default)]
    pub systems: BTreeMap<String, LetterSystem>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LetterSystem {
    pub name: Option<String>,
    #[serde(default)]
    pub address: String,
    pub account: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentTexts {
    #[serde(default)]
    pub letters: LetterTexts,
    #[serde(default)]
    defaults: Layer,
    #[serde(default)]
    kinds: BTreeMap<String, Layer>,
    #[serde(default)]
    units: BTreeMap<String, Layer>,
}

/// The texts of one unit's document, placeholders filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitTexts {
    pub place: String,
    pub superior: String,
    pub issuer: String,
    pub abbreviation: String,
    pub addressees: Vec<String>,
    pub signer_authority: String,
    pub signer_title: String,
    pub signer_name: String,
    pub recipients: Vec<String>,
}

impl DocumentTexts {
    pub fn from_toml(text: &str) -> Result<DocumentTexts, String> {
        toml::from_str(text).map_err(|e| e.message().to_owned())
    }

    /// The copy shipped with the binary (config/documents.toml at build time).
    pub fn builtin() -> DocumentTexts {
        DocumentTexts::from_toml(include_str!("../../config/documents.toml"))
            .expect("the shipped document texts are valid (tested)")
    }

    /// The texts of unit `id`.
    pub fn for_unit(&self, units: &UnitTree, id: UnitId) -> UnitTexts {
        let unit = units.get(id);
        let layers: Vec<&Layer> = [
            self.units.get(&unit.code),
            self.kinds.get(&unit.kind),
            Some(&self.defaults),
        ]
        .into_iter()
        .flatten()
        .collect();
        let parent = units.parent(id);
        let root = units.get(units.root());
        // Names as prose reads them ("Kính gửi: UBND tỉnh"), or as the issuing block prints them
        // (the unit tree's official_name: "ỦY BAN NHÂN DÂN TỈNH …").
        let fill_as = |s: &str, official: bool| {
            let name = |u: &crate::domain::Unit| {
                if official {
                    u.official().to_owned()
                } else {
                    u.name.clone()
                }
            };
            s.replace("{unit}", &name(unit))
                .replace("{parent}", &parent.map(name).unwrap_or_default())
                .replace("{root}", &name(root))
                .trim()
                .to_owned()
        };
        let fill = |s: &str| fill_as(s, false);
        let pick_text = |pick: fn(&Layer) -> Option<&String>, fallback: &str| -> String {
            layers
                .iter()
                .find_map(|l| pick(l))
                .map_or(fallback, |s| s.as_str())
                .to_owned()
        };
        let text =
            |pick: fn(&Layer) -> Option<&String>, fallback: &str| fill(&pick_text(pick, fallback));
        let official = |pick: fn(&Layer) -> Option<&String>, fallback: &str| {
            fill_as(&pick_text(pick, fallback), true)
        };
        let list = |pick: fn(&Layer) -> Option<&Vec<String>>| -> Vec<String> {
            layers
                .iter()
                .find_map(|l| pick(l))
                .map(|v| {
                    v.iter()
                        .map(|s| fill(s))
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        UnitTexts {
            place: text(|l| l.place.as_ref(), "…"),
            superior: official(|l| l.superior.as_ref(), ""),
            issuer: official(|l| l.issuer.as_ref(), "{unit}"),
            abbreviation: text(|l| l.abbreviation.as_ref(), "…"),
            addressees: list(|l| l.addressees.as_ref()),
            signer_authority: text(|l| l.signer_authority.as_ref(), ""),
            signer_title: text(|l| l.signer_title.as_ref(), ""),
            signer_name: text(|l| l.signer_name.as_ref(), ""),
            recipients: list(|l| l.recipients.as_ref()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_takes_its_own_then_its_kind_then_the_defaults() {
        let units = UnitTree::from_toml(
            "[[units]]\ncode=\"P\"\nname=\"UBND tỉnh A\"\nkind=\"province\"\nparent=\"\"\n\
             [[units]]\ncode=\"S\"\nname=\"Sở Tư pháp\"\nkind=\"department\"\nparent=\"P\"\n\
             [[units]]\ncode=\"T\"\nname=\"Sở Y tế\"\nkind=\"department\"\nparent=\"P\"\n",
        )
        .unwrap();
        let texts = DocumentTexts::from_toml(
            "[defaults]\nplace = \"A\"\nsuperior = \"{parent}\"\nrecipients = [\"Như trên\", \"Lưu: VT\"]\n\
             [kinds.department]\nsigner_title = \"GIÁM ĐỐC\"\naddressees = [\"{parent}\"]\n\
             [units.S]\nabbreviation = \"STP\"\nsigner_title = \"PHÓ GIÁM ĐỐC\"\n",
        )
        .unwrap();
        let s = texts.for_unit(&units, units.find("S").unwrap());
        assert_eq!(s.abbreviation, "STP");
        assert_eq!(s.signer_title, "PHÓ GIÁM ĐỐC");
        assert_eq!(s.superior, "UBND tỉnh A");
        assert_eq!(s.issuer, "Sở Tư pháp");
        assert_eq!(s.addressees, ["UBND tỉnh A"]);
        assert_eq!(s.place, "A");
        let t = texts.for_unit(&units, units.find("T").unwrap());
        assert_eq!(
            (t.abbreviation.as_str(), t.signer_title.as_str()),
            ("…", "GIÁM ĐỐC")
        );
        let p = texts.for_unit(&units, units.find("P").unwrap());
        assert_eq!(p.superior, "", "the root has no parent to print");
        assert_eq!(p.addressees, Vec::<String>::new());
    }

    #[test]
    fn the_shipped_texts_parse_and_an_unknown_key_is_refused() {
        let texts = DocumentTexts::builtin();
        assert!(texts.kinds.contains_key("commune"));
        let err = DocumentTexts::from_toml("[defaults]\nsigner = \"x\"\n").unwrap_err();
        assert!(err.contains("signer"), "{err}");
    }
}
