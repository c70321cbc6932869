//! Volumes and snapshots through Cinder, attachments through Nova: the `Storage` operations.

use super::api::{Call, chain, transport_error};
use super::{CINDER_SNAPSHOT_IN_USE, NOVA, OpenStack, is_not_found, metadata, text, utc};
use crate::cloud::wait::{self, WaitOptions};
use crate::cloud::{CloudError, Snapshot, Storage, TAG_PROJECT, TAG_ROLE, Volume};
use openstack_sdk::api::AsyncClient;
use openstack_sdk::types::ServiceType;
use serde_json::{Value, json};

impl OpenStack {
    fn to_volume(&self, v: &Value) -> Volume {
        let attachment = v
            .get("attachments")
            .and_then(Value::as_array)
            .and_then(|a| a.first());
        Volume {
            id: text(v, "id"),
            name: text(v, "name"),
            role: metadata(v, TAG_ROLE),
            size_gib: v.get("size").and_then(Value::as_i64).unwrap_or(0) as i32,
            state: text(v, "status"),
            zone: text(v, "availability_zone"),
            attached_to: attachment.map(|a| text(a, "server_id")).unwrap_or_default(),
            device: attachment.map(|a| text(a, "device")).unwrap_or_default(),
            created: utc(&text(v, "created_at")),
        }
    }

    fn to_snapshot(s: &Value) -> Snapshot {
        Snapshot {
            id: text(s, "id"),
            volume_id: text(s, "volume_id"),
            state: text(s, "status"),
            progress: text(s, "os-extended-snapshot-attributes:progress"),
            size_gib: s.get("size").and_then(Value::as_i64).unwrap_or(0) as i32,
            description: text(s, "description"),
            started: utc(&text(s, "created_at")),
        }
    }

    pub(super) async fn create_volume_named(
        &self,
        size_gib: u32,
        zone: &str,
        role: &str,
        name: &str,
        volume_type: Option<&str>,
    ) -> Result<Volume, CloudError> {
        let mut volume = json!({
            "size": size_gib,
            "name": name,
            "metadata": {TAG_PROJECT: self.project, TAG_ROLE: role},
        });
        if !zone.is_empty() {
            volume["availability_zone"] = json!(zone);
        }
        if let Some(t) = volume_type {
            volume["volume_type"] = json!(t);
        }
        let call = Call::post(
            ServiceType::BlockStorage,
            "volumes",
            json!({"volume": volume}),
        );
        let answer = self
            .send(&format!("creating volume {name} ({size_gib} GiB)"), call)
            .await?;
        Ok(self.to_volume(answer.get("volume").unwrap_or(&Value::Null)))
    }

    /// The highest Cinder microversion the cloud offers.
    async fn cinder_max(&self) -> Result<(u8, u8), CloudError> {
        self.discover(&ServiceType::BlockStorage).await?;
        let endpoint =
            AsyncClient::get_service_endpoint(&self.client, &ServiceType::BlockStorage, None)
                .await
                .map_err(|e| {
                    transport_error("finding the block-storage service", &self.source, chain(&e))
                })?;
        let max = endpoint.max_version().clone().unwrap_or_default();
        let mut parts = max.split('.').map(|p| p.parse::<u8>().unwrap_or(0));
        Ok((parts.next().unwrap_or(3), parts.next().unwrap_or(0)))
    }
}

/// udev names a virtio disk by its serial, which Nova sets to the volume id cut to 20
/// characters; the device Nova reports can differ from what the guest sees.
pub(super) fn virtio_path(volume_id: &str) -> String {
    let serial: String = volume_id.chars().take(20).collect();
    format!("/dev/disk/by-id/virtio-{serial}")
}

#[async_trait::async_trait]
impl Storage for OpenStack {
    async fn list_volumes(&self) -> Result<Vec<Volume>, CloudError> {
        let answer = self
            .send(
                "listing volumes",
                Call::get(ServiceType::BlockStorage, "volumes/detail"),
            )
            .await?;
        Ok(answer
            .get("volumes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|v| self.to_volume(v))
            .collect())
    }

    async fn describe_volume(&self, id: &str) -> Result<Volume, CloudError> {
        let answer = self
            .send(
                &format!("reading volume {id}"),
                Call::get(ServiceType::BlockStorage, format!("volumes/{id}")),
            )
            .await?;
        Ok(self.to_volume(answer.get("volume").unwrap_or(&Value::Null)))
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
        self.create_volume_named(size_gib, zone, role, &name, None)
            .await
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
                Ok(v) if v.state.starts_with("error") => Err(CloudError::Api {
                    operation: format!("waiting for volume {id} to be {wanted}"),
                    code: v.state.clone(),
                    message: format!("Cinder put volume {id} in state {}", v.state),
                    hint: Some(
                        "the volume is left for you to look at; `provision volume delete` \
                         removes it"
                            .into(),
                    ),
                }),
                // Nova reserves the volume before its attach call returns: available again
                // means Nova gave up.
                Ok(v) if wanted == "in-use" && v.state == "available" => Err(CloudError::Api {
                    operation: format!("attaching volume {id}"),
                    code: "attach failed".into(),
                    message: format!("Nova gave up attaching volume {id}: it is available again"),
                    hint: Some(
                        "the server's instance actions in the dashboard say why; run again \
                         to retry"
                            .into(),
                    ),
                }),
                Ok(v) => Ok(Some(v.state)),
                Err(e) if wanted == "deleted" && is_not_found(&e) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// Nova picks the device itself on KVM: the one asked for is not sent.
    async fn attach_volume(
        &self,
        volume: &str,
        instance: &str,
        _device: &str,
    ) -> Result<(), CloudError> {
        let call = Call::post(
            ServiceType::Compute,
            format!("servers/{instance}/os-volume_attachments"),
            json!({"volumeAttachment": {"volumeId": volume}}),
        )
        .microversion(NOVA.0, NOVA.1);
        self.send(
            &format!("attaching volume {volume} to server {instance}"),
            call,
        )
        .await?;
        Ok(())
    }

    async fn detach_volume(&self, volume: &Volume, force: bool) -> Result<(), CloudError> {
        if volume.attached_to.is_empty() {
            return Err(CloudError::Refused(format!(
                "volume {} is not attached to any server",
                volume.id
            )));
        }
        if force {
            return Err(CloudError::Refused(
                "--force is an EC2 option: Nova has no forced detach for project members; \
                 run without it"
                    .into(),
            ));
        }
        let call = Call::delete(
            ServiceType::Compute,
            format!(
                "servers/{}/os-volume_attachments/{}",
                volume.attached_to, volume.id
            ),
        )
        .microversion(NOVA.0, NOVA.1);
        self.send(
            &format!(
                "detaching volume {} from server {}",
                volume.id, volume.attached_to
            ),
            call,
        )
        .await?;
        Ok(())
    }

    async fn delete_volume(&self, id: &str) -> Result<(), CloudError> {
        self.send(
            &format!("deleting volume {id}"),
            Call::delete(ServiceType::BlockStorage, format!("volumes/{id}")),
        )
        .await?;
        Ok(())
    }

    /// Works for a volume in use: from Cinder 3.66 without `force`, below it with `force`.
    async fn create_snapshot(
        &self,
        volume: &str,
        description: &str,
    ) -> Result<Snapshot, CloudError> {
        let source = self.describe_volume(volume).await?;
        let mut snapshot = json!({
            "volume_id": volume,
            "name": format!(
                "{}-snapshot",
                if source.name.is_empty() { volume } else { source.name.as_str() }
            ),
            "description": description,
            "metadata": {TAG_PROJECT: self.project},
        });
        let mut call_version = (3, 0);
        if self.cinder_max().await? >= CINDER_SNAPSHOT_IN_USE {
            call_version = CINDER_SNAPSHOT_IN_USE;
        } else if source.state == "in-use" {
            snapshot["force"] = json!(true);
        }
        let call = Call::post(
            ServiceType::BlockStorage,
            "snapshots",
            json!({"snapshot": snapshot}),
        )
        .microversion(call_version.0, call_version.1);
        let answer = self
            .send(&format!("creating a snapshot of volume {volume}"), call)
            .await?;
        Ok(OpenStack::to_snapshot(
            answer.get("snapshot").unwrap_or(&Value::Null),
        ))
    }

    async fn list_snapshots(&self) -> Result<Vec<Snapshot>, CloudError> {
        let answer = self
            .send(
                "listing snapshots",
                Call::get(ServiceType::BlockStorage, "snapshots/detail"),
            )
            .await?;
        Ok(answer
            .get("snapshots")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(OpenStack::to_snapshot)
            .collect())
    }

    async fn delete_snapshot(&self, id: &str) -> Result<(), CloudError> {
        self.send(
            &format!("deleting snapshot {id}"),
            Call::delete(ServiceType::BlockStorage, format!("snapshots/{id}")),
        )
        .await?;
        Ok(())
    }

    async fn wait_snapshot(
        &self,
        id: &str,
        wanted: &str,
        options: &WaitOptions,
    ) -> Result<(), CloudError> {
        wait::until(id, wanted, options, || async {
            let call = Call::get(ServiceType::BlockStorage, format!("snapshots/{id}"));
            match self.send(&format!("reading snapshot {id}"), call).await {
                Ok(answer) => {
                    let state = answer
                        .get("snapshot")
                        .map(|s| text(s, "status"))
                        .unwrap_or_default();
                    if state.starts_with("error") {
                        return Err(CloudError::Api {
                            operation: format!("waiting for snapshot {id} to be {wanted}"),
                            code: state.clone(),
                            message: format!("Cinder put snapshot {id} in state {state}"),
                            hint: None,
                        });
                    }
                    Ok((state != wanted).then_some(state))
                }
                Err(e) if wanted == "deleted" && is_not_found(&e) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await
    }

    fn guest_device(&self, volume: &Volume) -> String {
        virtio_path(&volume.id)
    }
}
