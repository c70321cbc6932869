//! Ansible playbooks, read as ansible-playbook reads them: plays (`hosts`, `become`, `vars`,
//! `vars_files`, `roles`, `pre_tasks`/`tasks`/`post_tasks`, `handlers`), roles in the roles
//! layout with their `meta/main.yml` dependencies, `import_tasks`/`include_tasks`,
//! `import_role`/`include_role` and `import_playbook`. Every play becomes one task file (its
//! tasks in order, its handlers) and its variables, all before any host is contacted; a feature
//! provision does not have is refused with the file, line and feature.

mod role_dir;

pub use role_dir::{RoleDir, RoleRef};

use crate::tasks::{
    Condition, Inheritance, OneOrMany, Strategy, TaskDef, TaskFile, TaskFileError, TaskSource,
    words_of, yaml_error,
};
use serde::Deserialize;
use serde_json::{Map, Value};
use serde_saphyr::Spanned;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum PlaybookError {
    #[error(transparent)]
    TaskFile(#[from] TaskFileError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("role `{name}` not found: looked in {looked}")]
    NoRole { name: String, looked: String },
    #[error("{what} not found: looked for {looked}")]
    NoFile { what: String, looked: String },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
}

/// One play, ready to be planned on the hosts its `hosts:` selects.
#[derive(Debug)]
pub struct Play {
    pub name: String,
    /// The host pattern (`web`, `all`, `web:!w3`).
    pub hosts: String,
    pub task_file: TaskFile,
    /// Role defaults: below the inventory's variables.
    pub defaults: Map<String, Value>,
    /// The play's `vars`, its `vars_files` and its roles' `vars`: above the inventory's.
    pub vars: Map<String, Value>,
    pub become_: Option<bool>,
    pub remote_user: Option<String>,
}

#[derive(Debug)]
pub struct Playbook {
    pub path: PathBuf,
    pub plays: Vec<Play>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlayDef {
    name: Option<String>,
    hosts: Option<OneOrMany>,
    import_playbook: Option<Spanned<String>>,
    #[serde(rename = "become")]
    become_: Option<bool>,
    become_user: Option<Spanned<String>>,
    become_method: Option<Spanned<String>>,
    remote_user: Option<String>,
    /// Facts are gathered when a task uses one, whatever this says.
    gather_facts: Option<bool>,
    vars: Option<Map<String, Value>>,
    vars_files: Option<Vec<Spanned<String>>>,
    roles: Option<Vec<Spanned<Value>>>,
    pre_tasks: Option<Vec<TaskDef>>,
    tasks: Option<Vec<TaskDef>>,
    post_tasks: Option<Vec<TaskDef>>,
    handlers: Option<Vec<TaskDef>>,
    strategy: Option<Spanned<String>>,
    tags: Option<OneOrMany>,
}

pub(crate) fn read(path: &Path) -> Result<String, PlaybookError> {
    std::fs::read_to_string(path).map_err(|source| PlaybookError::Read {
        path: path.to_owned(),
        source,
    })
}

/// A variables file (`vars_files`, a role's `defaults`/`vars`, `meta`).
pub(crate) fn vars_file(path: &Path) -> Result<Map<String, Value>, PlaybookError> {
    let text = read(path)?;
    crate::yaml::vars_from_str(&text).map_err(|(line, message)| {
        PlaybookError::TaskFile(TaskFileError {
            file: path.display().to_string(),
            line: line as u32,
            column: 0,
            message,
        })
    })
}

fn has_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

impl Playbook {
    /// Reads a playbook; roles are looked up beside it and in `ANSIBLE_ROLES_PATH`.
    pub fn load(path: &Path) -> Result<Playbook, PlaybookError> {
        let roles_path: Vec<PathBuf> = std::env::var_os("ANSIBLE_ROLES_PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        Playbook::load_with_roles_path(path, &roles_path)
    }

    /// Reads a playbook, looking roles up in `roles/` beside it, then in `roles_path`, then
    /// beside it.
    pub fn load_with_roles_path(
        path: &Path,
        roles_path: &[PathBuf],
    ) -> Result<Playbook, PlaybookError> {
        let mut plays = Vec::new();
        load_into(path, roles_path, &mut plays, 0)?;
        Ok(Playbook {
            path: path.to_owned(),
            plays,
        })
    }
}

fn load_into(
    path: &Path,
    roles_path: &[PathBuf],
    plays: &mut Vec<Play>,
    depth: usize,
) -> Result<(), PlaybookError> {
    let display = path.display().to_string();
    let text = read(path)?;
    let defs: Option<Vec<PlayDef>> =
        crate::yaml::from_str(&text).map_err(|e| yaml_error(&display, &e))?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    for (number, mut def) in defs.unwrap_or_default().into_iter().enumerate() {
        if let Some(other) = &def.import_playbook {
            let at = |message: String| TaskFileError {
                file: display.clone(),
                line: other.referenced.line() as u32,
                column: other.referenced.column() as u32,
                message,
            };
            if depth > 20 {
                return Err(at("playbooks import each other in a cycle".into()).into());
            }
            if def.hosts.is_some() || def.tasks.is_some() || def.roles.is_some() {
                return Err(at("`import_playbook` stands alone in its list item".into()).into());
            }
            if has_template(&other.value) {
                return Err(at("a playbook name from a variable is not supported".into()).into());
            }
            load_into(&dir.join(&other.value), roles_path, plays, depth + 1)?;
            continue;
        }
        let mut assembler = Assembler::new(&dir, roles_path);
        let play = assembler.play(&display, number, &text, &mut def)?;
        plays.push(play);
    }
    Ok(())
}

/// Where an include is resolved from: the including file's directory, and its role.
#[derive(Clone)]
struct Here {
    dir: PathBuf,
    role: Option<RoleDir>,
}

/// Puts one play together.
struct Assembler {
    playbook_dir: PathBuf,
    role_search: Vec<PathBuf>,
    handlers: Vec<TaskDef>,
    defaults: Map<String, Value>,
    vars: Map<String, Value>,
    /// Roles of `roles:` and their dependencies already in the play (a role runs once).
    loaded: Vec<(String, Map<String, Value>)>,
    depth: usize,
}

impl Assembler {
    fn new(playbook_dir: &Path, roles_path: &[PathBuf]) -> Assembler {
        let mut role_search = vec![playbook_dir.join("roles")];
        role_search.extend(roles_path.iter().cloned());
        role_search.push(playbook_dir.to_owned());
        Assembler {
            playbook_dir: playbook_dir.to_owned(),
            role_search,
            handlers: Vec::new(),
            defaults: Map::new(),
            vars: Map::new(),
            loaded: Vec::new(),
            depth: 0,
        }
    }

    fn play(
        &mut self,
        display: &str,
        number: usize,
        text: &str,
        def: &mut PlayDef,
    ) -> Result<Play, PlaybookError> {
        let name = def.name.clone().unwrap_or_default();
        let invalid = |message: String| PlaybookError::Invalid {
            file: display.to_string(),
            message: format!("play {} `{name}`: {message}", number + 1),
        };
        let Some(hosts) = &def.hosts else {
            return Err(invalid("a play needs `hosts:`".into()));
        };
        let hosts = hosts.0.join(",");
        if let Some(method) = &def.become_method
            && method.value != "sudo"
        {
            return Err(TaskFileError {
                file: display.to_string(),
                line: method.referenced.line() as u32,
                column: method.referenced.column() as u32,
                message: format!(
                    "become_method `{}` is not supported (provision becomes with sudo)",
                    method.value
                ),
            }
            .into());
        }
        let _ = def.gather_facts;
        let strategy = match &def.strategy {
            None => Strategy::Linear,
            Some(s) => match s.value.as_str() {
                "linear" => Strategy::Linear,
                "free" => Strategy::Free,
                other => {
                    return Err(TaskFileError {
                        file: display.to_string(),
                        line: s.referenced.line() as u32,
                        column: s.referenced.column() as u32,
                        message: format!("strategy `{other}` is not one of: linear, free"),
                    }
                    .into());
                }
            },
        };
        // The play's own lists share the playbook's text: words are noted on them together.
        let mut own = TaskFile {
            display: display.to_string(),
            ..TaskFile::default()
        };
        let lists = [
            def.pre_tasks.take().unwrap_or_default(),
            def.tasks.take().unwrap_or_default(),
            def.post_tasks.take().unwrap_or_default(),
            def.handlers.take().unwrap_or_default(),
        ];
        let sizes: Vec<usize> = lists.iter().map(Vec::len).collect();
        own.tasks = lists.into_iter().flatten().collect();
        own.note_words(text);
        let source = std::sync::Arc::new(TaskSource {
            display: display.to_string(),
            roles: Some(crate::roles::RoleSource::Layout {
                dir: self.playbook_dir.clone(),
            }),
        });
        crate::tasks::set_source(&mut own.tasks, &source);
        let mut all = own.tasks.into_iter();
        let mut take = |n: usize| -> Vec<TaskDef> { all.by_ref().take(n).collect() };
        let (pre, main, post, handlers) = (
            take(sizes[0]),
            take(sizes[1]),
            take(sizes[2]),
            take(sizes[3]),
        );

        for file in def.vars_files.iter().flatten() {
            if has_template(&file.value) {
                return Err(TaskFileError {
                    file: display.to_string(),
                    line: file.referenced.line() as u32,
                    column: file.referenced.column() as u32,
                    message: "a vars_files name from a variable is not supported".into(),
                }
                .into());
            }
        }
        if let Some(vars) = &def.vars {
            self.vars.extend(vars.clone());
        }
        for file in def.vars_files.iter().flatten() {
            self.vars
                .extend(vars_file(&self.playbook_dir.join(&file.value))?);
        }

        let here = Here {
            dir: self.playbook_dir.clone(),
            role: None,
        };
        let mut tasks = self.expand(pre, &here)?;
        if !tasks.is_empty() {
            tasks.extend(implicit_flush("pre_tasks")?);
        }
        for entry in def.roles.iter().flatten() {
            let at = |message: String| TaskFileError {
                file: display.to_string(),
                line: entry.referenced.line() as u32,
                column: entry.referenced.column() as u32,
                message,
            };
            let role = RoleRef::from_value(&entry.value).map_err(at)?;
            let found = self.role(&role, None, true).map_err(|e| match e {
                PlaybookError::NoRole { .. } => PlaybookError::TaskFile(at(e.to_string())),
                other => other,
            })?;
            tasks.extend(found);
        }
        tasks.extend(self.expand(main, &here)?);
        if !post.is_empty() {
            tasks.extend(implicit_flush("tasks")?);
            tasks.extend(self.expand(post, &here)?);
        }
        let handlers = self.expand(handlers, &here)?;
        self.handlers.extend(handlers);

        let play_tags: Vec<String> = def.tags.take().map(|t| t.0).unwrap_or_default();
        let become_user = def.become_user.take();
        for t in tasks.iter_mut().chain(self.handlers.iter_mut()) {
            for tag in &play_tags {
                if !t.tags.contains(tag) {
                    t.tags.push(tag.clone());
                }
            }
            if t.become_user.is_none() {
                t.become_user = become_user.clone();
            }
        }
        let mut task_file = TaskFile {
            display: display.to_string(),
            tasks,
            handlers: std::mem::take(&mut self.handlers),
            strategy,
            ..TaskFile::default()
        };
        task_file.check()?;
        Ok(Play {
            name,
            hosts,
            task_file,
            defaults: std::mem::take(&mut self.defaults),
            vars: std::mem::take(&mut self.vars),
            become_: def.become_,
            remote_user: def.remote_user.clone(),
        })
    }

    /// A role's tasks (its dependencies' first), its handlers, defaults and vars taken into the
    /// play. A role of `roles:` (or a dependency) already in the play with the same values is not
    /// run again, as in Ansible; `include_role` always runs.
    fn role(
        &mut self,
        r: &RoleRef,
        tasks_from: Option<&str>,
        once: bool,
    ) -> Result<Vec<TaskDef>, PlaybookError> {
        self.depth += 1;
        if self.depth > 20 {
            return Err(PlaybookError::Invalid {
                file: r.name.clone(),
                message: "roles depend on each other in a cycle".into(),
            });
        }
        let key = (r.name.clone(), r.params.clone());
        if once && self.loaded.contains(&key) {
            self.depth -= 1;
            return Ok(Vec::new());
        }
        let dir = RoleDir::find(&r.name, &self.role_search)?;
        let mut tasks = Vec::new();
        for dep in dir.dependencies()? {
            tasks.extend(self.role(&dep, None, true)?);
        }
        if once {
            self.loaded.push(key);
        }
        self.defaults.extend(dir.defaults()?);
        self.vars.extend(dir.vars()?);
        let here = Here {
            dir: dir.tasks_dir(),
            role: Some(dir.clone()),
        };
        let mut own = self.expand(dir.tasks(tasks_from)?, &here)?;
        let mut handlers = self.expand(dir.handlers()?, &here)?;
        let parent = Inheritance {
            when: r
                .when
                .iter()
                .map(|text| Condition::Expr {
                    text: text.clone(),
                    pos: crate::render::Pos::MODULE,
                })
                .collect(),
            tags: r.tags.clone(),
            vars: r.params.clone(),
            words: r.when.iter().flat_map(|w| words_of(w)).collect(),
            ..Inheritance::default()
        };
        parent.apply(&mut own);
        parent.apply(&mut handlers);
        self.handlers.extend(handlers);
        tasks.extend(own);
        self.depth -= 1;
        Ok(tasks)
    }

    /// Replaces every include in `tasks` by what it names, recursively.
    fn expand(&mut self, tasks: Vec<TaskDef>, here: &Here) -> Result<Vec<TaskDef>, PlaybookError> {
        let mut out = Vec::new();
        for mut task in tasks {
            if let Some(children) = task.block.take() {
                let mut inner = self.expand(children, here)?;
                task.pass_on(&mut inner);
                out.extend(inner);
                continue;
            }
            let Some(include) = task.include.clone() else {
                out.push(task);
                continue;
            };
            let at = |message: String| task.source.error(include.pos, message);
            if task.loop_items.is_some() {
                return Err(at(format!(
                    "a loop over `{}` is not supported",
                    include.keyword
                ))
                .into());
            }
            if task.register.is_some() || !task.notify.is_empty() {
                return Err(at(format!(
                    "`register` and `notify` do not apply to `{}`",
                    include.keyword
                ))
                .into());
            }
            if has_template(&include.target) {
                return Err(at(format!(
                    "`{}` of a name from a variable is not supported: name the file or role",
                    include.keyword
                ))
                .into());
            }
            self.depth += 1;
            if self.depth > 20 {
                return Err(at("task files include each other in a cycle".into()).into());
            }
            let mut inner = if include.role {
                let r = RoleRef {
                    name: include.target.clone(),
                    ..RoleRef::default()
                };
                self.role(&r, include.tasks_from.as_deref(), false)
                    .map_err(|e| match e {
                        PlaybookError::NoRole { .. } => PlaybookError::TaskFile(at(e.to_string())),
                        other => other,
                    })?
            } else {
                let mut candidates = Vec::new();
                if let Some(role) = &here.role {
                    candidates.push(role.tasks_dir().join(&include.target));
                }
                candidates.push(here.dir.join(&include.target));
                candidates.push(self.playbook_dir.join(&include.target));
                let Some(path) = candidates.iter().find(|p| p.is_file()).cloned() else {
                    return Err(at(format!(
                        "task file `{}` not found: looked for {}",
                        include.target,
                        candidates
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                    .into());
                };
                let text = read(&path)?;
                let list = TaskFile::parse_list(
                    TaskSource {
                        display: path.display().to_string(),
                        roles: task.source.roles.clone(),
                    },
                    &text,
                )?;
                let inner_here = Here {
                    dir: path.parent().unwrap_or(Path::new(".")).to_owned(),
                    role: here.role.clone(),
                };
                self.expand(list, &inner_here)?
            };
            self.depth -= 1;
            task.pass_on(&mut inner);
            out.extend(inner);
        }
        Ok(out)
    }
}

/// Ansible runs the notified handlers after `pre_tasks` and after `tasks` (and at the end).
fn implicit_flush(after: &str) -> Result<Vec<TaskDef>, PlaybookError> {
    Ok(TaskFile::parse_list(
        TaskSource {
            display: format!("(handlers flushed after {after})"),
            roles: None,
        },
        "- meta: flush_handlers\n",
    )?)
}

/// Whether `role` is a role in the roles layout under `base` (`base/roles/<role>` or
/// `base/<role>`).
pub fn has_role(base: &Path, role: &str) -> bool {
    RoleDir::find(role, &[base.join("roles"), base.to_owned()]).is_ok()
}

/// `provision run ROLE` with a role in the roles layout: one play of that role on the group
/// named like it.
pub fn role_play(role: &str, base: &Path) -> Result<Play, PlaybookError> {
    let mut assembler = Assembler::new(base, &[]);
    let r = RoleRef {
        name: role.to_string(),
        ..RoleRef::default()
    };
    let tasks = assembler.role(&r, None, true)?;
    let mut task_file = TaskFile {
        display: format!("role {role}"),
        tasks,
        handlers: std::mem::take(&mut assembler.handlers),
        ..TaskFile::default()
    };
    task_file.check()?;
    Ok(Play {
        name: role.to_string(),
        hosts: role.to_string(),
        task_file,
        defaults: assembler.defaults,
        vars: assembler.vars,
        become_: None,
        remote_user: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, files: &[(&str, &str)]) {
        for (name, text) in files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }

    #[test]
    fn a_play_with_roles_dependencies_and_imports() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                (
                    "site.yml",
                    "- hosts: web\n  vars: {greeting: hi}\n  pre_tasks:\n    - debug_me: x\n",
                ),
                (
                    "roles/web/tasks/main.yml",
                    "- import_tasks: more.yml\n  when: a\n- name: own\n  file: path=/x state=directory\n  notify: reload\n",
                ),
                (
                    "roles/web/tasks/more.yml",
                    "- name: more\n  command: echo more\n  when: b\n",
                ),
                (
                    "roles/web/handlers/main.yml",
                    "- name: reload\n  command: echo r\n",
                ),
                ("roles/web/defaults/main.yml", "port: 80\nmode: 0644\n"),
                ("roles/web/vars/main.yml", "fixed: 1\n"),
                (
                    "roles/web/meta/main.yml",
                    "dependencies:\n  - role: base\n    level: 2\n",
                ),
                (
                    "roles/base/tasks/main.yml",
                    "- name: base\n  command: echo base\n",
                ),
                (
                    "ok.yml",
                    "- hosts: web\n  roles:\n    - {role: web, port_: 8080, tags: [w]}\n  tasks:\n    - name: last\n      command: echo last\n",
                ),
            ],
        );
        let err = Playbook::load(&dir.path().join("site.yml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("site.yml:4:") && err.contains("debug_me"),
            "{err}"
        );

        let book = Playbook::load(&dir.path().join("ok.yml")).unwrap();
        let play = &book.plays[0];
        let names: Vec<String> = play
            .task_file
            .tasks
            .iter()
            .map(|t| t.display_name())
            .collect();
        assert_eq!(names, ["base", "more", "own", "last"]);
        let more = &play.task_file.tasks[1];
        let conditions: Vec<String> = more
            .when
            .iter()
            .map(|c| match c {
                Condition::Expr { text, .. } => text.clone(),
                Condition::Literal(b) => b.to_string(),
            })
            .collect();
        assert_eq!(conditions, ["a", "b"], "the import's `when` comes first");
        assert_eq!(
            more.vars["port_"], 8080,
            "role parameters reach the role's tasks"
        );
        assert_eq!(more.tags, ["w"]);
        assert_eq!(play.task_file.tasks[0].vars["level"], 2);
        assert!(play.task_file.tasks[3].vars.is_empty());
        assert_eq!(play.defaults["port"], 80);
        assert_eq!(play.defaults["mode"], 420);
        assert_eq!(play.vars["fixed"], 1);
        assert_eq!(play.task_file.handlers.len(), 1);
        assert!(more.source.display.ends_with("roles/web/tasks/more.yml"));
    }

    #[test]
    fn roles_are_found_on_the_roles_path() {
        let dir = tempfile::tempdir().unwrap();
        let shared = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[("site.yml", "- hosts: all\n  roles: [shared_role]\n")],
        );
        write(
            shared.path(),
            &[(
                "shared_role/tasks/main.yml",
                "- name: from the path\n  command: echo\n",
            )],
        );
        let err = Playbook::load_with_roles_path(&dir.path().join("site.yml"), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("role `shared_role` not found"), "{err}");
        let book = Playbook::load_with_roles_path(
            &dir.path().join("site.yml"),
            &[shared.path().to_owned()],
        )
        .unwrap();
        assert_eq!(
            book.plays[0].task_file.tasks[0].display_name(),
            "from the path"
        );
    }
}
