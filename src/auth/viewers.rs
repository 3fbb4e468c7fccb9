//! Officials of a unit who read its figures (the admin HTTP's viewers): an operator gives one a
//! one-time link (from the CLI or the unit's page); the link's token is kept only as its SHA-256,
//! used once before it expires to set a password kept only as an argon2 hash. Issuing and revoking
//! are audited with the unit, so the unit's page shows them beside who looked.

use crate::domain::Instant;
use crate::store::{AuditEntry, Store, StoreError, Viewer};
use secrecy::{ExposeSecret, SecretString};

/// Whether `name` can be a viewer's sign-in name: 1 to 64 letters, digits and `. _ - @`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

/// Adds (or renews) the viewer `name` of `unit`: no password until the returned one-time token
/// (valid `hours`) is used; their open sessions are closed.
#[tracing::instrument(name = "viewers.issue", skip(store), fields(viewer = name, unit))]
pub async fn issue<S: Store>(
    store: &S,
    name: &str,
    unit: &str,
    actor: &str,
    now: Instant,
    hours: i64,
) -> Result<SecretString, StoreError> {
    // A random token and its `link_key`.
    let (token, token_sha256) = super::receiver::new_session()
        .map_err(|e| StoreError::Corrupt(format!("a link token: {e}")))?;
    let viewer = Viewer {
        name: name.to_owned(),
        unit: unit.to_owned(),
        password_hash: None,
        created_at: now.0,
        revoked_at: None,
    };
    store
        .issue_viewer(&viewer, &token_sha256, now.0 + hours * 3600)
        .await?;
    store
        .append_audit(&[AuditEntry {
            at: Some(now),
            actor: actor.to_owned(),
            action: "viewer_issue".to_owned(),
            unit: Some(unit.to_owned()),
            reason: format!(
                "Cấp đường dẫn xem số liệu cho cán bộ {name} (dùng một lần, {hours} giờ)"
            ),
            ..Default::default()
        }])
        .await?;
    Ok(token)
}

/// Revokes the viewer `name`: `false` when there is no such viewer still allowed.
#[tracing::instrument(name = "viewers.revoke", skip(store), fields(viewer = name))]
pub async fn revoke<S: Store>(
    store: &S,
    name: &str,
    actor: &str,
    now: Instant,
) -> Result<bool, StoreError> {
    let unit = store.viewer(name).await?.map(|v| v.unit);
    let revoked = store.revoke_viewer(name, now.0).await?;
    if revoked {
        store
            .append_audit(&[AuditEntry {
                at: Some(now),
                actor: actor.to_owned(),
                action: "viewer_revoke".to_owned(),
                unit,
                reason: format!("Thu hồi quyền xem số liệu của cán bộ {name}"),
                ..Default::default()
            }])
            .await?;
    }
    Ok(revoked)
}

/// What the store keeps of a one-time link's token.
pub fn link_key(token: &str) -> String {
    super::receiver::session_hash(token)
}

/// The path a one-time link opens (the one place its token is shown).
pub fn link_path(token: &SecretString) -> String {
    format!("/welcome/{}", token.expose_secret())
}
