//! `stat`: what a path is (type, mode, owner, link target, checksum), for `register`; changes
//! nothing. The registered `stat` has Ansible's field names; its checksum is SHA-1 unless
//! `checksum_algorithm` says sha256, as in Ansible.

use super::module::{DecideError, Look, Module, Observed, Plan};
use super::registry::ModuleArgs;
use super::remote::{self, FileKind, quote};
use super::{FieldError, PrepareCtx};
use crate::render::Pos;
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};
use serde_saphyr::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatArgs {
    #[serde(alias = "dest", alias = "name")]
    path: Spanned<String>,
    get_checksum: Option<bool>,
    checksum_algorithm: Option<Spanned<String>>,
    #[serde(alias = "checksum")]
    get_md5: Option<bool>,
    get_mime: Option<bool>,
    get_attributes: Option<bool>,
    follow: Option<bool>,
}

impl ModuleArgs for StatArgs {
    fn prepare(&self, ctx: &PrepareCtx) -> Result<Box<dyn Module>, FieldError> {
        let _ = (self.get_md5, self.get_mime, self.get_attributes);
        let path = ctx.absolute_path(&self.path, "path")?;
        let algorithm = match &self.checksum_algorithm {
            None => "sha1".to_string(),
            Some(a) => {
                let name = ctx.render(a)?;
                if name != "sha1" && name != "sha256" {
                    return Err(FieldError {
                        pos: Pos::from(a),
                        message: format!(
                            "checksum_algorithm `{name}` is not supported (sha1 or sha256)"
                        ),
                    });
                }
                name
            }
        };
        if self.follow == Some(true) {
            return Err(FieldError {
                pos: Pos::from(&self.path),
                message: "`follow: true` is not supported: stat describes the link itself".into(),
            });
        }
        Ok(Box::new(Stat {
            path,
            checksum: self.get_checksum.unwrap_or(true).then_some(algorithm),
        }))
    }
}

#[derive(Debug)]
pub struct Stat {
    path: String,
    /// The checksum's algorithm, when one is wanted.
    checksum: Option<String>,
}

impl Module for Stat {
    fn kind(&self) -> &'static str {
        "stat"
    }

    fn target(&self) -> String {
        self.path.clone()
    }

    fn look(&self) -> Option<Look> {
        let p = quote(&self.path);
        let sum = match &self.checksum {
            Some(algorithm) => {
                format!("[ -f {p} ] && [ ! -L {p} ] && printf 'sum|' && {algorithm}sum < {p}; ")
            }
            None => String::new(),
        };
        Some(Look::Shell(format!(
            "{}; if [ -e {p} ] || [ -L {p} ]; then stat -c 'size|%s' -- {p}; fi; {sum}true",
            remote::stat_look(&self.path, false)
        )))
    }

    fn decide(&self, observed: Option<&Observed>) -> Result<Plan, DecideError> {
        let output = observed.map(|o| o.output.as_str()).unwrap_or_default();
        remote::parse_stat(output)?;
        Ok(Plan::ok("looked"))
    }

    fn found(&self, observed: Option<&Observed>) -> Map<String, Json> {
        let output = observed.map(|o| o.output.as_str()).unwrap_or_default();
        let mut fields = Map::new();
        let stat = match remote::parse_stat(output) {
            Ok(Some(state)) => {
                let line = |prefix: &str| {
                    output
                        .lines()
                        .find_map(|l| l.strip_prefix(prefix))
                        .map(str::to_string)
                };
                let mut stat = json!({
                    "exists": true,
                    "path": self.path,
                    "isreg": state.kind == FileKind::Regular,
                    "isdir": state.kind == FileKind::Directory,
                    "islnk": state.kind == FileKind::Symlink,
                    "mode": format!("{:04o}", state.mode),
                    "pw_name": state.owner,
                    "gr_name": state.group,
                    "uid": state.uid.parse::<u64>().ok(),
                    "gid": state.gid.parse::<u64>().ok(),
                });
                if let Some(size) = line("size|").and_then(|s| s.parse::<u64>().ok()) {
                    stat["size"] = size.into();
                }
                if let Some(target) = state.link_target {
                    stat["lnk_target"] = target.clone().into();
                    stat["lnk_source"] = target.into();
                }
                if let Some(sum) =
                    line("sum|").and_then(|s| s.split_whitespace().next().map(String::from))
                {
                    stat["checksum"] = sum.into();
                }
                stat
            }
            _ => json!({"exists": false}),
        };
        fields.insert("stat".into(), stat);
        fields
    }
}
