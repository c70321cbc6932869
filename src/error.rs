//! The library's top error: what a command can fail with, its exit status and a hint.

use crate::cloud::CloudError;
use crate::config::ConfigError;
use crate::inventory::InventoryError;
use crate::roles::RoleError;
use crate::run::plan::PlanError;
use crate::run::report::exit;
use crate::tasks::TaskFileError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(transparent)]
    Role(#[from] RoleError),
    #[error(transparent)]
    TaskFile(#[from] TaskFileError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Playbook(#[from] crate::playbook::PlaybookError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Cloud(#[from] CloudError),
    /// A host or group asked for by name is not in the inventory.
    #[error("{0}")]
    NotInInventory(String),
    /// The user did not confirm, or could not be asked.
    #[error("{0}")]
    NotConfirmed(String),
    #[error(transparent)]
    Key(#[from] crate::ssh::KeyError),
    #[error(transparent)]
    Secrets(#[from] crate::secrets::SecretsError),
    /// A deploy step failed after the cloud was touched; the message says what exists now.
    #[error("{message}")]
    Deploy {
        message: String,
        hint: Option<String>,
    },
}

impl AppError {
    pub fn exit_status(&self) -> i32 {
        match self {
            AppError::Cloud(_) | AppError::Deploy { .. } => exit::ERROR,
            AppError::NotConfirmed(_) => exit::NOT_CONFIRMED,
            _ => exit::INVALID_INPUT,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            AppError::Inventory(InventoryError::Read { .. }) => {
                Some("pass the inventory with --hosts FILE".into())
            }
            AppError::Role(RoleError::NoTaskFile { .. }) => {
                Some("roles are tasks/<role>.yml files; see `provision run --help`".into())
            }
            AppError::Plan(PlanError::NoGroup { .. }) => {
                Some("`run ROLE` applies ROLE to the inventory group [ROLE]".into())
            }
            AppError::Config(ConfigError::Read { .. }) => Some(
                "cloud commands read configure.json from the current directory, or --config FILE; \
                 `provision init --cloud docker|ec2` writes one (`--cloud docker` needs none)"
                    .into(),
            ),
            AppError::Plan(PlanError::Invalid(m) | PlanError::Many { list: m, .. })
                if crate::render::is_undefined_message(m) =>
            {
                Some(
                    "give the variable a value: configure.json's `vars`, the inventory, the \
                     secrets file, or -e NAME=VALUE"
                        .into(),
                )
            }
            AppError::Cloud(e) => e.hint(),
            AppError::Deploy { hint, .. } => hint.clone(),
            _ => None,
        }
    }
}
