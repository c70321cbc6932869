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
    /// `ansible_group_priority` (1 unless set in a `:vars` section): among groups of the same
    /// depth, the higher priority's variables win.
    pub priority: i64,
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
            // A comment may follow a header: `[web]  # front ends`.
            if let Some((name, kind)) = section_header(line) {
                let kind = match kind {
                    None | Some("hosts") => Section::Hosts,
                    Some("vars") => Section::Vars,
                    Some("children") => Section::Children,
                    Some(other) => {
                        return Err(err(format!(
                            "unknown section type `:{other}` (allowed: `:vars`, `:children`)"
                        )));
                    }
                };
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
            // As in Ansible, a line that starts with `[` but is no header is a host line
            // (`[a:c]-web.example.org`, `[2001:db8::1]:2200`), unless it also ends with `]`.
            if line.starts_with('[') && !line.contains(']') {
                return Err(err(format!(
                    "section header `{line}` is not closed with `]`"
                )));
            }
            if line.starts_with('[') && line.ends_with(']') {
                return Err(err(format!(
                    "`{line}` is not a valid section header (no spaces; `[name]`, `[name:vars]` \
                     or `[name:children]`); a bracketed IPv6 host needs a port (`[2001:db8::1]:22`)"
                )));
            }
            match section {
                Section::Hosts => {
                    let tokens = shlex_split(line).map_err(err)?;
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
                    if key == "ansible_group_priority" {
                        // Ansible takes it as the group's priority, not as a variable.
                        inv.group_mut(&group).priority = python_int(&value).ok_or_else(|| {
                            err(format!(
                                "ansible_group_priority `{value}` is not an integer"
                            ))
                        })?;
                        continue;
                    }
                    inv.group_mut(&group).vars.insert(key.to_string(), value);
                }
                Section::Children => {
                    let line = child_group_name(line).ok_or_else(|| {
                        err(format!(
                            "`{line}` in [{group}:children] is not a group name"
                        ))
                    })?;
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
        let ungrouped = &mut inv.groups[UNGROUPED].hosts;
        ungrouped.retain(|h| !grouped.contains(h));
        // Hosts only listed under `[all]` join `ungrouped` after the others, in inventory order.
        for host in inv.hosts.keys() {
            if !grouped.contains(host) && !ungrouped.contains(host) {
                ungrouped.push(host.clone());
            }
        }
        Ok(inv)
    }

    fn group_mut(&mut self, name: &str) -> &mut Group {
        self.groups
            .entry(name.to_string())
            .or_insert_with(|| Group {
                name: name.to_string(),
                priority: 1,
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
    /// (ties by `ansible_group_priority`, then by name), then the host's own line.
    pub fn host_vars(&self, host: &str) -> IndexMap<String, Value> {
        let mut merged = IndexMap::new();
        if let Some(all) = self.groups.get(ALL) {
            merged.extend(all.vars.clone());
        }
        let mut groups: Vec<(usize, i64, String)> = self
            .host_groups(host)
            .into_iter()
            .map(|g| (self.depth(&g, 0), self.groups[&g].priority, g))
            .collect();
        groups.sort();
        for (_, _, g) in groups {
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

/// A section header as Ansible's INI plugin matches it: `[name]` or `[name:type]`, where the name
/// has no whitespace, `:` or `]` (dots and dashes are kept: Ansible only warns about them), then
/// optional whitespace and a `#` comment. Returns the name and the type.
fn section_header(line: &str) -> Option<(&str, Option<&str>)> {
    let rest = line.strip_prefix('[')?;
    let name_end = rest
        .find(|c: char| c == ':' || c == ']' || c.is_whitespace())
        .unwrap_or(rest.len());
    let (name, mut rest) = rest.split_at(name_end);
    if name.is_empty() {
        return None;
    }
    let mut kind = None;
    if let Some(after) = rest.strip_prefix(':') {
        let end = after
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if end == 0 {
            return None;
        }
        kind = Some(&after[..end]);
        rest = &after[end..];
    }
    let rest = rest.strip_prefix(']')?.trim_start();
    (rest.is_empty() || rest.starts_with('#')).then_some((name, kind))
}

/// A line of a `:children` section: a group name, then optional whitespace and a `#` comment.
fn child_group_name(line: &str) -> Option<&str> {
    let end = line
        .find(|c: char| c == ':' || c == ']' || c.is_whitespace())
        .unwrap_or(line.len());
    let (name, rest) = line.split_at(end);
    let rest = rest.trim_start();
    (!name.is_empty() && (rest.is_empty() || rest.starts_with('#'))).then_some(name)
}

/// Python's `shlex.split(line, comments=True)`, as Ansible splits a host line: POSIX quoting,
/// `\` escapes (kept inside `"…"` unless before `"` or `\`), and a `#` outside quotes ends the
/// line even in the middle of a word (`a=x#y` is `a=x`).
fn shlex_split(line: &str) -> Result<Vec<String>, String> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Space,
        Word,
        Quote(char),
        Escape { back_to: Option<char> },
    }
    let mut tokens = Vec::new();
    let mut token = String::new();
    let mut quoted = false;
    let mut state = State::Space;
    for c in line.chars() {
        match state {
            State::Space | State::Word => {
                if matches!(c, ' ' | '\t' | '\r' | '\n') {
                    if state == State::Word || quoted {
                        tokens.push(std::mem::take(&mut token));
                    }
                    quoted = false;
                    state = State::Space;
                } else if c == '#' {
                    break;
                } else if c == '\'' || c == '"' {
                    state = State::Quote(c);
                    quoted = true;
                } else if c == '\\' {
                    state = State::Escape { back_to: None };
                } else {
                    token.push(c);
                    state = State::Word;
                }
            }
            State::Quote(q) => {
                if c == q {
                    state = State::Word;
                } else if c == '\\' && q == '"' {
                    state = State::Escape { back_to: Some(q) };
                } else {
                    token.push(c);
                }
            }
            State::Escape { back_to } => {
                if let Some(q) = back_to
                    && c != q
                    && c != '\\'
                {
                    token.push('\\');
                }
                token.push(c);
                state = back_to.map_or(State::Word, State::Quote);
            }
        }
    }
    match state {
        State::Quote(_) => return Err("unbalanced quotes (no closing quotation)".to_string()),
        State::Escape { .. } => {
            return Err("a `\\` at the end of the line escapes nothing".to_string());
        }
        State::Word => tokens.push(token),
        State::Space if quoted => tokens.push(token),
        State::Space => {}
    }
    Ok(tokens)
}

/// Python's `int(value)` for a parsed INI value (`ansible_group_priority`).
fn python_int(value: &Value) -> Option<i64> {
    match value {
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && f.abs() < 9.2e18)
                .map(|f| f.trunc() as i64)
        }),
        Value::String(s) => s.trim().replace('_', "").parse().ok(),
        _ => None,
    }
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
            ("[web:other]\n", 1, "unknown section type"),
            ("[web]\n[2001:db8::1]\n", 2, "not a valid section header"),
            ("[web]]\n", 1, "not a valid section header"),
            ("[web group]\n", 1, "not a valid section header"),
            ("[web]\n[a:c]\n", 2, "unknown section type `:c`"),
            ("[web]\nh1 a=\"x # y\\\n", 2, "escapes nothing"),
            (
                "[g]\nh1\n[g:vars]\nansible_group_priority=high\n",
                4,
                "not an integer",
            ),
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
    fn inline_comments_as_ansible_reads_them() {
        let inv = parse(
            "web1 port=8080 # note\nweb2 a=x#y b=2\nweb3 q=\"s # t\" r='u#v' # c\n\
             [web] # front ends\nw1\n[web:vars]#c\nx=1 # c\ny=foo # c\nz=\"a # b\" # c\nw=a#b\n\
             [p:children]   # comment\nweb # the web\n",
        )
        .unwrap();
        assert_eq!(inv.host_vars("web1")["port"], 8080);
        // `#` ends a host line even inside a word; `b=2` after it is gone.
        assert_eq!(
            inv.hosts["web2"].vars,
            IndexMap::from([("a".to_string(), Value::from("x"))])
        );
        assert_eq!(inv.host_vars("web3")["q"], "s # t");
        assert_eq!(inv.host_vars("web3")["r"], "u#v");
        // On a vars line the value goes to literal_eval: a comment after a literal is dropped,
        // but a value that is no literal keeps it.
        let v = inv.host_vars("w1");
        assert_eq!(v["x"], 1);
        assert_eq!(v["y"], "foo # c");
        assert_eq!(v["z"], "a # b");
        assert_eq!(v["w"], "a#b");
        assert_eq!(inv.groups["p"].children, vec!["web"]);
    }

    #[test]
    fn shlex_split_like_python() {
        let cases: [(&str, &[&str]); 6] = [
            ("a b=\"c d\" e='f g'", &["a", "b=c d", "e=f g"]),
            ("a b=\"x\\\"y\\z\"", &["a", "b=x\"y\\z"]),
            ("a b=\\#c", &["a", "b=#c"]),
            ("a b=''", &["a", "b="]),
            ("a '' #x", &["a", ""]),
            ("a b=c#d e=f", &["a", "b=c"]),
        ];
        for (line, want) in cases {
            assert_eq!(shlex_split(line).unwrap(), want, "{line}");
        }
    }

    #[test]
    fn range_at_line_start_dotted_groups_and_all_section() {
        let inv = parse(
            "first\n[a:c]-web.example.org\n[all]\nonly_all x=1\nboth\n[site.eu]\nboth\n\
             [top.level:children]\nsite.eu\n[top.level:vars]\nt=1\n",
        )
        .unwrap();
        assert_eq!(
            inv.group_hosts(UNGROUPED),
            vec![
                "first",
                "a-web.example.org",
                "b-web.example.org",
                "c-web.example.org",
                "only_all"
            ]
        );
        assert_eq!(inv.group_hosts("top.level"), vec!["both"]);
        assert_eq!(inv.host_vars("both")["t"], 1);
        assert_eq!(inv.host_vars("only_all")["x"], 1);
    }

    #[test]
    fn group_priority_orders_groups_of_the_same_depth() {
        let text = "[alpha]\nh1\n[zeta]\nh1\n[alpha:vars]\nx=alpha\n[zeta:vars]\nx=zeta\n";
        assert_eq!(parse(text).unwrap().host_vars("h1")["x"], "zeta");
        let inv = parse(&format!("{text}ansible_group_priority=-1\n")).unwrap();
        assert_eq!(inv.host_vars("h1")["x"], "alpha");
        assert!(!inv.host_vars("h1").contains_key("ansible_group_priority"));
        // Depth still comes first: a child beats its parent whatever the priorities.
        let inv = parse(
            "[p:children]\nc\n[c]\nh\n[p:vars]\nx=p\nansible_group_priority=99\n[c:vars]\nx=c\n",
        )
        .unwrap();
        assert_eq!(inv.host_vars("h")["x"], "c");
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
