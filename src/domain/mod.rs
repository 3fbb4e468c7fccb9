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
pub mod versions;

pub use dossier::{Channel, Dossier, Reception, Receptions, ResultKind, Status, StatusClass};
pub use finding::{Finding, FindingCode, Severity};
pub use instant::{Day, Instant, InstantError, Moment};
pub use period::{Period, PeriodError, PeriodKind};
pub use rating::{Feedback, Level, Rating, RatingMonth};
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

/// Which date a pulled window is a window of: how the freshness gate reads a source's pull log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Axis {
    /// The record's own last change (CapNhatLuc): our contract's windows.
    Updated,
    /// The dossier's reception date (NgayTiepNhan, iGate's `accepted`).
    Received,
    /// The due date (iGate's `appointment`).
    Due,
    /// The result-returned date.
    Returned,
    /// A pass reading the store's open dossiers again by key.
    Lookup,
    /// A drain of a queue until it was empty.
    Queue,
    /// A batch a one-stop system pushed to the receiver.
    Push,
}

impl Axis {
    pub const ALL: [Axis; 7] = [
        Axis::Updated,
        Axis::Received,
        Axis::Due,
        Axis::Returned,
        Axis::Lookup,
        Axis::Queue,
        Axis::Push,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Axis::Updated => "updated",
            Axis::Received => "received",
            Axis::Due => "due",
            Axis::Returned => "returned",
            Axis::Lookup => "lookup",
            Axis::Queue => "queue",
            Axis::Push => "push",
        }
    }

    pub fn parse(text: &str) -> Option<Axis> {
        Axis::ALL.into_iter().find(|a| a.as_str() == text)
    }
}
