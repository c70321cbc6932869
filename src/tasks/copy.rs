//! `copy`: a file's content from `content` (templated) or from `src` (in the role's `files/`).
//! Compared by SHA-256 with the host's file; written atomically only when it differs.
//! The same write action serves `template`.

use super::module::{Change, DecideError, FileChange, Look, Module, Observed, Plan, Step};
use super::registry::ModuleArgs;
use super::remote::{Attributes, FileKind, atomic_write_step, parse_stat, sha256_hex};
use super::{FieldError, ModeText, PrepareCtx};
use crate::render::Pos;
use serde::Deserialize;
use serde_saphyr::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyArgs {
    dest: Spanned<String>,
    content: Option<Spanned<String>>,
    src: Option<Spanned<String>>,
    mode: Option<Spanned<ModeText>>,
    owner: Option<Spanned<String>>,
    group: Option<Spanned<String>>,
}

impl ModuleArgs for CopyArgs {
    fn prepare(&self, ctx: &PrepareCtx) -> Result<Box<dyn Module>, FieldError> {
        let content = match (&self.content, &self.src) {
            (Some(c), None) => ctx.render(c)?.into_bytes(),
            (None, Some(s)) => {
                let name = ctx.render(s)?;
                ctx.roles.file(&name).map_err(|e| FieldError {
                    pos: Pos::from(s),
                    message: e.to_string(),
                })?
            }
            _ => {
                return Err(FieldError {
                    pos: Pos::from(&self.dest),
                    message: "copy needs exactly one of `content` and `src`".into(),
                });
            }
        };
        Ok(Box::new(WriteFile::new(
            "copy",
            checked_dest(ctx, &self.dest)?,
            content,
            ctx.attributes(&self.mode, &self.owner, &self.group)?,
        )))
    }
}

pub fn checked_dest(ctx: &PrepareCtx, dest: &Spanned<String>) -> Result<String, FieldError> {
    let path = ctx.render(dest)?;
    if !path.starts_with('/') || path.ends_with('/') {
        return Err(FieldError {
            pos: Pos::from(dest),
            message: format!("dest `{path}` must be an absolute path to a file"),
        });
    }
    Ok(path)
}

/// Puts exact content at a path.
#[derive(Debug)]
pub struct WriteFile {
    kind: &'static str,
    path: String,
    content: Vec<u8>,
    sha256: String,
    attributes: Attributes,
}

impl WriteFile {
    pub fn new(
        kind: &'static str,
        path: String,
        content: Vec<u8>,
        attributes: Attributes,
    ) -> WriteFile {
        WriteFile {
            kind,
            sha256: sha256_hex(&content),
            path,
            content,
            attributes,
        }
    }

    fn write(&self, summary: &str, exists: bool) -> Plan {
        Plan::Change(Change {
            summary: summary.to_string(),
            steps: vec![atomic_write_step(
                &self.path,
                self.content.clone(),
                &self.attributes,
            )],
            file: Some(FileChange {
                path: self.path.clone(),
                new_content: self.content.clone(),
                exists,
            }),
            runs_user_command: false,
            observes_only: false,
            runs_in_check: false,
            notice: None,
        })
    }
}

impl Module for WriteFile {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn target(&self) -> String {
        self.path.clone()
    }

    fn look(&self) -> Option<Look> {
        Some(Look::Path {
            path: self.path.clone(),
            checksum: true,
        })
    }

    fn decide(&self, observed: Option<&Observed>) -> Result<Plan, DecideError> {
        let output = observed.map(|o| o.output.as_str()).unwrap_or_default();
        let Some(current) = parse_stat(output)? else {
            return Ok(self.write("create file", false));
        };
        if current.kind == FileKind::Symlink {
            // As Ansible (follow=no): the link itself is replaced by the file.
            return Ok(self.write("replace symbolic link with a file", false));
        }
        if current.kind != FileKind::Regular {
            return Err(DecideError(format!(
                "{} exists and is {}, not a regular file",
                self.path,
                current.kind.describe()
            )));
        }
        if current.sha256.as_deref() != Some(self.sha256.as_str()) {
            return Ok(self.write("content differs", true));
        }
        let diffs = self.attributes.differences(&current);
        if diffs.is_empty() {
            return Ok(Plan::ok("content and attributes as wanted"));
        }
        let script = self
            .attributes
            .apply_script(&self.path)
            .expect("differences imply attributes");
        Ok(Plan::change(diffs.join(", "), vec![Step::run(script)]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(s: &str) -> Observed {
        Observed {
            status: 0,
            output: s.into(),
        }
    }

    #[test]
    fn decides_by_checksum_then_attributes() {
        let w = WriteFile::new(
            "copy",
            "/etc/motd".into(),
            b"hello\n".to_vec(),
            Attributes {
                mode: Some(0o644),
                owner: None,
                group: None,
            },
        );
        let sum = sha256_hex(b"hello\n");
        assert!(
            matches!(w.decide(Some(&observed("absent\n"))).unwrap(), Plan::Change(c) if c.file.as_ref().is_some_and(|f| !f.exists))
        );
        let same = format!("stat|regular file|644|root|0|root|0\nsha256|{sum}\n");
        assert!(matches!(
            w.decide(Some(&observed(&same))).unwrap(),
            Plan::Ok { .. }
        ));
        let other = "stat|regular file|644|root|0|root|0\nsha256|0000\n";
        assert!(
            matches!(w.decide(Some(&observed(other))).unwrap(), Plan::Change(c) if c.summary == "content differs")
        );
        let mode = format!("stat|regular file|600|root|0|root|0\nsha256|{sum}\n");
        assert!(
            matches!(w.decide(Some(&observed(&mode))).unwrap(), Plan::Change(c) if c.file.is_none() && c.summary == "mode 0600 -> 0644")
        );
        assert!(
            w.decide(Some(&observed("stat|directory|755|root|0|root|0\n")))
                .is_err()
        );
    }
}
