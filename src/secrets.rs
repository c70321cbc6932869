//! Secrets for the roles: the CouchDB admin password, the Erlang cookie, the uuid/secret pair
//! the nodes share, and API credentials. They come from the environment
//! (`PROVISION_SECRET_<NAME>`) or from a secrets file that deploy creates on first use with
//! generated values (mode 0600) and reuses after. Every value is registered with [`redact`] so
//! that it never shows in output.

use serde_json::{Map, Value as Json};
use std::path::{Path, PathBuf};

/// Generated when missing: name and how many random bytes (shown as hex).
const GENERATED: &[(&str, usize)] = &[
    ("couchdb_admin_password", 16),
    ("couchdb_cookie", 24),
    ("couchdb_uuid", 16),
    ("couchdb_secret", 16),
];

const ENV_PREFIX: &str = "PROVISION_SECRET_";

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("secrets file {path}: {problem}")]
    File { path: PathBuf, problem: String },
}

fn file_error(path: &Path, problem: impl Into<String>) -> SecretsError {
    SecretsError::File {
        path: path.to_owned(),
        problem: problem.into(),
    }
}

/// Reads the secrets file; with `create`, makes it (0600) when missing and adds generated values
/// it lacks. Then the environment's `PROVISION_SECRET_<NAME>` values win. All values are
/// registered for redaction.
pub fn load(path: &Path, create: bool) -> Result<Map<String, Json>, SecretsError> {
    use std::os::unix::fs::PermissionsExt;
    let mut secrets = match std::fs::read_to_string(path) {
        Ok(text) => {
            let mode = std::fs::metadata(path)
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0);
            if mode & 0o077 != 0 {
                return Err(file_error(
                    path,
                    format!(
                        "is readable by others (mode {mode:03o}): run `chmod 600 {}`",
                        path.display()
                    ),
                ));
            }
            match serde_json::from_str::<Json>(&text) {
                Ok(Json::Object(map)) => map,
                Ok(_) => return Err(file_error(path, "is not a JSON object")),
                // The parser's message may quote the file: say where, not what.
                Err(e) => {
                    return Err(file_error(
                        path,
                        format!(
                            "is not valid JSON (line {}, column {})",
                            e.line(),
                            e.column()
                        ),
                    ));
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
        Err(e) => return Err(file_error(path, format!("cannot be read: {e}"))),
    };
    if create {
        let missing: Vec<&(&str, usize)> = GENERATED
            .iter()
            .filter(|(name, _)| !secrets.contains_key(*name))
            .collect();
        if !missing.is_empty() {
            for (name, bytes) in missing {
                let value: Vec<u8> = (0..*bytes).map(|_| rand::random::<u8>()).collect();
                secrets.insert(name.to_string(), Json::String(hex::encode(value)));
            }
            write(path, &secrets)?;
        }
    }
    for (key, value) in std::env::vars() {
        if let Some(name) = key.strip_prefix(ENV_PREFIX) {
            secrets.insert(name.to_lowercase(), Json::String(value));
        }
    }
    let mut values = Vec::new();
    collect_strings(&Json::Object(secrets.clone()), &mut values);
    crate::redact::register(values);
    Ok(secrets)
}

fn write(path: &Path, secrets: &Map<String, Json>) -> Result<(), SecretsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let text = serde_json::to_string_pretty(secrets).expect("a map serializes") + "\n";
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|_| f.sync_all()))
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| file_error(path, format!("cannot be written: {e}")))
}

fn collect_strings(value: &Json, out: &mut Vec<String>) {
    match value {
        Json::String(s) => out.push(s.clone()),
        Json::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        Json::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        Json::Number(n) => out.push(n.to_string()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn made_once_with_mode_0600_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        let first = load(&path, true).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(first["couchdb_cookie"].as_str().unwrap().len(), 48);
        let again = load(&path, true).unwrap();
        assert_eq!(
            first["couchdb_admin_password"],
            again["couchdb_admin_password"]
        );
        assert!(
            crate::redact::clean(&format!(
                "pw={}",
                first["couchdb_admin_password"].as_str().unwrap()
            ))
            .contains("pw=********")
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load(&path, true).unwrap_err().to_string();
        assert!(e.contains("readable by others"), "{e}");
    }
}
