//! Where the OpenStack credentials come from, looked up as the OpenStack tools look them up:
//! a clouds.yaml entry (configure.json's `openstack.cloud`, else `OS_CLOUD`), or the `OS_*`
//! variables of an openrc file. Every error says which files were read and what is missing.

use crate::cloud::CloudError;
use openstack_sdk::config::{CloudConfig, ConfigFile};
use std::path::{Path, PathBuf};

/// The cloud's settings and, for messages, where they came from.
pub struct Found {
    pub config: CloudConfig,
    /// `cloud `nectar` in /home/me/.config/openstack/clouds.yaml`, or `the OS_* variables`.
    pub source: String,
}

/// Reads one environment variable (a seam for tests).
pub type EnvLookup = Box<dyn Fn(&str) -> Option<String>>;

/// What the lookup reads from outside: the environment, the current and home directories.
pub struct Surroundings {
    pub env: EnvLookup,
    pub current_dir: PathBuf,
    pub home: Option<PathBuf>,
}

impl Surroundings {
    pub fn of_this_process() -> Surroundings {
        Surroundings {
            env: Box::new(|name| std::env::var(name).ok().filter(|v| !v.is_empty())),
            current_dir: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            home: std::env::var_os("HOME").map(PathBuf::from),
        }
    }

    /// The directories clouds.yaml and secure.yaml are looked for in, in order.
    fn config_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.current_dir.clone()];
        if let Some(home) = &self.home {
            dirs.push(home.join(".config/openstack"));
        }
        dirs.push(PathBuf::from("/etc/openstack"));
        dirs
    }

    /// Every place a clouds file may be, as shown in messages.
    fn clouds_places(&self) -> Vec<PathBuf> {
        let mut places = Vec::new();
        if let Some(file) = (self.env)("OS_CLIENT_CONFIG_FILE") {
            places.push(PathBuf::from(file));
        }
        for dir in self.config_dirs() {
            for name in ["clouds.yaml", "clouds.yml"] {
                places.push(dir.join(name));
            }
        }
        places
    }
}

const HINT: &str = "download clouds.yaml from the dashboard (Identity → Application Credentials → \
    Create, then \"Download clouds.yaml\") into ~/.config/openstack/ or this directory, and set \
    openstack.cloud in configure.json to its entry (or OS_CLOUD); or source an openrc file";

fn problem(message: String, hint: &str) -> CloudError {
    CloudError::Credentials {
        message,
        hint: hint.to_string(),
    }
}

/// Finds the cloud named by `wanted` (or `OS_CLOUD`), else the `OS_*` variables.
pub fn find(
    wanted: Option<&str>,
    region: Option<&str>,
    around: &Surroundings,
) -> Result<Found, CloudError> {
    let name = wanted
        .map(str::to_string)
        .or_else(|| (around.env)("OS_CLOUD"));
    let mut found = match name {
        Some(name) => from_clouds_yaml(&name, around)?,
        None => from_environment(around)?,
    };
    if let Some(region) = region {
        found.config.region_name = Some(region.to_string());
    }
    check_auth(&found)?;
    Ok(found)
}

fn from_clouds_yaml(name: &str, around: &Surroundings) -> Result<Found, CloudError> {
    if let Some(file) = (around.env)("OS_CLIENT_CONFIG_FILE")
        && !Path::new(&file).is_file()
    {
        return Err(problem(
            format!("OS_CLIENT_CONFIG_FILE names {file}, which is not a file"),
            "point OS_CLIENT_CONFIG_FILE at your clouds.yaml, or unset it",
        ));
    }
    let places = around.clouds_places();
    let Some(clouds) = places.iter().find(|p| p.is_file()) else {
        let looked: Vec<String> = places.iter().map(|p| p.display().to_string()).collect();
        return Err(problem(
            format!(
                "cloud `{name}`: no clouds.yaml found (looked in {})",
                looked.join(", ")
            ),
            HINT,
        ));
    };
    let secure = around.config_dirs().into_iter().find_map(|dir| {
        ["secure.yaml", "secure.yml"]
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.is_file())
    });
    let mut read = vec![clouds.display().to_string()];
    let mut builder = ConfigFile::builder()
        .add_source(clouds)
        .map_err(|e| unreadable(clouds, &e.to_string()))?;
    if let Some(secure) = &secure {
        read.push(secure.display().to_string());
        builder = builder
            .add_source(secure)
            .map_err(|e| unreadable(secure, &e.to_string()))?;
    }
    let file = builder
        .build()
        .map_err(|e| unreadable(clouds, &e.to_string()))?;
    let config = file
        .get_cloud_config(name)
        .map_err(|e| unreadable(clouds, &e.to_string()))?;
    let Some(config) = config else {
        let mut known = file.get_available_clouds();
        known.sort();
        let has = if known.is_empty() {
            "no clouds".to_string()
        } else {
            format!("clouds: {}", known.join(", "))
        };
        return Err(problem(
            format!("no cloud `{name}` in {} (it has {has})", read.join(" and ")),
            "set openstack.cloud in configure.json (or OS_CLOUD) to one of the clouds listed",
        ));
    };
    Ok(Found {
        config,
        source: format!("cloud `{name}` in {}", read.join(" and ")),
    })
}

fn unreadable(path: &Path, why: &str) -> CloudError {
    problem(
        format!("cannot read {}: {why}", path.display()),
        "fix the file (it is YAML: `clouds:` then one entry per cloud) or download it again",
    )
}

fn from_environment(around: &Surroundings) -> Result<Found, CloudError> {
    if (around.env)("OS_AUTH_URL").is_none() {
        let looked: Vec<String> = around
            .clouds_places()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let existing: Vec<&String> = looked
            .iter()
            .filter(|p| Path::new(p.as_str()).is_file())
            .collect();
        let seen = if existing.is_empty() {
            format!("no clouds.yaml either (looked in {})", looked.join(", "))
        } else {
            format!(
                "{} exists but no cloud was chosen from it",
                existing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        return Err(problem(
            format!(
                "no OpenStack cloud chosen: openstack.cloud is not set in configure.json, \
                 OS_CLOUD is not set, no OS_AUTH_URL, and {seen}"
            ),
            HINT,
        ));
    }
    let config = CloudConfig::from_env().map_err(|e| {
        problem(
            format!("the OS_* variables cannot be read: {e}"),
            "source the openrc file again, or use clouds.yaml",
        )
    })?;
    Ok(Found {
        config,
        source: "the OS_* variables".to_string(),
    })
}

/// The auth types provision supports, with the fields each needs.
fn check_auth(found: &Found) -> Result<(), CloudError> {
    let at = &found.source;
    let missing = |field: &str| {
        problem(
            format!("{at}: auth.{field} is missing"),
            "download clouds.yaml from the dashboard again, or add the field",
        )
    };
    let auth = found
        .config
        .auth
        .as_ref()
        .ok_or_else(|| missing("auth_url"))?;
    if auth.auth_url.is_none() {
        return Err(missing("auth_url"));
    }
    let auth_type = found
        .config
        .auth_type
        .clone()
        .unwrap_or_else(|| "password".to_string());
    match auth_type.as_str() {
        "v3applicationcredential" => {
            if auth.application_credential_id.is_none() {
                return Err(problem(
                    format!(
                        "{at}: auth.application_credential_id is missing{}",
                        if auth.application_credential_name.is_some() {
                            " (a credential given by name is not supported: use its id, which \
                             the dashboard's clouds.yaml has)"
                        } else {
                            ""
                        }
                    ),
                    "download clouds.yaml from the dashboard again",
                ));
            }
            if auth.application_credential_secret.is_none() {
                return Err(missing("application_credential_secret"));
            }
        }
        "v3password" | "password" => {
            if auth.username.is_none() && auth.user_id.is_none() {
                return Err(missing("username"));
            }
            if auth.password.is_none() {
                return Err(missing("password"));
            }
            if auth.project_id.is_none() && auth.project_name.is_none() {
                return Err(missing("project_name"));
            }
        }
        other => {
            return Err(problem(
                format!(
                    "{at}: auth_type `{other}` is not supported (v3applicationcredential or \
                     v3password are)"
                ),
                "use an application credential (what Nectar recommends)",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn around(dir: &Path, env: &[(&str, &str)]) -> Surroundings {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Surroundings {
            env: Box::new(move |name| env.get(name).cloned()),
            current_dir: dir.join("work"),
            home: Some(dir.join("home")),
        }
    }

    const APP_CRED: &str = "clouds:\n  nectar:\n    auth:\n      auth_url: https://keystone.rc.nectar.org.au:5000/v3/\n      application_credential_id: \"0123abcd\"\n      application_credential_secret: \"s3cr3t-value\"\n    region_name: \"Melbourne\"\n    interface: \"public\"\n    identity_api_version: 3\n    auth_type: \"v3applicationcredential\"\n";

    fn error_text(e: CloudError) -> String {
        format!("{e} / {}", e.hint().unwrap_or_default())
    }

    #[test]
    fn finds_the_dashboards_clouds_yaml_in_the_config_dir() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home/.config/openstack")).unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        let file = dir.path().join("home/.config/openstack/clouds.yaml");
        std::fs::write(&file, APP_CRED).unwrap();
        let found = find(Some("nectar"), None, &around(dir.path(), &[])).unwrap();
        assert!(found.source.contains(&file.display().to_string()));
        assert_eq!(found.config.region_name.as_deref(), Some("Melbourne"));
        let by_env = find(
            None,
            Some("Sydney"),
            &around(dir.path(), &[("OS_CLOUD", "nectar")]),
        )
        .unwrap();
        assert_eq!(by_env.config.region_name.as_deref(), Some("Sydney"));
        // The secret may live in secure.yaml, merged into the entry.
        std::fs::write(
            &file,
            APP_CRED.replace(
                "      application_credential_secret: \"s3cr3t-value\"\n",
                "",
            ),
        )
        .unwrap();
        assert!(find(Some("nectar"), None, &around(dir.path(), &[])).is_err());
        std::fs::write(
            dir.path().join("home/.config/openstack/secure.yaml"),
            "clouds:\n  nectar:\n    auth:\n      application_credential_secret: \"s3cr3t-value\"\n",
        )
        .unwrap();
        let merged = find(Some("nectar"), None, &around(dir.path(), &[])).unwrap();
        assert!(merged.source.contains("secure.yaml"), "{}", merged.source);
        std::fs::remove_file(dir.path().join("home/.config/openstack/secure.yaml")).unwrap();
        // The current directory comes first.
        let here = dir.path().join("work/clouds.yaml");
        std::fs::write(&here, APP_CRED.replace("nectar:", "local:")).unwrap();
        let e = error_text(
            find(Some("nectar"), None, &around(dir.path(), &[]))
                .err()
                .unwrap(),
        );
        assert!(e.contains("no cloud `nectar`"), "{e}");
        assert!(e.contains("clouds: local"), "{e}");
        assert!(e.contains(&here.display().to_string()), "{e}");
    }

    #[test]
    fn says_where_it_looked_and_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        let e = error_text(
            find(Some("nectar"), None, &around(dir.path(), &[]))
                .err()
                .unwrap(),
        );
        assert!(e.contains("no clouds.yaml found"), "{e}");
        assert!(e.contains(".config/openstack/clouds.yaml"), "{e}");
        assert!(e.contains("/etc/openstack/clouds.yaml"), "{e}");
        assert!(e.contains("Application Credentials"), "{e}");
        let e = error_text(find(None, None, &around(dir.path(), &[])).err().unwrap());
        assert!(e.contains("OS_CLOUD is not set"), "{e}");

        std::fs::write(
            dir.path().join("work/clouds.yaml"),
            APP_CRED.replace(
                "      application_credential_secret: \"s3cr3t-value\"\n",
                "",
            ),
        )
        .unwrap();
        let e = error_text(
            find(Some("nectar"), None, &around(dir.path(), &[]))
                .err()
                .unwrap(),
        );
        assert!(
            e.contains("auth.application_credential_secret is missing"),
            "{e}"
        );

        let other = dir.path().join("elsewhere.yaml");
        let e = error_text(
            find(
                Some("nectar"),
                None,
                &around(
                    dir.path(),
                    &[("OS_CLIENT_CONFIG_FILE", other.to_str().unwrap())],
                ),
            )
            .err()
            .unwrap(),
        );
        assert!(e.contains("OS_CLIENT_CONFIG_FILE names"), "{e}");
        std::fs::write(
            &other,
            APP_CRED.replace("v3applicationcredential", "v3oidc"),
        )
        .unwrap();
        let e = error_text(
            find(
                Some("nectar"),
                None,
                &around(
                    dir.path(),
                    &[("OS_CLIENT_CONFIG_FILE", other.to_str().unwrap())],
                ),
            )
            .err()
            .unwrap(),
        );
        assert!(e.contains("auth_type `v3oidc` is not supported"), "{e}");
        assert!(!e.contains("s3cr3t"), "{e}");
    }
}
