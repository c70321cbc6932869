//! `provision run`: apply a role to the hosts of an inventory, with the variables deploy gives it
//! (configure.json's `vars` and the secrets file, when they exist).

use super::AppError;
use super::execution;
use crate::apply::{self, RoleInput};
use crate::cli::RunArgs;
use crate::config::Config;
use crate::inventory::Inventory;
use std::path::{Path, PathBuf};

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
        &args.options.apply.extra_vars,
        execution::tag_filter(&args.execution),
    )?;
    let inventory = Inventory::load(&args.inventory.path)?;
    let exec = &args.execution;
    let plays = input.play(
        &inventory,
        exec.limit.as_deref(),
        &execution::connection_defaults(exec),
    )?;
    Ok(apply::run_and_report(
        &args.role,
        plays,
        execution::run_options(exec, &args.options.apply),
        execution::output(exec, &args.options.apply),
    )
    .await)
}
