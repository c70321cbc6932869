//! `apt`: Debian packages present, absent or at the latest version. Installed state comes from
//! `dpkg-query`, not from apt's output. The package lists are refreshed only when older than
//! `cache_valid_time`. Always non-interactive; waits for the dpkg lock (held for minutes by
//! cloud-init and unattended-upgrades on fresh VMs) up to `lock_timeout` instead of failing.

use super::module::{DecideError, Look, Module, Observed, Plan, Step};
use super::remote::quote;
use super::{FieldError, OneOrMany, PrepareCtx};
use crate::render::Pos;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// Written after a successful `apt-get update`, as APT's own periodic updates do.
const STAMP: &str = "/var/lib/apt/periodic/update-success-stamp";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AptArgs {
    #[serde(alias = "name", alias = "pkg")]
    packages: Option<Spanned<OneOrMany>>,
    state: Option<Spanned<String>>,
    #[serde(default)]
    update_cache: bool,
    /// Seconds: lists younger than this are not refreshed (default 3600).
    cache_valid_time: Option<u64>,
    /// Seconds to wait for the dpkg lock (default 600).
    lock_timeout: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Wanted {
    Present,
    Absent,
    Latest,
}

impl AptArgs {
    pub fn prepare(&self, ctx: &PrepareCtx) -> Result<Box<dyn Module>, FieldError> {
        let state = ctx.choice(
            &self.state,
            "state",
            &[
                ("present", Wanted::Present),
                ("absent", Wanted::Absent),
                ("latest", Wanted::Latest),
            ],
            Wanted::Present,
        )?;
        let mut packages = Vec::new();
        if let Some(list) = &self.packages {
            for p in &list.value.0 {
                let name =
                    crate::render::render_str(ctx.env, p, ctx.vars).map_err(|e| FieldError {
                        pos: Pos::from(list),
                        message: e.message,
                    })?;
                let valid = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-.:=_".contains(c));
                if !valid {
                    return Err(FieldError {
                        pos: Pos::from(list),
                        message: format!("`{name}` is not a package name"),
                    });
                }
                packages.push(name);
            }
        }
        if packages.is_empty() && !self.update_cache {
            return Err(FieldError {
                pos: Pos::MODULE,
                message: "apt needs `packages` or `update_cache: true`".into(),
            });
        }
        Ok(Box::new(Apt {
            packages,
            state,
            update_cache: self.update_cache,
            cache_valid_time: self.cache_valid_time.unwrap_or(3600),
            lock_timeout: self.lock_timeout.unwrap_or(600),
        }))
    }
}

#[derive(Debug)]
pub struct Apt {
    packages: Vec<String>,
    state: Wanted,
    update_cache: bool,
    cache_valid_time: u64,
    lock_timeout: u64,
}

/// What the look found for one package.
#[derive(Debug, PartialEq)]
struct PackageState {
    installed: Option<String>,
    candidate: Option<String>,
}

impl Apt {
    fn names(&self) -> String {
        self.packages
            .iter()
            .map(|p| quote(p))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn apt_get(&self, args: &str) -> String {
        format!(
            "DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout={} {args}",
            self.lock_timeout
        )
    }

    fn parse(
        &self,
        output: &str,
    ) -> (std::collections::HashMap<String, PackageState>, Option<u64>) {
        let mut states = std::collections::HashMap::new();
        let mut cache_age = None;
        for line in output.lines() {
            if let Some(age) = line.strip_prefix("cache_age=") {
                cache_age = age.trim().parse().ok();
            } else if let Some(rest) = line.strip_prefix("pkg|") {
                let f: Vec<&str> = rest.split('|').collect();
                if f.len() == 3 {
                    let installed = (f[1] == "install ok installed").then(|| f[2].to_string());
                    states.insert(
                        f[0].to_string(),
                        PackageState {
                            installed,
                            candidate: None,
                        },
                    );
                }
            } else if let Some((name, version)) = line
                .strip_prefix("candidate|")
                .and_then(|rest| rest.split_once('|'))
            {
                let entry = states.entry(name.to_string()).or_insert(PackageState {
                    installed: None,
                    candidate: None,
                });
                entry.candidate =
                    (version != "(none)" && !version.is_empty()).then(|| version.to_string());
            }
        }
        (states, cache_age)
    }
}

impl Module for Apt {
    fn kind(&self) -> &'static str {
        "apt"
    }

    fn target(&self) -> String {
        if self.packages.is_empty() {
            "package lists".into()
        } else {
            self.packages.join(", ")
        }
    }

    fn look(&self) -> Option<Look> {
        let mut s = format!(
            "now=$(date +%s); t=$(stat -c %Y {STAMP} 2>/dev/null || echo 0); echo cache_age=$((now - t)); "
        );
        if !self.packages.is_empty() {
            s.push_str(&format!(
                "dpkg-query -W -f='pkg|${{Package}}|${{Status}}|${{Version}}\\n' {} 2>/dev/null; ",
                self.names()
            ));
        }
        if self.state == Wanted::Latest {
            for p in &self.packages {
                s.push_str(&format!(
                    "printf 'candidate|%s|%s\\n' {q} \"$(apt-cache policy {q} 2>/dev/null | sed -n 's/^ *Candidate: //p')\"; ",
                    q = quote(p)
                ));
            }
        }
        s.push_str("true");
        Some(Look::Shell(s))
    }

    fn decide(&self, observed: Option<&Observed>) -> Result<Plan, DecideError> {
        let (states, cache_age) =
            self.parse(observed.map(|o| o.output.as_str()).unwrap_or_default());
        let installed = |p: &String| states.get(p).and_then(|s| s.installed.clone());
        let mut steps = Vec::new();
        let mut summary = Vec::new();
        let stale = cache_age.is_none_or(|age| age >= self.cache_valid_time);
        let to_change: Vec<&String> = match self.state {
            Wanted::Present => self
                .packages
                .iter()
                .filter(|p| installed(p).is_none())
                .collect(),
            Wanted::Absent => self
                .packages
                .iter()
                .filter(|p| installed(p).is_some())
                .collect(),
            Wanted::Latest => self
                .packages
                .iter()
                .filter(|p| {
                    let s = states.get(*p);
                    let inst = s.and_then(|s| s.installed.as_deref());
                    let cand = s.and_then(|s| s.candidate.as_deref());
                    inst.is_none() || (cand.is_some() && cand != inst)
                })
                .collect(),
        };
        if self.update_cache && stale {
            steps.push(format!(
                "{} update && mkdir -p /var/lib/apt/periodic && touch {STAMP}",
                self.apt_get("")
            ));
            summary.push(match cache_age {
                Some(age) if age < 1_000_000_000 => format!("package lists refreshed ({age}s old)"),
                _ => "package lists refreshed".to_string(),
            });
        }
        if !to_change.is_empty() {
            let names = to_change
                .iter()
                .map(|p| quote(p))
                .collect::<Vec<_>>()
                .join(" ");
            let list = to_change
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            match self.state {
                Wanted::Absent => {
                    steps.push(self.apt_get(&format!("remove {names}")));
                    summary.push(format!("removed {list}"));
                }
                _ => {
                    steps.push(self.apt_get(&format!("install {names}")));
                    summary.push(format!("installed {list}"));
                }
            }
        }
        if steps.is_empty() {
            let what = match self.state {
                Wanted::Absent => "absent",
                Wanted::Present => "installed",
                Wanted::Latest => "at the latest version",
            };
            return Ok(Plan::ok(if self.packages.is_empty() {
                "package lists are fresh".to_string()
            } else {
                format!("{} {what}", self.packages.join(", "))
            }));
        }
        Ok(Plan::change(
            summary.join("; "),
            vec![Step::run(steps.join(" && "))],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apt(state: Wanted, update_cache: bool) -> Apt {
        Apt {
            packages: vec!["nginx".into(), "git".into()],
            state,
            update_cache,
            cache_valid_time: 3600,
            lock_timeout: 600,
        }
    }

    fn seen(s: &str) -> Observed {
        Observed {
            status: 0,
            output: s.into(),
        }
    }

    #[test]
    fn installs_only_what_is_missing_and_refreshes_only_stale_lists() {
        let a = apt(Wanted::Present, true);
        let out = "cache_age=120\npkg|nginx|install ok installed|1.22\npkg|git|deinstall ok config-files|1:2.39\n";
        match a.decide(Some(&seen(out))).unwrap() {
            Plan::Change(c) => {
                assert_eq!(c.summary, "installed git");
                assert!(
                    c.steps[0].script.ends_with("install git"),
                    "{}",
                    c.steps[0].script
                );
                assert!(
                    !c.steps[0].script.contains(" update"),
                    "fresh lists are not refreshed"
                );
            }
            other => panic!("{other:?}"),
        }
        let all = "cache_age=120\npkg|nginx|install ok installed|1.22\npkg|git|install ok installed|1:2.39\n";
        assert!(matches!(
            a.decide(Some(&seen(all))).unwrap(),
            Plan::Ok { .. }
        ));
        let stale = "cache_age=7200\npkg|nginx|install ok installed|1.22\npkg|git|install ok installed|1:2.39\n";
        assert!(
            matches!(a.decide(Some(&seen(stale))).unwrap(), Plan::Change(c) if c.summary == "package lists refreshed (7200s old)")
        );
    }

    #[test]
    fn absent_and_latest() {
        let gone = apt(Wanted::Absent, false);
        let out = "cache_age=5\npkg|nginx|install ok installed|1.22\n";
        assert!(
            matches!(gone.decide(Some(&seen(out))).unwrap(), Plan::Change(c) if c.summary == "removed nginx")
        );
        let latest = apt(Wanted::Latest, false);
        let out = "cache_age=5\npkg|nginx|install ok installed|1.22\npkg|git|install ok installed|2.39\ncandidate|nginx|1.24\ncandidate|git|2.39\n";
        assert!(
            matches!(latest.decide(Some(&seen(out))).unwrap(), Plan::Change(c) if c.summary == "installed nginx")
        );
    }
}
