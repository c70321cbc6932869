//! Shell building blocks shared by the file-handling modules: quoting, a stat look and its parser,
//! attribute fixes and atomic writes.

use super::module::{DecideError, Step};

/// Quotes a string for POSIX sh.
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c))
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
        let p = quote(path);
        let mut parts = Vec::new();
        if let Some(mode) = self.mode {
            parts.push(format!("chmod {mode:04o} {p}"));
        }
        match (&self.owner, &self.group) {
            (Some(o), Some(g)) => parts.push(format!("chown {}:{} {p}", quote(o), quote(g))),
            (Some(o), None) => parts.push(format!("chown {} {p}", quote(o))),
            (None, Some(g)) => parts.push(format!("chgrp {} {p}", quote(g))),
            (None, None) => {}
        }
        (!parts.is_empty()).then(|| parts.join(" && "))
    }
}

/// Writes stdin to `path` atomically (temporary file in the same directory, then rename), with the
/// wanted attributes, or those of the file it replaces, or mode 0644 for a new file.
pub fn atomic_write_step(path: &str, content: Vec<u8>, attributes: &Attributes) -> Step {
    let p = quote(path);
    let dir = match std::path::Path::new(path).parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_string_lossy().into_owned(),
        _ => ".".to_string(),
    };
    let d = quote(&dir);
    let mode = match attributes.mode {
        Some(m) => format!("chmod {m:04o} \"$t\""),
        None => {
            format!("if [ -e {p} ]; then chmod --reference={p} \"$t\"; else chmod 0644 \"$t\"; fi")
        }
    };
    let owner = match (&attributes.owner, &attributes.group) {
        (None, None) => {
            format!("if [ -e {p} ]; then chown --reference={p} \"$t\" 2>/dev/null || true; fi")
        }
        (Some(o), Some(g)) => format!("chown {}:{} \"$t\"", quote(o), quote(g)),
        (Some(o), None) => format!("chown {} \"$t\"", quote(o)),
        (None, Some(g)) => format!("chgrp {} \"$t\"", quote(g)),
    };
    Step {
        script: format!(
            "set -e; [ -d {d} ] || {{ echo \"directory {dir} does not exist\" >&2; exit 1; }}; \
             t=$(mktemp {d}/.provision.XXXXXXXX); trap 'rm -f \"$t\"' EXIT; cat > \"$t\"; \
             {mode}; {owner}; mv -f \"$t\" {p}; trap - EXIT"
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
