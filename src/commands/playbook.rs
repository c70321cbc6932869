//! `provision playbook`: run an Ansible playbook on the hosts of an inventory.

use super::AppError;
use super::execution;
use crate::apply;
use crate::cli::PlaybookArgs;
use crate::inventory::Inventory;
use crate::playbook::Playbook;
use std::path::Path;

/// Returns the exit status.
pub async fn run_playbook(args: &PlaybookArgs) -> Result<i32, AppError> {
    let book = Playbook::load(&args.playbook)?;
    let mut inventory = Inventory::load(&args.inventory.path)?;
    // group_vars/ and host_vars/ beside the playbook go over those beside the inventory.
    let playbook_dir = args
        .playbook
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let inventory_dir = args
        .inventory
        .path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if playbook_dir.canonicalize().ok() != inventory_dir.canonicalize().ok() {
        inventory.add_vars_dirs(playbook_dir)?;
    }
    let exec = &args.execution;
    let plays = apply::plan_playbook(
        book,
        &inventory,
        exec.limit.as_deref(),
        &execution::connection_defaults(exec),
        &args.apply.extra_vars,
        &execution::tag_filter(exec),
    )?;
    Ok(apply::run_and_report(
        &args.playbook.display().to_string(),
        plays,
        execution::run_options(exec, &args.apply),
        execution::output(exec, &args.apply),
    )
    .await)
}
