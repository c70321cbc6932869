//! `assert`: every condition of `that` must hold, or the host fails with `fail_msg`.

use super::module::{DecideError, Look, Module, Observed, Plan};
use super::registry::ModuleArgs;
use super::{FieldError, OneOrMany, PrepareCtx};
use crate::render::{self, Pos};
use serde::Deserialize;
use serde_saphyr::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssertArgs {
    that: Spanned<OneOrMany>,
    #[serde(alias = "msg")]
    fail_msg: Option<Spanned<String>>,
    success_msg: Option<Spanned<String>>,
    quiet: Option<bool>,
}

impl ModuleArgs for AssertArgs {
    fn prepare(&self, ctx: &PrepareCtx) -> Result<Box<dyn Module>, FieldError> {
        let _ = self.quiet;
        let pos = Pos::from(&self.that);
        for condition in &self.that.value.0 {
            let holds =
                render::eval_condition(ctx.env, condition, ctx.vars).map_err(|e| FieldError {
                    pos,
                    message: format!("in `{condition}`: {}", e.message),
                })?;
            if !holds {
                let message = match &self.fail_msg {
                    Some(m) => ctx.render(m)?,
                    None => "Assertion failed".to_string(),
                };
                return Ok(Box::new(Assert {
                    failed: Some(format!("{message} (`{condition}` is false)")),
                    success: String::new(),
                }));
            }
        }
        let success = match &self.success_msg {
            Some(m) => ctx.render(m)?,
            None => "All assertions passed".to_string(),
        };
        Ok(Box::new(Assert {
            failed: None,
            success,
        }))
    }
}

#[derive(Debug)]
pub struct Assert {
    failed: Option<String>,
    success: String,
}

impl Module for Assert {
    fn kind(&self) -> &'static str {
        "assert"
    }

    fn target(&self) -> String {
        String::new()
    }

    fn look(&self) -> Option<Look> {
        None
    }

    fn decide(&self, _: Option<&Observed>) -> Result<Plan, DecideError> {
        match &self.failed {
            Some(message) => Err(DecideError(message.clone())),
            None => Ok(Plan::ok(self.success.clone())),
        }
    }
}
