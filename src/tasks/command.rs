//! `command` and `shell`: run a command, unless a `creates`/`removes` guard says it already ran.
//! `command` passes its words as they are (no pipes, redirections or variables), `shell` runs the
//! line through `/bin/sh`, as in Ansible.

use super::free_form::{self, ArgValue};
use super::module::{Change, DecideError, ExecOutput, Look, Module, Observed, Plan, Step};
use super::registry::ModuleArgs;
use super::remote::quote;
use super::{FieldError, PrepareCtx};
use crate::render::Pos;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_saphyr::{Location, Spanned};
use std::fmt;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandMap {
    cmd: Spanned<String>,
    creates: Option<Spanned<String>>,
    removes: Option<Spanned<String>>,
    chdir: Option<Spanned<String>>,
}

/// `command: ls -l` or `command: {cmd: ls -l, creates: /x}`.
#[derive(Debug)]
enum CommandForm {
    Free(String),
    Map(Box<CommandMap>),
}

impl<'de> Deserialize<'de> for CommandForm {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CommandForm;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a command line, or a mapping with `cmd` and optional `creates`, `removes`, `chdir`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CommandForm, E> {
                Ok(CommandForm::Free(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<CommandForm, A::Error> {
                CommandMap::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|m| CommandForm::Map(Box::new(m)))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug)]
pub struct CommandArgs {
    cmd: Spanned<String>,
    creates: Option<Spanned<String>>,
    removes: Option<Spanned<String>>,
    chdir: Option<Spanned<String>>,
}

/// The `key=value` words Ansible takes out of a free-form command line as arguments.
const FREE_FORM_ARGUMENTS: &[&str] = &["creates", "removes", "chdir"];
/// Arguments of Ansible's command module that provision does not take.
const UNSUPPORTED_ARGUMENTS: &[&str] = &[
    "executable",
    "stdin",
    "stdin_add_newline",
    "strip_empty_ends",
    "expand_argument_vars",
    "argv",
];

impl CommandArgs {
    fn set(&mut self, key: &str, value: Spanned<String>) -> Result<(), String> {
        match key {
            "cmd" => self.cmd = value,
            "creates" => self.creates = Some(value),
            "removes" => self.removes = Some(value),
            "chdir" => self.chdir = Some(value),
            other if UNSUPPORTED_ARGUMENTS.contains(&other) => {
                return Err(format!(
                    "`{other}` is not supported by provision's command and shell"
                ));
            }
            other => {
                return Err(format!(
                    "unknown argument `{other}` (command and shell take cmd, creates, removes, chdir)"
                ));
            }
        }
        Ok(())
    }

    /// `ls -l chdir=/tmp creates=/x`: the guard words come out, the rest is the command.
    fn from_free_form(line: Spanned<String>) -> Result<CommandArgs, String> {
        let at = |text: String| Spanned::new(text, line.referenced, line.defined);
        let mut args = CommandArgs {
            cmd: at(line.value.clone()),
            creates: None,
            removes: None,
            chdir: None,
        };
        let Ok(words) = free_form::words(&line.value) else {
            // Unbalanced quotes are reported with the command's own checks.
            return Ok(args);
        };
        let mut rest = Vec::new();
        let mut took = false;
        for word in words {
            match &word.pair {
                Some((key, value))
                    if FREE_FORM_ARGUMENTS.contains(&key.as_str())
                        || UNSUPPORTED_ARGUMENTS.contains(&key.as_str()) =>
                {
                    args.set(key, at(value.clone()))?;
                    took = true;
                }
                _ => rest.push(word.raw),
            }
        }
        if took {
            args.cmd = at(rest.join(" "));
        }
        Ok(args)
    }
}

impl<'de> Deserialize<'de> for CommandArgs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let form = Spanned::<CommandForm>::deserialize(d)?;
        Ok(match form.value {
            CommandForm::Free(cmd) => {
                CommandArgs::from_free_form(Spanned::new(cmd, form.referenced, form.defined))
                    .map_err(de::Error::custom)?
            }
            CommandForm::Map(m) => CommandArgs {
                cmd: m.cmd,
                creates: m.creates,
                removes: m.removes,
                chdir: m.chdir,
            },
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Flavor {
    Command,
    Shell,
}

/// `shell:` takes the same arguments as `command:`.
#[derive(Debug)]
pub struct ShellArgs(CommandArgs);

impl<'de> Deserialize<'de> for ShellArgs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        CommandArgs::deserialize(d).map(ShellArgs)
    }
}

impl ModuleArgs for CommandArgs {
    fn prepare(&self, ctx: &PrepareCtx) -> Result<Box<dyn Module>, FieldError> {
        self.prepare_as(ctx, Flavor::Command)
    }

    fn merge_args(&mut self, args: Vec<(String, ArgValue)>) -> Result<(), String> {
        for (key, value) in args {
            let text = Spanned::new(value.to_string(), Location::UNKNOWN, Location::UNKNOWN);
            self.set(&key, text)?;
        }
        Ok(())
    }
}

impl ModuleArgs for ShellArgs {
    fn prepare(&self, ctx: &PrepareCtx) -> Result<Box<dyn Module>, FieldError> {
        self.0.prepare_as(ctx, Flavor::Shell)
    }

    fn merge_args(&mut self, args: Vec<(String, ArgValue)>) -> Result<(), String> {
        self.0.merge_args(args)
    }
}

impl CommandArgs {
    fn prepare_as(&self, ctx: &PrepareCtx, flavor: Flavor) -> Result<Box<dyn Module>, FieldError> {
        let line = ctx.render(&self.cmd)?;
        if line.trim().is_empty() {
            return Err(FieldError {
                pos: Pos::from(&self.cmd),
                message: "the command is empty".into(),
            });
        }
        let body = match flavor {
            Flavor::Shell => line.clone(),
            Flavor::Command => {
                let words = shlex::split(&line).ok_or_else(|| FieldError {
                    pos: Pos::from(&self.cmd),
                    message: format!("unbalanced quotes in command `{line}`"),
                })?;
                words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
            }
        };
        let chdir = ctx.render_opt(&self.chdir)?;
        let script = match &chdir {
            Some(dir) => format!("cd -- {} && {body}", quote(dir)),
            None => body,
        };
        // A relative guard is relative to `chdir`, as in Ansible.
        let guard = |path: Option<String>| {
            path.map(|p| match &chdir {
                Some(dir) if !p.starts_with('/') => format!("{}/{p}", dir.trim_end_matches('/')),
                _ => p,
            })
        };
        Ok(Box::new(CommandAction {
            flavor,
            line,
            script,
            creates: guard(ctx.render_opt(&self.creates)?),
            removes: guard(ctx.render_opt(&self.removes)?),
        }))
    }
}

#[derive(Debug)]
pub struct CommandAction {
    flavor: Flavor,
    line: String,
    script: String,
    creates: Option<String>,
    removes: Option<String>,
}

impl Module for CommandAction {
    fn kind(&self) -> &'static str {
        match self.flavor {
            Flavor::Command => "command",
            Flavor::Shell => "shell",
        }
    }

    fn target(&self) -> String {
        self.line.clone()
    }

    fn look(&self) -> Option<Look> {
        let mut parts = Vec::new();
        if let Some(c) = &self.creates {
            parts.push(format!(
                "if [ -e {} ]; then echo creates=yes; else echo creates=no; fi",
                quote(c)
            ));
        }
        if let Some(r) = &self.removes {
            parts.push(format!(
                "if [ -e {} ]; then echo removes=yes; else echo removes=no; fi",
                quote(r)
            ));
        }
        (!parts.is_empty()).then(|| Look::Shell(parts.join("; ")))
    }

    fn decide(&self, observed: Option<&Observed>) -> Result<Plan, DecideError> {
        let out = observed.map(|o| o.output.as_str()).unwrap_or_default();
        if let Some(c) = &self.creates
            && out.lines().any(|l| l == "creates=yes")
        {
            return Ok(Plan::ok(format!("{c} exists")));
        }
        if let Some(r) = &self.removes
            && out.lines().any(|l| l == "removes=no")
        {
            return Ok(Plan::ok(format!("{r} does not exist")));
        }
        Ok(Plan::Change(Change {
            summary: format!("ran `{}`", self.line),
            steps: vec![Step::run(self.script.clone())],
            file: None,
            runs_user_command: true,
            observes_only: false,
            runs_in_check: false,
            notice: None,
        }))
    }

    fn registered(&self, output: &ExecOutput) -> serde_json::Map<String, serde_json::Value> {
        let stdout = output.stdout_text();
        let stderr = output.stderr_text();
        let lines = |t: &str| serde_json::Value::from(t.lines().collect::<Vec<_>>());
        serde_json::Map::from_iter([
            ("rc".to_string(), output.status.into()),
            ("stdout_lines".to_string(), lines(&stdout)),
            ("stderr_lines".to_string(), lines(&stderr)),
            // Like Ansible: one trailing newline is not part of the output.
            ("stdout".to_string(), stdout.trim_end_matches('\n').into()),
            ("stderr".to_string(), stderr.trim_end_matches('\n').into()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(creates: Option<&str>, removes: Option<&str>) -> CommandAction {
        CommandAction {
            flavor: Flavor::Command,
            line: "touch /x".into(),
            script: "touch /x".into(),
            creates: creates.map(String::from),
            removes: removes.map(String::from),
        }
    }

    fn observed(s: &str) -> Observed {
        Observed {
            status: 0,
            output: s.into(),
        }
    }

    #[test]
    fn guards_decide() {
        let a = action(Some("/x"), None);
        assert!(matches!(
            a.decide(Some(&observed("creates=yes\n"))).unwrap(),
            Plan::Ok { .. }
        ));
        assert!(matches!(
            a.decide(Some(&observed("creates=no\n"))).unwrap(),
            Plan::Change(_)
        ));
        let b = action(None, Some("/y"));
        assert!(matches!(
            b.decide(Some(&observed("removes=no\n"))).unwrap(),
            Plan::Ok { .. }
        ));
        assert!(matches!(
            b.decide(Some(&observed("removes=yes\n"))).unwrap(),
            Plan::Change(_)
        ));
        assert!(action(None, None).look().is_none());
        assert!(
            matches!(action(None, None).decide(None).unwrap(), Plan::Change(c) if c.runs_user_command)
        );
    }
}
