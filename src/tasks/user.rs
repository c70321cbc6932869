//! `user` and `group`: system accounts for services. Looked up with `getent`; created with
//! `useradd`/`groupadd`, changed with `usermod`, removed with `userdel`/`groupdel`.

use super::module::{DecideError, Look, Module, Observed, Plan, Step};
use super::registry::ModuleArgs;
use super::remote::quote;
use super::{FieldError, PrepareCtx, checks};
use crate::render::Pos;
use serde::Deserialize;
use serde_saphyr::Spanned;

fn present_or_absent(
    ctx: &PrepareCtx,
    state: &Option<Spanned<String>>,
) -> Result<bool, FieldError> {
    ctx.choice(
        state,
        "state",
        &[("present", true), ("absent", false)],
        true,
    )
}

fn account_name(
    ctx: &PrepareCtx,
    field: &str,
    name: &Spanned<String>,
) -> Result<String, FieldError> {
    let n = ctx.render(name)?;
    checks::account(field, &n, Pos::from(name))?;
    Ok(n)
}

/// `home` and `shell` are fields of /etc/passwd: absolute, one line, no `:`.
fn passwd_path(
    ctx: &PrepareCtx,
    field: &str,
    value: &Option<Spanned<String>>,
) -> Result<Option<String>, FieldError> {
    let Some(v) = value else {
        return Ok(None);
    };
    let path = ctx.absolute_path(v, field)?;
    checks::one_line(field, &path, Pos::from(v))?;
    if path.contains(':') {
        return Err(FieldError {
            pos: Pos::from(v),
            message: format!("{field} `{path}` may not hold `:` (it separates /etc/passwd fields)"),
        });
    }
    Ok(Some(path))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserArgs {
    name: Spanned<String>,
    state: Option<Spanned<String>>,
    #[serde(default)]
    system: bool,
    home: Option<Spanned<String>>,
    shell: Option<Spanned<String>>,
    create_home: Option<bool>,
    group: Option<Spanned<String>>,
}

impl ModuleArgs for UserArgs {
    fn prepare(&self, ctx: &PrepareCtx) -> Result<Box<dyn Module>, FieldError> {
        Ok(Box::new(User {
            name: account_name(ctx, "name", &self.name)?,
            present: present_or_absent(ctx, &self.state)?,
            system: self.system,
            home: passwd_path(ctx, "home", &self.home)?,
            shell: passwd_path(ctx, "shell", &self.shell)?,
            create_home: self.create_home.unwrap_or(true),
            group: match &self.group {
                Some(g) => Some(account_name(ctx, "group", g)?),
                None => None,
            },
        }))
    }
}

#[derive(Debug)]
pub struct User {
    name: String,
    present: bool,
    system: bool,
    home: Option<String>,
    shell: Option<String>,
    create_home: bool,
    group: Option<String>,
}

impl Module for User {
    fn kind(&self) -> &'static str {
        "user"
    }

    fn target(&self) -> String {
        self.name.clone()
    }

    fn look(&self) -> Option<Look> {
        Some(Look::Shell(format!(
            "getent passwd -- {} || true; echo; id -gn -- {} 2>/dev/null || true",
            quote(&self.name),
            quote(&self.name)
        )))
    }

    fn decide(&self, observed: Option<&Observed>) -> Result<Plan, DecideError> {
        let output = observed.map(|o| o.output.as_str()).unwrap_or_default();
        let mut lines = output.lines();
        let entry = lines.next().unwrap_or_default();
        let primary_group = lines.find(|l| !l.is_empty()).unwrap_or_default();
        let n = quote(&self.name);
        if entry.is_empty() {
            if !self.present {
                return Ok(Plan::ok("no such user"));
            }
            let mut cmd = String::from("useradd");
            if self.system {
                cmd.push_str(" --system");
            }
            cmd.push_str(if self.create_home {
                " --create-home"
            } else {
                " --no-create-home"
            });
            if let Some(h) = &self.home {
                cmd.push_str(&format!(" --home-dir {}", quote(h)));
            }
            if let Some(s) = &self.shell {
                cmd.push_str(&format!(" --shell {}", quote(s)));
            }
            if let Some(g) = &self.group {
                cmd.push_str(&format!(" --gid {}", quote(g)));
            }
            return Ok(Plan::change(
                "create user",
                vec![Step::run(format!("{cmd} -- {n}"))],
            ));
        }
        if !self.present {
            return Ok(Plan::change(
                "remove user",
                vec![Step::run(format!("userdel -- {n}"))],
            ));
        }
        let fields: Vec<&str> = entry.split(':').collect();
        if fields.len() < 7 {
            return Err(DecideError(format!("unexpected passwd entry `{entry}`")));
        }
        let mut changes = Vec::new();
        let mut args = String::new();
        if let Some(h) = self.home.as_deref().filter(|h| *h != fields[5]) {
            changes.push(format!("home {} -> {h}", fields[5]));
            args.push_str(&format!(" --home {}", quote(h)));
        }
        if let Some(s) = self.shell.as_deref().filter(|s| *s != fields[6]) {
            changes.push(format!("shell {} -> {s}", fields[6]));
            args.push_str(&format!(" --shell {}", quote(s)));
        }
        if let Some(g) = self.group.as_deref().filter(|g| *g != primary_group) {
            changes.push(format!("group {primary_group} -> {g}"));
            args.push_str(&format!(" --gid {}", quote(g)));
        }
        if changes.is_empty() {
            return Ok(Plan::ok("user as wanted"));
        }
        Ok(Plan::change(
            changes.join(", "),
            vec![Step::run(format!("usermod{args} -- {n}"))],
        ))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupArgs {
    name: Spanned<String>,
    state: Option<Spanned<String>>,
    #[serde(default)]
    system: bool,
}

impl ModuleArgs for GroupArgs {
    fn prepare(&self, ctx: &PrepareCtx) -> Result<Box<dyn Module>, FieldError> {
        Ok(Box::new(Group {
            name: account_name(ctx, "name", &self.name)?,
            present: present_or_absent(ctx, &self.state)?,
            system: self.system,
        }))
    }
}

#[derive(Debug)]
pub struct Group {
    name: String,
    present: bool,
    system: bool,
}

impl Module for Group {
    fn kind(&self) -> &'static str {
        "group"
    }

    fn target(&self) -> String {
        self.name.clone()
    }

    fn look(&self) -> Option<Look> {
        Some(Look::Shell(format!(
            "getent group -- {} || true",
            quote(&self.name)
        )))
    }

    fn decide(&self, observed: Option<&Observed>) -> Result<Plan, DecideError> {
        let exists = observed.is_some_and(|o| !o.output.trim().is_empty());
        let n = quote(&self.name);
        Ok(match (exists, self.present) {
            (true, true) => Plan::ok("group exists"),
            (false, false) => Plan::ok("no such group"),
            (false, true) => {
                let system = if self.system { " --system" } else { "" };
                Plan::change(
                    "create group",
                    vec![Step::run(format!("groupadd{system} -- {n}"))],
                )
            }
            (true, false) => {
                Plan::change("remove group", vec![Step::run(format!("groupdel -- {n}"))])
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(s: &str) -> Observed {
        Observed {
            status: 0,
            output: s.into(),
        }
    }

    fn user(home: Option<&str>, shell: Option<&str>) -> User {
        User {
            name: "couchdb".into(),
            present: true,
            system: true,
            home: home.map(String::from),
            shell: shell.map(String::from),
            create_home: false,
            group: None,
        }
    }

    #[test]
    fn user_create_change_keep() {
        let u = user(Some("/opt/couchdb"), Some("/usr/sbin/nologin"));
        match u.decide(Some(&seen("\n\n"))).unwrap() {
            Plan::Change(c) => assert_eq!(
                c.steps[0].script,
                "useradd --system --no-create-home --home-dir /opt/couchdb --shell /usr/sbin/nologin -- couchdb"
            ),
            other => panic!("{other:?}"),
        }
        let entry = "couchdb:x:999:999::/opt/couchdb:/usr/sbin/nologin\n\ncouchdb\n";
        assert!(matches!(
            u.decide(Some(&seen(entry))).unwrap(),
            Plan::Ok { .. }
        ));
        let other_shell = "couchdb:x:999:999::/opt/couchdb:/bin/sh\n\ncouchdb\n";
        assert!(
            matches!(u.decide(Some(&seen(other_shell))).unwrap(), Plan::Change(c) if c.steps[0].script == "usermod --shell /usr/sbin/nologin -- couchdb")
        );
    }

    #[test]
    fn group_create_keep_remove() {
        let g = Group {
            name: "app".into(),
            present: true,
            system: true,
        };
        assert!(
            matches!(g.decide(Some(&seen(""))).unwrap(), Plan::Change(c) if c.steps[0].script == "groupadd --system -- app")
        );
        assert!(matches!(
            g.decide(Some(&seen("app:x:998:\n"))).unwrap(),
            Plan::Ok { .. }
        ));
        let gone = Group {
            name: "app".into(),
            present: false,
            system: false,
        };
        assert!(matches!(
            gone.decide(Some(&seen("app:x:998:\n"))).unwrap(),
            Plan::Change(_)
        ));
    }
}
