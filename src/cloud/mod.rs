//! Cloud resources as provision sees them, and the EC2 implementation. Every instance and volume
//! provision creates carries the tags below, so lists can filter by role and later runs find them.

pub mod ec2;
pub mod wait;

use serde::Serialize;

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
    #[error("{operation}: cannot reach the EC2 endpoint {endpoint}: {reason}")]
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
}

impl CloudError {
    pub fn hint(&self) -> Option<String> {
        match self {
            CloudError::Api { hint, .. } => hint.clone(),
            CloudError::Unreachable { .. } => {
                Some("check cloud.endpoint in configure.json and your network".into())
            }
            CloudError::Timeout { .. } => Some(
                "the cloud is slow (OpenStack terminations can take minutes): check later with \
                 `provision instance list`, or raise --wait-timeout"
                    .into(),
            ),
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

/// The operations the commands need; EC2 now, local Docker containers later.
#[async_trait::async_trait]
pub trait Cloud: Send + Sync {
    async fn list_instances(&self, role: Option<&str>) -> Result<Vec<Instance>, CloudError>;
    async fn describe_instances(&self, ids: &[String]) -> Result<Vec<Instance>, CloudError>;
    async fn launch(&self, spec: &LaunchSpec) -> Result<Vec<Instance>, CloudError>;
    async fn terminate(&self, ids: &[String]) -> Result<(), CloudError>;
}

#[cfg(test)]
mod tests {
    use super::*;

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
