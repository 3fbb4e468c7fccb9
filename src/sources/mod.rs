//! Sources: where records come from, and the edge where wire shapes become domain types.
//!
//! Wire types (DTOs) never leave this folder: readers hand out [`crate::domain::Dossier`]s, or
//! [`crate::domain::Finding`]s for records that cannot be read.

pub mod call;
pub mod config;
pub mod envelope;
pub mod export;
pub mod igate;
pub mod ingest;
pub mod mapping;
pub mod probe;
pub mod procedure;
pub mod queue;
pub mod rating_months;
pub mod receiver;
pub mod theirs;
