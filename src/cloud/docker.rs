//! The local cloud: instances are containers of the project's SSH host image (Debian, systemd as
//! PID 1, sshd) on a Docker network of the project's own, driven through the `docker` command.
//! For trying roles on a laptop before spending cloud quota; volumes are not supported.

use super::wait::{self, WaitOptions};
use super::{Cloud, CloudError, Instance, LaunchSpec, RoleVolume, VolumeSpec};
use serde_json::Value as Json;
use std::path::Path;

const LABEL_PROJECT: &str = "provision.project";
const LABEL_ROLE: &str = "provision.role";

/// The host image's build scripts, carried in the binary so a fresh machine can build it.
const BUILD_SCRIPT: &str = include_str!("../../integration/image/build.sh");
const ENTRYPOINT: &str = include_str!("../../integration/image/entrypoint.sh");

pub struct Docker {
    project: String,
    network: String,
    /// The public key put into every container's `authorized_keys`.
    authorized_key: String,
}

/// How long one `docker` command may take: a Docker engine that does not answer is an error
/// that says so, not a hang.
const DOCKER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

async fn docker(operation: &str, args: &[&str]) -> Result<String, CloudError> {
    let run = tokio::process::Command::new("docker")
        .args(args)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(DOCKER_TIMEOUT, run)
        .await
        .map_err(|_| CloudError::Docker {
            operation: operation.to_string(),
            message: format!(
                "the Docker engine did not answer within {} s (is `docker info` slow or hanging?)",
                DOCKER_TIMEOUT.as_secs()
            ),
        })?
        .map_err(|e| CloudError::Docker {
            operation: operation.to_string(),
            message: format!("cannot run `docker`: {e}"),
        })?;
    if !out.status.success() {
        return Err(CloudError::Docker {
            operation: operation.to_string(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Builds the host image when it is missing (the script decides, from its own hash) and returns
/// its name. The script's progress goes to this program's stderr.
pub async fn host_image() -> Result<String, CloudError> {
    let dir = tempfile_dir()?;
    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text).map_err(|e| CloudError::Docker {
            operation: "host image".into(),
            message: format!("cannot write the build script to {}: {e}", dir.display()),
        })
    };
    write("build.sh", BUILD_SCRIPT)?;
    write("entrypoint.sh", ENTRYPOINT)?;
    let out = tokio::process::Command::new("bash")
        .arg(dir.join("build.sh"))
        .stderr(std::process::Stdio::inherit())
        .output()
        .await;
    let _ = std::fs::remove_dir_all(&dir);
    let out = out.map_err(|e| CloudError::Docker {
        operation: "host image".into(),
        message: format!("cannot run bash: {e}"),
    })?;
    if !out.status.success() {
        return Err(CloudError::Docker {
            operation: "building the host image".into(),
            message: "the build script failed (its output is above)".into(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn tempfile_dir() -> Result<std::path::PathBuf, CloudError> {
    let dir = std::env::temp_dir().join(format!(
        "provision-host-image-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| CloudError::Docker {
        operation: "host image".into(),
        message: format!("cannot create {}: {e}", dir.display()),
    })?;
    Ok(dir)
}

fn state_of(status: &str) -> &'static str {
    match status {
        "running" => "running",
        "restarting" => "pending",
        // A container made but never started (a run cut short between `docker create` and its
        // start) is stopped: deploy starts it instead of waiting for it forever.
        "created" | "exited" | "paused" => "stopped",
        _ => "terminated",
    }
}

impl Docker {
    /// The public key is read from the private key file instances are reached with.
    pub fn new(project: &str, key_file: &Path) -> Result<Docker, CloudError> {
        let key = crate::ssh::load_key(key_file).map_err(|e| CloudError::Refused(e.to_string()))?;
        let authorized_key = key
            .public_key()
            .to_openssh()
            .map_err(|e| CloudError::Refused(format!("cannot encode the public key: {e}")))?;
        Ok(Docker {
            project: project.to_string(),
            network: format!("provision-{project}"),
            authorized_key,
        })
    }

    fn to_instance(&self, c: &Json) -> Instance {
        let text = |v: &Json| v.as_str().unwrap_or_default().to_string();
        let labels = &c["Config"]["Labels"];
        Instance {
            id: text(&c["Id"]).chars().take(12).collect(),
            name: text(&c["Name"]).trim_start_matches('/').to_string(),
            role: text(&labels[LABEL_ROLE]),
            project: text(&labels[LABEL_PROJECT]),
            state: state_of(c["State"]["Status"].as_str().unwrap_or_default()).to_string(),
            instance_type: "container".into(),
            private_ip: text(&c["NetworkSettings"]["Networks"][&self.network]["IPAddress"]),
            public_ip: String::new(),
            zone: "local".into(),
            launched: text(&c["Created"]).chars().take(19).collect(),
        }
    }

    async fn inspect(&self, ids: &[String]) -> Result<Vec<Instance>, CloudError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec!["inspect", "--type", "container"];
        args.extend(ids.iter().map(String::as_str));
        let out = match docker("docker inspect", &args).await {
            Ok(out) => out,
            Err(CloudError::Docker { message, .. }) if message.contains("No such") => {
                return Err(CloudError::NotFound(format!(
                    "no such container: {message} (`provision instance list --cloud docker` shows them)"
                )));
            }
            Err(e) => return Err(e),
        };
        let list: Vec<Json> = serde_json::from_str(&out).map_err(|e| CloudError::Docker {
            operation: "docker inspect".into(),
            message: format!("unexpected output: {e}"),
        })?;
        Ok(list.iter().map(|c| self.to_instance(c)).collect())
    }

    /// The ids of the networks named like the project's, oldest first.
    async fn networks(&self) -> Result<Vec<String>, CloudError> {
        let name = format!("name=^{}$", self.network);
        let out = docker(
            "docker network ls",
            &["network", "ls", "-q", "--no-trunc", "--filter", &name],
        )
        .await?;
        let ids: Vec<&str> = out.split_whitespace().collect();
        if ids.len() < 2 {
            return Ok(ids.into_iter().map(String::from).collect());
        }
        let mut args = vec!["network", "inspect", "--format", "{{.Created}} {{.Id}}"];
        args.extend(&ids);
        let mut dated: Vec<(String, String)> = docker("docker network inspect", &args)
            .await?
            .lines()
            .filter_map(|l| l.rsplit_once(' '))
            .map(|(created, id)| (created.to_string(), id.to_string()))
            .collect();
        dated.sort();
        Ok(dated.into_iter().map(|(_, id)| id).collect())
    }

    /// Makes sure the project's network exists once, and returns its id. Another deploy may
    /// create it at the same moment, and an older Docker may then hold two of the same name:
    /// the oldest is kept and the others removed, so that the name is never ambiguous.
    async fn ensure_network(&self) -> Result<String, CloudError> {
        let mut ids = self.networks().await?;
        if ids.is_empty() {
            let created = docker(
                "docker network create",
                &[
                    "network",
                    "create",
                    "--label",
                    &format!("{LABEL_PROJECT}={}", self.project),
                    &self.network,
                ],
            )
            .await;
            match created {
                Ok(_) => {}
                Err(CloudError::Docker { message, .. }) if message.contains("already exists") => {}
                Err(e) => return Err(e),
            }
            ids = self.networks().await?;
        }
        let Some((keep, extra)) = ids.split_first() else {
            return Err(CloudError::Docker {
                operation: "docker network create".into(),
                message: format!("network {} was created but is not listed", self.network),
            });
        };
        for id in extra {
            // One still in use by another run's containers stays; only empty copies go.
            let _ = docker("docker network rm", &["network", "rm", id]).await;
        }
        Ok(keep.clone())
    }
}

#[async_trait::async_trait]
impl Cloud for Docker {
    fn kind(&self) -> &'static str {
        "docker"
    }

    async fn list_instances(&self, role: Option<&str>) -> Result<Vec<Instance>, CloudError> {
        let project = format!("label={LABEL_PROJECT}={}", self.project);
        let mut args = vec!["ps", "-a", "-q", "--no-trunc", "--filter", &project];
        let role_filter;
        if let Some(r) = role {
            role_filter = format!("label={LABEL_ROLE}={r}");
            args.extend(["--filter", &role_filter]);
        }
        let out = docker("docker ps", &args).await?;
        let ids: Vec<String> = out.split_whitespace().map(String::from).collect();
        let mut list = self.inspect(&ids).await?;
        list.sort_by(|a, b| a.launched.cmp(&b.launched).then(a.name.cmp(&b.name)));
        Ok(list)
    }

    async fn describe_instances(&self, ids: &[String]) -> Result<Vec<Instance>, CloudError> {
        self.inspect(ids).await
    }

    async fn launch(&self, spec: &LaunchSpec) -> Result<Vec<Instance>, CloudError> {
        let image = host_image().await?;
        let network = self.ensure_network().await?;
        let mut ids = Vec::new();
        for n in 0..spec.count {
            let name = format!("{}-{}-{}", spec.project, spec.role, spec.first_index + n);
            let key = format!("AUTHORIZED_KEY={}", self.authorized_key);
            let labels = [
                format!("{LABEL_PROJECT}={}", spec.project),
                format!("{LABEL_ROLE}={}", spec.role),
            ];
            // systemd as PID 1 without --privileged: its own /run, and the host's cgroup tree.
            let id = docker(
                "docker run",
                &[
                    "run",
                    "-d",
                    "--name",
                    &name,
                    "--hostname",
                    &name,
                    "--network",
                    &network,
                    "--label",
                    &labels[0],
                    "--label",
                    &labels[1],
                    "-e",
                    &key,
                    "-e",
                    "BOOT=systemd",
                    "--tmpfs",
                    "/run",
                    "--tmpfs",
                    "/run/lock",
                    "-v",
                    "/sys/fs/cgroup:/sys/fs/cgroup:rw",
                    "--cgroupns=host",
                    &image,
                ],
            )
            .await?;
            ids.push(id.trim().to_string());
        }
        self.inspect(&ids).await
    }

    async fn terminate(&self, ids: &[String]) -> Result<(), CloudError> {
        self.inspect(ids).await?;
        let mut args = vec!["rm", "-f"];
        args.extend(ids.iter().map(String::as_str));
        docker("docker rm", &args).await.map(|_| ())
    }

    async fn reboot(&self, ids: &[String]) -> Result<(), CloudError> {
        let mut args = vec!["restart"];
        args.extend(ids.iter().map(String::as_str));
        docker("docker restart", &args).await.map(|_| ())
    }

    async fn stop(&self, ids: &[String]) -> Result<(), CloudError> {
        let mut args = vec!["stop"];
        args.extend(ids.iter().map(String::as_str));
        docker("docker stop", &args).await.map(|_| ())
    }

    async fn start(&self, ids: &[String]) -> Result<(), CloudError> {
        let mut args = vec!["start"];
        args.extend(ids.iter().map(String::as_str));
        docker("docker start", &args).await.map(|_| ())
    }

    async fn wait_instances(
        &self,
        ids: &[String],
        wanted: &str,
        options: &WaitOptions,
    ) -> Result<(), CloudError> {
        wait::until_instances(
            ids,
            wanted,
            options,
            || self.inspect(ids),
            |e| matches!(e, CloudError::NotFound(_)),
        )
        .await
    }

    /// Read from the container itself: Docker's API is the trusted channel here.
    async fn host_keys(&self, instance: &Instance) -> Result<Vec<String>, CloudError> {
        let out = docker(
            "docker exec",
            &[
                "exec",
                &instance.id,
                "sh",
                "-c",
                // Only once sshd listens: until then the keys may still be being generated.
                "if ss -ltn 2>/dev/null | grep -q ':22 '; then cat /etc/ssh/ssh_host_*_key.pub; fi",
            ],
        )
        .await?;
        Ok(out
            .lines()
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                Some(format!("{} {}", words.next()?, words.next()?))
            })
            .collect())
    }

    fn ssh_address(&self, instance: &Instance) -> (String, u16) {
        (instance.private_ip.clone(), 22)
    }

    /// The keys are read once sshd listens, so an empty answer means "not yet".
    fn host_keys_patience(&self) -> std::time::Duration {
        std::time::Duration::MAX
    }

    async fn ensure_role_volume(
        &self,
        _instance: &Instance,
        _spec: &VolumeSpec,
        _options: &WaitOptions,
    ) -> Result<RoleVolume, CloudError> {
        Err(CloudError::Unsupported(
            "volumes are not supported on the docker cloud: the role's data stays in the container"
                .into(),
        ))
    }
}
