//! configure.json: the cloud, the instances, per-role overrides and the roles' variables.
//! The whole file is checked before any API call; errors give the file, line, column and JSON path.

use indexmap::IndexMap;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {field}: {message}")]
    Value {
        path: String,
        field: String,
        message: String,
    },
    #[error("key file {key_file} (instances.key_file in {path}) {problem}")]
    KeyFile {
        path: String,
        key_file: String,
        problem: String,
    },
}

impl Default for CloudConfig {
    fn default() -> Self {
        CloudConfig {
            kind: CloudKind::default(),
            endpoint: String::new(),
            region: String::new(),
            availability_zone: String::new(),
            timeout: default_call_timeout(),
        }
    }
}

/// Which cloud instances come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum CloudKind {
    /// An EC2 API: AWS, or an OpenStack EC2-compatible endpoint such as Nectar's.
    #[default]
    Ec2,
    /// Local Docker containers of the project's host image.
    Docker,
    /// An OpenStack cloud (Nectar) through Keystone, Nova, Cinder, Glance and Neutron; the
    /// credentials come from clouds.yaml or the `OS_*` variables.
    Openstack,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ec2Settings {
    /// EC2-compatible endpoint URL; empty or absent means AWS.
    #[serde(default)]
    endpoint: String,
    region: String,
    #[serde(default)]
    availability_zone: String,
    /// Seconds one API call may wait for an answer.
    #[serde(default = "default_call_timeout")]
    timeout: u64,
}

fn default_call_timeout() -> u64 {
    30
}

/// `"cloud": {"endpoint": …, "region": …}` for EC2, or `"cloud": "docker"`.
#[derive(Debug, Clone)]
pub struct CloudConfig {
    pub kind: CloudKind,
    pub endpoint: String,
    pub region: String,
    pub availability_zone: String,
    /// Seconds one API call (one attempt) may wait for an answer; the whole call, retries
    /// included, gets three times that.
    pub timeout: u64,
}

impl<'de> Deserialize<'de> for CloudConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = CloudConfig;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "an object with endpoint, region and availability_zone, or \"openstack\", or \"docker\"",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<CloudConfig, E> {
                match v {
                    "docker" => Ok(CloudConfig {
                        kind: CloudKind::Docker,
                        ..CloudConfig::default()
                    }),
                    "openstack" => Ok(CloudConfig {
                        kind: CloudKind::Openstack,
                        ..CloudConfig::default()
                    }),
                    other => Err(E::custom(format!(
                        "`{other}` is not a cloud: write \"openstack\", \"docker\", or an object with endpoint and region for EC2"
                    ))),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<CloudConfig, A::Error> {
                let s =
                    Ec2Settings::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(CloudConfig {
                    kind: CloudKind::Ec2,
                    endpoint: s.endpoint,
                    region: s.region,
                    availability_zone: s.availability_zone,
                    timeout: s.timeout,
                })
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceConfig {
    #[serde(default)]
    pub image_id: String,
    #[serde(default)]
    pub instance_type: String,
    #[serde(default)]
    pub key_name: String,
    #[serde(default)]
    pub key_file: String,
    #[serde(default)]
    pub security_groups: Vec<String>,
    #[serde(default = "default_ssh_user")]
    pub ssh_user: String,
    /// OpenStack: the flavor by name or id (`m3.medium`); stands for instance_type.
    #[serde(default)]
    pub flavor: String,
    /// OpenStack: the image by name or id; stands for image_id.
    #[serde(default)]
    pub image: String,
    /// OpenStack: the zone servers and volumes go to (`melbourne-qh2-uom`).
    #[serde(default)]
    pub availability_zone: String,
    /// OpenStack: the network whose address SSH uses; needed when the project sees several.
    #[serde(default)]
    pub network: String,
}

fn default_ssh_user() -> String {
    "ubuntu".to_string()
}

impl Default for InstanceConfig {
    fn default() -> Self {
        InstanceConfig {
            image_id: String::new(),
            instance_type: String::new(),
            key_name: String::new(),
            key_file: String::new(),
            security_groups: Vec::new(),
            ssh_user: default_ssh_user(),
            flavor: String::new(),
            image: String::new(),
            availability_zone: String::new(),
            network: String::new(),
        }
    }
}

/// A starting configure.json for each cloud, as `provision init` writes it (the files in
/// `examples/`).
pub fn example(kind: CloudKind) -> &'static str {
    match kind {
        CloudKind::Ec2 => include_str!("../examples/configure.ec2.json"),
        CloudKind::Docker => include_str!("../examples/configure.docker.json"),
        CloudKind::Openstack => include_str!("../examples/configure.openstack.json"),
    }
}

/// The key the Docker cloud uses when configure.json names none; made on first use.
pub const DOCKER_KEY_FILE: &str = ".provision/docker-key";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeConfig {
    /// GiB.
    pub size: u32,
    #[serde(default = "default_device")]
    pub device: String,
    /// OpenStack: the Cinder volume type; the cloud's default when absent.
    #[serde(default, rename = "type")]
    pub volume_type: Option<String>,
}

fn default_device() -> String {
    "/dev/vdc".to_string()
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    pub instance_type: Option<String>,
    /// OpenStack: stands for instance_type.
    pub flavor: Option<String>,
    pub count: Option<u32>,
    pub volume: Option<VolumeConfig>,
}

/// Accepted for compatibility with the original configure.json, but credentials belong in the
/// environment or an AWS profile: a warning says so.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("Credentials { .. }")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Tags every instance and volume as `provision:project`; lists show only this project's.
    pub project: String,
    pub cloud: CloudConfig,
    #[serde(default)]
    pub instances: InstanceConfig,
    #[serde(default)]
    pub roles: IndexMap<String, RoleConfig>,
    /// Variables for the roles' tasks (lowest precedence after the inventory's).
    #[serde(default)]
    pub vars: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub credentials: Option<Credentials>,
    /// Which clouds.yaml entry, for `"cloud": "openstack"`.
    #[serde(default)]
    pub openstack: Option<OpenStackSettings>,
    #[serde(skip)]
    pub path: PathBuf,
}

/// `"openstack": {"cloud": "nectar"}`: where the OpenStack credentials are. They never live in
/// configure.json: they come from clouds.yaml (this entry, or `OS_CLOUD`) or the `OS_*`
/// variables of an openrc file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenStackSettings {
    /// The entry of clouds.yaml; `OS_CLOUD` when absent.
    #[serde(default)]
    pub cloud: Option<String>,
    /// Overrides clouds.yaml's `region_name`.
    #[serde(default)]
    pub region: Option<String>,
    /// Seconds one API call may wait for an answer.
    #[serde(default = "default_call_timeout")]
    pub timeout: u64,
}

impl Default for OpenStackSettings {
    fn default() -> Self {
        OpenStackSettings {
            cloud: None,
            region: None,
            timeout: default_call_timeout(),
        }
    }
}

impl Config {
    /// The settings of the Docker cloud when there is no configure.json: project `local`.
    pub fn local(path: &Path) -> Config {
        Config {
            project: "local".into(),
            cloud: CloudConfig {
                kind: CloudKind::Docker,
                ..CloudConfig::default()
            },
            instances: InstanceConfig::default(),
            roles: IndexMap::new(),
            vars: serde_json::Map::new(),
            credentials: None,
            openstack: None,
            path: path.to_owned(),
        }
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let mut de = serde_json::Deserializer::from_str(text);
        let mut config: Config = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let json_path = e.path().to_string();
            let inner = e.into_inner();
            let message = strip_position(&inner.to_string());
            ConfigError::Invalid {
                path: shown.clone(),
                line: inner.line(),
                column: inner.column(),
                message: if json_path == "." {
                    message
                } else {
                    format!("{json_path}: {message}")
                },
            }
        })?;
        de.end().map_err(|e| ConfigError::Invalid {
            path: shown.clone(),
            line: e.line(),
            column: e.column(),
            message: "unexpected text after the JSON object".into(),
        })?;
        config.path = path.to_owned();
        config.check_values()?;
        if config.cloud.kind == CloudKind::Openstack {
            config.use_openstack_names();
        }
        Ok(config)
    }

    fn value_error(&self, field: &str, message: String) -> ConfigError {
        ConfigError::Value {
            path: self.path.display().to_string(),
            field: field.to_string(),
            message,
        }
    }

    fn check_values(&self) -> Result<(), ConfigError> {
        if !name_ok(&self.project) {
            return Err(self.value_error(
                "project",
                format!("`{}` must be letters, digits, `-` or `_`", self.project),
            ));
        }
        if self.openstack.is_some() && self.cloud.kind != CloudKind::Openstack {
            return Err(self.value_error(
                "openstack",
                "is for `\"cloud\": \"openstack\"`; remove it or set the cloud".into(),
            ));
        }
        if self.cloud.kind != CloudKind::Openstack {
            for (field, value) in [
                ("instances.flavor", &self.instances.flavor),
                ("instances.image", &self.instances.image),
                (
                    "instances.availability_zone",
                    &self.instances.availability_zone,
                ),
                ("instances.network", &self.instances.network),
            ] {
                if !value.is_empty() {
                    return Err(self.value_error(
                        field,
                        "is an OpenStack setting (`\"cloud\": \"openstack\"`)".into(),
                    ));
                }
            }
        }
        match self.cloud.kind {
            CloudKind::Docker => return self.check_roles(),
            CloudKind::Openstack => return self.check_openstack(),
            CloudKind::Ec2 => {}
        }
        let endpoint = &self.cloud.endpoint;
        let is_url = endpoint.starts_with("https://") || endpoint.starts_with("http://");
        if !endpoint.is_empty() && !is_url {
            return Err(self.value_error(
                "cloud.endpoint",
                format!("`{endpoint}` must be an http:// or https:// URL (or empty for AWS)"),
            ));
        }
        if !(1..=3600).contains(&self.cloud.timeout) {
            return Err(self.value_error(
                "cloud.timeout",
                format!("{} s is outside 1..3600", self.cloud.timeout),
            ));
        }
        if self.cloud.region.trim().is_empty() {
            return Err(self.value_error("cloud.region", "must not be empty".into()));
        }
        for (field, value) in [
            ("instances.image_id", &self.instances.image_id),
            ("instances.instance_type", &self.instances.instance_type),
            ("instances.key_name", &self.instances.key_name),
            ("instances.key_file", &self.instances.key_file),
            ("instances.ssh_user", &self.instances.ssh_user),
        ] {
            if value.trim().is_empty() {
                return Err(self.value_error(field, "must be set for the EC2 cloud".into()));
            }
        }
        self.check_roles()
    }

    fn check_openstack(&self) -> Result<(), ConfigError> {
        let settings = self.openstack.clone().unwrap_or_default();
        if !(1..=3600).contains(&settings.timeout) {
            return Err(self.value_error(
                "openstack.timeout",
                format!("{} s is outside 1..3600", settings.timeout),
            ));
        }
        for (field, value, instead) in [
            (
                "instances.image_id",
                &self.instances.image_id,
                "instances.image",
            ),
            (
                "instances.instance_type",
                &self.instances.instance_type,
                "instances.flavor",
            ),
        ] {
            if !value.is_empty() {
                return Err(self.value_error(
                    field,
                    format!("is an EC2 setting: on OpenStack write {instead} (a name or an id)"),
                ));
            }
        }
        for (field, value) in [
            ("instances.flavor", &self.instances.flavor),
            ("instances.image", &self.instances.image),
            ("instances.key_name", &self.instances.key_name),
            ("instances.key_file", &self.instances.key_file),
            ("instances.ssh_user", &self.instances.ssh_user),
        ] {
            if value.trim().is_empty() {
                return Err(self.value_error(field, "must be set for the OpenStack cloud".into()));
            }
        }
        for (role, rc) in &self.roles {
            if rc.instance_type.is_some() {
                return Err(self.value_error(
                    &format!("roles.{role}.instance_type"),
                    format!("is an EC2 setting: on OpenStack write roles.{role}.flavor"),
                ));
            }
        }
        self.check_roles()
    }

    /// One model below the configuration: OpenStack's names fill the fields every cloud reads.
    fn use_openstack_names(&mut self) {
        self.instances.instance_type = self.instances.flavor.clone();
        self.instances.image_id = self.instances.image.clone();
        self.cloud.availability_zone = self.instances.availability_zone.clone();
        self.cloud.timeout = self.openstack.as_ref().map_or(30, |o| o.timeout);
        for rc in self.roles.values_mut() {
            rc.instance_type = rc.flavor.clone();
        }
    }

    fn check_roles(&self) -> Result<(), ConfigError> {
        for (role, rc) in &self.roles {
            if !name_ok(role) {
                return Err(self.value_error(
                    &format!("roles.{role}"),
                    "a role name must be letters, digits, `-` or `_`".into(),
                ));
            }
            if rc.count == Some(0) {
                return Err(
                    self.value_error(&format!("roles.{role}.count"), "must be at least 1".into())
                );
            }
            if rc.flavor.is_some() && self.cloud.kind != CloudKind::Openstack {
                return Err(self.value_error(
                    &format!("roles.{role}.flavor"),
                    "is an OpenStack setting: on EC2 write instance_type".into(),
                ));
            }
            if let Some(v) = &rc.volume {
                if !(1..=16384).contains(&v.size) {
                    return Err(self.value_error(
                        &format!("roles.{role}.volume.size"),
                        format!("{} GiB is outside 1..16384", v.size),
                    ));
                }
                if v.volume_type.is_some() && self.cloud.kind != CloudKind::Openstack {
                    return Err(self.value_error(
                        &format!("roles.{role}.volume.type"),
                        "is an OpenStack setting (the Cinder volume type)".into(),
                    ));
                }
                if !v.device.starts_with("/dev/") {
                    return Err(self.value_error(
                        &format!("roles.{role}.volume.device"),
                        format!("`{}` must be a device path such as /dev/vdc", v.device),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Warnings worth showing once per command (credentials in the file).
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.credentials.is_some() {
            out.push(format!(
                "{} holds cloud credentials; prefer AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or an AWS profile, \
                 and keep this file out of version control",
                self.path.display()
            ));
        }
        out
    }

    /// The key file instances are reached with: must exist and be readable by its owner only.
    /// Checked before any instance is launched. Relative paths are relative to configure.json.
    pub fn key_file(&self) -> Result<PathBuf, ConfigError> {
        use std::os::unix::fs::PermissionsExt;
        let docker_default =
            self.cloud.kind == CloudKind::Docker && self.instances.key_file.is_empty();
        let raw = Path::new(if docker_default {
            DOCKER_KEY_FILE
        } else {
            &self.instances.key_file
        });
        let path = if raw.is_absolute() {
            raw.to_owned()
        } else {
            self.path.parent().unwrap_or(Path::new(".")).join(raw)
        };
        let problem = |problem: String| ConfigError::KeyFile {
            path: self.path.display().to_string(),
            key_file: path.display().to_string(),
            problem,
        };
        if docker_default && !path.exists() {
            generate_key(&path).map_err(|e| problem(format!("cannot make a key there: {e}")))?;
        }
        let meta = std::fs::metadata(&path).map_err(|_| {
            problem(format!(
                "does not exist: save the private key of key pair `{}` there",
                self.instances.key_name
            ))
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(problem(format!(
                "is readable by others (mode {mode:03o}): run `chmod 600 {}`",
                path.display()
            )));
        }
        Ok(path)
    }

    /// The instance type and volume for a role, with the role's overrides applied.
    pub fn role(&self, role: &str) -> RoleConfig {
        self.roles.get(role).cloned().unwrap_or_default()
    }

    pub fn instance_type_for(&self, role: &str) -> String {
        self.role(role)
            .instance_type
            .unwrap_or_else(|| self.instances.instance_type.clone())
    }
}

/// A new ed25519 key pair in OpenSSH format, private file 0600 and `.pub` beside it.
fn generate_key(path: &Path) -> Result<(), String> {
    use russh::keys::ssh_key::{LineEnding, private::Ed25519Keypair};
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let seed: [u8; 32] = rand::random();
    let key = russh::keys::PrivateKey::from(Ed25519Keypair::from_seed(&seed));
    let private = key.to_openssh(LineEnding::LF).map_err(|e| e.to_string())?;
    let public = key.public_key().to_openssh().map_err(|e| e.to_string())?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(private.as_bytes()))
        .map_err(|e| e.to_string())?;
    std::fs::write(
        path.with_extension("pub"),
        format!("{public} provision-docker\n"),
    )
    .map_err(|e| e.to_string())
}

/// Project and role names: letters, digits, `-` and `_`.
fn name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{
  "project": "ccc-group25",
  "cloud": {"endpoint": "https://nova.rc.nectar.org.au:8773/services/Cloud", "region": "melbourne", "availability_zone": "melbourne-qh2"},
  "instances": {"image_id": "ami-190a1773", "instance_type": "m1.small", "key_name": "group25", "key_file": "group25.pem",
                "security_groups": ["default", "ssh"]},
  "roles": {"couchdb": {"count": 3, "instance_type": "m1.medium", "volume": {"size": 40}}},
  "vars": {"couchdb_admin": "admin", "databases": ["tweets"]}
}"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("configure.json"), text)
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn good_file_with_defaults() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.instances.ssh_user, "ubuntu");
        assert_eq!(c.instance_type_for("couchdb"), "m1.medium");
        assert_eq!(c.instance_type_for("streamer"), "m1.small");
        assert_eq!(c.role("couchdb").volume.unwrap().device, "/dev/vdc");
        assert!(c.warnings().is_empty());
    }

    #[test]
    fn exact_messages() {
        assert_eq!(
            err(&GOOD.replace("\"key_name\"", "\"keyname\"")),
            "configure.json:4:82: instances.keyname: unknown field `keyname`, expected one of `image_id`, `instance_type`, `key_name`, `key_file`, `security_groups`, `ssh_user`, `flavor`, `image`, `availability_zone`, `network`"
        );
        assert_eq!(
            err(&GOOD.replace("\"count\": 3", "\"count\": \"3\"")),
            "configure.json:6:36: roles.couchdb.count: invalid type: string \"3\", expected u32"
        );
        assert_eq!(
            err(&GOOD.replace("\"image_id\": \"ami-190a1773\", ", "")),
            "configure.json: instances.image_id: must be set for the EC2 cloud"
        );
        let docker = Config::parse(
            Path::new("configure.json"),
            r#"{"project": "demo", "cloud": "docker", "roles": {"web": {"count": 2}}}"#,
        )
        .unwrap();
        assert_eq!(docker.cloud.kind, CloudKind::Docker);
        assert_eq!(
            err(&GOOD.replace(
                r#""cloud": {"endpoint""#,
                r#""cloud": "nectar", "x": {"endpoint""#
            )),
            "configure.json:3:19: cloud: `nectar` is not a cloud: write \"openstack\", \"docker\", or an object with endpoint and region for EC2"
        );
        assert_eq!(
            err(&GOOD.replace("\"size\": 40", "\"size\": 0")),
            "configure.json: roles.couchdb.volume.size: 0 GiB is outside 1..16384"
        );
        assert_eq!(
            err(&GOOD.replace("https://nova", "nova")),
            "configure.json: cloud.endpoint: `nova.rc.nectar.org.au:8773/services/Cloud` must be an http:// or https:// URL (or empty for AWS)"
        );
        assert_eq!(
            err(r#"{"project": "p", "cloud": {"region": "r"}}"#),
            "configure.json: instances.image_id: must be set for the EC2 cloud"
        );
        assert_eq!(
            err("{\"project\": "),
            "configure.json:1:12: project: EOF while parsing a value"
        );
    }

    #[test]
    fn every_example_parses_as_given() {
        for kind in [CloudKind::Ec2, CloudKind::Docker] {
            let c = Config::parse(Path::new("configure.json"), example(kind))
                .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            assert_eq!(c.cloud.kind, kind);
            assert!(c.warnings().is_empty());
        }
    }

    #[test]
    fn credentials_are_accepted_with_a_warning_and_never_printed() {
        let text = GOOD.replace(
            "\"vars\"",
            "\"credentials\": {\"access_key_id\": \"AKIDSECRET1\", \"secret_access_key\": \"s3cr3t-value\"}, \"vars\"",
        );
        let c = parse(&text).unwrap();
        assert_eq!(c.warnings().len(), 1);
        let shown = format!("{c:?} {}", c.warnings()[0]);
        assert!(
            !shown.contains("s3cr3t-value") && !shown.contains("AKIDSECRET1"),
            "{shown}"
        );
    }

    #[test]
    fn key_file_must_exist_and_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("configure.json");
        let c = Config::parse(&path, GOOD).unwrap();
        assert!(
            c.key_file()
                .unwrap_err()
                .to_string()
                .contains("does not exist")
        );
        let key = dir.path().join("group25.pem");
        std::fs::write(&key, "k").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(c.key_file().unwrap_err().to_string().contains("chmod 600"));
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(c.key_file().unwrap(), key);
    }

    #[test]
    fn openstack_settings_by_the_names_nectar_users_know() {
        let text = include_str!("../examples/configure.openstack.json");
        let c = Config::parse(Path::new("configure.json"), text).unwrap();
        assert_eq!(c.cloud.kind, CloudKind::Openstack);
        assert_eq!(
            c.openstack.as_ref().unwrap().cloud.as_deref(),
            Some("nectar")
        );
        // Below the configuration there is one model: flavor and image fill the common fields.
        assert_eq!(c.instance_type_for("couchdb"), "m3.medium");
        assert_eq!(c.instance_type_for("webserver"), "m3.small");
        assert_eq!(
            c.instances.image_id,
            "NeCTAR Ubuntu 22.04 LTS (Jammy) amd64"
        );
        assert_eq!(c.cloud.availability_zone, "melbourne-qh2-uom");
        assert_eq!(c.cloud.timeout, 30);

        let err = |text: &str| {
            Config::parse(Path::new("configure.json"), text)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(&text.replace(
                "\"flavor\": \"m3.small\"",
                "\"instance_type\": \"m3.small\""
            )),
            "configure.json: instances.instance_type: is an EC2 setting: on OpenStack write instances.flavor (a name or an id)"
        );
        assert_eq!(
            err(&text.replace("\"flavor\": \"m3.small\",", "")),
            "configure.json: instances.flavor: must be set for the OpenStack cloud"
        );
        assert_eq!(
            err(&text.replace(
                "\"flavor\": \"m3.medium\"",
                "\"instance_type\": \"m3.medium\""
            )),
            "configure.json: roles.couchdb.instance_type: is an EC2 setting: on OpenStack write roles.couchdb.flavor"
        );
        assert!(
            err(&text.replace(
                "\"openstack\": {\"cloud\": \"nectar\"}",
                "\"openstack\": {\"clouds\": \"nectar\"}"
            ))
            .contains("openstack.clouds: unknown field `clouds`")
        );
        assert_eq!(
            err(&GOOD.replace(
                "\"security_groups\": [\"default\", \"ssh\"]}",
                "\"security_groups\": [\"default\", \"ssh\"], \"flavor\": \"m3.small\"}"
            )),
            "configure.json: instances.flavor: is an OpenStack setting (`\"cloud\": \"openstack\"`)"
        );
    }
}
