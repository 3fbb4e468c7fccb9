//! Configuration files: the only place that reads them. The unit tree, form definitions, field
//! catalogue and duties are parsed by their own modules from text; this module finds and reads the
//! files and names the one that is wrong.

use crate::auth::token::TokenEndpoint;
use crate::catalog::FieldCatalog;
use crate::domain::{UnitTree, UnitTreeError};
use crate::duties::Duties;
use crate::forms::FormCatalog;
use crate::forms::definition::DefinitionError;
use crate::sandbox::{Faults, SandboxData, SourceRecords};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("units file {path}: {source}")]
    Units { path: String, source: UnitTreeError },
    #[error(transparent)]
    Forms(#[from] DefinitionError),
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: String },
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// The SMTP client of `[mail]`, its CA file and password read (the password from
/// `password_file`, else `BAOCAO_SMTP_PASSWORD`); `None` while no server is named.
pub fn mailer(
    settings: &crate::settings::MailSettings,
) -> Result<Option<crate::sinks::mail::Mailer>, ConfigError> {
    if !settings.enabled() {
        return Ok(None);
    }
    let ca = match &settings.ca_file {
        Some(p) => Some(read(p)?.into_bytes()),
        None => None,
    };
    let password = match &settings.password_file {
        Some(p) => Some(read(p)?.trim_end_matches(['\n', '\r']).to_owned()),
        None => std::env::var("BAOCAO_SMTP_PASSWORD").ok(),
    };
    if settings.username.is_some() && password.is_none() {
        return Err(ConfigError::Invalid {
            path: "the configuration".to_owned(),
            reason:
                "mail.username is set but no password: mail.password_file, or BAOCAO_SMTP_PASSWORD"
                    .to_owned(),
        });
    }
    crate::sinks::mail::Mailer::new(
        settings,
        ca.as_deref(),
        password.map(secrecy::SecretString::from),
    )
    .map(Some)
    .map_err(|e| ConfigError::Invalid {
        path: "the configuration".to_owned(),
        reason: e.to_string(),
    })
}

/// The unit tree (report-json.md's `[[units]]` shape).
pub fn units(path: &Path) -> Result<UnitTree, ConfigError> {
    UnitTree::from_toml(&read(path)?).map_err(|source| ConfigError::Units {
        path: path.display().to_string(),
        source,
    })
}

/// Form definitions from a folder when one is given, else the copy built into the binary.
pub fn forms_or_builtin(dir: Option<&Path>) -> Result<FormCatalog, ConfigError> {
    dir.map_or_else(|| Ok(FormCatalog::builtin()), forms)
}

/// Form definitions from `<dir>/<regime>/regime.toml` and the form files beside it.
pub fn forms(dir: &Path) -> Result<FormCatalog, ConfigError> {
    let list = |d: &Path| -> Result<Vec<std::path::PathBuf>, ConfigError> {
        let io = |source| ConfigError::Io {
            path: d.display().to_string(),
            source,
        };
        let mut paths: Vec<_> = std::fs::read_dir(d)
            .map_err(io)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io)?;
        paths.sort();
        Ok(paths)
    };
    let mut regimes = Vec::new();
    for regime in list(dir)? {
        if !regime.join("regime.toml").is_file() {
            continue;
        }
        let mut files = Vec::new();
        for file in list(&regime)? {
            if file.extension().is_some_and(|e| e == "toml") {
                let name = file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                files.push((name, read(&file)?));
            }
        }
        regimes.push((regime.display().to_string(), files));
    }
    Ok(FormCatalog::from_files(regimes)?)
}

/// The field catalogue: `<dir>/fields.toml` and, when present, `<dir>/procedures.toml`.
pub fn catalog(dir: &Path) -> Result<FieldCatalog, ConfigError> {
    let fields = read(&dir.join("fields.toml"))?;
    let procedures_path = dir.join("procedures.toml");
    let procedures = if procedures_path.is_file() {
        Some(read(&procedures_path)?)
    } else {
        None
    };
    FieldCatalog::from_toml(&fields, procedures.as_deref()).map_err(|reason| ConfigError::Invalid {
        path: dir.display().to_string(),
        reason,
    })
}

/// Column-4 check thresholds.
pub fn checks(path: &Path) -> Result<crate::forms::checks::ChecksConfig, ConfigError> {
    crate::forms::checks::ChecksConfig::from_toml(&read(path)?).map_err(|reason| {
        ConfigError::Invalid {
            path: path.display().to_string(),
            reason,
        }
    })
}

/// The texts of written reports that differ by unit.
pub fn documents(path: &Path) -> Result<crate::render::texts::DocumentTexts, ConfigError> {
    crate::render::texts::DocumentTexts::from_toml(&read(path)?).map_err(|reason| {
        ConfigError::Invalid {
            path: path.display().to_string(),
            reason,
        }
    })
}

/// Duties and deadlines.
pub fn duties(path: &Path) -> Result<Duties, ConfigError> {
    Duties::from_toml(&read(path)?).map_err(|reason| ConfigError::Invalid {
        path: path.display().to_string(),
        reason,
    })
}

/// The upstream systems this deployment talks to.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Upstreams {
    pub central: TokenEndpoint,
    pub provincial: TokenEndpoint,
    #[serde(default)]
    pub source: Option<TokenEndpoint>,
    /// The chase list flags passwords set longer ago than this.
    #[serde(default = "default_password_max_age_days")]
    pub password_max_age_days: i64,
}

fn default_password_max_age_days() -> i64 {
    180
}

impl Upstreams {
    /// The reporting system with this id (`central`, `provincial`).
    pub fn reporting(&self, id: &str) -> Option<(crate::auth::vault::System, &TokenEndpoint)> {
        use crate::auth::vault::System;
        match id {
            "central" => Some((System::Central, &self.central)),
            "provincial" => Some((System::Provincial, &self.provincial)),
            _ => None,
        }
    }
}

/// The upstreams file (config/upstreams.example.toml's shape), checked (see [`upstreams_ready`]).
pub fn upstreams(path: &Path) -> Result<Upstreams, ConfigError> {
    let parsed: Upstreams = toml::from_str(&read(path)?).map_err(|e| ConfigError::Invalid {
        path: path.display().to_string(),
        reason: e.message().to_owned(),
    })?;
    upstreams_ready(parsed, &path.display().to_string())
}

/// Reads each system's CA file and checks every URL (http(s) only; plain http to loopback only,
/// unless `allow_http`), naming `origin` (a file, or the configuration) in errors.
pub fn upstreams_ready(mut u: Upstreams, origin: &str) -> Result<Upstreams, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        path: origin.to_owned(),
        reason,
    };
    let systems = [
        ("central", Some(&mut u.central)),
        ("provincial", Some(&mut u.provincial)),
        ("source", u.source.as_mut()),
    ];
    for (name, endpoint) in systems {
        let Some(endpoint) = endpoint else { continue };
        if let Some(ca) = &endpoint.ca_file {
            endpoint.ca_pem = Some(
                std::fs::read(ca)
                    .map_err(|e| invalid(format!("[{name}] ca_file {}: {e}", ca.display())))?,
            );
        }
        endpoint.check(name).map_err(invalid)?;
    }
    Ok(u)
}

/// Every source checked (see `SourceSettings::check`), names unique, CA files read.
pub fn sources_ready(
    mut sources: Vec<crate::sources::config::SourceSettings>,
) -> Result<Vec<crate::sources::config::SourceSettings>, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        path: "[[sources]]".to_owned(),
        reason,
    };
    let mut names = std::collections::HashSet::new();
    for s in &mut sources {
        if !names.insert(s.name.clone()) {
            return Err(invalid(format!(
                "two sources are named `{}`; each needs its own name",
                s.name
            )));
        }
        if let Some(ca) = &s.ca_file {
            s.ca_pem = Some(std::fs::read(ca).map_err(|e| {
                invalid(format!(
                    "sources `{}` ca_file {}: {e}",
                    s.name,
                    ca.display()
                ))
            })?);
        }
        s.check().map_err(invalid)?;
    }
    Ok(sources)
}

/// The admin HTTP's operators (names and token hashes).
pub fn operators(path: &Path) -> Result<crate::auth::operators::OperatorsFile, ConfigError> {
    crate::auth::operators::OperatorsFile::from_toml(&read(path)?).map_err(|reason| {
        ConfigError::Invalid {
            path: path.display().to_string(),
            reason,
        }
    })
}

/// The sandbox's data set: `<dir>/accounts.toml`, and the source's records in
/// `<dir>/{dossiers,ratings,feedback}.ndjson` when present.
pub fn sandbox(dir: &Path) -> Result<(SandboxData, SourceRecords), ConfigError> {
    let path = dir.join("accounts.toml");
    let mut data =
        SandboxData::from_toml(&read(&path)?).map_err(|reason| ConfigError::Invalid {
            path: path.display().to_string(),
            reason,
        })?;
    // The unit tree, when the data set has one: protocols that name units use its names.
    let units_path = dir.join("units.toml");
    if units_path.is_file() {
        let tree = units(&units_path)?;
        data.unit_names = tree
            .ids()
            .map(|id| (tree.get(id).code.clone(), tree.get(id).name.clone()))
            .collect();
    }
    let optional = |name: &str| -> Result<String, ConfigError> {
        let p = dir.join(name);
        if p.is_file() {
            read(&p)
        } else {
            Ok(String::new())
        }
    };
    let source = crate::sandbox::source_records(
        &optional("dossiers.ndjson")?,
        &optional("ratings.ndjson")?,
        &optional("feedback.ndjson")?,
    );
    Ok((data, source))
}

/// A fault plan for the sandbox from its own file (the keys of `[faults]`, at the top level).
pub fn sandbox_faults(path: &Path) -> Result<Faults, ConfigError> {
    toml::from_str(&read(path)?).map_err(|e| ConfigError::Invalid {
        path: path.display().to_string(),
        reason: e.message().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(p: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config").join(p)
    }

    #[test]
    fn the_forms_folder_matches_the_builtin_copy() {
        let loaded = forms(&config("forms")).unwrap();
        let builtin = FormCatalog::builtin();
        assert_eq!(
            loaded.regimes.len(),
            builtin.regimes.len(),
            "every regime folder is listed in BUILTIN"
        );
        for (a, b) in loaded.regimes.iter().zip(&builtin.regimes) {
            assert_eq!(
                a.forms.keys().collect::<Vec<_>>(),
                b.forms.keys().collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn shipped_files_load() {
        units(&config("units.example.toml")).unwrap();
        catalog(&config("catalog")).unwrap();
        duties(&config("duties/quang-ngai-2023.toml")).unwrap();
        let up = upstreams(&config("upstreams.example.toml")).unwrap();
        assert_eq!(up.central.retry_policy().max_attempts, 5);
        assert!(up.source.is_some());
        assert!(matches!(
            units(&config("missing.toml")),
            Err(ConfigError::Io { .. })
        ));
    }
}
