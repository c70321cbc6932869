//! `template`: render a file from the role's `templates/` with the host's variables, then put it
//! in place like `copy` (checksum first, atomic write).

use super::copy::{WriteFile, checked_dest};
use super::module::Module;
use super::registry::ModuleArgs;
use super::{FieldError, ModeText, PrepareCtx};
use crate::render::{self, Pos};
use serde::Deserialize;
use serde_saphyr::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateArgs {
    src: Spanned<String>,
    dest: Spanned<String>,
    mode: Option<Spanned<ModeText>>,
    owner: Option<Spanned<String>>,
    group: Option<Spanned<String>>,
}

impl ModuleArgs for TemplateArgs {
    /// The template's name as written (it may itself be a template).
    fn template_source(&self) -> Option<&str> {
        Some(&self.src.value)
    }

    fn prepare(&self, ctx: &PrepareCtx) -> Result<Box<dyn Module>, FieldError> {
        let name = ctx.render(&self.src)?;
        let at_src = |message: String| FieldError {
            pos: Pos::from(&self.src),
            message,
        };
        let source = ctx
            .roles
            .template(&name)
            .map_err(|e| at_src(e.to_string()))?;
        let text =
            render::render_file(ctx.env, &source.display, &source.text, ctx.vars).map_err(|e| {
                at_src(match e.line {
                    Some(line) => format!("{}:{line}: {}", source.display, e.message),
                    None => format!("{}: {}", source.display, e.message),
                })
            })?;
        Ok(Box::new(WriteFile::new(
            "template",
            checked_dest(ctx, &self.dest)?,
            text.into_bytes(),
            ctx.attributes(&self.mode, &self.owner, &self.group)?,
        )))
    }
}
