//! `service`: a systemd unit started, stopped, restarted or reloaded, enabled or not. One
//! `systemctl show` tells the whole state; a unit that fails to start shows its journal's tail.

use super::module::{DecideError, Look, Module, Observed, Plan, Step};
use super::registry::ModuleArgs;
use super::remote::quote;
use super::{FieldError, PrepareCtx};
use crate::render::Pos;
use serde::Deserialize;
use serde_saphyr::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceArgs {
    name: Spanned<String>,
    state: Option<Spanned<String>>,
    enabled: Option<bool>,
    #[serde(default)]
    daemon_reload: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Wanted {
    Started,
    Stopped,
    Restarted,
    Reloaded,
}

impl ModuleArgs for ServiceArgs {
    fn prepare(&self, ctx: &PrepareCtx) -> Result<Box<dyn Module>, FieldError> {
        let name = ctx.render(&self.name)?;
        let unit_chars = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":-_.\\@".contains(c));
        if name.is_empty() || !unit_chars || name.starts_with('-') {
            return Err(FieldError {
                pos: Pos::from(&self.name),
                message: format!(
                    "name `{}` is not a unit name (letters, digits and `:-_.\\@`, not starting with `-`)",
                    name.escape_debug()
                ),
            });
        }
        let state = ctx.choice(
            &self.state,
            "state",
            &[
                ("started", Some(Wanted::Started)),
                ("stopped", Some(Wanted::Stopped)),
                ("restarted", Some(Wanted::Restarted)),
                ("reloaded", Some(Wanted::Reloaded)),
            ],
            None,
        )?;
        if state.is_none() && self.enabled.is_none() && !self.daemon_reload {
            return Err(FieldError {
                pos: Pos::from(&self.name),
                message: "service needs `state`, `enabled` or `daemon_reload`".into(),
            });
        }
        Ok(Box::new(Service {
            name,
            state,
            enabled: self.enabled,
            daemon_reload: self.daemon_reload,
        }))
    }
}

#[derive(Debug)]
pub struct Service {
    name: String,
    state: Option<Wanted>,
    enabled: Option<bool>,
    daemon_reload: bool,
}

impl Service {
    /// Runs a systemctl action; on failure, appends the unit's recent journal to stderr.
    fn action(&self, verb: &str) -> String {
        let n = quote(&self.name);
        format!(
            "systemctl {verb} -- {n} || {{ rc=$?; printf 'journalctl -u %s (last lines):\\n' {n} >&2; \
             journalctl -n 8 --no-pager -u {n} >&2; exit $rc; }}"
        )
    }
}

impl Module for Service {
    fn kind(&self) -> &'static str {
        "service"
    }

    fn target(&self) -> String {
        self.name.clone()
    }

    fn look(&self) -> Option<Look> {
        Some(Look::Shell(format!(
            "systemctl show -p LoadState -p ActiveState -p UnitFileState -p NeedDaemonReload -- {}",
            quote(&self.name)
        )))
    }

    fn decide(&self, observed: Option<&Observed>) -> Result<Plan, DecideError> {
        let output = observed.map(|o| o.output.as_str()).unwrap_or_default();
        let prop = |key: &str| {
            output
                .lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .unwrap_or_default()
        };
        if prop("LoadState").is_empty() {
            return Err(DecideError(format!(
                "systemctl did not answer: {}",
                output.trim()
            )));
        }
        if prop("LoadState") == "not-found" {
            return Err(DecideError(format!(
                "unit {} not found (is its package installed, or its unit file written?)",
                self.name
            )));
        }
        let mut steps = Vec::new();
        let mut done = Vec::new();
        if self.daemon_reload && prop("NeedDaemonReload") == "yes" {
            steps.push("systemctl daemon-reload".to_string());
            done.push("daemon reloaded".to_string());
        }
        let unit_file = prop("UnitFileState");
        match self.enabled {
            Some(true)
                if !matches!(
                    unit_file,
                    "enabled" | "enabled-runtime" | "static" | "alias" | "indirect" | "generated"
                ) =>
            {
                steps.push(format!("systemctl enable -- {}", quote(&self.name)));
                done.push("enabled".into());
            }
            Some(false) if matches!(unit_file, "enabled" | "enabled-runtime") => {
                steps.push(format!("systemctl disable -- {}", quote(&self.name)));
                done.push("disabled".into());
            }
            _ => {}
        }
        let running = matches!(prop("ActiveState"), "active" | "activating" | "reloading");
        match self.state {
            Some(Wanted::Started) if !running => {
                steps.push(self.action("start"));
                done.push("started".into());
            }
            Some(Wanted::Stopped) if running => {
                steps.push(format!("systemctl stop -- {}", quote(&self.name)));
                done.push("stopped".into());
            }
            Some(Wanted::Restarted) => {
                steps.push(self.action("restart"));
                done.push("restarted".into());
            }
            Some(Wanted::Reloaded) => {
                steps.push(self.action(if running { "reload" } else { "start" }));
                done.push(if running { "reloaded" } else { "started" }.into());
            }
            _ => {}
        }
        if steps.is_empty() {
            return Ok(Plan::ok(format!(
                "{} ({}, {})",
                self.name,
                prop("ActiveState"),
                unit_file
            )));
        }
        Ok(Plan::change(
            done.join(", "),
            vec![Step::run(steps.join(" && "))],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(state: Option<Wanted>, enabled: Option<bool>) -> Service {
        Service {
            name: "nginx".into(),
            state,
            enabled,
            daemon_reload: true,
        }
    }

    fn seen(active: &str, file: &str, reload: &str) -> Observed {
        Observed {
            status: 0,
            output: format!(
                "LoadState=loaded\nActiveState={active}\nUnitFileState={file}\nNeedDaemonReload={reload}\n"
            ),
        }
    }

    #[test]
    fn decides_from_systemctl_show() {
        let s = svc(Some(Wanted::Started), Some(true));
        assert!(matches!(
            s.decide(Some(&seen("active", "enabled", "no"))).unwrap(),
            Plan::Ok { .. }
        ));
        match s
            .decide(Some(&seen("inactive", "disabled", "yes")))
            .unwrap()
        {
            Plan::Change(c) => {
                assert_eq!(c.summary, "daemon reloaded, enabled, started");
                assert!(c.steps[0].script.starts_with(
                    "systemctl daemon-reload && systemctl enable -- nginx && systemctl start -- nginx ||"
                ));
            }
            other => panic!("{other:?}"),
        }
        let stop = svc(Some(Wanted::Stopped), Some(false));
        assert!(
            matches!(stop.decide(Some(&seen("active", "enabled", "no"))).unwrap(), Plan::Change(c) if c.summary == "disabled, stopped")
        );
        let restart = svc(Some(Wanted::Restarted), None);
        assert!(
            matches!(restart.decide(Some(&seen("active", "enabled", "no"))).unwrap(), Plan::Change(c) if c.summary == "restarted")
        );
        let missing = Observed {
            status: 0,
            output: "LoadState=not-found\nActiveState=inactive\n".into(),
        };
        assert!(
            s.decide(Some(&missing))
                .unwrap_err()
                .0
                .contains("not found")
        );
    }
}
