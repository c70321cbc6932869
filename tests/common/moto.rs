//! A real EC2 API server for tests: moto (PyPI `moto[server]`), installed into .venv-moto by
//! integration/moto/setup.sh, started on a free loopback port per test and killed afterwards.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    child: Child,
    pub endpoint: String,
}

fn moto_server() -> PathBuf {
    let path = std::env::var_os("PROVISION_MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-moto/bin/moto_server")
        });
    assert!(
        path.exists(),
        "moto_server not found at {}: run `bash integration/moto/setup.sh` (the README's test command does)",
        path.display()
    );
    path
}

impl Moto {
    /// A moto server that validates image ids; with `require_auth`, every request needs
    /// credentials moto knows, so made-up ones are refused with AuthFailure.
    pub fn start(require_auth: bool) -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new(moto_server());
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_ENABLE_AMI_VALIDATION", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if require_auth {
            cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", "0");
        }
        let child = cmd.spawn().expect("moto_server starts");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto_server did not listen on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Image ids moto knows (from its built-in list).
pub const IMAGE: &str = "ami-12c6146b";

/// A configure.json for `endpoint` in `dir`, with a private key file beside it.
pub fn write_config(dir: &Path, endpoint: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let key = dir.join("group25.pem");
    std::fs::write(
        &key,
        "not a real key; only its presence and mode are checked by launch\n",
    )
    .unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let path = dir.join("configure.json");
    std::fs::write(
        &path,
        format!(
            r#"{{
  "project": "group25",
  "cloud": {{"endpoint": "{endpoint}", "region": "us-east-1", "availability_zone": "us-east-1a"}},
  "instances": {{"image_id": "{IMAGE}", "instance_type": "t2.micro", "key_name": "group25",
                "key_file": "group25.pem", "security_groups": [], "ssh_user": "ubuntu"}},
  "roles": {{"couchdb": {{"count": 2, "volume": {{"size": 40}}}}}},
  "vars": {{"couchdb_admin": "admin"}}
}}
"#
        ),
    )
    .unwrap();
    path
}

/// Runs `provision ARGS` in `dir` with test credentials (and no instance-metadata lookups).
pub async fn cloud(dir: &Path, args: &[&str]) -> super::Run {
    cloud_with_env(dir, args, &[]).await
}

/// As `cloud`, with more environment variables.
pub async fn cloud_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> super::Run {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_provision"))
        .args(args)
        .envs(env.iter().copied())
        .env("PROVISION_KNOWN_HOSTS", dir.join("known_hosts"))
        .current_dir(dir)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("provision runs");
    super::Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
