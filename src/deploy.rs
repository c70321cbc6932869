//! Deploy, before the role runs: find the role's instances by tag and launch only the missing
//! ones, wait until they run, give each its volume, wait until SSH answers with the key (host
//! keys pinned from the cloud where it reports them), and write the role's inventory group.
//! Every step can be re-run: a later run finds what an earlier one made and goes on from there.

use crate::cloud::wait::WaitOptions;
use crate::cloud::{Cloud, CloudError, Instance, LaunchSpec, RoleVolume, VolumeSpec};
use crate::config::{CloudKind, Config};
use crate::known_hosts::{KnownHosts, Pinned};
use crate::ssh::{ConnectOptions, Connection, SshError, Target};
use russh::keys::{PrivateKey, PublicKey};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("{step}: {source}")]
    Cloud {
        step: &'static str,
        #[source]
        source: CloudError,
    },
    #[error("{0}")]
    Refused(String),
    #[error("{host} did not answer SSH within {seconds}s: {last}")]
    SshTimeout {
        host: String,
        seconds: u64,
        last: String,
    },
    #[error("{0}")]
    Ssh(Box<SshError>),
    #[error("{0}")]
    Inventory(#[from] crate::inventory::InventoryError),
}

impl DeployError {
    pub fn hint(&self) -> Option<String> {
        match self {
            DeployError::Cloud { source, .. } => source.hint(),
            _ => None,
        }
    }
}

fn cloud_step(step: &'static str) -> impl Fn(CloudError) -> DeployError {
    move |source| DeployError::Cloud { step, source }
}

/// Reports one line of deploy's progress.
pub trait Say: Sync {
    fn say(&self, line: &str);
}

/// What deploy knows about the role's instances, for messages that say what exists.
pub fn describe(instances: &[Instance]) -> String {
    if instances.is_empty() {
        return "none".into();
    }
    instances
        .iter()
        .map(|i| {
            let address = if i.private_ip.is_empty() {
                String::new()
            } else {
                format!(", {}", i.private_ip)
            };
            format!("{} ({} {}{address})", i.name, i.id, i.state)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The role's instances that count: all but the terminated.
pub async fn role_instances(cloud: &dyn Cloud, role: &str) -> Result<Vec<Instance>, DeployError> {
    let mut list: Vec<Instance> = cloud
        .list_instances(Some(role))
        .await
        .map_err(cloud_step("finding the role's instances"))?
        .into_iter()
        .filter(|i| i.state != "terminated" && i.state != "shutting-down")
        .collect();
    list.sort_by_key(|i| name_index(&i.name));
    Ok(list)
}

fn name_index(name: &str) -> u32 {
    name.rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(u32::MAX)
}

/// Makes sure `count` instances of the role exist and run; launches the missing ones in one
/// call. Returns all of them, running.
pub async fn ensure_instances(
    cloud: &dyn Cloud,
    config: &Config,
    role: &str,
    count: u32,
    wait: &WaitOptions,
    out: &dyn Say,
) -> Result<Vec<Instance>, DeployError> {
    let same_cloud = same_cloud_flags(config);
    let mut existing = role_instances(cloud, role).await?;
    // Declarative: the role should have `count` running instances, so stopped ones (a crashed
    // container, an instance someone stopped) are started again, not replaced.
    let stopping: Vec<String> = existing
        .iter()
        .filter(|i| i.state == "stopping")
        .map(|i| i.id.clone())
        .collect();
    if !stopping.is_empty() {
        cloud
            .wait_instances(&stopping, "stopped", wait)
            .await
            .map_err(cloud_step("waiting for stopping instances to stop"))?;
        existing = role_instances(cloud, role).await?;
    }
    let stopped: Vec<&Instance> = existing.iter().filter(|i| i.state == "stopped").collect();
    if !stopped.is_empty() {
        out.say(&format!(
            "{role}: starting {} stopped instance(s): {}",
            stopped.len(),
            stopped
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let ids: Vec<String> = stopped.iter().map(|i| i.id.clone()).collect();
        cloud
            .start(&ids)
            .await
            .map_err(cloud_step("starting stopped instances"))?;
    }
    let have = existing.len() as u32;
    if have > count {
        let extra: Vec<&Instance> = existing[count as usize..].iter().collect();
        out.say(&format!(
            "{role}: {have} instances exist and --count {count} asks for fewer; provision never terminates. \
             To remove {}: provision instance terminate{same_cloud} {}",
            extra.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", "),
            extra.iter().map(|i| i.id.as_str()).collect::<Vec<_>>().join(" ")
        ));
    }
    let mut ids: Vec<String> = existing.iter().map(|i| i.id.clone()).collect();
    if have < count {
        let missing = count - have;
        out.say(&format!(
            "{role}: {have} of {count} instances exist; launching {missing} on {}",
            cloud.kind()
        ));
        let spec = LaunchSpec {
            project: config.project.clone(),
            role: role.to_string(),
            count: missing,
            image_id: config.instances.image_id.clone(),
            instance_type: config.instance_type_for(role),
            key_name: config.instances.key_name.clone(),
            security_groups: config.instances.security_groups.clone(),
            zone: config.cloud.availability_zone.clone(),
            first_index: crate::cloud::next_index(&existing, &config.project, role),
            network: config.instances.network.clone(),
        };
        let launched = cloud
            .launch(&spec)
            .await
            .map_err(cloud_step("launching instances"))?;
        ids.extend(launched.iter().map(|i| i.id.clone()));
    } else if have == count {
        out.say(&format!("{role}: {have} instances exist, none to launch"));
    }
    cloud
        .wait_instances(&ids, "running", wait)
        .await
        .map_err(cloud_step("waiting for the instances to run"))?;
    let mut running = cloud
        .describe_instances(&ids)
        .await
        .map_err(cloud_step("reading the instances' addresses"))?;
    running.sort_by_key(|i| name_index(&i.name));
    Ok(running)
}

/// Gives every instance the role's volume; returns the device per instance id. On a cloud
/// without volumes, says so once and goes on.
pub async fn ensure_volumes(
    cloud: &dyn Cloud,
    instances: &[Instance],
    spec: &VolumeSpec,
    wait: &WaitOptions,
    out: &dyn Say,
) -> Result<HashMap<String, String>, DeployError> {
    let mut devices = HashMap::new();
    for instance in instances {
        match cloud.ensure_role_volume(instance, spec, wait).await {
            Ok(RoleVolume::Attached(v)) => {
                devices.insert(instance.id.clone(), cloud.guest_device(&v));
            }
            Ok(RoleVolume::Created(v)) => {
                let seen_as = cloud.guest_device(&v);
                let guest = if seen_as == v.device {
                    String::new()
                } else {
                    format!(", seen by the guest as {seen_as}")
                };
                out.say(&format!(
                    "volume: {} ({} GiB) attached to {} at {}{guest}",
                    v.id, v.size_gib, instance.name, v.device
                ));
                devices.insert(instance.id.clone(), seen_as);
            }
            Err(CloudError::Unsupported(why)) => {
                out.say(&format!(
                    "volume: {why}; the role's volume ({} GiB) is skipped",
                    spec.size_gib
                ));
                return Ok(devices);
            }
            Err(e) => return Err(cloud_step("giving the instances their volumes")(e)),
        }
    }
    Ok(devices)
}

/// An instance ready for the role: where SSH answered.
#[derive(Debug, Clone)]
pub struct Reachable {
    pub instance: Instance,
    pub address: String,
    pub port: u16,
}

/// Test seam: `PROVISION_TEST_ADDRESS_MAP=name=host:port,…` reaches instances that exist only as
/// API records (moto's) through SSH servers the tests run.
pub fn address_map_from_env() -> HashMap<String, (String, u16)> {
    let Ok(text) = std::env::var("PROVISION_TEST_ADDRESS_MAP") else {
        return HashMap::new();
    };
    text.split(',')
        .filter_map(|entry| {
            let (name, target) = entry.trim().split_once('=')?;
            let (host, port) = target.rsplit_once(':')?;
            Some((name.to_string(), (host.to_string(), port.parse().ok()?)))
        })
        .collect()
}

pub struct SshWait<'a> {
    pub user: String,
    pub key: Arc<PrivateKey>,
    pub key_path: PathBuf,
    pub known_hosts: Arc<KnownHosts>,
    pub timeout: Duration,
    pub address_map: &'a HashMap<String, (String, u16)>,
}

/// Waits, for all instances at once, until each answers SSH and accepts the key. Host keys the
/// cloud reports are pinned in known_hosts first, so the first connection is verified; where it
/// reports none, the first key seen is accepted (OpenSSH's accept-new) and that is said.
pub async fn wait_for_ssh(
    cloud: &dyn Cloud,
    instances: &[Instance],
    how: &SshWait<'_>,
    out: &dyn Say,
) -> Result<Vec<Reachable>, DeployError> {
    let waits = instances.iter().map(|i| wait_one(cloud, i, how, out));
    futures::future::join_all(waits).await.into_iter().collect()
}

async fn wait_one(
    cloud: &dyn Cloud,
    instance: &Instance,
    how: &SshWait<'_>,
    out: &dyn Say,
) -> Result<Reachable, DeployError> {
    let (address, port) = how
        .address_map
        .get(&instance.name)
        .cloned()
        .unwrap_or_else(|| cloud.ssh_address(instance));
    let target = Target {
        name: instance.name.clone(),
        address: address.clone(),
        port,
        user: how.user.clone(),
        key: how.key.clone(),
        key_path: how.key_path.clone(),
    };
    let options = ConnectOptions {
        known_hosts: how.known_hosts.clone(),
        timeout: Duration::from_secs(5),
        retries: 0,
        first_backoff: Duration::from_secs(1),
    };
    let started = Instant::now();
    let mut delay = Duration::from_millis(500);
    let mut pinned = false;
    let mut last;
    loop {
        if !pinned {
            let keys: Vec<PublicKey> = cloud
                .host_keys(instance)
                .await
                .unwrap_or_default()
                .iter()
                .filter_map(|k| PublicKey::from_openssh(k).ok())
                .collect();
            if !keys.is_empty() {
                let Pinned { replaced, added } = how
                    .known_hosts
                    .pin(&address, port, &keys)
                    .map_err(|e| DeployError::Ssh(Box::new(SshError::KnownHosts(e))))?;
                if added > 0 {
                    let note = if replaced > 0 {
                        format!(
                            " (replacing {replaced} key(s) of an earlier machine at that address)"
                        )
                    } else {
                        String::new()
                    };
                    out.say(&format!(
                        "ssh: {} host keys pinned from the {} cloud{note}",
                        instance.name,
                        cloud.kind()
                    ));
                }
                pinned = true;
            }
        }
        // A host already in known_hosts is verified against it, so it need not wait for the
        // cloud's report (a console log may have been rotated away on a re-run).
        let verified = pinned || how.known_hosts.knows(&address, port);
        let patient = started.elapsed() < cloud.host_keys_patience();
        let connected = if verified || !patient {
            Connection::open(&target, &options).await
        } else {
            // sshd may start listening between the look at the keys and a connection, which
            // would then take its key on first sight: wait for the keys instead.
            Err(SshError::Protocol {
                target: instance.name.clone(),
                reason: "the cloud has not reported the host keys yet".into(),
            })
        };
        match connected {
            Ok(conn) => {
                let answered = conn.exec("true", None).await;
                let learned = conn.learned_host_key;
                conn.close().await;
                match answered {
                    Ok(o) if o.status == 0 => {
                        if learned && pinned {
                            out.say(&format!(
                                "ssh: {} host key accepted on first sight: its type is not among \
                                 the keys the {} cloud reported",
                                instance.name,
                                cloud.kind()
                            ));
                        } else if learned {
                            out.say(&format!(
                                "ssh: {} host key accepted on first sight: the {} cloud reported none",
                                instance.name,
                                cloud.kind()
                            ));
                        }
                        return Ok(Reachable {
                            instance: instance.clone(),
                            address,
                            port,
                        });
                    }
                    Ok(o) => last = format!("`true` exited {}", o.status),
                    Err(e) => last = e.to_string(),
                }
            }
            // Recorded for an earlier machine at a reused address: the cloud's report of the
            // new keys, when it comes, replaces it.
            Err(e @ SshError::HostKeyChanged { .. }) if !pinned && patient => {
                last = e.to_string();
            }
            // A changed or revoked key is an answer, not a delay.
            Err(e @ (SshError::HostKeyChanged { .. } | SshError::HostKeyRevoked { .. })) => {
                return Err(DeployError::Ssh(Box::new(e)));
            }
            // Refused keys are retried too: cloud-init installs the key a while after sshd starts.
            Err(e) => last = e.to_string(),
        }
        if started.elapsed() >= how.timeout {
            return Err(DeployError::SshTimeout {
                host: instance.name.clone(),
                seconds: how.timeout.as_secs(),
                last,
            });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

/// The inventory line deploy writes for a host. Values are quoted where the INI format needs it
/// (a key path with a space), as Ansible's shlex-based reader expects, so the line reads back.
pub fn host_line(
    host: &Reachable,
    user: &str,
    key_file: &Path,
    volume_device: Option<&String>,
) -> String {
    let port = (host.port != 22).then(|| host.port.to_string());
    let mut fields: Vec<(&str, String)> = vec![("ansible_host", host.address.clone())];
    if let Some(port) = port {
        fields.push(("ansible_port", port));
    }
    fields.extend([
        ("ansible_user", user.to_string()),
        (
            "ansible_ssh_private_key_file",
            key_file.display().to_string(),
        ),
        ("private_ip", host.instance.private_ip.clone()),
        ("instance_id", host.instance.id.clone()),
    ]);
    if let Some(device) = volume_device {
        fields.push(("volume_device", device.clone()));
    }
    crate::inventory::edit::host_line(&host.instance.name, &fields)
}

/// The inventory as it will be once deploy has written the role's group with `count` hosts,
/// with documentation addresses (192.0.2.0/24, never contacted) standing for the ones the cloud
/// will give: planning the role against it checks every variable and template before any
/// instance is launched.
pub fn preview_inventory(
    path: &Path,
    project: &str,
    role: &str,
    count: u32,
    user: &str,
    key_file: &Path,
    volume_device: Option<&str>,
) -> Result<crate::inventory::Inventory, DeployError> {
    let lines: Vec<String> = (1..=count)
        .map(|n| {
            let address = format!("192.0.2.{}", (n - 1) % 254 + 1);
            let host = Reachable {
                instance: Instance {
                    id: format!("{project}-{role}-{n}-to-be-launched"),
                    name: format!("{project}-{role}-{n}"),
                    role: role.to_string(),
                    project: project.to_string(),
                    state: "pending".into(),
                    instance_type: String::new(),
                    private_ip: address.clone(),
                    public_ip: String::new(),
                    zone: String::new(),
                    launched: String::new(),
                },
                address,
                port: 22,
            };
            host_line(
                &host,
                user,
                key_file,
                volume_device.map(str::to_string).as_ref(),
            )
        })
        .collect();
    let text = read_inventory_text(path)?;
    let new = crate::inventory::edit::with_group_hosts(
        &text,
        role,
        &format!("{project}-{role}-"),
        &lines,
    );
    Ok(crate::inventory::Inventory::parse(path, &new)?)
}

fn read_inventory_text(path: &Path) -> Result<String, DeployError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(source) => Err(DeployError::Inventory(
            crate::inventory::InventoryError::Read {
                path: path.to_owned(),
                source,
            },
        )),
    }
}

/// Writes the role's group into the inventory, atomically, keeping everything else.
pub fn write_inventory(
    path: &Path,
    project: &str,
    role: &str,
    lines: &[String],
) -> Result<(), DeployError> {
    let text = read_inventory_text(path)?;
    let new =
        crate::inventory::edit::with_group_hosts(&text, role, &format!("{project}-{role}-"), lines);
    // What is written must read back.
    crate::inventory::Inventory::parse(path, &new)?;
    crate::inventory::write_atomically(path, &new)?;
    Ok(())
}

/// Held while a deploy runs: one deploy at a time per project on this machine, so that two
/// deploys never both see an instance missing and both launch it.
pub struct ProjectLock {
    _file: std::fs::File,
}

/// Takes the project's deploy lock (`.provision/<project>.lock` beside configure.json). When
/// another deploy holds it: waits, saying so, or with `wait` false refuses.
pub async fn lock_project(
    config: &Config,
    wait: bool,
    out: &dyn Say,
) -> Result<ProjectLock, DeployError> {
    use std::io::{Read, Seek, Write};
    let dir = config
        .path
        .parent()
        .unwrap_or(Path::new("."))
        .join(".provision");
    let path = dir.join(format!("{}.lock", config.project));
    let problem = |e: std::io::Error| {
        DeployError::Refused(format!(
            "cannot take the deploy lock {}: {e}",
            path.display()
        ))
    };
    std::fs::create_dir_all(&dir).map_err(problem)?;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(problem)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let who = if holder.is_empty() {
                String::new()
            } else {
                format!(" (pid {holder})")
            };
            if !wait {
                return Err(DeployError::Refused(format!(
                    "another deploy of project `{}` is running{who}; --no-wait refuses to wait for it",
                    config.project
                )));
            }
            out.say(&format!(
                "deploy: another deploy of project `{}` is running{who}; waiting for it to finish",
                config.project
            ));
            file = tokio::task::spawn_blocking(move || file.lock().map(|()| file))
                .await
                .expect("the lock wait does not panic")
                .map_err(problem)?;
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(problem(e)),
    }
    file.set_len(0).map_err(problem)?;
    file.rewind().map_err(problem)?;
    write!(file, "{}", std::process::id()).map_err(problem)?;
    Ok(ProjectLock { _file: file })
}

/// The flags that make a command this tool suggests reach the same cloud with the same
/// configuration as the command that suggests it: ` --cloud docker --config other.json`.
pub fn same_cloud_flags(config: &Config) -> String {
    let mut flags = format!(" --cloud {}", cloud_name(config.cloud.kind));
    if config.path != Path::new("configure.json") {
        let shown = config.path.display().to_string();
        let quoted = shlex::try_quote(&shown).map_or(shown.clone(), |q| q.into_owned());
        flags.push_str(&format!(" --config {quoted}"));
    }
    flags
}

/// The cloud's name as configure.json and --cloud say it.
pub fn cloud_name(kind: CloudKind) -> &'static str {
    match kind {
        CloudKind::Ec2 => "ec2",
        CloudKind::Docker => "docker",
        CloudKind::Openstack => "openstack",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(name: &str) -> Instance {
        Instance {
            id: format!("i-{name}"),
            name: name.into(),
            role: "db".into(),
            project: "p".into(),
            state: "running".into(),
            instance_type: "m1.small".into(),
            private_ip: "10.0.0.7".into(),
            public_ip: String::new(),
            zone: "z".into(),
            launched: String::new(),
        }
    }

    #[test]
    fn host_lines_and_names() {
        let host = Reachable {
            instance: instance("p-db-2"),
            address: "127.0.0.1".into(),
            port: 2201,
        };
        assert_eq!(
            host_line(
                &host,
                "ubuntu",
                Path::new("/k/key.pem"),
                Some(&"/dev/vdc".to_string())
            ),
            "p-db-2 ansible_host=127.0.0.1 ansible_port=2201 ansible_user=ubuntu ansible_ssh_private_key_file=/k/key.pem private_ip=10.0.0.7 instance_id=i-p-db-2 volume_device=/dev/vdc"
        );
        assert_eq!(name_index("p-db-12"), 12);
        assert_eq!(
            describe(&[instance("p-db-1")]),
            "p-db-1 (i-p-db-1 running, 10.0.0.7)"
        );
    }
}
