//! Names in configure.json made into what Nova takes, before any server is created: an
//! unknown flavor, image, key pair, security group, network or zone is an error that lists the
//! ones the project can use.

use super::api::Call;
use super::{NOVA, OpenStack, text};
use crate::cloud::{CloudError, LaunchSpec};
use openstack_sdk::types::ServiceType;
use serde_json::{Value, json};

pub struct Launch {
    pub flavor_id: String,
    pub image_id: String,
    /// `[{"uuid": …}]`, or `"auto"` when the project has no network of its own to pick.
    pub networks: Value,
}

fn unknown(what: &str, wanted: &str, field: &str, known: &[String]) -> CloudError {
    let mut shown: Vec<&str> = known.iter().map(String::as_str).collect();
    shown.sort();
    shown.dedup();
    let more = shown.len().saturating_sub(20);
    shown.truncate(20);
    let list = if shown.is_empty() {
        "none".to_string()
    } else if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    };
    CloudError::Api {
        operation: format!("checking {field}"),
        code: format!("unknown {what}"),
        message: format!("no {what} `{wanted}` in this project; it has: {list}"),
        hint: Some(format!("set {field} in configure.json to one of them")),
    }
}

fn list(answer: &Value, key: &str) -> Vec<Value> {
    answer
        .get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Items whose id or name is `wanted`.
fn matching<'a>(items: &'a [Value], wanted: &str, name_key: &str) -> Vec<&'a Value> {
    items
        .iter()
        .filter(|i| text(i, "id") == wanted || text(i, name_key) == wanted)
        .collect()
}

pub async fn launch(cloud: &OpenStack, spec: &LaunchSpec) -> Result<Launch, CloudError> {
    let flavors = list(
        &cloud
            .send(
                "listing flavors",
                Call::get(ServiceType::Compute, "flavors/detail").microversion(NOVA.0, NOVA.1),
            )
            .await?,
        "flavors",
    );
    let flavor_id = match matching(&flavors, &spec.instance_type, "name").first() {
        Some(f) => text(f, "id"),
        None => {
            let names: Vec<String> = flavors.iter().map(|f| text(f, "name")).collect();
            return Err(unknown(
                "flavor",
                &spec.instance_type,
                &format!("instances.flavor (or roles.{}.flavor)", spec.role),
                &names,
            ));
        }
    };

    let by_name = cloud
        .send(
            "finding the image",
            Call::get(ServiceType::Image, "images").query("name", spec.image_id.clone()),
        )
        .await?;
    let mut images = list(&by_name, "images");
    if images.is_empty() && looks_like_id(&spec.image_id) {
        let by_id = Call::get(ServiceType::Image, format!("images/{}", spec.image_id));
        match cloud.send("finding the image", by_id).await {
            Ok(image) => images.push(image),
            Err(CloudError::Api { code, .. }) if code.contains("404") => {}
            Err(e) => return Err(e),
        }
    }
    let image_id = match images.as_slice() {
        [one] => text(one, "id"),
        [] => {
            let all = list(
                &cloud
                    .send(
                        "listing images",
                        Call::get(ServiceType::Image, "images").query("limit", "1000"),
                    )
                    .await?,
                "images",
            );
            let names: Vec<String> = all.iter().map(|i| text(i, "name")).collect();
            return Err(unknown("image", &spec.image_id, "instances.image", &names));
        }
        several => {
            let ids: Vec<String> = several.iter().map(|i| text(i, "id")).collect();
            return Err(CloudError::Api {
                operation: "checking instances.image".into(),
                code: "ambiguous image".into(),
                message: format!(
                    "{} images are named `{}`: {}",
                    several.len(),
                    spec.image_id,
                    ids.join(", ")
                ),
                hint: Some("set instances.image to one of the ids".into()),
            });
        }
    };

    let pairs = list(
        &cloud
            .send(
                "listing key pairs",
                Call::get(ServiceType::Compute, "os-keypairs").microversion(NOVA.0, NOVA.1),
            )
            .await?,
        "keypairs",
    );
    let pair_names: Vec<String> = pairs
        .iter()
        .map(|p| {
            p.get("keypair")
                .map(|k| text(k, "name"))
                .unwrap_or_default()
        })
        .collect();
    if !pair_names.contains(&spec.key_name) {
        return Err(unknown(
            "key pair",
            &spec.key_name,
            "instances.key_name",
            &pair_names,
        ));
    }

    if !spec.security_groups.is_empty() {
        let groups = list(
            &cloud
                .send(
                    "listing security groups",
                    Call::get(ServiceType::Network, "security-groups"),
                )
                .await?,
            "security_groups",
        );
        for wanted in &spec.security_groups {
            if matching(&groups, wanted, "name").is_empty() {
                let names: Vec<String> = groups.iter().map(|g| text(g, "name")).collect();
                return Err(unknown(
                    "security group",
                    wanted,
                    "instances.security_groups",
                    &names,
                ));
            }
        }
    }

    if !spec.zone.is_empty() {
        let zones = list(
            &cloud
                .send(
                    "listing availability zones",
                    Call::get(ServiceType::Compute, "os-availability-zone")
                        .microversion(NOVA.0, NOVA.1),
                )
                .await?,
            "availabilityZoneInfo",
        );
        let names: Vec<String> = zones.iter().map(|z| text(z, "zoneName")).collect();
        if !names.contains(&spec.zone) {
            return Err(unknown(
                "availability zone",
                &spec.zone,
                "instances.availability_zone",
                &names,
            ));
        }
    }

    // Servers cannot be put on an external (router:external) network.
    let networks = list(
        &cloud
            .send(
                "listing networks",
                Call::get(ServiceType::Network, "networks").query("router:external", "false"),
            )
            .await?,
        "networks",
    );
    let networks = choose_network(&networks, &spec.network)?;
    Ok(Launch {
        flavor_id,
        image_id,
        networks,
    })
}

/// What `networks` says in the create request: the network asked for, else the project's only
/// one, else Nova's `auto` when it has none.
fn choose_network(networks: &[Value], wanted: &str) -> Result<Value, CloudError> {
    let names: Vec<String> = networks.iter().map(|n| text(n, "name")).collect();
    if !wanted.is_empty() {
        return match matching(networks, wanted, "name").first() {
            Some(n) => Ok(json!([{"uuid": text(n, "id")}])),
            None => Err(unknown("network", wanted, "instances.network", &names)),
        };
    }
    match networks {
        [one] => Ok(json!([{"uuid": text(one, "id")}])),
        [] => Ok(json!("auto")),
        _ => Err(CloudError::Api {
            operation: "choosing the network".into(),
            code: "several networks".into(),
            message: format!(
                "this project sees {} networks: {}",
                names.len(),
                names.join(", ")
            ),
            hint: Some(
                "set instances.network in configure.json to the one servers should be on (its \
                 address is the one SSH uses)"
                    .into(),
            ),
        }),
    }
}

pub fn looks_like_id(s: &str) -> bool {
    s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_network_is_the_one_asked_for_or_the_only_one() {
        let nets = vec![
            json!({"id": "11111111-1111-1111-1111-111111111111", "name": "Classic Provider"}),
            json!({"id": "22222222-2222-2222-2222-222222222222", "name": "qh2-uom"}),
        ];
        assert_eq!(
            choose_network(&nets, "qh2-uom").unwrap(),
            json!([{"uuid": "22222222-2222-2222-2222-222222222222"}])
        );
        assert_eq!(
            choose_network(&nets, "11111111-1111-1111-1111-111111111111").unwrap(),
            json!([{"uuid": "11111111-1111-1111-1111-111111111111"}])
        );
        assert_eq!(
            choose_network(&nets[..1], "").unwrap(),
            json!([{"uuid": "11111111-1111-1111-1111-111111111111"}])
        );
        assert_eq!(choose_network(&[], "").unwrap(), json!("auto"));
        let several = choose_network(&nets, "").unwrap_err();
        assert_eq!(
            several.to_string(),
            "choosing the network: several networks: this project sees 2 networks: Classic Provider, qh2-uom"
        );
        assert!(several.hint().unwrap().contains("instances.network"));
        let missing = choose_network(&nets, "nope").unwrap_err().to_string();
        assert!(
            missing
                .ends_with("no network `nope` in this project; it has: Classic Provider, qh2-uom"),
            "{missing}"
        );
    }
}
