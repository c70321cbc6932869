//! `provision deploy ROLE --count N` (or `provision ROLE --count N`): the deploy steps, then the
//! role on all of the role's hosts. Input is checked before the cloud is touched; a failure after
//! that says what exists and what to run.

use super::AppError;
use super::cloud::{connect, load_config, wait_options};
use crate::cli::{DeployArgs, InventoryFile, RoleOptions, RunArgs};
use crate::cloud::Cloud;
use crate::deploy::{self, DeployError, Say, SshWait};
use crate::known_hosts::KnownHosts;
use crate::roles::RoleSource;
use crate::run::plan;
use crate::run::progress::print_line;
use std::sync::Arc;
use std::time::Duration;

struct Stdout;

impl Say for Stdout {
    fn say(&self, line: &str) {
        print_line(line);
    }
}

/// A failed step, with what the role has now and how to go on.
async fn explain(cloud: &dyn Cloud, args: &DeployArgs, count: u32, e: DeployError) -> AppError {
    let now = match deploy::role_instances(cloud, &args.role).await {
        Ok(list) => deploy::describe(&list),
        Err(_) => "(could not list them)".into(),
    };
    AppError::Deploy {
        message: format!(
            "{e}\n  {} instances of {} now: {now}\n  nothing was terminated",
            cloud.kind(),
            args.role
        ),
        hint: Some(e.hint().map_or_else(
            || format!(
                "run `provision {} --count {count}` again: it finds these instances by their tags and launches nothing twice",
                args.role
            ),
            |h| format!("{h}; then run `provision {} --count {count}` again", args.role),
        )),
    }
}

pub async fn deploy(args: &DeployArgs) -> Result<i32, AppError> {
    let config = load_config(&args.cloud)?;
    let roles = RoleSource::new(args.options.tasks_dir.as_deref());
    super::run::load_task_file(&roles, &args.role)?;
    plan::parse_extra_vars(&args.options.extra_vars)?;
    let key_path = std::path::absolute(config.key_file()?).map_err(|e| AppError::Deploy {
        message: format!("cannot resolve the key file's path: {e}"),
        hint: None,
    })?;
    let key = crate::ssh::load_key(&key_path)?;
    let secrets_path = args.secrets.clone().unwrap_or_else(|| {
        config
            .path
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join("secrets.json")
    });
    let mut vars = config.vars.clone();
    vars.extend(crate::secrets::load(&secrets_path, true)?);
    let role_config = config.role(&args.role);
    let count = args.count.or(role_config.count).unwrap_or(1);
    let known_hosts = args
        .options
        .known_hosts
        .clone()
        .unwrap_or_else(plan::known_hosts_default);
    let wait = wait_options(&args.cloud);
    let cloud = connect(&config).await?;
    let cloud = cloud.as_ref();
    let out = Stdout;

    let instances =
        match deploy::ensure_instances(cloud, &config, &args.role, count, &wait, &out).await {
            Ok(list) => list,
            Err(e) => return Err(explain(cloud, args, count, e).await),
        };
    let devices = match &role_config.volume {
        Some(v) => {
            match deploy::ensure_volumes(cloud, &instances, v.size, &v.device, &wait, &out).await {
                Ok(d) => d,
                Err(e) => return Err(explain(cloud, args, count, e).await),
            }
        }
        None => Default::default(),
    };
    let address_map = deploy::address_map_from_env();
    let how = SshWait {
        user: config.instances.ssh_user.clone(),
        key,
        key_path: key_path.clone(),
        known_hosts: Arc::new(KnownHosts::new(known_hosts.clone())),
        timeout: Duration::from_secs(args.ssh_timeout),
        address_map: &address_map,
    };
    print_line(&format!(
        "ssh: waiting for {} host(s) to answer",
        instances.len()
    ));
    let reachable = match deploy::wait_for_ssh(cloud, &instances, &how, &out).await {
        Ok(r) => r,
        Err(e) => return Err(explain(cloud, args, count, e).await),
    };
    let lines: Vec<String> = reachable
        .iter()
        .map(|h| {
            deploy::host_line(
                h,
                &config.instances.ssh_user,
                &key_path,
                devices.get(&h.instance.id),
            )
        })
        .collect();
    if let Err(e) = deploy::write_inventory(&args.inventory, &config.project, &args.role, &lines) {
        return Err(explain(cloud, args, count, e).await);
    }
    print_line(&format!(
        "inventory: [{}] lists {} host(s) in {}",
        args.role,
        lines.len(),
        args.inventory.display()
    ));
    let run = RunArgs {
        role: args.role.clone(),
        inventory: InventoryFile {
            path: args.inventory.clone(),
        },
        limit: None,
        options: RoleOptions {
            known_hosts: Some(known_hosts),
            ..args.options.clone()
        },
        check: false,
        diff: false,
        json: false,
        user: config.instances.ssh_user.clone(),
        private_key: Some(key_path),
        become_: false,
        secrets: None,
        connect_timeout: 10,
        connect_retries: 3,
    };
    super::run::run_role_with(&run, &vars).await
}
