//! Rewrites one group of an inventory file for deploy, keeping everything else: other groups,
//! comments, variables, and hosts in the group that deploy does not manage (their names do not
//! start with `<project>-<role>-`).

/// A host line: the name, then `key=value` fields, each value quoted where the INI reader
/// (shlex, as Ansible's) would otherwise split or comment it, so that it reads back as written.
pub fn host_line(name: &str, fields: &[(&str, String)]) -> String {
    let mut line = name.to_string();
    for (key, value) in fields {
        let quoted = shlex::try_quote(value).unwrap_or_else(|_| value.clone().into());
        line.push_str(&format!(" {key}={quoted}"));
    }
    line
}

/// The inventory text with group `group`'s managed host lines replaced by `lines`. The new lines
/// go where the first managed line was, or after the group's last host line; a missing group
/// is appended.
pub fn with_group_hosts(text: &str, group: &str, managed_prefix: &str, lines: &[String]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut in_group = false;
    let mut found = false;
    // Where the new lines go: an index into `out`.
    let mut insert_at: Option<usize> = None;
    let is_managed = |line: &str| {
        line.split_whitespace()
            .next()
            .is_some_and(|name| name.starts_with(managed_prefix))
    };
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            if in_group && insert_at.is_none() {
                insert_at = Some(last_content(&out));
            }
            in_group = trimmed.trim_start_matches('[').trim_end_matches(']').trim() == group;
            found |= in_group;
            out.push(line.to_string());
            continue;
        }
        if in_group && is_managed(trimmed) {
            insert_at.get_or_insert(out.len());
            continue;
        }
        out.push(line.to_string());
    }
    if in_group && insert_at.is_none() {
        insert_at = Some(last_content(&out));
    }
    match (found, insert_at) {
        (true, Some(at)) => {
            out.splice(at..at, lines.iter().cloned());
        }
        _ => {
            if out.last().is_some_and(|l| !l.trim().is_empty()) {
                out.push(String::new());
            }
            out.push(format!("[{group}]"));
            out.extend(lines.iter().cloned());
        }
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

/// The position after the last non-blank line, so new hosts do not land after a blank gap.
fn last_content(out: &[String]) -> usize {
    out.iter()
        .rposition(|l| !l.trim().is_empty())
        .map(|i| i + 1)
        .unwrap_or(out.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_lines_read_back_whatever_the_values() {
        for key in ["/keys/group25.pem", "/my keys/it's #1.pem", "/k/\"q\" $x"] {
            let line = host_line(
                "p-web-1",
                &[
                    ("ansible_host", "10.0.0.5".into()),
                    ("ansible_ssh_private_key_file", key.into()),
                ],
            );
            let inv = crate::inventory::Inventory::parse(
                std::path::Path::new("inventory"),
                &format!("[web]\n{line}\n"),
            )
            .unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(
                inv.host_vars("p-web-1")["ansible_ssh_private_key_file"],
                key,
                "{line}"
            );
        }
        assert_eq!(
            host_line("h", &[("a", "plain/value".into())]),
            "h a=plain/value"
        );
    }

    fn lines(names: &[&str]) -> Vec<String> {
        names
            .iter()
            .map(|n| format!("{n} ansible_host=10.0.0.1"))
            .collect()
    }

    #[test]
    fn replaces_managed_hosts_and_keeps_the_rest() {
        let text = "# my hosts\n[couchdb]\np-couchdb-1 ansible_host=1.1.1.1\nmy-own-db\n\n[couchdb:vars]\nx=1\n\n[web]\nw1\n";
        let new = with_group_hosts(
            text,
            "couchdb",
            "p-couchdb-",
            &lines(&["p-couchdb-1", "p-couchdb-2"]),
        );
        assert_eq!(
            new,
            "# my hosts\n[couchdb]\np-couchdb-1 ansible_host=10.0.0.1\np-couchdb-2 ansible_host=10.0.0.1\nmy-own-db\n\n[couchdb:vars]\nx=1\n\n[web]\nw1\n"
        );
    }

    #[test]
    fn appends_a_missing_group_and_fills_an_empty_one() {
        assert_eq!(
            with_group_hosts("[web]\nw1\n", "db", "p-db-", &lines(&["p-db-1"])),
            "[web]\nw1\n\n[db]\np-db-1 ansible_host=10.0.0.1\n"
        );
        assert_eq!(
            with_group_hosts("", "db", "p-db-", &lines(&["p-db-1"])),
            "[db]\np-db-1 ansible_host=10.0.0.1\n"
        );
        assert_eq!(
            with_group_hosts("[db]\n\n[web]\nw1\n", "db", "p-db-", &lines(&["p-db-1"])),
            "[db]\np-db-1 ansible_host=10.0.0.1\n\n[web]\nw1\n"
        );
    }
}
