//! `wait_for`: wait, at this point of the run, until a TCP port accepts connections or a URL
//! answers with an expected status (used after starting CouchDB or nginx). Reports `ok`; a
//! timeout fails the host with what was seen last.

use super::module::{Change, DecideError, Module, Observed, Plan, Step};
use super::registry::ModuleArgs;
use super::remote::quote;
use super::{FieldError, PrepareCtx, checks};
use crate::render::Pos;
use serde::Deserialize;
use serde_saphyr::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitForArgs {
    port: Option<u16>,
    #[serde(default)]
    host: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    status: Option<Vec<u16>>,
    /// Seconds.
    timeout: Option<u32>,
}

impl ModuleArgs for WaitForArgs {
    fn prepare(&self, ctx: &PrepareCtx) -> Result<Box<dyn Module>, FieldError> {
        let timeout = self.timeout.unwrap_or(300).max(1);
        let target = match (self.port, &self.url) {
            (Some(port), None) => {
                let host = ctx
                    .render_opt(&self.host)?
                    .unwrap_or_else(|| "127.0.0.1".into());
                if host.is_empty()
                    || !host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c))
                {
                    return Err(FieldError {
                        pos: Pos::from(self.host.as_ref().expect("only a given host can be wrong")),
                        message: format!("`{host}` is not a host name or address"),
                    });
                }
                Target::Port { host, port }
            }
            (None, Some(url)) => {
                let u = ctx.render(url)?;
                checks::one_line("url", &u, Pos::from(url))?;
                if !(u.starts_with("http://") || u.starts_with("https://")) {
                    return Err(FieldError {
                        pos: Pos::from(url),
                        message: format!("url `{u}` must start with http:// or https://"),
                    });
                }
                Target::Url {
                    url: u,
                    statuses: self.status.clone().unwrap_or_else(|| vec![200]),
                }
            }
            (Some(_), Some(url)) => {
                return Err(FieldError {
                    pos: Pos::from(url),
                    message: "wait_for takes `port` or `url`, not both".into(),
                });
            }
            (None, None) => {
                return Err(FieldError {
                    pos: Pos::MODULE,
                    message: "wait_for needs `port` or `url`".into(),
                });
            }
        };
        Ok(Box::new(WaitFor { target, timeout }))
    }
}

#[derive(Debug)]
enum Target {
    Port { host: String, port: u16 },
    Url { url: String, statuses: Vec<u16> },
}

#[derive(Debug)]
pub struct WaitFor {
    target: Target,
    timeout: u32,
}

impl WaitFor {
    fn script(&self) -> String {
        let t = self.timeout;
        match &self.target {
            Target::Port { host, port } => format!(
                "s=0; until timeout 1 bash -c ':</dev/tcp/$1/$2' - {h} {port} 2>/dev/null; do s=$((s+1)); \
                 if [ $s -ge {t} ]; then printf 'port %s:%s did not open within %ss\\n' {h} {port} {t} >&2; exit 1; fi; \
                 sleep 1; done; echo \"open after ${{s}}s\"",
                h = quote(host),
            ),
            Target::Url { url, statuses } => {
                let wanted = statuses
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(" ");
                format!(
                    "s=0; while :; do c=$(curl -s -o /dev/null -m 5 -w '%{{http_code}}' {u}); \
                     for w in {wanted}; do [ \"$c\" = \"$w\" ] && {{ echo \"status $c after ${{s}}s\"; exit 0; }}; done; \
                     s=$((s+1)); if [ $s -ge {t} ]; then printf '%s did not answer %s within %ss (last status: %s)\\n' {u} {w} {t} \"$c\" >&2; exit 1; fi; \
                     sleep 1; done",
                    u = quote(url),
                    w = quote(&wanted),
                )
            }
        }
    }
}

impl Module for WaitFor {
    fn kind(&self) -> &'static str {
        "wait_for"
    }

    fn target(&self) -> String {
        match &self.target {
            Target::Port { host, port } => format!("{host}:{port}"),
            Target::Url { url, .. } => url.clone(),
        }
    }

    fn look(&self) -> Option<super::module::Look> {
        None
    }

    fn decide(&self, _: Option<&Observed>) -> Result<Plan, DecideError> {
        Ok(Plan::Change(Change {
            summary: format!("{} answered", self.target()),
            steps: vec![Step::run(self.script())],
            file: None,
            runs_user_command: true,
            observes_only: true,
            runs_in_check: false,
            notice: None,
        }))
    }
}
