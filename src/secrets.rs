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
    #[error("environment variable {name}: {problem}")]
    Environment { name: String, problem: String },
}

/// Why a value cannot be a secret, if it cannot: one too short would be left unmasked (see
/// [`crate::redact::SHORTEST`]). Says how long it is, never what it is.
fn too_short(value: &str) -> Option<String> {
    let length = value.chars().count();
    (length < crate::redact::SHORTEST).then(|| {
        format!(
            "{length} characters; a secret must have at least {} so it can be masked everywhere",
            crate::redact::SHORTEST
        )
    })
}

/// The first string or number leaf too short to be a secret, with its key path
/// (`twitter_credentials[0].key`) and the reason.
fn first_too_short(value: &Json, at: &str) -> Option<(String, String)> {
    match value {
        Json::String(s) => too_short(s).map(|why| (at.to_string(), why)),
        Json::Number(n) => too_short(&n.to_string()).map(|why| (at.to_string(), why)),
        Json::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| first_too_short(item, &format!("{at}[{i}]"))),
        Json::Object(map) => map.iter().find_map(|(key, item)| {
            let path = if at.is_empty() {
                key.clone()
            } else {
                format!("{at}.{key}")
            };
            first_too_short(item, &path)
        }),
        Json::Bool(_) | Json::Null => None,
    }
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
    if let Some((at, why)) = first_too_short(&Json::Object(secrets.clone()), "") {
        return Err(file_error(path, format!("{at}: {why}")));
    }
    apply_environment(&mut secrets, std::env::vars())?;
    let mut values = Vec::new();
    collect_strings(&Json::Object(secrets.clone()), &mut values);
    crate::redact::register(values);
    Ok(secrets)
}

/// `PROVISION_SECRET_<NAME>` values, which win over the file's.
fn apply_environment(
    secrets: &mut Map<String, Json>,
    vars: impl Iterator<Item = (String, String)>,
) -> Result<(), SecretsError> {
    for (key, value) in vars {
        if let Some(name) = key.strip_prefix(ENV_PREFIX) {
            if let Some(why) = too_short(&value) {
                return Err(SecretsError::Environment {
                    name: key.clone(),
                    problem: why,
                });
            }
            secrets.insert(name.to_lowercase(), Json::String(value));
        }
    }
    Ok(())
}

/// Written under a name no other writer uses, mode 0600 from the start, then renamed.
fn write(path: &Path, secrets: &Map<String, Json>) -> Result<(), SecretsError> {
    let text = serde_json::to_string_pretty(secrets).expect("a map serializes") + "\n";
    crate::fsutil::write_private_atomically(path, text.as_bytes())
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
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file is left beside it"
        );
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

    #[test]
    fn short_secrets_are_refused_by_key_path_never_by_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        std::fs::write(
            &path,
            r#"{"couchdb_admin_password": "long-enough-1", "twitter_credentials": [{"key": "long-enough-2", "port": 123456}, {"key": "k9z"}]}"#,
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = load(&path, false).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "secrets file {}: twitter_credentials[1].key: 3 characters; a secret must have at least 6 so it can be masked everywhere",
                path.display()
            )
        );
        assert!(!e.contains("k9z"));
        std::fs::write(&path, r#"{"pin": 1234}"#).unwrap();
        let e = load(&path, false).unwrap_err().to_string();
        assert!(e.contains(": pin: 4 characters;"), "{e}");
        assert!(!e.contains("1234"), "{e}");
        std::fs::write(
            &path,
            r#"{"enabled": true, "nothing": null, "pin": 123456}"#,
        )
        .unwrap();
        assert!(load(&path, false).is_ok());

        let mut secrets = Map::new();
        let e = apply_environment(
            &mut secrets,
            [("PROVISION_SECRET_API_TOKEN".to_string(), "xy7".to_string())].into_iter(),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "environment variable PROVISION_SECRET_API_TOKEN: 3 characters; a secret must have at least 6 so it can be masked everywhere"
        );
        apply_environment(
            &mut secrets,
            [(
                "PROVISION_SECRET_API_TOKEN".to_string(),
                "xy7-long".to_string(),
            )]
            .into_iter(),
        )
        .unwrap();
        assert_eq!(secrets["api_token"], "xy7-long");
    }
}
