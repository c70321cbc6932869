//! `apt`: Debian packages present, absent or at the latest version, a local `.deb`, and an apt
//! source with its signing key (`repo`, `key_url`). Installed state comes from `dpkg-query`, not
//! from apt's output. The package lists are refreshed only when older than `cache_valid_time`, or
//! when a source was just added. Always non-interactive; waits for the dpkg lock (held for minutes
//! by cloud-init and unattended-upgrades on fresh VMs) up to `lock_timeout` instead of failing,
//! and says who holds it.

use super::module::{Change, DecideError, Look, Module, Observed, Plan, Step};
use super::registry::ModuleArgs;
use super::remote::{Attributes, atomic_write_step, quote, sha256_hex};
use super::{FieldError, OneOrMany, PrepareCtx, checks};
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
    /// A `.deb` file on the host to install.
    deb: Option<Spanned<String>>,
    /// A source line: `deb https://host/path suite component…`.
    repo: Option<Spanned<String>>,
    /// Where the host fetches the source's signing key (once: the file is kept after that).
    key_url: Option<Spanned<String>>,
    /// Name of the files under sources.list.d and keyrings (default: from the URL's host).
    filename: Option<Spanned<String>>,
}

/// An apt source and the key it is signed with.
#[derive(Debug, Clone, PartialEq)]
struct Source {
    list_path: String,
    /// The line written, `signed-by` included.
    line: String,
    key_path: Option<String>,
    key_url: Option<String>,
}

const LOCK: &str = "/var/lib/dpkg/lock-frontend";

fn source(
    ctx: &PrepareCtx,
    repo: &Spanned<String>,
    key_url: &Option<Spanned<String>>,
    filename: &Option<Spanned<String>>,
) -> Result<Source, FieldError> {
    let line = ctx.render(repo)?;
    let bad = |message: String| FieldError {
        pos: Pos::from(repo),
        message,
    };
    let mut words: Vec<String> = line.split_whitespace().map(String::from).collect();
    if words.first().map(String::as_str) != Some("deb") {
        return Err(bad(format!(
            "repo `{line}` must be a source line: deb [options] URL suite [components]"
        )));
    }
    let options = words
        .get(1)
        .filter(|w| w.starts_with('['))
        .cloned()
        .map(|o| o.trim_matches(|c| c == '[' || c == ']').to_string());
    let url_at = if options.is_some() { 2 } else { 1 };
    let Some(url) = words.get(url_at).cloned() else {
        return Err(bad(format!("repo `{line}` has no URL")));
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) || words.len() < url_at + 2 {
        return Err(bad(format!(
            "repo `{line}` must be: deb [options] http(s)://URL suite [components]"
        )));
    }
    let name = match ctx.render_opt(filename)? {
        Some(n) => n,
        None => url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split(['/', ':']).next())
            .unwrap_or("repo")
            .replace('.', "_"),
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
    {
        return Err(FieldError {
            pos: filename.as_ref().map(Pos::from).unwrap_or(Pos::from(repo)),
            message: format!("filename `{name}` may only hold letters, digits, `_` and `-`"),
        });
    }
    let key_url = match key_url {
        Some(k) => {
            let u = ctx.render(k)?;
            checks::one_line("key_url", &u, Pos::from(k))?;
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(FieldError {
                    pos: Pos::from(k),
                    message: format!("key_url `{u}` must start with http:// or https://"),
                });
            }
            Some(u)
        }
        None => None,
    };
    let given_key = options
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .find_map(|o| o.strip_prefix("signed-by="))
        .map(String::from);
    if let Some(path) = &given_key
        && !path.starts_with('/')
    {
        return Err(bad(format!(
            "signed-by `{path}` in repo must be an absolute path"
        )));
    }
    let key_path = match (&given_key, &key_url) {
        (Some(path), _) => Some(path.clone()),
        (None, Some(u)) => {
            let ext = if u.ends_with(".gpg") { "gpg" } else { "asc" };
            let path = format!("/etc/apt/keyrings/{name}.{ext}");
            let mut opts = options.clone().unwrap_or_default();
            opts = format!("{opts} signed-by={path}").trim().to_string();
            if options.is_some() {
                words[1] = format!("[{opts}]");
            } else {
                words.insert(1, format!("[{opts}]"));
            }
            Some(path)
        }
        (None, None) => None,
    };
    Ok(Source {
        list_path: format!("/etc/apt/sources.list.d/{name}.list"),
        line: words.join(" "),
        key_path,
        key_url,
    })
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Wanted {
    Present,
    Absent,
    Latest,
}

impl ModuleArgs for AptArgs {
    fn prepare(&self, ctx: &PrepareCtx) -> Result<Box<dyn Module>, FieldError> {
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
                let name = ctx.render_at(p, Pos::from(list))?;
                // apt-get cannot be told where its options end: a name must not look like one.
                let valid = name.starts_with(|c: char| c.is_ascii_alphanumeric())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-.:=_".contains(c));
                if !valid {
                    return Err(FieldError {
                        pos: Pos::from(list),
                        message: format!(
                            "packages: `{}` is not a package name (letters, digits and `+-.:=_`, starting with a letter or digit)",
                            name.escape_debug()
                        ),
                    });
                }
                packages.push(name);
            }
        }
        let deb = match &self.deb {
            Some(d) => Some(ctx.absolute_path(d, "deb")?),
            None => None,
        };
        let source = match &self.repo {
            Some(r) => Some(source(ctx, r, &self.key_url, &self.filename)?),
            None => {
                if let Some(k) = self.key_url.as_ref().or(self.filename.as_ref()) {
                    return Err(FieldError {
                        pos: Pos::from(k),
                        message: "`key_url` and `filename` belong with `repo`".into(),
                    });
                }
                None
            }
        };
        if packages.is_empty() && !self.update_cache && deb.is_none() && source.is_none() {
            return Err(FieldError {
                pos: Pos::MODULE,
                message: "apt needs `packages`, `deb`, `repo` or `update_cache: true`".into(),
            });
        }
        Ok(Box::new(Apt {
            packages,
            state,
            update_cache: self.update_cache,
            cache_valid_time: self.cache_valid_time.unwrap_or(3600),
            lock_timeout: self.lock_timeout.unwrap_or(600),
            deb,
            source,
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
    deb: Option<String>,
    source: Option<Source>,
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
                "dpkg-query -W -f='pkg|${{Package}}|${{Status}}|${{Version}}\\n' -- {} 2>/dev/null; ",
                self.names()
            ));
        }
        if let Some(deb) = &self.deb {
            let d = quote(deb);
            s.push_str(&format!(
                "if [ -f {d} ]; then p=$(dpkg-deb -f {d} Package); echo \"deb|$p|$(dpkg-deb -f {d} Version)\"; \
                 dpkg-query -W -f='pkg|${{Package}}|${{Status}}|${{Version}}\\n' -- \"$p\" 2>/dev/null; else echo deb=missing; fi; "
            ));
        }
        if let Some(src) = &self.source {
            let l = quote(&src.list_path);
            s.push_str(&format!(
                "if [ -f {l} ]; then echo \"list_sha=$(sha256sum < {l} | cut -d' ' -f1)\"; fi; "
            ));
            if let Some(k) = &src.key_path {
                s.push_str(&format!("[ -s {} ] && echo key=yes; ", quote(k)));
            }
        }
        s.push_str(&format!(
            "ino=$(stat -c %i {LOCK} 2>/dev/null); if [ -n \"$ino\" ]; then \
             pid=$(awk -v i=\"$ino\" '{{ n = split($6, a, \":\"); if ($2 == \"POSIX\" && a[n] == i) {{ print $5; exit }} }}' /proc/locks 2>/dev/null); \
             [ -n \"$pid\" ] && echo \"lock=$pid $(cat /proc/$pid/comm 2>/dev/null)\"; fi; "
        ));
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
        let output = observed.map(|o| o.output.as_str()).unwrap_or_default();
        let (states, cache_age) = self.parse(output);
        let field = |key: &str| {
            output
                .lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .map(str::trim)
        };
        let installed = |p: &String| states.get(p).and_then(|s| s.installed.clone());
        let mut steps: Vec<Step> = Vec::new();
        let mut summary = Vec::new();
        let mut runs_apt = false;
        let mut source_changed = false;
        if let Some(src) = &self.source {
            if let (Some(key), Some(url)) = (&src.key_path, &src.key_url)
                && field("key").is_none()
            {
                let (k, u) = (quote(key), quote(url));
                steps.push(Step::run(format!(
                    "mkdir -p -- \"$(dirname -- {k})\" && curl -fsSL --max-time 60 -o {t} {u} && chmod 0644 -- {t} && mv -f -- {t} {k}",
                    t = quote(&format!("{key}.tmp"))
                )));
                summary.push(format!("fetched the key {key}"));
                source_changed = true;
            }
            let content = format!("{}\n", src.line);
            if field("list_sha") != Some(sha256_hex(content.as_bytes()).as_str()) {
                let attributes = Attributes {
                    mode: Some(0o644),
                    owner: None,
                    group: None,
                };
                steps.push(atomic_write_step(
                    &src.list_path,
                    content.into_bytes(),
                    &attributes,
                ));
                summary.push(format!("wrote {}", src.list_path));
                source_changed = true;
            }
        }
        let stale = cache_age.is_none_or(|age| age >= self.cache_valid_time);
        if source_changed || (self.update_cache && stale) {
            steps.push(Step::run(format!(
                "{} update && mkdir -p /var/lib/apt/periodic && touch {STAMP}",
                self.apt_get("")
            )));
            runs_apt = true;
            summary.push(match cache_age {
                _ if source_changed => "package lists refreshed".to_string(),
                Some(age) if age < 1_000_000_000 => format!("package lists refreshed ({age}s old)"),
                _ => "package lists refreshed".to_string(),
            });
        }
        let mut ok_reasons = Vec::new();
        if let Some(deb) = &self.deb {
            if field("deb") == Some("missing") {
                return Err(DecideError(format!(
                    "deb file {deb} does not exist on the host"
                )));
            }
            let (name, version) = output
                .lines()
                .find_map(|l| l.strip_prefix("deb|")?.split_once('|'))
                .ok_or_else(|| {
                    DecideError(format!(
                        "{deb} is not a Debian package (dpkg-deb could not read it)"
                    ))
                })?;
            let name = name.to_string();
            if installed(&name).as_deref() == Some(version) {
                ok_reasons.push(format!("{name} {version} installed"));
            } else {
                steps.push(Step::run(self.apt_get(&format!("install {}", quote(deb)))));
                runs_apt = true;
                summary.push(format!("installed {name} {version} from {deb}"));
            }
        }
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
            runs_apt = true;
            match self.state {
                Wanted::Absent => {
                    steps.push(Step::run(self.apt_get(&format!("remove {names}"))));
                    summary.push(format!("removed {list}"));
                }
                _ => {
                    steps.push(Step::run(self.apt_get(&format!("install {names}"))));
                    summary.push(format!("installed {list}"));
                }
            }
        } else if !self.packages.is_empty() {
            let what = match self.state {
                Wanted::Absent => "absent",
                Wanted::Present => "installed",
                Wanted::Latest => "at the latest version",
            };
            ok_reasons.push(format!("{} {what}", self.packages.join(", ")));
        }
        if steps.is_empty() {
            if self.source.is_some() {
                ok_reasons.insert(0, "source in place".into());
            }
            if ok_reasons.is_empty() {
                ok_reasons.push("package lists are fresh".into());
            }
            return Ok(Plan::ok(ok_reasons.join("; ")));
        }
        let notice = match field("lock") {
            Some(holder) if runs_apt => Some(format!(
                "the dpkg lock is held by {holder}: apt waits for it up to {}s",
                self.lock_timeout
            )),
            _ => None,
        };
        Ok(Plan::Change(Change {
            summary: summary.join("; "),
            steps,
            file: None,
            runs_user_command: false,
            observes_only: false,
            runs_in_check: false,
            notice,
        }))
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
            deb: None,
            source: None,
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
