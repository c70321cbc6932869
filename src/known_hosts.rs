//! OpenSSH known_hosts: look a host's key up, record new keys (accept-new), refuse changed ones.
//!
//! Hashed entries (`|1|salt|hash`), comma-separated names, `[host]:port` and `@revoked` markers are
//! understood. A host that is known with a key of another type counts as changed, not as unknown:
//! otherwise a man in the middle could present a different key type and be accepted silently.

use base64::Engine;
use hmac::{Hmac, Mac};
use russh::keys::{HashAlg, PublicKey};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// The presented key is recorded for this host.
    Known,
    /// The host has no entry: the caller may record the key.
    Unknown,
    /// The host is recorded with other keys.
    Changed {
        line: usize,
        recorded_fingerprint: String,
    },
    /// The key is marked `@revoked`.
    Revoked { line: usize },
}

#[derive(Debug, thiserror::Error)]
pub enum KnownHostsError {
    #[error("cannot read known_hosts file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot record host key in {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A known_hosts file shared by every connection of a run; writes are serialised.
pub struct KnownHosts {
    path: PathBuf,
    write_lock: Mutex<()>,
    written: std::sync::atomic::AtomicBool,
}

/// `host` for port 22, `[host]:port` otherwise, as OpenSSH writes it.
pub fn host_pattern(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

impl KnownHosts {
    pub fn new(path: PathBuf) -> KnownHosts {
        KnownHosts {
            path,
            write_lock: Mutex::new(()),
            written: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Held while the file is read and rewritten: the threads of this process take the mutex,
    /// other processes (two deploys at once) an exclusive lock on the file's folder, which the
    /// atomic rename leaves in place (a lock on the file itself would be on the replaced inode).
    fn exclusive(&self) -> Result<(std::sync::MutexGuard<'_, ()>, std::fs::File), KnownHostsError> {
        let guard = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let wrap = |source| KnownHostsError::Write {
            path: self.path.clone(),
            source,
        };
        let dir = match self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            Some(dir) => {
                crate::fsutil::create_private_dir(dir).map_err(wrap)?;
                dir
            }
            None => Path::new("."),
        };
        let folder = std::fs::File::open(dir).map_err(wrap)?;
        folder.lock().map_err(wrap)?;
        Ok((guard, folder))
    }

    /// Whether the file was written (a new host recorded, or keys pinned) since the last call.
    pub fn take_written(&self) -> bool {
        self.written
            .swap(false, std::sync::atomic::Ordering::Relaxed)
    }

    /// The line that says, once, that host keys went into the file (`~` for the home folder,
    /// as OpenSSH users read the path).
    pub fn written_note(&self) -> Option<String> {
        let home = std::env::home_dir().filter(|h| !h.as_os_str().is_empty());
        let shown = match home.as_ref().and_then(|h| self.path.strip_prefix(h).ok()) {
            Some(rest) => format!("~/{}", rest.display()),
            None => self.path.display().to_string(),
        };
        self.take_written()
            .then(|| format!("ssh: host keys recorded in {shown}"))
    }

    fn mark_written(&self) {
        self.written
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn check(
        &self,
        host: &str,
        port: u16,
        key: &PublicKey,
    ) -> Result<Verdict, KnownHostsError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Verdict::Unknown),
            Err(source) => {
                return Err(KnownHostsError::Read {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        Ok(check_text(&text, &host_pattern(host, port), key))
    }

    /// Whether the file records any key for the host (a connection to it is then verified).
    pub fn knows(&self, host: &str, port: u16) -> bool {
        let pattern = host_pattern(host, port);
        std::fs::read_to_string(&self.path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .any(|first| {
                !first.starts_with('#')
                    && !first.starts_with('@')
                    && hosts_field_matches(first, &pattern)
            })
    }

    pub fn record(&self, host: &str, port: u16, key: &PublicKey) -> Result<(), KnownHostsError> {
        use std::io::Write;
        let _held = self.exclusive()?;
        let wrap = |source| KnownHostsError::Write {
            path: self.path.clone(),
            source,
        };
        let existing = std::fs::read(&self.path).unwrap_or_default();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(wrap)?;
        let openssh = key
            .to_openssh()
            .map_err(|e| wrap(std::io::Error::other(e.to_string())))?;
        let separator = if existing.is_empty() || existing.ends_with(b"\n") {
            ""
        } else {
            "\n"
        };
        writeln!(file, "{separator}{} {openssh}", host_pattern(host, port)).map_err(wrap)?;
        self.mark_written();
        Ok(())
    }
}

/// What pinning changed in the file.
#[derive(Debug, PartialEq)]
pub struct Pinned {
    /// Entries for the host with other keys, dropped: the cloud vouches for the new keys.
    pub replaced: usize,
    pub added: usize,
}

impl KnownHosts {
    /// Makes `keys` the host's recorded keys. Used with keys read through the cloud's API (the
    /// console output cloud-init writes, or the container itself), which vouches for them: an
    /// entry with another key is a previous machine at a reused address, and is dropped.
    /// `@revoked` lines are kept. The file is rewritten atomically.
    pub fn pin(
        &self,
        host: &str,
        port: u16,
        keys: &[PublicKey],
    ) -> Result<Pinned, KnownHostsError> {
        let _held = self.exclusive()?;
        let pattern = host_pattern(host, port);
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(KnownHostsError::Read {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let mut kept = Vec::new();
        let mut present: Vec<&PublicKey> = Vec::new();
        let mut replaced = 0;
        for line in text.lines() {
            let mut fields = line.split_whitespace();
            let first = fields.next().unwrap_or_default();
            let entry = !first.is_empty() && !first.starts_with('#') && !first.starts_with('@');
            if entry && hosts_field_matches(first, &pattern) {
                let recorded = match (fields.next(), fields.next()) {
                    (Some(a), Some(b)) => PublicKey::from_openssh(&format!("{a} {b}")).ok(),
                    _ => None,
                };
                match recorded.and_then(|r| keys.iter().find(|k| k.key_data() == r.key_data())) {
                    Some(k) => present.push(k),
                    None => {
                        replaced += 1;
                        continue;
                    }
                }
            }
            kept.push(line.to_string());
        }
        let mut added = 0;
        for key in keys {
            if present.iter().any(|p| p.key_data() == key.key_data()) {
                continue;
            }
            let openssh = key.to_openssh().map_err(|e| KnownHostsError::Write {
                path: self.path.clone(),
                source: std::io::Error::other(e.to_string()),
            })?;
            kept.push(format!("{pattern} {openssh}"));
            added += 1;
        }
        if replaced + added > 0 {
            let content = kept.join("\n") + "\n";
            crate::fsutil::write_atomically(&self.path, content.as_bytes()).map_err(|source| {
                KnownHostsError::Write {
                    path: self.path.clone(),
                    source,
                }
            })?;
            self.mark_written();
        }
        Ok(Pinned { replaced, added })
    }
}

fn check_text(text: &str, pattern: &str, key: &PublicKey) -> Verdict {
    let mut changed = None;
    let mut known = false;
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let mut first = fields.next().unwrap_or_default();
        let marker = if first.starts_with('@') {
            let m = first;
            first = fields.next().unwrap_or_default();
            Some(m)
        } else {
            None
        };
        if marker == Some("@cert-authority") || !hosts_field_matches(first, pattern) {
            continue;
        }
        let (Some(algorithm), Some(blob)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Ok(recorded) = PublicKey::from_openssh(&format!("{algorithm} {blob}")) else {
            continue;
        };
        let same = recorded.key_data() == key.key_data();
        if marker == Some("@revoked") {
            if same {
                return Verdict::Revoked { line: line_no };
            }
            continue;
        }
        if same {
            known = true;
        } else if changed.is_none() {
            changed = Some((line_no, fingerprint(&recorded)));
        }
    }
    match (known, changed) {
        (true, _) => Verdict::Known,
        (false, Some((line, recorded_fingerprint))) => Verdict::Changed {
            line,
            recorded_fingerprint,
        },
        (false, None) => Verdict::Unknown,
    }
}

fn hosts_field_matches(field: &str, pattern: &str) -> bool {
    let mut matched = false;
    for entry in field.split(',') {
        if let Some(hashed) = entry.strip_prefix("|1|") {
            if hashed_matches(hashed, pattern) {
                matched = true;
            }
        } else if let Some(negated) = entry.strip_prefix('!') {
            if crate::inventory::glob_match(negated, pattern) {
                return false;
            }
        } else if crate::inventory::glob_match(entry, pattern) {
            matched = true;
        }
    }
    matched
}

fn hashed_matches(hashed: &str, pattern: &str) -> bool {
    let b64 = base64::engine::general_purpose::STANDARD;
    let Some((salt, hash)) = hashed.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (b64.decode(salt), b64.decode(hash)) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(pattern.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED_A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFIUpgwL8W8kruHWVMFOGhA5GyVH21e7o58jijvbAP2s";
    const ED_B: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICkdTQLocKb0a0aQya+INHqXQdBquBBsC0D4yFdHAaRH";

    fn key(s: &str) -> PublicKey {
        PublicKey::from_openssh(s).unwrap()
    }

    #[test]
    fn pinning_replaces_a_previous_machines_key_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        std::fs::write(
            &path,
            format!("# mine\nexample.org {ED_A}\n10.0.0.5 {ED_A}\n@revoked 10.0.0.5 {ED_B}\n"),
        )
        .unwrap();
        let kh = KnownHosts::new(path.clone());
        let pinned = kh.pin("10.0.0.5", 22, &[key(ED_B)]).unwrap();
        assert_eq!(
            pinned,
            Pinned {
                replaced: 1,
                added: 1
            }
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            format!("# mine\nexample.org {ED_A}\n@revoked 10.0.0.5 {ED_B}\n10.0.0.5 {ED_B}\n")
        );
        assert_eq!(
            kh.pin("10.0.0.5", 22, &[key(ED_B)]).unwrap(),
            Pinned {
                replaced: 0,
                added: 0
            }
        );
        assert!(kh.knows("10.0.0.5", 22));
        assert!(kh.knows("example.org", 22));
        assert!(!kh.knows("10.0.0.5", 2222));
        assert!(!kh.knows("10.0.0.6", 22));
    }

    #[test]
    fn plain_port_and_changed_entries() {
        let text = format!("# comment\n\nexample.org {ED_A}\n[127.0.0.1]:2222 {ED_A}\n");
        assert_eq!(check_text(&text, "example.org", &key(ED_A)), Verdict::Known);
        assert_eq!(
            check_text(&text, "[127.0.0.1]:2222", &key(ED_A)),
            Verdict::Known
        );
        assert_eq!(check_text(&text, "127.0.0.1", &key(ED_A)), Verdict::Unknown);
        match check_text(&text, "[127.0.0.1]:2222", &key(ED_B)) {
            Verdict::Changed {
                line,
                recorded_fingerprint,
            } => {
                assert_eq!(line, 4);
                assert_eq!(recorded_fingerprint, fingerprint(&key(ED_A)));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hashed_and_revoked_entries() {
        let salt = base64::engine::general_purpose::STANDARD.encode(b"0123456789abcdefghij");
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(b"0123456789abcdefghij").unwrap();
        mac.update(b"example.org");
        let hash = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let text = format!("|1|{salt}|{hash} {ED_A}\n@revoked * {ED_B}\n");
        assert_eq!(check_text(&text, "example.org", &key(ED_A)), Verdict::Known);
        assert_eq!(check_text(&text, "other.org", &key(ED_A)), Verdict::Unknown);
        assert_eq!(
            check_text(&text, "other.org", &key(ED_B)),
            Verdict::Revoked { line: 2 }
        );
    }

    #[test]
    fn record_then_known() {
        let dir = tempfile::tempdir().unwrap();
        let kh = KnownHosts::new(dir.path().join("sub/known_hosts"));
        assert_eq!(kh.check("h", 2200, &key(ED_A)).unwrap(), Verdict::Unknown);
        kh.record("h", 2200, &key(ED_A)).unwrap();
        kh.record("g", 22, &key(ED_B)).unwrap();
        assert_eq!(kh.check("h", 2200, &key(ED_A)).unwrap(), Verdict::Known);
        assert_eq!(kh.check("g", 22, &key(ED_B)).unwrap(), Verdict::Known);
        let text = std::fs::read_to_string(kh.path()).unwrap();
        assert!(text.starts_with("[h]:2200 ssh-ed25519 "), "{text}");
    }
}
