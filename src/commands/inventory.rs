//! `provision inventory --list | --graph [GROUP] | --host NAME`.

use super::AppError;
use crate::cli::InventoryArgs;
use crate::inventory::{Inventory, view};
use crate::run::progress::print_line;
use crate::run::report::exit;

pub fn show(args: &InventoryArgs) -> Result<i32, AppError> {
    let inv = Inventory::load(&args.inventory.path)?;
    let path = args.inventory.path.display();
    let text = if args.list {
        view::to_ansible_json(&view::list(&inv))
    } else if let Some(group) = &args.graph {
        view::graph(&inv, group).ok_or_else(|| {
            AppError::NotInInventory(format!("inventory {path} has no group `{group}`"))
        })?
    } else if let Some(host) = &args.host {
        let vars = view::host(&inv, host).ok_or_else(|| {
            AppError::NotInInventory(format!("inventory {path} has no host `{host}`"))
        })?;
        view::to_ansible_json(&vars)
    } else {
        unreachable!("clap requires one of --list, --graph, --host")
    };
    print_line(&text);
    Ok(exit::OK)
}
