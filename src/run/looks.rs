//! The looks of many tasks as one remote script. Looks are grouped by the user they run as, so a
//! group costs one shell (one `sudo` for root) instead of one per task; all path looks of a group
//! are answered by one `stat` and one `sha256sum`; shell looks run in subshells. Each task then
//! gets the observation its module would have printed by itself, so modules never see the batching.

use crate::ssh::ExecOutput;
use crate::tasks::module::{Look, Observed};
use crate::tasks::remote::quote;
use std::collections::HashMap;

/// Wraps a script to run under `sh` with a fixed locale, through `sudo -n` when `become_user` is set.
pub fn wrap(script: &str, become_user: Option<&str>) -> String {
    let body = quote(&format!("LC_ALL=C; export LC_ALL; {script}"));
    match become_user {
        None => format!("sh -c {body}"),
        Some("root") => format!("sudo -n -- sh -c {body}"),
        Some(user) => format!("sudo -n -H -u {} -- sh -c {body}", quote(user)),
    }
}

pub struct LookRequest {
    pub index: usize,
    pub look: Look,
    pub become_user: Option<String>,
}

pub struct LookBatch {
    nonce: String,
}

/// `stat` prints the name last, so a `|` inside it cannot shift the other fields.
const STAT_FORMAT: &str = "%F|%a|%U|%u|%G|%g|%n";

impl Default for LookBatch {
    fn default() -> Self {
        LookBatch::new()
    }
}

fn groups(requests: &[LookRequest]) -> Vec<(Option<&str>, Vec<&LookRequest>)> {
    let mut out: Vec<(Option<&str>, Vec<&LookRequest>)> = Vec::new();
    for r in requests {
        let user = r.become_user.as_deref();
        match out.iter_mut().find(|(u, _)| *u == user) {
            Some((_, list)) => list.push(r),
            None => out.push((user, vec![r])),
        }
    }
    out
}

/// Whether the batched `stat` and `sha256sum` print `path` so that it can be found again: they
/// print names raw or escaped line by line, so a name with a line break or a backslash gets a look
/// of its own.
fn batchable(path: &str) -> bool {
    !path.contains(['\n', '\r', '\\'])
}

/// The look a request runs on its own, in a section of its own.
fn own_section(look: &Look) -> Option<String> {
    match look {
        Look::Shell(s) => Some(s.clone()),
        Look::Path { path, .. } if !batchable(path) => Some(look.as_shell()),
        Look::Path { .. } => None,
    }
}

fn paths(list: &[&LookRequest], only_checksummed: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in list {
        if let Look::Path { path, checksum } = &r.look
            && batchable(path)
            && (*checksum || !only_checksummed)
            && !out.contains(path)
        {
            out.push(path.clone());
        }
    }
    out
}

impl LookBatch {
    pub fn new() -> LookBatch {
        LookBatch {
            nonce: format!("{:016x}", rand::random::<u64>()),
        }
    }

    fn section(&self, key: &str, command: &str) -> String {
        format!(
            "printf '%s\\n' '@@{n} {key}'; {command}; printf '\\n@@{n} {key} rc=%s\\n' \"$?\"\n",
            n = self.nonce
        )
    }

    pub fn script(&self, requests: &[LookRequest]) -> String {
        let mut script = String::new();
        for (g, (user, list)) in groups(requests).into_iter().enumerate() {
            let mut body = String::new();
            let all = paths(&list, false);
            if !all.is_empty() {
                let args: Vec<String> = all.iter().map(|p| quote(p)).collect();
                let cmd = format!("stat -c '{STAT_FORMAT}' -- {} 2>/dev/null", args.join(" "));
                body.push_str(&self.section(&format!("stat-{g}"), &cmd));
            }
            let summed = paths(&list, true);
            if !summed.is_empty() {
                let args: Vec<String> = summed.iter().map(|p| quote(p)).collect();
                let cmd = format!("sha256sum -- {} 2>/dev/null", args.join(" "));
                body.push_str(&self.section(&format!("sha-{g}"), &cmd));
            }
            for r in &list {
                if let Some(s) = own_section(&r.look) {
                    body.push_str(&self.section(&r.index.to_string(), &format!("( {s} ) 2>&1")));
                }
            }
            script.push_str(&wrap(&body, user));
            script.push('\n');
        }
        script
    }

    fn sections(&self, output: &str) -> HashMap<String, Observed> {
        let mut out = HashMap::new();
        let begin = format!("@@{} ", self.nonce);
        let mut rest = output;
        while let Some(start) = rest.find(&begin) {
            let after = &rest[start + begin.len()..];
            let Some((key, body)) = after.split_once('\n') else {
                break;
            };
            let end_marker = format!("\n@@{} {key} rc=", self.nonce);
            let Some(end) = body.find(&end_marker) else {
                break;
            };
            let tail = &body[end + end_marker.len()..];
            let (rc, next) = tail.split_once('\n').unwrap_or((tail, ""));
            out.insert(
                key.to_string(),
                Observed {
                    status: rc.trim().parse().unwrap_or(-1),
                    output: body[..end].to_string(),
                },
            );
            rest = next;
        }
        out
    }

    /// Each request's observation. A request whose section is missing (its group's `sudo` was
    /// refused, say) gets a failed observation carrying what the host said on stderr.
    pub fn parse(&self, requests: &[LookRequest], exec: &ExecOutput) -> HashMap<usize, Observed> {
        let sections = self.sections(&exec.stdout_text());
        let missing = || Observed {
            status: if exec.status == 0 { -1 } else { exec.status },
            output: {
                let e = exec.stderr_text();
                if e.trim().is_empty() {
                    "the host's answer was cut short".to_string()
                } else {
                    e
                }
            },
        };
        let mut out = HashMap::new();
        for (g, (_, list)) in groups(requests).into_iter().enumerate() {
            let stats: Option<HashMap<&str, String>> =
                sections.get(&format!("stat-{g}")).map(|o| {
                    o.output
                        .lines()
                        .filter_map(|line| {
                            let f: Vec<&str> = line.splitn(7, '|').collect();
                            (f.len() == 7).then(|| (f[6], format!("stat|{}", f[..6].join("|"))))
                        })
                        .collect()
                });
            let sums: HashMap<&str, &str> = sections
                .get(&format!("sha-{g}"))
                .map(|o| {
                    o.output
                        .lines()
                        .filter_map(|l| l.split_once("  ").or_else(|| l.split_once(" *")))
                        .map(|(hash, path)| (path, hash))
                        .collect()
                })
                .unwrap_or_default();
            for r in list {
                let observed = match &r.look {
                    look if own_section(look).is_some() => {
                        sections.get(&r.index.to_string()).cloned()
                    }
                    Look::Shell(_) => unreachable!("a shell look has a section of its own"),
                    Look::Path { path, checksum } => stats.as_ref().map(|stats| {
                        let output = match stats.get(path.as_str()) {
                            None => "absent\n".to_string(),
                            Some(stat) => {
                                let mut o = format!("{stat}\n");
                                let regular = stat.starts_with("stat|regular");
                                if *checksum
                                    && regular
                                    && let Some(hash) = sums.get(path.as_str())
                                {
                                    o.push_str(&format!("sha256|{hash}\n"));
                                }
                                o
                            }
                        };
                        Observed { status: 0, output }
                    }),
                };
                out.insert(r.index, observed.unwrap_or_else(missing));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(index: usize, look: Look, user: Option<&str>) -> LookRequest {
        LookRequest {
            index,
            look,
            become_user: user.map(String::from),
        }
    }

    fn path(p: &str, checksum: bool) -> Look {
        Look::Path {
            path: p.into(),
            checksum,
        }
    }

    #[test]
    fn one_stat_and_one_sha256sum_per_user() {
        let b = LookBatch::new();
        let requests = vec![
            req(0, path("/srv/a", false), None),
            req(1, path("/srv/a/f", true), None),
            req(2, Look::Shell("echo hi".into()), None),
            req(3, path("/etc/x", true), Some("root")),
        ];
        let script = b.script(&requests);
        assert_eq!(script.matches("stat -c").count(), 2, "{script}");
        assert_eq!(script.matches("sha256sum").count(), 2, "{script}");
        assert_eq!(script.matches("sudo -n").count(), 1, "{script}");
        assert_eq!(
            script.matches("sh -c ").count(),
            2,
            "one shell per user: {script}"
        );

        let n = &b.nonce;
        let stdout = format!(
            "@@{n} stat-0\nregular file|644|u|1|u|1|/srv/a/f\ndirectory|755|u|1|u|1|/srv/a\n@@{n} stat-0 rc=0\n\
             @@{n} sha-0\nabc123  /srv/a/f\n@@{n} sha-0 rc=0\n\
             @@{n} 2\nhi\n\n@@{n} 2 rc=0\n"
        );
        let exec = ExecOutput {
            status: 1,
            stdout: stdout.into_bytes(),
            stderr: b"sudo: a password is required\n".to_vec(),
        };
        let got = b.parse(&requests, &exec);
        assert_eq!(got[&0].output, "stat|directory|755|u|1|u|1\n");
        assert_eq!(
            got[&1].output,
            "stat|regular file|644|u|1|u|1\nsha256|abc123\n"
        );
        assert_eq!(got[&2].output, "hi\n");
        assert_eq!(got[&3].status, 1);
        assert!(got[&3].output.contains("password is required"));
    }

    #[test]
    fn absent_paths_and_names_with_bars() {
        let b = LookBatch::new();
        let requests = vec![
            req(0, path("/a|b", true), None),
            req(1, path("/gone", true), None),
        ];
        let n = &b.nonce;
        let stdout = format!(
            "@@{n} stat-0\nregular empty file|600|u|1|u|1|/a|b\n@@{n} stat-0 rc=1\n@@{n} sha-0\nh  /a|b\n@@{n} sha-0 rc=1\n"
        );
        let exec = ExecOutput {
            status: 0,
            stdout: stdout.into_bytes(),
            stderr: Vec::new(),
        };
        let got = b.parse(&requests, &exec);
        assert_eq!(
            got[&0].output,
            "stat|regular empty file|600|u|1|u|1\nsha256|h\n"
        );
        assert_eq!(got[&1].output, "absent\n");
    }

    #[test]
    fn paths_the_batch_cannot_name_get_a_look_of_their_own() {
        let b = LookBatch::new();
        let odd = "/tmp/a\nb\\c";
        let requests = vec![
            req(0, path(odd, true), None),
            req(1, path("/x", true), None),
        ];
        let script = b.script(&requests);
        assert!(script.contains("sha256sum -- /x "), "{script}");
        assert!(!script.contains("sha256sum -- '/tmp/a"), "{script}");
        let n = &b.nonce;
        let stdout = format!(
            "@@{n} stat-0\n\n@@{n} stat-0 rc=1\n@@{n} sha-0\n\n@@{n} sha-0 rc=1\n\
             @@{n} 0\nstat|regular file|644|u|1|u|1\nsha256|abc  -\n\n@@{n} 0 rc=0\n"
        );
        let exec = ExecOutput {
            status: 0,
            stdout: stdout.into_bytes(),
            stderr: Vec::new(),
        };
        let got = b.parse(&requests, &exec);
        let state = crate::tasks::remote::parse_stat(&got[&0].output)
            .unwrap()
            .unwrap();
        assert_eq!(state.sha256.as_deref(), Some("abc"));
        assert_eq!(got[&1].output, "absent\n");
    }

    #[test]
    fn wrap_quotes_and_escalates() {
        assert_eq!(
            wrap("echo 'x'", None),
            r#"sh -c 'LC_ALL=C; export LC_ALL; echo '\''x'\'''"#
        );
        assert!(wrap("id", Some("couchdb")).starts_with("sudo -n -H -u couchdb -- sh -c "));
    }
}
