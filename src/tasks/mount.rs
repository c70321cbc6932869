//! `mount`: a filesystem mounted at a path and listed in `/etc/fstab`. A device path given as
//! `src` is written to fstab by its filesystem's UUID (device names of cloud volumes change across
//! reboots); whether it is mounted is judged by device number, not by name. A path mounted from
//! another device is a failure, not a remount. Needs root.

use super::module::{Change, DecideError, FileChange, Look, Module, Observed, Plan, Step};
use super::registry::ModuleArgs;
use super::remote::{Attributes, atomic_write_step, quote};
use super::{FieldError, PrepareCtx, checks};
use crate::render::Pos;
use serde::Deserialize;
use serde_saphyr::Spanned;

const FSTAB: &str = "/etc/fstab";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountArgs {
    path: Spanned<String>,
    src: Option<Spanned<String>>,
    fstype: Option<Spanned<String>>,
    opts: Option<Spanned<String>>,
    state: Option<Spanned<String>>,
    dump: Option<u8>,
    passno: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Wanted {
    Mounted,
    Present,
    Unmounted,
    Absent,
}

impl ModuleArgs for MountArgs {
    fn prepare(&self, ctx: &PrepareCtx) -> Result<Box<dyn Module>, FieldError> {
        let path = ctx.absolute_path(&self.path, "path")?;
        let state = ctx.choice(
            &self.state,
            "state",
            &[
                ("mounted", Wanted::Mounted),
                ("present", Wanted::Present),
                ("unmounted", Wanted::Unmounted),
                ("absent", Wanted::Absent),
            ],
            Wanted::Mounted,
        )?;
        if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(FieldError {
                pos: Pos::from(&self.path),
                message: format!(
                    "path `{}` may not hold spaces or control characters (fstab fields are separated by spaces)",
                    path.escape_debug()
                ),
            });
        }
        let src = ctx.render_opt(&self.src)?;
        let fstype = ctx.render_opt(&self.fstype)?;
        let entry = match (state, src, fstype) {
            (Wanted::Mounted | Wanted::Present, Some(src), Some(fstype)) => {
                let opts = ctx
                    .render_opt(&self.opts)?
                    .unwrap_or_else(|| "defaults".into());
                for (what, value) in [("src", &src), ("fstype", &fstype), ("opts", &opts)] {
                    if value.is_empty()
                        || value.contains(|c: char| c.is_whitespace() || c.is_control())
                    {
                        return Err(FieldError {
                            pos: Pos::MODULE,
                            message: format!(
                                "{what} `{}` may not be empty or hold spaces or control characters",
                                value.escape_debug()
                            ),
                        });
                    }
                }
                for (what, value) in [("fstype", &fstype), ("opts", &opts)] {
                    checks::not_an_option(what, value, Pos::MODULE)?;
                }
                Some(Entry {
                    src,
                    fstype,
                    opts,
                    dump: self.dump.unwrap_or(0),
                    passno: self.passno.unwrap_or(if path == "/" { 1 } else { 2 }),
                })
            }
            (Wanted::Mounted | Wanted::Present, _, _) => {
                return Err(FieldError {
                    pos: Pos::MODULE,
                    message: "mount with state mounted or present needs `src` and `fstype`".into(),
                });
            }
            _ => None,
        };
        Ok(Box::new(Mount { path, state, entry }))
    }
}

#[derive(Debug, Clone)]
struct Entry {
    src: String,
    fstype: String,
    opts: String,
    dump: u8,
    passno: u8,
}

impl Entry {
    fn is_device(&self) -> bool {
        self.src.starts_with("/dev/")
    }
}

#[derive(Debug)]
pub struct Mount {
    path: String,
    state: Wanted,
    entry: Option<Entry>,
}

/// What the look saw.
#[derive(Debug, Default)]
struct Seen {
    fstab: Vec<String>,
    /// `major:minor` of the device `src` names.
    src_device: Option<String>,
    uuid: Option<String>,
    /// `major:minor source` of what is mounted at the path.
    mounted: Option<(String, String)>,
}

fn parse(output: &str) -> Seen {
    let mut seen = Seen::default();
    let mut in_fstab = false;
    for line in output.lines() {
        match line {
            "fstab<<" => in_fstab = true,
            ">>fstab" => in_fstab = false,
            l if in_fstab => seen.fstab.push(l.to_string()),
            l => {
                if let Some(v) = l.strip_prefix("src_device=").filter(|v| !v.is_empty()) {
                    seen.src_device = Some(v.to_string());
                } else if let Some(v) = l.strip_prefix("uuid=").filter(|v| !v.is_empty()) {
                    seen.uuid = Some(v.to_string());
                } else if let Some(v) = l.strip_prefix("mounted=") {
                    let mut words = v.split_whitespace();
                    if let (Some(dev), Some(src)) = (words.next(), words.next()) {
                        seen.mounted = Some((dev.to_string(), src.to_string()));
                    }
                }
            }
        }
    }
    seen
}

/// The mount point field of an fstab line, for lines that are entries.
fn mount_point(line: &str) -> Option<&str> {
    let trimmed = line.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return None;
    }
    trimmed.split_whitespace().nth(1)
}

impl Mount {
    /// The fstab with this path's entry set to `line`, or removed when `line` is `None`. Other
    /// lines, comments included, are kept as they are.
    fn fstab_with(&self, fstab: &[String], line: Option<&str>) -> Vec<String> {
        let mut out = Vec::new();
        let mut placed = false;
        for l in fstab {
            if mount_point(l) == Some(self.path.as_str()) {
                if let (Some(new), false) = (line, placed) {
                    out.push(new.to_string());
                    placed = true;
                }
            } else {
                out.push(l.clone());
            }
        }
        if let (Some(new), false) = (line, placed) {
            out.push(new.to_string());
        }
        out
    }

    fn fstab_step(&self, lines: &[String], seen: &Seen) -> (Step, FileChange) {
        let content = format!("{}\n", lines.join("\n")).into_bytes();
        let step = atomic_write_step(
            FSTAB,
            content.clone(),
            &Attributes {
                mode: None,
                owner: None,
                group: None,
            },
        );
        (
            step,
            FileChange {
                path: FSTAB.into(),
                new_content: content,
                exists: !seen.fstab.is_empty(),
            },
        )
    }
}

impl Module for Mount {
    fn kind(&self) -> &'static str {
        "mount"
    }

    fn target(&self) -> String {
        self.path.clone()
    }

    fn look(&self) -> Option<Look> {
        let p = quote(&self.path);
        let mut s = format!("echo 'fstab<<'; cat {FSTAB} 2>/dev/null; echo '>>fstab'; ");
        if let Some(e) = self.entry.as_ref().filter(|e| e.is_device()) {
            let d = quote(&e.src);
            s.push_str(&format!(
                "if [ -b {d} ]; then echo \"src_device=$(stat -L -c '%Hr:%Lr' -- {d})\"; echo \"uuid=$(blkid -p -s UUID -o value -- {d} 2>/dev/null)\"; fi; "
            ));
        }
        s.push_str(&format!(
            "echo \"mounted=$(findmnt -n -o MAJ:MIN,SOURCE --mountpoint {p} 2>/dev/null | head -n 1)\""
        ));
        Some(Look::Shell(s))
    }

    fn decide(&self, observed: Option<&Observed>) -> Result<Plan, DecideError> {
        let seen = parse(observed.map(|o| o.output.as_str()).unwrap_or_default());
        let p = quote(&self.path);
        let mut steps = Vec::new();
        let mut summary = Vec::new();
        let mut file = None;
        match &self.entry {
            Some(e) => {
                if e.is_device() && seen.src_device.is_none() {
                    return Err(DecideError(format!(
                        "device {} does not exist (is the volume attached?)",
                        e.src
                    )));
                }
                let spec = match (e.is_device(), &seen.uuid) {
                    (true, Some(uuid)) => format!("UUID={uuid}"),
                    (true, None) => {
                        // Only in check mode can the filesystem be missing at this point: a
                        // real run looks again after the filesystem task made it.
                        steps.push(Step::run(format!(
                            "printf '%s holds no filesystem: make one first (module filesystem)\\n' {} >&2; exit 1",
                            quote(&e.src)
                        )));
                        e.src.clone()
                    }
                    (false, _) => e.src.clone(),
                };
                let line = format!(
                    "{spec} {} {} {} {} {}",
                    self.path, e.fstype, e.opts, e.dump, e.passno
                );
                let current: Vec<&String> = seen
                    .fstab
                    .iter()
                    .filter(|l| mount_point(l) == Some(self.path.as_str()))
                    .collect();
                let same = current.len() == 1
                    && current[0].split_whitespace().collect::<Vec<_>>()
                        == line.split_whitespace().collect::<Vec<_>>();
                if !same && steps.is_empty() {
                    let (step, change) =
                        self.fstab_step(&self.fstab_with(&seen.fstab, Some(&line)), &seen);
                    steps.push(step);
                    file = Some(change);
                    summary.push(format!("fstab: {line}"));
                }
                if self.state == Wanted::Mounted {
                    match &seen.mounted {
                        Some((dev, _))
                            if e.is_device() && seen.src_device.as_ref() == Some(dev) => {}
                        Some((_, source)) if !e.is_device() && *source == e.src => {}
                        Some((_, source)) => {
                            return Err(DecideError(format!(
                                "{} is already mounted from {source}, not {}: unmount it first",
                                self.path, e.src
                            )));
                        }
                        None => {
                            steps.push(Step::run(format!(
                                "mkdir -p -- {p} && mount -t {} -o {} -- {} {p}",
                                quote(&e.fstype),
                                quote(&e.opts),
                                quote(&e.src)
                            )));
                            summary.push(format!("mounted {} at {}", e.src, self.path));
                        }
                    }
                }
            }
            None => {
                if seen.mounted.is_some() {
                    steps.push(Step::run(format!("umount -- {p}")));
                    summary.push(format!("unmounted {}", self.path));
                }
                if self.state == Wanted::Absent
                    && seen
                        .fstab
                        .iter()
                        .any(|l| mount_point(l) == Some(self.path.as_str()))
                {
                    let (step, change) =
                        self.fstab_step(&self.fstab_with(&seen.fstab, None), &seen);
                    steps.push(step);
                    file = Some(change);
                    summary.push("removed from fstab".into());
                }
            }
        }
        if steps.is_empty() {
            return Ok(Plan::ok(match self.state {
                Wanted::Mounted => format!("{} mounted and in fstab", self.path),
                Wanted::Present => format!("{} in fstab", self.path),
                Wanted::Unmounted => format!("{} not mounted", self.path),
                Wanted::Absent => format!("{} neither mounted nor in fstab", self.path),
            }));
        }
        if summary.is_empty() {
            summary.push(format!("mount {}", self.path));
        }
        Ok(Plan::Change(Change {
            summary: summary.join("; "),
            steps,
            file,
            runs_user_command: false,
            observes_only: false,
            runs_in_check: false,
            notice: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(state: Wanted) -> Mount {
        Mount {
            path: "/data".into(),
            state,
            entry: (state == Wanted::Mounted).then(|| Entry {
                src: "/dev/vdb".into(),
                fstype: "ext4".into(),
                opts: "defaults,nofail".into(),
                dump: 0,
                passno: 2,
            }),
        }
    }

    fn seen(s: &str) -> Option<Observed> {
        Some(Observed {
            status: 0,
            output: s.into(),
        })
    }

    const FRESH: &str = "fstab<<\n# /etc/fstab\nproc /proc proc defaults 0 0\n>>fstab\nsrc_device=7:3\nuuid=1234-abcd\nmounted=\n";

    #[test]
    fn persists_by_uuid_and_mounts_once() {
        let Plan::Change(c) = mount(Wanted::Mounted).decide(seen(FRESH).as_ref()).unwrap() else {
            panic!()
        };
        let fstab = String::from_utf8(c.file.unwrap().new_content).unwrap();
        assert_eq!(
            fstab,
            "# /etc/fstab\nproc /proc proc defaults 0 0\nUUID=1234-abcd /data ext4 defaults,nofail 0 2\n"
        );
        assert!(
            c.steps[1]
                .script
                .contains("mount -t ext4 -o defaults,nofail -- /dev/vdb /data")
        );
        let settled = "fstab<<\nUUID=1234-abcd   /data ext4 defaults,nofail 0 2\n>>fstab\nsrc_device=7:3\nuuid=1234-abcd\nmounted=7:3 /dev/loop3\n";
        assert!(matches!(
            mount(Wanted::Mounted)
                .decide(seen(settled).as_ref())
                .unwrap(),
            Plan::Ok { .. }
        ));
    }

    #[test]
    fn another_device_at_the_path_is_an_error_and_absent_removes() {
        let other = "fstab<<\n>>fstab\nsrc_device=7:3\nuuid=1234\nmounted=8:1 /dev/sda1\n";
        let e = mount(Wanted::Mounted)
            .decide(seen(other).as_ref())
            .unwrap_err();
        assert!(e.0.contains("already mounted from /dev/sda1"), "{e}");
        let present =
            "fstab<<\n# keep\nUUID=1234 /data ext4 defaults 0 2\n>>fstab\nmounted=7:3 /dev/vdb\n";
        let Plan::Change(c) = mount(Wanted::Absent)
            .decide(seen(present).as_ref())
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(c.summary, "unmounted /data; removed from fstab");
        assert_eq!(c.file.unwrap().new_content, b"# keep\n");
    }
}
