//! `provision deploy ROLE --count N` (or `provision ROLE --count N`): the deploy steps, then the
//! role on all of the role's hosts. Everything, the role's variables and templates for every
//! host it will have included, is checked before the cloud is touched; a failure after that says
//! what exists and what to run.

use super::AppError;
use super::cloud::{connect, load_config, wait_options};
use crate::apply::{self, Output, RoleInput};
use crate::cli::DeployArgs;
use crate::cloud::{Cloud, VolumeSpec};
use crate::deploy::{self, DeployError, Say, SshWait};
use crate::inventory::Inventory;
use crate::known_hosts::KnownHosts;
use crate::run::RunOptions;
use crate::run::plan::{self, ConnectionDefaults};
use crate::run::progress::print_line;
use crate::ssh::ConnectOptions;
use std::sync::Arc;
use std::time::Duration;

struct Stdout;

impl Say for Stdout {
    fn say(&self, line: &str) {
        print_line(line);
    }
}

/// A failed step, with what the role has now and how to go on.
async fn explain(
    cloud: &dyn Cloud,
    args: &DeployArgs,
    count: u32,
    same_cloud: &str,
    e: DeployError,
) -> AppError {
    let now = match deploy::role_instances(cloud, &args.role).await {
        Ok(list) => deploy::describe(&list),
        Err(_) => "(could not list them)".into(),
    };
    let again = format!("provision {} --count {count}{same_cloud}", args.role);
    AppError::Deploy {
        message: format!(
            "{e}\n  {} instances of {} now: {now}\n  nothing was terminated",
            cloud.kind(),
            args.role
        ),
        hint: Some(e.hint().map_or_else(
            || format!(
                "run `{again}` again: it finds these instances by their tags and launches nothing twice"
            ),
            |h| format!("{h}; then run `{again}` again"),
        )),
    }
}

pub async fn deploy(args: &DeployArgs) -> Result<i32, AppError> {
    let config = load_config(&args.cloud)?;
    let out = Stdout;
    // First, since deploy makes the secrets file when it is missing: two first deploys at once
    // must not each generate their own secrets and configure hosts with different ones.
    let _lock = deploy::lock_project(&config, !args.no_wait, &out)
        .await
        .map_err(|e| AppError::Deploy {
            message: e.to_string(),
            hint: Some(
                "one deploy at a time per project: wait for the other, then run again".into(),
            ),
        })?;
    let key_path = std::path::absolute(config.key_file()?).map_err(|e| AppError::Deploy {
        message: format!("cannot resolve the key file's path: {e}"),
        hint: None,
    })?;
    let key = crate::ssh::load_key(&key_path)?;
    let secrets_path = args
        .secrets
        .clone()
        .unwrap_or_else(|| apply::default_secrets_path(&config.path));
    let input = RoleInput::load(
        &args.role,
        args.options.tasks_dir.as_deref(),
        &config.vars,
        crate::secrets::load(&secrets_path, true)?,
        &args.options.apply.extra_vars,
        Default::default(),
    )?;
    let role_config = config.role(&args.role);
    let count = args.count.or(role_config.count).unwrap_or(1);
    let defaults = ConnectionDefaults {
        user: Some(config.instances.ssh_user.clone()),
        private_key: Some(key_path.clone()),
        become_: false,
    };
    // The role planned for the hosts it will have, before anything is launched.
    let preview = deploy::preview_inventory(
        &args.inventory,
        &config.project,
        &args.role,
        count,
        &config.instances.ssh_user,
        &key_path,
        role_config.volume.as_ref().map(|v| v.device.as_str()),
    )
    .map_err(|e| match e {
        DeployError::Inventory(e) => AppError::Inventory(e),
        other => AppError::Deploy {
            message: other.to_string(),
            hint: None,
        },
    })?;
    input.plan(&preview, None, &defaults)?;

    let same_cloud = deploy::same_cloud_flags(&config);
    let known_hosts = args
        .options
        .apply
        .known_hosts
        .clone()
        .unwrap_or_else(plan::known_hosts_default);
    let wait = wait_options(&args.cloud);
    let cloud = connect(&config).await?;
    let cloud = cloud.as_ref();
    let fail = |e| explain(cloud, args, count, &same_cloud, e);

    let instances =
        match deploy::ensure_instances(cloud, &config, &args.role, count, &wait, &out).await {
            Ok(list) => list,
            Err(e) => return Err(fail(e).await),
        };
    let devices = match &role_config.volume {
        Some(v) => {
            let spec = VolumeSpec {
                size_gib: v.size,
                device: v.device.clone(),
                volume_type: v.volume_type.clone(),
            };
            match deploy::ensure_volumes(cloud, &instances, &spec, &wait, &out).await {
                Ok(d) => d,
                Err(e) => return Err(fail(e).await),
            }
        }
        None => Default::default(),
    };
    let address_map = deploy::address_map_from_env();
    let known_hosts = Arc::new(KnownHosts::new(known_hosts));
    let how = SshWait {
        user: config.instances.ssh_user.clone(),
        key,
        key_path: key_path.clone(),
        known_hosts: known_hosts.clone(),
        timeout: Duration::from_secs(args.ssh_timeout),
        address_map: &address_map,
    };
    print_line(&format!(
        "ssh: waiting for {} host(s) to answer",
        instances.len()
    ));
    let reachable = match deploy::wait_for_ssh(cloud, &instances, &how, &out).await {
        Ok(r) => r,
        Err(e) => return Err(fail(e).await),
    };
    if let Some(note) = known_hosts.written_note() {
        print_line(&note);
    }
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
        return Err(fail(e).await);
    }
    print_line(&format!(
        "inventory: [{}] lists {} host(s) in {}",
        args.role,
        lines.len(),
        args.inventory.display()
    ));
    let inventory = Inventory::load(&args.inventory)?;
    let plays = input.play(&inventory, None, &defaults)?;
    let options = RunOptions {
        forks: args.options.apply.forks,
        check: false,
        diff: false,
        connect: ConnectOptions {
            known_hosts,
            timeout: Duration::from_secs(10),
            retries: 3,
            first_backoff: Duration::from_secs(1),
        },
        interrupt: Default::default(),
    };
    let output = Output {
        json: false,
        verbose: args.options.apply.verbose,
    };
    Ok(apply::run_and_report(&args.role, plays, options, output).await)
}
