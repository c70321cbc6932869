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
mod servers;
mod volumes;

use super::CloudError;
use crate::config::Config;
use api::{Call, answer_error, chain, transport_error};
use openstack_sdk::AsyncOpenStack;
use openstack_sdk::api::{QueryAsync, raw};
use openstack_sdk::types::ServiceType;
use serde_json::Value;
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
        register_secrets(&found.config);
        let operation = format!("authenticating with {}", found.source);
        let who = credential_of(&found.config);
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
            Ok(Err(e)) => return Err(auth_error(&operation, &auth_url, &who, &e)),
            Ok(Ok(c)) => c,
        };
        let mut cloud = OpenStack {
            client,
            project: config.project.clone(),
            network: config.instances.network.clone(),
            source: found.source,
            timeout,
            discovered: Default::default(),
        };
        // Nova lists addresses by network name: a network given by id is looked up once.
        if resolve::looks_like_id(&cloud.network) {
            let call = Call::get(ServiceType::Network, format!("networks/{}", cloud.network));
            let answer = cloud.send("reading instances.network", call).await?;
            cloud.network = answer
                .get("network")
                .map(|n| text(n, "name"))
                .unwrap_or_default();
        }
        Ok(cloud)
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
        self.discover(&call.service()).await?;
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
}

fn is_not_found(e: &CloudError) -> bool {
    matches!(e, CloudError::Api { code, .. } if code.contains("404"))
}

/// The password or application-credential secret is masked in everything provision prints.
fn register_secrets(config: &openstack_sdk::config::CloudConfig) {
    use secrecy::ExposeSecret;
    let Some(auth) = &config.auth else { return };
    let secrets = [&auth.password, &auth.application_credential_secret];
    crate::redact::register(
        secrets
            .into_iter()
            .flatten()
            .map(|s| s.expose_secret().to_string())
            .filter(|s| !s.is_empty()),
    );
}

/// The credential, named without its secret: `application credential 0123…` or `user me@…`.
fn credential_of(config: &openstack_sdk::config::CloudConfig) -> String {
    let Some(auth) = &config.auth else {
        return "the credentials".into();
    };
    if let Some(id) = &auth.application_credential_id {
        format!("application credential {id}")
    } else if let Some(user) = auth.username.as_ref().or(auth.user_id.as_ref()) {
        format!("the password of user {user}")
    } else {
        "the credentials".into()
    }
}

/// The session could not be opened: Keystone's answer (401: refused credentials), or no answer.
fn auth_error(
    operation: &str,
    auth_url: &str,
    who: &str,
    e: &openstack_sdk::OpenStackError,
) -> CloudError {
    use openstack_sdk::{AuthError, OpenStackError};
    let reason = chain(e);
    let status = match e {
        OpenStackError::AuthError {
            source: AuthError::Identity(answer),
        } => Some(answer.code as u16),
        OpenStackError::AuthError {
            source: AuthError::UnknownAuth { code, .. },
        } => Some(*code),
        _ => None,
    };
    match status {
        Some(401) => CloudError::Api {
            operation: operation.to_string(),
            code: "HTTP 401".into(),
            message: format!("Keystone at {auth_url} refused {who} ({reason})"),
            hint: api::hint_for(401, ""),
        },
        Some(status) => CloudError::Api {
            operation: operation.to_string(),
            code: format!("HTTP {status}"),
            hint: api::hint_for(status, &reason),
            message: format!("Keystone at {auth_url} answered: {reason}"),
        },
        None => transport_error(operation, auth_url, reason),
    }
}
