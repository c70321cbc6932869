//! Test harness: SSH hosts in containers made from the project's own image
//! (integration/image/build.sh), keys generated per test, and the `provision` binary run as a user would.
#![allow(dead_code)]

pub mod ansible;
pub mod moto;
pub mod openstack;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;
use testcontainers::core::{CgroupnsMode, ExecCommand, IntoContainerPort, Mount, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

/// The test-host image, built by the project's script when missing. Panics when Docker or the
/// image cannot be had: these tests must fail loudly, never pass without hosts.
pub fn image() -> (String, String) {
    static IMAGE: OnceLock<(String, String)> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("integration/image/build.sh");
            let out = std::process::Command::new("bash")
                .arg(&script)
                .output()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
            assert!(
                out.status.success(),
                "building the SSH test-host image failed (is Docker running?):\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let name = String::from_utf8_lossy(&out.stdout).trim().to_string();
            let (repo, tag) = name.split_once(':').expect("image name has a tag");
            (repo.to_string(), tag.to_string())
        })
        .clone()
}

pub struct Key {
    pub path: PathBuf,
    pub public: String,
}

/// Generates a key pair with ssh-keygen: `ed25519`, or `rsa-pem` (PKCS#1 PEM, as EC2/OpenStack hand out).
pub fn keygen(dir: &Path, kind: &str) -> Key {
    let path = dir.join(format!("key-{kind}"));
    let mut cmd = std::process::Command::new("ssh-keygen");
    cmd.args(["-q", "-N", "", "-C", "provision-test", "-f"])
        .arg(&path);
    match kind {
        "ed25519" => cmd.args(["-t", "ed25519"]),
        "rsa-pem" => cmd.args(["-t", "rsa", "-b", "2048", "-m", "PEM"]),
        other => panic!("unknown key kind {other}"),
    };
    let status = cmd.status().expect("ssh-keygen runs");
    assert!(status.success());
    let public = std::fs::read_to_string(path.with_extension("pub"))
        .or_else(|_| std::fs::read_to_string(format!("{}.pub", path.display())))
        .expect("public key written");
    Key {
        path,
        public: public.trim().to_string(),
    }
}

pub struct Host {
    pub name: String,
    pub port: u16,
    pub container: ContainerAsync<GenericImage>,
}

pub async fn start_host(name: &str, key: &Key) -> Host {
    let (repo, tag) = image();
    let container = GenericImage::new(repo, tag)
        .with_exposed_port(22.tcp())
        .with_wait_for(WaitFor::message_on_stderr("Server listening"))
        .with_env_var("AUTHORIZED_KEY", key.public.clone())
        .start()
        .await
        .expect("test host container starts (is Docker running?)");
    Host::from_container(name, container).await
}

/// A host that boots systemd as PID 1 (no --privileged: tmpfs /run and the host's cgroup tree).
pub async fn start_systemd_host(name: &str, key: &Key) -> Host {
    let (repo, tag) = image();
    let container = GenericImage::new(repo, tag)
        .with_exposed_port(22.tcp())
        .with_wait_for(WaitFor::Nothing)
        .with_env_var("AUTHORIZED_KEY", key.public.clone())
        .with_env_var("BOOT", "systemd")
        .with_mount(Mount::tmpfs_mount("/run"))
        .with_mount(Mount::tmpfs_mount("/run/lock"))
        .with_mount(Mount::bind_mount("/sys/fs/cgroup", "/sys/fs/cgroup"))
        .with_cgroupns_mode(CgroupnsMode::Host)
        .start()
        .await
        .expect("systemd test host starts (is Docker running?)");
    let host = Host::from_container(name, container).await;
    let port = host.port;
    // systemd starts sshd a moment after the container: wait for its banner.
    let started = std::time::Instant::now();
    loop {
        if let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            let mut buf = [0u8; 8];
            use tokio::io::AsyncReadExt;
            if let Ok(Ok(n)) =
                tokio::time::timeout(std::time::Duration::from_secs(2), s.read(&mut buf)).await
                && buf[..n].starts_with(b"SSH-")
            {
                break;
            }
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "systemd host {name}: sshd did not come up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    host
}

pub async fn start_hosts(prefix: &str, n: usize, key: &Key) -> Vec<Host> {
    let futures = (1..=n).map(|i| {
        let name = format!("{prefix}{i}");
        async move { start_host(&name, key).await }
    });
    futures::future::join_all(futures).await
}

impl Host {
    /// The host a started container is, reached on its published SSH port.
    async fn from_container(name: &str, container: ContainerAsync<GenericImage>) -> Host {
        let port = container
            .get_host_port_ipv4(22.tcp())
            .await
            .expect("ssh port is published");
        Host {
            name: name.to_string(),
            port,
            container,
        }
    }

    /// Runs a shell command in the container as root and returns its stdout.
    pub async fn sh(&self, command: &str) -> String {
        let mut result = self
            .container
            .exec(ExecCommand::new(vec!["sh", "-c", command]))
            .await
            .expect("exec in container");
        let out = result.stdout_to_vec().await.expect("exec output");
        String::from_utf8_lossy(&out).into_owned()
    }

    pub fn inventory_line(&self) -> String {
        format!(
            "{} ansible_host=127.0.0.1 ansible_port={}",
            self.name, self.port
        )
    }
}

/// An inventory with one group holding the hosts, and the key for all of them.
pub fn write_inventory(
    dir: &Path,
    group: &str,
    hosts: &[&Host],
    key: &Key,
    extra: &str,
) -> PathBuf {
    let mut text = format!("[{group}]\n");
    for h in hosts {
        text.push_str(&h.inventory_line());
        text.push('\n');
    }
    text.push_str(&format!(
        "[{group}:vars]\nansible_ssh_private_key_file={}\n{extra}",
        key.path.display()
    ));
    let path = dir.join("inventory");
    std::fs::write(&path, text).unwrap();
    path
}

/// Writes a role: `tasks/<role>.yml` plus templates, and returns the tasks directory.
pub fn write_role(dir: &Path, role: &str, tasks: &str, templates: &[(&str, &str)]) -> PathBuf {
    let tasks_dir = dir.join("roles/tasks");
    std::fs::create_dir_all(&tasks_dir).unwrap();
    std::fs::create_dir_all(dir.join("roles/templates")).unwrap();
    std::fs::write(tasks_dir.join(format!("{role}.yml")), tasks).unwrap();
    for (name, text) in templates {
        std::fs::write(dir.join("roles/templates").join(name), text).unwrap();
    }
    tasks_dir
}

pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "--json output is JSON ({e}):\n{}\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

pub async fn provision(dir: &Path, args: &[&str]) -> Run {
    let out: Output = tokio::process::Command::new(env!("CARGO_BIN_EXE_provision"))
        .args(args)
        .current_dir(dir)
        .env("PROVISION_KNOWN_HOSTS", dir.join("known_hosts"))
        .output()
        .await
        .expect("provision runs");
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `provision run ROLE --tasks-dir TASKS ARGS…` in `dir`.
pub async fn run_role(dir: &Path, role: &str, tasks: &Path, args: &[&str]) -> Run {
    let mut all = vec![
        "run",
        role,
        "--tasks-dir",
        tasks.to_str().expect("utf-8 path"),
    ];
    all.extend_from_slice(args);
    provision(dir, &all).await
}

/// Per-host stats from a `--json` run: host -> (ok, changed, failed, unreachable).
pub fn stats(run: &Run) -> Vec<(String, u64, u64, u64, u64)> {
    run.json()["hosts"]
        .as_array()
        .expect("hosts array")
        .iter()
        .map(|h| {
            let s = &h["stats"];
            (
                h["host"].as_str().unwrap().to_string(),
                s["ok"].as_u64().unwrap(),
                s["changed"].as_u64().unwrap(),
                s["failed"].as_u64().unwrap(),
                s["unreachable"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// A web server for the test hosts: a container serving `dir` over HTTP on port 80. Returns the
/// container (stopped when dropped) and the address the other containers reach it at.
pub async fn start_web_server(dir: &Path) -> (ContainerAsync<GenericImage>, String) {
    start_web_server_on(dir, None).await
}

/// As `start_web_server`, on a Docker network of its own (made when missing), for hosts of the
/// Docker cloud, whose containers are on their project's network.
pub async fn start_web_server_on(
    dir: &Path,
    network: Option<&str>,
) -> (ContainerAsync<GenericImage>, String) {
    if let Some(net) = network {
        let _ = std::process::Command::new("docker")
            .args(["network", "create", net])
            .output();
    }
    let (repo, tag) = image();
    let request = GenericImage::new(repo, tag)
        .with_entrypoint("python3")
        .with_wait_for(WaitFor::message_on_stdout("Serving HTTP"))
        .with_cmd(["-u", "-m", "http.server", "80", "--directory", "/srv"])
        .with_mount(Mount::bind_mount(dir.to_str().expect("utf-8 path"), "/srv"));
    let request = match network {
        Some(net) => request.with_network(net),
        None => request,
    };
    let container = request.start().await.expect("web server container starts");
    let ip = container_ip(container.id());
    (container, ip)
}

/// A package folder for `integration/apt-repo/build.sh`: control fields and files to install.
/// Files under `DEBIAN/` other than `templates` are maintainer scripts (made executable).
pub fn package_dir(root: &Path, name: &str, version: &str, files: &[(&str, &str)]) -> PathBuf {
    package_dir_with(root, name, version, "", files)
}

/// As `package_dir`, with more control fields (`Depends: python3\n`).
pub fn package_dir_with(
    root: &Path,
    name: &str,
    version: &str,
    control: &str,
    files: &[(&str, &str)],
) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = root.join(format!("{name}-{version}"));
    std::fs::create_dir_all(dir.join("DEBIAN")).unwrap();
    std::fs::write(
        dir.join("DEBIAN/control"),
        format!(
            "Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: provision tests <tests@provision.invalid>\n{control}Description: a package built by the provision tests\n"
        ),
    )
    .unwrap();
    for (path, content) in files {
        let target = dir.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(&target, content).unwrap();
        let script = path.starts_with("DEBIAN/") && !path.ends_with("templates");
        let mode = if script { 0o755 } else { 0o644 };
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    dir
}

/// Builds a signed apt repository in `out` from package folders (see integration/apt-repo).
pub fn build_apt_repository(out: &Path, packages: &[PathBuf]) {
    build_apt_repository_for(out, "stable", packages)
}

/// As `build_apt_repository`, for a suite (a release's codename, as `deb URL bookworm main`).
pub fn build_apt_repository_for(out: &Path, suite: &str, packages: &[PathBuf]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("integration/apt-repo/build.sh");
    let status = std::process::Command::new("bash")
        .env("SUITE", suite)
        .arg(&script)
        .arg(out)
        .args(packages)
        .status()
        .expect("bash runs");
    assert!(status.success(), "building the test apt repository failed");
}

/// A container's address on Docker's bridge, where the other containers reach it.
pub fn container_ip(id: &str) -> String {
    let out = std::process::Command::new("docker")
        .args([
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
            id,
        ])
        .output()
        .expect("docker inspect runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let ip = text.split_whitespace().next().unwrap_or("").to_string();
    assert!(!ip.is_empty(), "container {id} has no address: {text}");
    ip
}

/// A loop device on this machine backed by a sparse file: a stand-in for an attached cloud
/// volume. Needs root (losetup); detached when dropped.
pub struct LoopDevice {
    pub path: String,
}

impl LoopDevice {
    pub fn new(dir: &Path, megabytes: u64) -> LoopDevice {
        let backing = dir.join("volume.img");
        let file = std::fs::File::create(&backing).unwrap();
        file.set_len(megabytes * 1024 * 1024).unwrap();
        let out = std::process::Command::new("losetup")
            .args(["--find", "--show"])
            .arg(&backing)
            .output()
            .expect("losetup runs");
        assert!(
            out.status.success(),
            "losetup failed (the filesystem/mount tests need root and loop devices): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        LoopDevice {
            path: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        }
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        // On a device still in use the kernel detaches it when it is last closed.
        let _ = std::process::Command::new("losetup")
            .args(["-d", &self.path])
            .status();
    }
}

/// A host with `device` as its block device `/dev/vdb`, and the one capability mounting needs
/// (this Docker refuses --privileged).
pub async fn start_host_with_volume(name: &str, key: &Key, device: &str) -> Host {
    let (repo, tag) = image();
    let device = device.to_string();
    let container = GenericImage::new(repo, tag)
        .with_exposed_port(22.tcp())
        .with_wait_for(WaitFor::message_on_stderr("Server listening"))
        .with_env_var("AUTHORIZED_KEY", key.public.clone())
        .with_cap_add("SYS_ADMIN")
        .with_host_config_modifier(move |config| {
            config.devices = Some(vec![testcontainers::bollard::models::DeviceMapping {
                path_on_host: Some(device.clone()),
                path_in_container: Some("/dev/vdb".into()),
                cgroup_permissions: Some("rwm".into()),
            }]);
        })
        .start()
        .await
        .expect("test host with a volume starts");
    Host::from_container(name, container).await
}

/// A local Python package index in `dir/simple/` (plain directory listings, which pip reads):
/// wheels made by integration/pypi/make_wheel.py from (name, version, requirements).
pub fn build_package_index(dir: &Path, wheels: &[(&str, &str, &[&str])]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("integration/pypi/make_wheel.py");
    for (name, version, requires) in wheels {
        let out = std::process::Command::new("python3")
            .arg(&script)
            .arg(dir.join("simple"))
            .args([name, version])
            .args(*requires)
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "making the wheel {name} {version} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The containers with the label `key=value`, as `name state`, sorted.
pub fn containers_labelled(label: &str) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args(["ps", "-a", "--format", "{{.Names}} {{.State}}", "--filter"])
        .arg(format!("label={label}"))
        .output()
        .expect("docker ps runs");
    let mut list: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    list.sort();
    list
}

/// The containers and network of a Docker-cloud project (named at random, so tests do not
/// meet), removed when the test ends.
pub struct DockerProject(pub String);

impl DockerProject {
    pub fn new() -> DockerProject {
        DockerProject(format!("t{:08x}", rand::random::<u32>()))
    }

    pub fn containers(&self) -> Vec<String> {
        containers_labelled(&format!("provision.project={}", self.0))
    }

    pub fn exec(&self, name: &str, command: &str) -> String {
        let out = std::process::Command::new("docker")
            .args(["exec", name, "sh", "-c", command])
            .output()
            .expect("docker exec runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for DockerProject {
    fn drop(&mut self) {
        let ids = std::process::Command::new("docker")
            .args(["ps", "-a", "-q", "--filter"])
            .arg(format!("label=provision.project={}", self.0))
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let _ = std::process::Command::new("docker")
                .args(["rm", "-f"])
                .args(&ids)
                .output();
        }
        let _ = std::process::Command::new("docker")
            .args(["network", "rm", &format!("provision-{}", self.0)])
            .output();
    }
}

impl Host {
    /// Runs a program in the container as root with these arguments (no shell in between) and
    /// returns its stdout.
    pub async fn exec_argv(&self, argv: &[&str]) -> String {
        let mut result = self
            .container
            .exec(ExecCommand::new(argv.iter().map(|a| a.to_string())))
            .await
            .expect("exec in container");
        let out = result.stdout_to_vec().await.expect("exec output");
        String::from_utf8_lossy(&out).into_owned()
    }
}
