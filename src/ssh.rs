//! SSH with russh: one authenticated connection per host, verified against known_hosts,
//! reused for every command of a run (each command is a channel on it).

use crate::known_hosts::{KnownHosts, Verdict, fingerprint};
use russh::client;
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKey};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("cannot connect to {target}: {reason}")]
    Connect { target: String, reason: String },
    #[error(
        "HOST KEY CHANGED for {target}: known_hosts {path}:{line} has {recorded}, the server presented {presented}. \
         This may be a man-in-the-middle attack, or the host was rebuilt; if you know it was rebuilt, \
         remove that line (ssh-keygen -R '{pattern}' -f {path}) and run again"
    )]
    HostKeyChanged {
        target: String,
        pattern: String,
        path: String,
        line: usize,
        recorded: String,
        presented: String,
    },
    #[error("host key {presented} of {target} is marked @revoked in {path}:{line}")]
    HostKeyRevoked {
        target: String,
        path: String,
        line: usize,
        presented: String,
    },
    #[error(
        "{target}: key {key} was refused for user `{user}` (check ansible_user/--user and the key file)"
    )]
    AuthRejected {
        target: String,
        user: String,
        key: String,
    },
    #[error("{target}: {reason}")]
    Protocol { target: String, reason: String },
    #[error("known_hosts: {0}")]
    KnownHosts(#[from] crate::known_hosts::KnownHostsError),
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("private key file {0} does not exist")]
    Missing(PathBuf),
    #[error(
        "private key file {path} is readable by others (mode {mode:o}); ssh refuses such keys: run `chmod 600 {path}`"
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("cannot load private key {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
}

/// Loads a private key (PEM PKCS#1 RSA as EC2/OpenStack hand out, OpenSSH format, PKCS#8),
/// refusing files that others can read, as OpenSSH does.
pub fn load_key(path: &Path) -> Result<Arc<PrivateKey>, KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|_| KeyError::Missing(path.to_owned()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::TooOpen {
            path: path.to_owned(),
            mode,
        });
    }
    let key = russh::keys::load_secret_key(path, None).map_err(|e| KeyError::Unreadable {
        path: path.to_owned(),
        reason: match e {
            russh::keys::Error::KeyIsEncrypted => {
                "the key is encrypted with a passphrase; use an unencrypted key".to_string()
            }
            other => other.to_string(),
        },
    })?;
    Ok(Arc::new(key))
}

#[derive(Clone)]
pub struct Target {
    /// The inventory name, used in messages.
    pub name: String,
    pub address: String,
    pub port: u16,
    pub user: String,
    pub key: Arc<PrivateKey>,
    pub key_path: PathBuf,
}

impl Target {
    pub fn label(&self) -> String {
        if self.name == self.address && self.port == 22 {
            self.name.clone()
        } else {
            format!("{} ({}:{})", self.name, self.address, self.port)
        }
    }
}

#[derive(Clone)]
pub struct ConnectOptions {
    pub known_hosts: Arc<KnownHosts>,
    pub timeout: Duration,
    /// Further attempts after the first when the host does not answer.
    pub retries: u32,
    pub first_backoff: Duration,
}

/// What the host-key check saw, kept by the handler so the caller can explain a refusal.
#[derive(Default)]
struct KeyCheck {
    problem: Option<SshError>,
    learned: bool,
}

struct Handler {
    target: String,
    address: String,
    port: u16,
    known_hosts: Arc<KnownHosts>,
    check: Arc<Mutex<KeyCheck>>,
}

impl client::Handler for Handler {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        presented: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key = match presented {
            russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } => key,
            // Host certificates would need a trusted CA list; treat the certified key as the host key.
            russh::keys::PublicKeyOrCertificate::Certificate(cert) => {
                &PublicKey::from(cert.public_key().clone())
            }
        };
        let mut check = self.check.lock().unwrap_or_else(|p| p.into_inner());
        let path = self.known_hosts.path().display().to_string();
        match self.known_hosts.check(&self.address, self.port, key) {
            Ok(Verdict::Known) => Ok(true),
            Ok(Verdict::Unknown) => match self.known_hosts.record(&self.address, self.port, key) {
                Ok(()) => {
                    check.learned = true;
                    Ok(true)
                }
                Err(e) => {
                    check.problem = Some(e.into());
                    Ok(false)
                }
            },
            Ok(Verdict::Changed {
                line,
                recorded_fingerprint,
            }) => {
                check.problem = Some(SshError::HostKeyChanged {
                    target: self.target.clone(),
                    pattern: crate::known_hosts::host_pattern(&self.address, self.port),
                    path,
                    line,
                    recorded: recorded_fingerprint,
                    presented: fingerprint(key),
                });
                Ok(false)
            }
            Ok(Verdict::Revoked { line }) => {
                check.problem = Some(SshError::HostKeyRevoked {
                    target: self.target.clone(),
                    path,
                    line,
                    presented: fingerprint(key),
                });
                Ok(false)
            }
            Err(e) => {
                check.problem = Some(e.into());
                Ok(false)
            }
        }
    }
}

pub struct Connection {
    handle: client::Handle<Handler>,
    label: String,
    /// True when this connection recorded the host's key in known_hosts for the first time.
    pub learned_host_key: bool,
    /// Commands run so far, each one round trip.
    commands: std::sync::atomic::AtomicUsize,
}

#[derive(Debug, Clone)]
pub struct ExecOutput {
    pub status: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

fn client_config() -> Arc<client::Config> {
    Arc::new(client::Config {
        // Without it each extra command on an open connection waits for Nagle (~45 ms instead of ~4).
        nodelay: true,
        keepalive_interval: Some(Duration::from_secs(15)),
        keepalive_max: 4,
        ..client::Config::default()
    })
}

/// Failures worth another attempt: the host is not (yet) answering.
fn is_transient(error: &SshError) -> bool {
    matches!(error, SshError::Connect { .. })
}

impl Connection {
    /// Connects and authenticates, retrying with exponential backoff while the host does not answer
    /// (fresh cloud instances refuse SSH for a while). Host-key and authentication refusals are final.
    pub async fn open(target: &Target, options: &ConnectOptions) -> Result<Connection, SshError> {
        let mut backoff = options.first_backoff;
        let mut attempt = 0;
        loop {
            match Connection::open_once(target, options).await {
                Ok(c) => return Ok(c),
                Err(e) if is_transient(&e) && attempt < options.retries => {
                    attempt += 1;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
                Err(SshError::Connect { target: t, reason }) if attempt > 0 => {
                    return Err(SshError::Connect {
                        target: t,
                        reason: format!("{reason} (after {} attempts)", attempt + 1),
                    });
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn open_once(target: &Target, options: &ConnectOptions) -> Result<Connection, SshError> {
        let label = target.label();
        let check = Arc::new(Mutex::new(KeyCheck::default()));
        let handler = Handler {
            target: label.clone(),
            address: target.address.clone(),
            port: target.port,
            known_hosts: options.known_hosts.clone(),
            check: check.clone(),
        };
        let connect_error = |reason: String| SshError::Connect {
            target: label.clone(),
            reason,
        };
        let addr = (target.address.as_str(), target.port);
        let connecting = client::connect(client_config(), addr, handler);
        let result = tokio::time::timeout(options.timeout, connecting).await;
        let mut handle = match result {
            Err(_) => {
                return Err(connect_error(format!(
                    "no answer within {}s",
                    options.timeout.as_secs_f32()
                )));
            }
            Ok(Err(e)) => {
                if let Some(problem) = check
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .problem
                    .take()
                {
                    return Err(problem);
                }
                return Err(connect_error(describe_russh_error(&e)));
            }
            Ok(Ok(h)) => h,
        };
        let learned_host_key = check.lock().unwrap_or_else(|p| p.into_inner()).learned;

        let hash_alg = if target.key.algorithm().is_rsa() {
            handle
                .best_supported_rsa_hash()
                .await
                .map_err(|e| connect_error(describe_russh_error(&e)))?
                .flatten()
        } else {
            None
        };
        let auth = tokio::time::timeout(
            options.timeout,
            handle.authenticate_publickey(
                target.user.clone(),
                PrivateKeyWithHashAlg::new(target.key.clone(), hash_alg),
            ),
        )
        .await
        .map_err(|_| connect_error("authentication timed out".to_string()))?
        .map_err(|e| connect_error(describe_russh_error(&e)))?;
        if !auth.success() {
            return Err(SshError::AuthRejected {
                target: label,
                user: target.user.clone(),
                key: target.key_path.display().to_string(),
            });
        }
        Ok(Connection {
            handle,
            label,
            learned_host_key,
            commands: Default::default(),
        })
    }

    /// How many commands (round trips) ran over this connection.
    pub fn round_trips(&self) -> usize {
        self.commands.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs a command through the login shell, feeding `stdin` if given, and collects its output.
    pub async fn exec(&self, command: &str, stdin: Option<&[u8]>) -> Result<ExecOutput, SshError> {
        self.commands
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let proto = |reason: String| SshError::Protocol {
            target: self.label.clone(),
            reason,
        };
        let mut channel = self.handle.channel_open_session().await.map_err(|e| {
            proto(format!(
                "cannot open a channel: {}",
                describe_russh_error(&e)
            ))
        })?;
        channel
            .exec(true, command)
            .await
            .map_err(|e| proto(format!("exec failed: {}", describe_russh_error(&e))))?;
        if let Some(data) = stdin {
            channel.data_bytes(data.to_vec()).await.map_err(|e| {
                proto(format!(
                    "sending input failed: {}",
                    describe_russh_error(&e)
                ))
            })?;
        }
        channel.eof().await.map_err(|e| {
            proto(format!(
                "closing input failed: {}",
                describe_russh_error(&e)
            ))
        })?;
        let mut out = ExecOutput {
            status: -1,
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        let mut got_status = false;
        while let Some(msg) = channel.wait().await {
            match msg {
                russh::ChannelMsg::Data { data } => out.stdout.extend_from_slice(&data),
                russh::ChannelMsg::ExtendedData { data, .. } => out.stderr.extend_from_slice(&data),
                russh::ChannelMsg::ExitStatus { exit_status } => {
                    out.status = exit_status as i32;
                    got_status = true;
                }
                russh::ChannelMsg::ExitSignal { signal_name, .. } => {
                    out.status = 128;
                    out.stderr
                        .extend_from_slice(format!("killed by signal {signal_name:?}").as_bytes());
                    got_status = true;
                }
                _ => {}
            }
        }
        if !got_status {
            return Err(proto(
                "the connection closed before the command finished".to_string(),
            ));
        }
        Ok(out)
    }

    pub async fn close(self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}

fn describe_russh_error(e: &russh::Error) -> String {
    match e {
        russh::Error::IO(io) => io.to_string(),
        russh::Error::Disconnect => "the server closed the connection".to_string(),
        russh::Error::ConnectionTimeout => "the connection timed out".to_string(),
        other => other.to_string(),
    }
}
