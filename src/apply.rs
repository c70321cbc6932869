//! Applying a role to the hosts of an inventory: the one flow behind `provision run` and the last
//! step of deploy. The role's task file, its variables in their layers, every host planned (and
//! so checked) before any is contacted, the run, and its report.

use crate::error::AppError;
use crate::inventory::Inventory;
use crate::roles::RoleSource;
use crate::run::plan::{self, ConnectionDefaults, PlanInput};
use crate::run::progress::{Progress, print_line};
use crate::run::report;
use crate::run::{HostPlan, RunOptions, run_plans};
use crate::tasks::{TaskFile, TaskFileError};
use serde_json::{Map, Value as Json};
use std::path::Path;
use std::sync::Arc;

/// A role's task file, following its `import` (one level): the imported tasks, with the
/// importing file's `vars`. A file without tasks is refused: it would apply nothing.
pub fn load_task_file(roles: &RoleSource, role: &str) -> Result<TaskFile, AppError> {
    let source = roles.task_file(role)?;
    let file = TaskFile::parse(&source.display, &source.text)?;
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
                &source.display,
                format!("role `{role}` has no tasks: there is nothing to apply"),
            ));
        }
        return Ok(file);
    };
    let imported_source = roles.task_file(other)?;
    let mut imported = TaskFile::parse(&imported_source.display, &imported_source.text)?;
    if imported.import.is_some() {
        return Err(located(
            &imported_source.display,
            format!("`{role}` imports `{other}`, which imports again: one level only"),
        ));
    }
    if imported.tasks.is_empty() {
        return Err(located(
            &imported_source.display,
            format!("`{other}` (imported by `{role}`) has no tasks: there is nothing to apply"),
        ));
    }
    imported.vars.extend(file.vars);
    if file.strategy == crate::tasks::Strategy::Free {
        imported.strategy = file.strategy;
    }
    Ok(imported)
}

/// A role with its variables, ready to be planned for an inventory's hosts.
pub struct RoleInput {
    pub role: String,
    roles: RoleSource,
    /// Below the inventory's, lowest first: configure.json's `vars`, the role's own `vars`,
    /// the secrets.
    base_vars: Map<String, Json>,
    /// `-e`: above everything.
    extra_vars: Map<String, Json>,
}

impl RoleInput {
    /// Reads and checks the role's task file and the `-e` values.
    pub fn load(
        role: &str,
        tasks_dir: Option<&Path>,
        config_vars: &Map<String, Json>,
        secrets: Map<String, Json>,
        extra_vars: &[String],
    ) -> Result<RoleInput, AppError> {
        let roles = RoleSource::new(tasks_dir);
        let task_file = load_task_file(&roles, role)?;
        let mut base_vars = config_vars.clone();
        base_vars.extend(task_file.vars);
        base_vars.extend(secrets);
        Ok(RoleInput {
            role: role.to_string(),
            roles,
            base_vars,
            extra_vars: plan::parse_extra_vars(extra_vars)?,
        })
    }

    /// Every task rendered for every host of the role's group (narrowed by `limit`): all that can
    /// be known before the run is checked here, and nothing is contacted.
    pub fn plan(
        &self,
        inventory: &Inventory,
        limit: Option<&str>,
        defaults: &ConnectionDefaults,
    ) -> Result<Vec<HostPlan>, AppError> {
        Ok(plan::plan_hosts(PlanInput {
            inventory,
            role: &self.role,
            limit,
            task_file: load_task_file(&self.roles, &self.role)?,
            roles: self.roles.clone(),
            base_vars: &self.base_vars,
            extra_vars: &self.extra_vars,
            defaults,
        })?)
    }
}

/// How the results are shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Output {
    pub json: bool,
    pub verbose: bool,
}

/// Runs the plans, prints the progress and the recap (or one JSON document), and returns the
/// exit status.
pub async fn run_and_report(
    role: &str,
    plans: Vec<HostPlan>,
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
    let reports = run_plans(plans, options, progress).await;
    let interrupted = interrupt.signal();
    if output.json {
        print_line(&report::to_json(role, check, &reports, interrupted));
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
                .filter(|t| t.status == report::Status::Failed)
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
