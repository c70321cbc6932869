//! Cloud resources as provision sees them, and the clouds: EC2, OpenStack, local Docker. Every
//! instance and volume provision creates carries the tags (EC2) or metadata (OpenStack) below, so
//! lists can filter by role and later runs find them.

pub mod docker;
pub mod ec2;
pub mod openstack;
pub mod wait;

use serde::Serialize;
use wait::WaitOptions;

pub const TAG_NAME: &str = "Name";
pub const TAG_ROLE: &str = "provision:role";
pub const TAG_PROJECT: &str = "provision:project";

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Instance {
    pub id: String,
    pub name: String,
    pub role: String,
    pub project: String,
    pub state: String,
    pub instance_type: String,
    pub private_ip: String,
    pub public_ip: String,
    pub zone: String,
    pub launched: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Volume {
    pub id: String,
    pub name: String,
    pub role: String,
    pub size_gib: i32,
    pub state: String,
    pub zone: String,
    /// Instance the volume is attached to, with the device.
    pub attached_to: String,
    pub device: String,
    pub created: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Snapshot {
    pub id: String,
    pub volume_id: String,
    pub state: String,
    pub progress: String,
    pub size_gib: i32,
    pub description: String,
    pub started: String,
}

/// What to launch: `count` instances of a role.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    pub project: String,
    pub role: String,
    pub count: u32,
    pub image_id: String,
    pub instance_type: String,
    pub key_name: String,
    pub security_groups: Vec<String>,
    pub zone: String,
    /// Names are `<project>-<role>-<n>`, numbered from here.
    pub first_index: u32,
    /// OpenStack: the network to attach (name or id); empty: the one the project has.
    pub network: String,
}

/// The role's volume, as configure.json asks for it.
#[derive(Debug, Clone)]
pub struct VolumeSpec {
    pub size_gib: u32,
    /// The device asked for; clouds that decide it themselves (OpenStack on KVM) ignore it.
    pub device: String,
    /// OpenStack: the Cinder volume type; the cloud's default when absent.
    pub volume_type: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    #[error("{operation}: {code}: {message}")]
    Api {
        operation: String,
        code: String,
        message: String,
        hint: Option<String>,
    },
    #[error("{operation}: cannot reach {endpoint}: {reason}")]
    Unreachable {
        operation: String,
        endpoint: String,
        reason: String,
    },
    #[error("{what} did not become {wanted} within {seconds}s (last state: {last})")]
    Timeout {
        what: String,
        wanted: String,
        seconds: u64,
        last: String,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Refused(String),
    /// The cloud cannot do this at all (volumes on the Docker cloud).
    #[error("{0}")]
    Unsupported(String),
    #[error("{operation}: {message}")]
    Docker { operation: String, message: String },
    /// Finding or reading the OpenStack credentials (clouds.yaml, OS_* variables).
    #[error("{message}")]
    Credentials { message: String, hint: String },
}

impl CloudError {
    pub fn hint(&self) -> Option<String> {
        match self {
            CloudError::Api { hint, .. } => hint.clone(),
            CloudError::Unreachable { endpoint, .. } => Some(if endpoint.starts_with("the EC2") {
                "check cloud.endpoint in configure.json and your network".into()
            } else {
                "check auth_url in clouds.yaml (or OS_AUTH_URL) and your network".into()
            }),
            CloudError::Timeout { .. } => Some(
                "the cloud is slow (OpenStack terminations can take minutes): check later with \
                 `provision instance list`, or raise --wait-timeout"
                    .into(),
            ),
            CloudError::Credentials { hint, .. } => Some(hint.clone()),
            CloudError::Docker { .. } => {
                Some("is Docker running, and may this user use it? (`docker info` shows it)".into())
            }
            _ => None,
        }
    }
}

/// The hint for an EC2 error code: what to check, in the words of configure.json and the CLI.
pub fn hint_for(code: &str) -> Option<String> {
    let hint = match code {
        "AuthFailure"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "UnrecognizedClientException"
        | "InvalidAccessKeyId"
        | "MissingAuthenticationToken" => {
            "check your credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE) and cloud.endpoint in configure.json"
        }
        "InvalidAMIID.NotFound" | "InvalidAMIID.Malformed" | "InvalidAMIID.Unavailable" => {
            "check instances.image_id in configure.json: no such image in this region"
        }
        "InvalidInstanceID.NotFound" | "InvalidInstanceID.Malformed" => {
            "check the instance id: `provision instance list` shows them"
        }
        "InvalidVolume.NotFound" | "InvalidVolumeID.Malformed" => {
            "check the volume id: `provision volume list` shows them"
        }
        "InvalidSnapshot.NotFound" | "InvalidSnapshotID.Malformed" => {
            "check the snapshot id: `provision snapshot list` shows them"
        }
        "InvalidKeyPair.NotFound" => {
            "check instances.key_name in configure.json: no key pair of that name"
        }
        "InvalidGroup.NotFound" | "InvalidSecurityGroupID.NotFound" => {
            "check instances.security_groups in configure.json"
        }
        "IncorrectState"
        | "IncorrectInstanceState"
        | "VolumeInUse"
        | "InvalidVolume.ZoneMismatch" => {
            "the resource is not in a state that allows this: see `provision instance list` / `volume list`"
        }
        "InsufficientInstanceCapacity" => {
            "the cloud has no capacity for this instance type in this zone now: try another zone or type"
        }
        "InstanceLimitExceeded" => {
            "quota: the project's instance limit is reached (terminate instances or ask for more quota)"
        }
        "VolumeLimitExceeded" | "MaxIOPSLimitExceeded" => {
            "quota: the project's volume storage limit is reached (delete volumes or ask for more quota)"
        }
        "SnapshotLimitExceeded" => {
            "quota: the project's snapshot limit is reached (delete snapshots or ask for more quota)"
        }
        "VcpuLimitExceeded" => "quota: the project's vCPU (core) limit is reached",
        "RequestLimitExceeded" | "Throttling" => {
            "the API is rate-limiting requests: wait a little and run again"
        }
        c if c.ends_with("LimitExceeded") || c.contains("Quota") => {
            return Some(format!("quota: `{c}` — a limit of the project is reached"));
        }
        _ => return None,
    };
    Some(hint.to_string())
}

/// The number after the last `<project>-<role>-<n>` name: new instances are numbered from there.
pub fn next_index(existing: &[Instance], project: &str, role: &str) -> u32 {
    let prefix = format!("{project}-{role}-");
    existing
        .iter()
        .filter_map(|i| i.name.strip_prefix(&prefix)?.parse::<u32>().ok())
        .max()
        .unwrap_or(0)
        + 1
}

/// A volume of a role's instance, as deploy leaves it.
#[derive(Debug)]
pub enum RoleVolume {
    /// Already attached (an earlier run made it).
    Attached(Volume),
    Created(Volume),
}

/// The operations the commands need, on EC2 or on local Docker containers.
#[async_trait::async_trait]
pub trait Cloud: Send + Sync {
    /// `ec2`, `openstack` or `docker`, for messages.
    fn kind(&self) -> &'static str;
    async fn list_instances(&self, role: Option<&str>) -> Result<Vec<Instance>, CloudError>;
    async fn describe_instances(&self, ids: &[String]) -> Result<Vec<Instance>, CloudError>;
    async fn launch(&self, spec: &LaunchSpec) -> Result<Vec<Instance>, CloudError>;
    async fn terminate(&self, ids: &[String]) -> Result<(), CloudError>;
    async fn reboot(&self, ids: &[String]) -> Result<(), CloudError>;
    async fn stop(&self, ids: &[String]) -> Result<(), CloudError>;
    async fn start(&self, ids: &[String]) -> Result<(), CloudError>;
    /// Waits until every instance is in `wanted`; an instance that is gone counts as terminated.
    async fn wait_instances(
        &self,
        ids: &[String],
        wanted: &str,
        options: &WaitOptions,
    ) -> Result<(), CloudError>;
    /// The instance's SSH host keys (`type base64` lines) as the cloud itself reports them,
    /// through its API: empty when it does not (yet).
    async fn host_keys(&self, instance: &Instance) -> Result<Vec<String>, CloudError>;
    /// How long after an instance runs to wait for the cloud to report its host keys before a
    /// first connection takes the key on first sight. Docker reports them whenever SSH answers
    /// (wait as long as it takes); cloud-init prints them on the console a while after boot.
    fn host_keys_patience(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
    /// Where provision reaches the instance over SSH: its public address, else its private one.
    fn ssh_address(&self, instance: &Instance) -> (String, u16) {
        let address = if instance.public_ip.is_empty() {
            &instance.private_ip
        } else {
            &instance.public_ip
        };
        (address.clone(), 22)
    }
    /// Makes sure the instance has a volume of the role attached.
    async fn ensure_role_volume(
        &self,
        instance: &Instance,
        spec: &VolumeSpec,
        options: &WaitOptions,
    ) -> Result<RoleVolume, CloudError>;
    /// The path under which the guest sees an attached volume, for the role. Where the cloud
    /// cannot promise the device name (KVM ignores the one asked for), a path made from the
    /// volume id.
    fn guest_device(&self, volume: &Volume) -> String {
        volume.device.clone()
    }
}

/// Volumes and snapshots (EC2 and OpenStack; the Docker cloud has none).
#[async_trait::async_trait]
pub trait Storage: Send + Sync {
    async fn list_volumes(&self) -> Result<Vec<Volume>, CloudError>;
    async fn describe_volume(&self, id: &str) -> Result<Volume, CloudError>;
    /// A volume named after the project (and role, when given).
    async fn create_volume(
        &self,
        size_gib: u32,
        zone: &str,
        role: &str,
    ) -> Result<Volume, CloudError>;
    /// Waits until the volume is `wanted` (`available`, `in-use`, or `deleted`: gone).
    async fn wait_volume(
        &self,
        id: &str,
        wanted: &str,
        options: &WaitOptions,
    ) -> Result<(), CloudError>;
    async fn attach_volume(
        &self,
        volume: &str,
        instance: &str,
        device: &str,
    ) -> Result<(), CloudError>;
    async fn detach_volume(&self, volume: &Volume, force: bool) -> Result<(), CloudError>;
    async fn delete_volume(&self, id: &str) -> Result<(), CloudError>;
    async fn create_snapshot(
        &self,
        volume: &str,
        description: &str,
    ) -> Result<Snapshot, CloudError>;
    async fn list_snapshots(&self) -> Result<Vec<Snapshot>, CloudError>;
    async fn delete_snapshot(&self, id: &str) -> Result<(), CloudError>;
    /// Waits until the snapshot is `wanted` (`deleted`: gone).
    async fn wait_snapshot(
        &self,
        id: &str,
        wanted: &str,
        options: &WaitOptions,
    ) -> Result<(), CloudError>;
    /// The path under which the guest sees the volume (see [`Cloud::guest_device`]).
    fn guest_device(&self, volume: &Volume) -> String {
        volume.device.clone()
    }
}

/// The SSH host keys cloud-init prints on the console between its markers.
pub fn host_keys_from_console(output: &str) -> Vec<String> {
    let Some(start) = output.find("-----BEGIN SSH HOST KEY KEYS-----") else {
        return Vec::new();
    };
    let rest = &output[start..];
    let end = rest
        .find("-----END SSH HOST KEY KEYS-----")
        .unwrap_or(rest.len());
    rest[..end]
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let (kind, blob) = (words.next()?, words.next()?);
            (kind.starts_with("ssh-") || kind.starts_with("ecdsa-"))
                .then(|| format!("{kind} {blob}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_keys_are_read_between_cloud_inits_markers() {
        let console = "[   5.1] cloud-init[812]: ci-info: ok\n\
            -----BEGIN SSH HOST KEY KEYS-----\n\
            ecdsa-sha2-nistp256 AAAAE2VjZHNh root@db1\n\
            ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 root@db1\n\
            -----END SSH HOST KEY KEYS-----\n\
            ssh-rsa AAAAnot-in-the-block\n";
        assert_eq!(
            host_keys_from_console(console),
            vec![
                "ecdsa-sha2-nistp256 AAAAE2VjZHNh".to_string(),
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5".to_string()
            ]
        );
        assert!(host_keys_from_console("Linux version 6.1").is_empty());
    }

    #[test]
    fn hints_name_what_to_check() {
        assert!(hint_for("AuthFailure").unwrap().contains("credentials"));
        assert!(
            hint_for("InvalidAMIID.NotFound")
                .unwrap()
                .contains("instances.image_id")
        );
        assert!(
            hint_for("InstanceLimitExceeded")
                .unwrap()
                .contains("instance limit")
        );
        assert!(
            hint_for("FooLimitExceeded")
                .unwrap()
                .contains("FooLimitExceeded")
        );
        assert_eq!(hint_for("SomethingElse"), None);
    }
}
