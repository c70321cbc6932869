//! `file`: a directory, an empty file (touch), a symlink, or nothing at a path, with mode and owner.
//! Unlike Ansible, `touch` on an existing file changes nothing, so a second run reports `ok`.

use super::module::{DecideError, Look, Module, Observed, Plan, Step};
use super::registry::ModuleArgs;
use super::remote::{Attributes, FileKind, parse_stat, quote, stat_look};
use super::{FieldError, ModeText, PrepareCtx};
use crate::render::Pos;
use serde::Deserialize;
use serde_saphyr::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileArgs {
    #[serde(alias = "dest", alias = "name")]
    path: Spanned<String>,
    state: Option<Spanned<String>>,
    src: Option<Spanned<String>>,
    mode: Option<Spanned<ModeText>>,
    owner: Option<Spanned<String>>,
    group: Option<Spanned<String>>,
    /// With state=link: replace a regular file, or link to a source that does not exist.
    force: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FileState {
    File,
    Directory,
    Touch,
    Absent,
    Link,
}

impl ModuleArgs for FileArgs {
    fn prepare(&self, ctx: &PrepareCtx) -> Result<Box<dyn Module>, FieldError> {
        let path = ctx.absolute_path(&self.path, "path")?;
        let state = ctx.choice(
            &self.state,
            "state",
            &[
                ("file", FileState::File),
                ("directory", FileState::Directory),
                ("touch", FileState::Touch),
                ("absent", FileState::Absent),
                ("link", FileState::Link),
            ],
            FileState::File,
        )?;
        let src = ctx.render_opt(&self.src)?;
        if state == FileState::Link && src.is_none() {
            return Err(FieldError {
                pos: Pos::from(&self.path),
                message: "state=link needs `src`, the path the link points to".into(),
            });
        }
        if state != FileState::Link
            && let Some(s) = &self.src
        {
            return Err(FieldError {
                pos: Pos::from(s),
                message: "`src` is only used with state=link".into(),
            });
        }
        Ok(Box::new(FileAction {
            path,
            state,
            src,
            attributes: ctx.attributes(&self.mode, &self.owner, &self.group)?,
            force: self.force.unwrap_or(false),
        }))
    }
}

#[derive(Debug)]
pub struct FileAction {
    pub path: String,
    pub state: FileState,
    pub src: Option<String>,
    pub attributes: Attributes,
    pub force: bool,
}

/// What the link look prints when the link's source does not exist.
const NO_SOURCE: &str = "source|absent";

impl FileAction {
    fn fix_attributes(&self, what: &str, current: &super::remote::FileState) -> Plan {
        let diffs = self.attributes.differences(current);
        if diffs.is_empty() {
            return Plan::ok(format!("{what} as wanted"));
        }
        let script = self
            .attributes
            .apply_script(&self.path)
            .expect("differences imply attributes");
        Plan::change(diffs.join(", "), vec![Step::run(script)])
    }

    /// `mkdir -p`, with the wanted attributes on every directory it creates (as Ansible sets
    /// them on each missing parent, not only on the last).
    fn create_directories(&self) -> Plan {
        let p = quote(&self.path);
        let script = match self.attributes.apply_script_to_word("\"$d\"") {
            Some(attrs) => format!(
                "d={p}; set --; while [ ! -e \"$d\" ] && [ ! -L \"$d\" ]; do set -- \"$d\" \"$@\"; d=$(dirname -- \"$d\"); done; \
                 mkdir -p -- {p} && for d in \"$@\"; do {attrs} || exit 1; done"
            ),
            None => format!("mkdir -p -- {p}"),
        };
        Plan::change("create directory", vec![Step::run(script)])
    }

    /// The link's source as the link will see it: relative to the link's directory.
    fn source_path(&self, src: &str) -> String {
        if src.starts_with('/') {
            return src.to_string();
        }
        match self.path.rsplit_once('/') {
            Some(("", _)) => format!("/{src}"),
            Some((dir, _)) => format!("{dir}/{src}"),
            None => src.to_string(),
        }
    }

    fn create(&self, summary: &str, command: String) -> Plan {
        let script = match self.attributes.apply_script(&self.path) {
            Some(attrs) => format!("{command} && {attrs}"),
            None => command,
        };
        Plan::change(summary, vec![Step::run(script)])
    }
}

impl Module for FileAction {
    fn kind(&self) -> &'static str {
        "file"
    }

    fn target(&self) -> String {
        self.path.clone()
    }

    fn look(&self) -> Option<Look> {
        Some(if self.state == FileState::Link {
            // The link's target is read by the shell look only; so is whether its source exists.
            let src = self.source_path(self.src.as_deref().unwrap_or_default());
            Look::Shell(format!(
                "{}; [ -e {} ] || echo '{NO_SOURCE}'",
                stat_look(&self.path, false),
                quote(&src)
            ))
        } else {
            Look::Path {
                path: self.path.clone(),
                checksum: false,
            }
        })
    }

    fn decide(&self, observed: Option<&Observed>) -> Result<Plan, DecideError> {
        let output = observed.map(|o| o.output.as_str()).unwrap_or_default();
        let current = parse_stat(output)?;
        let p = quote(&self.path);
        let wrong_kind = |c: &super::remote::FileState, wanted: &str| {
            Err(DecideError(format!(
                "{} exists and is {}, not {wanted}",
                self.path,
                c.kind.describe()
            )))
        };
        match (self.state, current) {
            (FileState::Absent, None) => Ok(Plan::ok("already absent")),
            (FileState::Absent, Some(c)) => Ok(Plan::change(
                format!("remove {}", c.kind.describe()),
                vec![Step::run(format!("rm -rf -- {p}"))],
            )),
            (FileState::Directory, None) => Ok(self.create_directories()),
            (FileState::Directory, Some(c)) if c.kind == FileKind::Directory => {
                Ok(self.fix_attributes("directory", &c))
            }
            (FileState::Directory, Some(c)) => wrong_kind(&c, "a directory"),
            (FileState::Touch, None) => {
                Ok(self.create("create empty file", format!("touch -- {p}")))
            }
            (FileState::Touch | FileState::File, Some(c)) if c.kind == FileKind::Regular => {
                Ok(self.fix_attributes("file", &c))
            }
            (FileState::Touch | FileState::File, Some(c)) => wrong_kind(&c, "a regular file"),
            (FileState::File, None) => Err(DecideError(format!(
                "{} does not exist (state=file only changes existing files; use state=touch or copy to create it)",
                self.path
            ))),
            (FileState::Link, current) => {
                let src = self.src.as_deref().expect("checked in prepare");
                let linked = current.as_ref().is_some_and(|c| {
                    c.kind == FileKind::Symlink && c.link_target.as_deref() == Some(src)
                });
                if !linked && !self.force && output.lines().any(|l| l == NO_SOURCE) {
                    return Err(DecideError(format!(
                        "src file does not exist, use \"force=yes\" if you really want to create the link: {}",
                        self.source_path(src)
                    )));
                }
                if let Some(c) = &current
                    && c.kind != FileKind::Symlink
                    && c.kind != FileKind::Directory
                    && !self.force
                {
                    return Err(DecideError(format!(
                        "refusing to convert from {} to symlink for {} (force=yes replaces it)",
                        c.kind.describe(),
                        self.path
                    )));
                }
                match current {
                    Some(c)
                        if c.kind == FileKind::Symlink && c.link_target.as_deref() == Some(src) =>
                    {
                        Ok(Plan::ok(format!("links to {src}")))
                    }
                    Some(c) if c.kind == FileKind::Directory => wrong_kind(&c, "a symbolic link"),
                    Some(c) => Ok(Plan::change(
                        match c.link_target {
                            Some(old) => format!("link {old} -> {src}"),
                            None => format!("replace {} with a link to {src}", c.kind.describe()),
                        },
                        vec![Step::run(format!("ln -sfn -- {} {p}", quote(src)))],
                    )),
                    None => Ok(Plan::change(
                        format!("create link to {src}"),
                        vec![Step::run(format!("ln -s -- {} {p}", quote(src)))],
                    )),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(state: FileState, mode: Option<u32>) -> FileAction {
        FileAction {
            path: "/srv/app".into(),
            state,
            src: (state == FileState::Link).then(|| "/opt/app-1".to_string()),
            attributes: Attributes {
                mode,
                owner: None,
                group: None,
            },
            force: false,
        }
    }

    fn decide(a: &FileAction, out: &str) -> Result<Plan, DecideError> {
        a.decide(Some(&Observed {
            status: 0,
            output: out.into(),
        }))
    }

    const DIR_755: &str = "stat|directory|755|root|0|root|0\n";

    #[test]
    fn directory() {
        let a = action(FileState::Directory, Some(0o755));
        assert!(
            matches!(decide(&a, "absent\n").unwrap(), Plan::Change(c) if c.steps[0].script.contains("mkdir -p -- /srv/app && for d in \"$@\"; do chmod 0755 -- \"$d\" || exit 1; done"))
        );
        assert!(matches!(decide(&a, DIR_755).unwrap(), Plan::Ok { .. }));
        let b = action(FileState::Directory, Some(0o700));
        assert!(
            matches!(decide(&b, DIR_755).unwrap(), Plan::Change(c) if c.summary == "mode 0755 -> 0700")
        );
        let err = decide(&a, "stat|regular file|644|root|0|root|0\n").unwrap_err();
        assert_eq!(
            err.0,
            "/srv/app exists and is a regular file, not a directory"
        );
    }

    #[test]
    fn touch_absent_link() {
        let t = action(FileState::Touch, None);
        assert!(matches!(decide(&t, "absent\n").unwrap(), Plan::Change(_)));
        assert!(matches!(
            decide(&t, "stat|regular empty file|644|u|1|u|1\n").unwrap(),
            Plan::Ok { .. }
        ));
        let a = action(FileState::Absent, None);
        assert!(matches!(decide(&a, "absent\n").unwrap(), Plan::Ok { .. }));
        assert!(matches!(decide(&a, DIR_755).unwrap(), Plan::Change(_)));
        let l = action(FileState::Link, None);
        assert!(matches!(
            decide(&l, "stat|symbolic link|777|u|1|u|1\nlink|/opt/app-1\n").unwrap(),
            Plan::Ok { .. }
        ));
        assert!(
            matches!(decide(&l, "stat|symbolic link|777|u|1|u|1\nlink|/opt/app-0\n").unwrap(), Plan::Change(c) if c.summary == "link /opt/app-0 -> /opt/app-1")
        );
        assert!(decide(&l, DIR_755).is_err());
    }

    #[test]
    fn state_file_must_exist() {
        let f = action(FileState::File, Some(0o600));
        assert!(
            decide(&f, "absent\n")
                .unwrap_err()
                .0
                .contains("does not exist")
        );
    }
}
