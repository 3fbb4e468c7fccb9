//! The receiver's own credentials: each one-stop system that pushes to us has an account whose
//! password is kept only as an argon2 hash (PHC string), and the sessions it opens are kept only
//! as SHA-256 hashes of their tokens, so neither a copy of the store nor the logs give a usable
//! secret.

use argon2::Argon2;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use sha2::Digest;

/// The argon2id hash of a client's password, as a PHC string.
pub fn hash_password(password: &SecretString) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` is the one `hash` was made from (constant time inside argon2).
pub fn verify_password(password: &SecretString, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.expose_secret().as_bytes(), &parsed)
        .is_ok()
}

/// A new session token (the secret the client gets) and the hash the store keeps.
pub fn new_session() -> Result<(SecretString, String), String> {
    let mut bytes = [0u8; 32];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| format!("no randomness from the operating system: {e}"))?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = session_hash(&token);
    Ok((SecretString::from(token), hash))
}

/// What the store keeps of a session token.
pub fn session_hash(token: &str) -> String {
    let digest = sha2::Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_against_their_hash_only() {
        let pw = SecretString::from("đúng-mật-khẩu".to_owned());
        let hash = hash_password(&pw).unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("đúng"));
        assert!(verify_password(&pw, &hash));
        assert!(!verify_password(
            &SecretString::from("sai".to_owned()),
            &hash
        ));
        assert!(!verify_password(&pw, "not a hash"));
        assert_ne!(hash, hash_password(&pw).unwrap(), "salted");
    }

    #[test]
    fn sessions_are_kept_as_hashes() {
        let (token, hash) = new_session().unwrap();
        assert_eq!(session_hash(token.expose_secret()), hash);
        assert_ne!(token.expose_secret(), &hash);
        assert_eq!(hash.len(), 64);
    }
}
