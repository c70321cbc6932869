//! The OpenStack stand-in (integration/openstack/standin.py) for tests: Keystone, Nova, Cinder,
//! Glance and Neutron on a free loopback port, whose servers are containers of the SSH test-host
//! image on a Docker network of their own. One per test; stopped when dropped, which removes its
//! containers and its network.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{Key, Run, image, keygen};

/// The project the credentials are scoped to.
pub const PROJECT: &str = "pt-12345";
pub const USER: &str = "tester@uni.edu.au";
/// Names the stand-in knows (standin.py: FLAVORS, IMAGES, SECURITY_GROUPS).
pub const FLAVOR: &str = "m3.small";
pub const IMAGE: &str = "NeCTAR Ubuntu 22.04 LTS (Jammy) amd64";
/// The key pair of cloud.json, holding the public half of the test key.
pub const KEY_NAME: &str = "provision-test";
pub const ZONE: &str = "melbourne-qh2";
pub const OTHER_ZONE: &str = "melbourne-qh2-uom";
/// A zone marked full: a server asked for there goes to ERROR with "No valid host was found".
pub const FULL_ZONE: &str = "tasmania";
/// The label the stand-in puts on its containers and its network.
const LABEL: &str = "openstack-standin.network";

/// The project's quotas in cloud.json.
#[derive(Debug, Clone, Copy)]
pub struct Quotas {
    pub instances: u32,
    pub cores: u32,
    pub ram: u32,
    pub volumes: u32,
    pub gigabytes: u32,
    pub snapshots: u32,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            instances: 4,
            cores: 16,
            ram: 65536,
            volumes: 4,
            gigabytes: 100,
            snapshots: 4,
        }
    }
}

pub struct StandIn {
    child: Child,
    /// Held open: the stand-in (`--exit-with-stdin`) stops when it closes, also when the test
    /// process is killed outright.
    stdin: Option<ChildStdin>,
    pub port: u16,
    /// The Docker network, also the name of the one Neutron network.
    pub network: String,
    pub auth_url: String,
    pub app_cred_id: String,
    pub app_cred_secret: String,
    pub password: String,
    /// The test key: its public half is key pair `provision-test`, its file is instances.key_file.
    pub key: Key,
    log: PathBuf,
}

fn random_hex() -> String {
    format!(
        "{:016x}{:016x}",
        rand::random::<u64>(),
        rand::random::<u64>()
    )
}

impl StandIn {
    /// Starts the stand-in with cloud.json, standin.log and the test key in `dir`, and waits
    /// until it listens. Panics (with its stderr) when it does not start: these tests need Docker
    /// and must fail loudly without it.
    pub fn start(dir: &Path, quotas: Quotas) -> StandIn {
        StandIn::start_with(dir, quotas, &[])
    }

    /// As `start`, with more arguments for standin.py (`--compute-max-version 2.40`).
    pub fn start_with(dir: &Path, quotas: Quotas, extra: &[&str]) -> StandIn {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let (repo, tag) = image();
        let key = keygen(dir, "ed25519");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let network = format!(
            "os-test-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::SeqCst)
        );
        let app_cred_id = random_hex();
        let app_cred_secret = format!("appcred-secret-{}", random_hex());
        let password = format!("password-{}", random_hex());
        let cloud = serde_json::json!({
            "project": {"name": PROJECT, "domain": "Default"},
            "users": [{"name": USER, "password": password}],
            "application_credentials": [{
                "id": app_cred_id, "name": "provision", "secret": app_cred_secret, "user": USER
            }],
            "keypairs": [{"name": KEY_NAME, "public_key": key.public}],
            "quotas": {
                "instances": quotas.instances, "cores": quotas.cores, "ram": quotas.ram,
                "volumes": quotas.volumes, "gigabytes": quotas.gigabytes,
                "snapshots": quotas.snapshots
            },
            "availability_zones": {
                "melbourne-qh2": {}, "melbourne-qh2-uom": {}, "tasmania": {"full": true}
            }
        });
        let cloud_path = dir.join("cloud.json");
        std::fs::write(&cloud_path, serde_json::to_string_pretty(&cloud).unwrap()).unwrap();
        let log = dir.join("standin.log");
        let stderr = std::fs::File::create(&log).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("integration/openstack/standin.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["--port", &port.to_string(), "--config"])
            .arg(&cloud_path)
            .args(["--network-name", &network])
            .args(["--docker-image", &format!("{repo}:{tag}")])
            .arg("--exit-with-stdin")
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run python3 {}: {e}", script.display()));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let (lines, seen) = mpsc::channel();
        // Reads stdout to its end, so the stand-in never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = lines.send(line);
            }
        });
        let auth_url = format!("http://127.0.0.1:{port}/identity/v3");
        // Made before the wait, so that a failed start is cleaned up too.
        let stand_in = StandIn {
            child,
            stdin,
            port,
            network,
            auth_url,
            app_cred_id,
            app_cred_secret,
            password,
            key,
            log,
        };
        let wanted = format!("listening on http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            match seen.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) if line.trim() == wanted => break,
                Ok(_) => continue,
                Err(e) => panic!(
                    "the OpenStack stand-in did not print `{wanted}` ({e}); its stderr:\n{}",
                    stand_in.log()
                ),
            }
        }
        stand_in
    }

    /// What the stand-in wrote to stderr (tracebacks; requests are not logged).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// clouds.yaml in `dir` as Nectar's dashboard hands out an application credential: cloud
    /// `nectar`, region Melbourne, public interface.
    pub fn write_clouds_yaml(&self, dir: &Path) -> PathBuf {
        self.write_clouds_yaml_with_secret(dir, &self.app_cred_secret)
    }

    /// As `write_clouds_yaml`, with this secret for the application credential.
    pub fn write_clouds_yaml_with_secret(&self, dir: &Path, secret: &str) -> PathBuf {
        let text = format!(
            r#"clouds:
  nectar:
    auth:
      auth_url: {}
      application_credential_id: "{}"
      application_credential_secret: "{secret}"
    region_name: "Melbourne"
    interface: "public"
    identity_api_version: 3
    auth_type: "v3applicationcredential"
"#,
            self.auth_url, self.app_cred_id
        );
        let path = dir.join("clouds.yaml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// clouds.yaml in `dir` with the user's password (`v3password`), project-scoped.
    pub fn write_password_clouds_yaml(&self, dir: &Path) -> PathBuf {
        let text = format!(
            r#"clouds:
  nectar:
    auth:
      auth_url: {}
      username: "{USER}"
      password: "{}"
      project_name: "{PROJECT}"
      user_domain_name: "Default"
      project_domain_name: "Default"
    region_name: "Melbourne"
    interface: "public"
    identity_api_version: 3
    auth_type: "v3password"
"#,
            self.auth_url, self.password
        );
        let path = dir.join("clouds.yaml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// configure.json for this cloud (write it with `write_config`, changed or not): project
    /// `ostest`, clouds.yaml entry `nectar`, role `probe` with a 1 GiB volume.
    pub fn config(&self) -> serde_json::Value {
        serde_json::json!({
            "project": "ostest",
            "cloud": "openstack",
            "openstack": {"cloud": "nectar"},
            "instances": {
                "flavor": FLAVOR,
                "image": IMAGE,
                "key_name": KEY_NAME,
                "key_file": self.key.path.display().to_string(),
                "security_groups": ["default", "ssh"],
                "availability_zone": ZONE,
                "ssh_user": "ubuntu"
            },
            "roles": {"probe": {"volume": {"size": 1}}}
        })
    }

    /// The container of a server: the stand-in names it `<network>-<first 8 characters of the
    /// server id>`.
    pub fn container(&self, server_id: &str) -> String {
        format!(
            "{}-{}",
            self.network,
            server_id.get(..8).unwrap_or(server_id)
        )
    }

    /// The stand-in's containers as `name state`, sorted.
    pub fn containers(&self) -> Vec<String> {
        super::containers_labelled(&format!("{LABEL}={}", self.network))
    }

    /// Runs a shell command as root inside a server's container; its stdout. Panics when it
    /// fails.
    pub fn exec(&self, server_id: &str, command: &str) -> String {
        let container = self.container(server_id);
        let out = Command::new("docker")
            .args(["exec", &container, "sh", "-c", command])
            .output()
            .expect("docker exec runs");
        assert!(
            out.status.success(),
            "`{command}` in server {server_id} ({container}) failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// `docker ps` filters on a label as `label=KEY=VALUE`.
fn label_filter(network: &str) -> String {
    format!("label={LABEL}={network}")
}

impl Drop for StandIn {
    fn drop(&mut self) {
        // SIGTERM: the stand-in removes its containers and network, then exits.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.child.try_wait() {
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Ok(None) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
                Ok(Some(_)) | Err(_) => break,
            }
        }
        // Whatever it left behind.
        let ids = Command::new("docker")
            .args(["ps", "-a", "-q", "--filter", &label_filter(&self.network)])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f"])
                .args(&ids)
                .output();
        }
        let _ = Command::new("docker")
            .args(["network", "rm", &self.network])
            .output();
    }
}

/// Writes configure.json into `dir`.
pub fn write_config(dir: &Path, config: &serde_json::Value) -> PathBuf {
    let path = dir.join("configure.json");
    std::fs::write(&path, serde_json::to_string_pretty(config).unwrap()).unwrap();
    path
}

/// A new, empty home directory in `dir` (openstack_sdk keeps its token cache in ~/.osc, so a
/// fresh one means a fresh authentication).
pub fn fresh_home(dir: &Path) -> PathBuf {
    static MADE: AtomicUsize = AtomicUsize::new(0);
    let home = dir.join(format!("home-{}", MADE.fetch_add(1, Ordering::SeqCst)));
    std::fs::create_dir_all(&home).unwrap();
    home
}

/// `provision` in `dir` (where ./clouds.yaml is found) with HOME `home`, known_hosts in `dir`,
/// and none of this environment's OpenStack settings (`OS_*`, XDG_CONFIG_HOME).
pub fn openstack_command(dir: &Path, home: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_provision"));
    cmd.current_dir(dir)
        .env("HOME", home)
        .env("PROVISION_KNOWN_HOSTS", dir.join("known_hosts"))
        .env_remove("XDG_CONFIG_HOME")
        .stdin(Stdio::null());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OS_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// Runs `provision ARGS` as `openstack_command` sets it up.
pub async fn openstack_provision(dir: &Path, home: &Path, args: &[&str]) -> Run {
    let out = openstack_command(dir, home)
        .args(args)
        .output()
        .await
        .expect("provision runs");
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
