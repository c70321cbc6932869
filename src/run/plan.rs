//! Everything checked before the first host is contacted: host selection, variables, connection
//! settings, key files, and every task rendered for every host.

use super::{HostPlan, RunShared, Slot};
use crate::inventory::Inventory;
use crate::roles::RoleSource;
use crate::ssh::{self, Target};
use crate::tasks::{PrepareCtx, TaskDef, TaskFile};
use indexmap::IndexMap;
use minijinja::Value;
use serde_json::{Map, Value as Json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("inventory {path} has no group [{group}] (groups: {known})")]
    NoGroup {
        path: String,
        group: String,
        known: String,
    },
    #[error("group [{group}] in inventory {path} has no hosts")]
    EmptyGroup { path: String, group: String },
    #[error("no host of group [{group}] matches --limit {limit}")]
    NothingSelected { group: String, limit: String },
    #[error("{0}")]
    Invalid(String),
    #[error("{count} problem(s) found before contacting any host:\n{list}")]
    Many { count: usize, list: String },
}

/// Connection defaults from the command line, used where the inventory says nothing.
#[derive(Debug, Clone, Default)]
pub struct ConnectionDefaults {
    pub user: Option<String>,
    pub private_key: Option<PathBuf>,
    pub become_: bool,
}

/// Parses `-e` values: `key=value`, a JSON object, or `@file.json`.
pub fn parse_extra_vars(items: &[String]) -> Result<Map<String, Json>, PlanError> {
    let mut out = Map::new();
    for item in items {
        let item = item.trim();
        let object = if let Some(path) = item.strip_prefix('@') {
            let text = std::fs::read_to_string(path)
                .map_err(|e| PlanError::Invalid(format!("-e @{path}: {e}")))?;
            serde_json::from_str::<Json>(&text)
                .map_err(|e| PlanError::Invalid(format!("-e @{path}: not a JSON object: {e}")))?
        } else if item.starts_with('{') {
            serde_json::from_str::<Json>(item)
                .map_err(|e| PlanError::Invalid(format!("-e {item}: not valid JSON: {e}")))?
        } else {
            let Some((k, v)) = item.split_once('=') else {
                return Err(PlanError::Invalid(format!(
                    "-e `{item}` is not key=value, a JSON object or @file.json"
                )));
            };
            let mut m = Map::new();
            m.insert(k.trim().to_string(), Json::String(v.to_string()));
            Json::Object(m)
        };
        match object {
            Json::Object(m) => out.extend(m),
            _ => {
                return Err(PlanError::Invalid(format!(
                    "-e {item}: expected a JSON object"
                )));
            }
        }
    }
    Ok(out)
}

/// `groups`: every group's hosts, the same for all hosts of a run.
pub fn groups_variable(inv: &Inventory) -> Json {
    Json::Object(
        inv.groups
            .keys()
            .map(|g| {
                let hosts = inv.group_hosts(g).into_iter().map(Json::String).collect();
                (g.clone(), Json::Array(hosts))
            })
            .collect(),
    )
}

/// `hostvars`: every host's inventory variables, so a task can use another host's address
/// (`hostvars[h].private_ip`). Values that refer to variables are rendered in their own host's
/// context (`/srv/{{ inventory_hostname }}` names that host, not the one reading it).
pub fn hostvars_variable(
    env: &minijinja::Environment<'static>,
    inv: &Inventory,
    groups: &Json,
    extra: &Map<String, Json>,
) -> Json {
    let empty = Json::Object(Map::new());
    let magic = Shared {
        groups,
        hostvars: &empty,
    };
    Json::Object(
        inv.group_hosts("all")
            .into_iter()
            .map(|h| {
                let own: Vec<String> = inv.host_vars(&h).into_keys().collect();
                let mut vars = host_variables(inv, &h, &magic, &Map::new(), extra);
                // A host whose variables do not resolve keeps them as written; if it is one of
                // the run's hosts, its own planning reports the problem.
                let _ = resolve_variables(env, &mut vars);
                let mut shown: Map<String, Json> =
                    vars.into_iter().filter(|(k, _)| own.contains(k)).collect();
                shown.insert("inventory_hostname".into(), Json::String(h.clone()));
                (h, Json::Object(shown))
            })
            .collect(),
    )
}

/// The magic variables every host shares.
pub struct Shared<'a> {
    pub groups: &'a Json,
    pub hostvars: &'a Json,
}

/// A host's variables: configure.json's `vars` (deploy only), inventory (all < groups < host),
/// magic variables, then `-e` (wins).
pub fn host_variables(
    inv: &Inventory,
    host: &str,
    magic: &Shared,
    base: &Map<String, Json>,
    extra: &Map<String, Json>,
) -> Map<String, Json> {
    let mut vars = base.clone();
    vars.extend(inv.host_vars(host));
    vars.insert("inventory_hostname".into(), Json::String(host.to_string()));
    vars.insert(
        "group_names".into(),
        Json::Array(
            inv.host_groups(host)
                .into_iter()
                .filter(|g| g != "ungrouped")
                .map(Json::String)
                .collect(),
        ),
    );
    vars.insert("groups".into(), magic.groups.clone());
    vars.insert("hostvars".into(), magic.hostvars.clone());
    vars.extend(extra.clone());
    vars
}

fn has_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

/// Renders, in place, every string inside `value` that holds a template; says whether any changed.
fn render_nested(
    env: &minijinja::Environment<'static>,
    value: &mut Json,
    context: &Value,
) -> Result<bool, String> {
    match value {
        Json::String(s) if has_template(s) => {
            let rendered = crate::render::render_str(env, s, context).map_err(|e| e.message)?;
            let changed = rendered != *s;
            *s = rendered;
            Ok(changed)
        }
        Json::Array(items) => items.iter_mut().try_fold(false, |changed, item| {
            Ok(render_nested(env, item, context)? || changed)
        }),
        Json::Object(map) => map.values_mut().try_fold(false, |changed, item| {
            Ok(render_nested(env, item, context)? || changed)
        }),
        _ => Ok(false),
    }
}

/// Variables may refer to others (`base=/srv/{{ inventory_hostname }}`), as in Ansible: values are
/// rendered until none holds a template any more. A chain deeper than 20 is taken for a cycle.
pub fn resolve_variables(
    env: &minijinja::Environment<'static>,
    vars: &mut Map<String, Json>,
) -> Result<(), String> {
    for _ in 0..20 {
        let context = Value::from(minijinja::value::Serde(Json::Object(vars.clone())));
        let mut changed = false;
        for (name, value) in vars.iter_mut() {
            changed |= render_nested(env, value, &context)
                .map_err(|e| format!("variable `{name}`: {e}"))?;
        }
        if !changed {
            return Ok(());
        }
    }
    let cyclic: Vec<&String> = vars
        .iter()
        .filter(|(_, v)| v.as_str().is_some_and(has_template))
        .map(|(k, _)| k)
        .collect();
    Err(format!(
        "variables refer to each other in a cycle: {}",
        cyclic
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// The first of `names` that is set, as text (`ansible_port=2222` is a number after typing).
fn var(vars: &Map<String, Json>, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| match vars.get(*n)? {
        Json::String(s) => Some(s.clone()),
        Json::Number(x) => Some(x.to_string()),
        _ => None,
    })
}

fn expand_home(path: &str) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => std::env::home_dir().unwrap_or_default().join(rest),
        None => PathBuf::from(path),
    }
}

fn default_key() -> Option<PathBuf> {
    let home = std::env::home_dir()?;
    ["id_ed25519", "id_ecdsa", "id_rsa"]
        .iter()
        .map(|n| home.join(".ssh").join(n))
        .find(|p| p.exists())
}

/// Where and how to connect to a host, from its variables (Ansible's names, legacy ones too).
fn target_for(
    host: &str,
    vars: &Map<String, Json>,
    defaults: &ConnectionDefaults,
    keys: &mut HashMap<PathBuf, std::sync::Arc<russh::keys::PrivateKey>>,
) -> Result<Target, String> {
    let address =
        var(vars, &["ansible_host", "ansible_ssh_host"]).unwrap_or_else(|| host.to_string());
    let port = match var(vars, &["ansible_port", "ansible_ssh_port"]) {
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| format!("host {host}: ansible_port `{p}` is not a port number"))?,
        None => 22,
    };
    let user = var(vars, &["ansible_user", "ansible_ssh_user"])
        .or_else(|| defaults.user.clone())
        .unwrap_or_else(|| "ubuntu".to_string());
    let key_path = var(vars, &["ansible_ssh_private_key_file", "ansible_private_key_file"])
        .map(|p| expand_home(&p))
        .or_else(|| defaults.private_key.clone())
        .or_else(default_key)
        .ok_or_else(|| {
            format!(
                "host {host}: no private key: set ansible_ssh_private_key_file in the inventory or pass --private-key"
            )
        })?;
    let key = match keys.get(&key_path) {
        Some(k) => k.clone(),
        None => {
            let k = ssh::load_key(&key_path).map_err(|e| format!("host {host}: {e}"))?;
            keys.insert(key_path.clone(), k.clone());
            k
        }
    };
    Ok(Target {
        name: host.to_string(),
        address,
        port,
        user,
        key,
        key_path,
    })
}

pub struct PlanInput<'a> {
    pub inventory: &'a Inventory,
    /// The role: its hosts are the group named like it, unless `pattern` selects them.
    pub role: &'a str,
    /// A play's `hosts:`; a pattern that matches no host gives no plans, as Ansible skips the play.
    pub pattern: Option<&'a str>,
    pub limit: Option<&'a str>,
    pub task_file: TaskFile,
    pub roles: RoleSource,
    pub base_vars: &'a Map<String, Json>,
    pub extra_vars: &'a Map<String, Json>,
    pub defaults: &'a ConnectionDefaults,
}

/// The host's variables with every name known only at run time standing for an unknown value,
/// and `hostvars` as the run will have it (see `hostvars_with_unknowns`).
fn with_unknowns(vars: &Map<String, Json>, runtime_names: &[String], hostvars: &Value) -> Value {
    let mut map = with_unknowns_of(vars, runtime_names);
    map.insert("hostvars".into(), hostvars.clone());
    Value::from(map)
}

/// `hostvars` with what the run's hosts will have registered standing for unknown values. Not
/// their facts: those are gathered on a host only when one of its own tasks needs them.
fn hostvars_with_unknowns(hostvars: &Json, hosts: &[String], registered: &[String]) -> Value {
    let Json::Object(all) = hostvars else {
        return Value::from(minijinja::value::Serde(hostvars));
    };
    let entries: std::collections::BTreeMap<String, Value> = all
        .iter()
        .map(|(host, own)| {
            let value = match own {
                Json::Object(o) if hosts.contains(host) => {
                    Value::from(with_unknowns_of(o, registered))
                }
                other => Value::from(minijinja::value::Serde(other)),
            };
            (host.clone(), value)
        })
        .collect();
    Value::from(entries)
}

fn with_unknowns_of(
    vars: &Map<String, Json>,
    runtime_names: &[String],
) -> std::collections::BTreeMap<String, Value> {
    let mut map: std::collections::BTreeMap<String, Value> = vars
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(minijinja::value::Serde(v))))
        .collect();
    for name in runtime_names {
        map.entry(name.clone())
            .or_insert_with(|| Value::from_object(crate::render::Unknown));
    }
    map
}

/// Renders a task for a host now (one task per item of a loop), or defers it to the run when it
/// needs a run-time value. A name that is undefined even with every run-time value standing in
/// is an error now.
fn plan_task(
    def: &TaskDef,
    index: usize,
    (ctx, ctx_unknowns): (&PrepareCtx, &PrepareCtx),
    runtime_names: &[String],
    default_become: bool,
) -> Result<Vec<Slot>, String> {
    // A task that names a run-time value waits for it even when it would render now: `when:
    // result is defined` must see the result, not its absence before the run.
    if def.uses_any(runtime_names) {
        return match def.prepare_all(index, ctx_unknowns, default_become) {
            Ok(_) => Ok(vec![Slot::Deferred(index)]),
            Err(e) if e.is_undefined() => Err(e.to_string()),
            // Unknown values used in ways a stand-in cannot follow (a filter on one): an error
            // that does not come from them is reported now, the rest when the task runs.
            Err(_) => match def.prepare_all(index, ctx, default_become) {
                Err(e) if !e.is_undefined() => Err(e.to_string()),
                _ => Ok(vec![Slot::Deferred(index)]),
            },
        };
    }
    match def.prepare_all(index, ctx, default_become) {
        Ok(tasks) => Ok(tasks
            .into_iter()
            .map(|t| Slot::Ready(Box::new(t)))
            .collect()),
        Err(e) if e.is_undefined() => {
            match def.prepare_all(index, ctx_unknowns, default_become) {
                Ok(_) => Ok(vec![Slot::Deferred(index)]),
                Err(e) if e.is_undefined() => Err(e.to_string()),
                // Unknown values used in ways a stand-in cannot follow (a filter on it): checked
                // when the task runs.
                Err(_) => Ok(vec![Slot::Deferred(index)]),
            }
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Selects the hosts of the role's group (narrowed by `--limit`) and prepares every task for each.
/// All problems are gathered, and the same problem on many hosts is reported once.
pub fn plan_hosts(input: PlanInput) -> Result<Vec<HostPlan>, PlanError> {
    let inv = input.inventory;
    let mut hosts = match input.pattern {
        Some(pattern) => inv.select(pattern),
        None => role_hosts(inv, input.role)?,
    };
    if let Some(limit) = input.limit {
        let allowed = inv.select(limit);
        hosts.retain(|h| allowed.contains(h));
        if hosts.is_empty() && input.pattern.is_none() {
            return Err(PlanError::NothingSelected {
                group: input.role.to_string(),
                limit: limit.to_string(),
            });
        }
    }
    if hosts.is_empty() {
        return Ok(Vec::new());
    }
    plan_selected(input, hosts)
}

/// The hosts of the group named like the role, which must have some.
fn role_hosts(inv: &Inventory, role: &str) -> Result<Vec<String>, PlanError> {
    if !inv.groups.contains_key(role) {
        let known: Vec<&str> = inv
            .groups
            .keys()
            .map(String::as_str)
            .filter(|g| *g != "all" && *g != "ungrouped")
            .collect();
        return Err(PlanError::NoGroup {
            path: inv.path.display().to_string(),
            group: role.to_string(),
            known: if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            },
        });
    }
    let hosts = inv.group_hosts(role);
    if hosts.is_empty() {
        return Err(PlanError::EmptyGroup {
            path: inv.path.display().to_string(),
            group: role.to_string(),
        });
    }
    Ok(hosts)
}

/// Prepares every task for each selected host. All problems are gathered, and the same problem
/// on many hosts is reported once.
fn plan_selected(input: PlanInput, hosts: Vec<String>) -> Result<Vec<HostPlan>, PlanError> {
    let inv = input.inventory;
    let shared = Arc::new(RunShared {
        env: crate::render::environment(),
        task_file: input.task_file,
        roles: input.roles,
        default_become: input.defaults.become_,
    });
    let env = &shared.env;
    let file = &shared.task_file;
    let registered_names = file.registered_names();
    let mut runtime_names = registered_names.clone();
    runtime_names.extend(super::facts::FACT_NAMES.iter().map(|s| s.to_string()));
    let mut keys = HashMap::new();
    // Problem text -> hosts that have it, in order of discovery.
    let mut problems: IndexMap<String, Vec<String>> = IndexMap::new();
    let mut plans = Vec::new();
    let groups = groups_variable(inv);
    let hostvars = hostvars_variable(env, inv, &groups, input.extra_vars);
    let hostvars_unknowns = hostvars_with_unknowns(&hostvars, &hosts, &registered_names);
    for host in &hosts {
        let magic = Shared {
            groups: &groups,
            hostvars: &hostvars,
        };
        let mut vars = host_variables(inv, host, &magic, input.base_vars, input.extra_vars);
        if let Err(e) = resolve_variables(env, &mut vars) {
            problems.entry(e).or_default().push(host.clone());
            continue;
        }
        let target = match target_for(host, &vars, input.defaults, &mut keys) {
            Ok(t) => t,
            Err(e) => {
                problems.entry(e).or_default();
                continue;
            }
        };
        let value = Value::from(minijinja::value::Serde(&vars));
        let value_unknowns = with_unknowns(&vars, &runtime_names, &hostvars_unknowns);
        let ctx = PrepareCtx {
            env,
            vars: &value,
            roles: &shared.roles,
        };
        let ctx_unknowns = PrepareCtx {
            vars: &value_unknowns,
            ..ctx
        };
        let prepare = |defs: &[TaskDef]| -> Result<Vec<Slot>, String> {
            let mut slots = Vec::new();
            for (i, d) in defs.iter().enumerate() {
                slots.extend(plan_task(
                    d,
                    i,
                    (&ctx, &ctx_unknowns),
                    &runtime_names,
                    shared.default_become,
                )?);
            }
            Ok(slots)
        };
        match (prepare(&file.tasks), prepare(&file.handlers)) {
            (Ok(tasks), Ok(handlers)) => plans.push(HostPlan {
                target,
                tasks,
                handlers,
                vars,
                shared: shared.clone(),
            }),
            (Err(e), _) | (_, Err(e)) => problems.entry(e).or_default().push(host.clone()),
        }
    }
    if problems.is_empty() {
        return Ok(plans);
    }
    let total = hosts.len();
    let lines: Vec<String> = problems
        .iter()
        .map(|(problem, on)| match on.len() {
            0 => problem.clone(),
            n if n == total && n > 1 => format!("{problem} (on all {n} hosts)"),
            _ => format!("{problem} (host {})", on.join(", ")),
        })
        .collect();
    if lines.len() == 1 {
        return Err(PlanError::Invalid(lines[0].clone()));
    }
    Err(PlanError::Many {
        count: lines.len(),
        list: lines
            .iter()
            .map(|l| format!("  - {l}"))
            .collect::<Vec<_>>()
            .join("\n"),
    })
}

pub fn known_hosts_default() -> PathBuf {
    std::env::home_dir()
        .unwrap_or_else(|| Path::new(".").to_owned())
        .join(".ssh")
        .join("known_hosts")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resolve(v: Json) -> Result<Json, String> {
        let mut map = v.as_object().unwrap().clone();
        resolve_variables(&crate::render::environment(), &mut map)?;
        Ok(Json::Object(map))
    }

    #[test]
    fn variables_referring_to_variables_are_rendered() {
        let out = resolve(json!({
            "inventory_hostname": "h1",
            "base": "/srv/{{ app }}/{{ inventory_hostname }}",
            "app": "{{ name }}",
            "name": "shop",
            "dirs": ["{{ base }}/a", 3],
        }))
        .unwrap();
        assert_eq!(out["base"], "/srv/shop/h1");
        assert_eq!(out["dirs"], json!(["/srv/shop/h1/a", 3]));
    }

    #[test]
    fn hostvars_are_rendered_in_their_own_hosts_context() {
        let inv = Inventory::parse(
            Path::new("inventory"),
            "[db]\nd1 private_ip=10.0.0.1 data=\"/srv/{{ inventory_hostname }}\"\nd2 private_ip=10.0.0.2 data=\"/srv/{{ inventory_hostname }}\"\n",
        )
        .unwrap();
        let env = crate::render::environment();
        let groups = groups_variable(&inv);
        let hv = hostvars_variable(&env, &inv, &groups, &Map::new());
        assert_eq!(hv["d2"]["data"], "/srv/d2");
        assert_eq!(hv["d2"]["private_ip"], "10.0.0.2");
        assert!(
            hv["d1"].get("groups").is_none(),
            "only the host's own variables"
        );
    }

    #[test]
    fn undefined_and_cyclic_references_are_errors() {
        let e = resolve(json!({"a": "{{ missing }}"})).unwrap_err();
        assert!(e.starts_with("variable `a`: undefined variable"), "{e}");
        let e = resolve(json!({"a": "x{{ b }}", "b": "{{ a }}"})).unwrap_err();
        assert!(e.contains("cycle"), "{e}");
    }
}
