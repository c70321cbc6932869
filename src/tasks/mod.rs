//! Task files: `tasks/<role>.yml`, parsed into typed tasks with the line and column of every value,
//! then prepared per host (arguments templated, conditions evaluated) before any host is contacted.

pub mod apt;
pub mod assert;
pub mod checks;
pub mod command;
pub mod copy;
pub mod debconf;
pub mod debug;
pub mod fail;
pub mod file;
pub mod filesystem;
pub mod free_form;
pub mod git;
pub mod lineinfile;
pub mod meta;
pub mod module;
pub mod mount;
pub mod pip;
pub mod registry;
pub mod remote;
pub mod service;
pub mod set_fact;
pub mod stat;
pub mod tags;
pub mod template;
pub mod uri;
pub mod user;
pub mod wait_for;

use crate::render::{self, Pos};
use crate::roles::RoleSource;
use free_form::ArgValue;
use minijinja::{Environment, Value};
use module::Module;
use registry::{FreeForm, ModuleArgs, ModuleName};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

const KEYWORDS: &[&str] = &[
    "name",
    "become",
    "become_user",
    "when",
    "notify",
    "register",
    "changed_when",
    "failed_when",
    "loop",
    "with_items",
    "loop_control",
    "run_once",
    "ignore_errors",
    "args",
    "vars",
    "tags",
    "no_log",
    "listen",
    "import_tasks",
    "include_tasks",
    "import_role",
    "include_role",
    "block",
];

/// A module's arguments. A value of the wrong type is named by its field as well as its place
/// (`4:12: state: expected string scalar`).
pub(crate) fn arguments<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<T, D::Error> {
    serde_path_to_error::deserialize(d).map_err(|e| {
        // `.value` is the inside of a value kept with its place (`Spanned`), not a field.
        let field = e.path().to_string().replace(".value", "");
        let inner = e.into_inner();
        let message = inner.to_string();
        let place = message.rfind(" at line ").and_then(|i| {
            let (line, column) = message[i + " at line ".len()..].split_once(", column ")?;
            Some((
                line.parse::<u32>().ok()?,
                column.trim().parse::<u32>().ok()?,
                i,
            ))
        });
        match place {
            Some((line, column, end))
                if field != "." && !message.contains(&format!("`{field}`")) =>
            {
                located(
                    Pos { line, column },
                    format!("{field}: {}", &message[..end]),
                )
            }
            // From `key=value` text: no place in it, but the field still says which value.
            None if field != "." && !message.contains(&format!("`{field}`")) => {
                de::Error::custom(format!("{field}: {message}"))
            }
            _ => inner,
        }
    })
}

/// A module's value: arguments read, or a `key=value` string kept until the task's `args:` is known.
enum ModuleValue {
    Parsed(Box<dyn ModuleArgs>),
    Pairs(String),
}

struct ModuleSeed(&'static ModuleName);

impl<'de> DeserializeSeed<'de> for ModuleSeed {
    type Value = ModuleValue;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ModuleValue, D::Error> {
        struct V(&'static str);
        impl<'de> Visitor<'de> for V {
            type Value = ModuleValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("the module's arguments: a mapping, or `key=value` pairs in one string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ModuleValue, E> {
                Ok(ModuleValue::Pairs(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<ModuleValue, E> {
                Ok(ModuleValue::Pairs(String::new()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ModuleValue, A::Error> {
                registry::parse(self.0, de::value::MapAccessDeserializer::new(map))
                    .map(ModuleValue::Parsed)
            }
        }
        match self.0.free_form {
            FreeForm::Own => registry::parse(self.0.name, d).map(ModuleValue::Parsed),
            FreeForm::KeyValue => d.deserialize_any(V(self.0.name)),
        }
    }
}

/// A string, or a list of strings (`notify: x` and `notify: [x, y]`).
#[derive(Debug, Default)]
pub struct OneOrMany(pub Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![v.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(OneOrMany(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// `loop_control:`: the name of the loop's variable (default `item`), of its position, and the
/// label that shows an item in the results.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoopControl {
    pub loop_var: Option<String>,
    pub index_var: Option<String>,
    pub label: Option<String>,
}

impl LoopControl {
    pub fn loop_var(&self) -> &str {
        self.loop_var.as_deref().unwrap_or("item")
    }
}

/// A `when` condition: an expression string or a literal boolean.
#[derive(Debug, Clone)]
pub enum Condition {
    Literal(bool),
    Expr { text: String, pos: Pos },
}

/// `import_tasks`/`include_tasks` (a task file) or `import_role`/`include_role` (a role): the
/// task stands for the tasks it names, which the loader puts in its place before any host is
/// planned (see [`crate::playbook`]).
#[derive(Debug, Clone)]
pub struct Include {
    pub keyword: &'static str,
    pub role: bool,
    pub target: String,
    /// `tasks_from:` of a role.
    pub tasks_from: Option<String>,
    pub pos: Pos,
}

/// The value of an include keyword: a name, or a mapping with `file` (task files) or `name`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum IncludeValue {
    Name(String),
    Map(IncludeMap),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IncludeMap {
    file: Option<String>,
    name: Option<String>,
    tasks_from: Option<String>,
    /// Accepted for the roles that name them; provision reads a role's main files.
    handlers_from: Option<String>,
    apply: Option<serde_json::Value>,
    public: Option<bool>,
}

const INCLUDE_KEYWORDS: &[&str] = &[
    "import_tasks",
    "include_tasks",
    "import_role",
    "include_role",
];

/// Stands for an include in the module slot until the loader replaces the task.
#[derive(Debug)]
struct IncludePlaceholder;

impl ModuleArgs for IncludePlaceholder {
    fn prepare(&self, _ctx: &PrepareCtx) -> Result<Box<dyn Module>, FieldError> {
        Err(FieldError {
            pos: Pos::MODULE,
            message: "an include is resolved when the task file is loaded".into(),
        })
    }
}

/// Where a task was written: its file (for messages), and, for a task of a role in the roles
/// layout, where that role's templates and files are.
#[derive(Debug, Default)]
pub struct TaskSource {
    pub display: String,
    pub roles: Option<RoleSource>,
}

#[derive(Debug)]
pub struct TaskDef {
    pub source: std::sync::Arc<TaskSource>,
    pub pos: Pos,
    pub name: Option<Spanned<String>>,
    pub module_name: String,
    /// Set for an include (the module slot then holds a placeholder).
    pub include: Option<Include>,
    /// `block:`: tasks that take this task's `when`, `tags`, `vars`, `become`… (the module slot
    /// then holds a placeholder).
    pub block: Option<Vec<TaskDef>>,
    /// `listen:` of a handler: topics that notify it besides its name.
    pub listen: Vec<String>,
    pub module_pos: Pos,
    pub module: Box<dyn ModuleArgs>,
    pub become_: Option<bool>,
    pub become_user: Option<Spanned<String>>,
    pub when: Vec<Condition>,
    pub notify: Vec<String>,
    pub notify_pos: Option<Pos>,
    pub register: Option<String>,
    /// Evaluated after the task ran; may refer to the task's own registered result.
    pub changed_when: Option<Vec<Condition>>,
    pub failed_when: Option<Vec<Condition>>,
    /// `loop:` (or `with_items:`): a list, or an expression in `{{ }}` giving one.
    pub loop_items: Option<Spanned<serde_json::Value>>,
    /// The loop came from `with_items`, which flattens its list one level.
    pub loop_flattens: bool,
    /// `loop_control:` of the loop.
    pub loop_control: LoopControl,
    /// `run_once: true`: runs on the first host of the play; its result is every host's.
    pub run_once: bool,
    /// `ignore_errors: true`: a failure is reported and the host goes on.
    pub ignore_errors: bool,
    /// `vars:` of the task: seen by it alone, above the play's and the inventory's.
    pub vars: serde_json::Map<String, serde_json::Value>,
    /// `tags:`, for `--tags` and `--skip-tags`.
    pub tags: Vec<String>,
    /// `no_log: true`: the task's messages are not shown.
    pub no_log: bool,
    /// The identifiers in the task's text (set by `TaskFile::parse`): which variables it may
    /// use, known before anything is rendered.
    pub words: std::collections::BTreeSet<String>,
}

struct TaskVisitor;

impl<'de> Visitor<'de> for TaskVisitor {
    type Value = TaskDef;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a task: a mapping with `name` and one module such as `copy:`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TaskDef, A::Error> {
        let mut name = None;
        let mut module: Option<(&'static ModuleName, Pos, ModuleValue)> = None;
        let mut args: Option<(Pos, Vec<(String, ArgValue)>)> = None;
        let mut include: Option<Include> = None;
        let mut block: Option<Vec<TaskDef>> = None;
        let mut listen = Vec::new();
        let mut become_ = None;
        let mut become_user = None;
        let mut when = Vec::new();
        let mut notify = Vec::new();
        let mut notify_pos = None;
        let mut register = None;
        let mut changed_when = None;
        let mut failed_when = None;
        let mut loop_items = None;
        let mut loop_flattens = false;
        let mut loop_control = LoopControl::default();
        let mut run_once = false;
        let mut ignore_errors = false;
        let mut vars = serde_json::Map::new();
        let mut tags = Vec::new();
        let mut no_log = false;
        let mut first_pos = None;
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let key_pos = Pos::from(&key);
            first_pos.get_or_insert(key_pos);
            match key.value.as_str() {
                "name" => name = Some(map.next_value::<Spanned<String>>()?),
                "become" => become_ = Some(map.next_value::<bool>()?),
                "become_user" => become_user = Some(map.next_value::<Spanned<String>>()?),
                "notify" => {
                    let v = map.next_value::<Spanned<OneOrMany>>()?;
                    notify_pos = Some(Pos::from(&v));
                    notify = v.value.0;
                }
                "register" => {
                    let v = map.next_value::<Spanned<String>>()?;
                    if !is_identifier(&v.value) {
                        return Err(located(
                            Pos::from(&v),
                            format!(
                                "register name `{}` must be a variable name (letters, digits, `_`; not starting with a digit)",
                                v.value
                            ),
                        ));
                    }
                    register = Some(v.value);
                }
                "changed_when" => changed_when = Some(conditions(map.next_value()?)),
                "failed_when" => failed_when = Some(conditions(map.next_value()?)),
                "loop_control" => {
                    let v = map.next_value::<Spanned<LoopControl>>()?;
                    for name in [&v.value.loop_var, &v.value.index_var]
                        .into_iter()
                        .flatten()
                    {
                        if !is_identifier(name) {
                            return Err(located(
                                Pos::from(&v),
                                format!("loop_control: `{name}` is not a variable name"),
                            ));
                        }
                    }
                    loop_control = v.value;
                }
                "loop" | "with_items" => {
                    loop_flattens = key.value == "with_items";
                    loop_items = Some(map.next_value()?);
                }
                "run_once" => run_once = map.next_value::<bool>()?,
                "ignore_errors" => ignore_errors = map.next_value::<bool>()?,
                "no_log" => no_log = map.next_value::<bool>()?,
                "vars" => vars = map.next_value()?,
                "tags" => {
                    // `tags: a,b` is two tags, as in Ansible.
                    tags = map
                        .next_value::<OneOrMany>()?
                        .0
                        .iter()
                        .flat_map(|t| t.split(','))
                        .map(|t| t.trim().to_string())
                        .filter(|t| !t.is_empty())
                        .collect();
                }
                "when" => when = conditions(map.next_value()?),
                "listen" => listen = map.next_value::<OneOrMany>()?.0,
                "block" => block = Some(map.next_value()?),
                "rescue" | "always" => {
                    return Err(located(
                        key_pos,
                        format!(
                            "`{}` is not supported yet: a block's tasks run in order and the first failure stops the host",
                            key.value
                        ),
                    ));
                }
                k if INCLUDE_KEYWORDS.contains(&k) => {
                    let keyword = INCLUDE_KEYWORDS
                        .iter()
                        .find(|w| **w == k)
                        .copied()
                        .unwrap_or_default();
                    let role = keyword.ends_with("_role");
                    let value = map.next_value::<IncludeValue>()?;
                    let (target, tasks_from) = match value {
                        IncludeValue::Name(n) => (Some(n), None),
                        IncludeValue::Map(m) => {
                            let target = if role { m.name } else { m.file };
                            let _ = (m.handlers_from, m.apply, m.public);
                            (target, m.tasks_from)
                        }
                    };
                    let Some(target) = target else {
                        return Err(located(
                            key_pos,
                            format!(
                                "`{keyword}` needs {}",
                                if role {
                                    "`name:` (the role)"
                                } else {
                                    "a file name"
                                }
                            ),
                        ));
                    };
                    include = Some(Include {
                        keyword,
                        role,
                        target,
                        tasks_from,
                        pos: key_pos,
                    });
                }
                "args" => {
                    let v =
                        map.next_value::<Spanned<serde_json::Map<String, serde_json::Value>>>()?;
                    let pos = Pos::from(&v);
                    let pairs = v
                        .value
                        .into_iter()
                        .map(|(k, v)| (k, ArgValue::Yaml(v)))
                        .collect();
                    args = Some((pos, pairs));
                }
                other => {
                    let Some(m) = registry::lookup(other) else {
                        return Err(located(
                            key_pos,
                            format!(
                                "unknown module or task keyword `{other}` (modules: {}; keywords: {})",
                                registry::names().join(", "),
                                KEYWORDS.join(", ")
                            ),
                        ));
                    };
                    if let Some((first, _, _)) = &module {
                        return Err(located(
                            key_pos,
                            format!(
                                "this task names two modules, `{}` and `{other}`: a task runs exactly one",
                                first.name
                            ),
                        ));
                    }
                    let value = map.next_value_seed(ModuleSeed(m))?;
                    module = Some((m, key_pos, value));
                }
            }
        }
        let (module_name, module_pos, module): (String, Pos, Box<dyn ModuleArgs>) = match (
            module, &include,
        ) {
            (Some((entry, module_pos, value)), None) => (
                entry.name.to_string(),
                module_pos,
                module_arguments(entry, module_pos, value, args)?,
            ),
            (None, Some(inc)) => (
                inc.keyword.to_string(),
                inc.pos,
                Box::new(IncludePlaceholder),
            ),
            (None, None) if block.is_some() => (
                "block".to_string(),
                first_pos.unwrap_or(Pos::MODULE),
                Box::new(IncludePlaceholder),
            ),
            (Some((entry, pos, _)), Some(inc)) => {
                return Err(located(
                    pos,
                    format!(
                        "this task names both `{}` and `{}`: a task runs one module or includes",
                        entry.name, inc.keyword
                    ),
                ));
            }
            (None, None) => {
                return Err(de::Error::custom(format!(
                    "this task names no module (one of: {})",
                    registry::names().join(", ")
                )));
            }
        };
        Ok(TaskDef {
            source: Default::default(),
            pos: first_pos.unwrap_or(module_pos),
            name,
            module_name,
            module_pos,
            module,
            include,
            block,
            listen,
            become_,
            become_user,
            when,
            notify,
            notify_pos,
            register,
            changed_when,
            failed_when,
            loop_items,
            loop_flattens,
            loop_control,
            run_once,
            ignore_errors,
            vars,
            tags,
            no_log,
            words: Default::default(),
        })
    }
}

/// The module's arguments from its value and the task's `args:`.
fn module_arguments<E: de::Error>(
    entry: &'static ModuleName,
    module_pos: Pos,
    value: ModuleValue,
    args: Option<(Pos, Vec<(String, ArgValue)>)>,
) -> Result<Box<dyn ModuleArgs>, E> {
    match value {
        ModuleValue::Parsed(mut parsed) => {
            if let Some((pos, args)) = args {
                if entry.free_form == FreeForm::KeyValue {
                    return Err(located(
                        pos,
                        format!(
                            "`args:` beside `{}:` arguments written as a mapping: give them in one place",
                            entry.name
                        ),
                    ));
                }
                parsed
                    .merge_args(args)
                    .map_err(|message| located(pos, format!("args: {message}")))?;
            }
            Ok(parsed)
        }
        ModuleValue::Pairs(text) => {
            let mut pairs =
                free_form::key_values(&text).map_err(|message| located(module_pos, message))?;
            if let Some((pos, args)) = args {
                for (key, value) in args {
                    if pairs.iter().any(|(k, _)| *k == key) {
                        return Err(located(
                            pos,
                            format!("`{key}` is given both in `{}:` and in `args:`", entry.name),
                        ));
                    }
                    pairs.push((key, value));
                }
            }
            let map = de::value::MapDeserializer::<_, de::value::Error>::new(pairs.into_iter());
            registry::parse(entry.name, map)
                .map_err(|e| located(module_pos, format!("{}: {e}", entry.name)))
        }
    }
}

pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn conditions(v: Spanned<WhenValue>) -> Vec<Condition> {
    {
        let pos = Pos::from(&v);
        match v.value {
            WhenValue::Literal(b) => vec![Condition::Literal(b)],
            WhenValue::Exprs(list) => list
                .into_iter()
                .map(|text| Condition::Expr { text, pos })
                .collect(),
        }
    }
}

impl<'de> Deserialize<'de> for TaskDef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(TaskVisitor)
    }
}

/// `when:` as written: an expression, a list of them (all must hold), or a literal boolean.
pub enum WhenValue {
    Literal(bool),
    Exprs(Vec<String>),
}

impl<'de> Deserialize<'de> for WhenValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WhenValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an expression, a list of expressions (all must hold) or a boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<WhenValue, E> {
                Ok(WhenValue::Literal(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<WhenValue, E> {
                Ok(WhenValue::Exprs(vec![v.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<WhenValue, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(WhenValue::Exprs(out))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Default)]
pub struct TaskFile {
    pub display: String,
    pub tasks: Vec<TaskDef>,
    pub handlers: Vec<TaskDef>,
    /// `import: other`: this role is the task file `other.yml` with this file's `vars`.
    pub import: Option<String>,
    /// The role's own variables: above configure.json's, below the inventory's.
    pub vars: serde_json::Map<String, serde_json::Value>,
    pub strategy: Strategy,
    /// What Ansible would warn about and still run (a condition written inside `{{ }}`).
    pub warnings: Vec<String>,
}

/// How the hosts move through the tasks: `linear` (Ansible's default: in step wherever another
/// host could see the difference) or `free` (each host on its own).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    #[default]
    Linear,
    Free,
}

/// Modules whose task can reach other hosts (a command can do anything; the others connect to
/// an address the task names): hosts meet before and after them.
const REACHES_BEYOND_ITS_HOST: &[&str] =
    &["command", "shell", "uri", "wait_for", "git", "apt", "pip"];

/// Variables through which a task sees other hosts.
const OTHER_HOSTS_VARIABLES: &[&str] = &[
    "hostvars",
    "groups",
    "play_hosts",
    "ansible_play_hosts",
    "ansible_play_hosts_all",
    "ansible_play_batch",
];

fn identifiers(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
}

/// Whether `text` (a task's or a template's) uses a variable through which it sees other hosts.
pub fn mentions_other_hosts(text: &str) -> bool {
    identifiers(text).any(|w| OTHER_HOSTS_VARIABLES.contains(&w))
}

struct TaskFileVisitor;

impl<'de> Visitor<'de> for TaskFileVisitor {
    type Value = TaskFile;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of tasks, or a mapping with `tasks:` and `handlers:` lists")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TaskFile, A::Error> {
        let mut tasks = Vec::new();
        while let Some(t) = seq.next_element::<TaskDef>()? {
            tasks.push(t);
        }
        Ok(TaskFile {
            tasks,
            ..TaskFile::default()
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TaskFile, A::Error> {
        let mut file = TaskFile::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "tasks" => file.tasks = map.next_value()?,
                "handlers" => file.handlers = map.next_value()?,
                "import" => file.import = Some(map.next_value()?),
                "vars" => file.vars = map.next_value()?,
                "strategy" => {
                    file.strategy = match map.next_value::<String>()?.as_str() {
                        "linear" => Strategy::Linear,
                        "free" => Strategy::Free,
                        other => {
                            return Err(de::Error::custom(format!(
                                "strategy `{other}` is not one of: linear, free"
                            )));
                        }
                    }
                }
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown top-level key `{other}` (allowed: tasks, handlers, vars, import, strategy)"
                    )));
                }
            }
        }
        if file.import.is_some() && !(file.tasks.is_empty() && file.handlers.is_empty()) {
            return Err(de::Error::custom(
                "a file with `import` has no tasks or handlers of its own",
            ));
        }
        Ok(file)
    }

    fn visit_unit<E: de::Error>(self) -> Result<TaskFile, E> {
        Ok(TaskFile::default())
    }
}

impl<'de> Deserialize<'de> for TaskFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TaskFileVisitor)
    }
}

/// An error in a task file or in what it renders to, located in the task file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct TaskFileError {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl TaskFileError {
    /// The error is a variable that is not defined (it may be one known only at run time).
    pub fn is_undefined(&self) -> bool {
        render::is_undefined_message(&self.message)
    }
}

impl TaskSource {
    pub fn error(&self, pos: Pos, message: String) -> TaskFileError {
        TaskFileError {
            file: self.display.clone(),
            line: pos.line,
            column: pos.column,
            message,
        }
    }
}

impl TaskFile {
    pub fn parse(display: &str, text: &str) -> Result<TaskFile, TaskFileError> {
        let mut file: TaskFile =
            crate::yaml::from_str(text).map_err(|e| yaml_error(display, &e))?;
        file.display = display.to_string();
        file.attach_source(TaskSource {
            display: display.to_string(),
            roles: None,
        });
        file.note_words(text);
        file.flatten();
        if file
            .tasks
            .iter()
            .chain(&file.handlers)
            .all(|t| t.include.is_none())
        {
            file.check()?;
        }
        Ok(file)
    }

    /// A list of tasks on its own (an included file, a role's `tasks/main.yml` or
    /// `handlers/main.yml`); checked once the whole play is put together ([`TaskFile::check`]).
    pub fn parse_list(source: TaskSource, text: &str) -> Result<Vec<TaskDef>, TaskFileError> {
        let tasks: Option<Vec<TaskDef>> =
            crate::yaml::from_str(text).map_err(|e| yaml_error(&source.display, &e))?;
        let mut file = TaskFile {
            display: source.display.clone(),
            tasks: tasks.unwrap_or_default(),
            ..TaskFile::default()
        };
        file.attach_source(source);
        file.note_words(text);
        file.flatten();
        Ok(file.tasks)
    }

    fn attach_source(&mut self, source: TaskSource) {
        let source = std::sync::Arc::new(source);
        set_source(&mut self.tasks, &source);
        set_source(&mut self.handlers, &source);
    }

    /// What can only be checked on the whole of a play's tasks and handlers: every `notify`
    /// names a handler, `run_once` where it means something; and what to warn about.
    pub fn check(&mut self) -> Result<(), TaskFileError> {
        self.note_warnings();
        self.check_notify()?;
        self.check_run_once()
    }

    fn note_warnings(&mut self) {
        for task in self.tasks.iter().chain(&self.handlers) {
            for cond in task
                .when
                .iter()
                .chain(task.changed_when.iter().flatten())
                .chain(task.failed_when.iter().flatten())
            {
                if let Condition::Expr { text, pos } = cond
                    && render::condition_has_delimiters(text)
                {
                    self.warnings.push(format!(
                        "{}:{}:{}: a condition should not include {{{{ }}}} or {{% %}}: it is rendered, then evaluated (`{text}`)",
                        task.source.display, pos.line, pos.column
                    ));
                }
            }
        }
    }

    fn check_run_once(&self) -> Result<(), TaskFileError> {
        if let Some(h) = self.handlers.iter().find(|h| h.run_once) {
            return Err(h.source.error(
                h.pos,
                "`run_once` is for tasks: a handler runs on the hosts that notified it".into(),
            ));
        }
        if let Some(t) = self
            .tasks
            .iter()
            .find(|t| t.run_once && t.module_name == meta::KIND)
        {
            return Err(t.source.error(
                t.pos,
                "`run_once` does not apply to `meta`: handlers are flushed on every host".into(),
            ));
        }
        Ok(())
    }

    /// A task's text runs from its first line to the line before the next task's (of either
    /// list); a comment or key in between can only make a task wait for run-time values, or
    /// other hosts, when it need not.
    pub(crate) fn note_words(&mut self, text: &str) {
        let lines: Vec<&str> = text.lines().collect();
        let mut starts: Vec<usize> = Vec::new();
        fn collect(tasks: &[TaskDef], starts: &mut Vec<usize>) {
            for t in tasks {
                starts.push(t.pos.line as usize);
                collect(t.block.as_deref().unwrap_or_default(), starts);
            }
        }
        collect(&self.tasks, &mut starts);
        collect(&self.handlers, &mut starts);
        starts.sort_unstable();
        fn assign(tasks: &mut [TaskDef], starts: &[usize], lines: &[&str]) {
            for task in tasks {
                let first = (task.pos.line as usize).saturating_sub(1);
                let end = starts
                    .iter()
                    .find(|&&s| s > task.pos.line as usize)
                    .map(|s| s - 1)
                    .unwrap_or(lines.len());
                let own = lines.get(first..end.max(first)).unwrap_or_default();
                task.words = own
                    .iter()
                    .flat_map(|l| identifiers(l))
                    .map(String::from)
                    .collect();
                if let Some(children) = task.block.as_mut() {
                    assign(children, starts, lines);
                }
            }
        }
        assign(&mut self.tasks, &starts, &lines);
        assign(&mut self.handlers, &starts, &lines);
    }

    /// Puts the tasks of every `block` in its place (see [`flatten_blocks`]).
    fn flatten(&mut self) {
        self.tasks = flatten_blocks(std::mem::take(&mut self.tasks));
        self.handlers = flatten_blocks(std::mem::take(&mut self.handlers));
    }

    fn check_notify(&self) -> Result<(), TaskFileError> {
        let handler_names: Vec<&str> = self
            .handlers
            .iter()
            .filter_map(|h| h.name.as_ref().map(|n| n.value.as_str()))
            .collect();
        for (i, h) in self.handlers.iter().enumerate() {
            if h.name.is_none() {
                return Err(h.source.error(
                    h.pos,
                    "a handler needs a `name` for `notify` to refer to".into(),
                ));
            }
            if handler_names[..i].contains(&handler_names[i]) {
                return Err(h.source.error(
                    h.pos,
                    format!("two handlers are named `{}`", handler_names[i]),
                ));
            }
        }
        let topics: Vec<&str> = self
            .handlers
            .iter()
            .flat_map(|h| h.listen.iter().map(String::as_str))
            .collect();
        for task in self.tasks.iter().chain(&self.handlers) {
            for n in &task.notify {
                if !handler_names.contains(&n.as_str()) && !topics.contains(&n.as_str()) {
                    let known = if handler_names.is_empty() {
                        "this file has no handlers".to_string()
                    } else {
                        format!("handlers: {}", handler_names.join(", "))
                    };
                    return Err(task.source.error(
                        task.notify_pos.unwrap_or(task.pos),
                        format!("`notify` names `{n}`, which is not a handler ({known})"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Drops the tasks `--tags`/`--skip-tags` leave out (handlers run when notified, whatever
    /// their tags, as in Ansible).
    pub fn select_tags(&mut self, filter: &tags::TagFilter) {
        if !filter.is_empty()
            || self
                .tasks
                .iter()
                .any(|t| t.tags.iter().any(|x| x == "never"))
        {
            self.tasks.retain(|t| filter.keeps(&t.tags));
        }
    }

    /// The names tasks register: known only while the run goes on.
    pub fn registered_names(&self) -> Vec<String> {
        self.tasks
            .iter()
            .chain(&self.handlers)
            .flat_map(|t| t.register.iter().cloned().chain(t.module.sets_variables()))
            .collect()
    }
}

/// Sets the file a task (and every task of its block) was written in.
pub(crate) fn set_source(tasks: &mut [TaskDef], source: &std::sync::Arc<TaskSource>) {
    for task in tasks {
        task.source = source.clone();
        if let Some(children) = task.block.as_mut() {
            set_source(children, source);
        }
    }
}

/// What the tasks of a block, an include or a role take from it: its conditions (before
/// theirs), its tags, its vars (under theirs), `become`, `become_user`, `ignore_errors`,
/// `no_log`, and the words of its text (so they wait for the run-time values it uses).
#[derive(Debug, Default, Clone)]
pub struct Inheritance {
    pub when: Vec<Condition>,
    pub tags: Vec<String>,
    pub vars: serde_json::Map<String, serde_json::Value>,
    pub become_: Option<bool>,
    pub become_user: Option<Spanned<String>>,
    pub ignore_errors: bool,
    pub no_log: bool,
    pub words: std::collections::BTreeSet<String>,
}

impl Inheritance {
    pub fn apply(&self, tasks: &mut [TaskDef]) {
        for t in tasks {
            let mut when = self.when.clone();
            when.append(&mut t.when);
            t.when = when;
            for tag in &self.tags {
                if !t.tags.contains(tag) {
                    t.tags.push(tag.clone());
                }
            }
            for (k, v) in &self.vars {
                t.vars.entry(k.clone()).or_insert_with(|| v.clone());
            }
            if t.become_.is_none() {
                t.become_ = self.become_;
            }
            if t.become_user.is_none() {
                t.become_user = self.become_user.clone();
            }
            t.ignore_errors |= self.ignore_errors;
            t.no_log |= self.no_log;
            t.words.extend(self.words.iter().cloned());
        }
    }
}

/// The identifiers in a text (which variables it may use).
pub fn words_of(text: &str) -> impl Iterator<Item = String> + '_ {
    identifiers(text).map(String::from)
}

/// Puts the tasks of every `block` in its place, each taking the block's keywords.
pub fn flatten_blocks(tasks: Vec<TaskDef>) -> Vec<TaskDef> {
    let mut out = Vec::new();
    for mut task in tasks {
        match task.block.take() {
            Some(children) => {
                let mut children = flatten_blocks(children);
                task.pass_on(&mut children);
                out.extend(children);
            }
            None => out.push(task),
        }
    }
    out
}

/// A YAML or task error from the parser, located in `display`.
pub fn yaml_error(display: &str, e: &serde_saphyr::Error) -> TaskFileError {
    let location = e.location();
    let message = e.without_snippet().to_string();
    if let Some((line, column, message)) = take_location(&message) {
        return TaskFileError {
            file: display.to_string(),
            line,
            column,
            message: strip_location_suffix(&message),
        };
    }
    TaskFileError {
        file: display.to_string(),
        line: location.map(|l| l.line() as u32).unwrap_or(0),
        column: location.map(|l| l.column() as u32).unwrap_or(0),
        message: strip_location_suffix(&message),
    }
}

/// Serde errors cannot carry a location of our choosing, so a visitor that knows a better one
/// (the offending key's) puts it in front of the message, and `TaskFile::parse` takes it back out.
const LOCATED: &str = "[[provision-at ";

fn located<E: de::Error>(pos: Pos, message: String) -> E {
    E::custom(format!("{LOCATED}{}:{}]] {message}", pos.line, pos.column))
}

fn take_location(message: &str) -> Option<(u32, u32, String)> {
    let start = message.find(LOCATED)?;
    let rest = &message[start + LOCATED.len()..];
    let (pos, text) = rest.split_once("]] ")?;
    let (line, column) = pos.split_once(':')?;
    Some((line.parse().ok()?, column.parse().ok()?, text.to_string()))
}

fn strip_location_suffix(message: &str) -> String {
    // serde-saphyr appends " at line X column Y"; the location leads our message instead.
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// An error in one field, before it is tied to its file.
#[derive(Debug)]
pub struct FieldError {
    pub pos: Pos,
    pub message: String,
}

/// What preparing a task for one host needs.
#[derive(Clone, Copy)]
pub struct PrepareCtx<'a> {
    pub env: &'a Environment<'static>,
    pub vars: &'a Value,
    pub roles: &'a RoleSource,
}

impl PrepareCtx<'_> {
    pub fn render(&self, s: &Spanned<String>) -> Result<String, FieldError> {
        self.render_at(&s.value, Pos::from(s))
    }

    /// Renders template text found at `pos` (an item of a list, a string inside a mapping).
    pub fn render_at(&self, text: &str, pos: Pos) -> Result<String, FieldError> {
        let value = render::render_str(self.env, text, self.vars).map_err(|e| FieldError {
            pos,
            message: e.message,
        })?;
        checks::no_nul(value, pos)
    }

    pub fn render_opt(&self, s: &Option<Spanned<String>>) -> Result<Option<String>, FieldError> {
        s.as_ref().map(|s| self.render(s)).transpose()
    }

    /// A rendered path that must be absolute; `what` names the argument in the message.
    pub fn absolute_path(&self, s: &Spanned<String>, what: &str) -> Result<String, FieldError> {
        let path = self.render(s)?;
        if !path.starts_with('/') {
            return Err(FieldError {
                pos: Pos::from(s),
                message: format!("{what} `{path}` must be absolute"),
            });
        }
        Ok(path)
    }

    /// One of a fixed set of words (`state: present`), or `default` when absent.
    pub fn choice<T: Copy>(
        &self,
        field: &Option<Spanned<String>>,
        what: &str,
        options: &[(&str, T)],
        default: T,
    ) -> Result<T, FieldError> {
        let Some(s) = field else {
            return Ok(default);
        };
        let word = self.render(s)?;
        options
            .iter()
            .find(|(name, _)| *name == word)
            .map(|(_, value)| *value)
            .ok_or_else(|| FieldError {
                pos: Pos::from(s),
                message: format!(
                    "{what} `{word}` is not one of: {}",
                    options
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
    }

    /// Mode, owner and group arguments, rendered and checked.
    pub fn attributes(
        &self,
        mode: &Option<Spanned<ModeText>>,
        owner: &Option<Spanned<String>>,
        group: &Option<Spanned<String>>,
    ) -> Result<remote::Attributes, FieldError> {
        let mode = match mode {
            Some(m) => {
                let text = render::render_str(self.env, &m.value.0, self.vars).map_err(|e| {
                    FieldError {
                        pos: Pos::from(m),
                        message: e.message,
                    }
                })?;
                Some(remote::parse_mode(&text).map_err(|message| FieldError {
                    pos: Pos::from(m),
                    message,
                })?)
            }
            None => None,
        };
        let account = |field: &str, value: &Option<Spanned<String>>| {
            let Some(v) = value else {
                return Ok(None);
            };
            let name = self.render(v)?;
            checks::account(field, &name, Pos::from(v))?;
            Ok(Some(name))
        };
        Ok(remote::Attributes {
            mode,
            owner: account("owner", owner)?,
            group: account("group", group)?,
        })
    }
}

/// A task ready to run on one host: every argument rendered for that host.
#[derive(Debug)]
pub struct PreparedTask {
    pub index: usize,
    pub source: std::sync::Arc<TaskSource>,
    pub name: String,
    pub module: Box<dyn Module>,
    pub become_user: Option<String>,
    /// Why the task is skipped on this host (`when` was false).
    pub skip: Option<String>,
    pub notify: Vec<String>,
    pub register: Option<String>,
    pub changed_when: Option<Vec<Condition>>,
    pub failed_when: Option<Vec<Condition>>,
    /// Identifies the task's look within the host's run (unique, also across loop items).
    pub look_key: usize,
    /// For a task of a loop: its item's position and the item, as `register` records them.
    pub loop_item: Option<(usize, serde_json::Value)>,
    /// The name the loop's item has (`loop_control.loop_var`, default `item`).
    pub loop_var: String,
}

/// Loops are capped so that each item gets its own look key.
const MAX_LOOP_ITEMS: usize = 1000;

/// The first condition of `conditions` that does not hold, as a reason to show; `None` if all hold.
pub fn first_false(
    env: &Environment<'static>,
    conditions: &[Condition],
    vars: &Value,
    source: &TaskSource,
    keyword: &str,
) -> Result<Option<String>, TaskFileError> {
    for cond in conditions {
        let holds = match cond {
            Condition::Literal(b) => *b,
            Condition::Expr { text, pos } => {
                render::eval_condition(env, text, vars).map_err(|e| {
                    source.error(*pos, format!("in `{keyword}: {text}`: {}", e.message))
                })?
            }
        };
        if !holds {
            return Ok(Some(match cond {
                Condition::Literal(_) => format!("{keyword}: false"),
                Condition::Expr { text, .. } => format!("condition `{text}` is false"),
            }));
        }
    }
    Ok(None)
}

impl TaskDef {
    /// Under the linear strategy, hosts meet before and after this task: it can see other hosts
    /// (their variables, or over the network) or make them act (`run_once`, handlers).
    pub fn is_sync_point(&self) -> bool {
        self.run_once
            || self.mentions_other_hosts()
            || self.module_name == meta::KIND
            || self.reaches_beyond_its_host()
    }

    /// The task's name as written, or its module's when it has none.
    pub fn display_name(&self) -> String {
        match &self.name {
            Some(n) => n.value.clone(),
            None => self.module_name.clone(),
        }
    }

    /// The task's text names other hosts' variables or the play's hosts (`hostvars`, `groups`, …).
    pub fn mentions_other_hosts(&self) -> bool {
        OTHER_HOSTS_VARIABLES
            .iter()
            .any(|v| self.words.contains(*v))
    }

    /// The task's text uses one of `names` (as a whole identifier) other than the name it
    /// registers its own result under (its `changed_when`/`failed_when` see that one after it ran).
    pub fn uses_any(&self, names: &[String]) -> bool {
        names
            .iter()
            .filter(|n| self.register.as_ref() != Some(*n))
            .any(|n| self.words.contains(n))
    }

    /// The module can change other hosts (or read them): what this host saw of itself before
    /// may be stale once it ran anywhere.
    pub fn reaches_beyond_its_host(&self) -> bool {
        REACHES_BEYOND_ITS_HOST.contains(&self.module_name.as_str())
    }

    pub fn template_source(&self) -> Option<&str> {
        self.module.template_source()
    }

    /// The task for one host, or one task per item of its `loop`, each with `item` set.
    pub fn prepare_all(
        &self,
        index: usize,
        ctx: &PrepareCtx,
        default_become: bool,
    ) -> Result<Vec<PreparedTask>, TaskFileError> {
        let Some(spec) = &self.loop_items else {
            return Ok(vec![self.prepare(index, ctx, default_become)?]);
        };
        let pos = Pos::from(spec);
        let items: Vec<Value> = match &spec.value {
            serde_json::Value::String(text) => {
                let expr = text
                    .trim()
                    .strip_prefix("{{")
                    .and_then(|t| t.strip_suffix("}}"))
                    .ok_or_else(|| {
                        self.source.error(
                            pos,
                            format!("loop `{text}` must be a list or an expression in {{{{ }}}}"),
                        )
                    })?;
                let value = ctx
                    .env
                    .compile_expression(expr)
                    .and_then(|e| e.eval(ctx.vars))
                    .map_err(|e| {
                        self.source.error(
                            pos,
                            format!("in `loop: {text}`: {}", render::explain(&e).message),
                        )
                    })?;
                if value.is_undefined() {
                    return Err(self
                        .source
                        .error(pos, format!("in `loop: {text}`: undefined variable")));
                }
                value
                    .try_iter()
                    .map_err(|_| {
                        self.source
                            .error(pos, format!("loop `{text}` is not a list"))
                    })?
                    .collect()
            }
            serde_json::Value::Array(list) => list
                .iter()
                .map(|item| match item {
                    serde_json::Value::String(s) => render::render_str(ctx.env, s, ctx.vars)
                        .map(Value::from)
                        .map_err(|e| {
                            self.source
                                .error(pos, format!("in a loop item: {}", e.message))
                        }),
                    other => Ok(Value::from(minijinja::value::Serde(other))),
                })
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(self
                    .source
                    .error(pos, "loop needs a list or an expression in {{ }}".into()));
            }
        };
        let items: Vec<Value> = if self.loop_flattens {
            items
                .into_iter()
                .flat_map(|item| match item.kind() {
                    minijinja::value::ValueKind::Seq => item
                        .try_iter()
                        .map(|i| i.collect::<Vec<_>>())
                        .unwrap_or_default(),
                    _ => vec![item],
                })
                .collect()
        } else {
            items
        };
        if items.len() > MAX_LOOP_ITEMS {
            return Err(self.source.error(
                pos,
                format!("loop has {} items; at most {MAX_LOOP_ITEMS}", items.len()),
            ));
        }
        if items.is_empty() {
            // Nothing is rendered: the arguments may use `item`.
            return Ok(vec![PreparedTask {
                index,
                source: self.source.clone(),
                name: self.display_name(),
                module: Box::new(Skipped(self.module_name.clone())),
                become_user: None,
                skip: Some("the loop has no items".into()),
                notify: Vec::new(),
                register: self.register.clone(),
                changed_when: None,
                failed_when: None,
                look_key: index * MAX_LOOP_ITEMS,
                loop_item: None,
                loop_var: String::new(),
            }]);
        }
        let mut out = Vec::new();
        let control = &self.loop_control;
        for (position, item) in items.into_iter().enumerate() {
            let mut own = std::collections::BTreeMap::new();
            own.insert(control.loop_var().to_string(), item.clone());
            if let Some(index_var) = &control.index_var {
                own.insert(index_var.clone(), Value::from(position));
            }
            // The last map wins: the item over any variable of the same name.
            let vars = minijinja::value::merge_maps([ctx.vars.clone(), Value::from(own)]);
            let item_ctx = PrepareCtx {
                vars: &vars,
                ..*ctx
            };
            let mut task = self.prepare(index, &item_ctx, default_become)?;
            let shown = match &control.label {
                Some(label) => render::render_str(ctx.env, label, &vars).map_err(|e| {
                    self.source
                        .error(pos, format!("in loop_control.label: {}", e.message))
                })?,
                None => match item.as_str() {
                    Some(s) => s.to_string(),
                    None => item.to_string(),
                },
            };
            task.name = format!("{} (item={shown})", task.name);
            task.look_key = index * MAX_LOOP_ITEMS + position;
            let json = serde_json::to_value(&item).unwrap_or(serde_json::Value::Null);
            task.loop_item = Some((position, json));
            task.loop_var = control.loop_var().to_string();
            out.push(task);
        }
        Ok(out)
    }

    /// What the tasks of a block or an include take from it.
    pub fn inheritance(&self) -> Inheritance {
        Inheritance {
            when: self.when.clone(),
            tags: self.tags.clone(),
            vars: self.vars.clone(),
            become_: self.become_,
            become_user: self.become_user.clone(),
            ignore_errors: self.ignore_errors,
            no_log: self.no_log,
            words: self.words.clone(),
        }
    }

    /// Gives the tasks of this block or include what they take from it.
    pub fn pass_on(&self, tasks: &mut [TaskDef]) {
        self.inheritance().apply(tasks);
    }

    /// The variables with the task's own `vars` over them, each rendered with the others.
    fn with_task_vars(&self, ctx: &PrepareCtx) -> Result<Value, TaskFileError> {
        let mut own = self.vars.clone();
        for (name, value) in own.iter_mut() {
            render_json(ctx.env, value, ctx.vars).map_err(|message| {
                self.source
                    .error(self.pos, format!("in task variable `{name}`: {message}"))
            })?;
        }
        // The last map wins.
        Ok(minijinja::value::merge_maps([
            ctx.vars.clone(),
            Value::from(minijinja::value::Serde(&own)),
        ]))
    }

    pub fn prepare(
        &self,
        index: usize,
        ctx: &PrepareCtx,
        default_become: bool,
    ) -> Result<PreparedTask, TaskFileError> {
        // A role's task finds its templates and files in its role.
        let own;
        let ctx = match &self.source.roles {
            Some(roles) => {
                own = PrepareCtx { roles, ..*ctx };
                &own
            }
            None => ctx,
        };
        let with_vars;
        let vars_ctx;
        let ctx = if self.vars.is_empty() {
            ctx
        } else {
            with_vars = self.with_task_vars(ctx)?;
            vars_ctx = PrepareCtx {
                vars: &with_vars,
                ..*ctx
            };
            &vars_ctx
        };
        let at = |e: FieldError| {
            let pos = if e.pos == Pos::MODULE {
                self.module_pos
            } else {
                e.pos
            };
            self.source.error(pos, e.message)
        };
        let skip = first_false(ctx.env, &self.when, ctx.vars, &self.source, "when")?;
        // Evaluated after the task runs, so only their syntax can be checked now.
        for (keyword, conditions) in [
            ("changed_when", &self.changed_when),
            ("failed_when", &self.failed_when),
        ] {
            for cond in conditions.iter().flatten() {
                if let Condition::Expr { text, pos } = cond {
                    ctx.env.compile_expression(text).map_err(|e| {
                        self.source
                            .error(*pos, format!("in `{keyword}: {text}`: {e}"))
                    })?;
                }
            }
        }
        let name = match &self.name {
            Some(n) => ctx.render(n).map_err(at)?,
            None => String::new(),
        };
        // A skipped task's arguments may refer to variables that only exist where it applies.
        let module = if skip.is_some() {
            Box::new(Skipped(self.module_name.clone())) as Box<dyn Module>
        } else {
            self.module.prepare(ctx).map_err(at)?
        };
        let name = if name.is_empty() {
            format!("{} {}", self.module_name, module.target())
        } else {
            name
        };
        let become_user = if self.become_.unwrap_or(default_become) {
            Some(match &self.become_user {
                Some(u) => {
                    let user = ctx.render(u).map_err(at)?;
                    checks::account("become_user", &user, Pos::from(u)).map_err(at)?;
                    user
                }
                None => "root".to_string(),
            })
        } else {
            None
        };
        Ok(PreparedTask {
            index,
            source: self.source.clone(),
            name,
            module,
            become_user,
            skip,
            notify: self.notify.clone(),
            register: self.register.clone(),
            changed_when: self.changed_when.clone(),
            failed_when: self.failed_when.clone(),
            look_key: index * MAX_LOOP_ITEMS,
            loop_item: None,
            loop_var: String::new(),
        })
    }
}

/// Renders every string inside a value that holds a template.
pub(crate) fn render_json(
    env: &Environment<'static>,
    value: &mut serde_json::Value,
    vars: &Value,
) -> Result<(), String> {
    match value {
        serde_json::Value::String(s) => {
            // A value that is one expression keeps its type (`{{ [1, 2] }}` is a list), as
            // Ansible's native types do.
            if let Some(expr) = single_expression(s) {
                let result = env
                    .compile_expression(expr)
                    .and_then(|e| e.eval(vars))
                    .map_err(|e| render::explain(&e).message)?;
                if result.is_undefined() {
                    return Err(format!("undefined variable in `{s}`"));
                }
                if let Ok(json) = serde_json::to_value(&result) {
                    *value = json;
                    return Ok(());
                }
            }
            *s = render::render_str(env, s, vars).map_err(|e| e.message)?;
        }
        serde_json::Value::Array(items) => {
            for item in items {
                render_json(env, item, vars)?;
            }
        }
        serde_json::Value::Object(map) => {
            for item in map.values_mut() {
                render_json(env, item, vars)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// `{{ expr }}` and nothing else around it.
fn single_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}")).then_some(inner)
}

/// Stands in for a task whose `when` is false on a host.
#[derive(Debug)]
struct Skipped(String);

impl Module for Skipped {
    fn kind(&self) -> &'static str {
        "skipped"
    }
    fn target(&self) -> String {
        String::new()
    }
    fn look(&self) -> Option<module::Look> {
        None
    }
    fn decide(&self, _: Option<&module::Observed>) -> Result<module::Plan, module::DecideError> {
        Ok(module::Plan::Skip {
            reason: format!("{} skipped", self.0),
        })
    }
}

/// `mode:` as written. Read as text, so `0644` keeps its digits; a value that only a number can
/// be (YAML gave an integer) is refused, since `0644` means different numbers in YAML 1.1 and 1.2.
#[derive(Debug)]
pub struct ModeText(pub String);

impl<'de> Deserialize<'de> for ModeText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ModeText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a quoted octal mode such as '0644'")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ModeText, E> {
                Ok(ModeText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ModeText, E> {
                Err(E::custom(format!(
                    "mode {v} was read as a number; write it as a quoted octal string such as '0644'"
                )))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ModeText, E> {
                self.visit_u64(v.unsigned_abs())
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests;
