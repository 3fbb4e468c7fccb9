//! The figures of one report row, by column number, and how a definition's columns are filled
//! from a record kind's metric counts.

use super::definition::{Fill, FormDef, Identity};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use std::fmt;

/// Figures by column number, in column-number order (the printed order is the definition's and
/// may differ: what is pushed does not move when a column moves on paper).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Values(Vec<(u32, u64)>);

impl Values {
    pub fn zeros(columns: &[u32]) -> Values {
        Values(columns.iter().map(|&c| (c, 0)).collect())
    }

    pub fn get(&self, column: u32) -> u64 {
        self.0
            .iter()
            .find(|(c, _)| *c == column)
            .map_or(0, |(_, v)| *v)
    }

    pub fn columns(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.0.iter().copied()
    }

    /// Adds `other` column by column (columns `self` lacks are appended).
    pub fn add(&mut self, other: &Values) {
        for &(col, v) in &other.0 {
            match self.0.iter_mut().find(|(c, _)| *c == col) {
                Some((_, mine)) => *mine += v,
                None => self.0.push((col, v)),
            }
        }
    }

    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|(_, v)| *v == 0)
    }

    /// The first identity that does not hold.
    pub fn broken_identity<'a>(&self, identities: &'a [Identity]) -> Option<&'a Identity> {
        identities.iter().find(|i| !i.holds(|c| self.get(c)))
    }
}

impl fmt::Display for Values {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (col, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{col}: {v}")?;
        }
        Ok(())
    }
}

/// `{"3": n, "4": n, …}` in column-number order.
impl serde::Serialize for Values {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (col, v) in &self.0 {
            map.serialize_entry(&col.to_string(), v)?;
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
                f.write_str("an object of column numbers to counts")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Values, A::Error> {
                let mut values = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, u64>()? {
                    let col = k
                        .parse()
                        .map_err(|_| serde::de::Error::custom(format!("unknown column `{k}`")))?;
                    values.push((col, v));
                }
                values.sort_by_key(|(c, _)| *c);
                Ok(Values(values))
            }
        }
        d.deserialize_map(V)
    }
}

/// A definition's figure columns resolved against a record kind's metrics, once per run.
#[derive(Debug, Clone)]
pub struct ColumnPlan {
    columns: Vec<(u32, Source)>,
}

#[derive(Debug, Clone)]
enum Source {
    Metric(usize),
    Sum(Vec<u32>),
}

impl ColumnPlan {
    /// Fails with a readable reason when the definition names a metric the kind does not have.
    pub fn new(def: &FormDef, metrics: &[&str]) -> Result<ColumnPlan, String> {
        let mut columns = Vec::new();
        for c in &def.columns {
            let source = match &c.fill {
                Fill::Metric(name) => {
                    Source::Metric(metrics.iter().position(|m| m == name).ok_or_else(|| {
                        format!(
                            "{} column {}: unknown metric `{name}`; known: {}",
                            def.code,
                            c.number,
                            metrics.join(", ")
                        )
                    })?)
                }
                Fill::Sum(cols) => Source::Sum(cols.clone()),
                Fill::RowNumber | Fill::Label | Fill::Note => continue,
            };
            columns.push((c.number, source));
        }
        columns.sort_by_key(|(n, _)| *n);
        Ok(ColumnPlan { columns })
    }

    pub fn numbers(&self) -> Vec<u32> {
        self.columns.iter().map(|(n, _)| *n).collect()
    }

    /// The row's figures from its metric counts: metrics first, then sums (in column order, so a
    /// sum may add an earlier sum).
    pub fn values(&self, counts: &[u64]) -> Values {
        let mut out = Values(Vec::with_capacity(self.columns.len()));
        for (number, source) in &self.columns {
            let v = match source {
                Source::Metric(i) => counts[*i],
                Source::Sum(_) => 0,
            };
            out.0.push((*number, v));
        }
        for (at, (_, source)) in self.columns.iter().enumerate() {
            if let Source::Sum(cols) = source {
                out.0[at].1 = cols.iter().map(|&c| out.get(c)).sum();
            }
        }
        out
    }
}
