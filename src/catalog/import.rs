//! `catalog import`: extend the field catalogue (and the procedure list) from a CSV export of the
//! national procedure database. Columns by header name: MaLinhVuc and TenLinhVuc for fields;
//! MaTTHC, TenTTHC and TrucTuyen (1/0, co/khong) for procedures when present. Existing entries keep
//! their aliases and dates; a field whose published name changed gets the old name as an alias.

use super::{CatalogError, FieldEntry, FieldsFile, ProcedureEntry, ProceduresFile};
use std::collections::BTreeMap;
use std::path::Path;

/// What an import changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub fields_added: usize,
    pub fields_renamed: usize,
    pub procedures_added: usize,
    pub procedures_updated: usize,
}

/// Reads the CSV and writes the merged `fields.toml` and `procedures.toml` into `dir`.
pub fn import_csv(csv_path: &Path, dir: &Path) -> Result<ImportSummary, CatalogError> {
    let invalid = |reason: String| CatalogError::Invalid {
        path: csv_path.display().to_string(),
        reason,
    };
    let io = |path: &Path, source| CatalogError::Io {
        path: path.display().to_string(),
        source,
    };
    let read_toml = |name: &str| -> Result<String, CatalogError> {
        let path = dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(t) => Ok(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(io(&path, e)),
        }
    };
    let mut fields: FieldsFile = toml::from_str(&read_toml("fields.toml")?)
        .map_err(|e| invalid(format!("fields.toml: {}", e.message())))?;
    let mut procedures: ProceduresFile = toml::from_str(&read_toml("procedures.toml")?)
        .map_err(|e| invalid(format!("procedures.toml: {}", e.message())))?;

    let mut reader = csv::Reader::from_path(csv_path).map_err(|e| invalid(e.to_string()))?;
    let headers = reader
        .headers()
        .map_err(|e| invalid(e.to_string()))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').trim() == name)
    };
    let (Some(field_code), Some(field_name)) = (column("MaLinhVuc"), column("TenLinhVuc")) else {
        return Err(invalid("the header needs MaLinhVuc and TenLinhVuc".into()));
    };
    let (proc_code, proc_name, online) = (column("MaTTHC"), column("TenTTHC"), column("TrucTuyen"));

    let mut summary = ImportSummary::default();
    let mut seen_fields: BTreeMap<String, String> = BTreeMap::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| invalid(format!("row {}: {e}", i + 2)))?;
        let get = |c: Option<usize>| c.and_then(|c| record.get(c)).map(str::trim).unwrap_or("");
        let (code, name) = (get(Some(field_code)), get(Some(field_name)));
        if !code.is_empty() && !name.is_empty() {
            seen_fields
                .entry(code.to_owned())
                .or_insert_with(|| name.to_owned());
        }
        let pcode = get(proc_code);
        if !pcode.is_empty() {
            let entry = ProcedureEntry {
                code: pcode.to_owned(),
                name: get(proc_name).to_owned(),
                field: (!code.is_empty()).then(|| code.to_owned()),
                online: matches!(
                    get(online).to_lowercase().as_str(),
                    "1" | "co" | "có" | "true" | "x"
                ),
            };
            match procedures
                .procedures
                .iter_mut()
                .find(|p| p.code == entry.code)
            {
                Some(existing) if *existing != entry => {
                    *existing = entry;
                    summary.procedures_updated += 1;
                }
                Some(_) => {}
                None => {
                    procedures.procedures.push(entry);
                    summary.procedures_added += 1;
                }
            }
        }
    }
    for (code, name) in seen_fields {
        // The entry in force now is the undated or latest-dated one for the code.
        let current = fields
            .fields
            .iter_mut()
            .filter(|f| f.code == code && f.effective_to.is_none())
            .last();
        match current {
            Some(f) if f.name != name => {
                let old = std::mem::replace(&mut f.name, name);
                if !f.aliases.contains(&old) {
                    f.aliases.push(old);
                }
                summary.fields_renamed += 1;
            }
            Some(_) => {}
            None => {
                fields.fields.push(FieldEntry {
                    code,
                    name,
                    aliases: Vec::new(),
                    effective_from: None,
                    effective_to: None,
                });
                summary.fields_added += 1;
            }
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let write = |name: &str, text: String| {
        std::fs::write(dir.join(name), text).map_err(|e| io(&dir.join(name), e))
    };
    let header = "# Field (lĩnh vực) names as the ministries published them (merged by `baocao-sync catalog import`).\n\n";
    write(
        "fields.toml",
        format!(
            "{header}{}",
            toml::to_string(&fields).map_err(|e| invalid(e.to_string()))?
        ),
    )?;
    let header = "# Procedures and whether the province offers them online (merged by `baocao-sync catalog import`).\n\n";
    write(
        "procedures.toml",
        format!(
            "{header}{}",
            toml::to_string(&procedures).map_err(|e| invalid(e.to_string()))?
        ),
    )?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_adds_renames_and_keeps_aliases() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("fields.toml"),
            "[[fields]]\ncode = \"G09-HT\"\nname = \"Hộ tịch\"\naliases = [\"Đăng ký hộ tịch\"]\n",
        )
        .unwrap();
        let csv = dir.path().join("csdl.csv");
        std::fs::write(
            &csv,
            "\u{feff}MaTTHC,TenTTHC,MaLinhVuc,TenLinhVuc,TrucTuyen\n\
             1.001193,Thủ tục đăng ký khai sinh,G09-HT,Hộ tịch (Bộ Tư pháp),1\n\
             1.001614,Chứng thực hợp đồng,G09-CT,Chứng thực (Bộ Tư pháp),0\n",
        )
        .unwrap();
        let summary = import_csv(&csv, dir.path()).unwrap();
        assert_eq!(
            summary,
            ImportSummary {
                fields_added: 1,
                fields_renamed: 1,
                procedures_added: 2,
                procedures_updated: 0
            }
        );
        let catalog = crate::configuration::catalog(dir.path()).unwrap();
        let day = "2023-09-14".parse().unwrap();
        assert_eq!(
            catalog.resolve("", "Đăng ký hộ tịch", day),
            Some("Hộ tịch (Bộ Tư pháp)")
        );
        assert_eq!(
            catalog.resolve("", "Hộ tịch", day),
            Some("Hộ tịch (Bộ Tư pháp)")
        );
        assert_eq!(
            catalog.resolve("G09-CT", "", day),
            Some("Chứng thực (Bộ Tư pháp)")
        );
        assert_eq!(catalog.procedure_online("1.001614"), Some(false));
        // Importing the same file again changes nothing.
        assert_eq!(
            import_csv(&csv, dir.path()).unwrap(),
            ImportSummary::default()
        );
    }
}
