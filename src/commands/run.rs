//! `provision run`: apply a role to the hosts of an inventory.

use super::AppError;
use crate::cli::RunArgs;
use crate::inventory::Inventory;
use crate::known_hosts::KnownHosts;
use crate::roles::RoleSource;
use crate::run::plan::{self, ConnectionDefaults, PlanInput};
use crate::run::progress::{Progress, print_line};
use crate::run::report;
use crate::run::{RunOptions, run_plans};
use crate::ssh::ConnectOptions;
use crate::tasks::TaskFile;
use std::sync::Arc;
use std::time::Duration;

/// A role's task file, following its `import` (one level): the imported tasks, with the
/// importing file's `vars`.
pub fn load_task_file(roles: &RoleSource, role: &str) -> Result<TaskFile, AppError> {
    let source = roles.task_file(role)?;
    let file = TaskFile::parse(&source.display, &source.text)?;
    let Some(other) = &file.import else {
        return Ok(file);
    };
    let imported_source = roles.task_file(other)?;
    let mut imported = TaskFile::parse(&imported_source.display, &imported_source.text)?;
    if imported.import.is_some() {
        return Err(AppError::TaskFile(crate::tasks::TaskFileError {
            file: imported_source.display,
            line: 1,
            column: 1,
            message: format!("`{role}` imports `{other}`, which imports again: one level only"),
        }));
    }
    imported.vars.extend(file.vars);
    Ok(imported)
}

/// `provision run`: returns the exit status.
pub async fn run_role(args: &RunArgs) -> Result<i32, AppError> {
    run_role_with(args, &serde_json::Map::new()).await
}

/// As `run_role`, with variables of lower precedence than the inventory's (configure.json's
/// `vars` and the secrets, when deploy runs the role). Precedence, lowest first: these, the
/// role's `vars`, the secrets file of `--secrets`, the inventory, `-e`.
pub async fn run_role_with(
    args: &RunArgs,
    base_vars: &serde_json::Map<String, serde_json::Value>,
) -> Result<i32, AppError> {
    let inventory = Inventory::load(&args.inventory.path)?;
    let roles = RoleSource::new(args.options.tasks_dir.as_deref());
    let task_file = load_task_file(&roles, &args.role)?;
    let mut base_vars = base_vars.clone();
    base_vars.extend(task_file.vars.clone());
    if let Some(path) = &args.secrets {
        base_vars.extend(crate::secrets::load(path, false)?);
    }
    let base_vars = &base_vars;
    let extra_vars = plan::parse_extra_vars(&args.options.extra_vars)?;
    let defaults = ConnectionDefaults {
        user: Some(args.user.clone()),
        private_key: args.private_key.clone(),
        become_: args.become_,
    };
    let plans = plan::plan_hosts(PlanInput {
        inventory: &inventory,
        role: &args.role,
        limit: args.limit.as_deref(),
        task_file,
        roles,
        base_vars,
        extra_vars: &extra_vars,
        defaults: &defaults,
    })?;
    let known_hosts = args
        .options
        .known_hosts
        .clone()
        .unwrap_or_else(plan::known_hosts_default);
    let options = RunOptions {
        forks: args.options.forks,
        check: args.check,
        diff: args.diff,
        connect: ConnectOptions {
            known_hosts: Arc::new(KnownHosts::new(known_hosts)),
            timeout: Duration::from_secs(args.connect_timeout.max(1)),
            retries: args.connect_retries,
            first_backoff: Duration::from_secs(1),
        },
    };
    let progress = Arc::new(if args.json {
        Progress::silent()
    } else {
        Progress::new(true, args.options.verbose)
    });
    let reports = run_plans(plans, options, progress).await;
    if args.json {
        print_line(&report::to_json(&args.role, args.check, &reports));
    } else {
        print_line(&format!("\n{}", report::recap(&reports).trim_end()));
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
    Ok(report::exit_status(&reports))
}
