//! baocao-sync pre-fills the administrative-procedure reports of Vietnamese provincial units.
//!
//! Data flows one way: [`sources`] read records and turn wire shapes into [`domain`] types,
//! [`store`] keeps them, [`forms`] compute report figures (pure, no IO), [`render`] writes them as
//! files for people and [`sinks`] send them as drafts to the reporting systems, all driven by the
//! [`sync`] pipeline with [`auth`]'s logins. See ARCHITECTURE.md for the map and the invariants.

pub mod admin;
pub mod auth;
pub mod catalog;
pub mod configuration;
pub mod daemon;
pub mod domain;
pub mod drill;
pub mod duties;
pub mod forms;
pub mod fuzz;
pub mod http;
pub mod keys;
pub mod letters;
pub mod messages;
pub mod render;
pub mod retry;
pub mod sandbox;
pub mod scheduler;
pub mod settings;
pub mod shutdown;
pub mod sinks;
pub mod sources;
pub mod store;
pub mod sync;
pub mod synth;
pub mod telemetry;
