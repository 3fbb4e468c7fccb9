//! Domain types: what the reports are about, parsed and valid.
//!
//! Everything here is plain data plus the rules that belong to the data itself (what a period id
//! means, which status code is which class). No IO, no clock. Wire shapes (DTOs) live in
//! `sources/`; they become these types at the edge or become findings.

pub mod dossier;
pub mod finding;
pub mod instant;
pub mod period;
pub mod rating;
pub mod unit;

pub use dossier::{Channel, Dossier, ResultKind, Status, StatusClass};
pub use finding::{Finding, FindingCode, Severity};
pub use instant::{Day, Instant, InstantError, Moment};
pub use period::{Period, PeriodError, PeriodKind};
pub use rating::{Feedback, Level, Rating};
pub use unit::{Unit, UnitTree, UnitTreeError};

/// The three kinds of records the product reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordKind {
    Dossier,
    Rating,
    Feedback,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Dossier => "dossier",
            RecordKind::Rating => "rating",
            RecordKind::Feedback => "feedback",
        }
    }
}
