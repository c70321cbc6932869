//! `provision instance|volume|snapshot …`: the EC2 operations, printed as tables or JSON.

use super::{AppError, table};
use crate::cli::{CloudArgs, InstanceAction, SnapshotAction, VolumeAction};
use crate::cloud::docker::Docker;
use crate::cloud::ec2::Ec2;
use crate::cloud::openstack::OpenStack;
use crate::cloud::wait::WaitOptions;
use crate::cloud::{
    Cloud, CloudError, Instance, LaunchSpec, Snapshot, Storage, Volume, next_index,
};
use crate::config::{CloudKind, Config, ConfigError};
use crate::run::progress::print_line;
use crate::run::report::exit;
use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

/// Loads and checks configure.json (nothing reaches the cloud before it is valid). With
/// `--cloud docker` and no configure.json, the local defaults (project `local`) apply.
pub fn load_config(args: &CloudArgs) -> Result<Config, AppError> {
    let mut config = if args.cloud == Some(CloudKind::Docker) && !args.config.exists() {
        Config::local(&args.config)
    } else {
        Config::load(&args.config)?
    };
    if let Some(kind) = args.cloud
        && kind != config.cloud.kind
    {
        if kind != CloudKind::Docker {
            let name = crate::deploy::cloud_name(kind);
            return Err(AppError::Config(ConfigError::Value {
                path: config.path.display().to_string(),
                field: "cloud".into(),
                message: format!(
                    "--cloud {name} needs its settings in configure.json (`provision init --cloud {name}` writes an example)"
                ),
            }));
        }
        config.cloud.kind = kind;
        // The EC2 instance settings (image, key pair, key file) mean nothing to the Docker
        // cloud: its containers are of the project's image, reached with the project's own key.
        config.instances = crate::config::InstanceConfig::default();
    }
    for w in config.warnings() {
        eprintln!("warning: {w}");
    }
    Ok(config)
}

pub fn wait_options(args: &CloudArgs) -> WaitOptions {
    WaitOptions {
        timeout: Duration::from_secs(args.wait_timeout),
        show_progress: std::io::stderr().is_terminal(),
        ..WaitOptions::default()
    }
}

/// The cloud configure.json (or --cloud) names.
pub async fn connect(config: &Config) -> Result<Box<dyn Cloud>, AppError> {
    Ok(match config.cloud.kind {
        CloudKind::Ec2 => Box::new(Ec2::connect(config).await),
        CloudKind::Docker => Box::new(Docker::new(&config.project, &config.key_file()?)?),
        CloudKind::Openstack => Box::new(OpenStack::connect(config).await?),
    })
}

/// Volumes and snapshots exist on EC2 and OpenStack.
async fn open_storage(
    args: &CloudArgs,
) -> Result<(Config, Box<dyn Storage>, WaitOptions), AppError> {
    let config = load_config(args)?;
    let storage: Box<dyn Storage> = match config.cloud.kind {
        CloudKind::Docker => {
            return Err(AppError::Cloud(CloudError::Unsupported(
                "volumes and snapshots are not supported on the docker cloud".into(),
            )));
        }
        CloudKind::Ec2 => Box::new(Ec2::connect(&config).await),
        CloudKind::Openstack => Box::new(OpenStack::connect(&config).await?),
    };
    Ok((config, storage, wait_options(args)))
}

/// A resource shown by a `list` command: as a table row, or as JSON.
trait Listed: serde::Serialize {
    const HEADERS: &'static [&'static str];
    fn cells(&self) -> Vec<String>;
}

impl Listed for Instance {
    const HEADERS: &'static [&'static str] = &[
        "ID",
        "NAME",
        "ROLE",
        "STATE",
        "TYPE",
        "PRIVATE IP",
        "PUBLIC IP",
        "ZONE",
        "LAUNCHED",
    ];
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.name.clone(),
            self.role.clone(),
            self.state.clone(),
            self.instance_type.clone(),
            self.private_ip.clone(),
            self.public_ip.clone(),
            self.zone.clone(),
            self.launched.clone(),
        ]
    }
}

impl Listed for Volume {
    const HEADERS: &'static [&'static str] = &[
        "ID",
        "NAME",
        "ROLE",
        "SIZE",
        "STATE",
        "ZONE",
        "ATTACHED TO",
        "DEVICE",
    ];
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.name.clone(),
            self.role.clone(),
            format!("{} GiB", self.size_gib),
            self.state.clone(),
            self.zone.clone(),
            self.attached_to.clone(),
            self.device.clone(),
        ]
    }
}

impl Listed for Snapshot {
    const HEADERS: &'static [&'static str] = &[
        "ID",
        "VOLUME",
        "SIZE",
        "STATE",
        "PROGRESS",
        "DESCRIPTION",
        "STARTED",
    ];
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.volume_id.clone(),
            format!("{} GiB", self.size_gib),
            self.state.clone(),
            self.progress.clone(),
            self.description.clone(),
            self.started.clone(),
        ]
    }
}

fn show<T: Listed>(list: &[T], as_json: bool) {
    let text = if as_json {
        serde_json::to_string_pretty(list).expect("serialisable")
    } else {
        let rows: Vec<Vec<String>> = list.iter().map(Listed::cells).collect();
        table(T::HEADERS, &rows)
    };
    print_line(text.trim_end());
}

/// Asks on the terminal; refuses when nobody can answer (no terminal and no --yes).
fn confirm(question: &str) -> Result<(), AppError> {
    if !std::io::stdin().is_terminal() {
        return Err(AppError::NotConfirmed(format!(
            "{question}: not confirmed (standard input is not a terminal); pass --yes to go ahead"
        )));
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).ok();
    match answer.trim().to_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(AppError::NotConfirmed("nothing was done".into())),
    }
}

pub async fn instance(args: &CloudArgs, action: &InstanceAction) -> Result<i32, AppError> {
    let config = load_config(args)?;
    let wait = wait_options(args);
    let cloud = connect(&config).await?;
    match action {
        InstanceAction::List {
            role,
            json: as_json,
        } => {
            let list = cloud.list_instances(role.as_deref()).await?;
            show(&list, *as_json);
        }
        InstanceAction::Launch {
            role,
            count,
            no_wait,
            json: as_json,
        } => {
            // The key the instances will be reached with must be usable before anything is launched.
            config.key_file()?;
            let count = count.or(config.role(role).count).unwrap_or(1);
            let existing: Vec<Instance> = cloud
                .list_instances(Some(role))
                .await?
                .into_iter()
                .filter(|i| i.state != "terminated" && i.state != "shutting-down")
                .collect();
            let spec = LaunchSpec {
                project: config.project.clone(),
                role: role.clone(),
                count,
                image_id: config.instances.image_id.clone(),
                instance_type: config.instance_type_for(role),
                key_name: config.instances.key_name.clone(),
                security_groups: config.instances.security_groups.clone(),
                zone: config.cloud.availability_zone.clone(),
                first_index: next_index(&existing, &config.project, role),
                network: config.instances.network.clone(),
            };
            let launched = cloud.launch(&spec).await?;
            let ids: Vec<String> = launched.iter().map(|i| i.id.clone()).collect();
            let shown = if *no_wait {
                launched
            } else {
                cloud.wait_instances(&ids, "running", &wait).await?;
                cloud.describe_instances(&ids).await?
            };
            show(&shown, *as_json);
        }
        InstanceAction::Terminate { ids, yes, no_wait } => {
            let found = cloud.describe_instances(ids).await?;
            if !yes {
                let what: Vec<String> = found
                    .iter()
                    .map(|i| {
                        let label = if i.name.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", i.name)
                        };
                        format!("{}{label}", i.id)
                    })
                    .collect();
                confirm(&format!("terminate {}?", what.join(", ")))?;
            }
            cloud.terminate(ids).await?;
            if !no_wait {
                cloud.wait_instances(ids, "terminated", &wait).await?;
            }
            for id in ids {
                print_line(&format!(
                    "{} {id}",
                    if *no_wait {
                        "terminating"
                    } else {
                        "terminated"
                    }
                ));
            }
        }
        InstanceAction::Reboot { ids } => {
            cloud.reboot(ids).await?;
            for id in ids {
                print_line(&format!("rebooting {id}"));
            }
        }
        InstanceAction::Stop { ids, no_wait } => {
            cloud.stop(ids).await?;
            if !no_wait {
                cloud.wait_instances(ids, "stopped", &wait).await?;
            }
            for id in ids {
                print_line(&format!(
                    "{} {id}",
                    if *no_wait { "stopping" } else { "stopped" }
                ));
            }
        }
        InstanceAction::Start { ids, no_wait } => {
            cloud.start(ids).await?;
            if !no_wait {
                cloud.wait_instances(ids, "running", &wait).await?;
            }
            for id in ids {
                print_line(&format!(
                    "{} {id}",
                    if *no_wait { "starting" } else { "running" }
                ));
            }
        }
    }
    Ok(exit::OK)
}

pub async fn volume(args: &CloudArgs, action: &VolumeAction) -> Result<i32, AppError> {
    let (config, storage, wait) = open_storage(args).await?;
    match action {
        VolumeAction::List { json: as_json } => {
            let list = storage.list_volumes().await?;
            show(&list, *as_json);
        }
        VolumeAction::Create { size, zone, role } => {
            let zone = zone
                .clone()
                .unwrap_or_else(|| config.cloud.availability_zone.clone());
            if zone.is_empty() {
                let field = if config.cloud.kind == CloudKind::Openstack {
                    "instances.availability_zone"
                } else {
                    "cloud.availability_zone"
                };
                return Err(AppError::Cloud(CloudError::Refused(format!(
                    "no availability zone: set {field} in configure.json or pass --zone"
                ))));
            }
            let v = storage.create_volume(*size, &zone, role).await?;
            storage.wait_volume(&v.id, "available", &wait).await?;
            print_line(&format!("created {} ({} GiB) in {zone}", v.id, size));
        }
        VolumeAction::Attach {
            size,
            instance,
            device,
        } => {
            let cloud = connect(&config).await?;
            let found = cloud
                .describe_instances(std::slice::from_ref(instance))
                .await?;
            let target = found
                .first()
                .ok_or_else(|| CloudError::NotFound(format!("instance {instance} not found")))?;
            let v = storage
                .create_volume(*size, &target.zone, &target.role)
                .await?;
            let attached = async {
                storage.wait_volume(&v.id, "available", &wait).await?;
                storage.attach_volume(&v.id, instance, device).await?;
                storage.wait_volume(&v.id, "in-use", &wait).await
            }
            .await;
            if let Err(e) = attached {
                eprintln!(
                    "note: volume {} was created but is not attached; delete it with `provision volume delete {}` if unwanted",
                    v.id, v.id
                );
                return Err(e.into());
            }
            let v = storage.describe_volume(&v.id).await?;
            let seen_as = storage.guest_device(&v);
            let guest = if seen_as == v.device {
                String::new()
            } else {
                format!(" (the guest sees it as {seen_as})")
            };
            print_line(&format!(
                "attached {} ({size} GiB) to {instance} at {}{guest}",
                v.id, v.device
            ));
        }
        VolumeAction::Detach { volume, force } => {
            let v = storage.describe_volume(volume).await?;
            storage.detach_volume(&v, *force).await?;
            storage.wait_volume(volume, "available", &wait).await?;
            print_line(&format!("detached {volume} from {}", v.attached_to));
        }
        VolumeAction::Delete { volume } => {
            storage.delete_volume(volume).await?;
            storage.wait_volume(volume, "deleted", &wait).await?;
            print_line(&format!("deleted {volume}"));
        }
    }
    Ok(exit::OK)
}

pub async fn snapshot(args: &CloudArgs, action: &SnapshotAction) -> Result<i32, AppError> {
    let (_config, storage, wait) = open_storage(args).await?;
    match action {
        SnapshotAction::Create {
            volume,
            description,
        } => {
            let description = description
                .clone()
                .unwrap_or_else(|| format!("provision snapshot of {volume}"));
            let s = storage.create_snapshot(volume, &description).await?;
            print_line(&format!("created {} of {volume} ({})", s.id, s.state));
        }
        SnapshotAction::List { json: as_json } => {
            let list = storage.list_snapshots().await?;
            show(&list, *as_json);
        }
        SnapshotAction::Delete { snapshot } => {
            storage.delete_snapshot(snapshot).await?;
            storage.wait_snapshot(snapshot, "deleted", &wait).await?;
            print_line(&format!("deleted {snapshot}"));
        }
    }
    Ok(exit::OK)
}
