//! `fail`: stop the host with a message, usually under a `when` (a check that did not hold).

use super::module::{DecideError, Look, Module, Observed, Plan};
use super::registry::ModuleArgs;
use super::{FieldError, PrepareCtx};
use serde::Deserialize;
use serde_saphyr::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailArgs {
    msg: Spanned<String>,
}

impl ModuleArgs for FailArgs {
    fn prepare(&self, ctx: &PrepareCtx) -> Result<Box<dyn Module>, FieldError> {
        Ok(Box::new(Fail {
            msg: ctx.render(&self.msg)?,
        }))
    }
}

#[derive(Debug)]
pub struct Fail {
    msg: String,
}

impl Module for Fail {
    fn kind(&self) -> &'static str {
        "fail"
    }

    fn target(&self) -> String {
        String::new()
    }

    fn look(&self) -> Option<Look> {
        None
    }

    fn decide(&self, _: Option<&Observed>) -> Result<Plan, DecideError> {
        Err(DecideError(self.msg.clone()))
    }
}
