//! Auth: the only place that sees passwords and tokens.
//!
//! Secrets are typed so they cannot be printed (`secrecy`); citizen-ID numbers, which are VNConnect
//! user names, print masked everywhere. Credentials rest encrypted in the store under a key that
//! never is (from an environment variable or a key file). Token providers for the upstream clients
//! will live here too.

pub mod check;
pub mod operators;
pub mod receiver;
pub mod secret;
pub mod session;
pub mod source;
pub mod token;
pub mod vault;
pub mod viewers;

pub use secret::{CitizenId, Username};
pub use vault::{Credential, System, Vault, VaultError};
