//! Ansible-compatible INI inventories: parse (values typed as Ansible types them), select hosts,
//! show them as `ansible-inventory` does, write atomically.

pub mod edit;
mod literal;
mod ranges;
mod vars_dirs;
pub mod view;

use indexmap::IndexMap;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub use literal::parse_value;

/// The implicit groups every inventory has.
pub const ALL: &str = "all";
pub const UNGROUPED: &str = "ungrouped";

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("cannot read inventory {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("cannot write inventory {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Default)]
pub struct Group {
    pub name: String,
    /// Hosts listed directly in the group's section, in order of appearance.
    pub hosts: Vec<String>,
    pub children: Vec<String>,
    pub vars: IndexMap<String, Value>,
    /// Has a `[name]` or `[name:children]` section of its own (a `:vars` section alone does not define it).
    pub defined: bool,
}

#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    /// Variables given on the host's lines (later lines win).
    pub vars: IndexMap<String, Value>,
}

#[derive(Debug, Clone)]
pub struct Inventory {
    pub path: PathBuf,
    pub hosts: IndexMap<String, Host>,
    pub groups: IndexMap<String, Group>,
}

#[derive(Clone, Copy, PartialEq)]
enum Section {
    Hosts,
    Vars,
    Children,
}

impl Inventory {
    /// Reads an inventory file, and the `group_vars/` and `host_vars/` beside it.
    pub fn load(path: &Path) -> Result<Inventory, InventoryError> {
        let text = std::fs::read_to_string(path).map_err(|source| InventoryError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut inv = Inventory::parse(path, &text)?;
        let beside = path.parent().filter(|p| !p.as_os_str().is_empty());
        inv.add_vars_dirs(beside.unwrap_or(Path::new(".")))?;
        Ok(inv)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Inventory, InventoryError> {
        let mut inv = Inventory {
            path: path.to_owned(),
            hosts: IndexMap::new(),
            groups: IndexMap::new(),
        };
        inv.group_mut(ALL).defined = true;
        inv.group_mut(UNGROUPED).defined = true;
        let mut group = UNGROUPED.to_string();
        let mut section = Section::Hosts;
        // Children may name groups defined further down, so they are checked at the end.
        let mut child_refs: Vec<(usize, String)> = Vec::new();
        let mut vars_refs: Vec<(usize, String)> = Vec::new();

        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let err = |message: String| InventoryError::Syntax {
                path: path.to_owned(),
                line: line_no,
                message,
            };
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if line.starts_with('[') && !is_bracketed_ipv6_host(line) {
                // A comment may follow a header: `[web]  # front ends`.
                let header = match line.find(" #").or_else(|| line.find("\t#")) {
                    Some(i) => line[..i].trim_end(),
                    None => line,
                };
                let Some(inner) = header.strip_prefix('[').and_then(|l| l.strip_suffix(']')) else {
                    return Err(err(format!(
                        "section header `{line}` is not closed with `]`"
                    )));
                };
                let (name, kind) = match inner.split_once(':') {
                    None => (inner, Section::Hosts),
                    Some((name, "vars")) => (name, Section::Vars),
                    Some((name, "children")) => (name, Section::Children),
                    Some((_, other)) => {
                        return Err(err(format!(
                            "unknown section type `:{other}` (allowed: `:vars`, `:children`)"
                        )));
                    }
                };
                validate_group_name(name).map_err(err)?;
                let g = inv.group_mut(name);
                if kind == Section::Vars {
                    vars_refs.push((line_no, name.to_string()));
                } else {
                    g.defined = true;
                }
                group = name.to_string();
                section = kind;
                continue;
            }
            match section {
                Section::Hosts => {
                    let mut tokens =
                        shlex::split(line).ok_or_else(|| err("unbalanced quotes".to_string()))?;
                    // As with Python's shlex(comments=True), a word starting with `#` ends the line.
                    if let Some(c) = tokens.iter().position(|t| t.starts_with('#')) {
                        tokens.truncate(c);
                    }
                    let Some((first, rest)) = tokens.split_first() else {
                        continue;
                    };
                    if first.contains('=') {
                        return Err(err(format!(
                            "`{first}` looks like a variable, but a host line starts with a host name \
                             (variables for a group go in a [{group}:vars] section)"
                        )));
                    }
                    let (pattern, port) = split_host_port(first).map_err(err)?;
                    let mut vars = IndexMap::new();
                    if let Some(port) = port {
                        vars.insert("ansible_port".to_string(), Value::from(port));
                    }
                    for token in rest {
                        let Some((key, value)) = token.split_once('=') else {
                            return Err(err(format!(
                                "`{token}` after host `{pattern}` is not of the form key=value"
                            )));
                        };
                        validate_var_name(key).map_err(err)?;
                        vars.insert(key.to_string(), parse_value(value));
                    }
                    for name in ranges::expand(&pattern).map_err(err)? {
                        let host = inv.hosts.entry(name.clone()).or_insert_with(|| Host {
                            name: name.clone(),
                            vars: IndexMap::new(),
                        });
                        host.vars.extend(vars.clone());
                        let members = &mut inv.group_mut(&group).hosts;
                        if !members.contains(&name) {
                            members.push(name);
                        }
                    }
                }
                Section::Vars => {
                    let Some((key, value)) = line.split_once('=') else {
                        return Err(err(format!(
                            "`{line}` in [{group}:vars] is not of the form key=value"
                        )));
                    };
                    let key = key.trim();
                    validate_var_name(key).map_err(err)?;
                    let value = parse_value(value.trim());
                    inv.group_mut(&group).vars.insert(key.to_string(), value);
                }
                Section::Children => {
                    validate_group_name(line).map_err(err)?;
                    if line == group {
                        return Err(err(format!("group `{group}` cannot be its own child")));
                    }
                    let children = &mut inv.group_mut(&group).children;
                    if !children.iter().any(|c| c == line) {
                        children.push(line.to_string());
                    }
                    child_refs.push((line_no, line.to_string()));
                }
            }
        }
        for (line, child) in child_refs {
            if !inv.groups.get(&child).is_some_and(|g| g.defined) {
                return Err(InventoryError::Syntax {
                    path: path.to_owned(),
                    line,
                    message: format!(
                        "child group `{child}` is not defined anywhere (no [{child}] or [{child}:children] section)"
                    ),
                });
            }
        }
        for (line, name) in vars_refs {
            if !inv.groups[&name].defined {
                return Err(InventoryError::Syntax {
                    path: path.to_owned(),
                    line,
                    message: format!(
                        "[{name}:vars] is for a group that is not defined anywhere (no [{name}] or [{name}:children] section)"
                    ),
                });
            }
        }
        // A host is "ungrouped" only when no other group lists it.
        let grouped: Vec<String> = inv
            .groups
            .values()
            .filter(|g| g.name != UNGROUPED && g.name != ALL)
            .flat_map(|g| g.hosts.iter().cloned())
            .collect();
        inv.group_mut(UNGROUPED)
            .hosts
            .retain(|h| !grouped.contains(h));
        Ok(inv)
    }

    fn group_mut(&mut self, name: &str) -> &mut Group {
        self.groups
            .entry(name.to_string())
            .or_insert_with(|| Group {
                name: name.to_string(),
                ..Group::default()
            })
    }

    /// Every host of a group, including those of its child groups, in order of appearance.
    pub fn group_hosts(&self, name: &str) -> Vec<String> {
        if name == ALL {
            return self.hosts.keys().cloned().collect();
        }
        let mut seen_groups = Vec::new();
        let mut out = Vec::new();
        self.collect_hosts(name, &mut seen_groups, &mut out);
        // Keep inventory order, as Ansible does.
        self.hosts
            .keys()
            .filter(|h| out.contains(h))
            .cloned()
            .collect()
    }

    fn collect_hosts(&self, name: &str, seen: &mut Vec<String>, out: &mut Vec<String>) {
        if seen.iter().any(|s| s == name) {
            return;
        }
        seen.push(name.to_string());
        if let Some(group) = self.groups.get(name) {
            out.extend(group.hosts.iter().cloned());
            for child in &group.children {
                self.collect_hosts(child, seen, out);
            }
        }
    }

    /// The groups a host belongs to, directly or through children, without `all`.
    pub fn host_groups(&self, host: &str) -> Vec<String> {
        self.groups
            .keys()
            .filter(|g| g.as_str() != ALL && self.group_hosts(g).iter().any(|h| h == host))
            .cloned()
            .collect()
    }

    /// Depth of a group below `all` (top-level groups are 1), the order Ansible merges group vars in.
    fn depth(&self, name: &str, guard: usize) -> usize {
        if name == ALL || guard > self.groups.len() {
            return 0;
        }
        let parents: Vec<&Group> = self
            .groups
            .values()
            .filter(|g| g.children.iter().any(|c| c == name))
            .collect();
        1 + parents
            .iter()
            .map(|p| self.depth(&p.name, guard + 1))
            .max()
            .unwrap_or(0)
    }

    /// A host's variables merged as Ansible does: `all`, then groups from shallow to deep
    /// (ties by name), then the host's own line.
    pub fn host_vars(&self, host: &str) -> IndexMap<String, Value> {
        let mut merged = IndexMap::new();
        if let Some(all) = self.groups.get(ALL) {
            merged.extend(all.vars.clone());
        }
        let mut groups: Vec<(usize, String)> = self
            .host_groups(host)
            .into_iter()
            .map(|g| (self.depth(&g, 0), g))
            .collect();
        groups.sort();
        for (_, g) in groups {
            merged.extend(self.groups[&g].vars.clone());
        }
        if let Some(h) = self.hosts.get(host) {
            merged.extend(h.vars.clone());
        }
        merged
    }

    /// Hosts matching Ansible-style patterns: `a,b` or `a:b` union, `!x` exclusion, `&x` intersection,
    /// `*` wildcards; each pattern names a group or a host.
    pub fn select(&self, pattern: &str) -> Vec<String> {
        let mut selected: Vec<String> = Vec::new();
        let mut excluded: Vec<String> = Vec::new();
        let mut intersect: Vec<Vec<String>> = Vec::new();
        for part in split_patterns(pattern) {
            if let Some(p) = part.strip_prefix('!') {
                excluded.extend(self.match_one(p));
            } else if let Some(p) = part.strip_prefix('&') {
                intersect.push(self.match_one(p));
            } else {
                for h in self.match_one(part) {
                    if !selected.contains(&h) {
                        selected.push(h);
                    }
                }
            }
        }
        selected.retain(|h| !excluded.contains(h) && intersect.iter().all(|set| set.contains(h)));
        selected
    }

    fn match_one(&self, pattern: &str) -> Vec<String> {
        let mut out = Vec::new();
        for group in self.groups.keys() {
            if glob_match(pattern, group) {
                out.extend(self.group_hosts(group));
            }
        }
        for (name, host) in &self.hosts {
            let address = host.vars.get("ansible_host").and_then(Value::as_str);
            if glob_match(pattern, name) || address.is_some_and(|a| glob_match(pattern, a)) {
                out.push(name.clone());
            }
        }
        let mut unique = Vec::new();
        for h in out {
            if !unique.contains(&h) {
                unique.push(h);
            }
        }
        unique
    }
}

fn split_patterns(pattern: &str) -> Vec<&str> {
    // `:` separates patterns unless the pattern is an IPv6 address; commas always do.
    pattern
        .split(',')
        .flat_map(|p| {
            if p.matches(':').count() > 1 {
                vec![p]
            } else {
                p.split(':').collect()
            }
        })
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

/// Shell-style `*` and `?` matching.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some(('?', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t)
}

/// `[2001:db8::1]:2200 …` is a host line, not a section header.
fn is_bracketed_ipv6_host(line: &str) -> bool {
    line.strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .is_some_and(|(addr, _)| {
            addr.matches(':').count() >= 2
                && addr
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        })
}

/// Splits `host:port`, `[ipv6]:port` and `web[01:03]:port`; a bare IPv6 address has no port.
fn split_host_port(token: &str) -> Result<(String, Option<u16>), String> {
    if let Some(rest) = token.strip_prefix('[')
        && let Some((addr, tail)) = rest.split_once(']')
        && addr.matches(':').count() >= 2
        && addr
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
    {
        return match tail.strip_prefix(':') {
            Some(port) => Ok((addr.to_string(), Some(valid_port(port)?))),
            None if tail.is_empty() => Ok((addr.to_string(), None)),
            None => Err(format!("`{token}`: unexpected text after `]`")),
        };
    }
    // Colons inside range brackets (`web[1:3]`) are not port separators.
    let mut depth = 0;
    let mut colons = Vec::new();
    for (i, c) in token.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ':' if depth == 0 => colons.push(i),
            _ => {}
        }
    }
    match colons.as_slice() {
        [i] => Ok((token[..*i].to_string(), Some(valid_port(&token[i + 1..])?))),
        _ => Ok((token.to_string(), None)),
    }
}

fn valid_port(port: &str) -> Result<u16, String> {
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("`{port}` is not a port number (1-65535)")),
    }
}

fn validate_group_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!(
            "`{name}` is not a valid group name (letters, digits, `_` and `-`)"
        ));
    }
    Ok(())
}

fn validate_var_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(format!(
            "`{name}` is not a valid variable name (letters, digits and `_`, not starting with a digit)"
        ));
    }
    Ok(())
}

/// Writes the inventory so that readers see either the old or the new content.
pub fn write_atomically(path: &Path, content: &str) -> Result<(), InventoryError> {
    crate::fsutil::write_atomically(path, content.as_bytes()).map_err(|source| {
        InventoryError::Write {
            path: path.to_owned(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Inventory, InventoryError> {
        Inventory::parse(Path::new("inventory"), text)
    }

    #[test]
    fn groups_vars_children_and_comments() {
        let inv = parse(
            "# cluster\nstray\n[couchdb]\n10.0.0.1 ansible_user=debian\n10.0.0.2:2222 node=\"b c\"\n\
             ; other comment\n[web]\nweb1 ansible_host=10.0.0.9\n[data:children]\ncouchdb\n\
             [data:vars]\ndatadir = '/data'\n[all:vars]\nansible_user=ubuntu\ndatadir=/srv\n",
        )
        .unwrap();
        assert_eq!(inv.group_hosts("couchdb"), vec!["10.0.0.1", "10.0.0.2"]);
        assert_eq!(inv.group_hosts("data"), vec!["10.0.0.1", "10.0.0.2"]);
        assert_eq!(inv.group_hosts(UNGROUPED), vec!["stray"]);
        assert_eq!(inv.group_hosts(ALL).len(), 4);
        let v = inv.host_vars("10.0.0.1");
        assert_eq!(v["ansible_user"], "debian");
        assert_eq!(v["datadir"], "/data");
        let v = inv.host_vars("10.0.0.2");
        assert_eq!(v["ansible_port"], 2222);
        assert_eq!(v["node"], "b c");
        assert_eq!(v["ansible_user"], "ubuntu");
        assert_eq!(inv.host_vars("web1")["datadir"], "/srv");
    }

    #[test]
    fn child_group_vars_beat_parent_group_vars() {
        let inv = parse("[parent:children]\nchild\n[child]\nh\n[parent:vars]\nx=parent\n[child:vars]\nx=child\n").unwrap();
        assert_eq!(inv.host_vars("h")["x"], "child");
    }

    #[test]
    fn malformed_lines_name_the_line() {
        let cases = [
            ("[web\nh1\n", 1, "not closed"),
            ("[web]\nh1\n[web:vars]\njust_a_word\n", 4, "key=value"),
            ("[web]\nansible_user=x\n", 2, "looks like a variable"),
            ("[web]\nh1 user\n", 2, "key=value"),
            ("[web]\nh1:99999\n", 2, "port number"),
            ("[web:children]\nnothere\n", 2, "not defined"),
            (
                "[web:vars]\nx=1\n[db]\nh1\n",
                1,
                "[web:vars] is for a group that is not defined",
            ),
            ("[web]\nweb[3:1]\n", 2, "runs backwards"),
            ("[web:hosts]\n", 1, "unknown section type"),
            ("[web]\nh1 a=\"open\n", 2, "unbalanced quotes"),
        ];
        for (text, line, needle) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("inventory:{line}: ")) && err.contains(needle),
                "{text:?} gave {err}"
            );
        }
    }

    #[test]
    fn patterns_select_hosts() {
        let inv = parse("[a]\nh1\nh2\n[b]\nh2\nh3 ansible_host=10.1.1.3\n").unwrap();
        assert_eq!(inv.select("a"), vec!["h1", "h2"]);
        assert_eq!(inv.select("a:b"), vec!["h1", "h2", "h3"]);
        assert_eq!(inv.select("a,!h1"), vec!["h2"]);
        assert_eq!(inv.select("a:&b"), vec!["h2"]);
        assert_eq!(inv.select("h*"), vec!["h1", "h2", "h3"]);
        assert_eq!(inv.select("10.1.1.3"), vec!["h3"]);
        assert!(inv.select("nothing").is_empty());
    }

    #[test]
    fn atomic_write_replaces_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inventory");
        write_atomically(&path, "[a]\nh1\n").unwrap();
        write_atomically(&path, "[a]\nh2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[a]\nh2\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
