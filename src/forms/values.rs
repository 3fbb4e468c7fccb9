//! The eleven numbered figures (columns 3–13) of an II.06a/II.06 row and the identities among them.

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use std::fmt;

/// Column numbers that carry figures.
pub const COLUMNS: [usize; 11] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];

/// Figures of columns 3 to 13, indexed by column number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Values([u64; 11]);

impl Values {
    pub fn get(&self, column: usize) -> u64 {
        self.0[column - 3]
    }

    pub fn set(&mut self, column: usize, value: u64) {
        self.0[column - 3] = value;
    }

    /// Adds one dossier's 0/1 contributions.
    pub fn add_flags(&mut self, flags: &[bool; 11]) {
        for (v, &f) in self.0.iter_mut().zip(flags) {
            *v += u64::from(f);
        }
    }

    pub fn add(&mut self, other: &Values) {
        for (v, o) in self.0.iter_mut().zip(other.0) {
            *v += o;
        }
    }

    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|&v| v == 0)
    }

    /// The identities of domain.md §5: the first that fails, as text.
    pub fn broken_identity(&self) -> Option<&'static str> {
        let c = |n| self.get(n);
        if c(3) != c(4) + c(5) + c(6) {
            Some("3 = 4 + 5 + 6")
        } else if c(7) != c(8) + c(9) + c(10) {
            Some("7 = 8 + 9 + 10")
        } else if c(11) != c(12) + c(13) {
            Some("11 = 12 + 13")
        } else if c(3) != c(7) + c(11) {
            Some("3 = 7 + 11")
        } else {
            None
        }
    }
}

impl fmt::Display for Values {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, col) in COLUMNS.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{col}: {}", self.get(*col))?;
        }
        Ok(())
    }
}

/// `{"3": n, "4": n, …, "13": n}` in column order.
impl serde::Serialize for Values {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(COLUMNS.len()))?;
        for col in COLUMNS {
            map.serialize_entry(&col.to_string(), &self.get(col))?;
        }
        map.end()
    }
}

impl<'de> serde::Deserialize<'de> for Values {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Values;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of column numbers 3..13 to counts")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Values, A::Error> {
                let mut values = Values::default();
                while let Some((k, v)) = map.next_entry::<String, u64>()? {
                    match k.parse::<usize>() {
                        Ok(col) if COLUMNS.contains(&col) => values.set(col, v),
                        _ => return Err(serde::de::Error::custom(format!("unknown column `{k}`"))),
                    }
                }
                Ok(values)
            }
        }
        d.deserialize_map(V)
    }
}
