//! Servers through Nova: the `Cloud` operations.

use super::api::{self, Call};
use super::{HOST_KEYS_PATIENCE, NOVA, OpenStack, is_not_found, metadata, resolve, text, utc};
use crate::cloud::wait::{self, WaitOptions};
use crate::cloud::{
    Cloud, CloudError, Instance, LaunchSpec, RoleVolume, Storage, TAG_PROJECT, TAG_ROLE, Volume,
    VolumeSpec,
};
use openstack_sdk::types::ServiceType;
use serde_json::{Value, json};
use std::time::Duration;

/// Nova's status (and task) as the states every cloud here reports.
fn state_of(server: &Value) -> String {
    let task = text(server, "OS-EXT-STS:task_state");
    match task.as_str() {
        "deleting" => return "shutting-down".into(),
        "powering-off" => return "stopping".into(),
        "powering-on" => return "pending".into(),
        _ => {}
    }
    match text(server, "status").as_str() {
        "ACTIVE" => "running",
        "BUILD" => "pending",
        "SHUTOFF" => "stopped",
        "REBOOT" | "HARD_REBOOT" => "rebooting",
        "DELETED" | "SOFT_DELETED" => "terminated",
        "ERROR" => "error",
        "SHELVED" | "SHELVED_OFFLOADED" => "shelved",
        other => return other.to_lowercase(),
    }
    .to_string()
}

/// The server's fixed and floating IPv4 addresses, from `network` when it is named there.
fn addresses(server: &Value, network: &str) -> (String, String) {
    let Some(nets) = server.get("addresses").and_then(Value::as_object) else {
        return Default::default();
    };
    let chosen: Vec<&Value> = match nets.get(network) {
        Some(list) => vec![list],
        None => nets.values().collect(),
    };
    let mut fixed = String::new();
    let mut floating = String::new();
    for list in chosen {
        for a in list.as_array().into_iter().flatten() {
            if a.get("version").and_then(Value::as_i64) != Some(4) {
                continue;
            }
            let slot = if text(a, "OS-EXT-IPS:type") == "floating" {
                &mut floating
            } else {
                &mut fixed
            };
            if slot.is_empty() {
                *slot = text(a, "addr");
            }
        }
    }
    (fixed, floating)
}

impl OpenStack {
    fn to_instance(&self, server: &Value) -> Instance {
        let (fixed, floating) = addresses(server, &self.network);
        let flavor = server
            .get("flavor")
            .map(|f| {
                let name = text(f, "original_name");
                if name.is_empty() { text(f, "id") } else { name }
            })
            .unwrap_or_default();
        Instance {
            id: text(server, "id"),
            name: text(server, "name"),
            role: metadata(server, TAG_ROLE),
            project: metadata(server, TAG_PROJECT),
            state: state_of(server),
            instance_type: flavor,
            private_ip: fixed,
            public_ip: floating,
            zone: text(server, "OS-EXT-AZ:availability_zone"),
            launched: utc(&text(server, "created")),
        }
    }

    async fn servers(&self, name_pattern: Option<String>) -> Result<Vec<Value>, CloudError> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut call = Call::get(ServiceType::Compute, "servers/detail")
                .microversion(NOVA.0, NOVA.1)
                .query("limit", "500");
            if let Some(p) = &name_pattern {
                call = call.query("name", p.clone());
            }
            if let Some(m) = &marker {
                call = call.query("marker", m.clone());
            }
            let page = self.send("listing servers", call).await?;
            let servers = page
                .get("servers")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            // Nova links the next page when there is one (its max_limit may be below ours).
            let more = page
                .get("servers_links")
                .and_then(Value::as_array)
                .is_some_and(|links| links.iter().any(|l| text(l, "rel") == "next"));
            marker = servers.last().map(|s| text(s, "id"));
            out.extend(servers);
            if !more || marker.is_none() {
                return Ok(out);
            }
        }
    }

    async fn server(&self, id: &str) -> Result<Value, CloudError> {
        let call =
            Call::get(ServiceType::Compute, format!("servers/{id}")).microversion(NOVA.0, NOVA.1);
        let answer = self.send(&format!("reading server {id}"), call).await?;
        Ok(answer.get("server").cloned().unwrap_or(Value::Null))
    }

    async fn server_action(
        &self,
        id: &str,
        action: Value,
        what: &str,
    ) -> Result<Value, CloudError> {
        let call = Call::post(ServiceType::Compute, format!("servers/{id}/action"), action)
            .microversion(NOVA.0, NOVA.1);
        self.send(&format!("{what} server {id}"), call).await
    }
}

#[async_trait::async_trait]
impl Cloud for OpenStack {
    fn kind(&self) -> &'static str {
        "openstack"
    }

    async fn list_instances(&self, role: Option<&str>) -> Result<Vec<Instance>, CloudError> {
        let servers = match role {
            Some(role) => {
                let prefix = regex::escape(&format!("{}-{role}-", self.project));
                self.servers(Some(format!("^{prefix}[0-9]+$"))).await?
            }
            None => self.servers(None).await?,
        };
        Ok(servers
            .iter()
            .map(|s| self.to_instance(s))
            .filter(|i| match role {
                Some(role) => i.role == role && i.project == self.project,
                None => true,
            })
            .collect())
    }

    async fn describe_instances(&self, ids: &[String]) -> Result<Vec<Instance>, CloudError> {
        let mut out = Vec::new();
        for id in ids {
            out.push(self.to_instance(&self.server(id).await?));
        }
        Ok(out)
    }

    /// One request per server, so each gets its own name; everything the request names is
    /// checked first (an unknown flavor, image, key pair, group, network or zone is an error
    /// listing the ones that exist, before any server is made).
    async fn launch(&self, spec: &LaunchSpec) -> Result<Vec<Instance>, CloudError> {
        let resolved = resolve::launch(self, spec).await?;
        let mut launched = Vec::new();
        for offset in 0..spec.count {
            let name = format!(
                "{}-{}-{}",
                spec.project,
                spec.role,
                spec.first_index + offset
            );
            let mut server = json!({
                "name": name,
                "imageRef": resolved.image_id,
                "flavorRef": resolved.flavor_id,
                "key_name": spec.key_name,
                "networks": resolved.networks,
                "metadata": {TAG_PROJECT: spec.project, TAG_ROLE: spec.role},
            });
            if !spec.security_groups.is_empty() {
                server["security_groups"] = spec
                    .security_groups
                    .iter()
                    .map(|g| json!({"name": g}))
                    .collect();
            }
            if !spec.zone.is_empty() {
                server["availability_zone"] = json!(spec.zone);
            }
            let call = Call::post(ServiceType::Compute, "servers", json!({"server": server}))
                .microversion(NOVA.0, NOVA.1);
            let answer = self.send(&format!("creating server {name}"), call).await?;
            let id = answer
                .get("server")
                .map(|s| text(s, "id"))
                .unwrap_or_default();
            launched.push(self.to_instance(&self.server(&id).await?));
        }
        Ok(launched)
    }

    async fn terminate(&self, ids: &[String]) -> Result<(), CloudError> {
        for id in ids {
            let call = Call::delete(ServiceType::Compute, format!("servers/{id}"))
                .microversion(NOVA.0, NOVA.1);
            self.send(&format!("deleting server {id}"), call).await?;
        }
        Ok(())
    }

    async fn reboot(&self, ids: &[String]) -> Result<(), CloudError> {
        for id in ids {
            self.server_action(id, json!({"reboot": {"type": "SOFT"}}), "rebooting")
                .await?;
        }
        Ok(())
    }

    async fn stop(&self, ids: &[String]) -> Result<(), CloudError> {
        for id in ids {
            self.server_action(id, json!({"os-stop": null}), "stopping")
                .await?;
        }
        Ok(())
    }

    async fn start(&self, ids: &[String]) -> Result<(), CloudError> {
        for id in ids {
            self.server_action(id, json!({"os-start": null}), "starting")
                .await?;
        }
        Ok(())
    }

    /// A server that goes to ERROR ends the wait with Nova's fault: it is left for the user,
    /// never replaced.
    async fn wait_instances(
        &self,
        ids: &[String],
        wanted: &str,
        options: &WaitOptions,
    ) -> Result<(), CloudError> {
        let what = if ids.len() == 1 {
            ids[0].clone()
        } else {
            format!("{} servers", ids.len())
        };
        wait::until(&what, wanted, options, || async {
            let mut pending = Vec::new();
            for id in ids {
                let server = match self.server(id).await {
                    Ok(s) => s,
                    Err(e) if wanted == "terminated" && is_not_found(&e) => continue,
                    Err(e) => return Err(e),
                };
                let instance = self.to_instance(&server);
                if instance.state == "error" && wanted != "terminated" {
                    let fault = server
                        .get("fault")
                        .map(|f| text(f, "message"))
                        .filter(|m| !m.is_empty())
                        .unwrap_or_else(|| "no fault message".into());
                    return Err(CloudError::Api {
                        operation: format!("waiting for server {} ({id})", instance.name),
                        code: "ERROR".into(),
                        hint: api::hint_for(500, &fault).map(|h| {
                            if h.contains("left in ERROR") {
                                h.replace("<id>", id)
                            } else {
                                format!(
                                    "{h}. The server is left in ERROR for you to look at; \
                                     `provision instance terminate {id}` removes it"
                                )
                            }
                        }),
                        message: format!("Nova put the server in ERROR: {fault}"),
                    });
                }
                if wanted == "running"
                    && matches!(instance.state.as_str(), "shelved" | "suspended" | "paused")
                {
                    return Err(CloudError::Refused(format!(
                        "server {} ({id}) is {}: provision does not wake it; unshelve or resume \
                         it in the dashboard (or terminate it), then run again",
                        instance.name, instance.state
                    )));
                }
                if instance.state != wanted {
                    pending.push(format!("{} {}", instance.name, instance.state));
                }
            }
            Ok((!pending.is_empty()).then(|| pending.join(", ")))
        })
        .await
    }

    async fn host_keys(&self, instance: &Instance) -> Result<Vec<String>, CloudError> {
        match self
            .server_action(
                &instance.id,
                json!({"os-getConsoleOutput": {}}),
                "reading the console of",
            )
            .await
        {
            Ok(answer) => Ok(crate::cloud::host_keys_from_console(&text(
                &answer, "output",
            ))),
            // Not ready yet (409): no keys yet.
            Err(CloudError::Api { code, .. }) if code.contains("409") => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    fn host_keys_patience(&self) -> Duration {
        HOST_KEYS_PATIENCE
    }

    async fn ensure_role_volume(
        &self,
        instance: &Instance,
        spec: &VolumeSpec,
        options: &WaitOptions,
    ) -> Result<RoleVolume, CloudError> {
        let volumes = self.list_volumes().await?;
        if let Some(v) = volumes
            .iter()
            .find(|v| v.attached_to == instance.id && v.role == instance.role)
        {
            return Ok(RoleVolume::Attached(v.clone()));
        }
        // A volume an interrupted run made is used, not made twice: one still being made, one
        // made but not attached, and one Nova is attaching (Cinder lists no attachment then).
        let name = format!("{}-volume", instance.name);
        let spare = volumes.into_iter().find(|v| {
            v.role == instance.role
                && (v.attached_to.is_empty() || v.attached_to == instance.id)
                && !v.state.starts_with("error")
                && v.state != "deleting"
                && v.zone == instance.zone
                && v.name == name
        });
        let volume = match spare {
            Some(v) => v,
            None => {
                self.create_volume_named(
                    spec.size_gib,
                    &instance.zone,
                    &instance.role,
                    &name,
                    spec.volume_type.as_deref(),
                )
                .await?
            }
        };
        if !matches!(volume.state.as_str(), "reserved" | "attaching" | "in-use") {
            self.wait_volume(&volume.id, "available", options).await?;
            self.attach_volume(&volume.id, &instance.id, &spec.device)
                .await?;
        }
        self.wait_volume(&volume.id, "in-use", options).await?;
        let attached = self.describe_volume(&volume.id).await?;
        if attached.attached_to != instance.id {
            return Err(CloudError::Refused(format!(
                "volume {} ({name}) is attached to server {}, not to {} ({})",
                attached.id, attached.attached_to, instance.name, instance.id
            )));
        }
        Ok(RoleVolume::Created(attached))
    }

    fn guest_device(&self, volume: &Volume) -> String {
        super::volumes::virtio_path(&volume.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_read_as_instances() {
        let server = json!({
            "id": "9c1d", "name": "p-db-1", "status": "ACTIVE",
            "OS-EXT-STS:task_state": null,
            "metadata": {"provision:project": "p", "provision:role": "db"},
            "flavor": {"original_name": "m3.small", "vcpus": 2},
            "addresses": {"Classic": [
                {"addr": "fe80::1", "version": 6, "OS-EXT-IPS:type": "fixed"},
                {"addr": "10.0.0.5", "version": 4, "OS-EXT-IPS:type": "fixed"},
                {"addr": "203.0.113.9", "version": 4, "OS-EXT-IPS:type": "floating"}],
                "other": [{"addr": "192.168.1.4", "version": 4}]},
            "OS-EXT-AZ:availability_zone": "melbourne-qh2",
            "created": "2026-11-30T01:02:03Z"
        });
        let (fixed, floating) = addresses(&server, "Classic");
        assert_eq!(
            (fixed.as_str(), floating.as_str()),
            ("10.0.0.5", "203.0.113.9")
        );
        assert_eq!(addresses(&server, "other").0, "192.168.1.4");
        assert_eq!(state_of(&server), "running");
        let mut deleting = server.clone();
        deleting["OS-EXT-STS:task_state"] = json!("deleting");
        assert_eq!(state_of(&deleting), "shutting-down");
        let mut off = server.clone();
        off["status"] = json!("SHUTOFF");
        assert_eq!(state_of(&off), "stopped");
        let mut shelved = server.clone();
        shelved["status"] = json!("SHELVED_OFFLOADED");
        assert_eq!(state_of(&shelved), "shelved");
        assert_eq!(utc("2023-04-27T00:56:27.000000"), "2023-04-27T00:56:27Z");
        assert_eq!(utc("2023-04-27T00:56:27Z"), "2023-04-27T00:56:27Z");
        assert_eq!(
            super::super::volumes::virtio_path("6a0e1f5c-4b3d-4c8e-9d2a-0b1c2d3e4f50"),
            "/dev/disk/by-id/virtio-6a0e1f5c-4b3d-4c8e-9"
        );
    }
}
