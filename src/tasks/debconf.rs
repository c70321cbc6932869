//! `debconf`: preseed one answer of a package's configuration questions before it is installed
//! (CouchDB's Debian package asks for its mode, node name, cookie and admin password). Reads the
//! current answer with `debconf-communicate`, sets it with `debconf-set-selections` fed on stdin;
//! needs root. Values of `password` questions never show in output.

use super::module::{DecideError, Look, Module, Observed, Plan, Step};
use super::registry::ModuleArgs;
use super::remote::quote;
use super::{FieldError, PrepareCtx};
use crate::render::Pos;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::fmt;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebconfArgs {
    name: Spanned<String>,
    question: Spanned<String>,
    vtype: Spanned<String>,
    value: Spanned<String>,
}

const VTYPES: &[&str] = &[
    "string",
    "password",
    "boolean",
    "select",
    "multiselect",
    "note",
    "text",
    "title",
];

impl ModuleArgs for DebconfArgs {
    fn prepare(&self, ctx: &PrepareCtx) -> Result<Box<dyn Module>, FieldError> {
        let word = |s: &Spanned<String>, what: &str| -> Result<String, FieldError> {
            let v = ctx.render(s)?;
            let ok = v.starts_with(|c: char| c.is_ascii_alphanumeric())
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-._/:".contains(c));
            if ok {
                Ok(v)
            } else {
                Err(FieldError {
                    pos: Pos::from(s),
                    message: format!(
                        "{what} `{}` must be letters, digits and `+-._/:`, starting with a letter or digit",
                        v.escape_debug()
                    ),
                })
            }
        };
        let vtype = ctx.render(&self.vtype)?;
        if !VTYPES.contains(&vtype.as_str()) {
            return Err(FieldError {
                pos: Pos::from(&self.vtype),
                message: format!("vtype `{vtype}` is not one of: {}", VTYPES.join(", ")),
            });
        }
        let value = ctx.render(&self.value)?;
        // debconf-set-selections reads lines, and joins a line ending in `\` with the next.
        if value.chars().any(char::is_control) || value.ends_with('\\') {
            return Err(FieldError {
                pos: Pos::from(&self.value),
                message: "value: a debconf value is one line, without control characters, not ending in `\\`".into(),
            });
        }
        Ok(Box::new(Debconf {
            package: word(&self.name, "name")?,
            question: word(&self.question, "question")?,
            vtype,
            value,
        }))
    }
}

pub struct Debconf {
    package: String,
    question: String,
    vtype: String,
    value: String,
}

impl fmt::Debug for Debconf {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("Debconf")
            .field("package", &self.package)
            .field("question", &self.question)
            .field("vtype", &self.vtype)
            .finish_non_exhaustive()
    }
}

impl Debconf {
    fn shown(&self, value: &str) -> String {
        if self.vtype == "password" {
            "(hidden)".into()
        } else {
            format!("`{value}`")
        }
    }
}

impl Module for Debconf {
    fn kind(&self) -> &'static str {
        "debconf"
    }

    fn target(&self) -> String {
        format!("{} {}", self.package, self.question)
    }

    fn look(&self) -> Option<Look> {
        // debconf-communicate answers `0 value` when the question has an answer, `10 …` when the
        // question is unknown.
        Some(Look::Shell(format!(
            "command -v debconf-communicate >/dev/null || {{ echo 'debconf is not installed' >&2; exit 1; }}; \
             echo GET {q} | debconf-communicate {p} 2>/dev/null || true; echo \"uid=$(id -u)\"",
            q = quote(&self.question),
            p = quote(&self.package)
        )))
    }

    fn decide(&self, observed: Option<&Observed>) -> Result<Plan, DecideError> {
        let output = observed.map(|o| o.output.as_str()).unwrap_or_default();
        if output
            .lines()
            .any(|l| l.starts_with("uid=") && l != "uid=0")
        {
            return Err(DecideError(
                "debconf reads and writes root's debconf database: add `become: true`".into(),
            ));
        }
        let line = output.lines().next().unwrap_or("").to_string();
        let current = line.strip_prefix("0 ").or((line == "0").then_some(""));
        if current == Some(self.value.as_str()) {
            return Ok(Plan::ok(format!(
                "{} is {}",
                self.question,
                self.shown(&self.value)
            )));
        }
        let selection = format!(
            "{} {} {} {}\n",
            self.package, self.question, self.vtype, self.value
        );
        Ok(Plan::change(
            format!("set {} to {}", self.question, self.shown(&self.value)),
            vec![Step {
                script: "debconf-set-selections".into(),
                stdin: Some(selection.into_bytes()),
            }],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn debconf(vtype: &str, value: &str) -> Debconf {
        Debconf {
            package: "couchdb".into(),
            question: "couchdb/adminpass".into(),
            vtype: vtype.into(),
            value: value.into(),
        }
    }

    fn seen(s: &str) -> Observed {
        Observed {
            status: 0,
            output: s.into(),
        }
    }

    #[test]
    fn sets_only_a_different_answer_and_hides_passwords() {
        let d = debconf("password", "hunter2");
        assert!(matches!(
            d.decide(Some(&seen("0 hunter2\nuid=0\n"))).unwrap(),
            Plan::Ok { .. }
        ));
        let e = d
            .decide(Some(&seen("10 x doesn't exist\nuid=1000\n")))
            .unwrap_err();
        assert!(e.0.contains("add `become: true`"), "{e}");
        let Plan::Change(c) = d
            .decide(Some(&seen("10 couchdb/adminpass doesn't exist\n")))
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(c.summary, "set couchdb/adminpass to (hidden)");
        assert_eq!(
            c.steps[0].stdin.as_deref(),
            Some(&b"couchdb couchdb/adminpass password hunter2\n"[..])
        );
        assert!(!format!("{d:?}").contains("hunter2"));
        let s = debconf("select", "clustered");
        assert!(
            matches!(s.decide(Some(&seen("0 standalone\n"))).unwrap(), Plan::Change(c) if c.summary == "set couchdb/adminpass to `clustered`")
        );
    }
}
