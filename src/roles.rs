//! Where task files, templates and files come from: embedded in the binary, or a directory given
//! with `--tasks-dir DIR` (templates in `DIR/../templates`, files in `DIR/../files`).

use include_dir::{Dir, include_dir};
use std::path::{Path, PathBuf};

static EMBEDDED_TASKS: Dir = include_dir!("$CARGO_MANIFEST_DIR/tasks");
static EMBEDDED_TEMPLATES: Dir = include_dir!("$CARGO_MANIFEST_DIR/templates");
static EMBEDDED_FILES: Dir = include_dir!("$CARGO_MANIFEST_DIR/files");

#[derive(Debug, thiserror::Error)]
pub enum RoleError {
    #[error("no task file for role `{role}`: {looked} does not exist{hint}")]
    NoTaskFile {
        role: String,
        looked: String,
        hint: String,
    },
    #[error("{kind} `{name}` not found: looked for {looked}")]
    NoFile {
        kind: &'static str,
        name: String,
        looked: String,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("role name `{0}` may only contain letters, digits, `_` and `-`")]
    BadName(String),
}

#[derive(Debug, Clone)]
pub enum RoleSource {
    Embedded,
    Directory {
        tasks: PathBuf,
    },
    /// A role in the roles layout, or a playbook's directory: templates in `dir/templates`,
    /// files in `dir/files`.
    Layout {
        dir: PathBuf,
    },
}

/// A file's text and the name to show for it in messages.
pub struct SourceFile {
    pub display: String,
    pub text: String,
}

impl RoleSource {
    /// The roles carried in the binary.
    pub fn built_in() -> Vec<String> {
        EMBEDDED_TASKS
            .files()
            .filter_map(|f| f.path().to_str()?.strip_suffix(".yml").map(String::from))
            .collect()
    }

    pub fn new(tasks_dir: Option<&Path>) -> RoleSource {
        match tasks_dir {
            Some(dir) => RoleSource::Directory {
                tasks: dir.to_owned(),
            },
            None => RoleSource::Embedded,
        }
    }

    pub fn task_file(&self, role: &str) -> Result<SourceFile, RoleError> {
        if role.is_empty()
            || !role
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(RoleError::BadName(role.to_string()));
        }
        let name = format!("{role}.yml");
        match self {
            RoleSource::Embedded => {
                let file = EMBEDDED_TASKS.get_file(&name).ok_or_else(|| {
                    let known: Vec<String> = EMBEDDED_TASKS
                        .files()
                        .filter_map(|f| f.path().to_str()?.strip_suffix(".yml").map(String::from))
                        .collect();
                    RoleError::NoTaskFile {
                        role: role.to_string(),
                        looked: format!("built-in tasks/{name}"),
                        hint: if known.is_empty() {
                            "; no roles are built in yet: pass --tasks-dir DIR with DIR/<role>.yml"
                                .to_string()
                        } else {
                            format!(
                                "; built-in roles: {}; or pass --tasks-dir DIR",
                                known.join(", ")
                            )
                        },
                    }
                })?;
                Ok(SourceFile {
                    display: format!("tasks/{name}"),
                    text: String::from_utf8_lossy(file.contents()).into_owned(),
                })
            }
            RoleSource::Layout { dir } => Err(RoleError::NoTaskFile {
                role: role.to_string(),
                looked: dir.display().to_string(),
                hint: "; a role in the roles layout is read by the playbook loader".into(),
            }),
            RoleSource::Directory { tasks } => {
                let path = tasks.join(&name);
                if !path.exists() {
                    return Err(RoleError::NoTaskFile {
                        role: role.to_string(),
                        looked: path.display().to_string(),
                        hint: String::new(),
                    });
                }
                read(&path)
            }
        }
    }

    /// The folder `part` (`templates`, `files`) of a role on disk; `None` for the built-in one.
    fn folder(&self, part: &str) -> Option<PathBuf> {
        match self {
            RoleSource::Embedded => None,
            RoleSource::Layout { dir } => Some(dir.join(part)),
            RoleSource::Directory { tasks } => Some(tasks.join("..").join(part)),
        }
    }

    /// A template by its name relative to the templates folder.
    pub fn template(&self, name: &str) -> Result<SourceFile, RoleError> {
        let Some(folder) = self.folder("templates") else {
            let file = EMBEDDED_TEMPLATES
                .get_file(name)
                .ok_or_else(|| RoleError::NoFile {
                    kind: "template",
                    name: name.to_string(),
                    looked: format!("built-in templates/{name}"),
                })?;
            return Ok(SourceFile {
                display: format!("templates/{name}"),
                text: String::from_utf8_lossy(file.contents()).into_owned(),
            });
        };
        let path = folder.join(name);
        if !path.is_file() {
            return Err(RoleError::NoFile {
                kind: "template",
                name: name.to_string(),
                looked: path.display().to_string(),
            });
        }
        read(&path)
    }

    /// A file for `copy: src=…`, relative to the `files` folder beside the tasks.
    pub fn file(&self, name: &str) -> Result<Vec<u8>, RoleError> {
        let Some(folder) = self.folder("files") else {
            return EMBEDDED_FILES
                .get_file(name)
                .map(|f| f.contents().to_vec())
                .ok_or_else(|| RoleError::NoFile {
                    kind: "file",
                    name: name.to_string(),
                    looked: format!("built-in files/{name}"),
                });
        };
        let path = folder.join(name);
        std::fs::read(&path).map_err(|_| RoleError::NoFile {
            kind: "file",
            name: name.to_string(),
            looked: path.display().to_string(),
        })
    }
}

fn read(path: &Path) -> Result<SourceFile, RoleError> {
    let text = std::fs::read_to_string(path).map_err(|source| RoleError::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(SourceFile {
        display: path.display().to_string(),
        text,
    })
}
