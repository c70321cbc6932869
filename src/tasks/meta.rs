//! `meta: flush_handlers`: run the handlers notified so far now, not at the end of the host's
//! tasks (a service restarted with its new settings before later tasks need them).

use super::module::{DecideError, Look, Module, Observed, Plan};
use super::registry::ModuleArgs;
use super::{FieldError, PrepareCtx};
use crate::render::Pos;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// What the executor recognises a meta task by.
pub const KIND: &str = "meta";

#[derive(Debug, Deserialize)]
pub struct MetaArgs(Spanned<String>);

impl ModuleArgs for MetaArgs {
    fn prepare(&self, _ctx: &PrepareCtx) -> Result<Box<dyn Module>, FieldError> {
        if self.0.value != "flush_handlers" {
            return Err(FieldError {
                pos: Pos::from(&self.0),
                message: format!(
                    "meta `{}` is not supported (only flush_handlers)",
                    self.0.value
                ),
            });
        }
        Ok(Box::new(FlushHandlers))
    }
}

#[derive(Debug)]
pub struct FlushHandlers;

impl Module for FlushHandlers {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn target(&self) -> String {
        "flush_handlers".into()
    }

    fn look(&self) -> Option<Look> {
        None
    }

    /// The executor runs the handlers itself; this is never reached in a run.
    fn decide(&self, _: Option<&Observed>) -> Result<Plan, DecideError> {
        Ok(Plan::ok("handlers flushed"))
    }
}
