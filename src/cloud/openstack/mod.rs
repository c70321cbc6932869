//! An OpenStack cloud (Nectar): servers through Nova, volumes and snapshots through Cinder,
//! images through Glance, networks and security groups through Neutron; Keystone auth, the
//! catalog and microversions through openstack_sdk's session.
//!
//! Servers and volumes provision makes carry the metadata `provision:project` and
//! `provision:role` (a project member cannot filter Nova's list by metadata, so the list is
//! narrowed by the name `<project>-<role>-<n>` and the metadata checked here).

mod api;
pub mod credentials;
mod resolve;

use super::wait::{self, WaitOptions};
use super::{
    Cloud, CloudError, Instance, LaunchSpec, RoleVolume, Snapshot, Storage, TAG_PROJECT, TAG_ROLE,
    Volume, VolumeSpec,
};
use crate::config::Config;
use api::{Call, answer_error, chain, transport_error};
use openstack_sdk::AsyncOpenStack;
use openstack_sdk::api::{AsyncClient, QueryAsync, raw};
use openstack_sdk::types::ServiceType;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;

/// Nova 2.47: flavors shown by name in a server; `networks` required on create (2.37).
const NOVA: (u8, u8) = (2, 47);
/// Cinder 3.66: a snapshot of a volume in use needs no `force`.
const CINDER_SNAPSHOT_IN_USE: (u8, u8) = (3, 66);
/// cloud-init prints the host keys at the end of its first boot: wait this long for them.
const HOST_KEYS_PATIENCE: Duration = Duration::from_secs(180);

pub struct OpenStack {
    client: AsyncOpenStack,
    project: String,
    /// configure.json's instances.network: the addresses of this network are the ones used.
    network: String,
    /// Where the credentials came from, for messages.
    source: String,
    timeout: Duration,
    discovered: tokio::sync::Mutex<HashSet<String>>,
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn metadata(v: &Value, key: &str) -> String {
    v.get("metadata").map(|m| text(m, key)).unwrap_or_default()
}

/// Cinder writes times without a zone (`2023-04-27T00:56:27.000000`); they are UTC.
fn utc(t: &str) -> String {
    if t.is_empty() || t.ends_with('Z') || t.contains('+') {
        return t.to_string();
    }
    let seconds = t.split('.').next().unwrap_or(t);
    format!("{seconds}Z")
}

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

/// openstack_sdk looks its auth methods up among `inventory` registrations, which exist only in
/// crates that are linked; 0.22.8 names none of them, so without this every auth type is
/// "not supported".
fn link_auth_methods() {
    std::hint::black_box(&openstack_sdk_auth_applicationcredential::ANCHOR);
    std::hint::black_box(&openstack_sdk_auth_password::ANCHOR);
}

impl OpenStack {
    /// Finds the credentials and authenticates (nothing is cached on disk).
    pub async fn connect(config: &Config) -> Result<OpenStack, CloudError> {
        link_auth_methods();
        let settings = config.openstack.clone().unwrap_or_default();
        let found = credentials::find(
            settings.cloud.as_deref(),
            settings.region.as_deref(),
            &credentials::Surroundings::of_this_process(),
        )?;
        let timeout = Duration::from_secs(settings.timeout);
        let auth_url = found
            .config
            .auth
            .as_ref()
            .and_then(|a| a.auth_url.clone())
            .unwrap_or_default();
        let operation = format!("authenticating with {}", found.source);
        let connecting = AsyncOpenStack::builder(&found.config)
            .disable_auth_cache(true)
            .http_timeout(timeout)
            .connect();
        let client = match tokio::time::timeout(timeout * 3, connecting).await {
            Err(_) => {
                return Err(transport_error(
                    &operation,
                    &auth_url,
                    format!("no answer within {} s", (timeout * 3).as_secs()),
                ));
            }
            Ok(Err(e)) => return Err(auth_error(&operation, &auth_url, &e)),
            Ok(Ok(c)) => c,
        };
        Ok(OpenStack {
            client,
            project: config.project.clone(),
            network: config.instances.network.clone(),
            source: found.source,
            timeout,
            discovered: Default::default(),
        })
    }

    async fn discover(&self, service: &ServiceType) -> Result<(), CloudError> {
        let key = service.to_string();
        let mut done = self.discovered.lock().await;
        if done.contains(&key) {
            return Ok(());
        }
        self.client
            .discover_service_endpoint(service)
            .await
            .map_err(|e| {
                transport_error(
                    &format!("finding the {key} service in the catalog"),
                    &self.source,
                    chain(&e),
                )
            })?;
        done.insert(key);
        Ok(())
    }

    /// Sends one request; answers of 400 and above become errors with the service's message.
    async fn send(&self, operation: &str, call: Call) -> Result<Value, CloudError> {
        self.discover(&call.service_type_of()).await?;
        let described = call.describe();
        let request = raw(call).skip_error_check(true);
        let answer = tokio::time::timeout(self.timeout * 3, request.query_async(&self.client))
            .await
            .map_err(|_| {
                transport_error(
                    operation,
                    &described,
                    format!("no answer within {} s", (self.timeout * 3).as_secs()),
                )
            })?;
        let response = answer.map_err(|e| {
            let reason = chain(&e);
            if reason.to_lowercase().contains("microversion") {
                CloudError::Refused(format!(
                    "{operation}: this cloud is older than provision needs ({reason})"
                ))
            } else {
                transport_error(operation, &described, reason)
            }
        })?;
        let status = response.status().as_u16();
        if status >= 400 {
            return Err(answer_error(operation, status, response.body()));
        }
        if response.body().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(response.body()).map_err(|e| CloudError::Api {
            operation: operation.to_string(),
            code: "unreadable answer".into(),
            message: e.to_string(),
            hint: None,
        })
    }

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
            let full = servers.len() == 500;
            marker = servers.last().map(|s| text(s, "id"));
            out.extend(servers);
            if !full {
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

    async fn create_volume_named(
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

    async fn wait_volume_state(
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
                Ok(v) => Ok(Some(v.state)),
                Err(e) if wanted == "deleted" && is_not_found(&e) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await
    }
}

fn is_not_found(e: &CloudError) -> bool {
    matches!(e, CloudError::Api { code, .. } if code.contains("404"))
}

/// The session could not be opened: refused credentials or an unreachable Keystone.
fn auth_error(operation: &str, auth_url: &str, e: &openstack_sdk::OpenStackError) -> CloudError {
    let reason = chain(e);
    let lower = reason.to_lowercase();
    if lower.contains("401") || lower.contains("unauthorized") || lower.contains("authenticat") {
        CloudError::Api {
            operation: operation.to_string(),
            code: "HTTP 401".into(),
            message: format!("Keystone at {auth_url} refused the credentials ({reason})"),
            hint: api::hint_for(401, ""),
        }
    } else {
        transport_error(operation, auth_url, reason)
    }
}

impl Call {
    fn service_type_of(&self) -> ServiceType {
        openstack_sdk::api::RestEndpoint::service_type(self)
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
                                h
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
            Ok(answer) => Ok(super::host_keys_from_console(&text(&answer, "output"))),
            // Not ready yet (409): no keys yet.
            Err(CloudError::Api { code, .. }) if code.contains("409") => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    fn host_keys_patience(&self) -> Duration {
        HOST_KEYS_PATIENCE
    }

    fn ssh_address(&self, instance: &Instance) -> (String, u16) {
        let address = if instance.public_ip.is_empty() {
            instance.private_ip.clone()
        } else {
            instance.public_ip.clone()
        };
        (address, 22)
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
        // A volume an interrupted run made (even one still being made) is used, not made twice.
        let name = format!("{}-volume", instance.name);
        let spare = volumes.into_iter().find(|v| {
            v.role == instance.role
                && v.attached_to.is_empty()
                && (v.state == "available" || v.state == "creating")
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
        self.wait_volume_state(&volume.id, "available", options)
            .await?;
        self.attach_volume(&volume.id, &instance.id, &spec.device)
            .await?;
        self.wait_volume_state(&volume.id, "in-use", options)
            .await?;
        Ok(RoleVolume::Created(self.describe_volume(&volume.id).await?))
    }

    fn guest_device(&self, volume: &Volume) -> String {
        virtio_path(&volume.id)
    }
}

/// udev names a virtio disk by its serial, which Nova sets to the volume id cut to 20
/// characters; the device Nova reports can differ from what the guest sees.
fn virtio_path(volume_id: &str) -> String {
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
        self.wait_volume_state(id, wanted, options).await
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
        assert_eq!(utc("2023-04-27T00:56:27.000000"), "2023-04-27T00:56:27Z");
        assert_eq!(utc("2023-04-27T00:56:27Z"), "2023-04-27T00:56:27Z");
        assert_eq!(
            virtio_path("6a0e1f5c-4b3d-4c8e-9d2a-0b1c2d3e4f50"),
            "/dev/disk/by-id/virtio-6a0e1f5c-4b3d-4c8e-9"
        );
    }
}
