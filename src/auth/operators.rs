//! The operators of the admin HTTP: named, each with a token kept only as its SHA-256 in a file
//! (`baocao-sync operator add`), compared in constant time; and the browser sessions they open
//! at `/login` (a random id in an HttpOnly, SameSite=Strict cookie, and a CSRF token for forms).
//! Tokens and session ids are secrets: they never reach a log, a page or the store.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::Key;
use chacha20poly1305::aead::Generate;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorsFile {
    #[serde(default)]
    pub operators: Vec<OperatorEntry>,
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorEntry {
    pub name: String,
    /// Hex SHA-256 of the token.
    pub token_sha256: String,
}

/// Who is acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub name: String,
}

impl Operator {
    /// As the audit names them.
    pub fn actor(&self) -> String {
        format!("operator:{}", self.name)
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.trim().as_bytes()).into()
}

fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(Key::generate())
}

impl OperatorsFile {
    pub fn from_toml(text: &str) -> Result<OperatorsFile, String> {
        let file: OperatorsFile = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        for o in &file.operators {
            if o.name.trim().is_empty() {
                return Err("an operator without a name".to_owned());
            }
            let ok =
                o.token_sha256.len() == 64 && o.token_sha256.bytes().all(|b| b.is_ascii_hexdigit());
            if !ok {
                return Err(format!(
                    "operator `{}`: token_sha256 is 64 hex digits (use `baocao-sync operator add`)",
                    o.name
                ));
            }
        }
        Ok(file)
    }

    pub fn to_toml(&self) -> String {
        format!(
            "# Admin HTTP operators (`baocao-sync operator add`): only the SHA-256 of each token.\n{}",
            toml::to_string_pretty(self).expect("operators serialise")
        )
    }

    /// Adds (or replaces) `name` with a new token; returns the token, shown once.
    pub fn add(&mut self, name: &str) -> SecretString {
        let token = random_token();
        let hash = digest(&token).iter().map(|b| format!("{b:02x}")).collect();
        self.operators.retain(|o| o.name != name);
        self.operators.push(OperatorEntry {
            name: name.to_owned(),
            token_sha256: hash,
        });
        SecretString::from(token)
    }

    /// The operator a token belongs to. Every entry is compared, in constant time, so the answer
    /// takes as long whatever the token.
    pub fn verify(&self, token: &str) -> Option<Operator> {
        let given = digest(token);
        let mut found = None;
        for o in &self.operators {
            let mut stored = [0u8; 32];
            for (i, b) in stored.iter_mut().enumerate() {
                *b = u8::from_str_radix(&o.token_sha256[2 * i..2 * i + 2], 16).unwrap_or(0);
            }
            if bool::from(stored.ct_eq(&given)) {
                found = Some(Operator {
                    name: o.name.clone(),
                });
            }
        }
        found
    }
}

/// A browser session.
struct Session {
    operator: Operator,
    csrf: String,
    expires: std::time::Instant,
}

/// The open browser sessions, in memory (a restart signs everyone out).
pub struct Sessions {
    open: Mutex<HashMap<[u8; 32], Session>>,
    lifetime: std::time::Duration,
}

impl Sessions {
    pub fn new(lifetime: std::time::Duration) -> Sessions {
        Sessions {
            open: Mutex::new(HashMap::new()),
            lifetime,
        }
    }

    /// Opens a session: its id (for the cookie) and its CSRF token.
    pub fn open(&self, operator: Operator) -> (SecretString, String) {
        let id = random_token();
        let csrf = random_token();
        let mut open = self.open.lock().expect("not poisoned");
        let now = std::time::Instant::now();
        open.retain(|_, s| s.expires > now);
        open.insert(
            digest(&id),
            Session {
                operator,
                csrf: csrf.clone(),
                expires: now + self.lifetime,
            },
        );
        (SecretString::from(id), csrf)
    }

    /// The operator and CSRF token of a live session.
    pub fn get(&self, id: &str) -> Option<(Operator, String)> {
        let open = self.open.lock().expect("not poisoned");
        open.get(&digest(id))
            .filter(|s| s.expires > std::time::Instant::now())
            .map(|s| (s.operator.clone(), s.csrf.clone()))
    }

    pub fn close(&self, id: &str) {
        self.open.lock().expect("not poisoned").remove(&digest(id));
    }
}

/// Whether a form's CSRF token is the session's, in constant time.
pub fn csrf_matches(expected: &str, given: &str) -> bool {
    expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// A secret's text, for the one place it must be shown: the cookie header, the token printed
/// once by `operator add`.
pub fn reveal(secret: &SecretString) -> &str {
    secret.expose_secret()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_kept_hashed_and_verified() {
        let mut file = OperatorsFile { operators: vec![] };
        let token = file.add("ops");
        let text = file.to_toml();
        assert!(!text.contains(reveal(&token)), "only the hash is written");
        let file = OperatorsFile::from_toml(&text).unwrap();
        assert_eq!(file.verify(reveal(&token)).unwrap().name, "ops");
        assert!(file.verify("not-it").is_none());
        assert!(
            OperatorsFile::from_toml("[[operators]]\nname = \"x\"\ntoken_sha256 = \"abc\"\n")
                .is_err()
        );
    }

    #[test]
    fn sessions_carry_their_csrf_token_and_close() {
        let sessions = Sessions::new(std::time::Duration::from_secs(60));
        let (id, csrf) = sessions.open(Operator { name: "ops".into() });
        let (who, token) = sessions.get(reveal(&id)).unwrap();
        assert_eq!((who.name.as_str(), token.as_str()), ("ops", csrf.as_str()));
        assert!(csrf_matches(&csrf, &token) && !csrf_matches(&csrf, "x"));
        sessions.close(reveal(&id));
        assert!(sessions.get(reveal(&id)).is_none());
    }
}
