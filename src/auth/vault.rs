//! The credentials vault: each unit's login for each upstream system, sealed with XChaCha20-Poly1305
//! (the row's system and unit bound in as associated data, so a sealed value cannot be moved to
//! another row). The key comes from `BAOCAO_VAULT_KEY` or a key file, never from the database; a
//! short key id (derived from the key, revealing nothing of it) is stored beside each value so that
//! a rotation can tell which key sealed what.

use super::secret::{CitizenId, Username};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error(
        "the vault key must be 32 bytes in base64 (make one with `baocao-sync creds init-key`)"
    )]
    BadKey,
    #[error("no vault key: set BAOCAO_VAULT_KEY or pass --key-file")]
    NoKey,
    #[error(
        "the credential of {system} {unit} was sealed with key {sealed_with}, not the current key {current}"
    )]
    WrongKey {
        system: String,
        unit: String,
        sealed_with: String,
        current: String,
    },
    #[error("the credential of {system} {unit} does not open: altered, or sealed for another row")]
    Tampered { system: String, unit: String },
    #[error("{0}")]
    Invalid(String),
}

/// The upstream systems a unit has a login for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum System {
    /// The Government Office's reporting system (VNConnect accounts).
    Central,
    /// The province's reporting system (government mail accounts).
    Provincial,
    /// The procedure-handling system (OAuth2 client credentials).
    Source,
}

impl System {
    pub fn as_str(self) -> &'static str {
        match self {
            System::Central => "central",
            System::Provincial => "provincial",
            System::Source => "source",
        }
    }

    /// Checks a login against what the system expects.
    pub fn username(self, text: &str) -> Result<Username, VaultError> {
        let text = text.trim();
        match self {
            System::Central => CitizenId::parse(text)
                .map(Username::CitizenId)
                .map_err(|e| {
                    VaultError::Invalid(format!("central accounts are VNConnect accounts: {e}"))
                }),
            System::Provincial if text.contains('@') => Ok(Username::Mail(text.to_owned())),
            System::Provincial => Err(VaultError::Invalid(
                "provincial accounts are government mail addresses".to_owned(),
            )),
            System::Source if !text.is_empty() => Ok(Username::ClientId(text.to_owned())),
            System::Source => Err(VaultError::Invalid("the client id is empty".to_owned())),
        }
    }
}

impl FromStr for System {
    type Err = VaultError;
    fn from_str(s: &str) -> Result<System, VaultError> {
        match s {
            "central" => Ok(System::Central),
            "provincial" => Ok(System::Provincial),
            "source" => Ok(System::Source),
            other => Err(VaultError::Invalid(format!(
                "unknown system `{other}`: central, provincial or source"
            ))),
        }
    }
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One unit's login on one system, open.
/// The source's credential is province-wide: it is kept under this unit.
pub const SOURCE_UNIT: &str = "*";

pub struct Credential {
    pub system: System,
    pub unit: String,
    pub username: Username,
    pub password: SecretString,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Credential({} {} {} password: [hidden])",
            self.system, self.unit, self.username
        )
    }
}

/// A credential as stored: sealed, with what may be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedCredential {
    pub system: System,
    pub unit: String,
    /// The login as it may be shown (citizen IDs masked).
    pub username_shown: String,
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
    /// When the password was set (RFC 3339 UTC): the chase list flags old ones.
    pub set_at: String,
}

/// The vault key, held only in memory.
pub struct Vault {
    cipher: XChaCha20Poly1305,
    key_id: String,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Vault(key {})", self.key_id)
    }
}

impl Vault {
    /// A new random key, base64, for a key file.
    pub fn generate_key() -> String {
        BASE64.encode(Key::generate())
    }

    pub fn from_base64(text: &str) -> Result<Vault, VaultError> {
        let bytes = BASE64.decode(text.trim()).map_err(|_| VaultError::BadKey)?;
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| VaultError::BadKey)?;
        // The key id is a tag over nothing under a fixed nonce: stable for a key, says nothing of it.
        let tag = cipher
            .encrypt(
                &XNonce::default(),
                Payload {
                    msg: b"",
                    aad: b"baocao-sync key id",
                },
            )
            .map_err(|_| VaultError::BadKey)?;
        let key_id = tag.iter().take(4).map(|b| format!("{b:02x}")).collect();
        Ok(Vault { cipher, key_id })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    fn aad(system: System, unit: &str) -> Vec<u8> {
        format!("{system}/{unit}").into_bytes()
    }

    /// Seals a credential for the store.
    pub fn seal(&self, c: &Credential, set_at: String) -> SealedCredential {
        let plaintext = serde_json::json!({"username": c.username.expose(), "password": c.password.expose_secret()});
        let nonce = XNonce::generate();
        let aad = Vault::aad(c.system, &c.unit);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.to_string().as_bytes(),
                    aad: &aad,
                },
            )
            .expect("XChaCha20-Poly1305 seals any credential-sized message");
        SealedCredential {
            system: c.system,
            unit: c.unit.clone(),
            username_shown: c.username.to_string(),
            key_id: self.key_id.clone(),
            nonce: nonce.to_vec(),
            ciphertext,
            set_at,
        }
    }

    /// Opens a stored credential.
    pub fn open(&self, s: &SealedCredential) -> Result<Credential, VaultError> {
        if s.key_id != self.key_id {
            return Err(VaultError::WrongKey {
                system: s.system.to_string(),
                unit: s.unit.clone(),
                sealed_with: s.key_id.clone(),
                current: self.key_id.clone(),
            });
        }
        let tampered = || VaultError::Tampered {
            system: s.system.to_string(),
            unit: s.unit.clone(),
        };
        let nonce = XNonce::try_from(s.nonce.as_slice()).map_err(|_| tampered())?;
        let aad = Vault::aad(s.system, &s.unit);
        let plain = self
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: &s.ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| tampered())?;
        #[derive(serde::Deserialize)]
        struct Plain {
            username: String,
            password: String,
        }
        let p: Plain = serde_json::from_slice(&plain).map_err(|_| tampered())?;
        Ok(Credential {
            system: s.system,
            unit: s.unit.clone(),
            username: s.system.username(&p.username)?,
            password: SecretString::from(p.password),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credential() -> Credential {
        Credential {
            system: System::Central,
            unit: "000.10.00.H55".into(),
            username: System::Central.username("051234567890").unwrap(),
            password: SecretString::from("mật-khẩu-bí-mật".to_owned()),
        }
    }

    #[test]
    fn seal_and_open() {
        let vault = Vault::from_base64(&Vault::generate_key()).unwrap();
        let sealed = vault.seal(&credential(), "2026-11-26T00:00:00Z".into());
        assert_eq!(sealed.username_shown, "*********890");
        assert!(!String::from_utf8_lossy(&sealed.ciphertext).contains("mật"));
        let open = vault.open(&sealed).unwrap();
        assert_eq!(open.password.expose_secret(), "mật-khẩu-bí-mật");
        assert_eq!(open.username.expose(), "051234567890");
        assert!(
            !format!("{open:?}").contains("mật") && !format!("{open:?}").contains("051234567890")
        );
    }

    #[test]
    fn another_key_or_another_row_does_not_open() {
        let vault = Vault::from_base64(&Vault::generate_key()).unwrap();
        let other = Vault::from_base64(&Vault::generate_key()).unwrap();
        let sealed = vault.seal(&credential(), "2026-11-26T00:00:00Z".into());
        assert!(matches!(
            other.open(&sealed),
            Err(VaultError::WrongKey { .. })
        ));
        let moved = SealedCredential {
            unit: "000.11.00.H55".into(),
            ..sealed.clone()
        };
        assert!(matches!(
            vault.open(&moved),
            Err(VaultError::Tampered { .. })
        ));
        let mut flipped = sealed;
        flipped.ciphertext[0] ^= 1;
        assert!(matches!(
            vault.open(&flipped),
            Err(VaultError::Tampered { .. })
        ));
        assert!(matches!(
            Vault::from_base64("c2hvcnQ="),
            Err(VaultError::BadKey)
        ));
    }

    #[test]
    fn logins_are_checked_per_system() {
        assert!(System::Central.username("a@b.gov.vn").is_err());
        assert!(System::Provincial.username("051234567890").is_err());
        assert!(
            System::Provincial
                .username("can.bo@quangngai.gov.vn")
                .is_ok()
        );
    }
}
