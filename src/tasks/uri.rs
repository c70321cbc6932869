//! `uri`: an HTTP request made from the host (CouchDB's API, say), with curl. The request,
//! credentials included, goes to curl as a config file on stdin, never on a command line. GET and
//! HEAD only read: they report `ok` and run in check mode too, so what they register is there for
//! the tasks after them. Other methods report `changed` (tune with `changed_when`).

use super::module::{Change, DecideError, ExecOutput, Module, Observed, Plan, Step};
use super::registry::ModuleArgs;
use super::{FieldError, PrepareCtx, checks};
use crate::render::Pos;
use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_json::{Map, Value as Json};
use serde_saphyr::Spanned;
use std::fmt;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UriArgs {
    url: Spanned<String>,
    method: Option<Spanned<String>>,
    /// A mapping or list is sent as JSON; a string as it is.
    body: Option<Spanned<Json>>,
    body_format: Option<Spanned<String>>,
    user: Option<Spanned<String>>,
    password: Option<Spanned<String>>,
    #[serde(default)]
    headers: IndexMap<String, Spanned<String>>,
    status_code: Option<StatusCodes>,
    /// Seconds.
    timeout: Option<u32>,
    /// Registers the body as `content`, as Ansible's uri does only when asked.
    #[serde(default)]
    return_content: bool,
}

/// `status_code: 200` or `status_code: [200, 201]`.
#[derive(Debug)]
pub struct StatusCodes(Vec<u16>);

impl<'de> Deserialize<'de> for StatusCodes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StatusCodes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an HTTP status or a list of them")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StatusCodes, E> {
                u16::try_from(v)
                    .map(|s| StatusCodes(vec![s]))
                    .map_err(|_| E::custom(format!("{v} is not an HTTP status")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusCodes, E> {
                self.visit_u64(v.unsigned_abs())
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<StatusCodes, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<u16>()? {
                    out.push(s);
                }
                Ok(StatusCodes(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// Renders every string inside a JSON body.
fn render_json(ctx: &PrepareCtx, value: &Json, pos: Pos) -> Result<Json, FieldError> {
    Ok(match value {
        Json::String(s) => Json::String(ctx.render_at(s, pos)?),
        Json::Array(items) => Json::Array(
            items
                .iter()
                .map(|i| render_json(ctx, i, pos))
                .collect::<Result<_, _>>()?,
        ),
        Json::Object(map) => Json::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), render_json(ctx, v, pos)?)))
                .collect::<Result<_, FieldError>>()?,
        ),
        other => other.clone(),
    })
}

impl ModuleArgs for UriArgs {
    fn prepare(&self, ctx: &PrepareCtx) -> Result<Box<dyn Module>, FieldError> {
        let url = ctx.render(&self.url)?;
        checks::one_line("url", &url, Pos::from(&self.url))?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(FieldError {
                pos: Pos::from(&self.url),
                message: format!("url `{url}` must start with http:// or https://"),
            });
        }
        let method = ctx
            .render_opt(&self.method)?
            .unwrap_or_else(|| "GET".into())
            .to_uppercase();
        if !["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"].contains(&method.as_str()) {
            return Err(FieldError {
                pos: self.method.as_ref().map(Pos::from).unwrap_or(Pos::MODULE),
                message: format!(
                    "method `{method}` is not one of: GET, HEAD, POST, PUT, PATCH, DELETE"
                ),
            });
        }
        let json_format = ctx.choice(
            &self.body_format,
            "body_format",
            &[("json", true), ("raw", false)],
            true,
        )?;
        let body = match &self.body {
            None => None,
            Some(b) => {
                let rendered = render_json(ctx, &b.value, Pos::from(b))?;
                Some(match (&rendered, json_format) {
                    (Json::String(s), false) => Body::Raw(s.clone()),
                    (_, false) => {
                        return Err(FieldError {
                            pos: Pos::from(b),
                            message: "body_format: raw needs the body as a string".into(),
                        });
                    }
                    // As Ansible's uri: a string is taken to be JSON already.
                    (Json::String(s), true) => Body::Json(s.clone()),
                    (value, true) => Body::Json(value.to_string()),
                })
            }
        };
        let credentials = match (ctx.render_opt(&self.user)?, ctx.render_opt(&self.password)?) {
            (Some(u), Some(p)) => {
                let pos = self.user.as_ref().map(Pos::from).unwrap_or(Pos::MODULE);
                checks::one_line("user", &u, pos)?;
                if u.contains(':') {
                    return Err(FieldError {
                        pos,
                        message: format!(
                            "user `{u}` may not hold `:` (it ends the user name in basic auth)"
                        ),
                    });
                }
                Some((u, p))
            }
            (None, None) => None,
            _ => {
                return Err(FieldError {
                    pos: Pos::MODULE,
                    message: "uri needs `user` and `password` together".into(),
                });
            }
        };
        let mut headers = Vec::new();
        for (name, value) in &self.headers {
            let token = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
            if !token {
                return Err(FieldError {
                    pos: Pos::from(value),
                    message: format!(
                        "headers: `{}` is not a header name (letters, digits and !#$%&'*+-.^_`|~)",
                        name.escape_debug()
                    ),
                });
            }
            let text = ctx.render(value)?;
            checks::one_line(&format!("header {name}"), &text, Pos::from(value))?;
            headers.push((name.clone(), text));
        }
        Ok(Box::new(Uri {
            url,
            method,
            body,
            credentials,
            headers,
            statuses: self
                .status_code
                .as_ref()
                .map(|s| s.0.clone())
                .unwrap_or_else(|| vec![200]),
            timeout: self.timeout.unwrap_or(30).max(1),
            return_content: self.return_content,
        }))
    }
}

#[derive(Debug)]
enum Body {
    Json(String),
    Raw(String),
}

pub struct Uri {
    url: String,
    method: String,
    body: Option<Body>,
    credentials: Option<(String, String)>,
    headers: Vec<(String, String)>,
    statuses: Vec<u16>,
    timeout: u32,
    return_content: bool,
}

impl fmt::Debug for Uri {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        // The password and the body (which may hold secrets) stay out of debug output.
        f.debug_struct("Uri")
            .field("url", &self.url)
            .field("method", &self.method)
            .field("statuses", &self.statuses)
            .finish_non_exhaustive()
    }
}

/// A string as curl's config file reads it: in double quotes, with `\` escapes.
fn curl_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Uri {
    fn reads_only(&self) -> bool {
        self.method == "GET" || self.method == "HEAD"
    }

    /// curl's configuration: the whole request, fed on stdin.
    fn curl_config(&self) -> String {
        let mut lines = vec![
            format!("url = {}", curl_quote(&self.url)),
            format!("request = {}", curl_quote(&self.method)),
            format!("max-time = {}", self.timeout),
        ];
        if self.method == "HEAD" {
            lines.push("head".into());
        }
        if let Some((user, password)) = &self.credentials {
            lines.push(format!(
                "user = {}",
                curl_quote(&format!("{user}:{password}"))
            ));
        }
        let mut has_content_type = false;
        for (name, value) in &self.headers {
            has_content_type |= name.eq_ignore_ascii_case("content-type");
            lines.push(format!(
                "header = {}",
                curl_quote(&format!("{name}: {value}"))
            ));
        }
        match &self.body {
            Some(Body::Json(text)) => {
                if !has_content_type {
                    lines.push(format!(
                        "header = {}",
                        curl_quote("Content-Type: application/json")
                    ));
                }
                lines.push(format!("data-raw = {}", curl_quote(text)));
            }
            Some(Body::Raw(text)) => lines.push(format!("data-raw = {}", curl_quote(text))),
            None => {}
        }
        lines.join("\n") + "\n"
    }
}

/// The body and the status line that `-w` appends after it.
fn split_response(stdout: &str) -> Option<(u16, &str)> {
    let (body, status) = stdout.rsplit_once('\n')?;
    Some((status.trim().parse().ok()?, body))
}

impl Module for Uri {
    fn kind(&self) -> &'static str {
        "uri"
    }

    fn target(&self) -> String {
        format!("{} {}", self.method, self.url)
    }

    fn look(&self) -> Option<super::module::Look> {
        None
    }

    fn decide(&self, _: Option<&Observed>) -> Result<Plan, DecideError> {
        let step = Step {
            script: "command -v curl >/dev/null || { echo 'uri needs curl on the host' >&2; exit 127; }; curl -sS -K - -w '\\n%{http_code}'".into(),
            stdin: Some(self.curl_config().into_bytes()),
        };
        Ok(Plan::Change(Change {
            summary: format!("{} {}", self.method, self.url),
            steps: vec![step],
            file: None,
            runs_user_command: false,
            observes_only: self.reads_only(),
            runs_in_check: self.reads_only(),
            notice: None,
        }))
    }

    fn registered(&self, output: &ExecOutput) -> Map<String, Json> {
        let text = output.stdout_text();
        let mut out = Map::new();
        out.insert("url".into(), self.url.clone().into());
        if let Some((status, body)) = split_response(&text) {
            out.insert("status".into(), status.into());
            if self.return_content {
                out.insert("content".into(), body.into());
            }
            if let Ok(json) = serde_json::from_str::<Json>(body) {
                out.insert("json".into(), json);
            }
        }
        out
    }

    fn output_failure(&self, output: &ExecOutput) -> Option<String> {
        let text = output.stdout_text();
        let Some((status, body)) = split_response(&text) else {
            return Some(format!(
                "{} {}: no HTTP status in curl's output",
                self.method, self.url
            ));
        };
        if self.statuses.contains(&status) {
            return None;
        }
        let expected: Vec<String> = self.statuses.iter().map(u16::to_string).collect();
        let body: String = body.chars().take(300).collect();
        Some(format!(
            "{} {} answered {status} (expected {}): {}",
            self.method,
            self.url,
            expected.join(", "),
            body.trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(method: &str, body: Option<Body>) -> Uri {
        Uri {
            url: "http://127.0.0.1:5984/_cluster_setup".into(),
            method: method.into(),
            body,
            credentials: Some(("admin".into(), "pa\"ss\\word".into())),
            headers: vec![],
            statuses: vec![200, 201],
            timeout: 30,
            return_content: false,
        }
    }

    #[test]
    fn config_quotes_and_sets_json_type() {
        let u = uri("POST", Some(Body::Json(r#"{"a":"b\"c"}"#.into())));
        let config = u.curl_config();
        assert!(
            config.contains(r#"user = "admin:pa\"ss\\word""#),
            "{config}"
        );
        assert!(
            config.contains(r#"data-raw = "{\"a\":\"b\\\"c\"}""#),
            "{config}"
        );
        assert!(
            config.contains("Content-Type: application/json"),
            "{config}"
        );
        assert!(!format!("{u:?}").contains("word"));
    }

    #[test]
    fn reads_run_in_check_mode_and_writes_change() {
        let Plan::Change(get) = uri("GET", None).decide(None).unwrap() else {
            panic!()
        };
        assert!(get.observes_only && get.runs_in_check);
        let Plan::Change(post) = uri("POST", None).decide(None).unwrap() else {
            panic!()
        };
        assert!(!post.observes_only && !post.runs_in_check);
        assert!(!post.steps[0].script.contains("word"));
    }

    #[test]
    fn status_is_checked_and_json_registered() {
        let u = uri("GET", None);
        let out = |s: &str| ExecOutput {
            status: 0,
            stdout: s.as_bytes().to_vec(),
            stderr: vec![],
        };
        assert!(u.output_failure(&out("{\"ok\":true}\n201")).is_none());
        let failure = u
            .output_failure(&out("{\"error\":\"unauthorized\"}\n401"))
            .unwrap();
        assert!(
            failure.contains("answered 401 (expected 200, 201)"),
            "{failure}"
        );
        let r = u.registered(&out("{\"state\":\"cluster_finished\"}\n200"));
        assert_eq!(r["status"], 200);
        assert_eq!(r["json"]["state"], "cluster_finished");
        assert!(r.get("content").is_none(), "content only when asked for");
        let asked = Uri {
            return_content: true,
            ..uri("GET", None)
        };
        let r = asked.registered(&out("plain text\n200"));
        assert_eq!(r["content"], "plain text");
    }
}
