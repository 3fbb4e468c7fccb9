//! Sinks: drafts out to the reporting systems (upstreams.md §2). A computed report becomes a
//! [`Draft`] (flat rows, content hash), and [`reporting::ReportingClient::push`] turns every possible
//! answer into one [`Decision`]. Rules kept here: never write a report that is not a draft; never
//! overwrite a draft that changed since our own last write unless forced; re-create a draft of
//! ours that disappeared; never send, approve or sign. [`mail`] is the other way out: messages to
//! people over SMTP.

pub mod draft;
pub mod mail;
pub mod reporting;

pub use draft::{Draft, DraftRow};
pub use reporting::{Base, Decision, History, Pushed, Put, ReportKey, ReportingClient};
