//! `lineinfile`: make sure a line is in a file (replacing the last line a `regexp` matches), or
//! that no such line is. The file is read once, the new content computed here, and written
//! atomically only when it differs.

use super::module::{Change, DecideError, FileChange, Look, Module, Observed, Plan};
use super::registry::ModuleArgs;
use super::remote::{Attributes, atomic_write_step, quote};
use super::{FieldError, PrepareCtx};
use crate::render::Pos;
use serde::Deserialize;
use serde_saphyr::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineInFileArgs {
    #[serde(alias = "dest", alias = "name")]
    path: Spanned<String>,
    line: Option<Spanned<String>>,
    regexp: Option<Spanned<String>>,
    state: Option<Spanned<String>>,
    #[serde(default)]
    create: bool,
}

impl ModuleArgs for LineInFileArgs {
    fn prepare(&self, ctx: &PrepareCtx) -> Result<Box<dyn Module>, FieldError> {
        let path = ctx.absolute_path(&self.path, "path")?;
        let present = ctx.choice(
            &self.state,
            "state",
            &[("present", true), ("absent", false)],
            true,
        )?;
        let regexp = match &self.regexp {
            Some(r) => {
                let text = ctx.render(r)?;
                Some(regex::Regex::new(&text).map_err(|e| FieldError {
                    pos: Pos::from(r),
                    message: format!("regexp `{text}` is not valid: {e}"),
                })?)
            }
            None => None,
        };
        let line = ctx.render_opt(&self.line)?;
        if present && line.is_none() {
            return Err(FieldError {
                pos: Pos::from(&self.path),
                message: "state=present needs `line`".into(),
            });
        }
        if line.as_deref().is_some_and(|l| l.contains('\n')) {
            return Err(FieldError {
                pos: Pos::from(self.line.as_ref().expect("line is set")),
                message: "`line` is one line: it cannot contain a newline".into(),
            });
        }
        if !present && line.is_none() && regexp.is_none() {
            return Err(FieldError {
                pos: Pos::from(&self.path),
                message: "state=absent needs `line` or `regexp`".into(),
            });
        }
        Ok(Box::new(LineInFile {
            path,
            line,
            regexp,
            present,
            create: self.create,
        }))
    }
}

#[derive(Debug)]
pub struct LineInFile {
    path: String,
    line: Option<String>,
    regexp: Option<regex::Regex>,
    present: bool,
    create: bool,
}

impl LineInFile {
    fn matches(&self, candidate: &str) -> bool {
        match &self.regexp {
            Some(r) => r.is_match(candidate),
            None => Some(candidate) == self.line.as_deref(),
        }
    }

    /// The content the file should have, or `None` when it already does. Lines keep their own
    /// endings (`\r\n` stays); a line written by the task ends with `\n`, as Ansible writes it.
    pub fn edit(&self, content: &str) -> Option<(String, String)> {
        let mut lines: Vec<String> = content.split_inclusive('\n').map(String::from).collect();
        let text = |l: &str| l.trim_end_matches('\n').trim_end_matches('\r').to_string();
        if self.present {
            let line = self.line.as_deref().expect("checked in prepare");
            let wanted = format!("{line}\n");
            if self.regexp.is_some()
                && let Some(i) = lines.iter().rposition(|l| self.matches(&text(l)))
            {
                if lines[i] == wanted {
                    return None;
                }
                lines[i] = wanted;
                return Some((lines.concat(), format!("line {} replaced", i + 1)));
            }
            if lines.iter().any(|l| text(l) == line) {
                return None;
            }
            if let Some(last) = lines.last_mut()
                && !last.ends_with('\n')
            {
                last.push('\n');
            }
            lines.push(wanted);
            Some((lines.concat(), "line added".to_string()))
        } else {
            let before = lines.len();
            lines.retain(|l| !self.matches(&text(l)));
            let removed = before - lines.len();
            (removed > 0).then(|| (lines.concat(), format!("{removed} line(s) removed")))
        }
    }
}

impl Module for LineInFile {
    fn kind(&self) -> &'static str {
        "lineinfile"
    }

    fn target(&self) -> String {
        self.path.clone()
    }

    fn look(&self) -> Option<Look> {
        let p = quote(&self.path);
        Some(Look::Shell(format!(
            "if [ -f {p} ]; then echo present; cat -- {p}; else echo absent; fi"
        )))
    }

    fn decide(&self, observed: Option<&Observed>) -> Result<Plan, DecideError> {
        let output = observed.map(|o| o.output.as_str()).unwrap_or_default();
        let (exists, content) = match output.split_once('\n') {
            Some(("present", rest)) => (true, rest),
            _ if output.trim() == "absent" => (false, ""),
            _ => {
                return Err(DecideError(format!(
                    "could not read {}: {}",
                    self.path,
                    output.trim()
                )));
            }
        };
        if !exists && self.present && !self.create {
            return Err(DecideError(format!(
                "{} does not exist (set `create: true` to create it)",
                self.path
            )));
        }
        if !exists && !self.present {
            return Ok(Plan::ok("file absent: no such line"));
        }
        match self.edit(content) {
            None => Ok(Plan::ok(if self.present {
                "line present"
            } else {
                "no such line"
            })),
            Some((new, summary)) => Ok(Plan::Change(Change {
                summary,
                steps: vec![atomic_write_step(
                    &self.path,
                    new.clone().into_bytes(),
                    &Attributes::default(),
                )],
                file: Some(FileChange {
                    path: self.path.clone(),
                    new_content: new.into_bytes(),
                    exists,
                }),
                runs_user_command: false,
                observes_only: false,
                runs_in_check: false,
                notice: None,
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(line: Option<&str>, regexp: Option<&str>, present: bool) -> LineInFile {
        LineInFile {
            path: "/etc/x.conf".into(),
            line: line.map(String::from),
            regexp: regexp.map(|r| regex::Regex::new(r).unwrap()),
            present,
            create: false,
        }
    }

    #[test]
    fn add_replace_keep_remove() {
        let add = module(Some("b=2"), None, true);
        assert_eq!(add.edit("a=1\n").unwrap().0, "a=1\nb=2\n");
        assert_eq!(add.edit("a=1\nb=2\n"), None);
        let replace = module(Some("port=9100"), Some("^port="), true);
        assert_eq!(
            replace.edit("x\nport=1\nport=2\ny\n").unwrap(),
            ("x\nport=1\nport=9100\ny\n".into(), "line 3 replaced".into())
        );
        assert_eq!(replace.edit("port=9100\n"), None);
        assert_eq!(replace.edit("x\n").unwrap().0, "x\nport=9100\n");
        let remove = module(None, Some("^#"), false);
        assert_eq!(
            remove.edit("#a\nb\n#c\n").unwrap(),
            ("b\n".into(), "2 line(s) removed".into())
        );
        assert_eq!(remove.edit("b\n"), None);
    }

    #[test]
    fn decides_from_the_look() {
        let m = module(Some("b=2"), None, true);
        let seen = |s: &str| Observed {
            status: 0,
            output: s.into(),
        };
        assert!(matches!(
            m.decide(Some(&seen("present\na=1\nb=2\n"))).unwrap(),
            Plan::Ok { .. }
        ));
        assert!(
            matches!(m.decide(Some(&seen("present\na=1\n"))).unwrap(), Plan::Change(c) if c.summary == "line added")
        );
        assert!(
            m.decide(Some(&seen("absent\n")))
                .unwrap_err()
                .0
                .contains("create: true")
        );
    }
}
