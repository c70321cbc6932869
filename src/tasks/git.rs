//! `git`: a clone of `repo` at `version` (branch, tag or commit) in `dest`. Clones when absent,
//! fetches and checks out when the wanted commit differs; `changed` only when HEAD moved. A `dest`
//! that is not a clone of `repo` is a failure, never overwritten.

use super::module::{DecideError, Look, Module, Observed, Plan, Step};
use super::registry::ModuleArgs;
use super::remote::quote;
use super::{FieldError, PrepareCtx, checks};
use crate::render::Pos;
use serde::Deserialize;
use serde_saphyr::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitArgs {
    repo: Spanned<String>,
    dest: Spanned<String>,
    version: Option<Spanned<String>>,
    depth: Option<u32>,
}

impl ModuleArgs for GitArgs {
    fn prepare(&self, ctx: &PrepareCtx) -> Result<Box<dyn Module>, FieldError> {
        let dest = ctx.absolute_path(&self.dest, "dest")?;
        let repo = ctx.render(&self.repo)?;
        checks::not_an_option("repo", &repo, Pos::from(&self.repo))?;
        checks::one_line("repo", &repo, Pos::from(&self.repo))?;
        if repo.is_empty() {
            return Err(FieldError {
                pos: Pos::from(&self.repo),
                message: "repo is empty".into(),
            });
        }
        let version = match &self.version {
            Some(v) => {
                let version = ctx.render(v)?;
                check_version(&version).map_err(|message| FieldError {
                    pos: Pos::from(v),
                    message,
                })?;
                version
            }
            None => "HEAD".into(),
        };
        Ok(Box::new(Git {
            repo,
            dest,
            version,
            depth: self.depth,
        }))
    }
}

#[derive(Debug)]
pub struct Git {
    repo: String,
    dest: String,
    version: String,
    depth: Option<u32>,
}

/// A branch, tag or commit as git reads one: no option, no character a ref name cannot hold.
fn check_version(v: &str) -> Result<(), String> {
    let bad = v.is_empty()
        || v.starts_with('-')
        || v.contains("..")
        || v.contains("@{")
        || v.chars()
            .any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c));
    if bad {
        return Err(format!(
            "version `{}` is not a branch, tag or commit name",
            v.escape_debug()
        ));
    }
    Ok(())
}

fn is_commit(v: &str) -> bool {
    v.len() == 40 && v.chars().all(|c| c.is_ascii_hexdigit())
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(10)]
}

impl Git {
    /// The commit `version` names, from `git ls-remote` output (peeled tags preferred).
    fn wanted(&self, ls_remote: &[&str]) -> Option<String> {
        if is_commit(&self.version) {
            return Some(self.version.clone());
        }
        let refs: Vec<(&str, &str)> = ls_remote
            .iter()
            .filter_map(|l| l.split_once('\t'))
            .collect();
        let names = [
            format!("refs/tags/{}^{{}}", self.version),
            format!("refs/tags/{}", self.version),
            format!("refs/heads/{}", self.version),
            self.version.clone(),
        ];
        names.iter().find_map(|n| {
            refs.iter()
                .find(|(_, r)| r == n)
                .map(|(sha, _)| sha.to_string())
        })
    }

    fn depth_arg(&self) -> String {
        self.depth
            .map(|d| format!(" --depth {d}"))
            .unwrap_or_default()
    }
}

impl Module for Git {
    fn kind(&self) -> &'static str {
        "git"
    }

    fn target(&self) -> String {
        format!("{} -> {}", self.repo, self.dest)
    }

    fn look(&self) -> Option<Look> {
        let d = quote(&self.dest);
        Some(Look::Shell(format!(
            "if [ -d {d}/.git ]; then echo state=clone; echo \"origin=$(git -C {d} config --get remote.origin.url)\"; \
             echo \"head=$(git -C {d} rev-parse HEAD 2>/dev/null)\"; \
             elif [ -e {d} ] && [ -n \"$(ls -A -- {d} 2>/dev/null)\" ]; then echo state=other; else echo state=absent; fi; \
             echo ls-remote; GIT_TERMINAL_PROMPT=0 git ls-remote -- {r} {v} {peeled} 2>&1 || echo ls-remote-failed",
            r = quote(&self.repo),
            v = quote(&self.version),
            // A pattern does not list an annotated tag's commit (`v1^{}`) unless asked for.
            peeled = quote(&format!("{}^{{}}", self.version)),
        )))
    }

    fn decide(&self, observed: Option<&Observed>) -> Result<Plan, DecideError> {
        let output = observed.map(|o| o.output.as_str()).unwrap_or_default();
        let (head_part, remote_part) = output.split_once("ls-remote\n").unwrap_or((output, ""));
        let field = |k: &str| {
            head_part
                .lines()
                .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
                .unwrap_or_default()
                .to_string()
        };
        let remote_lines: Vec<&str> = remote_part.lines().collect();
        if remote_lines.last() == Some(&"ls-remote-failed") && !is_commit(&self.version) {
            let why: Vec<&str> = remote_lines[..remote_lines.len() - 1].to_vec();
            return Err(DecideError(format!(
                "cannot reach repository {}: {}",
                self.repo,
                why.join(" ").trim()
            )));
        }
        let wanted = self.wanted(&remote_lines).ok_or_else(|| {
            DecideError(format!(
                "version `{}` is not a branch or tag of {}",
                self.version, self.repo
            ))
        })?;
        if wanted.is_empty() || !wanted.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(DecideError(format!(
                "{} named `{wanted}` for version `{}`, which is not a commit id",
                self.repo, self.version
            )));
        }
        let d = quote(&self.dest);
        match field("state").as_str() {
            "absent" => {
                let branch = if is_commit(&self.version) || self.version == "HEAD" {
                    String::new()
                } else {
                    format!(" --branch {}", quote(&self.version))
                };
                let mut script = format!(
                    "GIT_TERMINAL_PROMPT=0 git clone -q{}{branch} -- {} {d}",
                    self.depth_arg(),
                    quote(&self.repo)
                );
                if is_commit(&self.version) {
                    script.push_str(&format!(
                        " && git -C {d} checkout -q --detach {} --",
                        quote(&wanted)
                    ));
                }
                Ok(Plan::change(
                    format!("cloned at {}", short(&wanted)),
                    vec![Step::run(script)],
                ))
            }
            "other" => Err(DecideError(format!(
                "{} exists and is not a git clone; refusing to overwrite it",
                self.dest
            ))),
            _ => {
                let origin = field("origin");
                if origin != self.repo {
                    return Err(DecideError(format!(
                        "{} is a clone of {origin}, not of {}; refusing to change it",
                        self.dest, self.repo
                    )));
                }
                let head = field("head");
                if head == wanted {
                    return Ok(Plan::ok(format!("at {}", short(&head))));
                }
                let fetch = if is_commit(&self.version) {
                    format!("git -C {d} fetch -q{} -- origin", self.depth_arg())
                } else {
                    format!(
                        "git -C {d} fetch -q{} -- origin {}",
                        self.depth_arg(),
                        quote(&self.version)
                    )
                };
                Ok(Plan::change(
                    format!("{} -> {}", short(&head), short(&wanted)),
                    vec![Step::run(format!(
                        "GIT_TERMINAL_PROMPT=0 {fetch} && git -C {d} checkout -q --force --detach {} --",
                        quote(&wanted)
                    ))],
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";

    fn git(version: &str) -> Git {
        Git {
            repo: "https://example.org/app.git".into(),
            dest: "/opt/app".into(),
            version: version.into(),
            depth: None,
        }
    }

    fn seen(s: &str) -> Observed {
        Observed {
            status: 0,
            output: s.into(),
        }
    }

    #[test]
    fn clone_keep_move_refuse() {
        let g = git("v1");
        let remote = format!("ls-remote\n{A}\trefs/tags/v1\n{B}\trefs/tags/v1^{{}}\n");
        match g
            .decide(Some(&seen(&format!("state=absent\n{remote}"))))
            .unwrap()
        {
            Plan::Change(c) => assert!(
                c.steps[0].script.contains("clone -q --branch v1"),
                "{}",
                c.steps[0].script
            ),
            other => panic!("{other:?}"),
        }
        let at_b = format!("state=clone\norigin=https://example.org/app.git\nhead={B}\n{remote}");
        assert!(
            matches!(g.decide(Some(&seen(&at_b))).unwrap(), Plan::Ok { .. }),
            "peeled tag wins"
        );
        let at_a = format!("state=clone\norigin=https://example.org/app.git\nhead={A}\n{remote}");
        assert!(
            matches!(g.decide(Some(&seen(&at_a))).unwrap(), Plan::Change(c) if c.summary == "1111111111 -> 2222222222")
        );
        let other =
            format!("state=clone\norigin=https://example.org/other.git\nhead={A}\n{remote}");
        assert!(
            g.decide(Some(&seen(&other)))
                .unwrap_err()
                .0
                .contains("is a clone of https://example.org/other.git")
        );
        let dir = format!("state=other\n{remote}");
        assert!(
            g.decide(Some(&seen(&dir)))
                .unwrap_err()
                .0
                .contains("refusing to overwrite")
        );
        let unreachable =
            "state=absent\nls-remote\nfatal: repository not found\nls-remote-failed\n";
        assert!(
            g.decide(Some(&seen(unreachable)))
                .unwrap_err()
                .0
                .contains("cannot reach repository")
        );
        assert!(
            git("nope")
                .decide(Some(&seen(&format!("state=absent\n{remote}"))))
                .unwrap_err()
                .0
                .contains("not a branch or tag")
        );
    }
}
