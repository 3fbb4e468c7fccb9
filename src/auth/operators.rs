//! The operators of the admin HTTP: named, each with a token kept only as its SHA-256 in a file
//! (`baocao-sync operator add`), compared in constant time. The browser sessions opened at
//! `/login` (a random id in an HttpOnly, SameSite=Strict cookie, and a CSRF token for forms) are
//! kept in the store by the SHA-256 of their id (`admin::open_session`), so replicas share them.
//! Tokens and session ids are secrets: they never reach a log or a page, and the store keeps only
//! their digests.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::Key;
use chacha20poly1305::aead::Generate;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
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

/// A new browser session: its id (for the cookie; a secret), what the store keeps of it
/// ([`session_key`]), and its CSRF token.
pub fn new_browser_session() -> (SecretString, String, String) {
    let id = random_token();
    let key = session_key(&id);
    (SecretString::from(id), key, random_token())
}

/// What the store keeps of a browser session's id: its SHA-256, in hex.
pub fn session_key(id: &str) -> String {
    digest(id).iter().map(|b| format!("{b:02x}")).collect()
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
    fn csrf_tokens_are_compared_whole() {
        assert!(csrf_matches("abc", "abc"));
        assert!(!csrf_matches("abc", "abd") && !csrf_matches("abc", "ab"));
    }
}
