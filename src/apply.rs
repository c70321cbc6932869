//! Applying a role or a playbook to the hosts of an inventory: the one flow behind `provision
//! run`, `provision playbook` and the last step of deploy. The tasks, their variables in their
//! layers, every host of every play planned (and so checked) before any is contacted, the run,
//! and its report.

use crate::error::AppError;
use crate::inventory::Inventory;
use crate::playbook::{self, Playbook};
use crate::roles::RoleSource;
use crate::run::plan::{self, ConnectionDefaults, PlanInput};
use crate::run::progress::{Progress, print_line};
use crate::run::report;
use crate::run::{HostPlan, RunOptions, run_plans};
use crate::tasks::tags::TagFilter;
use crate::tasks::{TaskFile, TaskFileError};
use serde_json::{Map, Value as Json};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A role's task file, following its `import` (one level): the imported tasks, with the
/// importing file's `vars`. A file without tasks is refused: it would apply nothing.
pub fn load_task_file(roles: &RoleSource, role: &str) -> Result<TaskFile, AppError> {
    let file = load_one(roles, role)?;
    let located = |display: &str, message: String| {
        AppError::TaskFile(TaskFileError {
            file: display.to_string(),
            line: 1,
            column: 1,
            message,
        })
    };
    let Some(other) = &file.import else {
        if file.tasks.is_empty() {
            return Err(located(
                &file.display,
                format!("role `{role}` has no tasks: there is nothing to apply"),
            ));
        }
        return Ok(file);
    };
    let mut imported = load_one(roles, other)?;
    if imported.import.is_some() {
        return Err(located(
            &imported.display,
            format!("`{role}` imports `{other}`, which imports again: one level only"),
        ));
    }
    if imported.tasks.is_empty() {
        return Err(located(
            &imported.display,
            format!("`{other}` (imported by `{role}`) has no tasks: there is nothing to apply"),
        ));
    }
    imported.vars.extend(file.vars);
    if file.strategy == crate::tasks::Strategy::Free {
        imported.strategy = file.strategy;
    }
    Ok(imported)
}

fn load_one(roles: &RoleSource, role: &str) -> Result<TaskFile, AppError> {
    let source = roles.task_file(role)?;
    let file = TaskFile::parse(&source.display, &source.text)?;
    for warning in &file.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(file)
}

/// Where a role's tasks come from: a task file (`tasks/<role>.yml`, built in or in a
/// directory), or a role in the roles layout (`roles/<role>/tasks/main.yml`, …) under a base
/// directory.
#[derive(Debug, Clone)]
enum RoleOrigin {
    TaskFile(RoleSource),
    Layout(PathBuf),
}

/// A role with its variables, ready to be planned for an inventory's hosts.
pub struct RoleInput {
    pub role: String,
    origin: RoleOrigin,
    /// Below the inventory's, lowest first: configure.json's `vars`, the role's own `vars`,
    /// the secrets.
    base_vars: Map<String, Json>,
    /// `-e`: above everything.
    extra_vars: Map<String, Json>,
    tags: TagFilter,
}

/// A role's tasks and the variables it brings: defaults (below the inventory's) and vars (above).
struct RoleTasks {
    file: TaskFile,
    defaults: Map<String, Json>,
    vars: Map<String, Json>,
}

/// One play's hosts, each with its tasks rendered for it.
pub struct PlannedPlay {
    pub name: String,
    pub hosts: String,
    pub plans: Vec<HostPlan>,
}

impl RoleInput {
    /// Reads and checks the role's tasks and the `-e` values. A role in the roles layout
    /// (`roles/<role>/` here, or `<DIR>/<role>/` with `--tasks-dir DIR`) is preferred to a task
    /// file of the same name.
    pub fn load(
        role: &str,
        tasks_dir: Option<&Path>,
        config_vars: &Map<String, Json>,
        secrets: Map<String, Json>,
        extra_vars: &[String],
        tags: TagFilter,
    ) -> Result<RoleInput, AppError> {
        let layout_base = match tasks_dir {
            Some(dir) if !dir.join(format!("{role}.yml")).exists() => Some(dir.to_owned()),
            Some(_) => None,
            None => Some(PathBuf::from(".")),
        }
        .filter(|base| playbook::has_role(base, role));
        let origin = match layout_base {
            Some(base) => RoleOrigin::Layout(base),
            None => RoleOrigin::TaskFile(RoleSource::new(tasks_dir)),
        };
        let mut input = RoleInput {
            role: role.to_string(),
            origin,
            base_vars: Map::new(),
            extra_vars: plan::parse_extra_vars(extra_vars)?,
            tags,
        };
        let tasks = input.tasks()?;
        let mut base_vars = config_vars.clone();
        base_vars.extend(tasks.defaults);
        base_vars.extend(tasks.file.vars);
        base_vars.extend(secrets);
        input.base_vars = base_vars;
        Ok(input)
    }

    /// The role's task file, its defaults and its vars (both empty for a task file).
    fn tasks(&self) -> Result<RoleTasks, AppError> {
        let mut tasks = match &self.origin {
            RoleOrigin::TaskFile(roles) => RoleTasks {
                file: load_task_file(roles, &self.role)?,
                defaults: Map::new(),
                vars: Map::new(),
            },
            RoleOrigin::Layout(base) => {
                let play = playbook::role_play(&self.role, base)?;
                RoleTasks {
                    file: play.task_file,
                    defaults: play.defaults,
                    vars: play.vars,
                }
            }
        };
        tasks.file.select_tags(&self.tags);
        Ok(tasks)
    }

    /// Every task rendered for every host of the role's group (narrowed by `limit`): all that can
    /// be known before the run is checked here, and nothing is contacted.
    pub fn plan(
        &self,
        inventory: &Inventory,
        limit: Option<&str>,
        defaults: &ConnectionDefaults,
    ) -> Result<Vec<HostPlan>, AppError> {
        let RoleTasks {
            file: task_file,
            vars: role_vars,
            ..
        } = self.tasks()?;
        let mut above = role_vars;
        above.extend(self.extra_vars.clone());
        let roles = match &self.origin {
            RoleOrigin::TaskFile(roles) => roles.clone(),
            RoleOrigin::Layout(base) => RoleSource::Layout { dir: base.clone() },
        };
        Ok(plan::plan_hosts(PlanInput {
            inventory,
            role: &self.role,
            pattern: None,
            limit,
            task_file,
            roles,
            base_vars: &self.base_vars,
            extra_vars: &above,
            defaults,
        })?)
    }

    /// The plans as the one play of a run.
    pub fn play(
        &self,
        inventory: &Inventory,
        limit: Option<&str>,
        defaults: &ConnectionDefaults,
    ) -> Result<Vec<PlannedPlay>, AppError> {
        Ok(vec![PlannedPlay {
            name: String::new(),
            hosts: self.role.clone(),
            plans: self.plan(inventory, limit, defaults)?,
        }])
    }
}

/// Every play of a playbook planned on its hosts, before any host is contacted; `-e` values win
/// over everything, `--become` and `-u` hold where a play says nothing.
pub fn plan_playbook(
    book: Playbook,
    inventory: &Inventory,
    limit: Option<&str>,
    defaults: &ConnectionDefaults,
    extra_vars: &[String],
    tags: &TagFilter,
) -> Result<Vec<PlannedPlay>, AppError> {
    let extra = plan::parse_extra_vars(extra_vars)?;
    let dir = book
        .path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    let mut planned = Vec::new();
    for play in book.plays {
        let mut task_file = play.task_file;
        for warning in &task_file.warnings {
            eprintln!("warning: {warning}");
        }
        task_file.select_tags(tags);
        let mut above = play.vars;
        above.extend(extra.clone());
        let play_defaults = ConnectionDefaults {
            user: play.remote_user.or_else(|| defaults.user.clone()),
            private_key: defaults.private_key.clone(),
            become_: play.become_.unwrap_or(defaults.become_),
        };
        let plans = plan::plan_hosts(PlanInput {
            inventory,
            role: &play.name,
            pattern: Some(&play.hosts),
            limit,
            task_file,
            roles: RoleSource::Layout { dir: dir.clone() },
            base_vars: &play.defaults,
            extra_vars: &above,
            defaults: &play_defaults,
        })?;
        planned.push(PlannedPlay {
            name: play.name,
            hosts: play.hosts,
            plans,
        });
    }
    Ok(planned)
}

/// How the results are shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Output {
    pub json: bool,
    pub verbose: bool,
}

/// Runs the plays one after the other (a host that failed or was unreachable in a play takes no
/// part in the next, as in Ansible), prints the progress and the recap (or one JSON document),
/// and returns the exit status.
pub async fn run_and_report(
    title: &str,
    plays: Vec<PlannedPlay>,
    options: RunOptions,
    output: Output,
) -> i32 {
    let check = options.check;
    let known_hosts = options.connect.known_hosts.clone();
    let progress = Arc::new(if output.json {
        Progress::silent()
    } else {
        Progress::new(true, output.verbose)
    });
    let interrupt = options.interrupt.clone();
    interrupt.listen();
    let options = Arc::new(options);
    let several = plays.len() > 1;
    let mut reports: Vec<report::HostReport> = Vec::new();
    for play in plays {
        if interrupt.signal().is_some() {
            break;
        }
        if !output.json && (several || !play.name.is_empty()) {
            let name = if play.name.is_empty() {
                &play.hosts
            } else {
                &play.name
            };
            print_line(&format!("\nPLAY [{name}]"));
        }
        if play.plans.is_empty() {
            if !output.json {
                print_line(&format!("skipping: no hosts matched `{}`", play.hosts));
            }
            continue;
        }
        let plans: Vec<HostPlan> = play
            .plans
            .into_iter()
            .filter(|p| {
                !reports.iter().any(|r| {
                    r.host == p.target.name && (r.stats.failed > 0 || r.unreachable.is_some())
                })
            })
            .collect();
        for r in run_plans(plans, options.clone(), progress.clone()).await {
            match reports.iter_mut().find(|k| k.host == r.host) {
                Some(known) => known.absorb(r),
                None => reports.push(r),
            }
        }
    }
    let interrupted = interrupt.signal();
    if output.json {
        print_line(&report::to_json(title, check, &reports, interrupted));
    } else {
        if let Some(note) = known_hosts.written_note() {
            print_line(&note);
        }
        print_line(&format!(
            "\n{}",
            report::recap(&reports, interrupted).trim_end()
        ));
        for r in &reports {
            if let Some(reason) = &r.unreachable {
                print_line(&format!("  {} unreachable: {reason}", r.host));
            }
            for t in r
                .tasks
                .iter()
                .filter(|t| t.status == report::Status::Failed && !t.ignored)
            {
                print_line(&format!(
                    "  {} failed at `{}`: {}",
                    r.host, t.name, t.message
                ));
            }
        }
    }
    report::exit_status(&reports, interrupted)
}

/// Where the secrets file is when none is named: `secrets.json` beside configure.json.
pub fn default_secrets_path(config: &Path) -> std::path::PathBuf {
    config
        .parent()
        .unwrap_or(Path::new("."))
        .join("secrets.json")
}
