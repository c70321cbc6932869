//! `filesystem`: make a filesystem on a block device (an attached cloud volume) only when the
//! device holds none. The device is probed with `blkid -p` first, and a device that holds a
//! filesystem of another type, or a partition table, is a failure: provision never reformats a
//! device that holds data. Needs root.

use super::module::{DecideError, Look, Module, Observed, Plan, Step};
use super::registry::ModuleArgs;
use super::remote::quote;
use super::{FieldError, PrepareCtx};
use crate::render::Pos;
use serde::Deserialize;
use serde_saphyr::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesystemArgs {
    #[serde(alias = "device")]
    dev: Spanned<String>,
    fstype: Spanned<String>,
    /// Extra options for mkfs, e.g. `-L data`.
    opts: Option<Spanned<String>>,
}

const FSTYPES: &[&str] = &["ext4", "ext3", "ext2", "xfs", "btrfs"];

impl ModuleArgs for FilesystemArgs {
    fn prepare(&self, ctx: &PrepareCtx) -> Result<Box<dyn Module>, FieldError> {
        let dev = ctx.absolute_path(&self.dev, "dev")?;
        let fstype = ctx.render(&self.fstype)?;
        if !FSTYPES.contains(&fstype.as_str()) {
            return Err(FieldError {
                pos: Pos::from(&self.fstype),
                message: format!("fstype `{fstype}` is not one of: {}", FSTYPES.join(", ")),
            });
        }
        let opts = match &self.opts {
            Some(o) => {
                let text = ctx.render(o)?;
                shlex::split(&text).ok_or_else(|| FieldError {
                    pos: Pos::from(o),
                    message: format!("opts `{text}` has an unclosed quote"),
                })?
            }
            None => Vec::new(),
        };
        Ok(Box::new(Filesystem { dev, fstype, opts }))
    }
}

#[derive(Debug)]
pub struct Filesystem {
    dev: String,
    fstype: String,
    opts: Vec<String>,
}

/// One `KEY=value` of `blkid -o export` output.
fn blkid_field<'a>(output: &'a str, key: &str) -> Option<&'a str> {
    output
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
}

impl Module for Filesystem {
    fn kind(&self) -> &'static str {
        "filesystem"
    }

    fn target(&self) -> String {
        format!("{} on {}", self.fstype, self.dev)
    }

    fn look(&self) -> Option<Look> {
        let d = quote(&self.dev);
        Some(Look::Shell(format!(
            "if [ -b {d} ]; then echo kind=block; blkid -p -o export {d} 2>/dev/null; true; \
             elif [ -e {d} ]; then echo kind=other; else echo kind=missing; fi"
        )))
    }

    fn decide(&self, observed: Option<&Observed>) -> Result<Plan, DecideError> {
        let out = observed.map(|o| o.output.as_str()).unwrap_or_default();
        match blkid_field(out, "kind") {
            Some("block") => {}
            Some("other") => {
                return Err(DecideError(format!("{} is not a block device", self.dev)));
            }
            _ => {
                return Err(DecideError(format!(
                    "device {} does not exist (is the volume attached?)",
                    self.dev
                )));
            }
        }
        if let Some(table) = blkid_field(out, "PTTYPE") {
            return Err(DecideError(format!(
                "{} holds a partition table ({table}); refusing to make {} on it: provision never reformats a device that holds data",
                self.dev, self.fstype
            )));
        }
        match blkid_field(out, "TYPE") {
            Some(t) if t == self.fstype => Ok(Plan::ok(format!(
                "{} already holds {t} (UUID {})",
                self.dev,
                blkid_field(out, "UUID").unwrap_or("unknown")
            ))),
            Some(other) => Err(DecideError(format!(
                "{} holds a {other} filesystem (UUID {}); refusing to make {} on it: provision never reformats a device that holds data",
                self.dev,
                blkid_field(out, "UUID").unwrap_or("unknown"),
                self.fstype
            ))),
            None => {
                let mkfs = format!("mkfs.{}", self.fstype);
                let mut words = vec![mkfs.clone(), "-q".to_string()];
                words.extend(self.opts.iter().cloned());
                words.push(self.dev.clone());
                let command = words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ");
                Ok(Plan::change(
                    format!("made {} on {}", self.fstype, self.dev),
                    vec![Step::run(format!(
                        "command -v {m} >/dev/null || {{ printf '%s is not installed\\n' {m} >&2; exit 127; }}; {command}",
                        m = quote(&mkfs)
                    ))],
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fs() -> Filesystem {
        Filesystem {
            dev: "/dev/vdb".into(),
            fstype: "ext4".into(),
            opts: vec!["-L".into(), "data".into()],
        }
    }

    fn seen(s: &str) -> Option<Observed> {
        Some(Observed {
            status: 0,
            output: s.into(),
        })
    }

    #[test]
    fn makes_a_filesystem_only_on_an_empty_device() {
        match fs().decide(seen("kind=block\n").as_ref()).unwrap() {
            Plan::Change(c) => assert!(
                c.steps[0].script.ends_with("mkfs.ext4 -q -L data /dev/vdb"),
                "{}",
                c.steps[0].script
            ),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            fs().decide(seen("kind=block\nUUID=abc\nTYPE=ext4\n").as_ref())
                .unwrap(),
            Plan::Ok { .. }
        ));
        let e = fs()
            .decide(seen("kind=block\nUUID=abc\nTYPE=xfs\n").as_ref())
            .unwrap_err();
        assert!(e.0.contains("holds a xfs filesystem (UUID abc)"), "{e}");
        let e = fs()
            .decide(seen("kind=block\nPTTYPE=gpt\n").as_ref())
            .unwrap_err();
        assert!(e.0.contains("partition table (gpt)"), "{e}");
        let e = fs().decide(seen("kind=missing\n").as_ref()).unwrap_err();
        assert!(e.0.contains("is the volume attached?"), "{e}");
    }
}
