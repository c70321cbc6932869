//! A role in Ansible's roles layout: `tasks/`, `handlers/`, `templates/`, `files/`, `defaults/`,
//! `vars/` and `meta/`, each read from its `main.yml` (or `main.yaml`, `main`).

use super::PlaybookError;
use crate::roles::RoleSource;
use crate::tasks::{TaskDef, TaskFile, TaskSource};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct RoleDir {
    pub name: String,
    pub dir: PathBuf,
}

/// A dependency in `meta/main.yml`, or an entry of a play's `roles:`: the role and the values it
/// is given (role parameters, `vars:`), its `when` and `tags`.
#[derive(Debug, Clone, Default)]
pub struct RoleRef {
    pub name: String,
    pub params: Map<String, Value>,
    pub when: Vec<String>,
    pub tags: Vec<String>,
}

/// Keywords Ansible takes on a role entry (any other key is a role parameter).
const ROLE_KEYWORDS: &[&str] = &[
    "any_errors_fatal",
    "become",
    "become_exe",
    "become_flags",
    "become_method",
    "become_user",
    "check_mode",
    "collections",
    "connection",
    "debugger",
    "delegate_facts",
    "delegate_to",
    "diff",
    "environment",
    "ignore_errors",
    "ignore_unreachable",
    "module_defaults",
    "no_log",
    "port",
    "remote_user",
    "run_once",
    "throttle",
    "timeout",
];

impl RoleRef {
    /// `- name`, `- role: name`, `- {role: name, x: 1, when: …, tags: …, vars: {…}}`.
    pub fn from_value(value: &Value) -> Result<RoleRef, String> {
        match value {
            Value::String(name) => Ok(RoleRef {
                name: name.clone(),
                ..RoleRef::default()
            }),
            Value::Object(map) => {
                let mut out = RoleRef::default();
                for (key, v) in map {
                    match key.as_str() {
                        "role" | "name" => {
                            out.name = v
                                .as_str()
                                .ok_or_else(|| format!("`{key}` of a role must be its name"))?
                                .to_string()
                        }
                        "when" => out.when = strings(v, "when")?,
                        "tags" => out.tags = strings(v, "tags")?,
                        "vars" => match v {
                            Value::Object(vars) => out.params.extend(vars.clone()),
                            _ => return Err("`vars` of a role must be a mapping".into()),
                        },
                        k if ROLE_KEYWORDS.contains(&k) => {
                            return Err(format!(
                                "`{key}` on a role entry is a keyword, not a role parameter, and is not supported there; set it on the play or the tasks"
                            ));
                        }
                        _ => {
                            out.params.insert(key.clone(), v.clone());
                        }
                    }
                }
                if out.name.is_empty() {
                    return Err("a role entry needs `role:` (the role's name)".into());
                }
                Ok(out)
            }
            _ => Err("a role entry is a name or a mapping with `role:`".into()),
        }
    }
}

fn strings(value: &Value, what: &str) -> Result<Vec<String>, String> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Bool(b) => Ok(vec![b.to_string()]),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                Value::Bool(b) => Ok(b.to_string()),
                _ => Err(format!("`{what}` items must be strings")),
            })
            .collect(),
        _ => Err(format!("`{what}` must be a string or a list of strings")),
    }
}

impl RoleDir {
    /// The role `name` under the first of `search` that has it (a name with `/` is a path).
    pub fn find(name: &str, search: &[PathBuf]) -> Result<RoleDir, PlaybookError> {
        let candidates: Vec<PathBuf> = if name.contains('/') {
            search
                .iter()
                .map(|base| base.join(name))
                .chain(std::iter::once(PathBuf::from(name)))
                .collect()
        } else {
            search.iter().map(|base| base.join(name)).collect()
        };
        let found = candidates.iter().find(|dir| {
            ["tasks", "handlers", "meta", "defaults", "vars"]
                .iter()
                .any(|part| dir.join(part).is_dir())
        });
        match found {
            Some(dir) => Ok(RoleDir {
                name: Path::new(name)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| name.to_string()),
                dir: dir.clone(),
            }),
            None => Err(PlaybookError::NoRole {
                name: name.to_string(),
                looked: candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// `part/main.yml` (or `.yaml`, or no extension), or `part/<from>` when given.
    fn file(&self, part: &str, from: Option<&str>) -> Option<PathBuf> {
        let stem = from.unwrap_or("main");
        let base = self.dir.join(part);
        let mut names = vec![stem.to_string()];
        if !stem.ends_with(".yml") && !stem.ends_with(".yaml") {
            names.insert(0, format!("{stem}.yaml"));
            names.insert(0, format!("{stem}.yml"));
        }
        names.iter().map(|n| base.join(n)).find(|p| p.is_file())
    }

    pub fn source(&self) -> RoleSource {
        RoleSource::Layout {
            dir: self.dir.clone(),
        }
    }

    fn list(&self, part: &str, from: Option<&str>) -> Result<Vec<TaskDef>, PlaybookError> {
        let Some(path) = self.file(part, from) else {
            if let Some(name) = from {
                return Err(PlaybookError::NoFile {
                    what: format!("{part} file `{name}` of role `{}`", self.name),
                    looked: self.dir.join(part).join(name).display().to_string(),
                });
            }
            return Ok(Vec::new());
        };
        let text = super::read(&path)?;
        Ok(TaskFile::parse_list(
            TaskSource {
                display: path.display().to_string(),
                roles: Some(self.source()),
            },
            &text,
        )?)
    }

    pub fn tasks(&self, from: Option<&str>) -> Result<Vec<TaskDef>, PlaybookError> {
        self.list("tasks", from)
    }

    pub fn handlers(&self) -> Result<Vec<TaskDef>, PlaybookError> {
        self.list("handlers", None)
    }

    /// The path of a task file the role's tasks include (`include_tasks: other.yml`).
    pub fn tasks_dir(&self) -> PathBuf {
        self.dir.join("tasks")
    }

    pub fn defaults(&self) -> Result<Map<String, Value>, PlaybookError> {
        self.vars_of("defaults")
    }

    pub fn vars(&self) -> Result<Map<String, Value>, PlaybookError> {
        self.vars_of("vars")
    }

    fn vars_of(&self, part: &str) -> Result<Map<String, Value>, PlaybookError> {
        match self.file(part, None) {
            Some(path) => super::vars_file(&path),
            None => Ok(Map::new()),
        }
    }

    /// `dependencies:` of `meta/main.yml`.
    pub fn dependencies(&self) -> Result<Vec<RoleRef>, PlaybookError> {
        let Some(path) = self.file("meta", None) else {
            return Ok(Vec::new());
        };
        let meta = super::vars_file(&path)?;
        let Some(deps) = meta.get("dependencies") else {
            return Ok(Vec::new());
        };
        let Value::Array(list) = deps else {
            return Err(PlaybookError::Invalid {
                file: path.display().to_string(),
                message: "`dependencies` must be a list of roles".into(),
            });
        };
        list.iter()
            .map(|d| {
                RoleRef::from_value(d).map_err(|message| PlaybookError::Invalid {
                    file: path.display().to_string(),
                    message: format!("dependencies: {message}"),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn role_entries_as_ansible_writes_them() {
        let r = RoleRef::from_value(&json!("web")).unwrap();
        assert_eq!(r.name, "web");
        let r = RoleRef::from_value(
            &json!({"role": "db", "db_port": 5, "vars": {"x": 1}, "when": "a", "tags": ["t"]}),
        )
        .unwrap();
        assert_eq!(r.name, "db");
        assert_eq!(r.params["db_port"], 5);
        assert_eq!(r.params["x"], 1);
        assert_eq!(r.when, ["a"]);
        assert_eq!(r.tags, ["t"]);
        assert!(
            RoleRef::from_value(&json!({"x": 5})).is_err(),
            "no role name"
        );
        let err = RoleRef::from_value(&json!({"role": "db", "port": 5})).unwrap_err();
        assert!(err.contains("keyword"), "{err}");
    }
}
