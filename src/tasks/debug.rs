//! `debug`: show a message (`msg`) or a variable's value (`var`) on the host's line; changes
//! nothing. As in Ansible, a variable that is not defined is shown as such, not an error.

use super::module::{DecideError, Look, Module, Observed, Plan};
use super::registry::ModuleArgs;
use super::{FieldError, PrepareCtx};
use crate::render::Pos;
use serde::Deserialize;
use serde_json::{Map, Value as Json};
use serde_saphyr::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebugArgs {
    msg: Option<Spanned<Json>>,
    var: Option<Spanned<String>>,
    /// Shown only at that `-v` level in Ansible; provision shows the message with -v anyway.
    verbosity: Option<u32>,
}

impl ModuleArgs for DebugArgs {
    fn prepare(&self, ctx: &PrepareCtx) -> Result<Box<dyn Module>, FieldError> {
        let _ = self.verbosity;
        let (key, shown) = match (&self.msg, &self.var) {
            (Some(_), Some(var)) => {
                return Err(FieldError {
                    pos: Pos::from(var),
                    message: "`msg` and `var` are mutually exclusive".into(),
                });
            }
            (Some(msg), None) => {
                let mut value = msg.value.clone();
                super::render_json(ctx.env, &mut value, ctx.vars).map_err(|message| {
                    FieldError {
                        pos: Pos::from(msg),
                        message,
                    }
                })?;
                ("msg".to_string(), value)
            }
            (None, Some(var)) => {
                let value = ctx
                    .env
                    .compile_expression(&var.value)
                    .and_then(|e| e.eval(ctx.vars))
                    .ok()
                    .filter(|v| !v.is_undefined())
                    .and_then(|v| serde_json::to_value(&v).ok())
                    .unwrap_or_else(|| Json::String("VARIABLE IS NOT DEFINED!".into()));
                (var.value.clone(), value)
            }
            (None, None) => ("msg".to_string(), Json::String("Hello world!".into())),
        };
        Ok(Box::new(Debug { key, shown }))
    }
}

#[derive(Debug)]
pub struct Debug {
    key: String,
    shown: Json,
}

impl Module for Debug {
    fn kind(&self) -> &'static str {
        "debug"
    }

    fn target(&self) -> String {
        String::new()
    }

    fn look(&self) -> Option<Look> {
        None
    }

    fn decide(&self, _: Option<&Observed>) -> Result<Plan, DecideError> {
        let text = match &self.shown {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        };
        Ok(Plan::ok(format!("{}: {text}", self.key)))
    }

    fn found(&self, _: Option<&Observed>) -> Map<String, Json> {
        let mut fields = Map::new();
        fields.insert(self.key.clone(), self.shown.clone());
        fields
    }
}
