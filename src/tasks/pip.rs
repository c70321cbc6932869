//! `pip`: Python packages in a virtualenv, created when missing (`python3 -m venv` by default).
//! The look compares the requirements with `pip freeze`; when every requirement is a plain name
//! or `name==version` that is met, nothing runs. Otherwise pip installs, and the task reports
//! `changed` only when `pip freeze` differs afterwards. Never installs into the system Python.

use super::module::{DecideError, ExecOutput, Look, Module, Observed, Plan, Step};
use super::registry::ModuleArgs;
use super::remote::quote;
use super::{FieldError, OneOrMany, PrepareCtx};
use crate::render::Pos;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::HashMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipArgs {
    #[serde(alias = "name")]
    packages: Option<Spanned<OneOrMany>>,
    /// A requirements file on the host.
    requirements: Option<Spanned<String>>,
    virtualenv: Spanned<String>,
    virtualenv_command: Option<Spanned<String>>,
    index_url: Option<Spanned<String>>,
    extra_args: Option<Spanned<String>>,
}

impl ModuleArgs for PipArgs {
    fn prepare(&self, ctx: &PrepareCtx) -> Result<Box<dyn Module>, FieldError> {
        let venv = ctx.absolute_path(&self.virtualenv, "virtualenv")?;
        let requirements = match &self.requirements {
            Some(r) => Some(ctx.absolute_path(r, "requirements")?),
            None => None,
        };
        let mut packages = Vec::new();
        if let Some(list) = &self.packages {
            for p in &list.value.0 {
                let p = ctx.render_at(p, Pos::from(list))?;
                if p.trim().is_empty() || p.starts_with('-') {
                    return Err(FieldError {
                        pos: Pos::from(list),
                        message: format!("`{p}` is not a requirement (options go in extra_args)"),
                    });
                }
                packages.push(p);
            }
        }
        if packages.is_empty() && requirements.is_none() {
            return Err(FieldError {
                pos: Pos::MODULE,
                message: "pip needs `packages` or `requirements`".into(),
            });
        }
        let words = |field: &Option<Spanned<String>>| -> Result<Vec<String>, FieldError> {
            match field {
                None => Ok(Vec::new()),
                Some(s) => {
                    let text = ctx.render(s)?;
                    shlex::split(&text).ok_or_else(|| FieldError {
                        pos: Pos::from(s),
                        message: format!("`{text}` has an unclosed quote"),
                    })
                }
            }
        };
        let mut options = words(&self.extra_args)?;
        // An empty index_url (`{{ pip_index_url | default('') }}`) means pip's own default.
        if let Some(url) = ctx.render_opt(&self.index_url)?.filter(|u| !u.is_empty()) {
            options.push("--index-url".into());
            options.push(url);
        }
        let venv_command = match &self.virtualenv_command {
            Some(_) => words(&self.virtualenv_command)?,
            None => vec!["python3".into(), "-m".into(), "venv".into()],
        };
        Ok(Box::new(Pip {
            venv,
            requirements,
            packages,
            options,
            venv_command,
        }))
    }
}

#[derive(Debug)]
pub struct Pip {
    venv: String,
    requirements: Option<String>,
    packages: Vec<String>,
    options: Vec<String>,
    venv_command: Vec<String>,
}

/// A package name as pip compares them (PEP 503).
fn normalize(name: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in name.trim().chars() {
        if "-_.".contains(c) {
            dash = true;
        } else {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// A requirement the look can judge: a name, and the version it is pinned to (`==`).
/// `None` for anything else (ranges, URLs, options, extras): pip has to judge those.
fn simple_requirement(line: &str) -> Option<(String, Option<String>)> {
    let line = line.split(" #").next()?.trim();
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    let end = line.find(|c: char| !is_name_char(c)).unwrap_or(line.len());
    let (name, rest) = line.split_at(end);
    if name.is_empty() {
        return None;
    }
    let rest = rest.trim();
    if rest.is_empty() {
        return Some((normalize(name), None));
    }
    let version = rest.strip_prefix("==")?.trim();
    if version.is_empty()
        || !version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".+!".contains(c))
    {
        return None;
    }
    Some((normalize(name), Some(version.to_string())))
}

impl Pip {
    fn pip(&self) -> String {
        format!("{}/bin/python -m pip", quote(&self.venv))
    }

    /// Whether everything asked for is installed, from `pip freeze` and the requirement lines;
    /// `None` when that cannot be judged without pip.
    fn satisfied(&self, freeze: &HashMap<String, String>, lines: &[&str]) -> Option<bool> {
        let wanted = lines
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .chain(self.packages.iter().map(String::as_str));
        for line in wanted {
            let (name, pin) = simple_requirement(line)?;
            match (freeze.get(&name), pin) {
                (None, _) => return Some(false),
                (Some(have), Some(want)) if *have != want => return Some(false),
                _ => {}
            }
        }
        Some(true)
    }
}

impl Module for Pip {
    fn kind(&self) -> &'static str {
        "pip"
    }

    fn target(&self) -> String {
        let what = match &self.requirements {
            Some(r) => format!("-r {r}"),
            None => self.packages.join(" "),
        };
        format!("{what} in {}", self.venv)
    }

    fn look(&self) -> Option<Look> {
        let v = quote(&self.venv);
        let mut s = format!(
            "if [ -x {v}/bin/python ]; then echo venv=yes; {} freeze --all 2>/dev/null | sed 's/^/freeze|/'; fi; ",
            self.pip()
        );
        if let Some(r) = &self.requirements {
            let r = quote(r);
            s.push_str(&format!(
                "if [ -f {r} ]; then sed 's/^/req|/' -- {r}; echo; else echo req=missing; fi; "
            ));
        }
        s.push_str("true");
        Some(Look::Shell(s))
    }

    fn decide(&self, observed: Option<&Observed>) -> Result<Plan, DecideError> {
        let out = observed.map(|o| o.output.as_str()).unwrap_or_default();
        // A missing requirements file fails when the step runs, not now: in check mode an
        // earlier task may be the one that would write it.
        let requirements_missing = out.lines().any(|l| l == "req=missing");
        let has_venv = out.lines().any(|l| l == "venv=yes");
        let freeze: HashMap<String, String> = out
            .lines()
            .filter_map(|l| l.strip_prefix("freeze|")?.split_once("=="))
            .map(|(n, v)| (normalize(n), v.trim().to_string()))
            .collect();
        let lines: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("req|")).collect();
        if has_venv && !requirements_missing && self.satisfied(&freeze, &lines) == Some(true) {
            return Ok(Plan::ok(format!("requirements met in {}", self.venv)));
        }
        let v = quote(&self.venv);
        let create = self
            .venv_command
            .iter()
            .map(|w| quote(w))
            .collect::<Vec<_>>()
            .join(" ");
        let mut install = vec![
            self.pip(),
            "install".into(),
            "--disable-pip-version-check".into(),
            "--no-input".into(),
            "-q".into(),
        ];
        install.extend(self.options.iter().map(|o| quote(o)));
        if let Some(r) = &self.requirements {
            install.push("-r".into());
            install.push(quote(r));
        }
        install.extend(self.packages.iter().map(|p| quote(p)));
        let check_file = match &self.requirements {
            Some(r) => format!(
                "[ -f {q} ] || {{ printf 'requirements file %s does not exist on the host\\n' {q} >&2; exit 1; }}; ",
                q = quote(r),
            ),
            None => String::new(),
        };
        let script = format!(
            "{check_file}set -e; created=no; if [ ! -x {v}/bin/python ]; then {create} {v}; created=yes; fi; \
             before=$({pip} freeze --all); {install}; after=$({pip} freeze --all); \
             if [ $created = yes ] || [ \"$before\" != \"$after\" ]; then echo provision:changed; fi",
            pip = self.pip(),
            install = install.join(" ")
        );
        let summary = if has_venv {
            format!("installed into {}", self.venv)
        } else {
            format!("created {} and installed into it", self.venv)
        };
        Ok(Plan::change(summary, vec![Step::run(script)]))
    }

    fn changed_by(&self, output: &ExecOutput) -> Option<bool> {
        Some(output.stdout_text().contains("provision:changed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pip(packages: &[&str]) -> Pip {
        Pip {
            venv: "/opt/app/venv".into(),
            requirements: Some("/opt/app/requirements.txt".into()),
            packages: packages.iter().map(|p| p.to_string()).collect(),
            options: vec![],
            venv_command: vec!["python3".into(), "-m".into(), "venv".into()],
        }
    }

    fn seen(s: &str) -> Option<Observed> {
        Some(Observed {
            status: 0,
            output: s.into(),
        })
    }

    #[test]
    fn requirements_judged_from_freeze() {
        assert_eq!(
            simple_requirement("Couch_DB==1.2 # pinned"),
            Some(("couch-db".into(), Some("1.2".into())))
        );
        assert_eq!(simple_requirement("tweepy"), Some(("tweepy".into(), None)));
        assert_eq!(simple_requirement("tweepy>=4"), None);
        assert_eq!(simple_requirement("-e ."), None);
        let met = "venv=yes\nfreeze|couchdb==1.2\nfreeze|tweepy==4.14.0\nreq|CouchDB==1.2\nreq|# comment\nreq|tweepy\n";
        assert!(matches!(
            pip(&[]).decide(seen(met).as_ref()).unwrap(),
            Plan::Ok { .. }
        ));
        let old = "venv=yes\nfreeze|couchdb==1.1\nreq|couchdb==1.2\n";
        assert!(matches!(
            pip(&[]).decide(seen(old).as_ref()).unwrap(),
            Plan::Change(_)
        ));
        // A range cannot be judged from freeze: pip decides, and the output says if it changed.
        let range = "venv=yes\nfreeze|tweepy==4.14.0\nreq|tweepy>=4\n";
        assert!(matches!(
            pip(&[]).decide(seen(range).as_ref()).unwrap(),
            Plan::Change(_)
        ));
        let unchanged = ExecOutput {
            status: 0,
            stdout: b"".to_vec(),
            stderr: vec![],
        };
        assert_eq!(pip(&[]).changed_by(&unchanged), Some(false));
    }

    #[test]
    fn missing_requirements_file_and_venv() {
        let Plan::Change(c) = pip(&[]).decide(seen("req=missing\n").as_ref()).unwrap() else {
            panic!()
        };
        assert!(c.steps[0].script.starts_with("[ -f /opt/app/requirements.txt ] || { printf 'requirements file %s does not exist on the host\\n' /opt/app/requirements.txt >&2; exit 1; }"));
        let Plan::Change(c) = pip(&["six"]).decide(seen("req|\n").as_ref()).unwrap() else {
            panic!()
        };
        assert_eq!(c.summary, "created /opt/app/venv and installed into it");
        assert!(c.steps[0].script.contains("python3 -m venv /opt/app/venv"));
    }
}
