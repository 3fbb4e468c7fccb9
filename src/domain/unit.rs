//! The unit tree: who reports, who aggregates whom.
//!
//! Units come from configuration and form a tree of any depth (province → department / district →
//! commune before 1/7/2025, province → commune after). Kinds are free text from configuration; no
//! code here knows a particular kind.

use serde::Deserialize;
use std::collections::HashMap;

/// Index of a unit in its tree.
pub type UnitId = usize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// Agency e-ID, e.g. `000.00.12.H55`.
    pub code: String,
    pub name: String,
    /// e.g. `province`, `department`, `district`, `district-office`, `commune`.
    pub kind: String,
    pub parent: Option<UnitId>,
    /// Other names sources use for the unit (a one-stop system's `DonViXuLy`), matched as the
    /// catalogue matches field names: case, accents and punctuation folded.
    pub aliases: Vec<String>,
    /// The full name an official signs under ("ỦY BAN NHÂN DÂN XÃ BÌNH THẠNH"), printed as the
    /// issuer (and as the superior of its units) of written reports; `name` when absent.
    pub official_name: Option<String>,
    /// Where the unit's officials receive the product's e-mail (drafts ready, reminders), in the
    /// order given; empty when the unit gets none.
    pub contacts: Vec<String>,
}

/// Kinds of unit in the order domain.md lists them (§6: "departments / districts / communes"):
/// within one level of the tree, documents print units and sections in this order.
pub const KIND_ORDER: [&str; 5] = [
    "province",
    "department",
    "district",
    "district-office",
    "commune",
];

/// A kind's place in [`KIND_ORDER`]; kinds it does not list come after, by name.
pub fn kind_rank(kind: &str) -> (usize, &str) {
    (
        KIND_ORDER
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(KIND_ORDER.len()),
        kind,
    )
}

impl Unit {
    /// The name documents are issued under.
    pub fn official(&self) -> &str {
        self.official_name.as_deref().unwrap_or(&self.name)
    }
}

#[derive(Debug, Clone)]
pub struct UnitTree {
    units: Vec<Unit>,
    children: Vec<Vec<UnitId>>,
    by_code: HashMap<String, UnitId>,
    root: UnitId,
}

#[derive(Debug, thiserror::Error)]
pub enum UnitTreeError {
    #[error("cannot read units file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("units file is not valid TOML with [[units]] tables: {0}")]
    Toml(String),
    #[error("units file has no units")]
    Empty,
    #[error("unit code `{0}` appears more than once")]
    DuplicateCode(String),
    #[error("unit `{unit}` names parent `{parent}`, which is not in the file")]
    UnknownParent { unit: String, parent: String },
    #[error(
        "the units do not form one tree: roots (parent = \"\") are {0:?}; exactly one is needed"
    )]
    Roots(Vec<String>),
    #[error("unit `{0}` is not reachable from the root (its parents form a cycle)")]
    Cycle(String),
    #[error("unit #{0} has an empty code")]
    EmptyCode(usize),
    #[error("unit `{unit}` has contact `{address}`, which is not an e-mail address (name@domain)")]
    BadContact { unit: String, address: String },
}

/// `name@domain`: one `@`, both sides non-empty, a dot in the domain, no spaces or angle
/// brackets (the SMTP client checks the rest when it sends).
fn is_mail_address(a: &str) -> bool {
    match a.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !a[local.len() + 1..].contains('@')
                && !a
                    .chars()
                    .any(|c| c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';'))
        }
        None => false,
    }
}

/// The minimal TOML shape of report-json.md; the product configuration may carry more keys.
#[derive(Debug, Deserialize)]
struct UnitsFile {
    #[serde(default)]
    units: Vec<UnitEntry>,
}

#[derive(Debug, Deserialize)]
pub struct UnitEntry {
    pub code: String,
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub parent: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub official_name: Option<String>,
    #[serde(default)]
    pub contacts: Vec<String>,
}

impl UnitTree {
    /// Units as documents print them: the highest level of the tree first (the root, then its
    /// children, then theirs), within a level by kind ([`KIND_ORDER`]), then in tree order.
    pub fn print_order(&self) -> Vec<UnitId> {
        let mut ids: Vec<(usize, UnitId)> = self.subtree(self.root()).enumerate().collect();
        ids.sort_by(|(a_at, a), (b_at, b)| {
            let key = |id: UnitId| (self.depth(id), kind_rank(&self.get(id).kind));
            key(*a).cmp(&key(*b)).then(a_at.cmp(b_at))
        });
        ids.into_iter().map(|(_, id)| id).collect()
    }

    pub fn from_toml(text: &str) -> Result<UnitTree, UnitTreeError> {
        let file: UnitsFile =
            toml::from_str(text).map_err(|e| UnitTreeError::Toml(e.message().to_owned()))?;
        UnitTree::from_entries(file.units)
    }

    pub fn from_entries(entries: Vec<UnitEntry>) -> Result<UnitTree, UnitTreeError> {
        if entries.is_empty() {
            return Err(UnitTreeError::Empty);
        }
        let mut by_code = HashMap::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            let code = e.code.trim();
            if code.is_empty() {
                return Err(UnitTreeError::EmptyCode(i + 1));
            }
            if by_code.insert(code.to_owned(), i).is_some() {
                return Err(UnitTreeError::DuplicateCode(code.to_owned()));
            }
        }
        let mut units = Vec::with_capacity(entries.len());
        let mut roots = Vec::new();
        for (i, e) in entries.into_iter().enumerate() {
            let parent_code = e.parent.trim();
            let parent = if parent_code.is_empty() {
                roots.push(i);
                None
            } else {
                Some(
                    *by_code
                        .get(parent_code)
                        .ok_or_else(|| UnitTreeError::UnknownParent {
                            unit: e.code.trim().to_owned(),
                            parent: parent_code.to_owned(),
                        })?,
                )
            };
            let contacts: Vec<String> = e.contacts.iter().map(|a| a.trim().to_owned()).collect();
            if let Some(bad) = contacts.iter().find(|a| !is_mail_address(a)) {
                return Err(UnitTreeError::BadContact {
                    unit: e.code.trim().to_owned(),
                    address: bad.clone(),
                });
            }
            units.push(Unit {
                code: e.code.trim().to_owned(),
                name: e.name,
                kind: e.kind.trim().to_owned(),
                parent,
                aliases: e.aliases,
                official_name: e
                    .official_name
                    .map(|n| n.trim().to_owned())
                    .filter(|n| !n.is_empty()),
                contacts,
            });
        }
        if roots.len() != 1 {
            return Err(UnitTreeError::Roots(
                roots.iter().map(|&r| units[r].code.clone()).collect(),
            ));
        }
        let mut children = vec![Vec::new(); units.len()];
        for (i, u) in units.iter().enumerate() {
            if let Some(p) = u.parent {
                children[p].push(i);
            }
        }
        for list in &mut children {
            list.sort_by(|&a, &b| units[a].code.cmp(&units[b].code));
        }
        let tree = UnitTree {
            units,
            children,
            by_code,
            root: roots[0],
        };
        let reachable = tree.subtree(tree.root).count();
        if reachable != tree.units.len() {
            let seen: std::collections::HashSet<_> = tree.subtree(tree.root).collect();
            let lost = (0..tree.units.len())
                .find(|i| !seen.contains(i))
                .expect("some unit unreachable");
            return Err(UnitTreeError::Cycle(tree.units[lost].code.clone()));
        }
        Ok(tree)
    }

    pub fn root(&self) -> UnitId {
        self.root
    }

    pub fn len(&self) -> usize {
        self.units.len()
    }

    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    pub fn get(&self, id: UnitId) -> &Unit {
        &self.units[id]
    }

    pub fn find(&self, code: &str) -> Option<UnitId> {
        self.by_code.get(code).copied()
    }

    pub fn children(&self, id: UnitId) -> &[UnitId] {
        &self.children[id]
    }

    pub fn has_children(&self, id: UnitId) -> bool {
        !self.children[id].is_empty()
    }

    /// The parent's unit, if any.
    pub fn parent(&self, id: UnitId) -> Option<&Unit> {
        self.units[id].parent.map(|p| &self.units[p])
    }

    /// Every unit id, in file order.
    pub fn ids(&self) -> impl Iterator<Item = UnitId> + '_ {
        0..self.units.len()
    }

    /// `id` and all its descendants, depth first, children in code order.
    pub fn subtree(&self, id: UnitId) -> impl Iterator<Item = UnitId> + '_ {
        let mut stack = vec![id];
        std::iter::from_fn(move || {
            let next = stack.pop()?;
            stack.extend(self.children[next].iter().rev());
            Some(next)
        })
    }

    /// Distance from the root (the root is 0).
    pub fn depth(&self, id: UnitId) -> usize {
        let mut depth = 0;
        let mut at = id;
        while let Some(p) = self.units[at].parent {
            depth += 1;
            at = p;
        }
        depth
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_are_read_trimmed_and_a_malformed_one_is_named() {
        let tree = |contacts: &str| {
            UnitTree::from_toml(&format!(
                "[[units]]\ncode = \"P\"\nname = \"Tỉnh\"\nkind = \"province\"\ncontacts = {contacts}\n"
            ))
        };
        let ok = tree(r#"[" vanthu@tinh.gov.vn ", "b@c.vn"]"#).unwrap();
        assert_eq!(ok.get(ok.root()).contacts, ["vanthu@tinh.gov.vn", "b@c.vn"]);
        for bad in [
            "vanthu", "a@b", "a b@c.vn", "<a@b.vn>", "a@@b.vn", "@b.vn", "a@.vn",
        ] {
            match tree(&format!("[\"{bad}\"]")) {
                Err(UnitTreeError::BadContact { unit, address }) => {
                    assert_eq!((unit.as_str(), address.as_str()), ("P", bad));
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    const SMALL: &str = r#"
        [[units]]
        code = "P"
        name = "Tỉnh"
        kind = "province"
        parent = ""
        [[units]]
        code = "D1"
        name = "Huyện 1"
        kind = "district"
        parent = "P"
        [[units]]
        code = "C1"
        name = "Xã 1"
        kind = "commune"
        parent = "D1"
        extra = "ignored"
    "#;

    #[test]
    fn reads_the_minimal_shape() {
        let t = UnitTree::from_toml(SMALL).unwrap();
        assert_eq!(t.len(), 3);
        let p = t.find("P").unwrap();
        assert_eq!(t.root(), p);
        let codes: Vec<_> = t.subtree(p).map(|i| t.get(i).code.as_str()).collect();
        assert_eq!(codes, ["P", "D1", "C1"]);
        assert_eq!(t.depth(t.find("C1").unwrap()), 2);
        assert!(t.has_children(t.find("D1").unwrap()));
        assert!(!t.has_children(t.find("C1").unwrap()));
    }

    #[test]
    fn rejects_what_is_not_a_tree() {
        let two_roots = SMALL.replace("parent = \"P\"", "parent = \"\"");
        assert!(matches!(
            UnitTree::from_toml(&two_roots),
            Err(UnitTreeError::Roots(_))
        ));
        let unknown = SMALL.replace("parent = \"D1\"", "parent = \"X\"");
        assert!(matches!(
            UnitTree::from_toml(&unknown),
            Err(UnitTreeError::UnknownParent { .. })
        ));
        let dup = SMALL.replace("code = \"C1\"", "code = \"D1\"");
        assert!(matches!(
            UnitTree::from_toml(&dup),
            Err(UnitTreeError::DuplicateCode(_))
        ));
        let cycle = format!(
            "{SMALL}\n[[units]]\ncode=\"A\"\nname=\"a\"\nkind=\"x\"\nparent=\"B\"\n[[units]]\ncode=\"B\"\nname=\"b\"\nkind=\"x\"\nparent=\"A\"\n"
        );
        assert!(matches!(
            UnitTree::from_toml(&cycle),
            Err(UnitTreeError::Cycle(_))
        ));
        assert!(matches!(
            UnitTree::from_toml("units = []"),
            Err(UnitTreeError::Empty)
        ));
        assert!(matches!(
            UnitTree::from_toml("not toml ["),
            Err(UnitTreeError::Toml(_))
        ));
    }
}
