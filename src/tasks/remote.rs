//! Shell building blocks shared by the file-handling modules: quoting, a stat look and its parser,
//! attribute fixes and atomic writes.

use super::module::{DecideError, Step};

/// Quotes a string for POSIX sh: the one way a value reaches a remote script. A bare word is
/// left bare only when no character in it means anything to the shell (`=` does: `a=b` in command
/// position is an assignment).
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:,@%".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A look printing `absent`, or a `stat|…` line plus a `sha256|…` line for regular files when
/// `checksum` is set and a `link|…` line for symlinks.
pub fn stat_look(path: &str, checksum: bool) -> String {
    let p = quote(path);
    let sum = if checksum {
        format!("[ -f {p} ] && [ ! -L {p} ] && printf 'sha256|' && sha256sum < {p}; ")
    } else {
        String::new()
    };
    format!(
        "if [ -e {p} ] || [ -L {p} ]; then stat -c 'stat|%F|%a|%U|%u|%G|%g' -- {p}; {sum}\
         [ -L {p} ] && printf 'link|%s\\n' \"$(readlink -- {p})\"; true; else echo absent; fi"
    )
}

#[derive(Debug, Clone, PartialEq)]
pub enum FileKind {
    Regular,
    Directory,
    Symlink,
    Other(String),
}

impl FileKind {
    pub fn describe(&self) -> &str {
        match self {
            FileKind::Regular => "a regular file",
            FileKind::Directory => "a directory",
            FileKind::Symlink => "a symbolic link",
            FileKind::Other(s) => s,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FileState {
    pub kind: FileKind,
    pub mode: u32,
    pub owner: String,
    pub uid: String,
    pub group: String,
    pub gid: String,
    pub sha256: Option<String>,
    pub link_target: Option<String>,
}

/// Parses the output of [`stat_look`]: `None` when the path does not exist.
pub fn parse_stat(output: &str) -> Result<Option<FileState>, DecideError> {
    let mut state: Option<FileState> = None;
    for line in output.lines() {
        if line == "absent" {
            return Ok(None);
        }
        if let Some(rest) = line.strip_prefix("stat|") {
            let f: Vec<&str> = rest.split('|').collect();
            if f.len() != 6 {
                return Err(DecideError(format!("unexpected stat output `{line}`")));
            }
            let kind = match f[0] {
                "regular file" | "regular empty file" => FileKind::Regular,
                "directory" => FileKind::Directory,
                "symbolic link" => FileKind::Symlink,
                other => FileKind::Other(other.to_string()),
            };
            let mode = u32::from_str_radix(f[1], 8)
                .map_err(|_| DecideError(format!("unexpected mode `{}` from stat", f[1])))?;
            state = Some(FileState {
                kind,
                mode,
                owner: f[2].to_string(),
                uid: f[3].to_string(),
                group: f[4].to_string(),
                gid: f[5].to_string(),
                sha256: None,
                link_target: None,
            });
        } else if let Some(sum) = line.strip_prefix("sha256|") {
            // `sha256sum < file` prints "<hash>  -".
            if let Some(s) = state.as_mut() {
                s.sha256 = sum.split_whitespace().next().map(String::from);
            }
        } else if let Some(target) = line.strip_prefix("link|")
            && let Some(s) = state.as_mut()
        {
            s.link_target = Some(target.to_string());
        }
    }
    state.map(Some).ok_or_else(|| {
        DecideError(format!(
            "could not read the file's state: {}",
            output.trim()
        ))
    })
}

/// Parses `0644`, `644` or `1777` as an octal mode.
pub fn parse_mode(text: &str) -> Result<u32, String> {
    let digits = text.trim();
    if digits.is_empty() || digits.len() > 4 || !digits.chars().all(|c| ('0'..='7').contains(&c)) {
        return Err(format!(
            "mode `{text}` must be octal digits such as '0644' or '0755' (quote it in YAML)"
        ));
    }
    Ok(u32::from_str_radix(digits, 8).expect("octal digits"))
}

/// Owner, group and mode wanted for a path; `None` leaves that attribute alone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attributes {
    pub mode: Option<u32>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

impl Attributes {
    /// What differs between the wanted attributes and the observed ones.
    pub fn differences(&self, state: &FileState) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(mode) = self.mode
            && mode != state.mode
        {
            out.push(format!("mode {:04o} -> {:04o}", state.mode, mode));
        }
        if let Some(owner) = &self.owner
            && owner != &state.owner
            && owner != &state.uid
        {
            out.push(format!("owner {} -> {owner}", state.owner));
        }
        if let Some(group) = &self.group
            && group != &state.group
            && group != &state.gid
        {
            out.push(format!("group {} -> {group}", state.group));
        }
        out
    }

    /// chmod/chown commands setting every wanted attribute on `path`.
    pub fn apply_script(&self, path: &str) -> Option<String> {
        self.apply_script_to_word(&quote(path))
    }

    /// The same for a path that is already a shell word (`"$d"` in a loop).
    pub fn apply_script_to_word(&self, p: &str) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(mode) = self.mode {
            parts.push(format!("chmod {mode:04o} -- {p}"));
        }
        if let Some(owner) = self.owner_script(p) {
            parts.push(owner);
        }
        (!parts.is_empty()).then(|| parts.join(" && "))
    }

    /// chown/chgrp setting the wanted owner and group on `target` (already a shell word).
    fn owner_script(&self, target: &str) -> Option<String> {
        match (&self.owner, &self.group) {
            (Some(o), Some(g)) => Some(format!("chown -- {} {target}", quote(&format!("{o}:{g}")))),
            (Some(o), None) => Some(format!("chown -- {} {target}", quote(o))),
            (None, Some(g)) => Some(format!("chgrp -- {} {target}", quote(g))),
            (None, None) => None,
        }
    }
}

/// Writes `content` to `path` whole or not at all: the content goes on stdin to a temporary file in
/// the same directory, which is renamed over `path` only when its length and SHA-256 are the ones
/// sent. A transfer cut short (the controller killed, the connection lost) looks to `cat` like a
/// normal end of input; the check turns it into a failure that leaves `path` as it was and removes
/// the temporary file. The file gets the wanted attributes, or those of the file it replaces, or
/// mode 0644 when new.
pub fn atomic_write_step(path: &str, content: Vec<u8>, attributes: &Attributes) -> Step {
    let p = quote(path);
    let dir = match std::path::Path::new(path).parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_string_lossy().into_owned(),
        _ => ".".to_string(),
    };
    let d = quote(&dir);
    let template = quote(&format!("{dir}/.provision.XXXXXXXX"));
    let mode = match attributes.mode {
        Some(m) => format!("chmod {m:04o} -- \"$t\""),
        None => format!(
            "if [ -e {p} ]; then chmod --reference={p} -- \"$t\"; else chmod 0644 -- \"$t\"; fi"
        ),
    };
    let owner = attributes.owner_script("\"$t\"").unwrap_or_else(|| {
        format!("if [ -e {p} ]; then chown --reference={p} -- \"$t\" 2>/dev/null || true; fi")
    });
    let length = quote(&content.len().to_string());
    let sum = quote(&sha256_hex(&content));
    Step {
        script: format!(
            "set -e; [ -d {d} ] || {{ printf 'directory %s does not exist\\n' {d} >&2; exit 1; }}; \
             t=$(mktemp -- {template}); trap 'rm -f -- \"$t\"' EXIT; trap 'exit 1' HUP INT TERM PIPE; \
             cat > \"$t\"; n=$(wc -c < \"$t\"); s=$(sha256sum < \"$t\"); s=${{s%% *}}; \
             if [ \"$n\" -eq {length} ] 2>/dev/null && [ \"$s\" = {sum} ]; then \
             {mode}; {owner}; mv -f -- \"$t\" {p}; trap - EXIT; \
             else rm -f -- \"$t\"; trap - EXIT; \
             printf '%s arrived incomplete (%s of %s bytes, sha256 %s instead of %s): left as it was\\n' \
             {p} \"$n\" {length} \"$s\" {sum} >&2; exit 1; fi"
        ),
        stdin: Some(content),
    }
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("/etc/x.conf"), "/etc/x.conf");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a=b"), "'a=b'");
    }

    /// Runs a step's script with the local `sh`, feeding `stdin`; returns (exit status, stderr).
    fn run_locally(step: &Step, stdin: &[u8], cwd: &std::path::Path) -> (i32, String) {
        use std::io::Write;
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(&step.script)
            .current_dir(cwd)
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("sh runs");
        // A script that refuses before reading its input (a missing directory) closes the pipe
        // early, as it would on a host: a broken pipe here is not the test's failure.
        let written = child.stdin.take().unwrap().write_all(stdin);
        if let Err(e) = written {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn leftovers(dir: &std::path::Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".provision."))
            .collect()
    }

    #[test]
    fn atomic_write_renames_only_whole_content() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("app.conf");
        std::fs::write(&dest, "old\n").unwrap();
        let content = b"new content\n".repeat(1000);
        let step = atomic_write_step(
            dest.to_str().unwrap(),
            content.clone(),
            &Attributes::default(),
        );
        // What a killed controller or a dropped connection looks like: input that ends early.
        let (status, stderr) = run_locally(&step, &content[..5000], dir.path());
        assert_eq!(status, 1, "{stderr}");
        assert!(
            stderr.contains("arrived incomplete (5000 of 12000 bytes"),
            "{stderr}"
        );
        assert_eq!(std::fs::read(&dest).unwrap(), b"old\n");
        assert!(leftovers(dir.path()).is_empty());
        // Same length, other bytes.
        let mut altered = content.clone();
        altered[0] = b'N';
        assert_eq!(run_locally(&step, &altered, dir.path()).0, 1);
        assert_eq!(std::fs::read(&dest).unwrap(), b"old\n");
        assert!(leftovers(dir.path()).is_empty());
        let (status, stderr) = run_locally(&step, &content, dir.path());
        assert_eq!(status, 0, "{stderr}");
        assert_eq!(std::fs::read(&dest).unwrap(), content);
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn atomic_write_keeps_hostile_names_literal() {
        let dir = tempfile::tempdir().unwrap();
        let canary = dir.path().join("CANARY");
        // The canary is relative: a command would run in `dir`.
        for name in ["d$(touch CANARY)\"`touch CANARY`", "-x;touch CANARY&&'\\n"] {
            let missing = dir.path().join(name).join("f");
            let step = atomic_write_step(
                missing.to_str().unwrap(),
                b"x".to_vec(),
                &Attributes::default(),
            );
            let (status, stderr) = run_locally(&step, b"x", dir.path());
            assert_eq!(status, 1);
            assert!(stderr.contains("does not exist"), "{stderr}");
            assert!(stderr.contains(name), "{stderr}");
            std::fs::create_dir(dir.path().join(name)).unwrap();
            let step = atomic_write_step(
                missing.to_str().unwrap(),
                b"x".to_vec(),
                &Attributes {
                    mode: Some(0o600),
                    ..Attributes::default()
                },
            );
            assert_eq!(run_locally(&step, b"x", dir.path()), (0, String::new()));
            assert_eq!(std::fs::read(&missing).unwrap(), b"x");
        }
        assert!(!canary.exists());
    }

    #[test]
    fn parses_stat_output() {
        assert_eq!(parse_stat("absent\n").unwrap(), None);
        let s = parse_stat("stat|regular file|644|root|0|adm|4\nsha256|abc\n")
            .unwrap()
            .unwrap();
        assert_eq!(s.kind, FileKind::Regular);
        assert_eq!(s.mode, 0o644);
        assert_eq!(s.sha256.as_deref(), Some("abc"));
        let l = parse_stat("stat|symbolic link|777|u|1000|u|1000\nlink|/opt/x\n")
            .unwrap()
            .unwrap();
        assert_eq!(l.link_target.as_deref(), Some("/opt/x"));
        assert!(parse_stat("sudo: a password is required").is_err());
    }

    #[test]
    fn attribute_differences() {
        let state = parse_stat("stat|directory|755|root|0|root|0\n")
            .unwrap()
            .unwrap();
        let want = Attributes {
            mode: Some(0o750),
            owner: Some("0".into()),
            group: Some("adm".into()),
        };
        assert_eq!(
            want.differences(&state),
            vec!["mode 0755 -> 0750", "group root -> adm"]
        );
        assert!(Attributes::default().differences(&state).is_empty());
    }

    #[test]
    fn modes() {
        assert_eq!(parse_mode("0644"), Ok(0o644));
        assert_eq!(parse_mode("1777"), Ok(0o1777));
        assert!(parse_mode("u+x").is_err());
        assert!(parse_mode("0988").is_err());
    }
}
