//! `provision run`: apply a role to the hosts of an inventory, with the variables deploy gives it
//! (configure.json's `vars` and the secrets file, when they exist).

use super::AppError;
use crate::apply::{self, Output, RoleInput};
use crate::cli::RunArgs;
use crate::config::Config;
use crate::inventory::Inventory;
use crate::known_hosts::KnownHosts;
use crate::run::RunOptions;
use crate::run::plan::{self, ConnectionDefaults};
use crate::ssh::ConnectOptions;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const DEFAULT_CONFIG: &str = "configure.json";

/// configure.json's `vars`: from `--config FILE` (which must exist), else from ./configure.json
/// when there is one.
fn config_vars(
    explicit: Option<&Path>,
) -> Result<(serde_json::Map<String, serde_json::Value>, PathBuf), AppError> {
    let path = explicit.unwrap_or(Path::new(DEFAULT_CONFIG));
    if explicit.is_none() && !path.exists() {
        return Ok((serde_json::Map::new(), path.to_owned()));
    }
    let config = Config::load(path)?;
    Ok((config.vars, path.to_owned()))
}

/// `provision run`: returns the exit status.
pub async fn run_role(args: &RunArgs) -> Result<i32, AppError> {
    let (config_vars, config_path) = config_vars(args.config.as_deref())?;
    let secrets = match &args.secrets {
        Some(path) => crate::secrets::load(path, false)?,
        None => {
            let beside = apply::default_secrets_path(&config_path);
            if beside.exists() {
                crate::secrets::load(&beside, false)?
            } else {
                serde_json::Map::new()
            }
        }
    };
    let input = RoleInput::load(
        &args.role,
        args.options.tasks_dir.as_deref(),
        &config_vars,
        secrets,
        &args.options.extra_vars,
    )?;
    let inventory = Inventory::load(&args.inventory.path)?;
    let plans = input.plan(
        &inventory,
        args.limit.as_deref(),
        &ConnectionDefaults {
            user: Some(args.user.clone()),
            private_key: args.private_key.clone(),
            become_: args.become_,
        },
    )?;
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
        interrupt: Default::default(),
    };
    let output = Output {
        json: args.json,
        verbose: args.options.verbose,
    };
    Ok(apply::run_and_report(&args.role, plans, options, output).await)
}
