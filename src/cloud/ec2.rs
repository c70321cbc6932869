//! The EC2 API through aws-sdk-ec2, against any EC2-compatible endpoint (Nectar's, AWS, moto).

use super::wait::{self, WaitOptions};
use super::{
    Cloud, CloudError, Instance, LaunchSpec, RoleVolume, Snapshot, Storage, TAG_NAME, TAG_PROJECT,
    TAG_ROLE, Volume, VolumeSpec, hint_for,
};
use crate::config::Config;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{
    Filter, InstanceType, Placement, ResourceType, Tag, TagSpecification, VolumeType,
};
use aws_smithy_types::date_time::Format;
use base64::Engine;

pub struct Ec2 {
    client: Client,
    endpoint: String,
    project: String,
}

/// Turns an SDK error into one with the EC2 code, its message and a hint; never a debug dump.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

fn api_error<E, R>(operation: &str, endpoint: &str, err: SdkError<E, R>) -> CloudError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match &err {
        SdkError::DispatchFailure(_) if is_credentials_failure(&err) => CloudError::Api {
            operation: operation.to_string(),
            code: "NoCredentials".to_string(),
            message: format!("no credentials could be loaded ({})", root_cause(&err)),
            hint: hint_for("AuthFailure"),
        },
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => CloudError::Unreachable {
            operation: operation.to_string(),
            endpoint: if endpoint.is_empty() {
                "the EC2 endpoint (AWS default)".into()
            } else {
                format!("the EC2 endpoint {endpoint}")
            },
            reason: root_cause(&err),
        },
        _ => match err.code() {
            Some(code) => CloudError::Api {
                operation: operation.to_string(),
                code: code.to_string(),
                message: err.message().unwrap_or("no message").to_string(),
                hint: hint_for(code),
            },
            None => CloudError::Api {
                operation: operation.to_string(),
                code: "Error".to_string(),
                message: root_cause(&err),
                hint: None,
            },
        },
    }
}

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let full = DisplayErrorContext(err).to_string();
    // The SDK appends a debug dump in parentheses (` (DispatchFailure(… { …`): the readable
    // chain is before it.
    let readable = full
        .match_indices(" (")
        .map(|(i, _)| i)
        .find(|&i| {
            let rest = &full[i + 2..];
            let word: String = rest.chars().take_while(|c| c.is_alphanumeric()).collect();
            rest[word.len()..].starts_with('(') || rest[word.len()..].starts_with(" {")
        })
        .map_or(full.as_str(), |i| &full[..i]);
    // The chain ends with the most specific cause; keep the kind of failure before it.
    let parts: Vec<&str> = readable.split(": ").collect();
    parts[parts.len().saturating_sub(2)..].join(": ")
}

/// The SDK reports missing credentials as a dispatch failure; say what it is.
fn is_credentials_failure(err: &(dyn std::error::Error + 'static)) -> bool {
    DisplayErrorContext(err)
        .to_string()
        .to_lowercase()
        .contains("credential")
}

fn tag_value(tags: &[Tag], key: &str) -> String {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
        .unwrap_or_default()
        .to_string()
}

fn time(t: Option<&aws_smithy_types::DateTime>) -> String {
    t.and_then(|t| t.fmt(Format::DateTime).ok())
        .unwrap_or_default()
}

fn tags(pairs: &[(&str, &str)], resource: ResourceType) -> TagSpecification {
    let mut spec = TagSpecification::builder().resource_type(resource);
    for (k, v) in pairs {
        spec = spec.tags(Tag::builder().key(*k).value(*v).build());
    }
    spec.build()
}

fn to_instance(i: &aws_sdk_ec2::types::Instance) -> Instance {
    Instance {
        id: i.instance_id().unwrap_or_default().to_string(),
        name: tag_value(i.tags(), TAG_NAME),
        role: tag_value(i.tags(), TAG_ROLE),
        project: tag_value(i.tags(), TAG_PROJECT),
        state: i
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string())
            .unwrap_or_default(),
        instance_type: i
            .instance_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        private_ip: i.private_ip_address().unwrap_or_default().to_string(),
        public_ip: i.public_ip_address().unwrap_or_default().to_string(),
        zone: i
            .placement()
            .and_then(|p| p.availability_zone())
            .unwrap_or_default()
            .to_string(),
        launched: time(i.launch_time()),
    }
}

fn to_volume(v: &aws_sdk_ec2::types::Volume) -> Volume {
    let attachment = v.attachments().first();
    Volume {
        id: v.volume_id().unwrap_or_default().to_string(),
        name: tag_value(v.tags(), TAG_NAME),
        role: tag_value(v.tags(), TAG_ROLE),
        size_gib: v.size().unwrap_or_default(),
        state: v
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        zone: v.availability_zone().unwrap_or_default().to_string(),
        attached_to: attachment
            .and_then(|a| a.instance_id())
            .unwrap_or_default()
            .to_string(),
        device: attachment
            .and_then(|a| a.device())
            .unwrap_or_default()
            .to_string(),
        created: time(v.create_time()),
    }
}

fn is_not_found(e: &CloudError) -> bool {
    matches!(e, CloudError::Api { code, .. } if code.ends_with(".NotFound"))
}

impl Ec2 {
    /// A client for configure.json's cloud. Credentials come from the standard AWS chain
    /// (environment, profile); credentials in configure.json are used when present.
    pub async fn connect(config: &Config) -> Ec2 {
        // An endpoint that accepts the connection and never answers is an error naming it,
        // not a hang: each attempt and each whole call (with its retries) has a limit.
        let per_attempt = std::time::Duration::from_secs(config.cloud.timeout);
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(per_attempt.min(CONNECT_TIMEOUT))
            .read_timeout(per_attempt)
            .operation_attempt_timeout(per_attempt)
            .operation_timeout(per_attempt * 3)
            .build();
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(config.cloud.region.clone()))
            .timeout_config(timeouts);
        if !config.cloud.endpoint.is_empty() {
            loader = loader.endpoint_url(config.cloud.endpoint.clone());
        }
        if let Some(c) = &config.credentials {
            loader = loader.credentials_provider(aws_sdk_ec2::config::Credentials::new(
                c.access_key_id.clone(),
                c.secret_access_key.clone(),
                None,
                None,
                "configure.json",
            ));
        }
        let sdk = loader.load().await;
        Ec2 {
            client: Client::new(&sdk),
            endpoint: config.cloud.endpoint.clone(),
            project: config.project.clone(),
        }
    }

    fn err<E, R>(&self, operation: &str, e: SdkError<E, R>) -> CloudError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        api_error(operation, &self.endpoint, e)
    }

    async fn instances_with(
        &self,
        filters: Vec<Filter>,
        ids: &[String],
    ) -> Result<Vec<Instance>, CloudError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let resp = self
                .client
                .describe_instances()
                .set_filters((!filters.is_empty()).then(|| filters.clone()))
                .set_instance_ids((!ids.is_empty()).then(|| ids.to_vec()))
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| self.err("DescribeInstances", e))?;
            for r in resp.reservations() {
                out.extend(r.instances().iter().map(to_instance));
            }
            token = resp.next_token().map(String::from);
            if token.is_none() {
                break;
            }
        }
        Ok(out)
    }

    async fn create_volume_named(
        &self,
        size_gib: u32,
        zone: &str,
        role: &str,
        name: &str,
    ) -> Result<Volume, CloudError> {
        let resp = self
            .client
            .create_volume()
            .size(size_gib as i32)
            .availability_zone(zone)
            .volume_type(VolumeType::Standard)
            .tag_specifications(tags(
                &[
                    (TAG_NAME, name),
                    (TAG_ROLE, role),
                    (TAG_PROJECT, &self.project),
                ],
                ResourceType::Volume,
            ))
            .send()
            .await
            .map_err(|e| self.err("CreateVolume", e))?;
        let id = resp.volume_id().unwrap_or_default().to_string();
        self.describe_volume(&id).await
    }
}

#[async_trait::async_trait]
impl Storage for Ec2 {
    async fn list_volumes(&self) -> Result<Vec<Volume>, CloudError> {
        let resp = self
            .client
            .describe_volumes()
            .send()
            .await
            .map_err(|e| self.err("DescribeVolumes", e))?;
        Ok(resp.volumes().iter().map(to_volume).collect())
    }

    async fn describe_volume(&self, id: &str) -> Result<Volume, CloudError> {
        let resp = self
            .client
            .describe_volumes()
            .volume_ids(id)
            .send()
            .await
            .map_err(|e| self.err("DescribeVolumes", e))?;
        resp.volumes()
            .first()
            .map(to_volume)
            .ok_or_else(|| CloudError::NotFound(format!("volume {id} not found")))
    }

    async fn create_volume(
        &self,
        size_gib: u32,
        zone: &str,
        role: &str,
    ) -> Result<Volume, CloudError> {
        let name = if role.is_empty() {
            format!("{}-volume", self.project)
        } else {
            format!("{}-{role}-volume", self.project)
        };
        self.create_volume_named(size_gib, zone, role, &name).await
    }

    async fn wait_volume(
        &self,
        id: &str,
        wanted: &str,
        options: &WaitOptions,
    ) -> Result<(), CloudError> {
        wait::until(id, wanted, options, || async {
            match self.describe_volume(id).await {
                Ok(v) if v.state == wanted => Ok(None),
                Ok(v) => Ok(Some(v.state)),
                Err(e)
                    if wanted == "deleted"
                        && (is_not_found(&e) || matches!(e, CloudError::NotFound(_))) =>
                {
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        })
        .await
    }

    async fn attach_volume(
        &self,
        volume: &str,
        instance: &str,
        device: &str,
    ) -> Result<(), CloudError> {
        self.client
            .attach_volume()
            .volume_id(volume)
            .instance_id(instance)
            .device(device)
            .send()
            .await
            .map_err(|e| self.err("AttachVolume", e))?;
        Ok(())
    }

    /// Detaches from the instance it is attached to (some EC2 servers require the instance id).
    async fn detach_volume(&self, volume: &Volume, force: bool) -> Result<(), CloudError> {
        if volume.attached_to.is_empty() {
            return Err(CloudError::Refused(format!(
                "volume {} is not attached to any instance",
                volume.id
            )));
        }
        self.client
            .detach_volume()
            .volume_id(&volume.id)
            .instance_id(&volume.attached_to)
            .force(force)
            .send()
            .await
            .map_err(|e| self.err("DetachVolume", e))?;
        Ok(())
    }

    async fn delete_volume(&self, id: &str) -> Result<(), CloudError> {
        self.client
            .delete_volume()
            .volume_id(id)
            .send()
            .await
            .map_err(|e| self.err("DeleteVolume", e))?;
        Ok(())
    }

    async fn create_snapshot(
        &self,
        volume: &str,
        description: &str,
    ) -> Result<Snapshot, CloudError> {
        let resp = self
            .client
            .create_snapshot()
            .volume_id(volume)
            .description(description)
            .tag_specifications(tags(
                &[(TAG_PROJECT, &self.project)],
                ResourceType::Snapshot,
            ))
            .send()
            .await
            .map_err(|e| self.err("CreateSnapshot", e))?;
        Ok(Snapshot {
            id: resp.snapshot_id().unwrap_or_default().to_string(),
            volume_id: resp.volume_id().unwrap_or_default().to_string(),
            state: resp
                .state()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            progress: resp.progress().unwrap_or_default().to_string(),
            size_gib: resp.volume_size().unwrap_or_default(),
            description: resp.description().unwrap_or_default().to_string(),
            started: time(resp.start_time()),
        })
    }

    async fn list_snapshots(&self) -> Result<Vec<Snapshot>, CloudError> {
        let resp = self
            .client
            .describe_snapshots()
            .owner_ids("self")
            .send()
            .await
            .map_err(|e| self.err("DescribeSnapshots", e))?;
        Ok(resp
            .snapshots()
            .iter()
            .map(|s| Snapshot {
                id: s.snapshot_id().unwrap_or_default().to_string(),
                volume_id: s.volume_id().unwrap_or_default().to_string(),
                state: s
                    .state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                progress: s.progress().unwrap_or_default().to_string(),
                size_gib: s.volume_size().unwrap_or_default(),
                description: s.description().unwrap_or_default().to_string(),
                started: time(s.start_time()),
            })
            .collect())
    }

    async fn delete_snapshot(&self, id: &str) -> Result<(), CloudError> {
        self.client
            .delete_snapshot()
            .snapshot_id(id)
            .send()
            .await
            .map_err(|e| self.err("DeleteSnapshot", e))?;
        Ok(())
    }

    async fn wait_snapshot(
        &self,
        id: &str,
        wanted: &str,
        options: &WaitOptions,
    ) -> Result<(), CloudError> {
        wait::until(id, wanted, options, || async {
            let found = self
                .client
                .describe_snapshots()
                .snapshot_ids(id)
                .send()
                .await
                .map_err(|e| self.err("DescribeSnapshots", e));
            let state = match found {
                Ok(resp) => resp
                    .snapshots()
                    .first()
                    .and_then(|s| s.state())
                    .map(|s| s.as_str().to_string()),
                Err(e) if is_not_found(&e) => None,
                Err(e) => return Err(e),
            };
            Ok(match state {
                None if wanted == "deleted" => None,
                None => Some("gone".to_string()),
                Some(s) if s == wanted => None,
                Some(s) => Some(s),
            })
        })
        .await
    }
}

#[async_trait::async_trait]
impl Cloud for Ec2 {
    fn kind(&self) -> &'static str {
        "ec2"
    }

    async fn reboot(&self, ids: &[String]) -> Result<(), CloudError> {
        self.client
            .reboot_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .send()
            .await
            .map_err(|e| self.err("RebootInstances", e))?;
        Ok(())
    }

    async fn stop(&self, ids: &[String]) -> Result<(), CloudError> {
        self.client
            .stop_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .send()
            .await
            .map_err(|e| self.err("StopInstances", e))?;
        Ok(())
    }

    async fn start(&self, ids: &[String]) -> Result<(), CloudError> {
        self.client
            .start_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .send()
            .await
            .map_err(|e| self.err("StartInstances", e))?;
        Ok(())
    }

    /// Waits until every instance is in `wanted`; an instance that is gone counts as terminated.
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
            || self.describe_instances(ids),
            is_not_found,
        )
        .await
    }

    async fn host_keys(&self, instance: &Instance) -> Result<Vec<String>, CloudError> {
        let resp = self
            .client
            .get_console_output()
            .instance_id(&instance.id)
            .send()
            .await
            .map_err(|e| self.err("GetConsoleOutput", e))?;
        let Some(encoded) = resp.output() else {
            return Ok(Vec::new());
        };
        let text = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_else(|_| encoded.to_string());
        Ok(super::host_keys_from_console(&text))
    }

    async fn ensure_role_volume(
        &self,
        instance: &Instance,
        spec: &VolumeSpec,
        options: &WaitOptions,
    ) -> Result<RoleVolume, CloudError> {
        let (size_gib, device) = (spec.size_gib, spec.device.as_str());
        let volumes = self.list_volumes().await?;
        if let Some(v) = volumes
            .iter()
            .find(|v| v.attached_to == instance.id && v.role == instance.role)
        {
            return Ok(RoleVolume::Attached(v.clone()));
        }
        // A volume an interrupted run made but did not attach is used, not made twice.
        let spare = volumes.into_iter().find(|v| {
            v.role == instance.role
                && v.attached_to.is_empty()
                && v.state == "available"
                && v.zone == instance.zone
                && v.name == format!("{}-volume", instance.name)
        });
        let volume = match spare {
            Some(v) => v,
            None => {
                let v = self
                    .create_volume_named(
                        size_gib,
                        &instance.zone,
                        &instance.role,
                        &format!("{}-volume", instance.name),
                    )
                    .await?;
                self.wait_volume(&v.id, "available", options).await?;
                v
            }
        };
        self.attach_volume(&volume.id, &instance.id, device).await?;
        self.wait_volume(&volume.id, "in-use", options).await?;
        Ok(RoleVolume::Created(self.describe_volume(&volume.id).await?))
    }

    async fn list_instances(&self, role: Option<&str>) -> Result<Vec<Instance>, CloudError> {
        let filters = match role {
            Some(r) => vec![
                Filter::builder()
                    .name(format!("tag:{TAG_ROLE}"))
                    .values(r)
                    .build(),
                Filter::builder()
                    .name(format!("tag:{TAG_PROJECT}"))
                    .values(&self.project)
                    .build(),
            ],
            None => Vec::new(),
        };
        self.instances_with(filters, &[]).await
    }

    async fn describe_instances(&self, ids: &[String]) -> Result<Vec<Instance>, CloudError> {
        self.instances_with(Vec::new(), ids).await
    }

    /// One RunInstances call for all of them, tagged at creation (no untagged window).
    async fn launch(&self, spec: &LaunchSpec) -> Result<Vec<Instance>, CloudError> {
        let name = format!("{}-{}", spec.project, spec.role);
        let mut request = self
            .client
            .run_instances()
            .image_id(&spec.image_id)
            .instance_type(InstanceType::from(spec.instance_type.as_str()))
            .key_name(&spec.key_name)
            .min_count(spec.count as i32)
            .max_count(spec.count as i32)
            .set_security_groups(
                (!spec.security_groups.is_empty()).then(|| spec.security_groups.clone()),
            )
            .tag_specifications(tags(
                &[
                    (TAG_NAME, &name),
                    (TAG_ROLE, &spec.role),
                    (TAG_PROJECT, &spec.project),
                ],
                ResourceType::Instance,
            ));
        if !spec.zone.is_empty() {
            request = request.placement(Placement::builder().availability_zone(&spec.zone).build());
        }
        let resp = request
            .send()
            .await
            .map_err(|e| self.err("RunInstances", e))?;
        let mut launched: Vec<Instance> = resp.instances().iter().map(to_instance).collect();
        // Number the names so people can tell them apart: <project>-<role>-<n>.
        for (offset, instance) in launched.iter_mut().enumerate() {
            let numbered = format!("{name}-{}", spec.first_index + offset as u32);
            self.client
                .create_tags()
                .resources(&instance.id)
                .tags(Tag::builder().key(TAG_NAME).value(&numbered).build())
                .send()
                .await
                .map_err(|e| self.err("CreateTags", e))?;
            instance.name = numbered;
        }
        Ok(launched)
    }

    async fn terminate(&self, ids: &[String]) -> Result<(), CloudError> {
        self.client
            .terminate_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .send()
            .await
            .map_err(|e| self.err("TerminateInstances", e))?;
        Ok(())
    }
}
